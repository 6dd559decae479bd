/*
 * Unit tests of node/replica.c with the real core and kv state machine over
 * tests/lib/mem_kv.c: a single-node cluster, and three replicas whose
 * messages the test hands over in memory. The fake io checks on every send
 * that what the message promises is already durable (a granted vote, a new
 * term, an acknowledged entry), so every test also checks the persist-before-
 * msgs_after order. With io->sync set (the async tests), a persist is only
 * written and becomes durable when the test finishes the sync; with
 * self_sync_ms too (the lazy tests), a leader whose followers commit
 * leaves its own writes unsynced.
 */
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

#define NODES_MAX 3
#define REPLIES_MAX 64
#define ELECTION_MS 150
#define HEARTBEAT_MS 50
#define LAZY_SYNC_MS 1 /* raft_config.self_sync_ms of the lazy tests. */
#define SELF_UNSYNCED_MS 10 /* RAFT_SELF_UNSYNCED_MS in node/raft.c. */

/* A deep copy of a sent message (entries and their data owned). */
struct held_msg {
    struct raft_msg msg;
    struct raft_entry *entries;
    uint8_t *data;
};

struct reply_rec {
    struct raft_addr to;
    uint8_t status;
    uint64_t client_id;
    uint64_t seq;
    raft_id leader_hint;
    uint32_t value_len;
    uint8_t value[64];
    raft_index applied_at_reply; /* mem_kv applied index when answered. */
};

struct tnode {
    raft_id id;
    struct replica *rep;
    struct mem_kv kv;
    /* Fake io state. */
    struct held_msg *outbox;
    size_t n_out;
    size_t cap_out;
    struct reply_rec replies[REPLIES_MAX];
    size_t n_replies;
    size_t n_persist;
    int persist_fail;            /* Next persist returns this. */
    raft_term durable_term;
    raft_id durable_vote;
    raft_index durable_last;
    /* io->sync set: persists write these; a sync makes what they were
     * when it was asked (asked_*) durable. */
    bool is_async;
    bool is_syncing;             /* A sync asked, not finished. */
    size_t n_sync;
    raft_term written_term, asked_term;
    raft_id written_vote, asked_vote;
    raft_index written_last, asked_last;
    bool is_down;                /* Messages to it are dropped. */
};

struct cluster {
    uint32_t n;
    uint64_t now;
    struct tnode nodes[NODES_MAX];
};

/* --- Fake io ---------------------------------------------------------- */

static void held_free(struct held_msg *h)
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
    return ERR_OK;
}

/* --- Cluster fixture ----------------------------------------------- */

/* n replicas; is_async: with io->sync (persists only write), and then
 * self_sync_ms (raft_config; 0: every write synced). */
static void cluster_start_lazy(struct cluster *c, uint32_t n,
                               uint32_t pending_max, bool is_async,
                               uint32_t self_sync_ms)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    for (uint32_t i = 0; i < n; i++) {
        struct tnode *t = &c->nodes[i];
        t->id = i + 1;
        t->is_async = is_async;
        mem_kv_init(&t->kv);
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
        io.persist = fake_persist;
        io.sync = is_async ? fake_sync : NULL;
        io.kv = mem_kv_ops();
        io.kv_ctx = &t->kv;
        t->rep = replica_new(&cfg, &loaded, &io, NULL, NULL, c->now);
        assert_non_null(t->rep);
    }
}

static void cluster_start_io(struct cluster *c, uint32_t n,
                             uint32_t pending_max, bool is_async)
{
    cluster_start_lazy(c, n, pending_max, is_async, 0);
}

static void cluster_start(struct cluster *c, uint32_t n, uint32_t pending_max)
{
    cluster_start_io(c, n, pending_max, false);
}

static void cluster_stop(struct cluster *c)
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

static struct tnode *node(struct cluster *c, raft_id id)
{
    assert_true(id >= 1 && id <= c->n);
    return &c->nodes[id - 1];
}

static const struct raft *core(struct cluster *c, raft_id id)
{
    return replica_raft(node(c, id)->rep);
}

/* Storage finishes node id's sync: what was written when it was asked is
 * durable; the replica is told (and may send what it held). */
static void sync_done(struct cluster *c, raft_id id)
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

static void flush_all(struct cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->nodes[i].is_down) {
            assert_int_equal(replica_flush(c->nodes[i].rep, c->now), ERR_OK);
        }
    }
}

/* Hands every queued message over and flushes, finishing the syncs it
 * asked for, until nothing moves. */
static void deliver(struct cluster *c)
{
    for (int round = 0; round < 100; round++) {
        flush_all(c);
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
                    assert_int_equal(replica_on_message(dst->rep, c->now,
                                                        &box[j].msg),
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
static void elect(struct cluster *c, raft_id id)
{
    c->now += 2 * ELECTION_MS;
    assert_int_equal(replica_tick(node(c, id)->rep, c->now), ERR_OK);
    deliver(c);
    assert_int_equal(raft_role(core(c, id)), RAFT_LEADER);
}

/* One heartbeat round from the leader, delivered. */
static void heartbeat(struct cluster *c, raft_id leader)
{
    c->now += HEARTBEAT_MS;
    assert_int_equal(replica_tick(node(c, leader)->rep, c->now), ERR_OK);
    deliver(c);
}

static struct raft_addr client_addr(uint8_t n)
{
    struct raft_addr a;
    memset(&a, 0, sizeof a);
    a.len = 4;
    a.bytes[0] = 0xc1;
    a.bytes[1] = n;
    return a;
}

static struct msg_client request(uint8_t op, uint64_t client_id, uint64_t seq,
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

static int send_client(struct cluster *c, raft_id id, uint8_t from,
                       struct msg_client req)
{
    struct raft_addr a = client_addr(from);
    return replica_on_client(node(c, id)->rep, c->now, &a, &req);
}

static bool kv_has(struct tnode *t, const char *key, const char *value)
{
    const uint8_t *v = NULL;
    uint32_t len = 0;
    int rv = mem_kv_ops()->get(&t->kv, (const uint8_t *)key,
                               (uint32_t)strlen(key), &v, &len);
    if (value == NULL) {
        return rv == ERR_NOT_FOUND;
    }
    return rv == ERR_OK && len == strlen(value) &&
           memcmp(v, value, len) == 0;
}

static int setup_single(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start(c, 1, 0);
    *state = c;
    return 0;
}

static int setup_three(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start(c, 3, 0);
    *state = c;
    return 0;
}

static int setup_single_async(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start_io(c, 1, 0, true);
    *state = c;
    return 0;
}

static int setup_three_async(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start_io(c, 3, 0, true);
    *state = c;
    return 0;
}

/* Three async replicas whose leader waits LAZY_SYNC_MS for its own sync. */
static int setup_three_lazy(void **state)
{
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    cluster_start_lazy(c, 3, 0, true, LAZY_SYNC_MS);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct cluster *c = *state;
    cluster_stop(c);
    free(c);
    return 0;
}

/* --- Tests ------------------------------------------------------------ */

/* A lone member elects itself at its first tick after the timeout, and a
 * put is answered OK with the value already applied. */
static void test_replica_single_node_put_is_answered_after_apply(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    assert_int_equal(send_client(c, 1, 1,
                                 request(CLIENT_PUT, 7, 1, "k", "v", NULL)),
                     ERR_OK);
    assert_int_equal(t->n_replies, 0);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 1);
    assert_int_equal(t->replies[0].status, CLIENT_OK);
    assert_int_equal(t->replies[0].client_id, 7);
    assert_int_equal(t->replies[0].seq, 1);
    assert_int_equal(t->replies[0].leader_hint, 1);
    assert_int_equal(t->replies[0].applied_at_reply,
                     raft_last_index(core(c, 1)));
    assert_true(kv_has(t, "k", "v"));
}

/* A leader answers a put only once a majority holds it and it is applied:
 * not after its own persist, not before the followers' acknowledgements. */
static void test_replica_put_waits_for_quorum_commit(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    size_t persists = l->n_persist;
    assert_int_equal(send_client(c, 1, 1,
                                 request(CLIENT_PUT, 7, 1, "k", "v", NULL)),
                     ERR_OK);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_persist, persists + 1); /* Own write durable... */
    assert_int_equal(l->n_replies, 0);            /* ...yet no answer. */
    assert_false(kv_has(l, "k", "v"));
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_OK);
    assert_true(l->replies[0].applied_at_reply >= raft_commit_index(core(c, 1)));
    assert_true(kv_has(l, "k", "v"));
    /* Followers apply at the next heartbeat, and never answer. */
    heartbeat(c, 1);
    assert_true(kv_has(node(c, 2), "k", "v"));
    assert_true(kv_has(node(c, 3), "k", "v"));
    assert_int_equal(node(c, 2)->n_replies, 0);
}

/* Thesis 6.3: a retry of an in-flight (client_id, seq) is not proposed
 * again (it just moves the answer to the new address); a retry after apply
 * gets the cached result without touching the log. */
static void test_replica_retried_write_is_applied_once(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    struct msg_client cas = request(CLIENT_CAS, 9, 1, "k", "new", "old");
    assert_int_equal(send_client(c, 1, 1, cas), ERR_OK);
    raft_index last = raft_last_index(core(c, 1));
    assert_int_equal(send_client(c, 1, 2, cas), ERR_OK);
    assert_int_equal(raft_last_index(core(c, 1)), last);
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_CAS_MISMATCH);
    struct raft_addr second = client_addr(2);
    assert_memory_equal(&l->replies[0].to, &second, sizeof second);

    /* Another client makes the CAS's expectation true... */
    assert_int_equal(send_client(c, 1, 3,
                                 request(CLIENT_PUT, 10, 1, "k", "old", NULL)),
                     ERR_OK);
    deliver(c);
    assert_int_equal(l->n_replies, 2);
    assert_true(kv_has(l, "k", "old"));
    /* ...but the retried CAS is not run again: cached mismatch. */
    last = raft_last_index(core(c, 1));
    assert_int_equal(send_client(c, 1, 1, cas), ERR_OK);
    assert_int_equal(l->n_replies, 3);
    assert_int_equal(l->replies[2].status, CLIENT_CAS_MISMATCH);
    assert_int_equal(raft_last_index(core(c, 1)), last);
    assert_true(kv_has(l, "k", "old"));
}

/* A request older than the session's last one is a stale datagram: its own
 * result is no longer known, so it is refused, never applied again. */
static void test_replica_stale_seq_is_refused(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 5, 1, "a", "1", NULL));
    send_client(c, 1, 1, request(CLIENT_PUT, 5, 2, "a", "2", NULL));
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 2);
    raft_index last = raft_last_index(core(c, 1));
    send_client(c, 1, 1, request(CLIENT_PUT, 5, 1, "a", "1", NULL));
    assert_int_equal(t->n_replies, 3);
    assert_int_equal(t->replies[2].status, CLIENT_INVALID);
    assert_int_equal(raft_last_index(core(c, 1)), last);
    assert_true(kv_has(t, "a", "2"));
}

/* Without a session (client_id 0) nothing is deduplicated. */
static void test_replica_sessionless_writes_are_not_deduplicated(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    raft_index last = raft_last_index(core(c, 1));
    send_client(c, 1, 1, request(CLIENT_PUT, 0, 1, "a", "1", NULL));
    send_client(c, 1, 1, request(CLIENT_PUT, 0, 1, "a", "1", NULL));
    assert_int_equal(raft_last_index(core(c, 1)), last + 2);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 2);
}

/* A follower redirects writes to the leader it knows. */
static void test_replica_follower_redirects_with_leader_hint(void **state)
{
    struct cluster *c = *state;
    elect(c, 2);
    struct tnode *f = node(c, 3);
    raft_index last = raft_last_index(core(c, 3));
    send_client(c, 3, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    send_client(c, 3, 1, request(CLIENT_DEL, 7, 2, "k", NULL, NULL));
    assert_int_equal(f->n_replies, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(f->replies[i].status, CLIENT_NOT_LEADER);
        assert_int_equal(f->replies[i].leader_hint, 2);
    }
    assert_int_equal(raft_last_index(core(c, 3)), last);
}

/* A follower serves a GET itself, through the leader's read index, once it
 * has applied up to that index: the value written through the leader. */
static void test_replica_follower_serves_reads(void **state)
{
    struct cluster *c = *state;
    elect(c, 2);
    struct tnode *l = node(c, 2);
    struct tnode *f = node(c, 3);
    send_client(c, 2, 1, request(CLIENT_PUT, 7, 1, "k", "hello", NULL));
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    raft_index last = raft_last_index(core(c, 3));
    send_client(c, 3, 2, request(CLIENT_GET, 8, 1, "k", NULL, NULL));
    deliver(c);
    heartbeat(c, 2); /* The follower learns the commit index. */
    deliver(c);
    assert_int_equal(f->n_replies, 1);
    assert_int_equal(f->replies[0].status, CLIENT_OK);
    assert_int_equal(f->replies[0].value_len, 5);
    assert_memory_equal(f->replies[0].value, "hello", 5);
    assert_int_equal(raft_last_index(core(c, 3)), last);
}

/* Before any election nobody leads: the hint is 0 (unknown). */
static void test_replica_redirect_without_leader_has_no_hint(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    send_client(c, 1, 1, request(CLIENT_GET, 7, 1, "k", NULL, NULL));
    assert_int_equal(t->n_replies, 1);
    assert_int_equal(t->replies[0].status, CLIENT_NOT_LEADER);
    assert_int_equal(t->replies[0].leader_hint, 0);
}

/* Thesis 6.4: a GET is answered only after a heartbeat round confirms the
 * leadership, with the applied value; an absent key is NOT_FOUND. */
static void test_replica_get_answers_after_read_index(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "hello", NULL));
    deliver(c);
    assert_int_equal(l->n_replies, 1);

    send_client(c, 1, 2, request(CLIENT_GET, 8, 1, "k", NULL, NULL));
    send_client(c, 1, 2, request(CLIENT_GET, 8, 2, "absent", NULL, NULL));
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_replies, 1); /* Not confirmed yet. */
    deliver(c);
    assert_int_equal(l->n_replies, 3);
    assert_int_equal(l->replies[1].status, CLIENT_OK);
    assert_int_equal(l->replies[1].seq, 1);
    assert_int_equal(l->replies[1].value_len, 5);
    assert_memory_equal(l->replies[1].value, "hello", 5);
    assert_int_equal(l->replies[2].status, CLIENT_NOT_FOUND);
    assert_int_equal(l->replies[2].seq, 2);
}

/* A single node confirms reads by itself. */
static void test_replica_single_node_get(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 1);
    send_client(c, 1, 1, request(CLIENT_GET, 8, 1, "k", NULL, NULL));
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 2);
    assert_int_equal(t->replies[1].status, CLIENT_OK);
    assert_int_equal(t->replies[1].value_len, 1);
    assert_memory_equal(t->replies[1].value, "v", 1);
}

static void expect_invalid(struct cluster *c, struct msg_client req)
{
    struct tnode *t = node(c, 1);
    size_t before = t->n_replies;
    raft_index last = raft_last_index(core(c, 1));
    assert_int_equal(send_client(c, 1, 1, req), ERR_OK);
    assert_int_equal(t->n_replies, before + 1);
    assert_int_equal(t->replies[before].status, CLIENT_INVALID);
    assert_int_equal(raft_last_index(core(c, 1)), last);
}

/* Malformed or oversized requests get CLIENT_INVALID and never reach the
 * log; the limits themselves are inclusive. */
static void test_replica_rejects_invalid_requests(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    static char big[RAFT_VALUE_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    static char key[RAFT_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);

    expect_invalid(c, request(CLIENT_PUT, 1, 1, "", "v", NULL));
    expect_invalid(c, request(CLIENT_GET, 1, 2, "", NULL, NULL));
    expect_invalid(c, request(CLIENT_PUT, 1, 3, key, "v", NULL));
    expect_invalid(c, request(CLIENT_PUT, 1, 4, "k", big, NULL));
    expect_invalid(c, request(CLIENT_CAS, 1, 5, "k", "v", big));
    expect_invalid(c, request(9, 1, 6, "k", "v", NULL));
    expect_invalid(c, request(0, 1, 7, "k", "v", NULL));
    struct msg_client nul = request(CLIENT_PUT, 1, 8, "k", "v", NULL);
    nul.value = NULL;
    expect_invalid(c, nul);
    /* Both at their largest: too big together for one entry. */
    big[RAFT_VALUE_MAX] = '\0';
    key[RAFT_KEY_MAX] = '\0';
    expect_invalid(c, request(CLIENT_CAS, 1, 9, key, big, big));

    /* At the limits: accepted. */
    size_t before = t->n_replies;
    send_client(c, 1, 1, request(CLIENT_PUT, 2, 1, key, big, NULL));
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, before + 1);
    assert_int_equal(t->replies[before].status, CLIENT_OK);
    assert_true(kv_has(t, key, big));
}

/* A follower persists received entries before its AppendEntries reply,
 * and a voter its vote before the grant (also checked on every send by
 * check_durable_before_send). */
static void test_replica_persists_before_dependent_replies(void **state)
{
    struct cluster *c = *state;
    elect(c, 1);
    struct tnode *f = node(c, 2);
    assert_int_equal(f->durable_vote, 1);
    assert_int_equal(f->durable_term, raft_current_term(core(c, 1)));
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(f->durable_last, raft_last_index(core(c, 1)));
    assert_int_equal(raft_last_index(core(c, 2)), f->durable_last);
}

/* Hands node from's queued messages over, without flushing anyone. */
static void hand_over(struct cluster *c, raft_id from)
{
    struct tnode *t = node(c, from);
    for (size_t j = 0; j < t->n_out; j++) {
        struct tnode *dst = node(c, t->outbox[j].msg.to);
        assert_int_equal(replica_on_message(dst->rep, c->now,
                                            &t->outbox[j].msg),
                         ERR_OK);
        held_free(&t->outbox[j]);
    }
    t->n_out = 0;
}

/* Hands the queued messages over once, without flushing anyone. */
static void deliver_once(struct cluster *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        hand_over(c, c->nodes[i].id);
    }
}

/* A failed persist stops the replica for good: the RequestVotes that
 * depended on it are never sent, and every later call returns
 * ERR_STOPPED without touching the core. */
static void test_replica_persist_failure_stops(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    c->now += 2 * ELECTION_MS;
    assert_int_equal(replica_tick(t->rep, c->now), ERR_OK);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK); /* Pre-votes. */
    deliver_once(c);
    flush_all(c);
    deliver_once(c); /* Pre-vote grants: node 1 is now a candidate. */
    assert_int_equal(raft_role(core(c, 1)), RAFT_CANDIDATE);
    t->persist_fail = ERR_IO;
    assert_int_equal(replica_flush(t->rep, c->now), ERR_STOPPED);
    assert_int_equal(t->n_persist, 1);
    assert_int_equal(t->n_out, 0); /* No RequestVote left. */
    assert_int_equal(t->durable_term, 0);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_STOPPED);
    assert_int_equal(replica_tick(t->rep, c->now + 1000), ERR_STOPPED);
    assert_int_equal(send_client(c, 1, 1,
                                 request(CLIENT_PUT, 7, 1, "k", "v", NULL)),
                     ERR_STOPPED);
    assert_int_equal(replica_deadline(t->rep), UINT64_MAX);
    assert_int_equal(t->n_persist, 1);
    assert_int_equal(t->n_out, 0);
    assert_int_equal(t->n_replies, 0);
}

/* A failing state-machine write is as fatal as a failing persist. */
static void test_replica_apply_failure_stops(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    elect(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    mem_kv_fail_next(&t->kv, ERR_IO);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_STOPPED);
    assert_int_equal(t->n_replies, 0);
    mem_kv_rollback(&t->kv);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_STOPPED);
    assert_int_equal(t->n_replies, 0);
}

/* A leader that steps down answers its pending writes and unconfirmed
 * reads with RETRY / NOT_LEADER: their outcome is unknown, never "ok". */
static void test_replica_leadership_loss_fails_pending(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    send_client(c, 1, 2, request(CLIENT_GET, 8, 1, "k", NULL, NULL));
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_replies, 0);

    /* Node 2 leads a newer term (crafted: it would win without node 1). */
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = 2;
    m.to = 1;
    m.term = raft_current_term(core(c, 1)) + 1;
    m.u.append.prev_index = 0;
    m.u.append.prev_term = 0;
    assert_int_equal(replica_on_message(l->rep, c->now, &m), ERR_OK);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_not_equal(raft_role(core(c, 1)), RAFT_LEADER);
    assert_int_equal(l->n_replies, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct reply_rec *r = &l->replies[i];
        if (r->client_id == 7) {
            assert_int_equal(r->status, CLIENT_RETRY);
        } else {
            assert_int_equal(r->client_id, 8);
            assert_int_equal(r->status, CLIENT_NOT_LEADER);
            assert_int_equal(r->leader_hint, 2);
        }
    }
    /* Nothing is answered twice later. */
    for (uint32_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->nodes[i].n_out; j++) {
            held_free(&c->nodes[i].outbox[j]);
        }
        c->nodes[i].n_out = 0;
    }
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_replies, 2);
}

/* The pending table is bounded: one write over the limit gets RETRY and
 * ERR_AGAIN (the runtime counts it as overload), nothing is proposed. */
static void test_replica_pending_table_full_replies_retry(void **state)
{
    struct cluster *c = *state;
    cluster_stop(c);
    cluster_start(c, 3, 2);
    struct tnode *l = node(c, 1);
    elect(c, 1);
    assert_int_equal(send_client(c, 1, 1,
                                 request(CLIENT_PUT, 1, 1, "a", "1", NULL)),
                     ERR_OK);
    assert_int_equal(send_client(c, 1, 1,
                                 request(CLIENT_PUT, 2, 1, "b", "1", NULL)),
                     ERR_OK);
    raft_index last = raft_last_index(core(c, 1));
    assert_int_equal(send_client(c, 1, 1,
                                 request(CLIENT_PUT, 3, 1, "c", "1", NULL)),
                     ERR_AGAIN);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_RETRY);
    assert_int_equal(l->replies[0].client_id, 3);
    assert_int_equal(raft_last_index(core(c, 1)), last);
    /* The retry of an in-flight one still just waits. */
    assert_int_equal(send_client(c, 1, 2,
                                 request(CLIENT_PUT, 1, 1, "a", "1", NULL)),
                     ERR_OK);
    deliver(c);
    assert_int_equal(l->n_replies, 3);
    assert_int_equal(l->replies[1].status, CLIENT_OK);
    assert_int_equal(l->replies[2].status, CLIENT_OK);
}


/* Without io->sync a persist is durable on return: the follower's
 * acknowledgement leaves in the same flush. */
static void test_replica_sync_null_sends_ack_at_once(void **state)
{
    struct cluster *c = *state;
    elect(c, 1);
    heartbeat(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    assert_int_equal(replica_flush(node(c, 1)->rep, c->now), ERR_OK);
    hand_over(c, 1);
    struct tnode *f = node(c, 2);
    assert_int_equal(replica_flush(f->rep, c->now), ERR_OK);
    assert_int_equal(f->n_out, 1);
    assert_int_equal(f->outbox[0].msg.type, MSG_APPEND_REPLY);
    assert_true(f->outbox[0].msg.u.append_reply.success);
    assert_int_equal(f->outbox[0].msg.u.append_reply.match_index,
                     raft_last_index(core(c, 1)));
    assert_int_equal(f->n_sync, 0);
}

/* With io->sync a follower's acknowledgement waits for the sync asked
 * after its write (fake_send checks durability on every send); the flush
 * asks one sync and no second while it runs. The leader counts its own
 * write only once its own sync is done. */
static void test_replica_async_ack_waits_for_sync(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    struct tnode *f = node(c, 2);
    elect(c, 1);
    heartbeat(c, 1);
    size_t f_syncs = f->n_sync;
    size_t f_persists = f->n_persist;
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_true(l->is_syncing);
    raft_index last = raft_last_index(core(c, 1));
    hand_over(c, 1);
    assert_int_equal(replica_flush(f->rep, c->now), ERR_OK);
    assert_int_equal(f->n_persist, f_persists + 1);
    assert_int_equal(f->n_out, 0); /* Written, not durable: held. */
    assert_int_equal(f->n_sync, f_syncs + 1);
    assert_int_equal(replica_flush(f->rep, c->now), ERR_OK);
    assert_int_equal(f->n_sync, f_syncs + 1);
    assert_int_equal(f->n_out, 0);
    sync_done(c, 2);
    assert_int_equal(f->n_out, 1);
    assert_int_equal(f->outbox[0].msg.type, MSG_APPEND_REPLY);
    assert_true(f->outbox[0].msg.u.append_reply.success);
    assert_int_equal(f->outbox[0].msg.u.append_reply.match_index, last);
    /* Node 3 stays silent: the leader's own unsynced copy is no vote. */
    hand_over(c, 2);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(raft_commit_index(core(c, 1)), last - 1);
    assert_int_equal(l->n_replies, 0);
    sync_done(c, 1);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(raft_commit_index(core(c, 1)), last);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_OK);
}

/* A candidate's RequestVotes and a voter's grant each wait for the sync
 * that makes the new term and vote durable. */
static void test_replica_async_vote_waits_for_sync(void **state)
{
    struct cluster *c = *state;
    struct tnode *cand = node(c, 1);
    struct tnode *voter = node(c, 2);
    c->now += 2 * ELECTION_MS;
    assert_int_equal(replica_tick(cand->rep, c->now), ERR_OK);
    assert_int_equal(replica_flush(cand->rep, c->now), ERR_OK);
    assert_int_equal(cand->n_out, 2); /* Pre-votes change nothing. */
    assert_int_equal(cand->n_sync, 0);
    hand_over(c, 1);
    assert_int_equal(replica_flush(voter->rep, c->now), ERR_OK);
    assert_int_equal(voter->n_out, 1); /* Nothing pending: at once. */
    hand_over(c, 2);
    assert_int_equal(raft_role(core(c, 1)), RAFT_CANDIDATE);
    assert_int_equal(replica_flush(cand->rep, c->now), ERR_OK);
    assert_int_equal(cand->n_out, 0);
    assert_int_equal(cand->n_sync, 1);
    sync_done(c, 1);
    assert_int_equal(cand->n_out, 2);
    assert_int_equal(cand->outbox[0].msg.type, MSG_VOTE);
    assert_false(cand->outbox[0].msg.u.vote.pre_vote);
    hand_over(c, 1);
    assert_int_equal(replica_flush(voter->rep, c->now), ERR_OK);
    assert_int_equal(voter->n_out, 0);
    assert_int_equal(voter->n_sync, 1);
    sync_done(c, 2);
    assert_int_equal(voter->n_out, 1);
    assert_int_equal(voter->outbox[0].msg.type, MSG_VOTE_REPLY);
    assert_true(voter->outbox[0].msg.u.vote_reply.granted);
    hand_over(c, 2);
    assert_int_equal(raft_role(core(c, 1)), RAFT_LEADER);
}

/* One sync at a time: writes made while one runs wait for the next, which
 * the first flush after it finished asks for; with nothing written since,
 * no sync is asked. A lone leader answers only what its sync covered. */
static void test_replica_async_one_sync_at_a_time(void **state)
{
    struct cluster *c = *state;
    struct tnode *t = node(c, 1);
    c->now += 2 * ELECTION_MS;
    assert_int_equal(replica_tick(t->rep, c->now), ERR_OK);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(raft_role(core(c, 1)), RAFT_LEADER);
    assert_int_equal(t->n_sync, 1);
    assert_int_equal(raft_commit_index(core(c, 1)), 0);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_sync, 1); /* Nothing new written. */
    size_t persists = t->n_persist;
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_persist, persists + 1);
    assert_int_equal(t->n_sync, 1); /* The first still runs. */
    sync_done(c, 1);
    assert_int_equal(raft_commit_index(core(c, 1)), 1); /* The no-op. */
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_sync, 2); /* For the put, written meanwhile. */
    assert_int_equal(t->n_replies, 0);
    assert_false(kv_has(t, "k", "v"));
    sync_done(c, 1);
    assert_int_equal(replica_flush(t->rep, c->now), ERR_OK);
    assert_int_equal(t->n_replies, 1);
    assert_int_equal(t->replies[0].status, CLIENT_OK);
    assert_true(kv_has(t, "k", "v"));
    assert_int_equal(t->n_sync, 2); /* Applying wrote nothing. */
    assert_false(t->is_syncing);
}

/* End to end with every replica syncing asynchronously. */
static void test_replica_async_cluster_put_commits(void **state)
{
    struct cluster *c = *state;
    elect(c, 1);
    heartbeat(c, 1);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(node(c, 1)->n_replies, 1);
    assert_int_equal(node(c, 1)->replies[0].status, CLIENT_OK);
    heartbeat(c, 1);
    for (raft_id id = 1; id <= 3; id++) {
        assert_true(kv_has(node(c, id), "k", "v"));
        assert_true(node(c, id)->n_sync > 0);
    }
}

/* --- The lazy leader (self_sync_ms) ----------------------------------- */

/* Node 1 leads with both followers pipelined and just acknowledged; every
 * write of its own so far is synced. Returns its sync count. */
static size_t lazy_elect(struct cluster *c)
{
    struct tnode *l = node(c, 1);
    elect(c, 1);
    heartbeat(c, 1);
    assert_false(l->is_syncing);
    assert_true(l->n_sync > 0); /* Its no-op, before any ack. */
    assert_int_equal(l->durable_last, l->written_last);
    return l->n_sync;
}

/* The followers' syncs commit the leader's writes: the leader asks no sync
 * of its own, still answers its clients, and sets no deadline for it
 * before its unsynced log is SELF_UNSYNCED_MS old. */
static void test_replica_lazy_leader_skips_own_sync(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 2, "k2", "v2", NULL));
    deliver(c);
    assert_int_equal(l->n_sync, syncs);
    assert_int_equal(l->n_replies, 2);
    assert_int_equal(l->replies[0].status, CLIENT_OK);
    assert_int_equal(l->replies[1].status, CLIENT_OK);
    assert_true(kv_has(l, "k2", "v2"));
    assert_int_equal(raft_commit_index(core(c, 1)),
                     raft_last_index(core(c, 1)));
    assert_int_equal(l->written_last, raft_last_index(core(c, 1)));
    assert_true(l->durable_last < l->written_last);
    assert_true(node(c, 2)->n_sync > 0);
    assert_int_equal(replica_deadline(l->rep), c->now + SELF_UNSYNCED_MS);
}

/* Though its followers commit, a leader whose log has been unsynced for
 * SELF_UNSYNCED_MS (its deadline) asks a sync then, and not before. */
static void test_replica_lazy_leader_syncs_old_backlog(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    assert_true(l->durable_last < l->written_last);
    uint64_t due = c->now + SELF_UNSYNCED_MS;
    assert_int_equal(replica_deadline(l->rep), due);
    c->now = due - 1;
    assert_int_equal(replica_tick(l->rep, c->now), ERR_OK);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_sync, syncs);
    c->now = due;
    assert_int_equal(replica_tick(l->rep, c->now), ERR_OK);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_sync, syncs + 1);
    assert_true(replica_deadline(l->rep) > c->now);
    sync_done(c, 1);
    assert_int_equal(l->durable_last, l->written_last);
    assert_true(replica_deadline(l->rep) > c->now);
}

/* With one follower down the leader's own copy is needed: no sync at the
 * acknowledgement, one LAZY_SYNC_MS later (its deadline), then the
 * client is answered. */
static void test_replica_lazy_leader_syncs_when_needed(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    node(c, 3)->is_down = true;
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(l->n_sync, syncs);
    assert_int_equal(l->n_replies, 0);
    assert_int_equal(replica_deadline(l->rep), c->now + LAZY_SYNC_MS);
    c->now += LAZY_SYNC_MS;
    assert_int_equal(replica_tick(l->rep, c->now), ERR_OK);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(l->n_sync, syncs + 1);
    assert_true(replica_deadline(l->rep) > c->now);
    deliver(c);
    assert_int_equal(l->n_replies, 1);
    assert_int_equal(l->replies[0].status, CLIENT_OK);
    assert_int_equal(l->durable_last, l->written_last);
}

/* A vote request for the lazy leader (with unsynced writes of its own). */
static struct raft_msg lazy_vote(struct cluster *c, raft_id from,
                                 bool pre_vote, bool transfer)
{
    const struct raft *r = core(c, 1);
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_VOTE;
    m.from = from;
    m.to = 1;
    m.term = raft_current_term(r) + 1;
    m.u.vote.last_index = raft_last_index(r);
    m.u.vote.last_term = raft_current_term(r);
    m.u.vote.pre_vote = pre_vote;
    m.u.vote.transfer = transfer;
    return m;
}

/* A leader that stays leader but holds a reply (a refused pre-vote, in
 * msgs_after behind its unsynced writes) asks a sync for it, though the
 * core wants none, and sends the reply once it is done. */
static void test_replica_lazy_leader_syncs_for_held_reply(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(l->n_sync, syncs);
    assert_true(l->durable_last < l->written_last);
    assert_false(raft_sync_wanted(core(c, 1)));
    struct raft_msg m = lazy_vote(c, 3, true, false);
    assert_int_equal(replica_on_message(l->rep, c->now, &m), ERR_OK);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(raft_role(core(c, 1)), RAFT_LEADER);
    assert_int_equal(l->n_out, 0);
    assert_int_equal(l->n_sync, syncs + 1);
    sync_done(c, 1);
    assert_int_equal(l->n_out, 1);
    assert_int_equal(l->outbox[0].msg.type, MSG_VOTE_REPLY);
    assert_true(l->outbox[0].msg.u.vote_reply.pre_vote);
    assert_false(l->outbox[0].msg.u.vote_reply.granted);
}

/* A leader that steps down to grant a vote (a leadership transfer) syncs
 * its unsynced writes and the vote before the grant leaves (fake_send
 * checks the vote is durable). */
static void test_replica_lazy_leader_syncs_to_grant_vote(void **state)
{
    struct cluster *c = *state;
    struct tnode *l = node(c, 1);
    size_t syncs = lazy_elect(c);
    send_client(c, 1, 1, request(CLIENT_PUT, 7, 1, "k", "v", NULL));
    deliver(c);
    assert_int_equal(l->n_sync, syncs);
    struct raft_msg m = lazy_vote(c, 2, false, true);
    assert_int_equal(replica_on_message(l->rep, c->now, &m), ERR_OK);
    assert_int_equal(replica_flush(l->rep, c->now), ERR_OK);
    assert_int_equal(raft_role(core(c, 1)), RAFT_FOLLOWER);
    assert_int_equal(l->n_out, 0);
    assert_int_equal(l->n_sync, syncs + 1);
    sync_done(c, 1);
    assert_int_equal(l->n_out, 1);
    assert_int_equal(l->outbox[0].msg.type, MSG_VOTE_REPLY);
    assert_true(l->outbox[0].msg.u.vote_reply.granted);
    assert_int_equal(l->durable_last, l->written_last);
    assert_int_equal(l->durable_vote, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_replica_single_node_put_is_answered_after_apply,
            setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_put_waits_for_quorum_commit, setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_retried_write_is_applied_once, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(test_replica_stale_seq_is_refused,
                                        setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_sessionless_writes_are_not_deduplicated,
            setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_follower_redirects_with_leader_hint, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(test_replica_follower_serves_reads,
                                        setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_redirect_without_leader_has_no_hint, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_get_answers_after_read_index, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(test_replica_single_node_get,
                                        setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_rejects_invalid_requests, setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_persists_before_dependent_replies, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(test_replica_persist_failure_stops,
                                        setup_three, teardown),
        cmocka_unit_test_setup_teardown(test_replica_apply_failure_stops,
                                        setup_single, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_leadership_loss_fails_pending, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_pending_table_full_replies_retry, setup_three,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_sync_null_sends_ack_at_once, setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_async_ack_waits_for_sync, setup_three_async,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_async_vote_waits_for_sync, setup_three_async,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_async_one_sync_at_a_time, setup_single_async,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_async_cluster_put_commits, setup_three_async,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_skips_own_sync, setup_three_lazy,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_syncs_old_backlog, setup_three_lazy,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_syncs_when_needed, setup_three_lazy,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_syncs_for_held_reply, setup_three_lazy,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_replica_lazy_leader_syncs_to_grant_vote, setup_three_lazy,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
