/*
 * The Raft core's whole public API: a deterministic state machine driven by
 * three inputs (a peer message, a clock tick carrying now_ms, a client
 * proposal) whose output is a ready batch the caller acts on in order:
 * send msgs_now; persist hard state, truncation and entries in one durable
 * write; send msgs_after; apply committed entries; hand read results over;
 * then call raft_advance(). Pure: no I/O, no clock, no rand(); time arrives
 * as now_ms and randomness from the seed in raft_config.
 * Read node/raft.c next.
 */
#ifndef RAFT_NODE_RAFT_H
#define RAFT_NODE_RAFT_H

/* Glossary: one verb, one act, throughout the tree (drain: replica.h).
 * write:  hard state, truncation and entries into SQLite's log (no fsync).
 * sync:   fdatasync of the WAL; it makes every earlier write durable.
 * commit: Raft's: an entry is on a majority's durable logs (commit index).
 * apply:  committed entries through kv_apply into the write-back buffer.
 * store:  the write-back buffer's changes into the kv table (one txn). */

#include "common/membership.h"
#include "common/msg.h"
#include "common/types.h"

struct raft;

/* No correct cluster gets near this term (SQLite stores terms as int64). */
#define RAFT_TERM_MAX ((raft_term)INT64_MAX / 2)
/* A correct peer is never this many terms ahead of us. */
#define RAFT_TERM_JUMP_MAX (1ull << 32)

/* Reads durable entries lo..hi (lo <= hi) into out: at least one, at most
 * cap, stopping once about bytes_max bytes of payload are read; sets *n.
 * Data pointers stay valid until the next call. Any error makes the core
 * skip that send (it retries at the next heartbeat). */
typedef int (*raft_fetch_cb)(void *ctx, raft_index lo, raft_index hi,
                             size_t bytes_max, struct raft_entry *out,
                             size_t cap, size_t *n);

struct raft_config {
    raft_id id; /* Ours; one of members unless n_members is 0. */
    /* The bootstrap voters (when the log and snapshot hold no
     * configuration), 0..RAFT_NODES_MAX; 0: a joining member that waits to
     * learn its configuration from a leader. */
    uint32_t n_members;
    raft_id members[RAFT_NODES_MAX];
    uint32_t heartbeat_ms; /* Leader's append interval; raftnode 50. Not 0. */
    /* Election timeout: drawn uniformly from [election_ms, 2*election_ms)
     * ms; raftnode 150. Not 0. */
    uint32_t election_ms;
    uint64_t seed; /* PRNG seed for the election timeouts. */
    /* Entry payload bytes per AppendEntries (one entry always goes);
     * raftnode: what fits a datagram. Not 0. */
    uint32_t batch_bytes_max;
    /* Appends in flight per follower, 1..RAFT_INFLIGHT_CAP; raftnode 8. */
    uint32_t inflight_max;
    bool pre_vote; /* Pre-vote (thesis 9.6); raftnode true. */
    /* Check quorum (thesis 6.2): a leader steps down after election_ms
     * without a majority; also turns on leader stickiness (thesis 4.2.3).
     * raftnode true. */
    bool check_quorum;
    /* Applied entries whose payloads stay in memory; raftnode 1024. 0: all
     * of them. Nonzero needs fetch. */
    uint32_t mem_entries_max;
    raft_fetch_cb fetch; /* Older payloads from storage; NULL: none. */
    void *fetch_ctx;     /* Passed to fetch. */
    /* Follower: applies once this many committed entries wait, or
     * apply_delay_ms ms after its last apply; raftnode 0 and 0. Either 0:
     * applies at once. */
    uint32_t apply_batch_min;
    uint32_t apply_delay_ms;
    /* false: a ready batch's write is durable by raft_advance(). true: it
     * is only written; the caller holds msgs_after until the writes before
     * them are durable and reports that with raft_persisted(). raftnode
     * true. */
    bool async_persist;
    /* async_persist only: ms a leader whose followers alone commit may
     * leave its own log unsynced once its sync would advance commit
     * (raft_sync_wanted); raftnode 1. 0: it syncs whatever is written. */
    uint32_t self_sync_ms;
    /* Leader: ms a new commit index may wait to ride on an append with
     * entries before a follower gets it in one of its own; raftnode 2. 0:
     * at once. */
    uint32_t commit_notify_ms;
};

/* Durable state loaded by the caller at start. The core copies it. */
struct raft_loaded {
    raft_term term;
    raft_id voted_for;
    raft_index first_index; /* Index of entries[0]. When above
                                        * snapshot_index + 1, runs give the
                                        * terms of the entries before it
                                        * (their payloads stay in storage;
                                        * needs config fetch). */
    size_t n_runs;
    const struct raft_term_run *runs; /* Borrowed during raft_new. */
    raft_index snapshot_index;        /* Last compacted index, 0 if none. */
    raft_term snapshot_term;
    size_t n_entries;
    const struct raft_entry *entries; /* Borrowed during raft_new. */
    raft_index applied;               /* Applied index from the kv store. */
    /* The configuration in force at config_index (the snapshot's, or the
     * last config entry before first_index), as text; NULL: the bootstrap
     * voters of raft_config. Borrowed during raft_new. */
    const uint8_t *config;
    uint32_t config_len;
    raft_index config_index;
};

/* A linearizable read the caller asked for with raft_read_index(). */
struct raft_read {
    uint64_t read_id;
    raft_index index; /* Serve once applied >= index. */
    bool ok;          /* false: leadership lost, retry. */
};

enum raft_trace_level {
    RAFT_TRACE_INFO = 1,  /* Role and term changes, commit. */
    RAFT_TRACE_DEBUG = 2, /* Per message. */
    RAFT_TRACE_ERROR = 3  /* A broken promise: a member lost entries it
                           * acknowledged (its disk lied). */
};

/* Receives every trace line (no newline); line is valid during the call. */
typedef void (*raft_trace_cb)(void *ctx, int level, const char *line);

/* The output batch. Every pointer is borrowed from the core until
 * raft_advance(); nothing may be fed to the core in between. */
struct raft_ready {
    bool has_hard_state; /* term/voted_for changed. */
    raft_term term;
    raft_id voted_for;
    raft_index truncate_from;       /* 0: none; else delete idx >= it. */
    raft_index entries_first_index; /* Index of entries[0]. */
    size_t n_entries;               /* To persist. */
    const struct raft_entry *entries;
    size_t n_msgs_now; /* Send before persisting. */
    const struct raft_msg *msgs_now;
    size_t n_msgs_after; /* Send only after persisting. */
    const struct raft_msg *msgs_after;
    raft_index committed_first_index; /* Index of committed[0]. */
    size_t n_committed;               /* To apply, in order. */
    const struct raft_entry *committed;
    size_t n_reads; /* Read results. */
    const struct raft_read *reads;
    bool soft_state_changed;  /* role, leader or term changed. */
    size_t n_snapshots;       /* Leader: peers whose next entry is */
    const raft_id *snapshots; /* compacted: send each a snapshot, then
                                * raft_snapshot_done(). */
};

/* Builds a core. config and loaded are copied. Returns NULL when out of
 * memory. Aborts (ASSERT) on a config that breaks its contract (id not a
 * member, zero timeouts); callers validate user input before. */
struct raft *raft_new(const struct raft_config *config,
                      const struct raft_loaded *loaded, raft_trace_cb trace,
                      void *trace_ctx, uint64_t now_ms);
void raft_free(struct raft *r);

/* Feeds one peer message (msg_type_is_peer). The caller has validated that
 * msg->from is a member other than us and msg->to is us. Borrowed: the core
 * copies what it keeps. Errors: ERR_NOMEM only. */
int raft_step(struct raft *r, uint64_t now_ms, const struct raft_msg *msg);

/* False for a peer message no correct member can send: a term more than
 * 2^32 above ours or beyond RAFT_TERM_MAX, a log term above the message's
 * own term, a prev_index of 0 with a prev_term (or the reverse), entries
 * whose terms are 0, decrease or start below prev_term, indexes near
 * overflow. raft_step ignores such a message (a datagram forged with a
 * member's source address, or a broken peer); the runtime calls this first
 * to count it as dropped. */
bool raft_msg_is_plausible(const struct raft *r, const struct raft_msg *msg);

/* Runs due timers: elections, heartbeats, quorum check; makes a candidate
 * that won once its own vote became durable leader (a single voter). Call
 * when now_ms has reached raft_deadline(). Errors: ERR_NOMEM only. */
int raft_tick(struct raft *r, uint64_t now_ms);

/* The earliest time raft_tick has work. */
uint64_t raft_deadline(const struct raft *r);

/* Appends a command (copied) if leader and sets *index.
 * Errors: ERR_NOT_LEADER (see raft_leader()), ERR_TOO_BIG, ERR_NOMEM. */
int raft_propose(struct raft *r, uint64_t now_ms, uint8_t entry_type,
                 const uint8_t *data, uint32_t len, raft_index *index);

/* Asks for a linearizable read (ReadIndex, thesis 6.4). Its result comes in
 * a later ready batch under read_id. Errors: ERR_NOT_LEADER, ERR_AGAIN (too
 * many reads waiting). */
int raft_read_index(struct raft *r, uint64_t now_ms, uint64_t read_id);

bool raft_has_ready(const struct raft *r);
void raft_ready(struct raft *r, struct raft_ready *rd);
/* rd must be the batch from the last raft_ready(). After it the entries are
 * durable (the leader counts itself) and the committed ones applied. */
void raft_advance(struct raft *r, const struct raft_ready *rd);

/* config.async_persist only: entries up to index, as they stood when the
 * caller asked storage for durability, are durable. The caller lowers index
 * below any truncation it wrote after asking (a rewritten entry is not the
 * one that became durable). Not between raft_ready and raft_advance. */
void raft_persisted(struct raft *r, raft_index index);

/* config.async_persist only: the hard state the caller wrote for term, as
 * it stood when the caller asked storage for durability, is durable. A
 * candidate counts its own vote only then (a single voter's election).
 * Not between raft_ready and raft_advance. */
void raft_persisted_term(struct raft *r, raft_term term);

/* config.async_persist only: whether the caller should ask storage for a
 * sync of what it wrote now (false only for a leader leaving its own log
 * unsynced, see config.self_sync_ms; it then calls raft_tick by
 * raft_deadline). Messages the caller holds want a sync regardless. */
bool raft_sync_wanted(const struct raft *r);

/* The member's disk can (true, the start) or cannot (false: full, or a
 * sync outstanding too long) complete writes. While it cannot, a leader
 * steps down at once, a candidate gives up, and no election starts here
 * (a transfer's TimeoutNow included): what such a member would write is
 * never durable, so it must not lead. Votes need no rule: they are sent
 * only after the vote is durable. Pure: the caller decides what a bad
 * disk is (node/node.c: ERR_NO_SPACE, or a sync older than its bound). */
void raft_set_disk_ok(struct raft *r, bool ok);
bool raft_disk_ok(const struct raft *r);

/* What a follower does with a complete snapshot (raft_snapshot_plan). */
enum raft_snapshot_plan {
    RAFT_SNAPSHOT_STALE = 0, /* At or below our commit: install nothing,
                              * acknowledge it as done. */
    RAFT_SNAPSHOT_KEEP_LOG,  /* Our log holds its point: keep what
                              * follows it. */
    RAFT_SNAPSHOT_DROP_LOG   /* Replace the whole log. */
};

/* Log compaction (thesis chapter 5): entries up to index leave the log;
 * storage has deleted them (their effects are durably in the state
 * machine, so index <= the applied index). No-op at or below the current
 * snapshot point. Not between raft_ready and raft_advance. */
void raft_compact(struct raft *r, raft_index index);

/* Follower: thesis 5.2 (Figure 5.3, InstallSnapshot receiver, steps 6-7)
 * for a received snapshot at (index, term): stale when our commit already
 * covers it; else keep the log after index when our entry there has that
 * term, else drop it all. */
int raft_snapshot_plan(const struct raft *r, raft_index index, raft_term term);

/* Follower: the snapshot at (index, term) is durably installed with plan
 * (not STALE; storage replaced the state machine and did to the log what
 * plan says). Commit and applied become at least index. Not between
 * raft_ready and raft_advance. */
void raft_snapshot_installed(struct raft *r, raft_index index, raft_term term,
                             int plan);

/* Follower: queues the answer to a snapshot chunk (after persisting, like
 * an AppendEntries reply): offset is the next byte wanted, success false
 * asks the leader to resend from there, done says it is installed.
 * Errors: ERR_NOMEM. */
int raft_snapshot_ack(struct raft *r, const struct raft_msg *chunk,
                      uint64_t offset, bool success, bool done);

/* Leader: peer acknowledged the whole snapshot at index (installed or
 * already covered): it matches there; replication resumes after it. */
void raft_snapshot_done(struct raft *r, raft_id peer, raft_index index);

/* The first index still in the log (the snapshot point + 1). */
raft_index raft_first_index(const struct raft *r);

/* Read-only accessors. */
raft_id raft_self(const struct raft *r);
int raft_role(const struct raft *r); /* enum raft_role */
raft_term raft_current_term(const struct raft *r);
raft_id raft_voted_for(const struct raft *r);
raft_id raft_leader(const struct raft *r); /* 0 when unknown. */
raft_index raft_commit_index(const struct raft *r);
raft_index raft_last_index(const struct raft *r);
raft_term raft_last_term(const struct raft *r);
raft_index raft_applied_index(const struct raft *r); /* Handed out+advanced. */
/* The term of entry index, 0 when unknown (compacted or past the end). */
raft_term raft_term_at(const struct raft *r, raft_index index);
/* Election timer for status: the randomized timeout and time since reset. */
uint32_t raft_election_timeout_ms(const struct raft *r);
uint64_t raft_election_elapsed_ms(const struct raft *r, uint64_t now_ms);
/* Since last contact with a leader; UINT64_MAX if never. */
uint64_t raft_leader_contact_ms(const struct raft *r, uint64_t now_ms);
/* How many times, as leader, this core saw a member's log end below what
 * the member had acknowledged (each logged at RAFT_TRACE_ERROR). */
uint64_t raft_lost_acked(const struct raft *r);
/* Leader only: fills up to cap peers' progress, returns the count. */
uint32_t raft_progress(const struct raft *r, uint64_t now_ms,
                       struct status_peer *out, uint32_t cap);

/* Membership (thesis chapter 4, node/raft_membership.c). */
/* Leader: starts a change to the configuration to (not joint, at least one
 * voter; addresses are carried along): C_old,new, then C_new once that
 * commits; a change of learners only goes in at once. *index: the entry.
 * Errors: ERR_NOT_LEADER, ERR_BUSY (a change or transfer in progress),
 * ERR_AGAIN (no entry of this term committed yet), ERR_INVALID,
 * ERR_TOO_BIG, ERR_NOMEM. */
int raft_change(struct raft *r, uint64_t now_ms, const struct membership *to,
                raft_index *index);
/* Leader: leadership transfer to target (0: the voter with the highest
 * match). Writes get ERR_BUSY until it ends (a new leader, or an election
 * timeout). Errors: ERR_NOT_LEADER, ERR_BUSY, ERR_NOT_FOUND, ERR_INVALID. */
int raft_transfer(struct raft *r, uint64_t now_ms, raft_id target);
raft_id raft_transfer_target(const struct raft *r); /* 0: none. */
/* The configuration in force: the latest in the log (thesis 4.1). */
const struct membership *raft_membership(const struct raft *r);
raft_index raft_membership_index(const struct raft *r); /* 0: bootstrap. */
/* The configuration in force at index (>= the snapshot point). */
void raft_membership_at(const struct raft *r, raft_index index,
                        struct membership *out);
/* Follower: the configuration of the snapshot about to be installed
 * (before raft_snapshot_installed). Errors: ERR_MALFORMED. */
int raft_snapshot_set_config(struct raft *r, const uint8_t *text,
                             uint32_t len);
/* Leader: the index of this term's no-op; else 0. */
raft_index raft_term_start_index(const struct raft *r);

/* The name of a role, lower case ("leader"). */
const char *raft_role_name(int role);

#endif
