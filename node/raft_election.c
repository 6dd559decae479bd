/*
 * Leader election (Raft paper 5.2 and 5.4.1, thesis 9.6): the randomized
 * election timer, pre-vote, RequestVote with the election restriction, the
 * one-vote-per-term rule, leader stickiness, and the tally. Randomness comes
 * from the PRNG seeded by the caller. Pure: no I/O, no clock. Read
 * node/raft_replication.c next.
 */
#include "node/raft_int.h"

#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

/* Restarts the election timer. Figure 2 counts the timeout from the last
 * AppendEntries from the current leader (raft_on_append) or vote granted
 * (raft_on_vote); a new candidate resets it too (raft_become_candidate). */
void raft_election_reset(struct raft *r)
{
    r->election_reset_ms = r->now_ms;
    /* Paper 5.2: a timeout drawn uniformly from [T, 2T) spreads
     * candidates out so that one usually wins before others wake up. */
    r->election_timeout_ms = (uint32_t)rng_range(&r->rng, r->config.election_ms,
                                                 2ull * r->config.election_ms);
}

bool raft_election_due(const struct raft *r)
{
    return r->now_ms >= r->election_reset_ms + r->election_timeout_ms;
}

/* Thesis 4.2.3 (leader stickiness): "if a server receives a RequestVote
 * request within the minimum election timeout of hearing from a current
 * leader, it does not update its term or grant its vote". Only with
 * config.check_quorum (thesis 6.2). */
bool raft_in_lease(const struct raft *r)
{
    if (!r->config.check_quorum) {
        return false;
    }
    if (r->role == RAFT_LEADER) {
        return true;
    }
    return r->leader != RAFT_ID_NONE && r->leader_contact_ms != UINT64_MAX &&
           r->now_ms < r->leader_contact_ms + r->config.election_ms;
}

/* Leader, or a follower that heard its leader within election_ms (the
 * lease of thesis 4.2.3 without check quorum). */
bool raft_leader_heard(const struct raft *r)
{
    if (r->role == RAFT_LEADER) {
        return true;
    }
    return r->leader != RAFT_ID_NONE && r->leader_contact_ms != UINT64_MAX &&
           r->now_ms < r->leader_contact_ms + r->config.election_ms;
}

/* Votes granted in this election, our own included. */
static uint32_t tally(const struct raft *r)
{
    uint32_t votes = 1; /* Our own. */
    for (uint32_t i = 0; i < r->n_peers; i++) {
        votes += r->peers[i].vote_granted;
    }
    return votes;
}

/* Figure 2, State: our vote for ourselves counts only once it is on
 * stable storage, like any vote. A candidate with other voters sends its
 * RequestVotes only then (msgs_after), so a granted vote proves it
 * (raft_on_vote_reply notes that); a single voter hears no votes and
 * learns it from the caller (raft_advance, or raft_persisted_term with
 * async_persist). Were it to lead at once, it would write entries of a
 * term not yet durable: a crash then brings it back in the term before,
 * to win the same term again and write other entries under the same
 * indexes and term, and any append it sent meanwhile would leave a learner
 * holding the first ones. A pre-vote promises nothing: ours counts. */
bool raft_self_vote_counts(const struct raft *r)
{
    return r->role == RAFT_PRECANDIDATE || r->durable_term >= r->term ||
           RAFT_BUG(RAFT_BUG_SELF_VOTE_EARLY);
}

/* Thesis 4.3: a majority of each voter set (ours counts once durable). */
bool raft_election_won(const struct raft *r)
{
    if (r->role != RAFT_CANDIDATE && r->role != RAFT_PRECANDIDATE) {
        return false;
    }
    bool granted[RAFT_NODES_MAX];
    for (uint32_t i = 0; i < r->n_peers; i++) {
        granted[i] = r->peers[i].vote_granted;
    }
    return raft_quorum_of(r, raft_self_vote_counts(r), granted);
}

static int send_vote_requests(struct raft *r, bool pre_vote, bool transfer)
{
    for (uint32_t i = 0; i < r->n_peers; i++) {
        if (!membership_is_voter(&r->conf, r->peers[i].id)) {
            continue; /* Thesis 4.2.1: learners do not vote. */
        }
        struct raft_msg m;
        memset(&m, 0, sizeof m);
        m.type = MSG_VOTE;
        m.from = r->config.id;
        m.to = r->peers[i].id;
        m.term = pre_vote ? r->term + 1 : r->term;
        m.u.vote.last_index = raft_log_last_index(&r->log);
        m.u.vote.last_term = raft_log_last_term(&r->log);
        m.u.vote.pre_vote = pre_vote;
        m.u.vote.transfer = transfer;
        /* A real RequestVote carries a new term and our own vote: both must
         * be durable first. A pre-vote changes nothing. */
        int rv = raft_outbox_push(pre_vote ? &r->now : &r->after, &m);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    return ERR_OK;
}

/* Figure 2, Rules for Servers, Candidates: "On conversion to candidate,
 * start election: Increment currentTerm; Vote for self; Reset election
 * timer; Send RequestVote RPCs to all other servers." Thesis 9.6
 * (pre-vote): a pre-candidate first asks whether it could win, with the
 * term it would use, and changes neither its term nor its vote; only a
 * majority of yes makes it a candidate. */
int raft_become_candidate(struct raft *r, bool pre_vote, bool transfer)
{
    ASSERT(r->role != RAFT_LEADER);
    for (uint32_t i = 0; i < r->n_peers; i++) {
        r->peers[i].vote_granted = false;
    }
    r->leader = RAFT_ID_NONE;
    r->soft_changed = true;
    raft_read_expire_forwarded(r, true);
    raft_election_reset(r);
    if (pre_vote) {
        r->role = RAFT_PRECANDIDATE;
        raft_tracef(r, RAFT_TRACE_INFO, "pre-vote started for term %llu",
                    (unsigned long long)(r->term + 1));
    } else {
        r->term++;
        r->voted_for = r->config.id;
        r->role = RAFT_CANDIDATE;
        /* Neither is durable yet: the RequestVotes wait in msgs_after. */
        ASSERT(r->term > r->persisted_term);
        raft_tracef(r, RAFT_TRACE_INFO, "election started%s",
                    transfer ? " (transfer)" : "");
    }
    if (raft_election_won(r)) {
        return pre_vote ? raft_become_candidate(r, false, transfer)
                        : raft_become_leader(r);
    }
    return send_vote_requests(r, pre_vote, transfer);
}

/* Figure 2, Rules for Servers, Followers: "If election timeout elapses
 * without receiving AppendEntries RPC from current leader or granting vote
 * to candidate: convert to candidate." Candidates: "If election timeout
 * elapses: start new election." Called by raft_tick once
 * raft_election_due. */
int raft_election_start(struct raft *r, bool transfer)
{
    raft_tracef(r, RAFT_TRACE_INFO, "election timeout after %ums%s",
                r->election_timeout_ms,
                r->leader_contact_ms == UINT64_MAX ? " (no leader seen)" : "");
    return raft_become_candidate(r, r->config.pre_vote && !transfer, transfer);
}

/* Paper 5.4.1: "If the logs have last entries with different terms, then
 * the log with the later term is more up-to-date. If the logs end with the
 * same term, then whichever log is longer is more up-to-date." */
static bool log_up_to_date(const struct raft *r, const struct msg_vote *v)
{
    if (RAFT_BUG(RAFT_BUG_NO_ELECTION_RESTRICTION)) {
        return true;
    }
    raft_term last_term = raft_log_last_term(&r->log);
    if (v->last_term != last_term) {
        return v->last_term > last_term;
    }
    return v->last_index >= raft_log_last_index(&r->log);
}

/* Figure 2, RequestVote RPC, receiver implementation: "1. Reply false if
 * term < currentTerm. 2. If votedFor is null or candidateId, and
 * candidate's log is at least as up-to-date as receiver's log, grant
 * vote." Thesis 9.6: a pre-vote is granted when a real vote could be, for
 * a term above ours. Sets *granted; returns the reason for the trace. */
static const char *decide_vote(struct raft *r, const struct raft_msg *msg,
                               bool *granted)
{
    const struct msg_vote *v = &msg->u.vote;
    *granted = false;
    if (v->pre_vote) {
        /* Thesis 9.6: grant a pre-vote if a real vote could be granted. */
        if (msg->term <= r->term) {
            return "stale term";
        }
        if (!v->transfer && raft_in_lease(r)) {
            return "leader alive";
        }
        if (!log_up_to_date(r, v)) {
            return "log behind";
        }
        *granted = true;
        return "ok";
    }
    if (msg->term != r->term) {
        /* Older, or newer but refused under the lease (term unchanged). */
        return msg->term < r->term ? "stale term" : "leader alive";
    }
    if (r->voted_for != RAFT_ID_NONE && r->voted_for != msg->from) {
        return "already voted";
    }
    if (!log_up_to_date(r, v)) {
        return "log behind";
    }
    *granted = true;
    return "ok";
}

/* Figure 2, RequestVote receiver (decide_vote); the caller already applied
 * the term rule. Figure 2, State: the reply waits for our vote to be
 * durable (msgs_after). A granted vote resets the election timer. */
int raft_on_vote(struct raft *r, const struct raft_msg *msg)
{
    bool granted;
    const char *why = decide_vote(r, msg, &granted);
    struct raft_msg reply;
    memset(&reply, 0, sizeof reply);
    reply.type = MSG_VOTE_REPLY;
    reply.from = r->config.id;
    reply.to = msg->from;
    reply.term = r->term;
    reply.u.vote_reply.pre_vote = msg->u.vote.pre_vote;
    reply.u.vote_reply.granted = granted;
    if (granted && msg->u.vote.pre_vote) {
        reply.term = msg->term;
    } else if (granted) {
        /* At most one vote per term: none yet, or this candidate again. */
        ASSERT(msg->term == r->term);
        ASSERT(r->voted_for == RAFT_ID_NONE || r->voted_for == msg->from);
        r->voted_for = msg->from;
        raft_election_reset(r);
    }
    raft_tracef(r, RAFT_TRACE_INFO, "%svote for n%llu %s (%s)",
                msg->u.vote.pre_vote ? "pre-" : "",
                (unsigned long long)msg->from, granted ? "granted" : "refused",
                why);
    return raft_outbox_push(&r->after, &reply);
}

/* Figure 2, Rules for Servers, Candidates: "If votes received from
 * majority of servers: become leader." A pre-candidate's majority makes it
 * a candidate (thesis 9.6). */
int raft_on_vote_reply(struct raft *r, const struct raft_msg *msg)
{
    const struct msg_vote_reply *v = &msg->u.vote_reply;
    struct raft_peer *p = raft_peer_find(r, msg->from);
    if (p == NULL || !v->granted) {
        return ERR_OK;
    }
    if (v->pre_vote) {
        if (r->role != RAFT_PRECANDIDATE || msg->term != r->term + 1) {
            return ERR_OK;
        }
    } else if (r->role != RAFT_CANDIDATE || msg->term != r->term) {
        return ERR_OK;
    }
    p->vote_granted = true;
    if (!v->pre_vote && r->durable_term < r->term) {
        /* It answered a RequestVote sent once our vote was durable. */
        r->durable_term = r->term;
    }
    if (!raft_election_won(r)) {
        return ERR_OK;
    }
    raft_tracef(r, RAFT_TRACE_INFO, "%swon votes=%u/%u",
                v->pre_vote ? "pre-vote " : "", tally(r), r->n_peers + 1);
    if (v->pre_vote) {
        return raft_become_candidate(r, false, false);
    }
    return raft_become_leader(r);
}
