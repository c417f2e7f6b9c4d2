/* transport — sends one HTTP request with libcurl (through curl_dl.h).
 *
 * Each thread has its own easy handle per transport (thread-specific data), so
 * it reuses its connections and the call path takes no lock. The options that
 * never change are set once when the handle is made; the header list is kept
 * and reused while a thread keeps sending the same headers (the usual case:
 * one provider, one key), which saves a dozen allocations per call; the URL
 * is given parsed (CURLOPT_CURLU) and parsed again only when it changes,
 * where libcurl would parse a CURLOPT_URL and print it back at every
 * transfer (~12k instructions a call). The proxy variables are read once,
 * when the transport is made, and given to libcurl as options: libcurl
 * would read four of them from the environment at every transfer. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "curl_dl.h"
#include "error.h"
#include "http.h"
#include "spare.h"
#include "sse.h"

typedef struct sink {
    llmsvc_http_response *resp;
    size_t max;
    int over;
    int oom;
    /* streaming (transport_send_stream) */
    http_stream *hs;
    int mode; /* 0: not decided yet, 1: buffer the body, 2: server-sent events */
    sse_parser sse;
    const curl_api *c;
    CURL *h;
} sink;

typedef struct handle_node {
    CURL *curl;
    struct transport *owner;
    struct handle_node *prev, *next;
    sink s;                       /* the current call's; the handle points here */
    char errbuf[CURL_ERROR_SIZE]; /* the handle's CURLOPT_ERRORBUFFER */
    struct curl_slist *headers;   /* the last call's header list ... */
    buf header_key;               /* ... and the header lines it was made of */
    buf out;                      /* the request body's text, reused call after call */
    CURLU *uh;                    /* the handle's URL (CURLOPT_CURLU) ... */
    buf last_url;                 /* ... as text, and the limits it was last given */
    const char *last_proxy;       /* the transport's string it was given, or NULL */
    long last_connect_ms, last_timeout_ms; /* (libcurl keeps them; zero, libcurl's */
    size_t last_max;                       /* defaults, until a call sets others) */
} handle_node;

/* The proxy variables as libcurl reads them: the scheme's own (http_proxy
 * only in lower case: a CGI server puts a request's "Proxy:" header in
 * HTTP_PROXY), else all_proxy; hosts in no_proxy go direct. Set but empty
 * counts as set (no proxy). NULL: unset. */
typedef struct proxy_env {
    char *http, *https, *all, *no;
} proxy_env;

struct transport {
    pthread_key_t key;
    proxy_env proxy;
    pthread_mutex_t mu; /* guards the handle list (taken when a thread starts or ends) */
    handle_node *handles;
};

static void unlink_node(transport *t, handle_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        t->handles = n->next;
    if (n->next)
        n->next->prev = n->prev;
}

static void node_free(handle_node *n)
{
    const curl_api *c = curl_api_loaded();
    c->easy_cleanup(n->curl);
    c->url_cleanup(n->uh);
    c->slist_free_all(n->headers);
    buf_free(&n->header_key);
    buf_free(&n->out);
    buf_free(&n->last_url);
    free(n);
}

/* thread exit */
static void handle_destroy(void *p)
{
    handle_node *n = p;
    transport *t = n->owner;
    pthread_mutex_lock(&t->mu);
    unlink_node(t, n);
    pthread_mutex_unlock(&t->mu);
    node_free(n);
}

/* A copy of the first of two variables that is set, or NULL; *oom set when
 * the copy cannot be made. */
static char *env_copy(const char *name, const char *alt, int *oom)
{
    const char *v = getenv(name);
    if (!v && alt)
        v = getenv(alt);
    char *copy = v ? strdup(v) : NULL;
    *oom |= v && !copy;
    return copy;
}

static void proxy_env_free(proxy_env *p)
{
    free(p->http);
    free(p->https);
    free(p->all);
    free(p->no);
}

/* What libcurl gives a URL of that scheme: "" for no proxy. */
static const char *proxy_for(const transport *t, const char *url)
{
    const char *p = strncasecmp(url, "https:", 6) ? t->proxy.http : t->proxy.https;
    if (!p)
        p = t->proxy.all;
    return p ? p : "";
}

transport *transport_new(void)
{
    transport *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    int oom = 0;
    t->proxy = (proxy_env){env_copy("http_proxy", NULL, &oom),
                           env_copy("https_proxy", "HTTPS_PROXY", &oom),
                           env_copy("all_proxy", "ALL_PROXY", &oom),
                           env_copy("no_proxy", "NO_PROXY", &oom)};
    if (oom) {
        proxy_env_free(&t->proxy);
        free(t);
        return NULL;
    }
    if (pthread_key_create(&t->key, handle_destroy) != 0) {
        proxy_env_free(&t->proxy);
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void transport_free(transport *t)
{
    if (!t)
        return;
    pthread_key_delete(t->key);
    handle_node *n = t->handles;
    while (n) {
        handle_node *next = n->next;
        node_free(n);
        n = next;
    }
    pthread_mutex_destroy(&t->mu);
    proxy_env_free(&t->proxy);
    free(t);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user);

/* The options every call of this handle shares. */
static void set_fixed_options(const curl_api *c, handle_node *n)
{
    CURL *h = n->curl;
    c->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    c->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* User-Agent is in the cached header list: CURLOPT_USERAGENT would be
     * formatted again (curl_maprintf, ~4k instructions) on every transfer */
    /* no Accept-Encoding: answers are a few KB, and setting up the decoders
     * cost ~8k instructions a transfer (2-3 us) for nothing on a fast link */
    c->easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    c->easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    c->easy_setopt(h, CURLOPT_ERRORBUFFER, n->errbuf);
    c->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    c->easy_setopt(h, CURLOPT_WRITEDATA, &n->s);
    c->easy_setopt(h, CURLOPT_CURLU, n->uh);
    /* set, even empty: libcurl then reads no variable (the proxy: set_target) */
    c->easy_setopt(h, CURLOPT_NOPROXY, n->owner->proxy.no ? n->owner->proxy.no : "");
    /* no header callback: http_header reads libcurl's own copy when asked */
}

static handle_node *thread_handle(transport *t, const curl_api *c)
{
    handle_node *n = pthread_getspecific(t->key);
    if (n)
        return n;
    n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->curl = c->easy_init();
    n->uh = c->url();
    if (!n->curl || !n->uh) {
        c->easy_cleanup(n->curl);
        c->url_cleanup(n->uh);
        free(n);
        return NULL;
    }
    n->owner = t;
    set_fixed_options(c, n);
    pthread_mutex_lock(&t->mu);
    n->next = t->handles;
    if (t->handles)
        t->handles->prev = n;
    t->handles = n;
    pthread_mutex_unlock(&t->mu);
    if (pthread_setspecific(t->key, n) != 0) {
        pthread_mutex_lock(&t->mu);
        unlink_node(t, n);
        pthread_mutex_unlock(&t->mu);
        node_free(n);
        return NULL;
    }
    return n;
}

static int on_sse(void *user, const llmsvc_sse_event *ev)
{
    http_stream *hs = user;
    if (hs->on_event(hs->user, ev) != 0)
        hs->stopped = 1;
    return hs->stopped;
}

/* The first bytes of a streaming response: events when the server streams
 * them, else (an error body, or a server that ignored the stream) buffered. */
static void decide_mode(sink *s)
{
    long status = 0;
    char *type = NULL;
    s->c->easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    s->c->easy_getinfo(s->h, CURLINFO_CONTENT_TYPE, &type);
    s->mode = status >= 200 && status < 300 && type && !strncasecmp(type, "text/event-stream", 17)
                  ? 2
                  : 1;
    s->hs->is_sse = s->mode == 2;
    if (s->mode == 2)
        sse_init(&s->sse, s->max, on_sse, s->hs);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    if (s->hs && !s->mode)
        decide_mode(s);
    if (s->mode == 2) {
        int rc = sse_feed(&s->sse, data, n);
        if (rc < 0 && !s->hs->stopped)
            s->over = 1; /* one event beyond the size cap (or out of memory) */
        return rc ? 0 : n;
    }
    if (s->resp->body.len + n > s->max) {
        s->over = 1;
        return 0;
    }
    buf *body = &s->resp->body;
    if (!body->cap && spare_buf(body, SPARE_BODY, n + 1 < 4096 ? 4096 : n + 1) < 0) {
        s->oom = 1;
        return 0;
    }
    if (buf_append(body, data, n) < 0) {
        s->oom = 1;
        return 0;
    }
    return n;
}

/* A URL libcurl refuses: TRANSPORT, not retried (it would fail the same). */
static llmsvc_code bad_url(const char *where, const char *detail, llmsvc_error **err)
{
    return err_give(err, err_not_retryable(err_new(LLMSVC_E_TRANSPORT, "bad URL %s: %s", where,
                                                   detail)));
}

static llmsvc_code map_curl_error(const curl_api *c, CURLcode rc, const char *errbuf, const sink *s,
                                  const llmsvc_http_request *req, const http_opts *o,
                                  llmsvc_error **err)
{
    char where[256];
    http_url_for_message(req->url, where, sizeof where);
    const char *detail = errbuf[0] ? errbuf : c->easy_strerror(rc);
    if (s->oom)
        return err_give(err, err_nomem());
    if (s->over || rc == CURLE_FILESIZE_EXCEEDED) {
        return err_give(err, err_not_retryable(err_new(LLMSVC_E_PROVIDER,
                                                       "response from %s is larger than the "
                                                       "%zu-byte limit (max_response_bytes)",
                                                       where, o->max_bytes)));
    }
    llmsvc_error *e;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        e = err_new(LLMSVC_E_TRANSPORT, "request to %s timed out (%s)", where, detail);
        if (e != err_nomem())
            e->timeout = 1;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        e = err_new(LLMSVC_E_TRANSPORT, "cannot connect to %s: %s", where, detail);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        e = err_not_retryable(
            err_new(LLMSVC_E_TRANSPORT, "TLS failure talking to %s: %s", where, detail));
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return bad_url(where, detail, err);
    default:
        e = err_new(LLMSVC_E_TRANSPORT,
                    "connection to %s failed before a complete response arrived: %s", where,
                    detail);
    }
    return err_give(err, e);
}

#define MAX_HEADER_LINE 8192

/* 1 when the header lines of req are exactly those of key ("name: value\n"...). */
static int same_lines(const llmsvc_http_request *req, const buf *key)
{
    const char *k = buf_cstr(key), *end = k + key->len;
    for (size_t i = 0; i < req->n_headers; i++) {
        size_t nl = strlen(req->headers[i].name), vl = strlen(req->headers[i].value);
        if ((size_t)(end - k) < nl + vl + 3 || memcmp(k, req->headers[i].name, nl) ||
            k[nl] != ':' || k[nl + 1] != ' ' || memcmp(k + nl + 2, req->headers[i].value, vl) ||
            k[nl + 2 + vl] != '\n')
            return 0;
        k += nl + vl + 3;
    }
    return k == end;
}

/* The header lines of req, one per line, in out. TRANSFORM for an overlong one
 * (named, its value never shown). */
static llmsvc_code header_lines(const llmsvc_http_request *req, buf *out, llmsvc_error **err)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        const http_hdr *h = &req->headers[i];
        if (strlen(h->name) + strlen(h->value) + 2 >= MAX_HEADER_LINE)
            return err_set(err, LLMSVC_E_TRANSFORM, "header '%s' is too long (over %d bytes)",
                           h->name, MAX_HEADER_LINE);
        if (buf_printf(out, "%s: %s\n", h->name, h->value) < 0)
            return err_give(err, err_nomem());
    }
    return LLMSVC_OK;
}

/* 1 when req sets the header that line ("Name: value") names. */
static int has_header(const llmsvc_http_request *req, const char *line)
{
    size_t n = strcspn(line, ":");
    for (size_t i = 0; i < req->n_headers; i++)
        if (strlen(req->headers[i].name) == n && !strncasecmp(req->headers[i].name, line, n))
            return 1;
    return 0;
}

/* Points the handle at a header list for req: the cached one when the lines
 * are the same as last time, else a new one. */
static llmsvc_code use_headers(const curl_api *c, handle_node *n,
                               const llmsvc_http_request *req, llmsvc_error **err)
{
    const char *const *fixed = transport_fixed_headers;
    if (n->headers && same_lines(req, &n->header_key))
        return LLMSVC_OK;
    buf lines = BUF_INIT;
    llmsvc_code code = header_lines(req, &lines, err);
    if (code != LLMSVC_OK) {
        buf_free(&lines);
        return code;
    }
    struct curl_slist *list = NULL;
    for (char *line = lines.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        struct curl_slist *next = c->slist_append(list, line);
        *nl = '\n';
        if (!next)
            goto nomem;
        list = next;
    }
    for (size_t i = 0; fixed[i]; i++) {
        if (has_header(req, fixed[i])) /* the request's own wins */
            continue;
        struct curl_slist *next = c->slist_append(list, fixed[i]);
        if (!next)
            goto nomem;
        list = next;
    }
    c->easy_setopt(n->curl, CURLOPT_HTTPHEADER, list);
    c->slist_free_all(n->headers);
    buf_free(&n->header_key);
    n->headers = list;
    n->header_key = lines;
    return LLMSVC_OK;
nomem:
    c->slist_free_all(list);
    buf_free(&lines);
    return err_give(err, err_nomem());
}

const char *const transport_fixed_headers[] = {"Content-Type: application/json",
                                               "Accept: application/json", "Expect:",
                                               ("User-Agent: llmsvc/" LLMSVC_VERSION_STRING),
                                               NULL};

/* The URL and limits of this call, given to libcurl only when they differ
 * from the last call's on this handle. The URL is parsed as libcurl parses a
 * CURLOPT_URL (a missing scheme guessed, an unsupported one left to the
 * transfer to refuse). On an error nothing is remembered, and the call must
 * not go out (to the handle's last URL). */
static llmsvc_code set_target(const curl_api *c, handle_node *n, const char *url,
                              const http_opts *o, llmsvc_error **err)
{
    CURL *h = n->curl;
    if (strcmp(url, buf_cstr(&n->last_url)) != 0) {
        buf_clear(&n->last_url);
        CURLUcode uc =
            c->url_set(n->uh, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
        if (uc == CURLUE_OUT_OF_MEMORY)
            return err_give(err, err_nomem());
        if (uc != CURLUE_OK) {
            char where[256];
            http_url_for_message(url, where, sizeof where);
            return bad_url(where, c->url_strerror(uc), err);
        }
        (void)buf_puts(&n->last_url, url); /* failing, it stays empty: set again next call */
    }
    const char *proxy = proxy_for(n->owner, url);
    if (proxy != n->last_proxy) {
        n->last_proxy = NULL;
        if (c->easy_setopt(h, CURLOPT_PROXY, proxy) != CURLE_OK)
            return err_give(err, err_nomem());
        n->last_proxy = proxy;
    }
    if (o->connect_timeout_ms != n->last_connect_ms || o->timeout_ms != n->last_timeout_ms ||
        o->max_bytes != n->last_max) {
        n->last_connect_ms = -1; /* unknown until all three are taken */
        if (c->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms) != CURLE_OK ||
            c->easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms) != CURLE_OK ||
            c->easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes) != CURLE_OK)
            return err_give(err, err_nomem());
        n->last_connect_ms = o->connect_timeout_ms;
        n->last_timeout_ms = o->timeout_ms;
        n->last_max = o->max_bytes;
    }
    return LLMSVC_OK;
}

static llmsvc_code send_request(transport *t, const llmsvc_http_request *req, const http_opts *o,
                                llmsvc_http_response *resp, http_stream *hs, llmsvc_error **err)
{
    if (!req->url)
        return err_set(err, LLMSVC_E_TRANSFORM, "the plugin built a request without a URL");
    const curl_api *c = curl_api_get(err);
    if (!c)
        return LLMSVC_E_CONFIG;
    handle_node *n = thread_handle(t, c);
    if (!n)
        return err_give(err, err_nomem());
    CURL *h = n->curl;
    llmsvc_code code = use_headers(c, n, req, err);
    if (code != LLMSVC_OK)
        return code;
    n->s = (sink){.resp = resp, .max = o->max_bytes, .hs = hs, .c = c, .h = h};
    n->errbuf[0] = '\0';
    buf_clear(&n->out);
    int has_body = http_write_body(req, &n->out);
    if (has_body < 0)
        return err_give(err, err_nomem());
    if ((code = set_target(c, n, req->url, o, err)) != LLMSVC_OK)
        return code;
    if (has_body) {
        c->easy_setopt(h, CURLOPT_POSTFIELDS, n->out.data);
        c->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n->out.len);
    } else {
        c->easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }

    CURLcode rc = c->easy_perform(h);
    if (hs && n->s.mode == 2 && rc == CURLE_OK && sse_finish(&n->s.sse) != 0 && !hs->stopped)
        n->s.over = 1;
    if (hs && hs->stopped) {
        /* the reader stopped the stream (the host, or a plugin error): not ours to report */
        code = LLMSVC_E_CANCELLED;
    } else if (rc != CURLE_OK) {
        code = map_curl_error(c, rc, n->errbuf, &n->s, req, o, err);
    } else {
        long status = 0;
        c->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        resp->status = (int)status;
    }
    if (hs) {
        long status = 0;
        c->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        resp->status = (int)status;
        if (n->s.mode == 2)
            sse_free(&n->s.sse);
    }
    if (resp->status) /* kept by libcurl until the handle's next transfer */
        resp->headers_in = h;
    c->easy_setopt(h, CURLOPT_POSTFIELDS, NULL); /* the body is freed after this call */
    n->s.resp = NULL;
    n->s.hs = NULL;
    return code;
}

llmsvc_code transport_send(transport *t, const llmsvc_http_request *req, const http_opts *o,
                           llmsvc_http_response *resp, llmsvc_error **err)
{
    return send_request(t, req, o, resp, NULL, err);
}

llmsvc_code transport_send_stream(transport *t, const llmsvc_http_request *req,
                                  const http_opts *o, llmsvc_http_response *resp, http_stream *hs,
                                  llmsvc_error **err)
{
    hs->is_sse = 0;
    hs->stopped = 0;
    return send_request(t, req, o, resp, hs, err);
}
