/*
 * Leader election (Raft paper 5.2 and 5.4.1, thesis 9.6): the randomized
 * election timer, pre-vote, RequestVote with the election restriction, the
 * one-vote-per-term rule, leader stickiness, and the tally. Randomness comes
 * from the PRNG seeded by the caller. Pure: no I/O, no clock.
 */
#include "node/raft_int.h"

#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

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

/* Thesis 4.2.3 and 6.2: while a leader is known to be alive (heard from
 * within the minimum election timeout), refuse to help depose it. */
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

static uint32_t tally(const struct raft *r)
{
    uint32_t votes = 1; /* Our own. */
    for (uint32_t i = 0; i < r->n_peers; i++) {
        votes += r->peers[i].vote_granted;
    }
    return votes;
}

static int send_vote_requests(struct raft *r, bool pre_vote, bool transfer)
{
    for (uint32_t i = 0; i < r->n_peers; i++) {
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
        raft_tracef(r, RAFT_TRACE_INFO, "election started%s",
                    transfer ? " (transfer)" : "");
    }
    if (tally(r) >= raft_quorum(r)) {
        return pre_vote ? raft_become_candidate(r, false, transfer)
                        : raft_become_leader(r);
    }
    return send_vote_requests(r, pre_vote, transfer);
}

int raft_election_start(struct raft *r, bool transfer)
{
    raft_tracef(r, RAFT_TRACE_INFO, "election timeout after %ums%s",
                r->election_timeout_ms,
                r->leader_contact_ms == UINT64_MAX ? " (no leader seen)" : "");
    return raft_become_candidate(r, r->config.pre_vote && !transfer, transfer);
}

/* Paper 5.4.1: the candidate's log must be at least as up-to-date as ours:
 * a later last term, or the same last term and at least as long. */
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

/* Figure 2, RequestVote receiver; the caller already applied the term
 * rule. The reply waits for our vote to be durable (msgs_after). */
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
        r->voted_for = msg->from;
        raft_election_reset(r);
    }
    raft_tracef(r, RAFT_TRACE_INFO, "%svote for n%llu %s (%s)",
                msg->u.vote.pre_vote ? "pre-" : "",
                (unsigned long long)msg->from, granted ? "granted" : "refused",
                why);
    return raft_outbox_push(&r->after, &reply);
}

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
    uint32_t votes = tally(r);
    if (votes < raft_quorum(r)) {
        return ERR_OK;
    }
    raft_tracef(r, RAFT_TRACE_INFO, "%swon votes=%u/%u",
                v->pre_vote ? "pre-vote " : "", votes, r->config.n_members);
    if (v->pre_vote) {
        return raft_become_candidate(r, false, false);
    }
    return raft_become_leader(r);
}
