/* store — opening a job store by URL, its connection pool, shared helpers. */
#include "store.h"

#include <fcntl.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store_new_job_id(char out[32])
{
    unsigned char r[12];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* no entropy source: time and address still make ids unique enough per process */
        int64_t t = store_now_ms();
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)((t >> (i % 8 * 8)) ^ ((uintptr_t)out >> (i % 4 * 8)) ^ i);
    }
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "job_", 4);
    for (size_t i = 0; i < sizeof r; i++) {
        out[4 + 2 * i] = hex[r[i] >> 4];
        out[5 + 2 * i] = hex[r[i] & 15];
    }
    out[4 + 2 * sizeof r] = '\0';
}

void store_row_clear(job_row *r)
{
    free(r->id);
    free(r->state);
    free(r->project_id);
    free(r->organization_id);
    free(r->idempotency_key);
    free(r->request);
    free(r->result);
    free(r->error);
    memset(r, 0, sizeof *r);
}

void store_rows_free(records_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].key1);
        free(rows[i].key2);
    }
    free(rows);
}

/* The URL with any password replaced, for messages and logs. */
static char *redact_url(const char *url)
{
    /* room for "***" in place of a shorter password */
    size_t len = strlen(url);
    char *s = malloc(len + 4);
    if (!s)
        return NULL;
    memcpy(s, url, len + 1);
    char *scheme = strstr(s, "://");
    if (!scheme)
        return s;
    char *auth = scheme + 3, *at = strchr(auth, '@'), *slash = strchr(auth, '/');
    if (!at || (slash && slash < at))
        return s;
    char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon)
        return s;
    /* user:password@host → user:***@host */
    size_t tail = strlen(at);
    memmove(colon + 4, at, tail + 1);
    memcpy(colon + 1, "***", 3);
    return s;
}

static const store_engine *engine_for(const char *url)
{
    if (!strncmp(url, "sqlite:", 7))
        return &store_sqlite_engine;
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
        return &store_pg_engine;
    return NULL;
}

llmsvc_code store_connect(llmsvc_store *st, store_conn **c, llmsvc_error **err)
{
    return st->engine->connect(st->url, c, err);
}

llmsvc_code store_acquire(llmsvc_store *st, store_conn **c, llmsvc_error **err)
{
    pthread_mutex_lock(&st->mu);
    if (st->n_idle) {
        *c = st->idle[--st->n_idle];
        pthread_mutex_unlock(&st->mu);
        return LLMSVC_OK;
    }
    pthread_mutex_unlock(&st->mu);
    return store_connect(st, c, err);
}

void store_release(llmsvc_store *st, store_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&st->mu);
    if (st->n_idle == st->cap_idle) {
        size_t cap = st->cap_idle ? st->cap_idle * 2 : 8;
        store_conn **nv = realloc(st->idle, cap * sizeof *nv);
        if (!nv) {
            pthread_mutex_unlock(&st->mu);
            st->engine->disconnect(c);
            return;
        }
        st->idle = nv;
        st->cap_idle = cap;
    }
    st->idle[st->n_idle++] = c;
    pthread_mutex_unlock(&st->mu);
}

LLMSVC_EXTERN llmsvc_code llmsvc_store_open(llmsvc_store **out, const char *url,
                                            llmsvc_error **err)
{
    if (!out || !url)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_store_open: NULL argument");
    const store_engine *engine = engine_for(url);
    if (!engine)
        return err_set(err, LLMSVC_E_STORE,
                       "unknown store URL; use sqlite:PATH or postgres://[user@]host/db");
    llmsvc_store *st = calloc(1, sizeof *st);
    if (!st || !(st->url = strdup(url)) || !(st->label = redact_url(url))) {
        if (st)
            free(st->url);
        free(st);
        return err_give(err, err_nomem());
    }
    st->engine = engine;
    pthread_mutex_init(&st->mu, NULL);
    /* one connection now: the store is reachable and its schema current */
    store_conn *c;
    llmsvc_code code = store_connect(st, &c, err);
    if (code != LLMSVC_OK) {
        llmsvc_store_close(st);
        return code;
    }
    store_release(st, c);
    *out = st;
    return LLMSVC_OK;
}

LLMSVC_EXTERN void llmsvc_store_close(llmsvc_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_idle; i++)
        st->engine->disconnect(st->idle[i]);
    free(st->idle);
    pthread_mutex_destroy(&st->mu);
    free(st->url);
    free(st->label);
    free(st);
}

LLMSVC_EXTERN llmsvc_code llmsvc_store_default_url(char **out)
{
    if (!out)
        return LLMSVC_E_INVALID_ARG;
    const char *env = getenv("LLMSVC_STORE");
    char buf[4096];
    if (env && *env) {
        snprintf(buf, sizeof buf, "%s", env);
    } else {
        const char *data = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        if (data && *data == '/')
            snprintf(buf, sizeof buf, "sqlite:%s/llmsvc/llmsvc.db", data);
        else
            snprintf(buf, sizeof buf, "sqlite:%s/.local/share/llmsvc/llmsvc.db",
                     home && *home ? home : ".");
    }
    *out = strdup(buf);
    return *out ? LLMSVC_OK : LLMSVC_E_NOMEM;
}

/* One step of a token bucket (store.h, bucket) on its stored level and time
 * (a new bucket: capacity and now), inside the engine's atomic step; both
 * engines call it, so they agree to the bit. Returns
 * the wait: 0 when `take` was taken, INFINITY when it never could be (no
 * refill). Refill runs on the callers' `now`: the machines sharing a store
 * must agree on the time for the bucket to be exact (a clock ahead refills
 * early); a `now` behind the stored time adds nothing and keeps that time,
 * so no interval is counted twice. */
double store_bucket_step(double *level, int64_t *updated_at, double capacity, double rate_per_ms,
                         double take, double cap_level, int64_t now)
{
    double l = *level;
    if (now > *updated_at) {
        if (rate_per_ms > 0)
            l += (double)(now - *updated_at) * rate_per_ms;
        *updated_at = now;
    }
    if (l > capacity)
        l = capacity;
    if (cap_level >= 0 && l > cap_level)
        l = cap_level;
    double wait = 0;
    if (take <= 0) {
        l = l - take > capacity ? capacity : l - take; /* given back */
    } else if (take <= l || (take > capacity && l >= capacity)) {
        l -= take; /* more than capacity: only from a full bucket, leaving it negative */
    } else {
        double need = (take < capacity ? take : capacity) - l;
        wait = rate_per_ms > 0 ? need / rate_per_ms : INFINITY;
    }
    *level = l;
    return wait;
}
