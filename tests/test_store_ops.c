/* test_store_ops — schema version 2 of both job stores and what it added:
 * the shared state of runtimes (store.h: bucket, cache_get, cache_put,
 * spend), the route columns of the call records (written by `record` and by
 * `finish`), the summary by route variant with its nearest-rank latency
 * percentiles, the upgrade in place of a version-1 store holding records, and
 * `llmsvc records --by variant`.
 *
 * Every engine test runs twice: on a real SQLite file (tcase "sqlite") and on
 * a real throwaway PostgreSQL server that tests/pgharness.h starts (tcase
 * "postgres", built with LLMSVC_WITH_POSTGRES), each test in a database of
 * its own. What only the tables can tell is read with the sqlite3 and libpq C
 * APIs. Bucket times are explicit `now` values, never the clock. */
#include <json-c/json.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "response.h"
#include "store.h"
#include "testutil.h"

#ifdef HAVE_PG
#include <libpq-fe.h>

#include "pgharness.h"

static pg_harness pg;
#endif

extern char **environ;

static int on_pg; /* the engine of the running tcase */

static void sqlite_up(void)
{
    on_pg = 0;
}

#ifdef HAVE_PG
static void pg_up(void)
{
    on_pg = 1;
    PGH_START_OR_FAIL(&pg);
}

static void pg_down(void)
{
    pgh_stop(&pg);
}
#endif

/* ---- stores and their tables ---- */

#define URL_SIZE (TU_PATH + 64)

/* A URL of a new, empty store of the tcase's engine (nothing created yet). */
static void fresh_url(const char *name, char url[URL_SIZE])
{
#ifdef HAVE_PG
    if (on_pg) {
        ck_assert_msg(pgh_create_db(&pg, name, url, URL_SIZE) == 0, "%s", pg.error);
        return;
    }
#endif
    char dir[TU_PATH];
    tu_mkdtemp(dir);
    snprintf(url, URL_SIZE, "sqlite:%s/%s.db", dir, name);
}

static llmsvc_store *open_store(const char *url)
{
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(&st, url, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return st;
}

static store_conn *connect_to(llmsvc_store *st)
{
    store_conn *c = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = store_connect(st, &c, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return c;
}

/* v, and '\n' and more after it when v is not NULL (malloc'd). */
static char *join(char *v, const char *more)
{
    size_t len = v ? strlen(v) : 0, mlen = strlen(more);
    char *s = realloc(v, len + mlen + 2);
    ck_assert_ptr_nonnull(s);
    if (v)
        s[len++] = '\n';
    memcpy(s + len, more, mlen + 1);
    return s;
}

/* SQL on the store's database, outside the store: each statement of q run,
 * the first column of the last one's rows returned, one a line (malloc'd;
 * NULL when there is no row or the one value is SQL NULL). */
static char *sql(const char *url, const char *q)
{
    char *v = NULL;
#ifdef HAVE_PG
    if (strncmp(url, "sqlite:", 7)) {
        PGconn *c = PQconnectdb(url);
        ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s: %s", url, PQerrorMessage(c));
        PGresult *r = PQexec(c, q);
        ExecStatusType s = PQresultStatus(r);
        ck_assert_msg(s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK, "%s: %s", q,
                      PQerrorMessage(c));
        for (int i = 0; s == PGRES_TUPLES_OK && i < PQntuples(r); i++)
            if (!PQgetisnull(r, i, 0))
                v = join(v, PQgetvalue(r, i, 0));
        PQclear(r);
        PQfinish(c);
        return v;
    }
#endif
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(url + 7, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     NULL),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    const char *rest = q;
    while (rest && *rest) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db, rest, -1, &s, &rest);
        ck_assert_msg(rc == SQLITE_OK, "%s: %s", q, sqlite3_errmsg(db));
        if (!s)
            break; /* only blanks were left */
        free(v);
        v = NULL;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            if (sqlite3_column_type(s, 0) != SQLITE_NULL)
                v = join(v, (const char *)sqlite3_column_text(s, 0));
        ck_assert_msg(rc == SQLITE_DONE, "%s: %s", q, sqlite3_errmsg(db));
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return v;
}

static long long sql_int(const char *url, const char *q)
{
    char *v = sql(url, q);
    ck_assert_msg(v != NULL, "no value: %s", q);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

/* ---- engine shorthands, failing the test on errors ---- */

static double take(llmsvc_store *st, store_conn *c, const char *key, double capacity, double rate,
                   double n, double cap_level, int64_t now)
{
    double wait = -1;
    llmsvc_error *err = NULL;
    llmsvc_code rc = st->engine->bucket(c, key, capacity, rate, n, cap_level, now, &wait, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return wait;
}

static char *cache_get(llmsvc_store *st, store_conn *c, const char *key, int64_t now)
{
    char *json = (char *)"unset";
    llmsvc_error *err = NULL;
    llmsvc_code rc = st->engine->cache_get(c, key, now, &json, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return json;
}

static void cache_put(llmsvc_store *st, store_conn *c, const char *key, const char *json,
                      int64_t expires_at)
{
    llmsvc_error *err = NULL;
    llmsvc_code rc = st->engine->cache_put(c, key, json, expires_at, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
}

static double spend(llmsvc_store *st, store_conn *c, const char *project, const char *org,
                    int64_t since)
{
    double usd = -1;
    llmsvc_error *err = NULL;
    llmsvc_code rc = st->engine->spend(c, project, org, since, &usd, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return usd;
}

static void record(llmsvc_store *st, store_conn *c, const call_record *r)
{
    llmsvc_error *err = NULL;
    llmsvc_code rc = st->engine->record(c, r, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
}

static call_record plain_record(const char *project, const char *org, double cost, int64_t at)
{
    call_record r = {0};
    r.project_id = project;
    r.organization_id = org;
    r.provider = "mock";
    r.model = "mock-1";
    r.request = "{}";
    r.status = "succeeded";
    r.input_tokens = 10;
    r.output_tokens = 20;
    r.reasoning_tokens = -1;
    r.cost_usd = cost;
    r.latency_ms = 5;
    r.attempt = 1;
    r.created_at = at;
    return r;
}

/* The summary as parsed JSON (an array). */
static json_object *summary(llmsvc_store *st, const char *project, int64_t since, const char *by)
{
    llmsvc_records_filter f = LLMSVC_RECORDS_FILTER_INIT;
    f.project_id = project;
    f.since_ms = since;
    f.group_by = by;
    char *json = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_records_summary(st, &f, &json, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *a = json_tokener_parse(json);
    ck_assert_msg(a && json_object_is_type(a, json_type_array), "not a JSON array: %s", json);
    llmsvc_free(json);
    return a;
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
                  json_object_to_json_string(o));
    return v;
}

static int64_t jint(json_object *o, const char *key)
{
    return json_object_get_int64(jget(o, key));
}

static double jdbl(json_object *o, const char *key)
{
    return json_object_get_double(jget(o, key));
}

/* The row of a summary whose k1 is v1 and k2 is v2 (v2 NULL: JSON null). */
static json_object *row(json_object *a, const char *k1, const char *v1, const char *k2,
                        const char *v2)
{
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *r = json_object_array_get_idx(a, i), *x = jget(r, k1), *y = NULL;
        if (strcmp(json_object_get_string(x), v1))
            continue;
        if (!k2)
            return r;
        y = jget(r, k2);
        if (v2 ? y && !strcmp(json_object_get_string(y), v2) : !y)
            return r;
    }
    ck_abort_msg("no row %s=%s %s=%s in %s", k1, v1, k2 ? k2 : "", v2 ? v2 : "null",
                 json_object_to_json_string(a));
    return NULL;
}

/* ---- the schema ---- */

START_TEST(a_new_store_is_at_version_2_with_the_new_tables)
{
    char url[URL_SIZE];
    fresh_url("new_store_v2", url);
    llmsvc_store *a = open_store(url), *b = open_store(url);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_schema"), 2);
    ck_assert_int_eq(sql_int(url, "SELECT MAX(version) FROM llmsvc_schema"), 2);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_buckets"), 0);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_cache"), 0);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_records WHERE route IS NULL"
                                  " AND arm IS NULL AND route_attempts IS NULL"),
                     0);
    const char *idx = on_pg ? "SELECT COUNT(*) FROM pg_indexes WHERE indexname IN"
                              " ('llmsvc_records_project', 'llmsvc_records_org',"
                              " 'llmsvc_records_route', 'llmsvc_cache_expiry')"
                            : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                              " ('llmsvc_records_project', 'llmsvc_records_org',"
                              " 'llmsvc_records_route', 'llmsvc_cache_expiry')";
    ck_assert_int_eq(sql_int(url, idx), 4);
    llmsvc_store_close(a);
    llmsvc_store_close(b);
}
END_TEST

/* Version 1 exactly as it shipped (core/store_sqlite.c, core/store_pg.c at
 * schema version 1), with a job and two of its records. */
static const char v1_sqlite[] =
    "CREATE TABLE llmsvc_schema (version INTEGER NOT NULL);"
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
    "CREATE INDEX llmsvc_records_job ON llmsvc_records(job_id);"
    "INSERT INTO llmsvc_schema (version) VALUES (1);";

static const char v1_pg[] =
    "CREATE TABLE llmsvc_schema (version INTEGER NOT NULL);"
    "CREATE TABLE llmsvc_jobs ("
    " id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, project_id TEXT,"
    " organization_id TEXT, request TEXT NOT NULL, state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,"
    " run_after BIGINT NOT NULL, lease_owner TEXT, lease_until BIGINT,"
    " created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT,"
    " result TEXT, error TEXT);"
    "CREATE INDEX llmsvc_jobs_runnable ON llmsvc_jobs (run_after, created_at)"
    " WHERE state IN ('pending', 'running');"
    "CREATE TABLE llmsvc_records ("
    " id BIGSERIAL PRIMARY KEY, job_id TEXT, attempt INTEGER,"
    " project_id TEXT, organization_id TEXT, provider TEXT, model TEXT,"
    " status TEXT NOT NULL, input_tokens BIGINT, output_tokens BIGINT,"
    " reasoning_tokens BIGINT, cost_usd DOUBLE PRECISION, latency_ms DOUBLE PRECISION,"
    " request TEXT, response TEXT, error TEXT, created_at BIGINT NOT NULL);"
    "CREATE INDEX llmsvc_records_time ON llmsvc_records (created_at);"
    "CREATE INDEX llmsvc_records_job ON llmsvc_records (job_id);"
    "INSERT INTO llmsvc_schema (version) VALUES (1);";

static const char v1_rows[] =
    "INSERT INTO llmsvc_jobs (id, project_id, organization_id, request, state, attempts,"
    " max_attempts, run_after, created_at, started_at, finished_at, result)"
    " VALUES ('job_v1', 'p1', 'o1', '{}', 'succeeded', 2, 3, 1000, 1000, 1100, 1300, '{}');"
    "INSERT INTO llmsvc_records (job_id, attempt, project_id, organization_id, provider, model,"
    " status, input_tokens, output_tokens, reasoning_tokens, cost_usd, latency_ms, request,"
    " response, error, created_at) VALUES"
    " ('job_v1', 1, 'p1', 'o1', 'mock', 'mock-1', 'failed', NULL, NULL, NULL, NULL, 40,"
    "  '{}', NULL, '{\"code\":\"TRANSPORT\"}', 1200),"
    " ('job_v1', 2, 'p1', 'o1', 'mock', 'mock-1', 'succeeded', 10, 20, 0, 0.5, 60,"
    "  '{}', '{}', NULL, 1300);";

static void make_v1_store(const char *url)
{
    free(sql(url, on_pg ? v1_pg : v1_sqlite));
    free(sql(url, v1_rows));
}

START_TEST(a_version_1_store_with_records_upgrades_in_place)
{
    char url[URL_SIZE];
    fresh_url("upgrade_v1", url);
    make_v1_store(url);
    ck_assert_int_eq(sql_int(url, "SELECT MAX(version) FROM llmsvc_schema"), 1);

    llmsvc_store *st = open_store(url);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_schema"), 2);
    ck_assert_int_eq(sql_int(url, "SELECT MAX(version) FROM llmsvc_schema"), 2);
    /* the old rows are there, with the new columns' defaults */
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_records"), 2);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_records WHERE route IS NULL"
                                  " AND arm IS NULL AND route_attempts IS NULL"
                                  " AND NOT cached"),
                     2);
    char *state = sql(url, "SELECT state FROM llmsvc_jobs WHERE id = 'job_v1'");
    ck_assert_str_eq(state, "succeeded");
    free(state);

    /* and read through the new code */
    json_object *a = summary(st, NULL, 0, NULL);
    json_object *r = row(a, "provider", "mock", "model", "mock-1");
    ck_assert_int_eq(jint(r, "calls"), 2);
    ck_assert_int_eq(jint(r, "failures"), 1);
    ck_assert_int_eq(jint(r, "cache_hits"), 0);
    ck_assert_int_eq(jint(r, "input_tokens"), 10);
    ck_assert(jdbl(r, "cost_usd") == 0.5);
    json_object_put(a);
    a = summary(st, NULL, 0, "variant");
    ck_assert_int_eq(json_object_array_length(a), 0); /* no record went through a route */
    json_object_put(a);

    store_conn *c = connect_to(st);
    ck_assert(spend(st, c, "p1", NULL, 0) == 0.5);
    ck_assert(spend(st, c, NULL, "o1", 1250) == 0.5);
    ck_assert(spend(st, c, NULL, "o1", 1301) == 0);
    call_record nr = plain_record("p1", "o1", 0.25, 2000);
    nr.route = "support";
    nr.arm = "a";
    record(st, c, &nr);
    ck_assert(spend(st, c, "p1", NULL, 0) == 0.75);
    ck_assert(take(st, c, "k", 2, 0, 1, -1, 5000) == 0);
    st->engine->disconnect(c);
    llmsvc_store_close(st);

    /* opening it again changes nothing */
    st = open_store(url);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_schema"), 2);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_records"), 3);
    llmsvc_store_close(st);
}
END_TEST

enum { UPGRADERS = 4 };

typedef struct upgrader {
    const char *url;
    pthread_barrier_t *barrier;
    llmsvc_code rc;
    char message[512];
} upgrader;

static void *upgrade(void *p)
{
    upgrader *u = p;
    pthread_barrier_wait(u->barrier);
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    u->rc = llmsvc_store_open(&st, u->url, &err);
    snprintf(u->message, sizeof u->message, "%s", err ? llmsvc_error_message(err) : "");
    llmsvc_error_free(err);
    llmsvc_store_close(st);
    return NULL;
}

START_TEST(connections_opening_a_version_1_store_at_once_upgrade_it_once)
{
    char url[URL_SIZE];
    fresh_url("upgrade_at_once", url);
    make_v1_store(url);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, UPGRADERS);
    pthread_t t[UPGRADERS];
    upgrader u[UPGRADERS];
    for (int i = 0; i < UPGRADERS; i++) {
        u[i] = (upgrader){url, &barrier, LLMSVC_OK, ""};
        ck_assert_int_eq(pthread_create(&t[i], NULL, upgrade, &u[i]), 0);
    }
    for (int i = 0; i < UPGRADERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < UPGRADERS; i++)
        ck_assert_msg(u[i].rc == LLMSVC_OK, "opener %d: %s", i, u[i].message);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_schema"), 2);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_records"), 2);
}
END_TEST

/* ---- token buckets ---- */

START_TEST(a_bucket_starts_full_and_refuses_with_the_wait)
{
    char url[URL_SIZE];
    fresh_url("bucket_full", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    /* capacity 10, refilling 0.5 a millisecond */
    ck_assert(take(st, c, "b", 10, 0.5, 4, -1, 1000) == 0);
    ck_assert(take(st, c, "b", 10, 0.5, 6, -1, 1000) == 0);
    ck_assert(take(st, c, "b", 10, 0.5, 1, -1, 1000) == 2); /* empty: 1 in 2 ms */
    ck_assert(take(st, c, "b", 10, 0.5, 1, -1, 1001) == 1); /* 0.5 there, refused */
    ck_assert(take(st, c, "b", 10, 0.5, 1, -1, 1002) == 0); /* 1 there */
    ck_assert(take(st, c, "b", 10, 0.5, 4, -1, 1002) == 8);
    ck_assert(take(st, c, "b", 10, 0.5, 0, -1, 1002) == 0); /* a look takes nothing */
    /* keys are separate buckets */
    ck_assert(take(st, c, "other", 10, 0.5, 10, -1, 1002) == 0);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_buckets"), 2);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(a_bucket_refills_over_time_up_to_its_capacity)
{
    char url[URL_SIZE];
    fresh_url("bucket_refill", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    /* capacity 5, 0.25 a millisecond */
    ck_assert(take(st, c, "b", 5, 0.25, 5, -1, 0) == 0);
    ck_assert(take(st, c, "b", 5, 0.25, 3, -1, 8) == 4); /* 2 there */
    ck_assert(take(st, c, "b", 5, 0.25, 3, -1, 12) == 0);
    /* a long pause fills it, no more */
    ck_assert(take(st, c, "b", 5, 0.25, 5, -1, 1000000) == 0);
    ck_assert(take(st, c, "b", 5, 0.25, 0.5, -1, 1000000) == 2);
    /* a caller whose clock is behind adds nothing and moves no time back */
    ck_assert(take(st, c, "b", 5, 0.25, 1, -1, 999000) == 4);
    ck_assert(take(st, c, "b", 5, 0.25, 1, -1, 1000002) == 2); /* 0.5 since 1000000 */
    ck_assert(take(st, c, "b", 5, 0.25, 1, -1, 1000004) == 0);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(giving_back_is_clamped_to_the_capacity)
{
    char url[URL_SIZE];
    fresh_url("bucket_give_back", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    /* no refill: only gives back fill it */
    ck_assert(take(st, c, "b", 10, 0, 7, -1, 100) == 0);
    ck_assert(take(st, c, "b", 10, 0, 4, -1, 100) == INFINITY); /* never: 3 there, no refill */
    ck_assert(take(st, c, "b", 10, 0, -2, -1, 100) == 0);      /* 5 */
    ck_assert(take(st, c, "b", 10, 0, 5, -1, 100) == 0);       /* 0 */
    ck_assert(take(st, c, "b", 10, 0, -50, -1, 100) == 0);     /* 10, not 50 */
    ck_assert(take(st, c, "b", 10, 0, 10, -1, 100) == 0);
    ck_assert(isinf(take(st, c, "b", 10, 0, 0.5, -1, 100)));
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(cap_level_lowers_the_level_and_never_raises_it)
{
    char url[URL_SIZE];
    fresh_url("bucket_cap_level", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    /* capacity 10, 1 a millisecond; the provider says 3 are left */
    ck_assert(take(st, c, "b", 10, 1, 0, 3, 0) == 0);
    ck_assert(take(st, c, "b", 10, 1, 4, -1, 0) == 1);
    ck_assert(take(st, c, "b", 10, 1, 0, 8, 0) == 0); /* above the level: no change */
    ck_assert(take(st, c, "b", 10, 1, 4, -1, 0) == 1);
    /* applied before the take of the same step */
    ck_assert(take(st, c, "b", 10, 1, 2, 2, 0) == 0);
    ck_assert(take(st, c, "b", 10, 1, 0.5, -1, 0) == 0.5);
    /* refills from there */
    ck_assert(take(st, c, "b", 10, 1, 10, -1, 10) == 0);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(a_take_above_capacity_is_granted_only_from_a_full_bucket)
{
    char url[URL_SIZE];
    fresh_url("bucket_over_capacity", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    /* capacity 10, 1 a millisecond: 15 from the full bucket leaves -5 */
    ck_assert(take(st, c, "b", 10, 1, 15, -1, 0) == 0);
    ck_assert(take(st, c, "b", 10, 1, 1, -1, 0) == 6);
    ck_assert(take(st, c, "b", 10, 1, 15, -1, 10) == 5); /* 5 there: waits until full */
    ck_assert(take(st, c, "b", 10, 1, 15, -1, 15) == 0);
    ck_assert(take(st, c, "b", 10, 1, 1, -1, 15) == 6);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

enum { TAKERS = 8, TRIES = 50, HOLDS = 100 };

typedef struct taker {
    llmsvc_store *st;
    pthread_barrier_t *barrier;
    int granted, errors;
    char message[512];
} taker;

static void *take_many(void *p)
{
    taker *t = p;
    store_conn *c = NULL;
    llmsvc_error *err = NULL;
    if (store_connect(t->st, &c, &err) != LLMSVC_OK) {
        snprintf(t->message, sizeof t->message, "%s", llmsvc_error_message(err));
        llmsvc_error_free(err);
        t->errors++;
        pthread_barrier_wait(t->barrier);
        return NULL;
    }
    pthread_barrier_wait(t->barrier);
    for (int i = 0; i < TRIES; i++) {
        double wait = -1;
        err = NULL;
        if (t->st->engine->bucket(c, "shared", HOLDS, 0, 1, -1, 1000, &wait, &err) != LLMSVC_OK) {
            snprintf(t->message, sizeof t->message, "%s", llmsvc_error_message(err));
            llmsvc_error_free(err);
            t->errors++;
        } else if (wait == 0) {
            t->granted++;
        }
    }
    t->st->engine->disconnect(c);
    return NULL;
}

START_TEST(takers_on_eight_connections_take_exactly_what_the_bucket_holds)
{
    char url[URL_SIZE];
    fresh_url("bucket_atomic", url);
    llmsvc_store *st = open_store(url);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, TAKERS);
    pthread_t th[TAKERS];
    taker t[TAKERS];
    for (int i = 0; i < TAKERS; i++) {
        t[i] = (taker){st, &barrier, 0, 0, ""};
        ck_assert_int_eq(pthread_create(&th[i], NULL, take_many, &t[i]), 0);
    }
    int granted = 0;
    for (int i = 0; i < TAKERS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(t[i].errors == 0, "taker %d: %d errors, last: %s", i, t[i].errors,
                      t[i].message);
        granted += t[i].granted;
    }
    pthread_barrier_destroy(&barrier);
    ck_assert_int_eq(granted, HOLDS);
    char *level = sql(url, "SELECT level FROM llmsvc_buckets WHERE key = 'shared'");
    ck_assert_msg(level && strtod(level, NULL) == 0, "level %s", level ? level : "(none)");
    free(level);
    llmsvc_store_close(st);
}
END_TEST

/* ---- the response cache ---- */

START_TEST(the_cache_gives_what_was_put_until_it_expires)
{
    char url[URL_SIZE];
    fresh_url("cache_get_put", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st), *other = connect_to(st);
    ck_assert_ptr_null(cache_get(st, c, "a1b2", 1000));
    cache_put(st, c, "a1b2", "{\"message\":\"first\"}", 2000);
    char *v = cache_get(st, other, "a1b2", 1000);
    ck_assert_str_eq(v, "{\"message\":\"first\"}");
    free(v);
    v = cache_get(st, c, "a1b2", 1999);
    ck_assert_str_eq(v, "{\"message\":\"first\"}");
    free(v);
    ck_assert_ptr_null(cache_get(st, c, "a1b2", 2000)); /* expired at its time */
    ck_assert_ptr_null(cache_get(st, c, "c3d4", 1000));
    /* a put replaces, also an expired entry */
    cache_put(st, other, "a1b2", "{\"message\":\"second \\u00e9\"}", 5000);
    v = cache_get(st, c, "a1b2", 3000);
    ck_assert_str_eq(v, "{\"message\":\"second \\u00e9\"}");
    free(v);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_cache"), 1);
    st->engine->disconnect(c);
    st->engine->disconnect(other);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(cache_puts_drop_expired_entries_so_they_do_not_pile_up)
{
    char url[URL_SIZE];
    fresh_url("cache_purge", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    int64_t now = store_now_ms();
    cache_put(st, c, "fresh", "{}", now + 3600 * 1000);
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof key, "old%04d", i);
        cache_put(st, c, key, "{}", now - 1000); /* expired already */
    }
    /* purges keep up with the puts: fewer expired entries than one purge period */
    long long left = sql_int(url, "SELECT COUNT(*) FROM llmsvc_cache");
    ck_assert_msg(left >= 1 && left <= 33, "%lld entries left", left);
    char *v = cache_get(st, c, "fresh", now);
    ck_assert_str_eq(v, "{}");
    free(v);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

/* ---- spend ---- */

START_TEST(spend_sums_a_project_or_else_an_organization_since_a_time)
{
    char url[URL_SIZE];
    fresh_url("spend", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    call_record recs[] = {
        plain_record("p1", "o1", 1.5, 1000),  plain_record("p1", "o1", 0.25, 2000),
        plain_record("p2", "o1", 2, 3000),    plain_record("p3", "o2", 4, 1000),
        plain_record("p1", "o1", -1, 2500), /* cost unknown */
        plain_record(NULL, "o1", 0.125, 2600),
    };
    for (size_t i = 0; i < sizeof recs / sizeof *recs; i++)
        record(st, c, &recs[i]);
    ck_assert(spend(st, c, "p1", NULL, 0) == 1.75);
    ck_assert(spend(st, c, "p1", "o2", 1500) == 0.25); /* the project, not the organization */
    ck_assert(spend(st, c, "p1", NULL, 2000) == 0.25); /* since is inclusive */
    ck_assert(spend(st, c, "p1", NULL, 2001) == 0);
    ck_assert(spend(st, c, NULL, "o1", 0) == 3.875);
    ck_assert(spend(st, c, NULL, "o1", 2001) == 2.125);
    ck_assert(spend(st, c, NULL, "o2", 0) == 4);
    ck_assert(spend(st, c, "nobody", NULL, 0) == 0);
    double usd = -1;
    llmsvc_error *err = NULL;
    tu_assert_code(st->engine->spend(c, NULL, NULL, 0, &usd, &err), LLMSVC_E_INVALID_ARG, err);
    llmsvc_error_free(err);

    /* an index range, read from the index alone where the engine can */
    char *plan;
    if (on_pg) {
        plan = sql(url, "SET enable_seqscan = off;"
                        " EXPLAIN SELECT COALESCE(SUM(cost_usd), 0) FROM llmsvc_records"
                        " WHERE project_id = 'p1' AND created_at >= 0");
        tu_assert_has(plan, "llmsvc_records_project");
        free(plan);
        plan = sql(url, "SET enable_seqscan = off;"
                        " EXPLAIN SELECT COALESCE(SUM(cost_usd), 0) FROM llmsvc_records"
                        " WHERE organization_id = 'o1' AND created_at >= 0");
        tu_assert_has(plan, "llmsvc_records_org");
    } else {
        plan = NULL; /* the plan's detail is its fourth column */
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open_v2(url + 7, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        const char *qs[] = {"EXPLAIN QUERY PLAN SELECT TOTAL(cost_usd) FROM llmsvc_records"
                            " WHERE project_id = 'p1' AND created_at >= 0",
                            "EXPLAIN QUERY PLAN SELECT TOTAL(cost_usd) FROM llmsvc_records"
                            " WHERE organization_id = 'o1' AND created_at >= 0"};
        const char *want[] = {"COVERING INDEX llmsvc_records_project",
                              "COVERING INDEX llmsvc_records_org"};
        for (int i = 0; i < 2; i++) {
            sqlite3_stmt *s;
            ck_assert_int_eq(sqlite3_prepare_v2(db, qs[i], -1, &s, NULL), SQLITE_OK);
            ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
            tu_assert_has((const char *)sqlite3_column_text(s, 3), want[i]);
            sqlite3_finalize(s);
        }
        sqlite3_close(db);
    }
    free(plan);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

/* ---- route columns and the summary by variant ---- */

static call_record routed(const char *route, const char *arm, const char *status, int cached,
                          double latency, int64_t at)
{
    call_record r = plain_record("main", "org", cached ? 0 : 0.25, at);
    r.route = route;
    r.arm = arm;
    r.status = status;
    r.cached = cached;
    r.latency_ms = latency;
    if (strcmp(status, "succeeded")) {
        r.input_tokens = r.output_tokens = -1;
        r.cost_usd = -1;
    }
    return r;
}

/* Known data: support/a has 20 successful calls of 1..20 ms (2 of them cache
 * hits) and a failure of 900 ms; support/b 3 of 5, 1 and 3 ms; triage (no
 * split) one failure; plus calls outside a route, of another project, and
 * older ones, which the filters must leave out. */
static void write_variants(llmsvc_store *st)
{
    store_conn *c = connect_to(st);
    for (int i = 20; i >= 1; i--) { /* in no particular order */
        call_record r = routed("support", "a", "succeeded", i == 3 || i == 17, i, 5000 + i);
        record(st, c, &r);
    }
    call_record more[] = {
        routed("support", "a", "failed", 0, 900, 5100),
        routed("support", "b", "succeeded", 0, 5, 5200),
        routed("support", "b", "succeeded", 0, 1, 5201),
        routed("support", "b", "succeeded", 1, 3, 5202),
        routed("triage", NULL, "failed", 0, 42, 5300),
        routed("support", "a", "succeeded", 0, 7777, 100), /* older */
        plain_record("main", "org", 1, 5400),              /* no route */
    };
    for (size_t i = 0; i < sizeof more / sizeof *more; i++)
        record(st, c, &more[i]);
    call_record elsewhere = routed("support", "b", "succeeded", 0, 999, 5500);
    elsewhere.project_id = "other";
    record(st, c, &elsewhere);
    st->engine->disconnect(c);
}

START_TEST(the_summary_by_variant_counts_calls_hits_and_percentiles)
{
    char url[URL_SIZE];
    fresh_url("variant_summary", url);
    llmsvc_store *st = open_store(url);
    write_variants(st);

    json_object *a = summary(st, "main", 1000, "variant");
    ck_assert_int_eq(json_object_array_length(a), 3);
    json_object *r = row(a, "route", "support", "arm", "a");
    ck_assert_int_eq(jint(r, "calls"), 21);
    ck_assert_int_eq(jint(r, "failures"), 1);
    ck_assert_int_eq(jint(r, "cache_hits"), 2);
    ck_assert_int_eq(jint(r, "input_tokens"), 200);
    ck_assert_int_eq(jint(r, "output_tokens"), 400);
    ck_assert_int_eq(jint(r, "reasoning_tokens"), 0);
    ck_assert(jdbl(r, "cost_usd") == 18 * 0.25);
    ck_assert(jdbl(r, "latency_ms_avg") == (210.0 + 900) / 21);
    ck_assert(jdbl(r, "latency_ms_p50") == 10); /* rank ceil(0.5 * 20) = 10 */
    ck_assert(jdbl(r, "latency_ms_p95") == 19); /* rank ceil(0.95 * 20) = 19 */
    r = row(a, "route", "support", "arm", "b");
    ck_assert_int_eq(jint(r, "calls"), 3);
    ck_assert_int_eq(jint(r, "failures"), 0);
    ck_assert_int_eq(jint(r, "cache_hits"), 1);
    ck_assert(jdbl(r, "latency_ms_p50") == 3); /* rank 2 of 1, 3, 5 */
    ck_assert(jdbl(r, "latency_ms_p95") == 5); /* rank 3 */
    r = row(a, "route", "triage", "arm", NULL);
    ck_assert_int_eq(jint(r, "calls"), 1);
    ck_assert_int_eq(jint(r, "failures"), 1);
    ck_assert_ptr_null(jget(r, "latency_ms_p50")); /* no successful call */
    ck_assert_ptr_null(jget(r, "latency_ms_p95"));
    /* ordered by route, then arm */
    ck_assert_str_eq(json_object_get_string(jget(json_object_array_get_idx(a, 0), "arm")), "a");
    json_object_put(a);

    /* every project, every time: the other project's and the older call count */
    a = summary(st, NULL, 0, "variant");
    r = row(a, "route", "support", "arm", "b");
    ck_assert_int_eq(jint(r, "calls"), 4);
    ck_assert(jdbl(r, "latency_ms_p95") == 999);
    r = row(a, "route", "support", "arm", "a");
    ck_assert_int_eq(jint(r, "calls"), 22);
    ck_assert(jdbl(r, "latency_ms_p50") == 11); /* rank 11 of 1..20, 7777 */
    json_object_put(a);

    /* the other groups count the cache hits too */
    a = summary(st, "main", 0, NULL);
    ck_assert_int_eq(jint(row(a, "provider", "mock", "model", "mock-1"), "cache_hits"), 3);
    json_object_put(a);
    a = summary(st, NULL, 0, "project");
    ck_assert_int_eq(jint(row(a, "project_id", "main", NULL, NULL), "cache_hits"), 3);
    ck_assert_int_eq(jint(row(a, "project_id", "other", NULL, NULL), "cache_hits"), 0);
    json_object_put(a);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(an_unknown_group_is_refused_naming_the_groups)
{
    char url[URL_SIZE];
    fresh_url("unknown_group", url);
    llmsvc_store *st = open_store(url);
    llmsvc_records_filter f = LLMSVC_RECORDS_FILTER_INIT;
    f.group_by = "arm";
    char *json = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_records_summary(st, &f, &json, &err), LLMSVC_E_INVALID_ARG, err);
    tu_assert_has(llmsvc_error_message(err), "'arm'");
    tu_assert_has(llmsvc_error_message(err), "variant");
    ck_assert_ptr_null(json);
    llmsvc_error_free(err);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(record_and_finish_write_the_route_columns)
{
    char url[URL_SIZE];
    fresh_url("route_columns", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    const char *tries = "[{\"provider\":\"openai\",\"model\":\"gpt-4o\",\"code\":\"RATE_LIMITED\","
                        "\"http_status\":429,\"latency_ms\":12.5},{\"provider\":\"anthropic\","
                        "\"model\":\"claude\",\"code\":\"OK\",\"latency_ms\":30.25}]";
    call_record r = routed("support", "b", "succeeded", 1, 3, 1000);
    r.route_attempts = tries;
    record(st, c, &r);

    job_new j = {"job_route", "main", "org", NULL, "{}", 3, 2000};
    char *id = NULL;
    int created = 0, got = 0, applied = 0;
    llmsvc_error *err = NULL;
    tu_assert_code(st->engine->submit(c, &j, &id, &created, &err), LLMSVC_OK, err);
    free(id);
    job_row jr = {0};
    tu_assert_code(st->engine->claim(c, "me", 2000, 60000, &jr, &got, &err), LLMSVC_OK, err);
    ck_assert_int_eq(got, 1);
    call_record fr = routed("triage", NULL, "succeeded", 0, 8, 2100);
    fr.job_id = "job_route";
    fr.route_attempts = "[]";
    job_finish f = {"job_route", "me", FINISH_SUCCEEDED, "{}", NULL, 0, 2100, &fr};
    tu_assert_code(st->engine->finish(c, &f, &applied, &err), LLMSVC_OK, err);
    ck_assert_int_eq(applied, 1);
    store_row_clear(&jr);

    char *v = sql(url, "SELECT route_attempts FROM llmsvc_records WHERE route = 'support'");
    ck_assert_str_eq(v, tries);
    free(v);
    v = sql(url, "SELECT arm FROM llmsvc_records WHERE route = 'support'");
    ck_assert_str_eq(v, "b");
    free(v);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_records WHERE cached"), 1);
    ck_assert_int_eq(sql_int(url, "SELECT COUNT(*) FROM llmsvc_records WHERE job_id = 'job_route'"
                                  " AND route = 'triage' AND arm IS NULL AND NOT cached"
                                  " AND route_attempts = '[]'"),
                     1);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

#ifdef HAVE_PG
START_TEST(both_engines_give_the_same_sums_and_percentiles)
{
    char url[URL_SIZE], dir[TU_PATH], sq_url[URL_SIZE];
    fresh_url("same_numbers", url);
    tu_mkdtemp(dir);
    snprintf(sq_url, sizeof sq_url, "sqlite:%s/same.db", dir);
    llmsvc_store *stores[2] = {open_store(url), open_store(sq_url)};
    for (int s = 0; s < 2; s++) {
        write_variants(stores[s]);
        /* and latencies that are not integers; eighths, so that every sum is
         * exact: SQLite adds with compensation (3.43 on), PostgreSQL plainly,
         * and the order of the additions is each engine's own */
        store_conn *c = connect_to(stores[s]);
        for (int i = 0; i < 37; i++) {
            call_record r = routed("odd", i % 3 ? "x" : "y", i % 5 ? "succeeded" : "failed",
                                   i % 7 == 0, (double)((i * 7919) % 101) / 8.0, 6000 + i);
            record(stores[s], c, &r);
        }
        stores[s]->engine->disconnect(c);
    }
    const char *groups[] = {"variant", "model", "project"};
    const char *projects[] = {NULL, "main"};
    int64_t since[] = {0, 5150};
    for (size_t g = 0; g < 3; g++) {
        for (size_t p = 0; p < 2; p++) {
            for (size_t t = 0; t < 2; t++) {
                llmsvc_records_filter f = LLMSVC_RECORDS_FILTER_INIT;
                f.group_by = groups[g];
                f.project_id = projects[p];
                f.since_ms = since[t];
                char *json[2] = {NULL, NULL};
                for (int s = 0; s < 2; s++) {
                    llmsvc_error *err = NULL;
                    tu_assert_code(llmsvc_records_summary(stores[s], &f, &json[s], &err),
                                   LLMSVC_OK, err);
                }
                ck_assert_str_eq(json[0], json[1]);
                llmsvc_free(json[0]);
                llmsvc_free(json[1]);
            }
        }
    }
    llmsvc_store_close(stores[0]);
    llmsvc_store_close(stores[1]);
    tu_rm_rf(dir);
}
END_TEST
#endif

/* ---- store_make_record (records.c) ---- */

START_TEST(a_record_takes_route_arm_hit_and_attempts_from_the_response)
{
    llmsvc_request *req = tu_request("mock", "mock-1", "hello");
    llmsvc_response *resp = response_new();
    ck_assert_ptr_nonnull(resp);
    resp->provider = strdup("anthropic");
    resp->route = strdup("support");
    resp->arm = strdup("b");
    resp->cached = 1;
    resp->latency_ms = 12;
    resp->tries = calloc(2, sizeof *resp->tries);
    ck_assert_ptr_nonnull(resp->tries);
    resp->n_tries = 2;
    resp->tries[0] = (try_info){strdup("openai"), strdup("gpt-4o"), LLMSVC_E_RATE_LIMITED, 429,
                                strdup("slow down"), 12.5};
    resp->tries[1] = (try_info){strdup("anthropic"), strdup("claude"), LLMSVC_OK, 0, NULL, 30.25};

    call_record rec;
    char *rq = NULL, *rs = NULL, *er = NULL, *ra = NULL;
    store_make_record(&rec, req, resp, NULL, &rq, &rs, &er, &ra);
    ck_assert_str_eq(rec.route, "support");
    ck_assert_str_eq(rec.arm, "b");
    ck_assert_int_eq(rec.cached, 1);
    ck_assert_ptr_nonnull(rec.route_attempts);
    /* the array the response's JSON has, as it has it */
    json_object *o = json_tokener_parse(rec.response), *want = NULL;
    ck_assert_ptr_nonnull(o);
    ck_assert(json_object_object_get_ex(o, "route_attempts", &want));
    json_object *got = json_tokener_parse(rec.route_attempts);
    ck_assert_msg(got && json_object_equal(got, want), "%s", rec.route_attempts);
    json_object_put(got);
    json_object_put(o);
    o = json_tokener_parse(rec.route_attempts);
    ck_assert_int_eq(json_object_array_length(o), 2);
    json_object *t0 = json_object_array_get_idx(o, 0);
    ck_assert_str_eq(json_object_get_string(jget(t0, "provider")), "openai");
    ck_assert_str_eq(json_object_get_string(jget(t0, "code")), "RATE_LIMITED");
    ck_assert_int_eq(jint(t0, "http_status"), 429);
    json_object_put(o);
    free(rq);
    free(rs);
    free(er);
    free(ra);

    /* a response outside a route: no route fields */
    free(resp->route);
    free(resp->arm);
    resp->route = resp->arm = NULL;
    resp->cached = 0;
    store_make_record(&rec, req, resp, NULL, &rq, &rs, &er, &ra);
    ck_assert_ptr_null(rec.route);
    ck_assert_ptr_null(rec.arm);
    ck_assert_ptr_null(rec.route_attempts);
    ck_assert_int_eq(rec.cached, 0);
    free(rq);
    free(rs);
    free(er);
    free(ra);
    llmsvc_response_free(resp);

    /* a failed call outside a route has no response */
    llmsvc_error *e = err_new(LLMSVC_E_TRANSPORT, "connection refused");
    store_make_record(&rec, req, NULL, e, &rq, &rs, &er, &ra);
    ck_assert_ptr_null(rec.route);
    ck_assert_ptr_null(rec.route_attempts);
    ck_assert_ptr_null(rs);
    ck_assert_str_eq(rec.status, "failed");
    free(rq);
    free(rs);
    free(er);
    free(ra);
    /* a failed call through a route: the route's attempts, no answer */
    llmsvc_response *shell = response_new();
    shell->route = strdup("support");
    shell->tries = calloc(1, sizeof *shell->tries);
    shell->n_tries = 1;
    shell->tries[0] = (try_info){strdup("openai"), strdup("gpt-4o"), LLMSVC_E_TRANSPORT, 0,
                                 strdup("connection refused"), 3.0};
    store_make_record(&rec, req, shell, e, &rq, &rs, &er, &ra);
    ck_assert_str_eq(rec.status, "failed");
    ck_assert_str_eq(rec.route, "support");
    ck_assert_ptr_null(rs);
    tu_assert_has(rec.route_attempts, "connection refused");
    free(rq);
    free(rs);
    free(er);
    free(ra);
    llmsvc_response_free(shell);
    llmsvc_error_free(e);
    llmsvc_request_free(req);
}
END_TEST

/* ---- llmsvc records --by variant ---- */

typedef struct run {
    int status;
    char *out, *err;
} run;

/* Runs the built llmsvc with args (NULL-terminated), its output captured. */
static run cli(const char *const *args)
{
    char dir[TU_PATH], out[TU_PATH + 8], errp[TU_PATH + 8];
    tu_mkdtemp(dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(errp, sizeof errp, "%s/err", dir);
    const char *argv[16] = {LLMSVC_CLI};
    size_t n = 1;
    for (; args[n - 1]; n++) {
        ck_assert_uint_lt(n, 15);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, LLMSVC_CLI, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "cannot run %s: %s", LLMSVC_CLI, strerror(rc));
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "llmsvc died (status %d)", status);
    run r = {WEXITSTATUS(status), tu_slurp(out), tu_slurp(errp)};
    tu_rm_rf(dir);
    return r;
}

/* The line of text whose first words are w1 and w2, into line. */
static void line_of(char *line, size_t n, const char *text, const char *w1, const char *w2)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        snprintf(line, n, "%.*s", (int)strcspn(p, "\n"), p);
        char a[64] = "", b[64] = "";
        if (sscanf(line, "%63s %63s", a, b) == 2 && !strcmp(a, w1) && !strcmp(b, w2))
            return;
    }
    ck_abort_msg("no line of '%s %s' in:\n%s", w1, w2, text);
}

START_TEST(records_by_variant_prints_a_table_and_json)
{
    char url[URL_SIZE];
    fresh_url("cli_variant", url);
    llmsvc_store *st = open_store(url);
    write_variants(st);
    llmsvc_store_close(st);

    run r = cli((const char *[]){"records", "--store", url, "--by", "variant", NULL});
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    char line[512];
    line_of(line, sizeof line, r.out, "ROUTE", "ARM");
    const char *cols[] = {"ARM", "CALLS", "ERRORS", "HITS", "TOKENS", "COST", "P50 ms", "P95 ms"};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
        tu_assert_has(line, cols[i]);
    /* support/a in all: 22 calls, 1 error, 2 hits, 21 successes of 30 tokens, 19 paid */
    line_of(line, sizeof line, r.out, "support", "a");
    char route[32], arm[32], p50[32], p95[32];
    long long calls, errors, hits, tokens;
    double cost;
    ck_assert_int_eq(sscanf(line, "%31s %31s %lld %lld %lld %lld %lf %31s %31s", route, arm,
                            &calls, &errors, &hits, &tokens, &cost, p50, p95),
                     9);
    ck_assert_int_eq(calls, 22);
    ck_assert_int_eq(errors, 1);
    ck_assert_int_eq(hits, 2);
    ck_assert_int_eq(tokens, 21 * 30);
    ck_assert(fabs(cost - 19 * 0.25) < 1e-9);
    ck_assert_str_eq(p50, "11.0");
    ck_assert_str_eq(p95, "20.0");
    line_of(line, sizeof line, r.out, "triage", "-");
    tu_assert_has(line, " - "); /* no arm; no percentile without a success */
    ck_assert_int_eq(sscanf(line, "%31s %31s %lld %lld %lld %lld %lf %31s %31s", route, arm,
                            &calls, &errors, &hits, &tokens, &cost, p50, p95),
                     9);
    ck_assert_str_eq(arm, "-");
    ck_assert_str_eq(p50, "-");
    ck_assert_str_eq(p95, "-");
    free(r.out);
    free(r.err);

    r = cli((const char *[]){"records", "--store", url, "--by", "variant", "--project", "main",
                             "--json", NULL});
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    json_object *a = json_tokener_parse(r.out);
    ck_assert_msg(a != NULL, "not JSON: %s", r.out);
    json_object *b = row(a, "route", "support", "arm", "b");
    const char *keys[] = {"route",          "arm",           "calls",           "failures",
                          "cache_hits",     "input_tokens",  "output_tokens",   "reasoning_tokens",
                          "cost_usd",       "latency_ms_avg", "latency_ms_p50", "latency_ms_p95"};
    ck_assert_int_eq(json_object_object_length(b), sizeof keys / sizeof *keys);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        jget(b, keys[i]);
    ck_assert_int_eq(jint(b, "calls"), 3);
    ck_assert(jdbl(b, "latency_ms_p50") == 3);
    json_object_put(a);
    free(r.out);
    free(r.err);

    r = cli((const char *[]){"records", "--store", url, "--by", "arm", NULL});
    ck_assert_int_eq(r.status, 2);
    tu_assert_has(r.err, "model, project or variant");
    free(r.out);
    free(r.err);
    r = cli((const char *[]){"records", "--help", NULL});
    ck_assert_int_eq(r.status, 0);
    tu_assert_has(r.out, "--by model|project|variant");
    free(r.out);
    free(r.err);
}
END_TEST

/* ---- the suite ---- */

static void add_engine_tests(TCase *tc)
{
    tcase_add_test(tc, a_new_store_is_at_version_2_with_the_new_tables);
    tcase_add_test(tc, a_version_1_store_with_records_upgrades_in_place);
    tcase_add_test(tc, connections_opening_a_version_1_store_at_once_upgrade_it_once);
    tcase_add_test(tc, a_bucket_starts_full_and_refuses_with_the_wait);
    tcase_add_test(tc, a_bucket_refills_over_time_up_to_its_capacity);
    tcase_add_test(tc, giving_back_is_clamped_to_the_capacity);
    tcase_add_test(tc, cap_level_lowers_the_level_and_never_raises_it);
    tcase_add_test(tc, a_take_above_capacity_is_granted_only_from_a_full_bucket);
    tcase_add_test(tc, takers_on_eight_connections_take_exactly_what_the_bucket_holds);
    tcase_add_test(tc, the_cache_gives_what_was_put_until_it_expires);
    tcase_add_test(tc, cache_puts_drop_expired_entries_so_they_do_not_pile_up);
    tcase_add_test(tc, spend_sums_a_project_or_else_an_organization_since_a_time);
    tcase_add_test(tc, the_summary_by_variant_counts_calls_hits_and_percentiles);
    tcase_add_test(tc, an_unknown_group_is_refused_naming_the_groups);
    tcase_add_test(tc, record_and_finish_write_the_route_columns);
}

static Suite *suite(void)
{
    Suite *s = suite_create("store_ops");
    TCase *tc = tu_tcase("sqlite");
    tcase_add_unchecked_fixture(tc, sqlite_up, NULL);
    add_engine_tests(tc);
    tcase_add_test(tc, records_by_variant_prints_a_table_and_json);
    suite_add_tcase(s, tc);
#ifdef HAVE_PG
    tc = tu_tcase("postgres");
    tcase_add_unchecked_fixture(tc, pg_up, pg_down);
    add_engine_tests(tc);
    tcase_add_test(tc, both_engines_give_the_same_sums_and_percentiles);
    tcase_add_test(tc, records_by_variant_prints_a_table_and_json);
    suite_add_tcase(s, tc);
#endif
    tc = tu_tcase("records");
    tcase_add_test(tc, a_record_takes_route_arm_hit_and_attempts_from_the_response);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
