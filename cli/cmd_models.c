/* llmsvc models — the models the loaded specs define. */
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc models [--provider P] [--json]\n"
    "\n"
    "Lists the models of the loaded specs: provider, model, aliases, context window,\n"
    "prices (USD per 1M tokens: input / cached input / output), capabilities and\n"
    "lifecycle.\n"
    "\n"
    "  --provider P        only this provider's models\n" CLI_COMMON_HELP;

static void print_price(json_object *pr, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(pr, key, &v) && v)
        printf("%-9.4g", json_object_get_double(v));
    else
        printf("%-9s", "-");
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && v)
        return json_object_get_string(v);
    return NULL;
}

static void print_table(json_object *a)
{
    printf("%-10s %-26s %-9s %-9s %-9s %-9s %-30s %s\n", "PROVIDER", "MODEL", "CONTEXT", "IN",
           "CACHED", "OUT", "CAPABILITIES", "STATUS");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *m = json_object_array_get_idx(a, i), *v;
        printf("%-10s %-26s ", str(m, "provider"), str(m, "model"));
        if (json_object_object_get_ex(m, "context_window", &v) && v)
            printf("%-9lld ", (long long)json_object_get_int64(v));
        else
            printf("%-9s ", "-");
        json_object *pr = NULL;
        json_object_object_get_ex(m, "pricing", &pr);
        print_price(pr, "input_per_mtok");
        putchar(' ');
        print_price(pr, "cached_input_per_mtok");
        putchar(' ');
        print_price(pr, "output_per_mtok");
        putchar(' ');
        char caps[256] = "";
        json_object *ca;
        json_object_object_get_ex(m, "capabilities", &ca);
        for (size_t j = 0; j < json_object_array_length(ca); j++) {
            if (j)
                strncat(caps, ",", sizeof caps - strlen(caps) - 1);
            strncat(caps, json_object_get_string(json_object_array_get_idx(ca, j)),
                    sizeof caps - strlen(caps) - 1);
        }
        printf("%-30s ", caps);
        json_object *lc;
        printf("%s", str(m, "status"));
        if (json_object_object_get_ex(m, "lifecycle", &lc) && lc) {
            const char *shut = str(lc, "shutdown"), *rep = str(lc, "replacement");
            printf("%s%s%s%s", shut ? " (shutdown " : "", shut ? shut : "", shut ? ")" : "",
                   rep ? "" : "");
            if (rep)
                printf(" -> %s", rep);
        }
        json_object *al;
        json_object_object_get_ex(m, "aliases", &al);
        if (json_object_array_length(al)) {
            printf(" (aliases:");
            for (size_t j = 0; j < json_object_array_length(al); j++)
                printf(" %s", json_object_get_string(json_object_array_get_idx(al, j)));
            printf(")");
        }
        putchar('\n');
    }
}

int cmd_models(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"provider", required_argument, NULL, OPT_FIRST_FREE}, CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    cli_common c = {0};
    const char *provider = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (cli_common_opt(&c, opt, optarg))
            continue;
        if (opt == OPT_FIRST_FREE)
            provider = optarg;
        else
            return cli_usage("models", "unknown or incomplete option");
    }
    if (optind < argc)
        return cli_usage("models", "unexpected argument '%s'", argv[optind]);
    llmsvc_runtime *rt;
    int rc = cli_open(&c, &rt);
    if (rc != EXIT_OK)
        return rc;
    char *js = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_models_json(&js, rt, provider, &err) != LLMSVC_OK) {
        rc = cli_fail(&c, err);
        llmsvc_error_free(err);
    } else if (c.json) {
        printf("%s\n", js);
    } else {
        json_object *a = json_tokener_parse(js);
        print_table(a);
        json_object_put(a);
    }
    llmsvc_free(js);
    llmsvc_runtime_close(rt);
    return rc;
}
