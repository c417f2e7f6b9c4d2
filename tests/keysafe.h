/* keysafe — assertions that never print an API key: a failing assertion
 * shows "(withheld ...)" instead of any text holding TEST_KEY or SECRET_KEY,
 * which the including test defines first (SECRET_KEY is optional). */
#ifndef LLMSVC_KEYSAFE_H
#define LLMSVC_KEYSAFE_H

#include <check.h>
#include <string.h>

#include "llmsvc/llmsvc.h"

#ifndef TEST_KEY
#error "define TEST_KEY before including keysafe.h"
#endif
#ifndef SECRET_KEY
#define SECRET_KEY TEST_KEY
#endif

/* s as a failing assertion may print it: withheld when it holds a key. */
static inline const char *shown(const char *s)
{
    if (!s)
        return "(null)";
    if (strstr(s, TEST_KEY) || strstr(s, SECRET_KEY))
        return "(withheld: it contains the API key)";
    return s;
}

#define assert_code(got, want, err)                                                          \
    do {                                                                                     \
        llmsvc_code g_ = (got), w_ = (want);                                                 \
        ck_assert_msg(g_ == w_, "expected %s, got %s: %s", llmsvc_code_name(w_),             \
                      llmsvc_code_name(g_),                                                  \
                      (err) ? shown(llmsvc_error_message(err)) : "(no error)");              \
    } while (0)

#define assert_has(hay, needle)                                                              \
    do {                                                                                     \
        const char *h_ = (hay), *n_ = (needle);                                              \
        ck_assert_msg(h_ && strstr(h_, n_), "expected to find\n  \"%s\"\nin\n  \"%s\"", n_,  \
                      shown(h_));                                                            \
    } while (0)

#define assert_lacks(hay, needle)                                                            \
    do {                                                                                     \
        const char *h_ = (hay), *n_ = (needle);                                              \
        ck_assert_msg(!h_ || !strstr(h_, n_), "did not expect\n  \"%s\"\nin\n  \"%s\"", n_, \
                      shown(h_));                                                            \
    } while (0)

#define assert_text_eq(got, want)                                                            \
    do {                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                \
        ck_assert_msg(g_ && w_ && strcmp(g_, w_) == 0, "got\n  \"%s\"\nwant\n  \"%s\"",      \
                      shown(g_), w_ ? w_ : "(null)");                                        \
    } while (0)

#endif
