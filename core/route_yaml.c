/* route_yaml — a routes file: routes (fallbacks or a weighted split), rate
 * limits and budgets, with every problem reported as file:line:col. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "route.h"
#include "spec.h"
#include "suggest.h"
#include "ydoc.h"

static int key_is(const ypair *p, const char *name)
{
    const char *k = ydoc_str(p->key);
    return k && !strcmp(k, name);
}

static void unknown(ydoc *d, yaml_node_t *key, const char *where, const char *const *known,
                    size_t n)
{
    const char *k = ydoc_str(key);
    const char *best = k ? suggest_best(k, known, n) : NULL;
    if (best)
        ydoc_problem(d, key, "unknown key '%s' in %s; did you mean '%s'?", k, where, best);
    else
        ydoc_problem(d, key, "unknown key '%s' in %s", k ? k : "?", where);
}

static int pairs_of(ydoc *d, yaml_node_t *n, const char *what, ypair **pairs, size_t *count)
{
    if (!n || n->type != YAML_MAPPING_NODE) {
        ydoc_problem(d, n, "%s must be a mapping", what);
        return -1;
    }
    return ydoc_pairs(d, n, pairs, count);
}

static char *where_of(ydoc *d, const yaml_node_t *n)
{
    char text[4200];
    snprintf(text, sizeof text, "%s:%u:%u", d->file, (unsigned)n->start_mark.line + 1,
             (unsigned)n->start_mark.column + 1);
    return strdup(text);
}

static int get_positive(ydoc *d, yaml_node_t *n, const char *what, double *out)
{
    if (ydoc_get_double(d, n, what, out) < 0)
        return -1;
    if (*out < 0) {
        ydoc_problem(d, n, "%s must not be negative", what);
        return -1;
    }
    return 0;
}

/* seconds → ms */
static int get_seconds(ydoc *d, yaml_node_t *n, const char *what, long *ms)
{
    double s;
    if (get_positive(d, n, what, &s) < 0)
        return -1;
    if (s > 86400 * 31) {
        ydoc_problem(d, n, "%s of %g seconds is more than a month", what, s);
        return -1;
    }
    *ms = (long)(s * 1000);
    return 0;
}

/* on_empty: wait | fail */
static int get_on_empty(ydoc *d, yaml_node_t *n, int *fail)
{
    const char *s = ydoc_str(n);
    if (s && !strcmp(s, "wait")) {
        *fail = 0;
        return 0;
    }
    if (s && !strcmp(s, "fail")) {
        *fail = 1;
        return 0;
    }
    ydoc_problem(d, n, "on_empty must be wait or fail");
    return -1;
}

/* ---- targets ---- */

static int parse_params(ydoc *d, yaml_node_t *n, route_target *t)
{
    ypair *pairs;
    size_t count;
    if (pairs_of(d, n, "parameters", &pairs, &count) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        const char *k = ydoc_str(pairs[i].key);
        int id = k ? param_lookup(k) : -1;
        if (id < 0) {
            const char *names[P_COUNT];
            for (int j = 0; j < P_COUNT; j++)
                names[j] = param_defs[j].name;
            unknown(d, pairs[i].key, "a target's parameters", names, P_COUNT);
            rc = -1;
            continue;
        }
        route_param *p = &t->params[id];
        llmsvc_param_type type = param_defs[id].type;
        p->set = 1;
        if (type == LLMSVC_PARAM_FLOAT || type == LLMSVC_PARAM_INT) {
            rc |= ydoc_get_double(d, pairs[i].value, k, &p->number);
            if (type == LLMSVC_PARAM_INT && p->number != floor(p->number)) {
                ydoc_problem(d, pairs[i].value, "%s must be a whole number", k);
                rc = -1;
            }
        } else if (type == LLMSVC_PARAM_ENUM || type == LLMSVC_PARAM_STRING) {
            rc |= ydoc_get_string(d, pairs[i].value, k, &p->string);
        } else {
            ydoc_problem(d, pairs[i].key, "a route cannot set '%s'", k);
            rc = -1;
        }
    }
    free(pairs);
    return rc ? -1 : 0;
}

static int parse_target(ydoc *d, yaml_node_t *n, route_target *t, int split)
{
    static const char *const keys[] = {"provider", "model", "parameters", "name", "weight"};
    ypair *pairs;
    size_t count;
    if (pairs_of(d, n, split ? "an arm" : "a fallback target", &pairs, &count) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        ypair *p = &pairs[i];
        if (key_is(p, "provider"))
            rc |= ydoc_get_string(d, p->value, "provider", &t->provider);
        else if (key_is(p, "model"))
            rc |= ydoc_get_string(d, p->value, "model", &t->model);
        else if (key_is(p, "parameters"))
            rc |= parse_params(d, p->value, t);
        else if (split && key_is(p, "name"))
            rc |= ydoc_get_string(d, p->value, "name", &t->arm);
        else if (split && key_is(p, "weight"))
            rc |= get_positive(d, p->value, "weight", &t->weight);
        else {
            unknown(d, p->key, split ? "an arm" : "a fallback target", keys, split ? 5 : 3);
            rc = -1;
        }
    }
    free(pairs);
    if (!rc && (!t->provider || !t->model)) {
        ydoc_problem(d, n, "a target needs a provider and a model");
        rc = -1;
    }
    if (!rc && split && (!t->arm || t->weight <= 0)) {
        ydoc_problem(d, n, "an arm needs a name and a weight above 0");
        rc = -1;
    }
    return rc;
}

static void target_clear(route_target *t)
{
    free(t->provider);
    free(t->model);
    free(t->arm);
    for (int i = 0; i < P_COUNT; i++)
        free(t->params[i].string);
}

static int parse_targets(ydoc *d, yaml_node_t *n, route *r, int split)
{
    size_t count = ydoc_seq_len(n);
    if (r->targets) {
        ydoc_problem(d, n, "route '%s' takes one list of targets: fallbacks or a split's arms",
                     r->name ? r->name : "?");
        return -1;
    }
    if (!n || n->type != YAML_SEQUENCE_NODE || !count) {
        ydoc_problem(d, n, "%s must be a non-empty list", split ? "arms" : "fallbacks");
        return -1;
    }
    if (count > ROUTE_MAX_TARGETS) {
        ydoc_problem(d, n, "%s has %zu targets; a route takes at most %d",
                     split ? "arms" : "fallbacks", count, ROUTE_MAX_TARGETS);
        return -1;
    }
    r->targets = calloc(count, sizeof *r->targets);
    if (!r->targets)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        rc |= parse_target(d, ydoc_seq_item(d, n, i), &r->targets[i], split);
        r->n_targets++;
    }
    for (size_t i = 0; split && !rc && i < r->n_targets; i++) {
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(r->targets[i].arm, r->targets[j].arm)) {
                ydoc_problem(d, ydoc_seq_item(d, n, i), "arm '%s' is named twice",
                             r->targets[i].arm);
                rc = -1;
            }
        }
    }
    return rc;
}

/* ---- routes ---- */

static int parse_fallback_on(ydoc *d, yaml_node_t *n, unsigned *mask)
{
    static const char *const names[] = {"rate_limited", "server_error", "timeout", "transport",
                                        "retryable"};
    char **v;
    size_t count;
    if (ydoc_get_strings(d, n, "fallback_on", &v, &count) < 0)
        return -1;
    int rc = 0;
    *mask = 0;
    for (size_t i = 0; i < count; i++) {
        size_t j = 0;
        while (j < 5 && strcmp(v[i], names[j]))
            j++;
        if (j == 5) {
            ydoc_problem(d, n,
                         "fallback_on takes rate_limited, server_error, timeout, transport and "
                         "retryable, not '%s' (a validation or other 4xx failure never falls back)",
                         v[i]);
            rc = -1;
        } else {
            *mask |= 1u << j;
        }
    }
    spec_strv_free(v, count);
    return rc;
}

static int parse_split(ydoc *d, yaml_node_t *n, route *r)
{
    static const char *const keys[] = {"sticky", "arms"};
    ypair *pairs;
    size_t count;
    if (pairs_of(d, n, "split", &pairs, &count) < 0)
        return -1;
    int rc = 0, arms = 0;
    for (size_t i = 0; i < count; i++) {
        ypair *p = &pairs[i];
        if (key_is(p, "sticky")) {
            const char *s = ydoc_str(p->value);
            if (s && !strcmp(s, "user"))
                r->sticky = STICKY_USER;
            else if (s && !strcmp(s, "project"))
                r->sticky = STICKY_PROJECT;
            else if (s && !strcmp(s, "key"))
                r->sticky = STICKY_KEY;
            else if (s && !strcmp(s, "none"))
                r->sticky = STICKY_NONE;
            else {
                ydoc_problem(d, p->value, "sticky must be user, project, key or none");
                rc = -1;
            }
        } else if (key_is(p, "arms")) {
            arms = 1;
            rc |= parse_targets(d, p->value, r, 1);
        } else {
            unknown(d, p->key, "split", keys, 2);
            rc = -1;
        }
    }
    free(pairs);
    if (!arms && !rc) {
        ydoc_problem(d, n, "a split needs arms");
        rc = -1;
    }
    return rc;
}

static route *parse_route(ydoc *d, yaml_node_t *key, yaml_node_t *n)
{
    static const char *const keys[] = {"fallbacks", "split",    "fallback_on",
                                       "cache_ttl", "on_empty", "max_wait"};
    route *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fallback_on = FALL_DEFAULT;
    r->limit_fail = -1;
    r->limit_max_wait_ms = -1;
    r->where = where_of(d, key);
    int rc = ydoc_get_string(d, key, "a route name", &r->name);
    ypair *pairs;
    size_t count;
    if (pairs_of(d, n, "a route", &pairs, &count) < 0) {
        route_free(r);
        return NULL;
    }
    int kinds = 0;
    for (size_t i = 0; i < count; i++) {
        ypair *p = &pairs[i];
        if (key_is(p, "fallbacks")) {
            kinds++;
            r->kind = ROUTE_FALLBACK;
            rc |= parse_targets(d, p->value, r, 0);
        } else if (key_is(p, "split")) {
            kinds++;
            r->kind = ROUTE_SPLIT;
            rc |= parse_split(d, p->value, r);
        } else if (key_is(p, "fallback_on")) {
            rc |= parse_fallback_on(d, p->value, &r->fallback_on);
        } else if (key_is(p, "cache_ttl")) {
            rc |= get_seconds(d, p->value, "cache_ttl", &r->cache_ttl_ms);
        } else if (key_is(p, "on_empty")) {
            rc |= get_on_empty(d, p->value, &r->limit_fail);
        } else if (key_is(p, "max_wait")) {
            rc |= get_seconds(d, p->value, "max_wait", &r->limit_max_wait_ms);
        } else {
            unknown(d, p->key, "a route", keys, sizeof keys / sizeof *keys);
            rc = -1;
        }
    }
    free(pairs);
    if (!rc && kinds != 1) {
        ydoc_problem(d, n, "route '%s' needs exactly one of fallbacks and split", r->name);
        rc = -1;
    }
    if (rc) {
        route_free(r);
        return NULL;
    }
    return r;
}

/* ---- limits and budgets ---- */

/* The request and token rates of a limit: exactly one of each pair. */
static int limit_rates(ydoc *d, yaml_node_t *n, limit_rule *l, const double rate[4])
{
    if (rate[0] && rate[1]) {
        ydoc_problem(d, n, "a limit takes requests_per_minute or requests_per_second, not both");
        return -1;
    }
    if (rate[2] && rate[3]) {
        ydoc_problem(d, n, "a limit takes tokens_per_minute or tokens_per_second, not both");
        return -1;
    }
    l->requests_per_sec = rate[0] ? rate[0] / 60 : rate[1];
    l->tokens_per_sec = rate[2] ? rate[2] / 60 : rate[3];
    if (!l->requests_per_sec && !l->tokens_per_sec) {
        ydoc_problem(d, n, "a limit needs requests_per_minute, requests_per_second, "
                           "tokens_per_minute or tokens_per_second");
        return -1;
    }
    if (!l->request_burst)
        l->request_burst = l->requests_per_sec > 1 ? ceil(l->requests_per_sec) : 1;
    l->token_burst = l->tokens_per_sec * 60;
    static const char *const unit[4] = {"requests per minute", "requests per second",
                                        "tokens per minute", "tokens per second"};
    buf t = BUF_INIT;
    for (int i = 0; i < 4; i++)
        if (rate[i])
            buf_printf(&t, "%s%g %s", t.len ? " and " : "", rate[i], unit[i]);
    l->text = buf_steal(&t);
    return l->text ? 0 : -1;
}

static int parse_limit(ydoc *d, yaml_node_t *n, limit_rule *l)
{
    static const char *const keys[] = {"provider",          "model",
                                       "requests_per_minute", "requests_per_second",
                                       "tokens_per_minute", "tokens_per_second",
                                       "burst",             "scope",
                                       "on_empty",          "max_wait"};
    ypair *pairs;
    size_t count;
    if (pairs_of(d, n, "a limit", &pairs, &count) < 0)
        return -1;
    l->max_wait_ms = 30000;
    l->where = where_of(d, n);
    double rate[4] = {0, 0, 0, 0};
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        ypair *p = &pairs[i];
        size_t k = 0;
        while (k < sizeof keys / sizeof *keys && !key_is(p, keys[k]))
            k++;
        if (k == 0)
            rc |= ydoc_get_string(d, p->value, "provider", &l->provider);
        else if (k == 1)
            rc |= ydoc_get_string(d, p->value, "model", &l->model);
        else if (k >= 2 && k <= 5)
            rc |= get_positive(d, p->value, keys[k], &rate[k - 2]);
        else if (k == 6) {
            rc |= get_positive(d, p->value, "burst", &l->request_burst);
            if (!rc && l->request_burst < 1) {
                ydoc_problem(d, p->value, "burst must be at least 1 request");
                rc = -1;
            }
        } else if (k == 7) {
            const char *s = ydoc_str(p->value);
            if (s && (!strcmp(s, "process") || !strcmp(s, "store"))) {
                l->per_process = !strcmp(s, "process");
            } else {
                ydoc_problem(d, p->value, "scope must be process or store");
                rc = -1;
            }
        } else if (k == 8)
            rc |= get_on_empty(d, p->value, &l->fail);
        else if (k == 9)
            rc |= get_seconds(d, p->value, "max_wait", &l->max_wait_ms);
        else {
            unknown(d, p->key, "a limit", keys, sizeof keys / sizeof *keys);
            rc = -1;
        }
    }
    free(pairs);
    if (!rc && !l->provider) {
        ydoc_problem(d, n, "a limit needs a provider");
        rc = -1;
    }
    if (!rc)
        rc = limit_rates(d, n, l, rate);
    return rc;
}

static int parse_budget(ydoc *d, yaml_node_t *n, budget_rule *b)
{
    static const char *const keys[] = {"project", "organization", "daily_usd", "monthly_usd"};
    ypair *pairs;
    size_t count;
    if (pairs_of(d, n, "a budget", &pairs, &count) < 0)
        return -1;
    b->where = where_of(d, n);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        ypair *p = &pairs[i];
        if (key_is(p, "project"))
            rc |= ydoc_get_string(d, p->value, "project", &b->project);
        else if (key_is(p, "organization"))
            rc |= ydoc_get_string(d, p->value, "organization", &b->organization);
        else if (key_is(p, "daily_usd"))
            rc |= get_positive(d, p->value, "daily_usd", &b->daily_usd);
        else if (key_is(p, "monthly_usd"))
            rc |= get_positive(d, p->value, "monthly_usd", &b->monthly_usd);
        else {
            unknown(d, p->key, "a budget", keys, sizeof keys / sizeof *keys);
            rc = -1;
        }
    }
    free(pairs);
    if (!rc && !b->project == !b->organization) {
        ydoc_problem(d, n, "a budget needs exactly one of project and organization");
        rc = -1;
    }
    if (!rc && !b->daily_usd && !b->monthly_usd) {
        ydoc_problem(d, n, "a budget needs daily_usd or monthly_usd");
        rc = -1;
    }
    return rc;
}

/* ---- the file ---- */

route_file *route_parse_doc(ydoc *d)
{
    static const char *const keys[] = {"routes", "limits", "budgets"};
    yaml_node_t *root = ydoc_root(d);
    route_file *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    ypair *pairs;
    size_t count;
    if (pairs_of(d, root, "a routes file", &pairs, &count) < 0) {
        route_file_free(f);
        return NULL;
    }
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        ypair *p = &pairs[i];
        const char *k = ydoc_str(p->key);
        if (k && !strncmp(k, "x-", 2))
            continue;
        if (key_is(p, "routes")) {
            ypair *rp;
            size_t rn;
            if (pairs_of(d, p->value, "routes", &rp, &rn) < 0) {
                rc = -1;
                continue;
            }
            f->routes = calloc(rn ? rn : 1, sizeof *f->routes);
            for (size_t j = 0; f->routes && j < rn; j++) {
                route *r = parse_route(d, rp[j].key, rp[j].value);
                if (r)
                    f->routes[f->n_routes++] = r;
                else
                    rc = -1;
            }
            free(rp);
        } else if (key_is(p, "limits") || key_is(p, "budgets")) {
            int lim = key_is(p, "limits");
            size_t n = ydoc_seq_len(p->value);
            if (!p->value || p->value->type != YAML_SEQUENCE_NODE) {
                ydoc_problem(d, p->value, "%s must be a list", lim ? "limits" : "budgets");
                rc = -1;
                continue;
            }
            void *v = calloc(n ? n : 1, lim ? sizeof(limit_rule) : sizeof(budget_rule));
            if (!v) {
                rc = -1;
                continue;
            }
            if (lim) {
                f->limits = v;
                for (size_t j = 0; j < n; j++, f->n_limits++)
                    rc |= parse_limit(d, ydoc_seq_item(d, p->value, j), &f->limits[j]);
            } else {
                f->budgets = v;
                for (size_t j = 0; j < n; j++, f->n_budgets++)
                    rc |= parse_budget(d, ydoc_seq_item(d, p->value, j), &f->budgets[j]);
            }
        } else {
            unknown(d, p->key, "a routes file", keys, 3);
            rc = -1;
        }
    }
    free(pairs);
    if (rc) {
        route_file_free(f);
        return NULL;
    }
    return f;
}

void route_free(route *r)
{
    if (!r)
        return;
    free(r->name);
    for (size_t i = 0; i < r->n_targets; i++)
        target_clear(&r->targets[i]);
    free(r->targets);
    free(r->where);
    free(r);
}

void limit_rule_clear(limit_rule *l)
{
    free(l->provider);
    free(l->model);
    free(l->where);
    free(l->text);
    memset(l, 0, sizeof *l);
}

void budget_rule_clear(budget_rule *b)
{
    free(b->project);
    free(b->organization);
    free(b->where);
    memset(b, 0, sizeof *b);
}

void route_file_free(route_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_routes; i++)
        route_free(f->routes[i]);
    free(f->routes);
    for (size_t i = 0; i < f->n_limits; i++)
        limit_rule_clear(&f->limits[i]);
    free(f->limits);
    for (size_t i = 0; i < f->n_budgets; i++)
        budget_rule_clear(&f->budgets[i]);
    free(f->budgets);
    free(f);
}
