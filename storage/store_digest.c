/*
 * The digest of the kv table that raftctl check compares across members
 * (storage/store.h, "Digest"): a second, read-only connection holds one read
 * transaction, so the digest is of one applied index while the node's own
 * connection keeps writing, and reads the rows in key order a bounded
 * number at a time. Every row's crc is checked as it is read. Read
 * node/node_check.c next, for who steps it.
 */
#include "storage/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/invariant.h"
#include "storage/row_crc.h"
#include "storage/schema.h"
#include "storage/store_int.h"

#define DIGEST_FNV_OFFSET 0xcbf29ce484222325ull
#define DIGEST_FNV_PRIME 0x100000001b3ull

struct store_digest {
    struct store *s; /* Borrowed: damage is recorded there. */
    sqlite3 *db;
    sqlite3_stmt *rows;
    raft_index applied;
    uint64_t n_rows;
    uint64_t digest; /* FNV-1a over each row's crc, in key order. */
    bool is_done;
};

void store_digest_free(struct store_digest *d)
{
    if (d == NULL) {
        return;
    }
    if (d->s != NULL) {
        d->s->n_digests--;
    }
    sqlite3_finalize(d->rows);
    if (d->db != NULL) {
        /* A read transaction: ending it changes nothing. */
        (void)sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(d->db);
    }
    free(d);
}

/* Opens the read-only connection and its read transaction at the applied
 * index. Errors: ERR_IO (errmsg in s). */
static int digest_open(struct store_digest *d)
{
    struct store *s = d->s;
    int rc = sqlite3_open_v2(s->path, &d->db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_busy_timeout(d->db, 1000);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(d->db, "BEGIN", NULL, NULL, NULL);
    }
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(d->db,
                                "SELECT value FROM meta"
                                " WHERE name = 'applied_index'",
                                -1, &st, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st) == SQLITE_ROW ? SQLITE_OK : SQLITE_ERROR;
    }
    if (rc == SQLITE_OK) {
        d->applied = (raft_index)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(d->db,
                                "SELECT " SCHEMA_KV_CRC_COLUMNS
                                ", crc FROM kv ORDER BY key",
                                -1, &d->rows, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(s->errmsg, ERRMSG_LEN, "kv digest: %s",
                 d->db != NULL ? sqlite3_errmsg(d->db) : "cannot open");
        return ERR_IO;
    }
    return ERR_OK;
}

int store_digest_begin(struct store *s, struct store_digest **out)
{
    ASSERT(s != NULL);
    ASSERT(out != NULL);
    struct store_digest *d = calloc(1, sizeof *d);
    if (d == NULL) {
        return ERR_NOMEM;
    }
    d->s = s;
    s->n_digests++; /* Its connection's read lock (store_ckpt.c). */
    d->digest = DIGEST_FNV_OFFSET;
    int err = digest_open(d);
    if (err != ERR_OK) {
        store_digest_free(d);
        return err;
    }
    *out = d;
    return ERR_OK;
}

/* Folds one row's checksum into the digest. */
static void digest_add(struct store_digest *d, uint32_t crc)
{
    for (int i = 0; i < 4; i++) {
        d->digest ^= (crc >> (8 * i)) & 0xffu;
        d->digest *= DIGEST_FNV_PRIME;
    }
    d->n_rows++;
}

int store_digest_step(struct store_digest *d, size_t rows_max, bool *done)
{
    ASSERT(d != NULL);
    ASSERT(rows_max >= 1);
    int rc = SQLITE_ROW;
    for (size_t i = 0; i < rows_max && !d->is_done; i++) {
        rc = sqlite3_step(d->rows);
        if (rc == SQLITE_DONE) {
            d->is_done = true;
            break;
        }
        if (rc != SQLITE_ROW) {
            snprintf(d->s->errmsg, ERRMSG_LEN, "kv digest: %s",
                     sqlite3_errmsg(d->db));
            return ERR_IO;
        }
        if (!row_crc_check(d->rows, 0, 2, 2)) {
            const uint8_t *key = NULL;
            uint32_t key_len = 0;
            if (schema_column_bytes(d->rows, 0, &key, &key_len) != ERR_OK) {
                return store_damaged(d->s, "kv (key not text or blob)",
                                     d->n_rows);
            }
            return store_damaged_kv(d->s, key, key_len);
        }
        digest_add(d, (uint32_t)sqlite3_column_int64(d->rows, 2));
    }
    *done = d->is_done;
    return ERR_OK;
}

void store_digest_result(const struct store_digest *d, raft_index *applied,
                         uint64_t *n_rows, uint64_t *digest)
{
    ASSERT(d != NULL);
    ASSERT(d->is_done);
    *applied = d->applied;
    *n_rows = d->n_rows;
    *digest = d->digest;
}
