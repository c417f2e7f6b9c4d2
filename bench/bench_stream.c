/* bench_stream — streamed calls through llmsvc_call_stream against a bare
 * libcurl reader of the same stream, in the same run.
 *
 * 1. First byte to first callback. A loopback server in this process (a
 *    socket and a thread per connection, below: the fake upstream cannot say
 *    when it wrote a byte) answers every POST with
 *    tests/fixtures/openai/stream_basic.sse, the Responses API's events, with
 *    chunked transfer encoding on a keep-alive connection. It reads
 *    CLOCK_MONOTONIC just before the write() that carries the first byte of
 *    the stream; the reader reads it when the first text is in its hands: the
 *    host's callback getting LLMSVC_EVENT_TEXT for llmsvc, the write callback
 *    that completes the first output_text.delta event for the baseline (one
 *    keep-alive easy handle, body not parsed). The two sides alternate call
 *    by call, in rounds: each round's percentiles, and the added latency
 *    within each round, are reduced to their median. Two shapes of stream:
 *      first byte  the headers, then the events before the first delta and the
 *                  delta in one write (what the target is about: everything
 *                  the core does between the first byte and the first text);
 *      next event  the events before the delta, a gap, then the delta alone
 *                  (what one event costs on a stream already open).
 *    Then the core alone: the same bytes through the transport's SSE parser,
 *    the plugin's parse_event and the sink, without the network or libcurl —
 *    the core's own CPU, free of the scheduler's noise.
 * 2. Concurrency and memory. N threads each in llmsvc_call_stream (or in the
 *    bare reader) at once; the server, in a child process so its memory is
 *    not counted, holds every stream after its first delta until the reader
 *    has seen all N open. Each side runs in a fresh child process of its own
 *    and reports VmRSS before and at the peak, VmHWM, and the resident pages
 *    of the threads' stacks (stacks this program maps, counted with mincore).
 *
 *   bench_stream [--calls N] [--rounds R] [--streams N] [--stack-kib K] [--json] ...
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "call.h"
#include "llmsvc/llmsvc.h"
#include "response.h"
#include "sse.h"

#define MODEL "bench-stream-1"
#define KEY_ENV "LLMSVC_BENCH_STREAM_KEY"
#define REQ_MAX (64 * 1024)
#define TARGET_P99_US 50.0

static long n_calls = 2000;   /* timed calls per side and shape */
static long n_warmup = 200;   /* untimed calls per side and shape first */
static long n_streams = 1000; /* concurrent streams */
static long stack_kib = 256;  /* the concurrent threads' stacks */
static long gap_us = 500;     /* server pause around the timed write */
static int n_rounds = 5;      /* rounds of n_calls; medians reported */
static const char *only;      /* "llmsvc" or "curl": one side only (for profiling) */
static int json_out;
static int skip_latency, skip_concurrency;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pause_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ================================================================ the stream */

/* The fixture split around its first text delta, each part one HTTP chunk. */
typedef struct wire {
    char *pre_first; /* chunk: the events before the first delta and the delta */
    size_t pre_first_len;
    char *pre; /* chunk: the events before the first delta */
    size_t pre_len;
    char *first; /* chunk: the first delta event */
    size_t first_len;
    char *rest; /* chunk: the events after it, then the last chunk */
    size_t rest_len;
    size_t body_len;      /* the decoded body */
    size_t through_first; /* decoded bytes up to the end of the first delta */
    char *sse;            /* the decoded body */
    char *text;           /* the answer the stream assembles to */
} wire;

static wire w;

static const char headers[] = "HTTP/1.1 200 OK\r\n"
                              "Content-Type: text/event-stream\r\n"
                              "Cache-Control: no-cache\r\n"
                              "x-request-id: req_bench_stream\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n";

static char *chunk(const char *a, size_t na, const char *b, size_t nb, int last, size_t *len)
{
    static const char end[] = "0\r\n\r\n";
    size_t cap = na + nb + 32 + sizeof end;
    char *c = malloc(cap);
    if (!c)
        return NULL;
    int h = snprintf(c, cap, "%zx\r\n", na + nb);
    memcpy(c + h, a, na);
    memcpy(c + h + na, b, nb);
    memcpy(c + h + na + nb, "\r\n", 2);
    *len = (size_t)h + na + nb + 2;
    if (last) {
        memcpy(c + *len, end, sizeof end - 1);
        *len += sizeof end - 1;
    }
    return c;
}

/* The text of the response.output_text.done event (what a reader assembles). */
static char *done_text(const char *sse)
{
    const char *ev = strstr(sse, "event: response.output_text.done\n");
    const char *data = ev ? strstr(ev, "\ndata: ") : NULL;
    if (!data)
        return NULL;
    data += 7;
    const char *eol = strchr(data, '\n');
    char *line = eol ? strndup(data, (size_t)(eol - data)) : NULL;
    json_object *o = line ? json_tokener_parse(line) : NULL, *t = NULL;
    char *text = NULL;
    if (o && json_object_object_get_ex(o, "text", &t))
        text = strdup(json_object_get_string(t));
    json_object_put(o);
    free(line);
    return text;
}

static int load_wire(const char *path)
{
    enum { MAX = 256 * 1024 };
    FILE *f = fopen(path, "rb");
    char *raw = malloc(MAX), *sse = malloc(2 * MAX);
    int rc = -1;
    if (!f || !raw || !sse)
        goto out;
    size_t n = fread(raw, 1, MAX - 1, f);
    raw[n] = '\0';
    /* {{model}} becomes the model asked for, as the fake upstream does */
    size_t o = 0;
    for (const char *p = raw; *p && o + 64 < 2 * MAX;) {
        if (!strncmp(p, "{{model}}", 9)) {
            o += (size_t)snprintf(sse + o, 2 * MAX - o, "%s", MODEL);
            p += 9;
        } else {
            sse[o++] = *p++;
        }
    }
    sse[o] = '\0';
    const char *first = strstr(sse, "event: response.output_text.delta\n");
    const char *first_end = first ? strstr(first, "\n\n") : NULL;
    if (!first || !first_end || (first != sse && first[-1] != '\n'))
        goto out;
    first_end += 2;
    size_t npre = (size_t)(first - sse), nfirst = (size_t)(first_end - first);
    size_t nrest = o - npre - nfirst;
    w.pre_first = chunk(sse, npre, first, nfirst, 0, &w.pre_first_len);
    w.pre = chunk(sse, npre, "", 0, 0, &w.pre_len);
    w.first = chunk(first, nfirst, "", 0, 0, &w.first_len);
    w.rest = chunk(first_end, nrest, "", 0, 1, &w.rest_len);
    w.body_len = o;
    w.through_first = npre + nfirst;
    w.text = done_text(sse);
    w.sse = strdup(sse);
    rc = w.pre_first && w.pre && w.first && w.rest && w.text && w.sse ? 0 : -1;
out:
    if (f)
        fclose(f);
    free(raw);
    free(sse);
    return rc;
}

/* ================================================================ the server */

enum { SHAPE_FIRST_BYTE = 0, SHAPE_NEXT_EVENT = 1 };

typedef struct server {
    int fd;                /* listening */
    atomic_int shape;      /* SHAPE_*, for requests not under /held/ */
    atomic_llong first_ns; /* when the last stream's timed write began */
    pthread_mutex_t mu;    /* guards gen: a stream under /held/ waits for the */
    pthread_cond_t cv;     /* next generation after sending its first delta */
    unsigned long gen;
} server;

static server srv = {-1, 0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads one request (headers and a Content-Length body) from fd into b, which
 * holds *have bytes already. 1 when its path is under /held/, 0 when not, -1
 * at the end of the connection or on anything unexpected. */
static int read_request(int fd, char *b, size_t cap, size_t *have)
{
    size_t n = *have;
    char *end;
    while (!(end = n ? memmem(b, n, "\r\n\r\n", 4) : NULL)) {
        if (n == cap)
            return -1;
        ssize_t k = recv(fd, b + n, cap - n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        n += (size_t)k;
    }
    size_t hlen = (size_t)(end - b) + 4, clen = 0;
    for (char *l = b; l && l < end;) {
        if (!strncasecmp(l, "content-length:", 15))
            clen = strtoul(l + 15, NULL, 10);
        char *nl = memchr(l, '\n', (size_t)(end - l));
        l = nl ? nl + 1 : NULL;
    }
    if (clen > cap - hlen)
        return -1;
    while (n < hlen + clen) {
        ssize_t k = recv(fd, b + n, cap - n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        n += (size_t)k;
    }
    const char *eol = memchr(b, '\r', hlen);
    int held = eol && memmem(b, (size_t)(eol - b), " /held/", 7) != NULL;
    memmove(b, b + hlen + clen, n - hlen - clen);
    *have = n - hlen - clen;
    return held;
}

static int respond(int fd, int held)
{
    int shape = held ? SHAPE_FIRST_BYTE : atomic_load(&srv.shape);
    int64_t t;
    unsigned long g = 0;
    if (held) {
        /* the generation before the reader can see this stream open: its
         * release may come before this thread runs again */
        pthread_mutex_lock(&srv.mu);
        g = srv.gen;
        pthread_mutex_unlock(&srv.mu);
    }
    if (send_all(fd, headers, sizeof headers - 1) < 0)
        return -1;
    if (shape == SHAPE_NEXT_EVENT) {
        if (send_all(fd, w.pre, w.pre_len) < 0)
            return -1;
        pause_us(gap_us);
        t = now_ns();
        if (send_all(fd, w.first, w.first_len) < 0)
            return -1;
    } else {
        t = now_ns();
        if (send_all(fd, w.pre_first, w.pre_first_len) < 0)
            return -1;
    }
    atomic_store(&srv.first_ns, t);
    if (held) {
        pthread_mutex_lock(&srv.mu);
        while (srv.gen == g)
            pthread_cond_wait(&srv.cv, &srv.mu);
        pthread_mutex_unlock(&srv.mu);
    } else {
        pause_us(gap_us); /* the next token is not there at once */
    }
    return send_all(fd, w.rest, w.rest_len);
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *b = malloc(REQ_MAX);
    size_t have = 0;
    int held;
    while (b && (held = read_request(fd, b, REQ_MAX, &have)) >= 0) {
        if (respond(fd, held) < 0)
            break;
    }
    free(b);
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 128 * 1024);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int c = accept4(srv.fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
                pause_us(1000);
                continue;
            }
            break;
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, &a, serve_conn, (void *)(intptr_t)c) != 0)
            close(c);
    }
    pthread_attr_destroy(&a);
    return NULL;
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    /* the backlog takes all the concurrent connects at once (capped by
     * net.core.somaxconn) */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* ================================================================ readers */

/* The bare libcurl reader: counts the body, notes when the first delta is
 * complete. */
typedef struct reader {
    size_t bytes;
    int64_t first_ns;
    atomic_long *opened; /* concurrency: counted once the first delta is in */
} reader;

static size_t on_bytes(char *data, size_t size, size_t nmemb, void *user)
{
    reader *r = user;
    (void)data;
    r->bytes += size * nmemb;
    if (!r->first_ns && r->bytes >= w.through_first) {
        r->first_ns = now_ns();
        if (r->opened)
            atomic_fetch_add(r->opened, 1);
    }
    return size * nmemb;
}

static char *req_body;
static struct curl_slist *req_headers;

static CURL *bare_handle(const char *url, reader *r, long timeout_ms)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, req_headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req_body);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    return h;
}

/* 0 when the whole stream came with a 200. */
static int bare_perform(CURL *h)
{
    long status = 0;
    return curl_easy_perform(h) == CURLE_OK &&
                   curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                   status == 200
               ? 0
               : -1;
}

/* llmsvc: the first text event. */
typedef struct host_side {
    int64_t first_ns;
    atomic_long *opened;
} host_side;

static int on_event(void *user, const llmsvc_event *ev)
{
    host_side *s = user;
    if (ev->type == LLMSVC_EVENT_TEXT && !s->first_ns) {
        s->first_ns = now_ns();
        if (s->opened)
            atomic_fetch_add(s->opened, 1);
    }
    return 0;
}

/* A temporary folder: the openai-responses plugin, and a spec of one provider
 * whose base_url is the bench's server. */
static char tmp[64];
static char plugin_dir[128], spec_dir[128];

static int copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    char b[65536];
    ssize_t n;
    if (in < 0 || (out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
        goto out;
    while ((n = read(in, b, sizeof b)) > 0) {
        if (write(out, b, (size_t)n) != n)
            goto out;
    }
    rc = n == 0 ? 0 : -1;
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

static int make_folder(int port)
{
    snprintf(tmp, sizeof tmp, "/tmp/llmsvc-bench-stream-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins", tmp);
    snprintf(spec_dir, sizeof spec_dir, "%s/specs", tmp);
    char path[256];
    snprintf(path, sizeof path, "%s/openai-responses.so", plugin_dir);
    if (mkdir(plugin_dir, 0700) < 0 || mkdir(spec_dir, 0700) < 0 ||
        copy_file(OPENAI_PLUGIN, path, 0755) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/bench.yaml", spec_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "# written by bench_stream: the openai-responses protocol against its loopback "
            "server\n"
            "provider: bench\n"
            "api: openai-responses\n"
            "base_url: http://127.0.0.1:%d/v1\n"
            "api_key_env: " KEY_ENV "\n"
            "models:\n"
            "  - name: " MODEL "\n"
            "    description: the loopback SSE server of bench_stream\n"
            "    context_window: 128000\n"
            "    max_output_tokens: 4096\n"
            "    capabilities: [streaming]\n"
            "    parameters:\n"
            "      max_tokens: {type: int, min: 1, max: 4096}\n"
            "    pricing: {input_per_mtok: 0, output_per_mtok: 0}\n",
            port);
    return fclose(f) == 0 ? 0 : -1;
}

static void remove_folder(void)
{
    char path[256];
    if (!tmp[0])
        return;
    snprintf(path, sizeof path, "%s/openai-responses.so", plugin_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/bench.yaml", spec_dir);
    unlink(path);
    rmdir(plugin_dir);
    rmdir(spec_dir);
    rmdir(tmp);
}

static llmsvc_runtime *open_runtime(void)
{
    llmsvc_options o;
    llmsvc_options_init(&o);
    o.flags = LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS | LLMSVC_OPT_NO_ENV |
              LLMSVC_OPT_STRICT_SPECS;
    o.plugin_path = plugin_dir;
    o.spec_path = spec_dir;
    llmsvc_runtime *rt = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_open(&rt, &o, &err) != LLMSVC_OK) {
        fprintf(stderr, "bench_stream: %s\n", llmsvc_error_message(err));
        llmsvc_error_free(err);
        return NULL;
    }
    return rt;
}

/* base_url NULL: the spec's. */
static llmsvc_request *make_request(const char *base_url, long timeout_ms)
{
    llmsvc_request *req = NULL;
    if (llmsvc_request_new(&req) != LLMSVC_OK)
        return NULL;
    if (llmsvc_request_set_provider(req, "bench") != LLMSVC_OK ||
        llmsvc_request_set_model(req, MODEL) != LLMSVC_OK ||
        llmsvc_request_set_prompt(req, "Write a haiku about recursion.") != LLMSVC_OK ||
        llmsvc_request_set_max_retries(req, 0) != LLMSVC_OK ||
        llmsvc_request_set_timeout_ms(req, timeout_ms) != LLMSVC_OK ||
        (base_url && llmsvc_request_set_base_url(req, base_url) != LLMSVC_OK)) {
        llmsvc_request_free(req);
        return NULL;
    }
    return req;
}

/* 0 when the call streamed the whole answer. */
static int host_call(llmsvc_runtime *rt, const llmsvc_request *req, host_side *s, char *why,
                     size_t whylen)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    int rc = 0;
    if (llmsvc_call_stream(rt, req, on_event, s, &resp, &err) != LLMSVC_OK) {
        snprintf(why, whylen, "%s", llmsvc_error_message(err));
        rc = -1;
    } else if (strcmp(llmsvc_response_message(resp), w.text) != 0) {
        snprintf(why, whylen, "the assembled text differs from the stream's");
        rc = -1;
    }
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    return rc;
}

/* ================================================================ 1: latency */

typedef struct pct {
    double p50, p95, p99, max;
} pct;

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static pct percentiles(double *v, long n)
{
    pct p = {0, 0, 0, 0};
    if (n <= 0)
        return p;
    qsort(v, (size_t)n, sizeof *v, by_value);
    /* nearest rank */
    p.p50 = v[(n * 50 + 99) / 100 - 1];
    p.p95 = v[(n * 95 + 99) / 100 - 1];
    p.p99 = v[(n * 99 + 99) / 100 - 1];
    p.max = v[n - 1];
    return p;
}

#define MAX_ROUNDS 15

/* One shape of stream over the rounds: each round's percentiles of each side,
 * and their medians. The added latency is taken within each round (both sides
 * ran it interleaved, under the same load) and its median reported. */
typedef struct shape_result {
    pct base[MAX_ROUNDS], ours[MAX_ROUNDS];
    int rounds;
    long base_failed, ours_failed;
} shape_result;

/* One round of one shape: n_calls streamed calls per side (after `warmup`
 * untimed ones), the two sides alternating call by call. */
static int measure_round(int shape, long warmup, llmsvc_runtime *rt, const llmsvc_request *req,
                         CURL *h, reader *r, shape_result *out)
{
    double *vb = calloc((size_t)n_calls, sizeof *vb), *vo = calloc((size_t)n_calls, sizeof *vo);
    long nb = 0, no = 0;
    char why[512];
    if (!vb || !vo || out->rounds >= MAX_ROUNDS) {
        free(vb);
        free(vo);
        return -1;
    }
    atomic_store(&srv.shape, shape);
    for (long i = -warmup; i < n_calls; i++) {
        for (int k = 0; k < 2; k++) {
            /* alternate which side goes first, against drift */
            int ours = (int)((i + k) & 1);
            if (only && strcmp(only, ours ? "llmsvc" : "curl") != 0)
                continue;
            atomic_store(&srv.first_ns, 0);
            if (ours) {
                host_side s = {0, NULL};
                int rc = host_call(rt, req, &s, why, sizeof why);
                int64_t t0 = atomic_load(&srv.first_ns);
                if (rc < 0 || !s.first_ns || !t0) {
                    if (!out->ours_failed)
                        fprintf(stderr, "bench_stream: llmsvc: %s\n", rc < 0 ? why : "no text");
                    out->ours_failed++;
                } else if (i >= 0) {
                    vo[no++] = (double)(s.first_ns - t0) / 1e3;
                }
            } else {
                *r = (reader){0, 0, NULL};
                int rc = bare_perform(h);
                int64_t t0 = atomic_load(&srv.first_ns);
                if (rc < 0 || r->bytes != w.body_len || !r->first_ns || !t0) {
                    if (!out->base_failed)
                        fprintf(stderr, "bench_stream: curl: stream failed or incomplete\n");
                    out->base_failed++;
                } else if (i >= 0) {
                    vb[nb++] = (double)(r->first_ns - t0) / 1e3;
                }
            }
        }
    }
    out->base[out->rounds] = percentiles(vb, nb);
    out->ours[out->rounds] = percentiles(vo, no);
    out->rounds++;
    free(vb);
    free(vo);
    return 0;
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { SIDE_BASE, SIDE_OURS, SIDE_ADDED };

/* The median over the rounds of one side's percentiles, or of the added
 * latency (llmsvc − baseline within each round). */
static pct shape_median(const shape_result *r, int side)
{
    double v[4][MAX_ROUNDS];
    for (int i = 0; i < r->rounds; i++) {
        const pct *b = &r->base[i], *o = &r->ours[i];
        const pct a = {o->p50 - b->p50, o->p95 - b->p95, o->p99 - b->p99, o->max - b->max};
        const pct *x = side == SIDE_BASE ? b : side == SIDE_OURS ? o : &a;
        v[0][i] = x->p50;
        v[1][i] = x->p95;
        v[2][i] = x->p99;
        v[3][i] = x->max;
    }
    pct m = {0, 0, 0, 0};
    if (r->rounds) {
        m.p50 = median_of(v[0], r->rounds);
        m.p95 = median_of(v[1], r->rounds);
        m.p99 = median_of(v[2], r->rounds);
        m.max = median_of(v[3], r->rounds);
    }
    return m;
}

/* The rounds, the two shapes taking turns so both see the same drift; the
 * warm-up only before the first. */
static int measure_rounds(llmsvc_runtime *rt, const llmsvc_request *req, CURL *h, reader *r,
                          shape_result *first, shape_result *next)
{
    for (int i = 0; i < n_rounds; i++) {
        if (measure_round(SHAPE_FIRST_BYTE, i ? 0 : n_warmup, rt, req, h, r, first) < 0 ||
            measure_round(SHAPE_NEXT_EVENT, i ? 0 : n_warmup, rt, req, h, r, next) < 0)
            return -1;
    }
    return 0;
}

/* ================================================================ 1b: the core alone */

/* What call_stream.c's deliver does: an event from the SSE parser to the
 * plugin, which puts its deltas into the sink. */
typedef struct feed {
    const call_ctx *ctx;
    llmsvc_stream *sink;
    void *state;
    llmsvc_error *err;
} feed;

static int feed_event(void *user, const llmsvc_sse_event *ev)
{
    feed *f = user;
    const api_rec *api = f->ctx->api;
    return api->ops.parse_event(api->state, &f->ctx->view, ev, f->sink, &f->state, &f->err) !=
           LLMSVC_OK;
}

typedef struct core_cost {
    double first_text_us; /* the bytes up to the first delta, fed at once → the first text */
    double stream_us;     /* the whole stream */
    double sse_only_us;   /* the whole stream through the SSE parser alone */
    int events;
} core_cost;

static int count_event(void *user, const llmsvc_sse_event *ev)
{
    (void)ev;
    (*(int *)user)++;
    return 0;
}

/* The core's work from the stream's bytes to the host's callback, without the
 * network and libcurl: the transport's SSE parser, the plugin's parse_event,
 * the sink. Means over many streams: the first text in wall time from the
 * first byte, the whole stream in thread CPU time. */
static int core_alone(llmsvc_runtime *rt, const llmsvc_request *req, core_cost *out)
{
    const long iters = 20000;
    call_ctx ctx;
    llmsvc_error *e = NULL;
    struct timespec a, b, c;
    double first = 0;
    if (call_resolve(rt, NULL, req, NULL, &ctx, &e) != LLMSVC_OK) {
        fprintf(stderr, "bench_stream: resolve: %s\n", llmsvc_error_message(e));
        llmsvc_error_free(e);
        return -1;
    }
    ctx.view.stream = 1;
    int failed = 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    for (long i = 0; i < iters && !failed; i++) {
        llmsvc_response *resp = response_new();
        llmsvc_stream sink;
        host_side hs = {0, NULL};
        feed f = {&ctx, &sink, NULL, NULL};
        sse_parser p;
        stream_init(&sink, on_event, &hs, resp);
        sse_init(&p, 16 << 20, feed_event, &f);
        int64_t t0 = now_ns();
        int rc = resp ? sse_feed(&p, w.sse, w.through_first) : -1;
        first += (double)(hs.first_ns - t0);
        rc = rc ? rc : sse_feed(&p, w.sse + w.through_first, w.body_len - w.through_first);
        rc = rc ? rc : sse_finish(&p);
        if (rc || !sink.done || !hs.first_ns || stream_finish(&sink) != LLMSVC_OK) {
            fprintf(stderr, "bench_stream: the core did not read the stream: %s\n",
                    f.err ? llmsvc_error_message(f.err) : "no end event");
            failed = 1;
        }
        if (f.state && ctx.api->ops.stream_free)
            ctx.api->ops.stream_free(ctx.api->state, f.state);
        llmsvc_error_free(f.err);
        sse_free(&p);
        stream_free(&sink);
        llmsvc_response_free(resp);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    if (failed) {
        call_ctx_clear(&ctx);
        return -1;
    }
    int events = 0;
    for (long i = 0; i < iters; i++) {
        sse_parser p;
        events = 0;
        sse_init(&p, 16 << 20, count_event, &events);
        sse_feed(&p, w.sse, w.body_len);
        sse_finish(&p);
        sse_free(&p);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    call_ctx_clear(&ctx);
    out->first_text_us = first / (double)iters / 1e3;
    out->stream_us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
                     (double)iters / 1e3;
    out->sse_only_us = ((double)(c.tv_sec - b.tv_sec) * 1e9 + (double)(c.tv_nsec - b.tv_nsec)) /
                       (double)iters / 1e3;
    out->events = events;
    return 0;
}

/* ================================================================ 2: concurrency */

typedef struct conc_result {
    int ran;
    long streams, opened, ok, failed;
    long rss_before_kib, rss_peak_kib, hwm_kib, rss_after_kib, stacks_kib;
    double open_s, total_s;
    char first_error[256];
} conc_result;

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, field, n) && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    if (f)
        fclose(f);
    return v;
}

typedef struct conc_slot {
    const char *url; /* the bare reader's */
    llmsvc_runtime *rt;
    const llmsvc_request *req;
    atomic_long *opened, *finished_unopened;
    int ok;
    char why[200];
} conc_slot;

static void *conc_llmsvc(void *arg)
{
    conc_slot *c = arg;
    host_side s = {0, c->opened};
    c->ok = host_call(c->rt, c->req, &s, c->why, sizeof c->why) == 0;
    if (!s.first_ns)
        atomic_fetch_add(c->finished_unopened, 1);
    return NULL;
}

static void *conc_curl(void *arg)
{
    conc_slot *c = arg;
    reader r = {0, 0, c->opened};
    CURL *h = bare_handle(c->url, &r, 120000);
    if (!h) {
        snprintf(c->why, sizeof c->why, "curl_easy_init failed");
    } else if (bare_perform(h) < 0 || r.bytes != w.body_len) {
        snprintf(c->why, sizeof c->why, "the stream failed or was incomplete");
    } else {
        c->ok = 1;
    }
    if (!r.first_ns)
        atomic_fetch_add(c->finished_unopened, 1);
    curl_easy_cleanup(h);
    return NULL;
}

/* In a fresh child process: n_streams threads of one side at once against
 * the holding server at held_url; release_fd lets the server go on. */
static void run_concurrency(int ours, const char *held_url, int release_fd, conc_result *res)
{
    long n = n_streams;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t slot_bytes = (size_t)stack_kib * 1024 + page; /* + a guard page below */
    llmsvc_runtime *rt = NULL;
    llmsvc_request *req = NULL, *warm_req = NULL;
    conc_slot *slots = calloc((size_t)n, sizeof *slots);
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    char *started = calloc((size_t)n, 1);
    unsigned char *vec = NULL;
    char url[256], why[256];
    atomic_long opened = 0, unopened = 0;
    memset(res, 0, sizeof *res);
    res->ran = 1;
    res->streams = n;
    snprintf(url, sizeof url, "%s/responses", held_url);
    char *stacks = mmap(NULL, slot_bytes * (size_t)n, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (stacks == MAP_FAILED || !slots || !tid || !started) {
        snprintf(res->first_error, sizeof res->first_error, "out of memory");
        stacks = NULL;
        goto out;
    }
    /* warm up outside the hold: libcurl loaded, the plugin and spec read */
    if (ours) {
        if (!(rt = open_runtime()) || !(req = make_request(held_url, 120000))) {
            snprintf(res->first_error, sizeof res->first_error, "cannot open the runtime");
            goto out;
        }
        /* held_url ends in /held/v1: the same server, not held */
        char warm_url[256];
        snprintf(warm_url, sizeof warm_url, "%.*s/v1", (int)(strlen(held_url) - 8), held_url);
        host_side s = {0, NULL};
        if (!(warm_req = make_request(warm_url, 120000)) ||
            host_call(rt, warm_req, &s, why, sizeof why) < 0) {
            snprintf(res->first_error, sizeof res->first_error, "warm-up call: %.200s", why);
            goto out;
        }
    } else {
        char warm_url[256];
        snprintf(warm_url, sizeof warm_url, "%.*s/v1/responses", (int)(strlen(held_url) - 8),
                 held_url);
        reader r = {0, 0, NULL};
        CURL *h = bare_handle(warm_url, &r, 120000);
        int rc = h ? bare_perform(h) : -1;
        curl_easy_cleanup(h);
        if (rc < 0 || r.bytes != w.body_len) {
            snprintf(res->first_error, sizeof res->first_error, "warm-up call failed");
            goto out;
        }
    }
    res->rss_before_kib = status_kib("VmRSS");
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        char *lo = stacks + (size_t)i * slot_bytes;
        pthread_attr_t a;
        slots[i] = (conc_slot){url, rt, req, &opened, &unopened, 0, ""};
        if (mprotect(lo, page, PROT_NONE) == 0 && pthread_attr_init(&a) == 0) {
            pthread_attr_setstack(&a, lo + page, slot_bytes - page);
            started[i] =
                pthread_create(&tid[i], &a, ours ? conc_llmsvc : conc_curl, &slots[i]) == 0;
            pthread_attr_destroy(&a);
        }
        if (!started[i]) {
            snprintf(slots[i].why, sizeof slots[i].why, "pthread_create failed");
            atomic_fetch_add(&unopened, 1);
        }
    }
    /* every stream open (its first delta in) or over */
    while (atomic_load(&opened) + atomic_load(&unopened) < n && now_ns() - t0 < 120 * 1000000000LL)
        pause_us(1000);
    res->open_s = (double)(now_ns() - t0) / 1e9;
    res->opened = atomic_load(&opened);
    res->rss_peak_kib = status_kib("VmRSS");
    size_t pages = slot_bytes * (size_t)n / page;
    vec = malloc(pages);
    if (vec && mincore(stacks, slot_bytes * (size_t)n, vec) == 0) {
        size_t resident = 0;
        for (size_t i = 0; i < pages; i++)
            resident += vec[i] & 1;
        res->stacks_kib = (long)(resident * page / 1024);
    }
    if (write(release_fd, "r", 1) != 1)
        snprintf(res->first_error, sizeof res->first_error, "cannot release the streams");
    for (long i = 0; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        if (slots[i].ok) {
            res->ok++;
        } else {
            res->failed++;
            if (!res->first_error[0])
                snprintf(res->first_error, sizeof res->first_error, "%s", slots[i].why);
        }
    }
    res->total_s = (double)(now_ns() - t0) / 1e9;
    res->hwm_kib = status_kib("VmHWM");
    munmap(stacks, slot_bytes * (size_t)n);
    stacks = NULL;
    res->rss_after_kib = status_kib("VmRSS");
out:
    if (stacks)
        munmap(stacks, slot_bytes * (size_t)n);
    free(vec);
    free(started);
    free(tid);
    free(slots);
    llmsvc_request_free(warm_req);
    llmsvc_request_free(req);
    llmsvc_runtime_close(rt);
}

/* The holding server, in a child: one generation per byte read from
 * release_fd; exits when it closes. */
static pid_t start_held_server(int lfd, int release_rd, int release_wr)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    close(release_wr);
    srv.fd = lfd;
    pthread_t t;
    if (pthread_create(&t, NULL, accept_loop, NULL) != 0)
        _exit(1);
    for (;;) {
        char c;
        ssize_t k = read(release_rd, &c, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k != 1)
            break;
        pthread_mutex_lock(&srv.mu);
        srv.gen++;
        pthread_cond_broadcast(&srv.cv);
        pthread_mutex_unlock(&srv.mu);
    }
    _exit(0);
}

static int side_in_child(int ours, const char *held_url, int release_wr, int close_fd,
                         conc_result *res)
{
    int p[2];
    memset(res, 0, sizeof *res);
    if (pipe(p) < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        close(p[0]);
        close(close_fd);
        if (!ours)
            curl_global_init(CURL_GLOBAL_DEFAULT);
        conc_result r;
        run_concurrency(ours, held_url, release_wr, &r);
        ssize_t k = write(p[1], &r, sizeof r);
        _exit(k == (ssize_t)sizeof r ? 0 : 1);
    }
    close(p[1]);
    size_t got = 0;
    while (got < sizeof *res) {
        ssize_t k = read(p[0], (char *)res + got, sizeof *res - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(p[0]);
    waitpid(pid, NULL, 0);
    if (got != sizeof *res) {
        memset(res, 0, sizeof *res);
        res->ran = 1;
        res->streams = n_streams;
        res->failed = n_streams;
        snprintf(res->first_error, sizeof res->first_error, "the child process died");
    }
    return 0;
}

/* ================================================================ main */

static void print_pct_row(const char *what, pct p)
{
    printf("  %-28s %8.1f %8.1f %8.1f\n", what, p.p50, p.p95, p.p99);
}

static void print_shape(const char *title, const shape_result *r)
{
    printf("%s\n  %-28s %8s %8s %8s\n", title, "us, median of the rounds", "p50", "p95", "p99");
    print_pct_row("bare libcurl (baseline)", shape_median(r, SIDE_BASE));
    print_pct_row("llmsvc_call_stream", shape_median(r, SIDE_OURS));
    print_pct_row("added (llmsvc - baseline)", shape_median(r, SIDE_ADDED));
    printf("  added p50 / p99 in each round:");
    for (int i = 0; i < r->rounds; i++)
        printf(" %.1f/%.1f", r->ours[i].p50 - r->base[i].p50, r->ours[i].p99 - r->base[i].p99);
    printf("\n");
    if (r->base_failed || r->ours_failed)
        printf("  failed calls: baseline %ld, llmsvc %ld\n", r->base_failed, r->ours_failed);
}

static void json_pct(const char *name, pct p, int comma)
{
    printf("\"%s\":{\"p50\":%.2f,\"p95\":%.2f,\"p99\":%.2f}%s", name, p.p50, p.p95, p.p99,
           comma ? "," : "");
}

static void json_shape(const char *name, const shape_result *r)
{
    printf("\"%s\":{", name);
    json_pct("baseline", shape_median(r, SIDE_BASE), 1);
    json_pct("llmsvc", shape_median(r, SIDE_OURS), 1);
    json_pct("added", shape_median(r, SIDE_ADDED), 1);
    printf("\"added_p99_rounds\":[");
    for (int i = 0; i < r->rounds; i++)
        printf("%s%.2f", i ? "," : "", r->ours[i].p99 - r->base[i].p99);
    printf("],\"failed\":%ld},", r->base_failed + r->ours_failed);
}

static void print_conc(const char *side, const conc_result *r)
{
    if (!r->ran)
        return;
    long grown = r->rss_peak_kib - r->rss_before_kib;
    double per = r->streams ? (double)grown / (double)r->streams : 0;
    double st = r->streams ? (double)r->stacks_kib / (double)r->streams : 0;
    printf("  %-8s %6ld/%-6ld %6ld %5.2f s %8ld %8ld %8.1f %8.1f %8.1f %8ld %8ld\n", side,
           r->opened, r->streams, r->failed, r->open_s, r->rss_before_kib, r->rss_peak_kib, per, st,
           per - st, r->hwm_kib, r->rss_after_kib);
    if (r->first_error[0])
        printf("           first failure: %s\n", r->first_error);
}

static void json_conc(const char *side, const conc_result *r, int comma)
{
    double per =
        r->streams ? (double)(r->rss_peak_kib - r->rss_before_kib) / (double)r->streams : 0;
    double st = r->streams ? (double)r->stacks_kib / (double)r->streams : 0;
    printf("\"%s\":{\"opened\":%ld,\"ok\":%ld,\"failed\":%ld,\"rss_before_kib\":%ld,"
           "\"rss_peak_kib\":%ld,\"vmhwm_kib\":%ld,\"per_stream_kib\":%.1f,"
           "\"stacks_per_stream_kib\":%.1f}%s",
           side, r->opened, r->ok, r->failed, r->rss_before_kib, r->rss_peak_kib, r->hwm_kib, per,
           st, comma ? "," : "");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_stream [options]\n"
            "Streamed calls through llmsvc_call_stream (openai-responses plugin) against a bare\n"
            "libcurl reader of the same stream, in the same run, over loopback.\n"
            "\n"
            "  --calls N        timed calls per side, shape and round (default %ld)\n"
            "  --rounds R       rounds; the median of their percentiles is reported (default %d)\n"
            "  --warmup N       untimed calls per side and shape first (default %ld)\n"
            "  --gap-us U       server pause around the timed write (default %ld)\n"
            "  --streams N      concurrent streams (default %ld)\n"
            "  --stack-kib K    stack of each concurrent thread (default %ld)\n"
            "  --only SIDE      llmsvc or curl: time one side only (for profiling)\n"
            "  --no-latency     skip part 1 (first byte to first callback)\n"
            "  --no-concurrency skip part 2 (concurrent streams and memory)\n"
            "  --json           also print a one-line JSON summary\n"
            "  --help           this text\n",
            n_calls, n_rounds, n_warmup, gap_us, n_streams, stack_kib);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"calls", required_argument, NULL, 'n'},    {"warmup", required_argument, NULL, 'w'},
        {"rounds", required_argument, NULL, 'r'},   {"gap-us", required_argument, NULL, 'g'},
        {"streams", required_argument, NULL, 's'},  {"stack-kib", required_argument, NULL, 'k'},
        {"only", required_argument, NULL, 'o'},     {"no-latency", no_argument, NULL, 'L'},
        {"no-concurrency", no_argument, NULL, 'C'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            n_calls = atol(optarg);
            break;
        case 'w':
            n_warmup = atol(optarg);
            break;
        case 'r':
            n_rounds = atoi(optarg);
            break;
        case 'g':
            gap_us = atol(optarg);
            break;
        case 's':
            n_streams = atol(optarg);
            break;
        case 'k':
            stack_kib = atol(optarg);
            break;
        case 'o':
            only = optarg;
            break;
        case 'L':
            skip_latency = 1;
            break;
        case 'C':
            skip_concurrency = 1;
            break;
        case 'j':
            json_out = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (n_calls < 1 || n_rounds < 1 || n_rounds > MAX_ROUNDS || n_warmup < 0 || gap_us < 0 ||
        n_streams < 1 || n_streams > 100000 || stack_kib < 64 ||
        (only && strcmp(only, "llmsvc") && strcmp(only, "curl"))) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setenv(KEY_ENV, "sk-bench-stream-not-a-real-key", 1);
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    /* each stream holds a socket at both ends (and libcurl a few more fds) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if (load_wire(FIXTURE_SSE) < 0) {
        fprintf(stderr, "bench_stream: cannot read the stream from %s\n", FIXTURE_SSE);
        return 1;
    }
    req_headers = curl_slist_append(req_headers, "Authorization: Bearer sk-bench-stream");
    req_headers = curl_slist_append(req_headers, "Content-Type: application/json");
    req_headers = curl_slist_append(req_headers, "Accept: text/event-stream");
    req_headers = curl_slist_append(req_headers, "Expect:");
    req_body = strdup("{\"model\":\"" MODEL "\",\"input\":\"Write a haiku about recursion.\","
                      "\"stream\":true}");
    int lat_port = 0, rc = 0;
    srv.fd = listen_loopback(&lat_port);
    if (srv.fd < 0 || make_folder(lat_port) < 0) {
        fprintf(stderr, "bench_stream: cannot set up the server or %s: %s\n", tmp, strerror(errno));
        remove_folder();
        return 1;
    }
    printf("bench_stream: openai-responses stream of %zu bytes (%zu up to the end of the first "
           "delta), chunked, keep-alive, loopback; RLIMIT_NOFILE %llu\n",
           w.body_len, w.through_first, (unsigned long long)rl.rlim_cur);

    /* part 2 first, while this process has no thread: its children fork from it */
    conc_result cb = {0}, co = {0};
    if (!skip_concurrency) {
        int held_port = 0, rel[2];
        int hfd = listen_loopback(&held_port);
        if (hfd < 0 || pipe(rel) < 0) {
            fprintf(stderr, "bench_stream: cannot start the holding server\n");
            remove_folder();
            return 1;
        }
        if ((unsigned long long)rl.rlim_cur < (unsigned long long)n_streams + 64)
            fprintf(stderr, "bench_stream: RLIMIT_NOFILE %llu is low for %ld streams\n",
                    (unsigned long long)rl.rlim_cur, n_streams);
        fflush(NULL);
        pid_t held = start_held_server(hfd, rel[0], rel[1]);
        close(hfd);
        close(rel[0]);
        char held_url[128];
        snprintf(held_url, sizeof held_url, "http://127.0.0.1:%d/held/v1", held_port);
        if (!only || !strcmp(only, "curl"))
            side_in_child(0, held_url, rel[1], srv.fd, &cb);
        if (!only || !strcmp(only, "llmsvc"))
            side_in_child(1, held_url, rel[1], srv.fd, &co);
        close(rel[1]);
        if (held > 0)
            waitpid(held, NULL, 0);
        printf("\n%ld concurrent streams, one thread each (%ld KiB stacks mapped here + a guard "
               "page), each side in a fresh process; the server in another\n",
               n_streams, stack_kib);
        printf("  %-8s %13s %6s %7s %8s %8s %8s %8s %8s %8s %8s\n", "side", "open/streams",
               "failed", "open in", "RSS0 KiB", "peak KiB", "KiB/strm", "stack/st", "rest/st",
               "VmHWM", "RSS end");
        print_conc("curl", &cb);
        print_conc("llmsvc", &co);
        rc |= cb.failed || co.failed || (cb.ran && cb.opened != cb.streams) ||
              (co.ran && co.opened != co.streams);
    }

    shape_result first = {0}, next = {0};
    core_cost cc = {0, 0, 0, 0};
    if (!skip_latency) {
        pthread_t t;
        llmsvc_runtime *rt = NULL;
        llmsvc_request *req = NULL;
        reader r = {0, 0, NULL};
        CURL *h = NULL;
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/responses", lat_port);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (pthread_create(&t, NULL, accept_loop, NULL) != 0 || !(rt = open_runtime()) ||
            !(req = make_request(NULL, 30000)) || !(h = bare_handle(url, &r, 30000)) ||
            measure_rounds(rt, req, h, &r, &first, &next) < 0 || core_alone(rt, req, &cc) < 0) {
            fprintf(stderr, "bench_stream: cannot run the latency part\n");
            rc = 1;
        } else {
            printf("\nfirst byte to first callback: %d rounds of %ld calls per side and shape "
                   "(after %ld warm-up), the sides alternating call by call; server gap %ld us\n",
                   n_rounds, n_calls, n_warmup, gap_us);
            print_shape("first byte: headers, then the events up to the first delta in one "
                        "write",
                        &first);
            print_shape("next event: the first delta alone, the events before it already read",
                        &next);
            printf("the core alone, no network (SSE parser + plugin + sink, means of "
                   "20,000): first text %.2f us after the first byte (wall); the whole stream (%d "
                   "events) %.2f us CPU, of which the SSE parser %.2f us\n",
                   cc.first_text_us, cc.events, cc.stream_us, cc.sse_only_us);
            double added = shape_median(&first, SIDE_ADDED).p99;
            printf("target: added p99 <= %.0f us: %s (%.1f us)\n", TARGET_P99_US,
                   added <= TARGET_P99_US ? "met" : "NOT met", added);
            rc |= first.base_failed || first.ours_failed || next.base_failed || next.ours_failed;
        }
        curl_easy_cleanup(h);
        llmsvc_request_free(req);
        llmsvc_runtime_close(rt);
        shutdown(srv.fd, SHUT_RDWR); /* the accept loop ends; connections end with the process */
    }
    if (json_out) {
        printf("{\"bench\":\"bench_stream\",\"calls\":%ld,\"streams\":%ld,\"stack_kib\":%ld,",
               n_calls, n_streams, stack_kib);
        if (!skip_latency) {
            json_shape("first_byte_us", &first);
            json_shape("next_event_us", &next);
            printf("\"core_alone_us\":{\"first_text\":%.2f,\"stream\":%.2f,\"sse_only\":%.2f,"
                   "\"events\":%d},",
                   cc.first_text_us, cc.stream_us, cc.sse_only_us, cc.events);
            printf("\"target_p99_us\":%.0f,\"target_met\":%s,", TARGET_P99_US,
                   shape_median(&first, SIDE_ADDED).p99 <= TARGET_P99_US ? "true" : "false");
        }
        printf("\"concurrency\":{");
        if (!skip_concurrency) {
            json_conc("curl", &cb, 1);
            json_conc("llmsvc", &co, 0);
        }
        printf("}}\n");
    }
    curl_slist_free_all(req_headers);
    free(req_body);
    remove_folder();
    return rc;
}
