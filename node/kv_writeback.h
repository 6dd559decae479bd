/*
 * A write-back buffer in front of the kv store: applied puts, deletes and
 * session updates stay in memory and reach the store later, many apply
 * batches in one store transaction together with the applied index. A key
 * written a hundred times between stores costs the store one row write,
 * and a page of the kv table is written once per store instead of once per
 * entry. Reads look in the buffer first, then in the store, so the state
 * seen is always the applied state. Safe because every buffered change is
 * derived from log entries that are already durable: a crash loses the
 * buffer, the store still holds a consistent earlier applied index, and a
 * restart re-applies the rest from the log (sessions included, so each
 * client command still applies once). Pure: no I/O, no clock; time arrives
 * as now_ms. Read node/kv_writeback.c next.
 */
#ifndef RAFT_NODE_KV_WRITEBACK_H
#define RAFT_NODE_KV_WRITEBACK_H

#include <stddef.h>
#include <stdint.h>

#include "common/types.h"
#include "node/kv.h"

struct kv_writeback;

/* When the buffer goes to the store. All zero means write-through: every
 * commit stores at once (the behaviour without a buffer). */
struct kv_writeback_config {
    uint32_t ops_max;  /* Store at a commit once this many keys are dirty. */
    size_t bytes_max;  /* ... or their keys and values take this much. */
    uint32_t delay_ms; /* ... or this long after the first unstored commit, */
    uint32_t idle_ms;  /* ... or once no commit came for this long (0: no
                          * idle store), so a quiet node's table is current. */
};

/* Wraps inner (borrowed; must outlive the buffer), whose ctx is inner_ctx
 * and whose applied index is applied. Returns NULL when out of memory. */
struct kv_writeback *kv_writeback_new(const struct kv_store_ops *inner,
                                      void *inner_ctx, raft_index applied,
                                      const struct kv_writeback_config *config);

/* Frees the buffer without storing (a crash loses it; the log has it). */
void kv_writeback_free(struct kv_writeback *wb);

/* The kv_store_ops over the buffer; their ctx is the struct kv_writeback *.
 * commit may store (and then returns the store's error, fatal for the
 * node). get's *value is borrowed until the next call on the buffer. */
const struct kv_store_ops *kv_writeback_ops(void);

/* Writes every buffered change and the last committed applied index to the
 * store in one transaction: keys in byte order, then sessions by client id,
 * then the index. Nothing buffered: nothing happens. Errors: ERR_NOMEM, or
 * the store's (fatal for the node; the buffer is kept). */
int kv_writeback_store(struct kv_writeback *wb);

/* Stores when the delay since the first unstored commit, or the idle time
 * since the last one, has passed; tick notes the time of the commits made
 * since its previous call. Errors: as kv_writeback_store. */
int kv_writeback_tick(struct kv_writeback *wb, uint64_t now_ms);

/* When tick must next run: UINT64_MAX when nothing waits, else the time the
 * delay or the idle time runs out (0 when tick has not seen the latest
 * commit yet: call it now). */
uint64_t kv_writeback_deadline(const struct kv_writeback *wb);

/* The ops_max in force, and a new one (for a caller that sizes stores by
 * how long they take; see node/node.c). */
uint32_t kv_writeback_ops_max(const struct kv_writeback *wb);
void kv_writeback_set_ops_max(struct kv_writeback *wb, uint32_t ops_max);

/* The store's state was replaced by an installed snapshot at applied:
 * every buffered change (older than it) is dropped unwritten. Not inside
 * a batch. */
void kv_writeback_reset(struct kv_writeback *wb, raft_index applied);

/* Applied index the store holds, and the one the buffer holds (>= it). */
raft_index kv_writeback_stored_index(const struct kv_writeback *wb);
raft_index kv_writeback_applied_index(const struct kv_writeback *wb);

#endif
