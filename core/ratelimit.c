#include "ratelimit.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "http.h"
#include "response.h"
#include "runtime.h"
#include "sha256.h"
#include "specset.h"
#include "store.h"
#include "strmap.h"
#include "validate.h"

#define HOLD_MAX_MS 60000 /* call.c's RETRY_AFTER_MAX_MS */

/* One provider/model/key's buckets in this process. */
typedef struct bucket {
    double req_level, tok_level;
    double updated_ms;    /* monotonic */
    double blocked_until; /* monotonic ms: a 429's retry-after, or the provider's reset */
    int fresh;
} bucket;

struct limiter {
    pthread_mutex_t mu;
    strmap buckets;
    atomic_int n_blocked; /* buckets ever blocked: calls without a limit look only then */
};

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

limiter *limiter_new(void)
{
    limiter *l = calloc(1, sizeof *l);
    if (l)
        pthread_mutex_init(&l->mu, NULL);
    return l;
}

void limiter_free(limiter *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->buckets.cap; i++)
        free(l->buckets.slots[i].value);
    strmap_free(&l->buckets);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The limit for a provider and model: the model's own, else the provider's. */
static const limit_rule *find_rule(const registry *reg, const char *provider, const char *model)
{
    const limit_rule *any = NULL;
    for (size_t i = 0; i < reg->n_limits; i++) {
        const limit_rule *l = &reg->limits[i];
        if (strcmp(l->provider, provider))
            continue;
        if (!l->model)
            any = l;
        else if (!strcmp(l->model, model))
            return l;
    }
    return any;
}

/* The first 16 hex digits of the key's SHA-256: the same key always gets the
 * same buckets, and the key itself is never in a bucket's name. */
static void key_digest(const char *key, char out[17])
{
    static _Thread_local char last[257], last_hex[17];
    if (!key) {
        strcpy(out, "-");
        return;
    }
    size_t n = strlen(key);
    if (n < sizeof last && last_hex[0] && !strcmp(last, key)) {
        memcpy(out, last_hex, 17);
        return;
    }
    sha256 s;
    unsigned char d[32];
    char hex[65];
    sha256_init(&s);
    sha256_update(&s, key, n);
    if (sha256_final(&s, d) < 0) {
        strcpy(out, "-");
        return;
    }
    sha256_hex(d, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
    if (n < sizeof last) {
        memcpy(last, key, n + 1);
        memcpy(last_hex, out, 17);
    }
}

static void make_key(rl_ticket *t)
{
    const call_ctx *ctx = t->ctx;
    char kd[17];
    key_digest(ctx->view.api_key, kd);
    snprintf(t->key, sizeof t->key, "%s/%s/%s", ctx->provider->name, ctx->model->name, kd);
}

static size_t text_len(const char *s)
{
    return s ? strlen(s) : 0;
}

/* Input ≈ 4 bytes a token, plus the most it may write. */
static double estimate_tokens(const llmsvc_call_info *v)
{
    size_t bytes = text_len(v->instructions);
    for (size_t i = 0; i < v->n_messages; i++) {
        bytes += text_len(v->messages[i].content) + 4;
        for (size_t j = 0; j < v->messages[i].n_tool_calls; j++)
            bytes += text_len(v->messages[i].tool_calls[j].arguments);
    }
    for (size_t i = 0; i < v->n_tools; i++)
        bytes += text_len(v->tools[i].description) + text_len(v->tools[i].parameters);
    double out = 0;
    for (size_t i = 0; i < v->n_params; i++)
        if (!strcmp(v->params[i].name, "max_tokens"))
            out = v->params[i].number;
    return ceil((double)bytes / 4) + out;
}

static bucket *bucket_get(limiter *l, const char *key, const limit_rule *rule, double now)
{
    size_t n = strlen(key);
    bucket *b = strmap_get(&l->buckets, key, n);
    if (b)
        return b;
    b = calloc(1, sizeof *b);
    if (!b || strmap_put(&l->buckets, key, n, b, NULL) < 0) {
        free(b);
        return NULL;
    }
    b->req_level = rule ? rule->request_burst : 0;
    b->tok_level = rule ? rule->token_burst : 0;
    b->updated_ms = now;
    return b;
}

/* The bucket's clock never goes back: a caller that read the clock before
 * another took the lock refills nothing (moving updated_ms back would count
 * the time between the two twice, and let calls through early). */
static void refill(bucket *b, const limit_rule *rule, double now)
{
    double dt = (now - b->updated_ms) / 1000;
    if (dt <= 0)
        return;
    b->req_level = fmin(rule->request_burst, b->req_level + dt * rule->requests_per_sec);
    b->tok_level = fmin(rule->token_burst, b->tok_level + dt * rule->tokens_per_sec);
    b->updated_ms = now;
}

/* How long until `need` is there at `rate` a second (0: it is). */
static double wait_for(double level, double need, double burst, double rate)
{
    if (need > burst) /* more than the bucket holds: granted when full */
        need = burst;
    return level >= need ? 0 : (need - level) / rate * 1000;
}

/* In-process: takes a request and t->tokens (when the buckets are not the
 * store's), or says how long to wait. */
static double take_local(limiter *l, const rl_ticket *t, double now)
{
    const limit_rule *r = t->rule;
    pthread_mutex_lock(&l->mu);
    bucket *b = bucket_get(l, t->key, r, now);
    double wait = 0;
    if (b && b->blocked_until > now)
        wait = b->blocked_until - now;
    if (b && r && !t->shared && !wait) {
        refill(b, r, now);
        double wr = r->requests_per_sec ? wait_for(b->req_level, 1, r->request_burst,
                                                   r->requests_per_sec) : 0;
        double wt = r->tokens_per_sec ? wait_for(b->tok_level, t->tokens, r->token_burst,
                                                 r->tokens_per_sec) : 0;
        wait = fmax(wr, wt);
        if (!wait) {
            b->req_level -= 1;
            b->tok_level -= t->tokens;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

/* Through the store: the request bucket, then the token bucket (the request
 * given back when the tokens are not there). -1 when the store failed. */
static double take_shared(llmsvc_store *st, const rl_ticket *t, llmsvc_error **err)
{
    const limit_rule *r = t->rule;
    store_conn *c;
    if (store_acquire(st, &c, err) != LLMSVC_OK)
        return -1;
    char k[200];
    int64_t now = store_now_ms();
    double wr = 0, wt = 0;
    llmsvc_code code = LLMSVC_OK;
    if (r->requests_per_sec) {
        snprintf(k, sizeof k, "rl:%s:req", t->key);
        code = st->engine->bucket(c, k, r->request_burst, r->requests_per_sec / 1000, 1, -1, now,
                                  &wr, err);
    }
    if (code == LLMSVC_OK && !wr && r->tokens_per_sec) {
        snprintf(k, sizeof k, "rl:%s:tok", t->key);
        code = st->engine->bucket(c, k, r->token_burst, r->tokens_per_sec / 1000, t->tokens, -1,
                                  now, &wt, err);
        if (code == LLMSVC_OK && wt && r->requests_per_sec) {
            double unused;
            snprintf(k, sizeof k, "rl:%s:req", t->key);
            code = st->engine->bucket(c, k, r->request_burst, r->requests_per_sec / 1000, -1, -1,
                                      now, &unused, err);
        }
    }
    if (code != LLMSVC_OK) {
        st->engine->disconnect(c);
        return -1;
    }
    store_release(st, c);
    return fmax(wr, wt);
}

llmsvc_code limiter_acquire(llmsvc_runtime *rt, const call_ctx *ctx, const route *r,
                            rl_ticket *t, llmsvc_error **err)
{
    t->rule = NULL;
    t->ctx = ctx;
    t->key[0] = '\0';
    t->tokens = 0;
    t->shared = 0;
    t->remaining_requests = t->remaining_tokens = t->reset_ms = t->retry_after_ms = -1;
    const limit_rule *rule = find_rule(&ctx->specs->reg, ctx->provider->name, ctx->model->name);
    if (!rule && !atomic_load_explicit(&rt->limits->n_blocked, memory_order_relaxed))
        return LLMSVC_OK;
    make_key(t);
    t->rule = rule;
    t->tokens = rule && rule->tokens_per_sec ? estimate_tokens(&ctx->view) : 0;
    llmsvc_store *st = atomic_load(&rt->records);
    t->shared = rule && st && !rule->per_process;
    int fail = r && r->limit_fail >= 0 ? r->limit_fail : rule ? rule->fail : 0;
    long max_wait = r && r->limit_max_wait_ms >= 0 ? r->limit_max_wait_ms
                    : rule                         ? rule->max_wait_ms
                                                   : 30000;
    double waited = 0;
    for (;;) {
        double wait = take_local(rt->limits, t, mono_ms());
        if (!wait && t->shared) {
            llmsvc_error *e = NULL;
            wait = take_shared(st, t, &e);
            if (wait < 0) { /* the store is down: the process's own bucket still held */
                rt_logf(rt, LLMSVC_LOG_WARN, "shared rate limit not checked: %s",
                        llmsvc_error_message(e));
                llmsvc_error_free(e);
                wait = 0;
            }
        }
        if (!wait)
            return LLMSVC_OK;
        if (fail || waited + wait > (double)max_wait) {
            llmsvc_error *e;
            if (rule)
                e = err_new(LLMSVC_E_RATE_LIMITED,
                            "rate limit of %s/%s reached: %s (%s); %s %.0f ms", ctx->provider->name,
                            ctx->model->name, rule->text, rule->where,
                            fail ? "free again in" : "would wait past max_wait, another", wait);
            else
                e = err_new(LLMSVC_E_RATE_LIMITED,
                            "provider '%s' is holding %s back after a 429 (retry-after); free "
                            "again in %.0f ms", ctx->provider->name, ctx->model->name, wait);
            e->retry_after_ms = (long)ceil(wait);
            return err_give(err, e);
        }
        sleep_ms(wait);
        waited += wait;
    }
}

/* "1s", "6m0s", "20ms", "0.5s", "1h2m3.5s" → ms; -1 when not a duration. */
static long parse_duration_ms(const char *s)
{
    if (!s || !*s)
        return -1;
    double total = 0;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || v < 0)
            return -1;
        if (!strncmp(end, "ms", 2)) {
            total += v;
            end += 2;
        } else if (*end == 'h') {
            total += v * 3600e3;
            end++;
        } else if (*end == 'm') {
            total += v * 60e3;
            end++;
        } else if (*end == 's' || *end == '\0') {
            total += v * 1e3;
            end += *end == 's';
        } else {
            return -1;
        }
        s = end;
    }
    return total < 86400e3 ? (long)total : -1;
}

static long header_count(const llmsvc_http_response *hr, const char *a, const char *b)
{
    const char *v = http_header(hr, a);
    if (!v)
        v = http_header(hr, b);
    char *end;
    long n = v ? strtol(v, &end, 10) : -1;
    return v && end != v && n >= 0 ? n : -1;
}

void limiter_observe(rl_ticket *t, const llmsvc_http_response *hr)
{
    if (!t->rule) /* only a declared limit follows the provider's counts */
        return;
    t->remaining_requests = header_count(hr, "x-ratelimit-remaining-requests",
                                         "anthropic-ratelimit-requests-remaining");
    t->remaining_tokens = header_count(hr, "x-ratelimit-remaining-tokens",
                                       "anthropic-ratelimit-tokens-remaining");
    t->reset_ms = parse_duration_ms(http_header(hr, "x-ratelimit-reset-requests"));
    t->retry_after_ms = hr->status == 429 ? http_retry_after_ms(hr) : -1;
}

void limiter_settle(llmsvc_runtime *rt, rl_ticket *t, const llmsvc_response *resp,
                    const llmsvc_error *e)
{
    int held = e && e->http_status == 429; /* holds calls back with or without a limit */
    if (!t->key[0] && !held)
        return;
    if (!t->key[0])
        make_key(t);
    double used = -1;
    if (resp && resp->tokens[LLMSVC_TOKENS_INPUT] >= 0 && resp->tokens[LLMSVC_TOKENS_OUTPUT] >= 0)
        used = (double)(resp->tokens[LLMSVC_TOKENS_INPUT] + resp->tokens[LLMSVC_TOKENS_OUTPUT]);
    double delta = used >= 0 && t->rule && t->rule->tokens_per_sec ? used - t->tokens : 0;
    long hold = -1;
    if (held) {
        hold = e->retry_after_ms >= 0 ? e->retry_after_ms : t->retry_after_ms;
        /* as the retry loop does: a retry-after past a minute is not trusted,
         * and no retry-after means the first back-off */
        if (hold < 0 || hold > HOLD_MAX_MS)
            hold = 500;
    }
    else if (t->remaining_requests == 0 && t->reset_ms > 0)
        hold = t->reset_ms;
    limiter *l = rt->limits;
    double now = mono_ms();
    pthread_mutex_lock(&l->mu);
    bucket *b = bucket_get(l, t->key, t->rule, now);
    if (b && t->rule && !t->shared) {
        refill(b, t->rule, now);
        b->tok_level = fmin(t->rule->token_burst, b->tok_level - delta);
        if (t->remaining_requests >= 0)
            b->req_level = fmin(b->req_level, (double)t->remaining_requests);
        if (t->remaining_tokens >= 0)
            b->tok_level = fmin(b->tok_level, (double)t->remaining_tokens);
    }
    if (b && hold > 0 && b->blocked_until < now + (double)hold) {
        if (b->blocked_until == 0)
            atomic_fetch_add(&l->n_blocked, 1);
        b->blocked_until = now + (double)hold;
    }
    pthread_mutex_unlock(&l->mu);
    llmsvc_store *st = atomic_load(&rt->records);
    if (!t->shared || !st || (!delta && t->remaining_requests < 0 && t->remaining_tokens < 0))
        return;
    store_conn *c;
    llmsvc_error *se = NULL;
    if (store_acquire(st, &c, &se) != LLMSVC_OK) {
        llmsvc_error_free(se);
        return;
    }
    const limit_rule *r = t->rule;
    char k[200];
    double unused;
    int64_t wall = store_now_ms();
    llmsvc_code code = LLMSVC_OK;
    if (r->tokens_per_sec && (delta || t->remaining_tokens >= 0)) {
        snprintf(k, sizeof k, "rl:%s:tok", t->key);
        code = st->engine->bucket(c, k, r->token_burst, r->tokens_per_sec / 1000, delta,
                                  (double)t->remaining_tokens, wall, &unused, &se);
    }
    if (code == LLMSVC_OK && r->requests_per_sec && t->remaining_requests >= 0) {
        snprintf(k, sizeof k, "rl:%s:req", t->key);
        code = st->engine->bucket(c, k, r->request_burst, r->requests_per_sec / 1000, 0,
                                  (double)t->remaining_requests, wall, &unused, &se);
    }
    if (code == LLMSVC_OK) {
        store_release(st, c);
    } else {
        st->engine->disconnect(c);
        llmsvc_error_free(se);
    }
}
