/*
 * Linearizable reads without log writes (ReadIndex, thesis 6.4): the leader
 * records its commit index (at least its own term's no-op), confirms it is
 * still leader with a heartbeat round that every read arriving meanwhile
 * shares (at most one round in flight), and hands the read back once a
 * majority acknowledged that round;
 * the caller serves it once applied >= index. Pure: no I/O, no clock.
 */
#include "node/raft_int.h"

#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

/* Whether a majority (us included) acknowledged heartbeat round ctx. */
static bool round_confirmed(const struct raft *r, uint64_t ctx)
{
    uint32_t acks = 1;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        acks += r->peers[i].ack_ctx >= ctx;
    }
    return acks >= raft_quorum(r);
}

/* A new round, sent at the next raft_ready() to every follower. */
static void start_round(struct raft *r)
{
    r->hb_ctx++;
    r->hb_ctx_sent = false;
    r->read_round_queued = false;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        r->peers[i].send_pending = true;
    }
}

static void push_ready(struct raft *r, uint64_t read_id, raft_index index,
                       bool ok)
{
    ASSERT(r->n_reads_ready < RAFT_READS_MAX);
    struct raft_read *rd = &r->reads_ready[r->n_reads_ready++];
    rd->read_id = read_id;
    rd->index = index;
    rd->ok = ok;
}

int raft_read_index(struct raft *r, uint64_t now_ms, uint64_t read_id)
{
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    if (r->role != RAFT_LEADER) {
        return ERR_NOT_LEADER;
    }
    if (r->n_reads_waiting + r->n_reads_ready >= RAFT_READS_MAX) {
        return ERR_AGAIN;
    }
    /* Until our no-op commits, our commit index may lag the cluster's: the
     * read must see at least that entry applied. */
    raft_index index = r->commit;
    if (index < r->term_start_index) {
        index = r->term_start_index;
    }
    if (RAFT_BUG(RAFT_BUG_STALE_READ)) {
        push_ready(r, read_id, r->commit, true);
        return ERR_OK;
    }
    if (r->n_peers == 0) {
        push_ready(r, read_id, index, true);
        return ERR_OK;
    }
    struct raft_read_req *q = &r->reads_waiting[r->n_reads_waiting++];
    q->read_id = read_id;
    q->index = index;
    q->ctx = r->hb_ctx;
    if (!r->hb_ctx_sent) {
        return ERR_OK; /* The current round has not gone out yet: join it. */
    }
    if (round_confirmed(r, r->hb_ctx)) {
        start_round(r);
        q->ctx = r->hb_ctx;
        return ERR_OK;
    }
    /* A round is in flight: join the next one, started when this one is
     * confirmed, so reads arriving one by one cost one round per RTT
     * rather than one each. */
    q->ctx = r->hb_ctx + 1;
    r->read_round_queued = true;
    return ERR_OK;
}

/* A follower acknowledged a round: release every read whose round a
 * majority (us included) has acknowledged. Rounds only grow along the
 * queue, so reads leave it in order. */
void raft_read_on_ack(struct raft *r)
{
    size_t done = 0;
    while (done < r->n_reads_waiting) {
        const struct raft_read_req *q = &r->reads_waiting[done];
        if (!round_confirmed(r, q->ctx)) {
            break;
        }
        push_ready(r, q->read_id, q->index, true);
        done++;
    }
    if (done > 0) {
        memmove(r->reads_waiting, r->reads_waiting + done,
                (r->n_reads_waiting - done) * sizeof *r->reads_waiting);
        r->n_reads_waiting -= done;
    }
    if (r->read_round_queued && round_confirmed(r, r->hb_ctx)) {
        start_round(r);
    }
}

/* Leadership lost: no waiting read can be confirmed any more. */
void raft_read_fail_all(struct raft *r)
{
    for (size_t i = 0; i < r->n_reads_waiting; i++) {
        push_ready(r, r->reads_waiting[i].read_id, 0, false);
    }
    r->n_reads_waiting = 0;
    r->read_round_queued = false;
}
