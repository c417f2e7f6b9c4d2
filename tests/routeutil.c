#include "routeutil.h"
#include "prototest.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char spec_fmt[] =
    "provider: %s\n"
    "api: openai-responses\n"
    "base_url: %s/%s\n"
    "models:\n"
    "  - name: m1\n"
    "    context_window: 100000\n"
    "    max_output_tokens: 4000\n"
    "    capabilities: [streaming, tools]\n"
    "    parameters:\n"
    "      temperature: {type: float, min: 0, max: 2}\n"
    "      max_tokens: {type: int, min: 1, max: 4000}\n"
    "    pricing: {input_per_mtok: 1000, output_per_mtok: 1000}\n";

void rfx_start(rfx *f, const char *routes_yaml, int max_retries)
{
    memset(f, 0, sizeof *f);
    tu_setenv("no_proxy", "127.0.0.1,localhost");
    tu_setenv("NO_PROXY", "127.0.0.1,localhost");
    tu_mkdtemp(f->tmp);
    snprintf(f->plugins, sizeof f->plugins, "%s/plugins", f->tmp);
    snprintf(f->specs, sizeof f->specs, "%s/specs", f->tmp);
    ck_assert_int_eq(mkdir(f->plugins, 0700), 0);
    ck_assert_int_eq(mkdir(f->specs, 0700), 0);
    tu_copy(NULL, OPENAI_PLUGIN, f->plugins, "openai-responses.so", 0755);
    tu_install_mock(f->plugins);
    f->fu = fake_upstream_start(NULL, 0);
    ck_assert_msg(f->fu != NULL, "the fake upstream did not start");
    char text[2048];
    snprintf(text, sizeof text, spec_fmt, "up-a", fake_upstream_url(f->fu), "a");
    tu_write(NULL, f->specs, "up-a.yaml", text);
    snprintf(text, sizeof text, spec_fmt, "up-b", fake_upstream_url(f->fu), "b");
    tu_write(NULL, f->specs, "up-b.yaml", text);
    snprintf(text, sizeof text, spec_fmt, "up-c", fake_upstream_url(f->fu), "c");
    tu_write(NULL, f->specs, "up-c.yaml", text);
    char *mock = tu_slurp(PROJECT_SRC_DIR "/specs/mock.yaml");
    tu_write(NULL, f->specs, "mock.yaml", mock);
    free(mock);
    if (routes_yaml) {
        char dir[TU_PATH];
        snprintf(dir, sizeof dir, "%s/routes", f->specs);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        tu_write(NULL, dir, "routes.yaml", routes_yaml);
    }
    tu_log_init(&f->logs);
    f->rt = rfx_open(f, max_retries, 0);
}

llmsvc_runtime *rfx_open(rfx *f, int max_retries, size_t cache_max_bytes)
{
    llmsvc_options o;
    tu_options(&o, f->plugins, f->specs, &f->logs);
    o.max_retries = max_retries;
    o.cache_max_bytes = cache_max_bytes;
    llmsvc_runtime *rt = tu_open(&o);
    const char *problems = llmsvc_runtime_spec_problems(rt);
    ck_assert_msg(problems == NULL, "spec problems: %s", problems);
    return rt;
}

void rfx_stop(rfx *f)
{
    llmsvc_runtime_close(f->rt);
    fake_upstream_stop(f->fu);
    tu_log_free(&f->logs);
    tu_rm_rf(f->tmp);
    tu_env_restore();
    memset(f, 0, sizeof *f);
}

void rfx_script(rfx *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    proto_vscript(f->fu, fmt, ap);
    va_end(ap);
}

double *rfx_arrivals(rfx *f, const char *prefix, size_t *n)
{
    char *js = fake_upstream_requests_json(f->fu);
    json_object *a = json_tokener_parse(js);
    free(js);
    ck_assert_ptr_nonnull(a);
    size_t len = json_object_array_length(a);
    double *at = calloc(len + 1, sizeof *at);
    *n = 0;
    for (size_t i = 0; i < len; i++) {
        json_object *r = json_object_array_get_idx(a, i), *p, *t;
        json_object_object_get_ex(r, "path", &p);
        json_object_object_get_ex(r, "at_ms", &t);
        if (!strncmp(json_object_get_string(p), prefix, strlen(prefix)))
            at[(*n)++] = json_object_get_double(t);
    }
    json_object_put(a);
    return at;
}

size_t rfx_requests_to(rfx *f, const char *prefix)
{
    size_t n;
    free(rfx_arrivals(f, prefix, &n));
    return n;
}

llmsvc_request *rfx_req(const char *route, const char *prompt)
{
    if (!route || !strncmp(route, "up-", 3))
        return tu_request(route ? route : "up-a", "m1", prompt);
    llmsvc_request *r = NULL;
    ck_assert_int_eq(llmsvc_request_new(&r), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_route(r, route), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_prompt(r, prompt), LLMSVC_OK);
    return r;
}

llmsvc_response *rfx_call_ok(llmsvc_runtime *rt, const llmsvc_request *req)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    llmsvc_error_free(err);
    ck_assert_ptr_nonnull(resp);
    return resp;
}

char *rfx_call_fails(llmsvc_runtime *rt, const llmsvc_request *req, llmsvc_code want)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    tu_assert_code(rc, want, err);
    ck_assert_ptr_nonnull(err);
    char *msg = strdup(llmsvc_error_message(err));
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    return msg;
}

double rfx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
