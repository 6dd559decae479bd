/*
 * Row checksums (storage/row_crc.c) and what the store does with them: the
 * CRC-32C of the standard check string, fields that differ only in type,
 * and a log, kv, session or raft_state row changed behind the store's back
 * (as the sqlite3 shell would) that load, fetch, get and the session
 * lookups refuse with ERR_DAMAGED, never serving the changed bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include <sqlite3.h>

#include "common/command.h"
#include "common/err.h"
#include "common/msg.h"
#include "storage/row_crc.h"
#include "storage/schema.h"
#include "storage/snapshot_make.h"
#include "storage/store.h"

#define CLUSTER 0x1234ull
#define NODE 2

struct fixture {
    char dir[64];
    char path[128];
    struct store *s;
    uint8_t payload[3][64];
    struct raft_entry entries[3];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_row_crc.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/node2.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    const char *suffix[] = {"", "-wal", "-shm", ".lock"};
    for (int i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        (void)unlink(p);
    }
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

static void open_store(struct fixture *f, int mode)
{
    char em[ERRMSG_LEN];
    if (store_open(f->path, CLUSTER, NODE, mode, &f->s, em) != ERR_OK) {
        fail_msg("store_open: %s", em);
    }
}

/* Runs one statement on another connection, as the sqlite3 shell would. */
static void shell(const char *path, const char *query)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *em = NULL;
    if (sqlite3_exec(db, query, NULL, NULL, &em) != SQLITE_OK) {
        fail_msg("%s: %s", query, em);
    }
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Three put entries (k1..k3 = v1..v3) in the log, the first two applied;
 * term 1, vote NODE; sessions 7 (seq 3, written by put) and 2 (registered
 * by the entry at index 2). */
static void fill(struct fixture *f)
{
    open_store(f, STORE_OPEN_CREATE);
    for (int i = 0; i < 3; i++) {
        char key[8], value[8];
        snprintf(key, sizeof key, "k%d", i + 1);
        snprintf(value, sizeof value, "v%d", i + 1);
        struct command c;
        memset(&c, 0, sizeof(c));
        c.op = COMMAND_OP_PUT;
        c.key = (const uint8_t *)key;
        c.key_len = 2;
        c.value = (const uint8_t *)value;
        c.value_len = 2;
        size_t len = 0;
        assert_int_equal(command_encode(&c, f->payload[i],
                                        sizeof f->payload[i], &len),
                         ERR_OK);
        f->entries[i] = (struct raft_entry){1, RAFT_ENTRY_NORMAL,
                                            (uint32_t)len, f->payload[i]};
    }
    struct store_batch b = {true, 1, NODE, 0, 1, 3, f->entries};
    assert_int_equal(store_persist(f->s, &b), ERR_OK);
    assert_int_equal(store_kv_begin(f->s), ERR_OK);
    assert_int_equal(
        store_kv_put(f->s, (const uint8_t *)"k1", 2, (const uint8_t *)"v1", 2),
        ERR_OK);
    assert_int_equal(
        store_kv_put(f->s, (const uint8_t *)"k2", 2, (const uint8_t *)"v2", 2),
        ERR_OK);
    assert_int_equal(store_session_put(f->s, 7, 3, 0), ERR_OK);
    assert_int_equal(store_session_register(f->s, 2, 100), ERR_OK);
    assert_int_equal(store_kv_commit(f->s, 2), ERR_OK);
    store_close(f->s);
    f->s = NULL;
}

static void test_row_crc_known_value(void **state)
{
    (void)state;
    /* The CRC-32C check value (RFC 3720 appendix B.4 family). */
    assert_int_equal(row_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(row_crc32c(0, "", 0), 0);
    /* Continuing equals one pass, whatever the split. */
    uint32_t c = row_crc32c(0, "1234", 4);
    assert_int_equal(row_crc32c(c, "56789", 5), 0xe3069283u);
}

/* The table path gives what the instruction gives, at every length and
 * alignment, continued or not. */
static void test_row_crc_portable_matches(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t)(i * 131u + 7u);
    }
    assert_int_equal(row_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    for (size_t at = 0; at < 8; at++) {
        for (size_t len = 0; len + at <= sizeof buf; len += 7) {
            uint32_t seed = (uint32_t)(len * 2654435761u);
            assert_int_equal(row_crc32c_portable(seed, buf + at, len),
                             row_crc32c(seed, buf + at, len));
        }
    }
}

/* TEXT '1', BLOB x'31', INTEGER 1 and NULL give four checksums. */
static void test_row_crc_types_differ(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(row_crc_register(db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT raft_row_crc('1'),"
                                        " raft_row_crc(x'31'), raft_row_crc(1),"
                                        " raft_row_crc(NULL),"
                                        " raft_row_crc('a', 'b'),"
                                        " raft_row_crc('ab', '')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    for (int i = 0; i < 6; i++) {
        for (int j = i + 1; j < 6; j++) {
            assert_true(sqlite3_column_int64(st, i) !=
                        sqlite3_column_int64(st, j));
        }
        assert_true(sqlite3_column_int64(st, i) >= 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Every row written carries the checksum of its columns. */
static void test_row_crc_written_rows_match(void **state)
{
    struct fixture *f = *state;
    fill(f);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(row_crc_register(db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM log WHERE crc ="
                           " raft_row_crc(" SCHEMA_LOG_CRC_COLUMNS ")),"
                           " (SELECT count(*) FROM kv WHERE crc ="
                           " raft_row_crc(" SCHEMA_KV_CRC_COLUMNS ")),"
                           " (SELECT count(*) FROM raft_state WHERE crc ="
                           " raft_row_crc(" SCHEMA_STATE_CRC_COLUMNS ")),"
                           " (SELECT count(*) FROM sessions WHERE crc ="
                           " raft_row_crc(" SCHEMA_SESSION_CRC_COLUMNS "))",
                           -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    assert_int_equal(sqlite3_column_int(st, 1), 2);
    assert_int_equal(sqlite3_column_int(st, 2), 1);
    assert_int_equal(sqlite3_column_int(st, 3), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A changed value in a kv row: get refuses it, naming the key. */
static void test_row_crc_damaged_kv_never_served(void **state)
{
    struct fixture *f = *state;
    fill(f);
    shell(f->path, "UPDATE kv SET value = 'v9' WHERE key = 'k2'");
    open_store(f, STORE_OPEN_EXISTING);
    const uint8_t *value = NULL;
    uint32_t len = 0;
    assert_int_equal(store_kv_get(f->s, (const uint8_t *)"k1", 2, &value, &len),
                     ERR_OK);
    assert_memory_equal(value, "v1", 2);
    value = NULL;
    assert_int_equal(store_kv_get(f->s, (const uint8_t *)"k2", 2, &value, &len),
                     ERR_DAMAGED);
    assert_null(value);
    assert_non_null(strstr(store_errmsg(f->s), "kv row of key 'k2'"));
}

/* Fills the store, applies edit with the sqlite3 shell, opens it and
 * sees the load refuse it with an error containing what. */
static void load_damaged(struct fixture *f, const char *edit, const char *what)
{
    fill(f);
    shell(f->path, edit);
    open_store(f, STORE_OPEN_EXISTING);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_DAMAGED);
    assert_non_null(strstr(store_errmsg(f->s), what));
    assert_non_null(store_damage(f->s));
}

/* A changed log row: load and fetch refuse it, naming the index. */
static void test_row_crc_damaged_log_refused(void **state)
{
    struct fixture *f = *state;
    load_damaged(f, "UPDATE log SET value = 'v9' WHERE idx = 3", "log row 3");
    struct raft_entry out[3];
    size_t n = 0;
    assert_int_equal(store_fetch(f->s, 1, 2, 1 << 20, out, 3, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_fetch(f->s, 1, 3, 1 << 20, out, 3, &n),
                     ERR_DAMAGED);
}

/* Making a snapshot image of f's database fails ERR_DAMAGED with an error
 * containing why, and leaves no image. */
static void assert_no_image(struct fixture *f, const char *why)
{
    char out[160], em[ERRMSG_LEN] = "";
    snprintf(out, sizeof out, "%s.snap", f->path);
    struct snapshot_make_info info;
    assert_int_equal(snapshot_make_file(f->path, out, "voters 2", &info, em),
                     ERR_DAMAGED);
    assert_non_null(strstr(em, why));
    assert_int_not_equal(access(out, F_OK), 0);
    char tmp[170];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    (void)unlink(tmp);
}

/* A changed term or vote: the load at startup refuses it. */
static void test_row_crc_damaged_raft_state_refused(void **state)
{
    struct fixture *f = *state;
    const char *const edits[] = {
        "UPDATE raft_state SET current_term = 9",
        "UPDATE raft_state SET voted_for = 3",
        "UPDATE raft_state SET voted_for = NULL",
        "UPDATE raft_state SET crc = crc + 1",
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        load_damaged(f, edits[i], "raft_state row 1");
        store_close(f->s);
        f->s = NULL;
        char p[160];
        snprintf(p, sizeof p, "%s-wal", f->path);
        (void)unlink(p);
        snprintf(p, sizeof p, "%s-shm", f->path);
        (void)unlink(p);
        assert_int_equal(unlink(f->path), 0);
    }
}

/* A changed session row: the load refuses it, and so do a lookup by
 * client id (the state machine's, through get and find) and a snapshot
 * image; the other session still reads. */
static void test_row_crc_damaged_session_refused(void **state)
{
    struct fixture *f = *state;
    load_damaged(f, "UPDATE sessions SET seq = 4 WHERE client_id = 7",
                 "sessions row 7");
    uint64_t seq = 0;
    uint8_t status = 0;
    assert_int_equal(store_session_get(f->s, 2, &seq, &status), ERR_OK);
    assert_int_equal(store_session_get(f->s, 7, &seq, &status), ERR_DAMAGED);
    assert_int_equal(seq, 0);
    store_close(f->s);
    open_store(f, STORE_OPEN_EXISTING);
    struct store_session found;
    assert_int_equal(store_session_find(f->s, 2, &found), ERR_OK);
    assert_int_equal(found.last_index, 2);
    assert_int_equal(store_session_find(f->s, 7, &found), ERR_DAMAGED);
    assert_non_null(strstr(store_damage(f->s), "sessions row 7"));
    store_close(f->s);
    f->s = NULL;
    assert_no_image(f, "damaged: sessions row 7");
}

/* A changed kv row: no snapshot image is made of it. */
static void test_row_crc_damaged_kv_no_image(void **state)
{
    struct fixture *f = *state;
    fill(f);
    shell(f->path, "UPDATE kv SET value = 'v9' WHERE key = 'k1'");
    assert_no_image(f, "damaged: kv row");
}

/* Digests the kv table one row per step; returns the digest. */
static uint64_t digest_of(struct fixture *f, int expect_err)
{
    struct store_digest *d = NULL;
    assert_int_equal(store_digest_begin(f->s, &d), ERR_OK);
    bool done = false;
    int err = ERR_OK;
    for (int i = 0; i < 10 && !done && err == ERR_OK; i++) {
        err = store_digest_step(d, 1, &done);
    }
    assert_int_equal(err, expect_err);
    uint64_t value = 0;
    if (err == ERR_OK) {
        assert_true(done);
        raft_index applied = 0;
        uint64_t n_rows = 0;
        store_digest_result(d, &applied, &n_rows, &value);
        assert_int_equal(applied, 2);
        assert_int_equal(n_rows, 2);
    }
    store_digest_free(d);
    return value;
}

/* The digest is of the rows: the same again, another with a changed row
 * (crc made to match, as a diverged but well-formed member would have),
 * and ERR_DAMAGED, recorded in store_damage, for a row that fails. */
static void test_row_crc_digest(void **state)
{
    struct fixture *f = *state;
    fill(f);
    open_store(f, STORE_OPEN_EXISTING);
    uint64_t first = digest_of(f, ERR_OK);
    assert_true(first == digest_of(f, ERR_OK));
    store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(row_crc_register(db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE kv SET value = 'v9', crc ="
                                  " raft_row_crc(key, 'v9') WHERE key = 'k2'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    open_store(f, STORE_OPEN_EXISTING);
    assert_true(digest_of(f, ERR_OK) != first);
    assert_null(store_damage(f->s));
    store_close(f->s);
    f->s = NULL;
    shell(f->path, "UPDATE kv SET value = 'v8' WHERE key = 'k2'");
    open_store(f, STORE_OPEN_EXISTING);
    (void)digest_of(f, ERR_DAMAGED);
    assert_non_null(store_damage(f->s));
    assert_non_null(strstr(store_damage(f->s), "key 'k2'"));
}

/* Fills the store, turns it into an older version with the sqlite3 shell
 * (older), opens it (the upgrade) and loads it into *l. */
static void load_upgraded(struct fixture *f, const char *older,
                          struct store_loaded *l)
{
    fill(f);
    shell(f->path, older);
    open_store(f, STORE_OPEN_EXISTING);
    assert_int_equal(store_load(f->s, l), ERR_OK);
}

/* A current file made version 3 (no crc anywhere), and version 4 (crc on
 * log and kv only, a session changed meanwhile); both first undo versions
 * 7 (the log view back to the table) and 6 (kv_data and the kv view back
 * to the kv table). */
#define UNDO_V6                                                                \
    "DROP VIEW kv; DROP VIEW log; ALTER TABLE log_from_1 RENAME TO log;"       \
    " DROP INDEX kv_data_by_ref;"                                              \
    " ALTER TABLE kv_data DROP COLUMN ref;"                                    \
    " ALTER TABLE kv_data RENAME TO kv;"
static const char to_version_3[] = UNDO_V6
                                   " ALTER TABLE log DROP COLUMN crc;"
                                   " ALTER TABLE kv DROP COLUMN crc;"
                                   " ALTER TABLE raft_state DROP COLUMN crc;"
                                   " ALTER TABLE sessions DROP COLUMN crc;"
                                   " PRAGMA user_version = 3;";
static const char to_version_4[] =
    UNDO_V6 " ALTER TABLE raft_state DROP COLUMN crc;"
    " ALTER TABLE sessions DROP COLUMN crc;"
    " UPDATE sessions SET seq = 5 WHERE client_id = 7;"
    " PRAGMA user_version = 4;";

/* A version 3 file gains the checksums of its rows as they are. */
static void test_row_crc_upgrade_from_version_3(void **state)
{
    struct fixture *f = *state;
    struct store_loaded l;
    load_upgraded(f, to_version_3, &l);
    assert_int_equal(l.n_entries, 3);
    store_loaded_free(&l);
    const uint8_t *value = NULL;
    uint32_t len = 0;
    assert_int_equal(store_kv_get(f->s, (const uint8_t *)"k2", 2, &value, &len),
                     ERR_OK);
}

/* A version 4 file gains the checksums of its raft_state and session rows
 * as they are, then refuses a later change to them. */
static void test_row_crc_upgrade_from_version_4(void **state)
{
    struct fixture *f = *state;
    struct store_loaded l;
    load_upgraded(f, to_version_4, &l);
    assert_int_equal(l.term, 1);
    assert_int_equal(l.voted_for, NODE);
    store_loaded_free(&l);
    uint64_t seq = 0;
    uint8_t status = 0;
    assert_int_equal(store_session_get(f->s, 7, &seq, &status), ERR_OK);
    assert_int_equal(seq, 5);
    store_close(f->s);
    f->s = NULL;
    shell(f->path, "UPDATE sessions SET seq = 6 WHERE client_id = 7");
    open_store(f, STORE_OPEN_EXISTING);
    assert_int_equal(store_session_get(f->s, 7, &seq, &status), ERR_DAMAGED);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_crc_known_value),
        cmocka_unit_test(test_row_crc_portable_matches),
        cmocka_unit_test(test_row_crc_types_differ),
        T(test_row_crc_written_rows_match),
        T(test_row_crc_damaged_kv_never_served),
        T(test_row_crc_damaged_log_refused),
        T(test_row_crc_damaged_kv_no_image),
        T(test_row_crc_digest),
        T(test_row_crc_upgrade_from_version_3),
        T(test_row_crc_upgrade_from_version_4),
        T(test_row_crc_damaged_raft_state_refused),
        T(test_row_crc_damaged_session_refused),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
