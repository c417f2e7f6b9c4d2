/* bench_calls — llmsvc_call against a bare libcurl loop, in the same run.
 *
 * Sends N calls through llmsvc_call (openai-responses plugin) to an upstream
 * that speaks the Responses API — by default the fake upstream, started here as
 * a separate process so its CPU is not ours — at 1 and at 32 threads, and the
 * same requests through a minimal libcurl loop (one keep-alive handle per
 * thread; the very body and header lines llmsvc sends, built once by the same
 * plugin; the answer read but not parsed) as the baseline. The same threads
 * run both sides, side by side: many threads in alternating blocks of calls,
 * one thread call by call, so both see the machine in the same state.
 * Prints calls/s of each, their ratio, the CPU per call (the process's; the
 * calling thread's at 1 thread), and the core's own CPU per call measured
 * without the network (resolve + validate + build + serialize + parse of the
 * same response, in a loop).
 *
 *   bench_calls [--calls N] [--threads LIST] [--url BASE_URL] [--model M]
 *               [--block B] [--placement auto|apart|together|free] [--pairs]
 *               [--baseline plain|tuned]
 */
#include <curl/curl.h>
#include <dirent.h>
#include <sched.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "call.h"
#include "http.h"
#include "llmsvc/llmsvc.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "validate.h"

static const char *base_url;
static const char *model = "gpt-6-luna";
static long n_calls = 100000; /* per side and thread count */
static long block_calls;      /* calls per block; 0: max(1000, 125 x threads) */
static const char *only; /* "llmsvc" or "curl": run one side only (for profiling) */
static int show_pairs; /* --pairs: each round's two blocks on stderr */
static const char *placement = "auto"; /* --placement */
static pid_t upstream_pid = -1;        /* the fake upstream, when started here */

/* A clock in seconds: CLOCK_MONOTONIC, or the thread's CPU time. */
static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The request every side sends. */
static llmsvc_request *bench_request(void)
{
    llmsvc_request *req;
    if (llmsvc_request_new(&req) != LLMSVC_OK) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    llmsvc_request_set_provider(req, "openai");
    llmsvc_request_set_model(req, model);
    llmsvc_request_set_prompt(req, "Write a haiku about connection pooling.");
    llmsvc_request_set_base_url(req, base_url);
    return req;
}

/* What llmsvc sends, byte for byte: the plugin's body and headers plus the
 * transport's own (baseline_request fills these). */
static char *baseline_body;
static char *baseline_headers[16];
static size_t n_baseline_headers;

static size_t sink(char *d, size_t s, size_t n, void *u)
{
    (void)d;
    *(size_t *)u += s * n;
    return s * n;
}

/* ---- the two sides, run by the same threads in alternating blocks ---- */

enum { S_LLMSVC, S_CURL, N_SIDES };

/* The time and CPU some calls took. */
typedef struct spent {
    double wall, cpu;
} spent;

/* The worker threads and what they run. Several threads run a block of one
 * side: every thread takes calls from one counter until none are left, so
 * all stay busy to the block's end. One thread alternates call by call
 * (side ALTERNATE) and times each call, so the two sides' calls share every
 * moment of the machine (where the upstream's threads run is place()'s
 * concern). Each thread keeps its request, its libcurl handle and (in the
 * transport) llmsvc's from block to block, as a long-running host does. */
enum { ALTERNATE = N_SIDES };
typedef struct pool {
    llmsvc_runtime *rt;
    int threads;
    int run[N_SIDES]; /* the sides measured (both unless --only) */
    pthread_t tid[256];
    cpu_set_t cpus;        /* where they run ... */
    const char *placement; /* ... and why (place) */
    pthread_barrier_t start, end;
    atomic_long left;
    int side;            /* of the block, or ALTERNATE; -1 asks the threads to end */
    spent took[N_SIDES]; /* ALTERNATE's, per side */
    atomic_long failures[N_SIDES];
} pool;

typedef struct bare {
    CURL *h;
    struct curl_slist *hdr;
    char url[1024];
    CURLU *uh; /* --baseline tuned: the URL parsed once */
} bare;

/* --baseline tuned: the loop gives libcurl what llmsvc's transport gives it
 * (a parsed URL, the proxy settings) instead of what a plain libcurl
 * program does (a URL to parse and an environment to read every transfer):
 * the ratio then measures the core's own work alone. */
static int tuned_baseline;

static void bare_init(bare *b)
{
    *b = (bare){curl_easy_init(), NULL, "", NULL};
    snprintf(b->url, sizeof b->url, "%s/responses", base_url);
    for (size_t i = 0; i < n_baseline_headers; i++)
        b->hdr = curl_slist_append(b->hdr, baseline_headers[i]);
    if (tuned_baseline) {
        b->uh = curl_url();
        curl_url_set(b->uh, CURLUPART_URL, b->url, 0);
        curl_easy_setopt(b->h, CURLOPT_CURLU, b->uh);
        curl_easy_setopt(b->h, CURLOPT_PROXY, "");
        curl_easy_setopt(b->h, CURLOPT_NOPROXY, "");
    }
}

static void bare_free(bare *b)
{
    curl_slist_free_all(b->hdr);
    curl_easy_cleanup(b->h);
    curl_url_cleanup(b->uh);
}

/* One call of the bare libcurl loop; 0 when it failed. */
static int bare_call(bare *b)
{
    size_t got = 0;
    CURL *h = b->h;
    if (!b->uh)
        curl_easy_setopt(h, CURLOPT_URL, b->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, b->hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, baseline_body);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    long status = 0;
    return curl_easy_perform(h) == CURLE_OK &&
           curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200 &&
           got;
}

/* One llmsvc_call; 0 when it failed (the first failure is printed). */
static int llmsvc_once(llmsvc_runtime *rt, const llmsvc_request *req)
{
    static atomic_int told;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    int ok = llmsvc_call(rt, req, &resp, &err) == LLMSVC_OK;
    if (!ok && !atomic_exchange(&told, 1))
        fprintf(stderr, "bench: llmsvc_call: %s\n", llmsvc_error_message(err));
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    return ok;
}

/* One thread's calls, the sides in turn (llmsvc curl curl llmsvc llmsvc ...,
 * so neither is always first), each call's wall and CPU time added to its
 * side's; the clocks are read outside the wall time measured. */
static void alternate(pool *p, const llmsvc_request *req, bare *b)
{
    long n = atomic_load(&p->left);
    for (long i = 0; i < 2 * n; i++) {
        int side = (i + 1) / 2 % 2 ? S_CURL : S_LLMSVC;
        if (!p->run[side])
            continue;
        double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = now_s();
        int ok = side == S_LLMSVC ? llmsvc_once(p->rt, req) : bare_call(b);
        double w1 = now_s(), c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        p->took[side].wall += w1 - w0;
        p->took[side].cpu += c1 - c0;
        if (!ok)
            atomic_fetch_add(&p->failures[side], 1);
    }
}

static void *worker(void *arg)
{
    pool *p = arg;
    llmsvc_request *req = bench_request();
    llmsvc_request_set_max_retries(req, 0);
    bare b;
    bare_init(&b);
    for (;;) {
        pthread_barrier_wait(&p->start);
        int side = p->side;
        if (side < 0)
            break;
        if (side == ALTERNATE)
            alternate(p, req, &b);
        else
            while (atomic_fetch_sub(&p->left, 1) > 0)
                if (!(side == S_LLMSVC ? llmsvc_once(p->rt, req) : bare_call(&b)))
                    atomic_fetch_add(&p->failures[side], 1);
        pthread_barrier_wait(&p->end);
    }
    bare_free(&b);
    llmsvc_request_free(req);
    return NULL;
}

/* ---- where the threads run ---- */

/* Every thread of process pid on the CPUs of set (the threads it starts
 * later inherit it from theirs). */
static void pin_process(pid_t pid, const cpu_set_t *set)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            (void)sched_setaffinity((pid_t)atoi(e->d_name), sizeof *set, set);
    closedir(d);
}

/* The placement used at a thread count (apart, together or free, as a label
 * for the results), the CPUs of the bench's threads in *ours; the
 * upstream's threads placed when the bench started it. With
 * one call at a time, the upstream's thread for each connection is placed
 * by the scheduler on the caller's CPU (calls/s x2.5: no wake-up across
 * CPUs) or the other, independently for the two sides' connections and for
 * seconds at a time, so by default one thread runs apart from the upstream:
 * a provider is another machine. Many threads keep both CPUs busy wherever
 * they are put. */
static const char *place(int threads, cpu_set_t *ours)
{
    cpu_set_t all, theirs;
    sched_getaffinity(0, sizeof all, &all);
    int first = -1, last = -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            if (first < 0)
                first = c;
            last = c;
        }
    const char *mode = strcmp(placement, "auto") ? placement : threads == 1 ? "apart" : "free";
    if (!strcmp(mode, "apart") && first == last)
        mode = "free"; /* one CPU: nowhere apart to go */
    *ours = theirs = all;
    if (!strcmp(mode, "free")) {
        if (upstream_pid <= 0)
            return "free; upstream elsewhere";
        pin_process(upstream_pid, &all); /* unpinned again after an earlier count */
        return "free";
    }
    CPU_ZERO(ours);
    CPU_SET(first, ours);
    if (upstream_pid <= 0)
        return "bench on one CPU; upstream elsewhere";
    int at = strcmp(mode, "apart") ? first : last;
    CPU_ZERO(&theirs);
    CPU_SET(at, &theirs);
    pin_process(upstream_pid, &theirs);
    static char label[64];
    snprintf(label, sizeof label, "%s: bench CPU %d, upstream CPU %d", mode, first, at);
    return label;
}

static void pool_start(pool *p, llmsvc_runtime *rt, int threads)
{
    *p = (pool){.rt = rt,
                .threads = threads,
                .run = {!only || !strcmp(only, "llmsvc"), !only || !strcmp(only, "curl")}};
    p->placement = place(threads, &p->cpus);
    pthread_barrier_init(&p->start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&p->end, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&p->tid[i], NULL, worker, p) != 0 ||
            pthread_setaffinity_np(p->tid[i], sizeof p->cpus, &p->cpus) != 0) {
            fprintf(stderr, "bench: cannot start thread %d\n", i + 1);
            exit(1);
        }
}

static void pool_stop(pool *p)
{
    p->side = -1;
    pthread_barrier_wait(&p->start);
    for (int i = 0; i < p->threads; i++)
        pthread_join(p->tid[i], NULL);
    pthread_barrier_destroy(&p->start);
    pthread_barrier_destroy(&p->end);
}

/* What the threads do between two barriers; the time and process CPU it took. */
static spent run_step(pool *p, int side, long calls)
{
    p->side = side;
    atomic_store(&p->left, calls);
    double c0 = cpu_s(), t0 = now_s();
    pthread_barrier_wait(&p->start);
    pthread_barrier_wait(&p->end);
    return (spent){now_s() - t0, cpu_s() - c0};
}

/* A round: calls of each side measured, one block of each (the order
 * swapped every round, so neither always goes first), or with one thread
 * the sides call by call. */
static void run_round(pool *p, long k, long calls, spent one[N_SIDES])
{
    if (p->threads == 1) {
        memset(p->took, 0, sizeof p->took);
        run_step(p, ALTERNATE, calls);
        memcpy(one, p->took, sizeof p->took);
        return;
    }
    for (int i = 0; i < N_SIDES; i++) {
        int side = k % 2 ? N_SIDES - 1 - i : i;
        one[side] = p->run[side] ? run_step(p, side, calls) : (spent){0, 0};
    }
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The body and header lines llmsvc_call sends for the bench's request, built
 * by the same plugin, for the baseline to send too. */
static int baseline_request(llmsvc_runtime *rt)
{
    llmsvc_request *req = bench_request();
    call_ctx ctx;
    llmsvc_error *e = NULL;
    llmsvc_http_request hreq;
    http_request_init(&hreq);
    if (call_resolve(rt, NULL, req, NULL, &ctx, &e) != LLMSVC_OK ||
        build_http(&ctx, &hreq, &e) != LLMSVC_OK) {
        fprintf(stderr, "bench: %s\n", llmsvc_error_message(e));
        return -1;
    }
    buf body = BUF_INIT;
    if (http_write_body(&hreq, &body) < 0) {
        fprintf(stderr, "bench: out of memory\n");
        return -1;
    }
    baseline_body = buf_steal(&body);
    /* the plugin's headers, then the transport's own */
    for (size_t i = 0; i < hreq.n_headers && n_baseline_headers < 12; i++) {
        size_t n = strlen(hreq.headers[i].name) + strlen(hreq.headers[i].value) + 3;
        baseline_headers[n_baseline_headers] = malloc(n);
        snprintf(baseline_headers[n_baseline_headers++], n, "%s: %s", hreq.headers[i].name,
                 hreq.headers[i].value);
    }
    for (size_t i = 0; transport_fixed_headers[i] && n_baseline_headers < 16; i++)
        baseline_headers[n_baseline_headers++] = strdup(transport_fixed_headers[i]);
    http_request_clear(&hreq);
    call_ctx_clear(&ctx);
    llmsvc_request_free(req);
    return 0;
}

/* ---- the core's own CPU per call, no network ---- */

/* One call's resolve + validate + build + serialize + parse, without the network. */
static void core_once(llmsvc_runtime *rt, llmsvc_request *req, llmsvc_http_response *hr,
                      buf *body)
{
    call_ctx ctx;
    llmsvc_error *e = NULL;
    if (call_resolve(rt, NULL, req, NULL, &ctx, &e) != LLMSVC_OK) {
        fprintf(stderr, "bench: resolve: %s\n", llmsvc_error_message(e));
        exit(1);
    }
    llmsvc_http_request hreq;
    http_request_init(&hreq);
    ctx.api->ops.build_request(ctx.api->state, &ctx.view, &hreq, &e);
    buf_clear(body);
    if (http_write_body(&hreq, body) < 0) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    llmsvc_response *resp = response_new();
    if (ctx.api->ops.parse_response(ctx.api->state, &ctx.view, hr, resp, &e) != LLMSVC_OK) {
        fprintf(stderr, "bench: parse: %s\n", llmsvc_error_message(e));
        exit(1);
    }
    llmsvc_response_free(resp);
    http_request_clear(&hreq);
    call_ctx_clear(&ctx);
}

/* Microseconds per call in a loop, hot caches: the thread's CPU time. With
 * cold set, 2 MB is written between calls (untimed), as the network, the
 * kernel and libcurl evict the core's code and data from the L1 and L2
 * caches between calls in the real thing; each call is timed alone, by the
 * wall clock (the thread's CPU clock is a system call, which would weigh
 * more than what it measures; the busy thread does not block). */
static double core_cpu_us(llmsvc_runtime *rt, const char *fixture_body, int cold)
{
    llmsvc_request *req = bench_request();
    llmsvc_request_set_api_key(req, "sk-bench");
    llmsvc_http_response hr;
    http_response_init(&hr);
    hr.status = 200;
    buf_puts(&hr.body, fixture_body);
    buf body = BUF_INIT; /* as the transport's per-thread buffer */
    double total = 0;
    if (!cold) {
        long iters = 200000;
        double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        for (long i = 0; i < iters; i++)
            core_once(rt, req, &hr, &body);
        total = (clock_s(CLOCK_THREAD_CPUTIME_ID) - t0) / (double)iters;
    } else {
        long iters = 5000;
        size_t evict_len = 2u << 20;
        char *evict = malloc(evict_len);
        if (!evict) {
            fprintf(stderr, "bench: out of memory\n");
            exit(1);
        }
        for (long i = 0; i < iters; i++) {
            for (size_t k = 0; k < evict_len; k += 64)
                evict[k] = (char)i;
            double t0 = now_s();
            core_once(rt, req, &hr, &body);
            total += now_s() - t0;
        }
        free(evict);
        total /= (double)iters;
    }
    buf_free(&body);
    http_response_clear(&hr);
    llmsvc_request_free(req);
    return total * 1e6;
}

static pid_t start_fake(char *url, size_t urllen)
{
    char portfile[] = "/tmp/llmsvc-bench-XXXXXX";
    int fd = mkstemp(portfile);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(portfile);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the bench */
        freopen("/dev/null", "w", stdout);
        execl(FAKE_UPSTREAM_BIN, FAKE_UPSTREAM_BIN, "--port", "0", "--port-file", portfile,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(portfile, "r");
        int port = 0;
        if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
            fclose(f);
            unlink(portfile);
            snprintf(url, urllen, "http://127.0.0.1:%d/v1", port);
            return pid;
        }
        if (f)
            fclose(f);
        usleep(10000);
    }
    kill(pid, SIGTERM);
    return -1;
}

/* Both sides at one thread count: a warm-up round, then rounds of the
 * same number of calls of each side (run_round). The machine's speed drifts
 * by ±15% over seconds here, more than the difference measured: sides
 * measured side by side, in ~0.1 s blocks or call by call, see the same
 * machine. -1 when calls fail. */
static int measure(llmsvc_runtime *rt, int threads)
{
    long block = block_calls ? block_calls : (125L * threads > 1000 ? 125L * threads : 1000);
    long rounds = (n_calls + block - 1) / block;
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    pool p;
    if (!ratio) {
        fprintf(stderr, "bench: out of memory\n");
        return -1;
    }
    pool_start(&p, rt, threads);
    spent one[N_SIDES];
    run_round(&p, 0, block, one); /* connections, caches */
    int failing = atomic_load(&p.failures[S_LLMSVC]) || atomic_load(&p.failures[S_CURL]);
    spent total[N_SIDES] = {{0, 0}, {0, 0}};
    long calls = 0;
    for (long k = 0; k < rounds && !failing; k++) {
        long n = k + 1 < rounds ? block : n_calls - block * (rounds - 1);
        run_round(&p, k, n, one);
        for (int side = 0; side < N_SIDES; side++) {
            total[side].wall += one[side].wall;
            total[side].cpu += one[side].cpu;
        }
        calls += n;
        ratio[k] = p.run[S_LLMSVC] && p.run[S_CURL] ? one[S_CURL].wall / one[S_LLMSVC].wall : 0;
        if (show_pairs)
            fprintf(stderr,
                    "  %d threads, round %ld (%s): llmsvc %.0f calls/s %.1f us cpu, "
                    "curl %.0f calls/s %.1f us cpu, ratio %.3f\n",
                    threads, k + 1, threads == 1 ? "call by call" : k % 2 ? "curl first"
                                                                          : "llmsvc first",
                    one[S_LLMSVC].wall ? (double)n / one[S_LLMSVC].wall : 0,
                    one[S_LLMSVC].cpu / (double)n * 1e6,
                    one[S_CURL].wall ? (double)n / one[S_CURL].wall : 0,
                    one[S_CURL].cpu / (double)n * 1e6, ratio[k]);
    }
    long failures[N_SIDES] = {atomic_load(&p.failures[S_LLMSVC]), atomic_load(&p.failures[S_CURL])};
    pool_stop(&p);
    if (failing) {
        fprintf(stderr, "bench: calls fail; not measuring\n");
        free(ratio);
        return -1;
    }
    double rate[N_SIDES], cpu_us[N_SIDES];
    for (int side = 0; side < N_SIDES; side++) {
        rate[side] = p.run[side] ? (double)calls / total[side].wall : 0;
        cpu_us[side] = p.run[side] ? total[side].cpu / (double)calls * 1e6 : 0;
    }
    if (only) {
        int side = p.run[S_LLMSVC] ? S_LLMSVC : S_CURL;
        printf("%-8d %-14.0f %-13.1f us %ld   (%s)\n", threads, rate[side], cpu_us[side],
               failures[side], p.placement);
    } else {
        qsort(ratio, (size_t)rounds, sizeof *ratio, by_double);
        printf("%-8d %-14.0f %-14.0f %-7.3f %-13.1f us %-13.1f us %ld/%ld   (%s; %ld rounds "
               "of %ld calls: median %.3f, %.3f-%.3f)\n",
               threads, rate[S_LLMSVC], rate[S_CURL], rate[S_LLMSVC] / rate[S_CURL],
               cpu_us[S_LLMSVC], cpu_us[S_CURL], failures[S_LLMSVC], failures[S_CURL],
               p.placement, rounds, block, ratio[rounds / 2], ratio[0], ratio[rounds - 1]);
    }
    free(ratio);
    return failures[S_LLMSVC] || failures[S_CURL] ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"calls", required_argument, NULL, 'n'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"url", required_argument, NULL, 'u'},
                                             {"model", required_argument, NULL, 'm'},
                                             {"only", required_argument, NULL, 'o'},
                                             {"block", required_argument, NULL, 'b'},
                                             {"pairs", no_argument, NULL, 'p'},
                                             {"placement", required_argument, NULL, 'P'},
                                             {"baseline", required_argument, NULL, 'B'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *thread_list = "1,32";
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            n_calls = atol(optarg);
            if (n_calls < 1) {
                fprintf(stderr, "bench_calls: --calls takes a positive count, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            thread_list = optarg;
            break;
        case 'u':
            base_url = optarg;
            break;
        case 'm':
            model = optarg;
            break;
        case 'o':
            only = optarg;
            if (strcmp(only, "llmsvc") && strcmp(only, "curl")) {
                fprintf(stderr, "bench_calls: --only takes llmsvc or curl, not '%s'\n", only);
                return 2;
            }
            break;
        case 'b':
            block_calls = atol(optarg);
            if (block_calls < 1) {
                fprintf(stderr, "bench_calls: --block takes a positive count, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'p':
            show_pairs = 1;
            break;
        case 'B':
            if (strcmp(optarg, "plain") && strcmp(optarg, "tuned")) {
                fprintf(stderr, "bench_calls: --baseline takes plain or tuned, not '%s'\n",
                        optarg);
                return 2;
            }
            tuned_baseline = !strcmp(optarg, "tuned");
            break;
        case 'P':
            placement = optarg;
            if (strcmp(placement, "auto") && strcmp(placement, "apart") &&
                strcmp(placement, "together") && strcmp(placement, "free")) {
                fprintf(stderr,
                        "bench_calls: --placement takes auto, apart, together or free, not '%s'\n",
                        placement);
                return 2;
            }
            break;
        default:
            printf(
                "usage: bench_calls [--calls N] [--threads 1,32] [--url BASE_URL] [--model M]\n"
                "                   [--only llmsvc|curl] [--block B] [--pairs]\n"
                "                   [--placement auto|apart|together|free]\n"
                "                   [--baseline plain|tuned]\n"
                "N calls of each side (default 100000) at each thread count, in rounds of B\n"
                "calls of each (default max(1000, 125 x threads)). Many threads run a block\n"
                "of each side per round (llmsvc curl, then curl llmsvc, ...); one thread\n"
                "alternates the sides call by call. Each side's calls/s is its calls over\n"
                "the time they took; the ratio is llmsvc's over curl's.\n"
                "--placement: apart puts the bench's threads on the first CPU and the fake\n"
                "upstream on the last, together both on the first, free leaves them to the\n"
                "scheduler; auto (the default) is apart at 1 thread, free at more.\n"
                "--baseline tuned: the curl loop gives libcurl a parsed URL and the proxy\n"
                "settings, as llmsvc's transport does (plain: the URL and the environment\n"
                "to read, as a plain libcurl program does).\n"
                "--pairs prints every round as it ends (on stderr).\n"
                "Without --url, starts the fake upstream (%s).\n",
                FAKE_UPSTREAM_BIN);
            return opt == 'h' ? 0 : 2;
        }
    }
    char url[256];
    if (!base_url) {
        upstream_pid = start_fake(url, sizeof url);
        if (upstream_pid < 0) {
            fprintf(stderr, "bench: cannot start %s\n", FAKE_UPSTREAM_BIN);
            return 1;
        }
        base_url = url;
    }
    setenv("OPENAI_API_KEY", "sk-bench", 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    llmsvc_options o;
    llmsvc_options_init(&o);
    /* linked with the core's objects, this binary is not where libllmsvc
     * lives: name the build's folders */
    o.flags = LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS | LLMSVC_OPT_NO_ENV;
    o.plugin_path = PLUGIN_DIR;
    o.spec_path = SPEC_DIR;
    llmsvc_runtime *rt;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_open(&rt, &o, &err) != LLMSVC_OK) {
        fprintf(stderr, "bench: %s\n", llmsvc_error_message(err));
        return 1;
    }
    if (baseline_request(rt) < 0)
        return 1;

    printf("upstream %s, model %s, %ld calls of each side at each thread count; %s "
           "baseline\n",
           base_url, model, n_calls, tuned_baseline ? "tuned" : "plain");
    if (only)
        printf("%-8s %-14s %-16s %s   (%s only: no ratio)\n", "threads", "call/s", "cpu/call",
               "failures", only);
    else
        printf("%-8s %-14s %-14s %-7s %-16s %-16s %s\n", "threads", "llmsvc call/s",
               "curl call/s", "ratio", "llmsvc cpu/call", "curl cpu/call", "failures");
    int failed = 0;
    char *list = strdup(thread_list);
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
        int threads = atoi(t);
        if (threads < 1 || threads > 256)
            continue;
        if (measure(rt, threads) != 0) {
            failed = 1;
            break;
        }
    }
    free(list);
    FILE *f = only ? NULL : fopen(FIXTURE_BODY, "r");
    if (f) {
        char *body = calloc(1, 1 << 20);
        size_t n = fread(body, 1, (1 << 20) - 1, f);
        body[n] = '\0';
        fclose(f);
        printf("core CPU per call without the network (resolve + validate + build + "
               "serialize + parse %zu-byte response): %.2f us; with caches cold (wall clock): "
               "%.2f us\n",
               n, core_cpu_us(rt, body, 0), core_cpu_us(rt, body, 1));
        free(body);
    }
    free(baseline_body);
    for (size_t i = 0; i < n_baseline_headers; i++)
        free(baseline_headers[i]);
    llmsvc_runtime_close(rt);
    curl_global_cleanup();
    if (upstream_pid > 0) {
        kill(upstream_pid, SIGTERM);
        waitpid(upstream_pid, NULL, 0);
    }
    return failed;
}
