/*
 * The command codec: encodes and strictly validates the payload of a normal
 * log entry. Pure: no I/O, no clock, no allocation.
 *
 * Payload layout, version 1 (all integers little-endian, fixed width):
 *
 *   offset  size  field
 *   0       1     version (COMMAND_VERSION = 1)
 *   1       1     op (enum command_op: 1 put, 2 del, 3 cas)
 *   2       8     client_id (0: no session)
 *   10      8     seq
 *   18      4     key_len, then key_len key bytes (1..RAFT_KEY_MAX)
 *   ..      4     value_len, then value_len bytes (0..RAFT_VALUE_MAX)
 *   ..      4     expected_len, then expected_len bytes (0..RAFT_VALUE_MAX)
 *
 * The total length is exactly 30 + key_len + value_len + expected_len, and
 * at most RAFT_ENTRY_MAX. A DEL carries no value and no expected value; a
 * PUT carries no expected value.
 * Read node/kv.c next.
 */
#include "common/command.h"

#include <stdbool.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "common/types.h"

#define COMMAND_VERSION 1
#define COMMAND_HEADER_LEN                                                     \
    30 /* Fixed part: everything but the three byte runs. */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* True when the field lengths of cmd are allowed for its op (shared by
 * encode and decode, so both sides agree on what a valid command is). */
static bool cmd_is_valid(uint8_t op, uint32_t key_len, uint32_t value_len,
                         uint32_t expected_len)
{
    if (key_len == 0 || key_len > RAFT_KEY_MAX) {
        return false;
    }
    if (value_len > RAFT_VALUE_MAX || expected_len > RAFT_VALUE_MAX) {
        return false;
    }
    switch (op) {
    case COMMAND_OP_PUT:
        return expected_len == 0;
    case COMMAND_OP_DEL:
        return value_len == 0 && expected_len == 0;
    case COMMAND_OP_CAS:
        return true;
    default:
        return false;
    }
}

size_t command_encoded_size(const struct command *cmd)
{
    ASSERT(cmd != NULL);
    return (size_t)COMMAND_HEADER_LEN + cmd->key_len + cmd->value_len +
           cmd->expected_len;
}

/* Writes a length and its bytes at p; returns the position after them. */
static uint8_t *put_run(uint8_t *p, const uint8_t *bytes, uint32_t len)
{
    put_u32(p, len);
    p += 4;
    if (len > 0) {
        memcpy(p, bytes, len);
    }
    return p + len;
}

/* Encodes cmd. Errors: ERR_INVALID (op, empty or oversized key, oversized
 * value or expected, a field the op does not carry), ERR_TOO_BIG (over cap,
 * or over RAFT_ENTRY_MAX: a CAS whose key, new and expected values are all
 * near their limits does not fit one datagram). */
int command_encode(const struct command *cmd, uint8_t *buf, size_t cap,
                   size_t *len)
{
    ASSERT(cmd != NULL);
    ASSERT(buf != NULL);
    ASSERT(len != NULL);
    if (!cmd_is_valid(cmd->op, cmd->key_len, cmd->value_len,
                      cmd->expected_len)) {
        return ERR_INVALID;
    }
    ASSERT(cmd->key != NULL);
    ASSERT(cmd->value_len == 0 || cmd->value != NULL);
    ASSERT(cmd->expected_len == 0 || cmd->expected != NULL);
    size_t need = command_encoded_size(cmd);
    if (need > RAFT_ENTRY_MAX || need > cap) {
        return ERR_TOO_BIG;
    }
    uint8_t *p = buf;
    p[0] = COMMAND_VERSION;
    p[1] = cmd->op;
    put_u64(p + 2, cmd->client_id);
    put_u64(p + 10, cmd->seq);
    p = put_run(p + 18, cmd->key, cmd->key_len);
    p = put_run(p, cmd->value, cmd->value_len);
    p = put_run(p, cmd->expected, cmd->expected_len);
    ASSERT((size_t)(p - buf) == need);
    *len = need;
    return ERR_OK;
}

/* Reads a length-prefixed run at *pos, bounded by len and max. */
static int take_run(const uint8_t *buf, size_t len, size_t *pos, uint32_t max,
                    const uint8_t **bytes, uint32_t *run_len)
{
    if (len - *pos < 4) {
        return ERR_MALFORMED;
    }
    uint32_t n = get_u32(buf + *pos);
    *pos += 4;
    if (n > max || len - *pos < n) {
        return ERR_MALFORMED;
    }
    *bytes = n > 0 ? buf + *pos : NULL;
    *run_len = n;
    *pos += n;
    return ERR_OK;
}

/* Decodes and validates strictly: version, op, lengths within the limits,
 * key non-empty, fields allowed for the op, exact total length. Errors:
 * ERR_MALFORMED (out untouched). */
int command_decode(const uint8_t *buf, size_t len, struct command *out)
{
    ASSERT(out != NULL);
    ASSERT(buf != NULL || len == 0);
    if (len < COMMAND_HEADER_LEN || len > RAFT_ENTRY_MAX) {
        return ERR_MALFORMED;
    }
    if (buf[0] != COMMAND_VERSION) {
        return ERR_MALFORMED;
    }
    struct command cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.op = buf[1];
    cmd.client_id = get_u64(buf + 2);
    cmd.seq = get_u64(buf + 10);
    size_t pos = 18;
    if (take_run(buf, len, &pos, RAFT_KEY_MAX, &cmd.key, &cmd.key_len) ||
        take_run(buf, len, &pos, RAFT_VALUE_MAX, &cmd.value, &cmd.value_len) ||
        take_run(buf, len, &pos, RAFT_VALUE_MAX, &cmd.expected,
                 &cmd.expected_len)) {
        return ERR_MALFORMED;
    }
    if (pos != len) {
        return ERR_MALFORMED;
    }
    if (!cmd_is_valid(cmd.op, cmd.key_len, cmd.value_len, cmd.expected_len)) {
        return ERR_MALFORMED;
    }
    ASSERT(command_encoded_size(&cmd) == len);
    *out = cmd;
    return ERR_OK;
}

const char *command_op_name(uint8_t op)
{
    switch (op) {
    case COMMAND_OP_PUT:
        return "put";
    case COMMAND_OP_DEL:
        return "del";
    case COMMAND_OP_CAS:
        return "cas";
    default:
        return "?";
    }
}
