/* llmsvc records — sums of the call records in a store. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc records [--store URL] [--project ID] [--since TIME]\n"
    "                      [--by model|project|variant] [--json]\n"
    "\n"
    "Sums the call records (every job attempt, and direct calls made with records\n"
    "on): calls, failures, response-cache hits, input/output/reasoning tokens, cost\n"
    "and mean latency, by provider and model (or by project). By variant: the calls\n"
    "made through a route, per route and split arm, with the median and 95th\n"
    "percentile latency of their successful calls, to compare the arms.\n"
    "\n"
    "  --store URL     default $LLMSVC_STORE, else sqlite:~/.local/share/llmsvc/llmsvc.db\n"
    "  --project ID    only this project's calls\n"
    "  --since TIME    only calls since TIME: 2026-11-01, 2026-11-01T12:00:00Z, or a\n"
    "                  span back from now: 30m, 24h, 7d\n"
    "  --by KEY        model (default), project or variant\n"
    "  --json          the sums as a JSON array\n"
    "  --help          this text\n";

/* TIME → Unix ms; -1 when unreadable. */
static int64_t parse_since(const char *s)
{
    char *end;
    double n = strtod(s, &end);
    if (end != s && *end && !end[1] && n >= 0) {
        double unit = *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
        if (unit > 0)
            return (int64_t)time(NULL) * 1000 - (int64_t)(n * unit * 1000);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (!rest)
        return -1;
    if (*rest) {
        rest = strptime(rest, "T%H:%M:%S", &tm);
        if (!rest || (*rest && strcmp(rest, "Z")))
            return -1;
    }
    return (int64_t)timegm(&tm) * 1000;
}

static int64_t num(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static double dbl(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

static const char *str(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

/* A latency percentile, "-" when the row has none (no successful call). */
static void fmt_ms(char *out, size_t n, json_object *o, const char *k)
{
    json_object *v;
    if (json_object_object_get_ex(o, k, &v) && v)
        snprintf(out, n, "%.1f", json_object_get_double(v));
    else
        snprintf(out, n, "-");
}

static void print_variants(json_object *a)
{
    printf("%-20s %-12s %-8s %-8s %-8s %-12s %-12s %-10s %s\n", "ROUTE", "ARM", "CALLS", "ERRORS",
           "HITS", "TOKENS", "COST", "P50 ms", "P95 ms");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *r = json_object_array_get_idx(a, i);
        char p50[32], p95[32];
        fmt_ms(p50, sizeof p50, r, "latency_ms_p50");
        fmt_ms(p95, sizeof p95, r, "latency_ms_p95");
        /* output tokens include the reasoning ones */
        printf("%-20s %-12s %-8lld %-8lld %-8lld %-12lld %-12.6f %-10s %s\n", str(r, "route"),
               *str(r, "arm") ? str(r, "arm") : "-", (long long)num(r, "calls"),
               (long long)num(r, "failures"), (long long)num(r, "cache_hits"),
               (long long)(num(r, "input_tokens") + num(r, "output_tokens")), dbl(r, "cost_usd"),
               p50, p95);
    }
}

static void print_table(json_object *a, int by_project)
{
    printf("%-24s %-8s %-8s %-12s %-12s %-12s %-12s %s\n", by_project ? "PROJECT" : "PROVIDER/MODEL",
           "CALLS", "FAILED", "INPUT", "OUTPUT", "REASONING", "COST_USD", "AVG_MS");
    int64_t t[5] = {0};
    double cost = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *r = json_object_array_get_idx(a, i);
        char key[256];
        if (by_project)
            snprintf(key, sizeof key, "%s", *str(r, "project_id") ? str(r, "project_id") : "-");
        else
            snprintf(key, sizeof key, "%s/%s", str(r, "provider"), str(r, "model"));
        printf("%-24s %-8lld %-8lld %-12lld %-12lld %-12lld %-12.6f %.1f\n", key,
               (long long)num(r, "calls"), (long long)num(r, "failures"),
               (long long)num(r, "input_tokens"), (long long)num(r, "output_tokens"),
               (long long)num(r, "reasoning_tokens"), dbl(r, "cost_usd"), dbl(r, "latency_ms_avg"));
        t[0] += num(r, "calls");
        t[1] += num(r, "failures");
        t[2] += num(r, "input_tokens");
        t[3] += num(r, "output_tokens");
        t[4] += num(r, "reasoning_tokens");
        cost += dbl(r, "cost_usd");
    }
    printf("%-24s %-8lld %-8lld %-12lld %-12lld %-12lld %-12.6f\n", "total", (long long)t[0],
           (long long)t[1], (long long)t[2], (long long)t[3], (long long)t[4], cost);
}

int cmd_records(int argc, char **argv)
{
    enum { O_STORE = OPT_FIRST_FREE, O_PROJECT, O_SINCE, O_BY };
    static const struct option longopts[] = {{"store", required_argument, NULL, O_STORE},
                                             {"project", required_argument, NULL, O_PROJECT},
                                             {"since", required_argument, NULL, O_SINCE},
                                             {"by", required_argument, NULL, O_BY},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, OPT_HELP},
                                             {NULL, 0, NULL, 0}};
    cli_common c = {0};
    const char *store = NULL;
    llmsvc_records_filter f = LLMSVC_RECORDS_FILTER_INIT;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP:
            fputs(usage_text, stdout);
            return EXIT_OK;
        case OPT_JSON:
            c.json = 1;
            break;
        case O_STORE:
            store = optarg;
            break;
        case O_PROJECT:
            f.project_id = optarg;
            break;
        case O_SINCE:
            if ((f.since_ms = parse_since(optarg)) < 0)
                return cli_usage("records", "--since takes 2026-11-01, 2026-11-01T12:00:00Z, "
                                            "30m, 24h or 7d, not '%s'",
                                 optarg);
            break;
        case O_BY:
            if (strcmp(optarg, "model") && strcmp(optarg, "project") && strcmp(optarg, "variant"))
                return cli_usage("records", "--by takes model, project or variant, not '%s'",
                                 optarg);
            f.group_by = optarg;
            break;
        default:
            return cli_usage("records", "unknown or incomplete option");
        }
    }
    if (optind < argc)
        return cli_usage("records", "unexpected argument '%s'", argv[optind]);
    llmsvc_store *st;
    int rc = cli_open_store(&c, store, &st);
    if (rc != EXIT_OK)
        return rc;
    char *json = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_records_summary(st, &f, &json, &err) != LLMSVC_OK) {
        rc = cli_fail(&c, err);
        llmsvc_error_free(err);
    } else if (c.json) {
        printf("%s\n", json);
    } else {
        json_object *a = json_tokener_parse(json);
        if (f.group_by && !strcmp(f.group_by, "variant"))
            print_variants(a);
        else
            print_table(a, f.group_by && !strcmp(f.group_by, "project"));
        json_object_put(a);
    }
    llmsvc_free(json);
    llmsvc_store_close(st);
    return rc;
}
