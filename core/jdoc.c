#include "jdoc.h"

#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* One token: an object, array, string (start/end exclude the quotes) or
 * primitive; size counts an object's keys, an array's items, and is 1 for a
 * key (its value is its child). */
enum { J_OBJECT = 1, J_ARRAY = 2, J_STRING = 3, J_PRIMITIVE = 4 };

typedef struct jtok {
    int type;
    int start, end;
    int size;
    int parent;
} jtok;

struct llmsvc_jdoc {
    const char *text; /* borrowed: the caller keeps it alive */
    size_t len;
    jtok *tok;
    int n, cap;
    int *end;     /* index just past each token's subtree */
    int *str_off; /* arena offset of each string's unescaped text; -1 not yet
                     (allocated with the arena, at the first string read) */
    char *arena;
    size_t arena_used;
};

#define MAX_DEPTH 512

/* ---- parsing: a strict JSON reader that records tokens ---- */

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

typedef enum perr { P_OK, P_NOMEM, P_PART, P_BAD, P_DEEP } perr;

typedef struct parser {
    llmsvc_jdoc *d;
    const char *s;
    size_t len, pos;
} parser;

/* Character classes, by byte: white space; ends a primitive; ends the plain
 * run of a string (quote, backslash, control character). */
enum { C_WS = 1, C_DELIM = 2, C_STR = 4 };

static unsigned char cls[256];
static pthread_once_t cls_once = PTHREAD_ONCE_INIT;

static void init_classes(void)
{
    for (int c = 0; c < 0x20; c++)
        cls[c] |= C_STR | C_DELIM; /* a control character ends a primitive too */
    cls['"'] |= C_STR | C_DELIM;
    cls['\\'] |= C_STR;
    for (const char *w = " \t\r\n"; *w; w++)
        cls[(unsigned char)*w] |= C_WS | C_DELIM;
    for (const char *x = ",]}:[{"; *x; x++)
        cls[(unsigned char)*x] |= C_DELIM;
}

/* Eight bytes at a time (SWAR): responses are often indented, and strings
 * long; the byte loops then find the exact place. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)
#define HAS_LESS(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)

static uint64_t load8(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static void skip_ws(parser *p)
{
    while (p->pos + 8 <= p->len && load8(p->s + p->pos) == ONES * ' ')
        p->pos += 8;
    while (p->pos < p->len && (cls[(unsigned char)p->s[p->pos]] & C_WS))
        p->pos++;
}

/* Skips the plain bytes of a string from i: not '"', '\\' or a control character. */
static size_t skip_plain(const unsigned char *s, size_t i, size_t len)
{
    while (i + 8 <= len) {
        uint64_t w = load8((const char *)s + i);
        if (HAS_ZERO(w ^ (ONES * '"')) | HAS_ZERO(w ^ (ONES * '\\')) | HAS_LESS(w, 0x20))
            break;
        i += 8;
    }
    while (i < len && !(cls[s[i]] & C_STR))
        i++;
    return i;
}

static int add_tok(parser *p, int type, size_t start, int parent)
{
    llmsvc_jdoc *d = p->d;
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : (int)(p->len / 16) + 16;
        if (cap > INT_MAX / 4)
            return -1;
        jtok *nt = realloc(d->tok, (size_t)cap * sizeof *nt);
        if (!nt)
            return -1;
        d->tok = nt;
        int *ne = realloc(d->end, (size_t)cap * sizeof *ne);
        if (!ne)
            return -1;
        d->end = ne;
        d->cap = cap;
    }
    jtok *t = &d->tok[d->n];
    t->type = type;
    t->start = (int)start;
    t->end = -1;
    t->size = 0;
    t->parent = parent;
    d->end[d->n] = d->n + 1;
    return d->n++;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p->pos at the opening quote. */
static perr parse_string(parser *p, int parent, int *out)
{
    size_t i = p->pos + 1;
    const unsigned char *s = (const unsigned char *)p->s;
    for (;;) {
        i = skip_plain(s, i, p->len);
        if (i >= p->len)
            return P_PART;
        if (s[i] == '"')
            break;
        if (s[i] != '\\') { /* a raw control character */
            p->pos = i;
            return P_BAD;
        }
        if (i + 1 >= p->len)
            return P_PART;
        char e = (char)s[i + 1];
        if (e == 'u') {
            if (i + 6 > p->len)
                return P_PART;
            for (size_t k = i + 2; k < i + 6; k++)
                if (!is_hex((char)s[k])) {
                    p->pos = k;
                    return P_BAD;
                }
            i += 6;
        } else if (strchr("\"\\/bfnrt", e) && e) {
            i += 2;
        } else {
            p->pos = i;
            return P_BAD;
        }
    }
    int t = add_tok(p, J_STRING, p->pos + 1, parent);
    if (t < 0)
        return P_NOMEM;
    p->d->tok[t].end = (int)i;
    p->pos = i + 1;
    *out = t;
    return P_OK;
}

static perr parse_value(parser *p, int parent, int depth);

static perr parse_container(parser *p, int parent, int depth, int object)
{
    if (depth >= MAX_DEPTH)
        return P_DEEP;
    int c = add_tok(p, object ? J_OBJECT : J_ARRAY, p->pos, parent);
    if (c < 0)
        return P_NOMEM;
    p->pos++;
    skip_ws(p);
    char close = object ? '}' : ']';
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            perr r;
            if (object) {
                skip_ws(p);
                if (p->pos >= p->len)
                    return P_PART;
                if (p->s[p->pos] != '"')
                    return P_BAD;
                int key;
                if ((r = parse_string(p, c, &key)) != P_OK)
                    return r;
                skip_ws(p);
                if (p->pos >= p->len)
                    return P_PART;
                if (p->s[p->pos] != ':')
                    return P_BAD;
                p->pos++;
                p->d->tok[key].size = 1;
                if ((r = parse_value(p, key, depth + 1)) != P_OK)
                    return r;
                p->d->end[key] = p->d->n;
            } else if ((r = parse_value(p, c, depth + 1)) != P_OK) {
                return r;
            }
            p->d->tok[c].size++;
            skip_ws(p);
            if (p->pos >= p->len)
                return P_PART;
            char ch = p->s[p->pos++];
            if (ch == close)
                break;
            if (ch != ',') {
                p->pos--;
                return P_BAD;
            }
        }
    }
    p->d->tok[c].end = (int)p->pos;
    p->d->end[c] = p->d->n;
    return P_OK;
}

static perr parse_value(parser *p, int parent, int depth)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return P_PART;
    char c = p->s[p->pos];
    if (c == '{' || c == '[')
        return parse_container(p, parent, depth, c == '{');
    if (c == '"') {
        int t;
        return parse_string(p, parent, &t);
    }
    size_t start = p->pos;
    while (p->pos < p->len && !(cls[(unsigned char)p->s[p->pos]] & C_DELIM))
        p->pos++;
    if (p->pos == p->len && start < p->len && (c == 't' || c == 'f' || c == 'n' || c == '-' ||
                                               (c >= '0' && c <= '9')) &&
        !valid_primitive(p->s + start, p->pos - start))
        return P_PART; /* "tr", "12." ...: cut short */
    if (!valid_primitive(p->s + start, p->pos - start)) {
        p->pos = start;
        return P_BAD;
    }
    int t = add_tok(p, J_PRIMITIVE, start, parent);
    if (t < 0)
        return P_NOMEM;
    p->d->tok[t].end = (int)p->pos;
    return P_OK;
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
    pthread_once(&cls_once, init_classes);
    parser p = {d, text, len, 0};
    skip_ws(&p);
    if (p.pos == len)
        return fail(d, err, "response body is empty (%zu bytes of white space)", len);
    if (text[p.pos] != '{' && text[p.pos] != '[')
        return fail(d, err, "response body is not a JSON object or array (byte %zu)", p.pos);
    switch (parse_value(&p, -1, 0)) {
    case P_OK:
        break;
    case P_NOMEM:
        jdoc_free(d);
        return err_give(err, err_nomem());
    case P_PART:
        return fail(d, err, "response body is not complete JSON (it ends after %zu bytes)", len);
    case P_DEEP:
        return fail(d, err, "response body nests deeper than %zu levels", MAX_DEPTH);
    default:
        return fail(d, err, "response body is not valid JSON at byte %zu", p.pos);
    }
    skip_ws(&p);
    if (p.pos < len)
        return fail(d, err, "response body has extra data after its JSON value (byte %zu)",
                    p.pos);
    *out = d;
    return LLMSVC_OK;
}

void jdoc_free(llmsvc_jdoc *d)
{
    if (!d)
        return;
    free(d->tok);
    free(d->end);
    free(d->str_off);
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
    if (!valid(d, node) || d->tok[node].size <= 0)
        return -1;
    if (d->tok[node].type == J_ARRAY)
        return node + 1;
    if (d->tok[node].type == J_OBJECT)
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
    if (d->tok[par].type == J_ARRAY) {
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
    const jtok *t = &d->tok[key];
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
        if (d->tok[node].type != J_OBJECT)
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
    if (!valid(d, node) || d->tok[node].type != J_STRING)
        return NULL;
    if (!d->arena) { /* the first string read: where unescaped strings go */
        d->arena = malloc(d->len + (size_t)d->n + 1);
        d->str_off = malloc((size_t)d->n * sizeof *d->str_off);
        if (!d->arena || !d->str_off) {
            free(d->arena);
            free(d->str_off);
            d->arena = NULL;
            d->str_off = NULL;
            return NULL;
        }
        for (int i = 0; i < d->n; i++)
            d->str_off[i] = -1;
    }
    if (d->str_off[node] == -2)
        return NULL; /* known bad escape */
    if (d->str_off[node] < 0) {
        const jtok *t = &d->tok[node];
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
