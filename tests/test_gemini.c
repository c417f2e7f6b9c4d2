/* test_gemini — the gemini plugin end to end, over real loopback HTTP against
 * the in-process fake upstream: every request mapping rule (asserted on the
 * request the server recorded), every response shape of tests/fixtures/gemini,
 * each finish reason, every error body, streams fed whole and a byte at a
 * time, cut streams, cancellation, mid-stream errors, the thought-signature
 * state round trip (non-streamed and streamed), multi-turn tool
 * conversations, the cost from the shipped spec's prices, and that the API
 * key never leaks. The SSE fixtures also go straight through the core's SSE
 * parser and the plugin's parse_event, split at every byte.
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
#include "loader.h"
#include "response.h"
#include "sse.h"
#include "stream.h"
#include "testutil.h"

#define SPEC PROJECT_SRC_DIR "/specs/google.yaml"
#define FIXTURES TEST_SRC_DIR "/fixtures/"

/* A dummy key: never printed by any assertion below. */
#define TEST_KEY "AIzaSyTest-llmsvc-dummy-key-0000000000"
/* The key Google's 403 fixture echoes (error_403_suspended.json). */
#define SECRET_KEY "AIzaSyD-llmsvcTESTkey000000000000000000"

/* the harness, with assertions that never print the API key */
#define PROTO_FIXTURE_NAMES
#include "prototest.h"

/* ---- setup ---- */

static void start_upstream(void)
{
    tu_setenv("GEMINI_API_KEY", TEST_KEY);
    tu_unsetenv("GOOGLE_API_KEY");
    tu_unsetenv("GEMINI_BASE_URL");
    proto_start(&pf, "/v1beta", GEMINI_PLUGIN, "gemini.so", NULL);
}

#define ISOLATED PROTO_ISOLATED

static void setup(void)
{
    start_upstream();
    rt = open_rt(ISOLATED, SPEC);
}

/* ---- helpers ---- */

/* The answer to the next generateContent call. */
static void serve(const char *fixture_name)
{
    script("{\"path\": \":generateContent\", \"fixture\": \"gemini/%s\"}", fixture_name);
}

/* The answer to the next streamGenerateContent call (chunk_bytes 0: whole). */
static void serve_stream(const char *fixture_name, int chunk_bytes)
{
    if (chunk_bytes > 0)
        script("{\"path\": \":streamGenerateContent\", \"content_type\": \"text/event-stream\","
               " \"fixture\": \"gemini/%s\", \"chunk_bytes\": %d}",
               fixture_name, chunk_bytes);
    else
        script("{\"path\": \":streamGenerateContent\", \"content_type\": \"text/event-stream\","
               " \"fixture\": \"gemini/%s\"}",
               fixture_name);
}

/* A request to the google provider, pointed at the fake upstream. */
#define greq(model, prompt) proto_request(&pf, "google", (model), (prompt))

/* tests/fixtures/gemini/<name> as JSON (prototest) */
#define fixture(name) proto_fixture_json("gemini", (name))

/* The text (thought = 0) or thought text (1) of a fixture's first candidate. */
static char *fx_text(json_object *fx, int thought)
{
    size_t len = 0;
    char *out = calloc(1, 1);
    json_object *parts = jat(fx, "candidates.0.content.parts");
    for (size_t i = 0; parts && i < json_object_array_length(parts); i++) {
        json_object *p = json_object_array_get_idx(parts, i);
        json_object *th = jat(p, "thought");
        int is_thought = th && json_object_get_boolean(th);
        const char *t = jstr(p, "text");
        if (!t || is_thought != thought)
            continue;
        size_t tl = strlen(t);
        out = realloc(out, len + tl + 1);
        ck_assert_ptr_nonnull(out);
        memcpy(out + len, t, tl + 1);
        len += tl;
    }
    return out;
}

/* Whether two JSON texts are the same value. */
#define same_json proto_json_same

/* The usage a fixture's usageMetadata means for llmsvc. */
typedef struct usage {
    int64_t input, output, reasoning, cached, total;
} usage;

static usage fx_usage(json_object *fx)
{
    usage u;
    u.input = jint_or(fx, "usageMetadata.promptTokenCount", 0) +
              jint_or(fx, "usageMetadata.toolUsePromptTokenCount", 0);
    u.reasoning = jint_or(fx, "usageMetadata.thoughtsTokenCount", 0);
    u.output = jint_or(fx, "usageMetadata.candidatesTokenCount", 0) + u.reasoning;
    u.cached = jint_or(fx, "usageMetadata.cachedContentTokenCount", 0);
    u.total = jint(fx, "usageMetadata.totalTokenCount");
    return u;
}

static void assert_usage(const llmsvc_response *r, usage u)
{
    ck_assert_int_eq(llmsvc_response_tokens(r, LLMSVC_TOKENS_INPUT), u.input);
    ck_assert_int_eq(llmsvc_response_tokens(r, LLMSVC_TOKENS_OUTPUT), u.output);
    ck_assert_int_eq(llmsvc_response_tokens(r, LLMSVC_TOKENS_REASONING), u.reasoning);
    ck_assert_int_eq(llmsvc_response_tokens(r, LLMSVC_TOKENS_CACHED_INPUT), u.cached);
    ck_assert_int_eq(llmsvc_response_tokens(r, LLMSVC_TOKENS_CACHE_WRITE), 0);
    ck_assert_int_eq(llmsvc_response_tokens(r, LLMSVC_TOKENS_TOTAL), u.total);
}

/* Two responses say the same: text, reasoning, tool calls, usage, finish,
 * id and model; and their states are the same JSON value. */
static void assert_same_response(const llmsvc_response *a, const llmsvc_response *b)
{
    assert_text_eq(llmsvc_response_message(a), llmsvc_response_message(b));
    const char *ra = llmsvc_response_reasoning(a), *rb = llmsvc_response_reasoning(b);
    ck_assert_msg((!ra && !rb) || (ra && rb && strcmp(ra, rb) == 0), "reasoning differs:\n%s\n%s",
                  ra ? ra : "(none)", rb ? rb : "(none)");
    ck_assert_pstr_eq(llmsvc_response_finish_reason(a), llmsvc_response_finish_reason(b));
    ck_assert_pstr_eq(llmsvc_response_id(a), llmsvc_response_id(b));
    ck_assert_pstr_eq(llmsvc_response_model(a), llmsvc_response_model(b));
    for (int k = LLMSVC_TOKENS_INPUT; k <= LLMSVC_TOKENS_TOTAL; k++)
        ck_assert_int_eq(llmsvc_response_tokens(a, (llmsvc_token_kind)k),
                         llmsvc_response_tokens(b, (llmsvc_token_kind)k));
    ck_assert_uint_eq(llmsvc_response_tool_call_count(a), llmsvc_response_tool_call_count(b));
    for (size_t i = 0; i < llmsvc_response_tool_call_count(a); i++) {
        const llmsvc_tool_call *x = llmsvc_response_tool_call(a, i),
                               *y = llmsvc_response_tool_call(b, i);
        ck_assert_str_eq(x->id, y->id);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_str_eq(x->arguments, y->arguments);
    }
    const char *pa = NULL, *pb = NULL;
    const char *sa = llmsvc_response_state(a, &pa), *sb = llmsvc_response_state(b, &pb);
    ck_assert_msg((!sa && !sb) || (sa && sb && same_json(sa, sb)), "states differ:\n%s\n%s",
                  sa ? sa : "(none)", sb ? sb : "(none)");
    ck_assert_pstr_eq(pa, pb);
}

/* ================================================================ request */

START_TEST(posts_contents_to_models_model_generate_content_with_the_key_header)
{
    serve("basic.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "Write a haiku about recursion.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    sent s = sent_get(-1);
    assert_jstr(s.rec, "method", "POST");
    assert_jstr(s.rec, "path", "/v1beta/models/gemini-3.8-flash:generateContent");
    assert_jstr(s.rec, "query", "");
    ck_assert_msg(sent_header(&s, "x-goog-api-key") &&
                      strcmp(sent_header(&s, "x-goog-api-key"), TEST_KEY) == 0,
                  "x-goog-api-key is not GEMINI_API_KEY");
    ck_assert_ptr_null(sent_header(&s, "authorization"));
    assert_jstr(s.rec, "headers.content-type", "application/json");
    /* the prompt as the one user turn */
    ck_assert_uint_eq(jlen(s.body, "contents"), 1);
    assert_jstr(s.body, "contents.0.role", "user");
    ck_assert_uint_eq(jlen(s.body, "contents.0.parts"), 1);
    assert_jstr(s.body, "contents.0.parts.0.text", "Write a haiku about recursion.");
    /* the spec's default effort as a thinking level, with thought summaries */
    assert_jstr(s.body, "generationConfig.thinkingConfig.thinkingLevel", "MEDIUM");
    ck_assert(
        json_object_get_boolean(jat(s.body, "generationConfig.thinkingConfig.includeThoughts")));
    ck_assert(!jhas(jat(s.body, "generationConfig.thinkingConfig"), "thinkingBudget"));
    ck_assert_int_eq(json_object_object_length(jat(s.body, "generationConfig.thinkingConfig")), 2);
    ck_assert_int_eq(json_object_object_length(jat(s.body, "generationConfig")), 1);
    /* nothing else: no model in the body, no system instruction, no tools */
    ck_assert_int_eq(json_object_object_length(s.body), 2);
    sent_free(&s);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

static void assert_system(const sent *s, const char *const *want, size_t n)
{
    ck_assert_uint_eq(jlen(s->body, "systemInstruction.parts"), n);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "systemInstruction.parts.%zu.text", i);
        assert_jstr(s->body, path, want[i]);
    }
}

START_TEST(instructions_and_system_turns_become_the_system_instruction)
{
    serve("basic.json");
    llmsvc_request *req = greq("gemini-3.8-flash", NULL);
    llmsvc_request_set_instructions(req, "Answer in French.");
    llmsvc_request_add_message(req, "system", "Be brief.");
    llmsvc_request_add_message(req, "user", "What is 2 + 2?");
    llmsvc_request_add_message(req, "developer", "Use digits.");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    static const char *const want[] = {"Answer in French.", "Be brief.", "Use digits."};
    assert_system(&s, want, 3);
    ck_assert(!jhas(jat(s.body, "systemInstruction"), "role"));
    /* only the user turn is a content */
    ck_assert_uint_eq(jlen(s.body, "contents"), 1);
    assert_jstr(s.body, "contents.0.parts.0.text", "What is 2 + 2?");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(sampling_parameters_go_to_generation_config)
{
    serve("basic.json");
    llmsvc_request *req = greq("gemini-3.5-flash", "Name a colour.");
    llmsvc_request_set_number(req, "temperature", 0.25);
    llmsvc_request_set_number(req, "top_p", 0.875);
    llmsvc_request_set_number(req, "top_k", 40);
    llmsvc_request_set_number(req, "max_tokens", 256);
    llmsvc_request_set_number(req, "seed", 1234);
    llmsvc_request_add_stop(req, "END");
    llmsvc_request_add_stop(req, "\n\n");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    json_object *gc = jat(s.body, "generationConfig");
    ck_assert_double_eq(jnum(gc, "temperature"), 0.25);
    ck_assert_double_eq(jnum(gc, "topP"), 0.875);
    ck_assert_int_eq(jint(gc, "topK"), 40);
    ck_assert_int_eq(jint(gc, "maxOutputTokens"), 256);
    ck_assert_int_eq(jint(gc, "seed"), 1234);
    ck_assert_uint_eq(jlen(gc, "stopSequences"), 2);
    assert_jstr(gc, "stopSequences.0", "END");
    assert_jstr(gc, "stopSequences.1", "\n\n");
    /* llmsvc's own names appear nowhere */
    static const char *const llmsvc_names[] = {"top_p", "top_k", "max_tokens", "stop"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_msg(!jhas(s.body, llmsvc_names[i]), "'%s' is at the top level", llmsvc_names[i]);
        ck_assert_msg(!jhas(gc, llmsvc_names[i]), "generationConfig has llmsvc's '%s'",
                      llmsvc_names[i]);
    }
    ck_assert(!jhas(s.body, "temperature") && !jhas(s.body, "seed"));
    ck_assert_int_eq(json_object_object_length(gc), 7); /* the six and thinkingConfig */
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(sampling_parameters_are_refused_on_gemini_3_6_and_later_before_any_request)
{
    static const char *const models[] = {"gemini-3.8-flash", "gemini-3.6-flash",
                                         "gemini-3.5-flash-lite", "gemini-4-argon"};
    static const char *const params[] = {"temperature", "top_p", "top_k"};
    for (size_t m = 0; m < 4; m++) {
        for (size_t p = 0; p < 3; p++) {
            llmsvc_request *req = greq(models[m], "hello");
            llmsvc_request_set_number(req, params[p], 1);
            llmsvc_error *err = call_fail(req, LLMSVC_E_VALIDATION);
            assert_has(llmsvc_error_message(err), params[p]);
            ck_assert_str_eq(llmsvc_error_param(err), params[p]);
            llmsvc_error_free(err);
            llmsvc_request_free(req);
        }
    }
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
}
END_TEST

/* Each model's effort → the level on the wire, as the shipped spec gives it. */
static const struct {
    const char *model;
    const char *effort; /* NULL: the spec's default */
    const char *level;
} levels[] = {
    {"gemini-4-carbon", NULL, "MEDIUM"},
    {"gemini-4-hydrogen", NULL, "HIGH"},
    {"gemini-4-hydrogen", "xhigh", "XHIGH"},
    {"gemini-3.8-flash", "low", "LOW"},
    {"gemini-3.6-flash", "minimal", "MINIMAL"},
    {"gemini-3.5-flash-lite", NULL, "MINIMAL"},
    {"gemini-3.1-pro-preview", NULL, "HIGH"},
    {"gemini-3.1-pro-preview-customtools", "low", "LOW"},
    {"gemini-3.1-flash-lite", NULL, "MINIMAL"},
    {"gemini-3-flash-preview", "medium", "MEDIUM"},
};

START_TEST(effort_becomes_the_thinking_level_in_upper_case_and_never_a_budget)
{
    serve("basic.json");
    llmsvc_request *req = greq(levels[_i].model, "How many primes are there below 100?");
    if (levels[_i].effort)
        ck_assert_int_eq(llmsvc_request_set_string(req, "reasoning_effort", levels[_i].effort),
                         LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    char path[256];
    snprintf(path, sizeof path, "/v1beta/models/%s:generateContent", levels[_i].model);
    assert_jstr(s.rec, "path", path);
    json_object *tc = jat(s.body, "generationConfig.thinkingConfig");
    assert_jstr(tc, "thinkingLevel", levels[_i].level);
    ck_assert_msg(!jhas(tc, "thinkingBudget"), "a level and a budget were both sent");
    ck_assert(json_object_get_boolean(jat(tc, "includeThoughts")));
    ck_assert(!jhas(s.body, "reasoning_effort"));
    ck_assert(!jhas(jat(s.body, "generationConfig"), "reasoning_effort"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_level_the_model_lacks_is_refused_naming_the_levels_it_has)
{
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_request_set_string(req, "reasoning_effort", "minimal");
    llmsvc_error *err = call_fail(req, LLMSVC_E_VALIDATION);
    assert_has(llmsvc_error_message(err), "minimal");
    assert_has(llmsvc_error_message(err), "low");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

/* The status models_json gives a shipped model ("active", "deprecated", "retired"). */
static char *model_status(const char *model)
{
    char *text = NULL, *out = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_runtime_models_json(&text, rt, "google", &err);
    assert_code(rc, LLMSVC_OK, err);
    json_object *models = json_tokener_parse(text);
    llmsvc_free(text);
    for (size_t i = 0; i < json_object_array_length(models); i++) {
        json_object *m = json_object_array_get_idx(models, i);
        if (!strcmp(jstr(m, "model"), model))
            out = strdup(jstr(m, "status"));
    }
    json_object_put(models);
    ck_assert_msg(out != NULL, "no model %s", model);
    return out;
}

/* The shipped Gemini 2.5 entries: each effort is a budget on the wire (and,
 * once a model is shut down, the call names its replacement instead). */
static const struct {
    const char *model, *effort;
    int budget; /* -1: no effort set */
    const char *replacement;
} budgets[] = {
    {"gemini-2.5-pro", "low", 1024, "gemini-3.8-flash"},
    {"gemini-2.5-pro", "high", 32768, "gemini-3.8-flash"},
    {"gemini-2.5-flash", "none", 0, "gemini-3.5-flash-lite"},
    {"gemini-2.5-flash", "medium", 8192, "gemini-3.5-flash-lite"},
    {"gemini-2.5-flash", NULL, -1, "gemini-3.5-flash-lite"},
    {"gemini-2.5-flash-lite", "high", 24576, NULL},
};

START_TEST(gemini_2_5_efforts_become_thinking_budgets_never_levels)
{
    char *status = model_status(budgets[_i].model);
    llmsvc_request *req = greq(budgets[_i].model, "How many primes are there below 100?");
    if (budgets[_i].effort)
        llmsvc_request_set_string(req, "reasoning_effort", budgets[_i].effort);
    if (!strcmp(status, "retired")) {
        /* after its shutdown date the spec refuses it, naming the replacement */
        llmsvc_error *err = call_fail(req, LLMSVC_E_VALIDATION);
        if (budgets[_i].replacement)
            assert_has(llmsvc_error_message(err), budgets[_i].replacement);
        llmsvc_error_free(err);
        free(status);
        llmsvc_request_free(req);
        return;
    }
    serve("basic.json");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    json_object *tc = jat(s.body, "generationConfig.thinkingConfig");
    ck_assert_msg(!jhas(tc, "thinkingLevel"), "a level was sent to a budget model");
    if (budgets[_i].budget < 0)
        ck_assert_msg(!jhas(tc, "thinkingBudget"), "no effort, yet a budget was sent");
    else
        ck_assert_int_eq(jint(tc, "thinkingBudget"), budgets[_i].budget);
    /* thought summaries unless thinking is off */
    if (budgets[_i].budget == 0)
        ck_assert(!jhas(tc, "includeThoughts"));
    else
        ck_assert(json_object_get_boolean(jat(tc, "includeThoughts")));
    sent_free(&s);
    if (!strcmp(status, "deprecated")) {
        char *log = tu_log_text(&logs);
        assert_has(log, "is deprecated");
        assert_has(log, budgets[_i].replacement);
        free(log);
    }
    free(status);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(conversation_turns_become_user_and_model_contents)
{
    serve("basic.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "And in Japanese?");
    llmsvc_request_add_message(req, "user", "How do you say hello in French?");
    llmsvc_request_add_message(req, "assistant", "Bonjour.");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "contents"), 3);
    static const char *const roles[] = {"user", "model", "user"};
    static const char *const texts[] = {"How do you say hello in French?", "Bonjour.",
                                        "And in Japanese?"};
    for (size_t i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "contents.%zu.role", i);
        assert_jstr(s.body, path, roles[i]);
        snprintf(path, sizeof path, "contents.%zu.parts", i);
        ck_assert_uint_eq(jlen(s.body, path), 1);
        snprintf(path, sizeof path, "contents.%zu.parts.0.text", i);
        assert_jstr(s.body, path, texts[i]);
    }
    ck_assert(!jhas(s.body, "systemInstruction"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(images_become_file_data_with_a_mime_type_or_inline_data)
{
    serve("basic.json");
    llmsvc_request *req = greq("gemini-3.8-flash", NULL);
    llmsvc_request_add_message(req, "user", "What is in these pictures?");
    static const char *const urls[] = {
        "https://example.com/cat.PNG", "https://example.com/photos/dog.jpg?size=large#top",
        "https://example.com/bird.webp",
        "https://generativelanguage.googleapis.com/v1beta/files/abc123",
        "data:image/heic;base64,AAAAGGZ0eXBoZWlj"};
    static const char *const mimes[] = {"image/png", "image/jpeg", "image/webp", "image/jpeg",
                                        "image/heic"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(llmsvc_request_add_image(req, urls[i]), LLMSVC_OK);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "contents.0.parts"), 6);
    assert_jstr(s.body, "contents.0.parts.0.text", "What is in these pictures?");
    for (size_t i = 0; i < 4; i++) {
        json_object *p = jat(s.body, "contents.0.parts");
        p = json_object_array_get_idx(p, i + 1);
        assert_jstr(p, "fileData.fileUri", urls[i]);
        assert_jstr(p, "fileData.mimeType", mimes[i]);
        ck_assert_int_eq(json_object_object_length(p), 1);
    }
    json_object *inl = jat(s.body, "contents.0.parts.5.inlineData");
    assert_jstr(inl, "mimeType", "image/heic");
    assert_jstr(inl, "data", "AAAAGGZ0eXBoZWlj");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

#define WEATHER_SCHEMA                                                                             \
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"unit\":{\"type\":"      \
    "\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"city\"],"                  \
    "\"additionalProperties\":false}"
#define TIME_SCHEMA "{\"type\":\"object\",\"properties\":{\"timezone\":{\"type\":\"string\"}}}"

static void add_tools(llmsvc_request *req)
{
    proto_add_tool(req, "get_weather", "Current weather in a city", WEATHER_SCHEMA);
    proto_add_tool(req, "get_time", NULL, TIME_SCHEMA);
}

START_TEST(tools_become_function_declarations_with_their_json_schema)
{
    serve("tool_call.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "What's the weather in Paris?");
    add_tools(req);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "tools"), 1);
    json_object *decls = jat(s.body, "tools.0.functionDeclarations");
    ck_assert_uint_eq(json_object_array_length(decls), 2);
    assert_jstr(decls, "0.name", "get_weather");
    assert_jstr(decls, "0.description", "Current weather in a city");
    assert_jstr(decls, "1.name", "get_time");
    ck_assert(!jhas(jat(decls, "1"), "description"));
    /* the schema goes as JSON Schema, byte for byte */
    assert_has(s.text, "\"parametersJsonSchema\":" WEATHER_SCHEMA);
    assert_has(s.text, "\"parametersJsonSchema\":" TIME_SCHEMA);
    ck_assert(!jhas(jat(decls, "0"), "parameters"));
    /* no tool_choice: the API's default */
    ck_assert(!jhas(s.body, "toolConfig"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

static const struct {
    const char *choice;
    const char *mode;
    const char *allowed; /* NULL: no allowedFunctionNames */
} choices[] = {
    {"auto", "AUTO", NULL},
    {"none", "NONE", NULL},
    {"required", "ANY", NULL},
    {"get_time", "ANY", "get_time"},
};

START_TEST(tool_choice_becomes_the_function_calling_mode)
{
    serve("tool_call.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "What's the time in Tokyo?");
    add_tools(req);
    ck_assert_int_eq(llmsvc_request_set_tool_choice(req, choices[_i].choice), LLMSVC_OK);
    llmsvc_request_set_parallel_tool_calls(req, 0); /* Gemini has no such switch */
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    json_object *fcc = jat(s.body, "toolConfig.functionCallingConfig");
    assert_jstr(fcc, "mode", choices[_i].mode);
    if (choices[_i].allowed) {
        ck_assert_uint_eq(jlen(fcc, "allowedFunctionNames"), 1);
        assert_jstr(fcc, "allowedFunctionNames.0", choices[_i].allowed);
    } else {
        ck_assert(!jhas(fcc, "allowedFunctionNames"));
    }
    assert_lacks(s.text, "parallel");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

#define CITY_SCHEMA                                                                                \
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"population\":{"         \
    "\"type\":\"integer\"},\"landmarks\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"     \
    "},\"required\":[\"city\",\"population\",\"landmarks\"]}"

START_TEST(a_response_format_becomes_response_mime_type_and_json_schema)
{
    serve("structured.json");
    llmsvc_request *req = greq("gemini-3.5-flash", "Describe Paris as JSON.");
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_set_response_format(req, "city", CITY_SCHEMA, 1, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response *resp = call_ok(req);
    sent s = sent_get(-1);
    assert_jstr(s.body, "generationConfig.responseMimeType", "application/json");
    assert_has(s.text, "\"responseJsonSchema\":" CITY_SCHEMA);
    ck_assert(!jhas(jat(s.body, "generationConfig"), "responseSchema"));
    sent_free(&s);
    json_object *fx = fixture("structured.json");
    assert_text_eq(llmsvc_response_message(resp), jstr(fx, "candidates.0.content.parts.0.text"));
    json_object_put(fx);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(provider_options_are_merged_into_the_body_last)
{
    serve("basic.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_request_set_number(req, "max_tokens", 256);
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_set_provider_options(
        req,
        "{\"safetySettings\": [{\"category\": \"HARM_CATEGORY_HARASSMENT\","
        " \"threshold\": \"BLOCK_ONLY_HIGH\"}],"
        " \"generationConfig\": {\"candidateCount\": 1, \"maxOutputTokens\": 99,"
        " \"thinkingConfig\": {\"includeThoughts\": false}},"
        " \"cachedContent\": \"cachedContents/abc123\"}",
        &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.body, "safetySettings.0.threshold", "BLOCK_ONLY_HIGH");
    assert_jstr(s.body, "cachedContent", "cachedContents/abc123");
    json_object *gc = jat(s.body, "generationConfig");
    ck_assert_int_eq(jint(gc, "candidateCount"), 1);
    ck_assert_int_eq(jint(gc, "maxOutputTokens"), 99);         /* given wins over mapped */
    assert_jstr(gc, "thinkingConfig.thinkingLevel", "MEDIUM"); /* objects merge */
    ck_assert(!json_object_get_boolean(jat(gc, "thinkingConfig.includeThoughts")));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(no_key_is_a_config_error_naming_gemini_api_key_and_nothing_is_sent)
{
    tu_unsetenv("GEMINI_API_KEY");
    tu_setenv("GOOGLE_API_KEY", TEST_KEY); /* the SDKs' other variable is not read */
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_CONFIG);
    assert_has(llmsvc_error_message(err), "no API key for provider 'google'");
    assert_has(llmsvc_error_message(err), "GEMINI_API_KEY");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    /* a per-call key works without the variable */
    ck_assert_int_eq(llmsvc_request_set_api_key(req, "AIzaSy-per-call-key-000000"), LLMSVC_OK);
    serve("basic.json");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_str_eq(sent_header(&s, "x-goog-api-key"), "AIzaSy-per-call-key-000000");
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_retired_gemini_3_pro_preview_fails_before_any_request_naming_its_replacement)
{
    llmsvc_request *req = greq("gemini-3-pro-preview", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_VALIDATION);
    assert_has(llmsvc_error_message(err), "2026-03-09");
    assert_has(llmsvc_error_message(err), "gemini-3.1-pro-preview");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_vector_store_is_refused_gemini_models_have_no_file_search)
{
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_request_set_vector_store(req, "vs_abc", 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_VALIDATION);
    assert_has(llmsvc_error_message(err), "file_search");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(gemini_base_url_overrides_the_spec)
{
    char url[256];
    snprintf(url, sizeof url, "%s/env/v1beta", fake_upstream_url(fu));
    tu_setenv("GEMINI_BASE_URL", url);
    llmsvc_runtime *envrt =
        open_rt(LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS, SPEC);
    serve("basic.json");
    llmsvc_request *req = tu_request("google", "gemini-3.8-flash", "hello");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(envrt, req, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(resp);
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/env/v1beta/models/gemini-3.8-flash:generateContent");
    sent_free(&s);
    llmsvc_request_free(req);
    llmsvc_runtime_close(envrt);
}
END_TEST

/* ================================================================ tool conversations */

START_TEST(a_tool_round_trip_sends_the_thought_signature_state_back_byte_for_byte)
{
    /* turn 1: the model calls get_weather, thinking at effort high */
    serve("tool_call.json");
    llmsvc_request *req = greq("gemini-3.8-flash", NULL);
    llmsvc_request_add_message(req, "user", "What's the weather in Paris?");
    add_tools(req);
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    llmsvc_response *r1 = call_ok(req);
    json_object *fx = fixture("tool_call.json");
    ck_assert_str_eq(llmsvc_response_finish_reason(r1), "tool_calls");
    ck_assert_uint_eq(llmsvc_response_tool_call_count(r1), 1);
    const llmsvc_tool_call *c = llmsvc_response_tool_call(r1, 0);
    ck_assert_str_eq(c->id, "call_0"); /* Gemini gave no id */
    ck_assert_str_eq(c->name, "get_weather");
    ck_assert_str_eq(c->arguments, "{\"city\":\"Paris\",\"unit\":\"celsius\"}");
    char *thought = fx_text(fx, 1);
    assert_text_eq(llmsvc_response_reasoning(r1), thought);
    free(thought);
    /* the state: the model turn's parts exactly as they came */
    const char *proto = NULL;
    const char *state = llmsvc_response_state(r1, &proto);
    ck_assert_str_eq(proto, "gemini");
    char path[TU_PATH];
    snprintf(path, sizeof path, FIXTURES "gemini/tool_call.json");
    char *raw = tu_slurp(path);
    const char *at = strstr(raw, "\"parts\": ") + strlen("\"parts\": ");
    ck_assert(strncmp(at, state, strlen(state)) == 0);
    assert_has(state, jstr(fx, "candidates.0.content.parts.1.thoughtSignature"));

    /* turn 2: the result goes back with the state */
    ck_assert_int_eq(llmsvc_request_add_response(req, r1), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_add_tool_result(
                         req, c->id, "{\"temperature_c\":18,\"sky\":\"partly cloudy\"}"),
                     LLMSVC_OK);
    serve("after_tools.json");
    llmsvc_response *r2 = call_ok(req);
    sent s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "contents"), 3);
    assert_jstr(s.body, "contents.0.role", "user");
    assert_jstr(s.body, "contents.1.role", "model");
    /* the exact bytes of the state, pretty-printing and all */
    char *want = malloc(strlen(state) + 16);
    sprintf(want, "\"parts\":%s", state);
    assert_has(s.text, want);
    free(want);
    assert_jstr(s.body, "contents.2.role", "user");
    ck_assert_uint_eq(jlen(s.body, "contents.2.parts"), 1);
    json_object *fr = jat(s.body, "contents.2.parts.0.functionResponse");
    assert_jstr(fr, "name", "get_weather");
    ck_assert_int_eq(jint(fr, "response.temperature_c"), 18);
    assert_jstr(fr, "response.sky", "partly cloudy");
    ck_assert_msg(!jhas(fr, "id"), "a made-up call id was sent to Gemini");
    sent_free(&s);
    json_object *fx2 = fixture("after_tools.json");
    assert_text_eq(llmsvc_response_message(r2), jstr(fx2, "candidates.0.content.parts.0.text"));
    ck_assert_str_eq(llmsvc_response_finish_reason(r2), "stop");

    /* turn 3: a follow-up question; both model turns keep their state */
    ck_assert_int_eq(llmsvc_request_add_response(req, r2), LLMSVC_OK);
    llmsvc_request_set_prompt(req, "And tomorrow?");
    serve("basic.json");
    llmsvc_response_free(call_ok(req));
    s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "contents"), 5);
    assert_jstr(s.body, "contents.3.role", "model");
    assert_jstr(s.body, "contents.3.parts.0.thoughtSignature",
                jstr(fx2, "candidates.0.content.parts.0.thoughtSignature"));
    assert_jstr(s.body, "contents.4.parts.0.text", "And tomorrow?");
    sent_free(&s);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 3);
    json_object_put(fx2);
    json_object_put(fx);
    free(raw);
    llmsvc_response_free(r2);
    llmsvc_response_free(r1);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(parallel_calls_are_answered_in_one_user_turn_in_order)
{
    serve("parallel_tool_calls.json");
    llmsvc_request *req = greq("gemini-3.8-flash", NULL);
    llmsvc_request_add_message(req, "user", "Weather in Paris and Tokyo, and the time in Tokyo?");
    add_tools(req);
    llmsvc_response *r1 = call_ok(req);
    ck_assert_uint_eq(llmsvc_response_tool_call_count(r1), 3);
    ck_assert_str_eq(llmsvc_response_tool_call(r1, 0)->id, "call_0");
    ck_assert_str_eq(llmsvc_response_tool_call(r1, 1)->id, "call_1");
    ck_assert_str_eq(llmsvc_response_tool_call(r1, 2)->id, "call_2");
    ck_assert_str_eq(llmsvc_response_tool_call(r1, 1)->arguments, "{\"city\":\"Tokyo\"}");
    ck_assert_str_eq(llmsvc_response_tool_call(r1, 2)->name, "get_time");
    ck_assert_str_eq(llmsvc_response_tool_call(r1, 2)->arguments,
                     "{\"timezone\":\"Asia/Tokyo\",\"format\":\"24h\"}");
    ck_assert_str_eq(llmsvc_response_finish_reason(r1), "tool_calls");
    llmsvc_request_add_response(req, r1);
    /* answered out of order, and one answer is plain text */
    llmsvc_request_add_tool_result(req, "call_2", "14:05");
    llmsvc_request_add_tool_result(req, "call_0", "{\"temperature_c\":18}");
    llmsvc_request_add_tool_result(req, "call_1", "{\"temperature_c\":9}");
    serve("after_tools.json");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "contents"), 3);
    json_object *parts = jat(s.body, "contents.2.parts");
    ck_assert_uint_eq(json_object_array_length(parts), 3);
    assert_jstr(parts, "0.functionResponse.name", "get_time");
    assert_jstr(parts, "0.functionResponse.response.output", "14:05");
    assert_jstr(parts, "1.functionResponse.name", "get_weather");
    ck_assert_int_eq(jint(parts, "1.functionResponse.response.temperature_c"), 18);
    assert_jstr(parts, "2.functionResponse.name", "get_weather");
    ck_assert_int_eq(jint(parts, "2.functionResponse.response.temperature_c"), 9);
    sent_free(&s);
    llmsvc_response_free(r1);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_api_call_id_is_kept_and_sent_back_with_the_function_response)
{
    serve("tool_call_with_id.json");
    llmsvc_request *req = greq("gemini-4-argon", NULL);
    llmsvc_request_add_message(req, "user", "Weather in Oslo?");
    add_tools(req);
    llmsvc_response *r1 = call_ok(req);
    json_object *fx = fixture("tool_call_with_id.json");
    const char *id = jstr(fx, "candidates.0.content.parts.0.functionCall.id");
    ck_assert_str_eq(llmsvc_response_tool_call(r1, 0)->id, id);
    llmsvc_request_add_response(req, r1);
    llmsvc_request_add_tool_result(req, id, "{\"temperature_c\":-3}");
    serve("after_tools.json");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.body, "contents.2.parts.0.functionResponse.id", id);
    assert_jstr(s.body, "contents.2.parts.0.functionResponse.name", "get_weather");
    sent_free(&s);
    json_object_put(fx);
    llmsvc_response_free(r1);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(another_protocols_state_is_ignored_and_the_turn_rebuilt)
{
    /* an assistant turn that came from another provider: its text and calls */
    const char *text =
        "{\"llm\": {\"llm_model_spec\": {\"provider\": \"google\","
        " \"model\": \"gemini-3.8-flash\"},"
        " \"messages\": ["
        "  {\"role\": \"user\", \"content\": \"Weather in Paris?\"},"
        "  {\"role\": \"assistant\", \"content\": \"Let me check.\","
        "   \"tool_calls\": [{\"id\": \"toolu_01A\", \"name\": \"get_weather\","
        "                     \"arguments\": \"{\\\"city\\\":\\\"Paris\\\"}\"}],"
        "   \"state\": {\"protocol\": \"anthropic\", \"data\":"
        "     \"[{\\\"type\\\":\\\"thinking\\\",\\\"signature\\\":\\\"sig\\\"}]\"}},"
        "  {\"role\": \"tool\", \"tool_call_id\": \"toolu_01A\", \"content\": \"sunny\"}"
        " ]}}";
    llmsvc_request *req = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_from_json(&req, text, strlen(text), &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_request_set_base_url(req, base);
    add_tools(req);
    serve("after_tools.json");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_uint_eq(jlen(s.body, "contents"), 3);
    json_object *model = jat(s.body, "contents.1");
    assert_jstr(model, "role", "model");
    ck_assert_uint_eq(jlen(model, "parts"), 2);
    assert_jstr(model, "parts.0.text", "Let me check.");
    assert_jstr(model, "parts.1.functionCall.name", "get_weather");
    assert_jstr(model, "parts.1.functionCall.args.city", "Paris");
    ck_assert(!jhas(jat(model, "parts.1.functionCall"), "id"));
    assert_lacks(s.text, "signature");
    assert_jstr(s.body, "contents.2.parts.0.functionResponse.name", "get_weather");
    ck_assert(!jhas(jat(s.body, "contents.2.parts.0.functionResponse"), "id"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(tool_call_arguments_that_are_not_an_object_are_a_transform_error)
{
    const char *text =
        "{\"llm\": {\"llm_model_spec\": {\"provider\": \"google\","
        " \"model\": \"gemini-3.8-flash\"},"
        " \"messages\": ["
        "  {\"role\": \"user\", \"content\": \"Weather in Paris?\"},"
        "  {\"role\": \"assistant\", \"content\": \"\","
        "   \"tool_calls\": [{\"id\": \"c1\", \"name\": \"get_weather\","
        "                     \"arguments\": \"[\\\"Paris\\\"]\"}]},"
        "  {\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"sunny\"}"
        " ]}}";
    llmsvc_request *req = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_from_json(&req, text, strlen(text), &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_request_set_base_url(req, base);
    add_tools(req);
    err = call_fail(req, LLMSVC_E_TRANSFORM);
    assert_has(llmsvc_error_message(err), "tool call 'c1' (get_weather)");
    assert_has(llmsvc_error_message(err), "not a JSON object");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_tool_result_for_an_unknown_call_is_a_transform_error)
{
    llmsvc_request *req = greq("gemini-3.8-flash", NULL);
    add_tools(req);
    llmsvc_request_add_message(req, "user", "Weather?");
    llmsvc_request_add_tool_result(req, "call_9", "sunny");
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSFORM);
    assert_has(llmsvc_error_message(err), "call_9");
    assert_has(llmsvc_error_message(err), "function's name");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ spec rules */

/* An operator's spec on the gemini protocol: a budget model, wire paths, the
 * include_thoughts option off, a tuned model's resource name, no reasoning. */
static void setup_spec(void)
{
    start_upstream();
    char text[4096], file[TU_PATH], keyless[TU_PATH], spec_path[2 * TU_PATH + 2];
    snprintf(text, sizeof text,
             "provider: gemgate\n"
             "api: gemini\n"
             "base_url: %s/gw/v1beta\n"
             "api_key_env: LLMSVC_TEST_GEMGATE_KEY\n"
             "options: {include_thoughts: \"false\"}\n"
             "models:\n"
             "  - name: budget-model\n"
             "    capabilities: [reasoning, tools, streaming]\n"
             "    parameters:\n"
             "      reasoning_effort: {type: enum, values: [off, low, high, auto],"
             " budgets: {off: 0, low: 512, high: 16384}}\n"
             "      max_tokens: {type: int, min: 1, max: 8192, wire: generationConfig.maxTokens}\n"
             "      seed: {type: int, wire: sampling.seed}\n"
             "      presence_penalty: {type: float, min: -2, max: 2}\n"
             "      frequency_penalty: {type: float, min: -2, max: 2}\n"
             "      verbosity: {type: enum, values: [low, high]}\n"
             "    pricing: {input_per_mtok: 1.00, output_per_mtok: 2.00}\n"
             "  - name: tunedModels/weather-tuned-7f3k\n"
             "    capabilities: [streaming]\n"
             "    parameters:\n"
             "      reasoning_effort: {type: enum, values: [low, high], default: low,"
             " wire: generationConfig.thinkingConfig.thinkingLevel}\n"
             "    pricing: {input_per_mtok: 1.00, output_per_mtok: 2.00}\n",
             fake_upstream_url(fu));
    tu_write(file, tmp, "gemgate.yaml", text);
    snprintf(text, sizeof text,
             "provider: localgem\n"
             "api: gemini\n"
             "base_url: %s/local/v1beta\n"
             "models:\n"
             "  - name: local-gemma\n"
             "    capabilities: [reasoning]\n",
             fake_upstream_url(fu));
    tu_write(keyless, tmp, "localgem.yaml", text);
    snprintf(spec_path, sizeof spec_path, "%s:%s", file, keyless);
    tu_setenv("LLMSVC_TEST_GEMGATE_KEY", "gateway-key-0000");
    rt = open_rt(ISOLATED, spec_path);
}

static json_object *thinking_of_last(sent *s)
{
    *s = sent_get(-1);
    return jat(s->body, "generationConfig.thinkingConfig");
}

START_TEST(an_effort_with_a_budget_is_a_budget_one_without_is_a_level)
{
    static const struct {
        const char *effort;
        int budget; /* -1: a level */
    } cases[] = {{"off", 0}, {"low", 512}, {"high", 16384}, {"auto", -1}};
    for (size_t i = 0; i < 4; i++) {
        serve("basic.json");
        llmsvc_request *req = tu_request("gemgate", "budget-model", "hello");
        llmsvc_request_set_string(req, "reasoning_effort", cases[i].effort);
        llmsvc_response_free(call_ok(req));
        sent s;
        json_object *tc = thinking_of_last(&s);
        if (cases[i].budget >= 0) {
            ck_assert_int_eq(jint(tc, "thinkingBudget"), cases[i].budget);
            ck_assert(!jhas(tc, "thinkingLevel"));
        } else {
            assert_jstr(tc, "thinkingLevel", "AUTO");
            ck_assert(!jhas(tc, "thinkingBudget"));
        }
        /* include_thoughts: "false" in the spec's options */
        ck_assert(!jhas(tc, "includeThoughts"));
        assert_jstr(s.rec, "path", "/gw/v1beta/models/budget-model:generateContent");
        ck_assert_str_eq(sent_header(&s, "x-goog-api-key"), "gateway-key-0000");
        sent_free(&s);
        llmsvc_request_free(req);
    }
}
END_TEST

START_TEST(spec_wire_paths_replace_the_plugins_fields_and_penalties_map)
{
    serve("basic.json");
    llmsvc_request *req = tu_request("gemgate", "budget-model", "hello");
    llmsvc_request_set_number(req, "max_tokens", 100);
    llmsvc_request_set_number(req, "seed", 7);
    llmsvc_request_set_number(req, "presence_penalty", 0.5);
    llmsvc_request_set_number(req, "frequency_penalty", -0.5);
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_int_eq(jint(s.body, "generationConfig.maxTokens"), 100);
    ck_assert(!jhas(jat(s.body, "generationConfig"), "maxOutputTokens"));
    ck_assert_int_eq(jint(s.body, "sampling.seed"), 7);
    ck_assert(!jhas(jat(s.body, "generationConfig"), "seed"));
    ck_assert_double_eq(jnum(s.body, "generationConfig.presencePenalty"), 0.5);
    ck_assert_double_eq(jnum(s.body, "generationConfig.frequencyPenalty"), -0.5);
    /* no effort, a reasoning model, thoughts not asked for: no thinkingConfig */
    ck_assert(!jhas(jat(s.body, "generationConfig"), "thinkingConfig"));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_tuned_models_resource_name_is_its_path_and_a_wired_effort_goes_as_is)
{
    serve("basic.json");
    llmsvc_request *req = tu_request("gemgate", "tunedModels/weather-tuned-7f3k", "hello");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    assert_jstr(s.rec, "path", "/gw/v1beta/tunedModels/weather-tuned-7f3k:generateContent");
    /* the spec's wire path: the value as it is, and no includeThoughts (no
     * reasoning capability) */
    assert_jstr(s.body, "generationConfig.thinkingConfig.thinkingLevel", "low");
    ck_assert_int_eq(json_object_object_length(jat(s.body, "generationConfig.thinkingConfig")), 1);
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_parameter_with_no_gemini_field_is_a_transform_error)
{
    llmsvc_request *req = tu_request("gemgate", "budget-model", "hello");
    llmsvc_request_set_string(req, "verbosity", "low");
    llmsvc_error *err = call_fail(req, LLMSVC_E_TRANSFORM);
    assert_has(llmsvc_error_message(err), "no field for 'verbosity'");
    assert_has(llmsvc_error_message(err), "budget-model");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 0);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_provider_without_a_key_variable_sends_no_key_header)
{
    serve("basic.json");
    llmsvc_request *req = tu_request("localgem", "local-gemma", "hello");
    llmsvc_response_free(call_ok(req));
    sent s = sent_get(-1);
    ck_assert_ptr_null(sent_header(&s, "x-goog-api-key"));
    assert_jstr(s.rec, "path", "/local/v1beta/models/local-gemma:generateContent");
    /* a reasoning model without an effort still asks for thought summaries */
    ck_assert(
        json_object_get_boolean(jat(s.body, "generationConfig.thinkingConfig.includeThoughts")));
    sent_free(&s);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ response */

START_TEST(a_basic_answer_gives_text_id_model_usage_stop_and_its_parts_as_state)
{
    serve("basic.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "Write a haiku about recursion.");
    llmsvc_response *resp = call_ok(req);
    json_object *fx = fixture("basic.json");
    char *text = fx_text(fx, 0);
    assert_text_eq(llmsvc_response_message(resp), text);
    free(text);
    ck_assert_ptr_null(llmsvc_response_reasoning(resp));
    ck_assert_str_eq(llmsvc_response_id(resp), jstr(fx, "responseId"));
    ck_assert_str_eq(llmsvc_response_model(resp), jstr(fx, "modelVersion"));
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    ck_assert_str_eq(llmsvc_response_provider(resp), "google");
    ck_assert_uint_eq(llmsvc_response_tool_call_count(resp), 0);
    assert_usage(resp, fx_usage(fx));
    const char *proto = NULL, *state = llmsvc_response_state(resp, &proto);
    ck_assert_str_eq(proto, "gemini");
    ck_assert(same_json(state, json_object_to_json_string(jat(fx, "candidates.0.content.parts"))));
    ck_assert(state[0] == '[' && strstr(state, "\n")); /* the API's own pretty-printed bytes */
    json_object_put(fx);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(thought_parts_are_reasoning_and_usage_counts_thoughts_and_cache)
{
    serve("thinking.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "How many primes between 100 and 150?");
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    llmsvc_response *resp = call_ok(req);
    json_object *fx = fixture("thinking.json");
    char *text = fx_text(fx, 0), *thought = fx_text(fx, 1);
    assert_text_eq(llmsvc_response_message(resp), text);
    assert_text_eq(llmsvc_response_reasoning(resp), thought);
    assert_lacks(llmsvc_response_message(resp), "Listing the primes");
    free(text);
    free(thought);
    usage u = fx_usage(fx);
    assert_usage(resp, u);
    ck_assert(u.cached > 0 && u.reasoning > 0);
    /* output = candidates + thoughts; total = the API's */
    ck_assert_int_eq(llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT),
                     jint(fx, "usageMetadata.candidatesTokenCount") +
                         jint(fx, "usageMetadata.thoughtsTokenCount"));
    json_object_put(fx);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(max_tokens_finishes_with_length_keeping_the_text)
{
    serve("max_tokens.json");
    llmsvc_request *req = greq("gemini-3.5-flash", "Summarise the French Revolution.");
    llmsvc_request_set_number(req, "max_tokens", 24);
    llmsvc_response *resp = call_ok(req);
    json_object *fx = fixture("max_tokens.json");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "length");
    assert_text_eq(llmsvc_response_message(resp), jstr(fx, "candidates.0.content.parts.0.text"));
    json_object_put(fx);
    llmsvc_response_free(resp);
    /* all of it spent thinking: an empty answer that keeps its reason */
    serve("max_tokens_thinking_only.json");
    resp = call_ok(req);
    fx = fixture("max_tokens_thinking_only.json");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "length");
    ck_assert_str_eq(llmsvc_response_message(resp), "");
    ck_assert_ptr_null(llmsvc_response_state(resp, NULL));
    assert_usage(resp, fx_usage(fx));
    json_object_put(fx);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_recitation_stop_after_some_text_is_content_filter_with_the_text)
{
    serve("recitation.json");
    llmsvc_request *req = greq("gemini-3.5-flash", "Quote the opening of A Tale of Two Cities.");
    llmsvc_response *resp = call_ok(req);
    json_object *fx = fixture("recitation.json");
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "content_filter");
    assert_text_eq(llmsvc_response_message(resp), jstr(fx, "candidates.0.content.parts.0.text"));
    json_object_put(fx);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_response_blocked_before_any_text_is_an_api_error_naming_the_reason)
{
    serve("safety_blocked.json");
    llmsvc_request *req = greq("gemini-3.5-flash", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    assert_text_eq(llmsvc_error_message(err), "the response was blocked (finishReason SAFETY: "
                                              "HARM_CATEGORY_DANGEROUS_CONTENT rated HIGH)");
    ck_assert_str_eq(llmsvc_error_provider_type(err), "response_blocked");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "SAFETY");
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_blocked_prompt_is_an_api_error_naming_the_block_reason)
{
    serve("prompt_blocked.json");
    llmsvc_request *req = greq("gemini-3.5-flash", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    assert_text_eq(
        llmsvc_error_message(err),
        "the prompt was blocked (blockReason SAFETY: HARM_CATEGORY_HARASSMENT rated HIGH)");
    ck_assert_str_eq(llmsvc_error_provider_type(err), "prompt_blocked");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "SAFETY");
    ck_assert(!llmsvc_error_retryable(err));
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_malformed_function_call_keeps_its_own_finish_reason)
{
    serve("malformed_function_call.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "Weather in Paris?");
    add_tools(req);
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "malformed_function_call");
    ck_assert_str_eq(llmsvc_response_message(resp), "");
    ck_assert_uint_eq(llmsvc_response_tool_call_count(resp), 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* Serves fx (a fixture changed by the test) as a literal body. */
#define serve_json(fx, path_suffix) proto_serve_json(&pf, (path_suffix), (fx))

/* Every finishReason of the SDK's enum that an answer with text can carry. */
static const struct {
    const char *fixture, *reason, *want;
} finishes[] = {
    {"basic.json", "STOP", "stop"},
    {"basic.json", "MAX_TOKENS", "length"},
    {"basic.json", "SAFETY", "content_filter"},
    {"basic.json", "RECITATION", "content_filter"},
    {"basic.json", "BLOCKLIST", "content_filter"},
    {"basic.json", "PROHIBITED_CONTENT", "content_filter"},
    {"basic.json", "SPII", "content_filter"},
    {"basic.json", "IMAGE_SAFETY", "content_filter"},
    {"basic.json", "LANGUAGE", "language"},
    {"basic.json", "OTHER", "other"},
    {"basic.json", "FINISH_REASON_UNSPECIFIED", "finish_reason_unspecified"},
    {"basic.json", "MISSING_THOUGHT_SIGNATURE", "missing_thought_signature"},
    {"basic.json", "CONTINUATION", "continuation"},
    {"tool_call.json", "STOP", "tool_calls"},
    {"tool_call.json", "MAX_TOKENS", "length"},
    {"tool_call.json", "UNEXPECTED_TOOL_CALL", "unexpected_tool_call"},
    {"tool_call.json", "TOO_MANY_TOOL_CALLS", "too_many_tool_calls"},
    {"parallel_tool_calls.json", "STOP", "tool_calls"},
};

START_TEST(each_finish_reason_maps_and_none_collapses_to_stop)
{
    json_object *fx = fixture(finishes[_i].fixture);
    json_object_object_add(jat(fx, "candidates.0"), "finishReason",
                           json_object_new_string(finishes[_i].reason));
    serve_json(fx, ":generateContent");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    add_tools(req);
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), finishes[_i].want);
    char *text = fx_text(fx, 0);
    assert_text_eq(llmsvc_response_message(resp), text);
    free(text);
    json_object_put(fx);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_answer_without_usage_has_unknown_counts_and_no_cost)
{
    serve("no_usage.json");
    llmsvc_request *req = greq("gemini-3.1-flash-lite", "Say hello in French.");
    llmsvc_response *resp = call_ok(req);
    ck_assert_str_eq(llmsvc_response_message(resp), "Bonjour !");
    for (int k = LLMSVC_TOKENS_INPUT; k <= LLMSVC_TOKENS_TOTAL; k++)
        ck_assert_int_eq(llmsvc_response_tokens(resp, (llmsvc_token_kind)k), -1);
    ck_assert(llmsvc_response_cost_usd(resp) < 0);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_malformed_body_is_a_provider_error_naming_where)
{
    script("{\"path\": \":generateContent\", \"body\": \"{\\\"candidates\\\": [{\\\"content\\\": "
           "x}]}\"}");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_error *err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "byte");
    llmsvc_error_free(err);
    /* valid JSON, but no candidates and no block reason */
    script("{\"path\": \":generateContent\", \"body\": \"{\\\"usageMetadata\\\": "
           "{\\\"promptTokenCount\\\": 3}}\"}");
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "no candidates");
    llmsvc_error_free(err);
    /* not an object at all */
    script("{\"path\": \":generateContent\", \"body\": \"\\\"text\\\"\"}");
    err = call_fail(req, LLMSVC_E_PROVIDER);
    assert_has(llmsvc_error_message(err), "not a JSON object");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

/* ---- error bodies ---- */

typedef struct error_case {
    int status;
    const char *fixture;
    const char *prefix; /* what the core puts before the provider's message */
    const char *code;   /* the ErrorInfo reason, or the numeric code */
    const char *param;  /* the BadRequest field, or NULL */
    int retryable;
} error_case;

static const error_case error_cases[] = {
    {400, "error_400.json", "HTTP 400 from provider 'google': ", "400", "generation_config", 0},
    {400, "error_400_api_key.json", "HTTP 400 from provider 'google': ", "API_KEY_INVALID", NULL,
     0},
    {400, "error_400_thought_signature.json", "HTTP 400 from provider 'google': ", "400", NULL, 0},
    {404, "error_404.json", "HTTP 404 from provider 'google': ", "404", NULL, 0},
    {429, "error_429.json", "rate limited: HTTP 429 from provider 'google': ", "429", NULL, 1},
    {500, "error_500.json", "HTTP 500 from provider 'google': ", "500", NULL, 1},
    {503, "error_503.json", "HTTP 503 from provider 'google': ", "503", NULL, 1},
    {504, "error_504.json", "HTTP 504 from provider 'google': ", "504", NULL, 1},
};

START_TEST(each_error_body_is_an_api_error_with_message_status_reason_field_and_http_status)
{
    const error_case *c = &error_cases[_i];
    json_object *fx = fixture(c->fixture);
    script("{\"path\": \":generateContent\", \"status\": %d, \"fixture\": \"gemini/%s\","
           " \"headers\": {\"retry-after\": \"2\"}}",
           c->status, c->fixture);
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    char want[2048];
    snprintf(want, sizeof want, "%s%s", c->prefix, jstr(fx, "error.message"));
    assert_text_eq(llmsvc_error_message(err), want);
    ck_assert_int_eq(llmsvc_error_http_status(err), c->status);
    ck_assert_int_eq(llmsvc_error_retryable(err), c->retryable);
    ck_assert_int_eq(llmsvc_error_retry_after_ms(err), 2000); /* the header wins */
    ck_assert_pstr_eq(llmsvc_error_provider_type(err), jstr(fx, "error.status"));
    ck_assert_pstr_eq(llmsvc_error_provider_code(err), c->code);
    ck_assert_pstr_eq(llmsvc_error_param(err), c->param);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    json_object_put(fx);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_retryable_error_is_retried_and_then_succeeds)
{
    script(
        "{\"path\": \":generateContent\", \"status\": 503, \"fixture\": \"gemini/error_503.json\","
        " \"headers\": {\"retry-after\": \"0\"}}");
    serve("basic.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 2);
    llmsvc_response_free(resp);
    /* a 400 is never retried */
    script("{\"path\": \":generateContent\", \"status\": 400, \"fixture\": "
           "\"gemini/error_400.json\"}");
    llmsvc_error_free(call_fail(req, LLMSVC_E_API));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 3);
    llmsvc_request_free(req);
}
END_TEST

/* Google gives a 429's delay in the body (google.rpc.RetryInfo), not in a
 * retry-after header. The plugin passes it with host->error_set_http; the
 * core's classify() then overwrites it with the (absent) header's -1.
 * FAILS until the core patch in the report (core/call.c, classify) lands. */
START_TEST(a_429s_retry_info_delay_is_the_errors_retry_after)
{
    script("{\"path\": \":generateContent\", \"status\": 429, \"fixture\": "
           "\"gemini/error_429.json\"}");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    ck_assert_int_eq(llmsvc_error_http_status(err), 429);
    ck_assert(llmsvc_error_retryable(err));
    ck_assert_int_eq(llmsvc_error_retry_after_ms(err), 21000);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_error_status_without_an_error_object_is_an_api_error_quoting_the_body)
{
    script("{\"path\": \":generateContent\", \"status\": 502, \"content_type\": \"text/html\","
           " \"body\": \"<html><body>502 Bad Gateway</body></html>\"}");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_request_set_max_retries(req, 0);
    llmsvc_error *err = call_fail(req, LLMSVC_E_API);
    assert_has(llmsvc_error_message(err), "HTTP 502 from provider 'google'");
    assert_has(llmsvc_error_message(err), "502 Bad Gateway");
    ck_assert_int_eq(llmsvc_error_http_status(err), 502);
    llmsvc_error_free(err);
    /* Google's streaming endpoints wrap the error in an array */
    script("{\"path\": \":generateContent\", \"status\": 400, \"body\":"
           " \"[{\\\"error\\\": {\\\"code\\\": 400, \\\"message\\\": \\\"Bad things\\\","
           " \\\"status\\\": \\\"INVALID_ARGUMENT\\\"}}]\"}");
    err = call_fail(req, LLMSVC_E_API);
    assert_has(llmsvc_error_message(err), "Bad things");
    ck_assert_str_eq(llmsvc_error_provider_type(err), "INVALID_ARGUMENT");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
}
END_TEST

/* ---- cost ---- */

#define model_pricing(models, model) proto_model_pricing((models), NULL, (model))

static const struct {
    const char *model, *fixture;
} cost_cases[] = {
    {"gemini-3.8-flash", "thinking.json"}, /* cached input and thoughts */
    {"gemini-4-argon", "tool_call.json"},  /* thoughts, no cache */
    {"gemini-3.1-pro-preview", "basic.json"},
};

START_TEST(cost_is_usage_times_the_models_prices)
{
    char *text = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_runtime_models_json(&text, rt, "google", &err);
    assert_code(rc, LLMSVC_OK, err);
    json_object *models = json_tokener_parse(text);
    llmsvc_free(text);
    json_object *pr = model_pricing(models, cost_cases[_i].model);
    double p_in = jnum(pr, "input_per_mtok"), p_out = jnum(pr, "output_per_mtok"),
           p_cached = jnum(pr, "cached_input_per_mtok");
    json_object *fx = fixture(cost_cases[_i].fixture);
    usage u = fx_usage(fx);
    double want = ((double)(u.input - u.cached) * p_in + (double)u.cached * p_cached +
                   (double)u.output * p_out) /
                  1e6;
    serve(cost_cases[_i].fixture);
    llmsvc_request *req = greq(cost_cases[_i].model, "How much does this cost?");
    llmsvc_response *resp = call_ok(req);
    double got = llmsvc_response_cost_usd(resp);
    ck_assert_msg(want > 0 && fabs(got - want) <= 1e-12 * want, "%s: cost %.12g, want %.12g",
                  cost_cases[_i].model, got, want);
    json_object_put(fx);
    json_object_put(models);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ streams */

/* What a stream's callback saw. */
typedef struct collected {
    char kinds[1024]; /* one letter per event: T R S A E U D X */
    size_t n;
    char *text, *reasoning;
    size_t text_len, reasoning_len;
    int texts;
    int cancel_at_text; /* return non-zero at this TEXT event (1-based); 0: never */
    struct {
        int index;
        char id[64], name[64], args[512];
        int started, ended;
    } calls[8];
    int n_calls;
    llmsvc_code error_code;
} collected;

static void grow(char **s, size_t *len, const char *add, size_t n)
{
    *s = realloc(*s, *len + n + 1);
    ck_assert_ptr_nonnull(*s);
    memcpy(*s + *len, add, n);
    *len += n;
    (*s)[*len] = '\0';
}

static int collect(void *user, const llmsvc_event *ev)
{
    collected *c = user;
    static const char letters[] = " TRSAEUDX";
    if (c->n + 1 < sizeof c->kinds)
        c->kinds[c->n++] = letters[ev->type];
    switch (ev->type) {
    case LLMSVC_EVENT_TEXT:
        grow(&c->text, &c->text_len, ev->text, ev->len);
        if (++c->texts == c->cancel_at_text)
            return 1;
        break;
    case LLMSVC_EVENT_REASONING:
        grow(&c->reasoning, &c->reasoning_len, ev->text, ev->len);
        break;
    case LLMSVC_EVENT_TOOL_START:
        ck_assert(ev->index >= 0 && ev->index < 8);
        if (!c->calls[ev->index].started) {
            c->calls[ev->index].started = 1;
            c->calls[ev->index].index = ev->index;
            snprintf(c->calls[ev->index].id, 64, "%s", ev->id ? ev->id : "");
            snprintf(c->calls[ev->index].name, 64, "%s", ev->name ? ev->name : "");
            if (ev->index + 1 > c->n_calls)
                c->n_calls = ev->index + 1;
        }
        break;
    case LLMSVC_EVENT_TOOL_ARGS: {
        size_t have = strlen(c->calls[ev->index].args);
        ck_assert(have + ev->len < 512);
        memcpy(c->calls[ev->index].args + have, ev->text, ev->len);
        c->calls[ev->index].args[have + ev->len] = '\0';
        break;
    }
    case LLMSVC_EVENT_TOOL_END:
        c->calls[ev->index].ended = 1;
        break;
    case LLMSVC_EVENT_ERROR:
        c->error_code = llmsvc_error_code(ev->error);
        break;
    default:
        break;
    }
    c->kinds[c->n] = '\0';
    return 0;
}

static void collected_free(collected *c)
{
    free(c->text);
    free(c->reasoning);
}

static llmsvc_code run_stream(llmsvc_request *req, collected *c, llmsvc_response **out,
                              llmsvc_error **err)
{
    memset(c, 0, sizeof *c);
    return llmsvc_call_stream(rt, req, collect, c, out, err);
}

static llmsvc_response *stream_ok(llmsvc_request *req, collected *c)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, c, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    ck_assert_ptr_nonnull(resp);
    return resp;
}

/* How many times letter occurs in the event kinds. */
static int count_kind(const collected *c, char letter)
{
    int n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += c->kinds[i] == letter;
    return n;
}

/* Stream fixtures and the whole answers with the same content. */
static const struct {
    const char *stream, *whole;
    int chunk;
} pairs[] = {
    {"stream_basic.sse", "basic.json", 0},
    {"stream_basic.sse", "basic.json", 1},
    {"stream_basic.sse", "basic.json", 7},
    {"stream_thinking.sse", "thinking.json", 0},
    {"stream_thinking.sse", "thinking.json", 1},
    {"stream_tool_call.sse", "tool_call.json", 0},
    {"stream_tool_call.sse", "tool_call.json", 1},
    {"stream_parallel.sse", "parallel_tool_calls.json", 0},
    {"stream_parallel.sse", "parallel_tool_calls.json", 1},
};

START_TEST(a_stream_equals_the_whole_answer_with_the_same_content)
{
    serve_stream(pairs[_i].stream, pairs[_i].chunk);
    serve(pairs[_i].whole);
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    add_tools(req);
    collected c;
    llmsvc_response *streamed = stream_ok(req, &c);
    llmsvc_response *whole = call_ok(req);
    assert_same_response(streamed, whole);

    /* the request was a streaming one */
    sent s = sent_get(0);
    assert_jstr(s.rec, "path", "/v1beta/models/gemini-3.8-flash:streamGenerateContent");
    assert_jstr(s.rec, "query", "alt=sse");
    ck_assert_str_eq(sent_header(&s, "x-goog-api-key"), TEST_KEY);
    sent_free(&s);

    /* the callback saw the same text and reasoning, usage once at the end,
     * then the end */
    assert_text_eq(c.text ? c.text : "", llmsvc_response_message(whole));
    const char *r = llmsvc_response_reasoning(whole);
    ck_assert_msg((!r && !c.reasoning) || (r && c.reasoning && !strcmp(r, c.reasoning)),
                  "streamed reasoning differs");
    ck_assert_int_eq(count_kind(&c, 'U'), 1);
    ck_assert_int_eq(count_kind(&c, 'D'), 1);
    ck_assert_msg(c.n >= 2 && c.kinds[c.n - 2] == 'U' && c.kinds[c.n - 1] == 'D',
                  "events end with %s, not usage then done", c.kinds);
    ck_assert_int_eq(count_kind(&c, 'X'), 0);
    /* each call: start, its arguments whole, end — kept apart by index */
    ck_assert_int_eq(c.n_calls, (int)llmsvc_response_tool_call_count(whole));
    for (int i = 0; i < c.n_calls; i++) {
        const llmsvc_tool_call *tc = llmsvc_response_tool_call(whole, (size_t)i);
        ck_assert(c.calls[i].started && c.calls[i].ended);
        ck_assert_str_eq(c.calls[i].id, tc->id);
        ck_assert_str_eq(c.calls[i].name, tc->name);
        ck_assert_str_eq(c.calls[i].args, tc->arguments);
    }
    collected_free(&c);
    llmsvc_response_free(streamed);
    llmsvc_response_free(whole);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_streamed_tool_calls_state_goes_back_and_is_accepted_as_sent)
{
    serve_stream("stream_tool_call.sse", 3);
    llmsvc_request *req = greq("gemini-3.8-flash", NULL);
    llmsvc_request_add_message(req, "user", "What's the weather in Paris?");
    add_tools(req);
    llmsvc_request_set_string(req, "reasoning_effort", "high");
    collected c;
    llmsvc_response *r1 = stream_ok(req, &c);
    ck_assert_str_eq(llmsvc_response_finish_reason(r1), "tool_calls");
    const char *proto = NULL, *state = llmsvc_response_state(r1, &proto);
    ck_assert_str_eq(proto, "gemini");
    /* the thought text merged into one part; the call with its signature as sent */
    json_object *st = json_tokener_parse(state);
    ck_assert_uint_eq(json_object_array_length(st), 2);
    json_object *fx = fixture("tool_call.json");
    ck_assert(json_object_equal(st, jat(fx, "candidates.0.content.parts")));
    json_object_put(st);
    json_object_put(fx);
    llmsvc_request_add_response(req, r1);
    llmsvc_request_add_tool_result(req, "call_0", "{\"temperature_c\":18}");
    serve_stream("stream_basic.sse", 0);
    collected c2;
    llmsvc_response *r2 = stream_ok(req, &c2);
    sent s = sent_get(-1);
    char *want = malloc(strlen(state) + 16);
    sprintf(want, "\"parts\":%s", state);
    assert_has(s.text, want);
    free(want);
    assert_jstr(s.body, "contents.2.parts.0.functionResponse.name", "get_weather");
    sent_free(&s);
    collected_free(&c);
    collected_free(&c2);
    llmsvc_response_free(r2);
    llmsvc_response_free(r1);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_mid_stream_error_is_an_api_error_keeping_the_text_so_far)
{
    serve_stream("stream_error.sse", 0);
    llmsvc_request *req = greq("gemini-3.5-flash", "Explain the laws of thermodynamics.");
    collected c;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, &c, &resp, &err);
    assert_code(rc, LLMSVC_E_API, err);
    assert_has(llmsvc_error_message(err), "The model is overloaded. Please try again later.");
    ck_assert_str_eq(llmsvc_error_provider_type(err), "UNAVAILABLE");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "503");
    ck_assert_str_eq(c.kinds, "TX");
    ck_assert_int_eq(c.error_code, LLMSVC_E_API);
    ck_assert_ptr_nonnull(resp);
    ck_assert_str_eq(llmsvc_response_message(resp), "The first law says energy is conserved; ");
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1); /* never retried after text */
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    collected_free(&c);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_stream_cut_before_its_finish_reason_is_a_transport_error_keeping_the_text)
{
    script(
        "{\"path\": \":streamGenerateContent\", \"content_type\": \"text/event-stream\","
        " \"fixture\": \"gemini/stream_long.sse\", \"chunk_bytes\": 97, \"fault\": \"truncate\"}");
    llmsvc_request *req = greq("gemini-3.5-flash", "Tell me about streams.");
    llmsvc_request_set_max_retries(req, 2);
    collected c;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, &c, &resp, &err);
    assert_code(rc, LLMSVC_E_TRANSPORT, err);
    ck_assert_ptr_nonnull(resp);
    const char *partial = llmsvc_response_message(resp);
    ck_assert(strlen(partial) > 0);
    ck_assert_str_eq(partial, c.text);
    ck_assert_int_eq(count_kind(&c, 'D'), 0);
    ck_assert_int_eq(count_kind(&c, 'X'), 1);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    /* the partial text is a prefix of the whole answer's */
    serve_stream("stream_long.sse", 0);
    collected all;
    llmsvc_response *full = stream_ok(req, &all);
    ck_assert(strncmp(llmsvc_response_message(full), partial, strlen(partial)) == 0);
    ck_assert(strlen(partial) < strlen(llmsvc_response_message(full)));
    llmsvc_response_free(full);
    collected_free(&all);
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    collected_free(&c);
    llmsvc_request_free(req);
}
END_TEST

#define now_ms proto_now_ms

START_TEST(a_callback_that_returns_non_zero_cancels_the_stream_promptly)
{
    /* about 12 KB in 200-byte pieces, 25 ms apart: 1.5 s to send it all */
    script("{\"path\": \":streamGenerateContent\", \"content_type\": \"text/event-stream\","
           " \"fixture\": \"gemini/stream_long.sse\", \"chunk_bytes\": 200,"
           " \"chunk_delay_ms\": 25}");
    llmsvc_request *req = greq("gemini-3.5-flash", "Tell me about streams.");
    collected c;
    memset(&c, 0, sizeof c);
    c.cancel_at_text = 2;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    double t0 = now_ms();
    llmsvc_code rc = llmsvc_call_stream(rt, req, collect, &c, &resp, &err);
    double took = now_ms() - t0;
    assert_code(rc, LLMSVC_E_CANCELLED, err);
    ck_assert_int_eq(c.texts, 2);
    ck_assert_msg(took < 1000, "cancelling took %.0f ms", took);
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    collected_free(&c);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_blocked_prompt_or_response_in_a_stream_is_an_api_error)
{
    serve_stream("stream_prompt_blocked.sse", 0);
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    collected c;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, &c, &resp, &err);
    assert_code(rc, LLMSVC_E_API, err);
    assert_text_eq(llmsvc_error_message(err),
                   "the prompt was blocked (blockReason PROHIBITED_CONTENT)");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "PROHIBITED_CONTENT");
    ck_assert_int_eq(count_kind(&c, 'T'), 0);
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    collected_free(&c);

    serve_stream("stream_safety.sse", 1);
    err = NULL;
    resp = NULL;
    rc = run_stream(req, &c, &resp, &err);
    assert_code(rc, LLMSVC_E_API, err);
    assert_has(llmsvc_error_message(err), "the response was blocked (finishReason SAFETY: "
                                          "HARM_CATEGORY_DANGEROUS_CONTENT rated HIGH)");
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    collected_free(&c);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_error_status_to_a_stream_request_is_an_api_error)
{
    script("{\"path\": \":streamGenerateContent\", \"status\": 404, \"fixture\": "
           "\"gemini/error_404.json\"}");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    collected c;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = run_stream(req, &c, &resp, &err);
    assert_code(rc, LLMSVC_E_API, err);
    assert_has(llmsvc_error_message(err), "HTTP 404 from provider 'google': models/gemini-9-ultra");
    ck_assert_int_eq(llmsvc_error_http_status(err), 404);
    ck_assert_str_eq(llmsvc_error_provider_type(err), "NOT_FOUND");
    ck_assert_ptr_null(resp);
    llmsvc_error_free(err);
    collected_free(&c);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_stream_request_answered_whole_or_as_a_json_array_still_works)
{
    /* a server that ignored alt=sse: one JSON object */
    script("{\"path\": \":streamGenerateContent\", \"fixture\": \"gemini/thinking.json\"}");
    serve("thinking.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    collected c;
    llmsvc_response *a = stream_ok(req, &c);
    llmsvc_response *b = call_ok(req);
    assert_same_response(a, b);
    ck_assert_str_eq(c.kinds, "RTUD");
    collected_free(&c);
    llmsvc_response_free(a);

    /* streamGenerateContent without alt=sse answers a JSON array of fragments */
    char path[TU_PATH];
    snprintf(path, sizeof path, FIXTURES "gemini/stream_thinking.sse");
    char *sse = tu_slurp(path), *arr = calloc(1, strlen(sse) + 16), *o = arr;
    *o++ = '[';
    for (char *p = sse; (p = strstr(p, "data: ")) != NULL;) {
        p += 6;
        char *end = strstr(p, "\r\n\r\n");
        if (o > arr + 1)
            *o++ = ',';
        memcpy(o, p, (size_t)(end - p));
        o += end - p;
        p = end;
    }
    *o++ = ']';
    json_object *fr = json_tokener_parse(arr);
    ck_assert(json_object_is_type(fr, json_type_array));
    serve_json(fr, ":streamGenerateContent");
    a = stream_ok(req, &c);
    assert_same_response(a, b);
    json_object_put(fr);
    free(arr);
    free(sse);
    collected_free(&c);
    llmsvc_response_free(a);
    llmsvc_response_free(b);
    llmsvc_request_free(req);
}
END_TEST

/* ---- the SSE fixtures through the core's parser, split at every byte ---- */

static int quiet(void *user, const llmsvc_event *ev)
{
    (void)user;
    (void)ev;
    return 0;
}

/* Feeds text in pieces of `step` bytes (0: whole); the assembled response. */
static llmsvc_response *feed_sse(const api_rec *api, const char *text, size_t len, size_t step,
                                 llmsvc_code *rc, int *done)
{
    llmsvc_call_info call;
    memset(&call, 0, sizeof call);
    call.size = sizeof call;
    call.provider = "google";
    call.api = "gemini";
    call.model = "gemini-3.8-flash";
    call.stream = 1;
    proto_fed r = proto_feed_sse(api, &call, text, len, step, quiet, NULL);
    *done = r.done;
    *rc = r.code;
    llmsvc_error_free(r.err);
    return r.resp;
}

static const char *const sse_fixtures[] = {
    "stream_basic.sse", "stream_thinking.sse", "stream_tool_call.sse",      "stream_parallel.sse",
    "stream_long.sse",  "stream_error.sse",    "stream_prompt_blocked.sse", "stream_safety.sse",
};

START_TEST(sse_fixtures_parse_the_same_split_at_every_byte)
{
    char dir[TU_PATH];
    snprintf(dir, sizeof dir, "%s/plugins", tmp);
    loader ld;
    memset(&ld, 0, sizeof ld);
    char *dirs[] = {dir};
    int missing_ok[] = {0};
    ck_assert_int_eq(loader_load(&ld, dirs, missing_ok, 1, NULL, NULL), 0);
    const api_rec *api = loader_api(&ld, "gemini");
    ck_assert_ptr_nonnull(api);
    ck_assert_ptr_nonnull(api->ops.parse_event);
    ck_assert_ptr_nonnull(api->ops.stream_free);

    char path[TU_PATH];
    snprintf(path, sizeof path, FIXTURES "gemini/%s", sse_fixtures[_i]);
    char *text = tu_slurp(path);
    size_t len = strlen(text);
    llmsvc_code rc_whole;
    int done_whole;
    llmsvc_response *whole = feed_sse(api, text, len, 0, &rc_whole, &done_whole);
    for (size_t step = 1; step <= 3; step++) {
        llmsvc_code rc;
        int done;
        llmsvc_response *split = feed_sse(api, text, len, step, &rc, &done);
        ck_assert_int_eq(rc, rc_whole);
        ck_assert_int_eq(done, done_whole);
        assert_text_eq(llmsvc_response_message(split), llmsvc_response_message(whole));
        assert_same_response(split, whole);
        /* assembled the same way, the state is the same bytes */
        const char *a = llmsvc_response_state(split, NULL), *b = llmsvc_response_state(whole, NULL);
        ck_assert_pstr_eq(a, b);
        llmsvc_response_free(split);
    }
    /* complete streams end with their finish reason, the others with an error */
    int complete = !strstr(sse_fixtures[_i], "error") && !strstr(sse_fixtures[_i], "blocked") &&
                   !strstr(sse_fixtures[_i], "safety");
    ck_assert_int_eq(rc_whole == LLMSVC_OK, complete);
    if (complete) {
        ck_assert(done_whole);
        ck_assert_ptr_nonnull(llmsvc_response_finish_reason(whole));
    }
    /* a stream cut anywhere before its last event never looks finished */
    if (complete) {
        size_t last = len - 4;
        while (last > 0 && strncmp(text + last, "data:", 5) != 0)
            last--;
        for (size_t cut = 1; cut < last; cut += 13) {
            llmsvc_code rc;
            int done;
            llmsvc_response_free(feed_sse(api, text, cut, 0, &rc, &done));
            ck_assert_msg(!done, "%s cut at byte %zu looks finished", sse_fixtures[_i], cut);
        }
    }
    llmsvc_response_free(whole);
    free(text);
    loader_free(&ld);
}
END_TEST

/* ================================================================ secrets */

#define assert_no_secret(text, what) proto_assert_no_secret((text), (what), SECRET_KEY, 10)

static void setup_secret(void)
{
    setup();
    tu_setenv("GEMINI_API_KEY", SECRET_KEY);
}

static void assert_log_has_no_secret(void)
{
    char *log = tu_log_text(&logs);
    ck_assert_msg(strlen(log) > 0, "nothing was logged at LLMSVC_LOG_DEBUG");
    assert_no_secret(log, "the log");
    free(log);
}

static void fail_without_secret(llmsvc_request *req, llmsvc_code want, int stream)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    collected c;
    llmsvc_code rc = stream ? run_stream(req, &c, &resp, &err) : llmsvc_call(rt, req, &resp, &err);
    ck_assert_msg(rc == want, "expected %s, got %s: %s", llmsvc_code_name(want),
                  llmsvc_code_name(rc), err ? shown(llmsvc_error_message(err)) : "");
    ck_assert_ptr_nonnull(err);
    assert_no_secret(llmsvc_error_message(err), "the error message");
    char *json = NULL;
    ck_assert_int_eq(llmsvc_error_to_json(&json, err), LLMSVC_OK);
    assert_no_secret(json, "the error's JSON");
    llmsvc_free(json);
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    if (stream)
        collected_free(&c);
}

START_TEST(a_403_that_echoes_the_key_never_shows_it)
{
    script("{\"path\": \":generateContent\", \"status\": 403,"
           " \"fixture\": \"gemini/error_403_suspended.json\"}");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    ck_assert_int_eq(rc, LLMSVC_E_API);
    assert_no_secret(llmsvc_error_message(err), "the error message");
    /* the rest of Google's message is kept, with the key replaced */
    assert_has(llmsvc_error_message(err), "HTTP 403 from provider 'google' (check the key in "
                                          "GEMINI_API_KEY): Permission denied: Consumer "
                                          "'api_key:[redacted API key]' has been suspended.");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "CONSUMER_SUSPENDED");
    ck_assert_str_eq(llmsvc_error_provider_type(err), "PERMISSION_DENIED");
    llmsvc_error_free(err);
    /* the key was really sent: this test is not vacuous */
    sent s = sent_get(-1);
    ck_assert_msg(sent_header(&s, "x-goog-api-key") &&
                      !strcmp(sent_header(&s, "x-goog-api-key"), SECRET_KEY),
                  "the key was not sent");
    sent_free(&s);
    /* the same inside a stream */
    script("{\"path\": \":streamGenerateContent\", \"status\": 403,"
           " \"fixture\": \"gemini/error_403_suspended.json\"}");
    fail_without_secret(req, LLMSVC_E_API, 1);
    assert_log_has_no_secret();
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_invalid_key_error_and_a_transport_error_never_show_the_key)
{
    script("{\"path\": \":generateContent\", \"status\": 400,"
           " \"fixture\": \"gemini/error_400_api_key.json\"}");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    fail_without_secret(req, LLMSVC_E_API, 0);
    /* every attempt reset (curl itself may retry once on a reused connection) */
    script("{\"path\": \":generateContent\", \"fault\": \"reset\", \"times\": -1}");
    llmsvc_request_set_max_retries(req, 1);
    fail_without_secret(req, LLMSVC_E_TRANSPORT, 0);
    fake_upstream_reset(fu);
    char *log = tu_log_text(&logs);
    assert_has(log, "attempt 1 failed");
    free(log);
    assert_log_has_no_secret();
    llmsvc_request_free(req);
}
END_TEST

START_TEST(neither_the_request_json_nor_a_response_holds_the_key)
{
    serve("tool_call.json");
    llmsvc_request *req = greq("gemini-3.8-flash", "hello");
    add_tools(req);
    char *json = NULL;
    ck_assert_int_eq(llmsvc_request_to_json(&json, req), LLMSVC_OK);
    assert_no_secret(json, "llmsvc_request_to_json");
    llmsvc_free(json);
    llmsvc_response *resp = call_ok(req);
    ck_assert_int_eq(llmsvc_response_to_json(&json, resp), LLMSVC_OK);
    assert_no_secret(json, "llmsvc_response_to_json");
    llmsvc_free(json);
    /* the body never carries it either: only the header does */
    sent s = sent_get(-1);
    assert_no_secret(s.text, "the request body");
    ck_assert_str_eq(jstr(s.rec, "query"), "");
    sent_free(&s);
    llmsvc_response_free(resp);
    assert_log_has_no_secret();
    llmsvc_request_free(req);
}
END_TEST

/* ================================================================ suite */

#define N(a) ((int)(sizeof(a) / sizeof *(a)))

static Suite *gemini_suite(void)
{
    Suite *s = suite_create("gemini");
    TCase *tc = tu_tcase("request");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, posts_contents_to_models_model_generate_content_with_the_key_header);
    tcase_add_test(tc, instructions_and_system_turns_become_the_system_instruction);
    tcase_add_test(tc, sampling_parameters_go_to_generation_config);
    tcase_add_test(tc, sampling_parameters_are_refused_on_gemini_3_6_and_later_before_any_request);
    tcase_add_loop_test(tc, effort_becomes_the_thinking_level_in_upper_case_and_never_a_budget, 0,
                        N(levels));
    tcase_add_test(tc, a_level_the_model_lacks_is_refused_naming_the_levels_it_has);
    tcase_add_loop_test(tc, gemini_2_5_efforts_become_thinking_budgets_never_levels, 0, N(budgets));
    tcase_add_test(tc, conversation_turns_become_user_and_model_contents);
    tcase_add_test(tc, images_become_file_data_with_a_mime_type_or_inline_data);
    tcase_add_test(tc, tools_become_function_declarations_with_their_json_schema);
    tcase_add_loop_test(tc, tool_choice_becomes_the_function_calling_mode, 0, N(choices));
    tcase_add_test(tc, a_response_format_becomes_response_mime_type_and_json_schema);
    tcase_add_test(tc, provider_options_are_merged_into_the_body_last);
    tcase_add_test(tc, no_key_is_a_config_error_naming_gemini_api_key_and_nothing_is_sent);
    tcase_add_test(
        tc, the_retired_gemini_3_pro_preview_fails_before_any_request_naming_its_replacement);
    tcase_add_test(tc, a_vector_store_is_refused_gemini_models_have_no_file_search);
    tcase_add_test(tc, gemini_base_url_overrides_the_spec);
    suite_add_tcase(s, tc);

    tc = tu_tcase("tools");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_tool_round_trip_sends_the_thought_signature_state_back_byte_for_byte);
    tcase_add_test(tc, parallel_calls_are_answered_in_one_user_turn_in_order);
    tcase_add_test(tc, an_api_call_id_is_kept_and_sent_back_with_the_function_response);
    tcase_add_test(tc, another_protocols_state_is_ignored_and_the_turn_rebuilt);
    tcase_add_test(tc, tool_call_arguments_that_are_not_an_object_are_a_transform_error);
    tcase_add_test(tc, a_tool_result_for_an_unknown_call_is_a_transform_error);
    suite_add_tcase(s, tc);

    tc = tu_tcase("spec_rules");
    tcase_add_checked_fixture(tc, setup_spec, teardown);
    tcase_add_test(tc, an_effort_with_a_budget_is_a_budget_one_without_is_a_level);
    tcase_add_test(tc, spec_wire_paths_replace_the_plugins_fields_and_penalties_map);
    tcase_add_test(tc, a_tuned_models_resource_name_is_its_path_and_a_wired_effort_goes_as_is);
    tcase_add_test(tc, a_parameter_with_no_gemini_field_is_a_transform_error);
    tcase_add_test(tc, a_provider_without_a_key_variable_sends_no_key_header);
    suite_add_tcase(s, tc);

    tc = tu_tcase("response");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_basic_answer_gives_text_id_model_usage_stop_and_its_parts_as_state);
    tcase_add_test(tc, thought_parts_are_reasoning_and_usage_counts_thoughts_and_cache);
    tcase_add_test(tc, max_tokens_finishes_with_length_keeping_the_text);
    tcase_add_test(tc, a_recitation_stop_after_some_text_is_content_filter_with_the_text);
    tcase_add_test(tc, a_response_blocked_before_any_text_is_an_api_error_naming_the_reason);
    tcase_add_test(tc, a_blocked_prompt_is_an_api_error_naming_the_block_reason);
    tcase_add_test(tc, a_malformed_function_call_keeps_its_own_finish_reason);
    tcase_add_loop_test(tc, each_finish_reason_maps_and_none_collapses_to_stop, 0, N(finishes));
    tcase_add_test(tc, an_answer_without_usage_has_unknown_counts_and_no_cost);
    tcase_add_test(tc, a_malformed_body_is_a_provider_error_naming_where);
    tcase_add_loop_test(
        tc, each_error_body_is_an_api_error_with_message_status_reason_field_and_http_status, 0,
        N(error_cases));
    tcase_add_test(tc, a_retryable_error_is_retried_and_then_succeeds);
    tcase_add_test(tc, a_429s_retry_info_delay_is_the_errors_retry_after);
    tcase_add_test(tc, an_error_status_without_an_error_object_is_an_api_error_quoting_the_body);
    tcase_add_loop_test(tc, cost_is_usage_times_the_models_prices, 0, N(cost_cases));
    suite_add_tcase(s, tc);

    tc = tu_tcase("stream");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, a_stream_equals_the_whole_answer_with_the_same_content, 0, N(pairs));
    tcase_add_test(tc, a_streamed_tool_calls_state_goes_back_and_is_accepted_as_sent);
    tcase_add_test(tc, a_mid_stream_error_is_an_api_error_keeping_the_text_so_far);
    tcase_add_test(tc, a_stream_cut_before_its_finish_reason_is_a_transport_error_keeping_the_text);
    tcase_add_test(tc, a_callback_that_returns_non_zero_cancels_the_stream_promptly);
    tcase_add_test(tc, a_blocked_prompt_or_response_in_a_stream_is_an_api_error);
    tcase_add_test(tc, an_error_status_to_a_stream_request_is_an_api_error);
    tcase_add_test(tc, a_stream_request_answered_whole_or_as_a_json_array_still_works);
    tcase_add_loop_test(tc, sse_fixtures_parse_the_same_split_at_every_byte, 0, N(sse_fixtures));
    suite_add_tcase(s, tc);

    tc = tu_tcase("secrets");
    tcase_add_checked_fixture(tc, setup_secret, teardown);
    tcase_add_test(tc, a_403_that_echoes_the_key_never_shows_it);
    tcase_add_test(tc, an_invalid_key_error_and_a_transport_error_never_show_the_key);
    tcase_add_test(tc, neither_the_request_json_nor_a_response_holds_the_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(gemini_suite());
}
