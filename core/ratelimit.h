/* ratelimit — client-side rate limits: token buckets of requests and of
 * tokens per provider, model and API key, as the routes files' `limits:`
 * declare (specs/README.md "Rate limits").
 *
 * Before each attempt a call takes one request and its estimated tokens
 * (input ≈ bytes / 4, plus max_tokens when set); after it, the estimate is
 * corrected by the usage. An empty bucket makes the call wait (bounded by
 * max_wait) or fail at once with RATE_LIMITED, as the route (or else the
 * limit) says. The provider's x-ratelimit-remaining-* headers lower the
 * buckets in flight, and a 429's retry-after holds every call to that
 * provider, model and key back until it passes (with or without a limit).
 *
 * Buckets live in the process, or in the runtime's store when it has one
 * (llmsvc_runtime_set_records) and the limit's scope is `store`: then every
 * process and machine using that store shares them (store.h `bucket`). */
#ifndef LLMSVC_RATELIMIT_H
#define LLMSVC_RATELIMIT_H

#include "llmsvc/llmsvc.h"
#include "route.h"

struct call_ctx;
struct llmsvc_http_response;
typedef struct limiter limiter;

/* What one attempt took, to settle afterwards. */
typedef struct rl_ticket {
    const limit_rule *rule;  /* NULL: no limit applies */
    const struct call_ctx *ctx; /* the attempt's (for the key, made when needed) */
    char key[160];           /* provider/model/key-digest, or "" not made yet */
    double tokens;           /* tokens taken */
    int shared;              /* the buckets are the store's */
    long remaining_requests; /* from the answer's headers; -1 unknown */
    long remaining_tokens;
    long reset_ms;           /* when the provider's request window resets; -1 */
    long retry_after_ms;     /* a 429's; -1 */
} rl_ticket;

limiter *limiter_new(void);
void limiter_free(limiter *l);

/* Takes a request and the estimated tokens before an attempt (waiting as
 * the policy allows). RATE_LIMITED naming the limit, what it allows and
 * where it is declared, with retry_after_ms set. */
llmsvc_code limiter_acquire(llmsvc_runtime *rt, const struct call_ctx *ctx, const route *r,
                            rl_ticket *t, llmsvc_error **err);
/* Reads the rate-limit headers of an answer into t (call_run's attempts). */
void limiter_observe(rl_ticket *t, const struct llmsvc_http_response *hr);
/* After the attempt: corrects tokens by the usage (resp may be NULL) and
 * applies what the headers said. */
void limiter_settle(llmsvc_runtime *rt, rl_ticket *t, const llmsvc_response *resp,
                    const llmsvc_error *e);

#endif
