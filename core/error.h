/* error — the llmsvc_error object behind the public accessors. Internal.
 * err_new never returns NULL: when memory runs out it returns a shared static
 * NOMEM error, which llmsvc_error_free recognises and does not free. */
#ifndef LLMSVC_ERROR_H
#define LLMSVC_ERROR_H

#include <stdarg.h>

#include "llmsvc/llmsvc.h"

struct llmsvc_error {
    llmsvc_code code;
    char *message;
    int retryable;
    int retry_set; /* retryable was decided by a plugin; the core keeps it */
    int timeout;   /* a TRANSPORT error that was a timeout */
    int http_status;
    long retry_after_ms; /* -1: none */
    char *provider_type;
    char *provider_code;
    char *param;
};

llmsvc_error *err_new(llmsvc_code code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
llmsvc_error *err_newv(llmsvc_code code, const char *fmt, va_list ap);
llmsvc_error *err_nomem(void);
/* Prefixes the message with "prefix: " (no-op for the static NOMEM error). */
void err_prefix(llmsvc_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_set_provider(llmsvc_error *e, const char *type, const char *code, const char *param);
/* e marked not retryable, returned (the shared NOMEM error is left as it is:
 * running out of memory may pass). */
llmsvc_error *err_not_retryable(llmsvc_error *e);
/* Stores e in *out when out is non-NULL, else frees it; returns e's code. */
llmsvc_code err_give(llmsvc_error **out, llmsvc_error *e);
/* Same as err_give(out, err_new(code, fmt, ...)). */
llmsvc_code err_set(llmsvc_error **out, llmsvc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct json_object;
/* {"code","message","retryable",...}; NULL on OOM. */
struct json_object *err_to_json_object(const llmsvc_error *err);

#endif
