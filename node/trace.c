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
#include "common/recording.h"

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

/* The recording's message types are the trace's kinds, in one order. */
_Static_assert((int)REC_MSG__COUNT == (int)TRACE_KIND__COUNT &&
                   (int)REC_MSG_PREVOTE == (int)TRACE_PREVOTE &&
                   (int)REC_MSG_APPEND == (int)TRACE_APPEND &&
                   (int)REC_MSG_READ_INDEX_REPLY == (int)TRACE_READ_INDEX_REPLY,
               "rec_msg_type and trace_kind list the same kinds");

bool trace_event_of(const struct raft_msg *msg, size_t bytes,
                    struct trace_event *out)
{
    /* The recording's reading of a message (common/recording.h): index,
     * entries and ok per type, pre-vote apart. */
    struct rec_msg rm;
    if (!rec_msg_from_raft(
            msg, bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes, &rm)) {
        return false;
    }
    memset(out, 0, sizeof *out);
    out->kind = rm.type;
    out->to = rm.to;
    out->term = rm.term;
    out->index = rm.index;
    out->n = rm.n;
    out->ok = rm.ok;
    out->bytes = rm.bytes;
    out->count = 1;
    return true;
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
