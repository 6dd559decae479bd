/*
 * Status polling of the cluster's members over one UDP socket: a round
 * sends MSG_STATUS to the chosen members, member i's request carrying
 * nonce + i, and a reply counts when its nonce names member i of one of the
 * last n_rounds_kept rounds and member i sent it. The supervisor, the
 * dashboard and the one-shot query (common/client_query.c) all poll through
 * it. Never blocks: the caller's loop polls the socket and says when to
 * send. Read common/status_poll.c next.
 */
#ifndef RAFT_COMMON_STATUS_POLL_H
#define RAFT_COMMON_STATUS_POLL_H

#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/msg.h"
#include "common/types.h"
#include "common/wire.h"

struct status_poll {
    const struct conf *conf;                /* Borrowed; outlives the poll. */
    int fd;                                 /* Owned socket; -1 when closed. */
    struct raft_addr addrs[RAFT_NODES_MAX]; /* Member i's address. */
    uint64_t nonce;         /* This round's base; random at first. */
    uint32_t n_rounds_kept; /* Answers to this many latest rounds count. */
    uint8_t *buf;           /* Owned, RAFT_DATAGRAM_MAX bytes. */
    struct wire_scratch *scratch; /* Owned decode scratch. */
};

/* Receives one matched answer: member index i, its header term and reply
 * (borrowed; valid during the call). */
typedef void (*status_poll_cb)(void *ctx, uint32_t i, raft_term term,
                               const struct msg_status_reply *reply);

/* Opens the socket for conf's members (borrowed), whose resolved addresses
 * are addrs[0..n_members) (copied), and draws the first nonce. On failure
 * everything is released and p->fd is -1. Errors: ERR_NOMEM, ERR_IO,
 * ERR_BUSY (errmsg). */
int status_poll_init(struct status_poll *p, const struct conf *conf,
                     const struct raft_addr *addrs, uint32_t n_rounds_kept,
                     char errmsg[ERRMSG_LEN]);
/* Releases everything; fine after a failed init and on a zeroed struct
 * whose fd was set to -1. */
void status_poll_close(struct status_poll *p);

/* Starts a new round: later sends carry its nonces, and answers to rounds
 * older than the last n_rounds_kept no longer count. */
void status_poll_next_round(struct status_poll *p);

/* Sends this round's request to each member whose bit (1 << index) is set
 * in mask; sending again resends the same nonces. Returns how many
 * datagrams left (a lost one is the caller's to resend). */
uint32_t status_poll_send(const struct status_poll *p, uint32_t mask);

/* Receives what is waiting on p->fd and hands each answer that matches a
 * kept round to fn; everything else is dropped. Returns how many were
 * handed over. */
uint32_t status_poll_recv(struct status_poll *p, status_poll_cb fn, void *ctx);

#endif
