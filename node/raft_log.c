/*
 * The core's in-memory log (see raft_log.h). Entries live in one growing
 * array; each payload is its own heap copy so that messages and ready
 * batches can borrow stable pointers until raft_advance(). Pure: no I/O.
 */
#include "node/raft_log.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

void raft_log_init(struct raft_log *log, raft_index snapshot_index,
                   raft_term snapshot_term)
{
    memset(log, 0, sizeof *log);
    log->snapshot_index = snapshot_index;
    log->snapshot_term = snapshot_term;
}

void raft_log_close(struct raft_log *log)
{
    for (size_t i = 0; i < log->n; i++) {
        free((void *)log->entries[i].data);
    }
    free(log->entries);
    memset(log, 0, sizeof *log);
}

raft_term raft_log_term_at(const struct raft_log *log, raft_index index)
{
    if (index == log->snapshot_index) {
        return log->snapshot_term;
    }
    if (index < log->snapshot_index || index > raft_log_last_index(log)) {
        return 0;
    }
    return log->entries[index - log->snapshot_index - 1].term;
}

raft_term raft_log_last_term(const struct raft_log *log)
{
    return raft_log_term_at(log, raft_log_last_index(log));
}

const struct raft_entry *raft_log_get(const struct raft_log *log,
                                      raft_index index)
{
    ASSERT(index > log->snapshot_index);
    ASSERT(index <= raft_log_last_index(log));
    return &log->entries[index - log->snapshot_index - 1];
}

int raft_log_append(struct raft_log *log, raft_term term, uint8_t type,
                    const uint8_t *data, uint32_t len)
{
    ASSERT(term >= raft_log_last_term(log));
    if (log->n == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 256;
        struct raft_entry *e = realloc(log->entries, cap * sizeof *e);
        if (e == NULL) {
            return ERR_NOMEM;
        }
        log->entries = e;
        log->cap = cap;
    }
    /* Always allocate, also for empty payloads, so data is never NULL. */
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) {
        return ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(copy, data, len);
    }
    struct raft_entry *e = &log->entries[log->n++];
    e->term = term;
    e->type = type;
    e->len = len;
    e->data = copy;
    return ERR_OK;
}

void raft_log_truncate_from(struct raft_log *log, raft_index index)
{
    ASSERT(index > log->snapshot_index);
    if (index > raft_log_last_index(log)) {
        return;
    }
    size_t keep = (size_t)(index - log->snapshot_index - 1);
    for (size_t i = keep; i < log->n; i++) {
        free((void *)log->entries[i].data);
    }
    log->n = keep;
}

raft_index raft_log_term_first(const struct raft_log *log, raft_index index)
{
    raft_term term = raft_log_term_at(log, index);
    ASSERT(index <= raft_log_last_index(log));
    while (index > log->snapshot_index + 1 &&
           raft_log_term_at(log, index - 1) == term) {
        index--;
    }
    return index;
}

raft_index raft_log_term_last(const struct raft_log *log, raft_term term)
{
    /* Terms never decrease along the log, so scan back from the end. */
    for (raft_index i = raft_log_last_index(log); i > log->snapshot_index;
         i--) {
        raft_term t = raft_log_term_at(log, i);
        if (t == term) {
            return i;
        }
        if (t < term) {
            return 0;
        }
    }
    return 0;
}
