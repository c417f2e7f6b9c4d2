/* test_every_provider — the same request (a prompt and instructions, the
 * original module's seed call) sent to every live model of every shipped
 * spec, changing only provider and model, each over loopback HTTP to the fake
 * upstream answering in its protocol's shape (or through the mock): every one
 * validates, goes to its protocol's endpoint with its key header, and comes
 * back as the same unified response (text, finish reason, token counts,
 * cost from its spec's prices). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fake_upstream.h"
#include "testutil.h"

#define TEST_KEY "sk-test-every-provider-0000"

typedef struct protocol {
    const char *api;
    const char *fixture;  /* served for the call */
    const char *path_end; /* where the request must go */
    const char *key_header;
} protocol;

static const protocol protocols[] = {
    {"openai-responses", "openai/basic.json", "/responses", "authorization"},
    {"openai-chat", "openai-chat/basic.json", "/chat/completions", NULL},
    {"anthropic-messages", "anthropic/basic.json", "/messages", "x-api-key"},
    {"gemini", "gemini/basic.json", ":generateContent", "x-goog-api-key"},
    {"mock", NULL, NULL, NULL},
};

static const protocol *protocol_of(const char *api)
{
    for (size_t i = 0; i < sizeof protocols / sizeof *protocols; i++)
        if (!strcmp(protocols[i].api, api))
            return &protocols[i];
    return NULL;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

START_TEST(one_request_reaches_every_live_model_of_every_provider_alike)
{
    char tmp[TU_PATH], plugins[TU_PATH];
    tu_mkdtemp(tmp);
    snprintf(plugins, sizeof plugins, "%s/plugins", tmp);
    ck_assert_int_eq(mkdir(plugins, 0700), 0);
    const char *so[][2] = {{OPENAI_PLUGIN, "openai-responses.so"},
                           {OPENAI_CHAT_PLUGIN, "openai-chat.so"},
                           {ANTHROPIC_PLUGIN, "anthropic.so"},
                           {GEMINI_PLUGIN, "gemini.so"}};
    for (size_t i = 0; i < 4; i++)
        tu_copy(NULL, so[i][0], plugins, so[i][1], 0755);
    tu_install_mock(plugins);
    tu_setenv("no_proxy", "127.0.0.1,localhost");
    fake_upstream *fu = fake_upstream_start(NULL, 0);
    ck_assert_ptr_nonnull(fu);
    llmsvc_options o;
    tu_options(&o, plugins, PROJECT_SRC_DIR "/specs", NULL);
    o.max_retries = 0;
    llmsvc_runtime *rt = tu_open(&o);
    ck_assert_ptr_null(llmsvc_runtime_spec_problems(rt));

    char *js = NULL;
    ck_assert_int_eq(llmsvc_runtime_models_json(&js, rt, NULL, NULL), LLMSVC_OK);
    json_object *models = json_tokener_parse(js);
    llmsvc_free(js);
    size_t n = json_object_array_length(models), called = 0, providers = 0;
    char last_provider[64] = "";
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(models, i);
        const char *provider = str(m, "provider"), *model = str(m, "model");
        if (strcmp(str(m, "status"), "retired") == 0)
            continue;
        const protocol *p = protocol_of(str(m, "api"));
        ck_assert_msg(p != NULL, "%s speaks %s, which this test does not know", provider,
                      str(m, "api"));
        llmsvc_request *req = tu_request(provider, model, "What is the capital of France?");
        ck_assert_int_eq(llmsvc_request_set_instructions(req, "Answer in one word."), LLMSVC_OK);
        if (p->fixture) {
            char base[256], entry[512];
            snprintf(base, sizeof base, "%s/v1", fake_upstream_url(fu));
            ck_assert_int_eq(llmsvc_request_set_base_url(req, base), LLMSVC_OK);
            ck_assert_int_eq(llmsvc_request_set_api_key(req, TEST_KEY), LLMSVC_OK);
            snprintf(entry, sizeof entry, "{\"fixture\": \"%s\"}", p->fixture);
            ck_assert_int_eq(fake_upstream_script(fu, entry), 0);
        }
        llmsvc_response *resp = NULL;
        llmsvc_error *err = NULL;
        llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
        ck_assert_msg(rc == LLMSVC_OK, "%s/%s: %s", provider, model,
                      err ? llmsvc_error_message(err) : "?");
        ck_assert_msg(*llmsvc_response_message(resp), "%s/%s: no text", provider, model);
        ck_assert_msg(!strcmp(llmsvc_response_finish_reason(resp), "stop"), "%s/%s: %s",
                      provider, model, llmsvc_response_finish_reason(resp));
        ck_assert_str_eq(llmsvc_response_provider(resp), provider);
        ck_assert_msg(llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT) > 0 &&
                          llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT) > 0,
                      "%s/%s: token counts missing", provider, model);
        json_object *pricing = json_object_object_get(m, "pricing");
        if (pricing && json_object_object_get(pricing, "input_per_mtok"))
            ck_assert_msg(llmsvc_response_cost_usd(resp) >= 0, "%s/%s: no cost", provider, model);
        if (p->fixture) {
            /* the request went to the protocol's endpoint, with the key */
            char *reqs = fake_upstream_requests_json(fu);
            json_object *all = json_tokener_parse(reqs);
            free(reqs);
            json_object *last = json_object_array_get_idx(all,
                                                          json_object_array_length(all) - 1);
            const char *path = str(last, "path");
            size_t pl = strlen(path), el = strlen(p->path_end);
            ck_assert_msg(pl >= el && !strcmp(path + pl - el, p->path_end), "%s/%s went to %s",
                          provider, model, path);
            json_object *headers = json_object_object_get(last, "headers");
            const char *key_header = p->key_header;
            if (!key_header) /* openai-chat: Authorization, or the spec's auth_header */
                key_header = json_object_object_get(headers, "api-key") ? "api-key"
                                                                        : "authorization";
            const char *kv = str(headers, key_header);
            ck_assert_msg(kv && strstr(kv, TEST_KEY), "%s/%s: no key in %s", provider, model,
                          key_header);
            json_object_put(all);
        }
        if (strcmp(last_provider, provider)) {
            snprintf(last_provider, sizeof last_provider, "%s", provider);
            providers++;
        }
        called++;
        llmsvc_response_free(resp);
        llmsvc_error_free(err);
        llmsvc_request_free(req);
    }
    /* every shipped provider took part */
    ck_assert_msg(providers >= 13, "only %zu providers answered", providers);
    ck_assert_uint_gt(called, 100);
    json_object_put(models);
    llmsvc_runtime_close(rt);
    fake_upstream_stop(fu);
    tu_rm_rf(tmp);
    tu_env_restore();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("every_provider");
    TCase *tc = tu_tcase("every_provider");
    tcase_add_test(tc, one_request_reaches_every_live_model_of_every_provider_alike);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
