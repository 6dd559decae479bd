/*
 * The one-shot queries of common/client_query.h. Both run one resend loop:
 * send to every member still to answer, wait for the socket or the next
 * resend, take the answers, until all answered or the deadline. The status
 * query sends and matches through common/status_poll.c; the fault query
 * sends each member its rule and takes its sender's acknowledgement.
 * The last file of the client library; launcher/main.c is where raftctl
 * starts.
 */
#include "common/client_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/invariant.h"
#include "common/status_poll.h"
#include "common/udp.h"
#include "common/wire.h"

#define CLIENT_QUERY_RESEND_MS 100
#define CLIENT_QUERY_RECV_MAX 256 /* Datagrams handled per wakeup. */

/* The resend-until-answered loop of the one-shot queries: the status and
 * fault queries differ only in what they send and how they take answers. */
struct query {
    int fd;
    uint32_t mask;                 /* Members still to answer. */
    void (*send)(struct query *q); /* To every member in mask. */
    void (*recv)(struct query *q); /* Clears the bit of each answer. */
    void *ctx;
};

/* Sends, resends every CLIENT_QUERY_RESEND_MS and collects answers until
 * all answered or timeout_ms passed. */
static void query_run(struct query *q, uint32_t timeout_ms)
{
    uint64_t deadline_ms = clock_now_ms() + timeout_ms;
    uint64_t resend_ms = 0;
    /* Bounded by the deadline: every pass waits at most until it. */
    for (;;) {
        uint64_t now_ms = clock_now_ms();
        if (q->mask == 0 || now_ms >= deadline_ms) {
            return;
        }
        if (now_ms >= resend_ms) {
            q->send(q);
            resend_ms = now_ms + CLIENT_QUERY_RESEND_MS;
        }
        if (udp_wait_readable(q->fd, resend_ms < deadline_ms ? resend_ms
                                                             : deadline_ms)) {
            q->recv(q);
        }
    }
}

/* What a status query's callbacks need. */
struct status_ctx {
    struct status_poll poll;
    struct client_node_status *out;
};

static void status_send(struct query *q)
{
    struct status_ctx *st = q->ctx;
    (void)status_poll_send(&st->poll, q->mask); /* Loss: resent. */
}

/* A matched answer of member i: record it once. */
static void status_on_answer(void *ctx, uint32_t i, raft_term term,
                             const struct msg_status_reply *reply)
{
    struct query *q = ctx;
    struct status_ctx *st = q->ctx;
    if ((q->mask & (1u << i)) == 0) {
        return;
    }
    st->out[i].alive = true;
    st->out[i].term = term;
    st->out[i].reply = *reply;
    q->mask &= ~(1u << i);
}

static void status_recv(struct query *q)
{
    struct status_ctx *st = q->ctx;
    (void)status_poll_recv(&st->poll, status_on_answer, q);
}

int client_status_query(const struct conf *conf, uint32_t mask,
                        uint32_t timeout_ms, struct client_node_status *out,
                        char errmsg[ERRMSG_LEN])
{
    ASSERT(conf != NULL);
    ASSERT(out != NULL);
    ASSERT(conf->n_members <= RAFT_NODES_MAX);
    memset(out, 0, sizeof(*out) * conf->n_members);
    if (conf->n_members == 0) {
        return ERR_OK;
    }
    struct raft_addr addrs[RAFT_NODES_MAX];
    int rc = udp_resolve_members(conf, addrs, errmsg);
    if (rc != ERR_OK) {
        return rc;
    }
    struct status_ctx st = {.out = out};
    rc = status_poll_init(&st.poll, conf, addrs, 1, errmsg);
    if (rc != ERR_OK) {
        return rc;
    }
    struct query q = {.fd = st.poll.fd,
                      .mask = mask & ((1u << conf->n_members) - 1u),
                      .send = status_send,
                      .recv = status_recv,
                      .ctx = &st};
    query_run(&q, timeout_ms);
    status_poll_close(&st.poll);
    return ERR_OK;
}

/* What a fault or check query's callbacks need. */
struct fault_ctx {
    const struct conf *conf;
    const struct msg_fault *rules; /* rules[i] for member i; NULL: check. */
    struct raft_addr addrs[RAFT_NODES_MAX];
    uint8_t *buf;
    struct wire_scratch *scratch;
    uint32_t acked;
    struct client_node_check *checks; /* A check query's answers. */
};

/* Member i's fault rule (or a check request) to every member still to
 * answer. */
static void fault_send(struct query *q)
{
    const struct fault_ctx *f = q->ctx;
    for (uint32_t i = 0; i < f->conf->n_members; i++) {
        if ((q->mask & (1u << i)) == 0) {
            continue;
        }
        struct raft_msg msg;
        memset(&msg, 0, sizeof(msg));
        msg.type = f->rules != NULL ? MSG_FAULT : MSG_CHECK;
        msg.from = RAFT_ID_NONE;
        msg.to = f->conf->members[i].id;
        if (f->rules != NULL) {
            msg.u.fault = f->rules[i];
        } else {
            msg.u.check.nonce = i;
        }
        uint8_t buf[1024];
        size_t len = 0;
        if (wire_encode(&msg, f->conf->cluster_id, buf, sizeof(buf), &len) ==
            ERR_OK) {
            (void)udp_send(q->fd, &f->addrs[i], buf, len); /* Loss: resent. */
        }
    }
}

/* Takes the fault replies waiting: each answers its sender, acknowledged
 * when ok. */
static void fault_recv(struct query *q)
{
    struct fault_ctx *f = q->ctx;
    for (int k = 0; k < CLIENT_QUERY_RECV_MAX; k++) {
        size_t len = 0;
        struct raft_addr from;
        int rc = udp_recv(q->fd, f->buf, RAFT_DATAGRAM_MAX, &len, &from);
        if (rc == ERR_AGAIN || rc == ERR_IO) {
            return;
        }
        struct raft_msg msg;
        uint8_t want = f->rules != NULL ? MSG_FAULT_REPLY : MSG_CHECK_REPLY;
        if (rc != ERR_OK ||
            wire_decode(f->buf, len, f->conf->cluster_id, &msg, f->scratch) !=
                ERR_OK ||
            msg.type != want) {
            continue;
        }
        int i = conf_member_index(f->conf, msg.from);
        if (i < 0 || (q->mask & (1u << i)) == 0) {
            continue;
        }
        if (want == MSG_CHECK_REPLY) {
            if (msg.u.check_reply.state == CHECK_BUSY) {
                continue; /* Asked again at the next resend. */
            }
            f->checks[i].answered = true;
            f->checks[i].reply = msg.u.check_reply;
        } else if (msg.u.fault_reply.ok) {
            f->acked |= 1u << i;
        }
        q->mask &= ~(1u << i);
    }
}

/* The fault and check queries' loop over one client socket. */
static int fault_query(struct fault_ctx *f, uint32_t mask, uint32_t timeout_ms,
                       char errmsg[ERRMSG_LEN])
{
    const struct conf *conf = f->conf;
    struct query q = {.fd = -1,
                      .mask = mask & ((1u << conf->n_members) - 1u),
                      .send = fault_send,
                      .recv = fault_recv,
                      .ctx = f};
    int rc = ERR_NOMEM;
    f->buf = malloc(RAFT_DATAGRAM_MAX);
    f->scratch = malloc(sizeof(*f->scratch));
    if (f->buf == NULL || f->scratch == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        goto out;
    }
    rc = udp_resolve_members(conf, f->addrs, errmsg);
    if (rc == ERR_OK && conf->n_members > 0) {
        rc = udp_open_client(&f->addrs[0], &q.fd, errmsg);
    }
    if (rc != ERR_OK) {
        goto out;
    }
    if (conf->n_members > 0) {
        query_run(&q, timeout_ms);
    }
out:
    if (q.fd >= 0) {
        udp_close(q.fd);
    }
    free(f->scratch);
    free(f->buf);
    return rc;
}

int client_fault_send(const struct conf *conf, uint32_t mask,
                      const struct msg_fault *rules, uint32_t timeout_ms,
                      uint32_t *acked, char errmsg[ERRMSG_LEN])
{
    ASSERT(conf != NULL);
    ASSERT(rules != NULL);
    ASSERT(conf->n_members <= RAFT_NODES_MAX);
    *acked = 0;
    if (auth_enabled() && !auth_holds(AUTH_CLUSTER)) {
        snprintf(errmsg, ERRMSG_LEN,
                 "fault control, compact and membership changes need "
                 "cluster.key, and this user holds only client.key "
                 "(docs/AUTH.md)");
        return ERR_INVALID;
    }
    struct fault_ctx f = {.conf = conf, .rules = rules, .acked = 0};
    int rc = fault_query(&f, mask, timeout_ms, errmsg);
    *acked = f.acked;
    return rc;
}

int client_check_query(const struct conf *conf, uint32_t mask,
                       uint32_t timeout_ms, struct client_node_check *out,
                       char errmsg[ERRMSG_LEN])
{
    ASSERT(conf != NULL);
    ASSERT(out != NULL);
    ASSERT(conf->n_members <= RAFT_NODES_MAX);
    memset(out, 0, sizeof(*out) * conf->n_members);
    struct fault_ctx f = {.conf = conf, .rules = NULL, .checks = out};
    return fault_query(&f, mask, timeout_ms, errmsg);
}
