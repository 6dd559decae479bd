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

/* Before store_open, after a crash: whether path's WAL ends before the last
 * frame its wal-index (-shm, left behind by a killed process) says was
 * committed, or that frame belongs to another WAL generation: the disk
 * lost writes (SQLite's recovery would silently drop them). After a kill
 * these were synced and acknowledged; after a power loss the index may
 * also name frames whose sync had not finished. msg says how. False when
 * there is no index to compare (a clean close). */
bool store_wal_lost_frames(const char *path, char msg[ERRMSG_LEN]);

/* Everything a node needs at start. Arrays are heap-owned by the struct;
 * free with store_loaded_free(). Entry data points into one owned block. */
struct store_loaded {
    raft_term term;
    raft_id voted_for;
    raft_index first_index;     /* Index of entries[0]. */
    raft_index snapshot_index;  /* The snapshot point: applied state */
    raft_term snapshot_term;    /* starts there (the snapshot table). */
    raft_index compacted_index; /* The log starts after it: the last row */
    raft_term compacted_term;   /* deleted, or to delete (the core's). */
    size_t n_entries;
    struct raft_entry *entries;
    raft_index applied;
    uint8_t *data_block;        /* Owns every entries[i].data. */
    size_t n_runs;              /* Terms of compacted_index+1..first_index-1 */
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
 * batch (copied) waits in a queue for store_write_queue(), and is durable
 * once the caller's fdatasync of store_sync_fd(), begun after that write,
 * completes. Errors: ERR_NO_SPACE (disk full), ERR_IO, ERR_NOMEM (fatal
 * for the node). */
int store_persist(struct store *s, const struct store_batch *b);

/* Writes every queued batch in one transaction (no fsync); a no-op when
 * none waits. store_fetch, the kv transaction and store_close call it
 * first. Errors: ERR_IO (fatal for the node). */
int store_write_queue(struct store *s);

/* Entries queued for store_write_queue (0 without deferred sync). */
size_t store_queued(const struct store *s);

/* True once writing the queue failed, whoever asked (a fetch too): the
 * queued batches are lost and every later write fails; stop the node. */
bool store_write_failed(const struct store *s);

/* Runs the WAL checkpoint that a commit marked due (STORE_CHECKPOINT_PAGES
 * frames), if any and no transaction is open: passive ones, in a child
 * process with its own connection, which copy the WAL's pages into the
 * database file and fsync it while the caller goes on. Returns at once;
 * call it once a wakeup's answers are out, and when store_checkpoint_fd
 * is readable: it collects the child's result and then copies the last
 * few frames itself (CKPT_HERE_MAX, a few ms), or all of them when the
 * WAL reached twice the mark. A failure is not an error: the checkpoint
 * stays due and runs at a later call. */
void store_checkpoint(struct store *s);

/* The running checkpointer child's result pipe, to poll for POLLIN; -1
 * when none runs. */
int store_checkpoint_fd(const struct store *s);

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

/* Inside begin/commit: a put of the value that the log row at index holds
 * (index above the committed applied index and at most the last index):
 * when the key has a row already and the value is large (store_int.h,
 * STORE_KV_REF_MIN), the row refers to that log row (ref) instead of
 * holding a second copy of the value; the kv view reads it from there, and
 * compaction
 * copies it into the row before deleting the log row (storage/schema.h).
 * value is still needed: the row's crc covers the key and the value. */
int store_kv_put_at(struct store *s, const uint8_t *key, uint32_t key_len,
                    const uint8_t *value, uint32_t value_len, raft_index index);

/* A client's last applied seq and its status, or ERR_NOT_FOUND when the
 * client has no session yet; ERR_DAMAGED when its row fails its crc. */
int store_session_get(struct store *s, uint64_t client_id, uint64_t *seq,
                      uint8_t *status);

/* Inside begin/commit: records a client's last applied seq and status. */
int store_session_put(struct store *s, uint64_t client_id, uint64_t seq,
                      uint8_t status);

/* Test and fault hooks: sleep this long inside each persist (disk stall). */
void store_set_persist_delay_ms(struct store *s, uint32_t ms);

/* True once a write failed because the disk is full (ERR_NO_SPACE): the
 * store is then as after any failed write (store_write_failed); the
 * runtime waits for space and restarts the member (node/main.c). */
bool store_no_space(const struct store *s);

/* What the first row that failed its checksum was ("damaged: kv row of key
 * 'k5' fails its checksum"), or NULL while none has. Sticky: the layers
 * above may turn ERR_DAMAGED into their own fatal code (ERR_STOPPED); the
 * node asks here to tell damage from other failures. */
const char *store_damage(const struct store *s);

/* Last error text from SQLite, for logs. */
const char *store_errmsg(const struct store *s);

/* ---- Snapshots and compaction (storage/store_compact.c) -------------
 * DESIGN.md "Snapshots and compaction". The snapshot is the applied state
 * SQLite already holds; these record its point and trim the log. None may
 * be called inside the kv apply transaction. */

/* Records the snapshot point (index, term, config: borrowed NUL-terminated
 * text, the configuration at index) in one short transaction, then arms
 * deletion of log rows <= index - keep for store_compact_step. index must
 * be at or below the committed applied index (its effects are durably in
 * kv) and name the log's own term there; the current point again re-arms
 * deletion (after a restart). Errors: ERR_INVALID (above applied, behind
 * the current point, a term the log does not have there, config too long;
 * errmsg says which; nothing changed), ERR_IO. */
int store_compact(struct store *s, raft_index index, raft_term term,
                  const char *config, raft_index keep);

/* Rows per store_compact_step for a caller between wakeups: a step hides
 * rows by moving the point and drops whole segment tables, so it costs
 * about the same for any number of rows (a dropped table's pages are
 * freed, not written); what bounds a step is STORE_COMPACT_FILL_ROWS. */
#define STORE_COMPACT_STEP_ROWS 1000000

/* kv_data rows a store_compact_step copies a value into at most (those
 * whose value is only in a log row it deletes): a step then writes at
 * most this many values (1 MiB at 32 KiB each) and deletes only the log
 * rows up to the last one it copied; the rest waits for the next step. */
#define STORE_COMPACT_FILL_ROWS 32

/* Deletes at most rows_max of the armed log rows, oldest first, in one
 * transaction (synchronous=NORMAL); *n_deleted gets how many. The log view
 * shows them no more at once; their segment table goes when every row in
 * it has (storage/store_logseg.c). Call it while store_compact_pending(),
 * between wakeups. Errors: ERR_IO. */
int store_compact_step(struct store *s, size_t rows_max, size_t *n_deleted);

/* Rows a log segment table holds before the next one starts (at least
 * 1), from the next append on; STORE_LOG_SEGMENT_ROWS until set. A caller
 * that compacts every N entries keeping K sets about (N + K) / 8: each
 * compaction then drops a few segments whole, and the rows below its
 * point wait in at most one. A table also ends once the entries appended
 * to it take STORE_LOG_SEGMENT_BYTES: dropping one reads every page of it
 * (large values span several), so that bounds a compaction step. */
#define STORE_LOG_SEGMENT_ROWS 8192
#define STORE_LOG_SEGMENT_BYTES (64u << 20)
void store_set_log_segment_rows(struct store *s, raft_index rows);
/* The bytes bound above (at least 1); STORE_LOG_SEGMENT_BYTES until set. */
void store_set_log_segment_bytes(struct store *s, uint64_t bytes);

/* True while store_compact_step has rows left to delete. */
bool store_compact_pending(const struct store *s);

/* The committed snapshot point ((0, 0) when none). */
void store_snapshot_point(const struct store *s, raft_index *index,
                          raft_term *term);

/* ---- Receiving a snapshot (storage/store_snapshot.c) ---------------- */

/* Largest image accepted (bytes). */
#define STORE_SNAPSHOT_MAX (UINT64_C(1) << 36)

/* Writes data (len bytes at image offset, borrowed) into the staging file
 * "<db>.snap.partial" (0600) for the image of (index, term): staging of
 * another (index, term) is dropped and restarted; bytes that extend the
 * contiguous prefix are written, a repeat or a chunk past a gap changes
 * nothing. *received gets the prefix length (what to acknowledge). Not
 * synced: install checks the image whole. Errors: ERR_TOO_BIG (past
 * STORE_SNAPSHOT_MAX), ERR_IO (write failed, e.g. disk full; the prefix
 * is as before). */
int store_snapshot_stage(struct store *s, raft_index index, raft_term term,
                         uint64_t offset, const uint8_t *data, size_t len,
                         uint64_t *received);

/* What is staged, also after a restart: (index, term) and the prefix
 * length, or (0, 0, 0). Errors: ERR_IO. */
int store_snapshot_staged(struct store *s, raft_index *index, raft_term *term,
                          uint64_t *received);

/* Drops the staged image and its file. */
void store_snapshot_discard(struct store *s);

/* Installs the staged image of (index, term): checks it whole (checksum,
 * every length, its own index and term) before touching a table, then in
 * one durable transaction replaces kv and sessions,
 * writes the snapshot row (config from the image) and applied_index =
 * index, and drops the log it covers: rows <= index when the row at index
 * has term (the suffix after it is kept), else the whole log. The staging
 * file is removed after the commit. Errors: ERR_NOT_FOUND (nothing staged
 * for (index, term)), ERR_INVALID (index behind applied or the current
 * snapshot), ERR_CORRUPT (damaged or inconsistent image: nothing changed,
 * staging discarded), ERR_IO (nothing changed). */
int store_snapshot_install(struct store *s, raft_index index, raft_term term);

/* Test hook: the next install _exit()s the process after writing this
 * many records, inside its transaction, as a crash would (0: off). */
void store_set_install_crash(struct store *s, uint64_t records);

/* ---- Bounded sessions (storage/store_session.c) --------------------- */

enum store_session_state {
    STORE_SESSION_NONE = 0, /* Never registered, or evicted. */
    STORE_SESSION_LIVE      /* seq, status, last_index are set. */
};

struct store_session {
    int state; /* enum store_session_state */
    uint64_t seq;
    uint8_t status;
    raft_index last_index; /* The entry that last touched it. */
};

/* Finds client_id's session. Errors: ERR_DAMAGED (the row fails its crc),
 * ERR_CORRUPT, ERR_IO. */
int store_session_find(struct store *s, uint64_t client_id,
                       struct store_session *out);

/* Inside the apply transaction of the entry at index (> applied): records
 * (seq, status) for client_id, a live session, with last_index = index.
 * Never evicts. Errors: ERR_IO. */
int store_session_touch(struct store *s, uint64_t client_id, uint64_t seq,
                        uint8_t status, raft_index index);

/* Inside the apply transaction of the register entry at index: adds the
 * session whose id is index (seq 0), then, while there are more than max
 * sessions (max 0: unbounded), deletes the one with the smallest
 * (last_index, client_id). max is the entry's, so every replica evicts the
 * same sessions at the same entry. Errors: ERR_IO, ERR_CORRUPT. */
int store_session_register(struct store *s, raft_index index, uint64_t max);

/* Rows in sessions. Errors: ERR_IO. */
int store_session_count(struct store *s, uint64_t *n_sessions);

/* ---- Digest of kv (storage/store_digest.c) ------------------------- */

struct store_digest;

/* Rows per store_digest_step for a caller between wakeups (the rows are
 * small: well under a heartbeat). */
#define STORE_DIGEST_STEP_ROWS 1000

/* Starts the digest of kv as committed now (the caller stores what it
 * buffers first): a read-only connection in one read transaction, so the
 * digest is of one applied index while writes go on. Errors: ERR_NOMEM,
 * ERR_IO (store_errmsg). */
int store_digest_begin(struct store *s, struct store_digest **out);

/* Reads up to rows_max rows in key order, checking each row's crc; *done
 * once every row is in. Errors: ERR_DAMAGED (store_damage names the key),
 * ERR_IO. */
int store_digest_step(struct store_digest *d, size_t rows_max, bool *done);

/* Once done: the applied index the digest is of, the rows and the digest
 * (FNV-1a 64 over each row's crc in key order: equal tables give equal
 * digests on every member). */
void store_digest_result(const struct store_digest *d, raft_index *applied,
                         uint64_t *n_rows, uint64_t *digest);

/* Ends the read transaction and frees d (NULL: nothing). */
void store_digest_free(struct store_digest *d);

/* Membership (store_members.c). Creates the members table if missing.
 * Errors: ERR_IO. */
int store_members_open(struct store *s);
struct membership;
/* Replaces the members table's rows with c. Errors: ERR_AGAIN (a kv
 * transaction is open: try later), ERR_IO. */
int store_members_save(struct store *s, const struct membership *c);
/* The snapshot row's configuration text. Errors: ERR_NOT_FOUND (no
 * snapshot), ERR_TOO_BIG, ERR_IO. */
int store_snapshot_config(struct store *s, char *buf, size_t cap);
/* The configuration in force before index before: the last config entry
 * of the log below it, else the snapshot's (text into buf, NUL-terminated;
 * *index: where it is). Errors: ERR_NOT_FOUND (none), ERR_TOO_BIG, ERR_IO. */
int store_members_base(struct store *s, raft_index before, char *buf,
                       size_t cap, raft_index *index);

#endif
