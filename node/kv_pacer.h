/*
 * Sizes the write-back buffer's stores by how long they take: it wraps the
 * store's kv ops, times each store transaction (begin to commit, which also
 * runs any checkpoint), and moves the buffer's ops_max so that a store stays
 * near target_ms. One store runs on the node's only thread: a big kv table
 * with keys spread over many pages makes each key cost a page, and a store
 * of thousands of them would stall the loop past the election timeout. A
 * hot key space (many keys a page) keeps the full size. Not pure: reads the
 * clock. Read node/kv_pacer.c next.
 */
#ifndef RAFT_NODE_KV_PACER_H
#define RAFT_NODE_KV_PACER_H

#include <stdint.h>

#include "node/kv.h"
#include "node/kv_writeback.h"

struct kv_pacer {
    const struct kv_store_ops *inner; /* Borrowed: the store's ops. */
    void *inner_ctx;
    struct kv_writeback *wb;  /* Borrowed; NULL until attached. */
    uint64_t (*now_ms)(void); /* clock_now_ms; tests replace it. */
    uint64_t begin_ms;
    uint32_t target_ms;
    uint32_t ops_min;
    uint32_t ops_max;
};

/* Caller-owned p over inner/inner_ctx; stores aim at target_ms and keep
 * ops_max within [ops_min, ops_max]. Start the buffer small (ops_min or a
 * little more): the first stores then grow it, rather than a first store
 * of ops_max keys stalling the node. */
void kv_pacer_init(struct kv_pacer *p, const struct kv_store_ops *inner,
                   void *inner_ctx, uint32_t target_ms, uint32_t ops_min,
                   uint32_t ops_max);

/* The buffer whose ops_max the pacer moves (borrowed). */
void kv_pacer_attach(struct kv_pacer *p, struct kv_writeback *wb);

/* The kv_store_ops through the pacer; their ctx is the struct kv_pacer *. */
const struct kv_store_ops *kv_pacer_ops(void);

/* The next ops_max after a store of took_ms under ops: scaled down to what
 * would have taken target_ms (not below min) when it took longer, a
 * quarter more (not above max) when it took under half of it, else the
 * same. Pure, for tests. */
uint32_t kv_pacer_next(uint32_t ops, uint64_t took_ms, uint32_t target_ms,
                       uint32_t min, uint32_t max);

#endif
