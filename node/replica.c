/*
 * One cluster member minus its I/O: the Raft core, the bounded tables of
 * pending client writes and reads, and the ready loop that turns each batch
 * into send / persist / send / apply / reply calls through struct replica_io,
 * in the order the core requires. Pure: no I/O, no clock, no printing; the
 * same code runs in raftnode (node/node.c) and in the simulator (tests/sim).
 * Read node/node.c next.
 */
#include "node/replica.h"

#include <stdlib.h>
#include <string.h>

#include "common/command.h"
#include "common/err.h"
#include "common/invariant.h"
#include "node/durable.h"
#include "node/kv_writeback.h"
#include "node/raft_bugs.h"
#include "node/replica_plan.h"
#include "node/replica_snapshot.h"

#define REPLICA_PENDING_DEFAULT 4096
/* Ready batches per drain; the rest waits for the next wakeup
 * (replica_deadline() then says "now"). */
#define REPLICA_DRAIN_ROUNDS_MAX 64

/* A proposed write waiting for its entry to be applied. */
struct pending_write {
    raft_index index;
    raft_term term;        /* The term it was proposed in. */
    struct raft_addr addr; /* Who to answer. */
    uint64_t client_id;
    uint64_t seq;
    uint8_t status;   /* Set when its entry is applied. */
    bool is_register; /* CLIENT_REGISTER: answer with the entry's index. */
};

/* A linearizable read waiting for its read index, then for apply. */
struct pending_read {
    uint64_t read_id;
    bool has_index;
    raft_index index;
    struct raft_addr addr;
    uint64_t client_id;
    uint64_t seq;
    uint32_t key_len;
    uint8_t *key; /* Owned copy. */
};

struct replica {
    struct raft *raft;
    struct replica_io io;
    bool is_stopped;
    raft_index applied; /* Last index applied through kv. */
    /* The applied state: a write-back buffer over io->kv (kv_ctx is it). */
    struct kv_writeback *wb;
    const struct kv_store_ops *kv;
    /* Writes: a ring ordered by index, all proposed in writes_term. */
    struct pending_write *writes;
    uint32_t writes_cap;
    uint32_t writes_head;
    uint32_t n_writes;
    raft_term writes_term;
    /* Reads: unordered, removed by swapping with the last. */
    struct pending_read *reads;
    uint32_t reads_cap;
    uint32_t n_reads;
    uint64_t next_read_id;
    uint8_t *encode_buf; /* RAFT_ENTRY_MAX bytes for command_encode. */
    /* io->sync set: persists only write; what is durable, and the
     * messages waiting for it. */
    bool is_async;
    struct durable dur;
    struct replica_snapshot snap; /* Compaction and transfers. */
    uint64_t max_sessions;        /* Written into register entries. */
    uint32_t entry_bytes_max;     /* A client write's entry; 0: any. */
};

/* What node/replica_snapshot.c acts on. */
static struct replica_snapshot_host snap_host(struct replica *rep)
{
    struct replica_snapshot_host h = {rep->raft, &rep->io, rep->wb,
                                      &rep->applied,
                                      rep->is_async ? &rep->dur : NULL};
    return h;
}

/* Sends one client reply through io->reply. value is borrowed. */
static void send_client_reply(struct replica *rep, const struct raft_addr *to,
                              uint64_t client_id, uint64_t seq, uint8_t status,
                              const uint8_t *value, uint32_t value_len)
{
    struct raft_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = MSG_CLIENT_REPLY;
    msg.from = raft_self(rep->raft);
    msg.u.client_reply.client_id = client_id;
    msg.u.client_reply.seq = seq;
    msg.u.client_reply.status = status;
    msg.u.client_reply.leader_hint = raft_leader(rep->raft);
    msg.u.client_reply.value_len = value_len;
    msg.u.client_reply.value = value;
    rep->io.reply(rep->io.ctx, to, &msg);
}

/* The answer for a request this node cannot serve: redirect when someone
 * else leads, else retry (an election is under way, or this leader cannot
 * tell yet). */
static uint8_t not_leader_status(const struct replica *rep)
{
    raft_id leader = raft_leader(rep->raft);
    if (leader != RAFT_ID_NONE && leader != raft_self(rep->raft)) {
        return CLIENT_NOT_LEADER;
    }
    if (raft_role(rep->raft) != RAFT_LEADER) {
        return CLIENT_NOT_LEADER;
    }
    return CLIENT_RETRY;
}

struct replica *replica_new(const struct replica_config *config,
                            const struct raft_loaded *loaded,
                            const struct replica_io *io, raft_trace_cb trace,
                            void *trace_ctx, uint64_t now_ms)
{
    ASSERT(config != NULL);
    ASSERT(loaded != NULL);
    ASSERT(io != NULL);
    ASSERT(io->send != NULL);
    ASSERT(io->reply != NULL);
    ASSERT(io->persist != NULL);
    ASSERT(io->kv != NULL);

    uint32_t cap = config->pending_max != 0 ? config->pending_max
                                            : REPLICA_PENDING_DEFAULT;
    struct replica *rep = calloc(1, sizeof *rep);
    if (rep == NULL) {
        return NULL;
    }
    rep->io = *io;
    rep->max_sessions = config->max_sessions;
    rep->entry_bytes_max = config->entry_bytes_max;
    rep->writes_cap = cap;
    rep->reads_cap = cap;
    rep->writes = calloc(cap, sizeof *rep->writes);
    rep->reads = calloc(cap, sizeof *rep->reads);
    rep->encode_buf = malloc(RAFT_ENTRY_MAX);
    if (rep->writes == NULL || rep->reads == NULL || rep->encode_buf == NULL) {
        goto fail;
    }
    struct raft_config rc = config->raft;
    rep->is_async = io->sync != NULL;
    rc.async_persist = rep->is_async;
    rep->raft = raft_new(&rc, loaded, trace, trace_ctx, now_ms);
    if (rep->raft == NULL) {
        goto fail;
    }
    durable_init(&rep->dur, raft_last_index(rep->raft));
    /* Read ids start somewhere else in every run (raftnode's seed is
     * random per start): a leader's answer to a read of an earlier run,
     * delayed past a restart, then matches no read of this one. */
    uint64_t x = config->raft.seed + 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    rep->next_read_id = (x ^ (x >> 31)) >> 2; /* Far from wrapping to 0. */
    rep->applied = raft_applied_index(rep->raft);
    rep->wb = kv_writeback_new(io->kv, io->kv_ctx, rep->applied,
                               &config->kv_writeback);
    if (rep->wb == NULL) {
        goto fail;
    }
    rep->kv = kv_writeback_ops();
    if (replica_snapshot_init(&rep->snap, &config->snapshot, io) != ERR_OK) {
        goto fail;
    }
    return rep;

fail:
    replica_snapshot_close(&rep->snap);
    kv_writeback_free(rep->wb);
    raft_free(rep->raft);
    free(rep->encode_buf);
    free(rep->reads);
    free(rep->writes);
    free(rep);
    return NULL;
}

void replica_free(struct replica *rep)
{
    if (rep == NULL) {
        return;
    }
    for (uint32_t i = 0; i < rep->n_reads; i++) {
        free(rep->reads[i].key);
    }
    replica_snapshot_close(&rep->snap);
    kv_writeback_free(rep->wb);
    durable_free(&rep->dur);
    raft_free(rep->raft);
    free(rep->encode_buf);
    free(rep->reads);
    free(rep->writes);
    free(rep);
}

void replica_set_disk_ok(struct replica *rep, bool ok)
{
    ASSERT(rep != NULL);
    raft_set_disk_ok(rep->raft, ok);
}

const struct raft *replica_raft(const struct replica *rep)
{
    ASSERT(rep != NULL);
    return rep->raft;
}

int replica_change(struct replica *rep, uint64_t now_ms,
                   const struct membership *to, raft_index *index)
{
    ASSERT(rep != NULL);
    return raft_change(rep->raft, now_ms, to, index);
}

void replica_snapshot_config(struct replica *rep, const uint8_t *text,
                             uint32_t len)
{
    ASSERT(rep != NULL);
    (void)raft_snapshot_set_config(rep->raft, text, len);
}

int replica_transfer(struct replica *rep, uint64_t now_ms, raft_id target)
{
    ASSERT(rep != NULL);
    return raft_transfer(rep->raft, now_ms, target);
}

struct kv_writeback *replica_kv_writeback(struct replica *rep)
{
    ASSERT(rep != NULL);
    return rep->wb;
}

/* --- The pending-write ring ------------------------------------------- */

static struct pending_write *writes_at(struct replica *rep, uint32_t i)
{
    ASSERT(i < rep->n_writes);
    return &rep->writes[(rep->writes_head + i) % rep->writes_cap];
}

static void writes_pop(struct replica *rep)
{
    ASSERT(rep->n_writes > 0);
    rep->writes_head = (rep->writes_head + 1) % rep->writes_cap;
    rep->n_writes--;
}

/* Answers every pending write with `status` and empties the ring: their
 * outcome is unknown (the entry may still commit under another leader), so
 * the client retries with the same (client_id, seq) and the session makes
 * the retry harmless. */
static void writes_fail_all(struct replica *rep, uint8_t status)
{
    for (uint32_t i = 0; i < rep->n_writes; i++) {
        const struct pending_write *w = writes_at(rep, i);
        send_client_reply(rep, &w->addr, w->client_id, w->seq, status, NULL, 0);
    }
    rep->n_writes = 0;
    rep->writes_head = 0;
}

static struct pending_write *writes_find(struct replica *rep,
                                         uint64_t client_id, uint64_t seq)
{
    for (uint32_t i = 0; i < rep->n_writes; i++) {
        struct pending_write *w = writes_at(rep, i);
        if (w->client_id == client_id && w->seq == seq) {
            return w;
        }
    }
    return NULL;
}

/* Records a proposal at index. The ring stays ordered by index: a new term
 * (which only happens after this node lost and won leadership again) first
 * fails whatever older-term writes remain. */
static void writes_push(struct replica *rep, raft_index index, raft_term term,
                        const struct raft_addr *addr,
                        const struct msg_client *req)
{
    if (rep->n_writes > 0 && rep->writes_term != term) {
        writes_fail_all(rep, CLIENT_RETRY);
    }
    ASSERT(rep->n_writes < rep->writes_cap);
    if (rep->n_writes > 0) {
        ASSERT(writes_at(rep, rep->n_writes - 1)->index < index);
    }
    rep->writes_term = term;
    rep->n_writes++;
    struct pending_write *w = writes_at(rep, rep->n_writes - 1);
    w->index = index;
    w->term = term;
    w->addr = *addr;
    w->client_id = req->client_id;
    w->seq = req->seq;
    w->is_register = req->op == CLIENT_REGISTER;
}

/* --- The pending-read table ------------------------------------------- */

static void reads_remove(struct replica *rep, uint32_t i)
{
    ASSERT(i < rep->n_reads);
    free(rep->reads[i].key);
    rep->n_reads--;
    if (i != rep->n_reads) {
        rep->reads[i] = rep->reads[rep->n_reads];
    }
    memset(&rep->reads[rep->n_reads], 0, sizeof rep->reads[0]);
}

static int reads_find(const struct replica *rep, uint64_t read_id)
{
    for (uint32_t i = 0; i < rep->n_reads; i++) {
        if (rep->reads[i].read_id == read_id) {
            return (int)i;
        }
    }
    return -1;
}

/* Copies a GET into the table. Errors: ERR_AGAIN (full), ERR_NOMEM. */
static int reads_add(struct replica *rep, uint64_t read_id,
                     const struct raft_addr *addr, const struct msg_client *req)
{
    if (rep->n_reads >= rep->reads_cap) {
        return ERR_AGAIN;
    }
    uint8_t *key = malloc(req->key_len);
    if (key == NULL) {
        return ERR_NOMEM;
    }
    memcpy(key, req->key, req->key_len);
    struct pending_read *r = &rep->reads[rep->n_reads++];
    memset(r, 0, sizeof *r);
    r->read_id = read_id;
    r->addr = *addr;
    r->client_id = req->client_id;
    r->seq = req->seq;
    r->key_len = req->key_len;
    r->key = key;
    return ERR_OK;
}

/* Serves every read whose index is applied: kv->get on the applied state,
 * outside any transaction. Errors: a kv error (fatal). */
static int reads_serve(struct replica *rep)
{
    uint32_t i = 0;
    while (i < rep->n_reads) {
        struct pending_read *r = &rep->reads[i];
        if (!r->has_index || r->index > rep->applied) {
            i++;
            continue;
        }
        const uint8_t *value = NULL;
        uint32_t value_len = 0;
        int rv = rep->kv->get(rep->wb, r->key, r->key_len, &value, &value_len);
        if (rv == ERR_OK) {
            send_client_reply(rep, &r->addr, r->client_id, r->seq, CLIENT_OK,
                              value, value_len);
        } else if (rv == ERR_NOT_FOUND) {
            send_client_reply(rep, &r->addr, r->client_id, r->seq,
                              CLIENT_NOT_FOUND, NULL, 0);
        } else {
            return rv;
        }
        reads_remove(rep, i);
    }
    return ERR_OK;
}

/* --- Inputs ----------------------------------------------------------- */

int replica_on_message(struct replica *rep, uint64_t now_ms,
                       const struct raft_msg *msg)
{
    ASSERT(rep != NULL);
    ASSERT(msg != NULL);
    if (rep->is_stopped) {
        return ERR_STOPPED;
    }
    int rv = raft_step(rep->raft, now_ms, msg);
    if (rv == ERR_OK &&
        (msg->type == MSG_SNAPSHOT || msg->type == MSG_SNAPSHOT_REPLY)) {
        struct replica_snapshot_host h = snap_host(rep);
        rv = replica_snapshot_on_message(&rep->snap, &h, now_ms, msg);
        if (rv == ERR_STOPPED) {
            rep->is_stopped = true;
        }
    }
    return rv;
}

int replica_on_synced(struct replica *rep, uint64_t now_ms)
{
    ASSERT(rep != NULL);
    ASSERT(rep->is_async);
    (void)now_ms;
    if (rep->is_stopped) {
        return ERR_STOPPED;
    }
    raft_persisted(rep->raft, durable_done(&rep->dur));
    raft_persisted_term(rep->raft, durable_synced_term(&rep->dur));
    struct raft_msg msg;
    while (durable_release(&rep->dur, &msg)) {
        rep->io.send(rep->io.ctx, &msg);
    }
    return ERR_OK;
}

int replica_tick(struct replica *rep, uint64_t now_ms)
{
    ASSERT(rep != NULL);
    if (rep->is_stopped) {
        return ERR_STOPPED;
    }
    if (kv_writeback_tick(rep->wb, now_ms) != ERR_OK) {
        rep->is_stopped = true;
        return ERR_STOPPED;
    }
    replica_snapshot_tick(&rep->snap, now_ms);
    return raft_tick(rep->raft, now_ms);
}

int replica_store(struct replica *rep)
{
    ASSERT(rep != NULL);
    if (rep->is_stopped) {
        return ERR_STOPPED;
    }
    if (kv_writeback_store(rep->wb) != ERR_OK) {
        rep->is_stopped = true;
        return ERR_STOPPED;
    }
    return ERR_OK;
}

int replica_compact_now(struct replica *rep)
{
    ASSERT(rep != NULL);
    int rv = replica_store(rep);
    if (rv != ERR_OK) {
        return rv;
    }
    struct replica_snapshot_host h = snap_host(rep);
    if (replica_snapshot_compact_now(&rep->snap, &h) != ERR_OK) {
        rep->is_stopped = true;
        return ERR_STOPPED;
    }
    return ERR_OK;
}

uint64_t replica_deadline(const struct replica *rep)
{
    ASSERT(rep != NULL);
    if (rep->is_stopped) {
        return UINT64_MAX;
    }
    if (raft_has_ready(rep->raft)) {
        return 0;
    }
    uint64_t deadline = raft_deadline(rep->raft);
    uint64_t store_at = kv_writeback_deadline(rep->wb);
    if (store_at < deadline) {
        deadline = store_at;
    }
    uint64_t snap_at = replica_snapshot_deadline(&rep->snap);
    return snap_at < deadline ? snap_at : deadline;
}

/* Checks limits that hold for every op; the core and command_encode check
 * again but a client must get CLIENT_INVALID, never a crash or silence. */
static bool client_request_is_valid(const struct msg_client *req)
{
    if (req->op == CLIENT_REGISTER) {
        return req->key_len == 0 && req->value_len == 0 &&
               req->expected_len == 0;
    }
    if (req->op != CLIENT_PUT && req->op != CLIENT_GET &&
        req->op != CLIENT_DEL && req->op != CLIENT_CAS) {
        return false;
    }
    if (req->key_len < 1 || req->key_len > RAFT_KEY_MAX || req->key == NULL) {
        return false;
    }
    if (req->value_len > RAFT_VALUE_MAX ||
        (req->value_len > 0 && req->value == NULL)) {
        return false;
    }
    if (req->expected_len > RAFT_VALUE_MAX ||
        (req->expected_len > 0 && req->expected == NULL)) {
        return false;
    }
    return true;
}

/* A GET: asks the core for a read index (thesis section 6.4) and remembers
 * the request until it is confirmed and applied. */
static int on_client_get(struct replica *rep, uint64_t now_ms,
                         const struct raft_addr *from,
                         const struct msg_client *req)
{
    uint64_t read_id = ++rep->next_read_id;
    int rv = reads_add(rep, read_id, from, req);
    if (rv != ERR_OK) {
        send_client_reply(rep, from, req->client_id, req->seq, CLIENT_RETRY,
                          NULL, 0);
        return rv;
    }
    rv = raft_read_index(rep->raft, now_ms, read_id);
    if (rv != ERR_OK) {
        reads_remove(rep, (uint32_t)reads_find(rep, read_id));
        send_client_reply(rep, from, req->client_id, req->seq,
                          rv == ERR_NOT_LEADER ? not_leader_status(rep)
                                               : CLIENT_RETRY,
                          NULL, 0);
        return rv == ERR_NOT_LEADER ? ERR_OK : rv;
    }
    return ERR_OK;
}

/* Looks (client_id, seq) up in the applied sessions. Returns true when the
 * request was answered from there: the same seq gets its cached status, an
 * older seq is a stale datagram whose own result is no longer known.
 * Errors in *rv: a kv error (fatal). */
static bool on_client_write_answered(struct replica *rep,
                                     const struct raft_addr *from,
                                     const struct msg_client *req, int *rv)
{
    uint64_t last_seq = 0;
    uint8_t status = 0;
    *rv = rep->kv->session_get(rep->wb, req->client_id, &last_seq, &status);
    if (*rv == ERR_NOT_FOUND) {
        /* Ids are register indexes: one at or below applied that is not
         * live was evicted (or never was), for good (thesis 6.3). Above
         * applied, the entry that registers it may still be applied. */
        *rv = ERR_OK;
        if (req->client_id > rep->applied ||
            RAFT_BUG(RAFT_BUG_SESSION_REVIVE)) {
            return false;
        }
        send_client_reply(rep, from, req->client_id, req->seq,
                          CLIENT_SESSION_EXPIRED, NULL, 0);
        return true;
    }
    if (*rv != ERR_OK || req->seq > last_seq) {
        return *rv != ERR_OK;
    }
    if (req->seq < last_seq) {
        status = CLIENT_INVALID;
    }
    send_client_reply(rep, from, req->client_id, req->seq, status, NULL, 0);
    return true;
}

/* CLIENT_REGISTER: proposes a register entry carrying this leader's
 * limit; the answer, once applied, is the entry's index (the session id).
 * A retry while it is pending is absorbed; one after it was applied
 * registers another session, which just ages out unused. */
static int on_client_register(struct replica *rep, uint64_t now_ms,
                              const struct raft_addr *from,
                              const struct msg_client *req)
{
    struct pending_write *w = writes_find(rep, req->client_id, req->seq);
    if (w != NULL) {
        w->addr = *from;
        return ERR_OK;
    }
    if (rep->n_writes >= rep->writes_cap) {
        send_client_reply(rep, from, req->client_id, req->seq, CLIENT_RETRY,
                          NULL, 0);
        return ERR_AGAIN;
    }
    uint32_t len = kv_session_entry_format(rep->encode_buf, rep->max_sessions);
    raft_index index = 0;
    int rv = raft_propose(rep->raft, now_ms, RAFT_ENTRY_NOOP, rep->encode_buf,
                          len, &index);
    if (rv != ERR_OK) {
        uint8_t status =
            rv == ERR_NOT_LEADER ? not_leader_status(rep) : CLIENT_RETRY;
        send_client_reply(rep, from, req->client_id, req->seq, status, NULL, 0);
        return rv == ERR_NOMEM ? rv : ERR_OK;
    }
    writes_push(rep, index, raft_current_term(rep->raft), from, req);
    return ERR_OK;
}

/* PUT, DEL, CAS: deduplicate against sessions and the pending ring, then
 * propose one entry and remember whom to answer. */
static int on_client_write(struct replica *rep, uint64_t now_ms,
                           const struct raft_addr *from,
                           const struct msg_client *req)
{
    int rv = ERR_OK;
    if (req->client_id != 0) {
        if (on_client_write_answered(rep, from, req, &rv)) {
            return rv;
        }
        struct pending_write *w = writes_find(rep, req->client_id, req->seq);
        if (w != NULL) {
            w->addr = *from; /* A retry: answer where it now listens. */
            return ERR_OK;
        }
    }
    if (rep->n_writes >= rep->writes_cap) {
        send_client_reply(rep, from, req->client_id, req->seq, CLIENT_RETRY,
                          NULL, 0);
        return ERR_AGAIN;
    }
    struct command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = req->op == CLIENT_PUT   ? COMMAND_OP_PUT
             : req->op == CLIENT_DEL ? COMMAND_OP_DEL
                                     : COMMAND_OP_CAS;
    cmd.client_id = req->client_id;
    cmd.seq = req->seq;
    cmd.key_len = req->key_len;
    cmd.key = req->key;
    if (req->op != CLIENT_DEL) {
        cmd.value_len = req->value_len;
        cmd.value = req->value;
    }
    if (req->op == CLIENT_CAS) {
        cmd.expected_len = req->expected_len;
        cmd.expected = req->expected;
    }
    size_t len = 0;
    rv = command_encode(&cmd, rep->encode_buf, RAFT_ENTRY_MAX, &len);
    if (rv != ERR_OK ||
        (rep->entry_bytes_max != 0 && len > rep->entry_bytes_max)) {
        send_client_reply(rep, from, req->client_id, req->seq, CLIENT_INVALID,
                          NULL, 0);
        return ERR_OK;
    }
    raft_index index = 0;
    rv = raft_propose(rep->raft, now_ms, RAFT_ENTRY_NORMAL, rep->encode_buf,
                      (uint32_t)len, &index);
    if (rv != ERR_OK) {
        uint8_t status = rv == ERR_NOT_LEADER ? not_leader_status(rep)
                         : rv == ERR_TOO_BIG  ? CLIENT_INVALID
                                              : CLIENT_RETRY;
        send_client_reply(rep, from, req->client_id, req->seq, status, NULL, 0);
        return rv == ERR_NOMEM ? rv : ERR_OK;
    }
    writes_push(rep, index, raft_current_term(rep->raft), from, req);
    return ERR_OK;
}

int replica_on_client(struct replica *rep, uint64_t now_ms,
                      const struct raft_addr *from,
                      const struct msg_client *req)
{
    ASSERT(rep != NULL);
    ASSERT(from != NULL);
    ASSERT(req != NULL);
    if (rep->is_stopped) {
        return ERR_STOPPED;
    }
    if (!client_request_is_valid(req)) {
        send_client_reply(rep, from, req->client_id, req->seq, CLIENT_INVALID,
                          NULL, 0);
        return ERR_OK;
    }
    if (req->op == CLIENT_GET) {
        /* Any node that follows a leader serves reads: the core asks the
         * leader for a confirmed read index (no log write). */
        return on_client_get(rep, now_ms, from, req);
    }
    if (raft_role(rep->raft) != RAFT_LEADER) {
        send_client_reply(rep, from, req->client_id, req->seq,
                          not_leader_status(rep), NULL, 0);
        return ERR_OK;
    }
    if (req->op == CLIENT_REGISTER) {
        return on_client_register(rep, now_ms, from, req);
    }
    return on_client_write(rep, now_ms, from, req);
}

/* --- The ready loop --------------------------------------------------- */

/* Marks the pending writes settled by applying the entry at index: the
 * ring is ordered, so they are the next ones from *cursor on. A record
 * proposed in another term than the entry's was overwritten: its command
 * may or may not be in the log elsewhere, so the client retries. */
static void apply_mark(struct replica *rep, uint32_t *cursor, raft_index index,
                       raft_term term, uint8_t status)
{
    while (*cursor < rep->n_writes && writes_at(rep, *cursor)->index <= index) {
        struct pending_write *w = writes_at(rep, *cursor);
        w->status =
            (w->index == index && w->term == term) ? status : CLIENT_RETRY;
        (*cursor)++;
    }
}

/* Applies rd's committed entries in one kv batch (DESIGN.md: apply and
 * applied index together; the write-back buffer may hold the batch for a
 * later store transaction), then answers the writes they settled. An
 * answer rests on the entry being durable in a majority of logs, which it
 * is once committed; the applied state can always be rebuilt from the log.
 * Errors: a kv error (fatal). */
static int replica_drain_apply(struct replica *rep, const struct raft_ready *rd)
{
    if (rd->n_committed == 0) {
        return ERR_OK;
    }
    ASSERT(rd->committed_first_index == rep->applied + 1);
    const struct kv_store_ops *kv = rep->kv;
    int rv = kv->begin(rep->wb);
    if (rv != ERR_OK) {
        return rv;
    }
    uint32_t n_settled = 0;
    for (size_t i = 0; i < rd->n_committed; i++) {
        const struct raft_entry *e = &rd->committed[i];
        uint8_t status = CLIENT_OK;
        if (e->type == RAFT_ENTRY_NORMAL) {
            struct kv_result res;
            memset(&res, 0, sizeof res);
            rv = kv_apply(kv, rep->wb, rd->committed_first_index + i, e->data,
                          e->len, &res);
            if (rv != ERR_OK) {
                return rv;
            }
            status = res.status;
        }
        uint64_t max = 0;
        if (e->type == RAFT_ENTRY_NOOP &&
            kv_session_entry_parse(e->data, e->len, &max)) {
            if (RAFT_BUG(RAFT_BUG_SESSION_OWN_LIMIT)) {
                max = rep->max_sessions;
            }
            rv = kv_register(kv, rep->wb, rd->committed_first_index + i, max);
            if (rv != ERR_OK) {
                return rv;
            }
        }
        apply_mark(rep, &n_settled, rd->committed_first_index + i, e->term,
                   status);
    }
    raft_index last = rd->committed_first_index + rd->n_committed - 1;
    rv = kv->commit(rep->wb, last);
    if (rv != ERR_OK) {
        return rv;
    }
    rep->applied = last;
    for (uint32_t i = 0; i < n_settled; i++) {
        const struct pending_write *w = writes_at(rep, 0);
        uint8_t id[8];
        bool has_id = w->is_register && w->status == CLIENT_OK;
        for (int k = 0; k < 8; k++) {
            id[k] = (uint8_t)(w->index >> (8 * k));
        }
        send_client_reply(rep, &w->addr, w->client_id, w->seq, w->status,
                          has_id ? id : NULL, has_id ? 8 : 0);
        writes_pop(rep);
    }
    return ERR_OK;
}

/* Records read indexes the core confirmed; refused ones are answered. */
static void replica_drain_reads(struct replica *rep,
                                const struct raft_ready *rd)
{
    for (size_t i = 0; i < rd->n_reads; i++) {
        const struct raft_read *rr = &rd->reads[i];
        int at = reads_find(rep, rr->read_id);
        if (at < 0) {
            continue; /* Already answered (leadership lost earlier). */
        }
        struct pending_read *r = &rep->reads[at];
        if (!rr->ok) {
            send_client_reply(rep, &r->addr, r->client_id, r->seq,
                              not_leader_status(rep), NULL, 0);
            reads_remove(rep, (uint32_t)at);
            continue;
        }
        r->has_index = true;
        r->index = rr->index;
    }
}

/* Applies rd's committed entries, answers their writers, then records and
 * serves the reads the core confirmed. Errors: ERR_STOPPED. */
static int replica_drain_answer(struct replica *rep,
                                const struct raft_ready *rd)
{
    if (replica_drain_apply(rep, rd) != ERR_OK) {
        return ERR_STOPPED;
    }
    replica_drain_reads(rep, rd);
    if (reads_serve(rep) != ERR_OK) {
        return ERR_STOPPED;
    }
    if (rep->io.replies_done != NULL) {
        rep->io.replies_done(rep->io.ctx);
    }
    return ERR_OK;
}

/* Asynchronous syncs: asks for one when none runs, something was written
 * since the last, and a held message or the core wants it. Errors:
 * ERR_STOPPED. */
static int replica_ask_sync(struct replica *rep)
{
    if (rep->is_async && durable_should_ask(&rep->dur) &&
        (rep->dur.n_held > 0 || raft_sync_wanted(rep->raft))) {
        if (rep->io.sync(rep->io.ctx) != ERR_OK) {
            return ERR_STOPPED;
        }
        durable_asked(&rep->dur);
    }
    return ERR_OK;
}

/* Sends msgs_after, or, while a write is not yet known durable, holds
 * them until the sync that covers it (acknowledgements and votes promise
 * what is on disk). Errors: ERR_STOPPED. */
static int replica_drain_after(struct replica *rep, const struct raft_ready *rd)
{
    bool hold = rep->is_async && durable_is_pending(&rep->dur) &&
                !RAFT_BUG(RAFT_BUG_SEND_UNSYNCED);
    for (size_t i = 0; i < rd->n_msgs_after; i++) {
        if (!hold) {
            rep->io.send(rep->io.ctx, &rd->msgs_after[i]);
        } else if (durable_hold(&rep->dur, &rd->msgs_after[i]) != ERR_OK) {
            return ERR_STOPPED;
        }
    }
    return ERR_OK;
}

/* Writes rd's hard state, truncation and entries. Errors: ERR_STOPPED. */
static int replica_drain_write(struct replica *rep, const struct raft_ready *rd)
{
    if (rep->io.persist(rep->io.ctx, rd) != ERR_OK) {
        return ERR_STOPPED;
    }
    if (rep->is_async) {
        durable_wrote(&rep->dur, rd);
    }
    return ERR_OK;
}

/* One ready batch, its steps in the core's order (node/raft.h): send now,
 * write, send after, apply and answer, advance. node/replica_plan.c
 * decides the two moves: where the apply-and-answer step goes (one of the
 * three points below) and whether a follower asks for its sync before it.
 * Errors: ERR_STOPPED. */
static int replica_drain_one(struct replica *rep)
{
    struct raft_ready rd;
    memset(&rd, 0, sizeof rd);
    raft_ready(rep->raft, &rd);
    struct replica_plan plan;
    replica_plan(&rd, rep->is_async, raft_role(rep->raft) == RAFT_LEADER,
                 &plan);
    if (plan.answer_at == REPLICA_ANSWER_BEFORE_SEND &&
        replica_drain_answer(rep, &rd) != ERR_OK) {
        return ERR_STOPPED;
    }
    for (size_t i = 0; i < rd.n_msgs_now; i++) {
        rep->io.send(rep->io.ctx, &rd.msgs_now[i]);
    }
    if (plan.answer_at == REPLICA_ANSWER_BEFORE_WRITE &&
        replica_drain_answer(rep, &rd) != ERR_OK) {
        return ERR_STOPPED;
    }
    if (plan.has_write && replica_drain_write(rep, &rd) != ERR_OK) {
        return ERR_STOPPED;
    }
    if (replica_drain_after(rep, &rd) != ERR_OK) {
        return ERR_STOPPED;
    }
    if (plan.syncs_first && replica_ask_sync(rep) != ERR_OK) {
        return ERR_STOPPED;
    }
    if (plan.answer_at == REPLICA_ANSWER_AFTER_WRITE &&
        replica_drain_answer(rep, &rd) != ERR_OK) {
        return ERR_STOPPED;
    }
    /* Leadership lost, or a new term: writes not applied by now may still
     * commit elsewhere, so their outcome is unknown (CLIENT_RETRY). */
    bool is_leader = raft_role(rep->raft) == RAFT_LEADER;
    if (rep->n_writes > 0 &&
        (!is_leader || rep->writes_term != raft_current_term(rep->raft))) {
        writes_fail_all(rep, CLIENT_RETRY);
    }
    /* Reads need no such sweep: the core answers every read it took, once,
     * confirmed or failed (step-down, an overdue forwarded read). */
    replica_snapshot_on_ready(&rep->snap, &rd);
    raft_advance(rep->raft, &rd);
    return ERR_OK;
}

int replica_drain(struct replica *rep, uint64_t now_ms)
{
    ASSERT(rep != NULL);
    if (rep->is_stopped) {
        return ERR_STOPPED;
    }
    for (int round = 0; round < REPLICA_DRAIN_ROUNDS_MAX; round++) {
        if (!raft_has_ready(rep->raft)) {
            break;
        }
        if (replica_drain_one(rep) != ERR_OK) {
            rep->is_stopped = true;
            return ERR_STOPPED;
        }
    }
    /* One sync at a time covers every write of this wakeup (and of the
     * wakeups while the previous one ran): group commit. (A follower asks
     * in its first round, replica_drain_one; what later rounds write waits
     * for the next sync.) A leader whose followers commit without it syncs
     * later (raft_sync_wanted). */
    if (replica_ask_sync(rep) != ERR_OK) {
        rep->is_stopped = true;
        return ERR_STOPPED;
    }
    /* Starts the write-back delay at the first apply it buffers. */
    if (kv_writeback_tick(rep->wb, now_ms) != ERR_OK) {
        rep->is_stopped = true;
        return ERR_STOPPED;
    }
    struct replica_snapshot_host h = snap_host(rep);
    if (replica_snapshot_drain(&rep->snap, &h, now_ms) != ERR_OK) {
        rep->is_stopped = true;
        return ERR_STOPPED;
    }
    return ERR_OK;
}

uint32_t replica_snapshot_progress(const struct replica *rep,
                                   struct status_transfer *recv,
                                   struct status_transfer *sends, uint32_t cap)
{
    ASSERT(recv != NULL);
    ASSERT(sends != NULL || cap == 0);
    const struct snapshot_recv *r = &rep->snap.recv;
    memset(recv, 0, sizeof *recv);
    if (r->is_active && r->size > 0) {
        recv->peer = raft_leader(rep->raft);
        recv->done = r->next;
        recv->size = r->size;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < RAFT_NODES_MAX && n < cap; i++) {
        const struct snapshot_send *t = &rep->snap.sends[i];
        if (t->is_active) {
            sends[n].peer = t->peer;
            sends[n].done = t->acked;
            sends[n].size = t->size;
            n++;
        }
    }
    ASSERT(recv->done <= recv->size);
    return n;
}

void replica_snapshot_stats(const struct replica *rep,
                            struct replica_snapshot_stats *out)
{
    ASSERT(rep != NULL);
    *out = rep->snap.stats;
}
