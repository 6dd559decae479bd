/*
 * Test helpers for the wire codec, shared by tests/unit/test_wire.c, the
 * fuzz target and the corpus generator: sample messages of every type, a
 * field-by-field message comparison, and the decode / re-encode / decode
 * consistency property. Read tests/unit/test_wire.c next.
 */
#ifndef RAFT_TESTS_LIB_WIRE_CHECK_H
#define RAFT_TESTS_LIB_WIRE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

/* The cluster id of the samples and of the fuzz corpus. */
#define WIRE_CHECK_CLUSTER 0x5eedc0de12345678ull

/* How many samples wire_check_sample() knows. */
int wire_check_n_samples(void);

/* Fills out with sample i (0 <= i < wire_check_n_samples()): every message
 * type, with small and edge values. Byte fields point into static storage. */
void wire_check_sample(int i, struct raft_msg *out);

/* True when a and b are the same message (pointed-to bytes compared). */
bool wire_check_equal(const struct raft_msg *a, const struct raft_msg *b);

/* Decodes buf under cluster_id; when accepted, re-encodes it (which must
 * succeed in at most len bytes, within the entry size bounds), decodes that
 * again and requires the same message. Aborts on any inconsistency; returns
 * wire_decode()'s result. Not reentrant (static scratch). */
int wire_check_roundtrip(const uint8_t *buf, size_t len, uint64_t cluster_id);

#endif
