/*
 * Linearizable reads without log writes (ReadIndex, thesis 6.4): the leader
 * records its commit index (at least its own term's no-op), confirms it is
 * still leader with one heartbeat round that every read of the same wakeup
 * shares, and hands the read back once a majority acknowledged that round;
 * the caller serves it once applied >= index. Pure: no I/O, no clock.
 */
#include "node/raft_int.h"

#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

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
    if (r->hb_ctx_sent) {
        /* A new round, sent at the next raft_ready() to every follower. */
        r->hb_ctx++;
        r->hb_ctx_sent = false;
        for (uint32_t i = 0; i < r->n_peers; i++) {
            r->peers[i].send_pending = true;
        }
    }
    struct raft_read_req *q = &r->reads_waiting[r->n_reads_waiting++];
    q->read_id = read_id;
    q->index = index;
    q->ctx = r->hb_ctx;
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
        uint32_t acks = 1;
        for (uint32_t i = 0; i < r->n_peers; i++) {
            acks += r->peers[i].ack_ctx >= q->ctx;
        }
        if (acks < raft_quorum(r)) {
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
}

/* Leadership lost: no waiting read can be confirmed any more. */
void raft_read_fail_all(struct raft *r)
{
    for (size_t i = 0; i < r->n_reads_waiting; i++) {
        push_ready(r, r->reads_waiting[i].read_id, 0, false);
    }
    r->n_reads_waiting = 0;
}
