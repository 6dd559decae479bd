/*
 * Bounded client sessions (thesis section 6.3; DESIGN.md "Snapshots and
 * compaction"; docs/SESSIONS.md). A session is registered through the log:
 * its id is the index of its register entry, and applying that entry adds
 * the row, then evicts the least recently used sessions (smallest
 * (last_index, client_id)) down to the limit the entry carries. Touches
 * only update a live row. Eviction is thus a function of the log alone, the
 * same on every replica; an evicted id is simply absent, and as ids are
 * log indexes no id is ever registered twice. Writes only inside the apply
 * transaction. Read storage/store_snapshot.c next.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/invariant.h"
#include "storage/row_crc.h"
#include "storage/schema.h"
#include "storage/store_int.h"

enum {
    SS_GET,
    SS_PUT,
    SS_OLDEST,
    SS_DELETE,
    SS_COUNT_SESSIONS,
};

static const char *const session_sql[STORE_SESSION_STMTS] = {
    [SS_GET] = "SELECT " SCHEMA_SESSION_CRC_COLUMNS ", crc FROM sessions"
               " WHERE client_id = ?1",
    [SS_PUT] = "INSERT OR REPLACE INTO sessions(client_id, seq, status,"
               " last_index, crc) VALUES (?1, ?2, ?3, ?4,"
               " raft_row_crc(?1, ?2, ?3, ?4))",
    [SS_OLDEST] = "SELECT client_id FROM sessions"
                  " ORDER BY last_index, client_id LIMIT 1",
    [SS_DELETE] = "DELETE FROM sessions WHERE client_id = ?1",
    [SS_COUNT_SESSIONS] = "SELECT count(*) FROM sessions",
};

/* The statement id, prepared on first use (reset by the caller).
 * Errors: NULL, with s->errmsg set. */
static sqlite3_stmt *stmt(struct store *s, int id)
{
    ASSERT(id >= 0 && id < STORE_SESSION_STMTS);
    if (s->session_st[id] == NULL) {
        int rc = sqlite3_prepare_v3(s->db, session_sql[id], -1,
                                    SQLITE_PREPARE_PERSISTENT,
                                    &s->session_st[id], NULL);
        if (rc != SQLITE_OK) {
            (void)store_fail(s, rc, session_sql[id]);
            return NULL;
        }
    }
    return s->session_st[id];
}

void store_session_close(struct store *s)
{
    for (int i = 0; i < STORE_SESSION_STMTS; i++) {
        sqlite3_finalize(s->session_st[i]);
        s->session_st[i] = NULL;
    }
}

/* Counts the table once; registers and evictions keep the count after. */
static int ensure_counted(struct store *s)
{
    if (s->is_session_counted) {
        return ERR_OK;
    }
    sqlite3_stmt *st = stmt(s, SS_COUNT_SESSIONS);
    if (st == NULL) {
        return ERR_IO;
    }
    int rc = sqlite3_step(st);
    int err = ERR_OK;
    if (rc == SQLITE_ROW) {
        s->n_sessions = (uint64_t)sqlite3_column_int64(st, 0);
    } else {
        err = store_fail(s, rc, session_sql[SS_COUNT_SESSIONS]);
    }
    (void)sqlite3_reset(st);
    s->is_session_counted = err == ERR_OK;
    return err;
}

int store_session_find(struct store *s, uint64_t client_id,
                       struct store_session *out)
{
    ASSERT(s != NULL);
    ASSERT(out != NULL);
    struct store_session found;
    memset(&found, 0, sizeof(found));
    sqlite3_stmt *st = stmt(s, SS_GET);
    if (st == NULL) {
        return ERR_IO;
    }
    int rc = sqlite3_bind_int64(st, 1, (int64_t)client_id);
    rc = rc == SQLITE_OK ? sqlite3_step(st) : rc;
    int err = ERR_OK;
    if (rc == SQLITE_ROW) {
        int64_t status = sqlite3_column_int64(st, 2);
        int64_t last = sqlite3_column_int64(st, 3);
        if (!row_crc_check(st, 0, 4, 4)) {
            err = store_damaged(s, "sessions", client_id);
        } else if (status < 0 || status > UINT8_MAX || last < 0) {
            err = store_corrupt(s, "session status or last_index", client_id);
        }
        found.state = STORE_SESSION_LIVE;
        found.seq = (uint64_t)sqlite3_column_int64(st, 1);
        found.status = (uint8_t)status;
        found.last_index = (raft_index)last;
    } else if (rc != SQLITE_DONE) {
        err = store_fail(s, rc, "session find");
    }
    (void)sqlite3_reset(st);
    if (err == ERR_OK) {
        *out = found;
    }
    return err;
}

int store_session_verify_all(struct store *s)
{
    ASSERT(s != NULL);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT " SCHEMA_SESSION_CRC_COLUMNS ", crc FROM sessions", -1,
        &st, NULL);
    int err = ERR_OK;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!row_crc_check(st, 0, 4, 4)) {
            err = store_damaged(s, "sessions",
                                (uint64_t)sqlite3_column_int64(st, 0));
            break;
        }
        rc = SQLITE_OK;
    }
    if (err == ERR_OK && rc != SQLITE_DONE) {
        err = store_fail(s, rc, "verifying sessions");
    }
    sqlite3_finalize(st);
    return err;
}

/* Writes client_id's row. Errors: ERR_IO. */
static int session_write(struct store *s, uint64_t client_id, uint64_t seq,
                         uint8_t status, raft_index index)
{
    sqlite3_stmt *st = stmt(s, SS_PUT);
    if (st == NULL) {
        return ERR_IO;
    }
    int rc = sqlite3_bind_int64(st, 1, (int64_t)client_id);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 2, (int64_t)seq);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int(st, 3, status);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 4, (int64_t)index);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    (void)sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        return store_fail(s, rc, "session write");
    }
    session_cache_put(s->sessions, client_id, true, seq, status);
    return ERR_OK;
}

int store_session_touch(struct store *s, uint64_t client_id, uint64_t seq,
                        uint8_t status, raft_index index)
{
    ASSERT(s != NULL);
    ASSERT(s->in_txn);
    ASSERT(index > s->applied);
    /* The session is live (node/kv.c touches no other), so the count
     * stays. */
    return session_write(s, client_id, seq, status, index);
}

/* Deletes the least recently used session. Errors: ERR_IO, ERR_CORRUPT. */
static int evict_one(struct store *s)
{
    sqlite3_stmt *st = stmt(s, SS_OLDEST);
    if (st == NULL) {
        return ERR_IO;
    }
    int rc = sqlite3_step(st);
    int64_t victim = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    (void)sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        return rc == SQLITE_DONE
                   ? store_corrupt(s, "session count", s->n_sessions)
                   : store_fail(s, rc, "oldest session");
    }
    st = stmt(s, SS_DELETE);
    if (st == NULL) {
        return ERR_IO;
    }
    rc = sqlite3_bind_int64(st, 1, victim);
    rc = rc == SQLITE_OK ? sqlite3_step(st) : rc;
    (void)sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        return store_fail(s, rc, "session evict");
    }
    session_cache_put(s->sessions, (uint64_t)victim, false, 0, 0);
    s->n_sessions--;
    return ERR_OK;
}

int store_session_register(struct store *s, raft_index index, uint64_t max)
{
    ASSERT(s != NULL);
    ASSERT(s->in_txn);
    ASSERT(index > s->applied);
    int err = ensure_counted(s);
    struct store_session before;
    if (err == ERR_OK) {
        err = store_session_find(s, index, &before);
    }
    if (err == ERR_OK) {
        err = session_write(s, index, 0, 0, index);
    }
    if (err == ERR_OK && before.state != STORE_SESSION_LIVE) {
        s->n_sessions++;
    }
    while (err == ERR_OK && max > 0 && s->n_sessions > max) {
        err = evict_one(s);
    }
    return err;
}

int store_session_count(struct store *s, uint64_t *n_sessions)
{
    ASSERT(s != NULL);
    int err = ensure_counted(s);
    if (err == ERR_OK) {
        *n_sessions = s->n_sessions;
    }
    return err;
}
