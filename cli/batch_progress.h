/* batch_progress — what `llmsvc batch` shows on stderr while it runs: on a
 * terminal one line redrawn a few times a second (bar, done/total, calls/s,
 * failures, ETA); otherwise a plain line every few seconds. Other lines (log
 * messages, notes, the final summary) go through progress_print so that they
 * never land in the middle of the bar. */
#ifndef LLMSVC_BATCH_PROGRESS_H
#define LLMSVC_BATCH_PROGRESS_H

typedef struct progress progress;

/* A display on stderr; terminal or plain is decided by isatty(2). quiet: no
 * periodic output (progress_print still prints). NULL when out of memory. */
progress *progress_new(int quiet);
/* Clears the bar if one is drawn. NULL-safe. */
void progress_free(progress *p);

/* Results already in the output before this run: counted in done/total, not
 * in the rate. Before the first update. */
void progress_set_prior(progress *p, long prior_done);

/* Requests in the whole input, once known (until then the display has no bar
 * and no ETA). Any thread. */
void progress_set_total(progress *p, long total);
/* That total, or -1 while unknown. */
long progress_total(const progress *p);

/* This run's calls ended so far and how many of them failed; draws when a
 * redraw is due. Called by one thread, as often as it likes. */
void progress_update(progress *p, long done, long failed);

/* Prints one line (the newline is added) without tangling it with the bar;
 * the bar is drawn again at the next update. Any thread. */
void progress_print(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Seconds since progress_new. */
double progress_elapsed(const progress *p);
/* "1:05" or "2:03:04" for a number of seconds, into out (at least 16 bytes). */
void progress_duration(char *out, unsigned long size, double seconds);

#endif
