/*
 * Unit tests of the core's snapshot rules (node/raft_snapshot.c): the
 * follower's plan for a received snapshot (thesis 5.2, Figure 5.3 steps
 * 6-7), what an install does to its log, commit and applied indexes, the
 * term rules for InstallSnapshot, and the leader's switch of a peer whose
 * next entry is compacted to a snapshot and back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/raft.h"

static struct raft_config config_for(raft_id id)
{
    struct raft_config c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.n_members = 3;
    for (uint32_t i = 0; i < 3; i++) {
        c.members[i] = i + 1;
    }
    c.heartbeat_ms = 50;
    c.election_ms = 150;
    c.seed = id;
    c.batch_bytes_max = 60000;
    c.inflight_max = 4;
    return c;
}

/* A follower in term 2 holding entries 1..5 of terms 1 1 2 2 2, applied
 * (and so committed) up to 3. */
static struct raft *follower(void)
{
    static const struct raft_entry es[5] = {{1, RAFT_ENTRY_NOOP, 0, NULL},
                                            {1, RAFT_ENTRY_NOOP, 0, NULL},
                                            {2, RAFT_ENTRY_NOOP, 0, NULL},
                                            {2, RAFT_ENTRY_NOOP, 0, NULL},
                                            {2, RAFT_ENTRY_NOOP, 0, NULL}};
    struct raft_loaded l;
    memset(&l, 0, sizeof l);
    l.term = 2;
    l.first_index = 1;
    l.n_entries = 5;
    l.entries = es;
    l.applied = 3;
    struct raft_config c = config_for(2);
    struct raft *r = raft_new(&c, &l, NULL, NULL, 1000);
    assert_non_null(r);
    return r;
}

/* Drains every ready batch; returns how many of its messages have type
 * and go to `to`, copying the last into *out. */
static int drain(struct raft *r, int type, raft_id to, struct raft_msg *out,
                 raft_id *wanted)
{
    int n = 0;
    for (int round = 0; round < 16 && raft_has_ready(r); round++) {
        struct raft_ready rd;
        raft_ready(r, &rd);
        const struct raft_msg *boxes[2] = {rd.msgs_now, rd.msgs_after};
        size_t counts[2] = {rd.n_msgs_now, rd.n_msgs_after};
        for (int b = 0; b < 2; b++) {
            for (size_t i = 0; i < counts[b]; i++) {
                if (boxes[b][i].type == type && boxes[b][i].to == to) {
                    n++;
                    if (out != NULL) {
                        *out = boxes[b][i];
                    }
                }
            }
        }
        for (size_t i = 0; wanted != NULL && i < rd.n_snapshots; i++) {
            *wanted = rd.snapshots[i];
        }
        raft_advance(r, &rd);
    }
    return n;
}

/* Rule (thesis 5.2): a snapshot at or below our commit is stale; one
 * whose point our log holds with its term keeps the log after it; any
 * other replaces the log (Figure 5.3, steps 6 and 7). */
static void test_snapshot_plan_follows_figure_5_3(void **state)
{
    (void)state;
    struct raft *r = follower();
    assert_int_equal(raft_snapshot_plan(r, 3, 2), RAFT_SNAPSHOT_STALE);
    assert_int_equal(raft_snapshot_plan(r, 2, 1), RAFT_SNAPSHOT_STALE);
    assert_int_equal(raft_snapshot_plan(r, 4, 2), RAFT_SNAPSHOT_KEEP_LOG);
    assert_int_equal(raft_snapshot_plan(r, 4, 3), RAFT_SNAPSHOT_DROP_LOG);
    assert_int_equal(raft_snapshot_plan(r, 9, 2), RAFT_SNAPSHOT_DROP_LOG);
    raft_free(r);
}

/* Rule: an install that keeps the log keeps the entries after its point
 * and moves commit and applied up to it. */
static void test_install_keeps_matching_suffix(void **state)
{
    (void)state;
    struct raft *r = follower();
    raft_snapshot_installed(r, 4, 2, RAFT_SNAPSHOT_KEEP_LOG);
    assert_int_equal(raft_first_index(r), 5);
    assert_int_equal(raft_last_index(r), 5);
    assert_int_equal(raft_term_at(r, 5), 2);
    assert_int_equal(raft_commit_index(r), 4);
    assert_int_equal(raft_applied_index(r), 4);
    raft_free(r);
}

/* Rule: an install over a conflicting entry drops the whole log: nothing
 * of the old history survives above the point. */
static void test_install_drops_conflicting_log(void **state)
{
    (void)state;
    struct raft *r = follower();
    raft_snapshot_installed(r, 4, 3, RAFT_SNAPSHOT_DROP_LOG);
    assert_int_equal(raft_last_index(r), 4);
    assert_int_equal(raft_last_term(r), 3);
    assert_int_equal(raft_term_at(r, 5), 0);
    assert_int_equal(raft_first_index(r), 5);
    assert_int_equal(raft_commit_index(r), 4);
    assert_false(raft_has_ready(r)); /* Nothing to persist or apply. */
    raft_free(r);
}

/* Rule (Figure 5.3 step 1, Rules for all servers): a chunk from an older
 * term is refused with our term; a newer one makes us its follower. */
static void test_snapshot_term_rules(void **state)
{
    (void)state;
    struct raft *r = follower();
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_SNAPSHOT;
    m.from = 1;
    m.to = 2;
    m.term = 1;
    m.u.snapshot.last_index = 4;
    m.u.snapshot.last_term = 1;
    m.u.snapshot.len = 1;
    m.u.snapshot.size = 1;
    assert_int_equal(raft_step(r, 1001, &m), ERR_OK);
    struct raft_msg reply;
    assert_int_equal(drain(r, MSG_SNAPSHOT_REPLY, 1, &reply, NULL), 1);
    assert_int_equal(reply.term, 2);
    assert_false(reply.u.snapshot_reply.success);
    m.term = 3;
    assert_int_equal(raft_step(r, 1002, &m), ERR_OK);
    assert_int_equal(raft_current_term(r), 3);
    assert_int_equal(raft_leader(r), 1);
    raft_free(r);
}

/* Makes node 1 of three the leader of term 1 with entries 1..5 committed
 * and applied (node 2 acknowledged them; node 3 never answered). */
static struct raft *leader(void)
{
    struct raft_config c = config_for(1);
    struct raft_loaded l;
    memset(&l, 0, sizeof l);
    l.first_index = 1;
    struct raft *r = raft_new(&c, &l, NULL, NULL, 1000);
    assert_non_null(r);
    assert_int_equal(raft_tick(r, 1400), ERR_OK);
    drain(r, 0, 0, NULL, NULL);
    struct raft_msg v;
    memset(&v, 0, sizeof v);
    v.type = MSG_VOTE_REPLY;
    v.from = 2;
    v.to = 1;
    v.term = 1;
    v.u.vote_reply.granted = true;
    assert_int_equal(raft_step(r, 1401, &v), ERR_OK);
    assert_int_equal(raft_role(r), RAFT_LEADER);
    for (int i = 0; i < 4; i++) {
        raft_index idx;
        assert_int_equal(raft_propose(r, 1402, RAFT_ENTRY_NOOP, NULL, 0, &idx),
                         ERR_OK);
    }
    drain(r, 0, 0, NULL, NULL);
    struct raft_msg a;
    memset(&a, 0, sizeof a);
    a.type = MSG_APPEND_REPLY;
    a.from = 2;
    a.to = 1;
    a.term = 1;
    a.u.append_reply.success = true;
    a.u.append_reply.match_index = 5;
    assert_int_equal(raft_step(r, 1403, &a), ERR_OK);
    drain(r, 0, 0, NULL, NULL);
    assert_int_equal(raft_commit_index(r), 5);
    assert_int_equal(raft_applied_index(r), 5);
    return r;
}

/* Rule (thesis 5.2): a peer whose next entry is compacted gets a snapshot
 * (the ready names it) and no entries; once it took the snapshot at
 * index, replication resumes right after it. */
static void test_leader_sends_snapshot_for_compacted_next(void **state)
{
    (void)state;
    struct raft *r = leader();
    raft_compact(r, 3);
    assert_int_equal(raft_first_index(r), 4);
    assert_int_equal(raft_tick(r, 1460), ERR_OK); /* Heartbeat due. */
    raft_id wanted = 0;
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    drain(r, MSG_APPEND, 3, &m, &wanted);
    assert_int_equal(wanted, 3);
    assert_int_equal(m.u.append.n_entries, 0); /* Heartbeat only. */
    raft_snapshot_done(r, 3, 5);
    memset(&m, 0, sizeof m);
    assert_int_equal(drain(r, MSG_APPEND, 3, &m, NULL), 1);
    assert_int_equal(m.u.append.prev_index, 5);
    assert_int_equal(m.u.append.prev_term, 1);
    raft_free(r);
}

/* Rule: compaction keeps the term of its point (the next append's
 * previous entry) and forgets everything before it. */
static void test_compact_keeps_point_term(void **state)
{
    (void)state;
    struct raft *r = leader();
    raft_compact(r, 4);
    assert_int_equal(raft_term_at(r, 4), 1);
    assert_int_equal(raft_term_at(r, 3), 0);
    assert_int_equal(raft_last_index(r), 5);
    raft_compact(r, 2); /* Below the point: nothing. */
    assert_int_equal(raft_first_index(r), 5);
    raft_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_plan_follows_figure_5_3),
        cmocka_unit_test(test_install_keeps_matching_suffix),
        cmocka_unit_test(test_install_drops_conflicting_log),
        cmocka_unit_test(test_snapshot_term_rules),
        cmocka_unit_test(test_leader_sends_snapshot_for_compacted_next),
        cmocka_unit_test(test_compact_keeps_point_term),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
