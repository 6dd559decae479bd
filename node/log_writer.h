/*
 * The log writer: raftnode's one owner of getting the log to disk. It takes
 * each ready batch's write (the replica's io->persist) into the store, keeps
 * the store's write queue by its policy, has the queue written in one
 * transaction, asks the syncer child (node/syncer.h) for the fdatasync that
 * makes it durable (io->sync) and reads its answer. Whether to ask is
 * decided in pure code (node/replica.c, node/durable.c), which the
 * simulator runs; this module carries it out. Not pure.
 * Read node/syncer.h next.
 */
#ifndef RAFT_NODE_LOG_WRITER_H
#define RAFT_NODE_LOG_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "node/raft.h"
#include "node/syncer.h"
#include "storage/store.h"

struct log_writer {
    struct store *store;      /* Borrowed; outlives the writer. */
    struct syncer syncer;     /* pid 0: every write syncs inline. */
    uint64_t queued_since_ms; /* The queue holds entries since;
                               * UINT64_MAX: empty. */
};

/* Starts the syncer child over the store's WAL and from then on has the
 * store queue writes (store_set_deferred_sync). Without a WAL descriptor,
 * or when the child cannot start, logs a WARN and leaves every write
 * synced inline, where log_writer_is_async() is false. */
void log_writer_init(struct log_writer *lw, struct store *store);

/* True when the syncer runs: bind io->sync to log_writer_sync. */
bool log_writer_is_async(const struct log_writer *lw);

/* io->persist: writes rd's hard state, truncation and entries (with the
 * syncer only into the store's queue). Errors: ERR_IO, ERR_NOMEM (logged;
 * fatal for the node). */
int log_writer_write(struct log_writer *lw, const struct raft_ready *rd);

/* io->sync: writes the queue, then asks the syncer for an fdatasync of the
 * WAL; log_writer_fd() becomes readable when it is done. Errors: ERR_IO
 * (logged; fatal). */
int log_writer_sync(struct log_writer *lw);

/* The descriptor to poll for POLLIN while a sync runs, else -1. */
int log_writer_fd(const struct log_writer *lw);

/* Reads the finished sync's answer once log_writer_fd() is readable; then
 * call replica_on_synced(). Errors: ERR_STOPPED (logged: the fdatasync
 * failed or the child died). */
int log_writer_on_synced(struct log_writer *lw);

/* Once per wakeup, after the replica's ready batches: writes the queue
 * when it is large or old enough while no sync runs (a leader leaving its
 * own log unsynced), and stops the node when a queue write failed under a
 * read. Errors: ERR_IO, ERR_STOPPED (logged). */
int log_writer_tick(struct log_writer *lw, uint64_t now_ms);

/* When log_writer_tick has work; UINT64_MAX: none. */
uint64_t log_writer_deadline(const struct log_writer *lw);

/* Stops the syncer child (the store stays open). Safe after a failed or
 * no init. */
void log_writer_close(struct log_writer *lw);

#endif
