/* libFuzzer target: the YAML readers of the spec folders, outside input edited
 * by operators: a spec file, and the same text as a routes file. */
#include <stdint.h>
#include <stdlib.h>

#include "registry.h"
#include "route.h"
#include "spec_yaml.h"
#include "ydoc.h"

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
    ydoc d;
    if (ydoc_load(&d, "routes.yaml", (const char *)data, size, &probs) == 0) {
        route_file *f = route_parse_doc(&d);
        if (f) {
            registry r;
            registry_init(&r);
            if (registry_add_routes(&r, f) == 0)
                registry_finish(&r);
            registry_free(&r);
        }
        ydoc_free(&d);
    }
    problems_free(&probs);
    return 0;
}
