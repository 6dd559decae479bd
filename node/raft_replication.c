/*
 * Log replication (Raft paper 5.3, 5.4.2; thesis 10.2): the leader's
 * AppendEntries, built at raft_ready() time so that every proposal of one
 * wakeup shares one batch, with probe and pipeline modes per follower; the
 * follower's consistency check, duplicate-safe append and conflict hint; and
 * the leader's commit rule (a majority match on a current-term entry).
 * Pure: no I/O, no clock. Read node/raft_read.c next.
 */
#include "node/raft_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

/* Encoded-size estimate of one entry inside an AppendEntries (msgpack array
 * header, term, type, bin header), used to fill the byte budget. */
#define ENTRY_OVERHEAD 24

static void append_reply_init(const struct raft *r, const struct raft_msg *m,
                              struct raft_msg *reply)
{
    memset(reply, 0, sizeof *reply);
    reply->type = MSG_APPEND_REPLY;
    reply->from = r->config.id;
    reply->to = m->from;
    reply->term = r->term;
    reply->u.append_reply.ctx = m->u.append.ctx;
    reply->u.append_reply.reject_index = m->u.append.prev_index;
    reply->u.append_reply.last_index = raft_log_last_index(&r->log);
}

/* Deletes our entries from index on, remembering what storage must delete. */
static void truncate_suffix(struct raft *r, raft_index index)
{
    ASSERT(index > r->commit);
    raft_log_truncate_from(&r->log, index);
    raft_membership_truncate(r, index);
    if (index <= r->stable) {
        if (r->truncate_from == 0 || index < r->truncate_from) {
            r->truncate_from = index;
        }
        r->stable = index - 1;
    }
    if (index <= r->synced) {
        r->synced = index - 1;
    }
}

/* Figure 2, AppendEntries RPC, receiver implementation: "3. If an existing
 * entry conflicts with a new one (same index but different terms), delete
 * the existing entry and all that follow it. 4. Append any new entries not
 * already in the log." Entries we already have are skipped: a duplicated or
 * reordered message must never truncate. Returns ERR_INVALID when the
 * leader would overwrite a committed entry (impossible from a correct
 * leader). */
static int append_entries(struct raft *r, const struct msg_append *a)
{
    if (RAFT_BUG(RAFT_BUG_TRUNCATE_ON_DUPLICATE) && a->n_entries > 0 &&
        a->prev_index + 1 > r->commit) {
        truncate_suffix(r, a->prev_index + 1);
    }
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct raft_entry *e = &a->entries[i];
        raft_index idx = a->prev_index + 1 + i;
        if (idx <= raft_log_last_index(&r->log)) {
            if (raft_log_term_at(&r->log, idx) == e->term) {
                continue;
            }
            if (idx <= r->commit) {
                return ERR_INVALID;
            }
            raft_tracef(r, RAFT_TRACE_INFO, "conflict at %llu: truncating",
                        (unsigned long long)idx);
            truncate_suffix(r, idx);
        }
        if (e->term < raft_log_last_term(&r->log)) {
            return ERR_INVALID;
        }
        int rv = raft_log_append(&r->log, e->term, e->type, e->data, e->len);
        if (rv == ERR_OK) {
            rv = raft_membership_on_append(r, idx, e);
        }
        if (rv != ERR_OK) {
            return rv;
        }
    }
    return ERR_OK;
}

/* Queues an append reply. Successes to the same leader in one ready merge
 * into one (highest match, newest round): the leader frees in-flight
 * batches by match index and confirms read rounds by ctx, so one reply
 * per wakeup says all that several would. */
static int push_append_reply(struct raft *r, const struct raft_msg *reply)
{
    const struct msg_append_reply *rep = &reply->u.append_reply;
    for (size_t i = 0; rep->success && i < r->after.n; i++) {
        struct raft_msg *m = &r->after.msgs[i];
        struct msg_append_reply *old = &m->u.append_reply;
        if (m->type != MSG_APPEND_REPLY || m->to != reply->to ||
            m->term != reply->term || !old->success) {
            continue;
        }
        if (rep->match_index > old->match_index) {
            old->match_index = rep->match_index;
        }
        if (rep->ctx > old->ctx) {
            old->ctx = rep->ctx;
        }
        old->last_index = rep->last_index;
        old->reject_index = rep->reject_index;
        return ERR_OK;
    }
    return raft_outbox_push(&r->after, reply);
}

/* Figure 2, Candidates: "If AppendEntries RPC received from new leader:
 * convert to follower"; a snapshot chunk counts the same. Makes the sender
 * of msg (whose term is ours: raft_step handled the term) the leader we
 * follow. Returns false for a message from a rival leader: two leaders in
 * one term means a broken or forged peer, and the caller ignores it. what
 * names the message in the trace. */
bool raft_follow_sender(struct raft *r, const struct raft_msg *msg,
                        const char *what)
{
    ASSERT(msg->term == r->term);
    if (r->role == RAFT_LEADER) {
        raft_tracef(r, RAFT_TRACE_INFO, "%s from rival leader n%llu", what,
                    (unsigned long long)msg->from);
        return false;
    }
    if (r->role != RAFT_FOLLOWER || r->leader != msg->from) {
        raft_tracef(r, RAFT_TRACE_INFO, "leader is n%llu",
                    (unsigned long long)msg->from);
        raft_become_follower(r, msg->term, msg->from);
    }
    return true;
}

/* Figure 2, AppendEntries RPC, receiver implementation: "1. Reply false if
 * term < currentTerm. 2. Reply false if log doesn't contain an entry at
 * prevLogIndex whose term matches prevLogTerm." Steps 3-4 in
 * append_entries; "5. If leaderCommit > commitIndex, set commitIndex =
 * min(leaderCommit, index of last new entry)." Rules for Servers,
 * Candidates: "If AppendEntries RPC received from new leader: convert to
 * follower." The contact resets the election timer. */
int raft_on_append(struct raft *r, const struct raft_msg *msg)
{
    const struct msg_append *a = &msg->u.append;
    struct raft_msg reply;
    append_reply_init(r, msg, &reply);
    struct msg_append_reply *rep = &reply.u.append_reply;
    if (msg->term < r->term) {
        goto send; /* Step 1: reply false; our term tells it to step down. */
    }
    if (!raft_follow_sender(r, msg, "append")) {
        return ERR_OK;
    }
    ASSERT(msg->term == r->term);
    ASSERT(r->role == RAFT_FOLLOWER);
    ASSERT(r->leader == msg->from);
    r->leader_contact_ms = r->now_ms;
    raft_election_reset(r);
    raft_index last = raft_log_last_index(&r->log);
    if (a->prev_index < r->log.snapshot_index) {
        /* Behind our compacted (committed) prefix: thesis 5.4.1, a
         * committed entry is in every later leader's log, so ours match
         * its up to the snapshot point. Say so; it resends after it. */
        rep->success = true;
        rep->match_index = r->log.snapshot_index;
        goto send;
    }
    if (a->prev_index > last) {
        /* Step 2, missing entry: ask for our last index + 1. */
        rep->conflict_index = last + 1;
        goto send;
    }
    raft_term have = raft_log_term_at(&r->log, a->prev_index);
    if (have != a->prev_term && a->prev_index <= r->log.snapshot_index) {
        /* Disagrees with our compacted (committed) prefix: no correct
         * leader sends this; refuse without a hint into the log. */
        rep->conflict_index = r->log.snapshot_index + 1;
        goto send;
    }
    if (have != a->prev_term) {
        /* Step 2, term mismatch: hint the first index of our conflicting
         * term so the leader can skip it in one round (paper 5.3). */
        rep->conflict_term = have;
        rep->conflict_index = raft_log_term_first(&r->log, a->prev_index);
        goto send;
    }
    int rv = append_entries(r, a);
    if (rv == ERR_INVALID) {
        raft_tracef(r, RAFT_TRACE_INFO, "refused append rewriting history");
        return ERR_OK;
    }
    if (rv != ERR_OK) {
        return rv;
    }
    raft_index new_last = a->prev_index + a->n_entries;
    ASSERT(raft_log_last_index(&r->log) >= new_last); /* Step 4 done. */
    /* Step 5: commit up to what this message proved we share. */
    raft_index commit = a->commit < new_last ? a->commit : new_last;
    if (commit > r->commit) {
        r->commit = commit;
    }
    ASSERT(r->commit <= raft_log_last_index(&r->log));
    rep->success = true;
    rep->match_index = new_last;
    rep->last_index = raft_log_last_index(&r->log);
send:
    /* The reply vouches for our term and entries: after persisting. */
    return push_append_reply(r, &reply);
}

static void peer_to_probe(struct raft_peer *p, raft_index next)
{
    p->mode = RAFT_PEER_PROBE;
    p->next = next;
    p->n_inflight = 0;
    p->probe_outstanding = false;
    p->send_pending = true;
}

/* A rejection says p's log ends at last, below p->match, which p
 * acknowledged. Raft assumes a durable write survives; a disk that lied
 * (a lost WAL tail) breaks that, and the rule below never moving under
 * match would then probe p at match + 1 forever. Trusted only from an
 * append sent after the acknowledgement (ctx above match_ctx): an older
 * one may have been rejected before p took the entries. An untrusted one
 * starts a new round, whose appends tell. Returns true when handled. */
static bool on_lost_acked(struct raft *r, struct raft_peer *p,
                          const struct msg_append_reply *rep)
{
    if (RAFT_BUG(RAFT_BUG_IGNORE_LOST_ACKED) || rep->last_index >= p->match) {
        return false;
    }
    if (rep->ctx <= p->match_ctx) {
        if (r->hb_ctx <= p->match_ctx) {
            raft_read_start_round(r);
        }
        return true;
    }
    r->lost_acked++;
    raft_tracef(r, RAFT_TRACE_ERROR,
                "member %llu lost entries it acknowledged: had %llu, now %llu",
                (unsigned long long)p->id, (unsigned long long)p->match,
                (unsigned long long)rep->last_index);
    /* Forget the match (the commit index never moves back) and probe from
     * its real end: the reply to that probe is the new match. */
    p->match = 0;
    p->match_at_hb = 0;
    p->match_ctx = r->hb_ctx;
    if (p->commit_sent > rep->last_index) {
        p->commit_sent = rep->last_index;
    }
    peer_to_probe(p, rep->last_index + 1);
    return true;
}

/* Figure 2, Rules for Servers, Leaders: "If AppendEntries fails because of
 * log inconsistency: decrement nextIndex and retry." The follower's hint
 * (conflict term and index, paper 5.3) lets nextIndex skip a whole term at
 * once; it never drops to or below matchIndex. */
static void on_reject(struct raft *r, struct raft_peer *p,
                      const struct msg_append_reply *rep)
{
    if (p->mode == RAFT_PEER_SNAPSHOT) {
        return; /* A heartbeat's: the snapshot decides where it goes. */
    }
    if (on_lost_acked(r, p, rep)) {
        return;
    }
    if (rep->reject_index <= p->match) {
        return; /* Stale: we know the follower matches there. */
    }
    if (p->mode == RAFT_PEER_PROBE && rep->reject_index + 1 != p->next) {
        return; /* A reply to an older probe. */
    }
    raft_index next = rep->conflict_index;
    if (rep->conflict_term != 0) {
        raft_index k = raft_log_term_last(&r->log, rep->conflict_term);
        if (k != 0) {
            next = k + 1;
        }
    }
    if (next > rep->reject_index) {
        next = rep->reject_index; /* Always move back. */
    }
    if (next <= p->match) {
        next = p->match + 1;
    }
    ASSERT(next > p->match);
    ASSERT(next <= rep->reject_index);
    raft_tracef(r, RAFT_TRACE_DEBUG, "n%llu rejected %llu: next=%llu",
                (unsigned long long)p->id,
                (unsigned long long)rep->reject_index,
                (unsigned long long)next);
    peer_to_probe(p, next);
}

/* Whether an append at p's match would tell p a higher commit index than
 * the appends it was sent so far: a follower takes the commit index only
 * up to the last index the append proves it shares. */
static bool peer_lacks_commit(const struct raft *r, const struct raft_peer *p)
{
    return p->commit_sent < r->commit && p->match > p->commit_sent;
}

/* Figure 2, Rules for Servers, Leaders: "If successful: update nextIndex
 * and matchIndex for follower." Then the commit rule (raft_maybe_commit). */
static void on_success(struct raft *r, struct raft_peer *p,
                       const struct msg_append_reply *rep)
{
    if (rep->match_index > raft_log_last_index(&r->log)) {
        return; /* Not an index we ever sent in this term. */
    }
    if (rep->match_index > p->match) {
        p->match = rep->match_index;
        p->match_ctx = r->hb_ctx;
    }
    if (p->next <= p->match) {
        p->next = p->match + 1;
    }
    ASSERT(p->match <= raft_log_last_index(&r->log));
    ASSERT(p->next > p->match); /* nextIndex stays above matchIndex. */
    while (p->n_inflight > 0 &&
           p->inflight_last[p->inflight_head] <= p->match) {
        p->inflight_head = (p->inflight_head + 1) % RAFT_INFLIGHT_CAP;
        p->n_inflight--;
    }
    if (p->mode == RAFT_PEER_PROBE) {
        p->mode = RAFT_PEER_PIPELINE;
        p->probe_outstanding = false;
        p->n_inflight = 0;
    }
    if (p->mode != RAFT_PEER_SNAPSHOT &&
        p->next <= raft_log_last_index(&r->log) &&
        p->n_inflight < r->config.inflight_max) {
        /* Room in the pipeline for more. (Not when full: every reply would
         * then trigger a heartbeat, and its reply another.) */
        p->send_pending = true;
    }
    raft_maybe_commit(r);
    if (raft_transfer_send_if_ready(r, p) != ERR_OK) {
        raft_tracef(r, RAFT_TRACE_INFO, "timeout-now not queued");
    }
    /* Its acknowledgement came after the commit index it was told: an
     * append at its new match would tell it more. */
    if (r->config.commit_notify_ms != 0 && r->commit_notify_ms == UINT64_MAX &&
        peer_lacks_commit(r, p)) {
        r->commit_notify_ms = r->now_ms + r->config.commit_notify_ms;
    }
}

int raft_on_append_reply(struct raft *r, const struct raft_msg *msg)
{
    struct raft_peer *p = raft_peer_find(r, msg->from);
    if (r->role != RAFT_LEADER || p == NULL) {
        return ERR_OK;
    }
    const struct msg_append_reply *rep = &msg->u.append_reply;
    p->active = true;
    p->last_ack_ms = r->now_ms;
    if (rep->ctx > p->ack_ctx && rep->ctx <= r->hb_ctx) {
        p->ack_ctx = rep->ctx;
        raft_read_on_ack(r);
    }
    if (rep->success) {
        on_success(r, p, rep);
    } else {
        on_reject(r, p, rep);
    }
    return ERR_OK;
}

/* async_persist: notes since when our own unsynced entries are what keeps
 * an entry of this term from committing (raft_sync_wanted). */
static void note_self_need(struct raft *r, raft_index candidate)
{
    bool needed = false;
    if (r->synced < r->stable) {
        raft_index with_self = raft_quorum_match(r, r->stable);
        needed = with_self > candidate && with_self > r->commit &&
                 raft_log_term_at(&r->log, with_self) == r->term;
    }
    if (!needed) {
        r->self_need_ms = UINT64_MAX;
    } else if (r->self_need_ms == UINT64_MAX) {
        r->self_need_ms = r->now_ms;
    }
}

/* Figure 2, Rules for Servers, Leaders: "If there exists an N such that
 * N > commitIndex, a majority of matchIndex[i] >= N, and log[N].term ==
 * currentTerm: set commitIndex = N." The largest such N is the one a
 * majority holds (quorum_match); the term check is paper 5.4.2 (Figure 8).
 * Thesis 10.2.1: the leader counts its own log only once durable
 * (r->synced), which may be after its followers' copies. */
void raft_maybe_commit(struct raft *r)
{
    ASSERT(r->role == RAFT_LEADER);
    /* Ourselves, once durable (thesis 10.2.1). */
    raft_index candidate = raft_quorum_match(
        r, RAFT_BUG(RAFT_BUG_COUNT_UNSYNCED) ? r->stable : r->synced);
    note_self_need(r, candidate);
    if (candidate <= r->commit) {
        return;
    }
    /* Paper 5.4.2 (Figure 8): count replicas only for our own term. */
    if (raft_log_term_at(&r->log, candidate) != r->term &&
        !RAFT_BUG(RAFT_BUG_COMMIT_OLD_TERM)) {
        return;
    }
    ASSERT(candidate > r->commit); /* Commit never decreases. */
    r->commit = candidate;
    /* A leader's commit never exceeds its last index. */
    ASSERT(r->commit <= raft_log_last_index(&r->log));
    raft_tracef(r, RAFT_TRACE_DEBUG, "commit=%llu",
                (unsigned long long)r->commit);
    if (raft_membership_on_commit(r) != ERR_OK) {
        raft_tracef(r, RAFT_TRACE_INFO, "C_new not appended (no memory)");
    }
    /* Followers learn the new commit index from the next append: one
     * with entries if it comes within commit_notify_ms, else one of its
     * own. Under load the next batch follows within a round, so a commit
     * costs no datagram (and no wakeup) per follower. Only followers'
     * applies wait: the leader answers writes from its own apply, and a
     * read's heartbeat round carries the commit index. */
    if (r->config.commit_notify_ms == 0) {
        for (uint32_t i = 0; i < r->n_peers; i++) {
            r->peers[i].send_pending = true;
        }
    } else if (r->commit_notify_ms == UINT64_MAX) {
        r->commit_notify_ms = r->now_ms + r->config.commit_notify_ms;
    }
}

void raft_commit_notify(struct raft *r)
{
    ASSERT(r->role == RAFT_LEADER);
    for (uint32_t i = 0; i < r->n_peers; i++) {
        if (peer_lacks_commit(r, &r->peers[i])) {
            r->peers[i].send_pending = true;
        }
    }
    r->commit_notify_ms = UINT64_MAX;
}

/* Figure 2, Rules for Servers, Leaders: heartbeats are repeated "during
 * idle periods to prevent election timeouts": every heartbeat_ms, each
 * follower gets an append (with entries if it lags). */
void raft_heartbeat(struct raft *r)
{
    r->heartbeat_due_ms = r->now_ms + r->config.heartbeat_ms;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        struct raft_peer *p = &r->peers[i];
        p->send_pending = true;
        p->probe_outstanding = false;
        /* A pipeline that made no progress for a whole interval has lost
         * a batch (or its follower stalls): probe from what matches. */
        if (p->mode == RAFT_PEER_PIPELINE && p->n_inflight > 0 &&
            p->match == p->match_at_hb) {
            peer_to_probe(p, p->match + 1);
        }
        p->match_at_hb = p->match;
    }
}

/* How many of entries[0..avail) fit the byte budget (at least one). */
static uint32_t fit_budget(const struct raft *r,
                           const struct raft_entry *entries, size_t avail)
{
    size_t bytes = 0;
    uint32_t n = 0;
    while (n < avail && n < RAFT_ENTRIES_PER_MSG_MAX) {
        size_t size = (size_t)entries[n].len + ENTRY_OVERHEAD;
        if (n > 0 && bytes + size > r->config.batch_bytes_max) {
            break;
        }
        bytes += size;
        n++;
    }
    return n;
}

void raft_fetched_free(struct raft *r)
{
    for (size_t i = 0; i < r->n_fetched; i++) {
        free(r->fetched[i]);
    }
    r->n_fetched = 0;
}

/* Reads entries from..hi back from storage into a block owned until
 * raft_advance(). Errors: ERR_NOMEM, ERR_CORRUPT (storage disagrees with
 * our terms), or the callback's error. */
static int fetch_entries(struct raft *r, raft_index from, raft_index hi,
                         const struct raft_entry **out, uint32_t *n)
{
    if (r->fetch_scratch == NULL) {
        r->fetch_scratch =
            malloc(RAFT_ENTRIES_PER_MSG_MAX * sizeof *r->fetch_scratch);
        if (r->fetch_scratch == NULL) {
            return ERR_NOMEM;
        }
    }
    if (r->n_fetched == r->fetched_cap) {
        size_t cap = r->fetched_cap ? r->fetched_cap * 2 : 8;
        void **f = realloc(r->fetched, cap * sizeof *f);
        if (f == NULL) {
            return ERR_NOMEM;
        }
        r->fetched = f;
        r->fetched_cap = cap;
    }
    size_t got = 0;
    int rv = r->config.fetch(r->config.fetch_ctx, from, hi,
                             r->config.batch_bytes_max, r->fetch_scratch,
                             RAFT_ENTRIES_PER_MSG_MAX, &got);
    if (rv != ERR_OK) {
        return rv;
    }
    if (got == 0 || got > (size_t)(hi - from + 1)) {
        return ERR_CORRUPT;
    }
    uint32_t k = fit_budget(r, r->fetch_scratch, got);
    size_t bytes = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (r->fetch_scratch[i].term != raft_log_term_at(&r->log, from + i)) {
            return ERR_CORRUPT;
        }
        bytes += r->fetch_scratch[i].len;
    }
    uint8_t *block = malloc(k * sizeof(struct raft_entry) + bytes + 1);
    if (block == NULL) {
        return ERR_NOMEM;
    }
    struct raft_entry *copy = (struct raft_entry *)block;
    uint8_t *data = block + k * sizeof(struct raft_entry);
    for (uint32_t i = 0; i < k; i++) {
        copy[i] = r->fetch_scratch[i];
        if (copy[i].len > 0) { /* An empty entry's data may be NULL. */
            memcpy(data, r->fetch_scratch[i].data, copy[i].len);
        }
        copy[i].data = data;
        data += copy[i].len;
    }
    r->fetched[r->n_fetched++] = block;
    *out = copy;
    *n = k;
    return ERR_OK;
}

/* Queues one AppendEntries to p starting after prev, with entries up to the
 * byte budget (at least one if any); *sent is the last index it carries.
 * Entries older than the in-memory window are read back from storage.
 * Thesis 10.2.1: the leader writes its own log in parallel with
 * replicating it, so appends go in msgs_now, before our write. */
static int send_append(struct raft *r, struct raft_peer *p, raft_index prev,
                       bool with_entries, raft_index *sent)
{
    raft_index last = raft_log_last_index(&r->log);
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_APPEND;
    m.from = r->config.id;
    m.to = p->id;
    m.term = r->term;
    m.u.append.prev_index = prev;
    m.u.append.prev_term = raft_log_term_at(&r->log, prev);
    m.u.append.commit = r->commit;
    m.u.append.ctx = r->hb_ctx;
    uint32_t n = 0;
    if (with_entries && prev < last) {
        if (raft_log_in_memory(&r->log, prev + 1)) {
            m.u.append.entries = raft_log_get(&r->log, prev + 1);
            n = fit_budget(r, m.u.append.entries, (size_t)(last - prev));
        } else {
            int rv = fetch_entries(r, prev + 1, r->log.mem_first - 1,
                                   &m.u.append.entries, &n);
            if (rv != ERR_OK) {
                raft_tracef(r, RAFT_TRACE_INFO, "fetch %llu failed: %d",
                            (unsigned long long)(prev + 1), rv);
                return rv;
            }
        }
    }
    m.u.append.n_entries = n;
    *sent = prev + n;
    r->hb_ctx_sent = true;
    int rv = raft_outbox_push(&r->now, &m);
    /* What the follower takes: the commit index up to what it proves. */
    raft_index told = r->commit < *sent ? r->commit : *sent;
    if (rv == ERR_OK && told > p->commit_sent) {
        p->commit_sent = told;
    }
    return rv;
}

/* The heartbeat's previous index: p's match, or our first if p's match
 * is compacted (its term is gone). */
static raft_index heartbeat_prev(const struct raft *r,
                                 const struct raft_peer *p)
{
    return p->match > r->log.snapshot_index ? p->match : r->log.snapshot_index;
}

/* Figure 2, Rules for Servers, Leaders: "If last log index >= nextIndex
 * for a follower: send AppendEntries RPC with log entries starting at
 * nextIndex." One at a time while probing; in pipeline mode up to
 * config.inflight_max batches, then a bare heartbeat if one is pending. */
static int peer_send_due(struct raft *r, struct raft_peer *p)
{
    raft_index last = raft_log_last_index(&r->log);
    raft_index sent;
    int rv = ERR_OK;
    if (p->mode != RAFT_PEER_SNAPSHOT && p->next <= r->log.snapshot_index) {
        raft_snapshot_want(r, p); /* Thesis 5.2: its entries are gone. */
    }
    if (p->mode == RAFT_PEER_SNAPSHOT) {
        /* Heartbeats only (leadership, commit, read rounds). */
        if (p->send_pending) {
            rv = send_append(r, p, heartbeat_prev(r, p), false, &sent);
        }
        p->send_pending = false;
        return rv;
    }
    if (p->mode == RAFT_PEER_PROBE) {
        if (p->send_pending || (!p->probe_outstanding && p->next <= last)) {
            rv = send_append(r, p, p->next - 1, true, &sent);
            p->probe_outstanding = true;
        }
        p->send_pending = false;
        return rv;
    }
    bool sent_any = false;
    while (rv == ERR_OK && p->next <= last &&
           p->n_inflight < r->config.inflight_max) {
        rv = send_append(r, p, p->next - 1, true, &sent);
        if (rv != ERR_OK) {
            break;
        }
        uint32_t slot = (p->inflight_head + p->n_inflight) % RAFT_INFLIGHT_CAP;
        p->inflight_last[slot] = sent;
        p->n_inflight++;
        p->next = sent + 1;
        sent_any = true;
    }
    if (rv == ERR_OK && p->send_pending && !sent_any) {
        /* A heartbeat at the index known to match never fails the check,
         * so it cannot knock a healthy pipeline back to probing. */
        rv = send_append(r, p, heartbeat_prev(r, p), false, &sent);
    }
    p->send_pending = false;
    return rv;
}

/* Called from raft_ready(): builds every AppendEntries due now. */
int raft_replication_send_due(struct raft *r)
{
    ASSERT(r->role == RAFT_LEADER);
    int first_err = ERR_OK;
    bool all_told = true;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        int rv = peer_send_due(r, &r->peers[i]);
        if (rv != ERR_OK && first_err == ERR_OK) {
            first_err = rv; /* The others still get theirs. */
        }
        all_told = all_told && !peer_lacks_commit(r, &r->peers[i]);
    }
    if (all_told) {
        r->commit_notify_ms = UINT64_MAX; /* Appends with entries did it. */
    }
    return first_err;
}
