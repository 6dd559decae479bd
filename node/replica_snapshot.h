/*
 * A replica's snapshots: the compaction policy (compact at an index the kv
 * store holds durably, keeping log_keep entries), the leader's transfers
 * to the peers the core names (node/snapshot_send.h over the io's image),
 * and the follower's receiver, staging and install (node/snapshot_recv.h).
 * node/replica.c calls these hooks; all of it is off while the io has no
 * snapshot ops. Pure: no I/O of its own, no clock.
 * Read node/snapshot_send.h next.
 */
#ifndef RAFT_NODE_REPLICA_SNAPSHOT_H
#define RAFT_NODE_REPLICA_SNAPSHOT_H

#include "node/durable.h"
#include "node/kv_writeback.h"
#include "node/raft.h"
#include "node/replica.h"
#include "node/snapshot_recv.h"
#include "node/snapshot_send.h"

/* What of the replica the hooks act on; every pointer borrowed. */
struct replica_snapshot_host {
    struct raft *raft;
    const struct replica_io *io;
    struct kv_writeback *wb;
    raft_index *applied; /* The replica's applied index. */
    struct durable *dur; /* Asynchronous syncs, or NULL. */
};

struct replica_snapshot {
    struct replica_snapshot_config config;
    bool is_enabled; /* The io has the snapshot ops. */
    struct snapshot_send sends[RAFT_NODES_MAX];
    uint32_t n_wanted; /* Peers waiting for an image. */
    raft_id wanted[RAFT_NODES_MAX];
    bool has_image;
    raft_index image_index;
    raft_term image_term;
    uint64_t image_size;
    struct snapshot_recv recv;
    uint8_t *buf; /* SNAPSHOT_CHUNK_MAX bytes. */
    struct replica_snapshot_stats stats;
};

/* Errors: ERR_NOMEM. */
int replica_snapshot_init(struct replica_snapshot *s,
                          const struct replica_snapshot_config *config,
                          const struct replica_io *io);
void replica_snapshot_close(struct replica_snapshot *s);

/* A MSG_SNAPSHOT or MSG_SNAPSHOT_REPLY the core has stepped (term rules).
 * Errors: ERR_STOPPED (a fatal io error), ERR_NOMEM. */
int replica_snapshot_on_message(struct replica_snapshot *s,
                                const struct replica_snapshot_host *h,
                                uint64_t now_ms, const struct raft_msg *msg);

/* Notes the peers a ready batch wants snapshots for. */
void replica_snapshot_on_ready(struct replica_snapshot *s,
                               const struct raft_ready *rd);

/* After the ready batches: abandons transfers of a past term, starts the
 * wanted ones, sends what the windows allow, compacts when due.
 * Errors: ERR_STOPPED. */
int replica_snapshot_drain(struct replica_snapshot *s,
                           const struct replica_snapshot_host *h,
                           uint64_t now_ms);

/* Compacts now at the index the kv store holds durably, keeping log_keep
 * entries, whatever config.entries says (raftctl compact). Errors:
 * ERR_STOPPED. */
int replica_snapshot_compact_now(struct replica_snapshot *s,
                                 const struct replica_snapshot_host *h);

void replica_snapshot_tick(struct replica_snapshot *s, uint64_t now_ms);
uint64_t replica_snapshot_deadline(const struct replica_snapshot *s);

#endif
