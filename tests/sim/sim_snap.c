/*
 * Each simulated member's snapshot storage, the replica_io snapshot ops:
 * the leader's image (its durable kv image, keys and sessions, serialized
 * with a checksum), the follower's staging buffer (chunks written at their
 * offsets; lost on a crash), the install (one atomic step: the kv image is
 * replaced, the log rows it covers become payload-less rows, or all rows
 * go; a crash point falls before or after it, never inside), and
 * compaction (payloads of a log prefix dropped). Read
 * tests/sim/sim_check.c for what the checks make of them.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "tests/sim/sim_world.h"

#define SIM_IMAGE_MAGIC 0x534e4150u /* "SNAP" */

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* A growable byte buffer for encoding. */
struct sim_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static void put(struct sim_buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + len) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        ASSERT(b->p != NULL);
        b->cap = cap;
    }
    if (len > 0) {
        memcpy(b->p + b->len, data, len);
    }
    b->len += len;
}

static void put_u64(struct sim_buf *b, uint64_t v)
{
    put(b, &v, sizeof v);
}

static void put_u32(struct sim_buf *b, uint32_t v)
{
    put(b, &v, sizeof v);
}

/* The image: magic, applied index, entry and session counts, entries
 * (key, value), sessions (id, seq, status, evicted flag, last or evicting
 * index: live and evicted ones, as bounded sessions need them), then an
 * FNV of all that. */
static void image_encode(const struct mem_kv *kv, struct sim_buf *b)
{
    put_u32(b, SIM_IMAGE_MAGIC);
    put_u64(b, mem_kv_applied(kv));
    put_u64(b, mem_kv_count(kv));
    put_u64(b, mem_kv_session_count(kv));
    for (size_t i = 0; i < mem_kv_count(kv); i++) {
        const struct mem_kv_entry *e = mem_kv_at(kv, i);
        put_u32(b, e->key_len);
        put(b, e->key, e->key_len);
        put_u32(b, e->value_len);
        put(b, e->value, e->value_len);
    }
    for (size_t i = 0; i < mem_kv_session_count(kv); i++) {
        const struct mem_kv_session *s = mem_kv_session_at(kv, i);
        put_u64(b, s->client_id);
        put_u64(b, s->seq);
        put(b, &s->status, 1);
        uint8_t is_evicted = 0; /* (Sessions keep no eviction records.) */
        put(b, &is_evicted, 1);
        put_u64(b, s->index);
    }
    put_u64(b, sim_fnv(SIM_FNV_INIT, b->p, b->len));
}

struct sim_reader {
    const uint8_t *p;
    size_t len;
    size_t at;
    bool bad;
};

static const uint8_t *take(struct sim_reader *r, size_t n)
{
    if (r->bad || n > r->len - r->at) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->at;
    r->at += n;
    return p;
}

static uint64_t take_u64(struct sim_reader *r)
{
    uint64_t v = 0;
    const uint8_t *p = take(r, sizeof v);
    if (p != NULL) {
        memcpy(&v, p, sizeof v);
    }
    return v;
}

static uint32_t take_u32(struct sim_reader *r)
{
    uint32_t v = 0;
    const uint8_t *p = take(r, sizeof v);
    if (p != NULL) {
        memcpy(&v, p, sizeof v);
    }
    return v;
}

/* Decodes an image into out (empty, initialized) at applied index.
 * Errors: ERR_CORRUPT. */
static int image_decode(const uint8_t *p, size_t len, raft_index index,
                        struct mem_kv *out)
{
    if (len < 8) {
        return ERR_CORRUPT;
    }
    uint64_t sum = 0;
    memcpy(&sum, p + len - 8, 8);
    if (sum != sim_fnv(SIM_FNV_INIT, p, len - 8)) {
        return ERR_CORRUPT;
    }
    struct sim_reader r = {p, len - 8, 0, false};
    if (take_u32(&r) != SIM_IMAGE_MAGIC || take_u64(&r) != index) {
        return ERR_CORRUPT;
    }
    uint64_t n_entries = take_u64(&r);
    uint64_t n_sessions = take_u64(&r);
    const struct kv_store_ops *ops = mem_kv_ops();
    ASSERT(ops->begin(out) == ERR_OK);
    for (uint64_t i = 0; i < n_entries && !r.bad; i++) {
        uint32_t klen = take_u32(&r);
        const uint8_t *key = take(&r, klen);
        uint32_t vlen = take_u32(&r);
        const uint8_t *value = take(&r, vlen);
        if (!r.bad && ops->put(out, key, klen, value, vlen) != ERR_OK) {
            r.bad = true;
        }
    }
    for (uint64_t i = 0; i < n_sessions && !r.bad; i++) {
        uint64_t id = take_u64(&r);
        uint64_t seq = take_u64(&r);
        const uint8_t *st = take(&r, 1);
        const uint8_t *is_evicted = take(&r, 1);
        uint64_t at = take_u64(&r);
        if (r.bad || *is_evicted != 0) {
            r.bad = true;
            break;
        }
        struct mem_kv_session row = {id, seq, *st, at};
        if (mem_kv_session_restore(out, &row) != ERR_OK) {
            r.bad = true;
        }
    }
    if (r.bad || r.at != r.len) {
        mem_kv_rollback(out);
        return ERR_CORRUPT;
    }
    ASSERT(ops->commit(out, index) == ERR_OK);
    return ERR_OK;
}

static int snap_open(void *ctx, raft_index *index, uint64_t *size)
{
    struct sim_node *n = ctx;
    struct sim_buf b;
    free(n->image);
    memset(&b, 0, sizeof b);
    image_encode(&n->kv, &b);
    n->image = b.p;
    n->image_len = b.len;
    n->image_index = mem_kv_applied(&n->kv);
    if (n->image_index == 0) {
        return ERR_AGAIN; /* Nothing applied durably yet. */
    }
    *index = n->image_index;
    *size = n->image_len;
    sim_tracef(n->world, "%llu sim n%llu snapshot image at %llu: %zu bytes",
               ull(n->world->now_ms), ull(n->id), ull(n->image_index),
               n->image_len);
    return ERR_OK;
}

static int snap_read(void *ctx, raft_index index, uint64_t offset, uint8_t *buf,
                     uint32_t len)
{
    struct sim_node *n = ctx;
    if (n->image == NULL || index != n->image_index || offset > n->image_len ||
        len > n->image_len - offset) {
        return ERR_NOT_FOUND;
    }
    memcpy(buf, n->image + offset, len);
    return ERR_OK;
}

/* A staging file: offset 0 sizes it anew; later chunks land at their
 * offsets, whatever transfer they claim (storage trusts the replica). */
static int snap_stage(void *ctx, const struct msg_snapshot *c)
{
    struct sim_node *n = ctx;
    sim_check_on_stage(n->world, n, c);
    if (c->offset == 0) {
        free(n->stage);
        n->stage = calloc(1, c->size);
        ASSERT(n->stage != NULL);
        n->stage_len = c->size;
    }
    if (n->stage == NULL || c->offset > n->stage_len ||
        c->len > n->stage_len - c->offset) {
        return ERR_INVALID;
    }
    memcpy(n->stage + c->offset, c->data, c->len);
    return ERR_OK;
}

static bool snap_dies(struct sim_node *n, const char *where)
{
    struct sim_world *w = n->world;
    if (n->is_dying) {
        return true;
    }
    if (w->p.crash_point_ppm == 0 ||
        !rng_chance_ppm(&w->rng, w->p.crash_point_ppm)) {
        return false;
    }
    n->is_dying = true;
    sim_tracef(w, "%llu sim n%llu crash point %s", ull(w->now_ms), ull(n->id),
               where);
    return true;
}

static int snap_install(void *ctx, raft_index index, raft_term term,
                        bool keep_log)
{
    struct sim_node *n = ctx;
    struct sim_world *w = n->world;
    if (snap_dies(n, "before install")) {
        return ERR_OK; /* Dead: the old state stays. */
    }
    struct mem_kv kv;
    mem_kv_init(&kv);
    if (n->stage == NULL ||
        image_decode(n->stage, n->stage_len, index, &kv) != ERR_OK) {
        mem_kv_close(&kv);
        sim_fail(w, "snapshot_image",
                 "n%llu staged an image for %llu/t%llu that is not the one "
                 "a leader made",
                 ull(n->id), ull(index), ull(term));
        return ERR_CORRUPT;
    }
    /* One transaction in the one WAL: every earlier write is durable. */
    sim_disk_synced(&n->disk, UINT64_MAX);
    raft_index prev = mem_kv_applied(&n->kv);
    mem_kv_close(&n->kv);
    n->kv = kv;
    struct sim_disk *d = &n->disk;
    if (!keep_log) {
        sim_disk_truncate(d, 1);
        d->compacted = 0;
    }
    n->n_installs++;
    w->check.n_installs++;
    sim_tracef(w, "%llu sim n%llu installs snapshot %llu/t%llu %s",
               ull(w->now_ms), ull(n->id), ull(index), ull(term),
               keep_log ? "keeping the log after it" : "dropping the log");
    sim_check_on_install(w, n, prev, index, term);
    free(n->stage);
    n->stage = NULL;
    n->stage_len = 0;
    (void)snap_dies(n, "after install");
    return ERR_OK;
}

static int snap_compact(void *ctx, const struct replica_compaction *c)
{
    struct sim_node *n = ctx;
    if (n->is_dying) {
        return ERR_OK; /* Died at a crash point earlier in this drain. */
    }
    sim_check_on_compact(n->world, n, c);
    if (n->world->failed) {
        return ERR_OK;
    }
    sim_disk_compact(&n->disk, c->log_upto);
    n->n_compactions++;
    n->world->check.n_compactions++;
    sim_tracef(n->world, "%llu sim n%llu compacts to %llu (point %llu)",
               ull(n->world->now_ms), ull(n->id), ull(c->log_upto),
               ull(c->point));
    return ERR_OK;
}

void sim_snap_bind(struct replica_io *io)
{
    io->snapshot_open = snap_open;
    io->snapshot_read = snap_read;
    io->snapshot_stage = snap_stage;
    io->snapshot_install = snap_install;
    io->compact = snap_compact;
}

void sim_snap_crash(struct sim_node *n)
{
    free(n->image);
    n->image = NULL;
    n->image_len = 0;
    n->image_index = 0;
    free(n->stage);
    n->stage = NULL;
    n->stage_len = 0;
}
