/*
 * Unit tests of launcher/bench_hist.c: small latencies are exact, large
 * ones are within the documented relative error, percentiles follow the
 * nearest-rank rule and never exceed the exact maximum, merge adds up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "launcher/bench_hist.h"

static int setup(void **state)
{
    struct bench_hist *h = malloc(sizeof(*h));
    if (h == NULL) {
        return -1;
    }
    bench_hist_init(h);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* Nothing recorded: every figure is 0. */
static void test_bench_hist_empty_reports_zero(void **state)
{
    struct bench_hist *h = *state;
    assert_int_equal(bench_hist_percentile(h, 0.5), 0);
    assert_int_equal(bench_hist_percentile(h, 1.0), 0);
    assert_int_equal(bench_hist_mean(h), 0);
}

/* Below 128 us every value has its own bucket: percentiles are exact. */
static void test_bench_hist_small_values_are_exact(void **state)
{
    struct bench_hist *h = *state;
    for (uint64_t v = 1; v <= 100; v++) {
        bench_hist_add(h, v);
    }
    assert_int_equal(bench_hist_percentile(h, 0.50), 50);
    assert_int_equal(bench_hist_percentile(h, 0.90), 90);
    assert_int_equal(bench_hist_percentile(h, 0.99), 99);
    assert_int_equal(bench_hist_percentile(h, 0.001), 1);
    assert_int_equal(bench_hist_percentile(h, 1.0), 100);
    assert_int_equal(bench_hist_mean(h), 50);
}

/* Nearest rank: with 1000 samples p99.9 is the 999th, not the maximum. */
static void test_bench_hist_p999_uses_nearest_rank(void **state)
{
    struct bench_hist *h = *state;
    for (int i = 0; i < 999; i++) {
        bench_hist_add(h, 10);
    }
    bench_hist_add(h, 5000);
    assert_int_equal(bench_hist_percentile(h, 0.999), 10);
    assert_int_equal(bench_hist_percentile(h, 1.0), 5000);
    assert_int_equal(h->max_us, 5000);
}

/* Any single large value is reported within 1/64 above its true value and
 * never below it. */
static void test_bench_hist_relative_error_is_bounded(void **state)
{
    struct bench_hist *h = *state;
    for (uint64_t v = 128; v < (UINT64_C(1) << 39); v = v * 3 / 2 + 7) {
        bench_hist_init(h);
        bench_hist_add(h, v);
        bench_hist_add(h, v * 4); /* So the max does not cap the answer. */
        uint64_t got = bench_hist_percentile(h, 0.5);
        assert_true(got >= v);
        assert_true(got - v <= v / 64);
    }
}

/* The reported value never exceeds the largest sample. */
static void test_bench_hist_percentile_capped_by_max(void **state)
{
    struct bench_hist *h = *state;
    bench_hist_add(h, 1000001);
    assert_int_equal(bench_hist_percentile(h, 0.5), 1000001);
}

/* Values beyond the range are clamped, not lost. */
static void test_bench_hist_huge_values_are_clamped(void **state)
{
    struct bench_hist *h = *state;
    bench_hist_add(h, UINT64_MAX);
    assert_int_equal(h->n, 1);
    assert_int_equal(bench_hist_percentile(h, 1.0), BENCH_HIST_MAX_US);
}

/* Merging two histograms equals recording both sets into one. */
static void test_bench_hist_merge_adds_samples(void **state)
{
    struct bench_hist *h = *state;
    struct bench_hist *other = malloc(sizeof(*other));
    assert_non_null(other);
    bench_hist_init(other);
    for (uint64_t v = 1; v <= 50; v++) {
        bench_hist_add(h, v);
        bench_hist_add(other, v + 50);
    }
    bench_hist_merge(h, other);
    assert_int_equal(h->n, 100);
    assert_int_equal(h->max_us, 100);
    assert_int_equal(bench_hist_percentile(h, 0.75), 75);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bench_hist_empty_reports_zero,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_hist_small_values_are_exact,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_hist_p999_uses_nearest_rank,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_bench_hist_relative_error_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_bench_hist_percentile_capped_by_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_hist_huge_values_are_clamped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_hist_merge_adds_samples,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("bench_hist", tests, NULL, NULL);
}
