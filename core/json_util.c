#include "json_util.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#include <json-c/printbuf.h>

json_object *ju_get(const json_object *obj, const char *path)
{
    if (!obj || !path)
        return NULL;
    json_object *cur = (json_object *)obj;
    char key[128];
    const char *p = path;
    for (;;) {
        if (!json_object_is_type(cur, json_type_object))
            return NULL;
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len >= sizeof key)
            return NULL;
        memcpy(key, p, len);
        key[len] = '\0';
        json_object *next;
        if (!json_object_object_get_ex(cur, key, &next))
            return NULL;
        if (!dot)
            return next;
        cur = next;
        p = dot + 1;
    }
}

const char *ju_get_string(const json_object *obj, const char *path)
{
    json_object *v = ju_get(obj, path);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t ju_get_int(const json_object *obj, const char *path, int64_t def)
{
    json_object *v = ju_get(obj, path);
    if (json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (d >= -9e18 && d <= 9e18)
            return (int64_t)d;
    }
    return def;
}

llmsvc_code ju_parse(const char *text, size_t len, json_object **out, llmsvc_error **err)
{
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return err_set(err, LLMSVC_E_PROVIDER, "response body is larger than 2 GiB");
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return err_give(err, err_nomem());
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || je != json_tokener_success) {
        json_object_put(o);
        if (je == json_tokener_continue || je == json_tokener_success)
            return err_set(err, LLMSVC_E_PROVIDER,
                           "response body is not complete JSON (it ends after %zu bytes)", len);
        return err_set(err, LLMSVC_E_PROVIDER, "response body is not valid JSON at byte %zu: %s",
                       end, json_tokener_error_desc(je));
    }
    for (size_t i = end; i < len; i++) {
        if (!strchr(" \t\r\n", text[i])) {
            json_object_put(o);
            return err_set(err, LLMSVC_E_PROVIDER,
                           "response body has extra data after its JSON value (byte %zu)", i);
        }
    }
    *out = o;
    return LLMSVC_OK;
}

llmsvc_code ju_merge(json_object *dst, const json_object *src)
{
    if (!json_object_is_type(dst, json_type_object) || !json_object_is_type(src, json_type_object))
        return LLMSVC_E_INVALID_ARG;
    json_object_object_foreach((json_object *)src, k, v)
    {
        json_object *cur;
        if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(dst, k, &cur) &&
            json_object_is_type(cur, json_type_object)) {
            llmsvc_code rc = ju_merge(cur, v);
            if (rc != LLMSVC_OK)
                return rc;
            continue;
        }
        json_object *copy = NULL;
        if (v && json_object_deep_copy(v, &copy, NULL) != 0)
            return LLMSVC_E_NOMEM;
        if (json_object_object_add(dst, k, copy) != 0) {
            json_object_put(copy);
            return LLMSVC_E_NOMEM;
        }
    }
    return LLMSVC_OK;
}

llmsvc_code ju_set_path(json_object *obj, const char *path, json_object *value)
{
    if (!obj || !path || !*path || !json_object_is_type(obj, json_type_object)) {
        json_object_put(value);
        return LLMSVC_E_INVALID_ARG;
    }
    char key[128];
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!len || len >= sizeof key) {
            json_object_put(value);
            return LLMSVC_E_INVALID_ARG;
        }
        memcpy(key, p, len);
        key[len] = '\0';
        if (!dot)
            return json_object_object_add(obj, key, value) == 0 ? LLMSVC_OK : LLMSVC_E_NOMEM;
        json_object *next = NULL;
        if (!json_object_object_get_ex(obj, key, &next) ||
            !json_object_is_type(next, json_type_object)) {
            next = json_object_new_object();
            if (!next || json_object_object_add(obj, key, next) != 0) {
                json_object_put(next);
                json_object_put(value);
                return LLMSVC_E_NOMEM;
            }
        }
        obj = next;
        p = dot + 1;
    }
}

char *ju_to_string(const json_object *obj)
{
    const char *s = json_object_to_json_string_ext((json_object *)obj, JSON_C_TO_STRING_PLAIN |
                                                                           JSON_C_TO_STRING_NOSLASHESCAPE);
    return s ? strdup(s) : NULL;
}

/* json_raw: a string object whose serializer prints its text unquoted. */
const char ju_raw_marker[] = "json_raw";

static int raw_serializer(json_object *jso, struct printbuf *pb, int level, int flags)
{
    (void)level;
    (void)flags;
    return printbuf_memappend(pb, json_object_get_string(jso), json_object_get_string_len(jso));
}

json_object *ju_raw(const char *text, size_t len)
{
    if (!text || len > (size_t)INT32_MAX)
        return NULL;
    json_object *o = json_object_new_string_len(text, (int)len);
    if (o)
        json_object_set_serializer(o, raw_serializer, (void *)ju_raw_marker, NULL);
    return o;
}
