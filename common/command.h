/*
 * The state-machine command a normal log entry carries: its ops, its decoded
 * form, and its one binary encoding (a small length-prefixed layout of its
 * own, so the core needs no msgpack). Shared by the client (size checks),
 * storage (readable log columns) and node/kv.c (apply). Pure: no I/O, no
 * clock, no allocation. Read common/command.c next.
 */
#ifndef RAFT_COMMON_COMMAND_H
#define RAFT_COMMON_COMMAND_H

#include <stddef.h>
#include <stdint.h>

enum command_op { COMMAND_OP_PUT = 1, COMMAND_OP_DEL = 2, COMMAND_OP_CAS = 3 };

/* A decoded command; pointers borrow from the payload. */
struct command {
    uint8_t op;         /* enum command_op */
    uint64_t client_id; /* 0: no session (not deduplicated). */
    uint64_t seq;
    uint32_t key_len;
    const uint8_t *key;
    uint32_t value_len;
    const uint8_t *value; /* PUT value; CAS new value. */
    uint32_t expected_len;
    const uint8_t *expected; /* CAS only. */
};

/* Bytes command_encode needs for cmd. */
size_t command_encoded_size(const struct command *cmd);

/* Encodes cmd into buf (capacity cap). Errors: ERR_INVALID (bad op, key
 * empty or over RAFT_KEY_MAX, value over RAFT_VALUE_MAX), ERR_TOO_BIG. */
int command_encode(const struct command *cmd, uint8_t *buf, size_t cap,
                   size_t *len);

/* Decodes and validates a payload. Errors: ERR_MALFORMED. */
int command_decode(const uint8_t *buf, size_t len, struct command *out);

/* The op name for the log table: "put", "del", "cas" (or "?" if invalid). */
const char *command_op_name(uint8_t op);

#endif
