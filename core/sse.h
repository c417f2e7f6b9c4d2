/* sse — an incremental parser of server-sent events (the WHATWG EventSource
 * format): feed it bytes as they arrive, split anywhere, and it calls back
 * once per complete event. Lines end with LF, CRLF or CR; `data:` lines join
 * with LF; comments (`:`) and unknown fields are skipped; a blank line ends
 * an event. It holds only the event being read, never the whole stream. */
#ifndef LLMSVC_SSE_H
#define LLMSVC_SSE_H

#include <stddef.h>

#include "buf.h"
#include "llmsvc/plugin.h"

/* Return 0 to go on, anything else to stop parsing (returned by sse_feed). */
typedef int (*sse_event_fn)(void *user, const llmsvc_sse_event *ev);

typedef struct sse_parser {
    buf line;  /* the line being read */
    buf event; /* the `event:` field */
    buf data;  /* the `data:` lines so far */
    buf id;
    int has_data;
    int last_cr;     /* the previous byte was CR (a CRLF's LF is not a new line) */
    size_t max;      /* limit for one event's size */
    sse_event_fn fn;
    void *user;
} sse_parser;

void sse_init(sse_parser *p, size_t max_event_bytes, sse_event_fn fn, void *user);
void sse_free(sse_parser *p);
/* Parses n bytes. 0, the callback's non-zero value, or -1 when an event
 * exceeds max_event_bytes or memory runs out. */
int sse_feed(sse_parser *p, const char *data, size_t n);
/* At the end of the stream: dispatches an event not yet ended by a blank line
 * (some servers omit the last one). Same return values. */
int sse_finish(sse_parser *p);

#endif
