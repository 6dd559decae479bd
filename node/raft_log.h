/*
 * The core's log: the term of every index as runs of equal terms (cheap for
 * any length of log), and the payloads of a window of recent entries
 * mem_first..last in memory. Older payloads live only in durable storage;
 * the leader reads them back through the caller's fetch callback when a
 * lagging follower needs them. Pure: no I/O. Used only by node/raft*.c.
 * Read node/raft_log.c next.
 */
#ifndef RAFT_NODE_RAFT_LOG_H
#define RAFT_NODE_RAFT_LOG_H

#include "common/msg.h"
#include "common/types.h"
#include "node/raft.h"

struct raft_log {
    raft_index snapshot_index; /* Entries up to here are compacted. */
    raft_term snapshot_term;
    raft_index last; /* Last index (snapshot_index if empty). */
    size_t n_runs;
    size_t runs_cap;
    struct raft_term_run *runs; /* Covers snapshot_index+1..last. */
    raft_index mem_first;       /* entries[i] has index mem_first + i. */
    size_t n;                   /* mem_first + n - 1 == last. */
    size_t cap;
    struct raft_entry *entries; /* Each data is a heap copy owned here. */
};

void raft_log_init(struct raft_log *log, raft_index snapshot_index,
                   raft_term snapshot_term);
void raft_log_close(struct raft_log *log);

static inline raft_index raft_log_last_index(const struct raft_log *log)
{
    return log->last;
}

/* Term of index: the snapshot term at snapshot_index, 0 at index 0, past the
 * end or before the snapshot. */
raft_term raft_log_term_at(const struct raft_log *log, raft_index index);
raft_term raft_log_last_term(const struct raft_log *log);

/* Whether index's payload is in memory. */
static inline bool raft_log_in_memory(const struct raft_log *log,
                                      raft_index index)
{
    return index >= log->mem_first && index <= log->last;
}

/* Entry at index (must be in memory). Borrowed. */
const struct raft_entry *raft_log_get(const struct raft_log *log,
                                      raft_index index);

/* Appends a copy of entry at last+1. Errors: ERR_NOMEM. */
int raft_log_append(struct raft_log *log, raft_term term, uint8_t type,
                    const uint8_t *data, uint32_t len);

/* Records that entries up to `last` exist in storage with the given term
 * runs, without payloads in memory (loading a long log). Only on an empty
 * log. Errors: ERR_NOMEM. */
int raft_log_restore_runs(struct raft_log *log,
                          const struct raft_term_run *runs, size_t n_runs,
                          raft_index last);

/* Deletes entries from index (>= mem_first) to the end. */
void raft_log_truncate_from(struct raft_log *log, raft_index index);

/* Frees the payloads of entries up to index (they stay in storage). */
void raft_log_forget_upto(struct raft_log *log, raft_index index);

/* Compaction: entries up to index (snapshot_index < index <= last) leave
 * the log; index and its term become the snapshot point (term_at still
 * answers for it), later entries stay. */
void raft_log_compact(struct raft_log *log, raft_index index);

/* Empties the log onto a snapshot point (an installed snapshot whose
 * point the log does not hold). */
void raft_log_reset(struct raft_log *log, raft_index index, raft_term term);

/* First index of the run of equal terms that contains index. */
raft_index raft_log_term_first(const struct raft_log *log, raft_index index);

/* Last index whose term is `term`, or 0 when the log has none. */
raft_index raft_log_term_last(const struct raft_log *log, raft_term term);

#endif
