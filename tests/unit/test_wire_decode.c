/*
 * Unit tests of common/wire.c, part two: hand-made datagrams (built with
 * msgpack-c's packer) that the decoder must reject: wrong msgpack types in
 * every field, wrong field counts, huge declared lengths, deep nesting,
 * wrong version or cluster, out-of-range values, over-limit counts and
 * lengths, trailing bytes. Each also goes through the re-encode check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <msgpack.h>

#include "common/err.h"
#include "common/wire.h"
#include "tests/lib/wire_check.h"

#define CLUSTER WIRE_CHECK_CLUSTER

struct fixture {
    struct wire_scratch scratch;
    struct raft_msg out;
    uint8_t buf[RAFT_DATAGRAM_MAX + 64];
    size_t len;
    msgpack_sbuffer sb; /* Hand-made datagrams. */
    msgpack_packer pk;
};

/* Payload bytes for big fields. */
static uint8_t big[RAFT_DATAGRAM_MAX + 2];

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    msgpack_sbuffer_init(&f->sb);
    msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)(i * 31 + 7);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    msgpack_sbuffer_destroy(&f->sb);
    free(f);
    return 0;
}

static int encode(struct fixture *f, const struct raft_msg *m)
{
    return wire_encode(m, CLUSTER, f->buf, sizeof f->buf, &f->len);
}

static int decode(struct fixture *f, const void *buf, size_t len)
{
    return wire_decode(buf, len, CLUSTER, &f->out, &f->scratch);
}

static void sample(struct fixture *f, int i, struct raft_msg *m)
{
    wire_check_sample(i, m);
    assert_int_equal(encode(f, m), ERR_OK);
}

/* Starts a hand-made datagram: the header of a type with n_body fields. */
static void raw_header(struct fixture *f, uint32_t n_body, uint64_t type)
{
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_array(&f->pk, 6 + n_body);
    msgpack_pack_uint64(&f->pk, WIRE_VERSION);
    msgpack_pack_uint64(&f->pk, CLUSTER);
    msgpack_pack_uint64(&f->pk, type);
    msgpack_pack_uint64(&f->pk, 1);
    msgpack_pack_uint64(&f->pk, 2);
    msgpack_pack_uint64(&f->pk, 5);
}

static void raw_u(struct fixture *f, uint64_t v)
{
    msgpack_pack_uint64(&f->pk, v);
}

static void raw_bin(struct fixture *f, uint32_t len)
{
    msgpack_pack_bin_with_body(&f->pk, big, len);
}

/* Decodes the hand-made datagram through the consistency check. */
static int raw_decode(struct fixture *f)
{
    return wire_check_roundtrip((const uint8_t *)f->sb.data, f->sb.size,
                                CLUSTER);
}

/* A client request with the given sizes. */
static void raw_client(struct fixture *f, uint64_t op, uint32_t key_len,
                       uint32_t value_len, uint32_t expected_len)
{
    raw_header(f, 6, MSG_CLIENT);
    raw_u(f, 1);
    raw_u(f, 1);
    raw_u(f, op);
    raw_bin(f, key_len);
    raw_bin(f, value_len);
    raw_bin(f, expected_len);
}
/* Re-packs sample s with top-level field `field` replaced by what repl
 * packs (removed when repl is NULL, appended when field is past the end).
 * Returns the sample's field count. */
static uint32_t repack(struct fixture *f, int s, uint32_t field,
                       void (*repl)(msgpack_packer *))
{
    struct raft_msg m;
    sample(f, s, &m);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(
        msgpack_unpack_next(&u, (const char *)f->buf, f->len, &off),
        MSGPACK_UNPACK_SUCCESS);
    const msgpack_object_array *a = &u.data.via.array;
    uint32_t n = a->size + (repl == NULL ? 0 : 1) - (field < a->size);
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_array(&f->pk, n);
    for (uint32_t k = 0; k < a->size; k++) {
        if (k != field) {
            msgpack_pack_object(&f->pk, a->ptr[k]);
        } else if (repl != NULL) {
            repl(&f->pk);
        }
    }
    if (field >= a->size && repl != NULL) {
        repl(&f->pk);
    }
    uint32_t n_fields = a->size;
    msgpack_unpacked_destroy(&u);
    return n_fields;
}

static void pack_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void pack_str(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "1", 1);
}
static void pack_float(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.0);
}
static void pack_negative(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, -1);
}
static void pack_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}
static void pack_ext(msgpack_packer *pk)
{
    msgpack_pack_ext_with_body(pk, "x", 1, 1);
}

static void pack_array_of_nil(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_nil(pk);
}

/* 2000 nested one-element arrays around a 0. */
static void pack_deep(msgpack_packer *pk)
{
    for (int i = 0; i < 2000; i++) {
        msgpack_pack_array(pk, 1);
    }
    msgpack_pack_uint64(pk, 0);
}

/* A bin32 header declaring 4 GiB, and nothing after it. */
static void pack_huge_bin(msgpack_packer *pk)
{
    const char hdr[5] = {(char)0xc6, (char)0xff, (char)0xff, (char)0xff,
                         (char)0xff};
    pk->callback(pk->data, hdr, sizeof hdr);
}

/* An array32 header declaring 4 G elements, and nothing after it. */
static void pack_huge_array(msgpack_packer *pk)
{
    const char hdr[5] = {(char)0xdd, (char)0xff, (char)0xff, (char)0xff,
                         (char)0xff};
    pk->callback(pk->data, hdr, sizeof hdr);
}

/* Rule: any field of any type replaced by a value of the wrong msgpack type
 * (or a huge declared length, or deep nesting) is malformed. */
static void test_wire_decode_rejects_wrong_types_in_every_field(void **state)
{
    struct fixture *f = *state;
    void (*const repls[])(msgpack_packer *) = {
        pack_nil,      pack_str,       pack_float,        pack_negative,
        pack_map,      pack_ext,       pack_array_of_nil, pack_deep,
        pack_huge_bin, pack_huge_array};
    for (int s = 0; s < wire_check_n_samples(); s++) {
        uint32_t n_fields = repack(f, s, 99, NULL); /* Unchanged. */
        assert_int_equal(raw_decode(f), ERR_OK);
        assert_true(n_fields >= 6);
        for (uint32_t field = 0; field < n_fields; field++) {
            for (size_t k = 0; k < sizeof repls / sizeof repls[0]; k++) {
                repack(f, s, field, repls[k]);
                assert_int_equal(raw_decode(f), ERR_MALFORMED);
            }
        }
    }
}

/* Rule: the array holds exactly 6 + the type's body fields. */
static void test_wire_decode_rejects_wrong_field_counts(void **state)
{
    struct fixture *f = *state;
    for (int s = 0; s < wire_check_n_samples(); s++) {
        repack(f, s, 99, pack_nil); /* One extra field. */
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
        repack(f, s, 99, pack_negative);
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
        for (uint32_t field = 2; field < 6; field++) {
            repack(f, s, field, NULL); /* One field missing. */
            assert_int_equal(raw_decode(f), ERR_MALFORMED);
        }
    }
    /* Only the version. */
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_array(&f->pk, 1);
    msgpack_pack_uint64(&f->pk, WIRE_VERSION);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Rule: the datagram is an array; anything else is malformed. */
static void test_wire_decode_rejects_non_array_datagrams(void **state)
{
    struct fixture *f = *state;
    void (*const repls[])(msgpack_packer *) = {
        pack_nil, pack_str,  pack_float,    pack_negative,  pack_map,
        pack_ext, pack_deep, pack_huge_bin, pack_huge_array};
    for (size_t k = 0; k < sizeof repls / sizeof repls[0]; k++) {
        msgpack_sbuffer_clear(&f->sb);
        repls[k](&f->pk);
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
    }
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_array(&f->pk, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    assert_int_equal(wire_check_roundtrip(NULL, 0, CLUSTER), ERR_MALFORMED);
}

/* Rule: another version is reported as such, whatever follows it. */
static void test_wire_decode_rejects_wrong_version(void **state)
{
    struct fixture *f = *state;
    const uint64_t versions[] = {0, WIRE_VERSION + 1, 255, UINT64_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        msgpack_sbuffer_clear(&f->sb);
        msgpack_pack_array(&f->pk, 2);
        msgpack_pack_uint64(&f->pk, versions[i]);
        msgpack_pack_str_with_body(&f->pk, "future layout", 13);
        assert_int_equal(raw_decode(f), ERR_WRONG_VERSION);
    }
}

/* Rule: a message of another cluster is reported as such. */
static void test_wire_decode_rejects_wrong_cluster(void **state)
{
    struct fixture *f = *state;
    for (int s = 0; s < wire_check_n_samples(); s++) {
        struct raft_msg m;
        sample(f, s, &m);
        assert_int_equal(
            wire_decode(f->buf, f->len, CLUSTER + 1, &f->out, &f->scratch),
            ERR_WRONG_CLUSTER);
        assert_int_equal(wire_decode(f->buf, f->len, 0, &f->out, &f->scratch),
                         ERR_WRONG_CLUSTER);
    }
}

/* Rule: header type and ids are in range. */
static void test_wire_decode_rejects_bad_header_values(void **state)
{
    struct fixture *f = *state;
    const uint64_t types[] = {MSG_NONE, MSG__COUNT, 255, 256, UINT64_MAX};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        raw_header(f, 1, types[i]);
        raw_u(f, 0);
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
    }
    for (int who = 0; who < 2; who++) {
        msgpack_sbuffer_clear(&f->sb);
        msgpack_pack_array(&f->pk, 7);
        raw_u(f, WIRE_VERSION);
        raw_u(f, CLUSTER);
        raw_u(f, MSG_STATUS);
        raw_u(f, who == 0 ? RAFT_ID_MAX + 1ull : 1);
        raw_u(f, who == 1 ? RAFT_ID_MAX + 1ull : 1);
        raw_u(f, 0);
        raw_u(f, 0);
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
    }
}

/* Rule: booleans are true/false or 0/1; integers may use any unsigned or
 * non-negative signed format. */
static void test_wire_decode_accepts_alternate_encodings(void **state)
{
    struct fixture *f = *state;
    raw_header(f, 4, MSG_VOTE);
    msgpack_pack_int8(&f->pk, 5);      /* Packed as a fixint. */
    msgpack_pack_fix_int64(&f->pk, 6); /* 0xd3, 8 bytes. */
    raw_u(f, 1);
    raw_u(f, 0);
    assert_int_equal(raw_decode(f), ERR_OK);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.vote.last_index, 5);
    assert_int_equal(f->out.u.vote.last_term, 6);
    assert_true(f->out.u.vote.pre_vote);
    assert_false(f->out.u.vote.transfer);
    raw_header(f, 4, MSG_VOTE);
    msgpack_pack_fix_uint64(&f->pk, 7);
    msgpack_pack_fix_int8(&f->pk, -1);
    raw_u(f, 1);
    raw_u(f, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_header(f, 4, MSG_VOTE);
    raw_u(f, 1);
    raw_u(f, 1);
    raw_u(f, 2); /* Not a boolean. */
    raw_u(f, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Rule: enums are in range. */
static void test_wire_decode_rejects_out_of_range_enums(void **state)
{
    struct fixture *f = *state;
    const uint64_t ops[] = {0, CLIENT_REGISTER + 1, 256};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        raw_client(f, ops[i], 1, 0, 0);
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
    }
    raw_header(f, 5, MSG_CLIENT_REPLY);
    raw_u(f, 1);
    raw_u(f, 1);
    raw_u(f, CLIENT_STATUS__COUNT);
    raw_u(f, 0);
    raw_bin(f, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    const uint64_t entry_types[] = {0, RAFT_ENTRY_CONFIG + 1};
    for (size_t i = 0; i < 2; i++) {
        raw_header(f, 5, MSG_APPEND);
        raw_u(f, 0);
        raw_u(f, 0);
        raw_u(f, 0);
        raw_u(f, 0);
        msgpack_pack_array(&f->pk, 1);
        msgpack_pack_array(&f->pk, 3);
        raw_u(f, 1);
        raw_u(f, entry_types[i]);
        raw_bin(f, 3);
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
    }
    raw_header(f, 1, MSG_FAULT_REPLY);
    raw_u(f, 2);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    /* A check reply's state past the last one. */
    raw_header(f, 5, MSG_CHECK_REPLY);
    raw_u(f, 1);
    raw_u(f, CHECK_STATE__COUNT);
    raw_u(f, 0);
    raw_u(f, 0);
    raw_u(f, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_header(f, 5, MSG_CHECK_REPLY); /* The same, in range. */
    raw_u(f, 1);
    raw_u(f, CHECK_DAMAGED);
    raw_u(f, 0);
    raw_u(f, 0);
    raw_u(f, 0);
    assert_int_equal(raw_decode(f), ERR_OK);
    raw_header(f, 2, MSG_CHECK); /* A body field too many. */
    raw_u(f, 1);
    raw_u(f, 1);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Packs a fault body with the given action, blocked list and loss. */
static void raw_fault(struct fixture *f, uint64_t action, uint32_t n_blocked,
                      uint64_t first_id, uint64_t loss_ppm)
{
    raw_header(f, 6, MSG_FAULT);
    raw_u(f, action);
    msgpack_pack_array(&f->pk, n_blocked);
    for (uint32_t i = 0; i < n_blocked; i++) {
        raw_u(f, i == 0 ? first_id : i + 1);
    }
    raw_u(f, loss_ppm);
    raw_u(f, 0);
    raw_u(f, 0);
    raw_u(f, 0);
}

/* Rule: fault actions, blocked lists and probabilities are in range. */
static void test_wire_decode_rejects_bad_fault_fields(void **state)
{
    struct fixture *f = *state;
    raw_fault(f, FAULT_PARTITION, RAFT_NODES_MAX, 1, 1000000);
    assert_int_equal(raw_decode(f), ERR_OK);
    raw_fault(f, 0, 0, 1, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_fault(f, FAULT_MEMBER + 1, 0, 1, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_fault(f, FAULT_PARTITION, RAFT_NODES_MAX + 1, 1, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_fault(f, FAULT_PARTITION, 1, 0, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_fault(f, FAULT_PARTITION, 1, RAFT_ID_MAX + 1ull, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_fault(f, FAULT_NETEM, 0, 1, 1000001);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Packs a status reply of the first layout (13 body fields) with n_drops
 * counters and n_peers peers. */
static void raw_status_reply(struct fixture *f, uint64_t role, uint32_t n_drops,
                             uint32_t n_peers, uint64_t peer_id)
{
    raw_header(f, 13, MSG_STATUS_REPLY);
    for (int i = 0; i < 11; i++) {
        raw_u(f, i == 2 ? role : 1);
    }
    msgpack_pack_array(&f->pk, n_drops);
    for (uint32_t i = 0; i < n_drops; i++) {
        raw_u(f, i);
    }
    msgpack_pack_array(&f->pk, n_peers);
    for (uint32_t i = 0; i < n_peers; i++) {
        msgpack_pack_array(&f->pk, 4);
        raw_u(f, peer_id);
        raw_u(f, 1);
        raw_u(f, 2);
        raw_u(f, 3);
    }
}

/* Rule: status replies carry exactly DROP__COUNT counters, at most
 * RAFT_NODES_MAX peers with member ids, and a known role. */
static void test_wire_decode_rejects_bad_status_reply(void **state)
{
    struct fixture *f = *state;
    raw_status_reply(f, RAFT_LEADER, DROP__COUNT, RAFT_NODES_MAX, 2);
    assert_int_equal(raw_decode(f), ERR_OK);
    raw_status_reply(f, RAFT_PRECANDIDATE + 1, DROP__COUNT, 0, 2);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply(f, RAFT_LEADER, DROP__COUNT - 1, 0, 2);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply(f, RAFT_LEADER, DROP__COUNT + 1, 0, 2);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply(f, RAFT_LEADER, DROP__COUNT, RAFT_NODES_MAX + 1, 2);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply(f, RAFT_LEADER, DROP__COUNT, 1, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply(f, RAFT_LEADER, DROP__COUNT, 1, RAFT_ID_MAX + 1ull);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Packs a status reply of the current layout: a first-layout body without
 * peers, then tail_first, n_tail terms, n_blocked ids, loss ppm and three
 * more zeros; with n_body 14 it stops after tail_first. */
static void raw_status_reply_v2(struct fixture *f, uint32_t n_body,
                                uint32_t n_tail, uint32_t n_blocked,
                                uint64_t blocked_id, uint64_t loss_ppm)
{
    raw_header(f, n_body, MSG_STATUS_REPLY);
    for (int i = 0; i < 11; i++) {
        raw_u(f, 1);
    }
    msgpack_pack_array(&f->pk, DROP__COUNT);
    for (uint32_t i = 0; i < DROP__COUNT; i++) {
        raw_u(f, i);
    }
    msgpack_pack_array(&f->pk, 0);
    raw_u(f, 40);
    if (n_body == 14) {
        return;
    }
    msgpack_pack_array(&f->pk, n_tail);
    for (uint32_t i = 0; i < n_tail; i++) {
        raw_u(f, 7);
    }
    msgpack_pack_array(&f->pk, n_blocked);
    for (uint32_t i = 0; i < n_blocked; i++) {
        raw_u(f, blocked_id);
    }
    raw_u(f, loss_ppm);
    raw_u(f, 0);
    raw_u(f, 0);
    raw_u(f, 0);
}

/* Packs a status reply of the current layout: the second layout without
 * tail or rules, then a snapshot point of 90 (term 4), the received
 * transfer (leader 2, recv_done of recv_size bytes), n_sends sends to
 * send_peer, each 5 of 10 bytes acknowledged, and lost_acked 7. */
static void raw_status_reply_v3(struct fixture *f, uint64_t recv_done,
                                uint64_t recv_size, uint32_t n_sends,
                                uint64_t send_peer)
{
    raw_status_reply_v2(f, 25, 0, 0, 3, 0);
    raw_u(f, 90);
    raw_u(f, 4);
    msgpack_pack_array(&f->pk, 3);
    raw_u(f, recv_size > 0 ? 2 : 0);
    raw_u(f, recv_done);
    raw_u(f, recv_size);
    msgpack_pack_array(&f->pk, n_sends);
    for (uint32_t i = 0; i < n_sends; i++) {
        msgpack_pack_array(&f->pk, 3);
        raw_u(f, send_peer);
        raw_u(f, 5);
        raw_u(f, 10);
    }
    raw_u(f, 7); /* lost_acked */
}

/* Rule: the snapshot fields and lost_acked appended last decode, and a
 * transfer never reports more done than its size; a send names a member;
 * at most RAFT_NODES_MAX sends; a reply of the second layout (20 fields)
 * or the third (24, no lost_acked) still decodes, with the missing fields
 * zero, and none in between does. */
static void test_wire_decode_checks_status_reply_snapshot(void **state)
{
    struct fixture *f = *state;
    raw_status_reply_v3(f, 40, 100, RAFT_NODES_MAX, 3);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    const struct msg_status_reply *s = &f->out.u.status_reply;
    assert_int_equal(s->snapshot_index, 90);
    assert_int_equal(s->snapshot_term, 4);
    assert_int_equal(s->recv.peer, 2);
    assert_int_equal(s->recv.done, 40);
    assert_int_equal(s->recv.size, 100);
    assert_int_equal(s->n_sends, RAFT_NODES_MAX);
    assert_int_equal(s->sends[0].peer, 3);
    assert_int_equal(s->sends[0].done, 5);
    assert_int_equal(s->lost_acked, 7);
    raw_status_reply_v3(f, 101, 100, 0, 3);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v3(f, 1, 0, 0, 3);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v3(f, 0, 0, 1, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v3(f, 0, 0, RAFT_NODES_MAX + 1, 3);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v2(f, 21, 0, 0, 3, 0);
    raw_u(f, 90);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v2(f, 24, 0, 0, 3, 0);
    raw_u(f, 90);
    raw_u(f, 4);
    msgpack_pack_array(&f->pk, 3);
    raw_u(f, 0);
    raw_u(f, 0);
    raw_u(f, 0);
    msgpack_pack_array(&f->pk, 0);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.status_reply.snapshot_index, 90);
    assert_int_equal(f->out.u.status_reply.lost_acked, 0);
    raw_status_reply_v2(f, 20, 1, 0, 3, 0);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.status_reply.n_tail, 1);
    assert_int_equal(f->out.u.status_reply.snapshot_index, 0);
    assert_int_equal(f->out.u.status_reply.recv.size, 0);
    assert_int_equal(f->out.u.status_reply.n_sends, 0);
}

/* Packs a status reply of the fifth layout (n_body 26; 27 leaves the
 * config to the caller): no tail, rules or transfers, lost_acked 7, disk. */
static void raw_status_reply_v5(struct fixture *f, uint32_t n_body,
                                uint64_t disk)
{
    raw_status_reply_v2(f, n_body, 0, 0, 3, 0);
    raw_u(f, 90);
    raw_u(f, 4);
    msgpack_pack_array(&f->pk, 3);
    raw_u(f, 0);
    raw_u(f, 0);
    raw_u(f, 0);
    msgpack_pack_array(&f->pk, 0);
    raw_u(f, 7); /* lost_acked */
    raw_u(f, disk);
}

/* Rule: the disk state appended after lost_acked decodes (0 ok, 1 full,
 * 2 hung), anything above is refused, and a reply of the third layout (24
 * fields) or the fourth (25, with lost_acked) still decodes as ok. */
static void test_wire_decode_checks_status_reply_disk(void **state)
{
    struct fixture *f = *state;
    for (uint64_t disk = 0; disk <= 3; disk++) {
        raw_status_reply_v5(f, 26, disk);
        if (disk <= STATUS_DISK_HUNG) {
            assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
            assert_int_equal(f->out.u.status_reply.disk, disk);
            assert_int_equal(f->out.u.status_reply.lost_acked, 7);
        } else {
            assert_int_equal(raw_decode(f), ERR_MALFORMED);
        }
    }
    raw_status_reply_v3(f, 0, 0, 0, 3);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.status_reply.disk, STATUS_DISK_OK);
}

/* Packs a status reply of the current layout (27 fields): the fifth with
 * disk ok, then a config bin of len bytes of text ('1'), or a str. */
static void raw_status_reply_config(struct fixture *f, uint32_t len, bool str)
{
    static uint8_t text[MEMBERSHIP_TEXT_MAX + 1];
    memset(text, '1', sizeof text);
    raw_status_reply_v5(f, 27, STATUS_DISK_OK);
    if (str) {
        msgpack_pack_str_with_body(&f->pk, (const char *)text, len);
    } else {
        msgpack_pack_bin_with_body(&f->pk, text, len);
    }
}

/* Rule: the configuration text appended after disk is a bin of fewer than
 * MEMBERSHIP_TEXT_MAX bytes (a str or a longer bin is refused), copied into
 * the reply; a reply of the fifth layout (26 fields) decodes with none. */
static void test_wire_decode_checks_status_reply_config(void **state)
{
    struct fixture *f = *state;
    raw_status_reply_config(f, MEMBERSHIP_TEXT_MAX - 1, false);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.status_reply.config_len, MEMBERSHIP_TEXT_MAX - 1);
    assert_int_equal(f->out.u.status_reply.config[0], '1');
    raw_status_reply_config(f, 0, false);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.status_reply.config_len, 0);
    raw_status_reply_config(f, MEMBERSHIP_TEXT_MAX, false);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_config(f, 5, true);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Rule: the trace figures appended after the configuration decode (a
 * reply of the sixth layout, 27 fields, decodes with zeros); 28 fields
 * (one of the two) is refused. */
static void test_wire_decode_checks_status_reply_trace(void **state)
{
    struct fixture *f = *state;
    raw_status_reply_config(f, 3, false);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.status_reply.trace_subscribers, 0);
    assert_int_equal(f->out.u.status_reply.trace_dropped, 0);
    struct raft_msg m;
    sample(f, 16, &m);
    assert_int_equal(decode(f, f->buf, f->len), ERR_OK);
    assert_int_equal(f->out.u.status_reply.trace_subscribers, 2);
    assert_int_equal(f->out.u.status_reply.trace_dropped, 12345);
    /* The sixth layout plus one field: neither 27 nor 29. */
    raw_status_reply_v5(f, 28, STATUS_DISK_OK);
    raw_bin(f, 0);
    raw_u(f, 1);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* One hand-made trace event. */
static void raw_trace_event(struct fixture *f, uint64_t kind, uint64_t to,
                            uint64_t count)
{
    msgpack_pack_array(&f->pk, 9);
    raw_u(f, kind);
    raw_u(f, to);
    raw_u(f, 5);  /* term */
    raw_u(f, 10); /* index */
    raw_u(f, 2);  /* n */
    msgpack_pack_true(&f->pk);
    raw_u(f, 60); /* bytes */
    raw_u(f, count);
    raw_u(f, 3); /* age_ms */
}

/* Rule: a trace batch holds at most TRACE_EVENTS_PER_MSG events of nine
 * fields, each a known kind to a member id (nonzero) standing for at least
 * one message; a lease is at most TRACE_LEASE_MS_MAX. */
static void test_wire_decode_checks_trace(void **state)
{
    struct fixture *f = *state;
    raw_header(f, 2, MSG_TRACE_EVENTS);
    raw_u(f, 9);
    msgpack_pack_array(&f->pk, TRACE_EVENTS_PER_MSG);
    for (int i = 0; i < TRACE_EVENTS_PER_MSG; i++) {
        raw_trace_event(f, TRACE_KIND__COUNT - 1, RAFT_ID_MAX, 1);
    }
    assert_int_equal(raw_decode(f), ERR_OK);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.trace_events.n, TRACE_EVENTS_PER_MSG);
    assert_int_equal(f->out.u.trace_events.dropped, 9);
    assert_int_equal(f->out.u.trace_events.events[0].kind,
                     TRACE_READ_INDEX_REPLY);
    assert_true(f->out.u.trace_events.events[0].ok);
    raw_header(f, 2, MSG_TRACE_EVENTS);
    raw_u(f, 0);
    msgpack_pack_array(&f->pk, TRACE_EVENTS_PER_MSG + 1);
    for (int i = 0; i <= TRACE_EVENTS_PER_MSG; i++) {
        raw_trace_event(f, TRACE_VOTE, 1, 1);
    }
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    const uint64_t bad[][3] = {{TRACE_KIND__COUNT, 1, 1},
                               {TRACE_VOTE, 0, 1},
                               {TRACE_VOTE, RAFT_ID_MAX + 1ull, 1},
                               {TRACE_VOTE, 1, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        raw_header(f, 2, MSG_TRACE_EVENTS);
        raw_u(f, 0);
        msgpack_pack_array(&f->pk, 1);
        raw_trace_event(f, bad[i][0], bad[i][1], bad[i][2]);
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
    }
    raw_header(f, 1, MSG_TRACE);
    raw_u(f, TRACE_LEASE_MS_MAX);
    assert_int_equal(raw_decode(f), ERR_OK);
    raw_header(f, 1, MSG_TRACE);
    raw_u(f, TRACE_LEASE_MS_MAX + 1);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Rule: the appended status fields (log tail, fault rules) have limits of
 * their own: at most STATUS_TAIL_MAX terms, at most RAFT_NODES_MAX blocked
 * member ids, a ppm of at most a million; and a body is the first layout
 * (13 fields), the second (20) or the whole current one (24), nothing in
 * between. */
static void test_wire_decode_checks_status_reply_tail(void **state)
{
    struct fixture *f = *state;
    raw_status_reply_v2(f, 20, STATUS_TAIL_MAX, RAFT_NODES_MAX, 3, 1000000);
    assert_int_equal(raw_decode(f), ERR_OK);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.status_reply.tail_first, 40);
    assert_int_equal(f->out.u.status_reply.n_tail, STATUS_TAIL_MAX);
    assert_int_equal(f->out.u.status_reply.tail_terms[0], 7);
    assert_int_equal(f->out.u.status_reply.blocked[0], 3);
    assert_int_equal(f->out.u.status_reply.loss_ppm, 1000000);
    raw_status_reply_v2(f, 20, STATUS_TAIL_MAX + 1, 0, 3, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v2(f, 20, 0, RAFT_NODES_MAX + 1, 3, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v2(f, 20, 0, 1, 0, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v2(f, 20, 0, 1, RAFT_ID_MAX + 1ull, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v2(f, 20, 0, 0, 3, 1000001);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_status_reply_v2(f, 14, 0, 0, 3, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    /* The first layout still decodes, with the appended fields zero. */
    raw_status_reply(f, RAFT_LEADER, DROP__COUNT, 1, 2);
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_OK);
    assert_int_equal(f->out.u.status_reply.n_tail, 0);
    assert_int_equal(f->out.u.status_reply.n_blocked, 0);
}

/* Rule: key, value and expected sizes are inclusive limits, and only the
 * operations that use a value or expected value may carry one. */
static void test_wire_decode_rejects_over_limit_lengths(void **state)
{
    struct fixture *f = *state;
    raw_client(f, CLIENT_PUT, RAFT_KEY_MAX, RAFT_VALUE_MAX, 0);
    assert_int_equal(raw_decode(f), ERR_OK);
    raw_client(f, CLIENT_PUT, RAFT_KEY_MAX + 1, 0, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_client(f, CLIENT_PUT, 1, RAFT_VALUE_MAX + 1, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_client(f, CLIENT_CAS, 1, 1, RAFT_VALUE_MAX + 1);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_client(f, CLIENT_GET, 1, 1, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_client(f, CLIENT_DEL, 1, 1, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_client(f, CLIENT_PUT, 1, 1, 1);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_header(f, 5, MSG_CLIENT_REPLY);
    raw_u(f, 1);
    raw_u(f, 1);
    raw_u(f, CLIENT_OK);
    raw_u(f, 0);
    raw_bin(f, RAFT_VALUE_MAX + 1);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Rule: at most RAFT_ENTRIES_PER_MSG_MAX entries, each a [term, type, data]
 * triple; a declared count is never trusted beyond the bytes present. */
static void test_wire_decode_rejects_over_limit_entries(void **state)
{
    struct fixture *f = *state;
    const uint32_t max = RAFT_ENTRIES_PER_MSG_MAX;
    for (uint32_t n = max; n <= max + 1; n++) {
        raw_header(f, 5, MSG_APPEND);
        raw_u(f, 0);
        raw_u(f, 0);
        raw_u(f, 0);
        raw_u(f, 0);
        msgpack_pack_array(&f->pk, n);
        for (uint32_t i = 0; i < n; i++) {
            msgpack_pack_array(&f->pk, 3);
            raw_u(f, 1);
            raw_u(f, RAFT_ENTRY_NOOP);
            raw_bin(f, 0);
        }
        assert_int_equal(raw_decode(f), n <= RAFT_ENTRIES_PER_MSG_MAX
                                            ? ERR_OK
                                            : ERR_MALFORMED);
    }
    /* The scratch array is followed by f->out: an entry written past its
     * end would show there. */
    memset(&f->out, 0xa5, sizeof f->out);
    struct raft_msg before = f->out;
    assert_int_equal(decode(f, f->sb.data, f->sb.size), ERR_MALFORMED);
    assert_memory_equal(&f->out, &before, sizeof before);
    const uint32_t shapes[] = {2, 4};
    for (size_t i = 0; i < 2; i++) {
        raw_header(f, 5, MSG_APPEND);
        for (int k = 0; k < 4; k++) {
            raw_u(f, 0);
        }
        msgpack_pack_array(&f->pk, 1);
        msgpack_pack_array(&f->pk, shapes[i]);
        raw_u(f, 1);
        raw_u(f, RAFT_ENTRY_NOOP);
        for (uint32_t k = 2; k < shapes[i]; k++) {
            raw_bin(f, 0);
        }
        assert_int_equal(raw_decode(f), ERR_MALFORMED);
    }
}

/* Rule: nothing may follow the array, and no datagram exceeds
 * RAFT_DATAGRAM_MAX. */
static void test_wire_decode_rejects_trailing_bytes(void **state)
{
    struct fixture *f = *state;
    for (int s = 0; s < wire_check_n_samples(); s++) {
        struct raft_msg m;
        sample(f, s, &m);
        size_t len = f->len;
        f->buf[len] = 0;
        assert_int_equal(decode(f, f->buf, len + 1), ERR_MALFORMED);
        memcpy(f->buf + len, f->buf, len); /* Two messages back to back. */
        assert_int_equal(decode(f, f->buf, 2 * len), ERR_MALFORMED);
    }
    /* A well-formed message that is longer than any datagram. */
    raw_header(f, 6, MSG_SNAPSHOT);
    raw_u(f, 1);
    raw_u(f, 1);
    raw_u(f, 0);
    raw_u(f, 1);
    raw_bin(f, RAFT_DATAGRAM_MAX - 20);
    raw_u(f, RAFT_DATAGRAM_MAX);
    assert_true(f->sb.size > RAFT_DATAGRAM_MAX);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

/* Rule: a client batch holds 1 to WIRE_BATCH_MAX bins and nothing else;
 * its framing is checked as strictly as any other message. */
static void test_wire_decode_batch_framing(void **state)
{
    struct fixture *f = *state;
    raw_header(f, 1, MSG_CLIENT_BATCH);
    msgpack_pack_array(&f->pk, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_header(f, 1, MSG_CLIENT_BATCH);
    msgpack_pack_array(&f->pk, WIRE_BATCH_MAX + 1);
    for (int i = 0; i < WIRE_BATCH_MAX + 1; i++) {
        raw_bin(f, 1);
    }
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_header(f, 1, MSG_CLIENT_BATCH);
    msgpack_pack_array(&f->pk, WIRE_BATCH_MAX);
    for (int i = 0; i < WIRE_BATCH_MAX; i++) {
        raw_bin(f, (uint32_t)i);
    }
    assert_int_equal(raw_decode(f), ERR_OK);
    raw_header(f, 1, MSG_CLIENT_BATCH); /* An item that is not a bin. */
    msgpack_pack_array(&f->pk, 2);
    raw_bin(f, 3);
    raw_u(f, 7);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_header(f, 1, MSG_CLIENT_BATCH); /* Fewer items than announced. */
    msgpack_pack_array(&f->pk, 3);
    raw_bin(f, 3);
    raw_bin(f, 3);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
    raw_header(f, 2, MSG_CLIENT_BATCH); /* A body field too many. */
    msgpack_pack_array(&f->pk, 1);
    raw_bin(f, 3);
    raw_u(f, 0);
    assert_int_equal(raw_decode(f), ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_wire_decode_rejects_wrong_types_in_every_field),
        T(test_wire_decode_rejects_wrong_field_counts),
        T(test_wire_decode_rejects_non_array_datagrams),
        T(test_wire_decode_rejects_wrong_version),
        T(test_wire_decode_rejects_wrong_cluster),
        T(test_wire_decode_rejects_bad_header_values),
        T(test_wire_decode_accepts_alternate_encodings),
        T(test_wire_decode_rejects_out_of_range_enums),
        T(test_wire_decode_rejects_bad_fault_fields),
        T(test_wire_decode_rejects_bad_status_reply),
        T(test_wire_decode_checks_status_reply_tail),
        T(test_wire_decode_checks_status_reply_snapshot),
        T(test_wire_decode_checks_status_reply_disk),
        T(test_wire_decode_checks_status_reply_config),
        T(test_wire_decode_checks_status_reply_trace),
        T(test_wire_decode_checks_trace),
        T(test_wire_decode_rejects_over_limit_lengths),
        T(test_wire_decode_rejects_over_limit_entries),
        T(test_wire_decode_rejects_trailing_bytes),
        T(test_wire_decode_batch_framing),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
