/*
 * Unit tests for node/trace.c: leases (renewed, ended, expired, at most
 * TRACE_SUBS_MAX), the event of each message kind, heartbeat coalescing,
 * the token bucket and its drop count, and the batches each viewer gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "node/trace.h"

struct sent {
    uint32_t n_msgs;
    uint32_t n_events;
    uint32_t to_port[64];
    uint64_t last_dropped;
    uint32_t counts; /* Sum of the events' counts. */
    struct trace_event last[TRACE_EVENTS_PER_MSG];
    uint32_t n_last;
};

static void record_send(void *ctx, const struct raft_addr *to,
                        const struct raft_msg *msg)
{
    struct sent *s = ctx;
    assert_int_equal(msg->type, MSG_TRACE_EVENTS);
    assert_int_equal(msg->from, 1);
    assert_true(msg->u.trace_events.n <= TRACE_EVENTS_PER_MSG);
    if (s->n_msgs < 64) {
        s->to_port[s->n_msgs] = to->bytes[0];
    }
    s->n_msgs++;
    s->n_events += msg->u.trace_events.n;
    s->last_dropped = msg->u.trace_events.dropped;
    for (uint32_t i = 0; i < msg->u.trace_events.n; i++) {
        s->counts += msg->u.trace_events.events[i].count;
    }
    if (msg->u.trace_events.n > 0) {
        memcpy(s->last, msg->u.trace_events.events,
               msg->u.trace_events.n * sizeof(struct trace_event));
    }
    s->n_last = msg->u.trace_events.n;
}

static struct raft_addr addr(uint8_t k)
{
    struct raft_addr a;
    memset(&a, 0, sizeof a);
    a.len = 16;
    a.bytes[0] = k;
    return a;
}

static struct raft_msg append(raft_id to, raft_index prev, uint32_t n)
{
    static const struct raft_entry entries[4];
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = 1;
    m.to = to;
    m.term = 5;
    m.u.append.prev_index = prev;
    m.u.append.n_entries = n;
    m.u.append.entries = n > 0 ? entries : NULL;
    return m;
}

/* Rule: off until a lease; a lease ends when asked (0), when it expires,
 * and a fifth viewer is refused while four hold leases. */
static void test_trace_leases(void **state)
{
    (void)state;
    struct trace t;
    trace_init(&t);
    assert_false(trace_on(&t));
    assert_int_equal(trace_deadline(&t), UINT64_MAX);
    struct raft_addr a = addr(1);
    assert_true(trace_subscribe(&t, &a, 3000, 100));
    assert_true(trace_on(&t));
    assert_int_equal(trace_deadline(&t), 100 + TRACE_FLUSH_MS);
    assert_true(trace_subscribe(&t, &a, 3000, 2000)); /* Renewed. */
    assert_int_equal(t.n_live, 1);
    for (uint8_t k = 2; k <= TRACE_SUBS_MAX; k++) {
        struct raft_addr b = addr(k);
        assert_true(trace_subscribe(&t, &b, 1000, 2000));
    }
    struct raft_addr extra = addr(99);
    assert_false(trace_subscribe(&t, &extra, 1000, 2000));
    assert_int_equal(t.n_live, TRACE_SUBS_MAX);
    struct raft_addr b2 = addr(2);
    assert_true(trace_subscribe(&t, &b2, 0, 2100)); /* Ended. */
    assert_int_equal(t.n_live, TRACE_SUBS_MAX - 1);
    struct sent s;
    memset(&s, 0, sizeof s);
    trace_flush(&t, 3000, 1, 5, record_send, &s); /* 3 and 4 expire. */
    assert_int_equal(t.n_live, 1);
    trace_flush(&t, 5000, 1, 5, record_send, &s); /* a expires. */
    assert_false(trace_on(&t));
    assert_int_equal(s.n_msgs, 0); /* Nothing was recorded. */
}

/* Rule: each peer message kind maps to its event (pre-vote apart, index
 * and ok per kind); a client message is not traced. */
static void test_trace_event_kinds(void **state)
{
    (void)state;
    struct raft_msg m;
    struct trace_event e;
    memset(&m, 0, sizeof m);
    m.type = MSG_VOTE;
    m.to = 3;
    m.term = 7;
    m.u.vote.last_index = 40;
    m.u.vote.pre_vote = true;
    assert_true(trace_event_of(&m, 30, &e));
    assert_int_equal(e.kind, TRACE_PREVOTE);
    assert_int_equal(e.index, 40);
    assert_int_equal(e.term, 7);
    assert_int_equal(e.bytes, 30);
    m.u.vote.pre_vote = false;
    assert_true(trace_event_of(&m, 30, &e));
    assert_int_equal(e.kind, TRACE_VOTE);
    memset(&m, 0, sizeof m);
    m.type = MSG_VOTE_REPLY;
    m.to = 2;
    m.u.vote_reply.granted = true;
    assert_true(trace_event_of(&m, 10, &e));
    assert_int_equal(e.kind, TRACE_VOTE_REPLY);
    assert_true(e.ok);
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND_REPLY;
    m.to = 1;
    m.u.append_reply.success = false;
    m.u.append_reply.reject_index = 17;
    m.u.append_reply.match_index = 3;
    assert_true(trace_event_of(&m, 10, &e));
    assert_int_equal(e.kind, TRACE_APPEND_REPLY);
    assert_false(e.ok);
    assert_int_equal(e.index, 17);
    m.u.append_reply.success = true;
    assert_true(trace_event_of(&m, 10, &e));
    assert_int_equal(e.index, 3);
    m = append(2, 120, 3);
    assert_true(trace_event_of(&m, 900, &e));
    assert_int_equal(e.kind, TRACE_APPEND);
    assert_int_equal(e.index, 120);
    assert_int_equal(e.n, 3);
    memset(&m, 0, sizeof m);
    m.type = MSG_CLIENT;
    assert_false(trace_event_of(&m, 10, &e));
}

/* Rule: identical heartbeats within a batch become one event with a count
 * (costing no budget); appends with entries never coalesce; a heartbeat
 * to another member, or at another index, is an event of its own. */
static void test_trace_coalesces_heartbeats(void **state)
{
    (void)state;
    struct trace t;
    trace_init(&t);
    struct raft_addr a = addr(1);
    trace_subscribe(&t, &a, 3000, 0);
    for (int i = 0; i < 10; i++) {
        struct raft_msg hb = append(2, 50, 0);
        trace_record(&t, 1, &hb, 40);
    }
    struct raft_msg other = append(3, 50, 0);
    trace_record(&t, 2, &other, 40);
    struct raft_msg moved = append(2, 51, 0);
    trace_record(&t, 3, &moved, 40);
    for (int i = 0; i < 3; i++) {
        struct raft_msg full = append(2, 51, 2);
        trace_record(&t, 4, &full, 200);
    }
    assert_int_equal(t.n_pending, 6);
    assert_int_equal(t.recorded, 15);
    struct sent s;
    memset(&s, 0, sizeof s);
    trace_flush(&t, TRACE_FLUSH_MS, 1, 5, record_send, &s);
    assert_int_equal(s.n_msgs, 1);
    assert_int_equal(s.n_events, 6);
    assert_int_equal(s.counts, 15);
    assert_int_equal(s.last[0].count, 10);
    assert_int_equal(s.last[0].to, 2);
    assert_int_equal(s.last[0].age_ms, TRACE_FLUSH_MS - 1);
    assert_int_equal(s.last[1].to, 3);
    assert_int_equal(s.last[2].index, 51);
    assert_int_equal(s.last[3].n, 2);
    assert_int_equal(s.last_dropped, 0);
    assert_int_equal(t.n_pending, 0);
}

/* Rule: the bucket lets TRACE_BURST events through at once and
 * TRACE_RATE_PER_S per second on average; the rest are counted as dropped
 * and the count travels with each batch. */
static void test_trace_budget(void **state)
{
    (void)state;
    struct trace t;
    trace_init(&t);
    struct raft_addr a = addr(1);
    trace_subscribe(&t, &a, TRACE_LEASE_MS_MAX, 0);
    struct sent s;
    memset(&s, 0, sizeof s);
    /* 10 s of 10,000 appends per second (10 per ms). */
    raft_index idx = 1;
    for (uint64_t ms = 0; ms < 10000; ms++) {
        for (int k = 0; k < 10; k++) {
            struct raft_msg m = append(2, idx++, 1);
            trace_record(&t, ms, &m, 100);
        }
        trace_flush(&t, ms, 1, 5, record_send, &s);
    }
    uint64_t passed = s.n_events + t.n_pending;
    assert_int_equal(passed + t.dropped, 100000);
    assert_true(passed >= (uint64_t)TRACE_RATE_PER_S * 10);
    assert_true(passed <= (uint64_t)TRACE_RATE_PER_S * 10 + TRACE_BURST);
    assert_true(s.last_dropped > 0 && s.last_dropped <= t.dropped);
    /* One batch per flush, each within a datagram's events. */
    assert_true(s.n_msgs <= 10000 / TRACE_FLUSH_MS + 1);
}

/* Rule: a batch larger than TRACE_EVENTS_PER_MSG goes as several
 * datagrams, to every live viewer. */
static void test_trace_batches_split_and_fan_out(void **state)
{
    (void)state;
    struct trace t;
    trace_init(&t);
    struct raft_addr a = addr(1), b = addr(2);
    trace_subscribe(&t, &a, 3000, 0);
    trace_subscribe(&t, &b, 3000, 0);
    /* The burst at once, then what 25 ms earn, before one flush. */
    const uint32_t later = 25 * TRACE_RATE_PER_S / 1000;
    const uint32_t total = TRACE_BURST + later;
    assert_true(total > TRACE_EVENTS_PER_MSG && total <= TRACE_PENDING_MAX);
    for (uint32_t i = 0; i < total; i++) {
        struct raft_msg m = append(2, (raft_index)i, 1);
        trace_record(&t, i < TRACE_BURST ? 0 : 25, &m, 100);
    }
    assert_int_equal(t.dropped, 0);
    struct sent s;
    memset(&s, 0, sizeof s);
    trace_flush(&t, 25, 1, 5, record_send, &s);
    assert_int_equal(s.n_msgs, 4); /* Two datagrams to each viewer. */
    assert_int_equal(s.n_events, 2 * total);
    assert_int_equal(s.to_port[0], 1);
    assert_int_equal(s.to_port[1], 2);
    assert_int_equal(s.n_last, total - TRACE_EVENTS_PER_MSG);
    /* An ack is one empty batch with the drop count. */
    memset(&s, 0, sizeof s);
    trace_ack(&t, &a, 1, 5, record_send, &s);
    assert_int_equal(s.n_msgs, 1);
    assert_int_equal(s.n_events, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_leases),
        cmocka_unit_test(test_trace_event_kinds),
        cmocka_unit_test(test_trace_coalesces_heartbeats),
        cmocka_unit_test(test_trace_budget),
        cmocka_unit_test(test_trace_batches_split_and_fan_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
