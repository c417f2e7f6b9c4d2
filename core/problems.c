#include "problems.h"

#include <stdarg.h>

void problems_add(problems *p, const char *file, unsigned line, unsigned col, const char *fmt,
                  ...)
{
    if (p->count)
        buf_putc(&p->text, '\n');
    if (line)
        buf_printf(&p->text, "%s:%u:%u: ", file, line, col);
    else
        buf_printf(&p->text, "%s: ", file);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&p->text, fmt, ap);
    va_end(ap);
    p->count++;
}

void problems_free(problems *p)
{
    buf_free(&p->text);
    p->count = 0;
}
