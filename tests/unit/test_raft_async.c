/*
 * Unit tests of the core with raft_config.async_persist: raft_advance()
 * only means "written", and a leader counts its own copy toward commit only
 * for what raft_persisted() reported durable (thesis 10.2.1). One core is
 * driven by hand; its peers exist only as the messages the test steps in.
 * The lazy leader (raft_config.self_sync_ms, raft_sync_wanted) is tested
 * with the clock set by hand. The replica's side (holding
 * acknowledgements, asking syncs) is in test_replica.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/err.h"
#include "common/msg.h"
#include "node/raft.h"

#define HEARTBEAT_MS 50
#define SELF_UNSYNCED_MAX 8192 /* RAFT_SELF_UNSYNCED_MAX in node/raft.c. */
#define SELF_UNSYNCED_MS 10    /* RAFT_SELF_UNSYNCED_MS in node/raft.c. */

static const uint8_t payload[] = "p";

static struct raft_entry ent(raft_term term)
{
    struct raft_entry e = {term, RAFT_ENTRY_NORMAL, 1, payload};
    return e;
}

/* Node id of an n-member cluster, asynchronous persistence, a leader
 * leaving its own log unsynced for self_sync_ms (0: never); optional
 * loaded state (NULL: empty). */
static struct raft *new_lazy(raft_id id, uint32_t n,
                             const struct raft_loaded *loaded,
                             uint32_t self_sync_ms)
{
    struct raft_config c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.n_members = n;
    for (uint32_t i = 0; i < n; i++) {
        c.members[i] = i + 1;
    }
    c.heartbeat_ms = HEARTBEAT_MS;
    c.election_ms = 150;
    c.seed = id * 7919;
    c.batch_bytes_max = 60000;
    c.inflight_max = 4;
    c.async_persist = true;
    c.self_sync_ms = self_sync_ms;
    struct raft_loaded empty;
    memset(&empty, 0, sizeof empty);
    empty.first_index = 1;
    struct raft *r = raft_new(&c, loaded ? loaded : &empty, NULL, NULL, 1000);
    assert_non_null(r);
    return r;
}

static struct raft *new_async(raft_id id, uint32_t n,
                              const struct raft_loaded *loaded)
{
    return new_lazy(id, n, loaded, 0);
}

/* Takes every ready batch and "writes" it: raft_advance, never
 * raft_persisted. Messages are dropped. */
static void write_all(struct raft *r)
{
    for (int i = 0; i < 100 && raft_has_ready(r); i++) {
        struct raft_ready rd;
        raft_ready(r, &rd);
        raft_advance(r, &rd);
    }
    assert_false(raft_has_ready(r));
}

static void step(struct raft *r, const struct raft_msg *m)
{
    assert_int_equal(raft_step(r, raft_deadline(r), m), ERR_OK);
}

/* Runs r's election timer and, for a real election, grants it voter's
 * vote. Leaves r leader with its batches written. */
static void elect(struct raft *r, raft_id voter)
{
    assert_int_equal(raft_tick(r, raft_deadline(r)), ERR_OK);
    if (raft_role(r) == RAFT_CANDIDATE && voter == 0) {
        /* A lone voter: its vote counts once the caller reports it
         * durable, not when merely written. */
        write_all(r);
        assert_int_equal(raft_role(r), RAFT_CANDIDATE);
        assert_true(raft_deadline(r) > 1000 + 150);
        raft_persisted_term(r, raft_current_term(r));
        assert_int_equal(raft_tick(r, raft_deadline(r)), ERR_OK);
    } else if (raft_role(r) == RAFT_CANDIDATE) {
        struct raft_msg m;
        memset(&m, 0, sizeof m);
        m.type = MSG_VOTE_REPLY;
        m.from = voter;
        m.to = raft_self(r);
        m.term = raft_current_term(r);
        m.u.vote_reply.granted = true;
        step(r, &m);
    }
    assert_int_equal(raft_role(r), RAFT_LEADER);
    write_all(r);
}

/* Follower from acknowledges r's log up to match. */
static void ack(struct raft *r, raft_id from, raft_index match)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND_REPLY;
    m.from = from;
    m.to = raft_self(r);
    m.term = raft_current_term(r);
    m.u.append_reply.success = true;
    m.u.append_reply.match_index = match;
    m.u.append_reply.last_index = match;
    step(r, &m);
}

static void propose(struct raft *r)
{
    raft_index idx;
    assert_int_equal(
        raft_propose(r, raft_deadline(r), RAFT_ENTRY_NORMAL, payload, 1, &idx),
        ERR_OK);
}

/* A lone member commits nothing it merely wrote; raft_persisted commits
 * at once (no ready batch needed). */
static void test_async_single_node_commits_once_persisted(void **state)
{
    (void)state;
    struct raft *r = new_async(1, 1, NULL);
    elect(r, 0);
    assert_int_equal(raft_last_index(r), 1);
    assert_int_equal(raft_commit_index(r), 0);
    raft_persisted(r, 1);
    assert_int_equal(raft_commit_index(r), 1);
    propose(r);
    write_all(r);
    assert_int_equal(raft_commit_index(r), 1);
    raft_persisted(r, 2);
    assert_int_equal(raft_commit_index(r), 2);
    raft_free(r);
}

/* Leader of 3: one follower's ack plus the leader's unsynced write is no
 * majority; the leader's sync makes it one; two followers' acks are one
 * without the leader's sync. */
static void test_async_leader_counts_itself_once_persisted(void **state)
{
    (void)state;
    struct raft *r = new_async(1, 3, NULL);
    elect(r, 2);
    assert_int_equal(raft_last_index(r), 1); /* The no-op, written. */
    ack(r, 2, 1);
    write_all(r);
    assert_int_equal(raft_commit_index(r), 0);
    raft_persisted(r, 1);
    assert_int_equal(raft_commit_index(r), 1);

    propose(r);
    write_all(r);
    ack(r, 2, 2);
    write_all(r);
    assert_int_equal(raft_commit_index(r), 1);
    ack(r, 3, 2);
    assert_int_equal(raft_commit_index(r), 2); /* Leader not synced. */
    raft_persisted(r, 2);
    assert_int_equal(raft_commit_index(r), 2);
    raft_free(r);
}

/* A sync may report more than the core has written (it covered entries
 * since truncated, or a caller's slip): only written entries count. */
static void test_async_persisted_clamped_to_written(void **state)
{
    (void)state;
    struct raft *r = new_async(1, 3, NULL);
    elect(r, 2);
    raft_persisted(r, 1);
    ack(r, 2, 1);
    assert_int_equal(raft_commit_index(r), 1);
    propose(r);
    propose(r);
    assert_int_equal(raft_last_index(r), 3); /* In memory, not written. */
    raft_persisted(r, 3);
    assert_int_equal(raft_commit_index(r), 1);
    write_all(r);
    ack(r, 2, 3);
    /* Only one follower has 2..3 durable; the leader merely wrote them. */
    assert_int_equal(raft_commit_index(r), 1);
    raft_persisted(r, 3);
    assert_int_equal(raft_commit_index(r), 3);
    raft_free(r);
}

/* Node 1 has entries 1..5 of term 1, durable. A leader of term 2 truncates
 * it from 2 and writes one entry; no sync follows. When node 1 then leads
 * term 3 and appends 3..5 again, its durable count must be 1, not the 5 it
 * was before: one follower's ack of 5 is then no majority. */
static void test_async_truncation_lowers_synced(void **state)
{
    (void)state;
    struct raft_entry e[5] = {ent(1), ent(1), ent(1), ent(1), ent(1)};
    struct raft_loaded l;
    memset(&l, 0, sizeof l);
    l.first_index = 1;
    l.term = 1;
    l.n_entries = 5;
    l.entries = e;
    struct raft *r = new_async(1, 3, &l);

    struct raft_entry e2 = ent(2);
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = 2;
    m.to = 1;
    m.term = 2;
    m.u.append.prev_index = 1;
    m.u.append.prev_term = 1;
    m.u.append.entries = &e2;
    m.u.append.n_entries = 1;
    step(r, &m);
    assert_int_equal(raft_last_index(r), 2);
    write_all(r);

    elect(r, 3);
    assert_int_equal(raft_current_term(r), 3);
    assert_int_equal(raft_last_index(r), 3);
    propose(r);
    propose(r);
    write_all(r);
    assert_int_equal(raft_last_index(r), 5);
    ack(r, 3, 5);
    assert_int_equal(raft_commit_index(r), 0);
    raft_persisted(r, 5);
    assert_int_equal(raft_commit_index(r), 5);
    raft_free(r);
}

/* --- The lazy leader (self_sync_ms) ----------------------------------- */

/* What the ready batches taken by drain() carried. */
struct seen {
    uint64_t ctx;                /* Highest heartbeat round of an append. */
    size_t n_read_replies_now;   /* MSG_READ_INDEX_REPLY in msgs_now, */
    size_t n_read_replies_after; /* and in msgs_after. */
    struct raft_msg read_reply;  /* The last one. */
};

static void seen_msgs(struct seen *s, const struct raft_msg *msgs, size_t n,
                      size_t *n_read_replies)
{
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].type == MSG_APPEND && msgs[i].u.append.ctx > s->ctx) {
            s->ctx = msgs[i].u.append.ctx;
        }
        if (msgs[i].type == MSG_READ_INDEX_REPLY) {
            (*n_read_replies)++;
            s->read_reply = msgs[i];
        }
    }
}

/* write_all, noting in s what the batches carried. */
static void drain(struct raft *r, struct seen *s)
{
    for (int i = 0; i < 100 && raft_has_ready(r); i++) {
        struct raft_ready rd;
        raft_ready(r, &rd);
        seen_msgs(s, rd.msgs_now, rd.n_msgs_now, &s->n_read_replies_now);
        seen_msgs(s, rd.msgs_after, rd.n_msgs_after, &s->n_read_replies_after);
        raft_advance(r, &rd);
    }
    assert_false(raft_has_ready(r));
}

static void step_at(struct raft *r, uint64_t now, const struct raft_msg *m)
{
    assert_int_equal(raft_step(r, now, m), ERR_OK);
}

static void tick_at(struct raft *r, uint64_t now)
{
    assert_int_equal(raft_tick(r, now), ERR_OK);
}

/* Follower from acknowledges r's log up to match and round ctx at now. */
static void ack_at(struct raft *r, raft_id from, raft_index match, uint64_t ctx,
                   uint64_t now)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND_REPLY;
    m.from = from;
    m.to = raft_self(r);
    m.term = raft_current_term(r);
    m.u.append_reply.success = true;
    m.u.append_reply.match_index = match;
    m.u.append_reply.last_index = match;
    m.u.append_reply.ctx = ctx;
    step_at(r, now, &m);
}

static void propose_at(struct raft *r, uint64_t now)
{
    raft_index idx;
    assert_int_equal(raft_propose(r, now, RAFT_ENTRY_NORMAL, payload, 1, &idx),
                     ERR_OK);
}

/* A lazy leader: node 1 of 3 with self_sync_ms, elected at t - 1 (its
 * heartbeat due at t - 1 + HEARTBEAT_MS), its no-op (index 1) written,
 * never synced, and acknowledged by both followers at t, with the round
 * of its first appends: committed by them alone, both pipelined. Its log
 * is unsynced since t - 1, so with self_sync_ms != 0 it wants a sync from
 * t - 1 + SELF_UNSYNCED_MS on (backlog_due). Sets *t; *ctx (optional)
 * gets that round. */
static struct raft *lazy_leader(uint32_t self_sync_ms, uint64_t *t,
                                uint64_t *ctx)
{
    struct raft *r = new_lazy(1, 3, NULL, self_sync_ms);
    uint64_t elected = raft_deadline(r);
    tick_at(r, elected);
    assert_int_equal(raft_role(r), RAFT_CANDIDATE);
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_VOTE_REPLY;
    m.from = 2;
    m.to = 1;
    m.term = raft_current_term(r);
    m.u.vote_reply.granted = true;
    step_at(r, elected, &m);
    assert_int_equal(raft_role(r), RAFT_LEADER);
    struct seen s;
    memset(&s, 0, sizeof s);
    drain(r, &s);
    assert_true(s.ctx > 0);
    /* Its no-op written, unsynced: nobody acknowledged yet. */
    assert_true(raft_sync_wanted(r));
    *t = elected + 1;
    ack_at(r, 2, 1, s.ctx, *t);
    ack_at(r, 3, 1, s.ctx, *t);
    write_all(r);
    assert_int_equal(raft_last_index(r), 1);
    assert_int_equal(raft_commit_index(r), 1);
    if (ctx != NULL) {
        *ctx = s.ctx;
    }
    return r;
}

/* When lazy_leader's leader wants a sync for its unsynced no-op alone. */
static uint64_t backlog_due(uint64_t t)
{
    return t - 1 + SELF_UNSYNCED_MS;
}

/* The followers alone commit everything: the leader wants no sync of its
 * own unsynced log (while it is younger than SELF_UNSYNCED_MS), and its
 * deadline is no earlier than that log's age limit. */
static void test_lazy_no_sync_while_followers_commit(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = lazy_leader(1, &t, NULL);
    assert_false(raft_sync_wanted(r)); /* The no-op: unsynced. */
    propose_at(r, t + 1);
    propose_at(r, t + 1);
    write_all(r);
    assert_false(raft_sync_wanted(r));
    ack_at(r, 2, 3, 0, t + 2);
    ack_at(r, 3, 3, 0, t + 2);
    write_all(r);
    assert_int_equal(raft_commit_index(r), 3);
    assert_false(raft_sync_wanted(r));
    tick_at(r, backlog_due(t) - 1);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), backlog_due(t));
    raft_free(r);
}

/* One follower acknowledges: the leader's own copy would commit the entry.
 * It wants a sync self_sync_ms later, and not before; its deadline is
 * that due time while it is ahead, never once it has passed (else the
 * caller would spin on a deadline <= now). All before backlog_due(t),
 * which is then the next deadline. */
static void test_lazy_sync_wanted_once_own_copy_needed(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = lazy_leader(1, &t, NULL);
    uint64_t hb = t - 1 + HEARTBEAT_MS;
    propose_at(r, t + 2);
    write_all(r);
    ack_at(r, 2, 2, 0, t + 2);
    write_all(r);
    assert_int_equal(raft_commit_index(r), 1);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), t + 3);
    tick_at(r, t + 2);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), t + 3);
    tick_at(r, t + 3);
    assert_true(raft_sync_wanted(r));
    /* Not t + 3: no busy loop. */
    assert_int_equal(raft_deadline(r), backlog_due(t));
    tick_at(r, t + 5);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), backlog_due(t));
    /* The same through a message rather than a tick. */
    ack_at(r, 2, 2, 0, backlog_due(t) - 1);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), backlog_due(t));
    raft_persisted(r, 2);
    assert_int_equal(raft_commit_index(r), 2);
    assert_true(raft_sync_wanted(r)); /* Nothing unsynced: harmless. */
    assert_int_equal(raft_deadline(r), hb);
    raft_free(r);
}

/* The wait counts from when the leader's copy first became needed, not
 * from its latest write or acknowledgement. */
static void test_lazy_need_kept_across_writes(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = lazy_leader(5, &t, NULL);
    propose_at(r, t + 1);
    write_all(r);
    ack_at(r, 2, 2, 0, t + 1); /* Needed since t + 1: due t + 6. */
    propose_at(r, t + 4);
    write_all(r);
    ack_at(r, 2, 3, 0, t + 5);
    write_all(r);
    assert_int_equal(raft_commit_index(r), 1);
    assert_int_equal(raft_deadline(r), t + 6);
    tick_at(r, t + 5);
    assert_false(raft_sync_wanted(r));
    tick_at(r, t + 6);
    assert_true(raft_sync_wanted(r));
    /* Node 3 catches up: the followers commit, the need is gone. */
    ack_at(r, 3, 3, 0, t + 7);
    assert_int_equal(raft_commit_index(r), 3);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), backlog_due(t)); /* Not t + 6. */
    raft_free(r);
}

/* self_sync_ms 0: the leader wants every write synced at once, and its
 * deadline never carries a due time for it. */
static void test_lazy_off_always_wants_sync(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = lazy_leader(0, &t, NULL);
    assert_true(raft_sync_wanted(r));
    propose_at(r, t + 1);
    write_all(r);
    assert_true(raft_sync_wanted(r));
    ack_at(r, 2, 2, 0, t + 1);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), t - 1 + HEARTBEAT_MS);
    ack_at(r, 3, 2, 0, t + 1);
    assert_int_equal(raft_commit_index(r), 2);
    assert_true(raft_sync_wanted(r));
    raft_free(r);
}

/* Only a leader leaves its log unsynced: one that steps down (its
 * followers' fresh acknowledgements still on record), a candidate and a
 * plain follower each want their writes synced. */
static void test_lazy_non_leader_always_wants_sync(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = lazy_leader(1, &t, NULL);
    propose_at(r, t + 1);
    write_all(r);
    ack_at(r, 2, 2, 0, t + 1);
    ack_at(r, 3, 2, 0, t + 1);
    write_all(r);
    assert_false(raft_sync_wanted(r));
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = 2;
    m.to = 1;
    m.term = raft_current_term(r) + 1;
    m.u.append.prev_index = 2;
    m.u.append.prev_term = raft_current_term(r);
    m.u.append.commit = 2;
    step_at(r, t + 2, &m);
    assert_int_equal(raft_role(r), RAFT_FOLLOWER);
    write_all(r);
    assert_true(raft_sync_wanted(r));
    tick_at(r, raft_deadline(r));
    assert_int_equal(raft_role(r), RAFT_CANDIDATE);
    write_all(r);
    assert_true(raft_sync_wanted(r));
    raft_free(r);

    struct raft *f = new_lazy(2, 3, NULL, 1);
    struct raft_entry e = ent(1);
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = 1;
    m.to = 2;
    m.term = 1;
    m.u.append.entries = &e;
    m.u.append.n_entries = 1;
    step_at(f, 1000, &m);
    write_all(f);
    assert_int_equal(raft_role(f), RAFT_FOLLOWER);
    assert_int_equal(raft_last_index(f), 1);
    assert_true(raft_sync_wanted(f));
    raft_free(f);
}

/* Followers count only pipelined and acknowledged within two heartbeats:
 * a new leader before any acknowledgement wants a sync (tested in
 * lazy_leader), and so does one whose followers fell silent. The leader
 * keeps its unsynced log young (a partial sync restarts its age): only
 * the followers' silence counts. */
static void test_lazy_stale_followers_want_sync(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = lazy_leader(1, &t, NULL);
    propose_at(r, t);
    propose_at(r, t);
    propose_at(r, t);
    write_all(r);
    ack_at(r, 2, 4, 0, t);
    ack_at(r, 3, 4, 0, t);
    write_all(r);
    assert_int_equal(raft_commit_index(r), 4);
    assert_false(raft_sync_wanted(r));
    tick_at(r, t + HEARTBEAT_MS); /* Heartbeats, nothing in flight. */
    write_all(r);
    raft_persisted(r, 2); /* 3..4 unsynced since t + HEARTBEAT_MS. */
    assert_false(raft_sync_wanted(r));
    tick_at(r, t + 2 * HEARTBEAT_MS - 1);
    raft_persisted(r, 3); /* 4 unsynced since t + 2 * HEARTBEAT_MS - 1. */
    tick_at(r, t + 2 * HEARTBEAT_MS);
    write_all(r);
    assert_false(raft_sync_wanted(r));
    tick_at(r, t + 2 * HEARTBEAT_MS + 1);
    assert_true(raft_sync_wanted(r));
    ack_at(r, 2, 4, 0, t + 2 * HEARTBEAT_MS + 1);
    assert_true(raft_sync_wanted(r)); /* One fresh follower is no quorum. */
    ack_at(r, 3, 4, 0, t + 2 * HEARTBEAT_MS + 1);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_role(r), RAFT_LEADER);
    raft_free(r);
}

/* --- The backlog age (SELF_UNSYNCED_MS) ------------------------------- */

/* lazy_leader with its no-op synced: nothing unsynced, no backlog timer. */
static struct raft *synced_lazy_leader(uint32_t self_sync_ms, uint64_t *t)
{
    struct raft *r = lazy_leader(self_sync_ms, t, NULL);
    raft_persisted(r, 1);
    assert_int_equal(raft_deadline(r), *t - 1 + HEARTBEAT_MS);
    return r;
}

/* Proposes one entry at now, writes it and has both followers acknowledge
 * it at now: committed by them, the leader's copy unsynced. */
static void write_committed(struct raft *r, uint64_t now)
{
    propose_at(r, now);
    write_all(r);
    ack_at(r, 2, raft_last_index(r), 0, now);
    ack_at(r, 3, raft_last_index(r), 0, now);
    write_all(r);
    assert_int_equal(raft_commit_index(r), raft_last_index(r));
}

/* Though its followers commit everything, a lazy leader wants a sync once
 * its log has had unsynced entries for SELF_UNSYNCED_MS, counted from the
 * first of them (later writes do not move it). Its deadline is that due
 * time while it is ahead, never once it has passed. */
static void test_lazy_backlog_sync_due(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = synced_lazy_leader(1, &t);
    uint64_t hb = t - 1 + HEARTBEAT_MS;
    uint64_t s = t + 2;
    uint64_t due = s + SELF_UNSYNCED_MS;
    write_committed(r, s);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), due);
    write_committed(r, s + 5);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), due);
    tick_at(r, due - 1);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), due);
    tick_at(r, due);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), hb); /* Not due: no busy loop. */
    tick_at(r, due + 10);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), hb);
    /* The same through a message rather than a tick. */
    ack_at(r, 2, 3, 0, due + 15);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), hb);
    raft_free(r);
}

/* A sync covering everything written stops the timer: the deadline drops
 * it, and the next write starts it afresh. */
static void test_lazy_backlog_timer_off_once_synced(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = synced_lazy_leader(1, &t);
    uint64_t hb = t - 1 + HEARTBEAT_MS;
    write_committed(r, t + 2);
    assert_int_equal(raft_deadline(r), t + 2 + SELF_UNSYNCED_MS);
    tick_at(r, t + 5);
    raft_persisted(r, 2);
    assert_int_equal(raft_deadline(r), hb);
    tick_at(r, t + 2 + SELF_UNSYNCED_MS);
    assert_int_equal(raft_deadline(r), hb);
    uint64_t s = t + 20;
    write_committed(r, s);
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), s + SELF_UNSYNCED_MS);
    tick_at(r, s + SELF_UNSYNCED_MS - 1);
    assert_false(raft_sync_wanted(r));
    tick_at(r, s + SELF_UNSYNCED_MS);
    assert_true(raft_sync_wanted(r));
    raft_free(r);
}

/* A sync covering only part of the log (what was written when it was
 * asked) restarts the timer at the time the core last heard of (its last
 * tick or step): what is left counts from then. */
static void test_lazy_backlog_partial_sync_restarts(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = synced_lazy_leader(1, &t);
    uint64_t s = t + 2;
    write_committed(r, s);
    write_committed(r, s + 3);
    assert_int_equal(raft_deadline(r), s + SELF_UNSYNCED_MS);
    tick_at(r, s + 6);
    raft_persisted(r, 2); /* 3 is left. */
    uint64_t due = s + 6 + SELF_UNSYNCED_MS;
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), due);
    tick_at(r, s + SELF_UNSYNCED_MS); /* Due had the timer not restarted. */
    assert_false(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), due);
    tick_at(r, due - 1);
    assert_false(raft_sync_wanted(r));
    tick_at(r, due);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), t - 1 + HEARTBEAT_MS);
    raft_free(r);
}

/* self_sync_ms 0: the leader wants every write synced anyway, and its
 * deadline never carries the backlog's due time. */
static void test_lazy_off_no_backlog_deadline(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = lazy_leader(0, &t, NULL);
    uint64_t hb = t - 1 + HEARTBEAT_MS;
    assert_int_equal(raft_deadline(r), hb); /* No-op unsynced since t - 1. */
    write_committed(r, t + 2);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), hb);
    tick_at(r, backlog_due(t) - 1);
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), hb);
    tick_at(r, backlog_due(t));
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), hb);
    raft_persisted(r, 1); /* Partial: 2 left. */
    assert_true(raft_sync_wanted(r));
    assert_int_equal(raft_deadline(r), hb);
    raft_free(r);
}

/* Proposes and writes until the leader's last index is last, then both
 * followers acknowledge it at now. */
static void fill_to(struct raft *r, raft_index last, uint64_t now)
{
    while (raft_last_index(r) < last) {
        propose_at(r, now);
    }
    write_all(r);
    ack_at(r, 2, last, 0, now);
    ack_at(r, 3, last, 0, now);
    write_all(r);
    assert_int_equal(raft_commit_index(r), last);
}

/* However well the followers commit, at most SELF_UNSYNCED_MAX - 1 entries
 * stay unsynced behind the leader. */
static void test_lazy_unsynced_bounded(void **state)
{
    (void)state;
    uint64_t t;
    struct raft *r = lazy_leader(1, &t, NULL);
    fill_to(r, SELF_UNSYNCED_MAX - 1, t);
    assert_false(raft_sync_wanted(r));
    fill_to(r, SELF_UNSYNCED_MAX, t);
    assert_true(raft_sync_wanted(r));
    raft_persisted(r, 1);
    assert_false(raft_sync_wanted(r));
    raft_free(r);
}

/* A leader's answer to a follower's MSG_READ_INDEX goes in msgs_now: its
 * term is durable, and in msgs_after it would wait for a sync the lazy
 * leader does not ask. */
static void test_lazy_read_index_reply_goes_now(void **state)
{
    (void)state;
    uint64_t t;
    uint64_t ctx;
    struct raft *r = lazy_leader(1, &t, &ctx);
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_READ_INDEX;
    m.from = 2;
    m.to = 1;
    m.term = raft_current_term(r);
    m.u.read_index.read_id = 77;
    step_at(r, t + 1, &m);
    struct seen s;
    memset(&s, 0, sizeof s);
    drain(r, &s);
    assert_true(s.ctx > ctx); /* A new round for the read. */
    assert_int_equal(s.n_read_replies_now + s.n_read_replies_after, 0);
    ack_at(r, 2, 1, s.ctx, t + 2);
    memset(&s, 0, sizeof s);
    drain(r, &s);
    assert_int_equal(s.n_read_replies_now, 1);
    assert_int_equal(s.n_read_replies_after, 0);
    assert_int_equal(s.read_reply.to, 2);
    assert_true(s.read_reply.u.read_index_reply.ok);
    assert_int_equal(s.read_reply.u.read_index_reply.read_id, 77);
    assert_int_equal(s.read_reply.u.read_index_reply.index, 1);
    assert_false(raft_sync_wanted(r)); /* Its own no-op still unsynced. */
    raft_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_single_node_commits_once_persisted),
        cmocka_unit_test(test_async_leader_counts_itself_once_persisted),
        cmocka_unit_test(test_async_persisted_clamped_to_written),
        cmocka_unit_test(test_async_truncation_lowers_synced),
        cmocka_unit_test(test_lazy_no_sync_while_followers_commit),
        cmocka_unit_test(test_lazy_sync_wanted_once_own_copy_needed),
        cmocka_unit_test(test_lazy_need_kept_across_writes),
        cmocka_unit_test(test_lazy_off_always_wants_sync),
        cmocka_unit_test(test_lazy_non_leader_always_wants_sync),
        cmocka_unit_test(test_lazy_stale_followers_want_sync),
        cmocka_unit_test(test_lazy_backlog_sync_due),
        cmocka_unit_test(test_lazy_backlog_timer_off_once_synced),
        cmocka_unit_test(test_lazy_backlog_partial_sync_restarts),
        cmocka_unit_test(test_lazy_off_no_backlog_deadline),
        cmocka_unit_test(test_lazy_unsynced_bounded),
        cmocka_unit_test(test_lazy_read_index_reply_goes_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
