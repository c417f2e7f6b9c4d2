#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"

static llmsvc_error nomem_error = {LLMSVC_E_NOMEM, "out of memory", 1, 1, 0, 0, -1, NULL, NULL, NULL};

static const char *const code_names[] = {
    "OK",        "VALIDATION", "UNSUPPORTED_PROVIDER", "UNKNOWN_MODEL", "TRANSFORM",
    "API",       "TRANSPORT",  "PROVIDER",             "CONFIG",        "NOMEM",
    "INVALID_ARG", "CANCELLED", "STORE",               "NOT_FOUND",     "TIMEOUT",
    "RATE_LIMITED", "BUDGET_EXCEEDED",
};

LLMSVC_EXTERN const char *llmsvc_code_name(llmsvc_code code)
{
    if ((size_t)code < sizeof code_names / sizeof code_names[0])
        return code_names[code];
    return "UNKNOWN";
}

llmsvc_error *err_nomem(void)
{
    return &nomem_error;
}

llmsvc_error *err_not_retryable(llmsvc_error *e)
{
    if (e && e != &nomem_error)
        e->retryable = 0;
    return e;
}

llmsvc_error *err_newv(llmsvc_code code, const char *fmt, va_list ap)
{
    llmsvc_error *e = calloc(1, sizeof *e);
    if (!e)
        return &nomem_error;
    buf b = BUF_INIT;
    if (buf_vprintf(&b, fmt, ap) < 0) {
        free(e);
        return &nomem_error;
    }
    e->code = code;
    e->message = buf_steal(&b);
    e->retry_after_ms = -1;
    e->retryable = code == LLMSVC_E_TRANSPORT;
    return e;
}

llmsvc_error *err_new(llmsvc_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    llmsvc_error *e = err_newv(code, fmt, ap);
    va_end(ap);
    return e;
}

void err_prefix(llmsvc_error *e, const char *fmt, ...)
{
    if (!e || e == &nomem_error)
        return;
    buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc < 0 || buf_puts(&b, ": ") < 0 || buf_puts(&b, e->message) < 0) {
        buf_free(&b);
        return;
    }
    free(e->message);
    e->message = buf_steal(&b);
}

static void replace(char **dst, const char *src)
{
    if (!src)
        return;
    char *p = strdup(src);
    if (!p)
        return;
    free(*dst);
    *dst = p;
}

void err_set_provider(llmsvc_error *e, const char *type, const char *code, const char *param)
{
    if (!e || e == &nomem_error)
        return;
    replace(&e->provider_type, type);
    replace(&e->provider_code, code);
    replace(&e->param, param);
}

llmsvc_code err_give(llmsvc_error **out, llmsvc_error *e)
{
    llmsvc_code code = e->code;
    if (out)
        *out = e;
    else
        llmsvc_error_free(e);
    return code;
}

llmsvc_code err_set(llmsvc_error **out, llmsvc_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    llmsvc_error *e = err_newv(code, fmt, ap);
    va_end(ap);
    return err_give(out, e);
}

LLMSVC_EXTERN void llmsvc_error_free(llmsvc_error *err)
{
    if (!err || err == &nomem_error)
        return;
    free(err->message);
    free(err->provider_type);
    free(err->provider_code);
    free(err->param);
    free(err);
}

LLMSVC_EXTERN llmsvc_code llmsvc_error_code(const llmsvc_error *err)
{
    return err ? err->code : LLMSVC_OK;
}

LLMSVC_EXTERN const char *llmsvc_error_message(const llmsvc_error *err)
{
    return err ? err->message : "";
}

LLMSVC_EXTERN int llmsvc_error_retryable(const llmsvc_error *err)
{
    return err ? err->retryable : 0;
}

LLMSVC_EXTERN int llmsvc_error_http_status(const llmsvc_error *err)
{
    return err ? err->http_status : 0;
}

LLMSVC_EXTERN const char *llmsvc_error_provider_type(const llmsvc_error *err)
{
    return err ? err->provider_type : NULL;
}

LLMSVC_EXTERN const char *llmsvc_error_provider_code(const llmsvc_error *err)
{
    return err ? err->provider_code : NULL;
}

LLMSVC_EXTERN const char *llmsvc_error_param(const llmsvc_error *err)
{
    return err ? err->param : NULL;
}

LLMSVC_EXTERN long llmsvc_error_retry_after_ms(const llmsvc_error *err)
{
    return err ? err->retry_after_ms : -1;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    if (v)
        json_object_object_add(o, k, json_object_new_string(v));
}

json_object *err_to_json_object(const llmsvc_error *err)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "code", json_object_new_string(llmsvc_code_name(err->code)));
    add_str(o, "message", err->message);
    json_object_object_add(o, "retryable", json_object_new_boolean(err->retryable));
    if (err->http_status)
        json_object_object_add(o, "http_status", json_object_new_int(err->http_status));
    add_str(o, "provider_type", err->provider_type);
    add_str(o, "provider_code", err->provider_code);
    add_str(o, "param", err->param);
    if (err->retry_after_ms >= 0)
        json_object_object_add(o, "retry_after_ms", json_object_new_int64(err->retry_after_ms));
    return o;
}

LLMSVC_EXTERN llmsvc_code llmsvc_error_to_json(char **out, const llmsvc_error *err)
{
    if (!out || !err)
        return LLMSVC_E_INVALID_ARG;
    json_object *o = err_to_json_object(err);
    if (!o)
        return LLMSVC_E_NOMEM;
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    if (!s)
        return LLMSVC_E_NOMEM;
    *out = s;
    return LLMSVC_OK;
}
