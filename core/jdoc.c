#include "jdoc_tok.h"

#include <stdlib.h>
#include <string.h>

#include "spare.h"

/* ---- navigation ---- */

static int valid(const llmsvc_jdoc *d, int node)
{
    return d && node >= 0 && node < d->n;
}

int jdoc_type(const llmsvc_jdoc *d, int node)
{
    if (!valid(d, node))
        return 0;
    const jtok *t = &d->tok[node];
    switch (t->type) {
    case J_OBJECT:
        return LLMSVC_JSON_OBJECT;
    case J_ARRAY:
        return LLMSVC_JSON_ARRAY;
    case J_STRING:
        return LLMSVC_JSON_STRING;
    default: {
        char c = d->text[t->start];
        return c == 't' || c == 'f' ? LLMSVC_JSON_BOOL
               : c == 'n'           ? LLMSVC_JSON_NULL
                                    : LLMSVC_JSON_NUMBER;
    }
    }
}

size_t jdoc_count(const llmsvc_jdoc *d, int node)
{
    if (!valid(d, node) || (d->tok[node].type != J_OBJECT && d->tok[node].type != J_ARRAY))
        return 0;
    return (size_t)d->tok[node].size;
}

int jdoc_first(const llmsvc_jdoc *d, int node)
{
    if (!valid(d, node))
        return -1;
    const jtok *t = &d->tok[node];
    if (t->type == J_ARRAY)
        return t->size > 0 ? node + 1 : -1;
    if (t->type == J_OBJECT)
        return t->size > 0 && node + 2 < d->n ? node + 2 : -1; /* the first key's value */
    return -1;
}

int jdoc_next(const llmsvc_jdoc *d, int node)
{
    if (!valid(d, node))
        return -1;
    int par = d->tok[node].parent;
    if (par < 0)
        return -1;
    if (d->tok[par].type == J_ARRAY) {
        /* a string's or primitive's next is not stored: it is node + 1 */
        const jtok *t = &d->tok[node];
        int next = t->type == J_OBJECT || t->type == J_ARRAY ? t->next : node + 1;
        return next < d->tok[par].next ? next : -1;
    }
    /* an object member's value: its parent is the key, the key's parent the object */
    int obj = d->tok[par].parent;
    if (obj < 0)
        return -1;
    int next_key = d->tok[par].next;
    return next_key + 1 < d->tok[obj].next ? next_key + 1 : -1;
}

/* Compares a key with escapes, unescaped, with a segment of a path (rare:
 * called, to keep jdoc_get's loop light). */
COLD int esc_key_equals(llmsvc_jdoc *d, int key, const char *seg, size_t seglen)
{
    size_t ulen;
    const char *u = jdoc_str(d, key, &ulen);
    return u && ulen == seglen && memcmp(u, seg, seglen) == 0;
}

/* Whether a[0..n) equals b[0..n), without a call: the short keys of
 * responses take a few loads a side (the last overlapping), reading no byte
 * past either. */
HOT int same(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8), memcpy(&y, b + i, 8);
            if (x != y)
                return 0;
        }
        memcpy(&x, a + n - 8, 8), memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    uint32_t u, v, u2, v2;
    if (n >= 4) {
        memcpy(&u, a, 4), memcpy(&v, b, 4), memcpy(&u2, a + n - 4, 4), memcpy(&v2, b + n - 4, 4);
        return u == v && u2 == v2;
    }
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

/* jdoc_get's walk, made twice: esc when some key of the document has escapes
 * (such a key's size is -1; it is compared unescaped), else without a look
 * at them on a miss. */
HOT int get_path(llmsvc_jdoc *d, int node, const char *path, int esc)
{
    const char *seg = path;
    while (*seg) {
        const char *dot = strchrnul(seg, '.');
        size_t seglen = (size_t)(dot - seg);
        const jtok *obj = &d->tok[node];
        if (obj->type != J_OBJECT)
            return -1;
        /* the keys, up to the object's end (each followed by its value) */
        for (int k = node + 1;; k = d->tok[k].next) {
            if (k >= obj->next)
                return -1;
            const jtok *t = &d->tok[k];
            /* a key's size is its length: the usual miss */
            if ((size_t)t->size == seglen
                    ? same(d->text + t->start, seg, seglen)
                    : esc && t->size < 0 && esc_key_equals(d, k, seg, seglen)) {
                if (!*dot)
                    return k + 1; /* the last segment's value */
                node = k + 1;
                break;
            }
        }
        seg = dot + 1;
    }
    return node;
}

int jdoc_get(llmsvc_jdoc *d, int node, const char *path)
{
    if (!valid(d, node) || !path)
        return -1;
    return d->esc_keys ? get_path(d, node, path, 1) : get_path(d, node, path, 0);
}

/* ---- values ---- */

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescapes s[0..n) into o (at most n bytes are written); -1 on a bad escape. */
static long unescape(const char *s, size_t n, char *o)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') { /* a plain run, up to the next backslash, at once */
            const char *bs = memchr(s + i, '\\', n - i);
            size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
            memcpy(o + w, s + i, run);
            w += run;
            i += run - 1;
            continue;
        }
        if (++i >= n)
            return -1;
        switch (s[i]) {
        case '"':
        case '\\':
        case '/':
            o[w++] = s[i];
            break;
        case 'b':
            o[w++] = '\b';
            break;
        case 'f':
            o[w++] = '\f';
            break;
        case 'n':
            o[w++] = '\n';
            break;
        case 'r':
            o[w++] = '\r';
            break;
        case 't':
            o[w++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (i + 4 >= n || hex4(s + i + 1, &cp) < 0)
                return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* a surrogate pair: \uD83D\uDE00 (12 source bytes, 4 out) */
                if (i + 6 >= n || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                    hex4(s + i + 3, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            w += put_utf8(o + w, cp); /* 6 source bytes make at most 3 */
            break;
        }
        default:
            return -1;
        }
    }
    return (long)w;
}

const char *jdoc_str(llmsvc_jdoc *d, int node, size_t *len)
{
    if (!valid(d, node) || d->tok[node].type != J_STRING)
        return NULL;
    jtok *t = &d->tok[node];
    if (t->str == -2)
        return NULL; /* known bad escape */
    if (t->str < 0) {
        /* the first string read makes the arena: each string's text is
         * shorter than its source with quotes, so len + 1 holds them all */
        if (!d->arena && !(d->arena = spare_take(SPARE_ARENA, d->len + 1, &d->arena_cap)))
            return NULL;
        char *o = d->arena + d->arena_used;
        size_t n = (size_t)(t->end - t->start);
        long w;
        if (!t->esc) {
            memcpy(o, d->text + t->start, n);
            w = (long)n;
        } else if ((w = unescape(d->text + t->start, n, o)) < 0) {
            t->str = -2;
            return NULL;
        }
        o[w] = '\0';
        t->str = (int32_t)d->arena_used;
        d->arena_used += (size_t)w + 1;
    }
    const char *s = d->arena + t->str;
    if (len) /* a plain string is its source; only an escaped one needs counting */
        *len = t->esc ? strlen(s) : (size_t)(t->end - t->start);
    return s;
}

/* The primitive's text, copied NUL-terminated into buf; NULL if not a number. */
static const char *number_text(const llmsvc_jdoc *d, int node, char *buf, size_t n)
{
    if (jdoc_type(d, node) != LLMSVC_JSON_NUMBER)
        return NULL;
    const jtok *t = &d->tok[node];
    size_t l = (size_t)(t->end - t->start);
    if (l >= n)
        return NULL;
    memcpy(buf, d->text + t->start, l);
    buf[l] = '\0';
    return buf;
}

int64_t jdoc_int(const llmsvc_jdoc *d, int node, int64_t def)
{
    if (valid(d, node) && d->tok[node].type == J_PRIMITIVE) {
        /* the usual case, a plain integer of up to 18 digits, read in place */
        const jtok *t = &d->tok[node];
        const char *p = d->text + t->start, *e = d->text + t->end;
        int neg = *p == '-';
        p += neg;
        if (e - p >= 1 && e - p <= 18) {
            int64_t v = 0;
            const char *q = p;
            while (q < e && *q >= '0' && *q <= '9')
                v = v * 10 + (*q++ - '0');
            if (q == e)
                return neg ? -v : v;
        }
    }
    char buf[64];
    const char *s = number_text(d, node, buf, sizeof buf);
    if (!s)
        return def;
    if (!strpbrk(s, ".eE"))
        return strtoll(s, NULL, 10);
    double v = strtod(s, NULL);
    return v >= -9.2e18 && v <= 9.2e18 ? (int64_t)v : def;
}

double jdoc_num(const llmsvc_jdoc *d, int node, double def)
{
    char buf[64];
    const char *s = number_text(d, node, buf, sizeof buf);
    return s ? strtod(s, NULL) : def;
}

int jdoc_bool(const llmsvc_jdoc *d, int node, int def)
{
    if (jdoc_type(d, node) != LLMSVC_JSON_BOOL)
        return def;
    return d->text[d->tok[node].start] == 't';
}

const char *jdoc_key(llmsvc_jdoc *d, int value_node)
{
    if (!valid(d, value_node))
        return NULL;
    int key = d->tok[value_node].parent;
    if (key < 0 || d->tok[key].type != J_STRING)
        return NULL;
    return jdoc_str(d, key, NULL);
}

const char *jdoc_raw(const llmsvc_jdoc *d, int node, size_t *len)
{
    if (!valid(d, node))
        return NULL;
    const jtok *t = &d->tok[node];
    /* a string token excludes its quotes; raw text includes them */
    int start = t->type == J_STRING ? t->start - 1 : t->start;
    int end = t->type == J_STRING ? t->end + 1 : t->end;
    if (len)
        *len = (size_t)(end - start);
    return d->text + start;
}

const char *jdoc_get_str(llmsvc_jdoc *d, int node, const char *path)
{
    return jdoc_str(d, jdoc_get(d, node, path), NULL);
}

int64_t jdoc_get_int(llmsvc_jdoc *d, int node, const char *path, int64_t def)
{
    return jdoc_int(d, jdoc_get(d, node, path), def);
}
