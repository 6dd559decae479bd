/*
 * One simulated member's life: start (load the disk images the way raftnode
 * loads SQLite, then replica_new), crash (drop the replica's memory, the
 * open kv transaction and some of the unsynced writes), datagram intake
 * with the sender checks raftnode makes, finished syncs, and the io table
 * that binds the real replica to the simulated network and disk.
 * Read tests/sim/sim_net.c next.
 */
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

/* The core's trace lines, stamped with simulated time and the node. */
static void node_trace(void *ctx, int level, const char *line)
{
    const struct sim_node *n = ctx;
    sim_tracef(n->world, "%llu n%llu %s", ull(n->world->now_ms), ull(n->id),
               line);
    /* The only ERROR trace is a lost acknowledged entry: the simulated
     * disks keep what they synced unless a test says otherwise. */
    unsigned long long who = 0;
    const char *member = strstr(line, "member ");
    bool lied = member != NULL && sscanf(member, "member %llu", &who) == 1 &&
                who >= 1 && who <= n->world->p.n_nodes &&
                n->world->nodes[who].lied;
    n->world->n_lost_reports += level == RAFT_TRACE_ERROR;
    if (level == RAFT_TRACE_ERROR && !n->world->disks_lie && !lied) {
        sim_fail(n->world, "false_alarm", "n%llu: %s", ull(n->id), line);
    }
}

static void node_send(void *ctx, const struct raft_msg *msg)
{
    struct sim_node *n = ctx;
    struct sim_world *w = n->world;
    if (n->is_stopped) {
        sim_fail(w, "failstop", "n%llu sent a message after a failed write",
                 ull(n->id));
        return;
    }
    if (n->is_dying) {
        return;
    }
    if (msg->from != n->id || msg->to < 1 || msg->to > w->p.n_nodes ||
        msg->to == n->id) {
        sim_fail(w, "send", "n%llu sent type %u from n%llu to n%llu",
                 ull(n->id), msg->type, ull(msg->from), ull(msg->to));
        return;
    }
    sim_check_on_send(w, n, msg);
    sim_net_send(w, (uint32_t)n->id, (uint32_t)msg->to, msg);
}

static void node_reply(void *ctx, const struct raft_addr *to,
                       const struct raft_msg *msg)
{
    struct sim_node *n = ctx;
    struct sim_world *w = n->world;
    if (n->is_stopped) {
        sim_fail(w, "failstop", "n%llu replied after a failed write",
                 ull(n->id));
        return;
    }
    if (n->is_dying) {
        return;
    }
    uint32_t client = 0;
    if (to->len != sizeof client) {
        sim_fail(w, "reply", "n%llu replied to an address of %u bytes",
                 ull(n->id), to->len);
        return;
    }
    memcpy(&client, to->bytes, sizeof client);
    if (client >= w->p.n_clients) {
        sim_fail(w, "reply", "n%llu replied to unknown client %u", ull(n->id),
                 client);
        return;
    }
    sim_check_on_reply(w, n);
    sim_net_send(w, (uint32_t)n->id, SIM_CLIENT_BASE + client, msg);
}

/* Checks that a fresh incarnation holds exactly what its disk holds. */
static void check_loaded(struct sim_world *w, const struct sim_node *n)
{
    const struct raft *r = replica_raft(n->rep);
    if (raft_current_term(r) != n->disk.term ||
        raft_voted_for(r) != n->disk.voted_for ||
        raft_last_index(r) != n->disk.n_rows ||
        raft_applied_index(r) != mem_kv_applied(&n->kv)) {
        sim_fail(w, "load",
                 "n%llu restarted with term %llu vote %llu last %llu "
                 "applied %llu; disk has %llu %llu %zu %llu",
                 ull(n->id), ull(raft_current_term(r)), ull(raft_voted_for(r)),
                 ull(raft_last_index(r)), ull(raft_applied_index(r)),
                 ull(n->disk.term), ull(n->disk.voted_for), n->disk.n_rows,
                 ull(mem_kv_applied(&n->kv)));
    }
}

static void fill_config(const struct sim_world *w, struct sim_node *n,
                        uint64_t seed, struct replica_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    struct raft_config *rc = &cfg->raft;
    rc->id = n->id;
    rc->n_members = w->p.n_boot != 0 ? w->p.n_boot : w->p.n_nodes;
    for (uint32_t i = 0; i < rc->n_members; i++) {
        rc->members[i] = i + 1;
    }
    if (n->id > rc->n_members) {
        rc->n_members = 0; /* Joins: learns its configuration. */
    }
    rc->heartbeat_ms = w->p.heartbeat_ms;
    rc->election_ms = w->p.election_ms;
    rc->seed = seed;
    rc->batch_bytes_max = w->p.batch_bytes_max;
    rc->inflight_max = w->p.inflight_max;
    rc->pre_vote = w->p.pre_vote;
    rc->check_quorum = w->p.check_quorum;
    rc->mem_entries_max = w->p.mem_entries_max;
    rc->self_sync_ms = w->p.self_sync_ms;
    rc->commit_notify_ms = w->p.commit_notify_ms;
    rc->apply_batch_min = w->p.apply_batch_min;
    rc->apply_delay_ms = w->p.apply_delay_ms;
    if (rc->mem_entries_max != 0) {
        rc->fetch = sim_disk_fetch;
        rc->fetch_ctx = n;
    }
    cfg->pending_max = w->p.pending_max;
    cfg->max_sessions = w->p.max_sessions + (n->id - 1) % 2;
    cfg->kv_writeback = w->p.kv_writeback;
    cfg->snapshot.entries = w->p.snapshot_entries;
    cfg->snapshot.log_keep = w->p.log_keep;
    cfg->snapshot.send.chunk_bytes = w->p.snap_chunk_bytes;
    cfg->snapshot.send.window = w->p.snap_window;
    cfg->snapshot.send.timeout_ms = w->p.snap_timeout_ms;
}

void sim_node_start(struct sim_world *w, struct sim_node *n)
{
    ASSERT(n->rep == NULL);
    struct raft_loaded loaded;
    struct raft_entry *entries = NULL;
    struct raft_term_run *runs = NULL;
    int rc = sim_disk_load(&n->disk, &n->kv, w->p.mem_entries_max, &loaded,
                           &entries, &runs);
    if (rc != ERR_OK) {
        sim_fail(w, "load", "n%llu disk image does not load: %s", ull(n->id),
                 err_str(rc));
        return;
    }
    struct replica_config cfg;
    fill_config(w, n, rng_next(&w->rng), &cfg);
    struct replica_io io = {
        .ctx = n,
        .send = node_send,
        .reply = node_reply,
        .persist = sim_disk_persist,
        .sync = w->p.async_sync ? sim_disk_sync : NULL,
        .kv = sim_disk_kv_ops(),
        .kv_ctx = n,
    };
    if (w->p.snapshot_entries != 0) {
        sim_snap_bind(&io);
    }
    n->incarnation++;
    n->is_dying = false;
    n->is_stopped = false;
    n->restart_pending = false;
    n->is_syncing = false;
    n->is_disk_bad = false; /* A new core starts with the disk ok. */
    sim_tracef(w,
               "%llu sim n%llu start #%u term=%llu vote=%llu rows=%zu "
               "applied=%llu",
               ull(w->now_ms), ull(n->id), n->incarnation, ull(n->disk.term),
               ull(n->disk.voted_for), n->disk.n_rows,
               ull(mem_kv_applied(&n->kv)));
    n->rep = replica_new(&cfg, &loaded, &io, node_trace, n, w->now_ms);
    free(entries);
    free(runs);
    if (n->rep == NULL) {
        sim_fail(w, "nomem", "replica_new failed for n%llu", ull(n->id));
        return;
    }
    const struct raft *r = replica_raft(n->rep);
    n->seen_term = raft_current_term(r);
    n->seen_commit = raft_commit_index(r);
    n->seen_applied = raft_applied_index(r);
    n->noted = raft_applied_index(r);
    n->seen_role = raft_role(r);
    n->lc_term = 0;
    n->lc_upto = 0;
    n->obs_term = 0;
    n->obs_upto = 0;
    check_loaded(w, n);
}

/* The writes no sync covered yet: the oldest few may have reached the
 * disk anyway (the page cache wrote a prefix of the WAL), the rest are
 * lost. What is left is the durable image the node restarts from. */
static void crash_disk(struct sim_world *w, struct sim_node *n)
{
    size_t pending = n->disk.n_undo;
    if (pending == 0) {
        return;
    }
    size_t keep = (size_t)rng_range(&w->rng, 0, (uint64_t)pending + 1);
    sim_disk_crash(&n->disk, keep);
    sim_tracef(w,
               "%llu sim n%llu keeps %zu of %zu unsynced writes: term=%llu "
               "vote=%llu rows=%zu",
               ull(w->now_ms), ull(n->id), keep, pending, ull(n->disk.term),
               ull(n->disk.voted_for), n->disk.n_rows);
}

void sim_node_crash(struct sim_world *w, struct sim_node *n, const char *why)
{
    if (n->rep == NULL) {
        return;
    }
    /* Applies still in the write-back buffer die with the replica; the
     * restart must re-apply them from the log (check_loaded, then the
     * exactly_once comparison at its next kv commit). */
    raft_index applied = raft_applied_index(replica_raft(n->rep));
    raft_index stored = mem_kv_applied(&n->kv);
    raft_index lost = applied > stored ? applied - stored : 0;
    w->check.n_lost_buffers += lost > 0;
    replica_free(n->rep);
    n->rep = NULL;
    sim_snap_crash(n);
    mem_kv_rollback(&n->kv);
    n->is_dying = false;
    n->is_stopped = false;
    n->is_syncing = false;
    sim_tracef(w, "%llu sim n%llu down (%s) unstored=%llu", ull(w->now_ms),
               ull(n->id), why, ull(lost));
    crash_disk(w, n);
}

/* When the running sync passes the hung bound (raftnode: node_disk.c);
 * UINT64_MAX: none runs, or the core already knows. */
static uint64_t disk_deadline(const struct sim_node *n)
{
    if (!n->is_syncing || n->is_disk_bad) {
        return UINT64_MAX;
    }
    return n->sync_asked_ms + sim_disk_hung_bound_ms(n->world);
}

uint64_t sim_node_deadline(const struct sim_node *n)
{
    if (n->rep == NULL) {
        return UINT64_MAX;
    }
    uint64_t d = replica_deadline(n->rep);
    uint64_t disk = disk_deadline(n);
    return disk < d ? disk : d;
}

/* The core's disk input, set as raftnode sets it. */
static void set_disk_ok(struct sim_world *w, struct sim_node *n, bool ok)
{
    n->is_disk_bad = !ok;
    sim_tracef(w, "%llu sim n%llu disk %s", ull(w->now_ms), ull(n->id),
               ok ? "answers again" : "hung: the sync passed the bound");
    replica_set_disk_ok(n->rep, ok);
}

/* A node that died inside a drain, or stopped on a failed write, goes down
 * and (outside tests) comes back after a while, like a supervised process. */
static void node_down(struct sim_world *w, struct sim_node *n, const char *why)
{
    sim_node_crash(w, n, why);
    if (w->is_manual || n->restart_pending) {
        return;
    }
    n->restart_pending = true;
    struct sim_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SIM_EV_RESTART;
    ev.a = (uint32_t)n->id;
    ev.time_ms = w->now_ms + rng_range(&w->rng, w->p.down_min_ms,
                                       (uint64_t)w->p.down_max_ms + 1);
    sim_world_push(w, &ev);
}

/* After a complete drain nothing the node believes may be missing from its
 * disk: the term and vote it acts on are durable (DESIGN.md), or with
 * async_sync at least written (persist_before_send checks that nothing
 * promising them leaves before they are durable). */
static void check_drained(struct sim_world *w, const struct sim_node *n)
{
    const struct raft *r = replica_raft(n->rep);
    if (raft_has_ready(r)) {
        return;
    }
    if (raft_current_term(r) != n->disk.term ||
        raft_voted_for(r) != n->disk.voted_for) {
        sim_fail(w, "hardstate_durable",
                 "n%llu acts in term %llu vote %llu; disk has %llu %llu",
                 ull(n->id), ull(raft_current_term(r)), ull(raft_voted_for(r)),
                 ull(n->disk.term), ull(n->disk.voted_for));
    }
}

void sim_node_drain(struct sim_world *w, struct sim_node *n)
{
    ASSERT(n->rep != NULL);
    int rc = replica_drain(n->rep, w->now_ms);
    if (n->is_dying) {
        node_down(w, n, "crash point");
        return;
    }
    if (rc != ERR_OK) {
        if (!n->is_stopped) {
            sim_fail(w, "failstop",
                     "n%llu drain failed without a failed "
                     "write: %s",
                     ull(n->id), err_str(rc));
        }
        node_down(w, n, "fail-stop");
        return;
    }
    if (n->is_stopped) {
        sim_fail(w, "failstop", "n%llu went on after a failed write",
                 ull(n->id));
        node_down(w, n, "fail-stop");
        return;
    }
    check_drained(w, n);
}

void sim_node_on_synced(struct sim_world *w, struct sim_node *n,
                        uint64_t incarnation)
{
    if (n->rep == NULL || n->incarnation != incarnation) {
        sim_tracef(w, "%llu sim n%llu sync of #%llu ends with it",
                   ull(w->now_ms), ull(n->id), ull(incarnation));
        return;
    }
    if (!n->is_syncing) {
        sim_fail(w, "sync", "n%llu: a sync finished that was not asked",
                 ull(n->id));
        return;
    }
    n->is_syncing = false;
    if (n->is_disk_bad) {
        set_disk_ok(w, n, true);
    }
    sim_disk_synced(&n->disk, n->sync_upto);
    sim_tracef(w, "%llu sim n%llu synced up to %llu (%zu pending)",
               ull(w->now_ms), ull(n->id), ull(n->sync_upto), n->disk.n_undo);
    n->is_releasing = true;
    int rc = replica_on_synced(n->rep, w->now_ms);
    n->is_releasing = false;
    if (rc != ERR_OK) {
        sim_fail(w, "input", "n%llu on_synced: %s", ull(n->id), err_str(rc));
        return;
    }
    sim_node_drain(w, n);
}

void sim_node_tick(struct sim_world *w, struct sim_node *n)
{
    if (w->now_ms >= disk_deadline(n)) {
        set_disk_ok(w, n, false);
    }
    int rc = replica_tick(n->rep, w->now_ms);
    if (rc != ERR_OK && n->is_stopped) {
        /* The tick stored the write-back buffer and the kv commit
         * failed: fail-stop, like a failed drain. */
        node_down(w, n, "fail-stop");
        return;
    }
    if (rc != ERR_OK) {
        sim_fail(w, "tick", "n%llu tick: %s", ull(n->id), err_str(rc));
        return;
    }
    sim_node_drain(w, n);
}

void sim_node_on_datagram(struct sim_world *w, struct sim_node *n,
                          uint32_t from, const struct raft_msg *msg)
{
    int rc;
    if (msg_type_is_peer(msg->type)) {
        /* raftnode drops a peer message whose id is not a member, is us,
         * or does not match the address it came from. */
        if (msg->from != from || msg->to != n->id || from < 1 ||
            from > w->p.n_nodes || from == n->id) {
            sim_tracef(w, "%llu net n%llu drops a mislabeled datagram",
                       ull(w->now_ms), ull(n->id));
            return;
        }
        rc = replica_on_message(n->rep, w->now_ms, msg);
    } else if (msg->type == MSG_CLIENT && from >= SIM_CLIENT_BASE) {
        struct raft_addr addr;
        memset(&addr, 0, sizeof addr);
        uint32_t client = from - SIM_CLIENT_BASE;
        addr.len = sizeof client;
        memcpy(addr.bytes, &client, sizeof client);
        rc = replica_on_client(n->rep, w->now_ms, &addr, &msg->u.client);
        if (rc == ERR_AGAIN) {
            rc = ERR_OK;
        }
    } else {
        sim_tracef(w, "%llu net n%llu drops type %u", ull(w->now_ms),
                   ull(n->id), msg->type);
        return;
    }
    if (rc != ERR_OK) {
        sim_fail(w, "input", "n%llu input type %u: %s", ull(n->id), msg->type,
                 err_str(rc));
        return;
    }
    sim_node_drain(w, n);
}
