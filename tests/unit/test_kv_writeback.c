/*
 * Unit tests of node/kv_writeback.c over the in-memory store of
 * tests/lib/mem_kv.c, wrapped in a recorder of every call that reaches the
 * store: reads see buffered puts, deletes, empty values and sessions before
 * the store; nothing reaches the store before a store; a store is one
 * transaction, in key and client id order, of the newest values, the
 * sessions and the applied index; the triggers (write-through, ops, bytes, delay, idle);
 * a free without store is a crash that re-applying the log repairs; the
 * tables and the arena grow far past their first sizes; and a seeded random
 * run gives the same state as applying straight to the store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/command.h"
#include "common/err.h"
#include "common/msg.h"
#include "common/rng.h"
#include "common/types.h"
#include "node/kv.h"
#include "node/kv_writeback.h"
#include "tests/lib/kv_recorder.h"
#include "tests/lib/mem_kv.h"

#define PAYLOAD_CAP (30 + RAFT_KEY_MAX + 2 * RAFT_VALUE_MAX + 16)

struct fixture {
    struct kv_recorder rec;
    struct kv_writeback *wb;
    const struct kv_store_ops *ops; /* kv_writeback_ops(). */
    uint8_t *payload;               /* PAYLOAD_CAP bytes. */
};

/* --- Fixture and helpers --- */

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    kv_recorder_init(&f->rec);
    f->ops = kv_writeback_ops();
    f->payload = malloc(PAYLOAD_CAP);
    assert_non_null(f->payload);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kv_writeback_free(f->wb);
    kv_recorder_close(&f->rec);
    free(f->payload);
    free(f);
    return 0;
}

/* Opens the buffer over the recorder at the store's applied index. */
static void open_wb(struct fixture *f, uint32_t ops_max, size_t bytes_max,
                    uint32_t delay_ms, uint32_t idle_ms)
{
    struct kv_writeback_config c = {ops_max, bytes_max, delay_ms, idle_ms};
    kv_writeback_free(f->wb);
    f->wb = kv_writeback_new(kv_recorder_ops(), &f->rec,
                             mem_kv_applied(&f->rec.kv), &c);
    assert_non_null(f->wb);
}

/* A buffer that only a store or a long delay empties. */
static void open_buffered(struct fixture *f)
{
    open_wb(f, 0, 0, 1000000, 0);
}

static const uint8_t *bytes(const char *s)
{
    return (const uint8_t *)s;
}

static uint32_t len_of(const char *s)
{
    return (uint32_t)strlen(s);
}

/* A copy of len bytes, owned by the caller. */
static uint8_t *dup_or_null(const uint8_t *p, uint32_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    if (len > 0) {
        memcpy(copy, p, len);
    }
    return copy;
}

/* Writes key=value (NULL: deletes it) straight into the store, in its own
 * transaction at applied index `applied`, bypassing the recorder. */
static void store_set(struct fixture *f, const char *key, const char *value,
                      raft_index applied)
{
    const struct kv_store_ops *m = mem_kv_ops();
    assert_int_equal(m->begin(&f->rec.kv), ERR_OK);
    if (value != NULL) {
        assert_int_equal(m->put(&f->rec.kv, bytes(key), len_of(key),
                                bytes(value), len_of(value)),
                         ERR_OK);
    } else {
        assert_int_equal(m->del(&f->rec.kv, bytes(key), len_of(key)), ERR_OK);
    }
    assert_int_equal(m->commit(&f->rec.kv, applied), ERR_OK);
}

/* The value of key as a NUL-terminated copy, or NULL when absent; through
 * the buffer (ctx f->wb) or straight from the store. */
static const char *value_in(const struct kv_store_ops *ops, void *ctx,
                            const char *key)
{
    static char out[RAFT_VALUE_MAX + 1];
    const uint8_t *v = NULL;
    uint32_t len = 0;
    int rc = ops->get(ctx, bytes(key), len_of(key), &v, &len);
    if (rc == ERR_NOT_FOUND) {
        return NULL;
    }
    assert_int_equal(rc, ERR_OK);
    assert_true(len <= RAFT_VALUE_MAX);
    if (len > 0) {
        memcpy(out, v, len);
    }
    out[len] = '\0';
    return out;
}

static const char *wb_value(struct fixture *f, const char *key)
{
    return value_in(f->ops, f->wb, key);
}

static const char *store_value(struct fixture *f, const char *key)
{
    return value_in(mem_kv_ops(), &f->rec.kv, key);
}

static void begin(struct fixture *f)
{
    assert_int_equal(f->ops->begin(f->wb), ERR_OK);
}

static void commit(struct fixture *f, raft_index applied)
{
    assert_int_equal(f->ops->commit(f->wb, applied), ERR_OK);
}

static void put(struct fixture *f, const char *key, const char *value)
{
    assert_int_equal(f->ops->put(f->wb, bytes(key), len_of(key), bytes(value),
                                 len_of(value)),
                     ERR_OK);
}

static void del(struct fixture *f, const char *key)
{
    assert_int_equal(f->ops->del(f->wb, bytes(key), len_of(key)), ERR_OK);
}

static void session_put(struct fixture *f, uint64_t client_id, uint64_t seq,
                        uint8_t status)
{
    assert_int_equal(f->ops->session_put(f->wb, client_id, seq, status),
                     ERR_OK);
}

/* Asserts the session of client_id through ops/ctx; seq 0: none. */
static void assert_session(const struct kv_store_ops *ops, void *ctx,
                           uint64_t client_id, uint64_t seq, uint8_t status)
{
    uint64_t got_seq = 0;
    uint8_t got_status = 0;
    int rc = ops->session_get(ctx, client_id, &got_seq, &got_status);
    if (seq == 0) {
        assert_int_equal(rc, ERR_NOT_FOUND);
        return;
    }
    assert_int_equal(rc, ERR_OK);
    assert_int_equal(got_seq, seq);
    assert_int_equal(got_status, status);
}

static void assert_call(const struct kv_rec_call *c, int op, const char *key,
                        const char *value)
{
    assert_int_equal(c->op, op);
    assert_int_equal(c->key_len, len_of(key));
    assert_memory_equal(c->key, key, c->key_len);
    if (value != NULL) {
        assert_int_equal(c->value_len, len_of(value));
        assert_memory_equal(c->value, value, c->value_len);
    }
}

/* --- Reads see the buffer first --- */

/* A value overwritten by one no longer (in place, in the key's own arena
 * bytes), by a longer one (new bytes), after a delete (which keeps the
 * bytes for the next put) and by an empty one always reads back exactly,
 * with its own length, and the store writes the last of each. */
static void test_writeback_overwrites_in_place_and_grow(void **state)
{
    struct fixture *f = *state;
    open_buffered(f);
    begin(f);
    put(f, "k", "0123456789");
    put(f, "j", "neighbour");
    put(f, "k", "abc"); /* Shorter: in place. */
    assert_string_equal(wb_value(f, "k"), "abc");
    put(f, "k", "abcdefghij"); /* Back to the old size: still in place. */
    assert_string_equal(wb_value(f, "k"), "abcdefghij");
    put(f, "k", "abcdefghijKLMNOP"); /* Longer: appended. */
    assert_string_equal(wb_value(f, "k"), "abcdefghijKLMNOP");
    assert_string_equal(wb_value(f, "j"), "neighbour");
    del(f, "k");
    assert_null(wb_value(f, "k"));
    put(f, "k", "xy"); /* After a delete: the kept bytes. */
    assert_string_equal(wb_value(f, "k"), "xy");
    put(f, "j", ""); /* Empty: present, length 0. */
    assert_string_equal(wb_value(f, "j"), "");
    commit(f, 1);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_string_equal(store_value(f, "k"), "xy");
    assert_string_equal(store_value(f, "j"), "");
}

/* get answers from the buffer for every key it holds (the newest put, an
 * overwrite, a deletion, an empty value, a delete-then-put) and asks the
 * store only for the others. */
static void test_writeback_get_sees_buffer_then_store(void **state)
{
    struct fixture *f = *state;
    store_set(f, "a", "old", 1);
    store_set(f, "b", "keep", 2);
    store_set(f, "c", "gone", 3);
    store_set(f, "y", "store-y", 4);
    open_buffered(f);
    begin(f);
    put(f, "a", "new");
    put(f, "e", "1");
    put(f, "e", "22"); /* Overwrite in the same batch. */
    del(f, "c");       /* Deletes a stored key. */
    put(f, "d", "");   /* Empty value: present. */
    del(f, "x");       /* Delete, then put again. */
    put(f, "x", "back");
    put(f, "y", "buffered"); /* Put, then delete a stored key. */
    del(f, "y");
    commit(f, 5);
    begin(f);
    put(f, "a", "newer"); /* Overwrite in a later batch. */
    commit(f, 6);
    f->rec.n_gets = 0;
    assert_string_equal(wb_value(f, "a"), "newer");
    assert_string_equal(wb_value(f, "e"), "22");
    assert_null(wb_value(f, "c"));
    assert_string_equal(wb_value(f, "d"), "");
    assert_string_equal(wb_value(f, "x"), "back");
    assert_null(wb_value(f, "y"));
    assert_int_equal(f->rec.n_gets, 0); /* All from the buffer. */
    assert_string_equal(wb_value(f, "b"), "keep");
    assert_null(wb_value(f, "zz"));
    assert_int_equal(f->rec.n_gets, 2); /* Those two fell through. */
    /* The store still holds what it held. */
    assert_string_equal(store_value(f, "c"), "gone");
    assert_string_equal(store_value(f, "y"), "store-y");
    assert_null(store_value(f, "d"));
}

/* Sessions: the buffer's newest (seq, status) per client wins over the
 * store's; other clients fall through to the store. */
static void test_writeback_sessions_buffered_and_read_back(void **state)
{
    struct fixture *f = *state;
    const struct kv_store_ops *m = mem_kv_ops();
    assert_int_equal(m->begin(&f->rec.kv), ERR_OK);
    assert_int_equal(m->session_put(&f->rec.kv, 7, 3, CLIENT_OK), ERR_OK);
    assert_int_equal(m->session_put(&f->rec.kv, 8, 5, CLIENT_OK), ERR_OK);
    assert_int_equal(m->commit(&f->rec.kv, 2), ERR_OK);
    open_buffered(f);
    begin(f);
    session_put(f, 7, 4, CLIENT_CAS_MISMATCH);
    session_put(f, 9, 1, CLIENT_OK);
    commit(f, 3);
    begin(f);
    session_put(f, 9, 2, CLIENT_CAS_MISMATCH);
    commit(f, 4);
    assert_session(f->ops, f->wb, 7, 4, CLIENT_CAS_MISMATCH);
    assert_session(f->ops, f->wb, 9, 2, CLIENT_CAS_MISMATCH);
    f->rec.n_session_gets = 0;
    assert_session(f->ops, f->wb, 8, 5, CLIENT_OK);
    assert_session(f->ops, f->wb, 10, 0, 0);
    assert_int_equal(f->rec.n_session_gets, 2);
    assert_session(m, &f->rec.kv, 7, 3, CLIENT_OK); /* Not yet written. */
    assert_session(m, &f->rec.kv, 9, 0, 0);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_session(m, &f->rec.kv, 7, 4, CLIENT_CAS_MISMATCH);
    assert_session(m, &f->rec.kv, 9, 2, CLIENT_CAS_MISMATCH);
    assert_session(m, &f->rec.kv, 8, 5, CLIENT_OK);
    assert_int_equal(kv_recorder_count(&f->rec, KV_REC_SESSION_PUT), 2);
}

/* Thousands of clients: the session table grows (and rehashes) many
 * times; every client's newest session is read back, then written once. */
static void test_writeback_many_sessions_survive_growth(void **state)
{
    struct fixture *f = *state;
    enum { N = 5000 };
    open_buffered(f);
    for (uint64_t round = 1; round <= 2; round++) {
        begin(f);
        for (uint64_t id = 1; id <= N; id++) {
            session_put(f, id * 0x9e3779b97f4a7c15ull, round * 100 + id,
                        (uint8_t)(id % 3));
        }
        commit(f, round);
    }
    for (uint64_t id = 1; id <= N; id++) {
        assert_session(f->ops, f->wb, id * 0x9e3779b97f4a7c15ull, 200 + id,
                       (uint8_t)(id % 3));
    }
    assert_session(f->ops, f->wb, 12345, 0, 0);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_int_equal(kv_recorder_count(&f->rec, KV_REC_SESSION_PUT), N);
    for (uint64_t id = 1; id <= N; id++) {
        assert_session(mem_kv_ops(), &f->rec.kv, id * 0x9e3779b97f4a7c15ull,
                       200 + id, (uint8_t)(id % 3));
    }
}

/* --- What reaches the store, and when --- */

/* Until a store the store sees no call at all: neither rows, nor
 * sessions, nor the applied index. */
static void test_writeback_nothing_reaches_kv_table_before_store(void **state)
{
    struct fixture *f = *state;
    store_set(f, "k", "v0", 10);
    open_buffered(f);
    for (raft_index i = 11; i <= 20; i++) {
        begin(f);
        put(f, "k", "v");
        put(f, i % 2 ? "odd" : "even", "x");
        del(f, "gone");
        session_put(f, 1, i, CLIENT_OK);
        commit(f, i);
        assert_int_equal(kv_writeback_tick(f->wb, i), ERR_OK);
    }
    assert_int_equal(f->rec.n_calls, 0);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 10);
    assert_int_equal(mem_kv_count(&f->rec.kv), 1);
    assert_string_equal(store_value(f, "k"), "v0");
    assert_session(mem_kv_ops(), &f->rec.kv, 1, 0, 0);
    assert_int_equal(f->rec.kv.n_commits, 1);
    assert_int_equal(kv_writeback_stored_index(f->wb), 10);
    assert_int_equal(kv_writeback_applied_index(f->wb), 20);
}

/* A store is one store transaction: begin, every dirty key once with its
 * newest value or its deletion, every dirty session once, and commit of
 * the last committed applied index. Then the buffer is empty: reads fall
 * through, and a second store writes nothing. */
static void test_writeback_store_is_one_transaction(void **state)
{
    struct fixture *f = *state;
    store_set(f, "del-me", "x", 1);
    store_set(f, "keep", "k", 2);
    open_buffered(f);
    begin(f);
    put(f, "a", "1");
    put(f, "b", "1");
    del(f, "del-me");
    session_put(f, 5, 1, CLIENT_OK);
    commit(f, 3);
    begin(f);
    put(f, "a", "2");
    del(f, "b");
    put(f, "c", "");
    session_put(f, 5, 2, CLIENT_CAS_MISMATCH);
    commit(f, 4);
    begin(f);
    put(f, "b", "3");
    commit(f, 7);
    uint64_t commits_before = f->rec.kv.n_commits;
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    const struct kv_recorder *r = &f->rec;
    assert_int_equal(r->n_calls, 7);
    assert_int_equal(r->calls[0].op, KV_REC_BEGIN);
    assert_call(&r->calls[1], KV_REC_PUT, "a", "2"); /* Byte order. */
    assert_call(&r->calls[2], KV_REC_PUT, "b", "3");
    assert_call(&r->calls[3], KV_REC_PUT, "c", "");
    assert_call(&r->calls[4], KV_REC_DEL, "del-me", NULL);
    assert_int_equal(r->calls[5].op, KV_REC_SESSION_PUT);
    assert_int_equal(r->calls[5].client_id, 5);
    assert_int_equal(r->calls[5].seq, 2);
    assert_int_equal(r->calls[5].status, CLIENT_CAS_MISMATCH);
    assert_int_equal(r->calls[6].op, KV_REC_COMMIT);
    assert_int_equal(r->calls[6].applied, 7);
    assert_int_equal(f->rec.kv.n_commits, commits_before + 1);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 7);
    assert_int_equal(kv_writeback_stored_index(f->wb), 7);
    assert_int_equal(mem_kv_count(&f->rec.kv), 4);
    assert_string_equal(store_value(f, "a"), "2");
    assert_string_equal(store_value(f, "b"), "3");
    assert_string_equal(store_value(f, "c"), "");
    assert_string_equal(store_value(f, "keep"), "k");
    assert_null(store_value(f, "del-me"));
    /* Empty now: reads go to the store, a second store does nothing. */
    f->rec.n_gets = 0;
    assert_string_equal(wb_value(f, "a"), "2");
    assert_null(wb_value(f, "del-me"));
    assert_int_equal(f->rec.n_gets, 2);
    kv_recorder_clear(&f->rec);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_int_equal(f->rec.n_calls, 0);
    assert_int_equal(kv_writeback_deadline(f->wb), UINT64_MAX);
}

/* After a store the kept tables start clean: keys and sessions buffered
 * before must not shadow the store (stale slots), and the next store
 * writes only what came after the first. */
static void test_writeback_second_store_writes_only_new_changes(void **state)
{
    struct fixture *f = *state;
    char key[32];
    char value[32];
    open_buffered(f);
    begin(f);
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "v%d", i);
        put(f, key, value);
        session_put(f, 100 + (uint64_t)i, 1, CLIENT_OK);
    }
    commit(f, 1);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    /* Only the store knows of these. */
    const struct kv_store_ops *m = mem_kv_ops();
    assert_int_equal(m->begin(&f->rec.kv), ERR_OK);
    assert_int_equal(m->put(&f->rec.kv, bytes("k7"), 2, bytes("store"), 5),
                     ERR_OK);
    assert_int_equal(m->session_put(&f->rec.kv, 107, 9, CLIENT_OK), ERR_OK);
    assert_int_equal(m->commit(&f->rec.kv, 2), ERR_OK);
    /* The same buffer (its tables kept): nothing of the first batch may
     * shadow the store now, nor be written again. */
    begin(f);
    put(f, "new", "n");
    del(f, "k3");
    session_put(f, 200, 1, CLIENT_OK);
    commit(f, 3);
    f->rec.n_gets = 0;
    assert_string_equal(wb_value(f, "k7"), "store");
    assert_string_equal(wb_value(f, "k9"), "v9");
    assert_null(wb_value(f, "k3"));
    assert_int_equal(f->rec.n_gets, 2);
    assert_session(f->ops, f->wb, 107, 9, CLIENT_OK);
    kv_recorder_clear(&f->rec);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_int_equal(f->rec.n_calls, 5);
    assert_call(&f->rec.calls[1], KV_REC_DEL, "k3", NULL);
    assert_call(&f->rec.calls[2], KV_REC_PUT, "new", "n");
    assert_int_equal(f->rec.calls[3].client_id, 200);
    assert_int_equal(mem_kv_count(&f->rec.kv), 50);
}

/* Same buffer object across stores (no reopen): a key stored and then
 * written again is buffered anew, and reads of stored keys that were not
 * written again see the store. */
static void test_writeback_reuses_buffer_after_store(void **state)
{
    struct fixture *f = *state;
    open_buffered(f);
    for (raft_index round = 1; round <= 5; round++) {
        char value[16];
        snprintf(value, sizeof value, "r%llu", (unsigned long long)round);
        begin(f);
        put(f, round % 2 ? "odd" : "even", value);
        if (round == 3) {
            del(f, "even");
        }
        commit(f, round);
        assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
        assert_int_equal(mem_kv_applied(&f->rec.kv), round);
    }
    assert_string_equal(wb_value(f, "odd"), "r5");
    assert_string_equal(wb_value(f, "even"), "r4");
    assert_string_equal(store_value(f, "even"), "r4");
    assert_int_equal(f->rec.kv.n_commits, 5);
}

/* All zero is write-through: every commit is at once one store
 * transaction, as without a buffer. */
static void test_writeback_write_through_stores_every_commit(void **state)
{
    struct fixture *f = *state;
    open_wb(f, 0, 0, 0, 0);
    for (raft_index i = 1; i <= 3; i++) {
        kv_recorder_clear(&f->rec);
        begin(f);
        put(f, "k", i == 2 ? "two" : "other");
        session_put(f, 1, i, CLIENT_OK);
        assert_int_equal(f->rec.n_calls, 0); /* Not before the commit. */
        commit(f, i);
        assert_int_equal(f->rec.n_calls, 4);
        assert_int_equal(f->rec.calls[0].op, KV_REC_BEGIN);
        assert_int_equal(f->rec.calls[3].op, KV_REC_COMMIT);
        assert_int_equal(mem_kv_applied(&f->rec.kv), i);
        assert_int_equal(kv_writeback_stored_index(f->wb), i);
        assert_int_equal(kv_writeback_deadline(f->wb), UINT64_MAX);
        if (i == 2) {
            assert_string_equal(store_value(f, "k"), "two");
        }
    }
    /* Even an apply batch with no change moves the stored index. */
    begin(f);
    commit(f, 4);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 4);
}

/* ops_max counts dirty keys and sessions (not puts): the commit that
 * reaches it stores, never a put inside the batch. */
static void test_writeback_ops_max_stores_at_commit(void **state)
{
    struct fixture *f = *state;
    open_wb(f, 4, 0, 1000000, 0);
    begin(f);
    put(f, "a", "1");
    put(f, "b", "1");
    commit(f, 1);
    begin(f);
    put(f, "a", "2"); /* Still two dirty keys. */
    put(f, "b", "2");
    put(f, "a", "3");
    commit(f, 2);
    begin(f);
    session_put(f, 1, 1, CLIENT_OK); /* Three. */
    session_put(f, 1, 2, CLIENT_OK);
    commit(f, 3);
    assert_int_equal(f->rec.n_calls, 0);
    begin(f);
    del(f, "c"); /* Four: a deletion counts, and so did the session. */
    assert_int_equal(f->rec.n_calls, 0);
    commit(f, 4);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 4);
    assert_string_equal(store_value(f, "a"), "3");
    assert_session(mem_kv_ops(), &f->rec.kv, 1, 2, CLIENT_OK);
    assert_int_equal(kv_recorder_count(&f->rec, KV_REC_COMMIT), 1);
    /* It counts again from zero. */
    begin(f);
    put(f, "e", "1");
    commit(f, 5);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 4);
}

/* bytes_max: the commit whose keys and values reach it stores. */
static void test_writeback_bytes_max_stores_at_commit(void **state)
{
    struct fixture *f = *state;
    char v50[51];
    memset(v50, 'v', 50);
    v50[50] = '\0';
    open_wb(f, 0, 100, 1000000, 0);
    begin(f);
    put(f, "a", v50); /* 51 bytes. */
    commit(f, 1);
    assert_int_equal(f->rec.n_calls, 0);
    begin(f);
    put(f, "b", v50); /* 102. */
    assert_int_equal(f->rec.n_calls, 0);
    commit(f, 2);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 2);
    assert_string_equal(store_value(f, "b"), v50);
    /* One large value alone is enough. */
    char big[RAFT_VALUE_MAX + 1];
    memset(big, 'B', RAFT_VALUE_MAX);
    big[RAFT_VALUE_MAX] = '\0';
    begin(f);
    put(f, "big", big);
    commit(f, 3);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 3);
    assert_string_equal(store_value(f, "big"), big);
}

/* --- Time: tick and deadline --- */

/* delay_ms runs from the first unstored commit tick saw, not from the
 * latest: a steady stream of commits still stores every delay_ms. The
 * deadline is 0 while tick has not seen a commit, UINT64_MAX when clean. */
static void test_writeback_delay_runs_from_first_commit(void **state)
{
    struct fixture *f = *state;
    open_wb(f, 0, 0, 100, 0);
    assert_int_equal(kv_writeback_deadline(f->wb), UINT64_MAX);
    assert_int_equal(kv_writeback_tick(f->wb, 1000), ERR_OK);
    assert_int_equal(kv_writeback_deadline(f->wb), UINT64_MAX);
    begin(f);
    put(f, "k", "1");
    commit(f, 1);
    assert_int_equal(kv_writeback_deadline(f->wb), 0);
    assert_int_equal(kv_writeback_tick(f->wb, 1000), ERR_OK);
    assert_int_equal(kv_writeback_deadline(f->wb), 1100);
    for (uint64_t t = 1010; t < 1100; t += 10) {
        begin(f);
        put(f, "k", "more");
        commit(f, 1 + (t - 1000) / 10);
        assert_int_equal(kv_writeback_deadline(f->wb), 0);
        assert_int_equal(kv_writeback_tick(f->wb, t), ERR_OK);
        assert_int_equal(kv_writeback_deadline(f->wb), 1100);
    }
    assert_int_equal(kv_writeback_tick(f->wb, 1099), ERR_OK);
    assert_int_equal(f->rec.n_calls, 0);
    assert_int_equal(kv_writeback_tick(f->wb, 1100), ERR_OK);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 10);
    assert_int_equal(kv_writeback_deadline(f->wb), UINT64_MAX);
    /* The next commit starts a new delay. */
    begin(f);
    put(f, "k", "again");
    commit(f, 11);
    assert_int_equal(kv_writeback_deadline(f->wb), 0);
    assert_int_equal(kv_writeback_tick(f->wb, 5000), ERR_OK);
    assert_int_equal(kv_writeback_deadline(f->wb), 5100);
    assert_int_equal(kv_writeback_tick(f->wb, 5099), ERR_OK);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 10);
    assert_int_equal(kv_writeback_tick(f->wb, 5100), ERR_OK);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 11);
}

/* idle_ms runs from the last commit tick saw: a quiet node stores soon,
 * each new commit pushes the idle deadline, the delay still caps it. */
static void test_writeback_idle_stores_a_quiet_node(void **state)
{
    struct fixture *f = *state;
    open_wb(f, 0, 0, 1000, 20);
    begin(f);
    put(f, "k", "1");
    commit(f, 1);
    assert_int_equal(kv_writeback_tick(f->wb, 0), ERR_OK);
    assert_int_equal(kv_writeback_deadline(f->wb), 20);
    begin(f);
    put(f, "k", "2");
    commit(f, 2);
    assert_int_equal(kv_writeback_tick(f->wb, 10), ERR_OK);
    assert_int_equal(kv_writeback_deadline(f->wb), 30);
    assert_int_equal(kv_writeback_tick(f->wb, 29), ERR_OK);
    assert_int_equal(f->rec.n_calls, 0);
    assert_int_equal(kv_writeback_tick(f->wb, 30), ERR_OK);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 2);
    assert_string_equal(store_value(f, "k"), "2");
    /* Busy: a commit every 10 ms never lets the node idle for 20 ms, so
     * the 1000 ms delay from the first commit stores. */
    raft_index idx = 3;
    for (uint64_t t = 2000; t < 3000; t += 10) {
        begin(f);
        put(f, "k", "busy");
        commit(f, idx++);
        assert_int_equal(kv_writeback_tick(f->wb, t), ERR_OK);
        assert_int_equal(mem_kv_applied(&f->rec.kv), 2);
        uint64_t want = t + 20 < 3000 ? t + 20 : 3000;
        assert_int_equal(kv_writeback_deadline(f->wb), want);
    }
    assert_int_equal(kv_writeback_tick(f->wb, 3000), ERR_OK);
    assert_int_equal(mem_kv_applied(&f->rec.kv), idx - 1);
}

/* With a delay of 0 (storing by size otherwise), the first tick after a
 * commit stores. */
static void test_writeback_zero_delay_stores_at_next_tick(void **state)
{
    struct fixture *f = *state;
    open_wb(f, 1000, 0, 0, 0);
    begin(f);
    put(f, "k", "1");
    commit(f, 1);
    assert_int_equal(f->rec.n_calls, 0);
    assert_int_equal(kv_writeback_deadline(f->wb), 0);
    assert_int_equal(kv_writeback_tick(f->wb, 7), ERR_OK);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 1);
}

/* --- Crashes and errors --- */

/* Applies payload (client, seq, put key=value) through ops/ctx in one
 * batch committed at idx. */
static struct kv_result apply_put(struct fixture *f,
                                  const struct kv_store_ops *ops, void *ctx,
                                  uint64_t client, uint64_t seq,
                                  const char *key, const char *value,
                                  raft_index idx)
{
    struct command c;
    memset(&c, 0, sizeof c);
    c.op = COMMAND_OP_PUT;
    c.client_id = client;
    c.seq = seq;
    c.key = bytes(key);
    c.key_len = len_of(key);
    c.value = bytes(value);
    c.value_len = len_of(value);
    size_t len = 0;
    assert_int_equal(command_encode(&c, f->payload, PAYLOAD_CAP, &len), ERR_OK);
    struct kv_result res;
    assert_int_equal(ops->begin(ctx), ERR_OK);
    assert_int_equal(kv_apply(ops, ctx, idx, f->payload, len, &res), ERR_OK);
    assert_int_equal(ops->commit(ctx, idx), ERR_OK);
    return res;
}

/* Freeing without a store is a crash: the store keeps its old applied
 * index, rows and sessions. Re-applying the log from there (a new buffer
 * at the stored index) applies each command once: the lost session does
 * not make the re-applied command look like a duplicate, and a command
 * applied before the last store stays a duplicate. */
static void test_writeback_free_without_store_is_a_crash(void **state)
{
    struct fixture *f = *state;
    store_set(f, "a", "1", 3);
    /* Session 9 is live in the store (as if entry 9 of an earlier log had
     * registered it). */
    const struct kv_store_ops *m = mem_kv_ops();
    assert_int_equal(m->begin(&f->rec.kv), ERR_OK);
    assert_int_equal(m->session_put(&f->rec.kv, 9, 0, CLIENT_OK), ERR_OK);
    assert_int_equal(m->commit(&f->rec.kv, 3), ERR_OK);
    open_buffered(f);
    struct kv_result r = apply_put(f, f->ops, f->wb, 9, 1, "a", "x", 4);
    assert_false(r.duplicate);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    r = apply_put(f, f->ops, f->wb, 9, 2, "a", "2", 5);
    assert_false(r.duplicate);
    r = apply_put(f, f->ops, f->wb, 9, 3, "b", "1", 6);
    assert_false(r.duplicate);
    assert_string_equal(wb_value(f, "a"), "2");
    kv_writeback_free(f->wb);
    f->wb = NULL;
    assert_int_equal(mem_kv_applied(&f->rec.kv), 4);
    assert_string_equal(store_value(f, "a"), "x");
    assert_null(store_value(f, "b"));
    assert_session(mem_kv_ops(), &f->rec.kv, 9, 1, CLIENT_OK);
    /* Restart: a new buffer at index 4 re-applies entries 5 and 6. */
    open_buffered(f);
    assert_int_equal(kv_writeback_stored_index(f->wb), 4);
    r = apply_put(f, f->ops, f->wb, 9, 2, "a", "2", 5);
    assert_false(r.duplicate);
    r = apply_put(f, f->ops, f->wb, 9, 3, "b", "1", 6);
    assert_false(r.duplicate);
    /* New entries: a resend of seq 3 (buffered) and of seq 1 (stored
     * before the crash) are both duplicates. */
    r = apply_put(f, f->ops, f->wb, 9, 3, "b", "dup", 7);
    assert_true(r.duplicate);
    r = apply_put(f, f->ops, f->wb, 9, 1, "a", "stale", 8);
    assert_true(r.duplicate);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_string_equal(store_value(f, "a"), "2");
    assert_string_equal(store_value(f, "b"), "1");
    assert_session(mem_kv_ops(), &f->rec.kv, 9, 3, CLIENT_OK);
    assert_int_equal(mem_kv_applied(&f->rec.kv), 8);
}

/* A failed store write is returned (fatal for the node) and keeps the
 * buffer: nothing counts as stored and reads still see the applied state.
 * In write-through mode the commit itself returns the error. */
static void test_writeback_failed_store_keeps_buffer(void **state)
{
    struct fixture *f = *state;
    store_set(f, "k", "old", 1);
    open_buffered(f);
    begin(f);
    put(f, "k", "new");
    session_put(f, 4, 4, CLIENT_OK);
    commit(f, 2);
    f->rec.fail_op = KV_REC_COMMIT;
    f->rec.fail_err = ERR_IO;
    assert_int_equal(kv_writeback_store(f->wb), ERR_IO);
    mem_kv_rollback(&f->rec.kv); /* What the failed transaction leaves. */
    assert_int_equal(kv_writeback_stored_index(f->wb), 1);
    assert_int_equal(kv_writeback_applied_index(f->wb), 2);
    assert_string_equal(wb_value(f, "k"), "new");
    assert_session(f->ops, f->wb, 4, 4, CLIENT_OK);
    assert_string_equal(store_value(f, "k"), "old");
    assert_int_not_equal(kv_writeback_deadline(f->wb), UINT64_MAX);
    /* Write-through: the failing put surfaces from commit. */
    open_wb(f, 0, 0, 0, 0);
    begin(f);
    put(f, "k", "wt");
    f->rec.fail_op = KV_REC_PUT;
    f->rec.fail_err = ERR_IO;
    assert_int_equal(f->ops->commit(f->wb, 2), ERR_IO);
    mem_kv_rollback(&f->rec.kv);
    assert_int_equal(kv_writeback_stored_index(f->wb), 1);
    assert_string_equal(wb_value(f, "k"), "wt");
    assert_int_equal(mem_kv_applied(&f->rec.kv), 1);
}

/* --- Growth --- */

/* Value of key i at version ver: length from (i, ver), one byte pattern;
 * every 997th write is RAFT_VALUE_MAX bytes, a few are empty. */
static uint32_t big_value(uint32_t i, uint32_t ver, uint8_t *buf)
{
    uint32_t len = (i * 7 + ver * 13) % 48;
    if ((i + ver) % 997 == 0) {
        len = RAFT_VALUE_MAX;
    }
    for (uint32_t j = 0; j < len; j++) {
        buf[j] = (uint8_t)(i * 31 + ver * 17 + j);
    }
    return len;
}

static uint32_t big_key(uint32_t i, char *key, size_t cap)
{
    return (uint32_t)snprintf(key, cap, "key/%u/%s", i,
                              i % 5 == 0 ? "with-a-longer-suffix" : "s");
}

/* Checks key i through ops/ctx: absent when ver is 0, else its value. */
static void assert_big(const struct kv_store_ops *ops, void *ctx, uint32_t i,
                       uint32_t ver, uint8_t *buf)
{
    char key[64];
    uint32_t key_len = big_key(i, key, sizeof key);
    const uint8_t *v = NULL;
    uint32_t len = 0;
    int rc = ops->get(ctx, bytes(key), key_len, &v, &len);
    if (ver == 0) {
        assert_int_equal(rc, ERR_NOT_FOUND);
        return;
    }
    assert_int_equal(rc, ERR_OK);
    uint32_t want = big_value(i, ver, buf);
    assert_int_equal(len, want);
    if (want > 0) {
        assert_memory_equal(v, buf, want);
    }
}

/* Writes version ver of key i (0: deletes it) through the buffer. */
static void write_big(struct fixture *f, uint32_t i, uint32_t ver, uint8_t *buf)
{
    char key[64];
    uint32_t key_len = big_key(i, key, sizeof key);
    if (ver == 0) {
        assert_int_equal(f->ops->del(f->wb, bytes(key), key_len), ERR_OK);
        return;
    }
    uint32_t len = big_value(i, ver, buf);
    assert_int_equal(f->ops->put(f->wb, bytes(key), key_len, buf, len), ERR_OK);
}

/* 100k keys in batches, then overwrites, deletes and re-puts of a third of
 * them: the key table, its slots and the arena grow many times (slots are
 * rehashed, the arena moves), and every key still reads its newest value,
 * through the buffer and then from the store after one store. The buffer
 * keeps working after the store drops its oversized tables. */
static void test_writeback_many_keys_survive_growth(void **state)
{
    struct fixture *f = *state;
    enum { N = 100000 };
    uint32_t *ver = calloc(N, sizeof *ver);
    uint8_t *buf = malloc(RAFT_VALUE_MAX);
    assert_non_null(ver);
    assert_non_null(buf);
    open_buffered(f);
    raft_index idx = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (i % 1000 == 0) {
            begin(f);
        }
        ver[i] = 1;
        write_big(f, i, 1, buf);
        if (i % 1000 == 999) {
            commit(f, ++idx);
        }
    }
    begin(f);
    for (uint32_t i = 0; i < N; i += 3) {
        ver[i] = i % 2 ? 0 : 2; /* Deletes and overwrites. */
        write_big(f, i, ver[i], buf);
    }
    for (uint32_t i = 0; i < N; i += 9) {
        ver[i] = 3; /* Some deleted ones come back. */
        write_big(f, i, 3, buf);
    }
    commit(f, ++idx);
    for (uint32_t i = 0; i < N; i++) {
        assert_big(f->ops, f->wb, i, ver[i], buf);
    }
    assert_int_equal(f->rec.n_calls, 0);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_int_equal(kv_recorder_count(&f->rec, KV_REC_BEGIN), 1);
    assert_int_equal(kv_recorder_count(&f->rec, KV_REC_PUT) +
                         kv_recorder_count(&f->rec, KV_REC_DEL),
                     N);
    size_t n_live = 0;
    for (uint32_t i = 0; i < N; i++) {
        n_live += ver[i] != 0;
        assert_big(mem_kv_ops(), &f->rec.kv, i, ver[i], buf);
    }
    assert_int_equal(mem_kv_count(&f->rec.kv), n_live);
    assert_int_equal(mem_kv_applied(&f->rec.kv), idx);
    /* After the store: new writes buffer again, old keys read the store. */
    begin(f);
    write_big(f, 5, 4, buf);
    write_big(f, 6, 0, buf);
    commit(f, ++idx);
    ver[5] = 4;
    ver[6] = 0;
    for (uint32_t i = 0; i < 200; i++) {
        assert_big(f->ops, f->wb, i, ver[i], buf);
    }
    free(ver);
    free(buf);
}

/* --- Order and determinism --- */

/* The store writes keys in byte order, whatever order they were buffered
 * in (overwrites and a delete-then-put included), then sessions by client
 * id: the store's b-trees are walked once, and two replicas that applied
 * the same entries issue the same store calls. */
static void test_writeback_store_sorts_keys_and_sessions(void **state)
{
    struct fixture *f = *state;
    open_buffered(f);
    begin(f);
    put(f, "c", "1");
    put(f, "a", "1");
    del(f, "z");
    session_put(f, 30, 1, CLIENT_OK);
    session_put(f, 10, 1, CLIENT_OK);
    commit(f, 1);
    begin(f);
    put(f, "z", "back");
    put(f, "b", "1");
    put(f, "c", "2");
    session_put(f, 20, 1, CLIENT_OK);
    session_put(f, 30, 2, CLIENT_OK);
    commit(f, 2);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    const struct kv_rec_call *c = f->rec.calls;
    assert_int_equal(f->rec.n_calls, 9);
    assert_call(&c[1], KV_REC_PUT, "a", "1");
    assert_call(&c[2], KV_REC_PUT, "b", "1");
    assert_call(&c[3], KV_REC_PUT, "c", "2");
    assert_call(&c[4], KV_REC_PUT, "z", "back");
    assert_int_equal(c[5].client_id, 10);
    assert_int_equal(c[6].client_id, 20);
    assert_int_equal(c[7].client_id, 30);
    assert_int_equal(c[7].seq, 2);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Order holds across rehashes: 3000 keys and 3000 sessions buffered in a
 * shuffled order come out sorted. */
static void test_writeback_order_survives_rehash(void **state)
{
    struct fixture *f = *state;
    enum { N = 3000 };
    uint32_t perm[N];
    struct rng r;
    rng_init(&r, 77);
    for (uint32_t i = 0; i < N; i++) {
        perm[i] = i;
    }
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)rng_range(&r, 0, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    open_buffered(f);
    begin(f);
    char key[32];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%u", perm[i]);
        put(f, key, "v");
        session_put(f, 1000 + perm[i], 1, CLIENT_OK);
    }
    commit(f, 1);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_int_equal(f->rec.n_calls, 2 + 2 * N);
    /* Keys in byte order, sessions by id, whatever order they came in. */
    static char sorted[N][16];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(sorted[i], sizeof sorted[i], "k%u", i);
    }
    qsort(sorted, N, sizeof sorted[0], compare_strings);
    for (uint32_t i = 0; i < N; i++) {
        assert_call(&f->rec.calls[1 + i], KV_REC_PUT, sorted[i], "v");
        assert_int_equal(f->rec.calls[1 + N + i].client_id, 1000 + i);
    }
}

/* Byte order with the shorter key first: the order stores must follow. */
static int compare_bytes(const uint8_t *a, uint32_t a_len, const uint8_t *b,
                         uint32_t b_len)
{
    uint32_t n = a_len < b_len ? a_len : b_len;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    return c != 0 ? c : (a_len > b_len) - (a_len < b_len);
}

/* Binary keys that share their first 8 bytes, hold NULs and 0xff, and are
 * prefixes of one another still store in byte order, each once. */
static void test_writeback_store_orders_binary_keys(void **state)
{
    struct fixture *f = *state;
    enum { N = 600, KEY_MAX = 16 };
    static const uint8_t alphabet[] = {0x00, 0x01, 'a', 0xff};
    static uint8_t keys[N][KEY_MAX];
    uint32_t lens[N];
    struct rng r;
    rng_init(&r, 2026);
    open_buffered(f);
    begin(f);
    size_t distinct = 0;
    for (uint32_t i = 0; i < N; i++) {
        lens[i] = (uint32_t)rng_range(&r, 1, KEY_MAX + 1);
        for (uint32_t j = 0; j < lens[i]; j++) {
            /* Mostly 'a' up front: long shared prefixes. */
            keys[i][j] = j < 8 && rng_chance_ppm(&r, 800000)
                             ? 'a'
                             : alphabet[rng_range(&r, 0, sizeof alphabet)];
        }
        bool seen = false;
        for (uint32_t k = 0; k < i && !seen; k++) {
            seen = compare_bytes(keys[k], lens[k], keys[i], lens[i]) == 0;
        }
        distinct += !seen;
        assert_int_equal(f->ops->put(f->wb, keys[i], lens[i], bytes("v"), 1),
                         ERR_OK);
    }
    commit(f, 1);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_int_equal(f->rec.n_calls, 2 + distinct);
    for (size_t i = 2; i < 1 + distinct; i++) {
        const struct kv_rec_call *a = &f->rec.calls[i - 1];
        const struct kv_rec_call *b = &f->rec.calls[i];
        assert_int_equal(b->op, KV_REC_PUT);
        if (compare_bytes(a->key, a->key_len, b->key, b->key_len) >= 0) {
            fail_msg("put %zu is not after put %zu", i, i - 1);
        }
    }
}

/* --- A seeded random run against the store alone --- */

#define DIFF_KEYS 40
#define DIFF_CLIENTS 6

/* One log entry of the random run and what applying it returned. */
struct diff_entry {
    uint8_t *payload;
    size_t len;
    struct kv_result res;
    bool is_register; /* A register entry (limit max), not a command. */
    uint64_t max;
};

/* Applies entry e at index: a register or a command. */
static int diff_apply_one(const struct kv_store_ops *ops, void *ctx,
                          raft_index index, const struct diff_entry *e,
                          struct kv_result *res)
{
    if (e->is_register) {
        memset(res, 0, sizeof *res);
        return kv_register(ops, ctx, index, e->max);
    }
    return kv_apply(ops, ctx, index, e->payload, e->len, res);
}

struct diff_run {
    struct fixture *f;
    struct rng rng;
    struct mem_kv ref;      /* The same entries applied straight. */
    struct diff_entry *log; /* log[i] is index i + 1. */
    size_t n_log;
    size_t cap_log;
    uint64_t seq[DIFF_CLIENTS + 1];
    uint64_t sid[DIFF_CLIENTS + 1]; /* Each client's session (0: none). */
    uint64_t now_ms;
    uint32_t n_fresh; /* Keys used once, for table growth. */
    uint32_t n_crashes;
    uint64_t max_sessions; /* The session limit of both stores. */
    uint32_t n_expired;    /* Entries answered SESSION_EXPIRED. */
};

static void diff_key(struct diff_run *d, char *key, size_t cap)
{
    if (rng_range(&d->rng, 0, 10) == 0) {
        snprintf(key, cap, "fresh-%u", d->n_fresh++);
    } else {
        snprintf(key, cap, "k%u", (unsigned)rng_range(&d->rng, 0, DIFF_KEYS));
    }
}

/* Fills value (RAFT_VALUE_MAX bytes) with a random value, now and then
 * (when may_be_big) a RAFT_VALUE_MAX one; returns its length. */
static uint32_t diff_value(struct diff_run *d, uint8_t *value, bool may_be_big)
{
    uint32_t len = (uint32_t)rng_range(&d->rng, 0, 24);
    if (may_be_big && rng_range(&d->rng, 0, 50) == 0) {
        len = RAFT_VALUE_MAX;
    }
    for (uint32_t i = 0; i < len; i++) {
        value[i] = (uint8_t)rng_range(&d->rng, 'a', 'a' + 4);
    }
    return len;
}

/* A random new log entry: now and then a register entry that gives a
 * client a new session, else a command (PUT, DEL or CAS; a session, none,
 * one never registered, or an old seq resent; now and then a payload that
 * does not decode). */
static struct diff_entry *diff_new_entry(struct diff_run *d, uint8_t *value,
                                         uint8_t *expected)
{
    if (d->n_log == d->cap_log) {
        d->cap_log = d->cap_log ? 2 * d->cap_log : 256;
        d->log = realloc(d->log, d->cap_log * sizeof *d->log);
        assert_non_null(d->log);
    }
    struct diff_entry *e = &d->log[d->n_log++];
    memset(e, 0, sizeof *e);
    if (rng_range(&d->rng, 0, 8) == 0) {
        uint64_t cl = rng_range(&d->rng, 1, DIFF_CLIENTS + 1);
        e->is_register = true;
        e->max = d->max_sessions;
        d->sid[cl] = d->n_log;
        d->seq[cl] = 0;
        return e;
    }
    char key[32];
    diff_key(d, key, sizeof key);
    struct command c;
    memset(&c, 0, sizeof c);
    uint64_t op = rng_range(&d->rng, 0, 10);
    c.op = op < 5 ? COMMAND_OP_PUT : op < 7 ? COMMAND_OP_DEL : COMMAND_OP_CAS;
    uint64_t cl = rng_range(&d->rng, 0, DIFF_CLIENTS + 1);
    c.client_id = d->sid[cl];
    if (cl != 0 && c.client_id == 0) {
        c.client_id = 1000000 + cl; /* Never registered: expired. */
    }
    if (cl != 0) {
        uint64_t *s = &d->seq[cl];
        bool resend = *s > 0 && rng_range(&d->rng, 0, 8) == 0;
        c.seq = resend ? rng_range(&d->rng, 1, *s + 1) : ++*s;
    }
    c.key = bytes(key);
    c.key_len = len_of(key);
    if (c.op != COMMAND_OP_DEL) {
        c.value = value;
        c.value_len = diff_value(d, value, c.op == COMMAND_OP_PUT);
    }
    if (c.op == COMMAND_OP_CAS) {
        const uint8_t *cur = NULL;
        uint32_t cur_len = 0;
        int rc = mem_kv_ops()->get(&d->ref, c.key, c.key_len, &cur, &cur_len);
        if (rc == ERR_OK && rng_range(&d->rng, 0, 2) == 0) {
            if (cur_len > 0) {
                memcpy(expected, cur, cur_len);
            }
            c.expected_len = cur_len;
        } else {
            c.expected_len = diff_value(d, expected, false);
        }
        c.expected = expected;
    }
    uint8_t *p = d->f->payload;
    assert_int_equal(command_encode(&c, p, PAYLOAD_CAP, &e->len), ERR_OK);
    if (rng_range(&d->rng, 0, 40) == 0) {
        e->len = 3; /* Truncated: applies as CLIENT_INVALID everywhere. */
    }
    e->payload = dup_or_null(p, (uint32_t)e->len);
    return e;
}

/* Applies log entries [first, last] (1-based) through the buffer in one
 * batch; each must return what it returned the first time. */
static void diff_apply_wb(struct diff_run *d, size_t first, size_t last)
{
    struct fixture *f = d->f;
    begin(f);
    for (size_t i = first; i <= last; i++) {
        const struct diff_entry *e = &d->log[i - 1];
        struct kv_result res;
        assert_int_equal(diff_apply_one(f->ops, f->wb, i, e, &res), ERR_OK);
        assert_int_equal(res.status, e->res.status);
        assert_int_equal(res.duplicate, e->res.duplicate);
    }
    commit(f, last);
}

/* Every key and session reads the same through the buffer as in ref. */
static void diff_compare(struct diff_run *d)
{
    char key[32];
    for (uint32_t k = 0; k < DIFF_KEYS + 3; k++) {
        snprintf(key, sizeof key, k < DIFF_KEYS ? "k%u" : "fresh-%u",
                 k < DIFF_KEYS ? k : d->n_fresh - 1 - (k - DIFF_KEYS) % 3);
        const uint8_t *a = NULL, *b = NULL;
        uint32_t a_len = 0, b_len = 0;
        int ra = d->f->ops->get(d->f->wb, bytes(key), len_of(key), &a, &a_len);
        int rb =
            mem_kv_ops()->get(&d->ref, bytes(key), len_of(key), &b, &b_len);
        assert_int_equal(ra, rb);
        assert_int_equal(a_len, b_len);
        if (ra == ERR_OK && a_len > 0) {
            assert_memory_equal(a, b, a_len);
        }
    }
    for (uint64_t id = 1; id <= d->n_log; id++) {
        if (!d->log[id - 1].is_register) {
            continue;
        }
        uint64_t seq = 0, wb_seq = 0;
        uint8_t status = 0, wb_status = 0;
        int rc = mem_kv_ops()->session_get(&d->ref, id, &seq, &status);
        assert_int_equal(d->f->ops->session_get(d->f->wb, id, &wb_seq,
                                                &wb_status),
                         rc);
        assert_int_equal(wb_seq, seq);
        assert_int_equal(wb_status, status);
        struct kv_session a, b;
        assert_int_equal(mem_kv_ops()->session_find(&d->ref, id, &a), ERR_OK);
        assert_int_equal(d->f->ops->session_find(d->f->wb, id, &b), ERR_OK);
        assert_int_equal(a.state, b.state);
    }
}

/* A crash: the buffer goes without a store; the restart opens a new one
 * at the store's applied index and re-applies the log from there in
 * random batches. */
static void diff_crash(struct diff_run *d, const struct kv_writeback_config *c)
{
    struct fixture *f = d->f;
    raft_index stored = kv_writeback_stored_index(f->wb);
    assert_int_equal(mem_kv_applied(&f->rec.kv), stored);
    open_wb(f, c->ops_max, c->bytes_max, c->delay_ms, c->idle_ms);
    d->n_crashes++;
    size_t next = stored + 1;
    while (next <= d->n_log) {
        size_t last = next + rng_range(&d->rng, 0, 8);
        last = last > d->n_log ? d->n_log : last;
        diff_apply_wb(d, next, last);
        next = last + 1;
    }
}

/* One run of 1500 entries under config c. */
static void diff_run_config(struct fixture *f,
                            const struct kv_writeback_config *c, uint64_t seed,
                            uint64_t max_sessions)
{
    struct diff_run d;
    memset(&d, 0, sizeof d);
    d.f = f;
    rng_init(&d.rng, seed);
    mem_kv_init(&d.ref);
    d.max_sessions = max_sessions;
    uint8_t *value = malloc(RAFT_VALUE_MAX);
    uint8_t *expected = malloc(RAFT_VALUE_MAX);
    assert_non_null(value);
    assert_non_null(expected);
    open_wb(f, c->ops_max, c->bytes_max, c->delay_ms, c->idle_ms);
    const struct kv_store_ops *m = mem_kv_ops();
    for (int batch = 0; d.n_log < 1500; batch++) {
        size_t first = d.n_log + 1;
        size_t n = rng_range(&d.rng, 1, 7);
        assert_int_equal(m->begin(&d.ref), ERR_OK);
        for (size_t i = 0; i < n; i++) {
            struct diff_entry *e = diff_new_entry(&d, value, expected);
            assert_int_equal(
                diff_apply_one(m, &d.ref, d.n_log, e, &e->res),
                ERR_OK);
            d.n_expired += e->res.status == CLIENT_SESSION_EXPIRED;
        }
        assert_int_equal(m->commit(&d.ref, d.n_log), ERR_OK);
        diff_apply_wb(&d, first, d.n_log);
        d.now_ms += rng_range(&d.rng, 0, 30);
        uint64_t action = rng_range(&d.rng, 0, 100);
        if (action < 60) {
            assert_int_equal(kv_writeback_tick(f->wb, d.now_ms), ERR_OK);
        } else if (action < 65) {
            assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
        } else if (action < 69) {
            diff_crash(&d, c);
        }
        if (batch % 25 == 0) {
            diff_compare(&d);
        }
        kv_recorder_clear(&f->rec);
    }
    diff_compare(&d);
    assert_int_equal(kv_writeback_store(f->wb), ERR_OK);
    assert_true(mem_kv_hash(&f->rec.kv) == mem_kv_hash(&d.ref));
    assert_true(d.n_crashes > 0);
    assert_true(d.n_expired > 0);
    for (size_t i = 0; i < d.n_log; i++) {
        free(d.log[i].payload);
    }
    free(d.log);
    free(value);
    free(expected);
    mem_kv_close(&d.ref);
}

/* Under every kind of config (write-through, tiny ops and bytes limits,
 * delay and idle, raftnode's), with random ticks, stores and crashes,
 * the buffer answers every read and every apply as the store alone does,
 * and after a final store the store equals it (rows, sessions, applied
 * index). */
static void test_writeback_random_run_matches_store(void **state)
{
    struct fixture *f = *state;
    const struct kv_writeback_config configs[] = {
        {0, 0, 0, 0},
        {1, 0, 1000, 0},
        {3, 0, 50, 5},
        {0, 64, 1000, 0},
        {0, 0, 40, 0},
        {0, 0, 200, 20},
        {16384, 4u << 20, 1000, 20},
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        mem_kv_close(&f->rec.kv);
        mem_kv_init(&f->rec.kv);
        diff_run_config(f, &configs[i], 1000 + i, 0);
    }
}

/* Bounded sessions (docs/SESSIONS.md): whatever the batching, stores and
 * crashes, every register through the buffer evicts, and every apply
 * answers SESSION_EXPIRED, exactly as the store alone does, so a replica's
 * answers and tables are a function of the log. */
static void test_writeback_bounded_sessions_match_store(void **state)
{
    struct fixture *f = *state;
    const struct kv_writeback_config configs[] = {
        {0, 0, 0, 0},
        {3, 0, 50, 5},
        {16384, 4u << 20, 1000, 20},
    };
    const uint64_t limits[] = {1, 2, 4};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        for (size_t j = 0; j < sizeof limits / sizeof limits[0]; j++) {
            mem_kv_close(&f->rec.kv);
            mem_kv_init(&f->rec.kv);
            diff_run_config(f, &configs[i], 2000 + 10 * i + j, limits[j]);
        }
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_writeback_get_sees_buffer_then_store),
        T(test_writeback_overwrites_in_place_and_grow),
        T(test_writeback_sessions_buffered_and_read_back),
        T(test_writeback_many_sessions_survive_growth),
        T(test_writeback_nothing_reaches_kv_table_before_store),
        T(test_writeback_store_is_one_transaction),
        T(test_writeback_second_store_writes_only_new_changes),
        T(test_writeback_reuses_buffer_after_store),
        T(test_writeback_write_through_stores_every_commit),
        T(test_writeback_ops_max_stores_at_commit),
        T(test_writeback_bytes_max_stores_at_commit),
        T(test_writeback_delay_runs_from_first_commit),
        T(test_writeback_idle_stores_a_quiet_node),
        T(test_writeback_zero_delay_stores_at_next_tick),
        T(test_writeback_free_without_store_is_a_crash),
        T(test_writeback_failed_store_keeps_buffer),
        T(test_writeback_many_keys_survive_growth),
        T(test_writeback_store_sorts_keys_and_sessions),
        T(test_writeback_order_survives_rehash),
        T(test_writeback_store_orders_binary_keys),
        T(test_writeback_random_run_matches_store),
        T(test_writeback_bounded_sessions_match_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
