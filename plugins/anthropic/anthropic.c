/* anthropic-messages — the Anthropic Messages API (POST {base_url}/messages).
 *
 * Request: headers x-api-key (secret) and anthropic-version (the spec option
 * `anthropic_version`, default 2023-06-01); model; max_tokens (required by the
 * API: the spec's default fills it); system from the instructions and every
 * system/developer turn; messages (user and assistant turns, images as image
 * blocks, tool results as tool_result blocks of one user turn, assistant tool
 * calls as tool_use blocks, and an assistant turn's own provider state sent
 * back byte for byte as its content); temperature, top_p, top_k, stop →
 * stop_sequences; reasoning_effort → thinking: a spec budget gives
 * {type: enabled, budget_tokens}, no budget gives {type: adaptive} with
 * output_config.effort; tools, tool_choice (required → any), parallel tool
 * calls off → disable_parallel_tool_use; structured output →
 * output_config.format; stream; provider_options merged last.
 *
 * Response: the text of every text block, the thinking of every thinking block
 * as reasoning, tool_use blocks as tool calls (the input object's JSON text,
 * without insignificant whitespace, so a streamed and a whole answer agree),
 * usage (input = input + cache reads + cache writes), stop_reason mapped to
 * llmsvc's finish reasons. When the content holds anything but text and
 * tool_use blocks (thinking with its signature, redacted_thinking, server tool
 * blocks), the whole content array is the provider state.
 *
 * Streaming: message_start, content_block_start/delta/stop, message_delta,
 * message_stop, ping and error events; the state is assembled from them.
 *
 * docs/protocols/anthropic-messages.md has the tables.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmsvc/plugin.h"

#define PROTOCOL "anthropic-messages"
#define DEFAULT_VERSION "2023-06-01"
#define MIN_BUDGET 1024 /* the API's least budget_tokens */

static const llmsvc_host *host;

typedef llmsvc_jdoc jdoc;

static int is(const char *s, const char *lit)
{
    return s && strcmp(s, lit) == 0;
}

/* An error with a formatted message (the host's error_new takes no va_list). */
static llmsvc_code fail(llmsvc_error **err, llmsvc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static llmsvc_code fail(llmsvc_error **err, llmsvc_code code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *err = host->error_new(code, "%s", msg);
    return code;
}

/* ---- a growable byte buffer (the plugin includes nothing of the core) ---- */

typedef struct sbuf {
    char *data;
    size_t len, cap;
} sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            if (cap > ((size_t)-1) / 2)
                return -1;
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static const char *sbuf_str(const sbuf *b)
{
    return b->data ? b->data : "";
}

static void sbuf_free(sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* JSON text without the whitespace outside strings, fed in pieces: the
 * arguments of a tool call read the same whether they came whole (the input
 * object of a tool_use block) or as input_json_delta pieces. */
typedef struct minify {
    int in_str, esc;
} minify;

static int minify_add(minify *m, sbuf *out, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (m->in_str) {
            if (m->esc)
                m->esc = 0;
            else if (c == '\\')
                m->esc = 1;
            else if (c == '"')
                m->in_str = 0;
            continue;
        }
        if (c == '"') {
            m->in_str = 1;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (sbuf_add(out, s + start, i - start) < 0)
                return -1;
            start = i + 1;
        }
    }
    return sbuf_add(out, s + start, n - start);
}

/* ================================================================ request */

/* The body field a parameter goes to, unless the spec gives a `wire`. */
static const char *default_wire(const char *name)
{
    static const char *const map[][2] = {
        {"max_tokens", "max_tokens"}, {"temperature", "temperature"}, {"top_p", "top_p"},
        {"top_k", "top_k"},           {"stop", "stop_sequences"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (!strcmp(map[i][0], name))
            return map[i][1];
    }
    return NULL;
}

static json_object *text_block(const char *text)
{
    json_object *b = json_object_new_object();
    if (!b)
        return NULL;
    json_object_object_add(b, "type", json_object_new_string("text"));
    json_object_object_add(b, "text", json_object_new_string(text ? text : ""));
    return b;
}

/* An image block: a data: URL becomes a base64 source, anything else a URL one. */
static json_object *image_block(const char *url)
{
    json_object *b = json_object_new_object(), *src = json_object_new_object();
    if (!b || !src) {
        json_object_put(b);
        json_object_put(src);
        return NULL;
    }
    const char *semi = !strncmp(url, "data:", 5) ? strstr(url, ";base64,") : NULL;
    if (semi && semi > url + 5) {
        json_object_object_add(src, "type", json_object_new_string("base64"));
        json_object_object_add(src, "media_type",
                               json_object_new_string_len(url + 5, (int)(semi - (url + 5))));
        json_object_object_add(src, "data", json_object_new_string(semi + 8));
    } else {
        json_object_object_add(src, "type", json_object_new_string("url"));
        json_object_object_add(src, "url", json_object_new_string(url));
    }
    json_object_object_add(b, "type", json_object_new_string("image"));
    json_object_object_add(b, "source", src);
    return b;
}

/* Whether text is exactly one JSON value of the given type (json_type_array,
 * json_type_object), whitespace around it aside. */
static int json_text_is(const char *text, size_t len, json_type want)
{
    if (len > (size_t)INT32_MAX)
        return 0;
    json_tokener *tok = json_tokener_new_ex(512); /* deep schemas and arguments */
    if (!tok)
        return 0;
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    int ok = o && json_tokener_get_error(tok) == json_tokener_success &&
             json_object_is_type(o, want);
    for (size_t i = ok ? json_tokener_get_parse_end(tok) : len; i < len; i++)
        ok &= text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r';
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

/* That text as a value that serializes as exactly it, or NULL when it is not
 * one JSON value of the type. */
static json_object *raw_of(const char *text, json_type want)
{
    size_t len = strlen(text);
    return json_text_is(text, len, want) ? host->json_raw(text, len) : NULL;
}

/* The content of an assistant turn rebuilt from its text and tool calls. */
static llmsvc_code assistant_content(const llmsvc_message *m, json_object **out,
                                     llmsvc_error **err)
{
    if (!m->n_tool_calls) {
        *out = json_object_new_string(m->content ? m->content : "");
        return *out ? LLMSVC_OK : LLMSVC_E_NOMEM;
    }
    json_object *blocks = json_object_new_array();
    if (!blocks)
        return LLMSVC_E_NOMEM;
    if (m->content && *m->content)
        json_object_array_add(blocks, text_block(m->content));
    for (size_t i = 0; i < m->n_tool_calls; i++) {
        const llmsvc_tool_call *c = &m->tool_calls[i];
        const char *args = c->arguments && *c->arguments ? c->arguments : "{}";
        json_object *input = raw_of(args, json_type_object);
        if (!input) {
            json_object_put(blocks);
            return fail(err, LLMSVC_E_TRANSFORM,
                        "the arguments of tool call '%s' (%s) are not a JSON object; the "
                        "Messages API sends them as a tool_use block's input object",
                        c->id ? c->id : "", c->name ? c->name : "");
        }
        json_object *b = json_object_new_object();
        json_object_object_add(b, "type", json_object_new_string("tool_use"));
        json_object_object_add(b, "id", json_object_new_string(c->id ? c->id : ""));
        json_object_object_add(b, "name", json_object_new_string(c->name ? c->name : ""));
        json_object_object_add(b, "input", input);
        json_object_array_add(blocks, b);
    }
    *out = blocks;
    return LLMSVC_OK;
}

/* The user content of a turn: its text as a string, or blocks (image blocks
 * first, then the text: Anthropic's recommended order) when it carries images
 * or as_blocks asks for them. An empty text makes no block. */
static json_object *user_content(const llmsvc_message *m, int as_blocks)
{
    if (!m->n_images && !as_blocks)
        return json_object_new_string(m->content ? m->content : "");
    json_object *blocks = json_object_new_array();
    for (size_t j = 0; blocks && j < m->n_images; j++)
        json_object_array_add(blocks, image_block(m->images[j]));
    if (blocks && m->content && *m->content)
        json_object_array_add(blocks, text_block(m->content));
    return blocks;
}

static json_object *new_turn(const char *role, json_object *content)
{
    json_object *t = json_object_new_object();
    if (!t) {
        json_object_put(content);
        return NULL;
    }
    json_object_object_add(t, "role", json_object_new_string(role));
    json_object_object_add(t, "content", content);
    return t;
}

/* messages and system. Tool results go as tool_result blocks of one user turn
 * (consecutive ones share it; a user turn right after them joins it as more
 * blocks); system and developer turns join the system prompt. */
static llmsvc_code build_conversation(const llmsvc_call_info *call, json_object *body,
                                      llmsvc_error **err)
{
    json_object *msgs = json_object_new_array(), *system = json_object_new_array();
    if (!msgs || !system) {
        json_object_put(msgs);
        json_object_put(system);
        return LLMSVC_E_NOMEM;
    }
    if (call->instructions && *call->instructions)
        json_object_array_add(system, text_block(call->instructions));
    json_object *results = NULL; /* the content of the user turn holding tool results */
    llmsvc_code rc = LLMSVC_OK;
    for (size_t i = 0; i < call->n_messages && rc == LLMSVC_OK; i++) {
        const llmsvc_message *m = &call->messages[i];
        json_object *turn = NULL;
        if (m->tool_call_id) {
            json_object *b = json_object_new_object();
            json_object_object_add(b, "type", json_object_new_string("tool_result"));
            json_object_object_add(b, "tool_use_id", json_object_new_string(m->tool_call_id));
            if (m->content && *m->content)
                json_object_object_add(b, "content", json_object_new_string(m->content));
            if (!results) {
                results = json_object_new_array();
                turn = new_turn("user", results);
            }
            json_object_array_add(results, b);
        } else if (is(m->role, "system") || is(m->role, "developer")) {
            if (m->content && *m->content)
                json_object_array_add(system, text_block(m->content));
        } else if (is(m->role, "assistant")) {
            results = NULL;
            json_object *content = NULL;
            if (is(m->state_protocol, PROTOCOL) && m->state) {
                if (!(content = raw_of(m->state, json_type_array)))
                    rc = fail(err, LLMSVC_E_TRANSFORM,
                              "the provider state of assistant turn %zu is not the JSON array "
                              "of content blocks this protocol keeps; send the turn without it",
                              i + 1);
            } else {
                rc = assistant_content(m, &content, err);
            }
            if (rc == LLMSVC_OK)
                turn = new_turn("assistant", content);
        } else if (results) {
            /* a user turn right after tool results: more blocks of that turn */
            json_object *more = user_content(m, 1);
            for (size_t k = 0; more && k < json_object_array_length(more); k++)
                json_object_array_add(results,
                                      json_object_get(json_object_array_get_idx(more, k)));
            json_object_put(more);
            results = NULL;
        } else {
            turn = new_turn("user", user_content(m, 0));
        }
        if (turn)
            json_object_array_add(msgs, turn);
    }
    if (rc != LLMSVC_OK) {
        json_object_put(msgs);
        json_object_put(system);
        return rc;
    }
    json_object_object_add(body, "messages", msgs);
    size_t n = json_object_array_length(system);
    if (n == 1) {
        /* one piece: the plain string form */
        json_object *text = json_object_object_get(json_object_array_get_idx(system, 0), "text");
        json_object_object_add(body, "system", json_object_get(text));
        json_object_put(system);
    } else if (n > 1) {
        json_object_object_add(body, "system", system);
    } else {
        json_object_put(system);
    }
    return LLMSVC_OK;
}

static llmsvc_code build_tools(const llmsvc_call_info *call, json_object *body)
{
    if (!call->n_tools)
        return LLMSVC_OK;
    json_object *tools = json_object_new_array();
    if (!tools)
        return LLMSVC_E_NOMEM;
    for (size_t i = 0; i < call->n_tools; i++) {
        const llmsvc_tool *t = &call->tools[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(t->name));
        if (t->description)
            json_object_object_add(o, "description", json_object_new_string(t->description));
        const char *schema = t->parameters ? t->parameters : "{\"type\":\"object\"}";
        json_object_object_add(o, "input_schema", host->json_raw(schema, strlen(schema)));
        json_object_array_add(tools, o);
    }
    json_object_object_add(body, "tools", tools);

    const char *tc = call->tool_choice;
    const char *type = !tc || is(tc, "auto") ? "auto"
                       : is(tc, "required")  ? "any"
                       : is(tc, "tool")      ? "tool"
                                             : tc; /* "none" */
    int no_parallel = call->parallel_tool_calls == 0 && !is(type, "none");
    if (!tc && !no_parallel)
        return LLMSVC_OK; /* the API's default: auto, parallel allowed */
    json_object *choice = json_object_new_object();
    if (!choice)
        return LLMSVC_E_NOMEM;
    json_object_object_add(choice, "type", json_object_new_string(type));
    if (is(type, "tool")) {
        const char *name = call->tool_choice_name ? call->tool_choice_name : "";
        json_object_object_add(choice, "name", json_object_new_string(name));
    }
    if (no_parallel)
        json_object_object_add(choice, "disable_parallel_tool_use", json_object_new_boolean(1));
    json_object_object_add(body, "tool_choice", choice);
    return LLMSVC_OK;
}

/* reasoning_effort → thinking. With a spec budget for the value: manual
 * extended thinking; without one: adaptive thinking and output_config.effort;
 * "none" or a budget of 0: no thinking at all. A spec `wire` takes the value
 * as is instead. */
static llmsvc_code build_thinking(const llmsvc_call_info *call, const llmsvc_param *effort,
                                  json_object *body, llmsvc_error **err)
{
    llmsvc_code rc;
    if (effort->wire)
        return host->json_set_path(body, effort->wire, host->param_to_json(effort));
    if (is(effort->string, "none") || effort->budget == 0)
        return LLMSVC_OK;
    const char *display = host->call_option(call, "thinking_display");
    json_object *thinking = json_object_new_object();
    if (!thinking)
        return LLMSVC_E_NOMEM;
    if (effort->budget > 0) {
        const llmsvc_param *max = host->call_param(call, "max_tokens");
        if (effort->budget < MIN_BUDGET) {
            json_object_put(thinking);
            return fail(err, LLMSVC_E_TRANSFORM,
                        "the spec of model '%s' gives reasoning effort '%s' a thinking budget of "
                        "%ld tokens; the Messages API takes at least %d",
                        call->model, effort->string, effort->budget, MIN_BUDGET);
        }
        if (max && max->number <= (double)effort->budget) {
            json_object_put(thinking);
            return fail(err, LLMSVC_E_VALIDATION,
                        "reasoning effort '%s' of model '%s' thinks with a budget of %ld tokens, "
                        "which must be below max_tokens (%.0f); raise max_tokens above %ld or "
                        "lower the effort",
                        effort->string, call->model, effort->budget, max->number, effort->budget);
        }
        json_object_object_add(thinking, "type", json_object_new_string("enabled"));
        json_object_object_add(thinking, "budget_tokens", json_object_new_int64(effort->budget));
    } else {
        json_object_object_add(thinking, "type", json_object_new_string("adaptive"));
        if ((rc = host->json_set_path(body, "output_config.effort",
                                      json_object_new_string(effort->string))) != LLMSVC_OK) {
            json_object_put(thinking);
            return rc;
        }
    }
    if (display)
        json_object_object_add(thinking, "display", json_object_new_string(display));
    json_object_object_add(body, "thinking", thinking);
    return LLMSVC_OK;
}

static llmsvc_code check_options(const llmsvc_call_info *call, llmsvc_error **err)
{
    const char *v = host->call_option(call, "anthropic_version");
    if (v && (!*v || strpbrk(v, "\r\n")))
        return fail(err, LLMSVC_E_CONFIG,
                    "option anthropic_version of provider '%s' must be a version date such as "
                    "%s",
                    call->provider, DEFAULT_VERSION);
    const char *d = host->call_option(call, "thinking_display");
    if (d && !is(d, "summarized") && !is(d, "omitted"))
        return fail(err, LLMSVC_E_CONFIG,
                    "option thinking_display of provider '%s' is '%s'; it takes summarized or "
                    "omitted",
                    call->provider, d);
    return LLMSVC_OK;
}

static llmsvc_code build_body(const llmsvc_call_info *call, json_object *body, llmsvc_error **err)
{
    llmsvc_code rc;
    json_object_object_add(body, "model", json_object_new_string(call->model));
    const llmsvc_param *effort = NULL;
    int have_max = 0;
    for (size_t i = 0; i < call->n_params; i++) {
        const llmsvc_param *p = &call->params[i];
        if (is(p->name, "reasoning_effort")) {
            effort = p;
            continue;
        }
        const char *wire = p->wire ? p->wire : default_wire(p->name);
        if (!wire)
            return fail(err, LLMSVC_E_TRANSFORM,
                        "the Messages API has no field for '%s'; give it a `wire` name in the "
                        "spec of model '%s' or remove it there",
                        p->name, call->model);
        have_max |= is(p->name, "max_tokens");
        if ((rc = host->json_set_path(body, wire, host->param_to_json(p))) != LLMSVC_OK)
            return rc;
    }
    if (!have_max)
        return fail(err, LLMSVC_E_TRANSFORM,
                    "the Messages API requires max_tokens: set it in the request, or give "
                    "max_tokens a default in the spec of model '%s'",
                    call->model);
    if ((rc = build_conversation(call, body, err)) != LLMSVC_OK)
        return rc;
    if (effort && (rc = build_thinking(call, effort, body, err)) != LLMSVC_OK)
        return rc;
    if ((rc = build_tools(call, body)) != LLMSVC_OK)
        return rc;
    if (call->response_format_schema) {
        json_object *fmt = json_object_new_object();
        if (!fmt)
            return LLMSVC_E_NOMEM;
        json_object_object_add(fmt, "type", json_object_new_string("json_schema"));
        json_object_object_add(fmt, "schema",
                               host->json_raw(call->response_format_schema,
                                              strlen(call->response_format_schema)));
        if ((rc = host->json_set_path(body, "output_config.format", fmt)) != LLMSVC_OK)
            return rc;
    }
    if (call->stream)
        json_object_object_add(body, "stream", json_object_new_boolean(1));
    if (call->provider_options &&
        (rc = host->json_merge(body, call->provider_options)) != LLMSVC_OK)
        return rc;
    return LLMSVC_OK;
}

static llmsvc_code build_request(void *state, const llmsvc_call_info *call,
                                 llmsvc_http_request *out, llmsvc_error **err)
{
    (void)state;
    llmsvc_code rc;
    if (call->size < offsetof(llmsvc_call_info, stream) + sizeof call->stream)
        return fail(err, LLMSVC_E_CONFIG, "the core's call view is older than this plugin");
    if ((rc = check_options(call, err)) != LLMSVC_OK)
        return rc;
    char url[2048];
    int n = snprintf(url, sizeof url, "%s/messages", call->base_url ? call->base_url : "");
    if (!call->base_url || n < 0 || (size_t)n >= sizeof url)
        return fail(err, LLMSVC_E_CONFIG, "provider '%s' has no usable base_url", call->provider);
    if ((rc = host->http_set_url(out, url)) != LLMSVC_OK)
        return rc;
    if (call->api_key && (rc = host->http_add_header(out, "x-api-key", call->api_key, 1)) !=
                             LLMSVC_OK)
        return rc;
    const char *version = host->call_option(call, "anthropic_version");
    if ((rc = host->http_add_header(out, "anthropic-version", version ? version : DEFAULT_VERSION,
                                    0)) != LLMSVC_OK)
        return rc;
    json_object *body = json_object_new_object();
    if (!body)
        return LLMSVC_E_NOMEM;
    if ((rc = build_body(call, body, err)) != LLMSVC_OK) {
        json_object_put(body);
        return rc;
    }
    return host->http_set_json_body(out, body);
}

/* ================================================================ answers */

/* stop_reason → llmsvc's finish reason; another reason stays as it is. */
static const char *finish_reason(const char *stop)
{
    if (!stop || is(stop, "end_turn") || is(stop, "stop_sequence"))
        return "stop";
    if (is(stop, "max_tokens"))
        return "length";
    if (is(stop, "tool_use"))
        return "tool_calls";
    return stop; /* refusal, pause_turn, model_context_window_exceeded, ... */
}

/* The parts of usage the API reports, -1 when not (yet) reported. */
typedef struct counts {
    int64_t input, cache_read, cache_write, output, thinking;
} counts;

#define COUNTS_INIT {-1, -1, -1, -1, -1}

/* Reads a usage object; a count that is absent or null keeps its old value. */
static void read_counts(jdoc *d, int u, counts *c)
{
    if (host->jdoc_type(d, u) != LLMSVC_JSON_OBJECT)
        return;
    int64_t v;
    if ((v = host->jdoc_get_int(d, u, "input_tokens", -1)) >= 0)
        c->input = v;
    if ((v = host->jdoc_get_int(d, u, "cache_read_input_tokens", -1)) >= 0)
        c->cache_read = v;
    if ((v = host->jdoc_get_int(d, u, "cache_creation_input_tokens", -1)) >= 0)
        c->cache_write = v;
    if ((v = host->jdoc_get_int(d, u, "output_tokens", -1)) >= 0)
        c->output = v;
    if ((v = host->jdoc_get_int(d, u, "output_tokens_details.thinking_tokens", -1)) >= 0)
        c->thinking = v;
}

/* llmsvc's usage: input counts cache reads and writes too (the API's
 * input_tokens is only what came after the last cache breakpoint). */
static llmsvc_usage to_usage(const counts *c)
{
    llmsvc_usage u = LLMSVC_USAGE_INIT;
    if (c->input >= 0) {
        u.cached_input = c->cache_read > 0 ? c->cache_read : 0;
        u.cache_write = c->cache_write > 0 ? c->cache_write : 0;
        u.input = c->input + u.cached_input + u.cache_write;
    }
    u.output = c->output;
    u.reasoning = c->thinking;
    return u;
}

/* An error object → LLMSVC_E_API keeping the provider's message, type and
 * error code. in is the HTTP answer (NULL for a stream's error event). */
static llmsvc_code api_error(jdoc *d, int root, int error, const llmsvc_http_response *in,
                             llmsvc_error **err)
{
    const char *type = host->jdoc_get_str(d, error, "type");
    const char *msg = host->jdoc_get_str(d, error, "message");
    const char *code = host->jdoc_get_str(d, error, "details.error_code");
    const char *rid = host->jdoc_get_str(d, root, "request_id");
    llmsvc_error *e;
    if (rid && *rid)
        e = host->error_new(LLMSVC_E_API, "%s (request_id %s)",
                            msg && *msg ? msg : "the provider gave no message", rid);
    else
        e = host->error_new(LLMSVC_E_API, "%s", msg && *msg ? msg : "the provider gave no message");
    host->error_set_provider(e, type, code, NULL);
    if (in) {
        /* the SDKs obey the server's own advice */
        const char *should = host->http_header(in, "x-should-retry");
        if (is(should, "true") || is(should, "false"))
            host->error_set_retryable(e, is(should, "true"));
    } else if (is(type, "overloaded_error") || is(type, "api_error") ||
               is(type, "rate_limit_error") || is(type, "timeout_error")) {
        host->error_set_retryable(e, 1);
    }
    *err = e;
    return LLMSVC_E_API;
}

/* A tool call from a whole tool_use block. */
static llmsvc_code add_tool_use(jdoc *d, int block, llmsvc_response *out)
{
    size_t len = 0;
    const char *raw = host->jdoc_raw(d, host->jdoc_get(d, block, "input"), &len);
    sbuf args = {NULL, 0, 0};
    minify m = {0, 0};
    if (raw && minify_add(&m, &args, raw, len) < 0) {
        sbuf_free(&args);
        return LLMSVC_E_NOMEM;
    }
    llmsvc_code rc = host->resp_add_tool_call(out, host->jdoc_get_str(d, block, "id"),
                                              host->jdoc_get_str(d, block, "name"),
                                              args.len ? args.data : "{}");
    sbuf_free(&args);
    return rc;
}

static llmsvc_code parse_message(jdoc *d, llmsvc_response *out, llmsvc_error **err)
{
    int content = host->jdoc_get(d, 0, "content");
    if (host->jdoc_type(d, content) != LLMSVC_JSON_ARRAY)
        return fail(err, LLMSVC_E_PROVIDER, "the message has no content list");
    llmsvc_code rc;
    if ((rc = host->resp_set(out, LLMSVC_RESP_ID, host->jdoc_get_str(d, 0, "id"))) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_MODEL, host->jdoc_get_str(d, 0, "model"))) !=
            LLMSVC_OK)
        return rc;
    int reasoning_seen = 0, stateful = 0;
    for (int b = host->jdoc_first(d, content); b >= 0; b = host->jdoc_next(d, b)) {
        const char *type = host->jdoc_get_str(d, b, "type");
        size_t len = 0;
        const char *text;
        if (is(type, "text")) {
            if ((text = host->jdoc_str(d, host->jdoc_get(d, b, "text"), &len)) &&
                (rc = host->resp_append_text(out, text, len)) != LLMSVC_OK)
                return rc;
            continue;
        }
        if (is(type, "tool_use")) {
            if ((rc = add_tool_use(d, b, out)) != LLMSVC_OK)
                return rc;
            continue;
        }
        stateful = 1;
        if (is(type, "thinking") && (text = host->jdoc_str(d, host->jdoc_get(d, b, "thinking"),
                                                           &len)) &&
            len) {
            if (reasoning_seen && (rc = host->resp_append_reasoning(out, "\n\n", 2)) != LLMSVC_OK)
                return rc;
            if ((rc = host->resp_append_reasoning(out, text, len)) != LLMSVC_OK)
                return rc;
            reasoning_seen = 1;
        }
    }
    if (stateful) {
        size_t len = 0;
        const char *raw = host->jdoc_raw(d, content, &len);
        if ((rc = host->resp_set_state(out, PROTOCOL, raw, len)) != LLMSVC_OK)
            return rc;
    }
    int u = host->jdoc_get(d, 0, "usage");
    if (host->jdoc_type(d, u) == LLMSVC_JSON_OBJECT) {
        counts c = COUNTS_INIT;
        read_counts(d, u, &c);
        llmsvc_usage usage = to_usage(&c);
        if ((rc = host->resp_set_usage(out, &usage)) != LLMSVC_OK)
            return rc;
    }
    return host->resp_set(out, LLMSVC_RESP_FINISH_REASON,
                          finish_reason(host->jdoc_get_str(d, 0, "stop_reason")));
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
    int error = host->jdoc_get(d, 0, "error");
    if (host->jdoc_type(d, 0) != LLMSVC_JSON_OBJECT) {
        rc = fail(err, LLMSVC_E_PROVIDER, "the response body is not a JSON object");
    } else if (host->jdoc_type(d, error) == LLMSVC_JSON_OBJECT &&
               (status < 200 || status >= 300 || is(host->jdoc_get_str(d, 0, "type"), "error"))) {
        rc = api_error(d, 0, error, in, err);
    } else if (status < 200 || status >= 300) {
        rc = fail(err, LLMSVC_E_PROVIDER, "an error answer without an error object");
    } else {
        rc = parse_message(d, out, err);
    }
    host->jdoc_free(d);
    return rc;
}

/* ================================================================ streams */

enum { K_TEXT = 1, K_THINKING, K_REDACTED, K_TOOL, K_OTHER };

/* One content block of a stream, as its events build it. */
typedef struct sblock {
    int index; /* the wire's content block index */
    int kind;
    int tool;  /* K_TOOL: llmsvc's tool index (0, 1, ... in order of start) */
    int reasoned; /* K_THINKING: some of its text went out as reasoning */
    int ended;
    char *id, *name; /* K_TOOL */
    char *start;     /* K_REDACTED, K_OTHER: the content_block of its start event;
                        K_TOOL: its input there, minified (the fallback) */
    sbuf text;       /* text, thinking, or minified arguments */
    sbuf sig;        /* K_THINKING: the signature */
    minify m;
} sblock;

typedef struct sstate {
    sblock *blocks;
    size_t n, cap;
    int n_tools;
    counts usage;
    int have_usage, usage_sent;
    int reasoning_seen; /* a thinking block gave reasoning text */
    int stateful;       /* a block the provider state must carry */
    char *stop_reason;
} sstate;

static void sstate_free(sstate *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->blocks[i].id);
        free(s->blocks[i].name);
        free(s->blocks[i].start);
        sbuf_free(&s->blocks[i].text);
        sbuf_free(&s->blocks[i].sig);
    }
    free(s->blocks);
    free(s->stop_reason);
    free(s);
}

static void stream_free(void *state, void *stream_state)
{
    (void)state;
    sstate_free(stream_state);
}

static sblock *find_block(sstate *s, int index)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->blocks[i].index == index)
            return &s->blocks[i];
    }
    return NULL;
}

static sblock *new_block(sstate *s, int index)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        sblock *nb = realloc(s->blocks, cap * sizeof *nb);
        if (!nb)
            return NULL;
        s->blocks = nb;
        s->cap = cap;
    }
    sblock *b = &s->blocks[s->n++];
    memset(b, 0, sizeof *b);
    b->index = index;
    return b;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s ? s : "", s ? n : 0);
        p[s ? n : 0] = '\0';
    }
    return p;
}

static char *dup_str(const char *s)
{
    return s ? dup_n(s, strlen(s)) : NULL;
}

/* Thinking text of a block → reasoning, with a blank line between blocks as
 * in a whole answer. */
static llmsvc_code thinking_text(sstate *s, sblock *b, llmsvc_stream *sink, const char *t,
                                 size_t n)
{
    llmsvc_code rc;
    if (!n)
        return LLMSVC_OK;
    if (!b->reasoned && s->reasoning_seen &&
        (rc = host->stream_reasoning(sink, "\n\n", 2)) != LLMSVC_OK)
        return rc;
    b->reasoned = s->reasoning_seen = 1;
    if (sbuf_add(&b->text, t, n) < 0)
        return LLMSVC_E_NOMEM;
    return host->stream_reasoning(sink, t, n);
}

/* Arguments of a tool_use (or server tool) block, minified as they come. */
static llmsvc_code tool_args(sblock *b, llmsvc_stream *sink, const char *t, size_t n)
{
    size_t before = b->text.len;
    if (minify_add(&b->m, &b->text, t, n) < 0)
        return LLMSVC_E_NOMEM;
    if (b->kind != K_TOOL || b->text.len == before)
        return LLMSVC_OK;
    return host->stream_tool_args(sink, b->tool, b->text.data + before, b->text.len - before);
}

static llmsvc_code on_block_start(jdoc *d, sstate *s, llmsvc_stream *sink, llmsvc_error **err)
{
    int index = (int)host->jdoc_get_int(d, 0, "index", -1);
    int cb = host->jdoc_get(d, 0, "content_block");
    if (index < 0 || host->jdoc_type(d, cb) != LLMSVC_JSON_OBJECT)
        return fail(err, LLMSVC_E_PROVIDER,
                    "a content_block_start event without an index or a content_block");
    if (find_block(s, index))
        return fail(err, LLMSVC_E_PROVIDER, "content block %d started twice", index);
    sblock *b = new_block(s, index);
    if (!b)
        return LLMSVC_E_NOMEM;
    const char *type = host->jdoc_get_str(d, cb, "type");
    size_t len = 0;
    const char *t;
    if (is(type, "text")) {
        b->kind = K_TEXT;
        if ((t = host->jdoc_str(d, host->jdoc_get(d, cb, "text"), &len)) && len) {
            if (sbuf_add(&b->text, t, len) < 0)
                return LLMSVC_E_NOMEM;
            return host->stream_text(sink, t, len);
        }
        return LLMSVC_OK;
    }
    s->stateful |= !is(type, "tool_use");
    if (is(type, "thinking")) {
        b->kind = K_THINKING;
        if ((t = host->jdoc_str(d, host->jdoc_get(d, cb, "signature"), &len)) &&
            sbuf_add(&b->sig, t, len) < 0)
            return LLMSVC_E_NOMEM;
        t = host->jdoc_str(d, host->jdoc_get(d, cb, "thinking"), &len);
        return t ? thinking_text(s, b, sink, t, len) : LLMSVC_OK;
    }
    if (is(type, "tool_use")) {
        b->kind = K_TOOL;
        b->tool = s->n_tools++;
        const char *id = host->jdoc_get_str(d, cb, "id"), *name = host->jdoc_get_str(d, cb, "name");
        b->id = dup_str(id ? id : "");
        b->name = dup_str(name ? name : "");
        const char *raw = host->jdoc_raw(d, host->jdoc_get(d, cb, "input"), &len);
        if (raw) {
            sbuf in = {NULL, 0, 0};
            minify m = {0, 0};
            if (minify_add(&m, &in, raw, len) < 0) {
                sbuf_free(&in);
                return LLMSVC_E_NOMEM;
            }
            b->start = in.data ? in.data : dup_str("");
        }
        if (!b->id || !b->name || (raw && !b->start))
            return LLMSVC_E_NOMEM;
        return host->stream_tool_start(sink, b->tool, b->id, b->name);
    }
    b->kind = is(type, "redacted_thinking") ? K_REDACTED : K_OTHER;
    const char *raw = host->jdoc_raw(d, cb, &len);
    if (!(b->start = dup_n(raw, len)))
        return LLMSVC_E_NOMEM;
    return LLMSVC_OK;
}

static llmsvc_code on_block_delta(jdoc *d, sstate *s, llmsvc_stream *sink, llmsvc_error **err)
{
    int index = (int)host->jdoc_get_int(d, 0, "index", -1);
    sblock *b = find_block(s, index);
    if (!b)
        return fail(err, LLMSVC_E_PROVIDER, "a delta for content block %d, which never started",
                    index);
    int delta = host->jdoc_get(d, 0, "delta");
    const char *type = host->jdoc_get_str(d, delta, "type");
    size_t len = 0;
    const char *t;
    if (is(type, "text_delta")) {
        if (!(t = host->jdoc_str(d, host->jdoc_get(d, delta, "text"), &len)) || !len)
            return LLMSVC_OK;
        if (sbuf_add(&b->text, t, len) < 0)
            return LLMSVC_E_NOMEM;
        return host->stream_text(sink, t, len);
    }
    if (is(type, "thinking_delta")) {
        t = host->jdoc_str(d, host->jdoc_get(d, delta, "thinking"), &len);
        return t ? thinking_text(s, b, sink, t, len) : LLMSVC_OK;
    }
    if (is(type, "signature_delta")) {
        t = host->jdoc_str(d, host->jdoc_get(d, delta, "signature"), &len);
        return t && sbuf_add(&b->sig, t, len) < 0 ? LLMSVC_E_NOMEM : LLMSVC_OK;
    }
    if (is(type, "input_json_delta")) {
        t = host->jdoc_str(d, host->jdoc_get(d, delta, "partial_json"), &len);
        return t ? tool_args(b, sink, t, len) : LLMSVC_OK;
    }
    return LLMSVC_OK; /* citations_delta and newer kinds: nothing to assemble */
}

static llmsvc_code on_block_stop(jdoc *d, sstate *s, llmsvc_stream *sink)
{
    sblock *b = find_block(s, (int)host->jdoc_get_int(d, 0, "index", -1));
    if (!b || b->ended)
        return LLMSVC_OK;
    b->ended = 1;
    if (b->kind != K_TOOL)
        return LLMSVC_OK;
    if (!b->text.len) {
        /* no input_json_delta: the start event's input, else an empty object */
        const char *whole = b->start && *b->start && strcmp(b->start, "{}") ? b->start : "{}";
        llmsvc_code rc = tool_args(b, sink, whole, strlen(whole));
        if (rc != LLMSVC_OK)
            return rc;
    }
    return host->stream_tool_end(sink, b->tool);
}

/* The content array a whole answer would have had, from the stream's blocks. */
static llmsvc_code stream_state(sstate *s, llmsvc_stream *sink)
{
    json_object *arr = json_object_new_array();
    if (!arr)
        return LLMSVC_E_NOMEM;
    for (size_t i = 0; i < s->n; i++) {
        sblock *b = &s->blocks[i];
        json_object *o = NULL;
        if (b->kind == K_REDACTED || b->kind == K_OTHER) {
            if (b->kind == K_OTHER && b->text.len) {
                /* a server tool's input came as input_json_delta pieces */
                json_object *parsed = json_tokener_parse(b->start);
                if (json_object_is_type(parsed, json_type_object) &&
                    json_text_is(b->text.data, b->text.len, json_type_object)) {
                    json_object_object_add(parsed, "input",
                                           host->json_raw(b->text.data, b->text.len));
                    o = parsed;
                } else {
                    json_object_put(parsed);
                }
            }
            if (!o)
                o = host->json_raw(b->start, strlen(b->start));
        } else {
            o = json_object_new_object();
            if (!o)
                break;
            if (b->kind == K_TEXT) {
                json_object_object_add(o, "type", json_object_new_string("text"));
                json_object_object_add(o, "text", json_object_new_string_len(sbuf_str(&b->text),
                                                                             (int)b->text.len));
            } else if (b->kind == K_THINKING) {
                json_object_object_add(o, "type", json_object_new_string("thinking"));
                json_object_object_add(o, "thinking",
                                       json_object_new_string_len(sbuf_str(&b->text),
                                                                  (int)b->text.len));
                json_object_object_add(o, "signature",
                                       json_object_new_string_len(sbuf_str(&b->sig),
                                                                  (int)b->sig.len));
            } else {
                json_object_object_add(o, "type", json_object_new_string("tool_use"));
                json_object_object_add(o, "id", json_object_new_string(b->id));
                json_object_object_add(o, "name", json_object_new_string(b->name));
                const char *args = b->text.len && json_text_is(b->text.data, b->text.len,
                                                               json_type_object)
                                       ? b->text.data
                                       : "{}";
                json_object_object_add(o, "input", host->json_raw(args, strlen(args)));
            }
        }
        if (!o || json_object_array_add(arr, o) != 0) {
            json_object_put(o);
            json_object_put(arr);
            return LLMSVC_E_NOMEM;
        }
    }
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    llmsvc_code rc = LLMSVC_E_NOMEM;
    if (text)
        rc = host->resp_set_state(host->stream_response(sink), PROTOCOL, text, len);
    json_object_put(arr);
    return rc;
}

static llmsvc_code send_usage(sstate *s, llmsvc_stream *sink)
{
    if (!s->have_usage)
        return LLMSVC_OK;
    s->usage_sent = 1;
    llmsvc_usage u = to_usage(&s->usage);
    return host->stream_usage(sink, &u);
}

static llmsvc_code on_event(jdoc *d, const char *type, sstate *s, llmsvc_stream *sink,
                            llmsvc_error **err)
{
    llmsvc_code rc;
    if (is(type, "content_block_delta"))
        return on_block_delta(d, s, sink, err);
    if (is(type, "content_block_start"))
        return on_block_start(d, s, sink, err);
    if (is(type, "content_block_stop"))
        return on_block_stop(d, s, sink);
    if (is(type, "message_start")) {
        int msg = host->jdoc_get(d, 0, "message");
        llmsvc_response *r = host->stream_response(sink);
        if ((rc = host->resp_set(r, LLMSVC_RESP_ID, host->jdoc_get_str(d, msg, "id"))) !=
                LLMSVC_OK ||
            (rc = host->resp_set(r, LLMSVC_RESP_MODEL, host->jdoc_get_str(d, msg, "model"))) !=
                LLMSVC_OK)
            return rc;
        int u = host->jdoc_get(d, msg, "usage");
        s->have_usage |= host->jdoc_type(d, u) == LLMSVC_JSON_OBJECT;
        read_counts(d, u, &s->usage);
        return LLMSVC_OK;
    }
    if (is(type, "message_delta")) {
        const char *stop = host->jdoc_get_str(d, 0, "delta.stop_reason");
        if (stop) {
            free(s->stop_reason);
            if (!(s->stop_reason = dup_str(stop)))
                return LLMSVC_E_NOMEM;
        }
        int u = host->jdoc_get(d, 0, "usage");
        if (host->jdoc_type(d, u) != LLMSVC_JSON_OBJECT)
            return LLMSVC_OK;
        s->have_usage = 1;
        read_counts(d, u, &s->usage);
        return send_usage(s, sink); /* cumulative: the final counts */
    }
    if (is(type, "message_stop")) {
        if (s->stateful && (rc = stream_state(s, sink)) != LLMSVC_OK)
            return rc;
        if (!s->usage_sent && (rc = send_usage(s, sink)) != LLMSVC_OK)
            return rc;
        return host->stream_done(sink, finish_reason(s->stop_reason));
    }
    if (is(type, "error")) {
        int error = host->jdoc_get(d, 0, "error");
        if (host->jdoc_type(d, error) != LLMSVC_JSON_OBJECT)
            return fail(err, LLMSVC_E_PROVIDER, "an error event without an error object");
        return api_error(d, 0, error, NULL, err);
    }
    return LLMSVC_OK; /* ping, and event types newer than this plugin */
}

static llmsvc_code parse_event(void *state, const llmsvc_call_info *call,
                               const llmsvc_sse_event *ev, llmsvc_stream *sink,
                               void **stream_state_p, llmsvc_error **err)
{
    (void)state;
    (void)call;
    if (!ev->data_len && is(ev->event, "ping"))
        return LLMSVC_OK;
    sstate *s = *stream_state_p;
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return LLMSVC_E_NOMEM;
        s->usage = (counts)COUNTS_INIT;
        *stream_state_p = s;
    }
    jdoc *d = NULL;
    llmsvc_code rc = host->jdoc_parse(ev->data, ev->data_len, &d, err);
    if (rc != LLMSVC_OK)
        return rc;
    if (host->jdoc_type(d, 0) != LLMSVC_JSON_OBJECT) {
        rc = fail(err, LLMSVC_E_PROVIDER, "a '%s' event whose data is not a JSON object",
                  ev->event && *ev->event ? ev->event : "message");
    } else {
        const char *type = host->jdoc_get_str(d, 0, "type");
        rc = on_event(d, type ? type : ev->event, s, sink, err);
    }
    host->jdoc_free(d);
    return rc;
}

/* ================================================================ plugin */

static const llmsvc_api_ops ops = {
    .size = sizeof(llmsvc_api_ops),
    .name = PROTOCOL,
    .build_request = build_request,
    .parse_response = parse_response,
    .parse_event = parse_event,
    .stream_free = stream_free,
};

LLMSVC_PLUGIN_DEFINE_API("anthropic", "1.0.0", "Anthropic Messages API (POST /messages)", ops,
                         host);
