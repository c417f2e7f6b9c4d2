/* test_transport — the libcurl transport and the core's retry loop, over real
 * loopback HTTP against the in-process fake upstream, through the real
 * openai-responses plugin: retry-after (seconds, milliseconds, HTTP date),
 * which statuses are retried and how often, per-call and per-runtime retry
 * and timeout settings, every scripted fault (delay, truncate, reset, invalid
 * JSON, oversized), refused connections, HTML error pages, redirects, and
 * connection reuse (one connection per thread, seen in /proc/net/tcp).
 *
 * Timing assertions are lower bounds only. Scripted failures carry
 * retry-after-ms so that retries do not wait out the 0.5 s back-off. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fake_upstream.h"
#include "testutil.h"

#define OPENAI_SPEC PROJECT_SRC_DIR "/specs/openai.yaml"
#define MODEL "gpt-6.2-sol"
#define TEST_KEY "sk-test-llmsvc-transport-dummy-0000"

/* the harness, with assertions that never print the API key */
#define PROTO_FIXTURE_NAMES
#include "prototest.h"

/* ---- fixtures ---- */

#undef open_rt /* this file's own: options rather than a spec path */
static llmsvc_runtime *open_rt(int max_retries, long timeout_ms, size_t max_bytes)
{
    llmsvc_options o;
    proto_options(&pf, &o, OPENAI_SPEC);
    o.max_retries = max_retries;
    o.timeout_ms = timeout_ms;
    o.max_response_bytes = max_bytes;
    return proto_open_options(&o);
}

static void setup(void)
{
    tu_setenv("OPENAI_API_KEY", TEST_KEY);
    proto_start(&pf, "/v1", OPENAI_PLUGIN, "openai-responses.so", NULL);
    rt = open_rt(-1, 0, 0); /* the defaults: 2 retries, 600 s, 16 MiB */
}

/* ---- helpers ---- */

#define oreq(prompt) proto_request(&pf, "openai", MODEL, (prompt))

#define call_ok_on(r, req) proto_call_ok((r), (req))
#define call_fail_on(r, req, want) proto_call_fail((r), (req), (want))

#define now_ms proto_now_ms

static size_t requests(void)
{
    return fake_upstream_request_count(fu);
}

/* The message of the basic fixture, which the routes serve by default. */
static char *basic_text(void)
{
    json_object *fx = proto_fixture_json("openai", "basic.json");
    json_object *out, *item, *content, *part, *text;
    ck_assert(json_object_object_get_ex(fx, "output", &out));
    item = json_object_array_get_idx(out, 0);
    ck_assert(json_object_object_get_ex(item, "content", &content));
    part = json_object_array_get_idx(content, 0);
    ck_assert(json_object_object_get_ex(part, "text", &text));
    char *s = strdup(json_object_get_string(text));
    json_object_put(fx);
    return s;
}

/* A 500 answer, retry-after-ms as given (so retries are quick). */
static void script_status(int status, const char *fixture, int times)
{
    script("{\"path\": \"/responses\", \"status\": %d, \"fixture\": \"openai/%s\","
           " \"headers\": {\"retry-after-ms\": \"10\"}, \"times\": %d}",
           status, fixture, times);
}

/* ================================================================ retry */

START_TEST(a_429_with_retry_after_seconds_is_retried_after_that_wait)
{
    script("{\"path\": \"/responses\", \"status\": 429, \"fixture\": \"openai/error_429.json\","
           " \"headers\": {\"retry-after\": \"1\"}}");
    char *text = basic_text();
    llmsvc_request *req = oreq("hello");
    double t0 = now_ms();
    llmsvc_response *resp = call_ok(req);
    double took = now_ms() - t0;
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    ck_assert_uint_eq(requests(), 2);
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_msg(took >= 1000, "retried after %.0f ms, retry-after said 1 s", took);
    ck_assert(llmsvc_response_latency_ms(resp) >= 1000);
    char *log = tu_log_text(&logs);
    assert_has(log, "INFO openai/gpt-6.2-sol attempt 1 failed (rate limited: HTTP 429");
    assert_has(log, "retrying in 1000 ms");
    free(log);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
}
END_TEST

START_TEST(a_429_with_retry_after_ms_is_retried_after_that_wait)
{
    /* retry-after-ms wins over retry-after */
    script("{\"path\": \"/responses\", \"status\": 429, \"fixture\": \"openai/error_429.json\","
           " \"headers\": {\"retry-after-ms\": \"300\", \"retry-after\": \"30\"}}");
    llmsvc_request *req = oreq("hello");
    double t0 = now_ms();
    llmsvc_response *resp = call_ok(req);
    double took = now_ms() - t0;
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    ck_assert_uint_eq(requests(), 2);
    ck_assert_msg(took >= 300, "retried after %.0f ms, retry-after-ms said 300", took);
    char *log = tu_log_text(&logs);
    assert_has(log, "retrying in 300 ms");
    free(log);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_retry_after_http_date_is_honoured)
{
    char date[64];
    time_t when = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    script("{\"path\": \"/responses\", \"status\": 503, \"fixture\": \"openai/error_503.json\","
           " \"headers\": {\"retry-after\": \"%s\"}}",
           date);
    llmsvc_request *req = oreq("hello");
    double t0 = now_ms();
    llmsvc_response *resp = call_ok(req);
    double took = now_ms() - t0;
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    /* the date has whole seconds: at least one of the two is still ahead */
    ck_assert_msg(took >= 1000, "retried after %.0f ms, the date was about 2 s ahead", took);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_retry_after_beyond_a_minute_falls_back_to_the_back_off)
{
    script("{\"path\": \"/responses\", \"status\": 429, \"fixture\": \"openai/error_429.json\","
           " \"headers\": {\"retry-after\": \"3600\"}}");
    llmsvc_request *req = oreq("hello");
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    /* the delay chosen, from the log: the first back-off (0.375..0.5 s), not an hour */
    char *log = tu_log_text(&logs);
    const char *p = strstr(log, "retrying in ");
    ck_assert_ptr_nonnull(p);
    long ms = strtol(p + strlen("retrying in "), NULL, 10);
    ck_assert_msg(ms >= 375 && ms <= 500, "waited %ld ms", ms);
    free(log);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_500_then_a_503_then_success_takes_three_attempts)
{
    script_status(500, "error_500.json", 1);
    script_status(503, "error_503.json", 1);
    char *text = basic_text();
    llmsvc_request *req = oreq("hello");
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 3);
    ck_assert_uint_eq(requests(), 3);
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    char *log = tu_log_text(&logs);
    assert_has(log, "attempt 1 failed (HTTP 500 from provider 'openai'");
    assert_has(log, "attempt 2 failed (HTTP 503 from provider 'openai'");
    free(log);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
}
END_TEST

START_TEST(three_500s_fail_after_three_attempts_and_stay_retryable)
{
    script_status(500, "error_500.json", 3);
    llmsvc_request *req = oreq("hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    ck_assert_uint_eq(requests(), 3);
    ck_assert_int_eq(llmsvc_error_http_status(err), 500);
    ck_assert(llmsvc_error_retryable(err));
    ck_assert_int_eq(llmsvc_error_retry_after_ms(err), 10);
    ck_assert_str_eq(llmsvc_error_provider_type(err), "server_error");
    assert_has(llmsvc_error_message(err), "after 3 attempts: HTTP 500 from provider 'openai': ");
    assert_has(llmsvc_error_message(err), "The server had an error processing your request.");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_400_is_never_retried)
{
    script_status(400, "error_400_unsupported_parameter.json", -1);
    llmsvc_request *req = oreq("hello");
    llmsvc_request_set_max_retries(req, 5);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    ck_assert_uint_eq(requests(), 1);
    ck_assert_int_eq(llmsvc_error_http_status(err), 400);
    ck_assert(!llmsvc_error_retryable(err));
    assert_lacks(llmsvc_error_message(err), "attempts");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

static const struct {
    int status;
    const char *fixture;
} not_retried[] = {
    {401, "error_401.json"},
    {403, "error_403.json"},
    {404, "error_404_model.json"},
    {422, "error_400_unsupported_parameter.json"},
};

START_TEST(statuses_401_403_404_422_are_not_retried)
{
    script_status(not_retried[_i].status, not_retried[_i].fixture, -1);
    llmsvc_request *req = oreq("hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    ck_assert_uint_eq(requests(), 1);
    ck_assert_int_eq(llmsvc_error_http_status(err), not_retried[_i].status);
    ck_assert(!llmsvc_error_retryable(err));
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

static const int retried[] = {408, 409, 429, 500, 502, 503, 504};

START_TEST(statuses_408_409_429_and_5xx_are_retried)
{
    script_status(retried[_i], "error_500.json", 1);
    llmsvc_request *req = oreq("hello");
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    ck_assert_uint_eq(requests(), 2);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(retries_are_set_per_call)
{
    script_status(500, "error_500.json", -1);
    llmsvc_request *req = oreq("hello");
    ck_assert_int_eq(llmsvc_request_set_max_retries(req, 0), LLMSVC_OK);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    ck_assert_uint_eq(requests(), 1);
    ck_assert(llmsvc_error_retryable(err)); /* retryable, but not retried */
    assert_lacks(llmsvc_error_message(err), "attempts");
    llmsvc_error_free(err);

    fake_upstream_reset(fu);
    script_status(500, "error_500.json", -1);
    ck_assert_int_eq(llmsvc_request_set_max_retries(req, 4), LLMSVC_OK);
    err = call_fail(req, LLMSVC_E_API);
    ck_assert_uint_eq(requests(), 5);
    assert_has(llmsvc_error_message(err), "after 5 attempts");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(retries_are_set_per_runtime_and_a_call_overrides_them)
{
    llmsvc_runtime *none = open_rt(0, 0, 0);
    script_status(503, "error_503.json", -1);
    llmsvc_request *req = oreq("hello");
    llmsvc_error *err = call_fail_on(none, req, LLMSVC_E_API);
    ck_assert_uint_eq(requests(), 1);
    llmsvc_error_free(err);
    /* the call's own setting wins */
    llmsvc_request_set_max_retries(req, 1);
    err = call_fail_on(none, req, LLMSVC_E_API);
    ck_assert_uint_eq(requests(), 3);
    assert_has(llmsvc_error_message(err), "after 2 attempts");
    llmsvc_error_free(err);
    llmsvc_runtime_close(none);

    llmsvc_runtime *one = open_rt(1, 0, 0);
    fake_upstream_reset(fu);
    script_status(503, "error_503.json", -1);
    llmsvc_request_free(req);
    req = oreq("hello");
    err = call_fail_on(one, req, LLMSVC_E_API);
    ck_assert_uint_eq(requests(), 2);
    llmsvc_error_free(err);
    llmsvc_runtime_close(one);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ faults */

START_TEST(a_delay_beyond_the_call_timeout_is_a_retryable_transport_error)
{
    script("{\"path\": \"/responses\", \"delay_ms\": 3000, \"fixture\": \"openai/basic.json\"}");
    llmsvc_request *req = oreq("hello");
    ck_assert_int_eq(llmsvc_request_set_timeout_ms(req, 250), LLMSVC_OK);
    llmsvc_request_set_max_retries(req, 0);
    double t0 = now_ms();
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSPORT);
    double took = now_ms() - t0;
    ck_assert_msg(took >= 250, "gave up after %.0f ms", took);
    ck_assert(llmsvc_error_retryable(err));
    ck_assert_int_eq(llmsvc_error_http_status(err), 0);
    assert_has(llmsvc_error_message(err), "timed out");
    assert_has(llmsvc_error_message(err), base);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_runtime_timeout_applies_when_the_call_sets_none)
{
    llmsvc_runtime *quick = open_rt(0, 250, 0);
    script("{\"path\": \"/responses\", \"delay_ms\": 3000, \"fixture\": \"openai/basic.json\"}");
    llmsvc_request *req = oreq("hello");
    llmsvc_error *err = call_fail_on(quick, req, LLMSVC_E_TRANSPORT);
    assert_has(llmsvc_error_message(err), "timed out");
    llmsvc_error_free(err);
    /* a call's own timeout replaces the runtime's */
    script("{\"path\": \"/responses\", \"delay_ms\": 500, \"fixture\": \"openai/basic.json\"}");
    llmsvc_request_set_timeout_ms(req, 5000);
    llmsvc_response_free(call_ok_on(quick, req));
    llmsvc_request_free(req);
    llmsvc_runtime_close(quick);
}
END_TEST

START_TEST(a_timed_out_attempt_is_retried_and_can_succeed)
{
    script("{\"path\": \"/responses\", \"delay_ms\": 3000, \"fixture\": \"openai/basic.json\"}");
    llmsvc_request *req = oreq("hello");
    llmsvc_request_set_timeout_ms(req, 250);
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    ck_assert_uint_eq(requests(), 2);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* A loopback port nobody listens on. */
static unsigned short closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s); /* bound, never listened: connecting is refused */
    return ntohs(a.sin_port);
}

START_TEST(a_refused_connection_is_a_transport_error)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1", (unsigned)closed_port());
    llmsvc_request *req = tu_request("openai", MODEL, "hello");
    llmsvc_request_set_base_url(req, url);
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSPORT);
    char where[160];
    snprintf(where, sizeof where, "cannot connect to %s/responses", url);
    assert_has(llmsvc_error_message(err), where);
    ck_assert(llmsvc_error_retryable(err));
    ck_assert_int_eq(llmsvc_error_http_status(err), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(https_to_a_plain_http_server_is_a_tls_error_that_is_not_retried)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/v1", (unsigned)fake_upstream_port(fu));
    llmsvc_request *req = tu_request("openai", MODEL, "hello");
    llmsvc_request_set_base_url(req, url);
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSPORT);
    char where[160];
    snprintf(where, sizeof where, "TLS failure talking to %s/responses", url);
    assert_has(llmsvc_error_message(err), where);
    ck_assert(!llmsvc_error_retryable(err));
    /* default retries, yet one attempt */
    assert_lacks(llmsvc_error_message(err), "attempts");
    char *log = tu_log_text(&logs);
    assert_lacks(log, "attempt 1 failed");
    free(log);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_malformed_url_is_a_transport_error_that_is_not_retried)
{
    llmsvc_request *req = tu_request("openai", MODEL, "hello");
    llmsvc_request_set_base_url(req, "http://127.0.0.1:99999/v1");
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSPORT);
    assert_has(llmsvc_error_message(err), "bad URL http://127.0.0.1:99999/v1/responses");
    assert_has(llmsvc_error_message(err), "ort number"); /* libcurl's reason */
    ck_assert(!llmsvc_error_retryable(err));
    assert_lacks(llmsvc_error_message(err), "attempts");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    /* the thread's handle goes on to the next URL, and back */
    size_t before = requests();
    req = oreq("hello");
    llmsvc_response_free(call_ok(req));
    llmsvc_request_set_base_url(req, "http://127.0.0.1:99999/v1");
    llmsvc_error_free(call_fail(req, LLMSVC_E_TRANSPORT));
    llmsvc_request_set_base_url(req, base);
    llmsvc_response_free(call_ok(req));
    ck_assert_uint_eq(requests(), before + 2);
    llmsvc_request_free(req);
}
END_TEST

/* The final errors above are marked so by err_not_retryable, which must
 * leave the one shared out-of-memory error retryable for every later call. */
START_TEST(marking_an_error_final_never_marks_out_of_memory)
{
    llmsvc_error *e = err_new(LLMSVC_E_TRANSPORT, "bad URL x");
    ck_assert(llmsvc_error_retryable(e));
    ck_assert_ptr_eq(err_not_retryable(e), e);
    ck_assert(!llmsvc_error_retryable(e));
    llmsvc_error_free(e);
    ck_assert(llmsvc_error_retryable(err_not_retryable(err_nomem())));
    ck_assert(llmsvc_error_retryable(err_nomem()));
}
END_TEST

START_TEST(a_truncated_body_is_a_transport_error)
{
    script("{\"path\": \"/responses\", \"fault\": \"truncate\","
           " \"fixture\": \"openai/basic.json\"}");
    llmsvc_request *req = oreq("hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSPORT);
    assert_has(llmsvc_error_message(err), "failed before a complete response arrived");
    ck_assert(llmsvc_error_retryable(err));
    ck_assert_uint_eq(requests(), 1);
    llmsvc_error_free(err);
    /* the next call works */
    llmsvc_response_free(call_ok(req));
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_reset_connection_is_a_transport_error)
{
    script("{\"path\": \"/responses\", \"fault\": \"reset\"}");
    llmsvc_request *req = oreq("hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSPORT);
    assert_has(llmsvc_error_message(err), base);
    ck_assert(llmsvc_error_retryable(err));
    ck_assert_uint_eq(requests(), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_reset_connection_is_retried_after_the_back_off)
{
    script("{\"path\": \"/responses\", \"fault\": \"reset\"}");
    llmsvc_request *req = oreq("hello");
    double t0 = now_ms();
    llmsvc_response *resp = call_ok(req);
    double took = now_ms() - t0;
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    /* no retry-after on a cut connection: the first back-off, 0.5 s less up to 25% */
    ck_assert_msg(took >= 375, "retried after %.0f ms", took);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(invalid_json_with_200_is_a_provider_error_that_is_not_retried)
{
    script("{\"path\": \"/responses\", \"fault\": \"invalid_json\"}");
    llmsvc_request *req = oreq("hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_PROVIDER);
    /* the body, {"id": "resp_bad", "output": [, stops after 30 bytes */
    assert_has(llmsvc_error_message(err), "not complete JSON (it ends after 30 bytes)");
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(requests(), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_json_syntax_error_names_its_byte_offset)
{
    static const char body[] =
        "{\"id\": \"resp_1\", \"object\": \"response\", \"status\": completed}";
    char at[64];
    snprintf(at, sizeof at, "not valid JSON at byte %zu",
             (size_t)(strstr(body, "completed}") - body));
    script("{\"path\": \"/responses\", \"body\": \"{\\\"id\\\": \\\"resp_1\\\", \\\"object\\\": "
           "\\\"response\\\", \\\"status\\\": completed}\"}");
    llmsvc_request *req = oreq("hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), at);
    llmsvc_error_free(err);

    script("{\"path\": \"/responses\", \"body\": \"{\\\"id\\\": \\\"resp_1\\\"} {}\"}");
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "extra data after its JSON value (byte 17)");
    llmsvc_error_free(err);
    ck_assert_uint_eq(requests(), 2);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_body_over_max_response_bytes_is_a_provider_error_and_the_runtime_goes_on)
{
    llmsvc_runtime *small = open_rt(-1, 0, (size_t)1 << 20);
    script("{\"path\": \"/responses\", \"fault\": \"oversized\", \"oversized_bytes\": %d}",
           2 << 20);
    llmsvc_request *req = oreq("hello");
    llmsvc_error *err = call_fail_on(small, req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "larger than the 1048576-byte limit");
    assert_has(llmsvc_error_message(err), "max_response_bytes");
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(requests(), 1);
    llmsvc_error_free(err);
    /* the same runtime and thread go on */
    char *text = basic_text();
    llmsvc_response *resp = call_ok_on(small, req);
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    free(text);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    llmsvc_runtime_close(small);
}
END_TEST

START_TEST(a_body_of_exactly_max_response_bytes_is_read_and_one_byte_more_is_not)
{
    const size_t limit = (size_t)1 << 20;
    llmsvc_runtime *small = open_rt(0, 0, limit);
    script("{\"path\": \"/responses\", \"fault\": \"oversized\", \"oversized_bytes\": %zu}", limit);
    llmsvc_request *req = oreq("hello");
    llmsvc_response *resp = call_ok_on(small, req);
    /* the generated body: a message of filler between a fixed prefix and suffix */
    size_t len = strlen(llmsvc_response_message(resp));
    ck_assert(len > limit - 1024 && len < limit);
    assert_has(llmsvc_response_message(resp), "All work and no play makes Jack a dull boy.");
    ck_assert_str_eq(llmsvc_response_model(resp), "fake-oversized");
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT), 4096);
    llmsvc_response_free(resp);
    script("{\"path\": \"/responses\", \"fault\": \"oversized\", \"oversized_bytes\": %zu}",
           limit + 1);
    llmsvc_error *err = call_fail_on(small, req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "1048576-byte limit");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    llmsvc_runtime_close(small);
}
END_TEST

START_TEST(a_502_html_page_is_an_api_error_with_a_readable_snippet)
{
    /* nginx's own page, and a long one behind it */
    script("{\"path\": \"/responses\", \"status\": 502, \"content_type\": \"text/html\","
           " \"body\": \"<html>\\r\\n<head><title>502 Bad Gateway</title></head>\\r\\n<body>\\r\\n"
           "<center><h1>502 Bad Gateway</h1></center>\\r\\n<hr><center>nginx</center>\\r\\n"
           "</body>\\r\\n</html>\\r\\n%0400d\"}",
           0);
    llmsvc_request *req = oreq("hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    const char *msg = llmsvc_error_message(err);
    ck_assert_int_eq(llmsvc_error_http_status(err), 502);
    ck_assert(llmsvc_error_retryable(err));
    assert_has(msg, "HTTP 502 from provider 'openai': unreadable error body: '<html>");
    assert_has(msg, "<title>502 Bad Gateway</title>");
    /* one line, and bounded: a snippet, not the page */
    ck_assert_msg(!strpbrk(msg, "\r\n\t"), "control characters in '%s'", msg);
    ck_assert_msg(strlen(msg) < 300, "%zu bytes of message", strlen(msg));
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_redirect_is_not_followed)
{
    /* the key must not be carried to wherever a redirect points */
    fake_upstream *other = fake_upstream_start(NULL, 0);
    ck_assert_ptr_nonnull(other);
    script("{\"path\": \"/responses\", \"status\": 307,"
           " \"headers\": {\"location\": \"%s/v1/responses\"}}",
           fake_upstream_url(other));
    llmsvc_request *req = oreq("hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    ck_assert_int_eq(llmsvc_error_http_status(err), 307);
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(requests(), 1);
    ck_assert_uint_eq(fake_upstream_request_count(other), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    fake_upstream_stop(other);
}
END_TEST

START_TEST(a_large_request_body_is_sent_whole_without_expect)
{
    size_t n = (size_t)2 << 20;
    char *prompt = malloc(n + 1);
    ck_assert_ptr_nonnull(prompt);
    for (size_t i = 0; i < n; i++)
        prompt[i] = (char)('a' + i % 26);
    prompt[n] = '\0';
    llmsvc_request *req = oreq(prompt);
    llmsvc_response_free(call_ok(req));
    char *text = fake_upstream_requests_json(fu);
    json_object *all = json_tokener_parse(text);
    free(text);
    json_object *rec = json_object_array_get_idx(all, 0), *headers, *body_text;
    ck_assert(json_object_object_get_ex(rec, "headers", &headers));
    ck_assert(!json_object_object_get_ex(headers, "expect", NULL));
    ck_assert(json_object_object_get_ex(rec, "body", &body_text));
    json_object *body = json_tokener_parse(json_object_get_string(body_text)), *input;
    ck_assert(json_object_object_get_ex(body, "input", &input));
    ck_assert_uint_eq((size_t)json_object_get_string_len(input), n);
    ck_assert(strcmp(json_object_get_string(input), prompt) == 0);
    json_object_put(body);
    json_object_put(all);
    llmsvc_request_free(req);
    free(prompt);
}
END_TEST

/* ================================================================ connections */

/* The local ports of loopback TCP sockets connected to `port` (client ends),
 * added to set (n in, n out); from /proc/net/tcp, so independent of libcurl. */
#define MAX_PORTS 8192
static size_t client_ports(unsigned short port, unsigned short *set, size_t n)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    ck_assert_msg(f != NULL, "cannot read /proc/net/tcp");
    char line[512];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* the header */
    while (fgets(line, sizeof line, f)) {
        unsigned la, lp, ra, rp, st;
        if (sscanf(line, " %*u: %8X:%4X %8X:%4X %2X", &la, &lp, &ra, &rp, &st) != 5)
            continue;
        if (rp != port || ra != htonl(INADDR_LOOPBACK) || st == 0x0A /* LISTEN */)
            continue;
        size_t i;
        for (i = 0; i < n && set[i] != lp; i++)
            ;
        if (i == n && n < MAX_PORTS)
            set[n++] = (unsigned short)lp;
    }
    fclose(f);
    return n;
}

/* Ports in after[] that are not in before[]. */
static size_t new_ports(const unsigned short *before, size_t nb, const unsigned short *after,
                        size_t na)
{
    size_t fresh = 0;
    for (size_t i = 0; i < na; i++) {
        size_t k;
        for (k = 0; k < nb && before[k] != after[i]; k++)
            ;
        fresh += k == nb;
    }
    return fresh;
}

static unsigned short before[MAX_PORTS], seen[MAX_PORTS];

START_TEST(sequential_calls_on_one_thread_reuse_one_connection)
{
    unsigned short port = fake_upstream_port(fu);
    size_t nb = client_ports(port, before, 0), ns = 0;
    llmsvc_request *req = oreq("hello");
    for (int i = 0; i < 60; i++) {
        /* error answers in between keep the connection too */
        if (i % 20 == 10)
            script_status(500, "error_500.json", 1);
        if (i % 20 == 15)
            script_status(404, "error_404_model.json", 1);
        llmsvc_request_set_max_retries(req, 0);
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
        ck_assert(rc == LLMSVC_OK || rc == LLMSVC_E_API);
        llmsvc_response_free(resp);
        llmsvc_error_free(err);
        ns = client_ports(port, seen, ns);
    }
    ck_assert_uint_eq(requests(), 60);
    size_t opened = new_ports(before, nb, seen, ns);
    ck_assert_msg(opened == 1, "60 sequential calls opened %zu connections", opened);
    llmsvc_request_free(req);
}
END_TEST

#define THREADS 8
#define CALLS 200

typedef struct worker {
    int id;
    int ok;
    char failure[512];
} worker;

static const char *expected_text;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < CALLS; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "thread %d call %d", w->id, i);
        llmsvc_request *req = NULL;
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        if (llmsvc_request_new(&req) != LLMSVC_OK) {
            snprintf(w->failure, sizeof w->failure, "llmsvc_request_new failed");
            return NULL;
        }
        llmsvc_request_set_provider(req, "openai");
        llmsvc_request_set_model(req, MODEL);
        llmsvc_request_set_prompt(req, prompt);
        llmsvc_request_set_base_url(req, base);
        llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
        int good = rc == LLMSVC_OK && strcmp(llmsvc_response_message(resp), expected_text) == 0 &&
                   strcmp(llmsvc_response_model(resp), MODEL) == 0 &&
                   llmsvc_response_attempts(resp) == 1;
        if (!good) {
            snprintf(w->failure, sizeof w->failure, "call %d: %s: %s", i, llmsvc_code_name(rc),
                     rc == LLMSVC_OK ? llmsvc_response_message(resp) : llmsvc_error_message(err));
        }
        llmsvc_error_free(err);
        llmsvc_response_free(resp);
        llmsvc_request_free(req);
        if (!good)
            return NULL;
        w->ok++;
    }
    return NULL;
}

START_TEST(eight_threads_of_200_calls_share_one_runtime)
{
    char *text = basic_text();
    expected_text = text;
    unsigned short port = fake_upstream_port(fu);
    size_t nb = client_ports(port, before, 0);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(w[i].failure[0] == '\0', "thread %d: %s", i, w[i].failure);
        total += w[i].ok;
    }
    ck_assert_int_eq(total, THREADS * CALLS);
    ck_assert_uint_eq(requests(), THREADS * CALLS);

    /* every prompt arrived, once */
    char *all_text = fake_upstream_requests_json(fu);
    json_object *all = json_tokener_parse(all_text);
    free(all_text);
    ck_assert_uint_eq(json_object_array_length(all), THREADS * CALLS);
    static unsigned char got[THREADS][CALLS];
    memset(got, 0, sizeof got);
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *rec = json_object_array_get_idx(all, i), *b, *input;
        ck_assert(json_object_object_get_ex(rec, "body", &b));
        json_object *body = json_tokener_parse(json_object_get_string(b));
        ck_assert(json_object_object_get_ex(body, "input", &input));
        int t, c;
        ck_assert_int_eq(sscanf(json_object_get_string(input), "thread %d call %d", &t, &c), 2);
        ck_assert(t >= 0 && t < THREADS && c >= 0 && c < CALLS);
        got[t][c]++;
        json_object_put(body);
    }
    for (int t = 0; t < THREADS; t++)
        for (int c = 0; c < CALLS; c++)
            ck_assert_msg(got[t][c] == 1, "thread %d call %d arrived %d times", t, c, got[t][c]);
    json_object_put(all);

    /* one connection per thread (their handles closed when the threads ended) */
    size_t na = client_ports(port, seen, 0);
    size_t opened = new_ports(before, nb, seen, na);
    ck_assert_msg(opened >= 1 && opened <= THREADS, "%d x %d calls opened %zu connections",
                  THREADS, CALLS, opened);
    free(text);
}
END_TEST

/* ================================================================ proxy */

/* The runtime reopened with these proxy variables (NULL: unset), which it
 * reads when it opens; the other spellings unset. */
static void proxy_env(const char *http_proxy, const char *all_proxy, const char *upper_http,
                      const char *no_proxy)
{
    const char *name[] = {"http_proxy", "all_proxy", "HTTP_PROXY", "no_proxy"};
    const char *value[] = {http_proxy, all_proxy, upper_http, no_proxy};
    for (int i = 0; i < 4; i++) {
        if (value[i])
            tu_setenv(name[i], value[i]);
        else
            tu_unsetenv(name[i]);
    }
    tu_unsetenv("ALL_PROXY");
    tu_unsetenv("NO_PROXY");
    llmsvc_runtime_close(rt);
    rt = open_rt(0, 0, 0);
}

/* A call to a port where nothing listens: it works only through a proxy
 * (the fake upstream, which answers any path ending in /responses and
 * records the absolute URL a proxy is sent). */
static llmsvc_request *far_request(char *url, size_t n)
{
    snprintf(url, n, "http://127.0.0.2:%u/v1", (unsigned)closed_port());
    llmsvc_request *req = tu_request("openai", MODEL, "hello");
    llmsvc_request_set_base_url(req, url);
    llmsvc_request_set_max_retries(req, 0);
    return req;
}

static void assert_proxied(llmsvc_request *req, const char *url)
{
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    char want[160];
    snprintf(want, sizeof want, "%s/responses", url);
    ck_assert_str_eq(jstr(s.rec, "path"), want);
    sent_free(&s);
}

static void assert_direct(llmsvc_request *req, const char *url)
{
    size_t count = requests();
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSPORT);
    char where[160];
    snprintf(where, sizeof where, "cannot connect to %s/responses", url);
    assert_has(llmsvc_error_message(err), where);
    ck_assert_uint_eq(requests(), count);
    llmsvc_error_free(err);
}

START_TEST(http_proxy_sends_http_calls_through_the_proxy)
{
    proxy_env(fake_upstream_url(fu), NULL, NULL, NULL);
    char url[128];
    llmsvc_request *req = far_request(url, sizeof url);
    assert_proxied(req, url);
    assert_proxied(req, url); /* and the next call on the thread's handle */
    llmsvc_request_free(req);
}
END_TEST

START_TEST(all_proxy_serves_a_scheme_without_its_own)
{
    proxy_env(NULL, fake_upstream_url(fu), NULL, NULL);
    char url[128];
    llmsvc_request *req = far_request(url, sizeof url);
    assert_proxied(req, url);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(upper_case_http_proxy_is_ignored_as_libcurl_ignores_it)
{
    /* a CGI server puts a request's "Proxy:" header there */
    proxy_env(NULL, NULL, fake_upstream_url(fu), NULL);
    char url[128];
    llmsvc_request *req = far_request(url, sizeof url);
    assert_direct(req, url);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_host_in_no_proxy_is_called_directly)
{
    proxy_env(fake_upstream_url(fu), NULL, NULL, "localhost,127.0.0.2");
    char url[128];
    llmsvc_request *req = far_request(url, sizeof url);
    assert_direct(req, url);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(proxy_variables_are_read_when_the_runtime_opens)
{
    proxy_env(NULL, NULL, NULL, NULL);
    tu_setenv("http_proxy", fake_upstream_url(fu)); /* too late for this runtime */
    char url[128];
    llmsvc_request *req = far_request(url, sizeof url);
    assert_direct(req, url);
    llmsvc_runtime_close(rt);
    rt = open_rt(0, 0, 0); /* the next runtime sees it */
    assert_proxied(req, url);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ suite */

static Suite *transport_suite(void)
{
    Suite *s = suite_create("transport");
    TCase *tc = tu_tcase("retry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_429_with_retry_after_seconds_is_retried_after_that_wait);
    tcase_add_test(tc, a_429_with_retry_after_ms_is_retried_after_that_wait);
    tcase_add_test(tc, a_retry_after_http_date_is_honoured);
    tcase_add_test(tc, a_retry_after_beyond_a_minute_falls_back_to_the_back_off);
    tcase_add_test(tc, a_500_then_a_503_then_success_takes_three_attempts);
    tcase_add_test(tc, three_500s_fail_after_three_attempts_and_stay_retryable);
    tcase_add_test(tc, a_400_is_never_retried);
    tcase_add_loop_test(tc, statuses_401_403_404_422_are_not_retried, 0,
                        (int)(sizeof not_retried / sizeof *not_retried));
    tcase_add_loop_test(tc, statuses_408_409_429_and_5xx_are_retried, 0,
                        (int)(sizeof retried / sizeof *retried));
    tcase_add_test(tc, retries_are_set_per_call);
    tcase_add_test(tc, retries_are_set_per_runtime_and_a_call_overrides_them);
    suite_add_tcase(s, tc);

    tc = tu_tcase("faults");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_delay_beyond_the_call_timeout_is_a_retryable_transport_error);
    tcase_add_test(tc, the_runtime_timeout_applies_when_the_call_sets_none);
    tcase_add_test(tc, a_timed_out_attempt_is_retried_and_can_succeed);
    tcase_add_test(tc, a_refused_connection_is_a_transport_error);
    tcase_add_test(tc, https_to_a_plain_http_server_is_a_tls_error_that_is_not_retried);
    tcase_add_test(tc, a_malformed_url_is_a_transport_error_that_is_not_retried);
    tcase_add_test(tc, marking_an_error_final_never_marks_out_of_memory);
    tcase_add_test(tc, a_truncated_body_is_a_transport_error);
    tcase_add_test(tc, a_reset_connection_is_a_transport_error);
    tcase_add_test(tc, a_reset_connection_is_retried_after_the_back_off);
    tcase_add_test(tc, invalid_json_with_200_is_a_provider_error_that_is_not_retried);
    tcase_add_test(tc, a_json_syntax_error_names_its_byte_offset);
    tcase_add_test(tc, a_body_over_max_response_bytes_is_a_provider_error_and_the_runtime_goes_on);
    tcase_add_test(tc, a_body_of_exactly_max_response_bytes_is_read_and_one_byte_more_is_not);
    tcase_add_test(tc, a_502_html_page_is_an_api_error_with_a_readable_snippet);
    tcase_add_test(tc, a_redirect_is_not_followed);
    tcase_add_test(tc, a_large_request_body_is_sent_whole_without_expect);
    suite_add_tcase(s, tc);

    tc = tu_tcase("proxy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, http_proxy_sends_http_calls_through_the_proxy);
    tcase_add_test(tc, all_proxy_serves_a_scheme_without_its_own);
    tcase_add_test(tc, upper_case_http_proxy_is_ignored_as_libcurl_ignores_it);
    tcase_add_test(tc, a_host_in_no_proxy_is_called_directly);
    tcase_add_test(tc, proxy_variables_are_read_when_the_runtime_opens);
    suite_add_tcase(s, tc);

    tc = tu_tcase("connections");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sequential_calls_on_one_thread_reuse_one_connection);
    tcase_add_test(tc, eight_threads_of_200_calls_share_one_runtime);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(transport_suite());
}
