/*
 * The raftnode runtime: one member's UDP socket, SQLite store, replica and
 * fault injector, driven by a single-threaded poll() loop. It validates
 * every datagram's sender before the replica sees it, answers status and
 * fault-control requests itself, and binds struct replica_io to
 * common/udp.c and storage/. Not pure. Read node/node.c next.
 */
#ifndef RAFT_NODE_NODE_H
#define RAFT_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/types.h"

struct node;

struct node_options {
    raft_id id;
    const char *config_path;   /* Borrowed during node_open. */
    const char *db_path;       /* Borrowed during node_open. */
    uint32_t heartbeat_ms;     /* 0: NODE_HEARTBEAT_MS (node/defaults.h). */
    uint32_t election_ms;      /* 0: NODE_ELECTION_MS. */
    bool faults;               /* Honour MSG_FAULT from loopback. */
    bool create;               /* Create a missing database. */
    bool join; /* A new member: no bootstrap configuration; it learns its
                * configuration from the leader (raftctl add). */
    uint64_t seed;             /* Election-timeout and netem PRNG seed. */
    uint32_t snapshot_entries; /* Compact past this many entries; 0: off. */
    uint32_t log_keep;         /* Entries kept behind a snapshot point. */
    uint64_t max_sessions;     /* Limit written into register entries
                                * this member proposes; 0: unbounded. */
    uint32_t max_datagram;     /* Bytes a datagram keeps within; 0:
                                * RAFT_DATAGRAM_MAX (docs/HOSTS.md). */
    int stop_fd;               /* Readable when the node must stop; -1 none. */
};

/* Loads the cluster file, binds the member's address, opens and loads the
 * database and builds the replica. Errors (errmsg says which and why, one
 * line, e.g. "127.0.0.1:7001: address already in use"): ERR_NOT_FOUND,
 * ERR_INVALID, ERR_BUSY, ERR_WRONG_CLUSTER, ERR_FOREIGN, ERR_WRONG_VERSION,
 * ERR_CORRUPT, ERR_IO, ERR_NOMEM. */
int node_open(const struct node_options *opts, struct node **out,
              char errmsg[ERRMSG_LEN]);

/* Runs the loop until stop_fd becomes readable (returns ERR_OK after a last
 * store) or a fatal error (a failed persist or apply: ERR_STOPPED, or
 * ERR_NO_SPACE when it failed for want of space; out of memory:
 * ERR_NOMEM), logged at ERROR. */
int node_run(struct node *n);

/* After node_run returned ERR_NO_SPACE: answers clients "no space" and
 * status with disk full while checking the free space; returns ERR_OK
 * once there is enough (the caller restarts the process), ERR_STOPPED
 * when stop_fd becomes readable, ERR_IO when poll fails. */
int node_wait_space(struct node *n);

/* Free bytes (for an unprivileged user) on the file system of db_path;
 * 0 when unknown. */
uint64_t node_free_bytes(const char *db_path);

/* Closes the store and the socket; n may be NULL. */
void node_close(struct node *n);

#endif
