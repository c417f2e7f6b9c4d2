/* worker — threads that claim jobs from a store and run them through a
 * runtime. Each thread has its own store connection; a heartbeat thread
 * renews the leases of running jobs every third of the lease, so a job runs
 * on one worker at a time while its worker lives, and again elsewhere once a
 * dead worker's lease has passed. */
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "call.h"
#include "error.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "store.h"

#define REQUEUE_BASE_MS 1000
#define REQUEUE_MAX_MS 60000

typedef struct slot {
    char id[40];  /* the job running on this thread, "" when none */
    int attempt;
    int released; /* given back by a drain: the result will not apply */
} slot;

struct llmsvc_worker {
    llmsvc_runtime *rt;
    llmsvc_store *st;
    int n;
    long lease_ms, poll_ms;
    char owner[96];
    pthread_t *threads;
    pthread_t heartbeat;
    int heartbeat_started;
    int started;
    atomic_int stopping;
    pthread_mutex_t mu; /* guards slots, running and the condition */
    pthread_cond_t cv;  /* signalled when a job ends and on stop */
    slot *slots;
    int running;
    atomic_long succeeded, failed, requeued;
};

/* ms from now on the clock pthread_cond_timedwait reads. */
static struct timespec deadline_in(long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

static void sleep_cond(llmsvc_worker *w, long ms)
{
    struct timespec until = deadline_in(ms);
    pthread_mutex_lock(&w->mu);
    if (!atomic_load(&w->stopping))
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
    pthread_mutex_unlock(&w->mu);
}

static void *heartbeat_main(void *arg)
{
    llmsvc_worker *w = arg;
    store_conn *c = NULL;
    while (!atomic_load(&w->stopping)) {
        sleep_cond(w, w->lease_ms / 3);
        if (atomic_load(&w->stopping))
            break;
        llmsvc_error *e = NULL;
        if (!c && store_connect(w->st, &c, &e) != LLMSVC_OK) {
            rt_logf(w->rt, LLMSVC_LOG_WARN, "worker: cannot renew leases: %s",
                    llmsvc_error_message(e));
            llmsvc_error_free(e);
            continue;
        }
        for (int i = 0; i < w->n; i++) {
            char id[40];
            pthread_mutex_lock(&w->mu);
            snprintf(id, sizeof id, "%s", w->slots[i].released ? "" : w->slots[i].id);
            pthread_mutex_unlock(&w->mu);
            if (!*id)
                continue;
            int owned = 1;
            if (w->st->engine->renew(c, id, w->owner, store_now_ms() + w->lease_ms, &owned, &e) !=
                LLMSVC_OK) {
                rt_logf(w->rt, LLMSVC_LOG_WARN, "worker: lease of job %s not renewed: %s", id,
                        llmsvc_error_message(e));
                llmsvc_error_free(e);
                e = NULL;
                w->st->engine->disconnect(c);
                c = NULL;
                break;
            }
            if (!owned)
                rt_logf(w->rt, LLMSVC_LOG_INFO,
                        "worker: job %s was cancelled or taken over; its result will be dropped",
                        id);
        }
    }
    if (c)
        w->st->engine->disconnect(c);
    return NULL;
}

static long requeue_delay(int attempt, const llmsvc_error *e)
{
    long d = REQUEUE_BASE_MS;
    for (int i = 1; i < attempt && d < REQUEUE_MAX_MS; i++)
        d *= 2;
    if (d > REQUEUE_MAX_MS)
        d = REQUEUE_MAX_MS;
    long ra = llmsvc_error_retry_after_ms(e);
    return ra > d ? ra : d;
}

/* Runs one claimed job and finishes it. */
static void run_job(llmsvc_worker *w, store_conn *c, int idx, const job_row *job)
{
    llmsvc_request *req = NULL;
    llmsvc_response *resp = NULL;
    llmsvc_error *e = NULL;
    job_finish f = {job->id, w->owner, FINISH_FAILED, NULL, NULL, 0, 0, NULL};
    char *rq = NULL, *rs = NULL, *er = NULL, *ra = NULL;
    call_record rec;
    int have_record = 0;

    if (job->attempts > job->max_attempts) {
        e = err_not_retryable(err_new(
            LLMSVC_E_TRANSPORT,
            "the worker running the job's last attempt stopped before finishing it"));
    } else if (llmsvc_request_from_json(&req, job->request, strlen(job->request), &e) ==
               LLMSVC_OK) {
        if (job->project_id || job->organization_id)
            llmsvc_request_set_project(req, job->project_id, job->organization_id);
        /* the job writes its own record, with the route's attempts also on failure */
        call_run(w->rt, req, NULL, &resp, &e, CALL_KEEP_ROUTE);
        store_make_record(&rec, req, resp, e, &rq, &rs, &er, &ra);
        rec.job_id = job->id;
        rec.attempt = job->attempts;
        have_record = 1;
    }
    if (!e) {
        f.kind = FINISH_SUCCEEDED;
        f.result = rs;
    } else {
        if (!er)
            llmsvc_error_to_json(&er, e);
        f.error = er;
        if (llmsvc_error_retryable(e) && job->attempts < job->max_attempts) {
            f.kind = FINISH_REQUEUE;
            f.run_after = store_now_ms() + requeue_delay(job->attempts, e);
        }
    }
    f.now = store_now_ms();
    f.record = have_record ? &rec : NULL;

    pthread_mutex_lock(&w->mu);
    int released = w->slots[idx].released;
    pthread_mutex_unlock(&w->mu);
    int applied = 0;
    llmsvc_error *fe = NULL;
    if (!released && w->st->engine->finish(c, &f, &applied, &fe) != LLMSVC_OK) {
        rt_logf(w->rt, LLMSVC_LOG_ERROR, "worker: job %s: cannot store its outcome: %s", job->id,
                llmsvc_error_message(fe));
        llmsvc_error_free(fe);
    }
    if (applied) {
        if (f.kind == FINISH_SUCCEEDED)
            atomic_fetch_add(&w->succeeded, 1);
        else if (f.kind == FINISH_REQUEUE)
            atomic_fetch_add(&w->requeued, 1);
        else
            atomic_fetch_add(&w->failed, 1);
        rt_logf(w->rt, LLMSVC_LOG_DEBUG, "worker: job %s attempt %d: %s", job->id, job->attempts,
                f.kind == FINISH_SUCCEEDED ? "succeeded"
                : f.kind == FINISH_REQUEUE ? "will be retried"
                                           : "failed");
    } else if (!released) {
        rt_logf(w->rt, LLMSVC_LOG_INFO,
                "worker: job %s was cancelled or taken over while running; its result is dropped",
                job->id);
    }
    free(rq);
    free(rs);
    free(er);
    free(ra);
    llmsvc_error_free(e);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}

typedef struct thread_arg {
    llmsvc_worker *w;
    int idx;
} thread_arg;

static void *worker_main(void *arg)
{
    llmsvc_worker *w = ((thread_arg *)arg)->w;
    int idx = ((thread_arg *)arg)->idx;
    free(arg);
    store_conn *c = NULL;
    long idle = 1;
    while (!atomic_load(&w->stopping)) {
        llmsvc_error *e = NULL;
        if (!c && store_connect(w->st, &c, &e) != LLMSVC_OK) {
            rt_logf(w->rt, LLMSVC_LOG_ERROR, "worker: %s", llmsvc_error_message(e));
            llmsvc_error_free(e);
            sleep_cond(w, w->poll_ms);
            continue;
        }
        job_row job = {0};
        int got = 0;
        if (w->st->engine->claim(c, w->owner, store_now_ms(), w->lease_ms, &job, &got, &e) !=
            LLMSVC_OK) {
            rt_logf(w->rt, LLMSVC_LOG_WARN, "worker: %s", llmsvc_error_message(e));
            llmsvc_error_free(e);
            w->st->engine->disconnect(c);
            c = NULL;
            sleep_cond(w, 100);
            continue;
        }
        if (!got) {
            w->st->engine->wait_work(c, idle, &w->stopping);
            idle = idle * 2 < w->poll_ms ? idle * 2 : w->poll_ms;
            continue;
        }
        idle = 1;
        pthread_mutex_lock(&w->mu);
        snprintf(w->slots[idx].id, sizeof w->slots[idx].id, "%s", job.id);
        w->slots[idx].attempt = job.attempts;
        w->slots[idx].released = 0;
        w->running++;
        pthread_mutex_unlock(&w->mu);
        run_job(w, c, idx, &job);
        pthread_mutex_lock(&w->mu);
        w->slots[idx].id[0] = '\0';
        w->running--;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        store_row_clear(&job);
    }
    if (c)
        w->st->engine->disconnect(c);
    return NULL;
}

static void free_worker(llmsvc_worker *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->threads);
    free(w->slots);
    free(w);
}

LLMSVC_EXTERN llmsvc_code llmsvc_worker_start(llmsvc_worker **out, llmsvc_runtime *rt,
                                              llmsvc_store *st, const llmsvc_worker_options *opts,
                                              llmsvc_error **err)
{
    if (!out || !rt || !st)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_worker_start: NULL argument");
    llmsvc_worker_options o = LLMSVC_WORKER_OPTIONS_INIT;
    if (opts) {
        if (opts->version != LLMSVC_WORKER_OPTIONS_VERSION)
            return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_worker_options version %u unknown",
                           opts->version);
        o = *opts;
    }
    if (o.concurrency < 0 || o.concurrency > 1024 || o.lease_ms < 0 || o.poll_ms < 0)
        return err_set(err, LLMSVC_E_INVALID_ARG,
                       "worker concurrency must be 1..1024 and times not negative");
    llmsvc_worker *w = calloc(1, sizeof *w);
    if (!w)
        return err_give(err, err_nomem());
    w->rt = rt;
    w->st = st;
    w->n = o.concurrency ? o.concurrency : 4;
    w->lease_ms = o.lease_ms ? o.lease_ms : 30000;
    if (w->lease_ms < 300)
        w->lease_ms = 300;
    w->poll_ms = o.poll_ms ? o.poll_ms : (st->engine == &store_sqlite_engine ? 1000 : 5000);
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    char rnd[32];
    store_new_job_id(rnd);
    snprintf(w->owner, sizeof w->owner, "%s:%d:%s", host, (int)getpid(), rnd + 4);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->threads = calloc((size_t)w->n, sizeof *w->threads);
    w->slots = calloc((size_t)w->n, sizeof *w->slots);
    if (!w->threads || !w->slots) {
        free_worker(w);
        return err_give(err, err_nomem());
    }
    for (int i = 0; i < w->n; i++) {
        thread_arg *a = malloc(sizeof *a);
        if (a) {
            a->w = w;
            a->idx = i;
        }
        if (!a || pthread_create(&w->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            llmsvc_worker_stop(w, 0);
            return err_set(err, LLMSVC_E_NOMEM, "cannot start worker thread %d", i + 1);
        }
        w->started++;
    }
    if (pthread_create(&w->heartbeat, NULL, heartbeat_main, w) == 0)
        w->heartbeat_started = 1;
    *out = w;
    return LLMSVC_OK;
}

LLMSVC_EXTERN int llmsvc_worker_drain(llmsvc_worker *w, long drain_ms)
{
    if (!w)
        return 0;
    atomic_store(&w->stopping, 1);
    struct timespec until = deadline_in(drain_ms);
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->cv);
    while (w->running > 0 && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
        ;
    /* what still runs goes back to the queue, its attempt not counted */
    char ids[64][40];
    int n = 0, released = 0;
    for (int i = 0; i < w->n; i++) {
        if (w->slots[i].id[0] && !w->slots[i].released) {
            w->slots[i].released = 1;
            if (n < 64)
                snprintf(ids[n++], sizeof ids[0], "%s", w->slots[i].id);
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (!n)
        return 0;
    store_conn *c;
    llmsvc_error *e = NULL;
    if (store_connect(w->st, &c, &e) == LLMSVC_OK) {
        for (int i = 0; i < n; i++) {
            job_finish f = {ids[i], w->owner, FINISH_RELEASE, NULL, NULL, 0, store_now_ms(), NULL};
            int applied = 0;
            if (w->st->engine->finish(c, &f, &applied, &e) != LLMSVC_OK)
                break;
            released += applied;
        }
        w->st->engine->disconnect(c);
    }
    if (e) {
        rt_logf(w->rt, LLMSVC_LOG_ERROR,
                "worker: cannot release running jobs (they run again once their lease passes): %s",
                llmsvc_error_message(e));
        llmsvc_error_free(e);
    }
    return released;
}

LLMSVC_EXTERN void llmsvc_worker_stop(llmsvc_worker *w, long drain_ms)
{
    if (!w)
        return;
    llmsvc_worker_drain(w, drain_ms);
    for (int i = 0; i < w->started; i++)
        pthread_join(w->threads[i], NULL);
    if (w->heartbeat_started)
        pthread_join(w->heartbeat, NULL);
    free_worker(w);
}

LLMSVC_EXTERN void llmsvc_worker_counts(const llmsvc_worker *w, long *succeeded, long *failed,
                                        long *requeued)
{
    if (succeeded)
        *succeeded = w ? atomic_load(&w->succeeded) : 0;
    if (failed)
        *failed = w ? atomic_load(&w->failed) : 0;
    if (requeued)
        *requeued = w ? atomic_load(&w->requeued) : 0;
}
