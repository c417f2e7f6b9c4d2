/* llmsvc job submit|status|wait|cancel — calls as background jobs in a store. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define EXIT_WAIT_TIMEOUT 124 /* as timeout(1) */

static const char usage_text[] =
    "usage: llmsvc job submit --project ID --org ID [--store URL] [--idempotency-key KEY]\n"
    "                         [--max-attempts N] (call options | --request FILE|-)\n"
    "       llmsvc job status ID [--store URL] [--json]\n"
    "       llmsvc job wait ID [--store URL] [--timeout SECONDS] [--json]\n"
    "       llmsvc job cancel ID [--store URL]\n"
    "\n"
    "Jobs are calls run in the background by `llmsvc worker` processes sharing a\n"
    "store: sqlite:PATH (one machine) or postgres://... (many). The store is\n"
    "--store, else $LLMSVC_STORE, else sqlite:~/.local/share/llmsvc/llmsvc.db.\n"
    "\n"
    "submit   checks the request against the specs, queues it, and prints the job\n"
    "         id alone on its last line; the same --idempotency-key never makes a\n"
    "         second job. Retryable failures are retried up to --max-attempts (3).\n"
    "status   state (pending, running, succeeded, failed, cancelled), attempts,\n"
    "         times, and the answer or the error.\n"
    "wait     until the job ends: exit 0 when it succeeded, the exit code of its\n"
    "         error class when it failed (3 validation, 4 provider, 5 transport,\n"
    "         6 configuration), 1 when cancelled, 124 when --timeout passed first.\n"
    "cancel   a pending or running job (a running call's answer is dropped).\n"
    "\n"
    "call options (submit):\n" CLI_CALL_OPTIONS_HELP CLI_COMMON_HELP;

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* Human form of a job's JSON. */
static void print_job(const char *json)
{
    json_object *o = json_tokener_parse(json);
    if (!o) {
        printf("%s\n", json);
        return;
    }
    json_object *v;
    printf("%s: %s (attempt %s of %s)\n", str(o, "id"), str(o, "state"), str(o, "attempts"),
           str(o, "max_attempts"));
    const char *fields[] = {"project_id", "organization_id", "created_at", "started_at",
                            "finished_at"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (str(o, fields[i]))
            printf("  %-16s %s\n", fields[i], str(o, fields[i]));
    }
    if (json_object_object_get_ex(o, "result", &v) && v) {
        printf("  %-16s %s/%s, %s tokens, $%s\n", "answer", str(v, "provider"), str(v, "model"),
               str(v, "total_tokens") ? str(v, "total_tokens") : "?",
               str(v, "cost_usd") ? str(v, "cost_usd") : "?");
        printf("%s\n", str(v, "message") ? str(v, "message") : "");
    }
    if (json_object_object_get_ex(o, "error", &v) && v)
        printf("  %-16s %s: %s\n", "error", str(v, "code"), str(v, "message"));
    json_object_put(o);
}

static int submit(int argc, char **argv)
{
    call_args a;
    llmsvc_runtime *rt = NULL;
    llmsvc_store *st = NULL;
    int rc = call_args_parse("job submit", usage_text, argc, argv, &a);
    if (rc != EXIT_OK || a.help)
        goto out;
    if (!a.project || !a.org) {
        rc = cli_usage("job submit", "give --project ID and --org ID");
        goto out;
    }
    llmsvc_error *err = NULL;
    /* refuse now what a worker would refuse: unknown model, bad parameter... */
    if ((rc = cli_open(&a.c, &rt)) != EXIT_OK)
        goto out;
    if (llmsvc_validate(rt, a.req, &err) != LLMSVC_OK) {
        rc = cli_fail(&a.c, err);
        llmsvc_error_free(err);
        goto out;
    }
    if ((rc = cli_open_store(&a.c, a.store, &st)) != EXIT_OK)
        goto out;
    llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
    o.project_id = a.project;
    o.organization_id = a.org;
    o.idempotency_key = a.idempotency_key;
    o.max_attempts = (int)a.max_attempts;
    char *id = NULL;
    if (llmsvc_job_submit(st, a.req, &o, &id, &err) != LLMSVC_OK) {
        rc = cli_fail(&a.c, err);
        llmsvc_error_free(err);
        goto out;
    }
    if (a.c.json)
        printf("{\"id\":\"%s\"}\n", id);
    else
        printf("%s\n", id);
    llmsvc_free(id);
out:
    call_args_free(&a);
    llmsvc_store_close(st);
    llmsvc_runtime_close(rt);
    return rc;
}

/* status, wait and cancel: ID plus --store, --json, --timeout. */
static int by_id(const char *sub, int argc, char **argv)
{
    static const struct option longopts[] = {{"store", required_argument, NULL, 's'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, OPT_HELP},
                                             {NULL, 0, NULL, 0}};
    cli_common c = {0};
    const char *store = NULL;
    double timeout = -1;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "job %s", sub);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (opt == OPT_JSON)
            c.json = 1;
        else if (opt == 's')
            store = optarg;
        else if (opt == 't' && !strcmp(sub, "wait") && cli_number(optarg, &timeout) == 0 &&
                 timeout >= 0)
            continue;
        else
            return cli_usage(cmd, "unknown or incomplete option");
    }
    if (optind != argc - 1)
        return cli_usage(cmd, "give exactly one job ID");
    const char *id = argv[optind];
    llmsvc_store *st;
    int rc = cli_open_store(&c, store, &st);
    if (rc != EXIT_OK)
        return rc;
    llmsvc_error *err = NULL;
    char *json = NULL;
    llmsvc_code code;
    if (!strcmp(sub, "cancel"))
        code = llmsvc_job_cancel(st, id, &err);
    else if (!strcmp(sub, "wait"))
        code = llmsvc_job_wait(st, id, timeout < 0 ? -1 : (long)(timeout * 1000), &json, &err);
    else
        code = llmsvc_job_get(st, id, &json, &err);
    if (code != LLMSVC_OK) {
        rc = code == LLMSVC_E_TIMEOUT ? EXIT_WAIT_TIMEOUT : cli_exit_code(code);
        if (code == LLMSVC_E_TIMEOUT)
            fprintf(stderr, "llmsvc: timeout: %s\n", llmsvc_error_message(err));
        else
            cli_fail(&c, err);
        llmsvc_error_free(err);
    } else if (!json) {
        printf("%s: cancelled\n", id);
    } else {
        if (c.json)
            printf("%s\n", json);
        else
            print_job(json);
        if (!strcmp(sub, "wait")) {
            json_object *o = json_tokener_parse(json), *e;
            const char *state = o ? str(o, "state") : NULL;
            if (state && !strcmp(state, "cancelled"))
                rc = EXIT_OTHER;
            else if (state && !strcmp(state, "failed")) {
                rc = EXIT_OTHER;
                const char *cls = json_object_object_get_ex(o, "error", &e) && e ? str(e, "code") : NULL;
                for (int k = 1; cls && k <= LLMSVC_E_BUDGET_EXCEEDED; k++) {
                    if (!strcmp(cls, llmsvc_code_name((llmsvc_code)k)))
                        rc = cli_exit_code((llmsvc_code)k);
                }
            }
            json_object_put(o);
        }
    }
    llmsvc_free(json);
    llmsvc_store_close(st);
    return rc;
}

int cmd_job(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (!strcmp(sub, "submit"))
        return submit(argc - 1, argv + 1);
    if (!strcmp(sub, "status") || !strcmp(sub, "wait") || !strcmp(sub, "cancel"))
        return by_id(sub, argc - 1, argv + 1);
    return cli_usage("job", "unknown subcommand '%s' (submit, status, wait, cancel)", sub);
}
