#include "json_write.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json_util.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define MAX_DEPTH 1000 /* deeper trees (never a request) are printed by json-c */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* Nonzero when a byte of x is zero (is below n). */
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)
#define HAS_LESS(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)

/* 1 for the bytes a JSON string cannot hold as they are. */
static const unsigned char must_escape[256] = {
    [0] = 1,  [1] = 1,  [2] = 1,  [3] = 1,  [4] = 1,  [5] = 1,  [6] = 1,  [7] = 1,
    [8] = 1,  [9] = 1,  [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1,
    [16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1,
    [24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1,
    ['"'] = 1, ['\\'] = 1};

/* Escapes as json-c does: '"', '\\', and control characters (\b \f \n \r \t
 * by name, the others as \u00XX); everything else, UTF-8 included, as is.
 * Written straight into the buffer, a chunk at a time (room for the worst
 * case of each chunk, six bytes a byte, and the quotes: one check for the
 * usual short string). */
int json_write_string(buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;
    do {
        size_t chunk = n - at < 4096 ? n - at : 4096;
        if (buf_reserve(out, 6 * chunk + 2) < 0)
            return -1;
        char *o = out->data + out->len;
        if (!at)
            *o++ = '"';
        size_t i = at, end = at + chunk;
        while (i + 8 <= end) { /* eight plain bytes at a time (SWAR) */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (HAS_ZERO(w ^ (ONES * '"')) | HAS_ZERO(w ^ (ONES * '\\')) | HAS_LESS(w, 0x20))
                break;
            memcpy(o, &w, 8);
            o += 8;
            i += 8;
        }
        for (; i < end; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!must_escape[c]) {
                *o++ = (char)c;
                continue;
            }
            *o++ = '\\';
            switch (c) {
            case '"':
            case '\\':
                *o++ = (char)c;
                break;
            case '\b':
                *o++ = 'b';
                break;
            case '\f':
                *o++ = 'f';
                break;
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            default:
                memcpy(o, "u00", 3);
                o[3] = hex[c >> 4];
                o[4] = hex[c & 15];
                o += 5;
            }
        }
        at = end;
        if (at == n)
            *o++ = '"';
        out->len = (size_t)(o - out->data);
        out->data[out->len] = '\0';
    } while (at < n);
    return 0;
}

/* json-c's own text for a node (its serializer, its number format). */
static int write_by_json_c(buf *out, json_object *o)
{
    size_t n;
    const char *s = json_object_to_json_string_length(o, FLAGS, &n);
    return s ? buf_append(out, s, n) : -1;
}

static int write_node(buf *out, json_object *o, int depth)
{
    if (!o)
        return buf_append(out, "null", 4);
    if (depth > MAX_DEPTH)
        return write_by_json_c(out, o);
    void *user = json_object_get_userdata(o);
    if (user == ju_raw_marker)
        return buf_append(out, json_object_get_string(o), (size_t)json_object_get_string_len(o));
    if (user)
        return write_by_json_c(out, o);
    switch (json_object_get_type(o)) {
    case json_type_null:
        return buf_append(out, "null", 4);
    case json_type_boolean:
        return json_object_get_boolean(o) ? buf_append(out, "true", 4)
                                          : buf_append(out, "false", 5);
    case json_type_int: {
        int64_t v = json_object_get_int64(o);
        if (v == INT64_MAX) /* or an unsigned value above it */
            return write_by_json_c(out, o);
        char num[24];
        int n = snprintf(num, sizeof num, "%" PRId64, v);
        return buf_append(out, num, (size_t)n);
    }
    case json_type_string:
        return json_write_string(out, json_object_get_string(o),
                                 (size_t)json_object_get_string_len(o));
    case json_type_array: {
        if (buf_putc(out, '[') < 0)
            return -1;
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            if ((i && buf_putc(out, ',') < 0) ||
                write_node(out, json_object_array_get_idx(o, i), depth + 1) < 0)
                return -1;
        return buf_putc(out, ']');
    }
    case json_type_object: {
        if (buf_putc(out, '{') < 0)
            return -1;
        int first = 1;
        json_object_object_foreach(o, key, val)
        {
            if ((!first && buf_putc(out, ',') < 0) ||
                json_write_string(out, key, strlen(key)) < 0 || buf_putc(out, ':') < 0 ||
                write_node(out, val, depth + 1) < 0)
                return -1;
            first = 0;
        }
        return buf_putc(out, '}');
    }
    default: /* doubles: json-c's format */
        return write_by_json_c(out, o);
    }
}

int json_write(buf *out, json_object *o)
{
    return write_node(out, o, 0);
}
