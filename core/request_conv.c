/* request_conv — the conversation parts of a request: turns, images, tool
 * results, tools, tool choice, structured output, per-call headers. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json_util.h"
#include "request.h"
#include "response.h"

static const char *const roles[] = {"system", "developer", "user", "assistant", "tool"};

int request_role_ok(const char *role)
{
    for (size_t i = 0; role && i < sizeof roles / sizeof *roles; i++) {
        if (!strcmp(role, roles[i]))
            return 1;
    }
    return 0;
}

static int dup_to(char **dst, const char *s)
{
    *dst = NULL;
    return s && !(*dst = strdup(s)) ? -1 : 0;
}

req_message *request_push_message(llmsvc_request *r, const char *role, const char *content)
{
    req_message *nv = realloc(r->messages, (r->n_messages + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    r->messages = nv;
    req_message *m = &nv[r->n_messages];
    memset(m, 0, sizeof *m);
    if (dup_to(&m->role, role) < 0 || dup_to(&m->content, content) < 0) {
        free(m->role);
        return NULL;
    }
    r->n_messages++;
    return m;
}

void request_free_conversation(llmsvc_request *r)
{
    for (size_t i = 0; i < r->n_messages; i++) {
        req_message *m = &r->messages[i];
        free(m->role);
        free(m->content);
        for (size_t j = 0; j < m->n_images; j++)
            free(m->images[j]);
        free(m->images);
        for (size_t j = 0; j < m->n_tool_calls; j++) {
            free((char *)m->tool_calls[j].id);
            free((char *)m->tool_calls[j].name);
            free((char *)m->tool_calls[j].arguments);
        }
        free(m->tool_calls);
        free(m->tool_call_id);
        free(m->state_protocol);
        free(m->state);
    }
    free(r->messages);
    for (size_t i = 0; i < r->n_tools; i++) {
        free(r->tools[i].name);
        free(r->tools[i].description);
        free(r->tools[i].parameters);
    }
    free(r->tools);
    free(r->tool_choice);
    free(r->format_name);
    free(r->format_schema);
    for (size_t i = 0; i < r->n_headers; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_add_message(llmsvc_request *r, const char *role,
                                                     const char *content)
{
    if (!r || !request_role_ok(role) || !strcmp(role, "tool"))
        return LLMSVC_E_INVALID_ARG;
    return request_push_message(r, role, content ? content : "") ? LLMSVC_OK : LLMSVC_E_NOMEM;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_add_image(llmsvc_request *r, const char *url)
{
    if (!r || !url || !r->n_messages)
        return LLMSVC_E_INVALID_ARG;
    req_message *m = &r->messages[r->n_messages - 1];
    char **nv = realloc(m->images, (m->n_images + 1) * sizeof *nv);
    if (!nv)
        return LLMSVC_E_NOMEM;
    m->images = nv;
    if (!(nv[m->n_images] = strdup(url)))
        return LLMSVC_E_NOMEM;
    m->n_images++;
    return LLMSVC_OK;
}

int request_message_add_call(req_message *m, const char *id, const char *name,
                             const char *arguments)
{
    llmsvc_tool_call *nv = realloc(m->tool_calls, (m->n_tool_calls + 1) * sizeof *nv);
    if (!nv)
        return -1;
    m->tool_calls = nv;
    llmsvc_tool_call *c = &nv[m->n_tool_calls];
    c->id = strdup(id ? id : "");
    c->name = strdup(name ? name : "");
    c->arguments = strdup(arguments ? arguments : "{}");
    m->n_tool_calls++;
    return c->id && c->name && c->arguments ? 0 : -1;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_add_response(llmsvc_request *r,
                                                      const llmsvc_response *resp)
{
    if (!r || !resp)
        return LLMSVC_E_INVALID_ARG;
    req_message *m = request_push_message(r, "assistant", llmsvc_response_message(resp));
    if (!m)
        return LLMSVC_E_NOMEM;
    for (size_t i = 0; i < resp->n_tool_calls; i++) {
        const llmsvc_tool_call *c = &resp->tool_calls[i];
        if (request_message_add_call(m, c->id, c->name, c->arguments) < 0)
            return LLMSVC_E_NOMEM;
    }
    if (resp->state && (dup_to(&m->state_protocol, resp->state_protocol) < 0 ||
                        dup_to(&m->state, resp->state) < 0))
        return LLMSVC_E_NOMEM;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_add_tool_result(llmsvc_request *r,
                                                         const char *tool_call_id,
                                                         const char *content)
{
    if (!r || !tool_call_id || !*tool_call_id)
        return LLMSVC_E_INVALID_ARG;
    req_message *m = request_push_message(r, "tool", content ? content : "");
    if (!m || dup_to(&m->tool_call_id, tool_call_id) < 0)
        return LLMSVC_E_NOMEM;
    return LLMSVC_OK;
}

/* A JSON object's text, checked; VALIDATION naming what otherwise. */
static llmsvc_code json_object_text(const char *text, const char *what, char **out,
                                    llmsvc_error **err)
{
    json_object *o = text ? json_tokener_parse(text) : NULL;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return err_set(err, LLMSVC_E_VALIDATION, "%s must be a JSON object (a JSON Schema)", what);
    }
    *out = ju_to_string(o);
    json_object_put(o);
    return *out ? LLMSVC_OK : err_give(err, err_nomem());
}

static int valid_tool_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n > 64)
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    }
    return 1;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_add_tool(llmsvc_request *r, const char *name,
                                                  const char *description,
                                                  const char *parameters, llmsvc_error **err)
{
    if (!r)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_request_add_tool: NULL request");
    if (!valid_tool_name(name))
        return err_set(err, LLMSVC_E_VALIDATION,
                       "tool name '%s' must be 1-64 letters, digits, '_' or '-'",
                       name ? name : "(null)");
    for (size_t i = 0; i < r->n_tools; i++) {
        if (!strcmp(r->tools[i].name, name))
            return err_set(err, LLMSVC_E_VALIDATION, "tool '%s' is defined twice", name);
    }
    char *params = NULL;
    llmsvc_code c = json_object_text(parameters ? parameters : "{\"type\":\"object\"}",
                                     "the parameters of a tool", &params, err);
    if (c != LLMSVC_OK)
        return c;
    req_tool *nv = realloc(r->tools, (r->n_tools + 1) * sizeof *nv);
    if (!nv) {
        free(params);
        return err_give(err, err_nomem());
    }
    r->tools = nv;
    req_tool *t = &nv[r->n_tools];
    t->parameters = params;
    if (dup_to(&t->name, name) < 0 || dup_to(&t->description, description) < 0) {
        free(t->name);
        free(params);
        return err_give(err, err_nomem());
    }
    r->n_tools++;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_tool_choice(llmsvc_request *r, const char *choice)
{
    if (!r || (choice && !*choice))
        return LLMSVC_E_INVALID_ARG;
    char *p = NULL;
    if (dup_to(&p, choice) < 0)
        return LLMSVC_E_NOMEM;
    free(r->tool_choice);
    r->tool_choice = p;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_parallel_tool_calls(llmsvc_request *r, int on)
{
    if (!r)
        return LLMSVC_E_INVALID_ARG;
    r->parallel_tool_calls = on != 0;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_set_response_format(llmsvc_request *r,
                                                             const char *name,
                                                             const char *schema, int strict,
                                                             llmsvc_error **err)
{
    if (!r)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_request_set_response_format: NULL");
    if (!schema) {
        free(r->format_name);
        free(r->format_schema);
        r->format_name = r->format_schema = NULL;
        return LLMSVC_OK;
    }
    char *text = NULL, *n = NULL;
    llmsvc_code c = json_object_text(schema, "the response format's schema", &text, err);
    if (c != LLMSVC_OK)
        return c;
    if (dup_to(&n, name && *name ? name : "response") < 0) {
        free(text);
        return err_give(err, err_nomem());
    }
    free(r->format_name);
    free(r->format_schema);
    r->format_name = n;
    r->format_schema = text;
    r->format_strict = strict != 0;
    return LLMSVC_OK;
}

LLMSVC_EXTERN llmsvc_code llmsvc_request_add_header(llmsvc_request *r, const char *name,
                                                    const char *value)
{
    if (!r || !name || !*name || !value || strpbrk(name, ": \t\r\n") || strpbrk(value, "\r\n"))
        return LLMSVC_E_INVALID_ARG;
    llmsvc_kv *nv = realloc(r->headers, (r->n_headers + 1) * sizeof *nv);
    if (!nv)
        return LLMSVC_E_NOMEM;
    r->headers = nv;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return LLMSVC_E_NOMEM;
    }
    nv[r->n_headers].name = n;
    nv[r->n_headers].value = v;
    r->n_headers++;
    return LLMSVC_OK;
}
