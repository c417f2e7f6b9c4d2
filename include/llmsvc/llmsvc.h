/*
 * llmsvc — a provider-agnostic runtime for LLM calls.
 *
 * This is the one header a host application includes. Conventions:
 *  - every fallible function returns an llmsvc_code and, on failure, sets
 *    *err to an error the caller frees with llmsvc_error_free (err may be NULL);
 *  - out-parameters come first and are set only on success;
 *  - every _new/_open has a NULL-safe _free/_close;
 *  - strings returned by accessors belong to the object and live as long as it;
 *    strings returned through `char **` are the caller's, freed with llmsvc_free;
 *  - one runtime may be used by many threads at once; requests and responses
 *    belong to one thread at a time.
 *
 * Stability: within one major version (the soname's), functions and enum values
 * are only ever added, never removed, renumbered or changed in meaning; option
 * structs grow only at their end and carry a version field.
 */
#ifndef LLMSVC_LLMSVC_H
#define LLMSVC_LLMSVC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLMSVC_VERSION_MAJOR 0
#define LLMSVC_VERSION_MINOR 1
#define LLMSVC_VERSION_PATCH 0
#define LLMSVC_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define LLMSVC_EXTERN __attribute__((visibility("default")))
#else
#define LLMSVC_EXTERN
#endif

/* Error classes. Values never change; new ones are appended. */
typedef enum llmsvc_code {
    LLMSVC_OK = 0,
    LLMSVC_E_VALIDATION = 1,           /* the request breaks the model's spec */
    LLMSVC_E_UNSUPPORTED_PROVIDER = 2, /* no spec or no plugin for the provider */
    LLMSVC_E_UNKNOWN_MODEL = 3,        /* the provider has no such model */
    LLMSVC_E_TRANSFORM = 4,            /* the request could not be put on the wire */
    LLMSVC_E_API = 5,                  /* the provider answered with an error */
    LLMSVC_E_TRANSPORT = 6,            /* connect, TLS, timeout, cut connection */
    LLMSVC_E_PROVIDER = 7,             /* malformed or oversized provider response */
    LLMSVC_E_CONFIG = 8,               /* bad spec, bad plugin, bad options */
    LLMSVC_E_NOMEM = 9,
    LLMSVC_E_INVALID_ARG = 10,         /* a programming error by the caller */
    LLMSVC_E_CANCELLED = 11,
    LLMSVC_E_STORE = 12,               /* job store unreachable or corrupt */
    LLMSVC_E_NOT_FOUND = 13,           /* no such job */
    LLMSVC_E_TIMEOUT = 14,             /* a wait ran out (not a network timeout) */
    LLMSVC_E_RATE_LIMITED = 15,        /* refused by a client-side rate limit (local policy) */
    LLMSVC_E_BUDGET_EXCEEDED = 16      /* refused by a spending budget (local policy) */
} llmsvc_code;

typedef struct llmsvc_error llmsvc_error;
typedef struct llmsvc_runtime llmsvc_runtime;
typedef struct llmsvc_request llmsvc_request;
typedef struct llmsvc_response llmsvc_response;
typedef struct llmsvc_store llmsvc_store;
typedef struct llmsvc_worker llmsvc_worker;

/* A function call the model asked for. */
typedef struct llmsvc_tool_call {
    const char *id;        /* the provider's id, to answer with llmsvc_request_add_tool_result */
    const char *name;
    const char *arguments; /* JSON text */
} llmsvc_tool_call;

/* ---- version and memory ---- */

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
LLMSVC_EXTERN const char *llmsvc_version(void);

/* Frees a string or buffer the library returned through a `char **`. */
LLMSVC_EXTERN void llmsvc_free(void *p);

/* ---- errors ---- */

/* Upper-case class name of a code: "VALIDATION", "API", ... ("OK" for 0). */
LLMSVC_EXTERN const char *llmsvc_code_name(llmsvc_code code);
LLMSVC_EXTERN void llmsvc_error_free(llmsvc_error *err);
LLMSVC_EXTERN llmsvc_code llmsvc_error_code(const llmsvc_error *err);
/* What happened, where, and what to do; several problems are separate lines. */
LLMSVC_EXTERN const char *llmsvc_error_message(const llmsvc_error *err);
/* Non-zero when the same call may succeed if retried later. */
LLMSVC_EXTERN int llmsvc_error_retryable(const llmsvc_error *err);
/* HTTP status of an API error, else 0. */
LLMSVC_EXTERN int llmsvc_error_http_status(const llmsvc_error *err);
/* Provider's own error type and code ("invalid_request_error",
 * "unsupported_parameter"), and the request field concerned; NULL if none. */
LLMSVC_EXTERN const char *llmsvc_error_provider_type(const llmsvc_error *err);
LLMSVC_EXTERN const char *llmsvc_error_provider_code(const llmsvc_error *err);
LLMSVC_EXTERN const char *llmsvc_error_param(const llmsvc_error *err);
/* Delay the provider asked for before a retry (retry-after), else -1. */
LLMSVC_EXTERN long llmsvc_error_retry_after_ms(const llmsvc_error *err);
/* {"code","message","retryable",...} as a JSON text; *out freed with llmsvc_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_error_to_json(char **out, const llmsvc_error *err);

/* ---- runtime ---- */

typedef enum llmsvc_log_level {
    LLMSVC_LOG_DEBUG = 0,
    LLMSVC_LOG_INFO = 1,
    LLMSVC_LOG_WARN = 2,
    LLMSVC_LOG_ERROR = 3,
    LLMSVC_LOG_OFF = 4
} llmsvc_log_level;

/* Receives each log line (no trailing newline). Called from any thread. */
typedef void (*llmsvc_log_fn)(void *user, llmsvc_log_level level, const char *message);

/* Skip LLMSVC_PLUGIN_PATH / LLMSVC_SPEC_PATH / provider base-URL variables. */
#define LLMSVC_OPT_NO_ENV 0x1u
/* Skip the build's or install's default plugin folder. */
#define LLMSVC_OPT_NO_DEFAULT_PLUGINS 0x2u
/* Skip the build's or install's default spec folders. */
#define LLMSVC_OPT_NO_DEFAULT_SPECS 0x4u
/* Fail llmsvc_runtime_open when any spec file has a problem (default: skip
 * the file and log each problem as a warning). */
#define LLMSVC_OPT_STRICT_SPECS 0x8u

#define LLMSVC_OPTIONS_VERSION 2

typedef struct llmsvc_options {
    unsigned int version;       /* LLMSVC_OPTIONS_VERSION */
    unsigned int flags;         /* LLMSVC_OPT_* */
    const char *plugin_path;    /* ':'-separated; searched before LLMSVC_PLUGIN_PATH and the default */
    const char *spec_path;      /* ':'-separated; read after the default and LLMSVC_SPEC_PATH */
    long connect_timeout_ms;    /* 0: 10 s */
    long timeout_ms;            /* whole call, per attempt; 0: 600 s */
    int max_retries;            /* retries of retryable failures; -1: 2 */
    size_t max_response_bytes;  /* larger responses fail with PROVIDER; 0: 16 MiB */
    llmsvc_log_fn log;          /* NULL: warnings and errors go to stderr */
    void *log_user;
    llmsvc_log_level log_level; /* lines below this level are dropped */
    /* version 2 */
    size_t cache_max_bytes;     /* the in-process response cache; 0: 64 MiB */
} llmsvc_options;

#define LLMSVC_OPTIONS_INIT \
    { LLMSVC_OPTIONS_VERSION, 0, NULL, NULL, 0, 0, -1, 0, NULL, NULL, LLMSVC_LOG_WARN, 0 }

/* Fills *opts with the defaults (same as LLMSVC_OPTIONS_INIT). */
LLMSVC_EXTERN void llmsvc_options_init(llmsvc_options *opts);

/* Loads plugins and specs. opts may be NULL for the defaults. A refused plugin
 * or a bad spec file is logged and skipped; open fails only when the options
 * are invalid (CONFIG, INVALID_ARG) or with LLMSVC_OPT_STRICT_SPECS. The
 * proxy variables (http_proxy, https_proxy, all_proxy, no_proxy; upper case
 * too but HTTP_PROXY, as libcurl reads them) are read here, once, whatever
 * the flags: a runtime opened later sees a change. */
LLMSVC_EXTERN llmsvc_code llmsvc_runtime_open(llmsvc_runtime **out, const llmsvc_options *opts,
                                              llmsvc_error **err);
/* Waits for nothing: the caller ensures no call is in flight. NULL-safe. */
LLMSVC_EXTERN void llmsvc_runtime_close(llmsvc_runtime *rt);

/* The routes, rate limits and budgets of the loaded routes files, as
 * {"routes":[{name, kind, targets, fallback_on | sticky, cache_ttl_s, where}],
 *  "limits":[{provider, model, limit, requests_per_second, request_burst,
 *  tokens_per_minute, scope, on_empty, max_wait_s, where}],
 *  "budgets":[{project | organization, daily_usd, monthly_usd, where}]}.
 * *out freed with llmsvc_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_runtime_routes_json(char **out, llmsvc_runtime *rt,
                                                     llmsvc_error **err);

/* Every plugin file tried, as a JSON array of {path, status: "loaded"|"refused",
 * name, version, abi, protocols, reason}. *out freed with llmsvc_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_runtime_plugins_json(char **out, llmsvc_runtime *rt,
                                                      llmsvc_error **err);
/* Models as a JSON array of {provider, api, model, aliases, capabilities,
 * context_window, max_output_tokens, pricing, parameters, lifecycle};
 * provider may be NULL for all. */
LLMSVC_EXTERN llmsvc_code llmsvc_runtime_models_json(char **out, llmsvc_runtime *rt,
                                                     const char *provider, llmsvc_error **err);
/* Problems found while loading specs, one "file:line:col: message" per line,
 * or NULL when there were none. Owned by the runtime; valid until the next
 * reload. */
LLMSVC_EXTERN const char *llmsvc_runtime_spec_problems(const llmsvc_runtime *rt);

/* Reads the spec folders again and swaps the new specs in at once: calls in
 * flight finish on the specs they started with, new calls see the new ones.
 * When any file has a problem, nothing changes and CONFIG gives every problem
 * as "file:line:col: message". Thread-safe; never waits for calls to end. */
LLMSVC_EXTERN llmsvc_code llmsvc_runtime_reload_specs(llmsvc_runtime *rt, llmsvc_error **err);

/* Checks spec files or folders without opening a runtime; with no paths, the
 * folders a runtime would read (the default ones and LLMSVC_SPEC_PATH). On
 * success *summary (freed with llmsvc_free) says how many files, providers and
 * models were read; otherwise CONFIG with every problem as a
 * "file:line:col: message" line. */
LLMSVC_EXTERN llmsvc_code llmsvc_specs_check(char **summary, const char *const *paths,
                                             size_t n_paths, llmsvc_error **err);

/* ---- requests ---- */

LLMSVC_EXTERN llmsvc_code llmsvc_request_new(llmsvc_request **out);
/* Parses the LLMCallRequest JSON shape:
 * {"llm": {"prompt", "instructions", "vector_store_id",
 *          "llm_model_spec": {"provider", "model", "temperature", "top_p",
 *                             "top_k", "max_tokens", "seed", "stop",
 *                             "reasoning": {"effort"}, "text": {"verbosity"}}},
 *  "max_num_results", "provider_options": {...}, "project_id", "organization_id"}
 * Unknown fields are VALIDATION errors naming the field. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_from_json(llmsvc_request **out, const char *json,
                                                   size_t len, llmsvc_error **err);
/* The request in the same JSON shape (no API key ever). *out freed with llmsvc_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_to_json(char **out, const llmsvc_request *req);
LLMSVC_EXTERN void llmsvc_request_free(llmsvc_request *req);

/* Setters copy their strings; NULL clears. INVALID_ARG on a bad argument. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_provider(llmsvc_request *req, const char *provider);
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_model(llmsvc_request *req, const char *model);
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_prompt(llmsvc_request *req, const char *prompt);
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_instructions(llmsvc_request *req, const char *text);
/* max_num_results 0 leaves the provider's default. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_vector_store(llmsvc_request *req, const char *id,
                                                          int max_num_results);
/* File-search results to return (1..1000; 0 leaves the provider's default). */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_max_results(llmsvc_request *req, int max_num_results);
/* Generic parameter setters by llmsvc's parameter name (specs/README.md):
 * "temperature", "top_p", "top_k", "max_tokens", "reasoning_effort",
 * "verbosity", "seed", "presence_penalty", "frequency_penalty".
 * INVALID_ARG for an unknown name or a value of the wrong type. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_number(llmsvc_request *req, const char *name,
                                                    double value);
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_string(llmsvc_request *req, const char *name,
                                                    const char *value);
/* Appends a stop sequence. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_add_stop(llmsvc_request *req, const char *stop);
/* Removes a parameter set earlier. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_unset(llmsvc_request *req, const char *name);
/* Conversations. A request may hold turns (role "system", "developer",
 * "user", "assistant") besides or instead of the prompt; the prompt, when set,
 * is sent as a last user turn. VALIDATION for an unknown role. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_add_message(llmsvc_request *req, const char *role,
                                                     const char *content);
/* An image (by URL) in the last turn; needs a model with vision. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_add_image(llmsvc_request *req, const char *url);
/* The assistant turn of a response — its text, tool calls and provider state
 * (thinking signatures, encrypted reasoning), which go back unchanged. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_add_response(llmsvc_request *req,
                                                      const llmsvc_response *resp);
/* A tool's answer to the model's call tool_call_id. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_add_tool_result(llmsvc_request *req,
                                                         const char *tool_call_id,
                                                         const char *content);
/* Tools: a function the model may call; parameters is its JSON Schema
 * (VALIDATION when not a JSON object). Needs a model with the tools capability. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_add_tool(llmsvc_request *req, const char *name,
                                                  const char *description,
                                                  const char *parameters, llmsvc_error **err);
/* "auto", "none", "required", or the name of one of the request's tools. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_tool_choice(llmsvc_request *req, const char *choice);
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_parallel_tool_calls(llmsvc_request *req, int on);
/* Structured output: the answer follows this JSON Schema (a JSON object;
 * VALIDATION otherwise). Needs the structured_output capability. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_response_format(llmsvc_request *req,
                                                             const char *name,
                                                             const char *schema, int strict,
                                                             llmsvc_error **err);
/* An extra HTTP header for this call only (a gateway's routing header...). */
LLMSVC_EXTERN llmsvc_code llmsvc_request_add_header(llmsvc_request *req, const char *name,
                                                    const char *value);
/* Routes (specs/README.md "Routes"): a route's name instead of provider and
 * model; its fallbacks are tried in turn, or its split picks one arm. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_route(llmsvc_request *req, const char *route);
/* The end user; a split with `sticky: user` keeps each user on one arm. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_user(llmsvc_request *req, const char *user);
/* An explicit key for a split with `sticky: key`. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_sticky_key(llmsvc_request *req, const char *key);
/* 0: neither read nor fill the response cache for this call (default 1). */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_cache(llmsvc_request *req, int use_cache);
/* Who the call is for, kept in its call record and job (each may be NULL). */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_project(llmsvc_request *req, const char *project_id,
                                                     const char *organization_id);
/* Per-call overrides of the runtime's settings; base_url replaces the spec's and
 * the environment's; api_key replaces the environment variable's value. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_base_url(llmsvc_request *req, const char *url);
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_api_key(llmsvc_request *req, const char *key);
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_timeout_ms(llmsvc_request *req, long timeout_ms);
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_max_retries(llmsvc_request *req, int retries);
/* A JSON object handed to the provider's plugin as is (the mock plugin reads
 * its script from it). VALIDATION if json is not an object. */
LLMSVC_EXTERN llmsvc_code llmsvc_request_set_provider_options(llmsvc_request *req,
                                                              const char *json,
                                                              llmsvc_error **err);

/* ---- calls ---- */

/* Validates req against its model's spec, sends it through the provider's
 * plugin (retrying retryable failures), and returns the unified response.
 * Thread-safe. *out freed with llmsvc_response_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_call(llmsvc_runtime *rt, const llmsvc_request *req,
                                      llmsvc_response **out, llmsvc_error **err);

/* Checks req against its model's spec as llmsvc_call would (provider, model,
 * lifecycle, parameters, capabilities, a plugin for its protocol), without the
 * endpoint and key, and without sending anything. */
LLMSVC_EXTERN llmsvc_code llmsvc_validate(llmsvc_runtime *rt, const llmsvc_request *req,
                                          llmsvc_error **err);

/* ---- streaming ---- */

typedef enum llmsvc_event_type {
    LLMSVC_EVENT_TEXT = 1,       /* text: a piece of the answer */
    LLMSVC_EVENT_REASONING = 2,  /* text: a piece of the reasoning summary */
    LLMSVC_EVENT_TOOL_START = 3, /* index, id, name: a tool call begins */
    LLMSVC_EVENT_TOOL_ARGS = 4,  /* index, text: a piece of its arguments (JSON text) */
    LLMSVC_EVENT_TOOL_END = 5,   /* index: its arguments are complete */
    LLMSVC_EVENT_USAGE = 6,      /* response: token counts so far */
    LLMSVC_EVENT_DONE = 7,       /* response: the whole answer, finish reason set */
    LLMSVC_EVENT_ERROR = 8       /* error: the stream failed (the call returns it too) */
} llmsvc_event_type;

typedef struct llmsvc_event {
    llmsvc_event_type type;
    const char *text; /* TEXT, REASONING, TOOL_ARGS (not NUL-terminated: use len) */
    size_t len;
    int index;        /* TOOL_*: which call, when several stream at once */
    const char *id;   /* TOOL_START */
    const char *name; /* TOOL_START */
    const llmsvc_response *response; /* USAGE, DONE: valid during the callback */
    const llmsvc_error *error;       /* ERROR */
} llmsvc_event;

/* Called on the calling thread for each event. A non-zero return stops the
 * call promptly (it ends with CANCELLED). */
typedef int (*llmsvc_stream_fn)(void *user, const llmsvc_event *event);

/* llmsvc_call, streaming: events reach fn as they arrive; *out is the whole
 * response assembled from them (equal to the non-streaming one). A call is
 * retried only while nothing has reached fn. When the stream breaks after
 * some text, the error is TRANSPORT and *out (if out is not NULL) still gets
 * the partial response. Needs the streaming capability. */
LLMSVC_EXTERN llmsvc_code llmsvc_call_stream(llmsvc_runtime *rt, const llmsvc_request *req,
                                             llmsvc_stream_fn fn, void *user,
                                             llmsvc_response **out, llmsvc_error **err);

/* ---- responses ---- */

LLMSVC_EXTERN void llmsvc_response_free(llmsvc_response *resp);
LLMSVC_EXTERN const char *llmsvc_response_id(const llmsvc_response *resp);
LLMSVC_EXTERN const char *llmsvc_response_provider(const llmsvc_response *resp);
/* The model the provider reports (often a dated snapshot of the one asked for). */
LLMSVC_EXTERN const char *llmsvc_response_model(const llmsvc_response *resp);
/* The assistant's text ("" when there is none). */
LLMSVC_EXTERN const char *llmsvc_response_message(const llmsvc_response *resp);
/* "stop", "length", "content_filter", "refusal", "tool_calls", "error", ... */
LLMSVC_EXTERN const char *llmsvc_response_finish_reason(const llmsvc_response *resp);
/* Reasoning summary text the provider returned, or NULL. */
LLMSVC_EXTERN const char *llmsvc_response_reasoning(const llmsvc_response *resp);

typedef enum llmsvc_token_kind {
    LLMSVC_TOKENS_INPUT = 0,        /* all input tokens, cached ones included */
    LLMSVC_TOKENS_OUTPUT = 1,       /* all output tokens, reasoning included */
    LLMSVC_TOKENS_REASONING = 2,
    LLMSVC_TOKENS_CACHED_INPUT = 3, /* input tokens read from the provider's cache */
    LLMSVC_TOKENS_CACHE_WRITE = 4,  /* input tokens written to the provider's cache */
    LLMSVC_TOKENS_TOTAL = 5
} llmsvc_token_kind;

/* A token count, or -1 when the provider did not report it. */
LLMSVC_EXTERN int64_t llmsvc_response_tokens(const llmsvc_response *resp, llmsvc_token_kind kind);
/* USD from usage and the spec's prices, or -1 when usage or prices are unknown. */
LLMSVC_EXTERN double llmsvc_response_cost_usd(const llmsvc_response *resp);
/* Wall time of the call, retries included, in milliseconds. */
LLMSVC_EXTERN double llmsvc_response_latency_ms(const llmsvc_response *resp);
/* Attempts made (1 when the first one succeeded). */
LLMSVC_EXTERN int llmsvc_response_attempts(const llmsvc_response *resp);

typedef struct llmsvc_file_result {
    const char *file_id;
    const char *filename;
    double score;
    const char *text;
} llmsvc_file_result;

LLMSVC_EXTERN size_t llmsvc_response_file_result_count(const llmsvc_response *resp);
/* The i-th file-search result; its strings belong to resp. NULL if out of range. */
LLMSVC_EXTERN const llmsvc_file_result *llmsvc_response_file_result(const llmsvc_response *resp,
                                                                    size_t i);

/* Tool calls the model made (finish_reason "tool_calls"). */
LLMSVC_EXTERN size_t llmsvc_response_tool_call_count(const llmsvc_response *resp);
LLMSVC_EXTERN const llmsvc_tool_call *llmsvc_response_tool_call(const llmsvc_response *resp,
                                                                size_t i);
/* The route that served the call (NULL without one) and, in *arm, its split
 * arm (NULL for fallbacks). */
LLMSVC_EXTERN const char *llmsvc_response_route(const llmsvc_response *resp, const char **arm);
/* Non-zero when the answer came from the response cache (it cost nothing). */
LLMSVC_EXTERN int llmsvc_response_cached(const llmsvc_response *resp);
/* The targets a route tried, in order: provider (returned), model and the
 * outcome (LLMSVC_OK for the one that answered). NULL when out of range. */
LLMSVC_EXTERN size_t llmsvc_response_route_attempt_count(const llmsvc_response *resp);
LLMSVC_EXTERN const char *llmsvc_response_route_attempt(const llmsvc_response *resp, size_t i,
                                                        const char **model, llmsvc_code *code);
/* The provider state of the answer (exact JSON text) and, in *protocol, the
 * protocol it belongs to; NULL when there is none. llmsvc_request_add_response
 * carries it into the next turn. */
LLMSVC_EXTERN const char *llmsvc_response_state(const llmsvc_response *resp,
                                                const char **protocol);

/* {"id","provider","model","message","finish_reason","input_tokens",
 *  "output_tokens","reasoning_tokens","cached_input_tokens","cache_write_tokens",
 *  "total_tokens","cost_usd","latency_ms","attempts","file_search_results":[...],
 *  "tool_calls":[{"id","name","arguments"}], "assistant_message": {"role",
 *  "content","tool_calls","state":{"protocol","data"}}} — assistant_message is
 *  what llmsvc_request_from_json takes back in "messages" for the next turn;
 *  "cached" (a response-cache hit), and with a route "route", "arm" and
 *  "route_attempts":[{"provider","model","code","http_status","message",
 *  "latency_ms"}]. Unknown counts are null. *out freed with llmsvc_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_response_to_json(char **out, const llmsvc_response *resp);
/* The response back from that JSON (e.g. a job's result): its answer, usage,
 * cost, tool calls and state (not its route attempts). VALIDATION on another
 * shape. *out freed with llmsvc_response_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_response_from_json(llmsvc_response **out, const char *json,
                                                    llmsvc_error **err);

/* ---- job stores, jobs, workers and call records ---- */

/* Opens a job store by URL: "sqlite:PATH" (the embedded default; the file and
 * its folder are created when missing; WAL mode, safe for several processes on
 * one machine) or "postgres://..." / "postgresql://..." (a libpq URI; many
 * workers on many machines). The schema is created or upgraded on open, safely
 * when several processes open the same store at once. STORE error when the
 * store is unreachable, corrupt, or of a newer schema. Thread-safe. */
LLMSVC_EXTERN llmsvc_code llmsvc_store_open(llmsvc_store **out, const char *url,
                                            llmsvc_error **err);
LLMSVC_EXTERN void llmsvc_store_close(llmsvc_store *st);
/* The URL used when none is given: $LLMSVC_STORE, else
 * "sqlite:$XDG_DATA_HOME/llmsvc/llmsvc.db" (XDG_DATA_HOME defaulting to
 * ~/.local/share). *out freed with llmsvc_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_store_default_url(char **out);

#define LLMSVC_JOB_OPTIONS_VERSION 1

typedef struct llmsvc_job_options {
    unsigned int version;        /* LLMSVC_JOB_OPTIONS_VERSION */
    const char *project_id;      /* may be NULL */
    const char *organization_id; /* may be NULL */
    const char *idempotency_key; /* a second submit with the same key gives the first job's id */
    int max_attempts;            /* attempts before a retryable failure is final; 0: 3 */
} llmsvc_job_options;

#define LLMSVC_JOB_OPTIONS_INIT { LLMSVC_JOB_OPTIONS_VERSION, NULL, NULL, NULL, 0 }

/* Queues a call as a job (state "pending"); *job_id freed with llmsvc_free.
 * The request is stored as JSON without any API key: a worker reads keys and
 * base URLs from its own environment. */
LLMSVC_EXTERN llmsvc_code llmsvc_job_submit(llmsvc_store *st, const llmsvc_request *req,
                                            const llmsvc_job_options *opts, char **job_id,
                                            llmsvc_error **err);
/* The job as JSON: {"id", "state": "pending"|"running"|"succeeded"|"failed"|
 * "cancelled", "attempts", "max_attempts", "project_id", "organization_id",
 * "created_at", "started_at", "finished_at" (ISO 8601 UTC or null), "result"
 * (the response JSON or null), "error" (the error JSON or null)}.
 * NOT_FOUND for an unknown id. *json freed with llmsvc_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_job_get(llmsvc_store *st, const char *job_id, char **json,
                                         llmsvc_error **err);
/* Waits until the job has ended or timeout_ms passed (-1: no limit; TIMEOUT
 * error then); *json as llmsvc_job_get. */
LLMSVC_EXTERN llmsvc_code llmsvc_job_wait(llmsvc_store *st, const char *job_id, long timeout_ms,
                                          char **json, llmsvc_error **err);
/* Cancels a pending or running job (a running call's result is discarded when
 * it arrives). VALIDATION when the job has already ended, NOT_FOUND when unknown. */
LLMSVC_EXTERN llmsvc_code llmsvc_job_cancel(llmsvc_store *st, const char *job_id,
                                            llmsvc_error **err);

#define LLMSVC_WORKER_OPTIONS_VERSION 1

typedef struct llmsvc_worker_options {
    unsigned int version; /* LLMSVC_WORKER_OPTIONS_VERSION */
    int concurrency;      /* jobs run at once (threads); 0: 4 */
    long lease_ms;        /* a running job whose worker stops renewing this long runs
                             again elsewhere; renewed every third of it; 0: 30000 */
    long poll_ms;         /* longest sleep when idle (PostgreSQL wakes at once on a
                             new job); 0: 1000 for SQLite, 5000 for PostgreSQL */
} llmsvc_worker_options;

#define LLMSVC_WORKER_OPTIONS_INIT { LLMSVC_WORKER_OPTIONS_VERSION, 0, 0, 0 }

/* Starts threads that claim and run jobs from st through rt. Each job's
 * attempt writes a call record. Retryable failures go back to pending with
 * exponential back-off until max_attempts; others fail at once. */
LLMSVC_EXTERN llmsvc_code llmsvc_worker_start(llmsvc_worker **out, llmsvc_runtime *rt,
                                              llmsvc_store *st, const llmsvc_worker_options *opts,
                                              llmsvc_error **err);
/* Stops claiming; waits up to drain_ms for running jobs to finish, and
 * releases the ones still running back to pending (their attempt not counted;
 * their results, when the calls end, are dropped). Returns how many were
 * released. A host about to exit can call this and exit; the threads are not
 * waited for. */
LLMSVC_EXTERN int llmsvc_worker_drain(llmsvc_worker *w, long drain_ms);
/* llmsvc_worker_drain, then waits for every thread (calls still running end by
 * their own timeouts) and frees w. */
LLMSVC_EXTERN void llmsvc_worker_stop(llmsvc_worker *w, long drain_ms);
/* Jobs this worker finished so far: succeeded, failed (final), requeued. */
LLMSVC_EXTERN void llmsvc_worker_counts(const llmsvc_worker *w, long *succeeded, long *failed,
                                        long *requeued);

/* Records every direct llmsvc_call of rt in st (NULL: stop recording). st must
 * stay open while rt is used. Jobs are always recorded in their own store. */
LLMSVC_EXTERN llmsvc_code llmsvc_runtime_set_records(llmsvc_runtime *rt, llmsvc_store *st);

#define LLMSVC_RECORDS_FILTER_VERSION 1

typedef struct llmsvc_records_filter {
    unsigned int version;   /* LLMSVC_RECORDS_FILTER_VERSION */
    const char *project_id; /* NULL: all */
    int64_t since_ms;       /* Unix time in ms; 0: all */
    /* "model" (provider and model; the default), "project", or "variant": per
     * route and split arm, calls made through a route only, each row also
     * with latency_ms_p50 and latency_ms_p95 (nearest-rank, of its successful
     * calls; null when it has none). Every row has cache_hits. */
    const char *group_by;
} llmsvc_records_filter;

#define LLMSVC_RECORDS_FILTER_INIT { LLMSVC_RECORDS_FILTER_VERSION, NULL, 0, NULL }

/* Sums of the call records: a JSON array of {provider, model (or project_id),
 * calls, failures, input_tokens, output_tokens, reasoning_tokens, cost_usd,
 * latency_ms_avg}. *json freed with llmsvc_free. */
LLMSVC_EXTERN llmsvc_code llmsvc_records_summary(llmsvc_store *st,
                                                 const llmsvc_records_filter *filter, char **json,
                                                 llmsvc_error **err);

#ifdef __cplusplus
}
#endif

#endif /* LLMSVC_LLMSVC_H */
