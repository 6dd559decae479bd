/*
 * struct raft and the prototypes shared by node/raft*.c only. Nothing outside
 * the core includes this file: node/raft.h is the public API.
 * Pure: no I/O, no clock. Read node/raft.c for the role transitions.
 */
#ifndef RAFT_NODE_RAFT_INT_H
#define RAFT_NODE_RAFT_INT_H

#include "common/rng.h"
#include "node/raft.h"
#include "node/raft_bugs.h"
#include "node/raft_log.h"

#define RAFT_INFLIGHT_CAP 64 /* Upper bound of config.inflight_max. */
#define RAFT_READS_MAX 8192  /* Pending ReadIndex requests. */

enum raft_peer_mode {
    RAFT_PEER_PROBE = 0,   /* One AppendEntries at a time. */
    RAFT_PEER_PIPELINE = 1 /* Optimistic next, bounded in flight. */
};

/* Leader's view of one other member (Figure 2 nextIndex/matchIndex). */
struct raft_peer {
    raft_id id;
    raft_index next;
    raft_index match;
    int mode;
    bool send_pending;      /* Send at the next raft_ready(). */
    bool probe_outstanding; /* Probe mode: an append awaits a reply. */
    uint32_t n_inflight;    /* Pipelined batches not yet acknowledged. */
    raft_index inflight_last[RAFT_INFLIGHT_CAP]; /* Ring: last index each. */
    uint32_t inflight_head;
    uint64_t ack_ctx; /* Highest heartbeat ctx acknowledged. */
    uint64_t last_ack_ms;
    raft_index match_at_hb; /* match at the previous heartbeat. */
    bool active;            /* Replied since the last quorum check. */
    bool vote_granted;      /* Election tally. */
    raft_index commit_sent; /* Highest commit index an append sent
                                 * could tell it (capped at the last
                                 * index that append proves). */
};

/* A ReadIndex request waiting for its heartbeat round. */
struct raft_read_req {
    raft_id from; /* 0: ours; else a follower's. */
    uint64_t read_id;
    raft_index index;
    uint64_t ctx;
};

/* A read a follower forwarded to its leader. */
struct raft_fwd_read {
    uint64_t read_id;
    uint64_t batch_id; /* The MSG_READ_INDEX it rides on: the
                                * read_id of its first read. */
    raft_id leader;
    uint64_t sent_ms;
};

/* A growable array of outgoing messages. */
struct raft_outbox {
    size_t n;
    size_t cap;
    struct raft_msg *msgs;
};

struct raft {
    struct raft_config config;
    raft_trace_cb trace;
    void *trace_ctx;
    struct rng rng;

    /* Persistent state (Figure 2) and what is known to be durable. */
    raft_term term;
    raft_id voted_for;
    raft_term persisted_term;
    raft_id persisted_vote;
    struct raft_log log;
    raft_index stable;        /* Last index written to storage. */
    raft_index synced;        /* Last index known durable (<= stable):
                                 * stable itself unless async_persist. */
    raft_index truncate_from; /* Durable suffix to delete, 0 if none. */
    uint64_t unsynced_ms;     /* async: since when synced < stable
                                 * (about); UINT64_MAX: all synced. */
    uint64_t self_need_ms;    /* Leader, async: since when its own sync
                                 * would advance commit; UINT64_MAX: not. */

    /* Volatile state. */
    int role;
    raft_id leader;
    raft_index commit;
    raft_index applied; /* Handed out in a ready and advanced. */
    bool soft_changed;

    /* Timers (absolute ms). */
    uint64_t now_ms;
    uint64_t election_reset_ms;
    uint32_t election_timeout_ms;
    uint64_t heartbeat_due_ms;
    uint64_t commit_notify_ms; /* Leader: when followers that have not
                                 * had the commit index get it alone
                                 * (config.commit_notify_ms); UINT64_MAX:
                                 * none due. */
    uint64_t quorum_check_ms;
    uint64_t leader_contact_ms; /* UINT64_MAX: never. */
    uint64_t last_apply_ms;     /* Last hand-out of committed entries. */

    /* Leader state. */
    uint32_t n_peers;
    struct raft_peer peers[RAFT_NODES_MAX];
    raft_index term_start_index; /* This leader's no-op entry. */
    uint64_t hb_ctx;             /* Current heartbeat round. */
    bool hb_ctx_sent;
    bool read_round_queued; /* Reads wait for round hb_ctx + 1. */

    /* ReadIndex. */
    size_t n_reads_waiting;
    struct raft_read_req *reads_waiting; /* RAFT_READS_MAX slots. */
    size_t n_reads_ready;
    struct raft_read *reads_ready; /* RAFT_READS_MAX slots. */
    size_t n_reads_fwd;
    struct raft_fwd_read *reads_fwd; /* RAFT_READS_MAX slots. */
    raft_index read_apply_upto;      /* Follower: a read waits on it. */
    uint64_t fwd_batch_open;         /* Follower: the MSG_READ_INDEX
                                          * not sent yet (this ready), that
                                          * more reads may join; 0: none. */
    raft_id fwd_batch_leader;        /* Whom that request goes to. */

    /* Output. */
    struct raft_outbox now;
    struct raft_outbox after;

    /* Payloads read back from storage for this ready's appends: one heap
     * block each (entries then data), freed at raft_advance(). */
    size_t n_fetched;
    size_t fetched_cap;
    void **fetched;
    struct raft_entry *fetch_scratch; /* RAFT_ENTRIES_PER_MSG_MAX. */
};

/* raft.c */
void raft_tracef(struct raft *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int raft_outbox_push(struct raft_outbox *box, const struct raft_msg *msg);
uint32_t raft_quorum(const struct raft *r);
bool raft_apply_due(const struct raft *r);
void raft_become_follower(struct raft *r, raft_term term, raft_id leader);
int raft_become_candidate(struct raft *r, bool pre_vote, bool transfer);
int raft_become_leader(struct raft *r);
struct raft_peer *raft_peer_find(struct raft *r, raft_id id);
int raft_step_down_if_newer(struct raft *r, const struct raft_msg *msg);

/* raft_election.c */
void raft_election_reset(struct raft *r);
bool raft_election_due(const struct raft *r);
bool raft_in_lease(const struct raft *r);
int raft_election_start(struct raft *r, bool transfer);
int raft_on_vote(struct raft *r, const struct raft_msg *msg);
int raft_on_vote_reply(struct raft *r, const struct raft_msg *msg);

/* raft_replication.c */
void raft_fetched_free(struct raft *r);
int raft_on_append(struct raft *r, const struct raft_msg *msg);
int raft_on_append_reply(struct raft *r, const struct raft_msg *msg);
int raft_replication_flush(struct raft *r);
void raft_maybe_commit(struct raft *r);
void raft_heartbeat(struct raft *r);
/* Leader: marks an append due for every follower that one at its match
 * would tell a higher commit index than it was sent (commit_notify_ms). */
void raft_commit_notify(struct raft *r);

/* raft_sync.c */
uint64_t raft_sync_due(const struct raft *r, uint64_t after);

/* raft_read.c */
void raft_read_on_ack(struct raft *r);
void raft_read_fail_all(struct raft *r);
int raft_on_read_index(struct raft *r, const struct raft_msg *msg);
int raft_on_read_index_reply(struct raft *r, const struct raft_msg *msg);
void raft_read_expire_forwarded(struct raft *r, bool all);
uint64_t raft_read_forwarded_deadline(const struct raft *r);

#endif
