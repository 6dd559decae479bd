/*
 * One-shot queries to chosen members, for raftctl's status, start, fault
 * and dashboard commands: each blocks until every chosen member answered or
 * the timeout passed, resending all the while. A member that does not
 * answer is not an error. Read common/client_query.c next.
 */
#ifndef RAFT_COMMON_CLIENT_QUERY_H
#define RAFT_COMMON_CLIENT_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/msg.h"
#include "common/types.h"

/* What one member said to a status query. */
struct client_node_status {
    bool alive;                    /* It answered in time. */
    raft_term term;                /* Header term of its reply. */
    struct msg_status_reply reply; /* Valid when alive. */
};

/* Asks the members whose bit (1 << index into conf->members) is set in mask
 * for their status, in parallel, resending every ~100 ms, until all answered
 * or timeout_ms passed. out[i] is filled for every member index i.
 * Errors: ERR_NOMEM, ERR_IO, ERR_INVALID (an address does not resolve;
 * errmsg). A member
 * that did not answer is not an error: out[i].alive is false. */
int client_status_query(const struct conf *conf, uint32_t mask,
                        uint32_t timeout_ms, struct client_node_status *out,
                        char errmsg[ERRMSG_LEN]);

/* Sends a fault-control rule to the members in mask (rules[i] for member
 * index i), resending until each acknowledged or timeout_ms passed. Sets bit
 * i of *acked for each member that acknowledged. Errors: ERR_IO, ERR_INVALID
 * (errmsg). */
int client_fault_send(const struct conf *conf, uint32_t mask,
                      const struct msg_fault *rules, uint32_t timeout_ms,
                      uint32_t *acked, char errmsg[ERRMSG_LEN]);

/* What one member said to a check query (MSG_CHECK). */
struct client_node_check {
    bool answered;                /* A done or damaged reply came. */
    struct msg_check_reply reply; /* Valid when answered. */
};

/* Asks the members in mask for the digest of their kv table, resending
 * every ~100 ms while they answer busy, until each gave a done or damaged
 * reply or timeout_ms passed; out[i] for every member index i. Errors:
 * ERR_NOMEM, ERR_IO, ERR_INVALID (errmsg). */
int client_check_query(const struct conf *conf, uint32_t mask,
                       uint32_t timeout_ms, struct client_node_check *out,
                       char errmsg[ERRMSG_LEN]);

#endif
