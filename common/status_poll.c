/*
 * The status poll of common/status_poll.h. A round's nonces are nonce ..
 * nonce + RAFT_NODES_MAX - 1, one per member index, and each new round adds
 * RAFT_NODES_MAX, so the kept rounds form one window of nonces and a reply's
 * offset in that window names both its round and its member. The first
 * nonce is random, so a reused port cannot match a previous poller's
 * answers. Read common/client_session.h next.
 */
#include "common/status_poll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"
#include "common/random.h"
#include "common/udp.h"

#define STATUS_POLL_RECV_MAX 256 /* Datagrams handled per call. */

int status_poll_init(struct status_poll *p, const struct conf *conf,
                     const struct raft_addr *addrs, uint32_t n_rounds_kept,
                     char errmsg[ERRMSG_LEN])
{
    ASSERT(conf != NULL);
    ASSERT(conf->n_members > 0);
    ASSERT(conf->n_members <= RAFT_NODES_MAX);
    ASSERT(n_rounds_kept > 0);
    memset(p, 0, sizeof(*p));
    p->fd = -1;
    p->conf = conf;
    p->n_rounds_kept = n_rounds_kept;
    memcpy(p->addrs, addrs, sizeof(p->addrs[0]) * conf->n_members);
    int rc = ERR_NOMEM;
    p->buf = malloc(RAFT_DATAGRAM_MAX);
    p->scratch = malloc(sizeof(*p->scratch));
    if (p->buf == NULL || p->scratch == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        goto fail;
    }
    rc = udp_open_client(&p->addrs[0], &p->fd, errmsg);
    if (rc != ERR_OK) {
        goto fail;
    }
    rc = random_bytes(&p->nonce, sizeof(p->nonce));
    if (rc != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "cannot read random bytes");
        goto fail;
    }
    return ERR_OK;
fail:
    status_poll_close(p);
    return rc;
}

void status_poll_close(struct status_poll *p)
{
    if (p->fd >= 0) {
        udp_close(p->fd);
    }
    p->fd = -1;
    free(p->scratch);
    free(p->buf);
    p->scratch = NULL;
    p->buf = NULL;
}

void status_poll_next_round(struct status_poll *p)
{
    p->nonce += RAFT_NODES_MAX;
}

uint32_t status_poll_send(const struct status_poll *p, uint32_t mask)
{
    ASSERT(p->fd >= 0);
    uint32_t n_sent = 0;
    for (uint32_t i = 0; i < p->conf->n_members; i++) {
        if ((mask & (1u << i)) == 0) {
            continue;
        }
        struct raft_msg msg;
        memset(&msg, 0, sizeof(msg));
        msg.type = MSG_STATUS;
        msg.from = RAFT_ID_NONE;
        msg.to = p->conf->members[i].id;
        msg.u.status.nonce = p->nonce + i;
        uint8_t out[256];
        size_t len = 0;
        if (wire_encode(&msg, p->conf->cluster_id, out, sizeof(out), &len) ==
                ERR_OK &&
            udp_send(p->fd, &p->addrs[i], out, len) == ERR_OK) {
            n_sent++;
        }
    }
    return n_sent;
}

/* The member index a status reply answers, or -1 when its nonce is outside
 * the kept rounds or another member sent it. Unsigned arithmetic wraps, so
 * a window that straddles UINT64_MAX works too. */
static int status_poll_match(const struct status_poll *p,
                             const struct raft_msg *msg)
{
    uint64_t oldest =
        p->nonce - (uint64_t)RAFT_NODES_MAX * (p->n_rounds_kept - 1);
    uint64_t offset = msg->u.status_reply.nonce - oldest;
    if (offset >= (uint64_t)RAFT_NODES_MAX * p->n_rounds_kept) {
        return -1;
    }
    uint32_t i = (uint32_t)(offset % RAFT_NODES_MAX);
    if (i >= p->conf->n_members || p->conf->members[i].id != msg->from) {
        return -1;
    }
    return (int)i;
}

uint32_t status_poll_recv(struct status_poll *p, status_poll_cb fn, void *ctx)
{
    ASSERT(p->fd >= 0);
    uint32_t n_matched = 0;
    for (int k = 0; k < STATUS_POLL_RECV_MAX; k++) {
        size_t len = 0;
        struct raft_addr from;
        int rc = udp_recv(p->fd, p->buf, RAFT_DATAGRAM_MAX, &len, &from);
        if (rc == ERR_AGAIN || rc == ERR_IO) {
            break;
        }
        struct raft_msg msg;
        if (rc != ERR_OK ||
            wire_decode(p->buf, len, p->conf->cluster_id, &msg, p->scratch) !=
                ERR_OK ||
            msg.type != MSG_STATUS_REPLY) {
            continue;
        }
        int i = status_poll_match(p, &msg);
        if (i >= 0) {
            fn(ctx, (uint32_t)i, msg.term, &msg.u.status_reply);
            n_matched++;
        }
    }
    return n_matched;
}
