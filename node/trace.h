/*
 * The message trace of one member (docs/TRACE.md): viewers hold leases
 * (MSG_TRACE); while one is live, each peer message the member sends is
 * recorded as a struct trace_event, identical heartbeats within a batch
 * coalesced into one event with a count, new events limited by a token
 * bucket (what it refuses is counted), and every TRACE_FLUSH_MS the batch
 * goes to each viewer as MSG_TRACE_EVENTS. Off, it costs the caller one
 * branch (trace_on). Pure: no I/O, no clock (time arrives as now_ms);
 * node/node.c sends. Read node/node_control.c next.
 */
#ifndef RAFT_NODE_TRACE_H
#define RAFT_NODE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"
#include "common/types.h"

#define TRACE_SUBS_MAX 4       /* Viewers at once; more are refused. */
#define TRACE_FLUSH_MS 20      /* A batch to each viewer this often. */
#define TRACE_RATE_PER_S 2000  /* New events per second, on average... */
#define TRACE_BURST 100        /* ...and at most this many at once. */
#define TRACE_PENDING_MAX 256  /* Events held between flushes. */
#define TRACE_COALESCE_SCAN 32 /* Pending events a heartbeat is matched to. */

struct trace_sub {
    struct raft_addr addr;
    uint64_t until_ms; /* The lease ends; 0: slot free. */
};

struct trace {
    uint32_t n_live; /* Viewers holding a lease: 0 means off. */
    struct trace_sub subs[TRACE_SUBS_MAX];
    uint32_t n_pending;
    struct trace_event pending[TRACE_PENDING_MAX]; /* age_ms unset. */
    uint64_t pending_ms[TRACE_PENDING_MAX];        /* When recorded. */
    uint64_t tokens;    /* Thousandths of an event. */
    uint64_t refill_ms; /* Tokens were last added. */
    uint64_t flush_ms;  /* The next batch is due. */
    uint64_t dropped;   /* Events the budget refused, since start. */
    uint64_t recorded;  /* Messages recorded (coalesced ones included). */
};

/* Sends one batch to one viewer (node.c: encode and udp_send). */
typedef void (*trace_send_fn)(void *ctx, const struct raft_addr *to,
                              const struct raft_msg *msg);

void trace_init(struct trace *t);

/* Whether anyone watches: the only cost of the trace when nobody does. */
static inline bool trace_on(const struct trace *t)
{
    return t->n_live != 0;
}

/* A viewer's MSG_TRACE: starts or renews its lease (lease_ms 0 ends it).
 * Returns false when the lease was refused (every slot is taken). */
bool trace_subscribe(struct trace *t, const struct raft_addr *from,
                     uint32_t lease_ms, uint64_t now_ms);

/* The event msg (bytes as encoded) stands for, or false for a message
 * the trace does not show (not a peer message). */
bool trace_event_of(const struct raft_msg *msg, size_t bytes,
                    struct trace_event *out);

/* Records one message sent (call only when trace_on). */
void trace_record(struct trace *t, uint64_t now_ms, const struct raft_msg *msg,
                  size_t bytes);

/* When trace_flush has work: the next batch or lease end; UINT64_MAX
 * when off. */
uint64_t trace_deadline(const struct trace *t);

/* Ends expired leases and, when a batch is due, sends the pending events
 * (as few datagrams of at most TRACE_EVENTS_PER_MSG as fit) to each live
 * viewer from member self in term. */
void trace_flush(struct trace *t, uint64_t now_ms, raft_id self, raft_term term,
                 trace_send_fn send, void *ctx);

/* One empty batch to `to`: the answer to a lease (carries dropped). */
void trace_ack(const struct trace *t, const struct raft_addr *to, raft_id self,
               raft_term term, trace_send_fn send, void *ctx);

#endif
