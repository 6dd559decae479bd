/*
 * Linearizable reads without log writes (ReadIndex, thesis 6.4): the leader
 * records its commit index (at least its own term's no-op), confirms it is
 * still leader with a heartbeat round that every read arriving meanwhile
 * shares (at most one round in flight), and hands the read back once a
 * majority acknowledged that round; the caller serves it once applied >=
 * index. A follower serves reads too: it forwards the request to the leader
 * (MSG_READ_INDEX; the reads of one wakeup share one), which runs the same
 * rounds and answers with the index.
 * Pure: no I/O, no clock. Read node/raft_sync.c next.
 */
#include "node/raft_int.h"

#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

/* Whether a majority (us included) acknowledged heartbeat round ctx. */
static bool round_confirmed(const struct raft *r, uint64_t ctx)
{
    bool acked[RAFT_NODES_MAX];
    for (uint32_t i = 0; i < r->n_peers; i++) {
        acked[i] = r->peers[i].ack_ctx >= ctx;
    }
    return raft_quorum_of(r, true, acked);
}

void raft_read_start_round(struct raft *r)
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

/* Read messages carry our term, which may be new in this batch: they go
 * out after the hard state is durable, like every message but appends. A
 * leader's term was durable before it could win it, so its replies go at
 * once (with async_persist they would otherwise wait for a sync). */
static int send_read_msg(struct raft *r, const struct raft_msg *m)
{
    bool now = r->role == RAFT_LEADER && r->term == r->persisted_term;
    return raft_outbox_push(now ? &r->now : &r->after, m);
}

/* Follower: asks the leader for a read index on the caller's behalf. */
static int forward_read(struct raft *r, uint64_t read_id)
{
    if (r->fwd_batch_open != 0 && r->fwd_batch_leader == r->leader) {
        /* A request to this leader goes out in this ready batch: the
         * index it brings back is new enough for this read too, which
         * arrived before it was sent. One message for a wakeup's reads. */
        struct raft_fwd_read *f = &r->reads_fwd[r->n_reads_fwd++];
        f->read_id = read_id;
        f->batch_id = r->fwd_batch_open;
        f->leader = r->leader;
        f->sent_ms = r->now_ms;
        return ERR_OK;
    }
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_READ_INDEX;
    m.from = r->config.id;
    m.to = r->leader;
    m.term = r->term;
    m.u.read_index.read_id = read_id;
    int rv = send_read_msg(r, &m);
    if (rv != ERR_OK) {
        return rv;
    }
    struct raft_fwd_read *f = &r->reads_fwd[r->n_reads_fwd++];
    f->read_id = read_id;
    f->batch_id = read_id;
    f->leader = r->leader;
    f->sent_ms = r->now_ms;
    r->fwd_batch_open = read_id;
    r->fwd_batch_leader = r->leader;
    return ERR_OK;
}

/* Queues a read (local when from is 0, else a follower's) for the next
 * round. */
static void enqueue_read(struct raft *r, raft_id from, uint64_t read_id,
                         raft_index index);

/* Thesis 6.4 (ReadIndex), steps 1-2: a leader that has not yet committed an
 * entry of its term waits until it has, then saves its commit index as the
 * read index (here: at least its no-op, term_start_index). Step 3 is the
 * heartbeat round (enqueue_read, raft_read_on_ack); steps 4-5, wait for
 * the state machine to reach the index and serve, are the caller's. */
int raft_read_index(struct raft *r, uint64_t now_ms, uint64_t read_id)
{
    if (now_ms > r->now_ms) {
        r->now_ms = now_ms;
    }
    if (r->n_reads_waiting + r->n_reads_ready + r->n_reads_fwd >=
        RAFT_READS_MAX) {
        return ERR_AGAIN;
    }
    if (r->role == RAFT_FOLLOWER && r->leader != RAFT_ID_NONE) {
        return forward_read(r, read_id);
    }
    if (r->role != RAFT_LEADER) {
        return ERR_NOT_LEADER;
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
    enqueue_read(r, RAFT_ID_NONE, read_id, index);
    return ERR_OK;
}

static void enqueue_read(struct raft *r, raft_id from, uint64_t read_id,
                         raft_index index)
{
    ASSERT(r->role == RAFT_LEADER);
    ASSERT(index >= r->term_start_index); /* Thesis 6.4, step 1. */
    ASSERT(r->n_reads_waiting < RAFT_READS_MAX);
    struct raft_read_req *q = &r->reads_waiting[r->n_reads_waiting++];
    q->from = from;
    q->read_id = read_id;
    q->index = index;
    q->ctx = r->hb_ctx;
    if (!r->hb_ctx_sent) {
        return; /* The current round has not gone out yet: join it. */
    }
    if (round_confirmed(r, r->hb_ctx)) {
        raft_read_start_round(r);
        q->ctx = r->hb_ctx;
        return;
    }
    /* A round is in flight: join the next one, started when this one is
     * confirmed, so reads arriving one by one cost one round per RTT
     * rather than one each. */
    q->ctx = r->hb_ctx + 1;
    r->read_round_queued = true;
}

static int reply_read(struct raft *r, raft_id to, uint64_t read_id,
                      raft_index index, bool ok)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_READ_INDEX_REPLY;
    m.from = r->config.id;
    m.to = to;
    m.term = r->term;
    m.u.read_index_reply.read_id = read_id;
    m.u.read_index_reply.index = index;
    m.u.read_index_reply.ok = ok;
    return send_read_msg(r, &m);
}

/* Thesis 6.4: a follower serves reads too, asking the leader for the
 * current read index. Leader: a follower's read joins our rounds like a
 * local one, with the same index (steps 1-2). */
int raft_on_read_index(struct raft *r, const struct raft_msg *msg)
{
    uint64_t read_id = msg->u.read_index.read_id;
    if (r->role != RAFT_LEADER || msg->term != r->term ||
        r->n_reads_waiting >= RAFT_READS_MAX) {
        return reply_read(r, msg->from, read_id, 0, false);
    }
    raft_index index = r->commit;
    if (index < r->term_start_index) {
        index = r->term_start_index;
    }
    enqueue_read(r, msg->from, read_id, index);
    return ERR_OK;
}

/* Follower: the leader named the index for one of our forwarded reads. */
int raft_on_read_index_reply(struct raft *r, const struct raft_msg *msg)
{
    const struct msg_read_index_reply *rep = &msg->u.read_index_reply;
    size_t i = 0;
    while (i < r->n_reads_fwd) {
        struct raft_fwd_read *f = &r->reads_fwd[i];
        if (f->batch_id != rep->read_id || f->leader != msg->from) {
            i++;
            continue;
        }
        push_ready(r, f->read_id, rep->index, rep->ok);
        if (rep->ok && rep->index > r->read_apply_upto) {
            r->read_apply_upto = rep->index; /* Apply promptly up to it. */
        }
        *f = r->reads_fwd[--r->n_reads_fwd];
    }
    return ERR_OK; /* Also when late, duplicated or not ours. */
}

/* Follower: fails forwarded reads whose answer is overdue (a lost
 * datagram) or that were sent to a leader we no longer follow. */
void raft_read_expire_forwarded(struct raft *r, bool all)
{
    size_t i = 0;
    while (i < r->n_reads_fwd) {
        struct raft_fwd_read *f = &r->reads_fwd[i];
        if (all || f->leader != r->leader ||
            r->now_ms >= f->sent_ms + r->config.election_ms) {
            push_ready(r, f->read_id, 0, false);
            *f = r->reads_fwd[--r->n_reads_fwd];
        } else {
            i++;
        }
    }
}

uint64_t raft_read_forwarded_deadline(const struct raft *r)
{
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < r->n_reads_fwd; i++) {
        uint64_t t = r->reads_fwd[i].sent_ms + r->config.election_ms;
        if (t < d) {
            d = t;
        }
    }
    return d;
}

/* Thesis 6.4, step 3: the leader "issues a new round of heartbeats and
 * waits for their acknowledgments from a majority of the cluster", which
 * proves no newer leader existed when the read arrived. A follower
 * acknowledged a round: release every read whose round a majority (us
 * included) has acknowledged. Rounds only grow along the queue, so reads
 * leave it in order. */
void raft_read_on_ack(struct raft *r)
{
    ASSERT(r->role == RAFT_LEADER); /* Only a leader confirms a round. */
    size_t done = 0;
    while (done < r->n_reads_waiting) {
        const struct raft_read_req *q = &r->reads_waiting[done];
        if (!round_confirmed(r, q->ctx)) {
            break;
        }
        if (q->from == RAFT_ID_NONE) {
            push_ready(r, q->read_id, q->index, true);
        } else if (reply_read(r, q->from, q->read_id, q->index, true) !=
                   ERR_OK) {
            break; /* Out of memory: try again at the next ack. */
        }
        done++;
    }
    if (done > 0) {
        memmove(r->reads_waiting, r->reads_waiting + done,
                (r->n_reads_waiting - done) * sizeof *r->reads_waiting);
        r->n_reads_waiting -= done;
    }
    if (r->read_round_queued && round_confirmed(r, r->hb_ctx)) {
        raft_read_start_round(r);
    }
}

/* Leadership lost: no waiting read can be confirmed any more. */
void raft_read_fail_all(struct raft *r)
{
    for (size_t i = 0; i < r->n_reads_waiting; i++) {
        const struct raft_read_req *q = &r->reads_waiting[i];
        if (q->from == RAFT_ID_NONE) {
            push_ready(r, q->read_id, 0, false);
        } else {
            /* Best effort: the follower also times out on its own. */
            (void)reply_read(r, q->from, q->read_id, 0, false);
        }
    }
    r->n_reads_waiting = 0;
    r->read_round_queued = false;
}
