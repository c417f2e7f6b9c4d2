/* json_write: request bodies printed into a reused buffer must be exactly the
 * text json-c prints, for every kind of node a plugin builds. */
#include <string.h>

#include <json-c/json.h>

#include "json_util.h"
#include "json_write.h"
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

int main(void)
{
    Suite *s = suite_create("json_write");
    TCase *tc = tu_tcase("print");
    tcase_add_test(tc, every_kind_of_node_prints_as_json_c_prints_it);
    tcase_add_test(tc, raw_text_is_copied_as_it_is);
    tcase_add_test(tc, the_buffer_is_appended_to_and_reused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
