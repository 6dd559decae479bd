/*
 * Membership seeds (sim_params.n_boot): at fault ticks the leader is asked
 * to add a learner, promote one, remove a voter (itself too), replace one,
 * or transfer leadership, sometimes twice in a row and sometimes right after
 * an election; and the checks a change must pass, read from the disks: a
 * leader has at most one config entry of its term above its commit
 * (one_change) and none before an entry of its term is committed
 * (change_after_term_commit). joint_quorum is in sim_check.c. Read
 * tests/sim/sim_check.c next.
 */
#include <string.h>

#include "common/err.h"
#include "node/raft.h"
#include "tests/sim/sim_world.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

void sim_member_conf_at(const struct sim_world *w, const struct sim_disk *d,
                        raft_index idx, struct membership *out)
{
    membership_init(out);
    for (uint32_t i = 1; i <= w->p.n_boot; i++) {
        membership_add(out, i)->voter = true;
    }
    size_t upto = idx < d->n_rows ? (size_t)idx : d->n_rows;
    for (size_t i = upto; i > 0; i--) {
        const struct sim_row *row = &d->rows[i - 1];
        if (row->type == RAFT_ENTRY_CONFIG &&
            membership_decode(row->data, row->len, out) == ERR_OK) {
            return;
        }
    }
}

static struct sim_node *live_leader(struct sim_world *w)
{
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        struct sim_node *n = &w->nodes[i];
        if (n->rep != NULL && !n->is_stopped &&
            raft_role(replica_raft(n->rep)) == RAFT_LEADER) {
            return n;
        }
    }
    return NULL;
}

/* A random target configuration one step from c (not joint), with at
 * least one voter (a single voter elects itself: raft_term_durable). */
static bool pick_change(struct sim_world *w, const struct membership *cur,
                        struct membership *to)
{
    *to = *cur;
    to->joint = false;
    for (uint32_t i = 0; i < to->n;) {
        if (!to->m[i].voter && to->m[i].old_voter) {
            membership_remove(to, to->m[i].id);
        } else {
            to->m[i].old_voter = false;
            i++;
        }
    }
    raft_id outside[SIM_NODES_MAX], learners[SIM_NODES_MAX],
        voters[SIM_NODES_MAX];
    uint32_t n_out = 0, n_learn = 0, n_vote = 0;
    for (raft_id id = 1; id <= w->p.n_nodes; id++) {
        const struct membership_member *m = membership_get(to, id);
        if (m == NULL) {
            outside[n_out++] = id;
        } else if (m->voter) {
            voters[n_vote++] = id;
        } else {
            learners[n_learn++] = id;
        }
    }
    switch (rng_range(&w->rng, 0, 5)) {
    case 0: /* Add a learner. */
        if (n_out == 0) {
            return false;
        }
        membership_add(to, outside[rng_range(&w->rng, 0, n_out)]);
        return true;
    case 1: /* Promote a learner. */
        if (n_learn == 0) {
            return false;
        }
        membership_find(to, learners[rng_range(&w->rng, 0, n_learn)])->voter =
            true;
        return true;
    case 2: /* Remove a voter (maybe the leader); keep one. */
        if (n_vote < 2) {
            return false;
        }
        membership_remove(to, voters[rng_range(&w->rng, 0, n_vote)]);
        return true;
    case 3: /* Replace a voter by a learner or an outsider. */
        if (n_vote < 1 || n_learn + n_out == 0) {
            return false;
        }
        membership_remove(to, voters[rng_range(&w->rng, 0, n_vote)]);
        raft_id in = n_learn > 0 ? learners[rng_range(&w->rng, 0, n_learn)]
                                 : outside[rng_range(&w->rng, 0, n_out)];
        membership_add(to, in)->voter = true;
        return true;
    default: /* Demote a voter to learner; keep one. */
        if (n_vote < 2) {
            return false;
        }
        membership_find(to, voters[rng_range(&w->rng, 0, n_vote)])->voter =
            false;
        return true;
    }
}

static void try_change(struct sim_world *w, struct sim_node *n)
{
    const struct raft *r = replica_raft(n->rep);
    struct membership to;
    if (!pick_change(w, raft_membership(r), &to)) {
        return;
    }
    char text[MEMBERSHIP_TEXT_MAX];
    membership_encode(&to, text, sizeof text);
    raft_index index = 0;
    int rv = replica_change(n->rep, w->now_ms, &to, &index);
    sim_tracef(w, "%llu member n%llu change to '%s': %s at %llu",
               ull(w->now_ms), ull(n->id), text, err_str(rv), ull(index));
}

void sim_member_tick(struct sim_world *w)
{
    if (w->p.n_boot == 0 || !rng_chance_ppm(&w->rng, 500000)) {
        return;
    }
    struct sim_node *n = live_leader(w);
    if (n == NULL) {
        return;
    }
    if (rng_range(&w->rng, 0, 4) == 0) {
        const struct membership *c = raft_membership(replica_raft(n->rep));
        raft_id target = rng_range(&w->rng, 0, 2) == 0
                             ? 0
                             : c->m[rng_range(&w->rng, 0, c->n)].id;
        int rv = replica_transfer(n->rep, w->now_ms, target);
        sim_tracef(w, "%llu member n%llu transfer to n%llu: %s",
                   ull(w->now_ms), ull(n->id), ull(target), err_str(rv));
    } else {
        try_change(w, n);
        if (rng_range(&w->rng, 0, 2) == 0) {
            try_change(w, n); /* Must be refused: one at a time. */
        }
    }
    sim_node_drain(w, n);
}

void sim_member_after_event(struct sim_world *w)
{
    if (w->p.n_boot == 0 || w->in_liveness) {
        return;
    }
    struct sim_node *n = live_leader(w);
    if (n == NULL) {
        return;
    }
    const struct raft *r = replica_raft(n->rep);
    if (raft_commit_index(r) >= raft_term_start_index(r) ||
        !rng_chance_ppm(&w->rng, 100000)) {
        return;
    }
    try_change(w, n); /* Must be refused: no commit of its term yet. */
    sim_node_drain(w, n);
}

void sim_member_check(struct sim_world *w)
{
    if (w->p.n_boot == 0) {
        return;
    }
    for (uint32_t i = 1; i <= w->p.n_nodes && !w->failed; i++) {
        struct sim_node *n = &w->nodes[i];
        if (n->rep == NULL || raft_role(replica_raft(n->rep)) != RAFT_LEADER) {
            continue;
        }
        const struct raft *r = replica_raft(n->rep);
        raft_term term = raft_current_term(r);
        raft_index commit = raft_commit_index(r);
        const struct sim_disk *d = &n->disk;
        raft_index term_first = 0;
        uint32_t n_above = 0;
        raft_index conf_idx = 0;
        for (size_t k = 0; k < d->n_rows; k++) {
            const struct sim_row *row = &d->rows[k];
            if (row->term != term) {
                continue;
            }
            if (term_first == 0) {
                term_first = k + 1;
            }
            if (row->type == RAFT_ENTRY_CONFIG) {
                conf_idx = k + 1;
                n_above += k + 1 > commit;
            }
        }
        if (n_above > 1) {
            sim_fail(w, "one_change",
                     "leader n%llu (term %llu) has %u config entries of its "
                     "term above its commit %llu",
                     ull(n->id), ull(term), n_above, ull(commit));
        } else if (conf_idx != 0 && commit < term_first) {
            sim_fail(w, "change_after_term_commit",
                     "leader n%llu (term %llu) appended config %llu before "
                     "committing its first entry %llu (commit %llu)",
                     ull(n->id), ull(term), ull(conf_idx), ull(term_first),
                     ull(commit));
        }
    }
}
