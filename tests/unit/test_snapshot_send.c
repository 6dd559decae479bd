/*
 * Unit tests of node/snapshot_send.c, the leader's side of a snapshot
 * transfer: the window, acknowledgements of the contiguous prefix,
 * go-back retransmission on a timeout, resumption from what the receiver
 * asks for, and replies that belong to another transfer or term.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "node/snapshot_send.h"

#define PEER 3
#define TERM 7
#define INDEX 40
#define ITERM 6

static int setup(void **state)
{
    static struct snapshot_send s;
    struct snapshot_send_config c = {100, 3, 50};
    snapshot_send_start(&s, &c, PEER, TERM, INDEX, ITERM, 1000, 0);
    *state = &s;
    return 0;
}

static struct msg_snapshot_reply ack(uint64_t offset, bool success, bool done)
{
    struct msg_snapshot_reply r = {INDEX, offset, success, ITERM, done};
    return r;
}

/* Sends everything the window allows; returns the count, last offset. */
static int drain(struct snapshot_send *s, uint64_t *last)
{
    uint64_t off = 0;
    uint32_t len = 0;
    int n = 0;
    while (snapshot_send_next(s, &off, &len)) {
        *last = off;
        n++;
    }
    return n;
}

/* Rule: at most window chunks past the acknowledged prefix are in flight;
 * an acknowledgement opens the window by what it covers. */
static void test_send_window_bounds_chunks_in_flight(void **state)
{
    struct snapshot_send *s = *state;
    uint64_t last = 0;
    assert_int_equal(drain(s, &last), 3);
    assert_int_equal(last, 200);
    struct msg_snapshot_reply r = ack(200, true, false);
    assert_int_equal(snapshot_send_on_reply(s, TERM, PEER, &r, 10),
                     SNAPSHOT_SEND_PROGRESS);
    assert_int_equal(drain(s, &last), 2);
    assert_int_equal(last, 400);
}

/* Rule: a timeout without progress resends from the acknowledged prefix
 * (go-back-N), not from 0 and not past a gap. */
static void test_send_retransmits_from_acked_on_timeout(void **state)
{
    struct snapshot_send *s = *state;
    uint64_t last = 0;
    drain(s, &last);
    struct msg_snapshot_reply r = ack(100, true, false);
    snapshot_send_on_reply(s, TERM, PEER, &r, 10);
    drain(s, &last);
    snapshot_send_tick(s, 59); /* Before the timeout: nothing. */
    assert_int_equal(drain(s, &last), 0);
    assert_int_equal(snapshot_send_deadline(s), 60);
    snapshot_send_tick(s, 60);
    uint64_t off = 0;
    uint32_t len = 0;
    assert_true(snapshot_send_next(s, &off, &len));
    assert_int_equal(off, 100);
    assert_int_equal(len, 100);
}

/* Rule: a receiver that lost its staging asks for an offset below what it
 * acknowledged (success false): the transfer resumes there. */
static void test_send_resumes_from_receiver_offset(void **state)
{
    struct snapshot_send *s = *state;
    uint64_t last = 0;
    drain(s, &last);
    struct msg_snapshot_reply r = ack(300, true, false);
    snapshot_send_on_reply(s, TERM, PEER, &r, 10);
    drain(s, &last);
    r = ack(0, false, false);
    assert_int_equal(snapshot_send_on_reply(s, TERM, PEER, &r, 20),
                     SNAPSHOT_SEND_PROGRESS);
    uint64_t off = 1;
    uint32_t len = 0;
    assert_true(snapshot_send_next(s, &off, &len));
    assert_int_equal(off, 0);
}

/* Rule: only replies of this transfer count: another term, peer or image
 * is ignored, and a stale ack below the prefix moves nothing. */
static void test_send_ignores_foreign_and_stale_replies(void **state)
{
    struct snapshot_send *s = *state;
    uint64_t last = 0;
    drain(s, &last);
    struct msg_snapshot_reply r = ack(300, true, false);
    assert_int_equal(snapshot_send_on_reply(s, TERM + 1, PEER, &r, 1),
                     SNAPSHOT_SEND_IGNORED);
    assert_int_equal(snapshot_send_on_reply(s, TERM, PEER + 1, &r, 1),
                     SNAPSHOT_SEND_IGNORED);
    r.last_index = INDEX + 1;
    assert_int_equal(snapshot_send_on_reply(s, TERM, PEER, &r, 1),
                     SNAPSHOT_SEND_IGNORED);
    /* Not heard yet: the replica's fresh-image check waits for this. */
    assert_false(s->is_heard);
    r = ack(200, true, false);
    snapshot_send_on_reply(s, TERM, PEER, &r, 1);
    assert_true(s->is_heard);
    r = ack(100, true, false);
    assert_int_equal(snapshot_send_on_reply(s, TERM, PEER, &r, 2),
                     SNAPSHOT_SEND_IGNORED);
    assert_int_equal(s->acked, 200);
}

/* Rule: the final answer ends the transfer; before it, with every byte
 * acknowledged, a timeout resends the last chunk to ask again. */
static void test_send_done_ends_and_last_chunk_asks_again(void **state)
{
    struct snapshot_send *s = *state;
    uint64_t last = 0;
    for (int round = 0; round < 10; round++) {
        drain(s, &last);
        struct msg_snapshot_reply r = ack(last + 100, true, false);
        snapshot_send_on_reply(s, TERM, PEER, &r, 1);
    }
    assert_int_equal(s->acked, 1000);
    assert_int_equal(drain(s, &last), 0);
    snapshot_send_tick(s, 1000);
    uint64_t off = 0;
    uint32_t len = 0;
    assert_true(snapshot_send_next(s, &off, &len));
    assert_int_equal(off, 900);
    struct msg_snapshot_reply r = ack(1000, true, true);
    assert_int_equal(snapshot_send_on_reply(s, TERM, PEER, &r, 2),
                     SNAPSHOT_SEND_DONE);
    assert_false(s->is_active);
    assert_int_equal(snapshot_send_deadline(s), UINT64_MAX);
}

/* Rule: an abandoned transfer (a past term) sends nothing more. */
static void test_send_abandoned_sends_nothing(void **state)
{
    struct snapshot_send *s = *state;
    snapshot_send_abandon(s);
    uint64_t last = 0;
    assert_int_equal(drain(s, &last), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_send_window_bounds_chunks_in_flight, setup),
        cmocka_unit_test_setup(test_send_retransmits_from_acked_on_timeout,
                               setup),
        cmocka_unit_test_setup(test_send_resumes_from_receiver_offset, setup),
        cmocka_unit_test_setup(test_send_ignores_foreign_and_stale_replies,
                               setup),
        cmocka_unit_test_setup(test_send_done_ends_and_last_chunk_asks_again,
                               setup),
        cmocka_unit_test_setup(test_send_abandoned_sends_nothing, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
