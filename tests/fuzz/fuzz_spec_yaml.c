/* libFuzzer target: the YAML spec reader (outside input edited by operators). */
#include <stdint.h>
#include <stdlib.h>

#include "registry.h"
#include "spec_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    problems probs = PROBLEMS_INIT;
    provider_spec *p = spec_parse("fuzz.yaml", (const char *)data, size, &probs);
    if (p) {
        /* a parsed spec must also merge and index */
        registry r;
        registry_init(&r);
        if (registry_add(&r, p) == 0)
            registry_finish(&r);
        registry_free(&r);
    }
    problems_free(&probs);
    return 0;
}
