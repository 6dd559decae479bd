/*
 * Membership changes (thesis chapter 4) and leadership transfer (thesis
 * 3.10): the configuration in force is the latest RAFT_ENTRY_CONFIG in the
 * log, committed or not (4.1); every voter change goes through a joint
 * configuration needing separate majorities of the old and new voter sets
 * (4.3); learners are replicated to but never vote or count; one change at
 * a time, none before the leader committed an entry of its term (the 2015
 * single-server bug); the quorum rules every other file asks for live here.
 * Pure: no I/O, no clock. Read node/raft_read.c next.
 */
#include "node/raft_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

/* The configuration quorums are counted in: the latest (thesis 4.1). */
static const struct membership *quorum_conf(const struct raft *r)
{
    if (RAFT_BUG(RAFT_BUG_COMMITTED_CONF)) {
        const struct membership *c = &r->base_conf;
        for (size_t i = 0; i < r->n_confs; i++) {
            if (r->confs[i].index <= r->commit) {
                c = &r->confs[i].conf;
            }
        }
        return c;
    }
    return &r->conf;
}

/* Thesis 4.3: "Agreement (for elections and entry commitment) requires
 * separate majorities from both the old and new configurations." ok[i]
 * says whether member i of c agrees. Learners never count (thesis 4.2.1). */
static bool conf_quorum(const struct membership *c, const bool *ok)
{
    if (RAFT_BUG(RAFT_BUG_JOINT_NEW_ONLY) && c->joint) {
        struct membership only_new = *c;
        only_new.joint = false;
        return membership_quorum(&only_new, ok);
    }
    if (RAFT_BUG(RAFT_BUG_COUNT_LEARNER)) {
        uint32_t yes = 0;
        for (uint32_t i = 0; i < c->n; i++) {
            yes += ok[i] && (c->m[i].voter || !c->m[i].old_voter);
        }
        if (yes < membership_n_voters(c, false) / 2 + 1) {
            return false;
        }
        if (!c->joint) {
            return true;
        }
    }
    return membership_quorum(c, ok);
}

bool raft_quorum_of(const struct raft *r, bool self_ok, const bool *peer_ok)
{
    const struct membership *c = quorum_conf(r);
    bool ok[RAFT_NODES_MAX];
    for (uint32_t i = 0; i < c->n; i++) {
        ok[i] = false;
        if (c->m[i].id == r->config.id) {
            ok[i] = self_ok;
            continue;
        }
        for (uint32_t k = 0; k < r->n_peers; k++) {
            if (r->peers[k].id == c->m[i].id) {
                ok[i] = peer_ok[k];
            }
        }
    }
    if (c->n == 0) {
        return false;
    }
    return conf_quorum(c, ok);
}

/* The highest index a majority of one voter set holds (old: the old set). */
static raft_index set_match(const struct raft *r, const struct membership *c,
                            bool old, raft_index self)
{
    raft_index m[RAFT_NODES_MAX];
    uint32_t n = 0;
    uint32_t n_voters = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct membership_member *x = &c->m[i];
        bool in = old ? x->old_voter : x->voter;
        n_voters += in;
        if (!old && !in && !x->old_voter && RAFT_BUG(RAFT_BUG_COUNT_LEARNER)) {
            in = true; /* The broken rule: a learner's copy counts. */
        }
        if (!in) {
            continue;
        }
        raft_index v = 0;
        if (x->id == r->config.id) {
            v = self;
        } else {
            for (uint32_t k = 0; k < r->n_peers; k++) {
                if (r->peers[k].id == x->id) {
                    v = r->peers[k].match;
                }
            }
        }
        uint32_t j = n++;
        while (j > 0 && m[j - 1] < v) { /* Descending insertion sort. */
            m[j] = m[j - 1];
            j--;
        }
        m[j] = v;
    }
    if (n_voters == 0) {
        return 0;
    }
    return m[n_voters / 2];
}

/* Figure 2's "a majority of matchIndex[i] >= N", thesis 4.3: the highest
 * index a majority of each voter set holds, counting ourselves at self. */
raft_index raft_quorum_match(const struct raft *r, raft_index self)
{
    const struct membership *c = quorum_conf(r);
    raft_index v = set_match(r, c, false, self);
    if (c->joint && !RAFT_BUG(RAFT_BUG_JOINT_NEW_ONLY)) {
        raft_index o = set_match(r, c, true, self);
        v = o < v ? o : v;
    }
    return v;
}

/* Rebuilds the peer table from the latest configuration: every member but
 * us (voters and learners alike get the log), keeping known progress. */
static void sync_peers(struct raft *r)
{
    struct raft_peer old[RAFT_NODES_MAX];
    uint32_t n_old = r->n_peers;
    memcpy(old, r->peers, n_old * sizeof old[0]);
    r->n_peers = 0;
    raft_index last = raft_log_last_index(&r->log);
    for (uint32_t i = 0; i < r->conf.n; i++) {
        raft_id id = r->conf.m[i].id;
        if (id == r->config.id) {
            continue;
        }
        struct raft_peer *p = &r->peers[r->n_peers++];
        bool kept = false;
        for (uint32_t k = 0; k < n_old && !kept; k++) {
            if (old[k].id == id) {
                *p = old[k];
                kept = true;
            }
        }
        if (!kept) {
            memset(p, 0, sizeof *p);
            p->id = id;
            p->next = last + 1;
            p->mode = RAFT_PEER_PROBE;
            p->send_pending = r->role == RAFT_LEADER;
            p->last_ack_ms = r->now_ms;
            p->active = true;
        }
    }
}

static void set_latest(struct raft *r)
{
    if (r->n_confs > 0) {
        r->conf = r->confs[r->n_confs - 1].conf;
        r->conf_index = r->confs[r->n_confs - 1].index;
    } else {
        r->conf = r->base_conf;
        r->conf_index = r->base_conf_index;
    }
    sync_peers(r);
}

int raft_membership_load(struct raft *r, const struct raft_loaded *l)
{
    membership_init(&r->base_conf);
    r->base_conf_index = 0;
    if (l->config != NULL && l->config_len > 0) {
        int rv = membership_decode(l->config, l->config_len, &r->base_conf);
        if (rv != ERR_OK) {
            return ERR_CORRUPT;
        }
        r->base_conf_index = l->config_index;
    } else {
        for (uint32_t i = 0; i < r->config.n_members; i++) {
            membership_add(&r->base_conf, r->config.members[i])->voter = true;
        }
    }
    r->n_confs = 0;
    set_latest(r);
    return ERR_OK;
}

int raft_membership_on_append(struct raft *r, raft_index index,
                              const struct raft_entry *e)
{
    if (e->type != RAFT_ENTRY_CONFIG || index <= r->base_conf_index) {
        return ERR_OK;
    }
    struct membership c;
    if (membership_decode(e->data, e->len, &c) != ERR_OK) {
        raft_tracef(r, RAFT_TRACE_INFO, "config entry %llu malformed: ignored",
                    (unsigned long long)index);
        return ERR_OK;
    }
    if (r->n_confs == r->cap_confs) {
        size_t cap = r->cap_confs ? r->cap_confs * 2 : 4;
        struct raft_conf_rec *a = realloc(r->confs, cap * sizeof *a);
        if (a == NULL) {
            return ERR_NOMEM;
        }
        r->confs = a;
        r->cap_confs = cap;
    }
    ASSERT(r->n_confs == 0 || r->confs[r->n_confs - 1].index < index);
    r->confs[r->n_confs].index = index;
    r->confs[r->n_confs].conf = c;
    r->n_confs++;
    set_latest(r);
    char text[MEMBERSHIP_TEXT_MAX];
    membership_encode(&c, text, sizeof text);
    raft_tracef(r, RAFT_TRACE_INFO, "config %llu: %s",
                (unsigned long long)index, text);
    return ERR_OK;
}

void raft_membership_truncate(struct raft *r, raft_index from)
{
    size_t n = r->n_confs;
    while (r->n_confs > 0 && r->confs[r->n_confs - 1].index >= from) {
        r->n_confs--;
    }
    if (n != r->n_confs) {
        set_latest(r);
    }
}

void raft_membership_compact(struct raft *r, raft_index upto)
{
    size_t k = 0;
    while (k < r->n_confs && r->confs[k].index <= upto) {
        r->base_conf = r->confs[k].conf;
        r->base_conf_index = r->confs[k].index;
        k++;
    }
    if (k > 0) { /* confs may be NULL while none is held. */
        memmove(r->confs, r->confs + k,
                (r->n_confs - k) * sizeof r->confs[0]);
        r->n_confs -= k;
    }
}

void raft_membership_installed(struct raft *r, raft_index index, bool keep)
{
    if (keep) {
        raft_membership_compact(r, index);
    } else {
        r->n_confs = 0;
    }
    if (r->snap_conf_set) {
        r->base_conf = r->snap_conf;
        r->base_conf_index = index;
        r->snap_conf_set = false;
    } else if (!keep) {
        r->base_conf = r->conf; /* Unknown: keep what we had. */
    }
    set_latest(r);
}

int raft_snapshot_set_config(struct raft *r, const uint8_t *text, uint32_t len)
{
    int rv = membership_decode(text, len, &r->snap_conf);
    r->snap_conf_set = rv == ERR_OK;
    return rv;
}

/* Thesis 4.2.1: learners never start elections. Thesis 4.2.2: "a server
 * that is not part of its own latest configuration should still start new
 * elections, as it might still be needed until the C_new entry is
 * committed": a voter of the configuration before an uncommitted one. */
bool raft_membership_can_campaign(const struct raft *r)
{
    raft_id self = r->config.id;
    if (membership_is_voter(&r->conf, self)) {
        return true;
    }
    if (r->conf_index <= r->commit || r->n_confs == 0) {
        return false;
    }
    const struct membership *prev = r->n_confs >= 2
                                        ? &r->confs[r->n_confs - 2].conf
                                        : &r->base_conf;
    return membership_is_voter(prev, self);
}

bool raft_membership_knows(const struct raft *r, raft_id id)
{
    return r->conf.n == 0 || membership_get(&r->conf, id) != NULL;
}

/* Leader, after commit moved: thesis 4.3, once C_old,new is committed the
 * leader appends C_new. Errors: ERR_NOMEM. */
int raft_membership_on_commit(struct raft *r)
{
    if (r->role != RAFT_LEADER || !r->conf.joint || r->conf_index > r->commit) {
        return ERR_OK;
    }
    struct membership c = r->conf;
    c.joint = false;
    for (uint32_t i = 0; i < c.n;) {
        c.m[i].old_voter = false;
        if (!c.m[i].voter && membership_is_voter(&r->conf, c.m[i].id)) {
            membership_remove(&c, c.m[i].id); /* Left with C_old. */
        } else {
            i++;
        }
    }
    char text[MEMBERSHIP_TEXT_MAX];
    size_t len = membership_encode(&c, text, sizeof text);
    raft_index index;
    return raft_propose(r, r->now_ms, RAFT_ENTRY_CONFIG, (const uint8_t *)text,
                        (uint32_t)len, &index);
}

/* Leader, at each tick: thesis 4.2.2, a leader not in C_new steps down once
 * C_new is committed; a transfer that did not end in an election timeout
 * is given up (thesis 3.10). Returns true when it stepped down. */
bool raft_membership_tick(struct raft *r)
{
    if (!r->conf.joint && r->conf_index <= r->commit &&
        !membership_is_voter(&r->conf, r->config.id)) {
        raft_tracef(r, RAFT_TRACE_INFO, "not in the committed config: "
                                        "stepping down");
        raft_become_follower(r, r->term, RAFT_ID_NONE);
        return true;
    }
    if (r->transfer_to != RAFT_ID_NONE && r->now_ms >= r->transfer_until_ms) {
        raft_tracef(r, RAFT_TRACE_INFO, "transfer to n%llu timed out",
                    (unsigned long long)r->transfer_to);
        r->transfer_to = RAFT_ID_NONE;
    }
    return false;
}

/* Thesis 4.2.2 and 4.3 preconditions of a change, then C_old,new (or, for
 * a change of learners only, the new configuration at once). */
int raft_change(struct raft *r, uint64_t now_ms, const struct membership *to,
                raft_index *index)
{
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    if (r->role != RAFT_LEADER) {
        return ERR_NOT_LEADER;
    }
    if (to->joint || membership_n_voters(to, false) == 0) {
        return ERR_INVALID;
    }
    /* One change at a time: the last configuration must be committed. */
    if ((r->conf.joint || r->conf_index > r->commit || r->transfer_to != 0) &&
        !RAFT_BUG(RAFT_BUG_TWO_CHANGES)) {
        return ERR_BUSY;
    }
    /* The 2015 single-server bug: not before an entry of this term is
     * committed (the no-op), else an older leader's uncommitted change may
     * still win. */
    if (r->commit < r->term_start_index && !RAFT_BUG(RAFT_BUG_CHANGE_EARLY)) {
        return ERR_AGAIN;
    }
    struct membership c = *to;
    struct membership cur = r->conf;
    cur.joint = false;
    for (uint32_t i = 0; i < cur.n; i++) {
        cur.m[i].old_voter = false;
    }
    if (!membership_same_voters(&cur, to)) {
        c.joint = true;
        for (uint32_t i = 0; i < r->conf.n; i++) {
            const struct membership_member *o = &r->conf.m[i];
            if (!o->voter) {
                continue;
            }
            struct membership_member *m = membership_find(&c, o->id);
            if (m == NULL) {
                m = membership_add(&c, o->id);
                if (m == NULL) {
                    return ERR_TOO_BIG;
                }
                memcpy(m->addr, o->addr, sizeof m->addr);
            }
            m->old_voter = true;
        }
    }
    char text[MEMBERSHIP_TEXT_MAX];
    size_t len = membership_encode(&c, text, sizeof text);
    return raft_propose(r, now_ms, RAFT_ENTRY_CONFIG, (const uint8_t *)text,
                        (uint32_t)len, index);
}

/* Thesis 3.10: once the target's log matches ours, TimeoutNow. */
int raft_transfer_send_if_ready(struct raft *r, const struct raft_peer *p)
{
    if (r->transfer_to != p->id || r->transfer_sent ||
        p->match < raft_log_last_index(&r->log)) {
        return ERR_OK;
    }
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_TIMEOUT_NOW;
    m.from = r->config.id;
    m.to = p->id;
    m.term = r->term;
    r->transfer_sent = true;
    raft_tracef(r, RAFT_TRACE_INFO, "timeout-now to n%llu",
                (unsigned long long)p->id);
    return raft_outbox_push(&r->now, &m);
}

/* Thesis 3.10, leadership transfer: "the prior leader stops accepting new
 * client requests", brings the target up to date, sends TimeoutNow; it
 * resumes if no election ends within an election timeout. target 0: the
 * voter with the highest match. */
int raft_transfer(struct raft *r, uint64_t now_ms, raft_id target)
{
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    if (r->role != RAFT_LEADER) {
        return ERR_NOT_LEADER;
    }
    if (r->transfer_to != RAFT_ID_NONE || r->conf.joint) {
        return ERR_BUSY;
    }
    struct raft_peer *best = NULL;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        struct raft_peer *p = &r->peers[i];
        const struct membership_member *m = membership_get(&r->conf, p->id);
        if (m == NULL || !m->voter) {
            continue;
        }
        if (target == p->id || (target == 0 && (!best || p->match > best->match))) {
            best = p;
        }
    }
    if (best == NULL) {
        return target == r->config.id ? ERR_INVALID : ERR_NOT_FOUND;
    }
    r->transfer_to = best->id;
    r->transfer_sent = false;
    r->transfer_until_ms = now_ms + r->config.election_ms;
    best->send_pending = true;
    raft_tracef(r, RAFT_TRACE_INFO, "transfer to n%llu started",
                (unsigned long long)best->id);
    return raft_transfer_send_if_ready(r, best);
}

const struct membership *raft_membership(const struct raft *r)
{
    return &r->conf;
}

raft_index raft_membership_index(const struct raft *r)
{
    return r->conf_index;
}

void raft_membership_at(const struct raft *r, raft_index index,
                        struct membership *out)
{
    *out = r->base_conf;
    for (size_t i = 0; i < r->n_confs && r->confs[i].index <= index; i++) {
        *out = r->confs[i].conf;
    }
}

raft_index raft_term_start_index(const struct raft *r)
{
    return r->role == RAFT_LEADER ? r->term_start_index : 0;
}

raft_id raft_transfer_target(const struct raft *r)
{
    return r->transfer_to;
}
