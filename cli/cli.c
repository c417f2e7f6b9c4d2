#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_common_opt(cli_common *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_PLUGIN_PATH:
        c->plugin_path = arg;
        return 1;
    case OPT_SPEC_PATH:
        c->spec_path = arg;
        return 1;
    case OPT_VERBOSE:
        c->verbose = 1;
        return 1;
    case OPT_QUIET:
        c->quiet = 1;
        return 1;
    case OPT_JSON:
        c->json = 1;
        return 1;
    default:
        return 0;
    }
}

int cli_common_only(const char *cmd, const char *usage_text, int argc, char **argv,
                    cli_common *c)
{
    static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (!cli_common_opt(c, opt, optarg))
            return cli_usage(cmd, "unknown or incomplete option");
    }
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    return -1;
}

int cli_exit_code(llmsvc_code code)
{
    switch (code) {
    case LLMSVC_OK:
        return EXIT_OK;
    case LLMSVC_E_VALIDATION:
    case LLMSVC_E_UNKNOWN_MODEL:
    case LLMSVC_E_UNSUPPORTED_PROVIDER:
    case LLMSVC_E_TRANSFORM:
        return EXIT_VALIDATION;
    case LLMSVC_E_API:
    case LLMSVC_E_PROVIDER:
        return EXIT_API;
    case LLMSVC_E_TRANSPORT:
        return EXIT_TRANSPORT;
    case LLMSVC_E_CONFIG:
    case LLMSVC_E_STORE:
        return EXIT_CONFIG;
    case LLMSVC_E_RATE_LIMITED:
    case LLMSVC_E_BUDGET_EXCEEDED:
        return EXIT_POLICY;
    default:
        return EXIT_OTHER;
    }
}

static void lower(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
    dst[i] = '\0';
}

int cli_fail(const cli_common *c, const llmsvc_error *err)
{
    llmsvc_code code = llmsvc_error_code(err);
    if (c && c->json) {
        char *js = NULL;
        if (llmsvc_error_to_json(&js, err) == LLMSVC_OK) {
            printf("{\"error\":%s}\n", js);
            llmsvc_free(js);
        }
    }
    char cls[32];
    lower(cls, sizeof cls, llmsvc_code_name(code));
    fprintf(stderr, "llmsvc: %s: %s\n", cls, llmsvc_error_message(err));
    return cli_exit_code(code);
}

int cli_fail_code(const cli_common *c, llmsvc_code code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char cls[32];
    lower(cls, sizeof cls, llmsvc_code_name(code));
    if (c && c->json) {
        json_object *o = json_object_new_object(), *e = json_object_new_object();
        json_object_object_add(e, "code", json_object_new_string(llmsvc_code_name(code)));
        json_object_object_add(e, "message", json_object_new_string(msg));
        json_object_object_add(o, "error", e);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    }
    fprintf(stderr, "llmsvc: %s: %s\n", cls, msg);
    return cli_exit_code(code);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "llmsvc %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'llmsvc %s --help'.\n", cmd);
    return EXIT_USAGE;
}

static void log_stderr(void *user, llmsvc_log_level level, const char *msg)
{
    (void)user;
    static const char *const names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "llmsvc: %s: %s\n", names[level < 4 ? level : 3], msg);
}

int cli_open(const cli_common *c, llmsvc_runtime **rt)
{
    llmsvc_options o;
    llmsvc_options_init(&o);
    o.plugin_path = c->plugin_path;
    o.spec_path = c->spec_path;
    o.log = log_stderr;
    o.log_level = c->quiet ? LLMSVC_LOG_OFF : c->verbose ? LLMSVC_LOG_DEBUG : LLMSVC_LOG_WARN;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_open(rt, &o, &err) != LLMSVC_OK) {
        int rc = cli_fail(c, err);
        llmsvc_error_free(err);
        return rc;
    }
    return EXIT_OK;
}

int cli_open_store(const cli_common *c, const char *url, llmsvc_store **st)
{
    char *def = NULL;
    if (!url) {
        if (llmsvc_store_default_url(&def) != LLMSVC_OK)
            return cli_fail_code(c, LLMSVC_E_NOMEM, "out of memory");
        url = def;
    }
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_store_open(st, url, &err);
    llmsvc_free(def);
    if (rc != LLMSVC_OK) {
        int code = cli_fail(c, err);
        llmsvc_error_free(err);
        return code;
    }
    return EXIT_OK;
}

int cli_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno)
        return -1;
    *out = v;
    return 0;
}

int cli_int(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno)
        return -1;
    *out = v;
    return 0;
}

void cli_print_json(FILE *f, const char *json, int pretty)
{
    if (!pretty) {
        fprintf(f, "%s\n", json);
        return;
    }
    json_object *o = json_tokener_parse(json);
    fprintf(f, "%s\n",
            o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE)
              : json);
    json_object_put(o);
}
