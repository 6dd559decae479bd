/*
 * The rendering model of launcher/dash_model.h: a title bar (leader, term,
 * nodes up against the quorum), the fault rules in force, one panel per node
 * (role, pid, term, vote, indexes; an election-timer bar on a time scale
 * shared by all nodes, so the first bar to reach its end is the first timer
 * to expire; or the leader's match/next per follower; a snapshot transfer
 * as a progress bar on the receiving follower's panel; and the log tail as
 * term-coloured cells aligned by index, RaftScope-style, its compacted
 * prefix marked; a learner's role is `learner`; the datagrams it
 * dropped, by reason, once it dropped any), a joint change in
 * progress beside the fault rules (old and new voter sets), the event feed
 * newest first, with watch --messages the messages the members send
 * (newest first, heartbeats coalesced: launcher/trace_msg.h) below it, and
 * the help or prompt bar. Pure; see
 * tests/unit/test_dash_model.c. Read launcher/dashboard.h next.
 */
#include "launcher/dash_model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "common/membership.h"

#define DASH_EVENTS_MIN 3        /* Event lines kept on a small screen. */
#define DASH_INDENT 4            /* Panel lines under the node's name. */
#define DASH_LAG_ACK_MS 1000     /* A follower silent this long is red. */
#define DASH_SPLIT_COLS 180      /* From this width, events go right. */
#define DASH_SPLIT_NODE_COLS 100 /* ...of node panels this wide. */

/* A write position on one row of the screen, clipped before column end. */
struct pen {
    struct dash_screen *s;
    int row;
    int col;
    int end;
};

static struct pen pen_at(struct dash_screen *s, int row, int col, int end)
{
    return (struct pen){s, row, col, end < s->cols ? end : s->cols};
}

static void put_cell(struct dash_screen *s, int row, int col, char ch,
                     int color, int attr)
{
    if (row < 0 || row >= s->rows || col < 0 || col >= s->cols) {
        return;
    }
    struct dash_cell *c = &s->cells[row][col];
    c->ch = ch >= ' ' && ch < 127 ? ch : '?';
    c->color = (uint8_t)color;
    c->attr = (uint8_t)attr;
}

/* Writes text at the pen and advances it; clipped at the right edge. */
static void pen_put(struct pen *p, int color, int attr, const char *text)
{
    for (const char *t = text; *t != '\0' && p->col < p->end; t++) {
        put_cell(p->s, p->row, p->col++, *t, color, attr);
    }
}

static void pen_printf(struct pen *p, int color, int attr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void pen_printf(struct pen *p, int color, int attr, const char *fmt, ...)
{
    char text[DASH_COLS_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    pen_put(p, color, attr, text);
}

static void pen_fill(struct pen *p, int color, int attr, char ch, int n)
{
    for (int i = 0; i < n && p->col < p->end; i++) {
        put_cell(p->s, p->row, p->col++, ch, color, attr);
    }
}

/* Paints a whole row (the title and help bars). */
static void row_paint(struct dash_screen *s, int row, int color, int attr)
{
    for (int c = 0; c < s->cols; c++) {
        put_cell(s, row, c, ' ', color, attr);
    }
}

/* --- The cluster ------------------------------------------------------ */

/* What the title bar shows, derived from the nodes. */
struct summary {
    int leader;     /* Index of the answering leader, or -1. */
    raft_term term; /* Highest term an answering node has. */
    uint32_t n_up;
    uint32_t quorum;
    raft_index commit;
    char faults[EV_FAULTS_MAX];
    /* The leader's configuration (else the highest term's) when a joint
     * change is in progress: "joint 1,2,3 -> 1,2,4"; else "". */
    char change[MEMBERSHIP_TEXT_MAX];
};

/* n's own configuration (from its last answer) into c; false when it
 * sent none. */
static bool node_config(const struct dash_node *n, struct membership *c)
{
    return n->has_reply && n->st.config_len > 0 &&
           membership_decode(n->st.config, n->st.config_len, c) == ERR_OK;
}

static bool node_up(const struct dash_node *n)
{
    return n->state == DASH_NODE_UP && n->has_reply;
}

static void summarize(const struct dash_view *v, struct summary *out)
{
    uint32_t n = v->conf->n_members;
    struct client_node_status st[RAFT_NODES_MAX];
    memset(out, 0, sizeof(*out));
    out->leader = -1;
    out->quorum = n / 2 + 1;
    for (uint32_t i = 0; i < n; i++) {
        const struct dash_node *d = &v->nodes[i];
        st[i].alive = node_up(d);
        st[i].term = d->term;
        st[i].reply = d->st;
        if (!st[i].alive) {
            continue;
        }
        out->n_up++;
        if (d->term > out->term) {
            out->term = d->term;
        }
        if (d->st.commit > out->commit) {
            out->commit = d->st.commit;
        }
        if (d->st.role == RAFT_LEADER &&
            (out->leader < 0 || d->term > v->nodes[out->leader].term)) {
            out->leader = (int)i;
        }
    }
    if (out->leader >= 0) {
        out->commit = v->nodes[out->leader].st.commit;
    }
    int from = out->leader;
    for (uint32_t i = 0; i < n && from < 0; i++) {
        if (node_up(&v->nodes[i]) && v->nodes[i].term == out->term) {
            from = (int)i;
        }
    }
    struct membership c;
    if (from >= 0 && node_up(&v->nodes[from]) &&
        node_config(&v->nodes[from], &c) && c.joint) {
        membership_sets_text(&c, out->change, sizeof(out->change));
    }
    ev_faults_describe(v->conf, st, out->faults, sizeof(out->faults));
}

/* Row 0: where, leader, term, nodes up against the quorum, frame rate. */
static void draw_title(struct dash_screen *s, const struct dash_view *v,
                       const struct summary *sum)
{
    struct pen p = pen_at(s, 0, 0, s->cols);
    row_paint(s, 0, DASH_COLOR_TITLE, DASH_ATTR_REVERSE);
    int t = DASH_COLOR_TITLE, r = DASH_ATTR_REVERSE;
    pen_printf(&p, t, r | DASH_ATTR_BOLD, " %s ",
               v->title != NULL ? v->title : "raft watch");
    pen_printf(&p, t, r, "%s   leader ", v->where);
    if (sum->leader >= 0) {
        pen_printf(&p, t, r | DASH_ATTR_BOLD, "n%" PRIu64,
                   v->conf->members[sum->leader].id);
    } else {
        pen_put(&p, t, r | DASH_ATTR_BOLD, "none");
    }
    pen_printf(&p, t, r, "   term %" PRIu64 "   up %u/%u (quorum %u%s)",
               sum->term, sum->n_up, v->conf->n_members, sum->quorum,
               sum->n_up < sum->quorum ? ": LOST" : "");
    char fps[24];
    snprintf(fps, sizeof(fps), "%u fps ", v->fps);
    int at = s->cols - (int)strlen(fps);
    if (v->fps > 0 && at > p.col + 2) {
        p.col = at;
        pen_put(&p, t, r, fps);
    }
}

/* Row 1: the fault rules in force and the commit index. */
static void draw_faults(struct dash_screen *s, const struct summary *sum)
{
    struct pen p = pen_at(s, 1, 1, s->cols);
    pen_put(&p, DASH_COLOR_DIM, 0, "faults: ");
    if (sum->faults[0] != '\0') {
        pen_put(&p, DASH_COLOR_FAULT, DASH_ATTR_BOLD, sum->faults);
    } else {
        pen_put(&p, DASH_COLOR_DIM, 0, "none");
    }
    if (sum->change[0] != '\0') {
        pen_put(&p, DASH_COLOR_DIM, 0, "   change: ");
        pen_put(&p, DASH_COLOR_CANDIDATE, DASH_ATTR_BOLD, sum->change);
    }
    char commit[40];
    snprintf(commit, sizeof(commit), "commit %" PRIu64 " ", sum->commit);
    int at = s->cols - (int)strlen(commit);
    if (at > p.col + 2) {
        p.col = at;
        pen_put(&p, DASH_COLOR_NORMAL, 0, commit);
    }
}

/* --- One node's panel ------------------------------------------------- */

static int node_color(const struct dash_node *n)
{
    if (!node_up(n)) {
        return DASH_COLOR_DOWN;
    }
    switch (n->st.role) {
    case RAFT_LEADER:
        return DASH_COLOR_LEADER;
    case RAFT_CANDIDATE:
    case RAFT_PRECANDIDATE:
        return DASH_COLOR_CANDIDATE;
    default:
        return DASH_COLOR_FOLLOWER;
    }
}

static const char *node_role_word(const struct dash_node *n)
{
    if (n->state == DASH_NODE_DAMAGED) {
        return "damaged";
    }
    if (!node_up(n)) {
        return "down";
    }
    switch (n->st.role) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_CANDIDATE:
    case RAFT_PRECANDIDATE:
        return "candidate";
    default:
        break;
    }
    struct membership c;
    const struct membership_member *m =
        node_config(n, &c) ? membership_get(&c, n->id) : NULL;
    return m != NULL && !m->voter && !m->old_voter ? "learner" : "follower";
}

/* "n3 leader    pid 4242   term 5   vote n3  last 52   commit 50
 * applied 49", padded for 4-digit numbers (7 on wide screens), then
 * "disk full" or "disk hung" when the disk is not ok. */
static void draw_node_head(struct pen *p, const struct dash_node *n)
{
    int color = node_color(n);
    int pad = p->end >= 100 ? 7 : 4;
    char pid[24] = "-";
    if (n->pid > 0) {
        snprintf(pid, sizeof(pid), "%ld", n->pid);
    }
    bool lead = node_up(n) && n->st.role == RAFT_LEADER;
    pen_printf(p, color, DASH_ATTR_BOLD, " n%-3" PRIu64, n->id);
    pen_printf(p, color, DASH_ATTR_BOLD | (lead ? DASH_ATTR_REVERSE : 0),
               "%-9s", node_role_word(n));
    pen_put(p, DASH_COLOR_DIM, 0, " pid ");
    pen_printf(p, DASH_COLOR_NORMAL, 0, "%-*s", pad + 2, pid);
    if (!n->has_reply) {
        return;
    }
    int c = node_up(n) ? DASH_COLOR_NORMAL : DASH_COLOR_DIM;
    char vote[24] = "-";
    if (n->st.voted_for != RAFT_ID_NONE) {
        snprintf(vote, sizeof(vote), "n%" PRIu64, n->st.voted_for);
    }
    pen_put(p, DASH_COLOR_DIM, 0, " term ");
    pen_printf(p, c, DASH_ATTR_BOLD, "%-*" PRIu64, pad - 1, n->term);
    pen_put(p, DASH_COLOR_DIM, 0, " vote ");
    pen_printf(p, c, 0, "%-4s", vote);
    pen_put(p, DASH_COLOR_DIM, 0, " last ");
    pen_printf(p, c, 0, "%-*" PRIu64, pad, n->st.last_index);
    pen_put(p, DASH_COLOR_DIM, 0, " commit ");
    pen_printf(p, c, 0, "%-*" PRIu64, pad, n->st.commit);
    pen_put(p, DASH_COLOR_DIM, 0, " applied ");
    pen_printf(p, c, 0, "%" PRIu64, n->st.applied);
    if (n->st.disk != STATUS_DISK_OK) {
        pen_printf(p, DASH_COLOR_FAULT, DASH_ATTR_BOLD, "  disk %s",
                   n->st.disk == STATUS_DISK_FULL ? "full" : "hung");
    }
}

/* The election timer of a node now: its last answer plus the time since,
 * at most DASH_INTERPOLATE_MS_MAX (a heartbeat may have reset it). */
static uint64_t node_timer_ms(const struct dash_node *n)
{
    uint64_t extra = n->age_ms < DASH_INTERPOLATE_MS_MAX
                         ? n->age_ms
                         : DASH_INTERPOLATE_MS_MAX;
    uint64_t t = (uint64_t)n->st.election_elapsed_ms + extra;
    return t < n->st.election_timeout_ms ? t : n->st.election_timeout_ms;
}

/* The longest election timeout of the answering non-leaders: every timer
 * bar is drawn on this one time scale. */
static uint32_t timer_scale_ms(const struct dash_view *v)
{
    uint32_t scale = 1;
    for (uint32_t i = 0; i < v->conf->n_members; i++) {
        const struct dash_node *n = &v->nodes[i];
        if (node_up(n) && n->st.role != RAFT_LEADER &&
            n->st.election_timeout_ms > scale) {
            scale = n->st.election_timeout_ms;
        }
    }
    return scale;
}

/* "timer [#######-----|   ]  120/212 ms  leader n3 12 ms ago". */
static void draw_node_timer(struct pen *p, const struct dash_view *v,
                            const struct dash_node *n)
{
    uint32_t scale = timer_scale_ms(v);
    int width = p->end - p->col - 8 - 36;
    width = width < 10 ? 10 : width > 90 ? 90 : width;
    uint64_t elapsed = node_timer_ms(n);
    uint32_t timeout = n->st.election_timeout_ms;
    int track = (int)((uint64_t)width * timeout / scale);
    int fill = (int)((uint64_t)width * elapsed / scale);
    track = track < 1 ? 1 : track > width ? width : track;
    fill = fill > track ? track : fill;
    bool hot = elapsed * 4 >= (uint64_t)timeout * 3;
    pen_put(p, DASH_COLOR_DIM, 0, "timer [");
    pen_fill(p, hot ? DASH_COLOR_BAR_HOT : DASH_COLOR_BAR, DASH_ATTR_BOLD, '#',
             fill);
    pen_fill(p, DASH_COLOR_DIM, 0, '-', track - fill - 1);
    if (fill < track) {
        pen_fill(p, DASH_COLOR_DIM, DASH_ATTR_BOLD, '|', 1);
    }
    pen_fill(p, DASH_COLOR_DIM, 0, ' ', width - track);
    pen_put(p, DASH_COLOR_DIM, 0, "] ");
    pen_printf(p, hot ? DASH_COLOR_BAR_HOT : DASH_COLOR_NORMAL, 0,
               "%4" PRIu64 "/%-4u ms  ", elapsed, timeout);
    if (n->st.role == RAFT_CANDIDATE) {
        pen_printf(p, DASH_COLOR_CANDIDATE, DASH_ATTR_BOLD, "asking for votes");
    } else if (n->st.role == RAFT_PRECANDIDATE) {
        pen_printf(p, DASH_COLOR_CANDIDATE, DASH_ATTR_BOLD,
                   "asking for pre-votes");
    } else if (n->st.leader_contact_ms == UINT64_MAX) {
        pen_put(p, DASH_COLOR_DIM, 0, "no leader seen");
    } else {
        uint64_t ago = n->st.leader_contact_ms + n->age_ms;
        pen_put(p, DASH_COLOR_DIM, 0, "leader ");
        if (n->st.leader != RAFT_ID_NONE) {
            pen_printf(p, DASH_COLOR_NORMAL, 0, "n%" PRIu64 " ", n->st.leader);
        }
        pen_printf(p, DASH_COLOR_NORMAL, 0, "%" PRIu64 " ms ago", ago);
    }
}

/* A transfer's figures: "1.2/3.0 MiB" (both in the unit of the size). */
static void format_transfer(const struct status_transfer *t, char *buf,
                            size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double div = 1;
    int u = 0;
    while (u < 4 && (double)t->size >= div * 1024) {
        div *= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(buf, cap, "%" PRIu64 "/%" PRIu64 " B", t->done, t->size);
        return;
    }
    snprintf(buf, cap, "%.1f/%.1f %s", (double)t->done / div,
             (double)t->size / div, units[u]);
}

/* Percent of a transfer done, 0..100 (size > 0). */
static unsigned transfer_percent(const struct status_transfer *t)
{
    ASSERT(t->size > 0);
    return (unsigned)((double)t->done * 100.0 / (double)t->size);
}

/* "snapshot [########------------]  40%  1.2/3.0 MiB from n1": the image
 * this follower stages, bytes received in order of its size. */
static void draw_node_transfer(struct pen *p, const struct dash_node *n)
{
    const struct status_transfer *t = &n->st.recv;
    ASSERT(t->size > 0);
    int width = p->end - p->col - 8 - 36;
    width = width < 10 ? 10 : width > 90 ? 90 : width;
    int fill = (int)((double)width * (double)t->done / (double)t->size);
    fill = fill < 0 ? 0 : fill > width ? width : fill;
    char figures[48];
    format_transfer(t, figures, sizeof(figures));
    pen_put(p, DASH_COLOR_DIM, 0, "snapshot [");
    pen_fill(p, DASH_COLOR_BAR, DASH_ATTR_BOLD, '#', fill);
    pen_fill(p, DASH_COLOR_DIM, 0, '-', width - fill);
    pen_put(p, DASH_COLOR_DIM, 0, "] ");
    pen_printf(p, DASH_COLOR_NORMAL, DASH_ATTR_BOLD, "%3u%%  ",
               transfer_percent(t));
    pen_printf(p, DASH_COLOR_NORMAL, 0, "%s", figures);
    if (t->peer != RAFT_ID_NONE) {
        pen_printf(p, DASH_COLOR_DIM, 0, " from n%" PRIu64, t->peer);
    }
}

/* The leader's transfer to follower id, or NULL. */
static const struct status_transfer *node_send_to(const struct dash_node *n,
                                                  raft_id id)
{
    for (uint32_t i = 0; i < n->st.n_sends && i < RAFT_NODES_MAX; i++) {
        if (n->st.sends[i].peer == id && n->st.sends[i].size > 0) {
            return &n->st.sends[i];
        }
    }
    return NULL;
}

/* The leader's view of each follower: "match/next  n2 52/53  n3 40/41";
 * one that receives a snapshot shows how much: "n4 snap 40%". */
static void draw_node_progress(struct pen *p, const struct dash_node *n)
{
    pen_put(p, DASH_COLOR_DIM, 0, "match/next");
    if (n->st.n_peers == 0) {
        pen_put(p, DASH_COLOR_DIM, 0, "  (no followers)");
    }
    for (uint32_t i = 0; i < n->st.n_peers && i < RAFT_NODES_MAX; i++) {
        const struct status_peer *f = &n->st.peers[i];
        int color = f->match >= n->st.last_index       ? DASH_COLOR_LEADER
                    : f->last_ack_ms > DASH_LAG_ACK_MS ? DASH_COLOR_DOWN
                                                       : DASH_COLOR_CANDIDATE;
        pen_printf(p, DASH_COLOR_DIM, 0, "  n%" PRIu64 " ", f->id);
        const struct status_transfer *t = node_send_to(n, f->id);
        if (t != NULL) {
            pen_printf(p, DASH_COLOR_BAR, DASH_ATTR_BOLD, "snap %u%%",
                       transfer_percent(t));
            continue;
        }
        pen_printf(p, color, 0, "%" PRIu64 "/%" PRIu64, f->match, f->next);
    }
}

/* The second panel line: timer, follower progress, a snapshot transfer
 * in progress, or why it is down. */
static void draw_node_detail(struct pen *p, const struct dash_view *v,
                             const struct dash_node *n)
{
    if (node_up(n) && n->st.role == RAFT_LEADER) {
        draw_node_progress(p, n);
    } else if (node_up(n) && n->st.recv.size > 0) {
        draw_node_transfer(p, n);
    } else if (node_up(n)) {
        draw_node_timer(p, v, n);
    } else if (n->state == DASH_NODE_SILENT) {
        pen_printf(p, DASH_COLOR_DOWN, 0,
                   "process %ld runs but does not answer", n->pid);
    } else if (n->state == DASH_NODE_DAMAGED) {
        pen_printf(p, DASH_COLOR_DOWN, 0,
                   "damaged: its database failed a checksum (node%" PRIu64
                   ".db.damaged)",
                   n->id);
    } else {
        pen_put(p, DASH_COLOR_DOWN, 0, "not running");
        if (v->is_replay) {
            pen_printf(p, DASH_COLOR_DIM, 0, "%s",
                       n->has_reply ? " (figures as last seen)" : "");
        } else {
            pen_printf(p, DASH_COLOR_DIM, 0, "%s; s then %" PRIu64 " starts it",
                       n->has_reply ? " (figures as last seen)" : "", n->id);
        }
    }
}

/* The log window shared by every panel: the last `cells` indexes up to the
 * highest last index any node reported. */
struct log_window {
    raft_index first;
    raft_index last;
    int cell_width;
};

static void log_window(const struct dash_view *v, int cols,
                       struct log_window *w)
{
    raft_index last = 0;
    for (uint32_t i = 0; i < v->conf->n_members; i++) {
        if (v->nodes[i].has_reply && v->nodes[i].st.last_index > last) {
            last = v->nodes[i].st.last_index;
        }
    }
    int room = cols - DASH_INDENT - 12;
    w->cell_width = room >= STATUS_TAIL_MAX * 3   ? 3
                    : room >= STATUS_TAIL_MAX * 2 ? 2
                                                  : 1;
    raft_index cells = (raft_index)(room / w->cell_width);
    cells = cells > STATUS_TAIL_MAX ? STATUS_TAIL_MAX : cells;
    w->last = last;
    w->first = last >= cells ? last - cells + 1 : 1;
}

/* "log #21     ~ ~ ~ 6 6 6 7 ...  snap #25": from index 21, one cell per
 * index of the window, the term's digits on its colour; committed entries
 * filled (reverse); the compacted prefix (at or below the snapshot point,
 * before the log's first entry) as dim "~", and the snapshot point after
 * the cells when there is one (the entries kept below it show their
 * terms). */
static void draw_node_log(struct pen *p, const struct dash_node *n,
                          const struct log_window *w)
{
    pen_printf(p, DASH_COLOR_DIM, 0, "log #%-7" PRIu64, w->first);
    if (!n->has_reply || w->last == 0) {
        pen_put(p, DASH_COLOR_DIM, 0, n->has_reply ? "(empty)" : "-");
        return;
    }
    const struct msg_status_reply *st = &n->st;
    for (raft_index idx = w->first; idx <= w->last; idx++) {
        if (idx <= st->snapshot_index &&
            (st->n_tail == 0 || idx < st->tail_first)) {
            pen_printf(p, DASH_COLOR_DIM, 0, "%-*s", w->cell_width, "~");
            continue;
        }
        if (idx < st->tail_first || idx >= st->tail_first + st->n_tail ||
            st->n_tail == 0) {
            pen_fill(p, DASH_COLOR_NORMAL, 0, ' ', w->cell_width);
            continue;
        }
        raft_term term = st->tail_terms[idx - st->tail_first];
        char text[8];
        snprintf(text, sizeof(text), "%-*" PRIu64, w->cell_width,
                 w->cell_width == 3 ? term % 100 : term % 10);
        int color = DASH_COLOR_TERM0 + (int)(term % DASH_TERM_COLORS);
        int attr = idx <= st->commit ? DASH_ATTR_REVERSE : DASH_ATTR_BOLD;
        if (!node_up(n)) {
            color = DASH_COLOR_DIM;
            attr = 0;
        }
        pen_put(p, color, attr, text);
    }
    if (st->snapshot_index > 0) {
        pen_printf(p, DASH_COLOR_DIM, 0, " snap #%" PRIu64, st->snapshot_index);
    }
}

/* Has the node refused any datagram (as of its last answer)? */
static bool node_has_drops(const struct dash_node *n)
{
    for (int r = 0; n->has_reply && r < DROP__COUNT; r++) {
        if (n->st.drops[r] != 0) {
            return true;
        }
    }
    return false;
}

/* The datagrams the node refused, by reason (status --drops names): the
 * ones an outsider's forgeries and replays end in stand out. */
static void draw_node_drops(struct pen *p, const struct dash_node *n)
{
    pen_put(p, DASH_COLOR_DIM, 0, "dropped");
    bool any = false;
    for (int r = 0; n->has_reply && r < DROP__COUNT; r++) {
        if (n->st.drops[r] == 0) {
            continue;
        }
        bool forged =
            r == DROP_BAD_TAG || r == DROP_REPLAY || r == DROP_WRONG_KEY_TYPE;
        pen_printf(p, DASH_COLOR_DIM, 0, "  %s ", msg_drop_name(r));
        pen_printf(p, forged ? DASH_COLOR_FAULT : DASH_COLOR_NORMAL,
                   forged ? DASH_ATTR_BOLD : 0, "%" PRIu64, n->st.drops[r]);
        any = true;
    }
    if (!any) {
        pen_put(p, DASH_COLOR_DIM, 0, " nothing");
    }
}

/* One node's panel of `lines` rows (1 to 4) from row, in columns
 * [0, end). Drop counters get the fourth row, or, without it, the end of
 * the first (as far as it reaches). */
static void draw_node(struct dash_screen *s, const struct dash_view *v,
                      const struct dash_node *n, int row, int lines, int end,
                      const struct log_window *w)
{
    struct pen p = pen_at(s, row, 0, end);
    draw_node_head(&p, n);
    if (lines < 4 && node_has_drops(n)) {
        pen_put(&p, DASH_COLOR_DIM, 0, "  ");
        draw_node_drops(&p, n);
    }
    if (lines >= 2) {
        p = pen_at(s, row + 1, DASH_INDENT + 1, end);
        draw_node_detail(&p, v, n);
    }
    if (lines >= 3) {
        p = pen_at(s, row + 2, DASH_INDENT + 1, end);
        draw_node_log(&p, n, w);
    }
    if (lines >= 4) {
        p = pen_at(s, row + 3, DASH_INDENT + 1, end);
        draw_node_drops(&p, n);
    }
}

/* --- Events and help ---------------------------------------------------- */

static int event_color(int kind)
{
    switch (kind) {
    case EV_START:
        return DASH_COLOR_FOLLOWER;
    case EV_DEATH:
    case EV_NO_LEADER:
        return DASH_COLOR_DOWN;
    case EV_ELECTION:
    case EV_STEP_DOWN:
        return DASH_COLOR_CANDIDATE;
    case EV_LEADER:
        return DASH_COLOR_LEADER;
    case EV_COMMIT:
        return DASH_COLOR_DIM;
    case EV_FAULT:
        return DASH_COLOR_FAULT;
    case EV_ACTION:
        return DASH_COLOR_KEY;
    default:
        return DASH_COLOR_NORMAL;
    }
}

/* A separator naming the feed, then the newest events first, in the
 * n_rows rows from row and the columns from col. */
static void draw_events(struct dash_screen *s, const struct dash_view *v,
                        int row, int n_rows, int col)
{
    struct pen p = pen_at(s, row, col, s->cols);
    pen_put(&p, DASH_COLOR_DIM, 0, "--- events, newest first ");
    pen_put(&p, DASH_COLOR_DIM, 0,
            v->feed != NULL    ? v->feed
            : v->from_launcher ? "(from the launcher) "
                               : "(derived by watch: no launcher) ");
    pen_fill(&p, DASH_COLOR_DIM, 0, '-', s->cols);
    uint32_t n = v->events != NULL ? v->events->n : 0;
    for (int k = 0; k + 1 < n_rows && (uint32_t)k < n; k++) {
        const struct ev *e = ev_ring_newest(v->events, (uint32_t)k);
        char clock[32];
        ev_format_clock(e->wall_ms, clock, sizeof(clock));
        p = pen_at(s, row + 1 + k, col + 1, s->cols);
        pen_printf(&p, DASH_COLOR_DIM, 0, "%s ", clock);
        int attr = e->kind == EV_LEADER ? DASH_ATTR_BOLD : 0;
        pen_put(&p, event_color(e->kind), attr, e->text);
    }
}

static int msg_color(const struct trace_msg *m)
{
    if (trace_kind_is_reply(m->kind) && !m->ok) {
        return DASH_COLOR_DOWN;
    }
    switch (m->kind) {
    case TRACE_VOTE:
    case TRACE_PREVOTE:
    case TRACE_VOTE_REPLY:
    case TRACE_PREVOTE_REPLY:
    case TRACE_TIMEOUT_NOW:
        return DASH_COLOR_CANDIDATE;
    case TRACE_APPEND:
        return m->n == 0 ? DASH_COLOR_DIM : DASH_COLOR_LEADER;
    case TRACE_APPEND_REPLY:
        return m->n == 0 && m->count > 1 ? DASH_COLOR_DIM : DASH_COLOR_FOLLOWER;
    default:
        return DASH_COLOR_NORMAL;
    }
}

/* A separator with the counts, then the newest messages first. */
static void draw_messages(struct dash_screen *s, const struct trace_ring *r,
                          int row, int n_rows, int col)
{
    struct pen p = pen_at(s, row, col, s->cols);
    pen_printf(&p, DASH_COLOR_DIM, 0,
               "--- messages, newest first (%" PRIu64 " seen, %" PRIu64
               " dropped by budget) ",
               r->total, r->dropped);
    pen_fill(&p, DASH_COLOR_DIM, 0, '-', s->cols);
    if (r->n == 0) {
        p = pen_at(s, row + 1, col + 1, s->cols);
        pen_put(&p, DASH_COLOR_DIM, 0,
                "(none yet: members trace while "
                "watched)");
        return;
    }
    for (int k = 0; k + 1 < n_rows && (uint32_t)k < r->n; k++) {
        const struct trace_msg *m = trace_ring_newest(r, (uint32_t)k);
        char clock[32], text[96];
        ev_format_clock(m->wall_ms, clock, sizeof(clock));
        trace_msg_text(m, text, sizeof(text));
        p = pen_at(s, row + 1 + k, col + 1, s->cols);
        pen_printf(&p, DASH_COLOR_DIM, 0, "%s ", clock);
        pen_put(&p, msg_color(m), 0, text);
    }
}

/* The last row: the keys, or the pending prompt. */
static void draw_help(struct dash_screen *s, const struct dash_view *v, int row)
{
    row_paint(s, row, DASH_COLOR_TITLE, DASH_ATTR_REVERSE);
    struct pen p = pen_at(s, row, 0, s->cols);
    int t = DASH_COLOR_TITLE, r = DASH_ATTR_REVERSE;
    if (v->stopping) {
        pen_put(&p, t, r | DASH_ATTR_BOLD, " stopping the cluster...");
        return;
    }
    if (v->prompt != NULL && v->prompt[0] != '\0') {
        pen_printf(&p, t, r | DASH_ATTR_BOLD, " %s", v->prompt);
        return;
    }
    static const char *const keys[][2] = {
        {"k", "<id> kill"}, {"s", "<id> start"}, {"i", " isolate"},
        {"h", " heal"},     {"w", " write"},     {"a", " add"},
        {"t", " transfer"}, {"q", " quit"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        pen_put(&p, t, r, " ");
        pen_put(&p, DASH_COLOR_KEY, r | DASH_ATTR_BOLD, keys[i][0]);
        bool stop = v->owns_cluster && keys[i][0][0] == 'q';
        pen_put(&p, t, r, stop ? " stop cluster and quit" : keys[i][1]);
        pen_put(&p, t, r, " ");
    }
}

/* --- Layout --------------------------------------------------------------- */

static void draw_too_small(struct dash_screen *s)
{
    struct pen p = pen_at(s, 0, 0, s->cols);
    pen_printf(&p, DASH_COLOR_DOWN, DASH_ATTR_BOLD, "terminal too small");
    p = pen_at(s, 1, 0, s->cols);
    pen_printf(&p, DASH_COLOR_DOWN, 0, "%dx%d, need %dx%d", s->cols, s->rows,
               DASH_COLS_MIN, DASH_ROWS_MIN);
}

/* Where things go: nodes on top and events below, or on a wide screen
 * nodes on the left and events on the right. */
struct layout {
    int node_end; /* Node panels use columns [0, node_end). */
    int lines;    /* Rows per panel, 1 to 4 (4: drop counters). */
    int gap;      /* Blank rows between panels. */
    int shown;    /* Panels that fit. */
    int hidden;   /* Panels that do not (a note says so). */
    int ev_row, ev_rows, ev_col;
};

static void layout(const struct dash_screen *s, int n, bool drops,
                   struct layout *l)
{
    bool split = s->cols >= DASH_SPLIT_COLS;
    int avail = s->rows - 3 - (split ? 0 : 1 + DASH_EVENTS_MIN);
    l->node_end = split ? DASH_SPLIT_NODE_COLS : s->cols;
    l->lines = drops && n * 4 <= avail ? 4
               : n * 3 <= avail        ? 3
               : n * 2 <= avail        ? 2
                                       : 1;
    l->gap =
        l->lines >= 3 && avail - n * (l->lines + 1) >= (split ? 0 : 7) ? 1 : 0;
    l->shown =
        avail / (l->lines + l->gap) < n ? avail / (l->lines + l->gap) : n;
    l->hidden = 0;
    if (l->shown < n) {
        l->shown = l->shown > 0 ? l->shown - 1 : 0; /* Room for the note. */
        l->hidden = n - l->shown;
    }
    int nodes_end = 2 + l->shown * (l->lines + l->gap) + (l->hidden > 0);
    l->ev_row = split ? 2 : nodes_end;
    l->ev_rows = s->rows - 1 - l->ev_row;
    l->ev_col = split ? l->node_end + 1 : 0;
}

void dash_render(const struct dash_view *v, int cols, int rows,
                 struct dash_screen *out)
{
    ASSERT(v->conf != NULL);
    ASSERT(v->conf->n_members <= RAFT_NODES_MAX);
    out->cols = cols < 1 ? 1 : cols > DASH_COLS_MAX ? DASH_COLS_MAX : cols;
    out->rows = rows < 1 ? 1 : rows > DASH_ROWS_MAX ? DASH_ROWS_MAX : rows;
    for (int r = 0; r < out->rows; r++) {
        for (int c = 0; c < out->cols; c++) {
            out->cells[r][c] = (struct dash_cell){' ', DASH_COLOR_NORMAL, 0};
        }
    }
    if (out->cols < DASH_COLS_MIN || out->rows < DASH_ROWS_MIN) {
        draw_too_small(out);
        return;
    }
    struct summary sum;
    summarize(v, &sum);
    draw_title(out, v, &sum);
    draw_faults(out, &sum);
    bool drops = false;
    for (uint32_t i = 0; i < v->conf->n_members; i++) {
        drops = drops || node_has_drops(&v->nodes[i]);
    }
    struct layout l;
    layout(out, (int)v->conf->n_members, drops, &l);
    struct log_window w;
    log_window(v, l.node_end, &w);
    for (int i = 0; i < l.shown; i++) {
        draw_node(out, v, &v->nodes[i], 2 + i * (l.lines + l.gap), l.lines,
                  l.node_end, &w);
    }
    if (l.hidden > 0) {
        struct pen p =
            pen_at(out, 2 + l.shown * (l.lines + l.gap), 1, l.node_end);
        pen_printf(&p, DASH_COLOR_DIM, 0,
                   "... and %d more node(s): enlarge the terminal", l.hidden);
    }
    int msg_rows = v->msgs != NULL ? l.ev_rows / 2 : 0;
    draw_events(out, v, l.ev_row, l.ev_rows - msg_rows, l.ev_col);
    if (msg_rows > 0) {
        draw_messages(out, v->msgs, l.ev_row + l.ev_rows - msg_rows, msg_rows,
                      l.ev_col);
    }
    draw_help(out, v, out->rows - 1);
}

void dash_screen_line(const struct dash_screen *s, int row, char *buf,
                      size_t cap)
{
    ASSERT(cap > 0);
    size_t len = 0;
    if (row >= 0 && row < s->rows) {
        for (int c = 0; c < s->cols && len + 1 < cap; c++) {
            buf[len++] = s->cells[row][c].ch;
        }
    }
    while (len > 0 && buf[len - 1] == ' ') {
        len--;
    }
    buf[len] = '\0';
}

/* --- The key prompt ------------------------------------------------------- */

/* Does any member other than one numbered exactly `digits` have an id
 * starting with them (so more digits may follow)? */
static bool prompt_longer_id(const struct conf *conf, const char *digits)
{
    size_t len = strlen(digits);
    for (uint32_t i = 0; i < conf->n_members; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%" PRIu64, conf->members[i].id);
        if (strlen(id) > len && strncmp(id, digits, len) == 0) {
            return true;
        }
    }
    return false;
}

static void prompt_reset(struct dash_prompt *p)
{
    memset(p, 0, sizeof(*p));
}

/* A digit, Enter or Backspace while "k" or "s" waits for an id. */
static int prompt_id_key(struct dash_prompt *p, int key,
                         const struct conf *conf, raft_id *id)
{
    int act = p->cmd == 'k' ? DASH_ACT_KILL : DASH_ACT_START;
    if ((key == 127 || key == 8) && p->n_digits > 0) {
        p->digits[--p->n_digits] = '\0';
        return DASH_ACT_NONE;
    }
    bool digit = key >= '0' && key <= '9';
    if (digit && p->n_digits + 1 < sizeof(p->digits)) {
        p->digits[p->n_digits++] = (char)key;
        p->digits[p->n_digits] = '\0';
    } else if (key != DASH_KEY_ENTER && key != '\r') {
        prompt_reset(p);
        return DASH_ACT_CANCEL;
    }
    if (p->n_digits == 0) {
        prompt_reset(p);
        return DASH_ACT_CANCEL;
    }
    unsigned long long v = strtoull(p->digits, NULL, 10);
    bool exact = v <= RAFT_ID_MAX && conf_find(conf, v) != NULL;
    bool longer = prompt_longer_id(conf, p->digits);
    if (digit && longer) {
        return DASH_ACT_NONE; /* Wait for more digits, or Enter. */
    }
    prompt_reset(p);
    *id = v <= RAFT_ID_MAX ? v : 0;
    return exact ? act : DASH_ACT_BAD_ID;
}

int dash_prompt_key(struct dash_prompt *p, int key, const struct conf *conf,
                    bool confirm_quit, raft_id *id)
{
    ASSERT(p != NULL);
    ASSERT(id != NULL);
    if (p->cmd == 'q') {
        prompt_reset(p);
        return key == 'y' || key == 'Y' ? DASH_ACT_QUIT : DASH_ACT_CANCEL;
    }
    if (p->cmd == 'k' || p->cmd == 's') {
        return prompt_id_key(p, key, conf, id);
    }
    switch (key) {
    case 'k':
    case 's':
        prompt_reset(p);
        p->cmd = (char)key;
        return DASH_ACT_NONE;
    case 'i':
        return DASH_ACT_ISOLATE;
    case 'h':
        return DASH_ACT_HEAL;
    case 'w':
        return DASH_ACT_WRITE;
    case 'a':
        return DASH_ACT_ADD;
    case 't':
        return DASH_ACT_TRANSFER;
    case 'q':
        if (confirm_quit) {
            p->cmd = 'q';
            return DASH_ACT_NONE;
        }
        return DASH_ACT_QUIT;
    default:
        return DASH_ACT_NONE;
    }
}

void dash_prompt_text(const struct dash_prompt *p, char *buf, size_t cap)
{
    ASSERT(cap > 0);
    switch (p->cmd) {
    case 'k':
    case 's':
        snprintf(buf, cap,
                 "%s node: %s_   (type its id; Enter confirms, "
                 "Esc cancels)",
                 p->cmd == 'k' ? "kill" : "start", p->digits);
        break;
    case 'q':
        snprintf(buf, cap, "stop the cluster and quit? (y/n)");
        break;
    default:
        buf[0] = '\0';
        break;
    }
}

/* m's "HOST:PORT" into c's host and port; false when unusable. */
static bool member_addr(const struct membership_member *mm,
                        struct conf_member *c)
{
    const char *colon = strrchr(mm->addr, ':');
    if (colon == NULL || colon == mm->addr ||
        (size_t)(colon - mm->addr) > CONF_HOST_MAX) {
        return false;
    }
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port == 0 || port > 65535) {
        return false;
    }
    memset(c, 0, sizeof *c);
    c->id = mm->id;
    memcpy(c->host, mm->addr, (size_t)(colon - mm->addr));
    c->port = (uint16_t)port;
    return true;
}

bool dash_members_follow(struct conf *conf, const struct membership *m)
{
    struct conf next = *conf;
    next.n_members = 0;
    for (uint32_t i = 0; i < m->n; i++) {
        const struct membership_member *mm = &m->m[i];
        const struct conf_member *old = conf_find(conf, mm->id);
        struct conf_member c;
        if (old != NULL) {
            c = *old;
        } else if (!member_addr(mm, &c)) {
            continue;
        }
        /* Insert sorted by id. */
        uint32_t k = next.n_members;
        while (k > 0 && next.members[k - 1].id > c.id) {
            next.members[k] = next.members[k - 1];
            k--;
        }
        next.members[k] = c;
        next.n_members++;
    }
    if (next.n_members == 0) {
        return false;
    }
    bool same = next.n_members == conf->n_members;
    for (uint32_t i = 0; same && i < next.n_members; i++) {
        same = next.members[i].id == conf->members[i].id;
    }
    if (!same) {
        *conf = next;
    }
    return !same;
}
