#include "curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

#define CURL_SONAME "libcurl.so.4"

static curl_api api;
static int loaded;
static char load_error[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int sym(void *dl, const char *name, void *slot)
{
    void *p = dlsym(dl, name);
    if (!p) {
        snprintf(load_error, sizeof load_error, "%s has no symbol %s", CURL_SONAME, name);
        return -1;
    }
    memcpy(slot, &p, sizeof p); /* object pointer to function pointer, as dlsym intends */
    return 0;
}

static void load(void)
{
    void *dl = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load %s (install the libcurl4 package): %s",
                 CURL_SONAME, why ? why : "unknown reason");
        return;
    }
    if (sym(dl, "curl_global_init", &api.global_init) || sym(dl, "curl_easy_init", &api.easy_init) ||
        sym(dl, "curl_easy_setopt", &api.easy_setopt) ||
        sym(dl, "curl_easy_perform", &api.easy_perform) ||
        sym(dl, "curl_easy_getinfo", &api.easy_getinfo) ||
        sym(dl, "curl_easy_reset", &api.easy_reset) ||
        sym(dl, "curl_easy_cleanup", &api.easy_cleanup) ||
        sym(dl, "curl_easy_strerror", &api.easy_strerror) ||
        sym(dl, "curl_slist_append", &api.slist_append) ||
        sym(dl, "curl_slist_free_all", &api.slist_free_all) || sym(dl, "curl_getdate", &api.getdate) ||
        sym(dl, "curl_easy_nextheader", &api.easy_nextheader) || /* 7.83; Debian 12 has 7.88 */
        sym(dl, "curl_url", &api.url) || sym(dl, "curl_url_set", &api.url_set) ||
        sym(dl, "curl_url_cleanup", &api.url_cleanup) ||
        sym(dl, "curl_url_strerror", &api.url_strerror))
        return; /* libcurl stays loaded: unloading it is never safe once initialised */
    CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "curl_global_init failed: %s",
                 api.easy_strerror(rc));
        return;
    }
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
}

const curl_api *curl_api_get(llmsvc_error **err)
{
    pthread_once(&once, load);
    if (__atomic_load_n(&loaded, __ATOMIC_ACQUIRE))
        return &api;
    err_set(err, LLMSVC_E_CONFIG, "%s", load_error);
    return NULL;
}

const curl_api *curl_api_loaded(void)
{
    return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE) ? &api : NULL;
}
