/* stream — the sink a plugin streams into (plugin.h's llmsvc_stream): it
 * hands each delta to the host's callback and assembles the final response
 * from the same deltas, so a streamed answer equals the non-streamed one. */
#ifndef LLMSVC_STREAM_H
#define LLMSVC_STREAM_H

#include "buf.h"
#include "llmsvc/plugin.h"

typedef struct stream_call {
    int index;
    char *id;
    char *name;
    buf args;
    int ended;
} stream_call;

struct llmsvc_stream {
    llmsvc_stream_fn fn;
    void *user;
    llmsvc_response *resp; /* being assembled */
    int started;           /* something reached the host: no retry from here */
    int cancelled;         /* the host asked to stop */
    int done;              /* the plugin saw the end event */
    stream_call *calls;    /* tool calls in the order they started */
    size_t n_calls;
};

void stream_init(llmsvc_stream *s, llmsvc_stream_fn fn, void *user, llmsvc_response *resp);
/* Forgets a failed attempt's tool calls and flags (not `started`). */
void stream_reset(llmsvc_stream *s);
void stream_free(llmsvc_stream *s);
/* Moves the assembled tool calls into the response (call once, at the end). */
llmsvc_code stream_finish(llmsvc_stream *s);
/* Sends an event to the host directly (DONE, ERROR). */
int stream_emit(llmsvc_stream *s, const llmsvc_event *ev);

/* The host functions of plugin.h. */
llmsvc_code stream_text(llmsvc_stream *s, const char *text, size_t len);
llmsvc_code stream_reasoning(llmsvc_stream *s, const char *text, size_t len);
llmsvc_code stream_tool_start(llmsvc_stream *s, int index, const char *id, const char *name);
llmsvc_code stream_tool_args(llmsvc_stream *s, int index, const char *text, size_t len);
llmsvc_code stream_tool_end(llmsvc_stream *s, int index);
llmsvc_code stream_usage(llmsvc_stream *s, const llmsvc_usage *u);
llmsvc_code stream_done(llmsvc_stream *s, const char *finish_reason);
llmsvc_response *stream_response(llmsvc_stream *s);

#endif
