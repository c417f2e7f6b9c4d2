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
 *   "tool_calls": [{"name": "get_weather", "arguments": {...}}]
 *                               answer with these calls (ids call_mock_1, ...),
 *                               unless the last turn is a tool result
 *   "chunk_delay_ms": 5         streaming: pause before each piece of text
 *   "cut_after": N              streaming: the connection breaks after N pieces
 *
 * It answers the last user turn (or the last tool result), and attaches
 * provider state {"mock_turn": N, "signature": ...} where N-1 is how many mock
 * states the request carried back — so the state round trip can be seen.
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
    uint64_t h = fnv(call->vector_store_id, fnv(call->prompt ? call->prompt : "", 1469598103934665603ull));
    for (int i = 0; i < n; i++) {
        char id[40], name[40], text[256];
        snprintf(id, sizeof id, "file-mock%08llx%02d", (unsigned long long)(h & 0xffffffffu), i);
        snprintf(name, sizeof name, "document-%d.txt", i + 1);
        snprintf(text, sizeof text, "Passage %d of %s relevant to: %.160s", i + 1,
                 call->vector_store_id, call->prompt ? call->prompt : "the conversation");
        llmsvc_code rc = host->resp_add_file_result(out, id, name, 0.95 - 0.1 * i, text);
        if (rc != LLMSVC_OK)
            return rc;
    }
    return LLMSVC_OK;
}

/* The last turn of a role, or NULL. */
static const llmsvc_message *last_turn(const llmsvc_call_info *call, const char *role)
{
    for (size_t i = call->n_messages; i-- > 0;) {
        if (!strcmp(call->messages[i].role, role))
            return &call->messages[i];
    }
    return NULL;
}

/* What the mock answers: computed once, then set whole or streamed. */
typedef struct answer {
    const char *text;
    size_t len;
    const char *finish;
    const char *reasoning;
    json_object *calls; /* provider_options.tool_calls: [{name, arguments}] */
    llmsvc_usage usage;
    char id[40];
    char state[96];
} answer;

static void compute(const llmsvc_call_info *call, answer *a)
{
    memset(a, 0, sizeof *a);
    const llmsvc_message *user = last_turn(call, "user");
    const llmsvc_message *last = call->n_messages ? &call->messages[call->n_messages - 1] : NULL;
    const char *reply = opt_str(call, "reply");
    a->text = reply ? reply
              : last && last->tool_call_id ? last->content
              : user && user->content      ? user->content
                                           : "";
    a->len = strlen(a->text);
    a->finish = "stop";
    json_object *calls;
    if (call->provider_options &&
        json_object_object_get_ex((json_object *)call->provider_options, "tool_calls", &calls) &&
        json_object_is_type(calls, json_type_array) && json_object_array_length(calls) &&
        !(last && last->tool_call_id)) {
        a->calls = calls;
        a->text = "";
        a->len = 0;
        a->finish = "tool_calls";
    }
    const llmsvc_param *max = host->call_param(call, "max_tokens");
    if (max && tokens_of(a->text, a->len) > (int64_t)max->number) {
        a->len = (size_t)max->number * 4;
        a->finish = "length";
    }
    if (opt_str(call, "finish_reason"))
        a->finish = opt_str(call, "finish_reason");
    snprintf(a->id, sizeof a->id, "mock-%016llx",
             (unsigned long long)fnv(call->model, fnv(user ? user->content : "", 1469598103934665603ull)));

    /* provider state, as real providers attach it: how many mock states this
     * request carried back, so a test can see the round trip */
    int seen = 0;
    for (size_t i = 0; i < call->n_messages; i++)
        seen += call->messages[i].state_protocol && !strcmp(call->messages[i].state_protocol, "mock");
    snprintf(a->state, sizeof a->state, "{\"mock_turn\":%d,\"signature\":\"sig-%s\"}", seen + 1,
             a->id + 5);

    size_t in_bytes = call->instructions ? strlen(call->instructions) : 0;
    for (size_t i = 0; i < call->n_messages; i++)
        in_bytes += call->messages[i].content ? strlen(call->messages[i].content) : 0;
    a->usage = (llmsvc_usage)LLMSVC_USAGE_INIT;
    a->usage.input = tokens_of(NULL, in_bytes) + 8; /* plus the chat template's own tokens */
    a->usage.cached_input = 0;
    a->usage.output = tokens_of(a->text, a->len);
    if (a->calls)
        a->usage.output += 12 * (int64_t)json_object_array_length(a->calls);
    a->usage.reasoning = 0;
    const llmsvc_param *effort = host->call_param(call, "reasoning_effort");
    if (effort && effort_factor(effort->string)) {
        a->usage.reasoning = a->usage.output * effort_factor(effort->string) + 16;
        a->usage.output += a->usage.reasoning;
        a->reasoning = "Considered the request and answered it directly.";
    }
    if (call->vector_store_id)
        a->usage.input += 200;
}

/* A scripted call's name and arguments (JSON text, malloc'd). */
static char *call_args(json_object *c, const char **name)
{
    json_object *v;
    *name = json_object_object_get_ex(c, "name", &v) ? json_object_get_string(v) : "tool";
    if (!json_object_object_get_ex(c, "arguments", &v))
        return strdup("{}");
    if (json_object_is_type(v, json_type_string))
        return strdup(json_object_get_string(v));
    return strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

/* Latency and scripted errors, before answering. */
static llmsvc_code prelude(const llmsvc_call_info *call, llmsvc_error **err)
{
    long latency = opt_int(call, "latency_ms", 0);
    if (latency > 0) {
        struct timespec ts = {latency / 1000, (latency % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    const char *err_kind = opt_str(call, "error");
    if (err_kind && should_fail(call))
        return simulated_error(call, err_kind, err);
    return LLMSVC_OK;
}

static llmsvc_code mock_execute(void *state, const llmsvc_call_info *call, llmsvc_response *out,
                                llmsvc_error **err)
{
    (void)state;
    llmsvc_code rc = prelude(call, err);
    if (rc != LLMSVC_OK)
        return rc;
    answer a;
    compute(call, &a);
    if ((rc = host->resp_set(out, LLMSVC_RESP_ID, a.id)) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_MODEL, call->model)) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_FINISH_REASON, a.finish)) != LLMSVC_OK ||
        (rc = host->resp_append_text(out, a.text, a.len)) != LLMSVC_OK ||
        (rc = host->resp_set_state(out, "mock", a.state, strlen(a.state))) != LLMSVC_OK)
        return rc;
    if (a.reasoning && (rc = host->resp_append_reasoning(out, a.reasoning, strlen(a.reasoning))) !=
                           LLMSVC_OK)
        return rc;
    for (size_t i = 0; a.calls && i < json_object_array_length(a.calls); i++) {
        const char *name;
        char *args = call_args(json_object_array_get_idx(a.calls, i), &name);
        char id[32];
        snprintf(id, sizeof id, "call_mock_%zu", i + 1);
        rc = args ? host->resp_add_tool_call(out, id, name, args) : LLMSVC_E_NOMEM;
        free(args);
        if (rc != LLMSVC_OK)
            return rc;
    }
    if (call->vector_store_id && (rc = add_file_results(call, out)) != LLMSVC_OK)
        return rc;
    return host->resp_set_usage(out, &a.usage);
}

/* Streaming: the reasoning, then the text a word at a time (chunk_delay_ms
 * apart), then the tool calls with their arguments in two pieces interleaved
 * across calls, the usage, the end. cut_after: a broken connection after that
 * many text pieces. */
static llmsvc_code mock_execute_stream(void *state, const llmsvc_call_info *call,
                                       llmsvc_stream *sink, llmsvc_error **err)
{
    (void)state;
    llmsvc_code rc = prelude(call, err);
    if (rc != LLMSVC_OK)
        return rc;
    answer a;
    compute(call, &a);
    llmsvc_response *out = host->stream_response(sink);
    if ((rc = host->resp_set(out, LLMSVC_RESP_ID, a.id)) != LLMSVC_OK ||
        (rc = host->resp_set(out, LLMSVC_RESP_MODEL, call->model)) != LLMSVC_OK ||
        (rc = host->resp_set_state(out, "mock", a.state, strlen(a.state))) != LLMSVC_OK)
        return rc;
    if (a.reasoning && (rc = host->stream_reasoning(sink, a.reasoning, strlen(a.reasoning))) !=
                           LLMSVC_OK)
        return rc;
    long delay = opt_int(call, "chunk_delay_ms", 0), cut = opt_int(call, "cut_after", -1);
    long pieces = 0;
    for (size_t i = 0; i < a.len;) {
        size_t j = i;
        while (j < a.len && a.text[j] != ' ')
            j++;
        if (j < a.len)
            j++; /* the space goes with its word */
        if (cut >= 0 && pieces == cut) {
            *err = host->error_new(LLMSVC_E_TRANSPORT, "mock: simulated cut connection");
            return LLMSVC_E_TRANSPORT;
        }
        if (delay > 0) {
            struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if ((rc = host->stream_text(sink, a.text + i, j - i)) != LLMSVC_OK)
            return rc;
        pieces++;
        i = j;
    }
    size_t n = a.calls ? json_object_array_length(a.calls) : 0;
    for (int half = 0; half < 2; half++) {
        for (size_t i = 0; i < n; i++) {
            const char *name;
            char *args = call_args(json_object_array_get_idx(a.calls, i), &name);
            if (!args)
                return LLMSVC_E_NOMEM;
            char id[32];
            snprintf(id, sizeof id, "call_mock_%zu", i + 1);
            size_t len = strlen(args), mid = len / 2;
            rc = half == 0 ? host->stream_tool_start(sink, (int)i, id, name) : LLMSVC_OK;
            if (rc == LLMSVC_OK)
                rc = host->stream_tool_args(sink, (int)i, args + (half ? mid : 0),
                                            half ? len - mid : mid);
            if (rc == LLMSVC_OK && half)
                rc = host->stream_tool_end(sink, (int)i);
            free(args);
            if (rc != LLMSVC_OK)
                return rc;
        }
    }
    if (call->vector_store_id && (rc = add_file_results(call, out)) != LLMSVC_OK)
        return rc;
    if ((rc = host->stream_usage(sink, &a.usage)) != LLMSVC_OK)
        return rc;
    return host->stream_done(sink, a.finish);
}

static const llmsvc_api_ops mock_ops = {
    .size = sizeof(llmsvc_api_ops),
    .name = "mock",
    .execute = mock_execute,
    .execute_stream = mock_execute_stream,
};

LLMSVC_PLUGIN_DEFINE_API("mock", "1.0.0", "deterministic provider with no network, for tests",
                         mock_ops, host);
