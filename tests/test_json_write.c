/* Request bodies as text: json_write prints a json-c tree into a reused
 * buffer exactly as json-c would; jv values (host->jv_*, built in a request's
 * arena) print as the same JSON, merge and replace as json-c trees do, and
 * refuse what would corrupt a body. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "http.h"
#include "json_util.h"
#include "json_write.h"
#include "jv.h"
#include "testutil.h"

static void same_as_json_c(json_object *o, const char *expect)
{
    buf out = BUF_INIT;
    ck_assert_int_eq(json_write(&out, o), 0);
    const char *want =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    ck_assert_str_eq(buf_cstr(&out), want);
    if (expect)
        ck_assert_str_eq(buf_cstr(&out), expect);
    buf_free(&out);
}

START_TEST(every_kind_of_node_prints_as_json_c_prints_it)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string("gpt-6-luna"));
    json_object_object_add(o, "t\"ab\\", json_object_new_string("a\tb\nc\x01\x1f\x7f/\xc3\xa9\""));
    json_object_object_add(o, "n", json_object_new_int64(-42));
    json_object_object_add(o, "big", json_object_new_int64(INT64_MAX));
    json_object_object_add(o, "huge", json_object_new_uint64(UINT64_MAX));
    json_object_object_add(o, "temp", json_object_new_double(0.7));
    json_object_object_add(o, "kept", json_object_new_double_s(0.5, "0.50"));
    json_object_object_add(o, "yes", json_object_new_boolean(1));
    json_object_object_add(o, "no", json_object_new_boolean(0));
    json_object_object_add(o, "none", NULL);
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_object());
    json_object_array_add(a, json_object_new_array());
    json_object_array_add(a, NULL);
    const char *kept = "{\"kept\": [1,  2]}";
    json_object_array_add(a, ju_raw(kept, strlen(kept)));
    json_object_object_add(o, "list", a);
    same_as_json_c(o, NULL);
    json_object_put(o);
}
END_TEST

START_TEST(raw_text_is_copied_as_it_is)
{
    json_object *o = json_object_new_object();
    const char *state = "[{\"type\": \"reasoning\"}]";
    json_object_object_add(o, "state", ju_raw(state, strlen(state)));
    json_object_object_add(o, "input", json_object_new_string("hi"));
    same_as_json_c(o, "{\"state\":[{\"type\": \"reasoning\"}],\"input\":\"hi\"}");
    json_object_put(o);
}
END_TEST

START_TEST(the_buffer_is_appended_to_and_reused)
{
    buf out = BUF_INIT;
    json_object *s = json_object_new_string("x");
    ck_assert_int_eq(json_write(&out, s), 0);
    ck_assert_int_eq(json_write(&out, s), 0);
    ck_assert_str_eq(buf_cstr(&out), "\"x\"\"x\"");
    char *first = out.data;
    buf_clear(&out);
    ck_assert_int_eq(json_write(&out, s), 0);
    ck_assert_ptr_eq(out.data, first);
    ck_assert_str_eq(buf_cstr(&out), "\"x\"");
    json_object_put(s);
    buf_free(&out);
}
END_TEST


/* ---- jv ---- */

static char *jv_text(const llmsvc_jv *v)
{
    buf out = BUF_INIT;
    ck_assert_int_eq(jv_write(&out, v), 0);
    return buf_steal(&out);
}

#define ASSERT_JV(v, expect)                 \
    do {                                     \
        char *t_ = jv_text(v);               \
        ck_assert_str_eq(t_, (expect));      \
        free(t_);                            \
    } while (0)

static llmsvc_jv *jstr(jv_arena *a, const char *s)
{
    return jv_string(a, s, strlen(s));
}

START_TEST(jv_values_print_as_compact_json)
{
    jv_arena a;
    jv_arena_init(&a);
    llmsvc_jv *o = jv_object(&a), *l = jv_array(&a);
    ck_assert_int_eq(jv_put(o, "model", jstr(&a, "gpt-6-luna")), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "t\"ab\\", jstr(&a, "a\tb\nc\x01\x1f\x7f/\xc3\xa9\"")), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "n", jv_int(&a, -42)), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "big", jv_int(&a, INT64_MAX)), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "yes", jv_bool(&a, 7)), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "no", jv_bool(&a, 0)), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "none", jv_null(&a)), LLMSVC_OK);
    ck_assert_int_eq(jv_push(l, jv_object(&a)), LLMSVC_OK);
    ck_assert_int_eq(jv_push(l, jv_array(&a)), LLMSVC_OK);
    ck_assert_int_eq(jv_push(l, jv_raw(&a, "{\"kept\": [1,  2]}", 17)), LLMSVC_OK);
    ck_assert_int_eq(jv_push(l, jv_string(&a, "cut here", 3)), LLMSVC_OK);
    ck_assert_int_eq(jv_push(l, jv_string(&a, NULL, 5)), LLMSVC_OK);
    ck_assert_int_eq(jv_push(l, jv_raw(&a, NULL, 0)), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "list", l), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "", jstr(&a, "an empty key")), LLMSVC_OK);
    char *t = jv_text(o);
    ck_assert_str_eq(t, "{\"model\":\"gpt-6-luna\",\"t\\\"ab\\\\\":\"a\\tb\\nc\\u0001\\u001f\x7f/"
                        "\xc3\xa9\\\"\",\"n\":-42,\"big\":9223372036854775807,\"yes\":true,"
                        "\"no\":false,\"none\":null,"
                        "\"list\":[{},[],{\"kept\": [1,  2]},\"cut\",\"\",null],"
                        "\"\":\"an empty key\"}");
    /* json-c reads it back as the same document */
    json_object *back = json_tokener_parse(t);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(back, "t\"ab\\")),
                     "a\tb\nc\x01\x1f\x7f/\xc3\xa9\"");
    json_object_put(back);
    free(t);
    jv_arena_clear(&a);
}
END_TEST

START_TEST(jv_doubles_print_the_shortest_text_that_reads_back)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {{0.7, "0.7"},
                 {1.0, "1.0"},
                 {0.1 + 0.2, "0.30000000000000004"},
                 {2.0 / 3, "0.6666666666666666"},
                 {1e21, "1e+21"},
                 {-0.0, "-0.0"},
                 {100, "100.0"},
                 {1e-7, "1e-07"},
                 {1.7976931348623157e308, "1.7976931348623157e+308"}};
    jv_arena a;
    jv_arena_init(&a);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *t = jv_text(jv_double(&a, cases[i].v));
        ck_assert_msg(strcmp(t, cases[i].text) == 0, "%.17g printed as %s, not %s", cases[i].v, t,
                      cases[i].text);
        ck_assert(strtod(t, NULL) == cases[i].v);
        free(t);
    }
    ASSERT_JV(jv_double(&a, NAN), "null"); /* JSON has no text for them */
    ASSERT_JV(jv_double(&a, INFINITY), "null");
    jv_arena_clear(&a);
}
END_TEST

START_TEST(jv_put_replaces_where_the_member_stood_and_set_path_makes_objects)
{
    jv_arena a;
    jv_arena_init(&a);
    llmsvc_jv *o = jv_object(&a);
    jv_put(o, "a", jv_int(&a, 1));
    jv_put(o, "b", jv_int(&a, 2));
    jv_put(o, "c", jv_int(&a, 3));
    ck_assert_int_eq(jv_put(o, "b", jstr(&a, "two")), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "c", jv_int(&a, 30)), LLMSVC_OK); /* the last one */
    ASSERT_JV(o, "{\"a\":1,\"b\":\"two\",\"c\":30}");
    ck_assert_int_eq(jv_set_path(o, "reasoning.effort", jstr(&a, "high")), LLMSVC_OK);
    ck_assert_int_eq(jv_set_path(o, "reasoning.summary", jstr(&a, "auto")), LLMSVC_OK);
    ck_assert_int_eq(jv_set_path(o, "a.x.y", jv_bool(&a, 1)), LLMSVC_OK); /* 1 is replaced */
    ASSERT_JV(o, "{\"a\":{\"x\":{\"y\":true}},\"b\":\"two\",\"c\":30,"
                 "\"reasoning\":{\"effort\":\"high\",\"summary\":\"auto\"}}");
    ck_assert_int_eq(jv_set_path(o, "", jv_int(&a, 1)), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(jv_set_path(o, "a..b", jv_int(&a, 1)), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(jv_set_path(o, "a.", jv_int(&a, 1)), LLMSVC_E_INVALID_ARG);
    jv_arena_clear(&a);
}
END_TEST

START_TEST(jv_refuses_what_would_corrupt_a_body)
{
    jv_arena a;
    jv_arena_init(&a);
    llmsvc_jv *o = jv_object(&a), *l = jv_array(&a), *v = jv_int(&a, 1);
    ck_assert_int_eq(jv_put(o, "v", v), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "again", v), LLMSVC_E_INVALID_ARG); /* in a container already */
    ck_assert_int_eq(jv_push(l, v), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(jv_push(l, l), LLMSVC_E_INVALID_ARG);        /* into itself */
    ck_assert_int_eq(jv_put(l, "k", jv_int(&a, 2)), LLMSVC_E_INVALID_ARG); /* not an object */
    ck_assert_int_eq(jv_push(o, jv_int(&a, 2)), LLMSVC_E_INVALID_ARG);     /* not an array */
    ck_assert_int_eq(jv_set_path(l, "a.b", jv_int(&a, 2)), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(jv_put(o, NULL, jv_int(&a, 2)), LLMSVC_E_INVALID_ARG);
    /* a failed constructor (NULL) is out of memory, for a builder that checks once */
    ck_assert_int_eq(jv_put(o, "k", NULL), LLMSVC_E_NOMEM);
    ck_assert_int_eq(jv_put(NULL, "k", jv_int(&a, 2)), LLMSVC_E_NOMEM);
    ck_assert_int_eq(jv_push(NULL, jv_int(&a, 2)), LLMSVC_E_NOMEM);
    ck_assert_int_eq(jv_set_path(o, "a.b", NULL), LLMSVC_E_NOMEM);
    ck_assert_ptr_null(jv_param(&a, NULL));
    ASSERT_JV(o, "{\"v\":1}"); /* nothing of the refused steps */
    jv_arena_clear(&a);
}
END_TEST

START_TEST(jv_merge_merges_objects_and_replaces_everything_else)
{
    jv_arena a;
    jv_arena_init(&a);
    llmsvc_jv *o = jv_object(&a);
    jv_set_path(o, "reasoning.effort", jstr(&a, "high"));
    jv_put(o, "tools", jv_array(&a));
    jv_put(o, "temperature", jv_double(&a, 0.5));
    json_object *src = json_tokener_parse(
        "{\"reasoning\":{\"summary\":\"auto\"},\"tools\":{\"x\":1},\"temperature\":null,"
        "\"store\":false,\"n\":0.7,\"u\":18446744073709551615,\"i\":-3,"
        "\"l\":[1,\"two\",{\"three\":[]}],\"s\":\"\\u00e9\\n\"}");
    ck_assert_ptr_nonnull(src);
    ck_assert_int_eq(jv_merge(o, src), LLMSVC_OK);
    ASSERT_JV(o, "{\"reasoning\":{\"effort\":\"high\",\"summary\":\"auto\"},\"tools\":{\"x\":1},"
                 "\"temperature\":null,\"store\":false,\"n\":0.7,\"u\":18446744073709551615,"
                 "\"i\":-3,\"l\":[1,\"two\",{\"three\":[]}],\"s\":\"\xc3\xa9\\n\"}");
    /* the source is only read: merging it again changes nothing */
    ck_assert_int_eq(jv_merge(o, src), LLMSVC_OK);
    char *t = jv_text(o);
    ck_assert_ptr_nonnull(strstr(t, "\"summary\":\"auto\"}"));
    free(t);
    json_object *list = json_tokener_parse("[1]");
    ck_assert_int_eq(jv_merge(o, list), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(jv_merge(jv_array(&a), src), LLMSVC_E_INVALID_ARG);
    json_object_put(list);
    json_object_put(src);
    jv_arena_clear(&a);
}
END_TEST

START_TEST(jv_params_take_their_type)
{
    jv_arena a;
    jv_arena_init(&a);
    const char *stops[] = {"END", "\"q\""};
    llmsvc_param p[] = {
        {.name = "temperature", .type = LLMSVC_PARAM_FLOAT, .number = 0.2},
        {.name = "max_tokens", .type = LLMSVC_PARAM_INT, .number = 4096},
        {.name = "logprobs", .type = LLMSVC_PARAM_BOOL, .number = 1},
        {.name = "reasoning_effort", .type = LLMSVC_PARAM_ENUM, .string = "high"},
        {.name = "user", .type = LLMSVC_PARAM_STRING, .string = NULL},
        {.name = "stop", .type = LLMSVC_PARAM_STRING_LIST, .list = stops, .list_len = 2},
    };
    llmsvc_jv *l = jv_array(&a);
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        ck_assert_int_eq(jv_push(l, jv_param(&a, &p[i])), LLMSVC_OK);
    ASSERT_JV(l, "[0.2,4096,true,\"high\",\"\",[\"END\",\"\\\"q\\\"\"]]");
    jv_arena_clear(&a);
}
END_TEST

START_TEST(jv_bodies_larger_than_a_chunk_are_whole)
{
    jv_arena a;
    jv_arena_init(&a);
    size_t big = 300 * 1024; /* larger than a spare block is kept */
    char *text = malloc(big + 1);
    memset(text, 'x', big);
    text[big] = '\0';
    llmsvc_jv *o = jv_object(&a), *l = jv_array(&a);
    for (int i = 0; i < 2000; i++) /* many small values: chunk after chunk */
        ck_assert_int_eq(jv_push(l, jv_int(&a, i)), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "input", jv_string(&a, text, big)), LLMSVC_OK);
    ck_assert_int_eq(jv_put(o, "n", l), LLMSVC_OK);
    char *t = jv_text(o);
    /* the text's frame, the string, the digits of 0..1999 and their commas */
    ck_assert_uint_eq(strlen(t), strlen("{\"input\":\"\",\"n\":[]}") + big + 6890 + 1999);
    ck_assert_int_eq(strncmp(t + 10, text, big), 0);
    ck_assert_ptr_nonnull(strstr(t, ",1998,1999]}"));
    free(t);
    free(text);
    jv_arena_clear(&a);
    /* a cleared arena is empty and usable again */
    llmsvc_jv *v = jstr(&a, "again");
    ASSERT_JV(v, "\"again\"");
    jv_arena_clear(&a);
}
END_TEST

START_TEST(a_request_has_one_body_the_last_given)
{
    llmsvc_http_request req;
    http_request_init(&req);
    buf out = BUF_INIT;
    ck_assert_int_eq(http_write_body(&req, &out), 0); /* none: a GET */
    llmsvc_jv *body = http_jv_body(&req);
    ck_assert_int_eq(jv_put(body, "model", jstr(&req.jv, "m")), LLMSVC_OK);
    ck_assert_int_eq(http_write_body(&req, &out), 1);
    ck_assert_str_eq(buf_cstr(&out), "{\"model\":\"m\"}");
    json_object *jc = json_tokener_parse("{\"json\":\"c\"}");
    ck_assert_int_eq(http_set_json_body(&req, jc), LLMSVC_OK);
    buf_clear(&out);
    ck_assert_int_eq(http_write_body(&req, &out), 1);
    ck_assert_str_eq(buf_cstr(&out), "{\"json\":\"c\"}");
    body = http_jv_body(&req); /* and back: json-c's tree is freed */
    buf_clear(&out);
    ck_assert_int_eq(http_write_body(&req, &out), 1);
    ck_assert_str_eq(buf_cstr(&out), "{}");
    http_request_clear(&req);
    buf_clear(&out);
    ck_assert_int_eq(http_write_body(&req, &out), 0);
    buf_free(&out);
}
END_TEST

START_TEST(the_body_goes_into_no_container_so_no_loop_is_written)
{
    llmsvc_http_request req;
    http_request_init(&req);
    llmsvc_jv *body = http_jv_body(&req), *child = jv_object(&req.jv);
    ck_assert_int_eq(jv_put(body, "child", child), LLMSVC_OK);
    ck_assert_int_eq(jv_put(child, "loop", body), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(jv_push(jv_array(&req.jv), body), LLMSVC_E_INVALID_ARG);
    ck_assert_int_eq(jv_set_path(child, "a.b", body), LLMSVC_E_INVALID_ARG);
    buf out = BUF_INIT;
    ck_assert_int_eq(http_write_body(&req, &out), 1);
    ck_assert_str_eq(buf_cstr(&out), "{\"child\":{}}");
    buf_free(&out);
    http_request_clear(&req);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_write");
    TCase *tc = tu_tcase("print");
    tcase_add_test(tc, every_kind_of_node_prints_as_json_c_prints_it);
    tcase_add_test(tc, raw_text_is_copied_as_it_is);
    tcase_add_test(tc, the_buffer_is_appended_to_and_reused);
    suite_add_tcase(s, tc);
    tc = tu_tcase("jv");
    tcase_add_test(tc, jv_values_print_as_compact_json);
    tcase_add_test(tc, jv_doubles_print_the_shortest_text_that_reads_back);
    tcase_add_test(tc, jv_put_replaces_where_the_member_stood_and_set_path_makes_objects);
    tcase_add_test(tc, jv_refuses_what_would_corrupt_a_body);
    tcase_add_test(tc, jv_merge_merges_objects_and_replaces_everything_else);
    tcase_add_test(tc, jv_params_take_their_type);
    tcase_add_test(tc, jv_bodies_larger_than_a_chunk_are_whole);
    tcase_add_test(tc, a_request_has_one_body_the_last_given);
    tcase_add_test(tc, the_body_goes_into_no_container_so_no_loop_is_written);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
