/*
 * Unit tests of common/client_session.c: the session state machine driven with
 * explicit times (no sleeps). Three fake members are UDP sockets on
 * loopback; what the session sends is read from them, and replies are fed
 * to client_session_on_reply() directly. Checks: retries keep the same
 * (client_id, seq), hints are followed, "no leader" backs off, timeouts
 * rotate, the deadline ends the request, limits are inclusive. Also the
 * outbox (common/outbox.c): one datagram per destination per outbox_send, a
 * batch in order, full batches split; and client_each_reply opening a
 * batch of replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/client_session.h"
#include "common/auth.h"
#include "common/outbox.h"
#include "common/udp.h"
#include "common/wire.h"

#define N_MEMBERS 3
#define CLUSTER_ID 0x1234abcdULL
#define T0 100000u /* An arbitrary start time, in ms. */

struct fixture {
    int member_fd[N_MEMBERS];
    int client_fd;
    struct conf conf;
    struct client_session s;
    uint8_t buf[RAFT_DATAGRAM_MAX];
    struct wire_scratch scratch;
    struct client_request req;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char errmsg[ERRMSG_LEN];
    f->conf.cluster_id = CLUSTER_ID;
    f->conf.n_members = N_MEMBERS;
    for (int i = 0; i < N_MEMBERS; i++) {
        assert_int_equal(udp_open(NULL, &f->member_fd[i], errmsg), ERR_OK);
        struct sockaddr_in sin;
        socklen_t len = sizeof(sin);
        assert_int_equal(
            getsockname(f->member_fd[i], (struct sockaddr *)&sin, &len), 0);
        f->conf.members[i].id = (raft_id)(i + 1);
        snprintf(f->conf.members[i].host, sizeof(f->conf.members[i].host),
                 "127.0.0.1");
        f->conf.members[i].port = ntohs(sin.sin_port);
    }
    struct raft_addr first;
    assert_int_equal(
        udp_resolve("127.0.0.1", f->conf.members[0].port, &first, errmsg),
        ERR_OK);
    assert_int_equal(udp_open_client(&first, &f->client_fd, errmsg), ERR_OK);
    assert_int_equal(client_session_init(&f->s, &f->conf, f->client_fd, errmsg),
                     ERR_OK);
    f->s.leader = 0; /* Start at member 1, whatever the random id says. */
    /* A session registered before (tests of registering clear it). */
    f->s.session_id = 42;
    f->s.client_id = 42;
    f->req.op = CLIENT_PUT;
    f->req.key = (const uint8_t *)"k";
    f->req.key_len = 1;
    f->req.value = (const uint8_t *)"v";
    f->req.value_len = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    client_session_close(&f->s);
    udp_close(f->client_fd);
    for (int i = 0; i < N_MEMBERS; i++) {
        udp_close(f->member_fd[i]);
    }
    free(f);
    return 0;
}

/* The next datagram at member i, decoded into *msg (its buffer f->buf).
 * Loopback delivery happens inside sendto(), so the poll never waits in
 * practice; its timeout only guards against a hang. */
static void recv_any(struct fixture *f, int i, struct raft_msg *msg)
{
    struct pollfd pfd = {.fd = f->member_fd[i], .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    size_t len = 0;
    struct raft_addr from;
    assert_int_equal(
        udp_recv(f->member_fd[i], f->buf, sizeof(f->buf), &len, &from), ERR_OK);
    assert_int_equal(wire_decode(f->buf, len, CLUSTER_ID, msg, &f->scratch),
                     ERR_OK);
}

/* The client request member i received; fails when there is none. */
static struct raft_msg recv_at(struct fixture *f, int i)
{
    struct raft_msg msg;
    recv_any(f, i, &msg);
    assert_int_equal(msg.type, MSG_CLIENT);
    return msg;
}

/* True when no member has a datagram waiting. */
static bool nothing_sent(struct fixture *f)
{
    for (int i = 0; i < N_MEMBERS; i++) {
        size_t len = 0;
        struct raft_addr from;
        if (udp_recv(f->member_fd[i], f->buf, sizeof(f->buf), &len, &from) !=
            ERR_AGAIN) {
            return false;
        }
    }
    return true;
}

static struct msg_client_reply reply_for(const struct client_session *s,
                                         uint8_t status, raft_id hint)
{
    struct msg_client_reply r;
    memset(&r, 0, sizeof(r));
    r.client_id = s->client_id;
    r.seq = s->seq;
    r.status = status;
    r.leader_hint = hint;
    return r;
}

/* A timed-out attempt goes to the next member with the same (client_id,
 * seq): the leader's session table relies on it to apply a write once. */
static void test_client_retry_keeps_client_id_and_seq(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    struct raft_msg first = recv_at(f, 0);
    assert_int_equal(first.to, 1);
    assert_int_not_equal(first.u.client.client_id, 0);
    uint64_t next = client_session_next_ms(&f->s);
    assert_int_equal(next, T0 + CLIENT_ATTEMPT_MS_MIN);
    client_session_on_timeout(&f->s, next - 1);
    assert_true(nothing_sent(f));
    client_session_on_timeout(&f->s, next);
    struct raft_msg second = recv_at(f, 1);
    assert_int_equal(second.to, 2);
    assert_int_equal(second.u.client.client_id, first.u.client.client_id);
    assert_int_equal(second.u.client.seq, first.u.client.seq);
    assert_int_equal(second.u.client.key_len, 1);
    assert_memory_equal(second.u.client.key, "k", 1);
    /* The attempt timeout doubles after a timeout. */
    assert_int_equal(client_session_next_ms(&f->s),
                     next + 2 * CLIENT_ATTEMPT_MS_MIN);
}

/* NOT_LEADER with a hint sends to the hinted member at once. */
static void test_client_follows_leader_hint(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    (void)recv_at(f, 0);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_NOT_LEADER, 3);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    struct raft_msg msg = recv_at(f, 2);
    assert_int_equal(msg.to, 3);
    assert_false(client_session_done(&f->s));
}

/* NOT_LEADER without a hint (an election is running): pause, then try the
 * next member, rather than spin. */
static void test_client_no_hint_backs_off(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    (void)recv_at(f, 0);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_NOT_LEADER, 0);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    assert_true(nothing_sent(f));
    assert_int_equal(client_session_next_ms(&f->s), T0 + 1 + CLIENT_BACKOFF_MS);
    client_session_on_timeout(&f->s, T0 + 1 + CLIENT_BACKOFF_MS);
    assert_int_equal(recv_at(f, 1).to, 2);
}

/* Two members naming each other as leader do not make the client send
 * without pause forever: after n_members hops it backs off. */
static void test_client_hint_loop_is_bounded(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    int at = 0;
    int sends = 0;
    for (int k = 0; k < 10; k++) {
        (void)recv_at(f, at);
        sends++;
        int other = at == 0 ? 1 : 0;
        struct msg_client_reply r =
            reply_for(&f->s, CLIENT_NOT_LEADER, (raft_id)(other + 1));
        client_session_on_reply(&f->s, (raft_id)(at + 1), &r, T0);
        if (f->s.state == CLIENT_STATE_BACKOFF) {
            break;
        }
        at = other;
    }
    assert_int_equal(f->s.state, CLIENT_STATE_BACKOFF);
    assert_true(sends <= N_MEMBERS + 1);
    assert_true(nothing_sent(f));
}

/* An answer completes the request, copies a GET value, and the next
 * request starts at the member that answered, with the next seq. */
static void test_client_answer_completes_and_remembers_leader(void **state)
{
    struct fixture *f = *state;
    f->req.op = CLIENT_GET;
    f->req.value = NULL;
    f->req.value_len = 0;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    uint64_t seq = recv_at(f, 0).u.client.seq;
    struct msg_client_reply r = reply_for(&f->s, CLIENT_OK, 0);
    r.value = (const uint8_t *)"hello";
    r.value_len = 5;
    assert_true(client_session_on_reply(&f->s, 2, &r, T0 + 3));
    assert_true(client_session_done(&f->s));
    assert_int_equal(f->s.err, ERR_OK);
    assert_int_equal(f->s.status, CLIENT_OK);
    assert_int_equal(f->s.value_len, 5);
    assert_memory_equal(f->s.value, "hello", 5);
    assert_int_equal(client_session_next_ms(&f->s), UINT64_MAX);
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0 + 4),
                     ERR_OK);
    struct raft_msg next = recv_at(f, 1);
    assert_int_equal(next.u.client.seq, seq + 1);
}

/* A late reply to an older request (or another client) is not this
 * request's answer. */
static void test_client_ignores_stale_replies(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    (void)recv_at(f, 0);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_OK, 0);
    r.seq = f->s.seq - 1;
    assert_false(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    r = reply_for(&f->s, CLIENT_OK, 0);
    r.client_id ^= 1;
    assert_false(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    assert_false(client_session_done(&f->s));
}

/* A register answer naming session id (8 bytes, little-endian). */
static struct msg_client_reply registered(const struct client_session *s,
                                          uint8_t id_bytes[8], uint64_t id)
{
    struct msg_client_reply r = reply_for(s, CLIENT_OK, 0);
    for (int k = 0; k < 8; k++) {
        id_bytes[k] = (uint8_t)(id >> (8 * k));
    }
    r.value = id_bytes;
    r.value_len = 8;
    return r;
}

/* Sessions are registered through the log (docs/SESSIONS.md): a read
 * needs none; the first write sends CLIENT_REGISTER (no key, seq 0, a
 * nonce for an id), then goes out in the session the answer names, with
 * seq 1; later writes stay in it. */
static void test_client_first_write_registers(void **state)
{
    struct fixture *f = *state;
    f->s.session_id = 0;
    f->s.client_id = 0x5eed;
    struct client_request get = {
        .op = CLIENT_GET, .key = (const uint8_t *)"k", .key_len = 1};
    assert_int_equal(client_session_start(&f->s, &get, 5000, T0), ERR_OK);
    struct raft_msg read = recv_at(f, 0);
    assert_int_equal(read.u.client.op, CLIENT_GET);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_NOT_FOUND, 0);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0 + 2),
                     ERR_OK);
    struct raft_msg reg = recv_at(f, 0);
    assert_int_equal(reg.u.client.op, CLIENT_REGISTER);
    assert_int_equal(reg.u.client.key_len, 0);
    assert_int_equal(reg.u.client.seq, 0);
    assert_int_not_equal(reg.u.client.client_id, 0);
    uint8_t id[8];
    r = registered(&f->s, id, 77);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 3));
    assert_false(client_session_done(&f->s));
    struct raft_msg write = recv_at(f, 0);
    assert_int_equal(write.u.client.op, CLIENT_PUT);
    assert_int_equal(write.u.client.client_id, 77);
    assert_int_equal(write.u.client.seq, 1);
    r = reply_for(&f->s, CLIENT_OK, 0);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 4));
    assert_true(client_session_done(&f->s));
    assert_int_equal(f->s.status, CLIENT_OK);
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0 + 5),
                     ERR_OK);
    struct raft_msg again = recv_at(f, 0);
    assert_int_equal(again.u.client.op, CLIENT_PUT);
    assert_int_equal(again.u.client.client_id, 77);
    assert_int_equal(again.u.client.seq, 2);
    assert_int_equal(f->s.n_registers, 1);
}

/* A register answer that names no session is refused, not guessed at. */
static void test_client_bad_register_answer_is_invalid(void **state)
{
    struct fixture *f = *state;
    f->s.session_id = 0;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    (void)recv_at(f, 0);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_OK, 0);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    assert_true(client_session_done(&f->s));
    assert_int_equal(f->s.err, ERR_INVALID);
}

/* Thesis 6.3: SESSION_EXPIRED for a write sent once means it was not
 * executed: the client registers a new session and sends it again in it
 * (seq 1), and the answer there is the request's answer. */
static void test_client_expired_write_sent_once_is_resent(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    struct raft_msg first = recv_at(f, 0);
    assert_int_equal(first.u.client.client_id, 42);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_SESSION_EXPIRED, 0);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    assert_false(client_session_done(&f->s));
    struct raft_msg reg = recv_at(f, 0);
    assert_int_equal(reg.u.client.op, CLIENT_REGISTER);
    uint8_t id[8];
    r = registered(&f->s, id, 99);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 2));
    struct raft_msg second = recv_at(f, 0);
    assert_int_equal(second.u.client.client_id, 99);
    assert_int_equal(second.u.client.seq, 1);
    assert_int_equal(second.u.client.value_len, 1);
    r = reply_for(&f->s, CLIENT_OK, 0);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 3));
    assert_true(client_session_done(&f->s));
    assert_int_equal(f->s.err, ERR_OK);
    assert_int_equal(f->s.status, CLIENT_OK);
}

/* A write sent more than once may have been applied under the old session
 * before its eviction: its outcome is unknown, and the request completes
 * with SESSION_EXPIRED (raftctl exits 3); the next write registers a new
 * session first. */
static void test_client_expired_write_resent_is_unknown(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    (void)recv_at(f, 0);
    client_session_on_timeout(&f->s, client_session_next_ms(&f->s));
    (void)recv_at(f, 1);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_SESSION_EXPIRED, 0);
    assert_true(client_session_on_reply(&f->s, 2, &r, T0 + 600));
    assert_true(client_session_done(&f->s));
    assert_int_equal(f->s.err, ERR_OK);
    assert_int_equal(f->s.status, CLIENT_SESSION_EXPIRED);
    assert_true(nothing_sent(f));
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0 + 700),
                     ERR_OK);
    struct raft_msg next = recv_at(f, (int)f->s.target);
    assert_int_equal(next.u.client.op, CLIENT_REGISTER);
}

/* RAFTCTL_RESUME's hook: the request goes out in the given session with
 * the given seq, and, being possibly a retry of an applied write, is not
 * sent again in a new session when expired, even if sent once. */
static void test_client_resumed_write_expired_is_unknown(void **state)
{
    struct fixture *f = *state;
    client_session_resume(&f->s, 5, 3);
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    struct raft_msg msg = recv_at(f, 0);
    assert_int_equal(msg.u.client.client_id, 5);
    assert_int_equal(msg.u.client.seq, 3);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_SESSION_EXPIRED, 0);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    assert_true(client_session_done(&f->s));
    assert_int_equal(f->s.status, CLIENT_SESSION_EXPIRED);
    assert_true(nothing_sent(f));
}

/* The overall deadline ends the request with ERR_TIMEOUT (a write's outcome
 * is then unknown), even in the middle of an attempt. */
static void test_client_deadline_gives_timeout(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 100, T0), ERR_OK);
    (void)recv_at(f, 0);
    assert_int_equal(client_session_next_ms(&f->s), T0 + 100);
    client_session_on_timeout(&f->s, T0 + 100);
    assert_true(client_session_done(&f->s));
    assert_int_equal(f->s.err, ERR_TIMEOUT);
}

/* A full disk takes a member out (docs/DISK.md): once a majority of the
 * members answered NO_SPACE nothing can commit, so the call ends with
 * ERR_NO_SPACE rather than waiting for the one member left, which can
 * only time out. One such answer alone only sends it elsewhere. */
static void test_client_majority_no_space_ends_the_call(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    (void)recv_at(f, 0);
    struct msg_client_reply r = reply_for(&f->s, CLIENT_NO_SPACE, 0);
    assert_true(client_session_on_reply(&f->s, 1, &r, T0 + 1));
    assert_false(client_session_done(&f->s));
    client_session_on_timeout(&f->s, client_session_next_ms(&f->s));
    assert_int_equal(recv_at(f, 1).to, 2);
    assert_true(client_session_on_reply(&f->s, 2, &r, T0 + 2));
    assert_true(client_session_done(&f->s));
    assert_int_equal(f->s.err, ERR_NO_SPACE);
    assert_int_equal(f->s.no_space_id, 2);
}

/* A member that timed out is skipped by the next request for a while. */
static void test_client_skips_member_that_timed_out(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    (void)recv_at(f, 0);
    client_session_on_timeout(&f->s, T0 + CLIENT_ATTEMPT_MS_MIN);
    (void)recv_at(f, 1);
    /* Member 2 answers NOT_LEADER naming member 1, which just timed out. */
    struct msg_client_reply r = reply_for(&f->s, CLIENT_NOT_LEADER, 1);
    client_session_on_reply(&f->s, 2, &r, T0 + CLIENT_ATTEMPT_MS_MIN + 1);
    assert_true(nothing_sent(f));
    client_session_on_timeout(&f->s, client_session_next_ms(&f->s));
    assert_int_equal(recv_at(f, 2).to, 3);
}

/* Limits are inclusive: 1024-byte keys and 32768-byte values pass, one
 * byte more is refused before anything is sent. */
static void test_client_limits_are_inclusive(void **state)
{
    struct fixture *f = *state;
    static uint8_t big[RAFT_VALUE_MAX + 1];
    char errmsg[ERRMSG_LEN];
    f->req.key = big;
    f->req.key_len = RAFT_KEY_MAX;
    f->req.value = big;
    f->req.value_len = RAFT_VALUE_MAX;
    assert_int_equal(client_request_check(&f->req, errmsg), ERR_OK);
    f->req.key_len = RAFT_KEY_MAX + 1;
    assert_int_equal(client_request_check(&f->req, errmsg), ERR_TOO_BIG);
    assert_non_null(strstr(errmsg, "1025 bytes"));
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0),
                     ERR_TOO_BIG);
    f->req.key_len = 1;
    f->req.value_len = RAFT_VALUE_MAX + 1;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0),
                     ERR_TOO_BIG);
    /* A CAS whose key and two values each fit, but not together in one
     * log entry (one datagram), is refused too, never sent. */
    f->req.op = CLIENT_CAS;
    f->req.key_len = RAFT_KEY_MAX;
    f->req.value_len = RAFT_VALUE_MAX;
    f->req.expected = big;
    f->req.expected_len = RAFT_VALUE_MAX;
    assert_int_equal(client_request_check(&f->req, errmsg), ERR_TOO_BIG);
    assert_non_null(strstr(errmsg, "one write holds"));
    f->req.expected_len = 0;
    f->req.value_len = 0;
    f->req.key_len = 0;
    assert_int_equal(client_request_check(&f->req, errmsg), ERR_INVALID);
    assert_true(nothing_sent(f));
    assert_true(client_session_done(&f->s));
}

/* --- The outbox and batched replies --- */

/* Encodes a client request (PUT of `value_len` bytes) with the given seq
 * into buf; returns its length. */
static size_t encode_request(uint64_t seq, uint32_t value_len, uint8_t *buf,
                             size_t cap)
{
    static uint8_t value[OUTBOX_BYTES];
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_CLIENT;
    m.u.client = (struct msg_client){.client_id = 9,
                                     .seq = seq,
                                     .op = CLIENT_PUT,
                                     .key_len = 1,
                                     .key = (const uint8_t *)"k",
                                     .value_len = value_len,
                                     .value = value};
    size_t len = 0;
    assert_int_equal(wire_encode(&m, CLUSTER_ID, buf, cap, &len), ERR_OK);
    return len;
}

/* The seqs of the client requests inside a batch, in order. */
static uint32_t batch_seqs(struct fixture *f, const struct raft_msg *batch,
                           uint64_t *seqs, uint32_t cap)
{
    assert_int_equal(batch->type, MSG_CLIENT_BATCH);
    uint32_t pos = 0, n = 0, len = 0;
    const uint8_t *item = NULL;
    while (wire_batch_next(&batch->u.batch, &pos, &item, &len)) {
        struct raft_msg inner;
        assert_int_equal(
            wire_decode(item, len, CLUSTER_ID, &inner, &f->scratch), ERR_OK);
        assert_int_equal(inner.type, MSG_CLIENT);
        assert_true(n < cap);
        seqs[n++] = inner.u.client.seq;
    }
    return n;
}

/* Nothing leaves before outbox_send; then one datagram goes out per
 * destination: a lone request as it is, several as one batch in the
 * order they came, a full batch (WIRE_BATCH_MAX) before the next one; a
 * datagram too large to queue goes at once. */
static void test_client_outbox_sends_one_datagram_per_destination(void **state)
{
    struct fixture *f = *state;
    struct outbox o;
    outbox_init(&o, f->client_fd, CLUSTER_ID, RAFT_ID_NONE);
    uint8_t dgram[OUTBOX_BYTES + 256];
    for (uint64_t seq = 1; seq <= 3; seq++) {
        size_t len = encode_request(seq, 10, dgram, sizeof dgram);
        outbox_add(&o, &f->s.members[0].addr, dgram, len);
    }
    size_t len = encode_request(7, 10, dgram, sizeof dgram);
    outbox_add(&o, &f->s.members[1].addr, dgram, len);
    for (uint64_t seq = 100; seq < 100 + WIRE_BATCH_MAX + 1; seq++) {
        len = encode_request(seq, 1, dgram, sizeof dgram);
        outbox_add(&o, &f->s.members[2].addr, dgram, len);
    }
    struct raft_msg msg;
    uint64_t seqs[WIRE_BATCH_MAX];
    recv_any(f, 2, &msg); /* The first WIRE_BATCH_MAX: a full batch. */
    assert_int_equal(batch_seqs(f, &msg, seqs, WIRE_BATCH_MAX), WIRE_BATCH_MAX);
    assert_int_equal(seqs[0], 100);
    assert_int_equal(seqs[WIRE_BATCH_MAX - 1], 100 + WIRE_BATCH_MAX - 1);
    assert_true(nothing_sent(f));
    len = encode_request(8, OUTBOX_BYTES, dgram, sizeof dgram);
    outbox_add(&o, &f->s.members[1].addr, dgram, len);
    recv_any(f, 1, &msg); /* Too large to queue: sent at once. */
    assert_int_equal(msg.type, MSG_CLIENT);
    assert_int_equal(msg.u.client.seq, 8);
    assert_true(nothing_sent(f));
    outbox_send(&o);
    recv_any(f, 0, &msg);
    assert_int_equal(batch_seqs(f, &msg, seqs, WIRE_BATCH_MAX), 3);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[2], 3);
    recv_any(f, 1, &msg);
    assert_int_equal(msg.type, MSG_CLIENT);
    assert_int_equal(msg.u.client.seq, 7);
    recv_any(f, 2, &msg);
    assert_int_equal(msg.type, MSG_CLIENT);
    assert_int_equal(msg.u.client.seq, 100 + WIRE_BATCH_MAX);
    assert_true(nothing_sent(f));
    assert_int_equal(o.n_datagrams, 5);
    outbox_send(&o); /* Empty: sends nothing. */
    assert_true(nothing_sent(f));
    outbox_free(&o);
}

/* With --max-datagram 1400 (udp_set_max_datagram) a batch never grows
 * past it: ten 300-byte requests to one member leave in order, as full
 * batches of as many as fit (tag envelope and batch overheads counted)
 * and the rest, and udp_send counts nothing over the cap. */
static void test_client_outbox_keeps_within_max_datagram(void **state)
{
    struct fixture *f = *state;
    struct outbox o;
    outbox_init(&o, f->client_fd, CLUSTER_ID, RAFT_ID_NONE);
    udp_set_max_datagram(1400);
    uint64_t over = udp_oversize_sent();
    uint8_t dgram[1024];
    size_t len = 0;
    for (uint64_t seq = 1; seq <= 10; seq++) {
        len = encode_request(seq, 300, dgram, sizeof dgram);
        outbox_add(&o, &f->s.members[0].addr, dgram, len);
    }
    outbox_send(&o);
    uint32_t fit = (uint32_t)((1400 - AUTH_HEADER_BYTES - WIRE_BATCH_OVERHEAD) /
                              (len + WIRE_BATCH_ITEM_OVERHEAD));
    assert_true(fit >= 2 && fit < 10);
    struct raft_msg msg;
    uint64_t seqs[WIRE_BATCH_MAX];
    uint64_t next = 1;
    while (next <= 10) {
        recv_any(f, 0, &msg);
        uint32_t want = 10 - next + 1 < fit ? (uint32_t)(10 - next + 1) : fit;
        if (want == 1) {
            assert_int_equal(msg.type, MSG_CLIENT);
            assert_int_equal(msg.u.client.seq, next);
        } else {
            assert_int_equal(batch_seqs(f, &msg, seqs, WIRE_BATCH_MAX), want);
            assert_int_equal(seqs[0], next);
        }
        next += want;
    }
    assert_true(nothing_sent(f));
    assert_int_equal(udp_oversize_sent(), over);
    udp_set_max_datagram(0);
    outbox_free(&o);
}

/* A session with an outbox queues its request there. */
static void test_client_session_queues_in_its_outbox(void **state)
{
    struct fixture *f = *state;
    struct outbox o;
    outbox_init(&o, f->client_fd, CLUSTER_ID, RAFT_ID_NONE);
    f->s.outbox = &o;
    assert_int_equal(client_session_start(&f->s, &f->req, 5000, T0), ERR_OK);
    assert_true(nothing_sent(f));
    outbox_send(&o);
    struct raft_msg m = recv_at(f, 0);
    assert_int_equal(m.u.client.seq, f->s.seq);
    outbox_free(&o);
}

struct replies_seen {
    uint32_t n;
    uint64_t seqs[8];
    raft_id from[8];
};

static void note_reply(void *ctx, raft_id from,
                       const struct msg_client_reply *reply)
{
    struct replies_seen *seen = ctx;
    assert_true(seen->n < 8);
    seen->seqs[seen->n] = reply->seq;
    seen->from[seen->n++] = from;
}

/* client_each_reply opens a batch and hands over its replies, in order,
 * with the member that sent each; it skips an item that is not a reply,
 * takes a lone reply, and ignores what does not decode. */
static void test_client_each_reply_opens_batches(void **state)
{
    struct fixture *f = *state;
    static uint8_t dgrams[3][128];
    const uint8_t *items[3];
    uint32_t lens[3];
    for (int i = 0; i < 3; i++) {
        struct raft_msg m;
        memset(&m, 0, sizeof m);
        size_t len = 0;
        if (i == 1) {
            len = encode_request(55, 1, dgrams[i], sizeof dgrams[i]);
        } else {
            m.type = MSG_CLIENT_REPLY;
            m.from = (raft_id)(i + 1);
            m.u.client_reply = (struct msg_client_reply){
                .client_id = 9, .seq = (uint64_t)(10 + i), .status = CLIENT_OK};
            assert_int_equal(
                wire_encode(&m, CLUSTER_ID, dgrams[i], sizeof dgrams[i], &len),
                ERR_OK);
        }
        items[i] = dgrams[i];
        lens[i] = (uint32_t)len;
    }
    size_t len = 0;
    assert_int_equal(wire_batch_encode(CLUSTER_ID, 2, 0, items, lens, 3, f->buf,
                                       sizeof f->buf, &len),
                     ERR_OK);
    struct replies_seen seen = {0};
    assert_int_equal(client_each_reply(f->buf, len, CLUSTER_ID, &f->scratch,
                                       note_reply, &seen),
                     2);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.seqs[0], 10);
    assert_int_equal(seen.from[0], 1);
    assert_int_equal(seen.seqs[1], 12);
    assert_int_equal(seen.from[1], 3);
    assert_int_equal(client_each_reply(dgrams[0], lens[0], CLUSTER_ID,
                                       &f->scratch, note_reply, &seen),
                     1);
    assert_int_equal(seen.seqs[2], 10);
    assert_int_equal(client_each_reply(dgrams[1], lens[1], CLUSTER_ID,
                                       &f->scratch, note_reply, &seen),
                     0);
    assert_int_equal(client_each_reply(dgrams[0], lens[0] - 1, CLUSTER_ID,
                                       &f->scratch, note_reply, &seen),
                     0);
    assert_int_equal(seen.n, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_client_retry_keeps_client_id_and_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_follows_leader_hint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_no_hint_backs_off, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_hint_loop_is_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_client_answer_completes_and_remembers_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_first_write_registers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_client_bad_register_answer_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_client_expired_write_sent_once_is_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_client_expired_write_resent_is_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_client_resumed_write_expired_is_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ignores_stale_replies,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_deadline_gives_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_skips_member_that_timed_out,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_limits_are_inclusive, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_client_outbox_sends_one_datagram_per_destination, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_client_outbox_keeps_within_max_datagram, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_client_session_queues_in_its_outbox, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_client_majority_no_space_ends_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_each_reply_opens_batches,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
