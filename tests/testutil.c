#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files and folders ---- */

void tu_mkdtemp(char out[TU_PATH])
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, TU_PATH, "%s/llmsvc-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s: %s", out, strerror(errno));
    /* mkdtemp gives 0700 whatever the umask; say so explicitly all the same */
    ck_assert_int_eq(chmod(out, 0700), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tu_rm_rf(const char *path)
{
    if (path && *path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_write(char out[TU_PATH], const char *dir, const char *name, const char *text)
{
    char path[TU_PATH];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    ck_assert_int_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, 0644), 0);
    if (out)
        snprintf(out, TU_PATH, "%s", path);
}

void tu_copy(char out[TU_PATH], const char *src, const char *dir, const char *name, mode_t mode)
{
    char path[TU_PATH];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int in = open(src, O_RDONLY);
    ck_assert_msg(in >= 0, "cannot open %s: %s (is it built?)", src, strerror(errno));
    int o = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_msg(o >= 0, "cannot create %s: %s", path, strerror(errno));
    char b[65536];
    ssize_t n;
    while ((n = read(in, b, sizeof b)) > 0)
        ck_assert_int_eq(write(o, b, (size_t)n), n);
    ck_assert_int_eq(n, 0);
    close(in);
    ck_assert_int_eq(close(o), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    if (out)
        snprintf(out, TU_PATH, "%s", path);
}

void tu_install_plugin(char out[TU_PATH], const char *dir, const char *plugin)
{
    char src[TU_PATH], name[256];
    snprintf(src, sizeof src, "%s/%s.so", TEST_PLUGIN_DIR, plugin);
    snprintf(name, sizeof name, "%s.so", plugin);
    tu_copy(out, src, dir, name, 0755);
}

void tu_install_mock(const char *dir)
{
    tu_copy(NULL, MOCK_PLUGIN, dir, "mock.so", 0755);
}

char *tu_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *p = malloc(cap);
    ck_assert_ptr_nonnull(p);
    size_t n;
    while ((n = fread(p + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            p = realloc(p, cap);
            ck_assert_ptr_nonnull(p);
        }
    }
    fclose(f);
    p[len] = '\0';
    return p;
}

void tu_locate(const char *path, const char *needle, int nth, unsigned *line, unsigned *col)
{
    char *text = tu_slurp(path);
    const char *p = text;
    for (int i = 0; p && i < nth; i++) {
        p = strstr(i ? p + 1 : p, needle);
    }
    ck_assert_msg(p != NULL, "fixture %s has no occurrence %d of '%s'", path, nth, needle);
    unsigned l = 1, c = 1;
    for (const char *q = text; q < p; q++) {
        if (*q == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    free(text);
    *line = l;
    *col = c;
}

void tu_where(char out[TU_PATH + 64], const char *path, const char *needle, int nth)
{
    unsigned l, c;
    tu_locate(path, needle, nth, &l, &c);
    snprintf(out, TU_PATH + 64, "%s:%u:%u: ", path, l, c);
}

/* ---- strings ---- */

size_t tu_count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = hay; p && (p = strstr(p, needle)); p += len)
        n++;
    return n;
}

size_t tu_lines(const char *text)
{
    if (!text || !*text)
        return 0;
    size_t n = tu_count(text, "\n");
    return text[strlen(text) - 1] == '\n' ? n : n + 1;
}

/* ---- environment ---- */

#define MAX_SAVED 32
static struct {
    char *name;
    char *value; /* NULL: was unset */
} saved[MAX_SAVED];
static size_t n_saved;

static void save(const char *name)
{
    for (size_t i = 0; i < n_saved; i++) {
        if (strcmp(saved[i].name, name) == 0)
            return;
    }
    ck_assert_int_lt(n_saved, MAX_SAVED);
    const char *v = getenv(name);
    saved[n_saved].name = strdup(name);
    saved[n_saved].value = v ? strdup(v) : NULL;
    n_saved++;
}

void tu_setenv(const char *name, const char *value)
{
    save(name);
    ck_assert_int_eq(setenv(name, value, 1), 0);
}

void tu_unsetenv(const char *name)
{
    save(name);
    unsetenv(name);
}

void tu_env_restore(void)
{
    for (size_t i = 0; i < n_saved; i++) {
        if (saved[i].value)
            setenv(saved[i].name, saved[i].value, 1);
        else
            unsetenv(saved[i].name);
        free(saved[i].name);
        free(saved[i].value);
    }
    n_saved = 0;
}

/* ---- log capture ---- */

void tu_log_init(tu_log *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
}

void tu_log_free(tu_log *l)
{
    free(l->text);
    pthread_mutex_destroy(&l->lock);
    memset(l, 0, sizeof *l);
}

void tu_log_fn(void *user, llmsvc_log_level level, const char *message)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    tu_log *l = user;
    pthread_mutex_lock(&l->lock);
    size_t need = strlen(message) + 16;
    if (l->len + need >= l->cap) {
        size_t cap = (l->cap + need) * 2;
        char *p = realloc(l->text, cap);
        if (!p) {
            pthread_mutex_unlock(&l->lock);
            return;
        }
        l->text = p;
        l->cap = cap;
    }
    l->len += (size_t)snprintf(l->text + l->len, l->cap - l->len, "%s %s\n",
                               level <= LLMSVC_LOG_ERROR ? names[level] : "?", message);
    pthread_mutex_unlock(&l->lock);
}

char *tu_log_text(tu_log *l)
{
    pthread_mutex_lock(&l->lock);
    char *s = strdup(l->text ? l->text : "");
    pthread_mutex_unlock(&l->lock);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* ---- runtimes ---- */

void tu_options(llmsvc_options *o, const char *plugin_path, const char *spec_path, tu_log *log)
{
    llmsvc_options_init(o);
    o->flags = LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS;
    o->plugin_path = plugin_path;
    o->spec_path = spec_path;
    if (log) {
        o->log = tu_log_fn;
        o->log_user = log;
        o->log_level = LLMSVC_LOG_DEBUG;
    } else {
        o->log_level = LLMSVC_LOG_OFF;
    }
}

llmsvc_runtime *tu_open(const llmsvc_options *o)
{
    llmsvc_runtime *rt = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_runtime_open(&rt, o, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    llmsvc_error_free(err);
    ck_assert_ptr_nonnull(rt);
    return rt;
}

llmsvc_request *tu_request(const char *provider, const char *model, const char *prompt)
{
    llmsvc_request *r = NULL;
    ck_assert_int_eq(llmsvc_request_new(&r), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_provider(r, provider), LLMSVC_OK);
    ck_assert_int_eq(llmsvc_request_set_model(r, model), LLMSVC_OK);
    if (prompt)
        ck_assert_int_eq(llmsvc_request_set_prompt(r, prompt), LLMSVC_OK);
    return r;
}

/* ---- main ---- */

int tu_run_suite(Suite *s)
{
    /* Every temporary folder of the run lives under one root that this
     * process removes at the end: a test that fails or times out in its
     * forked child does not run its teardown, and must leave nothing behind. */
    const char *tmp = getenv("TMPDIR");
    char root[TU_PATH];
    snprintf(root, sizeof root, "%s/llmsvc-tests-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        fprintf(stderr, "cannot create a temporary folder %s: %s\n", root, strerror(errno));
        return EXIT_FAILURE;
    }
    char *old_tmpdir = tmp ? strdup(tmp) : NULL;
    setenv("TMPDIR", root, 1);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    tu_rm_rf(root);
    if (old_tmpdir)
        setenv("TMPDIR", old_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(old_tmpdir);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

TCase *tu_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 60);
    return tc;
}
