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
    json_object_object_add(body, "input", json_object_new_string(call->prompt));
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

/* ---- parsing ---- */

static llmsvc_code api_error(json_object *error, const char *fallback, llmsvc_error **err)
{
    const char *msg = host->json_get_string(error, "message");
    const char *code = host->json_get_string(error, "code");
    llmsvc_error *e = host->error_new(LLMSVC_E_API, "%s", msg && *msg ? msg : fallback);
    host->error_set_provider(e, host->json_get_string(error, "type"), code,
                             host->json_get_string(error, "param"));
    if (code && (strcmp(code, "server_error") == 0 || strcmp(code, "rate_limit_exceeded") == 0))
        host->error_set_retryable(e, 1);
    *err = e;
    return LLMSVC_E_API;
}

static llmsvc_code parse_message(json_object *item, llmsvc_response *out, int *refused)
{
    json_object *content = host->json_get(item, "content");
    size_t n = json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = host->json_get_string(part, "type");
        const char *text = NULL;
        if (type && strcmp(type, "output_text") == 0) {
            text = host->json_get_string(part, "text");
        } else if (type && strcmp(type, "refusal") == 0) {
            text = host->json_get_string(part, "refusal");
            *refused = 1;
        }
        if (text) {
            llmsvc_code rc = host->resp_append_text(out, text, strlen(text));
            if (rc != LLMSVC_OK)
                return rc;
        }
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_reasoning(json_object *item, llmsvc_response *out, int *seen)
{
    json_object *summary = host->json_get(item, "summary");
    size_t n = json_object_is_type(summary, json_type_array) ? json_object_array_length(summary) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *text = host->json_get_string(json_object_array_get_idx(summary, i), "text");
        if (!text)
            continue;
        llmsvc_code rc;
        if (*seen && (rc = host->resp_append_reasoning(out, "\n\n", 2)) != LLMSVC_OK)
            return rc;
        if ((rc = host->resp_append_reasoning(out, text, strlen(text))) != LLMSVC_OK)
            return rc;
        *seen = 1;
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_file_search(json_object *item, llmsvc_response *out)
{
    json_object *results = host->json_get(item, "results");
    size_t n = json_object_is_type(results, json_type_array) ? json_object_array_length(results) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(results, i);
        json_object *score = host->json_get(r, "score");
        llmsvc_code rc = host->resp_add_file_result(
            out, host->json_get_string(r, "file_id"), host->json_get_string(r, "filename"),
            score ? json_object_get_double(score) : 0.0, host->json_get_string(r, "text"));
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_usage(json_object *root, llmsvc_response *out)
{
    json_object *u = host->json_get(root, "usage");
    if (!json_object_is_type(u, json_type_object))
        return LLMSVC_OK; /* counts stay unknown */
    llmsvc_usage usage = LLMSVC_USAGE_INIT;
    usage.input = host->json_get_int(u, "input_tokens", -1);
    usage.cached_input = host->json_get_int(u, "input_tokens_details.cached_tokens", 0);
    usage.cache_write = host->json_get_int(u, "input_tokens_details.cache_write_tokens", 0);
    usage.output = host->json_get_int(u, "output_tokens", -1);
    usage.reasoning = host->json_get_int(u, "output_tokens_details.reasoning_tokens", 0);
    usage.total = host->json_get_int(u, "total_tokens", -1);
    return host->resp_set_usage(out, &usage);
}

static const char *finish_reason(const char *status, json_object *root, int refused)
{
    if (refused)
        return "refusal";
    if (status && strcmp(status, "incomplete") == 0) {
        const char *why = host->json_get_string(root, "incomplete_details.reason");
        if (why && strcmp(why, "max_output_tokens") == 0)
            return "length";
        return why ? why : "incomplete";
    }
    return "stop";
}

static llmsvc_code parse_ok(json_object *root, llmsvc_response *out, llmsvc_error **err)
{
    const char *status = host->json_get_string(root, "status");
    if (status && strcmp(status, "failed") == 0)
        return api_error(host->json_get(root, "error"), "the response failed", err);
    if (status && strcmp(status, "cancelled") == 0) {
        *err = host->error_new(LLMSVC_E_API, "the response was cancelled");
        return LLMSVC_E_API;
    }
    if (status && (strcmp(status, "in_progress") == 0 || strcmp(status, "queued") == 0)) {
        *err = host->error_new(LLMSVC_E_PROVIDER,
                               "the response is still %s (background mode is not supported)",
                               status);
        return LLMSVC_E_PROVIDER;
    }
    json_object *output = host->json_get(root, "output");
    if (!json_object_is_type(output, json_type_array)) {
        *err = host->error_new(LLMSVC_E_PROVIDER, "the response has no output list");
        return LLMSVC_E_PROVIDER;
    }
    llmsvc_code rc;
    if ((rc = host->resp_set(out, LLMSVC_RESP_ID, host->json_get_string(root, "id"))) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_MODEL, host->json_get_string(root, "model"))) !=
            LLMSVC_OK)
        return rc;
    int refused = 0, reasoning_seen = 0;
    for (size_t i = 0; i < json_object_array_length(output); i++) {
        json_object *item = json_object_array_get_idx(output, i);
        const char *type = host->json_get_string(item, "type");
        if (!type)
            continue;
        if (strcmp(type, "message") == 0)
            rc = parse_message(item, out, &refused);
        else if (strcmp(type, "reasoning") == 0)
            rc = parse_reasoning(item, out, &reasoning_seen);
        else if (strcmp(type, "file_search_call") == 0)
            rc = parse_file_search(item, out);
        if (rc != LLMSVC_OK)
            return rc;
    }
    if ((rc = parse_usage(root, out)) != LLMSVC_OK)
        return rc;
    return host->resp_set(out, LLMSVC_RESP_FINISH_REASON, finish_reason(status, root, refused));
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
    json_object *root = NULL;
    llmsvc_code rc = host->json_parse(text, len, &root, err);
    if (rc != LLMSVC_OK)
        return rc;
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        *err = host->error_new(LLMSVC_E_PROVIDER, "the response body is not a JSON object");
        return LLMSVC_E_PROVIDER;
    }
    if (status < 200 || status >= 300) {
        json_object *error = host->json_get(root, "error");
        if (json_object_is_type(error, json_type_object))
            rc = api_error(error, "the provider gave no message", err);
        else {
            *err = host->error_new(LLMSVC_E_PROVIDER, "an error answer without an error object");
            rc = LLMSVC_E_PROVIDER;
        }
    } else {
        rc = parse_ok(root, out, err);
    }
    json_object_put(root);
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
