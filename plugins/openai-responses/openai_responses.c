/* openai-responses — the OpenAI Responses API (POST {base_url}/responses).
 *
 * Request: prompt → input; instructions; temperature, top_p; max_tokens →
 * max_output_tokens; reasoning_effort → reasoning.effort; verbosity →
 * text.verbosity; a vector store → a file_search tool (vector_store_ids,
 * max_num_results) with include ["file_search_call.results"]. A spec `wire`
 * name overrides any of these; provider_options are merged into the body last.
 *
 * Response: the text of every output_text part of every message item (the
 * wire has no output_text field: that is an SDK convenience), refusals,
 * reasoning summaries, file_search_call results, usage with cached input,
 * cache writes and reasoning tokens. Finish reasons: completed → "stop",
 * incomplete max_output_tokens → "length", content_filter → "content_filter",
 * a refusal → "refusal". status "failed" and error bodies → API errors keeping
 * the provider's message, type, code and param.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "llmsvc/plugin.h"

static const llmsvc_host *host;

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

static llmsvc_code add_file_search(const llmsvc_call_info *call, json_object *body)
{
    json_object *tool = json_object_new_object(), *ids = json_object_new_array(),
                *tools = json_object_new_array(), *include = json_object_new_array();
    if (!tool || !ids || !tools || !include) {
        json_object_put(tool);
        json_object_put(ids);
        json_object_put(tools);
        json_object_put(include);
        return LLMSVC_E_NOMEM;
    }
    json_object_object_add(tool, "type", json_object_new_string("file_search"));
    json_object_array_add(ids, json_object_new_string(call->vector_store_id));
    json_object_object_add(tool, "vector_store_ids", ids);
    if (call->max_num_results > 0)
        json_object_object_add(tool, "max_num_results", json_object_new_int(call->max_num_results));
    json_object_array_add(tools, tool);
    json_object_object_add(body, "tools", tools);
    json_object_array_add(include, json_object_new_string("file_search_call.results"));
    json_object_object_add(body, "include", include);
    return LLMSVC_OK;
}

/* input: the prompt as a string when it is the whole conversation, else a
 * list of turns ({"role", "content"}; images as input_image parts). */
static json_object *build_input(const llmsvc_call_info *call)
{
    if (call->n_messages == 1 && !strcmp(call->messages[0].role, "user") &&
        !call->messages[0].n_images)
        return json_object_new_string(call->messages[0].content ? call->messages[0].content : "");
    json_object *items = json_object_new_array();
    for (size_t i = 0; items && i < call->n_messages; i++) {
        const llmsvc_message *m = &call->messages[i];
        json_object *item = json_object_new_object();
        if (m->tool_call_id) {
            json_object_object_add(item, "type", json_object_new_string("function_call_output"));
            json_object_object_add(item, "call_id", json_object_new_string(m->tool_call_id));
            json_object_object_add(item, "output", json_object_new_string(m->content ? m->content : ""));
        } else if (m->n_images) {
            json_object *parts = json_object_new_array();
            json_object *t = json_object_new_object();
            json_object_object_add(t, "type", json_object_new_string("input_text"));
            json_object_object_add(t, "text", json_object_new_string(m->content ? m->content : ""));
            json_object_array_add(parts, t);
            for (size_t j = 0; j < m->n_images; j++) {
                json_object *img = json_object_new_object();
                json_object_object_add(img, "type", json_object_new_string("input_image"));
                json_object_object_add(img, "image_url", json_object_new_string(m->images[j]));
                json_object_array_add(parts, img);
            }
            json_object_object_add(item, "role", json_object_new_string(m->role));
            json_object_object_add(item, "content", parts);
        } else {
            json_object_object_add(item, "role", json_object_new_string(m->role));
            json_object_object_add(item, "content", json_object_new_string(m->content ? m->content : ""));
        }
        json_object_array_add(items, item);
    }
    return items;
}

static llmsvc_code build_request(void *state, const llmsvc_call_info *call,
                                 llmsvc_http_request *out, llmsvc_error **err)
{
    (void)state;
    llmsvc_code rc;
    char url[2048];
    int n = snprintf(url, sizeof url, "%s/responses", call->base_url ? call->base_url : "");
    if (!call->base_url || n < 0 || (size_t)n >= sizeof url) {
        *err = host->error_new(LLMSVC_E_CONFIG, "provider '%s' has no usable base_url",
                               call->provider);
        return LLMSVC_E_CONFIG;
    }
    if ((rc = host->http_set_url(out, url)) != LLMSVC_OK)
        return rc;
    if (call->api_key) {
        char auth[4096];
        n = snprintf(auth, sizeof auth, "Bearer %s", call->api_key);
        if (n < 0 || (size_t)n >= sizeof auth) {
            *err = host->error_new(LLMSVC_E_CONFIG, "the API key of provider '%s' is too long",
                                   call->provider);
            return LLMSVC_E_CONFIG;
        }
        rc = host->http_add_header(out, "Authorization", auth, 1);
        memset(auth, 0, sizeof auth);
        if (rc != LLMSVC_OK)
            return rc;
    }

    json_object *body = json_object_new_object();
    if (!body)
        return LLMSVC_E_NOMEM;
    json_object_object_add(body, "model", json_object_new_string(call->model));
    json_object *input = build_input(call);
    if (!input) {
        json_object_put(body);
        return LLMSVC_E_NOMEM;
    }
    json_object_object_add(body, "input", input);
    if (call->instructions)
        json_object_object_add(body, "instructions", json_object_new_string(call->instructions));
    for (size_t i = 0; i < call->n_params; i++) {
        const llmsvc_param *p = &call->params[i];
        const char *wire = p->wire ? p->wire : default_wire(p->name);
        if (!wire) {
            json_object_put(body);
            *err = host->error_new(LLMSVC_E_TRANSFORM,
                                   "the Responses API has no field for '%s'; give it a `wire` "
                                   "name in the spec of model '%s' or remove it there",
                                   p->name, call->model);
            return LLMSVC_E_TRANSFORM;
        }
        if ((rc = host->json_set_path(body, wire, host->param_to_json(p))) != LLMSVC_OK) {
            json_object_put(body);
            return rc;
        }
    }
    if (call->vector_store_id && (rc = add_file_search(call, body)) != LLMSVC_OK) {
        json_object_put(body);
        return rc;
    }
    if (call->provider_options &&
        (rc = host->json_merge(body, call->provider_options)) != LLMSVC_OK) {
        json_object_put(body);
        return rc;
    }
    return host->http_set_json_body(out, body);
}

/* ---- parsing (host->jdoc_*: no json-c tree on the hot path) ---- */

typedef llmsvc_jdoc jdoc;

static int is(const char *s, const char *lit)
{
    return s && strcmp(s, lit) == 0;
}

static llmsvc_code api_error(jdoc *d, int error, const char *fallback, llmsvc_error **err)
{
    const char *msg = host->jdoc_get_str(d, error, "message");
    const char *code = host->jdoc_get_str(d, error, "code");
    llmsvc_error *e = host->error_new(LLMSVC_E_API, "%s", msg && *msg ? msg : fallback);
    host->error_set_provider(e, host->jdoc_get_str(d, error, "type"), code,
                             host->jdoc_get_str(d, error, "param"));
    if (is(code, "server_error") || is(code, "rate_limit_exceeded"))
        host->error_set_retryable(e, 1);
    *err = e;
    return LLMSVC_E_API;
}

static llmsvc_code append(llmsvc_code (*fn)(llmsvc_response *, const char *, size_t),
                          llmsvc_response *out, const char *text, size_t len)
{
    return text ? fn(out, text, len) : LLMSVC_OK;
}

static llmsvc_code parse_message(jdoc *d, int item, llmsvc_response *out, int *refused)
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
            *refused = 1;
        }
        llmsvc_code rc = append(host->resp_append_text, out, text, len);
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_reasoning(jdoc *d, int item, llmsvc_response *out, int *seen)
{
    int summary = host->jdoc_get(d, item, "summary");
    if (host->jdoc_type(d, summary) != LLMSVC_JSON_ARRAY)
        return LLMSVC_OK;
    for (int s = host->jdoc_first(d, summary); s >= 0; s = host->jdoc_next(d, s)) {
        size_t len;
        const char *text = host->jdoc_str(d, host->jdoc_get(d, s, "text"), &len);
        if (!text)
            continue;
        llmsvc_code rc;
        if (*seen && (rc = host->resp_append_reasoning(out, "\n\n", 2)) != LLMSVC_OK)
            return rc;
        if ((rc = host->resp_append_reasoning(out, text, len)) != LLMSVC_OK)
            return rc;
        *seen = 1;
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_file_search(jdoc *d, int item, llmsvc_response *out)
{
    int results = host->jdoc_get(d, item, "results");
    if (host->jdoc_type(d, results) != LLMSVC_JSON_ARRAY)
        return LLMSVC_OK; /* null unless include asked for them */
    for (int r = host->jdoc_first(d, results); r >= 0; r = host->jdoc_next(d, r)) {
        llmsvc_code rc = host->resp_add_file_result(
            out, host->jdoc_get_str(d, r, "file_id"), host->jdoc_get_str(d, r, "filename"),
            host->jdoc_num(d, host->jdoc_get(d, r, "score"), 0.0), host->jdoc_get_str(d, r, "text"));
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_usage(jdoc *d, llmsvc_response *out)
{
    int u = host->jdoc_get(d, 0, "usage");
    if (host->jdoc_type(d, u) != LLMSVC_JSON_OBJECT)
        return LLMSVC_OK; /* counts stay unknown */
    llmsvc_usage usage = LLMSVC_USAGE_INIT;
    usage.input = host->jdoc_get_int(d, u, "input_tokens", -1);
    usage.cached_input = host->jdoc_get_int(d, u, "input_tokens_details.cached_tokens", 0);
    usage.cache_write = host->jdoc_get_int(d, u, "input_tokens_details.cache_write_tokens", 0);
    usage.output = host->jdoc_get_int(d, u, "output_tokens", -1);
    usage.reasoning = host->jdoc_get_int(d, u, "output_tokens_details.reasoning_tokens", 0);
    usage.total = host->jdoc_get_int(d, u, "total_tokens", -1);
    return host->resp_set_usage(out, &usage);
}

static const char *finish_reason(jdoc *d, const char *status, int refused)
{
    if (refused)
        return "refusal";
    if (is(status, "incomplete")) {
        const char *why = host->jdoc_get_str(d, 0, "incomplete_details.reason");
        if (is(why, "max_output_tokens"))
            return "length";
        return why ? why : "incomplete";
    }
    return "stop";
}

static llmsvc_code parse_ok(jdoc *d, llmsvc_response *out, llmsvc_error **err)
{
    const char *status = host->jdoc_get_str(d, 0, "status");
    if (is(status, "failed"))
        return api_error(d, host->jdoc_get(d, 0, "error"), "the response failed", err);
    if (is(status, "cancelled")) {
        *err = host->error_new(LLMSVC_E_API, "the response was cancelled");
        return LLMSVC_E_API;
    }
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
    llmsvc_code rc;
    if ((rc = host->resp_set(out, LLMSVC_RESP_ID, host->jdoc_get_str(d, 0, "id"))) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_MODEL, host->jdoc_get_str(d, 0, "model"))) !=
            LLMSVC_OK)
        return rc;
    int refused = 0, reasoning_seen = 0;
    for (int item = host->jdoc_first(d, output); item >= 0; item = host->jdoc_next(d, item)) {
        const char *type = host->jdoc_get_str(d, item, "type");
        if (is(type, "message"))
            rc = parse_message(d, item, out, &refused);
        else if (is(type, "reasoning"))
            rc = parse_reasoning(d, item, out, &reasoning_seen);
        else if (is(type, "file_search_call"))
            rc = parse_file_search(d, item, out);
        if (rc != LLMSVC_OK)
            return rc;
    }
    if ((rc = parse_usage(d, out)) != LLMSVC_OK)
        return rc;
    return host->resp_set(out, LLMSVC_RESP_FINISH_REASON, finish_reason(d, status, refused));
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

static const llmsvc_api_ops ops = {
    .size = sizeof(llmsvc_api_ops),
    .name = "openai-responses",
    .build_request = build_request,
    .parse_response = parse_response,
};

static llmsvc_code plugin_init(const llmsvc_host *h, llmsvc_registrar *reg, llmsvc_error **err)
{
    if (h->size < sizeof(llmsvc_host)) {
        *err = h->error_new(LLMSVC_E_CONFIG, "the core's host table is older than this plugin");
        return LLMSVC_E_CONFIG;
    }
    host = h;
    return h->register_api(reg, &ops, err);
}

LLMSVC_PLUGIN_DEFINE("openai-responses", "1.0.0", "OpenAI Responses API (POST /responses)",
                     plugin_init);
