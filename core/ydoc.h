/* ydoc — a YAML document read whole with libyaml, with positions for messages
 * and YAML 1.1 merge keys (`<<`). Internal; used by the spec and route readers. */
#ifndef LLMSVC_YDOC_H
#define LLMSVC_YDOC_H

#include <yaml.h>

#include "problems.h"

typedef struct ydoc {
    yaml_document_t doc;
    int loaded;
    const char *file; /* borrowed; used in messages */
    problems *probs;  /* where problems go */
} ydoc;

typedef struct ypair {
    yaml_node_t *key;
    yaml_node_t *value;
} ypair;

/* Parses data (len bytes). 0 on success; else -1 with the syntax error added to
 * probs as file:line:col. An empty document loads with a NULL root. */
int ydoc_load(ydoc *d, const char *file, const char *data, size_t len, problems *probs);
void ydoc_free(ydoc *d);
yaml_node_t *ydoc_root(ydoc *d);

/* Adds "file:line:col: message" for node (its start). */
void ydoc_problem(ydoc *d, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The pairs of a mapping, merge keys expanded (explicit keys win, then merged
 * ones in order). *out is malloc'd (free it); NULL/0 for an empty map. -1 (and a
 * problem) when a merge value is not a mapping or nests too deep. */
int ydoc_pairs(ydoc *d, yaml_node_t *map, ypair **out, size_t *n);
/* Items of a sequence: node for index i, or NULL. */
size_t ydoc_seq_len(const yaml_node_t *seq);
yaml_node_t *ydoc_seq_item(ydoc *d, const yaml_node_t *seq, size_t i);

/* A scalar's text (NUL-terminated by libyaml), or NULL if not a scalar. */
const char *ydoc_str(const yaml_node_t *node);
int ydoc_is_plain(const yaml_node_t *node);

/* Typed reads: each adds a problem naming `what` and returns -1 on a bad value. */
int ydoc_get_string(ydoc *d, yaml_node_t *node, const char *what, char **out);
int ydoc_get_double(ydoc *d, yaml_node_t *node, const char *what, double *out);
int ydoc_get_long(ydoc *d, yaml_node_t *node, const char *what, long *out);
int ydoc_get_bool(ydoc *d, yaml_node_t *node, const char *what, int *out);
/* "YYYY-MM-DD", a real calendar date. */
int ydoc_get_date(ydoc *d, yaml_node_t *node, const char *what, char out[11]);
/* A scalar or a sequence of scalars, as a NULL-terminated string array. */
int ydoc_get_strings(ydoc *d, yaml_node_t *node, const char *what, char ***out, size_t *n);

#endif
