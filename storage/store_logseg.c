/*
 * The log's segment tables (schema version 7, storage/schema.h): which
 * exist, the one appends go to (the tail), starting a new tail, and what a
 * truncation, a compaction step and an installed snapshot do to them.
 * Compaction drops a segment whole once every row in it is below the
 * compaction point: SQLite frees a dropped table's pages without writing
 * them, where deleting the same rows by range writes every leaf it empties
 * through the WAL (docs/PERFORMANCE.md). Rows of the oldest segment at or
 * below the point wait for the rest of it; the log view leaves them out.
 * Every change here runs in the caller's transaction; a rollback reloads
 * the list (store_logseg_load). Read storage/store_compact.c next.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/invariant.h"
#include "storage/schema.h"
#include "storage/store_int.h"

/* The segment table's name, e.g. "log_from_8751". */
static void seg_name(char buf[STORE_LOG_SEG_NAME], raft_index first)
{
    snprintf(buf, STORE_LOG_SEG_NAME, SCHEMA_LOG_SEGMENT "%" PRIu64, first);
}

static int cmp_index(const void *a, const void *b)
{
    raft_index x = *(const raft_index *)a, y = *(const raft_index *)b;
    return x < y ? -1 : x > y;
}

/* Parses the number after SCHEMA_LOG_SEGMENT: digits only, no leading
 * zero, at least 1. */
static bool parse_first(const char *name, raft_index *out)
{
    size_t prefix = strlen(SCHEMA_LOG_SEGMENT);
    if (strncmp(name, SCHEMA_LOG_SEGMENT, prefix) != 0) {
        return false;
    }
    const char *p = name + prefix;
    if (*p < '1' || *p > '9' || strlen(p) > 19) {
        return false;
    }
    raft_index v = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (raft_index)(*p - '0');
    }
    *out = v;
    return v <= (raft_index)INT64_MAX;
}

int store_logseg_load(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(s->db,
                           "SELECT name FROM sqlite_master WHERE type ="
                           " 'table' AND name GLOB '" SCHEMA_LOG_SEGMENT "*'",
                           -1, &st, NULL);
    raft_index firsts[SCHEMA_LOG_SEGMENTS_MAX];
    size_t n = 0;
    int err = ERR_OK;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        raft_index first = 0;
        if (name == NULL || !parse_first(name, &first)) {
            snprintf(s->errmsg, ERRMSG_LEN,
                     "corrupt: log segment table named %.40s",
                     name != NULL ? name : "NULL");
            err = ERR_CORRUPT;
            break;
        }
        if (n == SCHEMA_LOG_SEGMENTS_MAX) {
            snprintf(s->errmsg, ERRMSG_LEN,
                     "corrupt: more than %d log segment tables",
                     SCHEMA_LOG_SEGMENTS_MAX);
            err = ERR_CORRUPT;
            break;
        }
        firsts[n++] = first;
        rc = SQLITE_OK;
    }
    if (err == ERR_OK && rc != SQLITE_DONE) {
        err = store_fail(s, rc, "listing log segments");
    }
    sqlite3_finalize(st);
    if (err == ERR_OK && n == 0) {
        snprintf(s->errmsg, ERRMSG_LEN, "corrupt: no log segment table");
        err = ERR_CORRUPT;
    }
    if (err != ERR_OK) {
        s->n_segs = 0; /* Unknown: every change and read refuses. */
        return err;
    }
    qsort(firsts, n, sizeof(firsts[0]), cmp_index);
    memcpy(s->seg_first, firsts, n * sizeof(firsts[0]));
    s->n_segs = n;
    s->seg_tail_bytes = 0; /* Unknown after a restart: counted anew. */
    s->segs_changed = false;
    return store_log_inserts_prepare(s);
}

/* The list is known (loaded, and not lost to a failed reload); every
 * change first notes that DDL may run, so a rollback reloads the list.
 * Errors: ERR_IO. */
static int segs_begin_change(struct store *s)
{
    if (s->n_segs == 0) {
        snprintf(s->errmsg, ERRMSG_LEN, "log segment list unknown");
        return ERR_IO;
    }
    s->segs_changed = true;
    return ERR_OK;
}

const char *store_logseg_name(const struct store *s, size_t i,
                              char buf[STORE_LOG_SEG_NAME])
{
    ASSERT(i < s->n_segs);
    seg_name(buf, s->seg_first[i]);
    return buf;
}

const char *store_logseg_tail(const struct store *s,
                              char buf[STORE_LOG_SEG_NAME])
{
    ASSERT(s->n_segs >= 1);
    seg_name(buf, s->seg_first[s->n_segs - 1]);
    return buf;
}

/* Drops segment `first`. Errors: ERR_IO. */
static int seg_drop(struct store *s, raft_index first)
{
    char name[STORE_LOG_SEG_NAME], sql[80];
    seg_name(name, first);
    snprintf(sql, sizeof(sql), "DROP TABLE %s", name);
    return store_exec(s, sql);
}

/* Creates the empty segment table for entries from `first` on. Errors:
 * ERR_IO. */
static int seg_create(struct store *s, raft_index first)
{
    char detail[ERRMSG_LEN] = "";
    int err = schema_log_table(s->db, first, detail);
    if (err != ERR_OK) {
        snprintf(s->errmsg, ERRMSG_LEN, "%s", detail);
    }
    return err;
}

/* Recreates the view over the segments in s->seg_first and points the
 * INSERTs at the tail. Errors: ERR_IO, ERR_NOMEM. */
static int segs_changed(struct store *s)
{
    char detail[ERRMSG_LEN] = "";
    int err = schema_log_view(s->db, s->seg_first, s->n_segs, detail);
    if (err != ERR_OK) {
        snprintf(s->errmsg, ERRMSG_LEN, "%s", detail);
        return err;
    }
    return store_log_inserts_prepare(s);
}

void store_set_log_segment_rows(struct store *s, raft_index rows)
{
    ASSERT(s != NULL);
    ASSERT(rows >= 1);
    s->seg_rows = rows;
}

void store_set_log_segment_bytes(struct store *s, uint64_t bytes)
{
    ASSERT(s != NULL);
    ASSERT(bytes >= 1);
    s->seg_bytes = bytes;
}

int store_logseg_roll(struct store *s, raft_index first)
{
    if (s->n_segs == 0) {
        return segs_begin_change(s); /* Unknown: refused. */
    }
    raft_index tail = s->seg_first[s->n_segs - 1];
    if (s->n_segs == SCHEMA_LOG_SEGMENTS_MAX || first <= tail ||
        (first - tail < s->seg_rows && s->seg_tail_bytes < s->seg_bytes)) {
        return ERR_OK;
    }
    int err = segs_begin_change(s);
    if (err == ERR_OK) {
        err = seg_create(s, first);
    }
    if (err != ERR_OK) {
        return err;
    }
    s->seg_first[s->n_segs++] = first;
    s->seg_tail_bytes = 0;
    return segs_changed(s);
}

int store_logseg_truncate(struct store *s, raft_index from)
{
    ASSERT(from >= 1);
    bool dropped = false;
    int err = segs_begin_change(s);
    while (err == ERR_OK && s->n_segs > 1 &&
           s->seg_first[s->n_segs - 1] >= from) {
        err = seg_drop(s, s->seg_first[s->n_segs - 1]);
        if (err == ERR_OK) {
            s->n_segs--;
            dropped = true;
        }
    }
    if (err == ERR_OK) {
        char name[STORE_LOG_SEG_NAME], sql[128];
        seg_name(name, s->seg_first[s->n_segs - 1]);
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE idx >= %" PRIu64, name,
                 from);
        err = store_exec(s, sql);
    }
    if (err == ERR_OK && dropped) {
        err = segs_changed(s);
    }
    return err;
}

bool store_logseg_droppable(const struct store *s, raft_index floor)
{
    return s->n_segs > 1 && s->seg_first[1] - 1 <= floor;
}

int store_logseg_drop_oldest(struct store *s, raft_index floor)
{
    if (!store_logseg_droppable(s, floor)) {
        return ERR_OK;
    }
    int err = segs_begin_change(s);
    if (err == ERR_OK) {
        err = seg_drop(s, s->seg_first[0]);
    }
    if (err != ERR_OK) {
        return err;
    }
    memmove(s->seg_first, s->seg_first + 1,
            (s->n_segs - 1) * sizeof(s->seg_first[0]));
    s->n_segs--;
    return segs_changed(s);
}

int store_logseg_reset(struct store *s, raft_index first)
{
    ASSERT(first >= 1);
    int err = segs_begin_change(s);
    for (size_t i = 0; i < s->n_segs && err == ERR_OK; i++) {
        err = seg_drop(s, s->seg_first[i]);
    }
    if (err == ERR_OK) {
        err = seg_create(s, first);
    }
    if (err != ERR_OK) {
        return err;
    }
    s->seg_first[0] = first;
    s->n_segs = 1;
    s->seg_tail_bytes = 0;
    return segs_changed(s);
}

void store_logseg_rolled_back(struct store *s)
{
    /* Nothing to do unless a change ran since the last load. */
    if (s->segs_changed && store_logseg_load(s) != ERR_OK) {
        s->write_failed = true; /* No INSERT to trust: the node restarts. */
    }
}
