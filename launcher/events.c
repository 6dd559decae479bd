/*
 * The event model of launcher/events.h: a ring of recent events, the
 * launcher's stream line format, a description of the fault rules in force,
 * and the tracker that turns successive rounds of status answers into
 * events. Pure apart from ev_format_clock (local time). The dashboard's
 * rendering is in launcher/dash_model.c. Read launcher/dash_source.h next.
 */
#include "launcher/events.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/invariant.h"

static const char *const ev_kind_names[EV__COUNT] = {
    [EV_INFO] = "info",          [EV_START] = "start",
    [EV_DEATH] = "death",        [EV_ELECTION] = "election",
    [EV_VOTE] = "vote",          [EV_LEADER] = "leader",
    [EV_STEP_DOWN] = "stepdown", [EV_NO_LEADER] = "noleader",
    [EV_COMMIT] = "commit",      [EV_FAULT] = "fault",
    [EV_ACTION] = "action",
};

void ev_ring_init(struct ev_ring *r)
{
    memset(r, 0, sizeof(*r));
}

void ev_ring_push(struct ev_ring *r, const struct ev *e)
{
    ASSERT(r->next < EV_RING_MAX);
    struct ev *slot = &r->items[r->next];
    *slot = *e;
    slot->text[EV_TEXT_MAX - 1] = '\0';
    for (char *p = slot->text; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    r->next = (r->next + 1) % EV_RING_MAX;
    if (r->n < EV_RING_MAX) {
        r->n++;
    }
    r->pushed++;
}

const struct ev *ev_ring_newest(const struct ev_ring *r, uint32_t k)
{
    ASSERT(k < r->n);
    return &r->items[(r->next + EV_RING_MAX - 1 - k) % EV_RING_MAX];
}

void ev_set(struct ev *e, uint64_t wall_ms, int kind, raft_id node,
            raft_term term, const char *fmt, ...)
{
    ASSERT(kind >= 0 && kind < EV__COUNT);
    memset(e, 0, sizeof(*e));
    e->wall_ms = wall_ms;
    e->kind = (uint8_t)kind;
    e->node = node;
    e->term = term;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
}

const char *ev_kind_record_name(int kind)
{
    switch (kind) {
    case EV_STEP_DOWN:
        return "step_down";
    case EV_NO_LEADER:
        return "no_leader";
    default:
        return ev_kind_name(kind);
    }
}

int ev_kind_from_record(const char *word)
{
    for (int k = 0; k < EV__COUNT; k++) {
        if (strcmp(word, ev_kind_record_name(k)) == 0) {
            return k;
        }
    }
    return EV_INFO;
}

const char *ev_kind_name(int kind)
{
    return kind >= 0 && kind < EV__COUNT ? ev_kind_names[kind] : "info";
}

size_t ev_format_line(const struct ev *e, char *buf, size_t cap)
{
    ASSERT(cap > 0);
    int n =
        snprintf(buf, cap, "ev %" PRIu64 " %s %" PRIu64 " %" PRIu64 " %s",
                 e->wall_ms, ev_kind_name(e->kind), e->node, e->term, e->text);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

int ev_parse_line(const char *line, struct ev *out)
{
    unsigned long long wall = 0, node = 0, term = 0;
    char kind[16];
    int used = -1;
    if (strncmp(line, "ev ", 3) != 0 ||
        sscanf(line + 3, "%llu %15s %llu %llu %n", &wall, kind, &node, &term,
               &used) != 4 ||
        used < 0 || node > RAFT_ID_MAX) {
        return ERR_INVALID;
    }
    int k = EV_INFO;
    for (int i = 0; i < EV__COUNT; i++) {
        if (strcmp(kind, ev_kind_names[i]) == 0) {
            k = i;
        }
    }
    ev_set(out, wall, k, node, term, "%s", line + 3 + used);
    return ERR_OK;
}

void ev_format_clock(uint64_t wall_ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    if (localtime_r(&secs, &tm) == NULL) {
        snprintf(buf, cap, "??:??:??.???");
        return;
    }
    snprintf(buf, cap, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(wall_ms % 1000));
}

/* --- Fault rules ------------------------------------------------------ */

/* Does member i (answering) block member id? */
static bool faults_blocks(const struct client_node_status *st, uint32_t i,
                          raft_id id)
{
    if (!st[i].alive) {
        return false;
    }
    const struct msg_status_reply *r = &st[i].reply;
    for (uint32_t k = 0; k < r->n_blocked && k < RAFT_NODES_MAX; k++) {
        if (r->blocked[k] == id) {
            return true;
        }
    }
    return false;
}

/* Union-find root with path halving; n is small (RAFT_NODES_MAX). */
static uint32_t faults_root(uint32_t *parent, uint32_t i)
{
    for (int k = 0; k < RAFT_NODES_MAX && parent[i] != i; k++) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* Appends with snprintf semantics; never overflows. */
static void faults_append(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void faults_append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* "partition 1 2 | 3" when the members split into groups, else the cut
 * pairs ("cut 1-3"), else nothing. */
static void faults_describe_cuts(const struct conf *conf,
                                 const struct client_node_status *st, char *buf,
                                 size_t cap)
{
    uint32_t n = conf->n_members;
    bool involved[RAFT_NODES_MAX] = {false};
    bool cut[RAFT_NODES_MAX][RAFT_NODES_MAX];
    uint32_t parent[RAFT_NODES_MAX];
    uint32_t n_cuts = 0;
    for (uint32_t i = 0; i < n; i++) {
        parent[i] = i;
        involved[i] = st[i].alive;
        for (uint32_t j = 0; j < n; j++) {
            cut[i][j] = faults_blocks(st, i, conf->members[j].id) ||
                        faults_blocks(st, j, conf->members[i].id);
            involved[i] = involved[i] || cut[i][j];
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = i + 1; j < n; j++) {
            n_cuts += involved[i] && involved[j] && cut[i][j];
            if (involved[i] && involved[j] && !cut[i][j]) {
                parent[faults_root(parent, j)] = faults_root(parent, i);
            }
        }
    }
    if (n_cuts == 0) {
        return;
    }
    uint32_t n_groups = 0;
    for (uint32_t i = 0; i < n; i++) {
        n_groups += involved[i] && faults_root(parent, i) == i;
    }
    if (n_groups < 2) {
        faults_append(buf, cap, "cut");
        for (uint32_t i = 0; i < n; i++) {
            for (uint32_t j = i + 1; j < n; j++) {
                if (involved[i] && involved[j] && cut[i][j]) {
                    faults_append(buf, cap, " %" PRIu64 "-%" PRIu64,
                                  conf->members[i].id, conf->members[j].id);
                }
            }
        }
        return;
    }
    faults_append(buf, cap, "partition");
    bool first_group = true;
    for (uint32_t g = 0; g < n; g++) {
        if (!involved[g] || faults_root(parent, g) != g) {
            continue;
        }
        faults_append(buf, cap, first_group ? "" : " |");
        first_group = false;
        for (uint32_t i = 0; i < n; i++) {
            if (involved[i] && faults_root(parent, i) == g) {
                faults_append(buf, cap, " %" PRIu64, conf->members[i].id);
            }
        }
    }
}

/* "20%" or "1.5%" of parts per million. */
static void faults_percent(uint32_t ppm, char *buf, size_t cap)
{
    if (ppm % 10000 == 0) {
        snprintf(buf, cap, "%u%%", ppm / 10000);
    } else {
        snprintf(buf, cap, "%.2g%%", ppm / 10000.0);
    }
}

/* One netem rule: "loss 20% dup 1% delay 50+-10ms". */
static void faults_netem_rule(const struct msg_status_reply *r, char *buf,
                              size_t cap)
{
    char pct[16];
    buf[0] = '\0';
    if (r->loss_ppm > 0) {
        faults_percent(r->loss_ppm, pct, sizeof(pct));
        faults_append(buf, cap, " loss %s", pct);
    }
    if (r->dup_ppm > 0) {
        faults_percent(r->dup_ppm, pct, sizeof(pct));
        faults_append(buf, cap, " dup %s", pct);
    }
    if (r->delay_ms > 0 || r->jitter_ms > 0) {
        faults_append(buf, cap, " delay %ums", r->delay_ms);
        if (r->jitter_ms > 0) {
            faults_append(buf, cap, "+-%ums", r->jitter_ms);
        }
    }
}

/* The netem rules of the answering members, grouped by rule. */
static void faults_describe_netem(const struct conf *conf,
                                  const struct client_node_status *st,
                                  char *buf, size_t cap)
{
    char rules[RAFT_NODES_MAX][64];
    uint32_t n = conf->n_members, n_alive = 0, n_with = 0;
    for (uint32_t i = 0; i < n; i++) {
        rules[i][0] = '\0';
        if (st[i].alive) {
            n_alive++;
            faults_netem_rule(&st[i].reply, rules[i], sizeof(rules[i]));
            n_with += rules[i][0] != '\0';
        }
    }
    if (n_with == 0) {
        return;
    }
    bool done[RAFT_NODES_MAX] = {false};
    bool first = true;
    for (uint32_t i = 0; i < n; i++) {
        if (rules[i][0] == '\0' || done[i]) {
            continue;
        }
        uint32_t same = 0;
        for (uint32_t j = i; j < n; j++) {
            same += strcmp(rules[i], rules[j]) == 0;
        }
        faults_append(buf, cap, "%snetem", first ? "" : "; ");
        first = false;
        if (same < n_alive) {
            faults_append(buf, cap, " on");
            for (uint32_t j = i; j < n; j++) {
                if (strcmp(rules[i], rules[j]) == 0) {
                    faults_append(buf, cap, " %" PRIu64, conf->members[j].id);
                }
            }
            faults_append(buf, cap, ":");
        }
        faults_append(buf, cap, "%s", rules[i]);
        for (uint32_t j = i; j < n; j++) {
            done[j] = done[j] || strcmp(rules[i], rules[j]) == 0;
        }
    }
}

void ev_faults_describe(const struct conf *conf,
                        const struct client_node_status *st, char *buf,
                        size_t cap)
{
    ASSERT(cap > 0);
    ASSERT(conf->n_members <= RAFT_NODES_MAX);
    buf[0] = '\0';
    faults_describe_cuts(conf, st, buf, cap);
    char netem[EV_FAULTS_MAX] = "";
    faults_describe_netem(conf, st, netem, sizeof(netem));
    if (netem[0] != '\0') {
        faults_append(buf, cap, "%s%s", buf[0] != '\0' ? "; " : "", netem);
    }
}

/* --- The tracker -------------------------------------------------------- */

void ev_tracker_init(struct ev_tracker *t, const struct conf *conf,
                     bool track_silence)
{
    ASSERT(conf->n_members <= RAFT_NODES_MAX);
    memset(t, 0, sizeof(*t));
    t->conf = conf;
    t->track_silence = track_silence;
}

void ev_tracker_forget(struct ev_tracker *t, raft_id id)
{
    int i = conf_member_index(t->conf, id);
    if (i >= 0) {
        memset(&t->nodes[i], 0, sizeof(t->nodes[i]));
    }
}

/* The role as the feed words it. */
static const char *ev_role_word(uint8_t role)
{
    switch (role) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_PRECANDIDATE:
        return "pre-candidate";
    default:
        return "follower";
    }
}

/* A restarted process (new pid) starts a new baseline; a silent node that
 * answers again is announced. */
static void tracker_restarts(struct ev_tracker *t, uint64_t wall_ms,
                             const struct client_node_status *st,
                             ev_emit_cb emit, void *ctx)
{
    struct ev e;
    for (uint32_t i = 0; i < t->conf->n_members; i++) {
        struct ev_node *nd = &t->nodes[i];
        raft_id id = t->conf->members[i].id;
        if (!st[i].alive) {
            continue;
        }
        nd->missed = 0;
        if (nd->silent) {
            ev_set(&e, wall_ms, EV_START, id, st[i].term,
                   "node %" PRIu64 " answers again (pid %u)", id,
                   st[i].reply.pid);
            emit(ctx, &e);
            nd->silent = false;
            nd->known = nd->known && nd->pid == st[i].reply.pid;
        } else if (nd->known && nd->pid != st[i].reply.pid) {
            if (t->track_silence) {
                ev_set(&e, wall_ms, EV_START, id, st[i].term,
                       "node %" PRIu64 " restarted (pid %u)", id,
                       st[i].reply.pid);
                emit(ctx, &e);
            }
            nd->known = false;
        }
    }
}

/* Elections (a new term voted for itself) and pre-vote rounds, then votes
 * for others, then step-downs: the order in which they happen. */
static void tracker_elections(struct ev_tracker *t, uint64_t wall_ms,
                              const struct client_node_status *st,
                              ev_emit_cb emit, void *ctx)
{
    struct ev e;
    uint32_t n = t->conf->n_members;
    for (uint32_t i = 0; i < n; i++) {
        const struct ev_node *nd = &t->nodes[i];
        const struct msg_status_reply *r = &st[i].reply;
        raft_id id = t->conf->members[i].id;
        if (!st[i].alive || !nd->known) {
            continue;
        }
        if (st[i].term > nd->term && r->voted_for == id) {
            ev_set(&e, wall_ms, EV_ELECTION, id, st[i].term,
                   "node %" PRIu64 " timed out and started an election for "
                   "term %" PRIu64 " (timeout %u ms)",
                   id, st[i].term, nd->timeout_ms);
            emit(ctx, &e);
        } else if (r->role == RAFT_PRECANDIDATE &&
                   nd->role != RAFT_PRECANDIDATE) {
            ev_set(&e, wall_ms, EV_ELECTION, id, st[i].term + 1,
                   "node %" PRIu64 " timed out and asks for pre-votes for "
                   "term %" PRIu64 " (timeout %u ms)",
                   id, st[i].term + 1, nd->timeout_ms);
            emit(ctx, &e);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct ev_node *nd = &t->nodes[i];
        raft_id id = t->conf->members[i].id;
        raft_id v = st[i].reply.voted_for;
        if (st[i].alive && nd->known && v != RAFT_ID_NONE && v != id &&
            (st[i].term != nd->term || v != nd->voted_for)) {
            ev_set(&e, wall_ms, EV_VOTE, id, st[i].term,
                   "node %" PRIu64 " votes for node %" PRIu64
                   " in term %" PRIu64,
                   id, v, st[i].term);
            emit(ctx, &e);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct ev_node *nd = &t->nodes[i];
        raft_id id = t->conf->members[i].id;
        if (st[i].alive && nd->known && nd->role == RAFT_LEADER &&
            (st[i].reply.role != RAFT_LEADER || st[i].term != nd->term)) {
            ev_set(&e, wall_ms, EV_STEP_DOWN, id, st[i].term,
                   "node %" PRIu64 " stepped down (term %" PRIu64 ", now %s)",
                   id, st[i].term, ev_role_word(st[i].reply.role));
            emit(ctx, &e);
        }
    }
}

/* The answering leader of the highest term, or -1. */
static int tracker_leader(const struct ev_tracker *t,
                          const struct client_node_status *st)
{
    int best = -1;
    for (uint32_t i = 0; i < t->conf->n_members; i++) {
        if (st[i].alive && st[i].reply.role == RAFT_LEADER &&
            (best < 0 || st[i].term > st[best].term)) {
            best = (int)i;
        }
    }
    return best;
}

/* A new leader (with who voted for it), or "no leader" after a few rounds
 * without one (one lost datagram must not look like an election). */
static void tracker_leader_change(struct ev_tracker *t, uint64_t wall_ms,
                                  const struct client_node_status *st, int best,
                                  ev_emit_cb emit, void *ctx)
{
    struct ev e;
    if (best < 0) {
        t->leaderless_rounds++;
        if (t->leaderless_rounds == EV_LEADERLESS_ROUNDS &&
            t->shown_leader != RAFT_ID_NONE) {
            ev_set(&e, wall_ms, EV_NO_LEADER, t->shown_leader, t->shown_term,
                   "no leader (node %" PRIu64 " no longer leads)",
                   t->shown_leader);
            emit(ctx, &e);
            t->shown_leader = RAFT_ID_NONE;
        }
        return;
    }
    t->leaderless_rounds = 0;
    raft_id id = t->conf->members[best].id;
    raft_term term = st[best].term;
    if (id == t->shown_leader && term == t->shown_term) {
        return;
    }
    char votes[80] = "";
    for (uint32_t j = 0; j < t->conf->n_members; j++) {
        if (st[j].alive && st[j].term == term && st[j].reply.voted_for == id) {
            faults_append(votes, sizeof(votes), " %" PRIu64,
                          t->conf->members[j].id);
        }
    }
    ev_set(&e, wall_ms, EV_LEADER, id, term,
           "leader is node %" PRIu64 " (term %" PRIu64 ")%s%s", id, term,
           votes[0] != '\0' ? ", votes from" : "", votes);
    emit(ctx, &e);
    t->shown_leader = id;
    t->shown_term = term;
}

/* Commit progress of the leader (or the highest commit known), at most
 * one event per EV_COMMIT_EVERY_MS. */
static void tracker_commit(struct ev_tracker *t, uint64_t wall_ms,
                           const struct client_node_status *st, int best,
                           ev_emit_cb emit, void *ctx)
{
    bool any = false;
    raft_index commit = 0;
    for (uint32_t i = 0; i < t->conf->n_members; i++) {
        if (st[i].alive && st[i].reply.commit >= commit) {
            commit = st[i].reply.commit;
            any = true;
        }
    }
    if (best >= 0) {
        commit = st[best].reply.commit;
    }
    if (!any) {
        return;
    }
    if (!t->commit_known) {
        t->commit_known = true;
        t->commit_shown = commit;
        t->commit_event_ms = wall_ms;
        return;
    }
    if (commit > t->commit_shown &&
        wall_ms >= t->commit_event_ms + EV_COMMIT_EVERY_MS) {
        struct ev e;
        ev_set(&e, wall_ms, EV_COMMIT,
               best >= 0 ? t->conf->members[best].id : RAFT_ID_NONE,
               best >= 0 ? st[best].term : 0,
               "commit index %" PRIu64 " (+%" PRIu64 ")", commit,
               commit - t->commit_shown);
        emit(ctx, &e);
        t->commit_shown = commit;
        t->commit_event_ms = wall_ms;
    }
}

/* A changed fault description, once it held for two rounds (rules reach
 * the nodes one by one). */
static void tracker_faults(struct ev_tracker *t, uint64_t wall_ms,
                           const struct client_node_status *st, ev_emit_cb emit,
                           void *ctx)
{
    bool any = false;
    for (uint32_t i = 0; i < t->conf->n_members; i++) {
        any = any || st[i].alive;
    }
    if (!any) {
        return;
    }
    char now[EV_FAULTS_MAX];
    ev_faults_describe(t->conf, st, now, sizeof(now));
    if (strcmp(now, t->faults_shown) == 0) {
        t->faults_rounds = 0;
        return;
    }
    if (t->faults_rounds > 0 && strcmp(now, t->faults_pending) == 0) {
        t->faults_rounds++;
    } else {
        snprintf(t->faults_pending, sizeof(t->faults_pending), "%s", now);
        t->faults_rounds = 1;
    }
    if (t->faults_rounds < 2) {
        return;
    }
    struct ev e;
    if (now[0] != '\0') {
        ev_set(&e, wall_ms, EV_FAULT, RAFT_ID_NONE, 0, "faults: %s", now);
    } else {
        ev_set(&e, wall_ms, EV_FAULT, RAFT_ID_NONE, 0,
               "healed: no partition or netem rule in force");
    }
    emit(ctx, &e);
    snprintf(t->faults_shown, sizeof(t->faults_shown), "%s", now);
    t->faults_rounds = 0;
}

/* Remembers this round's answers; counts silent rounds. */
static void tracker_remember(struct ev_tracker *t, uint64_t wall_ms,
                             const struct client_node_status *st,
                             ev_emit_cb emit, void *ctx)
{
    for (uint32_t i = 0; i < t->conf->n_members; i++) {
        struct ev_node *nd = &t->nodes[i];
        if (st[i].alive) {
            nd->known = true;
            nd->pid = st[i].reply.pid;
            nd->term = st[i].term;
            nd->role = st[i].reply.role;
            nd->voted_for = st[i].reply.voted_for;
            nd->timeout_ms = st[i].reply.election_timeout_ms;
            continue;
        }
        nd->missed++;
        if (t->track_silence && nd->known && !nd->silent &&
            nd->missed >= EV_SILENT_ROUNDS) {
            struct ev e;
            raft_id id = t->conf->members[i].id;
            ev_set(&e, wall_ms, EV_DEATH, id, 0,
                   "node %" PRIu64 " stopped answering", id);
            emit(ctx, &e);
            nd->silent = true;
        }
    }
}

void ev_tracker_round(struct ev_tracker *t, uint64_t wall_ms,
                      const struct client_node_status *st, ev_emit_cb emit,
                      void *ctx)
{
    ASSERT(t->conf != NULL);
    ASSERT(emit != NULL);
    tracker_restarts(t, wall_ms, st, emit, ctx);
    tracker_elections(t, wall_ms, st, emit, ctx);
    int best = tracker_leader(t, st);
    tracker_leader_change(t, wall_ms, st, best, emit, ctx);
    tracker_commit(t, wall_ms, st, best, emit, ctx);
    tracker_faults(t, wall_ms, st, emit, ctx);
    tracker_remember(t, wall_ms, st, emit, ctx);
}
