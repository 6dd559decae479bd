/*
 * The follower's side of a snapshot transfer: which chunks to stage
 * (replica_io.snapshot_stage writes them outside the live tables), the
 * contiguous prefix staged so far, chunks that arrived early inside the
 * window, and when the image is complete. One transfer at a time, named by
 * (leader term, index, term, size); a chunk of another transfer starts a
 * new one only at offset 0 and from a term at least as new. A malformed or
 * out-of-window chunk is dropped and counted. Pure: no I/O, no clock.
 * Read node/replica_snapshot.c for how the replica drives it.
 */
#ifndef RAFT_NODE_SNAPSHOT_RECV_H
#define RAFT_NODE_SNAPSHOT_RECV_H

#include <stdbool.h>
#include <stdint.h>

#include "common/msg.h"
#include "common/types.h"
#include "node/snapshot_send.h"

/* Bytes past the staged prefix a chunk may reach. */
#define SNAPSHOT_RECV_WINDOW_BYTES                                             \
    ((uint64_t)SNAPSHOT_WINDOW_MAX * SNAPSHOT_CHUNK_MAX)

enum snapshot_recv_action {
    SNAPSHOT_RECV_DROP = 0, /* Malformed: no answer (counted). */
    SNAPSHOT_RECV_ACK,      /* Have it already: acknowledge the prefix. */
    SNAPSHOT_RECV_REWIND,   /* Not the expected bytes: ask for the prefix
                             * end again (success false; counted when out
                             * of window). */
    SNAPSHOT_RECV_STAGE     /* Stage it, then snapshot_recv_staged. */
};

struct snapshot_recv_range {
    uint64_t offset;
    uint64_t end;
};

struct snapshot_recv {
    bool is_active;
    raft_term leader_term;
    raft_index index;
    raft_term term;
    uint64_t size;
    uint64_t next; /* Bytes 0..next staged. */
    uint32_t n_ahead;
    struct snapshot_recv_range ahead[SNAPSHOT_WINDOW_MAX]; /* Sorted. */
    uint64_t n_dropped;   /* Malformed chunks. */
    uint64_t n_outside;   /* Out-of-window chunks. */
    uint64_t n_restarted; /* Transfers given up for a newer one. */
};

void snapshot_recv_init(struct snapshot_recv *s);

/* Decides about chunk c, sent in msg_term by our current leader. A chunk
 * at offset 0 of another transfer (not from an older term) restarts the
 * receiver on it: the caller's staging then starts over. Returns enum
 * snapshot_recv_action. */
int snapshot_recv_on_chunk(struct snapshot_recv *s, raft_term msg_term,
                           const struct msg_snapshot *c);

/* The offset to ask c's sender for: the staged prefix of c's transfer,
 * 0 when c belongs to another one. */
uint64_t snapshot_recv_wanted(const struct snapshot_recv *s, raft_term msg_term,
                              const struct msg_snapshot *c);

/* Whether chunk c, accepted with SNAPSHOT_RECV_STAGE, starts its transfer
 * with nothing staged: the caller may then look for a staged prefix
 * (snapshot_recv_resume) instead of staging it. */
bool snapshot_recv_is_start(const struct snapshot_recv *s,
                            const struct msg_snapshot *c);

/* The first staged bytes of the transfer are already staged (an earlier
 * run's prefix of the same (index, term)): the prefix ends there. Ignored
 * when staged is 0 or beyond the image's size. */
void snapshot_recv_resume(struct snapshot_recv *s, uint64_t staged);

/* Chunk c (accepted with SNAPSHOT_RECV_STAGE) is staged. */
void snapshot_recv_staged(struct snapshot_recv *s,
                          const struct msg_snapshot *c);

/* Every byte of the image is staged. */
bool snapshot_recv_is_complete(const struct snapshot_recv *s);

/* The transfer is over (installed, refused, or staging failed). */
void snapshot_recv_reset(struct snapshot_recv *s);

#endif
