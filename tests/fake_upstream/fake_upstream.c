/* fake_upstream.c - loopback HTTP server standing in for provider endpoints.
 *
 * Layout: entries (script entries and routes share one parser), the fixture
 * cache, the request log, the response builders (one per fault), the MHD
 * callbacks, and the public API.
 *
 * Threads: libmicrohttpd runs one thread per connection, so a delayed answer
 * never holds up another connection. Shared state and its locks:
 *   script_lock  - the script queue and script entries' refs/times;
 *   rec_lock     - the request log;
 *   cache_lock   - the fixture cache (touched only while parsing entries);
 *   stop_lock    - the stopping flag, which wakes requests sleeping in delay_ms.
 * Routes and cached fixtures are immutable once loaded and live until stop. */
#define _POSIX_C_SOURCE 200809L

#include "fake_upstream.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <json-c/json.h>
#include <microhttpd.h>

#define FU_MAX_RECORDS 100000u
#define FU_MAX_REQUEST_BODY ((size_t)64 << 20)
#define FU_DEFAULT_OVERSIZED ((uint64_t)20 << 20)
#define FU_MAX_OVERSIZED ((uint64_t)1 << 40)
#define FU_MAX_DELAY_MS 3600000
#define FU_ERRLEN 256

enum fu_fault {
    FU_FAULT_NONE,
    FU_FAULT_TRUNCATE,
    FU_FAULT_RESET,
    FU_FAULT_INVALID_JSON,
    FU_FAULT_OVERSIZED,
};

static const char *const fault_names[] = {"none", "truncate", "reset", "invalid_json", "oversized"};

/* The body a fault "invalid_json" sends: valid up to the cut. */
static const char invalid_json_body[] = "{\"id\": \"resp_bad\", \"output\": [";

struct fu_fixture {
    struct fu_fixture *next;
    char *name; /* as given, relative to fixtures_dir */
    char *data; /* NUL-terminated, len bytes */
    size_t len;
};

struct fu_header {
    char *name;
    char *value;
};

/* One script entry or route. Script entries are shared between the queue and
 * the requests using them: `refs` and `times` are guarded by script_lock.
 * Routes are never freed before stop and ignore both. */
struct fu_entry {
    struct fu_entry *next;
    unsigned refs;
    long times; /* uses left; -1 = forever */
    int is_route;

    char *method; /* exact, or NULL = any */
    char *path;   /* suffix of the request path, or NULL = any */
    size_t path_len;
    char *match; /* substring of the request body, or NULL = any */
    size_t match_len;

    unsigned status;
    char *content_type; /* NULL = application/json */
    struct fu_header *headers;
    size_t n_headers;
    int headers_set_type; /* headers carry their own content-type */
    long delay_ms;
    long chunk_bytes;    /* > 0: send the body in pieces of this size (chunked) */
    long chunk_delay_ms; /* pause before each piece after the first */
    enum fu_fault fault;
    uint64_t oversized_bytes;

    char *body; /* literal body (owned), or NULL */
    const struct fu_fixture *fixture;
    const char *tmpl; /* body template: body, fixture data or "" */
    size_t tmpl_len;
    int tmpl_has_model;
};

/* One recorded request: a single allocation, strings packed after it. */
struct fu_record {
    const char *method;
    const char *path;
    const char *query;
    const char *body;
    size_t body_len;
    size_t n_headers;
    const char **headers; /* 2 * n_headers: lowercased name, value */
    double at_ms;         /* when it arrived: CLOCK_MONOTONIC, ms */
};

/* Per-request state, created by the URI-log callback and freed when the
 * request completes. */
struct fu_req {
    char *body;
    size_t body_len;
    size_t body_cap;
    int started;
    int too_large;
    const char *query; /* points into uri, "" when absent */
    char uri[];        /* raw path; the '?' is overwritten with NUL */
};

struct fake_upstream {
    struct MHD_Daemon *daemon;
    char *fixtures_dir;
    unsigned short port;
    char url[40];
    struct fu_entry *routes;
    atomic_ulong next_request_id;

    pthread_mutex_t script_lock;
    struct fu_entry *script_head;
    struct fu_entry *script_tail;

    pthread_mutex_t rec_lock;
    struct fu_record **ring; /* FU_MAX_RECORDS slots */
    size_t ring_start;
    size_t ring_len;
    size_t total_requests;

    pthread_mutex_t cache_lock;
    struct fu_fixture *cache;

    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond; /* CLOCK_MONOTONIC */
    int stopping;
};

/* ---------------------------------------------------------------- utils */

static char *dup_mem(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* memmem without _GNU_SOURCE. */
static const char *mem_find(const char *hay, size_t hay_len, const char *needle, size_t needle_len)
{
    const char *p = hay;
    const char *end = hay + hay_len;

    if (needle_len == 0)
        return hay;
    while ((size_t)(end - p) >= needle_len) {
        p = memchr(p, (unsigned char)needle[0], (size_t)(end - p) - needle_len + 1);
        if (p == NULL)
            return NULL;
        if (memcmp(p, needle, needle_len) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* Read a whole file, NUL-terminated. When the file cannot be opened, errno
 * says why. */
static int read_file(const char *path, char **out, size_t *out_len, char *err, size_t errlen)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    int rc = -1;

    f = fopen(path, "rb");
    if (f == NULL) {
        int saved = errno; /* load_routes tells ENOENT apart */

        snprintf(err, errlen, "cannot read %s: %s", path, strerror(saved));
        errno = saved;
        goto out;
    }
    for (;;) {
        size_t n;

        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 16384;
            char *nbuf = realloc(buf, ncap + 1);

            if (nbuf == NULL) {
                snprintf(err, errlen, "out of memory reading %s", path);
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    return rc;
}

/* Parse exactly one JSON value from text[0..len); trailing blanks allowed. */
static json_object *parse_json(const char *text, size_t len, char *err, size_t errlen)
{
    json_tokener *tok;
    json_object *obj;
    enum json_tokener_error jerr;
    size_t end;

    if (len > INT32_MAX) {
        snprintf(err, errlen, "JSON text too large");
        return NULL;
    }
    tok = json_tokener_new();
    if (tok == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    obj = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    if (obj == NULL || jerr != json_tokener_success) {
        if (jerr == json_tokener_continue)
            snprintf(err, errlen, "invalid JSON: unexpected end of input");
        else
            snprintf(err, errlen, "invalid JSON at offset %zu: %s", json_tokener_get_parse_end(tok),
                     json_tokener_error_desc(jerr));
        json_object_put(obj);
        json_tokener_free(tok);
        return NULL;
    }
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    for (; end < len; end++) {
        char c = text[end];

        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            snprintf(err, errlen, "invalid JSON: trailing data at offset %zu", end);
            json_object_put(obj);
            return NULL;
        }
    }
    return obj;
}

/* Sleep up to ms, waking early when the server stops. -1 when stopping. */
static int wait_ms(struct fake_upstream *fu, long ms)
{
    struct timespec deadline;
    int stopping;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&fu->stop_lock);
    while (!fu->stopping) {
        if (pthread_cond_timedwait(&fu->stop_cond, &fu->stop_lock, &deadline) == ETIMEDOUT)
            break;
    }
    stopping = fu->stopping;
    pthread_mutex_unlock(&fu->stop_lock);
    return stopping ? -1 : 0;
}

static int is_stopping(struct fake_upstream *fu)
{
    int stopping;

    pthread_mutex_lock(&fu->stop_lock);
    stopping = fu->stopping;
    pthread_mutex_unlock(&fu->stop_lock);
    return stopping;
}

/* -------------------------------------------------------- fixture cache */

/* A fixture name must stay inside fixtures_dir. */
static int fixture_name_ok(const char *name)
{
    const char *p = name;

    if (name[0] == '\0' || name[0] == '/')
        return 0;
    while (*p != '\0') {
        size_t seg = strcspn(p, "/");

        if (seg == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += seg;
        if (*p == '/')
            p++;
    }
    return 1;
}

/* The cached fixture `name`, read from disk on first use. The result lives
 * until stop. */
static const struct fu_fixture *fixture_get(struct fake_upstream *fu, const char *name, char *err,
                                            size_t errlen)
{
    struct fu_fixture *fx;
    char *path = NULL;
    size_t path_len;

    if (!fixture_name_ok(name)) {
        snprintf(err, errlen, "fixture \"%s\" must be a path inside the fixtures dir", name);
        return NULL;
    }
    pthread_mutex_lock(&fu->cache_lock);
    for (fx = fu->cache; fx != NULL; fx = fx->next) {
        if (strcmp(fx->name, name) == 0)
            goto out;
    }
    fx = calloc(1, sizeof *fx);
    path_len = strlen(fu->fixtures_dir) + 1 + strlen(name) + 1;
    path = malloc(path_len);
    if (fx == NULL || path == NULL || (fx->name = strdup(name)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(path, path_len, "%s/%s", fu->fixtures_dir, name);
    if (read_file(path, &fx->data, &fx->len, err, errlen) < 0)
        goto fail;
    fx->next = fu->cache;
    fu->cache = fx;
    goto out;
fail:
    if (fx != NULL)
        free(fx->name);
    free(fx);
    fx = NULL;
out:
    pthread_mutex_unlock(&fu->cache_lock);
    free(path);
    return fx;
}

static void fixture_cache_free(struct fu_fixture *fx)
{
    while (fx != NULL) {
        struct fu_fixture *next = fx->next;

        free(fx->name);
        free(fx->data);
        free(fx);
        fx = next;
    }
}

/* -------------------------------------------------------------- entries */

static void entry_free(struct fu_entry *e)
{
    size_t i;

    if (e == NULL)
        return;
    free(e->method);
    free(e->path);
    free(e->match);
    free(e->content_type);
    for (i = 0; i < e->n_headers; i++) {
        free(e->headers[i].name);
        free(e->headers[i].value);
    }
    free(e->headers);
    free(e->body);
    free(e);
}

static void entry_list_free(struct fu_entry *e)
{
    while (e != NULL) {
        struct fu_entry *next = e->next;

        entry_free(e);
        e = next;
    }
}

static int field_string(json_object *v, const char *key, char **out, size_t *out_len, char *err,
                        size_t errlen)
{
    size_t len;

    if (!json_object_is_type(v, json_type_string)) {
        snprintf(err, errlen, "field \"%s\" must be a string", key);
        return -1;
    }
    len = (size_t)json_object_get_string_len(v);
    free(*out);
    *out = dup_mem(json_object_get_string(v), len);
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (out_len != NULL)
        *out_len = len;
    return 0;
}

static int field_int(json_object *v, const char *key, int64_t min, int64_t max, int64_t *out,
                     char *err, size_t errlen)
{
    int64_t n;

    if (!json_object_is_type(v, json_type_int)) {
        snprintf(err, errlen, "field \"%s\" must be an integer", key);
        return -1;
    }
    n = json_object_get_int64(v);
    if (n < min || n > max) {
        snprintf(err, errlen, "field \"%s\" must be between %" PRId64 " and %" PRId64, key, min,
                 max);
        return -1;
    }
    *out = n;
    return 0;
}

static int header_name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
            return 0;
    }
    return 1;
}

static int field_headers(struct fu_entry *e, json_object *v, char *err, size_t errlen)
{
    size_t n = 0;

    if (!json_object_is_type(v, json_type_object)) {
        snprintf(err, errlen, "field \"headers\" must be an object");
        return -1;
    }
    e->headers = calloc((size_t)json_object_object_length(v) + 1, sizeof *e->headers);
    if (e->headers == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_object_object_foreach(v, hname, hval)
    {
        const char *value;

        if (!json_object_is_type(hval, json_type_string) &&
            !json_object_is_type(hval, json_type_int) &&
            !json_object_is_type(hval, json_type_double)) {
            snprintf(err, errlen, "header \"%s\" must be a string or a number", hname);
            return -1;
        }
        value = json_object_get_string(hval);
        if (!header_name_ok(hname) || strpbrk(value, "\r\n") != NULL) {
            snprintf(err, errlen, "header \"%s\" is not a valid HTTP header", hname);
            return -1;
        }
        e->headers[n].name = strdup(hname);
        e->headers[n].value = strdup(value);
        e->n_headers = ++n;
        if (e->headers[n - 1].name == NULL || e->headers[n - 1].value == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (strcasecmp(hname, "content-type") == 0)
            e->headers_set_type = 1;
    }
    return 0;
}

/* Build an entry from one JSON object of script or routes.json. Unknown keys
 * are refused (they are nearly always typos) except "comment" and keys
 * starting with "_". */
static struct fu_entry *entry_parse(struct fake_upstream *fu, json_object *obj, int is_route,
                                    char *err, size_t errlen)
{
    struct fu_entry *e = NULL;
    char *fixture = NULL;
    char *fault = NULL;
    int64_t n;

    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, errlen, "an entry must be a JSON object");
        return NULL;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->refs = 1;
    e->times = is_route ? -1 : 1;
    e->is_route = is_route;
    e->status = 200;
    e->oversized_bytes = FU_DEFAULT_OVERSIZED;

    json_object_object_foreach(obj, key, val)
    {
        if (strcmp(key, "method") == 0) {
            if (field_string(val, key, &e->method, NULL, err, errlen) < 0)
                goto fail;
        } else if (strcmp(key, "path") == 0) {
            if (field_string(val, key, &e->path, &e->path_len, err, errlen) < 0)
                goto fail;
        } else if (strcmp(key, "match") == 0) {
            if (field_string(val, key, &e->match, &e->match_len, err, errlen) < 0)
                goto fail;
        } else if (strcmp(key, "status") == 0) {
            if (field_int(val, key, 100, 999, &n, err, errlen) < 0)
                goto fail;
            e->status = (unsigned)n;
        } else if (strcmp(key, "headers") == 0) {
            if (e->headers != NULL) {
                snprintf(err, errlen, "field \"headers\" given twice");
                goto fail;
            }
            if (field_headers(e, val, err, errlen) < 0)
                goto fail;
        } else if (strcmp(key, "content_type") == 0) {
            if (field_string(val, key, &e->content_type, NULL, err, errlen) < 0)
                goto fail;
            if (strpbrk(e->content_type, "\r\n") != NULL) {
                snprintf(err, errlen, "field \"content_type\" must be one line");
                goto fail;
            }
        } else if (strcmp(key, "fixture") == 0) {
            if (field_string(val, key, &fixture, NULL, err, errlen) < 0)
                goto fail;
        } else if (strcmp(key, "body") == 0) {
            if (field_string(val, key, &e->body, &e->tmpl_len, err, errlen) < 0)
                goto fail;
        } else if (strcmp(key, "delay_ms") == 0) {
            if (field_int(val, key, 0, FU_MAX_DELAY_MS, &n, err, errlen) < 0)
                goto fail;
            e->delay_ms = (long)n;
        } else if (strcmp(key, "chunk_bytes") == 0) {
            if (field_int(val, key, 1, 1 << 20, &n, err, errlen) < 0)
                goto fail;
            e->chunk_bytes = (long)n;
        } else if (strcmp(key, "chunk_delay_ms") == 0) {
            if (field_int(val, key, 0, FU_MAX_DELAY_MS, &n, err, errlen) < 0)
                goto fail;
            e->chunk_delay_ms = (long)n;
        } else if (strcmp(key, "fault") == 0) {
            if (field_string(val, key, &fault, NULL, err, errlen) < 0)
                goto fail;
        } else if (strcmp(key, "oversized_bytes") == 0) {
            if (field_int(val, key, 1, (int64_t)FU_MAX_OVERSIZED, &n, err, errlen) < 0)
                goto fail;
            e->oversized_bytes = (uint64_t)n;
        } else if (strcmp(key, "times") == 0) {
            if (field_int(val, key, -1, INT32_MAX, &n, err, errlen) < 0)
                goto fail;
            if (n == 0) {
                snprintf(err, errlen, "field \"times\" must be -1 or at least 1");
                goto fail;
            }
            if (!is_route)
                e->times = (long)n;
        } else if (strcmp(key, "comment") == 0 || key[0] == '_') {
            /* free-form annotation */
        } else {
            snprintf(err, errlen, "unknown field \"%s\"", key);
            goto fail;
        }
    }

    if (fault != NULL) {
        size_t i;

        for (i = 0; i < sizeof fault_names / sizeof fault_names[0]; i++) {
            if (strcmp(fault, fault_names[i]) == 0)
                break;
        }
        if (i == sizeof fault_names / sizeof fault_names[0]) {
            snprintf(err, errlen,
                     "field \"fault\" must be none, truncate, reset, invalid_json or "
                     "oversized, not \"%s\"",
                     fault);
            goto fail;
        }
        e->fault = (enum fu_fault)i;
    }
    if (fixture != NULL && e->body != NULL) {
        snprintf(err, errlen, "give either \"fixture\" or \"body\", not both");
        goto fail;
    }
    if (fixture != NULL) {
        e->fixture = fixture_get(fu, fixture, err, errlen);
        if (e->fixture == NULL)
            goto fail;
        e->tmpl = e->fixture->data;
        e->tmpl_len = e->fixture->len;
    } else if (e->body != NULL) {
        e->tmpl = e->body;
    } else {
        e->tmpl = "";
        e->tmpl_len = 0;
    }
    e->tmpl_has_model = mem_find(e->tmpl, e->tmpl_len, "{{model}}", 9) != NULL;
    free(fixture);
    free(fault);
    return e;
fail:
    free(fixture);
    free(fault);
    entry_free(e);
    return NULL;
}

/* Parse a script or routes text: one entry object or an array of them.
 * Returns the count parsed (*out is the list) or -1 with err set. */
static long entries_parse(struct fake_upstream *fu, const char *text, size_t len, int is_route,
                          struct fu_entry **out, char *err, size_t errlen)
{
    json_object *root;
    struct fu_entry *head = NULL;
    struct fu_entry **tail = &head;
    size_t i, count;
    char inner[FU_ERRLEN - 32]; /* leaves room for the "entry N: " prefix */

    *out = NULL;
    root = parse_json(text, len, err, errlen);
    if (root == NULL)
        return -1;
    if (json_object_is_type(root, json_type_object)) {
        head = entry_parse(fu, root, is_route, err, errlen);
        json_object_put(root);
        if (head == NULL)
            return -1;
        *out = head;
        return 1;
    }
    if (!json_object_is_type(root, json_type_array)) {
        snprintf(err, errlen, "expected an entry object or an array of entries");
        json_object_put(root);
        return -1;
    }
    count = json_object_array_length(root);
    for (i = 0; i < count; i++) {
        struct fu_entry *e =
            entry_parse(fu, json_object_array_get_idx(root, i), is_route, inner, sizeof inner);

        if (e == NULL) {
            snprintf(err, errlen, "entry %zu: %s", i, inner);
            json_object_put(root);
            entry_list_free(head);
            return -1;
        }
        *tail = e;
        tail = &e->next;
    }
    json_object_put(root);
    *out = head;
    return (long)count;
}

static int entry_matches(const struct fu_entry *e, const char *method, const char *path,
                         size_t path_len, const char *body, size_t body_len)
{
    if (e->method != NULL && strcmp(e->method, method) != 0)
        return 0;
    if (e->path != NULL && (e->path_len > path_len ||
                            memcmp(path + path_len - e->path_len, e->path, e->path_len) != 0))
        return 0;
    if (e->match != NULL && mem_find(body, body_len, e->match, e->match_len) == NULL)
        return 0;
    return 1;
}

/* Drop one reference to a script entry (routes are not counted). */
static void entry_release(struct fake_upstream *fu, struct fu_entry *e)
{
    unsigned refs;

    if (e == NULL || e->is_route)
        return;
    pthread_mutex_lock(&fu->script_lock);
    refs = --e->refs;
    pthread_mutex_unlock(&fu->script_lock);
    if (refs == 0)
        entry_free(e);
}

/* The entry that answers this request, or NULL. A script entry comes back
 * with a reference the caller releases; its use is counted here. */
static struct fu_entry *entry_pick(struct fake_upstream *fu, const char *method, const char *path,
                                   size_t path_len, const char *body, size_t body_len)
{
    struct fu_entry *e;
    struct fu_entry *prev = NULL;

    pthread_mutex_lock(&fu->script_lock);
    for (e = fu->script_head; e != NULL; prev = e, e = e->next) {
        if (!entry_matches(e, method, path, path_len, body, body_len))
            continue;
        e->refs++;
        if (e->times > 0 && --e->times == 0) {
            if (prev != NULL)
                prev->next = e->next;
            else
                fu->script_head = e->next;
            if (fu->script_tail == e)
                fu->script_tail = prev;
            e->next = NULL;
            e->refs--; /* the queue's reference; the caller still holds one */
        }
        break;
    }
    pthread_mutex_unlock(&fu->script_lock);
    if (e != NULL)
        return e;
    for (e = fu->routes; e != NULL; e = e->next) {
        if (entry_matches(e, method, path, path_len, body, body_len))
            return e;
    }
    return NULL;
}

static int script_push(struct fake_upstream *fu, const char *json, size_t len, char *err,
                       size_t errlen)
{
    struct fu_entry *list;
    struct fu_entry *last;

    if (entries_parse(fu, json, len, 0, &list, err, errlen) < 0)
        return -1;
    if (list == NULL)
        return 0;
    for (last = list; last->next != NULL; last = last->next)
        ;
    pthread_mutex_lock(&fu->script_lock);
    if (fu->script_tail != NULL)
        fu->script_tail->next = list;
    else
        fu->script_head = list;
    fu->script_tail = last;
    pthread_mutex_unlock(&fu->script_lock);
    return 0;
}

/* Detach the whole queue and drop its references. */
static void script_clear(struct fake_upstream *fu)
{
    struct fu_entry *e;
    struct fu_entry *dead = NULL;

    pthread_mutex_lock(&fu->script_lock);
    e = fu->script_head;
    fu->script_head = fu->script_tail = NULL;
    while (e != NULL) {
        struct fu_entry *next = e->next;

        e->next = NULL;
        if (--e->refs == 0) {
            e->next = dead;
            dead = e;
        }
        e = next;
    }
    pthread_mutex_unlock(&fu->script_lock);
    entry_list_free(dead);
}

static int load_routes(struct fake_upstream *fu)
{
    char err[FU_ERRLEN];
    char *path = NULL;
    char *text = NULL;
    size_t path_len, len;
    int rc = -1;

    path_len = strlen(fu->fixtures_dir) + sizeof "/routes.json";
    path = malloc(path_len);
    if (path == NULL) {
        fprintf(stderr, "fake_upstream: out of memory\n");
        return -1;
    }
    snprintf(path, path_len, "%s/routes.json", fu->fixtures_dir);
    if (read_file(path, &text, &len, err, sizeof err) < 0) {
        if (errno == ENOENT) {
            rc = 0; /* no routes: only scripted answers and 404s */
            goto out;
        }
        fprintf(stderr, "fake_upstream: %s\n", err);
        goto out;
    }
    if (entries_parse(fu, text, len, 1, &fu->routes, err, sizeof err) < 0) {
        fprintf(stderr, "fake_upstream: %s: %s\n", path, err);
        goto out;
    }
    rc = 0;
out:
    free(text);
    free(path);
    return rc;
}

/* ----------------------------------------------------------- request log */

struct header_walk {
    size_t count;
    size_t bytes;
    const char **slots; /* NULL during the counting pass */
    char *cursor;
};

static enum MHD_Result header_walk_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct header_walk *w = cls;
    size_t klen = strlen(key);
    size_t vlen = value ? strlen(value) : 0;
    size_t i;

    (void)kind;
    if (w->slots == NULL) {
        w->count++;
        w->bytes += klen + 1 + vlen + 1;
        return MHD_YES;
    }
    w->slots[2 * w->count] = w->cursor;
    for (i = 0; i < klen; i++) {
        char c = key[i];

        w->cursor[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    w->cursor[klen] = '\0';
    w->cursor += klen + 1;
    w->slots[2 * w->count + 1] = w->cursor;
    if (vlen != 0)
        memcpy(w->cursor, value, vlen);
    w->cursor[vlen] = '\0';
    w->cursor += vlen + 1;
    w->count++;
    return MHD_YES;
}

static char *pack(char **cursor, const char *s, size_t len)
{
    char *p = *cursor;

    if (len != 0)
        memcpy(p, s, len);
    p[len] = '\0';
    *cursor += len + 1;
    return p;
}

static void record_request(struct fake_upstream *fu, struct MHD_Connection *conn,
                           const char *method, const struct fu_req *rq)
{
    struct header_walk w = {0, 0, NULL, NULL};
    struct fu_record *rec;
    struct fu_record *evicted = NULL;
    size_t mlen = strlen(method);
    size_t plen = strlen(rq->uri);
    size_t qlen = strlen(rq->query);
    size_t size;
    char *cursor;

    MHD_get_connection_values(conn, MHD_HEADER_KIND, header_walk_cb, &w);
    size = sizeof *rec + 2 * w.count * sizeof(char *) + w.bytes + mlen + 1 + plen + 1 + qlen + 1 +
           rq->body_len + 1;
    rec = malloc(size);
    if (rec == NULL) {
        fprintf(stderr, "fake_upstream: out of memory recording a request\n");
        return;
    }
    w.slots = (const char **)(rec + 1);
    w.cursor = (char *)(w.slots + 2 * w.count);
    w.count = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, header_walk_cb, &w);
    cursor = w.cursor;
    rec->headers = w.slots;
    rec->n_headers = w.count;
    rec->method = pack(&cursor, method, mlen);
    rec->path = pack(&cursor, rq->uri, plen);
    rec->query = pack(&cursor, rq->query, qlen);
    rec->body = pack(&cursor, rq->body ? rq->body : "", rq->body_len);
    rec->body_len = rq->body_len;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    rec->at_ms = (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;

    pthread_mutex_lock(&fu->rec_lock);
    if (fu->ring_len == FU_MAX_RECORDS) {
        evicted = fu->ring[fu->ring_start];
        fu->ring_start = (fu->ring_start + 1) % FU_MAX_RECORDS;
        fu->ring_len--;
    }
    fu->ring[(fu->ring_start + fu->ring_len) % FU_MAX_RECORDS] = rec;
    fu->ring_len++;
    fu->total_requests++;
    pthread_mutex_unlock(&fu->rec_lock);
    free(evicted);
}

static void records_clear(struct fake_upstream *fu)
{
    size_t i;

    pthread_mutex_lock(&fu->rec_lock);
    for (i = 0; i < fu->ring_len; i++)
        free(fu->ring[(fu->ring_start + i) % FU_MAX_RECORDS]);
    fu->ring_start = fu->ring_len = 0;
    fu->total_requests = 0;
    pthread_mutex_unlock(&fu->rec_lock);
}

static json_object *record_to_json(const struct fu_record *rec)
{
    json_object *obj = json_object_new_object();
    json_object *headers = json_object_new_object();
    size_t i;

    if (obj == NULL || headers == NULL)
        goto fail;
    for (i = 0; i < rec->n_headers; i++) {
        const char *name = rec->headers[2 * i];
        const char *value = rec->headers[2 * i + 1];
        json_object *prev;
        json_object *v;

        if (json_object_object_get_ex(headers, name, &prev)) {
            /* a repeated header: join as HTTP allows */
            size_t plen = (size_t)json_object_get_string_len(prev);
            size_t vlen = strlen(value);
            char *joined = malloc(plen + 2 + vlen + 1);

            if (joined == NULL)
                goto fail;
            memcpy(joined, json_object_get_string(prev), plen);
            memcpy(joined + plen, ", ", 2);
            memcpy(joined + plen + 2, value, vlen + 1);
            v = json_object_new_string_len(joined, (int)(plen + 2 + vlen));
            free(joined);
        } else {
            v = json_object_new_string(value);
        }
        if (v == NULL || json_object_object_add(headers, name, v) < 0)
            goto fail;
    }
    if (json_object_object_add(obj, "method", json_object_new_string(rec->method)) < 0 ||
        json_object_object_add(obj, "path", json_object_new_string(rec->path)) < 0 ||
        json_object_object_add(obj, "query", json_object_new_string(rec->query)) < 0 ||
        json_object_object_add(obj, "at_ms", json_object_new_double(rec->at_ms)) < 0 ||
        json_object_object_add(obj, "headers", headers) < 0)
        goto fail;
    headers = NULL;
    if (rec->body_len > INT32_MAX ||
        json_object_object_add(obj, "body",
                               json_object_new_string_len(rec->body, (int)rec->body_len)) < 0)
        goto fail;
    return obj;
fail:
    json_object_put(headers);
    json_object_put(obj);
    return NULL;
}

/* ----------------------------------------------------- response builders */

/* Response headers every answer shares. */
static int add_headers(struct fake_upstream *fu, struct MHD_Response *resp,
                       const struct fu_entry *e)
{
    char reqid[40];
    size_t i;
    int has_reqid = 0;

    if (e == NULL || !e->headers_set_type) {
        const char *ctype = (e && e->content_type) ? e->content_type : "application/json";

        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES)
            return -1;
    }
    for (i = 0; e != NULL && i < e->n_headers; i++) {
        if (MHD_add_response_header(resp, e->headers[i].name, e->headers[i].value) != MHD_YES)
            return -1;
        if (strcasecmp(e->headers[i].name, "x-request-id") == 0)
            has_reqid = 1;
    }
    if (!has_reqid) {
        snprintf(reqid, sizeof reqid, "req_fake%024lx",
                 (unsigned long)atomic_fetch_add(&fu->next_request_id, 1));
        if (MHD_add_response_header(resp, "x-request-id", reqid) != MHD_YES)
            return -1;
    }
    return 0;
}

static enum MHD_Result queue(struct fake_upstream *fu, struct MHD_Connection *conn, unsigned status,
                             struct MHD_Response *resp, const struct fu_entry *e)
{
    enum MHD_Result ret;

    if (resp == NULL)
        return MHD_NO;
    if (add_headers(fu, resp, e) < 0) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A small JSON answer from the server itself (control endpoints, errors). */
static enum MHD_Result reply_json(struct fake_upstream *fu, struct MHD_Connection *conn,
                                  unsigned status, const char *json)
{
    return queue(fu, conn, status,
                 MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY),
                 NULL);
}

/* {"error": {"message", "type", "param": null, "code"}} as OpenAI sends it. */
static enum MHD_Result reply_openai_error(struct fake_upstream *fu, struct MHD_Connection *conn,
                                          unsigned status, const char *message, const char *type,
                                          const char *code)
{
    json_object *root = json_object_new_object();
    json_object *err = json_object_new_object();
    enum MHD_Result ret = MHD_NO;

    if (root == NULL || err == NULL ||
        json_object_object_add(err, "message", json_object_new_string(message)) < 0 ||
        json_object_object_add(err, "type", json_object_new_string(type)) < 0 ||
        json_object_object_add(err, "param", NULL) < 0 ||
        json_object_object_add(err, "code", code ? json_object_new_string(code) : NULL) < 0 ||
        json_object_object_add(root, "error", err) < 0) {
        json_object_put(err);
        goto out;
    }
    ret = reply_json(fu, conn, status,
                     json_object_to_json_string_ext(root, JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
out:
    json_object_put(root);
    return ret;
}

/* Escape s for use inside a JSON string literal. malloc'd. */
static char *json_escape(const char *s, size_t len, size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    char *out = malloc(len * 6 + 1);
    size_t i, n = 0;

    if (out == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            out[n++] = '\\';
            out[n++] = 'u';
            out[n++] = '0';
            out[n++] = '0';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* The template with each {{model}} replaced by the request's top-level
 * "model" string. NULL when the request names no model (send the template
 * unchanged) or on allocation failure. */
static char *substitute_model(const struct fu_entry *e, const char *body, size_t body_len,
                              size_t *out_len)
{
    char err[FU_ERRLEN];
    json_object *req = NULL;
    json_object *model;
    char *esc = NULL;
    char *out = NULL;
    size_t esc_len, count = 0, n = 0;
    const char *p, *hit;
    const char *end = e->tmpl + e->tmpl_len;

    if (body_len == 0)
        return NULL;
    req = parse_json(body, body_len, err, sizeof err);
    if (req == NULL || !json_object_object_get_ex(req, "model", &model) ||
        !json_object_is_type(model, json_type_string))
        goto out;
    esc = json_escape(json_object_get_string(model), (size_t)json_object_get_string_len(model),
                      &esc_len);
    if (esc == NULL)
        goto out;
    for (p = e->tmpl; (hit = mem_find(p, (size_t)(end - p), "{{model}}", 9)) != NULL; p = hit + 9)
        count++;
    out = malloc(e->tmpl_len + count * esc_len + 1);
    if (out == NULL)
        goto out;
    for (p = e->tmpl; (hit = mem_find(p, (size_t)(end - p), "{{model}}", 9)) != NULL; p = hit + 9) {
        memcpy(out + n, p, (size_t)(hit - p));
        n += (size_t)(hit - p);
        memcpy(out + n, esc, esc_len);
        n += esc_len;
    }
    memcpy(out + n, p, (size_t)(end - p));
    n += (size_t)(end - p);
    out[n] = '\0';
    *out_len = n;
out:
    free(esc);
    json_object_put(req);
    return out;
}

/* fault "truncate": Content-Length of the whole body, then half of it. */
struct truncated_body {
    char *owned; /* NULL when data is a cached fixture */
    const char *data;
    size_t limit;
};

static ssize_t truncated_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct truncated_body *tb = cls;
    size_t n;

    if (pos >= tb->limit)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD drops the connection */
    n = tb->limit - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, tb->data + pos, n);
    return (ssize_t)n;
}

static void truncated_free(void *cls)
{
    struct truncated_body *tb = cls;

    free(tb->owned);
    free(tb);
}

/* chunk_bytes: the body in small pieces with chunked transfer encoding (a
 * stream of server-sent events as a provider sends it), chunk_delay_ms apart;
 * with fault "truncate", only the first half, then the connection drops
 * without the final chunk (a stream cut before its end). */
struct chunked_body {
    struct fake_upstream *fu;
    char *owned; /* NULL when data is a cached fixture */
    const char *data;
    size_t limit;
    long chunk;
    long delay_ms;
    int cut;
};

static ssize_t chunked_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct chunked_body *cb = cls;
    if (pos >= cb->limit)
        return cb->cut ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    if (pos > 0 && cb->delay_ms > 0 && wait_ms(cb->fu, cb->delay_ms) < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* stopping */
    size_t n = cb->limit - (size_t)pos;
    if (n > (size_t)cb->chunk)
        n = (size_t)cb->chunk;
    if (n > max)
        n = max;
    memcpy(buf, cb->data + pos, n);
    return (ssize_t)n;
}

static void chunked_free(void *cls)
{
    struct chunked_body *cb = cls;
    free(cb->owned);
    free(cb);
}

/* fault "oversized": a Responses-shaped body of exactly `total` bytes (or the
 * smallest such body when total is below it), generated as it is sent. */
static const char oversized_prefix[] =
    "{\"id\":\"resp_oversized\",\"object\":\"response\",\"created_at\":1764072000,"
    "\"status\":\"completed\",\"error\":null,\"incomplete_details\":null,"
    "\"model\":\"fake-oversized\",\"output\":[{\"id\":\"msg_oversized\",\"type\":\"message\","
    "\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
    "\"annotations\":[],\"text\":\"";
static const char oversized_suffix[] =
    "\"}]}],\"usage\":{\"input_tokens\":12,\"input_tokens_details\":{\"cached_tokens\":0},"
    "\"output_tokens\":4096,\"output_tokens_details\":{\"reasoning_tokens\":0},"
    "\"total_tokens\":4108}}";
static const char oversized_filler[] = "All work and no play makes Jack a dull boy. ";

struct oversized_body {
    uint64_t total;
};

static ssize_t oversized_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    const struct oversized_body *ob = cls;
    const uint64_t plen = sizeof oversized_prefix - 1;
    const uint64_t slen = sizeof oversized_suffix - 1;
    const uint64_t flen = sizeof oversized_filler - 1;
    const uint64_t suffix_at = ob->total - slen;
    size_t n = 0;

    if (pos >= ob->total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    while (n < max && pos < ob->total) {
        const char *src;
        uint64_t avail;
        size_t take;

        if (pos < plen) {
            src = oversized_prefix + pos;
            avail = plen - pos;
        } else if (pos >= suffix_at) {
            src = oversized_suffix + (pos - suffix_at);
            avail = ob->total - pos;
        } else {
            uint64_t off = (pos - plen) % flen;

            src = oversized_filler + off;
            avail = flen - off;
            if (avail > suffix_at - pos)
                avail = suffix_at - pos;
        }
        take = (size_t)(avail < max - n ? avail : max - n);
        memcpy(buf + n, src, take);
        n += take;
        pos += take;
    }
    return (ssize_t)n;
}

/* Abort the TCP connection with an RST and send nothing.
 *
 * SO_LINGER {1, 0} alone is not enough: before close() MHD calls
 * shutdown(SHUT_WR), which sends a FIN first, and the client then sees an
 * orderly empty reply instead of a reset. connect() with AF_UNSPEC
 * disconnects the socket at once, and Linux aborts an established connection
 * with an RST; the descriptor stays valid, so MHD still owns and closes it. */
static enum MHD_Result reset_connection(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct linger lg = {1, 0};
    struct sockaddr sa;

    if (ci != NULL) {
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        memset(&sa, 0, sizeof sa);
        sa.sa_family = AF_UNSPEC;
        connect(ci->connect_fd, &sa, sizeof sa);
    }
    return MHD_NO; /* MHD closes the connection */
}

static enum MHD_Result respond_entry(struct fake_upstream *fu, struct MHD_Connection *conn,
                                     const struct fu_entry *e, const struct fu_req *rq)
{
    struct MHD_Response *resp = NULL;
    char *body = NULL;
    const char *data = e->tmpl;
    size_t len = e->tmpl_len;

    if (e->delay_ms > 0 && wait_ms(fu, e->delay_ms) < 0)
        return MHD_NO; /* stopping */

    switch (e->fault) {
    case FU_FAULT_RESET:
        return reset_connection(conn);
    case FU_FAULT_INVALID_JSON:
        resp = MHD_create_response_from_buffer(sizeof invalid_json_body - 1,
                                               (void *)invalid_json_body, MHD_RESPMEM_PERSISTENT);
        break;
    case FU_FAULT_OVERSIZED: {
        struct oversized_body *ob = malloc(sizeof *ob);
        uint64_t min = sizeof oversized_prefix - 1 + sizeof oversized_suffix - 1;

        if (ob == NULL)
            return MHD_NO;
        ob->total = e->oversized_bytes < min ? min : e->oversized_bytes;
        resp = MHD_create_response_from_callback(ob->total, 64 * 1024, oversized_read, ob, free);
        if (resp == NULL)
            free(ob);
        break;
    }
    case FU_FAULT_NONE:
    case FU_FAULT_TRUNCATE:
        if (e->tmpl_has_model) {
            body = substitute_model(e, rq->body, rq->body_len, &len);
            if (body == NULL)
                len = e->tmpl_len;
        }
        if (body == NULL && e->body != NULL) {
            /* a literal body belongs to the entry, which may be freed
             * before MHD has sent it: send a copy */
            body = dup_mem(e->tmpl, e->tmpl_len);
            if (body == NULL)
                return MHD_NO;
        }
        if (body != NULL)
            data = body;
        if (e->chunk_bytes > 0) {
            struct chunked_body *cb = malloc(sizeof *cb);
            if (cb == NULL) {
                free(body);
                return MHD_NO;
            }
            cb->fu = fu;
            cb->owned = body;
            cb->data = data;
            cb->cut = e->fault == FU_FAULT_TRUNCATE;
            cb->limit = cb->cut ? len / 2 : len;
            cb->chunk = e->chunk_bytes;
            cb->delay_ms = e->chunk_delay_ms;
            resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, chunked_read, cb,
                                                     chunked_free);
            if (resp == NULL)
                chunked_free(cb);
        } else if (e->fault == FU_FAULT_TRUNCATE) {
            struct truncated_body *tb = malloc(sizeof *tb);

            if (tb == NULL) {
                free(body);
                return MHD_NO;
            }
            tb->owned = body;
            tb->data = data;
            tb->limit = len / 2;
            resp = MHD_create_response_from_callback(len, 64 * 1024, truncated_read, tb,
                                                     truncated_free);
            if (resp == NULL)
                truncated_free(tb);
        } else if (body != NULL) {
            resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
            if (resp == NULL)
                free(body);
        } else {
            /* cached fixture data lives until stop */
            resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
        }
        break;
    }
    return queue(fu, conn, e->status, resp, e);
}

/* ------------------------------------------------------ control endpoints */

static enum MHD_Result handle_control(struct fake_upstream *fu, struct MHD_Connection *conn,
                                      const char *method, const struct fu_req *rq)
{
    const char *what = rq->uri + sizeof "/_fake/" - 1;
    int is_get = strcmp(method, "GET") == 0;
    int is_post = strcmp(method, "POST") == 0;

    if (strcmp(what, "health") == 0 && is_get)
        return reply_json(fu, conn, MHD_HTTP_OK, "{\"ok\":true}");
    if (strcmp(what, "reset") == 0 && is_post) {
        fake_upstream_reset(fu);
        return reply_json(fu, conn, MHD_HTTP_OK, "{\"ok\":true}");
    }
    if (strcmp(what, "requests") == 0 && is_get) {
        char *json = fake_upstream_requests_json(fu);

        if (json == NULL)
            return MHD_NO;
        return queue(fu, conn, MHD_HTTP_OK,
                     MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE),
                     NULL);
    }
    if (strcmp(what, "script") == 0 && is_post) {
        char err[FU_ERRLEN];
        json_object *reply;
        enum MHD_Result ret;

        if (script_push(fu, rq->body ? rq->body : "", rq->body_len, err, sizeof err) == 0)
            return reply_json(fu, conn, MHD_HTTP_OK, "{\"ok\":true}");
        reply = json_object_new_object();
        if (reply == NULL || json_object_object_add(reply, "ok", json_object_new_boolean(0)) < 0 ||
            json_object_object_add(reply, "error", json_object_new_string(err)) < 0) {
            json_object_put(reply);
            return MHD_NO;
        }
        ret = reply_json(fu, conn, MHD_HTTP_BAD_REQUEST,
                         json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(reply);
        return ret;
    }
    return reply_json(fu, conn, MHD_HTTP_NOT_FOUND,
                      "{\"ok\":false,\"error\":\"control endpoints: GET /_fake/health, "
                      "GET /_fake/requests, POST /_fake/script, POST /_fake/reset\"}");
}

/* ------------------------------------------------------------ MHD hooks */

/* Called once per request with the raw request target, before MHD parses it:
 * the one place the raw query string is available. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    size_t len = strlen(uri);
    size_t path_len = strcspn(uri, "?");
    struct fu_req *rq = malloc(sizeof *rq + len + 1);

    (void)cls;
    (void)conn;
    if (rq == NULL)
        return NULL;
    memset(rq, 0, sizeof *rq);
    memcpy(rq->uri, uri, len + 1);
    if (path_len < len) {
        rq->uri[path_len] = '\0';
        rq->query = rq->uri + path_len + 1;
    } else {
        rq->query = rq->uri + len;
    }
    return rq;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct fu_req *rq = *req_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (rq == NULL)
        return;
    free(rq->body);
    free(rq);
    *req_cls = NULL;
}

static int body_append(struct fu_req *rq, const char *data, size_t len)
{
    if (rq->too_large || len > FU_MAX_REQUEST_BODY - rq->body_len) {
        rq->too_large = 1;
        return 0; /* keep reading, answer 413 at the end */
    }
    if (rq->body_cap - rq->body_len < len + 1) {
        size_t cap = rq->body_cap ? rq->body_cap : 4096;
        char *nbody;

        while (cap - rq->body_len < len + 1)
            cap *= 2;
        nbody = realloc(rq->body, cap);
        if (nbody == NULL)
            return -1;
        rq->body = nbody;
        rq->body_cap = cap;
    }
    memcpy(rq->body + rq->body_len, data, len);
    rq->body_len += len;
    rq->body[rq->body_len] = '\0';
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct fake_upstream *fu = cls;
    struct fu_req *rq = *req_cls;
    struct fu_entry *e;
    enum MHD_Result ret;
    char msg[512];

    (void)url; /* MHD's copy is percent-decoded; the raw one is in rq->uri */
    (void)version;
    if (rq == NULL)
        return MHD_NO; /* on_uri ran out of memory */
    if (!rq->started) {
        rq->started = 1; /* headers only; let the body come */
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (body_append(rq, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (is_stopping(fu))
        return MHD_NO;

    if (strncmp(rq->uri, "/_fake/", sizeof "/_fake/" - 1) == 0)
        return handle_control(fu, conn, method, rq);

    if (rq->too_large) {
        snprintf(msg, sizeof msg, "fake_upstream: request body over %zu bytes",
                 FU_MAX_REQUEST_BODY);
        return reply_openai_error(fu, conn, 413 /* Content Too Large */, msg,
                                  "invalid_request_error", NULL);
    }
    record_request(fu, conn, method, rq);

    e = entry_pick(fu, method, rq->uri, strlen(rq->uri), rq->body ? rq->body : "", rq->body_len);
    if (e == NULL) {
        /* the message OpenAI gives for an unknown endpoint */
        snprintf(msg, sizeof msg, "Invalid URL (%s %s)", method, rq->uri);
        return reply_openai_error(fu, conn, MHD_HTTP_NOT_FOUND, msg, "invalid_request_error", NULL);
    }
    ret = respond_entry(fu, conn, e, rq);
    entry_release(fu, e);
    return ret;
}

/* ----------------------------------------------------------- public API */

static void fu_free(struct fake_upstream *fu)
{
    if (fu == NULL)
        return;
    script_clear(fu);
    records_clear(fu);
    entry_list_free(fu->routes);
    fixture_cache_free(fu->cache);
    free(fu->ring);
    free(fu->fixtures_dir);
    pthread_mutex_destroy(&fu->script_lock);
    pthread_mutex_destroy(&fu->rec_lock);
    pthread_mutex_destroy(&fu->cache_lock);
    pthread_mutex_destroy(&fu->stop_lock);
    pthread_cond_destroy(&fu->stop_cond);
    free(fu);
}

fake_upstream *fake_upstream_start(const char *fixtures_dir, unsigned short port)
{
    struct fake_upstream *fu;
    struct sockaddr_in sa;
    pthread_condattr_t cattr;
    const union MHD_DaemonInfo *info;
    struct stat st;
    int saved_errno;

#ifdef FAKE_UPSTREAM_FIXTURES_DIR
    if (fixtures_dir == NULL)
        fixtures_dir = FAKE_UPSTREAM_FIXTURES_DIR;
#endif
    if (fixtures_dir == NULL) {
        fprintf(stderr, "fake_upstream: no fixtures dir given\n");
        return NULL;
    }
    if (stat(fixtures_dir, &st) != 0) {
        fprintf(stderr, "fake_upstream: fixtures dir %s: %s\n", fixtures_dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fake_upstream: fixtures dir %s is not a directory\n", fixtures_dir);
        return NULL;
    }
    fu = calloc(1, sizeof *fu);
    if (fu == NULL) {
        fprintf(stderr, "fake_upstream: out of memory\n");
        return NULL;
    }
    pthread_mutex_init(&fu->script_lock, NULL);
    pthread_mutex_init(&fu->rec_lock, NULL);
    pthread_mutex_init(&fu->cache_lock, NULL);
    pthread_mutex_init(&fu->stop_lock, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&fu->stop_cond, &cattr);
    pthread_condattr_destroy(&cattr);
    atomic_init(&fu->next_request_id, 1);

    fu->fixtures_dir = strdup(fixtures_dir);
    fu->ring = calloc(FU_MAX_RECORDS, sizeof *fu->ring);
    if (fu->fixtures_dir == NULL || fu->ring == NULL) {
        fprintf(stderr, "fake_upstream: out of memory\n");
        goto fail;
    }
    if (load_routes(fu) < 0)
        goto fail;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    errno = 0;
    /* One thread per connection: a delayed answer never blocks another
     * connection. poll() rather than select() so descriptors above
     * FD_SETSIZE work in test processes holding many files. */
    fu->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC, port, NULL,
        NULL, on_request, fu, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, fu, MHD_OPTION_NOTIFY_COMPLETED, on_completed, fu,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned int)512, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)0, MHD_OPTION_END);
    if (fu->daemon == NULL) {
        saved_errno = errno;
        fprintf(stderr, "fake_upstream: cannot listen on 127.0.0.1:%u%s%s\n", (unsigned)port,
                saved_errno ? ": " : "", saved_errno ? strerror(saved_errno) : "");
        goto fail;
    }
    info = MHD_get_daemon_info(fu->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        fprintf(stderr, "fake_upstream: cannot find the bound port\n");
        goto fail;
    }
    fu->port = info->port;
    snprintf(fu->url, sizeof fu->url, "http://127.0.0.1:%u", (unsigned)fu->port);
    return fu;
fail:
    if (fu->daemon != NULL)
        MHD_stop_daemon(fu->daemon);
    fu_free(fu);
    return NULL;
}

void fake_upstream_stop(fake_upstream *fu)
{
    if (fu == NULL)
        return;
    pthread_mutex_lock(&fu->stop_lock);
    fu->stopping = 1;
    pthread_cond_broadcast(&fu->stop_cond);
    pthread_mutex_unlock(&fu->stop_lock);
    MHD_stop_daemon(fu->daemon); /* joins every connection thread */
    fu_free(fu);
}

unsigned short fake_upstream_port(const fake_upstream *fu)
{
    return fu->port;
}

const char *fake_upstream_url(const fake_upstream *fu)
{
    return fu->url;
}

int fake_upstream_script(fake_upstream *fu, const char *json)
{
    char err[FU_ERRLEN];

    if (json == NULL) {
        fprintf(stderr, "fake_upstream: script: no JSON given\n");
        return -1;
    }
    if (script_push(fu, json, strlen(json), err, sizeof err) < 0) {
        fprintf(stderr, "fake_upstream: script: %s\n", err);
        return -1;
    }
    return 0;
}

void fake_upstream_reset(fake_upstream *fu)
{
    script_clear(fu);
    records_clear(fu);
}

size_t fake_upstream_request_count(fake_upstream *fu)
{
    size_t n;

    pthread_mutex_lock(&fu->rec_lock);
    n = fu->total_requests;
    pthread_mutex_unlock(&fu->rec_lock);
    return n;
}

char *fake_upstream_requests_json(fake_upstream *fu)
{
    json_object *arr = json_object_new_array();
    char *out = NULL;
    size_t i;

    if (arr == NULL)
        return NULL;
    /* Records are freed only under rec_lock, so hold it while reading them. */
    pthread_mutex_lock(&fu->rec_lock);
    for (i = 0; i < fu->ring_len; i++) {
        json_object *obj = record_to_json(fu->ring[(fu->ring_start + i) % FU_MAX_RECORDS]);

        if (obj == NULL || json_object_array_add(arr, obj) < 0) {
            json_object_put(obj);
            pthread_mutex_unlock(&fu->rec_lock);
            goto out;
        }
    }
    pthread_mutex_unlock(&fu->rec_lock);
    out = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
out:
    json_object_put(arr);
    return out;
}
