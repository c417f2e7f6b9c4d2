#include "jdoc.h"

#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "spare.h"

/* One token: an object, array, string (start/end exclude the quotes) or
 * primitive. size counts an object's keys, an array's items, and is 1 for a
 * key (its value is its child); next is the index just past the token's
 * subtree; str is the arena offset of a string's unescaped text (-1 not yet,
 * -2 a bad escape); esc is set when a string holds a backslash. */
enum { J_OBJECT = 1, J_ARRAY = 2, J_STRING = 3, J_PRIMITIVE = 4 };

typedef struct jtok {
    int32_t start, end;
    int32_t parent, next;
    int32_t size, str;
    uint8_t type, esc;
} jtok;

struct llmsvc_jdoc {
    const char *text; /* borrowed: the caller keeps it alive */
    size_t len;
    jtok *tok; /* inline_tok until the document outgrows it */
    int n, cap;
    char *arena; /* unescaped strings; taken at the first string read */
    size_t arena_used, arena_cap;
    size_t size; /* of this block (a spare, spare.h) */
    jtok inline_tok[]; /* allocated with the document: one malloc for most bodies */
};

#define MAX_DEPTH 512

#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

/* ---- parsing: a strict JSON reader that records tokens ----
 * One loop and an explicit stack (no recursion); white space and the plain
 * runs of strings are skipped 16 bytes at a time with SSE2 where the compiler
 * targets it, else 8 at a time (SWAR), since responses are indented and their
 * text long. About 10 instructions a token and one a byte on a typical body. */

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

/* s[0] exists (the caller is at a value's first byte). */
static inline int valid_primitive(const char *s, size_t n)
{
    switch (s[0]) {
    case 't':
        return n == 4 && s[1] == 'r' && s[2] == 'u' && s[3] == 'e';
    case 'f':
        return n == 5 && s[1] == 'a' && s[2] == 'l' && s[3] == 's' && s[4] == 'e';
    case 'n':
        return n == 4 && s[1] == 'u' && s[2] == 'l' && s[3] == 'l';
    default:
        return is_number(s, n);
    }
}

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

#if defined(__SSE2__)
#include <emmintrin.h>
#define JDOC_SSE2 1
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JDOC_SWAR 1
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* The high bit of each byte that is zero (is below n); the lowest set bit is
 * always exact (a false mark only ever follows a true one). */
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)
#define HAS_LESS(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)

static uint64_t load8(const unsigned char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}
#endif

/* The first byte at or after i that is not white space (len at the end). */
HOT size_t skip_ws(const unsigned char *s, size_t i, size_t len)
{
    if (i < len && s[i] > ' ')
        return i; /* the usual case: no white space at all */
    if (i + 1 < len && s[i] == ' ' && s[i + 1] > ' ')
        return i + 1; /* the next: one space, as after a colon */
#if JDOC_SSE2
    const __m128i sp = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'),
                  tab = _mm_set1_epi8('\t');
    while (i + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, nl)),
                                  _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)));
        unsigned other = ~(unsigned)_mm_movemask_epi8(ws) & 0xffffu;
        if (other)
            return i + (size_t)__builtin_ctz(other);
        i += 16;
    }
#elif JDOC_SWAR
    while (i + 8 <= len && load8(s + i) == ONES * ' ')
        i += 8;
#endif
    while (i < len && (cls[s[i]] & C_WS))
        i++;
    return i;
}

/* The first byte at or after i that ends a string's plain run: '"', '\\'
 * or a control character (len at the end). */
HOT size_t skip_plain(const unsigned char *s, size_t i, size_t len)
{
#if JDOC_SSE2
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
    while (i + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                    _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
        unsigned m = (unsigned)_mm_movemask_epi8(stop);
        if (m)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#elif JDOC_SWAR
    while (i + 8 <= len) {
        uint64_t w = load8(s + i);
        uint64_t m = HAS_ZERO(w ^ (ONES * '"')) | HAS_ZERO(w ^ (ONES * '\\')) | HAS_LESS(w, 0x20);
        if (m)
            return i + (size_t)(__builtin_ctzll(m) / 8);
        i += 8;
    }
#endif
    while (i < len && !(cls[s[i]] & C_STR))
        i++;
    return i;
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

typedef enum perr { P_OK, P_NOMEM, P_PART, P_BAD, P_DEEP } perr;

static int grow(llmsvc_jdoc *d)
{
    if (d->cap > INT_MAX / 4)
        return -1;
    int cap = d->cap * 2;
    jtok *nt;
    if (d->tok == d->inline_tok) {
        nt = malloc((size_t)cap * sizeof *nt);
        if (nt)
            memcpy(nt, d->tok, (size_t)d->n * sizeof *nt);
    } else {
        nt = realloc(d->tok, (size_t)cap * sizeof *nt);
    }
    if (!nt)
        return -1;
    d->tok = nt;
    d->cap = cap;
    return 0;
}

HOT int add_tok(llmsvc_jdoc *d, int type, size_t start, int parent)
{
    if (d->n == d->cap && grow(d) < 0)
        return -1;
    jtok *t = &d->tok[d->n];
    t->start = (int32_t)start;
    t->end = -1;
    t->parent = parent;
    t->next = d->n + 1;
    t->size = 0;
    t->str = -1;
    t->type = (uint8_t)type;
    t->esc = 0;
    return d->n++;
}

/* A string from the opening quote at *pos: its token, *pos past the closing quote. */
HOT perr read_string(llmsvc_jdoc *d, size_t *pos, int parent, int *out)
{
    const unsigned char *s = (const unsigned char *)d->text;
    size_t len = d->len, i = *pos + 1;
    int esc = 0;
    for (;;) {
        i = skip_plain(s, i, len);
        if (i >= len)
            return P_PART;
        if (s[i] == '"')
            break;
        if (s[i] != '\\') { /* a raw control character */
            *pos = i;
            return P_BAD;
        }
        if (i + 1 >= len)
            return P_PART;
        esc = 1;
        unsigned char e = s[i + 1];
        if (e == 'u') {
            if (i + 6 > len)
                return P_PART;
            for (size_t k = i + 2; k < i + 6; k++)
                if (!is_hex(s[k])) {
                    *pos = k;
                    return P_BAD;
                }
            i += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {
            i += 2;
        } else {
            *pos = i;
            return P_BAD;
        }
    }
    int t = add_tok(d, J_STRING, *pos + 1, parent);
    if (t < 0)
        return P_NOMEM;
    d->tok[t].end = (int32_t)i;
    d->tok[t].esc = (uint8_t)esc;
    *pos = i + 1;
    *out = t;
    return P_OK;
}

/* A member's key and its colon, from *pos (after '{' or ','). */
HOT perr read_key(llmsvc_jdoc *d, size_t *pos, int object, int *key)
{
    const unsigned char *s = (const unsigned char *)d->text;
    size_t i = skip_ws(s, *pos, d->len);
    if (i >= d->len)
        return P_PART;
    if (s[i] != '"') {
        *pos = i;
        return P_BAD;
    }
    *pos = i;
    perr r = read_string(d, pos, object, key);
    if (r != P_OK)
        return r;
    i = skip_ws(s, *pos, d->len);
    if (i >= d->len)
        return P_PART;
    if (s[i] != ':') {
        *pos = i;
        return P_BAD;
    }
    d->tok[*key].size = 1;
    *pos = i + 1;
    return P_OK;
}

/* The whole document: a value at each step, then the closing of every
 * container it completes. stack[] holds the open containers; a value's parent
 * is its key in an object, its array otherwise. */
static perr parse_all(llmsvc_jdoc *d, size_t *pos)
{
    const unsigned char *s = (const unsigned char *)d->text;
    size_t len = d->len, i = *pos;
    int stack[MAX_DEPTH];
    int depth = 0, parent = -1;
    perr r;
    for (;;) {
        /* a value */
        i = skip_ws(s, i, len);
        if (i >= len)
            goto part;
        unsigned char c = s[i];
        if (c == '{' || c == '[') {
            if (depth >= MAX_DEPTH) {
                *pos = i;
                return P_DEEP;
            }
            int t = add_tok(d, c == '{' ? J_OBJECT : J_ARRAY, i, parent);
            if (t < 0)
                return P_NOMEM;
            stack[depth++] = t;
            i = skip_ws(s, i + 1, len);
            if (i >= len)
                goto part;
            if (s[i] != (c == '{' ? '}' : ']')) {
                if (c == '{') {
                    *pos = i;
                    if ((r = read_key(d, pos, t, &parent)) != P_OK)
                        return r;
                    i = *pos;
                } else {
                    parent = t;
                }
                continue;
            }
            /* empty: closed below */
        } else if (c == '"') {
            int t;
            *pos = i;
            if ((r = read_string(d, pos, parent, &t)) != P_OK)
                return r;
            i = *pos;
        } else {
            size_t start = i;
            while (i < len && !(cls[s[i]] & C_DELIM))
                i++;
            if (!valid_primitive((const char *)s + start, i - start)) {
                if (i == len && start < len &&
                    (c == 't' || c == 'f' || c == 'n' || c == '-' || (c >= '0' && c <= '9')))
                    goto part; /* "tr", "12." ...: cut short */
                *pos = start;
                return P_BAD;
            }
            int t = add_tok(d, J_PRIMITIVE, start, parent);
            if (t < 0)
                return P_NOMEM;
            d->tok[t].end = (int32_t)i;
        }
        /* after a value: close what it completes, then the next value */
        for (;;) {
            if (depth == 0) {
                *pos = i;
                return P_OK;
            }
            int top = stack[depth - 1];
            jtok *ct = &d->tok[top];
            int object = ct->type == J_OBJECT;
            if (d->n - 1 != top) {
                /* a member or item was read (not an empty container's opening) */
                if (object)
                    d->tok[parent].next = d->n; /* the key's subtree ends here */
                ct->size++;
                i = skip_ws(s, i, len);
                if (i >= len)
                    goto part;
                if (s[i] == ',') {
                    *pos = i + 1;
                    if (object) {
                        if ((r = read_key(d, pos, top, &parent)) != P_OK)
                            return r;
                    } else {
                        parent = top;
                    }
                    i = *pos;
                    break;
                }
                if (s[i] != (object ? '}' : ']')) {
                    *pos = i;
                    return P_BAD;
                }
            }
            /* s[i] closes top */
            i++;
            ct->end = (int32_t)i;
            ct->next = d->n;
            depth--;
            parent = ct->parent;
        }
    }
part:
    *pos = len;
    return P_PART;
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
    /* room for the tokens of a typical indented body (one per ~10 bytes) */
    size_t want = (len < 64 * 1024 ? len / 8 : 8 * 1024) + 8, size;
    llmsvc_jdoc *d = spare_take(SPARE_JDOC, sizeof *d + want * sizeof(jtok), &size);
    if (!d)
        return err_give(err, err_nomem());
    size_t cap = (size - sizeof *d) / sizeof(jtok);
    *d = (llmsvc_jdoc){.text = text,
                       .len = len,
                       .tok = d->inline_tok,
                       .cap = cap < INT_MAX / 4 ? (int)cap : INT_MAX / 4,
                       .size = size};
    pthread_once(&cls_once, init_classes);
    const unsigned char *s = (const unsigned char *)text;
    size_t pos = skip_ws(s, 0, len);
    if (pos == len)
        return fail(d, err, "response body is empty (%zu bytes of white space)", len);
    if (s[pos] != '{' && s[pos] != '[')
        return fail(d, err, "response body is not a JSON object or array (byte %zu)", pos);
    switch (parse_all(d, &pos)) {
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
        return fail(d, err, "response body is not valid JSON at byte %zu", pos);
    }
    pos = skip_ws(s, pos, len);
    if (pos < len)
        return fail(d, err, "response body has extra data after its JSON value (byte %zu)", pos);
    *out = d;
    return LLMSVC_OK;
}

void jdoc_free(llmsvc_jdoc *d)
{
    if (!d)
        return;
    if (d->tok != d->inline_tok)
        free(d->tok);
    spare_give(SPARE_ARENA, d->arena, d->arena_cap);
    spare_give(SPARE_JDOC, d, d->size);
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
        int next = d->tok[node].next;
        return next < d->tok[par].next ? next : -1;
    }
    /* an object member's value: its parent is the key, the key's parent the object */
    int obj = d->tok[par].parent;
    if (obj < 0)
        return -1;
    int next_key = d->tok[par].next;
    return next_key + 1 < d->tok[obj].next ? next_key + 1 : -1;
}

/* Compares a key token with a segment of a path. */
static int key_equals(llmsvc_jdoc *d, int key, const char *seg, size_t seglen)
{
    const jtok *t = &d->tok[key];
    size_t klen = (size_t)(t->end - t->start);
    if (!t->esc)
        return klen == seglen && memcmp(d->text + t->start, seg, seglen) == 0;
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
        for (int k = node + 1; k < d->tok[node].next && k + 1 < d->n; k = d->tok[k].next) {
            const jtok *t = &d->tok[k];
            if (!t->esc && (size_t)(t->end - t->start) != seglen)
                continue; /* the usual miss: another length */
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
