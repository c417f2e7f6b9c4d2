/* test_validate — requests checked against their model's spec, through
 * llmsvc_call as a host makes it.
 *
 * The runtime loads copies of two plugins: the real mock, and the tests'
 * probe plugin, whose answer lists the parameters the core handed it
 * ("... params=temperature=1,stop=END prompt=..."), so that defaults and
 * conditions are seen exactly. Specs: tests/specs/validate/ (providers probe,
 * keyed, mockv, orphan); the OpenAI lineup cases read the shipped specs/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "runtime.h"
#include "testutil.h"
#include "validate.h"

#define VSPECS TEST_SRC_DIR "/specs/validate"
#define KEY_VAR "LLMSVC_TEST_KEY_7F3A"

static char plugins[TU_PATH];
static tu_log log_;
static llmsvc_runtime *rt;

static void setup(void)
{
    tu_mkdtemp(plugins);
    tu_install_mock(plugins);
    tu_install_plugin(NULL, plugins, "probe");
    tu_install_plugin(NULL, plugins, "buildfails");
    tu_log_init(&log_);
    llmsvc_options o;
    tu_options(&o, plugins, VSPECS, &log_);
    rt = tu_open(&o);
    ck_assert_msg(llmsvc_runtime_spec_problems(rt) == NULL, "%s", llmsvc_runtime_spec_problems(rt));
}

static void teardown(void)
{
    llmsvc_runtime_close(rt);
    rt = NULL;
    tu_log_free(&log_);
    tu_rm_rf(plugins);
    tu_env_restore();
}

/* Calls and expects success; returns the response (free it). */
static llmsvc_response *call_ok(llmsvc_request *req)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    ck_assert_ptr_nonnull(resp);
    return resp;
}

/* Calls and expects code; returns the error (free it). */
static llmsvc_error *call_fails(llmsvc_request *req, llmsvc_code code)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    tu_assert_code(rc, code, err);
    ck_assert_ptr_null(resp);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(llmsvc_error_code(err), code);
    ck_assert_int_eq(llmsvc_error_retryable(err), 0);
    ck_assert_int_eq(llmsvc_error_http_status(err), 0);
    return err;
}

/* The "params=..." part of a probe answer, into out. */
static void probe_params(const llmsvc_response *resp, char *out, size_t n)
{
    const char *m = llmsvc_response_message(resp);
    const char *p = strstr(m, " params=");
    ck_assert_msg(p != NULL, "not a probe answer: %s", m);
    p += 8;
    const char *e = strstr(p, " prompt=");
    ck_assert_ptr_nonnull(e);
    snprintf(out, n, "%.*s", (int)(e - p), p);
}

/* A probe call that must succeed with exactly these effective parameters. */
static void assert_params(llmsvc_request *req, const char *want)
{
    llmsvc_response *resp = call_ok(req);
    char got[1024];
    probe_params(resp, got, sizeof got);
    ck_assert_str_eq(got, want);
    llmsvc_response_free(resp);
}

/* ---- resolving provider and model ---- */

START_TEST(an_unknown_model_is_unknown_model_naming_close_matches)
{
    llmsvc_request *req = tu_request("probe", "reasonr", "hi");
    llmsvc_error *err = call_fails(req, LLMSVC_E_UNKNOWN_MODEL);
    tu_assert_has(llmsvc_error_message(err), "unknown model 'reasonr' for provider 'probe'");
    tu_assert_has(llmsvc_error_message(err), "did you mean 'reasoner'");
    ck_assert_str_eq(llmsvc_error_param(err), "model");
    llmsvc_error_free(err);

    /* nothing close: where to look */
    llmsvc_request_set_model(req, "zzzzzzzzzz");
    err = call_fails(req, LLMSVC_E_UNKNOWN_MODEL);
    tu_assert_lacks(llmsvc_error_message(err), "did you mean");
    tu_assert_has(llmsvc_error_message(err), "llmsvc models --provider probe");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_unknown_provider_is_unsupported_listing_the_loaded_ones)
{
    llmsvc_request *req = tu_request("prob", "reasoner", "hi");
    llmsvc_error *err = call_fails(req, LLMSVC_E_UNSUPPORTED_PROVIDER);
    const char *m = llmsvc_error_message(err);
    tu_assert_has(m, "unknown provider 'prob'");
    tu_assert_has(m, "did you mean 'probe'?");
    tu_assert_has(m, "keyed");
    tu_assert_has(m, "mockv");
    tu_assert_has(m, "orphan");
    tu_assert_has(m, "probe");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_provider_whose_protocol_no_plugin_speaks_is_unsupported)
{
    llmsvc_request *req = tu_request("orphan", "orphan-1", "hi");
    llmsvc_error *err = call_fails(req, LLMSVC_E_UNSUPPORTED_PROVIDER);
    const char *m = llmsvc_error_message(err);
    tu_assert_has(m, "provider 'orphan' speaks protocol 'test-nowhere'");
    tu_assert_has(m, "no loaded plugin provides");
    tu_assert_has(m, "mock");
    tu_assert_has(m, "test-probe");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_request_without_provider_model_or_prompt_is_refused)
{
    llmsvc_request *req = tu_request("probe", "classic", NULL);
    llmsvc_error *err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "neither a prompt (llm.prompt) nor messages");
    llmsvc_error_free(err);
    llmsvc_request_set_prompt(req, "hi");
    llmsvc_request_set_model(req, NULL);
    err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "names no model (llm.llm_model_spec.model)");
    llmsvc_error_free(err);
    llmsvc_request_set_provider(req, NULL);
    err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "names no provider (llm.llm_model_spec.provider)");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

/* ---- parameters ---- */

START_TEST(temperature_on_a_reasoning_model_names_it_and_what_the_model_takes)
{
    llmsvc_request *req = tu_request("probe", "thinker", "hi");
    llmsvc_request_set_number(req, "temperature", 0.2);
    llmsvc_error *err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "model 'thinker' does not take 'temperature'");
    tu_assert_has(llmsvc_error_message(err), "it takes: max_tokens, reasoning_effort, verbosity");
    ck_assert_str_eq(llmsvc_error_param(err), "temperature");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "unsupported_parameter");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_value_out_of_range_names_the_limit)
{
    llmsvc_request *req = tu_request("probe", "classic", "hi");
    llmsvc_request_set_number(req, "temperature", 2.5);
    llmsvc_error *err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "'temperature' is 2.5, above");
    tu_assert_has(llmsvc_error_message(err), "maximum of 2");
    tu_assert_has(llmsvc_error_message(err), "'classic'");
    ck_assert_str_eq(llmsvc_error_param(err), "temperature");
    llmsvc_error_free(err);

    llmsvc_request_unset(req, "temperature");
    llmsvc_request_set_number(req, "max_tokens", 0);
    err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "'max_tokens' is 0, below");
    tu_assert_has(llmsvc_error_message(err), "minimum of 1");
    llmsvc_error_free(err);

    llmsvc_request_set_number(req, "max_tokens", 2.5);
    err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "'max_tokens' must be a whole number");
    llmsvc_error_free(err);

    /* the limits themselves are inside */
    llmsvc_request_set_number(req, "max_tokens", 4096);
    llmsvc_request_set_number(req, "temperature", 2);
    assert_params(req, "temperature=2,max_tokens=4096,stop=END");
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_enum_value_the_model_lacks_is_refused_listing_its_values)
{
    llmsvc_request *req = tu_request("probe", "thinker", "hi");
    llmsvc_request_set_string(req, "reasoning_effort", "xhigh");
    llmsvc_error *err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "'reasoning_effort' 'xhigh' is not one");
    tu_assert_has(llmsvc_error_message(err), "'thinker'");
    tu_assert_has(llmsvc_error_message(err), "(low, medium, high)");
    ck_assert_str_eq(llmsvc_error_param(err), "reasoning_effort");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(temperature_is_taken_only_with_effort_none)
{
    llmsvc_request *req = tu_request("probe", "reasoner", "hi");
    llmsvc_request_set_number(req, "temperature", 0.5);
    llmsvc_request_set_string(req, "reasoning_effort", "none");
    assert_params(req, "temperature=0.5,reasoning_effort=none");

    llmsvc_request_set_string(req, "reasoning_effort", "medium");
    llmsvc_error *err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err),
                  "model 'reasoner' takes 'temperature' only when reasoning_effort is none");
    tu_assert_has(llmsvc_error_message(err), "this request has reasoning_effort 'medium'");
    ck_assert_str_eq(llmsvc_error_param(err), "temperature");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_default_effort_counts_for_the_condition)
{
    /* reasoner's default effort is medium: temperature alone is refused */
    llmsvc_request *req = tu_request("probe", "reasoner", "hi");
    llmsvc_request_set_number(req, "top_p", 0.9);
    llmsvc_error *err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "takes 'top_p' only when reasoning_effort is none");
    tu_assert_has(llmsvc_error_message(err), "reasoning_effort 'medium'");
    llmsvc_error_free(err);
    llmsvc_request_free(req);

    /* reasoner-none's default is none: temperature alone is taken */
    req = tu_request("probe", "reasoner-none", "hi");
    llmsvc_request_set_number(req, "temperature", 0.3);
    assert_params(req, "temperature=0.3,reasoning_effort=none");
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_conditional_default_is_sent_only_when_its_condition_holds)
{
    llmsvc_request *req = tu_request("probe", "reasoner", "hi");
    assert_params(req, "reasoning_effort=medium"); /* no temperature=1 */
    llmsvc_request_set_string(req, "reasoning_effort", "none");
    assert_params(req, "temperature=1,reasoning_effort=none");
    llmsvc_request_free(req);
}
END_TEST

START_TEST(spec_defaults_fill_what_the_request_leaves_out)
{
    llmsvc_request *req = tu_request("probe", "classic", "hi");
    assert_params(req, "temperature=1,stop=END");
    /* what the request sets wins over the default */
    llmsvc_request_set_number(req, "temperature", 0.25);
    llmsvc_request_add_stop(req, "###");
    assert_params(req, "temperature=0.25,stop=###");
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_default_max_tokens_truncates_the_mock_answer)
{
    const char *prompt = "one two three four five six seven eight nine ten";
    llmsvc_request *req = tu_request("mockv", "short", prompt);
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "length");
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT), 2);
    ck_assert_str_eq(llmsvc_response_message(resp), "one two "); /* 2 tokens of 4 bytes */
    llmsvc_response_free(resp);

    llmsvc_request_set_number(req, "max_tokens", 100);
    resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    ck_assert_str_eq(llmsvc_response_message(resp), prompt);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_default_effort_gives_the_mock_reasoning_tokens)
{
    llmsvc_request *req = tu_request("mockv", "deep", "think about it");
    llmsvc_response *resp = call_ok(req);
    int64_t reasoning = llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING);
    ck_assert_int_gt(reasoning, 0);
    ck_assert_ptr_nonnull(llmsvc_response_reasoning(resp));
    ck_assert_int_gt(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT), reasoning);
    llmsvc_response_free(resp);

    llmsvc_request_set_string(req, "reasoning_effort", "none");
    resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING), 0);
    ck_assert_ptr_null(llmsvc_response_reasoning(resp));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ---- capabilities ---- */

START_TEST(a_vector_store_needs_the_file_search_capability)
{
    llmsvc_request *req = tu_request("probe", "thinker", "find it");
    llmsvc_request_set_vector_store(req, "vs_123", 5);
    llmsvc_error *err = call_fails(req, LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "model 'thinker' of provider 'probe' has no "
                                             "file_search capability");
    tu_assert_has(llmsvc_error_message(err), "'vs_123'");
    ck_assert_str_eq(llmsvc_error_param(err), "vector_store_id");
    llmsvc_error_free(err);

    llmsvc_request_set_model(req, "classic");
    llmsvc_response *resp = call_ok(req);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ---- lifecycle ---- */

typedef struct many_calls {
    const char *model;
    int n;
} many_calls;

static void *call_loop(void *arg)
{
    const many_calls *mc = arg;
    for (int i = 0; i < mc->n; i++) {
        llmsvc_request *req = tu_request("probe", mc->model, "hi");
        llmsvc_response *resp = call_ok(req);
        llmsvc_response_free(resp);
        llmsvc_request_free(req);
    }
    return NULL;
}

START_TEST(a_deprecated_model_works_and_warns_exactly_once)
{
    many_calls mc = {"legacy", 5};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, call_loop, &mc), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    call_loop(&mc);
    char *log = tu_log_text(&log_);
    ck_assert_msg(tu_count(log, "is deprecated") == 1, "expected one warning in:\n%s", log);
    tu_assert_has(log, "WARN model 'legacy' of provider 'probe' is deprecated and shuts down on "
                       "2099-12-31; move to 'classic'");
    free(log);
}
END_TEST

START_TEST(a_model_past_its_shutdown_fails_naming_the_replacement)
{
    llmsvc_request *req = tu_request("probe", "retired", "hi");
    llmsvc_error *err = call_fails(req, LLMSVC_E_VALIDATION);
    ck_assert_str_eq(llmsvc_error_message(err),
                     "model 'retired' of provider 'probe' was shut down on 2020-06-30; use "
                     "'classic' instead");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "model_retired");
    ck_assert_str_eq(llmsvc_error_param(err), "model");
    llmsvc_error_free(err);

    llmsvc_request_set_model(req, "retired-orphan");
    err = call_fails(req, LLMSVC_E_VALIDATION);
    ck_assert_str_eq(llmsvc_error_message(err),
                     "model 'retired-orphan' of provider 'probe' was shut down on 2020-06-30");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    char *log = tu_log_text(&log_);
    tu_assert_lacks(log, "is deprecated"); /* an error, not a warning as well */
    free(log);
}
END_TEST

/* ---- keys ---- */

START_TEST(a_missing_api_key_is_config_naming_the_variable)
{
    tu_unsetenv(KEY_VAR);
    llmsvc_request *req = tu_request("keyed", "keyed-1", "hi");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_CONFIG, err);
    tu_assert_has(llmsvc_error_message(err), "no API key for provider 'keyed'");
    tu_assert_has(llmsvc_error_message(err), "set " KEY_VAR);
    llmsvc_error_free(err);

    tu_setenv(KEY_VAR, "");
    err = NULL;
    tu_assert_code(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_CONFIG, err);
    llmsvc_error_free(err);

    tu_setenv(KEY_VAR, "k-123");
    resp = call_ok(req);
    llmsvc_response_free(resp);

    tu_unsetenv(KEY_VAR);
    llmsvc_request_set_api_key(req, "k-from-the-host");
    resp = call_ok(req);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ---- a plugin that fails without saying why ---- */

static int stop_at_first(void *user, const llmsvc_event *ev)
{
    (void)user;
    (void)ev;
    return 0;
}

START_TEST(a_request_the_plugin_cannot_build_is_a_transform_error_naming_the_plugin)
{
    llmsvc_request *req = tu_request("buildfails", "buildfails-1", "hi");
    llmsvc_error *err = call_fails(req, LLMSVC_E_TRANSFORM);
    tu_assert_has(llmsvc_error_message(err), "plugin 'test-buildfails' could not build the request");
    llmsvc_error_free(err);
    /* streaming goes the same way */
    llmsvc_response *resp = NULL;
    err = NULL;
    tu_assert_code(llmsvc_call_stream(rt, req, stop_at_first, NULL, &resp, &err),
                   LLMSVC_E_TRANSFORM, err);
    tu_assert_has(llmsvc_error_message(err), "plugin 'test-buildfails' could not build the request");
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ---- the OpenAI lineup of the shipped specs, with no OpenAI plugin ---- */

START_TEST(the_original_modules_retired_openai_models_fail_naming_the_replacement)
{
    /* only the mock is loaded: the spec alone decides, and no HTTP is tried */
    char dir[TU_PATH];
    tu_mkdtemp(dir);
    tu_install_mock(dir);
    llmsvc_options o;
    tu_options(&o, dir, PROJECT_SRC_DIR "/specs", NULL);
    llmsvc_runtime *ort = tu_open(&o);
    char today[11];
    validate_today(today);
    static const char *const names[] = {"gpt-4", "o1", "gpt-4-0613"};
    for (size_t i = 0; i < 3; i++) {
        const model_spec *m = registry_model(&atomic_load(&ort->specs.current)->reg, "openai", names[i]);
        ck_assert_msg(m != NULL, "specs/openai.yaml has no %s", names[i]);
        ck_assert_msg(m->shutdown[0] && strcmp(m->shutdown, today) <= 0 && m->replacement,
                      "specs/openai.yaml no longer retires %s", names[i]);
        llmsvc_request *req = tu_request("openai", names[i], "hello");
        llmsvc_request_set_number(req, "temperature", 0.7);
        llmsvc_request_set_number(req, "max_tokens", 500);
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        tu_assert_code(llmsvc_call(ort, req, &resp, &err), LLMSVC_E_VALIDATION, err);
        char want[256];
        snprintf(want, sizeof want, "model '%s' of provider 'openai' was shut down on %s; use '%s'",
                 m->name, m->shutdown, m->replacement);
        tu_assert_has(llmsvc_error_message(err), want);
        llmsvc_error_free(err);
        llmsvc_request_free(req);
    }
    llmsvc_runtime_close(ort);
    tu_rm_rf(dir);
}
END_TEST

static Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tu_tcase("resolve");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, an_unknown_model_is_unknown_model_naming_close_matches);
    tcase_add_test(tc, an_unknown_provider_is_unsupported_listing_the_loaded_ones);
    tcase_add_test(tc, a_provider_whose_protocol_no_plugin_speaks_is_unsupported);
    tcase_add_test(tc, a_request_without_provider_model_or_prompt_is_refused);
    suite_add_tcase(s, tc);
    tc = tu_tcase("parameters");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, temperature_on_a_reasoning_model_names_it_and_what_the_model_takes);
    tcase_add_test(tc, a_value_out_of_range_names_the_limit);
    tcase_add_test(tc, an_enum_value_the_model_lacks_is_refused_listing_its_values);
    tcase_add_test(tc, temperature_is_taken_only_with_effort_none);
    tcase_add_test(tc, the_default_effort_counts_for_the_condition);
    tcase_add_test(tc, a_conditional_default_is_sent_only_when_its_condition_holds);
    tcase_add_test(tc, spec_defaults_fill_what_the_request_leaves_out);
    tcase_add_test(tc, a_default_max_tokens_truncates_the_mock_answer);
    tcase_add_test(tc, a_default_effort_gives_the_mock_reasoning_tokens);
    tcase_add_test(tc, a_vector_store_needs_the_file_search_capability);
    suite_add_tcase(s, tc);
    tc = tu_tcase("lifecycle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_deprecated_model_works_and_warns_exactly_once);
    tcase_add_test(tc, a_model_past_its_shutdown_fails_naming_the_replacement);
    tcase_add_test(tc, a_missing_api_key_is_config_naming_the_variable);
    tcase_add_test(tc, a_request_the_plugin_cannot_build_is_a_transform_error_naming_the_plugin);
    tcase_add_test(tc, the_original_modules_retired_openai_models_fail_naming_the_replacement);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(validate_suite());
}
