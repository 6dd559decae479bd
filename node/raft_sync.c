/*
 * async_persist: the caller's durability reports (raft_persisted) and the
 * leader's lazy self-sync policy (raft_sync_wanted, raft_sync_due): when a
 * leader whose followers alone make a quorum may leave its own log unsynced
 * (config.self_sync_ms). The leader's commit counts its own log only up to
 * what is synced (raft_maybe_commit). Pure: no I/O, no clock. Read
 * node/raft_log.h next.
 */
#include "node/raft_int.h"

#include "common/invariant.h"

/* Unsynced entries a leader may leave behind it at most, and for how
 * long: a sync it needs later then finds few dirty pages. */
#define RAFT_SELF_UNSYNCED_MAX 8192
#define RAFT_SELF_UNSYNCED_MS 10

/* Leader with self_sync_ms: the first time after `after` at which it must
 * sync its own log although its followers commit: self_sync_ms after its
 * copy became needed for commit, or RAFT_SELF_UNSYNCED_MS after entries
 * became unsynced (so a needed sync finds few dirty pages); UINT64_MAX:
 * none. raft_sync_wanted asks whether one has come (after 0), the
 * deadline for the next one still ahead (after now). */
uint64_t raft_sync_due(const struct raft *r, uint64_t after)
{
    if (r->role != RAFT_LEADER || r->config.self_sync_ms == 0) {
        return UINT64_MAX;
    }
    uint64_t due = UINT64_MAX;
    uint64_t need = r->self_need_ms + r->config.self_sync_ms;
    if (r->self_need_ms != UINT64_MAX && need > after) {
        due = need;
    }
    uint64_t backlog = r->unsynced_ms + RAFT_SELF_UNSYNCED_MS;
    if (r->unsynced_ms != UINT64_MAX && backlog > after && backlog < due) {
        due = backlog;
    }
    return due;
}

/* Leader: a quorum of followers is pipelined and acknowledged within two
 * heartbeats, so their syncs alone can commit. */
static bool followers_make_quorum(const struct raft *r)
{
    bool fresh[RAFT_NODES_MAX];
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const struct raft_peer *p = &r->peers[i];
        fresh[i] = p->mode == RAFT_PEER_PIPELINE &&
                   r->now_ms - p->last_ack_ms <= 2ull * r->config.heartbeat_ms;
    }
    return raft_quorum_of(r, false, fresh);
}

/* Thesis 10.2.1: the leader may commit an entry before it is on its own
 * disk, once a majority of followers have it on theirs. With self_sync_ms
 * a leader uses that to skip syncs: while a quorum of followers is
 * pipelined and fresh, their syncs commit, and the disk does one sync
 * fewer per write. It still syncs when its own copy has been needed for
 * commit for self_sync_ms (raft_maybe_commit notes since when), when
 * entries have been unsynced for RAFT_SELF_UNSYNCED_MS, or when
 * RAFT_SELF_UNSYNCED_MAX of them wait. */
bool raft_sync_wanted(const struct raft *r)
{
    ASSERT(r->config.async_persist);
    if (r->role != RAFT_LEADER || r->config.self_sync_ms == 0 ||
        r->synced >= r->stable) {
        return true;
    }
    if (r->stable - r->synced >= RAFT_SELF_UNSYNCED_MAX ||
        !followers_make_quorum(r)) {
        return true;
    }
    return r->now_ms >= raft_sync_due(r, 0);
}

/* The caller's report that entries up to index are durable. A leader
 * counts its own log toward commit only up to there (thesis 10.2.1). */
void raft_persisted(struct raft *r, raft_index index)
{
    ASSERT(r->config.async_persist);
    if (index > r->stable) {
        index = r->stable;
    }
    if (index <= r->synced) {
        return;
    }
    r->synced = index;
    /* What is left was written after the sync was asked: about now. */
    r->unsynced_ms = r->synced < r->stable ? r->now_ms : UINT64_MAX;
    if (r->role == RAFT_LEADER) {
        raft_maybe_commit(r); /* Thesis 10.2.1: now we count ourselves. */
    }
}

/* The caller's report that the hard state it wrote for term (and the vote
 * in it) is durable: a single voter's own vote then counts
 * (raft_self_vote_counts), and raft_tick makes it leader. */
void raft_persisted_term(struct raft *r, raft_term term)
{
    ASSERT(r->config.async_persist);
    if (term > r->persisted_term) {
        term = r->persisted_term;
    }
    if (term > r->durable_term) {
        r->durable_term = term;
    }
}
