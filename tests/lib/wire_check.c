/*
 * Sample messages and the codec consistency property for tests and fuzzing.
 * Uses static storage: not reentrant, never used by production code.
 */
#include "tests/lib/wire_check.h"

#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "common/wire.h"

static const uint8_t sample_bytes[] = "key-1\0value with a \xff byte";
static const struct raft_entry sample_entries[] = {
    {.term = 3, .type = RAFT_ENTRY_NOOP, .len = 0, .data = NULL},
    {.term = 3, .type = RAFT_ENTRY_NORMAL, .len = 12, .data = sample_bytes},
    {.term = UINT64_MAX,
     .type = RAFT_ENTRY_CONFIG,
     .len = 5,
     .data = sample_bytes},
};

/* Samples 20-22 reach the 16-bit array and bin forms. */
static uint8_t sample_long[300];
static struct raft_entry sample_batch[20];

/* Sample 25: a client batch of two bins ("ab" and an empty one); the
 * decoder checks the framing, not what the items hold. */
static const uint8_t sample_items[] = {0xc4, 0x02, 'a', 'b', 0xc4, 0x00};

int wire_check_n_samples(void)
{
    return 33;
}

/* Samples 30 and 31 (32 is a lease): a trace batch of every edge (a coalesced heartbeat, a
 * pre-vote, a refused append reply) and an empty one. */
static const struct trace_event sample_trace[] = {
    {TRACE_APPEND, 3, 7, 120, 0, false, 40, 5, 19},
    {TRACE_PREVOTE, RAFT_ID_MAX, UINT64_MAX, UINT64_MAX, 0, false, 30, 1, 0},
    {TRACE_APPEND_REPLY, 2, 7, 99, 64, true, UINT32_MAX, UINT32_MAX,
     UINT32_MAX},
};

static void sample_large(int i, struct raft_msg *m)
{
    switch (i) {
    case 20:
        m->type = MSG_APPEND;
        for (int k = 0; k < 20; k++) {
            sample_batch[k] = (struct raft_entry){
                .term = k < 10 ? 200 : 70000,
                .type = RAFT_ENTRY_NORMAL,
                .len = k == 5 ? sizeof sample_long : (uint32_t)k,
                .data = sample_long};
        }
        m->u.append = (struct msg_append){1000, 200, 999, 3, 20, sample_batch};
        break;
    case 21:
        m->type = MSG_STATUS_REPLY;
        m->u.status_reply.role = RAFT_LEADER;
        m->u.status_reply.n_peers = RAFT_NODES_MAX;
        for (uint32_t k = 0; k < RAFT_NODES_MAX; k++) {
            m->u.status_reply.peers[k] =
                (struct status_peer){k + 1, 1000 + k, 1001 + k, 65536};
            m->u.status_reply.blocked[k] = RAFT_ID_MAX - k;
        }
        m->u.status_reply.n_blocked = RAFT_NODES_MAX;
        m->u.status_reply.tail_first = UINT64_MAX - STATUS_TAIL_MAX;
        m->u.status_reply.n_tail = STATUS_TAIL_MAX;
        for (uint32_t k = 0; k < STATUS_TAIL_MAX; k++) {
            m->u.status_reply.tail_terms[k] = UINT64_MAX - k;
        }
        m->u.status_reply.delay_ms = m->u.status_reply.jitter_ms = UINT32_MAX;
        m->u.status_reply.snapshot_index = UINT64_MAX - STATUS_TAIL_MAX - 1;
        m->u.status_reply.snapshot_term = UINT64_MAX;
        m->u.status_reply.recv = (struct status_transfer){0, 0, 0};
        m->u.status_reply.n_sends = RAFT_NODES_MAX;
        for (uint32_t k = 0; k < RAFT_NODES_MAX; k++) {
            m->u.status_reply.sends[k] =
                (struct status_transfer){k + 1, UINT64_MAX - k, UINT64_MAX};
        }
        m->u.status_reply.lost_acked = UINT64_MAX;
        m->u.status_reply.disk = STATUS_DISK_HUNG;
        m->u.status_reply.config_len = MEMBERSHIP_TEXT_MAX - 1;
        memset(m->u.status_reply.config, '7', MEMBERSHIP_TEXT_MAX - 1);
        break;
    default:
        m->type = MSG_CLIENT_REPLY;
        m->u.client_reply = (struct msg_client_reply){
            9, 10, CLIENT_OK, 2, sizeof sample_long, sample_long};
        break;
    }
}

static void sample_peer(int i, struct raft_msg *m)
{
    switch (i) {
    case 0:
        m->type = MSG_VOTE;
        m->u.vote = (struct msg_vote){.last_index = 7, .last_term = 2};
        break;
    case 1:
        m->type = MSG_VOTE;
        m->from = RAFT_ID_MAX;
        m->to = RAFT_ID_MAX;
        m->term = UINT64_MAX;
        m->u.vote = (struct msg_vote){UINT64_MAX, UINT64_MAX, true, true};
        break;
    case 2:
        m->type = MSG_VOTE_REPLY;
        m->u.vote_reply.granted = true;
        break;
    case 3:
        m->type = MSG_APPEND;
        m->u.append = (struct msg_append){
            .prev_index = 9, .prev_term = 4, .commit = 8, .ctx = 77};
        break;
    case 4:
        m->type = MSG_APPEND;
        m->u.append = (struct msg_append){10, 5, 10, 1, 3, sample_entries};
        break;
    case 5:
        m->type = MSG_APPEND_REPLY;
        m->u.append_reply = (struct msg_append_reply){
            .success = true, .match_index = 12, .last_index = 12, .ctx = 1};
        break;
    case 6:
        m->type = MSG_APPEND_REPLY;
        m->u.append_reply =
            (struct msg_append_reply){false, 0, 40, 35, 6, 30, UINT64_MAX};
        break;
    case 7:
        m->type = MSG_SNAPSHOT;
        m->u.snapshot = (struct msg_snapshot){100,
                                              9,
                                              4096,
                                              true,
                                              sizeof sample_bytes,
                                              sample_bytes,
                                              4096 + sizeof sample_bytes};
        break;
    case 8:
        m->type = MSG_SNAPSHOT_REPLY;
        m->u.snapshot_reply =
            (struct msg_snapshot_reply){100, 8192, true, 9, true};
        break;
    default:
        m->type = MSG_TIMEOUT_NOW;
        break;
    }
}

static void sample_client(int i, struct raft_msg *m)
{
    struct msg_client *c = &m->u.client;
    m->from = 0;
    m->term = 0;
    m->type = MSG_CLIENT;
    c->client_id = 0x1234567890abcdefull;
    c->seq = (uint64_t)i;
    c->key = sample_bytes;
    c->key_len = 5;
    switch (i) {
    case 10:
        c->op = CLIENT_PUT;
        c->value = sample_bytes + 6;
        c->value_len = 20;
        break;
    case 11:
        c->op = CLIENT_GET;
        break;
    case 12:
        c->op = CLIENT_DEL;
        break;
    default:
        c->op = CLIENT_CAS;
        c->value = sample_bytes;
        c->value_len = 3;
        c->expected = sample_bytes + 6;
        c->expected_len = 4;
        break;
    }
}

static void sample_status_reply(struct msg_status_reply *s)
{
    s->nonce = 99;
    s->pid = 4242;
    s->role = RAFT_LEADER;
    s->leader = 1;
    s->voted_for = 1;
    s->commit = 50;
    s->last_index = 52;
    s->applied = 49;
    s->election_timeout_ms = 210;
    s->election_elapsed_ms = 12;
    s->leader_contact_ms = UINT64_MAX;
    for (int d = 0; d < DROP__COUNT; d++) {
        s->drops[d] = (uint64_t)d * 1000;
    }
    s->n_peers = 2;
    s->peers[0] = (struct status_peer){2, 52, 53, 10};
    s->peers[1] = (struct status_peer){3, 40, 41, 3000};
    s->tail_first = 49;
    s->n_tail = 4;
    s->tail_terms[0] = s->tail_terms[1] = 6;
    s->tail_terms[2] = s->tail_terms[3] = 7;
    s->n_blocked = 1;
    s->blocked[0] = 3;
    s->loss_ppm = 200000;
    s->dup_ppm = 1000;
    s->delay_ms = 50;
    s->snapshot_index = 40;
    s->snapshot_term = 5;
    s->recv = (struct status_transfer){2, 61440, 200000};
    s->n_sends = 1;
    s->sends[0] = (struct status_transfer){3, 122880, 300000};
    s->jitter_ms = 10;
    s->lost_acked = 2;
    s->disk = STATUS_DISK_FULL;
    static const char config[] = "joint 1,2,3 -> 1,2,4 learners 5 @ "
                                 "1=127.0.0.1:7001 4=127.0.0.1:7004";
    s->config_len = sizeof config - 1;
    memcpy(s->config, config, s->config_len);
    s->trace_subscribers = 2;
    s->trace_dropped = 12345;
}

static void sample_other(int i, struct raft_msg *m)
{
    switch (i) {
    case 14:
        m->type = MSG_CLIENT_REPLY;
        m->u.client_reply =
            (struct msg_client_reply){7, 8, CLIENT_OK, 1, 6, sample_bytes + 6};
        break;
    case 15:
        m->type = MSG_STATUS;
        m->u.status.nonce = 123456;
        break;
    case 16:
        m->type = MSG_STATUS_REPLY;
        sample_status_reply(&m->u.status_reply);
        break;
    case 17:
        m->type = MSG_FAULT;
        m->u.fault.action = FAULT_PARTITION;
        m->u.fault.n_blocked = 2;
        m->u.fault.blocked[0] = 2;
        m->u.fault.blocked[1] = 5;
        break;
    case 18:
        m->type = MSG_FAULT;
        m->u.fault = (struct msg_fault){.action = FAULT_NETEM,
                                        .loss_ppm = 100000,
                                        .dup_ppm = 1000000,
                                        .delay_ms = 20,
                                        .jitter_ms = 5};
        break;
    default:
        m->type = MSG_FAULT_REPLY;
        m->u.fault_reply.ok = 1;
        break;
    }
}

void wire_check_sample(int i, struct raft_msg *out)
{
    ASSERT(i >= 0);
    ASSERT(i < wire_check_n_samples());
    memset(out, 0, sizeof *out);
    out->from = 1;
    out->to = 2;
    out->term = 5;
    if (i < 10) {
        sample_peer(i, out);
    } else if (i < 14) {
        sample_client(i, out);
    } else if (i < 20) {
        sample_other(i, out);
    } else if (i < 23) {
        sample_large(i, out);
    } else if (i == 23) {
        out->type = MSG_READ_INDEX;
        out->u.read_index.read_id = UINT64_MAX;
    } else if (i == 25) {
        out->type = MSG_CLIENT_BATCH;
        out->u.batch = (struct msg_batch){2, sample_items, sizeof sample_items};
    } else if (i == 26) {
        out->type = MSG_CLIENT_REPLY;
        out->u.client_reply =
            (struct msg_client_reply){9, 3, CLIENT_SESSION_EXPIRED, 0, 0, NULL};
    } else if (i == 27) {
        out->type = MSG_CHECK;
        out->u.check.nonce = UINT64_MAX;
    } else if (i == 30) {
        out->type = MSG_TRACE_EVENTS;
        out->to = 0;
        out->u.trace_events = (struct msg_trace_events){
            77, sizeof sample_trace / sizeof sample_trace[0], sample_trace};
    } else if (i == 31) {
        out->type = MSG_TRACE_EVENTS;
        out->u.trace_events = (struct msg_trace_events){0, 0, NULL};
    } else if (i == 32) {
        out->type = MSG_TRACE;
        out->u.trace.lease_ms = TRACE_LEASE_MS_MAX;
    } else if (i >= 28) {
        out->type = MSG_CHECK_REPLY;
        out->u.check_reply = i == 28 ? (struct msg_check_reply){
                                           7, CHECK_DONE, 1234, 1000,
                                           UINT64_MAX - 5}
                                     : (struct msg_check_reply){
                                           8, CHECK_DAMAGED, 9, 3, UINT64_MAX};
    } else {
        out->type = MSG_READ_INDEX_REPLY;
        out->u.read_index_reply =
            (struct msg_read_index_reply){77, UINT64_MAX - 1, true};
    }
}

static bool bytes_equal(const uint8_t *a, uint32_t a_len, const uint8_t *b,
                        uint32_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static bool append_equal(const struct msg_append *a, const struct msg_append *b)
{
    if (a->prev_index != b->prev_index || a->prev_term != b->prev_term ||
        a->commit != b->commit || a->ctx != b->ctx ||
        a->n_entries != b->n_entries) {
        return false;
    }
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct raft_entry *x = &a->entries[i];
        const struct raft_entry *y = &b->entries[i];
        if (x->term != y->term || x->type != y->type ||
            !bytes_equal(x->data, x->len, y->data, y->len)) {
            return false;
        }
    }
    return true;
}

static bool client_equal(const struct msg_client *a, const struct msg_client *b)
{
    return a->client_id == b->client_id && a->seq == b->seq && a->op == b->op &&
           bytes_equal(a->key, a->key_len, b->key, b->key_len) &&
           bytes_equal(a->value, a->value_len, b->value, b->value_len) &&
           bytes_equal(a->expected, a->expected_len, b->expected,
                       b->expected_len);
}

static bool transfer_equal(const struct status_transfer *a,
                           const struct status_transfer *b)
{
    return a->peer == b->peer && a->done == b->done && a->size == b->size;
}

static bool status_reply_equal(const struct msg_status_reply *a,
                               const struct msg_status_reply *b)
{
    if (a->nonce != b->nonce || a->pid != b->pid || a->role != b->role ||
        a->leader != b->leader || a->voted_for != b->voted_for ||
        a->commit != b->commit || a->last_index != b->last_index ||
        a->applied != b->applied ||
        a->election_timeout_ms != b->election_timeout_ms ||
        a->election_elapsed_ms != b->election_elapsed_ms ||
        a->leader_contact_ms != b->leader_contact_ms ||
        memcmp(a->drops, b->drops, sizeof a->drops) != 0 ||
        a->n_peers != b->n_peers || a->tail_first != b->tail_first ||
        a->n_tail != b->n_tail ||
        memcmp(a->tail_terms, b->tail_terms, a->n_tail * sizeof(raft_term)) !=
            0 ||
        a->n_blocked != b->n_blocked ||
        memcmp(a->blocked, b->blocked, a->n_blocked * sizeof(raft_id)) != 0 ||
        a->loss_ppm != b->loss_ppm || a->dup_ppm != b->dup_ppm ||
        a->delay_ms != b->delay_ms || a->jitter_ms != b->jitter_ms ||
        a->snapshot_index != b->snapshot_index ||
        a->snapshot_term != b->snapshot_term ||
        !transfer_equal(&a->recv, &b->recv) || a->n_sends != b->n_sends ||
        a->lost_acked != b->lost_acked || a->disk != b->disk ||
        a->config_len != b->config_len ||
        memcmp(a->config, b->config, a->config_len) != 0 ||
        a->trace_subscribers != b->trace_subscribers ||
        a->trace_dropped != b->trace_dropped) {
        return false;
    }
    for (uint32_t i = 0; i < a->n_sends; i++) {
        if (!transfer_equal(&a->sends[i], &b->sends[i])) {
            return false;
        }
    }
    for (uint32_t i = 0; i < a->n_peers; i++) {
        const struct status_peer *x = &a->peers[i];
        const struct status_peer *y = &b->peers[i];
        if (x->id != y->id || x->match != y->match || x->next != y->next ||
            x->last_ack_ms != y->last_ack_ms) {
            return false;
        }
    }
    return true;
}

static bool fault_equal(const struct msg_fault *a, const struct msg_fault *b)
{
    return a->action == b->action && a->n_blocked == b->n_blocked &&
           memcmp(a->blocked, b->blocked, a->n_blocked * sizeof(raft_id)) ==
               0 &&
           a->loss_ppm == b->loss_ppm && a->dup_ppm == b->dup_ppm &&
           a->delay_ms == b->delay_ms && a->jitter_ms == b->jitter_ms;
}

static bool trace_events_equal(const struct msg_trace_events *a,
                               const struct msg_trace_events *b)
{
    if (a->dropped != b->dropped || a->n != b->n) {
        return false;
    }
    for (uint32_t i = 0; i < a->n; i++) {
        const struct trace_event *x = &a->events[i];
        const struct trace_event *y = &b->events[i];
        if (x->kind != y->kind || x->to != y->to || x->term != y->term ||
            x->index != y->index || x->n != y->n || x->ok != y->ok ||
            x->bytes != y->bytes || x->count != y->count ||
            x->age_ms != y->age_ms) {
            return false;
        }
    }
    return true;
}

static bool body_equal(const struct raft_msg *a, const struct raft_msg *b)
{
    const struct msg_vote *va = &a->u.vote, *vb = &b->u.vote;
    const struct msg_append_reply *ra = &a->u.append_reply;
    const struct msg_append_reply *rb = &b->u.append_reply;
    const struct msg_snapshot *sa = &a->u.snapshot, *sb = &b->u.snapshot;
    const struct msg_client_reply *ca = &a->u.client_reply;
    const struct msg_client_reply *cb = &b->u.client_reply;
    switch (a->type) {
    case MSG_VOTE:
        return va->last_index == vb->last_index &&
               va->last_term == vb->last_term && va->pre_vote == vb->pre_vote &&
               va->transfer == vb->transfer;
    case MSG_VOTE_REPLY:
        return a->u.vote_reply.granted == b->u.vote_reply.granted &&
               a->u.vote_reply.pre_vote == b->u.vote_reply.pre_vote;
    case MSG_APPEND:
        return append_equal(&a->u.append, &b->u.append);
    case MSG_APPEND_REPLY:
        return ra->success == rb->success &&
               ra->match_index == rb->match_index &&
               ra->reject_index == rb->reject_index &&
               ra->last_index == rb->last_index &&
               ra->conflict_term == rb->conflict_term &&
               ra->conflict_index == rb->conflict_index && ra->ctx == rb->ctx;
    case MSG_SNAPSHOT:
        return sa->last_index == sb->last_index &&
               sa->last_term == sb->last_term && sa->offset == sb->offset &&
               sa->done == sb->done && sa->size == sb->size &&
               bytes_equal(sa->data, sa->len, sb->data, sb->len);
    case MSG_SNAPSHOT_REPLY:
        return a->u.snapshot_reply.last_index ==
                   b->u.snapshot_reply.last_index &&
               a->u.snapshot_reply.offset == b->u.snapshot_reply.offset &&
               a->u.snapshot_reply.success == b->u.snapshot_reply.success &&
               a->u.snapshot_reply.last_term == b->u.snapshot_reply.last_term &&
               a->u.snapshot_reply.done == b->u.snapshot_reply.done;
    case MSG_CLIENT:
        return client_equal(&a->u.client, &b->u.client);
    case MSG_CLIENT_REPLY:
        return ca->client_id == cb->client_id && ca->seq == cb->seq &&
               ca->status == cb->status && ca->leader_hint == cb->leader_hint &&
               bytes_equal(ca->value, ca->value_len, cb->value, cb->value_len);
    case MSG_STATUS:
        return a->u.status.nonce == b->u.status.nonce;
    case MSG_STATUS_REPLY:
        return status_reply_equal(&a->u.status_reply, &b->u.status_reply);
    case MSG_FAULT:
        return fault_equal(&a->u.fault, &b->u.fault);
    case MSG_FAULT_REPLY:
        return a->u.fault_reply.ok == b->u.fault_reply.ok;
    case MSG_READ_INDEX:
        return a->u.read_index.read_id == b->u.read_index.read_id;
    case MSG_READ_INDEX_REPLY:
        return a->u.read_index_reply.read_id == b->u.read_index_reply.read_id &&
               a->u.read_index_reply.index == b->u.read_index_reply.index &&
               a->u.read_index_reply.ok == b->u.read_index_reply.ok;
    case MSG_CHECK:
        return a->u.check.nonce == b->u.check.nonce;
    case MSG_CHECK_REPLY:
        return a->u.check_reply.nonce == b->u.check_reply.nonce &&
               a->u.check_reply.state == b->u.check_reply.state &&
               a->u.check_reply.applied == b->u.check_reply.applied &&
               a->u.check_reply.n_rows == b->u.check_reply.n_rows &&
               a->u.check_reply.digest == b->u.check_reply.digest;
    case MSG_TRACE:
        return a->u.trace.lease_ms == b->u.trace.lease_ms;
    case MSG_TRACE_EVENTS:
        return trace_events_equal(&a->u.trace_events, &b->u.trace_events);
    case MSG_CLIENT_BATCH:
        return a->u.batch.n == b->u.batch.n &&
               bytes_equal(a->u.batch.items, a->u.batch.items_len,
                           b->u.batch.items, b->u.batch.items_len);
    default:
        return true;
    }
}

bool wire_check_equal(const struct raft_msg *a, const struct raft_msg *b)
{
    return a->type == b->type && a->from == b->from && a->to == b->to &&
           a->term == b->term && body_equal(a, b);
}

int wire_check_roundtrip(const uint8_t *buf, size_t len, uint64_t cluster_id)
{
    static struct wire_scratch scratch1, scratch2;
    static uint8_t again[RAFT_DATAGRAM_MAX];
    struct raft_msg first, second;
    int rc = wire_decode(buf, len, cluster_id, &first, &scratch1);
    if (rc != ERR_OK) {
        ASSERT(rc == ERR_MALFORMED || rc == ERR_WRONG_VERSION ||
               rc == ERR_WRONG_CLUSTER);
        return rc;
    }
    size_t len2 = 0;
    int rc2 = wire_encode(&first, cluster_id, again, sizeof again, &len2);
    ASSERT(rc2 == ERR_OK);
    /* The encoder writes the shortest forms, so never more bytes; except
     * that a status reply of an older layout (13, 20, 24, 25, 26 or 27
     * body fields) comes back with the appended fields: 7, 4, then
     * lost_acked, then disk, each at least one byte (zero or empty), the
     * empty transfer four ([0, 0, 0]), the empty config bin two, then the
     * two trace figures. */
    ASSERT(len2 <= len + (first.type == MSG_STATUS_REPLY ? 20 : 0));
    if (first.type == MSG_APPEND) {
        size_t bound = WIRE_APPEND_OVERHEAD;
        for (uint32_t i = 0; i < first.u.append.n_entries; i++) {
            bound += wire_entry_size(&first.u.append.entries[i]);
        }
        ASSERT(len2 <= bound);
    }
    rc2 = wire_decode(again, len2, cluster_id, &second, &scratch2);
    ASSERT(rc2 == ERR_OK);
    ASSERT(wire_check_equal(&first, &second));
    return rc;
}
