/* openai-chat — OpenAI Chat Completions (POST {base_url}/chat/completions),
 * the format nearly every OpenAI-compatible server speaks (Ollama, vLLM,
 * llama.cpp, Azure OpenAI, Groq, OpenRouter, Together, Mistral, DeepSeek).
 *
 * Request: instructions → a first system message; the conversation → messages
 * (user images as image_url parts, assistant tool_calls, tool turns with
 * tool_call_id); every parameter at its spec `wire` path or its own name
 * (max_tokens → max_tokens unless the spec says max_completion_tokens); tools,
 * tool_choice, parallel_tool_calls, a json_schema response_format; stream with
 * stream_options.include_usage; provider_options merged last.
 *
 * Response: text (string content, or text parts), reasoning text
 * (reasoning_content / reasoning / thinking parts), refusals, tool calls,
 * usage with cached, cache-write and reasoning tokens. Finish reasons are
 * never collapsed (docs/protocols/openai-chat.md has the table).
 *
 * Provider state: Chat Completions has no opaque state of OpenAI's own. What
 * compatible servers need back is kept as a JSON object of the assistant
 * message's own fields — reasoning_details (OpenRouter) always, and the
 * reasoning text (reasoning_content: DeepSeek; reasoning: vLLM, Groq) on turns
 * that called tools — and merged back into that assistant message byte for
 * byte on the next turn.
 *
 * Spec options read (host->call_option): path, auth_header,
 * optional_api_key_env, azure_api_version, azure_deployment,
 * instructions_role, stream_include_usage, reasoning_state.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmsvc/plugin.h"

#define PROTOCOL "openai-chat"

static const llmsvc_host *host;

typedef llmsvc_jdoc jdoc;

static int is(const char *s, const char *lit)
{
    return s && strcmp(s, lit) == 0;
}

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* ---- a small growing string ---- */

typedef struct sbuf {
    char *data;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->failed || !n)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            if (cap > ((size_t)-1) / 2) {
                b->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_free(sbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ================================================================ request */

/* The body field each parameter goes to, unless the spec gives a `wire`. */
static const char *default_wire(const char *name)
{
    static const char *const known[] = {"temperature",
                                        "top_p",
                                        "top_k",
                                        "max_tokens",
                                        "seed",
                                        "stop",
                                        "presence_penalty",
                                        "frequency_penalty",
                                        "reasoning_effort",
                                        "verbosity"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        if (strcmp(known[i], name) == 0)
            return known[i];
    }
    return NULL;
}

/* Characters of a URL path segment we allow from a spec (no escaping needed). */
static int path_ok(const char *s, int allow_slash)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '~' || (allow_slash && c == '/')))
            return 0;
    }
    return 1;
}

/* An HTTP header name (RFC 9110 token). */
static int header_name_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

/* *err = a CONFIG error with that message; evaluates to LLMSVC_E_CONFIG. */
#define CONFIG_ERROR(...) (*err = host->error_new(LLMSVC_E_CONFIG, __VA_ARGS__), LLMSVC_E_CONFIG)

/* {base_url}{path}, or with azure_api_version
 * {base_url}/openai/deployments/{deployment}{path}?api-version={version}. */
static llmsvc_code set_url(const llmsvc_call_info *call, llmsvc_http_request *out,
                           llmsvc_error **err)
{
    const char *path = host->call_option(call, "path");
    const char *version = host->call_option(call, "azure_api_version");
    const char *deployment = host->call_option(call, "azure_deployment");
    if (!path)
        path = "/chat/completions";
    if (path[0] != '/' || !path_ok(path, 1))
        return CONFIG_ERROR("provider '%s': option path '%s' must be a URL path starting "
                            "with '/' (letters, digits, '-', '_', '.', '~', '/')",
                            call->provider, path);
    if (!call->base_url)
        return CONFIG_ERROR("provider '%s' has no usable base_url", call->provider);
    char url[4096];
    int n;
    if (version) {
        if (!deployment)
            deployment = call->model;
        if (!path_ok(version, 0))
            return CONFIG_ERROR("provider '%s': option azure_api_version '%s' is not an "
                                "API version (such as 2024-10-21)",
                                call->provider, version);
        if (!path_ok(deployment, 0))
            return CONFIG_ERROR("provider '%s': the Azure deployment name '%s' may hold only "
                                "letters, digits, '-', '_' and '.' (set option azure_deployment)",
                                call->provider, deployment);
        n = snprintf(url, sizeof url, "%s/openai/deployments/%s%s?api-version=%s", call->base_url,
                     deployment, path, version);
    } else {
        n = snprintf(url, sizeof url, "%s%s", call->base_url, path);
    }
    if (n < 0 || (size_t)n >= sizeof url)
        return CONFIG_ERROR("provider '%s' has no usable base_url (too long)", call->provider);
    return host->http_set_url(out, url);
}

/* The key: the call's (request or api_key_env), else optional_api_key_env's. */
static llmsvc_code set_auth(const llmsvc_call_info *call, llmsvc_http_request *out,
                            llmsvc_error **err)
{
    const char *key = call->api_key;
    const char *from = call->api_key_env ? call->api_key_env : "the request";
    if (!key) {
        const char *var = host->call_option(call, "optional_api_key_env");
        const char *v = var ? getenv(var) : NULL;
        if (v && *v) {
            key = v;
            from = var;
        }
    }
    if (!key)
        return LLMSVC_OK; /* a local server without a key */
    if (strpbrk(key, "\r\n"))
        return CONFIG_ERROR("the API key in %s contains a line break (often a '\\r' left by a "
                            "file with Windows line endings); remove it",
                            from);
    const char *name = host->call_option(call, "auth_header");
    if (!name)
        name = "Authorization";
    if (!header_name_ok(name))
        return CONFIG_ERROR("provider '%s': option auth_header '%s' is not a header name",
                            call->provider, name);
    char value[4096];
    int n = ascii_ieq(name, "authorization") ? snprintf(value, sizeof value, "Bearer %s", key)
                                             : snprintf(value, sizeof value, "%s", key);
    if (n < 0 || (size_t)n >= sizeof value) {
        explicit_bzero(value, sizeof value);
        return CONFIG_ERROR("the API key of provider '%s' is too long", call->provider);
    }
    llmsvc_code rc = host->http_add_header(out, name, value, 1);
    explicit_bzero(value, (size_t)n); /* the bytes written, not all 4 KB */
    return rc;
}

/* Adds key: value to obj, failing on a NULL value (allocation). */
static int add(json_object *obj, const char *key, json_object *value)
{
    if (!value)
        return -1;
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static int push(json_object *arr, json_object *value)
{
    if (!value)
        return -1;
    if (json_object_array_add(arr, value) != 0) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static json_object *str_or_empty(const char *s)
{
    return json_object_new_string(s ? s : "");
}

/* {"type": "text", "text": ...} or {"type": "image_url", "image_url": {"url": ...}}. */
static json_object *part(const char *type, const char *text)
{
    json_object *p = json_object_new_object();
    if (!p || add(p, "type", json_object_new_string(type)))
        goto fail;
    if (!strcmp(type, "text")) {
        if (add(p, "text", json_object_new_string(text)))
            goto fail;
    } else {
        json_object *url = json_object_new_object();
        if (!url || add(url, "url", json_object_new_string(text))) {
            json_object_put(url);
            goto fail;
        }
        if (add(p, "image_url", url))
            goto fail;
    }
    return p;
fail:
    json_object_put(p);
    return NULL;
}

/* A user turn with images: its text part, then an image_url part per image. */
static json_object *content_parts(const llmsvc_message *m)
{
    json_object *parts = json_object_new_array();
    if (!parts)
        return NULL;
    if (m->content && *m->content && push(parts, part("text", m->content)))
        goto fail;
    for (size_t i = 0; i < m->n_images; i++) {
        if (push(parts, part("image_url", m->images[i])))
            goto fail;
    }
    return parts;
fail:
    json_object_put(parts);
    return NULL;
}

static json_object *tool_calls_json(const llmsvc_message *m)
{
    json_object *calls = json_object_new_array();
    for (size_t i = 0; calls && i < m->n_tool_calls; i++) {
        const llmsvc_tool_call *c = &m->tool_calls[i];
        json_object *call = json_object_new_object(), *fn = json_object_new_object();
        int bad = !call || !fn || add(fn, "name", str_or_empty(c->name)) ||
                  add(fn, "arguments",
                      json_object_new_string(c->arguments && *c->arguments ? c->arguments : "{}"));
        bad = bad || add(call, "id", str_or_empty(c->id)) ||
              add(call, "type", json_object_new_string("function"));
        if (!bad) {
            bad = add(call, "function", fn);
            fn = NULL;
        }
        json_object_put(fn);
        if (bad || push(calls, call)) {
            if (bad)
                json_object_put(call);
            json_object_put(calls);
            return NULL;
        }
    }
    return calls;
}

/* Whether text is one JSON value (json-c's own parser: host->jdoc_parse
 * would make an error object the plugin cannot free). */
static int is_json(const char *text, size_t len)
{
    json_tokener *tok = json_tokener_new();
    if (!tok || len > (size_t)INT32_MAX) {
        json_tokener_free(tok);
        return 0;
    }
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    int ok = o && json_tokener_get_error(tok) == json_tokener_success &&
             json_tokener_get_parse_end(tok) == len;
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

/* Merges an openai-chat state (a JSON object of message fields) into msg,
 * each value byte for byte. TRANSFORM when the state is not an object. */
static llmsvc_code merge_state(json_object *msg, const char *state, size_t turn, llmsvc_error **err)
{
    size_t slen = strlen(state);
    jdoc *d = NULL;
    llmsvc_code rc;
    if (!is_json(state, slen) || state[0] != '{') {
        *err = host->error_new(LLMSVC_E_TRANSFORM,
                               "the openai-chat state of message %zu is not a JSON object", turn);
        return LLMSVC_E_TRANSFORM;
    }
    if ((rc = host->jdoc_parse(state, slen, &d, err)) != LLMSVC_OK)
        return rc;
    for (int v = host->jdoc_first(d, 0); v >= 0; v = host->jdoc_next(d, v)) {
        const char *key = host->jdoc_key(d, v);
        size_t len = 0;
        const char *raw = host->jdoc_raw(d, v, &len);
        if (!key || !raw || add(msg, key, host->json_raw(raw, len))) {
            rc = LLMSVC_E_NOMEM;
            break;
        }
    }
    host->jdoc_free(d);
    return rc;
}

static llmsvc_code build_message(const llmsvc_message *m, size_t turn, json_object **out,
                                 llmsvc_error **err)
{
    json_object *msg = json_object_new_object();
    if (!msg)
        return LLMSVC_E_NOMEM;
    int bad = 0;
    int tool_turn = m->tool_call_id || is(m->role, "tool");
    bad |= add(msg, "role", json_object_new_string(tool_turn ? "tool" : m->role));
    if (tool_turn) {
        bad = bad || add(msg, "tool_call_id", str_or_empty(m->tool_call_id)) ||
              add(msg, "content", str_or_empty(m->content));
    } else if (m->n_images) {
        bad = bad || add(msg, "content", content_parts(m));
    } else if (m->n_tool_calls && (!m->content || !*m->content)) {
        /* an assistant turn that only called tools */
        bad = bad || json_object_object_add(msg, "content", NULL) != 0;
    } else {
        bad = bad || add(msg, "content", str_or_empty(m->content));
    }
    if (!bad && m->n_tool_calls)
        bad = add(msg, "tool_calls", tool_calls_json(m));
    if (bad) {
        json_object_put(msg);
        return LLMSVC_E_NOMEM;
    }
    if (m->state && is(m->state_protocol, PROTOCOL) && is(m->role, "assistant")) {
        llmsvc_code rc = merge_state(msg, m->state, turn, err);
        if (rc != LLMSVC_OK) {
            json_object_put(msg);
            return rc;
        }
    }
    *out = msg;
    return LLMSVC_OK;
}

static llmsvc_code build_messages(const llmsvc_call_info *call, json_object *body,
                                  llmsvc_error **err)
{
    json_object *msgs = json_object_new_array();
    if (!msgs || json_object_object_add(body, "messages", msgs) != 0) {
        json_object_put(msgs);
        return LLMSVC_E_NOMEM;
    }
    if (call->instructions) {
        const char *role = host->call_option(call, "instructions_role");
        if (!role)
            role = "system";
        if (!is(role, "system") && !is(role, "developer"))
            return CONFIG_ERROR("provider '%s': option instructions_role '%s' must be system or "
                                "developer",
                                call->provider, role);
        json_object *sys = json_object_new_object();
        if (!sys || add(sys, "role", json_object_new_string(role)) ||
            add(sys, "content", json_object_new_string(call->instructions)) || push(msgs, sys)) {
            json_object_put(sys);
            return LLMSVC_E_NOMEM;
        }
    }
    for (size_t i = 0; i < call->n_messages; i++) {
        json_object *msg = NULL;
        llmsvc_code rc = build_message(&call->messages[i], i, &msg, err);
        if (rc != LLMSVC_OK)
            return rc;
        if (push(msgs, msg))
            return LLMSVC_E_NOMEM;
    }
    return LLMSVC_OK;
}

static llmsvc_code set_param(const llmsvc_call_info *call, const llmsvc_param *p, json_object *body,
                             llmsvc_error **err)
{
    /* an effort with a thinking-token budget in the spec: the number goes to
     * the spec's wire path (OpenRouter's reasoning.max_tokens, ...) */
    if (is(p->name, "reasoning_effort") && p->budget >= 0 && p->wire)
        return host->json_set_path(body, p->wire, json_object_new_int64(p->budget));
    const char *wire = p->wire ? p->wire : default_wire(p->name);
    if (!wire) {
        *err = host->error_new(LLMSVC_E_TRANSFORM,
                               "Chat Completions has no field for '%s'; give it a `wire` name in "
                               "the spec of model '%s' or remove it there",
                               p->name, call->model);
        return LLMSVC_E_TRANSFORM;
    }
    json_object *v = host->param_to_json(p);
    if (!v)
        return LLMSVC_E_NOMEM;
    return host->json_set_path(body, wire, v);
}

static llmsvc_code add_tools(const llmsvc_call_info *call, json_object *body)
{
    json_object *tools = json_object_new_array();
    if (!tools || json_object_object_add(body, "tools", tools) != 0) {
        json_object_put(tools);
        return LLMSVC_E_NOMEM;
    }
    for (size_t i = 0; i < call->n_tools; i++) {
        const llmsvc_tool *t = &call->tools[i];
        json_object *tool = json_object_new_object(), *fn = json_object_new_object();
        int bad = !tool || !fn || add(fn, "name", str_or_empty(t->name));
        if (!bad && t->description)
            bad = add(fn, "description", json_object_new_string(t->description));
        if (!bad && t->parameters)
            bad = add(fn, "parameters", host->json_raw(t->parameters, strlen(t->parameters)));
        bad = bad || add(tool, "type", json_object_new_string("function"));
        if (!bad) {
            bad = add(tool, "function", fn);
            fn = NULL;
        }
        json_object_put(fn);
        if (bad) {
            json_object_put(tool);
            return LLMSVC_E_NOMEM;
        }
        if (push(tools, tool))
            return LLMSVC_E_NOMEM;
    }
    if (call->tool_choice) {
        json_object *choice;
        if (is(call->tool_choice, "tool")) {
            json_object *fn = json_object_new_object();
            choice = json_object_new_object();
            int bad = !fn || !choice || add(fn, "name", str_or_empty(call->tool_choice_name)) ||
                      add(choice, "type", json_object_new_string("function"));
            if (!bad) {
                bad = add(choice, "function", fn);
                fn = NULL;
            }
            json_object_put(fn);
            if (bad) {
                json_object_put(choice);
                return LLMSVC_E_NOMEM;
            }
        } else {
            choice = json_object_new_string(call->tool_choice);
        }
        if (add(body, "tool_choice", choice))
            return LLMSVC_E_NOMEM;
    }
    if (call->parallel_tool_calls >= 0 &&
        add(body, "parallel_tool_calls", json_object_new_boolean(call->parallel_tool_calls)))
        return LLMSVC_E_NOMEM;
    return LLMSVC_OK;
}

static llmsvc_code add_response_format(const llmsvc_call_info *call, json_object *body)
{
    json_object *rf = json_object_new_object(), *js = json_object_new_object();
    const char *name = call->response_format_name && *call->response_format_name
                           ? call->response_format_name
                           : "response";
    int bad =
        !rf || !js || add(js, "name", json_object_new_string(name)) ||
        add(js, "schema",
            host->json_raw(call->response_format_schema, strlen(call->response_format_schema))) ||
        add(js, "strict", json_object_new_boolean(call->response_format_strict != 0)) ||
        add(rf, "type", json_object_new_string("json_schema"));
    if (!bad) {
        bad = add(rf, "json_schema", js);
        js = NULL;
    }
    json_object_put(js);
    if (bad || add(body, "response_format", rf)) {
        if (bad)
            json_object_put(rf);
        return LLMSVC_E_NOMEM;
    }
    return LLMSVC_OK;
}

static llmsvc_code build_body(const llmsvc_call_info *call, json_object *body, llmsvc_error **err)
{
    llmsvc_code rc;
    const char *deployment = host->call_option(call, "azure_deployment");
    /* an Azure v1 endpoint takes the deployment as the model */
    const char *model =
        deployment && !host->call_option(call, "azure_api_version") ? deployment : call->model;
    if (add(body, "model", json_object_new_string(model)))
        return LLMSVC_E_NOMEM;
    if ((rc = build_messages(call, body, err)) != LLMSVC_OK)
        return rc;
    for (size_t i = 0; i < call->n_params; i++) {
        if ((rc = set_param(call, &call->params[i], body, err)) != LLMSVC_OK)
            return rc;
    }
    if (call->n_tools && (rc = add_tools(call, body)) != LLMSVC_OK)
        return rc;
    if (call->response_format_schema && (rc = add_response_format(call, body)) != LLMSVC_OK)
        return rc;
    if (call->stream) {
        if (add(body, "stream", json_object_new_boolean(1)))
            return LLMSVC_E_NOMEM;
        const char *usage = host->call_option(call, "stream_include_usage");
        if (!is(usage, "false")) {
            json_object *so = json_object_new_object();
            if (!so || add(so, "include_usage", json_object_new_boolean(1)) ||
                add(body, "stream_options", so)) {
                json_object_put(so);
                return LLMSVC_E_NOMEM;
            }
        }
    }
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
    if ((rc = set_url(call, out, err)) != LLMSVC_OK || (rc = set_auth(call, out, err)) != LLMSVC_OK)
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

/* ================================================================ errors */

/* A string, or a number's text ("code": 400), at path; NULL otherwise.
 * Numbers are copied into buf. */
static const char *str_or_num(jdoc *d, int node, const char *path, char *buf, size_t cap)
{
    int v = host->jdoc_get(d, node, path);
    int t = host->jdoc_type(d, v);
    if (t == LLMSVC_JSON_STRING)
        return host->jdoc_str(d, v, NULL);
    if (t == LLMSVC_JSON_NUMBER) {
        size_t len = 0;
        const char *raw = host->jdoc_raw(d, v, &len);
        if (raw && len < cap) {
            memcpy(buf, raw, len);
            buf[len] = '\0';
            return buf;
        }
    }
    return NULL;
}

static int retryable_code(const char *code)
{
    if (!code)
        return 0;
    if (is(code, "server_error") || is(code, "rate_limit_exceeded"))
        return 1;
    char *end;
    long n = strtol(code, &end, 10);
    return *end == '\0' && end != code && (n == 408 || n == 409 || n == 429 || n >= 500);
}

/* FastAPI's (pydantic's) [{"loc": [...], "msg": "..."}] → "msg (at a.b); ...". */
static void describe_details(jdoc *d, int detail, sbuf *b)
{
    for (int it = host->jdoc_first(d, detail); it >= 0 && b->len < 1000;
         it = host->jdoc_next(d, it)) {
        const char *msg = host->jdoc_get_str(d, it, "msg");
        if (!msg)
            continue;
        if (b->len)
            sb_str(b, "; ");
        sb_str(b, msg);
        int loc = host->jdoc_get(d, it, "loc");
        if (host->jdoc_type(d, loc) != LLMSVC_JSON_ARRAY || !host->jdoc_count(d, loc))
            continue;
        sb_str(b, " (at ");
        int first = 1;
        for (int l = host->jdoc_first(d, loc); l >= 0; l = host->jdoc_next(d, l)) {
            size_t len = 0;
            const char *step = host->jdoc_type(d, l) == LLMSVC_JSON_STRING
                                   ? host->jdoc_str(d, l, &len)
                                   : host->jdoc_raw(d, l, &len);
            if (!step)
                continue;
            if (!first)
                sb_str(b, ".");
            sb_add(b, step, len);
            first = 0;
        }
        sb_str(b, ")");
    }
}

/* The message of an error object into b: "message" as a string, or as an
 * object holding a "detail" (Mistral's 422s), else "msg", else "detail". */
static void describe_error(jdoc *d, int obj, sbuf *b)
{
    static const char *const keys[] = {"message", "msg", "detail"};
    for (size_t i = 0; i < 3 && !b->len; i++) {
        int v = host->jdoc_get(d, obj, keys[i]);
        size_t len = 0;
        switch (host->jdoc_type(d, v)) {
        case LLMSVC_JSON_STRING: {
            const char *s = host->jdoc_str(d, v, &len);
            sb_add(b, s, len);
            break;
        }
        case LLMSVC_JSON_ARRAY:
            describe_details(d, v, b);
            break;
        case LLMSVC_JSON_OBJECT:
            describe_error(d, v, b);
            break;
        default:
            break;
        }
    }
}

/* An API error with the message, type, code and param of an error object
 * (OpenAI's {"message","type","param","code"}; vLLM's and Mistral's
 * top-level {"object":"error","message",...}; FastAPI's {"detail"}). msg,
 * when given, replaces the object's message. in_band: the answer's status was
 * 2xx, so a numeric code decides retryability. */
static llmsvc_code api_error(jdoc *d, int obj, const char *msg, int in_band, llmsvc_error **err)
{
    char codebuf[32];
    const char *code = str_or_num(d, obj, "code", codebuf, sizeof codebuf);
    sbuf b = {0};
    if (msg)
        sb_str(&b, msg);
    else
        describe_error(d, obj, &b);
    if (b.failed) {
        sb_free(&b);
        return LLMSVC_E_NOMEM;
    }
    llmsvc_error *e =
        host->error_new(LLMSVC_E_API, "%s", b.len ? b.data : "the provider gave no message");
    sb_free(&b);
    host->error_set_provider(e, host->jdoc_get_str(d, obj, "type"), code,
                             host->jdoc_get_str(d, obj, "param"));
    if (is(code, "server_error") || is(code, "rate_limit_exceeded") ||
        (in_band && retryable_code(code)))
        host->error_set_retryable(e, 1);
    *err = e;
    return LLMSVC_E_API;
}

/* Whether the document is an error answer; if so, *rc and *err say which. */
static int error_body(jdoc *d, int in_band, llmsvc_code *rc, llmsvc_error **err)
{
    if (host->jdoc_type(d, 0) != LLMSVC_JSON_OBJECT)
        return 0;
    int e = host->jdoc_get(d, 0, "error");
    int et = host->jdoc_type(d, e);
    if (et == LLMSVC_JSON_OBJECT) {
        *rc = api_error(d, e, NULL, in_band, err);
        return 1;
    }
    if (et == LLMSVC_JSON_STRING) {
        /* {"error": "text"} with the type and code, if any, beside it */
        *rc = api_error(d, 0, host->jdoc_str(d, e, NULL), in_band, err);
        return 1;
    }
    if (is(host->jdoc_get_str(d, 0, "object"), "error")) {
        *rc = api_error(d, 0, NULL, in_band, err);
        return 1;
    }
    if (in_band)
        return 0;
    /* {"detail": ...} (FastAPI servers), {"message": ...} (gateways) */
    int t1 = host->jdoc_type(d, host->jdoc_get(d, 0, "detail"));
    int t2 = host->jdoc_type(d, host->jdoc_get(d, 0, "message"));
    if (t1 == LLMSVC_JSON_STRING || t1 == LLMSVC_JSON_ARRAY || t2 == LLMSVC_JSON_STRING ||
        t2 == LLMSVC_JSON_OBJECT) {
        sbuf b = {0};
        describe_error(d, 0, &b);
        int found = b.len > 0;
        sb_free(&b);
        if (found) {
            *rc = api_error(d, 0, NULL, 0, err);
            return 1;
        }
    }
    return 0;
}

/* ================================================================ responses */

/* Usage of a "usage" object; counts stay -1 when it is absent. */
static int read_usage(jdoc *d, int u, llmsvc_usage *usage)
{
    if (host->jdoc_type(d, u) != LLMSVC_JSON_OBJECT)
        return 0;
    usage->input = host->jdoc_get_int(d, u, "prompt_tokens", -1);
    usage->output = host->jdoc_get_int(d, u, "completion_tokens", -1);
    usage->total = host->jdoc_get_int(d, u, "total_tokens", -1);
    int64_t cached = host->jdoc_get_int(d, u, "prompt_tokens_details.cached_tokens", -1);
    if (cached < 0) /* DeepSeek's older field */
        cached = host->jdoc_get_int(d, u, "prompt_cache_hit_tokens", 0);
    usage->cached_input = cached;
    usage->cache_write = host->jdoc_get_int(d, u, "prompt_tokens_details.cache_write_tokens", 0);
    usage->reasoning = host->jdoc_get_int(d, u, "completion_tokens_details.reasoning_tokens", 0);
    return usage->input >= 0 || usage->output >= 0;
}

/* The usage object of a body or chunk ("usage", or Groq's "x_groq.usage"). */
static int usage_node(jdoc *d, int node)
{
    int u = host->jdoc_get(d, node, "usage");
    if (host->jdoc_type(d, u) == LLMSVC_JSON_OBJECT)
        return u;
    u = host->jdoc_get(d, node, "x_groq.usage");
    return host->jdoc_type(d, u) == LLMSVC_JSON_OBJECT ? u : -1;
}

/* llmsvc's finish reason for the provider's (NULL when it gave none). */
static const char *finish_reason(const char *fr, int has_tools, int refused, char *buf, size_t cap)
{
    if (refused)
        return "refusal";
    if (!fr || !*fr || is(fr, "stop"))
        return has_tools ? "tool_calls" : "stop";
    if (is(fr, "length") || is(fr, "model_length"))
        return "length";
    if (is(fr, "tool_calls") || is(fr, "function_call"))
        return "tool_calls";
    if (is(fr, "content_filter"))
        return "content_filter";
    size_t i = 0;
    for (; fr[i] && i + 1 < cap; i++)
        buf[i] = (fr[i] >= 'A' && fr[i] <= 'Z') ? (char)(fr[i] - 'A' + 'a') : fr[i];
    buf[i] = '\0';
    return buf;
}

/* The first choice (index 0, else the first listed), or -1. */
static int first_choice(jdoc *d, int choices)
{
    if (host->jdoc_type(d, choices) != LLMSVC_JSON_ARRAY)
        return -1;
    int first = host->jdoc_first(d, choices);
    for (int c = first; c >= 0; c = host->jdoc_next(d, c)) {
        if (host->jdoc_get_int(d, c, "index", 0) == 0)
            return c;
    }
    return first;
}

/* The reasoning text node of a message or delta: reasoning_content
 * (DeepSeek, older vLLM), else reasoning (vLLM, Groq, OpenRouter). */
static int reasoning_node(jdoc *d, int msg, const char **key)
{
    int r = host->jdoc_get(d, msg, "reasoning_content");
    if (host->jdoc_type(d, r) == LLMSVC_JSON_STRING) {
        *key = "reasoning_content";
        return r;
    }
    r = host->jdoc_get(d, msg, "reasoning");
    if (host->jdoc_type(d, r) == LLMSVC_JSON_STRING) {
        *key = "reasoning";
        return r;
    }
    return -1;
}

typedef llmsvc_code (*text_fn)(void *target, const char *text, size_t len);

/* Content as a list of parts (Mistral's magistral models): text parts to
 * text, thinking parts (a string, or a list of text parts) to reasoning. */
static llmsvc_code content_list(jdoc *d, int list, text_fn text, text_fn reasoning, void *target)
{
    for (int part = host->jdoc_first(d, list); part >= 0; part = host->jdoc_next(d, part)) {
        const char *type = host->jdoc_get_str(d, part, "type");
        size_t len = 0;
        llmsvc_code rc = LLMSVC_OK;
        if (is(type, "text")) {
            const char *s = host->jdoc_str(d, host->jdoc_get(d, part, "text"), &len);
            if (s && len)
                rc = text(target, s, len);
        } else if (is(type, "thinking")) {
            int th = host->jdoc_get(d, part, "thinking");
            if (host->jdoc_type(d, th) == LLMSVC_JSON_STRING) {
                const char *s = host->jdoc_str(d, th, &len);
                if (s && len)
                    rc = reasoning(target, s, len);
            } else if (host->jdoc_type(d, th) == LLMSVC_JSON_ARRAY) {
                for (int t = host->jdoc_first(d, th); t >= 0 && rc == LLMSVC_OK;
                     t = host->jdoc_next(d, t)) {
                    const char *s = host->jdoc_str(d, host->jdoc_get(d, t, "text"), &len);
                    if (s && len)
                        rc = reasoning(target, s, len);
                }
            }
        }
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

static llmsvc_code resp_text(void *r, const char *s, size_t n)
{
    return host->resp_append_text(r, s, n);
}

static llmsvc_code resp_reasoning(void *r, const char *s, size_t n)
{
    return host->resp_append_reasoning(r, s, n);
}

/* Which fields of an answer go back as state: reasoning_state "never",
 * "always" (the reasoning text on every turn) or "tool_calls" (default). */
typedef enum { STATE_NEVER, STATE_TOOL_CALLS, STATE_ALWAYS } state_mode;

static state_mode get_state_mode(const llmsvc_call_info *call)
{
    const char *m = host->call_option(call, "reasoning_state");
    if (is(m, "never"))
        return STATE_NEVER;
    if (is(m, "always"))
        return STATE_ALWAYS;
    return STATE_TOOL_CALLS;
}

/* {"key": raw} or {"key1": raw1} from the answer's message. */
static llmsvc_code set_state(llmsvc_response *out, const char *key, const char *raw, size_t len)
{
    sbuf b = {0};
    sb_str(&b, "{\"");
    sb_str(&b, key);
    sb_str(&b, "\":");
    sb_add(&b, raw, len);
    sb_str(&b, "}");
    llmsvc_code rc = b.failed ? LLMSVC_E_NOMEM : host->resp_set_state(out, PROTOCOL, b.data, b.len);
    sb_free(&b);
    return rc;
}

static llmsvc_code message_state(const llmsvc_call_info *call, jdoc *d, int msg, int has_tools,
                                 llmsvc_response *out)
{
    state_mode mode = get_state_mode(call);
    if (mode == STATE_NEVER)
        return LLMSVC_OK;
    size_t len = 0;
    int details = host->jdoc_get(d, msg, "reasoning_details");
    if (host->jdoc_type(d, details) == LLMSVC_JSON_ARRAY && host->jdoc_count(d, details)) {
        const char *raw = host->jdoc_raw(d, details, &len);
        return set_state(out, "reasoning_details", raw, len);
    }
    const char *key = NULL;
    int r = reasoning_node(d, msg, &key);
    if (r < 0 || (mode == STATE_TOOL_CALLS && !has_tools))
        return LLMSVC_OK;
    /* kept even when empty: DeepSeek wants the field on every tool-calling turn */
    const char *raw = host->jdoc_raw(d, r, &len);
    return set_state(out, key, raw, len);
}

static llmsvc_code add_tool_calls(jdoc *d, int calls, llmsvc_response *out, int *n)
{
    for (int c = host->jdoc_first(d, calls); c >= 0; c = host->jdoc_next(d, c)) {
        int fn = host->jdoc_get(d, c, "function");
        if (host->jdoc_type(d, fn) != LLMSVC_JSON_OBJECT)
            continue; /* a custom tool call: we never offer custom tools */
        int args = host->jdoc_get(d, fn, "arguments");
        const char *text = NULL;
        char *copy = NULL;
        if (host->jdoc_type(d, args) == LLMSVC_JSON_STRING) {
            text = host->jdoc_str(d, args, NULL);
        } else if (host->jdoc_type(d, args) == LLMSVC_JSON_OBJECT) {
            /* some servers send the arguments as an object */
            size_t len = 0;
            const char *raw = host->jdoc_raw(d, args, &len);
            if (!(copy = malloc(len + 1)))
                return LLMSVC_E_NOMEM;
            memcpy(copy, raw, len);
            copy[len] = '\0';
            text = copy;
        }
        llmsvc_code rc = host->resp_add_tool_call(out, host->jdoc_get_str(d, c, "id"),
                                                  host->jdoc_get_str(d, fn, "name"), text);
        free(copy);
        if (rc != LLMSVC_OK)
            return rc;
        (*n)++;
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_ok(const llmsvc_call_info *call, jdoc *d, llmsvc_response *out,
                            llmsvc_error **err)
{
    int choice = first_choice(d, host->jdoc_get(d, 0, "choices"));
    if (choice < 0) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "the response has no choices");
        return LLMSVC_E_PROVIDER;
    }
    int cerr = host->jdoc_get(d, choice, "error");
    if (host->jdoc_type(d, cerr) == LLMSVC_JSON_OBJECT)
        return api_error(d, cerr, NULL, 1, err); /* OpenRouter: an error mid-generation */
    int msg = host->jdoc_get(d, choice, "message");
    if (host->jdoc_type(d, msg) != LLMSVC_JSON_OBJECT) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "the response's choice has no message");
        return LLMSVC_E_PROVIDER;
    }
    llmsvc_code rc;
    const char *id = host->jdoc_get_str(d, 0, "id"), *model = host->jdoc_get_str(d, 0, "model");
    if ((id && *id && (rc = host->resp_set(out, LLMSVC_RESP_ID, id)) != LLMSVC_OK) ||
        (model && *model && (rc = host->resp_set(out, LLMSVC_RESP_MODEL, model)) != LLMSVC_OK))
        return rc;
    size_t len = 0;
    const char *key = NULL;
    int r = reasoning_node(d, msg, &key);
    const char *s = r >= 0 ? host->jdoc_str(d, r, &len) : NULL;
    if (s && len && (rc = host->resp_append_reasoning(out, s, len)) != LLMSVC_OK)
        return rc;
    int content = host->jdoc_get(d, msg, "content");
    if (host->jdoc_type(d, content) == LLMSVC_JSON_STRING) {
        s = host->jdoc_str(d, content, &len);
        if (s && len && (rc = host->resp_append_text(out, s, len)) != LLMSVC_OK)
            return rc;
    } else if (host->jdoc_type(d, content) == LLMSVC_JSON_ARRAY &&
               (rc = content_list(d, content, resp_text, resp_reasoning, out)) != LLMSVC_OK) {
        return rc;
    }
    int refused = 0;
    s = host->jdoc_str(d, host->jdoc_get(d, msg, "refusal"), &len);
    if (s && len) {
        refused = 1;
        if ((rc = host->resp_append_text(out, s, len)) != LLMSVC_OK)
            return rc;
    }
    int n_tools = 0;
    int calls = host->jdoc_get(d, msg, "tool_calls");
    if (host->jdoc_type(d, calls) == LLMSVC_JSON_ARRAY &&
        (rc = add_tool_calls(d, calls, out, &n_tools)) != LLMSVC_OK)
        return rc;
    llmsvc_usage usage = LLMSVC_USAGE_INIT;
    if (read_usage(d, usage_node(d, 0), &usage) &&
        (rc = host->resp_set_usage(out, &usage)) != LLMSVC_OK)
        return rc;
    if ((rc = message_state(call, d, msg, n_tools > 0, out)) != LLMSVC_OK)
        return rc;
    char buf[64];
    return host->resp_set(out, LLMSVC_RESP_FINISH_REASON,
                          finish_reason(host->jdoc_get_str(d, choice, "finish_reason"), n_tools > 0,
                                        refused, buf, sizeof buf));
}

static llmsvc_code parse_response(void *state, const llmsvc_call_info *call,
                                  const llmsvc_http_response *in, llmsvc_response *out,
                                  llmsvc_error **err)
{
    (void)state;
    size_t len;
    const char *text = host->http_body(in, &len);
    int status = host->http_status(in);
    int ok = status >= 200 && status < 300;
    jdoc *d = NULL;
    llmsvc_code rc = host->jdoc_parse(text, len, &d, err);
    if (rc != LLMSVC_OK)
        return rc; /* for an error status the core quotes the body */
    if (error_body(d, ok, &rc, err)) {
        /* an error body (any status) */
    } else if (!ok) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "an error answer without an error message");
        rc = LLMSVC_E_PROVIDER;
    } else if (host->jdoc_type(d, 0) != LLMSVC_JSON_OBJECT) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "the response body is not a JSON object");
        rc = LLMSVC_E_PROVIDER;
    } else {
        rc = parse_ok(call, d, out, err);
    }
    host->jdoc_free(d);
    return rc;
}

/* ================================================================ streams */

typedef struct tool_slot {
    int wire_index; /* the server's index */
    int index;      /* ours: distinct per call */
    char *id;
    int has_name;
} tool_slot;

typedef struct chat_stream {
    int finished; /* a finish_reason was seen (stream_done called) */
    int closed;   /* [DONE] was seen */
    int refused;
    int have_id, have_model;
    tool_slot *slots;
    size_t n_slots;
    int next_index; /* the next index of our own */
    int last_slot;  /* the slot an index-less argument piece belongs to */
    sbuf reasoning; /* the reasoning text, for the state */
    const char *reasoning_key;
    json_object *details; /* reasoning_details merged by index */
} chat_stream;

static void stream_free(void *state, void *stream_state)
{
    (void)state;
    chat_stream *st = stream_state;
    if (!st)
        return;
    for (size_t i = 0; i < st->n_slots; i++)
        free(st->slots[i].id);
    free(st->slots);
    sb_free(&st->reasoning);
    json_object_put(st->details);
    free(st);
}

static tool_slot *slot_for_wire(chat_stream *st, int wire_index)
{
    for (size_t i = st->n_slots; i-- > 0;) {
        if (st->slots[i].wire_index == wire_index)
            return &st->slots[i];
    }
    return NULL;
}

static tool_slot *new_slot(chat_stream *st, int wire_index)
{
    tool_slot *nv = realloc(st->slots, (st->n_slots + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    st->slots = nv;
    tool_slot *s = &nv[st->n_slots];
    memset(s, 0, sizeof *s);
    s->wire_index = wire_index;
    s->index = st->next_index++;
    st->last_slot = (int)st->n_slots;
    st->n_slots++;
    return s;
}

/* One item of delta.tool_calls. */
static llmsvc_code tool_delta(chat_stream *st, llmsvc_stream *sink, jdoc *d, int tc)
{
    const char *id = host->jdoc_get_str(d, tc, "id");
    const char *name = host->jdoc_get_str(d, tc, "function.name");
    if (id && !*id)
        id = NULL;
    if (name && !*name)
        name = NULL;
    int idx_node = host->jdoc_get(d, tc, "index");
    tool_slot *s = NULL;
    if (host->jdoc_type(d, idx_node) == LLMSVC_JSON_NUMBER) {
        int wire = (int)host->jdoc_int(d, idx_node, 0);
        s = slot_for_wire(st, wire);
        /* a server that reuses an index for a new call (a new id) */
        if (s && id && s->id && strcmp(s->id, id) != 0)
            s = NULL;
        if (!s && !(s = new_slot(st, wire)))
            return LLMSVC_E_NOMEM;
        st->last_slot = (int)(s - st->slots);
    } else if (id || !st->n_slots) {
        /* no index: a new call when it carries an id */
        if (!(s = new_slot(st, -1)))
            return LLMSVC_E_NOMEM;
    } else {
        s = &st->slots[st->last_slot];
    }
    llmsvc_code rc;
    int fresh = !s->id && !s->has_name;
    if (fresh || (id && !s->id) || (name && !s->has_name)) {
        if (id && !s->id && !(s->id = strdup(id)))
            return LLMSVC_E_NOMEM;
        s->has_name |= name != NULL;
        if ((rc = host->stream_tool_start(sink, s->index, id, name)) != LLMSVC_OK)
            return rc;
    }
    int args = host->jdoc_get(d, tc, "function.arguments");
    size_t len = 0;
    const char *text = NULL;
    if (host->jdoc_type(d, args) == LLMSVC_JSON_STRING)
        text = host->jdoc_str(d, args, &len);
    else if (host->jdoc_type(d, args) == LLMSVC_JSON_OBJECT)
        text = host->jdoc_raw(d, args, &len);
    if (text && len && (rc = host->stream_tool_args(sink, s->index, text, len)) != LLMSVC_OK)
        return rc;
    return LLMSVC_OK;
}

/* Merges streamed reasoning_details items by index: text and summary pieces
 * are joined, other fields (signature, data, format, id) take the last value. */
static llmsvc_code merge_details(chat_stream *st, jdoc *d, int list, llmsvc_error **err)
{
    if (!st->details && !(st->details = json_object_new_array()))
        return LLMSVC_E_NOMEM;
    for (int it = host->jdoc_first(d, list); it >= 0; it = host->jdoc_next(d, it)) {
        if (host->jdoc_type(d, it) != LLMSVC_JSON_OBJECT)
            continue;
        size_t len = 0;
        const char *raw = host->jdoc_raw(d, it, &len);
        json_tokener *tok = json_tokener_new();
        json_object *item =
            tok && len <= (size_t)INT32_MAX ? json_tokener_parse_ex(tok, raw, (int)len) : NULL;
        json_tokener_free(tok);
        if (!json_object_is_type(item, json_type_object)) {
            json_object_put(item);
            *err = host->error_new(LLMSVC_E_PROVIDER,
                                   "a stream event's reasoning_details item is not valid JSON");
            return LLMSVC_E_PROVIDER;
        }
        json_object *idx = NULL, *type = NULL, *match = NULL;
        json_object_object_get_ex(item, "index", &idx);
        json_object_object_get_ex(item, "type", &type);
        size_t n = json_object_array_length(st->details);
        for (size_t i = 0; idx && i < n && !match; i++) {
            json_object *have = json_object_array_get_idx(st->details, i), *hi = NULL, *ht = NULL;
            json_object_object_get_ex(have, "index", &hi);
            json_object_object_get_ex(have, "type", &ht);
            if (hi && json_object_get_int64(hi) == json_object_get_int64(idx) &&
                (!type || !ht || !strcmp(json_object_get_string(type), json_object_get_string(ht))))
                match = have;
        }
        if (!match) {
            if (json_object_array_add(st->details, item) != 0) {
                json_object_put(item);
                return LLMSVC_E_NOMEM;
            }
            continue;
        }
        json_object_object_foreach(item, k, v)
        {
            json_object *old = NULL;
            if (!v)
                continue;
            if ((!strcmp(k, "text") || !strcmp(k, "summary")) &&
                json_object_object_get_ex(match, k, &old) &&
                json_object_is_type(old, json_type_string) &&
                json_object_is_type(v, json_type_string)) {
                sbuf b = {0};
                sb_str(&b, json_object_get_string(old));
                sb_str(&b, json_object_get_string(v));
                json_object *joined =
                    b.failed ? NULL : json_object_new_string_len(b.data, (int)b.len);
                sb_free(&b);
                if (add(match, k, joined)) {
                    json_object_put(item);
                    return LLMSVC_E_NOMEM;
                }
            } else if (add(match, k, json_object_get(v))) {
                json_object_put(item);
                return LLMSVC_E_NOMEM;
            }
        }
        json_object_put(item);
    }
    return LLMSVC_OK;
}

/* The state of a streamed answer, as message_state gives it for a whole one. */
static llmsvc_code stream_state_set(const llmsvc_call_info *call, chat_stream *st,
                                    llmsvc_stream *sink)
{
    state_mode mode = get_state_mode(call);
    if (mode == STATE_NEVER)
        return LLMSVC_OK;
    llmsvc_response *out = host->stream_response(sink);
    if (st->details && json_object_array_length(st->details)) {
        const char *text = json_object_to_json_string_ext(
            st->details, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return text ? set_state(out, "reasoning_details", text, strlen(text)) : LLMSVC_E_NOMEM;
    }
    if (!st->reasoning_key || (mode == STATE_TOOL_CALLS && !st->n_slots))
        return LLMSVC_OK;
    json_object *s = json_object_new_string_len(st->reasoning.data ? st->reasoning.data : "",
                                                (int)st->reasoning.len);
    const char *text = s ? json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE)
                         : NULL;
    llmsvc_code rc = text ? set_state(out, st->reasoning_key, text, strlen(text)) : LLMSVC_E_NOMEM;
    json_object_put(s);
    return rc;
}

/* The end of the answer: tool calls end, the state is set, stream_done. */
static llmsvc_code finish(const llmsvc_call_info *call, chat_stream *st, llmsvc_stream *sink,
                          const char *fr)
{
    if (st->finished)
        return LLMSVC_OK;
    st->finished = 1;
    llmsvc_code rc;
    for (size_t i = 0; i < st->n_slots; i++) {
        if ((rc = host->stream_tool_end(sink, st->slots[i].index)) != LLMSVC_OK)
            return rc;
    }
    if ((rc = stream_state_set(call, st, sink)) != LLMSVC_OK)
        return rc;
    char buf[64];
    return host->stream_done(sink,
                             finish_reason(fr, st->n_slots > 0, st->refused, buf, sizeof buf));
}

static llmsvc_code stream_text_cb(void *sink, const char *s, size_t n)
{
    return host->stream_text(sink, s, n);
}

static llmsvc_code stream_reasoning_cb(void *sink, const char *s, size_t n)
{
    return host->stream_reasoning(sink, s, n);
}

static llmsvc_code delta_event(chat_stream *st, llmsvc_stream *sink, jdoc *d, int delta,
                               llmsvc_error **err)
{
    llmsvc_code rc;
    size_t len = 0;
    const char *key = NULL;
    int r = reasoning_node(d, delta, &key);
    const char *s = r >= 0 ? host->jdoc_str(d, r, &len) : NULL;
    if (s && !st->reasoning_key)
        st->reasoning_key = key;
    if (s && len) {
        sb_add(&st->reasoning, s, len);
        if (st->reasoning.failed)
            return LLMSVC_E_NOMEM;
        if ((rc = host->stream_reasoning(sink, s, len)) != LLMSVC_OK)
            return rc;
    }
    int details = host->jdoc_get(d, delta, "reasoning_details");
    if (host->jdoc_type(d, details) == LLMSVC_JSON_ARRAY &&
        (rc = merge_details(st, d, details, err)) != LLMSVC_OK)
        return rc;
    int content = host->jdoc_get(d, delta, "content");
    if (host->jdoc_type(d, content) == LLMSVC_JSON_STRING) {
        s = host->jdoc_str(d, content, &len);
        if (s && len && (rc = host->stream_text(sink, s, len)) != LLMSVC_OK)
            return rc;
    } else if (host->jdoc_type(d, content) == LLMSVC_JSON_ARRAY &&
               (rc = content_list(d, content, stream_text_cb, stream_reasoning_cb, sink)) !=
                   LLMSVC_OK) {
        return rc;
    }
    s = host->jdoc_str(d, host->jdoc_get(d, delta, "refusal"), &len);
    if (s && len) {
        st->refused = 1;
        if ((rc = host->stream_text(sink, s, len)) != LLMSVC_OK)
            return rc;
    }
    int calls = host->jdoc_get(d, delta, "tool_calls");
    if (host->jdoc_type(d, calls) == LLMSVC_JSON_ARRAY) {
        for (int tc = host->jdoc_first(d, calls); tc >= 0; tc = host->jdoc_next(d, tc)) {
            if ((rc = tool_delta(st, sink, d, tc)) != LLMSVC_OK)
                return rc;
        }
    }
    return LLMSVC_OK;
}

static llmsvc_code chunk_event(const llmsvc_call_info *call, chat_stream *st, llmsvc_stream *sink,
                               jdoc *d, llmsvc_error **err)
{
    llmsvc_code rc;
    llmsvc_response *resp = host->stream_response(sink);
    const char *id = host->jdoc_get_str(d, 0, "id"), *model = host->jdoc_get_str(d, 0, "model");
    if (!st->have_id && id && *id) {
        if ((rc = host->resp_set(resp, LLMSVC_RESP_ID, id)) != LLMSVC_OK)
            return rc;
        st->have_id = 1;
    }
    if (!st->have_model && model && *model) {
        if ((rc = host->resp_set(resp, LLMSVC_RESP_MODEL, model)) != LLMSVC_OK)
            return rc;
        st->have_model = 1;
    }
    int choice = first_choice(d, host->jdoc_get(d, 0, "choices"));
    if (choice >= 0) {
        int cerr = host->jdoc_get(d, choice, "error");
        if (host->jdoc_type(d, cerr) == LLMSVC_JSON_OBJECT)
            return api_error(d, cerr, NULL, 1, err);
        int delta = host->jdoc_get(d, choice, "delta");
        if (host->jdoc_type(d, delta) == LLMSVC_JSON_OBJECT &&
            (rc = delta_event(st, sink, d, delta, err)) != LLMSVC_OK)
            return rc;
    }
    llmsvc_usage usage = LLMSVC_USAGE_INIT;
    if (read_usage(d, usage_node(d, 0), &usage) &&
        (rc = host->stream_usage(sink, &usage)) != LLMSVC_OK)
        return rc;
    if (choice >= 0) {
        const char *fr = host->jdoc_get_str(d, choice, "finish_reason");
        if (fr && *fr && (rc = finish(call, st, sink, fr)) != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_event(void *state, const llmsvc_call_info *call,
                               const llmsvc_sse_event *ev, llmsvc_stream *sink, void **stream_state,
                               llmsvc_error **err)
{
    (void)state;
    chat_stream *st = *stream_state;
    if (!st) {
        if (!(st = calloc(1, sizeof *st)))
            return LLMSVC_E_NOMEM;
        *stream_state = st;
    }
    if (st->closed)
        return LLMSVC_OK;
    const char *data = ev->data;
    size_t len = ev->data_len;
    while (len && (*data == ' ' || *data == '\t' || *data == '\r' || *data == '\n')) {
        data++;
        len--;
    }
    while (len && (data[len - 1] == ' ' || data[len - 1] == '\t' || data[len - 1] == '\r' ||
                   data[len - 1] == '\n'))
        len--;
    if (!len)
        return LLMSVC_OK; /* a keep-alive */
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        st->closed = 1;
        return finish(call, st, sink, NULL);
    }
    jdoc *d = NULL;
    llmsvc_code rc = host->jdoc_parse(data, len, &d, err);
    if (rc != LLMSVC_OK)
        return rc;
    if (host->jdoc_type(d, 0) != LLMSVC_JSON_OBJECT) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "a stream event is not a JSON object");
        rc = LLMSVC_E_PROVIDER;
    } else if (error_body(d, 1, &rc, err)) {
        /* an error event: {"error": {...}} (an `event: error` carries the same) */
    } else if (is(ev->event, "error")) {
        rc = api_error(d, 0, NULL, 1, err);
    } else {
        rc = chunk_event(call, st, sink, d, err);
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

LLMSVC_PLUGIN_DEFINE_API(PROTOCOL, "1.0.0",
                         "OpenAI Chat Completions and compatible servers (POST /chat/completions)",
                         ops, host);
