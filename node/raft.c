/*
 * The core's entry points: construction from loaded durable state, the
 * dispatch of peer messages (Figure 2's term rule first), role transitions,
 * timers, proposals, and the ready/advance hand-over of output to the
 * caller. Elections, replication and commit, ReadIndex and the leader's own
 * sync live in raft_election.c, raft_replication.c, raft_read.c and
 * raft_sync.c; node/raft_int.h maps each Raft rule to its function. Pure: no
 * I/O, no clock; time arrives as now_ms. Read node/raft_election.c next.
 */
#include "node/raft_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

#ifdef RAFT_TEETH
unsigned raft_bugs = 0;
#endif

const char *raft_role_name(int role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    case RAFT_PRECANDIDATE:
        return "precandidate";
    default:
        return "unknown";
    }
}

void raft_tracef(struct raft *r, int level, const char *fmt, ...)
{
    if (r->trace == NULL) {
        return;
    }
    char line[512];
    int n = snprintf(line, sizeof line, "t%llu %s ",
                     (unsigned long long)r->term, raft_role_name(r->role));
    if (n < 0 || (size_t)n >= sizeof line) {
        n = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    r->trace(r->trace_ctx, level, line);
}

int raft_outbox_push(struct raft_outbox *box, const struct raft_msg *msg)
{
    if (box->n == box->cap) {
        size_t cap = box->cap ? box->cap * 2 : 32;
        struct raft_msg *m = realloc(box->msgs, cap * sizeof *m);
        if (m == NULL) {
            return ERR_NOMEM;
        }
        box->msgs = m;
        box->cap = cap;
    }
    box->msgs[box->n++] = *msg;
    return ERR_OK;
}

/* Figure 2, Rules for Servers, All Servers: "If commitIndex > lastApplied:
 * increment lastApplied, apply log[lastApplied] to state machine."
 * Whether committed entries go out for applying now: raft_ready hands them
 * out, raft_advance moves applied. A leader or candidate applies at once
 * (clients wait on it); a follower answers no client, so it may batch
 * (config.apply_batch_min) into fewer, larger kv transactions, and applies
 * all that waits once elected. */
bool raft_apply_due(const struct raft *r)
{
    raft_index upto = r->commit;
    if (RAFT_BUG(RAFT_BUG_APPLY_UNCOMMITTED)) {
        upto = raft_log_last_index(&r->log);
    }
    if (r->applied >= upto) {
        return false;
    }
    const struct raft_config *c = &r->config;
    if (r->role != RAFT_FOLLOWER || c->apply_batch_min == 0 ||
        r->read_apply_upto > r->applied) {
        return true; /* Clients wait on it. */
    }
    return upto - r->applied >= c->apply_batch_min ||
           r->now_ms >= r->last_apply_ms + c->apply_delay_ms;
}

struct raft_peer *raft_peer_find(struct raft *r, raft_id id)
{
    for (uint32_t i = 0; i < r->n_peers; i++) {
        if (r->peers[i].id == id) {
            return &r->peers[i];
        }
    }
    return NULL;
}

static void check_config(const struct raft_config *c)
{
    ASSERT(c->id != RAFT_ID_NONE);
    ASSERT(c->n_members <= RAFT_NODES_MAX);
    ASSERT(c->heartbeat_ms > 0);
    ASSERT(c->election_ms > 0);
    ASSERT(c->inflight_max >= 1);
    ASSERT(c->inflight_max <= RAFT_INFLIGHT_CAP);
    ASSERT(c->batch_bytes_max > 0);
    ASSERT(c->mem_entries_max == 0 || c->fetch != NULL);
    bool self = false;
    for (uint32_t i = 0; i < c->n_members; i++) {
        ASSERT(c->members[i] != RAFT_ID_NONE);
        self |= c->members[i] == c->id;
        for (uint32_t j = 0; j < i; j++) {
            ASSERT(c->members[i] != c->members[j]);
        }
    }
    ASSERT(self || c->n_members == 0);
}

static int load_state(struct raft *r, const struct raft_loaded *l)
{
    raft_log_init(&r->log, l->snapshot_index, l->snapshot_term);
    if (l->first_index > l->snapshot_index + 1) {
        /* A long log: only its tail's payloads come into memory. */
        ASSERT(r->config.fetch != NULL);
        ASSERT(l->n_runs > 0);
        int rr = raft_log_restore_runs(&r->log, l->runs, l->n_runs,
                                       l->first_index - 1);
        if (rr != ERR_OK) {
            return rr;
        }
    } else {
        ASSERT(l->first_index == l->snapshot_index + 1 || l->n_entries == 0);
    }
    int rv = raft_membership_load(r, l);
    for (size_t i = 0; i < l->n_entries && rv == ERR_OK; i++) {
        const struct raft_entry *e = &l->entries[i];
        rv = raft_log_append(&r->log, e->term, e->type, e->data, e->len);
        if (rv == ERR_OK) {
            rv = raft_membership_on_append(r, raft_log_last_index(&r->log), e);
        }
    }
    if (rv != ERR_OK) {
        return rv;
    }
    r->term = r->persisted_term = l->term;
    r->voted_for = r->persisted_vote = l->voted_for;
    r->durable_term = l->term;
    r->stable = raft_log_last_index(&r->log);
    r->synced = r->stable;
    r->unsynced_ms = UINT64_MAX;
    r->self_need_ms = UINT64_MAX;
    r->commit_notify_ms = UINT64_MAX;
    /* What was applied was committed; never hand it out again. */
    r->applied = l->applied;
    if (r->applied < l->snapshot_index) {
        r->applied = l->snapshot_index;
    }
    if (r->applied > r->stable) {
        r->applied = r->stable;
    }
    r->commit = r->applied;
    return ERR_OK;
}

struct raft *raft_new(const struct raft_config *config,
                      const struct raft_loaded *loaded, raft_trace_cb trace,
                      void *trace_ctx, uint64_t now_ms)
{
    check_config(config);
    struct raft *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->config = *config;
    r->trace = trace;
    r->trace_ctx = trace_ctx;
    rng_init(&r->rng, config->seed);
    r->reads_waiting = calloc(RAFT_READS_MAX, sizeof *r->reads_waiting);
    r->reads_ready = calloc(RAFT_READS_MAX, sizeof *r->reads_ready);
    r->reads_fwd = calloc(RAFT_READS_MAX, sizeof *r->reads_fwd);
    r->role = RAFT_FOLLOWER;
    r->now_ms = now_ms;
    if (r->reads_waiting == NULL || r->reads_ready == NULL ||
        r->reads_fwd == NULL || load_state(r, loaded) != ERR_OK) {
        raft_free(r);
        return NULL;
    }
    r->disk_ok = true;
    r->leader_contact_ms = UINT64_MAX;
    raft_election_reset(r);
    raft_tracef(
        r, RAFT_TRACE_INFO, "started last=%llu/t%llu commit=%llu vote=%llu",
        (unsigned long long)raft_log_last_index(&r->log),
        (unsigned long long)raft_log_last_term(&r->log),
        (unsigned long long)r->commit, (unsigned long long)r->voted_for);
    return r;
}

void raft_free(struct raft *r)
{
    if (r == NULL) {
        return;
    }
    raft_log_close(&r->log);
    free(r->reads_waiting);
    free(r->reads_ready);
    free(r->reads_fwd);
    free(r->confs);
    raft_fetched_free(r);
    free(r->fetched);
    free(r->fetch_scratch);
    free(r->now.msgs);
    free(r->after.msgs);
    free(r);
}

/* Figure 2, Rules for Servers, All Servers: "If RPC request or response
 * contains term T > currentTerm: set currentTerm = T, convert to follower."
 * Pre-vote requests do not count (thesis 9.6): their term is hypothetical,
 * and neither do granted pre-vote replies; nor does a RequestVote while a
 * leader is heard (thesis 4.2.3, raft_in_lease). Returns 1 when the message
 * is from an older term and must be answered or ignored by the caller. */
int raft_step_down_if_newer(struct raft *r, const struct raft_msg *msg)
{
    if (msg->term > r->term) {
        bool pre_req = msg->type == MSG_VOTE && msg->u.vote.pre_vote;
        bool pre_ok = msg->type == MSG_VOTE_REPLY &&
                      msg->u.vote_reply.pre_vote && msg->u.vote_reply.granted;
        if (pre_req || pre_ok) {
            return 0;
        }
        if (msg->type == MSG_VOTE && !msg->u.vote.transfer &&
            raft_in_lease(r)) {
            /* Thesis 4.2.3: ignore disruptive candidates while a leader
             * is known to be alive; do not raise our term. */
            return 0;
        }
        if (RAFT_BUG(RAFT_BUG_NO_STEP_DOWN) &&
            (msg->type == MSG_APPEND_REPLY || msg->type == MSG_VOTE_REPLY)) {
            return 0;
        }
        raft_id leader = (msg->type == MSG_APPEND || msg->type == MSG_SNAPSHOT)
                             ? msg->from
                             : RAFT_ID_NONE;
        raft_tracef(r, RAFT_TRACE_INFO, "newer term %llu from n%llu",
                    (unsigned long long)msg->term,
                    (unsigned long long)msg->from);
        raft_become_follower(r, msg->term, leader);
        return 0;
    }
    return msg->term < r->term;
}

/* Makes us a follower in term (never older than ours; a newer one clears
 * our vote) of leader (RAFT_ID_NONE: not known). */
void raft_become_follower(struct raft *r, raft_term term, raft_id leader)
{
    ASSERT(term >= r->term); /* A term never goes back. */
    bool was_leader = r->role == RAFT_LEADER;
    if (term > r->term) {
        r->term = term;
        r->voted_for = RAFT_ID_NONE;
    }
    if (r->role != RAFT_FOLLOWER || r->leader != leader) {
        r->soft_changed = true;
    }
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    r->transfer_to = RAFT_ID_NONE;
    if (was_leader) {
        raft_read_fail_all(r);
        raft_tracef(r, RAFT_TRACE_INFO, "stepped down");
    }
    raft_read_expire_forwarded(r, false); /* Those sent to another leader. */
    raft_election_reset(r);
}

/* Figure 2, Rules for Servers, Leaders: "Upon election: send initial empty
 * AppendEntries RPCs (heartbeat) to each server": every peer's send is
 * pending, from nextIndex = our last index + 1 ("State", volatile state on
 * leaders). Paper section 8: "each leader commit a blank no-op entry into
 * the log at the start of its term". Errors: ERR_NOMEM. */
int raft_become_leader(struct raft *r)
{
    ASSERT(r->role == RAFT_CANDIDATE);
    ASSERT(r->voted_for == r->config.id); /* A candidate votes for itself. */
    /* At most one leader per term: a candidate that saw one of its term
     * would have become its follower. */
    ASSERT(r->leader == RAFT_ID_NONE);
    r->role = RAFT_LEADER;
    r->leader = r->config.id;
    r->soft_changed = true;
    r->self_need_ms = UINT64_MAX;
    raft_index last = raft_log_last_index(&r->log);
    for (uint32_t i = 0; i < r->n_peers; i++) {
        struct raft_peer *p = &r->peers[i];
        raft_id id = p->id;
        memset(p, 0, sizeof *p);
        p->id = id;
        p->next = last + 1;
        p->mode = RAFT_PEER_PROBE;
        p->send_pending = true;
        p->last_ack_ms = r->now_ms;
    }
    r->hb_ctx++;
    r->hb_ctx_sent = false;
    r->read_round_queued = false;
    r->heartbeat_due_ms = r->now_ms + r->config.heartbeat_ms;
    r->commit_notify_ms = UINT64_MAX;
    r->quorum_check_ms = r->now_ms + r->config.election_ms;
    /* Thesis 6.4 and 3.6.2: a no-op commits the entries of past terms and
     * lets ReadIndex know the leader's commit index is current. */
    r->transfer_to = RAFT_ID_NONE;
    int rv = raft_log_append(&r->log, r->term, RAFT_ENTRY_NOOP, NULL, 0);
    if (rv != ERR_OK) {
        return rv;
    }
    r->term_start_index = raft_log_last_index(&r->log);
    ASSERT(r->commit < r->term_start_index);
    raft_tracef(r, RAFT_TRACE_INFO, "became leader noop=%llu",
                (unsigned long long)r->term_start_index);
    raft_maybe_commit(r);
    return ERR_OK;
}

/* The entries of an append: terms from max(prev_term, 1) up, never above
 * the message's term, indexes far from overflow. */
static bool append_is_plausible(const struct raft_msg *msg)
{
    const struct msg_append *a = &msg->u.append;
    if (a->prev_term > msg->term ||
        (a->prev_index == 0) != (a->prev_term == 0) ||
        a->prev_index > RAFT_TERM_MAX ||
        a->n_entries > RAFT_TERM_MAX - a->prev_index) {
        return false;
    }
    raft_term floor = a->prev_term > 1 ? a->prev_term : 1;
    for (uint32_t i = 0; i < a->n_entries; i++) {
        raft_term t = a->entries[i].term;
        if (t < floor || t > msg->term) {
            return false;
        }
        floor = t;
    }
    return true;
}

bool raft_msg_is_plausible(const struct raft *r, const struct raft_msg *msg)
{
    if (msg->term > RAFT_TERM_MAX ||
        (msg->term > r->term && msg->term - r->term > RAFT_TERM_JUMP_MAX)) {
        return false;
    }
    switch (msg->type) {
    case MSG_VOTE:
        return msg->u.vote.last_term <= msg->term;
    case MSG_SNAPSHOT:
        return msg->u.snapshot.last_term <= msg->term;
    case MSG_APPEND:
        return append_is_plausible(msg);
    default:
        return true;
    }
}

/* Figure 2, Rules for Servers, Followers: "Respond to RPCs from candidates
 * and leaders." The term rule runs first for every message, then the
 * handler of its type. Thesis 3.10 (leadership transfer): a TimeoutNow from
 * our leader starts an election at once. */
int raft_step(struct raft *r, uint64_t now_ms, const struct raft_msg *msg)
{
    ASSERT(msg_type_is_peer(msg->type));
    ASSERT(msg->from != r->config.id);
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    if (!raft_msg_is_plausible(r, msg)) {
        raft_tracef(r, RAFT_TRACE_DEBUG, "implausible message from n%llu",
                    (unsigned long long)msg->from);
        return ERR_OK;
    }
    if (msg->type == MSG_VOTE && !raft_membership_knows(r, msg->from) &&
        raft_leader_heard(r)) {
        /* Thesis 4.2.3: while a leader is heard, a removed member (or one
         * our log does not know yet) never raises our term nor gets a
         * vote. Without a leader we listen: our config may be the stale
         * one, and the newer members need our vote. */
        raft_tracef(r, RAFT_TRACE_DEBUG, "vote from non-member n%llu ignored",
                    (unsigned long long)msg->from);
        return ERR_OK;
    }
    int older = raft_step_down_if_newer(r, msg);
    switch (msg->type) {
    case MSG_VOTE:
        return raft_on_vote(r, msg);
    case MSG_VOTE_REPLY:
        return older ? ERR_OK : raft_on_vote_reply(r, msg);
    case MSG_APPEND:
        return raft_on_append(r, msg);
    case MSG_APPEND_REPLY:
        return older ? ERR_OK : raft_on_append_reply(r, msg);
    case MSG_TIMEOUT_NOW:
        if (older || r->role == RAFT_LEADER || msg->from != r->leader ||
            raft_disk_blocks(r) || !raft_membership_can_campaign(r)) {
            return ERR_OK;
        }
        raft_tracef(r, RAFT_TRACE_INFO, "timeout-now from n%llu",
                    (unsigned long long)msg->from);
        return raft_become_candidate(r, false, true);
    case MSG_READ_INDEX:
        return raft_on_read_index(r, msg);
    case MSG_READ_INDEX_REPLY:
        return older ? ERR_OK : raft_on_read_index_reply(r, msg);
    case MSG_SNAPSHOT:
        return raft_on_snapshot(r, msg);
    case MSG_SNAPSHOT_REPLY:
        /* Past the term rules the transfer is the replica's
         * (node/snapshot_send.h); it calls raft_snapshot_done. */
        return ERR_OK;
    default:
        UNREACHABLE();
    }
}

/* Runs due timers: a follower's or candidate's election timeout
 * (raft_election_start), and a leader's check quorum, heartbeat
 * (raft_heartbeat) and commit notice. Thesis 6.2 (check quorum): "a leader
 * steps down if an election timeout elapses without a successful round of
 * heartbeats to a majority of its cluster"; any reply counts as one. */
int raft_tick(struct raft *r, uint64_t now_ms)
{
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    if (r->role != RAFT_LEADER) {
        if (r->role == RAFT_CANDIDATE && raft_election_won(r)) {
            /* Our own vote, the last one a quorum needed, is durable. */
            raft_tracef(r, RAFT_TRACE_INFO, "won (own vote durable)");
            return raft_become_leader(r);
        }
        raft_read_expire_forwarded(r, false);
        if (raft_election_due(r) && !raft_membership_can_campaign(r)) {
            raft_election_reset(r); /* Thesis 4.2.1: learners never do. */
        } else if (raft_election_due(r) && !raft_disk_blocks(r)) {
            return raft_election_start(r, false);
        }
        if (raft_election_due(r)) {
            raft_election_reset(r); /* Look again a timeout later. */
        }
        return ERR_OK;
    }
    if (raft_membership_tick(r)) {
        return ERR_OK;
    }
    if (r->config.check_quorum && r->now_ms >= r->quorum_check_ms) {
        /* Thesis 6.2: step down so clients can find a real leader. */
        bool active[RAFT_NODES_MAX];
        uint32_t n_active = 1;
        for (uint32_t i = 0; i < r->n_peers; i++) {
            active[i] = r->peers[i].active;
            n_active += active[i];
            r->peers[i].active = false;
        }
        r->quorum_check_ms = r->now_ms + r->config.election_ms;
        if (!raft_quorum_of(r, true, active)) {
            raft_tracef(r, RAFT_TRACE_INFO, "lost quorum active=%u/%u",
                        n_active, r->n_peers + 1);
            raft_become_follower(r, r->term, RAFT_ID_NONE);
            return ERR_OK;
        }
    }
    if (r->now_ms >= r->heartbeat_due_ms) {
        raft_heartbeat(r);
    }
    if (r->now_ms >= r->commit_notify_ms) {
        raft_commit_notify(r);
    }
    return ERR_OK;
}

uint64_t raft_deadline(const struct raft *r)
{
    if (r->role == RAFT_CANDIDATE && raft_election_won(r)) {
        return r->now_ms; /* raft_tick makes us leader. */
    }
    if (r->role != RAFT_LEADER) {
        uint64_t d = r->election_reset_ms + r->election_timeout_ms;
        uint64_t apply = r->last_apply_ms + r->config.apply_delay_ms;
        if (r->applied < r->commit && r->config.apply_batch_min > 0 &&
            apply < d) {
            d = apply;
        }
        uint64_t fwd = raft_read_forwarded_deadline(r);
        return fwd < d ? fwd : d;
    }
    uint64_t d = r->heartbeat_due_ms;
    if (r->commit_notify_ms < d) {
        d = r->commit_notify_ms;
    }
    if (r->config.check_quorum && r->quorum_check_ms < d) {
        d = r->quorum_check_ms;
    }
    /* raft_sync_wanted turns true then (once past, a drain asks, or a
     * sync already runs and its end wakes the caller). */
    uint64_t self_due = raft_sync_due(r, r->now_ms);
    if (self_due < d) {
        d = self_due;
    }
    return d;
}

/* True while a bad disk keeps this member from leading (raft.h). */
bool raft_disk_blocks(const struct raft *r)
{
    return !r->disk_ok && !RAFT_BUG(RAFT_BUG_DISK_IGNORED);
}

void raft_set_disk_ok(struct raft *r, bool ok)
{
    if (ok == r->disk_ok) {
        return;
    }
    r->disk_ok = ok;
    raft_tracef(r, RAFT_TRACE_INFO, "disk %s", ok ? "ok again" : "not ok");
    if (raft_disk_blocks(r) && r->role != RAFT_FOLLOWER) {
        /* Same term: no vote is cleared, nothing to persist. */
        raft_become_follower(r, r->term, RAFT_ID_NONE);
    }
}

bool raft_disk_ok(const struct raft *r)
{
    return r->disk_ok;
}

/* Figure 2, Rules for Servers, Leaders: "If command received from client:
 * append entry to local log, respond after entry applied to state machine."
 * The core appends; node/replica.c answers once the entry is applied. */
int raft_propose(struct raft *r, uint64_t now_ms, uint8_t entry_type,
                 const uint8_t *data, uint32_t len, raft_index *index)
{
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    if (r->role != RAFT_LEADER) {
        return ERR_NOT_LEADER;
    }
    if (len > RAFT_ENTRY_MAX) {
        return ERR_TOO_BIG;
    }
    if (r->transfer_to != RAFT_ID_NONE && entry_type == RAFT_ENTRY_NORMAL) {
        return ERR_BUSY; /* Thesis 3.10: no new writes while transferring. */
    }
    int rv = raft_log_append(&r->log, r->term, entry_type, data, len);
    if (rv != ERR_OK) {
        return rv;
    }
    struct raft_entry e = {r->term, entry_type, len, data};
    rv = raft_membership_on_append(r, raft_log_last_index(&r->log), &e);
    if (rv != ERR_OK) {
        return rv;
    }
    /* Nothing to send yet: raft_ready() batches every proposal made since
     * the last ready into one append per follower. */
    *index = raft_log_last_index(&r->log);
    return ERR_OK;
}

bool raft_has_ready(const struct raft *r)
{
    if (r->term != r->persisted_term || r->voted_for != r->persisted_vote) {
        return true;
    }
    if (r->truncate_from != 0 || r->stable < raft_log_last_index(&r->log)) {
        return true;
    }
    if (r->now.n > 0 || r->after.n > 0 || r->n_reads_ready > 0) {
        return true;
    }
    if (r->soft_changed || raft_apply_due(r) || r->n_snap_wanted > 0) {
        return true;
    }
    if (r->role == RAFT_LEADER) {
        for (uint32_t i = 0; i < r->n_peers; i++) {
            if (r->peers[i].send_pending) {
                return true;
            }
        }
    }
    return false;
}

/* Figure 2, State: persistent state is "updated on stable storage before
 * responding to RPCs". Replies, RequestVotes and a new term's messages go
 * in msgs_after, which the caller sends only after this batch's write; in
 * msgs_now go only appends (thesis 10.2.1: the leader writes in parallel),
 * pre-votes (they change nothing) and a leader's read messages in a term
 * already durable. */
void raft_ready(struct raft *r, struct raft_ready *rd)
{
    memset(rd, 0, sizeof *rd);
    if (r->role == RAFT_LEADER && raft_replication_send_due(r) != ERR_OK) {
        /* Out of memory or a failed fetch while building appends: they go
         * out later, at the next heartbeat; everything else in this batch
         * is still valid. */
        raft_tracef(r, RAFT_TRACE_INFO, "some appends not built");
    }
    if (r->term != r->persisted_term || r->voted_for != r->persisted_vote) {
        rd->has_hard_state = true;
        rd->term = r->term;
        rd->voted_for = r->voted_for;
        if (RAFT_BUG(RAFT_BUG_FORGET_VOTE)) {
            rd->voted_for = RAFT_ID_NONE;
        }
    }
    rd->truncate_from = r->truncate_from;
    raft_index last = raft_log_last_index(&r->log);
    if (r->stable < last) {
        rd->entries_first_index = r->stable + 1;
        rd->n_entries = (size_t)(last - r->stable);
        rd->entries = raft_log_get(&r->log, r->stable + 1);
    }
    rd->n_msgs_now = r->now.n;
    rd->msgs_now = r->now.msgs;
    rd->n_msgs_after = r->after.n;
    rd->msgs_after = r->after.msgs;
    raft_index upto = r->commit;
    if (RAFT_BUG(RAFT_BUG_APPLY_UNCOMMITTED)) {
        upto = last;
    }
    if (r->applied < upto && raft_apply_due(r)) {
        rd->committed_first_index = r->applied + 1;
        rd->n_committed = (size_t)(upto - r->applied);
        rd->committed = raft_log_get(&r->log, r->applied + 1);
    }
    rd->n_reads = r->n_reads_ready;
    rd->reads = r->reads_ready;
    rd->soft_state_changed = r->soft_changed;
    rd->n_snapshots = r->n_snap_wanted;
    rd->snapshots = r->snap_wanted;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
    if (rd->has_hard_state) {
        r->persisted_term = rd->term;
        r->persisted_vote = r->voted_for;
        if (!r->config.async_persist) {
            r->durable_term = rd->term; /* Written is durable. */
        }
    }
    if (rd->truncate_from != 0) {
        ASSERT(rd->truncate_from == r->truncate_from);
        r->truncate_from = 0;
    }
    if (rd->n_entries > 0) {
        r->stable = rd->entries_first_index + rd->n_entries - 1;
        ASSERT(r->stable <= raft_log_last_index(&r->log));
    }
    if (!r->config.async_persist) {
        r->synced = r->stable;
    } else if (r->synced < r->stable && r->unsynced_ms == UINT64_MAX) {
        r->unsynced_ms = r->now_ms;
    }
    if (rd->n_committed > 0) {
        r->applied = rd->committed_first_index + rd->n_committed - 1;
        r->last_apply_ms = r->now_ms;
    }
    raft_index keep = r->config.mem_entries_max;
    if (keep > 0 && r->applied > r->log.mem_first + keep + keep / 2) {
        /* Applied payloads beyond the window are in storage: free them in
         * large steps, so the array shift is rare. */
        raft_log_forget_upto(&r->log, r->applied - keep);
    }
    raft_fetched_free(r);
    r->now.n = 0;
    r->after.n = 0;
    r->fwd_batch_open = 0; /* Sent: later reads need a later request. */
    r->n_reads_ready = 0;
    r->soft_changed = false;
    r->n_snap_wanted = 0;
    if (r->role == RAFT_LEADER) {
        /* Our own write is durable now: count ourselves (thesis 10.2.1). */
        raft_maybe_commit(r);
    }
    ASSERT(r->commit <= raft_log_last_index(&r->log));
    ASSERT(r->synced <= r->stable); /* Known durable only once written. */
}

raft_id raft_self(const struct raft *r)
{
    return r->config.id;
}
int raft_role(const struct raft *r)
{
    return r->role;
}
raft_term raft_current_term(const struct raft *r)
{
    return r->term;
}
raft_id raft_voted_for(const struct raft *r)
{
    return r->voted_for;
}
raft_id raft_leader(const struct raft *r)
{
    return r->leader;
}
uint64_t raft_lost_acked(const struct raft *r)
{
    return r->lost_acked;
}
raft_index raft_commit_index(const struct raft *r)
{
    return r->commit;
}
raft_index raft_applied_index(const struct raft *r)
{
    return r->applied;
}

raft_index raft_last_index(const struct raft *r)
{
    return raft_log_last_index(&r->log);
}

raft_term raft_last_term(const struct raft *r)
{
    return raft_log_last_term(&r->log);
}

raft_term raft_term_at(const struct raft *r, raft_index index)
{
    if (index == 0 || index < r->log.snapshot_index) {
        return 0;
    }
    return raft_log_term_at(&r->log, index);
}

uint32_t raft_election_timeout_ms(const struct raft *r)
{
    return r->election_timeout_ms;
}

uint64_t raft_election_elapsed_ms(const struct raft *r, uint64_t now_ms)
{
    return now_ms > r->election_reset_ms ? now_ms - r->election_reset_ms : 0;
}

uint64_t raft_leader_contact_ms(const struct raft *r, uint64_t now_ms)
{
    if (r->role == RAFT_LEADER) {
        return 0;
    }
    if (r->leader_contact_ms == UINT64_MAX) {
        return UINT64_MAX;
    }
    return now_ms > r->leader_contact_ms ? now_ms - r->leader_contact_ms : 0;
}

uint32_t raft_progress(const struct raft *r, uint64_t now_ms,
                       struct status_peer *out, uint32_t cap)
{
    if (r->role != RAFT_LEADER) {
        return 0;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_peers && n < cap; i++, n++) {
        const struct raft_peer *p = &r->peers[i];
        out[n].id = p->id;
        out[n].match = p->match;
        out[n].next = p->next;
        out[n].last_ack_ms =
            now_ms > p->last_ack_ms ? now_ms - p->last_ack_ms : 0;
    }
    return n;
}
