/*
 * The SQLite schema of a node's database (DESIGN.md "Durable state"): the
 * DDL, its version (PRAGMA user_version), creation, the read-only checks
 * that decide whether an existing file is ours, and the TEXT-or-BLOB rule
 * for keys and values. Read storage/schema.c next, then storage/store.c.
 *
 * Tables (names and the listed columns are a public interface):
 *   raft_state(id = 1, current_term, voted_for NULL when none, crc)
 *   log(idx, term, op, key, value, expected, client_id, seq, data, crc)
 *       op is put/del/cas/noop/config, or invalid for a normal entry whose
 *       payload does not decode; data is the exact payload, except that it
 *       is empty for put/del/cas rows whose columns give the payload back
 *       (version 2 on: a reload encodes key/value/expected/client_id/seq
 *       again, storage/store_load.c).
 *   kv(key, value, crc)          the applied state machine: a view (version
 *                                6 on) over kv_data(key, value, crc, ref),
 *                                whose row holds the value, or, with ref set
 *                                (value ''), refers to the log row at idx =
 *                                ref, whose value column holds it (until
 *                                compaction copies it into the row)
 *   crc (version 4 on in log and kv, 5 on in raft_state and sessions):
 *       storage/row_crc.h's checksum of the row's other columns in the
 *       order SCHEMA_*_CRC_COLUMNS list them; every write sets it, every
 *       read that serves, sends, applies, uses or loads checks it
 *       (docs/DAMAGE.md).
 *   sessions(client_id, seq, status, last_index, crc)
 *                                last_index: the log index of the entry that
 *                                last touched it (eviction order); the
 *                                client_id is its register entry's index
 *   snapshot(id = 1, idx, term, config, created_at)  no row, or the last
 *                                snapshot point and the configuration at it
 *   meta(name, value)            cluster_id (16 lower-case hex digits, as
 *                                text: SQLite integers are signed), node_id,
 *                                applied_index, snapshot_index, snapshot_term
 *                                (the last two kept equal to the snapshot
 *                                row, which is what is read)
 * uint64 client ids are stored as the int64 of the same bits.
 *
 * The TEXT-or-BLOB rule: bytes that are valid UTF-8 without NUL are bound
 * as TEXT, anything else as BLOB, on every write and every lookup, so the
 * same bytes always have the same SQLite type (TEXT 'a' and BLOB x'61' are
 * different keys to SQLite).
 */
#ifndef RAFT_STORAGE_SCHEMA_H
#define RAFT_STORAGE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/types.h"

/* 2: data may be empty (see above). 3: the snapshot table,
 * sessions.last_index. 4: the crc column of log and kv. 5: the crc column
 * of raft_state and sessions. 6: kv_data and the kv view (values found
 * once, in the log). 7: the log kept in segment tables behind the log view
 * (compaction drops a segment whole). schema_upgrade moves an older file on; a
 * binary that knows only an older version then refuses it instead of
 * calling its rows corrupt. */
#define SCHEMA_VERSION 7

/* The log's columns, in the order of its segment tables and its view. */
#define SCHEMA_LOG_COLUMNS                                                     \
    "idx, term, op, key, value, expected, client_id, seq, data, crc"

/* Version 7 keeps the log in segment tables named SCHEMA_LOG_SEGMENT
 * followed by the first index each holds ("log_from_1"), each holding the
 * entries up to the next one's first, and `log` is the view over them
 * (rows compaction has deleted left out), with INSTEAD OF triggers so the
 * sqlite3 shell can change it as it could the table (an UPDATE of idx
 * stays in the row's table). At most SCHEMA_LOG_SEGMENTS_MAX segments:
 * the view is one SELECT of each. */
#define SCHEMA_LOG_SEGMENT "log_from_"
#define SCHEMA_LOG_SEGMENTS_MAX 64

/* The columns each table's crc covers, in checksum order. */
#define SCHEMA_LOG_CRC_COLUMNS                                                 \
    "idx, term, op, data, key, value, expected, client_id, seq"
#define SCHEMA_KV_CRC_COLUMNS "key, value"
#define SCHEMA_STATE_CRC_COLUMNS "current_term, voted_for"
#define SCHEMA_SESSION_CRC_COLUMNS "client_id, seq, status, last_index"
#define SCHEMA_VERSION_OLDEST 1

/* True when db has no schema at all (user_version 0, no tables): a new
 * file. Reads only. Errors: ERR_CORRUPT (not a database), ERR_IO. */
int schema_is_empty(sqlite3 *db, bool *empty, char errmsg[ERRMSG_LEN]);

/* Runs PRAGMA quick_check (reads only). Errors: ERR_CORRUPT, ERR_IO. */
int schema_quick_check(sqlite3 *db, char errmsg[ERRMSG_LEN]);

/* Creates every table and the initial rows in one transaction: term 0, no
 * vote, applied and snapshot 0, this cluster and node. Errors: ERR_IO. */
int schema_create(sqlite3 *db, uint64_t cluster_id, raft_id node_id,
                  char errmsg[ERRMSG_LEN]);

/* Decides, reading only, whether db is this node's database. Errors:
 * ERR_WRONG_VERSION (user_version), ERR_CORRUPT (a table, column, row or
 * meta value missing or malformed), ERR_WRONG_CLUSTER, ERR_FOREIGN (another
 * node id), ERR_IO. */
int schema_verify(sqlite3 *db, uint64_t cluster_id, raft_id node_id,
                  char errmsg[ERRMSG_LEN]);

/* Moves a verified file of an older version to SCHEMA_VERSION in one
 * transaction (tables and columns added, user_version set), so a crash
 * leaves it old or new; a file at SCHEMA_VERSION loses the tables nothing
 * uses any more (DROP TABLE IF EXISTS). Errors: ERR_IO, ERR_BUSY. */
int schema_upgrade(sqlite3 *db, char errmsg[ERRMSG_LEN]);

/* Creates the empty log segment table for entries from `first` on, in
 * the caller's transaction. Errors: ERR_IO. */
int schema_log_table(sqlite3 *db, raft_index first, char errmsg[ERRMSG_LEN]);

/* (Re)creates the log view and its triggers over the n segments starting
 * at firsts[0] < firsts[1] < ..., in the caller's transaction. Errors:
 * ERR_IO, ERR_NOMEM. */
int schema_log_view(sqlite3 *db, const raft_index *firsts, size_t n,
                    char errmsg[ERRMSG_LEN]);

/* Reads an integer meta value (>= 0). Errors: ERR_CORRUPT (missing, not an
 * integer, negative), ERR_IO. */
int schema_meta_uint(sqlite3 *db, const char *name, uint64_t *out,
                     char errmsg[ERRMSG_LEN]);

/* True when bytes are valid UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF) and contain no NUL: they are stored as TEXT. */
bool schema_is_text(const uint8_t *bytes, uint32_t len);

/* Binds bytes to parameter col as TEXT or BLOB by the rule above (never as
 * NULL, even when empty). The bytes must outlive the statement's step.
 * Returns a SQLite result code. */
int schema_bind_bytes(sqlite3_stmt *st, int col, const uint8_t *bytes,
                      uint32_t len);

/* Reads a TEXT or BLOB column's bytes (borrowed until the next step or
 * reset). Errors: ERR_CORRUPT (NULL, integer or real). */
int schema_column_bytes(sqlite3_stmt *st, int col, const uint8_t **bytes,
                        uint32_t *len);

#endif
