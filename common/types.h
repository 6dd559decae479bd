/*
 * Basic types and limits shared by every module: terms, indexes, member ids,
 * the size limits of keys, values and datagrams, and an opaque address token
 * that lets pure code remember "who asked" without socket headers.
 * Pure: no I/O. Read common/msg.h next.
 */
#ifndef RAFT_COMMON_TYPES_H
#define RAFT_COMMON_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_term;
typedef uint64_t raft_index;
typedef uint64_t raft_id; /* Member ids are 1..RAFT_ID_MAX; 0 means none. */

#define RAFT_ID_NONE 0
#define RAFT_ID_MAX 1000000u
#define RAFT_NODES_MAX 16
#define RAFT_KEY_MAX 1024       /* Bytes, inclusive. */
#define RAFT_VALUE_MAX 32768    /* Bytes, inclusive. */
#define RAFT_DATAGRAM_MAX 65507 /* Largest UDP payload over IPv4. */
/* The smallest --max-datagram (docs/HOSTS.md): a request with a 1 KiB key
 * still fits. */
#define RAFT_MAX_DATAGRAM_MIN 1200
/* Largest entry payload: one entry always fits one AppendEntries datagram. */
#define RAFT_ENTRY_MAX (RAFT_DATAGRAM_MAX - 512)
#define RAFT_ENTRIES_PER_MSG_MAX 4096

/* An opaque, comparable peer address (a sockaddr's bytes in raftnode, a
 * client number in the simulator). Pure code only copies and compares it. */
struct raft_addr {
    uint32_t len;
    uint8_t bytes[28];
};

#endif
