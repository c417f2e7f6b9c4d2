/* runtime — the llmsvc_runtime: options, the loaded plugins, the spec
 * registry and the transport, shared read-only by every calling thread. */
#ifndef LLMSVC_RUNTIME_H
#define LLMSVC_RUNTIME_H

#include <pthread.h>
#include <stdarg.h>

#include "http.h"
#include "llmsvc/llmsvc.h"
#include "loader.h"
#include "registry.h"
#include "specset.h"

struct llmsvc_runtime {
    unsigned flags;
    long connect_timeout_ms;
    long timeout_ms;
    int max_retries;
    size_t max_response_bytes;
    llmsvc_log_fn log;
    void *log_user;
    llmsvc_log_level log_level;
    char *spec_path;        /* the options' spec_path, read again on reload */
    spec_slot specs;        /* the current spec set (specset.h) */
    pthread_mutex_t reload_mu; /* one reload at a time; guards spec_problems */
    char *spec_problems;    /* of the last load, or NULL */
    loader ld;
    transport *tp;
    _Atomic(llmsvc_store *) records; /* direct calls are recorded here when set; also
                                        the shared level of limits, cache and budgets */
    struct limiter *limits;    /* ratelimit.h */
    struct resp_cache *cache;  /* cache.h */
    struct ledger *ledger;     /* budget.h */
};

/* Logging through the runtime's logger (rt may be NULL: stderr, warnings up). */
int rt_log_enabled(const llmsvc_runtime *rt, llmsvc_log_level level);
void rt_log_str(const llmsvc_runtime *rt, llmsvc_log_level level, const char *msg);
void rt_logv(const llmsvc_runtime *rt, llmsvc_log_level level, const char *fmt, va_list ap);
void rt_logf(const llmsvc_runtime *rt, llmsvc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the call record of a direct call when records are on (records.c);
 * a failure to write is logged, never returned. */
void records_write_direct(llmsvc_runtime *rt, const llmsvc_request *req,
                          const llmsvc_response *resp, const llmsvc_error *err);

/* The default folders, derived from where libllmsvc itself lives: the
 * install's (lib/llmsvc/plugins, share/llmsvc/specs, etc/llmsvc/specs.d) or
 * the build tree's. Strings are static. sysconf_specs is NULL in the build tree. */
void rt_default_dirs(const char **plugins, const char **specs, const char **sysconf_specs);

#endif
