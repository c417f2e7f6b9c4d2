/* sha256 — SHA-256 through OpenSSL's libcrypto (hardware-accelerated where
 * the CPU has it): the response cache's key and the store's name for an API
 * key without the key itself. */
#ifndef LLMSVC_SHA256_H
#define LLMSVC_SHA256_H

#include <stddef.h>

typedef struct sha256 {
    struct evp_md_ctx_st *ctx; /* NULL once something failed (out of memory) */
} sha256;

void sha256_init(sha256 *s);
void sha256_update(sha256 *s, const void *data, size_t n);
/* Writes the digest and frees what init took; -1 (no digest) when anything
 * failed on the way. */
int sha256_final(sha256 *s, unsigned char out[32]);
/* out[65]: the digest as lowercase hex. */
void sha256_hex(const unsigned char digest[32], char out[65]);

#endif
