/*
 * Unit tests of the linearizability checker (tests/lin/lin.c) and its
 * history parser, on small hand-made histories: clearly linearizable ones,
 * concurrent operations valid in either order, and the classic anomalies it
 * must catch (a stale read after a completed write, a lost write, a CAS that
 * succeeded twice), plus operations with unknown outcomes that take effect
 * late or never, and the search bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/lin/lin.h"
#include "tests/lin/lin_history.h"

#define U LIN_TIME_UNKNOWN

static int setup(void **state)
{
    struct lin_history *h = malloc(sizeof *h);
    if (h == NULL) {
        return -1;
    }
    lin_history_init(h);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    lin_history_free(*state);
    free(*state);
    return 0;
}

static void put(struct lin_history *h, uint32_t p, uint64_t c, uint64_t r,
                const char *k, const char *v)
{
    assert_int_equal(lin_history_add(h, p, c, r, LIN_PUT,
                                     r == U ? LIN_UNKNOWN : LIN_OK, k, v, NULL,
                                     NULL),
                     ERR_OK);
}

static void del(struct lin_history *h, uint32_t p, uint64_t c, uint64_t r,
                const char *k)
{
    assert_int_equal(lin_history_add(h, p, c, r, LIN_DEL,
                                     r == U ? LIN_UNKNOWN : LIN_OK, k, NULL,
                                     NULL, NULL),
                     ERR_OK);
}

/* A get that read v (NULL: absent). */
static void get(struct lin_history *h, uint32_t p, uint64_t c, uint64_t r,
                const char *k, const char *v)
{
    assert_int_equal(lin_history_add(h, p, c, r, LIN_GET,
                                     v != NULL ? LIN_OK : LIN_ABSENT, k, NULL,
                                     NULL, v),
                     ERR_OK);
}

static void cas(struct lin_history *h, uint32_t p, uint64_t c, uint64_t r,
                const char *k, const char *old, const char *new, int outcome)
{
    assert_int_equal(
        lin_history_add(h, p, c, r, LIN_CAS, outcome, k, new, old, NULL),
        ERR_OK);
}

static int check(const struct lin_history *h)
{
    struct lin_report rep;
    assert_int_equal(lin_check(h, NULL, &rep), ERR_OK);
    int v = rep.verdict;
    lin_report_free(&rep);
    return v;
}

/* Sequential put/get/cas/del on two keys: the plain register semantics. */
static void test_lin_sequential_history_is_linearizable(void **state)
{
    struct lin_history *h = *state;
    get(h, 1, 0, 1, "a", NULL);
    put(h, 1, 2, 3, "a", "x");
    get(h, 1, 4, 5, "a", "x");
    cas(h, 1, 6, 7, "a", "x", "y", LIN_OK);
    cas(h, 1, 8, 9, "a", "x", "z", LIN_FAIL);
    get(h, 1, 10, 11, "a", "y");
    put(h, 2, 0, 20, "b", "q");
    del(h, 1, 12, 13, "a");
    get(h, 1, 14, 15, "a", NULL);
    cas(h, 1, 16, 17, "a", "y", "w", LIN_FAIL);
    get(h, 1, 21, 22, "b", "q");
    assert_int_equal(check(h), LIN_LINEARIZABLE);
}

/* A read that starts after a write completed must not see the older value
 * (real-time order is part of linearizability). */
static void test_lin_stale_read_after_completed_write_fails(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "old");
    put(h, 1, 20, 30, "k", "new");
    get(h, 2, 40, 50, "k", "old");
    assert_int_equal(check(h), LIN_VIOLATION);
}

/* The same read overlapping the second write may see either value. */
static void test_lin_read_concurrent_with_write_may_see_either(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "old");
    put(h, 1, 20, 60, "k", "new");
    get(h, 2, 30, 40, "k", "old");
    get(h, 3, 35, 45, "k", "new");
    get(h, 4, 70, 80, "k", "new");
    assert_int_equal(check(h), LIN_LINEARIZABLE);
}

/* But once one overlapping reader saw the new value, a reader starting
 * after that read returned cannot go back to the old one. */
static void test_lin_new_then_old_read_fails(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "old");
    put(h, 1, 20, 100, "k", "new");
    get(h, 2, 30, 40, "k", "new");
    get(h, 3, 50, 60, "k", "old");
    assert_int_equal(check(h), LIN_VIOLATION);
}

/* An acknowledged write that no later read sees: lost. */
static void test_lin_lost_write_fails(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "a");
    put(h, 2, 20, 30, "k", "b");
    get(h, 3, 40, 50, "k", "a");
    get(h, 3, 60, 70, "k", "a");
    assert_int_equal(check(h), LIN_VIOLATION);
}

/* A write acknowledged, then the key reads absent: lost as well. */
static void test_lin_lost_write_to_absent_fails(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "a");
    get(h, 2, 20, 30, "k", NULL);
    assert_int_equal(check(h), LIN_VIOLATION);
}

/* Two CAS from the same expected value cannot both succeed, even when they
 * overlap. */
static void test_lin_cas_succeeding_twice_fails(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "x");
    cas(h, 2, 20, 50, "k", "x", "y", LIN_OK);
    cas(h, 3, 25, 55, "k", "x", "z", LIN_OK);
    assert_int_equal(check(h), LIN_VIOLATION);
}

/* Overlapping CAS, one wins and one fails: either order works. */
static void test_lin_overlapping_cas_one_wins(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "x");
    cas(h, 2, 20, 50, "k", "x", "y", LIN_FAIL);
    cas(h, 3, 25, 55, "k", "x", "z", LIN_OK);
    get(h, 1, 60, 70, "k", "z");
    assert_int_equal(check(h), LIN_LINEARIZABLE);
}

/* A CAS that fails although nothing could have changed the value. */
static void test_lin_cas_failing_on_matching_value_fails(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "x");
    cas(h, 2, 20, 30, "k", "x", "y", LIN_FAIL);
    assert_int_equal(check(h), LIN_VIOLATION);
}

/* A write whose client timed out shows up long after its call, after
 * other completed operations: it may take effect late. */
static void test_lin_unknown_write_taking_effect_late_passes(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, U, "k", "late");
    put(h, 2, 10, 20, "k", "a");
    get(h, 2, 30, 40, "k", "a");
    get(h, 3, 1000, 1010, "k", "late");
    get(h, 3, 1020, 1030, "k", "late");
    assert_int_equal(check(h), LIN_LINEARIZABLE);
}

/* An unknown write may also never take effect. */
static void test_lin_unknown_write_never_taking_effect_passes(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "a");
    put(h, 2, 20, U, "k", "ghost");
    cas(h, 2, 30, U, "k", "a", "ghost2", LIN_UNKNOWN);
    del(h, 3, 40, U, "k");
    get(h, 3, 50, 60, "k", "a");
    assert_int_equal(check(h), LIN_LINEARIZABLE);
}

/* But not before its call: a value read before the write was even sent is
 * impossible. */
static void test_lin_unknown_write_seen_before_its_call_fails(void **state)
{
    struct lin_history *h = *state;
    get(h, 1, 0, 10, "k", "early");
    put(h, 2, 20, U, "k", "early");
    assert_int_equal(check(h), LIN_VIOLATION);
}

/* An unknown write can only take effect once: after a later write is read,
 * the unknown value cannot come back... unless it took effect in between,
 * which the next read rules out. */
static void test_lin_unknown_write_takes_effect_at_most_once(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, U, "k", "u");
    get(h, 2, 10, 20, "k", "u");
    put(h, 2, 30, 40, "k", "b");
    get(h, 2, 50, 60, "k", "b");
    get(h, 2, 70, 80, "k", "u");
    assert_int_equal(check(h), LIN_VIOLATION);
}

/* Concurrent puts read back in either final order. */
static void test_lin_concurrent_puts_either_order_passes(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 100, "a", "1");
    put(h, 2, 10, 90, "a", "2");
    get(h, 3, 200, 210, "a", "1");
    put(h, 1, 0, 100, "b", "1");
    put(h, 2, 10, 90, "b", "2");
    get(h, 3, 200, 210, "b", "2");
    assert_int_equal(check(h), LIN_LINEARIZABLE);
}

/* Keys are independent: an anomaly on one key is reported for that key
 * alone, with the operation that got stuck. */
static void test_lin_report_names_the_failing_key(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "good", "x");
    get(h, 1, 20, 30, "good", "x");
    put(h, 1, 0, 10, "bad", "x");
    put(h, 1, 20, 30, "bad", "y");
    get(h, 2, 40, 50, "bad", "x");
    struct lin_report rep;
    assert_int_equal(lin_check(h, NULL, &rep), ERR_OK);
    assert_int_equal(rep.verdict, LIN_VIOLATION);
    assert_int_equal(rep.n_keys, 2);
    assert_int_equal(rep.keys[0].verdict, LIN_LINEARIZABLE);
    assert_int_equal(rep.keys[1].verdict, LIN_VIOLATION);
    assert_int_equal(rep.keys[1].depth, 2);
    assert_int_equal(rep.keys[1].blocking, 4); /* The stale get. */
    lin_report_free(&rep);
}

/* Many fully concurrent writes and reads of every written value make the
 * orders to consider explode (and a final read nobody could have seen
 * makes every one fail): a tiny bound must answer TOO_BIG, never hang or
 * guess. */
static void test_lin_search_bound_answers_too_big(void **state)
{
    struct lin_history *h = *state;
    char v[32];
    for (int i = 0; i < 24; i++) {
        snprintf(v, sizeof v, "v%d", i);
        put(h, (uint32_t)i, (uint64_t)i, 1000, "k", v);
        get(h, (uint32_t)(100 + i), (uint64_t)(50 + i), 1000, "k", v);
    }
    get(h, 200, 2000, 2001, "k", "nothing-wrote-this");
    struct lin_limits lim = {.steps_max = 5000, .cache_bytes_max = 0};
    struct lin_report rep;
    assert_int_equal(lin_check(h, &lim, &rep), ERR_OK);
    assert_int_equal(rep.verdict, LIN_TOO_BIG);
    lin_report_free(&rep);
}

/* Unknown writes of values nobody reads are interchangeable: forty of them
 * around a real violation must not stop the checker from proving it. */
static void test_lin_unread_unknown_writes_do_not_explode(void **state)
{
    struct lin_history *h = *state;
    char v[32];
    for (int i = 0; i < 40; i++) {
        snprintf(v, sizeof v, "u%d", i);
        put(h, (uint32_t)i, (uint64_t)i, U, "k", v);
    }
    for (int i = 0; i < 40; i++) {
        snprintf(v, sizeof v, "d%d", i);
        put(h, 100, (uint64_t)(100 + 2 * i), (uint64_t)(101 + 2 * i), "k", v);
    }
    get(h, 100, 1000, 1001, "k", "d5"); /* Stale: d39 was acknowledged. */
    struct lin_limits lim = {.steps_max = 100000, .cache_bytes_max = 0};
    struct lin_report rep;
    assert_int_equal(lin_check(h, &lim, &rep), ERR_OK);
    assert_int_equal(rep.verdict, LIN_VIOLATION);
    lin_report_free(&rep);
}

/* A failed CAS may be explained by an unknown write nobody reads. */
static void test_lin_unread_unknown_write_explains_failed_cas(void **state)
{
    struct lin_history *h = *state;
    put(h, 1, 0, 10, "k", "x");
    put(h, 2, 5, U, "k", "ghost");
    cas(h, 3, 20, 30, "k", "x", "y", LIN_FAIL);
    assert_int_equal(check(h), LIN_LINEARIZABLE);
}

/* The text format: comments, every op shape, unknown gets dropped. */
static void test_lin_parse_accepts_every_shape(void **state)
{
    struct lin_history *h = *state;
    char errmsg[ERRMSG_LEN] = "";
    const char *text = "# a comment, with more than nine words in it, fine\n"
                       "1 10 20 put k v1 ok # a trailing comment\n"
                       "\n"
                       "2 15 - put k v2 unknown\n"
                       "1 30 40 get k ok v1\n"
                       "1 50 60 cas k v1 v3 ok\n"
                       "3 55 - cas k v9 v4 unknown\n"
                       "1 70 80 cas k v1 v5 fail\n"
                       "1 90 95 del k ok\n"
                       "1 96 97 get k absent\n"
                       "4 98 - get k unknown\n";
    assert_int_equal(lin_history_parse(h, text, errmsg), ERR_OK);
    assert_int_equal(h->n_recs, 8);
    assert_int_equal(h->n_dropped_gets, 1);
    assert_int_equal(h->recs[1].ret_us, U);
    assert_int_equal(h->recs[1].line, 4);
    assert_string_equal(lin_history_value(h, h->recs[3].expected), "v1");
    assert_string_equal(lin_history_value(h, h->recs[3].value), "v3");
    assert_int_equal(check(h), LIN_LINEARIZABLE);
    char buf[256];
    lin_history_format(h, &h->recs[3], buf, sizeof buf);
    assert_string_equal(buf, "1 50 60 cas k v1 v3 ok");
}

/* Each malformed line is refused with its line number. */
static void test_lin_parse_rejects_malformed_lines(void **state)
{
    struct lin_history *h = *state;
    static const char *const bad[] = {
        "1 10 20 put k ok\n",         /* Missing value. */
        "1 10 20 put k v maybe\n",    /* Bad outcome. */
        "1 10 - put k v ok\n",        /* ok without a return time. */
        "1 10 20 put k v unknown\n",  /* unknown with one. */
        "1 20 10 put k v ok\n",       /* Returns before its call. */
        "1 10 20 get k ok\n",         /* get ok without a value. */
        "1 10 20 get k absent v\n",   /* absent with a value. */
        "1 10 20 cas k a b absent\n", /* absent is for get. */
        "1 10 20 jump k ok\n",        /* Unknown op. */
        "x 10 20 put k v ok\n",       /* Bad proc. */
        "1 -3 20 put k v ok\n",       /* Bad time. */
        "1 10 20 put k - ok\n",       /* "-" is not a value. */
        "1 10 20 del k ok extra\n",   /* Trailing token. */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128], errmsg[ERRMSG_LEN] = "";
        snprintf(text, sizeof text, "# header\n%s", bad[i]);
        assert_int_equal(lin_history_parse(h, text, errmsg), ERR_MALFORMED);
        assert_non_null(strstr(errmsg, "line 2:"));
    }
    assert_int_equal(h->n_recs, 0);
}

/* A token longer than the limit is refused, not truncated. */
static void test_lin_parse_rejects_long_token(void **state)
{
    struct lin_history *h = *state;
    char text[LIN_TOKEN_MAX + 64], errmsg[ERRMSG_LEN] = "";
    int n = snprintf(text, sizeof text, "1 1 2 put k ");
    memset(text + n, 'v', LIN_TOKEN_MAX + 1);
    snprintf(text + n + LIN_TOKEN_MAX + 1, 8, " ok\n");
    assert_int_equal(lin_history_parse(h, text, errmsg), ERR_MALFORMED);
    assert_non_null(strstr(errmsg, "line 1:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_lin_sequential_history_is_linearizable, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_stale_read_after_completed_write_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_read_concurrent_with_write_may_see_either, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_lin_new_then_old_read_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lin_lost_write_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lin_lost_write_to_absent_fails,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lin_cas_succeeding_twice_fails,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lin_overlapping_cas_one_wins,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_cas_failing_on_matching_value_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_unknown_write_taking_effect_late_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_unknown_write_never_taking_effect_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_unknown_write_seen_before_its_call_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_unknown_write_takes_effect_at_most_once, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_concurrent_puts_either_order_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lin_report_names_the_failing_key,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lin_search_bound_answers_too_big,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_unread_unknown_writes_do_not_explode, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lin_unread_unknown_write_explains_failed_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lin_parse_accepts_every_shape,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lin_parse_rejects_malformed_lines,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lin_parse_rejects_long_token,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
