/*
 * The members table (DESIGN.md, Membership): the latest configuration in
 * this member's log or snapshot, one row per member (id, addr, role, and
 * which voter sets it is in), rewritten whenever the node's configuration
 * changes; and the configuration a restart starts from (the last config
 * row below the loaded window, else the snapshot's). Created with CREATE
 * TABLE IF NOT EXISTS: no schema version change. Read storage/store.c next.
 */
#include <stdio.h>
#include <string.h>

#include "common/membership.h"
#include "storage/store.h"
#include "storage/store_int.h"

#define MEMBERS_DDL                                                            \
    "CREATE TABLE IF NOT EXISTS members("                                      \
    " id INTEGER PRIMARY KEY,"                                                 \
    " addr TEXT NOT NULL,"                                                     \
    " role TEXT NOT NULL CHECK (role IN ('voter','learner')),"                 \
    " new_voter INTEGER NOT NULL DEFAULT 0,"                                   \
    " old_voter INTEGER NOT NULL DEFAULT 0);"

int store_members_open(struct store *s)
{
    int rv = store_read_end(s);
    return rv != ERR_OK ? rv : store_exec(s, MEMBERS_DDL);
}

int store_members_save(struct store *s, const struct membership *c)
{
    if (s->in_txn) {
        return ERR_AGAIN; /* A kv transaction is open: next time. */
    }
    int rv = store_read_end(s);
    if (rv == ERR_OK) {
        rv = store_exec(s, "BEGIN IMMEDIATE; DELETE FROM members;");
    }
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_OK;
    if (rv == ERR_OK) {
        rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO members(id, addr, role, "
                                "new_voter, old_voter) VALUES (?,?,?,?,?)",
                                -1, &st, NULL);
    }
    for (uint32_t i = 0; rv == ERR_OK && rc == SQLITE_OK && i < c->n; i++) {
        const struct membership_member *m = &c->m[i];
        bool voter = m->voter || (c->joint && m->old_voter);
        sqlite3_reset(st);
        rc = sqlite3_bind_int64(st, 1, (int64_t)m->id);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 2, m->addr, -1, SQLITE_STATIC);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(st, 3, voter ? "voter" : "learner", -1,
                                   SQLITE_STATIC);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int(st, 4, m->voter);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int(st, 5, c->joint && m->old_voter);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        }
    }
    sqlite3_finalize(st);
    if (rv == ERR_OK && rc != SQLITE_OK) {
        rv = store_fail(s, rc, "members");
    }
    if (rv == ERR_OK) {
        return store_exec(s, "COMMIT;");
    }
    sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
    return rv;
}

/* One text column of the first row of sql (parameter ?1 = arg) into buf;
 * *index gets column 1. Errors: ERR_NOT_FOUND, ERR_TOO_BIG, ERR_IO. */
static int query_text(struct store *s, const char *sql, int64_t arg, char *buf,
                      size_t cap, raft_index *index)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) > 0) {
        rc = sqlite3_bind_int64(st, 1, arg);
    }
    int rv = ERR_NOT_FOUND;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        *index = (raft_index)sqlite3_column_int64(st, 1);
        rv = ERR_TOO_BIG;
        if (len >= 0 && (size_t)len < cap) {
            memcpy(buf, p != NULL ? p : "", (size_t)len);
            buf[len] = '\0';
            rv = ERR_OK;
        }
    } else if (rc != SQLITE_DONE) {
        rv = store_fail(s, rc, "config");
    }
    sqlite3_finalize(st);
    return rv;
}

int store_snapshot_config(struct store *s, char *buf, size_t cap)
{
    raft_index index;
    return query_text(s, "SELECT config, idx FROM snapshot WHERE id = 1", 0,
                      buf, cap, &index);
}

int store_members_base(struct store *s, raft_index before, char *buf,
                       size_t cap, raft_index *index)
{
    /* Table by table, newest first: through the log view SQLite would
     * read every column of every row it passes (store_logseg_name). */
    if (s->n_segs == 0) {
        snprintf(s->errmsg, ERRMSG_LEN, "log segment list unknown");
        return ERR_IO;
    }
    for (size_t i = s->n_segs; i-- > 0;) {
        char name[STORE_LOG_SEG_NAME], sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT data, idx FROM %s WHERE op = 'config' AND idx < ?1"
                 " AND idx > coalesce((SELECT value FROM meta WHERE name ="
                 " 'compacted_index'), 0) ORDER BY idx DESC LIMIT 1",
                 store_logseg_name(s, i, name));
        int rv = query_text(s, sql, (int64_t)before, buf, cap, index);
        if (rv != ERR_NOT_FOUND) {
            return rv;
        }
    }
    return query_text(s, "SELECT config, idx FROM snapshot WHERE id = 1", 0,
                      buf, cap, index);
}
