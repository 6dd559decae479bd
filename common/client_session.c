/*
 * Client sessions (common/client_session.h). A session sends its request to
 * the member it believes leads, follows leader hints, moves on to the next
 * member when an attempt times out (doubling the attempt timeout and
 * skipping members that timed out recently), and resends the same
 * (client_id, seq) until the overall deadline: the leader's session table
 * makes a retried write apply once. Sessions never block; client_call()
 * drives one with poll(). Read common/client_query.h next.
 */
#include "common/client_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/command.h"
#include "common/invariant.h"
#include "common/random.h"
#include "common/udp.h"

#define CLIENT_DRAIN_MAX 256 /* Datagrams handled per wakeup. */

int client_request_check(const struct client_request *req,
                         char errmsg[ERRMSG_LEN])
{
    ASSERT(req != NULL);
    if (req->op < CLIENT_PUT || req->op > CLIENT_CAS) {
        snprintf(errmsg, ERRMSG_LEN, "unknown operation %u", (unsigned)req->op);
        return ERR_INVALID;
    }
    if (req->key_len == 0) {
        snprintf(errmsg, ERRMSG_LEN, "the key is empty");
        return ERR_INVALID;
    }
    if (req->key_len > RAFT_KEY_MAX) {
        snprintf(errmsg, ERRMSG_LEN, "key is %lu bytes; the limit is %d",
                 (unsigned long)req->key_len, RAFT_KEY_MAX);
        return ERR_TOO_BIG;
    }
    if (req->value_len > RAFT_VALUE_MAX) {
        snprintf(errmsg, ERRMSG_LEN, "value is %lu bytes; the limit is %d",
                 (unsigned long)req->value_len, RAFT_VALUE_MAX);
        return ERR_TOO_BIG;
    }
    if (req->expected_len > RAFT_VALUE_MAX) {
        snprintf(errmsg, ERRMSG_LEN,
                 "expected value is %lu bytes; the limit is %d",
                 (unsigned long)req->expected_len, RAFT_VALUE_MAX);
        return ERR_TOO_BIG;
    }
    /* A write becomes one log entry, and one entry must fit one datagram:
     * a CAS with a large key and two large values can exceed that. */
    struct command cmd = {.op = COMMAND_OP_PUT,
                          .key_len = req->key_len,
                          .value_len = req->value_len,
                          .expected_len = req->expected_len};
    size_t size = command_encoded_size(&cmd);
    if (req->op != CLIENT_GET && size > RAFT_ENTRY_MAX) {
        snprintf(errmsg, ERRMSG_LEN,
                 "key and values together take %lu bytes; one write holds "
                 "at most %d",
                 (unsigned long)size, RAFT_ENTRY_MAX);
        return ERR_TOO_BIG;
    }
    return ERR_OK;
}

/* Draws a fresh random nonce (never 0, which would look like "no
 * client") into client_id: the id of a register request, or of reads
 * before a session. Without randomness, mixes the last one instead.
 * Errors: ERR_IO (no randomness and no id yet). */
static int draw_nonce(struct client_session *s)
{
    uint64_t id = 0;
    for (int tries = 0; tries < 4 && id == 0; tries++) {
        if (random_bytes(&id, sizeof(id)) != ERR_OK) {
            id = 0;
            break;
        }
    }
    for (uint64_t x = s->client_id; id == 0 && x != 0;) {
        x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull + 0x9e3779b97f4a7c15ull;
        id = x;
    }
    if (id == 0) {
        return ERR_IO;
    }
    s->client_id = id;
    return ERR_OK;
}

int client_session_init(struct client_session *s, const struct conf *conf,
                        int fd, char errmsg[ERRMSG_LEN])
{
    ASSERT(s != NULL);
    ASSERT(conf != NULL);
    ASSERT(conf->n_members <= RAFT_NODES_MAX);
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    if (conf->n_members == 0) {
        snprintf(errmsg, ERRMSG_LEN, "the cluster has no members");
        return ERR_INVALID;
    }
    struct raft_addr addrs[RAFT_NODES_MAX];
    int rc = udp_resolve_members(conf, addrs, errmsg);
    if (rc != ERR_OK) {
        return rc;
    }
    for (uint32_t i = 0; i < conf->n_members; i++) {
        s->members[i].id = conf->members[i].id;
        s->members[i].addr = addrs[i];
    }
    s->n_members = conf->n_members;
    s->cluster_id = conf->cluster_id;
    if (draw_nonce(s) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "cannot draw a client id");
        return ERR_IO;
    }
    /* Spread sessions over the members until they learn the leader. */
    s->leader = (uint32_t)(s->client_id % s->n_members);
    s->value = malloc(RAFT_VALUE_MAX);
    if (s->value == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        return ERR_NOMEM;
    }
    s->state = CLIENT_STATE_IDLE;
    s->err = ERR_OK;
    return ERR_OK;
}

void client_session_close(struct client_session *s)
{
    if (s == NULL) {
        return;
    }
    free(s->value);
    s->value = NULL;
}

/* Did member i time out recently (skip it for now)? */
static bool is_suspect(const struct client_session *s, uint32_t i,
                       uint64_t now_ms)
{
    return s->members[i].suspect_until_ms > now_ms;
}

/* The first member after `from` (cyclically) that did not time out
 * recently; from + 1 when every member did. */
static uint32_t next_member(const struct client_session *s, uint32_t from,
                            uint64_t now_ms)
{
    ASSERT(s->n_members > 0);
    for (uint32_t k = 1; k <= s->n_members; k++) {
        uint32_t i = (from + k) % s->n_members;
        if (!is_suspect(s, i, now_ms)) {
            return i;
        }
    }
    return (from + 1) % s->n_members;
}

/* Index of member id, or n_members when it is not a member. */
static uint32_t member_index(const struct client_session *s, raft_id id)
{
    for (uint32_t i = 0; i < s->n_members; i++) {
        if (s->members[i].id == id) {
            return i;
        }
    }
    return s->n_members;
}

/* The smaller of a and b. */
static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The current request's key and values into msg. */
static void encode_request(const struct client_session *s, struct raft_msg *msg)
{
    msg->u.client.key = s->req.key;
    msg->u.client.key_len = s->req.key_len;
    msg->u.client.value = s->req.value;
    msg->u.client.value_len = s->req.value_len;
    msg->u.client.expected = s->req.expected;
    msg->u.client.expected_len = s->req.expected_len;
}

/* Encodes the current request for members[target] and sends it; a lost or
 * refused datagram is handled like any loss, by the attempt timeout. */
static void send_attempt(struct client_session *s, uint64_t now_ms)
{
    ASSERT(s->state != CLIENT_STATE_IDLE);
    ASSERT(s->target < s->n_members);
    struct raft_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.type = MSG_CLIENT;
    msg.from = RAFT_ID_NONE;
    msg.to = s->members[s->target].id;
    msg.term = 0;
    msg.u.client.client_id = s->client_id;
    msg.u.client.seq = s->seq;
    msg.u.client.op = s->is_registering ? CLIENT_REGISTER : s->req.op;
    if (!s->is_registering) {
        encode_request(s, &msg);
    }
    uint8_t buf[RAFT_DATAGRAM_MAX];
    size_t len = 0;
    if (wire_encode(&msg, s->cluster_id, buf, sizeof(buf), &len) != ERR_OK) {
        /* Nothing sent: the attempt times out and moves on. */
    } else if (s->outbox != NULL) {
        outbox_add(s->outbox, &s->members[s->target].addr, buf, len);
    } else {
        /* ERR_AGAIN / ERR_IO: the attempt times out and moves on. */
        (void)udp_send(s->fd, &s->members[s->target].addr, buf, len);
    }
    s->n_sends++;
    s->state = CLIENT_STATE_WAITING;
    s->next_ms = min_u64(now_ms + s->attempt_ms, s->deadline_ms);
}

/* Ends the current request with this outcome. */
static void complete(struct client_session *s, int err, uint8_t status)
{
    s->state = CLIENT_STATE_IDLE;
    s->err = err;
    s->status = status;
    s->next_ms = UINT64_MAX;
    memset(&s->req, 0, sizeof(s->req));
}

/* Pause, then send to `target` again (no leader known, or busy). */
static void backoff(struct client_session *s, uint64_t now_ms)
{
    s->state = CLIENT_STATE_BACKOFF;
    s->n_hops = 0;
    s->next_ms = min_u64(now_ms + CLIENT_BACKOFF_MS, s->deadline_ms);
}

/* The current request first registers a session: a fresh nonce and seq 0
 * name the register request (a nonce is never reused, so its answer cannot
 * be taken for another's). */
static void start_register(struct client_session *s)
{
    s->session_id = 0;
    (void)draw_nonce(s); /* It has an id: cannot fail. */
    s->seq = 0;
    s->is_registering = true;
}

/* The register request was answered with the session's id: the request
 * goes out in it, with seq 1, as if sent for the first time. Returns false
 * for an answer that is not an id. */
static bool on_registered(struct client_session *s,
                          const struct msg_client_reply *reply,
                          uint64_t now_ms)
{
    uint64_t id = 0;
    if (reply->value_len != 8) {
        return false;
    }
    for (int k = 0; k < 8; k++) {
        id |= (uint64_t)reply->value[k] << (8 * k);
    }
    if (id == 0) {
        return false;
    }
    s->is_registering = false;
    s->session_id = id;
    s->client_id = id;
    s->seq = 1;
    s->n_registers++;
    s->n_sends = 0;
    s->n_hops = 0;
    s->attempt_ms = CLIENT_ATTEMPT_MS_MIN;
    send_attempt(s, now_ms);
    return true;
}

int client_session_start(struct client_session *s,
                         const struct client_request *req, uint32_t timeout_ms,
                         uint64_t now_ms)
{
    ASSERT(s != NULL);
    ASSERT(s->value != NULL);
    char errmsg[ERRMSG_LEN];
    int rc = client_request_check(req, errmsg);
    if (rc != ERR_OK) {
        return rc;
    }
    if (s->state != CLIENT_STATE_IDLE) {
        return ERR_AGAIN;
    }
    bool is_write = req->op != CLIENT_GET;
    s->is_renewed = false;
    s->no_space_mask = 0;
    s->n_no_space = 0;
    s->no_space_id = RAFT_ID_NONE;
    s->seq++;
    s->req = *req;
    s->deadline_ms = now_ms + timeout_ms;
    s->attempt_ms = CLIENT_ATTEMPT_MS_MIN;
    s->n_sends = 0;
    s->n_hops = 0;
    s->started_us = clock_now_us();
    s->err = ERR_TIMEOUT;
    s->status = CLIENT_RETRY;
    s->value_len = 0;
    s->target = s->leader;
    if (is_suspect(s, s->target, now_ms)) {
        s->target = next_member(s, s->target, now_ms);
    }
    s->state = CLIENT_STATE_WAITING;
    if (is_write && s->session_id == 0) {
        start_register(s);
    }
    send_attempt(s, now_ms);
    return ERR_OK;
}

void client_session_resume(struct client_session *s, uint64_t id,
                           uint64_t seq)
{
    ASSERT(s != NULL);
    ASSERT(id != 0 && seq != 0);
    s->session_id = id;
    s->client_id = id;
    s->seq = seq - 1;
    s->is_resumed = true;
}

/* A member says it is not the leader: follow its hint now when it names
 * another member that has not timed out recently, else pause and try the
 * next member. Hints are followed at most n_members times in a row, so two
 * members naming each other cannot make us spin. */
static void on_not_leader(struct client_session *s, raft_id hint,
                          uint64_t now_ms)
{
    uint32_t h = member_index(s, hint);
    if (h < s->n_members && h != s->target && !is_suspect(s, h, now_ms) &&
        s->n_hops < s->n_members) {
        s->target = h;
        s->leader = h;
        s->n_hops++;
        send_attempt(s, now_ms);
        return;
    }
    s->target = next_member(s, s->target, now_ms);
    backoff(s, now_ms);
}

/* Thesis section 6.3: the cluster evicted this session, and answers
 * instead of executing a request a second time. A new session is needed
 * either way. A write whose only attempt was this one (so none can have
 * been applied under the old session) registers one and is sent again in
 * it, once; any other write's outcome is unknown to us. (Reads carry no
 * session: a member never answers them so.) */
static void on_expired(struct client_session *s, uint64_t now_ms)
{
    bool is_resendable = s->n_sends == 1 && !s->is_renewed && !s->is_resumed;
    s->is_resumed = false;
    start_register(s);
    if (!is_resendable) {
        s->is_registering = false; /* The next write registers. */
        complete(s, ERR_OK, CLIENT_SESSION_EXPIRED);
        return;
    }
    s->is_renewed = true;
    s->n_sends = 0;
    s->attempt_ms = CLIENT_ATTEMPT_MS_MIN;
    send_attempt(s, now_ms);
}

bool client_session_on_reply(struct client_session *s, raft_id from,
                             const struct msg_client_reply *reply,
                             uint64_t now_ms)
{
    ASSERT(s != NULL);
    ASSERT(reply != NULL);
    if (s->state == CLIENT_STATE_IDLE || reply->client_id != s->client_id ||
        reply->seq != s->seq) {
        return false;
    }
    uint32_t sender = member_index(s, from);
    switch (reply->status) {
    case CLIENT_OK:
    case CLIENT_NOT_FOUND:
    case CLIENT_CAS_MISMATCH:
        if (reply->value_len > RAFT_VALUE_MAX) {
            return true; /* The codec bounds this; never trust it blindly. */
        }
        if (sender < s->n_members) {
            s->leader = sender;
            s->members[sender].suspect_until_ms = 0;
        }
        if (s->is_registering) {
            if (reply->status != CLIENT_OK || !on_registered(s, reply, now_ms)) {
                complete(s, ERR_INVALID, CLIENT_INVALID);
            }
            return true;
        }
        s->is_resumed = false;
        if (reply->value_len > 0) {
            memcpy(s->value, reply->value, reply->value_len);
        }
        s->value_len = reply->value_len;
        complete(s, ERR_OK, reply->status);
        return true;
    case CLIENT_INVALID:
        complete(s, ERR_INVALID, reply->status);
        return true;
    case CLIENT_SESSION_EXPIRED:
        if (s->is_registering) {
            return true; /* Not an answer to a register request. */
        }
        on_expired(s, now_ms);
        return true;
    case CLIENT_NO_SPACE:
        if (sender >= s->n_members) {
            return true;
        }
        s->no_space_mask |= 1u << sender;
        s->n_no_space++;
        s->no_space_id = from;
        /* A member with a full disk takes no part (docs/DISK.md), so once
         * a majority says so nothing can commit: the others only time
         * out (a leader that lost its quorum steps down). */
        if ((uint32_t)__builtin_popcount(s->no_space_mask) > s->n_members / 2) {
            complete(s, ERR_NO_SPACE, CLIENT_NO_SPACE);
            return true;
        }
        break;
    case CLIENT_NOT_LEADER:
    case CLIENT_RETRY:
        break;
    default:
        return true; /* Unknown status: wait for a better answer. */
    }
    /* Only the member we are waiting for may redirect us; late answers
     * from earlier attempts would make us send twice. */
    if (s->state != CLIENT_STATE_WAITING || sender != s->target) {
        return true;
    }
    s->members[sender].suspect_until_ms = 0;
    s->attempt_ms = CLIENT_ATTEMPT_MS_MIN;
    if (reply->status == CLIENT_NOT_LEADER) {
        on_not_leader(s, reply->leader_hint, now_ms);
    } else if (reply->status == CLIENT_NO_SPACE) {
        on_not_leader(s, RAFT_ID_NONE, now_ms); /* Another member. */
    } else {
        backoff(s, now_ms); /* Leader busy or just lost: same member. */
    }
    return true;
}

void client_session_on_timeout(struct client_session *s, uint64_t now_ms)
{
    ASSERT(s != NULL);
    if (s->state == CLIENT_STATE_IDLE) {
        return;
    }
    if (now_ms >= s->deadline_ms) {
        complete(s, ERR_TIMEOUT, CLIENT_RETRY);
        return;
    }
    if (now_ms < s->next_ms) {
        return;
    }
    if (s->state == CLIENT_STATE_WAITING) {
        /* No answer from target: it may be down or partitioned. */
        s->members[s->target].suspect_until_ms = now_ms + CLIENT_SUSPECT_MS;
        s->attempt_ms = s->attempt_ms * 2 > CLIENT_ATTEMPT_MS_MAX
                            ? CLIENT_ATTEMPT_MS_MAX
                            : s->attempt_ms * 2;
        s->target = next_member(s, s->target, now_ms);
        s->n_hops = 0;
    }
    send_attempt(s, now_ms);
}

uint64_t client_session_next_ms(const struct client_session *s)
{
    return s->state == CLIENT_STATE_IDLE ? UINT64_MAX : s->next_ms;
}

bool client_session_done(const struct client_session *s)
{
    return s->state == CLIENT_STATE_IDLE;
}

uint32_t client_each_reply(const uint8_t *buf, size_t len, uint64_t cluster_id,
                           struct wire_scratch *scratch,
                           void (*fn)(void *ctx, raft_id from,
                                      const struct msg_client_reply *reply),
                           void *ctx)
{
    struct raft_msg msg;
    if (wire_decode(buf, len, cluster_id, &msg, scratch) != ERR_OK) {
        return 0;
    }
    if (msg.type == MSG_CLIENT_REPLY) {
        fn(ctx, msg.from, &msg.u.client_reply);
        return 1;
    }
    if (msg.type != MSG_CLIENT_BATCH) {
        return 0;
    }
    uint32_t n = 0;
    uint32_t pos = 0;
    const uint8_t *item;
    uint32_t item_len;
    while (wire_batch_next(&msg.u.batch, &pos, &item, &item_len)) {
        struct raft_msg inner;
        if (wire_decode(item, item_len, cluster_id, &inner, scratch) ==
                ERR_OK &&
            inner.type == MSG_CLIENT_REPLY) {
            fn(ctx, inner.from, &inner.u.client_reply);
            n++;
        }
    }
    return n;
}

/* What client_drain's callback needs. */
struct drain_ctx {
    struct client_session *const *sessions;
    uint32_t n;
    uint64_t now_ms;
    uint32_t matched;
};

static void drain_one(void *ctx, raft_id from,
                      const struct msg_client_reply *reply)
{
    struct drain_ctx *d = ctx;
    for (uint32_t i = 0; i < d->n; i++) {
        if (d->sessions[i]->client_id == reply->client_id) {
            d->matched +=
                client_session_on_reply(d->sessions[i], from, reply, d->now_ms);
            return;
        }
    }
}

uint32_t client_drain(int fd, struct client_session *const *sessions,
                      uint32_t n, uint8_t *buf, struct wire_scratch *scratch,
                      uint64_t now_ms)
{
    ASSERT(n > 0);
    struct drain_ctx d = {sessions, n, now_ms, 0};
    for (int k = 0; k < CLIENT_DRAIN_MAX; k++) {
        size_t len = 0;
        struct raft_addr from;
        int rc = udp_recv(fd, buf, RAFT_DATAGRAM_MAX, &len, &from);
        if (rc == ERR_AGAIN || rc == ERR_IO) {
            break;
        }
        if (rc != ERR_OK) {
            continue; /* Oversized: dropped. */
        }
        (void)client_each_reply(buf, len, sessions[0]->cluster_id, scratch,
                                drain_one, &d);
    }
    return d.matched;
}

int client_open(struct client *c, const struct conf *conf,
                char errmsg[ERRMSG_LEN])
{
    ASSERT(c != NULL);
    ASSERT(conf != NULL);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    struct raft_addr first;
    int rc;
    if (conf->n_members == 0) {
        snprintf(errmsg, ERRMSG_LEN, "the cluster has no members");
        return ERR_INVALID;
    }
    rc = udp_resolve(conf->members[0].host, conf->members[0].port, &first,
                     errmsg);
    if (rc == ERR_OK) {
        rc = udp_open_client(&first, &c->fd, errmsg);
    }
    if (rc != ERR_OK) {
        return rc;
    }
    c->buf = malloc(RAFT_DATAGRAM_MAX);
    c->scratch = malloc(sizeof(*c->scratch));
    if (c->buf == NULL || c->scratch == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        client_close(c);
        return ERR_NOMEM;
    }
    rc = client_session_init(&c->session, conf, c->fd, errmsg);
    if (rc != ERR_OK) {
        client_close(c);
    }
    return rc;
}

void client_close(struct client *c)
{
    if (c == NULL) {
        return;
    }
    client_session_close(&c->session);
    free(c->buf);
    free(c->scratch);
    c->buf = NULL;
    c->scratch = NULL;
    if (c->fd >= 0) {
        udp_close(c->fd);
    }
    c->fd = -1;
}

int client_call(struct client *c, const struct client_request *req,
                uint32_t timeout_ms, uint8_t *status)
{
    ASSERT(c != NULL);
    ASSERT(c->fd >= 0);
    struct client_session *s = &c->session;
    struct client_session *const one[1] = {s};
    int rc = client_session_start(s, req, timeout_ms, clock_now_ms());
    if (rc != ERR_OK) {
        return rc;
    }
    /* Bounded: every pass either waits or advances the session, and the
     * session completes at its deadline at the latest. */
    while (!client_session_done(s)) {
        if (udp_wait_readable(c->fd, client_session_next_ms(s))) {
            (void)client_drain(c->fd, one, 1, c->buf, c->scratch,
                               clock_now_ms());
        }
        uint64_t now_ms = clock_now_ms();
        if (!client_session_done(s) && now_ms >= client_session_next_ms(s)) {
            client_session_on_timeout(s, now_ms);
        }
    }
    if (s->err == ERR_OK) {
        *status = s->status;
    }
    return s->err;
}
