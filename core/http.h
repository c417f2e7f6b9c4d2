/* http — the HTTP request a plugin builds and the response it reads (the
 * opaque llmsvc_http_request / llmsvc_http_response of plugin.h), and the
 * libcurl transport that sends one.
 *
 * The transport keeps one curl easy handle per thread (so connections are
 * reused across calls with no lock on the call path), sets connect and total
 * timeouts, CURLOPT_NOSIGNAL and a response-size cap, and maps every failure
 * to an llmsvc_error. TLS verification is always on; the usual proxy
 * variables are honoured as libcurl reads them (http_proxy, https_proxy,
 * all_proxy, no_proxy, upper case too but HTTP_PROXY), read once, when the
 * transport is made (the runtime opens). */
#ifndef LLMSVC_HTTP_H
#define LLMSVC_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "jv.h"
#include "llmsvc/plugin.h"

struct json_object;

typedef struct http_hdr {
    char *name;
    char *value;
    int secret;
} http_hdr;

/* The URL and the first few headers' strings are kept in the request itself
 * (most requests make no allocation for them); a request must not be copied. */
struct llmsvc_http_request {
    char *url;
    http_hdr *headers; /* inl_hdr until it outgrows it */
    size_t n_headers, cap_headers;
    struct json_object *body; /* serialized by the transport ... */
    llmsvc_jv *jv_body;       /* ... or this (host->jv_*), built in jv */
    jv_arena jv;
    size_t inl_used;
    http_hdr inl_hdr[4];
    char inl[512];
};

struct llmsvc_http_response {
    int status;
    buf body;
    buf header_block; /* "name\0value\0" pairs of the final response's headers */
    void *headers_in; /* when set, the libcurl handle that still holds them:
                         header_block is filled at the first lookup (most
                         answers are read without one) */
};

void http_request_init(llmsvc_http_request *req);
void http_request_clear(llmsvc_http_request *req);
llmsvc_code http_set_url(llmsvc_http_request *req, const char *url);
llmsvc_code http_add_header(llmsvc_http_request *req, const char *name, const char *value,
                            int secret);
llmsvc_code http_set_json_body(llmsvc_http_request *req, struct json_object *body);
/* A new empty object in the request's arena as its body, replacing any body;
 * NULL when memory runs out. */
llmsvc_jv *http_jv_body(llmsvc_http_request *req);
/* The body as JSON text appended to out: 1, 0 when the request has none,
 * -1 when memory runs out. */
int http_write_body(const llmsvc_http_request *req, buf *out);
/* 1 when url can be a base URL: http:// or https://, with no query, fragment,
 * credentials (user:pass@) or white space — so that paths append to it and
 * messages that print it reveal nothing. */
int http_base_url_ok(const char *url);
/* The URL without its query string, for messages. Into out. */
void http_url_for_message(const char *url, char *out, size_t outlen);

void http_response_init(llmsvc_http_response *resp);
void http_response_clear(llmsvc_http_response *resp);
int http_status(const llmsvc_http_response *resp);
const char *http_body(const llmsvc_http_response *resp, size_t *len);
/* Case-insensitive; the value of the first such header (owned by resp), or NULL. */
const char *http_header(const llmsvc_http_response *resp, const char *name);
/* retry-after-ms / retry-after (seconds or HTTP date) in ms, or -1. */
long http_retry_after_ms(const llmsvc_http_response *resp);

typedef struct transport transport;

typedef struct http_opts {
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_bytes;
} http_opts;

/* Streaming: a 2xx text/event-stream answer goes event by event to on_event
 * (which returns non-zero to stop the transfer at once); any other answer is
 * buffered in resp as transport_send does (an error body, or a server that
 * did not stream). */
typedef struct http_stream {
    int (*on_event)(void *user, const llmsvc_sse_event *ev);
    void *user;
    int is_sse;  /* set: the answer was a stream of events */
    int stopped; /* set: on_event stopped it (the call returns CANCELLED) */
} http_stream;

/* NULL on OOM. libcurl itself is loaded on the first send. */
transport *transport_new(void);
/* The header lines the transport adds to every request unless the request
 * sets the same header itself (NULL-terminated). */
extern const char *const transport_fixed_headers[];
void transport_free(transport *t);
/* Sends req; fills resp with whatever status came back. Errors only for no
 * complete HTTP response: TRANSPORT (connect, timeout, cut) or PROVIDER
 * (larger than max_bytes). */
llmsvc_code transport_send(transport *t, const llmsvc_http_request *req, const http_opts *o,
                           llmsvc_http_response *resp, llmsvc_error **err);
/* transport_send for a streaming request; resp gets the status, and the body
 * when the answer was not a stream. CANCELLED (no error object) when
 * on_event stopped it. */
llmsvc_code transport_send_stream(transport *t, const llmsvc_http_request *req,
                                  const http_opts *o, llmsvc_http_response *resp, http_stream *hs,
                                  llmsvc_error **err);

#endif
