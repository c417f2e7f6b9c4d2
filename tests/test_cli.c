/* test_cli — the `llmsvc` command end to end: the real executable, run with
 * posix_spawn in a clean environment, its stdout and stderr captured, its
 * --json output parsed with json-c. It finds plugins and specs where an
 * installed one would: the build tree's lib/llmsvc/plugins and
 * share/llmsvc/specs (the shipped specs/).
 *
 * Exit codes (cli/cli.h): 0 ok, 2 usage, 3 validation / unknown model /
 * unsupported provider, 4 API, 5 transport, 6 configuration. */
#include <fcntl.h>
#include <json-c/json.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "llmsvc/plugin.h"
#include "registry.h"
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

/* Runs LLMSVC_CLI with the NULL-terminated arguments; stdin from stdin_path
 * (NULL: /dev/null); environment: ours without LLMSVC_* and OPENAI_*. */
static run cli_in(const char *stdin_path, const char *arg, ...)
{
    const char *argv[64];
    size_t n = 0;
    argv[n++] = LLMSVC_CLI;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a; a = va_arg(ap, const char *)) {
        ck_assert_uint_lt(n, 63);
        argv[n++] = a;
    }
    va_end(ap);
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
    snprintf(out_path, sizeof out_path, "%s/stdout", tmp);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, LLMSVC_CLI, &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    ck_assert_msg(rc == 0, "cannot run %s: %s", LLMSVC_CLI, strerror(rc));
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    run r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, tu_slurp(out_path), tu_slurp(err_path)};
    ck_assert_msg(WIFEXITED(st), "llmsvc died with signal %d; stderr:\n%s", WTERMSIG(st), r.err);
    return r;
}

#define cli(...) cli_in(NULL, __VA_ARGS__, (const char *)NULL)

#define assert_exit(r, code)                                                                       \
    ck_assert_msg((r).status == (code), "exit %d, expected %d\nstdout: %s\nstderr: %s",            \
                  (r).status, (code), (r).out, (r).err)

static json_object *parse_json(const char *text)
{
    json_object *o = json_tokener_parse(text);
    ck_assert_msg(o != NULL, "not JSON: %s", text);
    return o;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
                  json_object_to_json_string(o));
    return v;
}

/* ---- call ---- */

START_TEST(call_json_prints_the_documented_object)
{
    run r = cli("call", "--provider", "mock", "--model", "mock-1", "hi", "--json");
    assert_exit(r, 0);
    ck_assert_str_eq(r.err, "");
    ck_assert_int_eq(tu_lines(r.out), 1);
    json_object *o = parse_json(r.out);
    ck_assert_str_eq(json_object_get_string(get(o, "provider")), "mock");
    ck_assert_str_eq(json_object_get_string(get(o, "model")), "mock-1");
    ck_assert_str_eq(json_object_get_string(get(o, "message")), "hi");
    ck_assert_str_eq(json_object_get_string(get(o, "finish_reason")), "stop");
    tu_assert_has(json_object_get_string(get(o, "id")), "mock-");
    ck_assert_int_eq(json_object_get_int(get(o, "input_tokens")), 1 + 8);
    ck_assert_int_eq(json_object_get_int(get(o, "output_tokens")), 1);
    ck_assert_int_eq(json_object_get_int(get(o, "reasoning_tokens")), 0);
    ck_assert_int_eq(json_object_get_int(get(o, "cached_input_tokens")), 0);
    ck_assert_int_eq(json_object_get_int(get(o, "total_tokens")), 10);
    ck_assert(json_object_get_double(get(o, "cost_usd")) > 0);
    ck_assert(json_object_get_double(get(o, "latency_ms")) >= 0);
    ck_assert_int_eq(json_object_get_int(get(o, "attempts")), 1);
    ck_assert(json_object_is_type(get(o, "file_search_results"), json_type_array));
    json_object_put(o);
    run_free(&r);
}
END_TEST

START_TEST(call_prints_the_message_as_text)
{
    run r = cli("call", "--provider", "mock", "--model", "mock-1", "hello", "world");
    assert_exit(r, 0);
    ck_assert_str_eq(r.out, "hello world\n");
    ck_assert_str_eq(r.err, "");
    run_free(&r);

    r = cli("call", "--provider", "mock", "--model", "mock-1", "--option", "reply=scripted", "hi");
    assert_exit(r, 0);
    ck_assert_str_eq(r.out, "scripted\n");
    run_free(&r);
}
END_TEST

static const char request_json[] =
    "{\"llm\": {\"prompt\": \"from the request file\", \"vector_store_id\": null, "
    "\"llm_model_spec\": {\"model\": \"mock-1\", \"provider\": \"mock\", \"temperature\": 0.7, "
    "\"max_tokens\": 500, \"text\": {\"verbosity\": \"medium\"}}}, \"max_num_results\": null}";

START_TEST(call_reads_a_request_file)
{
    char path[TU_PATH];
    tu_write(path, tmp, "request.json", request_json);
    run r = cli("call", "--request", path);
    assert_exit(r, 0);
    ck_assert_str_eq(r.out, "from the request file\n");
    run_free(&r);

    /* options beside --request override its fields */
    r = cli("call", "--request", path, "--model", "mock-latest", "--json", "another prompt");
    assert_exit(r, 0);
    json_object *o = parse_json(r.out);
    ck_assert_str_eq(json_object_get_string(get(o, "message")), "another prompt");
    ck_assert_str_eq(json_object_get_string(get(o, "model")), "mock-1");
    json_object_put(o);
    run_free(&r);
}
END_TEST

START_TEST(call_reads_a_request_from_stdin)
{
    char path[TU_PATH];
    tu_write(path, tmp, "request.json", request_json);
    run r = cli_in(path, "call", "--request", "-", "--json", (const char *)NULL);
    assert_exit(r, 0);
    json_object *o = parse_json(r.out);
    ck_assert_str_eq(json_object_get_string(get(o, "message")), "from the request file");
    json_object_put(o);
    run_free(&r);

    /* a bad request on stdin: VALIDATION naming the field */
    tu_write(path, tmp, "bad.json",
             "{\"llm\": {\"prompt\": \"x\", \"llm_model_spec\": "
             "{\"provider\": \"mock\", \"temprature\": 1}}}");
    r = cli_in(path, "call", "--request", "-", (const char *)NULL);
    assert_exit(r, 3);
    tu_assert_has(r.err, "llmsvc: validation: unknown field 'llm.llm_model_spec.temprature'");
    run_free(&r);
}
END_TEST

/* ---- exit codes ---- */

START_TEST(usage_errors_exit_2)
{
    run r = cli("call", "--provider", "mock", "--model", "mock-1", "--bogus", "hi");
    assert_exit(r, 2);
    tu_assert_has(r.err, "Try 'llmsvc call --help'");
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    r = cli("call", "--provider", "mock", "--model", "mock-1");
    assert_exit(r, 2);
    tu_assert_has(r.err, "give a PROMPT or --request FILE");
    run_free(&r);

    r = cli("call", "--provider", "mock", "--model", "mock-1", "--temperature", "warm", "hi");
    assert_exit(r, 2);
    tu_assert_has(r.err, "--temperature takes a number, not 'warm'");
    run_free(&r);

    r = cli("frobnicate");
    assert_exit(r, 2);
    tu_assert_has(r.err, "unknown command 'frobnicate'");
    run_free(&r);

    r = cli("models", "extra");
    assert_exit(r, 2);
    run_free(&r);
}
END_TEST

START_TEST(validation_unknown_model_and_unsupported_provider_exit_3)
{
    run r = cli("call", "--provider", "mock", "--model", "mock-9", "hi");
    assert_exit(r, 3);
    tu_assert_has(r.err, "llmsvc: unknown_model: unknown model 'mock-9' for provider 'mock'");
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    r = cli("call", "--provider", "mock", "--model", "mock-1", "--temperature", "5", "hi");
    assert_exit(r, 3);
    tu_assert_has(r.err, "llmsvc: validation: 'temperature' is 5, above");
    run_free(&r);

    r = cli("call", "--provider", "mock", "--model", "mock-reasoning", "--temperature", "0.5",
            "hi");
    assert_exit(r, 3);
    tu_assert_has(r.err, "only when reasoning_effort is none");
    run_free(&r);

    r = cli("call", "--provider", "nosuch", "--model", "x", "hi");
    assert_exit(r, 3);
    tu_assert_has(r.err, "llmsvc: unsupported_provider: unknown provider 'nosuch'");
    tu_assert_has(r.err, "mock");
    run_free(&r);
}
END_TEST

START_TEST(the_original_modules_gpt_4_and_o1_fail_clearly_with_exit_3)
{
    registry reg;
    registry_init(&reg);
    ck_assert_int_eq(registry_add_path(&reg, PROJECT_SRC_DIR "/specs", 0), 0);
    ck_assert_int_eq(registry_finish(&reg), 0);
    static const char *const names[] = {"gpt-4", "o1"};
    for (size_t i = 0; i < 2; i++) {
        const model_spec *m = registry_model(&reg, "openai", names[i]);
        ck_assert_ptr_nonnull(m);
        run r = cli("call", "--provider", "openai", "--model", names[i], "--temperature", "0.7",
                    "hello");
        assert_exit(r, 3);
        char want[256];
        snprintf(want, sizeof want,
                 "llmsvc: validation: model '%s' of provider 'openai' was shut "
                 "down on %s; use '%s' instead",
                 names[i], m->shutdown, m->replacement);
        tu_assert_has(r.err, want);
        run_free(&r);
    }
    registry_free(&reg);
}
END_TEST

START_TEST(a_provider_error_exits_4_and_a_transport_error_5)
{
    run r = cli("call", "--provider", "mock", "--model", "mock-1", "--option", "error=server",
                "--retries", "0", "hi");
    assert_exit(r, 4);
    tu_assert_has(r.err, "llmsvc: api: mock: internal server error");
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    r = cli("call", "--provider", "mock", "--model", "mock-1", "--option", "error=malformed", "hi");
    assert_exit(r, 4);
    tu_assert_has(r.err, "llmsvc: provider: mock: simulated malformed response");
    run_free(&r);

    r = cli("call", "--provider", "mock", "--model", "mock-1", "--option", "error=transport",
            "--retries", "0", "hi");
    assert_exit(r, 5);
    tu_assert_has(r.err, "llmsvc: transport: mock: simulated connection reset");
    run_free(&r);
}
END_TEST

START_TEST(json_errors_are_an_object_on_stdout)
{
    run r = cli("call", "--provider", "mock", "--model", "mock-9", "hi", "--json");
    assert_exit(r, 3);
    json_object *o = parse_json(r.out), *e = get(o, "error");
    ck_assert_str_eq(json_object_get_string(get(e, "code")), "UNKNOWN_MODEL");
    tu_assert_has(json_object_get_string(get(e, "message")), "unknown model 'mock-9'");
    ck_assert_int_eq(json_object_get_boolean(get(e, "retryable")), 0);
    json_object_put(o);
    run_free(&r);

    r = cli("call", "--provider", "mock", "--model", "mock-1", "--option", "error=rate_limit",
            "--option", "retry_after_ms=1", "--retries", "0", "--json", "hi");
    assert_exit(r, 4);
    o = parse_json(r.out);
    e = get(o, "error");
    ck_assert_str_eq(json_object_get_string(get(e, "code")), "API");
    ck_assert_int_eq(json_object_get_int(get(e, "http_status")), 429);
    ck_assert_int_eq(json_object_get_boolean(get(e, "retryable")), 1);
    ck_assert_int_eq(json_object_get_int(get(e, "retry_after_ms")), 1);
    json_object_put(o);
    run_free(&r);
}
END_TEST

/* ---- specs check ---- */

START_TEST(specs_check_prints_a_summary_and_exits_0)
{
    run r = cli("specs", "check");
    assert_exit(r, 0);
    tu_assert_has(r.out, "no problems");
    tu_assert_has(r.out, " models");
    ck_assert_str_eq(r.err, "");
    run_free(&r);

    r = cli("specs", "check", TEST_SRC_DIR "/specs/valid/acme.yaml");
    assert_exit(r, 0);
    ck_assert_str_eq(r.out, "1 file, 1 provider, 3 models: no problems\n");
    run_free(&r);

    r = cli("specs", "check", "--json", PROJECT_SRC_DIR "/specs");
    assert_exit(r, 0);
    json_object *o = parse_json(r.out);
    ck_assert(json_object_get_boolean(get(o, "ok")));
    tu_assert_has(json_object_get_string(get(o, "summary")), "no problems");
    json_object_put(o);
    run_free(&r);
}
END_TEST

START_TEST(specs_check_on_a_bad_folder_prints_every_problem_and_exits_6)
{
    run r = cli("specs", "check", TEST_SRC_DIR "/specs/bad", TEST_SRC_DIR "/specs/mixed");
    assert_exit(r, 6);
    ck_assert_str_eq(r.out, "");
    /* bad/: one problem per file, three in three_problems.yaml; mixed/: three */
    size_t bad_files = 0;
    char *ls = NULL;
    {
        run l = cli("specs", "check", TEST_SRC_DIR "/specs/bad");
        bad_files = tu_lines(l.err);
        ls = l.err;
        free(l.out);
    }
    ck_assert_int_eq(tu_lines(r.err), bad_files + 3);
    /* every line is file:line:col: message */
    const char *line = r.err;
    while (*line) {
        const char *eol = strchr(line, '\n');
        ck_assert_ptr_nonnull(eol);
        unsigned l, c;
        char file[TU_PATH];
        ck_assert_msg(sscanf(line, "%4095[^:]:%u:%u: ", file, &l, &c) == 3 && l > 0 && c > 0,
                      "not file:line:col: %.*s", (int)(eol - line), line);
        ck_assert_msg(strstr(file, ".yaml"), "no file named in: %.*s", (int)(eol - line), line);
        line = eol + 1;
    }
    tu_assert_has(r.err, "param_typo.yaml:7:7: unknown key 'temprature' in parameters; did you "
                         "mean 'temperature'?");
    tu_assert_has(r.err, "mixed/c_bad.yaml:5:31: input_per_mtok 2.5e-06 looks like a price per "
                         "token");
    free(ls);
    run_free(&r);
}
END_TEST

/* ---- plugins and models ---- */

START_TEST(plugins_lists_the_mock_as_loaded)
{
    run r = cli("plugins", "--json");
    assert_exit(r, 0);
    json_object *a = parse_json(r.out);
    ck_assert(json_object_is_type(a, json_type_array));
    int found = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *p = json_object_array_get_idx(a, i);
        const char *path = json_object_get_string(get(p, "path"));
        size_t len = strlen(path);
        if (len >= 8 && strcmp(path + len - 8, "/mock.so") == 0) {
            found = 1;
            ck_assert_str_eq(json_object_get_string(get(p, "status")), "loaded");
            ck_assert_str_eq(json_object_get_string(get(p, "name")), "mock");
            ck_assert_str_eq(
                json_object_get_string(json_object_array_get_idx(get(p, "protocols"), 0)), "mock");
        }
    }
    ck_assert_msg(found, "mock.so not listed: %s", r.out);
    json_object_put(a);
    run_free(&r);

    r = cli("plugins");
    assert_exit(r, 0);
    tu_assert_has(r.out, "/mock.so\n  loaded: mock (mock ");
    run_free(&r);
}
END_TEST

START_TEST(plugins_shows_why_a_plugin_was_refused)
{
    char dir[TU_PATH], text[TU_PATH];
    snprintf(dir, sizeof dir, "%s/plugins", tmp);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    tu_write(text, dir, "x.so", "not a shared object\n");
    run r = cli("plugins", "--plugin-path", dir);
    assert_exit(r, 0);
    char want[TU_PATH + 64];
    snprintf(want, sizeof want, "%s\n  refused: not a loadable shared object", text);
    tu_assert_has(r.out, want);
    ck_assert_str_eq(r.err, ""); /* refusals are the output here, not warnings */
    run_free(&r);
}
END_TEST

START_TEST(models_lists_a_providers_models)
{
    run r = cli("models", "--provider", "mock", "--json");
    assert_exit(r, 0);
    json_object *a = parse_json(r.out);
    ck_assert_int_gt(json_object_array_length(a), 0);
    int found = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *m = json_object_array_get_idx(a, i);
        ck_assert_str_eq(json_object_get_string(get(m, "provider")), "mock");
        static const char *const keys[] = {"api",          "model",          "aliases",
                                           "capabilities", "context_window", "max_output_tokens",
                                           "pricing",      "parameters",     "lifecycle"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            get(m, keys[k]);
        const char *name = json_object_get_string(get(m, "model"));
        if (strcmp(name, "mock-1") == 0) {
            found = 1;
            json_object *pr = get(m, "pricing");
            ck_assert(json_object_get_double(get(pr, "input_per_mtok")) > 0);
            ck_assert_str_eq(json_object_get_string(get(m, "status")), "active");
            ck_assert(json_object_is_type(get(m, "lifecycle"), json_type_null));
        } else if (strcmp(name, "mock-legacy") == 0) {
            ck_assert_str_eq(json_object_get_string(get(m, "status")), "deprecated");
            ck_assert_str_eq(json_object_get_string(get(get(m, "lifecycle"), "replacement")),
                             "mock-1");
        } else if (strcmp(name, "mock-retired") == 0) {
            ck_assert_str_eq(json_object_get_string(get(m, "status")), "retired");
        }
    }
    ck_assert(found);
    json_object_put(a);
    run_free(&r);

    r = cli("models", "--json");
    assert_exit(r, 0);
    tu_assert_has(r.out, "\"provider\":\"openai\"");
    tu_assert_has(r.out, "\"provider\":\"mock\"");
    run_free(&r);

    r = cli("models", "--provider", "mock");
    assert_exit(r, 0);
    tu_assert_has(r.out, "PROVIDER");
    tu_assert_has(r.out, "mock-1");
    tu_assert_lacks(r.out, "gpt-");
    run_free(&r);

    r = cli("models", "--provider", "nosuch");
    assert_exit(r, 3);
    tu_assert_has(r.err, "no spec defines provider 'nosuch'");
    run_free(&r);
}
END_TEST

/* ---- help, version, warnings ---- */

START_TEST(help_on_every_subcommand_exits_0)
{
    static const char *const cmds[][3] = {{"--help", NULL, NULL},     {"call", "--help", NULL},
                                          {"models", "--help", NULL}, {"plugins", "--help", NULL},
                                          {"specs", "--help", NULL},  {"specs", "check", "--help"}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        run r = cli(cmds[i][0], cmds[i][1], cmds[i][2]);
        assert_exit(r, 0);
        ck_assert_msg(strncmp(r.out, "usage: llmsvc", 13) == 0, "%s %s: %s", cmds[i][0],
                      cmds[i][1] ? cmds[i][1] : "", r.out);
        ck_assert_str_eq(r.err, "");
        run_free(&r);
    }
}
END_TEST

START_TEST(version_names_the_library_and_the_plugin_abi)
{
    run r = cli("--version");
    assert_exit(r, 0);
    char want[128];
    snprintf(want, sizeof want, "llmsvc %s (libllmsvc %s, plugin ABI %d.%d)\n",
             LLMSVC_VERSION_STRING, llmsvc_version(), LLMSVC_PLUGIN_ABI_MAJOR,
             LLMSVC_PLUGIN_ABI_MINOR);
    ck_assert_str_eq(r.out, want);
    run_free(&r);
}
END_TEST

START_TEST(a_deprecated_model_warns_on_stderr_exactly_once)
{
    run r = cli("call", "--provider", "mock", "--model", "mock-legacy", "hi");
    assert_exit(r, 0);
    ck_assert_str_eq(r.out, "hi\n");
    ck_assert_int_eq(tu_count(r.err, "deprecated"), 1);
    tu_assert_has(r.err, "llmsvc: warning: model 'mock-legacy' of provider 'mock' is deprecated");
    tu_assert_has(r.err, "move to 'mock-1'");
    run_free(&r);

    r = cli("call", "--quiet", "--provider", "mock", "--model", "mock-legacy", "hi");
    assert_exit(r, 0);
    ck_assert_str_eq(r.err, "");
    run_free(&r);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tu_tcase("call");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, call_json_prints_the_documented_object);
    tcase_add_test(tc, call_prints_the_message_as_text);
    tcase_add_test(tc, call_reads_a_request_file);
    tcase_add_test(tc, call_reads_a_request_from_stdin);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, validation_unknown_model_and_unsupported_provider_exit_3);
    tcase_add_test(tc, the_original_modules_gpt_4_and_o1_fail_clearly_with_exit_3);
    tcase_add_test(tc, a_provider_error_exits_4_and_a_transport_error_5);
    tcase_add_test(tc, json_errors_are_an_object_on_stdout);
    tcase_add_test(tc, a_deprecated_model_warns_on_stderr_exactly_once);
    suite_add_tcase(s, tc);
    tc = tu_tcase("tools");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, specs_check_prints_a_summary_and_exits_0);
    tcase_add_test(tc, specs_check_on_a_bad_folder_prints_every_problem_and_exits_6);
    tcase_add_test(tc, plugins_lists_the_mock_as_loaded);
    tcase_add_test(tc, plugins_shows_why_a_plugin_was_refused);
    tcase_add_test(tc, models_lists_a_providers_models);
    tcase_add_test(tc, help_on_every_subcommand_exits_0);
    tcase_add_test(tc, version_names_the_library_and_the_plugin_abi);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(cli_suite());
}
