/*
 * raftnode's side of `raftctl check`: answers MSG_CHECK with the digest of
 * its kv table at its applied index, computed by storage's store_digest a
 * bounded number of rows per wakeup (after the answers, like compaction),
 * so a large table never holds the loop past a heartbeat. A row that fails
 * its checksum is damage: the asker is told, and the node stops. Not pure.
 * Read node/node.c next.
 */
#ifndef RAFT_NODE_NODE_CHECK_H
#define RAFT_NODE_NODE_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/msg.h"
#include "common/types.h"

struct node;
struct store_digest;

struct node_check {
    struct store_digest *digest; /* In progress, or NULL. */
    uint64_t next_begin_ms;      /* No new digest before (a flood of
                                  * requests never stalls the loop). */
    bool has_result;             /* The last finished digest: */
    raft_index applied;
    uint64_t n_rows;
    uint64_t value;
    bool has_asker; /* The last asker, told if damage is found. */
    struct raft_addr asker;
    uint64_t asker_nonce;
};

/* Answers a check request: the digest when the last one is of the current
 * applied index, else CHECK_BUSY (starting one, after storing what the
 * write-back buffer holds, when none runs and none started in the last
 * NODE_CHECK_INTERVAL_MS). */
#define NODE_CHECK_INTERVAL_MS 100
void node_check_on_request(struct node *n, const struct raft_addr *from,
                           const struct raft_msg *req);

/* One step of a digest in progress. Errors: ERR_DAMAGED (the asker was
 * told; the node must stop), others fatal as well. */
int node_check_step(struct node *n);

/* Drops a digest in progress. */
void node_check_close(struct node *n);

#endif
