/*
 * Unit tests of common/status_poll.c. One fake member socket on loopback
 * stands in for every member (a reply's sender is its header's `from`, not
 * its address); the test reads each request there and answers with the
 * nonce and sender it chooses. Checks: one request per member in the mask,
 * an answer counts only with its member's nonce from a kept round and from
 * that member, and a new round retires the oldest one.
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

#include "common/status_poll.h"
#include "common/udp.h"
#include "common/wire.h"

#define N_MEMBERS 3
#define CLUSTER_ID 0x5eed5eedULL

struct fixture {
    int member_fd;
    struct raft_addr member_addr;
    struct conf conf;
    struct raft_addr addrs[RAFT_NODES_MAX];
    struct status_poll poll;
    uint8_t buf[RAFT_DATAGRAM_MAX];
    struct wire_scratch scratch;
    /* What the callback saw. */
    uint32_t n_answers;
    uint32_t answered; /* Bit i per answer of member i. */
    raft_term last_term;
};

static int open_poll(struct fixture *f, uint32_t n_rounds_kept)
{
    char errmsg[ERRMSG_LEN];
    return status_poll_init(&f->poll, &f->conf, f->addrs, n_rounds_kept,
                            errmsg);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char errmsg[ERRMSG_LEN];
    assert_int_equal(udp_open(NULL, &f->member_fd, errmsg), ERR_OK);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(f->member_fd, (struct sockaddr *)&sin, &len),
                     0);
    f->conf.cluster_id = CLUSTER_ID;
    f->conf.n_members = N_MEMBERS;
    for (int i = 0; i < N_MEMBERS; i++) {
        f->conf.members[i].id = (raft_id)(10 * (i + 1));
        snprintf(f->conf.members[i].host, sizeof(f->conf.members[i].host),
                 "127.0.0.1");
        f->conf.members[i].port = ntohs(sin.sin_port);
        assert_int_equal(
            udp_resolve("127.0.0.1", ntohs(sin.sin_port), &f->addrs[i], errmsg),
            ERR_OK);
    }
    f->poll.fd = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    status_poll_close(&f->poll);
    udp_close(f->member_fd);
    free(f);
    return 0;
}

/* The next status request at the fake member; fails when there is none.
 * Loopback delivery happens inside sendto(); the poll only guards a hang. */
static struct raft_msg recv_request(struct fixture *f)
{
    struct pollfd pfd = {.fd = f->member_fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    size_t len = 0;
    assert_int_equal(
        udp_recv(f->member_fd, f->buf, sizeof(f->buf), &len, &f->member_addr),
        ERR_OK);
    struct raft_msg msg;
    assert_int_equal(wire_decode(f->buf, len, CLUSTER_ID, &msg, &f->scratch),
                     ERR_OK);
    assert_int_equal(msg.type, MSG_STATUS);
    return msg;
}

/* Sends a status reply as member `from` with this nonce and term. */
static void answer(struct fixture *f, raft_id from, uint64_t nonce,
                   raft_term term)
{
    struct raft_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.type = MSG_STATUS_REPLY;
    msg.from = from;
    msg.term = term;
    msg.u.status_reply.nonce = nonce;
    uint8_t out[1024];
    size_t len = 0;
    assert_int_equal(wire_encode(&msg, CLUSTER_ID, out, sizeof(out), &len),
                     ERR_OK);
    assert_int_equal(udp_send(f->member_fd, &f->member_addr, out, len), ERR_OK);
}

static void on_answer(void *ctx, uint32_t i, raft_term term,
                      const struct msg_status_reply *reply)
{
    struct fixture *f = ctx;
    (void)reply;
    f->n_answers++;
    f->answered |= 1u << i;
    f->last_term = term;
}

/* Receives what the fake member sent back (loopback: already there). */
static uint32_t collect(struct fixture *f)
{
    f->n_answers = 0;
    f->answered = 0;
    return status_poll_recv(&f->poll, on_answer, f);
}

/* A round sends one request per member in the mask, each to its member
 * (header `to`), with nonces one apart in member order. */
static void test_status_poll_sends_one_request_per_masked_member(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_poll(f, 1), ERR_OK);
    status_poll_next_round(&f->poll);
    assert_int_equal(status_poll_send(&f->poll, (1u << 0) | (1u << 2)), 2);
    struct raft_msg a = recv_request(f);
    struct raft_msg b = recv_request(f);
    assert_int_equal(a.to, 10);
    assert_int_equal(b.to, 30);
    assert_int_equal(b.u.status.nonce, a.u.status.nonce + 2);
    assert_int_equal(a.u.status.nonce, f->poll.nonce);
}

/* An answer counts with its member's nonce from that member; another
 * member's nonce, or the right nonce from the wrong member, is dropped. */
static void test_status_poll_matches_nonce_and_sender(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_poll(f, 1), ERR_OK);
    status_poll_next_round(&f->poll);
    assert_int_equal(status_poll_send(&f->poll, 1u << 1), 1);
    uint64_t nonce = recv_request(f).u.status.nonce;
    answer(f, 10, nonce, 7);     /* Member 2's nonce from member 1. */
    answer(f, 20, nonce + 1, 7); /* Member 3's nonce from member 2. */
    answer(f, 20, nonce, 9);     /* The real answer. */
    assert_int_equal(collect(f), 1);
    assert_int_equal(f->answered, 1u << 1);
    assert_int_equal(f->last_term, 9);
}

/* With two rounds kept, a late answer to the previous round still counts;
 * one round later it is stale and dropped. */
static void test_status_poll_drops_answers_to_retired_rounds(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_poll(f, 2), ERR_OK);
    status_poll_next_round(&f->poll);
    assert_int_equal(status_poll_send(&f->poll, 1u << 0), 1);
    uint64_t old_nonce = recv_request(f).u.status.nonce;
    status_poll_next_round(&f->poll);
    answer(f, 10, old_nonce, 3);
    assert_int_equal(collect(f), 1);
    status_poll_next_round(&f->poll);
    answer(f, 10, old_nonce, 3);
    assert_int_equal(collect(f), 0);
    /* A nonce from a round not yet started never counts either. */
    answer(f, 10, f->poll.nonce + RAFT_NODES_MAX, 3);
    assert_int_equal(collect(f), 0);
}

/* With one round kept (the supervisor, the one-shot query), the previous
 * round's answer no longer counts. */
static void test_status_poll_one_round_kept_takes_only_current(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_poll(f, 1), ERR_OK);
    status_poll_next_round(&f->poll);
    assert_int_equal(status_poll_send(&f->poll, 1u << 2), 1);
    uint64_t old_nonce = recv_request(f).u.status.nonce;
    status_poll_next_round(&f->poll);
    answer(f, 30, old_nonce, 1);
    answer(f, 30, old_nonce + RAFT_NODES_MAX, 2);
    assert_int_equal(collect(f), 1);
    assert_int_equal(f->last_term, 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_status_poll_sends_one_request_per_masked_member),
        T(test_status_poll_matches_nonce_and_sender),
        T(test_status_poll_drops_answers_to_retired_rounds),
        T(test_status_poll_one_round_kept_takes_only_current),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
