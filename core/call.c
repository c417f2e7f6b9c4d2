/* call — llmsvc_call and llmsvc_call_stream: resolve and validate, then send
 * through the plugin with bounded retries (exponential back-off with jitter,
 * honouring retry-after, and never once a stream has reached the host), and
 * fill in cost and latency. Streaming attempts are in call_stream.c. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "host.h"
#include "http.h"
#include "response.h"
#include "runtime.h"
#include "stream.h"
#include "validate.h"
#include "call.h"
#include "route_call.h"
#include "budget.h"
#include "cache.h"
#include "ratelimit.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 8000
#define RETRY_AFTER_MAX_MS 60000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* xorshift, one state per thread */
static uint32_t jitter_rand(void)
{
    static _Thread_local uint32_t s;
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)&s;
        if (!s)
            s = 0x9e3779b9u;
    }
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
}

/* Delay before retry number `retry` (1-based). */
static long backoff_ms(int retry, long retry_after_ms)
{
    if (retry_after_ms >= 0 && retry_after_ms <= RETRY_AFTER_MAX_MS)
        return retry_after_ms;
    long d = BACKOFF_BASE_MS;
    for (int i = 1; i < retry && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > BACKOFF_MAX_MS)
        d = BACKOFF_MAX_MS;
    /* up to 25% less, as the official SDKs do */
    return d - (long)((double)d * 0.25 * (jitter_rand() % 1000) / 1000.0);
}

static void add_call_headers(const call_ctx *ctx, llmsvc_http_request *req)
{
    const provider_spec *p = ctx->provider;
    for (size_t i = 0; i < p->n_headers; i++) {
        const spec_header *h = &p->headers[i];
        const char *v = h->value ? h->value : getenv(h->env);
        if (v && *v && !strpbrk(v, "\r\n"))
            http_add_header(req, h->name, v, h->secret || h->env);
    }
    for (size_t i = 0; i < ctx->req->n_headers; i++)
        http_add_header(req, ctx->req->headers[i].name, ctx->req->headers[i].value, 0);
}

llmsvc_code build_http(const call_ctx *ctx, llmsvc_http_request *req, llmsvc_error **e)
{
    const api_rec *api = ctx->api;
    llmsvc_code code = api->ops.build_request(api->state, &ctx->view, req, e);
    if (code != LLMSVC_OK) {
        if (!*e)
            *e = err_new(LLMSVC_E_TRANSFORM, "plugin '%s' could not build the request",
                         api->ops.name);
        return code;
    }
    add_call_headers(ctx, req);
    return LLMSVC_OK;
}

static int is_retryable_status(int s)
{
    return s == 408 || s == 409 || s == 429 || s >= 500;
}

/* A non-2xx answer always ends as an API error carrying the status. */
llmsvc_code classify(const call_ctx *ctx, const llmsvc_http_response *hr, llmsvc_code code,
                            llmsvc_error **e)
{
    int status = hr->status;
    if (status >= 200 && status < 300)
        return code;
    if (code != LLMSVC_E_API) {
        char snippet[201];
        size_t n = hr->body.len < 200 ? hr->body.len : 200;
        for (size_t i = 0; i < n; i++) {
            char c = hr->body.data[i];
            snippet[i] = (c >= 0x20 && c < 0x7f) ? c : ' ';
        }
        snippet[n] = '\0';
        llmsvc_error_free(*e);
        *e = err_new(LLMSVC_E_API, "%s%s%s", n ? "unreadable error body: '" : "empty error body",
                     snippet, n ? "'" : "");
    }
    llmsvc_error *err = *e;
    if (err == err_nomem())
        return LLMSVC_E_NOMEM;
    err->http_status = status;
    if (!err->retry_set)
        err->retryable = is_retryable_status(status);
    /* a retry-after header wins; without one, keep a delay the plugin read
     * from the error body (Google's google.rpc.RetryInfo) */
    long retry_after = http_retry_after_ms(hr);
    if (retry_after >= 0)
        err->retry_after_ms = retry_after;
    if (status == 401 || status == 403) {
        if (ctx->view.api_key_env)
            err_prefix(err, "HTTP %d from provider '%s' (check the key in %s)", status,
                       ctx->provider->name, ctx->view.api_key_env);
        else
            err_prefix(err, "HTTP %d from provider '%s' (check the API key)", status,
                       ctx->provider->name);
    } else if (status == 429) {
        err_prefix(err, "rate limited: HTTP 429 from provider '%s'", ctx->provider->name);
    } else {
        err_prefix(err, "HTTP %d from provider '%s'", status, ctx->provider->name);
    }
    return LLMSVC_E_API;
}

llmsvc_code attempt(const llmsvc_runtime *rt, const call_ctx *ctx, const http_opts *o,
                    llmsvc_response *resp, llmsvc_error **e)
{
    const api_rec *api = ctx->api;
    if (api->ops.execute)
        return api->ops.execute(api->state, &ctx->view, resp, e);
    llmsvc_http_request req;
    llmsvc_http_response hr;
    http_request_init(&req);
    http_response_init(&hr);
    llmsvc_code code = build_http(ctx, &req, e);
    if (code != LLMSVC_OK)
        goto out;
    code = transport_send(rt->tp, &req, o, &hr, e);
    if (code != LLMSVC_OK)
        goto out;
    if (ctx->ticket)
        limiter_observe(ctx->ticket, &hr);
    code = api->ops.parse_response(api->state, &ctx->view, &hr, resp, e);
    if (code != LLMSVC_OK && !*e)
        *e = err_new(code, "plugin '%s' failed to read the response", api->ops.name);
    code = classify(ctx, &hr, code, e);
out:
    http_request_clear(&req);
    http_response_clear(&hr);
    return code;
}

static void fill_cost(llmsvc_response *r, const model_spec *m)
{
    int64_t in = r->tokens[LLMSVC_TOKENS_INPUT], out = r->tokens[LLMSVC_TOKENS_OUTPUT];
    const pricing *p = &m->price;
    if (in < 0 || out < 0 || p->input < 0 || p->output < 0)
        return;
    int64_t cached = r->tokens[LLMSVC_TOKENS_CACHED_INPUT] > 0
                         ? r->tokens[LLMSVC_TOKENS_CACHED_INPUT]
                         : 0;
    int64_t written = r->tokens[LLMSVC_TOKENS_CACHE_WRITE] > 0 ? r->tokens[LLMSVC_TOKENS_CACHE_WRITE]
                                                               : 0;
    int64_t plain = in - cached - written;
    if (plain < 0)
        plain = 0;
    double cost = (double)plain * p->input +
                  (double)cached * (p->cached_input >= 0 ? p->cached_input : p->input) +
                  (double)written * (p->cache_write >= 0 ? p->cache_write : p->input) +
                  (double)out * p->output;
    r->cost_usd = cost / 1e6;
}

/* A response-cache hit for a call through a route with a cache_ttl (never a
 * stream, nor a call that asked for no cache); *key gets the call's key and
 * *use says whether the answer may be kept. */
static llmsvc_response *cache_hit(llmsvc_runtime *rt, const call_ctx *ctx, const route *r,
                                  const llmsvc_stream *sink, unsigned char key[32], int *use)
{
    *use = 0;
    if (!r || r->cache_ttl_ms <= 0 || sink || ctx->req->no_cache || cache_key(ctx, key) < 0)
        return NULL;
    *use = 1;
    llmsvc_response *hit = cache_lookup(rt, key);
    if (hit) {
        hit->cached = 1;
        hit->cost_usd = 0;
        hit->attempts = 0;
    }
    return hit;
}

/* The retry loop of one target: each attempt takes its share of the rate
 * limits first; a stream that reached the host is never retried. */
static llmsvc_code attempts(llmsvc_runtime *rt, call_ctx *ctx, const route *r,
                            llmsvc_stream *sink, llmsvc_response *resp, int *tries,
                            llmsvc_error **e)
{
    const llmsvc_request *req = ctx->req;
    http_opts o = {rt->connect_timeout_ms, req->timeout_ms ? req->timeout_ms : rt->timeout_ms,
                   rt->max_response_bytes};
    int retries = req->max_retries >= 0 ? req->max_retries : rt->max_retries;
    llmsvc_code code;
    rl_ticket ticket;
    for (int n = 1;; n++) {
        *tries = n;
        ctx->view.attempt = n;
        response_reset(resp);
        code = limiter_acquire(rt, ctx, r, &ticket, e);
        if (code != LLMSVC_OK)
            return code;
        ctx->ticket = &ticket;
        if (sink) {
            stream_reset(sink);
            code = attempt_stream(rt, ctx, &o, sink, e);
        } else {
            code = attempt(rt, ctx, &o, resp, e);
        }
        ctx->ticket = NULL;
        limiter_settle(rt, &ticket, code == LLMSVC_OK ? resp : NULL, *e);
        /* once something reached the host, a retry would repeat it */
        if (code == LLMSVC_OK || !*e || !(*e)->retryable || n > retries ||
            (sink && sink->started))
            return code;
        long d = backoff_ms(n, (*e)->retry_after_ms);
        rt_logf(rt, LLMSVC_LOG_INFO, "%s/%s attempt %d failed (%s); retrying in %ld ms",
                ctx->provider->name, ctx->model->name, n, (*e)->message, d);
        llmsvc_error_free(*e);
        *e = NULL;
        sleep_ms(d);
    }
}

/* One target (the request's provider and model, or a route's target),
 * resolved in the plan's spec set: resolve, the response cache, the retry
 * loop, cost. *out gets the response, also on failure when a stream had
 * started (the partial answer); NULL otherwise. */
static llmsvc_code run_target(llmsvc_runtime *rt, const llmsvc_request *req,
                              const route_plan *plan, const route_target *target,
                              llmsvc_stream *sink, double t0, llmsvc_response **out,
                              llmsvc_error **e)
{
    *out = NULL;
    call_ctx ctx;
    llmsvc_response *resp = NULL;
    unsigned char key[32];
    int use_cache = 0;
    const route *r = plan->route;
    llmsvc_code code = call_resolve(rt, plan->specs, req, target, &ctx, e);
    if (code != LLMSVC_OK)
        goto done;
    if (sink && !(ctx.model->caps & LLMSVC_CAP_STREAMING)) {
        *e = err_new(LLMSVC_E_VALIDATION, "model '%s' of provider '%s' has no streaming capability",
                     ctx.model->name, ctx.provider->name);
        err_set_provider(*e, NULL, "unsupported_capability", "stream");
        code = LLMSVC_E_VALIDATION;
        goto done;
    }
    if ((resp = cache_hit(rt, &ctx, r, sink, key, &use_cache))) {
        resp->latency_ms = now_ms() - t0;
        goto done;
    }
    ctx.view.stream = sink != NULL;
    resp = response_new();
    if (!resp || !(resp->provider = response_str(resp, ctx.provider->name))) {
        code = LLMSVC_E_NOMEM;
        *e = err_nomem();
        goto done;
    }
    if (sink)
        sink->resp = resp;
    int n = 0;
    code = attempts(rt, &ctx, r, sink, resp, &n, e);
    resp->attempts = n;
    if (sink && stream_finish(sink) != LLMSVC_OK && code == LLMSVC_OK) {
        code = LLMSVC_E_NOMEM;
        *e = err_nomem();
    }
    if (code == LLMSVC_OK && !resp->model &&
        response_set(resp, LLMSVC_RESP_MODEL, ctx.model->name) != LLMSVC_OK) {
        *e = err_nomem();
        code = LLMSVC_E_NOMEM;
    }
    fill_cost(resp, ctx.model);
    resp->latency_ms = now_ms() - t0;
    if (code != LLMSVC_OK) {
        if (!*e)
            *e = err_new(code, "the call failed without a reason");
        if (n > 1)
            err_prefix(*e, "after %d attempts", n);
    } else {
        llmsvc_error_free(*e);
        *e = NULL;
        if (use_cache)
            cache_store(rt, key, resp, r->cache_ttl_ms);
    }
done:
    call_ctx_clear(&ctx);
    if (code == LLMSVC_OK || (sink && sink->started))
        *out = resp;
    else
        llmsvc_response_free(resp);
    return code;
}

/* What a failed call through a route leaves for its record: the route, the
 * arm and each attempt, in an otherwise empty response. */
static llmsvc_response *route_shell(const route_plan *plan, try_list *tries, double t0)
{
    llmsvc_response *shell = plan->route ? response_new() : NULL;
    if (shell) {
        route_mark(shell, plan, tries);
        shell->latency_ms = now_ms() - t0;
    }
    return shell;
}

/* The call loop shared by llmsvc_call, llmsvc_call_stream and the worker
 * (sink NULL for a plain call): the budgets, then the request's own target
 * or a route's targets in turn. */
llmsvc_code call_run(llmsvc_runtime *rt, const llmsvc_request *req, llmsvc_stream *sink,
                     llmsvc_response **out, llmsvc_error **err, unsigned flags)
{
    double t0 = now_ms();
    const llmsvc_runtime *prev = host_enter(rt);
    llmsvc_response *resp = NULL;
    llmsvc_error *e = NULL;
    route_plan plan;
    llmsvc_code code = route_plan_make(rt, req, &plan, &e);
    if (code == LLMSVC_OK)
        code = budget_check(rt, &plan.specs->reg, req, &e);
    try_list tries = {0};
    for (size_t i = 0; code == LLMSVC_OK && i < plan.n; i++) {
        double ti = plan.route ? now_ms() : 0; /* a route reports each target's time */
        code = run_target(rt, req, &plan, plan.targets[i], sink, t0, &resp, &e);
        if (plan.route) /* the attempts are the route's to report */
            try_list_add(&tries, plan.targets[i], req, code, e, now_ms() - ti);
        if (code == LLMSVC_OK || i + 1 == plan.n || (sink && sink->started) ||
            !route_falls_back(plan.route, e))
            break;
        rt_logf(rt, LLMSVC_LOG_INFO, "route '%s': %s/%s failed (%s); falling back to %s/%s",
                plan.route->name, plan.targets[i]->provider, plan.targets[i]->model, e->message,
                plan.targets[i + 1]->provider, plan.targets[i + 1]->model);
        llmsvc_error_free(e);
        e = NULL;
        llmsvc_response_free(resp);
        resp = NULL;
        code = LLMSVC_OK;
    }
    if (resp) {
        route_mark(resp, &plan, &tries);
        budget_charge(rt, &plan.specs->reg, req, resp->cost_usd);
    } else if (code != LLMSVC_OK && (flags & (CALL_RECORD | CALL_KEEP_ROUTE))) {
        resp = route_shell(&plan, &tries, t0);
    }
    if (e && plan.route)
        err_prefix(e, "route '%s'", plan.route->name);
    try_list_free(&tries);
    route_plan_clear(&plan);
    if (code != LLMSVC_OK) {
        if (sink && e) {
            llmsvc_event ev = {LLMSVC_EVENT_ERROR, NULL, 0, 0, NULL, NULL, NULL, e};
            sink->cancelled = 0; /* the host hears how it ended, even after asking to stop */
            stream_emit(sink, &ev);
        }
        if ((flags & CALL_RECORD) && rt->records)
            records_write_direct(rt, req, resp, e);
        /* a stream that broke after some text keeps it for the host; the
         * worker keeps the route's attempts for the job's record */
        if (resp && out && ((sink && sink->started) || (flags & CALL_KEEP_ROUTE)))
            *out = resp;
        else
            llmsvc_response_free(resp);
        host_enter(prev);
        return err_give(err, e);
    }
    if (sink) {
        llmsvc_event done = {LLMSVC_EVENT_DONE, NULL, 0, 0, NULL, NULL, resp, NULL};
        stream_emit(sink, &done);
    }
    if ((flags & CALL_RECORD) && rt->records)
        records_write_direct(rt, req, resp, NULL);
    host_enter(prev);
    *out = resp;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_call(llmsvc_runtime *rt, const llmsvc_request *req,
                                      llmsvc_response **out, llmsvc_error **err)
{
    if (!rt || !req || !out)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_call: NULL argument");
    return call_run(rt, req, NULL, out, err, CALL_RECORD);
}

LLMSVC_EXTERN llmsvc_code llmsvc_call_stream(llmsvc_runtime *rt, const llmsvc_request *req,
                                             llmsvc_stream_fn fn, void *user,
                                             llmsvc_response **out, llmsvc_error **err)
{
    if (!rt || !req || !fn)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_call_stream: NULL argument");
    llmsvc_stream sink;
    stream_init(&sink, fn, user, NULL);
    llmsvc_response *resp = NULL;
    llmsvc_code code = call_run(rt, req, &sink, &resp, err, CALL_RECORD);
    stream_free(&sink);
    if (out)
        *out = resp;
    else
        llmsvc_response_free(resp);
    return code;
}
