/* request — the llmsvc_request object and its setters. JSON in request_json.c. */
#include "request.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "error.h"
#include "http.h"

LLMSVC_EXTERN llmsvc_code llmsvc_request_new(llmsvc_request **out)
{
    if (!out)
        return LLMSVC_E_INVALID_ARG;
    llmsvc_request *r = calloc(1, sizeof *r);
    if (!r)
        return LLMSVC_E_NOMEM;
    r->max_retries = -1;
    r->parallel_tool_calls = -1;
    *out = r;
    return LLMSVC_OK;
}

static void value_clear(req_value *v)
{
    free(v->string);
    for (size_t i = 0; i < v->list_len; i++)
        free(v->list[i]);
    free(v->list);
    memset(v, 0, sizeof *v);
}

LLMSVC_EXTERN void llmsvc_request_free(llmsvc_request *r)
{
    if (!r)
        return;
    free(r->provider);
    free(r->model);
    free(r->prompt);
    free(r->instructions);
    free(r->vector_store_id);
    for (int i = 0; i < P_COUNT; i++)
        value_clear(&r->params[i]);
    if (r->api_key) {
        /* keys do not linger in freed memory */
        volatile char *p = r->api_key;
        while (*p)
            *p++ = 0;
    }
    free(r->api_key);
    free(r->base_url);
    json_object_put(r->provider_options);
    free(r->project_id);
    free(r->organization_id);
    request_free_conversation(r);
    free(r->route);
    free(r->user);
    free(r->sticky_key);
    free(r);
}

static llmsvc_code set_str(char **dst, const char *v)
{
    char *p = NULL;
    if (v && !(p = strdup(v)))
        return LLMSVC_E_NOMEM;
    free(*dst);
    *dst = p;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_provider(llmsvc_request *r, const char *v)
{
    return r ? set_str(&r->provider, v) : LLMSVC_E_INVALID_ARG;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_model(llmsvc_request *r, const char *v)
{
    return r ? set_str(&r->model, v) : LLMSVC_E_INVALID_ARG;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_prompt(llmsvc_request *r, const char *v)
{
    return r ? set_str(&r->prompt, v) : LLMSVC_E_INVALID_ARG;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_instructions(llmsvc_request *r, const char *v)
{
    return r ? set_str(&r->instructions, v) : LLMSVC_E_INVALID_ARG;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_vector_store(llmsvc_request *r, const char *id,
                                                          int max_num_results)
{
    if (!r || max_num_results < 0 || max_num_results > 1000)
        return LLMSVC_E_INVALID_ARG;
    llmsvc_code rc = set_str(&r->vector_store_id, id);
    if (rc == LLMSVC_OK)
        r->max_num_results = max_num_results;
    return rc;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_max_results(llmsvc_request *r, int max_num_results)
{
    if (!r || max_num_results < 0 || max_num_results > 1000)
        return LLMSVC_E_INVALID_ARG;
    r->max_num_results = max_num_results;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_number(llmsvc_request *r, const char *name,
                                                    double value)
{
    int id = r && name ? param_lookup(name) : -1;
    if (id < 0 || !isfinite(value))
        return LLMSVC_E_INVALID_ARG;
    llmsvc_param_type t = param_defs[id].type;
    if (t != LLMSVC_PARAM_FLOAT && t != LLMSVC_PARAM_INT && t != LLMSVC_PARAM_BOOL)
        return LLMSVC_E_INVALID_ARG;
    value_clear(&r->params[id]);
    r->params[id].set = 1;
    r->params[id].number = value;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_string(llmsvc_request *r, const char *name,
                                                    const char *value)
{
    int id = r && name && value ? param_lookup(name) : -1;
    if (id < 0)
        return LLMSVC_E_INVALID_ARG;
    llmsvc_param_type t = param_defs[id].type;
    if (t != LLMSVC_PARAM_ENUM && t != LLMSVC_PARAM_STRING)
        return LLMSVC_E_INVALID_ARG;
    char *p = strdup(value);
    if (!p)
        return LLMSVC_E_NOMEM;
    value_clear(&r->params[id]);
    r->params[id].set = 1;
    r->params[id].string = p;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_add_stop(llmsvc_request *r, const char *stop)
{
    if (!r || !stop)
        return LLMSVC_E_INVALID_ARG;
    req_value *v = &r->params[P_STOP];
    char **nl = realloc(v->list, (v->list_len + 1) * sizeof *nl);
    if (!nl)
        return LLMSVC_E_NOMEM;
    v->list = nl;
    if (!(nl[v->list_len] = strdup(stop)))
        return LLMSVC_E_NOMEM;
    v->list_len++;
    v->set = 1;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_unset(llmsvc_request *r, const char *name)
{
    int id = r && name ? param_lookup(name) : -1;
    if (id < 0)
        return LLMSVC_E_INVALID_ARG;
    value_clear(&r->params[id]);
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_route(llmsvc_request *r, const char *route)
{
    return r ? set_str(&r->route, route) : LLMSVC_E_INVALID_ARG;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_user(llmsvc_request *r, const char *user)
{
    return r ? set_str(&r->user, user) : LLMSVC_E_INVALID_ARG;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_sticky_key(llmsvc_request *r, const char *key)
{
    return r ? set_str(&r->sticky_key, key) : LLMSVC_E_INVALID_ARG;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_cache(llmsvc_request *r, int use_cache)
{
    if (!r)
        return LLMSVC_E_INVALID_ARG;
    r->no_cache = !use_cache;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_project(llmsvc_request *r, const char *project_id,
                                                     const char *organization_id)
{
    if (!r)
        return LLMSVC_E_INVALID_ARG;
    llmsvc_code rc = set_str(&r->project_id, project_id);
    return rc == LLMSVC_OK ? set_str(&r->organization_id, organization_id) : rc;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_base_url(llmsvc_request *r, const char *url)
{
    if (!r)
        return LLMSVC_E_INVALID_ARG;
    if (url && !http_base_url_ok(url))
        return LLMSVC_E_INVALID_ARG;
    llmsvc_code rc = set_str(&r->base_url, url);
    if (rc == LLMSVC_OK && r->base_url) {
        size_t len = strlen(r->base_url);
        while (len > 1 && r->base_url[len - 1] == '/')
            r->base_url[--len] = '\0';
    }
    return rc;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_api_key(llmsvc_request *r, const char *key)
{
    if (!r || (key && strpbrk(key, "\r\n")))
        return LLMSVC_E_INVALID_ARG;
    return set_str(&r->api_key, key);
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_timeout_ms(llmsvc_request *r, long timeout_ms)
{
    if (!r || timeout_ms < 0)
        return LLMSVC_E_INVALID_ARG;
    r->timeout_ms = timeout_ms;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_max_retries(llmsvc_request *r, int retries)
{
    if (!r || retries < -1 || retries > 100)
        return LLMSVC_E_INVALID_ARG;
    r->max_retries = retries;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_provider_options(llmsvc_request *r,
                                                              const char *json,
                                                              llmsvc_error **err)
{
    if (!r)
        return LLMSVC_E_INVALID_ARG;
    if (!json) {
        json_object_put(r->provider_options);
        r->provider_options = NULL;
        return LLMSVC_OK;
    }
    json_object *o = json_tokener_parse(json);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return err_set(err, LLMSVC_E_VALIDATION, "provider_options must be a JSON object");
    }
    json_object_put(r->provider_options);
    r->provider_options = o;
    return LLMSVC_OK;
}
