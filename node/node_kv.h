/*
 * The runtime's binding of the state machine's storage interface: the
 * kv_store_ops table (node/kv.h) over the SQLite store's kv functions
 * (storage/store.h), so storage never sees a node/ type. Read
 * node/node_kv.c next.
 */
#ifndef RAFT_NODE_NODE_KV_H
#define RAFT_NODE_NODE_KV_H

#include "node/kv.h"

/* The kv_store_ops over a store; their ctx is the struct store * (borrowed;
 * it must outlive every call). */
const struct kv_store_ops *node_kv_ops(void);

#endif
