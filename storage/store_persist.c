/*
 * Writing the log: one transaction per persisted batch, the readable
 * columns decoded from each entry, and, with deferred sync, a queue. With
 * the syncer (store_set_deferred_sync), store_persist only copies the batch
 * into the queue; store_write_queue writes everything queued in one
 * transaction right before the caller's fdatasync, so a node writes one
 * transaction per sync instead of one per loop wakeup: the WAL gets a
 * few full pages instead of one mostly repeated page per wakeup. Reads of
 * the log and the kv transaction write the queue first, so nothing ever
 * reads around it and the WAL keeps log writes ahead of the applies that
 * depend on them. Not pure. Read storage/store_load.c next.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/command.h"
#include "common/invariant.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "storage/store_int.h"

/* Binds the readable columns of a normal entry (key, value, expected,
 * client_id, seq: parameters base + 4..8) from its decoded payload;
 * returns the op name. *rebuilds says the columns give back the exact
 * payload (store_load.c load_rebuild): kv payloads have one encoding, so
 * only a seq without a client id, which has no column, keeps it from
 * being rebuilt. */
static const char *persist_bind_cmd(sqlite3_stmt *st, int base,
                                    const struct raft_entry *e, int *rc,
                                    bool *rebuilds)
{
    struct command cmd;
    if (command_decode(e->data, e->len, &cmd) != ERR_OK) {
        return "invalid"; /* Applied as CLIENT_INVALID on every replica. */
    }
    ASSERT(command_encoded_size(&cmd) == e->len);
    *rc = schema_bind_bytes(st, base + 4, cmd.key, cmd.key_len);
    if (*rc == SQLITE_OK && cmd.op != COMMAND_OP_DEL) {
        *rc = schema_bind_bytes(st, base + 5, cmd.value, cmd.value_len);
    }
    if (*rc == SQLITE_OK && cmd.op == COMMAND_OP_CAS) {
        *rc = schema_bind_bytes(st, base + 6, cmd.expected, cmd.expected_len);
    }
    if (*rc == SQLITE_OK && cmd.client_id != 0) {
        *rc = sqlite3_bind_int64(st, base + 7, (int64_t)cmd.client_id);
        if (*rc == SQLITE_OK) {
            *rc = sqlite3_bind_int64(st, base + 8, (int64_t)cmd.seq);
        }
    }
    *rebuilds = cmd.client_id != 0 || cmd.seq == 0;
    return command_op_name(cmd.op);
}

/* Binds one entry's row (parameters base + 1..STORE_LOG_PARAMS) with its
 * readable columns; returns a SQLite code. The data column holds the
 * payload only when those columns cannot give it back (noop, config,
 * invalid): writing each value twice cost a follower about a sixth of its
 * write throughput in a 7-node cluster. The bindings borrow e's bytes. */
static int persist_bind_entry(sqlite3_stmt *st, int base, raft_index idx,
                              const struct raft_entry *e)
{
    static const uint8_t empty[1] = {0};
    ASSERT(e->term >= 1);
    ASSERT(e->term <= (raft_term)INT64_MAX);
    ASSERT(e->len <= RAFT_ENTRY_MAX);
    ASSERT(e->data != NULL || e->len == 0);
    int rc = sqlite3_bind_int64(st, base + 1, (int64_t)idx);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, base + 2, (int64_t)e->term);
    }
    const char *op = "?";
    bool rebuilds = false;
    switch (e->type) {
    case RAFT_ENTRY_NOOP:
        op = "noop";
        break;
    case RAFT_ENTRY_CONFIG:
        op = "config";
        break;
    case RAFT_ENTRY_NORMAL:
        op = rc == SQLITE_OK ? persist_bind_cmd(st, base, e, &rc, &rebuilds)
                             : op;
        break;
    default:
        UNREACHABLE();
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(st, base + 3, op, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        uint32_t len = rebuilds ? 0 : e->len;
        rc = sqlite3_bind_blob(st, base + 9, len > 0 ? e->data : empty,
                               (int)len, SQLITE_STATIC);
    }
    return rc;
}

/* What the core promised: entries follow the (truncated) log without a gap
 * or overlap, never truncate applied entries, and carry no term above the
 * current one. Returns the log's last index after the batch. */
static raft_index persist_check(const struct store *s,
                                const struct store_batch *b, raft_term term)
{
    raft_index last = s->last_index;
    if (b->truncate_from != 0) {
        ASSERT(b->truncate_from > s->applied);
        if (b->truncate_from <= last) {
            last = b->truncate_from - 1;
        }
    }
    if (b->n_entries == 0) {
        return last;
    }
    ASSERT(b->entries != NULL);
    ASSERT(b->entries_first_index >= 1);
    ASSERT(last == 0 || b->entries_first_index == last + 1);
    for (size_t i = 0; i < b->n_entries; i++) {
        ASSERT(b->entries[i].term <= term);
        ASSERT(i == 0 || b->entries[i].term >= b->entries[i - 1].term);
    }
    return b->entries_first_index + b->n_entries - 1;
}

/* Sleeps ms milliseconds (the disk-stall fault), across signals. */
static void persist_stall(uint32_t ms)
{
    struct timespec left = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

/* Switches the connection's sync level (ST_SYNC_FULL or ST_SYNC_NORMAL)
 * for the next transaction; a no-op when it is already in force. In WAL
 * mode FULL fsyncs the WAL at every COMMIT, NORMAL only at checkpoints.
 * Errors: ERR_IO. */
int store_set_sync(struct store *s, int level)
{
    ASSERT(level == ST_SYNC_FULL || level == ST_SYNC_NORMAL);
    ASSERT(sqlite3_get_autocommit(s->db) != 0); /* Not inside a txn. */
    if (s->sync == level) {
        return ERR_OK;
    }
    int err = store_run(s, (enum store_stmt)level, SQLITE_OK);
    if (err == ERR_OK) {
        s->sync = level;
    }
    return err;
}

/* One queued truncation and/or run of entries, in persist order. */
struct store_qop {
    raft_index truncate_from; /* 0: none. */
    raft_index first_index;
    size_t entry0; /* Into store_queue.entries. */
    size_t n_entries;
};

/* A queued entry: its payload is at data_off in the arena. */
struct store_qentry {
    raft_term term;
    uint8_t type;
    uint32_t len;
    size_t data_off;
};

struct store_queue {
    bool has_hard_state; /* The latest hard state wins. */
    raft_term term;
    raft_id voted_for;
    struct store_qop *ops;
    size_t n_ops;
    size_t cap_ops;
    struct store_qentry *entries;
    size_t n_entries;
    size_t cap_entries;
    uint8_t *arena;
    size_t used;
    size_t cap_arena;
};

/* Grows *p (elements of size sz) to hold at least need. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) {
        return ERR_OK;
    }
    size_t cap2 = *cap != 0 ? *cap : 16;
    while (cap2 < need) {
        cap2 *= 2;
    }
    void *q = realloc(*p, cap2 * sz);
    if (q == NULL) {
        return ERR_NOMEM;
    }
    *p = q;
    *cap = cap2;
    return ERR_OK;
}

/* Copies b into the queue. Errors: ERR_NOMEM. */
static int queue_push(struct store *s, const struct store_batch *b)
{
    struct store_queue *q = s->queue;
    if (q == NULL) {
        q = s->queue = calloc(1, sizeof *q);
        if (q == NULL) {
            return ERR_NOMEM;
        }
    }
    size_t bytes = 0;
    for (size_t i = 0; i < b->n_entries; i++) {
        bytes += b->entries[i].len;
    }
    if (grow((void **)&q->ops, &q->cap_ops, q->n_ops + 1, sizeof *q->ops) ||
        grow((void **)&q->entries, &q->cap_entries, q->n_entries + b->n_entries,
             sizeof *q->entries) ||
        grow((void **)&q->arena, &q->cap_arena, q->used + bytes + 1, 1)) {
        return ERR_NOMEM;
    }
    if (b->has_hard_state) {
        q->has_hard_state = true;
        q->term = b->term;
        q->voted_for = b->voted_for;
    }
    if (b->truncate_from == 0 && b->n_entries == 0) {
        return ERR_OK;
    }
    struct store_qop *op = &q->ops[q->n_ops++];
    op->truncate_from = b->truncate_from;
    op->first_index = b->entries_first_index;
    op->entry0 = q->n_entries;
    op->n_entries = b->n_entries;
    for (size_t i = 0; i < b->n_entries; i++) {
        const struct raft_entry *e = &b->entries[i];
        struct store_qentry *qe = &q->entries[q->n_entries++];
        qe->term = e->term;
        qe->type = e->type;
        qe->len = e->len;
        qe->data_off = q->used;
        if (e->len > 0) {
            memcpy(q->arena + q->used, e->data, e->len);
            q->used += e->len;
        }
    }
    return ERR_OK;
}

static bool queue_is_empty(const struct store_queue *q)
{
    return q == NULL || (!q->has_hard_state && q->n_ops == 0);
}

static void queue_clear(struct store_queue *q)
{
    q->has_hard_state = false;
    q->n_ops = 0;
    q->n_entries = 0;
    q->used = 0;
}

void store_queue_free(struct store *s)
{
    struct store_queue *q = s->queue;
    if (q != NULL) {
        free(q->ops);
        free(q->entries);
        free(q->arena);
        free(q);
        s->queue = NULL;
    }
}

/* Statements for a hard state, a truncation and entries, inside the
 * caller's transaction. Errors: ERR_IO. */
static int write_hard_state(struct store *s, raft_term term, raft_id vote)
{
    sqlite3_stmt *st = s->st[ST_HARD_STATE];
    int rc = sqlite3_bind_int64(st, 1, (int64_t)term);
    if (rc == SQLITE_OK && vote != RAFT_ID_NONE) {
        rc = sqlite3_bind_int64(st, 2, (int64_t)vote);
    }
    return store_run(s, ST_HARD_STATE, rc);
}

/* Begins the log transaction: at FULL (fsync at COMMIT) unless deferred.
 * Errors: ERR_IO. */
static int write_begin(struct store *s)
{
    if (s->persist_delay_ms > 0) {
        persist_stall(s->persist_delay_ms);
    }
    int err = store_read_end(s);
    if (err == ERR_OK) {
        err =
            store_set_sync(s, s->deferred_sync ? ST_SYNC_NORMAL : ST_SYNC_FULL);
    }
    if (err == ERR_OK) {
        err = store_run(s, ST_BEGIN, SQLITE_OK);
    }
    return err;
}

/* Commits the log transaction, or rolls it back on err. */
static int write_end(struct store *s, int err)
{
    if (err == ERR_OK) {
        err = store_run(s, ST_COMMIT, SQLITE_OK);
    }
    if (err != ERR_OK) {
        store_rollback(s);
        return err;
    }
    store_wal_extend(s);
    return ERR_OK;
}

/* Inserts one queued batch's entries, STORE_LOG_ROWS_MANY rows per
 * statement while that many remain: SQLite's cost per statement (the
 * step, opening the cursor, halting) then falls on 16 rows, not one.
 * Errors: ERR_IO. */
static int write_entries(struct store *s, const struct store_qop *op)
{
    const struct store_queue *q = s->queue;
    int err = ERR_OK;
    size_t k = 0;
    while (err == ERR_OK && k < op->n_entries) {
        size_t rows =
            op->n_entries - k >= STORE_LOG_ROWS_MANY ? STORE_LOG_ROWS_MANY : 1;
        enum store_stmt id = rows > 1 ? ST_LOG_INSERT_MANY : ST_LOG_INSERT;
        int rc = SQLITE_OK;
        for (size_t r = 0; rc == SQLITE_OK && r < rows; r++, k++) {
            const struct store_qentry *qe = &q->entries[op->entry0 + k];
            struct raft_entry e = {.term = qe->term,
                                   .type = qe->type,
                                   .len = qe->len,
                                   .data = q->arena + qe->data_off};
            rc = persist_bind_entry(s->st[id], (int)(r * STORE_LOG_PARAMS),
                                    op->first_index + k, &e);
            s->seg_tail_bytes += qe->len; /* A failure reloads the count. */
        }
        err = store_run(s, id, rc);
    }
    return err;
}

int store_write_queue(struct store *s)
{
    ASSERT(s != NULL);
    ASSERT(!s->in_txn);
    if (s->write_failed) {
        return ERR_IO; /* errmsg still names the first failure. */
    }
    struct store_queue *q = s->queue;
    if (queue_is_empty(q)) {
        return ERR_OK;
    }
    int err = write_begin(s);
    if (err == ERR_OK && q->has_hard_state) {
        err = write_hard_state(s, q->term, q->voted_for);
    }
    for (size_t i = 0; err == ERR_OK && i < q->n_ops; i++) {
        const struct store_qop *op = &q->ops[i];
        if (op->truncate_from != 0) {
            err = store_logseg_truncate(s, op->truncate_from);
        }
        if (err == ERR_OK && op->n_entries > 0) {
            err = store_logseg_roll(s, op->first_index);
        }
        err = err == ERR_OK ? write_entries(s, op) : err;
    }
    queue_clear(q);
    err = write_end(s, err);
    /* Rolled back: those batches are gone, while the caller believes them
     * written. Whoever called (a sync, a fetch, the kv transaction), no
     * later write or sync may succeed. */
    s->write_failed = err != ERR_OK;
    return err;
}

/* Hard state, truncation and entries in one transaction, durable on return
 * (WAL with synchronous=FULL fsyncs at COMMIT; the same fsync also makes
 * every earlier apply transaction durable, since the WAL is one sequential
 * file); with deferred sync only queued (store.h). Errors: ERR_IO,
 * ERR_NOMEM. */
int store_persist(struct store *s, const struct store_batch *b)
{
    ASSERT(s != NULL);
    ASSERT(b != NULL);
    ASSERT(!s->in_txn);
    if (!b->has_hard_state && b->truncate_from == 0 && b->n_entries == 0) {
        return ERR_OK;
    }
    raft_term term = b->has_hard_state ? b->term : s->term;
    ASSERT(term >= s->term);
    ASSERT(term <= (raft_term)INT64_MAX);
    raft_index new_last = persist_check(s, b, term);
    /* Without deferred sync the queue holds just this batch, written (at
     * FULL: fsynced) before returning. */
    int err = s->write_failed ? ERR_IO : queue_push(s, b);
    if (err == ERR_OK && !s->deferred_sync) {
        err = store_write_queue(s);
    }
    if (err != ERR_OK) {
        return err;
    }
    s->term = term;
    s->last_index = new_last;
    return ERR_OK;
}

bool store_write_failed(const struct store *s)
{
    ASSERT(s != NULL);
    return s->write_failed;
}

size_t store_queued(const struct store *s)
{
    ASSERT(s != NULL);
    return s->queue != NULL ? s->queue->n_entries : 0;
}

int store_sync_fd(const struct store *s)
{
    ASSERT(s != NULL);
    return s->sync_fd;
}

void store_set_deferred_sync(struct store *s)
{
    ASSERT(s != NULL);
    ASSERT(s->sync_fd >= 0);
    s->deferred_sync = true;
}
