#include "response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "room.h"

static void init_counts(llmsvc_response *r)
{
    for (int i = 0; i < 6; i++)
        r->tokens[i] = -1;
    r->cost_usd = -1;
}

llmsvc_response *response_new(void)
{
    llmsvc_response *r = calloc(1, sizeof *r);
    if (r)
        init_counts(r);
    return r;
}

char *response_str(llmsvc_response *r, const char *s)
{
    return room_copy(r->inl, sizeof r->inl, &r->inl_used, s);
}

void response_str_free(llmsvc_response *r, char *p)
{
    room_free(r->inl, sizeof r->inl, p);
}

static void free_files(llmsvc_response *r)
{
    for (size_t i = 0; i < r->n_files; i++) {
        free((char *)r->files[i].file_id);
        free((char *)r->files[i].filename);
        free((char *)r->files[i].text);
    }
    free(r->files);
    r->files = NULL;
    r->n_files = 0;
}

static void free_tool_calls(llmsvc_response *r)
{
    for (size_t i = 0; i < r->n_tool_calls; i++) {
        free((char *)r->tool_calls[i].id);
        free((char *)r->tool_calls[i].name);
        free((char *)r->tool_calls[i].arguments);
    }
    free(r->tool_calls);
    r->tool_calls = NULL;
    r->n_tool_calls = 0;
}

static void free_tries(llmsvc_response *r)
{
    for (size_t i = 0; i < r->n_tries; i++) {
        free(r->tries[i].provider);
        free(r->tries[i].model);
        free(r->tries[i].message);
    }
    free(r->tries);
    r->tries = NULL;
    r->n_tries = 0;
}

void response_set_tries(llmsvc_response *r, try_info *tries, size_t n)
{
    free_tries(r);
    r->tries = tries;
    r->n_tries = n;
}

void response_reset(llmsvc_response *r)
{
    free_tool_calls(r);
    free(r->state_protocol);
    free(r->state);
    r->state_protocol = r->state = NULL;
    response_str_free(r, r->id);
    response_str_free(r, r->model);
    response_str_free(r, r->finish_reason);
    r->id = r->model = r->finish_reason = NULL;
    buf_clear(&r->text);
    buf_clear(&r->reasoning);
    r->has_reasoning = 0;
    free_files(r);
    init_counts(r);
}

LLMSVC_EXTERN void llmsvc_response_free(llmsvc_response *r)
{
    if (!r)
        return;
    response_reset(r);
    free_tries(r);
    free(r->route);
    free(r->arm);
    response_str_free(r, r->provider);
    buf_free(&r->text);
    buf_free(&r->reasoning);
    free(r);
}

llmsvc_code response_set(llmsvc_response *r, llmsvc_resp_field f, const char *value)
{
    char **dst;
    switch (f) {
    case LLMSVC_RESP_ID:
        dst = &r->id;
        break;
    case LLMSVC_RESP_MODEL:
        dst = &r->model;
        break;
    case LLMSVC_RESP_FINISH_REASON:
        dst = &r->finish_reason;
        break;
    default:
        return LLMSVC_E_INVALID_ARG;
    }
    char *p = NULL;
    if (value && !(p = response_str(r, value)))
        return LLMSVC_E_NOMEM;
    response_str_free(r, *dst);
    *dst = p;
    return LLMSVC_OK;
}

llmsvc_code response_append_text(llmsvc_response *r, const char *text, size_t len)
{
    return buf_append(&r->text, text, len) < 0 ? LLMSVC_E_NOMEM : LLMSVC_OK;
}

llmsvc_code response_append_reasoning(llmsvc_response *r, const char *text, size_t len)
{
    r->has_reasoning = 1;
    return buf_append(&r->reasoning, text, len) < 0 ? LLMSVC_E_NOMEM : LLMSVC_OK;
}

llmsvc_code response_set_usage(llmsvc_response *r, const llmsvc_usage *u)
{
    if (!u || u->size < sizeof(llmsvc_usage))
        return LLMSVC_E_INVALID_ARG;
    r->tokens[LLMSVC_TOKENS_INPUT] = u->input;
    r->tokens[LLMSVC_TOKENS_OUTPUT] = u->output;
    r->tokens[LLMSVC_TOKENS_REASONING] = u->reasoning;
    r->tokens[LLMSVC_TOKENS_CACHED_INPUT] = u->cached_input;
    r->tokens[LLMSVC_TOKENS_CACHE_WRITE] = u->cache_write;
    r->tokens[LLMSVC_TOKENS_TOTAL] = u->total;
    if (u->total < 0 && u->input >= 0 && u->output >= 0)
        r->tokens[LLMSVC_TOKENS_TOTAL] = u->input + u->output;
    return LLMSVC_OK;
}

llmsvc_code response_add_tool_call(llmsvc_response *r, const char *id, const char *name,
                                   const char *arguments)
{
    llmsvc_tool_call *nv = realloc(r->tool_calls, (r->n_tool_calls + 1) * sizeof *nv);
    if (!nv)
        return LLMSVC_E_NOMEM;
    r->tool_calls = nv;
    llmsvc_tool_call *c = &nv[r->n_tool_calls];
    c->id = strdup(id ? id : "");
    c->name = strdup(name ? name : "");
    c->arguments = strdup(arguments && *arguments ? arguments : "{}");
    r->n_tool_calls++;
    return c->id && c->name && c->arguments ? LLMSVC_OK : LLMSVC_E_NOMEM;
}

llmsvc_code response_set_state(llmsvc_response *r, const char *protocol, const char *json,
                               size_t len)
{
    if (!protocol || !json)
        return LLMSVC_E_INVALID_ARG;
    char *p = strdup(protocol), *j = malloc(len + 1);
    if (!p || !j) {
        free(p);
        free(j);
        return LLMSVC_E_NOMEM;
    }
    memcpy(j, json, len);
    j[len] = '\0';
    free(r->state_protocol);
    free(r->state);
    r->state_protocol = p;
    r->state = j;
    return LLMSVC_OK;
}

llmsvc_code response_add_file_result(llmsvc_response *r, const char *file_id,
                                     const char *filename, double score, const char *text)
{
    llmsvc_file_result *nv = realloc(r->files, (r->n_files + 1) * sizeof *nv);
    if (!nv)
        return LLMSVC_E_NOMEM;
    r->files = nv;
    llmsvc_file_result *f = &nv[r->n_files];
    f->file_id = strdup(file_id ? file_id : "");
    f->filename = strdup(filename ? filename : "");
    f->text = strdup(text ? text : "");
    f->score = score;
    r->n_files++;
    if (!f->file_id || !f->filename || !f->text)
        return LLMSVC_E_NOMEM;
    return LLMSVC_OK;
}

/* ---- public accessors ---- */

LLMSVC_EXTERN const char *llmsvc_response_id(const llmsvc_response *r)
{
    return r && r->id ? r->id : "";
}

LLMSVC_EXTERN const char *llmsvc_response_provider(const llmsvc_response *r)
{
    return r && r->provider ? r->provider : "";
}

LLMSVC_EXTERN const char *llmsvc_response_model(const llmsvc_response *r)
{
    return r && r->model ? r->model : "";
}

LLMSVC_EXTERN const char *llmsvc_response_message(const llmsvc_response *r)
{
    return r ? buf_cstr(&r->text) : "";
}

LLMSVC_EXTERN const char *llmsvc_response_finish_reason(const llmsvc_response *r)
{
    return r && r->finish_reason ? r->finish_reason : "stop";
}

LLMSVC_EXTERN const char *llmsvc_response_reasoning(const llmsvc_response *r)
{
    return r && r->has_reasoning ? buf_cstr(&r->reasoning) : NULL;
}

LLMSVC_EXTERN int64_t llmsvc_response_tokens(const llmsvc_response *r, llmsvc_token_kind k)
{
    if (!r || (unsigned)k > LLMSVC_TOKENS_TOTAL)
        return -1;
    return r->tokens[k];
}

LLMSVC_EXTERN double llmsvc_response_cost_usd(const llmsvc_response *r)
{
    return r ? r->cost_usd : -1;
}

LLMSVC_EXTERN double llmsvc_response_latency_ms(const llmsvc_response *r)
{
    return r ? r->latency_ms : 0;
}

LLMSVC_EXTERN int llmsvc_response_attempts(const llmsvc_response *r)
{
    return r ? r->attempts : 0;
}

LLMSVC_EXTERN size_t llmsvc_response_tool_call_count(const llmsvc_response *r)
{
    return r ? r->n_tool_calls : 0;
}

LLMSVC_EXTERN const llmsvc_tool_call *llmsvc_response_tool_call(const llmsvc_response *r,
                                                                size_t i)
{
    return r && i < r->n_tool_calls ? &r->tool_calls[i] : NULL;
}

LLMSVC_EXTERN const char *llmsvc_response_route(const llmsvc_response *r, const char **arm)
{
    if (arm)
        *arm = r ? r->arm : NULL;
    return r ? r->route : NULL;
}

LLMSVC_EXTERN int llmsvc_response_cached(const llmsvc_response *r)
{
    return r ? r->cached : 0;
}

LLMSVC_EXTERN size_t llmsvc_response_route_attempt_count(const llmsvc_response *r)
{
    return r ? r->n_tries : 0;
}

LLMSVC_EXTERN const char *llmsvc_response_route_attempt(const llmsvc_response *r, size_t i,
                                                        const char **model, llmsvc_code *code)
{
    if (!r || i >= r->n_tries)
        return NULL;
    if (model)
        *model = r->tries[i].model;
    if (code)
        *code = r->tries[i].code;
    return r->tries[i].provider;
}

LLMSVC_EXTERN const char *llmsvc_response_state(const llmsvc_response *r, const char **protocol)
{
    if (protocol)
        *protocol = r ? r->state_protocol : NULL;
    return r ? r->state : NULL;
}

LLMSVC_EXTERN size_t llmsvc_response_file_result_count(const llmsvc_response *r)
{
    return r ? r->n_files : 0;
}

LLMSVC_EXTERN const llmsvc_file_result *llmsvc_response_file_result(const llmsvc_response *r,
                                                                    size_t i)
{
    return r && i < r->n_files ? &r->files[i] : NULL;
}

/* The answer's content, for the response cache: not how it was obtained
 * (attempts, latency, route). NULL on OOM. */
llmsvc_response *response_clone(const llmsvc_response *src)
{
    llmsvc_response *r = response_new();
    if (!r)
        return NULL;
    int ok = 1;
    ok &= !src->id || (r->id = response_str(r, src->id)) != NULL;
    ok &= !src->provider || (r->provider = response_str(r, src->provider)) != NULL;
    ok &= !src->model || (r->model = response_str(r, src->model)) != NULL;
    ok &= !src->finish_reason || (r->finish_reason = response_str(r, src->finish_reason)) != NULL;
    ok &= buf_append(&r->text, buf_cstr(&src->text), src->text.len) == 0;
    if (src->has_reasoning)
        ok &= response_append_reasoning(r, buf_cstr(&src->reasoning), src->reasoning.len) ==
              LLMSVC_OK;
    memcpy(r->tokens, src->tokens, sizeof r->tokens);
    r->cost_usd = src->cost_usd;
    for (size_t i = 0; ok && i < src->n_files; i++) {
        const llmsvc_file_result *f = &src->files[i];
        ok &= response_add_file_result(r, f->file_id, f->filename, f->score, f->text) == LLMSVC_OK;
    }
    for (size_t i = 0; ok && i < src->n_tool_calls; i++) {
        const llmsvc_tool_call *c = &src->tool_calls[i];
        ok &= response_add_tool_call(r, c->id, c->name, c->arguments) == LLMSVC_OK;
    }
    if (ok && src->state)
        ok &= response_set_state(r, src->state_protocol, src->state, strlen(src->state)) ==
              LLMSVC_OK;
    if (!ok) {
        llmsvc_response_free(r);
        return NULL;
    }
    return r;
}

size_t response_size(const llmsvc_response *r)
{
    size_t n = sizeof *r + r->text.len + r->reasoning.len;
    n += (r->id ? strlen(r->id) : 0) + (r->model ? strlen(r->model) : 0) +
         (r->provider ? strlen(r->provider) : 0) + (r->state ? strlen(r->state) : 0);
    for (size_t i = 0; i < r->n_files; i++)
        n += sizeof r->files[i] + strlen(r->files[i].file_id) + strlen(r->files[i].filename) +
             strlen(r->files[i].text);
    for (size_t i = 0; i < r->n_tool_calls; i++)
        n += sizeof r->tool_calls[i] + strlen(r->tool_calls[i].id) +
             strlen(r->tool_calls[i].name) + strlen(r->tool_calls[i].arguments);
    return n;
}
