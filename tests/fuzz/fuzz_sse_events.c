/* libFuzzer target: the SSE parser feeding every loaded plugin's parse_event
 * (the streaming path of every protocol). The first byte picks the plugin and
 * how the rest is split into reads; the rest is the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "response.h"
#include "sse.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loader ld;
static int loaded;

typedef struct feed {
    const api_rec *api;
    const llmsvc_call_info *call;
    llmsvc_stream *sink;
    void *state;
} feed;

static int on_event(void *user, const llmsvc_sse_event *ev)
{
    feed *f = user;
    llmsvc_error *err = NULL;
    llmsvc_code rc = f->api->ops.parse_event(f->api->state, f->call, ev, f->sink, &f->state, &err);
    if (rc != LLMSVC_OK && !err && rc != LLMSVC_E_CANCELLED)
        abort(); /* a failure always says why */
    llmsvc_error_free(err);
    return rc != LLMSVC_OK;
}

static int on_host_event(void *user, const llmsvc_event *ev)
{
    (void)user;
    (void)ev;
    return 0;
}

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
    const api_rec *api = ld.apis[data[0] % ld.n_apis];
    if (!api->ops.parse_event)
        return 0;
    size_t step = 1 + (data[0] >> 4); /* reads of 1 to 16 bytes */
    llmsvc_call_info call;
    memset(&call, 0, sizeof call);
    call.size = sizeof call;
    call.provider = "fuzz";
    call.model = "fuzz-model";
    call.stream = 1;
    llmsvc_response *resp = response_new();
    llmsvc_stream sink;
    stream_init(&sink, on_host_event, NULL, resp);
    feed f = {api, &call, &sink, NULL};
    sse_parser p;
    sse_init(&p, 1 << 20, on_event, &f);
    int rc = 0;
    for (size_t i = 1; i < size && rc == 0; i += step)
        rc = sse_feed(&p, (const char *)data + i, i + step > size ? size - i : step);
    if (rc == 0)
        sse_finish(&p);
    sse_free(&p);
    if (f.state && api->ops.stream_free)
        api->ops.stream_free(api->state, f.state);
    stream_finish(&sink);
    stream_free(&sink);
    llmsvc_response_free(resp);
    return 0;
}
