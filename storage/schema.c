/*
 * The schema of a node's database: DDL, creation, the read-only checks that
 * decide whether an existing file belongs to this cluster and node, and the
 * TEXT-or-BLOB binding rule (see storage/schema.h). Nothing here writes to a
 * database that has not been verified or is not new. Read
 * storage/store_persist.c next, for the log writes.
 */
#include "storage/schema.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"
#include "storage/row_crc.h"

/* What version 3 adds to a version 2 file, besides sessions.last_index:
 * the snapshot point and the index that finds the least recently used
 * session in O(log n). (An earlier version 3 also had a sessions_evicted
 * table; schema_upgrade drops it.) */
#define SCHEMA_V3_DDL                                                          \
    "CREATE INDEX sessions_by_last ON sessions(last_index, client_id);"        \
    "CREATE TABLE snapshot("                                                   \
    " id INTEGER PRIMARY KEY CHECK (id = 1),"                                  \
    " idx INTEGER NOT NULL,"                                                   \
    " term INTEGER NOT NULL,"                                                  \
    " config TEXT NOT NULL,"                                                   \
    " created_at TEXT NOT NULL);"

/* Version 6: the applied state is kv_data, whose row either holds the
 * value or refers (ref) to the log row holding it. The partial index finds
 * the rows a compaction step must fill in before the log rows they refer
 * to go. */
#define SCHEMA_V6_KV_DDL                                                       \
    "CREATE INDEX kv_data_by_ref ON kv_data(ref) WHERE ref IS NOT NULL;"

/* kv is a view that reads each value from wherever it is (version 6; a
 * subquery rather than a join from version 7, so a lookup through it finds
 * the log row by its index in each segment), so `SELECT * FROM kv` shows
 * what it always did; INSTEAD OF triggers let the sqlite3 shell change kv
 * as it could the table (the value then lives in the row). crc covers key
 * and value as before. */
#define SCHEMA_KV_VIEW_DDL                                                     \
    "CREATE VIEW kv(key, value, crc) AS SELECT d.key,"                         \
    " CASE WHEN d.ref IS NULL THEN d.value ELSE"                               \
    " (SELECT l.value FROM log l WHERE l.idx = d.ref) END, d.crc"              \
    " FROM kv_data d;"                                                         \
    "CREATE TRIGGER kv_insert INSTEAD OF INSERT ON kv BEGIN"                   \
    " INSERT OR REPLACE INTO kv_data(key, value, crc, ref)"                    \
    " VALUES (NEW.key, NEW.value, coalesce(NEW.crc, 0), NULL); END;"           \
    "CREATE TRIGGER kv_update INSTEAD OF UPDATE ON kv BEGIN"                   \
    " UPDATE kv_data SET key = NEW.key, value = NEW.value, crc = NEW.crc,"     \
    " ref = NULL WHERE key = OLD.key; END;"                                    \
    "CREATE TRIGGER kv_delete INSTEAD OF DELETE ON kv BEGIN"                   \
    " DELETE FROM kv_data WHERE key = OLD.key; END;"

/* A log segment table's columns (version 7; the log table's before). */
#define SCHEMA_LOG_TABLE_BODY                                                  \
    "(idx INTEGER PRIMARY KEY,"                                                \
    " term INTEGER NOT NULL,"                                                  \
    " op TEXT NOT NULL"                                                        \
    "  CHECK (op IN ('put','del','cas','noop','config','invalid')),"           \
    " key,"                                                                    \
    " value,"                                                                  \
    " expected,"                                                               \
    " client_id INTEGER,"                                                      \
    " seq INTEGER,"                                                            \
    " data BLOB NOT NULL,"                                                     \
    " crc INTEGER NOT NULL)"

static const char schema_ddl[] =
    "CREATE TABLE raft_state("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " current_term INTEGER NOT NULL,"
    " voted_for INTEGER NULL,"
    " crc INTEGER NOT NULL);"
    "CREATE TABLE kv_data(key PRIMARY KEY NOT NULL, value NOT NULL,"
    " crc INTEGER NOT NULL, ref INTEGER) WITHOUT ROWID;" SCHEMA_V6_KV_DDL
        SCHEMA_KV_VIEW_DDL "CREATE TABLE sessions("
    " client_id INTEGER PRIMARY KEY,"
    " seq INTEGER NOT NULL,"
    " status INTEGER NOT NULL,"
    " last_index INTEGER NOT NULL DEFAULT 0,"
    " crc INTEGER NOT NULL);"
    "CREATE TABLE meta(name TEXT PRIMARY KEY NOT NULL, value);" SCHEMA_V3_DDL
    "INSERT INTO raft_state(id, current_term, voted_for, crc)"
    " VALUES (1, 0, NULL, raft_row_crc(0, NULL));"
    "INSERT INTO meta(name, value) VALUES ('applied_index', 0),"
    " ('snapshot_index', 0), ('snapshot_term', 0);";

/* Every table and the columns the code uses: verify prepares a SELECT of
 * them, which fails when any is missing. */
static const struct {
    int since; /* The first schema version that has it. */
    const char *sql;
} schema_probes[] = {
    {1, "SELECT id, current_term, voted_for FROM raft_state LIMIT 0"},
    {1, "SELECT idx, term, op, key, value, expected, client_id, seq, data"
        " FROM log LIMIT 0"},
    {1, "SELECT key, value FROM kv LIMIT 0"},
    {1, "SELECT client_id, seq, status FROM sessions LIMIT 0"},
    {1, "SELECT name, value FROM meta LIMIT 0"},
    {3, "SELECT last_index FROM sessions LIMIT 0"},
    {3, "SELECT id, idx, term, config, created_at FROM snapshot LIMIT 0"},
    {4, "SELECT crc FROM log LIMIT 0"},
    {4, "SELECT crc FROM kv LIMIT 0"},
    {5, "SELECT crc FROM raft_state LIMIT 0"},
    {5, "SELECT crc FROM sessions LIMIT 0"},
    {6, "SELECT key, value, crc, ref FROM kv_data LIMIT 0"},
};

/* Moves a version 1 or 2 file to version 3 (one transaction with the
 * user_version): version 2 rows read as they are; sessions gain
 * last_index 0 (they sort first for eviction, by client id); the snapshot
 * point meta held, if any, becomes the snapshot row. */
static const char schema_to_v3[] =
    "ALTER TABLE sessions ADD COLUMN last_index INTEGER NOT NULL DEFAULT "
    "0;" SCHEMA_V3_DDL "INSERT INTO snapshot(id, idx, term, config, created_at)"
    " SELECT 1, i.value, t.value, '', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    " FROM meta i, meta t WHERE i.name = 'snapshot_index'"
    " AND t.name = 'snapshot_term' AND i.value > 0;";

/* Moves a version 3 file to version 4 (one transaction with the
 * user_version): every log and kv row gains its checksum, computed from
 * the row as it is (a row damaged before the upgrade is not detected). */
static const char schema_to_v4[] =
    "ALTER TABLE log ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;"
    "UPDATE log SET crc = raft_row_crc(" SCHEMA_LOG_CRC_COLUMNS ");"
    "ALTER TABLE kv ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;"
    "UPDATE kv SET crc = raft_row_crc(" SCHEMA_KV_CRC_COLUMNS ");";

/* Moves a version 4 file to version 5 (the same transaction): the
 * raft_state row and every session row gain their checksums. */
static const char schema_to_v5[] =
    "ALTER TABLE raft_state ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;"
    "UPDATE raft_state SET crc = raft_row_crc(" SCHEMA_STATE_CRC_COLUMNS ");"
    "ALTER TABLE sessions ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;"
    "UPDATE sessions SET crc = raft_row_crc(" SCHEMA_SESSION_CRC_COLUMNS ");";

/* Moves a version 5 file to version 6 (one transaction with the
 * user_version): the kv table becomes kv_data, every row holding its value
 * (ref NULL); schema_to_v7 then makes kv the view over it. */
static const char schema_to_v6[] =
    "ALTER TABLE kv RENAME TO kv_data;"
    "ALTER TABLE kv_data ADD COLUMN ref INTEGER;" SCHEMA_V6_KV_DDL;

/* Moves a version 6 file (or an older one, after schema_to_v6) to version
 * 7 in the same transaction: the log table becomes the first segment,
 * holding every row, and kv the view that finds values through the log
 * view (schema_log_view, which the caller runs next). */
static const char schema_to_v7[] =
    "DROP VIEW IF EXISTS kv;"
    "ALTER TABLE log RENAME TO log_from_1;" SCHEMA_KV_VIEW_DDL;

/* Maps a failed SQLite call to an ERR_* code and fills errmsg. */
static int sql_fail(sqlite3 *db, int rc, const char *what,
                    char errmsg[ERRMSG_LEN])
{
    snprintf(errmsg, ERRMSG_LEN, "%s: %s", what, sqlite3_errmsg(db));
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return ERR_CORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ERR_BUSY;
    default:
        return ERR_IO;
    }
}

/* Runs a query returning one integer row. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out,
                     char errmsg[ERRMSG_LEN])
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return sql_fail(db, rc, sql, errmsg);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int err = sql_fail(db, rc, sql, errmsg);
        sqlite3_finalize(st);
        return err;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return ERR_OK;
}

int schema_is_empty(sqlite3 *db, bool *empty, char errmsg[ERRMSG_LEN])
{
    ASSERT(db != NULL);
    ASSERT(empty != NULL);
    int64_t version = 0, n_tables = 0;
    /* The first read of the header: a file that is not SQLite fails here. */
    int rc = query_int(db, "PRAGMA user_version", &version, errmsg);
    if (rc == ERR_OK) {
        rc = query_int(db, "SELECT count(*) FROM sqlite_master", &n_tables,
                       errmsg);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    *empty = version == 0 && n_tables == 0;
    return ERR_OK;
}

int schema_quick_check(sqlite3 *db, char errmsg[ERRMSG_LEN])
{
    ASSERT(db != NULL);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return sql_fail(db, rc, "quick_check", errmsg);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int err = sql_fail(db, rc, "quick_check", errmsg);
        sqlite3_finalize(st);
        return err;
    }
    const unsigned char *text = sqlite3_column_text(st, 0);
    int err = ERR_OK;
    if (text == NULL || strcmp((const char *)text, "ok") != 0) {
        snprintf(errmsg, ERRMSG_LEN, "quick_check: %s",
                 text != NULL ? (const char *)text : "no result");
        err = ERR_CORRUPT;
    }
    sqlite3_finalize(st);
    return err;
}

/* Runs one statement that returns no rows, binding up to two meta values
 * (name, then a text or an integer value). */
static int insert_meta(sqlite3 *db, const char *name, const char *text,
                       int64_t number, char errmsg[ERRMSG_LEN])
{
    static const char sql[] = "INSERT INTO meta(name, value) VALUES (?1, ?2)";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = text != NULL ? sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC)
                          : sqlite3_bind_int64(st, 2, number);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = rc == SQLITE_DONE ? ERR_OK : sql_fail(db, rc, name, errmsg);
    sqlite3_finalize(st);
    return err;
}

int schema_log_table(sqlite3 *db, raft_index first, char errmsg[ERRMSG_LEN])
{
    ASSERT(db != NULL);
    ASSERT(first >= 1);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "CREATE TABLE " SCHEMA_LOG_SEGMENT
             "%" PRIu64 SCHEMA_LOG_TABLE_BODY,
             first);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? ERR_OK
                           : sql_fail(db, rc, "creating a log segment", errmsg);
}

/* A growing SQL text (schema_log_view); on overflow `failed` is set. */
struct sql_text {
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
};

static void sql_add(struct sql_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sql_add(struct sql_text *t, const char *fmt, ...)
{
    if (t->failed) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) {
        t->failed = true;
        return;
    }
    t->len += (size_t)n;
}

/* The columns of a log row as the trigger's NEW row names them. */
#define SCHEMA_LOG_NEW_COLUMNS                                                 \
    "NEW.idx, NEW.term, NEW.op, NEW.key, NEW.value, NEW.expected,"             \
    " NEW.client_id, NEW.seq, NEW.data, NEW.crc"

/* The rows compaction has deleted are those at or below this index: a
 * segment is dropped only once every row in it is, so the view hides the
 * older rows of the one it has not reached the end of. */
#define SCHEMA_LOG_FLOOR                                                       \
    "coalesce((SELECT value FROM meta WHERE name = 'compacted_index'), 0)"

int schema_log_view(sqlite3 *db, const raft_index *firsts, size_t n,
                    char errmsg[ERRMSG_LEN])
{
    ASSERT(db != NULL);
    ASSERT(n >= 1 && n <= SCHEMA_LOG_SEGMENTS_MAX);
    struct sql_text t = {.cap = 1024 + n * 1024};
    t.buf = malloc(t.cap);
    if (t.buf == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "log view: out of memory");
        return ERR_NOMEM;
    }
    sql_add(&t, "DROP VIEW IF EXISTS log; CREATE VIEW log(%s) AS",
            SCHEMA_LOG_COLUMNS);
    for (size_t i = 0; i < n; i++) {
        sql_add(&t,
                "%s SELECT %s FROM " SCHEMA_LOG_SEGMENT "%" PRIu64
                " WHERE idx > " SCHEMA_LOG_FLOOR,
                i > 0 ? " UNION ALL" : "", SCHEMA_LOG_COLUMNS, firsts[i]);
    }
    sql_add(&t, "; CREATE TRIGGER log_insert INSTEAD OF INSERT ON log BEGIN");
    for (size_t i = 0; i < n; i++) {
        sql_add(&t,
                " INSERT INTO " SCHEMA_LOG_SEGMENT "%" PRIu64
                "(%s) SELECT " SCHEMA_LOG_NEW_COLUMNS " WHERE 1",
                firsts[i], SCHEMA_LOG_COLUMNS);
        if (i > 0) {
            sql_add(&t, " AND NEW.idx >= %" PRIu64, firsts[i]);
        }
        if (i + 1 < n) {
            sql_add(&t, " AND NEW.idx < %" PRIu64, firsts[i + 1]);
        }
        sql_add(&t, ";");
    }
    sql_add(&t, " END; CREATE TRIGGER log_update INSTEAD OF UPDATE ON log"
                " BEGIN");
    for (size_t i = 0; i < n; i++) {
        sql_add(&t,
                " UPDATE " SCHEMA_LOG_SEGMENT "%" PRIu64
                " SET (%s) = (" SCHEMA_LOG_NEW_COLUMNS ") WHERE idx = OLD.idx;",
                firsts[i], SCHEMA_LOG_COLUMNS);
    }
    sql_add(&t, " END; CREATE TRIGGER log_delete INSTEAD OF DELETE ON log"
                " BEGIN");
    for (size_t i = 0; i < n; i++) {
        sql_add(&t,
                " DELETE FROM " SCHEMA_LOG_SEGMENT "%" PRIu64
                " WHERE idx = OLD.idx;",
                firsts[i]);
    }
    sql_add(&t, " END;");
    int err = ERR_OK;
    if (t.failed) {
        snprintf(errmsg, ERRMSG_LEN, "log view: SQL too long");
        err = ERR_INVALID;
    } else {
        int rc = sqlite3_exec(db, t.buf, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            err = sql_fail(db, rc, "creating the log view", errmsg);
        }
    }
    free(t.buf);
    return err;
}

int schema_create(sqlite3 *db, uint64_t cluster_id, raft_id node_id,
                  char errmsg[ERRMSG_LEN])
{
    ASSERT(db != NULL);
    ASSERT(node_id != RAFT_ID_NONE);
    ASSERT(node_id <= RAFT_ID_MAX);
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64, cluster_id);
    int rc = row_crc_register(db); /* The raft_state row's crc. */
    if (rc != SQLITE_OK) {
        return sql_fail(db, rc, "raft_row_crc", errmsg);
    }
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return sql_fail(db, rc, "begin", errmsg);
    }
    int err = ERR_OK;
    rc = sqlite3_exec(db, schema_ddl, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        err = sql_fail(db, rc, "creating tables", errmsg);
    }
    const raft_index first = 1;
    if (err == ERR_OK) {
        err = schema_log_table(db, first, errmsg);
    }
    if (err == ERR_OK) {
        err = schema_log_view(db, &first, 1, errmsg);
    }
    if (err == ERR_OK) {
        err = insert_meta(db, "cluster_id", hex, 0, errmsg);
    }
    if (err == ERR_OK) {
        err = insert_meta(db, "node_id", NULL, (int64_t)node_id, errmsg);
    }
    if (err == ERR_OK) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            err = sql_fail(db, rc, "user_version", errmsg);
        }
    }
    if (err == ERR_OK) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            return ERR_OK;
        }
        err = sql_fail(db, rc, "commit", errmsg);
    }
    /* The failure is what we report; a failed rollback changes nothing. */
    (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* Reads meta value `name` into a prepared statement's row; the caller
 * finalizes *st. Errors: ERR_CORRUPT (absent), ERR_IO. */
static int meta_row(sqlite3 *db, const char *name, sqlite3_stmt **st,
                    char errmsg[ERRMSG_LEN])
{
    int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = ?1",
                                -1, st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(*st, 1, name, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(*st);
    }
    if (rc == SQLITE_ROW) {
        return ERR_OK;
    }
    if (rc == SQLITE_DONE) {
        snprintf(errmsg, ERRMSG_LEN, "meta value %s is missing", name);
        return ERR_CORRUPT;
    }
    return sql_fail(db, rc, name, errmsg);
}

int schema_meta_uint(sqlite3 *db, const char *name, uint64_t *out,
                     char errmsg[ERRMSG_LEN])
{
    ASSERT(db != NULL);
    ASSERT(name != NULL);
    sqlite3_stmt *st = NULL;
    int err = meta_row(db, name, &st, errmsg);
    if (err == ERR_OK) {
        if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
            sqlite3_column_int64(st, 0) < 0) {
            snprintf(errmsg, ERRMSG_LEN,
                     "meta value %s is not a non-negative integer", name);
            err = ERR_CORRUPT;
        } else {
            *out = (uint64_t)sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    return err;
}

/* Parses exactly 16 lower-case hex digits. */
static bool parse_hex64(const unsigned char *text, int len, uint64_t *out)
{
    if (text == NULL || len != 16) {
        return false;
    }
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        unsigned char c = text[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0) {
            return false;
        }
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return true;
}

/* Errors: ERR_CORRUPT, ERR_WRONG_CLUSTER, ERR_IO. */
static int verify_cluster(sqlite3 *db, uint64_t cluster_id,
                          char errmsg[ERRMSG_LEN])
{
    sqlite3_stmt *st = NULL;
    int err = meta_row(db, "cluster_id", &st, errmsg);
    if (err == ERR_OK) {
        uint64_t stored = 0;
        if (sqlite3_column_type(st, 0) != SQLITE_TEXT ||
            !parse_hex64(sqlite3_column_text(st, 0),
                         sqlite3_column_bytes(st, 0), &stored)) {
            snprintf(errmsg, ERRMSG_LEN,
                     "meta cluster_id is not 16 hex digits");
            err = ERR_CORRUPT;
        } else if (stored != cluster_id) {
            snprintf(errmsg, ERRMSG_LEN,
                     "database of cluster %016" PRIx64 ", this is cluster "
                     "%016" PRIx64,
                     stored, cluster_id);
            err = ERR_WRONG_CLUSTER;
        }
    }
    sqlite3_finalize(st);
    return err;
}

/* Tables, columns (those of the file's version) and the raft_state row.
 * Errors: ERR_CORRUPT, ERR_IO. */
static int verify_tables(sqlite3 *db, int64_t version, char errmsg[ERRMSG_LEN])
{
    size_t n = sizeof(schema_probes) / sizeof(schema_probes[0]);
    for (size_t i = 0; i < n; i++) {
        if (schema_probes[i].since > version) {
            continue;
        }
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, schema_probes[i].sql, -1, &st, NULL);
        sqlite3_finalize(st);
        if (rc != SQLITE_OK) {
            int err = sql_fail(db, rc, "missing table or column", errmsg);
            return err == ERR_IO ? ERR_CORRUPT : err;
        }
    }
    int64_t rows = 0;
    int err = query_int(db, "SELECT count(*) FROM raft_state WHERE id = 1",
                        &rows, errmsg);
    if (err == ERR_OK && rows != 1) {
        snprintf(errmsg, ERRMSG_LEN, "raft_state has no row");
        err = ERR_CORRUPT;
    }
    return err;
}

int schema_verify(sqlite3 *db, uint64_t cluster_id, raft_id node_id,
                  char errmsg[ERRMSG_LEN])
{
    ASSERT(db != NULL);
    int64_t version = 0;
    int err = query_int(db, "PRAGMA user_version", &version, errmsg);
    if (err != ERR_OK) {
        return err;
    }
    if (version < SCHEMA_VERSION_OLDEST || version > SCHEMA_VERSION) {
        snprintf(errmsg, ERRMSG_LEN,
                 "schema version %" PRId64 ", expected %d to %d", version,
                 SCHEMA_VERSION_OLDEST, SCHEMA_VERSION);
        return ERR_WRONG_VERSION;
    }
    err = verify_tables(db, version, errmsg);
    if (err == ERR_OK) {
        err = verify_cluster(db, cluster_id, errmsg);
    }
    uint64_t stored_node = 0;
    if (err == ERR_OK) {
        err = schema_meta_uint(db, "node_id", &stored_node, errmsg);
    }
    if (err == ERR_OK && stored_node != node_id) {
        snprintf(errmsg, ERRMSG_LEN,
                 "database of node %" PRIu64 ", this is node %" PRIu64,
                 stored_node, node_id);
        return ERR_FOREIGN;
    }
    const char *const numbers[] = {"applied_index", "snapshot_index",
                                   "snapshot_term"};
    for (size_t i = 0; i < 3 && err == ERR_OK; i++) {
        uint64_t v = 0;
        err = schema_meta_uint(db, numbers[i], &v, errmsg);
    }
    return err;
}

/* Tables an earlier layout of this version had and nothing uses any more
 * (sessions registered through the log need no eviction records). */
static const char schema_drop_unused[] =
    "DROP TABLE IF EXISTS sessions_evicted;";

int schema_upgrade(sqlite3 *db, char errmsg[ERRMSG_LEN])
{
    ASSERT(db != NULL);
    int64_t version = 0;
    int err = query_int(db, "PRAGMA user_version", &version, errmsg);
    if (err == ERR_OK && version == SCHEMA_VERSION) {
        int rc = sqlite3_exec(db, schema_drop_unused, NULL, NULL, NULL);
        return rc == SQLITE_OK ? ERR_OK
                               : sql_fail(db, rc, "drop unused tables", errmsg);
    }
    if (err != ERR_OK) {
        return err;
    }
    ASSERT(version >= SCHEMA_VERSION_OLDEST && version < SCHEMA_VERSION);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return sql_fail(db, rc, "begin upgrade", errmsg);
    }
    /* Version 1 to 2 changed no table (data may be empty from 2 on). */
    rc = row_crc_register(db);
    if (rc == SQLITE_OK && version < 3) {
        rc = sqlite3_exec(db, schema_to_v3, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && version < 4) {
        rc = sqlite3_exec(db, schema_to_v4, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && version < 5) {
        rc = sqlite3_exec(db, schema_to_v5, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && version < 6) {
        rc = sqlite3_exec(db, schema_to_v6, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, schema_to_v7, NULL, NULL, NULL);
    }
    const raft_index first = 1;
    if (rc == SQLITE_OK) {
        err = schema_log_view(db, &first, 1, errmsg);
        if (err != ERR_OK) {
            (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return err;
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, schema_drop_unused, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        return ERR_OK;
    }
    err = sql_fail(db, rc, "upgrade to version 7", errmsg);
    (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* True when the 8 bytes at p are all ASCII and none is NUL. */
static bool is_plain_ascii8(const uint8_t *p)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t highs = 0x8080808080808080ull;
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    /* (w - ones) & ~w sets a byte's high bit for a zero byte, and only
     * for bytes below 0x80, which the first test has already required. */
    return (w & highs) == 0 && ((w - ones) & ~w & highs) == 0;
}

bool schema_is_text(const uint8_t *bytes, uint32_t len)
{
    uint32_t i = 0;
    while (i < len) {
        /* Keys and values are mostly ASCII: 8 bytes per step, where the
         * byte loop below cost a tenth of a follower's log writing. */
        if (len - i >= 8 && is_plain_ascii8(bytes + i)) {
            i += 8;
            continue;
        }
        uint8_t c = bytes[i];
        if (c == 0) {
            return false;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        uint32_t n, cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07u, min = 0x10000;
        } else {
            return false; /* A continuation byte, or 0xf8..0xff. */
        }
        if (len - i - 1 < n) {
            return false;
        }
        for (uint32_t j = 1; j <= n; j++) {
            if ((bytes[i + j] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (bytes[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

int schema_bind_bytes(sqlite3_stmt *st, int col, const uint8_t *bytes,
                      uint32_t len)
{
    static const char empty[1] = "";
    ASSERT(st != NULL);
    ASSERT(bytes != NULL || len == 0);
    ASSERT(len <= INT32_MAX);
    if (schema_is_text(bytes, len)) {
        const char *text = len > 0 ? (const char *)bytes : empty;
        return sqlite3_bind_text(st, col, text, (int)len, SQLITE_STATIC);
    }
    return sqlite3_bind_blob(st, col, bytes, (int)len, SQLITE_STATIC);
}

int schema_column_bytes(sqlite3_stmt *st, int col, const uint8_t **bytes,
                        uint32_t *len)
{
    ASSERT(st != NULL);
    int type = sqlite3_column_type(st, col);
    const void *p;
    if (type == SQLITE_TEXT) {
        p = sqlite3_column_text(st, col);
    } else if (type == SQLITE_BLOB) {
        p = sqlite3_column_blob(st, col);
    } else {
        return ERR_CORRUPT;
    }
    int n = sqlite3_column_bytes(st, col);
    ASSERT(n >= 0);
    *bytes = p;
    *len = (uint32_t)n;
    return ERR_OK;
}
