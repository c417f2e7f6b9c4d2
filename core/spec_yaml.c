/* spec_yaml — reads one spec file into a provider_spec, checking the schema of
 * specs/README.md and collecting every problem with its file:line:col. */
#include "spec_yaml.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "suggest.h"
#include "ydoc.h"

#define MAX_SPEC_BYTES (4u << 20)

/* ---- small helpers ---- */

/* Reports an unknown key, suggesting the closest known one. */
static void unknown_key(ydoc *d, yaml_node_t *key, const char *where, const char *const *known,
                        size_t n)
{
    const char *k = ydoc_str(key);
    if (!k) {
        ydoc_problem(d, key, "keys in %s must be strings", where);
        return;
    }
    const char *best = suggest_best(k, known, n);
    if (best)
        ydoc_problem(d, key, "unknown key '%s' in %s; did you mean '%s'?", k, where, best);
    else
        ydoc_problem(d, key, "unknown key '%s' in %s", k, where);
}

static int key_is(const ypair *p, const char *name)
{
    const char *k = ydoc_str(p->key);
    return k && strcmp(k, name) == 0;
}

static int require_map(ydoc *d, yaml_node_t *n, const char *what)
{
    if (n && n->type == YAML_MAPPING_NODE)
        return 0;
    ydoc_problem(d, n, "%s must be a mapping", what);
    return -1;
}

/* The pairs of a mapping that must be one (see ydoc_pairs); -1 with a problem. */
static int map_pairs(ydoc *d, yaml_node_t *node, const char *what, ypair **pairs, size_t *n)
{
    if (require_map(d, node, what) < 0)
        return -1;
    return ydoc_pairs(d, node, pairs, n);
}

/* Provider names start lowercase; model ids may start uppercase
 * (Hugging Face ids such as Qwen/Qwen3-8B on vLLM). */
static int valid_name(const char *s, int model)
{
    if (!s || !*s || strlen(s) > 120)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || ((p != s || model) && c >= 'A' && c <= 'Z') || (p != s && c == ':') ||
              (p != s && c == '/') || (p != s && c == '@')))
            return 0;
    }
    return 1;
}

static int in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0)
            return 1;
    }
    return 0;
}

/* ---- parameters ---- */

static const char *const rule_keys[] = {"type",    "min",  "max",      "values",
                                        "default", "wire", "only_with", "budgets"};

static int parse_only_with(ydoc *d, yaml_node_t *node, param_rule *r, const char *pname)
{
    ypair *pairs;
    size_t n;
    if (map_pairs(d, node, "only_with", &pairs, &n) < 0)
        return -1;
    int rc = 0;
    r->only_with = calloc(n ? n : 1, sizeof *r->only_with);
    if (!r->only_with) {
        free(pairs);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *k = ydoc_str(pairs[i].key);
        int id = k ? param_lookup(k) : -1;
        if (id < 0) {
            ydoc_problem(d, pairs[i].key, "only_with of '%s' names '%s', which is not a parameter",
                         pname, k ? k : "?");
            rc = -1;
            continue;
        }
        param_cond *c = &r->only_with[r->n_only_with];
        c->param = (param_id)id;
        c->line = (unsigned)pairs[i].key->start_mark.line + 1;
        c->col = (unsigned)pairs[i].key->start_mark.column + 1;
        if (ydoc_get_strings(d, pairs[i].value, "an only_with value", &c->values, &c->n_values) <
            0) {
            rc = -1;
            continue;
        }
        r->n_only_with++;
    }
    free(pairs);
    return rc;
}

static int parse_default(ydoc *d, yaml_node_t *node, param_rule *r, const char *pname)
{
    r->has_default = 1;
    switch (r->type) {
    case LLMSVC_PARAM_FLOAT:
        return ydoc_get_double(d, node, "default", &r->def_number);
    case LLMSVC_PARAM_INT: {
        long v;
        if (ydoc_get_long(d, node, "default", &v) < 0)
            return -1;
        r->def_number = (double)v;
        return 0;
    }
    case LLMSVC_PARAM_BOOL: {
        int v;
        if (ydoc_get_bool(d, node, "default", &v) < 0)
            return -1;
        r->def_number = v;
        return 0;
    }
    case LLMSVC_PARAM_STRING_LIST:
        return ydoc_get_strings(d, node, "default", &r->def_list, &r->def_list_len);
    default:
        (void)pname;
        return ydoc_get_string(d, node, "default", &r->def_string);
    }
}

static int parse_budgets(ydoc *d, yaml_node_t *node, param_rule *r)
{
    ypair *pairs;
    size_t n;
    if (map_pairs(d, node, "budgets", &pairs, &n) < 0)
        return -1;
    int rc = 0;
    r->budgets = malloc((r->n_values ? r->n_values : 1) * sizeof *r->budgets);
    if (!r->budgets) {
        free(pairs);
        return -1;
    }
    for (size_t i = 0; i < r->n_values; i++)
        r->budgets[i] = -1;
    for (size_t i = 0; i < n; i++) {
        const char *k = ydoc_str(pairs[i].key);
        size_t idx = r->n_values;
        for (size_t j = 0; k && j < r->n_values; j++) {
            if (strcmp(r->values[j], k) == 0)
                idx = j;
        }
        if (idx == r->n_values) {
            ydoc_problem(d, pairs[i].key, "budgets names '%s', which is not among the values",
                         k ? k : "?");
            rc = -1;
            continue;
        }
        long v;
        if (ydoc_get_long(d, pairs[i].value, "a budget", &v) < 0) {
            rc = -1;
            continue;
        }
        if (v < 0) {
            ydoc_problem(d, pairs[i].value, "a budget must be 0 or more tokens");
            rc = -1;
            continue;
        }
        r->budgets[idx] = v;
    }
    free(pairs);
    return rc;
}

/* Checks what needs the whole rule: type, limits, default within them. */
static int check_rule(ydoc *d, yaml_node_t *node, param_rule *r, const char *pname,
                      param_id id)
{
    int rc = 0;
    if (r->type != param_defs[id].type) {
        ydoc_problem(d, node, "parameter '%s' has type %s, not %s", pname,
                     param_type_name(param_defs[id].type), param_type_name(r->type));
        return -1;
    }
    int numeric = r->type == LLMSVC_PARAM_FLOAT || r->type == LLMSVC_PARAM_INT;
    if ((r->has_min || r->has_max) && !numeric) {
        ydoc_problem(d, node, "parameter '%s' is not a number: min and max do not apply", pname);
        rc = -1;
    }
    if (r->has_min && r->has_max && r->min > r->max) {
        ydoc_problem(d, node, "parameter '%s' has min %g above max %g", pname, r->min, r->max);
        rc = -1;
    }
    if (r->type == LLMSVC_PARAM_ENUM && !r->n_values) {
        ydoc_problem(d, node, "enum parameter '%s' needs values", pname);
        rc = -1;
    }
    if (r->n_values && r->type != LLMSVC_PARAM_ENUM) {
        ydoc_problem(d, node, "parameter '%s' is not an enum: values do not apply", pname);
        rc = -1;
    }
    if (r->budgets && id != P_REASONING_EFFORT) {
        ydoc_problem(d, node, "budgets apply to reasoning_effort only");
        rc = -1;
    }
    if (r->has_default && numeric) {
        if ((r->has_min && r->def_number < r->min) || (r->has_max && r->def_number > r->max)) {
            ydoc_problem(d, node, "default %g of '%s' is outside [%g, %g]", r->def_number, pname,
                         r->has_min ? r->min : -1e300, r->has_max ? r->max : 1e300);
            rc = -1;
        }
    }
    if (r->has_default && r->type == LLMSVC_PARAM_ENUM && r->def_string &&
        !in_list(r->values, r->n_values, r->def_string)) {
        ydoc_problem(d, node, "default '%s' of '%s' is not among its values", r->def_string,
                     pname);
        rc = -1;
    }
    return rc;
}

static int parse_rule(ydoc *d, yaml_node_t *key, yaml_node_t *node, model_spec *m)
{
    const char *pname = ydoc_str(key);
    int id = pname ? param_lookup(pname) : -1;
    if (id < 0) {
        const char *names[P_COUNT];
        for (int i = 0; i < P_COUNT; i++)
            names[i] = param_defs[i].name;
        unknown_key(d, key, "parameters", names, P_COUNT);
        return -1;
    }
    if (require_map(d, node, "a parameter rule") < 0)
        return -1;
    param_rule *r = &m->params[id];
    r->present = 1;
    m->param_mask |= 1u << id;
    ypair *pairs;
    size_t n;
    if (ydoc_pairs(d, node, &pairs, &n) < 0)
        return -1;
    int rc = 0;
    yaml_node_t *type_node = NULL, *default_node = NULL, *budgets_node = NULL;
    for (size_t i = 0; i < n; i++) {
        ypair *p = &pairs[i];
        if (key_is(p, "type")) {
            type_node = p->value;
        } else if (key_is(p, "default")) {
            default_node = p->value;
        } else if (key_is(p, "budgets")) {
            budgets_node = p->value;
        } else if (key_is(p, "min")) {
            rc |= ydoc_get_double(d, p->value, "min", &r->min);
            r->has_min = 1;
        } else if (key_is(p, "max")) {
            rc |= ydoc_get_double(d, p->value, "max", &r->max);
            r->has_max = 1;
        } else if (key_is(p, "values")) {
            rc |= ydoc_get_strings(d, p->value, "values", &r->values, &r->n_values);
        } else if (key_is(p, "wire")) {
            rc |= ydoc_get_string(d, p->value, "wire", &r->wire);
        } else if (key_is(p, "only_with")) {
            rc |= parse_only_with(d, p->value, r, pname);
        } else {
            unknown_key(d, p->key, "a parameter rule", rule_keys,
                        sizeof rule_keys / sizeof *rule_keys);
            rc = -1;
        }
    }
    if (!type_node) {
        ydoc_problem(d, node, "parameter '%s' needs a type (%s)", pname,
                     param_type_name(param_defs[id].type));
        rc = -1;
    } else {
        const char *t = ydoc_str(type_node);
        r->type = t ? param_type_parse(t) : 0;
        if (!r->type) {
            ydoc_problem(d, type_node,
                         "type must be float, int, enum, string, bool or string_list, not '%s'",
                         t ? t : "?");
            rc = -1;
        }
    }
    if (!rc && default_node)
        rc |= parse_default(d, default_node, r, pname);
    if (!rc && budgets_node)
        rc |= parse_budgets(d, budgets_node, r);
    if (!rc)
        rc |= check_rule(d, node, r, pname, (param_id)id);
    free(pairs);
    return rc ? -1 : 0;
}

/* only_with must name parameters the model takes, with values they can have. */
static int check_conditions(ydoc *d, model_spec *m)
{
    int rc = 0;
    for (int i = 0; i < P_COUNT; i++) {
        param_rule *r = &m->params[i];
        for (size_t c = 0; c < r->n_only_with; c++) {
            param_cond *cond = &r->only_with[c];
            param_rule *other = &m->params[cond->param];
            if (!other->present) {
                problems_add(d->probs, d->file, cond->line, cond->col,
                             "'%s' is only_with '%s', which model '%s' does not take",
                             param_defs[i].name, param_defs[cond->param].name, m->name);
                rc = -1;
                continue;
            }
            for (size_t v = 0; other->n_values && v < cond->n_values; v++) {
                if (!in_list(other->values, other->n_values, cond->values[v])) {
                    problems_add(d->probs, d->file, cond->line, cond->col,
                                 "'%s' is only_with %s '%s', not among its values",
                                 param_defs[i].name, param_defs[cond->param].name,
                                 cond->values[v]);
                    rc = -1;
                }
            }
        }
    }
    return rc;
}

static int parse_parameters(ydoc *d, yaml_node_t *node, model_spec *m)
{
    ypair *pairs;
    size_t n;
    if (map_pairs(d, node, "parameters", &pairs, &n) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc |= parse_rule(d, pairs[i].key, pairs[i].value, m);
    free(pairs);
    if (!rc)
        rc = check_conditions(d, m);
    return rc ? -1 : 0;
}

/* ---- pricing, lifecycle, capabilities ---- */

static int parse_price(ydoc *d, yaml_node_t *node, const char *what, double *out)
{
    if (ydoc_get_double(d, node, what, out) < 0)
        return -1;
    if (*out < 0 || *out > 10000) {
        ydoc_problem(d, node, "%s %g is not a plausible price in USD per 1M tokens", what, *out);
        return -1;
    }
    if (*out > 0 && *out < 0.001) {
        ydoc_problem(d, node,
                     "%s %g looks like a price per token; prices are USD per 1M tokens "
                     "(did you mean %g?)",
                     what, *out, *out * 1e6);
        return -1;
    }
    return 0;
}

static int parse_pricing(ydoc *d, yaml_node_t *node, model_spec *m)
{
    static const char *const keys[] = {"input_per_mtok", "cached_input_per_mtok",
                                       "cache_write_per_mtok", "output_per_mtok"};
    ypair *pairs;
    size_t n;
    if (map_pairs(d, node, "pricing", &pairs, &n) < 0)
        return -1;
    double *slots[] = {&m->price.input, &m->price.cached_input, &m->price.cache_write,
                       &m->price.output};
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < 4 && !key_is(&pairs[i], keys[k]))
            k++;
        if (k == 4) {
            unknown_key(d, pairs[i].key, "pricing", keys, 4);
            rc = -1;
            continue;
        }
        rc |= parse_price(d, pairs[i].value, keys[k], slots[k]);
    }
    if (!rc && (m->price.input < 0) != (m->price.output < 0)) {
        ydoc_problem(d, node, "pricing needs both input_per_mtok and output_per_mtok");
        rc = -1;
    }
    free(pairs);
    return rc ? -1 : 0;
}

static int parse_lifecycle(ydoc *d, yaml_node_t *node, model_spec *m)
{
    static const char *const keys[] = {"deprecated", "shutdown", "replacement"};
    ypair *pairs;
    size_t n;
    if (map_pairs(d, node, "lifecycle", &pairs, &n) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        ypair *p = &pairs[i];
        if (key_is(p, "deprecated"))
            rc |= ydoc_get_date(d, p->value, "deprecated", m->deprecated);
        else if (key_is(p, "shutdown"))
            rc |= ydoc_get_date(d, p->value, "shutdown", m->shutdown);
        else if (key_is(p, "replacement"))
            rc |= ydoc_get_string(d, p->value, "replacement", &m->replacement);
        else {
            unknown_key(d, p->key, "lifecycle", keys, 3);
            rc = -1;
        }
    }
    if (!rc && m->deprecated[0] && m->shutdown[0] && strcmp(m->deprecated, m->shutdown) > 0) {
        ydoc_problem(d, node, "deprecated %s is after shutdown %s", m->deprecated, m->shutdown);
        rc = -1;
    }
    free(pairs);
    return rc ? -1 : 0;
}

static int parse_caps(ydoc *d, yaml_node_t *node, model_spec *m)
{
    char **v;
    size_t n;
    if (ydoc_get_strings(d, node, "capabilities", &v, &n) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bit = spec_cap_parse(v[i]);
        if (!bit) {
            ydoc_problem(d, ydoc_seq_len(node) ? ydoc_seq_item(d, node, i) : node,
                         "unknown capability '%s' (streaming, vision, tools, file_search, "
                         "structured_output, reasoning)",
                         v[i]);
            rc = -1;
        }
        m->caps |= bit;
    }
    spec_strv_free(v, n);
    return rc;
}

/* ---- models ---- */

static const char *const model_keys[] = {
    "name",         "aliases",    "description", "context_window", "max_output_tokens",
    "capabilities", "parameters", "pricing",     "lifecycle"};

static char *where_of(ydoc *d, const yaml_node_t *node)
{
    buf b = BUF_INIT;
    buf_printf(&b, "%s:%u:%u", d->file, (unsigned)node->start_mark.line + 1,
               (unsigned)node->start_mark.column + 1);
    return buf_steal(&b);
}

static model_spec *parse_model(ydoc *d, yaml_node_t *node)
{
    if (require_map(d, node, "a model") < 0)
        return NULL;
    model_spec *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->price = (pricing){-1, -1, -1, -1};
    m->where = where_of(d, node);
    ypair *pairs;
    size_t n;
    if (ydoc_pairs(d, node, &pairs, &n) < 0) {
        model_spec_free(m);
        return NULL;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        ypair *p = &pairs[i];
        if (key_is(p, "name")) {
            rc |= ydoc_get_string(d, p->value, "name", &m->name);
            if (m->name && !valid_name(m->name, 1)) {
                ydoc_problem(d, p->value, "model name '%s' has characters a model id cannot have",
                             m->name);
                rc = -1;
            }
        } else if (key_is(p, "aliases")) {
            rc |= ydoc_get_strings(d, p->value, "aliases", &m->aliases, &m->n_aliases);
        } else if (key_is(p, "description")) {
            rc |= ydoc_get_string(d, p->value, "description", &m->description);
        } else if (key_is(p, "context_window")) {
            rc |= ydoc_get_long(d, p->value, "context_window", &m->context_window);
        } else if (key_is(p, "max_output_tokens")) {
            rc |= ydoc_get_long(d, p->value, "max_output_tokens", &m->max_output_tokens);
        } else if (key_is(p, "capabilities")) {
            rc |= parse_caps(d, p->value, m);
        } else if (key_is(p, "parameters")) {
            rc |= parse_parameters(d, p->value, m);
        } else if (key_is(p, "pricing")) {
            rc |= parse_pricing(d, p->value, m);
        } else if (key_is(p, "lifecycle")) {
            rc |= parse_lifecycle(d, p->value, m);
        } else {
            unknown_key(d, p->key, "a model", model_keys, sizeof model_keys / sizeof *model_keys);
            rc = -1;
        }
    }
    free(pairs);
    if (!m->name && !rc) {
        ydoc_problem(d, node, "a model needs a name");
        rc = -1;
    }
    if (rc) {
        model_spec_free(m);
        return NULL;
    }
    return m;
}

static int parse_models(ydoc *d, yaml_node_t *node, provider_spec *p)
{
    if (!node || node->type != YAML_SEQUENCE_NODE || !ydoc_seq_len(node)) {
        ydoc_problem(d, node, "models must be a non-empty list");
        return -1;
    }
    size_t n = ydoc_seq_len(node);
    p->models = calloc(n, sizeof *p->models);
    if (!p->models)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = ydoc_seq_item(d, node, i);
        model_spec *m = parse_model(d, item);
        if (!m) {
            rc = -1;
            continue;
        }
        /* names and aliases are unique within a file */
        for (size_t j = 0; j < p->n_models; j++) {
            model_spec *o = p->models[j];
            const char *clash = NULL;
            if (strcmp(o->name, m->name) == 0 || in_list(o->aliases, o->n_aliases, m->name))
                clash = m->name;
            for (size_t a = 0; !clash && a < m->n_aliases; a++) {
                if (strcmp(o->name, m->aliases[a]) == 0 ||
                    in_list(o->aliases, o->n_aliases, m->aliases[a]))
                    clash = m->aliases[a];
            }
            if (clash) {
                ydoc_problem(d, item, "'%s' is already a name or alias of model '%s' (%s)", clash,
                             o->name, o->where);
                rc = -1;
            }
        }
        p->models[p->n_models++] = m;
    }
    return rc;
}

/* ---- headers and options ---- */

static int parse_headers(ydoc *d, yaml_node_t *node, provider_spec *p)
{
    static const char *const keys[] = {"value", "env", "secret"};
    ypair *pairs;
    size_t n;
    if (map_pairs(d, node, "headers", &pairs, &n) < 0)
        return -1;
    p->headers = calloc(n ? n : 1, sizeof *p->headers);
    if (!p->headers) {
        free(pairs);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        spec_header *h = &p->headers[p->n_headers++];
        if (ydoc_get_string(d, pairs[i].key, "a header name", &h->name) < 0) {
            rc = -1;
            continue;
        }
        if (strpbrk(h->name, ": \t\r\n")) {
            ydoc_problem(d, pairs[i].key, "header name '%s' is not a valid HTTP header name",
                         h->name);
            rc = -1;
        }
        yaml_node_t *v = pairs[i].value;
        if (v && v->type == YAML_SCALAR_NODE) {
            rc |= ydoc_get_string(d, v, "a header value", &h->value);
            continue;
        }
        if (require_map(d, v, "a header (a string, or {value: ..} or {env: VAR})") < 0) {
            rc = -1;
            continue;
        }
        ypair *hp;
        size_t hn;
        if (ydoc_pairs(d, v, &hp, &hn) < 0) {
            rc = -1;
            continue;
        }
        for (size_t j = 0; j < hn; j++) {
            if (key_is(&hp[j], "value"))
                rc |= ydoc_get_string(d, hp[j].value, "value", &h->value);
            else if (key_is(&hp[j], "env"))
                rc |= ydoc_get_string(d, hp[j].value, "env", &h->env);
            else if (key_is(&hp[j], "secret"))
                rc |= ydoc_get_bool(d, hp[j].value, "secret", &h->secret);
            else {
                unknown_key(d, hp[j].key, "a header", keys, 3);
                rc = -1;
            }
        }
        if (!h->value == !h->env) {
            ydoc_problem(d, v, "header '%s' needs exactly one of value and env", h->name);
            rc = -1;
        }
        if (h->value && strpbrk(h->value, "\r\n")) {
            ydoc_problem(d, v, "header '%s' has a line break in its value", h->name);
            rc = -1;
        }
        free(hp);
    }
    free(pairs);
    return rc ? -1 : 0;
}

static int parse_options(ydoc *d, yaml_node_t *node, provider_spec *p)
{
    ypair *pairs;
    size_t n;
    if (map_pairs(d, node, "options", &pairs, &n) < 0)
        return -1;
    p->options = calloc(n ? n : 1, sizeof *p->options);
    if (!p->options) {
        free(pairs);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *k = NULL, *v = NULL;
        rc |= ydoc_get_string(d, pairs[i].key, "an option name", &k);
        rc |= ydoc_get_string(d, pairs[i].value, "an option value", &v);
        p->options[p->n_options].name = k;
        p->options[p->n_options].value = v;
        p->n_options++;
    }
    free(pairs);
    return rc ? -1 : 0;
}

/* ---- the file ---- */

static const char *const top_keys[] = {"provider",    "api",     "base_url", "base_url_env",
                                       "api_key_env", "headers", "options",  "models"};

static provider_spec *parse_root(ydoc *d, yaml_node_t *root)
{
    if (!root) {
        ydoc_problem(d, NULL, "the file is empty");
        return NULL;
    }
    if (require_map(d, root, "a spec file") < 0)
        return NULL;
    provider_spec *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->where = where_of(d, root);
    ypair *pairs;
    size_t n;
    if (ydoc_pairs(d, root, &pairs, &n) < 0) {
        provider_spec_free(p);
        return NULL;
    }
    int rc = 0;
    int has_models = 0;
    for (size_t i = 0; i < n; i++) {
        ypair *kv = &pairs[i];
        const char *k = ydoc_str(kv->key);
        if (k && strncmp(k, "x-", 2) == 0)
            continue;
        if (key_is(kv, "provider")) {
            rc |= ydoc_get_string(d, kv->value, "provider", &p->name);
            if (p->name && !valid_name(p->name, 0)) {
                ydoc_problem(d, kv->value, "provider '%s' must be lowercase [a-z0-9._-]", p->name);
                rc = -1;
            }
        } else if (key_is(kv, "api")) {
            rc |= ydoc_get_string(d, kv->value, "api", &p->api);
        } else if (key_is(kv, "base_url")) {
            rc |= ydoc_get_string(d, kv->value, "base_url", &p->base_url);
        } else if (key_is(kv, "base_url_env")) {
            rc |= ydoc_get_string(d, kv->value, "base_url_env", &p->base_url_env);
        } else if (key_is(kv, "api_key_env")) {
            rc |= ydoc_get_string(d, kv->value, "api_key_env", &p->api_key_env);
        } else if (key_is(kv, "headers")) {
            rc |= parse_headers(d, kv->value, p);
        } else if (key_is(kv, "options")) {
            rc |= parse_options(d, kv->value, p);
        } else if (key_is(kv, "models")) {
            has_models = 1;
            rc |= parse_models(d, kv->value, p);
        } else {
            unknown_key(d, kv->key, "a spec file", top_keys, sizeof top_keys / sizeof *top_keys);
            rc = -1;
        }
    }
    free(pairs);
    if (!p->name) {
        ydoc_problem(d, root, "a spec file needs 'provider'");
        rc = -1;
    }
    if (!p->api) {
        ydoc_problem(d, root, "a spec file needs 'api' (the protocol, e.g. openai-responses)");
        rc = -1;
    }
    if (!has_models) {
        ydoc_problem(d, root, "a spec file needs 'models'");
        rc = -1;
    }
    if (p->base_url) {
        size_t len = strlen(p->base_url);
        while (len > 1 && p->base_url[len - 1] == '/')
            p->base_url[--len] = '\0';
        if (!http_base_url_ok(p->base_url)) {
            ydoc_problem(d, root,
                         "base_url '%s' must start with http:// or https:// and have no query, "
                         "fragment or credentials",
                         p->base_url);
            rc = -1;
        }
    }
    if (rc) {
        provider_spec_free(p);
        return NULL;
    }
    return p;
}

provider_spec *spec_parse_doc(ydoc *d)
{
    size_t before = d->probs->count;
    provider_spec *p = parse_root(d, ydoc_root(d));
    if (p && d->probs->count != before) {
        provider_spec_free(p);
        p = NULL;
    }
    if (!p && d->probs->count == before)
        problems_add(d->probs, d->file, 0, 0, "out of memory");
    return p;
}

provider_spec *spec_parse(const char *file, const char *data, size_t len, problems *probs)
{
    if (len > MAX_SPEC_BYTES) {
        problems_add(probs, file, 0, 0, "larger than %u bytes; not a spec file", MAX_SPEC_BYTES);
        return NULL;
    }
    ydoc d;
    if (ydoc_load(&d, file, data, len, probs) < 0)
        return NULL;
    provider_spec *p = spec_parse_doc(&d);
    ydoc_free(&d);
    return p;
}
