#include "route_call.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "response.h"
#include "specset.h"

static uint64_t fnv64(const char *s, uint64_t h)
{
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* A mixing step so that similar keys spread over [0, 1). */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double thread_random(void)
{
    static _Thread_local uint64_t s;
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = mix((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&s) | 1;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

size_t route_pick_arm(const route *r, const char *key, double random01)
{
    double total = 0;
    for (size_t i = 0; i < r->n_targets; i++)
        total += r->targets[i].weight;
    double x = random01;
    if (key)
        x = (double)(mix(fnv64(key, fnv64(r->name, 1469598103934665603ull))) >> 11) /
            9007199254740992.0;
    double at = x * total, sum = 0;
    for (size_t i = 0; i < r->n_targets; i++) {
        sum += r->targets[i].weight;
        if (at < sum)
            return i;
    }
    return r->n_targets - 1;
}

static const char *sticky_key(const route *r, const llmsvc_request *req)
{
    switch (r->sticky) {
    case STICKY_USER:
        return req->user ? req->user : req->sticky_key;
    case STICKY_PROJECT:
        return req->project_id;
    case STICKY_KEY:
        return req->sticky_key;
    default:
        return NULL;
    }
}

llmsvc_code route_plan_make(llmsvc_runtime *rt, const llmsvc_request *req, route_plan *plan,
                            llmsvc_error **err)
{
    memset(plan, 0, sizeof *plan);
    plan->specs = specset_acquire(&rt->specs);
    if (!req->route) {
        plan->targets[0] = NULL;
        plan->n = 1;
        return LLMSVC_OK;
    }
    const registry *reg = &plan->specs->reg;
    const route *r = registry_route(reg, req->route);
    if (!r) {
        buf names = BUF_INIT;
        for (size_t i = 0; i < reg->n_routes; i++)
            buf_printf(&names, "%s%s", i ? ", " : "", reg->routes[i]->name);
        llmsvc_error *e = err_new(LLMSVC_E_VALIDATION, "unknown route '%s'; the routes are: %s",
                                  req->route, names.len ? buf_cstr(&names) : "none");
        err_set_provider(e, NULL, NULL, "route");
        buf_free(&names);
        route_plan_clear(plan);
        return err_give(err, e);
    }
    plan->route = r;
    if (r->kind == ROUTE_SPLIT) {
        size_t arm = route_pick_arm(r, sticky_key(r, req), thread_random());
        plan->targets[0] = &r->targets[arm];
        plan->arm = r->targets[arm].arm;
        plan->n = 1;
    } else {
        for (size_t i = 0; i < r->n_targets && i < ROUTE_MAX_TARGETS; i++)
            plan->targets[plan->n++] = &r->targets[i];
    }
    return LLMSVC_OK;
}

void route_plan_clear(route_plan *plan)
{
    specset_release(plan->specs);
    memset(plan, 0, sizeof *plan);
}

int route_falls_back(const route *r, const llmsvc_error *e)
{
    if (!r || !e)
        return 0;
    unsigned why = 0;
    switch (e->code) {
    case LLMSVC_E_API:
        if (e->http_status == 429)
            why = FALL_RATE_LIMITED;
        else if (e->http_status >= 500)
            why = FALL_SERVER;
        else if (e->http_status == 408 || e->http_status == 409)
            why = FALL_RETRYABLE;
        break; /* 400, 401, 403, 404, 422: the next target would fail alike */
    case LLMSVC_E_RATE_LIMITED:
        why = FALL_RATE_LIMITED;
        break;
    case LLMSVC_E_TRANSPORT:
        why = e->timeout ? FALL_TIMEOUT : FALL_TRANSPORT;
        break;
    case LLMSVC_E_VALIDATION:
    case LLMSVC_E_UNKNOWN_MODEL:
    case LLMSVC_E_UNSUPPORTED_PROVIDER:
    case LLMSVC_E_BUDGET_EXCEEDED:
    case LLMSVC_E_CANCELLED:
        break;
    default:
        why = e->retryable ? FALL_RETRYABLE : 0;
    }
    return (r->fallback_on & why) != 0;
}

void try_list_add(try_list *l, const route_target *t, const llmsvc_request *req, llmsvc_code code,
                  const llmsvc_error *e, double latency_ms)
{
    try_info *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
    if (!nv)
        return;
    l->v = nv;
    try_info *ti = &nv[l->n++];
    memset(ti, 0, sizeof *ti);
    const char *p = t ? t->provider : req->provider, *m = t ? t->model : req->model;
    ti->provider = p ? strdup(p) : NULL;
    ti->model = m ? strdup(m) : NULL;
    ti->code = code;
    ti->http_status = e ? e->http_status : 0;
    ti->message = e ? strdup(e->message) : NULL;
    ti->latency_ms = latency_ms;
}

void try_list_free(try_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].provider);
        free(l->v[i].model);
        free(l->v[i].message);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void route_mark(llmsvc_response *resp, const route_plan *plan, try_list *tries)
{
    if (!plan->route)
        return;
    free(resp->route);
    free(resp->arm);
    resp->route = strdup(plan->route->name);
    resp->arm = plan->arm ? strdup(plan->arm) : NULL;
    /* the response takes the attempts over */
    response_set_tries(resp, tries->v, tries->n);
    tries->v = NULL;
    tries->n = 0;
}
