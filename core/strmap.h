/* strmap — a string-keyed hash table (open addressing, FNV-1a). Internal.
 * Keys are copied; values are borrowed. Not thread-safe for writes; concurrent
 * reads of a map no one writes are safe. */
#ifndef LLMSVC_STRMAP_H
#define LLMSVC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap_slot {
    char *key; /* NULL: empty */
    size_t klen;
    uint64_t hash;
    void *value;
} strmap_slot;

typedef struct strmap {
    strmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
} strmap;

#define STRMAP_INIT { NULL, 0, 0 }

uint64_t strmap_hash(const char *key, size_t len);
/* Inserts or replaces; *old (may be NULL) gets the replaced value or NULL. -1 on OOM. */
int strmap_put(strmap *m, const char *key, size_t klen, void *value, void **old);
void *strmap_get(const strmap *m, const char *key, size_t klen);
/* Frees the table and keys, not the values. */
void strmap_free(strmap *m);

#endif
