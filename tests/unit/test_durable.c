/*
 * Unit tests of node/durable.c, the bookkeeping of asynchronous syncs: the
 * write counters, which messages a finished sync releases and in what
 * order, the log index durable_done() reports around truncations, and
 * the hard state's term a sync made durable.
 * Pure: no I/O. The replica-level behaviour is in test_replica.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/err.h"
#include "common/msg.h"
#include "node/durable.h"
#include "node/raft.h"

/* Records a write of entries first..last (none when last < first) after
 * deleting the suffix from trunc (0: no truncation). */
static void wrote(struct durable *d, raft_index trunc, raft_index first,
                  raft_index last)
{
    struct raft_ready rd;
    memset(&rd, 0, sizeof rd);
    rd.truncate_from = trunc;
    if (last >= first) {
        rd.entries_first_index = first;
        rd.n_entries = (size_t)(last - first + 1);
    }
    durable_wrote(d, &rd);
}

/* Holds an append reply tagged with tag (in match_index). */
static void hold(struct durable *d, uint64_t tag)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND_REPLY;
    m.from = 1;
    m.to = 2;
    m.term = 3;
    m.u.append_reply.success = true;
    m.u.append_reply.match_index = tag;
    assert_int_equal(durable_hold(d, &m), ERR_OK);
}

/* Pops one released message and checks it is the one tagged tag. */
static void expect_release(struct durable *d, uint64_t tag)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    assert_true(durable_release(d, &m));
    assert_int_equal(m.type, MSG_APPEND_REPLY);
    assert_int_equal(m.u.append_reply.match_index, tag);
}

static void expect_none(struct durable *d)
{
    struct raft_msg m;
    assert_false(durable_release(d, &m));
}

/* Asks for a sync and finishes it; returns the index it reports. */
static raft_index sync_now(struct durable *d)
{
    assert_true(durable_should_ask(d));
    durable_asked(d);
    return durable_done(d);
}

static void test_durable_counters(void **state)
{
    (void)state;
    struct durable d;
    durable_init(&d, 4);
    assert_false(durable_is_pending(&d));
    assert_false(durable_should_ask(&d));
    wrote(&d, 0, 5, 5);
    assert_int_equal(d.written, 1);
    assert_true(durable_is_pending(&d));
    assert_true(durable_should_ask(&d));
    durable_asked(&d);
    assert_int_equal(d.asked, 1);
    /* One sync at a time: still pending, but nothing more to ask. */
    assert_true(durable_is_pending(&d));
    assert_false(durable_should_ask(&d));
    wrote(&d, 0, 6, 6);
    assert_false(durable_should_ask(&d));
    assert_int_equal(durable_done(&d), 5);
    assert_int_equal(d.synced, 1);
    assert_int_equal(d.asked, 0);
    /* The write made while it ran needs a sync of its own. */
    assert_true(durable_is_pending(&d));
    assert_true(durable_should_ask(&d));
    assert_int_equal(sync_now(&d), 6);
    assert_int_equal(d.synced, 2);
    assert_false(durable_is_pending(&d));
    assert_false(durable_should_ask(&d));
    /* A hard-state-only write counts as a write, moves no index. */
    wrote(&d, 0, 1, 0);
    assert_true(durable_should_ask(&d));
    assert_int_equal(sync_now(&d), 6);
    durable_free(&d);
}

/* A message is released only by a sync asked after the write before it,
 * in the order held. */
static void test_durable_release_waits_for_sync_asked_after(void **state)
{
    (void)state;
    struct durable d;
    durable_init(&d, 0);
    wrote(&d, 0, 1, 1);
    hold(&d, 1);
    hold(&d, 2);
    expect_none(&d);
    durable_asked(&d);
    expect_none(&d); /* Asked, not done. */
    wrote(&d, 0, 2, 2);
    hold(&d, 3); /* Promises write 2, which the running sync misses. */
    assert_int_equal(durable_done(&d), 1);
    expect_release(&d, 1);
    expect_release(&d, 2);
    expect_none(&d);
    assert_int_equal(sync_now(&d), 2);
    expect_release(&d, 3);
    expect_none(&d);
    /* Held with nothing pending: free to go at once. */
    hold(&d, 4);
    expect_release(&d, 4);
    durable_free(&d);
}

/* A truncation written after the sync was asked rewrote entries the sync
 * covered: the report stops below it, however many came after. */
static void test_durable_done_lowered_by_later_truncation(void **state)
{
    (void)state;
    struct durable d;
    durable_init(&d, 0);
    wrote(&d, 0, 1, 10);
    durable_asked(&d);
    wrote(&d, 9, 9, 12);
    wrote(&d, 7, 7, 8);
    wrote(&d, 8, 8, 9); /* Not the lowest: 7 stays. */
    assert_int_equal(durable_done(&d), 6);
    /* The next sync covers what was rewritten. */
    assert_int_equal(sync_now(&d), 9);
    /* A truncation above what the sync covered lowers nothing. */
    wrote(&d, 0, 10, 10);
    durable_asked(&d);
    wrote(&d, 0, 11, 13);
    wrote(&d, 12, 12, 12);
    assert_int_equal(durable_done(&d), 10);
    durable_free(&d);
}

/* A truncation written before asking is covered by the sync: the report
 * is the log's last index when asked, and the next sync forgets it. */
static void test_durable_truncation_before_ask_not_lowered(void **state)
{
    (void)state;
    struct durable d;
    durable_init(&d, 0);
    wrote(&d, 0, 1, 10);
    wrote(&d, 4, 4, 6);
    assert_int_equal(sync_now(&d), 6);
    /* A truncation written while sync 1 ran lowers sync 1 only, not the
     * next, which was asked after it. */
    wrote(&d, 0, 7, 10);
    durable_asked(&d);
    wrote(&d, 8, 8, 8);
    assert_int_equal(durable_done(&d), 7);
    wrote(&d, 0, 9, 9);
    assert_int_equal(sync_now(&d), 9);
    durable_free(&d);
}

/* Past 16 held messages the ring grows; with its head moved (so the live
 * part wraps) the copy must keep the oldest first. */
static void test_durable_ring_growth_keeps_order(void **state)
{
    (void)state;
    struct durable d;
    durable_init(&d, 0);
    wrote(&d, 0, 1, 1);
    for (uint64_t i = 0; i < 10; i++) {
        hold(&d, i);
    }
    assert_int_equal(sync_now(&d), 1);
    for (uint64_t i = 0; i < 5; i++) {
        expect_release(&d, i);
    }
    wrote(&d, 0, 2, 2);
    for (uint64_t i = 10; i < 40; i++) {
        hold(&d, i); /* Wraps at 16, grows at 17 and 33 live. */
    }
    assert_true(d.held_cap >= 35);
    for (uint64_t i = 5; i < 10; i++) {
        expect_release(&d, i);
    }
    expect_none(&d); /* 10.. wait for write 2. */
    assert_int_equal(sync_now(&d), 2);
    for (uint64_t i = 10; i < 40; i++) {
        expect_release(&d, i);
    }
    expect_none(&d);
    assert_int_equal(d.n_held, 0);
    durable_free(&d);
}

/* Records a write of the hard state of term (no entries). */
static void wrote_term(struct durable *d, raft_term term)
{
    struct raft_ready rd;
    memset(&rd, 0, sizeof rd);
    rd.has_hard_state = true;
    rd.term = term;
    durable_wrote(d, &rd);
}

/* A sync makes durable the hard state written before it was asked, not
 * one written while it ran (raft_persisted_term: a single voter's vote). */
static void test_durable_synced_term_as_asked(void **state)
{
    (void)state;
    struct durable d;
    durable_init(&d, 0);
    assert_int_equal(durable_synced_term(&d), 0);
    wrote_term(&d, 3);
    durable_asked(&d);
    wrote_term(&d, 4);
    wrote(&d, 0, 1, 1);
    durable_done(&d);
    assert_int_equal(durable_synced_term(&d), 3);
    sync_now(&d);
    assert_int_equal(durable_synced_term(&d), 4);
    wrote(&d, 0, 2, 2); /* No hard state: the term stays. */
    sync_now(&d);
    assert_int_equal(durable_synced_term(&d), 4);
    durable_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durable_counters),
        cmocka_unit_test(test_durable_synced_term_as_asked),
        cmocka_unit_test(test_durable_release_waits_for_sync_asked_after),
        cmocka_unit_test(test_durable_done_lowered_by_later_truncation),
        cmocka_unit_test(test_durable_truncation_before_ask_not_lowered),
        cmocka_unit_test(test_durable_ring_growth_keeps_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
