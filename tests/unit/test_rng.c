/*
 * Unit tests of common/rng.c: the same seed gives the same sequence, ranges
 * stay in bounds, and different seeds differ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/rng.h"

static void test_rng_same_seed_same_sequence(void **state)
{
    (void)state;
    struct rng a, b;
    rng_init(&a, 42);
    rng_init(&b, 42);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(rng_next(&a), rng_next(&b));
    }
}

static void test_rng_different_seeds_differ(void **state)
{
    (void)state;
    struct rng a, b;
    rng_init(&a, 1);
    rng_init(&b, 2);
    int same = 0;
    for (int i = 0; i < 100; i++) {
        same += rng_next(&a) == rng_next(&b);
    }
    assert_true(same < 2);
}

static void test_rng_range_stays_in_bounds_and_covers(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, 7);
    int seen[10] = {0};
    for (int i = 0; i < 10000; i++) {
        uint64_t v = rng_range(&r, 150, 160);
        assert_true(v >= 150 && v < 160);
        seen[v - 150]++;
    }
    for (int i = 0; i < 10; i++) {
        assert_true(seen[i] > 800);
    }
    assert_int_equal(rng_range(&r, 5, 5), 5);
}

static void test_rng_chance_matches_rate(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, 9);
    int hits = 0;
    for (int i = 0; i < 100000; i++) {
        hits += rng_chance_ppm(&r, 200000);
    }
    assert_true(hits > 19000 && hits < 21000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_same_seed_same_sequence),
        cmocka_unit_test(test_rng_different_seeds_differ),
        cmocka_unit_test(test_rng_range_stays_in_bounds_and_covers),
        cmocka_unit_test(test_rng_chance_matches_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
