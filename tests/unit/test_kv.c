/*
 * Unit tests of node/kv.c over the in-memory store of tests/lib/mem_kv.c:
 * put/del/cas semantics, exactly-once sessions, commands at the size
 * limits, and the in-memory store's own rollback. The payload codec has
 * its own tests in tests/unit/test_command.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/command.h"
#include "common/err.h"
#include "common/msg.h"
#include "node/kv.h"
#include "tests/lib/mem_kv.h"

#define BUF_CAP (30 + RAFT_KEY_MAX + 2 * RAFT_VALUE_MAX + 16)

struct fixture {
    struct mem_kv kv;
    uint8_t *buf; /* BUF_CAP bytes for encoded payloads. */
    size_t len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    mem_kv_init(&f->kv);
    f->buf = malloc(BUF_CAP);
    assert_non_null(f->buf);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mem_kv_close(&f->kv);
    free(f->buf);
    free(f);
    return 0;
}

static struct command make_cmd(uint8_t op, uint64_t client_id, uint64_t seq,
                               const char *key, const char *value,
                               const char *expected)
{
    struct command c;
    memset(&c, 0, sizeof(c));
    c.op = op;
    c.client_id = client_id;
    c.seq = seq;
    c.key = (const uint8_t *)key;
    c.key_len = (uint32_t)strlen(key);
    if (value != NULL) {
        c.value = (const uint8_t *)value;
        c.value_len = (uint32_t)strlen(value);
    }
    if (expected != NULL) {
        c.expected = (const uint8_t *)expected;
        c.expected_len = (uint32_t)strlen(expected);
    }
    return c;
}

/* Encodes and applies one command in its own transaction. */
static struct kv_result apply(struct fixture *f, uint8_t op, uint64_t client_id,
                              uint64_t seq, const char *key, const char *value,
                              const char *expected)
{
    struct command c = make_cmd(op, client_id, seq, key, value, expected);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    const struct kv_store_ops *ops = mem_kv_ops();
    struct kv_result res;
    assert_int_equal(ops->begin(&f->kv), ERR_OK);
    assert_int_equal(
        kv_apply(ops, &f->kv, mem_kv_applied(&f->kv) + 1, f->buf, f->len, &res),
        ERR_OK);
    assert_int_equal(ops->commit(&f->kv, mem_kv_applied(&f->kv) + 1), ERR_OK);
    return res;
}

/* Applies a register entry with limit max at the next index in its own
 * transaction; returns the new session's id (that index). */
static uint64_t reg(struct fixture *f, uint64_t max)
{
    const struct kv_store_ops *ops = mem_kv_ops();
    raft_index index = mem_kv_applied(&f->kv) + 1;
    assert_int_equal(ops->begin(&f->kv), ERR_OK);
    assert_int_equal(kv_register(ops, &f->kv, index, max), ERR_OK);
    assert_int_equal(ops->commit(&f->kv, index), ERR_OK);
    return index;
}

/* The current value of key as a string, or NULL when absent. */
static const char *value_of(struct fixture *f, const char *key)
{
    static char out[RAFT_VALUE_MAX + 1];
    const uint8_t *v;
    uint32_t len;
    int rc = mem_kv_ops()->get(&f->kv, (const uint8_t *)key,
                               (uint32_t)strlen(key), &v, &len);
    if (rc == ERR_NOT_FOUND) {
        return NULL;
    }
    assert_int_equal(rc, ERR_OK);
    if (len > 0) {
        memcpy(out, v, len);
    }
    out[len] = '\0';
    return out;
}

/* PUT sets, a second PUT overwrites. */
static void test_kv_put_sets_and_overwrites(void **state)
{
    struct fixture *f = *state;
    struct kv_result r = apply(f, COMMAND_OP_PUT, 0, 0, "k", "v1", NULL);
    assert_int_equal(r.status, CLIENT_OK);
    assert_false(r.duplicate);
    assert_string_equal(value_of(f, "k"), "v1");
    apply(f, COMMAND_OP_PUT, 0, 0, "k", "v2", NULL);
    assert_string_equal(value_of(f, "k"), "v2");
    assert_int_equal(mem_kv_count(&f->kv), 1);
    assert_int_equal(mem_kv_applied(&f->kv), 2);
}

/* An empty value is a value, distinct from an absent key. */
static void test_kv_put_empty_value_exists(void **state)
{
    struct fixture *f = *state;
    apply(f, COMMAND_OP_PUT, 0, 0, "k", "", NULL);
    assert_string_equal(value_of(f, "k"), "");
    struct kv_result r = apply(f, COMMAND_OP_CAS, 0, 0, "k", "new", "");
    assert_int_equal(r.status, CLIENT_OK);
    assert_string_equal(value_of(f, "k"), "new");
}

/* DEL removes, and succeeds on an absent key (DESIGN.md `del`). */
static void test_kv_del_removes_and_absent_is_ok(void **state)
{
    struct fixture *f = *state;
    apply(f, COMMAND_OP_PUT, 0, 0, "k", "v", NULL);
    struct kv_result r = apply(f, COMMAND_OP_DEL, 0, 0, "k", NULL, NULL);
    assert_int_equal(r.status, CLIENT_OK);
    assert_null(value_of(f, "k"));
    r = apply(f, COMMAND_OP_DEL, 0, 0, "k", NULL, NULL);
    assert_int_equal(r.status, CLIENT_OK);
    assert_int_equal(mem_kv_count(&f->kv), 0);
    /* A store whose del reports the absence is fine too. */
    struct command c = make_cmd(COMMAND_OP_DEL, 0, 0, "k", NULL, NULL);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    assert_int_equal(mem_kv_ops()->begin(&f->kv), ERR_OK);
    mem_kv_fail_next(&f->kv, ERR_NOT_FOUND);
    assert_int_equal(kv_apply(mem_kv_ops(), &f->kv, mem_kv_applied(&f->kv) + 1,
                              f->buf, f->len, &r),
                     ERR_OK);
    assert_int_equal(r.status, CLIENT_OK);
    mem_kv_rollback(&f->kv);
}

/* CAS swaps only when the current value equals expected. */
static void test_kv_cas_swaps_when_equal(void **state)
{
    struct fixture *f = *state;
    apply(f, COMMAND_OP_PUT, 0, 0, "k", "old", NULL);
    struct kv_result r = apply(f, COMMAND_OP_CAS, 0, 0, "k", "new", "old");
    assert_int_equal(r.status, CLIENT_OK);
    assert_string_equal(value_of(f, "k"), "new");
}

/* CAS against a different value (also a prefix of it) changes nothing. */
static void test_kv_cas_mismatch_changes_nothing(void **state)
{
    struct fixture *f = *state;
    apply(f, COMMAND_OP_PUT, 0, 0, "k", "old", NULL);
    uint64_t before = mem_kv_hash(&f->kv);
    struct kv_result r = apply(f, COMMAND_OP_CAS, 0, 0, "k", "new", "ol");
    assert_int_equal(r.status, CLIENT_CAS_MISMATCH);
    r = apply(f, COMMAND_OP_CAS, 0, 0, "k", "new", "olx");
    assert_int_equal(r.status, CLIENT_CAS_MISMATCH);
    assert_string_equal(value_of(f, "k"), "old");
    /* Only the applied index moved. */
    f->kv.applied -= 2;
    assert_int_equal(mem_kv_hash(&f->kv), before);
}

/* CAS on an absent key is a mismatch, even against an empty expected. */
static void test_kv_cas_absent_is_mismatch(void **state)
{
    struct fixture *f = *state;
    struct kv_result r = apply(f, COMMAND_OP_CAS, 0, 0, "k", "new", "");
    assert_int_equal(r.status, CLIENT_CAS_MISMATCH);
    assert_null(value_of(f, "k"));
}

/* Exactly-once (thesis 6.3): a retried (client_id, seq) is not applied
 * again and returns the result of its first application. */
static void test_kv_duplicate_applied_once_with_cached_result(void **state)
{
    struct fixture *f = *state;
    uint64_t id = reg(f, 0);
    apply(f, COMMAND_OP_PUT, 0, 0, "k", "a", NULL);
    struct kv_result r = apply(f, COMMAND_OP_CAS, id, 1, "k", "b", "a");
    assert_int_equal(r.status, CLIENT_OK);
    assert_false(r.duplicate);
    apply(f, COMMAND_OP_PUT, 0, 0, "k", "a", NULL);
    /* The retry would succeed again if applied; it must not be. */
    r = apply(f, COMMAND_OP_CAS, id, 1, "k", "b", "a");
    assert_int_equal(r.status, CLIENT_OK);
    assert_true(r.duplicate);
    assert_string_equal(value_of(f, "k"), "a");
}

/* A cached failure stays a failure, even when a retry would now succeed. */
static void test_kv_duplicate_returns_cached_mismatch(void **state)
{
    struct fixture *f = *state;
    uint64_t id = reg(f, 0);
    struct kv_result r = apply(f, COMMAND_OP_CAS, id, 5, "k", "b", "a");
    assert_int_equal(r.status, CLIENT_CAS_MISMATCH);
    apply(f, COMMAND_OP_PUT, 0, 0, "k", "a", NULL);
    r = apply(f, COMMAND_OP_CAS, id, 5, "k", "b", "a");
    assert_int_equal(r.status, CLIENT_CAS_MISMATCH);
    assert_true(r.duplicate);
    assert_string_equal(value_of(f, "k"), "a");
}

/* An older seq than the session's last is a duplicate too; a newer one is
 * applied. */
static void test_kv_older_seq_is_duplicate_newer_applies(void **state)
{
    struct fixture *f = *state;
    uint64_t id = reg(f, 0);
    apply(f, COMMAND_OP_PUT, id, 10, "k", "ten", NULL);
    struct kv_result r = apply(f, COMMAND_OP_PUT, id, 4, "k", "four", NULL);
    assert_true(r.duplicate);
    assert_string_equal(value_of(f, "k"), "ten");
    r = apply(f, COMMAND_OP_PUT, id, 11, "k", "eleven", NULL);
    assert_false(r.duplicate);
    assert_string_equal(value_of(f, "k"), "eleven");
    uint64_t seq;
    uint8_t status;
    assert_int_equal(mem_kv_ops()->session_get(&f->kv, id, &seq, &status),
                     ERR_OK);
    assert_int_equal(seq, 11);
    assert_int_equal(status, CLIENT_OK);
}

/* client_id 0 has no session: every application counts. */
static void test_kv_client_zero_is_not_deduplicated(void **state)
{
    struct fixture *f = *state;
    apply(f, COMMAND_OP_PUT, 0, 1, "k", "a", NULL);
    apply(f, COMMAND_OP_PUT, 0, 1, "k", "b", NULL);
    assert_string_equal(value_of(f, "k"), "b");
    uint64_t seq;
    uint8_t status;
    assert_int_equal(mem_kv_ops()->session_get(&f->kv, 0, &seq, &status),
                     ERR_NOT_FOUND);
}

/* Sessions of different clients are independent. */
static void test_kv_sessions_are_per_client(void **state)
{
    struct fixture *f = *state;
    uint64_t a = reg(f, 0);
    uint64_t b = reg(f, 0);
    apply(f, COMMAND_OP_PUT, a, 1, "k", "a", NULL);
    struct kv_result r = apply(f, COMMAND_OP_PUT, b, 1, "k", "b", NULL);
    assert_false(r.duplicate);
    assert_string_equal(value_of(f, "k"), "b");
}

/* client_id's session state in the store. */
static int session_state(struct fixture *f, uint64_t client_id)
{
    struct kv_session out;
    assert_int_equal(mem_kv_ops()->session_find(&f->kv, client_id, &out),
                     ERR_OK);
    return out.state;
}

/* Rule (docs/SESSIONS.md): a register entry adds a session, then evicts
 * the one touched least recently (smallest last index) down to the
 * entry's limit, whoever has the smallest id; a request of an evicted
 * session is answered SESSION_EXPIRED and not executed (thesis 6.3),
 * whether a new seq or a retried old one. */
static void test_kv_evicts_least_recently_used_session(void **state)
{
    struct fixture *f = *state;
    uint64_t a = reg(f, 2);                         /* Index 1. */
    uint64_t b = reg(f, 2);                         /* 2 */
    apply(f, COMMAND_OP_PUT, b, 1, "k", "b", NULL); /* 3 */
    apply(f, COMMAND_OP_PUT, a, 1, "k", "a", NULL); /* 4: a is newer now. */
    uint64_t c = reg(f, 2);                         /* 5: evicts b. */
    apply(f, COMMAND_OP_PUT, c, 1, "k", "d", NULL);
    assert_int_equal(session_state(f, a), KV_SESSION_LIVE);
    assert_int_equal(session_state(f, b), KV_SESSION_NONE);
    assert_int_equal(session_state(f, c), KV_SESSION_LIVE);
    struct kv_result r = apply(f, COMMAND_OP_PUT, b, 2, "k", "x", NULL);
    assert_int_equal(r.status, CLIENT_SESSION_EXPIRED);
    assert_false(r.duplicate);
    r = apply(f, COMMAND_OP_PUT, b, 1, "k", "b", NULL); /* Its retry. */
    assert_int_equal(r.status, CLIENT_SESSION_EXPIRED);
    assert_string_equal(value_of(f, "k"), "d");
    assert_int_equal(session_state(f, b), KV_SESSION_NONE);
    r = apply(f, COMMAND_OP_PUT, a, 2, "k", "e", NULL);
    assert_int_equal(r.status, CLIENT_OK);
    assert_string_equal(value_of(f, "k"), "e");
    assert_int_equal(mem_kv_session_count(&f->kv), 2);
}

/* A session that was never registered is expired: nothing runs, and no
 * session appears. */
static void test_kv_unknown_session_is_expired(void **state)
{
    struct fixture *f = *state;
    struct kv_result r = apply(f, COMMAND_OP_PUT, 7, 1, "k", "a", NULL);
    assert_int_equal(r.status, CLIENT_SESSION_EXPIRED);
    assert_null(value_of(f, "k"));
    assert_int_equal(session_state(f, 7), KV_SESSION_NONE);
    assert_int_equal(mem_kv_session_count(&f->kv), 0);
}

/* The limit is the entry's: 0 keeps everything, a smaller one evicts down
 * to it at once, oldest first. */
static void test_kv_register_uses_entry_limit(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 5; i++) {
        (void)reg(f, 0);
    }
    assert_int_equal(mem_kv_session_count(&f->kv), 5);
    uint64_t last = reg(f, 2);
    assert_int_equal(mem_kv_session_count(&f->kv), 2);
    assert_int_equal(session_state(f, 5), KV_SESSION_LIVE);
    assert_int_equal(session_state(f, last), KV_SESSION_LIVE);
    assert_int_equal(session_state(f, 4), KV_SESSION_NONE);
}

/* The register entry's text: what the log shows, and only that parses. */
static void test_kv_session_entry_format_and_parse(void **state)
{
    (void)state;
    uint8_t buf[KV_SESSION_ENTRY_MAX];
    uint32_t len = kv_session_entry_format(buf, 10000);
    assert_int_equal(len, strlen("session max=10000"));
    assert_memory_equal(buf, "session max=10000", len);
    uint64_t max = 0;
    assert_true(kv_session_entry_parse(buf, len, &max));
    assert_int_equal(max, 10000);
    len = kv_session_entry_format(buf, UINT64_MAX);
    assert_true(kv_session_entry_parse(buf, len, &max));
    assert_true(max == UINT64_MAX);
    assert_false(kv_session_entry_parse(NULL, 0, &max));
    assert_false(kv_session_entry_parse((const uint8_t *)"session max=", 12,
                                        &max));
    assert_false(kv_session_entry_parse((const uint8_t *)"session max=1x", 14,
                                        &max));
    assert_false(kv_session_entry_parse(
        (const uint8_t *)"session max=18446744073709551616", 32, &max));
}

/* A rolled-back transaction restores evicted sessions. */
static void test_mem_kv_rollback_restores_evictions(void **state)
{
    struct fixture *f = *state;
    uint64_t a = reg(f, 1);
    uint64_t b = reg(f, 1); /* Evicts a. */
    uint64_t before = mem_kv_hash(&f->kv);
    const struct kv_store_ops *ops = mem_kv_ops();
    assert_int_equal(ops->begin(&f->kv), ERR_OK);
    assert_int_equal(ops->session_register(&f->kv, 3, 1), ERR_OK);
    assert_int_equal(session_state(f, a), KV_SESSION_NONE);
    assert_int_equal(session_state(f, b), KV_SESSION_NONE);
    mem_kv_rollback(&f->kv);
    assert_int_equal(mem_kv_hash(&f->kv), before);
    assert_int_equal(session_state(f, a), KV_SESSION_NONE);
    assert_int_equal(session_state(f, b), KV_SESSION_LIVE);
}

/* An undecodable payload changes nothing and is not an error. */
static void test_kv_apply_invalid_payload_changes_nothing(void **state)
{
    struct fixture *f = *state;
    apply(f, COMMAND_OP_PUT, 1, 1, "k", "a", NULL);
    uint64_t before = mem_kv_hash(&f->kv);
    const struct kv_store_ops *ops = mem_kv_ops();
    const uint8_t junk[] = {1, 1, 0xff, 0xff};
    struct kv_result r = {.status = CLIENT_OK, .duplicate = true};
    assert_int_equal(ops->begin(&f->kv), ERR_OK);
    assert_int_equal(kv_apply(ops, &f->kv, 1, junk, sizeof(junk), &r), ERR_OK);
    assert_int_equal(r.status, CLIENT_INVALID);
    assert_false(r.duplicate);
    assert_int_equal(kv_apply(ops, &f->kv, 1, NULL, 0, &r), ERR_OK);
    assert_int_equal(r.status, CLIENT_INVALID);
    mem_kv_rollback(&f->kv);
    assert_int_equal(mem_kv_hash(&f->kv), before);
}

/* A store failure is returned to the caller (fatal for the node). */
static void test_kv_apply_returns_store_error(void **state)
{
    struct fixture *f = *state;
    struct command c = make_cmd(COMMAND_OP_PUT, 4, 1, "k", "v", NULL);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    const struct kv_store_ops *ops = mem_kv_ops();
    struct kv_result r;
    assert_int_equal(ops->begin(&f->kv), ERR_OK);
    mem_kv_fail_next(&f->kv, ERR_IO);
    assert_int_equal(
        kv_apply(ops, &f->kv, mem_kv_applied(&f->kv) + 1, f->buf, f->len, &r),
        ERR_IO);
    mem_kv_rollback(&f->kv);
    assert_null(value_of(f, "k"));
}

/* Fills a command with a key of key_len and a value of value_len bytes. */
static struct command sized_cmd(uint8_t *key, uint32_t key_len, uint8_t *value,
                                uint32_t value_len)
{
    memset(key, 'k', key_len);
    memset(value, 'v', value_len);
    struct command c;
    memset(&c, 0, sizeof(c));
    c.op = COMMAND_OP_PUT;
    c.key = key;
    c.key_len = key_len;
    c.value = value;
    c.value_len = value_len;
    return c;
}

/* A key and a value at their limits (DESIGN.md: inclusive) apply; the
 * codec's own limit checks are in tests/unit/test_command.c. */
static void test_kv_applies_command_at_size_limits(void **state)
{
    struct fixture *f = *state;
    static uint8_t key[RAFT_KEY_MAX];
    static uint8_t value[RAFT_VALUE_MAX];
    struct command c = sized_cmd(key, RAFT_KEY_MAX, value, RAFT_VALUE_MAX);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    const struct kv_store_ops *ops = mem_kv_ops();
    struct kv_result r;
    assert_int_equal(ops->begin(&f->kv), ERR_OK);
    assert_int_equal(
        kv_apply(ops, &f->kv, mem_kv_applied(&f->kv) + 1, f->buf, f->len, &r),
        ERR_OK);
    assert_int_equal(r.status, CLIENT_OK);
    assert_int_equal(ops->commit(&f->kv, 1), ERR_OK);
    const uint8_t *v = NULL;
    uint32_t len = 0;
    assert_int_equal(ops->get(&f->kv, key, RAFT_KEY_MAX, &v, &len), ERR_OK);
    assert_int_equal(len, RAFT_VALUE_MAX);
}

/* mem_kv: a rolled-back transaction leaves keys, sessions and the applied
 * index exactly as they were (what a crash before COMMIT does). */
static void test_mem_kv_rollback_restores_state(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 3; i++) {
        (void)reg(f, 0); /* Sessions 1, 2, 3. */
    }
    apply(f, COMMAND_OP_PUT, 1, 1, "a", "1", NULL);
    apply(f, COMMAND_OP_PUT, 1, 2, "b", "2", NULL);
    uint64_t before = mem_kv_hash(&f->kv);
    const struct kv_store_ops *ops = mem_kv_ops();
    const char *cmds[][3] = {
        {"a", "x", NULL}, {"c", "3", NULL}, {"a", "y", NULL}};
    struct kv_result r;
    assert_int_equal(ops->begin(&f->kv), ERR_OK);
    for (int i = 0; i < 3; i++) {
        struct command c = make_cmd(COMMAND_OP_PUT, 1 + (uint64_t)i, 3,
                                    cmds[i][0], cmds[i][1], NULL);
        assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
        assert_int_equal(kv_apply(ops, &f->kv, mem_kv_applied(&f->kv) + 1,
                                  f->buf, f->len, &r),
                         ERR_OK);
    }
    struct command d = make_cmd(COMMAND_OP_DEL, 0, 0, "b", NULL, NULL);
    assert_int_equal(command_encode(&d, f->buf, BUF_CAP, &f->len), ERR_OK);
    assert_int_equal(
        kv_apply(ops, &f->kv, mem_kv_applied(&f->kv) + 1, f->buf, f->len, &r),
        ERR_OK);
    assert_int_not_equal(mem_kv_hash(&f->kv), before);
    mem_kv_rollback(&f->kv);
    assert_int_equal(mem_kv_hash(&f->kv), before);
    assert_string_equal(value_of(f, "a"), "1");
    assert_string_equal(value_of(f, "b"), "2");
    assert_null(value_of(f, "c"));
    assert_int_equal(mem_kv_applied(&f->kv), 5);
}

/* mem_kv: keys iterate in byte order and a copy hashes the same. */
static void test_mem_kv_order_and_copy(void **state)
{
    struct fixture *f = *state;
    apply(f, COMMAND_OP_PUT, 0, 0, "b", "2", NULL);
    apply(f, COMMAND_OP_PUT, 0, 0, "ab", "1", NULL);
    apply(f, COMMAND_OP_PUT, 0, 0, "a", "0", NULL);
    assert_int_equal(mem_kv_count(&f->kv), 3);
    assert_memory_equal(mem_kv_at(&f->kv, 0)->key, "a", 1);
    assert_memory_equal(mem_kv_at(&f->kv, 1)->key, "ab", 2);
    assert_memory_equal(mem_kv_at(&f->kv, 2)->key, "b", 1);
    struct mem_kv copy;
    mem_kv_init(&copy);
    assert_int_equal(mem_kv_copy(&copy, &f->kv), ERR_OK);
    assert_int_equal(mem_kv_hash(&copy), mem_kv_hash(&f->kv));
    mem_kv_close(&copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kv_put_sets_and_overwrites, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kv_put_empty_value_exists, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kv_del_removes_and_absent_is_ok,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_cas_swaps_when_equal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kv_cas_mismatch_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_cas_absent_is_mismatch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_kv_duplicate_applied_once_with_cached_result, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kv_duplicate_returns_cached_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kv_older_seq_is_duplicate_newer_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_client_zero_is_not_deduplicated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kv_evicts_least_recently_used_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_unknown_session_is_expired,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kv_register_uses_entry_limit, setup, teardown),
        cmocka_unit_test(test_kv_session_entry_format_and_parse),
        cmocka_unit_test_setup_teardown(test_mem_kv_rollback_restores_evictions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_sessions_are_per_client, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_kv_apply_invalid_payload_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_apply_returns_store_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_applies_command_at_size_limits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_mem_kv_rollback_restores_state,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_mem_kv_order_and_copy, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
