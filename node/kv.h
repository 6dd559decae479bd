/*
 * The key-value state machine: the payload format of a normal log entry (a
 * small length-prefixed binary layout of its own, so the core needs no
 * msgpack), its validation, and apply semantics (put/del/cas) with
 * exactly-once client sessions, over a table of storage operations that
 * storage/ implements for raftnode and tests/sim implements in memory.
 * Pure: no I/O, no clock. Read node/kv.c next.
 */
#ifndef RAFT_NODE_KV_H
#define RAFT_NODE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "common/types.h"

enum kv_op { KV_OP_PUT = 1, KV_OP_DEL = 2, KV_OP_CAS = 3 };

/* A decoded command; pointers borrow from the payload. */
struct kv_cmd {
    uint8_t op;         /* enum kv_op */
    uint64_t client_id; /* 0: no session (not deduplicated). */
    uint64_t seq;
    uint32_t key_len;
    const uint8_t *key;
    uint32_t value_len;
    const uint8_t *value; /* PUT value; CAS new value. */
    uint32_t expected_len;
    const uint8_t *expected; /* CAS only. */
};

/* Result of applying a command, remembered per session. Values match
 * enum client_status (CLIENT_OK, CLIENT_CAS_MISMATCH). */
struct kv_result {
    uint8_t status;
    bool duplicate; /* Already applied: cached result returned. */
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
    /* ERR_NOT_FOUND when the client has no session yet. */
    int (*session_get)(void *ctx, uint64_t client_id, uint64_t *seq,
                       uint8_t *status);
    int (*session_put)(void *ctx, uint64_t client_id, uint64_t seq,
                       uint8_t status);
};

/* Bytes kv_encode needs for cmd. */
size_t kv_encoded_size(const struct kv_cmd *cmd);

/* Encodes cmd into buf (capacity cap). Errors: ERR_INVALID (bad op, key
 * empty or over RAFT_KEY_MAX, value over RAFT_VALUE_MAX), ERR_TOO_BIG. */
int kv_encode(const struct kv_cmd *cmd, uint8_t *buf, size_t cap, size_t *len);

/* Decodes and validates a payload. Errors: ERR_MALFORMED. */
int kv_decode(const uint8_t *buf, size_t len, struct kv_cmd *out);

/* Applies one committed payload inside an open begin/commit. A (client_id,
 * seq) at or below the session's last seq is not applied again: *res gets the
 * cached status with duplicate set. A payload that does not decode is skipped
 * deterministically on every replica (res->status CLIENT_INVALID).
 * Errors: whatever a store op returned (fatal for the caller). */
int kv_apply(const struct kv_store_ops *ops, void *ctx, const uint8_t *payload,
             size_t len, struct kv_result *res);

/* The op name for the log table: "put", "del", "cas" (or "?" if invalid). */
const char *kv_op_name(uint8_t op);

#endif
