/*
 * Unit tests of the store's deferred-sync write queue (storage/
 * store_persist.c): with store_set_deferred_sync, store_persist only
 * copies a batch; store_write_queue writes everything queued in one
 * transaction, in order (truncations included), with the latest hard
 * state; and every path that reads the log or writes what depends on it
 * writes the queue first: store_fetch, the kv apply transaction (so the
 * WAL keeps log rows ahead of the applied state) and store_close; a failed
 * queue write fails every later write. Another connection (the sqlite3
 * shell's view) checks what is really in the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <unistd.h>

#include "common/err.h"
#include "common/msg.h"
#include "storage/store.h"

#define CLUSTER 0x1234u
#define NODE 1

struct fixture {
    char dir[64];
    char path[128];
    struct store *s;
    uint8_t data[8][16];
    struct raft_entry e[8];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_store_queue.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/node1.db", f->dir);
    char em[ERRMSG_LEN];
    assert_int_equal(
        store_open(f->path, CLUSTER, NODE, STORE_OPEN_CREATE, &f->s, em),
        ERR_OK);
    assert_true(store_sync_fd(f->s) >= 0);
    store_set_deferred_sync(f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Entry i: a no-op-like opaque entry of term with one distinctive byte. */
static struct raft_entry *entry(struct fixture *f, int i, raft_term term,
                                uint8_t tag)
{
    memset(f->data[i], tag, sizeof f->data[i]);
    f->e[i] = (struct raft_entry){term, RAFT_ENTRY_NOOP, sizeof f->data[i],
                                  f->data[i]};
    return &f->e[i];
}

static void persist(struct fixture *f, raft_term term, raft_index trunc,
                    raft_index first, int from, int n)
{
    struct store_batch b = {.has_hard_state = term != 0,
                            .term = term,
                            .voted_for = NODE,
                            .truncate_from = trunc,
                            .entries_first_index = first,
                            .n_entries = (size_t)n,
                            .entries = &f->e[from]};
    assert_int_equal(store_persist(f->s, &b), ERR_OK);
}

/* What another connection sees: "idx:term:first data byte" per row. */
static void shell_log(const struct fixture *f, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT idx, term, data FROM log "
                                        "ORDER BY idx",
                                        -1, &st, NULL),
                     SQLITE_OK);
    out[0] = '\0';
    size_t used = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *d = sqlite3_column_blob(st, 2);
        int w = snprintf(out + used, cap - used, "%lld:%lld:%d ",
                         sqlite3_column_int64(st, 0),
                         sqlite3_column_int64(st, 1), d != NULL ? d[0] : -1);
        assert_true(w > 0 && (size_t)w < cap - used);
        used += (size_t)w;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_queue_written_in_order_by_write_queue(void **state)
{
    struct fixture *f = *state;
    char got[256];
    entry(f, 0, 1, 10);
    entry(f, 1, 1, 11);
    persist(f, 1, 0, 1, 0, 2);
    entry(f, 2, 1, 12);
    persist(f, 0, 0, 3, 2, 1);
    assert_int_equal(store_queued(f->s), 3);
    shell_log(f, got, sizeof got);
    assert_string_equal(got, ""); /* Only queued. */
    /* A new term truncates 2.. and rewrites it; the queue keeps order. */
    entry(f, 3, 2, 20);
    persist(f, 2, 2, 2, 3, 1);
    assert_int_equal(store_write_queue(f->s), ERR_OK);
    assert_int_equal(store_queued(f->s), 0);
    shell_log(f, got, sizeof got);
    assert_string_equal(got, "1:1:10 2:2:20 ");
    assert_int_equal(store_write_queue(f->s), ERR_OK); /* Empty: no-op. */
    /* The latest hard state won. */
    struct store_loaded l;
    store_close(f->s);
    char em[ERRMSG_LEN];
    assert_int_equal(
        store_open(f->path, CLUSTER, NODE, STORE_OPEN_EXISTING, &f->s, em),
        ERR_OK);
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.term, 2);
    assert_int_equal(l.n_entries, 2);
    store_loaded_free(&l);
}

static void test_queue_copies_payloads(void **state)
{
    struct fixture *f = *state;
    char got[256];
    entry(f, 0, 1, 7);
    persist(f, 1, 0, 1, 0, 1);
    memset(f->data[0], 99, sizeof f->data[0]); /* The core reuses it. */
    assert_int_equal(store_write_queue(f->s), ERR_OK);
    shell_log(f, got, sizeof got);
    assert_string_equal(got, "1:1:7 ");
}

static void test_fetch_reads_queued_entries(void **state)
{
    struct fixture *f = *state;
    entry(f, 0, 1, 30);
    entry(f, 1, 1, 31);
    persist(f, 1, 0, 1, 0, 2);
    struct raft_entry out[4];
    size_t n = 0;
    assert_int_equal(store_fetch(f->s, 1, 2, 100000, out, 4, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[1].data[0], 31);
    assert_int_equal(store_queued(f->s), 0);
}

static void test_kv_transaction_writes_log_first(void **state)
{
    struct fixture *f = *state;
    char got[256];
    entry(f, 0, 1, 40);
    entry(f, 1, 1, 41);
    persist(f, 1, 0, 1, 0, 2);
    assert_int_equal(store_kv_begin(f->s), ERR_OK);
    /* Already visible to others before the apply commits. */
    shell_log(f, got, sizeof got);
    assert_string_equal(got, "1:1:40 2:1:41 ");
    assert_int_equal(
        store_kv_put(f->s, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1),
        ERR_OK);
    assert_int_equal(store_kv_commit(f->s, 2), ERR_OK);
}

static void test_close_writes_the_queue(void **state)
{
    struct fixture *f = *state;
    char got[256];
    entry(f, 0, 3, 50);
    persist(f, 3, 0, 1, 0, 1);
    store_close(f->s);
    f->s = NULL;
    shell_log(f, got, sizeof got);
    assert_string_equal(got, "1:3:50 ");
    char em[ERRMSG_LEN];
    assert_int_equal(
        store_open(f->path, CLUSTER, NODE, STORE_OPEN_EXISTING, &f->s, em),
        ERR_OK);
}

/* Writing the queue fails (another connection holds the write lock past
 * the busy timeout, as a sqlite3 shell in a transaction would) while a
 * fetch asked for it: the batches are lost, so the store must never again
 * report a persist or a queue write as done, even once the lock is gone. */
static void test_failed_queue_write_is_sticky(void **state)
{
    struct fixture *f = *state;
    entry(f, 0, 1, 60);
    persist(f, 1, 0, 1, 0, 1);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    struct raft_entry out[2];
    size_t n = 0;
    assert_int_not_equal(store_fetch(f->s, 1, 1, 100000, out, 2, &n), ERR_OK);
    assert_true(store_write_failed(f->s));
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_write_queue(f->s), ERR_IO);
    entry(f, 1, 1, 61);
    struct store_batch b = {
        .entries_first_index = 2, .n_entries = 1, .entries = &f->e[1]};
    assert_int_equal(store_persist(f->s, &b), ERR_IO);
    assert_int_equal(store_write_queue(f->s), ERR_IO);
    assert_true(store_write_failed(f->s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_queue_written_in_order_by_write_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_copies_payloads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fetch_reads_queued_entries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kv_transaction_writes_log_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_writes_the_queue, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_queue_write_is_sticky,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
