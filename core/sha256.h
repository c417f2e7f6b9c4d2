/* sha256 — SHA-256 (FIPS 180-4), incremental: the response cache's key and
 * the store's name for an API key without the key itself. */
#ifndef LLMSVC_SHA256_H
#define LLMSVC_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes so far */
    unsigned char block[64];
    size_t fill;
} sha256;

void sha256_init(sha256 *s);
void sha256_update(sha256 *s, const void *data, size_t n);
void sha256_final(sha256 *s, unsigned char out[32]);
/* out[65]: the digest as lowercase hex. */
void sha256_hex(const unsigned char digest[32], char out[65]);

#endif
