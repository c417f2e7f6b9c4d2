#include "sse.h"

#include <string.h>

void sse_init(sse_parser *p, size_t max_event_bytes, sse_event_fn fn, void *user)
{
    memset(p, 0, sizeof *p);
    p->max = max_event_bytes;
    p->fn = fn;
    p->user = user;
}

void sse_free(sse_parser *p)
{
    buf_free(&p->line);
    buf_free(&p->event);
    buf_free(&p->data);
    buf_free(&p->id);
}

static int dispatch(sse_parser *p)
{
    int rc = 0;
    if (p->has_data || p->event.len) {
        llmsvc_sse_event ev = {buf_cstr(&p->event), buf_cstr(&p->data), p->data.len,
                               buf_cstr(&p->id)};
        rc = p->fn(p->user, &ev);
    }
    buf_clear(&p->event);
    buf_clear(&p->data);
    p->has_data = 0;
    /* the id persists across events, as the spec says */
    return rc;
}

/* One complete line (without its terminator). */
static int line(sse_parser *p, const char *s, size_t n)
{
    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        return 0; /* a comment: keep-alive */
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && !memcmp(s, "data", 4)) {
        if (p->has_data && buf_putc(&p->data, '\n') < 0)
            return -1;
        if (buf_append(&p->data, v, vlen) < 0)
            return -1;
        p->has_data = 1;
    } else if (flen == 5 && !memcmp(s, "event", 5)) {
        buf_clear(&p->event);
        if (buf_append(&p->event, v, vlen) < 0)
            return -1;
    } else if (flen == 2 && !memcmp(s, "id", 2)) {
        buf_clear(&p->id);
        if (!memchr(v, '\0', vlen) && buf_append(&p->id, v, vlen) < 0)
            return -1;
    }
    /* retry: and unknown fields are ignored */
    return p->data.len + p->event.len > p->max ? -1 : 0;
}

/* The first CR or LF of s[0..n), or NULL: two vectorised scans rather than a
 * test per byte (streams seldom hold a CR, so the second scan is short). */
static const char *line_end(const char *s, size_t n)
{
    const char *lf = memchr(s, '\n', n);
    const char *cr = memchr(s, '\r', lf ? (size_t)(lf - s) : n);
    return cr ? cr : lf;
}

int sse_feed(sse_parser *p, const char *data, size_t n)
{
    size_t start = 0;
    const char *e;
    while (start < n && (e = line_end(data + start, n - start))) {
        size_t i = (size_t)(e - data);
        char c = *e;
        if (c == '\n' && p->last_cr && i == start && !p->line.len) {
            /* the LF of a CRLF whose CR ended the line already */
            p->last_cr = 0;
            start = i + 1;
            continue;
        }
        int rc;
        if (p->line.len) {
            if (buf_append(&p->line, data + start, i - start) < 0)
                return -1;
            rc = line(p, p->line.data, p->line.len);
            buf_clear(&p->line);
        } else {
            rc = line(p, data + start, i - start);
        }
        if (rc)
            return rc;
        p->last_cr = c == '\r';
        start = i + 1;
    }
    if (start < n) {
        p->last_cr = 0; /* a byte that is not LF came after it */
        if (p->line.len + (n - start) > p->max || buf_append(&p->line, data + start, n - start) < 0)
            return -1;
    }
    return 0;
}

int sse_finish(sse_parser *p)
{
    int rc = 0;
    if (p->line.len) {
        rc = line(p, p->line.data, p->line.len);
        buf_clear(&p->line);
    }
    return rc ? rc : dispatch(p);
}
