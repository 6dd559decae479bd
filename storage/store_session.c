/*
 * Bounded client sessions (thesis section 6.3; DESIGN.md "Snapshots and
 * compaction"): each session row carries the log index that last touched
 * it; past max_sessions, the one with the smallest (last_index, client_id)
 * is evicted, which is a function of the log alone, so every replica
 * evicts the same sessions at the same entry. An evicted client id goes to
 * sessions_evicted (bounded by the same limit, oldest dropped first) so the
 * state machine can answer "session expired" instead of executing a retried
 * request again. Writes only inside the apply transaction. Read
 * storage/store_snapshot.c next.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/invariant.h"
#include "storage/store_int.h"

/* Evictions one touch may do: lowering max_sessions shrinks the table a
 * few rows per applied entry instead of all at once; as each replica
 * applies the same entries with the same limit, they shrink alike. */
#define STORE_EVICT_PER_TOUCH 16

enum {
    SS_GET,
    SS_EVICTED_GET,
    SS_PUT,
    SS_UNEVICT,
    SS_OLDEST,
    SS_DELETE,
    SS_EVICT,
    SS_EVICTED_TRIM,
    SS_COUNT_SESSIONS,
    SS_COUNT_EVICTED,
};

static const char *const session_sql[STORE_SESSION_STMTS] = {
    [SS_GET] = "SELECT seq, status, last_index FROM sessions"
               " WHERE client_id = ?1",
    [SS_EVICTED_GET] = "SELECT idx FROM sessions_evicted WHERE client_id = ?1",
    [SS_PUT] = "INSERT OR REPLACE INTO sessions(client_id, seq, status,"
               " last_index) VALUES (?1, ?2, ?3, ?4)",
    [SS_UNEVICT] = "DELETE FROM sessions_evicted WHERE client_id = ?1",
    [SS_OLDEST] = "SELECT client_id FROM sessions"
                  " ORDER BY last_index, client_id LIMIT 1",
    [SS_DELETE] = "DELETE FROM sessions WHERE client_id = ?1",
    [SS_EVICT] = "INSERT OR REPLACE INTO sessions_evicted(client_id, idx)"
                 " VALUES (?1, ?2)",
    [SS_EVICTED_TRIM] = "DELETE FROM sessions_evicted WHERE client_id ="
                        " (SELECT client_id FROM sessions_evicted"
                        " ORDER BY idx, client_id LIMIT 1)",
    [SS_COUNT_SESSIONS] = "SELECT count(*) FROM sessions",
    [SS_COUNT_EVICTED] = "SELECT count(*) FROM sessions_evicted",
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

/* Binds up to two int64 parameters and steps once: SQLITE_ROW leaves the
 * row for the caller, who resets. Returns the step's SQLite code. */
static int step2(struct store *s, sqlite3_stmt *st, int n, int64_t a, int64_t b)
{
    (void)s;
    int rc = SQLITE_OK;
    if (n >= 1) {
        rc = sqlite3_bind_int64(st, 1, a);
    }
    if (rc == SQLITE_OK && n >= 2) {
        rc = sqlite3_bind_int64(st, 2, b);
    }
    return rc == SQLITE_OK ? sqlite3_step(st) : rc;
}

/* Runs statement id, which returns no row. Errors: ERR_IO. */
static int run2(struct store *s, int id, int n, int64_t a, int64_t b)
{
    sqlite3_stmt *st = stmt(s, id);
    if (st == NULL) {
        return ERR_IO;
    }
    int rc = step2(s, st, n, a, b);
    int err = rc == SQLITE_DONE ? ERR_OK : store_fail(s, rc, session_sql[id]);
    (void)sqlite3_reset(st);
    return err;
}

/* Reads the count of id (SS_COUNT_*). Errors: ERR_IO. */
static int count_rows(struct store *s, int id, uint64_t *n)
{
    sqlite3_stmt *st = stmt(s, id);
    if (st == NULL) {
        return ERR_IO;
    }
    int rc = sqlite3_step(st);
    int err = ERR_OK;
    if (rc == SQLITE_ROW) {
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    } else {
        err = store_fail(s, rc, session_sql[id]);
    }
    (void)sqlite3_reset(st);
    return err;
}

/* Counts both tables once; touches keep the counts after. */
static int ensure_counted(struct store *s)
{
    if (s->is_session_counted) {
        return ERR_OK;
    }
    int err = count_rows(s, SS_COUNT_SESSIONS, &s->n_sessions);
    if (err == ERR_OK) {
        err = count_rows(s, SS_COUNT_EVICTED, &s->n_evicted);
    }
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
    int rc = step2(s, st, 1, (int64_t)client_id, 0);
    int err = ERR_OK;
    if (rc == SQLITE_ROW) {
        int64_t status = sqlite3_column_int64(st, 1);
        int64_t last = sqlite3_column_int64(st, 2);
        if (status < 0 || status > UINT8_MAX || last < 0) {
            err = store_corrupt(s, "session status or last_index", client_id);
        }
        found.state = STORE_SESSION_LIVE;
        found.seq = (uint64_t)sqlite3_column_int64(st, 0);
        found.status = (uint8_t)status;
        found.last_index = (raft_index)last;
    } else if (rc != SQLITE_DONE) {
        err = store_fail(s, rc, "session find");
    }
    (void)sqlite3_reset(st);
    if (err == ERR_OK && found.state == STORE_SESSION_NONE) {
        st = stmt(s, SS_EVICTED_GET);
        rc = st != NULL ? step2(s, st, 1, (int64_t)client_id, 0) : SQLITE_OK;
        if (st == NULL) {
            err = ERR_IO;
        } else if (rc == SQLITE_ROW) {
            found.state = STORE_SESSION_EVICTED;
            found.evicted_index = (raft_index)sqlite3_column_int64(st, 0);
        } else if (rc != SQLITE_DONE) {
            err = store_fail(s, rc, "evicted session find");
        }
        if (st != NULL) {
            (void)sqlite3_reset(st);
        }
    }
    if (err == ERR_OK) {
        *out = found;
    }
    return err;
}

/* Evicts the least recently used session into sessions_evicted at index,
 * then trims that list to the same bound. Errors: ERR_IO, ERR_CORRUPT. */
static int evict_one(struct store *s, raft_index index)
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
    int err = run2(s, SS_DELETE, 1, victim, 0);
    if (err == ERR_OK) {
        err = run2(s, SS_EVICT, 2, victim, (int64_t)index);
    }
    if (err != ERR_OK) {
        return err;
    }
    session_cache_put(s->sessions, (uint64_t)victim, false, 0, 0);
    s->n_sessions--;
    s->n_evicted++;
    while (err == ERR_OK && s->n_evicted > s->max_sessions) {
        err = run2(s, SS_EVICTED_TRIM, 0, 0, 0);
        s->n_evicted--;
    }
    return err;
}

int store_session_touch(struct store *s, uint64_t client_id, uint64_t seq,
                        uint8_t status, raft_index index)
{
    ASSERT(s != NULL);
    ASSERT(s->in_txn);
    ASSERT(index > s->applied);
    int err = ensure_counted(s);
    struct store_session before;
    if (err == ERR_OK) {
        err = store_session_find(s, client_id, &before);
    }
    if (err == ERR_OK && before.state == STORE_SESSION_EVICTED) {
        err = run2(s, SS_UNEVICT, 1, (int64_t)client_id, 0);
        s->n_evicted--;
    }
    if (err != ERR_OK) {
        return err;
    }
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
        return store_fail(s, rc, "session touch");
    }
    session_cache_put(s->sessions, client_id, true, seq, status);
    if (before.state != STORE_SESSION_LIVE) {
        s->n_sessions++;
    }
    for (int i = 0; err == ERR_OK && i < STORE_EVICT_PER_TOUCH &&
                    s->max_sessions > 0 && s->n_sessions > s->max_sessions;
         i++) {
        err = evict_one(s, index);
    }
    return err;
}

void store_set_max_sessions(struct store *s, uint64_t max_sessions)
{
    ASSERT(s != NULL);
    s->max_sessions = max_sessions;
}

uint64_t store_max_sessions(const struct store *s)
{
    ASSERT(s != NULL);
    return s->max_sessions;
}

int store_session_count(struct store *s, uint64_t *n_sessions,
                        uint64_t *n_evicted)
{
    ASSERT(s != NULL);
    int err = ensure_counted(s);
    if (err == ERR_OK) {
        *n_sessions = s->n_sessions;
        *n_evicted = s->n_evicted;
    }
    return err;
}
