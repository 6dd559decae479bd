/*
 * Log compaction (thesis chapter 5; DESIGN.md "Snapshots and compaction"):
 * the applied state already lives in kv and sessions, so a snapshot is a
 * point, (index, term, configuration), recorded in the snapshot table at an
 * index whose effects are committed there; the log rows up to that index
 * minus the trailing ones kept for slow followers are then deleted by
 * store_compact_step: it moves the point below which the log view shows no
 * row (meta compacted_index) and drops the segment tables wholly below it
 * (storage/store_logseg.c). Never changes what kv or sessions say: a step
 * first copies into kv_data the values it still finds only in the log rows
 * it deletes (kv_data.ref), a bounded number at a time, so no call stalls
 * the loop. Read storage/store_snapshot.c next.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/invariant.h"
#include "common/snapshot_image.h"
#include "storage/store_int.h"

int store_exec(struct store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? ERR_OK : store_fail(s, rc, sql);
}

/* Runs a query of one int64 row and column, with up to one parameter;
 * *found says whether there was a row. Errors: ERR_IO. */
static int query_one(struct store *s, const char *sql, int64_t arg, bool *found,
                     int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) > 0) {
        rc = sqlite3_bind_int64(st, 1, arg);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = ERR_OK;
    if (rc == SQLITE_ROW) {
        *found = sqlite3_column_type(st, 0) != SQLITE_NULL;
        *out = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        *found = false;
    } else {
        err = store_fail(s, rc, sql);
    }
    sqlite3_finalize(st);
    return err;
}

int store_snapshot_row(struct store *s, raft_index *index, raft_term *term)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT idx, term FROM snapshot WHERE id = 1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = ERR_OK;
    if (rc == SQLITE_DONE) {
        *index = 0;
        *term = 0;
    } else if (rc != SQLITE_ROW) {
        err = store_fail(s, rc, "reading snapshot");
    } else {
        int64_t i = sqlite3_column_int64(st, 0);
        int64_t t = sqlite3_column_int64(st, 1);
        if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
            sqlite3_column_type(st, 1) != SQLITE_INTEGER || i < 0 || t < 0 ||
            (i == 0) != (t == 0)) {
            err = store_corrupt(s, "snapshot idx or term", (uint64_t)i);
        } else {
            *index = (raft_index)i;
            *term = (raft_term)t;
        }
    }
    sqlite3_finalize(st);
    return err;
}

int store_write_point(struct store *s, raft_index index, raft_term term,
                      const char *config)
{
    static const char sql[] =
        "INSERT OR REPLACE INTO snapshot(id, idx, term, config, created_at)"
        " VALUES (1, ?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 1, (int64_t)index);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, (int64_t)term);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, 3, config, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return store_fail(s, rc, "writing snapshot");
    }
    char meta[160];
    snprintf(meta, sizeof(meta),
             "UPDATE meta SET value = CASE name WHEN 'snapshot_index' THEN"
             " %" PRIu64 " ELSE %" PRIu64 " END WHERE name IN"
             " ('snapshot_index', 'snapshot_term')",
             index, term);
    return store_exec(s, meta);
}

/* Commits the open transaction with synchronous=NORMAL. Safe without an
 * fsync: what it records is already implied by durable state (the applied
 * kv it points at, the log it deletes is below it), and a power loss drops
 * only a suffix of the WAL, so it loses whole compaction steps after the
 * point they follow, never the point while keeping its deletions.
 * Errors: ERR_IO (rolled back). */
static int commit_light(struct store *s)
{
    int err = store_exec(s, "COMMIT");
    if (err != ERR_OK) {
        store_rollback(s);
    }
    return err;
}

/* Checks a new snapshot point: at or below the committed applied index,
 * not before the current point, and naming the log's own term there.
 * Errors: ERR_INVALID (s->errmsg says which), ERR_IO. */
static int compact_check(struct store *s, raft_index index, raft_term term,
                         const char *config)
{
    if (strlen(config) > SNAPSHOT_CONFIG_MAX) {
        snprintf(s->errmsg, ERRMSG_LEN, "snapshot config over %d bytes",
                 SNAPSHOT_CONFIG_MAX);
        return ERR_INVALID;
    }
    if (index > s->applied) {
        snprintf(s->errmsg, ERRMSG_LEN,
                 "cannot compact to %" PRIu64 ": applied index is %" PRIu64,
                 index, s->applied);
        return ERR_INVALID;
    }
    if (index < s->snapshot_index ||
        (index == s->snapshot_index && term != s->snapshot_term)) {
        snprintf(s->errmsg, ERRMSG_LEN,
                 "cannot compact to %" PRIu64 " term %" PRIu64
                 ": snapshot is at %" PRIu64 " term %" PRIu64,
                 index, term, s->snapshot_index, s->snapshot_term);
        return ERR_INVALID;
    }
    if (index == s->snapshot_index) {
        return ERR_OK;
    }
    bool found = false;
    int64_t stored = 0;
    int err = query_one(s, "SELECT term FROM log WHERE idx = ?1",
                        (int64_t)index, &found, &stored);
    if (err == ERR_OK && (!found || stored != (int64_t)term)) {
        snprintf(s->errmsg, ERRMSG_LEN,
                 "cannot compact to %" PRIu64 " term %" PRIu64
                 ": the log has %s there",
                 index, term, found ? "another term" : "no entry");
        err = ERR_INVALID;
    }
    return err;
}

int store_compact(struct store *s, raft_index index, raft_term term,
                  const char *config, raft_index keep)
{
    ASSERT(s != NULL);
    ASSERT(config != NULL);
    ASSERT(index >= 1);
    ASSERT(term >= 1);
    ASSERT(!s->in_txn);
    int err = compact_check(s, index, term, config);
    if (err != ERR_OK) {
        return err;
    }
    if (index > s->snapshot_index) {
        err = store_read_end(s);
        if (err == ERR_OK) {
            err = store_set_sync(s, ST_SYNC_NORMAL);
        }
        if (err == ERR_OK) {
            err = store_exec(s, "BEGIN IMMEDIATE");
        }
        if (err != ERR_OK) {
            return err;
        }
        err = store_write_point(s, index, term, config);
        if (err != ERR_OK) {
            store_rollback(s);
            return err;
        }
        err = commit_light(s);
        if (err != ERR_OK) {
            return err;
        }
        s->snapshot_index = index;
        s->snapshot_term = term;
    }
    s->compact_upto = index > keep ? index - keep : 0;
    ASSERT(s->compact_upto <= s->snapshot_index);
    return ERR_OK;
}

/* Records in meta, in the open transaction that deletes rows up to hi,
 * the term of row hi: a restart starts the log after it with that term
 * (store_load), the rows kept below the snapshot point included.
 * Errors: ERR_CORRUPT (no row hi), ERR_IO. */
static int compact_record_last(struct store *s, raft_index hi)
{
    bool found = false;
    int64_t term = 0;
    int err = query_one(s, "SELECT term FROM log WHERE idx = ?1", (int64_t)hi,
                        &found, &term);
    if (err == ERR_OK && (!found || term < 1)) {
        err = store_corrupt(s, "no log row to compact at", hi);
    }
    if (err != ERR_OK) {
        return err;
    }
    return store_write_compacted(s, hi, (raft_term)term);
}

int store_write_compacted(struct store *s, raft_index index, raft_term term)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "INSERT OR REPLACE INTO meta(name, value) VALUES"
             " ('compacted_index', %" PRIu64 "), ('compacted_term', %" PRIu64
             ")",
             index, term);
    return store_exec(s, sql);
}

/* Opens a compaction step's transaction (synchronous=NORMAL). Errors:
 * ERR_IO. */
static int compact_begin(struct store *s)
{
    int err = store_read_end(s);
    if (err == ERR_OK) {
        err = store_set_sync(s, ST_SYNC_NORMAL);
    }
    if (err == ERR_OK) {
        err = store_exec(s, "BEGIN IMMEDIATE");
    }
    return err;
}

/* A step once the point has reached compact_upto: drops the oldest
 * segment if it is wholly below the point, else compaction is done.
 * Errors: ERR_IO. */
static int compact_drop_step(struct store *s)
{
    bool found = false;
    int64_t floor = 0;
    int err = query_one(s,
                        "SELECT value FROM meta WHERE name ="
                        " 'compacted_index'",
                        0, &found, &floor);
    if (err != ERR_OK) {
        return err;
    }
    if (!found || floor < 1 || !store_logseg_droppable(s, (raft_index)floor)) {
        s->compact_upto = 0; /* Done. */
        return ERR_OK;
    }
    err = compact_begin(s);
    if (err == ERR_OK) {
        err = store_logseg_drop_oldest(s, (raft_index)floor);
        if (err != ERR_OK) {
            store_rollback(s);
            return err;
        }
        err = commit_light(s);
    }
    return err;
}

int store_compact_step(struct store *s, size_t rows_max, size_t *n_deleted)
{
    ASSERT(s != NULL);
    ASSERT(rows_max >= 1);
    ASSERT(n_deleted != NULL);
    ASSERT(!s->in_txn);
    ASSERT(s->compact_upto <= s->snapshot_index);
    *n_deleted = 0;
    if (s->compact_upto == 0) {
        return ERR_OK;
    }
    if (s->write_failed) {
        return ERR_IO; /* errmsg names the failed write; the node restarts. */
    }
    bool found = false;
    int64_t first = 0;
    int err = query_one(s, "SELECT idx FROM log ORDER BY idx LIMIT 1", 0,
                        &found, &first);
    if (err != ERR_OK) {
        return err;
    }
    if (!found || (raft_index)first > s->compact_upto) {
        return compact_drop_step(s); /* The point is there: tables left? */
    }
    raft_index hi = (raft_index)first + rows_max - 1;
    if (hi > s->compact_upto) {
        hi = s->compact_upto;
    }
    /* Copying values into kv_data is what a step may write in bulk (a
     * key written once and never again): stop at the
     * STORE_COMPACT_FILL_ROWS-th row to copy. */
    char nth[160];
    snprintf(nth, sizeof(nth),
             "SELECT ref FROM kv_data WHERE ref IS NOT NULL AND ref <= %" PRIu64
             " ORDER BY ref LIMIT 1 OFFSET %d",
             hi, STORE_COMPACT_FILL_ROWS - 1);
    int64_t last_fill = 0;
    err = query_one(s, nth, 0, &found, &last_fill);
    if (err != ERR_OK) {
        return err;
    }
    if (found && (raft_index)last_fill < hi) {
        hi = (raft_index)last_fill;
    }
    err = compact_begin(s);
    if (err != ERR_OK) {
        return err;
    }
    char fill[200];
    snprintf(fill, sizeof(fill),
             "UPDATE kv_data SET value = (SELECT value FROM log"
             " WHERE idx = kv_data.ref), ref = NULL"
             " WHERE ref IS NOT NULL AND ref <= %" PRIu64,
             hi);
    /* kv rows whose value is still only in a row about to go: copy it in
     * first (a key not written again since), while the log view still
     * shows the row. value is NOT NULL, so a missing log row fails the
     * step rather than losing a value. Then the point moves, which hides
     * the rows up to hi, and the oldest segment goes if wholly below it. */
    err = store_exec(s, fill);
    if (err == ERR_OK) {
        err = compact_record_last(s, hi);
    }
    if (err == ERR_OK) {
        err = store_logseg_drop_oldest(s, hi);
    }
    if (err != ERR_OK) {
        store_rollback(s);
        return err;
    }
    err = commit_light(s);
    if (err == ERR_OK) {
        *n_deleted = (size_t)(hi - (raft_index)first + 1);
        if (hi == s->compact_upto && !store_logseg_droppable(s, hi)) {
            s->compact_upto = 0;
        }
    }
    return err;
}

bool store_compact_pending(const struct store *s)
{
    ASSERT(s != NULL);
    return s->compact_upto > 0;
}

void store_snapshot_point(const struct store *s, raft_index *index,
                          raft_term *term)
{
    ASSERT(s != NULL);
    *index = s->snapshot_index;
    *term = s->snapshot_term;
}
