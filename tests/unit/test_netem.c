/*
 * Unit tests of node/netem.c: partitions block both ways and only the
 * listed members, rules validate their ranges, loss and duplication follow
 * their rates, delayed datagrams come back at their due time with their
 * bytes intact, jitter reorders, heal clears rules, and the queue is
 * bounded. Driven by a fixed seed and explicit now_ms: deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/msg.h"
#include "node/netem.h"

static int setup(void **state)
{
    struct netem *n = calloc(1, sizeof *n);
    assert_non_null(n);
    assert_int_equal(netem_init(n, 1234), ERR_OK);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct netem *n = *state;
    netem_close(n);
    free(n);
    return 0;
}

static struct msg_fault rule(uint8_t action)
{
    struct msg_fault f;
    memset(&f, 0, sizeof f);
    f.action = action;
    return f;
}

static void test_netem_without_rules_passes_everything(void **state)
{
    struct netem *n = *state;
    assert_false(netem_is_active(n));
    struct netem_verdict v;
    uint8_t b = 1;
    for (int i = 0; i < 1000; i++) {
        netem_on_send(n, 0, 2, &b, 1, &v);
        assert_int_equal(v.n_now, 1);
        assert_int_equal(v.n_queued, 0);
        assert_int_equal(v.n_dropped, 0);
    }
    assert_int_equal(netem_next_due(n), UINT64_MAX);
}

/* A partition drops traffic to and from exactly the listed members; a new
 * partition replaces the old one; heal clears it. */
static void test_netem_partition_blocks_listed_members_only(void **state)
{
    struct netem *n = *state;
    struct msg_fault f = rule(FAULT_PARTITION);
    f.n_blocked = 2;
    f.blocked[0] = 3;
    f.blocked[1] = 5;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    assert_true(netem_blocks(n, 3));
    assert_true(netem_blocks(n, 5));
    assert_false(netem_blocks(n, 2));
    struct netem_verdict v;
    uint8_t b = 1;
    netem_on_send(n, 0, 3, &b, 1, &v);
    assert_int_equal(v.n_now, 0);
    assert_int_equal(v.n_dropped, 1);
    netem_on_send(n, 0, 2, &b, 1, &v);
    assert_int_equal(v.n_now, 1);

    f.n_blocked = 1;
    f.blocked[0] = 2;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    assert_false(netem_blocks(n, 3));
    assert_true(netem_blocks(n, 2));

    struct msg_fault h = rule(FAULT_HEAL);
    assert_int_equal(netem_apply(n, &h), ERR_OK);
    assert_false(netem_blocks(n, 2));
    assert_false(netem_is_active(n));
}

/* Out-of-range rules are refused and change nothing. */
static void test_netem_rejects_out_of_range_rules(void **state)
{
    struct netem *n = *state;
    struct msg_fault f = rule(FAULT_NETEM);
    f.loss_ppm = 1000001;
    assert_int_equal(netem_apply(n, &f), ERR_INVALID);
    f = rule(FAULT_NETEM);
    f.delay_ms = NETEM_DELAY_MS_MAX + 1;
    assert_int_equal(netem_apply(n, &f), ERR_INVALID);
    f = rule(FAULT_PARTITION);
    f.n_blocked = RAFT_NODES_MAX + 1;
    assert_int_equal(netem_apply(n, &f), ERR_INVALID);
    f = rule(99);
    assert_int_equal(netem_apply(n, &f), ERR_INVALID);
    f = rule(FAULT_DISK_DELAY); /* The runtime's, not netem's. */
    assert_int_equal(netem_apply(n, &f), ERR_INVALID);
    assert_false(netem_is_active(n));
}

/* Loss 100% drops all, 30% about 30%; duplication sends two copies. */
static void test_netem_loss_and_duplication_follow_rates(void **state)
{
    struct netem *n = *state;
    struct msg_fault f = rule(FAULT_NETEM);
    f.loss_ppm = 1000000;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    struct netem_verdict v;
    uint8_t b = 1;
    netem_on_send(n, 0, 2, &b, 1, &v);
    assert_int_equal(v.n_now, 0);
    assert_int_equal(v.n_dropped, 1);

    f.loss_ppm = 300000;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    uint32_t lost = 0;
    for (int i = 0; i < 10000; i++) {
        netem_on_send(n, 0, 2, &b, 1, &v);
        lost += v.n_dropped;
        assert_int_equal(v.n_now + v.n_dropped, 1);
    }
    assert_in_range(lost, 2700, 3300);

    f.loss_ppm = 0;
    f.dup_ppm = 1000000;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    netem_on_send(n, 0, 2, &b, 1, &v);
    assert_int_equal(v.n_now, 2);
}

/* A delayed datagram is held until its due time, then returned intact. */
static void test_netem_delay_holds_until_due(void **state)
{
    struct netem *n = *state;
    struct msg_fault f = rule(FAULT_NETEM);
    f.delay_ms = 40;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    struct netem_verdict v;
    const uint8_t msg[5] = {'h', 'e', 'l', 'l', 'o'};
    netem_on_send(n, 1000, 4, msg, sizeof msg, &v);
    assert_int_equal(v.n_now, 0);
    assert_int_equal(v.n_queued, 1);
    assert_int_equal(netem_next_due(n), 1040);

    uint8_t buf[64];
    size_t len = 0;
    raft_id to = 0;
    assert_false(netem_pop_due(n, 1039, &to, buf, sizeof buf, &len));
    assert_true(netem_pop_due(n, 1040, &to, buf, sizeof buf, &len));
    assert_int_equal(to, 4);
    assert_int_equal(len, sizeof msg);
    assert_memory_equal(buf, msg, sizeof msg);
    assert_false(netem_pop_due(n, 5000, &to, buf, sizeof buf, &len));
    assert_int_equal(netem_next_due(n), UINT64_MAX);
}

/* Jitter gives datagrams different due times, so some come out in another
 * order than they went in; with equal due times order is kept. */
static void test_netem_jitter_reorders(void **state)
{
    struct netem *n = *state;
    struct msg_fault f = rule(FAULT_NETEM);
    f.delay_ms = 10;
    f.jitter_ms = 50;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    struct netem_verdict v;
    for (uint8_t i = 0; i < 100; i++) {
        netem_on_send(n, 0, 2, &i, 1, &v);
        assert_int_equal(v.n_queued, 1);
    }
    uint8_t buf[4];
    size_t len = 0;
    raft_id to = 0;
    int out_of_order = 0;
    int popped = 0;
    int prev = -1;
    while (netem_pop_due(n, 1000, &to, buf, sizeof buf, &len)) {
        if ((int)buf[0] < prev) {
            out_of_order++;
        }
        prev = buf[0];
        popped++;
    }
    assert_int_equal(popped, 100);
    assert_true(out_of_order > 0);

    f.jitter_ms = 0;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    for (uint8_t i = 0; i < 50; i++) {
        netem_on_send(n, 0, 2, &i, 1, &v);
    }
    for (uint8_t i = 0; i < 50; i++) {
        assert_true(netem_pop_due(n, 1000, &to, buf, sizeof buf, &len));
        assert_int_equal(buf[0], i);
    }
}

/* The delay queue is bounded: beyond NETEM_QUEUE_MAX copies are dropped. */
static void test_netem_queue_is_bounded(void **state)
{
    struct netem *n = *state;
    struct msg_fault f = rule(FAULT_NETEM);
    f.delay_ms = 100;
    assert_int_equal(netem_apply(n, &f), ERR_OK);
    struct netem_verdict v;
    uint8_t b = 7;
    uint32_t queued = 0;
    uint32_t dropped = 0;
    for (int i = 0; i < NETEM_QUEUE_MAX + 10; i++) {
        netem_on_send(n, 0, 2, &b, 1, &v);
        queued += v.n_queued;
        dropped += v.n_dropped;
    }
    assert_int_equal(queued, NETEM_QUEUE_MAX);
    assert_int_equal(dropped, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_netem_without_rules_passes_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_netem_partition_blocks_listed_members_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netem_rejects_out_of_range_rules,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_netem_loss_and_duplication_follow_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_netem_delay_holds_until_due, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_netem_jitter_reorders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_netem_queue_is_bounded, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
