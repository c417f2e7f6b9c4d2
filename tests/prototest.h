/* prototest — the protocol test harness the per-protocol tests share: one
 * fixture (temporary folder with the plugins under test, the in-process fake
 * upstream, a log collector, a runtime with no spec problems) that tears down
 * completely; scripting the upstream and reading what it recorded; fixture
 * files; a stream event collector; SSE text fed straight to a plugin; calls
 * asserted key-safely; JSON paths. */
#ifndef LLMSVC_PROTOTEST_H
#define LLMSVC_PROTOTEST_H

#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>

#include "fake_upstream.h"
#include "http.h"
#include "loader.h"
#include "response.h"
#include "sse.h"
#include "stream.h"
#include "testutil.h"

/* ---- the fixture ---- */

/* Runtime options isolated from the environment and the default folders. */
#define PROTO_ISOLATED                                                                             \
    (LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS)

typedef struct proto_fixture {
    char tmp[TU_PATH];     /* the temporary folder (removed by proto_stop) */
    char plugins[TU_PATH]; /* tmp/plugins, holding the copied plugins */
    fake_upstream *fu;
    llmsvc_runtime *rt; /* not opened by proto_start; closed by proto_stop */
    tu_log logs;
    char base[128]; /* the fake upstream's URL + base_path */
} proto_fixture;

/* Keeps loopback off any proxy, makes tmp/plugins, copies each plugin in (pairs
 * of source path and file name, then NULL), starts the fake upstream and the
 * log. base is the upstream's URL followed by base_path ("/v1"). Set provider
 * variables with tu_setenv/tu_unsetenv: proto_stop restores them. */
void proto_start(proto_fixture *fx, const char *base_path, ...) __attribute__((sentinel));
/* tu_options over the fixture's plugin folder and log, with spec_path. */
void proto_options(proto_fixture *fx, llmsvc_options *o, const char *spec_path);
/* Opens a runtime with o, failing the test on an error or any spec problem. */
llmsvc_runtime *proto_open_options(const llmsvc_options *o);
/* proto_options with these flags, then proto_open_options. */
llmsvc_runtime *proto_open(proto_fixture *fx, unsigned flags, const char *spec_path);
/* Closes fx->rt, stops the upstream, frees the log, removes tmp, restores the
 * environment; fx is zeroed. */
void proto_stop(proto_fixture *fx);

/* Pushes one fake-upstream script entry (printf-style JSON); fails the test
 * when it is too long or refused. */
void proto_script(proto_fixture *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for any fake upstream, with a va_list. */
void proto_vscript(fake_upstream *fu, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The request a protocol test sends: tu_request(provider, model, prompt) with
 * its base URL set to the fixture's fake upstream (fx->base). */
llmsvc_request *proto_request(proto_fixture *fx, const char *provider, const char *model,
                              const char *prompt);

/* Scripts the fake upstream's next answer on path: body as given, with a
 * content_type (NULL: the default); fails the test when it is refused. */
void proto_serve_body(proto_fixture *fx, const char *path, const char *body,
                      const char *content_type);
/* The same with o's plain JSON text as the body. */
void proto_serve_json(proto_fixture *fx, const char *path, json_object *o);

/* ---- fixture files: tests/fixtures/<dir>/<name> ("": tests/fixtures/<name>) ---- */

/* The file parsed as JSON (the caller puts it); fails the test when it cannot
 * be read or parsed. */
json_object *proto_fixture_json(const char *dir, const char *name);
/* The file's text (malloc'd); fails the test when it cannot be read. */
char *proto_fixture_text(const char *dir, const char *name);
/* text with every "{{model}}" replaced by model, as the fake upstream does (malloc'd). */
char *proto_with_model(const char *text, const char *model);
/* Whether two JSON texts parse to equal values (0 when either does not parse). */
int proto_json_same(const char *a, const char *b);
/* Milliseconds on the monotonic clock. */
double proto_now_ms(void);

/* The pricing object of a model in llmsvc_runtime_models_json's array (of that
 * provider; NULL: any), borrowed; fails the test when there is none. */
json_object *proto_model_pricing(json_object *models, const char *provider, const char *model);
/* A price per 1M tokens there, or -1 when the pricing gives none. */
double proto_price(json_object *pricing, const char *key);

/* ---- what a stream's callback saw ---- */

#define PROTO_MAXCALLS 4 /* tool call indexes below this; a higher one fails the test */

typedef struct proto_seen {
    char text[8192], reasoning[8192];
    char args[PROTO_MAXCALLS][512], ids[PROTO_MAXCALLS][64], names[PROTO_MAXCALLS][64];
    int starts[PROTO_MAXCALLS], ends[PROTO_MAXCALLS]; /* TOOL_START / TOOL_END per index */
    int events, text_events, usage_events, done, errors;
    int args_interleaved;      /* args of one call came between pieces of another */
    int last_args_index;       /* the index of the last TOOL_ARGS (-1: none yet) */
    int ends_before_done;      /* at DONE, every started call had ended */
    int text_after_usage;      /* TEXT events after a USAGE event */
    int64_t last_usage_output; /* output tokens of the last USAGE event */
    int stop_after_text;       /* return non-zero at this text event (0: never) */
} proto_seen;

/* Zeroes s, with no args seen yet (last_args_index -1). */
void proto_seen_init(proto_seen *s);
/* An llmsvc event callback recording into the proto_seen user; it returns
 * non-zero only at the stop_after_text-th TEXT event. */
int proto_on_event(void *user, const llmsvc_event *ev);

/* ---- stream text straight through the core's SSE parser into a plugin ---- */

/* What proto_feed_event hands parse_event, and what it got back. */
typedef struct proto_feed {
    const api_rec *api;
    const llmsvc_call_info *call;
    llmsvc_stream *sink;
    void *state;       /* the plugin's stream state (the caller frees it) */
    llmsvc_code code;  /* parse_event's last code */
    llmsvc_error *err; /* and its error */
} proto_feed;

/* An sse_event_fn giving each event to the proto_feed user's plugin; non-zero
 * (stop) once parse_event fails. */
int proto_feed_event(void *user, const llmsvc_sse_event *ev);

/* What proto_feed_sse assembled. */
typedef struct proto_fed {
    llmsvc_response *resp; /* the assembled response (the caller frees it) */
    int sse_rc;            /* the SSE parser's last result: non-zero when it stopped */
    int done;              /* the plugin ended the stream */
    llmsvc_code code;      /* parse_event's last code */
    llmsvc_error *err;     /* its error (the caller frees it) */
} proto_fed;

/* Feeds len bytes of text to the SSE parser in pieces of step bytes (0: whole),
 * then finishes it unless it stopped; the plugin's events go to fn/user. The
 * stream state is freed and stream_finish asserted to succeed. */
proto_fed proto_feed_sse(const api_rec *api, const llmsvc_call_info *call, const char *text,
                         size_t len, size_t step, llmsvc_stream_fn fn, void *user);

/* ---- what the fake upstream recorded ---- */

/* One request the fake upstream recorded, with its body parsed. */
typedef struct proto_sent {
    json_object *all;  /* every recorded request */
    json_object *rec;  /* the one looked at (borrowed from all) */
    json_object *body; /* its body, parsed: a JSON object */
    const char *text;  /* its body's text (borrowed from all) */
} proto_sent;

/* The i-th request fu recorded (i < 0 counts from the end); fails the test
 * when there is none or its body is not a JSON object. Free it with proto_sent_free. */
proto_sent proto_sent_get(fake_upstream *fu, int i);
void proto_sent_free(proto_sent *s);
/* The value of a header (its name in lower case) as sent; NULL when absent. */
const char *proto_sent_header(const proto_sent *s, const char *lower_name);
/* Whether the header is there with exactly that value. */
int proto_header_is(const proto_sent *s, const char *lower_name, const char *want);

/* ---- JSON paths ---- */

/* The value at a dotted path; a numeric step indexes an array ("tools.0.type").
 * NULL when absent (or JSON null). Borrowed from o. */
json_object *jat(json_object *o, const char *path);
/* The string there, NULL when absent or not a string. */
const char *jstr(json_object *o, const char *path);
/* The integer there; fails the test when it is not one. */
int64_t jint(json_object *o, const char *path);
/* The integer there, or def when absent, null or not an integer. */
int64_t jint_or(json_object *o, const char *path, int64_t def);
/* The number (integer or not) there; fails the test when it is not one. */
double jnum(json_object *o, const char *path);
/* The boolean there; fails the test when it is not one. */
int jbool(json_object *o, const char *path);
/* The length of the array there; fails the test when it is not an array. */
size_t jlen(json_object *o, const char *path);
/* Whether an object has a member at all (null included). */
int jhas(json_object *o, const char *key);

/* Fails when text holds secret, or its tail from the skip-th character on
 * (a long piece of it), never printing either. */
#define proto_assert_no_secret(text, what, secret, skip)                                          \
    do {                                                                                           \
        const char *t_ = (text);                                                                   \
        ck_assert_msg(!t_ || !strstr(t_, (secret)), "the API key leaked into %s", (what));         \
        ck_assert_msg(!t_ || !strstr(t_, (secret) + (skip)), "part of the API key leaked into %s", \
                      (what));                                                                     \
    } while (0)

/* ---- key-safe: only in a test that defines TEST_KEY first (keysafe.h) ---- */

#ifdef TEST_KEY
#include "keysafe.h"

#define assert_jstr(obj, path, want)                                                               \
    do {                                                                                           \
        const char *g_ = jstr((obj), (path));                                                      \
        ck_assert_msg(g_ && strcmp(g_, (want)) == 0, "%s is '%s', want '%s'", (path),              \
                      g_ ? shown(g_) : "(absent)", (want));                                        \
    } while (0)

/* Calls and asserts success; the response is the caller's. */
static inline llmsvc_response *proto_call_ok(llmsvc_runtime *rt, const llmsvc_request *req)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_error_free(err);
    ck_assert_ptr_nonnull(resp);
    return resp;
}

/* Calls and asserts failure with want and no response; the error is the caller's. */
static inline llmsvc_error *proto_call_fail(llmsvc_runtime *rt, const llmsvc_request *req,
                                            llmsvc_code want)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    assert_code(rc, want, err);
    ck_assert_ptr_null(resp);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(llmsvc_error_code(err), want);
    return err;
}

/* Adds a tool (description may be NULL), asserting success key-safely. */
static inline void proto_add_tool(llmsvc_request *req, const char *name, const char *description,
                                  const char *schema)
{
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_add_tool(req, name, description, schema, &err);
    assert_code(rc, LLMSVC_OK, err);
}

/* A non-streamed body (200) through the plugin's parse_response for call,
 * asserting success key-safely: the response (the caller frees it). */
static inline llmsvc_response *proto_parse_body(const api_rec *api, const llmsvc_call_info *call,
                                                const char *body)
{
    llmsvc_http_response hr;
    http_response_init(&hr);
    hr.status = 200;
    ck_assert_int_ge(buf_append(&hr.body, body, strlen(body)), 0);
    llmsvc_response *resp = response_new();
    llmsvc_error *err = NULL;
    llmsvc_code rc = api->ops.parse_response(api->state, call, &hr, resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    http_response_clear(&hr);
    return resp;
}

/* Two responses equal in everything a host sees: text, reasoning, finish
 * reason, id, model, tool calls, every token count; state in both or neither
 * (then with the same protocol). Fails key-safely. */
static inline void proto_assert_same_response(const llmsvc_response *a,
                                              const llmsvc_response *b)
{
    assert_text_eq(llmsvc_response_message(a), llmsvc_response_message(b));
    const char *ra = llmsvc_response_reasoning(a), *rb = llmsvc_response_reasoning(b);
    ck_assert_msg((ra == NULL) == (rb == NULL), "reasoning in one response only");
    if (ra)
        assert_text_eq(ra, rb);
    assert_text_eq(llmsvc_response_finish_reason(a), llmsvc_response_finish_reason(b));
    assert_text_eq(llmsvc_response_id(a), llmsvc_response_id(b));
    assert_text_eq(llmsvc_response_model(a), llmsvc_response_model(b));
    ck_assert_int_eq(llmsvc_response_tool_call_count(a), llmsvc_response_tool_call_count(b));
    for (size_t i = 0; i < llmsvc_response_tool_call_count(a); i++) {
        const llmsvc_tool_call *x = llmsvc_response_tool_call(a, i),
                               *y = llmsvc_response_tool_call(b, i);
        assert_text_eq(x->id, y->id);
        assert_text_eq(x->name, y->name);
        assert_text_eq(x->arguments, y->arguments);
    }
    for (int k = LLMSVC_TOKENS_INPUT; k <= LLMSVC_TOKENS_TOTAL; k++)
        ck_assert_msg(llmsvc_response_tokens(a, (llmsvc_token_kind)k) ==
                          llmsvc_response_tokens(b, (llmsvc_token_kind)k),
                      "token kind %d: %lld vs %lld", k,
                      (long long)llmsvc_response_tokens(a, (llmsvc_token_kind)k),
                      (long long)llmsvc_response_tokens(b, (llmsvc_token_kind)k));
    const char *pa = NULL, *pb = NULL;
    const char *sa = llmsvc_response_state(a, &pa), *sb = llmsvc_response_state(b, &pb);
    ck_assert_msg((sa == NULL) == (sb == NULL), "state in one response only");
    if (sa)
        assert_text_eq(pa, pb);
}

/* A test file of one fixture that defines PROTO_FIXTURE_NAMES (and TEST_KEY)
 * before including this header gets it as `pf`, and short names for its
 * fields and for the helpers over it. */
#ifdef PROTO_FIXTURE_NAMES
static proto_fixture pf;
#define tmp (pf.tmp)
#define fu (pf.fu)
#define rt (pf.rt)
#define logs (pf.logs)
#define base (pf.base) /* the fake upstream's URL + the base path given to proto_start */
#define open_rt(flags, spec_path) proto_open(&pf, (flags), (spec_path))
#define script(...) proto_script(&pf, __VA_ARGS__)
#define call_ok(req) proto_call_ok(rt, (req))
#define call_fail(req, want) proto_call_fail(rt, (req), (want))
typedef proto_sent sent;
#define sent_get(i) proto_sent_get(fu, (i))
#define sent_free proto_sent_free
#define sent_header proto_sent_header
#define header_is proto_header_is
/* The checked fixture's teardown. */
static inline void teardown(void)
{
    proto_stop(&pf);
}
#endif
/* A file that defines PROTO_SEEN_NAMES gets short names for the stream collector. */
#ifdef PROTO_SEEN_NAMES
#define MAXCALLS PROTO_MAXCALLS
typedef proto_seen seen;
#define seen_init proto_seen_init
#define on_event proto_on_event
#endif
#endif

#endif
