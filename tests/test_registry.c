/* test_registry — spec files merged into one registry: later folders override
 * earlier ones, aliases resolve, unknown names give NULL, and a bad file is
 * skipped while the good ones load (through a runtime, as a host sees it).
 *
 * Fixtures: tests/specs/override/{base,site,site_replacement}/acme.yaml and
 * tests/specs/mixed/ (one good file, two bad ones). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "runtime.h"
#include "testutil.h"

#define SPECS TEST_SRC_DIR "/specs"

static void teardown(void)
{
    tu_env_restore();
}

static void load_paths(registry *r, const char *const *paths, size_t n)
{
    registry_init(r);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(registry_add_path(r, paths[i], 0), 0);
    ck_assert_int_eq(registry_finish(r), 0);
}

static const spec_header *header(const provider_spec *p, const char *name)
{
    for (size_t i = 0; i < p->n_headers; i++) {
        if (strcmp(p->headers[i].name, name) == 0)
            return &p->headers[i];
    }
    return NULL;
}

/* ---- lookup ---- */

START_TEST(finds_models_by_name_and_by_alias)
{
    const char *paths[] = {SPECS "/override/base"};
    registry r;
    load_paths(&r, paths, 1);
    ck_assert_msg(r.probs.count == 0, "%s", buf_cstr(&r.probs.text));
    model_spec *large = registry_model(&r, "acme", "acme-large");
    ck_assert_ptr_nonnull(large);
    ck_assert_str_eq(large->name, "acme-large");
    ck_assert_ptr_eq(registry_model(&r, "acme", "acme-latest"), large);
    ck_assert_ptr_eq(registry_model(&r, "acme", "acme-small-2025"),
                     registry_model(&r, "acme", "acme-small"));
    ck_assert_ptr_eq(large->provider, registry_provider(&r, "acme"));
    ck_assert_int_eq(r.models, 2);
    ck_assert_int_eq(r.files, 1);
    registry_free(&r);
}
END_TEST

START_TEST(unknown_names_give_null)
{
    const char *paths[] = {SPECS "/override/base"};
    registry r;
    load_paths(&r, paths, 1);
    ck_assert_ptr_null(registry_model(&r, "acme", "acme-huge"));
    ck_assert_ptr_null(registry_model(&r, "acme", "ACME-LARGE")); /* names are exact */
    ck_assert_ptr_null(registry_model(&r, "acme", "acme-large "));
    ck_assert_ptr_null(registry_model(&r, "acme", ""));
    ck_assert_ptr_null(registry_model(&r, "nobody", "acme-large"));
    ck_assert_ptr_null(registry_provider(&r, "nobody"));
    ck_assert_ptr_null(registry_provider(&r, ""));
    /* a name longer than any key: NULL, not a crash */
    char longname[1024];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_ptr_null(registry_model(&r, "acme", longname));
    registry_free(&r);
}
END_TEST

/* ---- overriding ---- */

START_TEST(a_later_folder_overrides_a_model_of_the_same_provider_and_name)
{
    const char *paths[] = {SPECS "/override/base", SPECS "/override/site"};
    registry r;
    load_paths(&r, paths, 2);
    ck_assert_msg(r.probs.count == 0, "%s", buf_cstr(&r.probs.text));
    ck_assert_int_eq(r.n_providers, 1);
    provider_spec *p = registry_provider(&r, "acme");
    ck_assert_int_eq(p->n_models, 3);

    /* replaced whole: the site's limits, prices and capabilities, and no
       alias of the packaged entry */
    model_spec *small = registry_model(&r, "acme", "acme-small");
    ck_assert_ptr_nonnull(small);
    ck_assert(fabs(small->params[P_MAX_TOKENS].max - 8192) < 1e-9);
    ck_assert(fabs(small->price.input - 0.20) < 1e-12);
    ck_assert(fabs(small->price.output - 0.80) < 1e-12);
    ck_assert_uint_eq(small->caps, LLMSVC_CAP_STREAMING | LLMSVC_CAP_TOOLS);
    ck_assert_int_eq(small->n_aliases, 0);
    ck_assert_ptr_null(registry_model(&r, "acme", "acme-small-2025"));

    /* untouched and added models */
    model_spec *large = registry_model(&r, "acme", "acme-large");
    ck_assert(fabs(large->price.input - 2.50) < 1e-12);
    ck_assert_ptr_eq(registry_model(&r, "acme", "acme-latest"), large);
    ck_assert_ptr_nonnull(registry_model(&r, "acme", "acme-tiny"));
    ck_assert_int_eq(r.models, 3);
    registry_free(&r);
}
END_TEST

START_TEST(a_later_folder_overrides_provider_level_keys_it_sets)
{
    const char *paths[] = {SPECS "/override/base", SPECS "/override/site"};
    registry r;
    load_paths(&r, paths, 2);
    provider_spec *p = registry_provider(&r, "acme");
    ck_assert_str_eq(p->base_url, "https://gateway.internal.example/acme");
    ck_assert_str_eq(p->api_key_env, "ACME_API_KEY"); /* not set by site: kept */
    ck_assert_str_eq(header(p, "X-Title")->value, "site");
    ck_assert_ptr_nonnull(header(p, "X-Base-Only"));
    ck_assert_int_eq(p->n_headers, 2);
    registry_free(&r);
}
END_TEST

START_TEST(an_override_may_name_a_replacement_defined_in_an_earlier_file)
{
    /* README: "an operator copies one model entry into a file of their own
       folder and edits it" -- the copied entry's replacement lives in the
       packaged file */
    const char *paths[] = {SPECS "/override/base", SPECS "/override/site_replacement"};
    registry r;
    load_paths(&r, paths, 2);
    ck_assert_msg(r.probs.count == 0, "the override was refused:\n%s", buf_cstr(&r.probs.text));
    model_spec *small = registry_model(&r, "acme", "acme-small");
    ck_assert_ptr_nonnull(small);
    ck_assert_str_eq(small->replacement, "acme-large");
    ck_assert_str_eq(small->shutdown, "2099-01-01");
    registry_free(&r);
}
END_TEST

START_TEST(the_earlier_order_is_reversed_when_the_folders_are)
{
    const char *paths[] = {SPECS "/override/site", SPECS "/override/base"};
    registry r;
    load_paths(&r, paths, 2);
    provider_spec *p = registry_provider(&r, "acme");
    ck_assert_str_eq(p->base_url, "https://api.acme.example/v1");
    model_spec *small = registry_model(&r, "acme", "acme-small");
    ck_assert(fabs(small->price.input - 0.10) < 1e-12);
    ck_assert_ptr_eq(registry_model(&r, "acme", "acme-small-2025"), small);
    registry_free(&r);
}
END_TEST

/* ---- through a runtime: the folder order and bad files ---- */

static llmsvc_runtime *open_specs(const char *spec_path, unsigned flags, tu_log *log)
{
    llmsvc_options o;
    tu_options(&o, NULL, spec_path, log);
    o.flags = flags;
    return tu_open(&o);
}

START_TEST(spec_path_is_read_after_llmsvc_spec_path)
{
    tu_setenv("LLMSVC_SPEC_PATH", SPECS "/override/base");
    llmsvc_runtime *rt = open_specs(
        SPECS "/override/site", LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS, NULL);
    ck_assert_str_eq(registry_provider(&atomic_load(&rt->specs.current)->reg, "acme")->base_url,
                     "https://gateway.internal.example/acme");
    ck_assert_ptr_nonnull(registry_model(&atomic_load(&rt->specs.current)->reg, "acme", "acme-large")); /* from the env's */
    llmsvc_runtime_close(rt);

    /* NO_ENV: only the option's folder */
    rt = open_specs(SPECS "/override/site",
                    LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS,
                    NULL);
    ck_assert_ptr_null(registry_model(&atomic_load(&rt->specs.current)->reg, "acme", "acme-large"));
    ck_assert_ptr_nonnull(registry_model(&atomic_load(&rt->specs.current)->reg, "acme", "acme-tiny"));
    llmsvc_runtime_close(rt);
}
END_TEST

START_TEST(a_bad_file_is_skipped_while_the_good_ones_load)
{
    tu_log log;
    tu_log_init(&log);
    llmsvc_runtime *rt = open_specs(
        SPECS "/mixed",
        LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS, &log);
    ck_assert_ptr_nonnull(registry_model(&atomic_load(&rt->specs.current)->reg, "goodco", "good-1"));
    ck_assert_ptr_nonnull(registry_model(&atomic_load(&rt->specs.current)->reg, "goodco", "good"));
    ck_assert_ptr_null(registry_model(&atomic_load(&rt->specs.current)->reg, "goodco", "good-2")); /* c_bad.yaml */
    ck_assert_ptr_null(registry_provider(&atomic_load(&rt->specs.current)->reg, "badco"));         /* b_bad.yaml */

    const char *probs = llmsvc_runtime_spec_problems(rt);
    ck_assert_ptr_nonnull(probs);
    ck_assert_int_eq(tu_lines(probs), 3); /* one in b_bad, two in c_bad */
    tu_assert_has(probs, "/specs/mixed/b_bad.yaml:6:7: unknown key 'temprature'");
    tu_assert_has(probs, "/specs/mixed/c_bad.yaml:5:31: input_per_mtok 2.5e-06 looks like");
    tu_assert_has(probs, "/specs/mixed/c_bad.yaml:5:59: output_per_mtok 1e-05 looks like");
    char *text = tu_log_text(&log);
    tu_assert_has(text, "WARN spec problems (the files concerned were skipped):");
    tu_assert_has(text, "b_bad.yaml:6:7:");
    free(text);
    llmsvc_runtime_close(rt);
    tu_log_free(&log);
}
END_TEST

START_TEST(strict_specs_makes_open_fail_with_every_problem)
{
    llmsvc_options o;
    tu_options(&o, NULL, SPECS "/mixed", NULL);
    o.flags |= LLMSVC_OPT_STRICT_SPECS;
    llmsvc_runtime *rt = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_runtime_open(&rt, &o, &err), LLMSVC_E_CONFIG, err);
    ck_assert_ptr_null(rt);
    ck_assert_int_eq(tu_lines(llmsvc_error_message(err)), 3);
    tu_assert_has(llmsvc_error_message(err), "b_bad.yaml:6:7:");
    llmsvc_error_free(err);
}
END_TEST

START_TEST(a_good_folder_leaves_no_problems)
{
    llmsvc_runtime *rt = open_specs(
        SPECS "/override/base:" SPECS "/override/site",
        LLMSVC_OPT_NO_ENV | LLMSVC_OPT_NO_DEFAULT_PLUGINS | LLMSVC_OPT_NO_DEFAULT_SPECS, NULL);
    ck_assert_ptr_null(llmsvc_runtime_spec_problems(rt));
    llmsvc_runtime_close(rt);
}
END_TEST

START_TEST(an_alias_that_is_another_models_name_is_reported_and_the_name_wins)
{
    char dir[TU_PATH];
    tu_mkdtemp(dir);
    tu_write(NULL, dir, "a.yaml",
             "provider: acme\napi: mock\nmodels:\n  - name: acme-1\n    aliases: [acme-2]\n");
    tu_write(NULL, dir, "b.yaml", "provider: acme\napi: mock\nmodels:\n  - name: acme-2\n");
    const char *paths[] = {dir};
    registry r;
    load_paths(&r, paths, 1);
    ck_assert_int_eq(r.probs.count, 1);
    tu_assert_has(buf_cstr(&r.probs.text), "a.yaml:4:5: alias 'acme-2' of model 'acme-1'");
    tu_assert_has(buf_cstr(&r.probs.text), "is already taken by model 'acme-2'");
    tu_assert_has(buf_cstr(&r.probs.text), "; ignored");
    ck_assert_str_eq(registry_model(&r, "acme", "acme-2")->name, "acme-2");
    registry_free(&r);
    tu_rm_rf(dir);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tu_tcase("lookup");
    tcase_add_test(tc, finds_models_by_name_and_by_alias);
    tcase_add_test(tc, unknown_names_give_null);
    suite_add_tcase(s, tc);
    tc = tu_tcase("override");
    tcase_add_test(tc, a_later_folder_overrides_a_model_of_the_same_provider_and_name);
    tcase_add_test(tc, a_later_folder_overrides_provider_level_keys_it_sets);
    tcase_add_test(tc, an_override_may_name_a_replacement_defined_in_an_earlier_file);
    tcase_add_test(tc, the_earlier_order_is_reversed_when_the_folders_are);
    tcase_add_test(tc, an_alias_that_is_another_models_name_is_reported_and_the_name_wins);
    suite_add_tcase(s, tc);
    tc = tu_tcase("runtime");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, spec_path_is_read_after_llmsvc_spec_path);
    tcase_add_test(tc, a_bad_file_is_skipped_while_the_good_ones_load);
    tcase_add_test(tc, strict_specs_makes_open_fail_with_every_problem);
    tcase_add_test(tc, a_good_folder_leaves_no_problems);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(registry_suite());
}
