/* response — the unified llmsvc_response a plugin fills through the host
 * functions and a host reads through the public accessors. */
#ifndef LLMSVC_RESPONSE_H
#define LLMSVC_RESPONSE_H

#include "buf.h"
#include "llmsvc/plugin.h"

/* One target tried by a route (strings owned). */
typedef struct try_info {
    char *provider;
    char *model;
    llmsvc_code code; /* LLMSVC_OK for the one that answered */
    int http_status;
    char *message;    /* its error, or NULL */
    double latency_ms;
} try_info;

struct llmsvc_response {
    char *id;
    char *provider;
    char *model;
    char *finish_reason;
    buf text;
    buf reasoning;
    int has_reasoning;
    int64_t tokens[6]; /* by llmsvc_token_kind; -1 unknown */
    double cost_usd;   /* -1 unknown */
    double latency_ms;
    int attempts;
    llmsvc_file_result *files; /* strings owned */
    size_t n_files;
    llmsvc_tool_call *tool_calls; /* strings owned */
    size_t n_tool_calls;
    char *state_protocol;
    char *state; /* the provider's exact JSON text */
    char *route; /* the route that served the call, or NULL */
    char *arm;   /* its split arm, or NULL */
    int cached;  /* served from the response cache */
    try_info *tries; /* the route's targets as tried */
    size_t n_tries;
    size_t inl_used; /* short strings (id, model, provider...) live in inl */
    char inl[192];
};

llmsvc_response *response_new(void);
/* A copy of s owned by r: in r itself while room lasts, else on the heap;
 * response_str_free gives one back. id, provider, model and finish_reason are
 * freed that way (a plain strdup may be put there too). */
char *response_str(llmsvc_response *r, const char *s);
void response_str_free(llmsvc_response *r, char *p);
/* Empties what a failed attempt may have left, for the next attempt. */
void response_reset(llmsvc_response *r);

/* The host functions of plugin.h that build a response. */
llmsvc_code response_set(llmsvc_response *r, llmsvc_resp_field f, const char *value);
llmsvc_code response_append_text(llmsvc_response *r, const char *text, size_t len);
llmsvc_code response_append_reasoning(llmsvc_response *r, const char *text, size_t len);
llmsvc_code response_set_usage(llmsvc_response *r, const llmsvc_usage *u);
llmsvc_code response_add_tool_call(llmsvc_response *r, const char *id, const char *name,
                                   const char *arguments);
llmsvc_code response_set_state(llmsvc_response *r, const char *protocol, const char *json,
                               size_t len);
/* Takes over n tries (and their strings). */
void response_set_tries(llmsvc_response *r, try_info *tries, size_t n);
llmsvc_code response_add_file_result(llmsvc_response *r, const char *file_id,
                                     const char *filename, double score, const char *text);

/* The answer's content (not attempts, latency, route), for the response
 * cache; NULL on OOM. */
llmsvc_response *response_clone(const llmsvc_response *r);
/* About how many bytes r holds (the cache's accounting). */
size_t response_size(const llmsvc_response *r);

struct json_object;
/* The llmsvc_response_to_json object; NULL on OOM (response_json.c). */
struct json_object *response_to_json_object(const llmsvc_response *r);
/* Back from llmsvc_response_to_json's text; VALIDATION or PROVIDER (not
 * JSON) on another shape. */
llmsvc_code response_from_json(const char *json, size_t len, llmsvc_response **out,
                               llmsvc_error **err);

#endif
