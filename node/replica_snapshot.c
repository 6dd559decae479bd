/*
 * A replica's snapshots (see replica_snapshot.h): which index to compact,
 * the leader's transfers and the follower's install, over the io's image,
 * staging and install ops. Pure: no I/O of its own, no clock.
 */
#include "node/replica_snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "node/raft_bugs.h"

int replica_snapshot_init(struct replica_snapshot *s,
                          const struct replica_snapshot_config *config,
                          const struct replica_io *io)
{
    memset(s, 0, sizeof *s);
    s->config = *config;
    bool all = io->snapshot_open != NULL && io->snapshot_read != NULL &&
               io->snapshot_stage != NULL && io->snapshot_install != NULL &&
               io->compact != NULL;
    bool none = io->snapshot_open == NULL && io->snapshot_read == NULL &&
                io->snapshot_stage == NULL && io->snapshot_install == NULL &&
                io->compact == NULL;
    ASSERT(all || none);
    s->is_enabled = all;
    snapshot_recv_init(&s->recv);
    if (s->is_enabled) {
        s->buf = malloc(SNAPSHOT_CHUNK_MAX);
        if (s->buf == NULL) {
            return ERR_NOMEM;
        }
    }
    return ERR_OK;
}

void replica_snapshot_close(struct replica_snapshot *s)
{
    free(s->buf);
    s->buf = NULL;
}

static struct snapshot_send *send_find(struct replica_snapshot *s, raft_id peer)
{
    for (uint32_t i = 0; i < RAFT_NODES_MAX; i++) {
        if (s->sends[i].is_active && s->sends[i].peer == peer) {
            return &s->sends[i];
        }
    }
    return NULL;
}

static bool is_wanted(const struct replica_snapshot *s, raft_id peer)
{
    for (uint32_t i = 0; i < s->n_wanted; i++) {
        if (s->wanted[i] == peer) {
            return true;
        }
    }
    return false;
}

static void want(struct replica_snapshot *s, raft_id peer)
{
    if (!is_wanted(s, peer) && send_find(s, peer) == NULL) {
        ASSERT(s->n_wanted < RAFT_NODES_MAX);
        s->wanted[s->n_wanted++] = peer;
    }
}

void replica_snapshot_on_ready(struct replica_snapshot *s,
                               const struct raft_ready *rd)
{
    for (size_t i = 0; s->is_enabled && i < rd->n_snapshots; i++) {
        want(s, rd->snapshots[i]);
    }
}

/* --- Leader: transfers ------------------------------------------------ */

/* Sends what s's window allows. A read error restarts the transfer on a
 * new image. Errors: none (a lost chunk is resent). */
static void send_pump(struct replica_snapshot *s,
                      const struct replica_snapshot_host *h,
                      struct snapshot_send *t)
{
    uint64_t offset = 0;
    uint32_t len = 0;
    while (snapshot_send_next(t, &offset, &len)) {
        int rv =
            h->io->snapshot_read(h->io->ctx, t->index, offset, s->buf, len);
        if (rv != ERR_OK) {
            raft_id peer = t->peer;
            snapshot_send_abandon(t);
            s->has_image = false;
            want(s, peer);
            return;
        }
        struct raft_msg m;
        memset(&m, 0, sizeof m);
        m.type = MSG_SNAPSHOT;
        m.from = raft_self(h->raft);
        m.to = t->peer;
        m.term = t->leader_term;
        m.u.snapshot.last_index = t->index;
        m.u.snapshot.last_term = t->term;
        m.u.snapshot.offset = offset;
        m.u.snapshot.len = len;
        m.u.snapshot.data = s->buf;
        m.u.snapshot.size = t->size;
        m.u.snapshot.done = offset + len == t->size;
        /* A leader's chunk promises nothing about its own disk. */
        h->io->send(h->io->ctx, &m);
    }
}

/* Opens a new image when there is none, or when it no longer reaches the
 * log (a peer taking it would need compacted entries next): transfers on
 * the old one restart on the new one. Returns false when none is ready. */
static bool image_ready(struct replica_snapshot *s,
                        const struct replica_snapshot_host *h)
{
    if (s->has_image && s->image_index + 1 >= raft_first_index(h->raft)) {
        return true;
    }
    raft_index index = 0;
    uint64_t size = 0;
    int rv = h->io->snapshot_open(h->io->ctx, &index, &size);
    if (rv != ERR_OK) {
        return false; /* ERR_AGAIN or a failure: asked again later. */
    }
    raft_term term = raft_term_at(h->raft, index);
    ASSERT(index <= raft_commit_index(h->raft));
    ASSERT(index + 1 >= raft_first_index(h->raft));
    ASSERT(term != 0);
    ASSERT(size >= 1);
    for (uint32_t i = 0; i < RAFT_NODES_MAX; i++) {
        if (s->sends[i].is_active) {
            raft_id peer = s->sends[i].peer;
            snapshot_send_abandon(&s->sends[i]);
            want(s, peer);
        }
    }
    s->has_image = true;
    s->image_index = index;
    s->image_term = term;
    s->image_size = size;
    return true;
}

static void start_wanted(struct replica_snapshot *s,
                         const struct replica_snapshot_host *h, uint64_t now_ms)
{
    if (s->n_wanted == 0 || !image_ready(s, h)) {
        return;
    }
    for (uint32_t i = 0; i < s->n_wanted; i++) {
        struct snapshot_send *t = NULL;
        for (uint32_t k = 0; k < RAFT_NODES_MAX && t == NULL; k++) {
            if (!s->sends[k].is_active) {
                t = &s->sends[k];
            }
        }
        ASSERT(t != NULL);
        snapshot_send_start(t, &s->config.send, s->wanted[i],
                            raft_current_term(h->raft), s->image_index,
                            s->image_term, s->image_size, now_ms);
    }
    s->n_wanted = 0;
}

/* Leadership gone or a new term: every transfer is abandoned (thesis 5.2:
 * the new leader starts its own). */
static void abandon_stale(struct replica_snapshot *s,
                          const struct replica_snapshot_host *h)
{
    bool is_leader = raft_role(h->raft) == RAFT_LEADER;
    raft_term term = raft_current_term(h->raft);
    for (uint32_t i = 0; i < RAFT_NODES_MAX; i++) {
        if (s->sends[i].is_active &&
            (!is_leader || s->sends[i].leader_term != term)) {
            snapshot_send_abandon(&s->sends[i]);
        }
    }
    if (!is_leader) {
        s->n_wanted = 0;
        s->has_image = false;
    }
}

static void on_reply(struct replica_snapshot *s,
                     const struct replica_snapshot_host *h, uint64_t now_ms,
                     const struct raft_msg *msg)
{
    if (raft_role(h->raft) != RAFT_LEADER ||
        msg->term != raft_current_term(h->raft)) {
        return;
    }
    struct snapshot_send *t = send_find(s, msg->from);
    if (t == NULL) {
        return;
    }
    bool was_heard = t->is_heard;
    int rv = snapshot_send_on_reply(t, msg->term, msg->from,
                                    &msg->u.snapshot_reply, now_ms);
    if (rv == SNAPSHOT_SEND_PROGRESS && !was_heard &&
        t->index + 1 < raft_first_index(h->raft)) {
        /* The peer's first word, after a silence (down) long enough for
         * the log to move past the image: installing it would only lead
         * to another transfer. It gets a fresh image instead. Only at the
         * first reply, so a transfer slower than the log never restarts
         * for ever. */
        raft_id peer = t->peer;
        snapshot_send_abandon(t);
        s->stats.n_refreshed++;
        want(s, peer);
        return;
    }
    if (rv == SNAPSHOT_SEND_DONE) {
        s->stats.n_sent++;
        raft_snapshot_done(h->raft, msg->from,
                           msg->u.snapshot_reply.last_index);
    } else if (rv == SNAPSHOT_SEND_PROGRESS) {
        send_pump(s, h, t);
    }
}

/* --- Follower: staging and install ------------------------------------ */

/* Installs the complete staged image. Errors: ERR_STOPPED. */
static int install(struct replica_snapshot *s,
                   const struct replica_snapshot_host *h,
                   const struct raft_msg *msg)
{
    raft_index index = s->recv.index;
    raft_term term = s->recv.term;
    int plan = raft_snapshot_plan(h->raft, index, term);
    snapshot_recv_reset(&s->recv);
    if (plan == RAFT_SNAPSHOT_STALE) {
        s->stats.n_stale++;
        return raft_snapshot_ack(h->raft, msg, 0, true, true) == ERR_OK
                   ? ERR_OK
                   : ERR_NOMEM;
    }
    int rv = h->io->snapshot_install(h->io->ctx, index, term,
                                     plan == RAFT_SNAPSHOT_KEEP_LOG);
    if (rv == ERR_CORRUPT) {
        s->stats.n_dropped++;
        return raft_snapshot_ack(h->raft, msg, 0, false, false);
    }
    if (rv != ERR_OK) {
        return ERR_STOPPED;
    }
    if (h->dur != NULL) {
        /* A write: with the log dropped, like a truncation after index (a
         * sync asked before it covers no entry after index). */
        struct raft_ready rd;
        memset(&rd, 0, sizeof rd);
        rd.truncate_from = plan == RAFT_SNAPSHOT_DROP_LOG ? index + 1 : 0;
        durable_wrote(h->dur, &rd);
    }
    raft_snapshot_installed(h->raft, index, term, plan);
    *h->applied = raft_applied_index(h->raft);
    /* What the buffer held is older than the installed state. */
    kv_writeback_reset(h->wb, *h->applied);
    s->stats.n_installed++;
    return raft_snapshot_ack(h->raft, msg, msg->u.snapshot.size, true, true);
}

/* At the first chunk of a transfer: takes the prefix of its image that
 * the staging already holds, if any. Returns whether there was one. */
static bool resume(struct replica_snapshot *s,
                   const struct replica_snapshot_host *h,
                   const struct msg_snapshot *c)
{
    uint64_t staged = 0;
    if (h->io->snapshot_staged == NULL ||
        h->io->snapshot_staged(h->io->ctx, c->last_index, c->last_term,
                               &staged) != ERR_OK) {
        return false;
    }
    snapshot_recv_resume(&s->recv, staged);
    if (s->recv.next == 0) {
        return false;
    }
    s->stats.n_resumed++;
    return true;
}

static int on_chunk(struct replica_snapshot *s,
                    const struct replica_snapshot_host *h,
                    const struct raft_msg *msg)
{
    const struct msg_snapshot *c = &msg->u.snapshot;
    bool from_leader = raft_role(h->raft) == RAFT_FOLLOWER &&
                       raft_leader(h->raft) == msg->from &&
                       msg->term == raft_current_term(h->raft);
    bool any = RAFT_BUG(RAFT_BUG_SNAP_OLD_CHUNK) &&
               raft_role(h->raft) == RAFT_FOLLOWER;
    if (!from_leader && !any) {
        return ERR_OK; /* The core answered (older term) or ignored it. */
    }
    if (c->last_index > 0 && c->last_term > 0 &&
        raft_snapshot_plan(h->raft, c->last_index, c->last_term) ==
            RAFT_SNAPSHOT_STALE) {
        /* Our commit covers it: the leader may move on (thesis 5.2). */
        s->stats.n_stale++;
        return raft_snapshot_ack(h->raft, msg, c->size, true, true);
    }
    int action = snapshot_recv_on_chunk(&s->recv, msg->term, c);
    s->stats.n_dropped = s->recv.n_dropped + s->recv.n_outside;
    switch (action) {
    case SNAPSHOT_RECV_DROP:
        return ERR_OK;
    case SNAPSHOT_RECV_REWIND:
        return raft_snapshot_ack(h->raft, msg,
                                 snapshot_recv_wanted(&s->recv, msg->term, c),
                                 false, false);
    case SNAPSHOT_RECV_ACK:
        return raft_snapshot_ack(h->raft, msg, s->recv.next, true, false);
    case SNAPSHOT_RECV_STAGE:
        break;
    default:
        UNREACHABLE();
    }
    if (snapshot_recv_is_start(&s->recv, c) && resume(s, h, c)) {
        /* The prefix an earlier run staged: the leader goes on from its
         * end (snapshot_send_on_reply). */
        if (snapshot_recv_is_complete(&s->recv)) {
            return install(s, h, msg);
        }
        return raft_snapshot_ack(h->raft, msg, s->recv.next, true, false);
    }
    if (h->io->snapshot_stage(h->io->ctx, c) != ERR_OK) {
        return ERR_OK; /* Not staged: it comes again. */
    }
    snapshot_recv_staged(&s->recv, c);
    if (snapshot_recv_is_complete(&s->recv)) {
        return install(s, h, msg);
    }
    return raft_snapshot_ack(h->raft, msg, s->recv.next, true, false);
}

int replica_snapshot_on_message(struct replica_snapshot *s,
                                const struct replica_snapshot_host *h,
                                uint64_t now_ms, const struct raft_msg *msg)
{
    if (!s->is_enabled) {
        return ERR_OK;
    }
    if (msg->type == MSG_SNAPSHOT_REPLY) {
        on_reply(s, h, now_ms, msg);
        return ERR_OK;
    }
    ASSERT(msg->type == MSG_SNAPSHOT);
    return on_chunk(s, h, msg);
}

/* --- Compaction policy ------------------------------------------------ */

/* Thesis 5.1: once the log holds more than config.entries entries beyond
 * the kept ones that the kv store holds durably, compact up to the
 * durably applied index, minus log_keep; with is_forced (an operator's
 * request), whatever the threshold. Errors: ERR_STOPPED. */
static int maybe_compact(struct replica_snapshot *s,
                         const struct replica_snapshot_host *h, bool is_forced)
{
    if (s->config.entries == 0 && !is_forced) {
        return ERR_OK;
    }
    raft_index durable = kv_writeback_stored_index(h->wb);
    if (RAFT_BUG(RAFT_BUG_SNAP_COMPACT_UNDURABLE)) {
        durable = *h->applied;
    }
    raft_index first = raft_first_index(h->raft);
    uint64_t span =
        (is_forced ? 0 : (uint64_t)s->config.entries) + s->config.log_keep;
    if (durable < first || durable - first + 1 <= span) {
        return ERR_OK;
    }
    ASSERT(durable <= raft_applied_index(h->raft));
    struct replica_compaction c;
    c.point = durable;
    c.point_term = raft_term_at(h->raft, durable);
    c.log_upto = durable - s->config.log_keep;
    c.log_upto_term = raft_term_at(h->raft, c.log_upto);
    ASSERT(c.point_term != 0);
    ASSERT(c.log_upto_term != 0);
    if (h->io->compact(h->io->ctx, &c) != ERR_OK) {
        return ERR_STOPPED;
    }
    raft_compact(h->raft, c.log_upto);
    s->stats.n_compactions++;
    s->stats.compacted = c.log_upto;
    return ERR_OK;
}

int replica_snapshot_drain(struct replica_snapshot *s,
                           const struct replica_snapshot_host *h,
                           uint64_t now_ms)
{
    if (!s->is_enabled) {
        return ERR_OK;
    }
    abandon_stale(s, h);
    if (raft_role(h->raft) == RAFT_LEADER) {
        start_wanted(s, h, now_ms);
        for (uint32_t i = 0; i < RAFT_NODES_MAX; i++) {
            if (s->sends[i].is_active) {
                send_pump(s, h, &s->sends[i]);
            }
        }
    }
    return maybe_compact(s, h, false);
}

int replica_snapshot_compact_now(struct replica_snapshot *s,
                                 const struct replica_snapshot_host *h)
{
    if (!s->is_enabled) {
        return ERR_OK;
    }
    return maybe_compact(s, h, true);
}

void replica_snapshot_tick(struct replica_snapshot *s, uint64_t now_ms)
{
    for (uint32_t i = 0; i < RAFT_NODES_MAX; i++) {
        if (s->sends[i].is_active &&
            now_ms >= snapshot_send_deadline(&s->sends[i])) {
            snapshot_send_tick(&s->sends[i], now_ms);
            s->stats.n_resends++;
        }
    }
}

uint64_t replica_snapshot_deadline(const struct replica_snapshot *s)
{
    uint64_t d = UINT64_MAX;
    for (uint32_t i = 0; i < RAFT_NODES_MAX; i++) {
        uint64_t t = snapshot_send_deadline(&s->sends[i]);
        if (t < d) {
            d = t;
        }
    }
    /* Wanted peers whose image was not ready retry at the next drain: the
     * leader's heartbeats bring one. */
    return d;
}
