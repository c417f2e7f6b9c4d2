/* llmsvc call — one call, from options or from a request JSON file. */
#include <json-c/json.h>
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
    "  --stream                print the answer as it arrives (with --json: one JSON\n"
    "                          object per event, then the response)\n"
    "  --store URL             record the call in this job store (records on)\n"
    "  --project ID, --org ID  who the call is for, kept in its record\n" CLI_COMMON_HELP
    "\n"
    "Output: the message, then any file-search results (score, file, text); with\n"
    "--json one object with id, provider, model, message,\n"
    "finish_reason, token counts, cost_usd, latency_ms and file_search_results.\n"
    "Errors: 'llmsvc: <class>: <message>' on stderr (and {\"error\": ...} on stdout\n"
    "with --json). Exit codes: 0 ok, 2 usage, 3 validation / unknown model /\n"
    "unsupported provider, 4 the provider answered with an error, 5 transport or\n"
    "timeout, 6 configuration, 7 refused by local policy (a rate limit that fails\n"
    "at once, a budget), 1 anything else.\n";

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
    size_t calls = llmsvc_response_tool_call_count(resp);
    fputs(msg, stdout);
    if ((!*msg && !calls) || (*msg && msg[strlen(msg) - 1] != '\n'))
        putchar('\n');
    for (size_t i = 0; i < calls; i++) {
        const llmsvc_tool_call *c = llmsvc_response_tool_call(resp, i);
        printf("%stool call %s %s(%s)\n", i || !*msg ? "" : "\n", c->id, c->name, c->arguments);
    }
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
    fprintf(stderr, "; %s; %.2f ms; %s/%s", llmsvc_response_finish_reason(resp),
            llmsvc_response_latency_ms(resp), llmsvc_response_provider(resp),
            llmsvc_response_model(resp));
    const char *arm, *route = llmsvc_response_route(resp, &arm);
    if (route)
        fprintf(stderr, "; route %s%s%s", route, arm ? " arm " : "", arm ? arm : "");
    if (llmsvc_response_cached(resp))
        fputs("; cached", stderr);
    fputc('\n', stderr);
}

typedef struct stream_out {
    int json;
    int verbose;
    int ended_with_newline;
} stream_out;

/* --stream: each piece as it arrives, flushed; with --json, one object an event. */
static int on_event(void *user, const llmsvc_event *ev)
{
    stream_out *so = user;
    if (so->json) {
        json_object *o = json_object_new_object();
        static const char *const names[] = {"", "text", "reasoning", "tool_start", "tool_args",
                                            "tool_end", "usage", "done", "error"};
        json_object_object_add(o, "event", json_object_new_string(names[ev->type]));
        if (ev->text)
            json_object_object_add(o, "text", json_object_new_string_len(ev->text, (int)ev->len));
        if (ev->type >= LLMSVC_EVENT_TOOL_START && ev->type <= LLMSVC_EVENT_TOOL_END)
            json_object_object_add(o, "index", json_object_new_int(ev->index));
        if (ev->id)
            json_object_object_add(o, "id", json_object_new_string(ev->id));
        if (ev->name)
            json_object_object_add(o, "name", json_object_new_string(ev->name));
        if (ev->type == LLMSVC_EVENT_USAGE)
            json_object_object_add(o, "total_tokens",
                                   json_object_new_int64(llmsvc_response_tokens(ev->response, LLMSVC_TOKENS_TOTAL)));
        if (ev->type != LLMSVC_EVENT_DONE && ev->type != LLMSVC_EVENT_ERROR) {
            printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
            fflush(stdout);
        }
        json_object_put(o);
        return 0;
    }
    if (ev->type == LLMSVC_EVENT_TEXT) {
        fwrite(ev->text, 1, ev->len, stdout);
        fflush(stdout);
        so->ended_with_newline = ev->len && ev->text[ev->len - 1] == '\n';
    } else if (ev->type == LLMSVC_EVENT_REASONING && so->verbose) {
        fwrite(ev->text, 1, ev->len, stderr);
    }
    return 0;
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
    stream_out so = {a.c.json, a.c.verbose, 1};
    llmsvc_code code = a.stream ? llmsvc_call_stream(rt, a.req, on_event, &so, &resp, &err)
                                : llmsvc_call(rt, a.req, &resp, &err);
    if (code != LLMSVC_OK) {
        if (a.stream && resp && !a.c.json && !so.ended_with_newline)
            putchar('\n'); /* after the partial answer */
        fflush(stdout);
        rc = cli_fail(&a.c, err);
        llmsvc_error_free(err);
        goto out;
    }
    if (a.stream && !a.c.json) {
        /* the text is out already: a newline, the tool calls, the usage */
        if (!so.ended_with_newline)
            putchar('\n');
        for (size_t i = 0; i < llmsvc_response_tool_call_count(resp); i++) {
            const llmsvc_tool_call *tc = llmsvc_response_tool_call(resp, i);
            printf("tool call %s %s(%s)\n", tc->id, tc->name, tc->arguments);
        }
        fflush(stdout);
        fprintf(stderr, "tokens: input %lld, output %lld (reasoning %lld), total %lld; %s\n",
                (long long)llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT),
                (long long)llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT),
                (long long)llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING),
                (long long)llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL),
                llmsvc_response_finish_reason(resp));
    } else if (a.c.json) {
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
