/*
 * The simulator's trace: every line (core trace lines with simulated time and
 * node id, and the world's own events) goes into a ring of the last N lines
 * and into a running FNV-1a hash, so a failure can print its recent history
 * and a replay can prove it is byte-for-byte the same run. With an echo
 * stream every line is also printed as it happens (--trace).
 * Read tests/sim/sim_world.h next.
 */
#ifndef RAFT_TESTS_SIM_SIM_TRACE_H
#define RAFT_TESTS_SIM_SIM_TRACE_H

#include <stdint.h>
#include <stdio.h>

#define SIM_TRACE_LINE_MAX 256 /* Longer lines are cut (hashed as cut). */

struct sim_trace {
    char *ring; /* n_ring slots of SIM_TRACE_LINE_MAX bytes. */
    uint32_t n_ring;
    uint64_t n_lines; /* Lines ever added; slot = n_lines % n_ring. */
    uint64_t hash;    /* FNV-1a of every line and its newline. */
    FILE *echo;       /* Borrowed; NULL: do not print. */
};

/* Errors: ERR_NOMEM. */
int sim_trace_init(struct sim_trace *t, uint32_t n_ring, FILE *echo);
void sim_trace_close(struct sim_trace *t);

/* Adds one line (no newline; copied, cut at SIM_TRACE_LINE_MAX - 1). */
void sim_trace_add(struct sim_trace *t, const char *line);

/* Prints the last max lines (at most n_ring) to out, oldest first. */
void sim_trace_dump(const struct sim_trace *t, FILE *out, uint32_t max);

/* FNV-1a 64 over len bytes, continuing from h (start with SIM_FNV_INIT). */
#define SIM_FNV_INIT 0xcbf29ce484222325ull
uint64_t sim_fnv(uint64_t h, const void *data, size_t len);
uint64_t sim_fnv_u64(uint64_t h, uint64_t v);

#endif
