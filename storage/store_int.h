/*
 * What the files of the store share and nothing outside storage/store*.c
 * may include: struct store, its prepared statements, the write queue, the
 * WAL helpers (store_wal.c) and the error helpers. Read storage/store.c
 * next.
 */
#ifndef RAFT_STORAGE_STORE_INT_H
#define RAFT_STORAGE_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/types.h"
#include "storage/schema.h"
#include "storage/session_cache.h"

/* WAL frames at which a checkpoint is due (SQLite's default is 1000). A
 * checkpoint copies pages into the database file and fsyncs it: fewer,
 * larger ones write each hot kv page once per checkpoint rather than once
 * per 1000 frames. The commit that crosses the mark only marks it due;
 * store_checkpoint copies it from a child process (store_ckpt.c), so the
 * caller never waits for the disk, or the commit hook does at twice the
 * mark if nobody calls it. Commits go on while the child copies (at 100 B
 * values, about a third of the mark more), so the WAL is reused from its
 * start every ~7,000 frames of 4 KiB (~28 MiB), and a member's database
 * and WAL stay well within issue 16's 64 MB (at 6144, five minutes of
 * writes peaked at 63.0 MB). */
#define STORE_CHECKPOINT_PAGES 5120u

/* Parameters per row of ST_LOG_INSERT, and rows of ST_LOG_INSERT_MANY
 * (its SQL in store.c lists exactly this many). */
#define STORE_LOG_PARAMS 9
#define STORE_LOG_ROWS_MANY 16

/* Values of at least this many bytes are found once, in the log row
 * (store_kv_put_at): the kv_data row of a key written before refers to
 * it; a new key's row holds its value (a key written once would else cost
 * its kv page twice: the reference now, the copy at compaction). Smaller
 * values are copied into the row: their copy costs little, and a ref
 * costs an entry in the kv_data_by_ref index, moved at every put. */
#define STORE_KV_REF_MIN 1024u

/* Rows of ST_KV_PUT_MANY (its SQL in store.c lists exactly this many). */
#define STORE_KV_PUTS_MANY 16

/* kv puts of the open transaction not yet given to SQLite (store.c
 * store_kv_put): copies of their keys and values, written STORE_KV_PUTS_MANY
 * to a statement, or one at a time before any other kv read or write. */
struct store_puts {
    uint8_t *buf;
    size_t used;
    size_t cap;
    uint32_t n;
    struct {
        size_t key_off;
        size_t value_off;
        uint32_t key_len;
        uint32_t value_len;
        raft_index ref; /* The log row holding the value; 0: none. */
    } at[STORE_KV_PUTS_MANY];
};

/* Statements of store_session.c. */
#define STORE_SESSION_STMTS 5

/* The staging file of an incoming snapshot image (store_snapshot.c):
 * "<db>.snap.partial", a small header naming (index, term), then the
 * image's first `received` bytes. */
struct store_stage {
    int fd;           /* -1: not open. */
    bool is_known;    /* The file was looked at since open. */
    raft_index index; /* The image it holds (0: none). */
    raft_term term;
    uint64_t received; /* Contiguous image bytes from offset 0. */
};

/* The log columns that loading reads, in the order load_log_row expects. */
#define STORE_LOG_COLUMNS SCHEMA_LOG_CRC_COLUMNS ", crc"

enum store_stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_HARD_STATE,
    ST_LOG_INSERT,
    ST_LOG_INSERT_MANY,
    ST_APPLIED,
    ST_KV_GET,
    ST_KV_PUT,
    ST_KV_PUT_MANY,
    ST_KV_PUT_REF,
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
    int lock_fd; /* flock()ed "<path>.lock"; -1 when none. */
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
    uint8_t *fetch_buf;             /* store_fetch's payload copies. */
    size_t fetch_cap;
    struct store_puts puts; /* Waiting kv puts (store_kv_put). */
    /* The WAL (store_wal.c). */
    int wal_fd;                /* -1: not extending. */
    int sync_fd;               /* The WAL, for the caller's fdatasync;
                                * -1: none. */
    bool deferred_sync;        /* store_persist only queues. */
    bool write_failed;         /* A queued write failed: the batches are
                                * lost, so every later write or log read
                                * fails too (the node must stop). */
    bool no_space;             /* A write failed for want of space
                                * (store_no_space). */
    struct store_queue *queue; /* Persisted batches not yet written
                                * (store_persist.c); NULL until used. */
    uint32_t page_size;
    uint32_t wal_frames; /* Frames in the WAL after the last commit. */
    /* The checkpointer child (store_ckpt.c). */
    pid_t ckpt_pid;         /* 0: none running. */
    int ckpt_fd;            /* Its result pipe (non-blocking); -1: none. */
    uint32_t ckpt_retry_at; /* After one that could not copy everything:
                             * not due again before this many frames. */
    uint32_t n_digests;     /* kv digests open (store_digest.c): each holds
                             * a read lock from another connection of this
                             * process, which a forked child would wrongly
                             * think its own. */
    bool is_ckpt_held;      /* An install's COMMIT is running: its checkpoint,
                          * however big the WAL, waits for store_checkpoint
                          * (after the node's answers), not inside it. */
    char *path;             /* The database file (owned). */
    /* Snapshots (store_compact.c, store_snapshot.c). */
    raft_index snapshot_index; /* The snapshot row, as last committed. */
    raft_term snapshot_term;
    raft_index compact_upto; /* Log rows <= it are to be deleted. */
    /* The log's segment tables (store_logseg.c), oldest first. */
    raft_index seg_first[SCHEMA_LOG_SEGMENTS_MAX];
    size_t n_segs;
    raft_index seg_rows;     /* Rows a tail holds before the next starts, */
    uint64_t seg_bytes;      /* ... or entry bytes appended to it. */
    uint64_t seg_tail_bytes; /* Entry bytes appended to the tail since it
                              * started (or since open). */
    bool segs_changed;       /* DDL may have run since the list was loaded: a
                          * rollback reloads it. n_segs 0: a reload
                          * failed, and no change is allowed. */
    struct store_stage stage;
    /* Bounded sessions (store_session.c). */
    uint64_t n_sessions;     /* Rows in sessions, when counted. */
    bool is_session_counted; /* n_sessions is true. */
    sqlite3_stmt *session_st[STORE_SESSION_STMTS]; /* Prepared on use. */
    uint64_t install_crash_after; /* Test hook: 0, or die mid-install. */
    char errmsg[ERRMSG_LEN];
    char damage[ERRMSG_LEN]; /* The first row that failed its checksum
                              * (store_damage); "" while none has. */
};

/* store.c: steps statement id, which returns no row (bind errors in
 * bind_rc); ends a failed transaction keeping the first error's message.
 * Errors: ERR_IO. */
int store_run(struct store *s, enum store_stmt id, int bind_rc);
void store_rollback(struct store *s);
/* store.c: grows *buf (capacity *cap, doubling from first) to hold need
 * bytes; keeps its contents. Errors: ERR_NOMEM (*buf and *cap as were). */
int store_reserve(uint8_t **buf, size_t *cap, size_t need, size_t first);

/* store_persist.c: switches the connection's sync level (ST_SYNC_FULL or
 * ST_SYNC_NORMAL) for the next transaction. Errors: ERR_IO. */
int store_set_sync(struct store *s, int level);
/* store_persist.c: frees the write queue (store_close). */
void store_queue_free(struct store *s);

/* Ends the read transaction store.c keeps open across reads, if any; every
 * write, and store_load's own transaction, must call it first.
 * Errors: ERR_IO. */
int store_read_end(struct store *s);

/* Installs the commit hook that marks a checkpoint due every
 * STORE_CHECKPOINT_PAGES frames, and opens the WAL file for
 * store_wal_extend (db_path borrowed).
 * Errors: ERR_IO, ERR_NOMEM. */
int store_wal_open(struct store *s, const char *db_path);
/* Closes the descriptor extending uses; the sync descriptor stays. */
void store_wal_close(struct store *s);
/* A passive checkpoint from the store's own connection, now: copies what
 * the WAL holds into the database file (stalling the caller). Not due any
 * more once it copied everything; a reader in the way (or a failure)
 * leaves it due again CKPT_RETRY_FRAMES later. False unless it copied
 * everything. */
bool store_checkpoint_here(struct store *s);

/* store.c: (re)prepares ST_LOG_INSERT and ST_LOG_INSERT_MANY for the
 * tail segment. Errors: ERR_IO. */
int store_log_inserts_prepare(struct store *s);

/* store_compact.c: records in meta, in the open transaction, that the log
 * rows up to index (whose term is term) are deleted: the log view shows
 * none of them from then on, and a restart starts the log after index.
 * Errors: ERR_IO. */
int store_write_compacted(struct store *s, raft_index index, raft_term term);

/* store_logseg.c. A segment table's name fits in this many bytes. */
#define STORE_LOG_SEG_NAME 40
/* Lists the segment tables (at open and after a rollback that changed
 * them) and prepares the INSERTs for the tail. Errors: ERR_CORRUPT (no
 * segment, a malformed name, too many), ERR_IO. */
int store_logseg_load(struct store *s);
/* Segment i's name (0: the oldest; i < n_segs), in buf. Aggregates read
 * the segments one by one: over the log view SQLite would read every
 * column of every row, large values' overflow pages included. */
const char *store_logseg_name(const struct store *s, size_t i,
                              char buf[STORE_LOG_SEG_NAME]);
/* The tail segment's name, in buf. */
const char *store_logseg_tail(const struct store *s,
                              char buf[STORE_LOG_SEG_NAME]);
/* Before appending entries from `first` on: starts a new tail segment
 * there once the tail holds seg_rows rows (and fewer than the most
 * segments exist). Errors: ERR_IO. */
int store_logseg_roll(struct store *s, raft_index first);
/* Deletes the rows from `from` on: drops the segments that start there or
 * later (never the oldest) and deletes the rest from the one holding
 * `from`. Errors: ERR_IO. */
int store_logseg_truncate(struct store *s, raft_index from);
/* Whether the oldest segment (never the tail) holds no row above floor. */
bool store_logseg_droppable(const struct store *s, raft_index floor);
/* Drops the oldest segment if droppable at floor, which the caller has
 * made the compaction point: one table a call, as dropping reads every
 * page of it (writing none). Errors: ERR_IO. */
int store_logseg_drop_oldest(struct store *s, raft_index floor);
/* Drops every segment and starts one empty at `first` (a snapshot install
 * that keeps no log). Errors: ERR_IO. */
int store_logseg_reset(struct store *s, raft_index first);
/* After a rollback: the segment list as the file has it again. */
void store_logseg_rolled_back(struct store *s);

/* Waits for a running checkpointer child, at store_close. */
void store_ckpt_close(struct store *s);

/* Closes the sync descriptor (store_sync_fd), at store_close. */
void store_wal_close_sync(struct store *s);

/* After a commit: zero-fills the WAL file ahead of SQLite's next frames
 * (doubling, up to one checkpoint interval), so later commits overwrite
 * allocated blocks. Best effort: a failure only stops the extending. */
void store_wal_extend(struct store *s);

/* Records a failed SQLite call (rc) in s->errmsg. Returns ERR_IO. */
int store_fail(struct store *s, int rc, const char *what);

/* store_compact.c: reads the snapshot row (none: 0, 0) into *index and
 * *term. Errors: ERR_CORRUPT (negative, or term without index), ERR_IO. */
int store_snapshot_row(struct store *s, raft_index *index, raft_term *term);

/* store_compact.c: writes the snapshot row (config: NUL-terminated text)
 * and meta's snapshot_index and snapshot_term, in the open transaction.
 * Errors: ERR_IO. */
int store_write_point(struct store *s, raft_index index, raft_term term,
                      const char *config);

/* store_compact.c: runs sql (no rows, no parameters) on s->db.
 * Errors: ERR_IO. */
int store_exec(struct store *s, const char *sql);

/* store_snapshot.c: closes the staging file descriptor (store_close). */
void store_stage_close(struct store *s);

/* store_session.c: finalizes its statements (store_close, before the
 * connection closes). */
void store_session_close(struct store *s);

/* store_session.c: checks every session row's crc (at load; sessions are
 * bounded, so the table is small). Errors: ERR_DAMAGED, ERR_IO. */
int store_session_verify_all(struct store *s);

/* Records corrupt stored data (what, at index or id) in s->errmsg. Returns
 * ERR_CORRUPT. */
int store_corrupt(struct store *s, const char *what, uint64_t idx);

/* Records a row whose crc does not match (table, its index) in s->errmsg,
 * for the node's one ERROR line. Returns ERR_DAMAGED. */
int store_damaged(struct store *s, const char *table, uint64_t idx);
/* The same for the kv row of key (shown printable, cut). */
int store_damaged_kv(struct store *s, const uint8_t *key, uint32_t key_len);

#endif
