/*
 * The kv store pacer: pass-through kv ops with a clock around begin and
 * commit, and the rule that sizes the next store: down in one step to what
 * would have taken the target, up by a quarter at a time. Read node/node.c next.
 */
#include "node/kv_pacer.h"

#include <stddef.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/invariant.h"

void kv_pacer_init(struct kv_pacer *p, const struct kv_store_ops *inner,
                   void *inner_ctx, uint32_t target_ms, uint32_t ops_min,
                   uint32_t ops_max)
{
    ASSERT(p != NULL);
    ASSERT(inner != NULL);
    ASSERT(ops_min >= 1);
    ASSERT(ops_min <= ops_max);
    p->inner = inner;
    p->inner_ctx = inner_ctx;
    p->wb = NULL;
    p->now_ms = clock_now_ms;
    p->begin_ms = 0;
    p->target_ms = target_ms;
    p->ops_min = ops_min;
    p->ops_max = ops_max;
}

void kv_pacer_attach(struct kv_pacer *p, struct kv_writeback *wb)
{
    ASSERT(p != NULL);
    p->wb = wb;
}

uint32_t kv_pacer_next(uint32_t ops, uint64_t took_ms, uint32_t target_ms,
                       uint32_t min, uint32_t max)
{
    uint64_t next = ops;
    if (took_ms > target_ms) {
        next = (uint64_t)ops * target_ms / took_ms;
    } else if (2 * took_ms < target_ms) {
        next = (uint64_t)ops + ops / 4 + 1;
    }
    if (next < min) {
        next = min;
    }
    if (next > max) {
        next = max;
    }
    return (uint32_t)next;
}

static int pacer_begin(void *ctx)
{
    struct kv_pacer *p = ctx;
    p->begin_ms = p->now_ms();
    return p->inner->begin(p->inner_ctx);
}

static int pacer_commit(void *ctx, raft_index applied_index)
{
    struct kv_pacer *p = ctx;
    int rv = p->inner->commit(p->inner_ctx, applied_index);
    if (rv == ERR_OK && p->wb != NULL) {
        uint64_t now = p->now_ms();
        uint64_t took = now > p->begin_ms ? now - p->begin_ms : 0;
        uint32_t ops = kv_writeback_ops_max(p->wb);
        kv_writeback_set_ops_max(p->wb, kv_pacer_next(ops, took, p->target_ms,
                                                      p->ops_min, p->ops_max));
    }
    return rv;
}

static int pacer_get(void *ctx, const uint8_t *key, uint32_t key_len,
                     const uint8_t **value, uint32_t *value_len)
{
    struct kv_pacer *p = ctx;
    return p->inner->get(p->inner_ctx, key, key_len, value, value_len);
}

static int pacer_put(void *ctx, const uint8_t *key, uint32_t key_len,
                     const uint8_t *value, uint32_t value_len)
{
    struct kv_pacer *p = ctx;
    return p->inner->put(p->inner_ctx, key, key_len, value, value_len);
}

static int pacer_put_at(void *ctx, const uint8_t *key, uint32_t key_len,
                        const uint8_t *value, uint32_t value_len,
                        raft_index index)
{
    struct kv_pacer *p = ctx;
    return p->inner->put_at != NULL
               ? p->inner->put_at(p->inner_ctx, key, key_len, value, value_len,
                                  index)
               : p->inner->put(p->inner_ctx, key, key_len, value, value_len);
}

static int pacer_del(void *ctx, const uint8_t *key, uint32_t key_len)
{
    struct kv_pacer *p = ctx;
    return p->inner->del(p->inner_ctx, key, key_len);
}

static int pacer_session_get(void *ctx, uint64_t client_id, uint64_t *seq,
                             uint8_t *status)
{
    struct kv_pacer *p = ctx;
    return p->inner->session_get(p->inner_ctx, client_id, seq, status);
}

static int pacer_session_put(void *ctx, uint64_t client_id, uint64_t seq,
                             uint8_t status)
{
    struct kv_pacer *p = ctx;
    return p->inner->session_put(p->inner_ctx, client_id, seq, status);
}

static int pacer_session_find(void *ctx, uint64_t client_id,
                              struct kv_session *out)
{
    struct kv_pacer *p = ctx;
    return p->inner->session_find(p->inner_ctx, client_id, out);
}

static int pacer_session_touch(void *ctx, uint64_t client_id, uint64_t seq,
                               uint8_t status, raft_index index)
{
    struct kv_pacer *p = ctx;
    return p->inner->session_touch(p->inner_ctx, client_id, seq, status, index);
}

static int pacer_session_register(void *ctx, raft_index index, uint64_t max)
{
    struct kv_pacer *p = ctx;
    return p->inner->session_register(p->inner_ctx, index, max);
}

static int pacer_session_count(void *ctx, uint64_t *n_live)
{
    struct kv_pacer *p = ctx;
    return p->inner->session_count(p->inner_ctx, n_live);
}

const struct kv_store_ops *kv_pacer_ops(void)
{
    static const struct kv_store_ops ops = {
        .begin = pacer_begin,
        .commit = pacer_commit,
        .get = pacer_get,
        .put = pacer_put,
        .put_at = pacer_put_at,
        .del = pacer_del,
        .session_get = pacer_session_get,
        .session_put = pacer_session_put,
        .session_find = pacer_session_find,
        .session_touch = pacer_session_touch,
        .session_register = pacer_session_register,
        .session_count = pacer_session_count,
    };
    return &ops;
}
