/* problems — a list of "file:line:col: message" lines collected while reading
 * configuration, so that every problem is reported, not only the first. */
#ifndef LLMSVC_PROBLEMS_H
#define LLMSVC_PROBLEMS_H

#include "buf.h"

typedef struct problems {
    buf text; /* one problem per line, '\n'-separated, no final newline */
    size_t count;
} problems;

#define PROBLEMS_INIT { BUF_INIT, 0 }

/* line and col are 1-based; 0 leaves them out. */
void problems_add(problems *p, const char *file, unsigned line, unsigned col, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
void problems_free(problems *p);

#endif
