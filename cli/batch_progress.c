#include "batch_progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define TTY_EVERY_S 0.2   /* redraws of the bar */
#define PLAIN_EVERY_S 5.0 /* plain lines when stderr is not a terminal */
#define BAR_WIDTH 24

struct progress {
    pthread_mutex_t lock; /* one writer of stderr at a time; guards drawn */
    int tty, quiet;
    int drawn; /* the bar is on screen and the cursor after it */
    atomic_long total;
    long prior_done;
    double start, last;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

progress *progress_new(int quiet)
{
    progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->tty = isatty(STDERR_FILENO);
    p->quiet = quiet;
    atomic_init(&p->total, -1);
    p->start = p->last = now_s();
    return p;
}

void progress_free(progress *p)
{
    if (!p)
        return;
    if (p->drawn)
        fputs("\r\033[K", stderr);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void progress_set_prior(progress *p, long prior_done)
{
    p->prior_done = prior_done;
}

void progress_set_total(progress *p, long total)
{
    atomic_store(&p->total, total);
}

long progress_total(const progress *p)
{
    return atomic_load(&((progress *)p)->total);
}

double progress_elapsed(const progress *p)
{
    return now_s() - p->start;
}

void progress_duration(char *out, unsigned long size, double seconds)
{
    unsigned long s = seconds > 0 && seconds < 1e9 ? (unsigned long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(out, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, size, "%lu:%02lu", s / 60, s % 60);
}

/* The time left as "1:39" into out, or "" when it cannot be told yet. */
static void eta(char *out, size_t size, long total, long all, double rate)
{
    if (total < 0 || rate <= 0 || all > total)
        out[0] = '\0';
    else
        progress_duration(out, size, (double)(total - all) / rate);
}

static int columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* The bar line, without \r: "[######------] 120/400  35.2/s  2 failed  ETA 0:08". */
static void bar_line(char *out, size_t size, long total, long all, double rate, long failed)
{
    char e[32];
    eta(e, sizeof e, total, all, rate);
    if (total <= 0) {
        snprintf(out, size, "%ld done  %.1f/s  %ld failed", all, rate, failed);
        return;
    }
    char bar[BAR_WIDTH + 3];
    long fill = all >= total ? BAR_WIDTH : (long)((double)all * BAR_WIDTH / (double)total);
    bar[0] = '[';
    for (long i = 0; i < BAR_WIDTH; i++)
        bar[i + 1] = i < fill ? '#' : '-';
    bar[BAR_WIDTH + 1] = ']';
    bar[BAR_WIDTH + 2] = '\0';
    snprintf(out, size, "%s %ld/%ld  %.1f/s  %ld failed%s%s", bar, all, total, rate, failed,
             e[0] ? "  ETA " : "", e);
}

void progress_update(progress *p, long done, long failed)
{
    double t = now_s();
    if (p->quiet || t - p->last < (p->tty ? TTY_EVERY_S : PLAIN_EVERY_S))
        return;
    p->last = t;
    long total = atomic_load(&p->total), all = p->prior_done + done;
    double rate = t > p->start ? (double)done / (t - p->start) : 0;
    char line[256];
    if (p->tty) {
        bar_line(line, sizeof line, total, all, rate, failed);
        int cols = columns();
        if (cols > 1 && strlen(line) >= (size_t)cols)
            line[cols - 1] = '\0'; /* a wrapped line cannot be redrawn with \r */
    } else {
        char e[32], pct[16] = "";
        eta(e, sizeof e, total, all, rate);
        if (total > 0)
            snprintf(pct, sizeof pct, " (%ld%%)", all >= total ? 100 : all * 100 / total);
        if (total >= 0)
            snprintf(line, sizeof line,
                     "llmsvc batch: %ld/%ld lines%s, %.1f calls/s, %ld failed%s%s", all, total, pct,
                     rate, failed, e[0] ? ", ETA " : "", e);
        else
            snprintf(line, sizeof line, "llmsvc batch: %ld lines done, %.1f calls/s, %ld failed",
                     all, rate, failed);
    }
    pthread_mutex_lock(&p->lock);
    if (p->tty) {
        fprintf(stderr, "\r%s\033[K", line);
        p->drawn = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
    pthread_mutex_unlock(&p->lock);
}

void progress_print(progress *p, const char *fmt, ...)
{
    char small[1024], *text = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof small) { /* a long log message: print it whole */
        text = malloc((size_t)n + 1);
        if (text) {
            va_start(ap, fmt);
            vsnprintf(text, (size_t)n + 1, fmt, ap);
            va_end(ap);
        } else {
            text = small; /* truncated rather than lost */
        }
    }
    pthread_mutex_lock(&p->lock);
    fprintf(stderr, "%s%s\n", p->drawn ? "\r\033[K" : "", text);
    p->drawn = 0;
    fflush(stderr);
    pthread_mutex_unlock(&p->lock);
    if (text != small)
        free(text);
}
