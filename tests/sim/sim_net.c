/*
 * The simulated network: every message goes through the real wire encoder,
 * then per-link loss, duplication, latency (so reordering), symmetric and
 * one-way partitions, and optional damage (flipped bytes, truncation, a
 * foreign cluster id); at delivery the real decoder runs and anything it
 * refuses is dropped, as raftnode drops it. Read tests/sim/sim_client.c next.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "tests/sim/sim_world.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

static const char *type_name(uint8_t type)
{
    /* By wire number; sized by its own list so a newer msg.h only adds. */
    static const char *const names[] = {
        "none",         "vote",         "vote_reply", "append",
        "append_reply", "snap",         "snap_reply", "timeout_now",
        "client",       "client_reply", "status",     "status_reply",
        "fault",        "fault_reply",  "read_index", "read_index_reply"};
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

static void endpoint_name(uint32_t e, char *buf, size_t cap)
{
    if (e >= SIM_CLIENT_BASE) {
        snprintf(buf, cap, "c%u", e - SIM_CLIENT_BASE);
    } else {
        snprintf(buf, cap, "n%u", e);
    }
}

/* A one-line summary of a message for the trace. */
static void describe(const struct raft_msg *m, char *buf, size_t cap)
{
    switch (m->type) {
    case MSG_VOTE:
        snprintf(buf, cap, "t%llu last=%llu/%llu%s", ull(m->term),
                 ull(m->u.vote.last_index), ull(m->u.vote.last_term),
                 m->u.vote.pre_vote ? " pre" : "");
        break;
    case MSG_VOTE_REPLY:
        snprintf(buf, cap, "t%llu %s%s", ull(m->term),
                 m->u.vote_reply.granted ? "granted" : "refused",
                 m->u.vote_reply.pre_vote ? " pre" : "");
        break;
    case MSG_APPEND:
        snprintf(buf, cap, "t%llu prev=%llu/%llu n=%u commit=%llu",
                 ull(m->term), ull(m->u.append.prev_index),
                 ull(m->u.append.prev_term), m->u.append.n_entries,
                 ull(m->u.append.commit));
        break;
    case MSG_APPEND_REPLY:
        snprintf(buf, cap, "t%llu %s match=%llu reject=%llu last=%llu",
                 ull(m->term), m->u.append_reply.success ? "ok" : "no",
                 ull(m->u.append_reply.match_index),
                 ull(m->u.append_reply.reject_index),
                 ull(m->u.append_reply.last_index));
        break;
    case MSG_SNAPSHOT:
        snprintf(buf, cap, "t%llu %llu/%llu @%llu+%u of %llu%s", ull(m->term),
                 ull(m->u.snapshot.last_index), ull(m->u.snapshot.last_term),
                 ull(m->u.snapshot.offset), m->u.snapshot.len,
                 ull(m->u.snapshot.size), m->u.snapshot.done ? " done" : "");
        break;
    case MSG_SNAPSHOT_REPLY:
        snprintf(buf, cap, "t%llu %llu/%llu %s want=%llu%s", ull(m->term),
                 ull(m->u.snapshot_reply.last_index),
                 ull(m->u.snapshot_reply.last_term),
                 m->u.snapshot_reply.success ? "ok" : "no",
                 ull(m->u.snapshot_reply.offset),
                 m->u.snapshot_reply.done ? " done" : "");
        break;
    case MSG_CLIENT:
        snprintf(buf, cap, "id=%llx seq=%llu op=%u", ull(m->u.client.client_id),
                 ull(m->u.client.seq), m->u.client.op);
        break;
    case MSG_CLIENT_REPLY:
        snprintf(buf, cap, "id=%llx seq=%llu status=%u hint=%llu",
                 ull(m->u.client_reply.client_id), ull(m->u.client_reply.seq),
                 m->u.client_reply.status, ull(m->u.client_reply.leader_hint));
        break;
    default:
        snprintf(buf, cap, "t%llu", ull(m->term));
        break;
    }
}

static uint64_t link_latency(struct sim_world *w, uint32_t from, uint32_t to)
{
    uint32_t lo = w->p.lat_min_ms;
    uint32_t hi = w->p.lat_max_ms;
    if (from >= 1 && from <= w->p.n_nodes && to >= 1 && to <= w->p.n_nodes) {
        lo = w->lat_lo[from][to];
        hi = w->lat_hi[from][to];
    }
    return rng_range(&w->rng, lo, (uint64_t)hi + 1);
}

/* Damages a copy: flipped bytes, a cut, or another cluster's header. */
static void corrupt(struct sim_world *w, const struct raft_msg *msg,
                    uint8_t *data, uint32_t *len, size_t cap)
{
    uint64_t mode = rng_range(&w->rng, 0, 8);
    if (mode == 0) {
        size_t n = 0;
        if (wire_encode(msg, SIM_CLUSTER_ID + 1, data, cap, &n) == ERR_OK) {
            *len = (uint32_t)n;
        }
        return;
    }
    if (mode == 1 && *len > 1) {
        *len = (uint32_t)rng_range(&w->rng, 0, *len);
        return;
    }
    uint64_t flips = rng_range(&w->rng, 1, 5);
    for (uint64_t i = 0; i<flips && * len> 0; i++) {
        uint64_t at = rng_range(&w->rng, 0, *len);
        data[at] ^= (uint8_t)rng_range(&w->rng, 1, 256);
    }
}

static bool is_node(const struct sim_world *w, uint32_t e)
{
    return e >= 1 && e <= w->p.n_nodes;
}

void sim_net_inject(struct sim_world *w, uint32_t from, uint32_t to,
                    const struct raft_msg *msg, uint64_t delay_ms)
{
    size_t len = 0;
    int rc = wire_encode(msg, SIM_CLUSTER_ID, w->buf, RAFT_DATAGRAM_MAX, &len);
    ASSERT(rc == ERR_OK);
    struct sim_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SIM_EV_DELIVER;
    ev.a = from;
    ev.b = to;
    ev.len = (uint32_t)len;
    ev.data = malloc(len);
    ASSERT(ev.data != NULL);
    memcpy(ev.data, w->buf, len);
    ev.time_ms = w->now_ms + delay_ms;
    sim_tracef(w, "%llu net %u>%u %s injected @%llu", ull(w->now_ms), from, to,
               type_name(msg->type), ull(ev.time_ms));
    sim_world_push(w, &ev);
}

void sim_net_send(struct sim_world *w, uint32_t from, uint32_t to,
                  const struct raft_msg *msg_in)
{
    struct raft_msg filtered = *msg_in;
    const struct raft_msg *msg = msg_in;
    if (w->net_filter != NULL) {
        bool drop = false;
        w->net_filter(w->net_filter_ctx, from, to, &filtered, &drop);
        if (drop) {
            return;
        }
        msg = &filtered;
    }
    size_t len = 0;
    int rc = wire_encode(msg, SIM_CLUSTER_ID, w->buf, RAFT_DATAGRAM_MAX, &len);
    if (rc != ERR_OK) {
        sim_fail(w, "encode", "type %u from %u to %u does not encode: %s",
                 msg->type, from, to, err_str(rc));
        return;
    }
    char a[16], b[16], what[120];
    endpoint_name(from, a, sizeof a);
    endpoint_name(to, b, sizeof b);
    describe(msg, what, sizeof what);
    w->n_sent++;
    sim_record_msg(w, from, to, msg, len);
    const char *fate = NULL;
    if (is_node(w, from) && is_node(w, to) && w->blocked[from][to]) {
        fate = "cut";
    } else if (w->p.loss_ppm > 0 && rng_chance_ppm(&w->rng, w->p.loss_ppm)) {
        fate = "lost";
    }
    if (fate != NULL) {
        w->n_dropped++;
        sim_tracef(w, "%llu net %s>%s %s %s %s", ull(w->now_ms), a, b,
                   type_name(msg->type), what, fate);
        return;
    }
    int copies = 1;
    if (w->p.dup_ppm > 0 && rng_chance_ppm(&w->rng, w->p.dup_ppm)) {
        copies = 2;
    }
    for (int i = 0; i < copies; i++) {
        struct sim_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SIM_EV_DELIVER;
        ev.a = from;
        ev.b = to;
        ev.len = (uint32_t)len;
        ev.data = malloc(len + 16);
        ASSERT(ev.data != NULL);
        memcpy(ev.data, w->buf, len);
        if (w->p.corrupt_ppm > 0 && rng_chance_ppm(&w->rng, w->p.corrupt_ppm)) {
            corrupt(w, msg, ev.data, &ev.len, len + 16);
            ev.is_corrupt = true;
        }
        ev.time_ms = w->now_ms + link_latency(w, from, to);
        sim_tracef(w, "%llu net %s>%s %s %s @%llu%s%s", ull(w->now_ms), a, b,
                   type_name(msg->type), what, ull(ev.time_ms),
                   i > 0 ? " dup" : "", ev.is_corrupt ? " damaged" : "");
        sim_world_push(w, &ev);
    }
}

void sim_net_deliver(struct sim_world *w, const struct sim_event *ev)
{
    uint32_t to = ev->b;
    struct sim_node *n = NULL;
    if (is_node(w, to)) {
        n = &w->nodes[to];
        if (n->rep == NULL) {
            return; /* Down: the datagram is lost. */
        }
    } else if (to < SIM_CLIENT_BASE || to - SIM_CLIENT_BASE >= w->p.n_clients) {
        UNREACHABLE();
    }
    struct raft_msg msg;
    memset(&msg, 0, sizeof msg);
    int rc = wire_decode(ev->data, ev->len, SIM_CLUSTER_ID, &msg, w->scratch);
    if (rc != ERR_OK) {
        if (!ev->is_corrupt) {
            sim_fail(w, "codec",
                     "a clean datagram from %u to %u does not "
                     "decode: %s",
                     ev->a, to, err_str(rc));
            return;
        }
        w->n_corrupt_caught++;
        sim_tracef(w, "%llu net %u>%u damaged datagram refused: %s",
                   ull(w->now_ms), ev->a, to, err_str(rc));
        return;
    }
    if (ev->is_corrupt) {
        /* Decodes but is not what was sent: UDP's checksum would drop it;
         * what mattered was that decoding it was safe. */
        sim_tracef(w, "%llu net %u>%u damaged datagram decoded; dropped",
                   ull(w->now_ms), ev->a, to);
        return;
    }
    if (n != NULL) {
        sim_node_on_datagram(w, n, ev->a, &msg);
    } else if (msg.type == MSG_CLIENT_REPLY) {
        sim_client_on_reply(w, to - SIM_CLIENT_BASE, &msg.u.client_reply);
    }
}

void sim_net_block(struct sim_world *w, raft_id from, raft_id to,
                   bool is_blocked)
{
    ASSERT(from >= 1 && from <= w->p.n_nodes);
    ASSERT(to >= 1 && to <= w->p.n_nodes);
    w->blocked[from][to] = is_blocked;
}

/* The current leader with the highest term, 0 when none is up. */
static uint32_t current_leader(const struct sim_world *w)
{
    uint32_t best = 0;
    raft_term best_term = 0;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        const struct sim_node *n = &w->nodes[i];
        if (n->rep == NULL) {
            continue;
        }
        const struct raft *r = replica_raft(n->rep);
        if (raft_role(r) == RAFT_LEADER && raft_current_term(r) >= best_term) {
            best = i;
            best_term = raft_current_term(r);
        }
    }
    return best;
}

/* Cuts every link between the two sides, both ways. */
static void split(struct sim_world *w, const bool *side)
{
    uint32_t k = w->p.n_nodes;
    char text[SIM_NODES_MAX + 1];
    for (uint32_t i = 1; i <= k; i++) {
        text[i - 1] = side[i] ? 'B' : 'A';
        for (uint32_t j = 1; j <= k; j++) {
            if (side[i] != side[j]) {
                w->blocked[i][j] = true;
            }
        }
    }
    text[k] = '\0';
    sim_tracef(w, "%llu sim partition split %s", ull(w->now_ms), text);
}

/* Forms a random partition, often replacing the last one: a symmetric
 * split into two groups, the leader cut off with a minority (it may go on
 * believing it leads: stale reads, Figure 8 histories), one node cut off in
 * one direction, or one link cut one way. */
void sim_net_partition(struct sim_world *w)
{
    uint32_t k = w->p.n_nodes;
    if (rng_range(&w->rng, 0, 2) == 0) {
        memset(w->blocked, 0, sizeof w->blocked);
    }
    uint64_t mode = rng_range(&w->rng, 0, 4);
    bool side[SIM_NODES_MAX + 1] = {false};
    uint32_t leader = current_leader(w);
    if (mode == 1 && leader != 0) {
        side[leader] = true;
        uint32_t extra = (uint32_t)rng_range(&w->rng, 0, (k - 1) / 2);
        for (uint32_t i = 0; i < extra; i++) {
            side[rng_range(&w->rng, 1, (uint64_t)k + 1)] = true;
        }
        split(w, side);
        return;
    }
    if (mode <= 1) {
        for (uint32_t i = 2; i <= k; i++) {
            side[i] = rng_range(&w->rng, 0, 2) == 1;
        }
        side[rng_range(&w->rng, 2, (uint64_t)k + 1)] = true;
        split(w, side);
        return;
    }
    uint32_t x = (uint32_t)rng_range(&w->rng, 1, (uint64_t)k + 1);
    if (mode == 2) {
        bool is_out = rng_range(&w->rng, 0, 2) == 1;
        for (uint32_t j = 1; j <= k; j++) {
            if (j != x) {
                w->blocked[is_out ? x : j][is_out ? j : x] = true;
            }
        }
        sim_tracef(w, "%llu sim partition n%u %s cut", ull(w->now_ms), x,
                   is_out ? "outbound" : "inbound");
        return;
    }
    uint32_t y = (uint32_t)rng_range(&w->rng, 1, k);
    if (y >= x) {
        y++;
    }
    w->blocked[x][y] = true;
    sim_tracef(w, "%llu sim partition link n%u>n%u cut", ull(w->now_ms), x, y);
}
