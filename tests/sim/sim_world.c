/*
 * The world's event loop: a binary heap of events ordered by (time,
 * insertion counter), interleaved with each live member's own deadline
 * (replica_deadline, lowest id first on a tie), one seeded generator, the
 * fault ticks (crashes, partitions, heals) of the fault phase, and the
 * liveness phase that heals everything, restarts every member and demands
 * one leader and every client request answered within a bound.
 * Read tests/sim/sim_node.c next.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "tests/sim/sim_world.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

void sim_tracef(struct sim_world *w, const char *fmt, ...)
{
    char line[SIM_TRACE_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    sim_trace_add(&w->trace, line);
}

/* Whether check is named in the comma-separated list (NULL: none). */
static bool is_skipped(const char *list, const char *check)
{
    size_t n = strlen(check);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, check, n) == 0) {
            return true;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

void sim_fail(struct sim_world *w, const char *check, const char *fmt, ...)
{
    if (w->failed) {
        return; /* The first violation is the one reported. */
    }
    if (is_skipped(w->skip_check, check)) {
        return;
    }
    w->failed = true;
    w->fail_step = w->n_events;
    snprintf(w->fail_check, sizeof w->fail_check, "%s", check);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->fail_detail, sizeof w->fail_detail, fmt, ap);
    va_end(ap);
    sim_tracef(w, "%llu VIOLATION %s: %s", ull(w->now_ms), check,
               w->fail_detail);
    sim_record_violation(w, check, w->fail_detail);
}

/* --- The heap --- */

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
    return a->time_ms != b->time_ms ? a->time_ms < b->time_ms
                                    : a->order < b->order;
}

void sim_world_push(struct sim_world *w, const struct sim_event *ev)
{
    if (w->n_heap == w->cap_heap) {
        size_t cap = w->cap_heap ? w->cap_heap * 2 : 256;
        struct sim_event *h = realloc(w->heap, cap * sizeof *h);
        ASSERT(h != NULL);
        w->heap = h;
        w->cap_heap = cap;
    }
    size_t i = w->n_heap++;
    w->heap[i] = *ev;
    w->heap[i].order = w->next_order++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(&w->heap[i], &w->heap[parent])) {
            break;
        }
        struct sim_event t = w->heap[i];
        w->heap[i] = w->heap[parent];
        w->heap[parent] = t;
        i = parent;
    }
}

static struct sim_event heap_pop(struct sim_world *w)
{
    ASSERT(w->n_heap > 0);
    struct sim_event top = w->heap[0];
    w->heap[0] = w->heap[--w->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        size_t r = l + 1;
        size_t m = i;
        if (l < w->n_heap && ev_before(&w->heap[l], &w->heap[m])) {
            m = l;
        }
        if (r < w->n_heap && ev_before(&w->heap[r], &w->heap[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        struct sim_event t = w->heap[i];
        w->heap[i] = w->heap[m];
        w->heap[m] = t;
        i = m;
    }
    return top;
}

/* --- Lifecycle --- */

int sim_world_init(struct sim_world *w, const struct sim_params *p,
                   uint64_t seed, FILE *trace_echo)
{
    ASSERT(p->n_nodes >= 1 && p->n_nodes <= SIM_NODES_MAX);
    ASSERT(p->n_clients <= SIM_CLIENTS_MAX);
    memset(w, 0, sizeof *w);
    w->p = *p;
    w->seed = seed;
    rng_init(&w->rng, seed);
    w->scratch = malloc(sizeof *w->scratch);
    w->buf = malloc(RAFT_DATAGRAM_MAX);
    if (w->scratch == NULL || w->buf == NULL ||
        sim_trace_init(&w->trace, SIM_TRACE_RING, trace_echo) != ERR_OK ||
        sim_check_init(&w->check) != ERR_OK) {
        sim_world_close(w);
        return ERR_NOMEM;
    }
    for (uint32_t i = 1; i <= p->n_nodes; i++) {
        struct sim_node *n = &w->nodes[i];
        n->world = w;
        n->id = i;
        sim_disk_init(&n->disk);
        mem_kv_init(&n->kv);
        for (uint32_t j = 1; j <= p->n_nodes; j++) {
            uint64_t lo =
                rng_range(&w->rng, p->lat_min_ms, (uint64_t)p->lat_max_ms + 1);
            w->lat_lo[i][j] = (uint32_t)lo;
            w->lat_hi[i][j] =
                (uint32_t)rng_range(&w->rng, lo, (uint64_t)p->lat_max_ms + 1);
        }
    }
    return ERR_OK;
}

static void schedule_fault(struct sim_world *w)
{
    if (w->p.fault_every_ms == 0) {
        return;
    }
    struct sim_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SIM_EV_FAULT;
    ev.time_ms =
        w->now_ms + rng_range(&w->rng, 1, 2 * (uint64_t)w->p.fault_every_ms);
    sim_world_push(w, &ev);
}

void sim_world_start(struct sim_world *w)
{
    sim_tracef(w, "0 sim seed=0x%016llx nodes=%u clients=%u", ull(w->seed),
               w->p.n_nodes, w->p.n_clients);
    for (uint32_t i = 1; i <= w->p.n_nodes && !w->failed; i++) {
        sim_node_start(w, &w->nodes[i]);
    }
    sim_client_init(w);
    if (!w->is_manual) {
        schedule_fault(w);
    }
}

void sim_world_close(struct sim_world *w)
{
    for (uint32_t i = 1; i <= SIM_NODES_MAX; i++) {
        struct sim_node *n = &w->nodes[i];
        if (n->world == NULL) {
            continue;
        }
        if (n->rep != NULL) {
            replica_free(n->rep);
            n->rep = NULL;
        }
        sim_disk_close(&n->disk);
        mem_kv_close(&n->kv);
        free(n->fetch_buf);
        sim_snap_crash(n);
    }
    for (size_t i = 0; i < w->n_heap; i++) {
        free(w->heap[i].data);
    }
    free(w->heap);
    sim_client_close(w);
    free(w->scratch);
    free(w->buf);
    sim_check_close(&w->check);
    if (w->trace.ring != NULL) {
        sim_trace_close(&w->trace);
    }
    memset(w, 0, sizeof *w);
}

raft_id sim_world_leader(const struct sim_world *w)
{
    raft_id leader = RAFT_ID_NONE;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        const struct sim_node *n = &w->nodes[i];
        if (n->rep != NULL && raft_role(replica_raft(n->rep)) == RAFT_LEADER) {
            if (leader != RAFT_ID_NONE) {
                return RAFT_ID_NONE;
            }
            leader = n->id;
        }
    }
    return leader;
}

void sim_world_heal(struct sim_world *w)
{
    memset(w->blocked, 0, sizeof w->blocked);
    sim_tracef(w, "%llu sim heal", ull(w->now_ms));
}

/* --- Faults --- */

/* The node a crash hits: the leader half the time, a candidate a quarter
 * of the time (mid-election), else anyone up. */
static struct sim_node *crash_victim(struct sim_world *w)
{
    uint64_t r = rng_range(&w->rng, 0, 4);
    int want = r < 2 ? RAFT_LEADER : r == 2 ? RAFT_CANDIDATE : -1;
    struct sim_node *up[SIM_NODES_MAX];
    uint32_t n_up = 0;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        struct sim_node *n = &w->nodes[i];
        if (n->rep == NULL) {
            continue;
        }
        int role = raft_role(replica_raft(n->rep));
        if (want != -1 && (role == want || (want == RAFT_CANDIDATE &&
                                            role == RAFT_PRECANDIDATE))) {
            return n;
        }
        up[n_up++] = n;
    }
    if (n_up == 0) {
        return NULL;
    }
    return up[rng_range(&w->rng, 0, n_up)];
}

static void schedule_restart(struct sim_world *w, struct sim_node *n)
{
    n->restart_pending = true;
    struct sim_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SIM_EV_RESTART;
    ev.a = (uint32_t)n->id;
    ev.time_ms = w->now_ms + rng_range(&w->rng, w->p.down_min_ms,
                                       (uint64_t)w->p.down_max_ms + 1);
    sim_world_push(w, &ev);
}

/* One member's disk (the leader's half the time) hangs past the hung
 * bound, or fills for up to two seconds. */
static void disk_fault(struct sim_world *w)
{
    struct sim_node *n = NULL;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        struct sim_node *m = &w->nodes[i];
        if (m->rep != NULL && raft_role(replica_raft(m->rep)) == RAFT_LEADER) {
            n = m;
        }
    }
    if (n == NULL || rng_range(&w->rng, 0, 2) == 0) {
        n = &w->nodes[rng_range(&w->rng, 1, (uint64_t)w->p.n_nodes + 1)];
    }
    uint64_t e = w->p.election_ms;
    if (rng_range(&w->rng, 0, 2) == 0) {
        n->hung_until_ms = w->now_ms + sim_disk_hung_bound_ms(w) +
                           rng_range(&w->rng, e, 4 * e + 1);
        sim_tracef(w, "%llu sim n%llu disk hangs until %llu", ull(w->now_ms),
                   ull(n->id), ull(n->hung_until_ms));
    } else {
        n->full_until_ms = w->now_ms + rng_range(&w->rng, 50, 2001);
        sim_tracef(w, "%llu sim n%llu disk full until %llu", ull(w->now_ms),
                   ull(n->id), ull(n->full_until_ms));
    }
}

/* How many leading rows every member but n holds durably, the same as
 * n's: cutting n's log inside them loses nothing committed. */
static size_t rows_held_by_others(const struct sim_world *w,
                                  const struct sim_node *n)
{
    size_t k = n->disk.n_rows;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        const struct sim_node *o = &w->nodes[i];
        if (o == n) {
            continue;
        }
        struct sim_durable dv;
        sim_disk_durable(&o->disk, &dv);
        size_t held = dv.n_rows < dv.n_same ? dv.n_rows : dv.n_same;
        if (held < k) {
            k = held;
        }
        while (k > 0 && o->disk.rows[k - 1].chain != n->disk.rows[k - 1].chain) {
            k--;
        }
    }
    return k;
}

/* A follower of the leader, whose leader tracks what it acknowledged (the
 * case a lying disk can stall), or NULL. */
static struct sim_node *lie_victim(struct sim_world *w)
{
    raft_id leader = sim_world_leader(w);
    struct sim_node *f[SIM_NODES_MAX];
    uint32_t n_f = 0;
    for (uint32_t i = 1; i <= w->p.n_nodes && leader != RAFT_ID_NONE; i++) {
        struct sim_node *n = &w->nodes[i];
        if (n->rep != NULL && n->id != leader &&
            raft_leader(replica_raft(n->rep)) == leader) {
            f[n_f++] = n;
        }
    }
    return n_f == 0 ? NULL : f[rng_range(&w->rng, 0, n_f)];
}

/* A lying disk (issue 17): n, just crashed, also loses the last 1-8 rows
 * it had synced (and acknowledged), but only rows every other member
 * holds, above its kv image and compacted prefix, so nothing committed is
 * lost: its leader must notice and repair it (checks false_alarm and
 * liveness). */
static void lie(struct sim_world *w, struct sim_node *n)
{
    raft_index floor = mem_kv_applied(&n->kv);
    if (n->disk.compacted > floor) {
        floor = n->disk.compacted;
    }
    size_t rows = n->disk.n_rows;
    if (rows <= floor + 1 || rows_held_by_others(w, n) < rows) {
        return;
    }
    raft_index from = rows - rng_range(&w->rng, 0, 8);
    if (from <= floor) {
        from = floor + 1;
    }
    sim_disk_truncate(&n->disk, from);
    n->lied = true;
    w->n_lies++;
    sim_tracef(w, "%llu sim n%llu lying disk: lost synced rows %llu-%zu",
               ull(w->now_ms), ull(n->id), ull(from), rows);
}

static void on_fault_tick(struct sim_world *w)
{
    if (w->in_liveness) {
        return;
    }
    sim_member_tick(w);
    if (rng_chance_ppm(&w->rng, w->p.crash_ppm)) {
        bool lying =
            w->p.lie_ppm > 0 && rng_chance_ppm(&w->rng, w->p.lie_ppm);
        struct sim_node *n = lying ? lie_victim(w) : NULL;
        lying = n != NULL;
        n = lying ? n : crash_victim(w);
        if (n != NULL) {
            sim_node_crash(w, n, "crash");
            if (lying) {
                lie(w, n);
            }
            schedule_restart(w, n);
        }
    }
    if (w->p.disk_fault_ppm != 0 &&
        rng_chance_ppm(&w->rng, w->p.disk_fault_ppm)) {
        disk_fault(w);
    }
    if (rng_chance_ppm(&w->rng, w->p.partition_ppm)) {
        sim_net_partition(w);
        struct sim_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SIM_EV_HEAL;
        ev.time_ms =
            w->now_ms + rng_range(&w->rng, 1, (uint64_t)w->p.heal_ms_max + 1);
        sim_world_push(w, &ev);
    }
    schedule_fault(w);
}

static void dispatch(struct sim_world *w, const struct sim_event *ev)
{
    switch (ev->type) {
    case SIM_EV_DELIVER:
        sim_net_deliver(w, ev);
        break;
    case SIM_EV_CLIENT:
        sim_client_on_event(w, ev);
        break;
    case SIM_EV_FAULT:
        on_fault_tick(w);
        break;
    case SIM_EV_RESTART: {
        struct sim_node *n = &w->nodes[ev->a];
        n->restart_pending = false;
        if (n->rep == NULL) {
            sim_node_start(w, n);
        }
        break;
    }
    case SIM_EV_HEAL:
        sim_world_heal(w);
        break;
    case SIM_EV_CRASH: {
        struct sim_node *n = &w->nodes[ev->a];
        if (n->rep != NULL && n->incarnation == ev->c && !w->in_liveness) {
            sim_node_crash(w, n, "new leader crash");
            schedule_restart(w, n);
        }
        break;
    }
    case SIM_EV_SYNC:
        sim_node_on_synced(w, &w->nodes[ev->a], ev->c);
        break;
    default:
        UNREACHABLE();
    }
}

/* A member that just became leader may die soon, before its no-op and the
 * entries it inherited reach everyone: the histories of Figure 8. */
static void maybe_doom_new_leader(struct sim_world *w)
{
    if (w->in_liveness || w->p.new_leader_crash_ppm == 0) {
        return;
    }
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        struct sim_node *n = &w->nodes[i];
        if (n->rep == NULL || raft_role(replica_raft(n->rep)) != RAFT_LEADER ||
            n->fault_term == raft_current_term(replica_raft(n->rep))) {
            continue;
        }
        n->fault_term = raft_current_term(replica_raft(n->rep));
        if (!rng_chance_ppm(&w->rng, w->p.new_leader_crash_ppm)) {
            continue;
        }
        struct sim_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SIM_EV_CRASH;
        ev.a = i;
        ev.c = n->incarnation;
        ev.time_ms = w->now_ms +
                     rng_range(&w->rng, 0, 3 * (uint64_t)w->p.lat_max_ms + 1);
        sim_world_push(w, &ev);
    }
}

/* The live member whose deadline comes first (lowest id on a tie). */
static struct sim_node *first_deadline(struct sim_world *w, uint64_t *at)
{
    struct sim_node *best = NULL;
    *at = UINT64_MAX;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        struct sim_node *n = &w->nodes[i];
        uint64_t d = sim_node_deadline(n);
        if (n->rep != NULL && d < *at) {
            best = n;
            *at = d;
        }
    }
    return best;
}

bool sim_world_step(struct sim_world *w)
{
    uint64_t at;
    struct sim_node *n = first_deadline(w, &at);
    uint64_t before = w->now_ms;
    if (n != NULL && (w->n_heap == 0 || at <= w->heap[0].time_ms)) {
        w->now_ms = at > w->now_ms ? at : w->now_ms;
        sim_node_tick(w, n);
    } else if (w->n_heap > 0) {
        struct sim_event ev = heap_pop(w);
        w->now_ms = ev.time_ms > w->now_ms ? ev.time_ms : w->now_ms;
        dispatch(w, &ev);
        free(ev.data);
    } else {
        return false;
    }
    w->n_events++;
    w->same_time_events = w->now_ms == before ? w->same_time_events + 1 : 0;
    if (w->same_time_events > SIM_STUCK_EVENTS) {
        sim_fail(w, "stuck", "%llu events without time moving",
                 ull(w->same_time_events));
    }
    if (!w->failed) {
        sim_check_event(w);
        sim_member_after_event(w);
    }
    if (!w->failed) {
        maybe_doom_new_leader(w);
    }
    sim_record_step(w);
    return true;
}

void sim_world_run_until(struct sim_world *w, uint64_t until_ms)
{
    while (!w->failed && w->now_ms < until_ms) {
        uint64_t at;
        bool has_node = first_deadline(w, &at) != NULL;
        uint64_t next = w->n_heap > 0 ? w->heap[0].time_ms : UINT64_MAX;
        if (has_node && at < next) {
            next = at;
        }
        if (next >= until_ms) {
            w->now_ms = until_ms;
            break;
        }
        if (!sim_world_step(w)) {
            break;
        }
    }
}

/* --- The two phases --- */

/* Heal everything, stop every fault, restart every member from its disk
 * and let clients finish what they started. */
static void liveness_begin(struct sim_world *w)
{
    w->in_liveness = true;
    w->clients_stopping = true;
    w->p.loss_ppm = 0;
    w->p.dup_ppm = 0;
    w->p.corrupt_ppm = 0;
    w->p.crash_point_ppm = 0;
    w->p.write_fail_ppm = 0;
    w->p.disk_fault_ppm = 0;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        w->nodes[i].hung_until_ms = 0;
        w->nodes[i].full_until_ms = 0;
    }
    sim_world_heal(w);
    sim_tracef(w, "%llu sim liveness phase: restart all", ull(w->now_ms));
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        sim_node_crash(w, &w->nodes[i], "liveness restart");
    }
    for (uint32_t i = 1; i <= w->p.n_nodes && !w->failed; i++) {
        sim_node_start(w, &w->nodes[i]);
    }
}

/* The liveness goal: one leader, known to every member in its term, and
 * every client has its answer. */
static bool liveness_reached(const struct sim_world *w)
{
    raft_id leader = sim_world_leader(w);
    if (leader == RAFT_ID_NONE || !sim_client_all_idle(w)) {
        return false;
    }
    const struct raft *lr = replica_raft(w->nodes[leader].rep);
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        const struct sim_node *n = &w->nodes[i];
        if (n->rep == NULL) {
            return false;
        }
        if (membership_get(raft_membership(lr), i) == NULL) {
            continue; /* Removed, or never added: hears no leader. */
        }
        const struct raft *r = replica_raft(n->rep);
        if (raft_leader(r) != leader ||
            raft_current_term(r) != raft_current_term(lr)) {
            return false;
        }
    }
    return true;
}

/* How far the members trail the leader's log (0 when all applied it). */
static raft_index convergence_lag(const struct sim_world *w)
{
    raft_id leader = sim_world_leader(w);
    if (leader == RAFT_ID_NONE) {
        return UINT64_MAX;
    }
    const struct raft *lr = replica_raft(w->nodes[leader].rep);
    raft_index last = raft_last_index(lr);
    raft_index lag = 0;
    for (uint32_t i = 1; i <= w->p.n_nodes; i++) {
        const struct sim_node *n = &w->nodes[i];
        if (membership_get(raft_membership(lr), i) == NULL) {
            continue; /* Not a member: nobody replicates to it. */
        }
        raft_index applied =
            n->rep != NULL ? raft_applied_index(replica_raft(n->rep)) : 0;
        if (mem_kv_applied(&n->kv) < applied) {
            applied = mem_kv_applied(&n->kv);
        }
        if (last - applied > lag) {
            lag = last - applied;
        }
    }
    return lag;
}

/* Steps until done(w), for at most budget_ms of simulated time; false
 * (and a failure named check) when the time runs out. */
static bool run_phase(struct sim_world *w,
                      bool (*done)(const struct sim_world *),
                      uint64_t budget_ms, const char *check)
{
    uint64_t deadline_ms = w->now_ms + budget_ms;
    while (!w->failed && !done(w)) {
        if (w->now_ms > deadline_ms || !sim_world_step(w)) {
            raft_index lag = convergence_lag(w);
            sim_fail(w, check,
                     "not reached within %llums (leader n%llu, clients "
                     "idle %d, lag %lld)",
                     ull(budget_ms), ull(sim_world_leader(w)),
                     sim_client_all_idle(w),
                     lag == UINT64_MAX ? -1LL : (long long)lag);
            return false;
        }
    }
    return !w->failed;
}

static bool converged(const struct sim_world *w)
{
    return liveness_reached(w) && convergence_lag(w) == 0;
}

bool sim_world_run(struct sim_world *w)
{
    sim_world_start(w);
    while (!w->failed && w->n_events < w->p.steps) {
        if (!sim_world_step(w)) {
            break;
        }
    }
    if (w->failed) {
        return false;
    }
    liveness_begin(w);
    if (!run_phase(w, liveness_reached, w->p.liveness_ms, "liveness")) {
        return false;
    }
    sim_tracef(w, "%llu sim liveness reached: leader n%llu", ull(w->now_ms),
               ull(sim_world_leader(w)));
    /* Then every member catches up; the time allowed grows with how far
     * behind the slowest is (one-entry batches move one entry per trip). */
    uint64_t per_entry_ms = 2 * (uint64_t)w->p.lat_max_ms + 10;
    uint64_t budget = w->p.liveness_ms + convergence_lag(w) * per_entry_ms;
    if (!run_phase(w, converged, budget, "convergence")) {
        return false;
    }
    sim_tracef(w, "%llu sim converged", ull(w->now_ms));
    return true;
}
