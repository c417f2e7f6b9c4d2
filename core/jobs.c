/* jobs — the job API hosts call: submit, get, wait, cancel. Workers that run
 * the jobs are in worker.c. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "json_util.h"
#include "request.h"
#include "store.h"

#define DEFAULT_MAX_ATTEMPTS 3

/* Runs op on a pooled connection; a connection that failed is dropped, not reused. */
#define WITH_CONN(st, err, code, expr)                        \
    do {                                                      \
        store_conn *c_;                                       \
        (code) = store_acquire((st), &c_, (err));             \
        if ((code) != LLMSVC_OK)                              \
            break;                                            \
        store_conn *const conn = c_;                          \
        (code) = (expr);                                      \
        if ((code) == LLMSVC_OK || (code) == LLMSVC_E_NOT_FOUND || \
            (code) == LLMSVC_E_VALIDATION)                    \
            store_release((st), conn);                        \
        else                                                  \
            (st)->engine->disconnect(conn);                   \
    } while (0)

LLMSVC_EXTERN llmsvc_code llmsvc_job_submit(llmsvc_store *st, const llmsvc_request *req,
                                            const llmsvc_job_options *opts, char **job_id,
                                            llmsvc_error **err)
{
    if (!st || !req || !job_id)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_job_submit: NULL argument");
    llmsvc_job_options o = LLMSVC_JOB_OPTIONS_INIT;
    if (opts) {
        if (opts->version != LLMSVC_JOB_OPTIONS_VERSION)
            return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_job_options version %u unknown",
                           opts->version);
        o = *opts;
    }
    if (o.max_attempts < 0 || o.max_attempts > 100)
        return err_set(err, LLMSVC_E_INVALID_ARG, "max_attempts must be from 1 to 100");
    if ((!req->route && (!req->provider || !req->model)) || (!req->prompt && !req->n_messages))
        return err_set(err, LLMSVC_E_VALIDATION,
                       "a job needs a provider and a model (or a route), and a prompt or "
                       "messages (checked again when it runs)");
    char *request = NULL;
    if (llmsvc_request_to_json(&request, req) != LLMSVC_OK)
        return err_give(err, err_nomem());
    char id[32];
    store_new_job_id(id);
    job_new j = {id,
                 o.project_id ? o.project_id : req->project_id,
                 o.organization_id ? o.organization_id : req->organization_id,
                 o.idempotency_key,
                 request,
                 o.max_attempts ? o.max_attempts : DEFAULT_MAX_ATTEMPTS,
                 store_now_ms()};
    int created;
    llmsvc_code code;
    WITH_CONN(st, err, code, st->engine->submit(conn, &j, job_id, &created, err));
    free(request);
    return code;
}

static json_object *iso_time(int64_t ms)
{
    if (!ms)
        return NULL;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[40];
    size_t n = strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(s + n, sizeof s - n, ".%03dZ", (int)(ms % 1000));
    return json_object_new_string(s);
}

static json_object *parsed(const char *text)
{
    return text ? json_tokener_parse(text) : NULL;
}

static char *row_json(const job_row *r)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "id", json_object_new_string(r->id));
    json_object_object_add(o, "state", json_object_new_string(r->state));
    json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
    json_object_object_add(o, "max_attempts", json_object_new_int(r->max_attempts));
    json_object_object_add(o, "project_id",
                           r->project_id ? json_object_new_string(r->project_id) : NULL);
    json_object_object_add(o, "organization_id", r->organization_id
                                                     ? json_object_new_string(r->organization_id)
                                                     : NULL);
    json_object_object_add(o, "created_at", iso_time(r->created_at));
    json_object_object_add(o, "started_at", iso_time(r->started_at));
    json_object_object_add(o, "finished_at", iso_time(r->finished_at));
    json_object_object_add(o, "request", parsed(r->request));
    json_object_object_add(o, "result", parsed(r->result));
    json_object_object_add(o, "error", parsed(r->error));
    char *s = ju_to_string(o);
    json_object_put(o);
    return s;
}

static int ended(const char *state)
{
    return !strcmp(state, "succeeded") || !strcmp(state, "failed") ||
           !strcmp(state, "cancelled");
}

LLMSVC_EXTERN llmsvc_code llmsvc_job_get(llmsvc_store *st, const char *job_id, char **json,
                                         llmsvc_error **err)
{
    if (!st || !job_id || !json)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_job_get: NULL argument");
    job_row r = {0};
    llmsvc_code code;
    WITH_CONN(st, err, code, st->engine->get(conn, job_id, &r, err));
    if (code != LLMSVC_OK)
        return code;
    *json = row_json(&r);
    store_row_clear(&r);
    return *json ? LLMSVC_OK : err_give(err, err_nomem());
}

LLMSVC_EXTERN llmsvc_code llmsvc_job_wait(llmsvc_store *st, const char *job_id, long timeout_ms,
                                          char **json, llmsvc_error **err)
{
    if (!st || !job_id || !json)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_job_wait: NULL argument");
    int64_t start = store_now_ms();
    long pause = 5;
    store_conn *conn;
    llmsvc_code code = store_acquire(st, &conn, err);
    if (code != LLMSVC_OK)
        return code;
    for (;;) {
        job_row r = {0};
        code = st->engine->get(conn, job_id, &r, err);
        if (code != LLMSVC_OK)
            break;
        if (ended(r.state)) {
            *json = row_json(&r);
            store_row_clear(&r);
            code = *json ? LLMSVC_OK : err_give(err, err_nomem());
            break;
        }
        store_row_clear(&r);
        int64_t waited = store_now_ms() - start;
        if (timeout_ms >= 0 && waited >= timeout_ms) {
            code = err_set(err, LLMSVC_E_TIMEOUT, "job '%s' has not ended after %ld ms", job_id,
                           timeout_ms);
            break;
        }
        long left = timeout_ms >= 0 ? (long)(timeout_ms - waited) : pause;
        st->engine->wait_job(conn, job_id, pause < left ? pause : left);
        if (pause < 500)
            pause *= 2;
    }
    if (code == LLMSVC_OK || code == LLMSVC_E_NOT_FOUND || code == LLMSVC_E_TIMEOUT)
        store_release(st, conn);
    else
        st->engine->disconnect(conn);
    return code;
}

LLMSVC_EXTERN llmsvc_code llmsvc_job_cancel(llmsvc_store *st, const char *job_id,
                                            llmsvc_error **err)
{
    if (!st || !job_id)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_job_cancel: NULL argument");
    char *state = NULL;
    llmsvc_code code;
    WITH_CONN(st, err, code, st->engine->cancel(conn, job_id, store_now_ms(), &state, err));
    if (code == LLMSVC_OK && state && ended(state))
        code = err_set(err, LLMSVC_E_VALIDATION, "job '%s' has already %s", job_id, state);
    free(state);
    return code;
}
