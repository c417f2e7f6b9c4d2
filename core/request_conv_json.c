/* request_conv_json — the conversation fields of the request JSON:
 *   "llm": {"messages": [{"role", "content", "images": [url], "tool_calls":
 *            [{"id", "name", "arguments"}], "tool_call_id", "state":
 *            {"protocol", "data"}}],
 *           "tools": [{"name", "description", "parameters": {schema}}],
 *           "tool_choice": "auto"|"none"|"required"|NAME,
 *           "parallel_tool_calls": bool,
 *           "response_format": {"name", "schema": {schema}, "strict": bool}}
 *   top level: "headers": {"Name": "value"}
 * A response's "assistant_message" is a valid turn as it is. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "json_util.h"
#include "request.h"

static const char *const keys[] = {"messages", "tools", "tool_choice", "parallel_tool_calls",
                                   "response_format"};

int conv_json_key(const char *key)
{
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (!strcmp(keys[i], key))
            return 1;
    }
    return 0;
}

static llmsvc_code bad(llmsvc_error **err, const char *field, const char *what)
{
    llmsvc_error *e = err_new(LLMSVC_E_VALIDATION, "'%s' %s", field, what);
    err_set_provider(e, NULL, NULL, field);
    return err_give(err, e);
}

static const char *opt_string(json_object *o, const char *k, int *bad_type)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    if (!json_object_is_type(v, json_type_string)) {
        *bad_type = 1;
        return NULL;
    }
    return json_object_get_string(v);
}

static llmsvc_code parse_calls(req_message *m, json_object *calls, const char *field,
                               llmsvc_error **err)
{
    if (!json_object_is_type(calls, json_type_array))
        return bad(err, field, "must be a list of {id, name, arguments}");
    for (size_t i = 0; i < json_object_array_length(calls); i++) {
        json_object *c = json_object_array_get_idx(calls, i), *args = NULL;
        int bt = 0;
        const char *id = opt_string(c, "id", &bt), *name = opt_string(c, "name", &bt);
        if (bt || !name || !json_object_is_type(c, json_type_object))
            return bad(err, field, "holds a call without a name (or with a non-string id)");
        json_object_object_get_ex(c, "arguments", &args);
        char *text = NULL;
        if (json_object_is_type(args, json_type_string))
            text = strdup(json_object_get_string(args));
        else if (json_object_is_type(args, json_type_object))
            text = ju_to_string(args);
        else if (args && !json_object_is_type(args, json_type_null))
            return bad(err, field, "holds arguments that are neither JSON text nor an object");
        int rc = request_message_add_call(m, id, name, text);
        free(text);
        if (rc < 0)
            return err_give(err, err_nomem());
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_message(llmsvc_request *r, json_object *o, size_t i,
                                 llmsvc_error **err)
{
    static const char *const known[] = {"role",       "content",      "images",
                                        "tool_calls", "tool_call_id", "state"};
    char field[64];
    snprintf(field, sizeof field, "llm.messages[%zu]", i);
    if (!json_object_is_type(o, json_type_object))
        return bad(err, field, "must be an object {role, content, ...}");
    json_object_object_foreach(o, k, fv)
    {
        size_t j = 0;
        (void)fv;
        while (j < sizeof known / sizeof *known && strcmp(known[j], k))
            j++;
        if (j == sizeof known / sizeof *known) {
            char f[96];
            snprintf(f, sizeof f, "%s.%s", field, k);
            return bad(err, f, "is not a field of a message (role, content, images, tool_calls, "
                               "tool_call_id, state)");
        }
    }
    int bt = 0;
    const char *role = opt_string(o, "role", &bt), *content = opt_string(o, "content", &bt),
               *call_id = opt_string(o, "tool_call_id", &bt);
    if (bt)
        return bad(err, field, "has a role, content or tool_call_id that is not a string");
    if (!request_role_ok(role))
        return bad(err, field, "needs a role: system, developer, user, assistant or tool");
    if (!strcmp(role, "tool") && (!call_id || !*call_id))
        return bad(err, field, "is a tool result without its tool_call_id");
    req_message *m = request_push_message(r, role, content);
    if (!m || (call_id && !(m->tool_call_id = strdup(call_id))))
        return err_give(err, err_nomem());
    json_object *v;
    if (json_object_object_get_ex(o, "images", &v) && v) {
        if (!json_object_is_type(v, json_type_array))
            return bad(err, field, "has images that are not a list of URLs");
        for (size_t j = 0; j < json_object_array_length(v); j++) {
            json_object *u = json_object_array_get_idx(v, j);
            if (!json_object_is_type(u, json_type_string))
                return bad(err, field, "has an image that is not a URL string");
            if (llmsvc_request_add_image(r, json_object_get_string(u)) != LLMSVC_OK)
                return err_give(err, err_nomem());
        }
    }
    if (json_object_object_get_ex(o, "tool_calls", &v) && v) {
        char f[96];
        snprintf(f, sizeof f, "%s.tool_calls", field);
        llmsvc_code c = parse_calls(m, v, f, err);
        if (c != LLMSVC_OK)
            return c;
    }
    if (json_object_object_get_ex(o, "state", &v) && v) {
        int bt2 = 0;
        const char *proto = opt_string(v, "protocol", &bt2), *data = opt_string(v, "data", &bt2);
        if (bt2 || !proto || !data)
            return bad(err, field, "has a state without its protocol and data (strings)");
        if (!(m->state_protocol = strdup(proto)) || !(m->state = strdup(data)))
            return err_give(err, err_nomem());
    }
    return LLMSVC_OK;
}

static llmsvc_code parse_tools(llmsvc_request *r, json_object *v, llmsvc_error **err)
{
    if (!json_object_is_type(v, json_type_array))
        return bad(err, "llm.tools", "must be a list of {name, description, parameters}");
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *t = json_object_array_get_idx(v, i), *params = NULL;
        int bt = 0;
        const char *name = opt_string(t, "name", &bt), *desc = opt_string(t, "description", &bt);
        if (bt || !name)
            return bad(err, "llm.tools", "holds a tool without a name");
        json_object_object_get_ex(t, "parameters", &params);
        char *text = params ? ju_to_string(params) : NULL;
        llmsvc_code c = llmsvc_request_add_tool(r, name, desc, text, err);
        free(text);
        if (c != LLMSVC_OK)
            return c;
    }
    return LLMSVC_OK;
}

llmsvc_code conv_json_parse(llmsvc_request *r, const char *key, json_object *v,
                            llmsvc_error **err)
{
    if (json_object_is_type(v, json_type_null))
        return LLMSVC_OK;
    if (!strcmp(key, "messages")) {
        if (!json_object_is_type(v, json_type_array))
            return bad(err, "llm.messages", "must be a list of turns");
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            llmsvc_code c = parse_message(r, json_object_array_get_idx(v, i), i, err);
            if (c != LLMSVC_OK)
                return c;
        }
        return LLMSVC_OK;
    }
    if (!strcmp(key, "tools"))
        return parse_tools(r, v, err);
    if (!strcmp(key, "tool_choice")) {
        if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
            return bad(err, "llm.tool_choice", "must be auto, none, required or a tool's name");
        return llmsvc_request_set_tool_choice(r, json_object_get_string(v)) == LLMSVC_OK
                   ? LLMSVC_OK
                   : err_give(err, err_nomem());
    }
    if (!strcmp(key, "parallel_tool_calls")) {
        if (!json_object_is_type(v, json_type_boolean))
            return bad(err, "llm.parallel_tool_calls", "must be true or false");
        r->parallel_tool_calls = json_object_get_boolean(v);
        return LLMSVC_OK;
    }
    /* response_format */
    json_object *schema = NULL, *strict = NULL;
    int bt = 0;
    const char *name = opt_string(v, "name", &bt);
    json_object_object_get_ex(v, "schema", &schema);
    json_object_object_get_ex(v, "strict", &strict);
    if (bt || !json_object_is_type(v, json_type_object) ||
        (strict && !json_object_is_type(strict, json_type_boolean)))
        return bad(err, "llm.response_format", "must be {name, schema, strict}");
    char *text = schema ? ju_to_string(schema) : NULL;
    llmsvc_code c = llmsvc_request_set_response_format(
        r, name, text ? text : "null", strict ? json_object_get_boolean(strict) : 1, err);
    free(text);
    return c;
}

llmsvc_code conv_json_headers(llmsvc_request *r, json_object *v, llmsvc_error **err)
{
    if (json_object_is_type(v, json_type_null))
        return LLMSVC_OK;
    if (!json_object_is_type(v, json_type_object))
        return bad(err, "headers", "must be an object of header names and values");
    json_object_object_foreach(v, k, val)
    {
        if (!json_object_is_type(val, json_type_string) ||
            llmsvc_request_add_header(r, k, json_object_get_string(val)) != LLMSVC_OK)
            return bad(err, "headers", "holds a name or value that cannot be an HTTP header");
    }
    return LLMSVC_OK;
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

void conv_json_emit(const llmsvc_request *r, json_object *llm, json_object *root)
{
    if (r->n_messages) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < r->n_messages; i++) {
            const req_message *m = &r->messages[i];
            json_object *o = json_object_new_object();
            json_object_object_add(o, "role", str_or_null(m->role));
            json_object_object_add(o, "content", str_or_null(m->content));
            if (m->n_images) {
                json_object *im = json_object_new_array();
                for (size_t j = 0; j < m->n_images; j++)
                    json_object_array_add(im, json_object_new_string(m->images[j]));
                json_object_object_add(o, "images", im);
            }
            if (m->n_tool_calls) {
                json_object *calls = json_object_new_array();
                for (size_t j = 0; j < m->n_tool_calls; j++) {
                    json_object *c = json_object_new_object();
                    json_object_object_add(c, "id", str_or_null(m->tool_calls[j].id));
                    json_object_object_add(c, "name", str_or_null(m->tool_calls[j].name));
                    json_object_object_add(c, "arguments", str_or_null(m->tool_calls[j].arguments));
                    json_object_array_add(calls, c);
                }
                json_object_object_add(o, "tool_calls", calls);
            }
            if (m->tool_call_id)
                json_object_object_add(o, "tool_call_id", json_object_new_string(m->tool_call_id));
            if (m->state) {
                json_object *st = json_object_new_object();
                json_object_object_add(st, "protocol", str_or_null(m->state_protocol));
                json_object_object_add(st, "data", json_object_new_string(m->state));
                json_object_object_add(o, "state", st);
            }
            json_object_array_add(a, o);
        }
        json_object_object_add(llm, "messages", a);
    }
    if (r->n_tools) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < r->n_tools; i++) {
            json_object *t = json_object_new_object();
            json_object_object_add(t, "name", json_object_new_string(r->tools[i].name));
            if (r->tools[i].description)
                json_object_object_add(t, "description",
                                       json_object_new_string(r->tools[i].description));
            json_object_object_add(t, "parameters", json_tokener_parse(r->tools[i].parameters));
            json_object_array_add(a, t);
        }
        json_object_object_add(llm, "tools", a);
    }
    if (r->tool_choice)
        json_object_object_add(llm, "tool_choice", json_object_new_string(r->tool_choice));
    if (r->parallel_tool_calls >= 0)
        json_object_object_add(llm, "parallel_tool_calls",
                               json_object_new_boolean(r->parallel_tool_calls));
    if (r->format_schema) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "name", str_or_null(r->format_name));
        json_object_object_add(f, "schema", json_tokener_parse(r->format_schema));
        json_object_object_add(f, "strict", json_object_new_boolean(r->format_strict));
        json_object_object_add(llm, "response_format", f);
    }
    if (r->n_headers) {
        json_object *h = json_object_new_object();
        for (size_t i = 0; i < r->n_headers; i++)
            json_object_object_add(h, r->headers[i].name,
                                   json_object_new_string(r->headers[i].value));
        json_object_object_add(root, "headers", h);
    }
}
