/* call — the pieces of one call attempt shared by call.c and call_stream.c. */
#ifndef LLMSVC_CALL_H
#define LLMSVC_CALL_H

#include "http.h"
#include "stream.h"
#include "validate.h"

/* The HTTP request of an attempt: the plugin's (a TRANSFORM error when it
 * fails without saying why), then the spec's headers (values from variables
 * marked secret) and the call's own. */
llmsvc_code build_http(const call_ctx *ctx, llmsvc_http_request *req, llmsvc_error **e);
/* A non-2xx answer always ends as an API error carrying the status, the
 * retryability of its status and the provider's retry-after. */
llmsvc_code classify(const call_ctx *ctx, const llmsvc_http_response *hr, llmsvc_code code,
                     llmsvc_error **e);
/* One non-streaming attempt. */
llmsvc_code attempt(const llmsvc_runtime *rt, const call_ctx *ctx, const http_opts *o,
                    llmsvc_response *resp, llmsvc_error **e);

#define CALL_RECORD 1u     /* write the direct call's record when records are on */
#define CALL_KEEP_ROUTE 2u /* on failure, *out gets what the record needs (the
                              route's attempts, a stream's partial answer) */
/* llmsvc_call / llmsvc_call_stream (sink NULL for a plain call) and a
 * worker's job (which writes its own record). On failure *out is set only
 * for a stream that had started, or with CALL_KEEP_ROUTE. */
llmsvc_code call_run(llmsvc_runtime *rt, const llmsvc_request *req, llmsvc_stream *sink,
                     llmsvc_response **out, llmsvc_error **err, unsigned flags);
/* One streaming attempt into sink (call_stream.c). */
llmsvc_code attempt_stream(const llmsvc_runtime *rt, const call_ctx *ctx, const http_opts *o,
                           llmsvc_stream *sink, llmsvc_error **e);

#endif
