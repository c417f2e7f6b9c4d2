/* call_stream — one streaming attempt: the plugin's streaming request, its
 * server-sent events turned into deltas by the plugin's parse_event as they
 * arrive (never a whole response buffered), and the cases around it: a plugin
 * that does not stream, a server that answered without streaming, an error
 * body, a stream cut before its end event. */
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "ratelimit.h"
#include "error.h"
#include "response.h"

/* The events of an answer that arrived whole (a plugin or server that does
 * not stream): the response holds it already; the host hears it once. */
static llmsvc_code replay(llmsvc_stream *s)
{
    llmsvc_response *r = s->resp;
    llmsvc_event ev = {LLMSVC_EVENT_TEXT, buf_cstr(&r->reasoning), r->reasoning.len, 0,
                       NULL,                 NULL,                   NULL,           NULL};
    if (r->reasoning.len) {
        ev.type = LLMSVC_EVENT_REASONING;
        if (stream_emit(s, &ev))
            return LLMSVC_E_CANCELLED;
    }
    if (r->text.len) {
        ev.type = LLMSVC_EVENT_TEXT;
        ev.text = buf_cstr(&r->text);
        ev.len = r->text.len;
        if (stream_emit(s, &ev))
            return LLMSVC_E_CANCELLED;
    }
    for (size_t i = 0; i < r->n_tool_calls; i++) {
        const llmsvc_tool_call *c = &r->tool_calls[i];
        llmsvc_event t = {LLMSVC_EVENT_TOOL_START, NULL, 0, (int)i, c->id, c->name, NULL, NULL};
        if (stream_emit(s, &t))
            return LLMSVC_E_CANCELLED;
        t.type = LLMSVC_EVENT_TOOL_ARGS;
        t.text = c->arguments;
        t.len = strlen(c->arguments);
        if (stream_emit(s, &t))
            return LLMSVC_E_CANCELLED;
        t.type = LLMSVC_EVENT_TOOL_END;
        t.text = NULL;
        t.len = 0;
        if (stream_emit(s, &t))
            return LLMSVC_E_CANCELLED;
    }
    llmsvc_event u = {LLMSVC_EVENT_USAGE, NULL, 0, 0, NULL, NULL, r, NULL};
    if (stream_emit(s, &u))
        return LLMSVC_E_CANCELLED;
    s->done = 1;
    return LLMSVC_OK;
}

typedef struct deliver_ctx {
    const call_ctx *ctx;
    llmsvc_stream *sink;
    void *stream_state;
    llmsvc_code code;
    llmsvc_error *err;
} deliver_ctx;

/* One event from the transport → the plugin. Non-zero stops the transfer. */
static int deliver(void *user, const llmsvc_sse_event *ev)
{
    deliver_ctx *d = user;
    const api_rec *api = d->ctx->api;
    d->code = api->ops.parse_event(api->state, &d->ctx->view, ev, d->sink, &d->stream_state,
                                   &d->err);
    if (d->code == LLMSVC_OK && d->sink->cancelled)
        d->code = LLMSVC_E_CANCELLED;
    return d->code != LLMSVC_OK;
}

llmsvc_code attempt_stream(const llmsvc_runtime *rt, const call_ctx *ctx, const http_opts *o,
                           llmsvc_stream *sink, llmsvc_error **e)
{
    const api_rec *api = ctx->api;
    if (api->ops.execute_stream)
        return api->ops.execute_stream(api->state, &ctx->view, sink, e);
    if (!api->ops.parse_event) {
        llmsvc_code code = attempt(rt, ctx, o, sink->resp, e);
        return code == LLMSVC_OK ? replay(sink) : code;
    }
    llmsvc_http_request req;
    llmsvc_http_response hr;
    http_request_init(&req);
    http_response_init(&hr);
    deliver_ctx d = {ctx, sink, NULL, LLMSVC_OK, NULL};
    http_stream hs = {deliver, &d, 0, 0};
    llmsvc_code code = build_http(ctx, &req, e);
    if (code != LLMSVC_OK)
        goto out;
    code = transport_send_stream(rt->tp, &req, o, &hr, &hs, e);
    if (ctx->ticket && hr.status)
        limiter_observe(ctx->ticket, &hr);
    if (d.stream_state && api->ops.stream_free)
        api->ops.stream_free(api->state, d.stream_state);
    if (code == LLMSVC_E_CANCELLED) {
        if (d.code != LLMSVC_OK && d.code != LLMSVC_E_CANCELLED) {
            /* the plugin could not read an event */
            *e = d.err ? d.err : err_new(d.code, "plugin '%s' failed to read an event",
                                         api->ops.name);
            d.err = NULL;
            code = d.code;
        } else {
            *e = err_new(LLMSVC_E_CANCELLED, "the stream was stopped by its reader");
        }
        /* a provider's error event before anything reached the host (a
         * rate limit, an overload) may be retried like its HTTP status */
        if (*e != err_nomem() && (d.code == LLMSVC_E_CANCELLED || d.code == LLMSVC_OK ||
                                  sink->started))
            (*e)->retryable = 0;
    } else if (code == LLMSVC_OK && !hs.is_sse) {
        /* an error body, or a server that did not stream */
        code = api->ops.parse_response(api->state, &ctx->view, &hr, sink->resp, e);
        if (code != LLMSVC_OK && !*e)
            *e = err_new(code, "plugin '%s' failed to read the response", api->ops.name);
        code = classify(ctx, &hr, code, e);
        if (code == LLMSVC_OK)
            code = replay(sink);
    } else if (code == LLMSVC_OK && !sink->done) {
        *e = err_new(LLMSVC_E_TRANSPORT,
                     "the stream from provider '%s' ended before its end event (the connection "
                     "was cut?)",
                     ctx->provider->name);
        if (*e != err_nomem())
            (*e)->retryable = !sink->started;
        code = LLMSVC_E_TRANSPORT;
    }
out:
    llmsvc_error_free(d.err);
    http_request_clear(&req);
    http_response_clear(&hr);
    return code;
}
