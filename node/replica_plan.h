/*
 * The order of one ready batch's steps in node/replica.c: whether it
 * writes, whether a follower asks for its sync right after the write, and
 * at which of three points the committed entries are applied and their
 * clients answered. Each value comes from one small helper whose comment
 * holds its decision table. Pure: no I/O.
 * Read node/replica.c next.
 */
#ifndef RAFT_NODE_REPLICA_PLAN_H
#define RAFT_NODE_REPLICA_PLAN_H

#include <stdbool.h>

#include "node/raft.h"

/* Where the apply-and-answer step runs among a batch's steps. */
enum replica_answer_at {
    REPLICA_ANSWER_BEFORE_SEND = 1, /* Before msgs_now. */
    REPLICA_ANSWER_BEFORE_WRITE,    /* After msgs_now, before the write. */
    REPLICA_ANSWER_AFTER_WRITE      /* After the write, msgs_after and the
                                     * sync asked for by syncs_first. */
};

struct replica_plan {
    bool has_write;   /* Hard state, truncation or entries to write. */
    bool syncs_first; /* Ask for the sync after msgs_after, before the
                       * answer step. */
    enum replica_answer_at answer_at;
};

/* True when rd holds a hard state, a truncation or entries. */
bool replica_plan_has_write(const struct raft_ready *rd);

/* True when every entry rd commits was written by an earlier batch: all
 * of them precede what rd truncates and what it writes. */
bool replica_plan_committed_was_written(const struct raft_ready *rd);

/* Whether the sync is asked right after this batch's write. */
bool replica_plan_syncs_first(bool has_write, bool is_async, bool is_leader);

/* Where the apply-and-answer step goes. */
enum replica_answer_at replica_plan_answer_at(bool has_write,
                                              bool committed_was_written,
                                              bool syncs_first);

/* The three values for rd, from the helpers above. is_async: io->sync is
 * set; is_leader: the core's role as the batch was taken. */
void replica_plan(const struct raft_ready *rd, bool is_async, bool is_leader,
                  struct replica_plan *out);

#endif
