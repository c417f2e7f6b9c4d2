/* runtime — opening and closing a runtime, its folders and its logger. */
#include "runtime.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "cache.h"
#include "error.h"
#include "ratelimit.h"
#include "spare.h"
#include "fsutil.h"
#include "dirlist.h"
#include "host.h"

LLMSVC_EXTERN const char *llmsvc_version(void)
{
    return LLMSVC_VERSION_STRING;
}

LLMSVC_EXTERN void llmsvc_free(void *p)
{
    free(p);
}

LLMSVC_EXTERN void llmsvc_options_init(llmsvc_options *opts)
{
    if (opts) {
        llmsvc_options d = LLMSVC_OPTIONS_INIT;
        *opts = d;
    }
}

/* ---- logging ---- */

int rt_log_enabled(const llmsvc_runtime *rt, llmsvc_log_level level)
{
    llmsvc_log_level min = rt ? rt->log_level : LLMSVC_LOG_WARN;
    return level >= min && level < LLMSVC_LOG_OFF;
}

void rt_log_str(const llmsvc_runtime *rt, llmsvc_log_level level, const char *msg)
{
    if (!rt_log_enabled(rt, level))
        return;
    if (rt && rt->log) {
        rt->log(rt->log_user, level, msg);
        return;
    }
    static const char *const names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "llmsvc: %s: %s\n", names[level], msg);
}

void rt_logv(const llmsvc_runtime *rt, llmsvc_log_level level, const char *fmt, va_list ap)
{
    if (!rt_log_enabled(rt, level))
        return;
    buf b = BUF_INIT;
    if (buf_vprintf(&b, fmt, ap) == 0)
        rt_log_str(rt, level, buf_cstr(&b));
    buf_free(&b);
}

void rt_logf(const llmsvc_runtime *rt, llmsvc_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_logv(rt, level, fmt, ap);
    va_end(ap);
}

static void loader_log(void *user, llmsvc_log_level level, const char *msg)
{
    rt_log_str(user, level, msg);
}

/* ---- default folders ---- */

static char def_plugins[PATH_MAX + 32], def_specs[PATH_MAX + 32], def_sysconf[PATH_MAX + 32];
static int def_in_build_tree;
static pthread_once_t def_once = PTHREAD_ONCE_INIT;

static void find_defaults(void)
{
    Dl_info info;
    char libdir[PATH_MAX] = LLMSVC_INSTALL_LIBDIR;
    if (dladdr((void *)llmsvc_version, &info) && info.dli_fname) {
        char real[PATH_MAX];
        if (realpath(info.dli_fname, real)) {
            char *slash = strrchr(real, '/');
            if (slash) {
                *slash = '\0';
                snprintf(libdir, sizeof libdir, "%s", real);
            }
        }
    }
    def_in_build_tree = strcmp(libdir, LLMSVC_BUILD_LIBDIR) == 0;
    snprintf(def_plugins, sizeof def_plugins, "%s/llmsvc/plugins", libdir);
    /* share/ is a sibling of lib/, or of lib/ above a multiarch folder */
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof prefix, "%s", libdir);
    char *slash = strrchr(prefix, '/');
    if (slash && strncmp(slash + 1, "lib", 3) != 0) {
        *slash = '\0';
        slash = strrchr(prefix, '/');
    }
    if (slash)
        *slash = '\0';
    snprintf(def_specs, sizeof def_specs, "%s/share/llmsvc/specs", prefix);
    if (strcmp(prefix, "/usr") == 0)
        snprintf(def_sysconf, sizeof def_sysconf, "/etc/llmsvc/specs.d");
    else
        snprintf(def_sysconf, sizeof def_sysconf, "%s/etc/llmsvc/specs.d", prefix);
}

void rt_default_dirs(const char **plugins, const char **specs, const char **sysconf_specs)
{
    pthread_once(&def_once, find_defaults);
    if (plugins)
        *plugins = def_plugins;
    if (specs)
        *specs = def_specs;
    if (sysconf_specs)
        *sysconf_specs = def_in_build_tree ? NULL : def_sysconf;
}

/* ---- open / close ---- */

static int load_plugins(llmsvc_runtime *rt, const llmsvc_options *o)
{
    dirlist l = {0};
    int rc = dirlist_plugins(&l, rt->flags, o->plugin_path);
    if (!rc)
        rc = loader_load(&rt->ld, l.dirs, l.missing_ok, l.n, loader_log, rt);
    dirlist_free(&l);
    return rc;
}

/* Reads the spec folders into a new set; NULL on OOM. */
static spec_set *load_specs(const llmsvc_runtime *rt)
{
    dirlist l = {0};
    spec_set *set = dirlist_specs(&l, rt->flags, rt->spec_path) == 0 ? specset_load(&l) : NULL;
    dirlist_free(&l);
    return set;
}

static void keep_problems(llmsvc_runtime *rt, const spec_set *set)
{
    free(rt->spec_problems);
    rt->spec_problems = set->reg.probs.count ? strdup(buf_cstr(&set->reg.probs.text)) : NULL;
}

LLMSVC_EXTERN llmsvc_code llmsvc_runtime_open(llmsvc_runtime **out, const llmsvc_options *opts,
                                              llmsvc_error **err)
{
    if (!out)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_runtime_open: out is NULL");
    llmsvc_options o = LLMSVC_OPTIONS_INIT;
    if (opts) {
        if (opts->version < 1 || opts->version > LLMSVC_OPTIONS_VERSION)
            return err_set(err, LLMSVC_E_INVALID_ARG,
                           "llmsvc_options version %u is not one this library knows (1..%d)",
                           opts->version, LLMSVC_OPTIONS_VERSION);
        /* a version-1 host's struct ends before the version-2 fields */
        memcpy(&o, opts, opts->version == 1 ? offsetof(llmsvc_options, cache_max_bytes)
                                            : sizeof o);
    }
    if (o.connect_timeout_ms < 0 || o.timeout_ms < 0 || o.max_retries < -1 ||
        o.max_retries > 100 || o.log_level > LLMSVC_LOG_OFF)
        return err_set(err, LLMSVC_E_INVALID_ARG,
                       "llmsvc_options: negative timeout, retries outside -1..100 or bad log level");
    llmsvc_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return err_give(err, err_nomem());
    rt->flags = o.flags;
    rt->connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms : 10000;
    rt->timeout_ms = o.timeout_ms ? o.timeout_ms : 600000;
    rt->max_retries = o.max_retries < 0 ? 2 : o.max_retries;
    rt->max_response_bytes = o.max_response_bytes ? o.max_response_bytes : (16u << 20);
    rt->log = o.log;
    rt->log_user = o.log_user;
    rt->log_level = o.log_level;
    pthread_mutex_init(&rt->reload_mu, NULL);
    if (o.spec_path && !(rt->spec_path = strdup(o.spec_path))) {
        free(rt);
        return err_give(err, err_nomem());
    }

    llmsvc_code code = LLMSVC_OK;
    const llmsvc_runtime *prev = host_enter(rt);
    rt->tp = transport_new();
    if (!rt->tp) {
        code = err_set(err, LLMSVC_E_CONFIG, "cannot initialise libcurl");
        goto fail;
    }
    rt->limits = limiter_new();
    rt->cache = cache_new(o.cache_max_bytes ? o.cache_max_bytes : ((size_t)64 << 20));
    rt->ledger = ledger_new();
    if (!rt->limits || !rt->cache || !rt->ledger) {
        code = err_give(err, err_nomem());
        goto fail;
    }
    spec_set *set = NULL;
    if (load_plugins(rt, &o) < 0 || !(set = load_specs(rt))) {
        code = err_give(err, err_nomem());
        goto fail;
    }
    specset_install(&rt->specs, set);
    keep_problems(rt, set);
    if (rt->spec_problems) {
        if (rt->flags & LLMSVC_OPT_STRICT_SPECS) {
            code = err_set(err, LLMSVC_E_CONFIG, "%s", rt->spec_problems);
            goto fail;
        }
        rt_logf(rt, LLMSVC_LOG_WARN, "spec problems (the files concerned were skipped):\n%s",
                rt->spec_problems);
    }
    host_enter(prev);
    *out = rt;
    return LLMSVC_OK;
fail:
    host_enter(prev);
    llmsvc_runtime_close(rt);
    return code;
}

LLMSVC_EXTERN void llmsvc_runtime_close(llmsvc_runtime *rt)
{
    if (!rt)
        return;
    const llmsvc_runtime *prev = host_enter(rt);
    loader_free(&rt->ld);
    host_enter(prev);
    specset_release(atomic_exchange(&rt->specs.current, NULL));
    transport_free(rt->tp);
    limiter_free(rt->limits);
    cache_free(rt->cache);
    ledger_free(rt->ledger);
    pthread_mutex_destroy(&rt->reload_mu);
    free(rt->spec_path);
    free(rt->spec_problems);
    free(rt);
    spare_release_thread(); /* this thread's; other threads' go when they exit */
}

LLMSVC_EXTERN const char *llmsvc_runtime_spec_problems(const llmsvc_runtime *rt)
{
    return rt ? rt->spec_problems : NULL;
}

LLMSVC_EXTERN llmsvc_code llmsvc_runtime_reload_specs(llmsvc_runtime *rt, llmsvc_error **err)
{
    if (!rt)
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_runtime_reload_specs: NULL runtime");
    pthread_mutex_lock(&rt->reload_mu);
    llmsvc_code code = LLMSVC_OK;
    spec_set *set = load_specs(rt);
    if (!set) {
        code = err_give(err, err_nomem());
    } else if (set->reg.probs.count) {
        /* a bad edit changes nothing: the calls go on with the specs they had */
        code = err_set(err, LLMSVC_E_CONFIG, "%s", buf_cstr(&set->reg.probs.text));
        specset_release(set);
    } else {
        specset_install(&rt->specs, set);
        keep_problems(rt, set);
    }
    pthread_mutex_unlock(&rt->reload_mu);
    return code;
}

/* The spec folders a runtime reads into reg; -1 on OOM. */
static int add_runtime_dirs(registry *reg)
{
    dirlist l = {0};
    int rc = dirlist_specs(&l, 0, NULL);
    for (size_t i = 0; i < l.n && rc == 0; i++)
        rc = registry_add_path(reg, l.dirs[i], l.missing_ok[i]);
    dirlist_free(&l);
    return rc;
}

LLMSVC_EXTERN llmsvc_code llmsvc_specs_check(char **summary, const char *const *paths,
                                             size_t n_paths, llmsvc_error **err)
{
    if (!summary || (n_paths && !paths))
        return err_set(err, LLMSVC_E_INVALID_ARG, "llmsvc_specs_check: NULL argument");
    registry reg, installed;
    registry_init(&reg);
    registry_init(&installed);
    llmsvc_code code = LLMSVC_OK;
    int rc = 0;
    if (n_paths == 0) {
        rc = add_runtime_dirs(&reg); /* the folders a runtime would read */
    } else {
        /* routes in the files checked may name the installed specs' models */
        rc = add_runtime_dirs(&installed);
        if (rc == 0 && registry_finish(&installed) < 0)
            rc = -1;
        reg.ref = &installed;
    }
    for (size_t i = 0; i < n_paths && rc == 0; i++)
        rc = registry_add_path(&reg, paths[i], 0);
    if (rc < 0 || registry_finish(&reg) < 0) {
        code = err_give(err, err_nomem());
        goto out;
    }
    if (reg.probs.count) {
        code = err_set(err, LLMSVC_E_CONFIG, "%s", buf_cstr(&reg.probs.text));
        goto out;
    }
    buf b = BUF_INIT;
    if (buf_printf(&b, "%zu file%s, %zu provider%s, %zu model%s", reg.files,
                   reg.files == 1 ? "" : "s", reg.n_providers, reg.n_providers == 1 ? "" : "s",
                   reg.models, reg.models == 1 ? "" : "s") < 0 ||
        (reg.n_routes + reg.n_limits + reg.n_budgets &&
         buf_printf(&b, ", %zu route%s, %zu limit%s, %zu budget%s", reg.n_routes,
                    reg.n_routes == 1 ? "" : "s", reg.n_limits, reg.n_limits == 1 ? "" : "s",
                    reg.n_budgets, reg.n_budgets == 1 ? "" : "s") < 0) ||
        buf_puts(&b, ": no problems") < 0) {
        buf_free(&b);
        code = err_give(err, err_nomem());
        goto out;
    }
    *summary = buf_steal(&b);
out:
    registry_free(&reg);
    registry_free(&installed);
    return code;
}
