/*
 * Client datagrams queued per destination during one loop wakeup and sent
 * at its end: one datagram to an address goes out as it is, several as one
 * MSG_CLIENT_BATCH (common/wire.h). A leader that commits 30 writes of one
 * benchmark process in a wakeup then sends one datagram instead of 30, and
 * the benchmark's sessions, which share a socket, send their next requests
 * the same way: on loopback each datagram costs a send, the receiver's
 * network stack and a receive, which is most of what a read or a write
 * costs the member that serves it. Only client requests and replies go
 * through here (the batch may carry nothing else). Read common/outbox.c
 * next.
 */
#ifndef RAFT_COMMON_OUTBOX_H
#define RAFT_COMMON_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/types.h"
#include "common/wire.h"

#define OUTBOX_DESTS 8     /* Destinations queued at once. */
#define OUTBOX_BYTES 16384 /* Datagram bytes queued per destination. */

/* What one destination has queued; the buffer is allocated on first use. */
struct outbox_dest {
    struct raft_addr to;
    uint32_t n;
    uint32_t used;
    uint8_t *buf; /* OUTBOX_BYTES */
    uint32_t off[WIRE_BATCH_MAX];
    uint32_t len[WIRE_BATCH_MAX];
};

struct outbox {
    int fd; /* Borrowed socket. */
    uint64_t cluster_id;
    raft_id from; /* The batch header's sender (0: client). */
    uint32_t n_dests;
    struct outbox_dest dests[OUTBOX_DESTS];
    uint8_t *tx;          /* A batch being sent. */
    uint64_t n_datagrams; /* Datagrams sent, batches counted once. */
    uint64_t n_again;     /* Sends the kernel refused (buffer full). */
};

/* An empty outbox sending through fd. */
void outbox_init(struct outbox *o, int fd, uint64_t cluster_id, raft_id from);
/* Frees the buffers; whatever is queued is not sent. */
void outbox_free(struct outbox *o);

/* Queues one encoded client datagram (len bytes, copied) for `to`. Sends
 * that destination's queue first when the datagram would not fit in it,
 * and sends a datagram too large to queue at once. Never fails: a datagram
 * the kernel or memory refuses is lost, as UDP may lose any. */
void outbox_add(struct outbox *o, const struct raft_addr *to,
                const uint8_t *dgram, size_t len);

/* Sends everything queued, one datagram per destination (or more when a
 * destination's queue filled), and empties the outbox. */
void outbox_send(struct outbox *o);

#endif
