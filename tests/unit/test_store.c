/*
 * Unit tests of storage/ on temporary files (a mkdtemp directory under /tmp,
 * removed after each test): create, persist, reload and truncate; apply
 * atomicity and sessions; refusal of foreign, other-node, wrong-version,
 * garbage and missing files without touching their bytes; TEXT vs BLOB
 * keys; the readable log columns as the sqlite3 shell sees them; the lock
 * against a second opener.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/command.h"
#include "common/err.h"
#include "common/msg.h"
#include "node/kv.h"
#include "node/node_kv.h"
#include "storage/row_crc.h"
#include "storage/schema.h"
#include "storage/store.h"

#define CLUSTER 0xfedcba9876543210ull /* Above INT64_MAX on purpose. */
#define NODE 1
#define N_PAYLOADS 16

struct fixture {
    char dir[64];
    char path[128];
    struct store *s;
    char errmsg[ERRMSG_LEN];
    uint8_t payload[N_PAYLOADS][256];
    struct raft_entry entries[N_PAYLOADS];
    bool is_sessionless; /* cmd_entry: client 0, not 100 + i. */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/node1.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) {
            continue;
        }
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", f->dir, ent->d_name);
        assert_int_equal(unlink(p), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

static void open_store(struct fixture *f, int mode)
{
    int rc = store_open(f->path, CLUSTER, NODE, mode, &f->s, f->errmsg);
    if (rc != ERR_OK) {
        fail_msg("store_open: %s", f->errmsg);
    }
}

static void reopen(struct fixture *f)
{
    store_close(f->s);
    f->s = NULL;
    open_store(f, STORE_OPEN_EXISTING);
}

/* Fills entry i with a kv command (op PUT/DEL/CAS) of client 100 + i, or
 * of no session (client 0) when the test applies it: sessions are
 * registered through the log (node/kv.h), and 100 + i never was. */
static struct raft_entry *cmd_entry(struct fixture *f, int i, raft_term term,
                                    uint8_t op, const char *key,
                                    const char *value, const char *expected)
{
    struct command c;
    memset(&c, 0, sizeof(c));
    c.op = op;
    c.client_id = f->is_sessionless ? 0 : 100 + (uint64_t)i;
    c.seq = 1;
    c.key = (const uint8_t *)key;
    c.key_len = (uint32_t)strlen(key);
    c.value = (const uint8_t *)value;
    c.value_len = value != NULL ? (uint32_t)strlen(value) : 0;
    c.expected = (const uint8_t *)expected;
    c.expected_len = expected != NULL ? (uint32_t)strlen(expected) : 0;
    size_t len = 0;
    assert_int_equal(
        command_encode(&c, f->payload[i], sizeof(f->payload[i]), &len), ERR_OK);
    f->entries[i] = (struct raft_entry){term, RAFT_ENTRY_NORMAL, (uint32_t)len,
                                        f->payload[i]};
    return &f->entries[i];
}

static void other_entry(struct fixture *f, int i, raft_term term, uint8_t type)
{
    f->entries[i] = (struct raft_entry){term, type, 0, NULL};
}

static void persist(struct fixture *f, raft_term term, raft_id vote,
                    raft_index truncate_from, raft_index first, int from, int n)
{
    struct store_batch b = {
        .has_hard_state = term != 0,
        .term = term,
        .voted_for = vote,
        .truncate_from = truncate_from,
        .entries_first_index = first,
        .n_entries = (size_t)n,
        .entries = &f->entries[from],
    };
    int rc = store_persist(f->s, &b);
    if (rc != ERR_OK) {
        fail_msg("store_persist: %s", store_errmsg(f->s));
    }
}

/* Runs sql on a separate connection (as the sqlite3 shell would) and
 * returns its first row as "col|col|..." with NULL for nulls, or "" when
 * there is no row. */
static const char *sql(const char *path, const char *query)
{
    static char out[512];
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    assert_int_equal(row_crc_register(db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("%s: %s", query, sqlite3_errmsg(db));
    }
    out[0] = '\0';
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const unsigned char *t = sqlite3_column_text(st, c);
            size_t used = strlen(out);
            snprintf(out + used, sizeof(out) - used, "%s%s", c ? "|" : "",
                     t != NULL ? (const char *)t : "NULL");
        }
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fail_msg("%s: %s", query, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return out;
}

/* FNV-1a of a file's bytes (and its size), to prove it was not modified. */
static uint64_t file_sum(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint64_t h = 0xcbf29ce484222325ull;
    int c;
    uint64_t n = 0;
    while ((c = fgetc(fp)) != EOF) {
        h = (h ^ (uint8_t)c) * 0x100000001b3ull;
        n++;
    }
    fclose(fp);
    return h ^ n;
}

/* The table raftnode applies through (node/node_kv.c), so kv_apply runs
 * over the store as it does in the runtime. */
static const struct kv_store_ops *ops(void)
{
    return node_kv_ops();
}

/* A new file loads as an empty node: term 0, no vote, empty log. */
static void test_store_create_then_reopen_loads_empty_state(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    reopen(f);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.term, 0);
    assert_int_equal(l.voted_for, RAFT_ID_NONE);
    assert_int_equal(l.n_entries, 0);
    assert_int_equal(l.first_index, 1);
    assert_int_equal(l.applied, 0);
    assert_int_equal(l.snapshot_index, 0);
    store_loaded_free(&l);
    assert_string_equal(sql(f->path, "PRAGMA journal_mode"), "wal");
    assert_string_equal(sql(f->path, "SELECT current_term, voted_for"
                                     " FROM raft_state"),
                        "0|NULL");
}

/* Hard state and every kind of entry survive close and reopen, byte for
 * byte, with their types. */
static void test_store_persist_survives_reopen(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    other_entry(f, 0, 1, RAFT_ENTRY_NOOP);
    cmd_entry(f, 1, 2, COMMAND_OP_PUT, "k", "v", NULL);
    cmd_entry(f, 2, 3, COMMAND_OP_CAS, "k", "w", "v");
    cmd_entry(f, 3, 3, COMMAND_OP_DEL, "k", NULL, NULL);
    other_entry(f, 4, 3, RAFT_ENTRY_CONFIG);
    persist(f, 3, 2, 0, 1, 0, 3);
    persist(f, 0, 0, 0, 4, 3, 2);
    reopen(f);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.term, 3);
    assert_int_equal(l.voted_for, 2);
    assert_int_equal(l.first_index, 1);
    assert_int_equal(l.n_entries, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(l.entries[i].term, f->entries[i].term);
        assert_int_equal(l.entries[i].type, f->entries[i].type);
        assert_int_equal(l.entries[i].len, f->entries[i].len);
        if (f->entries[i].len > 0) {
            assert_memory_equal(l.entries[i].data, f->entries[i].data,
                                f->entries[i].len);
        }
    }
    store_loaded_free(&l);
}

/* A conflicting suffix is replaced: rows from truncate_from are deleted
 * and the new ones inserted in the same transaction. */
static void test_store_truncation_replaces_suffix(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    for (int i = 0; i < 5; i++) {
        cmd_entry(f, i, 1, COMMAND_OP_PUT, "k", "old", NULL);
    }
    persist(f, 1, 1, 0, 1, 0, 5);
    cmd_entry(f, 5, 2, COMMAND_OP_PUT, "k", "new3", NULL);
    cmd_entry(f, 6, 2, COMMAND_OP_PUT, "k", "new4", NULL);
    persist(f, 2, 0, 3, 3, 5, 2);
    reopen(f);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.n_entries, 4);
    assert_int_equal(l.entries[1].term, 1);
    assert_int_equal(l.entries[2].term, 2);
    assert_memory_equal(l.entries[3].data, f->entries[6].data,
                        f->entries[6].len);
    assert_int_equal(l.voted_for, RAFT_ID_NONE);
    store_loaded_free(&l);
    /* Truncation alone, and then appending right after it. */
    persist(f, 0, 0, 2, 0, 0, 0);
    assert_string_equal(sql(f->path, "SELECT count(*), max(idx) FROM log"),
                        "1|1");
    cmd_entry(f, 7, 2, COMMAND_OP_DEL, "k", NULL, NULL);
    persist(f, 0, 0, 0, 2, 7, 1);
    assert_string_equal(sql(f->path, "SELECT op FROM log WHERE idx = 2"),
                        "del");
}

/* A crash between begin and commit applies nothing: kv, sessions and the
 * applied index are as before (DESIGN.md "Durable state"). */
static void test_store_apply_is_atomic(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    f->is_sessionless = true;
    cmd_entry(f, 0, 1, COMMAND_OP_PUT, "k", "v", NULL);
    persist(f, 1, 1, 0, 1, 0, 1);
    struct kv_result r;
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(
        kv_apply(ops(), f->s, 1, f->entries[0].data, f->entries[0].len, &r),
        ERR_OK);
    const uint8_t *v;
    uint32_t len;
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"k", 1, &v, &len),
                     ERR_OK); /* Visible inside the transaction. */
    reopen(f);                /* Closing without commit: a crash. */
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"k", 1, &v, &len),
                     ERR_NOT_FOUND);
    uint64_t seq;
    uint8_t status;
    assert_int_equal(ops()->session_get(f->s, 100, &seq, &status),
                     ERR_NOT_FOUND);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.applied, 0);
    store_loaded_free(&l);
    /* Committed, it all lands together. */
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(
        kv_apply(ops(), f->s, 1, f->entries[0].data, f->entries[0].len, &r),
        ERR_OK);
    assert_int_equal(ops()->commit(f->s, 1), ERR_OK);
    reopen(f);
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"k", 1, &v, &len),
                     ERR_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(v, "v", 1);
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.applied, 1);
    store_loaded_free(&l);
}

/* A windowed load reads payloads only after applied - window and gives
 * the terms before as runs; store_fetch reads any range back, bounded by
 * the byte budget. */
static void test_store_window_load_and_fetch(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    /* Terms 1,1,2,2,2,3,3,3,3,3,3,3 at indexes 1..12. */
    static const raft_term terms[12] = {1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3};
    for (int i = 0; i < 12; i++) {
        cmd_entry(f, i, terms[i], COMMAND_OP_PUT, "key", "value", NULL);
    }
    persist(f, 3, 1, 0, 1, 0, 12);
    struct kv_result r;
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(
        kv_apply(ops(), f->s, 1, f->entries[0].data, f->entries[0].len, &r),
        ERR_OK);
    assert_int_equal(ops()->commit(f->s, 10), ERR_OK);
    reopen(f);
    struct store_loaded l;
    assert_int_equal(store_load_window(f->s, 3, &l), ERR_OK);
    assert_int_equal(l.first_index, 8);
    assert_int_equal(l.n_entries, 5);
    assert_int_equal(l.entries[0].term, 3);
    assert_int_equal(l.n_runs, 3);
    assert_int_equal(l.runs[0].first, 1);
    assert_int_equal(l.runs[0].term, 1);
    assert_int_equal(l.runs[1].first, 3);
    assert_int_equal(l.runs[1].term, 2);
    assert_int_equal(l.runs[2].first, 6);
    assert_int_equal(l.runs[2].term, 3);
    store_loaded_free(&l);
    /* Window 0 or larger than applied: everything, no runs. */
    assert_int_equal(store_load_window(f->s, 20, &l), ERR_OK);
    assert_int_equal(l.first_index, 1);
    assert_int_equal(l.n_entries, 12);
    assert_int_equal(l.n_runs, 0);
    store_loaded_free(&l);
    struct raft_entry out[8];
    size_t n = 0;
    assert_int_equal(store_fetch(f->s, 2, 6, 100000, out, 8, &n), ERR_OK);
    assert_int_equal(n, 5);
    assert_int_equal(out[0].term, 1);
    assert_int_equal(out[4].term, 3);
    assert_int_equal(out[2].len, f->entries[3].len);
    assert_memory_equal(out[2].data, f->entries[3].data, out[2].len);
    /* The budget stops after the first entry that fits, never before. */
    assert_int_equal(store_fetch(f->s, 2, 6, 1, out, 8, &n), ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_fetch(f->s, 2, 6, 100000, out, 2, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_fetch(f->s, 13, 20, 100000, out, 8, &n),
                     ERR_NOT_FOUND);
}

/* Sessions keep seq and status across restarts, uint64 ids included. */
static void test_store_sessions_round_trip(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(ops()->session_put(f->s, UINT64_MAX, UINT64_MAX - 1,
                                        CLIENT_CAS_MISMATCH),
                     ERR_OK);
    assert_int_equal(ops()->session_put(f->s, 1, 7, CLIENT_OK), ERR_OK);
    assert_int_equal(ops()->session_put(f->s, 1, 8, CLIENT_OK), ERR_OK);
    assert_int_equal(ops()->commit(f->s, 0), ERR_OK);
    reopen(f);
    uint64_t seq = 0;
    uint8_t status = 99;
    assert_int_equal(ops()->session_get(f->s, UINT64_MAX, &seq, &status),
                     ERR_OK);
    assert_true(seq == UINT64_MAX - 1);
    assert_int_equal(status, CLIENT_CAS_MISMATCH);
    assert_int_equal(ops()->session_get(f->s, 1, &seq, &status), ERR_OK);
    assert_int_equal(seq, 8);
    assert_int_equal(status, CLIENT_OK);
    assert_int_equal(ops()->session_get(f->s, 2, &seq, &status), ERR_NOT_FOUND);
}

/* Session lookups (answered from the store's cache when it can) follow
 * the table: a miss, a put inside an open transaction, the committed
 * value, a later overwrite, and the same after a restart. */
static void test_store_session_lookups_follow_puts(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    uint64_t seq = 0;
    uint8_t status = 99;
    assert_int_equal(ops()->session_get(f->s, 5, &seq, &status), ERR_NOT_FOUND);
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(ops()->session_put(f->s, 5, 3, CLIENT_OK), ERR_OK);
    assert_int_equal(ops()->session_get(f->s, 5, &seq, &status), ERR_OK);
    assert_int_equal(seq, 3);
    assert_int_equal(ops()->commit(f->s, 0), ERR_OK);
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(ops()->session_put(f->s, 5, 4, CLIENT_CAS_MISMATCH),
                     ERR_OK);
    assert_int_equal(ops()->commit(f->s, 0), ERR_OK);
    assert_int_equal(ops()->session_get(f->s, 5, &seq, &status), ERR_OK);
    assert_int_equal(seq, 4);
    assert_int_equal(status, CLIENT_CAS_MISMATCH);
    assert_string_equal(sql(f->path, "SELECT seq, status FROM sessions"),
                        "4|2");
    reopen(f);
    assert_int_equal(ops()->session_get(f->s, 5, &seq, &status), ERR_OK);
    assert_int_equal(seq, 4);
    assert_int_equal(status, CLIENT_CAS_MISMATCH);
}

/* Reads outside a write share one read transaction that stays open: a
 * read after each apply must still see that apply, and persist, apply and
 * load must all work while it is open. */
static void test_store_reads_see_every_apply(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    const uint8_t *v = NULL;
    uint32_t len = 0;
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"k", 1, &v, &len),
                     ERR_NOT_FOUND);
    f->is_sessionless = true;
    for (int i = 0; i < 3; i++) {
        char value[2] = {(char)('a' + i), '\0'};
        cmd_entry(f, i, 1, COMMAND_OP_PUT, "k", value, NULL);
        persist(f, 1, 1, 0, (raft_index)i + 1, i, 1);
        struct kv_result r;
        assert_int_equal(ops()->begin(f->s), ERR_OK);
        assert_int_equal(kv_apply(ops(), f->s, (raft_index)i + 1,
                                  f->entries[i].data, f->entries[i].len, &r),
                         ERR_OK);
        assert_int_equal(ops()->commit(f->s, (raft_index)i + 1), ERR_OK);
        assert_int_equal(ops()->get(f->s, (const uint8_t *)"k", 1, &v, &len),
                         ERR_OK);
        assert_int_equal(len, 1);
        assert_int_equal(v[0], 'a' + i);
    }
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.applied, 3);
    store_loaded_free(&l);
}

/* Bounded sessions through node_kv over SQLite (the table raftnode
 * applies through): a register entry adds the session named by its index
 * and evicts the least recently used past the entry's limit; a request of
 * the evicted session is answered SESSION_EXPIRED, not run, also after a
 * reopen. */
static void test_store_apply_expires_evicted_session(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    other_entry(f, 0, 1, RAFT_ENTRY_NOOP);
    other_entry(f, 1, 1, RAFT_ENTRY_NOOP);
    persist(f, 1, 1, 0, 1, 0, 2);
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(kv_register(ops(), f->s, 1, 1), ERR_OK);
    assert_int_equal(kv_register(ops(), f->s, 2, 1), ERR_OK); /* Evicts 1. */
    assert_int_equal(ops()->commit(f->s, 2), ERR_OK);
    struct kv_session ks;
    assert_int_equal(ops()->session_find(f->s, 1, &ks), ERR_OK);
    assert_int_equal(ks.state, KV_SESSION_NONE);
    assert_int_equal(ops()->session_find(f->s, 2, &ks), ERR_OK);
    assert_int_equal(ks.state, KV_SESSION_LIVE);
    assert_int_equal(ks.seq, 0);
    uint64_t n = 0;
    assert_int_equal(ops()->session_count(f->s, &n), ERR_OK);
    assert_int_equal(n, 1);
    /* Session 1's write: expired, "k" stays absent; session 2's runs. */
    struct command c;
    memset(&c, 0, sizeof(c));
    c.op = COMMAND_OP_PUT;
    c.client_id = 1;
    c.seq = 1;
    c.key = (const uint8_t *)"k";
    c.key_len = 1;
    c.value = (const uint8_t *)"a";
    c.value_len = 1;
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(command_encode(&c, buf, sizeof(buf), &len), ERR_OK);
    struct kv_result r;
    cmd_entry(f, 2, 1, COMMAND_OP_PUT, "x", "y", NULL);
    persist(f, 1, 1, 0, 3, 2, 1);
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(kv_apply(ops(), f->s, 3, buf, len, &r), ERR_OK);
    assert_int_equal(r.status, CLIENT_SESSION_EXPIRED);
    assert_int_equal(ops()->commit(f->s, 3), ERR_OK);
    const uint8_t *v = NULL;
    uint32_t vlen = 0;
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"k", 1, &v, &vlen),
                     ERR_NOT_FOUND);
    reopen(f);
    assert_int_equal(ops()->session_find(f->s, 1, &ks), ERR_OK);
    assert_int_equal(ks.state, KV_SESSION_NONE);
    assert_int_equal(ops()->session_find(f->s, 2, &ks), ERR_OK);
    assert_int_equal(ks.state, KV_SESSION_LIVE);
}

/* The WAL file is zero-filled ahead of SQLite's frames (store_wal.c), and
 * a crash leaves those zeros behind: reopening must recover every
 * committed transaction and ignore them. */
static void test_store_wal_zeros_ahead_survive_a_crash(void **state)
{
    struct fixture *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *s = NULL;
        char errmsg[ERRMSG_LEN];
        if (store_open(f->path, CLUSTER, NODE, STORE_OPEN_CREATE, &s, errmsg) !=
            ERR_OK) {
            _exit(1);
        }
        for (raft_index i = 1; i <= 40; i++) {
            struct raft_entry e = {1, RAFT_ENTRY_NOOP, 0, NULL};
            struct store_batch b = {.has_hard_state = i == 1,
                                    .term = 1,
                                    .entries_first_index = i,
                                    .n_entries = 1,
                                    .entries = &e};
            if (store_persist(s, &b) != ERR_OK || ops()->begin(s) != ERR_OK ||
                ops()->commit(s, i) != ERR_OK) {
                _exit(2);
            }
        }
        _exit(0); /* A crash: no store_close, no checkpoint. */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    struct stat sb;
    assert_int_equal(stat(wal, &sb), 0);
    assert_true(sb.st_size >= (1 << 20)); /* 80 commits need far less. */
    open_store(f, STORE_OPEN_EXISTING);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.term, 1);
    assert_int_equal(l.n_entries, 40);
    assert_int_equal(l.applied, 40);
    store_loaded_free(&l);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits (60 s at most) until the database file holds at least bytes,
 * calling nothing: only a checkpointer child can copy them meanwhile. Then
 * store_checkpoint collects its result. */
static void wait_copied(struct fixture *f, off_t bytes)
{
    uint64_t deadline = mono_ms() + 60000;
    while (file_size(f->path) < bytes && mono_ms() < deadline) {
        usleep(2000);
    }
    assert_true(file_size(f->path) >= bytes);
    while (store_checkpoint_fd(f->s) >= 0 && mono_ms() < deadline) {
        store_checkpoint(f->s); /* Collects the result once it is there. */
        usleep(1000);
    }
    assert_int_equal(store_checkpoint_fd(f->s), -1);
}

/* Writes n keys "k%05d" from first, 3500-byte values (about one 4 KiB
 * page each), in one kv transaction. */
static void put_pages(struct fixture *f, int first, int n)
{
    static uint8_t value[3500];
    memset(value, 'v', sizeof value);
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    for (int i = first; i < first + n; i++) {
        char key[16];
        int len = snprintf(key, sizeof key, "k%05d", i);
        assert_int_equal(ops()->put(f->s, (const uint8_t *)key, (uint32_t)len,
                                    value, sizeof value),
                         ERR_OK);
    }
    assert_int_equal(ops()->commit(f->s, 0), ERR_OK);
}

/* A new store with keys k00000..k06299 in 6300 pages of WAL: past the
 * checkpoint mark, well below where the commit hook would copy them
 * itself, none in the database file yet. */
static void fill_past_mark(struct fixture *f)
{
    open_store(f, STORE_OPEN_CREATE);
    for (int txn = 0; txn < 7; txn++) {
        put_pages(f, txn * 900, 900);
    }
}

/* The WAL header's checkpoint sequence number: one more each time a
 * writer starts the WAL again from its beginning. */
static uint32_t wal_restarts(struct fixture *f)
{
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    FILE *fp = fopen(wal, "rb");
    assert_non_null(fp);
    uint8_t h[16];
    assert_int_equal(fread(h, 1, sizeof h, fp), sizeof h);
    fclose(fp);
    return ((uint32_t)h[12] << 24) | ((uint32_t)h[13] << 16) |
           ((uint32_t)h[14] << 8) | h[15];
}

/* The commit that fills the WAL to the checkpoint mark does not copy it
 * into the database file (that stall would land inside the transaction a
 * caller times); store_checkpoint does, and only once one is due. */
static void test_store_checkpoint_waits_for_the_caller(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    off_t empty = file_size(f->path);
    store_checkpoint(f->s); /* Nothing due: nothing copied. */
    assert_int_equal(file_size(f->path), empty);
    for (int txn = 0; txn < 7; txn++) {
        put_pages(f, txn * 900, 900);
    }
    /* 6300 pages went into the WAL, past the mark, and none into the
     * database file. */
    assert_int_equal(file_size(f->path), empty);
    /* A read leaves the store's shared read transaction open, which the
     * child must not inherit: store_checkpoint ends it before the fork. */
    const uint8_t *v = NULL;
    uint32_t len = 0;
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"k00000", 6, &v, &len),
                     ERR_OK);
    store_checkpoint(f->s); /* Starts the child. */
    wait_copied(f, (off_t)6300 * 4096);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    store_loaded_free(&l);
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"k06299", 6, &v, &len),
                     ERR_OK);
    assert_int_equal(len, 3500);
}

/* The checkpoint runs in a child while the store keeps committing: what
 * the child could not see is copied afterwards, so the WAL still starts
 * again from its beginning, and nothing committed meanwhile is lost. */
static void test_store_checkpoint_while_writing(void **state)
{
    struct fixture *f = *state;
    fill_past_mark(f);
    uint32_t restarts = wal_restarts(f);
    store_checkpoint(f->s); /* Starts the child. */
    int next = 6300;
    put_pages(f, next, 400); /* Most likely while the child copies. */
    next += 400;
    /* One page every 20 ms: the WAL is restarted long before these
     * commits take it to four times the mark, where the commit hook
     * would copy it without any child. */
    for (int i = 0; i < 1000 && wal_restarts(f) == restarts; i++) {
        store_checkpoint(f->s);
        put_pages(f, next++, 1);
        usleep(20000);
    }
    assert_int_not_equal(wal_restarts(f), restarts);
    assert_true(file_size(f->path) >= (off_t)6700 * 4096);
    store_close(f->s);
    f->s = NULL;
    open_store(f, STORE_OPEN_EXISTING);
    for (int i = 0; i < next; i += 97) {
        char key[16];
        int n = snprintf(key, sizeof key, "k%05d", i);
        const uint8_t *v = NULL;
        uint32_t len = 0;
        assert_int_equal(
            ops()->get(f->s, (const uint8_t *)key, (uint32_t)n, &v, &len),
            ERR_OK);
        assert_int_equal(len, 3500);
    }
}

/* A store closed while its checkpointer child copies waits for it, and
 * everything committed is there at the next open. */
static void test_store_close_during_checkpoint(void **state)
{
    struct fixture *f = *state;
    fill_past_mark(f);
    store_checkpoint(f->s); /* Starts the child. */
    store_close(f->s);
    f->s = NULL;
    open_store(f, STORE_OPEN_EXISTING);
    const uint8_t *v = NULL;
    uint32_t len = 0;
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"k06299", 6, &v, &len),
                     ERR_OK);
    assert_int_equal(len, 3500);
}

/* Creates a valid database, closes it and returns its checksum. */
static uint64_t make_db(struct fixture *f)
{
    open_store(f, STORE_OPEN_CREATE);
    cmd_entry(f, 0, 1, COMMAND_OP_PUT, "k", "v", NULL);
    persist(f, 1, 1, 0, 1, 0, 1);
    store_close(f->s);
    f->s = NULL;
    return file_sum(f->path);
}

/* Opens with the given identity and expects err, the file unchanged. */
static void expect_refused(struct fixture *f, uint64_t cluster, raft_id node,
                           int mode, int err, const char *needle)
{
    uint64_t before = file_sum(f->path);
    struct store *s = NULL;
    assert_int_equal(store_open(f->path, cluster, node, mode, &s, f->errmsg),
                     err);
    assert_null(s);
    assert_non_null(strstr(f->errmsg, f->path));
    if (strstr(f->errmsg, needle) == NULL) {
        fail_msg("errmsg \"%s\" lacks \"%s\"", f->errmsg, needle);
    }
    assert_true(file_sum(f->path) == before);
}

static void test_store_refuses_other_cluster_unchanged(void **state)
{
    struct fixture *f = *state;
    make_db(f);
    expect_refused(f, CLUSTER + 1, NODE, STORE_OPEN_EXISTING, ERR_WRONG_CLUSTER,
                   "fedcba9876543210");
    expect_refused(f, 7, NODE, STORE_OPEN_CREATE, ERR_WRONG_CLUSTER, "cluster");
}

static void test_store_refuses_other_node_unchanged(void **state)
{
    struct fixture *f = *state;
    make_db(f);
    expect_refused(f, CLUSTER, 2, STORE_OPEN_EXISTING, ERR_FOREIGN,
                   "node 1, this is node 2");
    expect_refused(f, CLUSTER, 2, STORE_OPEN_CREATE, ERR_FOREIGN, "node");
}

static void test_store_refuses_wrong_version_unchanged(void **state)
{
    struct fixture *f = *state;
    make_db(f);
    sql(f->path, "PRAGMA user_version = 8");
    expect_refused(f, CLUSTER, NODE, STORE_OPEN_CREATE, ERR_WRONG_VERSION,
                   "schema version 8");
}

static void test_store_refuses_missing_table_unchanged(void **state)
{
    struct fixture *f = *state;
    make_db(f);
    sql(f->path, "DROP TABLE sessions");
    expect_refused(f, CLUSTER, NODE, STORE_OPEN_EXISTING, ERR_CORRUPT,
                   "sessions");
}

/* A text file is not a database: refused, its bytes untouched. */
static void test_store_refuses_garbage_file_unchanged(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 300; i++) {
        fputs("this is not a database\n", fp);
    }
    fclose(fp);
    expect_refused(f, CLUSTER, NODE, STORE_OPEN_EXISTING, ERR_CORRUPT,
                   "not a SQLite database");
    expect_refused(f, CLUSTER, NODE, STORE_OPEN_CREATE, ERR_CORRUPT,
                   "not a SQLite database");
}

/* A node killed after a persist leaves its last transaction in the WAL.
 * Opened by the wrong node, neither file changes (no checkpoint on close);
 * opened by the right one, the transaction is there (durable on return). */
static void test_store_refusal_keeps_unfinished_wal(void **state)
{
    struct fixture *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *s = NULL;
        char errmsg[ERRMSG_LEN];
        struct store_batch b = {
            .has_hard_state = true, .term = 5, .voted_for = 3};
        if (store_open(f->path, CLUSTER, NODE, STORE_OPEN_CREATE, &s, errmsg) !=
                ERR_OK ||
            store_persist(s, &b) != ERR_OK) {
            _exit(1);
        }
        _exit(0); /* A crash: no store_close, no checkpoint. */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    uint64_t wal_before = file_sum(wal);
    expect_refused(f, CLUSTER, 2, STORE_OPEN_EXISTING, ERR_FOREIGN, "node");
    assert_true(file_sum(wal) == wal_before);
    open_store(f, STORE_OPEN_EXISTING);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.term, 5);
    assert_int_equal(l.voted_for, 3);
    store_loaded_free(&l);
}

/* STORE_OPEN_EXISTING on a missing file creates nothing. */
static void test_store_missing_file_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    assert_int_equal(
        store_open(f->path, CLUSTER, NODE, STORE_OPEN_EXISTING, &s, f->errmsg),
        ERR_NOT_FOUND);
    assert_null(s);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), -1);
    DIR *d = opendir(f->dir);
    int n = 0;
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    assert_int_equal(n, 2); /* Only . and .. */
}

/* An empty file is not a node's database unless we are creating one. */
static void test_store_empty_file_needs_create(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    fclose(fp);
    expect_refused(f, CLUSTER, NODE, STORE_OPEN_EXISTING, ERR_CORRUPT, "empty");
    open_store(f, STORE_OPEN_CREATE);
}

/* STORE_OPEN_CREATE on an existing database keeps its state. */
static void test_store_create_mode_keeps_existing_state(void **state)
{
    struct fixture *f = *state;
    make_db(f);
    open_store(f, STORE_OPEN_CREATE);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.term, 1);
    assert_int_equal(l.n_entries, 1);
    store_loaded_free(&l);
}

/* Puts key=value in its own transaction. */
static void put(struct fixture *f, const void *key, uint32_t key_len,
                const void *value, uint32_t value_len)
{
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(ops()->put(f->s, key, key_len, value, value_len), ERR_OK);
    assert_int_equal(ops()->commit(f->s, 0), ERR_OK);
}

static void assert_kv_value(struct fixture *f, const void *key,
                            uint32_t key_len, const void *value,
                            uint32_t value_len)
{
    const uint8_t *v = NULL;
    uint32_t len = 0;
    assert_int_equal(ops()->get(f->s, key, key_len, &v, &len), ERR_OK);
    assert_int_equal(len, value_len);
    if (len > 0) {
        assert_memory_equal(v, value, len);
    }
}

/* Binary keys (a NUL, invalid UTF-8) are BLOBs, text keys TEXT; each
 * round-trips and none collides with another. */
static void test_store_kv_text_and_blob_keys(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    put(f, "a\0b", 3, "nul", 3);
    put(f, "a", 1, "text", 4);
    put(f, "ab", 2, "ab", 2);
    put(f, "\xff", 1, "\x00\xfe", 2);
    put(f, "\xc3\xa9", 2, "", 0); /* U+00E9 as UTF-8: text; empty value. */
    reopen(f);
    assert_kv_value(f, "a\0b", 3, "nul", 3);
    assert_kv_value(f, "a", 1, "text", 4);
    assert_kv_value(f, "ab", 2, "ab", 2);
    assert_kv_value(f, "\xff", 1, "\x00\xfe", 2);
    assert_kv_value(f, "\xc3\xa9", 2, "", 0);
    const uint8_t *v;
    uint32_t len;
    assert_int_equal(ops()->get(f->s, (const uint8_t *)"a\0", 2, &v, &len),
                     ERR_NOT_FOUND);
    assert_string_equal(sql(f->path, "SELECT count(*) FROM kv"), "5");
    assert_string_equal(sql(f->path, "SELECT typeof(key), typeof(value)"
                                     " FROM kv WHERE key = 'a'"),
                        "text|text");
    assert_string_equal(sql(f->path, "SELECT typeof(value) FROM kv"
                                     " WHERE key = x'610062'"),
                        "text");
    assert_string_equal(sql(f->path, "SELECT typeof(value) FROM kv"
                                     " WHERE key = x'ff'"),
                        "blob");
    assert_string_equal(sql(f->path, "SELECT value FROM kv"
                                     " WHERE key = 'é'"),
                        "");
    /* Deleting the text key leaves the binary one. */
    assert_int_equal(ops()->begin(f->s), ERR_OK);
    assert_int_equal(ops()->del(f->s, (const uint8_t *)"a", 1), ERR_OK);
    assert_int_equal(ops()->commit(f->s, 0), ERR_OK);
    assert_kv_value(f, "a\0b", 3, "nul", 3);
}

/* Puts wait to go 16 to a statement, yet a transaction reads its own
 * writes in order: a get or a del of a waiting key sees it, a later put
 * of the same key wins, and commit writes what still waits. */
static void test_store_kv_puts_keep_their_order(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    const struct kv_store_ops *o = ops();
    assert_int_equal(o->begin(f->s), ERR_OK);
    char key[16], value[16];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "k%d", i % 30); /* k0..k9 twice. */
        snprintf(value, sizeof(value), "v%d", i);
        assert_int_equal(o->put(f->s, (const uint8_t *)key,
                                (uint32_t)strlen(key), (const uint8_t *)value,
                                (uint32_t)strlen(value)),
                         ERR_OK);
        if (i == 35) { /* k5 waits (puts 32..35), written as v35. */
            assert_kv_value(f, "k5", 2, "v35", 3);
        }
    }
    const uint8_t *gone = (const uint8_t *)"gone";
    assert_int_equal(o->put(f->s, gone, 4, (const uint8_t *)"x", 1), ERR_OK);
    assert_int_equal(o->del(f->s, gone, 4), ERR_OK);
    assert_int_equal(
        o->put(f->s, (const uint8_t *)"last", 4, (const uint8_t *)"", 0),
        ERR_OK);
    assert_int_equal(o->commit(f->s, 0), ERR_OK);
    assert_string_equal(sql(f->path, "SELECT count(*) FROM kv"), "31");
    assert_string_equal(sql(f->path, "SELECT value FROM kv WHERE key = 'k9'"),
                        "v39");
    assert_string_equal(sql(f->path, "SELECT value FROM kv WHERE key = 'k29'"),
                        "v29");
    assert_string_equal(sql(f->path, "SELECT count(*) FROM kv"
                                     " WHERE key = 'gone'"),
                        "0");
    assert_string_equal(sql(f->path, "SELECT typeof(value), length(value)"
                                     " FROM kv WHERE key = 'last'"),
                        "text|0");
}

/* The log reads well in the sqlite3 shell, while the node has it open. */
static void test_store_log_columns_are_readable(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    other_entry(f, 0, 1, RAFT_ENTRY_NOOP);
    cmd_entry(f, 1, 1, COMMAND_OP_PUT, "k", "v", NULL);
    cmd_entry(f, 2, 1, COMMAND_OP_CAS, "k", "new", "v");
    cmd_entry(f, 3, 1, COMMAND_OP_DEL, "k", NULL, NULL);
    persist(f, 1, NODE, 0, 1, 0, 4);
    assert_string_equal(sql(f->path, "SELECT op, key, value, expected,"
                                     " client_id, seq FROM log WHERE idx = 1"),
                        "noop|NULL|NULL|NULL|NULL|NULL");
    assert_string_equal(sql(f->path, "SELECT op, key, value, typeof(key),"
                                     " client_id, seq, term FROM log"
                                     " WHERE idx = 2"),
                        "put|k|v|text|101|1|1");
    assert_string_equal(sql(f->path, "SELECT op, key, value, expected"
                                     " FROM log WHERE idx = 3"),
                        "cas|k|new|v");
    assert_string_equal(sql(f->path, "SELECT op, key, value FROM log"
                                     " WHERE idx = 4"),
                        "del|k|NULL");
    assert_string_equal(sql(f->path, "SELECT current_term, voted_for"
                                     " FROM raft_state"),
                        "1|1");
    assert_string_equal(sql(f->path, "SELECT value FROM meta"
                                     " WHERE name = 'cluster_id'"),
                        "fedcba9876543210");
}

/* A payload that does not decode is kept (op 'invalid') and reloads; so
 * does an empty one, which has nothing to rebuild. */
static void test_store_keeps_undecodable_entry(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    static const uint8_t junk[] = {0xde, 0xad};
    f->entries[0] = (struct raft_entry){1, RAFT_ENTRY_NORMAL, 2, junk};
    f->entries[1] = (struct raft_entry){1, RAFT_ENTRY_NORMAL, 0, NULL};
    persist(f, 1, 0, 0, 1, 0, 2);
    assert_string_equal(sql(f->path, "SELECT op, key FROM log"),
                        "invalid|NULL");
    reopen(f);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.n_entries, 2);
    assert_int_equal(l.entries[0].type, RAFT_ENTRY_NORMAL);
    assert_memory_equal(l.entries[0].data, junk, 2);
    assert_int_equal(l.entries[1].type, RAFT_ENTRY_NORMAL);
    assert_int_equal(l.entries[1].len, 0);
    store_loaded_free(&l);
    struct raft_entry out[2];
    size_t n = 0;
    assert_int_equal(store_fetch(f->s, 1, 2, 100, out, 2, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[1].len, 0);
}

/* A budget smaller than one entry still returns that entry, however
 * large the entries after it, and never more. */
static void test_store_fetch_small_budget_large_entries(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    enum { BIG = 40000 };
    static uint8_t a[BIG], b[BIG];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    f->entries[0] = (struct raft_entry){1, RAFT_ENTRY_CONFIG, BIG, a};
    f->entries[1] = (struct raft_entry){1, RAFT_ENTRY_CONFIG, BIG, b};
    f->entries[2] = (struct raft_entry){1, RAFT_ENTRY_CONFIG, BIG, a};
    persist(f, 1, 0, 0, 1, 0, 3);
    struct raft_entry out[3];
    size_t n = 0;
    for (size_t budget = 1; budget <= 3 * BIG + 1; budget += BIG) {
        assert_int_equal(store_fetch(f->s, 1, 3, budget, out, 3, &n), ERR_OK);
        /* 1, 40001, 80001, 120001 bytes: 1, 1, 2, 3 entries. */
        assert_int_equal(n, budget < BIG ? 1 : budget / BIG);
        assert_int_equal(out[0].len, BIG);
        assert_memory_equal(out[n - 1].data, n == 2 ? b : a, BIG);
    }
}

/* Fills entry i with a command of the given session fields and bytes. */
static void raw_cmd_entry(struct fixture *f, int i, uint8_t op,
                          uint64_t client_id, uint64_t seq, const void *key,
                          uint32_t key_len, const void *value,
                          uint32_t value_len)
{
    struct command c = {.op = op,
                        .client_id = client_id,
                        .seq = seq,
                        .key = key,
                        .key_len = key_len,
                        .value = value,
                        .value_len = value_len};
    size_t len = 0;
    assert_int_equal(
        command_encode(&c, f->payload[i], sizeof(f->payload[i]), &len), ERR_OK);
    f->entries[i] =
        (struct raft_entry){2, RAFT_ENTRY_NORMAL, (uint32_t)len, f->payload[i]};
}

/* Commands are stored once, in the readable columns: data is empty for
 * them and full where the columns cannot give the payload back (noop,
 * config, invalid, a seq without a client id). Load and fetch return
 * every payload byte for byte, and fetch's budget counts rebuilt bytes. */
static void test_store_payloads_rebuild_from_columns(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    static const uint8_t bin_key[] = {'k', 0, 0xff};
    static const uint8_t bin_value[] = {0, 1, 2, 0xc3};
    static const uint8_t config[] = {9, 8, 7};
    static const uint8_t junk[] = {0xde, 0xad};
    other_entry(f, 0, 2, RAFT_ENTRY_NOOP);
    cmd_entry(f, 1, 2, COMMAND_OP_PUT, "a", "one", NULL);
    cmd_entry(f, 2, 2, COMMAND_OP_CAS, "a", "two", "one");
    cmd_entry(f, 3, 2, COMMAND_OP_CAS, "a", "", "");
    cmd_entry(f, 4, 2, COMMAND_OP_DEL, "a", NULL, NULL);
    raw_cmd_entry(f, 5, COMMAND_OP_PUT, 0, 0, "no-session", 10, "v", 1);
    raw_cmd_entry(f, 6, COMMAND_OP_PUT, UINT64_MAX, UINT64_MAX - 1, bin_key,
                  sizeof(bin_key), bin_value, sizeof(bin_value));
    raw_cmd_entry(f, 7, COMMAND_OP_PUT, 0, 5, "seq-only", 8, "v", 1);
    f->entries[8] =
        (struct raft_entry){2, RAFT_ENTRY_CONFIG, sizeof(config), config};
    f->entries[9] =
        (struct raft_entry){2, RAFT_ENTRY_NORMAL, sizeof(junk), junk};
    cmd_entry(f, 10, 2, COMMAND_OP_PUT, "b", "", NULL);
    const int n_entries = 11;
    persist(f, 2, 0, 0, 1, 0, n_entries);
    assert_string_equal(sql(f->path, "SELECT group_concat(length(data), ',')"
                                     " FROM (SELECT data FROM log"
                                     " ORDER BY idx)"),
                        "0,0,0,0,0,0,0,39,3,2,0");
    for (int pass = 0; pass < 2; pass++) {
        struct store_loaded l;
        assert_int_equal(store_load(f->s, &l), ERR_OK);
        assert_int_equal(l.n_entries, n_entries);
        size_t total = 0;
        for (int i = 0; i < n_entries; i++) {
            assert_int_equal(l.entries[i].type, f->entries[i].type);
            assert_int_equal(l.entries[i].len, f->entries[i].len);
            assert_memory_equal(l.entries[i].data, f->entries[i].data,
                                f->entries[i].len);
            total += f->entries[i].len;
        }
        store_loaded_free(&l);
        struct raft_entry out[N_PAYLOADS];
        size_t n = 0;
        assert_int_equal(store_fetch(f->s, 1, (raft_index)n_entries, total, out,
                                     N_PAYLOADS, &n),
                         ERR_OK);
        assert_int_equal(n, n_entries);
        for (int i = 0; i < n_entries; i++) {
            assert_int_equal(out[i].len, f->entries[i].len);
            assert_memory_equal(out[i].data, f->entries[i].data, out[i].len);
        }
        /* Entries 2..4 take 31 + 33 + 30 rebuilt bytes: a budget one byte
         * short of all three returns two. */
        size_t three =
            f->entries[1].len + f->entries[2].len + f->entries[3].len;
        assert_int_equal(
            store_fetch(f->s, 2, 4, three - 1, out, N_PAYLOADS, &n), ERR_OK);
        assert_int_equal(n, 2);
        assert_int_equal(store_fetch(f->s, 2, 4, three, out, N_PAYLOADS, &n),
                         ERR_OK);
        assert_int_equal(n, 3);
        reopen(f);
    }
}

/* Takes away what version 6 added: the kv view over kv_data becomes the
 * kv table again (every value in its row). */
static void undo_version_6(const char *path)
{
    static const char *const steps[] = {"DROP VIEW kv",
                                        "DROP VIEW log",
                                        "ALTER TABLE log_from_1 RENAME TO log",
                                        "DROP INDEX kv_data_by_ref",
                                        "ALTER TABLE kv_data DROP COLUMN ref",
                                        "ALTER TABLE kv_data RENAME TO kv"};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        sql(path, steps[i]);
    }
}

/* A version 1 file (data always full) opens, loads, and is marked the
 * current version, so that an older binary refuses it rather than misreading it. */
static void test_store_upgrades_version_1(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    cmd_entry(f, 0, 1, COMMAND_OP_PUT, "k", "v", NULL);
    persist(f, 1, 0, 0, 1, 0, 1);
    store_close(f->s);
    f->s = NULL;
    /* What version 1 wrote: the payload in data as well. */
    char q[256];
    int w = snprintf(q, sizeof(q), "UPDATE log SET data = x'");
    for (uint32_t i = 0; i < f->entries[0].len; i++) {
        w += snprintf(q + w, sizeof(q) - (size_t)w, "%02x",
                      f->entries[0].data[i]);
    }
    snprintf(q + w, sizeof(q) - (size_t)w, "' WHERE idx = 1");
    sql(f->path, q);
    /* And without what version 3 added. */
    sql(f->path, "DROP TABLE snapshot");
    sql(f->path, "DROP TABLE IF EXISTS sessions_evicted");
    sql(f->path, "DROP INDEX sessions_by_last");
    sql(f->path, "ALTER TABLE sessions DROP COLUMN last_index");
    undo_version_6(f->path);
    sql(f->path, "ALTER TABLE log DROP COLUMN crc");
    sql(f->path, "ALTER TABLE kv DROP COLUMN crc");
    sql(f->path, "ALTER TABLE raft_state DROP COLUMN crc");
    sql(f->path, "ALTER TABLE sessions DROP COLUMN crc");
    sql(f->path, "PRAGMA user_version = 1");
    open_store(f, STORE_OPEN_EXISTING);
    assert_string_equal(sql(f->path, "PRAGMA user_version"), "7");
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.n_entries, 1);
    assert_int_equal(l.entries[0].len, f->entries[0].len);
    assert_memory_equal(l.entries[0].data, f->entries[0].data,
                        f->entries[0].len);
    store_loaded_free(&l);
}

/* A version 5 file (kv a table holding every value) moves to version 6 at
 * open: the same rows, read through the kv view, and new puts go on. */
static void test_store_upgrades_version_5(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    put(f, "a", 1, "old", 3);
    store_close(f->s);
    f->s = NULL;
    undo_version_6(f->path);
    sql(f->path, "PRAGMA user_version = 5");
    open_store(f, STORE_OPEN_EXISTING);
    assert_string_equal(sql(f->path, "PRAGMA user_version"), "7");
    assert_string_equal(sql(f->path, "SELECT value, ref FROM kv_data"),
                        "old|NULL");
    assert_string_equal(sql(f->path, "SELECT key, value FROM kv"), "a|old");
    assert_kv_value(f, "a", 1, "old", 3);
    put(f, "b", 1, "new", 3);
    assert_kv_value(f, "b", 1, "new", 3);
}

/* A batch longer than one multi-row INSERT (16 rows a statement, then
 * one at a time) lands whole and in order, each row with its own key. */
static void test_store_long_batch_keeps_every_row(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    enum { N = 16 * 2 + 7 };
    static uint8_t payloads[N][64];
    static struct raft_entry entries[N];
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof(key), "key%02d", i);
        struct command c = {.op = COMMAND_OP_PUT,
                            .client_id = 7,
                            .seq = (uint64_t)i + 1,
                            .key = (const uint8_t *)key,
                            .key_len = (uint32_t)strlen(key),
                            .value = (const uint8_t *)"v",
                            .value_len = 1};
        size_t len = 0;
        assert_int_equal(
            command_encode(&c, payloads[i], sizeof(payloads[i]), &len), ERR_OK);
        entries[i] =
            (struct raft_entry){1 + (raft_term)(i / 20), RAFT_ENTRY_NORMAL,
                                (uint32_t)len, payloads[i]};
    }
    struct store_batch b = {.has_hard_state = true,
                            .term = 2,
                            .entries_first_index = 1,
                            .n_entries = N,
                            .entries = entries};
    assert_int_equal(store_persist(f->s, &b), ERR_OK);
    assert_string_equal(sql(f->path, "SELECT count(*), min(idx), max(idx),"
                                     " sum(key = 'key' || printf('%02d',"
                                     " idx - 1)), sum(seq = idx)"
                                     " FROM log"),
                        "39|1|39|39|39");
    reopen(f);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.n_entries, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(l.entries[i].term, entries[i].term);
        assert_int_equal(l.entries[i].len, entries[i].len);
        assert_memory_equal(l.entries[i].data, entries[i].data, entries[i].len);
    }
    store_loaded_free(&l);
}

/* The TEXT-or-BLOB rule at every offset and length around its 8-byte
 * steps: plain ASCII and well-formed UTF-8 are text; a NUL, a stray
 * continuation byte, 0xff or a sequence cut short anywhere make a blob. */
static void test_schema_is_text_at_every_offset(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[4];
        uint32_t len;
        bool text;
    } cases[] = {
        {{0x00}, 1, false},
        {{0x7f}, 1, true},
        {{0x80}, 1, false},
        {{0xff}, 1, false},
        {{0xc3, 0xa9}, 2, true},
        {{0xe2, 0x82, 0xac}, 3, true},
        {{0xc0, 0x80}, 2, false},       /* Overlong NUL. */
        {{0xed, 0xa0, 0x80}, 3, false}, /* A surrogate. */
    };
    uint8_t buf[40];
    for (uint32_t len = 0; len <= sizeof(buf); len++) {
        memset(buf, 'a', sizeof(buf));
        assert_true(schema_is_text(buf, len));
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            for (uint32_t at = 0; at + cases[c].len <= len; at++) {
                memset(buf, 'a', sizeof(buf));
                memcpy(buf + at, cases[c].bytes, cases[c].len);
                if (schema_is_text(buf, len) != cases[c].text) {
                    fail_msg("case %zu at %u of %u", c, at, len);
                }
            }
        }
        if (len >= 1) { /* A two-byte sequence cut by the end. */
            memset(buf, 'a', sizeof(buf));
            buf[len - 1] = 0xc3;
            assert_false(schema_is_text(buf, len));
        }
    }
}

/* Edits the closed database with query (the rows' checksums made to match
 * again, so the consistency checks are what refuses), then expects load to
 * refuse. */
static void expect_load_corrupt(struct fixture *f, const char *query)
{
    store_close(f->s);
    f->s = NULL;
    sql(f->path, query);
    sql(f->path, "UPDATE log SET crc = raft_row_crc(" SCHEMA_LOG_CRC_COLUMNS
                 ")");
    open_store(f, STORE_OPEN_EXISTING);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_CORRUPT);
    assert_non_null(strstr(store_errmsg(f->s), "corrupt"));
}

/* load refuses a gap in indexes, decreasing terms, a row whose payload does
 * not match its op, columns that do not make the command its op names,
 * and an applied index beyond the log. */
static void test_store_load_rejects_inconsistent_log(void **state)
{
    struct fixture *f = *state;
    const char *edits[] = {
        "DELETE FROM log WHERE idx = 2",
        "UPDATE log SET term = 1 WHERE idx = 3",
        "UPDATE log SET op = 'del' WHERE idx = 2",
        "UPDATE log SET data = x'00' WHERE idx = 2",
        "UPDATE log SET key = NULL WHERE idx = 2",
        "UPDATE log SET expected = 'x' WHERE idx = 2",
        "UPDATE log SET client_id = 'x' WHERE idx = 2",
        "UPDATE log SET term = 9 WHERE idx = 3",
        "UPDATE meta SET value = 4 WHERE name = 'applied_index'",
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        open_store(f, STORE_OPEN_CREATE);
        cmd_entry(f, 0, 1, COMMAND_OP_PUT, "a", "1", NULL);
        cmd_entry(f, 1, 2, COMMAND_OP_PUT, "b", "2", NULL);
        cmd_entry(f, 2, 2, COMMAND_OP_PUT, "c", "3", NULL);
        persist(f, 2, 0, 0, 1, 0, 3);
        expect_load_corrupt(f, edits[i]);
        store_close(f->s);
        f->s = NULL;
        char p[160];
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int j = 0; j < 3; j++) {
            snprintf(p, sizeof(p), "%s%s", f->path, suffix[j]);
            (void)unlink(p);
        }
    }
}

/* A second opener of the same file gets ERR_BUSY; the first keeps
 * working, and once it closes the file opens again. */
static void test_store_second_open_is_busy(void **state)
{
    struct fixture *f = *state;
    open_store(f, STORE_OPEN_CREATE);
    struct store *other = NULL;
    assert_int_equal(store_open(f->path, CLUSTER, NODE, STORE_OPEN_EXISTING,
                                &other, f->errmsg),
                     ERR_BUSY);
    assert_null(other);
    assert_non_null(strstr(f->errmsg, "already in use by another process"));
    cmd_entry(f, 0, 1, COMMAND_OP_PUT, "k", "v", NULL);
    persist(f, 1, 1, 0, 1, 0, 1);
    reopen(f);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.n_entries, 1);
    store_loaded_free(&l);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_store_create_then_reopen_loads_empty_state),
        T(test_store_persist_survives_reopen),
        T(test_store_truncation_replaces_suffix),
        T(test_store_apply_is_atomic),
        T(test_store_window_load_and_fetch),
        T(test_store_sessions_round_trip),
        T(test_store_session_lookups_follow_puts),
        T(test_store_reads_see_every_apply),
        T(test_store_apply_expires_evicted_session),
        T(test_store_checkpoint_waits_for_the_caller),
        T(test_store_checkpoint_while_writing),
        T(test_store_close_during_checkpoint),
        T(test_store_wal_zeros_ahead_survive_a_crash),
        T(test_store_refuses_other_cluster_unchanged),
        T(test_store_refuses_other_node_unchanged),
        T(test_store_refuses_wrong_version_unchanged),
        T(test_store_refuses_missing_table_unchanged),
        T(test_store_refuses_garbage_file_unchanged),
        T(test_store_refusal_keeps_unfinished_wal),
        T(test_store_missing_file_is_not_found),
        T(test_store_empty_file_needs_create),
        T(test_store_create_mode_keeps_existing_state),
        T(test_store_kv_text_and_blob_keys),
        T(test_store_log_columns_are_readable),
        T(test_store_keeps_undecodable_entry),
        T(test_store_fetch_small_budget_large_entries),
        T(test_store_payloads_rebuild_from_columns),
        T(test_store_upgrades_version_1),
        T(test_store_upgrades_version_5),
        T(test_schema_is_text_at_every_offset),
        T(test_store_long_batch_keeps_every_row),
        T(test_store_kv_puts_keep_their_order),
        T(test_store_load_rejects_inconsistent_log),
        T(test_store_second_open_is_busy),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
