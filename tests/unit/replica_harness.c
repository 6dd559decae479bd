/*
 * The fake-io cluster harness shared by the replica unit tests
 * (tests/unit/test_replica.c, tests/unit/test_replica_async.c): up to
 * NODES_MAX replicas over the real core and tests/lib/mem_kv.c whose
 * messages the test hands over in memory. The fake io checks on every send
 * that what the message promises is already durable. Tests only; read
 * tests/unit/replica_harness.h for the interface.
 */
#include "tests/unit/replica_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/msg.h"
#include "node/kv.h"
#include "node/raft.h"
#include "node/replica.h"
#include "tests/lib/mem_kv.h"

/* --- Fake io ---------------------------------------------------------- */

void held_free(struct held_msg *h)
{
    free(h->entries);
    free(h->data);
    memset(h, 0, sizeof *h);
}

static void held_copy(struct held_msg *h, const struct raft_msg *m)
{
    memset(h, 0, sizeof *h);
    h->msg = *m;
    if (m->type != MSG_APPEND || m->u.append.n_entries == 0) {
        h->msg.u.append.entries = NULL;
        return;
    }
    uint32_t n = m->u.append.n_entries;
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        bytes += m->u.append.entries[i].len;
    }
    h->entries = calloc(n, sizeof *h->entries);
    h->data = malloc(bytes + 1);
    assert_non_null(h->entries);
    assert_non_null(h->data);
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        h->entries[i] = m->u.append.entries[i];
        memcpy(h->data + off, m->u.append.entries[i].data,
               m->u.append.entries[i].len);
        h->entries[i].data = h->data + off;
        off += m->u.append.entries[i].len;
    }
    h->msg.u.append.entries = h->entries;
}

/* Durability rules (DESIGN.md, Durable state): term, vote and entries are
 * durable before any message that depends on them leaves. */
static void check_durable_before_send(const struct tnode *t,
                                      const struct raft_msg *m)
{
    bool pre = (m->type == MSG_VOTE && m->u.vote.pre_vote) ||
               (m->type == MSG_VOTE_REPLY && m->u.vote_reply.pre_vote);
    if (!pre) {
        assert_true(t->durable_term >= m->term);
    }
    if (m->type == MSG_VOTE && !pre) {
        assert_int_equal(t->durable_term, m->term);
        assert_int_equal(t->durable_vote, t->id);
    }
    if (m->type == MSG_VOTE_REPLY && !pre && m->u.vote_reply.granted) {
        assert_int_equal(t->durable_term, m->term);
        assert_int_equal(t->durable_vote, m->to);
    }
    if (m->type == MSG_APPEND_REPLY && m->u.append_reply.success) {
        assert_true(t->durable_last >= m->u.append_reply.match_index);
    }
}

static void fake_send(void *ctx, const struct raft_msg *msg)
{
    struct tnode *t = ctx;
    assert_int_equal(msg->from, t->id);
    check_durable_before_send(t, msg);
    if (t->n_out == t->cap_out) {
        t->cap_out = t->cap_out ? 2 * t->cap_out : 16;
        t->outbox = realloc(t->outbox, t->cap_out * sizeof *t->outbox);
        assert_non_null(t->outbox);
    }
    held_copy(&t->outbox[t->n_out++], msg);
}

static void fake_reply(void *ctx, const struct raft_addr *to,
                       const struct raft_msg *msg)
{
    struct tnode *t = ctx;
    assert_int_equal(msg->type, MSG_CLIENT_REPLY);
    assert_true(t->n_replies < REPLIES_MAX);
    /* Answers never go out from inside an open apply transaction. */
    assert_false(t->kv.in_txn);
    struct reply_rec *r = &t->replies[t->n_replies++];
    memset(r, 0, sizeof *r);
    r->to = *to;
    r->status = msg->u.client_reply.status;
    r->client_id = msg->u.client_reply.client_id;
    r->seq = msg->u.client_reply.seq;
    r->leader_hint = msg->u.client_reply.leader_hint;
    r->value_len = msg->u.client_reply.value_len;
    if (r->value_len > 0) {
        assert_true(r->value_len <= sizeof r->value);
        memcpy(r->value, msg->u.client_reply.value, r->value_len);
    }
    r->applied_at_reply = mem_kv_applied(&t->kv);
}

static void fake_replies_done(void *ctx)
{
    struct tnode *t = ctx;
    t->n_replies_done++;
    if (t->n_replies == t->replies_at_done) {
        return;
    }
    t->replies_at_done = t->n_replies;
    for (size_t i = 0; i < t->n_out; i++) {
        const struct raft_msg *m = &t->outbox[i].msg;
        if (m->type == MSG_APPEND && m->u.append.n_entries == 0 &&
            m->u.append.commit >= mem_kv_applied(&t->kv)) {
            t->commit_sent_before_replies++;
        }
    }
}

static int fake_persist(void *ctx, const struct raft_ready *rd)
{
    struct tnode *t = ctx;
    t->n_persist++;
    if (t->persist_fail != ERR_OK) {
        int rv = t->persist_fail;
        t->persist_fail = ERR_OK;
        return rv;
    }
    if (rd->has_hard_state) {
        t->written_term = rd->term;
        t->written_vote = rd->voted_for;
    }
    if (rd->truncate_from != 0 && rd->truncate_from <= t->written_last) {
        t->written_last = rd->truncate_from - 1;
    }
    if (rd->n_entries > 0) {
        assert_true(rd->entries_first_index <= t->written_last + 1);
        t->written_last = rd->entries_first_index + rd->n_entries - 1;
    }
    if (!t->is_async) {
        t->durable_term = t->written_term;
        t->durable_vote = t->written_vote;
        t->durable_last = t->written_last;
    }
    return ERR_OK;
}

/* Asks for a sync: what is written now becomes durable at sync_done. */
static int fake_sync(void *ctx)
{
    struct tnode *t = ctx;
    assert_true(t->is_async);
    assert_false(t->is_syncing); /* One at a time. */
    t->is_syncing = true;
    t->n_sync++;
    t->asked_term = t->written_term;
    t->asked_vote = t->written_vote;
    t->asked_last = t->written_last;
    t->kv_applied_at_sync = mem_kv_applied(&t->kv);
    return ERR_OK;
}

/* --- Cluster fixture ----------------------------------------------- */

/* Sessions are registered through the log (node/kv.h); the tests use
 * small fixed client ids, so every member starts with ids 1..HARNESS_IDS
 * live (seq 0), as if registered before. */
#define HARNESS_IDS 64
static void seed_sessions(struct mem_kv *kv)
{
    const struct kv_store_ops *m = mem_kv_ops();
    assert_int_equal(m->begin(kv), ERR_OK);
    for (uint64_t id = 1; id <= HARNESS_IDS; id++) {
        assert_int_equal(m->session_put(kv, id, 0, CLIENT_OK), ERR_OK);
    }
    assert_int_equal(m->commit(kv, 0), ERR_OK);
}

/* n replicas; is_async: with io->sync (persists only write), and then
 * self_sync_ms (raft_config; 0: every write synced). */
void cluster_start_lazy(struct cluster *c, uint32_t n, uint32_t pending_max,
                        bool is_async, uint32_t self_sync_ms)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    for (uint32_t i = 0; i < n; i++) {
        struct tnode *t = &c->nodes[i];
        t->id = i + 1;
        t->is_async = is_async;
        mem_kv_init(&t->kv);
        seed_sessions(&t->kv);
        struct replica_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.raft.id = t->id;
        cfg.raft.n_members = n;
        for (uint32_t j = 0; j < n; j++) {
            cfg.raft.members[j] = j + 1;
        }
        cfg.raft.heartbeat_ms = HEARTBEAT_MS;
        cfg.raft.election_ms = ELECTION_MS;
        cfg.raft.seed = 42 + i;
        cfg.raft.batch_bytes_max = 60000;
        cfg.raft.inflight_max = 8;
        cfg.raft.pre_vote = true;
        cfg.raft.check_quorum = true;
        cfg.raft.self_sync_ms = self_sync_ms;
        cfg.pending_max = pending_max;
        struct raft_loaded loaded;
        memset(&loaded, 0, sizeof loaded);
        loaded.first_index = 1;
        struct replica_io io;
        memset(&io, 0, sizeof io);
        io.ctx = t;
        io.send = fake_send;
        io.reply = fake_reply;
        io.replies_done = fake_replies_done;
        io.persist = fake_persist;
        io.sync = is_async ? fake_sync : NULL;
        io.kv = mem_kv_ops();
        io.kv_ctx = &t->kv;
        t->rep = replica_new(&cfg, &loaded, &io, NULL, NULL, c->now);
        assert_non_null(t->rep);
    }
}

void cluster_start_io(struct cluster *c, uint32_t n, uint32_t pending_max,
                      bool is_async)
{
    cluster_start_lazy(c, n, pending_max, is_async, 0);
}

void cluster_start(struct cluster *c, uint32_t n, uint32_t pending_max)
{
    cluster_start_io(c, n, pending_max, false);
}

void cluster_stop(struct cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        struct tnode *t = &c->nodes[i];
        replica_free(t->rep);
        for (size_t j = 0; j < t->n_out; j++) {
            held_free(&t->outbox[j]);
        }
        free(t->outbox);
        mem_kv_close(&t->kv);
    }
}

struct tnode *node(struct cluster *c, raft_id id)
{
    assert_true(id >= 1 && id <= c->n);
    return &c->nodes[id - 1];
}

const struct raft *core(struct cluster *c, raft_id id)
{
    return replica_raft(node(c, id)->rep);
}

/* Storage finishes node id's sync: what was written when it was asked is
 * durable; the replica is told (and may send what it held). */
void sync_done(struct cluster *c, raft_id id)
{
    struct tnode *t = node(c, id);
    assert_true(t->is_syncing);
    t->is_syncing = false;
    t->durable_term = t->asked_term;
    t->durable_vote = t->asked_vote;
    t->durable_last = t->asked_last;
    assert_int_equal(replica_on_synced(t->rep, c->now), ERR_OK);
}

/* Finishes every running sync of a node that is up; false if none ran. */
static bool sync_all(struct cluster *c)
{
    bool any = false;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->nodes[i].is_syncing && !c->nodes[i].is_down) {
            sync_done(c, c->nodes[i].id);
            any = true;
        }
    }
    return any;
}

void drain_all(struct cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->nodes[i].is_down) {
            assert_int_equal(replica_drain(c->nodes[i].rep, c->now), ERR_OK);
        }
    }
}

/* Hands every queued message over and drains, finishing the syncs it
 * asked for, until nothing moves. */
void deliver(struct cluster *c)
{
    for (int round = 0; round < 100; round++) {
        drain_all(c);
        bool moved = false;
        for (uint32_t i = 0; i < c->n; i++) {
            struct tnode *t = &c->nodes[i];
            size_t n_out = t->n_out;
            struct held_msg *box = t->outbox;
            t->outbox = NULL;
            t->n_out = 0;
            t->cap_out = 0;
            for (size_t j = 0; j < n_out; j++) {
                struct tnode *dst = node(c, box[j].msg.to);
                if (!dst->is_down && !t->is_down) {
                    assert_int_equal(
                        replica_on_message(dst->rep, c->now, &box[j].msg),
                        ERR_OK);
                    moved = true;
                }
                held_free(&box[j]);
            }
            free(box);
        }
        if (!moved && !sync_all(c)) {
            return;
        }
    }
    fail_msg("messages still moving after 100 rounds");
}

/* Node id times out first and wins; the others never tick. */
void elect(struct cluster *c, raft_id id)
{
    c->now += 2 * ELECTION_MS;
    assert_int_equal(replica_tick(node(c, id)->rep, c->now), ERR_OK);
    deliver(c);
    if (raft_role(core(c, id)) == RAFT_CANDIDATE) {
        /* A single voter leads once its own vote is durable. */
        assert_int_equal(replica_tick(node(c, id)->rep, c->now), ERR_OK);
        deliver(c);
    }
    assert_int_equal(raft_role(core(c, id)), RAFT_LEADER);
}

/* One heartbeat round from the leader, delivered. */
void heartbeat(struct cluster *c, raft_id leader)
{
    c->now += HEARTBEAT_MS;
    assert_int_equal(replica_tick(node(c, leader)->rep, c->now), ERR_OK);
    deliver(c);
}

struct raft_addr client_addr(uint8_t n)
{
    struct raft_addr a;
    memset(&a, 0, sizeof a);
    a.len = 4;
    a.bytes[0] = 0xc1;
    a.bytes[1] = n;
    return a;
}

struct msg_client request(uint8_t op, uint64_t client_id, uint64_t seq,
                          const char *key, const char *value,
                          const char *expected)
{
    struct msg_client m;
    memset(&m, 0, sizeof m);
    m.op = op;
    m.client_id = client_id;
    m.seq = seq;
    m.key = (const uint8_t *)key;
    m.key_len = (uint32_t)strlen(key);
    if (value != NULL) {
        m.value = (const uint8_t *)value;
        m.value_len = (uint32_t)strlen(value);
    }
    if (expected != NULL) {
        m.expected = (const uint8_t *)expected;
        m.expected_len = (uint32_t)strlen(expected);
    }
    return m;
}

int send_client(struct cluster *c, raft_id id, uint8_t from,
                struct msg_client req)
{
    struct raft_addr a = client_addr(from);
    return replica_on_client(node(c, id)->rep, c->now, &a, &req);
}

bool kv_has(struct tnode *t, const char *key, const char *value)
{
    const uint8_t *v = NULL;
    uint32_t len = 0;
    int rv = mem_kv_ops()->get(&t->kv, (const uint8_t *)key,
                               (uint32_t)strlen(key), &v, &len);
    if (value == NULL) {
        return rv == ERR_NOT_FOUND;
    }
    return rv == ERR_OK && len == strlen(value) && memcmp(v, value, len) == 0;
}

int setup_single(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start(c, 1, 0);
    *state = c;
    return 0;
}

int setup_three(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start(c, 3, 0);
    *state = c;
    return 0;
}

int setup_single_async(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start_io(c, 1, 0, true);
    *state = c;
    return 0;
}

int setup_three_async(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start_io(c, 3, 0, true);
    *state = c;
    return 0;
}

/* Three async replicas whose leader waits LAZY_SYNC_MS for its own sync. */
int setup_three_lazy(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start_lazy(c, 3, 0, true, LAZY_SYNC_MS);
    *state = c;
    return 0;
}

int teardown(void **state)
{
    struct cluster *c = *state;
    cluster_stop(c);
    free(c);
    return 0;
}

/* Hands node from's queued messages over, without draining anyone. */
void hand_over(struct cluster *c, raft_id from)
{
    struct tnode *t = node(c, from);
    for (size_t j = 0; j < t->n_out; j++) {
        struct tnode *dst = node(c, t->outbox[j].msg.to);
        assert_int_equal(
            replica_on_message(dst->rep, c->now, &t->outbox[j].msg), ERR_OK);
        held_free(&t->outbox[j]);
    }
    t->n_out = 0;
}

/* Hands the queued messages over once, without draining anyone. */
void deliver_once(struct cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        hand_over(c, c->nodes[i].id);
    }
}
