/* cli — shared pieces of the `llmsvc` command: exit codes, error printing,
 * opening a runtime from the common options. */
#ifndef LLMSVC_CLI_H
#define LLMSVC_CLI_H

#include <stdio.h>

#include "llmsvc/llmsvc.h"

enum {
    EXIT_OK = 0,
    EXIT_OTHER = 1,
    EXIT_USAGE = 2,
    EXIT_VALIDATION = 3, /* VALIDATION, UNKNOWN_MODEL, UNSUPPORTED_PROVIDER, TRANSFORM */
    EXIT_API = 4,        /* API, PROVIDER */
    EXIT_TRANSPORT = 5,  /* TRANSPORT */
    EXIT_CONFIG = 6,     /* CONFIG, STORE */
    EXIT_POLICY = 7      /* RATE_LIMITED, BUDGET_EXCEEDED: refused by local policy */
};

/* Options every subcommand that opens a runtime takes. */
typedef struct cli_common {
    const char *plugin_path;
    const char *spec_path;
    int verbose;
    int quiet;
    int json;
} cli_common;

/* getopt_long ids for the common options (above any short option char). */
enum {
    OPT_PLUGIN_PATH = 1000,
    OPT_SPEC_PATH,
    OPT_VERBOSE,
    OPT_QUIET,
    OPT_JSON,
    OPT_HELP,
    OPT_FIRST_FREE
};

#define CLI_COMMON_LONGOPTS                                                                   \
    {"plugin-path", required_argument, NULL, OPT_PLUGIN_PATH},                                \
        {"spec-path", required_argument, NULL, OPT_SPEC_PATH},                                \
        {"verbose", no_argument, NULL, OPT_VERBOSE}, {"quiet", no_argument, NULL, OPT_QUIET}, \
        {"json", no_argument, NULL, OPT_JSON}, {"help", no_argument, NULL, OPT_HELP}

#define CLI_COMMON_HELP                                                                   \
    "  --plugin-path DIRS  plugin folders (':'-separated), before LLMSVC_PLUGIN_PATH\n"    \
    "  --spec-path DIRS    spec folders (':'-separated), read after LLMSVC_SPEC_PATH\n"    \
    "  --json              machine-readable output\n"                                       \
    "  --verbose           log what happens (plugins loaded, retries) on stderr\n"          \
    "  --quiet             no warnings on stderr\n"                                         \
    "  --help              this text\n"

/* Handles a common option; 1 if it was one. */
int cli_common_opt(cli_common *c, int opt, const char *arg);
/* Reads the arguments of a subcommand that takes the common options and
 * nothing else: -1 to go on, or the exit code to return (--help printed
 * usage_text, or a usage error was reported). */
int cli_common_only(const char *cmd, const char *usage_text, int argc, char **argv,
                    cli_common *c);
/* The exit code for an error class. */
int cli_exit_code(llmsvc_code code);
/* Prints err: "llmsvc: <class>: <message>" on stderr, or with json
 * {"error": {...}} on stdout. Returns the exit code. */
int cli_fail(const cli_common *c, const llmsvc_error *err);
/* Same for an error made here (usage problems use cli_usage). */
int cli_fail_code(const cli_common *c, llmsvc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "llmsvc <cmd>: <message>\nTry 'llmsvc <cmd> --help'." on stderr; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Opens the runtime the common options describe, or prints the error. */
int cli_open(const cli_common *c, llmsvc_runtime **rt);
/* Opens the store at url, or at llmsvc_store_default_url when url is NULL;
 * prints the error on failure. */
int cli_open_store(const cli_common *c, const char *url, llmsvc_store **st);
/* Parses a number; 0 ok, -1 not a number. */
int cli_number(const char *s, double *out);
int cli_int(const char *s, long *out);
/* Prints a JSON text indented for people (json-c pretty printing). */
void cli_print_json(FILE *f, const char *json, int pretty);

/* The call options (request_opts.c), shared by call and job submit. */
typedef struct call_args {
    cli_common c;
    llmsvc_request *req;
    int help; /* --help was given and the usage printed */
    int show_usage;
    int stream;
    const char *store;
    const char *project;
    const char *org;
    const char *idempotency_key;
    long max_attempts;
} call_args;

/* Parses argv and builds a->req; EXIT_OK, or an exit code after printing why. */
int call_args_parse(const char *cmd, const char *usage_text, int argc, char **argv, call_args *a);
void call_args_free(call_args *a);
/* The help lines of the call options, for usage texts. */
#define CLI_CALL_OPTIONS_HELP \
  "  --provider P            provider name (llmsvc models lists them)\n" \
  "  --model M               model name or alias\n" \
  "  --request FILE|-        request JSON ({\"llm\": {\"prompt\", \"llm_model_spec\": {...}}})\n" \
  "  --instructions TEXT     system prompt\n" \
  "  --temperature X         sampling temperature\n" \
  "  --top-p X               nucleus sampling\n" \
  "  --top-k N               top-k sampling\n" \
  "  --max-tokens N          output token limit\n" \
  "  --reasoning-effort E    none, minimal, low, medium, high, xhigh, max (per model)\n" \
  "  --verbosity V           low, medium, high\n" \
  "  --seed N                sampling seed\n" \
  "  --stop TEXT             a stop sequence (repeatable)\n" \
  "  --vector-store ID       search this vector store (file_search)\n" \
  "  --max-results N         file-search results to return\n" \
  "  --base-url URL          send to this endpoint instead of the spec's\n" \
  "  --timeout SECONDS       per attempt (default 600)\n" \
  "  --retries N             retries of retryable failures (default 2)\n" \
  "  --option KEY=VALUE      provider_options entry; VALUE is JSON or a string (repeatable)\n" \
  "  --usage                 after the answer, token counts, cost and latency on stderr\n" \
  "  --tools FILE            tools the model may call: a JSON list of {name, description,\n" \
  "                          parameters (JSON Schema)}\n" \
  "  --tool-choice C         auto, none, required, or a tool's name\n" \
  "  --json-schema FILE      structured output: the answer follows this JSON Schema\n" \
  "  --header 'Name: value'  an extra HTTP header for this call (repeatable, as curl -H)\n" \
  "  --route NAME            call through a route (llmsvc routes lists them) instead of\n" \
  "                          --provider/--model\n" \
  "  --user ID               the end user (keeps a sticky split on one arm)\n" \
  "  --sticky-key KEY        the key of a split with `sticky: key`\n" \
  "  --no-cache              neither read nor fill the response cache\n"

int cmd_call(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_specs(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_records(int argc, char **argv);
int cmd_routes(int argc, char **argv);

#endif
