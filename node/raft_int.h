/*
 * struct raft and the prototypes shared by node/raft*.c only; node/raft.h is
 * the public API and nothing outside the core includes this file. The table
 * below names the function that enforces each Raft rule; the comment above
 * that function quotes the rule. Pure: no I/O, no clock. Read node/raft.c
 * next.
 *
 * Figure 2, Rules for Servers           Function, file
 * All: commitIndex > lastApplied: apply raft_apply_due, raft.c
 * All: term T > currentTerm in an RPC:  raft_step_down_if_newer, raft.c
 *   currentTerm = T, become follower
 * Followers: respond to RPCs            raft_step, raft.c
 * Followers: election timeout without   raft_election_start, raft_election.c
 *   AppendEntries or granting a vote:     (called by raft_tick; the timer is
 *   become candidate                      reset by raft_election_reset)
 * Candidates: on conversion: term + 1,  raft_become_candidate, raft_election.c
 *   vote self, reset timer, RequestVote
 * Candidates: majority: become leader   raft_on_vote_reply, raft_election.c
 * Candidates: AppendEntries from new    raft_follow_sender, raft_replication.c
 *   leader: become follower
 * Candidates: timeout: new election     raft_election_start, raft_election.c
 * Leaders: heartbeat upon election      raft_become_leader, raft.c
 * Leaders: heartbeat when idle          raft_heartbeat, raft_replication.c
 * Leaders: append a client command,     raft_propose, raft.c (the answer:
 *   respond after it is applied           node/replica.c)
 * Leaders: last index >= nextIndex:     peer_send_due, raft_replication.c
 *   send entries from nextIndex
 * Leaders: success: update nextIndex    on_success, raft_replication.c
 *   and matchIndex
 * Leaders: inconsistency: decrement     on_reject, raft_replication.c
 *   nextIndex and retry
 * Leaders: commitIndex = N if N >       raft_maybe_commit, raft_replication.c
 *   commitIndex, a majority of
 *   matchIndex >= N, log[N].term ==
 *   currentTerm
 *
 * Figure 2, RequestVote receiver
 * 1. term < currentTerm: reply false    decide_vote, raft_election.c
 * 2. votedFor null or candidateId, and  decide_vote, raft_election.c
 *   log at least as up-to-date: grant     (log_up_to_date)
 *
 * Figure 2, AppendEntries receiver
 * 1. term < currentTerm: reply false    raft_on_append, raft_replication.c
 * 2. no entry at prevLogIndex with      raft_on_append, raft_replication.c
 *   prevLogTerm: reply false
 * 3. conflict: delete the entry and     append_entries, raft_replication.c
 *   all that follow it
 * 4. append new entries not in the log  append_entries, raft_replication.c
 * 5. leaderCommit > commitIndex:        raft_on_append, raft_replication.c
 *   commitIndex = min(leaderCommit,
 *   index of last new entry)
 *
 * Figure 2, State: persistent state is  raft_ready, raft.c (replies wait in
 *   on stable storage before replying     msgs_after)
 *
 * Thesis (and paper) rules we add
 * 3.10: leadership transfer             raft_step, raft.c (TimeoutNow);
 *                                         raft_transfer, raft_membership.c
 * 4.1: the latest config in the log,    raft_membership_on_append,
 *   committed or not, is in force         raft_membership.c
 * 4.3: joint consensus: separate        raft_quorum_of, raft_quorum_match,
 *   majorities of C_old and C_new         raft_membership.c
 * 4.2.1: learners never vote or count   conf_quorum, raft_membership.c
 * 4.2.2: one change at a time, not      raft_change, raft_membership.c
 *   before the term's first commit
 * 4.2.2: a leader not in C_new steps    raft_membership_tick,
 *   down once C_new commits               raft_membership.c
 * 4.2.3: a removed member cannot        raft_step, raft.c
 *   disrupt (its votes are ignored)
 * 4.2.3: leader stickiness: no vote or  raft_in_lease, raft_election.c
 *   new term while a leader is heard
 * 6.2: check quorum: a leader without   raft_tick, raft.c
 *   a majority for an election timeout
 *   steps down
 * 6.4: ReadIndex: read index at least   raft_read_index, raft_read.c
 *   the term's no-op; serve after a     raft_read_on_ack, raft_read.c
 *   majority acknowledged a heartbeat
 * 6.4: a follower's read asks the       raft_on_read_index, raft_read.c
 *   leader for its read index
 * 6.4, paper 8: no-op entry at the      raft_become_leader, raft.c
 *   start of each term
 * 9.6: pre-vote: no term change until   raft_become_candidate, raft_election.c
 *   a majority would vote               decide_vote, raft_election.c
 * 10.2.1: leader writes its log in      send_append, raft_replication.c
 *   parallel with replicating; counts   raft_maybe_commit, raft_replication.c
 *   itself once durable
 * 10.2.1, lazy leader sync: followers   raft_sync_wanted, raft_sync.c
 *   alone commit; the leader syncs
 *   later (config.self_sync_ms)
 * Figure 2, State, one voter: a         raft_self_vote_counts,
 *   candidate counts its own vote only    raft_election.c
 *   once it is durable
 */
#ifndef RAFT_NODE_RAFT_INT_H
#define RAFT_NODE_RAFT_INT_H

#include "common/membership.h"
#include "common/rng.h"
#include "node/raft.h"
#include "node/raft_bugs.h"
#include "node/raft_log.h"

#define RAFT_INFLIGHT_CAP 64 /* Upper bound of config.inflight_max. */
#define RAFT_READS_MAX 8192  /* Pending ReadIndex requests. */

enum raft_peer_mode {
    RAFT_PEER_PROBE = 0,    /* One AppendEntries at a time. */
    RAFT_PEER_PIPELINE = 1, /* Optimistic next, bounded in flight. */
    RAFT_PEER_SNAPSHOT = 2  /* Its next entry is compacted: a snapshot
                             * goes to it; heartbeats only. */
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
    uint64_t match_ctx; /* hb_ctx when match last grew: a rejection of an
                         * append with a higher ctx was sent after the
                         * follower acknowledged match. */
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

/* A configuration entry in the log after the base configuration. */
struct raft_conf_rec {
    raft_index index;
    struct membership conf;
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
    raft_term durable_term; /* The hard state is known durable up to this
                             * term (its vote as first written in it). */
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
    bool disk_ok; /* raft_set_disk_ok; true at start. */

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
    uint64_t lost_acked; /* Followers seen below their match (raft_lost_acked). */
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

    /* Membership (raft_membership.c): the configuration at the log's base
     * (snapshot point or bootstrap), the config entries after it, and the
     * latest of all (the one in force, thesis 4.1). */
    struct membership base_conf;
    raft_index base_conf_index;
    size_t n_confs;
    size_t cap_confs;
    struct raft_conf_rec *confs;
    struct membership conf;
    raft_index conf_index;
    struct membership snap_conf; /* raft_snapshot_set_config's, */
    bool snap_conf_set;          /* for the next install. */
    raft_id transfer_to;         /* Leader: transfer target; 0: none. */
    uint64_t transfer_until_ms;
    bool transfer_sent; /* TimeoutNow went out. */

    /* Leader: peers that entered RAFT_PEER_SNAPSHOT since the last ready. */
    uint32_t n_snap_wanted;
    raft_id snap_wanted[RAFT_NODES_MAX];

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
bool raft_apply_due(const struct raft *r);
void raft_become_follower(struct raft *r, raft_term term, raft_id leader);
int raft_become_candidate(struct raft *r, bool pre_vote, bool transfer);
int raft_become_leader(struct raft *r);
struct raft_peer *raft_peer_find(struct raft *r, raft_id id);
int raft_step_down_if_newer(struct raft *r, const struct raft_msg *msg);

/* raft_election.c */
void raft_election_reset(struct raft *r);
bool raft_election_due(const struct raft *r);
bool raft_disk_blocks(const struct raft *r);
bool raft_in_lease(const struct raft *r);
bool raft_leader_heard(const struct raft *r);
bool raft_self_vote_counts(const struct raft *r);
/* Candidate (or pre-candidate): the votes it has make a quorum. */
bool raft_election_won(const struct raft *r);
int raft_election_start(struct raft *r, bool transfer);
int raft_on_vote(struct raft *r, const struct raft_msg *msg);
int raft_on_vote_reply(struct raft *r, const struct raft_msg *msg);

/* raft_replication.c */
void raft_fetched_free(struct raft *r);
bool raft_follow_sender(struct raft *r, const struct raft_msg *msg,
                        const char *what);
int raft_on_append(struct raft *r, const struct raft_msg *msg);
int raft_on_append_reply(struct raft *r, const struct raft_msg *msg);
int raft_replication_send_due(struct raft *r);
void raft_maybe_commit(struct raft *r);
void raft_heartbeat(struct raft *r);
/* Leader: marks an append due for every follower that one at its match
 * would tell a higher commit index than it was sent (commit_notify_ms). */
void raft_commit_notify(struct raft *r);

/* raft_membership.c */
/* Whether the members agreeing (us: self_ok; peers[i]: peer_ok[i]) make a
 * quorum of the configuration in force (both sets when joint). */
bool raft_quorum_of(const struct raft *r, bool self_ok, const bool *peer_ok);
/* The highest index a quorum holds, counting ourselves at self. */
raft_index raft_quorum_match(const struct raft *r, raft_index self);
int raft_membership_load(struct raft *r, const struct raft_loaded *l);
/* After an entry went into the log at index. Errors: ERR_NOMEM. */
int raft_membership_on_append(struct raft *r, raft_index index,
                              const struct raft_entry *e);
void raft_membership_truncate(struct raft *r, raft_index from);
void raft_membership_compact(struct raft *r, raft_index upto);
void raft_membership_installed(struct raft *r, raft_index index, bool keep);
bool raft_membership_can_campaign(const struct raft *r);
/* Whether id is in our configuration (or we know none yet). */
bool raft_membership_knows(const struct raft *r, raft_id id);
int raft_membership_on_commit(struct raft *r);
bool raft_membership_tick(struct raft *r);
int raft_transfer_send_if_ready(struct raft *r, const struct raft_peer *p);

/* raft_sync.c */
uint64_t raft_sync_due(const struct raft *r, uint64_t after);

/* raft_snapshot.c */
int raft_on_snapshot(struct raft *r, const struct raft_msg *msg);
/* Leader: p's next entry is compacted: p enters RAFT_PEER_SNAPSHOT and the
 * next ready asks for a transfer. */
void raft_snapshot_want(struct raft *r, struct raft_peer *p);

/* raft_read.c */
void raft_read_on_ack(struct raft *r);
/* A new heartbeat round (hb_ctx + 1), sent to every follower at the next
 * raft_ready(): reads queued for it join it. */
void raft_read_start_round(struct raft *r);
void raft_read_fail_all(struct raft *r);
int raft_on_read_index(struct raft *r, const struct raft_msg *msg);
int raft_on_read_index_reply(struct raft *r, const struct raft_msg *msg);
void raft_read_expire_forwarded(struct raft *r, bool all);
uint64_t raft_read_forwarded_deadline(const struct raft *r);

#endif
