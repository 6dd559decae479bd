/*
 * A cluster configuration (thesis chapter 4): voters and learners, each with
 * an id and an address, and during a joint change (thesis 4.3) the old voter
 * set beside the new. Encoded as the readable text a RAFT_ENTRY_CONFIG entry
 * carries: "voters 1,2,3 learners 4" or "joint 1,2,3 -> 1,2,4", then
 * " @ ID=HOST:PORT ..." for the addresses it knows. Pure: no I/O. Read
 * node/raft_membership.c next.
 */
#ifndef RAFT_COMMON_MEMBERSHIP_H
#define RAFT_COMMON_MEMBERSHIP_H

#include "common/types.h"

#define MEMBERSHIP_ADDR_MAX 64
#define MEMBERSHIP_TEXT_MAX 2048 /* Encoded text, NUL included. */

struct membership_member {
    raft_id id;
    bool voter;     /* In the (new) voter set. */
    bool old_voter; /* Joint only: in the old voter set. */
    char addr[MEMBERSHIP_ADDR_MAX]; /* "" when not known. */
};

/* A learner is a member that is neither voter nor old_voter. */
struct membership {
    bool joint;
    uint32_t n;
    struct membership_member m[RAFT_NODES_MAX];
};

void membership_init(struct membership *c);
/* The member with id, NULL when none. */
struct membership_member *membership_find(struct membership *c, raft_id id);
const struct membership_member *membership_get(const struct membership *c,
                                               raft_id id);
/* Adds id (or returns the one there). NULL when full. */
struct membership_member *membership_add(struct membership *c, raft_id id);
void membership_remove(struct membership *c, raft_id id);
/* Voter in either set. */
bool membership_is_voter(const struct membership *c, raft_id id);
uint32_t membership_n_voters(const struct membership *c, bool old);
/* Whether the ids with ok[i] true (i indexes c->m) hold a majority of the
 * new voter set and, when joint, of the old one too. */
bool membership_quorum(const struct membership *c, const bool *ok);
/* Same voter sets (new and old), learners and addresses aside. */
bool membership_same_voters(const struct membership *a,
                            const struct membership *b);
/* Whether now shows a membership op (enum fault_member_op, not
 * TRANSFER) on id, asked while before was in force, as started or done:
 * ADD: id is in now; PROMOTE: a learner before, a voter of now's new set;
 * REMOVE: gone, or a voter before and out of now's new set. raftctl's
 * check when a resend of its request is refused (the first answer was
 * lost). */
bool membership_op_done(const struct membership *before,
                        const struct membership *now, uint32_t op, raft_id id);
/* Text form into buf (NUL-terminated); returns its length.
 * Errors: none (a too-small buf truncates; use MEMBERSHIP_TEXT_MAX). */
size_t membership_encode(const struct membership *c, char *buf, size_t cap);
/* The text form without the addresses ("voters 1,2,3 learners 4" or
 * "joint 1,2,3 -> 1,2,4"), as membership_encode. */
size_t membership_sets_text(const struct membership *c, char *buf, size_t cap);
/* Parses the text form (len bytes, no NUL needed). Errors: ERR_MALFORMED,
 * ERR_TOO_BIG (more than RAFT_NODES_MAX members). */
int membership_decode(const uint8_t *text, size_t len, struct membership *out);

#endif
