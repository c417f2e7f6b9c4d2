/* gemini — Google's Gemini API: POST {base_url}/models/{model}:generateContent,
 * and :streamGenerateContent?alt=sse for streams. docs/protocols/gemini.md has
 * the whole mapping; in short:
 *
 * Request: the key in x-goog-api-key; user turns → contents (role "user"; text
 * parts, images as fileData by URL or inlineData for data: URLs); assistant
 * turns → role "model" (their text and functionCall parts, or, when they carry
 * this protocol's state, the model's own parts byte for byte); tool results →
 * functionResponse parts of one user turn; instructions and system/developer
 * turns → systemInstruction; parameters → generationConfig (a spec `wire`
 * path overrides); reasoning_effort → thinkingConfig.thinkingBudget when the
 * spec gives the effort a token budget, else thinkingConfig.thinkingLevel
 * (upper case), never both, with includeThoughts; tools → functionDeclarations
 * (parametersJsonSchema), tool_choice → toolConfig.functionCallingConfig;
 * structured output → responseMimeType + responseJsonSchema; provider_options
 * merged last.
 *
 * Response: candidates[0].content.parts — text, thought text (reasoning),
 * functionCall (tool calls: the API's id, or call_<n>) — the parts array
 * itself as provider state; finishReason mapped (STOP → stop or tool_calls,
 * MAX_TOKENS → length, the safety family → content_filter, others lowercase);
 * usageMetadata. A blocked prompt, or a response blocked before any text,
 * is an API error naming the reason. Error bodies {"error": {code, message,
 * status, details}} keep message, status (type), ErrorInfo reason (code) and
 * the BadRequest field (param).
 *
 * Streaming: every `data:` is a GenerateContentResponse fragment; there is no
 * end sentinel, so the fragment with a finishReason ends the stream.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llmsvc/plugin.h"

#define PROTOCOL "gemini"

static const llmsvc_host *host;

typedef llmsvc_jdoc jdoc;

static int is(const char *s, const char *lit)
{
    return s && strcmp(s, lit) == 0;
}

/* ---- a growable byte buffer ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > ((size_t)-1) / 2)
                goto nomem;
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np)
            goto nomem;
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
nomem:
    b->oom = 1;
    return -1;
}

static int sb_puts(sbuf *b, const char *s)
{
    return sb_put(b, s, strlen(s));
}

/* s as a JSON string literal, quotes included. */
static int sb_json_str(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (sb_put(b, "\"", 1) < 0)
        return -1;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        }
        if (!esc)
            continue;
        if (sb_put(b, s + start, i - start) < 0 || sb_puts(b, esc) < 0)
            return -1;
        start = i + 1;
    }
    if (sb_put(b, s + start, n - start) < 0)
        return -1;
    return sb_put(b, "\"", 1);
}

static void sb_free(sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* JSON text without the whitespace between its tokens (strings untouched):
 * the arguments of a call read the same whether the API pretty-printed its
 * answer or streamed it on one line. malloc'd; NULL when out of memory. */
static char *json_compact(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            *o++ = c;
            if (c == '\\' && i + 1 < n)
                *o++ = s[++i];
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
            *o++ = c;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            *o++ = c;
        }
    }
    *o = '\0';
    return out;
}

/* ================================================================ request */

/* The generationConfig field each parameter goes to, unless the spec says
 * otherwise (reasoning_effort is mapped apart: thinkingConfig). */
static const char *default_wire(const char *name)
{
    static const char *const map[][2] = {
        {"temperature", "generationConfig.temperature"},
        {"top_p", "generationConfig.topP"},
        {"top_k", "generationConfig.topK"},
        {"max_tokens", "generationConfig.maxOutputTokens"},
        {"seed", "generationConfig.seed"},
        {"stop", "generationConfig.stopSequences"},
        {"presence_penalty", "generationConfig.presencePenalty"},
        {"frequency_penalty", "generationConfig.frequencyPenalty"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strcmp(map[i][0], name) == 0)
            return map[i][1];
    }
    return NULL;
}

static llmsvc_code set(json_object *obj, const char *path, json_object *value)
{
    if (!value)
        return LLMSVC_E_NOMEM;
    return host->json_set_path(obj, path, value);
}

/* Adds a member; takes over value. */
static llmsvc_code add(json_object *obj, const char *key, json_object *value)
{
    if (!value)
        return LLMSVC_E_NOMEM;
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return LLMSVC_E_NOMEM;
    }
    return LLMSVC_OK;
}

/* Appends to an array; takes over value. */
static llmsvc_code push(json_object *arr, json_object *value)
{
    if (!value)
        return LLMSVC_E_NOMEM;
    if (json_object_array_add(arr, value) != 0) {
        json_object_put(value);
        return LLMSVC_E_NOMEM;
    }
    return LLMSVC_OK;
}

static json_object *text_part(const char *text)
{
    json_object *p = json_object_new_object();
    if (p && add(p, "text", json_object_new_string(text ? text : "")) != LLMSVC_OK) {
        json_object_put(p);
        return NULL;
    }
    return p;
}

/* A JSON value parsed from exactly text[0..n), or NULL. */
static json_object *parse_exact(const char *text, size_t n)
{
    if (!text || n > (size_t)INT32_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, text, (int)n);
    int ok = json_tokener_get_error(tok) == json_tokener_success;
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    for (size_t i = end; ok && i < n; i++)
        ok = strchr(" \t\r\n", text[i]) != NULL;
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* The MIME type of an image URL, from its extension (image/jpeg when there is
 * none we know: the API requires one). */
static const char *image_mime(const char *url)
{
    static const char *const map[][2] = {
        {"png", "image/png"},   {"jpg", "image/jpeg"},  {"jpeg", "image/jpeg"},
        {"webp", "image/webp"}, {"heic", "image/heic"}, {"heif", "image/heif"},
        {"gif", "image/gif"},
    };
    size_t end = strcspn(url, "?#");
    size_t dot = end;
    while (dot > 0 && url[dot - 1] != '.' && url[dot - 1] != '/')
        dot--;
    if (dot == 0 || url[dot - 1] != '.')
        return "image/jpeg";
    size_t n = end - dot;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (n == strlen(map[i][0]) && strncasecmp(url + dot, map[i][0], n) == 0)
            return map[i][1];
    }
    return "image/jpeg";
}

/* An image part: inlineData for a base64 data: URL, else fileData by URI. */
static json_object *image_part(const char *url)
{
    json_object *part = json_object_new_object(), *data = json_object_new_object();
    if (!part || !data)
        goto nomem;
    const char *b64 = strstr(url, ";base64,");
    if (strncmp(url, "data:", 5) == 0 && b64) {
        if (add(data, "mimeType", json_object_new_string_len(url + 5, (int)(b64 - url - 5))) ||
            add(data, "data", json_object_new_string(b64 + 8)))
            goto nomem;
        if (add(part, "inlineData", data))
            goto nomem_part;
    } else {
        if (add(data, "mimeType", json_object_new_string(image_mime(url))) ||
            add(data, "fileUri", json_object_new_string(url)))
            goto nomem;
        if (add(part, "fileData", data))
            goto nomem_part;
    }
    return part;
nomem:
    json_object_put(data);
nomem_part:
    json_object_put(part);
    return NULL;
}

static llmsvc_code user_turn(const llmsvc_message *m, json_object *parts)
{
    llmsvc_code rc = LLMSVC_OK;
    if (m->content && *m->content)
        rc = push(parts, text_part(m->content));
    for (size_t j = 0; rc == LLMSVC_OK && j < m->n_images; j++)
        rc = push(parts, image_part(m->images[j]));
    if (rc == LLMSVC_OK && json_object_array_length(parts) == 0)
        rc = push(parts, text_part(""));
    return rc;
}

/* Whether an assistant turn's state is this protocol's parts array. */
static int own_state(const llmsvc_message *m)
{
    if (!m->state || !is(m->state_protocol, PROTOCOL))
        return 0;
    const char *s = m->state + strspn(m->state, " \t\r\n");
    return *s == '[';
}

static llmsvc_code model_turn(const llmsvc_message *m, json_object *content, llmsvc_error **err)
{
    if (own_state(m))
        return add(content, "parts", host->json_raw(m->state, strlen(m->state)));
    json_object *parts = json_object_new_array();
    llmsvc_code rc = add(content, "parts", parts);
    if (rc != LLMSVC_OK)
        return rc;
    if (m->content && *m->content)
        rc = push(parts, text_part(m->content));
    for (size_t j = 0; rc == LLMSVC_OK && j < m->n_tool_calls; j++) {
        const llmsvc_tool_call *c = &m->tool_calls[j];
        const char *a = c->arguments && *c->arguments ? c->arguments : "{}";
        json_object *args = parse_exact(a, strlen(a));
        if (!json_object_is_type(args, json_type_object)) {
            json_object_put(args);
            *err = host->error_new(LLMSVC_E_TRANSFORM,
                                   "the arguments of tool call '%s' (%s) are not a JSON object, "
                                   "which Gemini's functionCall.args must be",
                                   c->id ? c->id : "", c->name ? c->name : "");
            return LLMSVC_E_TRANSFORM;
        }
        json_object *fc = json_object_new_object(), *part = json_object_new_object();
        if (!fc || !part) {
            json_object_put(args);
            json_object_put(fc);
            json_object_put(part);
            return LLMSVC_E_NOMEM;
        }
        /* once the part owns fc, one put frees everything */
        if (add(part, "functionCall", fc) != LLMSVC_OK ||
            add(fc, "name", json_object_new_string(c->name ? c->name : "")) != LLMSVC_OK) {
            json_object_put(args);
            json_object_put(part);
            return LLMSVC_E_NOMEM;
        }
        if (add(fc, "args", args) != LLMSVC_OK) {
            json_object_put(part);
            return LLMSVC_E_NOMEM;
        }
        rc = push(parts, part);
    }
    if (rc == LLMSVC_OK && json_object_array_length(parts) == 0)
        rc = push(parts, text_part(""));
    return rc;
}

/* The earlier assistant turn's call that a tool result answers, or NULL. */
static const llmsvc_tool_call *answered_call(const llmsvc_call_info *call, size_t at,
                                             const llmsvc_message **owner)
{
    const char *id = call->messages[at].tool_call_id;
    for (size_t i = at; i-- > 0;) {
        const llmsvc_message *m = &call->messages[i];
        if (!is(m->role, "assistant"))
            continue;
        for (size_t j = 0; j < m->n_tool_calls; j++) {
            if (is(m->tool_calls[j].id, id)) {
                *owner = m;
                return &m->tool_calls[j];
            }
        }
    }
    return NULL;
}

/* Whether the API itself gave this call id: a functionCall part of the
 * turn's own state carries it (ids llmsvc made up are never sent back). */
static int api_call_id(const llmsvc_message *owner, const char *id)
{
    if (!own_state(owner) || !id || !*id)
        return 0;
    json_object *parts = parse_exact(owner->state, strlen(owner->state));
    int found = 0;
    for (size_t i = 0; json_object_is_type(parts, json_type_array) &&
                       i < json_object_array_length(parts) && !found;
         i++) {
        json_object *fc, *v;
        if (json_object_object_get_ex(json_object_array_get_idx(parts, i), "functionCall", &fc) &&
            json_object_object_get_ex(fc, "id", &v) && json_object_is_type(v, json_type_string))
            found = strcmp(json_object_get_string(v), id) == 0;
    }
    json_object_put(parts);
    return found;
}

/* A tool result as a functionResponse part: a JSON object result is the
 * response itself; any other text is {"output": text}. */
static llmsvc_code tool_result(const llmsvc_call_info *call, size_t at, json_object *parts,
                               llmsvc_error **err)
{
    const llmsvc_message *m = &call->messages[at], *owner = NULL;
    const llmsvc_tool_call *c = answered_call(call, at, &owner);
    if (!c) {
        *err = host->error_new(LLMSVC_E_TRANSFORM,
                               "the tool result for call '%s' answers no tool call of an earlier "
                               "assistant turn (Gemini needs the function's name)",
                               m->tool_call_id);
        return LLMSVC_E_TRANSFORM;
    }
    const char *text = m->content ? m->content : "";
    json_object *response = parse_exact(text, strlen(text));
    if (!json_object_is_type(response, json_type_object)) {
        json_object_put(response);
        response = json_object_new_object();
        if (!response || add(response, "output", json_object_new_string(text))) {
            json_object_put(response);
            return LLMSVC_E_NOMEM;
        }
    }
    json_object *fr = json_object_new_object(), *part = json_object_new_object();
    if (!fr || !part ||
        (api_call_id(owner, c->id) && add(fr, "id", json_object_new_string(c->id))) ||
        add(fr, "name", json_object_new_string(c->name))) {
        json_object_put(response);
        goto nomem;
    }
    if (add(fr, "response", response)) /* frees response */
        goto nomem;
    if (add(part, "functionResponse", fr)) {
        json_object_put(part);
        return LLMSVC_E_NOMEM;
    }
    return push(parts, part);
nomem:
    json_object_put(fr);
    json_object_put(part);
    return LLMSVC_E_NOMEM;
}

/* A new turn {"role": role} at the end of contents (which owns it), or NULL. */
static json_object *new_content(const char *role, json_object *contents)
{
    json_object *c = json_object_new_object();
    if (!c || push(contents, c) != LLMSVC_OK)
        return NULL;
    return add(c, "role", json_object_new_string(role)) == LLMSVC_OK ? c : NULL;
}

/* contents: user and model turns; consecutive tool results share one user
 * turn, as Gemini wants the answers to parallel calls together. */
static llmsvc_code build_contents(const llmsvc_call_info *call, json_object *body,
                                  llmsvc_error **err)
{
    json_object *contents = json_object_new_array();
    llmsvc_code rc = add(body, "contents", contents);
    json_object *results = NULL; /* the parts of the open tool-result turn */
    for (size_t i = 0; rc == LLMSVC_OK && i < call->n_messages; i++) {
        const llmsvc_message *m = &call->messages[i];
        if (is(m->role, "system") || is(m->role, "developer"))
            continue; /* systemInstruction */
        if (m->tool_call_id) {
            if (!results) {
                json_object *c = new_content("user", contents);
                if (!c || add(c, "parts", results = json_object_new_array()) != LLMSVC_OK)
                    return LLMSVC_E_NOMEM;
            }
            rc = tool_result(call, i, results, err);
            continue;
        }
        results = NULL;
        int model = is(m->role, "assistant");
        json_object *c = new_content(model ? "model" : "user", contents);
        if (!c)
            return LLMSVC_E_NOMEM;
        if (model) {
            rc = model_turn(m, c, err);
        } else {
            json_object *parts = json_object_new_array();
            if ((rc = add(c, "parts", parts)) == LLMSVC_OK)
                rc = user_turn(m, parts);
        }
    }
    return rc;
}

/* systemInstruction: the instructions, then each system or developer turn. */
static llmsvc_code build_system(const llmsvc_call_info *call, json_object *body)
{
    json_object *parts = NULL;
    llmsvc_code rc = LLMSVC_OK;
    for (size_t i = 0; rc == LLMSVC_OK && i <= call->n_messages; i++) {
        const char *text = NULL;
        if (i == 0)
            text = call->instructions;
        else if (is(call->messages[i - 1].role, "system") ||
                 is(call->messages[i - 1].role, "developer"))
            text = call->messages[i - 1].content;
        if (!text || !*text)
            continue;
        if (!parts) {
            json_object *si = json_object_new_object();
            if (!si || add(body, "systemInstruction", si) != LLMSVC_OK ||
                add(si, "parts", parts = json_object_new_array()) != LLMSVC_OK)
                return LLMSVC_E_NOMEM;
        }
        rc = push(parts, text_part(text));
    }
    return rc;
}

static int option_off(const llmsvc_call_info *call, const char *name)
{
    const char *v = host->call_option(call, name);
    return v && (is(v, "false") || is(v, "no") || is(v, "off") || is(v, "0"));
}

/* reasoning_effort → thinkingConfig: a token budget when the spec gives the
 * value one (Gemini 2.5), else the level in upper case (Gemini 3 and later);
 * includeThoughts unless thinking is off (budget 0) or the spec's
 * include_thoughts option says no. */
static llmsvc_code build_thinking(const llmsvc_call_info *call, json_object *body)
{
    const llmsvc_param *p = host->call_param(call, "reasoning_effort");
    int off = 0;
    llmsvc_code rc = LLMSVC_OK;
    if (p && !p->wire) {
        if (p->budget >= 0) {
            off = p->budget == 0;
            rc = set(body, "generationConfig.thinkingConfig.thinkingBudget",
                     json_object_new_int64(p->budget));
        } else {
            char level[32];
            size_t n = strlen(p->string ? p->string : "");
            if (n >= sizeof level)
                n = sizeof level - 1;
            for (size_t i = 0; i < n; i++) {
                char c = p->string[i];
                level[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
            }
            level[n] = '\0';
            rc = set(body, "generationConfig.thinkingConfig.thinkingLevel",
                     json_object_new_string(level));
        }
    }
    if (rc == LLMSVC_OK && !off && (call->capabilities & LLMSVC_CAP_REASONING) &&
        !option_off(call, "include_thoughts"))
        rc = set(body, "generationConfig.thinkingConfig.includeThoughts",
                 json_object_new_boolean(1));
    return rc;
}

static llmsvc_code build_params(const llmsvc_call_info *call, json_object *body, llmsvc_error **err)
{
    for (size_t i = 0; i < call->n_params; i++) {
        const llmsvc_param *p = &call->params[i];
        if (!p->wire && is(p->name, "reasoning_effort"))
            continue;
        const char *wire = p->wire ? p->wire : default_wire(p->name);
        if (!wire) {
            *err = host->error_new(LLMSVC_E_TRANSFORM,
                                   "the Gemini API has no field for '%s'; give it a `wire` path "
                                   "in the spec of model '%s' or remove it there",
                                   p->name, call->model);
            return LLMSVC_E_TRANSFORM;
        }
        llmsvc_code rc = set(body, wire, host->param_to_json(p));
        if (rc != LLMSVC_OK)
            return rc;
    }
    return build_thinking(call, body);
}

static llmsvc_code build_tools(const llmsvc_call_info *call, json_object *body)
{
    if (call->n_tools) {
        /* each object is owned by its parent as soon as it exists */
        json_object *tools = json_object_new_array(), *group, *decls;
        if (add(body, "tools", tools) != LLMSVC_OK ||
            push(tools, group = json_object_new_object()) != LLMSVC_OK ||
            add(group, "functionDeclarations", decls = json_object_new_array()) != LLMSVC_OK)
            return LLMSVC_E_NOMEM;
        for (size_t i = 0; i < call->n_tools; i++) {
            const llmsvc_tool *t = &call->tools[i];
            json_object *d = json_object_new_object();
            if (!d || push(decls, d) || add(d, "name", json_object_new_string(t->name)) ||
                (t->description && add(d, "description", json_object_new_string(t->description))) ||
                (t->parameters && add(d, "parametersJsonSchema",
                                      host->json_raw(t->parameters, strlen(t->parameters)))))
                return LLMSVC_E_NOMEM;
        }
    }
    if (!call->tool_choice)
        return LLMSVC_OK;
    const char *mode = is(call->tool_choice, "none") ? "NONE"
                       : is(call->tool_choice, "required") || is(call->tool_choice, "tool")
                           ? "ANY"
                           : "AUTO";
    llmsvc_code rc =
        set(body, "toolConfig.functionCallingConfig.mode", json_object_new_string(mode));
    if (rc == LLMSVC_OK && is(call->tool_choice, "tool") && call->tool_choice_name) {
        json_object *names = json_object_new_array();
        if (!names || push(names, json_object_new_string(call->tool_choice_name))) {
            json_object_put(names);
            return LLMSVC_E_NOMEM;
        }
        rc = set(body, "toolConfig.functionCallingConfig.allowedFunctionNames", names);
    }
    return rc;
}

static llmsvc_code build_format(const llmsvc_call_info *call, json_object *body)
{
    if (!call->response_format_schema)
        return LLMSVC_OK;
    llmsvc_code rc =
        set(body, "generationConfig.responseMimeType", json_object_new_string("application/json"));
    if (rc == LLMSVC_OK)
        rc =
            set(body, "generationConfig.responseJsonSchema",
                host->json_raw(call->response_format_schema, strlen(call->response_format_schema)));
    return rc;
}

static llmsvc_code build_request(void *state, const llmsvc_call_info *call,
                                 llmsvc_http_request *out, llmsvc_error **err)
{
    (void)state;
    llmsvc_code rc;
    char url[2048];
    /* a model name with a slash is a resource name already ("tunedModels/x") */
    const char *prefix = strchr(call->model, '/') ? "" : "models/";
    int n =
        snprintf(url, sizeof url, "%s/%s%s%s", call->base_url ? call->base_url : "", prefix,
                 call->model, call->stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    if (!call->base_url || n < 0 || (size_t)n >= sizeof url) {
        *err = host->error_new(LLMSVC_E_CONFIG, "provider '%s' has no usable base_url",
                               call->provider);
        return LLMSVC_E_CONFIG;
    }
    if ((rc = host->http_set_url(out, url)) != LLMSVC_OK)
        return rc;
    if (call->api_key &&
        (rc = host->http_add_header(out, "x-goog-api-key", call->api_key, 1)) != LLMSVC_OK)
        return rc;

    json_object *body = json_object_new_object();
    if (!body)
        return LLMSVC_E_NOMEM;
    if ((rc = build_contents(call, body, err)) != LLMSVC_OK ||
        (rc = build_system(call, body)) != LLMSVC_OK ||
        (rc = build_params(call, body, err)) != LLMSVC_OK ||
        (rc = build_tools(call, body)) != LLMSVC_OK ||
        (rc = build_format(call, body)) != LLMSVC_OK ||
        (call->provider_options &&
         (rc = host->json_merge(body, call->provider_options)) != LLMSVC_OK)) {
        json_object_put(body);
        return rc;
    }
    return host->http_set_json_body(out, body);
}

/* ================================================================ response */

/* An answer being read: a whole one (resp) or a stream (sink), whose parts
 * arrive in one piece or in fragments. */
typedef struct turn {
    llmsvc_response *out; /* the response being built */
    llmsvc_stream *sink;  /* streams: deltas go here */
    int assemble;         /* build the state from fragments (else: the parts' own text) */
    int n_calls;
    size_t text_len; /* answer text so far (reasoning excluded) */
    int have_id, have_model;
    int ended;       /* a finishReason was seen */
    int done;        /* streams: stream_done was called */
    char finish[64]; /* the provider's finishReason */
    int have_usage;
    llmsvc_usage usage;
    sbuf parts;   /* assembled state: parts, comma-separated */
    sbuf run;     /* the text of the open text or thought part */
    int run_kind; /* 0 none, 1 text, 2 thought */
    char *run_sig;
} turn;

static void turn_free(turn *t)
{
    if (!t)
        return;
    sb_free(&t->parts);
    sb_free(&t->run);
    free(t->run_sig);
}

/* "33s", "0.5s" → milliseconds; -1 when unreadable. */
static long duration_ms(const char *s)
{
    if (!s)
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || !is(end, "s") || v < 0 || v > 86400)
        return -1;
    return (long)(v * 1000.0 + 0.5);
}

/* msg with every occurrence of the call's API key replaced (Google echoes a
 * suspended key in its 403 message), into b; msg itself when the key is not
 * in it. */
static const char *without_key(const llmsvc_call_info *call, const char *msg, sbuf *b)
{
    const char *key = call ? call->api_key : NULL;
    size_t klen = key ? strlen(key) : 0;
    if (!msg || klen < 8 || !strstr(msg, key))
        return msg;
    for (const char *p = msg, *hit; *p; p = hit + klen) {
        if (!(hit = strstr(p, key))) {
            sb_puts(b, p);
            break;
        }
        sb_put(b, p, (size_t)(hit - p));
        sb_puts(b, "[redacted API key]");
    }
    return b->oom ? "(the provider's message held the API key and is withheld)" : b->p;
}

/* {"error": {code, message, status, details}} → an API error keeping the
 * message, status (type), ErrorInfo reason or else the code (code), the
 * first BadRequest field (param) and a RetryInfo delay. */
static llmsvc_code api_error_at(const llmsvc_call_info *call, jdoc *d, int error, int status,
                                llmsvc_error **err)
{
    sbuf clean = {0};
    const char *msg = without_key(call, host->jdoc_get_str(d, error, "message"), &clean);
    const char *type = host->jdoc_get_str(d, error, "status");
    int64_t code = host->jdoc_get_int(d, error, "code", 0);
    const char *reason = NULL, *field = NULL;
    long retry_ms = -1;
    int details = host->jdoc_get(d, error, "details");
    for (int x = host->jdoc_first(d, details);
         x >= 0 && host->jdoc_type(d, details) == LLMSVC_JSON_ARRAY; x = host->jdoc_next(d, x)) {
        const char *at = host->jdoc_get_str(d, x, "@type");
        if (!at)
            continue;
        if (strstr(at, "google.rpc.ErrorInfo") && !reason) {
            reason = host->jdoc_get_str(d, x, "reason");
        } else if (strstr(at, "google.rpc.BadRequest") && !field) {
            int fv = host->jdoc_get(d, x, "fieldViolations");
            if (host->jdoc_type(d, fv) == LLMSVC_JSON_ARRAY)
                field = host->jdoc_get_str(d, host->jdoc_first(d, fv), "field");
        } else if (strstr(at, "google.rpc.RetryInfo")) {
            retry_ms = duration_ms(host->jdoc_get_str(d, x, "retryDelay"));
        }
    }
    char codebuf[24];
    if (!reason && code) {
        snprintf(codebuf, sizeof codebuf, "%lld", (long long)code);
        reason = codebuf;
    }
    llmsvc_error *e =
        host->error_new(LLMSVC_E_API, "%s", msg && *msg ? msg : "the provider gave no message");
    sb_free(&clean);
    host->error_set_provider(e, type, reason, field);
    if (status >= 200 && status < 300) /* an error inside a stream: judged by its code */
        host->error_set_retryable(e, code == 408 || code == 429 || code >= 500);
    else if (retry_ms >= 0) /* Google gives the delay in the body, not in retry-after */
        host->error_set_http(e, status, retry_ms);
    *err = e;
    return LLMSVC_E_API;
}

/* The safety categories that blocked something, ", "-separated into b. */
static void blocked_categories(jdoc *d, int ratings, sbuf *b)
{
    if (host->jdoc_type(d, ratings) != LLMSVC_JSON_ARRAY)
        return;
    for (int pass = 0; pass < 2 && !b->len; pass++) {
        for (int r = host->jdoc_first(d, ratings); r >= 0; r = host->jdoc_next(d, r)) {
            const char *cat = host->jdoc_get_str(d, r, "category");
            const char *prob = host->jdoc_get_str(d, r, "probability");
            int hit = pass == 0 ? host->jdoc_bool(d, host->jdoc_get(d, r, "blocked"), 0)
                                : is(prob, "HIGH") || is(prob, "MEDIUM");
            if (!cat || !hit)
                continue;
            if (b->len)
                sb_puts(b, ", ");
            sb_puts(b, cat);
            if (prob) {
                sb_puts(b, " rated ");
                sb_puts(b, prob);
            }
        }
    }
}

/* A prompt or response the API blocked: an API error naming why. */
static llmsvc_code blocked(jdoc *d, const char *what, const char *field, const char *reason,
                           int ratings, const char *detail, llmsvc_error **err)
{
    sbuf cats = {0};
    blocked_categories(d, ratings, &cats);
    llmsvc_error *e =
        host->error_new(LLMSVC_E_API, "the %s was blocked (%s %s%s%s)%s%s", what, field, reason,
                        cats.len ? ": " : "", cats.len ? cats.p : "", detail && *detail ? ": " : "",
                        detail && *detail ? detail : "");
    sb_free(&cats);
    host->error_set_provider(e, is(what, "prompt") ? "prompt_blocked" : "response_blocked", reason,
                             NULL);
    host->error_set_retryable(e, 0);
    *err = e;
    return LLMSVC_E_API;
}

static int filtered(const char *reason)
{
    static const char *const list[] = {"SAFETY",
                                       "RECITATION",
                                       "BLOCKLIST",
                                       "PROHIBITED_CONTENT",
                                       "SPII",
                                       "IMAGE_SAFETY",
                                       "IMAGE_PROHIBITED_CONTENT",
                                       "IMAGE_RECITATION",
                                       "MODEL_ARMOR"};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++) {
        if (is(reason, list[i]))
            return 1;
    }
    return 0;
}

/* finishReason → llmsvc's finish reason (into buf when lowercased). */
static const char *map_finish(const char *reason, int calls, char *buf, size_t n)
{
    if (!reason || !*reason || is(reason, "STOP"))
        return calls ? "tool_calls" : "stop";
    if (is(reason, "MAX_TOKENS"))
        return "length";
    if (filtered(reason))
        return "content_filter";
    size_t i = 0;
    for (; reason[i] && i + 1 < n; i++)
        buf[i] = reason[i] >= 'A' && reason[i] <= 'Z' ? (char)(reason[i] - 'A' + 'a') : reason[i];
    buf[i] = '\0';
    return buf;
}

static void read_usage(jdoc *d, int u, llmsvc_usage *out)
{
    /* proto3 JSON leaves zero counts out: absent means 0 once usage is there */
    int64_t prompt = host->jdoc_get_int(d, u, "promptTokenCount", 0);
    int64_t tool = host->jdoc_get_int(d, u, "toolUsePromptTokenCount", 0);
    int64_t cand = host->jdoc_get_int(d, u, "candidatesTokenCount", 0);
    int64_t thoughts = host->jdoc_get_int(d, u, "thoughtsTokenCount", 0);
    *out = (llmsvc_usage)LLMSVC_USAGE_INIT;
    out->input = prompt + tool;
    out->output = cand + thoughts;
    out->reasoning = thoughts;
    out->cached_input = host->jdoc_get_int(d, u, "cachedContentTokenCount", 0);
    out->cache_write = 0;
    out->total = host->jdoc_get_int(d, u, "totalTokenCount", -1);
}

static llmsvc_code emit_text(turn *t, const char *s, size_t n, int thought)
{
    if (!n)
        return LLMSVC_OK;
    if (t->sink)
        return thought ? host->stream_reasoning(t->sink, s, n) : host->stream_text(t->sink, s, n);
    return thought ? host->resp_append_reasoning(t->out, s, n)
                   : host->resp_append_text(t->out, s, n);
}

static llmsvc_code emit_call(turn *t, const char *id, const char *name, const char *args)
{
    int index = t->n_calls++;
    if (!t->sink)
        return host->resp_add_tool_call(t->out, id, name, args);
    llmsvc_code rc = host->stream_tool_start(t->sink, index, id, name);
    if (rc == LLMSVC_OK)
        rc = host->stream_tool_args(t->sink, index, args, strlen(args));
    if (rc == LLMSVC_OK)
        rc = host->stream_tool_end(t->sink, index);
    return rc;
}

/* ---- the state of fragments: runs of text parts merged into one ---- */

static llmsvc_code state_sep(turn *t)
{
    return t->parts.len && sb_put(&t->parts, ",", 1) < 0 ? LLMSVC_E_NOMEM : LLMSVC_OK;
}

static llmsvc_code flush_run(turn *t)
{
    if (!t->run_kind)
        return LLMSVC_OK;
    if (state_sep(t) != LLMSVC_OK || sb_puts(&t->parts, "{\"text\":") < 0 ||
        sb_json_str(&t->parts, t->run.p ? t->run.p : "", t->run.len) < 0 ||
        (t->run_kind == 2 && sb_puts(&t->parts, ",\"thought\":true") < 0) ||
        (t->run_sig && (sb_puts(&t->parts, ",\"thoughtSignature\":") < 0 ||
                        sb_json_str(&t->parts, t->run_sig, strlen(t->run_sig)) < 0)) ||
        sb_put(&t->parts, "}", 1) < 0)
        return LLMSVC_E_NOMEM;
    t->run.len = 0;
    t->run_kind = 0;
    free(t->run_sig);
    t->run_sig = NULL;
    return LLMSVC_OK;
}

/* A part with nothing but text, thought and thoughtSignature. */
static int plain_text(jdoc *d, int part)
{
    if (host->jdoc_type(d, host->jdoc_get(d, part, "text")) != LLMSVC_JSON_STRING)
        return 0;
    for (int v = host->jdoc_first(d, part); v >= 0; v = host->jdoc_next(d, v)) {
        const char *k = host->jdoc_key(d, v);
        if (!is(k, "text") && !is(k, "thought") && !is(k, "thoughtSignature"))
            return 0;
    }
    return 1;
}

/* Adds a part to the assembled state: consecutive text (or thought) parts of
 * a stream become one part keeping their signature; any other part is kept
 * exactly as it came. */
static llmsvc_code state_add(turn *t, jdoc *d, int part)
{
    if (plain_text(d, part)) {
        size_t n;
        const char *text = host->jdoc_str(d, host->jdoc_get(d, part, "text"), &n);
        int kind = host->jdoc_bool(d, host->jdoc_get(d, part, "thought"), 0) ? 2 : 1;
        const char *sig = host->jdoc_get_str(d, part, "thoughtSignature");
        if (t->run_kind != kind || (sig && t->run_sig && strcmp(sig, t->run_sig) != 0)) {
            if (flush_run(t) != LLMSVC_OK)
                return LLMSVC_E_NOMEM;
            t->run_kind = kind;
        }
        if ((text && sb_put(&t->run, text, n) < 0) ||
            (sig && !t->run_sig && !(t->run_sig = strdup(sig))))
            return LLMSVC_E_NOMEM;
        return LLMSVC_OK;
    }
    size_t n;
    const char *raw = host->jdoc_raw(d, part, &n);
    if (flush_run(t) != LLMSVC_OK || state_sep(t) != LLMSVC_OK || sb_put(&t->parts, raw, n) < 0)
        return LLMSVC_E_NOMEM;
    return LLMSVC_OK;
}

static llmsvc_code set_assembled_state(turn *t)
{
    if (flush_run(t) != LLMSVC_OK)
        return LLMSVC_E_NOMEM;
    if (!t->parts.len)
        return LLMSVC_OK;
    sbuf s = {0};
    llmsvc_code rc = LLMSVC_E_NOMEM;
    if (sb_put(&s, "[", 1) == 0 && sb_put(&s, t->parts.p, t->parts.len) == 0 &&
        sb_put(&s, "]", 1) == 0)
        rc = host->resp_set_state(t->out, PROTOCOL, s.p, s.len);
    sb_free(&s);
    return rc;
}

/* ---- one GenerateContentResponse (a whole answer or a fragment) ---- */

static llmsvc_code take_part(turn *t, jdoc *d, int part)
{
    llmsvc_code rc = LLMSVC_OK;
    int fc = host->jdoc_get(d, part, "functionCall");
    if (host->jdoc_type(d, fc) == LLMSVC_JSON_OBJECT) {
        const char *name = host->jdoc_get_str(d, fc, "name");
        const char *id = host->jdoc_get_str(d, fc, "id");
        char made[32];
        if (!id || !*id) {
            snprintf(made, sizeof made, "call_%d", t->n_calls);
            id = made;
        }
        int a = host->jdoc_get(d, fc, "args");
        size_t n = 0;
        const char *raw = a >= 0 ? host->jdoc_raw(d, a, &n) : NULL;
        char *args = raw ? json_compact(raw, n) : strdup("{}");
        if (!args)
            return LLMSVC_E_NOMEM;
        rc = emit_call(t, id, name ? name : "", args);
        free(args);
    } else {
        size_t n;
        const char *text = host->jdoc_str(d, host->jdoc_get(d, part, "text"), &n);
        int thought = host->jdoc_bool(d, host->jdoc_get(d, part, "thought"), 0);
        if (text) {
            rc = emit_text(t, text, n, thought);
            if (!thought)
                t->text_len += n;
        }
    }
    if (rc == LLMSVC_OK && t->assemble)
        rc = state_add(t, d, part);
    return rc;
}

/* The first candidate (index 0 or none given), or -1. */
static int first_candidate(jdoc *d, int root)
{
    int cands = host->jdoc_get(d, root, "candidates");
    if (host->jdoc_type(d, cands) != LLMSVC_JSON_ARRAY)
        return -1;
    for (int c = host->jdoc_first(d, cands); c >= 0; c = host->jdoc_next(d, c)) {
        if (host->jdoc_get_int(d, c, "index", 0) == 0)
            return c;
    }
    return -1;
}

static llmsvc_code set_field(turn *t, int *have, llmsvc_resp_field f, const char *v)
{
    if (*have || !v || !*v)
        return LLMSVC_OK;
    *have = 1;
    return host->resp_set(t->out, f, v);
}

/* Reads one response object into t. *cand_out: its candidate, or -1. */
static llmsvc_code take_fragment(const llmsvc_call_info *call, turn *t, jdoc *d, int root,
                                 int status, int *cand_out, llmsvc_error **err)
{
    *cand_out = -1;
    int error = host->jdoc_get(d, root, "error");
    if (host->jdoc_type(d, error) == LLMSVC_JSON_OBJECT)
        return api_error_at(call, d, error, status, err);
    llmsvc_code rc;
    if ((rc = set_field(t, &t->have_id, LLMSVC_RESP_ID,
                        host->jdoc_get_str(d, root, "responseId"))) != LLMSVC_OK ||
        (rc = set_field(t, &t->have_model, LLMSVC_RESP_MODEL,
                        host->jdoc_get_str(d, root, "modelVersion"))) != LLMSVC_OK)
        return rc;
    int u = host->jdoc_get(d, root, "usageMetadata");
    if (host->jdoc_type(d, u) == LLMSVC_JSON_OBJECT) {
        read_usage(d, u, &t->usage);
        t->have_usage = 1;
    }
    int cand = first_candidate(d, root);
    if (cand < 0) {
        const char *why = host->jdoc_get_str(d, root, "promptFeedback.blockReason");
        if (why)
            return blocked(d, "prompt", "blockReason", why,
                           host->jdoc_get(d, root, "promptFeedback.safetyRatings"),
                           host->jdoc_get_str(d, root, "promptFeedback.blockReasonMessage"), err);
        return LLMSVC_OK;
    }
    *cand_out = cand;
    int parts = host->jdoc_get(d, cand, "content.parts");
    if (host->jdoc_type(d, parts) == LLMSVC_JSON_ARRAY) {
        for (int p = host->jdoc_first(d, parts); p >= 0; p = host->jdoc_next(d, p)) {
            if ((rc = take_part(t, d, p)) != LLMSVC_OK)
                return rc;
        }
    }
    const char *reason = host->jdoc_get_str(d, cand, "finishReason");
    if (reason && *reason) {
        snprintf(t->finish, sizeof t->finish, "%s", reason);
        t->ended = 1;
        if (filtered(reason) && !t->text_len && !t->n_calls)
            return blocked(d, "response", "finishReason", reason,
                           host->jdoc_get(d, cand, "safetyRatings"),
                           host->jdoc_get_str(d, cand, "finishMessage"), err);
    }
    return LLMSVC_OK;
}

/* ---- whole answers ---- */

static llmsvc_code finish_whole(turn *t)
{
    char buf[64];
    llmsvc_code rc = LLMSVC_OK;
    if (t->have_usage)
        rc = host->resp_set_usage(t->out, &t->usage);
    if (rc == LLMSVC_OK)
        rc = host->resp_set(t->out, LLMSVC_RESP_FINISH_REASON,
                            map_finish(t->finish, t->n_calls, buf, sizeof buf));
    return rc;
}

static llmsvc_code parse_ok(const llmsvc_call_info *call, jdoc *d, int status, llmsvc_response *out,
                            llmsvc_error **err)
{
    turn t;
    memset(&t, 0, sizeof t);
    t.out = out;
    llmsvc_code rc = LLMSVC_OK;
    int cand = -1, seen = 0;
    if (host->jdoc_type(d, 0) == LLMSVC_JSON_ARRAY) {
        /* a stream's fragments in one JSON array (streamGenerateContent
         * without alt=sse): the state is assembled as a stream's is */
        t.assemble = 1;
        for (int f = host->jdoc_first(d, 0); f >= 0 && rc == LLMSVC_OK; f = host->jdoc_next(d, f)) {
            if (host->jdoc_type(d, f) != LLMSVC_JSON_OBJECT)
                continue;
            rc = take_fragment(call, &t, d, f, status, &cand, err);
            seen |= cand >= 0;
        }
        if (rc == LLMSVC_OK)
            rc = set_assembled_state(&t);
    } else {
        rc = take_fragment(call, &t, d, 0, status, &cand, err);
        seen = cand >= 0;
        int parts = host->jdoc_get(d, cand, "content.parts");
        if (rc == LLMSVC_OK && host->jdoc_type(d, parts) == LLMSVC_JSON_ARRAY &&
            host->jdoc_count(d, parts) > 0) {
            size_t n;
            const char *raw = host->jdoc_raw(d, parts, &n);
            rc = host->resp_set_state(out, PROTOCOL, raw, n);
        }
    }
    if (rc == LLMSVC_OK && !seen) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "the answer has no candidates");
        rc = LLMSVC_E_PROVIDER;
    }
    if (rc == LLMSVC_OK)
        rc = finish_whole(&t);
    turn_free(&t);
    return rc;
}

static llmsvc_code parse_response(void *state, const llmsvc_call_info *call,
                                  const llmsvc_http_response *in, llmsvc_response *out,
                                  llmsvc_error **err)
{
    (void)state;
    size_t len;
    const char *text = host->http_body(in, &len);
    int status = host->http_status(in);
    jdoc *d = NULL;
    llmsvc_code rc = host->jdoc_parse(text, len, &d, err);
    if (rc != LLMSVC_OK)
        return rc;
    int type = host->jdoc_type(d, 0);
    if (status < 200 || status >= 300) {
        /* {"error": {...}}, or the same inside an array (streaming endpoints) */
        int root = type == LLMSVC_JSON_ARRAY ? host->jdoc_first(d, 0) : 0;
        int error = host->jdoc_get(d, root, "error");
        if (host->jdoc_type(d, error) == LLMSVC_JSON_OBJECT) {
            rc = api_error_at(call, d, error, status, err);
        } else {
            *err = host->error_new(LLMSVC_E_PROVIDER, "an error answer without an error object");
            rc = LLMSVC_E_PROVIDER;
        }
    } else if (type != LLMSVC_JSON_OBJECT && type != LLMSVC_JSON_ARRAY) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "the response body is not a JSON object");
        rc = LLMSVC_E_PROVIDER;
    } else {
        rc = parse_ok(call, d, status, out, err);
    }
    host->jdoc_free(d);
    return rc;
}

/* ---- streams ---- */

static llmsvc_code end_stream(turn *t)
{
    char buf[64];
    llmsvc_code rc = set_assembled_state(t);
    if (rc == LLMSVC_OK && t->have_usage)
        rc = host->stream_usage(t->sink, &t->usage);
    t->done = 1;
    if (rc == LLMSVC_OK)
        rc = host->stream_done(t->sink, map_finish(t->finish, t->n_calls, buf, sizeof buf));
    return rc;
}

static llmsvc_code parse_event(void *state, const llmsvc_call_info *call,
                               const llmsvc_sse_event *ev, llmsvc_stream *sink, void **stream_state,
                               llmsvc_error **err)
{
    (void)state;
    const char *data = ev->data + strspn(ev->data, " \t\r\n");
    if (!*data || is(data, "[DONE]"))
        return LLMSVC_OK; /* nothing in it (Gemini sends no sentinel; proxies may) */
    turn *t = *stream_state;
    if (!t) {
        if (!(t = calloc(1, sizeof *t)))
            return LLMSVC_E_NOMEM;
        t->sink = sink;
        t->out = host->stream_response(sink);
        t->assemble = 1;
        *stream_state = t;
    }
    jdoc *d = NULL;
    llmsvc_code rc = host->jdoc_parse(ev->data, ev->data_len, &d, err);
    if (rc != LLMSVC_OK)
        return rc;
    if (host->jdoc_type(d, 0) != LLMSVC_JSON_OBJECT) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "a stream event is not a JSON object");
        rc = LLMSVC_E_PROVIDER;
    } else if (t->done) {
        /* after the end: only late usage matters */
        int u = host->jdoc_get(d, 0, "usageMetadata");
        if (host->jdoc_type(d, u) == LLMSVC_JSON_OBJECT) {
            read_usage(d, u, &t->usage);
            rc = host->stream_usage(sink, &t->usage);
        }
    } else {
        int cand;
        rc = take_fragment(call, t, d, 0, 200, &cand, err);
        if (rc == LLMSVC_OK && t->ended)
            rc = end_stream(t);
    }
    host->jdoc_free(d);
    return rc;
}

static void stream_free(void *state, void *stream_state)
{
    (void)state;
    turn_free(stream_state);
    free(stream_state);
}

static const llmsvc_api_ops ops = {
    .size = sizeof(llmsvc_api_ops),
    .name = PROTOCOL,
    .build_request = build_request,
    .parse_response = parse_response,
    .parse_event = parse_event,
    .stream_free = stream_free,
};

LLMSVC_PLUGIN_DEFINE_API("gemini", "1.0.0",
                         "Google Gemini API (models/{model}:generateContent, streamGenerateContent)",
                         ops, host);
