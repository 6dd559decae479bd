/*
 * Unit tests of launcher/events.c, the event feed shared by the launcher's
 * plain lines and the dashboard: the tracker turns rounds of status answers
 * into elections, votes, leaders, step-downs, "no leader", commit progress,
 * fault changes and silence; the stream line format round-trips; the ring
 * keeps the newest; fault rules are described as partitions, cuts and
 * netem rules. No I/O, no clock: rounds and times are explicit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "launcher/events.h"

#define FEED_MAX 64

struct fixture {
    struct conf conf;
    struct ev_tracker tracker;
    struct client_node_status st[RAFT_NODES_MAX];
    uint32_t n_feed;
    struct ev feed[FEED_MAX];
    uint64_t now_ms;
};

static void make_conf(struct conf *c, uint32_t n)
{
    memset(c, 0, sizeof(*c));
    c->cluster_id = 7;
    c->n_members = n;
    for (uint32_t i = 0; i < n; i++) {
        c->members[i].id = i + 1;
        snprintf(c->members[i].host, sizeof(c->members[i].host), "127.0.0.1");
        c->members[i].port = (uint16_t)(7001 + i);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    make_conf(&f->conf, 3);
    ev_tracker_init(&f->tracker, &f->conf, false);
    f->now_ms = 1000000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void collect(void *ctx, const struct ev *e)
{
    struct fixture *f = ctx;
    assert_true(f->n_feed < FEED_MAX);
    f->feed[f->n_feed++] = *e;
}

/* Node id answers: role, term, vote, commit; pid 100 + id. */
static void answer(struct fixture *f, raft_id id, uint8_t role, raft_term term,
                   raft_id vote, raft_index commit)
{
    struct client_node_status *s = &f->st[id - 1];
    memset(s, 0, sizeof(*s));
    s->alive = true;
    s->term = term;
    s->reply.pid = (uint32_t)(100 + id);
    s->reply.role = role;
    s->reply.voted_for = vote;
    s->reply.commit = commit;
    s->reply.last_index = commit;
    s->reply.election_timeout_ms = 150 + (uint32_t)id;
}

static void silent(struct fixture *f, raft_id id)
{
    f->st[id - 1].alive = false;
}

/* Runs one round; returns the events it produced (from feed[0]). */
static uint32_t round_(struct fixture *f)
{
    f->n_feed = 0;
    f->now_ms += 100;
    ev_tracker_round(&f->tracker, f->now_ms, f->st, collect, f);
    return f->n_feed;
}

static void assert_event(const struct fixture *f, uint32_t i, int kind,
                         const char *text)
{
    assert_true(i < f->n_feed);
    assert_int_equal(f->feed[i].kind, kind);
    assert_string_equal(f->feed[i].text, text);
}

/* The first round is a baseline: only the leader it finds is reported. */
static void test_tracker_first_round_reports_only_the_leader(void **state)
{
    struct fixture *f = *state;
    answer(f, 1, RAFT_LEADER, 4, 1, 10);
    answer(f, 2, RAFT_FOLLOWER, 4, 1, 10);
    answer(f, 3, RAFT_FOLLOWER, 4, 1, 10);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_LEADER,
                 "leader is node 1 (term 4), votes from 1 2 3");
    assert_int_equal(round_(f), 0);
}

/* A leader dies: "no leader" after EV_LEADERLESS_ROUNDS rounds, then the
 * election (a new term voted for itself, with the timeout it had), the
 * votes, and the new leader with its voters, in that order. */
static void test_tracker_reports_an_election_in_order(void **state)
{
    struct fixture *f = *state;
    answer(f, 1, RAFT_LEADER, 4, 1, 10);
    answer(f, 2, RAFT_FOLLOWER, 4, 1, 10);
    answer(f, 3, RAFT_FOLLOWER, 4, 1, 10);
    round_(f);
    silent(f, 1);
    assert_int_equal(round_(f), 0);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_NO_LEADER, "no leader (node 1 no longer leads)");
    answer(f, 2, RAFT_CANDIDATE, 5, 2, 10);
    answer(f, 3, RAFT_FOLLOWER, 5, 2, 10);
    assert_int_equal(round_(f), 2);
    assert_event(f, 0, EV_ELECTION,
                 "node 2 timed out and started an election for term 5 "
                 "(timeout 152 ms)");
    assert_event(f, 1, EV_VOTE, "node 3 votes for node 2 in term 5");
    answer(f, 2, RAFT_LEADER, 5, 2, 11);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_LEADER, "leader is node 2 (term 5), votes from 2 3");
}

/* A pre-vote round is an election event of its own (same term); a leader
 * that loses its role reports a step-down. */
static void test_tracker_reports_pre_votes_and_step_downs(void **state)
{
    struct fixture *f = *state;
    answer(f, 1, RAFT_LEADER, 4, 1, 10);
    answer(f, 2, RAFT_FOLLOWER, 4, 1, 10);
    answer(f, 3, RAFT_FOLLOWER, 4, 1, 10);
    round_(f);
    answer(f, 3, RAFT_PRECANDIDATE, 4, 1, 10);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_ELECTION,
                 "node 3 timed out and asks for pre-votes for term 5 "
                 "(timeout 153 ms)");
    answer(f, 1, RAFT_FOLLOWER, 4, 1, 10);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_STEP_DOWN,
                 "node 1 stepped down (term 4, now follower)");
}

/* Commit progress: no event for the baseline, then at most one per
 * EV_COMMIT_EVERY_MS, carrying the whole advance. */
static void test_tracker_rate_limits_commit_progress(void **state)
{
    struct fixture *f = *state;
    answer(f, 1, RAFT_LEADER, 4, 1, 10);
    round_(f);
    answer(f, 1, RAFT_LEADER, 4, 1, 12);
    assert_int_equal(round_(f), 0); /* 100 ms after the baseline. */
    for (int i = 0; i < EV_COMMIT_EVERY_MS / 100 - 2; i++) {
        assert_int_equal(round_(f), 0);
    }
    answer(f, 1, RAFT_LEADER, 4, 1, 15);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_COMMIT, "commit index 15 (+5)");
}

/* A fault description is reported once it held for two rounds (rules reach
 * the nodes one by one), and clearing it is a "healed" event. */
static void test_tracker_reports_faults_once_stable(void **state)
{
    struct fixture *f = *state;
    answer(f, 1, RAFT_LEADER, 4, 1, 10);
    answer(f, 2, RAFT_FOLLOWER, 4, 1, 10);
    answer(f, 3, RAFT_FOLLOWER, 4, 1, 10);
    round_(f);
    f->st[0].reply.n_blocked = 1;
    f->st[0].reply.blocked[0] = 3;
    assert_int_equal(round_(f), 0); /* Node 1 has its rule, 3 not yet. */
    f->st[2].reply.n_blocked = 1;
    f->st[2].reply.blocked[0] = 1;
    assert_int_equal(round_(f), 1); /* Both: the same cut, twice. */
    assert_event(f, 0, EV_FAULT, "faults: cut 1-3");
    f->st[0].reply.n_blocked = 0;
    f->st[2].reply.n_blocked = 0;
    round_(f);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_FAULT, "healed: no partition or netem rule in force");
}

/* Without a launcher (track_silence), a node that stops answering is
 * reported after EV_SILENT_ROUNDS, and again when it answers; a new pid is
 * a restart and its state a new baseline (its new term is no election). */
static void test_tracker_tracks_silence_and_restarts(void **state)
{
    struct fixture *f = *state;
    ev_tracker_init(&f->tracker, &f->conf, true);
    answer(f, 1, RAFT_LEADER, 4, 1, 10);
    answer(f, 2, RAFT_FOLLOWER, 4, 1, 10);
    answer(f, 3, RAFT_FOLLOWER, 4, 1, 10);
    round_(f);
    silent(f, 3);
    round_(f);
    round_(f);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_DEATH, "node 3 stopped answering");
    answer(f, 3, RAFT_FOLLOWER, 4, 1, 10);
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_START, "node 3 answers again (pid 103)");
    answer(f, 2, RAFT_FOLLOWER, 6, 2, 10);
    f->st[1].reply.pid = 999;
    assert_int_equal(round_(f), 1);
    assert_event(f, 0, EV_START, "node 2 restarted (pid 999)");
}

/* The launcher forgets a node it restarted: no event from its new state. */
static void test_tracker_forget_starts_a_new_baseline(void **state)
{
    struct fixture *f = *state;
    answer(f, 1, RAFT_LEADER, 4, 1, 10);
    answer(f, 2, RAFT_FOLLOWER, 4, 1, 10);
    round_(f);
    ev_tracker_forget(&f->tracker, 2);
    answer(f, 2, RAFT_FOLLOWER, 5, 2, 10);
    assert_int_equal(round_(f), 0);
}

/* Stream lines round-trip; garbage is refused; an unknown kind reads as
 * info so a newer launcher may add kinds. */
static void test_ev_line_roundtrip(void **state)
{
    (void)state;
    struct ev e, back;
    ev_set(&e, 1700000000123ull, EV_DEATH, 3, 7, "node 3 died signal=%d", 9);
    char line[EV_LINE_MAX];
    ev_format_line(&e, line, sizeof(line));
    assert_string_equal(line, "ev 1700000000123 death 3 7 node 3 died "
                              "signal=9");
    assert_int_equal(ev_parse_line(line, &back), ERR_OK);
    assert_int_equal(back.wall_ms, e.wall_ms);
    assert_int_equal(back.kind, EV_DEATH);
    assert_int_equal(back.node, 3);
    assert_int_equal(back.term, 7);
    assert_string_equal(back.text, e.text);
    assert_int_equal(ev_parse_line("ok events", &back), ERR_INVALID);
    assert_int_equal(ev_parse_line("ev 12 death", &back), ERR_INVALID);
    assert_int_equal(ev_parse_line("ev 1 death 2000000 0 x", &back),
                     ERR_INVALID);
    assert_int_equal(ev_parse_line("ev 1 quake 2 0 hello world", &back),
                     ERR_OK);
    assert_int_equal(back.kind, EV_INFO);
    assert_string_equal(back.text, "hello world");
}

/* The ring keeps the newest EV_RING_MAX, newest first; newlines in a text
 * become spaces so a stream line stays one line. */
static void test_ev_ring_keeps_the_newest(void **state)
{
    (void)state;
    static struct ev_ring ring;
    ev_ring_init(&ring);
    struct ev e;
    for (int i = 0; i < EV_RING_MAX + 10; i++) {
        ev_set(&e, (uint64_t)i, EV_INFO, 0, 0, "event %d\nmore", i);
        ev_ring_push(&ring, &e);
    }
    assert_int_equal(ring.n, EV_RING_MAX);
    assert_int_equal(ev_ring_newest(&ring, 0)->wall_ms, EV_RING_MAX + 9);
    assert_int_equal(ev_ring_newest(&ring, EV_RING_MAX - 1)->wall_ms, 10);
    char want[32];
    snprintf(want, sizeof(want), "event %d more", EV_RING_MAX + 9);
    assert_string_equal(ev_ring_newest(&ring, 0)->text, want);
}

/* Partitions are groups that cannot talk (a down node that others block
 * counts); a cut that leaves everyone connected lists its pairs; netem
 * rules are grouped by rule, with the nodes named unless all have it. */
static void test_faults_describe(void **state)
{
    struct fixture *f = *state;
    char d[EV_FAULTS_MAX];
    make_conf(&f->conf, 5);
    for (raft_id id = 1; id <= 5; id++) {
        answer(f, id, RAFT_FOLLOWER, 1, 0, 0);
    }
    ev_faults_describe(&f->conf, f->st, d, sizeof(d));
    assert_string_equal(d, "");
    /* 3 is isolated and dead: the others still block it. */
    silent(f, 3);
    for (raft_id id = 1; id <= 5; id++) {
        if (id != 3) {
            f->st[id - 1].reply.n_blocked = 1;
            f->st[id - 1].reply.blocked[0] = 3;
        }
    }
    ev_faults_describe(&f->conf, f->st, d, sizeof(d));
    assert_string_equal(d, "partition 1 2 4 5 | 3");
    for (raft_id id = 1; id <= 5; id++) {
        f->st[id - 1].reply.n_blocked = 0;
        f->st[id - 1].reply.loss_ppm = 200000;
    }
    f->st[4].reply.loss_ppm = 0;
    f->st[4].reply.delay_ms = 50;
    f->st[4].reply.jitter_ms = 10;
    f->st[0].reply.dup_ppm = 15000;
    ev_faults_describe(&f->conf, f->st, d, sizeof(d));
    assert_string_equal(d, "netem on 1: loss 20% dup 1.5%; netem on 2 4: "
                           "loss 20%; netem on 5: delay 50ms+-10ms");
    answer(f, 3, RAFT_FOLLOWER, 1, 0, 0);
    f->st[2].reply.loss_ppm = 200000;
    f->st[0].reply.dup_ppm = 0;
    f->st[4].reply.loss_ppm = 200000;
    f->st[4].reply.delay_ms = f->st[4].reply.jitter_ms = 0;
    ev_faults_describe(&f->conf, f->st, d, sizeof(d));
    assert_string_equal(d, "netem loss 20%");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_tracker_first_round_reports_only_the_leader),
        T(test_tracker_reports_an_election_in_order),
        T(test_tracker_reports_pre_votes_and_step_downs),
        T(test_tracker_rate_limits_commit_progress),
        T(test_tracker_reports_faults_once_stable),
        T(test_tracker_tracks_silence_and_restarts),
        T(test_tracker_forget_starts_a_new_baseline),
        T(test_ev_line_roundtrip),
        T(test_ev_ring_keeps_the_newest),
        T(test_faults_describe),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
