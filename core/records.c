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

void store_make_record(call_record *rec, const llmsvc_request *req, const llmsvc_response *resp,
                       const llmsvc_error *err, char **request_json, char **response_json,
                       char **error_json)
{
    memset(rec, 0, sizeof *rec);
    *request_json = *response_json = *error_json = NULL;
    llmsvc_request_to_json(request_json, req);
    if (resp)
        llmsvc_response_to_json(response_json, resp);
    if (err)
        llmsvc_error_to_json(error_json, err);
    rec->project_id = req->project_id;
    rec->organization_id = req->organization_id;
    rec->provider = resp && resp->provider ? resp->provider : req->provider;
    rec->model = req->model; /* the name asked for; the response's model is in its JSON */
    rec->request = *request_json;
    rec->response = *response_json;
    rec->error = *error_json;
    rec->status = resp ? "succeeded" : "failed";
    rec->input_tokens = resp ? resp->tokens[LLMSVC_TOKENS_INPUT] : -1;
    rec->output_tokens = resp ? resp->tokens[LLMSVC_TOKENS_OUTPUT] : -1;
    rec->reasoning_tokens = resp ? resp->tokens[LLMSVC_TOKENS_REASONING] : -1;
    rec->cost_usd = resp ? resp->cost_usd : -1;
    rec->latency_ms = resp ? resp->latency_ms : 0;
    rec->attempt = resp ? resp->attempts : 1;
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
    char *rq, *rs, *er;
    store_make_record(&rec, req, resp, err, &rq, &rs, &er);
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
}

LLMSVC_EXTERN llmsvc_code llmsvc_records_summary(llmsvc_store *st,
                                                 const llmsvc_records_filter *filter, char **json,
                                                 llmsvc_error **err)
{
    if (!st || !json)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_records_summary: NULL argument");
    records_query q = {NULL, 0, 0};
    if (filter) {
        if (filter->version != LLMSVC_RECORDS_FILTER_VERSION)
            return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_records_filter version %u unknown",
                           filter->version);
        q.project_id = filter->project_id;
        q.since = filter->since_ms;
        if (filter->group_by && strcmp(filter->group_by, "model") &&
            strcmp(filter->group_by, "project"))
            return err_set(err, LLMSVC_E_INVALID_ARG,
                           "records can be grouped by model or project, not '%s'",
                           filter->group_by);
        q.by_project = filter->group_by && !strcmp(filter->group_by, "project");
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
    for (size_t i = 0; a && i < n; i++) {
        records_row *r = &rows[i];
        json_object *o = json_object_new_object();
        if (q.by_project) {
            json_object_object_add(o, "project_id", json_object_new_string(r->key1 ? r->key1 : ""));
        } else {
            json_object_object_add(o, "provider", json_object_new_string(r->key1 ? r->key1 : ""));
            json_object_object_add(o, "model", json_object_new_string(r->key2 ? r->key2 : ""));
        }
        json_object_object_add(o, "calls", json_object_new_int64(r->calls));
        json_object_object_add(o, "failures", json_object_new_int64(r->failures));
        json_object_object_add(o, "input_tokens", json_object_new_int64(r->input_tokens));
        json_object_object_add(o, "output_tokens", json_object_new_int64(r->output_tokens));
        json_object_object_add(o, "reasoning_tokens", json_object_new_int64(r->reasoning_tokens));
        json_object_object_add(o, "cost_usd", json_object_new_double(r->cost_usd));
        json_object_object_add(o, "latency_ms_avg",
                               json_object_new_double(r->calls ? r->latency_ms_sum / (double)r->calls
                                                               : 0));
        json_object_array_add(a, o);
    }
    store_rows_free(rows, n);
    *json = a ? ju_to_string(a) : NULL;
    json_object_put(a);
    return *json ? LLMSVC_OK : err_give(err, err_nomem());
}
