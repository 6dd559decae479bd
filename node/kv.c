/*
 * The key-value state machine: applies the command of a normal log entry
 * (common/command.h decodes it) with exactly-once client sessions. Pure: no
 * I/O, no clock, no allocation; storage arrives as a kv_store_ops table.
 * Read node/replica.c next.
 */
#include "node/kv.h"

#include <stdio.h>
#include <string.h>

#include "common/command.h"
#include "common/err.h"
#include "common/invariant.h"
#include "common/msg.h"
#include "node/raft_bugs.h"

/* Puts cmd's value, that of the log entry at index: through put_at when
 * the store has it (it may refer to the log row instead of copying). */
static int kv_put(const struct kv_store_ops *ops, void *ctx,
                  const struct command *cmd, raft_index index)
{
    if (ops->put_at != NULL) {
        return ops->put_at(ctx, cmd->key, cmd->key_len, cmd->value,
                           cmd->value_len, index);
    }
    return ops->put(ctx, cmd->key, cmd->key_len, cmd->value, cmd->value_len);
}

/* CAS: swap only when the current value exists and equals expected.
 * Writes the status; errors are store errors. */
static int apply_cas(const struct kv_store_ops *ops, void *ctx,
                     const struct command *cmd, raft_index index,
                     uint8_t *status)
{
    const uint8_t *cur = NULL;
    uint32_t cur_len = 0;
    int rc = ops->get(ctx, cmd->key, cmd->key_len, &cur, &cur_len);
    if (rc == ERR_NOT_FOUND) {
        *status = CLIENT_CAS_MISMATCH;
        return ERR_OK;
    }
    if (rc != ERR_OK) {
        return rc;
    }
    bool same = cur_len == cmd->expected_len &&
                (cur_len == 0 || memcmp(cur, cmd->expected, cur_len) == 0);
    if (!same) {
        *status = CLIENT_CAS_MISMATCH;
        return ERR_OK;
    }
    rc = kv_put(ops, ctx, cmd, index);
    if (rc != ERR_OK) {
        return rc;
    }
    *status = CLIENT_OK;
    return ERR_OK;
}

/* Applies a decoded command to the store; writes its status. */
static int apply_cmd(const struct kv_store_ops *ops, void *ctx,
                     const struct command *cmd, raft_index index,
                     uint8_t *status)
{
    int rc;
    switch (cmd->op) {
    case COMMAND_OP_PUT:
        rc = kv_put(ops, ctx, cmd, index);
        *status = CLIENT_OK;
        return rc;
    case COMMAND_OP_DEL:
        /* Deleting an absent key succeeds (DESIGN.md, `del`). */
        rc = ops->del(ctx, cmd->key, cmd->key_len);
        *status = CLIENT_OK;
        return rc == ERR_NOT_FOUND ? ERR_OK : rc;
    case COMMAND_OP_CAS:
        return apply_cas(ops, ctx, cmd, index, status);
    default:
        UNREACHABLE();
    }
}

/* The verdict on a request of a session before it runs. */
enum kv_verdict {
    KV_RUN,       /* Execute it and touch the session. */
    KV_DUPLICATE, /* Already applied: answer the remembered status. */
    KV_EXPIRED    /* Its session is unknown: answer, never execute. */
};

/* Thesis section 6.3: the state machine must discard old sessions, and
 * "if a client's session has expired, the cluster returns an error rather
 * than possibly executing the request a second time". Sessions are
 * registered through the log, so an unknown id is one that was never
 * registered or was evicted: either way, its request may have been applied
 * already, and is not run. */
static enum kv_verdict session_verdict(const struct kv_session *s, uint64_t seq)
{
    if (s->state == KV_SESSION_LIVE) {
        return s->seq >= seq ? KV_DUPLICATE : KV_RUN;
    }
    return RAFT_BUG(RAFT_BUG_SESSION_REVIVE) ? KV_RUN : KV_EXPIRED;
}

#define KV_SESSION_ENTRY_PREFIX "session max="

uint32_t kv_session_entry_format(uint8_t *buf, uint64_t max)
{
    char text[KV_SESSION_ENTRY_MAX];
    int n = snprintf(text, sizeof text, KV_SESSION_ENTRY_PREFIX "%llu",
                     (unsigned long long)max);
    ASSERT(n > 0 && (size_t)n < sizeof text);
    memcpy(buf, text, (size_t)n);
    return (uint32_t)n;
}

bool kv_session_entry_parse(const uint8_t *data, uint32_t len, uint64_t *max)
{
    size_t plen = sizeof(KV_SESSION_ENTRY_PREFIX) - 1;
    if (data == NULL || len <= plen || len > plen + 20 ||
        memcmp(data, KV_SESSION_ENTRY_PREFIX, plen) != 0) {
        return false;
    }
    uint64_t v = 0;
    for (uint32_t i = (uint32_t)plen; i < len; i++) {
        if (data[i] < '0' || data[i] > '9' ||
            v > (UINT64_MAX - (uint64_t)(data[i] - '0')) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(data[i] - '0');
    }
    *max = v;
    return true;
}

int kv_register(const struct kv_store_ops *ops, void *ctx, raft_index index,
                uint64_t max)
{
    ASSERT(ops != NULL);
    ASSERT(index >= 1);
    return ops->session_register(ctx, index, max);
}

/* Applies one committed payload inside an open transaction, at most once per
 * (client_id, seq) (thesis section 6.3: the session remembers the last seq
 * and its result). Errors: a store op's error, fatal for the caller. */
int kv_apply(const struct kv_store_ops *ops, void *ctx, raft_index index,
             const uint8_t *payload, size_t len, struct kv_result *res)
{
    ASSERT(ops != NULL);
    ASSERT(res != NULL);
    struct command cmd;
    memset(res, 0, sizeof(*res));
    if (command_decode(payload, len, &cmd) != ERR_OK) {
        /* Same bytes on every replica, so the same (non-)effect. */
        res->status = CLIENT_INVALID;
        return ERR_OK;
    }
    struct kv_session session;
    memset(&session, 0, sizeof session);
    if (cmd.client_id != 0) {
        int rc = ops->session_find(ctx, cmd.client_id, &session);
        if (rc != ERR_OK) {
            return rc;
        }
        enum kv_verdict verdict = session_verdict(&session, cmd.seq);
        if (verdict == KV_DUPLICATE) {
            res->status = session.status;
            res->duplicate = true;
            return ERR_OK;
        }
        if (verdict == KV_EXPIRED) {
            res->status = CLIENT_SESSION_EXPIRED;
            return ERR_OK;
        }
    }
    uint8_t status = CLIENT_OK;
    int rc = apply_cmd(ops, ctx, &cmd, index, &status);
    if (rc != ERR_OK) {
        return rc;
    }
    if (cmd.client_id != 0 && session.state == KV_SESSION_LIVE) {
        rc = ops->session_touch(ctx, cmd.client_id, cmd.seq, status, index);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    res->status = status;
    res->duplicate = false;
    return ERR_OK;
}
