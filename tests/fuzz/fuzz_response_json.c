/* libFuzzer target: a response read back from JSON (the response cache's
 * second level in a shared store, a job's result): never a crash, and what
 * it reads writes out and reads back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llmsvc_response *r = NULL;
    llmsvc_error *err = NULL;
    if (response_from_json((const char *)data, size, &r, &err) != LLMSVC_OK) {
        llmsvc_error_free(err);
        return 0;
    }
    char *once = NULL, *twice = NULL;
    llmsvc_response *back = NULL;
    if (llmsvc_response_to_json(&once, r) == LLMSVC_OK &&
        response_from_json(once, strlen(once), &back, &err) == LLMSVC_OK &&
        llmsvc_response_to_json(&twice, back) == LLMSVC_OK && strcmp(once, twice) != 0)
        abort(); /* a second round trip must change nothing */
    llmsvc_error_free(err);
    free(once);
    free(twice);
    llmsvc_response_free(back);
    llmsvc_response_free(r);
    return 0;
}
