/* test_batch — `llmsvc batch` end to end: the real executable run with
 * posix_spawn in a clean environment (stderr in a file, or on a pseudo-terminal
 * for the progress bar), the mock provider scripted per line through
 * provider_options, real SQLite job stores in temporary folders read back with
 * llmsvc_records_summary, and the results file parsed line by line with json-c.
 *
 * Exit codes (llmsvc batch --help): 0 all lines have results and none failed,
 * 4 some results are errors, 2 usage, 6 configuration, 1 input/output,
 * 130/143 stopped by SIGINT/SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

static char tmp[TU_PATH];

static void setup(void)
{
    tu_mkdtemp(tmp);
}

static void teardown(void)
{
    tu_rm_rf(tmp);
}

/* ---- running the command ---- */

typedef struct run {
    int status; /* exit code, or -1 when killed */
    char *out;
    char *err;
} run;

static void run_free(run *r)
{
    free(r->out);
    free(r->err);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Starts `llmsvc batch ARGS...` (argv NULL-terminated, without the program
 * name) with stdin from stdin_path (NULL: /dev/null), stdout into tag.stdout and
 * stderr into tag.stderr, or onto the terminal err_tty names when it is not
 * NULL; environment: ours without LLMSVC_* and OPENAI_*. */
static pid_t start(const char *tag, const char *stdin_path, const char *err_tty,
                   const char *const *args)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = LLMSVC_CLI;
    argv[n++] = "batch";
    for (; *args; args++) {
        ck_assert_uint_lt(n, 63);
        argv[n++] = *args;
    }
    argv[n] = NULL;

    size_t ne = 0;
    for (char **e = environ; *e; e++)
        ne++;
    char **env = calloc(ne + 1, sizeof *env);
    ck_assert_ptr_nonnull(env);
    size_t k = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "LLMSVC_", 7) && strncmp(*e, "OPENAI_", 7))
            env[k++] = *e;
    }

    char out_path[TU_PATH], err_path[TU_PATH];
    snprintf(out_path, sizeof out_path, "%s/%s.stdout", tmp, tag);
    snprintf(err_path, sizeof err_path, "%s/%s.stderr", tmp, tag);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (err_tty)
        posix_spawn_file_actions_addopen(&fa, 2, err_tty, O_RDWR | O_NOCTTY, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, LLMSVC_CLI, &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    ck_assert_msg(rc == 0, "cannot run %s: %s", LLMSVC_CLI, strerror(rc));
    return pid;
}

/* Waits for a start()ed command; its exit code and what it printed. A
 * sanitizer build's report fails the test whatever the exit code, except,
 * with threads_left, ThreadSanitizer's note about the threads an immediate
 * exit leaves unjoined on purpose. */
static run finish_ex(const char *tag, pid_t pid, int threads_left)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    char out_path[TU_PATH], err_path[TU_PATH];
    snprintf(out_path, sizeof out_path, "%s/%s.stdout", tmp, tag);
    snprintf(err_path, sizeof err_path, "%s/%s.stderr", tmp, tag);
    run r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, tu_slurp(out_path), NULL};
    r.err = access(err_path, F_OK) == 0 ? tu_slurp(err_path) : strdup("");
    ck_assert_msg(WIFEXITED(st), "llmsvc died with signal %d; stderr:\n%s", WTERMSIG(st), r.err);
    size_t reports = tu_count(r.err, "Sanitizer");
    if (threads_left) /* its WARNING and SUMMARY lines, and the count of warnings */
        reports -= tu_count(r.err, "ThreadSanitizer: thread leak") +
                   tu_count(r.err, "ThreadSanitizer: reported");
    ck_assert_msg(reports == 0, "sanitizer report:\n%s", r.err);
    return r;
}

static run finish(const char *tag, pid_t pid)
{
    return finish_ex(tag, pid, 0);
}

static run batch_args(const char *const *args)
{
    return finish("run", start("run", NULL, NULL, args));
}

#define batch(...) batch_args((const char *const[]){__VA_ARGS__, NULL})

#define assert_exit(r, code)                                                                       \
    ck_assert_msg((r).status == (code), "exit %d, expected %d\nstdout: %s\nstderr: %s",            \
                  (r).status, (code), (r).out, (r).err)

/* ---- inputs and results ---- */

/* One request line for the mock: prompt "prompt N", optional extra members of
 * provider_options (a JSON fragment without braces, may be ""), optional extra
 * top-level members (e.g. "\"project_id\": \"x\""), model (NULL: mock-1). */
static void request_line(FILE *f, long n, const char *opts, const char *top, const char *model)
{
    fprintf(f,
            "{\"llm\": {\"prompt\": \"prompt %ld\", \"llm_model_spec\": {\"provider\": \"mock\", "
            "\"model\": \"%s\"}}, \"provider_options\": {%s}%s%s}\n",
            n, model ? model : "mock-1", opts ? opts : "", top ? ", " : "", top ? top : "");
}

static FILE *create(char path[TU_PATH], const char *name)
{
    snprintf(path, TU_PATH, "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    return f;
}

/* n requests; line i sleeps latency(i) ms; each has project_id "line-i". */
static void write_requests(char path[TU_PATH], const char *name, long n, long (*latency)(long))
{
    FILE *f = create(path, name);
    for (long i = 1; i <= n; i++) {
        char opts[64], top[64];
        snprintf(opts, sizeof opts, "\"latency_ms\": %ld", latency ? latency(i) : 0);
        snprintf(top, sizeof top, "\"project_id\": \"line-%ld\"", i);
        request_line(f, i, opts, top, NULL);
    }
    ck_assert_int_eq(fclose(f), 0);
}

typedef struct results {
    size_t n;
    json_object *lines[4096]; /* each output line parsed */
} results;

/* Parses every line of the output; each must be a complete JSON object with an
 * integer "line" and exactly one of "response" and "error". */
static results *load_results(const char *path)
{
    results *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    char *text = tu_slurp(path), *p = text;
    ck_assert_msg(!*text || text[strlen(text) - 1] == '\n', "%s ends in a partial line", path);
    while (*p) {
        char *eol = strchr(p, '\n');
        *eol = '\0';
        json_object *o = json_tokener_parse(p);
        ck_assert_msg(o && json_object_is_type(o, json_type_object), "not a JSON object: %s", p);
        json_object *v;
        ck_assert_msg(json_object_object_get_ex(o, "line", &v) &&
                          json_object_is_type(v, json_type_int),
                      "no line number: %s", p);
        ck_assert_msg(json_object_object_get_ex(o, "response", NULL) !=
                          json_object_object_get_ex(o, "error", NULL),
                      "not one of response and error: %s", p);
        ck_assert_uint_lt(r->n, sizeof r->lines / sizeof *r->lines);
        r->lines[r->n++] = o;
        p = eol + 1;
    }
    free(text);
    return r;
}

static void results_free(results *r)
{
    for (size_t i = 0; i < r->n; i++)
        json_object_put(r->lines[i]);
    free(r);
}

static long line_of(const results *r, size_t i)
{
    json_object *v;
    json_object_object_get_ex(r->lines[i], "line", &v);
    return (long)json_object_get_int64(v);
}

/* The member "response" or "error" of result i, or NULL. */
static json_object *member(const results *r, size_t i, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(r->lines[i], key, &v);
    return v;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
                  json_object_to_json_string(o));
    return json_object_get_string(v);
}

/* Asserts that the results are lines 1..n, each once, in order, all succeeded,
 * each answering its own prompt. */
static void assert_all_lines(const char *path, long n)
{
    results *r = load_results(path);
    ck_assert_uint_eq(r->n, (size_t)n);
    for (size_t i = 0; i < r->n; i++) {
        ck_assert_int_eq(line_of(r, i), (long)i + 1);
        json_object *resp = member(r, i, "response");
        ck_assert_msg(resp != NULL, "line %zu failed: %s", i + 1,
                      json_object_to_json_string(r->lines[i]));
        char want[32];
        snprintf(want, sizeof want, "prompt %zu", i + 1);
        ck_assert_str_eq(str(resp, "message"), want);
    }
    results_free(r);
}

static size_t file_lines(const char *path)
{
    char *t = tu_slurp(path);
    size_t n = tu_count(t, "\n");
    free(t);
    return n;
}

static long latency_400(long i)
{
    (void)i;
    return 400;
}

/* Waits until path has at least n complete lines (the command is running and
 * has its handlers in place by then). */
static void wait_lines(const char *path, size_t n)
{
    double until = now_s() + 30;
    while (access(path, F_OK) != 0 || file_lines(path) < n) {
        ck_assert_msg(now_s() < until, "%s never reached %zu lines", path, n);
        sleep_ms(20);
    }
}

/* ---- call records ---- */

/* Calls recorded per project (group_by "project") or in all. */
static long recorded_calls(const char *url, const char *project, long *failures)
{
    llmsvc_store *st = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(&st, url, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    llmsvc_records_filter f = LLMSVC_RECORDS_FILTER_INIT;
    f.project_id = project;
    f.group_by = "project";
    char *js = NULL;
    rc = llmsvc_records_summary(st, &f, &js, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    json_object *a = json_tokener_parse(js);
    ck_assert_ptr_nonnull(a);
    long calls = 0, fails = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *row = json_object_array_get_idx(a, i), *v;
        if (json_object_object_get_ex(row, "calls", &v))
            calls += (long)json_object_get_int64(v);
        if (json_object_object_get_ex(row, "failures", &v))
            fails += (long)json_object_get_int64(v);
    }
    json_object_put(a);
    llmsvc_free(js);
    llmsvc_store_close(st);
    if (failures)
        *failures = fails;
    return calls;
}

/* ---- order ---- */

/* Within each group of 8 lines started together, the later the line the
 * sooner it ends: completions come in reverse order. */
static long reverse_in_eights(long i)
{
    return 10 + 10 * (7 - (i - 1) % 8);
}

START_TEST(results_come_in_input_order_with_their_line_numbers)
{
    char in[TU_PATH], out[TU_PATH];
    write_requests(in, "in.jsonl", 200, reverse_in_eights);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    run r = batch("--input", in, "--output", out, "--concurrency", "8");
    assert_exit(r, 0);
    ck_assert_str_eq(r.out, "");
    assert_all_lines(out, 200);
    tu_assert_has(r.err, "llmsvc batch: 200/200 lines done, 0 failed (200 ran in ");
    tu_assert_has(r.err, out);
    run_free(&r);
}
END_TEST

START_TEST(bad_lines_get_error_results_with_their_line_numbers_and_the_others_run)
{
    char in[TU_PATH], out[TU_PATH];
    FILE *f = create(in, "in.jsonl");
    request_line(f, 1, "", NULL, NULL);
    /* 2: blank, skipped; 3: malformed JSON; 4: unknown model */
    fputs("\n{\"llm\": nope}\n", f);
    request_line(f, 4, "", NULL, "mock-9");
    /* 5: unknown field */
    fputs("{\"llm\": {\"prompt\": \"x\", \"llm_model_spec\": {\"provider\": \"mock\", "
          "\"model\": \"mock-1\", \"temprature\": 1}}}\n",
          f);
    request_line(f, 6, "", NULL, NULL);
    /* 7: blank (white space only), skipped; 8: fails validation */
    fputs("   \t\r\n{\"llm\": {\"prompt\": \"x\", \"llm_model_spec\": {\"provider\": "
          "\"mock\", \"model\": \"mock-1\", \"temperature\": 5}}}\n",
          f);
    request_line(f, 9, "", NULL, NULL);
    request_line(f, 10, "\"error\": \"server\"", NULL, NULL); /* 10: the provider fails */
    request_line(f, 11, "", NULL, NULL);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);

    run r = batch("--input", in, "--output", out, "--retries", "0");
    assert_exit(r, 4);
    results *res = load_results(out);
    static const long lines[] = {1, 3, 4, 5, 6, 8, 9, 10, 11};
    static const char *const codes[] = {
        NULL, "VALIDATION", "UNKNOWN_MODEL", "VALIDATION", NULL, "VALIDATION", NULL, "API", NULL};
    ck_assert_uint_eq(res->n, sizeof lines / sizeof *lines);
    for (size_t i = 0; i < res->n; i++) {
        ck_assert_int_eq(line_of(res, i), lines[i]);
        if (!codes[i]) {
            ck_assert_ptr_nonnull(member(res, i, "response"));
            char want[32];
            snprintf(want, sizeof want, "prompt %ld", lines[i]);
            ck_assert_str_eq(str(member(res, i, "response"), "message"), want);
        } else {
            json_object *e = member(res, i, "error");
            ck_assert_msg(e != NULL, "line %ld should have failed", lines[i]);
            ck_assert_str_eq(str(e, "code"), codes[i]);
        }
    }
    tu_assert_has(str(member(res, 1, "error"), "message"), "request JSON is malformed at byte");
    tu_assert_has(str(member(res, 2, "error"), "message"), "unknown model 'mock-9'");
    tu_assert_has(str(member(res, 3, "error"), "message"), "temprature");
    tu_assert_has(str(member(res, 5, "error"), "message"), "'temperature' is 5");
    tu_assert_has(str(member(res, 7, "error"), "message"), "mock: internal server error");
    results_free(res);
    tu_assert_has(r.err, "9/9 lines done, 5 failed (9 ran in ");
    run_free(&r);
}
END_TEST

START_TEST(input_can_come_from_stdin)
{
    char in[TU_PATH], out[TU_PATH];
    write_requests(in, "in.jsonl", 12, NULL);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    run r = finish("stdin", start("stdin", in, NULL,
                                  (const char *const[]){"--input", "-", "--output", out, NULL}));
    assert_exit(r, 0);
    assert_all_lines(out, 12);
    run_free(&r);
}
END_TEST

/* ---- resuming ---- */

static long latency_20(long i)
{
    (void)i;
    return 20;
}

START_TEST(a_rerun_after_a_crash_calls_only_the_lines_not_in_the_output)
{
    enum { N = 40, K = 15 };
    char in[TU_PATH], out[TU_PATH], url[TU_PATH + 16];
    write_requests(in, "in.jsonl", N, latency_20);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    snprintf(url, sizeof url, "sqlite:%s/records.db", tmp);
    run r = batch("--input", in, "--output", out, "--store", url, "--concurrency", "6");
    assert_exit(r, 0);
    run_free(&r);
    assert_all_lines(out, N);

    /* what a crash while writing line K + 1 leaves: K lines and half of one */
    char *text = tu_slurp(out), *p = text;
    for (int i = 0; i < K; i++)
        p = strchr(p, '\n') + 1;
    size_t keep = (size_t)(p - text) + (size_t)(strchr(p, '\n') - p) / 2;
    ck_assert_int_eq(truncate(out, (off_t)keep), 0);

    r = batch("--input", in, "--output", out, "--store", url, "--concurrency", "6");
    assert_exit(r, 0);
    char want[128];
    snprintf(want, sizeof want,
             "already has %d results (0 failed), through line %d; cut off an "
             "unfinished last line",
             K, K);
    tu_assert_has(r.err, want);
    snprintf(want, sizeof want, "%d/%d lines done, 0 failed (%d ran in ", N, N, N - K);
    tu_assert_has(r.err, want);
    snprintf(want, sizeof want, "/s; %d done before); results in ", K);
    tu_assert_has(r.err, want);
    run_free(&r);
    assert_all_lines(out, N);
    char *again = tu_slurp(out);
    ck_assert_msg(!strncmp(again, text, (size_t)(p - text)), "the done lines were rewritten");
    free(again);
    free(text);

    /* lines 1..K ran once; the rest once before the crash and once now */
    for (long i = 1; i <= N; i++) {
        char project[32];
        snprintf(project, sizeof project, "line-%ld", i);
        ck_assert_msg(recorded_calls(url, project, NULL) == (i <= K ? 1 : 2),
                      "line %ld called %ld times", i, recorded_calls(url, project, NULL));
    }

    /* a finished batch: nothing runs, nothing changes */
    text = tu_slurp(out);
    r = batch("--input", in, "--output", out, "--store", url);
    assert_exit(r, 0);
    tu_assert_has(r.err, "40/40 lines done, 0 failed (0 ran in ");
    tu_assert_has(r.err, "/s; 40 done before)");
    run_free(&r);
    again = tu_slurp(out);
    ck_assert_str_eq(again, text);
    free(again);
    free(text);
    ck_assert_int_eq(recorded_calls(url, NULL, NULL), 2 * N - K);
}
END_TEST

START_TEST(earlier_failures_count_in_the_exit_code_of_a_rerun)
{
    char in[TU_PATH], out[TU_PATH];
    FILE *f = create(in, "in.jsonl");
    request_line(f, 1, "\"error\": \"auth\"", NULL, NULL);
    request_line(f, 2, "", NULL, NULL);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    run r = batch("--input", in, "--output", out);
    assert_exit(r, 4);
    run_free(&r);
    /* the failed line is not retried: its result is in the output */
    r = batch("--input", in, "--output", out);
    assert_exit(r, 4);
    tu_assert_has(r.err, "already has 2 results (1 failed), through line 2");
    tu_assert_has(r.err, "2/2 lines done, 1 failed (0 ran in ");
    tu_assert_has(r.err, "/s; 2 done before)");
    run_free(&r);
    ck_assert_uint_eq(file_lines(out), 2);
}
END_TEST

START_TEST(an_output_that_is_not_batch_results_is_left_alone)
{
    char in[TU_PATH], out[TU_PATH];
    write_requests(in, "in.jsonl", 3, NULL);
    tu_write(out, tmp, "notes.txt", "my notes\n");
    run r = batch("--input", in, "--output", out);
    assert_exit(r, 1);
    tu_assert_has(r.err, "notes.txt:1: not a result line of llmsvc batch");
    run_free(&r);
    char *t = tu_slurp(out);
    ck_assert_str_eq(t, "my notes\n");
    free(t);

    /* results out of order are not ours either */
    tu_write(out, tmp, "out.jsonl", "{\"line\":2,\"response\":{}}\n{\"line\":1,\"response\":{}}\n");
    r = batch("--input", in, "--output", out);
    assert_exit(r, 1);
    tu_assert_has(r.err, "out.jsonl:2: result for line 1 after one for line 2");
    run_free(&r);
}
END_TEST

START_TEST(a_second_batch_on_the_same_output_is_refused)
{
    char in[TU_PATH], out[TU_PATH];
    write_requests(in, "in.jsonl", 12, latency_400); /* 1.2 s on 4 threads */
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    const char *const args[] = {"--input", in, "--output", out, NULL};
    pid_t first = start("first", NULL, NULL, args);
    wait_lines(out, 1);
    run r = finish("second", start("second", NULL, NULL, args));
    assert_exit(r, 1);
    tu_assert_has(r.err, "out.jsonl is in use (another llmsvc batch writing it?)");
    run_free(&r);
    r = finish("first", first);
    assert_exit(r, 0);
    run_free(&r);
    assert_all_lines(out, 12);
}
END_TEST

/* ---- call records ---- */

START_TEST(store_gets_one_record_per_call_under_the_given_project)
{
    char in[TU_PATH], out[TU_PATH], url[TU_PATH + 16];
    FILE *f = create(in, "in.jsonl");
    for (long i = 1; i <= 30; i++)
        request_line(f, i, i % 6 == 0 ? "\"error\": \"validation\"" : "",
                     i % 2 ? "\"project_id\": \"own\"" : NULL, NULL);
    fputs("{ not json\n", f); /* line 31: never a call, so never a record */
    ck_assert_int_eq(fclose(f), 0);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    snprintf(url, sizeof url, "sqlite:%s/store/records.db", tmp);

    run r = batch("--input", in, "--output", out, "--store", url, "--project", "proj-a", "--org",
                  "org-a", "--concurrency", "5");
    assert_exit(r, 4);
    run_free(&r);
    long failures;
    ck_assert_int_eq(recorded_calls(url, NULL, &failures), 30);
    ck_assert_int_eq(failures, 5);
    ck_assert_int_eq(recorded_calls(url, "proj-a", &failures), 30);
    ck_assert_int_eq(failures, 5);
    ck_assert_int_eq(recorded_calls(url, "own", NULL), 0);

    /* --org alone leaves each line's own project_id */
    snprintf(out, sizeof out, "%s/out2.jsonl", tmp);
    r = batch("--input", in, "--output", out, "--store", url, "--org", "org-b");
    assert_exit(r, 4);
    run_free(&r);
    ck_assert_int_eq(recorded_calls(url, NULL, NULL), 60);
    ck_assert_int_eq(recorded_calls(url, "own", NULL), 15);
    ck_assert_int_eq(recorded_calls(url, "proj-a", NULL), 30);
}
END_TEST

static long slow_first_line(long i)
{
    return i == 1 ? 3000 : 0;
}

START_TEST(a_slow_line_holds_back_at_most_a_window_of_results)
{
    /* concurrency 2: a window of 64 lines; while line 1 runs, 63 others end
     * and wait to be written, and no more are read */
    char in[TU_PATH], out[TU_PATH], url[TU_PATH + 16];
    write_requests(in, "in.jsonl", 300, slow_first_line);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    snprintf(url, sizeof url, "sqlite:%s/records.db", tmp);
    double t0 = now_s();
    pid_t pid = start("run", NULL, NULL,
                      (const char *const[]){"--input", in, "--output", out, "--store", url,
                                            "--concurrency", "2", NULL});
    long calls = 0;
    while (calls < 63 && now_s() - t0 < 2.4) {
        sleep_ms(50);
        calls = access(out, F_OK) == 0 ? recorded_calls(url, NULL, NULL) : 0;
    }
    ck_assert_int_eq(calls, 63);
    sleep_ms(300);
    ck_assert_msg(now_s() - t0 < 2.9, "too slow to tell (%.1f s)", now_s() - t0);
    ck_assert_int_eq(recorded_calls(url, NULL, NULL), 63);
    ck_assert_uint_eq(file_lines(out), 0); /* line 1 is not done: nothing written yet */
    run r = finish("run", pid);
    assert_exit(r, 0);
    run_free(&r);
    assert_all_lines(out, 300);
    ck_assert_int_eq(recorded_calls(url, NULL, NULL), 300);
}
END_TEST

/* ---- progress ---- */

static long latency_1000(long i)
{
    (void)i;
    return 1000;
}

START_TEST(without_a_terminal_progress_is_a_plain_line_every_few_seconds)
{
    char in[TU_PATH], out[TU_PATH], out_q[TU_PATH];
    write_requests(in, "in.jsonl", 28, latency_1000); /* 7 s on 4 threads */
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    snprintf(out_q, sizeof out_q, "%s/quiet.jsonl", tmp);
    pid_t loud =
        start("loud", NULL, NULL, (const char *const[]){"--input", in, "--output", out, NULL});
    pid_t quiet = start("quiet", NULL, NULL,
                        (const char *const[]){"--input", in, "--output", out_q, "--quiet", NULL});
    run r = finish("loud", loud), q = finish("quiet", quiet);
    assert_exit(r, 0);
    assert_exit(q, 0);

    ck_assert_msg(!strchr(r.err, '\r') && !strchr(r.err, '\033'), "terminal codes in: %s", r.err);
    ck_assert_uint_ge(tu_lines(r.err), 2);
    tu_assert_has(r.err, "/28 lines (");
    tu_assert_has(r.err, " calls/s, 0 failed, ETA ");
    for (const char *p = r.err; *p; p = strchr(p, '\n') + 1)
        ck_assert_msg(!strncmp(p, "llmsvc batch: ", 14), "odd line in: %s", r.err);
    const char *last = strstr(r.err, "28/28 lines done, 0 failed");
    ck_assert_msg(last && !strchr(last, '\n')[1], "the summary is not last: %s", r.err);

    /* --quiet: the summary only */
    ck_assert_uint_eq(tu_lines(q.err), 1);
    tu_assert_has(q.err, "llmsvc batch: 28/28 lines done, 0 failed");
    run_free(&r);
    run_free(&q);
}
END_TEST

static long latency_150(long i)
{
    (void)i;
    return 150;
}

START_TEST(on_a_terminal_progress_is_one_redrawn_line_with_a_bar)
{
    char in[TU_PATH], out[TU_PATH];
    write_requests(in, "in.jsonl", 24, latency_150); /* 1.8 s on 2 threads */
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);

    int m = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(m, 0);
    ck_assert_int_eq(grantpt(m), 0);
    ck_assert_int_eq(unlockpt(m), 0);
    struct winsize ws = {.ws_row = 24, .ws_col = 120};
    ck_assert_int_eq(ioctl(m, TIOCSWINSZ, &ws), 0);
    char slave[256];
    ck_assert_int_eq(ptsname_r(m, slave, sizeof slave), 0);
    pid_t pid =
        start("tty", NULL, slave,
              (const char *const[]){"--input", in, "--output", out, "--concurrency", "2", NULL});
    /* read the terminal while it runs (a full one would block the child) */
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    int st, exited = 0;
    for (;;) {
        struct pollfd pfd = {m, POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0 && (pfd.revents & POLLIN)) {
            ssize_t n = read(m, text + len, cap - len - 1);
            if (n > 0) {
                len += (size_t)n;
                ck_assert_uint_lt(len, cap - 1);
                continue;
            }
        }
        if (exited)
            break;
        exited = waitpid(pid, &st, WNOHANG) == pid; /* then one more round to drain */
    }
    text[len] = '\0';
    close(m);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, text);

    tu_assert_has(text, "\r[");
    tu_assert_has(text, "\033[K");
    tu_assert_has(text, "/24  ");
    tu_assert_has(text, "/s  0 failed  ETA ");
    tu_assert_has(text, "#");
    tu_assert_lacks(text, "calls/s"); /* no plain lines */
    /* the terminal turns \n into \r\n: the summary is the one full line */
    ck_assert_uint_eq(tu_count(text, "\n"), 1);
    tu_assert_has(text, "\r\033[Kllmsvc batch: 24/24 lines done, 0 failed");
    free(text);
    assert_all_lines(out, 24);
}
END_TEST

/* ---- signals ---- */

static void stop_and_resume(int sig, int code)
{
    enum { N = 60 };
    char in[TU_PATH], out[TU_PATH];
    write_requests(in, "in.jsonl", N, latency_400); /* 6 s on 4 threads */
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    pid_t pid =
        start("run", NULL, NULL, (const char *const[]){"--input", in, "--output", out, NULL});
    wait_lines(out, 4);
    ck_assert_int_eq(kill(pid, sig), 0);
    run r = finish("run", pid);
    assert_exit(r, code);
    tu_assert_has(r.err, "llmsvc batch: stopped: ");
    tu_assert_has(r.err, "run the same command again to resume");
    run_free(&r);

    /* a complete, in-order prefix; the running calls were let finish */
    results *res = load_results(out);
    size_t k = res->n;
    ck_assert_msg(k >= 8 && k < N, "%zu lines after the stop", k);
    for (size_t i = 0; i < k; i++)
        ck_assert_int_eq(line_of(res, i), (long)i + 1);
    results_free(res);

    r = batch("--input", in, "--output", out, "--concurrency", "16");
    assert_exit(r, 0);
    char want[64];
    snprintf(want, sizeof want, "already has %zu results", k);
    tu_assert_has(r.err, want);
    run_free(&r);
    assert_all_lines(out, N);
}

START_TEST(sigterm_lets_running_calls_finish_and_a_rerun_completes)
{
    stop_and_resume(SIGTERM, 143);
}
END_TEST

START_TEST(sigint_lets_running_calls_finish_and_a_rerun_completes)
{
    stop_and_resume(SIGINT, 130);
}
END_TEST

static long slow_but_the_first(long i)
{
    return i == 1 ? 0 : 20000;
}

START_TEST(a_second_signal_stops_at_once)
{
    char in[TU_PATH], out[TU_PATH];
    write_requests(in, "in.jsonl", 6, slow_but_the_first);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    pid_t pid =
        start("run", NULL, NULL, (const char *const[]){"--input", in, "--output", out, NULL});
    wait_lines(out, 1);
    double t0 = now_s();
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    sleep_ms(300);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    run r = finish_ex("run", pid, 1);
    assert_exit(r, 143);
    ck_assert_msg(now_s() - t0 < 5, "took %.1f s to stop", now_s() - t0);
    tu_assert_has(r.err, "waiting for 4 running calls");
    tu_assert_has(r.err, "stopped at once");
    run_free(&r);
    assert_all_lines(out, 1);
}
END_TEST

/* ---- usage and exit codes ---- */

START_TEST(help_describes_the_command_and_its_exit_codes)
{
    run r = batch("--help");
    assert_exit(r, 0);
    ck_assert_msg(!strncmp(r.out, "usage: llmsvc batch", 19), "%s", r.out);
    tu_assert_has(r.out, "--concurrency N");
    tu_assert_has(r.out, "Exit codes: 0");
    tu_assert_has(r.out, "130 / 143");
    ck_assert_str_eq(r.err, "");
    run_free(&r);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    char in[TU_PATH], out[TU_PATH];
    write_requests(in, "in.jsonl", 2, NULL);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    static const char *const bad[][3] = {
        {"--concurrency", "0", "--concurrency takes a whole number from 1 to 256, not '0'"},
        {"--concurrency", "many", "not 'many'"},
        {"--retries", "-1", "--retries takes a whole number from 0 to 100"},
        {"--timeout", "0", "--timeout takes seconds"},
        {"--bogus", NULL, "unknown or incomplete option"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        run r = bad[i][1] ? batch("--input", in, "--output", out, bad[i][0], bad[i][1])
                          : batch("--input", in, "--output", out, bad[i][0]);
        assert_exit(r, 2);
        tu_assert_has(r.err, bad[i][2]);
        tu_assert_has(r.err, "Try 'llmsvc batch --help'");
        run_free(&r);
    }
    run r = batch("--input", in);
    assert_exit(r, 2);
    tu_assert_has(r.err, "give --input FILE and --output FILE");
    run_free(&r);
    r = batch("--input", in, "--output", out, "extra");
    assert_exit(r, 2);
    tu_assert_has(r.err, "unexpected argument 'extra'");
    run_free(&r);
    r = batch("--input", in, "--output", in);
    assert_exit(r, 2);
    tu_assert_has(r.err, "--input and --output are the same file");
    run_free(&r);
    ck_assert_int_ne(access(out, F_OK), 0); /* nothing was created */
}
END_TEST

START_TEST(unreadable_input_exits_1_and_a_bad_store_exits_6)
{
    char in[TU_PATH], out[TU_PATH];
    snprintf(in, sizeof in, "%s/missing.jsonl", tmp);
    snprintf(out, sizeof out, "%s/out.jsonl", tmp);
    run r = batch("--input", in, "--output", out);
    assert_exit(r, 1);
    tu_assert_has(r.err, "cannot open");
    tu_assert_has(r.err, "missing.jsonl");
    run_free(&r);

    write_requests(in, "in.jsonl", 2, NULL);
    r = batch("--input", in, "--output", out, "--store", "mysql://db/x");
    assert_exit(r, 6);
    tu_assert_has(r.err, "unknown store URL");
    run_free(&r);
    ck_assert_int_ne(access(out, F_OK), 0); /* nothing ran, nothing was created */

    r = batch("--input", in, "--output", "/dev/null");
    assert_exit(r, 2);
    tu_assert_has(r.err, "is not a regular file");
    run_free(&r);
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tu_tcase("results");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, results_come_in_input_order_with_their_line_numbers);
    tcase_add_test(tc, bad_lines_get_error_results_with_their_line_numbers_and_the_others_run);
    tcase_add_test(tc, input_can_come_from_stdin);
    tcase_add_test(tc, a_slow_line_holds_back_at_most_a_window_of_results);
    suite_add_tcase(s, tc);
    tc = tu_tcase("resume");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_rerun_after_a_crash_calls_only_the_lines_not_in_the_output);
    tcase_add_test(tc, earlier_failures_count_in_the_exit_code_of_a_rerun);
    tcase_add_test(tc, an_output_that_is_not_batch_results_is_left_alone);
    tcase_add_test(tc, a_second_batch_on_the_same_output_is_refused);
    tcase_add_test(tc, sigterm_lets_running_calls_finish_and_a_rerun_completes);
    tcase_add_test(tc, sigint_lets_running_calls_finish_and_a_rerun_completes);
    tcase_add_test(tc, a_second_signal_stops_at_once);
    suite_add_tcase(s, tc);
    tc = tu_tcase("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, store_gets_one_record_per_call_under_the_given_project);
    suite_add_tcase(s, tc);
    tc = tu_tcase("progress");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, without_a_terminal_progress_is_a_plain_line_every_few_seconds);
    tcase_add_test(tc, on_a_terminal_progress_is_one_redrawn_line_with_a_bar);
    suite_add_tcase(s, tc);
    tc = tu_tcase("usage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, help_describes_the_command_and_its_exit_codes);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, unreadable_input_exits_1_and_a_bad_store_exits_6);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(batch_suite());
}
