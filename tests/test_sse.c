/* test_sse — the incremental server-sent-events parser: events split at any
 * byte, multi-line data, comments, CRLF / LF / CR, ids, a last event without
 * its blank line, the size cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "testutil.h"

typedef struct got {
    char text[8192]; /* "event|data|id;" per event */
    int n;
    int stop_at;     /* stop after this many events (0: never) */
} got;

static int collect(void *user, const llmsvc_sse_event *ev)
{
    got *g = user;
    size_t used = strlen(g->text);
    snprintf(g->text + used, sizeof g->text - used, "%s|%s|%s;", ev->event, ev->data, ev->id);
    ck_assert_uint_eq(ev->data_len, strlen(ev->data));
    g->n++;
    return g->stop_at && g->n >= g->stop_at;
}

/* Parses text fed in pieces of `step` bytes (0: whole). */
static void parse(const char *text, size_t step, got *g)
{
    memset(g, 0, sizeof *g);
    sse_parser p;
    sse_init(&p, 1 << 20, collect, g);
    size_t n = strlen(text);
    if (!step)
        step = n ? n : 1;
    for (size_t i = 0; i < n; i += step)
        ck_assert_int_eq(sse_feed(&p, text + i, i + step > n ? n - i : step), 0);
    ck_assert_int_eq(sse_finish(&p), 0);
    sse_free(&p);
}

static const char stream[] =
    ": a comment, then a keep-alive\n"
    "\n"
    "event: message_start\n"
    "data: {\"a\":1}\n"
    "\n"
    "data: line one\n"
    "data: line two\n"
    "id: 7\n"
    "\n"
    "event: ping\n"
    "data:no-space\n"
    "retry: 100\n"
    "unknown: field\n"
    "\n"
    "data: [DONE]\n"
    "\n";

static const char expect[] =
    "message_start|{\"a\":1}|;|line one\nline two|7;ping|no-space|7;|[DONE]|7;";

START_TEST(events_come_out_the_same_whatever_the_byte_splits)
{
    got g;
    for (size_t step = 0; step <= 7; step++) {
        parse(stream, step, &g);
        ck_assert_msg(strcmp(g.text, expect) == 0, "step %zu: %s", step, g.text);
    }
}
END_TEST

START_TEST(crlf_and_cr_line_ends_work_even_split_between_cr_and_lf)
{
    got g;
    const char crlf[] = "event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n";
    const char cr[] = "event: a\rdata: 1\r\rdata: 2\r\r";
    for (size_t step = 0; step <= 3; step++) {
        parse(crlf, step, &g);
        ck_assert_str_eq(g.text, "a|1|;|2|;");
        parse(cr, step, &g);
        ck_assert_str_eq(g.text, "a|1|;|2|;");
    }
}
END_TEST

START_TEST(a_last_event_without_its_blank_line_is_still_delivered)
{
    got g;
    parse("data: {\"done\":true}", 0, &g);
    ck_assert_str_eq(g.text, "|{\"done\":true}|;");
    parse("data: x\n", 1, &g);
    ck_assert_str_eq(g.text, "|x|;");
}
END_TEST

START_TEST(empty_data_and_blank_runs_dispatch_nothing_extra)
{
    got g;
    parse("\n\n\n: c\n\ndata:\n\n", 0, &g);
    ck_assert_int_eq(g.n, 1); /* one event with empty data */
    ck_assert_str_eq(g.text, "||;");
}
END_TEST

START_TEST(the_callback_stops_the_parser)
{
    got g = {{0}, 0, 1};
    sse_parser p;
    sse_init(&p, 1 << 20, collect, &g);
    const char two[] = "data: 1\n\ndata: 2\n\n";
    ck_assert_int_ne(sse_feed(&p, two, strlen(two)), 0);
    ck_assert_int_eq(g.n, 1);
    sse_free(&p);
}
END_TEST

START_TEST(an_event_beyond_the_cap_fails_without_growing)
{
    got g = {{0}, 0, 0};
    sse_parser p;
    sse_init(&p, 64, collect, &g);
    char big[256];
    memset(big, 'x', sizeof big);
    memcpy(big, "data: ", 6);
    ck_assert_int_eq(sse_feed(&p, big, sizeof big), -1);
    sse_free(&p);
    /* split across feeds too */
    sse_init(&p, 64, collect, &g);
    int rc = 0;
    for (size_t i = 0; i < sizeof big && rc == 0; i += 10)
        rc = sse_feed(&p, big + i, 10);
    ck_assert_int_eq(rc, -1);
    sse_free(&p);
}
END_TEST

static Suite *sse_suite(void)
{
    Suite *s = suite_create("sse");
    TCase *tc = tu_tcase("parse");
    tcase_add_test(tc, events_come_out_the_same_whatever_the_byte_splits);
    tcase_add_test(tc, crlf_and_cr_line_ends_work_even_split_between_cr_and_lf);
    tcase_add_test(tc, a_last_event_without_its_blank_line_is_still_delivered);
    tcase_add_test(tc, empty_data_and_blank_runs_dispatch_nothing_extra);
    tcase_add_test(tc, the_callback_stops_the_parser);
    tcase_add_test(tc, an_event_beyond_the_cap_fails_without_growing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(sse_suite());
}
