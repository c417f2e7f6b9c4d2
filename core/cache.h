/* cache — the response cache: the answers of successful, non-streamed calls
 * through a route with a cache_ttl, keyed by a SHA-256 of everything that
 * shapes the answer (provider, model, endpoint, every parameter,
 * instructions, the conversation, tools, tool choice, response format,
 * provider options and extra headers — not the API key).
 *
 * First level: in this process, least recently used first out, bounded in
 * bytes (llmsvc_options.cache_max_bytes). Second level, when the runtime has
 * a store (llmsvc_runtime_set_records): the store, shared by every process
 * using it. Identical calls that start together may both miss and both go
 * to the provider; errors and streams are never cached. */
#ifndef LLMSVC_CACHE_H
#define LLMSVC_CACHE_H

#include <stddef.h>

#include "llmsvc/llmsvc.h"

struct call_ctx;
typedef struct resp_cache resp_cache;

resp_cache *cache_new(size_t max_bytes);
void cache_free(resp_cache *c);

/* -1 when no key could be made (out of memory): the call then skips the cache. */
int cache_key(const struct call_ctx *ctx, unsigned char key[32]);
/* A copy of the live answer under key, or NULL. */
llmsvc_response *cache_lookup(llmsvc_runtime *rt, const unsigned char key[32]);
/* Keeps a copy of r's answer for ttl_ms. */
void cache_store(llmsvc_runtime *rt, const unsigned char key[32], const llmsvc_response *r,
                 long ttl_ms);

/* Entries and bytes held in this process (tests, `llmsvc routes`). */
void cache_stats(llmsvc_runtime *rt, size_t *entries, size_t *bytes);

#endif
