#include "prototest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
