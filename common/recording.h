/*
 * Recordings (docs/RECORDING.md): one JSON object per line, written by
 * `raftctl up --record` / `watch --record` (launcher/recorder.c) and by
 * `raftsim --record` (tests/sim), read by `raftctl replay`
 * (launcher/recording_read.c) and the web page. This is the writer and the
 * plain structs of each kind of line; it formats with snprintf only, so
 * the simulator links it. A writer is bounded: past max_bytes it writes one
 * last event saying so and drops the rest (counted). Read
 * common/recording.c next.
 */
#ifndef RAFT_COMMON_RECORDING_H
#define RAFT_COMMON_RECORDING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/msg.h"
#include "common/types.h"

#define REC_VERSION 1
#define REC_LINE_MAX 4096 /* Longest line written; readers skip longer. */
#define REC_TEXT_MAX 200  /* Event, fault and violation texts (cut). */
#define REC_ADDR_MAX 80
#define REC_RESERVE 256 /* Kept free for the "limit reached" line. */
#define REC_MAX_DEFAULT (64ull << 20)

/* Line kinds ("k"); REC_UNKNOWN: a kind this reader does not know. */
enum rec_kind {
    REC_UNKNOWN = 0,
    REC_META,
    REC_STATUS,
    REC_MSG,
    REC_EVENT,
    REC_FAULT,
    REC_VIOLATION,
    REC_TRACE_DROPPED,
    REC__COUNT
};

struct rec_member {
    raft_id id;
    char addr[REC_ADDR_MAX];
};

struct rec_meta {
    uint32_t version;
    bool is_sim; /* "source": "sim" (else "live"). */
    bool has_seed;
    uint64_t seed;
    uint64_t wall_ms; /* Extra: wall clock at t = 0 (0: unknown). */
    uint32_t heartbeat_ms;
    uint32_t election_ms[2];
    uint32_t n_members;
    struct rec_member members[RAFT_NODES_MAX];
};

struct rec_peer {
    raft_id id;
    raft_index match;
    raft_index next;
};

/* One member's status at t. up false: it did not answer (role "down"). */
struct rec_status {
    raft_id id;
    bool up;
    uint8_t role; /* enum raft_role */
    bool learner; /* A follower that is a learner ("learner"). */
    raft_term term;
    raft_id vote;
    raft_id leader;
    raft_index commit;
    raft_index applied;
    raft_index last;
    raft_index snap;
    uint32_t timer_ms;   /* Election timer elapsed. */
    uint32_t timeout_ms; /* This term's randomized timeout. */
    raft_index tail_first;
    uint32_t n_tail;
    raft_term tail[STATUS_TAIL_MAX];
    uint32_t n_peers;
    struct rec_peer peers[RAFT_NODES_MAX];
    uint8_t disk; /* enum status_disk */
    /* Extras (readers may ignore them). */
    uint64_t contact_ms; /* Since it last heard a leader; UINT64_MAX never. */
    uint32_t pid;
    uint32_t n_blocked;
    raft_id blocked[RAFT_NODES_MAX];
};

/* Message types of "msg" lines. */
enum rec_msg_type {
    REC_MSG_VOTE = 0,
    REC_MSG_PREVOTE,
    REC_MSG_VOTE_REPLY,
    REC_MSG_PREVOTE_REPLY,
    REC_MSG_APPEND,
    REC_MSG_APPEND_REPLY,
    REC_MSG_SNAPSHOT,
    REC_MSG_SNAPSHOT_REPLY,
    REC_MSG_TIMEOUT_NOW,
    REC_MSG_READ_INDEX,
    REC_MSG_READ_INDEX_REPLY,
    REC_MSG__COUNT
};

struct rec_msg {
    raft_id from;
    raft_id to;
    uint8_t type; /* enum rec_msg_type */
    raft_term term;
    raft_index index; /* prevLogIndex (append), lastLogIndex (vote)... */
    uint32_t n;       /* Entries carried. */
    bool has_ok;      /* Replies only. */
    bool ok;
    uint32_t bytes;
    uint32_t coalesced; /* 0 or 1: one message; more: identical ones. */
};

/* event, fault, violation and trace_dropped lines. */
struct rec_text {
    char kind[24];  /* event: "leader", "death", ...; else "". */
    raft_id id;     /* 0: none. */
    uint64_t count; /* trace_dropped. */
    char text[REC_TEXT_MAX];
};

struct rec_writer {
    FILE *f;
    uint64_t max_bytes;
    uint64_t bytes; /* Written so far. */
    uint64_t lines;
    uint64_t dropped; /* Lines not written: the limit was reached. */
    uint64_t last_t;  /* t of the last line asked for. */
    bool full;
    bool failed; /* A write failed (disk full): nothing more is written. */
};

/* The word of a role in a status line ("down" when not up; a follower
 * that is a learner is "learner"), of a type in a msg line. */
const char *rec_role_word(bool up, uint8_t role, bool learner);
const char *rec_role_name(const struct rec_status *s);
const char *rec_msg_type_name(int type);
/* The type of a name, or -1. */
int rec_msg_type_parse(const char *name);

/* Fills out from a peer message as sent (bytes: its encoded size).
 * Returns false for messages that are not peer messages. */
bool rec_msg_from_raft(const struct raft_msg *m, uint32_t bytes,
                       struct rec_msg *out);

/* Creates (or truncates) path, mode 0600, not following a symlink.
 * max_bytes 0: REC_MAX_DEFAULT. Errors: ERR_IO (errmsg). */
int rec_writer_open(struct rec_writer *w, const char *path, uint64_t max_bytes,
                    char errmsg[ERRMSG_LEN]);
/* Writes to an open stream (borrowed; closed by rec_writer_close). */
void rec_writer_init(struct rec_writer *w, FILE *f, uint64_t max_bytes);
/* Flushes and closes. Errors: ERR_IO (a write failed at some point). */
int rec_writer_close(struct rec_writer *w);
void rec_writer_flush(struct rec_writer *w);

/* Each writes one line at t (ms since the start); false when it was
 * dropped (limit reached, or a write failed). */
bool rec_write_meta(struct rec_writer *w, const struct rec_meta *m);
bool rec_write_status(struct rec_writer *w, uint64_t t,
                      const struct rec_status *s);
bool rec_write_msg(struct rec_writer *w, uint64_t t, const struct rec_msg *m);
bool rec_write_event(struct rec_writer *w, uint64_t t, const char *kind,
                     raft_id id, const char *text);
bool rec_write_fault(struct rec_writer *w, uint64_t t, raft_id id,
                     const char *text);
bool rec_write_violation(struct rec_writer *w, uint64_t t, const char *text);
bool rec_write_trace_dropped(struct rec_writer *w, uint64_t t, raft_id id,
                             uint64_t count);

#endif
