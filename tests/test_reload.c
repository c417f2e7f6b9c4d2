/* test_reload — llmsvc_runtime_reload_specs: an atomic swap of the specs while
 * threads keep calling. Calls in flight finish on the specs they started with,
 * new calls see the new ones, a bad edit keeps the old specs and says where. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char plugins[TU_PATH], specs[TU_PATH], spec_file[TU_PATH];
static llmsvc_runtime *rt;

/* A spec whose price tells which version served a call: input = output = price. */
static void write_spec(const char *model, double price)
{
    char text[1024];
    snprintf(text, sizeof text,
             "provider: reloadco\n"
             "api: mock\n"
             "models:\n"
             "  - name: %s\n"
             "    parameters:\n"
             "      max_tokens: {type: int, min: 1, max: 1000}\n"
             "    pricing: {input_per_mtok: %g, output_per_mtok: %g}\n",
             model, price, price);
    /* write then rename: a reload never reads a half-written file */
    char tmp[TU_PATH];
    tu_write(tmp, specs, "r.yaml.tmp", text);
    ck_assert_int_eq(rename(tmp, spec_file), 0);
}

static void setup(void)
{
    tu_mkdtemp(plugins);
    tu_install_mock(plugins);
    tu_mkdtemp(specs);
    snprintf(spec_file, sizeof spec_file, "%s/r.yaml", specs);
    write_spec("r-1", 1.0);
    llmsvc_options o;
    tu_options(&o, plugins, specs, NULL);
    rt = tu_open(&o);
}

static void teardown(void)
{
    llmsvc_runtime_close(rt);
    tu_rm_rf(plugins);
    tu_rm_rf(specs);
}

/* The price per 1M tokens that served resp (cost / tokens x 1e6). */
static double price_of(const llmsvc_response *resp)
{
    double tokens = (double)llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL);
    return llmsvc_response_cost_usd(resp) / tokens * 1e6;
}

static int near(double a, double b)
{
    return a > b * 0.999 && a < b * 1.001;
}

typedef struct caller {
    atomic_int *stop;
    long calls, bad;
    double prices_seen[4];
} caller;

static void *call_loop(void *arg)
{
    caller *c = arg;
    llmsvc_request *req = tu_request("reloadco", "r-1", "a prompt of a few tokens");
    while (!atomic_load(c->stop)) {
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        if (llmsvc_call(rt, req, &resp, &err) != LLMSVC_OK) {
            c->bad++;
            llmsvc_error_free(err);
            continue;
        }
        double p = price_of(resp);
        int known = 0;
        for (int i = 0; i < 3; i++)
            known |= near(p, (double)(i + 1));
        if (!known)
            c->bad++;
        for (int i = 0; i < 3; i++)
            if (near(p, (double)(i + 1)))
                c->prices_seen[i] = 1;
        c->calls++;
        llmsvc_response_free(resp);
    }
    llmsvc_request_free(req);
    return NULL;
}

static double one_call_price(void)
{
    llmsvc_request *req = tu_request("reloadco", "r-1", "a prompt of a few tokens");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_call(rt, req, &resp, &err), LLMSVC_OK, err);
    double p = price_of(resp);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    return p;
}

START_TEST(reload_under_eight_calling_threads_with_a_bad_edit_in_between)
{
    atomic_int stop = 0;
    caller callers[8];
    pthread_t t[8];
    memset(callers, 0, sizeof callers);
    for (int i = 0; i < 8; i++) {
        callers[i].stop = &stop;
        ck_assert_int_eq(pthread_create(&t[i], NULL, call_loop, &callers[i]), 0);
    }
    llmsvc_error *err = NULL;
    for (int round = 0; round < 20; round++) {
        /* a good edit: the new price from the next call on */
        write_spec("r-1", 2.0 + (round % 2));
        tu_assert_code(llmsvc_runtime_reload_specs(rt, &err), LLMSVC_OK, err);
        ck_assert(near(one_call_price(), 2.0 + (round % 2)));
        /* a bad edit: refused with file:line:col, the old specs stay */
        tu_write(NULL, specs, "r.yaml", "provider: reloadco\napi: mock\nmodels:\n  - name: r-1\n"
                                        "    pricing: {input_per_mtok: 1, outptu_per_mtok: 1}\n");
        ck_assert_int_eq(llmsvc_runtime_reload_specs(rt, &err), LLMSVC_E_CONFIG);
        tu_assert_has(llmsvc_error_message(err), "r.yaml:5:");
        tu_assert_has(llmsvc_error_message(err), "did you mean 'output_per_mtok'");
        llmsvc_error_free(err);
        err = NULL;
        ck_assert(near(one_call_price(), 2.0 + (round % 2)));
        usleep(2000);
    }
    atomic_store(&stop, 1);
    long calls = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(callers[i].bad == 0, "thread %d: %ld calls failed or were priced wrong", i,
                      callers[i].bad);
        calls += callers[i].calls;
    }
    ck_assert_int_gt(calls, 200);
}
END_TEST

typedef struct slow {
    llmsvc_response *resp;
    llmsvc_code code;
} slow;

static void *slow_call(void *arg)
{
    slow *s = arg;
    llmsvc_request *req = tu_request("reloadco", "r-1", "slow");
    llmsvc_error *err = NULL;
    llmsvc_request_set_provider_options(req, "{\"latency_ms\": 300}", &err);
    s->code = llmsvc_call(rt, req, &s->resp, &err);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    return NULL;
}

START_TEST(a_call_in_flight_finishes_on_the_specs_it_started_with)
{
    slow s = {NULL, LLMSVC_E_CANCELLED};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, slow_call, &s), 0);
    usleep(100000); /* the call is in the mock's simulated latency */
    /* the model it uses disappears: renamed */
    write_spec("r-2", 3.0);
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_runtime_reload_specs(rt, &err), LLMSVC_OK, err);
    pthread_join(t, NULL);
    ck_assert_int_eq(s.code, LLMSVC_OK);
    ck_assert(near(price_of(s.resp), 1.0)); /* priced by the specs it started on */
    llmsvc_response_free(s.resp);
    /* new calls see the new specs: r-1 is gone */
    llmsvc_request *req = tu_request("reloadco", "r-1", "x");
    llmsvc_response *resp = NULL;
    ck_assert_int_eq(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_UNKNOWN_MODEL);
    tu_assert_has(llmsvc_error_message(err), "did you mean 'r-2'");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

static Suite *reload_suite(void)
{
    Suite *s = suite_create("reload");
    TCase *tc = tu_tcase("reload");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, reload_under_eight_calling_threads_with_a_bad_edit_in_between);
    tcase_add_test(tc, a_call_in_flight_finishes_on_the_specs_it_started_with);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(reload_suite());
}
