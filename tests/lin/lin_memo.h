/*
 * The memo table of the linearizability search (tests/lin/lin.c): the
 * search states already explored, each a 128-bit fingerprint of the set of
 * linearized operations with a known outcome, the register value, and the
 * exact set of linearized operations with an unknown outcome. A state is
 * covered by an explored one with the same fingerprint and value whose
 * unknown set is a subset of its own: from fewer linearized unknowns every
 * continuation of the larger set is still possible (those extra unknowns
 * may simply never take effect), so if that one failed this one fails.
 * Bounded in bytes. Read tests/lin/lin_memo.c next.
 */
#ifndef RAFT_TESTS_LIN_LIN_MEMO_H
#define RAFT_TESTS_LIN_LIN_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lin_memo_entry {
    uint64_t h1, h2; /* Fingerprint of the known-outcome set. */
    uint32_t state;  /* Register value id. */
    uint32_t next;   /* Older entry of the same key, index + 1. */
};

struct lin_memo {
    uint32_t *slots;  /* A key's newest entry, index + 1; 0 empty. */
    uint32_t n_slots; /* A power of two. */
    uint32_t n_keys;
    struct lin_memo_entry *entries;
    uint64_t *uwords; /* Each entry's unknown set, n_uwords each. */
    uint32_t n_uwords;
    uint32_t n_entries;
    uint32_t cap_entries;
    size_t bytes_max;
};

/* An empty table for unknown sets of n_unknown bits, bounded by bytes_max. */
void lin_memo_init(struct lin_memo *m, uint32_t n_unknown, size_t bytes_max);
void lin_memo_free(struct lin_memo *m);

/* Records the state unless an explored one covers it; *fresh says which.
 * uset has n_uwords words. Errors: ERR_NOMEM, ERR_TOO_BIG (over
 * bytes_max). */
int lin_memo_visit(struct lin_memo *m, uint64_t h1, uint64_t h2, uint32_t state,
                   const uint64_t *uset, bool *fresh);

#endif
