#include "sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

static EVP_MD *md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

/* Fetched once: looking the algorithm up by name costs more than hashing a key. */
static void fetch_md(void)
{
    md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sha256_init(sha256 *s)
{
    pthread_once(&md_once, fetch_md);
    s->ctx = md ? EVP_MD_CTX_new() : NULL;
    if (s->ctx && EVP_DigestInit_ex(s->ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
    }
}

void sha256_update(sha256 *s, const void *data, size_t n)
{
    if (s->ctx && EVP_DigestUpdate(s->ctx, data, n) != 1) {
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
    }
}

int sha256_final(sha256 *s, unsigned char out[32])
{
    unsigned int len = 0;
    int ok = s->ctx && EVP_DigestFinal_ex(s->ctx, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
    return ok ? 0 : -1;
}

void sha256_hex(const unsigned char digest[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}
