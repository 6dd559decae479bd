/*
 * A seeded pseudo-random generator (xoshiro256** seeded by splitmix64). The
 * state is a caller-owned struct, so pure code draws randomness without
 * rand() and the simulator replays a seed exactly. Read common/rng.c next.
 */
#ifndef RAFT_COMMON_RNG_H
#define RAFT_COMMON_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

void rng_init(struct rng *rng, uint64_t seed);
uint64_t rng_next(struct rng *rng);
/* Uniform in [lo, hi); returns lo when hi <= lo. */
uint64_t rng_range(struct rng *rng, uint64_t lo, uint64_t hi);
/* True with probability ppm / 1,000,000. */
int rng_chance_ppm(struct rng *rng, uint32_t ppm);

#endif
