/*
 * The replay model (launcher/replay.h). Seeking forward applies the lines
 * between the two moments; seeking back applies everything from the
 * start again (a recording is at most REC_READ_FILE_MAX and applying a
 * line costs one small JSON parse, message lines are only counted). Read
 * launcher/cmd_replay.c next.
 */
#include "launcher/replay.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"

/* "host:port" into a conf member (an address that does not parse is
 * left empty: replay only shows ids). */
static void replay_member(struct conf_member *cm, const struct rec_member *m)
{
    cm->id = m->id;
    const char *colon = strrchr(m->addr, ':');
    if (colon != NULL && (size_t)(colon - m->addr) <= CONF_HOST_MAX) {
        memcpy(cm->host, m->addr, (size_t)(colon - m->addr));
        cm->host[colon - m->addr] = '\0';
        cm->port = (uint16_t)strtoul(colon + 1, NULL, 10);
    }
}

static int member_cmp(const void *a, const void *b)
{
    const struct conf_member *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int replay_init(struct replay *r, struct rec_file *f, char errmsg[ERRMSG_LEN])
{
    (void)errmsg;
    memset(r, 0, sizeof(*r));
    r->file = *f;
    memset(f, 0, sizeof(*f));
    r->conf.n_members = r->file.meta.n_members;
    for (uint32_t i = 0; i < r->conf.n_members; i++) {
        replay_member(&r->conf.members[i], &r->file.meta.members[i]);
    }
    qsort(r->conf.members, r->conf.n_members, sizeof(r->conf.members[0]),
          member_cmp);
    ev_ring_init(&r->events);
    return ERR_OK;
}

int replay_open(struct replay *r, const char *path, char errmsg[ERRMSG_LEN])
{
    struct rec_file f;
    int rc = rec_file_load(path, &f, errmsg);
    if (rc != ERR_OK) {
        return rc;
    }
    return replay_init(r, &f, errmsg);
}

void replay_close(struct replay *r)
{
    rec_file_free(&r->file);
}

/* --- Applying lines -------------------------------------------------------- */

static void replay_push(struct replay *r, uint64_t t, int kind, raft_id id,
                        const char *prefix, const char *text)
{
    struct ev e;
    ev_set(&e, r->file.meta.wall_ms + t, kind, id, 0, "%s%s", prefix, text);
    ev_ring_push(&r->events, &e);
}

static void replay_apply(struct replay *r, size_t i)
{
    const struct rec_entry *en = &r->file.entries[i];
    if (en->kind == REC_MSG) {
        r->n_msgs++; /* Not parsed: the dashboard shows no messages. */
        return;
    }
    static struct rec_record rec; /* Large; replay is single-threaded. */
    if (rec_file_get(&r->file, i, &rec) != ERR_OK) {
        return;
    }
    switch (rec.kind) {
    case REC_STATUS: {
        int m = conf_member_index(&r->conf, rec.u.status.id);
        if (m < 0) {
            return;
        }
        struct replay_node *n = &r->nodes[m];
        n->up = rec.u.status.up;
        if (n->up) {
            n->seen = true;
            n->t_up = rec.t;
            n->st = rec.u.status;
        }
        return;
    }
    case REC_EVENT:
        replay_push(r, rec.t, ev_kind_from_record(rec.u.text.kind),
                    rec.u.text.id, "", rec.u.text.text);
        return;
    case REC_FAULT:
        replay_push(r, rec.t, EV_FAULT, rec.u.text.id, "", rec.u.text.text);
        return;
    case REC_VIOLATION:
        r->n_violations++;
        replay_push(r, rec.t, EV_DEATH, RAFT_ID_NONE, "VIOLATION ",
                    rec.u.text.text);
        return;
    case REC_TRACE_DROPPED: {
        char text[64];
        snprintf(text, sizeof(text), "%" PRIu64 " messages not traced",
                 rec.u.text.count);
        replay_push(r, rec.t, EV_INFO, rec.u.text.id, "", text);
        return;
    }
    default:
        return;
    }
}

void replay_seek(struct replay *r, uint64_t t)
{
    if (t > r->file.t_end) {
        t = r->file.t_end;
    }
    if (t < r->t || (r->pos > 0 && r->file.entries[r->pos - 1].t > t)) {
        r->pos = 0;
        r->n_msgs = 0;
        r->n_violations = 0;
        memset(r->nodes, 0, sizeof(r->nodes));
        ev_ring_init(&r->events);
    }
    while (r->pos < r->file.n && r->file.entries[r->pos].t <= t) {
        replay_apply(r, r->pos++);
    }
    r->t = t;
}

uint64_t replay_next_frame(const struct replay *r)
{
    for (size_t i = r->pos; i < r->file.n; i++) {
        if (r->file.entries[i].kind == REC_STATUS &&
            r->file.entries[i].t > r->t) {
            return r->file.entries[i].t;
        }
    }
    return r->file.t_end;
}

/* --- The view ---------------------------------------------------------------- */

static void replay_status_reply(const struct rec_status *s,
                                struct msg_status_reply *out)
{
    memset(out, 0, sizeof(*out));
    out->pid = s->pid;
    out->role = s->role;
    out->leader = s->leader;
    out->voted_for = s->vote;
    out->commit = s->commit;
    out->last_index = s->last;
    out->applied = s->applied;
    out->election_timeout_ms = s->timeout_ms;
    out->election_elapsed_ms = s->timer_ms;
    out->leader_contact_ms = s->contact_ms;
    out->n_peers = s->n_peers;
    for (uint32_t i = 0; i < s->n_peers; i++) {
        out->peers[i].id = s->peers[i].id;
        out->peers[i].match = s->peers[i].match;
        out->peers[i].next = s->peers[i].next;
    }
    out->tail_first = s->tail_first;
    out->n_tail = s->n_tail;
    memcpy(out->tail_terms, s->tail, s->n_tail * sizeof(s->tail[0]));
    out->n_blocked = s->n_blocked;
    memcpy(out->blocked, s->blocked, s->n_blocked * sizeof(s->blocked[0]));
    out->snapshot_index = s->snap;
    out->disk = s->disk;
}

void replay_view(const struct replay *r, struct dash_view *v)
{
    v->conf = &r->conf;
    v->events = &r->events;
    v->from_launcher = true;
    for (uint32_t i = 0; i < r->conf.n_members; i++) {
        const struct replay_node *s = &r->nodes[i];
        struct dash_node *n = &v->nodes[i];
        memset(n, 0, sizeof(*n));
        n->id = r->conf.members[i].id;
        n->state = s->up && s->seen ? DASH_NODE_UP : DASH_NODE_DOWN;
        n->has_reply = s->seen;
        if (s->seen) {
            n->term = s->st.term;
            replay_status_reply(&s->st, &n->st);
            n->age_ms = r->t - s->t_up;
            n->pid = n->state == DASH_NODE_UP ? (long)s->st.pid : 0;
        }
    }
}

/* --- The dump ---------------------------------------------------------------- */

struct dump_state {
    bool up[RAFT_NODES_MAX];
    bool is_leader[RAFT_NODES_MAX];
    raft_term term[RAFT_NODES_MAX];
    raft_id shown;
    raft_term shown_term;
    uint64_t n_leaders;
};

/* After a round of status lines: the answering leader of the highest
 * term, printed when it (or its term) changed. */
static void dump_round(const struct replay *r, struct dump_state *d, uint64_t t,
                       FILE *out)
{
    int best = -1;
    for (uint32_t i = 0; i < r->conf.n_members; i++) {
        if (d->up[i] && d->is_leader[i] &&
            (best < 0 || d->term[i] > d->term[best])) {
            best = (int)i;
        }
    }
    if (best < 0) {
        return;
    }
    raft_id id = r->conf.members[best].id;
    if (id != d->shown || d->term[best] != d->shown_term) {
        fprintf(out, "t=%" PRIu64 " leader %" PRIu64 " term %" PRIu64 "\n", t,
                id, d->term[best]);
        d->shown = id;
        d->shown_term = d->term[best];
        d->n_leaders++;
    }
}

void replay_dump(const struct replay *r, FILE *out)
{
    struct dump_state d;
    memset(&d, 0, sizeof(d));
    static struct rec_record rec;
    uint64_t n_status = 0, n_msgs = 0, n_violations = 0;
    for (size_t i = 0; i < r->file.n; i++) {
        const struct rec_entry *en = &r->file.entries[i];
        if (en->kind == REC_MSG) {
            n_msgs++;
            continue;
        }
        if (rec_file_get(&r->file, i, &rec) != ERR_OK) {
            continue;
        }
        if (rec.kind == REC_STATUS) {
            n_status++;
            int m = conf_member_index(&r->conf, rec.u.status.id);
            if (m >= 0) {
                d.up[m] = rec.u.status.up;
                d.is_leader[m] = rec.u.status.role == RAFT_LEADER;
                d.term[m] = rec.u.status.term;
            }
            bool round_ends = i + 1 == r->file.n ||
                              r->file.entries[i + 1].t != en->t ||
                              r->file.entries[i + 1].kind != REC_STATUS;
            if (round_ends) {
                dump_round(r, &d, en->t, out);
            }
        } else if (rec.kind == REC_VIOLATION) {
            n_violations++;
            fprintf(out, "t=%" PRIu64 " violation %s\n", rec.t,
                    rec.u.text.text);
        }
    }
    fprintf(out,
            "end t=%" PRIu64 " leaders %" PRIu64 " violations %" PRIu64
            " status %" PRIu64 " msgs %" PRIu64 " malformed %" PRIu64 "\n",
            r->file.t_end, d.n_leaders, n_violations, n_status, n_msgs,
            r->file.n_malformed);
}
