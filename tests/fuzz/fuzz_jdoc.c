/* libFuzzer target: jdoc, the JSON reader every plugin parses responses with.
 * Walks every node and reads it every way. */
#include <stdint.h>
#include <stdlib.h>

#include "jdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(llmsvc_jdoc *d, int node, int depth)
{
    size_t len;
    jdoc_type(d, node);
    jdoc_str(d, node, &len);
    jdoc_int(d, node, 0);
    jdoc_num(d, node, 0);
    jdoc_bool(d, node, 0);
    jdoc_raw(d, node, &len);
    jdoc_key(d, node);
    jdoc_get(d, node, "a.b");
    if (depth > 64)
        return;
    size_t n = 0;
    for (int c = jdoc_first(d, node); c >= 0; c = jdoc_next(d, c)) {
        walk(d, c, depth + 1);
        n++;
    }
    if (n != jdoc_count(d, node))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llmsvc_jdoc *d = NULL;
    llmsvc_error *err = NULL;
    if (jdoc_parse((const char *)data, size, &d, &err) == LLMSVC_OK) {
        walk(d, 0, 0);
        jdoc_free(d);
    }
    llmsvc_error_free(err);
    return 0;
}
