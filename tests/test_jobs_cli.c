/* test_jobs_cli — `llmsvc job`, `llmsvc worker` and `llmsvc records` end to
 * end: the real executable, spawned with posix_spawn in a clean environment
 * (no LLMSVC_* or OPENAI_* variable of ours leaks in), its output captured,
 * its --json output parsed; workers are real processes stopped with signals.
 *
 * The crash tests run two `llmsvc worker` processes on one SQLite store with
 * 200 jobs to the openai provider, served by a standalone fake_upstream
 * process whose answers take 50-100 ms, and kill one worker (SIGKILL) or stop
 * it (SIGTERM) when about a third are done: every job must end succeeded,
 * with exactly one success record, and the killed worker's jobs must run again
 * once their lease has passed. What happened is read from the SQLite file
 * with the sqlite3 C API.
 *
 * Exit codes (cli/cli.h, `llmsvc job --help`): 0 ok, 1 other (cancelled, not
 * found), 2 usage, 3 validation, 4 API, 5 transport, 6 configuration or
 * store, 124 a wait that timed out. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

#define OPENAI_MODEL "gpt-6-luna"
#define DUMMY_KEY "sk-test-llmsvc-dummy-key-0000"

static char tmp[TU_PATH];
static char db_path[TU_PATH];
static char store[TU_PATH + 16]; /* "sqlite:" db_path */
static llmsvc_store *st;         /* the same store, opened in this process */
static int n_spawned;

/* ---- time ---- */

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

/* ---- processes ---- */

typedef struct proc {
    pid_t pid;
    char out[TU_PATH];
    char err[TU_PATH];
} proc;

typedef struct run {
    int status; /* exit code, or -1 when killed by a signal */
    int signal;
    char *out;
    char *err;
} run;

static void run_free(run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Starts exe with args (NULL-terminated) in our environment without LLMSVC_*
 * and OPENAI_*, plus env ("NAME=value", NULL-terminated; may be NULL). */
static proc spawn_exe(const char *exe, const char *const *env, const char *const *args)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = exe;
    for (size_t i = 0; args[i]; i++) {
        ck_assert_uint_lt(n, 63);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    size_t ne = 0;
    for (char **e = environ; *e; e++)
        ne++;
    for (size_t i = 0; env && env[i]; i++)
        ne++;
    char **envp = calloc(ne + 1, sizeof *envp);
    ck_assert_ptr_nonnull(envp);
    size_t k = 0;
    for (char **e = environ; *e; e++) {
        if (!strncmp(*e, "LLMSVC_", 7) || !strncmp(*e, "OPENAI_", 7))
            continue;
        int replaced = 0; /* a variable given in env is not taken from ours */
        for (size_t i = 0; env && env[i] && !replaced; i++) {
            size_t name = strcspn(env[i], "=");
            replaced = !strncmp(*e, env[i], name + 1);
        }
        if (!replaced)
            envp[k++] = *e;
    }
    for (size_t i = 0; env && env[i]; i++)
        envp[k++] = (char *)env[i];

    proc p;
    int id = n_spawned++;
    snprintf(p.out, sizeof p.out, "%s/out-%d", tmp, id);
    snprintf(p.err, sizeof p.err, "%s/err-%d", tmp, id);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, p.out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, p.err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = posix_spawn(&p.pid, exe, &fa, NULL, (char *const *)argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    ck_assert_msg(rc == 0, "cannot run %s: %s", exe, strerror(rc));
    return p;
}

/* Waits for p to end. */
static run finish(const proc *p)
{
    int status;
    pid_t got;
    while ((got = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR)
        ;
    ck_assert_int_eq(got, p->pid);
    run r = {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
             WIFSIGNALED(status) ? WTERMSIG(status) : 0, tu_slurp(p->out), tu_slurp(p->err)};
    return r;
}

static run cli_env(const char *const *env, const char *arg, ...)
{
    const char *args[64];
    size_t n = 0;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a; a = va_arg(ap, const char *)) {
        ck_assert_uint_lt(n, 63);
        args[n++] = a;
    }
    va_end(ap);
    args[n] = NULL;
    proc p = spawn_exe(LLMSVC_CLI, env, args);
    run r = finish(&p);
    ck_assert_msg(r.signal == 0, "llmsvc died with signal %d; stderr:\n%s", r.signal, r.err);
    return r;
}

#define cli(...) cli_env(NULL, __VA_ARGS__, (const char *)NULL)

#define assert_exit(r, code)                                                                       \
    ck_assert_msg((r).status == (code), "exit %d, expected %d\nstdout: %s\nstderr: %s",            \
                  (r).status, (code), (r).out, (r).err)

/* A worker process on the test's store; args after the store (NULL-terminated). */
static proc start_worker(const char *const *env, const char *arg, ...)
{
    const char *args[64] = {"worker", "--store", store, "--poll", "0.05"};
    size_t n = 5;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a; a = va_arg(ap, const char *)) {
        ck_assert_uint_lt(n, 63);
        args[n++] = a;
    }
    va_end(ap);
    args[n] = NULL;
    return spawn_exe(LLMSVC_CLI, env, args);
}

/* SIGTERM and wait: the worker must exit 0. Its run (free it). */
static run stop_worker(const proc *p)
{
    ck_assert_int_eq(kill(p->pid, SIGTERM), 0);
    run r = finish(p);
    ck_assert_msg(r.status == 0, "worker exit %d (signal %d)\nstderr: %s", r.status, r.signal,
                  r.err);
    return r;
}

/* ---- JSON ---- */

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    ck_assert_msg(o != NULL, "not JSON: %s", text);
    return o;
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
                  json_object_to_json_string(o));
    return v;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *key)
{
    return json_object_get_int64(jget(o, key));
}

/* The last line of a text, without its '\n', into out. */
static void last_line(char *out, size_t n, const char *text)
{
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n')
        len--;
    size_t start = len;
    while (start && text[start - 1] != '\n')
        start--;
    snprintf(out, n, "%.*s", (int)(len - start), text + start);
}

static int is_job_id(const char *s)
{
    if (strncmp(s, "job_", 4) || strlen(s) != 28)
        return 0;
    return strspn(s + 4, "0123456789abcdef") == 24;
}

/* ---- the store, read from this process ---- */

/* One integer from the SQLite file (read-only connection of its own). */
static int64_t db_int(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *q = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(q);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
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

static void await_state(const char *id, const char *state)
{
    for (int i = 0; i < 2000; i++) {
        json_object *o = job_get(id);
        int there = !strcmp(jstr(o, "state"), state);
        json_object_put(o);
        if (there)
            return;
        sleep_ms(10);
    }
    ck_abort_msg("job %s never became %s", id, state);
}

#define assert_state(o, want)                                                                      \
    ck_assert_msg(!strcmp(jstr((o), "state"), (want)), "state %s, expected %s: %s",                \
                  jstr((o), "state"), (want), json_object_to_json_string(o))

/* `llmsvc job submit` of a mock job: its id (static storage per call site). */
static void submit(char id[64], const char *prompt, const char *opt1, const char *opt2)
{
    run r = cli("job", "submit", "--store", store, "--project", "proj-cli", "--org", "org-cli",
                "--provider", "mock", "--model", "mock-1", opt1 ? opt1 : "--quiet",
                opt2 ? opt2 : "--quiet", prompt);
    assert_exit(r, 0);
    last_line(id, 64, r.out);
    ck_assert_msg(is_job_id(id), "not a job id: '%s' (stdout %s)", id, r.out);
    run_free(&r);
}

static void setup(void)
{
    tu_mkdtemp(tmp);
    snprintf(db_path, sizeof db_path, "%s/jobs.db", tmp);
    snprintf(store, sizeof store, "sqlite:%s", db_path);
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(&st, store, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
}

static void teardown(void)
{
    llmsvc_store_close(st);
    st = NULL;
    tu_rm_rf(tmp);
}

/* ---- job submit, status, wait, cancel ---- */

START_TEST(job_submit_prints_the_id_alone_on_its_last_line)
{
    run r = cli("job", "submit", "--store", store, "--project", "proj-cli", "--org", "org-cli",
                "--provider", "mock", "--model", "mock-1", "--temperature", "0.5", "Summarise",
                "the", "report");
    assert_exit(r, 0);
    char id[64];
    last_line(id, sizeof id, r.out);
    ck_assert_msg(is_job_id(id), "last line '%s' is not a job id alone", id);
    ck_assert_str_eq(r.err, "");
    run_free(&r);

    r = cli("job", "status", id, "--store", store, "--json");
    assert_exit(r, 0);
    ck_assert_int_eq(tu_lines(r.out), 1);
    json_object *o = parse(r.out);
    ck_assert_str_eq(jstr(o, "id"), id);
    assert_state(o, "pending");
    ck_assert_int_eq(jint(o, "attempts"), 0);
    ck_assert_int_eq(jint(o, "max_attempts"), 3);
    ck_assert_str_eq(jstr(o, "project_id"), "proj-cli");
    ck_assert_str_eq(jstr(o, "organization_id"), "org-cli");
    ck_assert_ptr_nonnull(jstr(o, "created_at"));
    ck_assert_ptr_null(jget(o, "started_at"));
    ck_assert_ptr_null(jget(o, "result"));
    ck_assert_ptr_null(jget(o, "error"));
    json_object *req = jget(o, "request");
    tu_assert_has(json_object_to_json_string(req), "Summarise the report");
    json_object_put(o);
    run_free(&r);

    /* the text form: the id, the state, the attempts */
    r = cli("job", "status", id, "--store", store);
    assert_exit(r, 0);
    char want[128];
    snprintf(want, sizeof want, "%s: pending (attempt 0 of 3)", id);
    tu_assert_has(r.out, want);
    tu_assert_has(r.out, "proj-cli");
    run_free(&r);

    /* --json, an idempotency key, --max-attempts */
    r = cli("job", "submit", "--store", store, "--project", "p", "--org", "o", "--provider", "mock",
            "--model", "mock-1", "--idempotency-key", "k-1", "--max-attempts", "7", "--json", "hi");
    assert_exit(r, 0);
    o = parse(r.out);
    char keyed[64];
    snprintf(keyed, sizeof keyed, "%s", jstr(o, "id"));
    ck_assert(is_job_id(keyed));
    json_object_put(o);
    run_free(&r);
    r = cli("job", "submit", "--store", store, "--project", "p", "--org", "o", "--provider", "mock",
            "--model", "mock-1", "--idempotency-key", "k-1", "hi again");
    assert_exit(r, 0);
    last_line(id, sizeof id, r.out);
    ck_assert_str_eq(id, keyed);
    run_free(&r);
    o = job_get(keyed);
    ck_assert_int_eq(jint(o, "max_attempts"), 7);
    json_object_put(o);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs"), 2);
}
END_TEST

START_TEST(job_submit_refuses_what_a_worker_would_refuse)
{
    run r = cli("job", "submit", "--store", store, "--project", "p", "--org", "o", "--provider",
                "mock", "--model", "mock-9", "hi");
    assert_exit(r, 3);
    tu_assert_has(r.err, "unknown model 'mock-9'");
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    r = cli("job", "submit", "--store", store, "--project", "p", "--org", "o", "--provider", "mock",
            "--model", "mock-1", "--temperature", "5", "hi");
    assert_exit(r, 3);
    run_free(&r);
    r = cli("job", "submit", "--store", store, "--provider", "mock", "--model", "mock-1", "hi");
    assert_exit(r, 2);
    tu_assert_has(r.err, "--project");
    run_free(&r);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs"), 0);
}
END_TEST

START_TEST(job_wait_exits_with_the_outcome_of_the_job)
{
    char ok[64], api[64], transport[64], cancelled[64], late[64];
    submit(ok, "a fine answer", NULL, NULL);
    submit(api, "refused", "--option", "error=validation");
    /* one attempt only; the call's own retries off */
    run r = cli("job", "submit", "--store", store, "--project", "p", "--org", "o", "--provider",
                "mock", "--model", "mock-1", "--option", "error=transport", "--max-attempts", "1",
                "--retries", "0", "unreachable");
    assert_exit(r, 0);
    last_line(transport, sizeof transport, r.out);
    run_free(&r);
    submit(cancelled, "never mind", NULL, NULL);
    r = cli("job", "cancel", cancelled, "--store", store);
    assert_exit(r, 0);
    run_free(&r);

    /* nobody runs jobs yet: the wait times out, 124 as timeout(1) */
    int64_t t0 = now_ms();
    r = cli("job", "wait", ok, "--store", store, "--timeout", "0.3");
    assert_exit(r, 124);
    ck_assert_int_ge(now_ms() - t0, 300);
    tu_assert_has(r.err, "timeout");
    run_free(&r);

    proc w = start_worker(NULL, "--concurrency", "4", (const char *)NULL);
    r = cli("job", "wait", ok, "--store", store, "--timeout", "30");
    assert_exit(r, 0);
    tu_assert_has(r.out, "succeeded");
    tu_assert_has(r.out, "a fine answer");
    run_free(&r);

    r = cli("job", "wait", api, "--store", store, "--timeout", "30", "--json");
    assert_exit(r, 4); /* API */
    json_object *o = parse(r.out);
    assert_state(o, "failed");
    ck_assert_str_eq(jstr(jget(o, "error"), "code"), "API");
    ck_assert_int_eq(jint(jget(o, "error"), "http_status"), 400);
    json_object_put(o);
    run_free(&r);

    r = cli("job", "wait", transport, "--store", store, "--timeout", "30");
    assert_exit(r, 5); /* TRANSPORT */
    tu_assert_has(r.out, "failed");
    tu_assert_has(r.out, "simulated connection reset");
    run_free(&r);

    r = cli("job", "wait", cancelled, "--store", store, "--timeout", "30");
    assert_exit(r, 1);
    tu_assert_has(r.out, "cancelled");
    run_free(&r);

    /* a job submitted while the worker runs */
    submit(late, "late", NULL, NULL);
    r = cli("job", "wait", late, "--store", store, "--timeout", "30", "--json");
    assert_exit(r, 0);
    o = parse(r.out);
    ck_assert_str_eq(jstr(jget(o, "result"), "message"), "late");
    json_object_put(o);
    run_free(&r);

    r = stop_worker(&w);
    tu_assert_has(r.err, "2 succeeded, 2 failed, 0 retried later, 0 released back to the queue");
    run_free(&r);
}
END_TEST

START_TEST(job_cancel_ends_a_pending_job_only)
{
    char id[64];
    submit(id, "cancel me", NULL, NULL);
    run r = cli("job", "cancel", id, "--store", store);
    assert_exit(r, 0);
    tu_assert_has(r.out, "cancelled");
    run_free(&r);
    json_object *o = job_get(id);
    assert_state(o, "cancelled");
    json_object_put(o);

    r = cli("job", "cancel", id, "--store", store);
    assert_exit(r, 3);
    tu_assert_has(r.err, "already cancelled");
    run_free(&r);

    r = cli("job", "cancel", "job_ffffffffffffffffffffffff", "--store", store);
    assert_exit(r, 1);
    tu_assert_has(r.err, "job_ffffffffffffffffffffffff");
    run_free(&r);
    r = cli("job", "status", "job_ffffffffffffffffffffffff", "--store", store, "--json");
    assert_exit(r, 1);
    o = parse(r.out);
    ck_assert_str_eq(jstr(jget(o, "error"), "code"), "NOT_FOUND");
    json_object_put(o);
    run_free(&r);
}
END_TEST

START_TEST(the_store_defaults_to_LLMSVC_STORE)
{
    char env_db[TU_PATH], env_var[TU_PATH + 32], home[TU_PATH + 8];
    snprintf(env_db, sizeof env_db, "%s/env/jobs.db", tmp);
    snprintf(env_var, sizeof env_var, "LLMSVC_STORE=sqlite:%s", env_db);
    snprintf(home, sizeof home, "HOME=%s/home", tmp);
    const char *env[] = {env_var, home, "XDG_DATA_HOME=", NULL};
    run r = cli_env(env, "job", "submit", "--project", "p", "--org", "o", "--provider", "mock",
                    "--model", "mock-1", "from the environment", (const char *)NULL);
    assert_exit(r, 0);
    char id[64];
    last_line(id, sizeof id, r.out);
    run_free(&r);
    struct stat sb;
    ck_assert_int_eq(stat(env_db, &sb), 0);

    r = cli_env(env, "job", "status", id, "--json", (const char *)NULL);
    assert_exit(r, 0);
    json_object *o = parse(r.out);
    assert_state(o, "pending");
    json_object_put(o);
    run_free(&r);

    /* --store wins over LLMSVC_STORE: the job is not in that one */
    r = cli_env(env, "job", "status", id, "--store", store, (const char *)NULL);
    assert_exit(r, 1);
    run_free(&r);

    /* without LLMSVC_STORE: the per-user default under $HOME */
    const char *env2[] = {home, "XDG_DATA_HOME=", NULL};
    r = cli_env(env2, "job", "status", id, (const char *)NULL);
    assert_exit(r, 1);
    run_free(&r);
    char def[TU_PATH];
    snprintf(def, sizeof def, "%s/home/.local/share/llmsvc/llmsvc.db", tmp);
    ck_assert_int_eq(stat(def, &sb), 0);

    /* a worker started with only LLMSVC_STORE runs it */
    const char *args[] = {"worker", "--poll", "0.05", NULL};
    proc w = spawn_exe(LLMSVC_CLI, env, args);
    r = cli_env(env, "job", "wait", id, "--timeout", "30", (const char *)NULL);
    assert_exit(r, 0);
    run_free(&r);
    r = stop_worker(&w);
    run_free(&r);
}
END_TEST

START_TEST(a_bad_store_exits_6_naming_it)
{
    char file[TU_PATH], u[TU_PATH * 2];
    tu_write(file, tmp, "not-a-folder", "x\n");
    snprintf(u, sizeof u, "sqlite:%s/sub/jobs.db", file);
    run r = cli("job", "status", "job_ffffffffffffffffffffffff", "--store", u);
    assert_exit(r, 6);
    tu_assert_has(r.err, "llmsvc: store: ");
    tu_assert_has(r.err, file);
    run_free(&r);
    r = cli("worker", "--store", u);
    assert_exit(r, 6);
    run_free(&r);
}
END_TEST

/* ---- records ---- */

START_TEST(records_prints_a_table_and_json)
{
    char a1[64], a2[64], b1[64];
    submit(a1, "first of alpha", NULL, NULL);
    submit(a2, "second of alpha", NULL, NULL);
    run r = cli("job", "submit", "--store", store, "--project", "beta", "--org", "o", "--provider",
                "mock", "--model", "mock-small", "beta's question");
    assert_exit(r, 0);
    last_line(b1, sizeof b1, r.out);
    run_free(&r);
    char bad[64];
    submit(bad, "refused", "--option", "error=auth");
    proc w = start_worker(NULL, (const char *)NULL);
    const char *ids[] = {a1, a2, b1, bad};
    for (int i = 0; i < 4; i++) {
        r = cli("job", "wait", ids[i], "--store", store, "--timeout", "30");
        ck_assert_int_ne(r.status, 124);
        run_free(&r);
    }
    r = stop_worker(&w);
    run_free(&r);

    r = cli("records", "--store", store, "--json");
    assert_exit(r, 0);
    json_object *a = parse(r.out);
    ck_assert_int_eq(json_object_array_length(a), 2);
    int64_t total_in = 0;
    for (size_t i = 0; i < 2; i++) {
        json_object *row = json_object_array_get_idx(a, i);
        ck_assert_str_eq(jstr(row, "provider"), "mock");
        const char *model = jstr(row, "model");
        ck_assert_int_eq(jint(row, "calls"), !strcmp(model, "mock-1") ? 3 : 1);
        ck_assert_int_eq(jint(row, "failures"), !strcmp(model, "mock-1") ? 1 : 0);
        total_in += jint(row, "input_tokens");
    }
    ck_assert_int_gt(total_in, 0);
    json_object_put(a);
    run_free(&r);

    r = cli("records", "--store", store);
    assert_exit(r, 0);
    tu_assert_has(r.out, "PROVIDER/MODEL");
    tu_assert_has(r.out, "COST_USD");
    tu_assert_has(r.out, "mock/mock-1");
    tu_assert_has(r.out, "mock/mock-small");
    tu_assert_has(r.out, "total");
    ck_assert_int_eq(tu_lines(r.out), 4); /* header, two models, total */
    run_free(&r);

    r = cli("records", "--store", store, "--by", "project", "--json");
    assert_exit(r, 0);
    a = parse(r.out);
    ck_assert_int_eq(json_object_array_length(a), 2);
    for (size_t i = 0; i < 2; i++) {
        json_object *row = json_object_array_get_idx(a, i);
        ck_assert_int_eq(jint(row, "calls"), !strcmp(jstr(row, "project_id"), "proj-cli") ? 3 : 1);
    }
    json_object_put(a);
    run_free(&r);

    r = cli("records", "--store", store, "--project", "beta", "--json");
    assert_exit(r, 0);
    a = parse(r.out);
    ck_assert_int_eq(json_object_array_length(a), 1);
    ck_assert_str_eq(jstr(json_object_array_get_idx(a, 0), "model"), "mock-small");
    json_object_put(a);
    run_free(&r);

    r = cli("records", "--store", store, "--since", "1h", "--json");
    assert_exit(r, 0);
    a = parse(r.out);
    ck_assert_int_eq(json_object_array_length(a), 2);
    json_object_put(a);
    run_free(&r);
    r = cli("records", "--store", store, "--since", "2999-01-01", "--json");
    assert_exit(r, 0);
    a = parse(r.out);
    ck_assert_int_eq(json_object_array_length(a), 0);
    json_object_put(a);
    run_free(&r);
    r = cli("records", "--store", store, "--since", "2000-01-01T00:00:00Z", "--json");
    assert_exit(r, 0);
    a = parse(r.out);
    ck_assert_int_eq(json_object_array_length(a), 2);
    json_object_put(a);
    run_free(&r);
    r = cli("records", "--store", store, "--since", "yesterday");
    assert_exit(r, 2);
    tu_assert_has(r.err, "--since");
    run_free(&r);
}
END_TEST

/* ---- workers stopped with SIGTERM ---- */

START_TEST(sigterm_lets_a_running_job_finish)
{
    char id[64];
    submit(id, "take your time", "--option", "latency_ms=1500");
    proc w = start_worker(NULL, "--concurrency", "2", (const char *)NULL);
    await_state(id, "running");
    int64_t t0 = now_ms();
    run r = stop_worker(&w);
    /* it exited after the job ended, not before */
    json_object *o = job_get(id);
    assert_state(o, "succeeded");
    ck_assert_int_eq(jint(o, "attempts"), 1);
    json_object_put(o);
    ck_assert_int_ge(now_ms() - t0, 100);
    tu_assert_has(r.err, "1 succeeded, 0 failed, 0 retried later, 0 released back to the queue");
    run_free(&r);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q"
                            " AND status = 'succeeded'",
                            id),
                     1);
}
END_TEST

START_TEST(a_short_drain_releases_a_long_job_to_another_worker)
{
    char id[64];
    submit(id, "a very long call", "--option", "latency_ms=3000");
    proc w = start_worker(NULL, "--drain", "0.1", (const char *)NULL);
    await_state(id, "running");
    run r = stop_worker(&w);
    tu_assert_has(r.err, "1 released back to the queue");
    run_free(&r);
    json_object *o = job_get(id);
    assert_state(o, "pending");
    ck_assert_int_eq(jint(o, "attempts"), 0); /* the released attempt is not counted */
    json_object_put(o);

    proc w2 = start_worker(NULL, (const char *)NULL);
    r = cli("job", "wait", id, "--store", store, "--timeout", "30", "--json");
    assert_exit(r, 0);
    o = parse(r.out);
    assert_state(o, "succeeded");
    ck_assert_int_eq(jint(o, "attempts"), 1);
    ck_assert_str_eq(jstr(jget(o, "result"), "message"), "a very long call");
    json_object_put(o);
    run_free(&r);
    r = stop_worker(&w2);
    tu_assert_has(r.err, "1 succeeded");
    run_free(&r);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q", id), 1);
}
END_TEST

/* ---- the crash tests ---- */

#define CRASH_JOBS 200

static char upstream_env[64];
static proc upstream;

/* One HTTP/1.1 request to 127.0.0.1:port; the status code (-1 on failure). */
static int http(unsigned short port, const char *method, const char *path, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    size_t blen = body ? strlen(body) : 0;
    char head[512];
    int hlen = snprintf(head, sizeof head,
                        "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        method, path, blen);
    const char *parts[2] = {head, body};
    size_t lens[2] = {(size_t)hlen, blen};
    for (int i = 0; i < 2; i++) {
        for (size_t off = 0; off < lens[i];) {
            ssize_t n = write(fd, parts[i] + off, lens[i] - off);
            if (n < 0 && errno == EINTR)
                continue;
            ck_assert_int_gt(n, 0);
            off += (size_t)n;
        }
    }
    char resp[256];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, resp + got, sizeof resp - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == sizeof resp - 1)
            break; /* the status line is all we read */
    }
    resp[got] = '\0';
    close(fd);
    int status = -1;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

/* The standalone fake upstream, answering /responses in 50-100 ms. */
static void start_upstream(void)
{
    char port_file[TU_PATH];
    snprintf(port_file, sizeof port_file, "%s/upstream.port", tmp);
    const char *args[] = {"--port", "0", "--port-file", port_file, NULL};
    upstream = spawn_exe(FAKE_UPSTREAM_BIN, NULL, args);
    unsigned port = 0;
    for (int i = 0; i < 500 && !port; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            if (fscanf(f, "%u", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (!port)
            sleep_ms(10);
    }
    ck_assert_msg(port > 0 && port < 65536, "the fake upstream did not start: %s",
                  tu_slurp(upstream.err));
    snprintf(upstream_env, sizeof upstream_env, "OPENAI_BASE_URL=http://127.0.0.1:%u/v1", port);
    ck_assert_int_eq(http((unsigned short)port, "GET", "/_fake/health", NULL), 200);
    /* varied delays for the first answers, then 75 ms for ever */
    size_t cap = 64 * 1024;
    char *script = malloc(cap);
    ck_assert_ptr_nonnull(script);
    size_t len = (size_t)snprintf(script, cap, "[");
    for (int i = 0; i < 150; i++)
        len += (size_t)snprintf(script + len, cap - len,
                                "{\"path\": \"/responses\", \"delay_ms\": %d,"
                                " \"fixture\": \"openai/basic.json\"},",
                                50 + (i * 37) % 51);
    snprintf(script + len, cap - len,
             "{\"path\": \"/responses\", \"delay_ms\": 75, \"fixture\": \"openai/basic.json\","
             " \"times\": -1}]");
    ck_assert_int_eq(http((unsigned short)port, "POST", "/_fake/script", script), 200);
    free(script);
}

static void stop_upstream(void)
{
    if (upstream.pid > 0) {
        kill(upstream.pid, SIGTERM);
        run r = finish(&upstream);
        run_free(&r);
        upstream.pid = 0;
    }
}

typedef struct held_job {
    char id[64];
    int64_t lease_until;
} held_job;

/* The running jobs whose lease_owner is LIKE owner, at most max. */
static int held_jobs(const char *owner, held_job *out, int max)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT id, lease_until FROM llmsvc_jobs"
                                        " WHERE state = 'running' AND lease_owner LIKE ?1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, owner, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ck_assert_int_lt(n, max);
        snprintf(out[n].id, sizeof out[n].id, "%s", (const char *)sqlite3_column_text(s, 0));
        out[n].lease_until = sqlite3_column_int64(s, 1);
        n++;
    }
    ck_assert_int_eq(rc, SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static char **submit_openai_jobs(int n)
{
    char **ids = calloc((size_t)n, sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (int i = 0; i < n; i++) {
        llmsvc_request *req = tu_request("openai", OPENAI_MODEL, NULL);
        char prompt[64];
        snprintf(prompt, sizeof prompt, "crash test job %d", i);
        llmsvc_request_set_prompt(req, prompt);
        llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
        o.project_id = "crash";
        o.organization_id = "org-crash";
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_job_submit(st, req, &o, &ids[i], &err);
        tu_assert_code(rc, LLMSVC_OK, err);
        llmsvc_request_free(req);
    }
    return ids;
}

static void free_ids(char **ids, int n)
{
    for (int i = 0; i < n; i++)
        llmsvc_free(ids[i]);
    free(ids);
}

/* Polls the file until at least n jobs are in one of the states of `where`. */
static void await_count(const char *where, int n, long timeout_ms)
{
    int64_t t0 = now_ms(), c = 0;
    while ((c = db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE %s", where)) < n) {
        ck_assert_msg(now_ms() - t0 < timeout_ms,
                      "after %ld ms only %lld of %d jobs are %s (pending %lld, running %lld)",
                      timeout_ms, (long long)c, n, where,
                      (long long)db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE state='pending'"),
                      (long long)db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE state='running'"));
        sleep_ms(20);
    }
}

/* Every job succeeded, with exactly one success record. */
static void assert_all_succeeded_once(void)
{
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs"), CRASH_JOBS);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE state = 'succeeded'"
                            " AND result IS NOT NULL AND error IS NULL"),
                     CRASH_JOBS);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE status = 'succeeded'"),
                     CRASH_JOBS);
    ck_assert_int_eq(db_int("SELECT COUNT(DISTINCT job_id) FROM llmsvc_records"
                            " WHERE status = 'succeeded'"),
                     CRASH_JOBS);
    /* every success record is its job's, for the attempt that finished it */
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records r JOIN llmsvc_jobs j"
                            " ON j.id = r.job_id WHERE r.status = 'succeeded'"
                            " AND r.attempt = j.attempts AND r.project_id = 'crash'"),
                     CRASH_JOBS);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE status <> 'succeeded'"), 0);
}

static void crash_setup(void)
{
    setup();
    upstream.pid = 0;
    start_upstream();
}

static void crash_teardown(void)
{
    stop_upstream();
    teardown();
}

START_TEST(a_killed_workers_jobs_run_again_after_the_lease_and_none_twice)
{
    char **ids = submit_openai_jobs(CRASH_JOBS);
    const char *env[] = {upstream_env, "OPENAI_API_KEY=" DUMMY_KEY, "no_proxy=127.0.0.1,localhost",
                         "NO_PROXY=127.0.0.1,localhost", NULL};
    proc victim = start_worker(env, "--concurrency", "4", "--lease", "2", (const char *)NULL);
    proc survivor = start_worker(env, "--concurrency", "4", "--lease", "2", (const char *)NULL);

    await_count("state = 'succeeded'", CRASH_JOBS / 3, 30000);
    ck_assert_int_eq(kill(victim.pid, SIGKILL), 0);
    run r = finish(&victim);
    ck_assert_int_eq(r.signal, SIGKILL);
    run_free(&r);

    /* what the dead worker held: running under its name, leased until later */
    char owner[64];
    snprintf(owner, sizeof owner, "%%:%d:%%", (int)victim.pid);
    held_job hj[8];
    int n_held = held_jobs(owner, hj, 8);
    ck_assert_msg(n_held >= 1 && n_held <= 4, "the killed worker held %d jobs", n_held);

    await_count("state IN ('succeeded', 'failed', 'cancelled')", CRASH_JOBS, 40000);
    r = stop_worker(&survivor);
    run_free(&r);

    assert_all_succeeded_once();
    /* the held jobs ran again, once, after their lease had passed; the
     * attempt the dead worker had begun left no record */
    for (int i = 0; i < n_held; i++) {
        ck_assert_int_eq(db_int("SELECT attempts FROM llmsvc_jobs WHERE id = %Q", hj[i].id), 2);
        int64_t finished = db_int("SELECT finished_at FROM llmsvc_jobs WHERE id = %Q", hj[i].id);
        ck_assert_msg(finished >= hj[i].lease_until,
                      "job %s finished at %lld, before the dead worker's lease ended (%lld)",
                      hj[i].id, (long long)finished, (long long)hj[i].lease_until);
        ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records WHERE job_id = %Q", hj[i].id),
                         1);
        ck_assert_int_eq(db_int("SELECT attempt FROM llmsvc_records WHERE job_id = %Q", hj[i].id),
                         2);
    }
    /* every other job ran once */
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE attempts = 1"),
                     CRASH_JOBS - n_held);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records"), CRASH_JOBS);
    free_ids(ids, CRASH_JOBS);
}
END_TEST

START_TEST(a_stopped_worker_drains_and_no_job_is_lost_or_run_twice)
{
    char **ids = submit_openai_jobs(CRASH_JOBS);
    const char *env[] = {upstream_env, "OPENAI_API_KEY=" DUMMY_KEY, "no_proxy=127.0.0.1,localhost",
                         "NO_PROXY=127.0.0.1,localhost", NULL};
    proc stopped = start_worker(env, "--concurrency", "4", "--lease", "2", (const char *)NULL);
    proc survivor = start_worker(env, "--concurrency", "4", "--lease", "2", (const char *)NULL);

    await_count("state = 'succeeded'", CRASH_JOBS / 3, 30000);
    char owner[64];
    snprintf(owner, sizeof owner, "%%:%d:%%", (int)stopped.pid);
    run r = stop_worker(&stopped);
    tu_assert_has(r.err, "Terminated: ");
    tu_assert_has(r.err, "0 failed, 0 retried later, 0 released back to the queue");
    long done = -1;
    const char *p = strstr(r.err, "Terminated: ");
    ck_assert_int_eq(sscanf(p, "Terminated: %ld succeeded", &done), 1);
    ck_assert_int_gt(done, 0);
    run_free(&r);
    /* it left nothing running under its name */
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE state = 'running'"
                            " AND lease_owner LIKE %Q",
                            owner),
                     0);

    await_count("state IN ('succeeded', 'failed', 'cancelled')", CRASH_JOBS, 40000);
    r = stop_worker(&survivor);
    long done2 = -1;
    p = strstr(r.err, "Terminated: ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p, "Terminated: %ld succeeded", &done2), 1);
    run_free(&r);

    assert_all_succeeded_once();
    ck_assert_int_eq(done + done2, CRASH_JOBS);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_jobs WHERE attempts = 1"), CRASH_JOBS);
    ck_assert_int_eq(db_int("SELECT COUNT(*) FROM llmsvc_records"), CRASH_JOBS);
    free_ids(ids, CRASH_JOBS);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("jobs_cli");
    TCase *tc = tu_tcase("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, job_submit_prints_the_id_alone_on_its_last_line);
    tcase_add_test(tc, job_submit_refuses_what_a_worker_would_refuse);
    tcase_add_test(tc, job_wait_exits_with_the_outcome_of_the_job);
    tcase_add_test(tc, job_cancel_ends_a_pending_job_only);
    tcase_add_test(tc, the_store_defaults_to_LLMSVC_STORE);
    tcase_add_test(tc, a_bad_store_exits_6_naming_it);
    tcase_add_test(tc, records_prints_a_table_and_json);
    suite_add_tcase(s, tc);

    tc = tu_tcase("drain");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sigterm_lets_a_running_job_finish);
    tcase_add_test(tc, a_short_drain_releases_a_long_job_to_another_worker);
    suite_add_tcase(s, tc);

    tc = tu_tcase("crash");
    tcase_add_checked_fixture(tc, crash_setup, crash_teardown);
    tcase_add_test(tc, a_killed_workers_jobs_run_again_after_the_lease_and_none_twice);
    tcase_add_test(tc, a_stopped_worker_drains_and_no_job_is_lost_or_run_twice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
