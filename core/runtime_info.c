/* runtime_info — what a runtime loaded, as JSON for hosts and the CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "error.h"
#include "runtime.h"
#include "validate.h"

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static llmsvc_code finish(char **out, json_object *root, llmsvc_error **err)
{
    if (!root)
        return err_give(err, err_nomem());
    char *s = strdup(json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    if (!s)
        return err_give(err, err_nomem());
    *out = s;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_runtime_plugins_json(char **out, llmsvc_runtime *rt,
                                                      llmsvc_error **err)
{
    if (!out || !rt)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_runtime_plugins_json: NULL argument");
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && i < rt->ld.n_plugins; i++) {
        const plugin_rec *p = &rt->ld.plugins[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "path", jstr(p->path));
        json_object_object_add(o, "status", jstr(p->loaded ? "loaded" : "refused"));
        json_object_object_add(o, "name", jstr(p->name));
        json_object_object_add(o, "version", jstr(p->version));
        if (p->abi_known) {
            char abi[32];
            snprintf(abi, sizeof abi, "%u.%u", p->abi_major, p->abi_minor);
            json_object_object_add(o, "abi", jstr(abi));
        } else {
            json_object_object_add(o, "abi", NULL);
        }
        json_object *protos = json_object_new_array();
        for (size_t j = 0; p->loaded && j < rt->ld.n_apis; j++) {
            if (rt->ld.apis[j]->plugin == i)
                json_object_array_add(protos, jstr(rt->ld.apis[j]->ops.name));
        }
        json_object_object_add(o, "protocols", protos);
        json_object_object_add(o, "reason", jstr(p->reason));
        json_object_array_add(a, o);
    }
    return finish(out, a, err);
}

static json_object *price(double v)
{
    return v < 0 ? NULL : json_object_new_double(v);
}

static json_object *rule_json(const param_rule *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", jstr(param_type_name(r->type)));
    if (r->has_min)
        json_object_object_add(o, "min", json_object_new_double(r->min));
    if (r->has_max)
        json_object_object_add(o, "max", json_object_new_double(r->max));
    if (r->n_values) {
        json_object *v = json_object_new_array();
        for (size_t i = 0; i < r->n_values; i++)
            json_object_array_add(v, jstr(r->values[i]));
        json_object_object_add(o, "values", v);
    }
    if (r->has_default) {
        if (r->def_string)
            json_object_object_add(o, "default", jstr(r->def_string));
        else if (r->type == LLMSVC_PARAM_INT)
            json_object_object_add(o, "default", json_object_new_int64((int64_t)r->def_number));
        else if (!r->def_list)
            json_object_object_add(o, "default", json_object_new_double(r->def_number));
    }
    if (r->n_only_with) {
        json_object *w = json_object_new_object();
        for (size_t i = 0; i < r->n_only_with; i++) {
            json_object *v = json_object_new_array();
            for (size_t j = 0; j < r->only_with[i].n_values; j++)
                json_object_array_add(v, jstr(r->only_with[i].values[j]));
            json_object_object_add(w, param_defs[r->only_with[i].param].name, v);
        }
        json_object_object_add(o, "only_with", w);
    }
    return o;
}

static json_object *model_json(const provider_spec *p, const model_spec *m)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "provider", jstr(p->name));
    json_object_object_add(o, "api", jstr(p->api));
    json_object_object_add(o, "model", jstr(m->name));
    json_object *al = json_object_new_array();
    for (size_t i = 0; i < m->n_aliases; i++)
        json_object_array_add(al, jstr(m->aliases[i]));
    json_object_object_add(o, "aliases", al);
    json_object *caps = json_object_new_array();
    for (uint32_t bit = 1; bit && bit <= LLMSVC_CAP_REASONING; bit <<= 1) {
        if (m->caps & bit)
            json_object_array_add(caps, jstr(spec_cap_name(bit)));
    }
    json_object_object_add(o, "capabilities", caps);
    json_object_object_add(o, "context_window",
                           m->context_window ? json_object_new_int64(m->context_window) : NULL);
    json_object_object_add(o, "max_output_tokens", m->max_output_tokens
                                                       ? json_object_new_int64(m->max_output_tokens)
                                                       : NULL);
    json_object *pr = json_object_new_object();
    json_object_object_add(pr, "input_per_mtok", price(m->price.input));
    json_object_object_add(pr, "cached_input_per_mtok", price(m->price.cached_input));
    json_object_object_add(pr, "cache_write_per_mtok", price(m->price.cache_write));
    json_object_object_add(pr, "output_per_mtok", price(m->price.output));
    json_object_object_add(o, "pricing", pr);
    json_object *params = json_object_new_object();
    for (int i = 0; i < P_COUNT; i++) {
        if (m->params[i].present)
            json_object_object_add(params, param_defs[i].name, rule_json(&m->params[i]));
    }
    json_object_object_add(o, "parameters", params);
    char today[11];
    validate_today(today);
    const char *status = "active";
    if (m->shutdown[0] && strcmp(today, m->shutdown) >= 0)
        status = "retired";
    else if (m->deprecated[0] || m->shutdown[0])
        status = "deprecated";
    json_object_object_add(o, "status", jstr(status));
    if (m->deprecated[0] || m->shutdown[0] || m->replacement) {
        json_object *lc = json_object_new_object();
        json_object_object_add(lc, "deprecated", m->deprecated[0] ? jstr(m->deprecated) : NULL);
        json_object_object_add(lc, "shutdown", m->shutdown[0] ? jstr(m->shutdown) : NULL);
        json_object_object_add(lc, "replacement", jstr(m->replacement));
        json_object_object_add(o, "lifecycle", lc);
    } else {
        json_object_object_add(o, "lifecycle", NULL);
    }
    return o;
}

LLMSVC_EXTERN llmsvc_code llmsvc_runtime_models_json(char **out, llmsvc_runtime *rt,
                                                     const char *provider, llmsvc_error **err)
{
    if (!out || !rt)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_runtime_models_json: NULL argument");
    spec_set *set = specset_acquire(&rt->specs);
    const registry *reg = &set->reg;
    if (provider && !registry_provider(reg, provider)) {
        specset_release(set);
        return err_set(err, LLMSVC_E_UNSUPPORTED_PROVIDER, "no spec defines provider '%s'",
                       provider);
    }
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && i < reg->n_providers; i++) {
        const provider_spec *p = reg->providers[i];
        if (provider && strcmp(p->name, provider) != 0)
            continue;
        for (size_t j = 0; j < p->n_models; j++)
            json_object_array_add(a, model_json(p, p->models[j]));
    }
    specset_release(set);
    return finish(out, a, err);
}
