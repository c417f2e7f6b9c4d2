/* jdoc — a read-only JSON document for reading provider responses fast.
 *
 * The body is tokenized once by a strict reader of our own (no tree of
 * allocations, no hash tables): a document is the source text, one token
 * array and one string arena. Nodes are token indices; paths are dotted object keys. Strings are
 * unescaped on demand into the arena. It is what plugins get through the
 * host's jdoc_* functions (plugin.h), and several times faster than building
 * a json-c tree for a typical 1-2 KB response. */
#ifndef LLMSVC_JDOC_H
#define LLMSVC_JDOC_H

#include <stddef.h>
#include <stdint.h>

#include "llmsvc/plugin.h"

/* Parses len bytes of text, which must outlive the document. PROVIDER error
 * naming the byte offset when the text is not one JSON object or array. */
llmsvc_code jdoc_parse(const char *text, size_t len, llmsvc_jdoc **out, llmsvc_error **err);
void jdoc_free(llmsvc_jdoc *d);

/* LLMSVC_JSON_* of a node; 0 for an invalid node (-1). */
int jdoc_type(const llmsvc_jdoc *d, int node);
/* Members of an object or items of an array; 0 otherwise. */
size_t jdoc_count(const llmsvc_jdoc *d, int node);
/* The value at a dotted path below node ("usage.input_tokens"), or -1.
 * (Not const: a key with escapes is unescaped into the arena to compare.) */
int jdoc_get(llmsvc_jdoc *d, int node, const char *path);
/* Children: the first item of an array (the first value of an object, whose
 * key is jdoc_key), then the next sibling; -1 at the end. */
int jdoc_first(const llmsvc_jdoc *d, int node);
int jdoc_next(const llmsvc_jdoc *d, int node);
/* The key of an object member's value node, or NULL. */
const char *jdoc_key(llmsvc_jdoc *d, int value_node);
/* A string's unescaped text (NUL-terminated; owned by d), or NULL when the node
 * is not a string or its escapes are invalid. len may be NULL. */
const char *jdoc_str(llmsvc_jdoc *d, int node, size_t *len);
/* Numbers and booleans, or def when the node is not one. */
int64_t jdoc_int(const llmsvc_jdoc *d, int node, int64_t def);
double jdoc_num(const llmsvc_jdoc *d, int node, double def);
int jdoc_bool(const llmsvc_jdoc *d, int node, int def);
/* The node's exact source text (for state sent back byte for byte). */
const char *jdoc_raw(const llmsvc_jdoc *d, int node, size_t *len);
/* Path forms: jdoc_str / jdoc_int of jdoc_get(d, node, path). */
const char *jdoc_get_str(llmsvc_jdoc *d, int node, const char *path);
int64_t jdoc_get_int(llmsvc_jdoc *d, int node, const char *path, int64_t def);

#endif
