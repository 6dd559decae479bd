/*
 * Unit tests of node/replica.c's asynchronous sync path, over the fake-io
 * cluster of replica_harness.c: with io->sync NULL a persist is durable on
 * return; with io->sync set a persist only writes, and what depends on it
 * (an acknowledgement, a vote, a grant, a client answer) waits for the sync
 * the test finishes (replica_on_synced), one sync at a time. With
 * self_sync_ms too (the lazy tests), a leader whose followers commit leaves
 * its own writes unsynced until its log is SELF_UNSYNCED_MS old, a commit
 * needs its copy, or it holds a reply behind them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/msg.h"
#include "node/raft.h"
#include "node/replica.h"
#include "tests/unit/replica_harness.h"

#define SELF_UNSYNCED_MS 10 /* RAFT_SELF_UNSYNCED_MS in node/raft.c. */

/* --- The sync path (io->sync) ----------------------------------------- */

/* Without io->sync a persist is durable on return: the follower's
 * acknowledgement leaves in the same drain. */
static void test_replica_sync_null_sends_ack_at_once(void **state)
{
    struct cluster *c = *state;
    elect(c, 1);
    heartbeat(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    assert_int_equal(replica_drain(node(c, 1)->rep, c->now), ERR_OK);
    hand_over(c, 1);
    struct tnode *f = node(c, 2);
    assert_int_equal(replica_drain(f->rep, c->now), ERR_OK);
    assert_int_equal(f->n_out, 1);
    assert_int_equal(f->outbox[0].msg.type, MSG_APPEND_REPLY);
    assert_true(f->outbox[0].msg.u.append_reply.success);
    assert_int_equal(f->outbox[0].msg.u.append_reply.match_index,
                     raft_last_index(core(c, 1)));
    assert_int_equal(f->n_sync, 0);
}

/* With io->sync a follower's acknowledgement waits for the sync asked
 * after its write (fake_send checks durability on every send); the drain
 * asks one sync and no second while it runs. The leader counts its own
 * write only once its own sync is done. */
static void test_replica_async_ack_waits_for_sync(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    struct tnode *f = node(c, 2);
    elect(c, 1);
    heartbeat(c, 1);
    size_t f_syncs = f->n_sync;
    size_t f_persists = f->n_persist;
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_true(l->is_syncing);
    raft_index last = raft_last_index(core(c, 1));
    hand_over(c, 1);
    assert_int_equal(replica_drain(f->rep, c->now), ERR_OK);
    assert_int_equal(f->n_persist, f_persists + 1);
    assert_int_equal(f->n_out, 0); /* Written, not durable: held. */
    assert_int_equal(f->n_sync, f_syncs + 1);
    assert_int_equal(replica_drain(f->rep, c->now), ERR_OK);
    assert_int_equal(f->n_sync, f_syncs + 1);
    assert_int_equal(f->n_out, 0);
    sync_done(c, 2);
    assert_int_equal(f->n_out, 1);
    assert_int_equal(f->outbox[0].msg.type, MSG_APPEND_REPLY);
    assert_true(f->outbox[0].msg.u.append_reply.success);
    assert_int_equal(f->outbox[0].msg.u.append_reply.match_index, last);
    /* Node 3 stays silent: the leader's own unsynced copy is no vote. */
    hand_over(c, 2);
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(raft_commit_index(core(c, 1)), last - 1);
    assert_int_equal(l->n_replies, 0);
    sync_done(c, 1);
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(raft_commit_index(core(c, 1)), last);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_OK);
}

/* A candidate's RequestVotes and a voter's grant each wait for the sync
 * that makes the new term and vote durable. */
static void test_replica_async_vote_waits_for_sync(void **state)
{
    struct cluster *c = *state;
    struct tnode *cand = node(c, 1);
    struct tnode *voter = node(c, 2);
    c->now += 2 * ELECTION_MS;
    assert_int_equal(replica_tick(cand->rep, c->now), ERR_OK);
    assert_int_equal(replica_drain(cand->rep, c->now), ERR_OK);
    assert_int_equal(cand->n_out, 2); /* Pre-votes change nothing. */
    assert_int_equal(cand->n_sync, 0);
    hand_over(c, 1);
    assert_int_equal(replica_drain(voter->rep, c->now), ERR_OK);
    assert_int_equal(voter->n_out, 1); /* Nothing pending: at once. */
    hand_over(c, 2);
    assert_int_equal(raft_role(core(c, 1)), RAFT_CANDIDATE);
    assert_int_equal(replica_drain(cand->rep, c->now), ERR_OK);
    assert_int_equal(cand->n_out, 0);
    assert_int_equal(cand->n_sync, 1);
    sync_done(c, 1);
    assert_int_equal(cand->n_out, 2);
    assert_int_equal(cand->outbox[0].msg.type, MSG_VOTE);
    assert_false(cand->outbox[0].msg.u.vote.pre_vote);
    hand_over(c, 1);
    assert_int_equal(replica_drain(voter->rep, c->now), ERR_OK);
    assert_int_equal(voter->n_out, 0);
    assert_int_equal(voter->n_sync, 1);
    sync_done(c, 2);
    assert_int_equal(voter->n_out, 1);
    assert_int_equal(voter->outbox[0].msg.type, MSG_VOTE_REPLY);
    assert_true(voter->outbox[0].msg.u.vote_reply.granted);
    hand_over(c, 2);
    assert_int_equal(raft_role(core(c, 1)), RAFT_LEADER);
}

/* One sync at a time: writes made while one runs wait for the next, which
 * the first drain after it finished asks for; with nothing written since,
 * no sync is asked. A lone voter leads once the sync of its vote is done
 * (not when written), and answers only what its sync covered. */
static void test_replica_async_one_sync_at_a_time(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    c->now += 2 * ELECTION_MS;
    assert_int_equal(replica_tick(t->rep, c->now), ERR_OK);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(raft_role(core(c, 1)), RAFT_CANDIDATE);
    assert_int_equal(t->n_sync, 1); /* Its term and vote. */
    assert_true(replica_deadline(t->rep) > c->now);
    sync_done(c, 1);
    assert_int_equal(replica_deadline(t->rep), c->now);
    assert_int_equal(replica_tick(t->rep, c->now), ERR_OK);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(raft_role(core(c, 1)), RAFT_LEADER);
    assert_int_equal(t->n_sync, 2);
    assert_int_equal(raft_commit_index(core(c, 1)), 0);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_sync, 2); /* Nothing new written. */
    size_t persists = t->n_persist;
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_persist, persists + 1);
    assert_int_equal(t->n_sync, 2); /* The no-op's still runs. */
    sync_done(c, 1);
    assert_int_equal(raft_commit_index(core(c, 1)), 1); /* The no-op. */
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_sync, 3); /* For the put, written meanwhile. */
    assert_int_equal(t->n_replies, 0);
    assert_false(kv_has(t, "k", "v"));
    sync_done(c, 1);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 1);
    assert_int_equal(t->replies[0].status, CLIENT_OK);
    assert_true(kv_has(t, "k", "v"));
    assert_int_equal(t->n_sync, 3); /* Applying wrote nothing. */
    assert_false(t->is_syncing);
}

/* End to end with every replica syncing asynchronously. */
static void test_replica_async_cluster_put_commits(void **state)
{
    struct cluster *c = *state;
    elect(c, 1);
    heartbeat(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(node(c, 1)->n_replies, 1);
    assert_int_equal(node(c, 1)->replies[0].status, CLIENT_OK);
    heartbeat(c, 1);
    for (raft_id id = 1; id <= 3; id++) {
        assert_true(kv_has(node(c, id), "k", "v"));
        assert_true(node(c, id)->n_sync > 0);
    }
}

/* A follower whose append both commits earlier entries and brings new ones
 * writes the new ones and asks for their sync first, and applies while
 * the sync runs: its acknowledgement waits for the sync, not the apply. */
static void test_replica_async_follower_syncs_before_applying(void **state)
{
    struct cluster *c = *state;
    struct tnode *f = node(c, 2);
    elect(c, 1);
    heartbeat(c, 1);
    raft_index noop = raft_commit_index(core(c, 2));
    assert_int_equal(mem_kv_applied(&f->kv), noop);
    /* Put 1 reaches the followers and is acknowledged: it commits. */
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "1", NULL));
    assert_int_equal(replica_drain(node(c, 1)->rep, c->now), ERR_OK);
    hand_over(c, 1);
    for (raft_id id = 2; id <= 3; id++) {
        assert_int_equal(replica_drain(node(c, id)->rep, c->now), ERR_OK);
        sync_done(c, id);
        hand_over(c, id);
    }
    /* Put 2 goes out before the followers heard that put 1 committed. */
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 2, "k", "2", NULL));
    assert_int_equal(replica_drain(node(c, 1)->rep, c->now), ERR_OK);
    assert_int_equal(raft_commit_index(core(c, 1)), noop + 1);
    hand_over(c, 1);
    size_t syncs = f->n_sync;
    assert_int_equal(replica_drain(f->rep, c->now), ERR_OK);
    assert_int_equal(f->n_sync, syncs + 1);
    assert_int_equal(f->asked_last, noop + 2);
    assert_int_equal(f->kv_applied_at_sync, noop);      /* Not yet put 1. */
    assert_int_equal(mem_kv_applied(&f->kv), noop + 1); /* Then it. */
    assert_true(kv_has(f, "k", "1"));
    deliver(c);
    assert_true(kv_has(node(c, 1), "k", "2"));
}

/* --- The lazy leader (self_sync_ms) ----------------------------------- */

/* Node 1 leads with both followers pipelined and just acknowledged; every
 * write of its own so far is synced. Returns its sync count. */
static size_t lazy_elect(struct cluster *c)
{
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    assert_false(l->is_syncing);
    assert_true(l->n_sync > 0); /* Its no-op, before any ack. */
    assert_int_equal(l->durable_last, l->written_last);
    return l->n_sync;
}

/* The followers' syncs commit the leader's writes: the leader asks no sync
 * of its own, still answers its clients, and sets no deadline for it
 * before its unsynced log is SELF_UNSYNCED_MS old. */
static void test_replica_lazy_leader_skips_own_sync(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 2, "k2", "v2", NULL));
    deliver(c);
    assert_int_equal(l->n_sync, syncs);
    assert_int_equal(l->n_replies, 2);
    assert_int_equal(l->replies[0].status, CLIENT_OK);
    assert_int_equal(l->replies[1].status, CLIENT_OK);
    assert_true(kv_has(l, "k2", "v2"));
    assert_int_equal(raft_commit_index(core(c, 1)),
                     raft_last_index(core(c, 1)));
    assert_int_equal(l->written_last, raft_last_index(core(c, 1)));
    assert_true(l->durable_last < l->written_last);
    assert_true(node(c, 2)->n_sync > 0);
    assert_int_equal(replica_deadline(l->rep), c->now + SELF_UNSYNCED_MS);
}

/* Though its followers commit, a leader whose log has been unsynced for
 * SELF_UNSYNCED_MS (its deadline) asks a sync then, and not before. */
static void test_replica_lazy_leader_syncs_old_backlog(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    assert_true(l->durable_last < l->written_last);
    uint64_t due = c->now + SELF_UNSYNCED_MS;
    assert_int_equal(replica_deadline(l->rep), due);
    c->now = due - 1;
    assert_int_equal(replica_tick(l->rep, c->now), ERR_OK);
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_sync, syncs);
    c->now = due;
    assert_int_equal(replica_tick(l->rep, c->now), ERR_OK);
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_sync, syncs + 1);
    assert_true(replica_deadline(l->rep) > c->now);
    sync_done(c, 1);
    assert_int_equal(l->durable_last, l->written_last);
    assert_true(replica_deadline(l->rep) > c->now);
}

/* With one follower down the leader's own copy is needed: no sync at the
 * acknowledgement, one LAZY_SYNC_MS later (its deadline), then the
 * client is answered. */
static void test_replica_lazy_leader_syncs_when_needed(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    node(c, 3)->is_down = true;
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(l->n_sync, syncs);
    assert_int_equal(l->n_replies, 0);
    assert_int_equal(replica_deadline(l->rep), c->now + LAZY_SYNC_MS);
    c->now += LAZY_SYNC_MS;
    assert_int_equal(replica_tick(l->rep, c->now), ERR_OK);
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_sync, syncs + 1);
    assert_true(replica_deadline(l->rep) > c->now);
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_OK);
    assert_int_equal(l->durable_last, l->written_last);
}

/* A vote request for the lazy leader (with unsynced writes of its own). */
static struct raft_msg lazy_vote(struct cluster *c, raft_id from, bool pre_vote,
                                 bool transfer)
{
    const struct raft *r = core(c, 1);
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_VOTE;
    m.from = from;
    m.to = 1;
    m.term = raft_current_term(r) + 1;
    m.u.vote.last_index = raft_last_index(r);
    m.u.vote.last_term = raft_current_term(r);
    m.u.vote.pre_vote = pre_vote;
    m.u.vote.transfer = transfer;
    return m;
}

/* Node 1 leads lazily with a put written but unsynced, then gets a vote
 * request from `from`: it must ask exactly one sync (the core alone would
 * want none), send nothing until it is done, then send one vote reply,
 * which is returned. */
static const struct raft_msg *
vote_answer_after_sync(struct cluster *c, raft_id from, bool pre_vote,
                       bool transfer, int role_after)
{
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(l->n_sync, syncs);
    assert_true(l->durable_last < l->written_last);
    assert_false(raft_sync_wanted(core(c, 1)));
    struct raft_msg m = lazy_vote(c, from, pre_vote, transfer);
    assert_int_equal(replica_on_message(l->rep, c->now, &m), ERR_OK);
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(raft_role(core(c, 1)), role_after);
    assert_int_equal(l->n_out, 0);
    assert_int_equal(l->n_sync, syncs + 1);
    sync_done(c, 1);
    assert_int_equal(l->n_out, 1);
    assert_int_equal(l->outbox[0].msg.type, MSG_VOTE_REPLY);
    return &l->outbox[0].msg;
}

/* A held message needs a sync even from a lazy leader: a refused pre-vote
 * reply waiting behind unsynced writes makes it sync, though its core
 * wants none, and it stays leader. */
static void test_replica_lazy_leader_syncs_for_held_reply(void **state)
{
    const struct raft_msg *r =
        vote_answer_after_sync(*state, 3, true, false, RAFT_LEADER);
    assert_true(r->u.vote_reply.pre_vote);
    assert_false(r->u.vote_reply.granted);
}

/* A leader that steps down to grant a vote (a leadership transfer) syncs
 * its unsynced writes and the vote before the grant leaves (fake_send
 * checks the vote is durable). */
static void test_replica_lazy_leader_syncs_to_grant_vote(void **state)
{
    struct cluster *c = *state;
    const struct raft_msg *r =
        vote_answer_after_sync(c, 2, false, true, RAFT_FOLLOWER);
    assert_true(r->u.vote_reply.granted);
    assert_int_equal(node(c, 1)->durable_last, node(c, 1)->written_last);
    assert_int_equal(node(c, 1)->durable_vote, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_replica_sync_null_sends_ack_at_once, setup_three, teardown),
        cmocka_unit_test_setup_teardown(test_replica_async_ack_waits_for_sync,
                                        setup_three_async, teardown),
        cmocka_unit_test_setup_teardown(test_replica_async_vote_waits_for_sync,
                                        setup_three_async, teardown),
        cmocka_unit_test_setup_teardown(test_replica_async_one_sync_at_a_time,
                                        setup_single_async, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_async_follower_syncs_before_applying,
            setup_three_async, teardown),
        cmocka_unit_test_setup_teardown(test_replica_async_cluster_put_commits,
                                        setup_three_async, teardown),
        cmocka_unit_test_setup_teardown(test_replica_lazy_leader_skips_own_sync,
                                        setup_three_lazy, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_syncs_old_backlog, setup_three_lazy,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_syncs_when_needed, setup_three_lazy,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_syncs_for_held_reply, setup_three_lazy,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_syncs_to_grant_vote, setup_three_lazy,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
