/*
 * What storage/store.c and storage/store_load.c share and nothing else may
 * include: struct store and the error helpers. Read storage/store.c next.
 */
#ifndef RAFT_STORAGE_STORE_INT_H
#define RAFT_STORAGE_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/types.h"
#include "storage/session_cache.h"

enum store_stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_HARD_STATE,
    ST_LOG_TRUNCATE,
    ST_LOG_INSERT,
    ST_APPLIED,
    ST_KV_GET,
    ST_KV_PUT,
    ST_KV_DEL,
    ST_SESSION_GET,
    ST_SESSION_PUT,
    ST_LOG_FETCH,
    ST_SYNC_FULL,
    ST_SYNC_NORMAL,
    ST_BEGIN_READ,
    ST__COUNT
};

struct store {
    sqlite3 *db;
    int lock_fd;               /* flock()ed "<path>.lock"; -1 when none. */
    sqlite3_stmt *st[ST__COUNT];
    bool in_txn;               /* A kv apply transaction is open. */
    int sync;                  /* ST_SYNC_FULL or ST_SYNC_NORMAL in force. */
    bool in_read;              /* A read transaction is open (store.c). */
    raft_term term;            /* raft_state.current_term. */
    raft_index last_index;     /* Largest log idx; 0 when the log is empty. */
    raft_index applied;        /* meta applied_index, as last committed. */
    uint32_t persist_delay_ms; /* Disk-stall fault hook. */
    uint8_t *get_buf;          /* RAFT_VALUE_MAX bytes: get's result. */
    struct session_cache *sessions; /* What the sessions table holds. */
    uint8_t *fetch_buf;        /* store_fetch's payload copies. */
    size_t fetch_cap;
    char errmsg[ERRMSG_LEN];
};

/* Ends the read transaction store.c keeps open across reads, if any; every
 * write, and store_load's own transaction, must call it first.
 * Errors: ERR_IO. */
int store_read_end(struct store *s);

/* Records a failed SQLite call (rc) in s->errmsg. Returns ERR_IO. */
int store_fail(struct store *s, int rc, const char *what);

/* Records corrupt stored data (what, at index or id) in s->errmsg. Returns
 * ERR_CORRUPT. */
int store_corrupt(struct store *s, const char *what, uint64_t idx);

#endif
