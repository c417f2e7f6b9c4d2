/* llmsvc routes — the routes, rate limits and budgets of the loaded routes files. */
#include <json-c/json.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc routes [--json]\n"
    "\n"
    "Lists the routes (fallback chains and weighted splits), the client-side rate\n"
    "limits and the spending budgets that the routes files in the spec folders\n"
    "declare (specs/README.md \"Routes, limits and budgets\"), with the file:line:col\n"
    "of each. 'llmsvc call --route NAME' calls through a route.\n"
    "\n" CLI_COMMON_HELP;

/* The string at key, or NULL. */
static const char *opt_str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

static const char *str(json_object *o, const char *key)
{
    const char *s = opt_str(o, key);
    return s ? s : "";
}

static double num(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_double(v) : 0;
}

static void print_routes(json_object *routes)
{
    for (size_t i = 0; i < json_object_array_length(routes); i++) {
        json_object *r = json_object_array_get_idx(routes, i), *targets, *v;
        int split = !strcmp(str(r, "kind"), "split");
        printf("route %s (%s", str(r, "name"), split ? "split" : "fallbacks");
        if (split)
            printf(", sticky %s", str(r, "sticky"));
        if (num(r, "cache_ttl_s") > 0)
            printf(", cached %gs", num(r, "cache_ttl_s"));
        printf(")  %s\n", str(r, "where"));
        json_object_object_get_ex(r, "targets", &targets);
        for (size_t j = 0; j < json_object_array_length(targets); j++) {
            json_object *t = json_object_array_get_idx(targets, j);
            if (split)
                printf("  %-12s weight %-6g %s/%s", str(t, "arm"), num(t, "weight"),
                       str(t, "provider"), str(t, "model"));
            else
                printf("  %zu. %s/%s", j + 1, str(t, "provider"), str(t, "model"));
            if (json_object_object_get_ex(t, "parameters", &v) && json_object_object_length(v))
                printf("  %s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
            putchar('\n');
        }
        if (!split && json_object_object_get_ex(r, "fallback_on", &v)) {
            printf("  falls back on:");
            for (size_t j = 0; j < json_object_array_length(v); j++)
                printf(" %s", json_object_get_string(json_object_array_get_idx(v, j)));
            putchar('\n');
        }
    }
}

static void print_rest(json_object *limits, json_object *budgets)
{
    for (size_t i = 0; i < json_object_array_length(limits); i++) {
        json_object *l = json_object_array_get_idx(limits, i);
        printf("limit %s/%s: %s, burst %g; %s when empty (max wait %gs); shared by %s  %s\n",
               str(l, "provider"), opt_str(l, "model") ? str(l, "model") : "*", str(l, "limit"),
               num(l, "request_burst"), str(l, "on_empty"), num(l, "max_wait_s"),
               !strcmp(str(l, "scope"), "store") ? "the store when there is one" : "this process",
               str(l, "where"));
    }
    for (size_t i = 0; i < json_object_array_length(budgets); i++) {
        json_object *b = json_object_array_get_idx(budgets, i);
        const char *p = opt_str(b, "project");
        printf("budget %s %s:", p ? "project" : "organization", p ? p : str(b, "organization"));
        if (num(b, "daily_usd") > 0)
            printf(" $%g a day", num(b, "daily_usd"));
        if (num(b, "monthly_usd") > 0)
            printf(" $%g a month", num(b, "monthly_usd"));
        printf("  %s\n", str(b, "where"));
    }
}

int cmd_routes(int argc, char **argv)
{
    cli_common c = {0};
    int done = cli_common_only("routes", usage_text, argc, argv, &c);
    if (done >= 0)
        return done;
    llmsvc_runtime *rt;
    int rc = cli_open(&c, &rt);
    if (rc != EXIT_OK)
        return rc;
    char *js = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_routes_json(&js, rt, &err) != LLMSVC_OK) {
        rc = cli_fail(&c, err);
        llmsvc_error_free(err);
    } else if (c.json) {
        printf("%s\n", js);
    } else {
        json_object *o = json_tokener_parse(js), *routes, *limits, *budgets;
        json_object_object_get_ex(o, "routes", &routes);
        json_object_object_get_ex(o, "limits", &limits);
        json_object_object_get_ex(o, "budgets", &budgets);
        if (!json_object_array_length(routes) && !json_object_array_length(limits) &&
            !json_object_array_length(budgets))
            puts("no routes, limits or budgets (put them in a routes/ folder of a spec folder)");
        print_routes(routes);
        print_rest(limits, budgets);
        json_object_put(o);
    }
    llmsvc_free(js);
    llmsvc_runtime_close(rt);
    return rc;
}
