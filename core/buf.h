/* buf — a growable byte buffer, always NUL-terminated. Internal. */
#ifndef LLMSVC_BUF_H
#define LLMSVC_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
} buf;

#define BUF_INIT { NULL, 0, 0 }

/* Each returns 0, or -1 when memory runs out (the buffer is then unchanged). */
int buf_reserve(buf *b, size_t extra);
int buf_append(buf *b, const char *s, size_t n);
int buf_puts(buf *b, const char *s);
/* One byte; inline, as the usual case is a store (the writers call it per
 * delimiter). */
static inline int buf_putc(buf *b, char c)
{
    if (b->len + 2 > b->cap && buf_reserve(b, 1) < 0)
        return -1;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap);
/* Hands the data (never NULL: "" for an empty buffer) to the caller; b is emptied. */
char *buf_steal(buf *b);
void buf_clear(buf *b);
void buf_free(buf *b);
/* "" for an empty buffer. */
const char *buf_cstr(const buf *b);

#endif
