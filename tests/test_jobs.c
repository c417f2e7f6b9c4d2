/* test_jobs — jobs, workers and call records on a real SQLite store, in one
 * process: the job API (submit, get, idempotency, cancel, wait), workers
 * (llmsvc_worker_start) running jobs through the real mock plugin and the
 * shipped specs/mock.yaml, job-level retries over loopback HTTP against the
 * fake upstream (the openai-responses plugin), call records and their sums,
 * and the store's schema (concurrent creation, newer versions, corrupt and
 * unreachable files).
 *
 * What a user sees is asserted through the public API; what only the file can
 * tell (how many rows, how many success records per job) is read from the
 * SQLite file with the sqlite3 C API, read-only.
 *
 * Worker runtimes are opened with max_retries 0 so that a failed attempt is a
 * failed job attempt, not hidden by llmsvc_call's own retries. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_upstream.h"
#include "testutil.h"

#define MOCK_SPEC PROJECT_SRC_DIR "/specs/mock.yaml"
#define OPENAI_SPEC PROJECT_SRC_DIR "/specs/openai.yaml"
#define OPENAI_MODEL "gpt-6-luna"
#define TEST_KEY "sk-test-llmsvc-dummy-key-0000"

static char tmp[TU_PATH];
static char db_path[TU_PATH];
static char url[TU_PATH + 16];
static llmsvc_store *st;
static llmsvc_runtime *rt;
static fake_upstream *fu;

/* ---- helpers ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static llmsvc_store *open_store(const char *u)
{
    llmsvc_store *s = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(&s, u, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* llmsvc_store_open that must fail: its error (free it). */
static llmsvc_error *open_fails(const char *u)
{
    llmsvc_store *s = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(&s, u, &err);
    ck_assert_msg(rc != LLMSVC_OK, "store %s opened", u);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(llmsvc_error_code(err), rc);
    return err;
}

static void setup_store(void)
{
    tu_mkdtemp(tmp);
    snprintf(db_path, sizeof db_path, "%s/store/s.db", tmp); /* its folder is created */
    snprintf(url, sizeof url, "sqlite:%s", db_path);
    st = open_store(url);
}

static void teardown_store(void)
{
    llmsvc_runtime_close(rt);
    rt = NULL;
    llmsvc_store_close(st);
    st = NULL;
    fake_upstream_stop(fu);
    fu = NULL;
    tu_env_restore();
    tu_rm_rf(tmp);
}

/* A store and a mock runtime without call-level retries. */
static void setup_mock(void)
{
    setup_store();
    char plugins[TU_PATH];
    snprintf(plugins, sizeof plugins, "%s/plugins", tmp);
    ck_assert_int_eq(mkdir(plugins, 0700), 0);
    tu_install_mock(plugins);
    llmsvc_options o;
    tu_options(&o, plugins, MOCK_SPEC, NULL);
    o.max_retries = 0;
    rt = tu_open(&o);
    ck_assert_ptr_null(llmsvc_runtime_spec_problems(rt));
}

/* A store, the fake upstream, and an openai runtime that reads its base URL
 * and key from the environment, as a worker process does. */
static void setup_http(void)
{
    setup_store();
    tu_setenv("no_proxy", "127.0.0.1,localhost");
    tu_setenv("NO_PROXY", "127.0.0.1,localhost");
    fu = fake_upstream_start(NULL, 0);
    ck_assert_msg(fu != NULL, "the fake upstream did not start");
    char base[128];
    snprintf(base, sizeof base, "%s/v1", fake_upstream_url(fu));
    tu_setenv("OPENAI_BASE_URL", base);
    tu_setenv("OPENAI_API_KEY", TEST_KEY);
    char plugins[TU_PATH];
    snprintf(plugins, sizeof plugins, "%s/plugins", tmp);
    ck_assert_int_eq(mkdir(plugins, 0700), 0);
    tu_copy(NULL, OPENAI_PLUGIN, plugins, "openai-responses.so", 0755);
    llmsvc_options o;
    tu_options(&o, plugins, OPENAI_SPEC, NULL);
    o.flags = LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS; /* env on */
    o.max_retries = 0;
    rt = tu_open(&o);
    ck_assert_ptr_null(llmsvc_runtime_spec_problems(rt));
}

/* A mock request; options is a provider_options JSON object or NULL. */
static llmsvc_request *mock_request(const char *model, const char *prompt, const char *options)
{
    llmsvc_request *req = tu_request("mock", model, prompt);
    if (options) {
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_request_set_provider_options(req, options, &err);
        tu_assert_code(rc, LLMSVC_OK, err);
    }
    return req;
}

/* Submits req; the new job's id (llmsvc_free it). */
static char *submit_opts(const llmsvc_request *req, const char *project, const char *org,
                         const char *key, int max_attempts)
{
    llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
    o.project_id = project;
    o.organization_id = org;
    o.idempotency_key = key;
    o.max_attempts = max_attempts;
    char *id = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_submit(st, req, &o, &id, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    ck_assert_ptr_nonnull(id);
    return id;
}

/* Submits a mock job and frees its request. */
static char *submit_mock(const char *model, const char *prompt, const char *options,
                         const char *project, int max_attempts)
{
    llmsvc_request *req = mock_request(model, prompt, options);
    char *id = submit_opts(req, project, project ? "org-tests" : NULL, NULL, max_attempts);
    llmsvc_request_free(req);
    return id;
}

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    ck_assert_msg(o != NULL, "not JSON: %s", text);
    return o;
}

static json_object *job_get(const char *id)
{
    char *json = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_get(st, id, &json, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *o = parse(json);
    llmsvc_free(json);
    return o;
}

/* Waits for the job to end (at most 30 s). */
static json_object *job_wait(const char *id)
{
    char *json = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_wait(st, id, 30000, &json, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *o = parse(json);
    llmsvc_free(json);
    return o;
}

/* The member key of o, which must be present (its value may be null). */
static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(o && json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
                  o ? json_object_to_json_string(o) : "(null)");
    return v;
}

/* A string member (NULL when null). */
static const char *jstr(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    ck_assert_msg(
        v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)),
        "'%s' is not a number in %s", key, json_object_to_json_string(o));
    return json_object_get_int64(v);
}

static double jdbl(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    ck_assert_msg(v != NULL, "'%s' is null in %s", key, json_object_to_json_string(o));
    return json_object_get_double(v);
}

#define assert_state(o, want)                                                                      \
    ck_assert_msg(!strcmp(jstr((o), "state"), (want)), "state %s, expected %s: %s",                \
                  jstr((o), "state"), (want), json_object_to_json_string(o))

/* "2026-11-25T12:34:56.789Z" */
static void assert_iso_time(const char *s)
{
    ck_assert_ptr_nonnull(s);
    int y, mo, d, h, mi, sec, ms;
    char z = 0;
    ck_assert_msg(
        strlen(s) == 24 &&
            sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms, &z) == 8 &&
            z == 'Z' && y >= 2024 && mo >= 1 && mo <= 12,
        "not an ISO 8601 UTC time: %s", s);
}

/* One integer from the store's file, read with the sqlite3 C API (read-only,
 * a connection of its own). printf-style SQL with sqlite3_mprintf (%Q quotes). */
static int64_t db_int(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *q = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(q);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, q, -1, &s, NULL);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", q, sqlite3_errmsg(db));
    rc = sqlite3_step(s);
    ck_assert_msg(rc == SQLITE_ROW, "%s: no row (%s)", q, sqlite3_errmsg(db));
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    sqlite3_free(q);
    return v;
}

static llmsvc_worker *start_worker(int concurrency)
{
    llmsvc_worker_options o = LLMSVC_WORKER_OPTIONS_INIT;
    o.concurrency = concurrency;
    o.poll_ms = 50;
    llmsvc_worker *w = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_worker_start(&w, rt, st, &o, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    ck_assert_ptr_nonnull(w);
    return w;
}

/* Polls until the job is in state (at most 10 s). */
static void await_state(const char *id, const char *state)
{
    for (int i = 0; i < 1000; i++) {
        json_object *o = job_get(id);
        int there = !strcmp(jstr(o, "state"), state);
        json_object_put(o);
        if (there)
            return;
        sleep_ms(10);
    }
    ck_abort_msg("job %s never became %s", id, state);
}

/* ---- the job API ---- */

START_TEST(submit_queues_a_pending_job_with_its_project_and_org)
{
    llmsvc_request *req = mock_request("mock-1", "Summarise the quarterly report.", NULL);
    int64_t before = now_ms();
    char *id = submit_opts(req, "proj-alpha", "org-acme", NULL, 0);
    ck_assert_msg(strncmp(id, "job_", 4) == 0 && strlen(id) == 28, "job id %s", id);

    json_object *o = job_get(id);
    ck_assert_str_eq(jstr(o, "id"), id);
    assert_state(o, "pending");
    ck_assert_int_eq(jint(o, "attempts"), 0);
    ck_assert_int_eq(jint(o, "max_attempts"), 3); /* the documented default */
    ck_assert_str_eq(jstr(o, "project_id"), "proj-alpha");
    ck_assert_str_eq(jstr(o, "organization_id"), "org-acme");
    assert_iso_time(jstr(o, "created_at"));
    ck_assert_ptr_null(jget(o, "started_at"));
    ck_assert_ptr_null(jget(o, "finished_at"));
    ck_assert_ptr_null(jget(o, "result"));
    ck_assert_ptr_null(jget(o, "error"));
    /* created_at is now, to the second (ISO text has no zone but Z) */
    struct tm tm = {0};
    ck_assert_ptr_nonnull(strptime(jstr(o, "created_at"), "%Y-%m-%dT%H:%M:%S", &tm));
    int64_t created = (int64_t)timegm(&tm) * 1000;
    ck_assert(created >= before / 1000 * 1000 && created <= now_ms());
    json_object_put(o);
    llmsvc_free(id);

    /* without job options, the request's own project and organization */
    llmsvc_request_set_project(req, "proj-beta", "org-beta");
    char *id2 = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_submit(st, req, NULL, &id2, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    o = job_get(id2);
    ck_assert_str_eq(jstr(o, "project_id"), "proj-beta");
    ck_assert_str_eq(jstr(o, "organization_id"), "org-beta");
    json_object_put(o);
    llmsvc_free(id2);
    llmsvc_request_free(req);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE state = 'pending'"), 2);
}
END_TEST

START_TEST(the_stored_request_has_no_api_key)
{
    llmsvc_request *req = mock_request("mock-1", "hi", NULL);
    llmsvc_request_set_api_key(req, "sk-secret-never-stored-1234");
    char *id = submit_opts(req, "p", "o", NULL, 0);
    json_object *o = job_get(id);
    tu_assert_lacks(json_object_to_json_string(o), "sk-secret-never-stored-1234");
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE instr(request, %Q) > 0",
                            "sk-secret-never-stored"),
                     0);
    json_object_put(o);
    llmsvc_free(id);
    llmsvc_request_free(req);
}
END_TEST

START_TEST(submit_refuses_what_cannot_run)
{
    llmsvc_request *req = tu_request("mock", "mock-1", NULL); /* no prompt */
    char *id = NULL;
    llmsvc_error *err = NULL;
    ck_assert_int_eq(llmsvc_job_submit(st, req, NULL, &id, &err), LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "prompt");
    ck_assert_ptr_null(id);
    llmsvc_error_free(err);
    err = NULL;
    llmsvc_request_set_prompt(req, "hi");
    llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
    o.max_attempts = -1;
    ck_assert_int_eq(llmsvc_job_submit(st, req, &o, &id, &err), LLMSVC_E_INVALID_ARG);
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs"), 0);
}
END_TEST

START_TEST(an_idempotency_key_gives_the_first_jobs_id)
{
    llmsvc_request *req = mock_request("mock-1", "charge the card once", NULL);
    char *a = submit_opts(req, "p", "o", "order-1234", 0);
    llmsvc_request_set_prompt(req, "a different prompt, same key");
    char *b = submit_opts(req, "p", "o", "order-1234", 0);
    ck_assert_str_eq(a, b);
    char *c = submit_opts(req, "p", "o", "order-5678", 0);
    ck_assert_str_ne(a, c);
    char *d = submit_opts(req, "p", "o", NULL, 0), *e = submit_opts(req, "p", "o", NULL, 0);
    ck_assert_str_ne(d, e); /* no key: always a new job */
    /* the first submit's request is the one kept */
    json_object *o = job_get(a);
    tu_assert_has(json_object_to_json_string(jget(o, "request")), "charge the card once");
    json_object_put(o);
    ck_assert_int_eq(
        db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE idempotency_key = %Q", "order-1234"), 1);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs"), 4);
    llmsvc_free(a);
    llmsvc_free(b);
    llmsvc_free(c);
    llmsvc_free(d);
    llmsvc_free(e);
    llmsvc_request_free(req);
}
END_TEST

#define RACERS 4

typedef struct racer {
    pthread_barrier_t *go;
    const char *key;
    char *id;
    llmsvc_code rc;
    char msg[256];
} racer;

static void *race_submit(void *arg)
{
    racer *r = arg;
    llmsvc_request *req = NULL;
    llmsvc_request_new(&req);
    llmsvc_request_set_provider(req, "mock");
    llmsvc_request_set_model(req, "mock-1");
    llmsvc_request_set_prompt(req, "at once");
    llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
    o.idempotency_key = r->key;
    llmsvc_error *err = NULL;
    pthread_barrier_wait(r->go);
    r->rc = llmsvc_job_submit(st, req, &o, &r->id, &err);
    if (err)
        snprintf(r->msg, sizeof r->msg, "%s", llmsvc_error_message(err));
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    return NULL;
}

START_TEST(four_threads_submitting_one_key_at_once_make_one_job)
{
    for (int round = 0; round < 10; round++) {
        char key[32];
        snprintf(key, sizeof key, "race-%d", round);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, RACERS);
        racer r[RACERS];
        pthread_t t[RACERS];
        for (int i = 0; i < RACERS; i++) {
            r[i] = (racer){&go, key, NULL, LLMSVC_OK, ""};
            ck_assert_int_eq(pthread_create(&t[i], NULL, race_submit, &r[i]), 0);
        }
        for (int i = 0; i < RACERS; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        for (int i = 0; i < RACERS; i++) {
            ck_assert_msg(r[i].rc == LLMSVC_OK, "round %d thread %d: %s: %s", round, i,
                          llmsvc_code_name(r[i].rc), r[i].msg);
            ck_assert_str_eq(r[i].id, r[0].id);
        }
        ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE idempotency_key = %Q", key),
                         1);
        for (int i = 0; i < RACERS; i++)
            llmsvc_free(r[i].id);
    }
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs"), 10);
}
END_TEST

START_TEST(cancel_ends_a_pending_job_and_refuses_an_ended_or_unknown_one)
{
    char *id = submit_mock("mock-1", "never mind", NULL, "p", 0);
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_cancel(st, id, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *o = job_get(id);
    assert_state(o, "cancelled");
    assert_iso_time(jstr(o, "finished_at"));
    ck_assert_ptr_null(jget(o, "result"));
    json_object_put(o);

    /* cancelling it again: it has ended */
    ck_assert_int_eq(llmsvc_job_cancel(st, id, &err), LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), id);
    tu_assert_has(llmsvc_error_message(err), "cancelled");
    llmsvc_error_free(err);
    err = NULL;

    ck_assert_int_eq(llmsvc_job_cancel(st, "job_000000000000000000000000", &err),
                     LLMSVC_E_NOT_FOUND);
    tu_assert_has(llmsvc_error_message(err), "job_000000000000000000000000");
    llmsvc_error_free(err);
    err = NULL;
    char *json = NULL;
    ck_assert_int_eq(llmsvc_job_get(st, "job_nope", &json, &err), LLMSVC_E_NOT_FOUND);
    ck_assert_ptr_null(json);
    llmsvc_error_free(err);
    err = NULL;
    ck_assert_int_eq(llmsvc_job_wait(st, "job_nope", 100, &json, &err), LLMSVC_E_NOT_FOUND);
    llmsvc_error_free(err);
    llmsvc_free(id);
}
END_TEST

START_TEST(wait_gives_TIMEOUT_when_the_job_has_not_ended)
{
    char *id = submit_mock("mock-1", "nobody runs me", NULL, "p", 0);
    int64_t t0 = now_ms();
    char *json = NULL;
    llmsvc_error *err = NULL;
    ck_assert_int_eq(llmsvc_job_wait(st, id, 250, &json, &err), LLMSVC_E_TIMEOUT);
    ck_assert_int_ge(now_ms() - t0, 250);
    ck_assert_ptr_null(json);
    tu_assert_has(llmsvc_error_message(err), id);
    llmsvc_error_free(err);
    err = NULL;
    /* a wait of 0 looks once */
    ck_assert_int_eq(llmsvc_job_wait(st, id, 0, &json, &err), LLMSVC_E_TIMEOUT);
    llmsvc_error_free(err);
    json_object *o = job_get(id);
    assert_state(o, "pending");
    json_object_put(o);
    llmsvc_free(id);
}
END_TEST

/* ---- workers ---- */

START_TEST(a_worker_runs_jobs_to_success_with_the_response_as_result)
{
    char *ids[12];
    char prompt[64];
    for (int i = 0; i < 12; i++) {
        snprintf(prompt, sizeof prompt, "job number %d", i);
        ids[i] = submit_mock(i % 2 ? "mock-1" : "mock-small", prompt, NULL, "proj", 0);
    }
    llmsvc_worker *w = start_worker(4);
    for (int i = 0; i < 12; i++) {
        json_object *o = job_wait(ids[i]);
        snprintf(prompt, sizeof prompt, "job number %d", i);
        assert_state(o, "succeeded");
        ck_assert_int_eq(jint(o, "attempts"), 1);
        assert_iso_time(jstr(o, "started_at"));
        assert_iso_time(jstr(o, "finished_at"));
        ck_assert_ptr_null(jget(o, "error"));
        json_object *res = jget(o, "result");
        ck_assert_ptr_nonnull(res);
        ck_assert_str_eq(jstr(res, "message"), prompt);
        ck_assert_str_eq(jstr(res, "provider"), "mock");
        ck_assert_str_eq(jstr(res, "model"), i % 2 ? "mock-1" : "mock-small");
        ck_assert_int_gt(jint(res, "input_tokens"), 0);
        ck_assert(jdbl(res, "cost_usd") > 0);
        json_object_put(o);
    }
    long ok, failed, requeued;
    llmsvc_worker_counts(w, &ok, &failed, &requeued);
    ck_assert_int_eq(ok, 12);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(requeued, 0);
    llmsvc_worker_stop(w, 1000);
    /* one record per attempt, each a success, each naming its job */
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records"), 12);
    ck_assert_int_eq(db_int("SELECT COUNT(DISTINCT job_id) FROM llmsvc_records"
                            " WHERE status = 'succeeded' AND attempt = 1"),
                     12);
    for (int i = 0; i < 12; i++)
        llmsvc_free(ids[i]);

    /* a job that has succeeded cannot be cancelled */
    llmsvc_error *err = NULL;
    char *id = submit_mock("mock-1", "one more", NULL, "proj", 0);
    w = start_worker(1);
    json_object_put(job_wait(id));
    ck_assert_int_eq(llmsvc_job_cancel(st, id, &err), LLMSVC_E_VALIDATION);
    tu_assert_has(llmsvc_error_message(err), "succeeded");
    llmsvc_error_free(err);
    llmsvc_worker_stop(w, 1000);
    llmsvc_free(id);
}
END_TEST

START_TEST(a_worker_picks_up_a_job_submitted_while_it_idles)
{
    llmsvc_worker *w = start_worker(2);
    sleep_ms(300); /* idle: its poll interval has grown */
    char *id = submit_mock("mock-1", "late arrival", NULL, "p", 0);
    json_object *o = job_wait(id);
    assert_state(o, "succeeded");
    json_object_put(o);
    llmsvc_worker_stop(w, 1000);
    llmsvc_free(id);
}
END_TEST

START_TEST(non_retryable_failures_fail_at_once_with_the_error_kept)
{
    static const struct {
        const char *kind;
        int status;
        const char *says;
    } cases[] = {{"validation", 400, "invalid request"}, {"auth", 401, "invalid API key"}};
    char *ids[2];
    for (int i = 0; i < 2; i++) {
        char opts[64];
        snprintf(opts, sizeof opts, "{\"error\": \"%s\"}", cases[i].kind);
        ids[i] = submit_mock("mock-1", "doomed", opts, "p", 5);
    }
    llmsvc_worker *w = start_worker(2);
    for (int i = 0; i < 2; i++) {
        json_object *o = job_wait(ids[i]);
        assert_state(o, "failed");
        ck_assert_int_eq(jint(o, "attempts"), 1); /* of 5 allowed */
        ck_assert_ptr_null(jget(o, "result"));
        assert_iso_time(jstr(o, "finished_at"));
        json_object *e = jget(o, "error");
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(jstr(e, "code"), "API");
        ck_assert_int_eq(jint(e, "http_status"), cases[i].status);
        ck_assert(!json_object_get_boolean(jget(e, "retryable")));
        tu_assert_has(jstr(e, "message"), cases[i].says);
        json_object_put(o);
        ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q", ids[i]),
                         1);
        ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q"
                                " AND status = 'failed' AND instr(error, %Q) > 0",
                                ids[i], cases[i].says),
                         1);
    }
    long ok, failed, requeued;
    llmsvc_worker_counts(w, &ok, &failed, &requeued);
    ck_assert_int_eq(ok, 0);
    ck_assert_int_eq(failed, 2);
    ck_assert_int_eq(requeued, 0);
    llmsvc_worker_stop(w, 1000);
    llmsvc_free(ids[0]);
    llmsvc_free(ids[1]);
}
END_TEST

START_TEST(a_retryable_failure_fails_once_max_attempts_are_spent)
{
    char *id = submit_mock("mock-1", "the server is down", "{\"error\": \"server\"}", "p", 2);
    llmsvc_worker *w = start_worker(1);
    json_object *o = job_wait(id);
    assert_state(o, "failed");
    ck_assert_int_eq(jint(o, "attempts"), 2);
    json_object *e = jget(o, "error");
    ck_assert_str_eq(jstr(e, "code"), "API");
    ck_assert_int_eq(jint(e, "http_status"), 500);
    tu_assert_has(jstr(e, "message"), "internal server error");
    json_object_put(o);
    long ok, failed, requeued;
    llmsvc_worker_counts(w, &ok, &failed, &requeued);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(requeued, 1);
    llmsvc_worker_stop(w, 1000);
    /* a record per attempt, numbered, both failed; the second waited out the
     * back-off (1 s after the first) */
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q"
                            " AND status = 'failed'",
                            id),
                     2);
    ck_assert_int_eq(db_int("SELECT COUNT(DISTINCT attempt) FROM llmsvc_records WHERE job_id = %Q"
                            " AND attempt IN (1, 2)",
                            id),
                     2);
    int64_t gap = db_int("SELECT MAX(created_at) - MIN(created_at) FROM llmsvc_records"
                         " WHERE job_id = %Q",
                         id);
    ck_assert_msg(gap >= 1000, "the second attempt came %lld ms after the first", (long long)gap);
    llmsvc_free(id);
}
END_TEST

START_TEST(cancelling_a_running_job_drops_its_result)
{
    char *id = submit_mock("mock-1", "slow", "{\"latency_ms\": 800}", "p", 0);
    llmsvc_worker *w = start_worker(1);
    await_state(id, "running");
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_job_cancel(st, id, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *o = job_wait(id);
    assert_state(o, "cancelled");
    json_object_put(o);
    /* the call ends; its answer does not bring the job back */
    llmsvc_worker_stop(w, 5000);
    o = job_get(id);
    assert_state(o, "cancelled");
    ck_assert_ptr_null(jget(o, "result"));
    json_object_put(o);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q"
                            " AND status = 'succeeded'",
                            id),
                     0);
    llmsvc_free(id);
}
END_TEST

START_TEST(stopping_a_worker_releases_running_jobs_without_counting_the_attempt)
{
    char *id = submit_mock("mock-1", "long", "{\"latency_ms\": 1500}", "p", 0);
    llmsvc_worker *w = start_worker(1);
    await_state(id, "running");
    ck_assert_int_eq(llmsvc_worker_drain(w, 50), 1);
    json_object *o = job_get(id);
    assert_state(o, "pending");
    ck_assert_int_eq(jint(o, "attempts"), 0);
    json_object_put(o);
    llmsvc_worker_stop(w, 0); /* waits for the call; its result is dropped */
    o = job_get(id);
    assert_state(o, "pending");
    json_object_put(o);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q", id), 0);
    /* another worker runs it */
    w = start_worker(1);
    o = job_wait(id);
    assert_state(o, "succeeded");
    ck_assert_int_eq(jint(o, "attempts"), 1);
    json_object_put(o);
    llmsvc_worker_stop(w, 1000);
    llmsvc_free(id);
}
END_TEST

/* A job's request keeps what the caller set for the call: with max_retries 0
 * the call must not retry by itself. The mock fails the first attempt of
 * each call (fail_times 1): honoured, the only attempt fails; ignored, the
 * runtime's default retries (2) hide the failure. */
START_TEST(a_jobs_request_keeps_its_max_retries)
{
    llmsvc_runtime_close(rt);
    char plugins[TU_PATH];
    snprintf(plugins, sizeof plugins, "%s/plugins", tmp);
    llmsvc_options o;
    tu_options(&o, plugins, MOCK_SPEC, NULL); /* max_retries: the default, 2 */
    rt = tu_open(&o);
    llmsvc_request *req =
        mock_request("mock-1", "no retries, please", "{\"error\": \"server\", \"fail_times\": 1}");
    ck_assert_int_eq(llmsvc_request_set_max_retries(req, 0), LLMSVC_OK);
    char *id = submit_opts(req, "p", "o", NULL, 1);
    llmsvc_worker *w = start_worker(1);
    json_object *j = job_wait(id);
    llmsvc_worker_stop(w, 1000);
    json_object *res = jget(j, "result");
    ck_assert_msg(!strcmp(jstr(j, "state"), "failed"),
                  "the call retried by itself although the request said max_retries 0: job %s "
                  "after %lld call attempts",
                  jstr(j, "state"), res ? (long long)jint(res, "attempts") : -1LL);
    json_object_put(j);
    llmsvc_free(id);
    llmsvc_request_free(req);
}
END_TEST

/* ---- job-level retries over HTTP ----
 *
 * "Fails, is requeued, then succeeds" needs a provider that answers a later
 * attempt differently. The mock cannot: its fail_times counts the attempts of
 * one llmsvc_call, and every job attempt is a new call. The fake upstream's
 * script queue can: one answer per request, in order. */

START_TEST(a_retryable_failure_is_requeued_with_back_off_then_succeeds)
{
    /* the first two calls fail (500, then 503), the third gets the route's answer */
    ck_assert_int_eq(fake_upstream_script(fu, "[{\"path\": \"/responses\", \"status\": 500,"
                                              " \"fixture\": \"openai/error_500.json\"},"
                                              " {\"path\": \"/responses\", \"status\": 503,"
                                              " \"fixture\": \"openai/error_503.json\"}]"),
                     0);
    llmsvc_request *req = tu_request("openai", OPENAI_MODEL, "Write a haiku about queues.");
    char *id = submit_opts(req, "proj-http", "org-http", NULL, 5);
    llmsvc_request_free(req);
    llmsvc_worker *w = start_worker(1);

    /* after the first attempt: back in the queue, the attempt counted, the error kept */
    for (int i = 0; i < 500; i++) {
        json_object *o = job_get(id);
        int requeued = !strcmp(jstr(o, "state"), "pending") && jint(o, "attempts") == 1;
        if (requeued) {
            json_object *e = jget(o, "error");
            ck_assert_ptr_nonnull(e);
            ck_assert_str_eq(jstr(e, "code"), "API");
            ck_assert_int_eq(jint(e, "http_status"), 500);
            ck_assert_ptr_null(jget(o, "finished_at"));
        }
        json_object_put(o);
        if (requeued)
            break;
        ck_assert_msg(i < 499, "the job was never seen back in the queue after attempt 1");
        sleep_ms(10);
    }

    json_object *o = job_wait(id);
    assert_state(o, "succeeded");
    ck_assert_int_eq(jint(o, "attempts"), 3);
    ck_assert_ptr_nonnull(jget(o, "result"));
    ck_assert_str_eq(jstr(jget(o, "result"), "provider"), "openai");
    json_object_put(o);
    long ok, failed, requeued;
    llmsvc_worker_counts(w, &ok, &failed, &requeued);
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(requeued, 2);
    llmsvc_worker_stop(w, 1000);
    ck_assert_int_eq(fake_upstream_request_count(fu), 3);

    /* three records: failed, failed, succeeded; back-off 1 s then 2 s */
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q", id), 3);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q"
                            " AND status = 'succeeded' AND attempt = 3",
                            id),
                     1);
    int64_t t1 =
        db_int("SELECT created_at FROM llmsvc_records WHERE job_id = %Q AND attempt = 1", id);
    int64_t t2 =
        db_int("SELECT created_at FROM llmsvc_records WHERE job_id = %Q AND attempt = 2", id);
    int64_t t3 =
        db_int("SELECT created_at FROM llmsvc_records WHERE job_id = %Q AND attempt = 3", id);
    ck_assert_msg(t2 - t1 >= 1000 && t3 - t2 >= 2000, "back-off gaps %lld and %lld ms",
                  (long long)(t2 - t1), (long long)(t3 - t2));
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q"
                            " AND project_id = 'proj-http' AND organization_id = 'org-http'",
                            id),
                     3);
    llmsvc_free(id);
}
END_TEST

/* ---- call records ---- */

/* Runs jobs to their end with one worker. */
static void run_all(char **ids, size_t n)
{
    llmsvc_worker *w = start_worker(4);
    for (size_t i = 0; i < n; i++)
        json_object_put(job_wait(ids[i]));
    llmsvc_worker_stop(w, 1000);
}

static json_object *summary(const char *project, int64_t since, const char *by)
{
    llmsvc_records_filter f = LLMSVC_RECORDS_FILTER_INIT;
    f.project_id = project;
    f.since_ms = since;
    f.group_by = by;
    char *json = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_records_summary(st, &f, &json, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *a = parse(json);
    llmsvc_free(json);
    ck_assert(json_object_is_type(a, json_type_array));
    return a;
}

/* The row of a summary whose key members are k1 (and k2). */
static json_object *row(json_object *a, const char *name1, const char *k1, const char *name2,
                        const char *k2)
{
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *r = json_object_array_get_idx(a, i);
        if (!strcmp(jstr(r, name1), k1) && (!name2 || !strcmp(jstr(r, name2), k2)))
            return r;
    }
    ck_abort_msg("no row %s=%s in %s", name1, k1, json_object_to_json_string(a));
    return NULL;
}

typedef struct sums {
    int64_t calls, failures, in, out;
    double cost;
} sums;

static void add_result(sums *s, const char *id)
{
    json_object *o = job_get(id);
    json_object *res = jget(o, "result");
    s->calls++;
    if (!res) {
        s->failures++;
    } else {
        s->in += jint(res, "input_tokens");
        s->out += jint(res, "output_tokens");
        s->cost += jdbl(res, "cost_usd");
    }
    json_object_put(o);
}

static void assert_row(json_object *r, const sums *s)
{
    ck_assert_int_eq(jint(r, "calls"), s->calls);
    ck_assert_int_eq(jint(r, "failures"), s->failures);
    ck_assert_int_eq(jint(r, "input_tokens"), s->in);
    ck_assert_int_eq(jint(r, "output_tokens"), s->out);
    ck_assert_int_eq(jint(r, "reasoning_tokens"), 0);
    ck_assert_msg(fabs(jdbl(r, "cost_usd") - s->cost) <= 1e-12 + 1e-9 * s->cost,
                  "cost %.12g, expected %.12g", jdbl(r, "cost_usd"), s->cost);
    ck_assert(jdbl(r, "latency_ms_avg") >= 0);
}

START_TEST(the_summary_sums_records_by_model_and_by_project)
{
    /* alpha: 3 x mock-1; beta: 2 x mock-small and a failing mock-1 */
    char *ids[6];
    ids[0] = submit_mock("mock-1", "The first question of alpha", NULL, "alpha", 0);
    ids[1] = submit_mock("mock-1", "A second, rather longer question of alpha", NULL, "alpha", 0);
    ids[2] = submit_mock("mock-1", "third", NULL, "alpha", 0);
    ids[3] = submit_mock("mock-small", "beta asks the small model", NULL, "beta", 0);
    ids[4] = submit_mock("mock-small", "and again", NULL, "beta", 0);
    ids[5] = submit_mock("mock-1", "refused", "{\"error\": \"validation\"}", "beta", 0);
    run_all(ids, 6);

    sums m1 = {0}, small = {0}, alpha = {0}, beta = {0}, alpha_m1 = {0};
    for (int i = 0; i < 6; i++) {
        add_result(i == 3 || i == 4 ? &small : &m1, ids[i]);
        add_result(i < 3 ? &alpha : &beta, ids[i]);
        if (i < 3)
            add_result(&alpha_m1, ids[i]);
    }
    ck_assert_int_eq(m1.failures, 1);

    json_object *a = summary(NULL, 0, NULL); /* by model, the default */
    ck_assert_int_eq(json_object_array_length(a), 2);
    assert_row(row(a, "provider", "mock", "model", "mock-1"), &m1);
    assert_row(row(a, "provider", "mock", "model", "mock-small"), &small);
    json_object_put(a);

    a = summary(NULL, 0, "project");
    ck_assert_int_eq(json_object_array_length(a), 2);
    assert_row(row(a, "project_id", "alpha", NULL, NULL), &alpha);
    assert_row(row(a, "project_id", "beta", NULL, NULL), &beta);
    json_object_put(a);

    a = summary("alpha", 0, "model");
    ck_assert_int_eq(json_object_array_length(a), 1);
    assert_row(row(a, "provider", "mock", "model", "mock-1"), &alpha_m1);
    json_object_put(a);

    llmsvc_records_filter f = LLMSVC_RECORDS_FILTER_INIT;
    f.group_by = "colour";
    char *json = NULL;
    llmsvc_error *err = NULL;
    ck_assert_int_eq(llmsvc_records_summary(st, &f, &json, &err), LLMSVC_E_INVALID_ARG);
    tu_assert_has(llmsvc_error_message(err), "colour");
    llmsvc_error_free(err);
    for (int i = 0; i < 6; i++)
        llmsvc_free(ids[i]);
}
END_TEST

START_TEST(since_leaves_out_older_records)
{
    char *old[2] = {submit_mock("mock-1", "old one", NULL, "p", 0),
                    submit_mock("mock-1", "old two", NULL, "p", 0)};
    run_all(old, 2);
    sleep_ms(20);
    int64_t cut = now_ms();
    sleep_ms(20);
    char *fresh[3] = {submit_mock("mock-1", "new one", NULL, "p", 0),
                      submit_mock("mock-1", "new two", NULL, "p", 0),
                      submit_mock("mock-1", "new three", NULL, "p", 0)};
    run_all(fresh, 3);

    json_object *a = summary(NULL, 0, NULL);
    ck_assert_int_eq(jint(row(a, "provider", "mock", "model", "mock-1"), "calls"), 5);
    json_object_put(a);
    a = summary(NULL, cut, NULL);
    ck_assert_int_eq(jint(row(a, "provider", "mock", "model", "mock-1"), "calls"), 3);
    json_object_put(a);
    a = summary(NULL, now_ms() + 3600 * 1000, NULL);
    ck_assert_int_eq(json_object_array_length(a), 0);
    json_object_put(a);
    for (int i = 0; i < 2; i++)
        llmsvc_free(old[i]);
    for (int i = 0; i < 3; i++)
        llmsvc_free(fresh[i]);
}
END_TEST

START_TEST(direct_calls_are_recorded_while_records_are_on)
{
    ck_assert_int_eq(llmsvc_runtime_set_records(rt, st), LLMSVC_OK);
    llmsvc_request *req = mock_request("mock-1", "recorded", NULL);
    llmsvc_request_set_project(req, "direct-proj", "direct-org");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    double cost = 0;
    int64_t in = 0;
    for (int i = 0; i < 2; i++) {
        llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
        tu_assert_code(rc, LLMSVC_OK, err);
        cost += llmsvc_response_cost_usd(resp);
        in += llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT);
        llmsvc_response_free(resp);
        resp = NULL;
    }
    llmsvc_request *bad = mock_request("mock-1", "refused", "{\"error\": \"auth\"}");
    llmsvc_request_set_project(bad, "direct-proj", "direct-org");
    ck_assert_int_eq(llmsvc_call(rt, bad, &resp, &err), LLMSVC_E_API);
    llmsvc_error_free(err);
    err = NULL;

    json_object *a = summary("direct-proj", 0, NULL);
    json_object *r = row(a, "provider", "mock", "model", "mock-1");
    ck_assert_int_eq(jint(r, "calls"), 3);
    ck_assert_int_eq(jint(r, "failures"), 1);
    ck_assert_int_eq(jint(r, "input_tokens"), in);
    ck_assert(fabs(jdbl(r, "cost_usd") - cost) <= 1e-9 * cost);
    json_object_put(a);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id IS NULL"
                            " AND organization_id = 'direct-org'"),
                     3);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE status = 'failed'"
                            " AND instr(error, 'invalid API key') > 0"),
                     1);

    /* off again: no more records */
    ck_assert_int_eq(llmsvc_runtime_set_records(rt, NULL), LLMSVC_OK);
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    llmsvc_response_free(resp);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records"), 3);
    llmsvc_request_free(req);
    llmsvc_request_free(bad);
}
END_TEST

/* "Jobs are always recorded in their own store": a job's attempt is one
 * record, also when the worker's runtime records its direct calls. */
START_TEST(a_job_attempt_is_one_record_when_direct_records_are_on)
{
    ck_assert_int_eq(llmsvc_runtime_set_records(rt, st), LLMSVC_OK);
    char *ids[2] = {submit_mock("mock-1", "one", NULL, "p", 0),
                    submit_mock("mock-1", "two", NULL, "p", 0)};
    run_all(ids, 2);
    json_object *a = summary(NULL, 0, NULL);
    ck_assert_msg(jint(row(a, "provider", "mock", "model", "mock-1"), "calls") == 2,
                  "2 job attempts summed as %lld calls: %s",
                  (long long)jint(row(a, "provider", "mock", "model", "mock-1"), "calls"),
                  json_object_to_json_string(a));
    json_object_put(a);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id IS NULL"), 0);
    llmsvc_runtime_set_records(rt, NULL);
    llmsvc_free(ids[0]);
    llmsvc_free(ids[1]);
}
END_TEST

/* ---- the schema ---- */

START_TEST(processes_opening_a_fresh_store_at_once_all_succeed)
{
    enum { PROCS = 4, ROUNDS = 8 };
    for (int round = 0; round < ROUNDS; round++) {
        char path[TU_PATH], u[TU_PATH + 16];
        snprintf(path, sizeof path, "%s/fresh-%d/s.db", tmp, round);
        snprintf(u, sizeof u, "sqlite:%s", path);
        int go[2];
        ck_assert_int_eq(pipe(go), 0);
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork();
            ck_assert_int_ge(pids[i], 0);
            if (pids[i] == 0) {
                close(go[1]);
                char c;
                /* all start when the pipe closes */
                while (read(go[0], &c, 1) < 0 && errno == EINTR)
                    ;
                llmsvc_store *s = NULL;
                llmsvc_error *err = NULL;
                if (llmsvc_store_open(&s, u, &err) != LLMSVC_OK) {
                    fprintf(stderr, "round %d process %d: %s\n", round, i,
                            llmsvc_error_message(err));
                    _exit(1);
                }
                llmsvc_request *req = NULL;
                llmsvc_request_new(&req);
                llmsvc_request_set_provider(req, "mock");
                llmsvc_request_set_model(req, "mock-1");
                llmsvc_request_set_prompt(req, "from a child");
                char *id = NULL;
                int rc = llmsvc_job_submit(s, req, NULL, &id, &err) == LLMSVC_OK ? 0 : 2;
                if (rc)
                    fprintf(stderr, "round %d process %d: %s\n", round, i,
                            llmsvc_error_message(err));
                _exit(rc);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int i = 0; i < PROCS; i++) {
            int status;
            ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "round %d: process %d of %d failed (status %d)", round, i, PROCS, status);
        }
        snprintf(db_path, sizeof db_path, "%s", path);
        ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_schema"), 2); /* versions 1, 2 */
        ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs"), PROCS);
    }
}
END_TEST

START_TEST(a_store_of_a_newer_schema_is_refused)
{
    llmsvc_store_close(st);
    st = NULL;
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "INSERT INTO llmsvc_schema (version) VALUES (99)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    llmsvc_error *err = open_fails(url);
    ck_assert_int_eq(llmsvc_error_code(err), LLMSVC_E_STORE);
    tu_assert_has(llmsvc_error_message(err), db_path);
    tu_assert_has(llmsvc_error_message(err), "99");
    tu_assert_has(llmsvc_error_message(err), "upgrade");
    llmsvc_error_free(err);
    /* nothing was changed: still version 99, no version row added */
    ck_assert_int_eq(db_int("SELECT MAX(version) FROM llmsvc_schema"), 99);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_schema"), 3); /* 1, 2 and 99 */
}
END_TEST

START_TEST(a_corrupt_file_is_a_store_error_naming_it)
{
    char path[TU_PATH], u[TU_PATH + 16];
    snprintf(path, sizeof path, "%s/corrupt.db", tmp);
    snprintf(u, sizeof u, "sqlite:%s", path);
    unsigned char junk[16384];
    for (size_t off = 0; off < sizeof junk;) {
        ssize_t n = getrandom(junk + off, sizeof junk - off, 0);
        ck_assert_int_gt(n, 0);
        off += (size_t)n;
    }
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    ck_assert_int_eq(fclose(f), 0);

    llmsvc_error *err = open_fails(u);
    ck_assert_int_eq(llmsvc_error_code(err), LLMSVC_E_STORE);
    tu_assert_has(llmsvc_error_message(err), path);
    llmsvc_error_free(err);

    /* the file is as it was: nothing written into it */
    char *after = tu_slurp(path);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, (off_t)sizeof junk);
    ck_assert(memcmp(after, junk, sizeof junk) == 0);
    free(after);
}
END_TEST

START_TEST(a_store_whose_pages_are_damaged_is_a_store_error_naming_it)
{
    /* a real store with jobs, then its table pages overwritten: the header
     * still says SQLite, the b-trees are garbage */
    char *id = submit_mock("mock-1", "before the damage", NULL, "p", 0);
    llmsvc_free(id);
    llmsvc_store_close(st);
    st = NULL;
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct stat sb;
    ck_assert_int_eq(stat(db_path, &sb), 0);
    ck_assert_int_ge(sb.st_size, 4096 * 3);
    int fd = open(db_path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    unsigned char junk[4096];
    memset(junk, 0xA5, sizeof junk);
    for (off_t off = 4096; off + 4096 <= sb.st_size; off += 4096)
        ck_assert_int_eq(pwrite(fd, junk, sizeof junk, off), (ssize_t)sizeof junk);
    close(fd);

    llmsvc_store *s = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(&s, url, &err);
    if (rc == LLMSVC_OK) {
        /* opened (the schema table may have survived): a submit must fail whole */
        llmsvc_error_free(err);
        err = NULL;
        llmsvc_request *req = mock_request("mock-1", "after the damage", NULL);
        char *id2 = NULL;
        rc = llmsvc_job_submit(s, req, NULL, &id2, &err);
        llmsvc_request_free(req);
        ck_assert_ptr_null(id2);
        llmsvc_store_close(s);
    }
    ck_assert_int_eq(rc, LLMSVC_E_STORE);
    tu_assert_has(llmsvc_error_message(err), db_path);
    llmsvc_error_free(err);
}
END_TEST

START_TEST(an_unreachable_or_unwritable_path_is_a_store_error)
{
    char file[TU_PATH], u[TU_PATH * 2];
    tu_write(file, tmp, "plain-file", "not a folder\n");
    /* a folder that cannot be made: a file stands where it should be */
    snprintf(u, sizeof u, "sqlite:%s/sub/s.db", file);
    llmsvc_error *err = open_fails(u);
    ck_assert_int_eq(llmsvc_error_code(err), LLMSVC_E_STORE);
    tu_assert_has(llmsvc_error_message(err), file);
    llmsvc_error_free(err);

    /* a folder where the file should be */
    snprintf(u, sizeof u, "sqlite:%s", tmp);
    err = open_fails(u);
    ck_assert_int_eq(llmsvc_error_code(err), LLMSVC_E_STORE);
    tu_assert_has(llmsvc_error_message(err), tmp);
    llmsvc_error_free(err);

    /* a place nobody may write, even root */
    err = open_fails("sqlite:/proc/llmsvc-tests/s.db");
    ck_assert_int_eq(llmsvc_error_code(err), LLMSVC_E_STORE);
    tu_assert_has(llmsvc_error_message(err), "/proc/llmsvc-tests/s.db");
    llmsvc_error_free(err);

    err = open_fails("sqlite:");
    ck_assert_int_eq(llmsvc_error_code(err), LLMSVC_E_STORE);
    llmsvc_error_free(err);
    err = open_fails("mysql://localhost/jobs");
    ck_assert_int_eq(llmsvc_error_code(err), LLMSVC_E_STORE);
    tu_assert_has(llmsvc_error_message(err), "sqlite:PATH");
    llmsvc_error_free(err);
}
END_TEST

START_TEST(the_default_store_url_follows_LLMSVC_STORE_then_XDG_DATA_HOME)
{
    char *u = NULL;
    tu_setenv("LLMSVC_STORE", "sqlite:/srv/jobs.db");
    ck_assert_int_eq(llmsvc_store_default_url(&u), LLMSVC_OK);
    ck_assert_str_eq(u, "sqlite:/srv/jobs.db");
    llmsvc_free(u);
    tu_unsetenv("LLMSVC_STORE");
    tu_setenv("XDG_DATA_HOME", "/data/home");
    ck_assert_int_eq(llmsvc_store_default_url(&u), LLMSVC_OK);
    ck_assert_str_eq(u, "sqlite:/data/home/llmsvc/llmsvc.db");
    llmsvc_free(u);
    tu_unsetenv("XDG_DATA_HOME");
    tu_setenv("HOME", "/home/someone");
    ck_assert_int_eq(llmsvc_store_default_url(&u), LLMSVC_OK);
    ck_assert_str_eq(u, "sqlite:/home/someone/.local/share/llmsvc/llmsvc.db");
    llmsvc_free(u);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jobs");
    TCase *tc = tu_tcase("api");
    tcase_add_checked_fixture(tc, setup_store, teardown_store);
    tcase_add_test(tc, submit_queues_a_pending_job_with_its_project_and_org);
    tcase_add_test(tc, the_stored_request_has_no_api_key);
    tcase_add_test(tc, submit_refuses_what_cannot_run);
    tcase_add_test(tc, an_idempotency_key_gives_the_first_jobs_id);
    tcase_add_test(tc, four_threads_submitting_one_key_at_once_make_one_job);
    tcase_add_test(tc, cancel_ends_a_pending_job_and_refuses_an_ended_or_unknown_one);
    tcase_add_test(tc, wait_gives_TIMEOUT_when_the_job_has_not_ended);
    tcase_add_test(tc, the_default_store_url_follows_LLMSVC_STORE_then_XDG_DATA_HOME);
    suite_add_tcase(s, tc);

    tc = tu_tcase("worker");
    tcase_add_checked_fixture(tc, setup_mock, teardown_store);
    tcase_add_test(tc, a_worker_runs_jobs_to_success_with_the_response_as_result);
    tcase_add_test(tc, a_worker_picks_up_a_job_submitted_while_it_idles);
    tcase_add_test(tc, non_retryable_failures_fail_at_once_with_the_error_kept);
    tcase_add_test(tc, a_retryable_failure_fails_once_max_attempts_are_spent);
    tcase_add_test(tc, cancelling_a_running_job_drops_its_result);
    tcase_add_test(tc, stopping_a_worker_releases_running_jobs_without_counting_the_attempt);
    tcase_add_test(tc, a_jobs_request_keeps_its_max_retries);
    suite_add_tcase(s, tc);

    tc = tu_tcase("http");
    tcase_add_checked_fixture(tc, setup_http, teardown_store);
    tcase_add_test(tc, a_retryable_failure_is_requeued_with_back_off_then_succeeds);
    suite_add_tcase(s, tc);

    tc = tu_tcase("records");
    tcase_add_checked_fixture(tc, setup_mock, teardown_store);
    tcase_add_test(tc, the_summary_sums_records_by_model_and_by_project);
    tcase_add_test(tc, since_leaves_out_older_records);
    tcase_add_test(tc, direct_calls_are_recorded_while_records_are_on);
    tcase_add_test(tc, a_job_attempt_is_one_record_when_direct_records_are_on);
    suite_add_tcase(s, tc);

    tc = tu_tcase("schema");
    tcase_add_checked_fixture(tc, setup_store, teardown_store);
    tcase_add_test(tc, processes_opening_a_fresh_store_at_once_all_succeed);
    tcase_add_test(tc, a_store_of_a_newer_schema_is_refused);
    tcase_add_test(tc, a_corrupt_file_is_a_store_error_naming_it);
    tcase_add_test(tc, a_store_whose_pages_are_damaged_is_a_store_error_naming_it);
    tcase_add_test(tc, an_unreachable_or_unwritable_path_is_a_store_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
