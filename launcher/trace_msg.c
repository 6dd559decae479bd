/*
 * The renderings of launcher/trace_msg.h: the shared JSON line, the short
 * text, and the dashboard's ring with its heartbeat coalescing. Pure;
 * tests/unit/test_dash_model.c checks them. Read launcher/trace_source.c
 * next.
 */
#include "launcher/trace_msg.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/invariant.h"

const char *trace_kind_name(int kind)
{
    return rec_msg_type_name(kind); /* The same kinds (trace_msg_to_rec). */
}

bool trace_kind_is_reply(int kind)
{
    return kind == TRACE_VOTE_REPLY || kind == TRACE_PREVOTE_REPLY ||
           kind == TRACE_APPEND_REPLY || kind == TRACE_SNAPSHOT_REPLY ||
           kind == TRACE_READ_INDEX_REPLY;
}

void trace_msg_from_event(const struct trace_event *e, raft_id from,
                          uint64_t t_ms, uint64_t wall_ms,
                          struct trace_msg *out)
{
    ASSERT(e != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    out->t_ms = t_ms;
    out->wall_ms = wall_ms;
    out->from = from;
    out->to = e->to;
    out->kind = e->kind;
    out->term = e->term;
    out->index = e->index;
    out->n = e->n;
    out->ok = e->ok;
    out->bytes = e->bytes;
    out->count = e->count;
}

void trace_msg_to_rec(const struct trace_msg *m, struct rec_msg *out)
{
    _Static_assert((int)REC_MSG__COUNT == (int)TRACE_KIND__COUNT &&
                       (int)REC_MSG_APPEND == (int)TRACE_APPEND &&
                       (int)REC_MSG_READ_INDEX_REPLY ==
                           (int)TRACE_READ_INDEX_REPLY,
                   "rec_msg_type and trace_kind list the same kinds");
    memset(out, 0, sizeof *out);
    out->from = m->from;
    out->to = m->to;
    out->type = m->kind;
    out->term = m->term;
    out->index = m->index;
    out->n = m->n;
    out->has_ok = trace_kind_is_reply(m->kind);
    out->ok = m->ok;
    out->bytes = m->bytes;
    out->coalesced = m->count;
}

static uint64_t since(uint64_t t_ms, uint64_t start_ms)
{
    return t_ms > start_ms ? t_ms - start_ms : 0;
}

int trace_msg_to_json(const struct trace_msg *m, uint64_t start_ms, char *buf,
                      size_t cap)
{
    ASSERT(m != NULL && buf != NULL);
    char coalesced[32] = "";
    if (m->count > 1) {
        snprintf(coalesced, sizeof coalesced, ",\"coalesced\":%" PRIu32,
                 m->count);
    }
    /* "ok" on replies only, as the recording writer has it. */
    const char *ok = !trace_kind_is_reply(m->kind) ? ""
                     : m->ok                       ? ",\"ok\":true"
                                                   : ",\"ok\":false";
    return snprintf(
        buf, cap,
        "{\"t\":%" PRIu64 ",\"k\":\"msg\",\"from\":%" PRIu64 ",\"to\":%" PRIu64
        ",\"type\":\"%s\",\"term\":%" PRIu64 ",\"index\":%" PRIu64
        ",\"n\":%" PRIu32 "%s,\"bytes\":%" PRIu32 "%s}",
        since(m->t_ms, start_ms), m->from, m->to, trace_kind_name(m->kind),
        m->term, m->index, m->n, ok, m->bytes, coalesced);
}

int trace_dropped_to_json(raft_id id, uint64_t count, uint64_t t_ms,
                          uint64_t start_ms, char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "{\"t\":%" PRIu64 ",\"k\":\"trace_dropped\",\"id\":%" PRIu64
                    ",\"count\":%" PRIu64 "}",
                    since(t_ms, start_ms), id, count);
}

/* The kind as the dashboard says it: an empty append is a heartbeat. */
static const char *text_kind(const struct trace_msg *m)
{
    switch (m->kind) {
    case TRACE_APPEND:
        return m->n == 0 ? "heartbeat" : "append";
    case TRACE_APPEND_REPLY:
        return "append";
    case TRACE_VOTE_REPLY:
        return "vote";
    case TRACE_PREVOTE_REPLY:
        return "prevote";
    case TRACE_SNAPSHOT_REPLY:
        return "snapshot";
    case TRACE_READ_INDEX_REPLY:
        return "read_index";
    default:
        return trace_kind_name(m->kind);
    }
}

void trace_msg_text(const struct trace_msg *m, char *buf, size_t cap)
{
    const char *verdict = "";
    if (trace_kind_is_reply(m->kind)) {
        bool vote =
            m->kind == TRACE_VOTE_REPLY || m->kind == TRACE_PREVOTE_REPLY;
        verdict = m->ok ? (vote ? " granted" : " ok")
                        : (vote ? " refused" : " refused");
    }
    char where[48] = "";
    if (m->kind == TRACE_APPEND && m->n > 0) {
        snprintf(where, sizeof where, " i%" PRIu64 "+%" PRIu32, m->index, m->n);
    } else if (m->kind == TRACE_VOTE || m->kind == TRACE_PREVOTE) {
        snprintf(where, sizeof where, " last i%" PRIu64, m->index);
    } else if (m->index != 0 || m->kind == TRACE_APPEND ||
               m->kind == TRACE_APPEND_REPLY) {
        snprintf(where, sizeof where, " i%" PRIu64, m->index);
    }
    char times[24] = "";
    if (m->count > 1) {
        snprintf(times, sizeof times, " x%" PRIu32, m->count);
    }
    snprintf(buf, cap, "%" PRIu64 "->%" PRIu64 " %s%s t%" PRIu64 "%s%s",
             m->from, m->to, text_kind(m), verdict, m->term, where, times);
}

void trace_ring_init(struct trace_ring *r)
{
    memset(r, 0, sizeof *r);
}

const struct trace_msg *trace_ring_newest(const struct trace_ring *r,
                                          uint32_t k)
{
    ASSERT(k < r->n);
    return &r->msgs[(r->head + TRACE_RING_MAX - 1 - k) % TRACE_RING_MAX];
}

/* The same message again (a heartbeat, a retransmission to a silent
 * member): everything but the time and the count alike. */
static bool same_msg(const struct trace_msg *a, const struct trace_msg *b)
{
    return a->kind == b->kind && a->from == b->from && a->to == b->to &&
           a->term == b->term && a->index == b->index && a->n == b->n &&
           a->ok == b->ok;
}

static struct trace_msg *ring_slot(struct trace_ring *r, uint32_t k)
{
    return &r->msgs[(r->head + TRACE_RING_MAX - 1 - k) % TRACE_RING_MAX];
}

void trace_ring_push(struct trace_ring *r, const struct trace_msg *m)
{
    r->total += m->count;
    for (uint32_t k = 0; k < r->n && k < TRACE_RING_COALESCE; k++) {
        if (!same_msg(ring_slot(r, k), m)) {
            continue;
        }
        /* Counted into the earlier one, which moves to the newest. */
        struct trace_msg merged = *m;
        uint64_t count = (uint64_t)ring_slot(r, k)->count + m->count;
        merged.count = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
        for (uint32_t j = k; j > 0; j--) {
            *ring_slot(r, j) = *ring_slot(r, j - 1);
        }
        *ring_slot(r, 0) = merged;
        return;
    }
    r->msgs[r->head] = *m;
    r->head = (r->head + 1) % TRACE_RING_MAX;
    if (r->n < TRACE_RING_MAX) {
        r->n++;
    }
}

void trace_ring_on_msg(void *ring, const struct trace_msg *m)
{
    trace_ring_push(ring, m);
}

void trace_ring_on_dropped(void *ring, raft_id id, uint64_t count,
                           uint64_t t_ms)
{
    (void)id;
    (void)t_ms;
    struct trace_ring *r = ring;
    r->dropped += count;
}
