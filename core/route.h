/* route — routes, client-side rate limits and budgets, as operators declare
 * them in YAML beside the specs (a routes/ folder in a spec folder; specs/README.md
 * "Routes, limits and budgets"). Immutable once loaded; part of a spec set. */
#ifndef LLMSVC_ROUTE_H
#define LLMSVC_ROUTE_H

#include "params.h"
#include "problems.h"

/* Why a target may hand over to the next (fallback_on). */
#define FALL_RATE_LIMITED (1u << 0) /* HTTP 429 */
#define FALL_SERVER (1u << 1)       /* HTTP 5xx (529 overloaded included) */
#define FALL_TIMEOUT (1u << 2)      /* a timeout */
#define FALL_TRANSPORT (1u << 3)    /* connection refused, reset, cut */
#define FALL_RETRYABLE (1u << 4)    /* any other failure marked retryable */
#define FALL_DEFAULT (FALL_RATE_LIMITED | FALL_SERVER | FALL_TIMEOUT | FALL_TRANSPORT | FALL_RETRYABLE)

typedef enum sticky_kind { STICKY_NONE, STICKY_USER, STICKY_PROJECT, STICKY_KEY } sticky_kind;

/* A value a target sets on its parameters. */
typedef struct route_param {
    int set;
    double number;
    char *string;
} route_param;

typedef struct route_target {
    char *provider;
    char *model;
    char *arm;     /* split: the arm's name */
    double weight; /* split: relative weight */
    route_param params[P_COUNT];
} route_target;

typedef enum route_kind { ROUTE_FALLBACK, ROUTE_SPLIT } route_kind;

#define ROUTE_MAX_TARGETS 16

typedef struct route {
    char *name;
    route_kind kind;
    route_target *targets; /* fallbacks in order, or the split's arms */
    size_t n_targets;
    unsigned fallback_on;  /* FALL_* */
    sticky_kind sticky;
    long cache_ttl_ms;     /* 0: the route's answers are not cached */
    int limit_fail;        /* on an empty rate-limit bucket: 1 fail at once, 0 wait,
                              -1 as the limit says */
    long limit_max_wait_ms; /* -1: as the limit says */
    char *where;           /* file:line:col */
} route;

typedef struct limit_rule {
    char *provider;
    char *model;               /* NULL: every model of the provider, each its own bucket */
    double requests_per_sec;   /* 0: no request limit */
    double request_burst;      /* the request bucket's size (default: one second's worth, ≥ 1) */
    double tokens_per_sec;     /* 0: no token limit */
    double token_burst;        /* the token bucket's size (default: one minute's worth) */
    int per_process;           /* scope: process — never shared through the store */
    int fail;                  /* 1: fail at once when empty (default: wait) */
    long max_wait_ms;
    char *text;                /* "10 requests per second", for messages */
    char *where;
} limit_rule;

typedef struct budget_rule {
    char *project;      /* exactly one of project and organization */
    char *organization;
    double daily_usd;   /* 0: none */
    double monthly_usd;
    char *where;
} budget_rule;

/* One routes file. */
typedef struct route_file {
    route **routes;
    size_t n_routes;
    limit_rule *limits;
    size_t n_limits;
    budget_rule *budgets;
    size_t n_budgets;
} route_file;

struct ydoc;
/* Reads a routes file (root keys routes, limits, budgets); NULL with every
 * problem in the document's problems. */
route_file *route_parse_doc(struct ydoc *d);
void route_file_free(route_file *f);
void route_free(route *r);
void limit_rule_clear(limit_rule *l);
void budget_rule_clear(budget_rule *b);

#endif
