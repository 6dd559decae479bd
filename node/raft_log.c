/*
 * The core's log (see raft_log.h). Terms are kept as runs, found by binary
 * search; payloads of the in-memory window live in one growing array, each
 * its own heap copy, so messages and ready batches can borrow stable data
 * pointers until raft_advance(). Pure: no I/O. The last file of the core's
 * reading order, which starts at node/raft.h.
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
    log->last = snapshot_index;
    log->mem_first = snapshot_index + 1;
}

void raft_log_close(struct raft_log *log)
{
    for (size_t i = 0; i < log->n; i++) {
        free((void *)log->entries[i].data);
    }
    free(log->entries);
    free(log->runs);
    memset(log, 0, sizeof *log);
}

/* Index into runs of the run containing index (snapshot_index < index <=
 * last). */
static size_t run_of(const struct raft_log *log, raft_index index)
{
    ASSERT(log->n_runs > 0);
    size_t lo = 0;
    size_t hi = log->n_runs; /* runs[lo].first <= index < runs[hi].first */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->runs[mid].first <= index) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

raft_term raft_log_term_at(const struct raft_log *log, raft_index index)
{
    if (index == log->snapshot_index) {
        return log->snapshot_term;
    }
    if (index < log->snapshot_index || index > log->last) {
        return 0;
    }
    return log->runs[run_of(log, index)].term;
}

raft_term raft_log_last_term(const struct raft_log *log)
{
    return raft_log_term_at(log, log->last);
}

const struct raft_entry *raft_log_get(const struct raft_log *log,
                                      raft_index index)
{
    ASSERT(index >= log->mem_first);
    ASSERT(index <= log->last);
    return &log->entries[index - log->mem_first];
}

static int push_run(struct raft_log *log, raft_index first, raft_term term)
{
    if (log->n_runs == log->runs_cap) {
        size_t cap = log->runs_cap ? log->runs_cap * 2 : 16;
        struct raft_term_run *r = realloc(log->runs, cap * sizeof *r);
        if (r == NULL) {
            return ERR_NOMEM;
        }
        log->runs = r;
        log->runs_cap = cap;
    }
    log->runs[log->n_runs].first = first;
    log->runs[log->n_runs].term = term;
    log->n_runs++;
    return ERR_OK;
}

int raft_log_append(struct raft_log *log, raft_term term, uint8_t type,
                    const uint8_t *data, uint32_t len)
{
    ASSERT(term >= raft_log_last_term(log));
    ASSERT(log->mem_first + log->n == log->last + 1);
    if (log->n == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 256;
        struct raft_entry *e = realloc(log->entries, cap * sizeof *e);
        if (e == NULL) {
            return ERR_NOMEM;
        }
        log->entries = e;
        log->cap = cap;
    }
    if (log->n_runs == 0 || log->runs[log->n_runs - 1].term != term) {
        if (push_run(log, log->last + 1, term) != ERR_OK) {
            return ERR_NOMEM;
        }
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
    log->last++;
    return ERR_OK;
}

int raft_log_restore_runs(struct raft_log *log,
                          const struct raft_term_run *runs, size_t n_runs,
                          raft_index last)
{
    ASSERT(log->last == log->snapshot_index);
    ASSERT(n_runs == 0 || runs[0].first == log->snapshot_index + 1);
    for (size_t i = 0; i < n_runs; i++) {
        ASSERT(i == 0 || runs[i].first > runs[i - 1].first);
        ASSERT(i == 0 || runs[i].term > runs[i - 1].term);
        ASSERT(runs[i].first <= last);
        if (push_run(log, runs[i].first, runs[i].term) != ERR_OK) {
            return ERR_NOMEM;
        }
    }
    log->last = last;
    log->mem_first = last + 1;
    return ERR_OK;
}

void raft_log_truncate_from(struct raft_log *log, raft_index index)
{
    ASSERT(index >= log->mem_first);
    if (index > log->last) {
        return;
    }
    size_t keep = (size_t)(index - log->mem_first);
    for (size_t i = keep; i < log->n; i++) {
        free((void *)log->entries[i].data);
    }
    log->n = keep;
    log->last = index - 1;
    while (log->n_runs > 0 && log->runs[log->n_runs - 1].first >= index) {
        log->n_runs--;
    }
}

void raft_log_forget_upto(struct raft_log *log, raft_index index)
{
    if (index < log->mem_first) {
        return;
    }
    ASSERT(index <= log->last);
    size_t drop = (size_t)(index - log->mem_first + 1);
    for (size_t i = 0; i < drop; i++) {
        free((void *)log->entries[i].data);
    }
    memmove(log->entries, log->entries + drop,
            (log->n - drop) * sizeof *log->entries);
    log->n -= drop;
    log->mem_first = index + 1;
}

void raft_log_compact(struct raft_log *log, raft_index index)
{
    ASSERT(index > log->snapshot_index);
    ASSERT(index <= log->last);
    raft_term term = raft_log_term_at(log, index);
    if (index == log->last) {
        log->n_runs = 0;
    } else {
        size_t at = run_of(log, index + 1);
        memmove(log->runs, log->runs + at,
                (log->n_runs - at) * sizeof *log->runs);
        log->n_runs -= at;
        log->runs[0].first = index + 1;
    }
    if (index >= log->mem_first) {
        raft_log_forget_upto(log, index);
    }
    log->snapshot_index = index;
    log->snapshot_term = term;
    ASSERT(log->mem_first > index);
}

void raft_log_reset(struct raft_log *log, raft_index index, raft_term term)
{
    for (size_t i = 0; i < log->n; i++) {
        free((void *)log->entries[i].data);
    }
    log->n = 0;
    log->n_runs = 0;
    log->snapshot_index = index;
    log->snapshot_term = term;
    log->last = index;
    log->mem_first = index + 1;
}

raft_index raft_log_term_first(const struct raft_log *log, raft_index index)
{
    ASSERT(index > log->snapshot_index);
    ASSERT(index <= log->last);
    return log->runs[run_of(log, index)].first;
}

raft_index raft_log_term_last(const struct raft_log *log, raft_term term)
{
    /* Terms only grow along the runs: scan back from the newest. */
    for (size_t i = log->n_runs; i > 0; i--) {
        const struct raft_term_run *run = &log->runs[i - 1];
        if (run->term == term) {
            return i == log->n_runs ? log->last : log->runs[i].first - 1;
        }
        if (run->term < term) {
            return 0;
        }
    }
    return 0;
}
