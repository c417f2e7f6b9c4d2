/* jv — the JSON values of a request body (plugin.h's llmsvc_jv, host->jv_*),
 * built in the request's own arena and written as text by the transport.
 *
 * A value costs no allocation of its own: values and the strings they copy
 * are carved from the arena's chunks, whose first is the thread's spare
 * (spare.h), so a call reuses the memory of the one before it on its thread.
 * Nothing is freed one value at a time: jv_arena_clear drops them all. A value
 * goes into one container, once. Constructors give NULL when memory runs out;
 * jv_put, jv_push, jv_set_path and jv_merge then return LLMSVC_E_NOMEM, so a
 * builder checks once at its end. */
#ifndef LLMSVC_JV_H
#define LLMSVC_JV_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "llmsvc/plugin.h"

struct json_object;

typedef struct jv_chunk jv_chunk;

typedef struct jv_arena {
    char *at, *end;  /* free room of the current chunk */
    char *first;     /* the first chunk (a spare), or NULL */
    size_t first_cap;
    jv_chunk *more;  /* the later chunks, newest first */
} jv_arena;

void jv_arena_init(jv_arena *a);
/* Drops every value; the first chunk goes back to the thread's spare. */
void jv_arena_clear(jv_arena *a);

llmsvc_jv *jv_object(jv_arena *a);
/* An object that can hold values but never be put into one (a body: so that
 * no loop of values can be written). */
llmsvc_jv *jv_root(jv_arena *a);
llmsvc_jv *jv_array(jv_arena *a);
llmsvc_jv *jv_string(jv_arena *a, const char *s, size_t len); /* copied; NULL s: "" */
llmsvc_jv *jv_int(jv_arena *a, int64_t v);
llmsvc_jv *jv_double(jv_arena *a, double v); /* the shortest text that reads back as v */
llmsvc_jv *jv_bool(jv_arena *a, int v);
llmsvc_jv *jv_null(jv_arena *a);
llmsvc_jv *jv_raw(jv_arena *a, const char *json, size_t len); /* JSON text, copied, written as is */
/* A parameter's value: FLOAT a double, INT an integer, BOOL, STRING_LIST an
 * array of strings, the others a string. */
llmsvc_jv *jv_param(jv_arena *a, const llmsvc_param *p);

/* obj[key] = v, replacing a member of that key where it stood. INVALID_ARG
 * when obj is not an object or v is already in a container. */
llmsvc_code jv_put(llmsvc_jv *obj, const char *key, llmsvc_jv *v);
llmsvc_code jv_push(llmsvc_jv *arr, llmsvc_jv *v);
/* obj.a.b.c = v for "a.b.c", making (or replacing by) objects on the way. */
llmsvc_code jv_set_path(llmsvc_jv *obj, const char *path, llmsvc_jv *v);
/* Deep-merges a json-c object's members into obj: objects merge, anything
 * else replaces (as host->json_merge does for json-c trees). */
llmsvc_code jv_merge(llmsvc_jv *obj, const struct json_object *src);

/* v as compact JSON text appended to out (json_write's string escaping); 0,
 * or -1 when memory runs out. */
int jv_write(buf *out, const llmsvc_jv *v);

#endif
