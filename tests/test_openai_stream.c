/* test_openai_stream — the openai-responses plugin streaming, end to end over
 * real loopback HTTP against the in-process fake upstream, and its events read
 * straight through the core's SSE parser: every stream fixture of
 * tests/fixtures/openai paired with its non-streamed body gives the same
 * response (text, reasoning, tool calls, usage, finish reason, id, model,
 * file results, state) whole, a byte at a time and in odd pieces; parallel
 * tool calls interleaved by output_index stay apart; usage arrives at the end
 * of every stream; error events, failed responses, cut streams, a host that
 * stops reading, answers that are not streams, and the streamed state going
 * back in the next turn. */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fake_upstream.h"
#include "http.h"
#include "jdoc.h"
#include "loader.h"
#include "response.h"
#include "sse.h"
#include "stream.h"
#include "testutil.h"

#define OPENAI_SPEC PROJECT_SRC_DIR "/specs/openai.yaml"
#define TEST_KEY "sk-test-llmsvc-stream-dummy-key-0000"
#define MODEL "gpt-6.2-sol"
#define WEATHER_SCHEMA                                                                       \
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"unit\":{\"type\":"  \
    "\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"city\",\"unit\"],"     \
    "\"additionalProperties\":false}"

/* the harness, with assertions that never print the API key */
#define PROTO_FIXTURE_NAMES
#include "prototest.h"

#define plugin_dir (pf.plugins)

#define assert_pstr_same(got, want, what)                                                    \
    do {                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                \
        ck_assert_msg((!g_ && !w_) || (g_ && w_ && !strcmp(g_, w_)),                          \
                      "%s: got\n  \"%s\"\nwant\n  \"%s\"", (what), shown(g_), shown(w_));     \
    } while (0)

/* ---- fixtures ---- */

static void setup(void)
{
    tu_setenv("OPENAI_API_KEY", TEST_KEY);
    tu_unsetenv("OPENAI_BASE_URL");
    proto_start(&pf, "/v1", OPENAI_PLUGIN, "openai-responses.so", NULL);
    rt = proto_open(&pf, PROTO_ISOLATED, OPENAI_SPEC);
}

/* A stream fixture, whole (chunk 0) or in pieces of `chunk` bytes. */
static void serve_stream(const char *fixture, int chunk)
{
    if (chunk > 0)
        script("{\"path\": \"/responses\", \"content_type\": \"text/event-stream\","
               " \"fixture\": \"%s\", \"chunk_bytes\": %d}",
               fixture, chunk);
    else
        script("{\"path\": \"/responses\", \"content_type\": \"text/event-stream\","
               " \"fixture\": \"%s\"}",
               fixture);
}

static void serve(const char *fixture)
{
    script("{\"path\": \"/responses\", \"fixture\": \"%s\"}", fixture);
}

/* A literal text/event-stream body. */
#define serve_body(body) proto_serve_body(&pf, "/responses", (body), "text/event-stream")

/* tests/fixtures/<name>: its text (prototest) */
#define fixture_file(name) proto_fixture_text("", (name))

#define oreq(prompt) proto_request(&pf, "openai", MODEL, (prompt))

#define add_weather_tool(req)                                                                  \
    proto_add_tool((req), "get_weather", "Get the current weather in a city", WEATHER_SCHEMA)

#define json_same proto_json_same

/* ---- what the host heard ---- */

typedef struct sbuf {
    char *p;
    size_t n;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    ck_assert_ptr_nonnull(b->p);
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

typedef struct heard_call {
    int index, starts, ends;
    char *id, *name;
    sbuf args;
} heard_call;

typedef struct heard {
    sbuf text, reasoning;
    heard_call calls[8];
    size_t n_calls;
    llmsvc_event_type types[8192];
    int indexes[8192]; /* the index of TOOL_* events */
    size_t n_types;
    int usage, done, errors;
    char finish[64];
    llmsvc_event_type stop_on; /* return non-zero on the stop_after-th event of this type */
    int stop_after, stopped_after;
} heard;

static heard_call *heard_call_of(heard *h, int index)
{
    for (size_t i = 0; i < h->n_calls; i++) {
        if (h->calls[i].index == index)
            return &h->calls[i];
    }
    ck_assert_uint_lt(h->n_calls, 8);
    heard_call *c = &h->calls[h->n_calls++];
    memset(c, 0, sizeof *c);
    c->index = index;
    return c;
}

static int on_event(void *user, const llmsvc_event *ev)
{
    heard *h = user;
    ck_assert_msg(h->stop_after == 0 || h->stopped_after == 0 || ev->type == LLMSVC_EVENT_ERROR,
                  "event %d after the host asked to stop", (int)ev->type);
    ck_assert_uint_lt(h->n_types, sizeof h->types / sizeof *h->types);
    h->indexes[h->n_types] = ev->index;
    h->types[h->n_types++] = ev->type;
    switch (ev->type) {
    case LLMSVC_EVENT_TEXT:
        sb_add(&h->text, ev->text, ev->len);
        break;
    case LLMSVC_EVENT_REASONING:
        sb_add(&h->reasoning, ev->text, ev->len);
        break;
    case LLMSVC_EVENT_TOOL_START: {
        heard_call *c = heard_call_of(h, ev->index);
        c->starts++;
        if (ev->id && !c->id)
            c->id = strdup(ev->id);
        if (ev->name && !c->name)
            c->name = strdup(ev->name);
        break;
    }
    case LLMSVC_EVENT_TOOL_ARGS:
        sb_add(&heard_call_of(h, ev->index)->args, ev->text, ev->len);
        break;
    case LLMSVC_EVENT_TOOL_END:
        heard_call_of(h, ev->index)->ends++;
        break;
    case LLMSVC_EVENT_USAGE:
        h->usage++;
        break;
    case LLMSVC_EVENT_DONE:
        h->done++;
        snprintf(h->finish, sizeof h->finish, "%s", llmsvc_response_finish_reason(ev->response));
        break;
    case LLMSVC_EVENT_ERROR:
        h->errors++;
        break;
    }
    if (h->stop_after > 0 && ev->type == h->stop_on) {
        int seen = 0;
        for (size_t i = 0; i < h->n_types; i++)
            seen += h->types[i] == h->stop_on;
        if (seen == h->stop_after) {
            h->stopped_after = (int)h->n_types;
            return 1;
        }
    }
    return 0;
}

static void heard_free(heard *h)
{
    free(h->text.p);
    free(h->reasoning.p);
    for (size_t i = 0; i < h->n_calls; i++) {
        free(h->calls[i].id);
        free(h->calls[i].name);
        free(h->calls[i].args.p);
    }
}

static heard *heard_new(void)
{
    heard *h = calloc(1, sizeof *h);
    ck_assert_ptr_nonnull(h);
    return h;
}

static llmsvc_response *stream_ok(llmsvc_request *req, heard *h)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call_stream(rt, req, on_event, h, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    ck_assert_ptr_nonnull(resp);
    return resp;
}

/* A stream that must fail with want; *out gets what was assembled (may be NULL). */
static llmsvc_error *stream_fail(llmsvc_request *req, heard *h, llmsvc_code want,
                                 llmsvc_response **out)
{
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call_stream(rt, req, on_event, h, out, &err);
    assert_code(rc, want, err);
    ck_assert_ptr_nonnull(err);
    return err;
}

/* ---- comparing responses ---- */

static void assert_same_response(const llmsvc_response *got, const llmsvc_response *want,
                                 const char *what)
{
    assert_pstr_same(llmsvc_response_id(got), llmsvc_response_id(want), what);
    assert_pstr_same(llmsvc_response_model(got), llmsvc_response_model(want), what);
    assert_pstr_same(llmsvc_response_message(got), llmsvc_response_message(want), what);
    assert_pstr_same(llmsvc_response_reasoning(got), llmsvc_response_reasoning(want), what);
    assert_pstr_same(llmsvc_response_finish_reason(got), llmsvc_response_finish_reason(want),
                     what);
    for (int k = LLMSVC_TOKENS_INPUT; k <= LLMSVC_TOKENS_TOTAL; k++)
        ck_assert_msg(llmsvc_response_tokens(got, k) == llmsvc_response_tokens(want, k),
                      "%s: token count %d is %lld, want %lld", what, k,
                      (long long)llmsvc_response_tokens(got, k),
                      (long long)llmsvc_response_tokens(want, k));
    ck_assert_uint_eq(llmsvc_response_file_result_count(got),
                      llmsvc_response_file_result_count(want));
    for (size_t i = 0; i < llmsvc_response_file_result_count(want); i++) {
        const llmsvc_file_result *a = llmsvc_response_file_result(got, i),
                                 *b = llmsvc_response_file_result(want, i);
        ck_assert_str_eq(a->file_id, b->file_id);
        ck_assert_str_eq(a->filename, b->filename);
        ck_assert_str_eq(a->text, b->text);
        ck_assert_double_eq(a->score, b->score);
    }
    ck_assert_msg(llmsvc_response_tool_call_count(got) == llmsvc_response_tool_call_count(want),
                  "%s: %zu tool calls, want %zu", what, llmsvc_response_tool_call_count(got),
                  llmsvc_response_tool_call_count(want));
    for (size_t i = 0; i < llmsvc_response_tool_call_count(want); i++) {
        const llmsvc_tool_call *a = llmsvc_response_tool_call(got, i),
                               *b = llmsvc_response_tool_call(want, i);
        ck_assert_str_eq(a->id, b->id);
        ck_assert_str_eq(a->name, b->name);
        ck_assert_str_eq(a->arguments, b->arguments);
    }
    const char *pa = NULL, *pb = NULL;
    const char *sa = llmsvc_response_state(got, &pa), *sb = llmsvc_response_state(want, &pb);
    ck_assert_msg((sa == NULL) == (sb == NULL), "%s: state %s, want %s", what,
                  sa ? "present" : "absent", sb ? "present" : "absent");
    if (sb) {
        ck_assert_str_eq(pa, pb);
        ck_assert_msg(json_same(sa, sb), "%s: the state differs:\n  %s\nwant\n  %s", what, sa, sb);
    }
}

/* What the host heard adds up to the response it got. */
static void assert_heard_is(heard *h, const llmsvc_response *resp, const char *what)
{
    ck_assert_msg(!strcmp(h->text.p ? h->text.p : "", llmsvc_response_message(resp)),
                  "%s: heard text '%s'", what, h->text.p ? h->text.p : "");
    const char *r = llmsvc_response_reasoning(resp);
    ck_assert_msg(!strcmp(h->reasoning.p ? h->reasoning.p : "", r ? r : ""),
                  "%s: heard reasoning '%s'", what, h->reasoning.p ? h->reasoning.p : "");
    ck_assert_uint_eq(h->n_calls, llmsvc_response_tool_call_count(resp));
    for (size_t i = 0; i < h->n_calls; i++) {
        const llmsvc_tool_call *c = llmsvc_response_tool_call(resp, i);
        ck_assert_str_eq(h->calls[i].id, c->id);
        ck_assert_str_eq(h->calls[i].name, c->name);
        ck_assert_str_eq(h->calls[i].args.p ? h->calls[i].args.p : "{}", c->arguments);
        ck_assert_int_eq(h->calls[i].starts, 1);
        ck_assert_int_eq(h->calls[i].ends, 1);
    }
    /* usage at the end, then the end itself */
    ck_assert_int_eq(h->usage, 1);
    ck_assert_int_eq(h->done, 1);
    ck_assert_int_eq(h->errors, 0);
    ck_assert_uint_ge(h->n_types, 2);
    ck_assert_int_eq(h->types[h->n_types - 1], LLMSVC_EVENT_DONE);
    ck_assert_int_eq(h->types[h->n_types - 2], LLMSVC_EVENT_USAGE);
    ck_assert_str_eq(h->finish, llmsvc_response_finish_reason(resp));
}

/* ---- paired fixtures ---- */

typedef struct pair {
    const char *sse, *json;
    int tools, vector_store;
    const char *finish;
} pair;

static const pair pairs[] = {
    {"openai/stream_basic.sse", "openai/basic.json", 0, 0, "stop"},
    {"openai/stream_reasoning.sse", "openai/reasoning.json", 0, 0, "stop"},
    {"openai/stream_reasoning_summary_parts.sse", "openai/reasoning_summary_parts.json", 0, 0,
     "stop"},
    {"openai/stream_refusal.sse", "openai/refusal.json", 0, 0, "refusal"},
    {"openai/stream_incomplete.sse", "openai/incomplete.json", 0, 0, "length"},
    {"openai/stream_content_filter.sse", "openai/content_filter.json", 0, 0, "content_filter"},
    {"openai/stream_file_search.sse", "openai/file_search.json", 0, 1, "stop"},
    {"openai/stream_tool_calls.sse", "openai/tool_calls.json", 1, 0, "tool_calls"},
    {"openai/stream_tool_calls_interleaved.sse", "openai/tool_calls.json", 1, 0, "tool_calls"},
    {"openai/stream_tool_answer.sse", "openai/tool_answer.json", 1, 0, "stop"},
    {"openai/stream_completed_only.sse", "openai/basic.json", 0, 0, "stop"},
};
#define N_PAIRS ((int)(sizeof pairs / sizeof *pairs))
static const int chunkings[] = {0, 1, 7};
#define N_CHUNKINGS ((int)(sizeof chunkings / sizeof *chunkings))

static llmsvc_request *pair_request(const pair *p)
{
    llmsvc_request *req = oreq("What's the weather in Paris and in Tokyo right now?");
    if (p->tools)
        add_weather_tool(req);
    if (p->vector_store)
        llmsvc_request_set_vector_store(req, "vs_68e3f1a2b9c48191a7d2c5e4f6b8a0d1", 20);
    return req;
}

START_TEST(a_stream_gives_the_same_response_as_its_non_streamed_body)
{
    const pair *p = &pairs[_i / N_CHUNKINGS];
    int chunk = chunkings[_i % N_CHUNKINGS];
    char what[256];
    snprintf(what, sizeof what, "%s in pieces of %d", p->sse, chunk);
    llmsvc_request *req = pair_request(p);
    serve(p->json);
    llmsvc_response *whole = call_ok(req);
    serve_stream(p->sse, chunk);
    heard *h = heard_new();
    llmsvc_response *streamed = stream_ok(req, h);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 2);
    ck_assert_str_eq(llmsvc_response_finish_reason(streamed), p->finish);
    assert_same_response(streamed, whole, what);
    assert_heard_is(h, streamed, what);
    ck_assert_int_eq(llmsvc_response_attempts(streamed), 1);
    heard_free(h);
    free(h);
    llmsvc_response_free(streamed);
    llmsvc_response_free(whole);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_streaming_request_is_the_same_body_with_stream_true)
{
    llmsvc_request *req = oreq("Write a haiku about recursion.");
    add_weather_tool(req);
    llmsvc_request_set_string(req, "verbosity", "low");
    llmsvc_response_free(call_ok(req));
    serve_stream("openai/stream_basic.sse", 0);
    heard *h = heard_new();
    llmsvc_response_free(stream_ok(req, h));
    char *text = fake_upstream_requests_json(fu);
    json_object *all = json_tokener_parse(text);
    free(text);
    ck_assert_uint_eq(json_object_array_length(all), 2);
    json_object *plain = json_tokener_parse(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(all, 0), "body")));
    json_object *streaming = json_tokener_parse(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(all, 1), "body")));
    json_object *flag = json_object_object_get(streaming, "stream");
    ck_assert(json_object_is_type(flag, json_type_boolean) && json_object_get_boolean(flag));
    ck_assert(!json_object_object_get_ex(plain, "stream", NULL));
    json_object_object_del(streaming, "stream");
    ck_assert_msg(json_object_equal(plain, streaming), "the bodies differ beyond stream");
    json_object_put(plain);
    json_object_put(streaming);
    json_object_put(all);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(interleaved_parallel_calls_are_kept_apart_by_output_index)
{
    llmsvc_request *req = oreq("What's the weather in Paris and in Tokyo right now?");
    add_weather_tool(req);
    serve_stream("openai/stream_tool_calls_interleaved.sse", 5);
    heard *h = heard_new();
    llmsvc_response *resp = stream_ok(req, h);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "tool_calls");
    ck_assert_uint_eq(h->n_calls, 2);
    ck_assert_int_eq(h->calls[0].index, 1); /* output_index: the reasoning item is 0 */
    ck_assert_int_eq(h->calls[1].index, 2);
    ck_assert_str_eq(h->calls[0].args.p, "{\"city\":\"Paris\",\"unit\":\"celsius\"}");
    ck_assert_str_eq(h->calls[1].args.p, "{\"city\":\"Tokyo\",\"unit\":\"celsius\"}");
    ck_assert_str_eq(h->calls[0].id, "call_Vx7Qm2Lk9Rt4Bn6Zc1Wd8Pj3");
    ck_assert_str_eq(h->calls[1].id, "call_Hs3Nf8Yq1Gu5Te0Ka7Mx2Cv9");
    /* both began before any argument, and the arguments did alternate */
    int starts = 0, switches = 0, last = -1;
    for (size_t i = 0; i < h->n_types; i++) {
        if (h->types[i] == LLMSVC_EVENT_TOOL_START)
            starts++;
        if (h->types[i] == LLMSVC_EVENT_TOOL_ARGS) {
            ck_assert_int_eq(starts, 2);
            switches += last >= 0 && h->indexes[i] != last;
            last = h->indexes[i];
        }
    }
    ck_assert_int_gt(switches, 4);
    assert_heard_is(h, resp, "interleaved");
    heard_free(h);
    free(h);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_error_event_mid_stream_is_an_api_error_keeping_the_partial_text)
{
    llmsvc_request *req = oreq("Write a haiku about recursion.");
    serve_stream("openai/stream_error.sse", 0);
    heard *h = heard_new();
    llmsvc_response *partial = NULL;
    llmsvc_error *err = stream_fail(req, h, LLMSVC_E_API, &partial);
    ck_assert_str_eq(llmsvc_error_message(err),
                     "The server had an error while processing your request. Sorry about that!");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "server_error");
    ck_assert_ptr_nonnull(partial);
    ck_assert_str_eq(llmsvc_response_message(partial), "Functions call themselves,");
    ck_assert_str_eq(h->text.p, "Functions call themselves,");
    ck_assert_int_eq(h->errors, 1);
    ck_assert_int_eq(h->done, 0);
    ck_assert_int_eq(h->types[h->n_types - 1], LLMSVC_EVENT_ERROR);
    /* text reached the host: never retried */
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_response_free(partial);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_error_event_nested_as_sent_keeps_its_message_type_and_code)
{
    llmsvc_request *req = oreq("hello");
    llmsvc_request_set_max_retries(req, 0);
    serve_stream("openai/stream_error_nested.sse", 0);
    heard *h = heard_new();
    llmsvc_error *err = stream_fail(req, h, LLMSVC_E_API, NULL);
    assert_has(llmsvc_error_message(err), "Rate limit reached for " MODEL " in organization");
    ck_assert_str_eq(llmsvc_error_provider_code(err), "rate_limit_exceeded");
    ck_assert_str_eq(llmsvc_error_provider_type(err), "tokens");
    ck_assert_ptr_null(llmsvc_error_param(err));
    ck_assert_ptr_null(h->text.p);
    llmsvc_error_free(err);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_failed_response_event_is_an_api_error_with_its_message_and_code)
{
    char *text = fixture_file("openai/failed.json");
    json_object *fx = json_tokener_parse(text);
    llmsvc_request *req = oreq("hello");
    ck_assert_int_eq(llmsvc_request_set_max_retries(req, 0), LLMSVC_OK);
    serve_stream("openai/stream_failed.sse", 3);
    heard *h = heard_new();
    llmsvc_error *err = stream_fail(req, h, LLMSVC_E_API, NULL);
    json_object *e = json_object_object_get(fx, "error");
    ck_assert_str_eq(llmsvc_error_message(err),
                     json_object_get_string(json_object_object_get(e, "message")));
    ck_assert_str_eq(llmsvc_error_provider_code(err), "server_error");
    ck_assert_int_eq(h->done, 0);
    llmsvc_error_free(err);
    json_object_put(fx);
    free(text);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
}
END_TEST

/* a server_error event before any text reached the host is retried as its
 * HTTP status would be */
START_TEST(a_failed_event_before_any_text_is_retried)
{
    llmsvc_request *req = oreq("hello");
    serve_stream("openai/stream_failed.sse", 0);
    serve_stream("openai/stream_basic.sse", 0);
    heard *h = heard_new();
    llmsvc_response *resp = stream_ok(req, h);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 2);
    ck_assert_int_eq(h->done, 1);
    llmsvc_response_free(resp);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_stream_cut_before_its_end_is_a_transport_error_keeping_the_partial_text)
{
    char *text = fixture_file("openai/basic.json");
    json_object *fx = json_tokener_parse(text);
    const char *full = json_object_get_string(json_object_object_get(
        json_object_array_get_idx(
            json_object_object_get(
                json_object_array_get_idx(json_object_object_get(fx, "output"), 0), "content"),
            0),
        "text"));
    llmsvc_request *req = oreq("Write a haiku about recursion.");
    script("{\"path\": \"/responses\", \"content_type\": \"text/event-stream\","
           " \"fixture\": \"openai/stream_basic.sse\", \"chunk_bytes\": 64,"
           " \"fault\": \"truncate\"}");
    heard *h = heard_new();
    llmsvc_response *partial = NULL;
    llmsvc_error *err = stream_fail(req, h, LLMSVC_E_TRANSPORT, &partial);
    ck_assert_ptr_nonnull(partial);
    const char *got = llmsvc_response_message(partial);
    ck_assert_msg(*got && strncmp(full, got, strlen(got)) == 0 && strlen(got) < strlen(full),
                  "the partial text '%s' is not a proper beginning of the answer", got);
    ck_assert_int_eq(h->errors, 1);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_response_free(partial);
    json_object_put(fx);
    free(text);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_stream_that_ends_without_its_end_event_is_a_transport_error)
{
    /* a whole HTTP answer, but the events stop before response.completed */
    char *text = fixture_file("openai/stream_basic.sse");
    char *end = strstr(text, "event: response.completed");
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    serve_body(text);
    llmsvc_request *req = oreq("Write a haiku about recursion.");
    heard *h = heard_new();
    llmsvc_response *partial = NULL;
    llmsvc_error *err = stream_fail(req, h, LLMSVC_E_TRANSPORT, &partial);
    assert_has(llmsvc_error_message(err), "ended before its end event");
    ck_assert_ptr_nonnull(partial);
    /* every delta arrived: the text is whole, the finish reason unknown */
    ck_assert_str_eq(llmsvc_response_message(partial),
                     "Functions call themselves,\neach frame a smaller mirror—\nbase case ends the "
                     "dream.");
    ck_assert_int_eq(h->done, 0);
    ck_assert_int_eq(h->usage, 0);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_response_free(partial);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
    free(text);
}
END_TEST

START_TEST(a_stream_cut_before_anything_reached_the_host_is_retried)
{
    /* the first half of stream_failed.sse holds response.created alone */
    llmsvc_request *req = oreq("Write a haiku about recursion.");
    llmsvc_request_set_max_retries(req, 1);
    script("{\"path\": \"/responses\", \"content_type\": \"text/event-stream\","
           " \"fixture\": \"openai/stream_failed.sse\", \"chunk_bytes\": 256,"
           " \"fault\": \"truncate\"}");
    serve_stream("openai/stream_basic.sse", 0);
    heard *h = heard_new();
    llmsvc_response *resp = stream_ok(req, h);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 2);
    ck_assert_int_eq(llmsvc_response_attempts(resp), 2);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    assert_heard_is(h, resp, "retried");
    heard_free(h);
    free(h);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}
END_TEST

#define now_ms proto_now_ms

START_TEST(a_host_that_stops_reading_gets_cancelled_promptly)
{
    /* 32 KB in 64-byte pieces 10 ms apart: about 5 s if read to the end */
    llmsvc_request *req = oreq("How many primes are there between 100 and 150?");
    script("{\"path\": \"/responses\", \"content_type\": \"text/event-stream\","
           " \"fixture\": \"openai/stream_reasoning.sse\", \"chunk_bytes\": 64,"
           " \"chunk_delay_ms\": 10}");
    heard *h = heard_new();
    h->stop_on = LLMSVC_EVENT_REASONING;
    h->stop_after = 3;
    double t0 = now_ms();
    llmsvc_response *partial = NULL;
    llmsvc_error *err = stream_fail(req, h, LLMSVC_E_CANCELLED, &partial);
    double took = now_ms() - t0;
    ck_assert_msg(took < 2500, "cancelling took %.0f ms", took);
    ck_assert(!llmsvc_error_retryable(err));
    ck_assert_int_gt(h->stopped_after, 0);
    /* nothing after the stop but the error that ends it */
    ck_assert_uint_eq(h->n_types, (size_t)h->stopped_after + 1);
    ck_assert_int_eq(h->types[h->n_types - 1], LLMSVC_EVENT_ERROR);
    ck_assert_uint_eq(fake_upstream_request_count(fu), 1);
    llmsvc_error_free(err);
    llmsvc_response_free(partial);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(the_streamed_state_goes_back_in_the_next_turn)
{
    llmsvc_request *req = oreq(NULL);
    add_weather_tool(req);
    llmsvc_request_add_message(req, "user", "What's the weather in Paris and in Tokyo right now?");
    serve_stream("openai/stream_tool_calls.sse", 11);
    heard *h = heard_new();
    llmsvc_response *first = stream_ok(req, h);
    const char *proto = NULL;
    const char *state = llmsvc_response_state(first, &proto);
    ck_assert_ptr_nonnull(state);
    ck_assert_str_eq(proto, "openai-responses");
    /* the state is the completed event's output list, exactly as streamed */
    char *sse = fixture_file("openai/stream_tool_calls.sse");
    const char *last = strstr(sse, "event: response.completed\ndata: ");
    ck_assert_ptr_nonnull(last);
    last += strlen("event: response.completed\ndata: ");
    llmsvc_jdoc *d = NULL;
    llmsvc_error *err = NULL;
    ck_assert_int_eq(jdoc_parse(last, strcspn(last, "\n"), &d, &err), LLMSVC_OK);
    size_t len;
    const char *raw = jdoc_raw(d, jdoc_get(d, 0, "response.output"), &len);
    ck_assert_uint_eq(strlen(state), len);
    ck_assert(memcmp(state, raw, len) == 0);

    llmsvc_request_add_response(req, first);
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 0)->id, "18 C, cloudy");
    llmsvc_request_add_tool_result(req, llmsvc_response_tool_call(first, 1)->id, "24 C, clear");
    serve_stream("openai/stream_tool_answer.sse", 0);
    heard *h2 = heard_new();
    llmsvc_response *second = stream_ok(req, h2);
    ck_assert_str_eq(llmsvc_response_finish_reason(second), "stop");
    char *reqs = fake_upstream_requests_json(fu);
    json_object *all = json_tokener_parse(reqs);
    const char *body = json_object_get_string(
        json_object_object_get(json_object_array_get_idx(all, 1), "body"));
    /* each streamed item, byte for byte */
    int node = jdoc_get(d, 0, "response.output");
    int n = 0;
    for (int it = jdoc_first(d, node); it >= 0; it = jdoc_next(d, it), n++) {
        const char *item = jdoc_raw(d, it, &len);
        char *want = strndup(item, len);
        assert_has(body, want);
        free(want);
    }
    ck_assert_int_eq(n, 3);
    json_object *parsed = json_tokener_parse(body);
    ck_assert_uint_eq(json_object_array_length(json_object_object_get(parsed, "input")), 6);
    json_object_put(parsed);
    json_object_put(all);
    free(reqs);
    jdoc_free(d);
    free(sse);
    heard_free(h2);
    free(h2);
    heard_free(h);
    free(h);
    llmsvc_response_free(second);
    llmsvc_response_free(first);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(a_streaming_call_answered_without_a_stream_is_replayed)
{
    llmsvc_request *req = oreq("What's the weather in Paris and in Tokyo right now?");
    add_weather_tool(req);
    serve("openai/tool_calls.json");
    llmsvc_response *whole = call_ok(req);
    serve("openai/tool_calls.json");
    heard *h = heard_new();
    llmsvc_response *streamed = stream_ok(req, h);
    assert_same_response(streamed, whole, "a JSON answer to a stream");
    assert_heard_is(h, streamed, "a JSON answer to a stream");
    heard_free(h);
    free(h);
    llmsvc_response_free(streamed);
    llmsvc_response_free(whole);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(an_error_status_on_a_streaming_call_is_an_api_error)
{
    llmsvc_request *req = oreq("hello");
    llmsvc_request_set_max_retries(req, 0);
    script("{\"path\": \"/responses\", \"status\": 429, \"fixture\": \"openai/error_429.json\","
           " \"headers\": {\"retry-after-ms\": \"20\"}}");
    heard *h = heard_new();
    llmsvc_error *err = stream_fail(req, h, LLMSVC_E_API, NULL);
    assert_has(llmsvc_error_message(err), "rate limited: HTTP 429 from provider 'openai': ");
    assert_has(llmsvc_error_message(err), "Rate limit reached for " MODEL);
    ck_assert_str_eq(llmsvc_error_provider_code(err), "rate_limit_exceeded");
    ck_assert(llmsvc_error_retryable(err));
    ck_assert_int_eq(llmsvc_error_http_status(err), 429);
    llmsvc_error_free(err);
    heard_free(h);
    free(h);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(anything_after_the_end_event_is_ignored)
{
    char *text = fixture_file("openai/stream_basic.sse");
    size_t n = strlen(text);
    const char *tail = "data: [DONE]\n\nevent: response.output_text.delta\ndata: {not json\n\n";
    char *body = malloc(n + strlen(tail) + 1);
    ck_assert_ptr_nonnull(body);
    memcpy(body, text, n);
    strcpy(body + n, tail);
    serve_body(body);
    llmsvc_request *req = oreq("Write a haiku about recursion.");
    heard *h = heard_new();
    llmsvc_response *resp = stream_ok(req, h);
    ck_assert_str_eq(llmsvc_response_message(resp),
                     "Functions call themselves,\neach frame a smaller mirror—\nbase case ends the "
                     "dream.");
    assert_heard_is(h, resp, "trailing [DONE]");
    heard_free(h);
    free(h);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(body);
    free(text);
}
END_TEST

START_TEST(a_malformed_event_is_a_provider_error)
{
    static const struct {
        const char *body, *says;
    } cases[] = {
        {"event: response.output_text.delta\n"
         "data: {\"type\": \"response.output_text.delta\", \"delta\": }\n\n",
         "byte"},
        {"event: response.created\ndata: [1, 2]\n\n", "is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        serve_body(cases[i].body);
        llmsvc_request *req = oreq("hello");
        heard *h = heard_new();
        llmsvc_error *err = stream_fail(req, h, LLMSVC_E_PROVIDER, NULL);
        assert_has(llmsvc_error_message(err), cases[i].says);
        ck_assert(!llmsvc_error_retryable(err));
        llmsvc_error_free(err);
        heard_free(h);
        free(h);
        llmsvc_request_free(req);
    }
}
END_TEST

START_TEST(a_stream_without_usage_has_unknown_counts)
{
    char *text = fixture_file("openai/stream_completed_only.sse");
    char *usage = strstr(text, "\"usage\":{");
    ck_assert_ptr_nonnull(usage);
    char *end = strchr(strchr(usage, '}') + 1, '}'); /* usage holds two objects, then its end */
    end = strchr(end + 1, '}');
    ck_assert_ptr_nonnull(end);
    memcpy(usage, "\"usage\":null", 12);
    memmove(usage + 12, end + 1, strlen(end + 1) + 1);
    serve_body(text);
    llmsvc_request *req = oreq("Write a haiku about recursion.");
    heard *h = heard_new();
    llmsvc_response *resp = stream_ok(req, h);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    for (int k = LLMSVC_TOKENS_INPUT; k <= LLMSVC_TOKENS_TOTAL; k++)
        ck_assert_int_eq(llmsvc_response_tokens(resp, k), -1);
    ck_assert(llmsvc_response_cost_usd(resp) < 0);
    ck_assert_int_eq(h->usage, 0);
    ck_assert_int_eq(h->done, 1);
    heard_free(h);
    free(h);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(text);
}
END_TEST

START_TEST(a_stream_with_keepalives_and_unknown_events_reads_through)
{
    /* a keepalive comment line, a keepalive event and a made-up future event */
    char *text = fixture_file("openai/stream_basic.sse");
    const char *extra = ": keep-alive\n\nevent: keepalive\ndata: {\"type\":\"keepalive\","
                        "\"sequence_number\":99}\n\nevent: response.future_thing\ndata: "
                        "{\"type\":\"response.future_thing\",\"sequence_number\":100}\n\n";
    char *body = malloc(strlen(text) + strlen(extra) + 1);
    ck_assert_ptr_nonnull(body);
    strcpy(body, extra);
    strcat(body, text);
    serve_body(body);
    llmsvc_request *req = oreq("Write a haiku about recursion.");
    heard *h = heard_new();
    llmsvc_response *resp = stream_ok(req, h);
    ck_assert_str_eq(llmsvc_response_finish_reason(resp), "stop");
    assert_heard_is(h, resp, "keepalives");
    heard_free(h);
    free(h);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    free(body);
    free(text);
}
END_TEST

/* ================================================ straight through the SSE parser */

typedef struct feed {
    const api_rec *api;
    llmsvc_call_info *call;
    llmsvc_stream *sink;
    void *stream_state;
    llmsvc_code code;
    llmsvc_error *err;
    int events;
} feed;

static int feed_event(void *user, const llmsvc_sse_event *ev)
{
    feed *f = user;
    f->events++;
    f->code = f->api->ops.parse_event(f->api->state, f->call, ev, f->sink, &f->stream_state,
                                      &f->err);
    return f->code != LLMSVC_OK;
}

static int count_events(void *user, const llmsvc_event *ev)
{
    (void)ev;
    (*(int *)user)++;
    return 0;
}

/* fixture text with "\n" as "\r\n" (malloc'd) */
static char *crlf(const char *text)
{
    char *out = malloc(2 * strlen(text) + 1), *o = out;
    ck_assert_ptr_nonnull(out);
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            *o++ = '\r';
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

START_TEST(every_stream_fixture_reads_the_same_fed_a_byte_at_a_time)
{
    const pair *p = &pairs[_i / 2];
    int use_crlf = _i % 2;
    loader ld;
    memset(&ld, 0, sizeof ld);
    char *dirs[] = {plugin_dir};
    int missing_ok[] = {0};
    ck_assert_int_eq(loader_load(&ld, dirs, missing_ok, 1, NULL, NULL), 0);
    const api_rec *api = loader_api(&ld, "openai-responses");
    ck_assert_ptr_nonnull(api);
    ck_assert_ptr_nonnull(api->ops.parse_event);
    llmsvc_call_info call;
    memset(&call, 0, sizeof call);
    call.size = sizeof call;
    call.provider = "openai";
    call.api = "openai-responses";
    call.model = MODEL;
    call.parallel_tool_calls = -1;
    call.stream = 1;

    /* the non-streamed body */
    char *json = fixture_file(p->json);
    llmsvc_http_response hr;
    http_response_init(&hr);
    hr.status = 200;
    ck_assert_int_eq(buf_append(&hr.body, json, strlen(json)), 0);
    llmsvc_response *whole = response_new();
    llmsvc_error *err = NULL;
    call.stream = 0;
    llmsvc_code rc = api->ops.parse_response(api->state, &call, &hr, whole, &err);
    assert_code(rc, LLMSVC_OK, err);
    call.stream = 1;

    /* the stream, one byte at a time */
    char *sse = fixture_file(p->sse);
    if (use_crlf) {
        char *c = crlf(sse);
        free(sse);
        sse = c;
    }
    llmsvc_response *streamed = response_new();
    int host_events = 0;
    llmsvc_stream sink;
    stream_init(&sink, count_events, &host_events, streamed);
    feed f = {api, &call, &sink, NULL, LLMSVC_OK, NULL, 0};
    sse_parser parser;
    sse_init(&parser, 1 << 20, feed_event, &f);
    size_t n = strlen(sse);
    for (size_t i = 0; i < n; i++) {
        int r = sse_feed(&parser, sse + i, 1);
        ck_assert_msg(r == 0, "%s: stopped at byte %zu: %s", p->sse, i,
                      f.err ? llmsvc_error_message(f.err) : "(no error)");
    }
    ck_assert_int_eq(sse_finish(&parser), 0);
    ck_assert_msg(sink.done, "%s: no end event was seen", p->sse);
    ck_assert_int_eq(stream_finish(&sink), LLMSVC_OK);
    ck_assert_int_eq(f.events, (int)tu_count(sse, "event: "));
    ck_assert_int_gt(host_events, 0);
    char what[256];
    snprintf(what, sizeof what, "%s a byte at a time%s", p->sse, use_crlf ? " with CRLF" : "");
    assert_same_response(streamed, whole, what);
    if (f.stream_state)
        api->ops.stream_free(api->state, f.stream_state);
    sse_free(&parser);
    stream_free(&sink);
    llmsvc_response_free(streamed);
    llmsvc_response_free(whole);
    http_response_clear(&hr);
    free(sse);
    free(json);
    loader_free(&ld);
}
END_TEST

START_TEST(a_stream_split_in_two_at_every_byte_reads_the_same)
{
    /* the refusal stream fed as two pieces, split at each byte in turn */
    loader ld;
    memset(&ld, 0, sizeof ld);
    char *dirs[] = {plugin_dir};
    int missing_ok[] = {0};
    ck_assert_int_eq(loader_load(&ld, dirs, missing_ok, 1, NULL, NULL), 0);
    const api_rec *api = loader_api(&ld, "openai-responses");
    llmsvc_call_info call;
    memset(&call, 0, sizeof call);
    call.size = sizeof call;
    call.provider = "openai";
    call.model = MODEL;
    call.parallel_tool_calls = -1;
    call.stream = 1;
    char *sse = fixture_file("openai/stream_refusal.sse");
    size_t n = strlen(sse);
    llmsvc_response *first = NULL;
    for (size_t cut = 0; cut <= n; cut++) {
        llmsvc_response *resp = response_new();
        llmsvc_stream sink;
        stream_init(&sink, NULL, NULL, resp);
        feed f = {api, &call, &sink, NULL, LLMSVC_OK, NULL, 0};
        sse_parser parser;
        sse_init(&parser, 1 << 20, feed_event, &f);
        ck_assert_int_eq(sse_feed(&parser, sse, cut), 0);
        ck_assert_int_eq(sse_feed(&parser, sse + cut, n - cut), 0);
        ck_assert_int_eq(sse_finish(&parser), 0);
        ck_assert(sink.done);
        ck_assert_int_eq(stream_finish(&sink), LLMSVC_OK);
        if (f.stream_state)
            api->ops.stream_free(api->state, f.stream_state);
        sse_free(&parser);
        stream_free(&sink);
        if (!first) {
            first = resp;
            continue;
        }
        char what[64];
        snprintf(what, sizeof what, "cut at byte %zu", cut);
        assert_same_response(resp, first, what);
        llmsvc_response_free(resp);
    }
    ck_assert_str_eq(llmsvc_response_message(first), "I'm sorry, but I can't help with that.");
    ck_assert_str_eq(llmsvc_response_finish_reason(first), "refusal");
    llmsvc_response_free(first);
    free(sse);
    loader_free(&ld);
}
END_TEST

/* ================================================================ suite */

static Suite *openai_stream_suite(void)
{
    Suite *s = suite_create("openai_stream");
    TCase *tc = tu_tcase("paired");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, a_stream_gives_the_same_response_as_its_non_streamed_body, 0,
                        N_PAIRS * N_CHUNKINGS);
    suite_add_tcase(s, tc);

    tc = tu_tcase("stream");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_streaming_request_is_the_same_body_with_stream_true);
    tcase_add_test(tc, interleaved_parallel_calls_are_kept_apart_by_output_index);
    tcase_add_test(tc, an_error_event_mid_stream_is_an_api_error_keeping_the_partial_text);
    tcase_add_test(tc, an_error_event_nested_as_sent_keeps_its_message_type_and_code);
    tcase_add_test(tc, a_failed_response_event_is_an_api_error_with_its_message_and_code);
    tcase_add_test(tc, a_failed_event_before_any_text_is_retried);
    tcase_add_test(tc, a_stream_cut_before_its_end_is_a_transport_error_keeping_the_partial_text);
    tcase_add_test(tc, a_stream_that_ends_without_its_end_event_is_a_transport_error);
    tcase_add_test(tc, a_stream_cut_before_anything_reached_the_host_is_retried);
    tcase_add_test(tc, a_host_that_stops_reading_gets_cancelled_promptly);
    tcase_add_test(tc, the_streamed_state_goes_back_in_the_next_turn);
    tcase_add_test(tc, a_streaming_call_answered_without_a_stream_is_replayed);
    tcase_add_test(tc, an_error_status_on_a_streaming_call_is_an_api_error);
    tcase_add_test(tc, anything_after_the_end_event_is_ignored);
    tcase_add_test(tc, a_malformed_event_is_a_provider_error);
    tcase_add_test(tc, a_stream_with_keepalives_and_unknown_events_reads_through);
    tcase_add_test(tc, a_stream_without_usage_has_unknown_counts);
    suite_add_tcase(s, tc);

    tc = tu_tcase("sse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, every_stream_fixture_reads_the_same_fed_a_byte_at_a_time, 0,
                        N_PAIRS * 2);
    tcase_add_test(tc, a_stream_split_in_two_at_every_byte_reads_the_same);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(openai_stream_suite());
}
