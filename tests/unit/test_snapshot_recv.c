/*
 * Unit tests of node/snapshot_recv.c, the follower's side of a snapshot
 * transfer: the staged prefix, early chunks inside the window, duplicates,
 * out-of-window and malformed chunks (dropped and counted), and which
 * transfer a chunk belongs to (term, image, restart at offset 0), and
 * resuming from a prefix an earlier run staged.
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

/* Rule: after a restart, the first chunk of a transfer of the same image
 * finds the prefix staged by the earlier run: the receiver resumes there
 * and acknowledges its end, the sender goes on from it, and the chunks
 * before it are only acknowledged. */
static void test_recv_resumes_a_staged_prefix(void **state)
{
    struct snapshot_recv *s = *state;
    struct snapshot_send t;
    struct snapshot_send_config cfg = {100, 4, 1000};
    snapshot_send_start(&t, &cfg, 2, TERM, 9, 4, 1000, 0);
    uint64_t off = 0;
    uint32_t len = 0;
    assert_true(snapshot_send_next(&t, &off, &len));
    struct msg_snapshot c = chunk(9, off, len, 1000);
    assert_int_equal(snapshot_recv_on_chunk(s, TERM, &c), SNAPSHOT_RECV_STAGE);
    assert_true(snapshot_recv_is_start(s, &c));
    snapshot_recv_resume(s, 650); /* What the staging file holds. */
    assert_int_equal(s->next, 650);
    assert_false(snapshot_recv_is_start(s, &c));
    /* The acknowledgement moves the sender to 650. */
    struct msg_snapshot_reply r = {
        .last_index = 9, .offset = 650, .success = true, .last_term = 4};
    assert_int_equal(snapshot_send_on_reply(&t, TERM, 2, &r, 1),
                     SNAPSHOT_SEND_PROGRESS);
    assert_true(snapshot_send_next(&t, &off, &len));
    assert_int_equal(off, 650);
    /* A chunk already in flight before it is a duplicate. */
    c = chunk(9, 100, 100, 1000);
    assert_int_equal(snapshot_recv_on_chunk(s, TERM, &c), SNAPSHOT_RECV_ACK);
    c = chunk(9, off, len, 1000);
    assert_int_equal(offer(s, TERM, &c), SNAPSHOT_RECV_STAGE);
    assert_int_equal(s->next, 750);
    /* Nothing staged, or more than the image: start from 0. */
    snapshot_recv_init(s);
    c = chunk(9, 0, 100, 1000);
    assert_int_equal(snapshot_recv_on_chunk(s, TERM, &c), SNAPSHOT_RECV_STAGE);
    snapshot_recv_resume(s, 0);
    assert_int_equal(s->next, 0);
    snapshot_recv_resume(s, 1001);
    assert_int_equal(s->next, 0);
    /* A whole image staged: complete at once (installed). */
    snapshot_recv_resume(s, 1000);
    assert_true(snapshot_recv_is_complete(s));
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
        cmocka_unit_test_setup(test_recv_resumes_a_staged_prefix, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
