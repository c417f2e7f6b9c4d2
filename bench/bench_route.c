/* bench_route — what routing costs the core per call, against the same call
 * made directly, in the same run (the mock provider: no network, so the
 * difference is the core's own CPU):
 *
 *   direct       llmsvc_call to mock/mock-1, a new prompt each call (baseline)
 *   route+limit  the same through a one-target route with a rate limit that
 *                never waits (route resolution + the bucket)
 *   +cache miss  through a route with a cache_ttl, a new prompt each call
 *                (+ the key's SHA-256, the lookup, and storing the answer)
 *   cache hit    the same prompt again and again: the whole llmsvc_call
 *
 * Targets (issue "Routing and resilience"): route resolution + rate-limit
 * check + cache lookup add ≤ 2 µs a call; a cache hit is served in ≤ 5 µs.
 * Rounds alternate the cases; medians are reported.
 *
 *   bench_route [--calls N] [--rounds R] [--json]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "llmsvc/llmsvc.h"

static const char routes_yaml[] =
    "routes:\n"
    "  limited:\n"
    "    fallbacks: [{provider: mock, model: mock-1}]\n"
    "  cached:\n"
    "    cache_ttl: 3600\n"
    "    fallbacks: [{provider: mock, model: mock-1}]\n"
    "limits:\n"
    "  - {provider: mock, requests_per_second: 1000000000, tokens_per_minute: 1000000000000}\n";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static llmsvc_runtime *open_rt(const char *spec_path)
{
    llmsvc_options o;
    llmsvc_options_init(&o);
    o.flags = LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS |
              LLMSVC_OPT_STRICT_SPECS;
    o.plugin_path = PLUGIN_DIR;
    o.spec_path = spec_path;
    o.log_level = LLMSVC_LOG_OFF;
    llmsvc_runtime *rt = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_open(&rt, &o, &err) != LLMSVC_OK) {
        fprintf(stderr, "bench_route: %s\n", llmsvc_error_message(err));
        exit(1);
    }
    return rt;
}

typedef enum { DIRECT, LIMITED, MISS, HIT, N_CASES } bench_case;
static const char *const case_names[N_CASES] = {"direct", "route+limit", "route+limit+cache miss",
                                                "cache hit"};

/* ns per call of one case over n calls. */
static double run(llmsvc_runtime *rt, bench_case c, long n, long *serial)
{
    llmsvc_request *req;
    llmsvc_request_new(&req);
    if (c == DIRECT) {
        llmsvc_request_set_provider(req, "mock");
        llmsvc_request_set_model(req, "mock-1");
    } else {
        llmsvc_request_set_route(req, c == LIMITED ? "limited" : "cached");
    }
    llmsvc_request_set_instructions(req, "You answer questions about the weather briefly.");
    char prompt[96];
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        /* a new prompt each call, except for the hits */
        snprintf(prompt, sizeof prompt, "What will the weather be in Paris on day %ld?",
                 c == HIT ? 0 : (*serial)++);
        llmsvc_request_set_prompt(req, prompt);
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        if (llmsvc_call(rt, req, &resp, &err) != LLMSVC_OK) {
            fprintf(stderr, "bench_route: %s: %s\n", case_names[c], llmsvc_error_message(err));
            exit(1);
        }
        if (c == HIT && i > 0 && !llmsvc_response_cached(resp)) {
            fprintf(stderr, "bench_route: the hit case missed the cache\n");
            exit(1);
        }
        llmsvc_response_free(resp);
    }
    double per = (now_ns() - t0) / (double)n;
    llmsvc_request_free(req);
    return per;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    long calls = 200000;
    int rounds = 7, json = 0;
    static const struct option opts[] = {{"calls", required_argument, NULL, 'n'},
                                         {"rounds", required_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'n')
            calls = atol(optarg);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'j')
            json = 1;
        else {
            printf("usage: bench_route [--calls N] [--rounds R] [--json]\n"
                   "Per-call cost of routes, rate limits and the response cache against a\n"
                   "direct call, through the mock provider (bench/README.md).\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (calls < 1000 || rounds < 1 || rounds > 50) {
        fprintf(stderr, "bench_route: --calls at least 1000, --rounds 1..50\n");
        return 2;
    }
    char dir[] = "/tmp/bench_route.XXXXXX", path[256], both[600];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/routes", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/routes/bench.yaml", dir);
    write_file(path, routes_yaml);
    snprintf(both, sizeof both, "%s/mock.yaml:%s", SPEC_DIR, dir);
    llmsvc_runtime *direct = open_rt(SPEC_DIR "/mock.yaml"), *routed = open_rt(both);

    double per[N_CASES][50];
    long serial = 0;
    for (int c = 0; c < N_CASES; c++) /* warm-up */
        run(c == DIRECT ? direct : routed, (bench_case)c, 2000, &serial);
    for (int r = 0; r < rounds; r++) {
        for (int c = 0; c < N_CASES; c++)
            per[c][r] = run(c == DIRECT ? direct : routed, (bench_case)c, calls, &serial);
        if (!json)
            fprintf(stderr, "round %d/%d done\n", r + 1, rounds);
    }
    double med[N_CASES];
    for (int c = 0; c < N_CASES; c++)
        med[c] = median(per[c], rounds);
    double added_limit = med[LIMITED] - med[DIRECT], added_all = med[MISS] - med[DIRECT];
    if (json) {
        printf("{\"calls\":%ld,\"rounds\":%d,\"direct_ns\":%.0f,\"route_limit_ns\":%.0f,"
               "\"route_limit_cache_miss_ns\":%.0f,\"cache_hit_ns\":%.0f,"
               "\"added_route_limit_ns\":%.0f,\"added_route_limit_cache_ns\":%.0f}\n",
               calls, rounds, med[DIRECT], med[LIMITED], med[MISS], med[HIT], added_limit,
               added_all);
    } else {
        printf("%ld calls a case, %d rounds, medians (ns per llmsvc_call):\n", calls, rounds);
        for (int c = 0; c < N_CASES; c++)
            printf("  %-24s %8.0f\n", case_names[c], med[c]);
        printf("added by route + rate limit:               %6.0f ns  (target <= 2000)\n",
               added_limit);
        printf("added by route + rate limit + cache (miss): %6.0f ns  (target <= 2000)\n",
               added_all);
        printf("a cache hit, the whole call:               %6.0f ns  (target <= 5000)\n",
               med[HIT]);
    }
    llmsvc_runtime_close(direct);
    llmsvc_runtime_close(routed);
    unlink(path);
    snprintf(path, sizeof path, "%s/routes", dir);
    rmdir(path);
    rmdir(dir);
    return 0;
}
