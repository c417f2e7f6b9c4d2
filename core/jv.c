#include "jv.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "json_write.h"
#include "spare.h"

#define FIRST_CHUNK 4096
#define MAX_DEPTH 1000 /* merged or written deeper than this: refused */

enum { JV_OBJECT = 1, JV_ARRAY, JV_STRING, JV_INT, JV_DOUBLE, JV_BOOL, JV_NULL, JV_RAW };

struct llmsvc_jv {
    jv_arena *arena;     /* where set_path and merge make values */
    struct llmsvc_jv *next; /* the next member or item */
    const char *key;     /* a member's key (its length in key_len) */
    uint32_t key_len;
    uint8_t kind;
    uint8_t in_container;
    union {
        struct {
            const char *s; /* STRING, RAW */
            size_t len;
        } text;
        int64_t i;   /* INT, BOOL */
        double d;    /* DOUBLE */
        struct {
            struct llmsvc_jv *first, *last; /* OBJECT, ARRAY */
        } kids;
    } u;
};

struct jv_chunk {
    jv_chunk *next;
};

/* ---- the arena ---- */

void jv_arena_init(jv_arena *a)
{
    memset(a, 0, sizeof *a);
}

void jv_arena_clear(jv_arena *a)
{
    while (a->more) {
        jv_chunk *next = a->more->next;
        free(a->more);
        a->more = next;
    }
    spare_give(SPARE_JV, a->first, a->first_cap);
    jv_arena_init(a);
}

/* n bytes, 8-aligned, from a new chunk: the first from the thread's spare,
 * later ones twice as large as the one before (at least n). */
static void *grow(jv_arena *a, size_t n)
{
    if (!a->first) {
        size_t cap;
        char *p = spare_take(SPARE_JV, n > FIRST_CHUNK ? n : FIRST_CHUNK, &cap);
        if (!p)
            return NULL;
        a->first = p;
        a->first_cap = cap;
        a->at = p + n;
        a->end = p + cap;
        return p;
    }
    size_t last = (size_t)(a->end - (a->more ? (char *)(a->more + 1) : a->first));
    size_t cap = last * 2 > n ? last * 2 : n;
    if (cap > SIZE_MAX - sizeof(jv_chunk))
        return NULL;
    jv_chunk *c = malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->next = a->more;
    a->more = c;
    char *p = (char *)(c + 1);
    a->at = p + n;
    a->end = p + cap;
    return p;
}

static void *take(jv_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if ((size_t)(a->end - a->at) >= n) {
        void *p = a->at;
        a->at += n;
        return p;
    }
    return n ? grow(a, n) : NULL;
}

static const char *copy(jv_arena *a, const char *s, size_t len)
{
    if (!len)
        return "";
    char *p = take(a, len);
    if (p)
        memcpy(p, s, len);
    return p;
}

/* ---- values ---- */

static llmsvc_jv *value(jv_arena *a, int kind)
{
    llmsvc_jv *v = take(a, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->arena = a;
        v->kind = (uint8_t)kind;
    }
    return v;
}

llmsvc_jv *jv_object(jv_arena *a)
{
    return value(a, JV_OBJECT);
}

llmsvc_jv *jv_root(jv_arena *a)
{
    llmsvc_jv *v = value(a, JV_OBJECT);
    if (v)
        v->in_container = 1; /* never put anywhere: no loop can reach the body */
    return v;
}

llmsvc_jv *jv_array(jv_arena *a)
{
    return value(a, JV_ARRAY);
}

static llmsvc_jv *text_value(jv_arena *a, int kind, const char *s, size_t len)
{
    llmsvc_jv *v = value(a, kind);
    if (!v)
        return NULL;
    if (!(v->u.text.s = copy(a, s ? s : "", s ? len : 0)))
        return NULL;
    v->u.text.len = s ? len : 0;
    return v;
}

llmsvc_jv *jv_string(jv_arena *a, const char *s, size_t len)
{
    return text_value(a, JV_STRING, s, len);
}

llmsvc_jv *jv_raw(jv_arena *a, const char *json, size_t len)
{
    return json && len ? text_value(a, JV_RAW, json, len) : jv_null(a);
}

llmsvc_jv *jv_int(jv_arena *a, int64_t i)
{
    llmsvc_jv *v = value(a, JV_INT);
    if (v)
        v->u.i = i;
    return v;
}

llmsvc_jv *jv_double(jv_arena *a, double d)
{
    llmsvc_jv *v = value(a, JV_DOUBLE);
    if (v)
        v->u.d = d;
    return v;
}

llmsvc_jv *jv_bool(jv_arena *a, int b)
{
    llmsvc_jv *v = value(a, JV_BOOL);
    if (v)
        v->u.i = b != 0;
    return v;
}

llmsvc_jv *jv_null(jv_arena *a)
{
    return value(a, JV_NULL);
}

llmsvc_jv *jv_param(jv_arena *a, const llmsvc_param *p)
{
    if (!p)
        return NULL;
    switch (p->type) {
    case LLMSVC_PARAM_FLOAT:
        return jv_double(a, p->number);
    case LLMSVC_PARAM_INT:
        return jv_int(a, (int64_t)p->number);
    case LLMSVC_PARAM_BOOL:
        return jv_bool(a, p->number != 0);
    case LLMSVC_PARAM_STRING_LIST: {
        llmsvc_jv *arr = jv_array(a);
        for (size_t i = 0; arr && i < p->list_len; i++) {
            const char *s = p->list[i] ? p->list[i] : "";
            if (jv_push(arr, jv_string(a, s, strlen(s))) != LLMSVC_OK)
                return NULL;
        }
        return arr;
    }
    default: {
        const char *s = p->string ? p->string : "";
        return jv_string(a, s, strlen(s));
    }
    }
}

/* ---- containers ---- */

static llmsvc_code check_add(const llmsvc_jv *c, int kind, const llmsvc_jv *v)
{
    if (!c || !v)
        return LLMSVC_E_NOMEM;
    if (c->kind != kind || v->in_container || v == c)
        return LLMSVC_E_INVALID_ARG;
    return LLMSVC_OK;
}

static void append(llmsvc_jv *c, llmsvc_jv *v)
{
    v->in_container = 1;
    if (c->u.kids.last)
        c->u.kids.last->next = v;
    else
        c->u.kids.first = v;
    c->u.kids.last = v;
}

static llmsvc_jv *member(const llmsvc_jv *obj, const char *key, size_t len)
{
    for (llmsvc_jv *m = obj->u.kids.first; m; m = m->next)
        if (m->key_len == len && memcmp(m->key, key, len) == 0)
            return m;
    return NULL;
}

/* obj[key[0..len)] = v; the key is copied. */
static llmsvc_code put_n(llmsvc_jv *obj, const char *key, size_t len, llmsvc_jv *v)
{
    llmsvc_code rc = check_add(obj, JV_OBJECT, v);
    if (rc != LLMSVC_OK)
        return rc;
    if (len > UINT32_MAX)
        return LLMSVC_E_INVALID_ARG;
    if (!(v->key = copy(obj->arena, key, len)))
        return LLMSVC_E_NOMEM;
    v->key_len = (uint32_t)len;
    llmsvc_jv *old = member(obj, key, len);
    if (!old) {
        append(obj, v);
        return LLMSVC_OK;
    }
    /* in old's place: the value takes over old's link */
    v->in_container = 1;
    v->next = old->next;
    llmsvc_jv **link = &obj->u.kids.first;
    while (*link != old)
        link = &(*link)->next;
    *link = v;
    if (obj->u.kids.last == old)
        obj->u.kids.last = v;
    return LLMSVC_OK;
}

llmsvc_code jv_put(llmsvc_jv *obj, const char *key, llmsvc_jv *v)
{
    return key ? put_n(obj, key, strlen(key), v) : LLMSVC_E_INVALID_ARG;
}

llmsvc_code jv_push(llmsvc_jv *arr, llmsvc_jv *v)
{
    llmsvc_code rc = check_add(arr, JV_ARRAY, v);
    if (rc == LLMSVC_OK)
        append(arr, v);
    return rc;
}

llmsvc_code jv_set_path(llmsvc_jv *obj, const char *path, llmsvc_jv *v)
{
    llmsvc_code rc = check_add(obj, JV_OBJECT, v);
    if (rc != LLMSVC_OK)
        return rc;
    if (!path || !*path)
        return LLMSVC_E_INVALID_ARG;
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (!len)
            return LLMSVC_E_INVALID_ARG;
        if (!dot)
            return put_n(obj, path, len, v);
        llmsvc_jv *next = member(obj, path, len);
        if (!next || next->kind != JV_OBJECT) {
            next = jv_object(obj->arena);
            if ((rc = put_n(obj, path, len, next)) != LLMSVC_OK)
                return rc;
        }
        obj = next;
        path = dot + 1;
    }
}

/* A json-c value as a jv value (read, never printed: json-c would keep the
 * text in the caller's object, which other threads may be reading). */
static llmsvc_jv *from_json_c(jv_arena *a, const json_object *o, int depth)
{
    json_object *m = (json_object *)o;
    if (depth > MAX_DEPTH)
        return NULL;
    switch (json_object_get_type(m)) {
    case json_type_null:
        return jv_null(a);
    case json_type_boolean:
        return jv_bool(a, json_object_get_boolean(m));
    case json_type_string:
        return jv_string(a, json_object_get_string(m), (size_t)json_object_get_string_len(m));
    case json_type_array: {
        llmsvc_jv *arr = jv_array(a);
        size_t n = json_object_array_length(m);
        for (size_t i = 0; arr && i < n; i++)
            if (jv_push(arr, from_json_c(a, json_object_array_get_idx(m, i), depth + 1)) !=
                LLMSVC_OK)
                return NULL;
        return arr;
    }
    case json_type_object: {
        llmsvc_jv *obj = jv_object(a);
        json_object_object_foreach(m, k, v)
        {
            if (!obj || jv_put(obj, k, from_json_c(a, v, depth + 1)) != LLMSVC_OK)
                return NULL;
        }
        return obj;
    }
    case json_type_double:
        return jv_double(a, json_object_get_double(m));
    default: { /* an integer; one above INT64_MAX is read as unsigned */
        int64_t i = json_object_get_int64(m);
        if (i < INT64_MAX)
            return jv_int(a, i);
        char num[24];
        int n = snprintf(num, sizeof num, "%" PRIu64, json_object_get_uint64(m));
        return jv_raw(a, num, (size_t)n);
    }
    }
}

static llmsvc_code merge(llmsvc_jv *obj, const json_object *src, int depth)
{
    if (depth > MAX_DEPTH)
        return LLMSVC_E_INVALID_ARG;
    json_object_object_foreach((json_object *)src, k, v)
    {
        llmsvc_jv *cur = member(obj, k, strlen(k));
        llmsvc_code rc;
        if (cur && cur->kind == JV_OBJECT && json_object_is_type(v, json_type_object))
            rc = merge(cur, v, depth + 1);
        else
            rc = jv_put(obj, k, from_json_c(obj->arena, v, depth + 1));
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

llmsvc_code jv_merge(llmsvc_jv *obj, const json_object *src)
{
    if (!obj || obj->kind != JV_OBJECT || !json_object_is_type(src, json_type_object))
        return LLMSVC_E_INVALID_ARG;
    return merge(obj, src, 0);
}

/* ---- writing ---- */

/* The shortest of %.15g, %.16g, %.17g that reads back as d, with ".0" added
 * to an integral value (so that it reads back as a double); null for NaN
 * and the infinities, which JSON has no text for. */
static int write_double(buf *out, double d)
{
    if (!isfinite(d))
        return buf_append(out, "null", 4);
    char num[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(num, sizeof num - 2, "%.*g", prec, d);
        if (strtod(num, NULL) == d)
            break;
    }
    if (!strpbrk(num, ".e"))
        memcpy(num + n, ".0", 3), n += 2;
    return buf_append(out, num, (size_t)n);
}

static int write_value(buf *out, const llmsvc_jv *v, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    switch (v->kind) {
    case JV_OBJECT:
    case JV_ARRAY: {
        int obj = v->kind == JV_OBJECT;
        if (buf_putc(out, obj ? '{' : '[') < 0)
            return -1;
        for (const llmsvc_jv *m = v->u.kids.first; m; m = m->next) {
            if (m != v->u.kids.first && buf_putc(out, ',') < 0)
                return -1;
            if (obj && (json_write_string(out, m->key, m->key_len) < 0 || buf_putc(out, ':') < 0))
                return -1;
            if (write_value(out, m, depth + 1) < 0)
                return -1;
        }
        return buf_putc(out, obj ? '}' : ']');
    }
    case JV_STRING:
        return json_write_string(out, v->u.text.s, v->u.text.len);
    case JV_RAW:
        return buf_append(out, v->u.text.s, v->u.text.len);
    case JV_INT: {
        char num[24];
        int n = snprintf(num, sizeof num, "%" PRId64, v->u.i);
        return buf_append(out, num, (size_t)n);
    }
    case JV_DOUBLE:
        return write_double(out, v->u.d);
    case JV_BOOL:
        return v->u.i ? buf_append(out, "true", 4) : buf_append(out, "false", 5);
    default:
        return buf_append(out, "null", 4);
    }
}

int jv_write(buf *out, const llmsvc_jv *v)
{
    return v ? write_value(out, v, 0) : buf_append(out, "null", 4);
}
