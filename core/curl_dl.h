/* curl_dl — libcurl, loaded on the first HTTP call rather than at start-up.
 *
 * Linking libcurl costs every process ~4 ms before main() (its TLS, Kerberos
 * and LDAP dependencies); a host that only uses the mock provider, or a CLI
 * run that fails validation, never pays it. The functions we use are called
 * through this table, filled once with dlopen/dlsym. */
#ifndef LLMSVC_CURL_DL_H
#define LLMSVC_CURL_DL_H

#include <curl/curl.h>

#include "llmsvc/llmsvc.h"

typedef struct curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    void (*easy_reset)(CURL *h);
    void (*easy_cleanup)(CURL *h);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
    time_t (*getdate)(const char *s, const time_t *unused);
    /* the headers libcurl kept of the last transfer (libcurl >= 7.83) */
    struct curl_header *(*easy_nextheader)(CURL *h, unsigned int origin, int request,
                                           struct curl_header *prev);
    /* parsed URLs (CURLOPT_CURLU), 7.62; their messages 7.80 */
    CURLU *(*url)(void);
    CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
    void (*url_cleanup)(CURLU *u);
    const char *(*url_strerror)(CURLUcode rc);
} curl_api;

/* The table, loading and initialising libcurl on first use (thread-safe).
 * NULL with a CONFIG error when libcurl cannot be loaded. */
const curl_api *curl_api_get(llmsvc_error **err);
/* The table if libcurl is already loaded, else NULL. */
const curl_api *curl_api_loaded(void);

#endif
