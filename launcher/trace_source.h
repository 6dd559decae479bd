/*
 * The launcher's end of the message trace (docs/TRACE.md): one UDP socket
 * that holds a trace lease on every member (MSG_TRACE, renewed every
 * TRACE_SOURCE_RENEW_MS), decodes their MSG_TRACE_EVENTS batches and hands
 * each message to a callback as a struct trace_msg, in send-time order
 * (held TRACE_SOURCE_HOLD_MS to TRACE_SOURCE_HOLD_MS + TRACE_SOURCE_TICK_MS
 * so that batches from different members interleave; t_ms never goes
 * back), and each member's budget drops as a
 * count. Driven by the caller's poll() loop like launcher/dash_source.h:
 * trace_source_fds, trace_source_next_ms, trace_source_step. Used by
 * `raftctl trace` and `raftctl watch --messages`. Read
 * launcher/trace_source.c next.
 */
#ifndef RAFT_LAUNCHER_TRACE_SOURCE_H
#define RAFT_LAUNCHER_TRACE_SOURCE_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/wire.h"
#include "launcher/trace_msg.h"

#define TRACE_SOURCE_LEASE_MS 3000 /* Each lease asked for. */
#define TRACE_SOURCE_RENEW_MS 1000 /* Renewed this often. */
#define TRACE_SOURCE_HOLD_MS 60    /* Messages wait this long, sorted, */
#define TRACE_SOURCE_TICK_MS 20    /* delivered on a grid this coarse. */
#define TRACE_SOURCE_HELD_MAX 8192 /* Beyond: delivered at once. */

struct trace_source_cb {
    /* Each message, in order of t_ms. */
    void (*on_msg)(void *ctx, const struct trace_msg *m);
    /* Member id's budget dropped count more events (reported at t_ms). */
    void (*on_dropped)(void *ctx, raft_id id, uint64_t count, uint64_t t_ms);
    void *ctx;
};

struct trace_source {
    const struct conf *conf; /* Borrowed; may change (watch follows the
                              * configuration): see `known`. */
    struct conf known;       /* conf as addrs were resolved for. */
    struct trace_source_cb cb;
    int fd; /* -1 when closed. */
    struct raft_addr addrs[RAFT_NODES_MAX];
    uint64_t renew_ms;                     /* Next lease renewal. */
    bool heard[RAFT_NODES_MAX];            /* A batch came from member i. */
    uint64_t dropped_seen[RAFT_NODES_MAX]; /* Its last cumulative count. */
    uint8_t *buf;                          /* RAFT_DATAGRAM_MAX */
    struct wire_scratch *scratch;
    struct trace_msg *held; /* TRACE_SOURCE_HELD_MAX, unsorted. */
    uint32_t n_held;
    uint64_t last_t_ms; /* Of the last message delivered. */
    uint64_t batches;   /* Datagrams decoded. */
    uint64_t msgs;      /* Messages delivered (counts included). */
};

/* Opens the socket (nothing is sent before the first step). conf is
 * borrowed; when its members change, the next renewal follows them.
 * Errors: ERR_NOMEM, ERR_IO, ERR_INVALID (errmsg). */
int trace_source_open(struct trace_source *ts, const struct conf *conf,
                      const struct trace_source_cb *cb,
                      char errmsg[ERRMSG_LEN]);

/* Delivers what is held, ends the leases (lease 0 to every member) and
 * closes the socket. */
void trace_source_close(struct trace_source *ts);

/* The descriptor to poll for POLLIN, when it needs one: returns 1, or 0
 * while messages are held (the step trace_source_next_ms names reads
 * what came meanwhile). */
int trace_source_fds(const struct trace_source *ts, struct pollfd *out);

/* When trace_source_step next has timed work. */
uint64_t trace_source_next_ms(const struct trace_source *ts, uint64_t now_ms);

/* Reads what arrived, delivers held messages whose time has come, renews
 * leases when due; now_ms monotonic, wall_ms wall clock. */
void trace_source_step(struct trace_source *ts, uint64_t now_ms,
                       uint64_t wall_ms);

/* Bit i set for each member i that has sent a batch (holds a lease). */
uint32_t trace_source_heard_mask(const struct trace_source *ts);

#endif
