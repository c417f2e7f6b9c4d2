#include "json_write.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json_util.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define MAX_DEPTH 1000 /* deeper trees (never a request) are printed by json-c */

/* Escapes as json-c does: '"', '\\', and control characters (\b \f \n \r \t
 * by name, the others as \u00XX); everything else, UTF-8 included, as is. */
static int write_string(buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(out, n + 2) < 0 || buf_putc(out, '"') < 0)
        return -1;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (buf_append(out, s + run, i - run) < 0)
            return -1;
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        if (buf_append(out, esc, len) < 0)
            return -1;
    }
    if (buf_append(out, s + run, n - run) < 0)
        return -1;
    return buf_putc(out, '"');
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
        return write_string(out, json_object_get_string(o),
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
            if ((!first && buf_putc(out, ',') < 0) || write_string(out, key, strlen(key)) < 0 ||
                buf_putc(out, ':') < 0 || write_node(out, val, depth + 1) < 0)
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
