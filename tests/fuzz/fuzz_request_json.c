/* libFuzzer target: the request JSON reader (LLMCallRequest shape), and the
 * round trip through llmsvc_request_to_json. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llmsvc/llmsvc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llmsvc_request *req = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_request_from_json(&req, (const char *)data, size, &err) == LLMSVC_OK) {
        char *js = NULL;
        if (llmsvc_request_to_json(&js, req) == LLMSVC_OK) {
            llmsvc_request *again = NULL;
            llmsvc_error *e2 = NULL;
            /* what we write, we must read back */
            if (llmsvc_request_from_json(&again, js, strlen(js), &e2) != LLMSVC_OK)
                abort();
            llmsvc_request_free(again);
            llmsvc_free(js);
        }
        llmsvc_request_free(req);
    }
    llmsvc_error_free(err);
    return 0;
}
