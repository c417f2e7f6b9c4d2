#include "budget.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "request.h"
#include "runtime.h"
#include "store.h"
#include "strmap.h"

/* This process's spend for one project or organization. */
typedef struct tally {
    int64_t day, month; /* the periods counted (days since 1970, year * 12 + month) */
    double spent_day, spent_month;
} tally;

struct ledger {
    pthread_mutex_t mu;
    strmap tallies; /* "p:ID" or "o:ID" */
};

ledger *ledger_new(void)
{
    ledger *l = calloc(1, sizeof *l);
    if (l)
        pthread_mutex_init(&l->mu, NULL);
    return l;
}

void ledger_free(ledger *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->tallies.cap; i++)
        free(l->tallies.slots[i].value);
    strmap_free(&l->tallies);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The UTC day and month now, and where they began (Unix ms). */
typedef struct period {
    int64_t day, month;
    int64_t day_start, month_start;
} period;

static period period_now(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    period p;
    p.day = (int64_t)(t / 86400);
    p.month = (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
    p.day_start = p.day * 86400000;
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    p.month_start = (int64_t)timegm(&tm) * 1000;
    return p;
}

static const char *rule_owner(const budget_rule *b, const llmsvc_request *req)
{
    if (b->project)
        return req->project_id && !strcmp(b->project, req->project_id) ? b->project : NULL;
    return req->organization_id && !strcmp(b->organization, req->organization_id)
               ? b->organization
               : NULL;
}

static tally *tally_of(ledger *l, const budget_rule *b, const period *p)
{
    char key[512];
    snprintf(key, sizeof key, "%c:%s", b->project ? 'p' : 'o',
             b->project ? b->project : b->organization);
    tally *t = strmap_get(&l->tallies, key, strlen(key));
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t || strmap_put(&l->tallies, key, strlen(key), t, NULL) < 0) {
            free(t);
            return NULL;
        }
    }
    if (t->day != p->day) {
        t->day = p->day;
        t->spent_day = 0;
    }
    if (t->month != p->month) {
        t->month = p->month;
        t->spent_month = 0;
    }
    return t;
}

/* The spend of b's owner since `since`, from the store or this process. */
static llmsvc_code spent_since(llmsvc_runtime *rt, const budget_rule *b, const period *p,
                               int monthly, double *usd, llmsvc_error **err)
{
    llmsvc_store *st = atomic_load(&rt->records);
    if (st) {
        store_conn *c;
        llmsvc_code code = store_acquire(st, &c, err);
        if (code != LLMSVC_OK)
            return code;
        code = st->engine->spend(c, b->project, b->project ? NULL : b->organization,
                                 monthly ? p->month_start : p->day_start, usd, err);
        if (code == LLMSVC_OK)
            store_release(st, c);
        else
            st->engine->disconnect(c);
        return code;
    }
    pthread_mutex_lock(&rt->ledger->mu);
    tally *t = tally_of(rt->ledger, b, p);
    *usd = t ? (monthly ? t->spent_month : t->spent_day) : 0;
    pthread_mutex_unlock(&rt->ledger->mu);
    return LLMSVC_OK;
}

llmsvc_code budget_check(llmsvc_runtime *rt, const registry *reg, const llmsvc_request *req,
                         llmsvc_error **err)
{
    if (!reg->n_budgets || (!req->project_id && !req->organization_id))
        return LLMSVC_OK;
    period p = period_now();
    for (size_t i = 0; i < reg->n_budgets; i++) {
        const budget_rule *b = &reg->budgets[i];
        const char *owner = rule_owner(b, req);
        if (!owner)
            continue;
        for (int monthly = 0; monthly < 2; monthly++) {
            double limit = monthly ? b->monthly_usd : b->daily_usd, spent = 0;
            if (!limit)
                continue;
            llmsvc_error *e = NULL;
            if (spent_since(rt, b, &p, monthly, &spent, &e) != LLMSVC_OK) {
                err_prefix(e, "budget of %s '%s' not checked", b->project ? "project" :
                           "organization", owner);
                return err_give(err, e);
            }
            if (spent >= limit)
                return err_set(err, LLMSVC_E_BUDGET_EXCEEDED,
                               "%s budget of %s '%s' exhausted: $%.4f spent this %s (UTC) of "
                               "$%.4f (%s)",
                               monthly ? "monthly" : "daily",
                               b->project ? "project" : "organization", owner, spent,
                               monthly ? "month" : "day", limit, b->where);
        }
    }
    return LLMSVC_OK;
}

void budget_charge(llmsvc_runtime *rt, const registry *reg, const llmsvc_request *req,
                   double cost_usd)
{
    if (cost_usd <= 0 || !reg->n_budgets || atomic_load(&rt->records))
        return;
    period p = period_now();
    pthread_mutex_lock(&rt->ledger->mu);
    for (size_t i = 0; i < reg->n_budgets; i++) {
        const budget_rule *b = &reg->budgets[i];
        tally *t = rule_owner(b, req) ? tally_of(rt->ledger, b, &p) : NULL;
        if (t) {
            t->spent_day += cost_usd;
            t->spent_month += cost_usd;
        }
    }
    pthread_mutex_unlock(&rt->ledger->mu);
}
