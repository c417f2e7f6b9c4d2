/* test_spec_yaml — reading one spec file: everything the schema allows is
 * read into the provider_spec, and every malformed case is one
 * "file:line:col: message" line pointing at the offending text.
 *
 * Fixtures: tests/specs/valid/acme.yaml (every part of the schema) and
 * tests/specs/bad/ (a .yaml file per problem, except three_problems.yaml).
 * Positions are found in the fixture by the text they must point at, so the
 * tests read "the error points at `temprature`" rather than at numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "spec_yaml.h"
#include "testutil.h"

#define VALID TEST_SRC_DIR "/specs/valid/acme.yaml"
#define BAD TEST_SRC_DIR "/specs/bad/"

static provider_spec *parse_file(const char *path, problems *probs)
{
    char *text = tu_slurp(path);
    provider_spec *p = spec_parse(path, text, strlen(text), probs);
    free(text);
    return p;
}

static model_spec *model(provider_spec *p, const char *name)
{
    for (size_t i = 0; i < p->n_models; i++) {
        if (strcmp(p->models[i]->name, name) == 0)
            return p->models[i];
    }
    ck_abort_msg("no model %s", name);
    return NULL;
}

static const spec_header *header(provider_spec *p, const char *name)
{
    for (size_t i = 0; i < p->n_headers; i++) {
        if (strcmp(p->headers[i].name, name) == 0)
            return &p->headers[i];
    }
    ck_abort_msg("no header %s", name);
    return NULL;
}

#define assert_near(a, b)                                                                          \
    ck_assert_msg(fabs((double)(a) - (double)(b)) < 1e-12, "%s is %g, not %g", #a, (double)(a),    \
                  (double)(b))

/* ---- a valid file ---- */

START_TEST(reads_provider_level_keys_headers_and_options)
{
    problems probs = PROBLEMS_INIT;
    provider_spec *p = parse_file(VALID, &probs);
    ck_assert_msg(p != NULL, "valid spec refused:\n%s", buf_cstr(&probs.text));
    ck_assert_int_eq(probs.count, 0);
    ck_assert_str_eq(p->name, "acme");
    ck_assert_str_eq(p->api, "openai-responses");
    ck_assert_str_eq(p->base_url, "https://api.acme.example/v1"); /* trailing '/' dropped */
    ck_assert_str_eq(p->base_url_env, "ACME_BASE_URL");
    ck_assert_str_eq(p->api_key_env, "ACME_API_KEY");

    ck_assert_int_eq(p->n_headers, 4);
    const spec_header *h = header(p, "X-Title");
    ck_assert_str_eq(h->value, "llmsvc-tests");
    ck_assert_ptr_null(h->env);
    ck_assert_int_eq(h->secret, 0);
    h = header(p, "X-Org");
    ck_assert_ptr_null(h->value);
    ck_assert_str_eq(h->env, "ACME_ORG");
    h = header(p, "X-Gateway-Key");
    ck_assert_str_eq(h->env, "ACME_GATEWAY_KEY");
    ck_assert_int_eq(h->secret, 1);
    ck_assert_str_eq(header(p, "X-Plain")->value, "plain-value");

    ck_assert_int_eq(p->n_options, 2);
    ck_assert_str_eq(p->options[0].name, "store");
    ck_assert_str_eq(p->options[0].value, "false");
    ck_assert_str_eq(p->options[1].name, "truncation");
    ck_assert_str_eq(p->options[1].value, "auto");
    provider_spec_free(p);
    problems_free(&probs);
}
END_TEST

START_TEST(reads_models_aliases_capabilities_parameters_pricing_and_lifecycle)
{
    problems probs = PROBLEMS_INIT;
    provider_spec *p = parse_file(VALID, &probs);
    ck_assert_msg(p != NULL, "valid spec refused:\n%s", buf_cstr(&probs.text));
    ck_assert_int_eq(p->n_models, 3);
    ck_assert_str_eq(p->models[0]->name, "acme-large"); /* file order kept */
    ck_assert_str_eq(p->models[1]->name, "acme-small");
    ck_assert_str_eq(p->models[2]->name, "acme-free");

    model_spec *m = model(p, "acme-large");
    ck_assert_int_eq(m->n_aliases, 2);
    ck_assert_str_eq(m->aliases[0], "acme-large-2026-01-01");
    ck_assert_str_eq(m->aliases[1], "acme-latest");
    ck_assert_str_eq(m->description, "the big one");
    ck_assert_int_eq(m->context_window, 400000);
    ck_assert_int_eq(m->max_output_tokens, 64000);
    ck_assert_uint_eq(m->caps, LLMSVC_CAP_REASONING | LLMSVC_CAP_TOOLS | LLMSVC_CAP_FILE_SEARCH |
                                   LLMSVC_CAP_STREAMING | LLMSVC_CAP_VISION |
                                   LLMSVC_CAP_STRUCTURED_OUTPUT);
    /* every parameter type */
    const param_rule *r = &m->params[P_REASONING_EFFORT]; /* from the merged anchor */
    ck_assert(r->present);
    ck_assert_int_eq(r->type, LLMSVC_PARAM_ENUM);
    ck_assert_int_eq(r->n_values, 3);
    ck_assert_str_eq(r->values[2], "high");
    ck_assert(r->has_default);
    ck_assert_str_eq(r->def_string, "medium");
    ck_assert_ptr_nonnull(r->budgets);
    ck_assert_int_eq(r->budgets[0], 1024);
    ck_assert_int_eq(r->budgets[1], 4096);
    ck_assert_int_eq(r->budgets[2], 16384);
    r = &m->params[P_MAX_TOKENS];
    ck_assert_int_eq(r->type, LLMSVC_PARAM_INT);
    ck_assert(r->has_min && r->has_max);
    assert_near(r->min, 1);
    assert_near(r->max, 64000);
    ck_assert_str_eq(r->wire, "max_output_tokens");
    ck_assert_str_eq(m->params[P_TOP_K].wire, "generationConfig.topK");
    r = &m->params[P_TEMPERATURE];
    ck_assert_int_eq(r->type, LLMSVC_PARAM_FLOAT);
    ck_assert_int_eq(r->n_only_with, 1);
    ck_assert_int_eq(r->only_with[0].param, P_REASONING_EFFORT);
    ck_assert_int_eq(r->only_with[0].n_values, 1);
    ck_assert_str_eq(r->only_with[0].values[0], "low");
    ck_assert_int_eq(m->params[P_SEED].type, LLMSVC_PARAM_INT);
    ck_assert(!m->params[P_SEED].has_min);
    r = &m->params[P_STOP];
    ck_assert_int_eq(r->type, LLMSVC_PARAM_STRING_LIST);
    ck_assert_int_eq(r->def_list_len, 1);
    ck_assert_str_eq(r->def_list[0], "\n\n");
    assert_near(m->params[P_PRESENCE_PENALTY].min, -2);
    ck_assert(m->params[P_FREQUENCY_PENALTY].present);
    ck_assert(!m->params[P_TOP_P].present);
    ck_assert_uint_eq(m->param_mask, (1u << P_COUNT) - 1 - (1u << P_TOP_P));
    assert_near(m->price.input, 2.50);
    assert_near(m->price.cached_input, 0.25);
    assert_near(m->price.cache_write, 3.125);
    assert_near(m->price.output, 15);
    ck_assert_str_eq(m->deprecated, "");
    ck_assert_str_eq(m->shutdown, "");
    ck_assert_ptr_null(m->replacement);

    m = model(p, "acme-small");
    ck_assert_uint_eq(m->caps, LLMSVC_CAP_STREAMING);
    assert_near(m->price.input, 0.10);
    assert_near(m->price.output, 0.40);
    ck_assert(m->price.cached_input < 0); /* absent */
    ck_assert(m->price.cache_write < 0);
    ck_assert_str_eq(m->deprecated, "2026-01-15");
    ck_assert_str_eq(m->shutdown, "2099-02-28");
    ck_assert_str_eq(m->replacement, "acme-large");

    m = model(p, "acme-free");
    ck_assert_uint_eq(m->caps, 0);
    ck_assert(m->price.input < 0 && m->price.output < 0);
    ck_assert_uint_eq(m->param_mask, 0);
    provider_spec_free(p);
    problems_free(&probs);
}
END_TEST

START_TEST(merge_keys_bring_anchored_rules_and_keys_beside_them_win)
{
    problems probs = PROBLEMS_INIT;
    provider_spec *p = parse_file(VALID, &probs);
    ck_assert_msg(p != NULL, "valid spec refused:\n%s", buf_cstr(&probs.text));
    model_spec *m = model(p, "acme-small");
    const param_rule *t = &m->params[P_TEMPERATURE]; /* only from *sampling */
    ck_assert(t->present && t->has_default);
    assert_near(t->def_number, 1);
    assert_near(t->max, 2);
    const param_rule *tp = &m->params[P_TOP_P]; /* in *sampling and beside it */
    ck_assert(tp->present);
    assert_near(tp->min, 0.5);
    assert_near(tp->max, 1);
    assert_near(m->params[P_MAX_TOKENS].max, 4096);
    ck_assert_uint_eq(m->param_mask,
                      (1u << P_TEMPERATURE) | (1u << P_TOP_P) | (1u << P_MAX_TOKENS));
    provider_spec_free(p);
    problems_free(&probs);
}
END_TEST

START_TEST(the_valid_fixture_passes_specs_check_with_a_summary)
{
    const char *paths[] = {VALID};
    char *summary = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_specs_check(&summary, paths, 1, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    ck_assert_str_eq(summary, "1 file, 1 provider, 3 models: no problems");
    llmsvc_free(summary);
}
END_TEST

START_TEST(the_shipped_specs_folder_has_no_problems)
{
    const char *paths[] = {PROJECT_SRC_DIR "/specs"};
    char *summary = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_specs_check(&summary, paths, 1, &err);
    tu_assert_code(rc, LLMSVC_OK, err);
    tu_assert_has(summary, "no problems");
    tu_assert_has(summary, " providers, ");
    llmsvc_free(summary);
}
END_TEST

/* ---- one malformed case per file ---- */

typedef struct bad_case {
    const char *file;   /* in tests/specs/bad/ */
    const char *needle; /* the text the problem must point at */
    int nth;            /* which occurrence of it */
    const char *says[3];
} bad_case;

static const bad_case bad_cases[] = {
    {"syntax.yaml", ": 42", 1, {"mapping values are not allowed"}},
    {"unknown_top_key.yaml",
     "base_ulr",
     1,
     {"unknown key 'base_ulr' in a spec file", "did you mean 'base_url'?"}},
    {"unknown_model_key.yaml",
     "context_windows",
     1,
     {"unknown key 'context_windows' in a model", "did you mean 'context_window'?"}},
    {"param_typo.yaml",
     "temprature",
     1,
     {"unknown key 'temprature' in parameters", "did you mean 'temperature'?"}},
    {"wrong_type_number.yaml", "lots", 1, {"context_window must be a whole number", "'lots'"}},
    {"wrong_type_param.yaml",
     "{type: float",
     1,
     {"parameter 'max_tokens' has type int, not float"}},
    {"wrong_type_mapping.yaml", "[2.50", 1, {"pricing must be a mapping"}},
    {"min_above_max.yaml", "{type: float", 1, {"'temperature'", "min 2 above max 0"}},
    {"default_out_of_range.yaml",
     "{type: float",
     1,
     {"default 3 of 'temperature' is outside [0, 2]"}},
    {"enum_without_values.yaml", "{type: enum}", 1, {"enum parameter 'verbosity' needs values"}},
    /* points at the condition, on temperature's line, not at the first parameter */
    {"only_with_missing_param.yaml",
     "reasoning_effort",
     1,
     {"'temperature' is only_with 'reasoning_effort'", "model 'acme-1' does not take"}},
    {"per_token_price.yaml",
     "0.0000025",
     1,
     {"input_per_mtok 2.5e-06 looks like a price per token", "USD per 1M tokens",
      "did you mean 2.5?"}},
    {"negative_price.yaml",
     "-10.00",
     1,
     {"output_per_mtok -10 is not a plausible price", "USD per 1M tokens"}},
    {"bad_date.yaml", "2026-02-30", 1, {"shutdown must be a date YYYY-MM-DD", "'2026-02-30'"}},
    {"replacement_not_a_model.yaml",
     "name: acme-0",
     1,
     {"model 'acme-0' names replacement 'acme-2'", "not a model of 'acme'"}},
    {"duplicate_model.yaml",
     "name: acme-1",
     2,
     {"'acme-1' is already a name or alias of model 'acme-1'", "duplicate_model.yaml:4:5"}},
    {"duplicate_alias.yaml",
     "name: acme-2",
     1,
     {"'acme-latest' is already a name or alias of model 'acme-1'"}},
    {"duplicate_key.yaml", "context_window", 2, {"duplicate key 'context_window'"}},
};

#define N_BAD_CASES (sizeof bad_cases / sizeof *bad_cases)

START_TEST(each_malformed_file_gives_one_problem_at_file_line_col)
{
    const bad_case *c = &bad_cases[_i];
    char path[TU_PATH], where[TU_PATH + 64];
    snprintf(path, sizeof path, BAD "%s", c->file);
    tu_where(where, path, c->needle, c->nth);

    /* through the public linter */
    const char *paths[] = {path};
    char *summary = NULL;
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_specs_check(&summary, paths, 1, &err);
    ck_assert_msg(rc == LLMSVC_E_CONFIG, "%s: expected CONFIG, got %s", c->file,
                  llmsvc_code_name(rc));
    ck_assert_ptr_null(summary);
    const char *msg = llmsvc_error_message(err);
    ck_assert_msg(tu_lines(msg) == 1, "%s: expected one problem, got:\n%s", c->file, msg);
    ck_assert_msg(strncmp(msg, where, strlen(where)) == 0,
                  "%s: expected the problem at\n  %s\ngot\n  %s", c->file, where, msg);
    for (int k = 0; k < 3 && c->says[k]; k++)
        tu_assert_has(msg, c->says[k]);
    llmsvc_error_free(err);

    /* and the parser refuses the file as a whole -- except for a replacement,
       which another file of the provider may define (test_registry.c) */
    if (strcmp(c->file, "replacement_not_a_model.yaml") != 0) {
        problems probs = PROBLEMS_INIT;
        provider_spec *p = parse_file(path, &probs);
        ck_assert_ptr_null(p);
        ck_assert_int_eq(probs.count, 1);
        problems_free(&probs);
    }
}
END_TEST

START_TEST(every_problem_of_a_file_is_reported)
{
    const char *path = BAD "three_problems.yaml";
    problems probs = PROBLEMS_INIT;
    ck_assert_ptr_null(parse_file(path, &probs));
    ck_assert_int_eq(probs.count, 3);
    const char *text = buf_cstr(&probs.text);
    ck_assert_int_eq(tu_lines(text), 3);
    static const char *const at[][2] = {
        {"context_windows", "unknown key 'context_windows' in a model"},
        {"temprature", "did you mean 'temperature'?"},
        {"-1, output", "input_per_mtok -1 is not a plausible price"}};
    const char *line = text;
    for (size_t i = 0; i < 3; i++) {
        char where[TU_PATH + 64];
        tu_where(where, path, at[i][0], 1);
        ck_assert_msg(strncmp(line, where, strlen(where)) == 0, "line %zu: expected %s, got %s",
                      i + 1, where, line);
        const char *eol = strchr(line, '\n');
        char one[1024];
        snprintf(one, sizeof one, "%.*s", eol ? (int)(eol - line) : (int)strlen(line), line);
        tu_assert_has(one, at[i][1]);
        line = eol ? eol + 1 : line + strlen(line);
    }
    problems_free(&probs);
}
END_TEST

START_TEST(every_problem_of_every_file_of_a_folder_is_reported)
{
    const char *paths[] = {TEST_SRC_DIR "/specs/bad"};
    char *summary = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_specs_check(&summary, paths, 1, &err), LLMSVC_E_CONFIG, err);
    const char *msg = llmsvc_error_message(err);
    /* one line per single-problem file, three for three_problems.yaml */
    ck_assert_int_eq(tu_lines(msg), N_BAD_CASES + 3);
    for (size_t i = 0; i < N_BAD_CASES; i++) {
        char name[256];
        snprintf(name, sizeof name, "/specs/bad/%s:", bad_cases[i].file);
        ck_assert_msg(tu_count(msg, name) >= 1, "%s not reported in:\n%s", bad_cases[i].file, msg);
    }
    ck_assert_int_eq(tu_count(msg, "/specs/bad/three_problems.yaml:"), 3);
    llmsvc_error_free(err);
}
END_TEST

START_TEST(two_bad_files_given_together_are_both_reported)
{
    const char *paths[] = {BAD "param_typo.yaml", BAD "negative_price.yaml", VALID};
    char *summary = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_specs_check(&summary, paths, 3, &err), LLMSVC_E_CONFIG, err);
    const char *msg = llmsvc_error_message(err);
    ck_assert_int_eq(tu_lines(msg), 2);
    tu_assert_has(msg, "param_typo.yaml:7:7: unknown key 'temprature'");
    tu_assert_has(msg, "negative_price.yaml:7:24: output_per_mtok -10");
    tu_assert_lacks(msg, "acme.yaml");
    llmsvc_error_free(err);
}
END_TEST

START_TEST(a_missing_path_is_a_problem_for_specs_check)
{
    const char *paths[] = {TEST_SRC_DIR "/specs/no-such-folder"};
    char *summary = NULL;
    llmsvc_error *err = NULL;
    tu_assert_code(llmsvc_specs_check(&summary, paths, 1, &err), LLMSVC_E_CONFIG, err);
    tu_assert_has(llmsvc_error_message(err), "no-such-folder: no such file or folder");
    llmsvc_error_free(err);
}
END_TEST

START_TEST(an_empty_file_is_a_problem)
{
    problems probs = PROBLEMS_INIT;
    ck_assert_ptr_null(spec_parse("empty.yaml", "", 0, &probs));
    ck_assert_int_eq(probs.count, 1);
    tu_assert_has(buf_cstr(&probs.text), "empty.yaml: the file is empty");
    problems_free(&probs);
}
END_TEST

static Suite *spec_yaml_suite(void)
{
    Suite *s = suite_create("spec_yaml");
    TCase *tc = tu_tcase("valid");
    tcase_add_test(tc, reads_provider_level_keys_headers_and_options);
    tcase_add_test(tc, reads_models_aliases_capabilities_parameters_pricing_and_lifecycle);
    tcase_add_test(tc, merge_keys_bring_anchored_rules_and_keys_beside_them_win);
    tcase_add_test(tc, the_valid_fixture_passes_specs_check_with_a_summary);
    tcase_add_test(tc, the_shipped_specs_folder_has_no_problems);
    suite_add_tcase(s, tc);
    tc = tu_tcase("malformed");
    tcase_add_loop_test(tc, each_malformed_file_gives_one_problem_at_file_line_col, 0,
                        (int)N_BAD_CASES);
    tcase_add_test(tc, every_problem_of_a_file_is_reported);
    tcase_add_test(tc, every_problem_of_every_file_of_a_folder_is_reported);
    tcase_add_test(tc, two_bad_files_given_together_are_both_reported);
    tcase_add_test(tc, a_missing_path_is_a_problem_for_specs_check);
    tcase_add_test(tc, an_empty_file_is_a_problem);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(spec_yaml_suite());
}
