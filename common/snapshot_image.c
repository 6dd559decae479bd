/*
 * The snapshot image codec and its checksum (common/snapshot_image.h). The
 * checksum is the XXH64 algorithm (seed 0), written here from its public
 * description, so an image gains no dependency; it runs at several GB/s,
 * far above what disk or network give a snapshot. Pure: no I/O, no
 * allocation. Read storage/snapshot_make.c next.
 */
#include "common/snapshot_image.h"

#include <string.h>

#include "common/invariant.h"

static const uint8_t image_magic[8] = {'R', 'A', 'F', 'T', 'S', 'N', 'A', 'P'};

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t hash_round(uint64_t acc, uint64_t input)
{
    acc += input * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static uint64_t hash_merge(uint64_t acc, uint64_t val)
{
    acc ^= hash_round(0, val);
    return acc * P1 + P4;
}

/* One 32-byte stripe into the four lanes. */
static void hash_stripe(uint64_t acc[4], const uint8_t *p)
{
    acc[0] = hash_round(acc[0], get_u64(p));
    acc[1] = hash_round(acc[1], get_u64(p + 8));
    acc[2] = hash_round(acc[2], get_u64(p + 16));
    acc[3] = hash_round(acc[3], get_u64(p + 24));
}

void snapshot_hash_init(struct snapshot_hash *h)
{
    ASSERT(h != NULL);
    memset(h, 0, sizeof(*h));
    h->acc[0] = P1 + P2;
    h->acc[1] = P2;
    h->acc[2] = 0;
    h->acc[3] = 0 - P1;
}

void snapshot_hash_update(struct snapshot_hash *h, const uint8_t *bytes,
                          size_t len)
{
    ASSERT(h != NULL);
    ASSERT(bytes != NULL || len == 0);
    ASSERT(h->buf_len < 32);
    h->total += len;
    if (h->buf_len > 0) {
        size_t take = 32 - h->buf_len < len ? 32 - h->buf_len : len;
        memcpy(h->buf + h->buf_len, bytes, take);
        h->buf_len += (uint32_t)take;
        bytes += take;
        len -= take;
        if (h->buf_len < 32) {
            return;
        }
        hash_stripe(h->acc, h->buf);
        h->buf_len = 0;
    }
    while (len >= 32) {
        hash_stripe(h->acc, bytes);
        bytes += 32;
        len -= 32;
    }
    if (len > 0) {
        memcpy(h->buf, bytes, len);
        h->buf_len = (uint32_t)len;
    }
}

uint64_t snapshot_hash_final(const struct snapshot_hash *h)
{
    ASSERT(h != NULL);
    uint64_t v;
    if (h->total >= 32) {
        v = rotl(h->acc[0], 1) + rotl(h->acc[1], 7) + rotl(h->acc[2], 12) +
            rotl(h->acc[3], 18);
        for (int i = 0; i < 4; i++) {
            v = hash_merge(v, h->acc[i]);
        }
    } else {
        v = P5;
    }
    v += h->total;
    const uint8_t *p = h->buf;
    uint32_t left = h->buf_len;
    while (left >= 8) {
        v ^= hash_round(0, get_u64(p));
        v = rotl(v, 27) * P1 + P4;
        p += 8;
        left -= 8;
    }
    if (left >= 4) {
        v ^= (uint64_t)get_u32(p) * P1;
        v = rotl(v, 23) * P2 + P3;
        p += 4;
        left -= 4;
    }
    while (left > 0) {
        v ^= (uint64_t)*p * P5;
        v = rotl(v, 11) * P1;
        p++;
        left--;
    }
    v ^= v >> 33;
    v *= P2;
    v ^= v >> 29;
    v *= P3;
    v ^= v >> 32;
    return v;
}

/* ---- Encoding ------------------------------------------------------- */

size_t snapshot_image_header_size(const struct snapshot_image_header *h)
{
    ASSERT(h != NULL);
    return SNAPSHOT_IMAGE_HEADER_SIZE + (size_t)h->config_len;
}

int snapshot_image_encode_header(const struct snapshot_image_header *h,
                                 uint8_t *buf, size_t cap, size_t *len)
{
    ASSERT(h != NULL);
    ASSERT(buf != NULL);
    ASSERT(h->config != NULL || h->config_len == 0);
    if (h->index == 0 || h->term == 0 || h->config_len > SNAPSHOT_CONFIG_MAX) {
        return ERR_INVALID;
    }
    size_t need = snapshot_image_header_size(h);
    if (cap < need) {
        return ERR_TOO_BIG;
    }
    memcpy(buf, image_magic, sizeof(image_magic));
    put_u32(buf + 8, SNAPSHOT_IMAGE_VERSION);
    put_u32(buf + 12, h->config_len);
    put_u64(buf + 16, h->index);
    put_u64(buf + 24, h->term);
    put_u64(buf + 32, h->n_kv);
    put_u64(buf + 40, h->n_sessions);
    put_u64(buf + 48, h->n_evicted);
    if (h->config_len > 0) {
        memcpy(buf + SNAPSHOT_IMAGE_HEADER_SIZE, h->config, h->config_len);
    }
    *len = need;
    return ERR_OK;
}

int snapshot_image_encode_kv(const uint8_t *key, uint32_t key_len,
                             const uint8_t *value, uint32_t value_len,
                             uint8_t *buf, size_t cap, size_t *len)
{
    ASSERT(key != NULL || key_len == 0);
    ASSERT(value != NULL || value_len == 0);
    ASSERT(buf != NULL);
    if (key_len == 0 || key_len > RAFT_KEY_MAX || value_len > RAFT_VALUE_MAX) {
        return ERR_INVALID;
    }
    size_t need = SNAPSHOT_KV_OVERHEAD + (size_t)key_len + value_len;
    if (cap < need) {
        return ERR_TOO_BIG;
    }
    buf[0] = (uint8_t)key_len;
    buf[1] = (uint8_t)(key_len >> 8);
    put_u32(buf + 2, value_len);
    memcpy(buf + SNAPSHOT_KV_OVERHEAD, key, key_len);
    if (value_len > 0) {
        memcpy(buf + SNAPSHOT_KV_OVERHEAD + key_len, value, value_len);
    }
    *len = need;
    return ERR_OK;
}

int snapshot_image_encode_session(const struct snapshot_image_session *s,
                                  uint8_t *buf, size_t cap, size_t *len)
{
    ASSERT(s != NULL);
    ASSERT(buf != NULL);
    if (cap < SNAPSHOT_SESSION_SIZE) {
        return ERR_TOO_BIG;
    }
    put_u64(buf, s->client_id);
    put_u64(buf + 8, s->seq);
    put_u64(buf + 16, s->last_index);
    buf[24] = s->status;
    *len = SNAPSHOT_SESSION_SIZE;
    return ERR_OK;
}

int snapshot_image_encode_evicted(const struct snapshot_image_evicted *e,
                                  uint8_t *buf, size_t cap, size_t *len)
{
    ASSERT(e != NULL);
    ASSERT(buf != NULL);
    if (cap < SNAPSHOT_EVICTED_SIZE) {
        return ERR_TOO_BIG;
    }
    put_u64(buf, e->client_id);
    put_u64(buf + 8, e->index);
    *len = SNAPSHOT_EVICTED_SIZE;
    return ERR_OK;
}

void snapshot_image_encode_trailer(uint64_t checksum,
                                   uint8_t buf[SNAPSHOT_IMAGE_TRAILER_SIZE])
{
    ASSERT(buf != NULL);
    put_u64(buf, checksum);
}

/* ---- Decoding ------------------------------------------------------- */

/* True when n records of size each fit in left bytes. */
static bool counts_fit(uint64_t n, uint64_t each, uint64_t left)
{
    return n <= left / each;
}

int snapshot_image_open(struct snapshot_image_reader *r, const uint8_t *buf,
                        size_t len)
{
    ASSERT(r != NULL);
    ASSERT(buf != NULL || len == 0);
    if (len < SNAPSHOT_IMAGE_HEADER_SIZE + SNAPSHOT_IMAGE_TRAILER_SIZE) {
        return ERR_MALFORMED;
    }
    size_t end = len - SNAPSHOT_IMAGE_TRAILER_SIZE;
    struct snapshot_hash h;
    snapshot_hash_init(&h);
    snapshot_hash_update(&h, buf, end);
    if (snapshot_hash_final(&h) != get_u64(buf + end)) {
        return ERR_CORRUPT;
    }
    if (memcmp(buf, image_magic, sizeof(image_magic)) != 0) {
        return ERR_MALFORMED;
    }
    if (get_u32(buf + 8) != SNAPSHOT_IMAGE_VERSION) {
        return ERR_WRONG_VERSION;
    }
    struct snapshot_image_header hd;
    memset(&hd, 0, sizeof(hd));
    hd.config_len = get_u32(buf + 12);
    hd.index = get_u64(buf + 16);
    hd.term = get_u64(buf + 24);
    hd.n_kv = get_u64(buf + 32);
    hd.n_sessions = get_u64(buf + 40);
    hd.n_evicted = get_u64(buf + 48);
    if (hd.index == 0 || hd.term == 0 || hd.config_len > SNAPSHOT_CONFIG_MAX ||
        hd.config_len > end - SNAPSHOT_IMAGE_HEADER_SIZE) {
        return ERR_MALFORMED;
    }
    hd.config = buf + SNAPSHOT_IMAGE_HEADER_SIZE;
    size_t off = SNAPSHOT_IMAGE_HEADER_SIZE + hd.config_len;
    uint64_t left = end - off;
    /* Each count alone must fit; next() checks every record exactly. */
    if (!counts_fit(hd.n_kv, SNAPSHOT_KV_OVERHEAD + 1, left) ||
        !counts_fit(hd.n_sessions, SNAPSHOT_SESSION_SIZE, left) ||
        !counts_fit(hd.n_evicted, SNAPSHOT_EVICTED_SIZE, left)) {
        return ERR_MALFORMED;
    }
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->end = end;
    r->off = off;
    r->header = hd;
    r->left_kv = hd.n_kv;
    r->left_sessions = hd.n_sessions;
    r->left_evicted = hd.n_evicted;
    return ERR_OK;
}

/* Reads one kv record at r->off. Errors: ERR_MALFORMED. */
static int next_kv(struct snapshot_image_reader *r,
                   struct snapshot_image_record *rec)
{
    size_t left = r->end - r->off;
    if (left < SNAPSHOT_KV_OVERHEAD) {
        return ERR_MALFORMED;
    }
    const uint8_t *p = r->buf + r->off;
    uint32_t key_len = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    uint32_t value_len = get_u32(p + 2);
    if (key_len == 0 || key_len > RAFT_KEY_MAX || value_len > RAFT_VALUE_MAX ||
        (size_t)key_len + value_len > left - SNAPSHOT_KV_OVERHEAD) {
        return ERR_MALFORMED;
    }
    rec->type = SNAPSHOT_REC_KV;
    rec->key_len = key_len;
    rec->key = p + SNAPSHOT_KV_OVERHEAD;
    rec->value_len = value_len;
    rec->value = p + SNAPSHOT_KV_OVERHEAD + key_len;
    r->off += SNAPSHOT_KV_OVERHEAD + (size_t)key_len + value_len;
    r->left_kv--;
    return ERR_OK;
}

int snapshot_image_next(struct snapshot_image_reader *r,
                        struct snapshot_image_record *rec)
{
    ASSERT(r != NULL);
    ASSERT(rec != NULL);
    ASSERT(r->off <= r->end);
    memset(rec, 0, sizeof(*rec));
    if (r->left_kv > 0) {
        return next_kv(r, rec);
    }
    const uint8_t *p = r->buf + r->off;
    size_t left = r->end - r->off;
    if (r->left_sessions > 0) {
        if (left < SNAPSHOT_SESSION_SIZE) {
            return ERR_MALFORMED;
        }
        rec->type = SNAPSHOT_REC_SESSION;
        rec->session.client_id = get_u64(p);
        rec->session.seq = get_u64(p + 8);
        rec->session.last_index = get_u64(p + 16);
        rec->session.status = p[24];
        r->off += SNAPSHOT_SESSION_SIZE;
        r->left_sessions--;
        return ERR_OK;
    }
    if (r->left_evicted > 0) {
        if (left < SNAPSHOT_EVICTED_SIZE) {
            return ERR_MALFORMED;
        }
        rec->type = SNAPSHOT_REC_EVICTED;
        rec->evicted.client_id = get_u64(p);
        rec->evicted.index = get_u64(p + 8);
        r->off += SNAPSHOT_EVICTED_SIZE;
        r->left_evicted--;
        return ERR_OK;
    }
    if (left != 0) {
        return ERR_MALFORMED; /* Bytes between the records and trailer. */
    }
    rec->type = SNAPSHOT_REC_END;
    return ERR_OK;
}

int snapshot_image_check(const uint8_t *buf, size_t len,
                         struct snapshot_image_header *out)
{
    ASSERT(out != NULL);
    struct snapshot_image_reader r;
    int err = snapshot_image_open(&r, buf, len);
    if (err != ERR_OK) {
        return err;
    }
    struct snapshot_image_record rec;
    /* Each step consumes at least one byte or ends: len bounds the loop. */
    for (size_t steps = 0; steps <= len; steps++) {
        err = snapshot_image_next(&r, &rec);
        if (err != ERR_OK) {
            return err;
        }
        if (rec.type == SNAPSHOT_REC_END) {
            *out = r.header;
            return ERR_OK;
        }
    }
    UNREACHABLE();
    return ERR_MALFORMED;
}
