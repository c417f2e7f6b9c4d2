#include "registry.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "spec_yaml.h"
#include "ydoc.h"

#define MAX_SPEC_FILE (4u << 20)

void registry_init(registry *r)
{
    memset(r, 0, sizeof *r);
}

/* A routes file is known by its top-level keys. */
static int is_routes_doc(ydoc *d)
{
    yaml_node_t *root = ydoc_root(d);
    if (!root || root->type != YAML_MAPPING_NODE)
        return 0;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *k = ydoc_str(yaml_document_get_node(&d->doc, p->key));
        if (k && (!strcmp(k, "provider") || !strcmp(k, "models")))
            return 0;
        if (k && (!strcmp(k, "routes") || !strcmp(k, "limits") || !strcmp(k, "budgets")))
            return 1;
    }
    return 0;
}

static int add_file(registry *r, const char *path)
{
    char *data;
    size_t len;
    if (fs_read_file(path, MAX_SPEC_FILE, &data, &len) < 0) {
        problems_add(&r->probs, path, 0, 0, "cannot read: %s",
                     errno == EFBIG ? "larger than 4 MiB" : strerror(errno));
        return 0;
    }
    ydoc d;
    int loaded = ydoc_load(&d, path, data, len, &r->probs) == 0;
    int rc = 0;
    if (loaded && is_routes_doc(&d)) {
        size_t before = r->probs.count;
        route_file *f = route_parse_doc(&d);
        if (f && r->probs.count == before) {
            r->files++;
            rc = registry_add_routes(r, f);
        } else {
            route_file_free(f);
        }
    } else if (loaded) {
        provider_spec *p = spec_parse_doc(&d);
        if (p) {
            r->files++;
            rc = registry_add(r, p);
        }
    }
    if (loaded)
        ydoc_free(&d);
    free(data);
    return rc;
}

int registry_add_path(registry *r, const char *path, int missing_ok)
{
    int isdir = fs_is_dir(path);
    if (isdir < 0) {
        if (!missing_ok)
            problems_add(&r->probs, path, 0, 0, "no such file or folder");
        return 0;
    }
    if (!isdir)
        return add_file(r, path);
    char **files;
    size_t n;
    if (fs_list_dir(path, ".yaml", &files, &n) < 0) {
        problems_add(&r->probs, path, 0, 0, "cannot read folder: %s", strerror(errno));
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_file(r, files[i]);
    fs_free_list(files, n);
    /* routes files beside the specs */
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/routes", path);
    if (rc == 0 && fs_is_dir(sub) == 1) {
        if (fs_list_dir(sub, ".yaml", &files, &n) < 0) {
            problems_add(&r->probs, sub, 0, 0, "cannot read folder: %s", strerror(errno));
            return 0;
        }
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = add_file(r, files[i]);
        fs_free_list(files, n);
    }
    return rc;
}

static void take_str(char **dst, char **src)
{
    if (!*src)
        return;
    free(*dst);
    *dst = *src;
    *src = NULL;
}

static int merge_headers(provider_spec *old, provider_spec *p)
{
    for (size_t i = 0; i < p->n_headers; i++) {
        spec_header *h = &p->headers[i];
        size_t j = 0;
        while (j < old->n_headers && strcasecmp(old->headers[j].name, h->name))
            j++;
        if (j == old->n_headers) {
            spec_header *nv = realloc(old->headers, (old->n_headers + 1) * sizeof *nv);
            if (!nv)
                return -1;
            old->headers = nv;
            old->n_headers++;
        } else {
            free(old->headers[j].name);
            free(old->headers[j].value);
            free(old->headers[j].env);
        }
        old->headers[j] = *h;
        memset(h, 0, sizeof *h);
    }
    return 0;
}

static int merge_options(provider_spec *old, provider_spec *p)
{
    for (size_t i = 0; i < p->n_options; i++) {
        llmsvc_kv *o = &p->options[i];
        size_t j = 0;
        while (j < old->n_options && strcmp(old->options[j].name, o->name))
            j++;
        if (j == old->n_options) {
            llmsvc_kv *nv = realloc(old->options, (old->n_options + 1) * sizeof *nv);
            if (!nv)
                return -1;
            old->options = nv;
            old->n_options++;
        } else {
            free((char *)old->options[j].name);
            free((char *)old->options[j].value);
        }
        old->options[j] = *o;
        memset(o, 0, sizeof *o);
    }
    return 0;
}

static int merge_models(provider_spec *old, provider_spec *p)
{
    for (size_t i = 0; i < p->n_models; i++) {
        model_spec *m = p->models[i];
        size_t j = 0;
        while (j < old->n_models && strcmp(old->models[j]->name, m->name))
            j++;
        if (j == old->n_models) {
            model_spec **nv = realloc(old->models, (old->n_models + 1) * sizeof *nv);
            if (!nv)
                return -1;
            old->models = nv;
            old->n_models++;
        } else {
            model_spec_free(old->models[j]);
        }
        old->models[j] = m;
        p->models[i] = NULL;
    }
    p->n_models = 0;
    return 0;
}

/* Merges a routes file: a route, a limit (provider+model) or a budget
 * (project or organization) of a later file replaces the earlier one. */
int registry_add_routes(registry *r, route_file *f)
{
    for (size_t i = 0; i < f->n_routes; i++) {
        route *nr = f->routes[i];
        size_t j = 0;
        while (j < r->n_routes && strcmp(r->routes[j]->name, nr->name))
            j++;
        if (j == r->n_routes) {
            route **nv = realloc(r->routes, (r->n_routes + 1) * sizeof *nv);
            if (!nv)
                goto nomem;
            r->routes = nv;
            r->n_routes++;
        } else {
            route_free(r->routes[j]);
        }
        r->routes[j] = nr;
        f->routes[i] = NULL;
    }
    for (size_t i = 0; i < f->n_limits; i++) {
        limit_rule *l = &f->limits[i];
        size_t j = 0;
        while (j < r->n_limits &&
               (strcmp(r->limits[j].provider, l->provider) ||
                !r->limits[j].model != !l->model ||
                (l->model && strcmp(r->limits[j].model, l->model))))
            j++;
        if (j == r->n_limits) {
            limit_rule *nv = realloc(r->limits, (r->n_limits + 1) * sizeof *nv);
            if (!nv)
                goto nomem;
            r->limits = nv;
            r->n_limits++;
        } else {
            limit_rule_clear(&r->limits[j]);
        }
        r->limits[j] = *l;
        memset(l, 0, sizeof *l);
    }
    for (size_t i = 0; i < f->n_budgets; i++) {
        budget_rule *b = &f->budgets[i];
        size_t j = 0;
        while (j < r->n_budgets &&
               !((b->project && r->budgets[j].project && !strcmp(b->project, r->budgets[j].project)) ||
                 (b->organization && r->budgets[j].organization &&
                  !strcmp(b->organization, r->budgets[j].organization))))
            j++;
        if (j == r->n_budgets) {
            budget_rule *nv = realloc(r->budgets, (r->n_budgets + 1) * sizeof *nv);
            if (!nv)
                goto nomem;
            r->budgets = nv;
            r->n_budgets++;
        } else {
            budget_rule_clear(&r->budgets[j]);
        }
        r->budgets[j] = *b;
        memset(b, 0, sizeof *b);
    }
    route_file_free(f);
    return 0;
nomem:
    route_file_free(f);
    return -1;
}

int registry_add(registry *r, provider_spec *p)
{
    provider_spec *old = NULL;
    for (size_t i = 0; i < r->n_providers && !old; i++) {
        if (strcmp(r->providers[i]->name, p->name) == 0)
            old = r->providers[i];
    }
    if (!old) {
        provider_spec **nv = realloc(r->providers, (r->n_providers + 1) * sizeof *nv);
        if (!nv) {
            provider_spec_free(p);
            return -1;
        }
        r->providers = nv;
        r->providers[r->n_providers++] = p;
        return 0;
    }
    take_str(&old->api, &p->api);
    take_str(&old->base_url, &p->base_url);
    take_str(&old->base_url_env, &p->base_url_env);
    take_str(&old->api_key_env, &p->api_key_env);
    int rc = merge_headers(old, p) | merge_options(old, p) | merge_models(old, p);
    provider_spec_free(p);
    return rc;
}

static int index_name(registry *r, provider_spec *p, model_spec *m, const char *name, int alias)
{
    size_t plen = strlen(p->name), nlen = strlen(name);
    char stackkey[256];
    char *key = plen + nlen + 2 <= sizeof stackkey ? stackkey : malloc(plen + nlen + 2);
    if (!key)
        return -1;
    memcpy(key, p->name, plen);
    key[plen] = '\n';
    memcpy(key + plen + 1, name, nlen + 1);
    model_spec *prev = strmap_get(&r->by_model, key, plen + 1 + nlen);
    int rc = 0;
    if (prev && prev != m) {
        /* a model's own name beats another model's alias */
        if (alias) {
            problems_add(&r->probs, m->where, 0, 0,
                         "alias '%s' of model '%s' is already taken by model '%s' (%s); ignored",
                         name, m->name, prev->name, prev->where);
        } else {
            problems_add(&r->probs, prev->where, 0, 0,
                         "alias '%s' of model '%s' is the name of model '%s' (%s); ignored", name,
                         prev->name, m->name, m->where);
            rc = strmap_put(&r->by_model, key, plen + 1 + nlen, m, NULL);
        }
    } else {
        rc = strmap_put(&r->by_model, key, plen + 1 + nlen, m, NULL);
    }
    if (key != stackkey)
        free(key);
    return rc;
}

int registry_finish(registry *r)
{
    r->models = 0;
    for (size_t i = 0; i < r->n_providers; i++) {
        provider_spec *p = r->providers[i];
        if (strmap_put(&r->by_provider, p->name, strlen(p->name), p, NULL) < 0)
            return -1;
        for (size_t j = 0; j < p->n_models; j++) {
            p->models[j]->provider = p;
            if (index_name(r, p, p->models[j], p->models[j]->name, 0) < 0)
                return -1;
            r->models++;
        }
        for (size_t j = 0; j < p->n_models; j++) {
            model_spec *m = p->models[j];
            for (size_t a = 0; a < m->n_aliases; a++) {
                if (index_name(r, p, m, m->aliases[a], 1) < 0)
                    return -1;
            }
        }
    }
    for (size_t i = 0; i < r->n_routes; i++) {
        route *rt = r->routes[i];
        if (strmap_put(&r->by_route, rt->name, strlen(rt->name), rt, NULL) < 0)
            return -1;
        for (size_t j = 0; j < rt->n_targets; j++) {
            const route_target *t = &rt->targets[j];
            if (!registry_model(r, t->provider, t->model) &&
                !(r->ref && registry_model(r->ref, t->provider, t->model)))
                problems_add(&r->probs, rt->where, 0, 0,
                             "route '%s' names model '%s' of provider '%s', which no spec defines",
                             rt->name, t->model, t->provider);
        }
    }
    /* a replacement may be defined by any file of its provider: checked
       once every file is merged (an override names a packaged model) */
    for (size_t i = 0; i < r->n_providers; i++) {
        provider_spec *p = r->providers[i];
        for (size_t j = 0; j < p->n_models; j++) {
            model_spec *m = p->models[j];
            if (m->replacement && !registry_model(r, p->name, m->replacement))
                problems_add(&r->probs, m->where, 0, 0,
                             "model '%s' names replacement '%s', which is not a model of '%s'",
                             m->name, m->replacement, p->name);
        }
    }
    return 0;
}

void registry_free(registry *r)
{
    for (size_t i = 0; i < r->n_routes; i++)
        route_free(r->routes[i]);
    free(r->routes);
    strmap_free(&r->by_route);
    for (size_t i = 0; i < r->n_limits; i++)
        limit_rule_clear(&r->limits[i]);
    free(r->limits);
    for (size_t i = 0; i < r->n_budgets; i++)
        budget_rule_clear(&r->budgets[i]);
    free(r->budgets);
    for (size_t i = 0; i < r->n_providers; i++)
        provider_spec_free(r->providers[i]);
    free(r->providers);
    strmap_free(&r->by_provider);
    strmap_free(&r->by_model);
    problems_free(&r->probs);
    memset(r, 0, sizeof *r);
}

provider_spec *registry_provider(const registry *r, const char *name)
{
    return strmap_get(&r->by_provider, name, strlen(name));
}

const route *registry_route(const registry *r, const char *name)
{
    return strmap_get(&r->by_route, name, strlen(name));
}

model_spec *registry_model(const registry *r, const char *provider, const char *model)
{
    size_t plen = strlen(provider), mlen = strlen(model);
    char stackkey[256];
    if (plen + mlen + 2 > sizeof stackkey)
        return NULL; /* no spec name is that long */
    memcpy(stackkey, provider, plen);
    stackkey[plen] = '\n';
    memcpy(stackkey + plen + 1, model, mlen);
    return strmap_get(&r->by_model, stackkey, plen + 1 + mlen);
}
