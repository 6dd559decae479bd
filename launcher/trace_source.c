/*
 * The trace source of launcher/trace_source.h: lease renewals to every
 * member, batch decoding, the hold-and-sort that merges the members'
 * batches into one stream in send-time order, and drop counts. Every call
 * is non-blocking. Read launcher/dash_model.c next.
 */
#include "launcher/trace_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"
#include "common/udp.h"

#define TRACE_SOURCE_RECV_MAX 256 /* Datagrams per step, at most. */

int trace_source_open(struct trace_source *ts, const struct conf *conf,
                      const struct trace_source_cb *cb, char errmsg[ERRMSG_LEN])
{
    ASSERT(conf->n_members > 0 && conf->n_members <= RAFT_NODES_MAX);
    ASSERT(cb != NULL && cb->on_msg != NULL);
    memset(ts, 0, sizeof *ts);
    ts->conf = conf;
    ts->known = *conf;
    ts->cb = *cb;
    ts->fd = -1;
    int rc = udp_resolve_members(conf, ts->addrs, errmsg);
    if (rc != ERR_OK) {
        return rc;
    }
    ts->buf = malloc(RAFT_DATAGRAM_MAX);
    ts->scratch = malloc(sizeof *ts->scratch);
    ts->held = malloc(sizeof(*ts->held) * TRACE_SOURCE_HELD_MAX);
    if (ts->buf == NULL || ts->scratch == NULL || ts->held == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        trace_source_close(ts);
        return ERR_NOMEM;
    }
    rc = udp_open_client(&ts->addrs[0], &ts->fd, errmsg);
    if (rc != ERR_OK) {
        trace_source_close(ts);
    }
    return rc;
}

/* The members as conf now lists them (a member added or removed since
 * the last renewal); kept as they were when one does not resolve. */
static void follow_members(struct trace_source *ts)
{
    if (memcmp(&ts->known, ts->conf, sizeof ts->known) == 0) {
        return;
    }
    struct raft_addr addrs[RAFT_NODES_MAX];
    char errmsg[ERRMSG_LEN];
    if (udp_resolve_members(ts->conf, addrs, errmsg) != ERR_OK) {
        return;
    }
    memcpy(ts->addrs, addrs, sizeof addrs);
    ts->known = *ts->conf;
    memset(ts->heard, 0, sizeof ts->heard); /* Indexes may have moved. */
}

/* MSG_TRACE with lease_ms to every member. */
static void send_leases(struct trace_source *ts, uint32_t lease_ms)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_TRACE;
    m.u.trace.lease_ms = lease_ms;
    for (uint32_t i = 0; i < ts->known.n_members; i++) {
        size_t len = 0;
        m.to = ts->known.members[i].id;
        if (wire_encode(&m, ts->known.cluster_id, ts->buf, RAFT_DATAGRAM_MAX,
                        &len) == ERR_OK) {
            (void)udp_send(ts->fd, &ts->addrs[i], ts->buf, len);
        }
    }
}

static int by_time(const void *a, const void *b)
{
    const struct trace_msg *x = a, *y = b;
    return x->t_ms < y->t_ms ? -1 : x->t_ms > y->t_ms;
}

/* Delivers the held messages sent before until_ms, in time order. */
static void deliver(struct trace_source *ts, uint64_t until_ms)
{
    if (ts->n_held == 0) {
        return;
    }
    qsort(ts->held, ts->n_held, sizeof(*ts->held), by_time);
    uint32_t k = 0;
    for (; k < ts->n_held && ts->held[k].t_ms < until_ms; k++) {
        struct trace_msg *m = &ts->held[k];
        if (m->t_ms < ts->last_t_ms) {
            m->t_ms = ts->last_t_ms; /* Late: never back in time. */
        }
        ts->last_t_ms = m->t_ms;
        ts->msgs += m->count;
        ts->cb.on_msg(ts->cb.ctx, m);
    }
    memmove(ts->held, ts->held + k, sizeof(*ts->held) * (ts->n_held - k));
    ts->n_held -= k;
}

void trace_source_close(struct trace_source *ts)
{
    if (ts->fd >= 0) {
        deliver(ts, UINT64_MAX);
        send_leases(ts, 0);
        udp_close(ts->fd);
    }
    ts->fd = -1;
    free(ts->buf);
    free(ts->scratch);
    free(ts->held);
    ts->buf = NULL;
    ts->scratch = NULL;
    ts->held = NULL;
}

int trace_source_fds(const struct trace_source *ts, struct pollfd *out)
{
    if (ts->n_held > 0) {
        /* A step is due when the oldest is (trace_source_next_ms): what
         * arrives until then waits in the socket, read in one go, instead
         * of a wakeup per batch. */
        return 0;
    }
    out[0] = (struct pollfd){.fd = ts->fd, .events = POLLIN};
    return 1;
}

uint64_t trace_source_next_ms(const struct trace_source *ts, uint64_t now_ms)
{
    uint64_t next = ts->renew_ms;
    uint64_t oldest = UINT64_MAX;
    for (uint32_t k = 0; k < ts->n_held; k++) {
        oldest = ts->held[k].t_ms < oldest ? ts->held[k].t_ms : oldest;
    }
    if (oldest != UINT64_MAX) {
        /* On a TRACE_SOURCE_TICK_MS grid: one wakeup delivers all that
         * came due since the last, not one per message. */
        uint64_t due = oldest + TRACE_SOURCE_HOLD_MS;
        due += TRACE_SOURCE_TICK_MS - due % TRACE_SOURCE_TICK_MS;
        next = due < next ? due : next;
    }
    return next > now_ms ? next : now_ms;
}

/* The member a batch came from (its id at its address), or -1. */
static int batch_member(const struct trace_source *ts,
                        const struct raft_addr *from,
                        const struct raft_msg *msg)
{
    int i = conf_member_index(&ts->known, msg->from);
    if (i < 0 || !udp_addr_equal(from, &ts->addrs[i])) {
        return -1;
    }
    return i;
}

/* A member's cumulative drop count: the increase since the last batch (a
 * restarted member counts from 0 again; the first batch sets the base). */
static void note_dropped(struct trace_source *ts, int i, uint64_t dropped,
                         uint64_t now_ms)
{
    uint64_t seen = ts->dropped_seen[i];
    bool first = !ts->heard[i];
    ts->heard[i] = true;
    ts->dropped_seen[i] = dropped;
    if (!first && dropped > seen && ts->cb.on_dropped != NULL) {
        ts->cb.on_dropped(ts->cb.ctx, ts->known.members[i].id, dropped - seen,
                          now_ms);
    }
}

/* Holds each event of one batch as a message sent age_ms ago. */
static void on_batch(struct trace_source *ts, int i, const struct raft_msg *msg,
                     uint64_t now_ms, uint64_t wall_ms)
{
    const struct msg_trace_events *b = &msg->u.trace_events;
    note_dropped(ts, i, b->dropped, now_ms);
    for (uint32_t k = 0; k < b->n; k++) {
        const struct trace_event *e = &b->events[k];
        if (ts->n_held == TRACE_SOURCE_HELD_MAX) {
            deliver(ts, UINT64_MAX);
        }
        trace_msg_from_event(e, msg->from,
                             e->age_ms < now_ms ? now_ms - e->age_ms : 0,
                             e->age_ms < wall_ms ? wall_ms - e->age_ms : 0,
                             &ts->held[ts->n_held++]);
    }
}

static void source_recv(struct trace_source *ts, uint64_t now_ms,
                        uint64_t wall_ms)
{
    for (int k = 0; k < TRACE_SOURCE_RECV_MAX; k++) {
        size_t len = 0;
        struct raft_addr from;
        int rc = udp_recv(ts->fd, ts->buf, RAFT_DATAGRAM_MAX, &len, &from);
        if (rc == ERR_AGAIN || rc == ERR_IO) {
            return;
        }
        struct raft_msg msg;
        if (rc != ERR_OK ||
            wire_decode(ts->buf, len, ts->known.cluster_id, &msg,
                        ts->scratch) != ERR_OK ||
            msg.type != MSG_TRACE_EVENTS) {
            continue;
        }
        int i = batch_member(ts, &from, &msg);
        if (i >= 0) {
            ts->batches++;
            on_batch(ts, i, &msg, now_ms, wall_ms);
        }
    }
}

void trace_source_step(struct trace_source *ts, uint64_t now_ms,
                       uint64_t wall_ms)
{
    ASSERT(ts->fd >= 0);
    source_recv(ts, now_ms, wall_ms);
    if (now_ms >= ts->renew_ms) {
        follow_members(ts);
        send_leases(ts, TRACE_SOURCE_LEASE_MS);
        ts->renew_ms = now_ms + TRACE_SOURCE_RENEW_MS;
    }
    /* Those held TRACE_SOURCE_HOLD_MS: due as trace_source_next_ms says. */
    if (now_ms + 1 > TRACE_SOURCE_HOLD_MS) {
        deliver(ts, now_ms + 1 - TRACE_SOURCE_HOLD_MS);
    }
}

uint32_t trace_source_heard_mask(const struct trace_source *ts)
{
    uint32_t mask = 0;
    for (uint32_t i = 0; i < ts->known.n_members; i++) {
        if (ts->heard[i]) {
            mask |= 1u << i;
        }
    }
    return mask;
}
