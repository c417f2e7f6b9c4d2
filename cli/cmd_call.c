/* llmsvc call — one call, from options or from a request JSON file. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc call --provider P --model M [options] PROMPT...\n"
    "       llmsvc call --request FILE|- [options] [PROMPT...]\n"
    "\n"
    "Sends one call and prints the answer. Options given beside --request\n"
    "override the request file's fields.\n"
    "\n"
    CLI_CALL_OPTIONS_HELP
    "  --store URL             record the call in this job store (records on)\n"
    "  --project ID, --org ID  who the call is for, kept in its record\n" CLI_COMMON_HELP
    "\n"
    "Output: the message, then any file-search results (score, file, text); with\n"
    "--json one object with id, provider, model, message,\n"
    "finish_reason, token counts, cost_usd, latency_ms and file_search_results.\n"
    "Errors: 'llmsvc: <class>: <message>' on stderr (and {\"error\": ...} on stdout\n"
    "with --json). Exit codes: 0 ok, 2 usage, 3 validation / unknown model /\n"
    "unsupported provider, 4 the provider answered with an error, 5 transport or\n"
    "timeout, 6 configuration, 1 anything else.\n";

static void print_count(const char *label, int64_t v)
{
    if (v >= 0)
        fprintf(stderr, "%s %lld", label, (long long)v);
    else
        fprintf(stderr, "%s unknown", label);
}

/* The message, then each file-search result; with usage, a summary on stderr. */
static void print_text(const llmsvc_response *resp, int usage)
{
    const char *msg = llmsvc_response_message(resp);
    fputs(msg, stdout);
    if (!*msg || msg[strlen(msg) - 1] != '\n')
        putchar('\n');
    size_t n = llmsvc_response_file_result_count(resp);
    for (size_t i = 0; i < n; i++) {
        const llmsvc_file_result *f = llmsvc_response_file_result(resp, i);
        printf("%s[%zu] score %.4f  %s (%s)\n    ", i ? "" : "\nfile search results:\n", i + 1,
               f->score, f->filename, f->file_id);
        for (const char *p = f->text; *p; p++) /* indent every line of the passage */
            fputs(*p == '\n' ? "\n    " : (char[]){*p, 0}, stdout);
        putchar('\n');
    }
    if (!usage)
        return;
    fflush(stdout);
    print_count("tokens: input", llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT));
    print_count(" (cached", llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT));
    print_count("), output", llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT));
    print_count(" (reasoning", llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING));
    print_count("), total", llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL));
    double cost = llmsvc_response_cost_usd(resp);
    if (cost >= 0)
        fprintf(stderr, "; cost $%.6f", cost);
    fprintf(stderr, "; %s; %.2f ms; %s/%s\n", llmsvc_response_finish_reason(resp),
            llmsvc_response_latency_ms(resp), llmsvc_response_provider(resp),
            llmsvc_response_model(resp));
}

int cmd_call(int argc, char **argv)
{
    call_args a;
    llmsvc_runtime *rt = NULL;
    llmsvc_store *st = NULL;
    llmsvc_response *resp = NULL;
    int rc = call_args_parse("call", usage_text, argc, argv, &a);
    if (rc != EXIT_OK || a.help)
        goto out;
    if (a.idempotency_key || a.max_attempts) {
        rc = cli_usage("call", "--idempotency-key and --max-attempts are for `llmsvc job submit`");
        goto out;
    }
    if ((rc = cli_open(&a.c, &rt)) != EXIT_OK)
        goto out;
    llmsvc_error *err = NULL;
    if (a.store) { /* records on: this call is recorded in that store */
        if (llmsvc_store_open(&st, a.store, &err) != LLMSVC_OK) {
            rc = cli_fail(&a.c, err);
            llmsvc_error_free(err);
            goto out;
        }
        llmsvc_runtime_set_records(rt, st);
    }
    if (llmsvc_call(rt, a.req, &resp, &err) != LLMSVC_OK) {
        rc = cli_fail(&a.c, err);
        llmsvc_error_free(err);
        goto out;
    }
    if (a.c.json) {
        char *js = NULL;
        if (llmsvc_response_to_json(&js, resp) != LLMSVC_OK) {
            rc = EXIT_OTHER;
            goto out;
        }
        printf("%s\n", js);
        llmsvc_free(js);
    } else {
        print_text(resp, a.show_usage);
    }
out:
    llmsvc_response_free(resp);
    call_args_free(&a);
    llmsvc_runtime_close(rt);
    llmsvc_store_close(st);
    return rc;
}
