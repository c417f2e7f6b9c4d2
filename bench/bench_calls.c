/* bench_calls — llmsvc_call against a bare libcurl loop, in the same run.
 *
 * Sends N calls through llmsvc_call (openai-responses plugin) to an upstream
 * that speaks the Responses API — by default the fake upstream, started here as
 * a separate process so its CPU is not ours — at 1 and at 32 threads, and the
 * same requests through a minimal libcurl loop (one keep-alive handle per
 * thread; the very body and header lines llmsvc sends, built once by the same
 * plugin; the answer read but not parsed) as the baseline.
 * Prints calls/s of each, their ratio, the process CPU per call, and the
 * core's own CPU per call measured without the network (resolve + validate +
 * build + serialize + parse of the same response, in a loop).
 *
 *   bench_calls [--calls N] [--threads LIST] [--url BASE_URL] [--model M]
 */
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
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
static long n_calls = 20000;
static const char *only; /* "llmsvc" or "curl": run one side only (for profiling) */
enum { MAX_ROUNDS = 64 };
static int rounds = 9; /* paired rounds; the median of their ratios is reported */
static int show_pairs; /* --pairs: each round's two runs on stderr */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- llmsvc ---- */

typedef struct job {
    llmsvc_runtime *rt;
    long calls;
    long failures;
} job;

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

static void *llmsvc_side(void *arg)
{
    job *j = arg;
    llmsvc_request *req = bench_request();
    llmsvc_request_set_max_retries(req, 0);
    for (long i = 0; i < j->calls; i++) {
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        if (llmsvc_call(j->rt, req, &resp, &err) != LLMSVC_OK) {
            if (!j->failures)
                fprintf(stderr, "bench: llmsvc_call: %s\n", llmsvc_error_message(err));
            j->failures++;
        }
        llmsvc_error_free(err);
        llmsvc_response_free(resp);
    }
    llmsvc_request_free(req);
    return NULL;
}

/* ---- bare libcurl baseline ---- */

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

static void *curl_worker(void *arg)
{
    job *j = arg;
    CURL *h = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "%s/responses", base_url);
    struct curl_slist *hdr = NULL;
    for (size_t i = 0; i < n_baseline_headers; i++)
        hdr = curl_slist_append(hdr, baseline_headers[i]);
    for (long i = 0; i < j->calls; i++) {
        size_t got = 0;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, baseline_body);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
        long status = 0;
        if (curl_easy_perform(h) != CURLE_OK ||
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200 ||
            !got)
            j->failures++;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

typedef struct result {
    double calls_per_s;
    double cpu_us_per_call;
    long failures;
} result;

static result run(void *(*fn)(void *), llmsvc_runtime *rt, int threads)
{
    pthread_t tid[256];
    job jobs[256];
    double c0 = cpu_s(), t0 = now_s();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){rt, n_calls / threads + (i < n_calls % threads), 0};
        pthread_create(&tid[i], NULL, fn, &jobs[i]);
    }
    result r = {0, 0, 0};
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        r.failures += jobs[i].failures;
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    r.calls_per_s = (double)n_calls / dt;
    r.cpu_us_per_call = dc / (double)n_calls * 1e6;
    return r;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int by_rate(const void *a, const void *b)
{
    return by_double(&((const result *)a)->calls_per_s, &((const result *)b)->calls_per_s);
}

/* A run of one side, or a placeholder (1 call/s) when --only names the other. */
static result run_side(void *(*fn)(void *), const char *side, llmsvc_runtime *rt, int threads)
{
    result none = {1, 0, 0};
    return only && strcmp(only, side) ? none : run(fn, rt, threads);
}

/* The run with the median rate (its CPU figure with it); failures summed. */
static result median(result *r, int n)
{
    long failures = 0;
    for (int i = 0; i < n; i++)
        failures += r[i].failures;
    qsort(r, (size_t)n, sizeof *r, by_rate);
    result m = r[n / 2];
    m.failures = failures;
    return m;
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

static double elapsed_s(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
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
    struct timespec a, b;
    if (!cold) {
        long iters = 200000;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        for (long i = 0; i < iters; i++)
            core_once(rt, req, &hr, &body);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        total = elapsed_s(&a, &b) / (double)iters;
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
            clock_gettime(CLOCK_MONOTONIC, &a);
            core_once(rt, req, &hr, &body);
            clock_gettime(CLOCK_MONOTONIC, &b);
            total += elapsed_s(&a, &b);
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

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"calls", required_argument, NULL, 'n'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"url", required_argument, NULL, 'u'},
                                             {"model", required_argument, NULL, 'm'},
                                             {"only", required_argument, NULL, 'o'},
                                             {"rounds", required_argument, NULL, 'r'},
                                             {"pairs", no_argument, NULL, 'p'},
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
        case 'r':
            rounds = atoi(optarg);
            if (rounds < 1 || rounds > MAX_ROUNDS) {
                fprintf(stderr, "bench_calls: --rounds takes 1 to %d, not '%s'\n", MAX_ROUNDS,
                        optarg);
                return 2;
            }
            break;
        case 'p':
            show_pairs = 1;
            break;
        default:
            printf("usage: bench_calls [--calls N] [--threads 1,32] [--url BASE_URL] [--model M]\n"
                   "                   [--only llmsvc|curl] [--rounds R] [--pairs]\n"
                   "Each round runs both sides back to back (the order swapped every round);\n"
                   "ratio is the median of the rounds' ratios (default 9 rounds, at most 64).\n"
                   "--pairs prints every round's two runs as it ends (on stderr).\n"
                   "Without --url, starts the fake upstream (%s).\n",
                   FAKE_UPSTREAM_BIN);
            return opt == 'h' ? 0 : 2;
        }
    }
    char url[256];
    pid_t fake = -1;
    if (!base_url) {
        fake = start_fake(url, sizeof url);
        if (fake < 0) {
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

    printf("upstream %s, model %s, %ld calls per run, %d paired runs per side; ratio: the "
           "median of the pairs' ratios\n",
           base_url, model, n_calls, rounds);
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
        /* warm connections and caches */
        result warm = run(only && !strcmp(only, "curl") ? curl_worker : llmsvc_side, rt, threads);
        if (warm.failures) {
            fprintf(stderr, "bench: calls fail; not measuring\n");
            failed = 1;
            break;
        }
        /* the machine's noise (±15% between runs) is larger than the difference
         * measured: pair each llmsvc run with a baseline run next to it (the
         * order swapped every round, so neither side always runs first) and
         * report the median of the pairs' ratios with the sides' medians */
        result rb[MAX_ROUNDS], ro[MAX_ROUNDS];
        double ratio[MAX_ROUNDS];
        for (int k = 0; k < rounds; k++) {
            if (k % 2)
                ro[k] = run_side(llmsvc_side, "llmsvc", rt, threads);
            rb[k] = run_side(curl_worker, "curl", rt, threads);
            if (!(k % 2))
                ro[k] = run_side(llmsvc_side, "llmsvc", rt, threads);
            ratio[k] = ro[k].calls_per_s / rb[k].calls_per_s;
            if (show_pairs)
                fprintf(stderr,
                        "  %d threads, round %d (%s first): llmsvc %.0f calls/s %.1f us cpu, "
                        "curl %.0f calls/s %.1f us cpu, ratio %.3f\n",
                        threads, k + 1, k % 2 ? "llmsvc" : "curl", ro[k].calls_per_s,
                        ro[k].cpu_us_per_call, rb[k].calls_per_s, rb[k].cpu_us_per_call, ratio[k]);
        }
        qsort(ratio, (size_t)rounds, sizeof *ratio, by_double);
        result base = median(rb, rounds), ours = median(ro, rounds);
        if (only) { /* one side measured: no ratio to give */
            result r = strcmp(only, "curl") ? ours : base;
            printf("%-8d %-14.0f %-13.1f us %ld\n", threads, r.calls_per_s, r.cpu_us_per_call,
                   r.failures);
        } else {
            printf("%-8d %-14.0f %-14.0f %-7.3f %-13.1f us %-13.1f us %ld/%ld   "
                   "(pairs %.3f-%.3f)\n",
                   threads, ours.calls_per_s, base.calls_per_s, ratio[rounds / 2],
                   ours.cpu_us_per_call, base.cpu_us_per_call, ours.failures, base.failures,
                   ratio[0], ratio[rounds - 1]);
        }
        failed |= ours.failures || base.failures;
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
    if (fake > 0) {
        kill(fake, SIGTERM);
        waitpid(fake, NULL, 0);
    }
    return failed;
}
