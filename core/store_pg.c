/* store_pg — the PostgreSQL job store: many workers on many machines.
 *
 * The same semantics as store_sqlite.c (see store.h), in PostgreSQL's terms:
 *  - the schema is migrated on connect in one transaction that first takes an
 *    advisory lock, so processes starting at once apply each version once;
 *  - a claim is one UPDATE of the row a `FOR UPDATE SKIP LOCKED` subquery
 *    picks, so concurrent claimers never wait on each other nor take one job
 *    twice;
 *  - a finish is one statement (a data-modifying WITH): the UPDATE only while
 *    the finisher owns the running job, the call record only when that UPDATE
 *    changed a row — one transaction either way;
 *  - new work is announced with NOTIFY llmsvc_jobs (a submit, a requeue, a
 *    release) and ended jobs with NOTIFY llmsvc_jobs_done (payload: the id),
 *    so idle workers and llmsvc_job_wait wake at once instead of polling.
 *    wait_work and wait_job LISTEN only while they wait;
 *  - a rate-limit bucket step is one transaction holding the bucket's row
 *    lock (SELECT ... FOR UPDATE), so takers on many connections and
 *    machines take from it one at a time; the response cache is an UNLOGGED
 *    table (a crash empties it, which a cache may).
 * Statements are prepared once per connection, when first used. libpq's
 * notices are dropped: the library prints nothing. */
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "store.h"

/* Numbered schema versions; a store at version N has had 1..N applied. */
static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE llmsvc_jobs ("
    " id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, project_id TEXT,"
    " organization_id TEXT, request TEXT NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,"
    " run_after BIGINT NOT NULL, lease_owner TEXT, lease_until BIGINT,"
    " created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT,"
    " result TEXT, error TEXT);"
    /* what a claim scans: only the jobs that may run, in the order it takes them */
    "CREATE INDEX llmsvc_jobs_runnable ON llmsvc_jobs (run_after, created_at)"
    " WHERE state IN ('pending', 'running');"
    "CREATE TABLE llmsvc_records ("
    " id BIGSERIAL PRIMARY KEY, job_id TEXT, attempt INTEGER,"
    " project_id TEXT, organization_id TEXT, provider TEXT, model TEXT,"
    " status TEXT NOT NULL, input_tokens BIGINT, output_tokens BIGINT,"
    " reasoning_tokens BIGINT, cost_usd DOUBLE PRECISION, latency_ms DOUBLE PRECISION,"
    " request TEXT, response TEXT, error TEXT, created_at BIGINT NOT NULL);"
    "CREATE INDEX llmsvc_records_time ON llmsvc_records (created_at);"
    "CREATE INDEX llmsvc_records_job ON llmsvc_records (job_id);",
    /* 2: routes and cache hits in the records; budgets (spend per project or
     * organization since a time: the indexes cover the sum); rate-limit
     * buckets and the response cache shared by every runtime on the store */
    "ALTER TABLE llmsvc_records ADD COLUMN route TEXT, ADD COLUMN arm TEXT,"
    " ADD COLUMN cached BOOLEAN NOT NULL DEFAULT false, ADD COLUMN route_attempts TEXT;"
    "CREATE INDEX llmsvc_records_project ON llmsvc_records (project_id, created_at)"
    " INCLUDE (cost_usd);"
    "CREATE INDEX llmsvc_records_org ON llmsvc_records (organization_id, created_at)"
    " INCLUDE (cost_usd);"
    "CREATE INDEX llmsvc_records_route ON llmsvc_records (route, arm) WHERE route IS NOT NULL;"
    "CREATE TABLE llmsvc_buckets ("
    " key TEXT PRIMARY KEY, level DOUBLE PRECISION NOT NULL, updated_at BIGINT NOT NULL);"
    "CREATE UNLOGGED TABLE llmsvc_cache ("
    " key TEXT PRIMARY KEY, response TEXT NOT NULL, expires_at BIGINT NOT NULL);"
    "CREATE INDEX llmsvc_cache_expiry ON llmsvc_cache (expires_at);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

/* pg_advisory_xact_lock key of the migrations: "llmsvc" as a number */
#define SCHEMA_LOCK "119212948551267"

#define CHANNEL_WORK "llmsvc_jobs"      /* a job may be claimable */
#define CHANNEL_DONE "llmsvc_jobs_done" /* a job ended; payload: its id */

#define JOB_COLS                                                                                   \
    "id, state, attempts, max_attempts, project_id, organization_id, idempotency_key,"             \
    " request, result, error, created_at, started_at, finished_at, run_after"

#define RECORD_COLS                                                                                \
    "job_id, attempt, project_id, organization_id, provider, model, status,"                       \
    " input_tokens, output_tokens, reasoning_tokens, cost_usd, latency_ms, request,"               \
    " response, error, created_at, route, arm, cached, route_attempts"

#define SUMS                                                                                       \
    " COUNT(*), COUNT(*) FILTER (WHERE status <> 'succeeded'), COUNT(*) FILTER (WHERE cached),"    \
    " COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),"                            \
    " COALESCE(SUM(reasoning_tokens), 0), COALESCE(SUM(cost_usd), 0),"                             \
    " COALESCE(SUM(latency_ms), 0)"

#define SUMS_WHERE                                                                                 \
    " FROM llmsvc_records WHERE ($1::text IS NULL OR project_id = $1::text)"                       \
    " AND created_at >= $2::bigint"

/* percentile_disc is the nearest-rank percentile (the value of rank
 * ceil(p * n)), which store_sqlite.c computes the same way */
#define PERCENTILE(p)                                                                              \
    " percentile_disc(" p ") WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status = 'succeeded')"

/* cache_put drops up to CACHE_PURGE_ROWS expired entries every
 * CACHE_PURGE_EVERY puts of a connection: more than it adds meanwhile, so
 * expired entries never pile up, and each purge stays one short statement. */
#define CACHE_PURGE_EVERY 32
#define CACHE_PURGE_ROWS "128"

enum {
    S_SUBMIT,
    S_BY_KEY,
    S_GET,
    S_CLAIM,
    S_RENEW,
    S_FINISH,
    S_RECORD,
    S_LOCK_STATE,
    S_CANCEL,
    S_RUNNABLE,
    S_ENDED,
    S_SUM_MODEL,
    S_SUM_PROJECT,
    S_SUM_VARIANT,
    S_BUCKET_INIT,
    S_BUCKET_LOCK,
    S_BUCKET_SET,
    S_CACHE_GET,
    S_CACHE_PUT,
    S_CACHE_PURGE,
    S_SPEND_PROJECT,
    S_SPEND_ORG,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    /* a row back (and the announcement) only when the job was created */
    [S_SUBMIT] = "WITH ins AS (INSERT INTO llmsvc_jobs (id, idempotency_key, project_id,"
                 " organization_id, request, state, attempts, max_attempts, run_after, created_at)"
                 " VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6::integer, $7::bigint, $7::bigint)"
                 " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id)"
                 " SELECT id, pg_notify('" CHANNEL_WORK "', '') FROM ins",
    [S_BY_KEY] = "SELECT id FROM llmsvc_jobs WHERE idempotency_key = $1",
    [S_GET] = "SELECT " JOB_COLS " FROM llmsvc_jobs WHERE id = $1",
    /* A running job's run_after is never later than its lease (it was due when
     * claimed), so "run_after <= now" holds for every candidate and lets the
     * partial index bound the scan; SKIP LOCKED passes over rows another
     * claimer is taking. */
    [S_CLAIM] = "UPDATE llmsvc_jobs SET state = 'running', lease_owner = $1,"
                " lease_until = $2::bigint + $3::bigint, attempts = attempts + 1,"
                " started_at = COALESCE(started_at, $2::bigint)"
                " WHERE id = (SELECT id FROM llmsvc_jobs"
                "  WHERE state IN ('pending', 'running') AND run_after <= $2::bigint"
                "   AND (state = 'pending' OR lease_until < $2::bigint)"
                "  ORDER BY run_after, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " RETURNING " JOB_COLS,
    [S_RENEW] = "UPDATE llmsvc_jobs SET lease_until = $3::bigint"
                " WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
    /* $3 kind: 0 succeeded, 1 failed, 2 requeue, 3 release; $8: write the
     * record $9..$28. One row back when the finish applied. */
    [S_FINISH] = "WITH u AS (UPDATE llmsvc_jobs SET"
                 " state = CASE $3::integer WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed'"
                 "  ELSE 'pending' END,"
                 " result = CASE $3::integer WHEN 0 THEN $4::text ELSE result END,"
                 " error = CASE $3::integer WHEN 3 THEN error ELSE $5::text END,"
                 " run_after = CASE $3::integer WHEN 2 THEN $6::bigint ELSE run_after END,"
                 " attempts = CASE $3::integer WHEN 3 THEN attempts - 1 ELSE attempts END,"
                 " finished_at = CASE WHEN $3::integer < 2 THEN $7::bigint ELSE NULL END,"
                 " lease_owner = NULL, lease_until = NULL"
                 " WHERE id = $1 AND lease_owner = $2 AND state = 'running'"
                 " RETURNING id, state),"
                 " r AS (INSERT INTO llmsvc_records (" RECORD_COLS ")"
                 " SELECT $9::text, $10::integer, $11::text, $12::text, $13::text, $14::text,"
                 " $15::text, $16::bigint, $17::bigint, $18::bigint, $19::double precision,"
                 " $20::double precision, $21::text, $22::text, $23::text, $24::bigint,"
                 " $25::text, $26::text, $27::boolean, $28::text"
                 " FROM u WHERE $8::boolean)"
                 " SELECT id, CASE state WHEN 'pending' THEN pg_notify('" CHANNEL_WORK "', '')"
                 " ELSE pg_notify('" CHANNEL_DONE "', id) END FROM u",
    [S_RECORD] = "INSERT INTO llmsvc_records (" RECORD_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
                 " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    [S_LOCK_STATE] = "SELECT state FROM llmsvc_jobs WHERE id = $1 FOR UPDATE",
    [S_CANCEL] = "UPDATE llmsvc_jobs SET state = 'cancelled', finished_at = $2::bigint,"
                 " lease_owner = NULL, lease_until = NULL"
                 " WHERE id = $1 AND state IN ('pending', 'running')"
                 " RETURNING pg_notify('" CHANNEL_DONE "', id)",
    [S_RUNNABLE] = "SELECT EXISTS (SELECT 1 FROM llmsvc_jobs"
                   " WHERE state IN ('pending', 'running') AND run_after <= $1::bigint"
                   "  AND (state = 'pending' OR lease_until < $1::bigint))",
    [S_ENDED] = "SELECT state NOT IN ('pending', 'running') FROM llmsvc_jobs WHERE id = $1",
    /* ordered as SQLite orders them: bytewise, NULL first */
    [S_SUM_MODEL] = "SELECT provider, model," SUMS SUMS_WHERE " GROUP BY provider, model"
                    " ORDER BY provider COLLATE \"C\" NULLS FIRST, model COLLATE \"C\" NULLS FIRST",
    [S_SUM_PROJECT] = "SELECT COALESCE(project_id, ''), NULL::text," SUMS SUMS_WHERE
                      " GROUP BY 1 ORDER BY COALESCE(project_id, '') COLLATE \"C\"",
    [S_SUM_VARIANT] = "SELECT route, arm," SUMS "," PERCENTILE("0.5") "," PERCENTILE("0.95")
                          SUMS_WHERE " AND route IS NOT NULL GROUP BY route, arm"
                      " ORDER BY route COLLATE \"C\", arm COLLATE \"C\" NULLS FIRST",
    /* a bucket seen first is full; the row exists before it is locked */
    [S_BUCKET_INIT] = "INSERT INTO llmsvc_buckets (key, level, updated_at)"
                      " VALUES ($1, $2::double precision, $3::bigint) ON CONFLICT (key) DO NOTHING",
    [S_BUCKET_LOCK] = "SELECT level, updated_at FROM llmsvc_buckets WHERE key = $1 FOR UPDATE",
    [S_BUCKET_SET] = "UPDATE llmsvc_buckets SET level = $2::double precision,"
                     " updated_at = $3::bigint WHERE key = $1",
    [S_CACHE_GET] = "SELECT response FROM llmsvc_cache WHERE key = $1 AND expires_at > $2::bigint",
    [S_CACHE_PUT] = "INSERT INTO llmsvc_cache (key, response, expires_at)"
                    " VALUES ($1, $2, $3::bigint) ON CONFLICT (key) DO UPDATE"
                    " SET response = EXCLUDED.response, expires_at = EXCLUDED.expires_at",
    /* the oldest first, through llmsvc_cache_expiry; rows another session is
     * replacing are skipped, and one replaced meanwhile is not deleted */
    [S_CACHE_PURGE] = "DELETE FROM llmsvc_cache WHERE expires_at <= $1::bigint AND key IN"
                      " (SELECT key FROM llmsvc_cache WHERE expires_at <= $1::bigint"
                      "  ORDER BY expires_at LIMIT " CACHE_PURGE_ROWS " FOR UPDATE SKIP LOCKED)",
    /* each a range of llmsvc_records_project or _org, read from the index alone */
    [S_SPEND_PROJECT] = "SELECT COALESCE(SUM(cost_usd), 0) FROM llmsvc_records"
                        " WHERE project_id = $1 AND created_at >= $2::bigint",
    [S_SPEND_ORG] = "SELECT COALESCE(SUM(cost_usd), 0) FROM llmsvc_records"
                    " WHERE organization_id = $1 AND created_at >= $2::bigint",
};

struct store_conn {
    PGconn *pg;
    char *label;                     /* the URL without a password */
    unsigned char prepared[S_COUNT]; /* statements prepared on this session */
    unsigned cache_puts;             /* since the last purge of expired cache entries */
};

/* ---- errors ---- */

/* The URL with the password of user:password@, and the value of every
 * query parameter named like *password (password, sslpassword), replaced by
 * ***, for messages. */
static char *pg_label(const char *url)
{
    /* each value replaced grows by 3 bytes at most, and takes 10 or more */
    size_t len = strlen(url);
    char *s = malloc(2 * len + 8);
    if (!s)
        return NULL;
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t host_end = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + host_end; p++) /* the last '@' ends the user part */
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) {
        size_t o = (size_t)(colon + 1 - url);
        memcpy(s, url, o);
        memcpy(s + o, "***", 3);
        memcpy(s + o + 3, at, len - (size_t)(at - url) + 1);
    } else {
        memcpy(s, url, len + 1);
    }
    for (char *p = strchr(s + (auth - url), '?'); p; p = strchr(p, '&')) {
        char *name = p + 1, *eq = name + strcspn(name, "=&#");
        if (*eq != '=' || eq - name < 8 || strncmp(eq - 8, "password", 8)) {
            p = name;
            continue;
        }
        char *v = eq + 1, *end = v + strcspn(v, "&#");
        memmove(v + 3, end, strlen(end) + 1);
        memcpy(v, "***", 3);
        p = v + 3;
    }
    return s;
}

/* Whether an error clears up by itself: the server went away, is starting or
 * stopping, or the transaction lost a race. */
static int transient(const store_conn *c, const PGresult *r)
{
    if (!r || PQstatus(c->pg) == CONNECTION_BAD)
        return 1;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state)
        return 0; /* libpq's own complaint, the server still there */
    return !strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strcmp(state, "40001") ||
           !strcmp(state, "40P01") || !strcmp(state, "53300");
}

/* libpq's message on one line, without "ERROR:" and trailing blanks. */
static void one_line(char *out, size_t size, const store_conn *c, const PGresult *r)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!m)
        m = r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(c->pg);
    if (!m || !*m)
        m = "unknown libpq error";
    size_t o = 0;
    int blank = 0;
    for (const char *p = m; *p && o + 1 < size; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            blank = o > 0;
            continue;
        }
        if (blank && o + 2 < size)
            out[o++] = ' ';
        blank = 0;
        out[o++] = *p;
    }
    out[o] = '\0';
    if (state && strcmp(state, "00000"))
        snprintf(out + o, size - o, " (SQLSTATE %s)", state);
}

/* A STORE error "LABEL: what: libpq's message"; clears r. */
static llmsvc_code db_error(store_conn *c, PGresult *r, const char *what, llmsvc_error **err)
{
    char msg[1024];
    one_line(msg, sizeof msg, c, r);
    llmsvc_error *e = err_new(LLMSVC_E_STORE, "%s: %s: %s", c->label, what, msg);
    e->retryable = transient(c, r);
    PQclear(r);
    return err_give(err, e);
}

static int ok(const PGresult *r)
{
    ExecStatusType s = PQresultStatus(r); /* PGRES_FATAL_ERROR for NULL */
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Runs a statement without parameters; 1 when it worked. */
static int exec_ok(store_conn *c, const char *q)
{
    PGresult *r = PQexec(c->pg, q);
    int good = ok(r);
    PQclear(r);
    return good;
}

/* Ends a transaction left open by a failure; a lost connection just stays lost. */
static void rollback(store_conn *c)
{
    if (PQtransactionStatus(c->pg) == PQTRANS_INTRANS ||
        PQtransactionStatus(c->pg) == PQTRANS_INERROR)
        exec_ok(c, "ROLLBACK");
}

/* ---- parameters and statements ---- */

#define MAX_PARAMS 28

typedef struct params {
    int n;
    const char *v[MAX_PARAMS];
    char num[MAX_PARAMS][32];
} params;

static void p_text(params *p, const char *s)
{
    p->v[p->n++] = s;
}

static void p_int(params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof p->num[0], "%lld", (long long)x);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

/* A count of tokens; negative means unknown (NULL). */
static void p_count(params *p, int64_t x)
{
    if (x >= 0)
        p_int(p, x);
    else
        p_text(p, NULL);
}

static void p_double(params *p, double x)
{
    snprintf(p->num[p->n], sizeof p->num[0], "%.17g", x);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

/* Executes statement s, preparing it on first use. The result is the
 * caller's (PQclear), NULL when libpq ran out of memory. */
static PGresult *run(store_conn *c, int s, const params *p)
{
    char name[24];
    snprintf(name, sizeof name, "llmsvc_%d", s);
    if (!c->prepared[s]) {
        PGresult *r = PQprepare(c->pg, name, sql[s], 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return r;
        PQclear(r);
        c->prepared[s] = 1;
    }
    return PQexecPrepared(c->pg, name, p->n, p->v, NULL, NULL, 0);
}

static char *col_text(const PGresult *r, int row, int col, int *oom)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    char *s = strdup(PQgetvalue(r, row, col));
    if (!s)
        *oom = 1;
    return s;
}

static int64_t col_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double col_double(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

/* Row 0 of a JOB_COLS result; -1 when out of memory (out cleared). */
static int read_row(const PGresult *r, job_row *out)
{
    int oom = 0;
    out->id = col_text(r, 0, 0, &oom);
    out->state = col_text(r, 0, 1, &oom);
    out->attempts = (int)col_int(r, 0, 2);
    out->max_attempts = (int)col_int(r, 0, 3);
    out->project_id = col_text(r, 0, 4, &oom);
    out->organization_id = col_text(r, 0, 5, &oom);
    out->idempotency_key = col_text(r, 0, 6, &oom);
    out->request = col_text(r, 0, 7, &oom);
    out->result = col_text(r, 0, 8, &oom);
    out->error = col_text(r, 0, 9, &oom);
    out->created_at = col_int(r, 0, 10);
    out->started_at = col_int(r, 0, 11);
    out->finished_at = col_int(r, 0, 12);
    out->run_after = col_int(r, 0, 13);
    if (oom || !out->id || !out->state) {
        store_row_clear(out);
        return -1;
    }
    return 0;
}

/* ---- notifications ---- */

/* Takes every notification libpq has read; 1 when one is what the caller
 * waits for: new work (payload NULL) or the end of the job named payload. */
static int take_notifies(store_conn *c, const char *payload)
{
    int hit = 0;
    PGnotify *n;
    while ((n = PQnotifies(c->pg))) {
        if (payload ? !strcmp(n->relname, CHANNEL_DONE) && !strcmp(n->extra, payload)
                    : !strcmp(n->relname, CHANNEL_WORK))
            hit = 1;
        PQfreemem(n);
    }
    return hit;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on the socket until a wanted notification (as take_notifies), the
 * deadline or *stop (may be NULL). 1 notified, 0 timed out or stopped, -1 the
 * connection failed. */
static int wait_notify(store_conn *c, const char *payload, int64_t until, atomic_int *stop)
{
    for (;;) {
        if (!PQconsumeInput(c->pg))
            return -1;
        if (take_notifies(c, payload))
            return 1;
        int64_t left = until - mono_ms();
        if (left <= 0 || (stop && atomic_load(stop)))
            return 0;
        if (stop && left > STORE_STOP_CHECK_MS)
            left = STORE_STOP_CHECK_MS;
        struct pollfd p = {PQsocket(c->pg), POLLIN, 0};
        if (p.fd < 0)
            return -1;
        if (poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left) < 0 && errno != EINTR)
            return -1;
    }
}

/* ---- connecting and migrating ---- */

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs ("relation exists, skipping") are not ours to print */
}

static llmsvc_code migrate(store_conn *c, llmsvc_error **err)
{
    /* the lock serialises processes starting at once: the second finds the work done */
    PGresult *r = PQexec(c->pg, "BEGIN; SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")");
    if (!ok(r))
        goto fail;
    PQclear(r);
    r = PQexec(c->pg, "SELECT to_regclass('llmsvc_schema') IS NOT NULL");
    if (!ok(r) || PQntuples(r) != 1)
        goto fail;
    int exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    int version = 0;
    if (exists) {
        r = PQexec(c->pg, "SELECT COALESCE(MAX(version), 0) FROM llmsvc_schema");
        if (!ok(r) || PQntuples(r) != 1)
            goto fail;
        version = (int)col_int(r, 0, 0);
        PQclear(r);
    } else {
        r = PQexec(c->pg, "CREATE TABLE llmsvc_schema (version INTEGER NOT NULL)");
        if (!ok(r))
            goto fail;
        PQclear(r);
    }
    if (version > SCHEMA_VERSION) {
        rollback(c);
        return err_set(err, LLMSVC_E_STORE,
                       "%s has schema version %d, newer than this llmsvc's %d; upgrade llmsvc",
                       c->label, version, SCHEMA_VERSION);
    }
    for (int v = version + 1; v <= SCHEMA_VERSION; v++) {
        r = PQexec(c->pg, migrations[v - 1]);
        if (!ok(r))
            goto fail;
        PQclear(r);
        char ins[96];
        snprintf(ins, sizeof ins, "INSERT INTO llmsvc_schema (version) VALUES (%d)", v);
        r = PQexec(c->pg, ins);
        if (!ok(r))
            goto fail;
        PQclear(r);
    }
    r = PQexec(c->pg, "COMMIT");
    if (!ok(r))
        goto fail;
    PQclear(r);
    return LLMSVC_OK;
fail: {
    llmsvc_code code = db_error(c, r, "cannot create or upgrade the schema", err);
    rollback(c);
    return code;
}
}

static void pg_disconnect(store_conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    free(c->label);
    free(c);
}

static llmsvc_code pg_connect(const char *url, store_conn **out, llmsvc_error **err)
{
    store_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->label = pg_label(url))) {
        free(c);
        return err_give(err, err_nomem());
    }
    /* the URL comes last, so whatever it says wins over these defaults */
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *const values[] = {"10", "llmsvc", url, NULL};
    c->pg = PQconnectdbParams(keys, values, 1);
    if (!c->pg) {
        pg_disconnect(c);
        return err_give(err, err_nomem());
    }
    llmsvc_code code;
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[1024];
        one_line(msg, sizeof msg, c, NULL);
        llmsvc_error *e = err_new(LLMSVC_E_STORE, "%s: cannot connect: %s", c->label, msg);
        /* worth retrying when the server is down or not ready; not when it
         * answered and refused us (no such database, wrong password). The
         * ping gives up sooner than the connect did. */
        const char *const pkeys[] = {"dbname", "connect_timeout", NULL};
        const char *const pvalues[] = {url, "2", NULL};
        PGPing ping = PQpingParams(pkeys, pvalues, 1);
        e->retryable = ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT;
        pg_disconnect(c);
        return err_give(err, e);
    }
    PQsetNoticeProcessor(c->pg, quiet, NULL);
    if (PQsetClientEncoding(c->pg, "UTF8") != 0) {
        code = db_error(c, NULL, "cannot use UTF-8", err);
        pg_disconnect(c);
        return code;
    }
    if ((code = migrate(c, err)) != LLMSVC_OK) {
        pg_disconnect(c);
        return code;
    }
    *out = c;
    return LLMSVC_OK;
}

/* ---- operations ---- */

static llmsvc_code pg_submit(store_conn *c, const job_new *j, char **id, int *created,
                             llmsvc_error **err)
{
    params p = {0};
    p_text(&p, j->id);
    p_text(&p, j->idempotency_key);
    p_text(&p, j->project_id);
    p_text(&p, j->organization_id);
    p_text(&p, j->request);
    p_int(&p, j->max_attempts);
    p_int(&p, j->now);
    PGresult *r = run(c, S_SUBMIT, &p);
    if (!ok(r))
        return db_error(c, r, "cannot add the job", err);
    *created = PQntuples(r) == 1;
    PQclear(r);
    if (*created) {
        *id = strdup(j->id);
        return *id ? LLMSVC_OK : err_give(err, err_nomem());
    }
    p.n = 0;
    p_text(&p, j->idempotency_key);
    r = run(c, S_BY_KEY, &p);
    if (!ok(r))
        return db_error(c, r, "cannot find the job of that idempotency key", err);
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_set(err, LLMSVC_E_STORE, "%s: cannot find the job of idempotency key '%s'",
                       c->label, j->idempotency_key ? j->idempotency_key : "");
    }
    int oom = 0;
    *id = col_text(r, 0, 0, &oom);
    PQclear(r);
    return *id ? LLMSVC_OK : err_give(err, err_nomem());
}

static llmsvc_code pg_get(store_conn *c, const char *id, job_row *out, llmsvc_error **err)
{
    params p = {0};
    p_text(&p, id);
    PGresult *r = run(c, S_GET, &p);
    if (!ok(r))
        return db_error(c, r, "cannot read the job", err);
    int found = PQntuples(r) == 1;
    int bad = found && read_row(r, out) < 0;
    PQclear(r);
    if (!found)
        return err_set(err, LLMSVC_E_NOT_FOUND, "no job '%s' in %s", id, c->label);
    return bad ? err_give(err, err_nomem()) : LLMSVC_OK;
}

static llmsvc_code pg_claim(store_conn *c, const char *owner, int64_t now, long lease_ms,
                            job_row *out, int *got, llmsvc_error **err)
{
    *got = 0;
    params p = {0};
    p_text(&p, owner);
    p_int(&p, now);
    p_int(&p, lease_ms);
    PGresult *r = run(c, S_CLAIM, &p);
    if (!ok(r))
        return db_error(c, r, "cannot claim a job", err);
    if (PQntuples(r) == 1) {
        if (read_row(r, out) < 0) {
            PQclear(r);
            /* the claim is made; its lease passes and the job runs again */
            return err_give(err, err_nomem());
        }
        *got = 1;
    }
    PQclear(r);
    return LLMSVC_OK;
}

static llmsvc_code pg_renew(store_conn *c, const char *id, const char *owner, int64_t until,
                            int *owned, llmsvc_error **err)
{
    params p = {0};
    p_text(&p, id);
    p_text(&p, owner);
    p_int(&p, until);
    PGresult *r = run(c, S_RENEW, &p);
    if (!ok(r))
        return db_error(c, r, "cannot renew a lease", err);
    *owned = !strcmp(PQcmdTuples(r), "1");
    PQclear(r);
    return LLMSVC_OK;
}

static void p_record(params *p, const call_record *rec)
{
    p_text(p, rec->job_id);
    p_int(p, rec->attempt);
    p_text(p, rec->project_id);
    p_text(p, rec->organization_id);
    p_text(p, rec->provider);
    p_text(p, rec->model);
    p_text(p, rec->status);
    p_count(p, rec->input_tokens);
    p_count(p, rec->output_tokens);
    p_count(p, rec->reasoning_tokens);
    if (rec->cost_usd >= 0)
        p_double(p, rec->cost_usd);
    else
        p_text(p, NULL);
    p_double(p, rec->latency_ms);
    p_text(p, rec->request);
    p_text(p, rec->response);
    p_text(p, rec->error);
    p_int(p, rec->created_at);
    p_text(p, rec->route);
    p_text(p, rec->arm);
    p_text(p, rec->cached ? "t" : "f");
    p_text(p, rec->route_attempts);
}

static llmsvc_code pg_finish(store_conn *c, const job_finish *f, int *applied, llmsvc_error **err)
{
    *applied = 0;
    params p = {0};
    p_text(&p, f->id);
    p_text(&p, f->owner);
    p_int(&p, (int)f->kind);
    p_text(&p, f->result);
    p_text(&p, f->error);
    p_int(&p, f->run_after);
    p_int(&p, f->now);
    p_text(&p, f->record ? "t" : "f");
    if (f->record) {
        p_record(&p, f->record);
    } else {
        while (p.n < MAX_PARAMS)
            p_text(&p, NULL);
    }
    PGresult *r = run(c, S_FINISH, &p);
    if (!ok(r))
        return db_error(c, r, "cannot finish a job", err);
    *applied = PQntuples(r) == 1;
    PQclear(r);
    return LLMSVC_OK;
}

static llmsvc_code pg_cancel(store_conn *c, const char *id, int64_t now, char **state,
                             llmsvc_error **err)
{
    *state = NULL;
    PGresult *r = PQexec(c->pg, "BEGIN");
    if (!ok(r))
        return db_error(c, r, "cannot cancel the job", err);
    PQclear(r);
    params p = {0};
    p_text(&p, id);
    r = run(c, S_LOCK_STATE, &p);
    if (!ok(r))
        goto fail;
    if (PQntuples(r) != 1) {
        PQclear(r);
        rollback(c);
        return err_set(err, LLMSVC_E_NOT_FOUND, "no job '%s' in %s", id, c->label);
    }
    int oom = 0;
    *state = col_text(r, 0, 0, &oom);
    PQclear(r);
    if (!*state) {
        rollback(c);
        return err_give(err, err_nomem());
    }
    p_int(&p, now);
    r = run(c, S_CANCEL, &p);
    if (!ok(r))
        goto fail;
    PQclear(r);
    r = PQexec(c->pg, "COMMIT");
    if (!ok(r))
        goto fail;
    PQclear(r);
    return LLMSVC_OK;
fail: {
    llmsvc_code code = db_error(c, r, "cannot cancel the job", err);
    rollback(c);
    free(*state);
    *state = NULL;
    return code;
}
}

static llmsvc_code pg_record(store_conn *c, const call_record *rec, llmsvc_error **err)
{
    params p = {0};
    p_record(&p, rec);
    PGresult *r = run(c, S_RECORD, &p);
    if (!ok(r))
        return db_error(c, r, "cannot write a call record", err);
    PQclear(r);
    return LLMSVC_OK;
}

static llmsvc_code pg_summary(store_conn *c, const records_query *q, records_row **rows, size_t *n,
                              llmsvc_error **err)
{
    params p = {0};
    p_text(&p, q->project_id);
    p_int(&p, q->since);
    int s = q->group == GROUP_PROJECT   ? S_SUM_PROJECT
            : q->group == GROUP_VARIANT ? S_SUM_VARIANT
                                        : S_SUM_MODEL;
    PGresult *r = run(c, s, &p);
    if (!ok(r))
        return db_error(c, r, "cannot sum the records", err);
    int count = PQntuples(r);
    records_row *v = count ? calloc((size_t)count, sizeof *v) : NULL;
    if (count && !v) {
        PQclear(r);
        return err_give(err, err_nomem());
    }
    int oom = 0;
    for (int i = 0; i < count; i++) {
        records_row *row = &v[i];
        row->key1 = col_text(r, i, 0, &oom);
        row->key2 = col_text(r, i, 1, &oom);
        row->calls = col_int(r, i, 2);
        row->failures = col_int(r, i, 3);
        row->cache_hits = col_int(r, i, 4);
        row->input_tokens = col_int(r, i, 5);
        row->output_tokens = col_int(r, i, 6);
        row->reasoning_tokens = col_int(r, i, 7);
        row->cost_usd = col_double(r, i, 8);
        row->latency_ms_sum = col_double(r, i, 9);
        if (s == S_SUM_VARIANT) {
            row->latency_p50 = col_double(r, i, 10); /* NULL (no success): 0 */
            row->latency_p95 = col_double(r, i, 11);
        }
    }
    PQclear(r);
    if (oom) {
        store_rows_free(v, (size_t)count);
        return err_give(err, err_nomem());
    }
    *rows = v;
    *n = (size_t)count;
    return LLMSVC_OK;
}

/* ---- shared state of runtimes ---- */

static llmsvc_code pg_bucket(store_conn *c, const char *key, double capacity, double rate_per_ms,
                             double take, double cap_level, int64_t now, double *wait_ms,
                             llmsvc_error **err)
{
    /* The row lock is the atomic step: a second taker's FOR UPDATE waits
     * until this transaction ends, then reads what it wrote (READ COMMITTED
     * reads the newest version of a row it locks). */
    PGresult *r = PQexec(c->pg, "BEGIN");
    if (!ok(r))
        goto fail;
    PQclear(r);
    params p = {0};
    p_text(&p, key);
    r = run(c, S_BUCKET_LOCK, &p);
    if (ok(r) && PQntuples(r) == 0) {
        /* first seen: create it full (a concurrent creator's row wins), then lock */
        PQclear(r);
        p_double(&p, capacity);
        p_int(&p, now);
        r = run(c, S_BUCKET_INIT, &p);
        if (!ok(r))
            goto fail;
        PQclear(r);
        p.n = 1;
        r = run(c, S_BUCKET_LOCK, &p);
    }
    if (!ok(r))
        goto fail;
    if (PQntuples(r) != 1) { /* buckets are never deleted: not while we hold them */
        PQclear(r);
        rollback(c);
        return err_set(err, LLMSVC_E_STORE, "%s: rate-limit bucket '%s' vanished", c->label, key);
    }
    double level = col_double(r, 0, 0);
    int64_t at = col_int(r, 0, 1);
    PQclear(r);
    double wait = store_bucket_step(&level, &at, capacity, rate_per_ms, take, cap_level, now);
    p.n = 1;
    p_double(&p, level);
    p_int(&p, at);
    r = run(c, S_BUCKET_SET, &p);
    if (!ok(r))
        goto fail;
    PQclear(r);
    r = PQexec(c->pg, "COMMIT");
    if (!ok(r))
        goto fail;
    PQclear(r);
    *wait_ms = wait;
    return LLMSVC_OK;
fail: {
    llmsvc_code code = db_error(c, r, "cannot use a rate-limit bucket", err);
    rollback(c);
    return code;
}
}

static llmsvc_code pg_cache_get(store_conn *c, const char *key, int64_t now, char **json,
                                llmsvc_error **err)
{
    params p = {0};
    p_text(&p, key);
    p_int(&p, now);
    PGresult *r = run(c, S_CACHE_GET, &p);
    if (!ok(r))
        return db_error(c, r, "cannot read the response cache", err);
    int oom = 0;
    char *v = PQntuples(r) == 1 ? col_text(r, 0, 0, &oom) : NULL;
    PQclear(r);
    if (oom)
        return err_give(err, err_nomem());
    *json = v;
    return LLMSVC_OK;
}

static llmsvc_code pg_cache_put(store_conn *c, const char *key, const char *json,
                                int64_t expires_at, llmsvc_error **err)
{
    params p = {0};
    p_text(&p, key);
    p_text(&p, json);
    p_int(&p, expires_at);
    PGresult *r = run(c, S_CACHE_PUT, &p);
    if (!ok(r))
        return db_error(c, r, "cannot write to the response cache", err);
    PQclear(r);
    if (++c->cache_puts >= CACHE_PURGE_EVERY) {
        c->cache_puts = 0;
        /* best effort: the entry is stored, and what a failed purge left is
         * the next one's work */
        p.n = 0;
        p_int(&p, store_now_ms());
        PQclear(run(c, S_CACHE_PURGE, &p));
    }
    return LLMSVC_OK;
}

static llmsvc_code pg_spend(store_conn *c, const char *project_id, const char *organization_id,
                            int64_t since, double *usd, llmsvc_error **err)
{
    if (!project_id && !organization_id)
        return err_set(err, LLMSVC_E_INVALID_ARG, "spend of no project and no organization");
    params p = {0};
    p_text(&p, project_id ? project_id : organization_id);
    p_int(&p, since);
    PGresult *r = run(c, project_id ? S_SPEND_PROJECT : S_SPEND_ORG, &p);
    if (!ok(r) || PQntuples(r) != 1)
        return db_error(c, r, "cannot sum the spend", err);
    *usd = col_double(r, 0, 0);
    PQclear(r);
    return LLMSVC_OK;
}

/* Waits for an announcement on channel — of the end of the job named
 * payload, or of any work when payload is NULL — until the deadline.
 * Listens only while waiting: every announcement in the database wakes every
 * listening session's server process, and a pooled connection left listening
 * between uses would let announcements pile up unread. The statement check
 * (one boolean) runs once listening: true returns at once, so what happened
 * just before the LISTEN is not missed. */
static void listen_wait(store_conn *c, const char *channel, int check, const params *p,
                        const char *payload, int64_t until, atomic_int *stop)
{
    char q[64];
    snprintf(q, sizeof q, "LISTEN %s", channel);
    if (!exec_ok(c, q))
        return;
    PGresult *r = run(c, check, p);
    int now = !ok(r) || PQntuples(r) != 1 || PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!now)
        wait_notify(c, payload, until, stop);
    snprintf(q, sizeof q, "UNLISTEN %s", channel);
    if (exec_ok(c, q)) {
        PQconsumeInput(c->pg);
        take_notifies(c, NULL); /* what came meanwhile: the caller looks again anyway */
    }
}

static void pg_wait_work(store_conn *c, long timeout_ms, atomic_int *stop)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return; /* the caller's next statement reports it */
    int64_t until = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    params p = {0};
    p_int(&p, store_now_ms());
    listen_wait(c, CHANNEL_WORK, S_RUNNABLE, &p, NULL, until, stop);
}

static void pg_wait_job(store_conn *c, const char *id, long timeout_ms)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return;
    int64_t until = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    params p = {0};
    p_text(&p, id);
    listen_wait(c, CHANNEL_DONE, S_ENDED, &p, id, until, NULL);
}

const store_engine store_pg_engine = {
    .name = "postgres",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .submit = pg_submit,
    .get = pg_get,
    .claim = pg_claim,
    .renew = pg_renew,
    .finish = pg_finish,
    .cancel = pg_cancel,
    .record = pg_record,
    .summary = pg_summary,
    .bucket = pg_bucket,
    .cache_get = pg_cache_get,
    .cache_put = pg_cache_put,
    .spend = pg_spend,
    .wait_work = pg_wait_work,
    .wait_job = pg_wait_job,
};
