/*
 * Unit tests of node/snapshot_recv.c, the follower's side of a snapshot
 * transfer: the staged prefix, early chunks inside the window, duplicates,
 * out-of-window and malformed chunks (dropped and counted), and which
 * transfer a chunk belongs to (term, image, restart at offset 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "node/snapshot_recv.h"

#define TERM 5
static const uint8_t bytes[100];

static int setup(void **state)
{
    static struct snapshot_recv s;
    snapshot_recv_init(&s);
    *state = &s;
    return 0;
}

static struct msg_snapshot chunk(raft_index index, uint64_t offset,
                                 uint32_t len, uint64_t size)
{
    struct msg_snapshot c = {index, 4,     offset, offset + len == size,
                             len,   bytes, size};
    return c;
}

/* Offers c and stages it when told to; returns the action. */
static int offer(struct snapshot_recv *s, raft_term term,
                 const struct msg_snapshot *c)
{
    int a = snapshot_recv_on_chunk(s, term, c);
    if (a == SNAPSHOT_RECV_STAGE) {
        snapshot_recv_staged(s, c);
    }
    return a;
}

/* Rule: chunks in order build the prefix; the last one completes it. */
static void test_recv_in_order_completes(void **state)
{
    struct snapshot_recv *s = *state;
    for (uint64_t off = 0; off < 300; off += 100) {
        struct msg_snapshot c = chunk(9, off, 100, 300);
        assert_int_equal(offer(s, TERM, &c), SNAPSHOT_RECV_STAGE);
    }
    assert_true(snapshot_recv_is_complete(s));
    assert_int_equal(s->index, 9);
}

/* Rule: a reordered chunk inside the window is staged early and joins
 * the prefix once the gap fills; a duplicate is only acknowledged. */
static void test_recv_reordered_chunk_joins_prefix(void **state)
{
    struct snapshot_recv *s = *state;
    struct msg_snapshot c0 = chunk(9, 0, 100, 300);
    struct msg_snapshot c1 = chunk(9, 100, 100, 300);
    struct msg_snapshot c2 = chunk(9, 200, 100, 300);
    assert_int_equal(offer(s, TERM, &c0), SNAPSHOT_RECV_STAGE);
    assert_int_equal(offer(s, TERM, &c2), SNAPSHOT_RECV_STAGE);
    assert_int_equal(s->next, 100);
    assert_int_equal(offer(s, TERM, &c2), SNAPSHOT_RECV_ACK);
    assert_int_equal(offer(s, TERM, &c1), SNAPSHOT_RECV_STAGE);
    assert_int_equal(s->next, 300);
    assert_true(snapshot_recv_is_complete(s));
    assert_int_equal(offer(s, TERM, &c0), SNAPSHOT_RECV_ACK);
}

/* Rule: a chunk beyond the window is not staged; the receiver asks for
 * its prefix again and counts it. */
static void test_recv_out_of_window_rewinds_and_counts(void **state)
{
    struct snapshot_recv *s = *state;
    uint64_t size = 4 * SNAPSHOT_RECV_WINDOW_BYTES;
    struct msg_snapshot c0 = chunk(9, 0, 100, size);
    offer(s, TERM, &c0);
    struct msg_snapshot far =
        chunk(9, SNAPSHOT_RECV_WINDOW_BYTES + 100, 100, size);
    assert_int_equal(offer(s, TERM, &far), SNAPSHOT_RECV_REWIND);
    assert_int_equal(s->n_outside, 1);
    assert_int_equal(snapshot_recv_wanted(s, TERM, &far), 100);
}

/* Rule: a malformed chunk (done that is not the end, past the size, empty)
 * is dropped and counted, and changes nothing. */
static void test_recv_malformed_chunk_dropped(void **state)
{
    struct snapshot_recv *s = *state;
    struct msg_snapshot c = chunk(9, 0, 100, 300);
    c.done = true;
    assert_int_equal(offer(s, TERM, &c), SNAPSHOT_RECV_DROP);
    c = chunk(9, 250, 100, 300);
    assert_int_equal(offer(s, TERM, &c), SNAPSHOT_RECV_DROP);
    c = chunk(9, 0, 0, 300);
    assert_int_equal(offer(s, TERM, &c), SNAPSHOT_RECV_DROP);
    assert_int_equal(s->n_dropped, 3);
    assert_false(s->is_active);
}

/* Rule: a transfer of an older term is abandoned: its chunks are dropped;
 * a newer transfer starts only at offset 0 (else: send from 0). */
static void test_recv_older_term_dropped_newer_restarts(void **state)
{
    struct snapshot_recv *s = *state;
    struct msg_snapshot c0 = chunk(9, 0, 100, 300);
    offer(s, TERM, &c0);
    struct msg_snapshot old = chunk(9, 100, 100, 300);
    assert_int_equal(offer(s, TERM - 1, &old), SNAPSHOT_RECV_DROP);
    assert_int_equal(s->next, 100);
    struct msg_snapshot mid = chunk(12, 100, 100, 400);
    assert_int_equal(offer(s, TERM + 1, &mid), SNAPSHOT_RECV_REWIND);
    assert_int_equal(snapshot_recv_wanted(s, TERM + 1, &mid), 0);
    struct msg_snapshot fresh = chunk(12, 0, 100, 400);
    assert_int_equal(offer(s, TERM + 1, &fresh), SNAPSHOT_RECV_STAGE);
    assert_int_equal(s->index, 12);
    assert_int_equal(s->leader_term, TERM + 1);
    assert_int_equal(s->next, 100);
    assert_int_equal(s->n_restarted, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_recv_in_order_completes, setup),
        cmocka_unit_test_setup(test_recv_reordered_chunk_joins_prefix, setup),
        cmocka_unit_test_setup(test_recv_out_of_window_rewinds_and_counts,
                               setup),
        cmocka_unit_test_setup(test_recv_malformed_chunk_dropped, setup),
        cmocka_unit_test_setup(test_recv_older_term_dropped_newer_restarts,
                               setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
