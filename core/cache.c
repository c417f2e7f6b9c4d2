#include "cache.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "sha256.h"
#include "store.h"
#include "validate.h"

typedef struct entry {
    unsigned char key[32];
    llmsvc_response *resp;
    size_t size;
    int64_t expires_at; /* Unix ms */
    struct entry *next_in_slot;
    struct entry *newer, *older; /* the LRU list */
} entry;

struct resp_cache {
    pthread_mutex_t mu;
    entry **slots;
    size_t n_slots; /* power of two */
    size_t count, bytes, max_bytes;
    entry *newest, *oldest;
};

resp_cache *cache_new(size_t max_bytes)
{
    resp_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n_slots = 256;
    c->slots = calloc(c->n_slots, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void cache_free(resp_cache *c)
{
    if (!c)
        return;
    for (entry *e = c->newest, *next; e; e = next) {
        next = e->older;
        llmsvc_response_free(e->resp);
        free(e);
    }
    free(c->slots);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- the key ---- */

/* The key's text: every field in a fixed order, each as its length (one
 * byte below 0xFE, else 0xFE and four bytes; 0xFF for an absent field) and
 * its bytes, lists preceded by their count, so that no two different calls
 * give the same text. Kept short: SHA-256 costs about 200 ns a 64-byte block. */
typedef struct keytext {
    sha256 s;
    unsigned char buf[512]; /* gathered, then hashed in one go */
    size_t len;
} keytext;

static void kt_bytes(keytext *k, const void *v, size_t n)
{
    if (k->len + n > sizeof k->buf) {
        sha256_update(&k->s, k->buf, k->len);
        k->len = 0;
        if (n > sizeof k->buf) {
            sha256_update(&k->s, v, n);
            return;
        }
    }
    memcpy(k->buf + k->len, v, n);
    k->len += n;
}

static void put_len(keytext *k, size_t n)
{
    if (n < 0xFE) {
        unsigned char b = (unsigned char)n;
        kt_bytes(k, &b, 1);
    } else {
        unsigned char b[5] = {0xFE, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                              (unsigned char)(n >> 8), (unsigned char)n};
        kt_bytes(k, b, 5);
    }
}

static void put(keytext *k, const char *v)
{
    if (!v) {
        unsigned char absent = 0xFF;
        kt_bytes(k, &absent, 1);
        return;
    }
    size_t n = strlen(v);
    put_len(k, n);
    kt_bytes(k, v, n);
}

static void put_num(keytext *k, double v)
{
    kt_bytes(k, &v, sizeof v);
}

static void put_params(keytext *k, const llmsvc_call_info *v)
{
    put_len(k, v->n_params);
    for (size_t i = 0; i < v->n_params; i++) {
        const llmsvc_param *p = &v->params[i];
        put(k, p->name);
        unsigned char type = (unsigned char)p->type;
        kt_bytes(k, &type, 1);
        put_num(k, p->number);
        put(k, p->string);
        put_len(k, p->list_len);
        for (size_t j = 0; j < p->list_len; j++)
            put(k, p->list[j]);
    }
}

static void put_conversation(keytext *k, const llmsvc_call_info *v)
{
    put_len(k, v->n_messages);
    for (size_t i = 0; i < v->n_messages; i++) {
        const llmsvc_message *m = &v->messages[i];
        put(k, m->role);
        put(k, m->content);
        put_len(k, m->n_images);
        for (size_t j = 0; j < m->n_images; j++)
            put(k, m->images[j]);
        put_len(k, m->n_tool_calls);
        for (size_t j = 0; j < m->n_tool_calls; j++) {
            put(k, m->tool_calls[j].id);
            put(k, m->tool_calls[j].name);
            put(k, m->tool_calls[j].arguments);
        }
        put(k, m->tool_call_id);
        put(k, m->state_protocol);
        put(k, m->state);
    }
    put_len(k, v->n_tools);
    for (size_t i = 0; i < v->n_tools; i++) {
        put(k, v->tools[i].name);
        put(k, v->tools[i].description);
        put(k, v->tools[i].parameters);
    }
}

int cache_key(const call_ctx *ctx, unsigned char key[32])
{
    keytext k;
    const llmsvc_call_info *v = &ctx->view;
    sha256_init(&k.s);
    k.len = 0;
    put(&k, "llmsvc-cache-1");
    put(&k, v->provider);
    put(&k, v->api);
    put(&k, v->model);
    put(&k, v->base_url);
    put(&k, v->instructions);
    put(&k, v->vector_store_id);
    put_num(&k, v->max_num_results);
    put_params(&k, v);
    put_conversation(&k, v);
    put(&k, v->tool_choice);
    put(&k, v->tool_choice_name);
    put_num(&k, v->parallel_tool_calls);
    put(&k, v->response_format_name);
    put(&k, v->response_format_schema);
    put_num(&k, v->response_format_strict);
    put(&k, v->provider_options
                ? json_object_to_json_string_ext((struct json_object *)v->provider_options,
                                                 JSON_C_TO_STRING_PLAIN)
                : NULL);
    put_len(&k, ctx->req->n_headers);
    for (size_t i = 0; i < ctx->req->n_headers; i++) {
        put(&k, ctx->req->headers[i].name);
        put(&k, ctx->req->headers[i].value);
    }
    sha256_update(&k.s, k.buf, k.len);
    return sha256_final(&k.s, key);
}

/* ---- the first level ---- */

static size_t slot_of(const resp_cache *c, const unsigned char key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & (c->n_slots - 1);
}

static void lru_unlink(resp_cache *c, entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(resp_cache *c, entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    c->newest = e;
    if (!c->oldest)
        c->oldest = e;
}

static entry **find(resp_cache *c, const unsigned char key[32])
{
    entry **p = &c->slots[slot_of(c, key)];
    while (*p && memcmp((*p)->key, key, 32))
        p = &(*p)->next_in_slot;
    return p;
}

static void drop(resp_cache *c, entry **at)
{
    entry *e = *at;
    *at = e->next_in_slot;
    lru_unlink(c, e);
    c->count--;
    c->bytes -= e->size;
    llmsvc_response_free(e->resp);
    free(e);
}

static void grow(resp_cache *c)
{
    size_t n = c->n_slots * 2;
    entry **slots = calloc(n, sizeof *slots);
    if (!slots)
        return;
    for (size_t i = 0; i < c->n_slots; i++)
        for (entry *e = c->slots[i], *next; e; e = next) {
            next = e->next_in_slot;
            uint64_t h;
            memcpy(&h, e->key, sizeof h);
            e->next_in_slot = slots[h & (n - 1)];
            slots[h & (n - 1)] = e;
        }
    free(c->slots);
    c->slots = slots;
    c->n_slots = n;
}

static llmsvc_response *l1_get(resp_cache *c, const unsigned char key[32], int64_t now)
{
    llmsvc_response *copy = NULL;
    pthread_mutex_lock(&c->mu);
    entry **at = find(c, key);
    if (*at && (*at)->expires_at <= now) {
        drop(c, at);
    } else if (*at) {
        lru_unlink(c, *at);
        lru_push(c, *at);
        copy = response_clone((*at)->resp);
    }
    pthread_mutex_unlock(&c->mu);
    return copy;
}

/* Takes r over. */
static void l1_put(resp_cache *c, const unsigned char key[32], llmsvc_response *r,
                   int64_t expires_at)
{
    size_t size = response_size(r) + sizeof(entry);
    if (size > c->max_bytes / 4) { /* one answer may not push out most of the others */
        llmsvc_response_free(r);
        return;
    }
    pthread_mutex_lock(&c->mu);
    entry **at = find(c, key);
    if (*at)
        drop(c, at);
    entry *e = malloc(sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&c->mu);
        llmsvc_response_free(r);
        return;
    }
    memcpy(e->key, key, 32);
    e->resp = r;
    e->size = size;
    e->expires_at = expires_at;
    e->next_in_slot = c->slots[slot_of(c, key)];
    c->slots[slot_of(c, key)] = e;
    lru_push(c, e);
    c->count++;
    c->bytes += size;
    while (c->bytes > c->max_bytes && c->oldest)
        drop(c, find(c, c->oldest->key));
    if (c->count > c->n_slots)
        grow(c);
    pthread_mutex_unlock(&c->mu);
}

/* ---- the second level: the store, "EXPIRES_AT\nRESPONSE_JSON" under the hex key ---- */

static llmsvc_response *l2_get(llmsvc_runtime *rt, llmsvc_store *st, const unsigned char key[32],
                               int64_t now, int64_t *expires_at)
{
    char hex[65];
    sha256_hex(key, hex);
    store_conn *c;
    llmsvc_error *e = NULL;
    char *text = NULL;
    if (store_acquire(st, &c, &e) != LLMSVC_OK)
        goto fail;
    if (st->engine->cache_get(c, hex, now, &text, &e) != LLMSVC_OK) {
        st->engine->disconnect(c);
        goto fail;
    }
    store_release(st, c);
    llmsvc_response *r = NULL;
    char *json;
    if (text) {
        *expires_at = strtoll(text, &json, 10);
        if (*json == '\n' && response_from_json(json + 1, strlen(json + 1), &r, &e) != LLMSVC_OK)
            goto fail;
    }
    free(text);
    return r;
fail:
    rt_logf(rt, LLMSVC_LOG_WARN, "response cache: the store's level was not read: %s",
            llmsvc_error_message(e));
    llmsvc_error_free(e);
    free(text);
    return NULL;
}

static void l2_put(llmsvc_runtime *rt, llmsvc_store *st, const unsigned char key[32],
                   const llmsvc_response *r, int64_t expires_at)
{
    char hex[65], *json = NULL, *text = NULL;
    sha256_hex(key, hex);
    llmsvc_error *e = NULL;
    store_conn *c = NULL;
    if (llmsvc_response_to_json(&json, r) != LLMSVC_OK ||
        asprintf(&text, "%" PRId64 "\n%s", expires_at, json) < 0) {
        text = NULL;
        e = err_nomem();
    } else if (store_acquire(st, &c, &e) == LLMSVC_OK) {
        if (st->engine->cache_put(c, hex, text, expires_at, &e) == LLMSVC_OK)
            store_release(st, c);
        else
            st->engine->disconnect(c);
    }
    if (e) {
        rt_logf(rt, LLMSVC_LOG_WARN, "response cache: the store's level was not written: %s",
                llmsvc_error_message(e));
        llmsvc_error_free(e);
    }
    free(json);
    free(text);
}

llmsvc_response *cache_lookup(llmsvc_runtime *rt, const unsigned char key[32])
{
    int64_t now = store_now_ms();
    llmsvc_response *r = l1_get(rt->cache, key, now);
    llmsvc_store *st = atomic_load(&rt->records);
    if (r || !st)
        return r;
    int64_t expires_at = 0;
    r = l2_get(rt, st, key, now, &expires_at);
    if (!r)
        return NULL;
    llmsvc_response *copy = response_clone(r);
    if (copy)
        l1_put(rt->cache, key, copy, expires_at);
    return r;
}

void cache_store(llmsvc_runtime *rt, const unsigned char key[32], const llmsvc_response *r,
                 long ttl_ms)
{
    int64_t expires_at = store_now_ms() + ttl_ms;
    llmsvc_response *copy = response_clone(r);
    if (copy)
        l1_put(rt->cache, key, copy, expires_at);
    llmsvc_store *st = atomic_load(&rt->records);
    if (st)
        l2_put(rt, st, key, r, expires_at);
}

void cache_stats(llmsvc_runtime *rt, size_t *entries, size_t *bytes)
{
    resp_cache *c = rt->cache;
    pthread_mutex_lock(&c->mu);
    *entries = c->count;
    *bytes = c->bytes;
    pthread_mutex_unlock(&c->mu);
}
