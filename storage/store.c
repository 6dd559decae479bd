/*
 * A node's durable state in one SQLite file (schema in storage/schema.h):
 * opening with identity and integrity checks and an exclusive advisory lock,
 * loading everything at start, one transaction per persisted batch, and the
 * kv operations the state machine applies through (the runtime binds them
 * to its kv_store_ops). Statements are prepared once at open. Every failing
 * SQLite call returns ERR_IO (ERR_CORRUPT for bad stored data) and keeps its
 * message for store_errmsg. Not pure: this is where the disk is.
 * Read storage/schema.c for the tables.
 */
#include "storage/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/invariant.h"
#include "storage/row_crc.h"
#include "storage/schema.h"
#include "storage/store_int.h"

#define STORE_BUSY_TIMEOUT_MS 1000

/* The INSERTs of log and kv rows are built at open (insert_sql): each row
 * numbers its parameters after the previous row's, as anonymous ones
 * would, and passes them again to raft_row_crc() for its crc column. */
#define LOG_INSERT_SQL                                                         \
    "INSERT INTO %s(idx, term, op, key, value, expected, client_id, seq,"      \
    " data, crc) VALUES "
#define KV_INSERT_SQL "INSERT OR REPLACE INTO kv_data(key, value, crc) VALUES "

/* Parameter numbers (1-based, within a row) of SCHEMA_LOG_CRC_COLUMNS and
 * SCHEMA_KV_CRC_COLUMNS in the INSERTs above. */
static const int log_crc_params[] = {1, 2, 3, 9, 4, 5, 6, 7, 8};
static const int kv_crc_params[] = {1, 2};

/* Longest generated INSERT: 16 log rows of ~100 characters. */
#define STORE_INSERT_SQL_MAX 4096

static const char *const store_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_HARD_STATE] = "INSERT OR REPLACE INTO raft_state(id, current_term,"
                      " voted_for, crc) VALUES (1, ?1, ?2,"
                      " raft_row_crc(?1, ?2))",
    [ST_LOG_INSERT] = LOG_INSERT_SQL "...",
    [ST_LOG_INSERT_MANY] = LOG_INSERT_SQL "... (16 rows)",
    [ST_APPLIED] = "UPDATE meta SET value = ?1 WHERE name = 'applied_index'",
    [ST_KV_GET] = "SELECT " SCHEMA_KV_CRC_COLUMNS ", crc FROM kv"
                  " WHERE key = ?1",
    [ST_KV_PUT] = KV_INSERT_SQL "...",
    [ST_KV_PUT_MANY] = KV_INSERT_SQL "... (16 rows)",
    /* A new key gets its value in the row; an existing one refers to the
     * log row ?3 (store_kv_put_at). */
    [ST_KV_PUT_REF] = "INSERT INTO kv_data(key, value, crc)"
                      " VALUES (?1, ?2, raft_row_crc(?1, ?2))"
                      " ON CONFLICT(key) DO UPDATE SET value = '',"
                      " crc = excluded.crc, ref = ?3",
    [ST_KV_DEL] = "DELETE FROM kv_data WHERE key = ?1",
    [ST_SESSION_GET] = "SELECT " SCHEMA_SESSION_CRC_COLUMNS ", crc"
                       " FROM sessions WHERE client_id = ?1",
    [ST_SESSION_PUT] = "INSERT OR REPLACE INTO sessions(client_id, seq,"
                       " status, crc) VALUES (?1, ?2, ?3,"
                       " raft_row_crc(?1, ?2, ?3, 0))",
    [ST_SYNC_FULL] = "PRAGMA synchronous = FULL",
    [ST_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_LOG_FETCH] = "SELECT " STORE_LOG_COLUMNS " FROM log WHERE idx >= ?1"
                     " AND idx <= ?2 ORDER BY idx",
};

/* Whether the file system holding the database has less than
 * STORE_FULL_BYTES free: an I/O error there is a full disk in disguise
 * (on tmpfs a WAL or shm page that cannot be backed fails with an errno
 * other than ENOSPC). */
#define STORE_FULL_BYTES (1024u * 1024u)
static bool store_fs_full(const struct store *s)
{
    struct statvfs vfs;
    return s->path != NULL && statvfs(s->path, &vfs) == 0 &&
           (uint64_t)vfs.f_bavail * vfs.f_frsize < STORE_FULL_BYTES;
}

/* Records a failed SQLite call (rc) in s->errmsg. Returns ERR_NO_SPACE
 * for a full disk (SQLITE_FULL, or an I/O error whose errno is ENOSPC or
 * EDQUOT, or any I/O error while the file system has under 1 MiB free),
 * else ERR_IO. Either way the node does not go on with this connection:
 * ERR_NO_SPACE restarts it in place (node/node_disk.c), which reloads
 * what is durable. */
int store_fail(struct store *s, int rc, const char *what)
{
    int sys = sqlite3_system_errno(s->db);
    snprintf(s->errmsg, ERRMSG_LEN, "%s: %s (%d, errno %d)", what,
             sqlite3_errmsg(s->db), rc, sys);
    if ((rc & 0xff) == SQLITE_FULL ||
        ((rc & 0xff) == SQLITE_IOERR &&
         (sys == ENOSPC || sys == EDQUOT || store_fs_full(s)))) {
        s->no_space = true;
        return ERR_NO_SPACE;
    }
    return ERR_IO;
}

bool store_no_space(const struct store *s)
{
    return s != NULL && s->no_space;
}

/* Records corrupt stored data in s->errmsg. Returns ERR_CORRUPT. */
int store_corrupt(struct store *s, const char *what, uint64_t idx)
{
    snprintf(s->errmsg, ERRMSG_LEN, "corrupt: %s (at %" PRIu64 ")", what, idx);
    return ERR_CORRUPT;
}

/* Keeps the first damage found; the errmsg names the latest. */
static int store_note_damage(struct store *s)
{
    if (s->damage[0] == '\0') {
        memcpy(s->damage, s->errmsg, ERRMSG_LEN);
    }
    return ERR_DAMAGED;
}

const char *store_damage(const struct store *s)
{
    return s->damage[0] != '\0' ? s->damage : NULL;
}

int store_damaged(struct store *s, const char *table, uint64_t idx)
{
    snprintf(s->errmsg, ERRMSG_LEN,
             "damaged: %s row %" PRIu64 " fails its checksum", table, idx);
    return store_note_damage(s);
}

int store_damaged_kv(struct store *s, const uint8_t *key, uint32_t key_len)
{
    char shown[65];
    uint32_t n = 0;
    uint32_t i = 0;
    for (; i < key_len && n + 4 < sizeof(shown); i++) {
        uint8_t c = key[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            shown[n++] = (char)c;
        } else {
            n += (uint32_t)snprintf(shown + n, sizeof(shown) - n, "\\x%02x", c);
        }
    }
    shown[n] = '\0';
    snprintf(s->errmsg, ERRMSG_LEN,
             "damaged: kv row of key '%s'%s fails its checksum", shown,
             i < key_len ? "..." : "");
    return store_note_damage(s);
}

static void stmt_done(sqlite3_stmt *st)
{
    /* reset repeats the step's error, already recorded by the caller. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

int store_reserve(uint8_t **buf, size_t *cap, size_t need, size_t first)
{
    if (need <= *cap) {
        return ERR_OK;
    }
    size_t next = *cap != 0 ? *cap : first;
    while (next < need) {
        next *= 2;
    }
    uint8_t *grown = realloc(*buf, next);
    if (grown == NULL) {
        return ERR_NOMEM;
    }
    *buf = grown;
    *cap = next;
    return ERR_OK;
}

/* Steps statement id, which returns no row (bind errors in bind_rc). */
int store_run(struct store *s, enum store_stmt id, int bind_rc)
{
    sqlite3_stmt *st = s->st[id];
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;
    int err = rc == SQLITE_DONE ? ERR_OK : store_fail(s, rc, store_sql[id]);
    stmt_done(st);
    return err;
}

/* Ends a failed transaction; the first error is what the caller reports.
 * The session cache may hold the rolled-back writes: empty it. */
void store_rollback(struct store *s)
{
    s->in_read = false;
    s->puts.n = 0;
    s->puts.used = 0;
    char saved[ERRMSG_LEN];
    memcpy(saved, s->errmsg, sizeof(saved));
    if (sqlite3_get_autocommit(s->db) == 0) {
        session_cache_clear(s->sessions);
        s->is_session_counted = false;
        (void)store_run(s, ST_ROLLBACK, SQLITE_OK);
    }
    store_logseg_rolled_back(s);
    memcpy(s->errmsg, saved, sizeof(saved));
}

/* Reads outside a write transaction (a leader's linearizable GETs, its
 * session lookups) share one read transaction instead of paying SQLite's
 * per-statement transaction (wal-index read locks: two fcntl calls, the
 * WAL header check) each time. It stays open until the next write, which
 * ends it first (store_read_end), so a read always sees every write this
 * connection made: nothing else writes the file. Errors: ERR_IO. */
static int read_begin(struct store *s)
{
    if (s->in_txn || s->in_read) {
        return ERR_OK;
    }
    int err = store_run(s, ST_BEGIN_READ, SQLITE_OK);
    s->in_read = err == ERR_OK;
    return err;
}

/* Commits (ends) the shared read transaction; see store_int.h. */
int store_read_end(struct store *s)
{
    if (!s->in_read) {
        return ERR_OK;
    }
    s->in_read = false;
    return store_run(s, ST_COMMIT, SQLITE_OK);
}

/* ---- Open ---------------------------------------------------------- */

/* Refuses a missing file in STORE_OPEN_EXISTING mode before anything is
 * created. Errors: ERR_NOT_FOUND, ERR_IO. */
static int open_exists(const char *path, int mode, char detail[ERRMSG_LEN])
{
    struct stat sb;
    if (stat(path, &sb) == 0) {
        return ERR_OK;
    }
    if (errno == ENOENT && mode == STORE_OPEN_EXISTING) {
        snprintf(detail, ERRMSG_LEN, "no such database");
        return ERR_NOT_FOUND;
    }
    if (errno == ENOENT) {
        return ERR_OK;
    }
    snprintf(detail, ERRMSG_LEN, "stat: %s", strerror(errno));
    return ERR_IO;
}

/* Writes our pid into the lock file, for the next one's error message. */
static int lock_write_pid(int fd)
{
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        return ERR_IO;
    }
    return ERR_OK;
}

/* Takes an exclusive flock() on "<path>.lock": another raftnode with the
 * same database fails here, while sqlite3 shell readers, which never touch
 * that file, are unaffected. The lock file is never removed (removing it
 * would let two processes lock two different inodes). Errors: ERR_BUSY,
 * ERR_IO, ERR_NOMEM. */
static int open_lock(struct store *s, const char *path, char detail[ERRMSG_LEN])
{
    size_t n = strlen(path) + sizeof(".lock");
    char *lock_path = malloc(n);
    if (lock_path == NULL) {
        return ERR_NOMEM;
    }
    snprintf(lock_path, n, "%s.lock", path);
    int fd;
    do {
        fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
    free(lock_path);
    if (fd < 0) {
        snprintf(detail, ERRMSG_LEN, "lock file: %s", strerror(errno));
        return ERR_IO;
    }
    int rc;
    do {
        rc = flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int err = ERR_IO;
        if (errno == EWOULDBLOCK) {
            char pid[32] = "";
            if (pread(fd, pid, sizeof(pid) - 1, 0) > 0) {
                pid[strcspn(pid, "\n")] = '\0';
            }
            snprintf(detail, ERRMSG_LEN,
                     "already in use by another process%s%.31s%s",
                     pid[0] != '\0' ? " (pid " : "", pid,
                     pid[0] != '\0' ? ")" : "");
            err = ERR_BUSY;
        } else {
            snprintf(detail, ERRMSG_LEN, "lock: %s", strerror(errno));
        }
        close(fd);
        return err;
    }
    s->lock_fd = fd;
    if (lock_write_pid(fd) != ERR_OK) {
        snprintf(detail, ERRMSG_LEN, "lock file: %s", strerror(errno));
        return ERR_IO;
    }
    return ERR_OK;
}

/* Opens the connection; reads nothing yet. Errors: ERR_IO, ERR_NOMEM. */
static int open_db(struct store *s, const char *path, int mode,
                   char detail[ERRMSG_LEN])
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (mode == STORE_OPEN_CREATE) {
        flags |= SQLITE_OPEN_CREATE;
    }
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (s->db == NULL) {
        return ERR_NOMEM;
    }
    if (rc != SQLITE_OK) {
        snprintf(detail, ERRMSG_LEN, "open: %s", sqlite3_errmsg(s->db));
        return ERR_IO;
    }
    if (sqlite3_db_readonly(s->db, "main") != 0) {
        snprintf(detail, ERRMSG_LEN, "open: file is read-only");
        return ERR_IO;
    }
    /* Until the file is known to be ours, closing must not checkpoint a
     * WAL left by someone else into it. */
    int unused = 0;
    rc = sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &unused);
    if (rc == SQLITE_OK) {
        rc = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    }
    if (rc == SQLITE_OK) {
        rc = row_crc_register(s->db);
    }
    if (rc != SQLITE_OK) {
        snprintf(detail, ERRMSG_LEN, "open: %s", sqlite3_errmsg(s->db));
        return ERR_IO;
    }
    return ERR_OK;
}

/* WAL (readers in the sqlite3 shell never block the node) and fsync on
 * every commit. Writes the header of a database in another journal mode,
 * so only for a new or verified file. Errors: ERR_IO. */
static int open_configure(struct store *s, char detail[ERRMSG_LEN])
{
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    const unsigned char *mode =
        rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    bool is_wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    sqlite3_finalize(st);
    if (!is_wal) {
        snprintf(detail, ERRMSG_LEN, "cannot use WAL journal mode: %s",
                 sqlite3_errmsg(s->db));
        return ERR_IO;
    }
    rc = sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    s->sync = ST_SYNC_FULL;
    if (rc == SQLITE_OK) {
        /* The schema's CHECKs are for people editing the file in the
         * sqlite3 shell; every row this node writes is built valid (and
         * asserted). Evaluating `op IN (...)` cost an ephemeral b-tree,
         * opened and closed per log row: ~8% of a busy leader's CPU. */
        rc = sqlite3_exec(s->db, "PRAGMA ignore_check_constraints = ON", NULL,
                          NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        /* Debian's SQLite is built with SQLITE_SECURE_DELETE: every page
         * a delete frees is zeroed and written through the WAL, so an
         * install's DELETE FROM kv wrote the whole old table again as
         * zeros (a 40 MB table: 40 MB of WAL; with FAST, 49 KB). FAST
         * zeroes deleted content only in pages written anyway. */
        rc = sqlite3_exec(s->db, "PRAGMA secure_delete = FAST", NULL, NULL,
                          NULL);
    }
    if (rc == SQLITE_OK) {
        int unused = 0;
        rc = sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0,
                               &unused);
    }
    if (rc != SQLITE_OK) {
        snprintf(detail, ERRMSG_LEN, "configure: %s", sqlite3_errmsg(s->db));
        return ERR_IO;
    }
    return ERR_OK;
}

/* Reads (never writes) until the file is known to be this node's, then
 * configures it; creates the schema in a new file. Errors: those of
 * schema_verify, ERR_CORRUPT, ERR_IO. */
static int open_check(struct store *s, uint64_t cluster_id, raft_id node_id,
                      int mode, char detail[ERRMSG_LEN])
{
    bool empty = false;
    int err = schema_is_empty(s->db, &empty, detail);
    if (err == ERR_CORRUPT) {
        char inner[ERRMSG_LEN];
        memcpy(inner, detail, sizeof(inner));
        snprintf(detail, ERRMSG_LEN,
                 "not a SQLite database or corrupt (%.200s)", inner);
    }
    if (err != ERR_OK) {
        return err;
    }
    if (empty && mode == STORE_OPEN_EXISTING) {
        snprintf(detail, ERRMSG_LEN, "empty database, no raft schema");
        return ERR_CORRUPT;
    }
    if (empty) {
        err = open_configure(s, detail);
        return err != ERR_OK
                   ? err
                   : schema_create(s->db, cluster_id, node_id, detail);
    }
    err = schema_quick_check(s->db, detail);
    if (err == ERR_OK) {
        err = schema_verify(s->db, cluster_id, node_id, detail);
    }
    if (err == ERR_OK) {
        err = open_configure(s, detail);
    }
    return err != ERR_OK ? err : schema_upgrade(s->db, detail);
}

/* Writes into buf (STORE_INSERT_SQL_MAX) the INSERT of `rows` rows of
 * n_params parameters each, then raft_row_crc() of crc_params. */
static void insert_sql(char *buf, const char *head, int rows, int n_params,
                       const int *crc_params, int n_crc)
{
    size_t cap = STORE_INSERT_SQL_MAX;
    size_t w = (size_t)snprintf(buf, cap, "%s", head);
    for (int r = 0; r < rows; r++) {
        int base = r * n_params;
        w += (size_t)snprintf(buf + w, cap - w, "%s(", r > 0 ? ", " : "");
        for (int i = 1; i <= n_params; i++) {
            w += (size_t)snprintf(buf + w, cap - w, "?%d, ", base + i);
        }
        w += (size_t)snprintf(buf + w, cap - w, "raft_row_crc(");
        for (int i = 0; i < n_crc; i++) {
            w += (size_t)snprintf(buf + w, cap - w, "%s?%d", i > 0 ? ", " : "",
                                  base + crc_params[i]);
        }
        w += (size_t)snprintf(buf + w, cap - w, "))");
        ASSERT(w < cap);
    }
}

/* The SQL statement id is prepared from: store_sql's, or a built INSERT. */
static const char *stmt_sql(const struct store *s, int id,
                            char buf[STORE_INSERT_SQL_MAX])
{
    int n_kv = sizeof(kv_crc_params) / sizeof(kv_crc_params[0]);
    int n_log = sizeof(log_crc_params) / sizeof(log_crc_params[0]);
    switch (id) {
    case ST_LOG_INSERT:
    case ST_LOG_INSERT_MANY: {
        char name[STORE_LOG_SEG_NAME], head[160];
        snprintf(head, sizeof(head), LOG_INSERT_SQL,
                 store_logseg_tail(s, name));
        insert_sql(buf, head, id == ST_LOG_INSERT ? 1 : STORE_LOG_ROWS_MANY,
                   STORE_LOG_PARAMS, log_crc_params, n_log);
        return buf;
    }
    case ST_KV_PUT:
    case ST_KV_PUT_MANY:
        insert_sql(buf, KV_INSERT_SQL, id == ST_KV_PUT ? 1 : STORE_KV_PUTS_MANY,
                   2, kv_crc_params, n_kv);
        return buf;
    default:
        return store_sql[id];
    }
}

int store_log_inserts_prepare(struct store *s)
{
    char buf[STORE_INSERT_SQL_MAX];
    const int ids[] = {ST_LOG_INSERT, ST_LOG_INSERT_MANY};
    for (int i = 0; i < 2; i++) {
        sqlite3_finalize(s->st[ids[i]]);
        s->st[ids[i]] = NULL;
        int rc =
            sqlite3_prepare_v3(s->db, stmt_sql(s, ids[i], buf), -1,
                               SQLITE_PREPARE_PERSISTENT, &s->st[ids[i]], NULL);
        if (rc != SQLITE_OK) {
            return store_fail(s, rc, "preparing the log INSERT");
        }
    }
    return ERR_OK;
}

/* Prepares every statement once (the log INSERTs for the tail segment:
 * store_logseg_load) and caches term, last index and applied index.
 * Errors: ERR_IO, ERR_CORRUPT. */
static int open_prepare(struct store *s, char detail[ERRMSG_LEN])
{
    char buf[STORE_INSERT_SQL_MAX];
    for (int i = 0; i < ST__COUNT; i++) {
        if (i == ST_LOG_INSERT || i == ST_LOG_INSERT_MANY) {
            continue;
        }
        int rc = sqlite3_prepare_v3(s->db, stmt_sql(s, i, buf), -1,
                                    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            snprintf(detail, ERRMSG_LEN, "prepare: %s", sqlite3_errmsg(s->db));
            return ERR_IO;
        }
    }
    int err = store_logseg_load(s);
    if (err != ERR_OK) {
        snprintf(detail, ERRMSG_LEN, "%.200s", s->errmsg);
        return err;
    }
    sqlite3_stmt *st = NULL;
    /* After a snapshot install the log may be empty: the last index is
     * then the snapshot's, which applies may reach. */
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT max(coalesce((SELECT idx FROM log"
                                " ORDER BY idx DESC LIMIT 1), 0),"
                                " coalesce((SELECT idx FROM snapshot), 0)),"
                                " (SELECT current_term FROM raft_state)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        snprintf(detail, ERRMSG_LEN, "reading log: %s", sqlite3_errmsg(s->db));
        err = ERR_IO;
    } else if (sqlite3_column_int64(st, 0) < 0 ||
               sqlite3_column_int64(st, 1) < 0) {
        snprintf(detail, ERRMSG_LEN, "negative log index or term");
        err = ERR_CORRUPT;
    } else {
        s->last_index = (raft_index)sqlite3_column_int64(st, 0);
        s->term = (raft_term)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (err == ERR_OK) {
        err = schema_meta_uint(s->db, "applied_index", &s->applied, detail);
    }
    if (err == ERR_OK) {
        err = store_snapshot_row(s, &s->snapshot_index, &s->snapshot_term);
        if (err != ERR_OK) {
            snprintf(detail, ERRMSG_LEN, "%.200s", s->errmsg);
        }
    }
    return err;
}

int store_open(const char *path, uint64_t cluster_id, raft_id node_id, int mode,
               struct store **out, char errmsg[ERRMSG_LEN])
{
    ASSERT(path != NULL);
    ASSERT(out != NULL);
    ASSERT(errmsg != NULL);
    ASSERT(mode == STORE_OPEN_EXISTING || mode == STORE_OPEN_CREATE);
    ASSERT(node_id != RAFT_ID_NONE);
    ASSERT(node_id <= RAFT_ID_MAX);
    char detail[ERRMSG_LEN] = "";
    struct store *s = NULL;
    int err = open_exists(path, mode, detail);
    if (err != ERR_OK) {
        goto fail;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->get_buf = malloc(RAFT_VALUE_MAX)) == NULL ||
        (s->sessions = calloc(1, sizeof(*s->sessions))) == NULL) {
        err = ERR_NOMEM;
        goto fail;
    }
    s->lock_fd = -1;
    s->seg_rows = STORE_LOG_SEGMENT_ROWS;
    s->seg_bytes = STORE_LOG_SEGMENT_BYTES;
    s->wal_fd = -1;
    s->ckpt_fd = -1;
    s->sync_fd = -1;
    s->stage.fd = -1;
    if ((s->path = strdup(path)) == NULL) {
        err = ERR_NOMEM;
        goto fail;
    }
    err = open_lock(s, path, detail);
    if (err == ERR_OK) {
        err = open_db(s, path, mode, detail);
    }
    if (err == ERR_OK) {
        err = open_check(s, cluster_id, node_id, mode, detail);
    }
    if (err == ERR_OK) {
        err = open_prepare(s, detail);
    }
    if (err == ERR_OK) {
        err = store_wal_open(s, path);
        if (err == ERR_IO || err == ERR_NO_SPACE) {
            snprintf(detail, ERRMSG_LEN, "%.200s", s->errmsg);
        }
    }
    if (err != ERR_OK) {
        goto fail;
    }
    *out = s;
    return ERR_OK;
fail:
    snprintf(errmsg, ERRMSG_LEN, "%s: %.200s", path,
             detail[0] != '\0' ? detail : err_str(err));
    store_close(s);
    return err;
}

/* Finalizes every statement and closes the connection (an open transaction
 * is rolled back, as in a crash), then releases the lock. */
void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->db != NULL && s->st[ST_COMMIT] != NULL && !s->in_txn) {
        /* Queued writes were never acknowledged (no sync covered them),
         * but a clean stop keeps what it can. */
        (void)store_write_queue(s);
        (void)store_read_end(s); /* Closing rolls it back anyway. */
    }
    store_ckpt_close(s);
    store_queue_free(s);
    store_session_close(s);
    for (int i = 0; i < ST__COUNT; i++) {
        sqlite3_finalize(s->st[i]);
    }
    if (s->db != NULL) {
        int rc = sqlite3_close(s->db);
        ASSERT(rc == SQLITE_OK); /* Every statement was finalized. */
    }
    store_wal_close(s);
    store_wal_close_sync(s);
    store_stage_close(s);
    free(s->path);
    if (s->lock_fd >= 0) {
        close(s->lock_fd);
    }
    free(s->sessions);
    free(s->get_buf);
    free(s->fetch_buf);
    free(s->puts.buf);
    free(s);
}

const char *store_errmsg(const struct store *s)
{
    ASSERT(s != NULL);
    return s->errmsg;
}

void store_set_persist_delay_ms(struct store *s, uint32_t ms)
{
    ASSERT(s != NULL);
    s->persist_delay_ms = ms;
}

/* ---- kv apply (node/node_kv.c binds these to kv_store_ops) --------- */

/* Opens the apply transaction with synchronous=NORMAL: its COMMIT is
 * atomic but not fsynced. Why that is safe: everything it applies is
 * already in the log ahead of it in the WAL (store_kv_commit asserts
 * applied <= last_index; the queued log is written first,
 * store_write_queue; and an entry is applied only once committed, that is
 * durable on a majority),
 * and kv rows, sessions and
 * applied_index change in this one transaction. A power loss can only drop
 * a suffix of the WAL, so it loses whole apply transactions, never part of
 * one, and never a log transaction that was acknowledged. On restart
 * store_load returns the older applied_index with the kv and sessions of
 * that same moment; the node re-applies the following entries from its
 * log once it learns the commit index again (the leader's AppendEntries,
 * or its own no-op commit as leader), and sessions make each (client_id,
 * seq) apply once. Reads wait until applied reaches their read index, so
 * no read sees the older state. A client's acknowledgment rests on the
 * entry being durable on a majority, not on this transaction. */
int store_kv_begin(struct store *s)
{
    ASSERT(s != NULL);
    ASSERT(!s->in_txn);
    ASSERT(s->puts.n == 0);
    int err = store_write_queue(s); /* The log before what it applies. */
    if (err == ERR_OK) {
        err = store_read_end(s);
    }
    if (err == ERR_OK) {
        err = store_set_sync(s, ST_SYNC_NORMAL);
    }
    if (err == ERR_OK) {
        err = store_run(s, ST_BEGIN, SQLITE_OK);
    }
    s->in_txn = err == ERR_OK;
    return err;
}

/* Writes the waiting kv puts, in the order they came: all in one
 * ST_KV_PUT_MANY when there are that many and none may refer to the log,
 * else one statement each. Errors: ERR_IO. */
static int puts_write(struct store *s)
{
    struct store_puts *p = &s->puts;
    bool many = p->n == STORE_KV_PUTS_MANY;
    for (uint32_t i = 0; many && i < p->n; i++) {
        many = p->at[i].ref == 0;
    }
    int err = ERR_OK;
    for (uint32_t i = 0; err == ERR_OK && i < p->n; i++) {
        enum store_stmt id = many                ? ST_KV_PUT_MANY
                             : p->at[i].ref != 0 ? ST_KV_PUT_REF
                                                 : ST_KV_PUT;
        int base = many ? (int)(2 * i) : 0;
        int rc = schema_bind_bytes(s->st[id], base + 1,
                                   p->buf + p->at[i].key_off, p->at[i].key_len);
        if (rc == SQLITE_OK) {
            rc = schema_bind_bytes(s->st[id], base + 2,
                                   p->buf + p->at[i].value_off,
                                   p->at[i].value_len);
        }
        if (rc == SQLITE_OK && id == ST_KV_PUT_REF) {
            rc = sqlite3_bind_int64(s->st[id], 3, (int64_t)p->at[i].ref);
        }
        if (!many || rc != SQLITE_OK || i + 1 == p->n) {
            err = store_run(s, id, rc);
        }
    }
    p->n = 0;
    p->used = 0;
    return err;
}

/* Records applied_index and commits, so an entry is applied exactly once
 * across restarts (DESIGN.md "Durable state"). */
int store_kv_commit(struct store *s, raft_index applied_index)
{
    ASSERT(s != NULL);
    ASSERT(s->in_txn);
    ASSERT(applied_index >= s->applied);
    ASSERT(applied_index <= s->last_index); /* Applied only once durable. */
    int err = puts_write(s);
    if (err == ERR_OK) {
        int rc =
            sqlite3_bind_int64(s->st[ST_APPLIED], 1, (int64_t)applied_index);
        err = store_run(s, ST_APPLIED, rc);
    }
    if (err == ERR_OK && sqlite3_changes(s->db) != 1) {
        err = store_corrupt(s, "meta has no applied_index", applied_index);
    }
    if (err == ERR_OK) {
        err = store_run(s, ST_COMMIT, SQLITE_OK);
    }
    if (err != ERR_OK) {
        store_rollback(s);
    } else {
        s->applied = applied_index;
    }
    s->in_txn = false;
    if (err == ERR_OK) {
        store_wal_extend(s);
    }
    return err;
}

int store_kv_get(struct store *s, const uint8_t *key, uint32_t key_len,
                 const uint8_t **value, uint32_t *value_len)
{
    ASSERT(s != NULL);
    ASSERT(key_len <= RAFT_KEY_MAX);
    /* A put still waiting may be of this key. */
    if ((s->puts.n > 0 && puts_write(s) != ERR_OK) || read_begin(s) != ERR_OK) {
        return ERR_IO;
    }
    sqlite3_stmt *st = s->st[ST_KV_GET];
    int rc = schema_bind_bytes(st, 1, key, key_len);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = ERR_OK;
    if (rc == SQLITE_DONE) {
        err = ERR_NOT_FOUND;
    } else if (rc != SQLITE_ROW) {
        err = store_fail(s, rc, "kv get");
    } else {
        const uint8_t *bytes = NULL;
        uint32_t len = 0;
        if (!row_crc_check(st, 0, 2, 2)) {
            err = store_damaged_kv(s, key, key_len);
        } else if (schema_column_bytes(st, 1, &bytes, &len) != ERR_OK ||
                   len > RAFT_VALUE_MAX) {
            err = store_corrupt(s, "kv value type or size", len);
        } else {
            if (len > 0) {
                memcpy(s->get_buf, bytes, len);
            }
            *value = s->get_buf;
            *value_len = len;
        }
    }
    stmt_done(st);
    return err;
}

/* Queues a put (copied) for puts_write: one INSERT for 16 rows costs about
 * a fifth less than 16 INSERTs, and the write-back store puts thousands.
 * ref: the log row holding the value, or 0. Errors: ERR_NOMEM, and
 * puts_write's. */
static int kv_put_queue(struct store *s, const uint8_t *key, uint32_t key_len,
                        const uint8_t *value, uint32_t value_len,
                        raft_index ref)
{
    ASSERT(s != NULL);
    ASSERT(s->in_txn);
    ASSERT(key_len >= 1);
    ASSERT(key_len <= RAFT_KEY_MAX);
    ASSERT(value_len <= RAFT_VALUE_MAX);
    struct store_puts *p = &s->puts;
    ASSERT(p->n < STORE_KV_PUTS_MANY);
    if (store_reserve(&p->buf, &p->cap, p->used + key_len + value_len, 4096) !=
        ERR_OK) {
        return ERR_NOMEM;
    }
    p->at[p->n].key_off = p->used;
    p->at[p->n].key_len = key_len;
    memcpy(p->buf + p->used, key, key_len);
    p->used += key_len;
    p->at[p->n].value_off = p->used;
    p->at[p->n].value_len = value_len;
    if (value_len > 0) {
        memcpy(p->buf + p->used, value, value_len);
    }
    p->used += value_len;
    p->at[p->n].ref = ref;
    p->n++;
    return p->n == STORE_KV_PUTS_MANY ? puts_write(s) : ERR_OK;
}

int store_kv_put(struct store *s, const uint8_t *key, uint32_t key_len,
                 const uint8_t *value, uint32_t value_len)
{
    return kv_put_queue(s, key, key_len, value, value_len, 0);
}

int store_kv_put_at(struct store *s, const uint8_t *key, uint32_t key_len,
                    const uint8_t *value, uint32_t value_len, raft_index index)
{
    ASSERT(s != NULL);
    /* Not yet applied in the store, so above any snapshot point and any
     * compaction; in the log (written before this transaction began). */
    ASSERT(index > s->applied);
    ASSERT(index <= s->last_index);
    return kv_put_queue(s, key, key_len, value, value_len,
                        value_len >= STORE_KV_REF_MIN ? index : 0);
}

int store_kv_del(struct store *s, const uint8_t *key, uint32_t key_len)
{
    ASSERT(s != NULL);
    ASSERT(s->in_txn);
    ASSERT(key_len <= RAFT_KEY_MAX);
    int err = puts_write(s);
    if (err != ERR_OK) {
        return err;
    }
    int rc = schema_bind_bytes(s->st[ST_KV_DEL], 1, key, key_len);
    return store_run(s, ST_KV_DEL, rc);
}

/* From the session cache when it knows client_id, else from the table
 * (and then remembered). */
int store_session_get(struct store *s, uint64_t client_id, uint64_t *seq,
                      uint8_t *status)
{
    ASSERT(s != NULL);
    bool is_present = false;
    if (session_cache_get(s->sessions, client_id, &is_present, seq, status)) {
        return is_present ? ERR_OK : ERR_NOT_FOUND;
    }
    if (read_begin(s) != ERR_OK) {
        return ERR_IO;
    }
    sqlite3_stmt *st = s->st[ST_SESSION_GET];
    int rc = sqlite3_bind_int64(st, 1, (int64_t)client_id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = ERR_OK;
    if (rc == SQLITE_DONE) {
        err = ERR_NOT_FOUND;
        session_cache_put(s->sessions, client_id, false, 0, 0);
    } else if (rc != SQLITE_ROW) {
        err = store_fail(s, rc, "session get");
    } else {
        int64_t stored_status = sqlite3_column_int64(st, 2);
        if (!row_crc_check(st, 0, 4, 4)) {
            err = store_damaged(s, "sessions", client_id);
        } else if (stored_status < 0 || stored_status > UINT8_MAX) {
            err = store_corrupt(s, "session status", client_id);
        } else {
            *seq = (uint64_t)sqlite3_column_int64(st, 1);
            *status = (uint8_t)stored_status;
            session_cache_put(s->sessions, client_id, true, *seq, *status);
        }
    }
    stmt_done(st);
    return err;
}

int store_session_put(struct store *s, uint64_t client_id, uint64_t seq,
                      uint8_t status)
{
    ASSERT(s != NULL);
    ASSERT(s->in_txn);
    sqlite3_stmt *st = s->st[ST_SESSION_PUT];
    int rc = sqlite3_bind_int64(st, 1, (int64_t)client_id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, (int64_t)seq);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int(st, 3, status);
    }
    int err = store_run(s, ST_SESSION_PUT, rc);
    s->is_session_counted = false; /* Maybe a new row. */
    if (err == ERR_OK) {
        /* Written through while the transaction is open: later lookups in
         * it must see this row, and a rollback empties the cache. */
        session_cache_put(s->sessions, client_id, true, seq, status);
    }
    return err;
}
