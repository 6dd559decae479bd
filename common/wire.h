/*
 * The msgpack codec for every message of common/msg.h. A datagram is one
 * msgpack array: [version, cluster_id, type, from, to, term, body...].
 * Decoding is strict and total: any byte string either becomes a fully
 * validated message or is rejected with an error code, reading nothing past
 * the buffer and allocating nothing beyond a bound. Read common/wire.c next.
 */
#ifndef RAFT_COMMON_WIRE_H
#define RAFT_COMMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

#define WIRE_VERSION 1

/* Caller-owned space a decoded message may point into besides the input
 * buffer (the entries array of an AppendEntries). */
struct wire_scratch {
    struct raft_entry entries[RAFT_ENTRIES_PER_MSG_MAX];
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
int wire_decode(const uint8_t *buf, size_t len, uint64_t cluster_id,
                struct raft_msg *out, struct wire_scratch *scratch);

/* The encoded size of an entry inside an AppendEntries, for batching. */
size_t wire_entry_size(const struct raft_entry *entry);

/* Fixed overhead of an AppendEntries without entries, an upper bound. */
#define WIRE_APPEND_OVERHEAD 128

#endif
