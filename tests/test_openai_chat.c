/* test_openai_chat — the openai-chat plugin (OpenAI Chat Completions and the
 * servers that speak it) end to end, over real loopback HTTP against the
 * in-process fake upstream: every request mapping rule (asserted on the request
 * the server recorded), the spec options (path, auth_header,
 * optional_api_key_env, azure_api_version, azure_deployment,
 * instructions_role, stream_include_usage, reasoning_state), each YAML-only
 * provider shipped on this protocol (ollama, vllm, llamacpp, azure-openai),
 * every finish reason, every error shape (OpenAI's and the compatible
 * servers'), missing usage, the provider state round trip byte for byte, and
 * streaming: each stream fixture fed whole and a byte at a time and equal to its
 * non-streamed twin, interleaved parallel tool calls, a stream without [DONE],
 * mid-stream errors, a cut stream, cancellation. The SSE fixtures also go through
 * the core's SSE parser one byte at a time straight into the loaded plugin.
 *
 * Expected values come from the fixture files (tests/fixtures/openai-chat) and
 * from llmsvc_runtime_models_json, not from numbers copied into this file. */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fake_upstream.h"
#include "http.h"
#include "loader.h"
#include "response.h"
#include "sse.h"
#include "stream.h"
#include "testutil.h"

#define SPECS PROJECT_SRC_DIR "/specs/"
#define FX "openai-chat/"
#define PROTOCOL "openai-chat"

/* A dummy key: never printed by any assertion below. */
#define TEST_KEY "sk-test-llmsvc-chat-dummy-0000"
/* A distinctive one for the secrets tests. */
#define SECRET_KEY "sk-LLMSVCsecretChatK3y-7Hq2Wm9Zt4Xv6Bn1Lp8Rc3Yd5"

/* the harness, with assertions that never print the API key */
#define PROTO_FIXTURE_NAMES
#define PROTO_SEEN_NAMES
#include "prototest.h"

/* ---- fixtures ---- */

/* tests/fixtures/openai-chat/<name>: its text, its JSON; {{model}} replaced */
#define fixture_text(name) proto_fixture_text(PROTOCOL, (name))
#define fixture(name) proto_fixture_json(PROTOCOL, (name))
#define with_model proto_with_model

/* The exact source text of the first string value of `key` in a fixture file,
 * quotes included (malloc'd): what must go back byte for byte. */
static char *raw_string_of(const char *file, const char *key)
{
    char *text = fixture_text(file);
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = strstr(text, pat);
    ck_assert_msg(p, "%s has no string %s", file, key);
    p += strlen(pat) - 1; /* the opening quote */
    const char *q = p + 1;
    while (*q && *q != '"')
        q += *q == '\\' ? 2 : 1;
    ck_assert(*q == '"');
    size_t n = (size_t)(q + 1 - p);
    char *out = malloc(n + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, p, n);
    out[n] = '\0';
    free(text);
    return out;
}

/* The exact source text of the first array value of `key` (malloc'd). */
static char *raw_array_of(const char *file, const char *key)
{
    char *text = fixture_text(file);
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": [", key);
    const char *p = strstr(text, pat);
    ck_assert_msg(p, "%s has no array %s", file, key);
    p += strlen(pat) - 1;
    int depth = 0, in_str = 0;
    const char *q = p;
    for (; *q; q++) {
        if (in_str) {
            if (*q == '\\')
                q++;
            else if (*q == '"')
                in_str = 0;
        } else if (*q == '"') {
            in_str = 1;
        } else if (*q == '[' || *q == '{') {
            depth++;
        } else if ((*q == ']' || *q == '}') && --depth == 0) {
            break;
        }
    }
    ck_assert(*q == ']');
    size_t n = (size_t)(q + 1 - p);
    char *out = malloc(n + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, p, n);
    out[n] = '\0';
    free(text);
    return out;
}

/* ---- the fake upstream and the runtime ---- */

#define ISOLATED PROTO_ISOLATED

static char spec_path[8 * TU_PATH];

static void plugin_dir(char out[TU_PATH])
{
    snprintf(out, TU_PATH, "%s", pf.plugins);
}

/* Operator spec files on this protocol: a provider with every parameter and a
 * key of its own, one with the spec options set, and two small ones. */
static void write_specs(void)
{
    char text[4096], f1[TU_PATH], f2[TU_PATH], f3[TU_PATH], f4[TU_PATH];
    const char *url = fake_upstream_url(fu);
    snprintf(
        text, sizeof text,
        "provider: chattest\n"
        "api: openai-chat\n"
        "base_url: %s/v1\n"
        "api_key_env: LLMSVC_TEST_CHAT_KEY\n"
        "headers:\n"
        "  HTTP-Referer: {value: https://llmsvc.example/tests}\n"
        "  X-Title: {value: llmsvc-tests}\n"
        "models:\n"
        "  - name: chat-all\n"
        "    capabilities: [streaming, vision, tools, structured_output, reasoning]\n"
        "    parameters:\n"
        "      temperature: {type: float, min: 0, max: 2}\n"
        "      top_p: {type: float, min: 0, max: 1}\n"
        "      top_k: {type: int, min: 1, max: 100}\n"
        "      max_tokens: {type: int, min: 1, max: 4096}\n"
        "      seed: {type: int}\n"
        "      stop: {type: string_list}\n"
        "      presence_penalty: {type: float, min: -2, max: 2}\n"
        "      frequency_penalty: {type: float, min: -2, max: 2}\n"
        "      reasoning_effort: {type: enum, values: [none, low, medium, high]}\n"
        "      verbosity: {type: enum, values: [low, medium, high]}\n"
        "    pricing: {input_per_mtok: 1.00, cached_input_per_mtok: 0.25,"
        " cache_write_per_mtok: 1.25, output_per_mtok: 4.00}\n"
        "  - name: chat-mct\n"
        "    capabilities: [streaming, tools, reasoning]\n"
        "    parameters:\n"
        "      max_tokens: {type: int, min: 1, max: 128000, wire: max_completion_tokens}\n"
        "      reasoning_effort: {type: enum, values: [low, medium, high], default: medium}\n"
        "    pricing: {input_per_mtok: 2.00, output_per_mtok: 8.00}\n"
        "  - name: chat-budget\n"
        "    capabilities: [streaming, reasoning]\n"
        "    parameters:\n"
        "      reasoning_effort: {type: enum, values: [low, high], default: low,\n"
        "                         budgets: {low: 1024, high: 8192}, wire: reasoning.max_tokens}\n"
        "  - name: chat-text\n"
        "    capabilities: [tools]\n",
        url);
    tu_write(f1, tmp, "chattest.yaml", text);
    snprintf(text, sizeof text,
             "provider: chatopts\n"
             "api: openai-chat\n"
             "base_url: %s/gw\n"
             "api_key_env: LLMSVC_TEST_CHAT_KEY\n"
             "options:\n"
             "  path: /api/v2/chat/completions\n"
             "  auth_header: x-api-key\n"
             "  instructions_role: developer\n"
             "  stream_include_usage: \"false\"\n"
             "  reasoning_state: always\n"
             "models:\n"
             "  - name: opts-model\n"
             "    capabilities: [streaming, tools, reasoning]\n",
             url);
    tu_write(f2, tmp, "chatopts.yaml", text);
    snprintf(text, sizeof text,
             "provider: chatnostate\n"
             "api: openai-chat\n"
             "base_url: %s/v1\n"
             "options: {reasoning_state: never}\n"
             "models:\n"
             "  - name: nostate-model\n"
             "    capabilities: [streaming, tools, reasoning]\n",
             url);
    tu_write(f3, tmp, "chatnostate.yaml", text);
    snprintf(text, sizeof text,
             "provider: chatbad\n"
             "api: openai-chat\n"
             "base_url: %s/v1\n"
             "options: {path: chat completions, auth_header: \"bad header\"}\n"
             "models:\n"
             "  - name: bad-model\n",
             url);
    tu_write(f4, tmp, "chatbad.yaml", text);
    snprintf(spec_path, sizeof spec_path,
             "%s:%s:%s:%s:" SPECS "ollama.yaml:" SPECS "vllm.yaml:" SPECS "llamacpp.yaml:" SPECS
             "azure-openai.yaml",
             f1, f2, f3, f4);
}

static void start_upstream(void)
{
    tu_setenv("LLMSVC_TEST_CHAT_KEY", TEST_KEY);
    tu_setenv("AZURE_OPENAI_API_KEY", TEST_KEY);
    tu_unsetenv("AZURE_OPENAI_ENDPOINT");
    tu_unsetenv("VLLM_API_KEY");
    proto_start(&pf, "/v1", OPENAI_CHAT_PLUGIN, "openai-chat.so", NULL);
    write_specs();
}

static void setup(void)
{
    start_upstream();
    rt = open_rt(ISOLATED, spec_path);
}

/* ---- requests and calls ---- */

/* The next answer of the fake upstream: a fixture of openai-chat/. */
static void serve(const char *name)
{
    script("{\"path\": \"/chat/completions\", \"fixture\": \"" FX "%s\"}", name);
}

/* The next answer: a stream fixture, in pieces of chunk_bytes (0: whole). */
static void serve_sse(const char *name, int chunk_bytes)
{
    if (chunk_bytes)
        script("{\"path\": \"/chat/completions\", \"fixture\": \"" FX "%s\","
               " \"content_type\": \"text/event-stream\", \"chunk_bytes\": %d}",
               name, chunk_bytes);
    else
        script("{\"path\": \"/chat/completions\", \"fixture\": \"" FX "%s\","
               " \"content_type\": \"text/event-stream\"}",
               name);
}

/* The next answer: a literal body (fx as JSON text), with a content type. */
#define serve_body(body, content_type)                                                           \
    proto_serve_body(&pf, "/chat/completions", (body), (content_type))
#define serve_json(fx) proto_serve_json(&pf, "/chat/completions", (fx))

/* A request to the test provider (whose spec points at the fake upstream). */
static llmsvc_request *creq(const char *model, const char *prompt)
{
    return tu_request("chattest", model, prompt);
}

/* A request to a shipped provider, pointed at the fake upstream. */
static llmsvc_request *preq(const char *provider, const char *model, const char *prompt)
{
    llmsvc_request *r = tu_request(provider, model, prompt);
    const char *url = strcmp(provider, "azure-openai") == 0 ? fake_upstream_url(fu) : base;
    ck_assert_int_eq(llmsvc_request_set_base_url(r, url), LLMSVC_OK);
    return r;
}

/* A request without a prompt, for conversations built turn by turn. */
static llmsvc_request *conv_req(const char *provider, const char *model)
{
    llmsvc_request *r = NULL;
    ck_assert_int_eq(llmsvc_request_new(&r), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_provider(r, provider), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_model(r, model), LLMSVC_OK);
    return r;
}

/* serve(name), then call_ok. */
static llmsvc_response *call_fx(llmsvc_request *req, const char *name)
{
    serve(name);
    return call_ok(req);
}

static const char *const weather_schema =
    "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"},"
    " \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"]}},"
    " \"required\": [\"city\"], \"additionalProperties\": false}";

#define add_weather_tool(req)                                                                  \
    proto_add_tool((req), "get_weather", "Get the current weather in a city", weather_schema)

/* ---- streaming ---- */

/* the collector: seen, seen_init, on_event (prototest) */

/* A streaming call; *out may be NULL when the call fails without a partial answer. */
static llmsvc_code run_stream(llmsvc_request *req, seen *s, llmsvc_response **out,
                              llmsvc_error **err)
{
    return llmsvc_call_stream(rt, req, on_event, s, out, err);
}

static llmsvc_response *stream_ok(llmsvc_request *req, seen *s)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, s, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_error_free(err);
    ck_assert_ptr_nonnull(resp);
    ck_assert_int_eq(s->done, 1);
    return resp;
}

/* Text, reasoning, tool calls, usage, finish reason, id, model and whether
 * there is state: the same in both. */
#define assert_same_response proto_assert_same_response

/* The text of a fixture's answer (content, refusal or text parts), malloc'd. */
static char *answer_text(json_object *fx)
{
    json_object *msg = jat(fx, "choices.0.message");
    const char *c = jstr(msg, "content");
    const char *r = jstr(msg, "refusal");
    size_t n = (c ? strlen(c) : 0) + (r ? strlen(r) : 0);
    char *out = calloc(1, n + 1);
    ck_assert_ptr_nonnull(out);
    if (c)
        strcat(out, c);
    if (r)
        strcat(out, r);
    return out;
}

/* Usage in a response equals a fixture's usage object. */
static void assert_usage(const llmsvc_response *resp, json_object *u)
{
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT), jint(u, "prompt_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT),
                     jint(u, "completion_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL), jint(u, "total_tokens"));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT),
                     jint_or(u, "prompt_tokens_details.cached_tokens", 0));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHE_WRITE),
                     jint_or(u, "prompt_tokens_details.cache_write_tokens", 0));
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING),
                     jint_or(u, "completion_tokens_details.reasoning_tokens", 0));
}

/* ================================================================ request */

START_TEST(posts_the_prompt_as_a_user_message_to_base_url_chat_completions)
{
    llmsvc_request *req = creq("chat-all", "Write a haiku about recursion.");
    llmsvc_response_free(call_fx(req, "basic.json"));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    sent s = sent_get(-1);
    assert_jstr(s.rec, "method", "POST");
    assert_jstr(s.rec, "path", "/v1/chat/completions");
    assert_jstr(s.rec, "query", "");
    assert_jstr(s.body, "model", "chat-all");
    ck_assert_uint_eq(jlen(s.body, "messages"), 1);
    assert_jstr(s.body, "messages.0.role", "user");
    assert_jstr(s.body, "messages.0.content", "Write a haiku about recursion.");
    ck_assert_int_eq(json_object_object_length(jat(s.body, "messages.0")), 2);
    /* nothing the caller did not ask for: the model has no defaults */
    ck_assert_int_eq(json_object_object_length(s.body), 2);
    assert_jstr(s.rec, "headers.content-type", "application/json");
    ck_assert_msg(header_is(&s, "authorization", "Bearer " TEST_KEY),
                  "Authorization is not 'Bearer ' + LLMSVC_TEST_CHAT_KEY");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(instructions_become_a_first_system_message)
{
    llmsvc_request *req = creq("chat-all", "What is 2 + 2?");
    llmsvc_request_set_instructions(req, "Answer in French, in one word.");
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "messages"), 2);
    assert_jstr(s.body, "messages.0.role", "system");
    assert_jstr(s.body, "messages.0.content", "Answer in French, in one word.");
    assert_jstr(s.body, "messages.1.role", "user");
    assert_jstr(s.body, "messages.1.content", "What is 2 + 2?");
    ck_assert(!jhas(s.body, "instructions"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(conversation_turns_keep_their_roles_and_order)
{
    llmsvc_request *req = creq("chat-all", "And the third?");
    llmsvc_request_set_instructions(req, "Be brief.");
    ck_assert_int_eq(llmsvc_request_add_message(req, "developer", "Use digits."), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_message(req, "user", "Name the first prime."), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_message(req, "assistant", "2"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_message(req, "user", "The second?"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_message(req, "assistant", "3"), LLMSVC_OK);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    static const char *const want[][2] = {
        {"system", "Be brief."},   {"developer", "Use digits."}, {"user", "Name the first prime."},
        {"assistant", "2"},        {"user", "The second?"},      {"assistant", "3"},
        {"user", "And the third?"}};
    ck_assert_uint_eq(jlen(s.body, "messages"), 7);
    for (size_t i = 0; i < 7; i++) {
        json_object *m = json_object_array_get_idx(jat(s.body, "messages"), i);
        assert_jstr(m, "role", want[i][0]);
        assert_jstr(m, "content", want[i][1]);
        ck_assert(!jhas(m, "tool_calls"));
    }
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(images_become_image_url_parts_after_the_text)
{
    llmsvc_request *req = conv_req("chattest", "chat-all");
    ck_assert_int_eq(llmsvc_request_add_message(req, "user", "What is in these pictures?"),
                     LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_image(req, "https://example.com/cat.png"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_image(req, "data:image/png;base64,iVBORw0KGgo="),
                     LLMSVC_OK);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    json_object *parts = jat(s.body, "messages.0.content");
    ck_assert_msg(json_object_is_type(parts, json_type_array), "content is not a list of parts");
    ck_assert_uint_eq(json_object_array_length(parts), 3);
    assert_jstr(parts, "0.type", "text");
    assert_jstr(parts, "0.text", "What is in these pictures?");
    assert_jstr(parts, "1.type", "image_url");
    assert_jstr(parts, "1.image_url.url", "https://example.com/cat.png");
    assert_jstr(parts, "2.type", "image_url");
    assert_jstr(parts, "2.image_url.url", "data:image/png;base64,iVBORw0KGgo=");
    ck_assert_int_eq(json_object_object_length(jat(parts, "1")), 2);
    ck_assert_int_eq(json_object_object_length(jat(parts, "1.image_url")), 1);
    sent_free(&s);
    llmsvc_request_free(req);

    /* a turn with only an image has no text part */
    req = conv_req("chattest", "chat-all");
    ck_assert_int_eq(llmsvc_request_add_message(req, "user", ""), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_image(req, "https://example.com/dog.png"), LLMSVC_OK);
    llmsvc_response_free(call_fx(req, "basic.json"));
    s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "messages.0.content"), 1);
    assert_jstr(s.body, "messages.0.content.0.type", "image_url");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(each_parameter_goes_to_its_own_name)
{
    llmsvc_request *req = creq("chat-all", "hello");
    llmsvc_request_set_number(req, "temperature", 0.25);
    llmsvc_request_set_number(req, "top_p", 0.875);
    llmsvc_request_set_number(req, "top_k", 40);
    llmsvc_request_set_number(req, "max_tokens", 256);
    llmsvc_request_set_number(req, "seed", 7);
    llmsvc_request_set_number(req, "presence_penalty", 0.5);
    llmsvc_request_set_number(req, "frequency_penalty", -0.5);
    llmsvc_request_set_string(req, "reasoning_effort", "low");
    llmsvc_request_set_string(req, "verbosity", "high");
    llmsvc_request_add_stop(req, "END");
    llmsvc_request_add_stop(req, "\n\n");
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    ck_assert_double_eq(jnum(s.body, "temperature"), 0.25);
    ck_assert_double_eq(jnum(s.body, "top_p"), 0.875);
    ck_assert_int_eq(jint(s.body, "top_k"), 40);
    ck_assert_int_eq(jint(s.body, "max_tokens"), 256);
    ck_assert_int_eq(jint(s.body, "seed"), 7);
    ck_assert_double_eq(jnum(s.body, "presence_penalty"), 0.5);
    ck_assert_double_eq(jnum(s.body, "frequency_penalty"), -0.5);
    assert_jstr(s.body, "reasoning_effort", "low");
    assert_jstr(s.body, "verbosity", "high");
    ck_assert_uint_eq(jlen(s.body, "stop"), 2);
    assert_jstr(s.body, "stop.0", "END");
    assert_jstr(s.body, "stop.1", "\n\n");
    ck_assert(!jhas(s.body, "max_completion_tokens"));
    ck_assert(!jhas(s.body, "reasoning"));
    /* model, messages and the ten parameters: nothing else */
    ck_assert_int_eq(json_object_object_length(s.body), 12);
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(max_tokens_goes_to_max_completion_tokens_when_the_spec_says_so)
{
    llmsvc_request *req = creq("chat-mct", "Summarise the French Revolution.");
    llmsvc_request_set_number(req, "max_tokens", 300);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    ck_assert_int_eq(jint(s.body, "max_completion_tokens"), 300);
    ck_assert(!jhas(s.body, "max_tokens"));
    /* the spec's default effort is sent too */
    assert_jstr(s.body, "reasoning_effort", "medium");
    sent_free(&s);
    llmsvc_request_free(req);
    /* and without the rule, max_tokens is max_tokens */
    req = creq("chat-all", "Summarise the French Revolution.");
    llmsvc_request_set_number(req, "max_tokens", 300);
    llmsvc_response_free(call_fx(req, "basic.json"));
    s = sent_get(-1);
    ck_assert_int_eq(jint(s.body, "max_tokens"), 300);
    ck_assert(!jhas(s.body, "max_completion_tokens"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_effort_with_a_budget_sends_the_budget_at_its_wire_path)
{
    llmsvc_request *req = creq("chat-budget", "Think about it.");
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    ck_assert_int_eq(jint(s.body, "reasoning.max_tokens"), 1024);
    ck_assert(!jhas(s.body, "reasoning_effort"));
    sent_free(&s);
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    llmsvc_response_free(call_fx(req, "basic.json"));
    s = sent_get(-1);
    ck_assert_int_eq(jint(s.body, "reasoning.max_tokens"), 8192);
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(tools_are_functions_with_their_schema_embedded_as_given)
{
    llmsvc_request *req = creq("chat-all", "What's the weather in Paris?");
    add_weather_tool(req);
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_add_tool(req, "get_time", NULL,
                                             "{\"type\":\"object\",\"properties\":{}}", &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_fx(req, "tool_calls.json"));
    sent s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "tools"), 2);
    assert_jstr(s.body, "tools.0.type", "function");
    assert_jstr(s.body, "tools.0.function.name", "get_weather");
    assert_jstr(s.body, "tools.0.function.description", "Get the current weather in a city");
    assert_jstr(s.body, "tools.0.function.parameters.properties.unit.enum.1", "fahrenheit");
    ck_assert_int_eq(json_object_object_length(jat(s.body, "tools.0")), 2);
    assert_jstr(s.body, "tools.1.function.name", "get_time");
    ck_assert(!jhas(jat(s.body, "tools.1.function"), "description"));
    /* the schema's text as the core keeps it, embedded unchanged (json_raw) */
    json_object *schema = json_tokener_parse(weather_schema);
    assert_has(s.text, json_object_to_json_string_ext(schema, JSON_C_TO_STRING_PLAIN));
    json_object_put(schema);
    /* neither tool_choice nor parallel_tool_calls unless asked */
    ck_assert(!jhas(s.body, "tool_choice"));
    ck_assert(!jhas(s.body, "parallel_tool_calls"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(tool_choice_and_parallel_tool_calls_map_to_their_fields)
{
    static const char *const simple[] = {"auto", "none", "required"};
    llmsvc_request *req = creq("chat-all", "What's the weather in Paris?");
    add_weather_tool(req);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(llmsvc_request_set_tool_choice(req, simple[i]), LLMSVC_OK);
        llmsvc_response_free(call_fx(req, "tool_calls.json"));
        sent s = sent_get(-1);
        assert_jstr(s.body, "tool_choice", simple[i]);
        sent_free(&s);
    }
    ck_assert_int_eq(llmsvc_request_set_tool_choice(req, "get_weather"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_parallel_tool_calls(req, 0), LLMSVC_OK);
    llmsvc_response_free(call_fx(req, "tool_calls.json"));
    sent s = sent_get(-1);
    assert_jstr(s.body, "tool_choice.type", "function");
    assert_jstr(s.body, "tool_choice.function.name", "get_weather");
    ck_assert_int_eq(json_object_object_length(jat(s.body, "tool_choice")), 2);
    ck_assert_int_eq(jbool(s.body, "parallel_tool_calls"), 0);
    sent_free(&s);
    ck_assert_int_eq(llmsvc_request_set_parallel_tool_calls(req, 1), LLMSVC_OK);
    llmsvc_response_free(call_fx(req, "tool_calls.json"));
    s = sent_get(-1);
    ck_assert_int_eq(jbool(s.body, "parallel_tool_calls"), 1);
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(tool_choice_and_parallel_tool_calls_are_not_sent_without_tools)
{
    /* OpenAI refuses both without tools */
    llmsvc_request *req = creq("chat-all", "hello");
    ck_assert_int_eq(llmsvc_request_set_tool_choice(req, "none"), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_parallel_tool_calls(req, 1), LLMSVC_OK);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    ck_assert(!jhas(s.body, "tools"));
    ck_assert(!jhas(s.body, "tool_choice"));
    ck_assert(!jhas(s.body, "parallel_tool_calls"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_response_format_is_a_json_schema_with_name_and_strict)
{
    static const char *const schema =
        "{\"type\": \"object\", \"properties\": {\"answer\": {\"type\": \"integer\"}},"
        " \"required\": [\"answer\"], \"additionalProperties\": false}";
    llmsvc_request *req = creq("chat-all", "What is 6 x 7?");
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_set_response_format(req, "math_answer", schema, 1, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    assert_jstr(s.body, "response_format.type", "json_schema");
    assert_jstr(s.body, "response_format.json_schema.name", "math_answer");
    ck_assert_int_eq(jbool(s.body, "response_format.json_schema.strict"), 1);
    assert_jstr(s.body, "response_format.json_schema.schema.properties.answer.type", "integer");
    ck_assert_int_eq(json_object_object_length(jat(s.body, "response_format")), 2);
    ck_assert_int_eq(json_object_object_length(jat(s.body, "response_format.json_schema")), 3);
    sent_free(&s);
    rc = llmsvc_request_set_response_format(req, "math_answer", schema, 0, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_fx(req, "basic.json"));
    s = sent_get(-1);
    ck_assert_int_eq(jbool(s.body, "response_format.json_schema.strict"), 0);
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(provider_options_are_merged_into_the_body_last)
{
    llmsvc_request *req = creq("chat-mct", "hello");
    llmsvc_request_set_number(req, "max_tokens", 256);
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_set_provider_options(
        req,
        "{\"thinking\": {\"type\": \"disabled\"}, \"max_completion_tokens\": 99,"
        " \"user\": \"u-42\", \"metadata\": {\"trace\": \"t-1\"}}",
        &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    assert_jstr(s.body, "thinking.type", "disabled");
    assert_jstr(s.body, "user", "u-42");
    assert_jstr(s.body, "metadata.trace", "t-1");
    /* a scalar given in provider_options wins over the mapped one */
    ck_assert_int_eq(jint(s.body, "max_completion_tokens"), 99);
    assert_jstr(s.body, "reasoning_effort", "medium");
    assert_jstr(s.body, "messages.0.content", "hello");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_key_goes_in_a_bearer_header_and_a_per_call_key_replaces_it)
{
    llmsvc_request *req = creq("chat-all", "hello");
    ck_assert_int_eq(llmsvc_request_set_api_key(req, "sk-test-per-call-key"), LLMSVC_OK);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    ck_assert_msg(header_is(&s, "authorization", "Bearer sk-test-per-call-key"),
                  "Authorization is not 'Bearer ' + the per-call key");
    sent_free(&s);
    llmsvc_request_free(req);
    /* without the variable, the call fails before any request, naming it */
    tu_unsetenv("LLMSVC_TEST_CHAT_KEY");
    req = creq("chat-all", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_CONFIG);
    assert_has(llmsvc_error_message(err), "LLMSVC_TEST_CHAT_KEY");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(spec_headers_are_sent_openrouter_style)
{
    llmsvc_request *req = creq("chat-all", "hello");
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    ck_assert_str_eq(sent_header(&s, "http-referer"), "https://llmsvc.example/tests");
    ck_assert_str_eq(sent_header(&s, "x-title"), "llmsvc-tests");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(spec_options_set_the_path_the_key_header_and_the_instructions_role)
{
    llmsvc_request *req = tu_request("chatopts", "opts-model", "hello");
    llmsvc_request_set_instructions(req, "You are terse.");
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/gw/api/v2/chat/completions");
    ck_assert_msg(header_is(&s, "x-api-key", TEST_KEY), "x-api-key is not the bare key");
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    assert_jstr(s.body, "messages.0.role", "developer");
    assert_jstr(s.body, "messages.0.content", "You are terse.");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(bad_spec_options_are_config_errors_and_nothing_is_sent)
{
    llmsvc_request *req = tu_request("chatbad", "bad-model", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_CONFIG);
    assert_has(llmsvc_error_message(err), "option path 'chat completions'");
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ providers */

START_TEST(ollama_is_a_local_server_without_a_key_and_costs_nothing)
{
    json_object *fx = fixture("ollama_basic.json");
    llmsvc_request *req = preq("ollama", "llama3.2", "What is recursion?");
    llmsvc_request_set_number(req, "temperature", 0.2);
    llmsvc_response *resp = call_fx(req, "ollama_basic.json");
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/v1/chat/completions");
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    assert_jstr(s.body, "model", "llama3.2");
    ck_assert_double_eq(jnum(s.body, "temperature"), 0.2);
    sent_free(&s);
    ck_assert_str_eq(llmsvc_response_message(resp), jstr(fx, "choices.0.message.content"));
    ck_assert_str_eq(llmsvc_response_provider(resp), "ollama");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    assert_usage(resp, jat(fx, "usage"));
    /* zero prices: a cost of 0, not an unknown one */
    ck_assert_double_eq(llmsvc_response_cost_usd(resp), 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    /* an alias of the spec resolves to the model's name on the wire */
    req = preq("ollama", "llama3.2:3b", "What is recursion?");
    llmsvc_response_free(call_fx(req, "ollama_basic.json"));
    s = sent_get(-1);
    assert_jstr(s.body, "model", "llama3.2");
    sent_free(&s);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(ollama_reasoning_effort_none_turns_thinking_off)
{
    llmsvc_request *req = preq("ollama", "qwen3:8b", "Quick answer: 2 + 2?");
    llmsvc_response_free(call_fx(req, "ollama_basic.json"));
    sent s = sent_get(-1);
    ck_assert(!jhas(s.body, "reasoning_effort")); /* no default: the model's own */
    sent_free(&s);
    llmsvc_request_set_string(req, "reasoning_effort", "none");
    llmsvc_response_free(call_fx(req, "ollama_basic.json"));
    s = sent_get(-1);
    assert_jstr(s.body, "reasoning_effort", "none");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(vllm_sends_a_key_only_when_vllm_api_key_is_set)
{
    llmsvc_request *req = preq("vllm", "openai/gpt-oss-20b", "What's the weather in Paris?");
    add_weather_tool(req);
    llmsvc_request_set_number(req, "top_k", 20);
    llmsvc_response *resp = call_fx(req, "vllm_tool_calls.json");
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/v1/chat/completions");
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    assert_jstr(s.body, "model", "openai/gpt-oss-20b");
    assert_jstr(s.body, "reasoning_effort", "medium"); /* the spec's default */
    ck_assert_int_eq(jint(s.body, "top_k"), 20);
    sent_free(&s);
    /* vLLM's `reasoning` field (reasoning_content is null) */
    json_object *fx = fixture("vllm_tool_calls.json");
    ck_assert_str_eq(llmsvc_response_reasoning(resp), jstr(fx, "choices.0.message.reasoning"));
    ck_assert_uint_eq(llmsvc_response_tool_call_count(resp), 1);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "tool_calls");
    const char *proto = NULL;
    const char *state = llmsvc_response_state(resp, &proto);
    ck_assert_str_eq(proto, PROTOCOL);
    json_object *st = json_tokener_parse(state);
    assert_jstr(st, "reasoning", jstr(fx, "choices.0.message.reasoning"));
    ck_assert_int_eq(json_object_object_length(st), 1);
    json_object_put(st);
    llmsvc_response_free(resp);

    tu_setenv("VLLM_API_KEY", SECRET_KEY);
    llmsvc_response_free(call_fx(req, "vllm_tool_calls.json"));
    s = sent_get(-1);
    ck_assert_msg(header_is(&s, "authorization", "Bearer " SECRET_KEY),
                  "VLLM_API_KEY was not sent as a Bearer key");
    sent_free(&s);
    /* an empty variable is no key */
    tu_setenv("VLLM_API_KEY", "");
    llmsvc_response_free(call_fx(req, "vllm_tool_calls.json"));
    s = sent_get(-1);
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    sent_free(&s);
    /* a key with a line break never reaches a header */
    tu_setenv("VLLM_API_KEY", SECRET_KEY "\r");
    size_t before = fake_upstream_request_count(fu);
    llmsvc_error *err = call_fail(req, LLMSVC_E_CONFIG);
    assert_has(llmsvc_error_message(err), "VLLM_API_KEY");
    assert_lacks(llmsvc_error_message(err), SECRET_KEY);
    ck_assert_uint_eq(fake_upstream_request_count(fu), before);
    llmsvc_error_free(err);
    json_object_put(fx);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(llamacpp_is_a_local_server_without_a_key)
{
    json_object *fx = fixture("llamacpp_basic.json");
    llmsvc_request *req =
        preq("llamacpp", "gpt-oss-20b", "Why do recursive functions need a base case?");
    llmsvc_request_set_number(req, "max_tokens", 64);
    llmsvc_response *resp = call_fx(req, "llamacpp_basic.json");
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/v1/chat/completions");
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    assert_jstr(s.body, "model", "gpt-oss-20b");
    ck_assert_int_eq(jint(s.body, "max_tokens"), 64);
    sent_free(&s);
    ck_assert_str_eq(llmsvc_response_message(resp), jstr(fx, "choices.0.message.content"));
    assert_usage(resp, jat(fx, "usage"));
    ck_assert_double_eq(llmsvc_response_cost_usd(resp), 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(azure_v1_route_sends_the_api_key_header_and_the_deployment_as_model)
{
    llmsvc_request *req = preq("azure-openai", "gpt-5.4-mini", "Say hello in French.");
    llmsvc_request_set_number(req, "max_tokens", 500);
    llmsvc_response *resp = call_fx(req, "basic.json");
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/openai/v1/chat/completions");
    assert_jstr(s.rec, "query", "");
    ck_assert_msg(header_is(&s, "api-key", TEST_KEY), "api-key is not AZURE_OPENAI_API_KEY");
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    assert_jstr(s.body, "model", "gpt-5.4-mini");
    /* a reasoning model: max_completion_tokens, and the spec's default effort */
    ck_assert_int_eq(jint(s.body, "max_completion_tokens"), 500);
    ck_assert(!jhas(s.body, "max_tokens"));
    assert_jstr(s.body, "reasoning_effort", "none");
    sent_free(&s);
    ck_assert(llmsvc_response_cost_usd(resp) > 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    /* no key: a configuration error naming the variable, nothing sent */
    tu_unsetenv("AZURE_OPENAI_API_KEY");
    req = preq("azure-openai", "gpt-5.4-mini", "Say hello in French.");
    llmsvc_error *err = call_fail(req, LLMSVC_E_CONFIG);
    assert_has(llmsvc_error_message(err), "AZURE_OPENAI_API_KEY");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(azure_endpoint_comes_from_azure_openai_endpoint)
{
    char url[256];
    snprintf(url, sizeof url, "%s/", fake_upstream_url(fu)); /* as people set it */
    tu_setenv("AZURE_OPENAI_ENDPOINT", url);
    llmsvc_runtime *envrt =
        open_rt(LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS, spec_path);
    llmsvc_request *req = tu_request("azure-openai", "gpt-4.1-mini", "hello");
    serve("basic.json");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(envrt, req, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/openai/v1/chat/completions");
    sent_free(&s);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    llmsvc_runtime_close(envrt);
}
END_TEST

/* The shipped azure-openai spec switched to the classic deployment route by an
 * operator's override file. */
static void setup_azure_classic(void)
{
    start_upstream();
    char file[TU_PATH];
    tu_write(file, tmp, "zz-azure-classic.yaml",
             "provider: azure-openai\n"
             "api: openai-chat\n"
             "options: {path: /chat/completions, azure_api_version: 2024-10-21}\n"
             "models:\n"
             "  - name: my-gpt4o-deployment\n"
             "    capabilities: [streaming, tools]\n"
             "    parameters:\n"
             "      max_tokens: {type: int, min: 1, max: 16384}\n"
             "    pricing: {input_per_mtok: 2.50, output_per_mtok: 10.00}\n");
    size_t n = strlen(spec_path);
    snprintf(spec_path + n, sizeof spec_path - n, ":%s", file);
    rt = open_rt(ISOLATED, spec_path);
}

START_TEST(azure_classic_route_puts_the_deployment_and_api_version_in_the_url)
{
    llmsvc_request *req = preq("azure-openai", "my-gpt4o-deployment", "hello");
    llmsvc_request_set_number(req, "max_tokens", 100);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/openai/deployments/my-gpt4o-deployment/chat/completions");
    assert_jstr(s.rec, "query", "api-version=2024-10-21");
    ck_assert_msg(header_is(&s, "api-key", TEST_KEY), "api-key is not AZURE_OPENAI_API_KEY");
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    ck_assert_int_eq(jint(s.body, "max_tokens"), 100);
    sent_free(&s);
    llmsvc_request_free(req);
    /* a shipped model: its name is the deployment */
    req = preq("azure-openai", "gpt-4o", "hello");
    llmsvc_response_free(call_fx(req, "basic.json"));
    s = sent_get(-1);
    assert_jstr(s.rec, "path", "/openai/deployments/gpt-4o/chat/completions");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(azure_deployment_option_pins_the_deployment_in_the_url)
{
    char file[TU_PATH];
    tu_write(file, tmp, "zz-azure-pin.yaml",
             "provider: azure-openai\n"
             "api: openai-chat\n"
             "options: {azure_deployment: prod-chat}\n"
             "models:\n"
             "  - name: my-gpt4o-deployment\n");
    char path[sizeof spec_path];
    snprintf(path, sizeof path, "%s:%s", spec_path, file);
    llmsvc_runtime *pinned = open_rt(ISOLATED, path);
    llmsvc_request *req = preq("azure-openai", "gpt-4.1", "hello");
    serve("basic.json");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(pinned, req, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/openai/deployments/prod-chat/chat/completions");
    assert_jstr(s.rec, "query", "api-version=2024-10-21");
    assert_jstr(s.body, "model", "gpt-4.1");
    sent_free(&s);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    llmsvc_runtime_close(pinned);
}
END_TEST

START_TEST(azure_deployment_option_on_the_v1_route_is_the_model_sent)
{
    char file[TU_PATH];
    tu_write(file, tmp, "zz-azure-pin.yaml",
             "provider: azure-openai\n"
             "api: openai-chat\n"
             "options: {azure_deployment: prod-chat}\n"
             "models:\n"
             "  - name: my-deployment\n");
    char path[sizeof spec_path];
    snprintf(path, sizeof path, "%s:%s", spec_path, file);
    llmsvc_runtime *pinned = open_rt(ISOLATED, path);
    llmsvc_request *req = preq("azure-openai", "gpt-4.1", "hello");
    serve("basic.json");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(pinned, req, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/openai/v1/chat/completions");
    assert_jstr(s.body, "model", "prod-chat");
    sent_free(&s);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    llmsvc_runtime_close(pinned);
}
END_TEST

START_TEST(azure_content_filter_error_keeps_code_and_param)
{
    json_object *fx = fixture("error_azure_content_filter.json");
    script("{\"path\": \"/chat/completions\", \"status\": 400,"
           " \"fixture\": \"" FX "error_azure_content_filter.json\"}");
    llmsvc_request *req = preq("azure-openai", "gpt-4o", "something filtered");
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    assert_has(llmsvc_error_message(err), jstr(fx, "error.message"));
    assert_has(llmsvc_error_message(err), "HTTP 400 from provider 'azure-openai'");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "content_filter");
    ck_assert_str_eq(llmsvc_error_param(err), "prompt");
    ck_assert_ptr_null(llmsvc_error_provider_type(err));
    ck_assert(!llmsvc_error_retryable(err));
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(azure_stream_skips_the_prompt_filter_chunk)
{
    serve_sse("stream_azure.sse", 0);
    llmsvc_request *req = preq("azure-openai", "gpt-5.4-mini", "Say hello in French.");
    seen s;
    seen_init(&s);
    llmsvc_response *resp = stream_ok(req, &s);
    ck_assert_str_eq(llmsvc_response_message(resp), "Bonjour le monde !");
    ck_assert_str_eq(s.text, "Bonjour le monde !");
    /* the first chunk's empty id and model are not taken */
    ck_assert_str_eq(llmsvc_response_id(resp), "chatcmpl-CZxL0dF2vI5kM7oQ9sU1wY3aC5eG");
    ck_assert_str_eq(llmsvc_response_model(resp), "gpt-5.4-mini-2026-03-17");
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT), 21);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT), 5);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    sent sr = sent_get(-1);
    ck_assert_int_eq(jbool(sr.body, "stream"), 1);
    ck_assert_int_eq(jbool(sr.body, "stream_options.include_usage"), 1);
    sent_free(&sr);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ responses */

START_TEST(a_basic_response_gives_text_id_model_usage_and_stop)
{
    json_object *fx = fixture("basic.json");
    llmsvc_request *req = creq("chat-all", "Write a haiku about recursion.");
    llmsvc_response *resp = call_fx(req, "basic.json");
    ck_assert_str_eq(llmsvc_response_message(resp), jstr(fx, "choices.0.message.content"));
    ck_assert_str_eq(llmsvc_response_id(resp), jstr(fx, "id"));
    ck_assert_str_eq(llmsvc_response_model(resp), "chat-all"); /* {{model}} */
    ck_assert_str_eq(llmsvc_response_provider(resp), "chattest");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    ck_assert_ptr_null(llmsvc_response_reasoning(resp));
    ck_assert_uint_eq(llmsvc_response_tool_call_count(resp), 0);
    ck_assert_ptr_null(llmsvc_response_state(resp, NULL));
    assert_usage(resp, jat(fx, "usage"));
    ck_assert_int_eq(llmsvc_response_attempts(resp), 1);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(tool_calls_keep_id_name_and_arguments_in_order)
{
    json_object *fx = fixture("tool_calls.json");
    llmsvc_request *req = creq("chat-all", "Weather in Paris and Tokyo?");
    add_weather_tool(req);
    llmsvc_response *resp = call_fx(req, "tool_calls.json");
    json_object *calls = jat(fx, "choices.0.message.tool_calls");
    ck_assert_uint_eq(llmsvc_response_tool_call_count(resp), json_object_array_length(calls));
    for (size_t i = 0; i < json_object_array_length(calls); i++) {
        json_object *want = json_object_array_get_idx(calls, i);
        const llmsvc_tool_call *c = llmsvc_response_tool_call(resp, i);
        ck_assert_str_eq(c->id, jstr(want, "id"));
        ck_assert_str_eq(c->name, jstr(want, "function.name"));
        ck_assert_str_eq(c->arguments, jstr(want, "function.arguments"));
    }
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "tool_calls");
    ck_assert_str_eq(llmsvc_response_message(resp), "");
    /* no reasoning: nothing to send back */
    ck_assert_ptr_null(llmsvc_response_state(resp, NULL));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(arguments_sent_as_an_object_are_kept_as_json_text)
{
    json_object *fx = fixture("tool_calls.json");
    json_object *fn = jat(fx, "choices.0.message.tool_calls.0.function");
    json_object_object_add(fn, "arguments", json_tokener_parse("{\"city\": \"Paris\"}"));
    serve_json(fx);
    llmsvc_request *req = creq("chat-all", "Weather?");
    add_weather_tool(req);
    llmsvc_response *resp = call_ok(req);
    json_object *args = json_tokener_parse(llmsvc_response_tool_call(resp, 0)->arguments);
    assert_jstr(args, "city", "Paris");
    json_object_put(args);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

/* A finish reason of the provider and llmsvc's for it. */
static const struct {
    const char *fixture;
    const char *set; /* replaces choices.0.finish_reason ("null": JSON null); NULL: as is */
    const char *want;
    int empty_text; /* the answer's text is empty */
} finishes[] = {
    {"basic.json", NULL, "stop", 0},
    {"length.json", NULL, "length", 0},
    {"reasoning_length.json", NULL, "length", 1},
    {"content_filter.json", NULL, "content_filter", 1},
    {"refusal.json", NULL, "refusal", 0},
    {"tool_calls.json", NULL, "tool_calls", 1},
    {"tool_calls.json", "stop", "tool_calls", 1}, /* a forced tool_choice: OpenAI says stop */
    {"tool_calls.json", "function_call", "tool_calls", 1},
    {"tool_calls.json", "null", "tool_calls", 1},
    {"basic.json", "null", "stop", 0},
    {"basic.json", "model_length", "length", 0}, /* Mistral */
    {"basic.json", "eos", "eos", 0},             /* another server's own reason */
    {"basic.json", "ABORT", "abort", 0},
    {"basic.json", "error", "error", 0},
};

START_TEST(each_finish_reason_maps_and_is_never_collapsed)
{
    json_object *fx = fixture(finishes[_i].fixture);
    if (finishes[_i].set) {
        json_object *v =
            strcmp(finishes[_i].set, "null") == 0 ? NULL : json_object_new_string(finishes[_i].set);
        json_object_object_add(jat(fx, "choices.0"), "finish_reason", v);
    }
    char *body = with_model(json_object_to_json_string_ext(fx, JSON_C_TO_STRING_PLAIN), "chat-all");
    serve_body(body, NULL);
    free(body);
    llmsvc_request *req = creq("chat-all", "hello");
    add_weather_tool(req);
    llmsvc_response *resp = call_ok(req);
    ck_assert_msg(strcmp(llmsvc_response_finish_reason(resp), finishes[_i].want) == 0,
                  "%s with %s: finish reason '%s', want '%s'", finishes[_i].fixture,
                  finishes[_i].set ? finishes[_i].set : "(as is)",
                  llmsvc_response_finish_reason(resp), finishes[_i].want);
    char *text = answer_text(fx);
    ck_assert_str_eq(llmsvc_response_message(resp), text);
    ck_assert_int_eq(strlen(text) == 0, finishes[_i].empty_text);
    free(text);
    assert_usage(resp, jat(fx, "usage"));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(a_refusal_gives_its_text_and_finishes_with_refusal)
{
    json_object *fx = fixture("refusal.json");
    llmsvc_request *req = creq("chat-all", "Help me pick a lock.");
    llmsvc_response *resp = call_fx(req, "refusal.json");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "refusal");
    ck_assert_str_eq(llmsvc_response_message(resp), jstr(fx, "choices.0.message.refusal"));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(reasoning_content_is_reasoning_text_and_is_not_sent_back_without_tools)
{
    json_object *fx = fixture("deepseek_reasoning.json");
    llmsvc_request *req = conv_req("chattest", "chat-all");
    llmsvc_request_add_message(req, "user", "9.11 and 9.8, which is greater?");
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    llmsvc_response *resp = call_fx(req, "deepseek_reasoning.json");
    ck_assert_str_eq(llmsvc_response_reasoning(resp),
                     jstr(fx, "choices.0.message.reasoning_content"));
    ck_assert_str_eq(llmsvc_response_message(resp), jstr(fx, "choices.0.message.content"));
    assert_usage(resp, jat(fx, "usage"));
    ck_assert_int_gt(llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING), 0);
    /* no tool calls: DeepSeek ignores the reasoning of such turns (and its older
     * reasoner refused it), so nothing goes back */
    ck_assert_ptr_null(llmsvc_response_state(resp, NULL));
    ck_assert_int_eq(llmsvc_request_add_response(req, resp), LLMSVC_OK);
    llmsvc_request_add_message(req, "user", "And 9.9?");
    llmsvc_response_free(resp);
    llmsvc_response_free(call_fx(req, "deepseek_reasoning.json"));
    sent s = sent_get(-1);
    assert_jstr(s.body, "messages.1.role", "assistant");
    assert_jstr(s.body, "messages.1.content", jstr(fx, "choices.0.message.content"));
    ck_assert(!jhas(jat(s.body, "messages.1"), "reasoning_content"));
    assert_lacks(s.text, "reasoning_content");
    sent_free(&s);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(deepseek_cache_hits_count_as_cached_input_without_prompt_tokens_details)
{
    json_object *fx = fixture("deepseek_reasoning_tools.json");
    json_object_object_del(jat(fx, "usage"), "prompt_tokens_details");
    serve_json(fx);
    llmsvc_request *req = creq("chat-all", "Weather in Paris?");
    add_weather_tool(req);
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT),
                     jint(fx, "usage.prompt_cache_hit_tokens"));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(mistral_content_parts_give_text_and_thinking)
{
    json_object *fx = fixture("mistral_thinking.json");
    llmsvc_request *req = creq("chat-all", "How many r's in strawberry?");
    llmsvc_response *resp = call_fx(req, "mistral_thinking.json");
    ck_assert_str_eq(llmsvc_response_message(resp), jstr(fx, "choices.0.message.content.1.text"));
    ck_assert_str_eq(llmsvc_response_reasoning(resp),
                     jstr(fx, "choices.0.message.content.0.thinking.0.text"));
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT),
                     jint(fx, "usage.completion_tokens"));
    /* no details: zero, not unknown, once usage is there */
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT), 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(a_server_omitting_usage_gives_a_successful_response_with_unknown_counts)
{
    llmsvc_request *req = creq("chat-all", "Capital of France?");
    llmsvc_response *resp = call_fx(req, "no_usage.json");
    ck_assert_str_eq(llmsvc_response_message(resp), "Paris is the capital of France.");
    for (int k = LLMSVC_TOKENS_INPUT; k <= LLMSVC_TOKENS_TOTAL; k++)
        ck_assert_int_eq(llmsvc_response_tokens(resp, (llmsvc_token_kind)k), -1);
    ck_assert(llmsvc_response_cost_usd(resp) < 0);
    char *json = NULL;
    ck_assert_int_eq(llmsvc_response_to_json(&json, resp), LLMSVC_OK);
    json_object *j = json_tokener_parse(json);
    ck_assert(jhas(j, "cost_usd") && jat(j, "cost_usd") == NULL);
    ck_assert(jhas(j, "input_tokens") && jat(j, "input_tokens") == NULL);
    json_object_put(j);
    llmsvc_free(json);
    llmsvc_response_free(resp);
    /* "usage": null is the same */
    json_object *fx = fixture("basic.json");
    json_object_object_add(fx, "usage", NULL);
    serve_json(fx);
    resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT), -1);
    ck_assert(llmsvc_response_cost_usd(resp) < 0);
    llmsvc_response_free(resp);
    json_object_put(fx);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_response_without_a_model_reports_the_model_asked_for)
{
    json_object *fx = fixture("basic.json");
    json_object_object_del(fx, "model");
    serve_json(fx);
    llmsvc_request *req = creq("chat-all", "hello");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_model(resp), "chat-all");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

/* The pricing object the runtime reports for a model. */
#define model_pricing proto_model_pricing

#define price proto_price

static const struct {
    const char *provider, *model, *fixture;
} cost_cases[] = {
    {"chattest", "chat-all", "cached.json"},                   /* cache reads and writes */
    {"chattest", "chat-all", "deepseek_reasoning_tools.json"}, /* reasoning, cache hits */
    {"chattest", "chat-mct", "cached.json"},                   /* no cache prices */
    {"azure-openai", "gpt-5.6-terra", "cached.json"},
    {"azure-openai", "gpt-4o-mini", "basic.json"},
};

START_TEST(cost_is_usage_times_the_models_prices)
{
    char *text = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_runtime_models_json(&text, rt, cost_cases[_i].provider, &err);
    assert_code(rc, LLMSVC_OK, err);
    json_object *models = json_tokener_parse(text);
    llmsvc_free(text);
    json_object *pr = model_pricing(models, cost_cases[_i].provider, cost_cases[_i].model);
    double p_in = price(pr, "input_per_mtok"), p_out = price(pr, "output_per_mtok");
    double p_cached = price(pr, "cached_input_per_mtok"),
           p_write = price(pr, "cache_write_per_mtok");
    ck_assert(p_in > 0 && p_out > 0);
    if (p_cached < 0)
        p_cached = p_in;
    if (p_write < 0)
        p_write = p_in;
    json_object *fx = fixture(cost_cases[_i].fixture);
    int64_t in = jint(fx, "usage.prompt_tokens"), out = jint(fx, "usage.completion_tokens");
    int64_t cached = jint_or(fx, "usage.prompt_tokens_details.cached_tokens", 0);
    int64_t written = jint_or(fx, "usage.prompt_tokens_details.cache_write_tokens", 0);
    /* reasoning tokens are part of completion_tokens and billed as output, once */
    double want = ((double)(in - cached - written) * p_in + (double)cached * p_cached +
                   (double)written * p_write + (double)out * p_out) /
                  1e6;
    llmsvc_request *req = strcmp(cost_cases[_i].provider, "chattest") == 0
                              ? creq(cost_cases[_i].model, "How much?")
                              : preq(cost_cases[_i].provider, cost_cases[_i].model, "How much?");
    llmsvc_response *resp = call_fx(req, cost_cases[_i].fixture);
    double got = llmsvc_response_cost_usd(resp);
    ck_assert_msg(want > 0 && fabs(got - want) <= 1e-12 * want, "%s/%s with %s: %.12g, want %.12g",
                  cost_cases[_i].provider, cost_cases[_i].model, cost_cases[_i].fixture, got, want);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
    json_object_put(models);
}
END_TEST

/* ================================================================ errors */

typedef struct error_case {
    int status;
    const char *fixture;
    const char *message; /* the provider's message as kept; NULL: the fixture's error.message */
    const char *type, *code, *param;
    int retryable;
} error_case;

static const error_case error_cases[] = {
    {400, "error_400_max_tokens.json", NULL, "invalid_request_error", "unsupported_parameter",
     "max_tokens", 0},
    {401, "error_401.json", NULL, "invalid_request_error", "invalid_api_key", NULL, 0},
    {429, "error_429.json", NULL, "tokens", "rate_limit_exceeded", NULL, 1},
    {500, "error_500.json", NULL, "server_error", NULL, NULL, 1},
    {404, "error_ollama_404.json", NULL, "api_error", NULL, NULL, 0},
    /* compatible servers' shapes */
    {404, "error_string.json", "model 'qwen3:32b' not found", NULL, NULL, NULL, 0},
    {404, "error_detail.json", "Not Found", NULL, NULL, NULL, 0},
    {422, "error_detail_list.json",
     "Field required (at body.messages); Input should be greater than or equal to 1 "
     "(at body.max_tokens)",
     NULL, NULL, NULL, 0},
    {400, "error_vllm_400.json", NULL, "BadRequestError", "400", NULL, 0},
    {422, "error_mistral_422.json",
     "Extra inputs are not permitted (at body.stream_options.include_usage)",
     "invalid_request_error", NULL, NULL, 0},
    {402, "error_openrouter_402.json", NULL, NULL, "402", NULL, 0},
    {503, "error_500.json", NULL, "server_error", NULL, NULL, 1},
};

START_TEST(each_error_shape_is_an_api_error_keeping_the_providers_message)
{
    const error_case *c = &error_cases[_i];
    json_object *fx = fixture(c->fixture);
    script("{\"path\": \"/chat/completions\", \"status\": %d, \"fixture\": \"" FX "%s\","
           " \"headers\": {\"retry-after\": \"2\"}}",
           c->status, c->fixture);
    llmsvc_request *req = creq("chat-all", "hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    const char *msg = c->message ? c->message : jstr(fx, "error.message");
    if (!msg)
        msg = jstr(fx, "message"); /* vLLM's top-level error object */
    ck_assert_ptr_nonnull(msg);
    char want[2048];
    if (c->status == 401)
        snprintf(want, sizeof want,
                 "HTTP 401 from provider 'chattest' (check the key in LLMSVC_TEST_CHAT_KEY): %s",
                 msg);
    else if (c->status == 429)
        snprintf(want, sizeof want, "rate limited: HTTP 429 from provider 'chattest': %s", msg);
    else
        snprintf(want, sizeof want, "HTTP %d from provider 'chattest': %s", c->status, msg);
    assert_text_eq(llmsvc_error_message(err), want);
    ck_assert_int_eq(llmsvc_error_http_status(err), c->status);
    ck_assert_int_eq(llmsvc_error_retryable(err), c->retryable);
    ck_assert_int_eq(llmsvc_error_retry_after_ms(err), 2000);
    ck_assert_pstr_eq(llmsvc_error_provider_type(err), c->type);
    ck_assert_pstr_eq(llmsvc_error_provider_code(err), c->code);
    ck_assert_pstr_eq(llmsvc_error_param(err), c->param);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(retryable_errors_are_retried_and_then_succeed)
{
    script("{\"path\": \"/chat/completions\", \"status\": 429, \"fixture\": \"" FX
           "error_429.json\", \"headers\": {\"retry-after-ms\": \"10\"}}");
    script("{\"path\": \"/chat/completions\", \"status\": 500, \"fixture\": \"" FX
           "error_500.json\", \"headers\": {\"retry-after-ms\": \"10\"}}");
    serve("basic.json");
    llmsvc_request *req = creq("chat-all", "hello");
    llmsvc_request_set_max_retries(req, 2);
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 3);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 3);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_non_json_error_body_is_quoted)
{
    script("{\"path\": \"/chat/completions\", \"status\": 502, \"fixture\": \"" FX
           "error_plain.txt\", \"content_type\": \"text/plain\"}");
    llmsvc_request *req = creq("chat-all", "hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    char *body = fixture_text("error_plain.txt");
    char want[1024];
    snprintf(want, sizeof want, "HTTP 502 from provider 'chattest': unreadable error body: '%s'",
             body);
    assert_text_eq(llmsvc_error_message(err), want);
    ck_assert(llmsvc_error_retryable(err));
    free(body);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_error_inside_a_200_answer_is_an_api_error)
{
    json_object *fx = fixture("openrouter_error_200.json");
    serve("openrouter_error_200.json");
    llmsvc_request *req = creq("chat-all", "hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    assert_text_eq(llmsvc_error_message(err), jstr(fx, "choices.0.error.message"));
    ck_assert_str_eq(llmsvc_error_provider_code(err), "502");
    ck_assert(llmsvc_error_retryable(err)); /* an upstream 502 */
    llmsvc_error_free(err);
    /* and {"error": {...}} with a 200 */
    serve_body("{\"error\": {\"message\": \"Internal error\", \"code\": 500}}", NULL);
    err = call_fail(req, LLMSVC_E_API);
    assert_text_eq(llmsvc_error_message(err), "Internal error");
    ck_assert(llmsvc_error_retryable(err));
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(a_success_body_that_is_not_a_completion_is_a_provider_error)
{
    llmsvc_request *req = creq("chat-all", "hello");
    llmsvc_request_set_max_retries(req, 0);
    serve_body("[]", NULL);
    llmsvc_error *err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "not a JSON object");
    llmsvc_error_free(err);
    serve_body("{\"id\": \"chatcmpl-1\", \"object\": \"chat.completion\", \"choices\": []}", NULL);
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "no choices");
    llmsvc_error_free(err);
    serve_body("{\"id\": \"chatcmpl-1\", \"choices\": [{\"index\": 0, \"text\": \"hi\"}]}", NULL);
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "no message");
    llmsvc_error_free(err);
    script("{\"path\": \"/chat/completions\", \"fault\": \"invalid_json\"}");
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "not complete JSON (it ends after 30 bytes)");
    ck_assert(!llmsvc_error_retryable(err));
    llmsvc_error_free(err);
    serve_body("{\"id\": tru, \"choices\": []}", NULL);
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "not valid JSON at byte 7");
    llmsvc_error_free(err);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 5);
    llmsvc_request_free(req);
}
END_TEST

/* Fails until the core's JSON reader refuses stray commas (core/jdoc.c: jsmn
 * lets them through); the proposed patch is in the openai-chat report. */
START_TEST(a_body_with_stray_commas_is_a_provider_error)
{
    static const char *const bad[] = {
        "{\"id\": \"chatcmpl-1\",, \"choices\": [{\"index\": 0, \"message\": {\"role\":"
        " \"assistant\", \"content\": \"Hi\"}, \"finish_reason\": \"stop\"}]}",
        "{\"id\": \"chatcmpl-1\", \"choices\": [{\"index\": 0, \"message\": {\"role\":"
        " \"assistant\", \"content\": \"Hi\",}, \"finish_reason\": \"stop\"}]}",
        "{\"id\": \"chatcmpl-1\", \"choices\": [,{\"index\": 0, \"message\": {\"role\":"
        " \"assistant\", \"content\": \"Hi\"}, \"finish_reason\": \"stop\"}]}",
    };
    llmsvc_request *req = creq("chat-all", "hello");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        serve_body(bad[i], NULL);
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
        ck_assert_msg(rc == LLMSVC_E_PROVIDER, "body %zu (%s) was accepted as JSON: %s", i, bad[i],
                      llmsvc_code_name(rc));
        assert_has(llmsvc_error_message(err), "not valid JSON at byte");
        llmsvc_error_free(err);
        llmsvc_response_free(resp);
    }
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ streaming */

/* Each stream fixture and its non-streamed twin, with the provider serving it. */
static const struct {
    const char *json, *sse, *provider, *model;
} pairs[] = {
    {"basic.json", "stream_basic.sse", "chattest", "chat-all"},
    {"tool_calls.json", "stream_tool_calls.sse", "chattest", "chat-all"},
    {"deepseek_reasoning_tools.json", "stream_deepseek_reasoning_tools.sse", "chattest",
     "chat-all"},
    {"openrouter_reasoning_details.json", "stream_openrouter_reasoning.sse", "chattest",
     "chat-all"},
    {"length.json", "stream_length.sse", "chattest", "chat-all"},
    {"refusal.json", "stream_refusal.sse", "chattest", "chat-all"},
    {"no_usage.json", "stream_no_usage.sse", "chattest", "chat-all"},
    {"ollama_basic.json", "stream_ollama.sse", "ollama", "llama3.2"},
    {"llamacpp_basic.json", "stream_no_done.sse", "llamacpp", "gpt-oss-20b"},
};
#define N_PAIRS (sizeof pairs / sizeof *pairs)

static llmsvc_request *pair_req(size_t i)
{
    llmsvc_request *req = strcmp(pairs[i].provider, "chattest") == 0
                              ? creq(pairs[i].model, "hello")
                              : preq(pairs[i].provider, pairs[i].model, "hello");
    if (strcmp(pairs[i].model, "llama3.2") != 0)
        add_weather_tool(req);
    return req;
}

/* _i: the pair (i / 2), whole (even) or a byte at a time (odd). */
START_TEST(each_stream_equals_its_non_streamed_twin)
{
    size_t i = (size_t)_i / 2;
    int bytewise = _i % 2;
    llmsvc_request *req = pair_req(i);
    llmsvc_response *whole = call_fx(req, pairs[i].json);
    serve_sse(pairs[i].sse, bytewise ? 1 : 0);
    seen s;
    seen_init(&s);
    llmsvc_response *streamed = stream_ok(req, &s);
    assert_same_response(streamed, whole);
    /* what the host heard is what it got */
    assert_text_eq(s.text, llmsvc_response_message(whole));
    const char *r = llmsvc_response_reasoning(whole);
    assert_text_eq(s.reasoning, r ? r : "");
    for (size_t k = 0; k < llmsvc_response_tool_call_count(whole); k++) {
        const llmsvc_tool_call *c = llmsvc_response_tool_call(whole, k);
        ck_assert_int_eq(s.starts[k], 1);
        ck_assert_int_eq(s.ends[k], 1);
        assert_text_eq(s.ids[k], c->id);
        assert_text_eq(s.names[k], c->name);
        assert_text_eq(s.args[k], c->arguments);
    }
    ck_assert(s.ends_before_done);
    /* usage at the end of every stream that has it, and nothing after it */
    if (llmsvc_response_tokens(whole, LLMSVC_TOKENS_INPUT) >= 0)
        ck_assert_int_ge(s.usage_events, 1);
    ck_assert_int_eq(s.text_after_usage, 0);
    ck_assert_double_eq_tol(llmsvc_response_cost_usd(streamed), llmsvc_response_cost_usd(whole),
                            1e-15);
    /* the streaming request */
    sent sr = sent_get(-1);
    ck_assert_int_eq(jbool(sr.body, "stream"), 1);
    ck_assert_int_eq(jbool(sr.body, "stream_options.include_usage"), 1);
    sent_free(&sr);
    sr = sent_get(-2);
    ck_assert(!jhas(sr.body, "stream"));
    ck_assert(!jhas(sr.body, "stream_options"));
    sent_free(&sr);
    llmsvc_response_free(streamed);
    llmsvc_response_free(whole);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(interleaved_parallel_tool_calls_stay_apart_by_index)
{
    json_object *fx = fixture("tool_calls.json");
    serve_sse("stream_tool_calls.sse", 7);
    llmsvc_request *req = creq("chat-all", "Weather in Paris and Tokyo?");
    add_weather_tool(req);
    seen s;
    seen_init(&s);
    llmsvc_response *resp = stream_ok(req, &s);
    ck_assert_msg(s.args_interleaved, "the fixture's argument pieces were not interleaved");
    for (int k = 0; k < 2; k++) {
        char p[64];
        snprintf(p, sizeof p, "choices.0.message.tool_calls.%d.", k);
        char path[96];
        snprintf(path, sizeof path, "%sid", p);
        assert_text_eq(s.ids[k], jstr(fx, path));
        snprintf(path, sizeof path, "%sfunction.arguments", p);
        assert_text_eq(s.args[k], jstr(fx, path));
        ck_assert_int_eq(s.starts[k], 1);
        ck_assert_int_eq(s.ends[k], 1);
    }
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "tool_calls");
    ck_assert_uint_eq(llmsvc_response_tool_call_count(resp), 2);
    ck_assert(s.ends_before_done);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(stream_include_usage_false_leaves_stream_options_out)
{
    serve_sse("stream_basic.sse", 0);
    llmsvc_request *req = tu_request("chatopts", "opts-model", "hello");
    seen s;
    seen_init(&s);
    llmsvc_response_free(stream_ok(req, &s));
    sent sr = sent_get(-1);
    ck_assert_int_eq(jbool(sr.body, "stream"), 1);
    ck_assert(!jhas(sr.body, "stream_options"));
    sent_free(&sr);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_stream_without_done_ends_cleanly_after_its_finish_reason)
{
    /* nothing after the last chunk: the body just ends */
    char *text = fixture_text("stream_no_done.sse");
    assert_lacks(text, "[DONE]");
    free(text);
    serve_sse("stream_no_done.sse", 3);
    llmsvc_request *req = preq("llamacpp", "gpt-oss-20b", "hello");
    seen s;
    seen_init(&s);
    llmsvc_response *resp = stream_ok(req, &s);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    ck_assert_int_gt(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT), 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(done_without_a_finish_reason_ends_with_stop)
{
    serve_body("data: {\"id\":\"chatcmpl-x\",\"object\":\"chat.completion.chunk\",\"created\":1,"
               "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
               "\"finish_reason\":null}]}\n\n: keep-alive\n\ndata:\n\ndata: [DONE]\n\n",
               "text/event-stream");
    llmsvc_request *req = creq("chat-all", "hello");
    seen s;
    seen_init(&s);
    llmsvc_response *resp = stream_ok(req, &s);
    ck_assert_str_eq(llmsvc_response_message(resp), "Hi");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT), -1);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_server_that_does_not_stream_is_replayed)
{
    serve("basic.json"); /* application/json to a streaming request */
    llmsvc_request *req = creq("chat-all", "hello");
    seen s;
    seen_init(&s);
    llmsvc_response *resp = stream_ok(req, &s);
    json_object *fx = fixture("basic.json");
    ck_assert_str_eq(s.text, jstr(fx, "choices.0.message.content"));
    ck_assert_str_eq(llmsvc_response_message(resp), jstr(fx, "choices.0.message.content"));
    ck_assert_int_eq(s.usage_events, 1);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(an_error_status_to_a_stream_is_an_api_error_and_is_retried)
{
    script("{\"path\": \"/chat/completions\", \"status\": 429, \"fixture\": \"" FX
           "error_429.json\", \"headers\": {\"retry-after-ms\": \"10\"}}");
    serve_sse("stream_basic.sse", 0);
    llmsvc_request *req = creq("chat-all", "hello");
    seen s;
    seen_init(&s);
    llmsvc_response *resp = stream_ok(req, &s);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    llmsvc_response_free(resp);
    /* and with no retries left, the error with its message */
    script("{\"path\": \"/chat/completions\", \"status\": 429, \"fixture\": \"" FX
           "error_429.json\"}");
    llmsvc_request_set_max_retries(req, 0);
    seen_init(&s);
    llmsvc_error *err = NULL;
    resp = NULL;
    llmsvc_code rc = run_stream(req, &s, &resp, &err);
    assert_code(rc, LLMSVC_E_API, err);
    assert_has(llmsvc_error_message(err), "Rate limit reached for gpt-5.4-mini");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "rate_limit_exceeded");
    ck_assert_int_eq(s.errors, 1);
    llmsvc_response_free(resp);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

static const struct {
    const char *sse;
    const char *message, *type, *code;
    const char *partial;
} stream_errors[] = {
    {"stream_error.sse", "The server had an error while processing your request. Sorry about that!",
     "server_error", NULL, "The first three primes are 2, 3"},
    {"stream_vllm_error.sse", "The engine is dead: the model runner crashed and is restarting",
     "InternalServerError", "500", "Step one:"},
};

START_TEST(a_mid_stream_error_is_an_api_error_keeping_the_partial_text)
{
    serve_sse(stream_errors[_i].sse, 0);
    llmsvc_request *req = creq("chat-all", "hello");
    seen s;
    seen_init(&s);
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, &s, &resp, &err);
    assert_code(rc, LLMSVC_E_API, err);
    assert_text_eq(llmsvc_error_message(err), stream_errors[_i].message);
    ck_assert_pstr_eq(llmsvc_error_provider_type(err), stream_errors[_i].type);
    ck_assert_pstr_eq(llmsvc_error_provider_code(err), stream_errors[_i].code);
    ck_assert(!llmsvc_error_retryable(err)); /* the host heard part of it */
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    ck_assert_str_eq(s.text, stream_errors[_i].partial);
    ck_assert_int_eq(s.errors, 1);
    ck_assert_ptr_nonnull(resp);
    ck_assert_str_eq(llmsvc_response_message(resp), stream_errors[_i].partial);
    llmsvc_response_free(resp);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_cut_stream_is_a_transport_error_keeping_the_partial_text)
{
    json_object *fx = fixture("basic.json");
    const char *full = jstr(fx, "choices.0.message.content");
    script(
        "{\"path\": \"/chat/completions\", \"fixture\": \"" FX "stream_basic.sse\","
        " \"content_type\": \"text/event-stream\", \"chunk_bytes\": 64, \"fault\": \"truncate\"}");
    llmsvc_request *req = creq("chat-all", "hello");
    seen s;
    seen_init(&s);
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, &s, &resp, &err);
    assert_code(rc, LLMSVC_E_TRANSPORT, err);
    ck_assert_ptr_nonnull(resp);
    const char *partial = llmsvc_response_message(resp);
    ck_assert_msg(strlen(partial) > 0 && strlen(partial) < strlen(full) &&
                      strncmp(partial, full, strlen(partial)) == 0,
                  "partial text '%s' is not a proper prefix of '%s'", partial, full);
    ck_assert_str_eq(s.text, partial);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1); /* not retried: text was heard */
    llmsvc_response_free(resp);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

#define now_ms proto_now_ms

START_TEST(cancelling_from_the_callback_stops_the_stream_promptly)
{
    /* about 50 pieces, 100 ms apart: 5 s if nobody stops it */
    script("{\"path\": \"/chat/completions\", \"fixture\": \"" FX "stream_basic.sse\","
           " \"content_type\": \"text/event-stream\", \"chunk_bytes\": 64,"
           " \"chunk_delay_ms\": 100}");
    llmsvc_request *req = creq("chat-all", "hello");
    seen s;
    seen_init(&s);
    s.stop_after_text = 1;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    double t0 = now_ms();
    llmsvc_code rc = run_stream(req, &s, &resp, &err);
    double took = now_ms() - t0;
    assert_code(rc, LLMSVC_E_CANCELLED, err);
    ck_assert_msg(took < 2000, "cancelling took %.0f ms", took);
    ck_assert_int_eq(s.text_events, 1);
    ck_assert_int_eq(s.done, 0);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_response_free(resp);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ state */

START_TEST(deepseek_tool_round_trip_sends_reasoning_content_back_byte_for_byte)
{
    char *raw = raw_string_of("deepseek_reasoning_tools.json", "reasoning_content");
    /* the fixture escapes characters a re-serialization would not: a copy that
     * reached the wire through json-c would not hold these bytes */
    assert_has(raw, "\\u00b0C \\u2014");
    json_object *fx = fixture("deepseek_reasoning_tools.json");
    llmsvc_request *req = conv_req("chattest", "chat-all");
    llmsvc_request_add_message(req, "user", "What's the weather in Paris?");
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    add_weather_tool(req);
    llmsvc_response *first = call_fx(req, "deepseek_reasoning_tools.json");
    ck_assert_str_eq(llmsvc_response_finish_reason(first), "tool_calls");
    ck_assert_str_eq(llmsvc_response_reasoning(first),
                     jstr(fx, "choices.0.message.reasoning_content"));
    const char *proto = NULL;
    const char *state = llmsvc_response_state(first, &proto);
    ck_assert_str_eq(proto, PROTOCOL);
    char want[2048];
    snprintf(want, sizeof want, "{\"reasoning_content\":%s}", raw);
    assert_text_eq(state, want);

    ck_assert_int_eq(llmsvc_request_add_response(req, first), LLMSVC_OK);
    const llmsvc_tool_call *c = llmsvc_response_tool_call(first, 0);
    ck_assert_int_eq(
        llmsvc_request_add_tool_result(req, c->id, "{\"temp_c\": 18, \"sky\": \"sunny\"}"),
        LLMSVC_OK);
    llmsvc_response *second = call_fx(req, "tool_answer.json");
    ck_assert_str_eq(llmsvc_response_finish_reason(second), "stop");

    sent s = sent_get(-1);
    /* the exact bytes, escapes and all */
    assert_has(s.text, raw);
    ck_assert_uint_eq(jlen(s.body, "messages"), 3);
    assert_jstr(s.body, "messages.0.role", "user");
    json_object *a = jat(s.body, "messages.1");
    assert_jstr(a, "role", "assistant");
    ck_assert(jhas(a, "content") && jat(a, "content") == NULL); /* content: null */
    assert_jstr(a, "reasoning_content", jstr(fx, "choices.0.message.reasoning_content"));
    ck_assert_uint_eq(jlen(a, "tool_calls"), 1);
    assert_jstr(a, "tool_calls.0.id", c->id);
    assert_jstr(a, "tool_calls.0.type", "function");
    assert_jstr(a, "tool_calls.0.function.name", "get_weather");
    assert_jstr(a, "tool_calls.0.function.arguments", c->arguments);
    ck_assert_int_eq(json_object_object_length(a), 4);
    assert_jstr(s.body, "messages.2.role", "tool");
    assert_jstr(s.body, "messages.2.tool_call_id", c->id);
    assert_jstr(s.body, "messages.2.content", "{\"temp_c\": 18, \"sky\": \"sunny\"}");
    ck_assert_uint_eq(jlen(s.body, "tools"), 1);
    sent_free(&s);
    llmsvc_response_free(second);
    llmsvc_response_free(first);
    llmsvc_request_free(req);
    json_object_put(fx);
    free(raw);
}
END_TEST

START_TEST(a_streamed_deepseek_state_goes_back_as_the_same_reasoning)
{
    json_object *fx = fixture("deepseek_reasoning_tools.json");
    llmsvc_request *req = conv_req("chattest", "chat-all");
    llmsvc_request_add_message(req, "user", "What's the weather in Paris?");
    add_weather_tool(req);
    serve_sse("stream_deepseek_reasoning_tools.sse", 1);
    seen s;
    seen_init(&s);
    llmsvc_response *first = stream_ok(req, &s);
    const char *proto = NULL;
    const char *state = llmsvc_response_state(first, &proto);
    ck_assert_str_eq(proto, PROTOCOL);
    json_object *st = json_tokener_parse(state);
    ck_assert_msg(st, "the streamed state is not JSON: %s", state);
    assert_jstr(st, "reasoning_content", jstr(fx, "choices.0.message.reasoning_content"));
    ck_assert_int_eq(json_object_object_length(st), 1);
    json_object_put(st);
    ck_assert_int_eq(llmsvc_request_add_response(req, first), LLMSVC_OK);
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 0)->id, "18 C, sunny");
    llmsvc_response_free(call_fx(req, "tool_answer.json"));
    sent sr = sent_get(-1);
    assert_jstr(sr.body, "messages.1.reasoning_content",
                jstr(fx, "choices.0.message.reasoning_content"));
    assert_has(sr.text, state + strlen("{\"reasoning_content\":")); /* its bytes, as kept */
    sent_free(&sr);
    llmsvc_response_free(first);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(openrouter_reasoning_details_go_back_byte_for_byte)
{
    char *raw = raw_array_of("openrouter_reasoning_details.json", "reasoning_details");
    assert_has(raw, "\n"); /* pretty-printed in the fixture: re-serializing would change it */
    llmsvc_request *req = conv_req("chattest", "chat-all");
    llmsvc_request_add_message(req, "user", "What's the weather in Paris?");
    add_weather_tool(req);
    llmsvc_response *first = call_fx(req, "openrouter_reasoning_details.json");
    const char *proto = NULL;
    const char *state = llmsvc_response_state(first, &proto);
    ck_assert_str_eq(proto, PROTOCOL);
    char *want = malloc(strlen(raw) + 64);
    sprintf(want, "{\"reasoning_details\":%s}", raw);
    assert_text_eq(state, want);
    free(want);
    ck_assert_int_eq(llmsvc_request_add_response(req, first), LLMSVC_OK);
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 0)->id, "18 C");
    llmsvc_response_free(call_fx(req, "tool_answer.json"));
    sent s = sent_get(-1);
    assert_has(s.text, raw);
    ck_assert(!jhas(jat(s.body, "messages.1"), "reasoning")); /* the details carry it */
    sent_free(&s);
    llmsvc_response_free(first);
    llmsvc_request_free(req);
    free(raw);
}
END_TEST

START_TEST(streamed_reasoning_details_are_merged_by_index)
{
    json_object *fx = fixture("openrouter_reasoning_details.json");
    serve_sse("stream_openrouter_reasoning.sse", 0);
    llmsvc_request *req = creq("chat-all", "What's the weather in Paris?");
    add_weather_tool(req);
    seen s;
    seen_init(&s);
    llmsvc_response *resp = stream_ok(req, &s);
    json_object *st = json_tokener_parse(llmsvc_response_state(resp, NULL));
    json_object *want = jat(fx, "choices.0.message.reasoning_details.0");
    ck_assert_uint_eq(jlen(st, "reasoning_details"), 1);
    json_object *got = jat(st, "reasoning_details.0");
    assert_jstr(got, "type", jstr(want, "type"));
    assert_jstr(got, "text", jstr(want, "text"));
    assert_jstr(got, "signature", jstr(want, "signature"));
    assert_jstr(got, "format", jstr(want, "format"));
    ck_assert_int_eq(jint(got, "index"), 0);
    json_object_put(st);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(reasoning_state_options_always_and_never)
{
    /* always: even a turn without tool calls keeps its reasoning */
    llmsvc_request *req = tu_request("chatopts", "opts-model", "9.11 or 9.8?");
    llmsvc_response *resp = call_fx(req, "deepseek_reasoning.json");
    const char *proto = NULL;
    json_object *st = json_tokener_parse(llmsvc_response_state(resp, &proto));
    ck_assert_str_eq(proto, PROTOCOL);
    json_object *fx = fixture("deepseek_reasoning.json");
    assert_jstr(st, "reasoning_content", jstr(fx, "choices.0.message.reasoning_content"));
    json_object_put(st);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    /* never: not even with tool calls */
    req = tu_request("chatnostate", "nostate-model", "Weather?");
    add_weather_tool(req);
    resp = call_fx(req, "deepseek_reasoning_tools.json");
    ck_assert_ptr_null(llmsvc_response_state(resp, NULL));
    ck_assert_ptr_nonnull(llmsvc_response_reasoning(resp));
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    json_object_put(fx);
}
END_TEST

START_TEST(state_of_another_protocol_is_ignored_and_bad_state_is_refused)
{
    static const char *const fmt =
        "{\"llm\": {\"llm_model_spec\": {\"provider\": \"chattest\", \"model\": \"chat-all\"},"
        " \"messages\": [{\"role\": \"user\", \"content\": \"hi\"},"
        " {\"role\": \"assistant\", \"content\": \"Hello!\", \"state\": {\"protocol\": \"%s\","
        " \"data\": \"%s\"}}, {\"role\": \"user\", \"content\": \"bye\"}]}}";
    char json[1024];
    snprintf(
        json, sizeof json, fmt, "anthropic-messages",
        "[{\\\"type\\\":\\\"thinking\\\",\\\"thinking\\\":\\\"x\\\",\\\"signature\\\":\\\"s\\\"}]");
    llmsvc_request *req = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_from_json(&req, json, strlen(json), &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_fx(req, "basic.json"));
    sent s = sent_get(-1);
    json_object *a = jat(s.body, "messages.1");
    assert_jstr(a, "content", "Hello!");
    ck_assert_int_eq(json_object_object_length(a), 2);
    assert_lacks(s.text, "signature");
    sent_free(&s);
    llmsvc_request_free(req);
    /* an openai-chat state that is not an object */
    snprintf(json, sizeof json, fmt, PROTOCOL, "[1, 2]");
    rc = llmsvc_request_from_json(&req, json, strlen(json), &err);
    assert_code(rc, LLMSVC_OK, err);
    err = call_fail(req, LLMSVC_E_TRANSFORM);
    assert_has(llmsvc_error_message(err), "state of message 1 is not a JSON object");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_multi_turn_tool_conversation_sends_every_turn)
{
    json_object *calls_fx = fixture("tool_calls.json"), *answer_fx = fixture("tool_answer.json");
    llmsvc_request *req = conv_req("chattest", "chat-all");
    llmsvc_request_set_instructions(req, "You are a weather assistant.");
    llmsvc_request_add_message(req, "user", "Weather in Paris and Tokyo?");
    add_weather_tool(req);
    llmsvc_response *r1 = call_fx(req, "tool_calls.json");
    ck_assert_uint_eq(llmsvc_response_tool_call_count(r1), 2);
    ck_assert_int_eq(llmsvc_request_add_response(req, r1), LLMSVC_OK);
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(r1, 0)->id, "Paris: 18 C, sunny");
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(r1, 1)->id, "Tokyo: 12 C, rain");
    llmsvc_response *r2 = call_fx(req, "tool_answer.json");
    ck_assert_str_eq(llmsvc_response_message(r2), jstr(answer_fx, "choices.0.message.content"));
    ck_assert_int_eq(llmsvc_request_add_response(req, r2), LLMSVC_OK);
    llmsvc_request_add_message(req, "user", "And which is warmer?");
    llmsvc_response_free(call_fx(req, "basic.json"));

    sent s = sent_get(-1);
    json_object *m = jat(s.body, "messages");
    ck_assert_uint_eq(json_object_array_length(m), 7);
    assert_jstr(m, "0.role", "system");
    assert_jstr(m, "1.role", "user");
    assert_jstr(m, "2.role", "assistant");
    ck_assert_uint_eq(jlen(m, "2.tool_calls"), 2);
    for (int k = 0; k < 2; k++) {
        char a[64], b[96];
        snprintf(a, sizeof a, "2.tool_calls.%d.id", k);
        snprintf(b, sizeof b, "choices.0.message.tool_calls.%d.id", k);
        assert_jstr(m, a, jstr(calls_fx, b));
        snprintf(a, sizeof a, "%d.tool_call_id", 3 + k);
        assert_jstr(m, a, jstr(calls_fx, b));
        snprintf(a, sizeof a, "%d.role", 3 + k);
        assert_jstr(m, a, "tool");
    }
    assert_jstr(m, "3.content", "Paris: 18 C, sunny");
    assert_jstr(m, "4.content", "Tokyo: 12 C, rain");
    assert_jstr(m, "5.role", "assistant");
    assert_jstr(m, "5.content", jstr(answer_fx, "choices.0.message.content"));
    ck_assert(!jhas(jat(m, "5"), "tool_calls"));
    assert_jstr(m, "6.role", "user");
    assert_jstr(m, "6.content", "And which is warmer?");
    sent_free(&s);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 3);
    llmsvc_response_free(r2);
    llmsvc_response_free(r1);
    llmsvc_request_free(req);
    json_object_put(calls_fx);
    json_object_put(answer_fx);
}
END_TEST

/* ================================================================ the SSE parser */

static void test_call(llmsvc_call_info *call, int stream)
{
    memset(call, 0, sizeof *call);
    call->size = sizeof *call;
    call->provider = "chattest";
    call->api = PROTOCOL;
    call->model = "chat-all";
    call->stream = stream;
}

/* A stream fixture through the core's SSE parser, step bytes at a time, into
 * the plugin: the assembled response (caller frees); *code is parse_event's
 * last code, *err its error (caller frees). */
static llmsvc_response *feed_sse(const api_rec *api, const char *text, size_t step, seen *sn,
                                 int *done, llmsvc_code *code, llmsvc_error **err)
{
    llmsvc_call_info call;
    test_call(&call, 1);
    seen_init(sn);
    proto_fed r = proto_feed_sse(api, &call, text, strlen(text), step, on_event, sn);
    *done = r.done;
    *code = r.code;
    *err = r.err;
    return r.resp;
}

static llmsvc_response *parse_whole(const api_rec *api, const char *json_name)
{
    char *raw = fixture_text(json_name);
    char *body = with_model(raw, "chat-all");
    free(raw);
    llmsvc_call_info call;
    test_call(&call, 0);
    llmsvc_response *resp = proto_parse_body(api, &call, body);
    free(body);
    return resp;
}

START_TEST(sse_fixtures_split_at_every_byte_give_the_same_answer)
{
    char plugins[TU_PATH];
    plugin_dir(plugins);
    char *dirs[] = {plugins};
    int missing_ok[] = {0};
    loader ld;
    memset(&ld, 0, sizeof ld);
    ck_assert_int_eq(loader_load(&ld, dirs, missing_ok, 1, NULL, NULL), 0);
    const api_rec *api = loader_api(&ld, PROTOCOL);
    ck_assert_ptr_nonnull(api);
    ck_assert_ptr_nonnull(api->ops.parse_event);
    ck_assert_ptr_nonnull(api->ops.stream_free);
    for (size_t i = 0; i < N_PAIRS; i++) {
        char *raw = fixture_text(pairs[i].sse);
        char *text = with_model(raw, "chat-all");
        free(raw);
        llmsvc_response *whole = parse_whole(api, pairs[i].json);
        static const size_t steps[] = {1, 2, 3, 13, 1 << 20};
        for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
            seen s;
            int done = 0;
            llmsvc_code code;
            llmsvc_error *err = NULL;
            llmsvc_response *streamed = feed_sse(api, text, steps[k], &s, &done, &code, &err);
            assert_code(code, LLMSVC_OK, err);
            ck_assert_msg(done, "%s (step %zu): no end", pairs[i].sse, steps[k]);
            assert_same_response(streamed, whole);
            assert_text_eq(s.text, llmsvc_response_message(whole));
            llmsvc_response_free(streamed);
        }
        llmsvc_response_free(whole);
        free(text);
    }
    /* the error streams: parse_event fails on the error event, keeping the text */
    for (size_t i = 0; i < sizeof stream_errors / sizeof *stream_errors; i++) {
        char *raw = fixture_text(stream_errors[i].sse);
        char *text = with_model(raw, "chat-all");
        free(raw);
        seen s;
        int done = 0;
        llmsvc_code code;
        llmsvc_error *err = NULL;
        llmsvc_response *resp = feed_sse(api, text, 1, &s, &done, &code, &err);
        assert_code(code, LLMSVC_E_API, err);
        assert_text_eq(llmsvc_error_message(err), stream_errors[i].message);
        assert_text_eq(s.text, stream_errors[i].partial);
        ck_assert(!done);
        llmsvc_error_free(err);
        llmsvc_response_free(resp);
        free(text);
    }
    loader_free(&ld);
}
END_TEST

START_TEST(a_malformed_event_is_a_provider_error_naming_the_offset)
{
    char plugins[TU_PATH];
    plugin_dir(plugins);
    char *dirs[] = {plugins};
    int missing_ok[] = {0};
    loader ld;
    memset(&ld, 0, sizeof ld);
    ck_assert_int_eq(loader_load(&ld, dirs, missing_ok, 1, NULL, NULL), 0);
    const api_rec *api = loader_api(&ld, PROTOCOL);
    static const char *const bad[] = {
        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"\n\n",
        "data: [1, 2]\n\n",
        "data: not json\n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        seen s;
        int done = 0;
        llmsvc_code code;
        llmsvc_error *err = NULL;
        llmsvc_response *resp = feed_sse(api, bad[i], 1, &s, &done, &code, &err);
        assert_code(code, LLMSVC_E_PROVIDER, err);
        ck_assert_ptr_nonnull(err);
        llmsvc_error_free(err);
        llmsvc_response_free(resp);
    }
    loader_free(&ld);
}
END_TEST

/* ================================================================ secrets */

#define assert_no_secret(text, what) proto_assert_no_secret((text), (what), SECRET_KEY, 8)

static void fail_without_secret(llmsvc_request *req, llmsvc_code want)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    ck_assert_msg(rc == want, "expected %s, got %s: %s", llmsvc_code_name(want),
                  llmsvc_code_name(rc), err ? shown(llmsvc_error_message(err)) : "");
    ck_assert_ptr_nonnull(err);
    assert_no_secret(llmsvc_error_message(err), "the error message");
    char *json = NULL;
    ck_assert_int_eq(llmsvc_error_to_json(&json, err), LLMSVC_OK);
    assert_no_secret(json, "the error's JSON");
    llmsvc_free(json);
    llmsvc_error_free(err);
}

START_TEST(the_key_never_shows_in_errors_or_logs)
{
    tu_setenv("LLMSVC_TEST_CHAT_KEY", SECRET_KEY);
    tu_setenv("AZURE_OPENAI_API_KEY", SECRET_KEY);
    /* Azure's api-key header, and a transport error with a retry in between
     * (whose log line carries the first error's message) */
    script("{\"path\": \"/chat/completions\", \"fault\": \"reset\", \"times\": -1}");
    llmsvc_request *req = preq("azure-openai", "gpt-4o", "hello");
    llmsvc_request_set_max_retries(req, 1);
    fail_without_secret(req, LLMSVC_E_TRANSPORT);
    sent s = sent_get(-1);
    ck_assert_msg(header_is(&s, "api-key", SECRET_KEY), "the key was not sent");
    sent_free(&s);
    fake_upstream_reset(fu);
    char *log = tu_log_text(&logs);
    assert_has(log, "attempt 1 failed");
    free(log);
    /* a 401, plain and streamed */
    script("{\"path\": \"/chat/completions\", \"status\": 401, \"fixture\": \"" FX
           "error_401.json\"}");
    llmsvc_request *creq_ = creq("chat-all", "hello");
    fail_without_secret(creq_, LLMSVC_E_API);
    s = sent_get(-1);
    ck_assert_msg(header_is(&s, "authorization", "Bearer " SECRET_KEY), "the key was not sent");
    sent_free(&s);
    llmsvc_request_free(creq_);
    script("{\"path\": \"/chat/completions\", \"status\": 401, \"fixture\": \"" FX
           "error_401.json\"}");
    seen sn;
    seen_init(&sn);
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, &sn, &resp, &err);
    assert_code(rc, LLMSVC_E_API, err);
    assert_no_secret(llmsvc_error_message(err), "the stream's error");
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    log = tu_log_text(&logs);
    assert_no_secret(log, "the log");
    free(log);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ suite */

static Suite *openai_chat_suite(void)
{
    Suite *s = suite_create("openai_chat");
    TCase *tc = tu_tcase("request");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, posts_the_prompt_as_a_user_message_to_base_url_chat_completions);
    tcase_add_test(tc, instructions_become_a_first_system_message);
    tcase_add_test(tc, conversation_turns_keep_their_roles_and_order);
    tcase_add_test(tc, images_become_image_url_parts_after_the_text);
    tcase_add_test(tc, each_parameter_goes_to_its_own_name);
    tcase_add_test(tc, max_tokens_goes_to_max_completion_tokens_when_the_spec_says_so);
    tcase_add_test(tc, an_effort_with_a_budget_sends_the_budget_at_its_wire_path);
    tcase_add_test(tc, tools_are_functions_with_their_schema_embedded_as_given);
    tcase_add_test(tc, tool_choice_and_parallel_tool_calls_map_to_their_fields);
    tcase_add_test(tc, tool_choice_and_parallel_tool_calls_are_not_sent_without_tools);
    tcase_add_test(tc, a_response_format_is_a_json_schema_with_name_and_strict);
    tcase_add_test(tc, provider_options_are_merged_into_the_body_last);
    tcase_add_test(tc, the_key_goes_in_a_bearer_header_and_a_per_call_key_replaces_it);
    tcase_add_test(tc, spec_headers_are_sent_openrouter_style);
    tcase_add_test(tc, spec_options_set_the_path_the_key_header_and_the_instructions_role);
    tcase_add_test(tc, bad_spec_options_are_config_errors_and_nothing_is_sent);
    suite_add_tcase(s, tc);

    tc = tu_tcase("providers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ollama_is_a_local_server_without_a_key_and_costs_nothing);
    tcase_add_test(tc, ollama_reasoning_effort_none_turns_thinking_off);
    tcase_add_test(tc, vllm_sends_a_key_only_when_vllm_api_key_is_set);
    tcase_add_test(tc, llamacpp_is_a_local_server_without_a_key);
    tcase_add_test(tc, azure_v1_route_sends_the_api_key_header_and_the_deployment_as_model);
    tcase_add_test(tc, azure_endpoint_comes_from_azure_openai_endpoint);
    tcase_add_test(tc, azure_deployment_option_on_the_v1_route_is_the_model_sent);
    tcase_add_test(tc, azure_content_filter_error_keeps_code_and_param);
    tcase_add_test(tc, azure_stream_skips_the_prompt_filter_chunk);
    suite_add_tcase(s, tc);

    tc = tu_tcase("azure_classic");
    tcase_add_checked_fixture(tc, setup_azure_classic, teardown);
    tcase_add_test(tc, azure_classic_route_puts_the_deployment_and_api_version_in_the_url);
    tcase_add_test(tc, azure_deployment_option_pins_the_deployment_in_the_url);
    suite_add_tcase(s, tc);

    tc = tu_tcase("response");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_basic_response_gives_text_id_model_usage_and_stop);
    tcase_add_test(tc, tool_calls_keep_id_name_and_arguments_in_order);
    tcase_add_test(tc, arguments_sent_as_an_object_are_kept_as_json_text);
    tcase_add_loop_test(tc, each_finish_reason_maps_and_is_never_collapsed, 0,
                        (int)(sizeof finishes / sizeof *finishes));
    tcase_add_test(tc, a_refusal_gives_its_text_and_finishes_with_refusal);
    tcase_add_test(tc, reasoning_content_is_reasoning_text_and_is_not_sent_back_without_tools);
    tcase_add_test(tc, deepseek_cache_hits_count_as_cached_input_without_prompt_tokens_details);
    tcase_add_test(tc, mistral_content_parts_give_text_and_thinking);
    tcase_add_test(tc, a_server_omitting_usage_gives_a_successful_response_with_unknown_counts);
    tcase_add_test(tc, a_response_without_a_model_reports_the_model_asked_for);
    tcase_add_loop_test(tc, cost_is_usage_times_the_models_prices, 0,
                        (int)(sizeof cost_cases / sizeof *cost_cases));
    suite_add_tcase(s, tc);

    tc = tu_tcase("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, each_error_shape_is_an_api_error_keeping_the_providers_message, 0,
                        (int)(sizeof error_cases / sizeof *error_cases));
    tcase_add_test(tc, retryable_errors_are_retried_and_then_succeed);
    tcase_add_test(tc, a_non_json_error_body_is_quoted);
    tcase_add_test(tc, an_error_inside_a_200_answer_is_an_api_error);
    tcase_add_test(tc, a_success_body_that_is_not_a_completion_is_a_provider_error);
    tcase_add_test(tc, a_body_with_stray_commas_is_a_provider_error);
    suite_add_tcase(s, tc);

    tc = tu_tcase("stream");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, each_stream_equals_its_non_streamed_twin, 0, (int)(2 * N_PAIRS));
    tcase_add_test(tc, interleaved_parallel_tool_calls_stay_apart_by_index);
    tcase_add_test(tc, stream_include_usage_false_leaves_stream_options_out);
    tcase_add_test(tc, a_stream_without_done_ends_cleanly_after_its_finish_reason);
    tcase_add_test(tc, done_without_a_finish_reason_ends_with_stop);
    tcase_add_test(tc, a_server_that_does_not_stream_is_replayed);
    tcase_add_test(tc, an_error_status_to_a_stream_is_an_api_error_and_is_retried);
    tcase_add_loop_test(tc, a_mid_stream_error_is_an_api_error_keeping_the_partial_text, 0,
                        (int)(sizeof stream_errors / sizeof *stream_errors));
    tcase_add_test(tc, a_cut_stream_is_a_transport_error_keeping_the_partial_text);
    tcase_add_test(tc, cancelling_from_the_callback_stops_the_stream_promptly);
    tcase_add_test(tc, sse_fixtures_split_at_every_byte_give_the_same_answer);
    tcase_add_test(tc, a_malformed_event_is_a_provider_error_naming_the_offset);
    suite_add_tcase(s, tc);

    tc = tu_tcase("state");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, deepseek_tool_round_trip_sends_reasoning_content_back_byte_for_byte);
    tcase_add_test(tc, a_streamed_deepseek_state_goes_back_as_the_same_reasoning);
    tcase_add_test(tc, openrouter_reasoning_details_go_back_byte_for_byte);
    tcase_add_test(tc, streamed_reasoning_details_are_merged_by_index);
    tcase_add_test(tc, reasoning_state_options_always_and_never);
    tcase_add_test(tc, state_of_another_protocol_is_ignored_and_bad_state_is_refused);
    tcase_add_test(tc, a_multi_turn_tool_conversation_sends_every_turn);
    suite_add_tcase(s, tc);

    tc = tu_tcase("secrets");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, the_key_never_shows_in_errors_or_logs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(openai_chat_suite());
}
