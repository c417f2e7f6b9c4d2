#include "host.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "error.h"
#include "http.h"
#include "jdoc.h"
#include "json_util.h"
#include "loader.h"
#include "response.h"
#include "runtime.h"
#include "stream.h"

static _Thread_local const llmsvc_runtime *current_rt;

const llmsvc_runtime *host_enter(const llmsvc_runtime *rt)
{
    const llmsvc_runtime *prev = current_rt;
    current_rt = rt;
    return prev;
}

__attribute__((format(printf, 2, 3))) static void h_log(llmsvc_log_level level, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_logv(current_rt, level, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static llmsvc_error *h_error_new(llmsvc_code code,
                                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    llmsvc_error *e = err_newv(code, fmt, ap);
    va_end(ap);
    return e;
}

static void h_error_set_retryable(llmsvc_error *e, int retryable)
{
    if (!e || e == err_nomem())
        return;
    e->retryable = retryable != 0;
    e->retry_set = 1;
}

static void h_error_set_http(llmsvc_error *e, int status, long retry_after_ms)
{
    if (!e || e == err_nomem())
        return;
    e->http_status = status;
    e->retry_after_ms = retry_after_ms;
}

static json_object *h_param_to_json(const llmsvc_param *p)
{
    if (!p)
        return NULL;
    switch (p->type) {
    case LLMSVC_PARAM_FLOAT:
        return json_object_new_double(p->number);
    case LLMSVC_PARAM_INT:
        return json_object_new_int64((int64_t)p->number);
    case LLMSVC_PARAM_BOOL:
        return json_object_new_boolean(p->number != 0);
    case LLMSVC_PARAM_STRING_LIST: {
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < p->list_len; i++)
            json_object_array_add(a, json_object_new_string(p->list[i]));
        return a;
    }
    default:
        return json_object_new_string(p->string ? p->string : "");
    }
}

static const llmsvc_param *h_call_param(const llmsvc_call_info *call, const char *name)
{
    for (size_t i = 0; call && name && i < call->n_params; i++) {
        if (strcmp(call->params[i].name, name) == 0)
            return &call->params[i];
    }
    return NULL;
}

static const char *h_call_option(const llmsvc_call_info *call, const char *name)
{
    for (size_t i = 0; call && name && i < call->n_options; i++) {
        if (strcmp(call->options[i].name, name) == 0)
            return call->options[i].value;
    }
    return NULL;
}

/* ---- request bodies as jv values (ABI 1.1): the request's arena ---- */

#define ARENA(req) (&(req)->jv)

static llmsvc_jv *h_jv_object(llmsvc_http_request *req)
{
    return req ? jv_object(ARENA(req)) : NULL;
}

static llmsvc_jv *h_jv_array(llmsvc_http_request *req)
{
    return req ? jv_array(ARENA(req)) : NULL;
}

static llmsvc_jv *h_jv_string(llmsvc_http_request *req, const char *s, size_t len)
{
    return req ? jv_string(ARENA(req), s, len) : NULL;
}

static llmsvc_jv *h_jv_int(llmsvc_http_request *req, int64_t v)
{
    return req ? jv_int(ARENA(req), v) : NULL;
}

static llmsvc_jv *h_jv_double(llmsvc_http_request *req, double v)
{
    return req ? jv_double(ARENA(req), v) : NULL;
}

static llmsvc_jv *h_jv_bool(llmsvc_http_request *req, int v)
{
    return req ? jv_bool(ARENA(req), v) : NULL;
}

static llmsvc_jv *h_jv_null(llmsvc_http_request *req)
{
    return req ? jv_null(ARENA(req)) : NULL;
}

static llmsvc_jv *h_jv_raw(llmsvc_http_request *req, const char *json, size_t len)
{
    return req ? jv_raw(ARENA(req), json, len) : NULL;
}

static llmsvc_jv *h_jv_param(llmsvc_http_request *req, const llmsvc_param *p)
{
    return req ? jv_param(ARENA(req), p) : NULL;
}

const llmsvc_host loader_host_table = {
    .size = sizeof(llmsvc_host),
    .abi_major = LLMSVC_PLUGIN_ABI_MAJOR,
    .abi_minor = LLMSVC_PLUGIN_ABI_MINOR,
    .register_api = loader_register_api,
    .log = h_log,
    .error_new = h_error_new,
    .error_set_provider = err_set_provider,
    .error_set_retryable = h_error_set_retryable,
    .error_set_http = h_error_set_http,
    .http_set_url = http_set_url,
    .http_add_header = http_add_header,
    .http_set_json_body = http_set_json_body,
    .http_status = http_status,
    .http_body = http_body,
    .http_header = http_header,
    .resp_set = response_set,
    .resp_append_text = response_append_text,
    .resp_append_reasoning = response_append_reasoning,
    .resp_set_usage = response_set_usage,
    .resp_add_file_result = response_add_file_result,
    .json_set_path = ju_set_path,
    .json_get = ju_get,
    .json_get_string = ju_get_string,
    .json_get_int = ju_get_int,
    .json_parse = ju_parse,
    .json_merge = ju_merge,
    .param_to_json = h_param_to_json,
    .call_param = h_call_param,
    .call_option = h_call_option,
    .jdoc_parse = jdoc_parse,
    .jdoc_free = jdoc_free,
    .jdoc_type = jdoc_type,
    .jdoc_count = jdoc_count,
    .jdoc_get = jdoc_get,
    .jdoc_first = jdoc_first,
    .jdoc_next = jdoc_next,
    .jdoc_key = jdoc_key,
    .jdoc_str = jdoc_str,
    .jdoc_int = jdoc_int,
    .jdoc_num = jdoc_num,
    .jdoc_bool = jdoc_bool,
    .jdoc_raw = jdoc_raw,
    .jdoc_get_str = jdoc_get_str,
    .jdoc_get_int = jdoc_get_int,
    .resp_add_tool_call = response_add_tool_call,
    .resp_set_state = response_set_state,
    .json_raw = ju_raw,
    .stream_text = stream_text,
    .stream_reasoning = stream_reasoning,
    .stream_tool_start = stream_tool_start,
    .stream_tool_args = stream_tool_args,
    .stream_tool_end = stream_tool_end,
    .stream_usage = stream_usage,
    .stream_done = stream_done,
    .stream_response = stream_response,
    .jv_body = http_jv_body,
    .jv_object = h_jv_object,
    .jv_array = h_jv_array,
    .jv_string = h_jv_string,
    .jv_int = h_jv_int,
    .jv_double = h_jv_double,
    .jv_bool = h_jv_bool,
    .jv_null = h_jv_null,
    .jv_raw = h_jv_raw,
    .jv_param = h_jv_param,
    .jv_put = jv_put,
    .jv_push = jv_push,
    .jv_set_path = jv_set_path,
    .jv_merge = jv_merge,
};
