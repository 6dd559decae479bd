/*
 * Unit tests of the pure Raft core (node/raft*.c): each rule of Figure 2 of
 * the Raft paper has a test that fails if the rule is removed, plus pre-vote,
 * leader stickiness and ReadIndex. A tiny in-test cluster hands messages from
 * one core to another; "persisting" is just raft_advance (the core keeps the
 * log in memory), and a restart is a new core built from recorded state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/raft.h"

#define N_MAX 5

struct cluster {
    uint32_t n;
    struct raft *r[N_MAX + 1];      /* By id; r[0] unused. */
    bool cut[N_MAX + 1][N_MAX + 1]; /* cut[a][b]: drop a -> b. */
    uint64_t now;
    /* Last persisted hard state per node, as a disk would hold it. */
    raft_term term[N_MAX + 1];
    raft_id vote[N_MAX + 1];
    /* Reads handed out, per node. */
    struct raft_read reads[N_MAX + 1][16];
    size_t n_reads[N_MAX + 1];
    size_t n_applied[N_MAX + 1];
    /* Each node's durable log, for fetch and restarts. */
    struct disk_log {
        size_t n;
        struct raft_entry e[512];
        uint8_t data[512][8];
        size_t n_fetches;
    } disk[N_MAX + 1];
};

static void disk_persist(struct disk_log *d, const struct raft_ready *rd)
{
    if (rd->truncate_from != 0 && rd->truncate_from <= d->n) {
        d->n = (size_t)rd->truncate_from - 1;
    }
    for (size_t i = 0; i < rd->n_entries; i++) {
        size_t at = (size_t)(rd->entries_first_index + i - 1);
        if (at > d->n || at >= 512) {
            return; /* A test that loaded state the disk never saw. */
        }
        assert_true(rd->entries[i].len <= 8);
        d->e[at] = rd->entries[i];
        memcpy(d->data[at], rd->entries[i].data, rd->entries[i].len);
        d->e[at].data = d->data[at];
        d->n = at + 1;
    }
}

static int disk_fetch(void *ctx, raft_index lo, raft_index hi, size_t bytes_max,
                      struct raft_entry *out, size_t cap, size_t *n)
{
    struct disk_log *d = ctx;
    (void)bytes_max;
    assert_true(lo >= 1 && lo <= hi && hi <= d->n);
    size_t k = 0;
    for (raft_index i = lo; i <= hi && k < cap && k < 3; i++) {
        out[k++] = d->e[i - 1];
    }
    *n = k;
    d->n_fetches++;
    return ERR_OK;
}

static struct raft_config config_for(raft_id id, uint32_t n)
{
    struct raft_config c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.n_members = n;
    for (uint32_t i = 0; i < n; i++) {
        c.members[i] = i + 1;
    }
    c.heartbeat_ms = 50;
    c.election_ms = 150;
    c.seed = id * 7919;
    c.batch_bytes_max = 60000;
    c.inflight_max = 4;
    c.pre_vote = false;
    c.check_quorum = false;
    return c;
}

static struct raft *new_node(struct cluster *c, const struct raft_config *cfg,
                             const struct raft_loaded *loaded)
{
    struct raft_loaded empty;
    memset(&empty, 0, sizeof empty);
    empty.first_index = 1;
    struct raft *r =
        raft_new(cfg, loaded ? loaded : &empty, NULL, NULL, c->now);
    assert_non_null(r);
    return r;
}

/* n nodes; commit_notify_ms as in raft_config (0: at once). */
static void cluster_init_notify(struct cluster *c, uint32_t n, bool pre_vote,
                                uint32_t commit_notify_ms)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->now = 1000;
    for (raft_id id = 1; id <= n; id++) {
        struct raft_config cfg = config_for(id, n);
        cfg.pre_vote = pre_vote;
        cfg.check_quorum = pre_vote;
        cfg.commit_notify_ms = commit_notify_ms;
        c->r[id] = new_node(c, &cfg, NULL);
    }
}

static void cluster_init(struct cluster *c, uint32_t n, bool pre_vote)
{
    cluster_init_notify(c, n, pre_vote, 0);
}

static void cluster_free(struct cluster *c)
{
    for (raft_id id = 1; id <= c->n; id++) {
        raft_free(c->r[id]);
    }
}

static void deliver(struct cluster *c, const struct raft_msg *m)
{
    assert_true(m->to >= 1 && m->to <= c->n);
    if (c->cut[m->from][m->to] || c->r[m->to] == NULL) {
        return;
    }
    assert_int_equal(raft_step(c->r[m->to], c->now, m), ERR_OK);
}

/* Runs every node's ready batches, delivering messages at once, until no
 * node has output. */
static void pump(struct cluster *c)
{
    for (int round = 0; round < 1000; round++) {
        bool any = false;
        for (raft_id id = 1; id <= c->n; id++) {
            struct raft *r = c->r[id];
            if (r == NULL || !raft_has_ready(r)) {
                continue;
            }
            any = true;
            struct raft_ready rd;
            raft_ready(r, &rd);
            for (size_t i = 0; i < rd.n_msgs_now; i++) {
                deliver(c, &rd.msgs_now[i]);
            }
            disk_persist(&c->disk[id], &rd);
            if (rd.has_hard_state) {
                c->term[id] = rd.term;
                c->vote[id] = rd.voted_for;
            }
            for (size_t i = 0; i < rd.n_msgs_after; i++) {
                deliver(c, &rd.msgs_after[i]);
            }
            for (size_t i = 0; i < rd.n_reads; i++) {
                c->reads[id][c->n_reads[id]++] = rd.reads[i];
            }
            c->n_applied[id] += rd.n_committed;
            raft_advance(r, &rd);
        }
        if (!any) {
            return;
        }
    }
    fail_msg("pump did not settle");
}

/* Advances time to node id's deadline and ticks it. */
static void fire(struct cluster *c, raft_id id)
{
    uint64_t d = raft_deadline(c->r[id]);
    if (d > c->now) {
        c->now = d;
    }
    assert_int_equal(raft_tick(c->r[id], c->now), ERR_OK);
    pump(c);
    if (raft_role(c->r[id]) == RAFT_CANDIDATE &&
        raft_deadline(c->r[id]) <= c->now) {
        /* A single voter: its own vote, now durable, wins. */
        assert_int_equal(raft_tick(c->r[id], c->now), ERR_OK);
        pump(c);
    }
}

static raft_id leader_of(struct cluster *c)
{
    raft_id leader = 0;
    for (raft_id id = 1; id <= c->n; id++) {
        if (c->r[id] != NULL && raft_role(c->r[id]) == RAFT_LEADER) {
            leader = id;
        }
    }
    return leader;
}

static void propose(struct cluster *c, raft_id id, const char *text)
{
    raft_index idx;
    assert_int_equal(raft_propose(c->r[id], c->now, RAFT_ENTRY_NORMAL,
                                  (const uint8_t *)text, (uint32_t)strlen(text),
                                  &idx),
                     ERR_OK);
}

static void test_single_node_elects_itself_and_commits(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 1, false);
    /* Figure 2, State: its own vote counts once durable, not before. */
    c.now = raft_deadline(c.r[1]);
    assert_int_equal(raft_tick(c.r[1], c.now), ERR_OK);
    assert_int_equal(raft_role(c.r[1]), RAFT_CANDIDATE);
    assert_true(raft_deadline(c.r[1]) > c.now);
    pump(&c);
    assert_int_equal(c.term[1], 1);
    assert_int_equal(raft_deadline(c.r[1]), c.now);
    fire(&c, 1);
    assert_int_equal(raft_role(c.r[1]), RAFT_LEADER);
    assert_int_equal(raft_current_term(c.r[1]), 1);
    /* The no-op of the new term is committed once durable. */
    assert_int_equal(raft_commit_index(c.r[1]), 1);
    propose(&c, 1, "x");
    /* Thesis 10.2.1: not committed before our own write is durable. */
    assert_int_equal(raft_commit_index(c.r[1]), 1);
    pump(&c);
    assert_int_equal(raft_commit_index(c.r[1]), 2);
    assert_int_equal(c.n_applied[1], 2);
    cluster_free(&c);
}

static void test_three_nodes_elect_one_leader_and_replicate(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 2);
    assert_int_equal(leader_of(&c), 2);
    for (raft_id id = 1; id <= 3; id++) {
        assert_int_equal(raft_current_term(c.r[id]), 1);
        assert_int_equal(raft_leader(c.r[id]), 2);
    }
    propose(&c, 2, "a");
    propose(&c, 2, "b");
    pump(&c);
    fire(&c, 2); /* A heartbeat carries the commit index. */
    for (raft_id id = 1; id <= 3; id++) {
        assert_int_equal(raft_last_index(c.r[id]), 3);
        assert_int_equal(raft_commit_index(c.r[id]), 3);
    }
    cluster_free(&c);
}

/* Counts the appends in rd that carry no entries. */
static size_t commit_only_appends(const struct raft_ready *rd)
{
    size_t n = 0;
    for (size_t i = 0; i < rd->n_msgs_now; i++) {
        const struct raft_msg *m = &rd->msgs_now[i];
        n += m->type == MSG_APPEND && m->u.append.n_entries == 0;
    }
    return n;
}

/* With commit_notify_ms, a new commit index waits for the next append
 * with entries, which carries it to every follower, and only goes alone
 * when none came within commit_notify_ms; at 0 (the default) it goes
 * alone at once. */
static void test_commit_index_rides_on_the_next_append(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init_notify(&c, 3, false, 5);
    fire(&c, 2);
    assert_int_equal(leader_of(&c), 2);
    uint64_t hb_due = c.now + 50; /* Elected and committed at c.now. */
    /* The no-op committed on the leader; no append told the followers. */
    assert_int_equal(raft_commit_index(c.r[2]), 1);
    assert_int_equal(raft_commit_index(c.r[1]), 0);
    assert_int_equal(raft_commit_index(c.r[3]), 0);
    uint64_t committed_at = c.now;
    assert_int_equal(raft_deadline(c.r[2]), committed_at + 5);
    /* An append with entries carries it to both: nothing is due alone. */
    c.now += 2;
    propose(&c, 2, "a");
    struct raft_ready rd;
    raft_ready(c.r[2], &rd);
    assert_int_equal(rd.n_msgs_now, 2);
    assert_int_equal(commit_only_appends(&rd), 0);
    for (size_t i = 0; i < rd.n_msgs_now; i++) {
        assert_int_equal(rd.msgs_now[i].u.append.commit, 1);
        assert_int_equal(rd.msgs_now[i].u.append.n_entries, 1);
    }
    assert_true(raft_deadline(c.r[2]) > committed_at + 5);
    /* "a" reaches node 1 now and node 3 later (held before the next
     * proposal, while its entries still point into the leader's log). */
    struct raft_msg to3;
    memset(&to3, 0, sizeof to3);
    for (size_t i = 0; i < rd.n_msgs_now; i++) {
        if (rd.msgs_now[i].to == 3) {
            to3 = rd.msgs_now[i];
        } else {
            deliver(&c, &rd.msgs_now[i]);
        }
    }
    assert_int_equal(to3.to, 3);
    disk_persist(&c.disk[2], &rd);
    raft_advance(c.r[2], &rd);
    pump(&c); /* Node 1 acknowledges: "a" commits, 2 of 3. */
    assert_int_equal(raft_commit_index(c.r[2]), 2);
    assert_int_equal(raft_commit_index(c.r[1]), 1);
    committed_at = c.now;
    assert_int_equal(raft_deadline(c.r[2]), committed_at + 5);
    /* Nothing came: at the deadline node 1 gets it alone. Node 3 does
     * not: a follower takes the commit index only up to what the append
     * proves it shares, and the leader knows it shares only index 1. */
    c.now = committed_at + 4;
    assert_int_equal(raft_tick(c.r[2], c.now), ERR_OK);
    assert_false(raft_has_ready(c.r[2]));
    c.now = committed_at + 5;
    assert_int_equal(raft_tick(c.r[2], c.now), ERR_OK);
    raft_ready(c.r[2], &rd);
    assert_int_equal(commit_only_appends(&rd), 1);
    assert_int_equal(rd.msgs_now[0].to, 1);
    assert_int_equal(rd.msgs_now[0].u.append.commit, 2);
    deliver(&c, &rd.msgs_now[0]);
    raft_advance(c.r[2], &rd);
    pump(&c);
    assert_int_equal(raft_commit_index(c.r[1]), 2);
    assert_int_equal(raft_deadline(c.r[2]), hb_due);
    /* Node 3's copy of "a" arrives late, and so does its acknowledgement:
     * now an append at its match tells it more, 5 ms later. */
    c.now += 1;
    deliver(&c, &to3);
    pump(&c);
    assert_int_equal(raft_commit_index(c.r[3]), 1);
    assert_int_equal(raft_deadline(c.r[2]), c.now + 5);
    fire(&c, 2);
    assert_int_equal(raft_commit_index(c.r[3]), 2);
    assert_int_equal(raft_deadline(c.r[2]), hb_due);
    cluster_free(&c);

    /* At 0 the commit-only appends go out in the batch after the acks. */
    cluster_init(&c, 3, false);
    fire(&c, 2);
    assert_int_equal(raft_commit_index(c.r[1]), 1);
    assert_int_equal(raft_commit_index(c.r[3]), 1);
    cluster_free(&c);
}

static struct raft_msg vote_req(raft_id from, raft_id to, raft_term term,
                                raft_index last_index, raft_term last_term)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_VOTE;
    m.from = from;
    m.to = to;
    m.term = term;
    m.u.vote.last_index = last_index;
    m.u.vote.last_term = last_term;
    return m;
}

/* Steps one message into r and returns the single reply it queued. */
static struct raft_msg step_reply(struct raft *r, uint64_t now,
                                  const struct raft_msg *m)
{
    assert_int_equal(raft_step(r, now, m), ERR_OK);
    struct raft_ready rd;
    raft_ready(r, &rd);
    assert_int_equal(rd.n_msgs_after + rd.n_msgs_now, 1);
    struct raft_msg reply = rd.n_msgs_after ? rd.msgs_after[0] : rd.msgs_now[0];
    raft_advance(r, &rd);
    return reply;
}

static void test_vote_granted_once_per_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_msg m = vote_req(2, 1, 5, 0, 0);
    struct raft_msg rep = step_reply(c.r[1], c.now, &m);
    assert_true(rep.u.vote_reply.granted);
    assert_int_equal(raft_voted_for(c.r[1]), 2);
    /* Figure 2, RequestVote receiver 2: votedFor is 2, not 3. */
    m = vote_req(3, 1, 5, 0, 0);
    rep = step_reply(c.r[1], c.now, &m);
    assert_false(rep.u.vote_reply.granted);
    /* The same candidate asking again (a retry) is granted again. */
    m = vote_req(2, 1, 5, 0, 0);
    rep = step_reply(c.r[1], c.now, &m);
    assert_true(rep.u.vote_reply.granted);
    cluster_free(&c);
}

static void test_vote_reply_waits_for_durable_vote(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_msg m = vote_req(2, 1, 5, 0, 0);
    assert_int_equal(raft_step(c.r[1], c.now, &m), ERR_OK);
    struct raft_ready rd;
    raft_ready(c.r[1], &rd);
    assert_true(rd.has_hard_state);
    assert_int_equal(rd.term, 5);
    assert_int_equal(rd.voted_for, 2);
    assert_int_equal(rd.n_msgs_now, 0);
    assert_int_equal(rd.n_msgs_after, 1);
    raft_advance(c.r[1], &rd);
    cluster_free(&c);
}

static void test_vote_refused_for_stale_log(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    propose(&c, 1, "a");
    pump(&c);
    /* Node 2 has entries 1-2 of term 1. A candidate with a shorter log of
     * the same term, or an older last term, must not get its vote. */
    struct raft_msg m = vote_req(3, 2, 2, 1, 1);
    struct raft_msg rep = step_reply(c.r[2], c.now, &m);
    assert_false(rep.u.vote_reply.granted);
    m = vote_req(3, 2, 3, 9, 0);
    rep = step_reply(c.r[2], c.now, &m);
    assert_false(rep.u.vote_reply.granted);
    /* Same last term and as long: granted. */
    m = vote_req(3, 2, 4, 2, 1);
    rep = step_reply(c.r[2], c.now, &m);
    assert_true(rep.u.vote_reply.granted);
    cluster_free(&c);
}

static void test_vote_refused_for_stale_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_msg m = vote_req(2, 1, 5, 0, 0);
    step_reply(c.r[1], c.now, &m);
    m = vote_req(3, 1, 4, 10, 4);
    struct raft_msg rep = step_reply(c.r[1], c.now, &m);
    assert_false(rep.u.vote_reply.granted);
    assert_int_equal(rep.term, 5);
    cluster_free(&c);
}

static void test_restarted_node_keeps_its_vote(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_msg m = vote_req(2, 1, 5, 0, 0);
    assert_int_equal(raft_step(c.r[1], c.now, &m), ERR_OK);
    pump(&c); /* Records the persisted hard state in c.term / c.vote. */
    /* Restart node 1 from what its disk holds. */
    struct raft_loaded l;
    memset(&l, 0, sizeof l);
    l.first_index = 1;
    l.term = c.term[1];
    l.voted_for = c.vote[1];
    raft_free(c.r[1]);
    struct raft_config cfg = config_for(1, 3);
    c.r[1] = new_node(&c, &cfg, &l);
    m = vote_req(3, 1, 5, 0, 0);
    struct raft_msg rep = step_reply(c.r[1], c.now, &m);
    assert_false(rep.u.vote_reply.granted);
    cluster_free(&c);
}

static struct raft_msg append_msg(raft_id from, raft_id to, raft_term term,
                                  raft_index prev, raft_term prev_term,
                                  const struct raft_entry *e, uint32_t n,
                                  raft_index commit)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = from;
    m.to = to;
    m.term = term;
    m.u.append.prev_index = prev;
    m.u.append.prev_term = prev_term;
    m.u.append.entries = e;
    m.u.append.n_entries = n;
    m.u.append.commit = commit;
    return m;
}

static const uint8_t payload[] = "p";

static struct raft_entry ent(raft_term term)
{
    struct raft_entry e = {term, RAFT_ENTRY_NORMAL, 1, payload};
    return e;
}

static void test_append_rejects_mismatched_prev_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_entry e[2] = {ent(1), ent(1)};
    struct raft_msg m = append_msg(2, 1, 1, 0, 0, e, 2, 0);
    struct raft_msg rep = step_reply(c.r[1], c.now, &m);
    assert_true(rep.u.append_reply.success);
    /* Figure 2, AppendEntries receiver 2: prev (2, term 2) not in log. */
    struct raft_entry e3 = ent(2);
    m = append_msg(2, 1, 2, 2, 2, &e3, 1, 0);
    rep = step_reply(c.r[1], c.now, &m);
    assert_false(rep.u.append_reply.success);
    assert_int_equal(rep.u.append_reply.conflict_term, 1);
    assert_int_equal(rep.u.append_reply.conflict_index, 1);
    assert_int_equal(raft_last_index(c.r[1]), 2);
    /* Past the end: the hint is our last index + 1. */
    m = append_msg(2, 1, 2, 7, 2, &e3, 1, 0);
    rep = step_reply(c.r[1], c.now, &m);
    assert_false(rep.u.append_reply.success);
    assert_int_equal(rep.u.append_reply.conflict_index, 3);
    cluster_free(&c);
}

static void test_duplicate_append_does_not_truncate(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_entry e[3] = {ent(1), ent(1), ent(1)};
    struct raft_msg m = append_msg(2, 1, 1, 0, 0, e, 3, 0);
    step_reply(c.r[1], c.now, &m);
    assert_int_equal(raft_last_index(c.r[1]), 3);
    /* An old, reordered copy carrying only entry 1 arrives late. */
    m = append_msg(2, 1, 1, 0, 0, e, 1, 0);
    struct raft_msg rep = step_reply(c.r[1], c.now, &m);
    assert_true(rep.u.append_reply.success);
    assert_int_equal(rep.u.append_reply.match_index, 1);
    assert_int_equal(raft_last_index(c.r[1]), 3);
    cluster_free(&c);
}

static void test_conflicting_append_truncates(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_entry e[3] = {ent(1), ent(1), ent(1)};
    struct raft_msg m = append_msg(2, 1, 1, 0, 0, e, 3, 0);
    step_reply(c.r[1], c.now, &m);
    /* Figure 2, receiver 3: entry 2 conflicts (term 2): delete it and all
     * that follow, then append. */
    struct raft_entry e2 = ent(2);
    m = append_msg(3, 1, 2, 1, 1, &e2, 1, 0);
    assert_int_equal(raft_step(c.r[1], c.now, &m), ERR_OK);
    struct raft_ready rd;
    raft_ready(c.r[1], &rd);
    assert_int_equal(rd.truncate_from, 2);
    assert_int_equal(rd.entries_first_index, 2);
    assert_int_equal(rd.n_entries, 1);
    raft_advance(c.r[1], &rd);
    assert_int_equal(raft_last_index(c.r[1]), 2);
    assert_int_equal(raft_term_at(c.r[1], 2), 2);
    cluster_free(&c);
}

static void test_follower_commit_capped_by_verified_entries(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_entry e[3] = {ent(1), ent(1), ent(1)};
    struct raft_msg m = append_msg(2, 1, 1, 0, 0, e, 3, 0);
    step_reply(c.r[1], c.now, &m);
    /* Figure 2, receiver 5: commit = min(leaderCommit, last new entry).
     * A heartbeat at prev 1 proves only entry 1. */
    m = append_msg(2, 1, 1, 1, 1, NULL, 0, 3);
    step_reply(c.r[1], c.now, &m);
    assert_int_equal(raft_commit_index(c.r[1]), 1);
    cluster_free(&c);
}

/* Messages no correct member sends (forged with a member's address) are
 * ignored whole: no term change, no append, no reply, no crash. */
static void test_implausible_messages_are_ignored(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    raft_term t = raft_current_term(c.r[2]);
    raft_index last = raft_last_index(c.r[2]);
    struct raft_entry hi = ent(t + 5);
    struct raft_entry zero = ent(0);
    struct raft_msg bad[] = {
        append_msg(1, 2, UINT64_MAX, 0, 0, NULL, 0, 0),
        append_msg(1, 2, t + RAFT_TERM_JUMP_MAX + 1, 0, 0, NULL, 0, 0),
        append_msg(1, 2, t, last, t, &hi, 1, 0),   /* Entry above term. */
        append_msg(1, 2, t, last, t, &zero, 1, 0), /* Entry term 0. */
        append_msg(1, 2, t, 0, 3, NULL, 0, 0),     /* prev 0 with a term. */
        vote_req(3, 2, t + 1, 5, t + 2),           /* Log above its term. */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(raft_msg_is_plausible(c.r[2], &bad[i]));
        assert_int_equal(raft_step(c.r[2], c.now, &bad[i]), ERR_OK);
        assert_false(raft_has_ready(c.r[2]));
    }
    assert_int_equal(raft_current_term(c.r[2]), t);
    assert_int_equal(raft_last_index(c.r[2]), last);
    cluster_free(&c);
}

static void test_leader_steps_down_on_higher_term_reply(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    assert_int_equal(leader_of(&c), 1);
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND_REPLY;
    m.from = 3;
    m.to = 1;
    m.term = 7;
    assert_int_equal(raft_step(c.r[1], c.now, &m), ERR_OK);
    assert_int_equal(raft_role(c.r[1]), RAFT_FOLLOWER);
    assert_int_equal(raft_current_term(c.r[1]), 7);
    assert_int_equal(raft_voted_for(c.r[1]), 0);
    cluster_free(&c);
}

static void test_stale_term_append_rejected_with_our_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    struct raft_msg v = vote_req(2, 1, 4, 0, 0);
    step_reply(c.r[1], c.now, &v);
    struct raft_entry e = ent(3);
    struct raft_msg m = append_msg(3, 1, 3, 0, 0, &e, 1, 0);
    struct raft_msg rep = step_reply(c.r[1], c.now, &m);
    assert_false(rep.u.append_reply.success);
    assert_int_equal(rep.term, 4);
    assert_int_equal(raft_last_index(c.r[1]), 0);
    cluster_free(&c);
}

static struct raft_msg reply_msg(int type, raft_id from, raft_id to,
                                 raft_term term)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)type;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

/* c with node 1 only (nodes 2 and 3 exist only as the messages a test
 * hands it), loaded from l (NULL: empty), elected by node 3's vote. */
static void lone_leader(struct cluster *c, const struct raft_loaded *l)
{
    memset(c, 0, sizeof *c);
    c->n = 3;
    c->now = 1000;
    struct raft_config cfg = config_for(1, 3);
    c->r[1] = new_node(c, &cfg, l);
    fire(c, 1);
    assert_int_equal(raft_role(c->r[1]), RAFT_CANDIDATE);
    struct raft_msg m =
        reply_msg(MSG_VOTE_REPLY, 3, 1, raft_current_term(c->r[1]));
    m.u.vote_reply.granted = true;
    assert_int_equal(raft_step(c->r[1], c->now, &m), ERR_OK);
    pump(c);
    assert_int_equal(raft_role(c->r[1]), RAFT_LEADER);
}

/* Figure 8 (paper 5.4.2): a leader must not commit an entry of an older
 * term by counting replicas. Node 1 leads term 3 with log [t1, t1, t3 noop];
 * node 2 reports holding entries up to 2 (term 1): that is a majority for
 * index 2, but it may still be overwritten, so commit stays 0 until the
 * term-3 no-op itself is on a majority. */
static void test_old_term_entry_not_committed_by_counting(void **state)
{
    (void)state;
    struct cluster c;
    struct raft_entry e[2] = {ent(1), ent(1)};
    struct raft_loaded l;
    memset(&l, 0, sizeof l);
    l.first_index = 1;
    l.term = 2;
    l.n_entries = 2;
    l.entries = e;
    lone_leader(&c, &l);
    struct raft_msg m;
    assert_int_equal(raft_last_index(c.r[1]), 3);
    m = reply_msg(MSG_APPEND_REPLY, 2, 1, 3);
    m.u.append_reply.success = true;
    m.u.append_reply.match_index = 2;
    assert_int_equal(raft_step(c.r[1], c.now, &m), ERR_OK);
    pump(&c);
    assert_int_equal(raft_commit_index(c.r[1]), 0);
    m.from = 3;
    m.u.append_reply.match_index = 3;
    assert_int_equal(raft_step(c.r[1], c.now, &m), ERR_OK);
    pump(&c);
    assert_int_equal(raft_commit_index(c.r[1]), 3);
    raft_free(c.r[1]);
}

static void test_prevote_does_not_raise_terms(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, true);
    fire(&c, 1);
    assert_int_equal(leader_of(&c), 1);
    raft_term t = raft_current_term(c.r[1]);
    /* Node 3 is partitioned and keeps timing out: with pre-vote it never
     * raises its term, so healing does not disrupt the leader. */
    c.cut[3][1] = c.cut[3][2] = c.cut[1][3] = c.cut[2][3] = true;
    for (int i = 0; i < 5; i++) {
        fire(&c, 3);
    }
    assert_int_equal(raft_current_term(c.r[3]), t);
    c.cut[3][1] = c.cut[3][2] = c.cut[1][3] = c.cut[2][3] = false;
    fire(&c, 1);
    assert_int_equal(leader_of(&c), 1);
    assert_int_equal(raft_current_term(c.r[1]), t);
    cluster_free(&c);
}

static void test_lease_ignores_disruptive_vote(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, true);
    fire(&c, 1);
    /* Node 2 just heard from leader 1: a RequestVote for a higher term
     * from node 3 is refused and does not raise node 2's term. */
    struct raft_msg m = vote_req(3, 2, 9, 100, 9);
    struct raft_msg rep = step_reply(c.r[2], c.now, &m);
    assert_false(rep.u.vote_reply.granted);
    assert_int_equal(raft_current_term(c.r[2]), 1);
    cluster_free(&c);
}

static void test_read_index_needs_a_quorum_round(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    propose(&c, 1, "a");
    pump(&c);
    assert_int_equal(raft_read_index(c.r[1], c.now, 42), ERR_OK);
    pump(&c);
    assert_int_equal(c.n_reads[1], 1);
    assert_true(c.reads[1][0].ok);
    assert_int_equal(c.reads[1][0].read_id, 42);
    assert_int_equal(c.reads[1][0].index, 2);
    cluster_free(&c);
    /* A node that knows no leader cannot serve a read. */
    cluster_init(&c, 3, false);
    assert_int_equal(raft_read_index(c.r[2], c.now, 1), ERR_NOT_LEADER);
    cluster_free(&c);
}

/* A follower serves a read through the leader's ReadIndex: it gets the
 * leader's confirmed index, no log write; a lost answer fails the read
 * after an election timeout instead of leaving it waiting forever. */
static void test_follower_read_through_leader(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    propose(&c, 1, "a");
    pump(&c);
    raft_index last = raft_last_index(c.r[1]);
    assert_int_equal(raft_read_index(c.r[2], c.now, 9), ERR_OK);
    pump(&c);
    assert_int_equal(c.n_reads[2], 1);
    assert_true(c.reads[2][0].ok);
    assert_int_equal(c.reads[2][0].read_id, 9);
    assert_int_equal(c.reads[2][0].index, 2);
    assert_int_equal(raft_last_index(c.r[1]), last); /* No log write. */
    /* The leader never answers: the read fails once overdue. */
    c.cut[2][1] = true;
    assert_int_equal(raft_read_index(c.r[2], c.now, 10), ERR_OK);
    pump(&c);
    assert_int_equal(c.n_reads[2], 1);
    c.now += 150;
    assert_int_equal(raft_tick(c.r[2], c.now), ERR_OK);
    pump(&c);
    assert_int_equal(c.n_reads[2], 2);
    assert_false(c.reads[2][1].ok);
    assert_int_equal(c.reads[2][1].read_id, 10);
    cluster_free(&c);
}

/* Counts the MSG_READ_INDEX requests in r's next ready batch (then
 * advances) and returns the read_id of the last one. */
static uint64_t take_read_requests(struct raft *r, size_t *n)
{
    struct raft_ready rd;
    memset(&rd, 0, sizeof rd);
    raft_ready(r, &rd);
    uint64_t id = 0;
    *n = 0;
    for (size_t i = 0; i < rd.n_msgs_after; i++) {
        if (rd.msgs_after[i].type == MSG_READ_INDEX) {
            id = rd.msgs_after[i].u.read_index.read_id;
            (*n)++;
        }
    }
    for (size_t i = 0; i < rd.n_msgs_now; i++) {
        *n += rd.msgs_now[i].type == MSG_READ_INDEX;
    }
    raft_advance(r, &rd);
    return id;
}

/* A follower's reads of one wakeup share one MSG_READ_INDEX, and the
 * leader's one answer serves them all; a read after that request went out
 * needs a new one (its index must be asked after it arrived). */
static void test_follower_reads_share_one_request(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    propose(&c, 1, "a");
    pump(&c);
    struct raft *f = c.r[2];
    for (uint64_t id = 20; id < 23; id++) {
        assert_int_equal(raft_read_index(f, c.now, id), ERR_OK);
    }
    size_t n = 0;
    uint64_t batch = take_read_requests(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(batch, 20);
    assert_int_equal(raft_read_index(f, c.now, 23), ERR_OK);
    uint64_t next = take_read_requests(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(next, 23);
    struct raft_msg rep;
    memset(&rep, 0, sizeof rep);
    rep.type = MSG_READ_INDEX_REPLY;
    rep.from = 1;
    rep.to = 2;
    rep.term = raft_current_term(f);
    rep.u.read_index_reply.read_id = batch;
    rep.u.read_index_reply.index = 2;
    rep.u.read_index_reply.ok = true;
    assert_int_equal(raft_step(f, c.now, &rep), ERR_OK);
    struct raft_ready rd;
    memset(&rd, 0, sizeof rd);
    raft_ready(f, &rd);
    assert_int_equal(rd.n_reads, 3); /* 20, 21 and 22; not 23. */
    for (size_t i = 0; i < rd.n_reads; i++) {
        assert_true(rd.reads[i].ok);
        assert_int_equal(rd.reads[i].index, 2);
        assert_true(rd.reads[i].read_id >= 20 && rd.reads[i].read_id < 23);
    }
    raft_advance(f, &rd);
    rep.u.read_index_reply.read_id = next;
    assert_int_equal(raft_step(f, c.now, &rep), ERR_OK);
    memset(&rd, 0, sizeof rd);
    raft_ready(f, &rd);
    assert_int_equal(rd.n_reads, 1);
    assert_int_equal(rd.reads[0].read_id, 23);
    raft_advance(f, &rd);
    cluster_free(&c);
}

/* Reads arriving while a heartbeat round is unconfirmed wait for the next
 * round instead of each sending one (one round in flight at a time). */
static void test_reads_share_rounds_one_in_flight(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    pump(&c);
    c.cut[1][2] = c.cut[1][3] = true;
    assert_int_equal(raft_read_index(c.r[1], c.now, 1), ERR_OK);
    pump(&c); /* Round sent, lost. */
    assert_int_equal(raft_read_index(c.r[1], c.now, 2), ERR_OK);
    assert_int_equal(raft_read_index(c.r[1], c.now, 3), ERR_OK);
    assert_false(raft_has_ready(c.r[1]));
    c.cut[1][2] = c.cut[1][3] = false;
    fire(&c, 1); /* The heartbeat repeats the round; then the next goes. */
    assert_int_equal(c.n_reads[1], 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(c.reads[1][i].ok);
        assert_int_equal(c.reads[1][i].read_id, i + 1);
    }
    cluster_free(&c);
}

static void test_deposed_leader_never_serves_stale_read(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    /* Isolate the leader; nodes 2 and 3 elect a new one. */
    for (raft_id id = 2; id <= 3; id++) {
        c.cut[1][id] = c.cut[id][1] = true;
    }
    fire(&c, 2);
    assert_int_equal(raft_role(c.r[2]), RAFT_LEADER);
    assert_int_equal(raft_read_index(c.r[1], c.now, 7), ERR_OK);
    for (int i = 0; i < 5; i++) {
        fire(&c, 1);
    }
    assert_int_equal(c.n_reads[1], 0);
    /* Healing: node 1 learns the new term and fails the read. */
    for (raft_id id = 2; id <= 3; id++) {
        c.cut[1][id] = c.cut[id][1] = false;
    }
    fire(&c, 1);
    assert_int_equal(c.n_reads[1], 1);
    assert_false(c.reads[1][0].ok);
    cluster_free(&c);
}

static void test_check_quorum_steps_down_isolated_leader(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, true);
    fire(&c, 1);
    assert_int_equal(leader_of(&c), 1);
    for (raft_id id = 2; id <= 3; id++) {
        c.cut[1][id] = c.cut[id][1] = true;
    }
    for (int i = 0; i < 20 && raft_role(c.r[1]) == RAFT_LEADER; i++) {
        fire(&c, 1);
    }
    assert_int_equal(raft_role(c.r[1]), RAFT_FOLLOWER);
    cluster_free(&c);
}

/* A leader told its disk is bad steps down and starts no election while it
 * stays bad; another member takes over; once the disk is back it may run
 * again. */
static void test_bad_disk_leader_steps_down(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, true);
    fire(&c, 1);
    assert_int_equal(leader_of(&c), 1);
    raft_set_disk_ok(c.r[1], false);
    assert_false(raft_disk_ok(c.r[1]));
    assert_int_equal(raft_role(c.r[1]), RAFT_FOLLOWER);
    raft_index idx;
    assert_int_equal(raft_propose(c.r[1], c.now, RAFT_ENTRY_NORMAL,
                                  (const uint8_t *)"x", 1, &idx),
                     ERR_NOT_LEADER);
    raft_term term = raft_current_term(c.r[1]);
    for (int i = 0; i < 5; i++) {
        fire(&c, 1); /* Its election timer runs out: nothing starts. */
        assert_int_equal(raft_role(c.r[1]), RAFT_FOLLOWER);
    }
    assert_int_equal(raft_current_term(c.r[1]), term);
    fire(&c, 2);
    assert_int_equal(leader_of(&c), 2);
    raft_set_disk_ok(c.r[1], true);
    assert_true(raft_disk_ok(c.r[1]));
    cluster_free(&c);
}

static void test_entries_applied_only_once_committed(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    pump(&c);
    size_t applied = c.n_applied[1];
    for (raft_id id = 2; id <= 3; id++) {
        c.cut[1][id] = true;
    }
    propose(&c, 1, "a");
    pump(&c);
    /* Only a majority makes an entry committed, and only committed entries
     * reach the state machine (Figure 2, Rules for all servers). */
    assert_int_equal(raft_last_index(c.r[1]), 2);
    assert_int_equal(raft_commit_index(c.r[1]), 1);
    assert_int_equal(c.n_applied[1], applied);
    cluster_free(&c);
}

/* With a small in-memory window, a follower that missed many entries is
 * repaired from the leader's storage through the fetch callback, and a
 * node restarted from term runs plus a short tail works the same. */
static void test_window_fetches_old_entries_from_storage(void **state)
{
    (void)state;
    struct cluster *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->n = 3;
    c->now = 1000;
    for (raft_id id = 1; id <= 3; id++) {
        struct raft_config cfg = config_for(id, 3);
        cfg.mem_entries_max = 4;
        cfg.fetch = disk_fetch;
        cfg.fetch_ctx = &c->disk[id];
        c->r[id] = new_node(c, &cfg, NULL);
    }
    fire(c, 1);
    c->cut[1][3] = true;
    for (int i = 0; i < 60; i++) {
        propose(c, 1, "v");
        pump(c);
    }
    assert_int_equal(c->disk[1].n_fetches, 0);
    c->cut[1][3] = false;
    for (int i = 0; i < 30 && raft_commit_index(c->r[3]) < 61; i++) {
        fire(c, 1);
    }
    assert_true(c->disk[1].n_fetches > 0);
    assert_int_equal(raft_last_index(c->r[3]), 61);
    assert_int_equal(raft_commit_index(c->r[3]), 61);
    assert_int_equal(c->n_applied[3], 61);
    /* Restart node 2 from runs for 1..50 and a tail 51..61. */
    struct raft_term_run run = {1, 1};
    struct raft_loaded l;
    memset(&l, 0, sizeof l);
    l.term = c->term[2];
    l.voted_for = c->vote[2];
    l.first_index = 51;
    l.n_runs = 1;
    l.runs = &run;
    l.n_entries = 11;
    l.entries = &c->disk[2].e[50];
    l.applied = 61;
    struct raft_config cfg = config_for(2, 3);
    cfg.mem_entries_max = 4;
    cfg.fetch = disk_fetch;
    cfg.fetch_ctx = &c->disk[2];
    raft_free(c->r[2]);
    c->r[2] = new_node(c, &cfg, &l);
    assert_int_equal(raft_last_index(c->r[2]), 61);
    assert_int_equal(raft_term_at(c->r[2], 7), 1);
    /* Node 2 leads next and repairs a node that lost everything. */
    raft_free(c->r[1]);
    c->r[1] = NULL;
    fire(c, 2);
    assert_int_equal(raft_role(c->r[2]), RAFT_LEADER);
    propose(c, 2, "w");
    pump(c);
    fire(c, 2);
    assert_int_equal(raft_commit_index(c->r[3]), 63);
    cluster_free(c);
    free(c);
}

/* A follower configured to batch applies waits for apply_batch_min
 * entries or apply_delay_ms, then applies all committed at once; its
 * deadline says when. */
static void test_follower_batches_applies(void **state)
{
    (void)state;
    struct cluster c;
    memset(&c, 0, sizeof c);
    c.n = 3;
    c.now = 1000;
    for (raft_id id = 1; id <= 3; id++) {
        struct raft_config cfg = config_for(id, 3);
        cfg.apply_batch_min = 4;
        cfg.apply_delay_ms = 140; /* Below the election timeout. */
        c.r[id] = new_node(&c, &cfg, NULL);
    }
    fire(&c, 1);
    fire(&c, 1);
    size_t before = c.n_applied[2];
    propose(&c, 1, "a");
    pump(&c);
    fire(&c, 1); /* Commit reaches the followers. */
    assert_int_equal(raft_commit_index(c.r[2]), 2);
    assert_int_equal(c.n_applied[2], before);
    assert_int_equal(c.n_applied[1], 2); /* The leader applies at once. */
    assert_true(raft_deadline(c.r[2]) <= c.now + 140);
    for (int i = 0; i < 3; i++) {
        propose(&c, 1, "b");
    }
    pump(&c);
    fire(&c, 1);
    assert_int_equal(c.n_applied[2], 5); /* 4 waiting: all applied. */
    propose(&c, 1, "c");
    pump(&c);
    fire(&c, 1);
    assert_int_equal(c.n_applied[2], 5);
    c.now += 140;
    assert_int_equal(raft_role(c.r[2]), RAFT_FOLLOWER);
    assert_int_equal(raft_tick(c.r[2], c.now), ERR_OK);
    assert_int_equal(raft_role(c.r[2]), RAFT_FOLLOWER);
    pump(&c);
    assert_int_equal(c.n_applied[2], 6); /* The delay ran out. */
    cluster_free(&c);
}

/* One ready batch of r without delivering anything: the prev_index of its
 * first append to `to` (UINT64_MAX: none) and the highest ctx any append
 * carries. */
static raft_index take_append_to(struct raft *r, raft_id to, uint64_t *ctx)
{
    raft_index prev = UINT64_MAX;
    *ctx = 0;
    while (raft_has_ready(r)) {
        struct raft_ready rd;
        raft_ready(r, &rd);
        for (size_t i = 0; i < rd.n_msgs_now; i++) {
            const struct raft_msg *m = &rd.msgs_now[i];
            if (m->type != MSG_APPEND) {
                continue;
            }
            *ctx = m->u.append.ctx > *ctx ? m->u.append.ctx : *ctx;
            if (m->to == to && prev == UINT64_MAX) {
                prev = m->u.append.prev_index;
            }
        }
        raft_advance(r, &rd);
    }
    return prev;
}

/* Issue 17: a follower's log ending below what it acknowledged (its disk
 * lost a synced tail) is reported once (raft_lost_acked) and replication
 * resumes from its real end; the old rule ignored a rejection at or below
 * the match and probed above the follower's end forever. A rejection of
 * an append sent before the acknowledgement (its ctx not above the round
 * in which the match grew) is no evidence: no alarm, a new round. */
static void test_lost_acked_entries_reported_and_repaired(void **state)
{
    (void)state;
    struct cluster c;
    lone_leader(&c, NULL);
    struct raft *r = c.r[1];
    struct raft_msg m;
    propose(&c, 1, "a");
    propose(&c, 1, "b");
    propose(&c, 1, "c");
    uint64_t ctx = 0;
    take_append_to(r, 2, &ctx);
    assert_int_equal(raft_last_index(r), 4);
    m = reply_msg(MSG_APPEND_REPLY, 2, 1, 1);
    m.u.append_reply.success = true;
    m.u.append_reply.match_index = 4;
    m.u.append_reply.last_index = 4;
    m.u.append_reply.ctx = ctx;
    assert_int_equal(raft_step(r, c.now, &m), ERR_OK);
    take_append_to(r, 2, &ctx);
    assert_int_equal(raft_commit_index(r), 4);
    /* Reordered: node 2 rejected an append (prev 4) while it held only 1,
     * before it took the entries. Not a loss. */
    m = reply_msg(MSG_APPEND_REPLY, 2, 1, 1);
    m.u.append_reply.reject_index = 4;
    m.u.append_reply.conflict_index = 2;
    m.u.append_reply.last_index = 1;
    m.u.append_reply.ctx = ctx;
    assert_int_equal(raft_step(r, c.now, &m), ERR_OK);
    assert_int_equal(raft_lost_acked(r), 0);
    uint64_t round = 0;
    take_append_to(r, 2, &round);
    assert_true(round > ctx); /* The new round that decides. */
    /* Its reply: node 2 restarted holding 1. */
    m.u.append_reply.ctx = round;
    assert_int_equal(raft_step(r, c.now, &m), ERR_OK);
    assert_int_equal(raft_lost_acked(r), 1);
    assert_int_equal(take_append_to(r, 2, &ctx), 1); /* From its end. */
    assert_int_equal(raft_commit_index(r), 4); /* Never moves back. */
    /* The same rejection again (duplicated): counted once. */
    assert_int_equal(raft_step(r, c.now, &m), ERR_OK);
    assert_int_equal(raft_lost_acked(r), 1);
    raft_free(r);
}

static void test_lagging_follower_backtracks_and_catches_up(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    c.cut[1][3] = true;
    for (int i = 0; i < 50; i++) {
        propose(&c, 1, "xyz");
    }
    pump(&c);
    c.cut[1][3] = false;
    for (int i = 0; i < 4; i++) {
        fire(&c, 1);
    }
    assert_int_equal(raft_last_index(c.r[3]), raft_last_index(c.r[1]));
    assert_int_equal(raft_commit_index(c.r[3]), raft_commit_index(c.r[1]));
    cluster_free(&c);
}

/* Drains r's ready batches without delivering or persisting anything
 * (the followers are silent): adds to *bytes and *n_with the entry bytes
 * and the appends with entries sent to `to`, and returns the highest
 * index any of them carried (0: none). Each append fits the byte budget. */
static raft_index drain_appends_to(struct raft *r, raft_id to, size_t *bytes,
                                   size_t *n_with)
{
    raft_index hi = 0;
    while (raft_has_ready(r)) {
        struct raft_ready rd;
        raft_ready(r, &rd);
        for (size_t i = 0; i < rd.n_msgs_now; i++) {
            const struct raft_msg *m = &rd.msgs_now[i];
            if (m->type != MSG_APPEND || m->to != to ||
                m->u.append.n_entries == 0) {
                continue;
            }
            size_t b = 0;
            for (uint32_t k = 0; k < m->u.append.n_entries; k++) {
                b += m->u.append.entries[k].len;
            }
            assert_true(b <= 60000); /* config_for's batch_bytes_max. */
            *bytes += b;
            (*n_with)++;
            raft_index last = m->u.append.prev_index + m->u.append.n_entries;
            hi = last > hi ? last : hi;
        }
        raft_advance(r, &rd);
    }
    return hi;
}

/* Issue 21: with 32 KB values, what is in flight to a follower is bounded
 * in bytes (inflight_max appends of at most batch_bytes_max each), not
 * only in entries; and a small entry proposed behind a large one that is
 * still unacknowledged is sent at once, in the next append, without
 * waiting for the large one's reply. */
static void test_large_entries_bound_inflight_bytes(void **state)
{
    (void)state;
    static uint8_t big[32768];
    memset(big, 'v', sizeof big);
    struct cluster c;
    cluster_init(&c, 3, false);
    fire(&c, 1);
    assert_int_equal(raft_role(c.r[1]), RAFT_LEADER);
    /* Pipeline mode: the no-op was acknowledged. Followers now go silent. */
    size_t bytes = 0, n_with = 0;
    raft_index idx;
    assert_int_equal(raft_propose(c.r[1], c.now, RAFT_ENTRY_NORMAL, big,
                                  sizeof big, &idx),
                     ERR_OK);
    raft_index big_idx = idx;
    assert_int_equal(drain_appends_to(c.r[1], 2, &bytes, &n_with), big_idx);
    assert_int_equal(raft_propose(c.r[1], c.now, RAFT_ENTRY_NORMAL,
                                  (const uint8_t *)"s", 1, &idx),
                     ERR_OK);
    assert_int_equal(drain_appends_to(c.r[1], 2, &bytes, &n_with), idx);
    /* Forty more large ones, unacknowledged: at most inflight_max (4)
     * appends with entries, so at most 4 * batch_bytes_max bytes. */
    for (int i = 0; i < 40; i++) {
        assert_int_equal(raft_propose(c.r[1], c.now, RAFT_ENTRY_NORMAL, big,
                                      sizeof big, &idx),
                         ERR_OK);
        (void)drain_appends_to(c.r[1], 2, &bytes, &n_with);
    }
    assert_true(n_with <= 4);
    assert_true(bytes <= 4 * 60000);
    assert_true(bytes >= 3 * sizeof big); /* The window was used. */
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_node_elects_itself_and_commits),
        cmocka_unit_test(test_three_nodes_elect_one_leader_and_replicate),
        cmocka_unit_test(test_commit_index_rides_on_the_next_append),
        cmocka_unit_test(test_vote_granted_once_per_term),
        cmocka_unit_test(test_vote_reply_waits_for_durable_vote),
        cmocka_unit_test(test_vote_refused_for_stale_log),
        cmocka_unit_test(test_vote_refused_for_stale_term),
        cmocka_unit_test(test_restarted_node_keeps_its_vote),
        cmocka_unit_test(test_append_rejects_mismatched_prev_term),
        cmocka_unit_test(test_duplicate_append_does_not_truncate),
        cmocka_unit_test(test_conflicting_append_truncates),
        cmocka_unit_test(test_follower_commit_capped_by_verified_entries),
        cmocka_unit_test(test_implausible_messages_are_ignored),
        cmocka_unit_test(test_leader_steps_down_on_higher_term_reply),
        cmocka_unit_test(test_stale_term_append_rejected_with_our_term),
        cmocka_unit_test(test_old_term_entry_not_committed_by_counting),
        cmocka_unit_test(test_prevote_does_not_raise_terms),
        cmocka_unit_test(test_lease_ignores_disruptive_vote),
        cmocka_unit_test(test_read_index_needs_a_quorum_round),
        cmocka_unit_test(test_follower_read_through_leader),
        cmocka_unit_test(test_reads_share_rounds_one_in_flight),
        cmocka_unit_test(test_follower_reads_share_one_request),
        cmocka_unit_test(test_deposed_leader_never_serves_stale_read),
        cmocka_unit_test(test_check_quorum_steps_down_isolated_leader),
        cmocka_unit_test(test_entries_applied_only_once_committed),
        cmocka_unit_test(test_window_fetches_old_entries_from_storage),
        cmocka_unit_test(test_follower_batches_applies),
        cmocka_unit_test(test_lagging_follower_backtracks_and_catches_up),
        cmocka_unit_test(test_large_entries_bound_inflight_bytes),
        cmocka_unit_test(test_bad_disk_leader_steps_down),
        cmocka_unit_test(test_lost_acked_entries_reported_and_repaired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
