/* spare: the per-thread blocks calls reuse (response body, JSON document). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "spare.h"
#include "testutil.h"

START_TEST(a_block_given_back_is_the_next_one_taken)
{
    size_t cap;
    char *a = spare_take(SPARE_BODY, 4096, &cap);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_ge(cap, 4096);
    memset(a, 'x', cap); /* the whole capacity is the caller's */
    spare_give(SPARE_BODY, a, cap);
    size_t cap2;
    char *b = spare_take(SPARE_BODY, 100, &cap2);
    ck_assert_ptr_eq(b, a);
    ck_assert_uint_eq(cap2, cap);
    /* taken: the next take of that kind is a new block */
    size_t cap3;
    char *c = spare_take(SPARE_BODY, 100, &cap3);
    ck_assert_ptr_ne(c, b);
    free(c);
    spare_give(SPARE_BODY, b, cap2);
    spare_release_thread();
}
END_TEST

START_TEST(a_spare_too_small_is_not_handed_out_and_kinds_are_apart)
{
    size_t cap;
    char *small = spare_take(SPARE_JDOC, 64, &cap);
    spare_give(SPARE_JDOC, small, cap);
    size_t big_cap;
    char *big = spare_take(SPARE_JDOC, 64 * 1024, &big_cap);
    ck_assert_ptr_ne(big, small);
    ck_assert_uint_ge(big_cap, 64 * 1024);
    memset(big, 0, big_cap);
    size_t other;
    char *arena = spare_take(SPARE_ARENA, 16, &other);
    ck_assert_ptr_ne(arena, small); /* another kind's spare is not taken */
    free(arena);
    spare_give(SPARE_JDOC, big, big_cap); /* the larger of the two is kept */
    size_t again;
    char *kept = spare_take(SPARE_JDOC, 32 * 1024, &again);
    ck_assert_ptr_eq(kept, big);
    free(kept);
    spare_release_thread();
}
END_TEST

static void *other_thread(void *p)
{
    size_t cap;
    void *mine = spare_take(SPARE_BODY, 4096, &cap);
    spare_give(SPARE_BODY, mine, cap); /* freed when this thread exits */
    *(void **)p = mine;
    return NULL;
}

START_TEST(threads_keep_their_own_spares)
{
    size_t cap;
    char *here = spare_take(SPARE_BODY, 4096, &cap);
    spare_give(SPARE_BODY, here, cap);
    void *theirs = NULL;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, other_thread, &theirs), 0);
    pthread_join(th, NULL);
    ck_assert_ptr_ne(theirs, here);
    size_t cap2;
    ck_assert_ptr_eq(spare_take(SPARE_BODY, 4096, &cap2), here);
    free(here);
    spare_release_thread();
}
END_TEST

START_TEST(blocks_over_the_limit_are_not_kept)
{
    size_t cap;
    char *huge = spare_take(SPARE_BODY, SPARE_MAX_BYTES + 1, &cap);
    ck_assert_ptr_nonnull(huge);
    spare_give(SPARE_BODY, huge, cap); /* freed: valgrind and ASan would see a keep as a leak */
    size_t cap2;
    char *next = spare_take(SPARE_BODY, 16, &cap2);
    ck_assert_uint_lt(cap2, SPARE_MAX_BYTES); /* a fresh block of the size asked, not the huge one */
    free(next);
    spare_release_thread();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spare");
    TCase *tc = tu_tcase("blocks");
    tcase_add_test(tc, a_block_given_back_is_the_next_one_taken);
    tcase_add_test(tc, a_spare_too_small_is_not_handed_out_and_kinds_are_apart);
    tcase_add_test(tc, threads_keep_their_own_spares);
    tcase_add_test(tc, blocks_over_the_limit_are_not_kept);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
