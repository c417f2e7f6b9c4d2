/* test_plugin — one source, built by tests/CMakeLists.txt into several real
 * plugins that each exercise one path of the loader. Compile definitions:
 *
 *   TP_NAME "x"          the descriptor's name (default "test")
 *   TP_PROTOCOL "p"      the protocol it registers (default "test-good")
 *   TP_ABI_MAJOR n       the ABI major it claims (default: plugin.h's)
 *   TP_ABI_MINOR_BUMP n  added to plugin.h's ABI minor (a plugin from the future)
 *   TP_NO_SYMBOL         exports no `llmsvc_plugin` descriptor at all
 *   TP_INIT_FAILS        the descriptor's init fails with CONFIG
 *   TP_OPS_INIT_FAILS    the protocol's own init op fails
 *   TP_REGISTER_NOTHING  init succeeds without registering a protocol
 *   TP_BUILD_FAILS       an HTTP protocol whose build_request fails without
 *                        saying why (the core must say it for the plugin)
 *
 * The protocol it registers has an `execute` op that answers with what it was
 * given, so tests can see what the core handed to a plugin:
 *   "plugin=<name> proto=<protocol> model=<model> params=<name>=<value>,... prompt=<prompt>"
 * (params in the order the core passes them; strings as is, numbers with %g,
 * string lists joined with '|'). Usage: input = bytes of the prompt, output =
 * bytes of the answer; no reasoning.
 */
#include <stdio.h>
#include <string.h>

#include "llmsvc/plugin.h"

#ifndef TP_NAME
#define TP_NAME "test"
#endif
#ifndef TP_PROTOCOL
#define TP_PROTOCOL "test-good"
#endif
#ifndef TP_ABI_MAJOR
#define TP_ABI_MAJOR LLMSVC_PLUGIN_ABI_MAJOR
#endif
#ifndef TP_ABI_MINOR_BUMP
#define TP_ABI_MINOR_BUMP 0
#endif

static const llmsvc_host *host;

static void put(char *b, size_t cap, size_t *len, const char *fmt, const char *s, double d)
{
    if (*len >= cap)
        return;
    int n = s ? snprintf(b + *len, cap - *len, fmt, s) : snprintf(b + *len, cap - *len, fmt, d);
    if (n > 0)
        *len += (size_t)n;
}

__attribute__((unused)) /* by TP_BUILD_FAILS */
static llmsvc_code tp_execute(void *state, const llmsvc_call_info *call, llmsvc_response *out,
                              llmsvc_error **err)
{
    (void)state;
    (void)err;
    char b[4096];
    size_t len = 0;
    put(b, sizeof b, &len, "plugin=%s", TP_NAME, 0);
    put(b, sizeof b, &len, " proto=%s", call->api, 0);
    put(b, sizeof b, &len, " model=%s", call->model, 0);
    put(b, sizeof b, &len, " params=%s", "", 0);
    for (size_t i = 0; i < call->n_params; i++) {
        const llmsvc_param *p = &call->params[i];
        put(b, sizeof b, &len, i ? ",%s=" : "%s=", p->name, 0);
        switch (p->type) {
        case LLMSVC_PARAM_ENUM:
        case LLMSVC_PARAM_STRING:
            put(b, sizeof b, &len, "%s", p->string ? p->string : "(null)", 0);
            break;
        case LLMSVC_PARAM_STRING_LIST:
            for (size_t j = 0; j < p->list_len; j++)
                put(b, sizeof b, &len, j ? "|%s" : "%s", p->list[j], 0);
            break;
        default:
            put(b, sizeof b, &len, "%g", NULL, p->number);
        }
    }
    put(b, sizeof b, &len, " prompt=%s", call->prompt ? call->prompt : "(null)", 0);
    if (len >= sizeof b)
        len = sizeof b - 1;
    llmsvc_code rc;
    if ((rc = host->resp_set(out, LLMSVC_RESP_ID, "test-1")) != LLMSVC_OK ||
        (rc = host->resp_append_text(out, b, len)) != LLMSVC_OK)
        return rc;
    llmsvc_usage u = LLMSVC_USAGE_INIT;
    u.input = call->prompt ? (int64_t)strlen(call->prompt) : 0;
    u.output = (int64_t)len;
    return host->resp_set_usage(out, &u);
}

#ifdef TP_OPS_INIT_FAILS
static llmsvc_code tp_ops_init(void **state, llmsvc_error **err)
{
    *state = NULL;
    *err = host->error_new(LLMSVC_E_CONFIG, "no licence file for the test protocol");
    return LLMSVC_E_CONFIG;
}
#endif

#ifdef TP_BUILD_FAILS
static llmsvc_code tp_build(void *state, const llmsvc_call_info *call, llmsvc_http_request *out,
                            llmsvc_error **err)
{
    (void)state;
    (void)call;
    (void)out;
    (void)err;
    return LLMSVC_E_TRANSFORM; /* and no error object */
}

static llmsvc_code tp_parse(void *state, const llmsvc_call_info *call,
                            const llmsvc_http_response *in, llmsvc_response *out,
                            llmsvc_error **err)
{
    (void)state;
    (void)call;
    (void)in;
    (void)out;
    (void)err;
    return LLMSVC_E_PROVIDER; /* never reached: nothing is sent */
}
#endif

/* unused by the variants whose init registers nothing */
__attribute__((unused)) static const llmsvc_api_ops tp_ops = {
    .size = sizeof(llmsvc_api_ops),
    .name = TP_PROTOCOL,
#ifdef TP_OPS_INIT_FAILS
    .init = tp_ops_init,
#endif
#ifdef TP_BUILD_FAILS
    .build_request = tp_build,
    .parse_response = tp_parse,
#else
    .execute = tp_execute,
#endif
};

static llmsvc_code tp_init(const llmsvc_host *h, llmsvc_registrar *reg, llmsvc_error **err)
{
    host = h;
#if defined(TP_INIT_FAILS)
    (void)reg;
    *err = h->error_new(LLMSVC_E_CONFIG, "test plugin refuses to start on purpose");
    return LLMSVC_E_CONFIG;
#elif defined(TP_REGISTER_NOTHING)
    (void)reg;
    (void)err;
    return LLMSVC_OK;
#else
    return h->register_api(reg, &tp_ops, err);
#endif
}

#ifdef TP_NO_SYMBOL
/* Looks like a plugin, but the descriptor has the wrong name. */
LLMSVC_PLUGIN_EXPORT const llmsvc_plugin_desc llmsvc_plugin_v2 = {
    LLMSVC_PLUGIN_ABI_MAJOR,
    LLMSVC_PLUGIN_ABI_MINOR,
    (uint32_t)sizeof(llmsvc_plugin_desc),
    TP_NAME,
    "1.0.0",
    "a plugin without the entry symbol",
    tp_init};
#else
LLMSVC_PLUGIN_EXPORT const llmsvc_plugin_desc llmsvc_plugin = {TP_ABI_MAJOR,
                                                               LLMSVC_PLUGIN_ABI_MINOR +
                                                                   TP_ABI_MINOR_BUMP,
                                                               (uint32_t)sizeof(llmsvc_plugin_desc),
                                                               TP_NAME,
                                                               "1.2.3",
                                                               "a plugin the loader tests build",
                                                               tp_init};
#endif
