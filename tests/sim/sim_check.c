/*
 * The safety checks, run after every event and at every durable write,
 * apply, send and client answer: election safety, log matching (a hash
 * chain per (index, term)), leader completeness, state-machine safety
 * (every applied sequence is a prefix of one global sequence), durability
 * of commits and acknowledged writes, exactly-once application (each kv
 * image equals the model state at its applied index), persist-before-send,
 * monotonic term/commit/applied, and linearizable reads. Applies count from
 * when the replica makes them, in memory, not when its write-back buffer
 * reaches the kv image. What a check calls durable is the disk's durable
 * view (sim_disk_durable: written minus unsynced writes), not what is
 * merely written. The first failure is recorded with sim_fail.
 * Read tests/sim/sim_world.c next.
 */
#include <stdlib.h>
#include <string.h>

#include "common/command.h"
#include "common/err.h"
#include "common/invariant.h"
#include "node/kv.h"
#include "tests/sim/sim_world.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

int sim_check_init(struct sim_check *c)
{
    memset(c, 0, sizeof *c);
    c->cap_lm = 1024;
    c->lm_keys = calloc(c->cap_lm * 2, sizeof *c->lm_keys);
    c->lm_vals = calloc(c->cap_lm, sizeof *c->lm_vals);
    if (c->lm_keys == NULL || c->lm_vals == NULL) {
        sim_check_close(c);
        return ERR_NOMEM;
    }
    return ERR_OK;
}

void sim_check_close(struct sim_check *c)
{
    free(c->c);
    for (int i = 0; i < SIM_KEYS; i++) {
        free(c->changes[i]);
    }
    for (int i = 0; i < SIM_CLIENTS_MAX; i++) {
        free(c->acks[i]);
    }
    free(c->owner);
    free(c->leader_of);
    free(c->model_at);
    free(c->lm_keys);
    free(c->lm_vals);
    memset(c, 0, sizeof *c);
}

/* Grows *arr (elem bytes each, *cap of them) to hold index need - 1,
 * zero-filling the new part. */
static void grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return;
    }
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) {
        cap2 *= 2;
    }
    uint8_t *p = realloc(*arr, cap2 * elem);
    ASSERT(p != NULL);
    memset(p + *cap * elem, 0, (cap2 - *cap) * elem);
    *arr = p;
    *cap = cap2;
}

static struct sim_commit *commit_at(struct sim_check *c, raft_index idx)
{
    ASSERT(idx >= 1);
    grow((void **)&c->c, &c->cap_c, idx, sizeof *c->c);
    if (idx > c->n_c) {
        c->n_c = idx;
    }
    return &c->c[idx - 1];
}

/* --- The model of the state machine --- */

/* The client that registered session id (a write can only carry an id
 * its client was told), or SIM_CLIENTS_MAX. */
static uint32_t client_of(const struct sim_world *w, uint64_t id)
{
    const struct sim_check *c = &w->check;
    if (id < c->cap_owner && c->owner[id] != 0) {
        return c->owner[id] - 1;
    }
    return SIM_CLIENTS_MAX;
}

static uint64_t value_hash(const uint8_t *v, uint32_t len)
{
    return sim_fnv(SIM_FNV_INIT, v, len);
}

static bool value_equals(const struct sim_state *s, uint32_t key,
                         const uint8_t *v, uint32_t len)
{
    return s->present[key] && s->value_len[key] == len &&
           s->value_hash[key] == value_hash(v, len);
}

/* The model's session id, or NULL. */
static struct sim_session *model_session(struct sim_state *s, uint64_t id)
{
    for (uint32_t i = 0; i < s->n_sessions; i++) {
        if (s->sessions[i].id == id) {
            return &s->sessions[i];
        }
    }
    return NULL;
}

/* A register entry at idx with limit max (node/kv.h): add the session,
 * then drop the least recently used (smallest (last, id)) down to max. */
static void model_register(struct sim_state *s, raft_index idx, uint64_t max)
{
    ASSERT(s->n_sessions < SIM_SESSIONS_MAX);
    struct sim_session *n = &s->sessions[s->n_sessions++];
    memset(n, 0, sizeof *n);
    n->id = idx;
    n->last = idx;
    while (max > 0 && s->n_sessions > max) {
        uint32_t old = 0;
        for (uint32_t i = 1; i < s->n_sessions; i++) {
            const struct sim_session *a = &s->sessions[i];
            const struct sim_session *b = &s->sessions[old];
            if (a->last < b->last || (a->last == b->last && a->id < b->id)) {
                old = i;
            }
        }
        s->sessions[old] = s->sessions[--s->n_sessions];
    }
    ASSERT(s->n_sessions < SIM_SESSIONS_MAX); /* Room for the next. */
}

bool sim_state_apply(const struct sim_world *w, struct sim_state *s,
                     raft_index idx, const struct raft_entry *e,
                     uint32_t *client, uint64_t *seq, uint8_t *status)
{
    uint64_t max = 0;
    if (e->type == RAFT_ENTRY_NOOP &&
        kv_session_entry_parse(e->data, e->len, &max)) {
        model_register(s, idx, max);
        return false;
    }
    struct command cmd;
    if (e->type != RAFT_ENTRY_NORMAL ||
        command_decode(e->data, e->len, &cmd) != ERR_OK) {
        return false;
    }
    struct sim_session *ss = model_session(s, cmd.client_id);
    uint32_t cl = client_of(w, cmd.client_id);
    uint32_t key = sim_client_key_index(cmd.key, cmd.key_len);
    if (ss == NULL || cl == SIM_CLIENTS_MAX || key == SIM_KEYS ||
        cmd.seq <= ss->seq) {
        return false; /* Expired, not ours, or a duplicate: no effect. */
    }
    uint8_t st = CLIENT_OK;
    if (cmd.op == COMMAND_OP_PUT) {
        s->present[key] = true;
    } else if (cmd.op == COMMAND_OP_DEL) {
        s->present[key] = false;
    } else if (!value_equals(s, key, cmd.expected, cmd.expected_len)) {
        st = CLIENT_CAS_MISMATCH;
    }
    if (cmd.op != COMMAND_OP_DEL && st == CLIENT_OK) {
        s->present[key] = true;
        s->value_len[key] = cmd.value_len;
        s->value_hash[key] = value_hash(cmd.value, cmd.value_len);
        s->origin_client[key] = cl;
        s->origin_seq[key] = cmd.seq;
    }
    ss->seq = cmd.seq;
    ss->status = st;
    ss->last = idx;
    *client = cl;
    *seq = cmd.seq;
    *status = st;
    return true;
}

/* Extends the global sequence with its next entry (index n_applied + 1):
 * the model state moves on, and the write's effect index is recorded. */
static void global_apply_model(struct sim_world *w, raft_index idx,
                               const struct raft_entry *e);

/* The model state after every index, for installed snapshots. */
static void model_record(struct sim_check *c, raft_index idx)
{
    grow((void **)&c->model_at, &c->cap_model_at, idx + 2, sizeof *c->model_at);
    c->model_at[idx] = c->model;
}

static void global_apply(struct sim_world *w, raft_index idx,
                         const struct raft_entry *e)
{
    global_apply_model(w, idx, e);
    model_record(&w->check, idx);
}

static void global_apply_model(struct sim_world *w, raft_index idx,
                               const struct raft_entry *e)
{
    struct sim_check *c = &w->check;
    ASSERT(idx == c->n_applied + 1);
    c->n_applied = idx;
    uint32_t cl = 0;
    uint64_t seq = 0;
    uint8_t status = 0;
    if (!sim_state_apply(w, &c->model, idx, e, &cl, &seq, &status)) {
        return;
    }
    grow((void **)&c->acks[cl], &c->cap_acks[cl], seq + 1, sizeof *c->acks[cl]);
    c->acks[cl][seq].index = idx;
    c->acks[cl][seq].status = status;
    struct command cmd;
    ASSERT(command_decode(e->data, e->len, &cmd) == ERR_OK);
    uint32_t key = sim_client_key_index(cmd.key, cmd.key_len);
    grow((void **)&c->changes[key], &c->cap_changes[key], c->n_changes[key] + 1,
         sizeof *c->changes[key]);
    struct sim_key_change *ch = &c->changes[key][c->n_changes[key]++];
    ch->index = idx;
    ch->present = c->model.present[key];
    ch->value_len = c->model.value_len[key];
    ch->value_hash = c->model.value_hash[key];
}

/* Every member holds the model's sessions at its applied index: the same
 * ids, seqs, statuses and last touches, and no other. */
static void compare_sessions(struct sim_world *w, struct sim_node *n)
{
    const struct sim_state *s = &n->shadow;
    bool same = mem_kv_session_count(&n->kv) == s->n_sessions;
    for (uint32_t i = 0; same && i < s->n_sessions; i++) {
        const struct sim_session *m = &s->sessions[i];
        same = false;
        for (size_t j = 0; j < mem_kv_session_count(&n->kv); j++) {
            const struct mem_kv_session *k = mem_kv_session_at(&n->kv, j);
            if (k->client_id == m->id) {
                same = k->seq == m->seq && k->status == m->status &&
                       k->index == m->last;
                if (!same) {
                    sim_tracef(w,
                               "session %llu: seq %llu/%llu status %u/%u "
                               "last %llu/%llu (member/model)",
                               ull(m->id), ull(k->seq), ull(m->seq),
                               k->status, m->status, ull(k->index),
                               ull(m->last));
                }
                break;
            }
        }
    }
    if (!same) {
        sim_fail(w, "sessions",
                 "n%llu sessions at applied %llu differ from the model "
                 "(%zu sessions, model %u)",
                 ull(n->id), ull(mem_kv_applied(&n->kv)),
                 mem_kv_session_count(&n->kv), s->n_sessions);
    }
}

/* Compares a node's durable kv image with the model at its applied index:
 * a command applied twice, skipped or applied differently shows here. */
static void compare_kv(struct sim_world *w, struct sim_node *n)
{
    const struct sim_state *s = &n->shadow;
    size_t n_present = 0;
    for (uint32_t k = 0; k < SIM_KEYS; k++) {
        n_present += s->present[k];
    }
    bool same = mem_kv_count(&n->kv) == n_present;
    for (size_t i = 0; same && i < mem_kv_count(&n->kv); i++) {
        const struct mem_kv_entry *e = mem_kv_at(&n->kv, i);
        uint32_t k = sim_client_key_index(e->key, e->key_len);
        same = k < SIM_KEYS && value_equals(s, k, e->value, e->value_len);
    }
    if (same) {
        compare_sessions(w, n);
    } else {
        sim_fail(w, "exactly_once",
                 "n%llu kv image at applied %llu differs from the model "
                 "(%zu keys, model %zu)",
                 ull(n->id), ull(mem_kv_applied(&n->kv)), mem_kv_count(&n->kv),
                 n_present);
    }
}

/* A committed index became known: it must be durable on a majority
 * (followers acknowledge after persisting; the leader counts itself once
 * its own write is durable). */
static void commit_learned(struct sim_world *w, raft_index idx, raft_term term,
                           raft_id who)
{
    bool held[SIM_NODES_MAX + 1];
    uint32_t n_held = 0;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        const struct sim_disk *d = &w->nodes[i].disk;
        struct sim_durable dv;
        sim_disk_durable(d, &dv);
        held[i] = idx <= dv.n_same && d->rows[idx - 1].term == term;
        n_held += held[i];
    }
    if (w->p.n_boot != 0) {
        /* Thesis 4.3: a majority of each voter set of the configuration
         * in force at idx, or of the latest one in the log of who saw
         * it first (the leader: C_new decides once C_old,new is in). */
        const struct sim_disk *d = &w->nodes[who].disk;
        struct membership c, latest;
        sim_member_conf_at(w, d, idx, &c);
        sim_member_conf_at(w, d, d->n_rows, &latest);
        bool ok[RAFT_NODES_MAX], ok_latest[RAFT_NODES_MAX];
        for (uint32_t i = 0; i < c.n; i++) {
            ok[i] = c.m[i].id <= w->p.n_nodes && held[c.m[i].id];
        }
        for (uint32_t i = 0; i < latest.n; i++) {
            ok_latest[i] =
                latest.m[i].id <= w->p.n_nodes && held[latest.m[i].id];
        }
        if (!membership_quorum(&c, ok) &&
            !membership_quorum(&latest, ok_latest)) {
            char text[MEMBERSHIP_TEXT_MAX];
            membership_encode(&c, text, sizeof text);
            char on[64] = "";
            for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
                if (held[i]) {
                    size_t l = strlen(on);
                    snprintf(on + l, sizeof on - l, " n%u", i);
                }
            }
            sim_fail(w, "joint_quorum",
                     "index %llu (term %llu) committed (seen by n%llu), "
                     "durable on%s, not a quorum of '%s'",
                     ull(idx), ull(term), ull(who), on, text);
        }
        return;
    }
    if (n_held < w->p.n_nodes / 2 + 1) {
        sim_fail(w, "commit_durable",
                 "index %llu (term %llu) committed but durable on %u of %u",
                 ull(idx), ull(term), n_held, w->p.n_nodes);
    }
}

/* Learns that idx holds a committed entry of term. */
static struct sim_commit *commit_note(struct sim_world *w, raft_index idx,
                                      raft_term term, raft_id who)
{
    struct sim_commit *c = commit_at(&w->check, idx);
    if (c->term == 0) {
        c->term = term;
        commit_learned(w, idx, term, who);
    } else if (c->term != term) {
        sim_fail(w, "state_machine_safety",
                 "n%llu has term %llu committed at %llu; before it was %llu",
                 ull(who), ull(term), ull(idx), ull(c->term));
    }
    return c;
}

/* Node n applied (or answers from) its disk row at idx: it must be the
 * entry of the global sequence there, or extend that sequence. Indexes
 * are noted in order, so idx is at most n_applied + 1. */
static void note_entry(struct sim_world *w, const struct sim_node *n,
                       raft_index idx, const struct sim_row *row)
{
    struct raft_entry e = {row->term, row->type, row->len, row->data};
    struct sim_commit *cm = commit_note(w, idx, row->term, n->id);
    if (cm->is_applied && cm->chain != row->chain) {
        sim_fail(w, "state_machine_safety",
                 "n%llu applied a different entry at %llu", ull(n->id),
                 ull(idx));
        return;
    }
    if (!cm->is_applied) {
        cm->is_applied = true;
        cm->chain = row->chain;
        global_apply(w, idx, &e);
    }
}

/* Every index a live node applied, in memory or durably, is checked as it
 * is seen (after each event): a write-back buffer may hold it for long. */
static void note_applied(struct sim_world *w, struct sim_node *n,
                         raft_index applied)
{
    for (raft_index idx = n->noted + 1; idx <= applied && !w->failed; idx++) {
        if (idx > n->disk.n_rows) {
            sim_fail(w, "apply_not_durable",
                     "n%llu applied %llu but its disk has %zu rows", ull(n->id),
                     ull(idx), n->disk.n_rows);
            return;
        }
        note_entry(w, n, idx, &n->disk.rows[idx - 1]);
        n->noted = idx;
    }
}

/* The term of n's entry at i: compacted ones from its disk rows (they
 * keep their terms for the checks). */
static raft_term node_term_at(const struct sim_node *n, raft_index i)
{
    const struct raft *r = replica_raft(n->rep);
    if (i < raft_first_index(r) && i <= n->disk.n_rows) {
        return n->disk.rows[i - 1].term;
    }
    return raft_term_at(r, i);
}

/* An answer may rest on entries applied in this very drain, before the
 * core's applied index moves (raft_advance) and perhaps before the node
 * dies in the same drain. The answer is only allowed to rest on committed
 * entries, so everything the node knows committed and holds on its disk
 * (same term as its log: not a row a pending truncation replaces) joins
 * the global sequence now. A write acknowledged beyond that is caught by
 * sim_check_on_write_ack. */
void sim_check_on_reply(struct sim_world *w, struct sim_node *n)
{
    const struct raft *r = replica_raft(n->rep);
    raft_index commit = raft_commit_index(r);
    for (raft_index idx = n->noted + 1; idx <= commit && !w->failed; idx++) {
        if (idx > n->disk.n_rows ||
            n->disk.rows[idx - 1].term != node_term_at(n, idx)) {
            return;
        }
        note_entry(w, n, idx, &n->disk.rows[idx - 1]);
        n->noted = idx;
    }
}

void sim_check_on_apply(struct sim_world *w, struct sim_node *n,
                        raft_index prev, raft_index applied_index)
{
    if (applied_index < prev) {
        sim_fail(w, "monotonic", "n%llu applied index went from %llu to %llu",
                 ull(n->id), ull(prev), ull(applied_index));
        return;
    }
    for (raft_index idx = prev + 1; idx <= applied_index && !w->failed; idx++) {
        if (idx > n->disk.n_rows) {
            sim_fail(w, "apply_not_durable",
                     "n%llu applied %llu but its disk has %zu rows", ull(n->id),
                     ull(idx), n->disk.n_rows);
            return;
        }
        const struct sim_row *row = &n->disk.rows[idx - 1];
        struct raft_entry e = {row->term, row->type, row->len, row->data};
        note_entry(w, n, idx, row);
        if (w->failed) {
            return;
        }
        uint32_t cl;
        uint64_t seq;
        uint8_t status;
        (void)sim_state_apply(w, &n->shadow, idx, &e, &cl, &seq, &status);
    }
    if (!w->failed) {
        compare_kv(w, n);
    }
}

/* --- Snapshots and compaction --- */

uint64_t sim_check_chain_at(const struct sim_world *w, raft_index index)
{
    ASSERT(index >= 1 && index <= w->check.n_applied);
    return w->check.c[index - 1].chain;
}

void sim_check_on_compact(struct sim_world *w, const struct sim_node *n,
                          const struct replica_compaction *c)
{
    raft_index durable = mem_kv_applied(&n->kv);
    if (c->point > durable || c->log_upto > c->point) {
        sim_fail(w, "compact_durable",
                 "n%llu compacts to %llu at point %llu past its durably "
                 "applied %llu",
                 ull(n->id), ull(c->log_upto), ull(c->point), ull(durable));
        return;
    }
    if (c->log_upto > n->disk.n_rows ||
        n->disk.rows[c->log_upto - 1].term != c->log_upto_term ||
        n->disk.rows[c->point - 1].term != c->point_term) {
        sim_fail(w, "compact_terms",
                 "n%llu compaction %llu/t%llu (point %llu/t%llu) disagrees "
                 "with its log",
                 ull(n->id), ull(c->log_upto), ull(c->log_upto_term),
                 ull(c->point), ull(c->point_term));
    }
}

/* The covered rows become the global sequence's (payload-less); with a
 * kept log, the rows after index are chained anew on top of it and must
 * match every other log holding them (log matching above the point). */
static void install_rows(struct sim_world *w, struct sim_node *n,
                         raft_index index)
{
    struct sim_disk *d = &n->disk;
    for (raft_index i = 1; i <= index; i++) {
        const struct sim_commit *cm = &w->check.c[i - 1];
        if (i > d->n_rows || d->rows[i - 1].term != cm->term ||
            d->rows[i - 1].chain != cm->chain || i > d->compacted) {
            sim_disk_put_meta(d, i, cm->term, cm->chain);
        }
    }
    d->compacted = index;
    if (d->n_rows > index) {
        sim_disk_rechain(d, index);
        for (raft_index i = index + 1; i <= d->n_rows && !w->failed; i++) {
            sim_check_on_row(w, i, d->rows[i - 1].term, d->rows[i - 1].chain);
        }
    }
}

void sim_check_on_stage(struct sim_world *w, const struct sim_node *n,
                        const struct msg_snapshot *c)
{
    struct status_transfer recv;
    (void)replica_snapshot_progress(n->rep, &recv, NULL, 0);
    if (recv.size != c->size || recv.done > c->offset) {
        sim_fail(w, "status_transfer",
                 "n%llu stages %llu of a %llu-byte image; status says "
                 "%llu of %llu",
                 ull(n->id), ull(c->offset), ull(c->size), ull(recv.done),
                 ull(recv.size));
    }
}

void sim_check_on_install(struct sim_world *w, struct sim_node *n,
                          raft_index prev, raft_index index, raft_term term)
{
    struct sim_check *c = &w->check;
    if (index < prev) {
        sim_fail(w, "snapshot_monotonic",
                 "n%llu installed snapshot %llu over applied %llu", ull(n->id),
                 ull(index), ull(prev));
        return;
    }
    if (index > c->n_applied || c->c[index - 1].term != term) {
        sim_fail(w, "snapshot_point",
                 "n%llu installed %llu/t%llu, not in the global sequence "
                 "(%llu applied)",
                 ull(n->id), ull(index), ull(term), ull(c->n_applied));
        return;
    }
    n->shadow = c->model_at[index];
    compare_kv(w, n);
    if (w->failed) {
        return;
    }
    install_rows(w, n, index);
    if (n->noted < index) {
        n->noted = index;
    }
}

/* --- Log matching: one chain hash per (index, term), ever --- */

static size_t lm_slot(const struct sim_check *c, raft_index idx, raft_term term)
{
    uint64_t h = sim_fnv_u64(sim_fnv_u64(SIM_FNV_INIT, idx), term);
    size_t i = (size_t)(h & (c->cap_lm - 1));
    while (c->lm_keys[2 * i] != 0 &&
           (c->lm_keys[2 * i] != idx || c->lm_keys[2 * i + 1] != term)) {
        i = (i + 1) & (c->cap_lm - 1);
    }
    return i;
}

static void lm_grow(struct sim_check *c)
{
    uint64_t *keys = c->lm_keys;
    uint64_t *vals = c->lm_vals;
    size_t cap = c->cap_lm;
    c->cap_lm = cap * 2;
    c->lm_keys = calloc(c->cap_lm * 2, sizeof *c->lm_keys);
    c->lm_vals = calloc(c->cap_lm, sizeof *c->lm_vals);
    ASSERT(c->lm_keys != NULL && c->lm_vals != NULL);
    for (size_t i = 0; i < cap; i++) {
        if (keys[2 * i] != 0) {
            size_t j = lm_slot(c, keys[2 * i], keys[2 * i + 1]);
            c->lm_keys[2 * j] = keys[2 * i];
            c->lm_keys[2 * j + 1] = keys[2 * i + 1];
            c->lm_vals[j] = vals[i];
        }
    }
    free(keys);
    free(vals);
}

void sim_check_on_row(struct sim_world *w, raft_index index, raft_term term,
                      uint64_t chain)
{
    struct sim_check *c = &w->check;
    if (2 * (c->n_lm + 1) > c->cap_lm) {
        lm_grow(c);
    }
    size_t i = lm_slot(c, index, term);
    if (c->lm_keys[2 * i] == 0) {
        c->lm_keys[2 * i] = index;
        c->lm_keys[2 * i + 1] = term;
        c->lm_vals[i] = chain;
        c->n_lm++;
    } else if (c->lm_vals[i] != chain) {
        sim_fail(w, "log_matching",
                 "two logs hold index %llu term %llu with different "
                 "histories",
                 ull(index), ull(term));
    }
}

raft_index sim_check_before_truncate(const struct sim_world *w,
                                     const struct sim_node *n, raft_index from,
                                     uint64_t *chain)
{
    const struct sim_check *c = &w->check;
    raft_index top = n->disk.n_rows < c->n_c ? n->disk.n_rows : c->n_c;
    for (raft_index idx = top; idx >= from && idx >= 1; idx--) {
        if (c->c[idx - 1].term != 0 &&
            n->disk.rows[idx - 1].term == c->c[idx - 1].term) {
            *chain = n->disk.rows[idx - 1].chain;
            return idx;
        }
    }
    return 0;
}

void sim_check_after_truncate(struct sim_world *w, const struct sim_node *n,
                              raft_index held, uint64_t chain)
{
    if (held > n->disk.n_rows || n->disk.rows[held - 1].chain != chain) {
        sim_fail(w, "committed_truncated",
                 "n%llu removed committed entry %llu from its disk", ull(n->id),
                 ull(held));
    }
}

/* --- Persist before send (DESIGN.md, Durable state) --- */

/* A message sent as it is made must find what it promises durable as it
 * stands now. One the replica held for a sync (n->is_releasing) leaves
 * after the node wrote more (a higher term, a truncation) and promises
 * what stood when it was made: a vote in a term below the durable term is
 * kept by that term (no second vote in it can follow), and acknowledged
 * rows count against the durable rows, which keep the rows a pending
 * truncation replaces (they were what the reply acknowledged). Once a
 * newer term is durable, so may be the truncation its leader made: an
 * older term's acknowledgement is then like one the network delayed past
 * that truncation, which Raft allows (seed 0x1c11). */
void sim_check_on_send(struct sim_world *w, const struct sim_node *n,
                       const struct raft_msg *msg)
{
    struct sim_durable dv;
    sim_disk_durable(&n->disk, &dv);
    const struct sim_durable *d = &dv;
    const char *broken = NULL;
    bool is_pre = (msg->type == MSG_VOTE && msg->u.vote.pre_vote) ||
                  (msg->type == MSG_VOTE_REPLY && msg->u.vote_reply.pre_vote);
    if (is_pre) {
        return; /* A pre-vote promises nothing durable. */
    }
    bool is_kept = n->is_releasing && d->term > msg->term;
    size_t rows = n->is_releasing ? d->n_rows : d->n_same;
    if (msg->term > d->term) {
        broken = "its term";
    } else if (msg->type == MSG_VOTE && !is_kept &&
               (d->term != msg->term || d->voted_for != n->id)) {
        broken = "its vote for itself";
    } else if (msg->type == MSG_VOTE_REPLY && msg->u.vote_reply.granted &&
               !is_kept && (d->term != msg->term || d->voted_for != msg->to)) {
        broken = "the vote it grants";
    } else if (msg->type == MSG_APPEND_REPLY && msg->u.append_reply.success &&
               !is_kept && msg->u.append_reply.match_index > rows) {
        broken = "the entries it acknowledges";
    }
    if (broken != NULL) {
        sim_fail(w, "persist_before_send",
                 "n%llu sent type %u in term %llu before %s was durable "
                 "(durable term %llu vote %llu rows %zu, first %zu as "
                 "written%s)",
                 ull(n->id), msg->type, ull(msg->term), broken, ull(d->term),
                 ull(d->voted_for), d->n_rows, d->n_same,
                 n->is_releasing ? "; held for a sync" : "");
    }
}

/* --- Client answers --- */

void sim_check_on_session(struct sim_world *w, const struct sim_client *cl)
{
    struct sim_check *c = &w->check;
    grow((void **)&c->owner, &c->cap_owner, cl->id + 1, sizeof *c->owner);
    if (c->owner[cl->id] != 0 && c->owner[cl->id] != cl->idx + 1) {
        sim_fail(w, "register", "session %llu answered to c%u and c%u",
                 ull(cl->id), c->owner[cl->id] - 1, cl->idx);
        return;
    }
    c->owner[cl->id] = cl->idx + 1;
}

void sim_check_on_write_ack(struct sim_world *w, const struct sim_client *cl,
                            uint8_t status)
{
    struct sim_check *c = &w->check;
    const struct sim_ack *a =
        cl->seq < c->cap_acks[cl->idx] ? &c->acks[cl->idx][cl->seq] : NULL;
    if (a == NULL || a->index == 0) {
        sim_fail(w, "durability",
                 "c%u seq %llu acknowledged but never applied by anyone",
                 cl->idx, ull(cl->seq));
        return;
    }
    if (a->status != status) {
        sim_fail(w, "reply_mismatch",
                 "c%u seq %llu answered %u; it took effect as %u at %llu",
                 cl->idx, ull(cl->seq), status, a->status, ull(a->index));
        return;
    }
    if (a->index > c->max_acked) {
        c->max_acked = a->index;
    }
    c->n_acked_writes++;
}

/* A GET must see the state after some prefix of the global sequence that
 * holds every write acknowledged before the GET was invoked: the key's
 * value at read_floor or any later change of it. */
void sim_check_on_read(struct sim_world *w, const struct sim_client *cl,
                       uint8_t status, const uint8_t *value, uint32_t len)
{
    struct sim_check *c = &w->check;
    const struct sim_key_change *ch = c->changes[cl->key];
    size_t n = c->n_changes[cl->key];
    bool is_absent = status == CLIENT_NOT_FOUND;
    size_t first = 0; /* First change that may be seen. */
    while (first < n && ch[first].index <= cl->read_floor) {
        first++;
    }
    uint64_t h = value_hash(value, len);
    bool ok;
    if (first == 0) {
        ok = is_absent;
    } else {
        first--;
        ok = false;
    }
    for (size_t i = first; !ok && i < n; i++) {
        ok = is_absent ? !ch[i].present
                       : ch[i].present && ch[i].value_len == len &&
                             ch[i].value_hash == h;
    }
    if (!ok) {
        sim_fail(w, "linearizable_read",
                 "c%u GET k%u (invoked at %llu, floor index %llu) returned "
                 "%s%.*s (%u bytes): not the value of any allowed prefix",
                 cl->idx, cl->key, ull(cl->invoke_ms), ull(cl->read_floor),
                 is_absent ? "absent" : "",
                 is_absent ? 0 : (int)(len < 24 ? len : 24),
                 is_absent ? "" : (const char *)value, len);
        return;
    }
    c->n_reads_checked++;
}

/* --- After every event --- */

/* Lowers the known commit term of idx; leaders must be rechecked there. */
static void commit_term_seen(struct sim_world *w, struct sim_commit *cm,
                             raft_index idx, raft_term term)
{
    if (cm->min_commit_term != 0 && cm->min_commit_term <= term) {
        return;
    }
    cm->min_commit_term = term;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        if (w->nodes[i].lc_upto >= idx) {
            w->nodes[i].lc_upto = idx - 1;
        }
    }
}

static void election_safety(struct sim_world *w, raft_id id, raft_term term)
{
    struct sim_check *c = &w->check;
    if (term >= (1u << 24)) {
        sim_fail(w, "term_bound", "n%llu reached term %llu", ull(id),
                 ull(term));
        return;
    }
    grow((void **)&c->leader_of, &c->cap_leader_of, term + 1,
         sizeof *c->leader_of);
    if (c->leader_of[term] == RAFT_ID_NONE) {
        c->leader_of[term] = id;
    } else if (c->leader_of[term] != id) {
        sim_fail(w, "election_safety", "n%llu and n%llu both led term %llu",
                 ull(c->leader_of[term]), ull(id), ull(term));
    }
}

/* A leader's commit index says entries up to it are committed in a term
 * at most its own; a leader's log holds every entry committed before its
 * term (leader completeness, Figure 3). */
static void check_leader(struct sim_world *w, struct sim_node *n)
{
    const struct raft *r = replica_raft(n->rep);
    raft_term term = raft_current_term(r);
    raft_index commit = raft_commit_index(r);
    election_safety(w, n->id, term);
    if (n->obs_term != term) {
        n->obs_term = term;
        n->obs_upto = 0;
    }
    for (raft_index i = n->obs_upto + 1; i <= commit && !w->failed; i++) {
        struct sim_commit *cm = commit_note(w, i, node_term_at(n, i), n->id);
        commit_term_seen(w, cm, i, term);
    }
    n->obs_upto = commit > n->obs_upto ? commit : n->obs_upto;
    if (n->lc_term != term) {
        n->lc_term = term;
        n->lc_upto = 0;
    }
    const struct sim_check *c = &w->check;
    for (raft_index i = n->lc_upto + 1; i <= c->n_c && !w->failed; i++) {
        const struct sim_commit *cm = &c->c[i - 1];
        if (cm->term != 0 && cm->min_commit_term != 0 &&
            cm->min_commit_term < term && node_term_at(n, i) != cm->term) {
            sim_fail(w, "leader_completeness",
                     "n%llu leads term %llu without entry %llu (term %llu, "
                     "committed by term %llu)",
                     ull(n->id), ull(term), ull(i), ull(cm->term),
                     ull(cm->min_commit_term));
        }
    }
    n->lc_upto = c->n_c;
}

/* What status reports of the snapshot transfers (issue 16) is what the
 * wire accepts: never more done than the size, and each send goes to a
 * member other than this node. */
static void check_transfers(struct sim_world *w, const struct sim_node *n)
{
    struct status_transfer recv;
    struct status_transfer sends[RAFT_NODES_MAX];
    uint32_t n_sends =
        replica_snapshot_progress(n->rep, &recv, sends, RAFT_NODES_MAX);
    if (recv.done > recv.size) {
        sim_fail(w, "status_transfer", "n%llu received %llu of %llu bytes",
                 ull(n->id), ull(recv.done), ull(recv.size));
        return;
    }
    for (uint32_t i = 0; i < n_sends; i++) {
        if (sends[i].size == 0 || sends[i].done > sends[i].size ||
            sends[i].peer == 0 || sends[i].peer == n->id) {
            sim_fail(w, "status_transfer",
                     "n%llu sends %llu of %llu bytes to n%llu", ull(n->id),
                     ull(sends[i].done), ull(sends[i].size),
                     ull(sends[i].peer));
            return;
        }
    }
}

/* A leader whose disk has not finished a sync for longer than the hung
 * bound (plus a heartbeat for the tick that notices) must have stepped
 * down (docs/DISK.md): its writes are not durable, and while it keeps
 * sending heartbeats nobody else can lead. */
static void check_hung_leader(struct sim_world *w, const struct sim_node *n)
{
    uint64_t limit = n->sync_asked_ms + sim_disk_hung_bound_ms(w) +
                     w->p.heartbeat_ms;
    if (n->is_syncing && w->now_ms > limit) {
        sim_fail(w, "hung_leader",
                 "n%llu still leads with a sync asked at %llu outstanding "
                 "(bound %llu ms)",
                 ull(n->id), ull(n->sync_asked_ms),
                 ull(sim_disk_hung_bound_ms(w)));
    }
}

static void check_node(struct sim_world *w, struct sim_node *n)
{
    const struct raft *r = replica_raft(n->rep);
    raft_term term = raft_current_term(r);
    raft_index commit = raft_commit_index(r);
    raft_index applied = raft_applied_index(r);
    if (term < n->seen_term || commit < n->seen_commit ||
        applied < n->seen_applied) {
        sim_fail(w, "monotonic",
                 "n%llu went from term %llu commit %llu applied %llu to "
                 "%llu %llu %llu",
                 ull(n->id), ull(n->seen_term), ull(n->seen_commit),
                 ull(n->seen_applied), ull(term), ull(commit), ull(applied));
        return;
    }
    if (commit > raft_last_index(r)) {
        sim_fail(w, "commit_bound", "n%llu commit %llu beyond last %llu",
                 ull(n->id), ull(commit), ull(raft_last_index(r)));
        return;
    }
    note_applied(w, n, applied);
    check_transfers(w, n);
    if (w->failed) {
        return;
    }
    n->seen_term = term;
    n->seen_commit = commit;
    n->seen_applied = applied;
    n->seen_role = raft_role(r);
    if (n->seen_role == RAFT_LEADER) {
        check_hung_leader(w, n);
    }
    if (n->seen_role == RAFT_LEADER && !w->failed) {
        check_leader(w, n);
    }
}

/* A log as an election sees it: its last entry, and whether it holds the
 * highest committed entry. */
struct log_view {
    raft_index last;
    raft_term last_term;
    bool has_top;
};

/* Whether log a is at least as up-to-date as log b (the election
 * restriction, section 5.4.1). */
static bool up_to_date(const struct log_view *a, const struct log_view *b)
{
    return a->last_term != b->last_term ? a->last_term > b->last_term
                                        : a->last >= b->last;
}

/* Node i's log as written ([0]) and as it would restart after a crash
 * that loses every unsynced write ([1]). */
static void log_views(const struct sim_disk *d, raft_index top,
                      raft_term top_term, struct log_view v[2])
{
    v[0].last = d->n_rows;
    v[0].last_term = d->n_rows > 0 ? d->rows[d->n_rows - 1].term : 0;
    v[0].has_top = d->n_rows >= top && d->rows[top - 1].term == top_term;
    struct sim_durable dv;
    sim_disk_durable(d, &dv);
    v[1].last = dv.n_rows;
    v[1].last_term = dv.last_term;
    /* Past n_same a durable row is one a pending truncation removed:
     * never a committed one (committed_truncated). */
    v[1].has_top = dv.n_same >= top && d->rows[top - 1].term == top_term;
}

/* The lemma behind leader completeness, checked on every state rather
 * than only when an election happens: a member whose log is at least as
 * up-to-date as a majority's could be elected, so it must already hold the
 * highest committed entry (and by log matching all before it). Each member
 * may crash or not, so its log as written and its durable log both count,
 * for the candidate and for the voters. */
static void check_electable(struct sim_world *w)
{
    const struct sim_check *c = &w->check;
    if (c->n_c == 0 || c->c[c->n_c - 1].term == 0) {
        return;
    }
    raft_index top = c->n_c;
    raft_term top_term = c->c[top - 1].term;
    struct log_view v[SIM_NODES_MAX + 1][2];
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        log_views(&w->nodes[i].disk, top, top_term, v[i]);
    }
    for (uint32_t x = 1; x <= w->p.n_nodes; x++) {
        for (int k = 0; k < 2; k++) {
            const struct log_view *vx = &v[x][k];
            if (vx->has_top) {
                continue;
            }
            uint32_t n_behind = 0;
            for (uint32_t u = 1; u <= w->p.n_nodes; u++) {
                n_behind +=
                    up_to_date(vx, &v[u][0]) || up_to_date(vx, &v[u][1]);
            }
            if (n_behind >= w->p.n_nodes / 2 + 1) {
                sim_fail(w, "leader_completeness",
                         "n%u could be elected (its %s log is as "
                         "up-to-date as %u of %u) without committed entry "
                         "%llu (term %llu)",
                         x, k == 0 ? "written" : "durable", n_behind,
                         w->p.n_nodes, ull(top), ull(top_term));
                return;
            }
        }
    }
}

void sim_check_event(struct sim_world *w)
{
    for (uint32_t i = 1; i <= w->p.n_nodes && !w->failed; i++) {
        if (w->nodes[i].rep != NULL) {
            check_node(w, &w->nodes[i]);
        }
    }
    if (!w->failed && w->p.n_boot == 0) {
        check_electable(w); /* Membership seeds: not yet per config. */
    }
    if (!w->failed) {
        sim_member_check(w);
    }
}
