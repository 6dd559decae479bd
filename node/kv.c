/*
 * The key-value state machine: applies the command of a normal log entry
 * (common/command.h decodes it) with exactly-once client sessions. Pure: no
 * I/O, no clock, no allocation; storage arrives as a kv_store_ops table.
 * Read node/replica.c next.
 */
#include "node/kv.h"

#include <string.h>

#include "common/command.h"
#include "common/err.h"
#include "common/invariant.h"
#include "common/msg.h"

/* CAS: swap only when the current value exists and equals expected.
 * Writes the status; errors are store errors. */
static int apply_cas(const struct kv_store_ops *ops, void *ctx,
                     const struct command *cmd, uint8_t *status)
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
    rc = ops->put(ctx, cmd->key, cmd->key_len, cmd->value, cmd->value_len);
    if (rc != ERR_OK) {
        return rc;
    }
    *status = CLIENT_OK;
    return ERR_OK;
}

/* Applies a decoded command to the store; writes its status. */
static int apply_cmd(const struct kv_store_ops *ops, void *ctx,
                     const struct command *cmd, uint8_t *status)
{
    int rc;
    switch (cmd->op) {
    case COMMAND_OP_PUT:
        rc = ops->put(ctx, cmd->key, cmd->key_len, cmd->value, cmd->value_len);
        *status = CLIENT_OK;
        return rc;
    case COMMAND_OP_DEL:
        /* Deleting an absent key succeeds (DESIGN.md, `del`). */
        rc = ops->del(ctx, cmd->key, cmd->key_len);
        *status = CLIENT_OK;
        return rc == ERR_NOT_FOUND ? ERR_OK : rc;
    case COMMAND_OP_CAS:
        return apply_cas(ops, ctx, cmd, status);
    default:
        UNREACHABLE();
    }
}

/* Applies one committed payload inside an open transaction, at most once per
 * (client_id, seq) (thesis section 6.3: the session remembers the last seq
 * and its result). Errors: a store op's error, fatal for the caller. */
int kv_apply(const struct kv_store_ops *ops, void *ctx, const uint8_t *payload,
             size_t len, struct kv_result *res)
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
    if (cmd.client_id != 0) {
        uint64_t last_seq = 0;
        uint8_t last_status = 0;
        int rc = ops->session_get(ctx, cmd.client_id, &last_seq, &last_status);
        if (rc == ERR_OK && last_seq >= cmd.seq) {
            res->status = last_status;
            res->duplicate = true;
            return ERR_OK;
        }
        if (rc != ERR_OK && rc != ERR_NOT_FOUND) {
            return rc;
        }
    }
    uint8_t status = CLIENT_OK;
    int rc = apply_cmd(ops, ctx, &cmd, &status);
    if (rc != ERR_OK) {
        return rc;
    }
    if (cmd.client_id != 0) {
        rc = ops->session_put(ctx, cmd.client_id, cmd.seq, status);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    res->status = status;
    res->duplicate = false;
    return ERR_OK;
}
