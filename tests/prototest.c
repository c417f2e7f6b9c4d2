#include "prototest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- the fixture ---- */

void proto_start(proto_fixture *fx, const char *base_path, ...)
{
    memset(fx, 0, sizeof *fx);
    /* libcurl honours proxy variables; loopback must never go through one */
    tu_setenv("no_proxy", "127.0.0.1,localhost");
    tu_setenv("NO_PROXY", "127.0.0.1,localhost");
    tu_mkdtemp(fx->tmp);
    snprintf(fx->plugins, sizeof fx->plugins, "%s/plugins", fx->tmp);
    ck_assert_int_eq(mkdir(fx->plugins, 0700), 0);
    va_list ap;
    va_start(ap, base_path);
    for (const char *src; (src = va_arg(ap, const char *)) != NULL;) {
        const char *name = va_arg(ap, const char *);
        ck_assert_ptr_nonnull(name);
        tu_copy(NULL, src, fx->plugins, name, 0755);
    }
    va_end(ap);
    fx->fu = fake_upstream_start(NULL, 0);
    ck_assert_msg(fx->fu != NULL, "the fake upstream did not start");
    snprintf(fx->base, sizeof fx->base, "%s%s", fake_upstream_url(fx->fu), base_path);
    tu_log_init(&fx->logs);
}

void proto_options(proto_fixture *fx, llmsvc_options *o, const char *spec_path)
{
    tu_options(o, fx->plugins, spec_path, &fx->logs);
}

llmsvc_runtime *proto_open_options(const llmsvc_options *o)
{
    llmsvc_runtime *r = tu_open(o);
    const char *problems = llmsvc_runtime_spec_problems(r);
    ck_assert_msg(problems == NULL, "spec problems: %s", problems);
    return r;
}

llmsvc_runtime *proto_open(proto_fixture *fx, unsigned flags, const char *spec_path)
{
    llmsvc_options o;
    proto_options(fx, &o, spec_path);
    o.flags = flags;
    return proto_open_options(&o);
}

void proto_stop(proto_fixture *fx)
{
    llmsvc_runtime_close(fx->rt);
    fake_upstream_stop(fx->fu);
    tu_log_free(&fx->logs);
    tu_rm_rf(fx->tmp);
    tu_env_restore();
    memset(fx, 0, sizeof *fx);
}

void proto_vscript(fake_upstream *fu, const char *fmt, va_list ap)
{
    char entry[4096];
    int n = vsnprintf(entry, sizeof entry, fmt, ap);
    ck_assert(n > 0 && (size_t)n < sizeof entry);
    ck_assert_msg(fake_upstream_script(fu, entry) == 0, "script refused: %s", entry);
}

void proto_script(proto_fixture *fx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    proto_vscript(fx->fu, fmt, ap);
    va_end(ap);
}

llmsvc_request *proto_request(proto_fixture *fx, const char *provider, const char *model,
                              const char *prompt)
{
    llmsvc_request *r = tu_request(provider, model, prompt);
    ck_assert_int_eq(llmsvc_request_set_base_url(r, fx->base), LLMSVC_OK);
    return r;
}

void proto_serve_body(proto_fixture *fx, const char *path, const char *body,
                      const char *content_type)
{
    json_object *entry = json_object_new_object();
    json_object_object_add(entry, "path", json_object_new_string(path));
    json_object_object_add(entry, "body", json_object_new_string(body));
    if (content_type)
        json_object_object_add(entry, "content_type", json_object_new_string(content_type));
    ck_assert_int_eq(
        fake_upstream_script(fx->fu, json_object_to_json_string_ext(entry, JSON_C_TO_STRING_PLAIN)),
        0);
    json_object_put(entry);
}

void proto_serve_json(proto_fixture *fx, const char *path, json_object *o)
{
    proto_serve_body(fx, path, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), NULL);
}

/* ---- fixture files ---- */

static void fixture_path(char path[TU_PATH], const char *dir, const char *name)
{
    if (*dir)
        snprintf(path, TU_PATH, TEST_SRC_DIR "/fixtures/%s/%s", dir, name);
    else
        snprintf(path, TU_PATH, TEST_SRC_DIR "/fixtures/%s", name);
}

json_object *proto_fixture_json(const char *dir, const char *name)
{
    char path[TU_PATH];
    fixture_path(path, dir, name);
    json_object *o = json_object_from_file(path);
    ck_assert_msg(o != NULL, "cannot read fixture %s", path);
    return o;
}

char *proto_fixture_text(const char *dir, const char *name)
{
    char path[TU_PATH];
    fixture_path(path, dir, name);
    return tu_slurp(path);
}

char *proto_with_model(const char *text, const char *model)
{
    size_t n = tu_count(text, "{{model}}");
    char *out = malloc(strlen(text) + n * strlen(model) + 1), *o = out;
    ck_assert_ptr_nonnull(out);
    for (const char *p = text;;) {
        const char *m = strstr(p, "{{model}}");
        size_t len = m ? (size_t)(m - p) : strlen(p);
        memcpy(o, p, len);
        o += len;
        if (!m)
            break;
        memcpy(o, model, strlen(model));
        o += strlen(model);
        p = m + 9;
    }
    *o = '\0';
    return out;
}

int proto_json_same(const char *a, const char *b)
{
    json_object *x = json_tokener_parse(a), *y = json_tokener_parse(b);
    int same = x && y && json_object_equal(x, y);
    json_object_put(x);
    json_object_put(y);
    return same;
}

double proto_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

json_object *proto_model_pricing(json_object *models, const char *provider, const char *model)
{
    for (size_t i = 0; i < json_object_array_length(models); i++) {
        json_object *m = json_object_array_get_idx(models, i);
        const char *name = jstr(m, "model"), *prov = jstr(m, "provider");
        if (name && !strcmp(name, model) && (!provider || !prov || !strcmp(prov, provider)))
            return jat(m, "pricing");
    }
    ck_abort_msg("llmsvc_runtime_models_json has no model '%s'", model);
    return NULL;
}

double proto_price(json_object *pricing, const char *key)
{
    json_object *v = jat(pricing, key);
    return v ? json_object_get_double(v) : -1;
}

/* ---- what a stream's callback saw ---- */

void proto_seen_init(proto_seen *s)
{
    memset(s, 0, sizeof *s);
    s->last_args_index = -1;
}

int proto_on_event(void *user, const llmsvc_event *ev)
{
    proto_seen *s = user;
    s->events++;
    switch (ev->type) {
    case LLMSVC_EVENT_TEXT:
        ck_assert_uint_lt(strlen(s->text) + ev->len, sizeof s->text);
        strncat(s->text, ev->text, ev->len);
        s->text_events++;
        s->text_after_usage += s->usage_events > 0;
        return s->stop_after_text && s->text_events >= s->stop_after_text;
    case LLMSVC_EVENT_REASONING:
        ck_assert_uint_lt(strlen(s->reasoning) + ev->len, sizeof s->reasoning);
        strncat(s->reasoning, ev->text, ev->len);
        break;
    case LLMSVC_EVENT_TOOL_START:
        ck_assert_int_lt(ev->index, PROTO_MAXCALLS);
        s->starts[ev->index]++;
        snprintf(s->ids[ev->index], sizeof s->ids[0], "%s", ev->id ? ev->id : "");
        snprintf(s->names[ev->index], sizeof s->names[0], "%s", ev->name ? ev->name : "");
        break;
    case LLMSVC_EVENT_TOOL_ARGS:
        ck_assert_int_lt(ev->index, PROTO_MAXCALLS);
        ck_assert_uint_lt(strlen(s->args[ev->index]) + ev->len, sizeof s->args[0]);
        strncat(s->args[ev->index], ev->text, ev->len);
        if (s->last_args_index >= 0 && s->last_args_index != ev->index &&
            !s->ends[s->last_args_index])
            s->args_interleaved = 1;
        s->last_args_index = ev->index;
        break;
    case LLMSVC_EVENT_TOOL_END:
        ck_assert_int_lt(ev->index, PROTO_MAXCALLS);
        s->ends[ev->index]++;
        break;
    case LLMSVC_EVENT_USAGE:
        s->usage_events++;
        s->last_usage_output = llmsvc_response_tokens(ev->response, LLMSVC_TOKENS_OUTPUT);
        break;
    case LLMSVC_EVENT_DONE:
        s->done++;
        s->ends_before_done = 1;
        for (int i = 0; i < PROTO_MAXCALLS; i++)
            if (s->starts[i] && !s->ends[i])
                s->ends_before_done = 0;
        break;
    case LLMSVC_EVENT_ERROR:
        s->errors++;
        break;
    }
    return 0;
}

/* ---- stream text straight through the core's SSE parser into a plugin ---- */

int proto_feed_event(void *user, const llmsvc_sse_event *ev)
{
    proto_feed *f = user;
    f->code = f->api->ops.parse_event(f->api->state, f->call, ev, f->sink, &f->state, &f->err);
    return f->code != LLMSVC_OK;
}

proto_fed proto_feed_sse(const api_rec *api, const llmsvc_call_info *call, const char *text,
                         size_t len, size_t step, llmsvc_stream_fn fn, void *user)
{
    proto_fed r = {response_new(), 0, 0, LLMSVC_OK, NULL};
    ck_assert_ptr_nonnull(r.resp);
    llmsvc_stream sink;
    stream_init(&sink, fn, user, r.resp);
    proto_feed f = {api, call, &sink, NULL, LLMSVC_OK, NULL};
    sse_parser p;
    sse_init(&p, 1 << 20, proto_feed_event, &f);
    if (!step)
        step = len;
    for (size_t i = 0; i < len && !r.sse_rc; i += step)
        r.sse_rc = sse_feed(&p, text + i, i + step > len ? len - i : step);
    if (!r.sse_rc)
        r.sse_rc = sse_finish(&p);
    if (f.state)
        api->ops.stream_free(api->state, f.state);
    r.done = sink.done;
    r.code = f.code;
    r.err = f.err;
    ck_assert_int_eq(stream_finish(&sink), LLMSVC_OK);
    stream_free(&sink);
    sse_free(&p);
    return r;
}

/* ---- what the fake upstream recorded ---- */

proto_sent proto_sent_get(fake_upstream *fu, int i)
{
    proto_sent s = {NULL, NULL, NULL, NULL};
    char *text = fake_upstream_requests_json(fu);
    ck_assert_ptr_nonnull(text);
    s.all = json_tokener_parse(text);
    free(text);
    ck_assert(json_object_is_type(s.all, json_type_array));
    int n = (int)json_object_array_length(s.all);
    int at = i < 0 ? n + i : i;
    ck_assert_msg(at >= 0 && at < n, "request %d was not recorded (%d were)", i, n);
    s.rec = json_object_array_get_idx(s.all, (size_t)at);
    s.text = jstr(s.rec, "body");
    ck_assert_ptr_nonnull(s.text);
    s.body = json_tokener_parse(s.text);
    ck_assert_msg(json_object_is_type(s.body, json_type_object), "body is not a JSON object: %s",
                  s.text);
    return s;
}

void proto_sent_free(proto_sent *s)
{
    json_object_put(s->body);
    json_object_put(s->all);
}

const char *proto_sent_header(const proto_sent *s, const char *lower_name)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(jat(s->rec, "headers"), lower_name, &v))
        return NULL;
    return json_object_get_string(v);
}

int proto_header_is(const proto_sent *s, const char *lower_name, const char *want)
{
    const char *v = proto_sent_header(s, lower_name);
    return v && strcmp(v, want) == 0;
}

/* ---- JSON paths ---- */

json_object *jat(json_object *o, const char *path)
{
    const char *p = path;
    char step[128];
    while (o && *p) {
        size_t n = strcspn(p, ".");
        ck_assert(n < sizeof step);
        memcpy(step, p, n);
        step[n] = '\0';
        p += n;
        if (*p == '.')
            p++;
        if (json_object_is_type(o, json_type_array)) {
            char *end;
            long i = strtol(step, &end, 10);
            if (*end || i < 0 || (size_t)i >= json_object_array_length(o))
                return NULL;
            o = json_object_array_get_idx(o, (size_t)i);
        } else if (!json_object_object_get_ex(o, step, &o)) {
            return NULL;
        }
    }
    return o;
}

const char *jstr(json_object *o, const char *path)
{
    json_object *v = jat(o, path);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t jint(json_object *o, const char *path)
{
    json_object *v = jat(o, path);
    ck_assert_msg(json_object_is_type(v, json_type_int), "%s is not an integer", path);
    return json_object_get_int64(v);
}

int64_t jint_or(json_object *o, const char *path, int64_t def)
{
    json_object *v = jat(o, path);
    return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

double jnum(json_object *o, const char *path)
{
    json_object *v = jat(o, path);
    ck_assert_msg(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int),
                  "%s is not a number", path);
    return json_object_get_double(v);
}

int jbool(json_object *o, const char *path)
{
    json_object *v = jat(o, path);
    ck_assert_msg(json_object_is_type(v, json_type_boolean), "%s is not a boolean", path);
    return json_object_get_boolean(v);
}

size_t jlen(json_object *o, const char *path)
{
    json_object *v = jat(o, path);
    ck_assert_msg(json_object_is_type(v, json_type_array), "%s is not an array", path);
    return json_object_array_length(v);
}

int jhas(json_object *o, const char *key)
{
    return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, NULL);
}
