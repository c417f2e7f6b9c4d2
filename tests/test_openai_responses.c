/* test_openai_responses — the openai-responses plugin end to end, over real
 * loopback HTTP against the in-process fake upstream: every request mapping
 * rule (asserted on the request the server recorded), every response shape of
 * tests/fixtures/openai, every error body, the cost from the shipped spec's
 * prices, base-URL precedence, and that the API key never leaks; conversations
 * (turns, images, tool calls and results), tools, tool_choice, structured
 * output, and the provider state going back byte for byte in the next turn.
 * Streaming is in test_openai_stream.c.
 *
 * Expected values come from the fixture files and from
 * llmsvc_runtime_models_json, not from numbers copied into this file. */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fake_upstream.h"
#include "jdoc.h"
#include "testutil.h"

#define OPENAI_SPEC PROJECT_SRC_DIR "/specs/openai.yaml"

/* A dummy key: never printed by any assertion below. */
#define TEST_KEY "sk-test-llmsvc-dummy-key-0000"
/* A distinctive one for the secrets tests. */
#define SECRET_KEY "sk-proj-LLMSVCsecretT3stK3y-9f3Kq7Zt2Wx8Vb4Nm6Lp1Rc5"

/* the harness, with assertions that never print the API key */
#define PROTO_FIXTURE_NAMES
#include "prototest.h"

/* ---- fixtures ---- */

static void start_upstream(void)
{
    tu_setenv("OPENAI_API_KEY", TEST_KEY);
    tu_unsetenv("OPENAI_BASE_URL");
    tu_unsetenv("OPENAI_ORG_ID");
    tu_unsetenv("OPENAI_PROJECT_ID");
    proto_start(&pf, "/v1", OPENAI_PLUGIN, "openai-responses.so", NULL);
}

#define ISOLATED PROTO_ISOLATED

static void setup(void)
{
    start_upstream();
    rt = open_rt(ISOLATED, OPENAI_SPEC);
}

/* ---- helpers ---- */

/* A request to the openai provider, pointed at the fake upstream. */
#define oreq(model, prompt) proto_request(&pf, "openai", (model), (prompt))

/* tests/fixtures/<name> as JSON; text with every {{model}} replaced (prototest) */
#define fixture(name) proto_fixture_json("", (name))
#define with_model proto_with_model

/* Every output_text of every message item of a response fixture, in order. */
static char *fixture_text(json_object *fx)
{
    size_t cap = 1, len = 0;
    char *out = calloc(1, 1);
    ck_assert_ptr_nonnull(out);
    json_object *output = jat(fx, "output");
    for (size_t i = 0; i < json_object_array_length(output); i++) {
        json_object *item = json_object_array_get_idx(output, i);
        const char *type = jstr(item, "type");
        if (!type || strcmp(type, "message") != 0)
            continue;
        json_object *content = jat(item, "content");
        for (size_t k = 0; k < json_object_array_length(content); k++) {
            json_object *part = json_object_array_get_idx(content, k);
            const char *ptype = jstr(part, "type");
            if (!ptype || strcmp(ptype, "output_text") != 0)
                continue;
            const char *t = jstr(part, "text");
            size_t tl = strlen(t);
            if (len + tl + 1 > cap) {
                cap = (len + tl + 1) * 2;
                out = realloc(out, cap);
                ck_assert_ptr_nonnull(out);
            }
            memcpy(out + len, t, tl + 1);
            len += tl;
        }
    }
    return out;
}

static void serve(const char *fixture_name)
{
    script("{\"path\": \"/responses\", \"fixture\": \"%s\"}", fixture_name);
}

/* Serves fx (a fixture, possibly changed by the test) as a literal body. */
#define serve_json(fx) proto_serve_json(&pf, "/responses", (fx))

/* ================================================================ request */

START_TEST(posts_the_prompt_as_input_to_base_url_responses)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "Write a haiku about recursion.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    sent s = sent_get(-1);
    assert_jstr(s.rec, "method", "POST");
    assert_jstr(s.rec, "path", "/v1/responses");
    assert_jstr(s.rec, "query", "");
    assert_jstr(s.body, "model", "gpt-6.2-sol");
    assert_jstr(s.body, "input", "Write a haiku about recursion.");
    /* nothing the caller did not ask for, except the spec's default effort */
    static const char *const absent[] = {"instructions", "temperature", "top_p",
                                         "max_output_tokens", "tools", "include",
                                         "text", "max_tokens", "prompt"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        ck_assert_msg(!jhas(s.body, absent[i]), "the body has '%s'", absent[i]);
    assert_jstr(s.body, "reasoning.effort", "medium");
    ck_assert_int_eq(json_object_object_length(s.body), 3);
    ck_assert_int_eq(json_object_object_length(jat(s.body, "reasoning")), 1);
    assert_jstr(s.rec, "headers.content-type", "application/json");
    assert_jstr(s.rec, "headers.accept", "application/json");
    const char *ua = sent_header(&s, "user-agent");
    ck_assert_msg(ua && strncmp(ua, "llmsvc/", 7) == 0, "user-agent '%s'", ua ? ua : "(absent)");
    sent_free(&s);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* a header of the caller's replaces the transport's own, never doubles it */
START_TEST(a_callers_user_agent_or_accept_replaces_the_default)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hi");
    ck_assert_int_eq(llmsvc_request_add_header(req, "user-agent", "my-app/2.0"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_header(req, "Accept", "application/json; q=1"), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_str_eq(sent_header(&s, "user-agent"), "my-app/2.0");
    ck_assert_str_eq(sent_header(&s, "accept"), "application/json; q=1");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

/* more headers, and longer, than a request keeps in itself: all arrive intact */
START_TEST(many_long_headers_all_arrive)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hi");
    char name[32], value[300];
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof name, "x-test-%d", i);
        memset(value, 'a' + i, sizeof value - 1);
        value[sizeof value - 1] = '\0';
        ck_assert_int_eq(llmsvc_request_add_header(req, name, value), LLMSVC_OK);
    }
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof name, "x-test-%d", i);
        const char *got = sent_header(&s, name);
        ck_assert_msg(got && strlen(got) == sizeof value - 1 && got[0] == 'a' + i &&
                          got[sizeof value - 2] == 'a' + i,
                      "header %s", name);
    }
    ck_assert_str_eq(sent_header(&s, "content-type"), "application/json");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(instructions_are_sent_as_instructions)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "What is 2 + 2?");
    llmsvc_request_set_instructions(req, "Answer in French, in one word.");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.body, "instructions", "Answer in French, in one word.");
    assert_jstr(s.body, "input", "What is 2 + 2?");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(temperature_and_top_p_are_sent_with_effort_none)
{
    llmsvc_request *req = oreq("gpt-6-sol", "Name a colour.");
    ck_assert_int_eq(llmsvc_request_set_string(req, "reasoning_effort", "none"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_number(req, "temperature", 0.25), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_number(req, "top_p", 0.875), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_double_eq(jnum(s.body, "temperature"), 0.25);
    ck_assert_double_eq(jnum(s.body, "top_p"), 0.875);
    assert_jstr(s.body, "reasoning.effort", "none");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(temperature_and_top_p_on_gpt_4_1_go_without_a_reasoning_object)
{
    llmsvc_request *req = oreq("gpt-4.1", "Name a colour.");
    llmsvc_request_set_number(req, "temperature", 1.5);
    llmsvc_request_set_number(req, "top_p", 0.5);
    llmsvc_response_free(call_ok(req));
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.body, "model", "gpt-4.1");
    ck_assert_double_eq(jnum(s.body, "temperature"), 1.5);
    ck_assert_double_eq(jnum(s.body, "top_p"), 0.5);
    ck_assert_msg(!jhas(s.body, "reasoning"), "gpt-4.1 takes no reasoning effort");
    sent_free(&s);
    /* served, but its shutdown is announced once per process */
    char *log = tu_log_text(&logs);
    ck_assert_uint_eq(tu_count(log, "model 'gpt-4.1' of provider 'openai' is deprecated"), 1);
    assert_has(log, "shuts down on 2027-01-14");
    assert_has(log, "gpt-6-luna");
    free(log);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(max_tokens_becomes_max_output_tokens)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "Summarise the French Revolution.");
    ck_assert_int_eq(llmsvc_request_set_number(req, "max_tokens", 256), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_int_eq(jint(s.body, "max_output_tokens"), 256);
    ck_assert(!jhas(s.body, "max_tokens"));
    ck_assert(!jhas(s.body, "max_completion_tokens"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(effort_and_verbosity_become_reasoning_effort_and_text_verbosity)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "How many primes are there between 100 and 150?");
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    llmsvc_request_set_string(req, "verbosity", "low");
    llmsvc_response *resp = call_ok(req);
    sent s = sent_get(-1);
    assert_jstr(s.body, "reasoning.effort", "high");
    assert_jstr(s.body, "text.verbosity", "low");
    ck_assert(!jhas(s.body, "reasoning_effort"));
    ck_assert(!jhas(s.body, "verbosity"));
    sent_free(&s);
    /* the route for effort high answers with the reasoning fixture */
    ck_assert_ptr_nonnull(llmsvc_response_reasoning(resp));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* Each model's default effort, as the shipped spec gives it. */
static const struct {
    const char *model;
    const char *effort; /* NULL: no reasoning object at all */
} defaults[] = {
    {"gpt-6.2-sol", "medium"},
    {"gpt-5.4", "none"},
    {"gpt-5.6-sol", "medium"},
    {"gpt-4.1", NULL},
};

START_TEST(spec_defaults_are_filled_in)
{
    llmsvc_request *req = oreq(defaults[_i].model, "hello");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.body, "model", defaults[_i].model);
    if (defaults[_i].effort)
        assert_jstr(s.body, "reasoning.effort", defaults[_i].effort);
    else
        ck_assert(!jhas(s.body, "reasoning"));
    /* only_with defaults are not sent, and temperature has no default at all */
    ck_assert(!jhas(s.body, "temperature"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_vector_store_becomes_a_file_search_tool_with_results_included)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "What is the refund window for annual plans?");
    ck_assert_int_eq(llmsvc_request_set_vector_store(req, "vs_68e3f1a2b9c48191a7d2c5e4f6b8a0d1", 8),
                     LLMSVC_OK);
    llmsvc_response *resp = call_ok(req);
    sent s = sent_get(-1);
    json_object *tools = jat(s.body, "tools");
    ck_assert(json_object_is_type(tools, json_type_array));
    ck_assert_uint_eq(json_object_array_length(tools), 1);
    assert_jstr(s.body, "tools.0.type", "file_search");
    json_object *ids = jat(s.body, "tools.0.vector_store_ids");
    ck_assert(json_object_is_type(ids, json_type_array));
    ck_assert_uint_eq(json_object_array_length(ids), 1);
    assert_jstr(s.body, "tools.0.vector_store_ids.0", "vs_68e3f1a2b9c48191a7d2c5e4f6b8a0d1");
    ck_assert_int_eq(jint(s.body, "tools.0.max_num_results"), 8);
    ck_assert_int_eq(json_object_object_length(jat(s.body, "tools.0")), 3);
    json_object *include = jat(s.body, "include");
    ck_assert(json_object_is_type(include, json_type_array));
    ck_assert_uint_eq(json_object_array_length(include), 1);
    assert_jstr(s.body, "include.0", "file_search_call.results");
    sent_free(&s);
    /* the route for a file_search tool answers with the file_search fixture */
    ck_assert_uint_eq(llmsvc_response_file_result_count(resp), 3);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_vector_store_without_a_result_count_leaves_the_providers_default)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "refunds");
    llmsvc_request_set_vector_store(req, "vs_abc", 0);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.body, "tools.0.vector_store_ids.0", "vs_abc");
    ck_assert(!jhas(jat(s.body, "tools.0"), "max_num_results"));
    assert_jstr(s.body, "include.0", "file_search_call.results");
    sent_free(&s);
    /* set_max_results after the store gives the count */
    ck_assert_int_eq(llmsvc_request_set_max_results(req, 5), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    s = sent_get(-1);
    ck_assert_int_eq(jint(s.body, "tools.0.max_num_results"), 5);
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(no_vector_store_means_no_tools_and_no_include)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "refunds");
    llmsvc_request_set_max_results(req, 5); /* meaningless without a store */
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert(!jhas(s.body, "tools"));
    ck_assert(!jhas(s.body, "include"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_key_goes_in_a_bearer_authorization_header)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    const char *auth = sent_header(&s, "authorization");
    ck_assert_msg(auth && strcmp(auth, "Bearer " TEST_KEY) == 0,
                  "Authorization is not 'Bearer ' + OPENAI_API_KEY");
    sent_free(&s);
    /* a per-call key replaces the variable's */
    ck_assert_int_eq(llmsvc_request_set_api_key(req, "sk-test-per-call-key"), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    s = sent_get(-1);
    auth = sent_header(&s, "authorization");
    ck_assert_msg(auth && strcmp(auth, "Bearer sk-test-per-call-key") == 0,
                  "Authorization is not 'Bearer ' + the per-call key");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(no_key_is_a_config_error_naming_the_variable_and_nothing_is_sent)
{
    tu_unsetenv("OPENAI_API_KEY");
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_CONFIG);
    assert_has(llmsvc_error_message(err), "no API key for provider 'openai'");
    assert_has(llmsvc_error_message(err), "OPENAI_API_KEY");
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    /* an empty variable is no key either */
    tu_setenv("OPENAI_API_KEY", "");
    err = call_fail(req, LLMSVC_E_CONFIG);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(organization_and_project_headers_are_sent_only_when_set)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_ptr_null(sent_header(&s, "openai-organization"));
    ck_assert_ptr_null(sent_header(&s, "openai-project"));
    sent_free(&s);

    tu_setenv("OPENAI_ORG_ID", "org-FakeUpstreamOrg000000000");
    llmsvc_response_free(call_ok(req));
    s = sent_get(-1);
    ck_assert_str_eq(sent_header(&s, "openai-organization"), "org-FakeUpstreamOrg000000000");
    ck_assert_ptr_null(sent_header(&s, "openai-project"));
    sent_free(&s);

    tu_setenv("OPENAI_PROJECT_ID", "proj_Q2w8Lk4Zr7Xs1Vn3");
    llmsvc_response_free(call_ok(req));
    s = sent_get(-1);
    ck_assert_str_eq(sent_header(&s, "openai-organization"), "org-FakeUpstreamOrg000000000");
    ck_assert_str_eq(sent_header(&s, "openai-project"), "proj_Q2w8Lk4Zr7Xs1Vn3");
    sent_free(&s);

    tu_unsetenv("OPENAI_ORG_ID");
    tu_setenv("OPENAI_PROJECT_ID", ""); /* set but empty: not sent */
    llmsvc_response_free(call_ok(req));
    s = sent_get(-1);
    ck_assert_ptr_null(sent_header(&s, "openai-organization"));
    ck_assert_ptr_null(sent_header(&s, "openai-project"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(provider_options_are_merged_into_the_body_last)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_request_set_string(req, "verbosity", "low");
    llmsvc_request_set_number(req, "max_tokens", 256);
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_set_provider_options(
        req,
        "{\"store\": false, \"metadata\": {\"trace_id\": \"t-42\"},"
        " \"text\": {\"format\": {\"type\": \"text\"}},"
        " \"reasoning\": {\"summary\": \"auto\"},"
        " \"max_output_tokens\": 99, \"previous_response_id\": \"resp_prev\"}",
        &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert(json_object_is_type(jat(s.body, "store"), json_type_boolean));
    ck_assert(!json_object_get_boolean(jat(s.body, "store")));
    assert_jstr(s.body, "metadata.trace_id", "t-42");
    assert_jstr(s.body, "previous_response_id", "resp_prev");
    /* objects merge member by member: both the mapped and the given fields */
    assert_jstr(s.body, "text.verbosity", "low");
    assert_jstr(s.body, "text.format.type", "text");
    assert_jstr(s.body, "reasoning.effort", "medium");
    assert_jstr(s.body, "reasoning.summary", "auto");
    /* a scalar given in provider_options wins over the mapped one */
    ck_assert_int_eq(jint(s.body, "max_output_tokens"), 99);
    assert_jstr(s.body, "input", "hello");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_parameter_the_model_does_not_take_is_refused_before_any_request)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_request_set_number(req, "temperature", 0.2);
    llmsvc_error *err = call_fail(req, LLMSVC_E_VALIDATION);
    assert_has(llmsvc_error_message(err), "model 'gpt-6.2-sol' does not take 'temperature'");
    ck_assert_str_eq(llmsvc_error_param(err), "temperature");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    /* gpt-6-sol takes it, but only with effort none; its default is medium */
    req = oreq("gpt-6-sol", "hello");
    llmsvc_request_set_number(req, "temperature", 0.2);
    err = call_fail(req, LLMSVC_E_VALIDATION);
    assert_has(llmsvc_error_message(err), "only when reasoning_effort is none");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_retired_model_fails_before_any_request_naming_its_replacement)
{
    llmsvc_request *req = oreq("o1", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_VALIDATION);
    assert_has(llmsvc_error_message(err), "was shut down on 2026-10-23");
    assert_has(llmsvc_error_message(err), "use 'gpt-5.6-sol' instead");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ base URL */

/* An operator's spec file moving the provider to <fake>/spec/v1. */
static char spec_path[2 * TU_PATH];

static void setup_env(void)
{
    start_upstream();
    char text[1024], file[TU_PATH];
    snprintf(text, sizeof text,
             "# moves provider openai to the fake upstream\n"
             "provider: openai\n"
             "api: openai-responses\n"
             "base_url: %s/spec/v1\n"
             "models:\n"
             "  - name: llmsvc-test-probe\n"
             "    pricing: {input_per_mtok: 1.00, output_per_mtok: 2.00}\n",
             fake_upstream_url(fu));
    tu_write(file, tmp, "site.yaml", text);
    snprintf(spec_path, sizeof spec_path, "%s:%s", OPENAI_SPEC, file);
    /* the environment is read: only default folders are skipped */
    rt = open_rt(LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS, spec_path);
}

static const char *path_of_last_request(void)
{
    static char path[256];
    sent s = sent_get(-1);
    snprintf(path, sizeof path, "%s", jstr(s.rec, "path"));
    sent_free(&s);
    return path;
}

START_TEST(the_spec_base_url_is_used_when_nothing_overrides_it)
{
    llmsvc_request *req = tu_request("openai", "gpt-6.2-sol", "hello");
    llmsvc_response_free(call_ok(req));
    ck_assert_str_eq(path_of_last_request(), "/spec/v1/responses");
    llmsvc_request_free(req);
}
END_TEST

START_TEST(openai_base_url_overrides_the_spec)
{
    char url[256];
    snprintf(url, sizeof url, "%s/env/v1", fake_upstream_url(fu));
    tu_setenv("OPENAI_BASE_URL", url);
    llmsvc_request *req = tu_request("openai", "gpt-6.2-sol", "hello");
    llmsvc_response_free(call_ok(req));
    ck_assert_str_eq(path_of_last_request(), "/env/v1/responses");
    /* trailing slashes are dropped, not doubled */
    snprintf(url, sizeof url, "%s/env/v1//", fake_upstream_url(fu));
    tu_setenv("OPENAI_BASE_URL", url);
    llmsvc_response_free(call_ok(req));
    ck_assert_str_eq(path_of_last_request(), "/env/v1/responses");
    /* an empty variable counts as unset */
    tu_setenv("OPENAI_BASE_URL", "");
    llmsvc_response_free(call_ok(req));
    ck_assert_str_eq(path_of_last_request(), "/spec/v1/responses");
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_per_call_base_url_overrides_the_environment)
{
    char url[256];
    snprintf(url, sizeof url, "%s/env/v1", fake_upstream_url(fu));
    tu_setenv("OPENAI_BASE_URL", url);
    snprintf(url, sizeof url, "%s/call/v1/", fake_upstream_url(fu));
    llmsvc_request *req = tu_request("openai", "gpt-6.2-sol", "hello");
    ck_assert_int_eq(llmsvc_request_set_base_url(req, url), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    ck_assert_str_eq(path_of_last_request(), "/call/v1/responses");
    /* clearing it falls back to the environment */
    ck_assert_int_eq(llmsvc_request_set_base_url(req, NULL), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    ck_assert_str_eq(path_of_last_request(), "/env/v1/responses");
    llmsvc_request_free(req);
}
END_TEST

START_TEST(no_env_ignores_openai_base_url)
{
    char url[256];
    snprintf(url, sizeof url, "%s/env/v1", fake_upstream_url(fu));
    tu_setenv("OPENAI_BASE_URL", url);
    llmsvc_runtime *isolated = open_rt(ISOLATED, spec_path);
    llmsvc_request *req = tu_request("openai", "gpt-6.2-sol", "hello");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(isolated, req, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    ck_assert_str_eq(path_of_last_request(), "/spec/v1/responses");
    llmsvc_response_free(resp);
    /* the key still comes from OPENAI_API_KEY: NO_ENV is about folders and URLs */
    sent s = sent_get(-1);
    ck_assert_msg(header_is(&s, "authorization", "Bearer " TEST_KEY),
                  "the key was not sent");
    sent_free(&s);
    llmsvc_request_free(req);
    llmsvc_runtime_close(isolated);
}
END_TEST

START_TEST(a_non_http_openai_base_url_is_a_config_error)
{
    tu_setenv("OPENAI_BASE_URL", "ftp://127.0.0.1/v1");
    llmsvc_request *req = tu_request("openai", "gpt-6.2-sol", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_CONFIG);
    assert_has(llmsvc_error_message(err), "OPENAI_BASE_URL is not a base URL");
    assert_has(llmsvc_error_message(err), "http:// or https://");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_base_url_with_credentials_or_a_query_is_refused_without_echoing_it)
{
    static const char *const bad[] = {"http://user:hunter2@127.0.0.1/v1",
                                      "http://127.0.0.1/v1?key=hunter2"};
    for (size_t i = 0; i < 2; i++) {
        tu_setenv("OPENAI_BASE_URL", bad[i]);
        llmsvc_request *req = tu_request("openai", "gpt-6.2-sol", "hello");
        llmsvc_error *err = call_fail(req, LLMSVC_E_CONFIG);
        assert_has(llmsvc_error_message(err), "no query, fragment or credentials");
        ck_assert_msg(!strstr(llmsvc_error_message(err), "hunter2"),
                      "the message repeats the secret part of the URL");
        llmsvc_error_free(err);
        llmsvc_request_free(req);
        /* the per-call form is refused as an invalid argument */
        llmsvc_request *r2;
        llmsvc_request_new(&r2);
        ck_assert_int_eq(llmsvc_request_set_base_url(r2, bad[i]), LLMSVC_E_INVALID_ARG);
        llmsvc_request_free(r2);
    }
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
}
END_TEST

/* ================================================================ spec rules */

/* Two operator spec files on the same protocol: a gateway whose models rename
 * parameters with `wire` and add headers, and a local server with no key. */
static void setup_spec(void)
{
    start_upstream();
    char text[2048], gw[TU_PATH], local[TU_PATH];
    snprintf(text, sizeof text,
             "provider: gateway\n"
             "api: openai-responses\n"
             "base_url: %s/gw/v1\n"
             "api_key_env: LLMSVC_TEST_GATEWAY_API_KEY\n"
             "headers:\n"
             "  X-Title: {value: llmsvc-tests}\n"
             "  X-Gateway-Route: {env: LLMSVC_TEST_GATEWAY_ROUTE, secret: true}\n"
             "options:\n"
             "  strict_tools: \"true\"\n"
             "models:\n"
             "  - name: gw-wired\n"
             "    parameters:\n"
             "      max_tokens: {type: int, min: 1, max: 4096, wire: max_completion_tokens}\n"
             "      seed: {type: int, wire: seed}\n"
             "      stop: {type: string_list, wire: stop}\n"
             "      presence_penalty: {type: float, min: -2, max: 2, wire: sampling.presence}\n"
             "      reasoning_effort: {type: enum, values: [low, high], default: low,"
             " wire: reasoning_effort}\n"
             "    pricing: {input_per_mtok: 1.00, output_per_mtok: 2.00}\n"
             "  - name: gw-tools\n"
             "    capabilities: [tools]\n"
             "  - name: gw-unwired\n"
             "    parameters:\n"
             "      top_k: {type: int, min: 1, max: 100}\n"
             "    pricing: {input_per_mtok: 1.00, output_per_mtok: 2.00}\n"
             "  - name: gw-badwire\n"
             "    parameters:\n"
             "      top_k: {type: int, min: 1, max: 100, wire: sampling..k}\n",
             fake_upstream_url(fu));
    tu_write(gw, tmp, "gateway.yaml", text);
    snprintf(text, sizeof text,
             "provider: local\n"
             "api: openai-responses\n"
             "base_url: %s/local/v1\n"
             "models:\n"
             "  - name: local-model\n",
             fake_upstream_url(fu));
    tu_write(local, tmp, "local.yaml", text);
    snprintf(spec_path, sizeof spec_path, "%s:%s", gw, local);
    tu_setenv("LLMSVC_TEST_GATEWAY_API_KEY", "sk-test-gateway-key");
    tu_unsetenv("LLMSVC_TEST_GATEWAY_ROUTE");
    rt = open_rt(ISOLATED, spec_path);
}

START_TEST(a_spec_wire_name_replaces_the_plugins_field)
{
    llmsvc_request *req = tu_request("gateway", "gw-wired", "hello");
    llmsvc_request_set_number(req, "max_tokens", 300);
    llmsvc_request_set_number(req, "seed", 7);
    llmsvc_request_set_number(req, "presence_penalty", 0.5);
    llmsvc_request_add_stop(req, "END");
    llmsvc_request_add_stop(req, "\n\n");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/gw/v1/responses");
    ck_assert_int_eq(jint(s.body, "max_completion_tokens"), 300);
    ck_assert(!jhas(s.body, "max_output_tokens"));
    ck_assert_int_eq(jint(s.body, "seed"), 7);
    ck_assert_double_eq(jnum(s.body, "sampling.presence"), 0.5);
    ck_assert_uint_eq(json_object_array_length(jat(s.body, "stop")), 2);
    assert_jstr(s.body, "stop.0", "END");
    assert_jstr(s.body, "stop.1", "\n\n");
    /* a default goes to its wire name too */
    assert_jstr(s.body, "reasoning_effort", "low");
    ck_assert(!jhas(s.body, "reasoning"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

/* top_k=40 to a gateway model fails as a TRANSFORM error, before anything is
 * sent, with a message holding want and the model's name. */
static void assert_top_k_not_sent(const char *model, const char *want)
{
    llmsvc_request *req = tu_request("gateway", model, "hello");
    llmsvc_request_set_number(req, "top_k", 40);
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSFORM);
    assert_has(llmsvc_error_message(err), want);
    assert_has(llmsvc_error_message(err), model);
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}

START_TEST(a_parameter_with_no_field_in_the_responses_api_is_a_transform_error)
{
    assert_top_k_not_sent("gw-unwired", "the Responses API has no field for 'top_k'");
}
END_TEST

START_TEST(a_wire_name_with_an_empty_key_is_a_transform_error_naming_it)
{
    assert_top_k_not_sent("gw-badwire", "the `wire` name 'sampling..k' of parameter 'top_k'");
}
END_TEST

START_TEST(spec_headers_are_sent_literal_or_from_their_variable)
{
    llmsvc_request *req = tu_request("gateway", "gw-wired", "hello");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_str_eq(sent_header(&s, "x-title"), "llmsvc-tests");
    ck_assert_ptr_null(sent_header(&s, "x-gateway-route"));
    ck_assert_msg(header_is(&s, "authorization", "Bearer sk-test-gateway-key"),
                  "the gateway's key was not sent from its own variable");
    sent_free(&s);
    tu_setenv("LLMSVC_TEST_GATEWAY_ROUTE", "eu-west");
    llmsvc_response_free(call_ok(req));
    s = sent_get(-1);
    ck_assert_str_eq(sent_header(&s, "x-gateway-route"), "eu-west");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_overlong_header_is_a_transform_error_naming_only_the_header)
{
    char *value = malloc(9001);
    ck_assert_ptr_nonnull(value);
    memset(value, 'r', 9000);
    memcpy(value, "route-secret-", 13);
    value[9000] = '\0';
    tu_setenv("LLMSVC_TEST_GATEWAY_ROUTE", value);
    free(value);
    llmsvc_request *req = tu_request("gateway", "gw-wired", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSFORM);
    assert_has(llmsvc_error_message(err), "header 'X-Gateway-Route' is too long");
    assert_lacks(llmsvc_error_message(err), "route-secret-");
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_provider_without_a_key_variable_sends_no_authorization)
{
    llmsvc_request *req = tu_request("local", "local-model", "hello");
    llmsvc_response *resp = call_ok(req);
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/local/v1/responses");
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    assert_jstr(s.body, "model", "local-model");
    ck_assert_int_eq(json_object_object_length(s.body), 2); /* model and input */
    sent_free(&s);
    /* no prices in the spec: no cost */
    ck_assert(llmsvc_response_cost_usd(resp) < 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ response */

START_TEST(a_basic_response_gives_text_id_model_usage_and_stop)
{
    json_object *fx = fixture("openai/basic.json");
    char *text = fixture_text(fx);
    ck_assert(strlen(text) > 0);
    serve("openai/basic.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "Write a haiku about recursion.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_str_eq(llmsvc_response_id(resp), jstr(fx, "id"));
    ck_assert_str_eq(llmsvc_response_model(resp), "gpt-6.2-sol"); /* {{model}} */
    ck_assert_str_eq(llmsvc_response_provider(resp), "openai");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    ck_assert_ptr_null(llmsvc_response_reasoning(resp));
    ck_assert_uint_eq(llmsvc_response_file_result_count(resp), 0);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT),
                     jint(fx, "usage.input_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT),
                     jint(fx, "usage.output_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL),
                     jint(fx, "usage.total_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING), 0);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT), 0);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 1);
    ck_assert(llmsvc_response_latency_ms(resp) > 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
    json_object_put(fx);
}
END_TEST

START_TEST(multi_message_text_concatenates_every_output_text_of_every_message)
{
    json_object *fx = fixture("openai/multi_message.json");
    char *text = fixture_text(fx);
    /* three parts in two message items */
    assert_has(text, "sea level. At higher");
    assert_has(text, "temperature. On the summit");
    serve("openai/multi_message.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "At what temperature does water boil?");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT),
                     jint(fx, "usage.output_tokens"));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
    json_object_put(fx);
}
END_TEST

START_TEST(file_search_results_keep_file_id_filename_score_and_text)
{
    json_object *fx = fixture("openai/file_search.json");
    json_object *results = jat(fx, "output.0.results");
    size_t n = json_object_array_length(results);
    ck_assert_uint_eq(n, 3);
    char *text = fixture_text(fx);
    serve("openai/file_search.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "What is the refund window for annual plans?");
    llmsvc_request_set_vector_store(req, "vs_68e3f1a2b9c48191a7d2c5e4f6b8a0d1", 20);
    llmsvc_response *resp = call_ok(req);
    ck_assert_uint_eq(llmsvc_response_file_result_count(resp), n);
    for (size_t i = 0; i < n; i++) {
        json_object *want = json_object_array_get_idx(results, i);
        const llmsvc_file_result *f = llmsvc_response_file_result(resp, i);
        ck_assert_ptr_nonnull(f);
        ck_assert_str_eq(f->file_id, jstr(want, "file_id"));
        ck_assert_str_eq(f->filename, jstr(want, "filename"));
        ck_assert_str_eq(f->text, jstr(want, "text"));
        ck_assert_double_eq(f->score, jnum(want, "score"));
    }
    ck_assert_ptr_null(llmsvc_response_file_result(resp, n));
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
    json_object_put(fx);
}
END_TEST

START_TEST(reasoning_gives_the_summary_and_reasoning_and_cached_tokens)
{
    json_object *fx = fixture("openai/reasoning.json");
    char *text = fixture_text(fx);
    serve("openai/reasoning.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "How many primes are there between 100 and 150?");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_reasoning(resp), jstr(fx, "output.0.summary.0.text"));
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING),
                     jint(fx, "usage.output_tokens_details.reasoning_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT),
                     jint(fx, "usage.input_tokens_details.cached_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT),
                     jint(fx, "usage.input_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT),
                     jint(fx, "usage.output_tokens"));
    ck_assert_int_gt(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING), 0);
    ck_assert_int_gt(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT), 0);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
    json_object_put(fx);
}
END_TEST

START_TEST(incomplete_at_max_output_tokens_finishes_with_length)
{
    json_object *fx = fixture("openai/incomplete.json");
    char *text = fixture_text(fx);
    serve("openai/incomplete.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "Tell me about the French Revolution.");
    llmsvc_request_set_number(req, "max_tokens", 16);
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "length");
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT), 16);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
    json_object_put(fx);
}
END_TEST

START_TEST(content_filter_finishes_with_content_filter)
{
    json_object *fx = fixture("openai/content_filter.json");
    char *text = fixture_text(fx);
    serve("openai/content_filter.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "Summarise this chapter.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "content_filter");
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT),
                     jint(fx, "usage.input_tokens"));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
    json_object_put(fx);
}
END_TEST

START_TEST(a_refusal_finishes_with_refusal_and_gives_its_text)
{
    json_object *fx = fixture("openai/refusal.json");
    serve("openai/refusal.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "Help me pick a lock.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "refusal");
    ck_assert_str_eq(llmsvc_response_message(resp), jstr(fx, "output.0.content.0.refusal"));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(a_failed_response_is_an_api_error_with_the_providers_message_and_code)
{
    json_object *fx = fixture("openai/failed.json");
    serve("openai/failed.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    assert_has(llmsvc_error_message(err), jstr(fx, "error.message"));
    ck_assert_str_eq(llmsvc_error_provider_code(err), jstr(fx, "error.code"));
    /* server_error: worth trying again */
    ck_assert(llmsvc_error_retryable(err));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

typedef struct error_case {
    int status;
    const char *fixture;
    const char *prefix; /* what the core puts before the provider's message */
    int retryable;
} error_case;

static const error_case error_cases[] = {
    {400, "openai/error_400_unsupported_parameter.json", "HTTP 400 from provider 'openai': ", 0},
    {401, "openai/error_401.json",
     "HTTP 401 from provider 'openai' (check the key in OPENAI_API_KEY): ", 0},
    {403, "openai/error_403.json",
     "HTTP 403 from provider 'openai' (check the key in OPENAI_API_KEY): ", 0},
    {404, "openai/error_404_model.json", "HTTP 404 from provider 'openai': ", 0},
    {429, "openai/error_429.json", "rate limited: HTTP 429 from provider 'openai': ", 1},
    {500, "openai/error_500.json", "HTTP 500 from provider 'openai': ", 1},
    {503, "openai/error_503.json", "HTTP 503 from provider 'openai': ", 1},
};

START_TEST(each_error_body_is_an_api_error_with_message_type_code_param_and_status)
{
    const error_case *c = &error_cases[_i];
    json_object *fx = fixture(c->fixture);
    script("{\"path\": \"/responses\", \"status\": %d, \"fixture\": \"%s\","
           " \"headers\": {\"retry-after\": \"2\"}}",
           c->status, c->fixture);
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);

    char *msg = with_model(jstr(fx, "error.message"), "gpt-6.2-sol");
    char want[2048];
    snprintf(want, sizeof want, "%s%s", c->prefix, msg);
    assert_text_eq(llmsvc_error_message(err), want);
    ck_assert_int_eq(llmsvc_error_http_status(err), c->status);
    ck_assert_int_eq(llmsvc_error_retryable(err), c->retryable);
    ck_assert_int_eq(llmsvc_error_retry_after_ms(err), 2000);
    const char *type = jstr(fx, "error.type"), *code = jstr(fx, "error.code"),
               *param = jstr(fx, "error.param");
    ck_assert_pstr_eq(llmsvc_error_provider_type(err), type);
    ck_assert_pstr_eq(llmsvc_error_provider_code(err), code);
    ck_assert_pstr_eq(llmsvc_error_param(err), param);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);

    /* the same in the error's JSON */
    char *json = NULL;
    ck_assert_int_eq(llmsvc_error_to_json(&json, err), LLMSVC_OK);
    json_object *ej = json_tokener_parse(json);
    assert_jstr(ej, "code", "API");
    assert_jstr(ej, "message", want);
    ck_assert_int_eq(jint(ej, "http_status"), c->status);
    ck_assert_int_eq(json_object_get_boolean(jat(ej, "retryable")), c->retryable);
    if (code)
        assert_jstr(ej, "provider_code", code);
    if (param)
        assert_jstr(ej, "param", param);
    json_object_put(ej);
    llmsvc_free(json);
    free(msg);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(an_error_status_without_an_error_object_is_an_api_error_quoting_the_body)
{
    script("{\"path\": \"/responses\", \"status\": 400,"
           " \"body\": \"{\\\"detail\\\": \\\"gateway refused the request\\\"}\"}");
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    assert_text_eq(llmsvc_error_message(err),
                     "HTTP 400 from provider 'openai': unreadable error body: "
                     "'{\"detail\": \"gateway refused the request\"}'");
    ck_assert_int_eq(llmsvc_error_http_status(err), 400);
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_ptr_null(llmsvc_error_provider_code(err));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_empty_error_body_is_an_api_error_saying_so)
{
    script("{\"path\": \"/responses\", \"status\": 404}");
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    assert_text_eq(llmsvc_error_message(err), "HTTP 404 from provider 'openai': empty error body");
    ck_assert_int_eq(llmsvc_error_http_status(err), 404);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_success_body_that_is_not_a_response_is_a_provider_error)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    script("{\"path\": \"/responses\", \"body\": \"[]\"}");
    llmsvc_error *err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "not a JSON object");
    ck_assert(!llmsvc_error_retryable(err));
    llmsvc_error_free(err);

    script("{\"path\": \"/responses\", \"body\": \"{\\\"id\\\": \\\"resp_1\\\", "
           "\\\"object\\\": \\\"response\\\", \\\"status\\\": \\\"completed\\\"}\"}");
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "no output list");
    llmsvc_error_free(err);

    script("{\"path\": \"/responses\", \"body\": \"{\\\"id\\\": \\\"resp_1\\\", "
           "\\\"object\\\": \\\"response\\\", \\\"status\\\": \\\"in_progress\\\", "
           "\\\"output\\\": []}\"}");
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "still in_progress");
    llmsvc_error_free(err);

    script("{\"path\": \"/responses\", \"body\": \"{\\\"id\\\": \\\"resp_1\\\", "
           "\\\"object\\\": \\\"response\\\", \\\"status\\\": \\\"cancelled\\\", "
           "\\\"output\\\": []}\"}");
    err = call_fail(req, LLMSVC_E_API);
    assert_has(llmsvc_error_message(err), "cancelled");
    llmsvc_error_free(err);
    /* none of these were retried */
    ck_assert_uint_eq(fake_upstream_request_count(fu), 4);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(response_json_reports_what_the_accessors_report)
{
    serve("openai/reasoning.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "How many primes are there between 100 and 150?");
    llmsvc_response *resp = call_ok(req);
    char *text = NULL;
    ck_assert_int_eq(llmsvc_response_to_json(&text, resp), LLMSVC_OK);
    json_object *j = json_tokener_parse(text);
    ck_assert_ptr_nonnull(j);
    assert_jstr(j, "id", llmsvc_response_id(resp));
    assert_jstr(j, "provider", "openai");
    assert_jstr(j, "model", "gpt-6.2-sol");
    assert_jstr(j, "message", llmsvc_response_message(resp));
    assert_jstr(j, "finish_reason", "stop");
    assert_jstr(j, "reasoning", llmsvc_response_reasoning(resp));
    ck_assert_int_eq(jint(j, "input_tokens"), llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT));
    ck_assert_int_eq(jint(j, "output_tokens"), llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT));
    ck_assert_int_eq(jint(j, "reasoning_tokens"),
                     llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING));
    ck_assert_int_eq(jint(j, "cached_input_tokens"),
                     llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT));
    ck_assert_int_eq(jint(j, "total_tokens"), llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL));
    ck_assert(fabs(jnum(j, "cost_usd") - llmsvc_response_cost_usd(resp)) <=
              1e-9 * llmsvc_response_cost_usd(resp));
    ck_assert_int_eq(jint(j, "attempts"), 1);
    json_object_put(j);
    llmsvc_free(text);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(reasoning_summaries_of_several_parts_are_joined_by_a_blank_line)
{
    json_object *fx = fixture("openai/reasoning.json");
    json_object *summary = jat(fx, "output.0.summary");
    const char *first = jstr(fx, "output.0.summary.0.text");
    size_t wlen = strlen(first) + 64;
    char *want = malloc(wlen);
    ck_assert_ptr_nonnull(want);
    snprintf(want, wlen, "%s\n\n%s", first, "**Double-checking 121 and 143**");
    json_object *part = json_object_new_object();
    json_object_object_add(part, "type", json_object_new_string("summary_text"));
    json_object_object_add(part, "text", json_object_new_string("**Double-checking 121 and 143**"));
    json_object_array_add(summary, part);
    serve_json(fx);
    llmsvc_request *req = oreq("gpt-6.2-sol", "How many primes are there between 100 and 150?");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_reasoning(resp), want);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(want);
    json_object_put(fx);
}
END_TEST

START_TEST(a_file_search_call_without_results_gives_none)
{
    /* what the API sends when include does not ask for the results */
    json_object *fx = fixture("openai/file_search.json");
    json_object_object_add(jat(fx, "output.0"), "results", NULL);
    char *text = fixture_text(fx);
    serve_json(fx);
    llmsvc_request *req = oreq("gpt-6.2-sol", "What is the refund window for annual plans?");
    llmsvc_request_set_vector_store(req, "vs_68e3f1a2b9c48191a7d2c5e4f6b8a0d1", 20);
    llmsvc_response *resp = call_ok(req);
    ck_assert_uint_eq(llmsvc_response_file_result_count(resp), 0);
    ck_assert_ptr_null(llmsvc_response_file_result(resp, 0));
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
    json_object_put(fx);
}
END_TEST

START_TEST(output_items_of_other_types_are_skipped)
{
    /* a web search call before the message, as the API sends with that tool */
    json_object *fx = fixture("openai/basic.json");
    char *text = fixture_text(fx);
    json_object *ws = json_tokener_parse(
        "{\"id\": \"ws_67ccf18f64008190a39b619f4c8455ef087f80db8d3a3cd0\","
        " \"type\": \"web_search_call\", \"status\": \"completed\"}");
    ck_assert_ptr_nonnull(ws);
    json_object *old = jat(fx, "output"), *output = json_object_new_array();
    json_object_array_add(output, ws);
    for (size_t i = 0; i < json_object_array_length(old); i++)
        json_object_array_add(output, json_object_get(json_object_array_get_idx(old, i)));
    json_object_object_add(fx, "output", output);
    serve_json(fx);
    llmsvc_request *req = oreq("gpt-6.2-sol", "Write a haiku about recursion.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
    json_object_put(fx);
}
END_TEST

START_TEST(a_response_without_usage_has_unknown_counts_and_no_cost)
{
    json_object *fx = fixture("openai/basic.json");
    json_object_object_add(fx, "usage", NULL);
    serve_json(fx);
    llmsvc_request *req = oreq("gpt-6.2-sol", "Write a haiku about recursion.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT), -1);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT), -1);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL), -1);
    ck_assert(llmsvc_response_cost_usd(resp) < 0);
    char *json = NULL;
    ck_assert_int_eq(llmsvc_response_to_json(&json, resp), LLMSVC_OK);
    json_object *j = json_tokener_parse(json);
    ck_assert(jhas(j, "cost_usd") && jat(j, "cost_usd") == NULL);
    ck_assert(jhas(j, "input_tokens") && jat(j, "input_tokens") == NULL);
    json_object_put(j);
    llmsvc_free(json);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(a_response_without_a_model_reports_the_model_asked_for)
{
    json_object *fx = fixture("openai/basic.json");
    json_object_object_del(fx, "model");
    serve_json(fx);
    llmsvc_request *req = oreq("gpt-6.2-sol", "Write a haiku about recursion.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_model(resp), "gpt-6.2-sol");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    /* and a dated snapshot the provider reports is kept as reported */
    json_object_object_add(fx, "model", json_object_new_string("gpt-6.2-sol-2026-11-17"));
    serve_json(fx);
    req = oreq("gpt-6.2-sol", "Write a haiku about recursion.");
    resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_model(resp), "gpt-6.2-sol-2026-11-17");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

/* ================================================================ conversation */

#define WEATHER_SCHEMA                                                                       \
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"description\":"      \
    "\"City name, e.g. Paris\"},\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\","          \
    "\"fahrenheit\"]}},\"required\":[\"city\",\"unit\"],\"additionalProperties\":false}"
#define WEATHER_PROMPT "What's the weather in Paris and in Tokyo right now?"

/* The exact source text of the value at `path` in a JSON text; with index >= 0,
 * of that item of the list there (malloc'd). */
static char *raw_of(const char *text, const char *path, int index)
{
    llmsvc_jdoc *d = NULL;
    llmsvc_error *err = NULL;
    ck_assert_msg(jdoc_parse(text, strlen(text), &d, &err) == LLMSVC_OK, "%s",
                  llmsvc_error_message(err));
    int node = *path ? jdoc_get(d, 0, path) : 0;
    ck_assert_msg(node >= 0, "no '%s' in the text", path);
    for (int i = 0; index >= 0 && i <= index; i++) {
        node = i == 0 ? jdoc_first(d, node) : jdoc_next(d, node);
        ck_assert_msg(node >= 0, "'%s' has no item %d", path, index);
    }
    size_t len;
    const char *r = jdoc_raw(d, node, &len);
    char *out = malloc(len + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, r, len);
    out[len] = '\0';
    jdoc_free(d);
    return out;
}

#define fixture_file(name) proto_fixture_text("", (name))

/* Whether two JSON texts hold equal values. */
#define json_same proto_json_same

#define assert_json_same(got, want)                                                          \
    do {                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                \
        ck_assert_msg(g_ && json_same(g_, w_), "got JSON\n  %s\nwant\n  %s", g_ ? g_ : "(null)", \
                      w_);                                                                   \
    } while (0)

/* The JSON text of a value in a recorded body (json-c's plain form). */
static const char *jtext(json_object *o, const char *path)
{
    json_object *v = jat(o, path);
    ck_assert_msg(v != NULL, "%s is absent", path);
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static llmsvc_request *from_json(const char *json)
{
    llmsvc_request *r = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_from_json(&r, json, strlen(json), &err);
    assert_code(rc, LLMSVC_OK, err);
    ck_assert_int_eq(llmsvc_request_set_base_url(r, base), LLMSVC_OK);
    return r;
}

#define add_weather_tool(req)                                                                  \
    proto_add_tool((req), "get_weather", "Get the current weather in a city", WEATHER_SCHEMA)

START_TEST(a_conversation_becomes_input_items_in_order)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "And which of them is older?");
    llmsvc_request_set_instructions(req, "You are a concise guide.");
    ck_assert_int_eq(llmsvc_request_add_message(req, "system", "Answer in English."), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_message(req, "developer", "Cite no sources."), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_message(req, "user", "What are these two bridges?"),
                     LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_image(req, "https://example.com/tower-bridge.jpg"),
                     LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_image(req, "data:image/png;base64,iVBORw0KGgo="),
                     LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_message(req, "assistant",
                                                "Tower Bridge in London and the Golden Gate."),
                     LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.body, "instructions", "You are a concise guide.");
    json_object *input = jat(s.body, "input");
    ck_assert(json_object_is_type(input, json_type_array));
    ck_assert_uint_eq(json_object_array_length(input), 5);
    assert_json_same(jtext(input, "0"), "{\"role\":\"system\",\"content\":\"Answer in English.\"}");
    assert_json_same(jtext(input, "1"),
                     "{\"role\":\"developer\",\"content\":\"Cite no sources.\"}");
    assert_json_same(jtext(input, "2"),
                     "{\"role\":\"user\",\"content\":["
                     "{\"type\":\"input_text\",\"text\":\"What are these two bridges?\"},"
                     "{\"type\":\"input_image\",\"image_url\":"
                     "\"https://example.com/tower-bridge.jpg\",\"detail\":\"auto\"},"
                     "{\"type\":\"input_image\",\"image_url\":"
                     "\"data:image/png;base64,iVBORw0KGgo=\",\"detail\":\"auto\"}]}");
    assert_json_same(jtext(input, "3"), "{\"role\":\"assistant\",\"content\":"
                                        "\"Tower Bridge in London and the Golden Gate.\"}");
    assert_json_same(jtext(input, "4"),
                     "{\"role\":\"user\",\"content\":\"And which of them is older?\"}");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_lone_user_turn_with_an_image_has_no_empty_text_part)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", NULL);
    llmsvc_request_add_message(req, "user", "");
    llmsvc_request_add_image(req, "https://example.com/receipt.png");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_json_same(jtext(s.body, "input"),
                     "[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":"
                     "\"https://example.com/receipt.png\",\"detail\":\"auto\"}]}]");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(tool_calls_and_tool_results_become_function_call_items)
{
    /* a conversation a host kept itself: no provider state, so the turns are rebuilt */
    llmsvc_request *req = from_json(
        "{\"llm\": {\"llm_model_spec\": {\"provider\": \"openai\", \"model\": \"gpt-4.1\"},"
        " \"messages\": ["
        "  {\"role\": \"user\", \"content\": \"" WEATHER_PROMPT "\"},"
        "  {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": ["
        "    {\"id\": \"call_Vx7Qm2Lk9Rt4Bn6Zc1Wd8Pj3\", \"name\": \"get_weather\","
        "     \"arguments\": \"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}\"},"
        "    {\"id\": \"call_Hs3Nf8Yq1Gu5Te0Ka7Mx2Cv9\", \"name\": \"get_weather\","
        "     \"arguments\": {\"city\": \"Tokyo\", \"unit\": \"celsius\"}}]},"
        "  {\"role\": \"tool\", \"tool_call_id\": \"call_Vx7Qm2Lk9Rt4Bn6Zc1Wd8Pj3\","
        "   \"content\": \"{\\\"temperature\\\":18,\\\"sky\\\":\\\"cloudy\\\"}\"},"
        "  {\"role\": \"tool\", \"tool_call_id\": \"call_Hs3Nf8Yq1Gu5Te0Ka7Mx2Cv9\","
        "   \"content\": \"24 degrees, clear\"},"
        "  {\"role\": \"assistant\", \"content\": \"Paris: 18 °C, Tokyo: 24 °C.\","
        "   \"tool_calls\": [{\"id\": \"call_3\", \"name\": \"get_weather\"}]}]}}");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    json_object *input = jat(s.body, "input");
    ck_assert_uint_eq(json_object_array_length(input), 7);
    assert_jstr(input, "0.role", "user");
    /* the assistant turn without text is its calls alone */
    assert_json_same(jtext(input, "1"),
                     "{\"type\":\"function_call\",\"call_id\":\"call_Vx7Qm2Lk9Rt4Bn6Zc1Wd8Pj3\","
                     "\"name\":\"get_weather\","
                     "\"arguments\":"
                     "\"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}\"}");
    assert_jstr(input, "2.type", "function_call");
    assert_jstr(input, "2.call_id", "call_Hs3Nf8Yq1Gu5Te0Ka7Mx2Cv9");
    assert_json_same(jstr(input, "2.arguments"), "{\"city\":\"Tokyo\",\"unit\":\"celsius\"}");
    assert_json_same(jtext(input, "3"),
                     "{\"type\":\"function_call_output\",\"call_id\":"
                     "\"call_Vx7Qm2Lk9Rt4Bn6Zc1Wd8Pj3\","
                     "\"output\":\"{\\\"temperature\\\":18,\\\"sky\\\":\\\"cloudy\\\"}\"}");
    assert_json_same(jtext(input, "4"),
                     "{\"type\":\"function_call_output\",\"call_id\":"
                     "\"call_Hs3Nf8Yq1Gu5Te0Ka7Mx2Cv9\",\"output\":\"24 degrees, clear\"}");
    /* text and a call: the message, then the call (arguments default to {}) */
    assert_json_same(jtext(input, "5"),
                     "{\"role\":\"assistant\",\"content\":\"Paris: 18 °C, Tokyo: 24 °C.\"}");
    assert_json_same(jtext(input, "6"), "{\"type\":\"function_call\",\"call_id\":\"call_3\","
                                        "\"name\":\"get_weather\",\"arguments\":\"{}\"}");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(tools_are_flat_function_tools_beside_the_file_search_tool)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", WEATHER_PROMPT);
    add_weather_tool(req);
    llmsvc_error *err = NULL;
    ck_assert_int_eq(llmsvc_request_add_tool(req, "get_time", NULL, NULL, &err), LLMSVC_OK);
    llmsvc_request_set_vector_store(req, "vs_68e3f1a2b9c48191a7d2c5e4f6b8a0d1", 4);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    json_object *tools = jat(s.body, "tools");
    ck_assert_uint_eq(json_object_array_length(tools), 3);
    assert_jstr(s.body, "tools.0.type", "file_search");
    assert_json_same(jtext(s.body, "tools.1"),
                     "{\"type\":\"function\",\"name\":\"get_weather\",\"description\":"
                     "\"Get the current weather in a city\",\"parameters\":" WEATHER_SCHEMA
                     ",\"strict\":false}");
    /* no description: none sent; no schema: an object */
    assert_json_same(jtext(s.body, "tools.2"),
                     "{\"type\":\"function\",\"name\":\"get_time\",\"parameters\":"
                     "{\"type\":\"object\"},\"strict\":false}");
    assert_json_same(jtext(s.body, "include"), "[\"file_search_call.results\"]");
    /* no choice and no parallel setting: the provider's defaults */
    ck_assert(!jhas(s.body, "tool_choice"));
    ck_assert(!jhas(s.body, "parallel_tool_calls"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

static const struct {
    const char *choice;
    const char *want; /* the JSON of tool_choice */
} choices[] = {
    {"auto", "\"auto\""},
    {"none", "\"none\""},
    {"required", "\"required\""},
    {"get_weather", "{\"type\":\"function\",\"name\":\"get_weather\"}"},
};

START_TEST(tool_choice_is_auto_none_required_or_a_named_function)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", WEATHER_PROMPT);
    add_weather_tool(req);
    ck_assert_int_eq(llmsvc_request_set_tool_choice(req, choices[_i].choice), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_json_same(jtext(s.body, "tool_choice"), choices[_i].want);
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(parallel_tool_calls_is_sent_as_set)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", WEATHER_PROMPT);
    add_weather_tool(req);
    for (int on = 0; on < 2; on++) {
        ck_assert_int_eq(llmsvc_request_set_parallel_tool_calls(req, on), LLMSVC_OK);
        llmsvc_response_free(call_ok(req));
        sent s = sent_get(-1);
        json_object *v = jat(s.body, "parallel_tool_calls");
        ck_assert(json_object_is_type(v, json_type_boolean));
        ck_assert_int_eq(json_object_get_boolean(v), on);
        sent_free(&s);
    }
    llmsvc_request_free(req);
}
END_TEST

#define PERSON_SCHEMA                                                                        \
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"born\":{\"type\":" \
    "\"integer\"}},\"required\":[\"name\",\"born\"],\"additionalProperties\":false}"

START_TEST(a_response_format_becomes_text_format_json_schema_beside_verbosity)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "Who built the Eiffel Tower?");
    llmsvc_request_set_string(req, "verbosity", "low");
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_set_response_format(req, "person", PERSON_SCHEMA, 1, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_json_same(jtext(s.body, "text"),
                     "{\"verbosity\":\"low\",\"format\":{\"type\":\"json_schema\",\"name\":"
                     "\"person\",\"schema\":" PERSON_SCHEMA ",\"strict\":true}}");
    sent_free(&s);
    /* not strict, and without verbosity */
    llmsvc_request_unset(req, "verbosity");
    rc = llmsvc_request_set_response_format(req, "person", PERSON_SCHEMA, 0, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_ok(req));
    s = sent_get(-1);
    ck_assert_int_eq(json_object_object_length(jat(s.body, "text")), 1);
    ck_assert(!json_object_get_boolean(jat(s.body, "text.format.strict")));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(store_false_asks_for_encrypted_reasoning_from_reasoning_models_only)
{
    static const struct {
        const char *model, *options, *include; /* include: NULL when none is wanted */
    } cases[] = {
        {"gpt-6.2-sol", "{\"store\": false}", "[\"reasoning.encrypted_content\"]"},
        {"gpt-6.2-sol", "{\"store\": true}", NULL},
        {"gpt-6.2-sol", NULL, NULL},
        {"gpt-4.1", "{\"store\": false}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        llmsvc_request *req = oreq(cases[i].model, "hello");
        llmsvc_error *err = NULL;
        if (cases[i].options)
            ck_assert_int_eq(llmsvc_request_set_provider_options(req, cases[i].options, &err),
                             LLMSVC_OK);
        llmsvc_response_free(call_ok(req));
        sent s = sent_get(-1);
        if (cases[i].include)
            assert_json_same(jtext(s.body, "include"), cases[i].include);
        else
            ck_assert_msg(!jhas(s.body, "include"), "case %zu sent an include", i);
        sent_free(&s);
        llmsvc_request_free(req);
    }
    /* with a vector store, both */
    llmsvc_request *req = oreq("gpt-6.2-sol", "refunds");
    llmsvc_request_set_vector_store(req, "vs_abc", 0);
    llmsvc_request_set_provider_options(req, "{\"store\": false}", NULL);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_json_same(jtext(s.body, "include"),
                     "[\"file_search_call.results\",\"reasoning.encrypted_content\"]");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_model_without_tools_refuses_them_before_any_request)
{
    llmsvc_request *req = tu_request("gateway", "gw-wired", WEATHER_PROMPT);
    add_weather_tool(req);
    llmsvc_error *err = call_fail(req, LLMSVC_E_VALIDATION);
    assert_has(llmsvc_error_message(err), "has no tools capability");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_strict_tools_option_makes_function_tools_strict)
{
    llmsvc_request *req = tu_request("gateway", "gw-tools", WEATHER_PROMPT);
    add_weather_tool(req);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert(json_object_get_boolean(jat(s.body, "tools.0.strict")));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

/* ---- tool calls and provider state ---- */

START_TEST(function_calls_become_tool_calls_finishing_with_tool_calls)
{
    json_object *fx = fixture("openai/tool_calls.json");
    serve("openai/tool_calls.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", WEATHER_PROMPT);
    add_weather_tool(req);
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "tool_calls");
    ck_assert_str_eq(llmsvc_response_message(resp), "");
    ck_assert_str_eq(llmsvc_response_reasoning(resp), jstr(fx, "output.0.summary.0.text"));
    ck_assert_uint_eq(llmsvc_response_tool_call_count(resp), 2);
    for (size_t i = 0; i < 2; i++) {
        const llmsvc_tool_call *c = llmsvc_response_tool_call(resp, i);
        char path[64];
        snprintf(path, sizeof path, "output.%zu", i + 1);
        json_object *item = jat(fx, path);
        /* the call_id (what a tool result answers), not the item's id */
        ck_assert_str_eq(c->id, jstr(item, "call_id"));
        ck_assert_str_eq(c->name, jstr(item, "name"));
        ck_assert_str_eq(c->arguments, jstr(item, "arguments"));
    }
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING),
                     jint(fx, "usage.output_tokens_details.reasoning_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL),
                     jint(fx, "usage.total_tokens"));
    /* the state: the output list, byte for byte as the provider sent it */
    char *text = fixture_file("openai/tool_calls.json");
    char *want = raw_of(text, "output", -1);
    const char *proto = NULL;
    ck_assert_str_eq(llmsvc_response_state(resp, &proto), want);
    ck_assert_str_eq(proto, "openai-responses");
    free(want);
    free(text);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(an_answer_without_reasoning_or_calls_has_no_state)
{
    static const char *const plain[] = {"openai/basic.json", "openai/file_search.json",
                                        "openai/refusal.json", "openai/multi_message.json"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        serve(plain[i]);
        llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
        llmsvc_response *resp = call_ok(req);
        ck_assert_msg(llmsvc_response_state(resp, NULL) == NULL, "%s gave a state", plain[i]);
        llmsvc_response_free(resp);
        llmsvc_request_free(req);
    }
    /* reasoning alone is state: its encrypted content must go back */
    serve("openai/reasoning.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_response *resp = call_ok(req);
    char *text = fixture_file("openai/reasoning.json");
    char *want = raw_of(text, "output", -1);
    ck_assert_str_eq(llmsvc_response_state(resp, NULL), want);
    free(want);
    free(text);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(reasoning_text_parts_are_reasoning_too)
{
    /* what OpenAI-compatible servers of open-weight models return: the raw
     * reasoning as reasoning_text content, no summary */
    json_object *fx = fixture("openai/reasoning.json");
    json_object *item = jat(fx, "output.0");
    json_object_object_add(item, "summary", json_object_new_array());
    json_object_object_add(
        item, "content",
        json_tokener_parse("[{\"type\": \"reasoning_text\", \"text\": \"101 is prime.\"},"
                           " {\"type\": \"reasoning_text\", \"text\": \"So is 103.\"}]"));
    serve_json(fx);
    llmsvc_request *req = oreq("gpt-6.2-sol", "primes?");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_reasoning(resp), "101 is prime.\n\nSo is 103.");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    /* and an empty summary gives no reasoning at all */
    json_object_object_add(item, "content", NULL);
    serve_json(fx);
    req = oreq("gpt-6.2-sol", "primes?");
    resp = call_ok(req);
    ck_assert_ptr_null(llmsvc_response_reasoning(resp));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(another_incomplete_reason_is_kept_as_the_finish_reason)
{
    json_object *fx = fixture("openai/incomplete.json");
    json_object_object_add(jat(fx, "incomplete_details"), "reason",
                           json_object_new_string("max_messages"));
    serve_json(fx);
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "max_messages");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    /* a function call cut by the output limit: length, not tool_calls */
    json_object *calls = fixture("openai/tool_calls.json");
    json_object_object_add(calls, "status", json_object_new_string("incomplete"));
    json_object_object_add(calls, "incomplete_details",
                           json_tokener_parse("{\"reason\": \"max_output_tokens\"}"));
    serve_json(calls);
    req = oreq("gpt-6.2-sol", WEATHER_PROMPT);
    add_weather_tool(req);
    resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "length");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(calls);
    json_object_put(fx);
}
END_TEST

/* Every item of the fixture's output list appears byte for byte in the body,
 * in order, as items start..start+n-1 of its input. */
static void assert_items_sent(const char *body_text, json_object *body, const char *fixture_name,
                              size_t start)
{
    char *text = fixture_file(fixture_name);
    json_object *fx = json_tokener_parse(text);
    size_t n = json_object_array_length(jat(fx, "output"));
    const char *from = body_text;
    for (size_t i = 0; i < n; i++) {
        char *item = raw_of(text, "output", (int)i);
        const char *at = strstr(from, item);
        ck_assert_msg(at != NULL, "item %zu of %s is not in the body byte for byte", i,
                      fixture_name);
        from = at + strlen(item);
        char path[32];
        snprintf(path, sizeof path, "%zu", start + i);
        assert_json_same(jtext(jat(body, "input"), path), item);
        free(item);
    }
    json_object_put(fx);
    free(text);
}

START_TEST(the_state_goes_back_byte_for_byte_in_place_of_the_assistant_turn)
{
    serve("openai/tool_calls.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", WEATHER_PROMPT);
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    add_weather_tool(req);
    llmsvc_response *first = call_ok(req);
    ck_assert_uint_eq(llmsvc_response_tool_call_count(first), 2);

    /* the next turn: the answer, the tool results, no new prompt */
    ck_assert_int_eq(llmsvc_request_set_prompt(req, NULL), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_message(req, "user", WEATHER_PROMPT), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_response(req, first), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 0)->id,
                                                    "{\"temperature\":18,\"sky\":\"cloudy\"}"),
                     LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 1)->id,
                                                    "{\"temperature\":24,\"sky\":\"clear\"}"),
                     LLMSVC_OK);
    serve("openai/tool_answer.json");
    llmsvc_response *second = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(second), "stop");
    ck_assert_str_eq(llmsvc_response_message(second),
                     "It is 18 °C and cloudy in Paris, and 24 °C and clear in Tokyo.");

    sent s = sent_get(-1);
    const char *body_text = jstr(s.rec, "body");
    json_object *input = jat(s.body, "input");
    ck_assert_uint_eq(json_object_array_length(input), 6);
    assert_jstr(input, "0.role", "user");
    assert_items_sent(body_text, s.body, "openai/tool_calls.json", 1);
    /* no rebuilt assistant message beside the state */
    ck_assert_uint_eq(tu_count(body_text, "\"role\":\"assistant\""), 0);
    assert_jstr(input, "4.type", "function_call_output");
    assert_jstr(input, "4.call_id", "call_Vx7Qm2Lk9Rt4Bn6Zc1Wd8Pj3");
    assert_jstr(input, "5.call_id", "call_Hs3Nf8Yq1Gu5Te0Ka7Mx2Cv9");
    /* and the encrypted reasoning with it */
    json_object *fx = fixture("openai/tool_calls.json");
    assert_has(body_text, jstr(fx, "output.0.encrypted_content"));
    json_object_put(fx);
    sent_free(&s);
    llmsvc_response_free(second);
    llmsvc_response_free(first);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_multi_turn_tool_conversation_sends_every_turn)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", NULL);
    add_weather_tool(req);
    llmsvc_request_add_message(req, "user", WEATHER_PROMPT);
    serve("openai/tool_calls.json");
    llmsvc_response *r1 = call_ok(req);
    llmsvc_request_add_response(req, r1);
    for (size_t i = 0; i < llmsvc_response_tool_call_count(r1); i++)
        llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(r1, i)->id, "18 C");
    serve("openai/tool_answer.json");
    llmsvc_response *r2 = call_ok(req);
    llmsvc_request_add_response(req, r2);
    llmsvc_request_add_message(req, "user", "Thanks! Should I pack an umbrella for Paris?");
    llmsvc_response *r3 = call_ok(req); /* basic.json */
    ck_assert_uint_eq(fake_upstream_request_count(fu), 3);

    sent s = sent_get(-1);
    const char *body_text = jstr(s.rec, "body");
    json_object *input = jat(s.body, "input");
    /* user, 3 items of r1, 2 tool results, 2 items of r2, user */
    ck_assert_uint_eq(json_object_array_length(input), 9);
    assert_jstr(input, "0.content", WEATHER_PROMPT);
    assert_items_sent(body_text, s.body, "openai/tool_calls.json", 1);
    assert_jstr(input, "4.type", "function_call_output");
    assert_jstr(input, "5.type", "function_call_output");
    assert_items_sent(body_text, s.body, "openai/tool_answer.json", 6);
    assert_jstr(input, "8.role", "user");
    assert_jstr(input, "8.content", "Thanks! Should I pack an umbrella for Paris?");
    /* the tools go with every turn */
    assert_jstr(s.body, "tools.0.name", "get_weather");
    sent_free(&s);
    llmsvc_response_free(r3);
    llmsvc_response_free(r2);
    llmsvc_response_free(r1);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(state_of_another_protocol_is_ignored_and_the_turn_rebuilt)
{
    llmsvc_request *req = from_json(
        "{\"llm\": {\"llm_model_spec\": {\"provider\": \"openai\", \"model\": \"gpt-6.2-sol\"},"
        " \"messages\": ["
        "  {\"role\": \"user\", \"content\": \"Weather in Paris?\"},"
        "  {\"role\": \"assistant\", \"content\": \"Let me check.\", \"tool_calls\": ["
        "    {\"id\": \"toolu_01A\", \"name\": \"get_weather\","
        "     \"arguments\": {\"city\": \"Paris\"}}],"
        "   \"state\": {\"protocol\": \"anthropic-messages\", \"data\":"
        "    \"[{\\\"type\\\":\\\"thinking\\\",\\\"thinking\\\":\\\"hmm\\\","
        "\\\"signature\\\":\\\"EqQBCkYIBxgCKkBsig\\\"}]\"}},"
        "  {\"role\": \"tool\", \"tool_call_id\": \"toolu_01A\", \"content\": \"18 C\"}]}}");
    add_weather_tool(req);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    const char *body_text = jstr(s.rec, "body");
    assert_lacks(body_text, "EqQBCkYIBxgCKkBsig");
    assert_lacks(body_text, "thinking");
    json_object *input = jat(s.body, "input");
    ck_assert_uint_eq(json_object_array_length(input), 4);
    assert_json_same(jtext(input, "1"), "{\"role\":\"assistant\",\"content\":\"Let me check.\"}");
    assert_jstr(input, "2.type", "function_call");
    assert_jstr(input, "2.call_id", "toolu_01A");
    assert_jstr(input, "3.call_id", "toolu_01A");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(state_of_this_protocol_that_is_not_a_list_is_a_transform_error)
{
    static const char *const bad[] = {"{\\\"type\\\":\\\"reasoning\\\"}", "[{\\\"type\\\":",
                                      "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"llm\": {\"llm_model_spec\": {\"provider\": \"openai\", \"model\": "
                 "\"gpt-6.2-sol\"}, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"},"
                 " {\"role\": \"assistant\", \"content\": \"hello\", \"state\": {\"protocol\":"
                 " \"openai-responses\", \"data\": \"%s\"}},"
                 " {\"role\": \"user\", \"content\": \"again\"}]}}",
                 bad[i]);
        llmsvc_request *req = from_json(json);
        llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSFORM);
        assert_has(llmsvc_error_message(err), "state of conversation turn 1");
        ck_assert(!llmsvc_error_retryable(err));
        llmsvc_error_free(err);
        llmsvc_request_free(req);
    }
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
}
END_TEST

START_TEST(reasoning_items_of_the_state_do_not_go_to_a_model_that_does_not_reason)
{
    /* the conversation moves from gpt-6.2-sol to gpt-4.1 after the tool calls */
    serve("openai/tool_calls.json");
    llmsvc_request *req = oreq("gpt-6.2-sol", NULL);
    add_weather_tool(req);
    llmsvc_request_add_message(req, "user", WEATHER_PROMPT);
    llmsvc_response *first = call_ok(req);
    llmsvc_request_add_response(req, first);
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 0)->id, "18 C");
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 1)->id, "24 C");
    ck_assert_int_eq(llmsvc_request_set_model(req, "gpt-4.1"), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    const char *body_text = jstr(s.rec, "body");
    assert_lacks(body_text, "\"type\":\"reasoning\"");
    assert_lacks(body_text, "encrypted_content");
    json_object *input = jat(s.body, "input");
    ck_assert_uint_eq(json_object_array_length(input), 5);
    char *text = fixture_file("openai/tool_calls.json");
    for (int i = 1; i <= 2; i++) {
        char *item = raw_of(text, "output", i);
        assert_has(body_text, item);
        free(item);
    }
    free(text);
    sent_free(&s);
    llmsvc_response_free(first);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(function_calls_without_reasoning_are_state_too)
{
    /* a model that does not reason (gpt-4.1): the function_call items go back as they came */
    json_object *fx = fixture("openai/tool_calls.json");
    json_object_array_del_idx(jat(fx, "output"), 0, 1);
    serve_json(fx);
    llmsvc_request *req = oreq("gpt-4.1", WEATHER_PROMPT);
    add_weather_tool(req);
    llmsvc_response *first = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(first), "tool_calls");
    ck_assert_ptr_null(llmsvc_response_reasoning(first));
    const char *state = llmsvc_response_state(first, NULL);
    ck_assert_ptr_nonnull(state);
    assert_json_same(state, json_object_to_json_string(jat(fx, "output")));
    llmsvc_request_set_prompt(req, NULL);
    llmsvc_request_add_message(req, "user", WEATHER_PROMPT);
    llmsvc_request_add_response(req, first);
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 0)->id, "18 C");
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 1)->id, "24 C");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    json_object *input = jat(s.body, "input");
    ck_assert_uint_eq(json_object_array_length(input), 5);
    assert_json_same(jtext(input, "1"), json_object_to_json_string(jat(fx, "output.0")));
    assert_json_same(jtext(input, "2"), json_object_to_json_string(jat(fx, "output.1")));
    sent_free(&s);
    llmsvc_response_free(first);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

/* ================================================================ cost */

/* The pricing object the runtime reports for an openai model. */
#define model_pricing(models, model) proto_model_pricing((models), NULL, (model))

/* A price per 1M tokens, or -1 when the spec gives none. */
#define price proto_price

static const struct {
    const char *model;
    const char *fixture;
} cost_cases[] = {
    {"gpt-6.2-sol", "openai/reasoning.json"},     /* cached input and reasoning */
    {"gpt-6-sol", "openai/reasoning.json"},       /* another cached price */
    {"gpt-4.1", "openai/basic.json"},             /* no cache at all */
    {"gpt-6.2-sol", "openai/cached_prompt.json"}, /* cache reads and writes */
    {"gpt-4.1", "openai/cached_prompt.json"},     /* no cache-write price: input price */
};

START_TEST(cost_is_usage_times_the_models_prices)
{
    const char *model = cost_cases[_i].model;
    char *text = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_runtime_models_json(&text, rt, "openai", &err);
    assert_code(rc, LLMSVC_OK, err);
    json_object *models = json_tokener_parse(text);
    llmsvc_free(text);
    json_object *pr = model_pricing(models, model);
    double p_in = price(pr, "input_per_mtok"), p_out = price(pr, "output_per_mtok");
    double p_cached = price(pr, "cached_input_per_mtok");
    double p_write = price(pr, "cache_write_per_mtok");
    ck_assert(p_in > 0 && p_out > 0);
    if (p_cached < 0)
        p_cached = p_in;
    if (p_write < 0)
        p_write = p_in;

    json_object *fx = fixture(cost_cases[_i].fixture);
    int64_t in = jint(fx, "usage.input_tokens"), out = jint(fx, "usage.output_tokens");
    int64_t cached = jint(fx, "usage.input_tokens_details.cached_tokens");
    int64_t written = jint(fx, "usage.input_tokens_details.cache_write_tokens");
    int64_t reasoning = jint(fx, "usage.output_tokens_details.reasoning_tokens");
    /* reasoning tokens are part of output_tokens and billed as output, once */
    double want = ((double)(in - cached - written) * p_in + (double)cached * p_cached +
                   (double)written * p_write + (double)out * p_out) /
                  1e6;

    serve(cost_cases[_i].fixture);
    llmsvc_request *req = oreq(model, "How much does this cost?");
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHE_WRITE), written);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING), reasoning);
    double got = llmsvc_response_cost_usd(resp);
    ck_assert_msg(want > 0 && fabs(got - want) <= 1e-12 * want,
                  "%s with %s: cost %.12g USD, want %.12g USD", model, cost_cases[_i].fixture, got,
                  want);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
    json_object_put(models);
}
END_TEST

/* ================================================================ secrets */

/* Fails without ever printing the key. */
#define assert_no_secret(text, what) proto_assert_no_secret((text), (what), SECRET_KEY, 8)

static void setup_secret(void)
{
    setup();
    tu_setenv("OPENAI_API_KEY", SECRET_KEY);
}

/* Runs req, which must fail with want, and checks the error and its JSON. */
static void fail_without_secret(llmsvc_request *req, llmsvc_code want)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    ck_assert_msg(rc == want, "expected %s, got %s", llmsvc_code_name(want),
                  llmsvc_code_name(rc));
    ck_assert_ptr_nonnull(err);
    assert_no_secret(llmsvc_error_message(err), "the error message");
    char *json = NULL;
    ck_assert_int_eq(llmsvc_error_to_json(&json, err), LLMSVC_OK);
    assert_no_secret(json, "the error's JSON");
    llmsvc_free(json);
    llmsvc_error_free(err);
}

static void assert_log_has_no_secret(void)
{
    char *log = tu_log_text(&logs);
    ck_assert_msg(strlen(log) > 0, "nothing was logged at LLMSVC_LOG_DEBUG");
    assert_no_secret(log, "the log");
    free(log);
}

START_TEST(a_401_never_shows_the_key)
{
    script("{\"path\": \"/responses\", \"status\": 401, \"fixture\": \"openai/error_401.json\"}");
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    fail_without_secret(req, LLMSVC_E_API);
    /* the key was really sent: this test is not vacuous */
    sent s = sent_get(-1);
    const char *auth = sent_header(&s, "authorization");
    ck_assert_msg(auth && strcmp(auth, "Bearer " SECRET_KEY) == 0, "the key was not sent");
    sent_free(&s);
    assert_log_has_no_secret();
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_transport_error_never_shows_the_key)
{
    /* reset twice: the retry's log line carries the first error's message */
    script("{\"path\": \"/responses\", \"fault\": \"reset\", \"times\": 2}");
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_request_set_max_retries(req, 1);
    fail_without_secret(req, LLMSVC_E_TRANSPORT);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 2);
    char *log = tu_log_text(&logs);
    assert_has(log, "attempt 1 failed");
    free(log);
    assert_log_has_no_secret();
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_validation_error_never_shows_the_key)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    llmsvc_request_set_number(req, "temperature", 0.5);
    fail_without_secret(req, LLMSVC_E_VALIDATION);
    llmsvc_request_free(req);
    req = oreq("no-such-model", "hello");
    fail_without_secret(req, LLMSVC_E_UNKNOWN_MODEL);
    llmsvc_request_free(req);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    assert_log_has_no_secret();
}
END_TEST

START_TEST(a_key_with_a_line_break_is_a_config_error_naming_the_variable)
{
    /* a key read from a file with Windows line endings ends in "\r"; and a key
     * must never smuggle a second header in */
    static const char *const bad[] = {SECRET_KEY "\r", SECRET_KEY "\r\nX-Injected: 1"};
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    for (size_t i = 0; i < 2; i++) {
        tu_setenv("OPENAI_API_KEY", bad[i]);
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
        ck_assert_ptr_nonnull(err);
        assert_no_secret(llmsvc_error_message(err), "the error message");
        ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
        /* what the user must see: a configuration problem, and where it is */
        ck_assert_msg(rc == LLMSVC_E_CONFIG, "expected CONFIG, got %s: %s", llmsvc_code_name(rc),
                      shown(llmsvc_error_message(err)));
        assert_has(llmsvc_error_message(err), "OPENAI_API_KEY");
        llmsvc_error_free(err);
    }
    assert_log_has_no_secret();
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_401_with_a_per_call_key_does_not_blame_the_variable)
{
    /* the key came from llmsvc_request_set_api_key; OPENAI_API_KEY is not even set */
    tu_unsetenv("OPENAI_API_KEY");
    script("{\"path\": \"/responses\", \"status\": 401, \"fixture\": \"openai/error_401.json\"}");
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    ck_assert_int_eq(llmsvc_request_set_api_key(req, SECRET_KEY), LLMSVC_OK);
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    ck_assert_msg(rc == LLMSVC_E_API, "expected API, got %s", llmsvc_code_name(rc));
    assert_no_secret(llmsvc_error_message(err), "the error message");
    assert_has(llmsvc_error_message(err), "HTTP 401 from provider 'openai'");
    assert_lacks(llmsvc_error_message(err), "OPENAI_API_KEY");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_overlong_key_is_a_config_error_that_does_not_show_it)
{
    size_t n = 120, len = strlen(SECRET_KEY);
    char *key = malloc(n * len + 1);
    ck_assert_ptr_nonnull(key);
    for (size_t i = 0; i < n; i++)
        memcpy(key + i * len, SECRET_KEY, len);
    key[n * len] = '\0';
    tu_setenv("OPENAI_API_KEY", key);
    free(key);
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    fail_without_secret(req, LLMSVC_E_CONFIG);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    assert_log_has_no_secret();
    llmsvc_request_free(req);
}
END_TEST

START_TEST(neither_the_request_json_nor_a_response_holds_the_key)
{
    llmsvc_request *req = oreq("gpt-6.2-sol", "hello");
    ck_assert_int_eq(llmsvc_request_set_api_key(req, SECRET_KEY), LLMSVC_OK);
    char *json = NULL;
    ck_assert_int_eq(llmsvc_request_to_json(&json, req), LLMSVC_OK);
    assert_no_secret(json, "llmsvc_request_to_json");
    llmsvc_free(json);
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_to_json(&json, resp), LLMSVC_OK);
    assert_no_secret(json, "llmsvc_response_to_json");
    assert_no_secret(llmsvc_response_message(resp), "the response message");
    llmsvc_free(json);
    llmsvc_response_free(resp);
    assert_log_has_no_secret();
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ suite */

static Suite *openai_responses_suite(void)
{
    Suite *s = suite_create("openai_responses");
    TCase *tc = tu_tcase("request");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, posts_the_prompt_as_input_to_base_url_responses);
    tcase_add_test(tc, a_callers_user_agent_or_accept_replaces_the_default);
    tcase_add_test(tc, many_long_headers_all_arrive);
    tcase_add_test(tc, instructions_are_sent_as_instructions);
    tcase_add_test(tc, temperature_and_top_p_are_sent_with_effort_none);
    tcase_add_test(tc, temperature_and_top_p_on_gpt_4_1_go_without_a_reasoning_object);
    tcase_add_test(tc, max_tokens_becomes_max_output_tokens);
    tcase_add_test(tc, effort_and_verbosity_become_reasoning_effort_and_text_verbosity);
    tcase_add_loop_test(tc, spec_defaults_are_filled_in, 0,
                        (int)(sizeof defaults / sizeof *defaults));
    tcase_add_test(tc, a_vector_store_becomes_a_file_search_tool_with_results_included);
    tcase_add_test(tc, a_vector_store_without_a_result_count_leaves_the_providers_default);
    tcase_add_test(tc, no_vector_store_means_no_tools_and_no_include);
    tcase_add_test(tc, the_key_goes_in_a_bearer_authorization_header);
    tcase_add_test(tc, no_key_is_a_config_error_naming_the_variable_and_nothing_is_sent);
    tcase_add_test(tc, organization_and_project_headers_are_sent_only_when_set);
    tcase_add_test(tc, provider_options_are_merged_into_the_body_last);
    tcase_add_test(tc, a_parameter_the_model_does_not_take_is_refused_before_any_request);
    tcase_add_test(tc, a_retired_model_fails_before_any_request_naming_its_replacement);
    suite_add_tcase(s, tc);

    tc = tu_tcase("base_url");
    tcase_add_checked_fixture(tc, setup_env, teardown);
    tcase_add_test(tc, the_spec_base_url_is_used_when_nothing_overrides_it);
    tcase_add_test(tc, openai_base_url_overrides_the_spec);
    tcase_add_test(tc, a_per_call_base_url_overrides_the_environment);
    tcase_add_test(tc, no_env_ignores_openai_base_url);
    tcase_add_test(tc, a_non_http_openai_base_url_is_a_config_error);
    tcase_add_test(tc, a_base_url_with_credentials_or_a_query_is_refused_without_echoing_it);
    suite_add_tcase(s, tc);

    tc = tu_tcase("spec_rules");
    tcase_add_checked_fixture(tc, setup_spec, teardown);
    tcase_add_test(tc, a_spec_wire_name_replaces_the_plugins_field);
    tcase_add_test(tc, a_parameter_with_no_field_in_the_responses_api_is_a_transform_error);
    tcase_add_test(tc, a_wire_name_with_an_empty_key_is_a_transform_error_naming_it);
    tcase_add_test(tc, spec_headers_are_sent_literal_or_from_their_variable);
    tcase_add_test(tc, an_overlong_header_is_a_transform_error_naming_only_the_header);
    tcase_add_test(tc, a_provider_without_a_key_variable_sends_no_authorization);
    tcase_add_test(tc, a_model_without_tools_refuses_them_before_any_request);
    tcase_add_test(tc, the_strict_tools_option_makes_function_tools_strict);
    suite_add_tcase(s, tc);

    tc = tu_tcase("response");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_basic_response_gives_text_id_model_usage_and_stop);
    tcase_add_test(tc, multi_message_text_concatenates_every_output_text_of_every_message);
    tcase_add_test(tc, file_search_results_keep_file_id_filename_score_and_text);
    tcase_add_test(tc, reasoning_gives_the_summary_and_reasoning_and_cached_tokens);
    tcase_add_test(tc, incomplete_at_max_output_tokens_finishes_with_length);
    tcase_add_test(tc, content_filter_finishes_with_content_filter);
    tcase_add_test(tc, a_refusal_finishes_with_refusal_and_gives_its_text);
    tcase_add_test(tc, a_failed_response_is_an_api_error_with_the_providers_message_and_code);
    tcase_add_loop_test(tc,
                        each_error_body_is_an_api_error_with_message_type_code_param_and_status, 0,
                        (int)(sizeof error_cases / sizeof *error_cases));
    tcase_add_test(tc, an_error_status_without_an_error_object_is_an_api_error_quoting_the_body);
    tcase_add_test(tc, an_empty_error_body_is_an_api_error_saying_so);
    tcase_add_test(tc, a_success_body_that_is_not_a_response_is_a_provider_error);
    tcase_add_test(tc, response_json_reports_what_the_accessors_report);
    tcase_add_test(tc, reasoning_summaries_of_several_parts_are_joined_by_a_blank_line);
    tcase_add_test(tc, a_file_search_call_without_results_gives_none);
    tcase_add_test(tc, output_items_of_other_types_are_skipped);
    tcase_add_test(tc, a_response_without_usage_has_unknown_counts_and_no_cost);
    tcase_add_test(tc, a_response_without_a_model_reports_the_model_asked_for);
    suite_add_tcase(s, tc);

    tc = tu_tcase("conversation");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_conversation_becomes_input_items_in_order);
    tcase_add_test(tc, a_lone_user_turn_with_an_image_has_no_empty_text_part);
    tcase_add_test(tc, tool_calls_and_tool_results_become_function_call_items);
    tcase_add_test(tc, tools_are_flat_function_tools_beside_the_file_search_tool);
    tcase_add_loop_test(tc, tool_choice_is_auto_none_required_or_a_named_function, 0,
                        (int)(sizeof choices / sizeof *choices));
    tcase_add_test(tc, parallel_tool_calls_is_sent_as_set);
    tcase_add_test(tc, a_response_format_becomes_text_format_json_schema_beside_verbosity);
    tcase_add_test(tc, store_false_asks_for_encrypted_reasoning_from_reasoning_models_only);
    suite_add_tcase(s, tc);

    tc = tu_tcase("state");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, function_calls_become_tool_calls_finishing_with_tool_calls);
    tcase_add_test(tc, an_answer_without_reasoning_or_calls_has_no_state);
    tcase_add_test(tc, reasoning_text_parts_are_reasoning_too);
    tcase_add_test(tc, another_incomplete_reason_is_kept_as_the_finish_reason);
    tcase_add_test(tc, the_state_goes_back_byte_for_byte_in_place_of_the_assistant_turn);
    tcase_add_test(tc, a_multi_turn_tool_conversation_sends_every_turn);
    tcase_add_test(tc, state_of_another_protocol_is_ignored_and_the_turn_rebuilt);
    tcase_add_test(tc, state_of_this_protocol_that_is_not_a_list_is_a_transform_error);
    tcase_add_test(tc, function_calls_without_reasoning_are_state_too);
    tcase_add_test(tc, reasoning_items_of_the_state_do_not_go_to_a_model_that_does_not_reason);
    suite_add_tcase(s, tc);

    tc = tu_tcase("cost");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, cost_is_usage_times_the_models_prices, 0,
                        (int)(sizeof cost_cases / sizeof *cost_cases));
    suite_add_tcase(s, tc);

    tc = tu_tcase("secrets");
    tcase_add_checked_fixture(tc, setup_secret, teardown);
    tcase_add_test(tc, a_401_never_shows_the_key);
    tcase_add_test(tc, a_transport_error_never_shows_the_key);
    tcase_add_test(tc, a_validation_error_never_shows_the_key);
    tcase_add_test(tc, a_key_with_a_line_break_is_a_config_error_naming_the_variable);
    tcase_add_test(tc, a_401_with_a_per_call_key_does_not_blame_the_variable);
    tcase_add_test(tc, an_overlong_key_is_a_config_error_that_does_not_show_it);
    tcase_add_test(tc, neither_the_request_json_nor_a_response_holds_the_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(openai_responses_suite());
}
