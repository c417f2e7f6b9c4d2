/* testutil — what every test file needs: temporary folders that clean up
 * after themselves, copies of plugins with chosen modes, a log collector for
 * llmsvc_options.log, positions of text in fixture files, and one main().
 *
 * Paths come from the build as compile definitions (tests/CMakeLists.txt):
 *   TEST_SRC_DIR      tests/ in the source tree (fixtures: TEST_SRC_DIR "/specs/...")
 *   PROJECT_SRC_DIR   the source tree's root (the shipped specs/)
 *   TEST_PLUGIN_DIR   the test plugins built by tests/CMakeLists.txt (never loaded
 *                     from there: tests copy what they need into a temp folder)
 *   MOCK_PLUGIN       the real mock plugin (.../lib/llmsvc/plugins/mock.so)
 *   LLMSVC_CLI        the llmsvc executable
 */
#ifndef LLMSVC_TESTUTIL_H
#define LLMSVC_TESTUTIL_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "llmsvc/llmsvc.h"

/* ---- files and folders ---- */

/* A new private (0700) folder under $TMPDIR or /tmp; aborts the test on failure.
 * The returned string is static storage of the caller's choosing: pass a
 * buffer of at least TU_PATH bytes. */
#define TU_PATH 4096
void tu_mkdtemp(char out[TU_PATH]);
/* rm -rf; NULL-safe and silent (for teardown). */
void tu_rm_rf(const char *path);
/* Writes text to dir/name (mode 0644); returns the path in out. */
void tu_write(char out[TU_PATH], const char *dir, const char *name, const char *text);
/* Copies src to dir/name and sets its mode exactly (no umask); path in out. */
void tu_copy(char out[TU_PATH], const char *src, const char *dir, const char *name, mode_t mode);
/* A test plugin built in the test tree (TEST_PLUGIN_DIR "/" name ".so") copied
 * into dir with mode 0755; the copy's path in out (may be NULL). */
void tu_install_plugin(char out[TU_PATH], const char *dir, const char *plugin);
/* The real mock plugin copied into dir as mock.so (0755). */
void tu_install_mock(const char *dir);
/* Whole file into a malloc'd string (free it); aborts the test if unreadable. */
char *tu_slurp(const char *path);

/* 1-based line and column of the first character of the n-th (1-based)
 * occurrence of needle in the file; aborts the test when there is none. Lets a
 * test say "the error points at `temprature`" without hard-coding numbers. */
void tu_locate(const char *path, const char *needle, int nth, unsigned *line, unsigned *col);
/* "path:line:col: " for that occurrence, into out. */
void tu_where(char out[TU_PATH + 64], const char *path, const char *needle, int nth);

/* ---- strings ---- */

/* Occurrences of needle in hay (non-overlapping). */
size_t tu_count(const char *hay, const char *needle);
/* Lines of a text (a final line without '\n' counts; "" has none). */
size_t tu_lines(const char *text);

#define tu_assert_has(hay, needle)                                                              \
    do {                                                                                        \
        const char *h_ = (hay), *n_ = (needle);                                                 \
        ck_assert_msg(h_ && strstr(h_, n_), "expected to find\n  \"%s\"\nin\n  \"%s\"", n_,     \
                      h_ ? h_ : "(null)");                                                      \
    } while (0)

#define tu_assert_lacks(hay, needle)                                                            \
    do {                                                                                        \
        const char *h_ = (hay), *n_ = (needle);                                                 \
        ck_assert_msg(!h_ || !strstr(h_, n_), "did not expect\n  \"%s\"\nin\n  \"%s\"", n_, h_); \
    } while (0)

/* Asserts an llmsvc_code, printing the error's message when it differs. */
#define tu_assert_code(got, want, err)                                                          \
    do {                                                                                        \
        llmsvc_code g_ = (got), w_ = (want);                                                    \
        ck_assert_msg(g_ == w_, "expected %s, got %s: %s", llmsvc_code_name(w_),                \
                      llmsvc_code_name(g_), (err) ? llmsvc_error_message(err) : "(no error)"); \
    } while (0)

/* ---- environment (restored by tu_env_restore, so tests also work unforked) ---- */

void tu_setenv(const char *name, const char *value);
void tu_unsetenv(const char *name);
void tu_env_restore(void);

/* ---- log capture (thread-safe) ---- */

typedef struct tu_log {
    pthread_mutex_t lock;
    char *text; /* every line, '\n'-terminated, "LEVEL message" */
    size_t len, cap;
} tu_log;

void tu_log_init(tu_log *l);
void tu_log_free(tu_log *l);
/* The llmsvc_log_fn; user is a tu_log. */
void tu_log_fn(void *user, llmsvc_log_level level, const char *message);
/* Copy of what was logged so far (free it). */
char *tu_log_text(tu_log *l);

/* ---- runtimes ---- */

/* Options with no environment, no default folders, the given plugin and spec
 * paths, no retries back-off surprises (max_retries as given), logging into
 * log (may be NULL: LLMSVC_LOG_OFF). */
void tu_options(llmsvc_options *o, const char *plugin_path, const char *spec_path, tu_log *log);
/* Opens a runtime with o, failing the test on error. */
llmsvc_runtime *tu_open(const llmsvc_options *o);

/* A request for provider/model/prompt; fails the test on error. */
llmsvc_request *tu_request(const char *provider, const char *model, const char *prompt);

/* ---- main ---- */

/* Runs the suite (fork mode as check's defaults say) and returns the exit
 * status: 0 when every test passed. TMPDIR points, during the run, at a folder
 * removed afterwards, so that even failed tests leave nothing behind. */
int tu_run_suite(Suite *s);
/* A test case with a generous timeout (the sanitizer and valgrind runs are slow). */
TCase *tu_tcase(const char *name);

#endif
