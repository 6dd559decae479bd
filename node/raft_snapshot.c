/*
 * Snapshots in the core (thesis chapter 5): compaction of the log up to an
 * index the caller's state machine holds durably, the leader's switch of a
 * peer whose next entry is compacted to a snapshot transfer (which the
 * replica runs: node/snapshot_send.h) and back, and the follower's term
 * rules for InstallSnapshot and what an installed snapshot does to its log,
 * commit and applied indexes. Pure: no I/O, no clock.
 * Read node/replica_snapshot.c for the transfer glue.
 */
#include "node/raft_int.h"

#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

void raft_compact(struct raft *r, raft_index index)
{
    ASSERT(index <= r->applied);
    ASSERT(index <= r->stable);
    if (index <= r->log.snapshot_index) {
        return;
    }
    raft_log_compact(&r->log, index);
    raft_membership_compact(r, index);
    raft_tracef(r, RAFT_TRACE_DEBUG, "compacted to %llu/t%llu",
                (unsigned long long)index,
                (unsigned long long)r->log.snapshot_term);
    ASSERT(raft_log_term_at(&r->log, index) != 0);
}

raft_index raft_first_index(const struct raft *r)
{
    return r->log.snapshot_index + 1;
}

void raft_snapshot_want(struct raft *r, struct raft_peer *p)
{
    ASSERT(r->role == RAFT_LEADER);
    ASSERT(p->next <= r->log.snapshot_index);
    p->mode = RAFT_PEER_SNAPSHOT;
    p->n_inflight = 0;
    p->probe_outstanding = false;
    for (uint32_t i = 0; i < r->n_snap_wanted; i++) {
        if (r->snap_wanted[i] == p->id) {
            return;
        }
    }
    ASSERT(r->n_snap_wanted < RAFT_NODES_MAX);
    r->snap_wanted[r->n_snap_wanted++] = p->id;
    raft_tracef(r, RAFT_TRACE_INFO,
                "n%llu needs a snapshot: next=%llu first=%llu",
                (unsigned long long)p->id, (unsigned long long)p->next,
                (unsigned long long)raft_first_index(r));
}

void raft_snapshot_done(struct raft *r, raft_id peer, raft_index index)
{
    struct raft_peer *p = raft_peer_find(r, peer);
    if (r->role != RAFT_LEADER || p == NULL || p->mode != RAFT_PEER_SNAPSHOT) {
        return;
    }
    ASSERT(index <= raft_log_last_index(&r->log));
    /* Thesis 5.2: the follower holds our state up to index now. */
    if (index > p->match) {
        p->match = index;
        p->match_ctx = r->hb_ctx;
    }
    p->mode = RAFT_PEER_PROBE;
    p->next = p->match + 1;
    p->n_inflight = 0;
    p->probe_outstanding = false;
    p->send_pending = true;
    p->active = true;
    p->last_ack_ms = r->now_ms;
    raft_tracef(r, RAFT_TRACE_INFO, "n%llu took snapshot %llu: next=%llu",
                (unsigned long long)peer, (unsigned long long)index,
                (unsigned long long)p->next);
    raft_maybe_commit(r);
}

int raft_snapshot_ack(struct raft *r, const struct raft_msg *chunk,
                      uint64_t offset, bool success, bool done)
{
    ASSERT(chunk->type == MSG_SNAPSHOT);
    struct raft_msg reply;
    memset(&reply, 0, sizeof reply);
    reply.type = MSG_SNAPSHOT_REPLY;
    reply.from = r->config.id;
    reply.to = chunk->from;
    reply.term = r->term;
    reply.u.snapshot_reply.last_index = chunk->u.snapshot.last_index;
    reply.u.snapshot_reply.last_term = chunk->u.snapshot.last_term;
    reply.u.snapshot_reply.offset = offset;
    reply.u.snapshot_reply.success = success;
    reply.u.snapshot_reply.done = done;
    /* It vouches for our term (and, done, for the install): after
     * persisting. */
    return raft_outbox_push(&r->after, &reply);
}

/* Figure 5.3, InstallSnapshot receiver, step 1, and Rules for all servers:
 * a chunk from an older term is refused (our term tells its sender to step
 * down); from the current leader it resets the election timer like an
 * AppendEntries. The chunk itself goes to the replica's receiver
 * (node/snapshot_recv.h), which checks it came from raft_leader(). */
int raft_on_snapshot(struct raft *r, const struct raft_msg *msg)
{
    if (msg->term < r->term && !RAFT_BUG(RAFT_BUG_SNAP_OLD_CHUNK)) {
        return raft_snapshot_ack(r, msg, 0, false, false);
    }
    if (msg->term < r->term) {
        return ERR_OK; /* The broken rule: the replica stages it anyway. */
    }
    if (!raft_follow_sender(r, msg, "snapshot")) {
        return ERR_OK;
    }
    r->leader_contact_ms = r->now_ms;
    raft_election_reset(r);
    return ERR_OK;
}

int raft_snapshot_plan(const struct raft *r, raft_index index, raft_term term)
{
    ASSERT(index > 0);
    ASSERT(term > 0);
    /* Thesis 5.2: a snapshot older than what we committed adds nothing
     * (and installing it would move commit and applied backwards). */
    if (index <= r->commit && !RAFT_BUG(RAFT_BUG_SNAP_INSTALL_OLD)) {
        return RAFT_SNAPSHOT_STALE;
    }
    /* A truncation not yet written at or below index leaves storage
     * rows there that are not our log's: drop it all instead. */
    bool has = index <= raft_log_last_index(&r->log) &&
               index >= r->log.snapshot_index &&
               (r->truncate_from == 0 || r->truncate_from > index);
    /* Figure 5.3 step 6: an entry at the point with the snapshot's term
     * means the log matches up to it; keep what follows. */
    if (has && (raft_log_term_at(&r->log, index) == term ||
                RAFT_BUG(RAFT_BUG_SNAP_KEEP_SUFFIX))) {
        return RAFT_SNAPSHOT_KEEP_LOG;
    }
    return RAFT_SNAPSHOT_DROP_LOG; /* Step 7: discard the entire log. */
}

/* Keeps the log after index (it matches there): stable and synced cover
 * index now, and a truncation not yet written below index becomes one
 * just after it (the rows after index storage kept may be the old ones). */
static void installed_keep(struct raft *r, raft_index index, raft_term term)
{
    if (index > r->log.snapshot_index) {
        raft_log_compact(&r->log, index);
    }
    r->log.snapshot_term = term; /* Differs only under the broken rule. */
    if (r->truncate_from != 0 && r->truncate_from <= index) {
        r->truncate_from = index + 1;
        r->stable = index;
    }
    if (r->stable < index) {
        r->stable = index;
    }
    if (r->synced < index) {
        r->synced = index;
    }
}

void raft_snapshot_installed(struct raft *r, raft_index index, raft_term term,
                             int plan)
{
    ASSERT(plan == RAFT_SNAPSHOT_KEEP_LOG || plan == RAFT_SNAPSHOT_DROP_LOG);
    ASSERT(r->role != RAFT_LEADER);
    if (plan == RAFT_SNAPSHOT_KEEP_LOG &&
        index <= raft_log_last_index(&r->log) &&
        index >= r->log.snapshot_index) {
        installed_keep(r, index, term);
        raft_membership_installed(r, index, true);
    } else {
        raft_log_reset(&r->log, index, term);
        r->stable = index;
        r->synced = index;
        r->truncate_from = 0;
        raft_membership_installed(r, index, false);
    }
    if (r->synced >= r->stable) {
        r->unsynced_ms = UINT64_MAX;
    }
    /* Never backwards (only the broken rule gets here below commit). */
    if (index > r->commit || RAFT_BUG(RAFT_BUG_SNAP_INSTALL_OLD)) {
        r->commit = index;
    }
    if (index > r->applied || RAFT_BUG(RAFT_BUG_SNAP_INSTALL_OLD)) {
        r->applied = index;
    }
    r->last_apply_ms = r->now_ms;
    raft_tracef(r, RAFT_TRACE_DEBUG, "installed snapshot %llu/t%llu %s",
                (unsigned long long)index, (unsigned long long)term,
                plan == RAFT_SNAPSHOT_KEEP_LOG ? "kept log" : "dropped log");
    ASSERT(r->commit <= raft_log_last_index(&r->log));
    ASSERT(r->applied <= r->commit);
}
