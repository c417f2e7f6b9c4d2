#include "jdoc_tok.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "spare.h"

#define MAX_DEPTH 512

/* ---- parsing: a strict JSON reader that records tokens ----
 * One loop and an explicit stack (no recursion); white space and the plain
 * runs of strings are skipped 16 bytes at a time with SSE2 where the compiler
 * targets it, else 8 at a time (SWAR), since responses are indented and their
 * text long. About 95 instructions a token, white space included, on a typical
 * indented response. */

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

/* Character classes, by byte: white space; ends a primitive; ends the plain
 * run of a string (quote, backslash, control character). A constant table:
 * nothing to set up before the first parse. */
enum { C_WS = 1, C_DELIM = 2, C_STR = 4 };
#define CTL (C_STR | C_DELIM) /* a control character also ends a primitive */

static const unsigned char cls[256] = {
    [0] = CTL,  [1] = CTL,  [2] = CTL,  [3] = CTL,  [4] = CTL,  [5] = CTL,  [6] = CTL,
    [7] = CTL,  [8] = CTL,  [9] = CTL | C_WS,       [10] = CTL | C_WS,      [11] = CTL,
    [12] = CTL, [13] = CTL | C_WS,      [14] = CTL, [15] = CTL, [16] = CTL, [17] = CTL,
    [18] = CTL, [19] = CTL, [20] = CTL, [21] = CTL, [22] = CTL, [23] = CTL, [24] = CTL,
    [25] = CTL, [26] = CTL, [27] = CTL, [28] = CTL, [29] = CTL, [30] = CTL, [31] = CTL,
    [' '] = C_WS | C_DELIM, ['"'] = C_STR | C_DELIM, ['\\'] = C_STR, [','] = C_DELIM,
    [':'] = C_DELIM, ['['] = C_DELIM, [']'] = C_DELIM, ['{'] = C_DELIM, ['}'] = C_DELIM};

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

/* The first byte at or after i that is not white space, where s[i] is white
 * space or i the end: the usual run of a pretty-printed body, a new line and
 * spaces, is matched with two compares; any other takes skip_ws. */
HOT size_t skip_ws_run(const unsigned char *s, size_t i, size_t len)
{
#if JDOC_SSE2
    if (i + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i ws = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
        unsigned other = ~(unsigned)_mm_movemask_epi8(ws) & 0xffffu;
        if (other) {
            i += (size_t)__builtin_ctz(other);
            if (s[i] > ' ')
                return i;
        }
    }
#endif
    return skip_ws(s, i, len);
}

/* The byte at *i once white space is skipped (*i moved to it), or -1 at the
 * end. The first test is the usual case, inlined where a token may start. */
HOT int peek(const unsigned char *s, size_t *i, size_t len)
{
    size_t j = *i;
    if (j < len && s[j] > ' ')
        return s[j];
    *i = j = skip_ws_run(s, j, len);
    return j < len ? s[j] : -1;
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

/* A string from its first byte at *i (past the opening quote): *i at the
 * closing quote, *esc set when it holds an escape; on P_BAD *i is the
 * offending byte. */
HOT perr scan_string(const unsigned char *s, size_t len, size_t *i, int *esc)
{
    size_t j = *i;
    for (;;) {
        j = skip_plain(s, j, len);
        if (j >= len)
            return P_PART;
        if (s[j] == '"')
            break;
        if (s[j] != '\\') { /* a raw control character */
            *i = j;
            return P_BAD;
        }
        if (j + 1 >= len)
            return P_PART;
        *esc = 1;
        unsigned char e = s[j + 1];
        if (e == 'u') {
            if (j + 6 > len)
                return P_PART;
            for (size_t k = j + 2; k < j + 6; k++)
                if (!is_hex(s[k])) {
                    *i = k;
                    return P_BAD;
                }
            j += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {
            j += 2;
        } else {
            *i = j;
            return P_BAD;
        }
    }
    *i = j;
    return P_OK;
}

/* The end of the primitive at i when it is one of the usual kinds (true,
 * false, null or a plain integer) ending at a delimiter or the end, else i:
 * these are checked as they are read, the rest against the grammar. */
HOT size_t plain_primitive(const unsigned char *s, size_t i, size_t len)
{
    size_t j = i;
    switch (s[i]) {
    case 't':
        if (len - i >= 4 && memcmp(s + i, "true", 4) == 0)
            j = i + 4;
        break;
    case 'f':
        if (len - i >= 5 && memcmp(s + i, "false", 5) == 0)
            j = i + 5;
        break;
    case 'n':
        if (len - i >= 4 && memcmp(s + i, "null", 4) == 0)
            j = i + 4;
        break;
    default: {
        j += s[j] == '-';
        size_t digits = j;
        while (j < len && (unsigned)(s[j] - '0') < 10)
            j++;
        if (j == digits || (s[digits] == '0' && j > digits + 1))
            return i; /* no digits, or a leading zero: the grammar decides */
    }
    }
    return j == i || (j < len && !(cls[s[j]] & C_DELIM)) ? i : j;
}

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

/* Room for token n in *tok (the array grown when full); -1 when memory runs out. */
HOT int room(llmsvc_jdoc *d, jtok **tok, int n)
{
    if (n < d->cap)
        return 0;
    d->n = n;
    if (grow(d) < 0)
        return -1;
    *tok = d->tok;
    return 0;
}

/* Token n, its kind's first fields set (the rest are the caller's). */
HOT jtok *new_tok(jtok *tok, int n, int type, size_t start, int parent)
{
    jtok *t = &tok[n];
    t->start = (int32_t)start;
    t->parent = parent;
    t->type = type;
    return t;
}

/* The string whose opening quote is s[*i] as token n (its kind's fields set,
 * *out pointing at it); *i at its closing quote. */
HOT perr string_tok(llmsvc_jdoc *d, jtok **tok, int n, const unsigned char *s, size_t len,
                    size_t *i, int parent, jtok **out)
{
    size_t start = ++*i;
    int esc = 0;
    perr r = scan_string(s, len, i, &esc);
    if (r != P_OK)
        return r;
    if (room(d, tok, n) < 0)
        return P_NOMEM;
    jtok *t = new_tok(*tok, n, J_STRING, start, parent);
    t->end = (int32_t)*i;
    t->str = -1;
    t->esc = esc;
    *out = t;
    return P_OK;
}

/* The whole document, which starts with '{' or '[' (the caller checks): in
 * an object a key and its colon, then a value at each step, then the closing
 * of every container that value completes. stack[] holds the open
 * containers, top the innermost; a value's parent is its key in an object,
 * its array otherwise. The token array and count are kept in locals (stored
 * back in d at the end): stores to tokens could alias d and force reloads. */
static perr parse_all(llmsvc_jdoc *d, size_t *pos)
{
    const unsigned char *s = (const unsigned char *)d->text;
    const size_t len = d->len;
    size_t i = *pos;
    jtok *tok = d->tok;
    int stack[MAX_DEPTH];
    int n = d->n, depth = 0, parent = -1, top = -1, object = 0, c;
    perr r = P_OK;
    for (;;) {
        if (object) {
            /* a member's key and colon */
            if ((c = peek(s, &i, len)) < 0)
                goto part;
            if (c != '"') {
                r = P_BAD;
                goto out;
            }
            jtok *t;
            if ((r = string_tok(d, &tok, n, s, len, &i, top, &t)) != P_OK)
                goto out;
            t->size = t->esc ? -1 : t->end - t->start;
            if (t->esc)
                d->esc_keys = 1;
            parent = n++; /* its next is set once its value is read */
            /* the colon, as a rule right after the key and followed by one space */
            if (++i >= len || s[i] != ':') {
                if ((c = peek(s, &i, len)) < 0)
                    goto part;
                if (c != ':') {
                    r = P_BAD;
                    goto out;
                }
            }
            if (++i < len && s[i] == ' ')
                i++;
        }
        /* a value */
        if ((c = peek(s, &i, len)) < 0)
            goto part;
        if (c == '"') {
            jtok *t;
            if ((r = string_tok(d, &tok, n, s, len, &i, parent, &t)) != P_OK)
                goto out;
            n++;
            i++;
        } else if (c == '{' || c == '[') {
            if (depth >= MAX_DEPTH) {
                r = P_DEEP;
                goto out;
            }
            if (room(d, &tok, n) < 0)
                goto nomem;
            object = c == '{';
            /* end and next are set at its closing */
            new_tok(tok, n, object ? J_OBJECT : J_ARRAY, i, parent)->size = 0;
            stack[depth++] = top = n++;
            i++;
            if ((c = peek(s, &i, len)) < 0)
                goto part;
            if (c == (object ? '}' : ']'))
                goto close; /* empty */
            parent = top; /* an array's items (an object's key comes first) */
            continue;
        } else {
            size_t start = i;
            if ((i = plain_primitive(s, i, len)) == start) {
                while (i < len && !(cls[s[i]] & C_DELIM))
                    i++;
                /* literals never get here (plain_primitive takes the only
                 * valid spelling of each): this is a number with a fraction,
                 * an exponent or a bad leading zero */
                if (!is_number((const char *)s + start, i - start)) {
                    if (i == len &&
                        (c == 't' || c == 'f' || c == 'n' || c == '-' || (c >= '0' && c <= '9')))
                        goto part; /* "tr", "12." ...: cut short */
                    i = start;
                    r = P_BAD;
                    goto out;
                }
            }
            if (room(d, &tok, n) < 0)
                goto nomem;
            new_tok(tok, n++, J_PRIMITIVE, start, parent)->end = (int32_t)i;
        }
        /* after a member or item of top: the next one, or top's closing
         * (and then that of every container it completes) */
        for (;;) {
            /* a key's subtree ends here (an array's next is set at its end) */
            tok[parent].next = n;
            tok[top].size++;
            if (i < len && s[i] == ',') { /* the usual case: a comma right after */
                i++;
                parent = top;
                break;
            }
            if ((c = peek(s, &i, len)) < 0)
                goto part;
            if (c == ',') {
                i++;
                parent = top;
                break;
            }
            if (c != (object ? '}' : ']')) {
                r = P_BAD;
                goto out;
            }
        close: /* s[i] closes top */
            i++;
            tok[top].end = (int32_t)i;
            tok[top].next = n;
            parent = tok[top].parent;
            if (--depth == 0)
                goto out;
            top = stack[depth - 1];
            object = tok[top].type == J_OBJECT;
        }
    }
nomem:
    r = P_NOMEM;
    goto out;
part:
    i = len;
    r = P_PART;
out:
    d->n = n;
    *pos = i;
    return r;
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
