#include "jdoc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "error.h"

struct llmsvc_jdoc {
    const char *text; /* borrowed: the caller keeps it alive */
    size_t len;
    jsmntok_t *tok;
    int n;
    int *end;     /* index just past each token's subtree (one block with str_off) */
    int *str_off; /* arena offset of each string's unescaped text; -1 not yet */
    char *arena;
    size_t arena_used;
};

/* ---- parsing ---- */

static int is_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

static int valid_primitive(const char *s, size_t n)
{
    if ((n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) ||
        (n == 5 && !memcmp(s, "false", 5)))
        return 1;
    return is_number(s, n);
}

/* A token's source extent, a string's quotes included. */
static size_t tok_start(const jsmntok_t *t)
{
    return (size_t)t->start - (t->type == JSMN_STRING);
}

static size_t tok_end(const jsmntok_t *t)
{
    return (size_t)t->end + (t->type == JSMN_STRING);
}

/* Whether text[from, to) is white space holding exactly `commas` commas. */
static int gap_ok(const char *text, size_t from, size_t to, int commas)
{
    int n = 0;
    for (size_t i = from; i < to; i++) {
        char ch = text[i];
        if (ch == ',')
            n++;
        else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            return 0;
    }
    return n == commas;
}

static llmsvc_code fail(llmsvc_jdoc *d, llmsvc_error **err, const char *fmt, size_t at)
{
    jdoc_free(d);
    return err_set(err, LLMSVC_E_PROVIDER, fmt, at);
}

llmsvc_code jdoc_parse(const char *text, size_t len, llmsvc_jdoc **out, llmsvc_error **err)
{
    *out = NULL;
    if (len > (size_t)INT_MAX / 2)
        return err_set(err, LLMSVC_E_PROVIDER, "response body is larger than 1 GiB");
    llmsvc_jdoc *d = calloc(1, sizeof *d);
    if (!d)
        return err_give(err, err_nomem());
    d->text = text;
    d->len = len;
    unsigned cap = (unsigned)(len / 8) + 32;
    jsmn_parser p;
    jsmn_init(&p);
    int r;
    for (;;) {
        jsmntok_t *nt = realloc(d->tok, cap * sizeof *nt);
        if (!nt) {
            jdoc_free(d);
            return err_give(err, err_nomem());
        }
        d->tok = nt;
        r = jsmn_parse(&p, text, len, d->tok, cap);
        if (r != JSMN_ERROR_NOMEM)
            break;
        if (cap > (unsigned)INT_MAX / 4) {
            jdoc_free(d);
            return err_give(err, err_nomem());
        }
        cap *= 2;
    }
    if (r == JSMN_ERROR_PART)
        return fail(d, err, "response body is not complete JSON (it ends after %zu bytes)", len);
    if (r < 0)
        return fail(d, err, "response body is not valid JSON at byte %zu", p.pos);
    if (r == 0)
        return fail(d, err, "response body is empty (%zu bytes of white space)", len);
    d->n = r;
    if (d->tok[0].type != JSMN_OBJECT && d->tok[0].type != JSMN_ARRAY)
        return fail(d, err, "response body is not a JSON object or array (byte %zu)",
                    (size_t)d->tok[0].start);
    d->end = malloc(2 * (size_t)r * sizeof *d->end);
    if (!d->end) {
        jdoc_free(d);
        return err_give(err, err_nomem());
    }
    d->str_off = d->end + r;
    for (int i = 0; i < r; i++) {
        d->end[i] = i + 1;
        d->str_off[i] = -1;
        const jsmntok_t *t = &d->tok[i];
        if (i > 0 && t->parent < 0)
            return fail(d, err, "response body has extra data after its JSON value (byte %zu)",
                        (size_t)t->start);
        if (t->type == JSMN_PRIMITIVE &&
            !valid_primitive(text + t->start, (size_t)(t->end - t->start)))
            return fail(d, err, "response body is not valid JSON at byte %zu", (size_t)t->start);
    }
    /* jsmn lets some malformed objects through ({"a", "b": 1}, {"a": 1 "b": 2}):
     * every member must be a string key holding exactly one value */
    for (int i = 1; i < r; i++) {
        const jsmntok_t *t = &d->tok[i], *par = &d->tok[t->parent];
        int is_key = par->type == JSMN_OBJECT;
        if ((is_key && (t->type != JSMN_STRING || t->size != 1 || i + 1 >= r ||
                        d->tok[i + 1].parent != i)) ||
            (!is_key && t->type == JSMN_STRING && t->size != 0) ||
            (par->type == JSMN_STRING && par->size != 1))
            return fail(d, err, "response body is not valid JSON at byte %zu",
                        (size_t)t->start);
    }
    for (int i = r - 1; i > 0; i--) {
        int par = d->tok[i].parent;
        if (d->end[i] > d->end[par])
            d->end[par] = d->end[i];
    }
    /* jsmn also lets stray commas through ({"a": 1,}, [1,,2], {,}): between
     * the members of a container exactly one comma, around them none */
    for (int i = 0; i < r; i++) {
        const jsmntok_t *c = &d->tok[i];
        if (c->type != JSMN_OBJECT && c->type != JSMN_ARRAY)
            continue;
        size_t pos = (size_t)c->start + 1;
        int commas = 0;
        for (int k = i + 1; k < d->end[i]; k = d->end[k]) {
            size_t at = tok_start(&d->tok[k]);
            if (!gap_ok(text, pos, at, commas))
                return fail(d, err, "response body is not valid JSON at byte %zu", pos);
            /* an object's member ends with its value, an array's item with itself */
            pos = tok_end(&d->tok[c->type == JSMN_OBJECT ? k + 1 : k]);
            commas = 1;
        }
        if (!gap_ok(text, pos, (size_t)c->end - 1, 0))
            return fail(d, err, "response body is not valid JSON at byte %zu", pos);
    }
    *out = d;
    return LLMSVC_OK;
}

void jdoc_free(llmsvc_jdoc *d)
{
    if (!d)
        return;
    free(d->tok);
    free(d->end);
    free(d->arena);
    free(d);
}

/* ---- navigation ---- */

static int valid(const llmsvc_jdoc *d, int node)
{
    return d && node >= 0 && node < d->n;
}

int jdoc_type(const llmsvc_jdoc *d, int node)
{
    if (!valid(d, node))
        return 0;
    const jsmntok_t *t = &d->tok[node];
    switch (t->type) {
    case JSMN_OBJECT:
        return LLMSVC_JSON_OBJECT;
    case JSMN_ARRAY:
        return LLMSVC_JSON_ARRAY;
    case JSMN_STRING:
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
    if (!valid(d, node) || (d->tok[node].type != JSMN_OBJECT && d->tok[node].type != JSMN_ARRAY))
        return 0;
    return (size_t)d->tok[node].size;
}

int jdoc_first(const llmsvc_jdoc *d, int node)
{
    if (!valid(d, node) || d->tok[node].size <= 0)
        return -1;
    if (d->tok[node].type == JSMN_ARRAY)
        return node + 1;
    if (d->tok[node].type == JSMN_OBJECT)
        return node + 2 < d->n ? node + 2 : -1; /* the first key's value */
    return -1;
}

int jdoc_next(const llmsvc_jdoc *d, int node)
{
    if (!valid(d, node))
        return -1;
    int par = d->tok[node].parent;
    if (par < 0)
        return -1;
    if (d->tok[par].type == JSMN_ARRAY) {
        int next = d->end[node];
        return next < d->end[par] ? next : -1;
    }
    /* an object member's value: its parent is the key, the key's parent the object */
    int obj = d->tok[par].parent;
    if (obj < 0)
        return -1;
    int next_key = d->end[par];
    return next_key + 1 < d->end[obj] ? next_key + 1 : -1;
}

/* Compares a key token with a segment of a path. */
static int key_equals(llmsvc_jdoc *d, int key, const char *seg, size_t seglen)
{
    const jsmntok_t *t = &d->tok[key];
    size_t klen = (size_t)(t->end - t->start);
    const char *k = d->text + t->start;
    if (!memchr(k, '\\', klen))
        return klen == seglen && memcmp(k, seg, seglen) == 0;
    size_t ulen;
    const char *u = jdoc_str(d, key, &ulen);
    return u && ulen == seglen && memcmp(u, seg, seglen) == 0;
}

int jdoc_get(llmsvc_jdoc *d, int node, const char *path)
{
    if (!valid(d, node) || !path)
        return -1;
    const char *seg = path;
    while (*seg) {
        if (d->tok[node].type != JSMN_OBJECT)
            return -1;
        const char *dot = strchr(seg, '.');
        size_t seglen = dot ? (size_t)(dot - seg) : strlen(seg);
        int found = -1;
        for (int k = node + 1; k < d->end[node] && k + 1 < d->n; k = d->end[k]) {
            if (key_equals(d, k, seg, seglen)) {
                found = k + 1;
                break;
            }
        }
        if (found < 0)
            return -1;
        node = found;
        if (!dot)
            break;
        seg = dot + 1;
    }
    return node;
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
        if (s[i] != '\\') {
            o[w++] = s[i];
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
    if (!valid(d, node) || d->tok[node].type != JSMN_STRING)
        return NULL;
    if (!d->arena && !(d->arena = malloc(d->len + (size_t)d->n + 1)))
        return NULL;
    if (d->str_off[node] == -2)
        return NULL; /* known bad escape */
    if (d->str_off[node] < 0) {
        const jsmntok_t *t = &d->tok[node];
        char *o = d->arena + d->arena_used;
        long w = unescape(d->text + t->start, (size_t)(t->end - t->start), o);
        if (w < 0) {
            d->str_off[node] = -2;
            return NULL;
        }
        o[w] = '\0';
        d->str_off[node] = (int)d->arena_used;
        d->arena_used += (size_t)w + 1;
    }
    const char *s = d->arena + d->str_off[node];
    if (len)
        *len = strlen(s);
    return s;
}

/* The primitive's text, copied NUL-terminated into buf; NULL if not a number. */
static const char *number_text(const llmsvc_jdoc *d, int node, char *buf, size_t n)
{
    if (jdoc_type(d, node) != LLMSVC_JSON_NUMBER)
        return NULL;
    const jsmntok_t *t = &d->tok[node];
    size_t l = (size_t)(t->end - t->start);
    if (l >= n)
        return NULL;
    memcpy(buf, d->text + t->start, l);
    buf[l] = '\0';
    return buf;
}

int64_t jdoc_int(const llmsvc_jdoc *d, int node, int64_t def)
{
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
    if (key < 0 || d->tok[key].type != JSMN_STRING)
        return NULL;
    return jdoc_str(d, key, NULL);
}

const char *jdoc_raw(const llmsvc_jdoc *d, int node, size_t *len)
{
    if (!valid(d, node))
        return NULL;
    const jsmntok_t *t = &d->tok[node];
    /* a string token excludes its quotes; raw text includes them */
    int start = t->type == JSMN_STRING ? t->start - 1 : t->start;
    int end = t->type == JSMN_STRING ? t->end + 1 : t->end;
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
