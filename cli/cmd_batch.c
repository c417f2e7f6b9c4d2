/* llmsvc batch — a JSONL file of requests through one runtime on N threads,
 * the results written in input order, resumable after a crash or Ctrl-C.
 *
 * Threads: each worker takes the next input line under b->lock (reading it
 * from the file only then: the input is never held in memory), makes the call
 * outside the lock, and leaves the result line in a ring of b->window slots.
 * The main thread writes the ring's finished head in order and flushes it, so
 * the output is always a complete, in-order prefix of the results; it also
 * draws the progress and watches for signals. A worker waits when its line
 * would be a whole window ahead of the oldest unwritten one, which bounds the
 * memory held for results when one call is slow.
 *
 * Resuming: the output is read before anything runs. Its lines are ours, in
 * order, so every input line up to the last one it names is done; what follows
 * the last newline is an unfinished write and is cut off. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch_progress.h"
#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc batch --input FILE --output FILE [options]\n"
    "\n"
    "Runs every request of a JSONL file (one request JSON a line, as 'llmsvc call\n"
    "--request' reads it) on several threads, and writes one result a line to the\n"
    "output, in input order:\n"
    "  {\"line\": N, \"response\": {...}}   or   {\"line\": N, \"error\": {...}}\n"
    "N is the input line number (blank lines are skipped but counted). A line that\n"
    "is not a valid request gets an error result; the others run all the same.\n"
    "\n"
    "Resuming: run the same command again after a crash or Ctrl-C. The lines\n"
    "already in the output are not called again, whatever their outcome; an\n"
    "unfinished last line is cut off and redone. Delete the output to start over.\n"
    "\n"
    "  --input FILE|-        the requests (JSONL)\n"
    "  --output FILE         the results (JSONL); created, or resumed when it exists\n"
    "  --concurrency N       calls at once (default 4, at most 256)\n"
    "  --store URL           also write a call record of every call into this job\n"
    "                        store (sqlite:PATH or postgres://...)\n"
    "  --project ID          project_id of every request (replaces the line's)\n"
    "  --org ID              organization_id of every request (replaces the line's)\n"
    "  --retries N           retries of retryable failures (default 2)\n"
    "  --timeout SECONDS     per attempt (default 600)\n"
    "  --plugin-path DIRS    plugin folders (':'-separated), before LLMSVC_PLUGIN_PATH\n"
    "  --spec-path DIRS      spec folders (':'-separated), read after LLMSVC_SPEC_PATH\n"
    "  --verbose             log what happens (plugins loaded, retries) on stderr\n"
    "  --quiet               no progress and no warnings (the resume note and the\n"
    "                        summary stay)\n"
    "  --help                this text\n"
    "\n"
    "Progress goes to stderr: on a terminal one line redrawn with a bar, lines\n"
    "done, calls/s, failures and ETA; otherwise a plain line every 5 seconds; a\n"
    "summary at the end either way. Ctrl-C or SIGTERM stops taking new lines, lets\n"
    "running calls end (up to 30 s), writes what is complete and exits; a second\n"
    "one stops at once.\n"
    "\n"
    "Exit codes: 0 every line has a result and none failed, 4 every line has a\n"
    "result and some are errors, 2 usage, 6 configuration (the runtime or the\n"
    "--store could not be opened), 1 the input or output could not be read or\n"
    "written (or the output is in use, or is not results of this command),\n"
    "130 / 143 stopped by SIGINT / SIGTERM (run again to resume).\n";

#define MAX_CONCURRENCY 256
#define DRAIN_MS 30000L /* how long a stop waits for the calls running */
#define TICK_MS 100L    /* the main thread looks at signals and progress this often */

enum {
    O_INPUT = OPT_FIRST_FREE,
    O_OUTPUT,
    O_CONCURRENCY,
    O_STORE,
    O_PROJECT,
    O_ORG,
    O_RETRIES,
    O_TIMEOUT
};

static const struct option longopts[] = {
    {"input", required_argument, NULL, O_INPUT},
    {"output", required_argument, NULL, O_OUTPUT},
    {"concurrency", required_argument, NULL, O_CONCURRENCY},
    {"store", required_argument, NULL, O_STORE},
    {"project", required_argument, NULL, O_PROJECT},
    {"org", required_argument, NULL, O_ORG},
    {"retries", required_argument, NULL, O_RETRIES},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"plugin-path", required_argument, NULL, OPT_PLUGIN_PATH},
    {"spec-path", required_argument, NULL, OPT_SPEC_PATH},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};

/* One line in flight or waiting to be written. */
typedef struct slot {
    long line;  /* 1-based input line number */
    char *text; /* the result line, '\n' included; NULL when it could not be made */
    int done, failed;
} slot;

typedef struct batch {
    /* set before the workers start, read-only after */
    llmsvc_runtime *rt;
    const char *project, *org;
    long skip_through; /* input lines up to this one already have results */
    size_t window;
    slot *ring;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t space; /* the head moved, the input ended, or a stop: workers look */
    pthread_cond_t ready; /* a result arrived or a worker ended: the main thread looks */
    FILE *in;
    long line_no; /* input lines read so far */
    int eof, read_errno, stopping;
    uint64_t head, next; /* oldest unwritten; next to hand out */
    int live;            /* workers still running */
    long done, failed;   /* calls ended in this run */
} batch;

/* ---- the output: reading it back, writing results ---- */

/* The line number and outcome of one complete output line; -1 if it is not
 * a result line. Lines this command wrote start {"line":N,"response": or
 * {"line":N,"error": and are read without a parser; any other JSON object
 * with an integer "line" and a "response" or "error" is accepted too. */
static int parse_result(const char *s, size_t n, long *line, int *failed)
{
    if (n > 8 && !strncmp(s, "{\"line\":", 8) && s[8] >= '1' && s[8] <= '9') {
        char *end;
        errno = 0;
        long v = strtol(s + 8, &end, 10);
        if (!errno && (!strncmp(end, ",\"response\":", 12) || !strncmp(end, ",\"error\":", 9)) &&
            s[n - 1] == '}') {
            *line = v;
            *failed = end[2] == 'e';
            return 0;
        }
    }
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    json_object *o = json_tokener_parse_ex(tok, s, (int)(n < INT32_MAX ? n : INT32_MAX)), *v;
    int rc = -1;
    if (o && json_tokener_get_error(tok) == json_tokener_success &&
        json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "line", &v) &&
        json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0) {
        *line = (long)json_object_get_int64(v);
        *failed = json_object_object_get_ex(o, "error", NULL);
        if (*failed || json_object_object_get_ex(o, "response", NULL))
            rc = 0;
    }
    json_object_put(o);
    json_tokener_free(tok);
    return rc;
}

typedef struct resume_info {
    long last_line; /* the last input line with a result; 0: none */
    long results, failed;
    long dropped; /* bytes of an unfinished last line cut off */
} resume_info;

/* Opens path for appending results after reading back what it holds (see the
 * top of the file). EXIT_OK, or an exit code after printing why. */
static int open_output(const char *path, FILE **out, resume_info *ri)
{
    memset(ri, 0, sizeof *ri);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        fprintf(stderr, "llmsvc batch: cannot open %s: %s\n", path, strerror(errno));
        return EXIT_OTHER;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr,
                "llmsvc batch: %s is not a regular file (the output is read back to resume)\n",
                path);
        close(fd);
        return EXIT_USAGE;
    }
    /* two runs appending to one output would interleave their results; a
     * file system without locks (some NFS) is used without one */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        fprintf(stderr, "llmsvc batch: %s is in use (another llmsvc batch writing it?)\n", path);
        close(fd);
        return EXIT_OTHER;
    }
    FILE *f = fdopen(fd, "r+");
    if (!f) {
        fprintf(stderr, "llmsvc batch: cannot open %s: %s\n", path, strerror(errno));
        close(fd);
        return EXIT_OTHER;
    }
    char *buf = NULL;
    size_t cap = 0;
    off_t good = 0; /* end of the last complete line */
    long n_line = 0;
    ssize_t n;
    int rc = EXIT_OK;
    while ((n = getline(&buf, &cap, f)) > 0) {
        if (buf[n - 1] != '\n') {
            ri->dropped = (long)n;
            break;
        }
        n_line++;
        long line;
        int failed;
        if (parse_result(buf, (size_t)n - 1, &line, &failed) != 0) {
            fprintf(stderr,
                    "llmsvc batch: %s:%ld: not a result line of llmsvc batch; give another "
                    "--output (this file is left as it is)\n",
                    path, n_line);
            rc = EXIT_OTHER;
            goto out;
        }
        if (line <= ri->last_line) {
            fprintf(stderr,
                    "llmsvc batch: %s:%ld: result for line %ld after one for line %ld; the "
                    "results are not in order, so this cannot be resumed\n",
                    path, n_line, line, ri->last_line);
            rc = EXIT_OTHER;
            goto out;
        }
        ri->last_line = line;
        ri->results++;
        ri->failed += failed;
        good += (off_t)n;
    }
    if (ferror(f)) {
        fprintf(stderr, "llmsvc batch: cannot read %s: %s\n", path, strerror(errno));
        rc = EXIT_OTHER;
        goto out;
    }
    /* a switch from reading to writing needs a seek anyway */
    if ((ri->dropped && ftruncate(fd, good) != 0) || fseeko(f, good, SEEK_SET) != 0) {
        fprintf(stderr, "llmsvc batch: cannot cut the unfinished last line of %s: %s\n", path,
                strerror(errno));
        rc = EXIT_OTHER;
    }
out:
    free(buf);
    if (rc != EXIT_OK)
        fclose(f);
    else
        *out = f;
    return rc;
}

/* {"line":N,"<key>":<json>}\n, malloc'd; NULL when out of memory. */
static char *result_line(long line, const char *key, const char *json)
{
    if (!json)
        return NULL;
    size_t size = strlen(json) + strlen(key) + 48;
    char *s = malloc(size);
    if (s)
        snprintf(s, size, "{\"line\":%ld,\"%s\":%s}\n", line, key, json);
    return s;
}

/* ---- workers ---- */

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strchr(" \t\r\n\f\v", s[i]) || !s[i])
            return 0;
    }
    return 1;
}

/* Reads on to the next line to run, into *buf (NUL-terminated, line end cut);
 * its length, or -1 at the end of the input or on a read error. Under b->lock. */
static ssize_t next_request(batch *b, char **buf, size_t *cap, long *line)
{
    for (;;) {
        ssize_t n = getline(buf, cap, b->in);
        if (n < 0) {
            if (ferror(b->in))
                b->read_errno = errno ? errno : EIO;
            b->eof = 1;
            pthread_cond_broadcast(&b->space);
            return -1;
        }
        b->line_no++;
        if (b->line_no <= b->skip_through)
            continue;
        char *p = *buf;
        if (b->line_no == 1 && n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) { /* a UTF-8 BOM */
            memmove(p, p + 3, (size_t)n - 2);
            n -= 3;
        }
        while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
            p[--n] = '\0';
        if (blank(p, (size_t)n))
            continue;
        *line = b->line_no;
        return n;
    }
}

/* A string member of the request line, or NULL. */
static char *peek_string(const char *text, const char *key)
{
    json_object *o = json_tokener_parse(text), *v;
    char *s = NULL;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        s = strdup(json_object_get_string(v));
    json_object_put(o);
    return s;
}

/* --project/--org: each replaces its own field, the other stays the line's. */
static llmsvc_code set_project(const batch *b, llmsvc_request *req, const char *text)
{
    char *project = b->project ? NULL : peek_string(text, "project_id");
    char *org = b->org ? NULL : peek_string(text, "organization_id");
    llmsvc_code rc =
        llmsvc_request_set_project(req, b->project ? b->project : project, b->org ? b->org : org);
    free(project);
    free(org);
    return rc;
}

/* Runs one request line; its result line (malloc'd, or NULL out of memory). */
static char *run_line(const batch *b, long line, const char *text, size_t len, int *failed)
{
    llmsvc_request *req = NULL;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    char *js = NULL, *out;
    llmsvc_code rc = llmsvc_request_from_json(&req, text, len, &err);
    if (rc == LLMSVC_OK && (b->project || b->org))
        rc = set_project(b, req, text);
    if (rc == LLMSVC_OK)
        rc = llmsvc_call(b->rt, req, &resp, &err);
    if (rc == LLMSVC_OK && llmsvc_response_to_json(&js, resp) != LLMSVC_OK)
        rc = LLMSVC_E_NOMEM;
    *failed = rc != LLMSVC_OK;
    if (rc == LLMSVC_OK) {
        out = result_line(line, "response", js);
    } else if (err && llmsvc_error_to_json(&js, err) == LLMSVC_OK) {
        out = result_line(line, "error", js);
    } else { /* no error object to show (out of memory): its class at least */
        char tmp[160];
        snprintf(tmp, sizeof tmp, "{\"code\":\"%s\",\"message\":\"%s\",\"retryable\":false}",
                 llmsvc_code_name(rc), err ? "out of memory" : "the call failed without a reason");
        out = result_line(line, "error", tmp);
    }
    llmsvc_free(js);
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    return out;
}

static void *worker(void *arg)
{
    batch *b = arg;
    char *buf = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        while (!b->stopping && !b->eof && b->next - b->head >= b->window)
            pthread_cond_wait(&b->space, &b->lock);
        long line = 0;
        ssize_t len = b->stopping || b->eof ? -1 : next_request(b, &buf, &cap, &line);
        if (len < 0) {
            b->live--;
            pthread_cond_signal(&b->ready);
            pthread_mutex_unlock(&b->lock);
            break;
        }
        uint64_t seq = b->next++;
        slot *s = &b->ring[seq % b->window];
        *s = (slot){line, NULL, 0, 0};
        pthread_mutex_unlock(&b->lock);

        int failed;
        char *text = run_line(b, line, buf, (size_t)len, &failed);

        pthread_mutex_lock(&b->lock);
        s->text = text;
        s->failed = failed;
        s->done = 1;
        b->done++;
        b->failed += failed;
        if (seq == b->head)
            pthread_cond_signal(&b->ready);
        pthread_mutex_unlock(&b->lock);
    }
    free(buf);
    return NULL;
}

/* ---- counting the input for the progress display ---- */

typedef struct counter {
    const char *path;
    progress *pg;
    atomic_int stop;
} counter;

/* Counts the non-blank lines of the input (the same ones the workers run),
 * beside them, so that the first calls do not wait for it. */
static void *count_requests(void *arg)
{
    counter *c = arg;
    FILE *f = fopen(c->path, "rb");
    if (!f)
        return NULL;
    char buf[65536];
    long total = 0;
    int content = 0; /* the current line has a non-blank byte */
    size_t n;
    while (!atomic_load(&c->stop) && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                total += content;
                content = 0;
            } else if (!content && !strchr(" \t\r\f\v", buf[i])) {
                content = 1;
            }
        }
    }
    total += content;
    if (!ferror(f) && !atomic_load(&c->stop))
        progress_set_total(c->pg, total);
    fclose(f);
    return NULL;
}

/* ---- signals ---- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    static const char msg[] = "\nllmsvc batch: stopped at once; run the same command again "
                              "to resume\n";
    if (got_signal) { /* the second one: no more waiting */
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    got_signal = sig;
}

/* ---- the main thread: writing in order ---- */

typedef struct written {
    long lines, failed;
    int io_errno; /* writing the output failed */
} written;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void abs_after(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Writes the one finished slot at the head. Outside b->lock: the slot is done
 * and no worker touches it until the head has moved past it. */
static int write_slot(FILE *out, const slot *s)
{
    if (s->text)
        return fputs(s->text, out) < 0 ? -1 : 0;
    /* the result could not be made: the line still gets one, to keep the order */
    return fprintf(out,
                   "{\"line\":%ld,\"error\":{\"code\":\"NOMEM\",\"message\":\"out of memory "
                   "making the result of this line\",\"retryable\":true}}\n",
                   s->line) < 0
               ? -1
               : 0;
}

/* Calls handed out and not yet ended. Under b->lock. */
static long running(const batch *b)
{
    long n = 0;
    for (uint64_t q = b->head; q < b->next; q++)
        n += !b->ring[q % b->window].done;
    return n;
}

/* Writes results in order until every worker has ended, or a stop has waited
 * DRAIN_MS for the running calls. Returns 1 if workers are still running. */
static int write_results(batch *b, FILE *out, progress *pg, written *w)
{
    long deadline = 0;
    int abandoned = 0;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        if ((got_signal || w->io_errno) && !b->stopping) {
            b->stopping = 1;
            pthread_cond_broadcast(&b->space);
        }
        if (b->stopping && !deadline) {
            deadline = now_ms() + DRAIN_MS;
            long r = running(b);
            if (got_signal && r > 0)
                progress_print(pg,
                               "llmsvc batch: stopping: waiting for %ld running call%s (at most "
                               "%ld s; signal again to stop at once)",
                               r, r == 1 ? "" : "s", DRAIN_MS / 1000);
        }
        size_t n = 0;
        while (b->head + n < b->next && b->ring[(b->head + n) % b->window].done)
            n++;
        if (n && !w->io_errno) {
            pthread_mutex_unlock(&b->lock);
            for (size_t i = 0; i < n && !w->io_errno; i++) {
                const slot *s = &b->ring[(b->head + i) % b->window];
                if (write_slot(out, s) != 0) {
                    w->io_errno = errno ? errno : EIO;
                    break;
                }
                w->lines++;
                w->failed += s->failed || !s->text;
            }
            if (!w->io_errno && fflush(out) != 0)
                w->io_errno = errno ? errno : EIO;
            pthread_mutex_lock(&b->lock);
            for (size_t i = 0; i < n; i++) {
                slot *s = &b->ring[(b->head + i) % b->window];
                free(s->text);
                *s = (slot){0};
            }
            b->head += n;
            pthread_cond_broadcast(&b->space);
        } else {
            if (b->live == 0)
                break;
            if (deadline && now_ms() >= deadline) {
                abandoned = 1;
                break;
            }
            struct timespec ts;
            abs_after(&ts, TICK_MS);
            pthread_cond_timedwait(&b->ready, &b->lock, &ts);
        }
        long done = b->done, failed = b->failed;
        pthread_mutex_unlock(&b->lock);
        progress_update(pg, done, failed);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return abandoned;
}

/* ---- setup ---- */

static void log_to_progress(void *user, llmsvc_log_level level, const char *msg)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    progress_print(user, "llmsvc: %s: %s", names[level < 4 ? level : 3], msg);
}

static int open_runtime(const cli_common *c, long timeout_ms, long retries, progress *pg,
                        llmsvc_runtime **rt)
{
    llmsvc_options o;
    llmsvc_options_init(&o);
    o.plugin_path = c->plugin_path;
    o.spec_path = c->spec_path;
    o.timeout_ms = timeout_ms;
    o.max_retries = (int)retries;
    o.log = log_to_progress;
    o.log_user = pg;
    o.log_level = c->quiet ? LLMSVC_LOG_OFF : c->verbose ? LLMSVC_LOG_DEBUG : LLMSVC_LOG_WARN;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_open(rt, &o, &err) != LLMSVC_OK) {
        int code = cli_fail(NULL, err);
        llmsvc_error_free(err);
        return code == EXIT_OTHER ? EXIT_CONFIG : code;
    }
    return EXIT_OK;
}

static int open_store(const char *url, llmsvc_store **st)
{
    llmsvc_error *err = NULL;
    if (llmsvc_store_open(st, url, &err) != LLMSVC_OK) {
        cli_fail(NULL, err);
        llmsvc_error_free(err);
        return EXIT_CONFIG;
    }
    return EXIT_OK;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* "llmsvc batch: 40/40 lines done, 2 failed (25 ran in 0:01, 20.1/s; 15 done
 * before); results in out.jsonl" */
static void summary(progress *pg, const char *output, const resume_info *ri, const written *w,
                    long ran, double seconds, long total, int sig)
{
    char d[32], tot[32] = "", before[48] = "";
    progress_duration(d, sizeof d, seconds);
    if (total >= 0)
        snprintf(tot, sizeof tot, "/%ld", total);
    if (ri->results)
        snprintf(before, sizeof before, "; %ld done before", ri->results);
    progress_print(pg,
                   "llmsvc batch: %s%ld%s lines done, %ld failed (%ld ran in %s, %.1f/s%s); %s%s",
                   sig ? "stopped: " : "", ri->results + w->lines, tot, ri->failed + w->failed, ran,
                   d, seconds > 0 ? (double)ran / seconds : 0.0, before,
                   sig ? "run the same command again to resume" : "results in ", sig ? "" : output);
}

int cmd_batch(int argc, char **argv)
{
    cli_common c = {0};
    const char *input = NULL, *output = NULL, *store_url = NULL;
    long concurrency = 4, retries = -1, timeout_ms = 0;
    double x;
    int opt, rc = EXIT_OK, abandoned = 0;
    FILE *in = NULL, *out = NULL;
    progress *pg = NULL;
    llmsvc_runtime *rt = NULL;
    llmsvc_store *st = NULL;
    pthread_t *threads = NULL, count_thread;
    int counting = 0, n_threads = 0, sync_made = 0;
    counter cnt = {0};
    resume_info ri;
    written w = {0};
    batch b = {0};
    struct sigaction sa, old_int, old_term;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (cli_common_opt(&c, opt, optarg))
            continue;
        switch (opt) {
        case O_INPUT:
            input = optarg;
            break;
        case O_OUTPUT:
            output = optarg;
            break;
        case O_STORE:
            store_url = optarg;
            break;
        case O_PROJECT:
            b.project = optarg;
            break;
        case O_ORG:
            b.org = optarg;
            break;
        case O_CONCURRENCY:
            if (cli_int(optarg, &concurrency) < 0 || concurrency < 1 ||
                concurrency > MAX_CONCURRENCY)
                return cli_usage("batch",
                                 "--concurrency takes a whole number from 1 to %d, not '%s'",
                                 MAX_CONCURRENCY, optarg);
            break;
        case O_RETRIES:
            if (cli_int(optarg, &retries) < 0 || retries < 0 || retries > 100)
                return cli_usage("batch", "--retries takes a whole number from 0 to 100, not '%s'",
                                 optarg);
            break;
        case O_TIMEOUT:
            if (cli_number(optarg, &x) < 0 || x <= 0 || x > 86400)
                return cli_usage("batch", "--timeout takes seconds (0 < s <= 86400), not '%s'",
                                 optarg);
            timeout_ms = (long)(x * 1000);
            if (timeout_ms < 1)
                timeout_ms = 1;
            break;
        default:
            return cli_usage("batch", "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage("batch", "unexpected argument '%s'", argv[optind]);
    if (!input || !output)
        return cli_usage("batch", "give --input FILE and --output FILE");
    if (strcmp(input, "-") != 0 && same_file(input, output))
        return cli_usage("batch", "--input and --output are the same file");

    in = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
    if (!in) {
        fprintf(stderr, "llmsvc batch: cannot open %s: %s\n", input, strerror(errno));
        return EXIT_OTHER;
    }
    if (!(pg = progress_new(c.quiet))) {
        rc = cli_fail_code(NULL, LLMSVC_E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = open_runtime(&c, timeout_ms, retries, pg, &rt)) != EXIT_OK)
        goto out;
    if (store_url) {
        if ((rc = open_store(store_url, &st)) != EXIT_OK)
            goto out;
        llmsvc_runtime_set_records(rt, st);
    }
    /* last: a configuration problem leaves no output file behind */
    if ((rc = open_output(output, &out, &ri)) != EXIT_OK)
        goto out;
    progress_set_prior(pg, ri.results);
    if (ri.results || ri.dropped) {
        char cut[96] = "";
        if (ri.dropped)
            snprintf(cut, sizeof cut, "; cut off an unfinished last line (%ld bytes)", ri.dropped);
        progress_print(
            pg,
            "llmsvc batch: %s already has %ld result%s (%ld failed), through line %ld%s; "
            "running the lines after it",
            output, ri.results, ri.results == 1 ? "" : "s", ri.failed, ri.last_line, cut);
    }

    b.rt = rt;
    b.in = in;
    b.skip_through = ri.last_line;
    b.window = (size_t)(concurrency * 8 > 64 ? concurrency * 8 : 64);
    b.ring = calloc(b.window, sizeof *b.ring);
    threads = calloc((size_t)concurrency, sizeof *threads);
    if (!b.ring || !threads || pthread_mutex_init(&b.lock, NULL) != 0) {
        rc = cli_fail_code(NULL, LLMSVC_E_NOMEM, "out of memory");
        goto out;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&b.space, NULL) != 0 || pthread_cond_init(&b.ready, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&b.lock);
        rc = cli_fail_code(NULL, LLMSVC_E_NOMEM, "out of memory");
        goto out;
    }
    pthread_condattr_destroy(&ca);
    sync_made = 1;

    /* The workers (and any thread the library starts from them) never take
     * SIGINT or SIGTERM: only this thread does, and it decides what stops. */
    got_signal = 0;
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask);
    struct stat in_st;
    if (in != stdin && fstat(fileno(in), &in_st) == 0 && S_ISREG(in_st.st_mode)) {
        /* only a regular file: a second reader of a pipe would steal its lines */
        cnt.path = input;
        cnt.pg = pg;
        counting = pthread_create(&count_thread, NULL, count_requests, &cnt) == 0;
    }
    b.live = (int)concurrency;
    for (; n_threads < concurrency; n_threads++) {
        if (pthread_create(&threads[n_threads], NULL, worker, &b) != 0)
            break;
    }
    pthread_mutex_lock(&b.lock);
    b.live -= (int)concurrency - n_threads; /* those that could not start */
    pthread_mutex_unlock(&b.lock);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

    if (n_threads == 0) {
        rc = cli_fail_code(NULL, LLMSVC_E_NOMEM, "cannot start a worker thread");
    } else {
        abandoned = write_results(&b, out, pg, &w);
        if (!abandoned) {
            for (int i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
        }
    }
    atomic_store(&cnt.stop, 1);
    if (counting)
        pthread_join(count_thread, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    if (n_threads) {
        if ((fflush(out) != 0 || fsync(fileno(out)) != 0) && !w.io_errno)
            w.io_errno = errno ? errno : EIO;
        pthread_mutex_lock(&b.lock);
        long ran = b.done, left = running(&b);
        int finished = b.eof && !b.read_errno && !b.stopping;
        pthread_mutex_unlock(&b.lock);
        /* when every line ran the count is exact, else it is the counter's */
        long total = finished ? ri.results + w.lines : progress_total(pg);
        summary(pg, output, &ri, &w, ran, progress_elapsed(pg), total, got_signal);
        if (abandoned)
            progress_print(pg,
                           "llmsvc batch: %ld call%s still running after %ld s left "
                           "unfinished; they run again on resume",
                           left, left == 1 ? "" : "s", DRAIN_MS / 1000);
        if (w.io_errno) {
            progress_print(pg, "llmsvc batch: cannot write %s: %s", output, strerror(w.io_errno));
            rc = EXIT_OTHER;
        } else if (b.read_errno) {
            progress_print(pg, "llmsvc batch: cannot read %s: %s", input, strerror(b.read_errno));
            rc = EXIT_OTHER;
        } else if (got_signal) {
            rc = 128 + got_signal;
        } else {
            rc = ri.failed + w.failed ? EXIT_API : EXIT_OK;
        }
    }
    if (abandoned) {
        /* Calls are still running in the runtime, which must not be closed
         * under them, nor may exit handlers tear down what they use: what is
         * complete is on disk, so leave at once. */
        fclose(out);
        fflush(NULL);
        _exit(rc);
    }
out:
    if (sync_made) {
        for (size_t i = 0; i < b.window; i++)
            free(b.ring[i].text);
        pthread_cond_destroy(&b.space);
        pthread_cond_destroy(&b.ready);
        pthread_mutex_destroy(&b.lock);
    }
    free(b.ring);
    free(threads);
    if (out)
        fclose(out);
    if (in && in != stdin)
        fclose(in);
    llmsvc_runtime_close(rt);
    llmsvc_store_close(st);
    progress_free(pg);
    return rc;
}
