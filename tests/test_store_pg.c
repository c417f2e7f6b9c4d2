/* test_store_pg — the PostgreSQL job store (core/store_pg.c) against a real
 * server that tests/pgharness.h starts for this executable: migrations (also
 * by processes starting at once), submit/get/cancel and idempotency keys,
 * claims by concurrent claimers and after a lease passed, finishes that apply
 * only for the owner, LISTEN/NOTIFY wake-ups, 4 workers running 1,000 jobs
 * through the mock plugin, and what an unreachable or vanished server gives.
 * Each test works in a database of its own on the shared cluster. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "pgharness.h"
#include "store.h"
#include "testutil.h"

#define MOCK_SPEC PROJECT_SRC_DIR "/specs/mock.yaml"

static pg_harness pg;

static void cluster_up(void)
{
    PGH_START_OR_FAIL(&pg);
}

static void cluster_down(void)
{
    pgh_stop(&pg);
}

/* ---- helpers ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A new empty database on the shared cluster; its URL into url[512]. */
static void fresh_db(const char *name, char url[512])
{
    ck_assert_msg(pgh_create_db(&pg, name, url, 512) == 0, "%s", pg.error);
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

/* A direct libpq connection, to look at the tables. */
static PGconn *sql_conn(const char *url)
{
    PGconn *c = PQconnectdb(url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s: %s", url, PQerrorMessage(c));
    return c;
}

/* The one value a query gives, as a number. */
static long long sql_int(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", q,
                  PQerrorMessage(c));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static void sql_exec(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", q, PQerrorMessage(c));
    PQclear(r);
}

static char *submit(llmsvc_store *st, const char *prompt, const char *key)
{
    llmsvc_request *req = tu_request("mock", "mock-1", prompt);
    llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
    o.idempotency_key = key;
    char *id = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_submit(st, req, &o, &id, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    llmsvc_request_free(req);
    return id;
}

/* A job as its JSON, parsed. */
static json_object *job_json(llmsvc_store *st, const char *id)
{
    char *json = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_get(st, id, &json, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *o = json_tokener_parse(json);
    ck_assert_msg(o != NULL, "not JSON: %s", json);
    llmsvc_free(json);
    return o;
}

static const char *field(json_object *o, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(o, name, &v) && v ? json_object_get_string(v) : NULL;
}

/* engine shorthands: ck-failing on errors */
static job_new new_job(const char *id, int64_t now)
{
    job_new j = {id, "proj", "org", NULL, "{\"provider\":\"mock\"}", 3, now};
    return j;
}

static void eng_submit(llmsvc_store *st, store_conn *c, const job_new *j)
{
    char *id = NULL;
    int created = 0;
    llmsvc_error *err = NULL;
    llmsvc_code rc = st->engine->submit(c, j, &id, &created, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    free(id);
}

static int eng_claim(llmsvc_store *st, store_conn *c, const char *owner, int64_t now, long lease,
                     job_row *out)
{
    int got = 0;
    llmsvc_error *err = NULL;
    llmsvc_code rc = st->engine->claim(c, owner, now, lease, out, &got, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return got;
}

static call_record record_for(const char *job_id, int attempt, int64_t now)
{
    call_record r = {0};
    r.job_id = job_id;
    r.project_id = "proj";
    r.provider = "mock";
    r.model = "mock-1";
    r.request = "{}";
    r.response = "{\"ok\":true}";
    r.status = "succeeded";
    r.input_tokens = 3;
    r.output_tokens = 4;
    r.reasoning_tokens = -1;
    r.cost_usd = 0.25;
    r.latency_ms = 1.5;
    r.attempt = attempt;
    r.created_at = now;
    return r;
}

static int eng_finish(llmsvc_store *st, store_conn *c, const char *id, const char *owner,
                      finish_kind kind, int64_t now, const call_record *rec)
{
    /* as worker.c fills it: a result for a success, an error otherwise */
    job_finish f = {id, owner, kind, NULL, NULL, now + 10000, now, rec};
    if (kind == FINISH_SUCCEEDED)
        f.result = "{\"answer\": \"42\" }";
    else if (kind != FINISH_RELEASE)
        f.error = "{\"code\":\"TRANSPORT\"}";
    int applied = -1;
    llmsvc_error *err = NULL;
    llmsvc_code rc = st->engine->finish(c, &f, &applied, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    return applied;
}

static llmsvc_runtime *mock_runtime(char plugins[TU_PATH], tu_log *log)
{
    tu_mkdtemp(plugins);
    tu_install_mock(plugins);
    llmsvc_options o;
    tu_options(&o, plugins, MOCK_SPEC, log);
    return tu_open(&o);
}

/* A TCP port on 127.0.0.1 where nothing listens. */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* ---- schema ---- */

START_TEST(opens_and_migrates_once)
{
    char url[512];
    fresh_db("migrates_once", url);
    llmsvc_store *a = open_store(url), *b = open_store(url);
    PGconn *q = sql_conn(url);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_schema"), 2);
    ck_assert_int_eq(sql_int(q, "SELECT max(version) FROM llmsvc_schema"), 2);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM pg_indexes"
                                " WHERE indexname = 'llmsvc_jobs_runnable'"),
                     1);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_jobs"), 0);
    PQfinish(q);
    llmsvc_store_close(a);
    llmsvc_store_close(b);
}
END_TEST

START_TEST(processes_opening_a_fresh_database_at_once_migrate_it_once)
{
    enum { PROCS = 4, ROUNDS = 3 };
    for (int round = 0; round < ROUNDS; round++) {
        char name[32], url[512];
        snprintf(name, sizeof name, "at_once_%d", round);
        fresh_db(name, url);
        int go[2];
        ck_assert_int_eq(pipe(go), 0);
        pid_t kids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            kids[i] = fork();
            ck_assert_int_ge(kids[i], 0);
            if (kids[i] == 0) {
                close(go[1]);
                char b;
                (void)!read(go[0], &b, 1); /* EOF: everyone starts now */
                llmsvc_store *st = NULL;
                llmsvc_error *err = NULL;
                llmsvc_code rc = llmsvc_store_open(&st, url, &err);
                if (rc != LLMSVC_OK)
                    fprintf(stderr, "child %d: %s\n", i, llmsvc_error_message(err));
                llmsvc_error_free(err);
                llmsvc_store_close(st);
                _exit(rc == LLMSVC_OK ? 0 : 1);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int i = 0; i < PROCS; i++) {
            int status;
            ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "round %d: process %d could not open the store", round, i);
        }
        PGconn *q = sql_conn(url);
        ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_schema"), 2);
        ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM pg_tables WHERE tablename"
                                    " IN ('llmsvc_jobs', 'llmsvc_records')"),
                         2);
        PQfinish(q);
    }
}
END_TEST

START_TEST(refuses_a_newer_schema)
{
    char url[512];
    fresh_db("newer_schema", url);
    llmsvc_store_close(open_store(url));
    PGconn *q = sql_conn(url);
    sql_exec(q, "INSERT INTO llmsvc_schema (version) VALUES (99)");
    PQfinish(q);
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_store_open(&st, url, &err), LLMSVC_E_STORE, err);
    tu_assert_has(llmsvc_error_message(err), "schema version 99, newer than");
    tu_assert_has(llmsvc_error_message(err), "newer_schema");
    ck_assert_int_eq(llmsvc_error_retryable(err), 0);
    ck_assert_ptr_null(st);
    llmsvc_error_free(err);
}
END_TEST

/* ---- submit, get, cancel ---- */

START_TEST(submit_get_and_cancel)
{
    char url[512];
    fresh_db("submit_get_cancel", url);
    llmsvc_store *st = open_store(url);
    char *id = submit(st, "Say hello.", NULL);
    tu_assert_has(id, "job_");
    json_object *o = job_json(st, id);
    ck_assert_str_eq(field(o, "id"), id);
    ck_assert_str_eq(field(o, "state"), "pending");
    ck_assert_str_eq(field(o, "attempts"), "0");
    ck_assert_str_eq(field(o, "max_attempts"), "3");
    ck_assert_ptr_null(field(o, "started_at"));
    json_object *req;
    ck_assert(json_object_object_get_ex(o, "request", &req));
    tu_assert_has(json_object_to_json_string(req), "Say hello.");
    json_object_put(o);

    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_job_cancel(st, id, &err), LLMSVC_OK, err);
    o = job_json(st, id);
    ck_assert_str_eq(field(o, "state"), "cancelled");
    ck_assert_ptr_nonnull(field(o, "finished_at"));
    json_object_put(o);
    tu_assert_code(llmsvc_job_cancel(st, id, &err), LLMSVC_E_VALIDATION, err);
    tu_assert_has(llmsvc_error_message(err), "already cancelled");
    llmsvc_error_free(err);
    err = NULL;

    char *json = NULL;
    tu_assert_code(llmsvc_job_get(st, "job_nope", &json, &err), LLMSVC_E_NOT_FOUND, err);
    tu_assert_has(llmsvc_error_message(err), "job_nope");
    llmsvc_error_free(err);
    err = NULL;
    tu_assert_code(llmsvc_job_cancel(st, "job_nope", &err), LLMSVC_E_NOT_FOUND, err);
    llmsvc_error_free(err);
    /* a NOT_FOUND leaves the pooled connection usable */
    char *id2 = submit(st, "again", NULL);
    ck_assert_str_ne(id, id2);
    llmsvc_free(id2);
    llmsvc_free(id);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(an_idempotency_key_gives_the_first_job)
{
    char url[512];
    fresh_db("idempotency", url);
    llmsvc_store *st = open_store(url);
    char *a = submit(st, "one", "key-1"), *b = submit(st, "two", "key-1");
    char *c = submit(st, "three", "key-2"), *d = submit(st, "four", NULL),
         *e = submit(st, "four", NULL);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_str_ne(d, e);
    json_object *o = job_json(st, b);
    tu_assert_has(json_object_to_json_string(o), "one"); /* the first request, not the second */
    json_object_put(o);
    PGconn *q = sql_conn(url);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_jobs"), 4);
    PQfinish(q);
    llmsvc_free(a);
    llmsvc_free(b);
    llmsvc_free(c);
    llmsvc_free(d);
    llmsvc_free(e);
    llmsvc_store_close(st);
}
END_TEST

enum { KEY_THREADS = 4, KEYS = 25 };

typedef struct key_arg {
    llmsvc_store *st;
    pthread_barrier_t *barrier;
    char *ids[KEYS];
    int failures;
} key_arg;

static void *submit_keys(void *p)
{
    key_arg *a = p;
    for (int k = 0; k < KEYS; k++) {
        char key[32];
        snprintf(key, sizeof key, "shared-%d", k);
        llmsvc_request *req = tu_request("mock", "mock-1", key);
        llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
        o.idempotency_key = key;
        llmsvc_error *err = NULL;
        pthread_barrier_wait(a->barrier);
        if (llmsvc_job_submit(a->st, req, &o, &a->ids[k], &err) != LLMSVC_OK) {
            fprintf(stderr, "submit: %s\n", llmsvc_error_message(err));
            a->failures++;
        }
        llmsvc_error_free(err);
        llmsvc_request_free(req);
    }
    return NULL;
}

START_TEST(one_key_from_four_threads_makes_one_job)
{
    char url[512];
    fresh_db("one_key_four_threads", url);
    llmsvc_store *st = open_store(url);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, KEY_THREADS);
    key_arg args[KEY_THREADS];
    pthread_t th[KEY_THREADS];
    for (int i = 0; i < KEY_THREADS; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].st = st;
        args[i].barrier = &barrier;
        ck_assert_int_eq(pthread_create(&th[i], NULL, submit_keys, &args[i]), 0);
    }
    for (int i = 0; i < KEY_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < KEY_THREADS; i++)
        ck_assert_int_eq(args[i].failures, 0);
    for (int k = 0; k < KEYS; k++) {
        for (int i = 1; i < KEY_THREADS; i++)
            ck_assert_str_eq(args[i].ids[k], args[0].ids[k]);
    }
    for (int i = 0; i < KEY_THREADS; i++)
        for (int k = 0; k < KEYS; k++)
            llmsvc_free(args[i].ids[k]);
    PGconn *q = sql_conn(url);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_jobs"), KEYS);
    PQfinish(q);
    llmsvc_store_close(st);
}
END_TEST

/* ---- claims ---- */

enum { CLAIMERS = 4, CLAIM_JOBS = 1000 };

typedef struct claim_arg {
    llmsvc_store *st;
    pthread_barrier_t *barrier; /* all connected before anyone claims, and all
                                   made their first claim before anyone goes on */
    char owner[32];
    char **ids;
    int n, bad_attempts, errors;
} claim_arg;

static void *claim_all(void *p)
{
    claim_arg *a = p;
    store_conn *c = NULL;
    llmsvc_error *err = NULL;
    if (store_connect(a->st, &c, &err) != LLMSVC_OK) {
        fprintf(stderr, "connect: %s\n", llmsvc_error_message(err));
        llmsvc_error_free(err);
        err = NULL;
        a->errors++;
    }
    pthread_barrier_wait(a->barrier);
    int first = 1;
    while (c && a->n < CLAIM_JOBS) { /* more than all of them would be a failure anyway */
        job_row row = {0};
        int got = 0;
        int64_t now = store_now_ms();
        llmsvc_code claimed = a->st->engine->claim(c, a->owner, now, 60000, &row, &got, &err);
        if (first) {
            /* no one drains the queue before all four have claimed: each
             * first claim is made while the others hold theirs running */
            pthread_barrier_wait(a->barrier);
            first = 0;
        }
        if (claimed != LLMSVC_OK) {
            a->errors++;
            break;
        }
        if (!got)
            break;
        if (row.attempts != 1 || strcmp(row.state, "running"))
            a->bad_attempts++;
        a->ids[a->n++] = strdup(row.id);
        call_record rec = record_for(row.id, row.attempts, now);
        job_finish f = {row.id, a->owner, FINISH_SUCCEEDED, "{}", NULL, 0, now, &rec};
        int applied = 0;
        llmsvc_code rc = a->st->engine->finish(c, &f, &applied, &err);
        store_row_clear(&row);
        if (rc != LLMSVC_OK || !applied) {
            a->errors++;
            break;
        }
    }
    if (first)
        pthread_barrier_wait(a->barrier); /* never claimed: the others still wait for it */
    if (err) {
        fprintf(stderr, "%s\n", llmsvc_error_message(err));
        llmsvc_error_free(err);
    }
    if (c)
        a->st->engine->disconnect(c);
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(each_job_is_claimed_once_by_four_claimers)
{
    char url[512];
    fresh_db("claimed_once", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    int64_t t0 = store_now_ms();
    for (int i = 0; i < CLAIM_JOBS; i++) {
        char id[32];
        store_new_job_id(id);
        job_new j = new_job(id, t0 - CLAIM_JOBS + i);
        eng_submit(st, c, &j);
    }
    st->engine->disconnect(c);
    claim_arg args[CLAIMERS];
    pthread_t th[CLAIMERS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, CLAIMERS);
    for (int i = 0; i < CLAIMERS; i++) {
        memset(&args[i], 0, sizeof args[i]);
        args[i].st = st;
        args[i].barrier = &barrier;
        snprintf(args[i].owner, sizeof args[i].owner, "claimer-%d", i);
        args[i].ids = calloc(CLAIM_JOBS, sizeof *args[i].ids);
        ck_assert_int_eq(pthread_create(&th[i], NULL, claim_all, &args[i]), 0);
    }
    for (int i = 0; i < CLAIMERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    char **all = calloc(CLAIM_JOBS * CLAIMERS, sizeof *all);
    int n = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        ck_assert_int_eq(args[i].errors, 0);
        ck_assert_int_eq(args[i].bad_attempts, 0);
        ck_assert_int_gt(args[i].n, 0); /* a claim skips the rows others hold */
        for (int k = 0; k < args[i].n; k++)
            all[n++] = args[i].ids[k];
        free(args[i].ids);
    }
    ck_assert_int_eq(n, CLAIM_JOBS);
    qsort(all, (size_t)n, sizeof *all, cmp_str);
    for (int k = 1; k < n; k++)
        ck_assert_msg(strcmp(all[k - 1], all[k]) != 0, "job %s claimed twice", all[k]);
    for (int k = 0; k < n; k++)
        free(all[k]);
    free(all);
    PGconn *q = sql_conn(url);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_jobs"
                                " WHERE state = 'succeeded' AND attempts = 1"),
                     CLAIM_JOBS);
    ck_assert_int_eq(sql_int(q, "SELECT count(DISTINCT job_id) FROM llmsvc_records"), CLAIM_JOBS);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_records"), CLAIM_JOBS);
    PQfinish(q);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(a_lease_past_its_time_is_claimed_again)
{
    char url[512];
    fresh_db("lease_passed", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    int64_t t0 = store_now_ms();
    job_new j = new_job("job_lease", t0);
    eng_submit(st, c, &j);
    job_row row = {0};
    ck_assert(eng_claim(st, c, "A", t0, 1000, &row));
    ck_assert_str_eq(row.id, "job_lease");
    ck_assert_str_eq(row.state, "running");
    ck_assert_int_eq(row.attempts, 1);
    ck_assert_int_eq(row.started_at, t0);
    store_row_clear(&row);
    ck_assert(!eng_claim(st, c, "B", t0 + 500, 1000, &row));  /* within its lease */
    ck_assert(!eng_claim(st, c, "B", t0 + 1000, 1000, &row)); /* at its end */
    ck_assert(eng_claim(st, c, "B", t0 + 1001, 1000, &row));  /* past it */
    ck_assert_str_eq(row.id, "job_lease");
    ck_assert_int_eq(row.attempts, 2);
    ck_assert_int_eq(row.started_at, t0); /* the first start stays */
    store_row_clear(&row);
    ck_assert_int_eq(eng_finish(st, c, "job_lease", "A", FINISH_SUCCEEDED, t0 + 1100, NULL), 0);
    ck_assert_int_eq(eng_finish(st, c, "job_lease", "B", FINISH_SUCCEEDED, t0 + 1100, NULL), 1);
    ck_assert(!eng_claim(st, c, "C", t0 + 999999, 1000, &row)); /* ended jobs stay ended */
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

/* ---- finishing ---- */

START_TEST(finish_applies_only_for_the_owner)
{
    char url[512];
    fresh_db("finish_owner", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    int64_t t0 = store_now_ms();
    job_new j = new_job("job_owned", t0);
    eng_submit(st, c, &j);
    job_row row = {0};
    ck_assert(eng_claim(st, c, "A", t0, 60000, &row));
    store_row_clear(&row);

    int owned = -1;
    llmsvc_error *err = NULL;
    tu_assert_code(st->engine->renew(c, "job_owned", "B", t0 + 90000, &owned, &err), LLMSVC_OK,
                   err);
    ck_assert_int_eq(owned, 0);
    tu_assert_code(st->engine->renew(c, "job_owned", "A", t0 + 90000, &owned, &err), LLMSVC_OK,
                   err);
    ck_assert_int_eq(owned, 1);
    /* the renewed lease holds past the first one's end */
    ck_assert(!eng_claim(st, c, "B", t0 + 60001, 60000, &row));

    call_record rec = record_for("job_owned", 1, t0);
    ck_assert_int_eq(eng_finish(st, c, "job_owned", "B", FINISH_SUCCEEDED, t0, &rec), 0);
    json_object *o = job_json(st, "job_owned");
    ck_assert_str_eq(field(o, "state"), "running");
    json_object_put(o);
    ck_assert_int_eq(eng_finish(st, c, "job_owned", "A", FINISH_SUCCEEDED, t0, &rec), 1);
    ck_assert_int_eq(eng_finish(st, c, "job_owned", "A", FINISH_SUCCEEDED, t0, &rec), 0);
    ck_assert_int_eq(eng_finish(st, c, "job_owned", "A", FINISH_FAILED, t0, &rec), 0);

    ck_assert_int_eq(st->engine->get(c, "job_owned", &row, &err), LLMSVC_OK);
    ck_assert_str_eq(row.state, "succeeded");
    ck_assert_str_eq(row.result, "{\"answer\": \"42\" }"); /* byte for byte */
    ck_assert_ptr_null(row.error);
    ck_assert_int_eq(row.finished_at, t0);
    store_row_clear(&row);
    PGconn *q = sql_conn(url);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_records WHERE job_id = 'job_owned'"),
                     1);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_records WHERE job_id = 'job_owned'"
                                " AND reasoning_tokens IS NULL AND input_tokens = 3"),
                     1);
    PQfinish(q);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(a_stale_owner_adds_no_second_success)
{
    char url[512];
    fresh_db("stale_owner", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    int64_t t0 = store_now_ms();
    /* job 1: the stale owner finishes after the new one; job 2: before it */
    const char *ids[2] = {"job_stale_1", "job_stale_2"};
    for (int k = 0; k < 2; k++) {
        job_new j = new_job(ids[k], t0 + k);
        eng_submit(st, c, &j);
        job_row row = {0};
        ck_assert(eng_claim(st, c, "A", t0 + 10, 100, &row));
        ck_assert_str_eq(row.id, ids[k]);
        store_row_clear(&row);
        ck_assert(eng_claim(st, c, "B", t0 + 200, 100, &row)); /* A's lease passed */
        ck_assert_str_eq(row.id, ids[k]);
        ck_assert_int_eq(row.attempts, 2);
        store_row_clear(&row);
        call_record ra = record_for(ids[k], 1, t0), rb = record_for(ids[k], 2, t0);
        if (k == 0) {
            ck_assert_int_eq(eng_finish(st, c, ids[k], "B", FINISH_SUCCEEDED, t0, &rb), 1);
            ck_assert_int_eq(eng_finish(st, c, ids[k], "A", FINISH_SUCCEEDED, t0, &ra), 0);
        } else {
            ck_assert_int_eq(eng_finish(st, c, ids[k], "A", FINISH_SUCCEEDED, t0, &ra), 0);
            ck_assert_int_eq(eng_finish(st, c, ids[k], "B", FINISH_SUCCEEDED, t0, &rb), 1);
        }
    }
    PGconn *q = sql_conn(url);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_records"), 2);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_records WHERE attempt = 2"), 2);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_jobs WHERE state = 'succeeded'"), 2);
    PQfinish(q);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(requeue_and_release_put_a_job_back)
{
    char url[512];
    fresh_db("requeue_release", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    int64_t t0 = store_now_ms();
    job_new j = new_job("job_back", t0);
    eng_submit(st, c, &j);
    job_row row = {0};
    llmsvc_error *err = NULL;
    ck_assert(eng_claim(st, c, "A", t0, 60000, &row));
    store_row_clear(&row);
    /* requeue: pending until run_after (t0 + 10000 in eng_finish) */
    ck_assert_int_eq(eng_finish(st, c, "job_back", "A", FINISH_REQUEUE, t0, NULL), 1);
    ck_assert_int_eq(st->engine->get(c, "job_back", &row, &err), LLMSVC_OK);
    ck_assert_str_eq(row.state, "pending");
    ck_assert_int_eq(row.attempts, 1);
    ck_assert_int_eq(row.run_after, t0 + 10000);
    ck_assert_int_eq(row.finished_at, 0);
    ck_assert_str_eq(row.error, "{\"code\":\"TRANSPORT\"}");
    store_row_clear(&row);
    ck_assert(!eng_claim(st, c, "B", t0 + 9999, 60000, &row));
    ck_assert(eng_claim(st, c, "B", t0 + 10000, 60000, &row));
    ck_assert_int_eq(row.attempts, 2);
    store_row_clear(&row);
    /* release: back to pending at once, the attempt not counted */
    ck_assert_int_eq(eng_finish(st, c, "job_back", "B", FINISH_RELEASE, t0 + 10001, NULL), 1);
    ck_assert_int_eq(st->engine->get(c, "job_back", &row, &err), LLMSVC_OK);
    ck_assert_str_eq(row.state, "pending");
    ck_assert_int_eq(row.attempts, 1);
    ck_assert_str_eq(row.error, "{\"code\":\"TRANSPORT\"}"); /* kept */
    store_row_clear(&row);
    ck_assert(eng_claim(st, c, "C", t0 + 10002, 60000, &row));
    ck_assert_int_eq(row.attempts, 2);
    store_row_clear(&row);
    ck_assert_int_eq(eng_finish(st, c, "job_back", "C", FINISH_FAILED, t0 + 10003, NULL), 1);
    ck_assert_int_eq(st->engine->get(c, "job_back", &row, &err), LLMSVC_OK);
    ck_assert_str_eq(row.state, "failed");
    ck_assert_int_eq(row.finished_at, t0 + 10003);
    ck_assert_ptr_null(row.result);
    store_row_clear(&row);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(a_cancelled_running_job_drops_its_finish)
{
    char url[512];
    fresh_db("cancel_running", url);
    llmsvc_store *st = open_store(url);
    store_conn *c = connect_to(st);
    char *id = submit(st, "cancel me", NULL);
    job_row row = {0};
    ck_assert(eng_claim(st, c, "A", store_now_ms(), 60000, &row));
    store_row_clear(&row);
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_job_cancel(st, id, &err), LLMSVC_OK, err);
    call_record rec = record_for(id, 1, store_now_ms());
    ck_assert_int_eq(eng_finish(st, c, id, "A", FINISH_SUCCEEDED, store_now_ms(), &rec), 0);
    int owned = -1;
    tu_assert_code(st->engine->renew(c, id, "A", store_now_ms() + 1000, &owned, &err), LLMSVC_OK,
                   err);
    ck_assert_int_eq(owned, 0);
    json_object *o = job_json(st, id);
    ck_assert_str_eq(field(o, "state"), "cancelled");
    json_object_put(o);
    PGconn *q = sql_conn(url);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_records"), 0);
    PQfinish(q);
    llmsvc_free(id);
    st->engine->disconnect(c);
    llmsvc_store_close(st);
}
END_TEST

/* ---- records ---- */

START_TEST(summary_matches_the_sqlite_engine)
{
    char url[512], dir[TU_PATH], sq_url[TU_PATH + 32];
    fresh_db("summary", url);
    tu_mkdtemp(dir);
    snprintf(sq_url, sizeof sq_url, "sqlite:%s/store.db", dir);
    llmsvc_store *stores[2] = {open_store(url), open_store(sq_url)};
    struct {
        const char *project, *provider, *model, *status;
        int64_t in, out, reasoning;
        double cost, latency;
        int64_t at;
    } recs[] = {
        {"p1", "openai", "gpt-4o", "succeeded", 10, 20, -1, 0.5, 100, 1000},
        {"p1", "openai", "gpt-4o", "failed", -1, -1, -1, -1, 50, 2000},
        {"p2", "openai", "gpt-4o-mini", "succeeded", 1, 2, 3, 0.25, 10, 3000},
        {NULL, "mock", "mock-1", "succeeded", 5, 5, 0, 0, 1, 4000},
        {"p2", "anthropic", "claude", "succeeded", 7, 8, 9, 1.125, 30, 5000},
        {"P0", "Zeta", "m", "failed", -1, -1, -1, -1, 0, 6000},
    };
    for (int s = 0; s < 2; s++) {
        store_conn *c = connect_to(stores[s]);
        for (size_t i = 0; i < sizeof recs / sizeof *recs; i++) {
            call_record r = {0};
            r.project_id = recs[i].project;
            r.provider = recs[i].provider;
            r.model = recs[i].model;
            r.status = recs[i].status;
            r.request = "{}";
            r.input_tokens = recs[i].in;
            r.output_tokens = recs[i].out;
            r.reasoning_tokens = recs[i].reasoning;
            r.cost_usd = recs[i].cost;
            r.latency_ms = recs[i].latency;
            r.attempt = 1;
            r.created_at = recs[i].at;
            llmsvc_error *err = NULL;
            tu_assert_code(stores[s]->engine->record(c, &r, &err), LLMSVC_OK, err);
        }
        stores[s]->engine->disconnect(c);
    }
    const char *groups[] = {NULL, "model", "project"};
    const char *projects[] = {NULL, "p2"};
    int64_t since[] = {0, 2500};
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
                    tu_assert_code(llmsvc_records_summary(stores[s], &f, &json[s], &err), LLMSVC_OK,
                                   err);
                }
                ck_assert_str_eq(json[0], json[1]);
                llmsvc_free(json[0]);
                llmsvc_free(json[1]);
            }
        }
    }
    /* and not trivially: the full summary has what went in */
    char *json = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_records_summary(stores[0], NULL, &json, &err), LLMSVC_OK, err);
    tu_assert_has(json, "\"gpt-4o-mini\"");
    tu_assert_has(json, "\"failures\":1");
    ck_assert(strstr(json, "Zeta") &&
              strstr(json, "Zeta") < strstr(json, "anthropic")); /* bytewise */
    llmsvc_free(json);
    llmsvc_store_close(stores[0]);
    llmsvc_store_close(stores[1]);
    tu_rm_rf(dir);
}
END_TEST

/* ---- notifications ---- */

typedef struct later_arg {
    llmsvc_store *st;
    long delay_ms;
    const char *id; /* finish this claimed job (owner "late"), else submit one */
} later_arg;

static void *later(void *p)
{
    later_arg *a = p;
    sleep_ms(a->delay_ms);
    if (!a->id) {
        llmsvc_free(submit(a->st, "wake up", NULL));
        return NULL;
    }
    store_conn *c = connect_to(a->st);
    ck_assert_int_eq(eng_finish(a->st, c, a->id, "late", FINISH_SUCCEEDED, store_now_ms(), NULL),
                     1);
    a->st->engine->disconnect(c);
    return NULL;
}

START_TEST(wait_work_wakes_when_a_job_is_submitted)
{
    char url[512];
    fresh_db("wakes_on_submit", url);
    llmsvc_store *st = open_store(url);
    /* a worker's connection (claimed before) and one that never claimed */
    store_conn *worker = connect_to(st), *plain = connect_to(st);
    job_row row = {0};
    ck_assert(!eng_claim(st, worker, "W", store_now_ms(), 1000, &row));
    store_conn *conns[2] = {worker, plain};
    for (int i = 0; i < 2; i++) {
        double t = now_ms();
        st->engine->wait_work(conns[i], 300, NULL); /* nothing happens: it sleeps */
        double idle = now_ms() - t;
        ck_assert_msg(idle >= 250 && idle < 1500, "idle wait took %.0f ms", idle);

        later_arg a = {st, 300, NULL};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, later, &a), 0);
        t = now_ms();
        st->engine->wait_work(conns[i], 5000, NULL);
        double woke = now_ms() - t;
        pthread_join(th, NULL);
        ck_assert_msg(woke >= 250 && woke < 2000, "woke %.0f ms after waiting (submit at 300)",
                      woke);
        ck_assert(eng_claim(st, worker, "W", store_now_ms(), 60000, &row));
        store_row_clear(&row);
    }
    /* a worker stopping: a set flag ends the wait soon */
    atomic_int stop = 1;
    double t = now_ms();
    st->engine->wait_work(worker, 5000, &stop);
    ck_assert_double_lt(now_ms() - t, 1000);
    st->engine->disconnect(worker);
    st->engine->disconnect(plain);
    llmsvc_store_close(st);
}
END_TEST

START_TEST(job_wait_wakes_when_the_job_ends)
{
    char url[512];
    fresh_db("job_wait_wakes", url);
    llmsvc_store *st = open_store(url);
    char *id = submit(st, "wait for me", NULL);
    store_conn *c = connect_to(st);
    job_row row = {0};
    ck_assert(eng_claim(st, c, "late", store_now_ms(), 60000, &row));
    store_row_clear(&row);
    st->engine->disconnect(c);
    /* Polling alone (5, 10, 20 ... 500 ms apart) would look at 1135 and 1635
     * ms; the notification brings it back right after 1200. */
    later_arg a = {st, 1200, id};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, later, &a), 0);
    double t = now_ms();
    char *json = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_wait(st, id, 10000, &json, &err);
    double took = now_ms() - t;
    pthread_join(th, NULL);
    tu_assert_code(rc, LLMSVC_OK, err);
    tu_assert_has(json, "\"state\":\"succeeded\"");
    ck_assert_msg(took >= 1150 && took < 1500, "llmsvc_job_wait took %.0f ms (job ended at 1200)",
                  took);
    llmsvc_free(json);
    /* an ended job: at once */
    t = now_ms();
    tu_assert_code(llmsvc_job_wait(st, id, 10000, &json, &err), LLMSVC_OK, err);
    ck_assert_double_lt(now_ms() - t, 500);
    llmsvc_free(json);
    llmsvc_free(id);
    llmsvc_store_close(st);
}
END_TEST

/* ---- workers ---- */

enum { WORKERS = 4, WORKER_JOBS = 1000, SUBMITTERS = 2 };

typedef struct submit_arg {
    llmsvc_store *st;
    int from, to;
    char **ids;
} submit_arg;

static void *submit_range(void *p)
{
    submit_arg *a = p;
    for (int i = a->from; i < a->to; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "job number %d", i);
        a->ids[i] = submit(a->st, prompt, NULL);
    }
    return NULL;
}

START_TEST(four_workers_run_1000_jobs_once_each)
{
    char url[512], plugins[TU_PATH];
    fresh_db("four_workers", url);
    llmsvc_runtime *rt = mock_runtime(plugins, NULL);
    llmsvc_store *st = open_store(url);
    llmsvc_worker *w[WORKERS];
    llmsvc_worker_options o = LLMSVC_WORKER_OPTIONS_INIT;
    o.concurrency = 4;
    for (int i = 0; i < WORKERS; i++) {
        llmsvc_error *err = NULL;
        tu_assert_code(llmsvc_worker_start(&w[i], rt, st, &o, &err), LLMSVC_OK, err);
    }
    sleep_ms(200); /* all idle and listening */

    char **ids = calloc(WORKER_JOBS, sizeof *ids);
    submit_arg sa[SUBMITTERS];
    pthread_t th[SUBMITTERS];
    double t0 = now_ms();
    for (int i = 0; i < SUBMITTERS; i++) {
        sa[i] =
            (submit_arg){st, i * WORKER_JOBS / SUBMITTERS, (i + 1) * WORKER_JOBS / SUBMITTERS, ids};
        ck_assert_int_eq(pthread_create(&th[i], NULL, submit_range, &sa[i]), 0);
    }
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(th[i], NULL);
    double submitted = now_ms() - t0;
    long done = 0, failed = 0, requeued = 0;
    while (done < WORKER_JOBS && now_ms() - t0 < 120000) {
        done = failed = requeued = 0;
        for (int i = 0; i < WORKERS; i++) {
            long s, f, r;
            llmsvc_worker_counts(w[i], &s, &f, &r);
            done += s;
            failed += f;
            requeued += r;
        }
        if (failed || requeued)
            break;
        sleep_ms(1);
    }
    double took = now_ms() - t0;
    fprintf(stderr,
            "test_store_pg: %d workers x %d threads: %d jobs submitted in %.0f ms (%.0f/s), all "
            "done %.0f ms after the first submit: %.0f jobs/s end to end\n",
            WORKERS, o.concurrency, WORKER_JOBS, submitted, WORKER_JOBS * 1000.0 / submitted, took,
            WORKER_JOBS * 1000.0 / took);
    /* idle threads wait up to poll_ms (5 s) for work, and stop at once all the same */
    double stop_t = now_ms();
    for (int i = 0; i < WORKERS; i++)
        llmsvc_worker_stop(w[i], 5000);
    double stopping = now_ms() - stop_t;
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(requeued, 0);
    ck_assert_int_eq(done, WORKER_JOBS);
    ck_assert_msg(stopping < 2000, "stopping 4 idle workers took %.0f ms", stopping);

    PGconn *q = sql_conn(url);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_jobs"), WORKER_JOBS);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_jobs WHERE state = 'succeeded'"
                                " AND attempts = 1 AND lease_owner IS NULL"),
                     WORKER_JOBS);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM llmsvc_records WHERE status = 'succeeded'"),
                     WORKER_JOBS);
    ck_assert_int_eq(sql_int(q, "SELECT count(DISTINCT job_id) FROM llmsvc_records"), WORKER_JOBS);
    ck_assert_int_eq(sql_int(q, "SELECT count(*) FROM (SELECT job_id FROM llmsvc_records"
                                " GROUP BY job_id HAVING count(*) <> 1) x"),
                     0);
    PQfinish(q);
    /* the answers are the mock's echo of each job's own prompt */
    for (int i = 0; i < WORKER_JOBS; i += 97) {
        json_object *j = job_json(st, ids[i]);
        char want[64];
        snprintf(want, sizeof want, "job number %d", i);
        json_object *res;
        ck_assert(json_object_object_get_ex(j, "result", &res) && res);
        tu_assert_has(json_object_to_json_string(res), want);
        json_object_put(j);
    }
    for (int i = 0; i < WORKER_JOBS; i++)
        llmsvc_free(ids[i]);
    free(ids);
    llmsvc_store_close(st);
    llmsvc_runtime_close(rt);
    tu_rm_rf(plugins);
}
END_TEST

/* ---- failures ---- */

START_TEST(an_unreachable_store_is_a_retryable_error_without_its_password)
{
    int port = closed_port();
    char url[2][256];
    snprintf(url[0], sizeof url[0], "postgresql://nobody:s3cr3t@127.0.0.1:%d/llmsvc_test", port);
    snprintf(url[1], sizeof url[1],
             "postgres://127.0.0.1:%d/llmsvc_test?user=nobody&password=s3cr3t", port);
    for (int i = 0; i < 2; i++) {
        llmsvc_store *st = NULL;
        llmsvc_error *err = NULL;
        tu_assert_code(llmsvc_store_open(&st, url[i], &err), LLMSVC_E_STORE, err);
        ck_assert_ptr_null(st);
        const char *m = llmsvc_error_message(err);
        tu_assert_lacks(m, "s3cr3t");
        tu_assert_has(m, "***");
        tu_assert_has(m, "cannot connect");
        char where[64];
        snprintf(where, sizeof where, "127.0.0.1:%d", port);
        tu_assert_has(m, where);
        ck_assert_int_eq(llmsvc_error_retryable(err), 1);
        llmsvc_error_free(err);
    }
    /* a server that answers and refuses: retrying does not help */
    char bad[600];
    snprintf(bad, sizeof bad, "postgresql://%s:hidden@127.0.0.1:%d/no_such_db", pg.user, pg.port);
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_store_open(&st, bad, &err), LLMSVC_E_STORE, err);
    tu_assert_has(llmsvc_error_message(err), "no_such_db");
    tu_assert_lacks(llmsvc_error_message(err), "hidden");
    ck_assert_int_eq(llmsvc_error_retryable(err), 0);
    llmsvc_error_free(err);
}
END_TEST

/* "***" is longer than the password it replaces (store.c's label overflowed) */
START_TEST(a_password_shorter_than_its_mask_is_masked)
{
    char url[256];
    snprintf(url, sizeof url, "postgresql://nobody:p@127.0.0.1:%d/llmsvc_test", closed_port());
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_store_open(&st, url, &err), LLMSVC_E_STORE, err);
    tu_assert_has(llmsvc_error_message(err), "nobody:***@127.0.0.1");
    llmsvc_error_free(err);
}
END_TEST

START_TEST(a_stopped_server_gives_store_errors_not_crashes)
{
    pg_harness own;
    PGH_START_OR_FAIL(&own);
    char plugins[TU_PATH];
    tu_log log;
    tu_log_init(&log);
    llmsvc_runtime *rt = mock_runtime(plugins, &log);
    llmsvc_store *st = open_store(own.url);
    llmsvc_worker_options o = LLMSVC_WORKER_OPTIONS_INIT;
    o.concurrency = 2;
    o.poll_ms = 50;
    o.lease_ms = 300;
    llmsvc_worker *w = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_worker_start(&w, rt, st, &o, &err), LLMSVC_OK, err);
    for (int i = 0; i < 20; i++)
        llmsvc_free(submit(st, "before the fall", NULL));
    long done = 0;
    for (int i = 0; i < 2000 && done < 20; i++) {
        llmsvc_worker_counts(w, &done, NULL, NULL);
        sleep_ms(5);
    }
    ck_assert_int_eq(done, 20);
    store_conn *idle = connect_to(st);

    pgh_stop(&own);

    double t = now_ms();
    st->engine->wait_work(idle, 3000, NULL); /* a dead connection does not wait */
    ck_assert_double_lt(now_ms() - t, 1000);
    job_row row = {0};
    int got = 1;
    tu_assert_code(st->engine->claim(idle, "X", store_now_ms(), 1000, &row, &got, &err),
                   LLMSVC_E_STORE, err);
    ck_assert_int_eq(got, 0);
    ck_assert_int_eq(llmsvc_error_retryable(err), 1);
    llmsvc_error_free(err);
    err = NULL;
    st->engine->disconnect(idle);

    llmsvc_request *req = tu_request("mock", "mock-1", "after the fall");
    char *id = NULL;
    tu_assert_code(llmsvc_job_submit(st, req, NULL, &id, &err), LLMSVC_E_STORE, err);
    ck_assert_int_eq(llmsvc_error_retryable(err), 1);
    llmsvc_error_free(err);
    err = NULL;
    llmsvc_request_free(req);
    char *json = NULL;
    tu_assert_code(llmsvc_job_get(st, "job_x", &json, &err), LLMSVC_E_STORE, err);
    ck_assert_int_eq(llmsvc_error_retryable(err), 1);
    llmsvc_error_free(err);

    sleep_ms(400); /* the worker's threads and heartbeat meet the dead server */
    llmsvc_worker_stop(w, 1000);
    char *text = tu_log_text(&log);
    tu_assert_has(text, "worker:");
    free(text);
    llmsvc_store_close(st);
    llmsvc_runtime_close(rt);
    tu_log_free(&log);
    tu_rm_rf(plugins);
}
END_TEST

/* ---- pg_cluster ---- */

START_TEST(pg_cluster_prints_a_url_and_stops_when_stdin_closes)
{
    int in[2], out[2];
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(PG_CLUSTER, PG_CLUSTER, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char url[600] = "";
    size_t n = 0;
    while (n + 1 < sizeof url && !strchr(url, '\n')) {
        struct pollfd p = {out[0], POLLIN, 0};
        ck_assert_msg(poll(&p, 1, 60000) == 1, "pg_cluster printed no URL within 60 s");
        ssize_t got = read(out[0], url + n, sizeof url - 1 - n);
        ck_assert_msg(got > 0, "pg_cluster ended without a URL");
        n += (size_t)got;
        url[n] = '\0';
    }
    url[strcspn(url, "\n")] = '\0';
    tu_assert_has(url, "postgresql://");
    llmsvc_store_close(open_store(url));

    close(in[1]); /* the end of stdin is the end of the cluster */
    int status = -1;
    for (int i = 0; i < 600 && waitpid(pid, &status, WNOHANG) == 0; i++)
        sleep_ms(50);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pg_cluster did not end well");
    close(out[0]);
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_store_open(&st, url, &err), LLMSVC_E_STORE, err);
    llmsvc_error_free(err);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_pg");
    TCase *tc = tu_tcase("postgres");
    tcase_add_unchecked_fixture(tc, cluster_up, cluster_down);
    tcase_add_test(tc, opens_and_migrates_once);
    tcase_add_test(tc, processes_opening_a_fresh_database_at_once_migrate_it_once);
    tcase_add_test(tc, refuses_a_newer_schema);
    tcase_add_test(tc, submit_get_and_cancel);
    tcase_add_test(tc, an_idempotency_key_gives_the_first_job);
    tcase_add_test(tc, one_key_from_four_threads_makes_one_job);
    tcase_add_test(tc, each_job_is_claimed_once_by_four_claimers);
    tcase_add_test(tc, a_lease_past_its_time_is_claimed_again);
    tcase_add_test(tc, finish_applies_only_for_the_owner);
    tcase_add_test(tc, a_stale_owner_adds_no_second_success);
    tcase_add_test(tc, requeue_and_release_put_a_job_back);
    tcase_add_test(tc, a_cancelled_running_job_drops_its_finish);
    tcase_add_test(tc, summary_matches_the_sqlite_engine);
    tcase_add_test(tc, wait_work_wakes_when_a_job_is_submitted);
    tcase_add_test(tc, job_wait_wakes_when_the_job_ends);
    tcase_add_test(tc, four_workers_run_1000_jobs_once_each);
    tcase_add_test(tc, an_unreachable_store_is_a_retryable_error_without_its_password);
    tcase_add_test(tc, a_password_shorter_than_its_mask_is_masked);
    tcase_add_test(tc, a_stopped_server_gives_store_errors_not_crashes);
    tcase_add_test(tc, pg_cluster_prints_a_url_and_stops_when_stdin_closes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
