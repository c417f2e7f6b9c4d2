/* llmsvc — the command-line host of libllmsvc. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "llmsvc/plugin.h"

static const char usage_text[] =
    "usage: llmsvc [--version] [--help] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  call           make one LLM call\n"
    "  batch          run a JSONL file of requests in parallel, in order, resumably\n"
    "  models         list the models of the loaded specs\n"
    "  plugins        list the provider plugins tried, loaded or refused\n"
    "  specs check    check spec files (file:line:col for every problem)\n"
    "  job            submit, status, wait, cancel: calls as background jobs\n"
    "  worker         run jobs from a store (SQLite or PostgreSQL) until SIGTERM\n"
    "  records        sum the call records: calls, tokens, cost by model or variant\n"
    "  routes         list the routes, rate limits and budgets\n"
    "\n"
    "'llmsvc COMMAND --help' describes a command.\n"
    "Environment: LLMSVC_PLUGIN_PATH, LLMSVC_SPEC_PATH (':'-separated folders), and\n"
    "LLMSVC_STORE (the job store URL), and the key and base-URL variables each\n"
    "spec names (OPENAI_API_KEY, ...).\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("llmsvc %s (libllmsvc %s, plugin ABI %d.%d)\n", LLMSVC_VERSION_STRING,
               llmsvc_version(), LLMSVC_PLUGIN_ABI_MAJOR, LLMSVC_PLUGIN_ABI_MINOR);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "call"))
        return cmd_call(argc - 1, argv + 1);
    if (!strcmp(cmd, "batch"))
        return cmd_batch(argc - 1, argv + 1);
    if (!strcmp(cmd, "models"))
        return cmd_models(argc - 1, argv + 1);
    if (!strcmp(cmd, "plugins"))
        return cmd_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "specs"))
        return cmd_specs(argc - 1, argv + 1);
    if (!strcmp(cmd, "job"))
        return cmd_job(argc - 1, argv + 1);
    if (!strcmp(cmd, "worker"))
        return cmd_worker(argc - 1, argv + 1);
    if (!strcmp(cmd, "records"))
        return cmd_records(argc - 1, argv + 1);
    if (!strcmp(cmd, "routes"))
        return cmd_routes(argc - 1, argv + 1);
    fprintf(stderr, "llmsvc: unknown command '%s'\n\n%s", cmd, usage_text);
    return EXIT_USAGE;
}
