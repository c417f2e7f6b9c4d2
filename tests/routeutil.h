/* routeutil — the setting the routing tests share (test_routing, test_limits,
 * test_cache, test_budget): the in-process fake upstream standing in for three
 * providers, "up-a" (its base URL ends in /a), "up-b" (/b) and "up-c", all speaking
 * openai-responses with one model "m1" priced at $1,000 per 1M tokens (so the
 * fixture's 36 tokens cost $0.036), plus the mock provider; a routes file of
 * the test's choosing in the spec folder's routes/; runtimes over them. */
#ifndef LLMSVC_ROUTEUTIL_H
#define LLMSVC_ROUTEUTIL_H

#include "fake_upstream.h"
#include "testutil.h"

typedef struct rfx {
    char tmp[TU_PATH];
    char plugins[TU_PATH];
    char specs[TU_PATH];
    fake_upstream *fu;
    llmsvc_runtime *rt; /* opened by rfx_start */
    tu_log logs;
} rfx;

/* Starts everything; routes_yaml is the routes file's text (may be NULL). */
void rfx_start(rfx *f, const char *routes_yaml, int max_retries);
/* Another runtime on the same folders (as another process would open them);
 * cache_max_bytes 0: the default. Close it yourself. */
llmsvc_runtime *rfx_open(rfx *f, int max_retries, size_t cache_max_bytes);
void rfx_stop(rfx *f);

/* Pushes one fake-upstream script entry (printf-style JSON). */
void rfx_script(rfx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Requests the upstream received whose path starts with prefix ("/a/", "/b/"). */
size_t rfx_requests_to(rfx *f, const char *prefix);
/* Their arrival times (CLOCK_MONOTONIC ms), in order; *n of them; free() it. */
double *rfx_arrivals(rfx *f, const char *prefix, size_t *n);

/* A request through a route; with route NULL to up-a/m1, with "up-x" to up-x/m1. */
llmsvc_request *rfx_req(const char *route, const char *prompt);
/* Calls and asserts success; the response is the caller's. */
llmsvc_response *rfx_call_ok(llmsvc_runtime *rt, const llmsvc_request *req);
/* Calls and asserts failure with that code; the error's message, malloc'd. */
char *rfx_call_fails(llmsvc_runtime *rt, const llmsvc_request *req, llmsvc_code want);

double rfx_now_ms(void);

#endif
