/*
 * The msgpack codec of common/wire.h. Encoding uses msgpack-c's packer with a
 * write callback into the caller's fixed buffer, which fails instead of
 * allocating; decoding is a small hand-rolled reader that never recurses,
 * never allocates and never reads past the buffer. Both run the same
 * validate_msg(), so whatever encodes also decodes. Read common/conf.h next.
 *
 * A datagram is one msgpack array [version, cluster_id, type, from, to, term,
 * body...] of exactly 6 + N elements, N being the type's body field count:
 *
 *   VOTE           last_index last_term pre_vote transfer
 *   VOTE_REPLY     granted pre_vote
 *   APPEND         prev_index prev_term commit ctx [[term type data] ...]
 *   APPEND_REPLY   success match_index reject_index last_index conflict_term
 *                  conflict_index ctx
 *   SNAPSHOT       last_index last_term offset done data size
 *   SNAPSHOT_REPLY last_index offset success last_term done
 *   TIMEOUT_NOW    (no body)
 *   CLIENT         client_id seq op key value expected
 *   CLIENT_REPLY   client_id seq status leader_hint value
 *   STATUS         nonce
 *   STATUS_REPLY   nonce pid role leader voted_for commit last_index applied
 *                  election_timeout_ms election_elapsed_ms leader_contact_ms
 *                  [drop counters, exactly DROP__COUNT]
 *                  [[id match next last_ack_ms] ... at most RAFT_NODES_MAX]
 *                  tail_first [tail term ... at most STATUS_TAIL_MAX]
 *                  [blocked id ...] loss_ppm dup_ppm delay_ms jitter_ms
 *                  snapshot_index snapshot_term [peer done size]
 *                  [[peer done size] ... at most RAFT_NODES_MAX] lost_acked
 *                  disk config (bin: the configuration's text)
 *                  trace_subscribers trace_dropped (the last sixteen were
 *                  appended later, in six steps: a reply of the first 13,
 *                  20, 24, 25, 26 or 27 fields decodes, with the missing
 *                  ones zero or empty)
 *   FAULT          action [blocked id ...] loss_ppm dup_ppm delay_ms jitter_ms
 *   FAULT_REPLY    ok
 *   READ_INDEX     read_id
 *   READ_INDEX_REPLY read_id index ok
 *   CLIENT_BATCH   [datagram ...] (1 to WIRE_BATCH_MAX bins, each a whole
 *                  client request or reply datagram of this cluster)
 *   CHECK          nonce
 *   CHECK_REPLY    nonce state applied n_rows digest
 *   TRACE          lease_ms
 *   TRACE_EVENTS   dropped [[kind to term index n ok bytes count age_ms] ...
 *                  at most TRACE_EVENTS_PER_MSG]
 *
 * Integers are msgpack unsigned ints (a signed format holding a non-negative
 * value is accepted); booleans are true/false (0 and 1 accepted); byte fields
 * are bin (str is refused). The encoder always writes the shortest form, so a
 * decoded message re-encodes into at most as many bytes as it came in.
 * Validation: the version is checked first (ERR_WRONG_VERSION), then the
 * cluster id (ERR_WRONG_CLUSTER), then everything else (ERR_MALFORMED): type
 * and enums in range, ids at most RAFT_ID_MAX (blocked and peer ids also
 * nonzero), ppm at most 1,000,000, counts and byte lengths within the limits
 * of common/types.h, a client GET or DEL carries no value and only a CAS
 * carries an expected value, and no byte follows the array.
 */
#include "common/wire.h"

#include <string.h>

#include <msgpack.h>

#include "common/err.h"
#include "common/invariant.h"

#define WIRE_HEADER_FIELDS 6
#define WIRE_PPM_MAX 1000000u
/* A status reply of the first layout, before the log tail and fault rules
 * were appended, of the second, before the snapshot fields, and of the
 * third, before lost_acked, of the fourth, before the disk state, and of
 * the fifth, before the configuration. */
#define WIRE_STATUS_REPLY_FIELDS_V1 13
#define WIRE_STATUS_REPLY_FIELDS_V2 20
#define WIRE_STATUS_REPLY_FIELDS_V3 24
#define WIRE_STATUS_REPLY_FIELDS_V4 25
#define WIRE_STATUS_REPLY_FIELDS_V5 26
#define WIRE_STATUS_REPLY_FIELDS_V6 27
#define WIRE_TRACE_EVENT_FIELDS 9

/* Body field count per message type; 0 for MSG_NONE is never used. */
static const uint8_t wire_body_fields[MSG__COUNT] = {
    [MSG_VOTE] = 4,         [MSG_VOTE_REPLY] = 2,    [MSG_APPEND] = 5,
    [MSG_APPEND_REPLY] = 7, [MSG_SNAPSHOT] = 6,      [MSG_SNAPSHOT_REPLY] = 5,
    [MSG_TIMEOUT_NOW] = 0,  [MSG_CLIENT] = 6,        [MSG_CLIENT_REPLY] = 5,
    [MSG_STATUS] = 1,       [MSG_STATUS_REPLY] = 29, [MSG_FAULT] = 6,
    [MSG_FAULT_REPLY] = 1,  [MSG_READ_INDEX] = 1,    [MSG_READ_INDEX_REPLY] = 3,
    [MSG_CLIENT_BATCH] = 1, [MSG_CHECK] = 1,         [MSG_CHECK_REPLY] = 5,
    [MSG_TRACE] = 1,        [MSG_TRACE_EVENTS] = 2,
};

/* ------------------------------------------------------------------------
 * Validation shared by encode and decode.
 * ---------------------------------------------------------------------- */

static bool is_member_id(raft_id id)
{
    return id >= 1 && id <= RAFT_ID_MAX;
}

/* A byte field: within max, and a non-empty one has bytes (the caller's
 * promise, hence asserted). */
static bool bytes_ok(const uint8_t *data, uint32_t len, uint32_t max)
{
    ASSERT(len == 0 || data != NULL);
    return len <= max;
}

static int validate_append(const struct msg_append *m)
{
    if (m->n_entries > RAFT_ENTRIES_PER_MSG_MAX) {
        return ERR_INVALID;
    }
    ASSERT(m->n_entries == 0 || m->entries != NULL);
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONFIG ||
            !bytes_ok(e->data, e->len, RAFT_ENTRY_MAX)) {
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

static int validate_client(const struct msg_client *m)
{
    if (m->op < CLIENT_PUT || m->op > CLIENT_REGISTER ||
        !bytes_ok(m->key, m->key_len, RAFT_KEY_MAX) ||
        !bytes_ok(m->value, m->value_len, RAFT_VALUE_MAX) ||
        !bytes_ok(m->expected, m->expected_len, RAFT_VALUE_MAX)) {
        return ERR_INVALID;
    }
    /* Only PUT and CAS carry a value, only CAS an expected value. */
    if ((m->op == CLIENT_GET || m->op == CLIENT_DEL ||
         m->op == CLIENT_REGISTER) &&
        m->value_len != 0) {
        return ERR_INVALID;
    }
    if (m->op != CLIENT_CAS && m->expected_len != 0) {
        return ERR_INVALID;
    }
    return ERR_OK;
}

/* A transfer's figures: none is all zero; one has done at most size (its
 * peer may be 0: a follower that no longer knows the leader). */
static bool transfer_ok(const struct status_transfer *t)
{
    if (t->size == 0) {
        return t->peer == 0 && t->done == 0;
    }
    return t->peer <= RAFT_ID_MAX && t->done <= t->size;
}

static int validate_status_reply(const struct msg_status_reply *m)
{
    if (m->role > RAFT_PRECANDIDATE || m->leader > RAFT_ID_MAX ||
        m->voted_for > RAFT_ID_MAX || m->n_peers > RAFT_NODES_MAX ||
        m->n_tail > STATUS_TAIL_MAX || m->n_blocked > RAFT_NODES_MAX ||
        m->loss_ppm > WIRE_PPM_MAX || m->dup_ppm > WIRE_PPM_MAX) {
        return ERR_INVALID;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (!is_member_id(m->peers[i].id)) {
            return ERR_INVALID;
        }
    }
    for (uint32_t i = 0; i < m->n_blocked; i++) {
        if (!is_member_id(m->blocked[i])) {
            return ERR_INVALID;
        }
    }
    if (!transfer_ok(&m->recv) || m->n_sends > RAFT_NODES_MAX ||
        m->disk > STATUS_DISK_HUNG || m->config_len >= MEMBERSHIP_TEXT_MAX) {
        return ERR_INVALID;
    }
    for (uint32_t i = 0; i < m->n_sends; i++) {
        if (!transfer_ok(&m->sends[i]) || !is_member_id(m->sends[i].peer) ||
            m->sends[i].size == 0) {
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

static int validate_fault(const struct msg_fault *m)
{
    if (m->action < FAULT_HEAL || m->action > FAULT_MEMBER ||
        m->n_blocked > RAFT_NODES_MAX || m->loss_ppm > WIRE_PPM_MAX ||
        m->dup_ppm > WIRE_PPM_MAX) {
        return ERR_INVALID;
    }
    for (uint32_t i = 0; i < m->n_blocked; i++) {
        if (!is_member_id(m->blocked[i])) {
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

static int validate_trace_events(const struct msg_trace_events *m)
{
    if (m->n > TRACE_EVENTS_PER_MSG) {
        return ERR_INVALID;
    }
    ASSERT(m->n == 0 || m->events != NULL);
    for (uint32_t i = 0; i < m->n; i++) {
        const struct trace_event *e = &m->events[i];
        if (e->kind >= TRACE_KIND__COUNT || !is_member_id(e->to) ||
            e->count == 0) {
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

/* Checks every limit of a message. Errors: ERR_INVALID. */
static int validate_msg(const struct raft_msg *m)
{
    if (m->type <= MSG_NONE || m->type >= MSG__COUNT || m->from > RAFT_ID_MAX ||
        m->to > RAFT_ID_MAX) {
        return ERR_INVALID;
    }
    switch (m->type) {
    case MSG_APPEND:
        return validate_append(&m->u.append);
    case MSG_SNAPSHOT:
        return bytes_ok(m->u.snapshot.data, m->u.snapshot.len,
                        RAFT_DATAGRAM_MAX)
                   ? ERR_OK
                   : ERR_INVALID;
    case MSG_CLIENT:
        return validate_client(&m->u.client);
    case MSG_CLIENT_REPLY:
        if (m->u.client_reply.status >= CLIENT_STATUS__COUNT ||
            m->u.client_reply.leader_hint > RAFT_ID_MAX ||
            !bytes_ok(m->u.client_reply.value, m->u.client_reply.value_len,
                      RAFT_VALUE_MAX)) {
            return ERR_INVALID;
        }
        return ERR_OK;
    case MSG_STATUS_REPLY:
        return validate_status_reply(&m->u.status_reply);
    case MSG_CLIENT_BATCH:
        return m->u.batch.n >= 1 && m->u.batch.n <= WIRE_BATCH_MAX &&
                       m->u.batch.items != NULL &&
                       m->u.batch.items_len >= m->u.batch.n
                   ? ERR_OK
                   : ERR_INVALID;
    case MSG_FAULT:
        return validate_fault(&m->u.fault);
    case MSG_FAULT_REPLY:
        return m->u.fault_reply.ok <= 1 ? ERR_OK : ERR_INVALID;
    case MSG_CHECK_REPLY:
        return m->u.check_reply.state < CHECK_STATE__COUNT ? ERR_OK
                                                           : ERR_INVALID;
    case MSG_TRACE:
        return m->u.trace.lease_ms <= TRACE_LEASE_MS_MAX ? ERR_OK : ERR_INVALID;
    case MSG_TRACE_EVENTS:
        return validate_trace_events(&m->u.trace_events);
    default:
        return ERR_OK;
    }
}

/* ------------------------------------------------------------------------
 * Encoding: msgpack-c's packer writing into a fixed buffer.
 * ---------------------------------------------------------------------- */

struct wire_out {
    uint8_t *buf;
    size_t cap;
    size_t len;
};

/* The packer's write callback: appends or fails, never allocates. */
static int wire_out_write(void *data, const char *src, size_t n)
{
    struct wire_out *w = data;
    if (n > w->cap - w->len) {
        return -1;
    }
    if (n > 0) {
        memcpy(w->buf + w->len, src, n);
    }
    w->len += n;
    return 0;
}

/* Each pack_* returns 0 or nonzero when the buffer is full. */
static int pack_u(msgpack_packer *pk, uint64_t v)
{
    return msgpack_pack_uint64(pk, v);
}

static int pack_b(msgpack_packer *pk, bool v)
{
    return v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

static int pack_bin(msgpack_packer *pk, const uint8_t *data, uint32_t len)
{
    return msgpack_pack_bin_with_body(pk, data, len);
}

static int encode_append(msgpack_packer *pk, const struct msg_append *m)
{
    if (pack_u(pk, m->prev_index) || pack_u(pk, m->prev_term) ||
        pack_u(pk, m->commit) || pack_u(pk, m->ctx) ||
        msgpack_pack_array(pk, m->n_entries)) {
        return -1;
    }
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (msgpack_pack_array(pk, 3) || pack_u(pk, e->term) ||
            pack_u(pk, e->type) || pack_bin(pk, e->data, e->len)) {
            return -1;
        }
    }
    return 0;
}

static int pack_transfer(msgpack_packer *pk, const struct status_transfer *t)
{
    return msgpack_pack_array(pk, 3) || pack_u(pk, t->peer) ||
           pack_u(pk, t->done) || pack_u(pk, t->size);
}

static int encode_status_reply(msgpack_packer *pk,
                               const struct msg_status_reply *m)
{
    if (pack_u(pk, m->nonce) || pack_u(pk, m->pid) || pack_u(pk, m->role) ||
        pack_u(pk, m->leader) || pack_u(pk, m->voted_for) ||
        pack_u(pk, m->commit) || pack_u(pk, m->last_index) ||
        pack_u(pk, m->applied) || pack_u(pk, m->election_timeout_ms) ||
        pack_u(pk, m->election_elapsed_ms) ||
        pack_u(pk, m->leader_contact_ms) ||
        msgpack_pack_array(pk, DROP__COUNT)) {
        return -1;
    }
    for (int i = 0; i < DROP__COUNT; i++) {
        if (pack_u(pk, m->drops[i])) {
            return -1;
        }
    }
    if (msgpack_pack_array(pk, m->n_peers)) {
        return -1;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const struct status_peer *p = &m->peers[i];
        if (msgpack_pack_array(pk, 4) || pack_u(pk, p->id) ||
            pack_u(pk, p->match) || pack_u(pk, p->next) ||
            pack_u(pk, p->last_ack_ms)) {
            return -1;
        }
    }
    if (pack_u(pk, m->tail_first) || msgpack_pack_array(pk, m->n_tail)) {
        return -1;
    }
    for (uint32_t i = 0; i < m->n_tail; i++) {
        if (pack_u(pk, m->tail_terms[i])) {
            return -1;
        }
    }
    if (msgpack_pack_array(pk, m->n_blocked)) {
        return -1;
    }
    for (uint32_t i = 0; i < m->n_blocked; i++) {
        if (pack_u(pk, m->blocked[i])) {
            return -1;
        }
    }
    if (pack_u(pk, m->loss_ppm) || pack_u(pk, m->dup_ppm) ||
        pack_u(pk, m->delay_ms) || pack_u(pk, m->jitter_ms) ||
        pack_u(pk, m->snapshot_index) || pack_u(pk, m->snapshot_term) ||
        pack_transfer(pk, &m->recv) || msgpack_pack_array(pk, m->n_sends)) {
        return -1;
    }
    for (uint32_t i = 0; i < m->n_sends; i++) {
        if (pack_transfer(pk, &m->sends[i])) {
            return -1;
        }
    }
    if (pack_u(pk, m->lost_acked)) {
        return -1;
    }
    if (pack_u(pk, m->disk) || pack_bin(pk, m->config, m->config_len)) {
        return -1;
    }
    return pack_u(pk, m->trace_subscribers) || pack_u(pk, m->trace_dropped);
}

static int encode_trace_events(msgpack_packer *pk,
                               const struct msg_trace_events *m)
{
    if (pack_u(pk, m->dropped) || msgpack_pack_array(pk, m->n)) {
        return -1;
    }
    for (uint32_t i = 0; i < m->n; i++) {
        const struct trace_event *e = &m->events[i];
        if (msgpack_pack_array(pk, WIRE_TRACE_EVENT_FIELDS) ||
            pack_u(pk, e->kind) || pack_u(pk, e->to) || pack_u(pk, e->term) ||
            pack_u(pk, e->index) || pack_u(pk, e->n) || pack_b(pk, e->ok) ||
            pack_u(pk, e->bytes) || pack_u(pk, e->count) ||
            pack_u(pk, e->age_ms)) {
            return -1;
        }
    }
    return 0;
}

static int encode_fault(msgpack_packer *pk, const struct msg_fault *m)
{
    if (pack_u(pk, m->action) || msgpack_pack_array(pk, m->n_blocked)) {
        return -1;
    }
    for (uint32_t i = 0; i < m->n_blocked; i++) {
        if (pack_u(pk, m->blocked[i])) {
            return -1;
        }
    }
    return pack_u(pk, m->loss_ppm) || pack_u(pk, m->dup_ppm) ||
           pack_u(pk, m->delay_ms) || pack_u(pk, m->jitter_ms);
}

/* Packs the body of a validated message; nonzero when the buffer is full. */
static int encode_body(msgpack_packer *pk, const struct raft_msg *msg)
{
    const struct msg_vote *v = &msg->u.vote;
    const struct msg_append_reply *ar = &msg->u.append_reply;
    const struct msg_snapshot *s = &msg->u.snapshot;
    const struct msg_client *c = &msg->u.client;
    const struct msg_client_reply *cr = &msg->u.client_reply;
    switch (msg->type) {
    case MSG_VOTE:
        return pack_u(pk, v->last_index) || pack_u(pk, v->last_term) ||
               pack_b(pk, v->pre_vote) || pack_b(pk, v->transfer);
    case MSG_VOTE_REPLY:
        return pack_b(pk, msg->u.vote_reply.granted) ||
               pack_b(pk, msg->u.vote_reply.pre_vote);
    case MSG_APPEND:
        return encode_append(pk, &msg->u.append);
    case MSG_APPEND_REPLY:
        return pack_b(pk, ar->success) || pack_u(pk, ar->match_index) ||
               pack_u(pk, ar->reject_index) || pack_u(pk, ar->last_index) ||
               pack_u(pk, ar->conflict_term) ||
               pack_u(pk, ar->conflict_index) || pack_u(pk, ar->ctx);
    case MSG_SNAPSHOT:
        return pack_u(pk, s->last_index) || pack_u(pk, s->last_term) ||
               pack_u(pk, s->offset) || pack_b(pk, s->done) ||
               pack_bin(pk, s->data, s->len) || pack_u(pk, s->size);
    case MSG_SNAPSHOT_REPLY:
        return pack_u(pk, msg->u.snapshot_reply.last_index) ||
               pack_u(pk, msg->u.snapshot_reply.offset) ||
               pack_b(pk, msg->u.snapshot_reply.success) ||
               pack_u(pk, msg->u.snapshot_reply.last_term) ||
               pack_b(pk, msg->u.snapshot_reply.done);
    case MSG_TIMEOUT_NOW:
        return 0;
    case MSG_CLIENT:
        return pack_u(pk, c->client_id) || pack_u(pk, c->seq) ||
               pack_u(pk, c->op) || pack_bin(pk, c->key, c->key_len) ||
               pack_bin(pk, c->value, c->value_len) ||
               pack_bin(pk, c->expected, c->expected_len);
    case MSG_CLIENT_REPLY:
        return pack_u(pk, cr->client_id) || pack_u(pk, cr->seq) ||
               pack_u(pk, cr->status) || pack_u(pk, cr->leader_hint) ||
               pack_bin(pk, cr->value, cr->value_len);
    case MSG_STATUS:
        return pack_u(pk, msg->u.status.nonce);
    case MSG_STATUS_REPLY:
        return encode_status_reply(pk, &msg->u.status_reply);
    case MSG_FAULT:
        return encode_fault(pk, &msg->u.fault);
    case MSG_FAULT_REPLY:
        return pack_b(pk, msg->u.fault_reply.ok != 0);
    case MSG_READ_INDEX:
        return pack_u(pk, msg->u.read_index.read_id);
    case MSG_READ_INDEX_REPLY:
        return pack_u(pk, msg->u.read_index_reply.read_id) ||
               pack_u(pk, msg->u.read_index_reply.index) ||
               pack_b(pk, msg->u.read_index_reply.ok);
    case MSG_CLIENT_BATCH: /* The items as decoded: bins back to back. */
        return msgpack_pack_array(pk, msg->u.batch.n) ||
               msgpack_pack_bin_body(pk, msg->u.batch.items,
                                     msg->u.batch.items_len);
    case MSG_CHECK:
        return pack_u(pk, msg->u.check.nonce);
    case MSG_CHECK_REPLY:
        return pack_u(pk, msg->u.check_reply.nonce) ||
               pack_u(pk, msg->u.check_reply.state) ||
               pack_u(pk, msg->u.check_reply.applied) ||
               pack_u(pk, msg->u.check_reply.n_rows) ||
               pack_u(pk, msg->u.check_reply.digest);
    case MSG_TRACE:
        return pack_u(pk, msg->u.trace.lease_ms);
    case MSG_TRACE_EVENTS:
        return encode_trace_events(pk, &msg->u.trace_events);
    default:
        UNREACHABLE();
    }
}

/* Points a packer at buf, never past RAFT_DATAGRAM_MAX bytes. */
static void out_init(struct wire_out *w, msgpack_packer *pk, uint8_t *buf,
                     size_t cap)
{
    w->buf = buf;
    w->cap = cap < RAFT_DATAGRAM_MAX ? cap : RAFT_DATAGRAM_MAX;
    w->len = 0;
    msgpack_packer_init(pk, w, wire_out_write);
}

/* The datagram's array header and its six header fields. */
static int pack_header(msgpack_packer *pk, uint64_t cluster_id, uint8_t type,
                       raft_id from, raft_id to, raft_term term)
{
    return msgpack_pack_array(pk,
                              WIRE_HEADER_FIELDS + wire_body_fields[type]) ||
           pack_u(pk, WIRE_VERSION) || pack_u(pk, cluster_id) ||
           pack_u(pk, type) || pack_u(pk, from) || pack_u(pk, to) ||
           pack_u(pk, term);
}

int wire_encode(const struct raft_msg *msg, uint64_t cluster_id, uint8_t *buf,
                size_t cap, size_t *len)
{
    ASSERT(msg != NULL);
    ASSERT(buf != NULL || cap == 0);
    ASSERT(len != NULL);
    if (validate_msg(msg) != ERR_OK) {
        return ERR_INVALID;
    }
    struct wire_out w;
    msgpack_packer pk;
    out_init(&w, &pk, buf, cap);
    if (pack_header(&pk, cluster_id, msg->type, msg->from, msg->to,
                    msg->term) ||
        encode_body(&pk, msg)) {
        return ERR_TOO_BIG;
    }
    ASSERT(w.len <= RAFT_DATAGRAM_MAX);
    *len = w.len;
    return ERR_OK;
}

/* Exact size of msgpack's shortest unsigned int encoding of v. */
static size_t uint_size(uint64_t v)
{
    if (v < 0x80) {
        return 1;
    }
    if (v <= UINT8_MAX) {
        return 2;
    }
    if (v <= UINT16_MAX) {
        return 3;
    }
    return v <= UINT32_MAX ? 5 : 9;
}

size_t wire_entry_size(const struct raft_entry *entry)
{
    ASSERT(entry != NULL);
    size_t bin_header = entry->len <= UINT8_MAX    ? 2
                        : entry->len <= UINT16_MAX ? 3
                                                   : 5;
    /* fixarray(3), term, type, bin header, data. */
    return 1 + uint_size(entry->term) + uint_size(entry->type) + bin_header +
           entry->len;
}

/* ------------------------------------------------------------------------
 * Decoding: a bounded reader. Every read_* returns 0 or ERR_MALFORMED and
 * writes its output only on success.
 * ---------------------------------------------------------------------- */

struct reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    uint32_t n_body; /* Body fields the header announced. */
};

static int read_raw(struct reader *r, size_t n, const uint8_t **out)
{
    if (n > r->len - r->pos) {
        return ERR_MALFORMED;
    }
    *out = r->buf + r->pos;
    r->pos += n;
    return ERR_OK;
}

/* A big-endian unsigned integer of n (1, 2, 4 or 8) bytes. */
static int read_be(struct reader *r, size_t n, uint64_t *out)
{
    const uint8_t *p;
    if (read_raw(r, n, &p) != ERR_OK) {
        return ERR_MALFORMED;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    *out = v;
    return ERR_OK;
}

static int read_tag(struct reader *r, uint8_t *tag)
{
    const uint8_t *p;
    if (read_raw(r, 1, &p) != ERR_OK) {
        return ERR_MALFORMED;
    }
    *tag = *p;
    return ERR_OK;
}

/* An unsigned integer no larger than max. */
static int read_uint(struct reader *r, uint64_t max, uint64_t *out)
{
    uint8_t tag;
    uint64_t v;
    if (read_tag(r, &tag) != ERR_OK) {
        return ERR_MALFORMED;
    }
    if (tag <= 0x7f) {
        v = tag;
    } else if (tag >= 0xcc && tag <= 0xcf) { /* uint 8, 16, 32, 64 */
        if (read_be(r, (size_t)1 << (tag - 0xcc), &v) != ERR_OK) {
            return ERR_MALFORMED;
        }
    } else if (tag >= 0xd0 && tag <= 0xd3) { /* int 8 .. 64, if >= 0 */
        size_t n = (size_t)1 << (tag - 0xd0);
        if (read_be(r, n, &v) != ERR_OK || ((v >> (8 * n - 1)) & 1) != 0) {
            return ERR_MALFORMED;
        }
    } else {
        return ERR_MALFORMED;
    }
    if (v > max) {
        return ERR_MALFORMED;
    }
    *out = v;
    return ERR_OK;
}

static int read_u32(struct reader *r, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (read_uint(r, max, &v) != ERR_OK) {
        return ERR_MALFORMED;
    }
    *out = (uint32_t)v;
    return ERR_OK;
}

static int read_u8(struct reader *r, uint8_t max, uint8_t *out)
{
    uint64_t v;
    if (read_uint(r, max, &v) != ERR_OK) {
        return ERR_MALFORMED;
    }
    *out = (uint8_t)v;
    return ERR_OK;
}

static int read_u64(struct reader *r, uint64_t *out)
{
    return read_uint(r, UINT64_MAX, out);
}

/* A boolean: msgpack false/true, or the integers 0 and 1. */
static int read_bool(struct reader *r, bool *out)
{
    uint64_t v;
    if (r->pos < r->len && (r->buf[r->pos] & 0xfe) == 0xc2) {
        *out = r->buf[r->pos] == 0xc3;
        r->pos++;
        return ERR_OK;
    }
    if (read_uint(r, 1, &v) != ERR_OK) {
        return ERR_MALFORMED;
    }
    *out = v == 1;
    return ERR_OK;
}

/* An array header with at most max elements. */
static int read_array(struct reader *r, uint32_t max, uint32_t *n)
{
    uint8_t tag;
    uint64_t v;
    if (read_tag(r, &tag) != ERR_OK) {
        return ERR_MALFORMED;
    }
    if ((tag & 0xf0) == 0x90) {
        v = tag & 0x0f;
    } else if (tag == 0xdc || tag == 0xdd) {
        if (read_be(r, tag == 0xdc ? 2 : 4, &v) != ERR_OK) {
            return ERR_MALFORMED;
        }
    } else {
        return ERR_MALFORMED;
    }
    if (v > max) {
        return ERR_MALFORMED;
    }
    *n = (uint32_t)v;
    return ERR_OK;
}

static int read_array_of(struct reader *r, uint32_t n)
{
    uint32_t got;
    if (read_array(r, n, &got) != ERR_OK || got != n) {
        return ERR_MALFORMED;
    }
    return ERR_OK;
}

/* A bin of at most max bytes; *data points into the input buffer. */
static int read_bin(struct reader *r, uint32_t max, const uint8_t **data,
                    uint32_t *len)
{
    uint8_t tag;
    uint64_t n;
    if (read_tag(r, &tag) != ERR_OK || tag < 0xc4 || tag > 0xc6 ||
        read_be(r, (size_t)1 << (tag - 0xc4), &n) != ERR_OK || n > max ||
        read_raw(r, (size_t)n, data) != ERR_OK) {
        return ERR_MALFORMED;
    }
    *len = (uint32_t)n;
    return ERR_OK;
}

static int decode_append(struct reader *r, struct msg_append *m,
                         struct wire_scratch *scratch)
{
    uint32_t n;
    if (read_u64(r, &m->prev_index) || read_u64(r, &m->prev_term) ||
        read_u64(r, &m->commit) || read_u64(r, &m->ctx) ||
        read_array(r, RAFT_ENTRIES_PER_MSG_MAX, &n)) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct raft_entry *e = &scratch->entries[i];
        if (read_array_of(r, 3) || read_u64(r, &e->term) ||
            read_u8(r, RAFT_ENTRY_CONFIG, &e->type) ||
            read_bin(r, RAFT_ENTRY_MAX, &e->data, &e->len)) {
            return ERR_MALFORMED;
        }
    }
    m->n_entries = n;
    m->entries = scratch->entries;
    return ERR_OK;
}

/* The fields appended to the first layout: log tail and fault rules. */
static int decode_status_reply_tail(struct reader *r,
                                    struct msg_status_reply *m)
{
    if (read_u64(r, &m->tail_first) ||
        read_array(r, STATUS_TAIL_MAX, &m->n_tail)) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < m->n_tail; i++) {
        if (read_u64(r, &m->tail_terms[i])) {
            return ERR_MALFORMED;
        }
    }
    if (read_array(r, RAFT_NODES_MAX, &m->n_blocked)) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < m->n_blocked; i++) {
        if (read_u64(r, &m->blocked[i])) {
            return ERR_MALFORMED;
        }
    }
    if (read_u32(r, WIRE_PPM_MAX, &m->loss_ppm) ||
        read_u32(r, WIRE_PPM_MAX, &m->dup_ppm) ||
        read_u32(r, UINT32_MAX, &m->delay_ms) ||
        read_u32(r, UINT32_MAX, &m->jitter_ms)) {
        return ERR_MALFORMED;
    }
    return ERR_OK;
}

static int read_transfer(struct reader *r, struct status_transfer *t)
{
    if (read_array_of(r, 3) || read_uint(r, RAFT_ID_MAX, &t->peer) ||
        read_u64(r, &t->done) || read_u64(r, &t->size)) {
        return ERR_MALFORMED;
    }
    return ERR_OK;
}

/* The fields appended to the second layout: the snapshot index and the
 * transfers in progress. */
static int decode_status_reply_snapshot(struct reader *r,
                                        struct msg_status_reply *m)
{
    if (read_u64(r, &m->snapshot_index) || read_u64(r, &m->snapshot_term) ||
        read_transfer(r, &m->recv) ||
        read_array(r, RAFT_NODES_MAX, &m->n_sends)) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < m->n_sends; i++) {
        if (read_transfer(r, &m->sends[i])) {
            return ERR_MALFORMED;
        }
    }
    return ERR_OK;
}

static int decode_status_reply(struct reader *r, struct msg_status_reply *m)
{
    if (read_u64(r, &m->nonce) || read_u32(r, UINT32_MAX, &m->pid) ||
        read_u8(r, RAFT_PRECANDIDATE, &m->role) || read_u64(r, &m->leader) ||
        read_u64(r, &m->voted_for) || read_u64(r, &m->commit) ||
        read_u64(r, &m->last_index) || read_u64(r, &m->applied) ||
        read_u32(r, UINT32_MAX, &m->election_timeout_ms) ||
        read_u32(r, UINT32_MAX, &m->election_elapsed_ms) ||
        read_u64(r, &m->leader_contact_ms) || read_array_of(r, DROP__COUNT)) {
        return ERR_MALFORMED;
    }
    for (int i = 0; i < DROP__COUNT; i++) {
        if (read_u64(r, &m->drops[i])) {
            return ERR_MALFORMED;
        }
    }
    if (read_array(r, RAFT_NODES_MAX, &m->n_peers)) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        struct status_peer *p = &m->peers[i];
        if (read_array_of(r, 4) || read_u64(r, &p->id) ||
            read_u64(r, &p->match) || read_u64(r, &p->next) ||
            read_u64(r, &p->last_ack_ms)) {
            return ERR_MALFORMED;
        }
    }
    if (r->n_body == WIRE_STATUS_REPLY_FIELDS_V1) {
        return ERR_OK; /* The first layout: no tail, no fault rules. */
    }
    if (decode_status_reply_tail(r, m) != ERR_OK) {
        return ERR_MALFORMED;
    }
    if (r->n_body == WIRE_STATUS_REPLY_FIELDS_V2) {
        return ERR_OK; /* The second layout: no snapshot fields. */
    }
    if (decode_status_reply_snapshot(r, m) != ERR_OK) {
        return ERR_MALFORMED;
    }
    if (r->n_body == WIRE_STATUS_REPLY_FIELDS_V3) {
        return ERR_OK; /* The third layout: no lost_acked, no disk state. */
    }
    if (read_u64(r, &m->lost_acked)) {
        return ERR_MALFORMED;
    }
    if (r->n_body == WIRE_STATUS_REPLY_FIELDS_V4) {
        return ERR_OK; /* The fourth layout: no disk state. */
    }
    if (read_u8(r, STATUS_DISK_HUNG, &m->disk)) {
        return ERR_MALFORMED;
    }
    if (r->n_body == WIRE_STATUS_REPLY_FIELDS_V5) {
        return ERR_OK; /* The fifth layout: no configuration. */
    }
    const uint8_t *config = NULL;
    if (read_bin(r, MEMBERSHIP_TEXT_MAX - 1, &config, &m->config_len)) {
        return ERR_MALFORMED;
    }
    if (m->config_len > 0) {
        memcpy(m->config, config, m->config_len);
    }
    if (r->n_body == WIRE_STATUS_REPLY_FIELDS_V6) {
        return ERR_OK; /* The sixth layout: no trace figures. */
    }
    return read_u32(r, UINT32_MAX, &m->trace_subscribers) ||
                   read_u64(r, &m->trace_dropped)
               ? ERR_MALFORMED
               : ERR_OK;
}

static int decode_trace_events(struct reader *r, struct msg_trace_events *m,
                               struct wire_scratch *scratch)
{
    uint32_t n;
    if (read_u64(r, &m->dropped) || read_array(r, TRACE_EVENTS_PER_MSG, &n)) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct trace_event *e = &scratch->trace[i];
        if (read_array_of(r, WIRE_TRACE_EVENT_FIELDS) ||
            read_u8(r, TRACE_KIND__COUNT - 1, &e->kind) ||
            read_uint(r, RAFT_ID_MAX, &e->to) || read_u64(r, &e->term) ||
            read_u64(r, &e->index) || read_u32(r, UINT32_MAX, &e->n) ||
            read_bool(r, &e->ok) || read_u32(r, UINT32_MAX, &e->bytes) ||
            read_u32(r, UINT32_MAX, &e->count) ||
            read_u32(r, UINT32_MAX, &e->age_ms)) {
            return ERR_MALFORMED;
        }
    }
    m->n = n;
    m->events = scratch->trace;
    return ERR_OK;
}

static int decode_fault(struct reader *r, struct msg_fault *m)
{
    if (read_u8(r, FAULT_MEMBER, &m->action) ||
        read_array(r, RAFT_NODES_MAX, &m->n_blocked)) {
        return ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < m->n_blocked; i++) {
        if (read_u64(r, &m->blocked[i])) {
            return ERR_MALFORMED;
        }
    }
    if (read_u32(r, WIRE_PPM_MAX, &m->loss_ppm) ||
        read_u32(r, WIRE_PPM_MAX, &m->dup_ppm) ||
        read_u32(r, UINT32_MAX, &m->delay_ms) ||
        read_u32(r, UINT32_MAX, &m->jitter_ms)) {
        return ERR_MALFORMED;
    }
    return ERR_OK;
}

static int decode_client(struct reader *r, struct msg_client *m)
{
    if (read_u64(r, &m->client_id) || read_u64(r, &m->seq) ||
        read_u8(r, CLIENT_REGISTER, &m->op) ||
        read_bin(r, RAFT_KEY_MAX, &m->key, &m->key_len) ||
        read_bin(r, RAFT_VALUE_MAX, &m->value, &m->value_len) ||
        read_bin(r, RAFT_VALUE_MAX, &m->expected, &m->expected_len)) {
        return ERR_MALFORMED;
    }
    return ERR_OK;
}

static int decode_client_reply(struct reader *r, struct msg_client_reply *m)
{
    if (read_u64(r, &m->client_id) || read_u64(r, &m->seq) ||
        read_u8(r, CLIENT_STATUS__COUNT - 1, &m->status) ||
        read_uint(r, RAFT_ID_MAX, &m->leader_hint) ||
        read_bin(r, RAFT_VALUE_MAX, &m->value, &m->value_len)) {
        return ERR_MALFORMED;
    }
    return ERR_OK;
}

/* The items of a batch: 1 to WIRE_BATCH_MAX bins, kept as their bytes. */
static int decode_batch(struct reader *r, struct msg_batch *m)
{
    if (read_array(r, WIRE_BATCH_MAX, &m->n) || m->n == 0) {
        return ERR_MALFORMED;
    }
    size_t start = r->pos;
    for (uint32_t i = 0; i < m->n; i++) {
        const uint8_t *item;
        uint32_t item_len;
        if (read_bin(r, RAFT_DATAGRAM_MAX, &item, &item_len)) {
            return ERR_MALFORMED;
        }
    }
    m->items = r->buf + start;
    m->items_len = (uint32_t)(r->pos - start);
    return ERR_OK;
}

/* Reads the body fields of m->type; ranges are checked by validate_msg(). */
static int decode_body(struct reader *r, struct raft_msg *m,
                       struct wire_scratch *scratch)
{
    struct msg_vote *v = &m->u.vote;
    struct msg_append_reply *ar = &m->u.append_reply;
    struct msg_snapshot *s = &m->u.snapshot;
    struct msg_snapshot_reply *sr = &m->u.snapshot_reply;
    bool ok;
    switch (m->type) {
    case MSG_VOTE:
        return read_u64(r, &v->last_index) || read_u64(r, &v->last_term) ||
               read_bool(r, &v->pre_vote) || read_bool(r, &v->transfer);
    case MSG_VOTE_REPLY:
        return read_bool(r, &m->u.vote_reply.granted) ||
               read_bool(r, &m->u.vote_reply.pre_vote);
    case MSG_APPEND:
        return decode_append(r, &m->u.append, scratch);
    case MSG_APPEND_REPLY:
        return read_bool(r, &ar->success) || read_u64(r, &ar->match_index) ||
               read_u64(r, &ar->reject_index) || read_u64(r, &ar->last_index) ||
               read_u64(r, &ar->conflict_term) ||
               read_u64(r, &ar->conflict_index) || read_u64(r, &ar->ctx);
    case MSG_SNAPSHOT:
        return read_u64(r, &s->last_index) || read_u64(r, &s->last_term) ||
               read_u64(r, &s->offset) || read_bool(r, &s->done) ||
               read_bin(r, RAFT_DATAGRAM_MAX, &s->data, &s->len) ||
               read_u64(r, &s->size);
    case MSG_SNAPSHOT_REPLY:
        return read_u64(r, &sr->last_index) || read_u64(r, &sr->offset) ||
               read_bool(r, &sr->success) || read_u64(r, &sr->last_term) ||
               read_bool(r, &sr->done);
    case MSG_TIMEOUT_NOW:
        return ERR_OK;
    case MSG_CLIENT:
        return decode_client(r, &m->u.client);
    case MSG_CLIENT_REPLY:
        return decode_client_reply(r, &m->u.client_reply);
    case MSG_STATUS:
        return read_u64(r, &m->u.status.nonce);
    case MSG_STATUS_REPLY:
        return decode_status_reply(r, &m->u.status_reply);
    case MSG_FAULT:
        return decode_fault(r, &m->u.fault);
    case MSG_FAULT_REPLY:
        if (read_bool(r, &ok)) {
            return ERR_MALFORMED;
        }
        m->u.fault_reply.ok = ok;
        return ERR_OK;
    case MSG_READ_INDEX:
        return read_u64(r, &m->u.read_index.read_id);
    case MSG_READ_INDEX_REPLY:
        return read_u64(r, &m->u.read_index_reply.read_id) ||
               read_u64(r, &m->u.read_index_reply.index) ||
               read_bool(r, &m->u.read_index_reply.ok);
    case MSG_CLIENT_BATCH:
        return decode_batch(r, &m->u.batch);
    case MSG_CHECK:
        return read_u64(r, &m->u.check.nonce);
    case MSG_CHECK_REPLY:
        return read_u64(r, &m->u.check_reply.nonce) ||
               read_u8(r, CHECK_STATE__COUNT - 1, &m->u.check_reply.state) ||
               read_u64(r, &m->u.check_reply.applied) ||
               read_u64(r, &m->u.check_reply.n_rows) ||
               read_u64(r, &m->u.check_reply.digest);
    case MSG_TRACE:
        return read_u32(r, UINT32_MAX, &m->u.trace.lease_ms);
    case MSG_TRACE_EVENTS:
        return decode_trace_events(r, &m->u.trace_events, scratch);
    default:
        UNREACHABLE();
    }
}

/* The array header and the six header fields. The version is checked before
 * anything else so that a future layout is reported as such. */
static int decode_header(struct reader *r, uint64_t cluster_id,
                         struct raft_msg *m)
{
    uint32_t n;
    uint64_t version;
    uint64_t cluster;
    if (read_array(r, UINT32_MAX, &n) || n < 1 || read_u64(r, &version)) {
        return ERR_MALFORMED;
    }
    if (version != WIRE_VERSION) {
        return ERR_WRONG_VERSION;
    }
    if (n < WIRE_HEADER_FIELDS || read_u64(r, &cluster)) {
        return ERR_MALFORMED;
    }
    if (cluster != cluster_id) {
        return ERR_WRONG_CLUSTER;
    }
    if (read_u8(r, MSG__COUNT - 1, &m->type) || m->type == MSG_NONE ||
        read_uint(r, RAFT_ID_MAX, &m->from) ||
        read_uint(r, RAFT_ID_MAX, &m->to) || read_u64(r, &m->term)) {
        return ERR_MALFORMED;
    }
    r->n_body = n - WIRE_HEADER_FIELDS;
    if (r->n_body != wire_body_fields[m->type] &&
        !(m->type == MSG_STATUS_REPLY &&
          (r->n_body == WIRE_STATUS_REPLY_FIELDS_V1 ||
           r->n_body == WIRE_STATUS_REPLY_FIELDS_V2 ||
           r->n_body == WIRE_STATUS_REPLY_FIELDS_V3 ||
           r->n_body == WIRE_STATUS_REPLY_FIELDS_V4 ||
           r->n_body == WIRE_STATUS_REPLY_FIELDS_V5 ||
           r->n_body == WIRE_STATUS_REPLY_FIELDS_V6))) {
        return ERR_MALFORMED;
    }
    return ERR_OK;
}

int wire_decode(const uint8_t *buf, size_t len, uint64_t cluster_id,
                struct raft_msg *out, struct wire_scratch *scratch)
{
    ASSERT(buf != NULL || len == 0);
    ASSERT(out != NULL);
    ASSERT(scratch != NULL);
    if (len > RAFT_DATAGRAM_MAX) {
        return ERR_MALFORMED;
    }
    struct reader r = {.buf = buf, .len = len, .pos = 0, .n_body = 0};
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    int rc = decode_header(&r, cluster_id, &m);
    if (rc != ERR_OK) {
        return rc;
    }
    if (decode_body(&r, &m, scratch) != ERR_OK || r.pos != r.len ||
        validate_msg(&m) != ERR_OK) {
        return ERR_MALFORMED;
    }
    ASSERT(r.pos == len);
    *out = m;
    return ERR_OK;
}

unsigned wire_peek_type(const uint8_t *buf, size_t len)
{
    struct reader r = {.buf = buf, .len = len, .pos = 0, .n_body = 0};
    uint32_t n;
    uint64_t version, cluster;
    uint8_t type;
    if (buf == NULL || read_array(&r, UINT32_MAX, &n) ||
        n < WIRE_HEADER_FIELDS || read_u64(&r, &version) ||
        read_u64(&r, &cluster) || read_u8(&r, MSG__COUNT - 1, &type)) {
        return MSG_NONE;
    }
    return type;
}

int wire_batch_encode(uint64_t cluster_id, raft_id from, raft_id to,
                      const uint8_t *const *items, const uint32_t *lens,
                      uint32_t n, uint8_t *buf, size_t cap, size_t *len)
{
    ASSERT(items != NULL && lens != NULL);
    ASSERT(len != NULL);
    if (n == 0 || n > WIRE_BATCH_MAX || from > RAFT_ID_MAX ||
        to > RAFT_ID_MAX) {
        return ERR_INVALID;
    }
    struct wire_out w;
    msgpack_packer pk;
    out_init(&w, &pk, buf, cap);
    if (pack_header(&pk, cluster_id, MSG_CLIENT_BATCH, from, to, 0) ||
        msgpack_pack_array(&pk, n)) {
        return ERR_TOO_BIG;
    }
    for (uint32_t i = 0; i < n; i++) {
        ASSERT(items[i] != NULL && lens[i] <= RAFT_DATAGRAM_MAX);
        if (pack_bin(&pk, items[i], lens[i])) {
            return ERR_TOO_BIG;
        }
    }
    *len = w.len;
    return ERR_OK;
}

bool wire_batch_next(const struct msg_batch *b, uint32_t *pos,
                     const uint8_t **item, uint32_t *item_len)
{
    ASSERT(b != NULL && pos != NULL);
    if (*pos >= b->items_len) {
        return false;
    }
    struct reader r = {
        .buf = b->items, .len = b->items_len, .pos = *pos, .n_body = 0};
    /* decode_batch checked every bin; a batch built by hand may not be. */
    if (read_bin(&r, RAFT_DATAGRAM_MAX, item, item_len) != ERR_OK) {
        *pos = b->items_len;
        return false;
    }
    *pos = (uint32_t)r.pos;
    return true;
}
