/*
 * The simulated world: K members each running the real replica (core, kv
 * state machine, sessions, replies) over a simulated network, disk and
 * clock, plus simulated clients, one event heap ordered by (time, insertion
 * counter) and one seeded generator deciding everything. This header holds
 * the structs every sim_*.c shares; each module's functions are declared
 * here too, grouped by file. Simulated code never reads a clock, calls
 * rand() or iterates in pointer order. Read tests/sim/sim_world.c next.
 */
#ifndef RAFT_TESTS_SIM_SIM_WORLD_H
#define RAFT_TESTS_SIM_SIM_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/membership.h"
#include "common/msg.h"
#include "common/rng.h"
#include "common/types.h"
#include "common/wire.h"
#include "node/replica.h"
#include "tests/lib/mem_kv.h"
#include "tests/sim/sim_trace.h"

#define SIM_NODES_MAX 7
#define SIM_CLIENTS_MAX 8
#define SIM_CLIENT_BASE 100 /* Endpoint of client i is 100 + i. */
#define SIM_SESSIONS_MAX 16 /* Above every member's session limit. */
#define SIM_KEYS 4          /* Keys "k0".."k3": contention on purpose. */
#define SIM_CLUSTER_ID 0x51u
#define SIM_TRACE_RING 400      /* Lines kept for a failure report. */
#define SIM_STUCK_EVENTS 200000 /* Events at one instant: time is stuck. */
#define SIM_RECORD_FRAME_MS 50  /* --record: status lines this often. */

/* Everything a seed decides about a run (the swarm parameters). */
struct sim_params {
    uint32_t n_nodes;    /* 3..SIM_NODES_MAX. */
    uint32_t n_clients;  /* 0..SIM_CLIENTS_MAX (0: manual only). */
    uint32_t lat_min_ms; /* Per-link latency bounds are drawn */
    uint32_t lat_max_ms; /* inside [lat_min_ms, lat_max_ms]. */
    uint32_t loss_ppm;
    uint32_t dup_ppm;
    uint32_t corrupt_ppm;    /* Damaged copies (must be dropped). */
    uint32_t fault_every_ms; /* Mean gap between fault ticks; 0: none. */
    uint32_t crash_ppm;      /* Per fault tick. */
    uint32_t partition_ppm;  /* Per fault tick. */
    uint32_t heal_ms_max;    /* A partition lasts up to this. */
    uint32_t down_min_ms;    /* A crashed node stays down this long. */
    uint32_t down_max_ms;
    uint32_t crash_point_ppm;      /* Per io call: die right there. */
    uint32_t new_leader_crash_ppm; /* A new leader dies before it has
                                  * replicated much (Figure 8 histories). */
    uint32_t write_fail_ppm;       /* Per persist or kv commit: fail-stop. */
    uint32_t lie_ppm; /* Per crash: the disk also loses a synced tail that
                       * every other member holds (a lying disk). */
    uint32_t heartbeat_ms;
    uint32_t election_ms;
    bool pre_vote;
    bool check_quorum;
    uint32_t batch_bytes_max;
    uint32_t inflight_max;
    uint32_t pending_max;     /* Replica's pending table; 0: default. */
    uint32_t apply_batch_min; /* Followers batch applies (raftnode: */
    uint32_t apply_delay_ms;  /* 512 and a heartbeat); 0/0: at once. */
    uint32_t mem_entries_max; /* 0: whole log in memory; else a window
                                  * loaded and fetched like raftnode. */
    /* When applied changes reach the kv image (all zero: at every apply
     * batch); the rest waits in the replica's memory, lost on a crash. */
    struct kv_writeback_config kv_writeback;
    /* Storage syncs apart from writing (replica_io.sync): a persist is
     * only written, lost on a crash until a sync asked after it finishes,
     * up to sync_ms_max later, or, for sync_slow_ppm of them (a stalled
     * disk), up to sync_slow_ms. false: durable on return. */
    bool async_sync;
    uint32_t sync_ms_max;
    uint32_t sync_slow_ppm;
    uint32_t sync_slow_ms;
    uint32_t self_sync_ms;     /* raft_config.self_sync_ms (async only). */
    /* Per fault tick (async only): one member's disk hangs (its syncs
     * finish only after a bound past the runtime's hung bound) or fills
     * (every write fails until then, and the member stops and restarts
     * as raftnode does). docs/DISK.md. */
    uint32_t disk_fault_ppm;
    uint32_t commit_notify_ms; /* raft_config.commit_notify_ms. */
    uint32_t client_timeout_ms;
    uint32_t client_think_ms; /* Up to this between two ops. */
    uint32_t read_pct;        /* Share of GETs among client ops. */
    uint32_t big_value_pct;   /* Share of writes with values up to
                                  * RAFT_VALUE_MAX (else a few bytes). */
    /* Snapshots (replica_config.snapshot; entries 0: off). */
    uint32_t snapshot_entries;
    uint32_t log_keep;
    uint32_t snap_chunk_bytes;
    uint32_t snap_window;
    uint32_t snap_timeout_ms;
    /* The session limit of member 1 (>= 1); member i's is max_sessions +
     * (i - 1) % 2, so leaders write different limits into register
     * entries and a member that evicted with its own would differ. Below
     * n_clients, sessions get evicted and clients register again. */
    uint32_t max_sessions;
    /* Membership seeds: members 1..n_boot start as the voters, the rest
     * join with no configuration; the fault ticks change the
     * configuration and transfer leadership. 0: all voters, no changes. */
    uint32_t n_boot;
    uint64_t steps;       /* Events in the fault phase. */
    uint32_t liveness_ms; /* Bound for the liveness phase. */
};

enum sim_ev_type {
    SIM_EV_DELIVER = 1, /* a: from endpoint, b: to endpoint. */
    SIM_EV_CLIENT,      /* a: client, b: sim_client_ev, c: gen. */
    SIM_EV_FAULT,       /* A fault tick. */
    SIM_EV_RESTART,     /* a: node id. */
    SIM_EV_HEAL,        /* Clear every partition. */
    SIM_EV_CRASH,       /* a: node id, c: its incarnation. */
    SIM_EV_SYNC         /* a: node id, c: its incarnation. */
};

struct sim_event {
    uint64_t time_ms;
    uint64_t order; /* Insertion counter: ties by creation. */
    uint8_t type;
    bool is_corrupt; /* DELIVER: bytes were damaged on purpose. */
    uint32_t a;
    uint32_t b;
    uint64_t c;
    uint8_t *data; /* DELIVER: owned datagram bytes. */
    uint32_t len;
};

/* One durable log row of a node's disk image (index = position + 1). */
struct sim_row {
    raft_term term;
    uint8_t type;
    uint32_t len;
    uint8_t *data;  /* Owned. */
    uint64_t chain; /* Hash of this row and every row before. */
};

/* How to undo one written but unsynced persist: the state before it. */
struct sim_undo {
    uint64_t seq;   /* The persist's number (sim_disk.n_writes). */
    raft_term term; /* Hard state before it. */
    raft_id voted_for;
    size_t n_rows;           /* Row count before it. */
    raft_index trunc_from;   /* Its truncation; 0: none. */
    struct sim_row *removed; /* Rows trunc_from..n_rows, owned. */
};

/* A node's storage: hard state and log rows as written (what reads, fetch
 * and later writes see), and, when syncs are asynchronous, an undo log of
 * the writes no sync has covered yet, oldest first: a crash undoes some
 * newest part of it. The kv image (struct mem_kv) lives next to it in
 * struct sim_node. */
struct sim_disk {
    raft_index compacted; /* Rows up to here keep only term and chain
                           * (their payloads are gone: compaction). */
    raft_term term;
    raft_id voted_for;
    struct sim_row *rows;
    size_t n_rows;
    size_t cap_rows;
    uint64_t n_writes; /* Persists with an undo record so far. */
    struct sim_undo *undo;
    size_t n_undo;
    size_t cap_undo;
};

/* What of a disk survives any crash (the written view with every pending
 * write undone), summarized for the checks. */
struct sim_durable {
    raft_term term;
    raft_id voted_for;
    size_t n_rows;       /* Durable row count. */
    size_t n_same;       /* Rows 1..n_same are the same in both
                                  * views; a durable row past it is in an
                                  * undo record (a pending truncation). */
    raft_term last_term; /* Term of durable row n_rows (0: none). */
};

/* The state a kv image must have after applying a prefix of the global
 * committed sequence: the checker's own model (fixed size, copyable). */
/* A session of the model: its id (the register entry's index), last seq
 * and status, and the index that last touched it. */
struct sim_session {
    uint64_t id;
    uint64_t seq;
    raft_index last;
    uint8_t status;
};

struct sim_state {
    bool present[SIM_KEYS];
    uint32_t value_len[SIM_KEYS];
    uint64_t value_hash[SIM_KEYS];
    uint32_t origin_client[SIM_KEYS]; /* Who wrote it, with which seq: */
    uint64_t origin_seq[SIM_KEYS];    /* sim_value_fill regenerates it. */
    /* Live sessions (node/kv.h's rule: added by register entries, evicted
     * least recently used down to the entry's limit), in no order. */
    uint32_t n_sessions;
    struct sim_session sessions[SIM_SESSIONS_MAX];
};

struct sim_world;

struct sim_node {
    struct sim_world *world;
    raft_id id;
    struct replica *rep; /* NULL while down. */
    uint32_t incarnation;
    bool is_dying;   /* A crash point hit inside this drain. */
    bool is_stopped; /* A write failed: no io may follow. */
    bool restart_pending;
    bool is_syncing;    /* A sync is asked and not done; */
    uint64_t sync_upto; /* ... it covers writes up to this seq. */
    bool is_releasing;  /* In replica_on_synced: what it sends
                                  * was held for the sync. */
    struct sim_disk disk;
    struct mem_kv kv;   /* Durable kv image; txn lost on crash. */
    uint8_t *fetch_buf; /* Payloads handed to the core's fetch. */
    size_t fetch_cap;
    struct sim_state shadow; /* Model state at kv's applied index. */
    uint8_t *image;          /* Leader: the open snapshot image. */
    size_t image_len;
    raft_index image_index;
    uint8_t *stage; /* Follower: the staging area (lost on a crash). */
    size_t stage_len;
    uint64_t n_installs;
    uint64_t n_compactions;
    /* What the checks last saw of this incarnation. */
    raft_term seen_term;
    raft_index seen_commit;
    raft_index seen_applied;
    raft_index noted; /* Applies (also in memory) and commits
                                  * checked against the global sequence. */
    int seen_role;
    raft_term lc_term;    /* Leader completeness checked in term */
    raft_index lc_upto;   /* ... up to this committed index. */
    raft_term obs_term;   /* Leader commit observed in term */
    raft_index obs_upto;  /* ... up to this index. */
    raft_term fault_term; /* Last term it was seen leading. */
    /* Disk faults (disk_fault_ppm; the disk, so they outlive a crash). */
    uint64_t hung_until_ms; /* Syncs asked before then end then. */
    uint64_t full_until_ms; /* Writes fail before then (no space). */
    uint64_t sync_asked_ms; /* When the running sync was asked. */
    bool is_disk_bad;       /* raft_set_disk_ok(false) in force. */
    bool lied;            /* Its disk lost a synced tail (lie_ppm). */
};

enum sim_client_ev {
    SIM_CLIENT_TIMEOUT = 0, /* No answer: try the next node. */
    SIM_CLIENT_RESEND = 1,  /* Send again to the current target. */
    SIM_CLIENT_NEXT = 2     /* Start the next operation. */
};

struct sim_client {
    uint32_t idx;
    uint64_t id;    /* The session id; 0: none (register first). */
    uint64_t nonce; /* Random, nonzero: names a register request. */
    bool is_registering;
    uint64_t seq; /* Never restarts: values name (client, seq). */
    uint64_t n_expired; /* Writes answered SESSION_EXPIRED. */
    bool is_busy; /* An operation is outstanding. */
    uint8_t op;   /* enum client_op */
    uint32_t key;
    uint32_t value_len;
    uint8_t *value; /* RAFT_VALUE_MAX bytes, owned. */
    uint32_t expected_len;
    uint8_t *expected; /* RAFT_VALUE_MAX bytes, owned. */
    uint64_t invoke_ms;
    raft_index read_floor; /* GET: acked writes before invocation. */
    raft_id target;
    uint32_t attempts;
    uint64_t gen; /* Only the latest timer event counts. */
    uint64_t n_done;
};

/* A committed index as the checker knows it. */
struct sim_commit {
    raft_term term;            /* Entry's term (0: not known yet). */
    raft_term min_commit_term; /* Lowest leader term seen committing it. */
    uint64_t chain;            /* Set once some node applied it. */
    bool is_applied;           /* Applied by some node (in the model). */
};

/* One change of one key in the global sequence, for read checks. */
struct sim_key_change {
    raft_index index;
    bool present;
    uint32_t value_len;
    uint64_t value_hash;
};

struct sim_ack {
    raft_index index; /* Where (client, seq) took effect; 0: not. */
    uint8_t status;
};

struct sim_check {
    struct sim_commit *c; /* c[i] is index i + 1. */
    size_t n_c;
    size_t cap_c;
    raft_index n_applied;   /* Global sequence: c[0..n_applied). */
    struct sim_state model; /* State after the global sequence. */
    struct sim_key_change *changes[SIM_KEYS];
    size_t n_changes[SIM_KEYS];
    size_t cap_changes[SIM_KEYS];
    struct sim_ack *acks[SIM_CLIENTS_MAX]; /* Indexed by seq. */
    size_t cap_acks[SIM_CLIENTS_MAX];
    raft_index max_acked; /* Highest index of an acknowledged write. */
    uint32_t *owner;      /* owner[session id]: client + 1, 0 unknown. */
    size_t cap_owner;
    raft_id *leader_of;   /* Election safety: leader_of[term]. */
    size_t cap_leader_of;
    uint64_t *lm_keys; /* Log matching: (index, term) -> chain. */
    uint64_t *lm_vals;
    size_t cap_lm;
    size_t n_lm;
    uint64_t n_acked_writes;
    uint64_t n_reads_checked;
    uint64_t n_lost_buffers;    /* Crashes that lost unstored applies. */
    struct sim_state *model_at; /* model_at[i]: state after index i. */
    size_t cap_model_at;
    uint64_t n_installs;
    uint64_t n_compactions;
};

/* --record: what the recorder last saw of a node (sim_record.c). */
struct sim_record_seen {
    bool up;
    int role;
    raft_term term;
};

struct rec_writer;

struct sim_world {
    struct sim_params p;
    uint64_t seed;
    struct rng rng;
    uint64_t now_ms;
    uint64_t n_events;
    uint64_t next_order;
    struct sim_event *heap;
    size_t n_heap;
    size_t cap_heap;
    struct sim_node nodes[SIM_NODES_MAX + 1]; /* [1..n_nodes]. */
    struct sim_client clients[SIM_CLIENTS_MAX];
    /* Network. */
    uint32_t lat_lo[SIM_NODES_MAX + 1][SIM_NODES_MAX + 1];
    uint32_t lat_hi[SIM_NODES_MAX + 1][SIM_NODES_MAX + 1];
    bool blocked[SIM_NODES_MAX + 1][SIM_NODES_MAX + 1]; /* [from][to]. */
    uint64_t n_sent;
    uint64_t n_dropped;
    uint64_t n_corrupt_caught;
    uint64_t n_lies;         /* Lying-disk cuts made (lie_ppm). */
    uint64_t n_lost_reports; /* Leaders' lost-acked reports (ERROR). */
    struct wire_scratch *scratch;
    uint8_t *buf; /* RAFT_DATAGRAM_MAX bytes. */
    /* Tests: sees (and may change or drop) every message before the
     * network does; NULL in raftsim. */
    void (*net_filter)(void *ctx, uint32_t from, uint32_t to,
                       struct raft_msg *msg, bool *drop);
    void *net_filter_ctx;
    /* Phases. */
    bool in_liveness;
    bool clients_stopping;
    bool is_manual; /* Tests drive faults and clients. */
    bool disks_lie; /* A test cut a synced log tail: a leader may report
                     * lost acknowledged entries (else a false alarm). */
    bool is_done;
    uint64_t same_time_events;
    /* Checks and the failure. */
    const char *skip_check; /* Borrowed; check names to ignore,
                                  * comma-separated (what else breaks?). */
    struct sim_check check;
    bool failed;
    char fail_check[48];
    char fail_detail[200];
    uint64_t fail_step;
    struct sim_trace trace;
    /* --record (sim_record.c); rec NULL: not recording. */
    struct rec_writer *rec;
    uint64_t rec_next_ms;
    struct sim_record_seen rec_seen[SIM_NODES_MAX + 1];
    bool rec_blocked[SIM_NODES_MAX + 1][SIM_NODES_MAX + 1];
};

/* --- sim_world.c: lifecycle, heap, the event loop, faults --- */
/* Builds a world for params and seed; nodes start with empty disks unless
 * the caller fills them before sim_world_start. trace_echo: NULL or a
 * stream that gets every trace line. Errors: ERR_NOMEM. */
int sim_world_init(struct sim_world *w, const struct sim_params *p,
                   uint64_t seed, FILE *trace_echo);
void sim_world_start(struct sim_world *w);
void sim_world_close(struct sim_world *w);
/* One event; false when nothing is left. */
bool sim_world_step(struct sim_world *w);
/* The full run: fault phase for p.steps events, then the liveness phase.
 * Returns true when no check failed. */
bool sim_world_run(struct sim_world *w);
/* Steps until now_ms >= until_ms or a failure. */
void sim_world_run_until(struct sim_world *w, uint64_t until_ms);
void sim_world_push(struct sim_world *w, const struct sim_event *ev);
void sim_tracef(struct sim_world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_fail(struct sim_world *w, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The only leader (0 when none or several). */
raft_id sim_world_leader(const struct sim_world *w);
void sim_world_heal(struct sim_world *w);

/* --- sim_record.c: raftsim --record (reads the world, changes nothing) --- */
/* Starts recording into rec (borrowed; NULL: off): the meta line. */
void sim_record_begin(struct sim_world *w, struct rec_writer *rec);
/* After every event: derived events, and a status frame when due. */
void sim_record_step(struct sim_world *w);
/* A message from member from, len bytes encoded, sent now. */
void sim_record_msg(struct sim_world *w, uint32_t from, uint32_t to,
                    const struct raft_msg *msg, size_t len);
void sim_record_violation(struct sim_world *w, const char *check,
                          const char *detail);

/* --- sim_node.c: a member's life and its io table --- */
void sim_node_start(struct sim_world *w, struct sim_node *n);
void sim_node_crash(struct sim_world *w, struct sim_node *n, const char *why);
void sim_node_tick(struct sim_world *w, struct sim_node *n);
uint64_t sim_node_deadline(const struct sim_node *n);
void sim_node_on_datagram(struct sim_world *w, struct sim_node *n,
                          uint32_t from, const struct raft_msg *msg);
/* After an input: drains the ready batches, stops a failed node. */
void sim_node_drain(struct sim_world *w, struct sim_node *n);
/* A SIM_EV_SYNC: the sync incarnation asked for finished (ignored when
 * that incarnation is gone). */
void sim_node_on_synced(struct sim_world *w, struct sim_node *n,
                        uint64_t incarnation);

/* --- sim_disk.c: durable images --- */
void sim_disk_init(struct sim_disk *d);
void sim_disk_close(struct sim_disk *d);
/* Appends or replaces rows from first (rows >= first+n stay); for tests
 * and the persist op. Errors: ERR_NOMEM, ERR_CORRUPT (a gap). */
int sim_disk_write(struct sim_disk *d, raft_index first,
                   const struct raft_entry *entries, size_t n);
void sim_disk_truncate(struct sim_disk *d, raft_index from);
/* The io persist op (ctx is the struct sim_node). With async_sync it
 * keeps an undo record of what it changed. */
int sim_disk_persist(void *ctx, const struct raft_ready *rd);
/* The runtime's hung-disk bound for this world (node/node_disk.c:
 * NODE_DISK_HUNG_ELECTIONS election timeouts, at least
 * NODE_DISK_HUNG_MIN_MS). */
uint64_t sim_disk_hung_bound_ms(const struct sim_world *w);

/* The io sync op (ctx is the struct sim_node): schedules a SIM_EV_SYNC
 * that covers every write so far. */
int sim_disk_sync(void *ctx);
/* Writes up to seq upto are durable: drops their undo records. */
void sim_disk_synced(struct sim_disk *d, uint64_t upto);
/* A crash: the newest pending writes but the keep oldest are undone, the
 * rest made durable (the page cache flushed a prefix of the WAL). */
void sim_disk_crash(struct sim_disk *d, size_t keep);
void sim_disk_durable(const struct sim_disk *d, struct sim_durable *out);
/* Fills loaded from the images like store_load_window: payloads of the
 * entries after applied - window (all when window is 0), term runs for the
 * ones before; entries borrowed from d, *entries and *runs owned by the
 * caller. Errors: ERR_NOMEM, ERR_CORRUPT (terms that go down). */
int sim_disk_load(const struct sim_disk *d, const struct mem_kv *kv,
                  raft_index window, struct raft_loaded *loaded,
                  struct raft_entry **entries, struct raft_term_run **runs);
/* The core's fetch callback (ctx is the sim_node). */
int sim_disk_fetch(void *ctx, raft_index lo, raft_index hi, size_t bytes_max,
                   struct raft_entry *out, size_t cap, size_t *n);
/* The kv ops table the replica applies through (ctx is the sim_node). */
const struct kv_store_ops *sim_disk_kv_ops(void);

/* Compaction: rows up to upto lose their payloads (term and chain stay,
 * for the checks). */
void sim_disk_compact(struct sim_disk *d, raft_index upto);
/* Sets row index (<= n_rows + 1) to a payload-less row of term and chain
 * (an installed snapshot's covered prefix). */
void sim_disk_put_meta(struct sim_disk *d, raft_index index, raft_term term,
                       uint64_t chain);
/* Recomputes the chains of rows after index from row index's. */
void sim_disk_rechain(struct sim_disk *d, raft_index index);

/* --- sim_snap.c: snapshot images, staging, install, compaction ops --- */
void sim_snap_bind(struct replica_io *io);
void sim_snap_crash(struct sim_node *n);

/* --- sim_member.c: membership changes and their checks --- */
/* A fault tick: maybe a change or a transfer at the leader. */
void sim_member_tick(struct sim_world *w);
/* After every event: maybe a change at a leader that has not committed
 * an entry of its term yet (it must be refused). */
void sim_member_after_event(struct sim_world *w);
/* The configuration in force at idx in disk d (the bootstrap when no
 * config row is at or below idx). */
void sim_member_conf_at(const struct sim_world *w, const struct sim_disk *d,
                        raft_index idx, struct membership *out);
/* one_change and change_after_term_commit on every live leader. */
void sim_member_check(struct sim_world *w);

/* --- sim_net.c --- */
void sim_net_send(struct sim_world *w, uint32_t from, uint32_t to,
                  const struct raft_msg *msg);
void sim_net_deliver(struct sim_world *w, const struct sim_event *ev);
/* Tests: msg from `from` reaches `to` after delay_ms, past every fault. */
void sim_net_inject(struct sim_world *w, uint32_t from, uint32_t to,
                    const struct raft_msg *msg, uint64_t delay_ms);
void sim_net_partition(struct sim_world *w);
void sim_net_block(struct sim_world *w, raft_id from, raft_id to,
                   bool is_blocked);

/* --- sim_client.c --- */
void sim_client_init(struct sim_world *w);
void sim_client_on_event(struct sim_world *w, const struct sim_event *ev);
void sim_client_on_reply(struct sim_world *w, uint32_t client,
                         const struct msg_client_reply *r);
/* Starts an operation now (tests; key index, value as a C string). */
void sim_client_invoke(struct sim_world *w, uint32_t client, uint8_t op,
                       uint32_t key, const char *value, const char *expected);
bool sim_client_all_idle(const struct sim_world *w);
void sim_client_close(struct sim_world *w);
/* The value client writes at seq with len bytes: a readable unique prefix
 * ("c2s17.") then filler drawn from (client, seq); len >= the prefix. */
void sim_value_fill(uint32_t client, uint64_t seq, uint8_t *buf, uint32_t len);
uint32_t sim_value_min_len(uint32_t client, uint64_t seq);
uint32_t sim_client_key_index(const uint8_t *key, uint32_t len);

/* --- sim_check.c --- */
int sim_check_init(struct sim_check *c);
void sim_check_close(struct sim_check *c);
/* After every event. */
void sim_check_event(struct sim_world *w);
/* A node's kv commit made applied_index durable (from prev). */
void sim_check_on_apply(struct sim_world *w, struct sim_node *n,
                        raft_index prev, raft_index applied_index);
/* Live node n is about to answer a client: what it answers from (its
 * applied state, perhaps only in its write-back buffer) must be in the
 * global sequence before the answer can reach anyone. */
void sim_check_on_reply(struct sim_world *w, struct sim_node *n);
/* A row (index, term, chain) reached a disk. */
void sim_check_on_row(struct sim_world *w, raft_index index, raft_term term,
                      uint64_t chain);
/* Before a persist truncates node n's disk from index: the highest
 * committed index it holds there (0: none) and that row's chain. After the
 * persist, sim_check_after_truncate checks the row is still there. */
raft_index sim_check_before_truncate(const struct sim_world *w,
                                     const struct sim_node *n, raft_index from,
                                     uint64_t *chain);
void sim_check_after_truncate(struct sim_world *w, const struct sim_node *n,
                              raft_index held, uint64_t chain);
/* Before n sends msg: what it promises must be on its disk. */
void sim_check_on_send(struct sim_world *w, const struct sim_node *n,
                       const struct raft_msg *msg);
/* Client cl was told its session id (a register's answer): the model
 * knows whose writes that session's are, whenever a member applies them. */
void sim_check_on_session(struct sim_world *w, const struct sim_client *cl);
void sim_check_on_write_ack(struct sim_world *w, const struct sim_client *cl,
                            uint8_t status);
void sim_check_on_read(struct sim_world *w, const struct sim_client *cl,
                       uint8_t status, const uint8_t *value, uint32_t len);
/* Node n compacted its log up to c->log_upto at point c->point: both at
 * or below its durably applied index (the kv image's). */
void sim_check_on_compact(struct sim_world *w, const struct sim_node *n,
                          const struct replica_compaction *c);
/* Node n stages chunk c: status (replica_snapshot_progress) shows the
 * transfer, of c's image size, with at most c's offset received. */
void sim_check_on_stage(struct sim_world *w, const struct sim_node *n,
                        const struct msg_snapshot *c);
/* Node n installed a snapshot at (index, term) over a kv image applied at
 * prev: the point is in the global sequence, the state equals the model's
 * there, and applied did not go back. Fills the disk rows it covers from
 * the global sequence. */
void sim_check_on_install(struct sim_world *w, struct sim_node *n,
                          raft_index prev, raft_index index, raft_term term);
/* The global sequence's chain at index (known, index <= n_applied). */
uint64_t sim_check_chain_at(const struct sim_world *w, raft_index index);
/* Model: apply the committed entry at idx to s (a register entry adds a
 * session and evicts); returns true if a write took effect (first time
 * for its (session, seq), in a live session), with its client, seq and
 * status. */
bool sim_state_apply(const struct sim_world *w, struct sim_state *s,
                     raft_index idx, const struct raft_entry *e,
                     uint32_t *client, uint64_t *seq, uint8_t *status);

#endif
