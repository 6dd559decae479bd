/*
 * The fake-io cluster harness of the replica unit tests: up to NODES_MAX
 * replicas (node/replica.c over the real core and tests/lib/mem_kv.c) whose
 * messages a test hands over in memory, fake io callbacks that check on
 * every send that what the message promises is already durable, and the
 * CMocka setups and teardown. With io->sync set (is_async), a persist only
 * writes and becomes durable when the test finishes the sync (sync_done).
 * Tests only: it fails through CMocka asserts. Read replica_harness.c next.
 */
#ifndef RAFT_TESTS_UNIT_REPLICA_HARNESS_H
#define RAFT_TESTS_UNIT_REPLICA_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"
#include "common/types.h"
#include "tests/lib/mem_kv.h"

struct raft;
struct replica;

#define NODES_MAX 3
#define REPLIES_MAX 64
#define ELECTION_MS 150
#define HEARTBEAT_MS 50
#define LAZY_SYNC_MS 1 /* raft_config.self_sync_ms of the lazy tests. */

/* A deep copy of a sent message (entries and their data owned). */
struct held_msg {
    struct raft_msg msg;
    struct raft_entry *entries;
    uint8_t *data;
};

struct reply_rec {
    struct raft_addr to;
    uint8_t status;
    uint64_t client_id;
    uint64_t seq;
    raft_id leader_hint;
    uint32_t value_len;
    uint8_t value[64];
    raft_index applied_at_reply; /* mem_kv applied index when answered. */
};

struct tnode {
    raft_id id;
    struct replica *rep;
    struct mem_kv kv;
    /* Fake io state. */
    struct held_msg *outbox;
    size_t n_out;
    size_t cap_out;
    struct reply_rec replies[REPLIES_MAX];
    size_t n_replies;
    /* io->replies_done: calls, replies as of the last call, and commit-only
     * AppendEntries already sent when a call saw new replies (announcing
     * a commit before answering it). */
    size_t n_replies_done;
    size_t replies_at_done;
    size_t commit_sent_before_replies;
    size_t n_persist;
    int persist_fail; /* Next persist returns this. */
    raft_term durable_term;
    raft_id durable_vote;
    raft_index durable_last;
    /* io->sync set: persists write these; a sync makes what they were
     * when it was asked (asked_*) durable. */
    bool is_async;
    bool is_syncing; /* A sync asked, not finished. */
    size_t n_sync;
    raft_term written_term, asked_term;
    raft_id written_vote, asked_vote;
    raft_index written_last, asked_last;
    raft_index kv_applied_at_sync; /* mem_kv's applied index at the ask. */
    bool is_down;                  /* Messages to it are dropped. */
};

struct cluster {
    uint32_t n;
    uint64_t now;
    struct tnode nodes[NODES_MAX];
};

/* Frees a held message's copies and zeroes it. */
void held_free(struct held_msg *h);

/* Starts n replicas (ids 1..n) at c->now; pending_max 0 means the
 * replica's default. is_async: with io->sync (persists only write), and
 * then self_sync_ms (raft_config; 0: every write synced). */
void cluster_start_lazy(struct cluster *c, uint32_t n, uint32_t pending_max,
                        bool is_async, uint32_t self_sync_ms);
void cluster_start_io(struct cluster *c, uint32_t n, uint32_t pending_max,
                      bool is_async);
void cluster_start(struct cluster *c, uint32_t n, uint32_t pending_max);
/* Frees every replica, queued message and kv of c (not c itself). */
void cluster_stop(struct cluster *c);

/* Node id (1..c->n) and its core; both borrowed from c. */
struct tnode *node(struct cluster *c, raft_id id);
const struct raft *core(struct cluster *c, raft_id id);

/* Storage finishes node id's sync: what was written when it was asked is
 * durable; the replica is told (and may send what it held). */
void sync_done(struct cluster *c, raft_id id);
/* replica_drain on every node that is up. */
void drain_all(struct cluster *c);
/* Hands every queued message over and drains, finishing the syncs it
 * asked for, until nothing moves. Nodes marked is_down neither send nor
 * receive. */
void deliver(struct cluster *c);
/* Hands node from's queued messages over, without draining anyone. */
void hand_over(struct cluster *c, raft_id from);
/* Hands the queued messages over once, without draining anyone. */
void deliver_once(struct cluster *c);
/* Node id times out first and wins; the others never tick. */
void elect(struct cluster *c, raft_id id);
/* One heartbeat round from the leader, delivered. */
void heartbeat(struct cluster *c, raft_id leader);

/* Client number n's address. */
struct raft_addr client_addr(uint8_t n);
/* A client request; key, value and expected are borrowed (NULL: absent). */
struct msg_client request(uint8_t op, uint64_t client_id, uint64_t seq,
                          const char *key, const char *value,
                          const char *expected);
/* Gives req from client number from to node id; replica_on_client's
 * result. */
int send_client(struct cluster *c, raft_id id, uint8_t from,
                struct msg_client req);
/* Whether t's state machine holds key = value (value NULL: key absent). */
bool kv_has(struct tnode *t, const char *key, const char *value);

/* CMocka setups: a heap cluster in *state of one or three replicas, with
 * durable persists, with io->sync (async), or with io->sync and
 * self_sync_ms LAZY_SYNC_MS (lazy). teardown stops and frees it. */
int setup_single(void **state);
int setup_three(void **state);
int setup_single_async(void **state);
int setup_three_async(void **state);
int setup_three_lazy(void **state);
int teardown(void **state);

#endif
