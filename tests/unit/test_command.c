/*
 * Unit tests of common/command.c: the payload codec round-trips every op
 * at the documented offsets, validates strictly (truncated, trailing,
 * oversized, garbage, fields the op does not carry), keeps the size limits
 * inclusive, and names the ops for the log table.
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
#include "common/rng.h"
#include "common/types.h"

#define BUF_CAP (30 + RAFT_KEY_MAX + 2 * RAFT_VALUE_MAX + 16)

struct fixture {
    uint8_t *buf; /* BUF_CAP bytes for encoded payloads. */
    size_t len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->buf = malloc(BUF_CAP);
    assert_non_null(f->buf);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
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

/* Every op round-trips through encode/decode, field by field. */
static void test_command_encode_decode_round_trip(void **state)
{
    struct fixture *f = *state;
    struct command in[3] = {
        make_cmd(COMMAND_OP_PUT, UINT64_MAX, 1, "key", "value", NULL),
        make_cmd(COMMAND_OP_DEL, 0, 0, "k\x01", NULL, NULL),
        make_cmd(COMMAND_OP_CAS, 0x0102030405060708ull, UINT64_MAX - 1, "c",
                 "new", "old"),
    };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(command_encode(&in[i], f->buf, BUF_CAP, &f->len),
                         ERR_OK);
        assert_int_equal(f->len, command_encoded_size(&in[i]));
        struct command out;
        assert_int_equal(command_decode(f->buf, f->len, &out), ERR_OK);
        assert_int_equal(out.op, in[i].op);
        assert_int_equal(out.client_id, in[i].client_id);
        assert_int_equal(out.seq, in[i].seq);
        assert_int_equal(out.key_len, in[i].key_len);
        assert_memory_equal(out.key, in[i].key, out.key_len);
        assert_int_equal(out.value_len, in[i].value_len);
        assert_int_equal(out.expected_len, in[i].expected_len);
        if (out.value_len > 0) {
            assert_memory_equal(out.value, in[i].value, out.value_len);
        }
        if (out.expected_len > 0) {
            assert_memory_equal(out.expected, in[i].expected, out.expected_len);
        }
    }
    /* Integers are little-endian at fixed offsets (the documented layout). */
    assert_int_equal(f->buf[0], 1);
    assert_int_equal(f->buf[1], COMMAND_OP_CAS);
    assert_int_equal(f->buf[2], 0x08);
    assert_int_equal(f->buf[9], 0x01);
}

/* Every strict prefix of a valid payload is refused, and so is one more
 * byte. */
static void test_command_decode_rejects_truncated_and_trailing(void **state)
{
    struct fixture *f = *state;
    struct command c = make_cmd(COMMAND_OP_CAS, 1, 2, "key", "new", "old");
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    struct command out;
    for (size_t n = 0; n < f->len; n++) {
        assert_int_equal(command_decode(f->buf, n, &out), ERR_MALFORMED);
    }
    f->buf[f->len] = 0;
    assert_int_equal(command_decode(f->buf, f->len + 1, &out), ERR_MALFORMED);
    assert_int_equal(command_decode(f->buf, f->len, &out), ERR_OK);
}

/* Version, op, empty key, and fields the op does not carry are refused. */
static void test_command_decode_rejects_bad_header_fields(void **state)
{
    struct fixture *f = *state;
    struct command c = make_cmd(COMMAND_OP_PUT, 1, 2, "key", "v", NULL);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    struct command out;
    uint8_t saved = f->buf[0];
    f->buf[0] = 2;
    assert_int_equal(command_decode(f->buf, f->len, &out), ERR_MALFORMED);
    f->buf[0] = saved;
    const uint8_t bad_ops[] = {0, 4, 255};
    for (size_t i = 0; i < sizeof(bad_ops); i++) {
        f->buf[1] = bad_ops[i];
        assert_int_equal(command_decode(f->buf, f->len, &out), ERR_MALFORMED);
    }
    /* A DEL that carries a value: same bytes, op changed. */
    f->buf[1] = COMMAND_OP_DEL;
    assert_int_equal(command_decode(f->buf, f->len, &out), ERR_MALFORMED);
    /* An empty key, built by hand: header, key 0, value 0, expected 0. */
    uint8_t empty[30] = {1, COMMAND_OP_PUT};
    assert_int_equal(command_decode(empty, sizeof(empty), &out), ERR_MALFORMED);
    c = make_cmd(COMMAND_OP_PUT, 0, 0, "", "v", NULL);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_INVALID);
    c = make_cmd(COMMAND_OP_DEL, 0, 0, "k", "v", NULL);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_INVALID);
}

/* Random bytes never decode. */
static void test_command_decode_rejects_garbage(void **state)
{
    struct fixture *f = *state;
    struct rng rng;
    rng_init(&rng, 0x6b76);
    struct command out;
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)(rng_next(&rng) % 200);
        for (size_t j = 0; j < len; j++) {
            f->buf[j] = (uint8_t)rng_next(&rng);
        }
        assert_int_equal(command_decode(f->buf, len, &out), ERR_MALFORMED);
    }
    /* Lengths that claim more than the limits or the buffer. */
    struct command c = make_cmd(COMMAND_OP_PUT, 0, 0, "k", "v", NULL);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    f->buf[18] = 0xff; /* key_len = 0x...ff: beyond the payload. */
    assert_int_equal(command_decode(f->buf, f->len, &out), ERR_MALFORMED);
    memset(f->buf + 18, 0xff, 4); /* key_len = UINT32_MAX: no overflow. */
    assert_int_equal(command_decode(f->buf, f->len, &out), ERR_MALFORMED);
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

/* Limits are inclusive (DESIGN.md): a 1024-byte key and a 32768-byte value
 * are accepted; one byte more is refused by encode and by decode. */
static void test_command_size_limits_are_inclusive(void **state)
{
    struct fixture *f = *state;
    static uint8_t key[RAFT_KEY_MAX + 1];
    static uint8_t value[RAFT_VALUE_MAX + 1];
    struct command out;
    struct command c = sized_cmd(key, RAFT_KEY_MAX, value, RAFT_VALUE_MAX);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    assert_int_equal(command_decode(f->buf, f->len, &out), ERR_OK);
    assert_int_equal(out.key_len, RAFT_KEY_MAX);
    assert_int_equal(out.value_len, RAFT_VALUE_MAX);

    c = sized_cmd(key, RAFT_KEY_MAX + 1, value, 1);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_INVALID);
    c = sized_cmd(key, 1, value, RAFT_VALUE_MAX + 1);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_INVALID);

    /* Hand-made oversized payloads: patch the lengths of valid ones. */
    c = sized_cmd(key, RAFT_KEY_MAX, value, 0);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    f->buf[18] = (RAFT_KEY_MAX + 1) & 0xff;
    f->buf[19] = (RAFT_KEY_MAX + 1) >> 8;
    memmove(f->buf + 22 + RAFT_KEY_MAX + 1, f->buf + 22 + RAFT_KEY_MAX, 8);
    f->buf[22 + RAFT_KEY_MAX] = 'k';
    assert_int_equal(command_decode(f->buf, f->len + 1, &out), ERR_MALFORMED);
    c = sized_cmd(key, 1, value, RAFT_VALUE_MAX);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    size_t vpos = 18 + 4 + 1;
    f->buf[vpos] = (RAFT_VALUE_MAX + 1) & 0xff;
    f->buf[vpos + 1] = (RAFT_VALUE_MAX + 1) >> 8;
    memmove(f->buf + vpos + 4 + RAFT_VALUE_MAX + 1,
            f->buf + vpos + 4 + RAFT_VALUE_MAX, 4);
    f->buf[vpos + 4 + RAFT_VALUE_MAX] = 'v';
    assert_int_equal(command_decode(f->buf, f->len + 1, &out), ERR_MALFORMED);
}

/* A CAS with every field at its limit is larger than one entry may be
 * (RAFT_ENTRY_MAX, one datagram): refused by encode and by decode. */
static void test_command_refuses_payload_over_entry_max(void **state)
{
    struct fixture *f = *state;
    static uint8_t key[RAFT_KEY_MAX];
    static uint8_t value[RAFT_VALUE_MAX];
    struct command c = sized_cmd(key, RAFT_KEY_MAX, value, RAFT_VALUE_MAX);
    c.op = COMMAND_OP_CAS;
    c.expected = value;
    c.expected_len = RAFT_VALUE_MAX;
    assert_true(command_encoded_size(&c) > RAFT_ENTRY_MAX);
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_TOO_BIG);
    /* The same bytes built by hand do not decode either. */
    c.op = COMMAND_OP_PUT;
    c.expected_len = 0;
    assert_int_equal(command_encode(&c, f->buf, BUF_CAP, &f->len), ERR_OK);
    size_t epos = f->len - 4;
    f->buf[1] = COMMAND_OP_CAS;
    f->buf[epos] = RAFT_VALUE_MAX & 0xff;
    f->buf[epos + 1] = RAFT_VALUE_MAX >> 8;
    memset(f->buf + f->len, 'v', RAFT_VALUE_MAX);
    struct command out;
    assert_int_equal(command_decode(f->buf, f->len + RAFT_VALUE_MAX, &out),
                     ERR_MALFORMED);
    /* Exactly at the limit it decodes: the refusal was the size. */
    f->buf[epos] = (RAFT_ENTRY_MAX - f->len) & 0xff;
    f->buf[epos + 1] = (RAFT_ENTRY_MAX - f->len) >> 8;
    assert_int_equal(command_decode(f->buf, RAFT_ENTRY_MAX, &out), ERR_OK);
}

/* A buffer one byte short is ERR_TOO_BIG, never a truncated payload. */
static void test_command_encode_refuses_small_buffer(void **state)
{
    struct fixture *f = *state;
    struct command c = make_cmd(COMMAND_OP_PUT, 1, 1, "key", "value", NULL);
    size_t need = command_encoded_size(&c);
    size_t len = 12345;
    assert_int_equal(command_encode(&c, f->buf, need - 1, &len), ERR_TOO_BIG);
    assert_int_equal(len, 12345);
    assert_int_equal(command_encode(&c, f->buf, need, &len), ERR_OK);
    assert_int_equal(len, need);
}

/* The names the log table's op column shows; anything else is "?". */
static void test_command_op_names(void **state)
{
    (void)state;
    assert_string_equal(command_op_name(COMMAND_OP_PUT), "put");
    assert_string_equal(command_op_name(COMMAND_OP_DEL), "del");
    assert_string_equal(command_op_name(COMMAND_OP_CAS), "cas");
    assert_string_equal(command_op_name(0), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_command_encode_decode_round_trip,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_command_decode_rejects_truncated_and_trailing, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_command_decode_rejects_bad_header_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_decode_rejects_garbage,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_size_limits_are_inclusive,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_command_refuses_payload_over_entry_max, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_command_encode_refuses_small_buffer, setup, teardown),
        cmocka_unit_test(test_command_op_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
