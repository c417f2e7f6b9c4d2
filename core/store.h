/* store — the job store: one small interface, two engines (store_sqlite.c,
 * store_pg.c), chosen by URL. store.c keeps a pool of connections per store
 * and applies the numbered schema migrations of each engine.
 *
 * Semantics every engine keeps:
 *  - a job is claimed by one worker at a time: claiming sets state "running",
 *    an owner and a lease deadline, and counts an attempt; a running job whose
 *    lease has passed may be claimed again (its worker died);
 *  - finishing (success, final failure or requeue) and its call record are one
 *    transaction, applied only while the finisher still owns the job and it is
 *    still running — so a job never has two success records;
 *  - an idempotency key never creates a second job.
 * Times are Unix milliseconds. Strings in rows are malloc'd (store_row_clear). */
#ifndef LLMSVC_STORE_H
#define LLMSVC_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "llmsvc/llmsvc.h"

typedef struct job_row {
    char *id;
    char *state; /* pending | running | succeeded | failed | cancelled */
    int attempts;
    int max_attempts;
    char *project_id;
    char *organization_id;
    char *idempotency_key;
    char *request; /* request JSON */
    char *result;  /* response JSON or NULL */
    char *error;   /* error JSON or NULL */
    int64_t created_at, started_at, finished_at, run_after;
} job_row;

typedef struct job_new {
    const char *id;
    const char *project_id;
    const char *organization_id;
    const char *idempotency_key;
    const char *request;
    int max_attempts;
    int64_t now;
} job_new;

/* One call as recorded: who, what, how much, how it went. */
typedef struct call_record {
    const char *job_id; /* NULL for a direct call */
    const char *project_id;
    const char *organization_id;
    const char *provider;
    const char *model;
    const char *request;  /* JSON, no keys */
    const char *response; /* JSON or NULL */
    const char *status;   /* succeeded | failed */
    int64_t input_tokens, output_tokens, reasoning_tokens; /* -1 unknown */
    double cost_usd;                                       /* -1 unknown */
    double latency_ms;
    const char *error; /* JSON or NULL */
    int attempt;
    int64_t created_at;
    const char *route;          /* the route that served the call, or NULL */
    const char *arm;            /* its split arm, or NULL */
    int cached;                 /* 1: a response-cache hit (cost 0, no HTTP) */
    const char *route_attempts; /* JSON array of the route's tries, or NULL */
} call_record;

typedef enum finish_kind {
    FINISH_SUCCEEDED,
    FINISH_FAILED,  /* final */
    FINISH_REQUEUE, /* back to pending until run_after */
    FINISH_RELEASE  /* back to pending, the attempt not counted (worker stopping) */
} finish_kind;

typedef struct job_finish {
    const char *id;
    const char *owner;
    finish_kind kind;
    const char *result; /* SUCCEEDED */
    const char *error;  /* FAILED, REQUEUE */
    int64_t run_after;  /* REQUEUE */
    int64_t now;
    const call_record *record; /* written in the same transaction; may be NULL */
} job_finish;

typedef enum records_group { GROUP_MODEL, GROUP_PROJECT, GROUP_VARIANT } records_group;

typedef struct records_query {
    const char *project_id;
    int64_t since;
    records_group group;
} records_query;

/* One summary row. */
typedef struct records_row {
    char *key1; /* provider, project_id, or route (GROUP_VARIANT: calls with a route only) */
    char *key2; /* model, NULL, or arm (NULL when the route has no split) */
    int64_t calls, failures, cache_hits, input_tokens, output_tokens, reasoning_tokens;
    double cost_usd, latency_ms_sum;
    double latency_p50, latency_p95; /* GROUP_VARIANT only: of the successful calls */
} records_row;

typedef struct store_conn store_conn;

typedef struct store_engine {
    const char *name;
    /* Connects and brings the schema to the newest version (serialised across
     * processes). STORE error naming the store on failure. */
    llmsvc_code (*connect)(const char *url, store_conn **out, llmsvc_error **err);
    void (*disconnect)(store_conn *c);
    /* *created = 0 and the existing id when the idempotency key was used. */
    llmsvc_code (*submit)(store_conn *c, const job_new *j, char **id, int *created,
                          llmsvc_error **err);
    /* NOT_FOUND when there is no such job. */
    llmsvc_code (*get)(store_conn *c, const char *id, job_row *out, llmsvc_error **err);
    /* Claims the next runnable job (pending and due, or running past its
     * lease); *got = 0 when there is none. */
    llmsvc_code (*claim)(store_conn *c, const char *owner, int64_t now, long lease_ms,
                         job_row *out, int *got, llmsvc_error **err);
    /* Extends the lease of a job still owned; *owned = 0 when it is not. */
    llmsvc_code (*renew)(store_conn *c, const char *id, const char *owner, int64_t until,
                         int *owned, llmsvc_error **err);
    /* *applied = 0 when the job was no longer this owner's running job. */
    llmsvc_code (*finish)(store_conn *c, const job_finish *f, int *applied, llmsvc_error **err);
    /* Pending or running → cancelled; *state gets the state it was in. */
    llmsvc_code (*cancel)(store_conn *c, const char *id, int64_t now, char **state,
                          llmsvc_error **err);
    llmsvc_code (*record)(store_conn *c, const call_record *r, llmsvc_error **err);
    llmsvc_code (*summary)(store_conn *c, const records_query *q, records_row **rows,
                           size_t *n, llmsvc_error **err);
    /* Shared state for runtimes that use the store (ratelimit.c, cache.c, budget.c). */

    /* Token bucket `key`, full (capacity) when first seen: refills at
     * rate_per_ms up to capacity; lowers its level to cap_level when
     * cap_level >= 0 (provider feedback); then takes `take` when take <= level
     * (*wait_ms = 0), or takes nothing and sets *wait_ms to when it could. A
     * negative take (giving back) always applies, clamped to capacity. A
     * take above capacity is granted only when the bucket is full, leaving
     * it negative. One atomic step across every process using the store. */
    llmsvc_code (*bucket)(store_conn *c, const char *key, double capacity, double rate_per_ms,
                          double take, double cap_level, int64_t now, double *wait_ms,
                          llmsvc_error **err);
    /* The cached response JSON under key (a hex digest), or *json = NULL when
     * absent or expired at `now`. */
    llmsvc_code (*cache_get)(store_conn *c, const char *key, int64_t now, char **json,
                             llmsvc_error **err);
    /* Stores (or replaces) key's response until expires_at; may drop expired entries. */
    llmsvc_code (*cache_put)(store_conn *c, const char *key, const char *json, int64_t expires_at,
                             llmsvc_error **err);
    /* Recorded spend in USD since `since` (created_at >= since) of the calls
     * of project_id (when not NULL) or else of organization_id. */
    llmsvc_code (*spend)(store_conn *c, const char *project_id, const char *organization_id,
                         int64_t since, double *usd, llmsvc_error **err);

    /* Sleeps until work may be there (a notification), timeout_ms passes, or
     * *stop (may be NULL) is set — noticed within STORE_STOP_CHECK_MS. */
    void (*wait_work)(store_conn *c, long timeout_ms, atomic_int *stop);
    /* Sleeps until job id may have ended (a notification) or timeout_ms passes. */
    void (*wait_job)(store_conn *c, const char *id, long timeout_ms);
} store_engine;

/* How soon a waiting wait_work notices its stop flag. */
#define STORE_STOP_CHECK_MS 100

extern const store_engine store_sqlite_engine;
extern const store_engine store_pg_engine; /* absent engines fail at connect */

struct llmsvc_store {
    const store_engine *engine;
    char *url;
    char *label; /* the URL without a password, for messages */
    pthread_mutex_t mu;
    store_conn **idle; /* pooled connections */
    size_t n_idle, cap_idle;
};

/* A connection from the pool (made when none is idle), and back. */
llmsvc_code store_acquire(llmsvc_store *st, store_conn **c, llmsvc_error **err);
void store_release(llmsvc_store *st, store_conn *c);
/* A connection that is not pooled (a worker's LISTEN connection). */
llmsvc_code store_connect(llmsvc_store *st, store_conn **c, llmsvc_error **err);

/* One token-bucket step on a stored level and time (a new bucket: capacity,
 * now), inside an engine's atomic step, so that both engines agree to the
 * bit: the wait, 0 when `take` was taken, INFINITY when it never could be
 * (no refill). Refill runs on the callers' `now`: machines sharing a store
 * must agree on the time for the bucket to be exact. */
double store_bucket_step(double *level, int64_t *updated_at, double capacity, double rate_per_ms,
                         double take, double cap_level, int64_t now);

void store_row_clear(job_row *r);
void store_rows_free(records_row *rows, size_t n);
int64_t store_now_ms(void);
/* "job_" + 24 random hex digits into out[32]. */
void store_new_job_id(char out[32]);
/* A call record from a finished call: failed when err is set; resp (may be
 * NULL, or hold only a route's attempts, or a broken stream's partial answer)
 * gives the answer, usage, cost and route. Strings borrowed; the four JSON
 * texts are malloc'd for the caller (each may be NULL). */
void store_make_record(call_record *rec, const llmsvc_request *req, const llmsvc_response *resp,
                       const llmsvc_error *err, char **request_json, char **response_json,
                       char **error_json, char **attempts_json);

#endif
