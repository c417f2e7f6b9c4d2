/* registry — every provider and model the spec folders define, merged in load
 * order (a later file overrides an earlier one model by model) and indexed for
 * O(1) lookup by (provider, model name or alias). Immutable after
 * registry_finish; safe to read from many threads. */
#ifndef LLMSVC_REGISTRY_H
#define LLMSVC_REGISTRY_H

#include "problems.h"
#include "route.h"
#include "spec.h"
#include "strmap.h"

typedef struct registry {
    provider_spec **providers; /* in first-seen order */
    size_t n_providers;
    strmap by_provider; /* name → provider_spec */
    strmap by_model;    /* "provider\nmodel-or-alias" → model_spec */
    route **routes;     /* routes, limits and budgets of the routes files */
    size_t n_routes;
    strmap by_route;
    limit_rule *limits;
    size_t n_limits;
    budget_rule *budgets;
    size_t n_budgets;
    const struct registry *ref; /* also consulted for routes' targets (specs check of
                                   a few files against the installed specs), or NULL */
    problems probs;     /* every problem met while loading */
    size_t files;       /* files read without problems */
    size_t models;
} registry;

void registry_init(registry *r);
/* Reads one path: a *.yaml file, or every *.yaml file of a folder in name
 * order and then of its routes/ subfolder. A file whose top level has
 * routes, limits or budgets is a routes file; any other is a spec.
 * missing_ok: a path that does not exist is no problem. Problems go to
 * r->probs; a file with problems is skipped whole. -1 on OOM. */
int registry_add_path(registry *r, const char *path, int missing_ok);
/* Merges a parsed routes file (takes it over). -1 on OOM. */
int registry_add_routes(registry *r, route_file *f);
/* Merges a parsed provider (takes it over). -1 on OOM. */
int registry_add(registry *r, provider_spec *p);
/* Builds the lookup index; call once after the last add. -1 on OOM. */
int registry_finish(registry *r);
void registry_free(registry *r);

provider_spec *registry_provider(const registry *r, const char *name);
const route *registry_route(const registry *r, const char *name);
model_spec *registry_model(const registry *r, const char *provider, const char *model);

#endif
