/*
 * Runtime fault injection for raftnode (enabled by --faults, driven by
 * raftctl's MSG_FAULT): partitions (drop traffic to and from listed
 * members), and on the send path random loss, duplication, delay and jitter
 * (which reorders). Decisions come from a seeded rng and the caller's now_ms;
 * no sockets or clock inside, so tests/unit/test_netem.c drives it directly.
 * Read node/netem.c next.
 */
#ifndef RAFT_NODE_NETEM_H
#define RAFT_NODE_NETEM_H

#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"
#include "common/rng.h"
#include "common/types.h"

#define NETEM_QUEUE_MAX 4096              /* Delayed datagrams. */
#define NETEM_QUEUE_BYTES_MAX (64u << 20) /* Their total size. */
#define NETEM_DELAY_MS_MAX 60000u         /* delay_ms, jitter_ms limit. */

/* One delayed datagram (heap-owned copy). */
struct netem_item {
    uint64_t due_ms;
    uint64_t order; /* Tie-break: FIFO among equal due times. */
    raft_id to;
    size_t len;
    uint8_t *buf;
};

struct netem {
    struct rng rng;
    uint32_t n_blocked;
    raft_id blocked[RAFT_NODES_MAX];
    uint32_t loss_ppm;
    uint32_t dup_ppm;
    uint32_t delay_ms;
    uint32_t jitter_ms;
    /* Min-heap on (due_ms, order). */
    struct netem_item *queue;
    uint32_t n_queued;
    size_t queued_bytes;
    uint64_t next_order;
};

/* What to do with one outgoing datagram. */
struct netem_verdict {
    uint32_t n_now;     /* Copies the caller sends now (0, 1 or 2). */
    uint32_t n_queued;  /* Copies held back (netem_pop_due returns them). */
    uint32_t n_dropped; /* Copies lost: loss, partition, queue full. */
};

/* Starts with no rules. Errors: ERR_NOMEM. */
int netem_init(struct netem *n, uint64_t seed);
void netem_close(struct netem *n);

/* Applies a FAULT_HEAL, FAULT_PARTITION (replaces the blocked set) or
 * FAULT_NETEM (replaces loss/dup/delay/jitter) rule; FAULT_DISK_DELAY is
 * the caller's. Queued datagrams stay queued. Errors: ERR_INVALID (a ppm
 * over 1,000,000, a delay over NETEM_DELAY_MS_MAX, an unknown action, too
 * many ids); nothing changes then. */
int netem_apply(struct netem *n, const struct msg_fault *fault);

/* Any rule in force? */
bool netem_is_active(const struct netem *n);

/* True when traffic with member id is partitioned away (both ways). */
bool netem_blocks(const struct netem *n, raft_id id);

/* Decides the fate of one datagram (buf, len; copied when delayed) to
 * member `to` at now_ms. */
void netem_on_send(struct netem *n, uint64_t now_ms, raft_id to,
                   const uint8_t *buf, size_t len, struct netem_verdict *out);

/* The earliest due time of a queued datagram, UINT64_MAX when none. */
uint64_t netem_next_due(const struct netem *n);

/* Moves the earliest datagram due at or before now_ms into buf (capacity
 * cap) and sets *to and *len. Returns false when none is due. A datagram
 * larger than cap (never, with cap RAFT_DATAGRAM_MAX) is discarded. */
bool netem_pop_due(struct netem *n, uint64_t now_ms, raft_id *to, uint8_t *buf,
                   size_t cap, size_t *len);

#endif
