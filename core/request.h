/* request — the llmsvc_request object: what the caller asked for, before it is
 * checked against a spec. */
#ifndef LLMSVC_REQUEST_H
#define LLMSVC_REQUEST_H

#include "llmsvc/llmsvc.h"
#include "params.h"

struct json_object;

typedef struct req_value {
    int set;
    double number;
    char *string;
    char **list;
    size_t list_len;
} req_value;

/* One turn; strings owned. */
typedef struct req_message {
    char *role;
    char *content;
    char **images;
    size_t n_images;
    llmsvc_tool_call *tool_calls; /* strings owned */
    size_t n_tool_calls;
    char *tool_call_id;
    char *state_protocol;
    char *state;
} req_message;

typedef struct req_tool {
    char *name;
    char *description;
    char *parameters; /* JSON text */
} req_tool;

struct llmsvc_request {
    char *provider;
    char *model;
    char *prompt;
    char *instructions;
    char *vector_store_id;
    int max_num_results;
    req_value params[P_COUNT];
    char *base_url;
    char *api_key;
    long timeout_ms; /* 0: runtime's */
    int max_retries; /* -1: runtime's */
    struct json_object *provider_options;
    char *project_id;
    char *organization_id;
    req_message *messages;
    size_t n_messages;
    req_tool *tools;
    size_t n_tools;
    char *tool_choice; /* "auto", "none", "required" or a tool's name */
    int parallel_tool_calls; /* -1 unset */
    char *format_name;
    char *format_schema; /* JSON text */
    int format_strict;
    llmsvc_kv *headers; /* per-call headers; strings owned */
    size_t n_headers;
    char *route;      /* a route's name instead of provider and model */
    char *user;       /* the end user (a split's sticky key) */
    char *sticky_key; /* an explicit sticky key */
    int no_cache;     /* skip the response cache */
};

/* Appends a turn; its strings are copied. NULL on OOM. */
req_message *request_push_message(llmsvc_request *r, const char *role, const char *content);
/* 1 for the roles a request turn may have. */
int request_role_ok(const char *role);
/* Appends a copy of a tool call to an assistant turn; -1 on OOM. */
int request_message_add_call(req_message *m, const char *id, const char *name,
                             const char *arguments);
/* The conversation fields of the request JSON (request_conv_json.c). */
int conv_json_key(const char *key);
llmsvc_code conv_json_parse(llmsvc_request *r, const char *key, struct json_object *v,
                            llmsvc_error **err);
llmsvc_code conv_json_headers(llmsvc_request *r, struct json_object *v, llmsvc_error **err);
void conv_json_emit(const llmsvc_request *r, struct json_object *llm, struct json_object *root);
/* Frees the turns, tools, format and headers (request_conv.c). */
void request_free_conversation(llmsvc_request *r);

/* JSON object ↔ request (request_json.c). from_json: VALIDATION naming the
 * field on a bad shape. to_json: NULL on OOM; never holds the API key. */
llmsvc_code request_from_json_object(llmsvc_request **out, struct json_object *root,
                                     llmsvc_error **err);
struct json_object *request_to_json_object(const llmsvc_request *r);

#endif
