/* records — call records: what each call was, cost and how it went. Written
 * for every job attempt (in the job's transaction) and, when the host turns
 * it on, for every direct call; summed by llmsvc_records_summary. */
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json_util.h"
#include "request.h"
#include "response.h"
#include "runtime.h"
#include "store.h"

/* The route's attempts as the response JSON's "route_attempts" array; NULL
 * without a route. */
static char *route_attempts_json(const llmsvc_response *resp)
{
    if (!resp->route)
        return NULL;
    json_object *o = response_to_json_object(resp), *tries = NULL;
    char *text = NULL;
    if (o && json_object_object_get_ex(o, "route_attempts", &tries) && tries)
        text = ju_to_string(tries);
    json_object_put(o);
    return text;
}

/* An answer worth keeping: a success, or what a broken stream delivered. */
static int has_answer(const llmsvc_response *r)
{
    return r->text.len || r->n_tool_calls || r->id;
}

void store_make_record(call_record *rec, const llmsvc_request *req, const llmsvc_response *resp,
                       const llmsvc_error *err, char **request_json, char **response_json,
                       char **error_json, char **attempts_json)
{
    memset(rec, 0, sizeof *rec);
    *request_json = *response_json = *error_json = *attempts_json = NULL;
    llmsvc_request_to_json(request_json, req);
    if (resp && (!err || has_answer(resp)))
        llmsvc_response_to_json(response_json, resp);
    if (err)
        llmsvc_error_to_json(error_json, err);
    if (resp) {
        rec->route = resp->route;
        rec->arm = resp->arm;
        rec->cached = resp->cached;
        rec->route_attempts = *attempts_json = route_attempts_json(resp);
    }
    rec->project_id = req->project_id;
    rec->organization_id = req->organization_id;
    rec->provider = resp && resp->provider ? resp->provider : req->provider;
    rec->model = req->model; /* the name asked for; the response's model is in its JSON */
    rec->request = *request_json;
    rec->response = *response_json;
    rec->error = *error_json;
    rec->status = err ? "failed" : "succeeded";
    rec->input_tokens = resp ? resp->tokens[LLMSVC_TOKENS_INPUT] : -1;
    rec->output_tokens = resp ? resp->tokens[LLMSVC_TOKENS_OUTPUT] : -1;
    rec->reasoning_tokens = resp ? resp->tokens[LLMSVC_TOKENS_REASONING] : -1;
    rec->cost_usd = resp ? resp->cost_usd : -1;
    rec->latency_ms = resp ? resp->latency_ms : 0;
    rec->attempt = resp && resp->attempts > 0 ? resp->attempts : 1;
    rec->created_at = store_now_ms();
}

LLMSVC_EXTERN llmsvc_code llmsvc_runtime_set_records(llmsvc_runtime *rt, llmsvc_store *st)
{
    if (!rt)
        return LLMSVC_E_INVALID_ARG;
    atomic_store(&rt->records, st);
    return LLMSVC_OK;
}

void records_write_direct(llmsvc_runtime *rt, const llmsvc_request *req,
                          const llmsvc_response *resp, const llmsvc_error *err)
{
    llmsvc_store *st = atomic_load(&rt->records);
    if (!st)
        return;
    call_record rec;
    char *rq, *rs, *er, *ra;
    store_make_record(&rec, req, resp, err, &rq, &rs, &er, &ra);
    store_conn *c;
    llmsvc_error *e = NULL;
    if (store_acquire(st, &c, &e) == LLMSVC_OK) {
        if (st->engine->record(c, &rec, &e) == LLMSVC_OK)
            store_release(st, c);
        else
            st->engine->disconnect(c); /* a connection that failed is not reused */
    }
    if (e) {
        rt_logf(rt, LLMSVC_LOG_WARN, "call record not written: %s", llmsvc_error_message(e));
        llmsvc_error_free(e);
    }
    free(rq);
    free(rs);
    free(er);
    free(ra);
}

static void add_count(json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, json_object_new_int64(v));
}

/* One summary row as the JSON llmsvc_records_summary documents. */
static json_object *row_json(const records_row *r, records_group group)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    if (group == GROUP_PROJECT) {
        json_object_object_add(o, "project_id", json_object_new_string(r->key1 ? r->key1 : ""));
    } else if (group == GROUP_VARIANT) {
        json_object_object_add(o, "route", json_object_new_string(r->key1 ? r->key1 : ""));
        json_object_object_add(o, "arm", r->key2 ? json_object_new_string(r->key2) : NULL);
    } else {
        json_object_object_add(o, "provider", json_object_new_string(r->key1 ? r->key1 : ""));
        json_object_object_add(o, "model", json_object_new_string(r->key2 ? r->key2 : ""));
    }
    add_count(o, "calls", r->calls);
    add_count(o, "failures", r->failures);
    add_count(o, "cache_hits", r->cache_hits);
    add_count(o, "input_tokens", r->input_tokens);
    add_count(o, "output_tokens", r->output_tokens);
    add_count(o, "reasoning_tokens", r->reasoning_tokens);
    json_object_object_add(o, "cost_usd", json_object_new_double(r->cost_usd));
    json_object_object_add(o, "latency_ms_avg",
                           json_object_new_double(r->calls ? r->latency_ms_sum / (double)r->calls
                                                           : 0));
    if (group == GROUP_VARIANT) {
        /* percentiles of the successful calls: none, no percentile */
        int none = r->calls == r->failures;
        json_object_object_add(o, "latency_ms_p50",
                               none ? NULL : json_object_new_double(r->latency_p50));
        json_object_object_add(o, "latency_ms_p95",
                               none ? NULL : json_object_new_double(r->latency_p95));
    }
    return o;
}

LLMSVC_EXTERN llmsvc_code llmsvc_records_summary(llmsvc_store *st,
                                                 const llmsvc_records_filter *filter, char **json,
                                                 llmsvc_error **err)
{
    if (!st || !json)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_records_summary: NULL argument");
    records_query q = {NULL, 0, GROUP_MODEL};
    if (filter) {
        if (filter->version != LLMSVC_RECORDS_FILTER_VERSION)
            return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_records_filter version %u unknown",
                           filter->version);
        q.project_id = filter->project_id;
        q.since = filter->since_ms;
        const char *g = filter->group_by;
        if (!g || !strcmp(g, "model"))
            q.group = GROUP_MODEL;
        else if (!strcmp(g, "project"))
            q.group = GROUP_PROJECT;
        else if (!strcmp(g, "variant"))
            q.group = GROUP_VARIANT;
        else
            return err_set(err, LLMSVC_E_INVALID_ARG,
                           "records can be grouped by model, project or variant, not '%s'", g);
    }
    store_conn *c;
    llmsvc_code code = store_acquire(st, &c, err);
    if (code != LLMSVC_OK)
        return code;
    records_row *rows = NULL;
    size_t n = 0;
    code = st->engine->summary(c, &q, &rows, &n, err);
    store_release(st, c);
    if (code != LLMSVC_OK)
        return code;
    json_object *a = json_object_new_array();
    int oom = !a;
    for (size_t i = 0; a && i < n; i++) {
        json_object *o = row_json(&rows[i], q.group);
        if (!o || json_object_array_add(a, o) != 0) {
            json_object_put(o);
            oom = 1;
            break;
        }
    }
    store_rows_free(rows, n);
    *json = oom ? NULL : ju_to_string(a);
    json_object_put(a);
    return *json ? LLMSVC_OK : err_give(err, err_nomem());
}
