#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"

struct llmsvc_registrar {
    loader *ld;
    size_t plugin;
    api_rec *pending[16];
    size_t n_pending;
    llmsvc_error *err; /* first registration failure */
};

/* ---- permission checks, as ssh and sudo do them ---- */

static int check_owner_mode(const char *path, const char *what, buf *reason)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        buf_printf(reason, "cannot stat %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        buf_printf(reason,
                   "%s %s is writable by %s (mode %04o), so anyone could replace the code the "
                   "core would run; fix with: chmod go-w %s",
                   what, path,
                   (st.st_mode & S_IWOTH) ? ((st.st_mode & S_IWGRP) ? "group and others"
                                                                     : "others")
                                          : "group",
                   (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    uid_t me = geteuid();
    if (st.st_uid != me && st.st_uid != 0) {
        buf_printf(reason,
                   "%s %s is owned by uid %u, neither you (uid %u) nor root, so that user could "
                   "replace the code the core would run",
                   what, path, (unsigned)st.st_uid, (unsigned)me);
        return -1;
    }
    return 0;
}

/* ---- registration (host->register_api) ---- */

static int valid_api_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return 0;
    }
    return 1;
}

llmsvc_code loader_register_api(llmsvc_registrar *reg, const llmsvc_api_ops *ops,
                                llmsvc_error **err)
{
    llmsvc_error *e = NULL;
    if (!reg || !ops || ops->size < offsetof(llmsvc_api_ops, execute)) {
        e = err_new(LLMSVC_E_CONFIG, "register_api: ops missing or too small");
        goto fail;
    }
    if (!valid_api_name(ops->name)) {
        e = err_new(LLMSVC_E_CONFIG, "protocol name '%s' is not [a-z0-9._-]{1,64}",
                    ops->name ? ops->name : "(null)");
        goto fail;
    }
    const api_rec *prev = loader_api(reg->ld, ops->name);
    for (size_t i = 0; !prev && i < reg->n_pending; i++) {
        if (strcmp(reg->pending[i]->ops.name, ops->name) == 0)
            prev = reg->pending[i];
    }
    if (prev) {
        e = err_new(LLMSVC_E_CONFIG, "protocol '%s' is already registered by %s", ops->name,
                    reg->ld->plugins[prev->plugin].path);
        goto fail;
    }
    if (reg->n_pending == sizeof reg->pending / sizeof *reg->pending) {
        e = err_new(LLMSVC_E_CONFIG, "a plugin registers at most 16 protocols");
        goto fail;
    }
    api_rec *a = calloc(1, sizeof *a);
    if (!a) {
        e = err_nomem();
        goto fail;
    }
    size_t n = ops->size < sizeof a->ops ? ops->size : sizeof a->ops;
    memcpy(&a->ops, ops, n);
    a->ops.size = sizeof a->ops;
    if (!a->ops.execute && (!a->ops.build_request || !a->ops.parse_response)) {
        free(a);
        e = err_new(LLMSVC_E_CONFIG,
                    "protocol '%s' has neither execute nor build_request and parse_response",
                    ops->name);
        goto fail;
    }
    a->plugin = reg->plugin;
    reg->pending[reg->n_pending++] = a;
    return LLMSVC_OK;
fail:
    if (reg && !reg->err) {
        reg->err = e;
        if (err)
            *err = err_new(e->code, "%s", e->message);
    } else if (err) {
        *err = e;
    } else {
        llmsvc_error_free(e);
    }
    return LLMSVC_E_CONFIG;
}

/* ---- loading one file ---- */

static plugin_rec *new_rec(loader *ld, const char *path)
{
    plugin_rec *nv = realloc(ld->plugins, (ld->n_plugins + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    ld->plugins = nv;
    plugin_rec *p = &nv[ld->n_plugins];
    memset(p, 0, sizeof *p);
    p->path = strdup(path);
    if (!p->path)
        return NULL;
    ld->n_plugins++;
    return p;
}

static void refuse(plugin_rec *p, buf *reason)
{
    p->loaded = 0;
    p->reason = buf_steal(reason);
}

static int dup_str(char **dst, const char *s)
{
    *dst = strdup(s ? s : "");
    return *dst ? 0 : -1;
}

static void rollback(llmsvc_registrar *reg)
{
    for (size_t i = 0; i < reg->n_pending; i++)
        free(reg->pending[i]);
    reg->n_pending = 0;
}

/* Calls init of each pending protocol, then publishes them. */
static int commit(loader *ld, llmsvc_registrar *reg, plugin_rec *p, buf *reason)
{
    size_t inited = 0;
    for (; inited < reg->n_pending; inited++) {
        api_rec *a = reg->pending[inited];
        if (!a->ops.init)
            continue;
        llmsvc_error *e = NULL;
        if (a->ops.init(&a->state, &e) != LLMSVC_OK) {
            buf_printf(reason, "init of protocol '%s' failed: %s", a->ops.name,
                       e ? llmsvc_error_message(e) : "no reason given");
            llmsvc_error_free(e);
            for (size_t i = 0; i < inited; i++) {
                if (reg->pending[i]->ops.shutdown)
                    reg->pending[i]->ops.shutdown(reg->pending[i]->state);
            }
            return -1;
        }
    }
    api_rec **nv = realloc(ld->apis, (ld->n_apis + reg->n_pending) * sizeof *nv);
    if (!nv)
        return -2;
    ld->apis = nv;
    for (size_t i = 0; i < reg->n_pending; i++) {
        api_rec *a = reg->pending[i];
        if (strmap_put(&ld->by_name, a->ops.name, strlen(a->ops.name), a, NULL) < 0)
            return -2;
        ld->apis[ld->n_apis++] = a;
        buf_printf(&p->protocols, "%s%s", i ? ", " : "", a->ops.name);
    }
    reg->n_pending = 0;
    return 0;
}

static int load_file(loader *ld, const char *path, const char *dir_reason)
{
    plugin_rec *p = new_rec(ld, path);
    if (!p)
        return -1;
    size_t idx = ld->n_plugins - 1;
    buf reason = BUF_INIT;
    if (dir_reason) {
        buf_puts(&reason, dir_reason);
        refuse(p, &reason);
        return 0;
    }
    if (check_owner_mode(path, "file", &reason) < 0) {
        refuse(p, &reason);
        return 0;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        buf_printf(&reason, "not a loadable shared object: %s", why ? why : "dlopen failed");
        refuse(p, &reason);
        return 0;
    }
    const llmsvc_plugin_desc *desc = dlsym(dl, LLMSVC_PLUGIN_SYMBOL);
    if (!desc) {
        buf_printf(&reason,
                   "no '%s' symbol: not an llmsvc plugin (define one with LLMSVC_PLUGIN_DEFINE)",
                   LLMSVC_PLUGIN_SYMBOL);
        goto refused;
    }
    p->abi_known = 1;
    p->abi_major = desc->abi_major;
    p->abi_minor = desc->abi_minor;
    if (desc->abi_major != LLMSVC_PLUGIN_ABI_MAJOR) {
        buf_printf(&reason,
                   "built for plugin ABI %u.%u, but this core speaks ABI %d.%d; rebuild the "
                   "plugin against this llmsvc's plugin.h",
                   desc->abi_major, desc->abi_minor, LLMSVC_PLUGIN_ABI_MAJOR,
                   LLMSVC_PLUGIN_ABI_MINOR);
        goto refused;
    }
    if (desc->abi_minor > LLMSVC_PLUGIN_ABI_MINOR) {
        buf_printf(&reason,
                   "built for plugin ABI %u.%u, newer than this core's %d.%d; upgrade llmsvc",
                   desc->abi_major, desc->abi_minor, LLMSVC_PLUGIN_ABI_MAJOR,
                   LLMSVC_PLUGIN_ABI_MINOR);
        goto refused;
    }
    if (desc->size < offsetof(llmsvc_plugin_desc, init) + sizeof desc->init || !desc->init ||
        !desc->name || !*desc->name) {
        buf_puts(&reason, "its descriptor lacks a name or an init function");
        goto refused;
    }
    if (dup_str(&p->name, desc->name) < 0 || dup_str(&p->version, desc->version) < 0 ||
        dup_str(&p->description, desc->description) < 0)
        goto nomem;

    llmsvc_registrar reg = {ld, idx, {0}, 0, NULL};
    llmsvc_error *e = NULL;
    llmsvc_code rc = desc->init(&loader_host_table, &reg, &e);
    if (reg.err) {
        buf_printf(&reason, "%s", llmsvc_error_message(reg.err));
        llmsvc_error_free(reg.err);
        llmsvc_error_free(e);
        rollback(&reg);
        goto refused;
    }
    if (rc != LLMSVC_OK) {
        buf_printf(&reason, "its init failed: %s", e ? llmsvc_error_message(e) : "no reason given");
        llmsvc_error_free(e);
        rollback(&reg);
        goto refused;
    }
    llmsvc_error_free(e);
    if (!reg.n_pending) {
        buf_puts(&reason, "it registered no protocol");
        goto refused;
    }
    int c = commit(ld, &reg, p, &reason);
    if (c < 0) {
        rollback(&reg);
        if (c == -2)
            goto nomem;
        goto refused;
    }
    p->loaded = 1;
    p->dl = dl;
    return 0;
refused:
    refuse(p, &reason);
    dlclose(dl);
    return 0;
nomem:
    buf_free(&reason);
    dlclose(dl);
    return -1;
}

static void log_rec(const plugin_rec *p, loader_log_fn log, void *user)
{
    if (!log)
        return;
    buf b = BUF_INIT;
    if (p->loaded)
        buf_printf(&b, "plugin %s: loaded %s %s (ABI %u.%u): %s", p->path, p->name, p->version,
                   p->abi_major, p->abi_minor, buf_cstr(&p->protocols));
    else
        buf_printf(&b, "plugin %s: refused: %s", p->path, p->reason);
    log(user, p->loaded ? LLMSVC_LOG_DEBUG : LLMSVC_LOG_WARN, buf_cstr(&b));
    buf_free(&b);
}

int loader_load(loader *ld, char *const *dirs, const int *missing_ok, size_t n,
                loader_log_fn log, void *log_user)
{
    memset(ld, 0, sizeof *ld);
    for (size_t d = 0; d < n; d++) {
        int isdir = fs_is_dir(dirs[d]);
        if (isdir < 0 && missing_ok[d])
            continue;
        buf why = BUF_INIT;
        const char *dir_reason = NULL;
        if (isdir <= 0) {
            plugin_rec *p = new_rec(ld, dirs[d]);
            if (!p)
                return -1;
            buf_printf(&why, "%s", isdir < 0 ? "no such plugin folder" : "not a folder");
            refuse(p, &why);
            log_rec(p, log, log_user);
            continue;
        }
        if (check_owner_mode(dirs[d], "folder", &why) < 0)
            dir_reason = buf_cstr(&why);
        char **files;
        size_t nf;
        if (fs_list_dir(dirs[d], ".so", &files, &nf) < 0) {
            buf_free(&why);
            if (errno == ENOMEM)
                return -1;
            continue;
        }
        for (size_t i = 0; i < nf; i++) {
            if (load_file(ld, files[i], dir_reason) < 0) {
                fs_free_list(files, nf);
                buf_free(&why);
                return -1;
            }
            log_rec(&ld->plugins[ld->n_plugins - 1], log, log_user);
        }
        fs_free_list(files, nf);
        buf_free(&why);
    }
    return 0;
}

const api_rec *loader_api(const loader *ld, const char *name)
{
    return strmap_get(&ld->by_name, name, strlen(name));
}

int loader_api_names(const loader *ld, buf *out)
{
    if (!ld->n_apis)
        return buf_puts(out, "none");
    for (size_t i = 0; i < ld->n_apis; i++) {
        if (buf_printf(out, "%s%s", i ? ", " : "", ld->apis[i]->ops.name) < 0)
            return -1;
    }
    return 0;
}

void loader_free(loader *ld)
{
    for (size_t i = 0; i < ld->n_apis; i++) {
        if (ld->apis[i]->ops.shutdown)
            ld->apis[i]->ops.shutdown(ld->apis[i]->state);
        free(ld->apis[i]);
    }
    free(ld->apis);
    strmap_free(&ld->by_name);
    for (size_t i = 0; i < ld->n_plugins; i++) {
        plugin_rec *p = &ld->plugins[i];
        if (p->dl)
            dlclose(p->dl);
        free(p->path);
        free(p->reason);
        free(p->name);
        free(p->version);
        free(p->description);
        buf_free(&p->protocols);
    }
    free(ld->plugins);
    memset(ld, 0, sizeof *ld);
}
