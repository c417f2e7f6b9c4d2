/* test_loader — the plugin loader, with real .so files built in the test tree
 * (tests/plugins/test_plugin.c) copied into private temporary folders, so that
 * each test decides the modes and owners the loader sees.
 *
 * Every refusal is checked the way a user meets it: the plugin's entry in
 * llmsvc_runtime_plugins_json (status and reason), the warning logged, and the
 * other plugins of the same folder still loading. */
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llmsvc/plugin.h"
#include "runtime.h"
#include "testutil.h"

#define LOADER_SPECS TEST_SRC_DIR "/specs/loader"

static char dir[TU_PATH], dir2[TU_PATH], dir3[TU_PATH];
static char default_dir[TU_PATH]; /* created by a test; removed in teardown */

static void setup(void)
{
    tu_mkdtemp(dir);
    tu_mkdtemp(dir2);
    tu_mkdtemp(dir3);
    default_dir[0] = '\0';
}

static void teardown(void)
{
    tu_rm_rf(dir);
    tu_rm_rf(dir2);
    tu_rm_rf(dir3);
    tu_rm_rf(default_dir);
    tu_env_restore();
}

/* ---- helpers ---- */

typedef struct loaded {
    llmsvc_runtime *rt;
    json_object *plugins; /* the parsed plugins_json array */
    tu_log log;
} loaded;

static void load(loaded *l, const char *plugin_path, unsigned flags)
{
    tu_log_init(&l->log);
    llmsvc_options o;
    tu_options(&o, plugin_path, LOADER_SPECS, &l->log);
    o.flags = flags | LLMSVC_OPT_NO_DEFAULT_SPECS;
    l->rt = tu_open(&o);
    char *js = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_runtime_plugins_json(&js, l->rt, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    l->plugins = json_tokener_parse(js);
    ck_assert_msg(l->plugins && json_object_is_type(l->plugins, json_type_array),
                  "plugins_json is not a JSON array: %s", js);
    llmsvc_free(js);
}

static void unload(loaded *l)
{
    json_object_put(l->plugins);
    llmsvc_runtime_close(l->rt);
    tu_log_free(&l->log);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        ck_abort_msg("plugin entry has no '%s': %s", key, json_object_to_json_string(o));
    return v ? json_object_get_string(v) : NULL;
}

/* The entry whose path is exactly path. */
static json_object *entry(const loaded *l, const char *path)
{
    for (size_t i = 0; i < json_object_array_length(l->plugins); i++) {
        json_object *e = json_object_array_get_idx(l->plugins, i);
        if (strcmp(jstr(e, "path"), path) == 0)
            return e;
    }
    ck_abort_msg("no plugin entry for %s in %s", path, json_object_to_json_string(l->plugins));
    return NULL;
}

static void assert_loaded(const loaded *l, const char *path, const char *protocol)
{
    json_object *e = entry(l, path);
    ck_assert_msg(strcmp(jstr(e, "status"), "loaded") == 0, "%s was refused: %s", path,
                  jstr(e, "reason") ? jstr(e, "reason") : "(no reason)");
    ck_assert_ptr_null(jstr(e, "reason"));
    json_object *protos;
    ck_assert(json_object_object_get_ex(e, "protocols", &protos));
    ck_assert_int_eq(json_object_array_length(protos), 1);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(protos, 0)), protocol);
}

/* Asserts the refusal and returns its reason (owned by l). */
static const char *assert_refused(const loaded *l, const char *path)
{
    json_object *e = entry(l, path);
    ck_assert_msg(strcmp(jstr(e, "status"), "refused") == 0, "%s was not refused", path);
    const char *reason = jstr(e, "reason");
    ck_assert_msg(reason && *reason, "%s refused without a reason", path);
    /* one clear reason: a single line */
    ck_assert_msg(!strchr(reason, '\n'), "reason spans lines: %s", reason);
    json_object *protos;
    ck_assert(json_object_object_get_ex(e, "protocols", &protos));
    ck_assert_int_eq(json_object_array_length(protos), 0);
    /* and the same reason reached the log as a warning naming the file */
    char want[TU_PATH * 2];
    snprintf(want, sizeof want, "WARN plugin %s: refused: %s", path, reason);
    char *log = tu_log_text((tu_log *)&l->log);
    tu_assert_has(log, want);
    free(log);
    return reason;
}

/* A call through provider/model must answer from the named test plugin. */
static void assert_answers(llmsvc_runtime *rt, const char *provider, const char *model,
                           const char *plugin_name)
{
    llmsvc_request *req = tu_request(provider, model, "ping");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_call(rt, req, &resp, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    char want[256];
    snprintf(want, sizeof want, "plugin=%s ", plugin_name);
    tu_assert_has(llmsvc_response_message(resp), want);
    tu_assert_has(llmsvc_response_message(resp), "prompt=ping");
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
}

static void pathcat(char out[TU_PATH], const char *d, const char *file)
{
    snprintf(out, TU_PATH, "%s/%s", d, file);
}

/* ---- a good plugin ---- */

START_TEST(loads_a_good_plugin_and_its_protocol_answers_calls)
{
    char good[TU_PATH];
    tu_install_plugin(good, dir, "good");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    ck_assert_int_eq(json_object_array_length(l.plugins), 1);
    assert_loaded(&l, good, "test-good");
    json_object *e = entry(&l, good);
    ck_assert_str_eq(jstr(e, "name"), "good");
    ck_assert_str_eq(jstr(e, "version"), "1.2.3");
    char abi[32];
    snprintf(abi, sizeof abi, "%d.%d", LLMSVC_PLUGIN_ABI_MAJOR, LLMSVC_PLUGIN_ABI_MINOR);
    ck_assert_str_eq(jstr(e, "abi"), abi);
    assert_answers(l.rt, "testprov", "t-1", "good");
    char *log = tu_log_text(&l.log);
    tu_assert_lacks(log, "WARN plugin");
    free(log);
    unload(&l);
}
END_TEST

/* ---- refusals, each beside a good plugin that still loads ---- */

START_TEST(refuses_a_text_file_named_so)
{
    char good[TU_PATH], text[TU_PATH];
    tu_install_plugin(good, dir, "good");
    tu_write(text, dir, "x.so", "this is not an ELF file\n");
    ck_assert_int_eq(chmod(text, 0755), 0);
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    tu_assert_has(assert_refused(&l, text), "not a loadable shared object");
    assert_loaded(&l, good, "test-good");
    assert_answers(l.rt, "testprov", "t-1", "good");
    unload(&l);
}
END_TEST

START_TEST(refuses_a_shared_object_without_the_llmsvc_plugin_symbol)
{
    char good[TU_PATH], bad[TU_PATH];
    tu_install_plugin(good, dir, "good");
    tu_install_plugin(bad, dir, "nosymbol");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    const char *why = assert_refused(&l, bad);
    tu_assert_has(why, "no 'llmsvc_plugin' symbol");
    tu_assert_has(why, "LLMSVC_PLUGIN_DEFINE");
    ck_assert_ptr_null(jstr(entry(&l, bad), "abi"));
    assert_loaded(&l, good, "test-good");
    unload(&l);
}
END_TEST

START_TEST(refuses_an_abi_major_mismatch_naming_both_versions)
{
    char good[TU_PATH], bad[TU_PATH];
    tu_install_plugin(good, dir, "good");
    tu_install_plugin(bad, dir, "abi99");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    const char *why = assert_refused(&l, bad);
    char theirs[32], ours[64];
    snprintf(theirs, sizeof theirs, "ABI 99.%d", LLMSVC_PLUGIN_ABI_MINOR);
    snprintf(ours, sizeof ours, "ABI %d.%d", LLMSVC_PLUGIN_ABI_MAJOR, LLMSVC_PLUGIN_ABI_MINOR);
    tu_assert_has(why, theirs);
    tu_assert_has(why, ours);
    tu_assert_has(why, "rebuild");
    ck_assert_str_eq(jstr(entry(&l, bad), "abi"), theirs + 4);
    assert_loaded(&l, good, "test-good");
    unload(&l);
}
END_TEST

START_TEST(refuses_a_plugin_built_for_a_newer_abi_minor)
{
    char good[TU_PATH], bad[TU_PATH];
    tu_install_plugin(good, dir, "good");
    tu_install_plugin(bad, dir, "newminor");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    const char *why = assert_refused(&l, bad);
    char theirs[32], ours[32];
    snprintf(theirs, sizeof theirs, "%d.%d", LLMSVC_PLUGIN_ABI_MAJOR, LLMSVC_PLUGIN_ABI_MINOR + 1);
    snprintf(ours, sizeof ours, "%d.%d", LLMSVC_PLUGIN_ABI_MAJOR, LLMSVC_PLUGIN_ABI_MINOR);
    tu_assert_has(why, theirs);
    tu_assert_has(why, ours);
    tu_assert_has(why, "newer");
    assert_loaded(&l, good, "test-good");
    unload(&l);
}
END_TEST

START_TEST(loads_a_plugin_built_for_an_older_abi_minor)
{
    /* ABI 1.1 added host functions at the table's end: a plugin built for 1.0
     * never reaches them, and keeps working */
    ck_assert_int_ge(LLMSVC_PLUGIN_ABI_MINOR, 1);
    char old[TU_PATH];
    tu_install_plugin(old, dir, "oldminor");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    assert_loaded(&l, old, "test-oldminor");
    char abi[32];
    snprintf(abi, sizeof abi, "%d.%d", LLMSVC_PLUGIN_ABI_MAJOR, LLMSVC_PLUGIN_ABI_MINOR - 1);
    ck_assert_str_eq(jstr(entry(&l, old), "abi"), abi);
    unload(&l);
}
END_TEST

START_TEST(refuses_the_second_plugin_registering_a_protocol_naming_the_first)
{
    char first[TU_PATH], second[TU_PATH], good[TU_PATH];
    tu_install_plugin(first, dir, "dup_first");
    tu_install_plugin(second, dir, "dup_second");
    tu_install_plugin(good, dir, "good");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    assert_loaded(&l, first, "test-dup");
    const char *why = assert_refused(&l, second);
    tu_assert_has(why, "'test-dup'");
    tu_assert_has(why, "already registered");
    tu_assert_has(why, first);
    assert_loaded(&l, good, "test-good");
    /* the protocol stays the first plugin's */
    assert_answers(l.rt, "dupprov", "d-1", "dup_first");
    unload(&l);
}
END_TEST

START_TEST(refuses_a_world_writable_plugin_file_and_says_how_to_fix_it)
{
    char bad[TU_PATH], other[TU_PATH];
    tu_install_plugin(bad, dir, "good");
    ck_assert_int_eq(chmod(bad, 0666), 0);
    tu_install_plugin(other, dir, "other");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    const char *why = assert_refused(&l, bad);
    tu_assert_has(why, bad);
    tu_assert_has(why, "writable by");
    tu_assert_has(why, "others");
    tu_assert_has(why, "0666");
    char fix[TU_PATH + 32];
    snprintf(fix, sizeof fix, "chmod go-w %s", bad);
    tu_assert_has(why, fix);
    assert_loaded(&l, other, "test-other");
    unload(&l);
}
END_TEST

START_TEST(refuses_every_plugin_of_a_group_writable_folder_naming_the_folder)
{
    char a[TU_PATH], b[TU_PATH], c[TU_PATH];
    tu_install_plugin(a, dir, "good");
    tu_install_plugin(b, dir, "other");
    ck_assert_int_eq(chmod(dir, 0770), 0);
    tu_install_plugin(c, dir2, "probe"); /* a safe folder beside it */
    char path[2 * TU_PATH + 2];
    snprintf(path, sizeof path, "%s:%s", dir, dir2);
    loaded l;
    load(&l, path, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    char folder[TU_PATH + 16];
    snprintf(folder, sizeof folder, "folder %s ", dir);
    const char *why_a = assert_refused(&l, a);
    tu_assert_has(why_a, folder);
    tu_assert_has(why_a, "writable by group");
    tu_assert_has(why_a, "chmod go-w");
    ck_assert_str_eq(assert_refused(&l, b), why_a);
    assert_loaded(&l, c, "test-probe");
    unload(&l);
    chmod(dir, 0700);
}
END_TEST

START_TEST(refuses_a_plugin_owned_by_another_user)
{
    ck_assert_msg(geteuid() == 0,
                  "this test gives a file to another user with chown, which needs root "
                  "(CI runs the suite as root)");
    char bad[TU_PATH], other[TU_PATH];
    tu_install_plugin(bad, dir, "good");
    ck_assert_int_eq(chown(bad, 65534, 65534), 0);
    tu_install_plugin(other, dir, "other");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    const char *why = assert_refused(&l, bad);
    tu_assert_has(why, bad);
    tu_assert_has(why, "owned by uid 65534");
    tu_assert_has(why, "neither you");
    assert_loaded(&l, other, "test-other");
    unload(&l);
}
END_TEST

START_TEST(refuses_a_plugin_whose_init_fails_with_the_plugins_reason)
{
    char bad[TU_PATH], badops[TU_PATH], nothing[TU_PATH], good[TU_PATH];
    tu_install_plugin(bad, dir, "initfails");
    tu_install_plugin(badops, dir, "opsinitfails");
    tu_install_plugin(nothing, dir, "registersnothing");
    tu_install_plugin(good, dir, "good");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    const char *why = assert_refused(&l, bad);
    tu_assert_has(why, "init failed");
    tu_assert_has(why, "test plugin refuses to start on purpose");
    why = assert_refused(&l, badops);
    tu_assert_has(why, "'test-opsinit'");
    tu_assert_has(why, "no licence file for the test protocol");
    why = assert_refused(&l, nothing);
    tu_assert_has(why, "registered no protocol");
    assert_loaded(&l, good, "test-good");
    assert_answers(l.rt, "testprov", "t-1", "good");
    unload(&l);
}
END_TEST

START_TEST(a_refused_plugins_protocol_is_unsupported_naming_what_loaded)
{
    char good[TU_PATH];
    tu_install_plugin(good, dir, "good");
    ck_assert_int_eq(chmod(good, 0666), 0);
    tu_install_plugin(NULL, dir, "other");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    llmsvc_request *req = tu_request("testprov", "t-1", "ping");
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_call(l.rt, req, &resp, &err), LLMSVC_E_UNSUPPORTED_PROVIDER, err);
    ck_assert_ptr_null(resp);
    tu_assert_has(llmsvc_error_message(err), "'test-good'");
    tu_assert_has(llmsvc_error_message(err), "test-other");
    tu_assert_has(llmsvc_error_message(err), "llmsvc plugins");
    llmsvc_error_free(err);
    llmsvc_request_free(req);
    unload(&l);
}
END_TEST

/* ---- folders and their order ---- */

/* The default plugin folder of this test binary (<its folder>/llmsvc/plugins),
 * created with a plugin in it. Refuses to touch anything outside the build. */
static void make_default_folder(const char *plugin)
{
    const char *defp;
    rt_default_dirs(&defp, NULL, NULL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    const char *bindir = dirname(exe);
    char want[TU_PATH];
    snprintf(want, sizeof want, "%s/llmsvc/plugins", bindir);
    ck_assert_msg(strcmp(defp, want) == 0,
                  "the default plugin folder is %s, not %s beside the test binary; not touching it",
                  defp, want);
    snprintf(default_dir, sizeof default_dir, "%s/llmsvc", bindir);
    tu_rm_rf(default_dir);
    ck_assert_int_eq(mkdir(default_dir, 0755), 0);
    ck_assert_int_eq(chmod(default_dir, 0755), 0);
    ck_assert_int_eq(mkdir(defp, 0755), 0);
    ck_assert_int_eq(chmod(defp, 0755), 0);
    tu_install_plugin(NULL, defp, plugin);
}

static size_t index_of(const loaded *l, const char *path)
{
    for (size_t i = 0; i < json_object_array_length(l->plugins); i++) {
        if (strcmp(jstr(json_object_array_get_idx(l->plugins, i), "path"), path) == 0)
            return i;
    }
    return (size_t)-1;
}

START_TEST(searches_the_option_folders_then_the_environment_then_the_default)
{
    /* the same protocol in each place: the first folder searched wins it */
    char opt1[TU_PATH], opt2[TU_PATH], env[TU_PATH], def[TU_PATH];
    tu_install_plugin(opt1, dir, "dup_second");
    tu_install_plugin(opt2, dir2, "good");
    tu_install_plugin(env, dir3, "dup_first");
    make_default_folder("probe");
    const char *defp;
    rt_default_dirs(&defp, NULL, NULL);
    pathcat(def, defp, "probe.so");
    tu_setenv("LLMSVC_PLUGIN_PATH", dir3);
    char path[2 * TU_PATH + 2];
    snprintf(path, sizeof path, "%s:%s", dir, dir2);
    loaded l;
    load(&l, path, 0);
    ck_assert_int_eq(json_object_array_length(l.plugins), 4);
    ck_assert_int_eq(index_of(&l, opt1), 0);
    ck_assert_int_eq(index_of(&l, opt2), 1);
    ck_assert_int_eq(index_of(&l, env), 2);
    ck_assert_int_eq(index_of(&l, def), 3);
    assert_loaded(&l, opt1, "test-dup");
    assert_loaded(&l, opt2, "test-good");
    tu_assert_has(assert_refused(&l, env), opt1);
    assert_loaded(&l, def, "test-probe");
    assert_answers(l.rt, "dupprov", "d-1", "dup_second");
    unload(&l);
}
END_TEST

START_TEST(no_default_plugins_skips_the_default_folder)
{
    char opt[TU_PATH];
    tu_install_plugin(opt, dir, "good");
    make_default_folder("probe");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    ck_assert_int_eq(json_object_array_length(l.plugins), 1);
    assert_loaded(&l, opt, "test-good");
    unload(&l);

    load(&l, dir, LLMSVC_OPT_NO_ENV);
    ck_assert_int_eq(json_object_array_length(l.plugins), 2);
    unload(&l);
}
END_TEST

START_TEST(no_env_ignores_llmsvc_plugin_path)
{
    char env[TU_PATH];
    tu_install_plugin(env, dir, "good");
    tu_setenv("LLMSVC_PLUGIN_PATH", dir);
    loaded l;
    load(&l, NULL, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    ck_assert_int_eq(json_object_array_length(l.plugins), 0);
    unload(&l);

    load(&l, NULL, LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    ck_assert_int_eq(json_object_array_length(l.plugins), 1);
    assert_loaded(&l, env, "test-good");
    unload(&l);
}
END_TEST

START_TEST(reports_a_named_plugin_folder_that_does_not_exist)
{
    char missing[TU_PATH];
    pathcat(missing, dir, "no-such-folder");
    tu_install_plugin(NULL, dir2, "good");
    char path[2 * TU_PATH + 2];
    snprintf(path, sizeof path, "%s:%s", missing, dir2);
    loaded l;
    load(&l, path, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    tu_assert_has(assert_refused(&l, missing), "no such plugin folder");
    char good[TU_PATH];
    pathcat(good, dir2, "good.so");
    assert_loaded(&l, good, "test-good");
    unload(&l);
}
END_TEST

START_TEST(plugins_json_lists_every_file_with_status_and_reason)
{
    char good[TU_PATH], text[TU_PATH], abi[TU_PATH];
    tu_install_plugin(good, dir, "good");
    tu_install_plugin(abi, dir, "abi99");
    tu_write(text, dir, "x.so", "#!/bin/sh\n");
    tu_write(NULL, dir, "README.txt", "not a .so: never tried\n");
    loaded l;
    load(&l, dir, LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS);
    /* sorted by file name, each file once, nothing else */
    ck_assert_int_eq(json_object_array_length(l.plugins), 3);
    ck_assert_int_eq(index_of(&l, abi), 0);
    ck_assert_int_eq(index_of(&l, good), 1);
    ck_assert_int_eq(index_of(&l, text), 2);
    static const char *const keys[] = {"path", "status",    "name",  "version",
                                       "abi",  "protocols", "reason"};
    for (size_t i = 0; i < 3; i++) {
        json_object *e = json_object_array_get_idx(l.plugins, i), *v;
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            ck_assert_msg(json_object_object_get_ex(e, keys[k], &v), "entry %zu lacks '%s'", i,
                          keys[k]);
    }
    assert_loaded(&l, good, "test-good");
    tu_assert_has(assert_refused(&l, abi), "99");
    tu_assert_has(assert_refused(&l, text), "not a loadable shared object");
    /* a descriptor of another ABI major is read no further than its version */
    ck_assert_ptr_null(jstr(entry(&l, abi), "name"));
    char abi99[32];
    snprintf(abi99, sizeof abi99, "99.%d", LLMSVC_PLUGIN_ABI_MINOR);
    ck_assert_str_eq(jstr(entry(&l, abi), "abi"), abi99);
    ck_assert_ptr_null(jstr(entry(&l, text), "name"));
    /* one log line per file */
    char *log = tu_log_text(&l.log);
    char prefix[TU_PATH + 16];
    snprintf(prefix, sizeof prefix, " plugin %s/", dir);
    ck_assert_int_eq(tu_count(log, prefix), 3);
    free(log);
    unload(&l);
}
END_TEST

static Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tu_tcase("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, loads_a_good_plugin_and_its_protocol_answers_calls);
    tcase_add_test(tc, refuses_a_text_file_named_so);
    tcase_add_test(tc, refuses_a_shared_object_without_the_llmsvc_plugin_symbol);
    tcase_add_test(tc, refuses_an_abi_major_mismatch_naming_both_versions);
    tcase_add_test(tc, refuses_a_plugin_built_for_a_newer_abi_minor);
    tcase_add_test(tc, loads_a_plugin_built_for_an_older_abi_minor);
    tcase_add_test(tc, refuses_the_second_plugin_registering_a_protocol_naming_the_first);
    tcase_add_test(tc, refuses_a_world_writable_plugin_file_and_says_how_to_fix_it);
    tcase_add_test(tc, refuses_every_plugin_of_a_group_writable_folder_naming_the_folder);
    tcase_add_test(tc, refuses_a_plugin_owned_by_another_user);
    tcase_add_test(tc, refuses_a_plugin_whose_init_fails_with_the_plugins_reason);
    tcase_add_test(tc, a_refused_plugins_protocol_is_unsupported_naming_what_loaded);
    tcase_add_test(tc, searches_the_option_folders_then_the_environment_then_the_default);
    tcase_add_test(tc, no_default_plugins_skips_the_default_folder);
    tcase_add_test(tc, no_env_ignores_llmsvc_plugin_path);
    tcase_add_test(tc, reports_a_named_plugin_folder_that_does_not_exist);
    tcase_add_test(tc, plugins_json_lists_every_file_with_status_and_reason);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rc = tu_run_suite(loader_suite());
    /* the default folder a failed test may have left beside the binary */
    const char *defp;
    rt_default_dirs(&defp, NULL, NULL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char mine[TU_PATH];
        snprintf(mine, sizeof mine, "%s/llmsvc", dirname(exe));
        if (strncmp(defp, mine, strlen(mine)) == 0)
            tu_rm_rf(mine);
    }
    return rc;
}
