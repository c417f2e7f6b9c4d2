/* store_sqlite — the embedded job store: one SQLite file in WAL mode, safe for
 * several worker processes on one machine (SQLite serialises writers; every
 * claim and finish is one short write transaction). Idle workers poll
 * `PRAGMA data_version`, which changes when another connection commits, so
 * they wake within milliseconds of a submit without hammering the file.
 *
 * The shared state of runtimes (store.h: bucket, cache_get, cache_put, spend)
 * lives here too: a rate-limit bucket step is one BEGIN IMMEDIATE
 * transaction, so processes sharing the file take from a bucket one at a
 * time. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    " run_after INTEGER NOT NULL, lease_owner TEXT, lease_until INTEGER,"
    " created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,"
    " result TEXT, error TEXT);"
    "CREATE INDEX llmsvc_jobs_runnable ON llmsvc_jobs(state, run_after);"
    "CREATE TABLE llmsvc_records ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT, attempt INTEGER,"
    " project_id TEXT, organization_id TEXT, provider TEXT, model TEXT,"
    " status TEXT NOT NULL, input_tokens INTEGER, output_tokens INTEGER,"
    " reasoning_tokens INTEGER, cost_usd REAL, latency_ms REAL, request TEXT,"
    " response TEXT, error TEXT, created_at INTEGER NOT NULL);"
    "CREATE INDEX llmsvc_records_time ON llmsvc_records(created_at);"
    "CREATE INDEX llmsvc_records_job ON llmsvc_records(job_id);",
    /* 2: routes and cache hits in the records; budgets (spend per project or
     * organization since a time: the indexes cover the sum); rate-limit
     * buckets and the response cache shared by every runtime on the store */
    "ALTER TABLE llmsvc_records ADD COLUMN route TEXT;"
    "ALTER TABLE llmsvc_records ADD COLUMN arm TEXT;"
    "ALTER TABLE llmsvc_records ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE llmsvc_records ADD COLUMN route_attempts TEXT;"
    "CREATE INDEX llmsvc_records_project ON llmsvc_records(project_id, created_at, cost_usd);"
    "CREATE INDEX llmsvc_records_org ON llmsvc_records(organization_id, created_at, cost_usd);"
    "CREATE INDEX llmsvc_records_route ON llmsvc_records(route, arm) WHERE route IS NOT NULL;"
    "CREATE TABLE llmsvc_buckets ("
    " key TEXT PRIMARY KEY, level REAL NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE llmsvc_cache ("
    " key TEXT PRIMARY KEY, response TEXT NOT NULL, expires_at INTEGER NOT NULL);"
    "CREATE INDEX llmsvc_cache_expiry ON llmsvc_cache(expires_at);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

#define JOB_COLS                                                                      \
    "id, state, attempts, max_attempts, project_id, organization_id, idempotency_key," \
    " request, result, error, created_at, started_at, finished_at, run_after"

enum {
    S_SUBMIT,
    S_BY_KEY,
    S_GET,
    S_CLAIM,
    S_RENEW,
    S_FINISH,
    S_RECORD,
    S_STATE,
    S_CANCEL,
    S_VERSION,
    S_BUCKET_GET,
    S_BUCKET_SET,
    S_CACHE_GET,
    S_CACHE_PUT,
    S_CACHE_PURGE,
    S_SPEND_PROJECT,
    S_SPEND_ORG,
    S_COUNT
};

/* cache_put drops up to CACHE_PURGE_ROWS expired entries every
 * CACHE_PURGE_EVERY puts of a connection: more than it adds meanwhile, so
 * expired entries never pile up, and each purge stays one short statement. */
#define CACHE_PURGE_EVERY 32
#define CACHE_PURGE_ROWS "128"

static const char *const sql[S_COUNT] = {
    [S_SUBMIT] = "INSERT INTO llmsvc_jobs (id, idempotency_key, project_id, organization_id,"
                 " request, state, attempts, max_attempts, run_after, created_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?7, ?7)"
                 " ON CONFLICT (idempotency_key) DO NOTHING",
    [S_BY_KEY] = "SELECT id FROM llmsvc_jobs WHERE idempotency_key = ?1",
    [S_GET] = "SELECT " JOB_COLS " FROM llmsvc_jobs WHERE id = ?1",
    [S_CLAIM] = "UPDATE llmsvc_jobs SET state = 'running', lease_owner = ?1,"
                " lease_until = ?2 + ?3, attempts = attempts + 1,"
                " started_at = COALESCE(started_at, ?2)"
                /* two probes, each one index lookup: an OR of both, ordered,
                 * reads and sorts every pending job on every claim */
                " WHERE id = COALESCE("
                "  (SELECT id FROM llmsvc_jobs"
                "   WHERE state = 'running' AND lease_until < ?2 LIMIT 1),"
                "  (SELECT id FROM llmsvc_jobs"
                "   WHERE state = 'pending' AND run_after <= ?2 ORDER BY run_after LIMIT 1))"
                " RETURNING " JOB_COLS,
    [S_RENEW] = "UPDATE llmsvc_jobs SET lease_until = ?3"
                " WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'",
    /* ?3 kind: 0 succeeded, 1 failed, 2 requeue, 3 release */
    [S_FINISH] = "UPDATE llmsvc_jobs SET"
                 " state = CASE ?3 WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed' ELSE 'pending' END,"
                 " result = CASE ?3 WHEN 0 THEN ?4 ELSE result END,"
                 " error = CASE ?3 WHEN 3 THEN error ELSE ?5 END,"
                 " run_after = CASE ?3 WHEN 2 THEN ?6 ELSE run_after END,"
                 " attempts = CASE ?3 WHEN 3 THEN attempts - 1 ELSE attempts END,"
                 " finished_at = CASE WHEN ?3 < 2 THEN ?7 ELSE NULL END,"
                 " lease_owner = NULL, lease_until = NULL"
                 " WHERE id = ?1 AND lease_owner = ?2 AND state = 'running'",
    [S_RECORD] = "INSERT INTO llmsvc_records (job_id, attempt, project_id, organization_id,"
                 " provider, model, status, input_tokens, output_tokens, reasoning_tokens,"
                 " cost_usd, latency_ms, request, response, error, created_at, route, arm,"
                 " cached, route_attempts)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                 " ?17, ?18, ?19, ?20)",
    [S_STATE] = "SELECT state FROM llmsvc_jobs WHERE id = ?1",
    [S_CANCEL] = "UPDATE llmsvc_jobs SET state = 'cancelled', finished_at = ?2,"
                 " lease_owner = NULL, lease_until = NULL"
                 " WHERE id = ?1 AND state IN ('pending', 'running')",
    [S_VERSION] = "PRAGMA data_version",
    [S_BUCKET_GET] = "SELECT level, updated_at FROM llmsvc_buckets WHERE key = ?1",
    [S_BUCKET_SET] = "INSERT INTO llmsvc_buckets (key, level, updated_at) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (key) DO UPDATE SET level = excluded.level,"
                     " updated_at = excluded.updated_at",
    [S_CACHE_GET] = "SELECT response FROM llmsvc_cache WHERE key = ?1 AND expires_at > ?2",
    [S_CACHE_PUT] = "INSERT INTO llmsvc_cache (key, response, expires_at) VALUES (?1, ?2, ?3)"
                    " ON CONFLICT (key) DO UPDATE SET response = excluded.response,"
                    " expires_at = excluded.expires_at",
    /* the oldest first, through llmsvc_cache_expiry */
    [S_CACHE_PURGE] = "DELETE FROM llmsvc_cache WHERE key IN (SELECT key FROM llmsvc_cache"
                      " WHERE expires_at <= ?1 ORDER BY expires_at LIMIT " CACHE_PURGE_ROWS ")",
    /* each a range of llmsvc_records_project or _org, read from the index alone */
    [S_SPEND_PROJECT] = "SELECT TOTAL(cost_usd) FROM llmsvc_records"
                        " WHERE project_id = ?1 AND created_at >= ?2",
    [S_SPEND_ORG] = "SELECT TOTAL(cost_usd) FROM llmsvc_records"
                    " WHERE organization_id = ?1 AND created_at >= ?2",
};

struct store_conn {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[S_COUNT];
    int64_t data_version;
    unsigned cache_puts; /* since the last purge of expired cache entries */
};

/* ---- errors ---- */

static llmsvc_code db_error(store_conn *c, const char *what, llmsvc_error **err)
{
    int rc = sqlite3_extended_errcode(c->db);
    llmsvc_error *e = err_new(LLMSVC_E_STORE, "sqlite:%s: %s: %s", c->path, what,
                              sqlite3_errmsg(c->db));
    /* a busy or locked database clears up; a corrupt or full one does not */
    e->retryable = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
    return err_give(err, e);
}

static int exec(store_conn *c, const char *q)
{
    return sqlite3_exec(c->db, q, NULL, NULL, NULL);
}

/* ---- connecting and migrating ---- */

static int mkdir_parents(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static llmsvc_code migrate(store_conn *c, llmsvc_error **err)
{
    /* BEGIN IMMEDIATE takes the write lock: two processes starting at once
     * apply the migrations one after the other, the second finding them done */
    if (exec(c, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_error(c, "cannot lock the schema", err);
    if (exec(c, "CREATE TABLE IF NOT EXISTS llmsvc_schema (version INTEGER NOT NULL)") !=
        SQLITE_OK)
        goto fail;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(c->db, "SELECT COALESCE(MAX(version), 0) FROM llmsvc_schema", -1, &q,
                           NULL) != SQLITE_OK)
        goto fail;
    int version = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (version < 0)
        goto fail;
    if (version > SCHEMA_VERSION) {
        exec(c, "ROLLBACK");
        return err_set(err, LLMSVC_E_STORE,
                       "sqlite:%s has schema version %d, newer than this llmsvc's %d; upgrade "
                       "llmsvc",
                       c->path, version, SCHEMA_VERSION);
    }
    for (int v = version + 1; v <= SCHEMA_VERSION; v++) {
        char ins[96];
        snprintf(ins, sizeof ins, "INSERT INTO llmsvc_schema (version) VALUES (%d)", v);
        if (exec(c, migrations[v - 1]) != SQLITE_OK || exec(c, ins) != SQLITE_OK)
            goto fail;
    }
    if (exec(c, "COMMIT") != SQLITE_OK)
        goto fail;
    return LLMSVC_OK;
fail: {
    llmsvc_code code = db_error(c, "cannot create or upgrade the schema", err);
    exec(c, "ROLLBACK");
    return code;
}
}

/* WAL mode. Switching a fresh file to WAL needs an exclusive lock, and SQLite
 * does not call the busy handler for it: when several processes open a new
 * store at once, the others wait here and retry. */
static int set_wal(store_conn *c)
{
    for (int i = 0; i < 750; i++) {
        int rc = exec(c, "PRAGMA journal_mode = WAL");
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return rc;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return SQLITE_BUSY;
}

static void sq_disconnect(store_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

static llmsvc_code sq_connect(const char *url, store_conn **out, llmsvc_error **err)
{
    const char *path = url + strlen("sqlite:");
    if (!strncmp(path, "//", 2))
        path += 2; /* sqlite://PATH too */
    if (!*path)
        return err_set(err, LLMSVC_E_STORE, "store URL '%s' names no file (sqlite:PATH)", url);
    store_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return err_give(err, err_nomem());
    }
    if (mkdir_parents(path) < 0) {
        llmsvc_code code = err_set(err, LLMSVC_E_STORE, "sqlite:%s: cannot create its folder: %s",
                                   path, strerror(errno));
        sq_disconnect(c);
        return code;
    }
    llmsvc_code code;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                          SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        code = c->db ? db_error(c, "cannot open", err)
                     : err_set(err, LLMSVC_E_STORE, "sqlite:%s: cannot open", path);
        sq_disconnect(c);
        return code;
    }
    sqlite3_busy_timeout(c->db, 15000);
    if (set_wal(c) != SQLITE_OK || exec(c, "PRAGMA synchronous = NORMAL") != SQLITE_OK) {
        code = db_error(c, "not a usable SQLite database", err);
        sq_disconnect(c);
        return code;
    }
    if ((code = migrate(c, err)) != LLMSVC_OK) {
        sq_disconnect(c);
        return code;
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(c->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) !=
            SQLITE_OK) {
            code = db_error(c, "cannot prepare a statement", err);
            sq_disconnect(c);
            return code;
        }
    }
    *out = c;
    return LLMSVC_OK;
}

/* ---- binding and reading ---- */

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void bind_count(sqlite3_stmt *s, int i, int64_t v)
{
    if (v >= 0)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

static int64_t col_time(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, i);
}

static void read_row(sqlite3_stmt *s, job_row *r)
{
    r->id = col_text(s, 0);
    r->state = col_text(s, 1);
    r->attempts = sqlite3_column_int(s, 2);
    r->max_attempts = sqlite3_column_int(s, 3);
    r->project_id = col_text(s, 4);
    r->organization_id = col_text(s, 5);
    r->idempotency_key = col_text(s, 6);
    r->request = col_text(s, 7);
    r->result = col_text(s, 8);
    r->error = col_text(s, 9);
    r->created_at = col_time(s, 10);
    r->started_at = col_time(s, 11);
    r->finished_at = col_time(s, 12);
    r->run_after = col_time(s, 13);
}

/* Steps a statement to its end; 0 or -1. */
static int run(sqlite3_stmt *s)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        ;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- operations ---- */

static llmsvc_code sq_submit(store_conn *c, const job_new *j, char **id, int *created,
                             llmsvc_error **err)
{
    sqlite3_stmt *s = c->st[S_SUBMIT];
    sqlite3_clear_bindings(s);
    bind_text(s, 1, j->id);
    bind_text(s, 2, j->idempotency_key);
    bind_text(s, 3, j->project_id);
    bind_text(s, 4, j->organization_id);
    bind_text(s, 5, j->request);
    sqlite3_bind_int(s, 6, j->max_attempts);
    sqlite3_bind_int64(s, 7, j->now);
    if (run(s) < 0)
        return db_error(c, "cannot add the job", err);
    *created = sqlite3_changes(c->db) == 1;
    if (*created) {
        *id = strdup(j->id);
        return *id ? LLMSVC_OK : err_give(err, err_nomem());
    }
    s = c->st[S_BY_KEY];
    bind_text(s, 1, j->idempotency_key);
    int rc = sqlite3_step(s);
    *id = rc == SQLITE_ROW ? col_text(s, 0) : NULL;
    sqlite3_reset(s);
    if (!*id)
        return db_error(c, "cannot find the job of that idempotency key", err);
    return LLMSVC_OK;
}

static llmsvc_code sq_get(store_conn *c, const char *id, job_row *out, llmsvc_error **err)
{
    sqlite3_stmt *s = c->st[S_GET];
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_row(s, out);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return LLMSVC_OK;
    if (rc == SQLITE_DONE)
        return err_set(err, LLMSVC_E_NOT_FOUND, "no job '%s' in sqlite:%s", id, c->path);
    return db_error(c, "cannot read the job", err);
}

static llmsvc_code sq_claim(store_conn *c, const char *owner, int64_t now, long lease_ms,
                            job_row *out, int *got, llmsvc_error **err)
{
    sqlite3_stmt *s = c->st[S_CLAIM];
    bind_text(s, 1, owner);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, lease_ms);
    int rc = sqlite3_step(s);
    *got = rc == SQLITE_ROW;
    if (*got) {
        read_row(s, out);
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        if (*got)
            store_row_clear(out);
        *got = 0;
        return db_error(c, "cannot claim a job", err);
    }
    return LLMSVC_OK;
}

static llmsvc_code sq_renew(store_conn *c, const char *id, const char *owner, int64_t until,
                            int *owned, llmsvc_error **err)
{
    sqlite3_stmt *s = c->st[S_RENEW];
    bind_text(s, 1, id);
    bind_text(s, 2, owner);
    sqlite3_bind_int64(s, 3, until);
    if (run(s) < 0)
        return db_error(c, "cannot renew a lease", err);
    *owned = sqlite3_changes(c->db) == 1;
    return LLMSVC_OK;
}

static int insert_record(store_conn *c, const call_record *r)
{
    sqlite3_stmt *s = c->st[S_RECORD];
    sqlite3_clear_bindings(s);
    bind_text(s, 1, r->job_id);
    sqlite3_bind_int(s, 2, r->attempt);
    bind_text(s, 3, r->project_id);
    bind_text(s, 4, r->organization_id);
    bind_text(s, 5, r->provider);
    bind_text(s, 6, r->model);
    bind_text(s, 7, r->status);
    bind_count(s, 8, r->input_tokens);
    bind_count(s, 9, r->output_tokens);
    bind_count(s, 10, r->reasoning_tokens);
    if (r->cost_usd >= 0)
        sqlite3_bind_double(s, 11, r->cost_usd);
    sqlite3_bind_double(s, 12, r->latency_ms);
    bind_text(s, 13, r->request);
    bind_text(s, 14, r->response);
    bind_text(s, 15, r->error);
    sqlite3_bind_int64(s, 16, r->created_at);
    bind_text(s, 17, r->route);
    bind_text(s, 18, r->arm);
    sqlite3_bind_int(s, 19, r->cached != 0);
    bind_text(s, 20, r->route_attempts);
    return run(s);
}

static llmsvc_code sq_finish(store_conn *c, const job_finish *f, int *applied,
                             llmsvc_error **err)
{
    if (exec(c, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_error(c, "cannot finish a job", err);
    sqlite3_stmt *s = c->st[S_FINISH];
    sqlite3_clear_bindings(s);
    bind_text(s, 1, f->id);
    bind_text(s, 2, f->owner);
    sqlite3_bind_int(s, 3, (int)f->kind);
    bind_text(s, 4, f->result);
    bind_text(s, 5, f->error);
    sqlite3_bind_int64(s, 6, f->run_after);
    sqlite3_bind_int64(s, 7, f->now);
    if (run(s) < 0)
        goto fail;
    *applied = sqlite3_changes(c->db) == 1;
    if (*applied && f->record && insert_record(c, f->record) < 0)
        goto fail;
    if (exec(c, "COMMIT") != SQLITE_OK)
        goto fail;
    return LLMSVC_OK;
fail: {
    llmsvc_code code = db_error(c, "cannot finish a job", err);
    exec(c, "ROLLBACK");
    *applied = 0;
    return code;
}
}

static llmsvc_code sq_cancel(store_conn *c, const char *id, int64_t now, char **state,
                             llmsvc_error **err)
{
    if (exec(c, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_error(c, "cannot cancel the job", err);
    sqlite3_stmt *s = c->st[S_STATE];
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    *state = rc == SQLITE_ROW ? col_text(s, 0) : NULL;
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
        exec(c, "ROLLBACK");
        return err_set(err, LLMSVC_E_NOT_FOUND, "no job '%s' in sqlite:%s", id, c->path);
    }
    s = c->st[S_CANCEL];
    bind_text(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    if (rc != SQLITE_ROW || run(s) < 0 || exec(c, "COMMIT") != SQLITE_OK) {
        llmsvc_code code = db_error(c, "cannot cancel the job", err);
        exec(c, "ROLLBACK");
        free(*state);
        *state = NULL;
        return code;
    }
    return LLMSVC_OK;
}

static llmsvc_code sq_record(store_conn *c, const call_record *r, llmsvc_error **err)
{
    return insert_record(c, r) < 0 ? db_error(c, "cannot write a call record", err) : LLMSVC_OK;
}

/* Nearest-rank percentile p (0..1] of n sorted values: the value of rank
 * ceil(p * n), as PostgreSQL's percentile_disc computes it (store_pg.c), so
 * both engines give the same numbers. */
static double nearest_rank(const double *sorted, size_t n, double p)
{
    double rank = ceil(p * (double)n);
    size_t k = rank < 1 ? 1 : (size_t)rank;
    return sorted[(k > n ? n : k) - 1];
}

static int same_key(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

/* latency_p50 and latency_p95 of the GROUP_VARIANT rows (sorted by route and
 * arm, as the latencies are read): SQLite has no percentile function, so the
 * successful calls' latencies of each group are read in order. -1 on error. */
static int fill_percentiles(store_conn *c, const records_query *q, records_row *rows, size_t n)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT route, arm, latency_ms FROM llmsvc_records"
                           " WHERE (?1 IS NULL OR project_id = ?1) AND created_at >= ?2"
                           " AND route IS NOT NULL AND status = 'succeeded'"
                           " AND latency_ms IS NOT NULL ORDER BY 1, 2, 3",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    bind_text(s, 1, q->project_id);
    sqlite3_bind_int64(s, 2, q->since);
    double *lat = NULL;
    size_t count = 0, cap = 0, i = 0;
    int rc = sqlite3_step(s);
    while (rc == SQLITE_ROW || count) {
        const char *route = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
        const char *arm = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 1) : NULL;
        /* a group's latencies end where the next group's (or the rows) begin */
        if (count && (rc != SQLITE_ROW || !same_key(route, rows[i].key1) ||
                      !same_key(arm, rows[i].key2))) {
            rows[i].latency_p50 = nearest_rank(lat, count, 0.50);
            rows[i].latency_p95 = nearest_rank(lat, count, 0.95);
            count = 0;
        }
        if (rc != SQLITE_ROW)
            break;
        /* the rows have every group that has latencies: skip those without */
        while (i < n && !(same_key(route, rows[i].key1) && same_key(arm, rows[i].key2)))
            i++;
        if (i == n) {
            rc = SQLITE_ERROR; /* a record the sums did not see: a write in between */
            break;
        }
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            double *nl = realloc(lat, ncap * sizeof *nl);
            if (!nl) {
                rc = SQLITE_NOMEM;
                break;
            }
            lat = nl;
            cap = ncap;
        }
        lat[count++] = sqlite3_column_double(s, 2);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    free(lat);
    return rc == SQLITE_DONE ? 0 : -1;
}

static llmsvc_code sq_summary(store_conn *c, const records_query *q, records_row **rows,
                              size_t *n, llmsvc_error **err)
{
    const char *by = q->group == GROUP_PROJECT   ? "COALESCE(project_id, ''), NULL"
                     : q->group == GROUP_VARIANT ? "route, arm"
                                                 : "provider, model";
    char query[1024];
    snprintf(query, sizeof query,
             "SELECT %s, COUNT(*), SUM(status <> 'succeeded'), SUM(cached),"
             " SUM(COALESCE(input_tokens, 0)), SUM(COALESCE(output_tokens, 0)),"
             " SUM(COALESCE(reasoning_tokens, 0)), SUM(COALESCE(cost_usd, 0)),"
             " SUM(COALESCE(latency_ms, 0))"
             " FROM llmsvc_records WHERE (?1 IS NULL OR project_id = ?1) AND created_at >= ?2%s"
             " GROUP BY 1, 2 ORDER BY 1, 2",
             by, q->group == GROUP_VARIANT ? " AND route IS NOT NULL" : "");
    /* the sums and the latencies read by fill_percentiles see one snapshot */
    int snapshot = q->group == GROUP_VARIANT;
    if (snapshot && exec(c, "BEGIN") != SQLITE_OK)
        return db_error(c, "cannot sum the records", err);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(c->db, query, -1, &s, NULL) != SQLITE_OK) {
        llmsvc_code code = db_error(c, "cannot sum the records", err);
        if (snapshot)
            exec(c, "ROLLBACK");
        return code;
    }
    bind_text(s, 1, q->project_id);
    sqlite3_bind_int64(s, 2, q->since);
    records_row *v = NULL;
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        records_row *nv = realloc(v, (count + 1) * sizeof *nv);
        if (!nv) {
            rc = SQLITE_NOMEM;
            break;
        }
        v = nv;
        records_row *r = &v[count++];
        memset(r, 0, sizeof *r);
        r->key1 = col_text(s, 0);
        r->key2 = col_text(s, 1);
        r->calls = sqlite3_column_int64(s, 2);
        r->failures = sqlite3_column_int64(s, 3);
        r->cache_hits = sqlite3_column_int64(s, 4);
        r->input_tokens = sqlite3_column_int64(s, 5);
        r->output_tokens = sqlite3_column_int64(s, 6);
        r->reasoning_tokens = sqlite3_column_int64(s, 7);
        r->cost_usd = sqlite3_column_double(s, 8);
        r->latency_ms_sum = sqlite3_column_double(s, 9);
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE && snapshot && fill_percentiles(c, q, v, count) < 0)
        rc = SQLITE_ERROR;
    if (rc != SQLITE_DONE) {
        llmsvc_code code = db_error(c, "cannot sum the records", err);
        if (snapshot)
            exec(c, "ROLLBACK");
        store_rows_free(v, count);
        return code;
    }
    if (snapshot)
        exec(c, "COMMIT"); /* a read: nothing to lose */
    *rows = v;
    *n = count;
    return LLMSVC_OK;
}

/* ---- shared state of runtimes ---- */


static llmsvc_code sq_bucket(store_conn *c, const char *key, double capacity, double rate_per_ms,
                             double take, double cap_level, int64_t now, double *wait_ms,
                             llmsvc_error **err)
{
    /* the write lock first: a second process's step waits (busy timeout)
     * until this one committed, and then reads what it wrote */
    if (exec(c, "BEGIN IMMEDIATE") != SQLITE_OK)
        return db_error(c, "cannot use a rate-limit bucket", err);
    sqlite3_stmt *s = c->st[S_BUCKET_GET];
    bind_text(s, 1, key);
    double level = capacity;
    int64_t at = now;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        level = sqlite3_column_double(s, 0);
        at = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto fail;
    double wait = store_bucket_step(&level, &at, capacity, rate_per_ms, take, cap_level, now);
    s = c->st[S_BUCKET_SET];
    bind_text(s, 1, key);
    sqlite3_bind_double(s, 2, level);
    sqlite3_bind_int64(s, 3, at);
    if (run(s) < 0 || exec(c, "COMMIT") != SQLITE_OK)
        goto fail;
    *wait_ms = wait;
    return LLMSVC_OK;
fail: {
    llmsvc_code code = db_error(c, "cannot use a rate-limit bucket", err);
    exec(c, "ROLLBACK");
    return code;
}
}

static llmsvc_code sq_cache_get(store_conn *c, const char *key, int64_t now, char **json,
                                llmsvc_error **err)
{
    sqlite3_stmt *s = c->st[S_CACHE_GET];
    bind_text(s, 1, key);
    sqlite3_bind_int64(s, 2, now);
    int rc = sqlite3_step(s);
    char *v = rc == SQLITE_ROW ? col_text(s, 0) : NULL;
    sqlite3_reset(s);
    if (rc == SQLITE_ROW && !v)
        return err_give(err, err_nomem());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(c, "cannot read the response cache", err);
    *json = v;
    return LLMSVC_OK;
}

static llmsvc_code sq_cache_put(store_conn *c, const char *key, const char *json,
                                int64_t expires_at, llmsvc_error **err)
{
    sqlite3_stmt *s = c->st[S_CACHE_PUT];
    bind_text(s, 1, key);
    bind_text(s, 2, json);
    sqlite3_bind_int64(s, 3, expires_at);
    if (run(s) < 0)
        return db_error(c, "cannot write to the response cache", err);
    if (++c->cache_puts >= CACHE_PURGE_EVERY) {
        c->cache_puts = 0;
        /* best effort: the entry is stored, and a purge that failed (a busy
         * file) is the next one's work */
        s = c->st[S_CACHE_PURGE];
        sqlite3_bind_int64(s, 1, store_now_ms());
        (void)run(s);
    }
    return LLMSVC_OK;
}

static llmsvc_code sq_spend(store_conn *c, const char *project_id, const char *organization_id,
                            int64_t since, double *usd, llmsvc_error **err)
{
    if (!project_id && !organization_id)
        return err_set(err, LLMSVC_E_INVALID_ARG, "spend of no project and no organization");
    sqlite3_stmt *s = c->st[project_id ? S_SPEND_PROJECT : S_SPEND_ORG];
    bind_text(s, 1, project_id ? project_id : organization_id);
    sqlite3_bind_int64(s, 2, since);
    int rc = sqlite3_step(s);
    double v = rc == SQLITE_ROW ? sqlite3_column_double(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return db_error(c, "cannot sum the spend", err);
    *usd = v;
    return LLMSVC_OK;
}

static int64_t data_version(store_conn *c)
{
    sqlite3_stmt *s = c->st[S_VERSION];
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    return v;
}

static void sq_wait_work(store_conn *c, long timeout_ms, atomic_int *stop)
{
    /* data_version changes when another connection commits: a submit, a
     * requeue, a finished job. Checking it is a read of shared memory (WAL). */
    int64_t start = store_now_ms(), v0 = data_version(c);
    long step = 2;
    while (store_now_ms() - start < timeout_ms) {
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        if (data_version(c) != v0 || (stop && atomic_load(stop)))
            return;
        if (step < 50)
            step *= 2;
    }
}

static void sq_wait_job(store_conn *c, const char *id, long timeout_ms)
{
    (void)id; /* any commit may be its end */
    sq_wait_work(c, timeout_ms, NULL);
}

const store_engine store_sqlite_engine = {
    .name = "sqlite",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .submit = sq_submit,
    .get = sq_get,
    .claim = sq_claim,
    .renew = sq_renew,
    .finish = sq_finish,
    .cancel = sq_cancel,
    .record = sq_record,
    .summary = sq_summary,
    .bucket = sq_bucket,
    .cache_get = sq_cache_get,
    .cache_put = sq_cache_put,
    .spend = sq_spend,
    .wait_work = sq_wait_work,
    .wait_job = sq_wait_job,
};
