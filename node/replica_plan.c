/*
 * The decisions behind one ready batch's order (node/replica_plan.h). The
 * core's contract is: send msgs_now, write, send msgs_after, apply, then
 * raft_advance. The replica keeps that order with two moves, both decided
 * here: the apply-and-answer step goes earlier when it depends on nothing
 * this batch writes, and a follower with asynchronous syncs asks for its
 * sync before it applies. Pure. Read node/replica.c next.
 */
#include "node/replica_plan.h"

#include "common/invariant.h"

bool replica_plan_has_write(const struct raft_ready *rd)
{
    ASSERT(rd != NULL);
    return rd->has_hard_state || rd->truncate_from != 0 || rd->n_entries > 0;
}

bool replica_plan_committed_was_written(const struct raft_ready *rd)
{
    ASSERT(rd != NULL);
    if (rd->n_committed == 0) {
        return true;
    }
    raft_index last = rd->committed_first_index + rd->n_committed - 1;
    if (rd->truncate_from != 0 && last >= rd->truncate_from) {
        return false;
    }
    return rd->n_entries == 0 || last < rd->entries_first_index;
}

/* A follower with asynchronous syncs writes the batch and starts its sync
 * before it applies: its acknowledgement waits for that sync, and the
 * apply (with any kv store it triggers) then overlaps the sync instead of
 * delaying it. A leader asks once per replica_drain, after every round,
 * so that one sync covers the wakeup's writes (group commit).
 *
 *   has_write  is_async  is_leader | syncs_first
 *   no         any       any       | no   (nothing new to sync)
 *   yes        no        any       | no   (the write was durable on return)
 *   yes        yes       yes       | no   (group commit after the rounds)
 *   yes        yes       no        | yes
 */
bool replica_plan_syncs_first(bool has_write, bool is_async, bool is_leader)
{
    return has_write && is_async && !is_leader;
}

/* Committed entries written by earlier batches are applied, and their
 * clients answered, before this batch's write rather than after it.
 * Commitment does not depend on the new entries, so this is the same
 * outcome one sync sooner (on a busy leader the answers for batch k no
 * longer wait for the sync of batch k+1). With nothing to write, the
 * answers also go before msgs_now: a commit-only round to the followers
 * must not delay the clients' replies (sending later is always allowed).
 * A follower that syncs first applies after its sync was asked; it answers
 * no writes, and the reads it serves after the apply wait for its write
 * too.
 *
 *   has_write  committed_was_written  syncs_first | answer_at
 *   no         yes                    no          | BEFORE_SEND
 *   yes        yes                    no          | BEFORE_WRITE
 *   yes        yes                    yes         | AFTER_WRITE
 *   yes        no                     any         | AFTER_WRITE
 *
 * (Without a write nothing is truncated or appended, so committed entries
 * were all written before, and no sync is asked first.)
 */
enum replica_answer_at replica_plan_answer_at(bool has_write,
                                              bool committed_was_written,
                                              bool syncs_first)
{
    ASSERT(has_write || committed_was_written);
    ASSERT(has_write || !syncs_first);
    if (!committed_was_written || syncs_first) {
        return REPLICA_ANSWER_AFTER_WRITE;
    }
    return has_write ? REPLICA_ANSWER_BEFORE_WRITE : REPLICA_ANSWER_BEFORE_SEND;
}

void replica_plan(const struct raft_ready *rd, bool is_async, bool is_leader,
                  struct replica_plan *out)
{
    ASSERT(rd != NULL);
    ASSERT(out != NULL);
    out->has_write = replica_plan_has_write(rd);
    out->syncs_first =
        replica_plan_syncs_first(out->has_write, is_async, is_leader);
    out->answer_at = replica_plan_answer_at(
        out->has_write, replica_plan_committed_was_written(rd),
        out->syncs_first);
}
