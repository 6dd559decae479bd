/*
 * Binds kv_store_ops to storage/store.c: each op casts its ctx back to the
 * struct store * and calls the store's function of the same name. No logic
 * of its own: what an op does and when it fails is the store's business.
 * Read storage/store.c next.
 */
#include "node/node_kv.h"

#include "common/err.h"
#include "common/invariant.h"
#include "storage/store.h"

static int node_kv_begin(void *ctx)
{
    ASSERT(ctx != NULL);
    return store_kv_begin(ctx);
}

static int node_kv_commit(void *ctx, raft_index applied_index)
{
    ASSERT(ctx != NULL);
    return store_kv_commit(ctx, applied_index);
}

static int node_kv_get(void *ctx, const uint8_t *key, uint32_t key_len,
                       const uint8_t **value, uint32_t *value_len)
{
    ASSERT(ctx != NULL);
    return store_kv_get(ctx, key, key_len, value, value_len);
}

static int node_kv_put(void *ctx, const uint8_t *key, uint32_t key_len,
                       const uint8_t *value, uint32_t value_len)
{
    ASSERT(ctx != NULL);
    return store_kv_put(ctx, key, key_len, value, value_len);
}

static int node_kv_put_at(void *ctx, const uint8_t *key, uint32_t key_len,
                          const uint8_t *value, uint32_t value_len,
                          raft_index index)
{
    ASSERT(ctx != NULL);
    return store_kv_put_at(ctx, key, key_len, value, value_len, index);
}

static int node_kv_del(void *ctx, const uint8_t *key, uint32_t key_len)
{
    ASSERT(ctx != NULL);
    return store_kv_del(ctx, key, key_len);
}

static int node_kv_session_get(void *ctx, uint64_t client_id, uint64_t *seq,
                               uint8_t *status)
{
    ASSERT(ctx != NULL);
    return store_session_get(ctx, client_id, seq, status);
}

static int node_kv_session_put(void *ctx, uint64_t client_id, uint64_t seq,
                               uint8_t status)
{
    ASSERT(ctx != NULL);
    return store_session_put(ctx, client_id, seq, status);
}

/* The store's two session states are the state machine's. */
static int node_kv_session_find(void *ctx, uint64_t client_id,
                                struct kv_session *out)
{
    ASSERT(ctx != NULL);
    struct store_session found;
    int err = store_session_find(ctx, client_id, &found);
    if (err != ERR_OK) {
        return err;
    }
    out->state =
        found.state == STORE_SESSION_LIVE ? KV_SESSION_LIVE : KV_SESSION_NONE;
    out->seq = found.seq;
    out->status = found.status;
    return ERR_OK;
}

static int node_kv_session_touch(void *ctx, uint64_t client_id, uint64_t seq,
                                 uint8_t status, raft_index index)
{
    ASSERT(ctx != NULL);
    return store_session_touch(ctx, client_id, seq, status, index);
}

static int node_kv_session_register(void *ctx, raft_index index,
                                    uint64_t max)
{
    ASSERT(ctx != NULL);
    return store_session_register(ctx, index, max);
}

static int node_kv_session_count(void *ctx, uint64_t *n_live)
{
    ASSERT(ctx != NULL);
    return store_session_count(ctx, n_live);
}

const struct kv_store_ops *node_kv_ops(void)
{
    static const struct kv_store_ops ops = {
        .begin = node_kv_begin,
        .commit = node_kv_commit,
        .get = node_kv_get,
        .put = node_kv_put,
        .put_at = node_kv_put_at,
        .del = node_kv_del,
        .session_get = node_kv_session_get,
        .session_put = node_kv_session_put,
        .session_find = node_kv_session_find,
        .session_touch = node_kv_session_touch,
        .session_register = node_kv_session_register,
        .session_count = node_kv_session_count,
    };
    return &ops;
}
