/* registry — every provider and model the spec folders define, merged in load
 * order (a later file overrides an earlier one model by model) and indexed for
 * O(1) lookup by (provider, model name or alias). Immutable after
 * registry_finish; safe to read from many threads. */
#ifndef LLMSVC_REGISTRY_H
#define LLMSVC_REGISTRY_H

#include "problems.h"
#include "spec.h"
#include "strmap.h"

typedef struct registry {
    provider_spec **providers; /* in first-seen order */
    size_t n_providers;
    strmap by_provider; /* name → provider_spec */
    strmap by_model;    /* "provider\nmodel-or-alias" → model_spec */
    problems probs;     /* every problem met while loading */
    size_t files;       /* files read without problems */
    size_t models;
} registry;

void registry_init(registry *r);
/* Reads one path: a *.yaml file, or every *.yaml file of a folder in name
 * order. missing_ok: a path that does not exist is no problem. Problems go to
 * r->probs; a file with problems is skipped whole. -1 on OOM. */
int registry_add_path(registry *r, const char *path, int missing_ok);
/* Merges a parsed provider (takes it over). -1 on OOM. */
int registry_add(registry *r, provider_spec *p);
/* Builds the lookup index; call once after the last add. -1 on OOM. */
int registry_finish(registry *r);
void registry_free(registry *r);

provider_spec *registry_provider(const registry *r, const char *name);
model_spec *registry_model(const registry *r, const char *provider, const char *model);

#endif
