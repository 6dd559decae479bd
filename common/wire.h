/*
 * The msgpack codec for every message of common/msg.h. A datagram is one
 * msgpack array: [version, cluster_id, type, from, to, term, body...].
 * Decoding is strict and total: any byte string either becomes a fully
 * validated message or is rejected with an error code, reading nothing past
 * the buffer and allocating nothing beyond a bound. Read common/wire.c next.
 */
#ifndef RAFT_COMMON_WIRE_H
#define RAFT_COMMON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

#define WIRE_VERSION 1

/* Caller-owned space a decoded message may point into besides the input
 * buffer (the entries array of an AppendEntries, the events of a trace
 * batch). */
struct wire_scratch {
    struct raft_entry entries[RAFT_ENTRIES_PER_MSG_MAX];
    struct trace_event trace[TRACE_EVENTS_PER_MSG];
};

/* Encodes msg under cluster_id into buf (capacity cap, at most
 * RAFT_DATAGRAM_MAX is ever used) and sets *len.
 * Errors: ERR_TOO_BIG when it does not fit; ERR_INVALID for a message that
 * breaks a limit (type, key or value size, entry count). */
int wire_encode(const struct raft_msg *msg, uint64_t cluster_id, uint8_t *buf,
                size_t cap, size_t *len);

/* Decodes one datagram. On success *out points into buf and scratch, both
 * borrowed: valid while they are. Errors: ERR_MALFORMED (does not decode,
 * wrong field types, counts or lengths over the limits, trailing bytes),
 * ERR_WRONG_VERSION, ERR_WRONG_CLUSTER. */
/* The type field of a datagram's header (version and cluster unchecked),
 * or MSG_NONE when the header does not parse: what common/auth.c needs to
 * tell a client message from a peer one before decoding it. */
unsigned wire_peek_type(const uint8_t *buf, size_t len);

int wire_decode(const uint8_t *buf, size_t len, uint64_t cluster_id,
                struct raft_msg *out, struct wire_scratch *scratch);

/* Datagrams one MSG_CLIENT_BATCH carries at most. */
#define WIRE_BATCH_MAX 64
/* Bytes a MSG_CLIENT_BATCH adds around its items, and each item around its
 * datagram: upper bounds, for filling one. */
#define WIRE_BATCH_OVERHEAD 48
#define WIRE_BATCH_ITEM_OVERHEAD 5

/* Encodes a MSG_CLIENT_BATCH of the n (1..WIRE_BATCH_MAX) datagrams items[i]
 * (lens[i] bytes each, already encoded for cluster_id) from `from` to `to`
 * into buf (capacity cap) and sets *len. Errors: ERR_TOO_BIG, ERR_INVALID
 * (n out of range). */
int wire_batch_encode(uint64_t cluster_id, raft_id from, raft_id to,
                      const uint8_t *const *items, const uint32_t *lens,
                      uint32_t n, uint8_t *buf, size_t cap, size_t *len);

/* The next datagram of a decoded batch, starting at *pos (0 first); false
 * after the last. The item points into the batch's buffer. */
bool wire_batch_next(const struct msg_batch *b, uint32_t *pos,
                     const uint8_t **item, uint32_t *item_len);

/* The encoded size of an entry inside an AppendEntries, for batching. */
size_t wire_entry_size(const struct raft_entry *entry);

/* Fixed overhead of an AppendEntries without entries, an upper bound. */
#define WIRE_APPEND_OVERHEAD 128

#endif
