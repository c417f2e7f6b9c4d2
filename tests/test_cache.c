/* test_cache — the response cache over loopback HTTP: a repeated identical
 * call makes no second request and says cached (cost 0, recorded as a hit);
 * any difference that shapes the answer misses; --no-cache, errors, streams
 * and routes without a cache_ttl never use it; entries expire; the store is a
 * second level shared by runtimes; the first level stays within its bytes. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "routeutil.h"

static const char routes_yaml[] =
    "routes:\n"
    "  cached:\n"
    "    cache_ttl: 60\n"
    "    fallbacks: [{provider: up-a, model: m1}]\n"
    "  brief:\n"
    "    cache_ttl: 0.4\n"
    "    fallbacks: [{provider: up-a, model: m1}]\n"
    "  uncached:\n"
    "    fallbacks: [{provider: up-a, model: m1}]\n";

static rfx f;

static void setup(void)
{
    rfx_start(&f, routes_yaml, 0);
}

static void teardown(void)
{
    rfx_stop(&f);
}

static llmsvc_store *open_store(const char *name)
{
    char url[TU_PATH + 16];
    snprintf(url, sizeof url, "sqlite:%s/%s", f.tmp, name);
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(&st, url, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return st;
}

START_TEST(a_repeated_call_is_answered_from_the_cache)
{
    llmsvc_store *st = open_store("records.db");
    llmsvc_runtime_set_records(f.rt, st);
    llmsvc_request *req = rfx_req("cached", "hello");
    llmsvc_response *first = rfx_call_ok(f.rt, req);
    llmsvc_response *second = rfx_call_ok(f.rt, req);
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 1);
    ck_assert_int_eq(llmsvc_response_cached(first), 0);
    ck_assert_int_eq(llmsvc_response_cached(second), 1);
    ck_assert(llmsvc_response_cost_usd(first) > 0);
    ck_assert(llmsvc_response_cost_usd(second) == 0);
    ck_assert_str_eq(llmsvc_response_message(second), llmsvc_response_message(first));
    ck_assert_str_eq(llmsvc_response_id(second), llmsvc_response_id(first));
    ck_assert_int_eq(llmsvc_response_tokens(second, LLMSVC_TOKENS_OUTPUT),
                     llmsvc_response_tokens(first, LLMSVC_TOKENS_OUTPUT));
    const char *route = llmsvc_response_route(second, NULL);
    ck_assert_str_eq(route, "cached");
    char *js = NULL;
    ck_assert_int_eq(llmsvc_response_to_json(&js, second), LLMSVC_OK);
    tu_assert_has(js, "\"cached\":true");
    llmsvc_free(js);
    /* recorded: two calls, one a hit */
    char *sum = NULL;
    ck_assert_int_eq(llmsvc_records_summary(st, NULL, &sum, NULL), LLMSVC_OK);
    tu_assert_has(sum, "\"calls\":2");
    tu_assert_has(sum, "\"cache_hits\":1");
    llmsvc_free(sum);
    llmsvc_response_free(first);
    llmsvc_response_free(second);
    llmsvc_request_free(req);
    llmsvc_runtime_set_records(f.rt, NULL);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(any_difference_that_shapes_the_answer_misses)
{
    llmsvc_request *base = rfx_req("cached", "hello");
    llmsvc_response_free(rfx_call_ok(f.rt, base));
    llmsvc_request *v[5];
    for (int i = 0; i < 5; i++)
        v[i] = rfx_req("cached", "hello");
    ck_assert_int_eq(llmsvc_request_set_number(v[0], "temperature", 0.5), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_instructions(v[1], "be brief"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_prompt(v[2], "hello!"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_tool(v[3], "lookup", "finds things",
                                             "{\"type\":\"object\"}", NULL), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_header(v[4], "X-Tenant", "t1"), LLMSVC_OK);
    for (int i = 0; i < 5; i++) {
        llmsvc_response *r = rfx_call_ok(f.rt, v[i]);
        ck_assert_int_eq(llmsvc_response_cached(r), 0);
        llmsvc_response_free(r);
    }
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 6);
    /* and each is now cached in its own right */
    for (int i = 0; i < 5; i++) {
        llmsvc_response *r = rfx_call_ok(f.rt, v[i]);
        ck_assert_int_eq(llmsvc_response_cached(r), 1);
        llmsvc_response_free(r);
        llmsvc_request_free(v[i]);
    }
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 6);
    llmsvc_request_free(base);
}
END_TEST

START_TEST(no_cache_neither_reads_nor_fills)
{
    llmsvc_request *req = rfx_req("cached", "hello");
    ck_assert_int_eq(llmsvc_request_set_cache(req, 0), LLMSVC_OK);
    llmsvc_response_free(rfx_call_ok(f.rt, req));
    llmsvc_response_free(rfx_call_ok(f.rt, req));
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 2);
    llmsvc_request *plain = rfx_req("cached", "hello");
    llmsvc_response *r = rfx_call_ok(f.rt, plain);
    ck_assert_int_eq(llmsvc_response_cached(r), 0); /* nothing was filled */
    llmsvc_response_free(r);
    ck_assert_int_eq(llmsvc_request_set_cache(plain, 0), LLMSVC_OK);
    llmsvc_response_free(rfx_call_ok(f.rt, plain)); /* not read either */
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 4);
    llmsvc_request_free(plain);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(errors_are_never_cached)
{
    rfx_script(&f, "{\"path\": \"/a/responses\", \"status\": 500,"
                   " \"fixture\": \"openai/error_500.json\"}");
    llmsvc_request *req = rfx_req("cached", "hello");
    free(rfx_call_fails(f.rt, req, LLMSVC_E_API));
    llmsvc_response *r = rfx_call_ok(f.rt, req);
    ck_assert_int_eq(llmsvc_response_cached(r), 0);
    llmsvc_response_free(r);
    r = rfx_call_ok(f.rt, req);
    ck_assert_int_eq(llmsvc_response_cached(r), 1);
    llmsvc_response_free(r);
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 2);
    llmsvc_request_free(req);
}
END_TEST

static int ignore(void *user, const llmsvc_event *ev)
{
    (void)user;
    (void)ev;
    return 0;
}

START_TEST(streams_never_use_the_cache)
{
    llmsvc_request *req = rfx_req("cached", "hello");
    for (int i = 0; i < 2; i++) {
        rfx_script(&f, "{\"path\": \"/a/responses\", \"content_type\": \"text/event-stream\","
                       " \"fixture\": \"openai/stream_basic.sse\"}");
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_call_stream(f.rt, req, ignore, NULL, &resp, &err);
        tu_assert_code(rc, LLMSVC_OK, err);
        ck_assert_int_eq(llmsvc_response_cached(resp), 0);
        llmsvc_response_free(resp);
    }
    llmsvc_response *r = rfx_call_ok(f.rt, req); /* the streams filled nothing */
    ck_assert_int_eq(llmsvc_response_cached(r), 0);
    llmsvc_response_free(r);
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 3);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(entries_expire_and_routes_without_a_ttl_do_not_cache)
{
    llmsvc_request *req = rfx_req("brief", "hello");
    llmsvc_response_free(rfx_call_ok(f.rt, req));
    llmsvc_response *r = rfx_call_ok(f.rt, req);
    ck_assert_int_eq(llmsvc_response_cached(r), 1);
    llmsvc_response_free(r);
    usleep(500 * 1000);
    r = rfx_call_ok(f.rt, req);
    ck_assert_int_eq(llmsvc_response_cached(r), 0);
    llmsvc_response_free(r);
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 2);
    llmsvc_request_free(req);

    req = rfx_req("uncached", "hello");
    for (int i = 0; i < 2; i++) {
        r = rfx_call_ok(f.rt, req);
        ck_assert_int_eq(llmsvc_response_cached(r), 0);
        llmsvc_response_free(r);
    }
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 4);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_store_is_a_second_level_shared_by_runtimes)
{
    llmsvc_store *s1 = open_store("shared.db"), *s2 = open_store("shared.db");
    llmsvc_runtime *other = rfx_open(&f, 0, 0);
    llmsvc_runtime_set_records(f.rt, s1);
    llmsvc_runtime_set_records(other, s2);
    llmsvc_request *req = rfx_req("cached", "hello");
    llmsvc_request_add_tool(req, "lookup", "finds things", "{\"type\":\"object\"}", NULL);
    llmsvc_response *first = rfx_call_ok(f.rt, req);
    llmsvc_response *again = rfx_call_ok(other, req);
    ck_assert_int_eq(llmsvc_response_cached(again), 1);
    ck_assert_str_eq(llmsvc_response_message(again), llmsvc_response_message(first));
    ck_assert_str_eq(llmsvc_response_model(again), llmsvc_response_model(first));
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 1);
    llmsvc_response_free(first);
    llmsvc_response_free(again);
    llmsvc_request_free(req);
    llmsvc_runtime_set_records(f.rt, NULL);
    llmsvc_runtime_set_records(other, NULL);
    llmsvc_runtime_close(other);
    llmsvc_store_close(s1);
    llmsvc_store_close(s2);
}
END_TEST

START_TEST(the_first_level_stays_within_its_bytes_dropping_the_oldest)
{
    size_t max = 32 * 1024;
    llmsvc_runtime *small = rfx_open(&f, 0, max);
    for (int i = 0; i < 300; i++) {
        char prompt[32];
        snprintf(prompt, sizeof prompt, "question %d", i);
        llmsvc_request *req = rfx_req("cached", prompt);
        llmsvc_response_free(rfx_call_ok(small, req));
        llmsvc_request_free(req);
    }
    size_t entries, bytes;
    cache_stats(small, &entries, &bytes);
    ck_assert_msg(bytes <= max, "%zu bytes held, more than %zu", bytes, max);
    ck_assert_msg(entries > 10 && entries < 300, "%zu entries", entries);
    llmsvc_request *newest = rfx_req("cached", "question 299");
    llmsvc_request *oldest = rfx_req("cached", "question 0");
    llmsvc_response *r = rfx_call_ok(small, newest);
    ck_assert_int_eq(llmsvc_response_cached(r), 1);
    llmsvc_response_free(r);
    r = rfx_call_ok(small, oldest);
    ck_assert_int_eq(llmsvc_response_cached(r), 0);
    llmsvc_response_free(r);
    llmsvc_request_free(newest);
    llmsvc_request_free(oldest);
    llmsvc_runtime_close(small);
}
END_TEST

/* the second level keeps answers as llmsvc_response_to_json's text */
START_TEST(a_response_reads_back_from_its_json_unchanged)
{
    const char *names[] = {"plain", "reasoning", "tool_calls"};
    for (size_t i = 0; i < 3; i++) {
        char path[TU_PATH];
        snprintf(path, sizeof path, TEST_SRC_DIR "/fixtures/responses/%s.json", names[i]);
        char *text = tu_slurp(path);
        text[strcspn(text, "\n")] = '\0';
        llmsvc_response *r = NULL;
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_response_from_json(&r, text, &err);
        tu_assert_code(rc, LLMSVC_OK, err);
        char *back = NULL;
        ck_assert_int_eq(llmsvc_response_to_json(&back, r), LLMSVC_OK);
        ck_assert_str_eq(back, text);
        llmsvc_free(back);
        llmsvc_response_free(r);
        free(text);
    }
    const char *bad[] = {"[1,2]", "{\"message\": 3}", "{\"tool_calls\": [{\"id\": \"x\"}]}",
                         "{\"assistant_message\": {\"state\": {\"protocol\": 1}}}", "{"};
    for (size_t i = 0; i < 5; i++) {
        llmsvc_response *r = NULL;
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_response_from_json(&r, bad[i], &err);
        ck_assert_msg(rc != LLMSVC_OK && r == NULL && err, "'%s' was read", bad[i]);
        llmsvc_error_free(err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tu_tcase("cache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_repeated_call_is_answered_from_the_cache);
    tcase_add_test(tc, any_difference_that_shapes_the_answer_misses);
    tcase_add_test(tc, no_cache_neither_reads_nor_fills);
    tcase_add_test(tc, errors_are_never_cached);
    tcase_add_test(tc, streams_never_use_the_cache);
    tcase_add_test(tc, entries_expire_and_routes_without_a_ttl_do_not_cache);
    tcase_add_test(tc, the_store_is_a_second_level_shared_by_runtimes);
    tcase_add_test(tc, the_first_level_stays_within_its_bytes_dropping_the_oldest);
    suite_add_tcase(s, tc);
    TCase *json = tu_tcase("json");
    tcase_add_test(json, a_response_reads_back_from_its_json_unchanged);
    suite_add_tcase(s, json);
    return tu_run_suite(s);
}
