/*
 * Every message of the protocol as plain C structs: the peer messages the
 * Raft core consumes and produces, and the client, status and fault-control
 * messages the runtime handles. Pure data: common/wire.c turns these into
 * msgpack datagrams and back. Pointers inside a message are borrowed from
 * whoever built it (the core's log, a receive buffer). Read common/wire.h
 * next.
 */
#ifndef RAFT_COMMON_MSG_H
#define RAFT_COMMON_MSG_H

#include "common/membership.h"
#include "common/types.h"

enum msg_type {
    MSG_NONE = 0,
    /* Peer messages: only from members, at their configured address. */
    MSG_VOTE = 1, /* RequestVote (and pre-vote). */
    MSG_VOTE_REPLY,
    MSG_APPEND, /* AppendEntries; no entries = heartbeat. */
    MSG_APPEND_REPLY,
    MSG_SNAPSHOT, /* InstallSnapshot, chunked. */
    MSG_SNAPSHOT_REPLY,
    MSG_TIMEOUT_NOW, /* Leadership transfer: start an election now. */
    /* From anyone. */
    MSG_CLIENT, /* Client request. */
    MSG_CLIENT_REPLY,
    MSG_STATUS, /* Status request. */
    MSG_STATUS_REPLY,
    MSG_FAULT, /* Fault-injection control (loopback, --faults). */
    MSG_FAULT_REPLY,
    /* Peer messages again (added later; numbers are stable on the wire). */
    MSG_READ_INDEX, /* Follower asks the leader for a read index. */
    MSG_READ_INDEX_REPLY,
    /* From anyone: several client requests, or replies, in one datagram. */
    MSG_CLIENT_BATCH,
    /* From anyone: the digest of a member's kv table (raftctl check). */
    MSG_CHECK,
    MSG_CHECK_REPLY,
    /* Message trace (docs/TRACE.md): a viewer's lease, and the messages a
     * member sent, batched, to each viewer holding one. */
    MSG_TRACE,
    MSG_TRACE_EVENTS,
    MSG__COUNT
};

static inline int msg_type_is_peer(int type)
{
    return (type >= MSG_VOTE && type <= MSG_TIMEOUT_NOW) ||
           type == MSG_READ_INDEX || type == MSG_READ_INDEX_REPLY;
}

/* Raft entry types (the log table's op column shows noop/config, or the kv
 * op of a normal entry). */
enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 1, /* A command (common/command.h payload). */
    RAFT_ENTRY_NOOP = 2,   /* Appended by each new leader (thesis 6.4). */
    RAFT_ENTRY_CONFIG = 3  /* Membership (reserved). */
};

struct raft_entry {
    raft_term term;
    uint8_t type; /* enum raft_entry_type */
    uint32_t len;
    const uint8_t *data; /* Borrowed; len bytes. */
};

/* Entries first..(the next run's first - 1) all have this term: how the core
 * and storage describe a log prefix whose payloads stay on disk. */
struct raft_term_run {
    raft_index first;
    raft_term term;
};

struct msg_vote {
    raft_index last_index;
    raft_term last_term;
    bool pre_vote; /* Pre-vote: term is the term it would use. */
    bool transfer; /* Leadership transfer: ignore leader stickiness. */
};

struct msg_vote_reply {
    bool granted;
    bool pre_vote;
};

struct msg_append {
    raft_index prev_index;
    raft_term prev_term;
    raft_index commit; /* Leader's commit index. */
    uint64_t ctx;      /* Heartbeat round, echoed (ReadIndex, quorum). */
    uint32_t n_entries;
    const struct raft_entry *entries; /* Borrowed. */
};

struct msg_append_reply {
    bool success;
    raft_index match_index;    /* success: last index known to match. */
    raft_index reject_index;   /* !success: the prev_index refused. */
    raft_index last_index;     /* Follower's last log index. */
    raft_term conflict_term;   /* !success: term at reject_index, or 0. */
    raft_index conflict_index; /* !success: first index of conflict_term. */
    uint64_t ctx;              /* Echo of msg_append.ctx. */
};

/* One chunk of a snapshot image (node/snapshot_send.h): the bytes at
 * offset of an image of size bytes holding the state at (last_index,
 * last_term); done marks the last chunk (offset + len == size). */
struct msg_snapshot {
    raft_index last_index;
    raft_term last_term;
    uint64_t offset;
    bool done;
    uint32_t len;
    const uint8_t *data; /* Borrowed. */
    uint64_t size;       /* Whole image, bytes (>= 1). */
};

/* Acknowledges the contiguous prefix of the image received. */
struct msg_snapshot_reply {
    raft_index last_index;
    uint64_t offset; /* Next offset wanted. */
    bool success;    /* false: resend from offset (receiver lost it). */
    raft_term last_term;
    bool done; /* Installed (or already covered by our commit). */
};

/* A follower serving a linearizable read asks the leader to confirm its
 * leadership and name the index to wait for (thesis 6.4). */
struct msg_read_index {
    uint64_t read_id; /* The follower's; echoed. */
};

struct msg_read_index_reply {
    uint64_t read_id;
    raft_index index; /* Serve once applied >= index. */
    bool ok;          /* false: not (or no longer) leader. */
};

/* A batch: n (1..WIRE_BATCH_MAX) whole client datagrams, each a msgpack bin,
 * back to back in items (borrowed from the decoded buffer); read them with
 * wire_batch_next(). Only MSG_CLIENT and MSG_CLIENT_REPLY may be inside. */
struct msg_batch {
    uint32_t n;
    const uint8_t *items;
    uint32_t items_len;
};

enum client_op {
    CLIENT_PUT = 1,
    CLIENT_GET = 2,
    CLIENT_DEL = 3,
    CLIENT_CAS = 4,
    CLIENT_REGISTER = 5 /* Start a session: the reply's value is its id
                         * (8 bytes, little-endian: the log index of the
                         * register entry). No key, no value. */
};

struct msg_client {
    uint64_t client_id;
    uint64_t seq;
    uint8_t op; /* enum client_op */
    uint32_t key_len;
    const uint8_t *key; /* Borrowed. */
    uint32_t value_len;
    const uint8_t *value; /* PUT: value; CAS: new value. */
    uint32_t expected_len;
    const uint8_t *expected; /* CAS only. */
};

enum client_status {
    CLIENT_OK = 0,
    CLIENT_NOT_FOUND = 1,       /* GET of an absent key. */
    CLIENT_CAS_MISMATCH = 2,    /* CAS: value differs or absent. */
    CLIENT_NOT_LEADER = 3,      /* Try leader_hint (0: unknown). */
    CLIENT_RETRY = 4,           /* Leader busy or lost; outcome unknown. */
    CLIENT_INVALID = 5,         /* Malformed or oversized request. */
    CLIENT_SESSION_EXPIRED = 6, /* Session evicted: not executed; start a
                                 * new one (thesis 6.3). */
    CLIENT_NO_SPACE = 7,        /* The answering member's disk is full:
                                 * not executed there (docs/DISK.md). */
    CLIENT_STATUS__COUNT
};

struct msg_client_reply {
    uint64_t client_id;
    uint64_t seq;
    uint8_t status; /* enum client_status */
    raft_id leader_hint;
    uint32_t value_len;
    const uint8_t *value; /* GET result; borrowed. */
};

enum raft_role {
    RAFT_FOLLOWER = 0,
    RAFT_CANDIDATE = 1,
    RAFT_LEADER = 2,
    RAFT_PRECANDIDATE = 3 /* Follower running a pre-vote round. */
};

/* Why a datagram was dropped; counted per node, shown by status. */
enum drop_reason {
    DROP_MALFORMED = 0,
    DROP_WRONG_CLUSTER,
    DROP_WRONG_VERSION,
    DROP_UNKNOWN_SENDER, /* Peer message from a non-member id. */
    DROP_WRONG_ADDRESS,  /* Member id from another address. */
    DROP_NOT_FOR_US,     /* Receiver id is not this node. */
    DROP_FAULT_REFUSED,  /* Fault control without --faults or remote. */
    DROP_OVERLOAD,       /* Pending-request table full. */
    DROP_NETEM,          /* Dropped by injected loss or partition. */
    DROP_BAD_TAG,        /* No tag, or none verifies (common/auth.h). */
    DROP_REPLAY,         /* Seen already, or older than the window. */
    DROP_WRONG_KEY_TYPE, /* Client key on a peer, fault or admin type. */
    DROP__COUNT
};

/* A reason as `raftctl status --drops` and the dashboard name it. */
static inline const char *msg_drop_name(int reason)
{
    static const char *const names[DROP__COUNT] = {
        [DROP_MALFORMED] = "malformed",
        [DROP_WRONG_CLUSTER] = "wrong_cluster",
        [DROP_WRONG_VERSION] = "wrong_version",
        [DROP_UNKNOWN_SENDER] = "unknown_sender",
        [DROP_WRONG_ADDRESS] = "wrong_address",
        [DROP_NOT_FOR_US] = "not_for_us",
        [DROP_FAULT_REFUSED] = "fault_refused",
        [DROP_OVERLOAD] = "overload",
        [DROP_NETEM] = "netem",
        [DROP_BAD_TAG] = "bad_tag",
        [DROP_REPLAY] = "replay",
        [DROP_WRONG_KEY_TYPE] = "wrong_key_type",
    };
    return reason >= 0 && reason < DROP__COUNT ? names[reason] : "?";
}

struct status_peer {
    raft_id id;
    raft_index match;
    raft_index next;
    uint64_t last_ack_ms; /* Milliseconds since its last reply. */
};

struct msg_status {
    uint64_t nonce; /* Echoed. */
};

/* A snapshot transfer in progress: its bytes acknowledged (leader) or
 * staged (follower) of size. */
struct status_transfer {
    raft_id peer; /* The follower it goes to, or the leader it comes from. */
    uint64_t done;
    uint64_t size; /* done <= size; 0 when none. */
};

/* A member's disk as a status reply shows it. */
enum status_disk {
    STATUS_DISK_OK = 0,
    STATUS_DISK_FULL = 1, /* A write failed for want of space. */
    STATUS_DISK_HUNG = 2  /* A sync outstanding past its bound. */
};

/* Log entries whose terms a status reply shows (the tail of the log). */
#define STATUS_TAIL_MAX 32

struct msg_status_reply {
    uint64_t nonce;
    uint32_t pid;
    uint8_t role;      /* enum raft_role */
    raft_id leader;    /* 0 when unknown. */
    raft_id voted_for; /* 0 when none. */
    raft_index commit;
    raft_index last_index;
    raft_index applied;
    uint32_t election_timeout_ms; /* This term's randomized timeout. */
    uint32_t election_elapsed_ms; /* Time since the timer was reset. */
    uint64_t
        leader_contact_ms; /* Since last leader contact; UINT64_MAX never. */
    uint64_t drops[DROP__COUNT];
    uint32_t n_peers; /* Leader only: follower progress. */
    struct status_peer peers[RAFT_NODES_MAX];
    /* Appended later (the dashboard's view; a reply without them still
     * decodes, with zeros): the terms of the last n_tail log entries,
     * tail_first .. tail_first + n_tail - 1, and the fault rules in force. */
    raft_index tail_first; /* 0 when n_tail is 0. */
    uint32_t n_tail;
    raft_term tail_terms[STATUS_TAIL_MAX];
    uint32_t n_blocked; /* Members partitioned away from this node. */
    raft_id blocked[RAFT_NODES_MAX];
    uint32_t loss_ppm; /* The netem rule (0 when none). */
    uint32_t dup_ppm;
    uint32_t delay_ms;
    uint32_t jitter_ms;
    /* Appended later still (a reply without them decodes with zeros): the
     * snapshot point (the snapshot table's, 0 when none; the log may keep
     * entries at or below it, from tail_first), the
     * transfer this member receives, and the ones it sends as leader. */
    raft_index snapshot_index;
    raft_term snapshot_term;
    struct status_transfer recv; /* size 0: none. */
    uint32_t n_sends;
    struct status_transfer sends[RAFT_NODES_MAX];
    /* Appended later (a reply without it decodes with 0): how many times
     * this member, as leader, saw a member's log end below entries that
     * member had acknowledged (since it started). */
    uint64_t lost_acked;
    /* Appended after those (a reply without it decodes as STATUS_DISK_OK):
     * whether this member's disk completes writes (enum status_disk). */
    uint8_t disk;
    /* Appended after disk (a reply without it decodes with config_len 0):
     * the configuration this member has in force, as the text of its
     * config entry (common/membership.h: "voters 1,2,3 learners 4 @ ..."
     * or "joint 1,2,3 -> 1,2,4 @ ..."), not NUL-terminated. */
    uint32_t config_len;
    uint8_t config[MEMBERSHIP_TEXT_MAX];
    /* Appended after config (a reply without them decodes with zeros):
     * the viewers holding a trace lease, and the trace events this
     * member's budget dropped since it started (docs/TRACE.md). */
    uint32_t trace_subscribers;
    uint64_t trace_dropped;
};

/* raftctl check asks every member for a digest of its kv table at its
 * applied index and compares those at the same index (docs/DAMAGE.md). */
struct msg_check {
    uint64_t nonce; /* Echoed. */
};

enum check_state {
    CHECK_DONE = 0,    /* applied, n_rows and digest are set. */
    CHECK_BUSY = 1,    /* Computing; ask again shortly. */
    CHECK_DAMAGED = 2, /* A row failed its checksum: the member stops. */
    CHECK_STATE__COUNT
};

struct msg_check_reply {
    uint64_t nonce;
    uint8_t state;      /* enum check_state */
    raft_index applied; /* The index the digest is of. */
    uint64_t n_rows;    /* kv rows covered. */
    uint64_t digest;    /* Of every row's key, value (in key order). */
};

/* A viewer asks a member for its message trace for lease_ms (renewed by
 * asking again; 0 ends it). Cluster key only (loopback without keys). */
struct msg_trace {
    uint32_t lease_ms; /* At most TRACE_LEASE_MS_MAX. */
};

#define TRACE_LEASE_MS_MAX 60000u
/* Events one MSG_TRACE_EVENTS carries at most. */
#define TRACE_EVENTS_PER_MSG 128

/* What kind of peer message a trace event is (pre-vote distinguished). */
enum trace_kind {
    TRACE_VOTE = 0,
    TRACE_PREVOTE,
    TRACE_VOTE_REPLY,
    TRACE_PREVOTE_REPLY,
    TRACE_APPEND,
    TRACE_APPEND_REPLY,
    TRACE_SNAPSHOT,
    TRACE_SNAPSHOT_REPLY,
    TRACE_TIMEOUT_NOW,
    TRACE_READ_INDEX,
    TRACE_READ_INDEX_REPLY,
    TRACE_KIND__COUNT
};

/* One message a member sent (its sender is the datagram's from). index:
 * prevLogIndex (append), lastLogIndex (vote), the match index (or the
 * refused one) of an append reply, the snapshot's last index, the read
 * index; n: entries carried; ok: success or granted. count >= 1 identical
 * messages (heartbeats) this event stands for; age_ms: how long before the
 * datagram was sent the (first) message was. */
struct trace_event {
    uint8_t kind; /* enum trace_kind */
    raft_id to;
    raft_term term;
    raft_index index;
    uint32_t n;
    bool ok;
    uint32_t bytes; /* Encoded size of the message. */
    uint32_t count;
    uint32_t age_ms;
};

/* A batch of trace events to one viewer. dropped: events this member's
 * budget has dropped since it started (cumulative: a lost datagram loses
 * no count). */
struct msg_trace_events {
    uint64_t dropped;
    uint32_t n; /* 0..TRACE_EVENTS_PER_MSG; 0 acknowledges a lease. */
    const struct trace_event *events; /* Borrowed (or wire_scratch). */
};

enum fault_action {
    FAULT_HEAL = 1,       /* Clear every rule on this node. */
    FAULT_PARTITION = 2,  /* Drop traffic to and from `blocked`. */
    FAULT_NETEM = 3,      /* Random loss, duplication, delay. */
    FAULT_DISK_DELAY = 4, /* Stall each persist by delay_ms. */
    FAULT_COMPACT = 5,    /* Compact now (raftctl compact; no --faults). */
    /* A membership change or transfer asked of the leader (raftctl
     * add/promote/remove/transfer; no --faults): loss_ppm is the enum
     * fault_member_op, blocked[0] the member id (transfer: 0 or none),
     * for an add delay_ms the IPv4 address (host order), jitter_ms the
     * port. */
    FAULT_MEMBER = 6
};

enum fault_member_op {
    FAULT_MEMBER_TRANSFER = 1,
    FAULT_MEMBER_PROMOTE = 2,
    FAULT_MEMBER_REMOVE = 3,
    FAULT_MEMBER_ADD = 4 /* As a learner. */
};

struct msg_fault {
    uint8_t action; /* enum fault_action */
    uint32_t n_blocked;
    raft_id blocked[RAFT_NODES_MAX];
    uint32_t loss_ppm; /* Per million datagrams. */
    uint32_t dup_ppm;
    uint32_t delay_ms;
    uint32_t jitter_ms;
};

struct msg_fault_reply {
    uint8_t ok;
};

/* One message. The header (version and cluster id) is added and checked by
 * the codec; from/to are member ids (0 for clients), term is 0 for non-peer
 * messages. */
struct raft_msg {
    uint8_t type; /* enum msg_type */
    raft_id from;
    raft_id to;
    raft_term term;
    union {
        struct msg_vote vote;
        struct msg_vote_reply vote_reply;
        struct msg_append append;
        struct msg_append_reply append_reply;
        struct msg_snapshot snapshot;
        struct msg_snapshot_reply snapshot_reply;
        struct msg_client client;
        struct msg_client_reply client_reply;
        struct msg_status status;
        struct msg_status_reply status_reply;
        struct msg_fault fault;
        struct msg_fault_reply fault_reply;
        struct msg_read_index read_index;
        struct msg_read_index_reply read_index_reply;
        struct msg_batch batch;
        struct msg_check check;
        struct msg_check_reply check_reply;
        struct msg_trace trace;
        struct msg_trace_events trace_events;
    } u;
};

#endif
