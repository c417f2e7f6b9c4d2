/* test_request_json — the LLMCallRequest JSON shape of the original module
 * read into an llmsvc_request and written back: nulls mean unset, unknown
 * fields and wrong types are VALIDATION errors naming the field path,
 * malformed JSON names the byte offset. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "testutil.h"

/* As the original module's LLMCallRequest serialised it. */
static const char original[] =
    "{\"llm\": {\"prompt\": \"What does the contract say about renewal?\", "
    "\"vector_store_id\": \"vs_abc123\", "
    "\"llm_model_spec\": {\"model\": \"gpt-4\", \"provider\": \"openai\", \"temperature\": 0.7, "
    "\"max_tokens\": 500, \"reasoning\": {\"effort\": \"high\"}, "
    "\"text\": {\"verbosity\": \"medium\"}}}, "
    "\"max_num_results\": 10}";

static llmsvc_request *parse_ok(const char *json)
{
    llmsvc_request *r = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_from_json(&r, json, strlen(json), &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* Parses json, expecting VALIDATION; returns the message (static copy). */
static const char *parse_fails(const char *json)
{
    static char msg[2048];
    llmsvc_request *r = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_from_json(&r, json, strlen(json), &err);
    ck_assert_msg(rc == LLMSVC_E_VALIDATION, "expected VALIDATION for %s, got %s", json,
                  llmsvc_code_name(rc));
    ck_assert_ptr_null(r);
    ck_assert_int_eq(llmsvc_error_code(err), LLMSVC_E_VALIDATION);
    ck_assert_int_eq(llmsvc_error_retryable(err), 0);
    snprintf(msg, sizeof msg, "%s", llmsvc_error_message(err));
    llmsvc_error_free(err);
    return msg;
}

#define assert_number(r, id, v)                                                                    \
    do {                                                                                           \
        ck_assert_msg((r)->params[id].set, "%s not set", #id);                                     \
        ck_assert_msg(fabs((r)->params[id].number - (v)) < 1e-12, "%s is %g", #id,                 \
                      (r)->params[id].number);                                                     \
    } while (0)

START_TEST(parses_the_original_modules_request_shape)
{
    llmsvc_request *r = parse_ok(original);
    ck_assert_str_eq(r->prompt, "What does the contract say about renewal?");
    ck_assert_str_eq(r->vector_store_id, "vs_abc123");
    ck_assert_str_eq(r->model, "gpt-4");
    ck_assert_str_eq(r->provider, "openai");
    assert_number(r, P_TEMPERATURE, 0.7);
    assert_number(r, P_MAX_TOKENS, 500);
    ck_assert(r->params[P_REASONING_EFFORT].set);
    ck_assert_str_eq(r->params[P_REASONING_EFFORT].string, "high");
    ck_assert(r->params[P_VERBOSITY].set);
    ck_assert_str_eq(r->params[P_VERBOSITY].string, "medium");
    ck_assert_int_eq(r->max_num_results, 10);
    ck_assert(!r->params[P_TOP_P].set);
    ck_assert_ptr_null(r->instructions);
    ck_assert_ptr_null(r->provider_options);
    llmsvc_request_free(r);
}
END_TEST

START_TEST(parses_every_documented_field)
{
    llmsvc_request *r = parse_ok(
        "{\"llm\": {\"prompt\": \"p\", \"instructions\": \"be brief\", "
        "\"llm_model_spec\": {\"provider\": \"mock\", \"model\": \"mock-1\", \"top_p\": 0.9, "
        "\"top_k\": 40, \"seed\": 7, \"stop\": [\"END\", \"STOP\"], \"presence_penalty\": 0.5, "
        "\"frequency_penalty\": -0.5, \"reasoning_effort\": \"low\", \"verbosity\": \"high\"}}, "
        "\"provider_options\": {\"reply\": \"scripted\", \"latency_ms\": 5}}");
    ck_assert_str_eq(r->instructions, "be brief");
    assert_number(r, P_TOP_P, 0.9);
    assert_number(r, P_TOP_K, 40);
    assert_number(r, P_SEED, 7);
    assert_number(r, P_PRESENCE_PENALTY, 0.5);
    assert_number(r, P_FREQUENCY_PENALTY, -0.5);
    ck_assert_int_eq(r->params[P_STOP].list_len, 2);
    ck_assert_str_eq(r->params[P_STOP].list[1], "STOP");
    ck_assert_str_eq(r->params[P_REASONING_EFFORT].string, "low");
    ck_assert_str_eq(r->params[P_VERBOSITY].string, "high");
    ck_assert_ptr_nonnull(r->provider_options);
    json_object *v;
    ck_assert(json_object_object_get_ex(r->provider_options, "reply", &v));
    ck_assert_str_eq(json_object_get_string(v), "scripted");
    llmsvc_request_free(r);

    /* a single stop string is a list of one */
    r = parse_ok("{\"llm\": {\"llm_model_spec\": {\"stop\": \"END\"}}}");
    ck_assert_int_eq(r->params[P_STOP].list_len, 1);
    ck_assert_str_eq(r->params[P_STOP].list[0], "END");
    llmsvc_request_free(r);
}
END_TEST

START_TEST(nulls_mean_unset)
{
    llmsvc_request *r = parse_ok(
        "{\"llm\": {\"prompt\": \"hi\", \"instructions\": null, \"vector_store_id\": null, "
        "\"llm_model_spec\": {\"model\": \"gpt-4\", \"provider\": \"openai\", "
        "\"temperature\": null, \"max_tokens\": null, \"top_p\": null, \"stop\": null, "
        "\"reasoning\": {\"effort\": null}, \"text\": null}}, "
        "\"max_num_results\": null, \"provider_options\": null}");
    ck_assert_str_eq(r->prompt, "hi");
    ck_assert_ptr_null(r->instructions);
    ck_assert_ptr_null(r->vector_store_id);
    for (int i = 0; i < P_COUNT; i++)
        ck_assert_msg(!r->params[i].set, "%s is set", param_defs[i].name);
    ck_assert_int_eq(r->max_num_results, 0);
    ck_assert_ptr_null(r->provider_options);
    llmsvc_request_free(r);

    r = parse_ok("{\"llm\": {\"llm_model_spec\": null}}");
    ck_assert_ptr_null(r->model);
    llmsvc_request_free(r);
}
END_TEST

START_TEST(an_unknown_field_names_its_path_and_the_closest_known_one)
{
    const char *m = parse_fails("{\"llm\": {\"prompt\": \"hi\", \"llm_model_spec\": "
                                "{\"model\": \"gpt-4\", \"temprature\": 0.7}}}");
    tu_assert_has(m, "unknown field 'llm.llm_model_spec.temprature'");
    tu_assert_has(m, "did you mean 'llm.llm_model_spec.temperature'?");

    m = parse_fails("{\"llm\": {\"promt\": \"hi\"}}");
    tu_assert_has(m, "unknown field 'llm.promt'");
    tu_assert_has(m, "did you mean 'llm.prompt'?");

    m = parse_fails("{\"llm\": {\"prompt\": \"hi\"}, \"max_num_result\": 3}");
    tu_assert_has(m, "unknown field 'max_num_result'");
    tu_assert_has(m, "did you mean 'max_num_results'?");

    m = parse_fails("{\"llm\": {\"llm_model_spec\": {\"reasoning\": {\"efort\": \"high\"}}}}");
    tu_assert_has(m, "unknown field 'llm.llm_model_spec.reasoning.efort'");
    tu_assert_has(m, "did you mean 'llm.llm_model_spec.reasoning.effort'?");

    /* nothing close: no suggestion */
    m = parse_fails("{\"llm\": {\"prompt\": \"hi\"}, \"callback_url\": \"https://x\"}");
    tu_assert_has(m, "unknown field 'callback_url'");
    tu_assert_lacks(m, "did you mean");
}
END_TEST

START_TEST(an_unknown_field_is_the_errors_param)
{
    /* as for a wrong type: a host reads the field from llmsvc_error_param */
    const char *j = "{\"llm\": {\"llm_model_spec\": {\"temprature\": 0.7}}}";
    llmsvc_request *r = NULL;
    llmsvc_error *err = NULL;
    ck_assert_int_eq(llmsvc_request_from_json(&r, j, strlen(j), &err), LLMSVC_E_VALIDATION);
    ck_assert_ptr_nonnull(llmsvc_error_param(err));
    ck_assert_str_eq(llmsvc_error_param(err), "llm.llm_model_spec.temprature");
    llmsvc_error_free(err);
}
END_TEST

START_TEST(a_wrong_type_names_the_field_and_the_type_wanted)
{
    static const char *const cases[][2] = {
        {"{\"llm\": {\"prompt\": 5}}", "'llm.prompt' must be a string"},
        {"{\"llm\": {\"llm_model_spec\": {\"temperature\": \"hot\"}}}",
         "'llm.llm_model_spec.temperature' must be a number"},
        {"{\"llm\": {\"llm_model_spec\": {\"max_tokens\": 1.5}}}",
         "'llm.llm_model_spec.max_tokens' must be a whole number"},
        {"{\"llm\": {\"llm_model_spec\": {\"max_tokens\": \"500\"}}}",
         "'llm.llm_model_spec.max_tokens' must be a number"},
        {"{\"llm\": {\"llm_model_spec\": {\"reasoning\": \"high\"}}}",
         "'llm.llm_model_spec.reasoning' must be an object"},
        {"{\"llm\": {\"llm_model_spec\": {\"reasoning\": {\"effort\": 3}}}}",
         "'llm.llm_model_spec.reasoning.effort' must be a string"},
        {"{\"llm\": {\"llm_model_spec\": {\"stop\": 3}}}",
         "'llm.llm_model_spec.stop' must be a string or a list of strings"},
        {"{\"llm\": {\"llm_model_spec\": \"gpt-4\"}}", "'llm.llm_model_spec' must be an object"},
        {"{\"llm\": [\"hi\"]}", "'llm' must be an object"},
        {"{\"llm\": {}, \"max_num_results\": 0}",
         "'max_num_results' must be a whole number from 1 to 1000"},
        {"{\"llm\": {}, \"max_num_results\": \"10\"}", "'max_num_results' must be a whole number"},
        {"{\"llm\": {}, \"provider_options\": [1]}", "'provider_options' must be an object"},
        {"[{\"llm\": {}}]", "the request must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        tu_assert_has(parse_fails(cases[i][0]), cases[i][1]);

    /* the error carries the field as its param */
    llmsvc_request *r = NULL;
    llmsvc_error *err = NULL;
    const char *j = "{\"llm\": {\"llm_model_spec\": {\"temperature\": \"hot\"}}}";
    ck_assert_int_eq(llmsvc_request_from_json(&r, j, strlen(j), &err), LLMSVC_E_VALIDATION);
    ck_assert_str_eq(llmsvc_error_param(err), "llm.llm_model_spec.temperature");
    llmsvc_error_free(err);
}
END_TEST

START_TEST(malformed_json_says_the_byte_offset)
{
    /* the second comma is at byte 24 */
    const char *j = "{\"llm\": {\"prompt\": \"hi\",,}}";
    ck_assert_int_eq(strstr(j, ",,") - j + 1, 24); /* 0-based offset of the second */
    tu_assert_has(parse_fails(j), "request JSON is malformed at byte 24");

    tu_assert_has(parse_fails("{\"llm\": {\"prompt\": \"hi\""), "request JSON ends early");
    tu_assert_has(parse_fails("{\"llm\": {}} trailing"), "extra text after the object at byte 12");
    tu_assert_has(parse_fails(""), "request JSON");
}
END_TEST

START_TEST(a_request_round_trips_through_to_json)
{
    llmsvc_request *r = parse_ok(original);
    ck_assert_int_eq(llmsvc_request_set_api_key(r, "sk-secret-never-printed"), LLMSVC_OK);
    char *once = NULL;
    ck_assert_int_eq(llmsvc_request_to_json(&once, r), LLMSVC_OK);
    tu_assert_lacks(once, "sk-secret");

    /* the same shape as the original */
    json_object *a = json_tokener_parse(once), *b = json_tokener_parse(original);
    ck_assert_ptr_nonnull(a);
    ck_assert_msg(json_object_equal(a, b), "round trip changed the request:\n%s\n%s", once,
                  original);
    json_object_put(a);
    json_object_put(b);

    /* and a second trip changes nothing */
    llmsvc_request *r2 = parse_ok(once);
    char *twice = NULL;
    ck_assert_int_eq(llmsvc_request_to_json(&twice, r2), LLMSVC_OK);
    ck_assert_str_eq(twice, once);
    llmsvc_free(once);
    llmsvc_free(twice);
    llmsvc_request_free(r);
    llmsvc_request_free(r2);
}
END_TEST

START_TEST(setters_reject_unknown_parameters_and_wrong_types)
{
    llmsvc_request *r = tu_request("mock", "mock-1", "hi");
    ck_assert_int_eq(llmsvc_request_set_number(r, "temprature", 0.5), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(llmsvc_request_set_number(r, "reasoning_effort", 1), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(llmsvc_request_set_string(r, "temperature", "hot"), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(llmsvc_request_set_number(r, "temperature", NAN), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(llmsvc_request_set_base_url(r, "ftp://x"), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(llmsvc_request_set_number(r, "temperature", 0.5), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_unset(r, "temperature"), LLMSVC_OK);
    ck_assert(!r->params[P_TEMPERATURE].set);
    llmsvc_error *err = NULL;
    ck_assert_int_eq(llmsvc_request_set_provider_options(r, "[1, 2]", &err), LLMSVC_E_VALIDATION);
    ck_assert_int_eq(llmsvc_request_set_max_results(r, 1001), LLMSVC_E_INVALID_ARG);
    tu_assert_has(llmsvc_error_message(err), "provider_options must be a JSON object");
    llmsvc_error_free(err);
    llmsvc_request_free(r);
}
END_TEST

START_TEST(a_request_built_with_setters_can_be_read_back)
{
    /* what llmsvc_request_to_json writes, llmsvc_request_from_json must take:
       the setters refuse what the JSON reader would (max_num_results 1..1000) */
    llmsvc_request *r = tu_request("mock", "mock-1", "hi");
    ck_assert_int_eq(llmsvc_request_set_vector_store(r, "vs_1", 1000), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_vector_store(r, "vs_1", 5000), LLMSVC_E_INVALID_ARG);
    char *js = NULL;
    ck_assert_int_eq(llmsvc_request_to_json(&js, r), LLMSVC_OK);
    llmsvc_request *back = parse_ok(js);
    ck_assert_int_eq(back->max_num_results, r->max_num_results);
    ck_assert_str_eq(back->vector_store_id, "vs_1");
    llmsvc_request_free(back);
    llmsvc_free(js);
    llmsvc_request_free(r);
}
END_TEST

static Suite *request_json_suite(void)
{
    Suite *s = suite_create("request_json");
    TCase *tc = tu_tcase("parse");
    tcase_add_test(tc, parses_the_original_modules_request_shape);
    tcase_add_test(tc, parses_every_documented_field);
    tcase_add_test(tc, nulls_mean_unset);
    tcase_add_test(tc, an_unknown_field_names_its_path_and_the_closest_known_one);
    tcase_add_test(tc, an_unknown_field_is_the_errors_param);
    tcase_add_test(tc, a_wrong_type_names_the_field_and_the_type_wanted);
    tcase_add_test(tc, malformed_json_says_the_byte_offset);
    suite_add_tcase(s, tc);
    tc = tu_tcase("write");
    tcase_add_test(tc, a_request_round_trips_through_to_json);
    tcase_add_test(tc, setters_reject_unknown_parameters_and_wrong_types);
    tcase_add_test(tc, a_request_built_with_setters_can_be_read_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(request_json_suite());
}
