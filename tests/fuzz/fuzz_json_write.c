/* libFuzzer target: json_write, which prints every request body, against
 * json-c's own printer. Any JSON json-c reads from the input must come out of
 * both byte for byte the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "json_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    json_tokener_free(tok);
    if (!o)
        return 0;
    buf out = BUF_INIT;
    if (json_write(&out, o) < 0)
        abort();
    size_t n;
    const char *want = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (out.len != n || memcmp(buf_cstr(&out), want, n) != 0) {
        fprintf(stderr, "json_write: %s\njson-c:     %s\n", buf_cstr(&out), want);
        abort();
    }
    buf_free(&out);
    json_object_put(o);
    return 0;
}
