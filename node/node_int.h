/*
 * What node/node.c shares with node/node_control.c: the struct behind
 * struct node, and the few functions both call. Private to raftnode's
 * runtime. Read node/node_control.c next.
 */
#ifndef RAFT_NODE_NODE_INT_H
#define RAFT_NODE_NODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/msg.h"
#include "common/outbox.h"
#include "common/membership.h"
#include "common/types.h"
#include "common/wire.h"
#include "node/kv_pacer.h"
#include "node/log_writer.h"
#include "node/netem.h"
#include "node/node_check.h"
#include "node/node_snapshot.h"
#include "node/replica.h"
#include "node/trace.h"
#include "storage/store.h"

struct node {
    struct conf conf;
    raft_id id;
    struct raft_addr addrs[RAFT_NODES_MAX]; /* Same order as conf.members. */
    char self_addr[64];
    int fd;
    struct outbox outbox; /* Client replies of this wakeup. */
    int stop_fd;
    bool faults;
    struct store *store;
    struct log_writer log_writer; /* Writes and syncs the log. */
    struct kv_pacer kv_pacer;     /* Between the write-back and the store. */
    struct replica *replica;
    struct node_snapshot snap; /* Images, install, compaction. */
    struct node_check check;   /* raftctl check's kv digest. */
    struct netem netem;
    struct trace trace; /* The message trace for viewers (node/trace.h). */
    uint64_t now_ms;
    uint64_t drops[DROP__COUNT];
    uint64_t send_again; /* Datagrams the kernel refused. */
    struct wire_scratch *scratch;
    uint8_t *rx_buf; /* RAFT_DATAGRAM_MAX */
    uint8_t *tx_buf; /* RAFT_DATAGRAM_MAX */
    /* What the log prefix and INFO lines last showed. */
    int shown_role;
    raft_term shown_term;
    raft_index shown_commit;
    uint64_t commit_logged_ms;
    /* The disk (node_disk.c). */
    char *db_path;         /* Owned copy of the database path. */
    uint32_t disk_hung_ms; /* node_disk_hung_bound_ms(election). */
    uint64_t sync_seen_ms; /* First wakeup that saw the running sync;
                            * UINT64_MAX: none runs. */
    bool disk_hung;        /* That sync is older than disk_hung_ms. */
    bool no_space;         /* Waiting for space (node_wait_space). */
    /* Membership (node_members.c): the configuration last saved to the
     * members table (index; its text). */
    raft_index members_index;
    char members_text[MEMBERSHIP_TEXT_MAX];
};

/* Counts a dropped datagram; the first few of each reason at WARN. */
void node_drop(struct node *n, int reason, const struct raft_addr *from);

/* Sends a client, status or fault reply to the address that asked. */
void node_io_reply(void *ctx, const struct raft_addr *to,
                   const struct raft_msg *msg);

/* node_members.c: after a drain, learns the addresses of new members
 * and saves a changed configuration to the members table. */
void node_members_sync(struct node *n);
/* node_members.c: MSG_FAULT with FAULT_MEMBER from loopback: a membership
 * change or a transfer asked of this node (the leader). */
void node_on_member(struct node *n, const struct raft_addr *from,
                    const struct raft_msg *req);
/* node_members.c: the configuration at index as text (snapshots). */
void node_members_text_at(const struct node *n, raft_index index, char *buf,
                          size_t cap);

/* node_control.c: the answer to a fault-control request. */
void node_fault_reply(struct node *n, const struct raft_addr *to, bool ok);

/* node_control.c: answers a status request (MSG_STATUS). */
void node_on_status(struct node *n, const struct raft_addr *from,
                    const struct raft_msg *req);

/* node_control.c: a viewer's trace lease (MSG_TRACE): with keys, the tag
 * proved the cluster key; without, only from loopback. */
void node_on_trace(struct node *n, const struct raft_addr *from,
                   const struct raft_msg *req);
/* node_control.c: sends due trace batches, ends expired leases. */
void node_trace_flush(struct node *n);

/* node_control.c: applies a fault-control request (MSG_FAULT) when the node
 * runs with --faults and it comes from loopback; answers either way. */
void node_on_fault(struct node *n, const struct raft_addr *from,
                   const struct raft_msg *req);

/* node.c: drains up to NODE_RECV_PER_WAKEUP datagrams and routes them
 * (while no_space: clients get CLIENT_NO_SPACE, peers are ignored).
 * Errors: fatal replica errors only. */
int node_run_recv(struct node *n);

/* node_disk.c: the hung bound for an election timeout (defaults.h). */
uint32_t node_disk_hung_bound_ms(uint32_t election_ms);
/* node_disk.c: once per wakeup: notes when the running sync was first
 * seen and tells the core when it passes the bound, or completes. */
void node_disk_check(struct node *n);
/* node_disk.c: when the running sync passes the bound; UINT64_MAX: none. */
uint64_t node_disk_deadline(const struct node *n);
/* node_disk.c: enum status_disk for status replies. */
int node_disk_state(const struct node *n);
/* node_disk.c: answers a client request CLIENT_NO_SPACE. */
void node_reply_no_space(struct node *n, const struct raft_addr *from,
                         const struct msg_client *req);

#endif
