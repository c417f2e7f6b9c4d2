/* test_routing — routes over loopback HTTP: fallbacks (which failures hand
 * over, that a fallback does not restart the retries of a target already
 * tried, that a stream never falls over once its first byte reached the
 * host, what the response and the call record say of each attempt), and
 * weighted splits with sticky keys (through the mock: 10,000 calls). */
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "routeutil.h"

static const char routes_yaml[] =
    "routes:\n"
    "  primary:\n"
    "    fallbacks:\n"
    "      - {provider: up-a, model: m1}\n"
    "      - {provider: up-b, model: m1, parameters: {temperature: 0.25}}\n"
    "  servers-only:\n"
    "    fallback_on: [server_error]\n"
    "    fallbacks:\n"
    "      - {provider: up-a, model: m1}\n"
    "      - {provider: up-b, model: m1}\n"
    "  ab:\n"
    "    split:\n"
    "      arms:\n"
    "        - {name: a, weight: 70, provider: mock, model: mock-1}\n"
    "        - {name: b, weight: 30, provider: mock, model: mock-small}\n"
    "  ab-user:\n"
    "    split:\n"
    "      sticky: user\n"
    "      arms:\n"
    "        - {name: a, weight: 70, provider: mock, model: mock-1}\n"
    "        - {name: b, weight: 30, provider: mock, model: mock-small}\n"
    "  ab-key:\n"
    "    split:\n"
    "      sticky: key\n"
    "      arms:\n"
    "        - {name: left, weight: 1, provider: mock, model: mock-1}\n"
    "        - {name: right, weight: 1, provider: mock, model: mock-small}\n";

static rfx f;

static void setup(void)
{
    rfx_start(&f, routes_yaml, 1); /* one retry per target */
}

static void teardown(void)
{
    rfx_stop(&f);
}

/* A 500 with no back-off wait. */
static void fail_a(int status, int times)
{
    rfx_script(&f,
               "{\"path\": \"/a/responses\", \"status\": %d, \"times\": %d,"
               " \"headers\": {\"retry-after-ms\": \"0\"}, \"fixture\": \"openai/error_%s.json\"}",
               status, times, status == 429 ? "429" : status >= 500 ? "500" : "400_unsupported_parameter");
}

static llmsvc_store *open_store(char path[TU_PATH])
{
    snprintf(path, TU_PATH, "%s/records.db", f.tmp);
    char url[TU_PATH + 8];
    snprintf(url, sizeof url, "sqlite:%s", path);
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(&st, url, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return st;
}

START_TEST(a_500_falls_over_to_the_next_target_once_its_retries_are_spent)
{
    char db[TU_PATH];
    llmsvc_store *st = open_store(db);
    llmsvc_runtime_set_records(f.rt, st);
    fail_a(500, 2);
    llmsvc_request *req = rfx_req("primary", "hello");
    llmsvc_response *resp = rfx_call_ok(f.rt, req);
    /* a: the first try and its one retry; b: one answer */
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 2);
    ck_assert_uint_eq(rfx_requests_to(&f, "/b/"), 1);
    const char *arm, *route = llmsvc_response_route(resp, &arm);
    ck_assert_str_eq(route, "primary");
    ck_assert_ptr_null(arm);
    ck_assert_str_eq(llmsvc_response_provider(resp), "up-b");
    ck_assert_uint_eq(llmsvc_response_route_attempt_count(resp), 2);
    const char *model;
    llmsvc_code code;
    ck_assert_str_eq(llmsvc_response_route_attempt(resp, 0, &model, &code), "up-a");
    ck_assert_int_eq(code, LLMSVC_E_API);
    ck_assert_str_eq(llmsvc_response_route_attempt(resp, 1, &model, &code), "up-b");
    ck_assert_int_eq(code, LLMSVC_OK);
    /* the target's parameters reached the wire */
    char *reqs = fake_upstream_requests_json(f.fu);
    tu_assert_has(reqs, "temperature\\\":0.25"); /* inside the JSON-escaped body */
    free(reqs);
    char *js = NULL;
    ck_assert_int_eq(llmsvc_response_to_json(&js, resp), LLMSVC_OK);
    tu_assert_has(js, "\"route_attempts\":[{\"provider\":\"up-a\"");
    tu_assert_has(js, "\"http_status\":500");
    llmsvc_free(js);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    llmsvc_runtime_set_records(f.rt, NULL);
    llmsvc_store_close(st);

    /* exactly one record, a success, holding both attempts */
    sqlite3 *db3;
    ck_assert_int_eq(sqlite3_open(db, &db3), SQLITE_OK);
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_prepare_v2(db3,
                                        "SELECT status, route, route_attempts, provider FROM "
                                        "llmsvc_records", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "succeeded");
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 1), "primary");
    const char *tries = (const char *)sqlite3_column_text(q, 2);
    tu_assert_has(tries, "\"up-a\"");
    tu_assert_has(tries, "\"up-b\"");
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 3), "up-b");
    ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db3);
}
END_TEST

START_TEST(a_400_does_not_fall_over)
{
    fail_a(400, 1);
    llmsvc_request *req = rfx_req("primary", "hello");
    char *msg = rfx_call_fails(f.rt, req, LLMSVC_E_API);
    tu_assert_has(msg, "route 'primary'");
    tu_assert_has(msg, "HTTP 400");
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 1);
    ck_assert_uint_eq(rfx_requests_to(&f, "/b/"), 0);
    free(msg);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_429_falls_over_unless_the_route_excludes_it)
{
    fail_a(429, 2);
    llmsvc_request *req = rfx_req("primary", "hello");
    llmsvc_response *resp = rfx_call_ok(f.rt, req);
    ck_assert_str_eq(llmsvc_response_provider(resp), "up-b");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);

    fake_upstream_reset(f.fu);
    fail_a(429, 2);
    req = rfx_req("servers-only", "hello");
    char *msg = rfx_call_fails(f.rt, req, LLMSVC_E_API);
    tu_assert_has(msg, "429");
    ck_assert_uint_eq(rfx_requests_to(&f, "/b/"), 0);
    free(msg);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_timeout_falls_over)
{
    rfx_script(&f, "{\"path\": \"/a/responses\", \"delay_ms\": 3000, \"times\": 2,"
                   " \"fixture\": \"openai/basic.json\"}");
    llmsvc_request *req = rfx_req("primary", "hello");
    ck_assert_int_eq(llmsvc_request_set_timeout_ms(req, 300), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_max_retries(req, 0), LLMSVC_OK);
    llmsvc_response *resp = rfx_call_ok(f.rt, req);
    ck_assert_str_eq(llmsvc_response_provider(resp), "up-b");
    llmsvc_code code;
    llmsvc_response_route_attempt(resp, 0, NULL, &code);
    ck_assert_int_eq(code, LLMSVC_E_TRANSPORT);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

typedef struct heard {
    size_t text_events;
} heard;

static int on_event(void *user, const llmsvc_event *ev)
{
    heard *h = user;
    if (ev->type == LLMSVC_EVENT_TEXT)
        h->text_events++;
    return 0;
}

START_TEST(a_stream_that_broke_after_its_first_byte_does_not_fall_over)
{
    rfx_script(&f, "{\"path\": \"/a/responses\", \"content_type\": \"text/event-stream\","
                   " \"fixture\": \"openai/stream_basic.sse\", \"chunk_bytes\": 64,"
                   " \"fault\": \"truncate\"}");
    llmsvc_request *req = rfx_req("primary", "hello");
    heard h = {0};
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call_stream(f.rt, req, on_event, &h, &resp, &err);
    tu_assert_code(rc, LLMSVC_E_TRANSPORT, err);
    ck_assert_uint_gt(h.text_events, 0);
    ck_assert_ptr_nonnull(resp); /* the partial text is kept */
    ck_assert_uint_gt(strlen(llmsvc_response_message(resp)), 0);
    ck_assert_uint_eq(rfx_requests_to(&f, "/b/"), 0);
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_stream_that_failed_before_its_first_byte_falls_over)
{
    fail_a(500, 2);
    rfx_script(&f, "{\"path\": \"/b/responses\", \"content_type\": \"text/event-stream\","
                   " \"fixture\": \"openai/stream_basic.sse\"}");
    llmsvc_request *req = rfx_req("primary", "hello");
    heard h = {0};
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call_stream(f.rt, req, on_event, &h, &resp, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    ck_assert_str_eq(llmsvc_response_provider(resp), "up-b");
    ck_assert_uint_gt(h.text_events, 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* no limit is declared for up-a here: a 429's retry-after still holds the
 * next call to that model and key back */
START_TEST(a_429s_retry_after_holds_calls_back_without_a_limit)
{
    rfx_script(&f, "{\"path\": \"/a/responses\", \"status\": 429,"
                   " \"headers\": {\"retry-after-ms\": \"600\"},"
                   " \"fixture\": \"openai/error_429.json\"}");
    llmsvc_request *req = rfx_req(NULL, "hello");
    ck_assert_int_eq(llmsvc_request_set_max_retries(req, 0), LLMSVC_OK);
    free(rfx_call_fails(f.rt, req, LLMSVC_E_API));
    llmsvc_response_free(rfx_call_ok(f.rt, req));
    size_t n;
    double *at = rfx_arrivals(&f, "/a/", &n);
    ck_assert_uint_eq(n, 2);
    double gap = at[1] - at[0];
    free(at);
    ck_assert_msg(gap >= 550, "the next call went %.0f ms after the 429", gap);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_unknown_route_names_the_routes)
{
    llmsvc_request *req = rfx_req("primray", "hello");
    char *msg = rfx_call_fails(f.rt, req, LLMSVC_E_VALIDATION);
    tu_assert_has(msg, "unknown route 'primray'");
    tu_assert_has(msg, "primary");
    free(msg);
    llmsvc_request_free(req);
    ck_assert_uint_eq(fake_upstream_request_count(f.fu), 0);
}
END_TEST

static const char *arm_of(llmsvc_runtime *rt, const llmsvc_request *req)
{
    llmsvc_response *resp = rfx_call_ok(rt, req);
    const char *arm;
    llmsvc_response_route(resp, &arm);
    ck_assert_ptr_nonnull(arm);
    const char *which = !strcmp(arm, "a") ? "a" : !strcmp(arm, "b") ? "b"
                        : !strcmp(arm, "left") ? "left" : "right";
    /* the arm's model answered */
    ck_assert_str_eq(llmsvc_response_model(resp),
                     which[0] == 'a' || which[0] == 'l' ? "mock-1" : "mock-small");
    llmsvc_response_free(resp);
    return which;
}

START_TEST(a_70_30_split_lands_within_two_points_over_10000_calls)
{
    llmsvc_request *req = rfx_req("ab", "hi");
    int a = 0;
    for (int i = 0; i < 10000; i++)
        a += arm_of(f.rt, req)[0] == 'a';
    ck_assert_msg(a >= 6800 && a <= 7200, "arm a served %d of 10000 calls", a);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_sticky_user_keeps_one_arm_and_users_split_by_weight)
{
    int users_on_a = 0;
    for (int u = 0; u < 2000; u++) {
        char user[32];
        snprintf(user, sizeof user, "user-%d", u);
        llmsvc_request *req = rfx_req("ab-user", "hi");
        ck_assert_int_eq(llmsvc_request_set_user(req, user), LLMSVC_OK);
        const char *first = arm_of(f.rt, req);
        for (int k = 0; k < 4; k++)
            ck_assert_str_eq(arm_of(f.rt, req), first);
        users_on_a += first[0] == 'a';
        llmsvc_request_free(req);
    }
    /* 2,000 users: the share is 70% within 4 points (over 4 standard deviations) */
    ck_assert_msg(users_on_a >= 1320 && users_on_a <= 1480, "%d of 2000 users on a",
                  users_on_a);
}
END_TEST

START_TEST(a_sticky_key_survives_a_new_runtime)
{
    /* the arm is a function of the key and the weights, not of the process */
    const char *seen[50];
    for (int k = 0; k < 50; k++) {
        char key[32];
        snprintf(key, sizeof key, "tenant-%d", k);
        llmsvc_request *req = rfx_req("ab-key", "hi");
        ck_assert_int_eq(llmsvc_request_set_sticky_key(req, key), LLMSVC_OK);
        seen[k] = arm_of(f.rt, req);
        llmsvc_request_free(req);
    }
    llmsvc_runtime *other = rfx_open(&f, 0, 0);
    int left = 0;
    for (int k = 0; k < 50; k++) {
        char key[32];
        snprintf(key, sizeof key, "tenant-%d", k);
        llmsvc_request *req = rfx_req("ab-key", "hi");
        ck_assert_int_eq(llmsvc_request_set_sticky_key(req, key), LLMSVC_OK);
        ck_assert_str_eq(arm_of(other, req), seen[k]);
        left += seen[k][0] == 'l';
        llmsvc_request_free(req);
    }
    ck_assert_msg(left > 10 && left < 40, "%d of 50 keys went left", left);
    llmsvc_runtime_close(other);
}
END_TEST

START_TEST(records_compare_the_arms)
{
    char db[TU_PATH];
    llmsvc_store *st = open_store(db);
    llmsvc_runtime_set_records(f.rt, st);
    llmsvc_request *req = rfx_req("ab", "hi");
    int a = 0;
    for (int i = 0; i < 200; i++)
        a += arm_of(f.rt, req)[0] == 'a';
    llmsvc_records_filter flt = LLMSVC_RECORDS_FILTER_INIT;
    flt.group_by = "variant";
    char *js = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_records_summary(st, &flt, &js, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *rows = json_tokener_parse(js);
    ck_assert_int_eq((int)json_object_array_length(rows), 2);
    for (size_t i = 0; i < 2; i++) {
        json_object *r = json_object_array_get_idx(rows, i);
        const char *arm = json_object_get_string(json_object_object_get(r, "arm"));
        int calls = json_object_get_int(json_object_object_get(r, "calls"));
        ck_assert_str_eq(json_object_get_string(json_object_object_get(r, "route")), "ab");
        ck_assert_int_eq(calls, arm[0] == 'a' ? a : 200 - a);
        ck_assert(json_object_object_get(r, "latency_ms_p95") != NULL);
    }
    json_object_put(rows);
    llmsvc_free(js);
    llmsvc_request_free(req);
    llmsvc_runtime_set_records(f.rt, NULL);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(a_job_through_a_route_falls_over_and_its_record_keeps_the_attempts)
{
    char db[TU_PATH];
    llmsvc_store *st = open_store(db);
    fail_a(500, 2);
    llmsvc_request *req = rfx_req("primary", "hello");
    llmsvc_request *bad = rfx_req("primary", "hello again");
    ck_assert_int_eq(llmsvc_request_set_max_retries(bad, 0), LLMSVC_OK);
    llmsvc_job_options jo = LLMSVC_JOB_OPTIONS_INIT;
    jo.max_attempts = 1;
    char *ok_id = NULL, *bad_id = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_job_submit(st, req, &jo, &ok_id, &err), LLMSVC_OK, err);
    llmsvc_worker *w = NULL;
    llmsvc_worker_options wo = LLMSVC_WORKER_OPTIONS_INIT;
    wo.concurrency = 1;
    wo.poll_ms = 50;
    tu_assert_code(llmsvc_worker_start(&w, f.rt, st, &wo, &err), LLMSVC_OK, err);
    char *js = NULL;
    tu_assert_code(llmsvc_job_wait(st, ok_id, 10000, &js, &err), LLMSVC_OK, err);
    tu_assert_has(js, "\"state\":\"succeeded\"");
    tu_assert_has(js, "\"route\":\"primary\"");
    llmsvc_free(js);
    /* a job whose target answers 400 does not fall over: it fails, its attempt recorded */
    fail_a(400, 1);
    tu_assert_code(llmsvc_job_submit(st, bad, &jo, &bad_id, &err), LLMSVC_OK, err);
    tu_assert_code(llmsvc_job_wait(st, bad_id, 10000, &js, &err), LLMSVC_OK, err);
    tu_assert_has(js, "\"state\":\"failed\"");
    llmsvc_free(js);
    llmsvc_worker_stop(w, 1000);

    sqlite3 *db3;
    ck_assert_int_eq(sqlite3_open(db, &db3), SQLITE_OK);
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_prepare_v2(db3,
                                        "SELECT status, route, route_attempts FROM llmsvc_records"
                                        " ORDER BY created_at", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "succeeded");
    tu_assert_has((const char *)sqlite3_column_text(q, 2), "\"up-b\"");
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "failed");
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 1), "primary");
    tu_assert_has((const char *)sqlite3_column_text(q, 2), "\"http_status\":400");
    ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db3);
    llmsvc_free(ok_id);
    llmsvc_free(bad_id);
    llmsvc_request_free(req);
    llmsvc_request_free(bad);
    llmsvc_store_close(st);
}
END_TEST

/* ---- the routes file itself ---- */

static char *check_cli(const char *path, int *status)
{
    char cmd[2 * TU_PATH], out[TU_PATH], tmp[TU_PATH];
    tu_mkdtemp(tmp);
    snprintf(out, sizeof out, "%s/out.txt", tmp);
    snprintf(cmd, sizeof cmd, "%s specs check %s >%s 2>&1", LLMSVC_CLI, path, out);
    *status = WEXITSTATUS(system(cmd));
    char *text = tu_slurp(out);
    tu_rm_rf(tmp);
    return text;
}

START_TEST(specs_check_reads_a_routes_file_against_the_installed_specs)
{
    int status;
    char *out = check_cli(TEST_SRC_DIR "/specs/routes/example.yaml", &status);
    ck_assert_msg(status == 0, "%s", out);
    tu_assert_has(out, "2 routes, 2 limits, 2 budgets: no problems");
    free(out);
}
END_TEST

START_TEST(every_problem_of_a_routes_file_is_reported_where_it_is)
{
    char tmp[TU_PATH], path[TU_PATH];
    tu_mkdtemp(tmp);
    tu_write(path, tmp, "routes.yaml",
             "routes:\n"
             "  one:\n"
             "    cache_tll: 3\n"
             "    fallbacks: [{provider: openai, model: gpt-6.2-sol}]\n"
             "  two:\n"
             "    fallbacks: [{provider: openai, model: gpt-9}]\n"
             "  three:\n"
             "    split: {sticky: tenant, arms: [{name: a, weight: 1, provider: mock, model: mock-1}]}\n"
             "limits:\n"
             "  - {provider: openai, requests_per_minute: 10, requests_per_second: 1}\n"
             "budgets:\n"
             "  - {project: p, organization: o, daily_usd: 1}\n");
    int status;
    char *out = check_cli(path, &status);
    ck_assert_int_eq(status, 6);
    char where[TU_PATH + 64];
    tu_where(where, path, "cache_tll", 1);
    tu_assert_has(out, where);
    tu_assert_has(out, "did you mean 'cache_ttl'?");
    tu_where(where, path, "sticky", 1);
    tu_assert_has(out, "sticky must be user, project, key or none");
    tu_assert_has(out, "not both");
    tu_assert_has(out, "exactly one of project and organization");
    free(out);
    /* a target naming no model: once the file parses */
    tu_write(path, tmp, "routes.yaml",
             "routes:\n  two:\n    fallbacks: [{provider: openai, model: gpt-9}]\n");
    out = check_cli(path, &status);
    ck_assert_int_eq(status, 6);
    tu_assert_has(out, "route 'two' names model 'gpt-9' of provider 'openai', which no spec "
                       "defines");
    free(out);
    tu_rm_rf(tmp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("routing");
    TCase *tc = tu_tcase("routing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_500_falls_over_to_the_next_target_once_its_retries_are_spent);
    tcase_add_test(tc, a_400_does_not_fall_over);
    tcase_add_test(tc, a_429_falls_over_unless_the_route_excludes_it);
    tcase_add_test(tc, a_timeout_falls_over);
    tcase_add_test(tc, a_stream_that_broke_after_its_first_byte_does_not_fall_over);
    tcase_add_test(tc, a_stream_that_failed_before_its_first_byte_falls_over);
    tcase_add_test(tc, a_429s_retry_after_holds_calls_back_without_a_limit);
    tcase_add_test(tc, an_unknown_route_names_the_routes);
    tcase_add_test(tc, a_70_30_split_lands_within_two_points_over_10000_calls);
    tcase_add_test(tc, a_sticky_user_keeps_one_arm_and_users_split_by_weight);
    tcase_add_test(tc, a_sticky_key_survives_a_new_runtime);
    tcase_add_test(tc, records_compare_the_arms);
    tcase_add_test(tc, a_job_through_a_route_falls_over_and_its_record_keeps_the_attempts);
    suite_add_tcase(s, tc);
    TCase *files = tu_tcase("routes files");
    tcase_add_test(files, specs_check_reads_a_routes_file_against_the_installed_specs);
    tcase_add_test(files, every_problem_of_a_routes_file_is_reported_where_it_is);
    suite_add_tcase(s, files);
    return tu_run_suite(s);
}
