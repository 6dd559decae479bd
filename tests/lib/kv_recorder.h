/*
 * A kv_store_ops over an in-memory store (struct mem_kv) that records every
 * write reaching it (begin, put, del, session_put, commit) in order, with
 * copies of the bytes, counts the reads, and can make one chosen write
 * fail: what tests of a layer in front of the store (the write-back
 * buffer) assert on. Tests only: it allocates without a bound of its own.
 * Read tests/unit/test_kv_writeback.c for its use.
 */
#ifndef RAFT_TESTS_LIB_KV_RECORDER_H
#define RAFT_TESTS_LIB_KV_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "common/types.h"
#include "node/kv.h"
#include "tests/lib/mem_kv.h"

enum kv_rec_op {
    KV_REC_BEGIN = 1,
    KV_REC_COMMIT,
    KV_REC_PUT,
    KV_REC_DEL,
    KV_REC_SESSION_PUT
};

/* One write that reached the store. */
struct kv_rec_call {
    int op;       /* enum kv_rec_op */
    uint8_t *key; /* Owned copies (PUT, DEL; value PUT only). */
    uint32_t key_len;
    uint8_t *value;
    uint32_t value_len;
    uint64_t client_id; /* SESSION_PUT. */
    uint64_t seq;
    uint8_t status;
    raft_index applied; /* COMMIT. */
};

/* Caller-owned. kv is the store itself: tests may read and write it
 * directly (through mem_kv_ops, unrecorded). */
struct kv_recorder {
    struct mem_kv kv;
    struct kv_rec_call *calls; /* In call order. */
    size_t n_calls;
    size_t cap_calls;
    uint64_t n_gets; /* get and session_get calls. */
    uint64_t n_session_gets;
    int fail_op; /* The next write of this kind (enum
                                 * kv_rec_op, 0: none) returns fail_err
                                 * without reaching kv; then it resets. */
    int fail_err;
};

void kv_recorder_init(struct kv_recorder *rec);
void kv_recorder_close(struct kv_recorder *rec);

/* Forgets the recorded calls and the read counts (kv stays). */
void kv_recorder_clear(struct kv_recorder *rec);

/* The ops table; ctx is the struct kv_recorder *. Errors: mem_kv's, or
 * the injected fail_err. */
const struct kv_store_ops *kv_recorder_ops(void);

/* Recorded calls of kind op (enum kv_rec_op). */
size_t kv_recorder_count(const struct kv_recorder *rec, int op);

#endif
