/* test_budget — spending budgets over loopback HTTP (each answer of up-a
 * costs $0.036): a daily project budget and a monthly organization budget
 * refuse the call that finds them spent, naming the budget and the spend;
 * with a store the spend is the records', so a new runtime sees it; and 8
 * threads racing overshoot by at most the calls in flight. */
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "routeutil.h"

#define CALL_COST 0.036

static const char routes_yaml[] =
    "budgets:\n"
    "  - {project: acme, daily_usd: 0.1}\n"
    "  - {organization: org-1, monthly_usd: 0.05}\n"
    "  - {project: race, daily_usd: 0.5}\n";

static rfx f;

static void setup(void)
{
    rfx_start(&f, routes_yaml, 0);
}

static void teardown(void)
{
    rfx_stop(&f);
}

static llmsvc_request *for_project(const char *project, const char *org)
{
    llmsvc_request *req = rfx_req(NULL, "hello");
    ck_assert_int_eq(llmsvc_request_set_project(req, project, org), LLMSVC_OK);
    return req;
}

START_TEST(a_spent_daily_budget_refuses_the_next_call_and_says_why)
{
    llmsvc_request *req = for_project("acme", NULL);
    for (int i = 0; i < 3; i++) /* $0, $0.036, $0.072 spent: under $0.10 */
        llmsvc_response_free(rfx_call_ok(f.rt, req));
    char *msg = rfx_call_fails(f.rt, req, LLMSVC_E_BUDGET_EXCEEDED);
    tu_assert_has(msg, "daily budget of project 'acme' exhausted: $0.1080 spent this day (UTC) "
                       "of $0.1000");
    tu_assert_has(msg, "routes.yaml:2:5");
    free(msg);
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 3);
    /* other projects and calls without one are not concerned */
    llmsvc_request *other = for_project("globex", NULL), *none = rfx_req(NULL, "hello");
    llmsvc_response_free(rfx_call_ok(f.rt, other));
    llmsvc_response_free(rfx_call_ok(f.rt, none));
    llmsvc_request_free(other);
    llmsvc_request_free(none);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_monthly_organization_budget_counts_every_project_of_it)
{
    llmsvc_request *p1 = for_project("p1", "org-1"), *p2 = for_project("p2", "org-1");
    llmsvc_response_free(rfx_call_ok(f.rt, p1));
    llmsvc_response_free(rfx_call_ok(f.rt, p2)); /* $0.072 spent by org-1 */
    char *msg = rfx_call_fails(f.rt, p1, LLMSVC_E_BUDGET_EXCEEDED);
    tu_assert_has(msg, "monthly budget of organization 'org-1' exhausted: $0.0720 spent this "
                       "month (UTC) of $0.0500");
    free(msg);
    llmsvc_request_free(p1);
    llmsvc_request_free(p2);
}
END_TEST

START_TEST(with_a_store_the_spend_is_the_records_and_outlives_the_runtime)
{
    char url[TU_PATH + 16];
    snprintf(url, sizeof url, "sqlite:%s/records.db", f.tmp);
    llmsvc_store *st = NULL;
    ck_assert_int_eq(llmsvc_store_open(&st, url, NULL), LLMSVC_OK);
    llmsvc_runtime_set_records(f.rt, st);
    llmsvc_request *req = for_project("acme", NULL);
    for (int i = 0; i < 3; i++)
        llmsvc_response_free(rfx_call_ok(f.rt, req));
    free(rfx_call_fails(f.rt, req, LLMSVC_E_BUDGET_EXCEEDED));
    llmsvc_runtime_set_records(f.rt, NULL);
    /* a new runtime on the same store: refused at once */
    llmsvc_runtime *other = rfx_open(&f, 0, 0);
    llmsvc_runtime_set_records(other, st);
    free(rfx_call_fails(other, req, LLMSVC_E_BUDGET_EXCEEDED));
    llmsvc_runtime_set_records(other, NULL);
    llmsvc_runtime_close(other);
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), 3);
    /* and the CLI, another process, exits 7 */
    char cmd[3 * TU_PATH];
    snprintf(cmd, sizeof cmd,
             "%s call --plugin-path %s --spec-path %s --store %s --project acme "
             "--provider up-a --model m1 hi >/dev/null 2>&1",
             LLMSVC_CLI, f.plugins, f.specs, url);
    int status = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(status), 7);
    llmsvc_request_free(req);
    llmsvc_store_close(st);
}
END_TEST

typedef struct racer {
    llmsvc_runtime *rt;
    int ok, refused, other;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    llmsvc_request *req = for_project("race", NULL);
    for (int i = 0; i < 12; i++) {
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_call(r->rt, req, &resp, &err);
        if (rc == LLMSVC_OK)
            r->ok++;
        else if (rc == LLMSVC_E_BUDGET_EXCEEDED)
            r->refused++;
        else
            r->other++;
        llmsvc_response_free(resp);
        llmsvc_error_free(err);
    }
    llmsvc_request_free(req);
    return NULL;
}

/* 8 threads, 96 calls, a $0.50 budget: at most 8 calls can be in flight when
 * it runs out, so the spend stays under $0.50 + 8 × $0.036. */
static void race_8_threads(llmsvc_runtime *rt)
{
    rfx_script(&f, "{\"path\": \"/a/responses\", \"delay_ms\": 20, \"times\": -1,"
                   " \"fixture\": \"openai/basic.json\"}");
    racer r[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (racer){rt, 0, 0, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(r[i].other, 0);
        ok += r[i].ok;
        refused += r[i].refused;
    }
    double spent = ok * CALL_COST;
    ck_assert_msg(spent >= 0.5, "only $%.3f spent before refusing", spent);
    ck_assert_msg(spent <= 0.5 + 8 * CALL_COST + 1e-9, "$%.3f spent, over the bound", spent);
    ck_assert_int_eq(ok + refused, 96);
    ck_assert_uint_eq(rfx_requests_to(&f, "/a/"), (size_t)ok);
}

START_TEST(eight_threads_racing_overshoot_by_at_most_the_calls_in_flight)
{
    race_8_threads(f.rt);
}
END_TEST

START_TEST(eight_threads_racing_on_a_store_overshoot_by_at_most_the_calls_in_flight)
{
    char url[TU_PATH + 16];
    snprintf(url, sizeof url, "sqlite:%s/race.db", f.tmp);
    llmsvc_store *st = NULL;
    ck_assert_int_eq(llmsvc_store_open(&st, url, NULL), LLMSVC_OK);
    llmsvc_runtime_set_records(f.rt, st);
    race_8_threads(f.rt);
    /* the records hold the same spend */
    llmsvc_records_filter flt = LLMSVC_RECORDS_FILTER_INIT;
    flt.project_id = "race";
    char *js = NULL;
    ck_assert_int_eq(llmsvc_records_summary(st, &flt, &js, NULL), LLMSVC_OK);
    json_object *rows = json_tokener_parse(js);
    double cost = json_object_get_double(
        json_object_object_get(json_object_array_get_idx(rows, 0), "cost_usd"));
    ck_assert_msg(cost <= 0.5 + 8 * CALL_COST + 1e-9, "recorded $%.3f", cost);
    json_object_put(rows);
    llmsvc_free(js);
    llmsvc_runtime_set_records(f.rt, NULL);
    llmsvc_store_close(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tu_tcase("budget");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_spent_daily_budget_refuses_the_next_call_and_says_why);
    tcase_add_test(tc, a_monthly_organization_budget_counts_every_project_of_it);
    tcase_add_test(tc, with_a_store_the_spend_is_the_records_and_outlives_the_runtime);
    tcase_add_test(tc, eight_threads_racing_overshoot_by_at_most_the_calls_in_flight);
    tcase_add_test(tc, eight_threads_racing_on_a_store_overshoot_by_at_most_the_calls_in_flight);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
