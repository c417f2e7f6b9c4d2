/* bench_jobs — jobs end to end through a store, against the same calls made
 * directly, in the same run.
 *
 * For each store (SQLite, and PostgreSQL when a server can be started with
 * pg_cluster) and each worker count: N jobs to the mock provider are
 * submitted, then W workers (llmsvc_worker_start in this process, each with C
 * threads; one llmsvc_store handle and one runtime shared, every worker thread
 * with its own store connection) are started and timed until every job has
 * finished: jobs/s = N / that time. Each job is a claim, a mock call and a
 * finish with its call record, as in production. The baseline is the same N
 * mock calls through llmsvc_call on W x C threads, without a store: the ratio
 * is what the store costs. Each figure is the median of several runs.
 *
 *   bench_jobs [--jobs N] [--workers LIST] [--concurrency C] [--rounds R]
 *              [--store URL] [--no-postgres]
 *
 * --store benchmarks that store instead of a temporary SQLite file (a
 * PostgreSQL URL, say, of a server of your own); its jobs are not deleted. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "llmsvc/llmsvc.h"

static long n_jobs = 5000;
static int worker_counts[8] = {1, 4};
static int n_worker_counts = 2;
static int concurrency = 2;
static int rounds = 3;
static const char *store_url;
static int no_postgres;
static llmsvc_runtime *rt;
static char tmp[4096];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, llmsvc_error *err)
{
    fprintf(stderr, "bench_jobs: %s: %s\n", what, err ? llmsvc_error_message(err) : "failed");
    exit(1);
}

static llmsvc_request *bench_request(long i)
{
    llmsvc_request *req = NULL;
    char prompt[64];
    snprintf(prompt, sizeof prompt, "Benchmark job number %ld: say it back.", i);
    if (llmsvc_request_new(&req) != LLMSVC_OK || llmsvc_request_set_provider(req, "mock") ||
        llmsvc_request_set_model(req, "mock-1") || llmsvc_request_set_prompt(req, prompt) ||
        llmsvc_request_set_max_retries(req, 0))
        die("cannot build a request", NULL);
    return req;
}

/* ---- the baseline: llmsvc_call directly ---- */

typedef struct direct {
    long from, to, failures;
} direct;

static void *direct_main(void *arg)
{
    direct *d = arg;
    for (long i = d->from; i < d->to; i++) {
        llmsvc_request *req = bench_request(i);
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        if (llmsvc_call(rt, req, &resp, &err) != LLMSVC_OK)
            d->failures++;
        llmsvc_error_free(err);
        llmsvc_response_free(resp);
        llmsvc_request_free(req);
    }
    return NULL;
}

/* calls/s of n calls on `threads` threads. */
static double baseline_once(int threads)
{
    pthread_t t[64];
    direct d[64];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        d[i] = (direct){n_jobs * i / threads, n_jobs * (i + 1) / threads, 0};
        if (pthread_create(&t[i], NULL, direct_main, &d[i]) != 0)
            die("cannot start a thread", NULL);
    }
    long failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failures += d[i].failures;
    }
    double s = now_s() - t0;
    if (failures)
        fprintf(stderr, "bench_jobs: %ld direct calls failed\n", failures);
    return (double)n_jobs / s;
}

/* ---- jobs through a store ---- */

typedef struct run_result {
    double submit_per_s, jobs_per_s;
    long failed;
} run_result;

static run_result jobs_once(const char *url, int workers)
{
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_store_open(&st, url, &err) != LLMSVC_OK)
        die(url, err);
    run_result r = {0, 0, 0};
    double t0 = now_s();
    for (long i = 0; i < n_jobs; i++) {
        llmsvc_request *req = bench_request(i);
        char *id = NULL;
        llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
        o.project_id = "bench";
        if (llmsvc_job_submit(st, req, &o, &id, &err) != LLMSVC_OK)
            die("submit", err);
        llmsvc_free(id);
        llmsvc_request_free(req);
    }
    r.submit_per_s = (double)n_jobs / (now_s() - t0);

    llmsvc_worker *w[64];
    llmsvc_worker_options wo = LLMSVC_WORKER_OPTIONS_INIT;
    wo.concurrency = concurrency;
    wo.poll_ms = 100;
    t0 = now_s();
    for (int i = 0; i < workers; i++) {
        if (llmsvc_worker_start(&w[i], rt, st, &wo, &err) != LLMSVC_OK)
            die("worker", err);
    }
    long done = 0;
    while (done < n_jobs) {
        sleep_ms(1);
        done = 0;
        r.failed = 0;
        for (int i = 0; i < workers; i++) {
            long ok, failed, requeued;
            llmsvc_worker_counts(w[i], &ok, &failed, &requeued);
            done += ok + failed;
            r.failed += failed + requeued;
        }
    }
    r.jobs_per_s = (double)n_jobs / (now_s() - t0);
    for (int i = 0; i < workers; i++)
        llmsvc_worker_stop(w[i], 1000);
    llmsvc_store_close(st);
    return r;
}

static int sqlite_runs;

/* Medians of `rounds` runs on a store: a fresh SQLite file per run, or url. */
static void bench_store(const char *label, const char *url, const double *base)
{
    for (int k = 0; k < n_worker_counts; k++) {
        int workers = worker_counts[k];
        double jobs[16], submit[16];
        long failed = 0;
        for (int r = 0; r < rounds; r++) {
            char fresh[4200];
            const char *u = url;
            if (!u) {
                snprintf(fresh, sizeof fresh, "sqlite:%s/bench-%d.db", tmp, sqlite_runs++);
                u = fresh;
            }
            run_result res = jobs_once(u, workers);
            jobs[r] = res.jobs_per_s;
            submit[r] = res.submit_per_s;
            failed += res.failed;
        }
        double j = median(jobs, rounds), s = median(submit, rounds);
        char who[32];
        snprintf(who, sizeof who, "%d x %d", workers, concurrency);
        printf("%-10s %-9s %8d %10.0f %10.0f %8.4f %10.0f%s\n", label, who, workers * concurrency,
               s, j, j / base[k], (1 / j - 1 / base[k]) * 1e6,
               failed ? "  (some jobs failed!)" : "");
        fflush(stdout);
    }
}

/* ---- PostgreSQL through pg_cluster ---- */

#ifdef PG_CLUSTER_BIN
static pid_t pg_pid;
static int pg_stdin = -1;

/* Starts pg_cluster and reads its URL; 0, or -1 with the reason in why. */
static int pg_start(char *url, size_t n, char *why, size_t wn)
{
    int out[2], in[2];
    if (pipe(out) < 0 || pipe(in) < 0) {
        snprintf(why, wn, "pipe: %s", strerror(errno));
        return -1;
    }
    pg_pid = fork();
    if (pg_pid < 0) {
        snprintf(why, wn, "fork: %s", strerror(errno));
        return -1;
    }
    if (pg_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(PG_CLUSTER_BIN, PG_CLUSTER_BIN, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    pg_stdin = in[1]; /* pg_cluster stops when this closes: when we exit, at the latest */
    FILE *f = fdopen(out[0], "r");
    if (!f || !fgets(url, (int)n, f)) {
        snprintf(why, wn, "pg_cluster printed no URL (its reason is on stderr above)");
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    url[strcspn(url, "\r\n")] = '\0';
    return 0;
}

static void pg_stop(void)
{
    if (pg_pid <= 0)
        return;
    kill(pg_pid, SIGTERM);
    close(pg_stdin);
    int status;
    while (waitpid(pg_pid, &status, 0) < 0 && errno == EINTR)
        ;
    pg_pid = 0;
}
#endif

static void usage(void)
{
    fputs("usage: bench_jobs [--jobs N] [--workers LIST] [--concurrency C] [--rounds R]\n"
          "                  [--store URL] [--no-postgres]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"jobs", required_argument, NULL, 'n'},
                                             {"workers", required_argument, NULL, 'w'},
                                             {"concurrency", required_argument, NULL, 'c'},
                                             {"rounds", required_argument, NULL, 'r'},
                                             {"store", required_argument, NULL, 's'},
                                             {"no-postgres", no_argument, NULL, 'P'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            n_jobs = atol(optarg);
            break;
        case 'w': {
            n_worker_counts = 0;
            for (char *s = optarg; *s && n_worker_counts < 8;) {
                worker_counts[n_worker_counts++] = (int)strtol(s, &s, 10);
                if (*s == ',')
                    s++;
                else if (*s)
                    usage();
            }
            break;
        }
        case 'c':
            concurrency = atoi(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 's':
            store_url = optarg;
            break;
        case 'P':
            no_postgres = 1;
            break;
        default:
            usage();
        }
    }
    if (n_jobs < 1 || concurrency < 1 || rounds < 1 || rounds > 16)
        usage();
    for (int k = 0; k < n_worker_counts; k++) {
        if (worker_counts[k] < 1 || worker_counts[k] * concurrency > 64)
            usage();
    }

    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/bench_jobs-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("bench_jobs: mkdtemp");
        return 1;
    }
    llmsvc_options o;
    llmsvc_options_init(&o);
    o.flags = LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS;
    o.plugin_path = PLUGIN_DIR;
    o.spec_path = SPEC_DIR "/mock.yaml";
    o.max_retries = 0;
    o.log_level = LLMSVC_LOG_ERROR;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_open(&rt, &o, &err) != LLMSVC_OK)
        die("runtime", err);

    printf("bench_jobs: %ld jobs per run to the mock provider (mock-1), median of %d runs;\n"
           "workers run in this process (llmsvc_worker_start), W workers x C threads each\n\n",
           n_jobs, rounds);
    double base[8];
    printf("%-10s %-9s %8s %10s %10s %8s %10s\n", "store", "workers", "threads", "submit/s",
           "jobs/s", "ratio", "store us/job");
    for (int k = 0; k < n_worker_counts; k++) {
        /* N direct calls take milliseconds: more runs than for the stores */
        double v[32];
        int threads = worker_counts[k] * concurrency, runs = rounds * 5 > 31 ? 31 : rounds * 5;
        baseline_once(threads); /* warm-up */
        for (int r = 0; r < runs; r++)
            v[r] = baseline_once(threads);
        base[k] = median(v, runs);
        printf("%-10s %-9s %8d %10s %10.0f %8s %10s\n", "direct", "-", threads, "-", base[k], "1",
               "-");
    }
    fflush(stdout);

    if (store_url) {
        bench_store(strncmp(store_url, "sqlite:", 7) ? "postgres" : "sqlite", store_url, base);
    } else {
        bench_store("sqlite", NULL, base);
#ifdef PG_CLUSTER_BIN
        if (no_postgres) {
            printf("postgres   not measured (--no-postgres)\n");
        } else {
            char url[1024], why[1024];
            if (pg_start(url, sizeof url, why, sizeof why) == 0) {
                llmsvc_store *st = NULL;
                if (llmsvc_store_open(&st, url, &err) == LLMSVC_OK) {
                    llmsvc_store_close(st);
                    bench_store("postgres", url, base);
                } else {
                    printf("postgres   not measured: %s\n", llmsvc_error_message(err));
                    llmsvc_error_free(err);
                    err = NULL;
                }
            } else {
                printf("postgres   not measured: %s\n", why);
            }
            pg_stop();
        }
#else
        printf("postgres   not measured: this build has no pg_cluster (LLMSVC_WITH_POSTGRES=OFF "
               "or tests not built)\n");
#endif
    }
    llmsvc_runtime_close(rt);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_jobs: could not remove %s\n", tmp);
    return 0;
}
