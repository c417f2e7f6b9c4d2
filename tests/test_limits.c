/* test_limits — client-side rate limits over loopback HTTP: a 10-per-second
 * limit spaces 50 calls over at least 4 s and no window of the upstream's
 * arrivals holds more than the bucket allows; fail-fast and bounded waits
 * (RATE_LIMITED, exit 7 on the CLI); token buckets corrected by the usage;
 * the provider's x-ratelimit-* and a 429's retry-after holding calls back;
 * and a bucket shared by two runtimes through one SQLite store.
 * Timing assertions are lower bounds only. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "routeutil.h"

static const char routes_yaml[] =
    "routes:\n"
    "  fast-fail:\n"
    "    on_empty: fail\n"
    "    fallbacks: [{provider: up-b, model: m1}]\n"
    "  short-wait:\n"
    "    max_wait: 0.2\n"
    "    fallbacks: [{provider: up-b, model: m1}]\n"
    "limits:\n"
    "  - {provider: up-a, requests_per_second: 10}\n"
    "  - {provider: up-b, requests_per_minute: 60, burst: 1}\n"
    "  - {provider: up-c, tokens_per_minute: 600}\n";

static rfx f;

static void setup(void)
{
    rfx_start(&f, routes_yaml, 0);
}

static void teardown(void)
{
    rfx_stop(&f);
}

typedef struct caller {
    llmsvc_runtime *rt;
    const char *route;
    int calls;
    int failures;
} caller;

static void *call_n(void *arg)
{
    caller *c = arg;
    llmsvc_request *req = rfx_req(c->route, "hello");
    for (int i = 0; i < c->calls; i++) {
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        if (llmsvc_call(c->rt, req, &resp, &err) != LLMSVC_OK)
            c->failures++;
        llmsvc_error_free(err);
        llmsvc_response_free(resp);
    }
    llmsvc_request_free(req);
    return NULL;
}

/* Runs callers on threads; the time it took in ms. */
static double run_callers(caller *c, int n)
{
    pthread_t th[16];
    double t0 = rfx_now_ms();
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, call_n, &c[i]), 0);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(c[i].failures, 0);
    return rfx_now_ms() - t0;
}

/* No window of arrivals holds more requests than a bucket of `burst` filled
 * at `rate` a second allows (slack_ms for the way from the bucket to the
 * upstream, which varies: scaled up when the run is slowed down, as under
 * valgrind, whose runs set CK_TIMEOUT_MULTIPLIER). */
static void assert_within_limit(const char *prefix, double burst, double rate, double slack_ms)
{
    const char *slow = getenv("CK_TIMEOUT_MULTIPLIER");
    if (slow && atof(slow) > 1)
        slack_ms *= atof(slow);
    size_t n;
    double *at = rfx_arrivals(&f, prefix, &n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++) {
            double allowed = burst + rate * (at[j] - at[i] + slack_ms) / 1000;
            ck_assert_msg((double)(j - i + 1) <= allowed,
                          "%zu requests arrived within %.1f ms (allowed %.1f)", j - i + 1,
                          at[j] - at[i], allowed);
        }
    free(at);
}

START_TEST(fifty_calls_at_ten_a_second_take_four_seconds_and_never_exceed_the_limit)
{
    caller c[5];
    for (int i = 0; i < 5; i++)
        c[i] = (caller){f.rt, "up-a", 10, 0};
    double took = run_callers(c, 5);
    ck_assert_msg(took >= 4000, "50 calls at 10/s took %.0f ms", took);
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 50);
    assert_within_limit("/a/", 10, 10, 50);
}
END_TEST

START_TEST(a_route_that_fails_fast_says_which_limit_and_when)
{
    llmsvc_request *req = rfx_req("fast-fail", "hello");
    llmsvc_response_free(rfx_call_ok(f.rt, req));
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    double t0 = rfx_now_ms();
    llmsvc_code rc = llmsvc_call(f.rt, req, &resp, &err);
    tu_assert_code(rc, LLMSVC_E_RATE_LIMITED, err);
    ck_assert_msg(rfx_now_ms() - t0 < 500, "failing fast took %.0f ms", rfx_now_ms() - t0);
    tu_assert_has(llmsvc_error_message(err), "rate limit of up-b/m1 reached: 60 requests per minute");
    tu_assert_has(llmsvc_error_message(err), "routes.yaml:10:5");
    long after = llmsvc_error_retry_after_ms(err);
    ck_assert_msg(after > 0 && after <= 1000, "retry after %ld ms", after);
    ck_assert_uint_eq(rfx_requests_to(&f, "/b/"), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_call_waits_for_its_turn_but_not_past_max_wait)
{
    llmsvc_request *req = rfx_req("up-b", "hello");
    llmsvc_response_free(rfx_call_ok(f.rt, req));
    double t0 = rfx_now_ms();
    llmsvc_response_free(rfx_call_ok(f.rt, req)); /* waits about a second */
    ck_assert_msg(rfx_now_ms() - t0 >= 900, "waited %.0f ms", rfx_now_ms() - t0);
    llmsvc_request_free(req);

    req = rfx_req("short-wait", "hello");
    char *msg = rfx_call_fails(f.rt, req, LLMSVC_E_RATE_LIMITED);
    tu_assert_has(msg, "would wait past max_wait");
    free(msg);
    llmsvc_request_free(req);
    ck_assert_uint_eq(rfx_requests_to(&f, "/b/"), 2);
}
END_TEST

START_TEST(two_cli_processes_share_the_limit_through_a_store_and_the_second_exits_7)
{
    char cmd[3 * TU_PATH], out[TU_PATH];
    snprintf(cmd, sizeof cmd,
             "%s call --plugin-path %s --spec-path %s --store sqlite:%s/cli.db --route fast-fail "
             "hi >/dev/null 2>%s/err.txt",
             LLMSVC_CLI, f.plugins, f.specs, f.tmp, f.tmp);
    int st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), 7);
    snprintf(out, sizeof out, "%s/err.txt", f.tmp);
    char *err = tu_slurp(out);
    tu_assert_has(err, "rate limit of up-b/m1 reached");
    free(err);
    ck_assert_uint_eq(rfx_requests_to(&f, "/b/"), 1);
}
END_TEST

START_TEST(token_buckets_are_corrected_by_the_usage)
{
    /* 600 tokens a minute (10 a second, a bucket of 600); each answer uses 36
     * tokens though "hi" is estimated at 1: the 17th call finds the bucket
     * empty and waits about 1.3 s for it */
    llmsvc_request *req = rfx_req("up-c", "hi");
    double t0 = rfx_now_ms();
    for (int i = 0; i < 18; i++)
        llmsvc_response_free(rfx_call_ok(f.rt, req));
    double took = rfx_now_ms() - t0;
    ck_assert_msg(took >= 1000, "18 calls of 36 tokens at 600/min took %.0f ms", took);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_providers_remaining_requests_hold_calls_back)
{
    rfx_script(&f, "{\"path\": \"/a/responses\", \"fixture\": \"openai/basic.json\","
                   " \"headers\": {\"x-ratelimit-remaining-requests\": \"0\","
                   " \"x-ratelimit-reset-requests\": \"1s\"}}");
    llmsvc_request *req = rfx_req("up-a", "hello");
    llmsvc_response_free(rfx_call_ok(f.rt, req));
    double t0 = rfx_now_ms();
    llmsvc_response_free(rfx_call_ok(f.rt, req));
    ck_assert_msg(rfx_now_ms() - t0 >= 900, "the next call went after %.0f ms",
                  rfx_now_ms() - t0);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_429s_retry_after_holds_every_call_to_that_model_back)
{
    rfx_script(&f, "{\"path\": \"/c/responses\", \"status\": 429,"
                   " \"headers\": {\"retry-after-ms\": \"800\"},"
                   " \"fixture\": \"openai/error_429.json\"}");
    llmsvc_request *req = rfx_req("up-c", "hello");
    ck_assert_int_eq(llmsvc_request_set_max_retries(req, 0), LLMSVC_OK);
    char *msg = rfx_call_fails(f.rt, req, LLMSVC_E_API);
    free(msg);
    llmsvc_response_free(rfx_call_ok(f.rt, req)); /* another call, same model and key */
    size_t n;
    double *at = rfx_arrivals(&f, "/c/", &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_msg(at[1] - at[0] >= 750, "the second call went %.0f ms after the 429",
                  at[1] - at[0]);
    free(at);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(two_runtimes_sharing_a_store_share_the_bucket)
{
    char url[TU_PATH + 16];
    snprintf(url, sizeof url, "sqlite:%s/shared.db", f.tmp);
    llmsvc_store *s1 = NULL, *s2 = NULL;
    ck_assert_int_eq(llmsvc_store_open(&s1, url, NULL), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_store_open(&s2, url, NULL), LLMSVC_OK);
    llmsvc_runtime *other = rfx_open(&f, 0, 0);
    llmsvc_runtime_set_records(f.rt, s1);
    llmsvc_runtime_set_records(other, s2);
    /* 10 a second, 10 at once: 30 calls need 2 s whoever makes them */
    caller c[4] = {{f.rt, "up-a", 8, 0}, {f.rt, "up-a", 7, 0}, {other, "up-a", 8, 0},
                   {other, "up-a", 7, 0}};
    double took = run_callers(c, 4);
    ck_assert_msg(took >= 2000, "30 calls at 10/s from two runtimes took %.0f ms", took);
    assert_within_limit("/a/", 10, 10, 50);
    llmsvc_runtime_set_records(f.rt, NULL);
    llmsvc_runtime_set_records(other, NULL);
    llmsvc_runtime_close(other);
    llmsvc_store_close(s1);
    llmsvc_store_close(s2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tu_tcase("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fifty_calls_at_ten_a_second_take_four_seconds_and_never_exceed_the_limit);
    tcase_add_test(tc, a_route_that_fails_fast_says_which_limit_and_when);
    tcase_add_test(tc, a_call_waits_for_its_turn_but_not_past_max_wait);
    tcase_add_test(tc, two_cli_processes_share_the_limit_through_a_store_and_the_second_exits_7);
    tcase_add_test(tc, token_buckets_are_corrected_by_the_usage);
    tcase_add_test(tc, the_providers_remaining_requests_hold_calls_back);
    tcase_add_test(tc, a_429s_retry_after_holds_every_call_to_that_model_back);
    tcase_add_test(tc, two_runtimes_sharing_a_store_share_the_bucket);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
