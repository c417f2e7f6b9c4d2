/* test_stream — llmsvc_call_stream through the mock plugin: events, the final
 * response equal to the non-streamed one, parallel tool calls by index,
 * cancellation, a cut stream keeping its partial text, retries only before the
 * first event, and the provider state and tool round trips of conversations. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

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
}

static void teardown(void)
{
    llmsvc_runtime_close(rt);
    tu_rm_rf(plugins);
}

typedef struct seen {
    char text[4096];
    char args[2][256];
    int starts[2], ends[2];
    int events, text_events, usage_events, done, errors;
    int stop_after_text; /* return non-zero at this text event (0: never) */
    const llmsvc_response *done_resp;
} seen;

static int on_event(void *user, const llmsvc_event *ev)
{
    seen *s = user;
    s->events++;
    switch (ev->type) {
    case LLMSVC_EVENT_TEXT:
        strncat(s->text, ev->text, ev->len);
        s->text_events++;
        return s->stop_after_text && s->text_events >= s->stop_after_text;
    case LLMSVC_EVENT_TOOL_START:
        ck_assert_int_lt(ev->index, 2);
        s->starts[ev->index]++;
        break;
    case LLMSVC_EVENT_TOOL_ARGS:
        ck_assert_int_lt(ev->index, 2);
        strncat(s->args[ev->index], ev->text, ev->len);
        break;
    case LLMSVC_EVENT_TOOL_END:
        s->ends[ev->index]++;
        break;
    case LLMSVC_EVENT_USAGE:
        s->usage_events++;
        break;
    case LLMSVC_EVENT_DONE:
        s->done++;
        s->done_resp = ev->response;
        break;
    case LLMSVC_EVENT_ERROR:
        s->errors++;
        break;
    default:
        break;
    }
    return 0;
}

static llmsvc_request *req_with(const char *prompt, const char *options)
{
    llmsvc_request *req = tu_request("mock", "mock-1", prompt);
    llmsvc_error *err = NULL;
    if (options)
        tu_assert_code(llmsvc_request_set_provider_options(req, options, &err), LLMSVC_OK, err);
    return req;
}

START_TEST(the_streamed_response_equals_the_non_streamed_one)
{
    llmsvc_request *req = req_with("the quick brown fox jumps", NULL);
    seen s = {0};
    llmsvc_response *streamed = NULL, *whole = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_call_stream(rt, req, on_event, &s, &streamed, &err), LLMSVC_OK, err);
    tu_assert_code(llmsvc_call(rt, req, &whole, &err), LLMSVC_OK, err);
    ck_assert_int_eq(s.text_events, 5); /* a word at a time */
    ck_assert_str_eq(s.text, "the quick brown fox jumps");
    ck_assert_int_eq(s.usage_events, 1);
    ck_assert_int_eq(s.done, 1);
    ck_assert_int_eq(s.errors, 0);
    ck_assert_str_eq(llmsvc_response_message(streamed), llmsvc_response_message(whole));
    ck_assert_str_eq(llmsvc_response_finish_reason(streamed), llmsvc_response_finish_reason(whole));
    ck_assert_str_eq(llmsvc_response_id(streamed), llmsvc_response_id(whole));
    for (int k = LLMSVC_TOKENS_INPUT; k <= LLMSVC_TOKENS_TOTAL; k++)
        ck_assert_int_eq(llmsvc_response_tokens(streamed, k), llmsvc_response_tokens(whole, k));
    ck_assert(llmsvc_response_cost_usd(streamed) == llmsvc_response_cost_usd(whole));
    ck_assert_ptr_eq(s.done_resp, streamed);
    llmsvc_response_free(streamed);
    llmsvc_response_free(whole);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(parallel_tool_calls_stream_apart_by_index_and_finish_as_tool_calls)
{
    llmsvc_request *req = req_with(
        "weather in two cities",
        "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}},"
        " {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]}");
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_request_add_tool(req, "get_weather", "the weather",
                                           "{\"type\":\"object\",\"properties\":{\"city\":"
                                           "{\"type\":\"string\"}}}",
                                           &err),
                   LLMSVC_OK, err);
    seen s = {0};
    llmsvc_response *resp = NULL, *whole = NULL;
    tu_assert_code(llmsvc_call_stream(rt, req, on_event, &s, &resp, &err), LLMSVC_OK, err);
    ck_assert_str_eq(s.args[0], "{\"city\":\"Paris\"}");
    ck_assert_str_eq(s.args[1], "{\"city\":\"Rome\"}");
    ck_assert_int_eq(s.ends[0], 1);
    ck_assert_int_eq(s.ends[1], 1);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "tool_calls");
    ck_assert_uint_eq(llmsvc_response_tool_call_count(resp), 2);
    ck_assert_str_eq(llmsvc_response_tool_call(resp, 1)->arguments, "{\"city\":\"Rome\"}");
    ck_assert_str_eq(llmsvc_response_tool_call(resp, 0)->id, "call_mock_1");
    tu_assert_code(llmsvc_call(rt, req, &whole, &err), LLMSVC_OK, err);
    ck_assert_uint_eq(llmsvc_response_tool_call_count(whole), 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(llmsvc_response_tool_call(whole, i)->arguments,
                         llmsvc_response_tool_call(resp, i)->arguments);
        ck_assert_str_eq(llmsvc_response_tool_call(whole, i)->id,
                         llmsvc_response_tool_call(resp, i)->id);
    }
    llmsvc_response_free(whole);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_callback_stops_the_call_promptly)
{
    llmsvc_request *req = req_with("one two three four five six", "{\"chunk_delay_ms\": 50}");
    seen s = {0};
    s.stop_after_text = 2;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    ck_assert_int_eq(llmsvc_call_stream(rt, req, on_event, &s, &resp, &err), LLMSVC_E_CANCELLED);
    ck_assert_int_eq(s.text_events, 2); /* nothing more after the stop */
    ck_assert_int_eq(s.done, 0);
    ck_assert_int_eq(s.errors, 1);
    ck_assert_int_eq(llmsvc_error_retryable(err), 0);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 1);
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_cut_stream_is_a_transport_error_keeping_the_partial_text)
{
    llmsvc_request *req = req_with("alpha beta gamma delta", "{\"cut_after\": 2}");
    seen s = {0};
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    ck_assert_int_eq(llmsvc_call_stream(rt, req, on_event, &s, &resp, &err), LLMSVC_E_TRANSPORT);
    ck_assert_ptr_nonnull(resp);
    ck_assert_str_eq(llmsvc_response_message(resp), "alpha beta ");
    /* not retried: the host has seen part of the answer */
    ck_assert_int_eq(llmsvc_response_attempts(resp), 1);
    ck_assert_int_eq(s.errors, 1);
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_failure_before_the_first_event_is_retried)
{
    llmsvc_request *req = req_with("retry me",
                                   "{\"error\": \"server\", \"fail_times\": 1, \"retry_after_ms\": 1}");
    seen s = {0};
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_call_stream(rt, req, on_event, &s, &resp, &err), LLMSVC_OK, err);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    ck_assert_str_eq(s.text, "retry me");
    ck_assert_int_eq(s.errors, 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(state_and_tool_results_go_back_in_the_next_turn)
{
    llmsvc_request *req = req_with("weather?",
                                   "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": "
                                   "{\"city\": \"Paris\"}}]}");
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_request_add_tool(req, "get_weather", NULL, NULL, &err), LLMSVC_OK, err);
    llmsvc_response *first = NULL;
    tu_assert_code(llmsvc_call(rt, req, &first, &err), LLMSVC_OK, err);
    const char *proto;
    const char *state = llmsvc_response_state(first, &proto);
    ck_assert_str_eq(proto, "mock");
    tu_assert_has(state, "\"mock_turn\":1");

    /* the next turn: the assistant's turn as it came, then the tool's answer */
    llmsvc_request *next = tu_request("mock", "mock-1", NULL);
    tu_assert_code(llmsvc_request_add_tool(next, "get_weather", NULL, NULL, &err), LLMSVC_OK, err);
    ck_assert_int_eq(llmsvc_request_add_message(next, "user", "weather?"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_response(next, first), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_tool_result(next, "call_mock_1", "sunny, 21 C"), LLMSVC_OK);
    llmsvc_response *second = NULL;
    tu_assert_code(llmsvc_call(rt, next, &second, &err), LLMSVC_OK, err);
    ck_assert_str_eq(llmsvc_response_message(second), "sunny, 21 C"); /* it read the tool result */
    tu_assert_has(llmsvc_response_state(second, NULL), "\"mock_turn\":2"); /* it saw the state */

    /* the same through JSON: the response's assistant_message is a turn as it is */
    char *resp_json = NULL, *req_json = NULL;
    ck_assert_int_eq(llmsvc_response_to_json(&resp_json, first), LLMSVC_OK);
    json_object *r = json_tokener_parse(resp_json), *turn;
    ck_assert(json_object_object_get_ex(r, "assistant_message", &turn));
    char text[2048];
    snprintf(text, sizeof text,
             "{\"llm\": {\"llm_model_spec\": {\"provider\": \"mock\", \"model\": \"mock-1\"},"
             " \"tools\": [{\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}],"
             " \"messages\": [{\"role\": \"user\", \"content\": \"weather?\"}, %s,"
             " {\"role\": \"tool\", \"tool_call_id\": \"call_mock_1\", \"content\": \"rain\"}]}}",
             json_object_to_json_string_ext(turn, JSON_C_TO_STRING_PLAIN));
    llmsvc_request *from_json = NULL;
    tu_assert_code(llmsvc_request_from_json(&from_json, text, strlen(text), &err), LLMSVC_OK, err);
    ck_assert_int_eq(llmsvc_request_to_json(&req_json, from_json), LLMSVC_OK);
    /* the state's bytes survived both JSON trips */
    json_object *back = json_tokener_parse(req_json), *msgs, *st, *data;
    ck_assert(json_object_object_get_ex(json_object_object_get(back, "llm"), "messages", &msgs));
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(msgs, 1), "state", &st));
    ck_assert(json_object_object_get_ex(st, "data", &data));
    ck_assert_str_eq(json_object_get_string(data), state);
    llmsvc_response *third = NULL;
    tu_assert_code(llmsvc_call(rt, from_json, &third, &err), LLMSVC_OK, err);
    ck_assert_str_eq(llmsvc_response_message(third), "rain");
    json_object_put(back);
    json_object_put(r);
    llmsvc_free(resp_json);
    llmsvc_free(req_json);
    llmsvc_response_free(third);
    llmsvc_request_free(from_json);
    llmsvc_response_free(second);
    llmsvc_request_free(next);
    llmsvc_response_free(first);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(conversation_features_need_their_capabilities)
{
    llmsvc_request *req = tu_request("mock", "mock-small", "hi");
    llmsvc_error *err = NULL;
    llmsvc_response *resp = NULL;
    ck_assert_int_eq(llmsvc_request_add_message(req, "user", "look"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_image(req, "https://example.com/cat.png"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "no vision capability");
    llmsvc_error_free(err);
    err = NULL;
    llmsvc_request_free(req);
    req = tu_request("mock", "mock-small", "hi");
    ck_assert_int_eq(llmsvc_request_set_response_format(req, "r", "{\"type\":\"object\"}", 1, &err),
                     LLMSVC_OK);
    ck_assert_int_eq(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "no structured_output capability");
    llmsvc_error_free(err);
    err = NULL;
    llmsvc_request_free(req);
    req = tu_request("mock", "mock-1", "hi");
    ck_assert_int_eq(llmsvc_request_set_tool_choice(req, "nonexistent"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_call(rt, req, &resp, &err), LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "tool_choice 'nonexistent'");
    llmsvc_error_free(err);
    err = NULL;
    ck_assert_int_eq(llmsvc_request_add_tool(req, "bad name!", NULL, NULL, &err),
                     LLMSVC_E_VALIDATION);
    llmsvc_error_free(err);
    err = NULL;
    ck_assert_int_eq(llmsvc_request_add_tool(req, "ok", NULL, "[1,2]", &err), LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "must be a JSON object");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tu_tcase("mock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, the_streamed_response_equals_the_non_streamed_one);
    tcase_add_test(tc, parallel_tool_calls_stream_apart_by_index_and_finish_as_tool_calls);
    tcase_add_test(tc, the_callback_stops_the_call_promptly);
    tcase_add_test(tc, a_cut_stream_is_a_transport_error_keeping_the_partial_text);
    tcase_add_test(tc, a_failure_before_the_first_event_is_retried);
    tcase_add_test(tc, state_and_tool_results_go_back_in_the_next_turn);
    tcase_add_test(tc, conversation_features_need_their_capabilities);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(stream_suite());
}
