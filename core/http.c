/* http — request and response objects (the transport is in transport.c). */
#include "http.h"

#include "curl_dl.h"
#include "json_write.h"
#include "room.h"
#include "spare.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

void http_request_init(llmsvc_http_request *req)
{
    req->url = NULL;
    req->headers = req->inl_hdr;
    req->n_headers = 0;
    req->cap_headers = sizeof req->inl_hdr / sizeof *req->inl_hdr;
    req->body = NULL;
    req->jv_body = NULL;
    jv_arena_init(&req->jv);
    req->inl_used = 0;
}

/* A copy of s in the request's own room, else on the heap. */
static char *copy_str(llmsvc_http_request *req, const char *s)
{
    return room_copy(req->inl, sizeof req->inl, &req->inl_used, s);
}

static void free_str(llmsvc_http_request *req, char *p)
{
    room_free(req->inl, sizeof req->inl, p);
}

void http_request_clear(llmsvc_http_request *req)
{
    free_str(req, req->url);
    for (size_t i = 0; i < req->n_headers; i++) {
        http_hdr *h = &req->headers[i];
        if (h->secret)
            explicit_bzero(h->value, strlen(h->value));
        free_str(req, h->name);
        free_str(req, h->value);
    }
    if (req->headers != req->inl_hdr)
        free(req->headers);
    json_object_put(req->body);
    jv_arena_clear(&req->jv);
    http_request_init(req);
}

llmsvc_code http_set_url(llmsvc_http_request *req, const char *url)
{
    if (!req || !url || strpbrk(url, " \r\n"))
        return LLMSVC_E_INVALID_ARG;
    char *p = copy_str(req, url);
    if (!p)
        return LLMSVC_E_NOMEM;
    free_str(req, req->url);
    req->url = p;
    return LLMSVC_OK;
}

llmsvc_code http_add_header(llmsvc_http_request *req, const char *name, const char *value,
                            int secret)
{
    if (!req || !name || !value || !*name || strpbrk(name, ": \r\n") || strpbrk(value, "\r\n"))
        return LLMSVC_E_INVALID_ARG;
    if (req->n_headers == req->cap_headers) {
        size_t cap = req->cap_headers * 2;
        http_hdr *nv = req->headers == req->inl_hdr ? malloc(cap * sizeof *nv)
                                                    : realloc(req->headers, cap * sizeof *nv);
        if (!nv)
            return LLMSVC_E_NOMEM;
        if (req->headers == req->inl_hdr)
            memcpy(nv, req->inl_hdr, sizeof req->inl_hdr);
        req->headers = nv;
        req->cap_headers = cap;
    }
    http_hdr *h = &req->headers[req->n_headers];
    h->name = copy_str(req, name);
    h->value = copy_str(req, value);
    h->secret = secret;
    if (!h->name || !h->value) {
        if (h->name)
            free_str(req, h->name);
        if (h->value)
            free_str(req, h->value);
        return LLMSVC_E_NOMEM;
    }
    req->n_headers++;
    return LLMSVC_OK;
}

llmsvc_code http_set_json_body(llmsvc_http_request *req, struct json_object *body)
{
    if (!req)
        return LLMSVC_E_INVALID_ARG;
    json_object_put(req->body);
    req->body = body;
    req->jv_body = NULL;
    return LLMSVC_OK;
}

llmsvc_jv *http_jv_body(llmsvc_http_request *req)
{
    if (!req)
        return NULL;
    llmsvc_jv *root = jv_root(&req->jv);
    if (root) {
        json_object_put(req->body);
        req->body = NULL;
        req->jv_body = root;
    }
    return root;
}

int http_write_body(const llmsvc_http_request *req, buf *out)
{
    if (req->jv_body)
        return jv_write(out, req->jv_body) < 0 ? -1 : 1;
    if (req->body)
        return json_write(out, req->body) < 0 ? -1 : 1;
    return 0;
}

int http_base_url_ok(const char *url)
{
    const char *rest;
    if (!url)
        return 0;
    if (strncmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        rest = url + 8;
    else
        return 0;
    size_t host_len = strcspn(rest, "/");
    if (!host_len || memchr(rest, '@', host_len))
        return 0;
    return strpbrk(url, "?# \t\r\n") == NULL;
}

void http_url_for_message(const char *url, char *out, size_t outlen)
{
    size_t n = strcspn(url ? url : "", "?#");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, url ? url : "", n);
    out[n] = '\0';
}

void http_response_init(llmsvc_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
}

void http_response_clear(llmsvc_http_response *resp)
{
    spare_give(SPARE_BODY, resp->body.data, resp->body.cap);
    spare_give(SPARE_HEADERS, resp->header_block.data, resp->header_block.cap);
    resp->body = (buf)BUF_INIT;
    resp->header_block = (buf)BUF_INIT;
    resp->headers_in = NULL;
    resp->status = 0;
}

int http_status(const llmsvc_http_response *resp)
{
    return resp ? resp->status : 0;
}

const char *http_body(const llmsvc_http_response *resp, size_t *len)
{
    if (len)
        *len = resp ? resp->body.len : 0;
    return resp ? buf_cstr(&resp->body) : "";
}

/* header_block from the headers libcurl kept of the last transfer. */
static void fill_headers(llmsvc_http_response *resp)
{
    const curl_api *c = curl_api_loaded();
    CURL *h = resp->headers_in;
    resp->headers_in = NULL;
    buf *hb = &resp->header_block;
    struct curl_header *prev = NULL, *hd;
    while ((hd = c->easy_nextheader(h, CURLH_HEADER, -1, prev)) != NULL) {
        if ((!hb->cap && spare_buf(hb, SPARE_HEADERS, 1024) < 0) ||
            buf_append(hb, hd->name, strlen(hd->name) + 1) < 0 ||
            buf_append(hb, hd->value, strlen(hd->value) + 1) < 0)
            return; /* out of memory: the headers read so far */
        prev = hd;
    }
}

/* Headers are looked up by name, case-insensitively; the block is filled
 * from libcurl at the first lookup (a lazy cache: the response reads as const). */
const char *http_header(const llmsvc_http_response *resp, const char *name)
{
    if (resp && resp->headers_in)
        fill_headers((llmsvc_http_response *)resp);
    if (!resp || !name || !resp->header_block.data)
        return NULL;
    const char *p = resp->header_block.data, *end = p + resp->header_block.len;
    while (p && p < end) {
        const char *v = p + strlen(p) + 1;
        if (v >= end)
            break;
        if (strcasecmp(p, name) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

long http_retry_after_ms(const llmsvc_http_response *resp)
{
    const char *ms = http_header(resp, "retry-after-ms");
    if (ms) {
        char *end;
        double v = strtod(ms, &end);
        if (end != ms && v >= 0 && v < 1e9)
            return (long)v;
    }
    const char *s = http_header(resp, "retry-after");
    if (!s)
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end == '\0' && v >= 0 && v < 1e7)
        return (long)(v * 1000);
    const curl_api *c = curl_api_loaded();
    time_t when = c ? c->getdate(s, NULL) : -1;
    if (when < 0)
        return -1;
    time_t now = time(NULL);
    return when > now ? (long)(when - now) * 1000 : 0;
}
