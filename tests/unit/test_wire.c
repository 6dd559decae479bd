/*
 * Unit tests of common/wire.c, part one: every message type round-trips
 * with edge values, entry sizes are exact, every truncation is rejected,
 * thousands of seeded mutations never crash nor decode inconsistently, and
 * the encoder refuses what does not fit or breaks a limit. The hand-made
 * malformed datagrams are in tests/unit/test_wire_decode.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/rng.h"
#include "common/wire.h"
#include "tests/lib/wire_check.h"

#define CLUSTER WIRE_CHECK_CLUSTER

struct fixture {
    struct wire_scratch scratch;
    struct raft_msg out;
    uint8_t buf[RAFT_DATAGRAM_MAX + 64];
    size_t len;
};

/* Payload bytes for big fields. */
static uint8_t big[RAFT_DATAGRAM_MAX + 2];
static struct raft_entry many[RAFT_ENTRIES_PER_MSG_MAX + 1];

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)(i * 31 + 7);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
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

/* Encodes m, decodes it back, and requires the same message. */
static void roundtrip(struct fixture *f, const struct raft_msg *m)
{
    assert_int_equal(encode(f, m), ERR_OK);
    assert_true(f->len <= RAFT_DATAGRAM_MAX);
    assert_int_equal(decode(f, f->buf, f->len), ERR_OK);
    assert_true(wire_check_equal(m, &f->out));
    assert_int_equal(wire_check_roundtrip(f->buf, f->len, CLUSTER), ERR_OK);
}

static void sample(struct fixture *f, int i, struct raft_msg *m)
{
    wire_check_sample(i, m);
    assert_int_equal(encode(f, m), ERR_OK);
}

/* Rule: every type survives encode/decode unchanged, including the header
 * edge values of ids, terms and cluster ids. */
static void test_wire_roundtrips_every_sample(void **state)
{
    struct fixture *f = *state;
    const uint64_t clusters[] = {0, 1, CLUSTER, UINT64_MAX};
    for (int i = 0; i < wire_check_n_samples(); i++) {
        struct raft_msg m;
        wire_check_sample(i, &m);
        roundtrip(f, &m);
        m.term = UINT64_MAX;
        m.from = RAFT_ID_MAX;
        m.to = 0;
        roundtrip(f, &m);
        for (size_t c = 0; c < sizeof clusters / sizeof clusters[0]; c++) {
            assert_int_equal(
                wire_encode(&m, clusters[c], f->buf, sizeof f->buf, &f->len),
                ERR_OK);
            assert_int_equal(
                wire_decode(f->buf, f->len, clusters[c], &f->out, &f->scratch),
                ERR_OK);
            assert_true(wire_check_equal(&m, &f->out));
        }
    }
}

/* Rule: every integer field carries 0 and its type's maximum. */
static void test_wire_roundtrips_extreme_integers(void **state)
{
    struct fixture *f = *state;
    struct raft_msg m;
    for (int v = 0; v < 2; v++) {
        uint64_t x = v ? UINT64_MAX : 0;
        memset(&m, 0, sizeof m);
        m.type = MSG_VOTE;
        m.u.vote = (struct msg_vote){x, x, v, v};
        roundtrip(f, &m);
        m.type = MSG_APPEND_REPLY;
        m.u.append_reply = (struct msg_append_reply){v, x, x, x, x, x, x};
        roundtrip(f, &m);
        m.type = MSG_SNAPSHOT_REPLY;
        m.u.snapshot_reply = (struct msg_snapshot_reply){x, x, v, x, v};
        roundtrip(f, &m);
        m.type = MSG_STATUS_REPLY;
        struct msg_status_reply *s = &m.u.status_reply;
        memset(s, 0, sizeof *s);
        s->nonce = x;
        s->pid = (uint32_t)x;
        s->role = v ? RAFT_PRECANDIDATE : RAFT_FOLLOWER;
        s->leader = v ? RAFT_ID_MAX : 0;
        s->voted_for = v ? RAFT_ID_MAX : 0;
        s->commit = s->last_index = s->applied = x;
        s->election_timeout_ms = s->election_elapsed_ms = (uint32_t)x;
        s->leader_contact_ms = x;
        for (int d = 0; d < DROP__COUNT; d++) {
            s->drops[d] = x - (uint64_t)d;
        }
        s->n_peers = v ? RAFT_NODES_MAX : 0;
        for (uint32_t p = 0; p < s->n_peers; p++) {
            s->peers[p] = (struct status_peer){RAFT_ID_MAX - p, x, x - p, x};
        }
        s->tail_first = x;
        s->n_tail = v ? STATUS_TAIL_MAX : 0;
        for (uint32_t t = 0; t < s->n_tail; t++) {
            s->tail_terms[t] = x - t;
        }
        s->n_blocked = v ? RAFT_NODES_MAX : 0;
        for (uint32_t b = 0; b < s->n_blocked; b++) {
            s->blocked[b] = RAFT_ID_MAX - b;
        }
        s->loss_ppm = s->dup_ppm = v ? 1000000 : 0;
        s->delay_ms = s->jitter_ms = (uint32_t)x;
        s->snapshot_index = s->snapshot_term = x;
        s->recv = (struct status_transfer){v ? RAFT_ID_MAX : 0, x, x};
        s->n_sends = v ? RAFT_NODES_MAX : 0;
        for (uint32_t t = 0; t < s->n_sends; t++) {
            s->sends[t] = (struct status_transfer){RAFT_ID_MAX - t, x - t, x};
        }
        s->disk = v ? STATUS_DISK_HUNG : STATUS_DISK_OK;
        roundtrip(f, &m);
        m.type = MSG_FAULT;
        memset(&m.u.fault, 0, sizeof m.u.fault);
        m.u.fault = (struct msg_fault){.action = FAULT_DISK_DELAY,
                                       .loss_ppm = v ? 1000000 : 0,
                                       .dup_ppm = v ? 1000000 : 0,
                                       .delay_ms = (uint32_t)x,
                                       .jitter_ms = (uint32_t)x};
        m.u.fault.n_blocked = v ? RAFT_NODES_MAX : 0;
        for (uint32_t b = 0; b < m.u.fault.n_blocked; b++) {
            m.u.fault.blocked[b] = RAFT_ID_MAX - b;
        }
        roundtrip(f, &m);
        m.type = MSG_CLIENT_REPLY;
        m.u.client_reply = (struct msg_client_reply){
            x, x, CLIENT_INVALID, v ? RAFT_ID_MAX : 0, 0, NULL};
        roundtrip(f, &m);
        m.u.client_reply.status = CLIENT_SESSION_EXPIRED;
        roundtrip(f, &m);
    }
}

/* Rule: limits are inclusive (DESIGN.md): a 1024-byte key and a 32768-byte
 * value travel; so do empty ones. */
static void test_wire_roundtrips_max_key_and_value(void **state)
{
    struct fixture *f = *state;
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_CLIENT;
    m.u.client = (struct msg_client){.client_id = UINT64_MAX,
                                     .seq = UINT64_MAX,
                                     .op = CLIENT_PUT,
                                     .key_len = RAFT_KEY_MAX,
                                     .key = big,
                                     .value_len = RAFT_VALUE_MAX,
                                     .value = big + 1};
    roundtrip(f, &m);
    m.u.client.op = CLIENT_CAS;
    m.u.client.expected = big + 2;
    m.u.client.expected_len = 1000;
    roundtrip(f, &m);
    m.u.client = (struct msg_client){.op = CLIENT_GET};
    roundtrip(f, &m);
    m.type = MSG_CLIENT_REPLY;
    m.u.client_reply =
        (struct msg_client_reply){1, 2, CLIENT_OK, 3, RAFT_VALUE_MAX, big};
    roundtrip(f, &m);
}

/* A CAS with a maximal key, expected and new value is 66,560 bytes of
 * payload: it cannot fit a datagram, and the encoder says so. */
static void test_wire_cas_with_all_max_sizes_is_too_big(void **state)
{
    struct fixture *f = *state;
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_CLIENT;
    m.u.client = (struct msg_client){1,          1,
                                     CLIENT_CAS, RAFT_KEY_MAX,
                                     big,        RAFT_VALUE_MAX,
                                     big,        RAFT_VALUE_MAX,
                                     big};
    assert_int_equal(encode(f, &m), ERR_TOO_BIG);
}

/* Rule: RAFT_ENTRIES_PER_MSG_MAX entries travel; one more is refused. */
static void test_wire_roundtrips_max_entry_count(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i <= RAFT_ENTRIES_PER_MSG_MAX; i++) {
        many[i] = (struct raft_entry){UINT64_MAX - (uint64_t)i, RAFT_ENTRY_NOOP,
                                      0, NULL};
    }
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.u.append = (struct msg_append){UINT64_MAX,
                                     UINT64_MAX,
                                     UINT64_MAX,
                                     UINT64_MAX,
                                     RAFT_ENTRIES_PER_MSG_MAX,
                                     many};
    roundtrip(f, &m);
    assert_ptr_equal(f->out.u.append.entries, f->scratch.entries);
    m.u.append.n_entries++;
    assert_int_equal(encode(f, &m), ERR_INVALID);
}

/* Rule: a batch filled to exactly RAFT_DATAGRAM_MAX bytes encodes; one byte
 * more is ERR_TOO_BIG even with a larger buffer. */
static void test_wire_append_fills_a_datagram_exactly(void **state)
{
    struct fixture *f = *state;
    struct raft_entry e[2] = {{1, RAFT_ENTRY_NORMAL, 30000, big},
                              {1, RAFT_ENTRY_NORMAL, 30000, big + 1}};
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.u.append = (struct msg_append){5, 1, 4, 0, 0, e};
    assert_int_equal(encode(f, &m), ERR_OK);
    size_t header = f->len;
    m.u.append.n_entries = 2;
    assert_int_equal(encode(f, &m), ERR_OK);
    assert_int_equal(f->len,
                     header + wire_entry_size(&e[0]) + wire_entry_size(&e[1]));
    e[1].len += (uint32_t)(RAFT_DATAGRAM_MAX - f->len);
    roundtrip(f, &m);
    assert_int_equal(f->len, RAFT_DATAGRAM_MAX);
    e[1].len++;
    assert_int_equal(encode(f, &m), ERR_TOO_BIG);
}

/* wire_entry_size() is exact at every integer and bin size threshold. */
static void test_wire_entry_size_is_exact(void **state)
{
    struct fixture *f = *state;
    const uint64_t terms[] = {0,         127,        128,
                              255,       256,        65535,
                              65536,     UINT32_MAX, 1ull + UINT32_MAX,
                              UINT64_MAX};
    const uint32_t lens[] = {0, 1, 255, 256, RAFT_ENTRY_MAX};
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    assert_int_equal(encode(f, &m), ERR_OK);
    size_t header = f->len;
    for (size_t t = 0; t < sizeof terms / sizeof terms[0]; t++) {
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            struct raft_entry e = {terms[t], RAFT_ENTRY_CONFIG, lens[l], big};
            m.u.append.n_entries = 1;
            m.u.append.entries = &e;
            assert_int_equal(encode(f, &m), ERR_OK);
            assert_int_equal(f->len - header, wire_entry_size(&e));
        }
    }
    /* Past a datagram, only the bin16/bin32 arithmetic can be checked. */
    struct raft_entry e = {0, RAFT_ENTRY_NORMAL, 65535, big};
    assert_int_equal(wire_entry_size(&e), 3 + 3 + 65535);
    e.len = 65536;
    assert_int_equal(wire_entry_size(&e), 3 + 5 + 65536);
}

/* WIRE_APPEND_OVERHEAD bounds the non-entry part at its largest. */
static void test_wire_append_overhead_is_an_upper_bound(void **state)
{
    struct fixture *f = *state;
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = RAFT_ID_MAX;
    m.to = RAFT_ID_MAX;
    m.term = UINT64_MAX;
    m.u.append = (struct msg_append){UINT64_MAX, UINT64_MAX, UINT64_MAX,
                                     UINT64_MAX, 0,          many};
    assert_int_equal(
        wire_encode(&m, UINT64_MAX, f->buf, sizeof f->buf, &f->len), ERR_OK);
    assert_true(f->len <= WIRE_APPEND_OVERHEAD);
    size_t sum = 0;
    for (int i = 0; i < RAFT_ENTRIES_PER_MSG_MAX; i++) {
        many[i] = (struct raft_entry){UINT64_MAX, RAFT_ENTRY_NORMAL, 1, big};
        sum += wire_entry_size(&many[i]);
    }
    m.u.append.n_entries = RAFT_ENTRIES_PER_MSG_MAX;
    assert_int_equal(
        wire_encode(&m, UINT64_MAX, f->buf, sizeof f->buf, &f->len), ERR_OK);
    assert_true(f->len <= WIRE_APPEND_OVERHEAD + sum);
    assert_true(f->len > sum);
}

/* Decoded byte fields borrow the input buffer, copy nothing. */
static void test_wire_decoded_bytes_point_into_input(void **state)
{
    struct fixture *f = *state;
    struct raft_msg m;
    sample(f, 13, &m);
    assert_int_equal(decode(f, f->buf, f->len), ERR_OK);
    const struct msg_client *c = &f->out.u.client;
    assert_true(c->key >= f->buf && c->key + c->key_len <= f->buf + f->len);
    assert_true(c->expected >= f->buf &&
                c->expected + c->expected_len <= f->buf + f->len);
    sample(f, 4, &m);
    assert_int_equal(decode(f, f->buf, f->len), ERR_OK);
    const struct raft_entry *e = &f->out.u.append.entries[1];
    assert_true(e->data >= f->buf && e->data + e->len <= f->buf + f->len);
}

/* Clients have no member id and no term: from=0, term=0 decode fine. */
static void test_wire_decode_accepts_client_from_zero(void **state)
{
    struct fixture *f = *state;
    struct raft_msg m;
    wire_check_sample(10, &m);
    m.from = 0;
    m.to = 0;
    m.term = 0;
    roundtrip(f, &m);
    assert_int_equal(f->out.from, 0);
}

/* Rule: every strict prefix of a valid datagram is malformed. */
static void test_wire_decode_rejects_every_truncated_prefix(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < wire_check_n_samples(); i++) {
        struct raft_msg m;
        sample(f, i, &m);
        for (size_t n = 0; n < f->len; n++) {
            assert_int_equal(wire_check_roundtrip(f->buf, n, CLUSTER),
                             ERR_MALFORMED);
        }
    }
}

/* One seeded mutation of buf (len bytes, room for cap); returns new len. */
static size_t mutate(struct rng *r, uint8_t *buf, size_t len, size_t cap)
{
    static const uint8_t tags[] = {0x00, 0x01, 0x7f, 0x80, 0x90, 0x9f, 0xc0,
                                   0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xcc, 0xcd,
                                   0xce, 0xcf, 0xd0, 0xd3, 0xdc, 0xdd, 0xff};
    size_t at = (size_t)rng_range(r, 0, len);
    switch (rng_range(r, 0, 4)) {
    case 0:
        for (uint64_t k = rng_range(r, 1, 5); k > 0; k--) {
            buf[rng_range(r, 0, len)] ^= (uint8_t)(1u << rng_range(r, 0, 8));
        }
        return len;
    case 1:
        buf[at] = (uint8_t)rng_next(r);
        return len;
    case 2:
        buf[at] = tags[rng_range(r, 0, sizeof tags)];
        return len;
    default:
        for (size_t k = at; k < cap && k < at + 16; k++) {
            buf[k] = (uint8_t)rng_next(r);
        }
        return at + (size_t)rng_range(r, 0, 17);
    }
}

/* Rule: no mutation crashes, and what is accepted re-encodes to the same
 * message (wire_check_roundtrip aborts otherwise). */
static void test_wire_decode_survives_seeded_mutations(void **state)
{
    struct fixture *f = *state;
    struct rng r;
    rng_init(&r, 0x5eed);
    int accepted = 0, rejected = 0;
    for (int c = 0; c < 30000; c++) {
        struct raft_msg m;
        sample(f, (int)rng_range(&r, 0, (uint64_t)wire_check_n_samples()), &m);
        size_t len = f->len;
        for (uint64_t k = rng_range(&r, 1, 3); k > 0; k--) {
            len = mutate(&r, f->buf, len, sizeof f->buf);
        }
        int rc = wire_check_roundtrip(f->buf, len, CLUSTER);
        accepted += rc == ERR_OK;
        rejected += rc != ERR_OK;
    }
    assert_true(accepted > 1000);
    assert_true(rejected > 10000);
}

/* Rule: random byte strings never decode into anything inconsistent. */
static void test_wire_decode_survives_random_bytes(void **state)
{
    struct fixture *f = *state;
    struct rng r;
    rng_init(&r, 0xbadc0de);
    for (int c = 0; c < 20000; c++) {
        size_t len = (size_t)rng_range(&r, 0, 80);
        for (size_t i = 0; i < len; i++) {
            f->buf[i] = (uint8_t)rng_next(&r);
        }
        if (len > 0 && c % 2 == 0) {
            f->buf[0] = (uint8_t)(0x90 | rng_range(&r, 6, 16));
        }
        (void)wire_check_roundtrip(f->buf, len, CLUSTER);
    }
}

/* Rule: out parameters are written only on success. */
static void test_wire_decode_leaves_output_untouched_on_error(void **state)
{
    struct fixture *f = *state;
    struct raft_msg m, before;
    sample(f, 16, &m);
    memset(&f->out, 0xa5, sizeof f->out);
    before = f->out;
    assert_int_equal(decode(f, f->buf, f->len - 1), ERR_MALFORMED);
    assert_memory_equal(&f->out, &before, sizeof before);
}

/* Rule: the encoder fails with ERR_TOO_BIG for every too-small capacity and
 * never writes past it. */
static void test_wire_encode_returns_too_big_for_small_buffers(void **state)
{
    struct fixture *f = *state;
    for (int s = 0; s < wire_check_n_samples(); s++) {
        struct raft_msg m;
        sample(f, s, &m);
        size_t need = f->len;
        for (size_t cap = 0; cap < need; cap++) {
            memset(f->buf, 0xee, need + 1);
            size_t len = 12345;
            assert_int_equal(wire_encode(&m, CLUSTER, f->buf, cap, &len),
                             ERR_TOO_BIG);
            assert_int_equal(len, 12345);
            assert_int_equal(f->buf[cap], 0xee);
        }
        assert_int_equal(wire_encode(&m, CLUSTER, f->buf, need, &f->len),
                         ERR_OK);
    }
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_SNAPSHOT;
    m.u.snapshot.len = RAFT_DATAGRAM_MAX;
    m.u.snapshot.data = big;
    assert_int_equal(encode(f, &m), ERR_TOO_BIG);
}

/* Rule: the encoder refuses messages that break a limit with ERR_INVALID. */
static void test_wire_encode_rejects_invalid_messages(void **state)
{
    struct fixture *f = *state;
    struct raft_msg m;
    wire_check_sample(10, &m);
    m.u.client.key = big;
    m.u.client.key_len = RAFT_KEY_MAX + 1;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(10, &m);
    m.u.client.value = big;
    m.u.client.value_len = RAFT_VALUE_MAX + 1;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(11, &m);
    m.u.client.value_len = 1;
    m.u.client.value = big;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(10, &m);
    m.u.client.op = 0;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(0, &m);
    m.type = MSG__COUNT;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    m.type = MSG_NONE;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(0, &m);
    m.to = RAFT_ID_MAX + 1;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(4, &m);
    struct raft_entry bad = {1, 0, 0, NULL};
    m.u.append.entries = &bad;
    m.u.append.n_entries = 1;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    bad = (struct raft_entry){1, RAFT_ENTRY_NORMAL, RAFT_ENTRY_MAX + 1, big};
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(16, &m);
    m.u.status_reply.n_peers = RAFT_NODES_MAX + 1;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(17, &m);
    m.u.fault.blocked[0] = 0;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(19, &m);
    m.u.fault_reply.ok = 2;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(14, &m);
    m.u.client_reply.leader_hint = RAFT_ID_MAX + 1;
    assert_int_equal(encode(f, &m), ERR_INVALID);
    wire_check_sample(14, &m);
    m.u.client_reply.status = CLIENT_STATUS__COUNT;
    assert_int_equal(encode(f, &m), ERR_INVALID);
}

/* A batch built from encoded client datagrams gives back each one, byte
 * for byte and in order; each still decodes. n outside 1..WIRE_BATCH_MAX
 * is refused, and so is a batch that does not fit the buffer. */
static void test_wire_batch_carries_datagrams_in_order(void **state)
{
    struct fixture *f = *state;
    static uint8_t dgrams[WIRE_BATCH_MAX + 1][256];
    const uint8_t *items[WIRE_BATCH_MAX + 1];
    uint32_t lens[WIRE_BATCH_MAX + 1];
    for (uint32_t i = 0; i <= WIRE_BATCH_MAX; i++) {
        struct raft_msg m;
        memset(&m, 0, sizeof m);
        m.type = i % 2 ? MSG_CLIENT : MSG_CLIENT_REPLY;
        if (i % 2) {
            m.u.client = (struct msg_client){.client_id = i,
                                             .seq = i + 1,
                                             .op = CLIENT_PUT,
                                             .key_len = 3,
                                             .key = big,
                                             .value_len = i,
                                             .value = big};
        } else {
            m.u.client_reply =
                (struct msg_client_reply){i, i + 1, CLIENT_OK, 1, i, big};
        }
        size_t len = 0;
        assert_int_equal(
            wire_encode(&m, CLUSTER, dgrams[i], sizeof dgrams[i], &len),
            ERR_OK);
        items[i] = dgrams[i];
        lens[i] = (uint32_t)len;
    }
    for (uint32_t n = 1; n <= WIRE_BATCH_MAX; n += WIRE_BATCH_MAX - 1) {
        assert_int_equal(wire_batch_encode(CLUSTER, 3, 0, items, lens, n,
                                           f->buf, sizeof f->buf, &f->len),
                         ERR_OK);
        assert_int_equal(decode(f, f->buf, f->len), ERR_OK);
        assert_int_equal(f->out.type, MSG_CLIENT_BATCH);
        assert_int_equal(f->out.from, 3);
        assert_int_equal(f->out.u.batch.n, n);
        assert_int_equal(wire_check_roundtrip(f->buf, f->len, CLUSTER), ERR_OK);
        uint32_t pos = 0, k = 0, item_len = 0;
        const uint8_t *item = NULL;
        while (wire_batch_next(&f->out.u.batch, &pos, &item, &item_len)) {
            assert_true(k < n);
            assert_int_equal(item_len, lens[k]);
            assert_memory_equal(item, items[k], item_len);
            struct raft_msg inner;
            struct wire_scratch scratch;
            assert_int_equal(
                wire_decode(item, item_len, CLUSTER, &inner, &scratch), ERR_OK);
            assert_int_equal(inner.type, k % 2 ? MSG_CLIENT : MSG_CLIENT_REPLY);
            k++;
        }
        assert_int_equal(k, n);
    }
    assert_int_equal(wire_batch_encode(CLUSTER, 3, 0, items, lens, 0, f->buf,
                                       sizeof f->buf, &f->len),
                     ERR_INVALID);
    assert_int_equal(wire_batch_encode(CLUSTER, 3, 0, items, lens,
                                       WIRE_BATCH_MAX + 1, f->buf,
                                       sizeof f->buf, &f->len),
                     ERR_INVALID);
    assert_int_equal(wire_batch_encode(CLUSTER, 3, 0, items, lens, 2, f->buf,
                                       lens[0] + lens[1], &f->len),
                     ERR_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_wire_roundtrips_every_sample),
        T(test_wire_roundtrips_extreme_integers),
        T(test_wire_roundtrips_max_key_and_value),
        T(test_wire_cas_with_all_max_sizes_is_too_big),
        T(test_wire_roundtrips_max_entry_count),
        T(test_wire_append_fills_a_datagram_exactly),
        T(test_wire_entry_size_is_exact),
        T(test_wire_append_overhead_is_an_upper_bound),
        T(test_wire_decoded_bytes_point_into_input),
        T(test_wire_decode_accepts_client_from_zero),
        T(test_wire_decode_rejects_every_truncated_prefix),
        T(test_wire_decode_survives_seeded_mutations),
        T(test_wire_decode_survives_random_bytes),
        T(test_wire_decode_leaves_output_untouched_on_error),
        T(test_wire_encode_returns_too_big_for_small_buffers),
        T(test_wire_encode_rejects_invalid_messages),
        T(test_wire_batch_carries_datagrams_in_order),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
