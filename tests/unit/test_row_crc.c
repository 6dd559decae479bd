/*
 * Row checksums (storage/row_crc.c) and what the store does with them: the
 * CRC-32C of the standard check string, fields that differ only in type,
 * and a log or kv row changed behind the store's back (as the sqlite3 shell
 * would) that load, fetch and get refuse with ERR_DAMAGED, never serving
 * the changed bytes.
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

/* Three put entries (k1..k3 = v1..v3) in the log, the first two applied. */
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
                           " raft_row_crc(" SCHEMA_KV_CRC_COLUMNS "))",
                           -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    assert_int_equal(sqlite3_column_int(st, 1), 2);
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

/* A changed log row: load and fetch refuse it, naming the index. */
static void test_row_crc_damaged_log_refused(void **state)
{
    struct fixture *f = *state;
    fill(f);
    shell(f->path, "UPDATE log SET value = 'v9' WHERE idx = 3");
    open_store(f, STORE_OPEN_EXISTING);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_DAMAGED);
    assert_non_null(strstr(store_errmsg(f->s), "log row 3"));
    struct raft_entry out[3];
    size_t n = 0;
    assert_int_equal(store_fetch(f->s, 1, 2, 1 << 20, out, 3, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_fetch(f->s, 1, 3, 1 << 20, out, 3, &n),
                     ERR_DAMAGED);
}

/* A changed kv row: no snapshot image is made of it. */
static void test_row_crc_damaged_kv_no_image(void **state)
{
    struct fixture *f = *state;
    fill(f);
    shell(f->path, "UPDATE kv SET value = 'v9' WHERE key = 'k1'");
    char out[160], em[ERRMSG_LEN] = "";
    snprintf(out, sizeof out, "%s.snap", f->path);
    struct snapshot_make_info info;
    assert_int_equal(snapshot_make_file(f->path, out, "voters 2", &info, em),
                     ERR_DAMAGED);
    assert_non_null(strstr(em, "damaged: kv row"));
    assert_int_not_equal(access(out, F_OK), 0);
    char tmp[170];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    (void)unlink(tmp);
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

/* A version 3 file gains the checksums of its rows as they are. */
static void test_row_crc_upgrade_from_version_3(void **state)
{
    struct fixture *f = *state;
    fill(f);
    shell(f->path, "DROP VIEW kv; DROP INDEX kv_data_by_ref;"
                   " ALTER TABLE kv_data DROP COLUMN ref;"
                   " ALTER TABLE kv_data RENAME TO kv;"
                   " ALTER TABLE log DROP COLUMN crc;"
                   " ALTER TABLE kv DROP COLUMN crc;"
                   " PRAGMA user_version = 3;");
    open_store(f, STORE_OPEN_EXISTING);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.n_entries, 3);
    store_loaded_free(&l);
    const uint8_t *value = NULL;
    uint32_t len = 0;
    assert_int_equal(store_kv_get(f->s, (const uint8_t *)"k2", 2, &value, &len),
                     ERR_OK);
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
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
