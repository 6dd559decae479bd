/*
 * The one clock read of the runtime and raftctl: milliseconds (and
 * microseconds) of CLOCK_MONOTONIC. Never used by the pure core. Read
 * common/clock.c next.
 */
#ifndef RAFT_COMMON_CLOCK_H
#define RAFT_COMMON_CLOCK_H

#include <stdint.h>

uint64_t clock_now_ms(void);
uint64_t clock_now_us(void);

#endif
