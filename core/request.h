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
};

/* JSON object ↔ request (request_json.c). from_json: VALIDATION naming the
 * field on a bad shape. to_json: NULL on OOM; never holds the API key. */
llmsvc_code request_from_json_object(llmsvc_request **out, struct json_object *root,
                                     llmsvc_error **err);
struct json_object *request_to_json_object(const llmsvc_request *r);

#endif
