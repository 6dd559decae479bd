/*
 * Loading a node's durable state at start (storage/store.h store_load): hard
 * state, snapshot metadata, applied index and every log entry from its data
 * column, in one read transaction, with strict checks (contiguous indexes,
 * ordered terms, payloads that match their readable op). Reads only; the
 * writes are storage/store_persist.c and storage/store.c. Read
 * storage/store_wal.c next.
 */
#include "storage/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/command.h"
#include "common/invariant.h"
#include "storage/row_crc.h"
#include "storage/schema.h"
#include "storage/store_int.h"

/* Reads term and vote. Errors: ERR_DAMAGED (checksum), ERR_CORRUPT,
 * ERR_IO. */
static int load_hard_state(struct store *s, struct store_loaded *l)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT " SCHEMA_STATE_CRC_COLUMNS ", crc FROM"
                                " raft_state WHERE id = 1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = ERR_OK;
    if (rc != SQLITE_ROW) {
        err = rc == SQLITE_DONE ? store_corrupt(s, "raft_state has no row", 0)
                                : store_fail(s, rc, "reading raft_state");
    } else {
        int64_t term = sqlite3_column_int64(st, 0);
        bool no_vote = sqlite3_column_type(st, 1) == SQLITE_NULL;
        int64_t vote = sqlite3_column_int64(st, 1);
        if (!row_crc_check(st, 0, 2, 2)) {
            err = store_damaged(s, "raft_state", 1);
        } else if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || term < 0) {
            err = store_corrupt(s, "raft_state current_term", 0);
        } else if (!no_vote && (sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
                                vote < 1 || vote > RAFT_ID_MAX)) {
            err = store_corrupt(s, "raft_state voted_for", 0);
        } else {
            l->term = (raft_term)term;
            l->voted_for = no_vote ? RAFT_ID_NONE : (raft_id)vote;
        }
    }
    sqlite3_finalize(st);
    return err;
}

/* The entry type a row's op names, checked against its payload: a normal
 * op must decode to that op, "invalid" must not decode. Errors:
 * ERR_CORRUPT. */
static int load_entry_type(const char *op, const uint8_t *data, uint32_t len,
                           uint8_t *type)
{
    if (strcmp(op, "noop") == 0) {
        *type = RAFT_ENTRY_NOOP;
        return ERR_OK;
    }
    if (strcmp(op, "config") == 0) {
        *type = RAFT_ENTRY_CONFIG;
        return ERR_OK;
    }
    struct command cmd;
    bool decodes = command_decode(data, len, &cmd) == ERR_OK;
    bool is_invalid = strcmp(op, "invalid") == 0;
    if (is_invalid ? decodes
                   : !decodes || strcmp(command_op_name(cmd.op), op) != 0) {
        return ERR_CORRUPT;
    }
    *type = RAFT_ENTRY_NORMAL;
    return ERR_OK;
}

/* Where load_log_row copies payloads: a block sized from the same read
 * transaction's LOAD_BYTES_SQL. */
struct load_block {
    uint8_t *bytes;
    size_t used;
    size_t size;
};

/* Sums every row's payload bytes from ?1 on: data's, or, where data is
 * empty, a bound on what load_rebuild makes of the columns (?2 is the
 * payload's fixed part). */
#define LOAD_BYTES_SQL                                                         \
    "SELECT coalesce(sum(CASE WHEN length(data) > 0 THEN length(data)"         \
    " ELSE ?2 + coalesce(length(CAST(key AS BLOB)), 0)"                        \
    " + coalesce(length(CAST(value AS BLOB)), 0)"                              \
    " + coalesce(length(CAST(expected AS BLOB)), 0) END), 0) FROM log"         \
    " WHERE idx >= ?1"

/* Reads an optional bytes column: NULL is empty. Errors: ERR_CORRUPT. */
static int load_opt_bytes(sqlite3_stmt *st, int col, const uint8_t **bytes,
                          uint32_t *len)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        *bytes = NULL;
        *len = 0;
        return ERR_OK;
    }
    return schema_column_bytes(st, col, bytes, len);
}

/* Reads an optional integer column: NULL is 0. Errors: ERR_CORRUPT. */
static int load_opt_u64(sqlite3_stmt *st, int col, uint64_t *v)
{
    int type = sqlite3_column_type(st, col);
    if (type != SQLITE_NULL && type != SQLITE_INTEGER) {
        return ERR_CORRUPT;
    }
    *v = (uint64_t)sqlite3_column_int64(st, col);
    return ERR_OK;
}

/* The kv op a row's op names (enum command_op), or 0 for noop, config
 * and invalid: only kv rows may have their payload in the columns alone. */
static uint8_t kv_op_of(const char *op)
{
    for (uint8_t o = COMMAND_OP_PUT; o <= COMMAND_OP_CAS; o++) {
        if (strcmp(op, command_op_name(o)) == 0) {
            return o;
        }
    }
    return 0;
}

/* The payload of a put, del or cas row whose data column is empty, made
 * again from its readable columns (key 4, value 5, expected 6, client_id
 * 7, seq 8) as the command op (enum command_op) its op column names: kv
 * payloads have exactly one encoding, so these are the bytes store_persist
 * was given. The command goes into buf (cap bytes); *len gets its size.
 * Errors: ERR_CORRUPT. */
static int load_rebuild(sqlite3_stmt *st, uint8_t op, uint8_t *buf, size_t cap,
                        uint32_t *len)
{
    ASSERT(op >= COMMAND_OP_PUT && op <= COMMAND_OP_CAS);
    struct command cmd = {.op = op};
    if (schema_column_bytes(st, 4, &cmd.key, &cmd.key_len) != ERR_OK ||
        load_opt_bytes(st, 5, &cmd.value, &cmd.value_len) != ERR_OK ||
        load_opt_bytes(st, 6, &cmd.expected, &cmd.expected_len) != ERR_OK ||
        load_opt_u64(st, 7, &cmd.client_id) != ERR_OK ||
        load_opt_u64(st, 8, &cmd.seq) != ERR_OK) {
        return ERR_CORRUPT;
    }
    size_t n = 0;
    if (command_encode(&cmd, buf, cap, &n) != ERR_OK) {
        return ERR_CORRUPT;
    }
    *len = (uint32_t)n;
    return ERR_OK;
}

/* Checks one log row (idx, term, op, data, key, value, expected,
 * client_id, seq, crc) against its checksum and the previous row, and
 * copies its payload into the block, rebuilding it when data is empty; e
 * gets the entry. Errors: ERR_DAMAGED (checksum), ERR_CORRUPT. */
static int load_log_row(struct store *s, sqlite3_stmt *st, raft_index idx,
                        raft_term prev_term, raft_term current_term,
                        struct raft_entry *e, struct load_block *block)
{
    if (!row_crc_check(st, 0, 9, 9)) {
        return store_damaged(s, "log", (uint64_t)sqlite3_column_int64(st, 0));
    }
    if (sqlite3_column_int64(st, 0) != (int64_t)idx) {
        return store_corrupt(s, "gap in log indexes", idx);
    }
    int64_t term = sqlite3_column_int64(st, 1);
    if (sqlite3_column_type(st, 1) != SQLITE_INTEGER || term < 1 ||
        (raft_term)term < prev_term || (raft_term)term > current_term) {
        return store_corrupt(s, "log term out of order", idx);
    }
    const unsigned char *op = sqlite3_column_text(st, 2);
    int type_data = sqlite3_column_type(st, 3);
    const uint8_t *data = sqlite3_column_blob(st, 3);
    int len = sqlite3_column_bytes(st, 3);
    if (op == NULL || type_data != SQLITE_BLOB || len > RAFT_ENTRY_MAX ||
        (size_t)len > block->size - block->used) {
        return store_corrupt(s, "log row op or data", idx);
    }
    uint8_t *copy = block->bytes + block->used;
    uint32_t copied = (uint32_t)len;
    uint8_t kv_op = len == 0 ? kv_op_of((const char *)op) : 0;
    uint8_t type = RAFT_ENTRY_NORMAL;
    if (kv_op != 0) {
        /* command_encode makes exactly the op named: nothing to check
         * again. */
        if (load_rebuild(st, kv_op, copy, block->size - block->used, &copied) !=
            ERR_OK) {
            return store_corrupt(s, "log row columns do not make a command",
                                 idx);
        }
    } else {
        if (len > 0) {
            memcpy(copy, data, (size_t)len);
        }
        if (load_entry_type((const char *)op, copy, copied, &type) != ERR_OK) {
            return store_corrupt(s, "log data does not match its op", idx);
        }
    }
    block->used += copied;
    e->term = (raft_term)term;
    e->type = type;
    e->len = copied;
    e->data = copy;
    return ERR_OK;
}

/* Runs one query returning a single row of int64 columns into v[0..n). */
static int query_ints(struct store *s, const char *sql, int64_t arg, int64_t *v,
                      int n, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 1, arg);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = ERR_OK;
    if (rc != SQLITE_ROW) {
        err = store_fail(s, rc, what);
    } else {
        for (int i = 0; i < n; i++) {
            v[i] = sqlite3_column_int64(st, i);
        }
    }
    sqlite3_finalize(st);
    return err;
}

/* Bytes that the payloads of the rows from first on take in memory
 * (LOAD_BYTES_SQL). Errors: ERR_IO, ERR_CORRUPT. */
static int load_bytes(struct store *s, raft_index first, int64_t *bytes)
{
    const struct command empty = {0};
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, LOAD_BYTES_SQL, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 1, (int64_t)first);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, (int64_t)command_encoded_size(&empty));
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = ERR_OK;
    if (rc != SQLITE_ROW) {
        err = store_fail(s, rc, "sizing log");
    } else {
        *bytes = sqlite3_column_int64(st, 0);
        if (*bytes < 0) {
            err = store_corrupt(s, "log size", 0);
        }
    }
    sqlite3_finalize(st);
    return err;
}

/* Sizes the log the view shows (rows above floor): row count and first
 * index, one segment table at a time; checks it has no gap. */
static int load_log_size(struct store *s, raft_index floor, size_t *n,
                         raft_index *first)
{
    int64_t count = 0, lo = 0, hi = 0;
    if (s->n_segs == 0) {
        snprintf(s->errmsg, ERRMSG_LEN, "log segment list unknown");
        return ERR_IO;
    }
    for (size_t i = 0; i < s->n_segs; i++) {
        char name[STORE_LOG_SEG_NAME], sql[160];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*), coalesce(min(idx), 0),"
                 " coalesce(max(idx), 0) FROM %s WHERE idx > ?1",
                 store_logseg_name(s, i, name));
        int64_t v[3];
        int err = query_ints(s, sql, (int64_t)floor, v, 3, "sizing log");
        if (err != ERR_OK) {
            return err;
        }
        if (v[0] < 0 || (v[0] > 0 && v[1] < 1)) {
            return store_corrupt(s, "gap in log indexes", 0);
        }
        if (v[0] > 0) {
            count += v[0];
            lo = lo == 0 || v[1] < lo ? v[1] : lo;
            hi = v[2] > hi ? v[2] : hi;
        }
    }
    if (count > 0 && hi - lo + 1 != count) {
        return store_corrupt(s, "gap in log indexes", 0);
    }
    *n = (size_t)count;
    *first = (raft_index)lo;
    return ERR_OK;
}

/* The terms of entries first..tail_first-1 as runs, each checked to be
 * contiguous with the next and of a larger term. Errors: ERR_CORRUPT,
 * ERR_NOMEM, ERR_IO. */
static int load_runs(struct store *s, raft_index first, raft_index tail_first,
                     struct store_loaded *l)
{
    int err = ERR_OK;
    size_t cap = 0;
    raft_index expect = first;
    raft_term prev_term = l->compacted_term;
    for (size_t seg = 0; err == ERR_OK && seg < s->n_segs; seg++) {
        char name[STORE_LOG_SEG_NAME], sql[160];
        snprintf(sql, sizeof(sql),
                 "SELECT min(idx), max(idx), term FROM %s"
                 " WHERE idx < ?1 AND idx >= ?2 GROUP BY term ORDER BY 1",
                 store_logseg_name(s, seg, name));
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 1, (int64_t)tail_first);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(st, 2, (int64_t)first);
        }
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            raft_index lo = (raft_index)sqlite3_column_int64(st, 0);
            raft_index hi = (raft_index)sqlite3_column_int64(st, 1);
            int64_t term = sqlite3_column_int64(st, 2);
            rc = SQLITE_OK;
            if (lo == expect && hi >= lo && l->n_runs > 0 &&
                (raft_term)term == prev_term) {
                expect = hi + 1; /* A run across two segment tables. */
                continue;
            }
            if (lo != expect || hi < lo || term < 1 ||
                (raft_term)term < prev_term ||
                (l->n_runs > 0 && (raft_term)term == prev_term) ||
                (raft_term)term > l->term) {
                err = store_corrupt(s, "log terms out of order", lo);
                break;
            }
            if (l->n_runs == cap) {
                cap = cap ? cap * 2 : 16;
                struct raft_term_run *r = realloc(l->runs, cap * sizeof(*r));
                if (r == NULL) {
                    err = ERR_NOMEM;
                    break;
                }
                l->runs = r;
            }
            l->runs[l->n_runs].first = lo;
            l->runs[l->n_runs].term = (raft_term)term;
            l->n_runs++;
            expect = hi + 1;
            prev_term = (raft_term)term;
        }
        if (err == ERR_OK && rc != SQLITE_DONE) {
            err = store_fail(s, rc, "reading log terms");
        }
        sqlite3_finalize(st);
    }
    if (err == ERR_OK && expect != tail_first) {
        err = store_corrupt(s, "gap in log indexes", expect);
    }
    return err;
}

/* The last log row a compaction step deleted, with its term (meta). */
struct load_deleted {
    raft_index index;
    raft_term term;
};

/* Where the log starts (l->compacted_*), given its first row: after the
 * rows a pending compaction step is to delete (their last one's term read
 * from the log), else after the last deleted row (its term from meta), so
 * the rows kept below the snapshot point (--log-keep) are loaded too; after
 * the snapshot point when neither says (nothing kept, or an older file).
 * Errors: ERR_CORRUPT, ERR_IO. */
static int load_start(struct store *s, raft_index first,
                      const struct load_deleted *d, struct store_loaded *l)
{
    l->compacted_index = l->snapshot_index;
    l->compacted_term = l->snapshot_term;
    if (first > l->snapshot_index) {
        return ERR_OK; /* Nothing kept below the point. */
    }
    if (s->compact_upto >= first) {
        int64_t term = 0;
        int err = query_ints(s, "SELECT term FROM log WHERE idx = ?1",
                             (int64_t)s->compact_upto, &term, 1,
                             "reading log at compaction");
        if (err == ERR_OK && term < 1) {
            err = store_corrupt(s, "log term at compaction", s->compact_upto);
        }
        if (err == ERR_OK) {
            l->compacted_index = s->compact_upto;
            l->compacted_term = (raft_term)term;
        }
        return err;
    }
    if (first == 1) {
        l->compacted_index = 0; /* Nothing deleted yet. */
        l->compacted_term = 0;
    } else if (d->index == first - 1 && d->term >= 1) {
        l->compacted_index = d->index;
        l->compacted_term = d->term;
    }
    return ERR_OK;
}

/* Reads the log after l->compacted_index (load_start): the rows kept below
 * the snapshot point serve lagging followers (store_fetch) from memory or
 * runs; term runs before tail_first, whole rows from it on, in index
 * order. So a restart reads the kept rows and what lies after the
 * snapshot, never the compacted history. Errors: ERR_CORRUPT, ERR_NOMEM,
 * ERR_IO. */
static int load_log(struct store *s, raft_index window,
                    const struct load_deleted *d, struct store_loaded *l)
{
    size_t n = 0;
    raft_index first = 0;
    int err = load_log_size(s, d->index, &n, &first);
    if (err != ERR_OK || n == 0) {
        l->compacted_index = l->snapshot_index;
        l->compacted_term = l->snapshot_term;
        return err;
    }
    if (first > l->snapshot_index + 1) {
        return store_corrupt(s, "gap between snapshot and log", first);
    }
    err = load_start(s, first, d, l);
    if (err != ERR_OK) {
        return err;
    }
    raft_index last = first + n - 1;
    if (last <= l->compacted_index) {
        return ERR_OK; /* Only rows to delete: nothing after the point. */
    }
    n = (size_t)(last - l->compacted_index);
    first = l->compacted_index + 1;
    raft_index tail_first = first;
    if (window > 0 && l->applied > window && l->applied - window + 1 > first) {
        tail_first = l->applied - window + 1;
        if (tail_first > first + n) {
            return store_corrupt(s, "applied index beyond the log", l->applied);
        }
        err = load_runs(s, first, tail_first, l);
        if (err != ERR_OK) {
            return err;
        }
        n -= (size_t)(tail_first - first);
    }
    int64_t bytes = 0;
    err = load_bytes(s, tail_first, &bytes);
    if (err != ERR_OK) {
        return err;
    }
    l->entries = calloc(n > 0 ? n : 1, sizeof(*l->entries));
    l->data_block = malloc(bytes > 0 ? (size_t)bytes : 1);
    if (l->entries == NULL || l->data_block == NULL) {
        return ERR_NOMEM;
    }
    struct load_block block = {l->data_block, 0, (size_t)bytes};
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT " STORE_LOG_COLUMNS " FROM log"
                                " WHERE idx >= ?1 ORDER BY idx",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 1, (int64_t)tail_first);
    }
    size_t i = 0;
    raft_term prev_term =
        l->n_runs > 0 ? l->runs[l->n_runs - 1].term : l->compacted_term;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (i == n) {
            err = store_corrupt(s, "log changed while loading", tail_first + i);
            break;
        }
        err = load_log_row(s, st, tail_first + i, prev_term, l->term,
                           &l->entries[i], &block);
        if (err != ERR_OK) {
            break;
        }
        prev_term = l->entries[i].term;
        i++;
        rc = SQLITE_OK;
    }
    if (err == ERR_OK && rc != SQLITE_DONE) {
        err = store_fail(s, rc, "reading log");
    } else if (err == ERR_OK && i != n) {
        err = store_corrupt(s, "log changed while loading", tail_first + i);
    }
    sqlite3_finalize(st);
    l->first_index = tail_first;
    l->n_entries = i;
    return err;
}

/* Reads the applied index, the snapshot point (the snapshot table) and
 * the last deleted row with its term (meta, absent before a compaction
 * step); the state applied includes the snapshot's. */
static int load_meta(struct store *s, struct store_loaded *l,
                     struct load_deleted *d)
{
    char detail[ERRMSG_LEN] = "";
    int err = schema_meta_uint(s->db, "applied_index", &l->applied, detail);
    if (err != ERR_OK) {
        snprintf(s->errmsg, ERRMSG_LEN, "%s", detail);
        return err;
    }
    err = store_snapshot_row(s, &l->snapshot_index, &l->snapshot_term);
    if (err == ERR_OK && l->applied < l->snapshot_index) {
        err = store_corrupt(s, "applied index behind the snapshot", l->applied);
    }
    int64_t v[2] = {0, 0};
    if (err == ERR_OK) {
        err = query_ints(s,
                         "SELECT coalesce((SELECT value FROM meta WHERE name ="
                         " 'compacted_index'), 0), coalesce((SELECT value"
                         " FROM meta WHERE name = 'compacted_term'), 0)"
                         " WHERE ?1 = ?1",
                         0, v, 2, "reading meta");
    }
    if (err == ERR_OK && (v[0] < 0 || v[1] < 0)) {
        err = store_corrupt(s, "meta compacted_index or term", 0);
    }
    d->index = (raft_index)v[0];
    d->term = (raft_term)v[1];
    return err;
}

/* Cross-checks: no gap between snapshot and log; applied entries exist. */
static int load_check(struct store *s, struct store_loaded *l)
{
    raft_index last = l->n_entries > 0 ? l->first_index + l->n_entries - 1
                                       : l->compacted_index;
    raft_index log_first = l->n_runs > 0 ? l->runs[0].first : l->first_index;
    if (l->n_entries > 0 && log_first > l->compacted_index + 1) {
        return store_corrupt(s, "gap between snapshot and log", l->first_index);
    }
    if (l->n_entries == 0) {
        l->first_index = l->compacted_index + 1;
    }
    if (l->applied > last && l->applied > l->snapshot_index) {
        return store_corrupt(s, "applied index beyond the log", l->applied);
    }
    return ERR_OK;
}

int store_load(struct store *s, struct store_loaded *out)
{
    return store_load_window(s, 0, out);
}

int store_load_window(struct store *s, raft_index window,
                      struct store_loaded *out)
{
    ASSERT(s != NULL);
    ASSERT(out != NULL);
    ASSERT(!s->in_txn);
    struct store_loaded l;
    memset(&l, 0, sizeof(l));
    struct load_deleted deleted = {0, 0};
    /* One read transaction: every query sees the same snapshot, even with
     * a sqlite3 shell writing meanwhile. */
    if (store_read_end(s) != ERR_OK) {
        return ERR_IO;
    }
    int rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return store_fail(s, rc, "begin load");
    }
    int err = load_hard_state(s, &l);
    if (err == ERR_OK) {
        err = store_session_verify_all(s);
    }
    if (err == ERR_OK) {
        err = load_meta(s, &l, &deleted);
    }
    if (err == ERR_OK) {
        err = load_log(s, window, &deleted, &l);
    }
    if (err == ERR_OK) {
        err = load_check(s, &l);
    }
    rc = sqlite3_exec(s->db, err == ERR_OK ? "COMMIT" : "ROLLBACK", NULL, NULL,
                      NULL);
    if (err == ERR_OK && rc != SQLITE_OK) {
        err = store_fail(s, rc, "end load");
    }
    if (err != ERR_OK) {
        store_loaded_free(&l);
        return err;
    }
    *out = l;
    return ERR_OK;
}

void store_loaded_free(struct store_loaded *loaded)
{
    if (loaded == NULL) {
        return;
    }
    free(loaded->entries);
    free(loaded->data_block);
    free(loaded->runs);
    memset(loaded, 0, sizeof(*loaded));
}

int store_fetch(struct store *s, raft_index lo, raft_index hi, size_t bytes_max,
                struct raft_entry *out, size_t cap, size_t *n)
{
    ASSERT(s != NULL);
    ASSERT(lo >= 1);
    ASSERT(lo <= hi);
    ASSERT(cap >= 1);
    int err = store_write_queue(s); /* Read what was persisted. */
    if (err == ERR_OK) {
        /* Before each row, what is kept is within bytes_max, or is the
         * first entry alone; the row itself (read, then maybe dropped)
         * adds at most RAFT_ENTRY_MAX. */
        size_t kept_max =
            bytes_max > RAFT_ENTRY_MAX ? bytes_max : RAFT_ENTRY_MAX;
        err = store_reserve(&s->fetch_buf, &s->fetch_cap,
                            kept_max + RAFT_ENTRY_MAX, 65536);
    }
    if (err != ERR_OK) {
        return err;
    }
    sqlite3_stmt *st = s->st[ST_LOG_FETCH];
    int rc = sqlite3_bind_int64(st, 1, (int64_t)lo);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, (int64_t)hi);
    }
    size_t k = 0;
    size_t used = 0;
    raft_term prev_term = 0;
    struct load_block block = {s->fetch_buf, 0, s->fetch_cap};
    while (rc == SQLITE_OK && k < cap &&
           (rc = sqlite3_step(st)) == SQLITE_ROW) {
        err = load_log_row(s, st, lo + k, prev_term, s->term, &out[k], &block);
        if (err != ERR_OK) {
            break;
        }
        size_t len = out[k].len;
        if (k > 0 && used + len > bytes_max) {
            break; /* Its copy past the others is simply not returned. */
        }
        prev_term = out[k].term;
        used += len;
        k++;
        rc = SQLITE_OK;
    }
    if (err == ERR_OK && rc != SQLITE_OK && rc != SQLITE_ROW &&
        rc != SQLITE_DONE) {
        err = store_fail(s, rc, "fetching log");
    }
    sqlite3_reset(st);
    if (err == ERR_OK && k == 0) {
        snprintf(s->errmsg, ERRMSG_LEN, "log entry %llu not found",
                 (unsigned long long)lo);
        err = ERR_NOT_FOUND;
    }
    if (err == ERR_OK) {
        *n = k;
    }
    return err;
}
