#include "spec.h"

#include <stdlib.h>
#include <string.h>

static const char *const cap_names[] = {"streaming",         "vision",   "tools", "file_search",
                                        "structured_output", "reasoning"};

uint32_t spec_cap_parse(const char *name)
{
    for (size_t i = 0; i < sizeof cap_names / sizeof *cap_names; i++) {
        if (strcmp(cap_names[i], name) == 0)
            return 1u << i;
    }
    return 0;
}

const char *spec_cap_name(uint32_t bit)
{
    for (size_t i = 0; i < sizeof cap_names / sizeof *cap_names; i++) {
        if (bit == 1u << i)
            return cap_names[i];
    }
    return "?";
}

void spec_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void rule_free(param_rule *r)
{
    spec_strv_free(r->values, r->n_values);
    free(r->budgets);
    free(r->def_string);
    spec_strv_free(r->def_list, r->def_list_len);
    free(r->wire);
    for (size_t i = 0; i < r->n_only_with; i++)
        spec_strv_free(r->only_with[i].values, r->only_with[i].n_values);
    free(r->only_with);
}

void model_spec_free(model_spec *m)
{
    if (!m)
        return;
    free(m->name);
    spec_strv_free(m->aliases, m->n_aliases);
    free(m->description);
    for (int i = 0; i < P_COUNT; i++)
        rule_free(&m->params[i]);
    free(m->replacement);
    free(m->where);
    free(m);
}

void provider_spec_free(provider_spec *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->api);
    free(p->base_url);
    free(p->base_url_env);
    free(p->api_key_env);
    for (size_t i = 0; i < p->n_headers; i++) {
        free(p->headers[i].name);
        free(p->headers[i].value);
        free(p->headers[i].env);
    }
    free(p->headers);
    for (size_t i = 0; i < p->n_options; i++) {
        free((char *)p->options[i].name);
        free((char *)p->options[i].value);
    }
    free(p->options);
    for (size_t i = 0; i < p->n_models; i++)
        model_spec_free(p->models[i]);
    free(p->models);
    free(p->where);
    free(p);
}
