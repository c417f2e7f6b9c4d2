/* test_call_mock — llmsvc_call end to end through the real mock plugin and
 * the shipped specs/mock.yaml: the echo, token counts, cost from the spec's
 * prices, the provider_options script (errors, retries, latency), the JSON of
 * a response, and one runtime shared by 8 threads. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry.h"
#include "runtime.h"
#include "testutil.h"

#define MOCK_SPEC PROJECT_SRC_DIR "/specs/mock.yaml"

static char plugins[TU_PATH];
static llmsvc_runtime *rt;

static void setup(void)
{
    tu_mkdtemp(plugins);
    tu_install_mock(plugins);
    llmsvc_options o;
    tu_options(&o, plugins, MOCK_SPEC, NULL);
    rt = tu_open(&o);
    ck_assert_ptr_null(llmsvc_runtime_spec_problems(rt));
}

static void teardown(void)
{
    llmsvc_runtime_close(rt);
    rt = NULL;
    tu_rm_rf(plugins);
}

static llmsvc_request *scripted(const char *model, const char *prompt, const char *options,
                                int retries)
{
    llmsvc_request *req = tu_request("mock", model, prompt);
    if (options) {
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_request_set_provider_options(req, options, &err);
        tu_assert_code(rc, LLMSVC_OK, err);
    }
    if (retries >= 0)
        ck_assert_int_eq(llmsvc_request_set_max_retries(req, retries), LLMSVC_OK);
    return req;
}

static llmsvc_response *call_ok(llmsvc_request *req)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    ck_assert_ptr_nonnull(resp);
    return resp;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The mock's documented arithmetic: about 4 bytes a token, plus 8 template
 * tokens of input. */
static int64_t toks(size_t bytes)
{
    return (int64_t)((bytes + 3) / 4);
}

/* ---- the echo ---- */

START_TEST(echoes_the_prompt_deterministically)
{
    llmsvc_request *req = tu_request("mock", "mock-1", "Say hello to the tests.");
    llmsvc_response *a = call_ok(req), *b = call_ok(req);
    ck_assert_str_eq(llmsvc_response_message(a), "Say hello to the tests.");
    ck_assert_str_eq(llmsvc_response_finish_reason(a), "stop");
    ck_assert_str_eq(llmsvc_response_provider(a), "mock");
    ck_assert_str_eq(llmsvc_response_model(a), "mock-1");
    ck_assert_int_eq(llmsvc_response_attempts(a), 1);
    ck_assert_ptr_null(llmsvc_response_reasoning(a));
    ck_assert_uint_eq(llmsvc_response_file_result_count(a), 0);
    ck_assert_str_eq(llmsvc_response_id(a), llmsvc_response_id(b));
    ck_assert_str_eq(llmsvc_response_message(a), llmsvc_response_message(b));
    tu_assert_has(llmsvc_response_id(a), "mock-");
    llmsvc_request_set_prompt(req, "Say goodbye.");
    llmsvc_response *c = call_ok(req);
    ck_assert_str_ne(llmsvc_response_id(a), llmsvc_response_id(c));
    llmsvc_response_free(a);
    llmsvc_response_free(b);
    llmsvc_response_free(c);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_alias_resolves_to_its_model)
{
    llmsvc_request *req = tu_request("mock", "mock-latest", "hi");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_model(resp), "mock-1");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(counts_tokens_of_prompt_instructions_and_answer)
{
    const char *prompt = "The quick brown fox jumps over the lazy dog"; /* 43 bytes */
    const char *instr = "Answer in French.";                            /* 17 bytes */
    llmsvc_request *req = tu_request("mock", "mock-1", prompt);
    llmsvc_request_set_instructions(req, instr);
    llmsvc_response *resp = call_ok(req);
    int64_t in = llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT);
    int64_t out = llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT);
    ck_assert_int_eq(in, toks(43 + 17) + 8);
    ck_assert_int_eq(out, toks(43));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL), in + out);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING), 0);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT), 0);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHE_WRITE), -1);
    ck_assert_int_eq(llmsvc_response_tokens(resp, (llmsvc_token_kind)42), -1);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* cost = (input - cached) x input price + cached x cached price + output x
 * output price, per 1M tokens (specs/README.md, "Prices"). */
static double expected_cost(const char *model, const llmsvc_response *r)
{
    const model_spec *m = registry_model(&atomic_load(&rt->specs.current)->reg, "mock", model);
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(m->price.input > 0 && m->price.output > 0, "mock.yaml prices %s", model);
    int64_t in = llmsvc_response_tokens(r, LLMSVC_TOKENS_INPUT);
    int64_t cached = llmsvc_response_tokens(r, LLMSVC_TOKENS_CACHED_INPUT);
    int64_t out = llmsvc_response_tokens(r, LLMSVC_TOKENS_OUTPUT);
    if (cached < 0)
        cached = 0;
    double cached_price = m->price.cached_input >= 0 ? m->price.cached_input : m->price.input;
    return ((double)(in - cached) * m->price.input + (double)cached * cached_price +
            (double)out * m->price.output) /
           1e6;
}

START_TEST(cost_is_usage_times_the_specs_prices)
{
    static const char *const models[] = {"mock-1", "mock-reasoning", "mock-small"};
    for (size_t i = 0; i < 3; i++) {
        llmsvc_request *req = tu_request("mock", models[i], "How much does this call cost me?");
        llmsvc_response *resp = call_ok(req);
        double want = expected_cost(models[i], resp), got = llmsvc_response_cost_usd(resp);
        ck_assert_msg(want > 0 && fabs(got - want) <= 1e-12 * want, "%s: cost %.12g, want %.12g",
                      models[i], got, want);
        llmsvc_response_free(resp);
        llmsvc_request_free(req);
    }
    /* reasoning tokens are billed as output: more effort, more cost */
    llmsvc_request *req = tu_request("mock", "mock-reasoning", "How much does this call cost me?");
    llmsvc_request_set_string(req, "reasoning_effort", "low");
    llmsvc_response *low = call_ok(req);
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    llmsvc_response *high = call_ok(req);
    ck_assert_int_gt(llmsvc_response_tokens(high, LLMSVC_TOKENS_REASONING),
                     llmsvc_response_tokens(low, LLMSVC_TOKENS_REASONING));
    ck_assert(llmsvc_response_cost_usd(high) > llmsvc_response_cost_usd(low));
    double want = expected_cost("mock-reasoning", high);
    ck_assert(fabs(llmsvc_response_cost_usd(high) - want) <= 1e-12 * want);
    llmsvc_response_free(low);
    llmsvc_response_free(high);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(file_search_returns_results_for_a_vector_store)
{
    llmsvc_request *req = tu_request("mock", "mock-1", "renewal terms");
    llmsvc_request_set_vector_store(req, "vs_contracts", 4);
    llmsvc_response *resp = call_ok(req);
    ck_assert_uint_eq(llmsvc_response_file_result_count(resp), 4);
    double last = 2;
    for (size_t i = 0; i < 4; i++) {
        const llmsvc_file_result *f = llmsvc_response_file_result(resp, i);
        ck_assert_ptr_nonnull(f);
        ck_assert(*f->file_id && *f->filename);
        tu_assert_has(f->text, "renewal terms");
        tu_assert_has(f->text, "vs_contracts");
        ck_assert(f->score < last);
        last = f->score;
    }
    ck_assert_ptr_null(llmsvc_response_file_result(resp, 4));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ---- the script ---- */

START_TEST(the_script_replies_and_takes_its_time)
{
    llmsvc_request *req = scripted("mock-1", "ignored",
                                   "{\"reply\": \"scripted answer\", "
                                   "\"latency_ms\": 60, "
                                   "\"finish_reason\": \"content_filter\"}",
                                   -1);
    double t0 = now_ms();
    llmsvc_response *resp = call_ok(req);
    double wall = now_ms() - t0;
    ck_assert_str_eq(llmsvc_response_message(resp), "scripted answer");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "content_filter");
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT), toks(15));
    ck_assert_msg(llmsvc_response_latency_ms(resp) >= 60, "latency %g ms",
                  llmsvc_response_latency_ms(resp));
    ck_assert(llmsvc_response_latency_ms(resp) <= wall + 1);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

typedef struct error_class {
    const char *kind;
    llmsvc_code code;
    int status;
    int retryable;
    const char *provider_type;
    const char *says;
} error_class;

static const error_class error_classes[] = {
    {"validation", LLMSVC_E_API, 400, 0, "invalid_request_error", "invalid request"},
    {"auth", LLMSVC_E_API, 401, 0, "authentication_error", "invalid API key"},
    {"not_found", LLMSVC_E_API, 404, 0, "not_found_error", "model not found"},
    {"rate_limit", LLMSVC_E_API, 429, 1, "rate_limit_error", "rate limit"},
    {"server", LLMSVC_E_API, 500, 1, "server_error", "internal server error"},
    {"overloaded", LLMSVC_E_API, 529, 1, "overloaded_error", "overloaded"},
    {"timeout", LLMSVC_E_TRANSPORT, 0, 1, NULL, "timeout"},
    {"transport", LLMSVC_E_TRANSPORT, 0, 1, NULL, "connection reset"},
    {"malformed", LLMSVC_E_PROVIDER, 0, 0, NULL, "malformed response"},
};

START_TEST(each_scripted_error_class_maps_to_its_code_status_and_retryability)
{
    const error_class *c = &error_classes[_i];
    char opts[128];
    snprintf(opts, sizeof opts, "{\"error\": \"%s\", \"retry_after_ms\": 7}", c->kind);
    llmsvc_request *req = scripted("mock-1", "hi", opts, 0);
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    ck_assert_msg(rc == c->code, "%s: got %s", c->kind, llmsvc_code_name(rc));
    ck_assert_ptr_null(resp);
    ck_assert_int_eq(llmsvc_error_code(err), c->code);
    ck_assert_int_eq(llmsvc_error_http_status(err), c->status);
    ck_assert_msg(llmsvc_error_retryable(err) == c->retryable, "%s: retryable %d", c->kind,
                  llmsvc_error_retryable(err));
    if (c->provider_type)
        ck_assert_str_eq(llmsvc_error_provider_type(err), c->provider_type);
    tu_assert_has(llmsvc_error_message(err), c->says);
    tu_assert_lacks(llmsvc_error_message(err), "after "); /* one attempt */
    long ra = llmsvc_error_retry_after_ms(err);
    if (c->status == 429 || c->status == 529)
        ck_assert_int_eq(ra, 7);
    else
        ck_assert_int_eq(ra, -1);
    char *js = NULL;
    ck_assert_int_eq(llmsvc_error_to_json(&js, err), LLMSVC_OK);
    json_object *o = json_tokener_parse(js), *v;
    ck_assert(json_object_object_get_ex(o, "code", &v));
    ck_assert_str_eq(json_object_get_string(v), llmsvc_code_name(c->code));
    ck_assert(json_object_object_get_ex(o, "retryable", &v));
    ck_assert_int_eq(json_object_get_boolean(v), c->retryable);
    if (c->status) {
        ck_assert(json_object_object_get_ex(o, "http_status", &v));
        ck_assert_int_eq(json_object_get_int(v), c->status);
    }
    json_object_put(o);
    llmsvc_free(js);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_unknown_scripted_error_class_is_a_validation_error)
{
    llmsvc_request *req = scripted("mock-1", "hi", "{\"error\": \"bogus\"}", 0);
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_VALIDATION, err);
    tu_assert_has(llmsvc_error_message(err), "unknown error class 'bogus'");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_rate_limited_call_is_retried_until_it_succeeds)
{
    llmsvc_request *req =
        scripted("mock-1", "persist",
                 "{\"error\": \"rate_limit\", \"fail_times\": 3, \"retry_after_ms\": 1}", 3);
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 4);
    ck_assert_str_eq(llmsvc_response_message(resp), "persist");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_transport_failure_is_retried_after_the_cores_back_off)
{
    llmsvc_request *req =
        scripted("mock-1", "again", "{\"error\": \"transport\", \"fail_times\": 1}", 2);
    double t0 = now_ms();
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    /* the first back-off is 500 ms less up to 25% of jitter */
    ck_assert_msg(now_ms() - t0 >= 370, "retried after %g ms", now_ms() - t0);
    ck_assert(llmsvc_response_latency_ms(resp) >= 370);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(retries_stop_at_max_retries_and_say_how_many_attempts)
{
    llmsvc_request *req = scripted(
        "mock-1", "hi", "{\"error\": \"rate_limit\", \"fail_times\": 5, \"retry_after_ms\": 1}", 2);
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_API, err);
    ck_assert_str_eq(llmsvc_error_message(err), "after 3 attempts: mock: rate limit reached");
    ck_assert_int_eq(llmsvc_error_http_status(err), 429);
    ck_assert_int_eq(llmsvc_error_retryable(err), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_non_retryable_failure_is_not_retried)
{
    /* the second attempt would succeed: it must not be made */
    llmsvc_request *req = scripted("mock-1", "hi", "{\"error\": \"auth\", \"fail_times\": 1}", 3);
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    double t0 = now_ms();
    tu_assert_code(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_API, err);
    ck_assert(now_ms() - t0 < 400); /* no back-off was slept */
    ck_assert_str_eq(llmsvc_error_message(err), "mock: invalid API key");
    ck_assert_int_eq(llmsvc_error_http_status(err), 401);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(fail_times_counts_the_attempts_of_each_call_afresh)
{
    /* two calls in a row on one thread, each failing once then succeeding */
    llmsvc_request *req = scripted(
        "mock-1", "hi", "{\"error\": \"rate_limit\", \"fail_times\": 1, \"retry_after_ms\": 1}", 2);
    for (int i = 0; i < 3; i++) {
        llmsvc_response *resp = call_ok(req);
        ck_assert_msg(llmsvc_response_attempts(resp) == 2, "call %d took %d attempts", i + 1,
                      llmsvc_response_attempts(resp));
        llmsvc_response_free(resp);
    }
    llmsvc_request_free(req);
}
END_TEST

/* ---- the response as JSON ---- */

START_TEST(response_to_json_has_every_documented_field)
{
    llmsvc_request *req = tu_request("mock", "mock-reasoning", "What is in the contract?");
    llmsvc_request_set_vector_store(req, "vs_1", 2);
    llmsvc_response *resp = call_ok(req);
    char *js = NULL;
    ck_assert_int_eq(llmsvc_response_to_json(&js, resp), LLMSVC_OK);
    json_object *o = json_tokener_parse(js), *v;
    ck_assert_msg(o && json_object_is_type(o, json_type_object), "not an object: %s", js);

    static const char *const strings[] = {"id",      "provider",      "model",
                                          "message", "finish_reason", "reasoning"};
    const char *want_s[] = {llmsvc_response_id(resp),
                            llmsvc_response_provider(resp),
                            llmsvc_response_model(resp),
                            llmsvc_response_message(resp),
                            llmsvc_response_finish_reason(resp),
                            llmsvc_response_reasoning(resp)};
    for (size_t i = 0; i < 6; i++) {
        ck_assert_msg(json_object_object_get_ex(o, strings[i], &v), "no '%s' in %s", strings[i],
                      js);
        ck_assert_str_eq(json_object_get_string(v), want_s[i]);
    }
    static const char *const counts[] = {"input_tokens", "output_tokens", "reasoning_tokens",
                                         "cached_input_tokens", "total_tokens"};
    const llmsvc_token_kind kinds[] = {LLMSVC_TOKENS_INPUT, LLMSVC_TOKENS_OUTPUT,
                                       LLMSVC_TOKENS_REASONING, LLMSVC_TOKENS_CACHED_INPUT,
                                       LLMSVC_TOKENS_TOTAL};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_msg(json_object_object_get_ex(o, counts[i], &v), "no '%s' in %s", counts[i], js);
        ck_assert_int_eq(json_object_get_int64(v), llmsvc_response_tokens(resp, kinds[i]));
    }
    ck_assert(json_object_object_get_ex(o, "cost_usd", &v));
    ck_assert(fabs(json_object_get_double(v) - llmsvc_response_cost_usd(resp)) <=
              1e-9 * llmsvc_response_cost_usd(resp));
    ck_assert(json_object_object_get_ex(o, "latency_ms", &v));
    ck_assert(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int));
    ck_assert(json_object_object_get_ex(o, "attempts", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    ck_assert(json_object_object_get_ex(o, "file_search_results", &v));
    ck_assert_int_eq(json_object_array_length(v), 2);
    json_object *f = json_object_array_get_idx(v, 0), *fv;
    const llmsvc_file_result *fr = llmsvc_response_file_result(resp, 0);
    ck_assert(json_object_object_get_ex(f, "file_id", &fv));
    ck_assert_str_eq(json_object_get_string(fv), fr->file_id);
    ck_assert(json_object_object_get_ex(f, "filename", &fv));
    ck_assert_str_eq(json_object_get_string(fv), fr->filename);
    ck_assert(json_object_object_get_ex(f, "text", &fv));
    ck_assert_str_eq(json_object_get_string(fv), fr->text);
    ck_assert(json_object_object_get_ex(f, "score", &fv));
    ck_assert(fabs(json_object_get_double(fv) - fr->score) < 1e-6);
    json_object_put(o);
    llmsvc_free(js);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ---- threads ---- */

#define THREADS 8
#define CALLS_PER_THREAD 250

typedef struct worker {
    int id;
    int ok;
    char failure[256];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        char prompt[96];
        snprintf(prompt, sizeof prompt, "thread %d call %d: %s", w->id, i,
                 i % 2 ? "odd" : "even and a little longer");
        llmsvc_request *req = NULL;
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        if (llmsvc_request_new(&req) != LLMSVC_OK ||
            llmsvc_request_set_provider(req, "mock") != LLMSVC_OK ||
            llmsvc_request_set_model(req, i % 3 ? "mock-1" : "mock") != LLMSVC_OK ||
            llmsvc_request_set_prompt(req, prompt) != LLMSVC_OK) {
            snprintf(w->failure, sizeof w->failure, "request setup failed");
            llmsvc_request_free(req);
            return NULL;
        }
        llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
        if (rc != LLMSVC_OK || strcmp(llmsvc_response_message(resp), prompt) != 0 ||
            llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT) != toks(strlen(prompt))) {
            snprintf(w->failure, sizeof w->failure, "call %d: %s / '%s'", i, llmsvc_code_name(rc),
                     rc == LLMSVC_OK ? llmsvc_response_message(resp) : llmsvc_error_message(err));
            llmsvc_error_free(err);
            llmsvc_response_free(resp);
            llmsvc_request_free(req);
            return NULL;
        }
        w->ok++;
        llmsvc_response_free(resp);
        llmsvc_request_free(req);
    }
    return NULL;
}

START_TEST(eight_threads_share_one_runtime_each_getting_its_own_answers)
{
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
    ck_assert_int_eq(total, THREADS * CALLS_PER_THREAD);
    ck_assert_int_ge(total, 2000);
}
END_TEST

static Suite *call_mock_suite(void)
{
    Suite *s = suite_create("call_mock");
    TCase *tc = tu_tcase("echo");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, echoes_the_prompt_deterministically);
    tcase_add_test(tc, an_alias_resolves_to_its_model);
    tcase_add_test(tc, counts_tokens_of_prompt_instructions_and_answer);
    tcase_add_test(tc, cost_is_usage_times_the_specs_prices);
    tcase_add_test(tc, file_search_returns_results_for_a_vector_store);
    tcase_add_test(tc, response_to_json_has_every_documented_field);
    suite_add_tcase(s, tc);
    tc = tu_tcase("script");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, the_script_replies_and_takes_its_time);
    tcase_add_loop_test(tc, each_scripted_error_class_maps_to_its_code_status_and_retryability, 0,
                        (int)(sizeof error_classes / sizeof *error_classes));
    tcase_add_test(tc, an_unknown_scripted_error_class_is_a_validation_error);
    tcase_add_test(tc, a_rate_limited_call_is_retried_until_it_succeeds);
    tcase_add_test(tc, a_transport_failure_is_retried_after_the_cores_back_off);
    tcase_add_test(tc, retries_stop_at_max_retries_and_say_how_many_attempts);
    tcase_add_test(tc, a_non_retryable_failure_is_not_retried);
    tcase_add_test(tc, fail_times_counts_the_attempts_of_each_call_afresh);
    suite_add_tcase(s, tc);
    tc = tu_tcase("threads");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, eight_threads_share_one_runtime_each_getting_its_own_answers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(call_mock_suite());
}
