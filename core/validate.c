#include "validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "http.h"
#include "route_call.h"
#include "suggest.h"

void validate_today(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

void call_ctx_clear(call_ctx *ctx)
{
    free(ctx->owned_base_url);
    ctx->owned_base_url = NULL;
    if (ctx->owns_specs)
        specset_release(ctx->specs);
    ctx->specs = NULL;
    ctx->owns_specs = 0;
    if (ctx->messages != &ctx->one_message)
        free(ctx->messages);
    if (ctx->tools != &ctx->one_tool)
        free(ctx->tools);
    ctx->messages = NULL;
    ctx->tools = NULL;
}

/* ---- resolving provider and model ---- */

static llmsvc_code unsupported_provider(const registry *reg, const char *name,
                                        llmsvc_error **err)
{
    buf names = BUF_INIT;
    const char *cands[64];
    size_t n = 0;
    for (size_t i = 0; i < reg->n_providers; i++) {
        buf_printf(&names, "%s%s", i ? ", " : "", reg->providers[i]->name);
        if (n < 64)
            cands[n++] = reg->providers[i]->name;
    }
    const char *best = suggest_best(name, cands, n);
    llmsvc_error *e = err_new(LLMSVC_E_UNSUPPORTED_PROVIDER,
                              "unknown provider '%s'%s%s%s; the loaded specs define: %s", name,
                              best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "",
                              names.len ? buf_cstr(&names) : "none");
    err_set_provider(e, NULL, NULL, "provider");
    buf_free(&names);
    return err_give(err, e);
}

static llmsvc_code unknown_model(const registry *reg, const provider_spec *p,
                                 const char *name, llmsvc_error **err)
{
    /* up to three close names or aliases, closest first */
    const char *best[3] = {NULL, NULL, NULL};
    int bestd[3] = {1 << 30, 1 << 30, 1 << 30};
    for (size_t i = 0; i < p->n_models; i++) {
        const model_spec *m = p->models[i];
        for (size_t a = 0; a <= m->n_aliases; a++) {
            const char *c = a == 0 ? m->name : m->aliases[a - 1];
            if (!suggest_close(name, c))
                continue;
            int d = suggest_distance(name, c);
            for (int k = 0; k < 3; k++) {
                if (d < bestd[k]) {
                    for (int j = 2; j > k; j--) {
                        best[j] = best[j - 1];
                        bestd[j] = bestd[j - 1];
                    }
                    best[k] = c;
                    bestd[k] = d;
                    break;
                }
            }
        }
    }
    buf b = BUF_INIT;
    buf_printf(&b, "unknown model '%s' for provider '%s'", name, p->name);
    for (size_t i = 0; i < reg->n_providers; i++) {
        const provider_spec *o = reg->providers[i];
        if (o != p && registry_model(reg, o->name, name)) {
            buf_printf(&b, "; provider '%s' has a model of that name", o->name);
            break;
        }
    }
    if (best[0]) {
        buf_puts(&b, "; did you mean ");
        for (int k = 0; k < 3 && best[k]; k++)
            buf_printf(&b, "%s'%s'", k ? (k == 2 || !best[k + 1] ? " or " : ", ") : "", best[k]);
        buf_puts(&b, "?");
    } else {
        buf_printf(&b, "; `llmsvc models --provider %s` lists them", p->name);
    }
    llmsvc_error *e = err_new(LLMSVC_E_UNKNOWN_MODEL, "%s", buf_cstr(&b));
    err_set_provider(e, NULL, NULL, "model");
    buf_free(&b);
    return err_give(err, e);
}

static llmsvc_code check_lifecycle(const llmsvc_runtime *rt, const model_spec *m,
                                   llmsvc_error **err)
{
    if (!m->shutdown[0] && !m->deprecated[0])
        return LLMSVC_OK;
    char today[11];
    validate_today(today);
    if (m->shutdown[0] && strcmp(today, m->shutdown) >= 0) {
        llmsvc_error *e;
        if (m->replacement)
            e = err_new(LLMSVC_E_VALIDATION,
                        "model '%s' of provider '%s' was shut down on %s; use '%s' instead",
                        m->name, m->provider->name, m->shutdown, m->replacement);
        else
            e = err_new(LLMSVC_E_VALIDATION, "model '%s' of provider '%s' was shut down on %s",
                        m->name, m->provider->name, m->shutdown);
        err_set_provider(e, NULL, "model_retired", "model");
        return err_give(err, e);
    }
    int expected = 0;
    if (atomic_compare_exchange_strong((atomic_int *)&m->warned, &expected, 1)) {
        rt_logf(rt, LLMSVC_LOG_WARN, "model '%s' of provider '%s' is deprecated%s%s%s%s%s",
                m->name, m->provider->name, m->shutdown[0] ? " and shuts down on " : "",
                m->shutdown, m->replacement ? "; move to '" : "",
                m->replacement ? m->replacement : "", m->replacement ? "'" : "");
    }
    return LLMSVC_OK;
}

/* ---- parameters ---- */

static llmsvc_code not_taken(const model_spec *m, param_id id, llmsvc_error **err)
{
    buf b = BUF_INIT;
    param_list_names(&b, m->param_mask);
    llmsvc_error *e =
        err_new(LLMSVC_E_VALIDATION, "model '%s' does not take '%s'; it takes: %s", m->name,
                param_defs[id].name, buf_cstr(&b));
    err_set_provider(e, NULL, "unsupported_parameter", param_defs[id].name);
    buf_free(&b);
    return err_give(err, e);
}

static llmsvc_code bad_value(param_id id, llmsvc_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static llmsvc_code bad_value(param_id id, llmsvc_error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    llmsvc_error *e = err_newv(LLMSVC_E_VALIDATION, fmt, ap);
    va_end(ap);
    err_set_provider(e, NULL, "invalid_value", param_defs[id].name);
    return err_give(err, e);
}

static int in_values(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0)
            return 1;
    }
    return 0;
}

static void join_values(buf *b, char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_printf(b, "%s%s", i ? ", " : "", v[i]);
}

static llmsvc_code check_value(const model_spec *m, param_id id, const req_value *v,
                               llmsvc_error **err)
{
    const param_rule *r = &m->params[id];
    const char *name = param_defs[id].name;
    switch (r->type) {
    case LLMSVC_PARAM_INT:
        if (v->number != floor(v->number))
            return bad_value(id, err, "'%s' must be a whole number", name);
        /* fall through */
    case LLMSVC_PARAM_FLOAT:
        if (r->has_min && v->number < r->min)
            return bad_value(id, err, "'%s' is %g, below the minimum of %g for model '%s'",
                             name, v->number, r->min, m->name);
        if (r->has_max && v->number > r->max)
            return bad_value(id, err, "'%s' is %g, above the maximum of %g for model '%s'",
                             name, v->number, r->max, m->name);
        return LLMSVC_OK;
    case LLMSVC_PARAM_ENUM:
        if (!in_values(r->values, r->n_values, v->string)) {
            buf b = BUF_INIT;
            join_values(&b, r->values, r->n_values);
            llmsvc_code c =
                bad_value(id, err, "'%s' '%s' is not one model '%s' takes (%s)", name,
                          v->string, m->name, buf_cstr(&b));
            buf_free(&b);
            return c;
        }
        return LLMSVC_OK;
    default:
        return LLMSVC_OK;
    }
}

/* The value a parameter will have: the request's, else the spec's default. */
static const char *effective_string(const model_spec *m, const req_value *vals, param_id id)
{
    if (vals[id].set)
        return vals[id].string;
    const param_rule *r = &m->params[id];
    return r->present && r->has_default ? r->def_string : NULL;
}

/* 0 when every only_with condition of rule id holds; else the failing one. */
static const param_cond *unmet(const model_spec *m, const req_value *vals, param_id id)
{
    const param_rule *r = &m->params[id];
    for (size_t c = 0; c < r->n_only_with; c++) {
        const char *v = effective_string(m, vals, r->only_with[c].param);
        if (!v || !in_values(r->only_with[c].values, r->only_with[c].n_values, v))
            return &r->only_with[c];
    }
    return NULL;
}

static llmsvc_code condition_error(const model_spec *m, const req_value *vals, param_id id,
                                   const param_cond *c, llmsvc_error **err)
{
    const char *v = effective_string(m, vals, c->param);
    buf list = BUF_INIT;
    join_values(&list, c->values, c->n_values);
    llmsvc_error *e;
    if (v)
        e = err_new(LLMSVC_E_VALIDATION,
                    "model '%s' takes '%s' only when %s is %s, and this request has %s '%s'",
                    m->name, param_defs[id].name, param_defs[c->param].name, buf_cstr(&list),
                    param_defs[c->param].name, v);
    else
        e = err_new(LLMSVC_E_VALIDATION,
                    "model '%s' takes '%s' only when %s is %s, and this request leaves %s unset",
                    m->name, param_defs[id].name, param_defs[c->param].name, buf_cstr(&list),
                    param_defs[c->param].name);
    err_set_provider(e, NULL, "unsupported_parameter", param_defs[id].name);
    buf_free(&list);
    return err_give(err, e);
}

static void fill_param(llmsvc_param *out, const model_spec *m, param_id id, const req_value *v)
{
    const param_rule *r = &m->params[id];
    memset(out, 0, sizeof *out);
    out->name = param_defs[id].name;
    out->wire = r->wire;
    out->type = param_defs[id].type;
    out->budget = -1;
    if (v) {
        out->number = v->number;
        out->string = v->string;
        out->list = (const char *const *)v->list;
        out->list_len = v->list_len;
    } else {
        out->number = r->def_number;
        out->string = r->def_string;
        out->list = (const char *const *)r->def_list;
        out->list_len = r->def_list_len;
    }
    if (r->budgets && out->string) {
        for (size_t i = 0; i < r->n_values; i++) {
            if (strcmp(r->values[i], out->string) == 0)
                out->budget = r->budgets[i];
        }
    }
}

static llmsvc_code check_params(const model_spec *m, call_ctx *ctx, llmsvc_error **err)
{
    const req_value *vals = ctx->vals;
    for (int i = 0; i < P_COUNT; i++) {
        if (!vals[i].set)
            continue;
        if (!m->params[i].present)
            return not_taken(m, (param_id)i, err);
        llmsvc_code c = check_value(m, (param_id)i, &vals[i], err);
        if (c != LLMSVC_OK)
            return c;
        const param_cond *cond = unmet(m, vals, (param_id)i);
        if (cond)
            return condition_error(m, vals, (param_id)i, cond, err);
    }
    size_t n = 0;
    for (int i = 0; i < P_COUNT; i++) {
        const param_rule *r = &m->params[i];
        if (vals[i].set)
            fill_param(&ctx->params[n++], m, (param_id)i, &vals[i]);
        else if (r->present && r->has_default && !unmet(m, vals, (param_id)i))
            fill_param(&ctx->params[n++], m, (param_id)i, NULL);
    }
    ctx->view.params = ctx->params;
    ctx->view.n_params = n;
    return LLMSVC_OK;
}

/* ---- conversation, tools, structured output ---- */

static llmsvc_code lacks(const model_spec *m, const char *feature, const char *cap,
                         const char *field, llmsvc_error **err)
{
    llmsvc_error *e = err_new(LLMSVC_E_VALIDATION,
                              "model '%s' of provider '%s' has no %s capability, so it cannot take %s",
                              m->name, m->provider->name, cap, feature);
    err_set_provider(e, NULL, "unsupported_capability", field);
    return err_give(err, e);
}

/* Checks turns, tools and format against the model, and builds the view's
 * messages (the prompt last) and tools. */
static llmsvc_code check_conversation(const model_spec *m, const llmsvc_request *req,
                                      call_ctx *ctx, llmsvc_error **err)
{
    int images = 0, tool_turns = 0;
    for (size_t i = 0; i < req->n_messages; i++) {
        images |= req->messages[i].n_images > 0;
        tool_turns |= req->messages[i].n_tool_calls > 0 || req->messages[i].tool_call_id != NULL;
    }
    if (images && !(m->caps & LLMSVC_CAP_VISION))
        return lacks(m, "images", "vision", "llm.messages", err);
    if ((req->n_tools || tool_turns) && !(m->caps & LLMSVC_CAP_TOOLS))
        return lacks(m, "tools or tool results", "tools", "llm.tools", err);
    if (req->format_schema && !(m->caps & LLMSVC_CAP_STRUCTURED_OUTPUT))
        return lacks(m, "a response format", "structured_output", "llm.response_format", err);
    llmsvc_call_info *v = &ctx->view;
    if (req->tool_choice) {
        const char *tc = req->tool_choice;
        if (!strcmp(tc, "auto") || !strcmp(tc, "none") || !strcmp(tc, "required")) {
            v->tool_choice = tc;
        } else {
            size_t i = 0;
            while (i < req->n_tools && strcmp(req->tools[i].name, tc))
                i++;
            if (i == req->n_tools) {
                llmsvc_error *e = err_new(LLMSVC_E_VALIDATION,
                                          "tool_choice '%s' is neither auto, none, required nor "
                                          "one of the request's tools",
                                          tc);
                err_set_provider(e, NULL, "invalid_value", "llm.tool_choice");
                return err_give(err, e);
            }
            v->tool_choice = "tool";
            v->tool_choice_name = tc;
        }
    }
    size_t n = req->n_messages + (req->prompt && *req->prompt ? 1 : 0);
    ctx->messages = n <= 1 ? &ctx->one_message : calloc(n, sizeof *ctx->messages);
    ctx->tools = req->n_tools <= 1 ? &ctx->one_tool : calloc(req->n_tools, sizeof *ctx->tools);
    if (!ctx->messages || !ctx->tools)
        return err_give(err, err_nomem());
    for (size_t i = 0; i < req->n_messages; i++) {
        const req_message *rm = &req->messages[i];
        llmsvc_message *vm = &ctx->messages[i];
        vm->role = rm->role;
        vm->content = rm->content;
        vm->images = (const char *const *)rm->images;
        vm->n_images = rm->n_images;
        vm->tool_calls = rm->tool_calls;
        vm->n_tool_calls = rm->n_tool_calls;
        vm->tool_call_id = rm->tool_call_id;
        vm->state_protocol = rm->state_protocol;
        vm->state = rm->state;
    }
    if (n > req->n_messages) {
        ctx->messages[n - 1].role = "user";
        ctx->messages[n - 1].content = req->prompt;
    }
    for (size_t i = 0; i < req->n_tools; i++) {
        ctx->tools[i].name = req->tools[i].name;
        ctx->tools[i].description = req->tools[i].description;
        ctx->tools[i].parameters = req->tools[i].parameters;
    }
    v->messages = ctx->messages;
    v->n_messages = n;
    v->tools = ctx->tools;
    v->n_tools = req->n_tools;
    v->parallel_tool_calls = req->parallel_tool_calls;
    v->response_format_name = req->format_name;
    v->response_format_schema = req->format_schema;
    v->response_format_strict = req->format_strict;
    return LLMSVC_OK;
}

/* ---- endpoint ---- */

static llmsvc_code resolve_endpoint(const llmsvc_runtime *rt, const llmsvc_request *req,
                                    call_ctx *ctx, llmsvc_error **err)
{
    const provider_spec *p = ctx->provider;
    const char *url = req->base_url;
    if (!url && p->base_url_env && !(rt->flags & LLMSVC_OPT_NO_ENV)) {
        const char *env = getenv(p->base_url_env);
        if (env && *env) {
            if (!http_base_url_ok(env))
                return err_set(err, LLMSVC_E_CONFIG,
                               "%s is not a base URL: it must start with http:// or https:// "
                               "and have no query, fragment or credentials",
                               p->base_url_env);
            size_t len = strlen(env);
            if (env[len - 1] == '/') {
                if (!(ctx->owned_base_url = strdup(env)))
                    return err_give(err, err_nomem());
                while (len > 1 && ctx->owned_base_url[len - 1] == '/')
                    ctx->owned_base_url[--len] = '\0';
                env = ctx->owned_base_url;
            }
            url = env;
        }
    }
    if (!url)
        url = p->base_url;
    ctx->view.base_url = url;
    /* the variable is named in messages only when the key came from it */
    ctx->view.api_key_env = req->api_key ? NULL : p->api_key_env;
    ctx->view.api_key = req->api_key;
    if (!ctx->view.api_key && p->api_key_env) {
        const char *key = getenv(p->api_key_env);
        if (key && *key)
            ctx->view.api_key = key;
    }
    if (!ctx->view.api_key && p->api_key_env)
        return err_set(err, LLMSVC_E_CONFIG,
                       "no API key for provider '%s': set %s in the environment (or give one "
                       "with llmsvc_request_set_api_key)",
                       p->name, p->api_key_env);
    /* never in a header: a CR or LF would end it (llmsvc_request_set_api_key
     * refuses such keys; the environment's are checked here) */
    if (ctx->view.api_key && strpbrk(ctx->view.api_key, "\r\n"))
        return err_set(err, LLMSVC_E_CONFIG,
                       "the API key in %s contains a line break (often a '\\r' left by a file "
                       "with Windows line endings); remove it",
                       p->api_key_env ? p->api_key_env : "the request");
    return LLMSVC_OK;
}

static llmsvc_code check(const llmsvc_runtime *rt, spec_set *specs, const llmsvc_request *req,
                         const route_target *target, call_ctx *ctx, int endpoint,
                         llmsvc_error **err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->req = req;
    ctx->target = target;
    /* the parameters: the request's, with a route target's on top */
    for (int i = 0; i < P_COUNT; i++) {
        ctx->vals[i] = req->params[i];
        if (target && target->params[i].set) {
            memset(&ctx->vals[i], 0, sizeof ctx->vals[i]);
            ctx->vals[i].set = 1;
            ctx->vals[i].number = target->params[i].number;
            ctx->vals[i].string = target->params[i].string;
        }
    }
    const char *provider = target ? target->provider : req->provider;
    const char *model_name = target ? target->model : req->model;
    ctx->owns_specs = !specs;
    ctx->specs = specs ? specs : specset_acquire((spec_slot *)&rt->specs);
    const registry *reg = &ctx->specs->reg;
    if (!provider || !*provider)
        return err_set(err, LLMSVC_E_VALIDATION,
                       "the request names no provider (llm.llm_model_spec.provider) nor a route");
    if (!model_name || !*model_name)
        return err_set(err, LLMSVC_E_VALIDATION,
                       "the request names no model (llm.llm_model_spec.model)");
    const provider_spec *p = registry_provider(reg, provider);
    if (!p)
        return unsupported_provider(reg, provider, err);
    const model_spec *m = registry_model(reg, p->name, model_name);
    if (!m)
        return unknown_model(reg, p, model_name, err);
    llmsvc_code c = check_lifecycle(rt, m, err);
    if (c != LLMSVC_OK)
        return c;
    if ((!req->prompt || !*req->prompt) && !req->n_messages)
        return err_set(err, LLMSVC_E_VALIDATION,
                       "the request has neither a prompt (llm.prompt) nor messages (llm.messages)");
    if (req->vector_store_id && !(m->caps & LLMSVC_CAP_FILE_SEARCH)) {
        llmsvc_error *e = err_new(LLMSVC_E_VALIDATION,
                                  "model '%s' of provider '%s' has no file_search capability, "
                                  "so it cannot search vector store '%s'",
                                  m->name, p->name, req->vector_store_id);
        err_set_provider(e, NULL, "unsupported_capability", "vector_store_id");
        return err_give(err, e);
    }
    ctx->provider = p;
    ctx->model = m;
    if ((c = check_params(m, ctx, err)) != LLMSVC_OK)
        return c;
    if ((c = check_conversation(m, req, ctx, err)) != LLMSVC_OK)
        return c;
    /* only a request the spec accepts needs a plugin */
    const api_rec *api = loader_api(&rt->ld, p->api);
    if (!api) {
        buf names = BUF_INIT;
        loader_api_names(&rt->ld, &names);
        c = err_set(err, LLMSVC_E_UNSUPPORTED_PROVIDER,
                    "provider '%s' speaks protocol '%s', which no loaded plugin "
                    "provides (loaded: %s); `llmsvc plugins` shows what was tried",
                    p->name, p->api, buf_cstr(&names));
        buf_free(&names);
        return c;
    }
    ctx->api = api;
    if (endpoint && (c = resolve_endpoint(rt, req, ctx, err)) != LLMSVC_OK)
        return c;
    llmsvc_call_info *v = &ctx->view;
    v->size = sizeof *v;
    v->provider = p->name;
    v->api = p->api;
    v->model = m->name;
    v->prompt = req->prompt;
    v->instructions = req->instructions;
    v->vector_store_id = req->vector_store_id;
    v->max_num_results = req->vector_store_id ? req->max_num_results : 0;
    v->capabilities = m->caps;
    v->options = p->options;
    v->n_options = p->n_options;
    v->provider_options = req->provider_options;
    return LLMSVC_OK;
}

llmsvc_code call_resolve(const llmsvc_runtime *rt, spec_set *specs, const llmsvc_request *req,
                         const route_target *target, call_ctx *ctx, llmsvc_error **err)
{
    return check(rt, specs, req, target, ctx, 1, err);
}

llmsvc_code call_check(const llmsvc_runtime *rt, spec_set *specs, const llmsvc_request *req,
                       const route_target *target, call_ctx *ctx, llmsvc_error **err)
{
    return check(rt, specs, req, target, ctx, 0, err);
}

LLMSVC_EXTERN llmsvc_code llmsvc_validate(llmsvc_runtime *rt, const llmsvc_request *req,
                                          llmsvc_error **err)
{
    if (!rt || !req)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_validate: NULL argument");
    call_ctx ctx;
    if (!req->route) {
        llmsvc_code c = call_check(rt, NULL, req, NULL, &ctx, err);
        call_ctx_clear(&ctx);
        return c;
    }
    /* through a route: it exists, and the request suits each of its targets */
    route_plan plan;
    llmsvc_code c = route_plan_make(rt, req, &plan, err);
    for (size_t i = 0; c == LLMSVC_OK && i < plan.route->n_targets; i++) {
        const route_target *t = &plan.route->targets[i];
        llmsvc_error *e = NULL;
        c = call_check(rt, plan.specs, req, t, &ctx, &e);
        call_ctx_clear(&ctx);
        if (c != LLMSVC_OK) {
            err_prefix(e, "route '%s', %s/%s", plan.route->name, t->provider, t->model);
            err_give(err, e);
        }
    }
    route_plan_clear(&plan);
    return c;
}
