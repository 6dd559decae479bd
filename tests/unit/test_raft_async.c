/*
 * Unit tests of the core with raft_config.async_persist: raft_advance()
 * only means "written", and a leader counts its own copy toward commit only
 * for what raft_persisted() reported durable (thesis 10.2.1). One core is
 * driven by hand; its peers exist only as the messages the test steps in.
 * The replica's side (holding acknowledgements) is in test_replica.c.
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

static const uint8_t payload[] = "p";

static struct raft_entry ent(raft_term term)
{
    struct raft_entry e = {term, RAFT_ENTRY_NORMAL, 1, payload};
    return e;
}

/* Node id of an n-member cluster, asynchronous persistence; optional
 * loaded state (NULL: empty). */
static struct raft *new_async(raft_id id, uint32_t n,
                              const struct raft_loaded *loaded)
{
    struct raft_config c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.n_members = n;
    for (uint32_t i = 0; i < n; i++) {
        c.members[i] = i + 1;
    }
    c.heartbeat_ms = 50;
    c.election_ms = 150;
    c.seed = id * 7919;
    c.batch_bytes_max = 60000;
    c.inflight_max = 4;
    c.async_persist = true;
    struct raft_loaded empty;
    memset(&empty, 0, sizeof empty);
    empty.first_index = 1;
    struct raft *r = raft_new(&c, loaded ? loaded : &empty, NULL, NULL, 1000);
    assert_non_null(r);
    return r;
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
    if (raft_role(r) == RAFT_CANDIDATE) {
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
    assert_int_equal(raft_propose(r, raft_deadline(r), RAFT_ENTRY_NORMAL,
                                  payload, 1, &idx),
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_single_node_commits_once_persisted),
        cmocka_unit_test(test_async_leader_counts_itself_once_persisted),
        cmocka_unit_test(test_async_persisted_clamped_to_written),
        cmocka_unit_test(test_async_truncation_lowers_synced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
