/*
 * Durable state in one SQLite file per node: the raft_state, log, kv,
 * sessions and meta tables (DESIGN.md names them; people read them with the
 * sqlite3 shell). One transaction persists hard state + truncation + a batch
 * of entries; another applies committed entries to kv with the applied index
 * and session updates. A database of another cluster or node, of an unknown
 * schema version, or corrupt is refused and never modified.
 * Read storage/store.c next.
 */
#ifndef RAFT_STORAGE_STORE_H
#define RAFT_STORAGE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/msg.h"
#include "common/types.h"

struct store;

enum store_open_mode {
    STORE_OPEN_EXISTING = 0, /* A missing file is ERR_NOT_FOUND. */
    STORE_OPEN_CREATE = 1    /* Create the file and schema if missing. */
};

/* Opens (and with STORE_OPEN_CREATE creates) path for this cluster and node:
 * WAL mode, synchronous=FULL, schema checked or created, statements
 * prepared. Errors: ERR_NOT_FOUND (missing), ERR_WRONG_CLUSTER,
 * ERR_FOREIGN (other node id), ERR_WRONG_VERSION (schema), ERR_CORRUPT,
 * ERR_BUSY (locked by another process), ERR_IO; errmsg says which and why,
 * prefixed with path. */
int store_open(const char *path, uint64_t cluster_id, raft_id node_id, int mode,
               struct store **out, char errmsg[ERRMSG_LEN]);
void store_close(struct store *s);

/* Everything a node needs at start. Arrays are heap-owned by the struct;
 * free with store_loaded_free(). Entry data points into one owned block. */
struct store_loaded {
    raft_term term;
    raft_id voted_for;
    raft_index first_index; /* Index of entries[0]. */
    raft_index snapshot_index;
    raft_term snapshot_term;
    size_t n_entries;
    struct raft_entry *entries;
    raft_index applied;
    uint8_t *data_block;        /* Owns every entries[i].data. */
    size_t n_runs;              /* Terms of snapshot_index+1..first_index-1 */
    struct raft_term_run *runs; /* (store_load_window), heap-owned. */
};

/* Errors: ERR_CORRUPT (gap in log indexes, non-monotonic terms, a row that
 * does not decode), ERR_NOMEM, ERR_IO. */
int store_load(struct store *s, struct store_loaded *out);

/* Like store_load, but reads payloads only for the log's tail: entries after
 * applied - window (all of them when window is 0); the terms of the entries
 * before come as runs (out->runs), so a long log loads fast and small. */
int store_load_window(struct store *s, raft_index window,
                      struct store_loaded *out);

/* Reads entries lo..hi (lo <= hi) for a lagging follower: at least one, at
 * most cap, stopping before bytes_max bytes of payload; sets *n. Data points
 * into a store-owned buffer valid until the next call (matches
 * raft_fetch_cb). Errors: ERR_NOT_FOUND (not in the log), ERR_CORRUPT,
 * ERR_NOMEM, ERR_IO. */
int store_fetch(struct store *s, raft_index lo, raft_index hi, size_t bytes_max,
                struct raft_entry *out, size_t cap, size_t *n);
void store_loaded_free(struct store_loaded *loaded);

/* What one durable write holds (from a raft_ready). */
struct store_batch {
    bool has_hard_state;
    raft_term term;
    raft_id voted_for;
    raft_index truncate_from; /* 0: none. */
    raft_index entries_first_index;
    size_t n_entries;
    const struct raft_entry *entries;
};

/* One transaction: hard state, delete log rows >= truncate_from, insert the
 * entries (with readable op/key/value columns from command_decode). Durable
 * (fsync) on return, unless store_set_deferred_sync() was called: then the
 * batch (copied) waits in a queue for store_flush_writes(), and is durable
 * once the caller's fdatasync of store_sync_fd(), begun after that flush,
 * completes. Errors: ERR_IO, ERR_NOMEM (fatal for the node). */
int store_persist(struct store *s, const struct store_batch *b);

/* Writes every queued batch in one transaction (no fsync); a no-op when
 * none waits. store_fetch, the kv transaction and store_close call it
 * first. Errors: ERR_IO (fatal for the node). */
int store_flush_writes(struct store *s);

/* Entries queued for store_flush_writes (0 without deferred sync). */
size_t store_queued(const struct store *s);

/* True once writing the queue failed, whoever asked (a fetch too): the
 * queued batches are lost and every later write fails; stop the node. */
bool store_write_failed(const struct store *s);

/* Runs the WAL checkpoint that a commit marked due (STORE_CHECKPOINT_PAGES
 * frames), if any and no transaction is open: a passive one, which copies
 * the WAL's pages into the database file and fsyncs it. It stalls the
 * caller (tens of ms), so call it once the wakeup's answers are out, not
 * inside a transaction whose time matters. A failure is not an error: the
 * checkpoint stays due and runs at the next call. */
void store_checkpoint(struct store *s);

/* A descriptor of the WAL file whose fdatasync makes every committed
 * transaction durable, or -1 when there is none (deferred sync cannot be
 * used). Owned by the store; a forked child may keep its inherited copy. */
int store_sync_fd(const struct store *s);

/* From now on store_persist commits without fsync (synchronous=NORMAL):
 * the caller syncs store_sync_fd() itself, off its loop. Checkpoints still
 * sync the WAL before copying it and the database after, so a WAL that
 * SQLite rewrites from its start never held anything not durable in the
 * database file. Needs store_sync_fd() >= 0. */
void store_set_deferred_sync(struct store *s);

/* The kv operations the state machine applies through; the runtime binds
 * them to node/kv.h's kv_store_ops (node/node_kv.c). Each returns ERR_OK or
 * an error that is fatal for the node (ERR_IO, ERR_NOMEM, ERR_CORRUPT).
 * store_kv_begin opens the apply transaction (writing the queued log
 * first); store_kv_commit records applied_index in it and commits, so a
 * restart never applies an entry twice. */
int store_kv_begin(struct store *s);
int store_kv_commit(struct store *s, raft_index applied_index);

/* The value of key, or ERR_NOT_FOUND. *value is borrowed until the next
 * call on s. Also works outside begin/commit, reading the applied state. */
int store_kv_get(struct store *s, const uint8_t *key, uint32_t key_len,
                 const uint8_t **value, uint32_t *value_len);

/* Inside begin/commit: put (key and value copied) and delete one key. */
int store_kv_put(struct store *s, const uint8_t *key, uint32_t key_len,
                 const uint8_t *value, uint32_t value_len);
int store_kv_del(struct store *s, const uint8_t *key, uint32_t key_len);

/* A client's last applied seq and its status, or ERR_NOT_FOUND when the
 * client has no session yet. */
int store_session_get(struct store *s, uint64_t client_id, uint64_t *seq,
                      uint8_t *status);

/* Inside begin/commit: records a client's last applied seq and status. */
int store_session_put(struct store *s, uint64_t client_id, uint64_t seq,
                      uint8_t status);

/* Test and fault hooks: sleep this long inside each persist (disk stall). */
void store_set_persist_delay_ms(struct store *s, uint32_t ms);

/* Last error text from SQLite, for logs. */
const char *store_errmsg(const struct store *s);

#endif
