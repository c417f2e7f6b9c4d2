#include "ydoc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MERGE_DEPTH 8

int ydoc_load(ydoc *d, const char *file, const char *data, size_t len, problems *probs)
{
    memset(d, 0, sizeof *d);
    d->file = file;
    d->probs = probs;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        problems_add(probs, file, 0, 0, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &d->doc)) {
        const char *what = parser.problem ? parser.problem : "malformed YAML";
        yaml_mark_t m = parser.problem ? parser.problem_mark : parser.context_mark;
        if (parser.context)
            problems_add(probs, file, (unsigned)m.line + 1, (unsigned)m.column + 1, "%s %s",
                         what, parser.context);
        else
            problems_add(probs, file, (unsigned)m.line + 1, (unsigned)m.column + 1, "%s", what);
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_parser_delete(&parser);
    d->loaded = 1;
    return 0;
}

void ydoc_free(ydoc *d)
{
    if (d->loaded)
        yaml_document_delete(&d->doc);
    d->loaded = 0;
}

yaml_node_t *ydoc_root(ydoc *d)
{
    return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

void ydoc_problem(ydoc *d, const yaml_node_t *node, const char *fmt, ...)
{
    buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    unsigned line = node ? (unsigned)node->start_mark.line + 1 : 0;
    unsigned col = node ? (unsigned)node->start_mark.column + 1 : 0;
    problems_add(d->probs, d->file, line, col, "%s", buf_cstr(&b));
    buf_free(&b);
}

const char *ydoc_str(const yaml_node_t *node)
{
    if (!node || node->type != YAML_SCALAR_NODE)
        return NULL;
    return (const char *)node->data.scalar.value;
}

int ydoc_is_plain(const yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE &&
           node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int is_merge_key(const yaml_node_t *key)
{
    const char *s = ydoc_str(key);
    return s && ydoc_is_plain(key) && strcmp(s, "<<") == 0;
}

static int has_key(const ypair *pairs, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = ydoc_str(pairs[i].key);
        if (s && strcmp(s, k) == 0)
            return 1;
    }
    return 0;
}

static int push(ypair **v, size_t *n, size_t *cap, ypair p)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        ypair *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = p;
    return 0;
}

static int collect(ydoc *d, yaml_node_t *map, ypair **v, size_t *n, size_t *cap, int depth);

static int merge_from(ydoc *d, yaml_node_t *src, ypair **v, size_t *n, size_t *cap, int depth)
{
    if (!src || src->type != YAML_MAPPING_NODE) {
        ydoc_problem(d, src, "a merge key '<<' takes a mapping or a list of mappings");
        return -1;
    }
    ypair *sub = NULL;
    size_t sn = 0, scap = 0;
    if (collect(d, src, &sub, &sn, &scap, depth + 1) < 0) {
        free(sub);
        return -1;
    }
    for (size_t i = 0; i < sn; i++) {
        const char *k = ydoc_str(sub[i].key);
        if (k && has_key(*v, *n, k))
            continue;
        if (push(v, n, cap, sub[i]) < 0) {
            free(sub);
            return -1;
        }
    }
    free(sub);
    return 0;
}

static int collect(ydoc *d, yaml_node_t *map, ypair **v, size_t *n, size_t *cap, int depth)
{
    if (depth > MERGE_DEPTH) {
        ydoc_problem(d, map, "merge keys nest more than %d deep", MERGE_DEPTH);
        return -1;
    }
    yaml_node_pair_t *p;
    /* explicit keys first */
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(&d->doc, p->value);
        if (is_merge_key(k))
            continue;
        const char *ks = ydoc_str(k);
        if (ks && has_key(*v, *n, ks)) {
            /* duplicate keys are a YAML error libyaml lets through */
            ydoc_problem(d, k, "duplicate key '%s'", ks);
            return -1;
        }
        if (push(v, n, cap, (ypair){k, val}) < 0)
            return -1;
    }
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(&d->doc, p->value);
        if (!is_merge_key(k))
            continue;
        if (val && val->type == YAML_SEQUENCE_NODE) {
            for (size_t i = 0; i < ydoc_seq_len(val); i++) {
                if (merge_from(d, ydoc_seq_item(d, val, i), v, n, cap, depth) < 0)
                    return -1;
            }
        } else if (merge_from(d, val, v, n, cap, depth) < 0) {
            return -1;
        }
    }
    return 0;
}

int ydoc_pairs(ydoc *d, yaml_node_t *map, ypair **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    if (collect(d, map, out, n, &cap, 0) < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

size_t ydoc_seq_len(const yaml_node_t *seq)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *ydoc_seq_item(ydoc *d, const yaml_node_t *seq, size_t i)
{
    if (i >= ydoc_seq_len(seq))
        return NULL;
    return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[i]);
}

static const char *kind(const yaml_node_t *node)
{
    if (!node)
        return "nothing";
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a scalar";
    }
}

int ydoc_get_string(ydoc *d, yaml_node_t *node, const char *what, char **out)
{
    const char *s = ydoc_str(node);
    if (!s) {
        ydoc_problem(d, node, "%s must be a string, not %s", what, kind(node));
        return -1;
    }
    if (!*s && ydoc_is_plain(node)) {
        ydoc_problem(d, node, "%s is empty", what);
        return -1;
    }
    char *p = strdup(s);
    if (!p) {
        ydoc_problem(d, node, "out of memory");
        return -1;
    }
    free(*out);
    *out = p;
    return 0;
}

int ydoc_get_double(ydoc *d, yaml_node_t *node, const char *what, double *out)
{
    const char *s = ydoc_str(node);
    if (!s || !*s) {
        ydoc_problem(d, node, "%s must be a number, not %s", what, kind(node));
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v)) {
        ydoc_problem(d, node, "%s must be a number, not '%s'", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

int ydoc_get_long(ydoc *d, yaml_node_t *node, const char *what, long *out)
{
    const char *s = ydoc_str(node);
    if (!s || !*s) {
        ydoc_problem(d, node, "%s must be a whole number, not %s", what, kind(node));
        return -1;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno) {
        ydoc_problem(d, node, "%s must be a whole number, not '%s'", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

int ydoc_get_bool(ydoc *d, yaml_node_t *node, const char *what, int *out)
{
    const char *s = ydoc_str(node);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))) {
        *out = 1;
        return 0;
    }
    if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))) {
        *out = 0;
        return 0;
    }
    ydoc_problem(d, node, "%s must be true or false", what);
    return -1;
}

int ydoc_get_date(ydoc *d, yaml_node_t *node, const char *what, char out[11])
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s = ydoc_str(node);
    int y, m, dd;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &dd, &tail) != 3 ||
        s[4] != '-' || s[7] != '-' || m < 1 || m > 12 || dd < 1 || dd > mdays[m - 1] ||
        (m == 2 && dd == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))) {
        ydoc_problem(d, node, "%s must be a date YYYY-MM-DD%s%s%s", what, s ? ", not '" : "",
                     s ? s : "", s ? "'" : "");
        return -1;
    }
    memcpy(out, s, 11);
    return 0;
}

int ydoc_get_strings(ydoc *d, yaml_node_t *node, const char *what, char ***out, size_t *n)
{
    size_t count = node && node->type == YAML_SEQUENCE_NODE ? ydoc_seq_len(node) : 1;
    char **v = calloc(count + 1, sizeof *v);
    if (!v) {
        ydoc_problem(d, node, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = node && node->type == YAML_SEQUENCE_NODE ? ydoc_seq_item(d, node, i)
                                                                     : node;
        if (ydoc_get_string(d, item, what, &v[i]) < 0)
            rc = -1;
    }
    if (rc < 0) {
        for (size_t i = 0; i < count; i++)
            free(v[i]);
        free(v);
        return -1;
    }
    *out = v;
    *n = count;
    return 0;
}
