/*
 * The fixed keys of the envelope fuzz target and its seed corpus
 * (tests/fuzz/fuzz_auth.c, tests/fuzz/gen_auth_corpus.c): test keys only.
 */
#ifndef RAFT_TESTS_FUZZ_AUTH_KEYS_H
#define RAFT_TESTS_FUZZ_AUTH_KEYS_H

#include "common/auth.h"

static inline void fuzz_auth_keys(enum auth_role role)
{
    static const uint8_t cluster[1][AUTH_KEY_BYTES] = {{0xc1, 0x05, 0x7e}};
    static const uint8_t client[1][AUTH_KEY_BYTES] = {{0xc1, 0x1e, 0x47}};
    auth_reset();
    auth_set_keys(AUTH_CLUSTER, cluster, 1, role);
    auth_set_keys(AUTH_CLIENT, client, 1, role);
}

#endif
