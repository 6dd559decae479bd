/*
 * Simulated clients: each runs one operation at a time (PUT, GET, DEL or CAS
 * over a few keys, so writes contend), sends it through the simulated
 * network, follows leader hints, and on silence retries the next member with
 * the same (client id, seq), never giving up. Every answer goes to the
 * checker. Read tests/sim/sim_check.c next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"
#include "tests/sim/sim_world.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

uint32_t sim_client_key_index(const uint8_t *key, uint32_t len)
{
    if (len == 2 && key[0] == 'k' && key[1] >= '0' && key[1] < '0' + SIM_KEYS) {
        return (uint32_t)(key[1] - '0');
    }
    return SIM_KEYS;
}

/* Schedules the client's next timer; older timers become stale. */
static void arm(struct sim_world *w, struct sim_client *cl, uint32_t kind,
                uint64_t delay_ms)
{
    cl->gen++;
    struct sim_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SIM_EV_CLIENT;
    ev.a = cl->idx;
    ev.b = kind;
    ev.c = cl->gen;
    ev.time_ms = w->now_ms + delay_ms;
    sim_world_push(w, &ev);
}

/* The id a request (and its reply) carries: the nonce while registering. */
static uint64_t wire_id(const struct sim_client *cl)
{
    return cl->is_registering ? cl->nonce : cl->id;
}

static void send_request(struct sim_world *w, struct sim_client *cl)
{
    uint8_t key[2] = {'k', (uint8_t)('0' + cl->key)};
    struct raft_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = MSG_CLIENT;
    msg.to = cl->target;
    msg.u.client.client_id = wire_id(cl);
    msg.u.client.seq = cl->seq;
    if (cl->is_registering) {
        msg.u.client.op = CLIENT_REGISTER;
        sim_net_send(w, SIM_CLIENT_BASE + cl->idx, (uint32_t)cl->target, &msg);
        arm(w, cl, SIM_CLIENT_TIMEOUT, w->p.client_timeout_ms);
        return;
    }
    msg.u.client.op = cl->op;
    msg.u.client.key_len = sizeof key;
    msg.u.client.key = key;
    if (cl->op == CLIENT_PUT || cl->op == CLIENT_CAS) {
        msg.u.client.value_len = cl->value_len;
        msg.u.client.value = cl->value;
    }
    if (cl->op == CLIENT_CAS) {
        msg.u.client.expected_len = cl->expected_len;
        msg.u.client.expected = cl->expected;
    }
    sim_net_send(w, SIM_CLIENT_BASE + cl->idx, (uint32_t)cl->target, &msg);
    arm(w, cl, SIM_CLIENT_TIMEOUT, w->p.client_timeout_ms);
}

static void set_bytes(uint8_t *dst, uint32_t *len, const char *src)
{
    size_t n = strlen(src);
    ASSERT(n <= RAFT_VALUE_MAX);
    memcpy(dst, src, n);
    *len = (uint32_t)n;
}

uint32_t sim_value_min_len(uint32_t client, uint64_t seq)
{
    char head[48];
    return (uint32_t)snprintf(head, sizeof head, "c%us%llu.", client, ull(seq));
}

void sim_value_fill(uint32_t client, uint64_t seq, uint8_t *buf, uint32_t len)
{
    char head[48];
    uint32_t n =
        (uint32_t)snprintf(head, sizeof head, "c%us%llu.", client, ull(seq));
    ASSERT(len >= n);
    memcpy(buf, head, n);
    uint64_t x = (seq << 8) ^ client ^ 0x9e3779b97f4a7c15ull;
    for (uint32_t i = n; i < len; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)('a' + (x >> 59) % 26);
    }
}

/* Draws the next operation: reads, then puts, deletes and CAS (half of
 * them expecting the current value, so some swap); some values are large,
 * up to RAFT_VALUE_MAX, while a CAS stays within one log entry. */
static void choose_op(struct sim_world *w, struct sim_client *cl)
{
    cl->key = (uint32_t)rng_range(&w->rng, 0, SIM_KEYS);
    uint64_t r = rng_range(&w->rng, 0, 100);
    if (r < w->p.read_pct) {
        cl->op = CLIENT_GET;
        return;
    }
    r = rng_range(&w->rng, 0, 100);
    cl->op = r < 55 ? CLIENT_PUT : r < 75 ? CLIENT_DEL : CLIENT_CAS;
    const struct sim_state *m = &w->check.model;
    if (cl->op == CLIENT_CAS && m->present[cl->key] &&
        rng_range(&w->rng, 0, 2) == 0) {
        cl->expected_len = m->value_len[cl->key];
        sim_value_fill(m->origin_client[cl->key], m->origin_seq[cl->key],
                       cl->expected, cl->expected_len);
    } else {
        set_bytes(cl->expected, &cl->expected_len, "x");
    }
    uint32_t len = sim_value_min_len(cl->idx, cl->seq);
    uint32_t max = RAFT_VALUE_MAX;
    if (cl->op == CLIENT_CAS) {
        max = RAFT_ENTRY_MAX - 64 - cl->expected_len;
        max = max > RAFT_VALUE_MAX ? RAFT_VALUE_MAX : max;
    }
    if (rng_range(&w->rng, 0, 100) < w->p.big_value_pct && max > len) {
        len = (uint32_t)rng_range(&w->rng, len, (uint64_t)max + 1);
    }
    cl->value_len = len;
    sim_value_fill(cl->idx, cl->seq, cl->value, len);
}

/* A client without a session registers first (a fresh nonce names the
 * request); the operation goes out once the session id is known. */
static void begin_op(struct sim_world *w, struct sim_client *cl)
{
    cl->is_busy = true;
    if (cl->id == 0) {
        cl->is_registering = true;
        cl->nonce = rng_next(&w->rng) | 1u;
    }
    cl->invoke_ms = w->now_ms;
    cl->read_floor = w->check.max_acked;
    cl->attempts = 0;
    sim_tracef(w, "%llu c%u invoke seq=%llu op=%u k%u", ull(w->now_ms), cl->idx,
               ull(cl->seq), cl->op, cl->key);
    send_request(w, cl);
}

static void start_op(struct sim_world *w, struct sim_client *cl)
{
    if (w->clients_stopping || cl->is_busy) {
        return;
    }
    cl->seq++;
    choose_op(w, cl);
    /* Now and then ask a random member rather than the last known leader:
     * a deposed leader that still believes it leads gets asked too. */
    if (rng_range(&w->rng, 0, 4) == 0) {
        cl->target = rng_range(&w->rng, 1, (uint64_t)w->p.n_nodes + 1);
    }
    begin_op(w, cl);
}

void sim_client_invoke(struct sim_world *w, uint32_t client, uint8_t op,
                       uint32_t key, const char *value, const char *expected)
{
    ASSERT(client < w->p.n_clients);
    ASSERT(key < SIM_KEYS);
    struct sim_client *cl = &w->clients[client];
    ASSERT(!cl->is_busy);
    cl->seq++;
    cl->op = op;
    cl->key = key;
    set_bytes(cl->value, &cl->value_len, value != NULL ? value : "");
    set_bytes(cl->expected, &cl->expected_len,
              expected != NULL ? expected : "");
    begin_op(w, cl);
}

void sim_client_init(struct sim_world *w)
{
    for (uint32_t i = 0; i < w->p.n_clients; i++) {
        struct sim_client *cl = &w->clients[i];
        memset(cl, 0, sizeof *cl);
        cl->value = malloc(RAFT_VALUE_MAX);
        cl->expected = malloc(RAFT_VALUE_MAX);
        ASSERT(cl->value != NULL && cl->expected != NULL);
        cl->idx = i;
        cl->target = rng_range(&w->rng, 1, (uint64_t)w->p.n_nodes + 1);
        if (!w->is_manual) {
            arm(w, cl, SIM_CLIENT_NEXT,
                rng_range(&w->rng, 0, (uint64_t)w->p.client_think_ms + 1));
        }
    }
}

static raft_id next_node(const struct sim_world *w, raft_id id)
{
    return id % w->p.n_nodes + 1;
}

void sim_client_on_event(struct sim_world *w, const struct sim_event *ev)
{
    ASSERT(ev->a < w->p.n_clients);
    struct sim_client *cl = &w->clients[ev->a];
    if (ev->c != cl->gen) {
        return;
    }
    switch (ev->b) {
    case SIM_CLIENT_TIMEOUT:
        if (cl->is_busy) {
            cl->attempts++;
            cl->target = next_node(w, cl->target);
            send_request(w, cl);
        }
        break;
    case SIM_CLIENT_RESEND:
        if (cl->is_busy) {
            send_request(w, cl);
        }
        break;
    case SIM_CLIENT_NEXT:
        start_op(w, cl);
        break;
    default:
        UNREACHABLE();
    }
}

/* An answer that completes the operation: checked, then the next one. */
static void complete(struct sim_world *w, struct sim_client *cl,
                     const struct msg_client_reply *r)
{
    bool is_read = cl->op == CLIENT_GET;
    bool ok = r->status == CLIENT_OK ||
              (is_read && r->status == CLIENT_NOT_FOUND) ||
              (cl->op == CLIENT_CAS && r->status == CLIENT_CAS_MISMATCH);
    if (!ok) {
        sim_fail(w, "reply_status", "c%u op %u seq %llu answered status %u",
                 cl->idx, cl->op, ull(cl->seq), r->status);
        return;
    }
    cl->is_busy = false;
    cl->n_done++;
    sim_tracef(w, "%llu c%u done seq=%llu status=%u after %llums",
               ull(w->now_ms), cl->idx, ull(cl->seq), r->status,
               ull(w->now_ms - cl->invoke_ms));
    if (is_read) {
        sim_check_on_read(w, cl, r->status, r->value, r->value_len);
    } else {
        sim_check_on_write_ack(w, cl, r->status);
    }
    if (!w->clients_stopping && !w->is_manual) {
        arm(w, cl, SIM_CLIENT_NEXT,
            rng_range(&w->rng, 0, (uint64_t)w->p.client_think_ms + 1));
    }
}

void sim_client_on_reply(struct sim_world *w, uint32_t client,
                         const struct msg_client_reply *r)
{
    ASSERT(client < w->p.n_clients);
    struct sim_client *cl = &w->clients[client];
    if (!cl->is_busy || r->client_id != wire_id(cl) || r->seq != cl->seq) {
        return; /* A late or duplicated answer to something finished. */
    }
    if (cl->is_registering && r->status == CLIENT_OK) {
        if (r->value_len != 8) {
            sim_fail(w, "register", "c%u register answered %u bytes",
                     cl->idx, r->value_len);
            return;
        }
        uint64_t id = 0;
        for (int k = 0; k < 8; k++) {
            id |= (uint64_t)r->value[k] << (8 * k);
        }
        cl->id = id;
        cl->is_registering = false;
        sim_check_on_session(w, cl);
        sim_tracef(w, "%llu c%u session %llu", ull(w->now_ms), cl->idx,
                   ull(id));
        send_request(w, cl);
        return;
    }
    if (!cl->is_registering && r->status == CLIENT_SESSION_EXPIRED &&
        cl->op != CLIENT_GET) {
        /* Thesis 6.3: its outcome is unknown (an earlier attempt may have
         * applied; the model says which). The next op registers again. */
        sim_tracef(w, "%llu c%u seq=%llu session %llu expired", ull(w->now_ms),
                   cl->idx, ull(cl->seq), ull(cl->id));
        cl->id = 0;
        cl->n_expired++;
        cl->is_busy = false;
        if (!w->clients_stopping && !w->is_manual) {
            arm(w, cl, SIM_CLIENT_NEXT,
                rng_range(&w->rng, 0, (uint64_t)w->p.client_think_ms + 1));
        }
        return;
    }
    bool hint_ok = r->leader_hint >= 1 && r->leader_hint <= w->p.n_nodes;
    switch (r->status) {
    case CLIENT_NOT_LEADER:
        cl->target = hint_ok ? r->leader_hint : next_node(w, cl->target);
        arm(w, cl, SIM_CLIENT_RESEND, rng_range(&w->rng, 1, 11));
        break;
    case CLIENT_RETRY:
        if (hint_ok) {
            cl->target = r->leader_hint;
        }
        arm(w, cl, SIM_CLIENT_RESEND, rng_range(&w->rng, 10, 51));
        break;
    case CLIENT_INVALID:
        sim_fail(w, "client_invalid", "c%u seq %llu refused as invalid",
                 cl->idx, ull(cl->seq));
        break;
    default:
        complete(w, cl, r);
        break;
    }
}

void sim_client_close(struct sim_world *w)
{
    for (uint32_t i = 0; i < SIM_CLIENTS_MAX; i++) {
        free(w->clients[i].value);
        free(w->clients[i].expected);
        w->clients[i].value = NULL;
        w->clients[i].expected = NULL;
    }
}

bool sim_client_all_idle(const struct sim_world *w)
{
    for (uint32_t i = 0; i < w->p.n_clients; i++) {
        if (w->clients[i].is_busy) {
            return false;
        }
    }
    return true;
}
