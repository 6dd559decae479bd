/*
 * Random bytes from the kernel for raftctl and its tests: client ids and
 * status poll nonces. Never for the pure core or the simulator, which draw
 * from the seeded struct rng (common/rng.h). Read common/random.c next.
 */
#ifndef RAFT_COMMON_RANDOM_H
#define RAFT_COMMON_RANDOM_H

#include <stddef.h>

/* Fills out with len random bytes: getrandom(), else /dev/urandom.
 * Errors: ERR_IO (neither gave enough bytes). */
int random_bytes(void *out, size_t len);

#endif
