/*
 * The core's in-memory log: entries first..last with copied payloads, the
 * compacted prefix (snapshot index and term), term lookups, append and
 * suffix truncation. Pure: no I/O. Used only by node/raft*.c.
 */
#ifndef RAFT_NODE_RAFT_LOG_H
#define RAFT_NODE_RAFT_LOG_H

#include "common/msg.h"
#include "common/types.h"

struct raft_log {
    raft_index snapshot_index; /* Entries up to here are compacted. */
    raft_term snapshot_term;
    size_t n;                  /* entries[i] has index snapshot_index+1+i. */
    size_t cap;
    struct raft_entry *entries;/* Each data is a heap copy owned here. */
};

void raft_log_init(struct raft_log *log, raft_index snapshot_index,
                   raft_term snapshot_term);
void raft_log_close(struct raft_log *log);

static inline raft_index raft_log_last_index(const struct raft_log *log)
{
    return log->snapshot_index + log->n;
}

/* Term of index: the snapshot term at snapshot_index, 0 at index 0, past the
 * end or before the snapshot. */
raft_term raft_log_term_at(const struct raft_log *log, raft_index index);
raft_term raft_log_last_term(const struct raft_log *log);

/* Entry at index (must be in snapshot_index+1..last). Borrowed. */
const struct raft_entry *raft_log_get(const struct raft_log *log,
                                      raft_index index);

/* Appends a copy of entry at last+1. Errors: ERR_NOMEM. */
int raft_log_append(struct raft_log *log, raft_term term, uint8_t type,
                    const uint8_t *data, uint32_t len);

/* Deletes entries from index (> snapshot_index) to the end. */
void raft_log_truncate_from(struct raft_log *log, raft_index index);

/* First index of the run of term-`term` entries that ends at index. */
raft_index raft_log_term_first(const struct raft_log *log, raft_index index);

/* Last index whose term is `term`, or 0 when the log has none. */
raft_index raft_log_term_last(const struct raft_log *log, raft_term term);

#endif
