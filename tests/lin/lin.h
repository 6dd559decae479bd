/*
 * The linearizability checker: a key-value register model (put, get, del,
 * cas) checked key by key, since keys are independent (P-compositionality).
 * Each key's history is searched with the Wing-Gong-Lowe algorithm and a
 * memo table of (set of linearized operations, register value), as
 * Porcupine and Knossos do. An operation with an unknown outcome may take
 * effect at any point after its call, or never. The search is bounded in
 * steps and memory and answers LIN_TOO_BIG rather than run away.
 * Read tests/lin/lin.c next.
 */
#ifndef RAFT_TESTS_LIN_LIN_H
#define RAFT_TESTS_LIN_LIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "tests/lin/lin_history.h"

#define LIN_STEPS_MAX_DEFAULT 50000000ull
#define LIN_CACHE_BYTES_MAX_DEFAULT (512u << 20)
#define LIN_WITNESS_MAX 12

enum lin_verdict {
    LIN_LINEARIZABLE = 0,
    LIN_VIOLATION = 1, /* No linearization exists. */
    LIN_TOO_BIG = 2    /* The search hit its bound: unknown. */
};

struct lin_limits {
    uint64_t steps_max;     /* Search steps per key; 0: the default. */
    size_t cache_bytes_max; /* Memo table per key; 0: the default. */
};

/* What the search of one key found. On a violation, the deepest partial
 * linearization it reached explains the failure: the last operations it
 * linearized (prefix, oldest first), the register value after them, the
 * operation whose return could not be reached (blocking), and the
 * operations pending then that could not be linearized either. All
 * operation numbers index the history's recs. */
struct lin_key_result {
    uint32_t key;
    int verdict; /* enum lin_verdict */
    uint32_t n_ops;
    uint32_t n_unknown;
    uint64_t steps;
    uint64_t n_cached;
    uint32_t depth; /* Operations linearized at the deepest point. */
    uint32_t state; /* Value id there. */
    uint32_t n_prefix;
    uint32_t prefix[LIN_WITNESS_MAX];
    uint32_t blocking;
    uint32_t n_pending;
    uint32_t pending[LIN_WITNESS_MAX];
};

struct lin_report {
    int verdict; /* The worst over all keys. */
    uint32_t n_keys;
    struct lin_key_result *keys; /* Owned; one per key id. */
};

/* Checks the operations on one key. Errors: ERR_NOMEM, ERR_INVALID (no such
 * key). The verdict is in out. */
int lin_check_key(const struct lin_history *h, uint32_t key,
                  const struct lin_limits *limits, struct lin_key_result *out);

/* Checks every key; report->verdict is VIOLATION if any key has one, else
 * TOO_BIG if any search hit its bound. Errors: ERR_NOMEM. */
int lin_check(const struct lin_history *h, const struct lin_limits *limits,
              struct lin_report *report);

void lin_report_free(struct lin_report *report);

/* The model: applies operation r to register value state. Returns true
 * when r can take effect there with its recorded outcome, and sets *next.
 * An unknown write that would not change the value returns false (leaving
 * it pending is never worse). */
bool lin_model_step(const struct lin_rec *r, uint32_t state, uint32_t *next);

#endif
