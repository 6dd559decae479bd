/*
 * Unit tests of node/kv_pacer.c: the sizing rule (scale down a flush that
 * took too long, grow one that was quick, stay within bounds, converge under a
 * steady per-key cost) and the pacer between a write-back buffer and an
 * in-memory store: every call passes through, and a slow flush lowers the
 * buffer's ops_max.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/err.h"
#include "node/kv_pacer.h"
#include "node/kv_writeback.h"
#include "tests/lib/mem_kv.h"

static void test_pacer_next_halves_slow_and_grows_quick(void **state)
{
    (void)state;
    assert_int_equal(kv_pacer_next(16384, 120, 50, 256, 16384), 6826);
    assert_int_equal(kv_pacer_next(16384, 1000, 50, 256, 16384), 819);
    assert_int_equal(kv_pacer_next(300, 120, 50, 256, 16384), 256);
    assert_int_equal(kv_pacer_next(1000, 10, 50, 256, 16384), 1251);
    assert_int_equal(kv_pacer_next(16000, 0, 50, 256, 16384), 16384);
    assert_int_equal(kv_pacer_next(1000, 30, 50, 256, 16384), 1000);
    assert_int_equal(kv_pacer_next(1000, 50, 50, 256, 16384), 1000);
    assert_int_equal(kv_pacer_next(1000, 25, 50, 256, 16384), 1000);
}

/* With a steady cost per key, the size settles where a flush takes between
 * half the target and the target, and stays there. */
static void test_pacer_next_converges(void **state)
{
    (void)state;
    for (uint32_t us_per_key = 5; us_per_key <= 500; us_per_key *= 3) {
        uint32_t ops = 16384;
        for (int i = 0; i < 200; i++) {
            uint64_t took = (uint64_t)ops * us_per_key / 1000;
            ops = kv_pacer_next(ops, took, 50, 256, 16384);
        }
        uint64_t took = (uint64_t)ops * us_per_key / 1000;
        assert_true(ops == 256 || ops == 16384 ||
                    (took <= 50 && 2 * took >= 50));
        assert_true(ops >= 256 && ops <= 16384);
    }
}

/* Sleeps ms (the pacer reads the real clock). */
static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* A store whose commit is slow (sleeps), to make one flush "take long". */
static long slow_commit_ms;

static int slow_commit(void *ctx, raft_index applied)
{
    sleep_ms(slow_commit_ms);
    return mem_kv_ops()->commit(ctx, applied);
}

static void test_pacer_passes_through_and_lowers_slow_flushes(void **state)
{
    (void)state;
    struct mem_kv kv;
    mem_kv_init(&kv);
    struct kv_store_ops slow = *mem_kv_ops();
    slow.commit = slow_commit;
    struct kv_pacer p;
    kv_pacer_init(&p, &slow, &kv, 20, 2, 64);
    struct kv_writeback_config cfg = {.ops_max = 64, .delay_ms = 1000};
    struct kv_writeback *wb = kv_writeback_new(kv_pacer_ops(), &p, 0, &cfg);
    assert_non_null(wb);
    kv_pacer_attach(&p, wb);
    const struct kv_store_ops *ops = kv_writeback_ops();
    /* A quick flush: everything reaches the store, the size stays at the
     * cap. */
    slow_commit_ms = 0;
    assert_int_equal(ops->begin(wb), ERR_OK);
    assert_int_equal(ops->put(wb, (const uint8_t *)"k", 1,
                              (const uint8_t *)"v", 1), ERR_OK);
    assert_int_equal(ops->session_put(wb, 7, 1, 0), ERR_OK);
    assert_int_equal(ops->commit(wb, 1), ERR_OK);
    assert_int_equal(kv_writeback_flush(wb), ERR_OK);
    assert_int_equal(mem_kv_applied(&kv), 1);
    const uint8_t *v = NULL;
    uint32_t len = 0;
    assert_int_equal(mem_kv_ops()->get(&kv, (const uint8_t *)"k", 1, &v,
                                       &len), ERR_OK);
    assert_int_equal(len, 1);
    assert_int_equal(kv_writeback_ops_max(wb), 64);
    /* A slow flush (60 ms or more against a 20 ms target) scales it down
     * to a third or less. */
    slow_commit_ms = 60;
    assert_int_equal(ops->begin(wb), ERR_OK);
    assert_int_equal(ops->del(wb, (const uint8_t *)"k", 1), ERR_OK);
    assert_int_equal(ops->commit(wb, 2), ERR_OK);
    assert_int_equal(kv_writeback_flush(wb), ERR_OK);
    assert_true(kv_writeback_ops_max(wb) <= 21);
    assert_true(kv_writeback_ops_max(wb) >= 2);
    assert_int_equal(mem_kv_ops()->get(&kv, (const uint8_t *)"k", 1, &v,
                                       &len), ERR_NOT_FOUND);
    kv_writeback_free(wb);
    mem_kv_close(&kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pacer_next_halves_slow_and_grows_quick),
        cmocka_unit_test(test_pacer_next_converges),
        cmocka_unit_test(test_pacer_passes_through_and_lowers_slow_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
