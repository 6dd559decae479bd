/*
 * Unit tests of common/snapshot_image.c: the checksum against XXH64's known
 * values and across any split of its input, an image's round trip, and
 * refusal of every damaged image (each byte flipped, every truncation,
 * bytes appended, lengths that lie under a valid checksum).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/snapshot_image.h"

#define IMAGE_CAP 4096

struct image {
    uint8_t bytes[IMAGE_CAP];
    size_t len;
    struct snapshot_hash hash;
};

/* Checks an encoder's result and hashes the n bytes it wrote (n is read
 * after the call, never as a sibling argument of it). */
static void append(struct image *im, int rc, const size_t *n)
{
    assert_int_equal(rc, ERR_OK);
    snapshot_hash_update(&im->hash, im->bytes + im->len, *n);
    im->len += *n;
}

/* Builds an image: 3 kv (one binary, one with an empty value), 2
 * sessions, 1 evicted client, at (index 42, term 7). */
static void build(struct image *im)
{
    memset(im, 0, sizeof(*im));
    snapshot_hash_init(&im->hash);
    static const char config[] = "voters 1,2,3";
    struct snapshot_image_header h = {
        .index = 42,
        .term = 7,
        .n_kv = 3,
        .n_sessions = 2,
        .n_evicted = 1,
        .config_len = (uint32_t)strlen(config),
        .config = (const uint8_t *)config,
    };
    size_t n = 0;
    uint8_t *p = im->bytes;
    append(im, snapshot_image_encode_header(&h, p, IMAGE_CAP, &n), &n);
    static const uint8_t bin[3] = {0, 0xff, 1};
    const struct {
        const uint8_t *k;
        uint32_t kl;
        const uint8_t *v;
        uint32_t vl;
    } kv[3] = {
        {(const uint8_t *)"a", 1, (const uint8_t *)"one", 3},
        {bin, 3, bin, 3},
        {(const uint8_t *)"empty", 5, NULL, 0},
    };
    for (int i = 0; i < 3; i++) {
        p = im->bytes + im->len;
        append(im,
               snapshot_image_encode_kv(kv[i].k, kv[i].kl, kv[i].v, kv[i].vl, p,
                                        IMAGE_CAP - im->len, &n),
               &n);
    }
    for (uint64_t i = 0; i < 2; i++) {
        struct snapshot_image_session s = {900 + i, 5 + i, 40 + i, (uint8_t)i};
        p = im->bytes + im->len;
        append(im,
               snapshot_image_encode_session(&s, p, IMAGE_CAP - im->len, &n),
               &n);
    }
    struct snapshot_image_evicted e = {UINT64_MAX, 30};
    p = im->bytes + im->len;
    append(im, snapshot_image_encode_evicted(&e, p, IMAGE_CAP - im->len, &n),
           &n);
    snapshot_image_encode_trailer(snapshot_hash_final(&im->hash),
                                  im->bytes + im->len);
    im->len += SNAPSHOT_IMAGE_TRAILER_SIZE;
}

/* Hashes of the empty input and of "abc" are XXH64's published values:
 * the checksum is the algorithm it says it is, not a private variant. */
static void test_snapshot_hash_matches_xxh64(void **state)
{
    (void)state;
    struct snapshot_hash h;
    snapshot_hash_init(&h);
    assert_true(snapshot_hash_final(&h) == 0xEF46DB3751D8E999ull);
    snapshot_hash_update(&h, (const uint8_t *)"abc", 3);
    assert_true(snapshot_hash_final(&h) == 0x44BC2CF5AD770999ull);
}

/* Streaming: any split of the input gives the one-shot hash. */
static void test_snapshot_hash_any_split_is_equal(void **state)
{
    (void)state;
    uint8_t data[200];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 37 + 11);
    }
    struct snapshot_hash whole;
    snapshot_hash_init(&whole);
    snapshot_hash_update(&whole, data, sizeof(data));
    uint64_t want = snapshot_hash_final(&whole);
    for (size_t a = 0; a <= sizeof(data); a += 7) {
        for (size_t b = a; b <= sizeof(data); b += 13) {
            struct snapshot_hash h;
            snapshot_hash_init(&h);
            snapshot_hash_update(&h, data, a);
            snapshot_hash_update(&h, data + a, b - a);
            snapshot_hash_update(&h, data + b, sizeof(data) - b);
            assert_true(snapshot_hash_final(&h) == want);
        }
    }
}

/* What was encoded decodes back, record by record, in order. */
static void test_snapshot_image_round_trip(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    struct snapshot_image_reader r;
    assert_int_equal(snapshot_image_open(&r, im.bytes, im.len), ERR_OK);
    assert_int_equal(r.header.index, 42);
    assert_int_equal(r.header.term, 7);
    assert_int_equal(r.header.config_len, 12);
    assert_memory_equal(r.header.config, "voters 1,2,3", 12);
    struct snapshot_image_record rec;
    assert_int_equal(snapshot_image_next(&r, &rec), ERR_OK);
    assert_int_equal(rec.type, SNAPSHOT_REC_KV);
    assert_int_equal(rec.key_len, 1);
    assert_memory_equal(rec.value, "one", 3);
    assert_int_equal(snapshot_image_next(&r, &rec), ERR_OK);
    assert_int_equal(rec.key_len, 3);
    assert_int_equal(rec.key[1], 0xff);
    assert_int_equal(snapshot_image_next(&r, &rec), ERR_OK);
    assert_int_equal(rec.value_len, 0);
    assert_int_equal(snapshot_image_next(&r, &rec), ERR_OK);
    assert_int_equal(rec.type, SNAPSHOT_REC_SESSION);
    assert_int_equal(rec.session.client_id, 900);
    assert_int_equal(rec.session.seq, 5);
    assert_int_equal(rec.session.last_index, 40);
    assert_int_equal(snapshot_image_next(&r, &rec), ERR_OK);
    assert_int_equal(rec.session.status, 1);
    assert_int_equal(snapshot_image_next(&r, &rec), ERR_OK);
    assert_int_equal(rec.type, SNAPSHOT_REC_EVICTED);
    assert_true(rec.evicted.client_id == UINT64_MAX);
    assert_int_equal(rec.evicted.index, 30);
    assert_int_equal(snapshot_image_next(&r, &rec), ERR_OK);
    assert_int_equal(rec.type, SNAPSHOT_REC_END);
    struct snapshot_image_header h;
    assert_int_equal(snapshot_image_check(im.bytes, im.len, &h), ERR_OK);
    assert_int_equal(h.n_kv, 3);
}

/* Every single-bit flip anywhere, header, records or trailer, is refused:
 * the checksum covers every byte and the trailer is checked against it. */
static void test_snapshot_image_rejects_any_flipped_byte(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    struct snapshot_image_header h;
    for (size_t i = 0; i < im.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            im.bytes[i] ^= (uint8_t)(1u << bit);
            int rc = snapshot_image_check(im.bytes, im.len, &h);
            if (rc != ERR_CORRUPT) {
                fail_msg("byte %zu bit %d: %d", i, bit, rc);
            }
            im.bytes[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(snapshot_image_check(im.bytes, im.len, &h), ERR_OK);
}

/* Every truncation, and a byte appended, is refused. */
static void test_snapshot_image_rejects_truncation(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    struct snapshot_image_header h;
    for (size_t n = 0; n < im.len; n++) {
        int rc = snapshot_image_check(im.bytes, n, &h);
        assert_true(rc == ERR_CORRUPT || rc == ERR_MALFORMED);
    }
    im.bytes[im.len] = 0;
    int rc = snapshot_image_check(im.bytes, im.len + 1, &h);
    assert_true(rc == ERR_CORRUPT || rc == ERR_MALFORMED);
}

/* Reseals a damaged image with a correct checksum: what remains to catch
 * it is the structure check. */
static void reseal(struct image *im)
{
    size_t end = im->len - SNAPSHOT_IMAGE_TRAILER_SIZE;
    struct snapshot_hash h;
    snapshot_hash_init(&h);
    snapshot_hash_update(&h, im->bytes, end);
    snapshot_image_encode_trailer(snapshot_hash_final(&h), im->bytes + end);
}

/* A writer's bug (counts or lengths that lie) under a valid checksum is
 * still refused as malformed, never read past the end. */
static void test_snapshot_image_rejects_lying_lengths(void **state)
{
    (void)state;
    struct snapshot_image_header h;
    const struct {
        size_t off;
        uint8_t value;
        int want;
    } cases[] = {
        {0, 'X', ERR_MALFORMED},       /* magic */
        {8, 2, ERR_WRONG_VERSION},     /* version */
        {12, 200, ERR_MALFORMED},      /* config_len past the end */
        {16, 0, ERR_MALFORMED},        /* index 0 (index is 42: one byte) */
        {32, 4, ERR_MALFORMED},        /* one kv more than there is */
        {32, 2, ERR_MALFORMED},        /* one kv fewer: bytes left over */
        {40, 0xff, ERR_MALFORMED},     /* sessions count absurd */
        {68 + 1, 0xff, ERR_MALFORMED}, /* first key_len high byte */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct image im;
        build(&im);
        im.bytes[cases[i].off] = cases[i].value;
        reseal(&im);
        int rc = snapshot_image_check(im.bytes, im.len, &h);
        if (rc != cases[i].want) {
            fail_msg("case %zu: got %d want %d", i, rc, cases[i].want);
        }
    }
}

/* Encoders refuse what a decoder would refuse, and a short buffer. */
static void test_snapshot_image_encoders_check_limits(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 0;
    assert_int_equal(
        snapshot_image_encode_kv((const uint8_t *)"", 0, NULL, 0, buf, 64, &n),
        ERR_INVALID);
    assert_int_equal(snapshot_image_encode_kv((const uint8_t *)"k", 1,
                                              (const uint8_t *)"value", 60, buf,
                                              64, &n),
                     ERR_TOO_BIG);
    struct snapshot_image_header h = {.index = 0, .term = 1};
    assert_int_equal(snapshot_image_encode_header(&h, buf, 64, &n),
                     ERR_INVALID);
    h.index = 1;
    assert_int_equal(snapshot_image_encode_header(&h, buf, 10, &n),
                     ERR_TOO_BIG);
    struct snapshot_image_session s = {1, 1, 1, 0};
    assert_int_equal(snapshot_image_encode_session(&s, buf, 24, &n),
                     ERR_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_hash_matches_xxh64),
        cmocka_unit_test(test_snapshot_hash_any_split_is_equal),
        cmocka_unit_test(test_snapshot_image_round_trip),
        cmocka_unit_test(test_snapshot_image_rejects_any_flipped_byte),
        cmocka_unit_test(test_snapshot_image_rejects_truncation),
        cmocka_unit_test(test_snapshot_image_rejects_lying_lengths),
        cmocka_unit_test(test_snapshot_image_encoders_check_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
