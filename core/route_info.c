/* route_info — llmsvc_runtime_routes_json: the routes, rate limits and
 * budgets of the loaded routes files, as operators wrote them. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json_util.h"
#include "runtime.h"
#include "specset.h"

static json_object *str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* 800 as 800, 0.2 as 0.2 (not 0.20000000000000001). */
static json_object *number(double v)
{
    if (v == (double)(int64_t)v && v > -1e15 && v < 1e15)
        return json_object_new_int64((int64_t)v);
    char s[32];
    snprintf(s, sizeof s, "%.15g", v);
    return json_object_new_double_s(v, s);
}

static json_object *target_json(const route *r, const route_target *t)
{
    json_object *o = json_object_new_object();
    if (r->kind == ROUTE_SPLIT) {
        json_object_object_add(o, "arm", str(t->arm));
        json_object_object_add(o, "weight", number(t->weight));
    }
    json_object_object_add(o, "provider", str(t->provider));
    json_object_object_add(o, "model", str(t->model));
    json_object *params = json_object_new_object();
    for (int p = 0; p < P_COUNT; p++) {
        if (!t->params[p].set)
            continue;
        json_object_object_add(params, param_defs[p].name,
                               t->params[p].string ? json_object_new_string(t->params[p].string)
                                                   : number(t->params[p].number));
    }
    json_object_object_add(o, "parameters", params);
    return o;
}

static json_object *fallback_on_json(unsigned f)
{
    static const char *const names[] = {"rate_limited", "server_error", "timeout", "transport",
                                        "retryable"};
    json_object *a = json_object_new_array();
    for (unsigned i = 0; i < 5; i++)
        if (f & (1u << i))
            json_object_array_add(a, json_object_new_string(names[i]));
    return a;
}

static json_object *route_json(const route *r)
{
    static const char *const sticky[] = {"none", "user", "project", "key"};
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", str(r->name));
    json_object_object_add(o, "kind", json_object_new_string(r->kind == ROUTE_SPLIT ? "split"
                                                                                    : "fallbacks"));
    json_object *targets = json_object_new_array();
    for (size_t i = 0; i < r->n_targets; i++)
        json_object_array_add(targets, target_json(r, &r->targets[i]));
    json_object_object_add(o, "targets", targets);
    if (r->kind == ROUTE_SPLIT)
        json_object_object_add(o, "sticky", json_object_new_string(sticky[r->sticky]));
    else
        json_object_object_add(o, "fallback_on", fallback_on_json(r->fallback_on));
    json_object_object_add(o, "cache_ttl_s", json_object_new_double((double)r->cache_ttl_ms / 1000));
    if (r->limit_fail >= 0)
        json_object_object_add(o, "on_empty", json_object_new_string(r->limit_fail ? "fail"
                                                                                   : "wait"));
    if (r->limit_max_wait_ms >= 0)
        json_object_object_add(o, "max_wait_s",
                               json_object_new_double((double)r->limit_max_wait_ms / 1000));
    json_object_object_add(o, "where", str(r->where));
    return o;
}

static json_object *limit_json(const limit_rule *l)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "provider", str(l->provider));
    json_object_object_add(o, "model", str(l->model));
    json_object_object_add(o, "limit", str(l->text));
    json_object_object_add(o, "requests_per_second", json_object_new_double(l->requests_per_sec));
    json_object_object_add(o, "request_burst", json_object_new_double(l->request_burst));
    json_object_object_add(o, "tokens_per_minute", json_object_new_double(l->tokens_per_sec * 60));
    json_object_object_add(o, "scope", json_object_new_string(l->per_process ? "process"
                                                                             : "store"));
    json_object_object_add(o, "on_empty", json_object_new_string(l->fail ? "fail" : "wait"));
    json_object_object_add(o, "max_wait_s", json_object_new_double((double)l->max_wait_ms / 1000));
    json_object_object_add(o, "where", str(l->where));
    return o;
}

static json_object *budget_json(const budget_rule *b)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, b->project ? "project" : "organization",
                           str(b->project ? b->project : b->organization));
    json_object_object_add(o, "daily_usd", b->daily_usd ? json_object_new_double(b->daily_usd)
                                                        : NULL);
    json_object_object_add(o, "monthly_usd",
                           b->monthly_usd ? json_object_new_double(b->monthly_usd) : NULL);
    json_object_object_add(o, "where", str(b->where));
    return o;
}

LLMSVC_EXTERN llmsvc_code llmsvc_runtime_routes_json(char **out, llmsvc_runtime *rt,
                                                     llmsvc_error **err)
{
    if (!out || !rt)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_runtime_routes_json: NULL argument");
    spec_set *set = specset_acquire(&rt->specs);
    const registry *reg = &set->reg;
    json_object *o = json_object_new_object(), *a;
    json_object_object_add(o, "routes", a = json_object_new_array());
    for (size_t i = 0; i < reg->n_routes; i++)
        json_object_array_add(a, route_json(reg->routes[i]));
    json_object_object_add(o, "limits", a = json_object_new_array());
    for (size_t i = 0; i < reg->n_limits; i++)
        json_object_array_add(a, limit_json(&reg->limits[i]));
    json_object_object_add(o, "budgets", a = json_object_new_array());
    for (size_t i = 0; i < reg->n_budgets; i++)
        json_object_array_add(a, budget_json(&reg->budgets[i]));
    specset_release(set);
    *out = ju_to_string(o);
    json_object_put(o);
    return *out ? LLMSVC_OK : err_give(err, err_nomem());
}
