/* libFuzzer target: every loaded plugin's response parser. The first byte of
 * the input picks the protocol and the HTTP status; the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "loader.h"
#include "response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loader ld;
static int loaded;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loaded) {
        char *dirs[] = {FUZZ_PLUGIN_DIR};
        int missing_ok[] = {0};
        if (loader_load(&ld, dirs, missing_ok, 1, NULL, NULL) < 0 || !ld.n_apis)
            abort();
        loaded = 1;
    }
    if (size < 1)
        return 0;
    static const int statuses[] = {200, 200, 200, 400, 401, 404, 429, 500, 503, 529};
    const api_rec *api = ld.apis[data[0] % ld.n_apis];
    if (!api->ops.parse_response)
        return 0;
    llmsvc_http_response hr;
    http_response_init(&hr);
    hr.status = statuses[(data[0] / ld.n_apis) % 10];
    buf_append(&hr.body, (const char *)data + 1, size - 1);
    llmsvc_call_info call;
    memset(&call, 0, sizeof call);
    call.size = sizeof call;
    call.provider = "fuzz";
    call.model = "fuzz-model";
    call.prompt = "hello";
    llmsvc_response *resp = response_new();
    llmsvc_error *err = NULL;
    llmsvc_code rc = api->ops.parse_response(api->state, &call, &hr, resp, &err);
    if (rc != LLMSVC_OK && !err)
        abort(); /* a failure always says why */
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    http_response_clear(&hr);
    return 0;
}
