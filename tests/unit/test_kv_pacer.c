/*
 * Unit tests of node/kv_pacer.c: the sizing rule (scale down a store that
 * took too long, grow one that was quick, stay within bounds, converge under a
 * steady per-key cost) and the pacer between a write-back buffer and an
 * in-memory store: every call passes through, and a slow store lowers the
 * buffer's ops_max.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* With a steady cost per key, the size settles where a store takes between
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

/* A fake clock that only a commit moves: each commit "takes"
 * commit_cost_ms, so a store's duration is exactly that. */
static uint64_t fake_now_ms;
static uint64_t commit_cost_ms;

static uint64_t fake_clock(void)
{
    return fake_now_ms;
}

static int slow_commit(void *ctx, raft_index applied)
{
    fake_now_ms += commit_cost_ms;
    return mem_kv_ops()->commit(ctx, applied);
}

static void test_pacer_passes_through_and_lowers_slow_stores(void **state)
{
    (void)state;
    struct mem_kv kv;
    mem_kv_init(&kv);
    struct kv_store_ops slow = *mem_kv_ops();
    slow.commit = slow_commit;
    struct kv_pacer p;
    kv_pacer_init(&p, &slow, &kv, 20, 2, 64);
    p.now_ms = fake_clock;
    fake_now_ms = 1000;
    struct kv_writeback_config cfg = {.ops_max = 64, .delay_ms = 1000};
    struct kv_writeback *wb = kv_writeback_new(kv_pacer_ops(), &p, 0, &cfg);
    assert_non_null(wb);
    kv_pacer_attach(&p, wb);
    const struct kv_store_ops *ops = kv_writeback_ops();
    /* A quick store: everything reaches the store, the size stays at the
     * cap. */
    commit_cost_ms = 0;
    assert_int_equal(ops->begin(wb), ERR_OK);
    assert_int_equal(
        ops->put(wb, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1), ERR_OK);
    assert_int_equal(ops->session_put(wb, 7, 1, 0), ERR_OK);
    assert_int_equal(ops->commit(wb, 1), ERR_OK);
    assert_int_equal(kv_writeback_store(wb), ERR_OK);
    assert_int_equal(mem_kv_applied(&kv), 1);
    const uint8_t *v = NULL;
    uint32_t len = 0;
    assert_int_equal(mem_kv_ops()->get(&kv, (const uint8_t *)"k", 1, &v, &len),
                     ERR_OK);
    assert_int_equal(len, 1);
    assert_int_equal(kv_writeback_ops_max(wb), 64);
    /* A slow store (60 ms against a 20 ms target) scales it down to a
     * third; a quick one then grows it by a quarter. */
    commit_cost_ms = 60;
    assert_int_equal(ops->begin(wb), ERR_OK);
    assert_int_equal(ops->del(wb, (const uint8_t *)"k", 1), ERR_OK);
    assert_int_equal(ops->commit(wb, 2), ERR_OK);
    assert_int_equal(kv_writeback_store(wb), ERR_OK);
    assert_int_equal(kv_writeback_ops_max(wb), 21);
    assert_int_equal(mem_kv_ops()->get(&kv, (const uint8_t *)"k", 1, &v, &len),
                     ERR_NOT_FOUND);
    commit_cost_ms = 5;
    assert_int_equal(ops->begin(wb), ERR_OK);
    assert_int_equal(
        ops->put(wb, (const uint8_t *)"k", 1, (const uint8_t *)"w", 1), ERR_OK);
    assert_int_equal(ops->commit(wb, 3), ERR_OK);
    assert_int_equal(kv_writeback_store(wb), ERR_OK);
    assert_int_equal(kv_writeback_ops_max(wb), 27);
    kv_writeback_free(wb);
    mem_kv_close(&kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pacer_next_halves_slow_and_grows_quick),
        cmocka_unit_test(test_pacer_next_converges),
        cmocka_unit_test(test_pacer_passes_through_and_lowers_slow_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
