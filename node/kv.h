/*
 * The key-value state machine: apply semantics (put/del/cas) of the
 * commands in normal log entries (their encoding is common/command.h), with
 * exactly-once client sessions, over a table of storage operations that
 * the runtime binds to storage/ for raftnode (node/node_kv.c) and tests/sim
 * implements in memory.
 * Pure: no I/O, no clock. Read node/kv.c next.
 */
#ifndef RAFT_NODE_KV_H
#define RAFT_NODE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "common/types.h"

/* Result of applying a command, remembered per session. Values match
 * enum client_status (CLIENT_OK, CLIENT_CAS_MISMATCH). */
struct kv_result {
    uint8_t status;
    bool duplicate; /* Already applied: cached result returned. */
};

/* What a store knows of a client's session (thesis section 6.3). */
enum kv_session_state {
    KV_SESSION_NONE = 0, /* Never registered, or evicted. */
    KV_SESSION_LIVE      /* seq and status are set. */
};

struct kv_session {
    int state; /* enum kv_session_state */
    uint64_t seq;
    uint8_t status;
};

/* The storage a state machine applies to. Every op returns ERR_OK or an error
 * (a failing op is fatal for the node). get returns ERR_NOT_FOUND for an
 * absent key; its *value is borrowed until the next call on ctx. begin/commit
 * bracket the apply of a batch: commit records applied_index in the same
 * transaction, so a restart never applies an entry twice. */
struct kv_store_ops {
    int (*begin)(void *ctx);
    int (*commit)(void *ctx, raft_index applied_index);
    int (*get)(void *ctx, const uint8_t *key, uint32_t key_len,
               const uint8_t **value, uint32_t *value_len);
    int (*put)(void *ctx, const uint8_t *key, uint32_t key_len,
               const uint8_t *value, uint32_t value_len);
    int (*del)(void *ctx, const uint8_t *key, uint32_t key_len);
    /* Optional (NULL: put is used): put of the value that the log entry at
     * index holds in its value column, so a store may keep a reference to
     * that row rather than a second copy of the value (storage/schema.h,
     * kv_data.ref). */
    int (*put_at)(void *ctx, const uint8_t *key, uint32_t key_len,
                  const uint8_t *value, uint32_t value_len, raft_index index);
    /* ERR_NOT_FOUND when the client has no session yet. */
    int (*session_get)(void *ctx, uint64_t client_id, uint64_t *seq,
                       uint8_t *status);
    int (*session_put)(void *ctx, uint64_t client_id, uint64_t seq,
                       uint8_t status);
    /* Bounded sessions (DESIGN.md, Snapshots and compaction; thesis 6.3).
     * A session is registered through the log: its id is the index of its
     * register entry (kv_session_entry_*). find reports a live or unknown
     * session. touch, inside the batch of the entry at index, records
     * (seq, status) of a live session touched at index; it never evicts.
     * register, inside the batch of the register entry at index, adds the
     * session `index` (seq 0), then, while more than max sessions are live
     * (max 0: unbounded), evicts the one with the smallest (last index,
     * client id). max comes from the entry, so every replica evicts the
     * same sessions at the same index. */
    int (*session_find)(void *ctx, uint64_t client_id, struct kv_session *out);
    int (*session_touch)(void *ctx, uint64_t client_id, uint64_t seq,
                         uint8_t status, raft_index index);
    int (*session_register)(void *ctx, raft_index index, uint64_t max);
    /* How many sessions are live. */
    int (*session_count)(void *ctx, uint64_t *n_live);
};

/* Applies the payload of the entry at index inside an open begin/commit. A
 * (client_id, seq) at or below the session's last seq is not applied again:
 * *res gets the cached status with duplicate set. A request of an unknown
 * session (never registered, or evicted) is not applied: its status is
 * CLIENT_SESSION_EXPIRED. client_id 0 is no session (applied, never
 * deduplicated). A payload that does not decode is skipped
 * deterministically on every replica (res->status CLIENT_INVALID).
 * Errors: whatever a store op returned (fatal for the caller). */
int kv_apply(const struct kv_store_ops *ops, void *ctx, raft_index index,
             const uint8_t *payload, size_t len, struct kv_result *res);

/* A register entry is a RAFT_ENTRY_NOOP whose payload is the text
 * "session max=N" (N: the proposing leader's --max-sessions, 0 unbounded),
 * so the log shows it and every replica evicts with the same limit.
 * format writes it into buf (KV_SESSION_ENTRY_MAX bytes) and returns its
 * length; parse returns true and *max for such a payload (false for the
 * empty payload of a leader's no-op, or anything else). */
#define KV_SESSION_ENTRY_MAX 40
uint32_t kv_session_entry_format(uint8_t *buf, uint64_t max);
bool kv_session_entry_parse(const uint8_t *data, uint32_t len, uint64_t *max);

/* Applies a register entry at index with limit max (ops->session_register).
 * Errors: the store's (fatal). */
int kv_register(const struct kv_store_ops *ops, void *ctx, raft_index index,
                uint64_t max);

#endif
