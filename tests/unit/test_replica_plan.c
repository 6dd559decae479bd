/*
 * Unit tests of node/replica_plan.c: the decision tables behind the order
 * of one ready batch's steps in node/replica.c, row by row, and the plan
 * they make for the batches a leader and a follower see. Pure: no I/O.
 * The order's effects (answers before the sync, a follower's sync before
 * its apply) are tested in test_replica.c and test_replica_async.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "node/raft.h"
#include "node/replica_plan.h"

static struct raft_ready ready(raft_index trunc, raft_index first,
                               size_t n_entries, raft_index committed_first,
                               size_t n_committed)
{
    struct raft_ready rd;
    memset(&rd, 0, sizeof rd);
    rd.truncate_from = trunc;
    rd.entries_first_index = first;
    rd.n_entries = n_entries;
    rd.committed_first_index = committed_first;
    rd.n_committed = n_committed;
    return rd;
}

/* A batch writes when it has a hard state, a truncation or entries. */
static void test_plan_has_write_for_each_part(void **state)
{
    (void)state;
    struct raft_ready rd = ready(0, 0, 0, 5, 2);
    assert_false(replica_plan_has_write(&rd));
    rd.has_hard_state = true;
    assert_true(replica_plan_has_write(&rd));
    rd = ready(4, 0, 0, 0, 0);
    assert_true(replica_plan_has_write(&rd));
    rd = ready(0, 7, 1, 0, 0);
    assert_true(replica_plan_has_write(&rd));
}

/* Committed entries count as written before only when all of them
 * precede this batch's truncation and entries. */
static void test_plan_committed_was_written_only_below_this_write(void **state)
{
    (void)state;
    struct raft_ready rd = ready(0, 0, 0, 0, 0);
    assert_true(replica_plan_committed_was_written(&rd)); /* None. */
    rd = ready(0, 0, 0, 3, 4);
    assert_true(replica_plan_committed_was_written(&rd)); /* No write. */
    rd = ready(0, 7, 2, 3, 4);
    assert_true(replica_plan_committed_was_written(&rd)); /* 3..6 < 7. */
    rd = ready(0, 6, 2, 3, 4);
    assert_false(replica_plan_committed_was_written(&rd)); /* 6 is new. */
    rd = ready(7, 7, 1, 3, 4);
    assert_true(replica_plan_committed_was_written(&rd)); /* 6 < 7. */
    rd = ready(6, 0, 0, 3, 4);
    assert_false(replica_plan_committed_was_written(&rd)); /* 6 rewritten. */
}

/* The syncs_first table in node/replica_plan.c, every row. */
static void test_plan_syncs_first_table(void **state)
{
    (void)state;
    static const struct {
        bool has_write, is_async, is_leader, syncs_first;
    } rows[] = {
        {false, false, false, false}, {false, false, true, false},
        {false, true, false, false},  {false, true, true, false},
        {true, false, false, false},  {true, false, true, false},
        {true, true, true, false},    {true, true, false, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(replica_plan_syncs_first(rows[i].has_write,
                                                  rows[i].is_async,
                                                  rows[i].is_leader),
                         rows[i].syncs_first);
    }
}

/* The answer_at table in node/replica_plan.c, every possible row. */
static void test_plan_answer_at_table(void **state)
{
    (void)state;
    static const struct {
        bool has_write, committed_was_written, syncs_first;
        enum replica_answer_at at;
    } rows[] = {
        {false, true, false, REPLICA_ANSWER_BEFORE_SEND},
        {true, true, false, REPLICA_ANSWER_BEFORE_WRITE},
        {true, true, true, REPLICA_ANSWER_AFTER_WRITE},
        {true, false, false, REPLICA_ANSWER_AFTER_WRITE},
        {true, false, true, REPLICA_ANSWER_AFTER_WRITE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(replica_plan_answer_at(rows[i].has_write,
                                                rows[i].committed_was_written,
                                                rows[i].syncs_first),
                         rows[i].at);
    }
}

/* A busy leader answers what earlier batches wrote before it writes the
 * new proposals; a commit-only batch answers before it sends. */
static void test_plan_leader_answers_before_its_write(void **state)
{
    (void)state;
    struct replica_plan p;
    struct raft_ready rd = ready(0, 11, 3, 8, 3);
    replica_plan(&rd, true, true, &p);
    assert_true(p.has_write);
    assert_false(p.syncs_first);
    assert_int_equal(p.answer_at, REPLICA_ANSWER_BEFORE_WRITE);
    rd = ready(0, 0, 0, 8, 3);
    replica_plan(&rd, true, true, &p);
    assert_false(p.has_write);
    assert_int_equal(p.answer_at, REPLICA_ANSWER_BEFORE_SEND);
}

/* A follower with asynchronous syncs starts its sync before it applies;
 * with synchronous writes it applies what was written before first. */
static void test_plan_follower_syncs_before_it_applies(void **state)
{
    (void)state;
    struct replica_plan p;
    struct raft_ready rd = ready(0, 11, 3, 8, 3);
    replica_plan(&rd, true, false, &p);
    assert_true(p.syncs_first);
    assert_int_equal(p.answer_at, REPLICA_ANSWER_AFTER_WRITE);
    replica_plan(&rd, false, false, &p);
    assert_false(p.syncs_first);
    assert_int_equal(p.answer_at, REPLICA_ANSWER_BEFORE_WRITE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_has_write_for_each_part),
        cmocka_unit_test(test_plan_committed_was_written_only_below_this_write),
        cmocka_unit_test(test_plan_syncs_first_table),
        cmocka_unit_test(test_plan_answer_at_table),
        cmocka_unit_test(test_plan_leader_answers_before_its_write),
        cmocka_unit_test(test_plan_follower_syncs_before_it_applies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
