/*
 * Unit tests of storage/session_cache.c: a miss until put, absent rows
 * remembered as absent, overwrite on put, eviction on a shared slot (never
 * a wrong answer), and clear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "storage/session_cache.h"

static int setup(void **state)
{
    struct session_cache *c = calloc(1, sizeof(*c));
    *state = c;
    return c == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* An unknown client is a miss, not "absent". */
static void test_session_cache_unknown_is_a_miss(void **state)
{
    struct session_cache *c = *state;
    bool present = true;
    uint64_t seq = 9;
    uint8_t status = 9;
    assert_false(session_cache_get(c, 42, &present, &seq, &status));
    assert_int_equal(seq, 9); /* Outputs untouched on a miss. */
}

/* Put then get returns the values; a later put overwrites them. */
static void test_session_cache_put_then_get(void **state)
{
    struct session_cache *c = *state;
    bool present = false;
    uint64_t seq = 0;
    uint8_t status = 0;
    session_cache_put(c, 42, true, 7, 2);
    assert_true(session_cache_get(c, 42, &present, &seq, &status));
    assert_true(present);
    assert_int_equal(seq, 7);
    assert_int_equal(status, 2);
    session_cache_put(c, 42, true, 8, 0);
    assert_true(session_cache_get(c, 42, &present, &seq, &status));
    assert_int_equal(seq, 8);
    assert_int_equal(status, 0);
}

/* "No row" is remembered as known-absent. */
static void test_session_cache_remembers_absent(void **state)
{
    struct session_cache *c = *state;
    bool present = true;
    uint64_t seq = 5;
    uint8_t status = 5;
    session_cache_put(c, 7, false, 0, 0);
    assert_true(session_cache_get(c, 7, &present, &seq, &status));
    assert_false(present);
}

/* More ids than slots: every answer is either a miss or the right value,
 * never another client's. */
static void test_session_cache_eviction_never_answers_wrong(void **state)
{
    struct session_cache *c = *state;
    uint32_t n = 4 * SESSION_CACHE_SLOTS;
    for (uint64_t id = 1; id <= n; id++) {
        session_cache_put(c, id, true, id * 3, (uint8_t)(id % 5));
    }
    uint32_t hits = 0;
    for (uint64_t id = 1; id <= n; id++) {
        bool present = false;
        uint64_t seq = 0;
        uint8_t status = 0;
        if (session_cache_get(c, id, &present, &seq, &status)) {
            hits++;
            assert_true(present);
            assert_true(seq == id * 3);
            assert_int_equal(status, id % 5);
        }
    }
    assert_true(hits > 0);
    assert_true(hits <= SESSION_CACHE_SLOTS);
}

/* Clear forgets everything. */
static void test_session_cache_clear_forgets(void **state)
{
    struct session_cache *c = *state;
    bool present = false;
    uint64_t seq = 0;
    uint8_t status = 0;
    session_cache_put(c, 42, true, 7, 2);
    session_cache_clear(c);
    assert_false(session_cache_get(c, 42, &present, &seq, &status));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_cache_unknown_is_a_miss,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_cache_put_then_get, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_session_cache_remembers_absent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_session_cache_eviction_never_answers_wrong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_cache_clear_forgets, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("session_cache", tests, NULL, NULL);
}
