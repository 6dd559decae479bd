/*
 * An in-memory kv_store_ops implementation for tests and the simulator:
 * keys kept in a sorted array (memcmp order, shorter first on a tie), client
 * sessions in an array sorted by client_id, the applied index, and an undo
 * log so that an open transaction can be rolled back (what a crash before
 * COMMIT does to SQLite). Iteration order never depends on pointer values.
 * Not pure (it allocates without a bound of its own): tests only.
 * Read tests/lib/mem_kv.c next.
 */
#ifndef RAFT_TESTS_LIB_MEM_KV_H
#define RAFT_TESTS_LIB_MEM_KV_H

#include <stddef.h>
#include <stdint.h>

#include "common/types.h"
#include "node/kv.h"

struct mem_kv_entry {
    uint8_t *key; /* Owned; key_len bytes. */
    uint32_t key_len;
    uint8_t *value; /* Owned; NULL when value_len is 0. */
    uint32_t value_len;
};

/* A live session (bounded sessions, the rule in node/kv.h). */
struct mem_kv_session {
    uint64_t client_id; /* The index of its register entry. */
    uint64_t seq;
    uint8_t status;
    raft_index index; /* The last touch (eviction order). */
};

struct mem_kv_undo; /* Private to mem_kv.c. */

/* Caller-owned; every field is private to mem_kv.c except through the
 * accessors below. Initialize with mem_kv_init, release with mem_kv_close. */
struct mem_kv {
    struct mem_kv_entry *entries; /* Sorted by key. */
    size_t n_entries;
    size_t cap_entries;
    struct mem_kv_session *sessions; /* Sorted by client_id. */
    size_t n_sessions;
    size_t cap_sessions;
    raft_index applied;
    bool in_txn;
    struct mem_kv_undo *undo; /* Changes of the open transaction. */
    size_t n_undo;
    size_t cap_undo;
    uint64_t n_commits;    /* Committed transactions, for tests. */
    int fail_next;         /* Fault hook: next op returns this. */
};

void mem_kv_init(struct mem_kv *kv);

/* Frees everything (an open transaction is discarded). */
void mem_kv_close(struct mem_kv *kv);

/* The ops table; ctx is the struct mem_kv *. begin asserts no transaction
 * is open; put, del and session_put assert one is (a write outside a
 * transaction is a programmer error); get and session_get work anywhere and
 * see the transaction's own writes. get's *value is borrowed until the next
 * write. Errors: ERR_NOMEM, ERR_NOT_FOUND (get, session_get), or the code
 * set with mem_kv_fail_next. */
const struct kv_store_ops *mem_kv_ops(void);

/* Inside a transaction: sets a session row as it is,
 * without eviction; what a snapshot install does. Errors: ERR_NOMEM. */
int mem_kv_session_restore(struct mem_kv *kv, const struct mem_kv_session *s);

/* Undoes the open transaction, if any (a crash before COMMIT). */
void mem_kv_rollback(struct mem_kv *kv);

/* Makes the next op (any of the table's) return err instead of running. */
void mem_kv_fail_next(struct mem_kv *kv, int err);

size_t mem_kv_count(const struct mem_kv *kv);
raft_index mem_kv_applied(const struct mem_kv *kv);

/* The i-th entry in key order (i < mem_kv_count), borrowed until the next
 * write. */
const struct mem_kv_entry *mem_kv_at(const struct mem_kv *kv, size_t i);

/* Sessions: how many, and the i-th in client id order
 * (borrowed until the next write). */
size_t mem_kv_session_count(const struct mem_kv *kv);
const struct mem_kv_session *mem_kv_session_at(const struct mem_kv *kv,
                                               size_t i);

/* FNV-1a over every key, value and session in order, and the applied index:
 * equal hashes mean (with overwhelming probability) equal states. */
uint64_t mem_kv_hash(const struct mem_kv *kv);

/* Replaces dst with a deep copy of src (neither may have an open
 * transaction). Errors: ERR_NOMEM (dst then empty). */
int mem_kv_copy(struct mem_kv *dst, const struct mem_kv *src);

#endif
