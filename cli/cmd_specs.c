/* llmsvc specs check — the linter operations teams run before deploying. */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc specs check [PATH...]\n"
    "\n"
    "Checks spec files or folders (every *.yaml in a folder). Without PATH, checks\n"
    "the folders a runtime reads: the default folder and LLMSVC_SPEC_PATH.\n"
    "Exit 0 with a one-line summary when every file is valid; otherwise every\n"
    "problem as file:line:col: message on stderr, and exit 6.\n"
    "\n"
    "  --json              {\"ok\": true, \"summary\"} or {\"error\": {...}}\n"
    "  --help              this text\n";

int cmd_specs(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON}, {"help", no_argument, NULL, OPT_HELP}, {NULL, 0, NULL, 0}};
    cli_common c = {0};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "check") != 0)
        return cli_usage("specs", "unknown subcommand '%s' (the one there is: check)", argv[1]);
    int opt;
    optind = 1;
    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (!cli_common_opt(&c, opt, optarg))
            return cli_usage("specs check", "unknown option");
    }
    char *summary = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_specs_check(&summary, (const char *const *)argv + optind, (size_t)(argc - optind),
                           &err) != LLMSVC_OK) {
        int rc;
        if (c.json) {
            rc = cli_fail(&c, err);
        } else {
            /* one problem per line, as compilers print them */
            fprintf(stderr, "%s\n", llmsvc_error_message(err));
            rc = cli_exit_code(llmsvc_error_code(err));
        }
        llmsvc_error_free(err);
        return rc;
    }
    if (c.json)
        printf("{\"ok\":true,\"summary\":\"%s\"}\n", summary);
    else
        printf("%s\n", summary);
    llmsvc_free(summary);
    return EXIT_OK;
}
