/*
 * One traced message as the launcher knows it (from MSG_TRACE_EVENTS, see
 * launcher/trace_source.h), and its two renderings: the shared recording
 * line (`{"t":..,"k":"msg",...}`, docs/TRACE.md) and the dashboard's short
 * text ("1->3 append t5 i120+64"); plus the ring of recent messages the
 * dashboard shows, heartbeats coalesced. Pure: no I/O, no clock. Read
 * launcher/trace_source.h next.
 */
#ifndef RAFT_LAUNCHER_TRACE_MSG_H
#define RAFT_LAUNCHER_TRACE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"
#include "common/recording.h"
#include "common/types.h"

/* A message one member sent. */
struct trace_msg {
    uint64_t t_ms;    /* Monotonic send time (the launcher's clock). */
    uint64_t wall_ms; /* The same moment, wall clock (for display). */
    raft_id from;
    raft_id to;
    uint8_t kind; /* enum trace_kind */
    raft_term term;
    raft_index index; /* See struct trace_event. */
    uint32_t n;       /* Entries carried. */
    bool ok;          /* Replies: success or granted. */
    uint32_t bytes;
    uint32_t count; /* >= 1: identical heartbeats this stands for. */
};

/* The message event e stands for, sent by `from` at t_ms (monotonic) and
 * wall_ms (wall clock). With node/trace.h's trace_event_of(), how a
 * simulator turns a struct raft_msg into a recording line. */
void trace_msg_from_event(const struct trace_event *e, raft_id from,
                          uint64_t t_ms, uint64_t wall_ms,
                          struct trace_msg *out);

/* m as the recording writer's struct (common/recording.h: the same
 * fields, its types in the same order), for recorder_msg. */
void trace_msg_to_rec(const struct trace_msg *m, struct rec_msg *out);

/* The recording format's name of a kind ("vote", "prevote", "append",
 * "append_reply", ...; common/recording.h's), or "?". */
const char *trace_kind_name(int kind);

/* True for the kinds that answer (their ok is meaningful). */
bool trace_kind_is_reply(int kind);

/* The "msg" line (no newline) with "t" = t_ms - start_ms (0 when
 * earlier) into buf ("ok" on replies only); returns its length (>= cap:
 * truncated). */
int trace_msg_to_json(const struct trace_msg *m, uint64_t start_ms, char *buf,
                      size_t cap);

/* The "trace_dropped" line: member id's budget dropped count events
 * (reported at t_ms). */
int trace_dropped_to_json(raft_id id, uint64_t count, uint64_t t_ms,
                          uint64_t start_ms, char *buf, size_t cap);

/* The short text: "1->3 append t5 i120+64", "3->1 append ok t5 i184",
 * "1->2 heartbeat t5 i7 x4", "2->1 prevote t6 last i40". */
void trace_msg_text(const struct trace_msg *m, char *buf, size_t cap);

#define TRACE_RING_MAX 256
#define TRACE_RING_COALESCE 32 /* Newest messages a repeat matches. */

/* The most recent messages, newest last; a message identical to one of
 * the TRACE_RING_COALESCE newest (a heartbeat, its answer, a retransmission
 * to a silent member) adds to that one's count and becomes the newest. */
struct trace_ring {
    struct trace_msg msgs[TRACE_RING_MAX];
    uint32_t head; /* Next slot written. */
    uint32_t n;
    uint64_t total;   /* Messages seen (counts included). */
    uint64_t dropped; /* Reported dropped by the members' budgets. */
};

void trace_ring_init(struct trace_ring *r);
void trace_ring_push(struct trace_ring *r, const struct trace_msg *m);
/* The same, as trace_source callbacks (ctx: the ring): each message, and
 * a member's drops added to r->dropped. */
void trace_ring_on_msg(void *ring, const struct trace_msg *m);
void trace_ring_on_dropped(void *ring, raft_id id, uint64_t count,
                           uint64_t t_ms);
/* The k-th newest message (k < r->n). */
const struct trace_msg *trace_ring_newest(const struct trace_ring *r,
                                          uint32_t k);

#endif
