/*
 * The leader's side of one snapshot transfer to one peer: an opaque image
 * of known size cut into chunks at offsets, a bounded window of chunks in
 * flight, acknowledgements of the contiguous prefix received, go-back
 * retransmission from the last acknowledged offset when nothing progressed
 * for a timeout, and a rewind when the receiver says it lost what it had.
 * Pure: no I/O, no clock; time arrives as now_ms. The replica reads the
 * bytes (replica_io.snapshot_read) and sends them. Read
 * node/snapshot_recv.h for the other side.
 */
#ifndef RAFT_NODE_SNAPSHOT_SEND_H
#define RAFT_NODE_SNAPSHOT_SEND_H

#include <stdbool.h>
#include <stdint.h>

#include "common/msg.h"
#include "common/types.h"

/* Largest chunk: a datagram is at most 64 KiB with its header. */
#define SNAPSHOT_CHUNK_MAX (60u * 1024u)
#define SNAPSHOT_WINDOW_MAX 16u /* Chunks in flight, at most. */

struct snapshot_send_config {
    uint32_t chunk_bytes; /* 1..SNAPSHOT_CHUNK_MAX; 0: the maximum. */
    uint32_t window;      /* 1..SNAPSHOT_WINDOW_MAX; 0: the maximum. */
    uint32_t timeout_ms;  /* Resend from acked after this long without
                             * progress; 0: 200. */
};

enum snapshot_send_reply {
    SNAPSHOT_SEND_IGNORED = 0, /* Not this transfer's, or stale. */
    SNAPSHOT_SEND_PROGRESS,    /* Acknowledged more, or rewound. */
    SNAPSHOT_SEND_DONE         /* Installed: the transfer is over. */
};

struct snapshot_send {
    bool is_active;
    raft_id peer;
    raft_term leader_term; /* The term it runs in; abandoned after. */
    raft_index index;      /* The image's point. */
    raft_term term;
    uint64_t size;        /* Image bytes. */
    uint64_t acked;       /* Prefix the peer acknowledged. */
    uint64_t sent;        /* Next offset to send. */
    uint64_t progress_ms; /* Last progress (or resend). */
    uint64_t n_resends;
    bool is_heard; /* The peer has replied in this transfer. */
    struct snapshot_send_config config;
};

/* Starts a transfer of the image at (index, term) of size bytes (>= 1)
 * to peer in leader_term. */
void snapshot_send_start(struct snapshot_send *s,
                         const struct snapshot_send_config *config,
                         raft_id peer, raft_term leader_term, raft_index index,
                         raft_term term, uint64_t size, uint64_t now_ms);

/* Drops the transfer (leadership lost, the peer is done, a newer image). */
void snapshot_send_abandon(struct snapshot_send *s);

/* The next chunk the window allows now: true with its offset and length
 * (the caller reads and sends it), false when the window is full or all
 * is sent. Each true advances the send offset. */
bool snapshot_send_next(struct snapshot_send *s, uint64_t *offset,
                        uint32_t *len);

/* A reply from the peer in leader_term (the caller has checked the term
 * rules). Returns enum snapshot_send_reply. */
int snapshot_send_on_reply(struct snapshot_send *s, raft_term msg_term,
                           raft_id from, const struct msg_snapshot_reply *reply,
                           uint64_t now_ms);

/* Retransmission: once timeout_ms passed without progress, the send
 * offset goes back to the acknowledged one (go-back-N). */
void snapshot_send_tick(struct snapshot_send *s, uint64_t now_ms);

/* When snapshot_send_tick has work; UINT64_MAX when inactive. */
uint64_t snapshot_send_deadline(const struct snapshot_send *s);

#endif
