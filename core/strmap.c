#include "strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t strmap_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

static strmap_slot *find(const strmap *m, const char *key, size_t klen, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        strmap_slot *s = &m->slots[i];
        if (!s->key)
            return s;
        if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return s;
    }
}

static int grow(strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    strmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    strmap old = *m;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key)
            *find(m, old.slots[i].key, old.slots[i].klen, old.slots[i].hash) = old.slots[i];
    }
    free(old.slots);
    return 0;
}

int strmap_put(strmap *m, const char *key, size_t klen, void *value, void **old)
{
    if (old)
        *old = NULL;
    if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0)
        return -1;
    uint64_t h = strmap_hash(key, klen);
    strmap_slot *s = find(m, key, klen, h);
    if (s->key) {
        if (old)
            *old = s->value;
        s->value = value;
        return 0;
    }
    char *k = malloc(klen + 1);
    if (!k)
        return -1;
    memcpy(k, key, klen);
    k[klen] = '\0';
    s->key = k;
    s->klen = klen;
    s->hash = h;
    s->value = value;
    m->count++;
    return 0;
}

void *strmap_get(const strmap *m, const char *key, size_t klen)
{
    if (!m->cap)
        return NULL;
    strmap_slot *s = find(m, key, klen, strmap_hash(key, klen));
    return s->key ? s->value : NULL;
}

void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}
