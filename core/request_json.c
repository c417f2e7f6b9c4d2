/* request_json — the LLMCallRequest JSON shape ↔ llmsvc_request.
 * Unknown fields are errors (naming the field and the closest known one);
 * null means "not set", as the original module's serializer wrote it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "error.h"
#include "request.h"
#include "suggest.h"

typedef struct jctx {
    llmsvc_request *r;
    llmsvc_error *err; /* first error */
} jctx;

static int fail(jctx *c, const char *field, const char *fmt, const char *detail)
{
    if (!c->err) {
        c->err = err_new(LLMSVC_E_VALIDATION, fmt, field, detail ? detail : "");
        err_set_provider(c->err, NULL, NULL, field);
    }
    return -1;
}

static int unknown_field(jctx *c, const char *path, const char *key, const char *const *known,
                         size_t n)
{
    if (c->err)
        return -1;
    const char *best = suggest_best(key, known, n);
    if (best)
        c->err = err_new(LLMSVC_E_VALIDATION, "unknown field '%s%s'; did you mean '%s%s'?", path,
                         key, path, best);
    else
        c->err = err_new(LLMSVC_E_VALIDATION, "unknown field '%s%s'", path, key);
    char field[256];
    snprintf(field, sizeof field, "%s%s", path, key);
    err_set_provider(c->err, NULL, NULL, field);
    return -1;
}

static int get_string(jctx *c, json_object *v, const char *field, char **dst)
{
    if (json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return fail(c, field, "'%s' must be a string%s", NULL);
    char *p = strdup(json_object_get_string(v));
    if (!p)
        return fail(c, field, "out of memory at '%s'%s", NULL);
    free(*dst);
    *dst = p;
    return 0;
}

static int get_param(jctx *c, json_object *v, const char *field, param_id id)
{
    if (json_object_is_type(v, json_type_null))
        return 0;
    req_value *rv = &c->r->params[id];
    switch (param_defs[id].type) {
    case LLMSVC_PARAM_FLOAT:
    case LLMSVC_PARAM_INT: {
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
            return fail(c, field, "'%s' must be a number%s", NULL);
        double d = json_object_get_double(v);
        if (param_defs[id].type == LLMSVC_PARAM_INT && (d != floor(d) || fabs(d) > 9e15))
            return fail(c, field, "'%s' must be a whole number%s", NULL);
        rv->set = 1;
        rv->number = d;
        return 0;
    }
    case LLMSVC_PARAM_STRING_LIST: {
        if (json_object_is_type(v, json_type_string)) {
            if (llmsvc_request_add_stop(c->r, json_object_get_string(v)) != LLMSVC_OK)
                return fail(c, field, "out of memory at '%s'%s", NULL);
            return 0;
        }
        if (!json_object_is_type(v, json_type_array))
            return fail(c, field, "'%s' must be a string or a list of strings%s", NULL);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *s = json_object_array_get_idx(v, i);
            if (!json_object_is_type(s, json_type_string))
                return fail(c, field, "'%s' must be a list of strings%s", NULL);
            if (llmsvc_request_add_stop(c->r, json_object_get_string(s)) != LLMSVC_OK)
                return fail(c, field, "out of memory at '%s'%s", NULL);
        }
        return 0;
    }
    default:
        if (!json_object_is_type(v, json_type_string))
            return fail(c, field, "'%s' must be a string%s", NULL);
        if (llmsvc_request_set_string(c->r, param_defs[id].name, json_object_get_string(v)) !=
            LLMSVC_OK)
            return fail(c, field, "out of memory at '%s'%s", NULL);
        return 0;
    }
}

/* {"effort": ...} or {"verbosity": ...}: one known key into one parameter. */
static int get_nested(jctx *c, json_object *v, const char *field, const char *key, param_id id)
{
    if (json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return fail(c, field, "'%s' must be an object%s", NULL);
    json_object_object_foreach(v, k, val)
    {
        if (strcmp(k, key) != 0) {
            char path[64];
            snprintf(path, sizeof path, "%s.", field);
            const char *known[] = {key};
            return unknown_field(c, path, k, known, 1);
        }
        char f[64];
        snprintf(f, sizeof f, "%s.%s", field, key);
        if (get_param(c, val, f, id) < 0)
            return -1;
    }
    return 0;
}

static int parse_model_spec(jctx *c, json_object *o)
{
    static const char *const known[] = {
        "model",    "provider",         "temperature",       "top_p",   "top_k",
        "max_tokens", "seed",           "stop",              "reasoning", "text",
        "reasoning_effort", "verbosity", "presence_penalty", "frequency_penalty"};
    const char *path = "llm.llm_model_spec.";
    if (json_object_is_type(o, json_type_null))
        return 0;
    if (!json_object_is_type(o, json_type_object))
        return fail(c, "llm.llm_model_spec", "'%s' must be an object%s", NULL);
    json_object_object_foreach(o, k, v)
    {
        char field[96];
        snprintf(field, sizeof field, "%s%s", path, k);
        int rc;
        if (!strcmp(k, "model"))
            rc = get_string(c, v, field, &c->r->model);
        else if (!strcmp(k, "provider"))
            rc = get_string(c, v, field, &c->r->provider);
        else if (!strcmp(k, "reasoning"))
            rc = get_nested(c, v, field, "effort", P_REASONING_EFFORT);
        else if (!strcmp(k, "text"))
            rc = get_nested(c, v, field, "verbosity", P_VERBOSITY);
        else if (param_lookup(k) >= 0)
            rc = get_param(c, v, field, (param_id)param_lookup(k));
        else
            rc = unknown_field(c, path, k, known, sizeof known / sizeof *known);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int conv_field(jctx *c, const char *k, json_object *v)
{
    llmsvc_error *e = NULL;
    llmsvc_code rc = !strcmp(k, "headers") ? conv_json_headers(c->r, v, &e)
                                           : conv_json_parse(c->r, k, v, &e);
    if (rc == LLMSVC_OK)
        return 0;
    if (!c->err)
        c->err = e;
    else
        llmsvc_error_free(e);
    return -1;
}

static int parse_llm(jctx *c, json_object *o)
{
    static const char *const known[] = {"prompt",      "instructions", "vector_store_id",
                                        "llm_model_spec", "messages", "tools",
                                        "tool_choice", "parallel_tool_calls", "response_format"};
    if (!json_object_is_type(o, json_type_object))
        return fail(c, "llm", "'%s' must be an object%s", NULL);
    json_object_object_foreach(o, k, v)
    {
        int rc;
        if (!strcmp(k, "prompt"))
            rc = get_string(c, v, "llm.prompt", &c->r->prompt);
        else if (!strcmp(k, "instructions"))
            rc = get_string(c, v, "llm.instructions", &c->r->instructions);
        else if (!strcmp(k, "vector_store_id"))
            rc = get_string(c, v, "llm.vector_store_id", &c->r->vector_store_id);
        else if (!strcmp(k, "llm_model_spec"))
            rc = parse_model_spec(c, v);
        else if (conv_json_key(k))
            rc = conv_field(c, k, v);
        else
            rc = unknown_field(c, "llm.", k, known, sizeof known / sizeof *known);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int parse_root(jctx *c, json_object *o)
{
    static const char *const known[] = {"llm",        "max_num_results", "provider_options",
                                        "project_id", "organization_id", "headers",
                                        "max_retries", "timeout_ms", "route", "user",
                                        "sticky_key", "no_cache"};
    if (!json_object_is_type(o, json_type_object))
        return fail(c, "request", "the %s must be a JSON object%s", NULL);
    json_object_object_foreach(o, k, v)
    {
        int rc = 0;
        if (!strcmp(k, "llm")) {
            rc = parse_llm(c, v);
        } else if (!strcmp(k, "max_num_results")) {
            if (json_object_is_type(v, json_type_null))
                continue;
            if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 ||
                json_object_get_int64(v) > 1000)
                rc = fail(c, "max_num_results", "'%s' must be a whole number from 1 to 1000%s",
                          NULL);
            else
                c->r->max_num_results = (int)json_object_get_int64(v);
        } else if (!strcmp(k, "max_retries") || !strcmp(k, "timeout_ms")) {
            if (json_object_is_type(v, json_type_null))
                continue;
            int retries = !strcmp(k, "max_retries");
            int64_t n = json_object_get_int64(v);
            if (!json_object_is_type(v, json_type_int) || n < 0 ||
                n > (retries ? 100 : 86400000))
                rc = fail(c, k,
                          retries ? "'%s' must be a whole number from 0 to 100%s"
                                  : "'%s' must be milliseconds from 0 to 86400000%s",
                          NULL);
            else if (retries)
                c->r->max_retries = (int)n;
            else
                c->r->timeout_ms = (long)n;
        } else if (!strcmp(k, "headers")) {
            rc = conv_field(c, k, v);
        } else if (!strcmp(k, "route")) {
            rc = get_string(c, v, "route", &c->r->route);
        } else if (!strcmp(k, "user")) {
            rc = get_string(c, v, "user", &c->r->user);
        } else if (!strcmp(k, "sticky_key")) {
            rc = get_string(c, v, "sticky_key", &c->r->sticky_key);
        } else if (!strcmp(k, "no_cache")) {
            if (!json_object_is_type(v, json_type_boolean))
                rc = fail(c, k, "'%s' must be true or false%s", NULL);
            else
                c->r->no_cache = json_object_get_boolean(v);
        } else if (!strcmp(k, "project_id")) {
            rc = get_string(c, v, "project_id", &c->r->project_id);
        } else if (!strcmp(k, "organization_id")) {
            rc = get_string(c, v, "organization_id", &c->r->organization_id);
        } else if (!strcmp(k, "provider_options")) {
            if (json_object_is_type(v, json_type_null))
                continue;
            if (!json_object_is_type(v, json_type_object))
                rc = fail(c, "provider_options", "'%s' must be an object%s", NULL);
            else
                c->r->provider_options = json_object_get(v);
        } else {
            rc = unknown_field(c, "", k, known, sizeof known / sizeof *known);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

llmsvc_code request_from_json_object(llmsvc_request **out, json_object *root, llmsvc_error **err)
{
    llmsvc_request *r;
    if (llmsvc_request_new(&r) != LLMSVC_OK)
        return err_give(err, err_nomem());
    jctx c = {r, NULL};
    if (parse_root(&c, root) < 0) {
        llmsvc_request_free(r);
        return err_give(err, c.err);
    }
    *out = r;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_from_json(llmsvc_request **out, const char *json,
                                                   size_t len, llmsvc_error **err)
{
    if (!out || !json)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_request_from_json: NULL argument");
    if (len > (size_t)INT32_MAX)
        return err_set(err, LLMSVC_E_VALIDATION, "request JSON is larger than 2 GiB");
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return err_give(err, err_nomem());
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        if (jerr == json_tokener_continue)
            return err_set(err, LLMSVC_E_VALIDATION, "request JSON ends early (after %zu bytes)",
                           len);
        return err_set(err, LLMSVC_E_VALIDATION, "request JSON is malformed at byte %zu: %s",
                       used, json_tokener_error_desc(jerr));
    }
    for (size_t i = used; i < len; i++) {
        if (!strchr(" \t\r\n", json[i])) {
            json_object_put(root);
            return err_set(err, LLMSVC_E_VALIDATION,
                           "request JSON has extra text after the object at byte %zu", i);
        }
    }
    llmsvc_code rc = request_from_json_object(out, root, err);
    json_object_put(root);
    return rc;
}

static void add_param(json_object *spec, const llmsvc_request *r, param_id id)
{
    const req_value *v = &r->params[id];
    if (!v->set)
        return;
    json_object *val = NULL;
    switch (param_defs[id].type) {
    case LLMSVC_PARAM_FLOAT:
        val = json_object_new_double(v->number);
        break;
    case LLMSVC_PARAM_INT:
        val = json_object_new_int64((int64_t)v->number);
        break;
    case LLMSVC_PARAM_BOOL:
        val = json_object_new_boolean(v->number != 0);
        break;
    case LLMSVC_PARAM_STRING_LIST:
        val = json_object_new_array();
        for (size_t i = 0; val && i < v->list_len; i++)
            json_object_array_add(val, json_object_new_string(v->list[i]));
        break;
    default:
        val = json_object_new_string(v->string);
    }
    if (id == P_REASONING_EFFORT || id == P_VERBOSITY) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, id == P_REASONING_EFFORT ? "effort" : "verbosity", val);
        json_object_object_add(spec, id == P_REASONING_EFFORT ? "reasoning" : "text", o);
        return;
    }
    json_object_object_add(spec, param_defs[id].name, val);
}

static void add_str(json_object *o, const char *k, const char *v)
{
    if (v)
        json_object_object_add(o, k, json_object_new_string(v));
}

json_object *request_to_json_object(const llmsvc_request *r)
{
    json_object *root = json_object_new_object(), *llm = json_object_new_object(),
                *spec = json_object_new_object();
    if (!root || !llm || !spec) {
        json_object_put(root);
        json_object_put(llm);
        json_object_put(spec);
        return NULL;
    }
    add_str(llm, "prompt", r->prompt);
    add_str(llm, "instructions", r->instructions);
    add_str(llm, "vector_store_id", r->vector_store_id);
    add_str(spec, "provider", r->provider);
    add_str(spec, "model", r->model);
    for (int i = 0; i < P_COUNT; i++)
        add_param(spec, r, (param_id)i);
    json_object_object_add(llm, "llm_model_spec", spec);
    conv_json_emit(r, llm, root);
    json_object_object_add(root, "llm", llm);
    if (r->max_num_results)
        json_object_object_add(root, "max_num_results", json_object_new_int(r->max_num_results));
    if (r->provider_options)
        json_object_object_add(root, "provider_options", json_object_get(r->provider_options));
    if (r->max_retries >= 0)
        json_object_object_add(root, "max_retries", json_object_new_int(r->max_retries));
    if (r->timeout_ms > 0)
        json_object_object_add(root, "timeout_ms", json_object_new_int64(r->timeout_ms));
    add_str(root, "route", r->route);
    add_str(root, "user", r->user);
    add_str(root, "sticky_key", r->sticky_key);
    if (r->no_cache)
        json_object_object_add(root, "no_cache", json_object_new_boolean(1));
    add_str(root, "project_id", r->project_id);
    add_str(root, "organization_id", r->organization_id);
    return root;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_to_json(char **out, const llmsvc_request *r)
{
    if (!out || !r)
        return LLMSVC_E_INVALID_ARG;
    json_object *root = request_to_json_object(r);
    if (!root)
        return LLMSVC_E_NOMEM;
    char *s = strdup(
        json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    if (!s)
        return LLMSVC_E_NOMEM;
    *out = s;
    return LLMSVC_OK;
}
