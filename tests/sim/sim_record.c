/*
 * raftsim --record FILE (docs/RECORDING.md): the run as a recording that
 * `raftctl replay` shows. Outside the simulated code like the trace: it
 * only reads the world (no generator draw, no event), so a seed runs the
 * same with and without it. Per event it writes the messages sent (one
 * "msg" line each, at the send), events derived from what changed (a node
 * went down or came up, started an election, leads, stepped down; the
 * partitions as "fault" lines), a status line per member every
 * SIM_RECORD_FRAME_MS of simulated time, and the violation at its moment
 * (followed by a last frame).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/recording.h"
#include "node/raft.h"
#include "tests/sim/sim_world.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

void sim_record_begin(struct sim_world *w, struct rec_writer *rec)
{
    w->rec = rec;
    if (rec == NULL) {
        return;
    }
    memset(&w->rec_seen, 0, sizeof(w->rec_seen));
    w->rec_next_ms = 0;
    struct rec_meta m;
    memset(&m, 0, sizeof(m));
    m.is_sim = true;
    m.has_seed = true;
    m.seed = w->seed;
    m.heartbeat_ms = w->p.heartbeat_ms;
    m.election_ms[0] = w->p.election_ms;
    m.election_ms[1] = 2 * w->p.election_ms;
    m.n_members = w->p.n_nodes;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        m.members[i - 1].id = i;
        snprintf(m.members[i - 1].addr, sizeof(m.members[i - 1].addr), "sim:%u",
                 i);
    }
    rec_write_meta(rec, &m);
}

void sim_record_msg(struct sim_world *w, uint32_t from, uint32_t to,
                    const struct raft_msg *msg, size_t len)
{
    struct rec_msg m;
    if (w->rec == NULL || from < 1 || from > w->p.n_nodes ||
        !rec_msg_from_raft(msg, (uint32_t)len, &m)) {
        return;
    }
    m.from = from;
    m.to = to;
    rec_write_msg(w->rec, w->now_ms, &m);
}

void sim_record_violation(struct sim_world *w, const char *check,
                          const char *detail)
{
    if (w->rec == NULL) {
        return;
    }
    char text[REC_TEXT_MAX];
    snprintf(text, sizeof(text), "%s: %s", check, detail);
    rec_write_violation(w->rec, w->now_ms, text);
}

/* Member n's status line now. */
static void record_status(struct sim_world *w, const struct sim_node *n,
                          struct rec_status *s)
{
    memset(s, 0, sizeof(*s));
    s->id = n->id;
    s->contact_ms = UINT64_MAX;
    s->up = n->rep != NULL;
    if (!s->up) {
        return;
    }
    const struct raft *r = replica_raft(n->rep);
    s->role = (uint8_t)raft_role(r);
    s->term = raft_current_term(r);
    s->vote = raft_voted_for(r);
    s->leader = raft_leader(r);
    s->commit = raft_commit_index(r);
    s->applied = raft_applied_index(r);
    s->last = raft_last_index(r);
    raft_index first = raft_first_index(r);
    s->snap = first > 1 ? first - 1 : 0;
    s->timer_ms = (uint32_t)raft_election_elapsed_ms(r, w->now_ms);
    s->timeout_ms = raft_election_timeout_ms(r);
    s->contact_ms = raft_leader_contact_ms(r, w->now_ms);
    raft_index lo =
        s->last >= STATUS_TAIL_MAX ? s->last - STATUS_TAIL_MAX + 1 : 1;
    lo = lo < first ? first : lo;
    for (raft_index i = lo; i <= s->last && s->n_tail < STATUS_TAIL_MAX; i++) {
        s->tail[s->n_tail++] = raft_term_at(r, i);
    }
    s->tail_first = s->n_tail > 0 ? lo : 0;
    if (s->role == RAFT_LEADER) {
        struct status_peer peers[RAFT_NODES_MAX];
        s->n_peers = raft_progress(r, w->now_ms, peers, RAFT_NODES_MAX);
        for (uint32_t i = 0; i < s->n_peers; i++) {
            s->peers[i].id = peers[i].id;
            s->peers[i].match = peers[i].match;
            s->peers[i].next = peers[i].next;
        }
    }
    for (uint32_t j = 1; j <= w->p.n_nodes; j++) {
        if (j != n->id && w->blocked[n->id][j]) {
            s->blocked[s->n_blocked++] = j;
        }
    }
}

/* What changed since the last event: deaths, starts, elections, leaders,
 * step-downs. */
static void record_changes(struct sim_world *w)
{
    char text[REC_TEXT_MAX];
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        const struct sim_node *n = &w->nodes[i];
        struct sim_record_seen *was = &w->rec_seen[i];
        bool up = n->rep != NULL;
        int role = up ? raft_role(replica_raft(n->rep)) : RAFT_FOLLOWER;
        raft_term term = up ? raft_current_term(replica_raft(n->rep)) : 0;
        if (up != was->up) {
            snprintf(text, sizeof(text), "node %u %s", i,
                     up ? "started" : "crashed");
            rec_write_event(w->rec, w->now_ms, up ? "start" : "death", i, text);
        }
        if (up && role == RAFT_CANDIDATE &&
            (was->role != RAFT_CANDIDATE || term != was->term)) {
            snprintf(text, sizeof(text),
                     "node %u timed out and started an election for term "
                     "%llu",
                     i, ull(term));
            rec_write_event(w->rec, w->now_ms, "election", i, text);
        }
        if (up && role == RAFT_LEADER &&
            (was->role != RAFT_LEADER || term != was->term)) {
            snprintf(text, sizeof(text), "leader is node %u (term %llu)", i,
                     ull(term));
            rec_write_event(w->rec, w->now_ms, "leader", i, text);
        }
        if (was->up && was->role == RAFT_LEADER &&
            (!up || role != RAFT_LEADER)) {
            snprintf(text, sizeof(text), "node %u stepped down (term %llu)", i,
                     ull(was->term));
            rec_write_event(w->rec, w->now_ms, "step_down", i, text);
        }
        was->up = up;
        was->role = role;
        was->term = term;
    }
    if (memcmp(w->rec_blocked, w->blocked, sizeof(w->blocked)) != 0) {
        size_t len = 0;
        text[0] = '\0';
        for (uint32_t a = 1; a <= w->p.n_nodes; a++) {
            for (uint32_t b = a + 1; b <= w->p.n_nodes; b++) {
                if ((w->blocked[a][b] || w->blocked[b][a]) &&
                    len + 8 < sizeof(text)) {
                    len += (size_t)snprintf(text + len, sizeof(text) - len,
                                            "%s%u-%u", len > 0 ? " " : "cut ",
                                            a, b);
                }
            }
        }
        rec_write_fault(w->rec, w->now_ms, 0, len > 0 ? text : "healed");
        memcpy(w->rec_blocked, w->blocked, sizeof(w->blocked));
    }
}

void sim_record_step(struct sim_world *w)
{
    if (w->rec == NULL) {
        return;
    }
    record_changes(w);
    if (w->now_ms < w->rec_next_ms && !w->failed) {
        return;
    }
    static struct rec_status s;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        record_status(w, &w->nodes[i], &s);
        rec_write_status(w->rec, w->now_ms, &s);
    }
    w->rec_next_ms =
        w->now_ms - w->now_ms % SIM_RECORD_FRAME_MS + SIM_RECORD_FRAME_MS;
}
