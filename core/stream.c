#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "response.h"

void stream_init(llmsvc_stream *s, llmsvc_stream_fn fn, void *user, llmsvc_response *resp)
{
    memset(s, 0, sizeof *s);
    s->fn = fn;
    s->user = user;
    s->resp = resp;
}

static void free_calls(llmsvc_stream *s)
{
    for (size_t i = 0; i < s->n_calls; i++) {
        free(s->calls[i].id);
        free(s->calls[i].name);
        buf_free(&s->calls[i].args);
    }
    free(s->calls);
    s->calls = NULL;
    s->n_calls = 0;
}

void stream_reset(llmsvc_stream *s)
{
    free_calls(s);
    s->done = 0;
    s->cancelled = 0;
}

void stream_free(llmsvc_stream *s)
{
    free_calls(s);
}

int stream_emit(llmsvc_stream *s, const llmsvc_event *ev)
{
    if (s->cancelled)
        return 1;
    if (ev->type != LLMSVC_EVENT_ERROR)
        s->started = 1;
    if (s->fn && s->fn(s->user, ev) != 0)
        s->cancelled = 1;
    return s->cancelled;
}

static llmsvc_code emit(llmsvc_stream *s, const llmsvc_event *ev)
{
    return stream_emit(s, ev) ? LLMSVC_E_CANCELLED : LLMSVC_OK;
}

llmsvc_code stream_text(llmsvc_stream *s, const char *text, size_t len)
{
    if (!len)
        return s->cancelled ? LLMSVC_E_CANCELLED : LLMSVC_OK;
    if (response_append_text(s->resp, text, len) != LLMSVC_OK)
        return LLMSVC_E_NOMEM;
    llmsvc_event ev = {LLMSVC_EVENT_TEXT, text, len, 0, NULL, NULL, NULL, NULL};
    return emit(s, &ev);
}

llmsvc_code stream_reasoning(llmsvc_stream *s, const char *text, size_t len)
{
    if (!len)
        return s->cancelled ? LLMSVC_E_CANCELLED : LLMSVC_OK;
    if (response_append_reasoning(s->resp, text, len) != LLMSVC_OK)
        return LLMSVC_E_NOMEM;
    llmsvc_event ev = {LLMSVC_EVENT_REASONING, text, len, 0, NULL, NULL, NULL, NULL};
    return emit(s, &ev);
}

static stream_call *find_call(llmsvc_stream *s, int index)
{
    for (size_t i = 0; i < s->n_calls; i++) {
        if (s->calls[i].index == index)
            return &s->calls[i];
    }
    return NULL;
}

llmsvc_code stream_tool_start(llmsvc_stream *s, int index, const char *id, const char *name)
{
    stream_call *c = find_call(s, index);
    if (!c) {
        stream_call *nv = realloc(s->calls, (s->n_calls + 1) * sizeof *nv);
        if (!nv)
            return LLMSVC_E_NOMEM;
        s->calls = nv;
        c = &nv[s->n_calls++];
        memset(c, 0, sizeof *c);
        c->index = index;
    }
    /* a provider may send the id and name in pieces: keep the first of each */
    if (id && *id && !c->id && !(c->id = strdup(id)))
        return LLMSVC_E_NOMEM;
    if (name && *name && !c->name && !(c->name = strdup(name)))
        return LLMSVC_E_NOMEM;
    llmsvc_event ev = {LLMSVC_EVENT_TOOL_START, NULL, 0, index, c->id, c->name, NULL, NULL};
    return emit(s, &ev);
}

llmsvc_code stream_tool_args(llmsvc_stream *s, int index, const char *text, size_t len)
{
    stream_call *c = find_call(s, index);
    if (!c) {
        llmsvc_code rc = stream_tool_start(s, index, NULL, NULL);
        if (rc != LLMSVC_OK)
            return rc;
        c = find_call(s, index);
    }
    if (buf_append(&c->args, text, len) < 0)
        return LLMSVC_E_NOMEM;
    llmsvc_event ev = {LLMSVC_EVENT_TOOL_ARGS, text, len, index, c->id, c->name, NULL, NULL};
    return emit(s, &ev);
}

llmsvc_code stream_tool_end(llmsvc_stream *s, int index)
{
    stream_call *c = find_call(s, index);
    if (!c || c->ended)
        return s->cancelled ? LLMSVC_E_CANCELLED : LLMSVC_OK;
    c->ended = 1;
    llmsvc_event ev = {LLMSVC_EVENT_TOOL_END, NULL, 0, index, c->id, c->name, NULL, NULL};
    return emit(s, &ev);
}

llmsvc_code stream_usage(llmsvc_stream *s, const llmsvc_usage *u)
{
    if (!u || u->size < sizeof(llmsvc_usage))
        return LLMSVC_E_INVALID_ARG;
    int64_t *t = s->resp->tokens;
    const int64_t in[6] = {u->input, u->output, u->reasoning, u->cached_input, u->cache_write,
                           u->total};
    for (int i = 0; i < 6; i++) {
        if (in[i] >= 0)
            t[i] = in[i];
    }
    if (u->total < 0 && t[LLMSVC_TOKENS_INPUT] >= 0 && t[LLMSVC_TOKENS_OUTPUT] >= 0)
        t[LLMSVC_TOKENS_TOTAL] = t[LLMSVC_TOKENS_INPUT] + t[LLMSVC_TOKENS_OUTPUT];
    llmsvc_event ev = {LLMSVC_EVENT_USAGE, NULL, 0, 0, NULL, NULL, s->resp, NULL};
    return emit(s, &ev);
}

llmsvc_code stream_done(llmsvc_stream *s, const char *finish_reason)
{
    s->done = 1;
    if (finish_reason && response_set(s->resp, LLMSVC_RESP_FINISH_REASON, finish_reason) !=
                             LLMSVC_OK)
        return LLMSVC_E_NOMEM;
    return s->cancelled ? LLMSVC_E_CANCELLED : LLMSVC_OK;
}

llmsvc_response *stream_response(llmsvc_stream *s)
{
    return s->resp;
}

llmsvc_code stream_finish(llmsvc_stream *s)
{
    for (size_t i = 0; i < s->n_calls; i++) {
        stream_call *c = &s->calls[i];
        if (response_add_tool_call(s->resp, c->id, c->name, buf_cstr(&c->args)) != LLMSVC_OK)
            return LLMSVC_E_NOMEM;
    }
    free_calls(s);
    return LLMSVC_OK;
}
