/*
 * One cluster member minus its I/O: owns the Raft core, the table of pending
 * client requests and reads, and turns each ready batch into the io
 * operations (send, persist, apply through the kv state machine, reply to
 * clients) in the order the core requires. raftnode binds the io table to
 * UDP and SQLite; tests/sim binds it to a simulated network and disk, so both
 * run this same code. Pure: no I/O of its own, no clock.
 * Read node/replica.c next.
 */
#ifndef RAFT_NODE_REPLICA_H
#define RAFT_NODE_REPLICA_H

#include "common/msg.h"
#include "node/kv.h"
#include "node/kv_writeback.h"
#include "node/raft.h"
#include "node/snapshot_send.h"

struct replica;

/* What a compaction asks storage to do (replica_io.compact). */
struct replica_compaction {
    raft_index point; /* Snapshot point: kv durably applied there. */
    raft_term point_term;
    raft_index log_upto;     /* Delete log rows up to here (<= point). */
    raft_term log_upto_term; /* Loaded again as raft_loaded.snapshot_*. */
};

/* When a member compacts, and how it sends snapshots. */
struct replica_snapshot_config {
    uint32_t entries;  /* Compact once the log holds more than this many
                        * durably applied entries beyond the log_keep
                        * kept; 0: never (and none sent). */
    uint32_t log_keep; /* Entries kept behind the point for slow
                        * followers. */
    struct snapshot_send_config send;
};

/* The I/O a replica needs. Every function is called synchronously from
 * replica_* calls; messages and buffers passed are borrowed for the call. */
struct replica_io {
    void *ctx;
    /* A peer message to member msg->to (best effort, like UDP). */
    void (*send)(void *ctx, const struct raft_msg *msg);
    /* A client or status reply to an address that asked. */
    void (*reply)(void *ctx, const struct raft_addr *to,
                  const struct raft_msg *msg);
    /* NULL, or: every reply of one applied batch has been given to reply;
     * a caller that queues replies (to send them together) sends them
     * now, before the messages that follow. */
    void (*replies_done)(void *ctx);
    /* Write of rd's hard state, truncation and entries in one
     * transaction, durable on return unless sync is set; an error is fatal
     * (the replica stops). */
    int (*persist)(void *ctx, const struct raft_ready *rd);
    /* NULL, or: asks storage to make every write persisted so far durable
     * without waiting; the caller reports completion with
     * replica_on_synced(). At most one is asked at a time. Until then the
     * replica holds the messages that promise durable state, and the
     * leader does not count its own copy toward commit (thesis 10.2.1).
     * An error is fatal. */
    int (*sync)(void *ctx);
    /* The kv store the state machine applies to (ctx is kv_ctx). */
    const struct kv_store_ops *kv;
    void *kv_ctx;
    /* Snapshots and compaction (node/replica_snapshot.h); all NULL, or
     * all set. Leader: prepares an image of the durably applied state
     * (kv, sessions, configuration) and keeps it until the next open;
     * *index is its applied index, *size its bytes (>= 1). ERR_AGAIN: not
     * ready yet, asked again at the next drain. */
    int (*snapshot_open)(void *ctx, raft_index *index, uint64_t *size);
    /* Reads len bytes at offset of the image opened at index.
     * ERR_NOT_FOUND: that image is gone (the transfer restarts). */
    int (*snapshot_read)(void *ctx, raft_index index, uint64_t offset,
                         uint8_t *buf, uint32_t len);
    /* Follower: writes a chunk of the image at (index, term) of size
     * bytes into a staging area outside the live tables; offset 0 starts
     * over (the previous staging is discarded). Chunks may come out of
     * order (each once). An error drops the chunk (it comes again). */
    int (*snapshot_stage)(void *ctx, const struct msg_snapshot *chunk);
    /* NULL, or (follower): *received gets the bytes of the image of
     * (index, term) already staged (by an earlier run: staging survives a
     * crash), 0 when none; the transfer then resumes there. Errors: the
     * transfer starts from 0. */
    int (*snapshot_staged)(void *ctx, raft_index index, raft_term term,
                           uint64_t *received);
    /* Follower: in one durable transaction, replaces kv and sessions with
     * the staged image of (index, term), records the snapshot point, and
     * deletes the log up to index (keep_log) or all of it. ERR_CORRUPT:
     * the staged image is unusable, nothing changed (the transfer starts
     * over); other errors are fatal. */
    int (*snapshot_install)(void *ctx, raft_index index, raft_term term,
                            bool keep_log);
    /* Compaction: records the snapshot point c->point (whose effects the
     * kv store holds durably) and deletes log rows up to c->log_upto,
     * durably or not (a crash may bring them back). An error is fatal. */
    int (*compact)(void *ctx, const struct replica_compaction *c);
};

struct replica_config {
    struct raft_config raft;
    uint32_t pending_max; /* Client requests in flight; default 4096. */
    /* When applied changes reach io->kv; all zero: at every apply batch. */
    struct kv_writeback_config kv_writeback;
    struct replica_snapshot_config snapshot; /* All zero: compaction off. */
    /* The limit this member writes into the register entries it proposes
     * as leader (0: unbounded). Eviction uses the entry's limit, so members
     * may differ here and still agree (docs/SESSIONS.md). */
    uint64_t max_sessions;
    /* The largest entry a client write may make, so that an AppendEntries
     * carrying it stays within --max-datagram (docs/HOSTS.md); larger
     * writes get CLIENT_INVALID. 0: RAFT_ENTRY_MAX. */
    uint32_t entry_bytes_max;
};

/* Builds a replica from durable state. Returns NULL when out of memory. */
struct replica *replica_new(const struct replica_config *config,
                            const struct raft_loaded *loaded,
                            const struct replica_io *io, raft_trace_cb trace,
                            void *trace_ctx, uint64_t now_ms);
void replica_free(struct replica *rep);

/* A validated peer message (the caller checked sender id and address). */
int replica_on_message(struct replica *rep, uint64_t now_ms,
                       const struct raft_msg *msg);

/* A client request from address `from` (copied). Replies through io->reply,
 * now (redirect, cached result, invalid) or once applied. */
int replica_on_client(struct replica *rep, uint64_t now_ms,
                      const struct raft_addr *from,
                      const struct msg_client *req);

int replica_tick(struct replica *rep, uint64_t now_ms);

/* The sync last asked through io->sync finished: sends the messages that
 * waited for it. Call replica_drain() after (the leader may commit). */
int replica_on_synced(struct replica *rep, uint64_t now_ms);

/* Writes the applied state buffered in memory to io->kv now (before a clean
 * exit). Errors: ERR_STOPPED after a kv error (fatal). */
int replica_store(struct replica *rep);

/* Stores the applied state, then compacts at it whatever the threshold
 * (keeping log_keep entries; a no-op with snapshots off). Call between
 * drains. Errors: ERR_STOPPED (fatal, as in replica_store). */
int replica_compact_now(struct replica *rep);
uint64_t replica_deadline(const struct replica *rep);

/* Drains the core's ready batches through io. Call once per loop wakeup,
 * after handling every input. Errors: ERR_IO / ERR_STOPPED from persist or
 * apply: the node must stop (fail-stop). */
int replica_drain(struct replica *rep, uint64_t now_ms);

/* The member's disk completes writes or not (raft_set_disk_ok). */
void replica_set_disk_ok(struct replica *rep, bool ok);

/* The core, for status and checks. */
const struct raft *replica_raft(const struct replica *rep);

/* Membership changes and leadership transfer: raft_change and
 * raft_transfer on the core (node/raft.h); drain afterwards. */
int replica_change(struct replica *rep, uint64_t now_ms,
                   const struct membership *to, raft_index *index);
int replica_transfer(struct replica *rep, uint64_t now_ms, raft_id target);
/* From the io's snapshot_install: the installed image's configuration
 * (text; a malformed one is ignored). */
void replica_snapshot_config(struct replica *rep, const uint8_t *text,
                             uint32_t len);

/* Snapshot counters, for status and tests. */
struct replica_snapshot_stats {
    uint64_t n_compactions;
    raft_index compacted; /* Log deleted up to here by this replica. */
    uint64_t n_sent;      /* Transfers completed as leader. */
    uint64_t n_installed;
    uint64_t n_stale;   /* Refused: older than our commit. */
    uint64_t n_dropped; /* Malformed or out-of-window chunks. */
    uint64_t n_resends;
    uint64_t n_resumed;   /* Transfers resumed from a staged prefix. */
    uint64_t n_refreshed; /* Restarted on a fresh image at the peer's
                           * first reply (it was down past the image). */
};
void replica_snapshot_stats(const struct replica *rep,
                            struct replica_snapshot_stats *out);

/* Snapshot transfers in progress, for status: fills *recv with the one
 * this member receives (all zero when none; peer is its leader, 0 when
 * unknown) and sends with up to cap it sends as leader (bytes
 * acknowledged of the image's size). Returns the number of sends. */
uint32_t replica_snapshot_progress(const struct replica *rep,
                                   struct status_transfer *recv,
                                   struct status_transfer *sends, uint32_t cap);

/* The write-back buffer in front of io->kv, to tune its store size. */
struct kv_writeback *replica_kv_writeback(struct replica *rep);

#endif
