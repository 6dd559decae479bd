/*
 * The log writer (node/log_writer.h). With the syncer, a write only copies
 * the batch into the store's queue; the queue is written in one transaction
 * right before each fdatasync is asked (group commit: one transaction and
 * one sync per wakeup, or per sync while the last one ran), or by the
 * queue policy below when no sync is asked for a while. storage writes the
 * queue from one function, which this file, a log read, the kv transaction
 * and store_close all call. Not pure. Read node/syncer.c next.
 */
#include "node/log_writer.h"

#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "common/log.h"
#include "node/defaults.h"

void log_writer_init(struct log_writer *lw, struct store *store)
{
    ASSERT(lw != NULL);
    ASSERT(store != NULL);
    memset(lw, 0, sizeof *lw);
    lw->store = store;
    lw->queued_since_ms = UINT64_MAX;
    char em[ERRMSG_LEN];
    int sync_fd = store_sync_fd(store);
    if (sync_fd < 0) {
        LOG_WARN("no WAL descriptor: every write syncs in the loop");
    } else if (syncer_start(&lw->syncer, sync_fd, em) != ERR_OK) {
        LOG_WARN("%s: every write syncs in the loop", em);
    } else {
        store_set_deferred_sync(store);
    }
}

bool log_writer_is_async(const struct log_writer *lw)
{
    ASSERT(lw != NULL);
    return lw->syncer.pid > 0;
}

int log_writer_write(struct log_writer *lw, const struct raft_ready *rd)
{
    ASSERT(lw != NULL);
    ASSERT(rd != NULL);
    struct store_batch b;
    memset(&b, 0, sizeof b);
    b.has_hard_state = rd->has_hard_state;
    b.term = rd->term;
    b.voted_for = rd->voted_for;
    b.truncate_from = rd->truncate_from;
    b.entries_first_index = rd->entries_first_index;
    b.n_entries = rd->n_entries;
    b.entries = rd->entries;
    int rv = store_persist(lw->store, &b);
    if (rv != ERR_OK) {
        LOG_ERROR("persist failed: %s: %s", err_str(rv),
                  store_errmsg(lw->store));
    }
    return rv;
}

/* Writes the store's queue in one transaction (no fsync).
 * Errors: ERR_IO (logged). */
static int log_writer_write_queue(struct log_writer *lw)
{
    int rv = store_write_queue(lw->store);
    if (rv != ERR_OK) {
        LOG_ERROR("persist failed: %s: %s", err_str(rv),
                  store_errmsg(lw->store));
    }
    return rv;
}

int log_writer_sync(struct log_writer *lw)
{
    ASSERT(lw != NULL);
    ASSERT(log_writer_is_async(lw));
    /* Everything written while the last sync ran, in one transaction. */
    int rv = log_writer_write_queue(lw);
    if (rv != ERR_OK) {
        return rv;
    }
    rv = syncer_ask(&lw->syncer);
    if (rv != ERR_OK) {
        LOG_ERROR("sync failed: the syncer process is gone");
    }
    return rv;
}

int log_writer_fd(const struct log_writer *lw)
{
    ASSERT(lw != NULL);
    return syncer_fd(&lw->syncer);
}

int log_writer_on_synced(struct log_writer *lw)
{
    ASSERT(lw != NULL);
    char em[ERRMSG_LEN];
    if (syncer_finish(&lw->syncer, em) != ERR_OK) {
        LOG_ERROR("sync failed: %s", em);
        return ERR_STOPPED;
    }
    return ERR_OK;
}

/* Whether the queue is written now although no sync asks for it: never
 * while a sync runs (the next ask writes it), else once it is large or
 * its oldest entry old enough. queued > 0 and queued_since_ms is set.
 *
 *   sync runs  queued >= BATCH  waited >= DELAY_MS | write now
 *   yes        any              any                | no
 *   no         yes              any                | yes
 *   no         no               yes                | yes
 *   no         no               no                 | no
 */
static bool queue_write_is_due(const struct log_writer *lw, size_t queued,
                               uint64_t now_ms)
{
    ASSERT(queued > 0);
    ASSERT(lw->queued_since_ms != UINT64_MAX);
    if (lw->syncer.busy) {
        return false;
    }
    return queued >= NODE_WRITE_BATCH ||
           now_ms >= lw->queued_since_ms + NODE_WRITE_DELAY_MS;
}

int log_writer_tick(struct log_writer *lw, uint64_t now_ms)
{
    ASSERT(lw != NULL);
    size_t queued = store_queued(lw->store);
    if (queued == 0) {
        lw->queued_since_ms = UINT64_MAX;
    } else {
        if (lw->queued_since_ms == UINT64_MAX) {
            lw->queued_since_ms = now_ms;
        }
        if (queue_write_is_due(lw, queued, now_ms)) {
            lw->queued_since_ms = UINT64_MAX;
            int rv = log_writer_write_queue(lw);
            if (rv != ERR_OK) {
                return rv;
            }
        }
    }
    if (store_write_failed(lw->store)) {
        /* Failed under a read (node_fetch): the lost batches were
         * counted as written. */
        LOG_ERROR("persist failed: %s", store_errmsg(lw->store));
        return ERR_STOPPED;
    }
    return ERR_OK;
}

uint64_t log_writer_deadline(const struct log_writer *lw)
{
    ASSERT(lw != NULL);
    if (lw->syncer.busy || lw->queued_since_ms == UINT64_MAX) {
        return UINT64_MAX; /* The next sync's ask writes it. */
    }
    return lw->queued_since_ms + NODE_WRITE_DELAY_MS;
}

void log_writer_close(struct log_writer *lw)
{
    if (lw == NULL) {
        return;
    }
    syncer_stop(&lw->syncer);
}
