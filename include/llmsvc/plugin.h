/*
 * llmsvc plugin ABI — the one header (with llmsvc.h and json-c) a provider
 * plugin includes. docs/plugins.md walks through writing one.
 *
 * A plugin is a shared object exporting one data symbol, `llmsvc_plugin`,
 * defined with LLMSVC_PLUGIN_DEFINE. The core reads its ABI version before
 * running any plugin code and refuses a different major or a newer minor.
 * Then it calls desc->init, in which the plugin registers each wire protocol
 * it speaks with host->register_api.
 *
 * Stability: within ABI major 1, structs here only grow at their end (their
 * `size` field says how much the other side knows), host functions are only
 * appended, and enum values never change.
 *
 * Ownership, everywhere below: what the core hands to a plugin is borrowed for
 * the duration of the call; what a plugin hands to the core through host
 * functions is copied (strings) or taken over (json objects, where noted).
 * A plugin never frees core memory and the core never frees plugin memory.
 *
 * Threads: every op may be called from many threads at once; ops must be
 * reentrant. Per-plugin state lives behind the pointer `init` returns.
 */
#ifndef LLMSVC_PLUGIN_H
#define LLMSVC_PLUGIN_H

#include <llmsvc/llmsvc.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLMSVC_PLUGIN_ABI_MAJOR 1
#define LLMSVC_PLUGIN_ABI_MINOR 1

#if defined(__GNUC__)
#define LLMSVC_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define LLMSVC_PLUGIN_EXPORT
#endif

struct json_object; /* json-c */

typedef struct llmsvc_host llmsvc_host;
typedef struct llmsvc_registrar llmsvc_registrar;     /* opaque */
typedef struct llmsvc_http_request llmsvc_http_request; /* opaque, filled through host */
typedef struct llmsvc_http_response llmsvc_http_response; /* opaque, read through host */
typedef struct llmsvc_jdoc llmsvc_jdoc;                   /* a parsed JSON text, read through host */
typedef struct llmsvc_jv llmsvc_jv;     /* a request body's JSON value (host->jv_*, ABI 1.1) */

/* JSON value types of host->jdoc_type. */
#define LLMSVC_JSON_OBJECT 1
#define LLMSVC_JSON_ARRAY 2
#define LLMSVC_JSON_STRING 3
#define LLMSVC_JSON_NUMBER 4
#define LLMSVC_JSON_BOOL 5
#define LLMSVC_JSON_NULL 6

/* ---- what a call looks like to a plugin ---- */

typedef enum llmsvc_param_type {
    LLMSVC_PARAM_FLOAT = 1,
    LLMSVC_PARAM_INT = 2,
    LLMSVC_PARAM_ENUM = 3,
    LLMSVC_PARAM_STRING = 4,
    LLMSVC_PARAM_BOOL = 5,
    LLMSVC_PARAM_STRING_LIST = 6
} llmsvc_param_type;

/* One effective request parameter: set by the caller or filled from the spec's
 * default, already validated against the model's spec. */
typedef struct llmsvc_param {
    const char *name;         /* llmsvc's name: "temperature", "max_tokens", ... */
    const char *wire;         /* the spec's `wire` path ("max_completion_tokens",
                                 "generationConfig.topK"), or NULL: use the plugin's own */
    llmsvc_param_type type;
    double number;            /* FLOAT, INT (exact), BOOL (0 or 1) */
    const char *string;       /* ENUM, STRING */
    const char *const *list;  /* STRING_LIST */
    size_t list_len;
    long budget;              /* reasoning_effort: the spec's token budget for this
                                 value, or -1 when the spec gives none */
} llmsvc_param;

typedef struct llmsvc_kv {
    const char *name;
    const char *value;
} llmsvc_kv;

/* Capability bits of a model (spec `capabilities`). */
#define LLMSVC_CAP_STREAMING (1u << 0)
#define LLMSVC_CAP_VISION (1u << 1)
#define LLMSVC_CAP_TOOLS (1u << 2)
#define LLMSVC_CAP_FILE_SEARCH (1u << 3)
#define LLMSVC_CAP_STRUCTURED_OUTPUT (1u << 4)
#define LLMSVC_CAP_REASONING (1u << 5)

/* One turn of a conversation. All pointers borrowed. */
typedef struct llmsvc_message {
    const char *role;                    /* "system", "developer", "user", "assistant", "tool" */
    const char *content;                 /* its text, or NULL */
    const char *const *images;           /* image URLs (user turns; vision models) */
    size_t n_images;
    const llmsvc_tool_call *tool_calls;  /* the calls an assistant turn made */
    size_t n_tool_calls;
    const char *tool_call_id;            /* a tool turn: the call it answers */
    const char *state_protocol;          /* an assistant turn's provider state: the
                                            protocol that produced it ... */
    const char *state;                   /* ... and its exact JSON text, to send back
                                            byte for byte; NULL when none */
} llmsvc_message;

/* A function the model may call. */
typedef struct llmsvc_tool {
    const char *name;
    const char *description; /* may be NULL */
    const char *parameters;  /* JSON Schema of the arguments, as JSON text */
} llmsvc_tool;

/* A validated call, as the plugin sees it. All pointers borrowed. */
typedef struct llmsvc_call_info {
    size_t size;                 /* sizeof(llmsvc_call_info) in the core */
    const char *provider;        /* "openai" */
    const char *api;             /* the protocol: "openai-responses" */
    const char *model;           /* the model's spec name, sent on the wire */
    const char *base_url;        /* resolved: call > environment > spec; no trailing '/' */
    const char *api_key;         /* NULL when none is set; never log it */
    const char *api_key_env;     /* the variable's name, for messages; may be NULL */
    const char *prompt;          /* NULL when absent */
    const char *instructions;    /* NULL when absent */
    const char *vector_store_id; /* NULL when absent */
    int max_num_results;         /* 0: provider's default */
    uint32_t capabilities;       /* LLMSVC_CAP_* of the model */
    const llmsvc_param *params;  /* effective parameters */
    size_t n_params;
    const llmsvc_kv *options;    /* the spec's `options:` */
    size_t n_options;
    const struct json_object *provider_options; /* the request's, or NULL */
    int attempt;                 /* 1 for the first attempt of a call, 2 for its first retry... */
    /* the conversation: the request's messages, then the prompt (if any) as
     * a last user turn; instructions stay apart (the system prompt) */
    const llmsvc_message *messages;
    size_t n_messages;
    const llmsvc_tool *tools;
    size_t n_tools;
    const char *tool_choice;      /* NULL (the provider's default), "auto", "none",
                                     "required", or "tool" for tool_choice_name */
    const char *tool_choice_name;
    int parallel_tool_calls;      /* -1: the provider's default; 0 or 1 */
    const char *response_format_name;   /* structured output: a name ... */
    const char *response_format_schema; /* ... and a JSON Schema (JSON text), or NULL */
    int response_format_strict;
    int stream;                   /* build a streaming request (parse_event reads it) */
} llmsvc_call_info;

/* One server-sent event of a streaming response. */
typedef struct llmsvc_sse_event {
    const char *event; /* the `event:` field, or "" */
    const char *data;  /* the `data:` lines joined by '\n', NUL-terminated */
    size_t data_len;
    const char *id;    /* the `id:` field, or "" */
} llmsvc_sse_event;

typedef struct llmsvc_stream llmsvc_stream; /* where a plugin puts stream deltas (host->stream_*) */

/* ---- the operations of one wire protocol ---- */

typedef struct llmsvc_api_ops {
    size_t size;      /* sizeof(llmsvc_api_ops) at the plugin's build */
    const char *name; /* protocol name: "openai-responses"; [a-z0-9-]+ */

    /* Optional. Creates per-protocol state; *state is passed to every op. */
    llmsvc_code (*init)(void **state, llmsvc_error **err);
    /* Optional. Destroys what init made. */
    void (*shutdown)(void *state);

    /* Fills the HTTP request (URL, headers, JSON body) for a call, through
     * host->http_*. The core adds the spec's extra headers, sends, retries. */
    llmsvc_code (*build_request)(void *state, const llmsvc_call_info *call, llmsvc_http_request *out,
                                 llmsvc_error **err);
    /* Turns the provider's HTTP answer (any status) into the response, through
     * host->resp_*, or into an error: LLMSVC_E_API for an error body (the core
     * adds the status, retryability and retry-after), LLMSVC_E_PROVIDER for a
     * body it cannot read. */
    llmsvc_code (*parse_response)(void *state, const llmsvc_call_info *call,
                                  const llmsvc_http_response *in, llmsvc_response *out,
                                  llmsvc_error **err);
    /* Optional, for protocols that are not one HTTP exchange (the mock): does
     * the whole call. When set, build_request/parse_response are not used. */
    llmsvc_code (*execute)(void *state, const llmsvc_call_info *call, llmsvc_response *out,
                           llmsvc_error **err);
    /* Optional: streaming. One event of a streaming answer (2xx, text/event-
     * stream) → deltas through host->stream_* on sink; the end event calls
     * host->stream_done. *stream_state is NULL at a stream's start and the
     * plugin's own across its events. Returning an error ends the stream
     * (return LLMSVC_E_CANCELLED as given when a stream_* call returns it). */
    llmsvc_code (*parse_event)(void *state, const llmsvc_call_info *call,
                               const llmsvc_sse_event *ev, llmsvc_stream *sink,
                               void **stream_state, llmsvc_error **err);
    /* Optional: frees *stream_state when a stream ends, however it ends. */
    void (*stream_free)(void *state, void *stream_state);
    /* Optional: a whole streaming call for protocols with an execute op. */
    llmsvc_code (*execute_stream)(void *state, const llmsvc_call_info *call, llmsvc_stream *sink,
                                  llmsvc_error **err);
} llmsvc_api_ops;

/* Token usage a plugin reports; -1 for a count the provider did not give. */
typedef struct llmsvc_usage {
    size_t size;           /* sizeof(llmsvc_usage) */
    int64_t input;         /* all input tokens, cached included */
    int64_t output;        /* all output tokens, reasoning included */
    int64_t reasoning;
    int64_t cached_input;
    int64_t cache_write;
    int64_t total;         /* -1: the core computes input + output */
} llmsvc_usage;

#define LLMSVC_USAGE_INIT { sizeof(llmsvc_usage), -1, -1, -1, -1, -1, -1 }

/* String fields of a response a plugin sets. */
typedef enum llmsvc_resp_field {
    LLMSVC_RESP_ID = 1,
    LLMSVC_RESP_MODEL = 2,
    LLMSVC_RESP_FINISH_REASON = 3
} llmsvc_resp_field;

/* ---- the host's functions, handed to the plugin ---- */

struct llmsvc_host {
    size_t size;        /* sizeof(llmsvc_host) in the core */
    uint16_t abi_major; /* the core's LLMSVC_PLUGIN_ABI_MAJOR */
    uint16_t abi_minor;

    /* Registers a protocol; called from the plugin's init only. `ops` must stay
     * valid while the plugin is loaded (a static const struct). CONFIG if the
     * name is taken or malformed. */
    llmsvc_code (*register_api)(llmsvc_registrar *reg, const llmsvc_api_ops *ops,
                                llmsvc_error **err);

    /* Logging through the runtime's logger. */
    void (*log)(llmsvc_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

    /* A new error with a formatted message (lowercase, no final period). */
    llmsvc_error *(*error_new)(llmsvc_code code, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
    /* Attaches the provider's error type, code and parameter (each may be NULL). */
    void (*error_set_provider)(llmsvc_error *err, const char *type, const char *code,
                               const char *param);
    /* Marks an error retryable (or not), overriding the core's judgement by status. */
    void (*error_set_retryable)(llmsvc_error *err, int retryable);
    /* Sets the HTTP status and the retry-after delay (ms, -1 none) of an error,
     * for protocols with an `execute` op (the core sets them for HTTP ones). */
    void (*error_set_http)(llmsvc_error *err, int status, long retry_after_ms);

    /* HTTP request building. URL and header values are copied. A secret header's
     * value is redacted wherever the core prints the request. */
    llmsvc_code (*http_set_url)(llmsvc_http_request *req, const char *url);
    llmsvc_code (*http_add_header)(llmsvc_http_request *req, const char *name,
                                   const char *value, int secret);
    /* Takes over `body` (json_object_put by the core). */
    llmsvc_code (*http_set_json_body)(llmsvc_http_request *req, struct json_object *body);

    /* HTTP response reading. The body is NUL-terminated; header lookup is
     * case-insensitive and returns NULL when absent. */
    int (*http_status)(const llmsvc_http_response *resp);
    const char *(*http_body)(const llmsvc_http_response *resp, size_t *len);
    const char *(*http_header)(const llmsvc_http_response *resp, const char *name);

    /* Response building; strings are copied. */
    llmsvc_code (*resp_set)(llmsvc_response *resp, llmsvc_resp_field field, const char *value);
    llmsvc_code (*resp_append_text)(llmsvc_response *resp, const char *text, size_t len);
    llmsvc_code (*resp_append_reasoning)(llmsvc_response *resp, const char *text, size_t len);
    llmsvc_code (*resp_set_usage)(llmsvc_response *resp, const llmsvc_usage *usage);
    llmsvc_code (*resp_add_file_result)(llmsvc_response *resp, const char *file_id,
                                        const char *filename, double score, const char *text);

    /* JSON helpers. json_set_path sets obj.a.b.c = value for "a.b.c", creating
     * objects on the way; it takes over `value`. param_to_json gives a new
     * json-c value for a parameter's value. */
    llmsvc_code (*json_set_path)(struct json_object *obj, const char *path,
                                 struct json_object *value);
    struct json_object *(*param_to_json)(const llmsvc_param *param);
    /* Reading JSON: the value at a dotted path ("usage.input_tokens_details.
     * cached_tokens"), or NULL when absent or when a step is not an object;
     * the typed forms also give NULL / def when the value has another type. */
    struct json_object *(*json_get)(const struct json_object *obj, const char *path);
    const char *(*json_get_string)(const struct json_object *obj, const char *path);
    int64_t (*json_get_int)(const struct json_object *obj, const char *path, int64_t def);
    /* Parses a provider's body; PROVIDER error naming the byte offset when it
     * is not one JSON value. *out is the caller's (json_object_put). */
    llmsvc_code (*json_parse)(const char *text, size_t len, struct json_object **out,
                              llmsvc_error **err);
    /* Deep-merges src's members into dst (objects merge, anything else replaces). */
    llmsvc_code (*json_merge)(struct json_object *dst, const struct json_object *src);

    /* The parameter of that name in the call, or NULL. */
    const llmsvc_param *(*call_param)(const llmsvc_call_info *call, const char *name);
    /* The spec option of that name, or NULL. */
    const char *(*call_option)(const llmsvc_call_info *call, const char *name);

    /* Fast reading of a provider's JSON body without building a json-c tree
     * (several times faster for responses): a document of tokens over the
     * text, which must outlive it. Nodes are ints (-1: none; 0: the root);
     * paths are dotted object keys. Strings returned belong to the document.
     * jdoc_parse: PROVIDER error naming the byte offset on malformed JSON
     * (err may be NULL when only the outcome matters). */
    llmsvc_code (*jdoc_parse)(const char *text, size_t len, llmsvc_jdoc **out,
                              llmsvc_error **err);
    void (*jdoc_free)(llmsvc_jdoc *doc);
    int (*jdoc_type)(const llmsvc_jdoc *doc, int node);      /* LLMSVC_JSON_*, 0 for -1 */
    size_t (*jdoc_count)(const llmsvc_jdoc *doc, int node);  /* members or items */
    int (*jdoc_get)(llmsvc_jdoc *doc, int node, const char *path);
    int (*jdoc_first)(const llmsvc_jdoc *doc, int node);     /* first item / member value */
    int (*jdoc_next)(const llmsvc_jdoc *doc, int node);      /* next sibling, or -1 */
    const char *(*jdoc_key)(llmsvc_jdoc *doc, int value_node); /* a member's key */
    const char *(*jdoc_str)(llmsvc_jdoc *doc, int node, size_t *len); /* unescaped, or NULL */
    int64_t (*jdoc_int)(const llmsvc_jdoc *doc, int node, int64_t def);
    double (*jdoc_num)(const llmsvc_jdoc *doc, int node, double def);
    int (*jdoc_bool)(const llmsvc_jdoc *doc, int node, int def);
    /* The node's exact source text, for state sent back byte for byte. */
    const char *(*jdoc_raw)(const llmsvc_jdoc *doc, int node, size_t *len);
    const char *(*jdoc_get_str)(llmsvc_jdoc *doc, int node, const char *path);
    int64_t (*jdoc_get_int)(llmsvc_jdoc *doc, int node, const char *path, int64_t def);

    /* Tool calls and provider state of the answer's assistant turn. The state
     * is the provider's exact JSON text (thinking blocks with signatures,
     * thought signatures, encrypted reasoning): hosts send it back unchanged
     * in the next turn, and the plugin writes it back as is (json_raw). */
    llmsvc_code (*resp_add_tool_call)(llmsvc_response *resp, const char *id, const char *name,
                                      const char *arguments);
    llmsvc_code (*resp_set_state)(llmsvc_response *resp, const char *protocol, const char *json,
                                  size_t len);
    /* A json-c value that serializes as exactly text (which must be JSON). */
    struct json_object *(*json_raw)(const char *text, size_t len);

    /* Streaming deltas (from parse_event or execute_stream). Each returns
     * LLMSVC_E_CANCELLED when the host asked to stop: return it at once. The
     * core also assembles the final response from them. */
    llmsvc_code (*stream_text)(llmsvc_stream *s, const char *text, size_t len);
    llmsvc_code (*stream_reasoning)(llmsvc_stream *s, const char *text, size_t len);
    llmsvc_code (*stream_tool_start)(llmsvc_stream *s, int index, const char *id,
                                     const char *name);
    llmsvc_code (*stream_tool_args)(llmsvc_stream *s, int index, const char *text, size_t len);
    llmsvc_code (*stream_tool_end)(llmsvc_stream *s, int index);
    /* Merges usage: counts >= 0 replace the ones so far. */
    llmsvc_code (*stream_usage)(llmsvc_stream *s, const llmsvc_usage *usage);
    /* The stream's end: its finish reason ("stop", "length", "tool_calls", ...). */
    llmsvc_code (*stream_done)(llmsvc_stream *s, const char *finish_reason);
    /* The response being assembled, for resp_set (id, model) and resp_set_state. */
    llmsvc_response *(*stream_response)(llmsvc_stream *s);

    /* ---- ABI 1.1: request bodies without json-c ----
     * The body as values in the request's own memory, written as text by the
     * transport: no allocation per value and nothing to free, several times
     * cheaper than a json-c tree. jv_body makes the body (an empty object,
     * replacing any body, json-c's too); the other constructors make values
     * to put into it. Strings and raw text are copied; jv_raw's text must be
     * one JSON value. Values belong to the request and live as long as it
     * does; a value goes into one container, once, and the body into none
     * (LLMSVC_E_INVALID_ARG, like a key on an array). A constructor gives NULL
     * when memory runs out, and jv_put / jv_push / jv_set_path given a NULL
     * container or value return LLMSVC_E_NOMEM: check once, at the end.
     * jv_put replaces a member of the same key where it stood; jv_set_path
     * and jv_merge work as json_set_path and json_merge do. */
    llmsvc_jv *(*jv_body)(llmsvc_http_request *req);
    llmsvc_jv *(*jv_object)(llmsvc_http_request *req);
    llmsvc_jv *(*jv_array)(llmsvc_http_request *req);
    llmsvc_jv *(*jv_string)(llmsvc_http_request *req, const char *s, size_t len);
    llmsvc_jv *(*jv_int)(llmsvc_http_request *req, int64_t v);
    llmsvc_jv *(*jv_double)(llmsvc_http_request *req, double v);
    llmsvc_jv *(*jv_bool)(llmsvc_http_request *req, int v);
    llmsvc_jv *(*jv_null)(llmsvc_http_request *req);
    llmsvc_jv *(*jv_raw)(llmsvc_http_request *req, const char *json, size_t len);
    llmsvc_jv *(*jv_param)(llmsvc_http_request *req, const llmsvc_param *param);
    llmsvc_code (*jv_put)(llmsvc_jv *obj, const char *key, llmsvc_jv *value);
    llmsvc_code (*jv_push)(llmsvc_jv *arr, llmsvc_jv *value);
    llmsvc_code (*jv_set_path)(llmsvc_jv *obj, const char *path, llmsvc_jv *value);
    llmsvc_code (*jv_merge)(llmsvc_jv *obj, const struct json_object *src);
};

/* ---- the exported descriptor ---- */

typedef struct llmsvc_plugin_desc {
    uint16_t abi_major;      /* LLMSVC_PLUGIN_ABI_MAJOR at the plugin's build; first, forever */
    uint16_t abi_minor;      /* LLMSVC_PLUGIN_ABI_MINOR at the plugin's build */
    uint32_t size;           /* sizeof(llmsvc_plugin_desc) at the plugin's build */
    const char *name;        /* short name: "openai-responses" */
    const char *version;     /* the plugin's own version: "1.0.0" */
    const char *description; /* one line */
    /* Registers the plugin's protocols with host->register_api. The host table
     * stays valid while the plugin is loaded; keep the pointer. */
    llmsvc_code (*init)(const llmsvc_host *host, llmsvc_registrar *reg, llmsvc_error **err);
} llmsvc_plugin_desc;

#define LLMSVC_PLUGIN_SYMBOL "llmsvc_plugin"

/* Defines the exported descriptor. Use once per plugin. */
#define LLMSVC_PLUGIN_DEFINE(name_, version_, description_, init_)                     \
    LLMSVC_PLUGIN_EXPORT const llmsvc_plugin_desc llmsvc_plugin = {                     \
        LLMSVC_PLUGIN_ABI_MAJOR, LLMSVC_PLUGIN_ABI_MINOR, (uint32_t)sizeof(llmsvc_plugin_desc), \
        (name_), (version_), (description_), (init_)}

/* The descriptor of a plugin that speaks one protocol: its init keeps the
 * host table in host_var_ (a `static const llmsvc_host *` of the plugin) and
 * registers ops_. The loader has already refused a plugin built for a newer
 * ABI minor, so the table holds every function this header lists. */
#define LLMSVC_PLUGIN_DEFINE_API(name_, version_, description_, ops_, host_var_)          \
    static llmsvc_code llmsvc_plugin_init_(const llmsvc_host *h_, llmsvc_registrar *reg_,   \
                                           llmsvc_error **err_)                            \
    {                                                                                      \
        (host_var_) = h_;                                                                  \
        return h_->register_api(reg_, &(ops_), err_);                                      \
    }                                                                                      \
    LLMSVC_PLUGIN_DEFINE(name_, version_, description_, llmsvc_plugin_init_)

#ifdef __cplusplus
}
#endif

#endif /* LLMSVC_PLUGIN_H */
