/* prototest — the protocol test harness the per-protocol tests share: one
 * fixture (temporary folder with the plugins under test, the in-process fake
 * upstream, a log collector, a runtime with no spec problems) that tears down
 * completely, scripting the upstream, calls asserted key-safely, JSON paths. */
#ifndef LLMSVC_PROTOTEST_H
#define LLMSVC_PROTOTEST_H

#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>

#include "fake_upstream.h"
#include "testutil.h"

/* ---- the fixture ---- */

/* Runtime options isolated from the environment and the default folders. */
#define PROTO_ISOLATED                                                                             \
    (LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS)

typedef struct proto_fixture {
    char tmp[TU_PATH];     /* the temporary folder (removed by proto_stop) */
    char plugins[TU_PATH]; /* tmp/plugins, holding the copied plugins */
    fake_upstream *fu;
    llmsvc_runtime *rt; /* not opened by proto_start; closed by proto_stop */
    tu_log logs;
    char base[128]; /* the fake upstream's URL + base_path */
} proto_fixture;

/* Keeps loopback off any proxy, makes tmp/plugins, copies each plugin in (pairs
 * of source path and file name, then NULL), starts the fake upstream and the
 * log. base is the upstream's URL followed by base_path ("/v1"). Set provider
 * variables with tu_setenv/tu_unsetenv: proto_stop restores them. */
void proto_start(proto_fixture *fx, const char *base_path, ...) __attribute__((sentinel));
/* tu_options over the fixture's plugin folder and log, with spec_path. */
void proto_options(proto_fixture *fx, llmsvc_options *o, const char *spec_path);
/* Opens a runtime with o, failing the test on an error or any spec problem. */
llmsvc_runtime *proto_open_options(const llmsvc_options *o);
/* proto_options with these flags, then proto_open_options. */
llmsvc_runtime *proto_open(proto_fixture *fx, unsigned flags, const char *spec_path);
/* Closes fx->rt, stops the upstream, frees the log, removes tmp, restores the
 * environment; fx is zeroed. */
void proto_stop(proto_fixture *fx);

/* Pushes one fake-upstream script entry (printf-style JSON); fails the test
 * when it is too long or refused. */
void proto_script(proto_fixture *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for any fake upstream, with a va_list. */
void proto_vscript(fake_upstream *fu, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* ---- what the fake upstream recorded ---- */

/* One request the fake upstream recorded, with its body parsed. */
typedef struct proto_sent {
    json_object *all;  /* every recorded request */
    json_object *rec;  /* the one looked at (borrowed from all) */
    json_object *body; /* its body, parsed: a JSON object */
    const char *text;  /* its body's text (borrowed from all) */
} proto_sent;

/* The i-th request fu recorded (i < 0 counts from the end); fails the test
 * when there is none or its body is not a JSON object. Free it with proto_sent_free. */
proto_sent proto_sent_get(fake_upstream *fu, int i);
void proto_sent_free(proto_sent *s);
/* The value of a header (its name in lower case) as sent; NULL when absent. */
const char *proto_sent_header(const proto_sent *s, const char *lower_name);
/* Whether the header is there with exactly that value. */
int proto_header_is(const proto_sent *s, const char *lower_name, const char *want);

/* ---- JSON paths ---- */

/* The value at a dotted path; a numeric step indexes an array ("tools.0.type").
 * NULL when absent (or JSON null). Borrowed from o. */
json_object *jat(json_object *o, const char *path);
/* The string there, NULL when absent or not a string. */
const char *jstr(json_object *o, const char *path);
/* The integer there; fails the test when it is not one. */
int64_t jint(json_object *o, const char *path);
/* The integer there, or def when absent, null or not an integer. */
int64_t jint_or(json_object *o, const char *path, int64_t def);
/* The number (integer or not) there; fails the test when it is not one. */
double jnum(json_object *o, const char *path);
/* The boolean there; fails the test when it is not one. */
int jbool(json_object *o, const char *path);
/* The length of the array there; fails the test when it is not an array. */
size_t jlen(json_object *o, const char *path);
/* Whether an object has a member at all (null included). */
int jhas(json_object *o, const char *key);

/* ---- key-safe: only in a test that defines TEST_KEY first (keysafe.h) ---- */

#ifdef TEST_KEY
#include "keysafe.h"

#define assert_jstr(obj, path, want)                                                               \
    do {                                                                                           \
        const char *g_ = jstr((obj), (path));                                                      \
        ck_assert_msg(g_ && strcmp(g_, (want)) == 0, "%s is '%s', want '%s'", (path),              \
                      g_ ? shown(g_) : "(absent)", (want));                                        \
    } while (0)

/* Calls and asserts success; the response is the caller's. */
static inline llmsvc_response *proto_call_ok(llmsvc_runtime *rt, const llmsvc_request *req)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    assert_code(rc, LLMSVC_OK, err);
    llmsvc_error_free(err);
    ck_assert_ptr_nonnull(resp);
    return resp;
}

/* Calls and asserts failure with want and no response; the error is the caller's. */
static inline llmsvc_error *proto_call_fail(llmsvc_runtime *rt, const llmsvc_request *req,
                                            llmsvc_code want)
{
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    assert_code(rc, want, err);
    ck_assert_ptr_null(resp);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(llmsvc_error_code(err), want);
    return err;
}

/* A test file of one fixture that defines PROTO_FIXTURE_NAMES (and TEST_KEY)
 * before including this header gets it as `pf`, and short names for its
 * fields and for the helpers over it. */
#ifdef PROTO_FIXTURE_NAMES
static proto_fixture pf;
#define tmp (pf.tmp)
#define fu (pf.fu)
#define rt (pf.rt)
#define logs (pf.logs)
#define base (pf.base) /* the fake upstream's URL + the base path given to proto_start */
#define open_rt(flags, spec_path) proto_open(&pf, (flags), (spec_path))
#define script(...) proto_script(&pf, __VA_ARGS__)
#define call_ok(req) proto_call_ok(rt, (req))
#define call_fail(req, want) proto_call_fail(rt, (req), (want))
typedef proto_sent sent;
#define sent_get(i) proto_sent_get(fu, (i))
#define sent_free proto_sent_free
#define sent_header proto_sent_header
#define header_is proto_header_is
#endif
#endif

#endif
