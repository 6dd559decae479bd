/*
 * The message trace of node/trace.h: leases, the event of each message,
 * heartbeat coalescing, the token bucket and the batches. Pure: time
 * arrives as now_ms, batches leave through the caller's send function.
 * tests/unit/test_trace.c checks the budget and the coalescing. Read
 * node/node_control.c next.
 */
#include "node/trace.h"

#include <string.h>

#include "common/invariant.h"

#define TRACE_TOKEN 1000u /* Thousandths of an event per event. */

void trace_init(struct trace *t)
{
    ASSERT(t != NULL);
    memset(t, 0, sizeof *t);
    t->tokens = (uint64_t)TRACE_BURST * TRACE_TOKEN;
}

static bool addr_same(const struct raft_addr *a, const struct raft_addr *b)
{
    return a->len == b->len && a->len <= sizeof a->bytes &&
           memcmp(a->bytes, b->bytes, a->len) == 0;
}

static uint32_t count_live(const struct trace *t)
{
    uint32_t n = 0;
    for (int i = 0; i < TRACE_SUBS_MAX; i++) {
        n += t->subs[i].until_ms != 0;
    }
    return n;
}

bool trace_subscribe(struct trace *t, const struct raft_addr *from,
                     uint32_t lease_ms, uint64_t now_ms)
{
    ASSERT(lease_ms <= TRACE_LEASE_MS_MAX);
    struct trace_sub *slot = NULL;
    for (int i = 0; i < TRACE_SUBS_MAX && slot == NULL; i++) {
        if (t->subs[i].until_ms != 0 && addr_same(&t->subs[i].addr, from)) {
            slot = &t->subs[i];
        }
    }
    for (int i = 0; i < TRACE_SUBS_MAX && slot == NULL && lease_ms != 0; i++) {
        if (t->subs[i].until_ms == 0) {
            slot = &t->subs[i];
        }
    }
    if (slot == NULL) {
        return lease_ms == 0; /* Ending a lease it does not hold: fine. */
    }
    bool was_on = trace_on(t);
    slot->addr = *from;
    slot->until_ms = lease_ms != 0 ? now_ms + lease_ms : 0;
    t->n_live = count_live(t);
    if (!was_on && trace_on(t)) {
        /* Turning on: a fresh batch, a full bucket. */
        t->n_pending = 0;
        t->tokens = (uint64_t)TRACE_BURST * TRACE_TOKEN;
        t->refill_ms = now_ms;
        t->flush_ms = now_ms + TRACE_FLUSH_MS;
    }
    return true;
}

bool trace_event_of(const struct raft_msg *msg, size_t bytes,
                    struct trace_event *out)
{
    memset(out, 0, sizeof *out);
    out->to = msg->to;
    out->term = msg->term;
    out->bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
    out->count = 1;
    switch (msg->type) {
    case MSG_VOTE:
        out->kind = msg->u.vote.pre_vote ? TRACE_PREVOTE : TRACE_VOTE;
        out->index = msg->u.vote.last_index;
        return true;
    case MSG_VOTE_REPLY:
        out->kind =
            msg->u.vote_reply.pre_vote ? TRACE_PREVOTE_REPLY : TRACE_VOTE_REPLY;
        out->ok = msg->u.vote_reply.granted;
        return true;
    case MSG_APPEND:
        out->kind = TRACE_APPEND;
        out->index = msg->u.append.prev_index;
        out->n = msg->u.append.n_entries;
        return true;
    case MSG_APPEND_REPLY:
        out->kind = TRACE_APPEND_REPLY;
        out->ok = msg->u.append_reply.success;
        out->index = out->ok ? msg->u.append_reply.match_index
                             : msg->u.append_reply.reject_index;
        return true;
    case MSG_SNAPSHOT:
        out->kind = TRACE_SNAPSHOT;
        out->index = msg->u.snapshot.last_index;
        return true;
    case MSG_SNAPSHOT_REPLY:
        out->kind = TRACE_SNAPSHOT_REPLY;
        out->index = msg->u.snapshot_reply.last_index;
        out->ok = msg->u.snapshot_reply.success;
        return true;
    case MSG_TIMEOUT_NOW:
        out->kind = TRACE_TIMEOUT_NOW;
        return true;
    case MSG_READ_INDEX:
        out->kind = TRACE_READ_INDEX;
        return true;
    case MSG_READ_INDEX_REPLY:
        out->kind = TRACE_READ_INDEX_REPLY;
        out->index = msg->u.read_index_reply.index;
        out->ok = msg->u.read_index_reply.ok;
        return true;
    default:
        return false;
    }
}

/* A heartbeat or its answer: an append without entries, or its reply. */
static bool is_heartbeat(const struct trace_event *e)
{
    return e->n == 0 &&
           (e->kind == TRACE_APPEND || e->kind == TRACE_APPEND_REPLY);
}

static bool same_event(const struct trace_event *a, const struct trace_event *b)
{
    return a->kind == b->kind && a->to == b->to && a->term == b->term &&
           a->index == b->index && a->n == b->n && a->ok == b->ok;
}

/* The pending event e repeats (a recent identical heartbeat), or NULL. */
static struct trace_event *coalesce_with(struct trace *t,
                                         const struct trace_event *e)
{
    if (!is_heartbeat(e)) {
        return NULL;
    }
    uint32_t scanned = 0;
    for (uint32_t i = t->n_pending; i > 0 && scanned < TRACE_COALESCE_SCAN;
         i--, scanned++) {
        struct trace_event *p = &t->pending[i - 1];
        if (same_event(p, e) && p->count < UINT32_MAX) {
            return p;
        }
    }
    return NULL;
}

/* Adds the tokens earned since the last refill, up to the burst. */
static void refill(struct trace *t, uint64_t now_ms)
{
    if (now_ms <= t->refill_ms) {
        return;
    }
    uint64_t cap = (uint64_t)TRACE_BURST * TRACE_TOKEN;
    uint64_t earned = (now_ms - t->refill_ms) * TRACE_RATE_PER_S;
    t->tokens = earned >= cap - t->tokens ? cap : t->tokens + earned;
    t->refill_ms = now_ms;
}

void trace_record(struct trace *t, uint64_t now_ms, const struct raft_msg *msg,
                  size_t bytes)
{
    ASSERT(trace_on(t));
    struct trace_event e;
    if (!trace_event_of(msg, bytes, &e)) {
        return;
    }
    t->recorded++;
    struct trace_event *same = coalesce_with(t, &e);
    if (same != NULL) {
        same->count++;
        return;
    }
    refill(t, now_ms);
    if (t->tokens < TRACE_TOKEN || t->n_pending == TRACE_PENDING_MAX) {
        t->dropped++;
        return;
    }
    t->tokens -= TRACE_TOKEN;
    t->pending_ms[t->n_pending] = now_ms;
    t->pending[t->n_pending++] = e;
}

uint64_t trace_deadline(const struct trace *t)
{
    if (!trace_on(t)) {
        return UINT64_MAX;
    }
    uint64_t due = t->flush_ms;
    for (int i = 0; i < TRACE_SUBS_MAX; i++) {
        if (t->subs[i].until_ms != 0 && t->subs[i].until_ms < due) {
            due = t->subs[i].until_ms;
        }
    }
    return due;
}

static void batch_init(struct raft_msg *m, raft_id self, raft_term term,
                       uint64_t dropped)
{
    memset(m, 0, sizeof *m);
    m->type = MSG_TRACE_EVENTS;
    m->from = self;
    m->term = term;
    m->u.trace_events.dropped = dropped;
}

void trace_ack(const struct trace *t, const struct raft_addr *to, raft_id self,
               raft_term term, trace_send_fn send, void *ctx)
{
    struct raft_msg m;
    batch_init(&m, self, term, t->dropped);
    send(ctx, to, &m);
}

/* The pending events, aged at now_ms, to every live viewer. */
static void send_pending(struct trace *t, uint64_t now_ms, raft_id self,
                         raft_term term, trace_send_fn send, void *ctx)
{
    for (uint32_t i = 0; i < t->n_pending; i++) {
        uint64_t age = now_ms - t->pending_ms[i];
        t->pending[i].age_ms = age > UINT32_MAX ? UINT32_MAX : (uint32_t)age;
    }
    struct raft_msg m;
    batch_init(&m, self, term, t->dropped);
    for (uint32_t first = 0; first < t->n_pending;
         first += TRACE_EVENTS_PER_MSG) {
        uint32_t left = t->n_pending - first;
        m.u.trace_events.n =
            left < TRACE_EVENTS_PER_MSG ? left : TRACE_EVENTS_PER_MSG;
        m.u.trace_events.events = &t->pending[first];
        for (int s = 0; s < TRACE_SUBS_MAX; s++) {
            if (t->subs[s].until_ms != 0) {
                send(ctx, &t->subs[s].addr, &m);
            }
        }
    }
    t->n_pending = 0;
}

void trace_flush(struct trace *t, uint64_t now_ms, raft_id self, raft_term term,
                 trace_send_fn send, void *ctx)
{
    if (!trace_on(t)) {
        return;
    }
    for (int i = 0; i < TRACE_SUBS_MAX; i++) {
        if (t->subs[i].until_ms != 0 && t->subs[i].until_ms <= now_ms) {
            t->subs[i].until_ms = 0;
        }
    }
    t->n_live = count_live(t);
    if (!trace_on(t)) {
        t->n_pending = 0;
        return;
    }
    if (now_ms < t->flush_ms) {
        return;
    }
    send_pending(t, now_ms, self, term, send, ctx);
    t->flush_ms = now_ms + TRACE_FLUSH_MS;
}
