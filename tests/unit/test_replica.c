/*
 * Unit tests of node/replica.c with the real core and kv state machine over
 * tests/lib/mem_kv.c, where every persist is durable on return (no
 * io->sync): a single-node cluster, and three replicas whose messages the
 * test hands over in memory. Covers answers after apply and quorum commit,
 * deduplicated retries, registering a session and its expiry, redirects,
 * reads through the read index, invalid requests, persist-before-reply,
 * fatal persist and apply failures, leader loss and the pending table's
 * bound. The fake io (replica_harness.c)
 * checks on every send that what the message promises is already durable.
 * The asynchronous sync path is in test_replica_async.c.
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
#include "tests/lib/mem_kv.h"
#include "tests/unit/replica_harness.h"

/* --- Tests ------------------------------------------------------------ */

/* A lone member elects itself at its first tick after the timeout, and a
 * put is answered OK with the value already applied. */
static void test_replica_single_node_put_is_answered_after_apply(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    assert_int_equal(
        send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL)),
        ERR_OK);
    assert_int_equal(t->n_replies, 0);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 1);
    assert_int_equal(t->replies[0].status, CLIENT_OK);
    assert_int_equal(t->replies[0].client_id, 7);
    assert_int_equal(t->replies[0].seq, 1);
    assert_int_equal(t->replies[0].leader_hint, 1);
    assert_int_equal(t->replies[0].applied_at_reply,
                     raft_last_index(core(c, 1)));
    assert_true(kv_has(t, "k", "v"));
}

/* A leader answers a put only once a majority holds it and it is applied:
 * not after its own persist, not before the followers' acknowledgements. */
static void test_replica_put_waits_for_quorum_commit(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    size_t persists = l->n_persist;
    assert_int_equal(
        send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL)),
        ERR_OK);
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_persist, persists + 1); /* Own write durable... */
    assert_int_equal(l->n_replies, 0);            /* ...yet no answer. */
    assert_false(kv_has(l, "k", "v"));
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_OK);
    assert_true(l->replies[0].applied_at_reply >=
                raft_commit_index(core(c, 1)));
    assert_true(kv_has(l, "k", "v"));
    /* Followers apply at the next heartbeat, and never answer. */
    heartbeat(c, 1);
    assert_true(kv_has(node(c, 2), "k", "v"));
    assert_true(kv_has(node(c, 3), "k", "v"));
    assert_int_equal(node(c, 2)->n_replies, 0);
}

/* The replies of an applied batch are handed over as a batch
 * (io.replies_done), before the AppendEntries that only announce the new
 * commit: a caller that queues replies sends them first. */
static void test_replica_replies_done_before_commit_round(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        assert_int_equal(
            send_client(c, 1, (uint8_t)seq,
                        request(CLIENT_PUT, 7 + seq, 1, "k", "v", NULL)),
            ERR_OK);
    }
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    size_t calls = l->n_replies_done;
    deliver(c);
    assert_int_equal(l->n_replies, 3);
    assert_true(l->n_replies_done > calls);
    assert_int_equal(l->replies_at_done, 3);
    assert_int_equal(l->commit_sent_before_replies, 0);
    heartbeat(c, 1); /* The commit still reaches the followers. */
    assert_true(kv_has(node(c, 2), "k", "v"));
}

/* Thesis 6.3: a retry of an in-flight (client_id, seq) is not proposed
 * again (it just moves the answer to the new address); a retry after apply
 * gets the cached result without touching the log. */
static void test_replica_retried_write_is_applied_once(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    struct msg_client cas = request(CLIENT_CAS, 9, 1, "k", "new", "old");
    assert_int_equal(send_client(c, 1, 1, cas), ERR_OK);
    raft_index last = raft_last_index(core(c, 1));
    assert_int_equal(send_client(c, 1, 2, cas), ERR_OK);
    assert_int_equal(raft_last_index(core(c, 1)), last);
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_CAS_MISMATCH);
    struct raft_addr second = client_addr(2);
    assert_memory_equal(&l->replies[0].to, &second, sizeof second);

    /* Another client makes the CAS's expectation true... */
    assert_int_equal(
        send_client(c, 1, 3, request(CLIENT_PUT, 10, 1, "k", "old", NULL)),
        ERR_OK);
    deliver(c);
    assert_int_equal(l->n_replies, 2);
    assert_true(kv_has(l, "k", "old"));
    /* ...but the retried CAS is not run again: cached mismatch. */
    last = raft_last_index(core(c, 1));
    assert_int_equal(send_client(c, 1, 1, cas), ERR_OK);
    assert_int_equal(l->n_replies, 3);
    assert_int_equal(l->replies[2].status, CLIENT_CAS_MISMATCH);
    assert_int_equal(raft_last_index(core(c, 1)), last);
    assert_true(kv_has(l, "k", "old"));
}

/* Sends req to member 1, the leader, which must answer it at once with
 * status and add nothing to its log. */
static void answered_at_once(struct cluster *c, struct msg_client req,
                             uint8_t status)
{
    struct tnode *t = node(c, 1);
    raft_index last = raft_last_index(core(c, 1));
    size_t n = t->n_replies;
    send_client(c, 1, 1, req);
    assert_int_equal(t->n_replies, n + 1);
    assert_int_equal(t->replies[n].status, status);
    assert_int_equal(raft_last_index(core(c, 1)), last);
}

/* A request older than the session's last one is a stale datagram: its own
 * result is no longer known, so it is refused, never applied again. */
static void test_replica_stale_seq_is_refused(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 5, 1, "a", "1", NULL));
    send_client(c, 1, 1, request(CLIENT_PUT, 5, 2, "a", "2", NULL));
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 2);
    answered_at_once(c, request(CLIENT_PUT, 5, 1, "a", "1", NULL),
                     CLIENT_INVALID);
    assert_true(kv_has(t, "a", "2"));
}

/* docs/SESSIONS.md: CLIENT_REGISTER is answered, once applied, with the
 * index of the register entry (the session id); a retry while it is
 * pending adds no entry; a write in the new session runs; a write of a
 * session at or below the applied index that is not live is answered
 * SESSION_EXPIRED at once, without a log entry. */
static void test_replica_register_then_write(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    /* Past the harness's seeded sessions 1..64: sessionless puts. */
    for (int i = 0; i < 70; i++) {
        send_client(c, 1, 1, request(CLIENT_PUT, 0, 1, "pad", "x", NULL));
        assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
        t->n_replies = 0;
    }
    t->n_replies = 0;
    struct msg_client reg = request(CLIENT_REGISTER, 0xabc, 0, "", NULL, NULL);
    assert_int_equal(send_client(c, 1, 1, reg), ERR_OK);
    raft_index index = raft_last_index(core(c, 1));
    assert_int_equal(send_client(c, 1, 2, reg), ERR_OK);
    assert_int_equal(raft_last_index(core(c, 1)), index);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 1);
    assert_int_equal(t->replies[0].status, CLIENT_OK);
    assert_int_equal(t->replies[0].client_id, 0xabc);
    assert_int_equal(t->replies[0].value_len, 8);
    uint64_t id = 0;
    for (int k = 0; k < 8; k++) {
        id |= (uint64_t)t->replies[0].value[k] << (8 * k);
    }
    assert_int_equal(id, index);
    struct kv_session ks;
    assert_int_equal(mem_kv_ops()->session_find(&t->kv, id, &ks), ERR_OK);
    assert_int_equal(ks.state, KV_SESSION_LIVE);
    send_client(c, 1, 1, request(CLIENT_PUT, id, 1, "k", "v", NULL));
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->replies[1].status, CLIENT_OK);
    assert_true(kv_has(t, "k", "v"));
    /* Index 70 holds a put: no session has that id. */
    answered_at_once(c, request(CLIENT_PUT, 70, 1, "k", "x", NULL),
                     CLIENT_SESSION_EXPIRED);
    assert_true(kv_has(t, "k", "v"));
}

/* Without a session (client_id 0) nothing is deduplicated. */
static void test_replica_sessionless_writes_are_not_deduplicated(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    raft_index last = raft_last_index(core(c, 1));
    send_client(c, 1, 1, request(CLIENT_PUT, 0, 1, "a", "1", NULL));
    send_client(c, 1, 1, request(CLIENT_PUT, 0, 1, "a", "1", NULL));
    assert_int_equal(raft_last_index(core(c, 1)), last + 2);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 2);
}

/* A follower redirects writes to the leader it knows. */
static void test_replica_follower_redirects_with_leader_hint(void **state)
{
    struct cluster *c = *state;
    elect(c, 2);
    struct tnode *f = node(c, 3);
    raft_index last = raft_last_index(core(c, 3));
    send_client(c, 3, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    send_client(c, 3, 1, request(CLIENT_DEL, 7, 2, "k", NULL, NULL));
    assert_int_equal(f->n_replies, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(f->replies[i].status, CLIENT_NOT_LEADER);
        assert_int_equal(f->replies[i].leader_hint, 2);
    }
    assert_int_equal(raft_last_index(core(c, 3)), last);
}

/* A follower serves a GET itself, through the leader's read index, once it
 * has applied up to that index: the value written through the leader. */
static void test_replica_follower_serves_reads(void **state)
{
    struct cluster *c = *state;
    elect(c, 2);
    struct tnode *l = node(c, 2);
    struct tnode *f = node(c, 3);
    send_client(c, 2, 1, request(CLIENT_PUT, 7, 1, "k", "hello", NULL));
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    raft_index last = raft_last_index(core(c, 3));
    send_client(c, 3, 2, request(CLIENT_GET, 8, 1, "k", NULL, NULL));
    deliver(c);
    heartbeat(c, 2); /* The follower learns the commit index. */
    deliver(c);
    assert_int_equal(f->n_replies, 1);
    assert_int_equal(f->replies[0].status, CLIENT_OK);
    assert_int_equal(f->replies[0].value_len, 5);
    assert_memory_equal(f->replies[0].value, "hello", 5);
    assert_int_equal(raft_last_index(core(c, 3)), last);
}

/* Before any election nobody leads: the hint is 0 (unknown). */
static void test_replica_redirect_without_leader_has_no_hint(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    send_client(c, 1, 1, request(CLIENT_GET, 7, 1, "k", NULL, NULL));
    assert_int_equal(t->n_replies, 1);
    assert_int_equal(t->replies[0].status, CLIENT_NOT_LEADER);
    assert_int_equal(t->replies[0].leader_hint, 0);
}

/* Thesis 6.4: a GET is answered only after a heartbeat round confirms the
 * leadership, with the applied value; an absent key is NOT_FOUND. */
static void test_replica_get_answers_after_read_index(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "hello", NULL));
    deliver(c);
    assert_int_equal(l->n_replies, 1);

    send_client(c, 1, 2, request(CLIENT_GET, 8, 1, "k", NULL, NULL));
    send_client(c, 1, 2, request(CLIENT_GET, 8, 2, "absent", NULL, NULL));
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_replies, 1); /* Not confirmed yet. */
    deliver(c);
    assert_int_equal(l->n_replies, 3);
    assert_int_equal(l->replies[1].status, CLIENT_OK);
    assert_int_equal(l->replies[1].seq, 1);
    assert_int_equal(l->replies[1].value_len, 5);
    assert_memory_equal(l->replies[1].value, "hello", 5);
    assert_int_equal(l->replies[2].status, CLIENT_NOT_FOUND);
    assert_int_equal(l->replies[2].seq, 2);
}

/* A single node confirms reads by itself. */
static void test_replica_single_node_get(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 1);
    send_client(c, 1, 1, request(CLIENT_GET, 8, 1, "k", NULL, NULL));
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 2);
    assert_int_equal(t->replies[1].status, CLIENT_OK);
    assert_int_equal(t->replies[1].value_len, 1);
    assert_memory_equal(t->replies[1].value, "v", 1);
}

static void expect_invalid(struct cluster *c, struct msg_client req)
{
    struct tnode *t = node(c, 1);
    size_t before = t->n_replies;
    raft_index last = raft_last_index(core(c, 1));
    assert_int_equal(send_client(c, 1, 1, req), ERR_OK);
    assert_int_equal(t->n_replies, before + 1);
    assert_int_equal(t->replies[before].status, CLIENT_INVALID);
    assert_int_equal(raft_last_index(core(c, 1)), last);
}

/* Malformed or oversized requests get CLIENT_INVALID and never reach the
 * log; the limits themselves are inclusive. */
static void test_replica_rejects_invalid_requests(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    static char big[RAFT_VALUE_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    static char key[RAFT_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);

    expect_invalid(c, request(CLIENT_PUT, 1, 1, "", "v", NULL));
    expect_invalid(c, request(CLIENT_GET, 1, 2, "", NULL, NULL));
    expect_invalid(c, request(CLIENT_PUT, 1, 3, key, "v", NULL));
    expect_invalid(c, request(CLIENT_PUT, 1, 4, "k", big, NULL));
    expect_invalid(c, request(CLIENT_CAS, 1, 5, "k", "v", big));
    expect_invalid(c, request(9, 1, 6, "k", "v", NULL));
    expect_invalid(c, request(0, 1, 7, "k", "v", NULL));
    struct msg_client nul = request(CLIENT_PUT, 1, 8, "k", "v", NULL);
    nul.value = NULL;
    expect_invalid(c, nul);
    /* Both at their largest: too big together for one entry. */
    big[RAFT_VALUE_MAX] = '\0';
    key[RAFT_KEY_MAX] = '\0';
    expect_invalid(c, request(CLIENT_CAS, 1, 9, key, big, big));

    /* At the limits: accepted. */
    size_t before = t->n_replies;
    send_client(c, 1, 1, request(CLIENT_PUT, 2, 1, key, big, NULL));
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, before + 1);
    assert_int_equal(t->replies[before].status, CLIENT_OK);
    assert_true(kv_has(t, key, big));
}

/* A follower persists received entries before its AppendEntries reply,
 * and a voter its vote before the grant (also checked on every send by
 * check_durable_before_send in replica_harness.c). */
static void test_replica_persists_before_dependent_replies(void **state)
{
    struct cluster *c = *state;
    elect(c, 1);
    struct tnode *f = node(c, 2);
    assert_int_equal(f->durable_vote, 1);
    assert_int_equal(f->durable_term, raft_current_term(core(c, 1)));
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(f->durable_last, raft_last_index(core(c, 1)));
    assert_int_equal(raft_last_index(core(c, 2)), f->durable_last);
}

/* A failed persist stops the replica for good: the RequestVotes that
 * depended on it are never sent, and every later call returns
 * ERR_STOPPED without touching the core. */
static void test_replica_persist_failure_stops(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    c->now += 2 * ELECTION_MS;
    assert_int_equal(replica_tick(t->rep, c->now), ERR_OK);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_OK); /* Pre-votes. */
    deliver_once(c);
    drain_all(c);
    deliver_once(c); /* Pre-vote grants: node 1 is now a candidate. */
    assert_int_equal(raft_role(core(c, 1)), RAFT_CANDIDATE);
    t->persist_fail = ERR_IO;
    assert_int_equal(replica_drain(t->rep, c->now), ERR_STOPPED);
    assert_int_equal(t->n_persist, 1);
    assert_int_equal(t->n_out, 0); /* No RequestVote left. */
    assert_int_equal(t->durable_term, 0);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_STOPPED);
    assert_int_equal(replica_tick(t->rep, c->now + 1000), ERR_STOPPED);
    assert_int_equal(
        send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL)),
        ERR_STOPPED);
    assert_int_equal(replica_deadline(t->rep), UINT64_MAX);
    assert_int_equal(t->n_persist, 1);
    assert_int_equal(t->n_out, 0);
    assert_int_equal(t->n_replies, 0);
}

/* A failing state-machine write is as fatal as a failing persist. */
static void test_replica_apply_failure_stops(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    mem_kv_fail_next(&t->kv, ERR_IO);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_STOPPED);
    assert_int_equal(t->n_replies, 0);
    mem_kv_rollback(&t->kv);
    assert_int_equal(replica_drain(t->rep, c->now), ERR_STOPPED);
    assert_int_equal(t->n_replies, 0);
}

/* A leader that steps down answers its pending writes and unconfirmed
 * reads with RETRY / NOT_LEADER: their outcome is unknown, never "ok". */
static void test_replica_leadership_loss_fails_pending(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    send_client(c, 1, 2, request(CLIENT_GET, 8, 1, "k", NULL, NULL));
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_replies, 0);

    /* Node 2 leads a newer term (crafted: it would win without node 1). */
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = 2;
    m.to = 1;
    m.term = raft_current_term(core(c, 1)) + 1;
    m.u.append.prev_index = 0;
    m.u.append.prev_term = 0;
    assert_int_equal(replica_on_message(l->rep, c->now, &m), ERR_OK);
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_not_equal(raft_role(core(c, 1)), RAFT_LEADER);
    assert_int_equal(l->n_replies, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct reply_rec *r = &l->replies[i];
        if (r->client_id == 7) {
            assert_int_equal(r->status, CLIENT_RETRY);
        } else {
            assert_int_equal(r->client_id, 8);
            assert_int_equal(r->status, CLIENT_NOT_LEADER);
            assert_int_equal(r->leader_hint, 2);
        }
    }
    /* Nothing is answered twice later. */
    for (uint32_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->nodes[i].n_out; j++) {
            held_free(&c->nodes[i].outbox[j]);
        }
        c->nodes[i].n_out = 0;
    }
    assert_int_equal(replica_drain(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_replies, 2);
}

/* The pending table is bounded: one write over the limit gets RETRY and
 * ERR_AGAIN (the runtime counts it as overload), nothing is proposed. */
static void test_replica_pending_table_full_replies_retry(void **state)
{
    struct cluster *c = *state;
    cluster_stop(c);
    cluster_start(c, 3, 2);
    struct tnode *l = node(c, 1);
    elect(c, 1);
    assert_int_equal(
        send_client(c, 1, 1, request(CLIENT_PUT, 1, 1, "a", "1", NULL)),
        ERR_OK);
    assert_int_equal(
        send_client(c, 1, 1, request(CLIENT_PUT, 2, 1, "b", "1", NULL)),
        ERR_OK);
    raft_index last = raft_last_index(core(c, 1));
    assert_int_equal(
        send_client(c, 1, 1, request(CLIENT_PUT, 3, 1, "c", "1", NULL)),
        ERR_AGAIN);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_RETRY);
    assert_int_equal(l->replies[0].client_id, 3);
    assert_int_equal(raft_last_index(core(c, 1)), last);
    /* The retry of an in-flight one still just waits. */
    assert_int_equal(
        send_client(c, 1, 2, request(CLIENT_PUT, 1, 1, "a", "1", NULL)),
        ERR_OK);
    deliver(c);
    assert_int_equal(l->n_replies, 3);
    assert_int_equal(l->replies[1].status, CLIENT_OK);
    assert_int_equal(l->replies[2].status, CLIENT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_replica_single_node_put_is_answered_after_apply, setup_single,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_put_waits_for_quorum_commit, setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_replies_done_before_commit_round, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_retried_write_is_applied_once, setup_three, teardown),
        cmocka_unit_test_setup_teardown(test_replica_stale_seq_is_refused,
                                        setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_register_then_write, setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_sessionless_writes_are_not_deduplicated, setup_single,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_follower_redirects_with_leader_hint, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(test_replica_follower_serves_reads,
                                        setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_redirect_without_leader_has_no_hint, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_get_answers_after_read_index, setup_three, teardown),
        cmocka_unit_test_setup_teardown(test_replica_single_node_get,
                                        setup_single, teardown),
        cmocka_unit_test_setup_teardown(test_replica_rejects_invalid_requests,
                                        setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_persists_before_dependent_replies, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(test_replica_persist_failure_stops,
                                        setup_three, teardown),
        cmocka_unit_test_setup_teardown(test_replica_apply_failure_stops,
                                        setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_leadership_loss_fails_pending, setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_pending_table_full_replies_retry, setup_three,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
