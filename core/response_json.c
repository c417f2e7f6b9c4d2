/* response_json — a response as JSON (llmsvc_response_to_json) and back
 * (llmsvc_response_from_json: the response cache's second level, a job's
 * result). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "error.h"
#include "jdoc.h"
#include "response.h"

static json_object *count(int64_t v)
{
    return v < 0 ? NULL : json_object_new_int64(v);
}

/* A double printed with fmt rather than json-c's 17 significant digits. */
static json_object *number(double v, const char *fmt)
{
    char s[64];
    snprintf(s, sizeof s, fmt, v);
    return json_object_new_double_s(v, s);
}

json_object *response_to_json_object(const llmsvc_response *r)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "id", json_object_new_string(llmsvc_response_id(r)));
    json_object_object_add(o, "provider", json_object_new_string(llmsvc_response_provider(r)));
    json_object_object_add(o, "model", json_object_new_string(llmsvc_response_model(r)));
    json_object_object_add(o, "message",
                           json_object_new_string_len(buf_cstr(&r->text), (int)r->text.len));
    json_object_object_add(o, "finish_reason",
                           json_object_new_string(llmsvc_response_finish_reason(r)));
    json_object_object_add(o, "input_tokens", count(r->tokens[LLMSVC_TOKENS_INPUT]));
    json_object_object_add(o, "output_tokens", count(r->tokens[LLMSVC_TOKENS_OUTPUT]));
    json_object_object_add(o, "reasoning_tokens", count(r->tokens[LLMSVC_TOKENS_REASONING]));
    json_object_object_add(o, "cached_input_tokens",
                           count(r->tokens[LLMSVC_TOKENS_CACHED_INPUT]));
    json_object_object_add(o, "cache_write_tokens", count(r->tokens[LLMSVC_TOKENS_CACHE_WRITE]));
    json_object_object_add(o, "total_tokens", count(r->tokens[LLMSVC_TOKENS_TOTAL]));
    json_object_object_add(o, "cost_usd",
                           r->cost_usd < 0 ? NULL : number(r->cost_usd, "%.10g"));
    json_object_object_add(o, "latency_ms", number(r->latency_ms, "%.3f"));
    json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
    if (r->has_reasoning)
        json_object_object_add(o, "reasoning", json_object_new_string(buf_cstr(&r->reasoning)));
    json_object *files = json_object_new_array();
    for (size_t i = 0; files && i < r->n_files; i++) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "file_id", json_object_new_string(r->files[i].file_id));
        json_object_object_add(f, "filename", json_object_new_string(r->files[i].filename));
        json_object_object_add(f, "score", number(r->files[i].score, "%.6g"));
        json_object_object_add(f, "text", json_object_new_string(r->files[i].text));
        json_object_array_add(files, f);
    }
    json_object_object_add(o, "file_search_results", files);
    json_object *calls = json_object_new_array();
    for (size_t i = 0; calls && i < r->n_tool_calls; i++) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "id", json_object_new_string(r->tool_calls[i].id));
        json_object_object_add(c, "name", json_object_new_string(r->tool_calls[i].name));
        json_object_object_add(c, "arguments", json_object_new_string(r->tool_calls[i].arguments));
        json_object_array_add(calls, c);
    }
    /* the assistant turn, as a request's "messages" takes it back */
    json_object *turn = json_object_new_object();
    json_object_object_add(turn, "role", json_object_new_string("assistant"));
    json_object_object_add(turn, "content",
                           json_object_new_string_len(buf_cstr(&r->text), (int)r->text.len));
    if (r->n_tool_calls)
        json_object_object_add(turn, "tool_calls", json_object_get(calls));
    if (r->state) {
        /* the state travels as a string: its bytes survive any JSON round trip */
        json_object *st = json_object_new_object();
        json_object_object_add(st, "protocol", json_object_new_string(r->state_protocol));
        json_object_object_add(st, "data", json_object_new_string(r->state));
        json_object_object_add(turn, "state", st);
    }
    json_object_object_add(o, "tool_calls", calls);
    json_object_object_add(o, "assistant_message", turn);
    json_object_object_add(o, "cached", json_object_new_boolean(r->cached));
    if (r->route) {
        json_object_object_add(o, "route", json_object_new_string(r->route));
        json_object_object_add(o, "arm", r->arm ? json_object_new_string(r->arm) : NULL);
        json_object *tries = json_object_new_array();
        for (size_t i = 0; tries && i < r->n_tries; i++) {
            const try_info *t = &r->tries[i];
            json_object *j = json_object_new_object();
            json_object_object_add(j, "provider", t->provider ? json_object_new_string(t->provider) : NULL);
            json_object_object_add(j, "model", t->model ? json_object_new_string(t->model) : NULL);
            json_object_object_add(j, "code", json_object_new_string(llmsvc_code_name(t->code)));
            if (t->http_status)
                json_object_object_add(j, "http_status", json_object_new_int(t->http_status));
            if (t->message)
                json_object_object_add(j, "message", json_object_new_string(t->message));
            json_object_object_add(j, "latency_ms", number(t->latency_ms, "%.3f"));
            json_object_array_add(tries, j);
        }
        json_object_object_add(o, "route_attempts", tries);
    }
    return o;
}

LLMSVC_EXTERN llmsvc_code llmsvc_response_to_json(char **out, const llmsvc_response *r)
{
    if (!out || !r)
        return LLMSVC_E_INVALID_ARG;
    json_object *o = response_to_json_object(r);
    if (!o)
        return LLMSVC_E_NOMEM;
    char *s = strdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    if (!s)
        return LLMSVC_E_NOMEM;
    *out = s;
    return LLMSVC_OK;
}

/* ---- back from JSON ---- */

static const char *const token_keys[6] = {"input_tokens",        "output_tokens",
                                          "reasoning_tokens",    "cached_input_tokens",
                                          "cache_write_tokens",  "total_tokens"};

static llmsvc_code take_str(llmsvc_response *r, llmsvc_jdoc *d, const char *key, char **dst)
{
    int n = jdoc_get(d, 0, key);
    if (n < 0 || jdoc_type(d, n) == LLMSVC_JSON_NULL)
        return LLMSVC_OK;
    const char *s = jdoc_str(d, n, NULL);
    if (!s)
        return LLMSVC_E_VALIDATION;
    response_str_free(r, *dst);
    return (*dst = response_str(r, s)) ? LLMSVC_OK : LLMSVC_E_NOMEM;
}

/* A top-level string that may be absent or null (*s NULL), but nothing else. */
static llmsvc_code opt_text(llmsvc_jdoc *d, const char *key, const char **s, size_t *n)
{
    int node = jdoc_get(d, 0, key);
    *s = NULL;
    if (node < 0 || jdoc_type(d, node) == LLMSVC_JSON_NULL)
        return LLMSVC_OK;
    *s = jdoc_str(d, node, n);
    return *s ? LLMSVC_OK : LLMSVC_E_VALIDATION;
}

static llmsvc_code read_lists(llmsvc_jdoc *d, llmsvc_response *r)
{
    llmsvc_code code = LLMSVC_OK;
    int files = jdoc_get(d, 0, "file_search_results");
    for (int f = jdoc_first(d, files); code == LLMSVC_OK && f >= 0; f = jdoc_next(d, f))
        code = response_add_file_result(r, jdoc_get_str(d, f, "file_id"),
                                        jdoc_get_str(d, f, "filename"),
                                        jdoc_num(d, jdoc_get(d, f, "score"), 0),
                                        jdoc_get_str(d, f, "text"));
    int calls = jdoc_get(d, 0, "tool_calls");
    for (int c = jdoc_first(d, calls); code == LLMSVC_OK && c >= 0; c = jdoc_next(d, c)) {
        /* each string is read before the next: jdoc_get_str's text lives in
         * the arena until the document is freed */
        const char *id = jdoc_get_str(d, c, "id"), *name = jdoc_get_str(d, c, "name");
        const char *args = jdoc_get_str(d, c, "arguments");
        if (!name)
            return LLMSVC_E_VALIDATION;
        code = response_add_tool_call(r, id, name, args);
    }
    int st = jdoc_get(d, 0, "assistant_message.state");
    if (code == LLMSVC_OK && st >= 0 && jdoc_type(d, st) == LLMSVC_JSON_OBJECT) {
        const char *proto = jdoc_get_str(d, st, "protocol");
        size_t len;
        const char *data = jdoc_str(d, jdoc_get(d, st, "data"), &len);
        if (!proto || !data)
            return LLMSVC_E_VALIDATION;
        code = response_set_state(r, proto, data, len);
    }
    return code;
}

llmsvc_code response_from_json(const char *json, size_t len, llmsvc_response **out,
                               llmsvc_error **err)
{
    llmsvc_jdoc *d;
    llmsvc_code code = jdoc_parse(json, len, &d, err);
    if (code != LLMSVC_OK)
        return code;
    llmsvc_response *r = response_new();
    if (!r) {
        jdoc_free(d);
        return err_give(err, err_nomem());
    }
    if (jdoc_type(d, 0) != LLMSVC_JSON_OBJECT)
        code = LLMSVC_E_VALIDATION;
    if (code == LLMSVC_OK)
        code = take_str(r, d, "id", &r->id);
    if (code == LLMSVC_OK)
        code = take_str(r, d, "provider", &r->provider);
    if (code == LLMSVC_OK)
        code = take_str(r, d, "model", &r->model);
    if (code == LLMSVC_OK)
        code = take_str(r, d, "finish_reason", &r->finish_reason);
    size_t n = 0;
    const char *text = NULL, *reasoning = NULL;
    if (code == LLMSVC_OK)
        code = opt_text(d, "message", &text, &n);
    if (code == LLMSVC_OK && text && buf_append(&r->text, text, n) < 0)
        code = LLMSVC_E_NOMEM;
    if (code == LLMSVC_OK)
        code = opt_text(d, "reasoning", &reasoning, &n);
    if (code == LLMSVC_OK && reasoning)
        code = response_append_reasoning(r, reasoning, n);
    for (int i = 0; i < 6; i++)
        r->tokens[i] = jdoc_get_int(d, 0, token_keys[i], -1);
    r->cost_usd = jdoc_num(d, jdoc_get(d, 0, "cost_usd"), -1);
    r->latency_ms = jdoc_num(d, jdoc_get(d, 0, "latency_ms"), 0);
    r->attempts = (int)jdoc_get_int(d, 0, "attempts", 0);
    r->cached = jdoc_bool(d, jdoc_get(d, 0, "cached"), 0);
    if (code == LLMSVC_OK)
        code = read_lists(d, r);
    jdoc_free(d);
    if (code != LLMSVC_OK) {
        llmsvc_response_free(r);
        if (code == LLMSVC_E_NOMEM)
            return err_give(err, err_nomem());
        return err_set(err, LLMSVC_E_VALIDATION,
                       "not a response in llmsvc_response_to_json's shape (a field has the "
                       "wrong type)");
    }
    *out = r;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_response_from_json(llmsvc_response **out, const char *json,
                                                    llmsvc_error **err)
{
    if (!out || !json)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_response_from_json: NULL argument");
    return response_from_json(json, strlen(json), out, err);
}
