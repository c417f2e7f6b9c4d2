/* mock — a provider with no network, for host applications' own tests.
 *
 * Replies are deterministic: the prompt echoed back, or what the request's
 * provider_options script says. Token counts are realistic (about 4 bytes a
 * token), reasoning efforts add reasoning tokens, a vector store gives
 * file-search results, max_tokens truncates with finish_reason "length".
 *
 * provider_options (all optional):
 *   "reply": "text"            the answer instead of the echo
 *   "latency_ms": 25           simulated time to answer
 *   "error": "validation" | "auth" | "not_found" | "rate_limit" | "server" |
 *            "overloaded" | "timeout" | "transport" | "malformed"
 *                               fail with that error class, as a provider would
 *   "fail_times": N             fail only the first N attempts of a call
 *                               (retryable classes then succeed on a retry)
 *   "retry_after_ms": 10        retry-after of a rate_limit/overloaded error
 *   "finish_reason": "stop"     override the finish reason
 */
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "llmsvc/plugin.h"

static const llmsvc_host *host;

static const char *opt_str(const llmsvc_call_info *call, const char *key)
{
    json_object *v;
    if (call->provider_options &&
        json_object_object_get_ex((json_object *)call->provider_options, key, &v) &&
        json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static long opt_int(const llmsvc_call_info *call, const char *key, long def)
{
    json_object *v;
    if (call->provider_options &&
        json_object_object_get_ex((json_object *)call->provider_options, key, &v) &&
        (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return (long)json_object_get_int64(v);
    return def;
}

static int64_t tokens_of(const char *s, size_t len)
{
    (void)s;
    return (int64_t)((len + 3) / 4);
}

static uint64_t fnv(const char *s, uint64_t h)
{
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* Fails the first fail_times attempts of one call (every attempt without it). */
static int should_fail(const llmsvc_call_info *call)
{
    long limit = opt_int(call, "fail_times", -1);
    if (limit < 0)
        return 1;
    if (call->size < offsetof(llmsvc_call_info, attempt) + sizeof call->attempt)
        return 1; /* a core too old to count attempts */
    return call->attempt <= limit;
}

static llmsvc_code simulated_error(const llmsvc_call_info *call, const char *kind, llmsvc_error **err)
{
    long ra = opt_int(call, "retry_after_ms", -1);
    struct {
        const char *kind;
        llmsvc_code code;
        int status, retryable;
        const char *type, *message;
    } table[] = {
        {"validation", LLMSVC_E_API, 400, 0, "invalid_request_error", "mock: invalid request"},
        {"auth", LLMSVC_E_API, 401, 0, "authentication_error", "mock: invalid API key"},
        {"not_found", LLMSVC_E_API, 404, 0, "not_found_error", "mock: model not found"},
        {"rate_limit", LLMSVC_E_API, 429, 1, "rate_limit_error", "mock: rate limit reached"},
        {"server", LLMSVC_E_API, 500, 1, "server_error", "mock: internal server error"},
        {"overloaded", LLMSVC_E_API, 529, 1, "overloaded_error", "mock: overloaded"},
        {"timeout", LLMSVC_E_TRANSPORT, 0, 1, NULL, "mock: simulated timeout"},
        {"transport", LLMSVC_E_TRANSPORT, 0, 1, NULL, "mock: simulated connection reset"},
        {"malformed", LLMSVC_E_PROVIDER, 0, 0, NULL, "mock: simulated malformed response"},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (strcmp(table[i].kind, kind) != 0)
            continue;
        llmsvc_error *e = host->error_new(table[i].code, "%s", table[i].message);
        host->error_set_retryable(e, table[i].retryable);
        if (table[i].status)
            host->error_set_http(e, table[i].status, table[i].status == 429 || table[i].status == 529 ? ra : -1);
        if (table[i].type)
            host->error_set_provider(e, table[i].type, kind, NULL);
        *err = e;
        return table[i].code;
    }
    *err = host->error_new(LLMSVC_E_VALIDATION,
                           "mock: unknown error class '%s' in provider_options.error", kind);
    return LLMSVC_E_VALIDATION;
}

static int effort_factor(const char *effort)
{
    static const char *const names[] = {"none", "minimal", "low", "medium", "high", "xhigh", "max"};
    static const int factors[] = {0, 1, 2, 4, 8, 12, 16};
    for (size_t i = 0; effort && i < sizeof names / sizeof *names; i++) {
        if (strcmp(names[i], effort) == 0)
            return factors[i];
    }
    return 0;
}

static llmsvc_code add_file_results(const llmsvc_call_info *call, llmsvc_response *out)
{
    int n = call->max_num_results > 0 ? call->max_num_results : 3;
    if (n > 10)
        n = 10;
    uint64_t h = fnv(call->vector_store_id, fnv(call->prompt, 1469598103934665603ull));
    for (int i = 0; i < n; i++) {
        char id[40], name[40], text[256];
        snprintf(id, sizeof id, "file-mock%08llx%02d", (unsigned long long)(h & 0xffffffffu), i);
        snprintf(name, sizeof name, "document-%d.txt", i + 1);
        snprintf(text, sizeof text, "Passage %d of %s relevant to: %.160s", i + 1,
                 call->vector_store_id, call->prompt);
        llmsvc_code rc = host->resp_add_file_result(out, id, name, 0.95 - 0.1 * i, text);
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

static llmsvc_code mock_execute(void *state, const llmsvc_call_info *call, llmsvc_response *out,
                                llmsvc_error **err)
{
    (void)state;
    long latency = opt_int(call, "latency_ms", 0);
    if (latency > 0) {
        struct timespec ts = {latency / 1000, (latency % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    const char *err_kind = opt_str(call, "error");
    if (err_kind && should_fail(call))
        return simulated_error(call, err_kind, err);

    const char *reply = opt_str(call, "reply");
    const char *text = reply ? reply : call->prompt;
    size_t len = strlen(text);
    const char *finish = "stop";
    const llmsvc_param *max = host->call_param(call, "max_tokens");
    if (max && tokens_of(text, len) > (int64_t)max->number) {
        len = (size_t)max->number * 4;
        finish = "length";
    }
    if (opt_str(call, "finish_reason"))
        finish = opt_str(call, "finish_reason");

    char id[40];
    snprintf(id, sizeof id, "mock-%016llx",
             (unsigned long long)fnv(call->model, fnv(call->prompt, 1469598103934665603ull)));
    llmsvc_code rc;
    if ((rc = host->resp_set(out, LLMSVC_RESP_ID, id)) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_MODEL, call->model)) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_FINISH_REASON, finish)) != LLMSVC_OK ||
        (rc = host->resp_append_text(out, text, len)) != LLMSVC_OK)
        return rc;

    llmsvc_usage u = LLMSVC_USAGE_INIT;
    size_t in_bytes = strlen(call->prompt) + (call->instructions ? strlen(call->instructions) : 0);
    u.input = tokens_of(NULL, in_bytes) + 8; /* plus the chat template's own tokens */
    u.cached_input = 0;
    u.output = tokens_of(text, len);
    const llmsvc_param *effort = host->call_param(call, "reasoning_effort");
    u.reasoning = 0;
    if (effort && effort_factor(effort->string)) {
        u.reasoning = u.output * effort_factor(effort->string) + 16;
        u.output += u.reasoning;
        static const char summary[] = "Considered the request and answered it directly.";
        if ((rc = host->resp_append_reasoning(out, summary, sizeof summary - 1)) != LLMSVC_OK)
            return rc;
    }
    if (call->vector_store_id) {
        if ((rc = add_file_results(call, out)) != LLMSVC_OK)
            return rc;
        u.input += 200;
    }
    return host->resp_set_usage(out, &u);
}

static const llmsvc_api_ops mock_ops = {
    .size = sizeof(llmsvc_api_ops),
    .name = "mock",
    .execute = mock_execute,
};

static llmsvc_code mock_init(const llmsvc_host *h, llmsvc_registrar *reg, llmsvc_error **err)
{
    host = h;
    return h->register_api(reg, &mock_ops, err);
}

LLMSVC_PLUGIN_DEFINE("mock", "1.0.0", "deterministic provider with no network, for tests",
                     mock_init);
