/* openai-responses — the OpenAI Responses API (POST {base_url}/responses).
 *
 * Request: the conversation → input (a lone user prompt as a string, else a
 * list of items: messages with input_text/input_image parts, the assistant's
 * turns, its function_call items and the function_call_output items of tool
 * results; an assistant turn carrying this protocol's state is written back
 * as the output items it holds, byte for byte); instructions; temperature,
 * top_p; max_tokens → max_output_tokens; reasoning_effort → reasoning.effort;
 * verbosity → text.verbosity; tools (flat function tools, beside a
 * file_search tool for a vector store), tool_choice, parallel_tool_calls; a
 * response format → text.format {type: json_schema}; stream. A spec `wire`
 * name overrides a parameter's field; provider_options are merged last.
 *
 * Response: the text of every output_text part of every message item (the
 * wire has no output_text field: that is an SDK convenience), refusals,
 * reasoning summaries (and reasoning_text parts), function_call items as tool
 * calls, file_search_call results, usage with cached input, cache writes and
 * reasoning tokens. Finish reasons: a refusal → "refusal"; incomplete
 * max_output_tokens → "length", content_filter → "content_filter", another
 * reason as itself; function calls → "tool_calls"; else "stop". status
 * "failed" and error bodies → API errors keeping the provider's message,
 * type, code and param. The whole `output` list is the provider state when it
 * holds reasoning or function_call items.
 *
 * Streaming: the response.* events → text, reasoning and tool-call deltas (by
 * output_index); response.completed / response.incomplete give usage, finish
 * reason, id, model and state; response.failed and `error` events are API
 * errors. There is no [DONE] sentinel.
 *
 * docs/protocols/openai-responses.md describes all of it.
 */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmsvc/plugin.h"

#define PROTOCOL "openai-responses"

static const llmsvc_host *host;

typedef llmsvc_jdoc jdoc;

static int is(const char *s, const char *lit)
{
    return s && strcmp(s, lit) == 0;
}

/* Whether the core's call_info is recent enough to have `field`. */
#define HAS(call, field) ((call)->size >= offsetof(llmsvc_call_info, field) + sizeof((call)->field))

/* ================================================================ request */

/* The body field each parameter goes to, unless the spec says otherwise. */
static const char *default_wire(const char *name)
{
    static const char *const map[][2] = {
        {"temperature", "temperature"},
        {"top_p", "top_p"},
        {"max_tokens", "max_output_tokens"},
        {"reasoning_effort", "reasoning.effort"},
        {"verbosity", "text.verbosity"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strcmp(map[i][0], name) == 0)
            return map[i][1];
    }
    return NULL;
}

/* Building the body (host->jv_*, in the request's own memory): each helper
 * records a failed step in *oom instead of returning it, so that a builder
 * checks once at its end. `r` is the request the values belong to. */
typedef llmsvc_http_request req_t;
typedef llmsvc_jv jv;

static void put(jv *o, const char *key, jv *v, int *oom)
{
    if (host->jv_put(o, key, v) != LLMSVC_OK)
        *oom = 1;
}

static void push(jv *a, jv *v, int *oom)
{
    if (host->jv_push(a, v) != LLMSVC_OK)
        *oom = 1;
}

static jv *str(req_t *r, const char *s)
{
    return host->jv_string(r, s, s ? strlen(s) : 0);
}

static jv *raw(req_t *r, const char *json)
{
    return host->jv_raw(r, json, strlen(json));
}

/* store: false in provider_options: the Responses API keeps nothing, so
 * reasoning can only come back as its encrypted content. */
static int store_off(const llmsvc_call_info *call)
{
    json_object *v;
    return call->provider_options &&
           json_object_object_get_ex((json_object *)call->provider_options, "store", &v) &&
           json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v);
}

/* {"role", "content"}: the text as a string, or input_text and input_image
 * parts when the turn has images. */
static jv *message_item(req_t *r, const llmsvc_message *m, int *oom)
{
    jv *item = host->jv_object(r);
    put(item, "role", str(r, m->role), oom);
    if (!m->n_images) {
        put(item, "content", str(r, m->content), oom);
        return item;
    }
    jv *parts = host->jv_array(r);
    if (m->content && *m->content) {
        jv *t = host->jv_object(r);
        put(t, "type", str(r, "input_text"), oom);
        put(t, "text", str(r, m->content), oom);
        push(parts, t, oom);
    }
    for (size_t j = 0; j < m->n_images; j++) {
        jv *img = host->jv_object(r);
        put(img, "type", str(r, "input_image"), oom);
        put(img, "image_url", str(r, m->images[j]), oom);
        put(img, "detail", str(r, "auto"), oom);
        push(parts, img, oom);
    }
    put(item, "content", parts, oom);
    return item;
}

/* An assistant turn rebuilt from its text and tool calls: the message (when
 * it has text, or nothing else), then one function_call item per call. */
static void assistant_items(req_t *r, const llmsvc_message *m, jv *items, int *oom)
{
    if ((m->content && *m->content) || !m->n_tool_calls)
        push(items, message_item(r, m, oom), oom);
    for (size_t j = 0; j < m->n_tool_calls; j++) {
        const llmsvc_tool_call *c = &m->tool_calls[j];
        jv *fc = host->jv_object(r);
        put(fc, "type", str(r, "function_call"), oom);
        put(fc, "call_id", str(r, c->id), oom);
        put(fc, "name", str(r, c->name), oom);
        put(fc, "arguments", str(r, c->arguments && *c->arguments ? c->arguments : "{}"), oom);
        push(items, fc, oom);
    }
}

/* This protocol's state of an assistant turn (turn i): the `output` list of
 * the response it came from; each of its items goes back exactly as received,
 * but reasoning items only to a model that reasons (a conversation may move
 * to one that does not, and encrypted reasoning is for reasoning models). */
static llmsvc_code state_items(req_t *r, const llmsvc_call_info *call, const llmsvc_message *m,
                               size_t i, jv *items, int *oom, llmsvc_error **err)
{
    jdoc *d = NULL;
    if (host->jdoc_parse(m->state, strlen(m->state), &d, NULL) != LLMSVC_OK ||
        host->jdoc_type(d, 0) != LLMSVC_JSON_ARRAY) {
        host->jdoc_free(d);
        *err = host->error_new(LLMSVC_E_TRANSFORM,
                               "the %s state of conversation turn %zu is not a list of output "
                               "items; it cannot be sent back",
                               PROTOCOL, i);
        return LLMSVC_E_TRANSFORM;
    }
    int reasons = (call->capabilities & LLMSVC_CAP_REASONING) != 0;
    for (int it = host->jdoc_first(d, 0); it >= 0; it = host->jdoc_next(d, it)) {
        if (!reasons && is(host->jdoc_get_str(d, it, "type"), "reasoning"))
            continue;
        size_t n;
        const char *text = host->jdoc_raw(d, it, &n);
        push(items, text ? host->jv_raw(r, text, n) : NULL, oom);
    }
    host->jdoc_free(d);
    return LLMSVC_OK;
}

/* input: the prompt as a string when it is the whole conversation, else a
 * list of items. *out is NULL when memory ran out. */
static llmsvc_code build_input(req_t *r, const llmsvc_call_info *call, jv **out,
                               llmsvc_error **err)
{
    int oom = 0;
    if (!HAS(call, n_messages)) { /* a core from before conversations */
        *out = str(r, call->prompt);
        return LLMSVC_OK;
    }
    if (call->n_messages == 1 && is(call->messages[0].role, "user") &&
        !call->messages[0].n_images) {
        *out = str(r, call->messages[0].content);
        return LLMSVC_OK;
    }
    jv *items = host->jv_array(r);
    for (size_t i = 0; i < call->n_messages; i++) {
        const llmsvc_message *m = &call->messages[i];
        if (m->tool_call_id) {
            jv *o = host->jv_object(r);
            put(o, "type", str(r, "function_call_output"), &oom);
            put(o, "call_id", str(r, m->tool_call_id), &oom);
            put(o, "output", str(r, m->content), &oom);
            push(items, o, &oom);
        } else if (is(m->role, "assistant") && m->state && is(m->state_protocol, PROTOCOL)) {
            llmsvc_code rc = state_items(r, call, m, i, items, &oom, err);
            if (rc != LLMSVC_OK)
                return rc;
        } else if (is(m->role, "assistant")) {
            /* state of another protocol is not for this provider: ignored */
            assistant_items(r, m, items, &oom);
        } else {
            push(items, message_item(r, m, &oom), &oom);
        }
    }
    *out = oom ? NULL : items;
    return LLMSVC_OK;
}

/* tools: the file_search tool of a vector store, then the function tools
 * (flat: {type, name, description, parameters, strict}). */
static void add_tools(req_t *r, const llmsvc_call_info *call, jv *body, int *oom)
{
    size_t n_tools = HAS(call, tools) ? call->n_tools : 0;
    if (!call->vector_store_id && !n_tools)
        return;
    jv *tools = host->jv_array(r);
    if (call->vector_store_id) {
        jv *fs = host->jv_object(r), *ids = host->jv_array(r);
        put(fs, "type", str(r, "file_search"), oom);
        push(ids, str(r, call->vector_store_id), oom);
        put(fs, "vector_store_ids", ids, oom);
        if (call->max_num_results > 0)
            put(fs, "max_num_results", host->jv_int(r, call->max_num_results), oom);
        push(tools, fs, oom);
    }
    const char *strict = host->call_option(call, "strict_tools");
    for (size_t i = 0; i < n_tools; i++) {
        const llmsvc_tool *t = &call->tools[i];
        jv *fn = host->jv_object(r);
        put(fn, "type", str(r, "function"), oom);
        put(fn, "name", str(r, t->name), oom);
        if (t->description)
            put(fn, "description", str(r, t->description), oom);
        put(fn, "parameters", raw(r, t->parameters ? t->parameters : "{\"type\":\"object\"}"),
            oom);
        put(fn, "strict", host->jv_bool(r, is(strict, "true")), oom);
        push(tools, fn, oom);
    }
    put(body, "tools", tools, oom);
}

/* include: file-search results with a vector store; encrypted reasoning when
 * nothing is stored (store: false) and the model reasons. */
static void add_include(req_t *r, const llmsvc_call_info *call, jv *body, int *oom)
{
    int results = call->vector_store_id != NULL;
    int encrypted = (call->capabilities & LLMSVC_CAP_REASONING) && store_off(call);
    if (!results && !encrypted)
        return;
    jv *include = host->jv_array(r);
    if (results)
        push(include, str(r, "file_search_call.results"), oom);
    if (encrypted)
        push(include, str(r, "reasoning.encrypted_content"), oom);
    put(body, "include", include, oom);
}

static void add_tool_choice(req_t *r, const llmsvc_call_info *call, jv *body, int *oom)
{
    if (!HAS(call, parallel_tool_calls))
        return;
    if (is(call->tool_choice, "tool") && call->tool_choice_name) {
        jv *tc = host->jv_object(r);
        put(tc, "type", str(r, "function"), oom);
        put(tc, "name", str(r, call->tool_choice_name), oom);
        put(body, "tool_choice", tc, oom);
    } else if (call->tool_choice) {
        put(body, "tool_choice", str(r, call->tool_choice), oom);
    }
    if (call->parallel_tool_calls >= 0)
        put(body, "parallel_tool_calls", host->jv_bool(r, call->parallel_tool_calls), oom);
}

/* text.format: {type: json_schema, name, schema, strict}, beside text.verbosity. */
static void add_format(req_t *r, const llmsvc_call_info *call, jv *body, int *oom)
{
    if (!HAS(call, response_format_strict) || !call->response_format_schema)
        return;
    jv *fmt = host->jv_object(r);
    put(fmt, "type", str(r, "json_schema"), oom);
    put(fmt, "name", str(r, call->response_format_name ? call->response_format_name : "response"),
        oom);
    put(fmt, "schema", raw(r, call->response_format_schema), oom);
    put(fmt, "strict", host->jv_bool(r, call->response_format_strict != 0), oom);
    if (host->jv_set_path(body, "text.format", fmt) != LLMSVC_OK)
        *oom = 1;
}

/* a then b into out (cap bytes), NUL-terminated; 0 when they do not fit.
 * (No snprintf on the path of every call: its machinery is large and cold.) */
static size_t join(char *out, size_t cap, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na + nb >= cap)
        return 0;
    memcpy(out, a, na);
    memcpy(out + na, b, nb + 1);
    return na + nb;
}

static llmsvc_code set_auth(const llmsvc_call_info *call, llmsvc_http_request *out,
                            llmsvc_error **err)
{
    char url[2048];
    if (!call->base_url || !join(url, sizeof url, call->base_url, "/responses")) {
        *err = host->error_new(LLMSVC_E_CONFIG, "provider '%s' has no usable base_url",
                               call->provider);
        return LLMSVC_E_CONFIG;
    }
    llmsvc_code rc = host->http_set_url(out, url);
    if (rc != LLMSVC_OK || !call->api_key)
        return rc;
    char auth[4096];
    size_t n = join(auth, sizeof auth, "Bearer ", call->api_key);
    if (!n) {
        *err = host->error_new(LLMSVC_E_CONFIG, "the API key of provider '%s' is too long",
                               call->provider);
        return LLMSVC_E_CONFIG;
    }
    rc = host->http_add_header(out, "Authorization", auth, 1);
    explicit_bzero(auth, n); /* the bytes written: not the whole 4 KB, every call */
    return rc;
}

static llmsvc_code build_request(void *state, const llmsvc_call_info *call, req_t *r,
                                 llmsvc_error **err)
{
    (void)state;
    llmsvc_code rc = set_auth(call, r, err);
    if (rc != LLMSVC_OK)
        return rc;
    int oom = 0;
    jv *body = host->jv_body(r);
    put(body, "model", str(r, call->model), &oom);
    jv *input = NULL;
    if ((rc = build_input(r, call, &input, err)) != LLMSVC_OK)
        return rc;
    put(body, "input", input, &oom);
    if (call->instructions)
        put(body, "instructions", str(r, call->instructions), &oom);
    for (size_t i = 0; i < call->n_params; i++) {
        const llmsvc_param *p = &call->params[i];
        const char *wire = p->wire ? p->wire : default_wire(p->name);
        if (!wire) {
            *err = host->error_new(LLMSVC_E_TRANSFORM,
                                   "the Responses API has no field for '%s'; give it a `wire` "
                                   "name in the spec of model '%s' or remove it there",
                                   p->name, call->model);
            return LLMSVC_E_TRANSFORM;
        }
        llmsvc_code set = host->jv_set_path(body, wire, host->jv_param(r, p));
        if (set == LLMSVC_E_INVALID_ARG) { /* an empty key: "a..b", ".a", "a." */
            *err = host->error_new(LLMSVC_E_TRANSFORM,
                                   "the `wire` name '%s' of parameter '%s' is not a dotted "
                                   "path of keys; fix it in the spec of model '%s'",
                                   wire, p->name, call->model);
            return LLMSVC_E_TRANSFORM;
        }
        oom |= set != LLMSVC_OK;
    }
    add_tools(r, call, body, &oom);
    add_include(r, call, body, &oom);
    add_tool_choice(r, call, body, &oom);
    add_format(r, call, body, &oom);
    if (HAS(call, stream) && call->stream)
        put(body, "stream", host->jv_bool(r, 1), &oom);
    if (oom)
        return LLMSVC_E_NOMEM;
    if (call->provider_options && (rc = host->jv_merge(body, call->provider_options)) != LLMSVC_OK)
        return rc;
    return LLMSVC_OK;
}

/* ================================================================ response */

/* A string field of an error object, or of the `error` object nested in it
 * (streamed error events come both ways: flat as documented, nested as sent). */
static const char *error_field(jdoc *d, int node, const char *key)
{
    const char *v = host->jdoc_get_str(d, node, key);
    if (v)
        return v;
    int nested = host->jdoc_get(d, node, "error");
    return host->jdoc_type(d, nested) == LLMSVC_JSON_OBJECT ? host->jdoc_get_str(d, nested, key)
                                                             : NULL;
}

/* An API error from an error object (the `error` of a body or a failed
 * response, or a streamed `error` event, whose own `type` is the event's). */
static llmsvc_code api_error(jdoc *d, int error, const char *fallback, llmsvc_error **err)
{
    const char *msg = error_field(d, error, "message");
    const char *code = error_field(d, error, "code");
    const char *type = host->jdoc_get_str(d, error, "type");
    if (is(type, "error")) {
        int nested = host->jdoc_get(d, error, "error");
        type = host->jdoc_get_str(d, nested, "type");
    }
    llmsvc_error *e = host->error_new(LLMSVC_E_API, "%s", msg && *msg ? msg : fallback);
    host->error_set_provider(e, type, code, error_field(d, error, "param"));
    if (is(code, "server_error") || is(code, "rate_limit_exceeded"))
        host->error_set_retryable(e, 1);
    *err = e;
    return LLMSVC_E_API;
}

/* Where the assistant turn goes: a response being built, or a stream. */
typedef struct emit_ops {
    llmsvc_code (*text)(void *to, const char *s, size_t n);
    llmsvc_code (*reasoning)(void *to, const char *s, size_t n);
    llmsvc_code (*call)(void *to, int index, const char *id, const char *name, const char *args);
} emit_ops;

static llmsvc_code resp_text(void *to, const char *s, size_t n)
{
    return host->resp_append_text(to, s, n);
}

static llmsvc_code resp_reasoning(void *to, const char *s, size_t n)
{
    return host->resp_append_reasoning(to, s, n);
}

static llmsvc_code resp_call(void *to, int index, const char *id, const char *name,
                             const char *args)
{
    (void)index;
    return host->resp_add_tool_call(to, id, name, args);
}

static const emit_ops to_response = {resp_text, resp_reasoning, resp_call};

static llmsvc_code sink_text(void *to, const char *s, size_t n)
{
    return host->stream_text(to, s, n);
}

static llmsvc_code sink_reasoning(void *to, const char *s, size_t n)
{
    return host->stream_reasoning(to, s, n);
}

static llmsvc_code sink_call(void *to, int index, const char *id, const char *name,
                             const char *args)
{
    llmsvc_code rc = host->stream_tool_start(to, index, id, name);
    if (rc == LLMSVC_OK && args && *args)
        rc = host->stream_tool_args(to, index, args, strlen(args));
    return rc == LLMSVC_OK ? host->stream_tool_end(to, index) : rc;
}

static const emit_ops to_stream = {sink_text, sink_reasoning, sink_call};

/* One pass over a response's `output` list. */
typedef struct walk {
    const emit_ops *ops;     /* NULL: emit no text, reasoning or calls */
    void *to;
    llmsvc_response *files;  /* NULL: skip file-search results */
    int refused;             /* a refusal part */
    int calls;               /* a function_call item */
    int stateful;            /* a reasoning or function_call item: the state to keep */
    int reasoning_seen;
} walk;

/* Reasoning parts are joined by a blank line; empty ones are skipped. */
static llmsvc_code reasoning_part(walk *w, jdoc *d, int part)
{
    size_t len = 0;
    const char *text = host->jdoc_str(d, host->jdoc_get(d, part, "text"), &len);
    if (!text || !len || !w->ops)
        return LLMSVC_OK;
    llmsvc_code rc;
    if (w->reasoning_seen && (rc = w->ops->reasoning(w->to, "\n\n", 2)) != LLMSVC_OK)
        return rc;
    w->reasoning_seen = 1;
    return w->ops->reasoning(w->to, text, len);
}

static llmsvc_code walk_reasoning(walk *w, jdoc *d, int item)
{
    static const char *const lists[] = {"summary", "content"};
    for (size_t k = 0; k < 2; k++) {
        int list = host->jdoc_get(d, item, lists[k]);
        if (host->jdoc_type(d, list) != LLMSVC_JSON_ARRAY)
            continue;
        for (int p = host->jdoc_first(d, list); p >= 0; p = host->jdoc_next(d, p)) {
            const char *type = host->jdoc_get_str(d, p, "type");
            if (!is(type, k == 0 ? "summary_text" : "reasoning_text"))
                continue;
            llmsvc_code rc = reasoning_part(w, d, p);
            if (rc != LLMSVC_OK)
                return rc;
        }
    }
    return LLMSVC_OK;
}

static llmsvc_code walk_message(walk *w, jdoc *d, int item)
{
    int content = host->jdoc_get(d, item, "content");
    if (host->jdoc_type(d, content) != LLMSVC_JSON_ARRAY)
        return LLMSVC_OK;
    for (int part = host->jdoc_first(d, content); part >= 0; part = host->jdoc_next(d, part)) {
        const char *type = host->jdoc_get_str(d, part, "type");
        size_t len = 0;
        const char *text = NULL;
        if (is(type, "output_text")) {
            text = host->jdoc_str(d, host->jdoc_get(d, part, "text"), &len);
        } else if (is(type, "refusal")) {
            text = host->jdoc_str(d, host->jdoc_get(d, part, "refusal"), &len);
            w->refused = 1;
        }
        if (text && len && w->ops) {
            llmsvc_code rc = w->ops->text(w->to, text, len);
            if (rc != LLMSVC_OK)
                return rc;
        }
    }
    return LLMSVC_OK;
}

static llmsvc_code walk_file_search(walk *w, jdoc *d, int item)
{
    int results = host->jdoc_get(d, item, "results");
    if (!w->files || host->jdoc_type(d, results) != LLMSVC_JSON_ARRAY)
        return LLMSVC_OK; /* null unless include asked for them */
    for (int r = host->jdoc_first(d, results); r >= 0; r = host->jdoc_next(d, r)) {
        llmsvc_code rc = host->resp_add_file_result(
            w->files, host->jdoc_get_str(d, r, "file_id"), host->jdoc_get_str(d, r, "filename"),
            host->jdoc_num(d, host->jdoc_get(d, r, "score"), 0.0),
            host->jdoc_get_str(d, r, "text"));
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

static llmsvc_code walk_output(walk *w, jdoc *d, int output)
{
    int index = 0;
    for (int item = host->jdoc_first(d, output); item >= 0;
         item = host->jdoc_next(d, item), index++) {
        const char *type = host->jdoc_get_str(d, item, "type");
        llmsvc_code rc = LLMSVC_OK;
        if (is(type, "message")) {
            rc = walk_message(w, d, item);
        } else if (is(type, "reasoning")) {
            w->stateful = 1;
            rc = walk_reasoning(w, d, item);
        } else if (is(type, "function_call")) {
            w->stateful = w->calls = 1;
            const char *id = host->jdoc_get_str(d, item, "call_id");
            if (!id)
                id = host->jdoc_get_str(d, item, "id");
            if (w->ops)
                rc = w->ops->call(w->to, index, id, host->jdoc_get_str(d, item, "name"),
                                  host->jdoc_get_str(d, item, "arguments"));
        } else if (is(type, "file_search_call")) {
            rc = walk_file_search(w, d, item);
        }
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

/* usage of a response object; 0 when it has none (counts stay unknown). */
static int read_usage(jdoc *d, int resp, llmsvc_usage *usage)
{
    int u = host->jdoc_get(d, resp, "usage");
    if (host->jdoc_type(d, u) != LLMSVC_JSON_OBJECT)
        return 0;
    int in = host->jdoc_get(d, u, "input_tokens_details"); /* -1 reads as the defaults */
    int out = host->jdoc_get(d, u, "output_tokens_details");
    usage->input = host->jdoc_get_int(d, u, "input_tokens", -1);
    usage->cached_input = host->jdoc_get_int(d, in, "cached_tokens", 0);
    usage->cache_write = host->jdoc_get_int(d, in, "cache_write_tokens", 0);
    usage->output = host->jdoc_get_int(d, u, "output_tokens", -1);
    usage->reasoning = host->jdoc_get_int(d, out, "reasoning_tokens", 0);
    usage->total = host->jdoc_get_int(d, u, "total_tokens", -1);
    return 1;
}

static const char *finish_reason(jdoc *d, int resp, const char *status, int refused, int calls)
{
    if (refused)
        return "refusal";
    if (is(status, "incomplete")) {
        const char *why = host->jdoc_get_str(d, resp, "incomplete_details.reason");
        if (is(why, "max_output_tokens"))
            return "length";
        return why && *why ? why : "incomplete";
    }
    return calls ? "tool_calls" : "stop";
}

/* failed and cancelled responses are errors. */
static llmsvc_code check_status(jdoc *d, int resp, const char *status, llmsvc_error **err)
{
    if (is(status, "failed"))
        return api_error(d, host->jdoc_get(d, resp, "error"), "the response failed", err);
    if (is(status, "cancelled")) {
        *err = host->error_new(LLMSVC_E_API, "the response was cancelled");
        return LLMSVC_E_API;
    }
    return LLMSVC_OK;
}

static llmsvc_code set_state(llmsvc_response *out, jdoc *d, int output)
{
    size_t len;
    const char *text = host->jdoc_raw(d, output, &len);
    return text ? host->resp_set_state(out, PROTOCOL, text, len) : LLMSVC_OK;
}

static llmsvc_code parse_ok(jdoc *d, llmsvc_response *out, llmsvc_error **err)
{
    const char *status = host->jdoc_get_str(d, 0, "status");
    llmsvc_code rc = check_status(d, 0, status, err);
    if (rc != LLMSVC_OK)
        return rc;
    if (is(status, "in_progress") || is(status, "queued")) {
        *err = host->error_new(LLMSVC_E_PROVIDER,
                               "the response is still %s (background mode is not supported)",
                               status);
        return LLMSVC_E_PROVIDER;
    }
    int output = host->jdoc_get(d, 0, "output");
    if (host->jdoc_type(d, output) != LLMSVC_JSON_ARRAY) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "the response has no output list");
        return LLMSVC_E_PROVIDER;
    }
    if ((rc = host->resp_set(out, LLMSVC_RESP_ID, host->jdoc_get_str(d, 0, "id"))) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_MODEL, host->jdoc_get_str(d, 0, "model"))) !=
            LLMSVC_OK)
        return rc;
    walk w = {&to_response, out, out, 0, 0, 0, 0};
    if ((rc = walk_output(&w, d, output)) != LLMSVC_OK)
        return rc;
    if (w.stateful && (rc = set_state(out, d, output)) != LLMSVC_OK)
        return rc;
    llmsvc_usage usage = LLMSVC_USAGE_INIT;
    if (read_usage(d, 0, &usage) && (rc = host->resp_set_usage(out, &usage)) != LLMSVC_OK)
        return rc;
    return host->resp_set(out, LLMSVC_RESP_FINISH_REASON,
                          finish_reason(d, 0, status, w.refused, w.calls));
}

static llmsvc_code parse_response(void *state, const llmsvc_call_info *call,
                                  const llmsvc_http_response *in, llmsvc_response *out,
                                  llmsvc_error **err)
{
    (void)state;
    (void)call;
    size_t len;
    const char *text = host->http_body(in, &len);
    int status = host->http_status(in);
    jdoc *d = NULL;
    llmsvc_code rc = host->jdoc_parse(text, len, &d, err);
    if (rc != LLMSVC_OK)
        return rc;
    if (host->jdoc_type(d, 0) != LLMSVC_JSON_OBJECT) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "the response body is not a JSON object");
        rc = LLMSVC_E_PROVIDER;
    } else if (status < 200 || status >= 300) {
        int error = host->jdoc_get(d, 0, "error");
        if (host->jdoc_type(d, error) == LLMSVC_JSON_OBJECT) {
            rc = api_error(d, error, "the provider gave no message", err);
        } else {
            *err = host->error_new(LLMSVC_E_PROVIDER, "an error answer without an error object");
            rc = LLMSVC_E_PROVIDER;
        }
    } else {
        rc = parse_ok(d, out, err);
    }
    host->jdoc_free(d);
    return rc;
}

/* ================================================================ streaming */

/* A content part that had deltas: its .done event and its item's
 * output_item.done must not repeat it. */
enum { PART_TEXT = 1, PART_SUMMARY = 2, PART_REASONING_TEXT = 3 };
typedef struct part_key {
    int kind, item, sub; /* kind, output_index, content/summary index */
} part_key;

typedef struct stream_call {
    int item;      /* output_index, or -1 when the events gave none */
    int index;     /* the index the sink knows it by */
    char *item_id; /* the item's id (fc_...), for events without output_index */
    int started, args_seen, ended;
} stream_call;

typedef struct done_item {
    int item;
    char *json;
    size_t len;
} done_item;

typedef struct stream_state {
    int done;    /* the end event came: whatever follows is ignored */
    int emitted; /* text, reasoning or a tool call went to the sink */
    int refused;
    int reasoning_seen;
    int created; /* response.created came: its id and model are in the response */
    part_key last_reasoning;
    part_key *parts;
    size_t n_parts, cap_parts;
    stream_call *calls;
    size_t n_calls, cap_calls;
    done_item *items; /* output_item.done items, by output_index */
    size_t n_items, cap_items;
} stream_state;

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    if (nc > SIZE_MAX / size)
        return -1;
    void *np = realloc(*p, nc * size);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static void stream_free(void *state, void *ss)
{
    (void)state;
    stream_state *s = ss;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_calls; i++)
        free(s->calls[i].item_id);
    for (size_t i = 0; i < s->n_items; i++)
        free(s->items[i].json);
    free(s->parts);
    free(s->calls);
    free(s->items);
    free(s);
}

static int same_part(part_key a, part_key b)
{
    return a.kind == b.kind && a.item == b.item && a.sub == b.sub;
}

static int part_seen(const stream_state *s, part_key k)
{
    for (size_t i = 0; i < s->n_parts; i++) {
        if (same_part(s->parts[i], k))
            return 1;
    }
    return 0;
}

static llmsvc_code mark_part(stream_state *s, part_key k)
{
    if (part_seen(s, k))
        return LLMSVC_OK;
    if (grow((void **)&s->parts, &s->cap_parts, s->n_parts, sizeof *s->parts) < 0)
        return LLMSVC_E_NOMEM;
    s->parts[s->n_parts++] = k;
    return LLMSVC_OK;
}

static int int_at(jdoc *d, int node, const char *key)
{
    int64_t v = host->jdoc_get_int(d, node, key, -1);
    return v >= 0 && v <= INT32_MAX ? (int)v : -1;
}

/* A piece of answer text (output_text or refusal). */
static llmsvc_code text_piece(stream_state *s, llmsvc_stream *sink, part_key k, const char *t,
                              size_t n)
{
    if (!t || !n)
        return LLMSVC_OK;
    if (mark_part(s, k) != LLMSVC_OK)
        return LLMSVC_E_NOMEM;
    s->emitted = 1;
    return host->stream_text(sink, t, n);
}

/* A piece of reasoning; a new part after another begins with a blank line,
 * as parse_response joins them. */
static llmsvc_code reasoning_piece(stream_state *s, llmsvc_stream *sink, part_key k,
                                   const char *t, size_t n)
{
    if (!t || !n)
        return LLMSVC_OK;
    if (mark_part(s, k) != LLMSVC_OK)
        return LLMSVC_E_NOMEM;
    llmsvc_code rc;
    if (s->reasoning_seen && !same_part(k, s->last_reasoning) &&
        (rc = host->stream_reasoning(sink, "\n\n", 2)) != LLMSVC_OK)
        return rc;
    s->reasoning_seen = s->emitted = 1;
    s->last_reasoning = k;
    return host->stream_reasoning(sink, t, n);
}

/* The part's whole text from a .done event, when no delta gave it. */
static llmsvc_code part_done(stream_state *s, llmsvc_stream *sink, part_key k, const char *t)
{
    if (!t || part_seen(s, k))
        return LLMSVC_OK;
    return k.kind == PART_TEXT ? text_piece(s, sink, k, t, strlen(t))
                               : reasoning_piece(s, sink, k, t, strlen(t));
}

static stream_call *find_call(stream_state *s, int item, const char *item_id)
{
    for (size_t i = 0; i < s->n_calls; i++) {
        stream_call *c = &s->calls[i];
        if (item >= 0 ? c->item == item : (item_id && is(c->item_id, item_id)))
            return c;
    }
    return NULL;
}

static stream_call *get_call(stream_state *s, int item, const char *item_id)
{
    stream_call *c = find_call(s, item, item_id);
    if (c)
        return c;
    if (grow((void **)&s->calls, &s->cap_calls, s->n_calls, sizeof *s->calls) < 0)
        return NULL;
    c = &s->calls[s->n_calls];
    memset(c, 0, sizeof *c);
    c->item = item;
    c->index = item >= 0 ? item : 1000000 + (int)s->n_calls;
    if (item_id && !(c->item_id = strdup(item_id)))
        return NULL;
    s->n_calls++;
    return c;
}

static llmsvc_code call_start(stream_state *s, llmsvc_stream *sink, stream_call *c, jdoc *d,
                              int fc)
{
    if (c->started)
        return LLMSVC_OK;
    const char *id = host->jdoc_get_str(d, fc, "call_id");
    if (!id)
        id = host->jdoc_get_str(d, fc, "id");
    c->started = s->emitted = 1;
    return host->stream_tool_start(sink, c->index, id, host->jdoc_get_str(d, fc, "name"));
}

static llmsvc_code call_args(stream_state *s, llmsvc_stream *sink, stream_call *c, const char *t,
                             int whole)
{
    if (!t || !*t || (whole && c->args_seen))
        return LLMSVC_OK;
    c->args_seen = s->emitted = 1;
    return host->stream_tool_args(sink, c->index, t, strlen(t));
}

static llmsvc_code on_item_added(stream_state *s, llmsvc_stream *sink, jdoc *d)
{
    int item = host->jdoc_get(d, 0, "item");
    if (!is(host->jdoc_get_str(d, item, "type"), "function_call"))
        return LLMSVC_OK;
    stream_call *c = get_call(s, int_at(d, 0, "output_index"), host->jdoc_get_str(d, item, "id"));
    return c ? call_start(s, sink, c, d, item) : LLMSVC_E_NOMEM;
}

/* Keeps the item (for the state, should response.completed lack its output)
 * and gives whatever of it no delta gave. */
static llmsvc_code on_item_done(stream_state *s, llmsvc_stream *sink, jdoc *d)
{
    int item = host->jdoc_get(d, 0, "item"), oi = int_at(d, 0, "output_index");
    size_t len;
    const char *json = host->jdoc_raw(d, item, &len);
    if (host->jdoc_type(d, item) != LLMSVC_JSON_OBJECT || !json)
        return LLMSVC_OK;
    if (grow((void **)&s->items, &s->cap_items, s->n_items, sizeof *s->items) < 0)
        return LLMSVC_E_NOMEM;
    size_t at = s->n_items;
    while (at > 0 && s->items[at - 1].item > oi)
        at--;
    char *copy = malloc(len + 1);
    if (!copy)
        return LLMSVC_E_NOMEM;
    memcpy(copy, json, len);
    copy[len] = '\0';
    memmove(&s->items[at + 1], &s->items[at], (s->n_items - at) * sizeof *s->items);
    s->items[at] = (done_item){oi, copy, len};
    s->n_items++;

    const char *type = host->jdoc_get_str(d, item, "type");
    llmsvc_code rc = LLMSVC_OK;
    if (is(type, "function_call")) {
        stream_call *c = get_call(s, oi, host->jdoc_get_str(d, item, "id"));
        if (!c)
            return LLMSVC_E_NOMEM;
        if ((rc = call_start(s, sink, c, d, item)) != LLMSVC_OK ||
            (rc = call_args(s, sink, c, host->jdoc_get_str(d, item, "arguments"), 1)) !=
                LLMSVC_OK)
            return rc;
        c->ended = 1;
        return host->stream_tool_end(sink, c->index);
    }
    int kinds[2] = {0, 0};
    const char *lists[2] = {NULL, NULL};
    if (is(type, "message")) {
        lists[0] = "content";
        kinds[0] = PART_TEXT;
    } else if (is(type, "reasoning")) {
        lists[0] = "summary";
        kinds[0] = PART_SUMMARY;
        lists[1] = "content";
        kinds[1] = PART_REASONING_TEXT;
    }
    for (int k = 0; k < 2 && lists[k]; k++) {
        int list = host->jdoc_get(d, item, lists[k]), j = 0;
        if (host->jdoc_type(d, list) != LLMSVC_JSON_ARRAY)
            continue;
        for (int p = host->jdoc_first(d, list); p >= 0; p = host->jdoc_next(d, p), j++) {
            const char *pt = host->jdoc_get_str(d, p, "type");
            const char *t = NULL;
            if (is(pt, "output_text") || is(pt, "summary_text") || is(pt, "reasoning_text")) {
                t = host->jdoc_get_str(d, p, "text");
            } else if (is(pt, "refusal")) {
                s->refused = 1;
                t = host->jdoc_get_str(d, p, "refusal");
            }
            if ((rc = part_done(s, sink, (part_key){kinds[k], oi, j}, t)) != LLMSVC_OK)
                return rc;
        }
    }
    return LLMSVC_OK;
}

static llmsvc_code set_id_model(llmsvc_stream *sink, jdoc *d, int resp)
{
    llmsvc_response *out = host->stream_response(sink);
    const char *id = host->jdoc_get_str(d, resp, "id");
    const char *model = host->jdoc_get_str(d, resp, "model");
    llmsvc_code rc = LLMSVC_OK;
    if (id && *id)
        rc = host->resp_set(out, LLMSVC_RESP_ID, id);
    if (rc == LLMSVC_OK && model && *model)
        rc = host->resp_set(out, LLMSVC_RESP_MODEL, model);
    return rc;
}

/* The output items of a response.completed without its output list: the
 * output_item.done items, as one JSON list (malloc'd). */
static char *items_list(const stream_state *s, size_t *len)
{
    size_t n = 2;
    for (size_t i = 0; i < s->n_items; i++)
        n += s->items[i].len + 1;
    char *text = malloc(n + 1), *p = text;
    if (!text)
        return NULL;
    *p++ = '[';
    for (size_t i = 0; i < s->n_items; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, s->items[i].json, s->items[i].len);
        p += s->items[i].len;
    }
    *p++ = ']';
    *p = '\0';
    *len = (size_t)(p - text);
    return text;
}

/* response.completed / response.incomplete: the end of the stream. */
static llmsvc_code on_end(stream_state *s, llmsvc_stream *sink, jdoc *d, const char *type,
                          llmsvc_error **err)
{
    int resp = host->jdoc_get(d, 0, "response");
    const char *status = host->jdoc_get_str(d, resp, "status");
    if (!status)
        status = is(type, "response.incomplete") ? "incomplete" : "completed";
    llmsvc_code rc = check_status(d, resp, status, err);
    if (rc != LLMSVC_OK || (rc = set_id_model(sink, d, resp)) != LLMSVC_OK)
        return rc;
    llmsvc_response *out = host->stream_response(sink);
    jdoc *od = d, *own = NULL;
    char *text = NULL;
    int output = host->jdoc_get(d, resp, "output");
    if ((host->jdoc_type(d, output) != LLMSVC_JSON_ARRAY || !host->jdoc_count(d, output)) &&
        s->n_items) {
        size_t len = 0;
        if (!(text = items_list(s, &len)))
            return LLMSVC_E_NOMEM;
        if ((rc = host->jdoc_parse(text, len, &own, err)) != LLMSVC_OK) {
            free(text);
            return rc;
        }
        od = own;
        output = 0;
    }
    /* a server that sent only the final response: its content goes out now */
    walk w = {s->emitted ? NULL : &to_stream, sink, out, 0, 0, 0, 0};
    if (host->jdoc_type(od, output) == LLMSVC_JSON_ARRAY)
        rc = walk_output(&w, od, output);
    if (rc == LLMSVC_OK && w.stateful)
        rc = set_state(out, od, output);
    host->jdoc_free(own);
    free(text);
    for (size_t i = 0; rc == LLMSVC_OK && i < s->n_calls; i++) {
        if (!s->calls[i].ended) {
            s->calls[i].ended = 1;
            rc = host->stream_tool_end(sink, s->calls[i].index);
        }
    }
    if (rc != LLMSVC_OK)
        return rc;
    llmsvc_usage usage = LLMSVC_USAGE_INIT;
    if (read_usage(d, resp, &usage) && (rc = host->stream_usage(sink, &usage)) != LLMSVC_OK)
        return rc;
    s->done = 1;
    return host->stream_done(sink, finish_reason(d, resp, status, s->refused || w.refused,
                                                 s->n_calls > 0 || w.calls));
}

static llmsvc_code on_event(stream_state *s, llmsvc_stream *sink, jdoc *d, const char *type,
                            llmsvc_error **err)
{
    int oi = int_at(d, 0, "output_index");
    size_t n = 0;
    const char *delta = host->jdoc_str(d, host->jdoc_get(d, 0, "delta"), &n);
    if (is(type, "response.output_text.delta"))
        return text_piece(s, sink, (part_key){PART_TEXT, oi, int_at(d, 0, "content_index")},
                          delta, n);
    if (is(type, "response.refusal.delta")) {
        s->refused = 1;
        return text_piece(s, sink, (part_key){PART_TEXT, oi, int_at(d, 0, "content_index")},
                          delta, n);
    }
    if (is(type, "response.reasoning_summary_text.delta"))
        return reasoning_piece(s, sink,
                               (part_key){PART_SUMMARY, oi, int_at(d, 0, "summary_index")}, delta,
                               n);
    if (is(type, "response.reasoning_text.delta"))
        return reasoning_piece(
            s, sink, (part_key){PART_REASONING_TEXT, oi, int_at(d, 0, "content_index")}, delta, n);
    if (is(type, "response.function_call_arguments.delta")) {
        stream_call *c = get_call(s, oi, host->jdoc_get_str(d, 0, "item_id"));
        return c ? call_args(s, sink, c, delta, 0) : LLMSVC_E_NOMEM;
    }
    if (is(type, "response.output_text.done"))
        return part_done(s, sink, (part_key){PART_TEXT, oi, int_at(d, 0, "content_index")},
                         host->jdoc_get_str(d, 0, "text"));
    if (is(type, "response.refusal.done")) {
        s->refused = 1;
        return part_done(s, sink, (part_key){PART_TEXT, oi, int_at(d, 0, "content_index")},
                         host->jdoc_get_str(d, 0, "refusal"));
    }
    if (is(type, "response.reasoning_summary_text.done"))
        return part_done(s, sink, (part_key){PART_SUMMARY, oi, int_at(d, 0, "summary_index")},
                         host->jdoc_get_str(d, 0, "text"));
    if (is(type, "response.reasoning_text.done"))
        return part_done(s, sink,
                         (part_key){PART_REASONING_TEXT, oi, int_at(d, 0, "content_index")},
                         host->jdoc_get_str(d, 0, "text"));
    if (is(type, "response.function_call_arguments.done")) {
        stream_call *c = get_call(s, oi, host->jdoc_get_str(d, 0, "item_id"));
        return c ? call_args(s, sink, c, host->jdoc_get_str(d, 0, "arguments"), 1)
                 : LLMSVC_E_NOMEM;
    }
    if (is(type, "response.output_item.added"))
        return on_item_added(s, sink, d);
    if (is(type, "response.output_item.done"))
        return on_item_done(s, sink, d);
    if (is(type, "response.created") || is(type, "response.in_progress") ||
        is(type, "response.queued"))
        return set_id_model(sink, d, host->jdoc_get(d, 0, "response"));
    if (is(type, "response.completed") || is(type, "response.incomplete"))
        return on_end(s, sink, d, type, err);
    if (is(type, "response.failed")) {
        s->done = 1;
        return api_error(d, host->jdoc_get(d, host->jdoc_get(d, 0, "response"), "error"),
                         "the response failed", err);
    }
    if (is(type, "error")) {
        s->done = 1;
        return api_error(d, 0, "the stream reported an error without a message", err);
    }
    /* content_part.*, file_search_call.*, annotations, keepalive, and event
     * types this plugin does not know: nothing to give */
    return LLMSVC_OK;
}

static llmsvc_code parse_event(void *state, const llmsvc_call_info *call,
                               const llmsvc_sse_event *ev, llmsvc_stream *sink,
                               void **stream_state_p, llmsvc_error **err)
{
    (void)state;
    (void)call;
    stream_state *s = *stream_state_p;
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return LLMSVC_E_NOMEM;
        *stream_state_p = s;
    }
    /* no sentinel is sent; a gateway's "[DONE]" (or anything after the end) is ignored */
    if (s->done || !ev->data_len || (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6)))
        return LLMSVC_OK;
    /* events that carry nothing read here, known by their SSE name before any
     * JSON is parsed: a response.in_progress repeats response.created's id and
     * model; an added content part is empty */
    if ((s->created && is(ev->event, "response.in_progress")) ||
        is(ev->event, "response.content_part.added") || is(ev->event, "keepalive"))
        return LLMSVC_OK;
    if (is(ev->event, "response.created"))
        s->created = 1;
    jdoc *d = NULL;
    llmsvc_code rc = host->jdoc_parse(ev->data, ev->data_len, &d, err);
    if (rc != LLMSVC_OK)
        return rc;
    if (host->jdoc_type(d, 0) != LLMSVC_JSON_OBJECT) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "a stream event ('%s') is not a JSON object",
                               ev->event && *ev->event ? ev->event : "message");
        rc = LLMSVC_E_PROVIDER;
    } else {
        const char *type = host->jdoc_get_str(d, 0, "type");
        rc = on_event(s, sink, d, type ? type : ev->event, err);
    }
    host->jdoc_free(d);
    return rc;
}

static const llmsvc_api_ops ops = {
    .size = sizeof(llmsvc_api_ops),
    .name = PROTOCOL,
    .build_request = build_request,
    .parse_response = parse_response,
    .parse_event = parse_event,
    .stream_free = stream_free,
};

LLMSVC_PLUGIN_DEFINE_API("openai-responses", "1.1.0", "OpenAI Responses API (POST /responses)",
                         ops, host);
