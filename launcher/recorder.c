/*
 * The live recorder (launcher/recorder.h): status replies and events
 * turned into recording lines through common/recording.c's writer. Read
 * launcher/replay.h next.
 */
#include "launcher/recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"
#include "common/membership.h"
#include "common/timers.h"
#include "launcher/dash_source.h"
#include "launcher/raftctl.h"

int recorder_open(struct recorder *r, const char *path, uint64_t max_mb,
                  char errmsg[ERRMSG_LEN])
{
    memset(r, 0, sizeof(*r));
    int rc = rec_writer_open(&r->w, path, max_mb << 20, errmsg);
    r->is_open = rc == ERR_OK;
    return rc;
}

void recorder_begin(struct recorder *r, const struct conf *conf,
                    const struct up_options *opts, uint64_t now_ms,
                    uint64_t wall_ms)
{
    if (!r->is_open) {
        return;
    }
    r->conf = conf;
    r->t0_ms = now_ms;
    struct rec_meta m;
    memset(&m, 0, sizeof(m));
    m.wall_ms = wall_ms;
    m.heartbeat_ms = opts != NULL && opts->is_set[UP_OPT_HEARTBEAT]
                         ? (uint32_t)opts->val[UP_OPT_HEARTBEAT]
                         : NODE_HEARTBEAT_MS;
    m.election_ms[0] = opts != NULL && opts->is_set[UP_OPT_ELECTION]
                           ? (uint32_t)opts->val[UP_OPT_ELECTION]
                           : NODE_ELECTION_MS;
    m.election_ms[1] = 2 * m.election_ms[0];
    m.n_members = conf->n_members;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        m.members[i].id = conf->members[i].id;
        snprintf(m.members[i].addr, sizeof(m.members[i].addr), "%s:%u",
                 conf->members[i].host, conf->members[i].port);
    }
    rec_write_meta(&r->w, &m);
    rec_writer_flush(&r->w);
}

static uint64_t recorder_t(const struct recorder *r, uint64_t now_ms)
{
    return now_ms > r->t0_ms ? now_ms - r->t0_ms : 0;
}

/* Whether id is a learner in the configuration text of a reply. */
static bool recorder_is_learner(raft_id id, const struct msg_status_reply *st)
{
    if (st->config_len == 0 || st->config_len >= MEMBERSHIP_TEXT_MAX) {
        return false;
    }
    char text[MEMBERSHIP_TEXT_MAX];
    memcpy(text, st->config, st->config_len);
    text[st->config_len] = '\0';
    const char *l = strstr(text, "learners ");
    if (l == NULL) {
        return false;
    }
    l += strlen("learners ");
    while (*l >= '0' && *l <= '9') {
        char *end = NULL;
        unsigned long long v = strtoull(l, &end, 10);
        if (v == id) {
            return true;
        }
        l = *end == ',' ? end + 1 : end;
    }
    return false;
}

void recorder_status_of(raft_id id, bool alive, raft_term term,
                        const struct msg_status_reply *st,
                        struct rec_status *out)
{
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->up = alive;
    out->contact_ms = UINT64_MAX;
    if (!alive) {
        return;
    }
    out->role = st->role;
    out->learner = st->role == RAFT_FOLLOWER && recorder_is_learner(id, st);
    out->term = term;
    out->vote = st->voted_for;
    out->leader = st->leader;
    out->commit = st->commit;
    out->applied = st->applied;
    out->last = st->last_index;
    out->snap = st->snapshot_index;
    out->timer_ms = st->election_elapsed_ms;
    out->timeout_ms = st->election_timeout_ms;
    out->tail_first = st->tail_first;
    out->n_tail = st->n_tail <= STATUS_TAIL_MAX ? st->n_tail : 0;
    memcpy(out->tail, st->tail_terms, out->n_tail * sizeof(out->tail[0]));
    out->n_peers = st->n_peers <= RAFT_NODES_MAX ? st->n_peers : 0;
    for (uint32_t i = 0; i < out->n_peers; i++) {
        out->peers[i].id = st->peers[i].id;
        out->peers[i].match = st->peers[i].match;
        out->peers[i].next = st->peers[i].next;
    }
    out->disk = st->disk;
    out->pid = st->pid;
    out->contact_ms = st->leader_contact_ms;
    out->n_blocked = st->n_blocked <= RAFT_NODES_MAX ? st->n_blocked : 0;
    memcpy(out->blocked, st->blocked, out->n_blocked * sizeof(raft_id));
}

void recorder_round(struct recorder *r, uint64_t now_ms,
                    const struct client_node_status *st)
{
    if (!r->is_open || r->conf == NULL) {
        return;
    }
    static struct rec_status s; /* Large; one recorder per process. */
    uint64_t t = recorder_t(r, now_ms);
    for (uint32_t i = 0; i < r->conf->n_members; i++) {
        recorder_status_of(r->conf->members[i].id, st[i].alive, st[i].term,
                           &st[i].reply, &s);
        rec_write_status(&r->w, t, &s);
    }
    rec_writer_flush(&r->w);
}

void recorder_source_step(struct recorder *r, const struct dash_source *src,
                          uint64_t now_ms)
{
    if (!r->is_open || r->conf == NULL || now_ms < r->next_round_ms) {
        return;
    }
    r->next_round_ms = now_ms + RECORDER_ROUND_MS;
    static struct client_node_status round[RAFT_NODES_MAX];
    uint32_t up = dash_source_up_mask(src, now_ms);
    for (uint32_t i = 0; i < r->conf->n_members; i++) {
        round[i].alive = (up & (1u << i)) != 0;
        round[i].term = src->nodes[i].term;
        round[i].reply = src->nodes[i].st;
    }
    recorder_round(r, now_ms, round);
}

void recorder_event(struct recorder *r, uint64_t now_ms, const struct ev *e)
{
    if (!r->is_open || r->conf == NULL) {
        return;
    }
    uint64_t t = recorder_t(r, now_ms);
    if (e->kind == EV_FAULT) {
        rec_write_fault(&r->w, t, e->node, e->text);
    } else {
        rec_write_event(&r->w, t, ev_kind_record_name(e->kind), e->node,
                        e->text);
    }
}

void recorder_msg(struct recorder *r, uint64_t now_ms, const struct rec_msg *m)
{
    if (r->is_open && r->conf != NULL) {
        rec_write_msg(&r->w, recorder_t(r, now_ms), m);
    }
}

void recorder_trace_msg(struct recorder *r, const struct trace_msg *m)
{
    if (r->is_open && r->conf != NULL) {
        struct rec_msg rm;
        trace_msg_to_rec(m, &rm);
        uint64_t t = recorder_t(r, m->t_ms);
        rec_write_msg(&r->w, t > r->w.last_t ? t : r->w.last_t, &rm);
    }
}

void recorder_trace_dropped(struct recorder *r, uint64_t now_ms, raft_id id,
                            uint64_t count)
{
    if (r->is_open && r->conf != NULL) {
        uint64_t t = recorder_t(r, now_ms);
        rec_write_trace_dropped(&r->w, t > r->w.last_t ? t : r->w.last_t, id,
                                count);
    }
}

int recorder_args(const char *cmd, const char *path, const char *max_text,
                  uint64_t *mb)
{
    *mb = REC_MAX_DEFAULT >> 20;
    if (max_text != NULL &&
        (path == NULL ||
         ctl_parse_u64(max_text, 1, RECORDER_MAX_MB, mb) != ERR_OK)) {
        ctl_error("%s: --record-max takes megabytes, 1 to %d, with --record",
                  cmd, RECORDER_MAX_MB);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

void recorder_close(struct recorder *r)
{
    if (!r->is_open) {
        return;
    }
    if (rec_writer_close(&r->w) != ERR_OK) {
        fprintf(stderr, "raftctl: the recording could not be written whole "
                        "(disk full?)\n");
    }
    r->is_open = false;
}
