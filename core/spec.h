/* spec — providers and models as read from the YAML specs (specs/README.md).
 * Immutable once loaded; freed with their registry. */
#ifndef LLMSVC_SPEC_H
#define LLMSVC_SPEC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"

typedef struct param_cond {
    param_id param; /* the parameter whose value decides */
    char **values;
    size_t n_values;
    unsigned line, col; /* of its key in the spec file, for messages */
} param_cond;

typedef struct param_rule {
    int present;
    llmsvc_param_type type;
    int has_min, has_max;
    double min, max;
    char **values; /* enum */
    size_t n_values;
    long *budgets; /* per values[i]; -1 when unset; NULL when no budgets */
    int has_default;
    double def_number;
    char *def_string;
    char **def_list;
    size_t def_list_len;
    char *wire;
    param_cond *only_with;
    size_t n_only_with;
} param_rule;

typedef struct pricing {
    double input, cached_input, cache_write, output; /* USD per 1M tokens; < 0: absent */
} pricing;

typedef struct provider_spec provider_spec;

typedef struct model_spec {
    char *name;
    char **aliases;
    size_t n_aliases;
    char *description;
    long context_window;    /* 0: unknown */
    long max_output_tokens; /* 0: unknown */
    uint32_t caps;          /* LLMSVC_CAP_* */
    unsigned param_mask;    /* bit i: params[i].present */
    param_rule params[P_COUNT];
    pricing price;
    char deprecated[11]; /* "YYYY-MM-DD" or "" */
    char shutdown[11];
    char *replacement;
    provider_spec *provider; /* the merged provider it belongs to */
    char *where;             /* "file:line:col" of its definition */
    atomic_int warned;       /* deprecation warning given */
} model_spec;

typedef struct spec_header {
    char *name;
    char *value; /* literal, or NULL */
    char *env;   /* variable to read, or NULL */
    int secret;
} spec_header;

struct provider_spec {
    char *name;
    char *api;
    char *base_url;
    char *base_url_env;
    char *api_key_env;
    spec_header *headers;
    size_t n_headers;
    llmsvc_kv *options; /* owned strings */
    size_t n_options;
    model_spec **models;
    size_t n_models;
    char *where;
};

/* Capability name ↔ bit. */
uint32_t spec_cap_parse(const char *name);
const char *spec_cap_name(uint32_t bit);

/* Frees n strings and their array (NULL-safe). */
void spec_strv_free(char **v, size_t n);
void model_spec_free(model_spec *m);
void provider_spec_free(provider_spec *p);

#endif
