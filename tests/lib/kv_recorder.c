/*
 * The recording store: each write first appends a record (with copies of
 * its key and value), then either returns the injected error or goes on to
 * mem_kv. Read tests/lib/kv_recorder.h for the contract.
 */
#include "tests/lib/kv_recorder.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

void kv_recorder_init(struct kv_recorder *rec)
{
    ASSERT(rec != NULL);
    memset(rec, 0, sizeof *rec);
    mem_kv_init(&rec->kv);
}

void kv_recorder_clear(struct kv_recorder *rec)
{
    for (size_t i = 0; i < rec->n_calls; i++) {
        free(rec->calls[i].key);
        free(rec->calls[i].value);
    }
    rec->n_calls = 0;
    rec->n_gets = 0;
    rec->n_session_gets = 0;
}

void kv_recorder_close(struct kv_recorder *rec)
{
    kv_recorder_clear(rec);
    free(rec->calls);
    mem_kv_close(&rec->kv);
    memset(rec, 0, sizeof *rec);
}

/* A copy of len bytes (a test harness out of memory aborts). */
static uint8_t *copy_bytes(const uint8_t *p, uint32_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    ASSERT(copy != NULL);
    if (len > 0) {
        memcpy(copy, p, len);
    }
    return copy;
}

/* Records a write in *out; returns the error injected for it, if any. */
static int record(struct kv_recorder *rec, int op, struct kv_rec_call **out)
{
    if (rec->n_calls == rec->cap_calls) {
        size_t cap = rec->cap_calls ? 2 * rec->cap_calls : 64;
        struct kv_rec_call *calls = realloc(rec->calls, cap * sizeof *calls);
        ASSERT(calls != NULL);
        rec->calls = calls;
        rec->cap_calls = cap;
    }
    struct kv_rec_call *c = &rec->calls[rec->n_calls++];
    memset(c, 0, sizeof *c);
    c->op = op;
    *out = c;
    if (rec->fail_op == op) {
        rec->fail_op = 0;
        return rec->fail_err;
    }
    return ERR_OK;
}

static int rec_begin(void *ctx)
{
    struct kv_recorder *rec = ctx;
    struct kv_rec_call *c;
    int err = record(rec, KV_REC_BEGIN, &c);
    return err != ERR_OK ? err : mem_kv_ops()->begin(&rec->kv);
}

static int rec_commit(void *ctx, raft_index applied_index)
{
    struct kv_recorder *rec = ctx;
    struct kv_rec_call *c;
    int err = record(rec, KV_REC_COMMIT, &c);
    c->applied = applied_index;
    return err != ERR_OK ? err : mem_kv_ops()->commit(&rec->kv, applied_index);
}

static int rec_get(void *ctx, const uint8_t *key, uint32_t key_len,
                   const uint8_t **value, uint32_t *value_len)
{
    struct kv_recorder *rec = ctx;
    rec->n_gets++;
    return mem_kv_ops()->get(&rec->kv, key, key_len, value, value_len);
}

static int rec_put(void *ctx, const uint8_t *key, uint32_t key_len,
                   const uint8_t *value, uint32_t value_len)
{
    struct kv_recorder *rec = ctx;
    struct kv_rec_call *c;
    int err = record(rec, KV_REC_PUT, &c);
    c->key = copy_bytes(key, key_len);
    c->key_len = key_len;
    c->value = copy_bytes(value, value_len);
    c->value_len = value_len;
    return err != ERR_OK
               ? err
               : mem_kv_ops()->put(&rec->kv, key, key_len, value, value_len);
}

static int rec_del(void *ctx, const uint8_t *key, uint32_t key_len)
{
    struct kv_recorder *rec = ctx;
    struct kv_rec_call *c;
    int err = record(rec, KV_REC_DEL, &c);
    c->key = copy_bytes(key, key_len);
    c->key_len = key_len;
    return err != ERR_OK ? err : mem_kv_ops()->del(&rec->kv, key, key_len);
}

static int rec_session_get(void *ctx, uint64_t client_id, uint64_t *seq,
                           uint8_t *status)
{
    struct kv_recorder *rec = ctx;
    rec->n_session_gets++;
    return mem_kv_ops()->session_get(&rec->kv, client_id, seq, status);
}

static int rec_session_put(void *ctx, uint64_t client_id, uint64_t seq,
                           uint8_t status)
{
    struct kv_recorder *rec = ctx;
    struct kv_rec_call *c;
    int err = record(rec, KV_REC_SESSION_PUT, &c);
    c->client_id = client_id;
    c->seq = seq;
    c->status = status;
    return err != ERR_OK
               ? err
               : mem_kv_ops()->session_put(&rec->kv, client_id, seq, status);
}

static int rec_session_find(void *ctx, uint64_t client_id,
                            struct kv_session *out)
{
    struct kv_recorder *rec = ctx;
    rec->n_session_gets++;
    return mem_kv_ops()->session_find(&rec->kv, client_id, out);
}

/* Recorded as a SESSION_PUT: what reaches the store is the same row. */
static int rec_session_touch(void *ctx, uint64_t client_id, uint64_t seq,
                             uint8_t status, raft_index index)
{
    struct kv_recorder *rec = ctx;
    struct kv_rec_call *c;
    int err = record(rec, KV_REC_SESSION_PUT, &c);
    c->client_id = client_id;
    c->seq = seq;
    c->status = status;
    return err != ERR_OK ? err
                         : mem_kv_ops()->session_touch(&rec->kv, client_id, seq,
                                                       status, index);
}

/* Recorded as a SESSION_PUT of the new session (seq 0). */
static int rec_session_register(void *ctx, raft_index index, uint64_t max)
{
    struct kv_recorder *rec = ctx;
    struct kv_rec_call *c;
    int err = record(rec, KV_REC_SESSION_PUT, &c);
    c->client_id = index;
    c->seq = 0;
    c->status = 0;
    return err != ERR_OK
               ? err
               : mem_kv_ops()->session_register(&rec->kv, index, max);
}

static int rec_session_count(void *ctx, uint64_t *n_live)
{
    struct kv_recorder *rec = ctx;
    return mem_kv_ops()->session_count(&rec->kv, n_live);
}

const struct kv_store_ops *kv_recorder_ops(void)
{
    static const struct kv_store_ops ops = {
        .begin = rec_begin,
        .commit = rec_commit,
        .get = rec_get,
        .put = rec_put,
        .del = rec_del,
        .session_get = rec_session_get,
        .session_put = rec_session_put,
        .session_find = rec_session_find,
        .session_touch = rec_session_touch,
        .session_register = rec_session_register,
        .session_count = rec_session_count,
    };
    return &ops;
}

size_t kv_recorder_count(const struct kv_recorder *rec, int op)
{
    size_t n = 0;
    for (size_t i = 0; i < rec->n_calls; i++) {
        n += rec->calls[i].op == op;
    }
    return n;
}
