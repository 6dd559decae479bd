/*
 * raftnode's snapshot binding: the replica's snapshot ops over storage/
 * (the image made by a forked child beside the database, staging and
 * install, compaction), the compaction deletes run in short steps after a
 * wakeup's answers, and `raftctl compact`. Not pure; never stalls the loop
 * past a few milliseconds. Read node/node.c next.
 */
#ifndef RAFT_NODE_NODE_SNAPSHOT_H
#define RAFT_NODE_NODE_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/membership.h"
#include "common/types.h"
#include "storage/snapshot_make.h"

struct node;
struct replica_io;
struct raft_msg;

#define NODE_SNAPSHOT_PATH_MAX 4096
#define NODE_SNAPSHOT_WAITERS_MAX 8

struct node_snapshot {
    char image_path[NODE_SNAPSHOT_PATH_MAX]; /* DIR/node<ID>.snap */
    char config[MEMBERSHIP_TEXT_MAX]; /* The configuration at the point. */
    uint32_t log_keep;         /* Entries kept behind the point. */
    struct snapshot_make make; /* The image child, pid 0 when none. */
    uint64_t make_started_ms;
    uint64_t retry_ms; /* No new child before this (a failure). */
    bool has_made;     /* A finished image waits to be handed out. */
    struct snapshot_make_info made;
    int image_fd; /* The image handed to the replica, or -1. */
    raft_index image_index;
    uint64_t image_size;
    uint32_t n_waiters; /* raftctl compact requests to answer. */
    struct raft_addr waiters[NODE_SNAPSHOT_WAITERS_MAX];
    uint64_t n_installed;
    uint64_t n_step_errors;
};

/* Empty state, safe for node_snapshot_close. */
void node_snapshot_init(struct node *n);

/* Sets up n->snap for the database at db_path (borrowed) and re-arms the
 * deletion of a compaction recorded before a restart (store_compact is
 * not persisted). Errors: ERR_TOO_BIG (path), ERR_IO (errmsg says). */
int node_snapshot_open(struct node *n, const char *db_path, uint32_t log_keep,
                       char errmsg[ERRMSG_LEN]);

/* Binds io's snapshot ops (ctx must be n). */
void node_snapshot_bind(struct replica_io *io);

/* The image child's descriptor to poll, or -1. */
int node_snapshot_fd(const struct node *n);

/* The image child has answered (its fd is readable). */
/* Returns ERR_DAMAGED (em says which row) when the image found a row that
 * fails its checksum: the node must stop; ERR_OK otherwise (a failure
 * retries later). */
int node_snapshot_on_made(struct node *n, char em[ERRMSG_LEN]);

/* After a wakeup's answers: a few compaction delete steps, then answers
 * the compact requests once nothing is left to delete. */
void node_snapshot_step(struct node *n);

/* True while deletes are left: the loop must not sleep. */
bool node_snapshot_is_busy(const struct node *n);

/* MSG_FAULT with FAULT_COMPACT, from loopback: compacts now. Errors:
 * ERR_STOPPED (fatal, from the replica). */
int node_snapshot_on_compact(struct node *n, const struct raft_addr *from);

/* Stops a running image child and closes the image. */
void node_snapshot_close(struct node *n);

#endif
