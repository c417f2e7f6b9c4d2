/* loader — finds provider plugins in folders, checks them, loads them and
 * keeps the protocols they register. Each refusal is one clear reason, and
 * every other plugin still loads:
 *  - a file or folder writable by group or others, or owned by another user
 *    (neither the caller nor root);
 *  - not a loadable shared object;
 *  - no `llmsvc_plugin` descriptor;
 *  - a different ABI major, or a newer ABI minor, than the core's;
 *  - a protocol already registered by an earlier plugin (the earlier one stays);
 *  - init failing.
 * Immutable after loading; safe to read from many threads. */
#ifndef LLMSVC_LOADER_H
#define LLMSVC_LOADER_H

#include "buf.h"
#include "llmsvc/plugin.h"
#include "strmap.h"

typedef struct plugin_rec {
    char *path;
    int loaded;
    char *reason; /* why it was refused, or NULL */
    char *name;
    char *version;
    char *description;
    int abi_known;
    unsigned abi_major, abi_minor;
    buf protocols; /* "a, b" */
    void *dl;
} plugin_rec;

typedef struct api_rec {
    llmsvc_api_ops ops; /* the plugin's ops, zero-extended to the core's size */
    void *state;
    size_t plugin; /* index into loader.plugins */
} api_rec;

typedef struct loader {
    plugin_rec *plugins;
    size_t n_plugins;
    api_rec **apis;
    size_t n_apis;
    strmap by_name; /* protocol → api_rec */
} loader;

typedef void (*loader_log_fn)(void *user, llmsvc_log_level level, const char *msg);

/* Initialises *ld and loads every *.so of each folder in order (file names sorted within a
 * folder). A missing folder is skipped when missing_ok[i], else reported as a
 * refusal. Logs one line per file. -1 only on OOM. */
int loader_load(loader *ld, char *const *dirs, const int *missing_ok, size_t n,
                loader_log_fn log, void *log_user);
const api_rec *loader_api(const loader *ld, const char *name);
/* "mock, openai-responses" into out. */
int loader_api_names(const loader *ld, buf *out);
/* Shuts protocols down and unloads plugins. */
void loader_free(loader *ld);

/* host->register_api (used by host.c's table). */
llmsvc_code loader_register_api(llmsvc_registrar *reg, const llmsvc_api_ops *ops,
                                llmsvc_error **err);

/* The host function table handed to plugins (host.c). */
extern const llmsvc_host loader_host_table;

#endif
