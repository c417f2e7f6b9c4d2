/* route_call — what a call does with a route: the targets to try (a route's
 * fallbacks in order, or the one arm of a split, chosen by a sticky key's
 * hash or at random by weight), whether a failure hands over to the next
 * target, and what the response tells of it (route, arm, each attempt). */
#ifndef LLMSVC_ROUTE_CALL_H
#define LLMSVC_ROUTE_CALL_H

#include "request.h"
#include "response.h"
#include "route.h"
#include "runtime.h"

typedef struct route_plan {
    spec_set *specs;     /* held while the plan is in use (routes, limits, budgets) */
    const route *route;  /* NULL: the request's own provider and model */
    const route_target *targets[ROUTE_MAX_TARGETS];
    size_t n;
    const char *arm;     /* a split's chosen arm */
} route_plan;

/* VALIDATION for an unknown route. */
llmsvc_code route_plan_make(llmsvc_runtime *rt, const llmsvc_request *req, route_plan *plan,
                            llmsvc_error **err);
void route_plan_clear(route_plan *plan);
/* 1 when e is a failure the route hands over to its next target for. */
int route_falls_back(const route *r, const llmsvc_error *e);
/* The split arm a key picks for weights (deterministic): exposed for tests. */
size_t route_pick_arm(const route *r, const char *key, double random01);

/* The attempts of a call, target by target (try_info: response.h). */
typedef struct try_list {
    try_info *v;
    size_t n;
} try_list;

void try_list_add(try_list *l, const route_target *t, const llmsvc_request *req, llmsvc_code code,
                  const llmsvc_error *e, double latency_ms);
void try_list_free(try_list *l);
/* Puts the route, the arm and the attempts on the response. */
void route_mark(llmsvc_response *resp, const route_plan *plan, try_list *tries);

#endif
