/* validate — resolves a request to its provider, model and plugin, checks it
 * against the model's spec and builds the llmsvc_call_info view a plugin sees.
 *
 * Errors: VALIDATION (no provider/model/prompt, a parameter the model does not
 * take, out of range, not among the values, a condition unmet, a capability
 * missing, a model past its shutdown date), UNSUPPORTED_PROVIDER (no spec, or
 * no plugin for its protocol), UNKNOWN_MODEL (naming close matches), CONFIG
 * (no API key where the spec names a key variable). */
#ifndef LLMSVC_VALIDATE_H
#define LLMSVC_VALIDATE_H

#include "loader.h"
#include "request.h"
#include "runtime.h"
#include "route.h"
#include "spec.h"

typedef struct call_ctx {
    llmsvc_call_info view;
    llmsvc_param params[P_COUNT];
    const provider_spec *provider;
    const model_spec *model;
    const api_rec *api;
    char *owned_base_url; /* when the environment's needed trimming */
    spec_set *specs;      /* valid from resolve to call_ctx_clear, even if the
                             runtime reloads its specs meanwhile ... */
    int owns_specs;       /* ... by a reference of the context's own */
    const llmsvc_request *req; /* the request being called */
    const route_target *target; /* a route's target, or NULL */
    req_value vals[P_COUNT];    /* the request's parameters with the target's on top
                                   (shallow: strings borrowed) */
    llmsvc_message *messages; /* the view's turns (owned array, borrowed strings) */
    llmsvc_tool *tools;
    llmsvc_message one_message; /* messages and tools when there is one at most: */
    llmsvc_tool one_tool;       /* no allocation for the usual call (never copy a ctx) */
    struct rl_ticket *ticket;   /* the attempt's rate-limit ticket (ratelimit.h), or NULL */
} call_ctx;

/* specs: the spec set to resolve in, held by the caller until call_ctx_clear
 * (a call resolves its route and the route's targets in the one set it
 * started with), or NULL for the runtime's current set (the context takes
 * a reference). target: a route's target (provider, model, parameters)
 * instead of the request's provider and model; NULL for the request's own. */
llmsvc_code call_resolve(const llmsvc_runtime *rt, spec_set *specs, const llmsvc_request *req,
                         const route_target *target, call_ctx *ctx, llmsvc_error **err);
/* The same checks without the endpoint (base URL, API key): what a host that
 * queues a job for another machine can check (llmsvc_validate). */
llmsvc_code call_check(const llmsvc_runtime *rt, spec_set *specs, const llmsvc_request *req,
                       const route_target *target, call_ctx *ctx, llmsvc_error **err);
/* Drops what the context holds; call it after every resolve or check. */
void call_ctx_clear(call_ctx *ctx);

/* Today's UTC date as "YYYY-MM-DD". */
void validate_today(char out[11]);

#endif
