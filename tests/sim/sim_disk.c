/*
 * Each simulated member's storage: hard state and log rows (struct
 * sim_disk) and the applied kv state (struct mem_kv). They model exactly what
 * storage promises: a persist that returned OK is kept (with async_sync:
 * written, kept once a sync asked after it finished, or a kv commit, which
 * shares SQLite's one WAL, went through), an open kv transaction is lost on
 * a crash, and a failed write stops the node. The persist, sync and kv ops
 * here are the replica's io table, with injected crash points and write
 * failures. Read tests/sim/sim_node.c next.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"
#include "node/defaults.h"
#include "tests/sim/sim_world.h"

void sim_disk_init(struct sim_disk *d)
{
    memset(d, 0, sizeof *d);
}

void sim_disk_close(struct sim_disk *d)
{
    sim_disk_synced(d, UINT64_MAX);
    free(d->undo);
    sim_disk_truncate(d, 1);
    free(d->rows);
    memset(d, 0, sizeof *d);
}

void sim_disk_truncate(struct sim_disk *d, raft_index from)
{
    ASSERT(from >= 1);
    while (d->n_rows >= from) {
        free(d->rows[d->n_rows - 1].data);
        d->n_rows--;
    }
}

static uint64_t row_chain(uint64_t prev, const struct raft_entry *e)
{
    uint64_t h = sim_fnv_u64(prev, e->term);
    h = sim_fnv_u64(h, e->type);
    h = sim_fnv_u64(h, e->len);
    return sim_fnv(h, e->data, e->len);
}

/* Writes one row at index (<= n_rows + 1). A row already there must have
 * the same term: replacing history needs a truncation first. */
static int write_row(struct sim_disk *d, raft_index index,
                     const struct raft_entry *e)
{
    if (index > d->n_rows + 1) {
        return ERR_CORRUPT;
    }
    if (index <= d->n_rows && d->rows[index - 1].term != e->term) {
        return ERR_INVALID;
    }
    if (index == d->n_rows + 1 && d->n_rows == d->cap_rows) {
        size_t cap = d->cap_rows ? d->cap_rows * 2 : 64;
        struct sim_row *rows = realloc(d->rows, cap * sizeof *rows);
        if (rows == NULL) {
            return ERR_NOMEM;
        }
        d->rows = rows;
        d->cap_rows = cap;
    }
    uint8_t *data = malloc(e->len > 0 ? e->len : 1);
    if (data == NULL) {
        return ERR_NOMEM;
    }
    if (e->len > 0) {
        memcpy(data, e->data, e->len);
    }
    struct sim_row *row = &d->rows[index - 1];
    if (index <= d->n_rows) {
        free(row->data);
    } else {
        d->n_rows++;
    }
    uint64_t prev = index > 1 ? d->rows[index - 2].chain : SIM_FNV_INIT;
    row->term = e->term;
    row->type = e->type;
    row->len = e->len;
    row->data = data;
    row->chain = row_chain(prev, e);
    return ERR_OK;
}

void sim_disk_compact(struct sim_disk *d, raft_index upto)
{
    ASSERT(upto <= d->n_rows);
    for (raft_index i = d->compacted + 1; i <= upto; i++) {
        free(d->rows[i - 1].data);
        d->rows[i - 1].data = NULL;
    }
    if (upto > d->compacted) {
        d->compacted = upto;
    }
}

void sim_disk_put_meta(struct sim_disk *d, raft_index index, raft_term term,
                       uint64_t chain)
{
    ASSERT(index >= 1 && index <= d->n_rows + 1);
    if (index == d->n_rows + 1) {
        if (d->n_rows == d->cap_rows) {
            size_t cap = d->cap_rows ? d->cap_rows * 2 : 64;
            struct sim_row *rows = realloc(d->rows, cap * sizeof *rows);
            ASSERT(rows != NULL);
            d->rows = rows;
            d->cap_rows = cap;
        }
        d->n_rows++;
    } else {
        free(d->rows[index - 1].data);
    }
    struct sim_row *row = &d->rows[index - 1];
    memset(row, 0, sizeof *row);
    row->term = term;
    row->type = RAFT_ENTRY_NOOP;
    row->chain = chain;
}

void sim_disk_rechain(struct sim_disk *d, raft_index index)
{
    for (raft_index i = index + 1; i <= d->n_rows; i++) {
        struct sim_row *row = &d->rows[i - 1];
        ASSERT(row->data != NULL);
        struct raft_entry e = {row->term, row->type, row->len, row->data};
        row->chain = row_chain(d->rows[i - 2].chain, &e);
    }
}

int sim_disk_write(struct sim_disk *d, raft_index first,
                   const struct raft_entry *entries, size_t n)
{
    ASSERT(first >= 1);
    for (size_t i = 0; i < n; i++) {
        int rc = write_row(d, first + i, &entries[i]);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return ERR_OK;
}

int sim_disk_load(const struct sim_disk *d, const struct mem_kv *kv,
                  raft_index window, struct raft_loaded *loaded,
                  struct raft_entry **entries, struct raft_term_run **runs)
{
    memset(loaded, 0, sizeof *loaded);
    raft_index applied = mem_kv_applied(kv);
    raft_index first = 1;
    if (window > 0 && applied > window) {
        first = applied - window + 1;
    }
    if (first > d->n_rows + 1) {
        first = d->n_rows + 1;
    }
    if (first <= d->compacted) {
        first = d->compacted + 1;
    }
    struct raft_entry *es = calloc(d->n_rows + 1, sizeof *es);
    struct raft_term_run *rs = calloc(d->n_rows + 1, sizeof *rs);
    if (es == NULL || rs == NULL) {
        free(es);
        free(rs);
        return ERR_NOMEM;
    }
    size_t n_runs = 0;
    for (size_t i = 0; i < d->n_rows; i++) {
        const struct sim_row *row = &d->rows[i];
        /* store_load refuses terms that go down (ERR_CORRUPT). */
        if (i > 0 && row->term < d->rows[i - 1].term) {
            free(es);
            free(rs);
            return ERR_CORRUPT;
        }
        if (i + 1 <= d->compacted) {
            continue; /* Gone: the snapshot point stands for them. */
        }
        if (i + 1 < first) {
            if (n_runs == 0 || rs[n_runs - 1].term != row->term) {
                rs[n_runs].first = i + 1;
                rs[n_runs].term = row->term;
                n_runs++;
            }
            continue;
        }
        struct raft_entry *e = &es[i + 1 - first];
        e->term = row->term;
        e->type = row->type;
        e->len = row->len;
        e->data = row->data;
    }
    loaded->snapshot_index = d->compacted;
    loaded->snapshot_term =
        d->compacted > 0 ? d->rows[d->compacted - 1].term : 0;
    loaded->term = d->term;
    loaded->voted_for = d->voted_for;
    loaded->first_index = first;
    loaded->n_runs = n_runs;
    loaded->runs = rs;
    loaded->n_entries = d->n_rows + 1 - first;
    loaded->entries = es;
    loaded->applied = applied;
    *entries = es;
    *runs = rs;
    return ERR_OK;
}

int sim_disk_fetch(void *ctx, raft_index lo, raft_index hi, size_t bytes_max,
                   struct raft_entry *out, size_t cap, size_t *n)
{
    struct sim_node *n_ = ctx;
    const struct sim_disk *d = &n_->disk;
    if (lo <= d->compacted || lo > hi || hi > d->n_rows || cap == 0) {
        return ERR_NOT_FOUND;
    }
    size_t bytes = 0;
    size_t k = 0;
    for (raft_index i = lo; i <= hi && k < cap; i++) {
        if (k > 0 && bytes + d->rows[i - 1].len > bytes_max) {
            break;
        }
        bytes += d->rows[i - 1].len;
        k++;
    }
    if (bytes > n_->fetch_cap) {
        uint8_t *buf = realloc(n_->fetch_buf, bytes);
        if (buf == NULL) {
            return ERR_NOMEM;
        }
        n_->fetch_buf = buf;
        n_->fetch_cap = bytes;
    }
    size_t at = 0;
    for (size_t j = 0; j < k; j++) {
        const struct sim_row *row = &d->rows[lo - 1 + j];
        if (row->len > 0) {
            memcpy(n_->fetch_buf + at, row->data, row->len);
        }
        out[j].term = row->term;
        out[j].type = row->type;
        out[j].len = row->len;
        out[j].data = row->len > 0 ? n_->fetch_buf + at : NULL;
        at += row->len;
    }
    *n = k;
    sim_tracef(n_->world, "%llu sim n%llu fetch %llu..%llu: %zu entries",
               (unsigned long long)n_->world->now_ms,
               (unsigned long long)n_->id, (unsigned long long)lo,
               (unsigned long long)hi, k);
    return ERR_OK;
}

/* --- Pending writes: the undo log --- */

/* Rows an undo record holds (those its truncation removed). */
static size_t undo_n_removed(const struct sim_undo *u)
{
    if (u->trunc_from == 0 || u->trunc_from > u->n_rows) {
        return 0;
    }
    return u->n_rows - u->trunc_from + 1;
}

static void undo_free(struct sim_undo *u)
{
    size_t n = undo_n_removed(u);
    for (size_t i = 0; i < n; i++) {
        free(u->removed[i].data);
    }
    free(u->removed);
    memset(u, 0, sizeof *u);
}

/* A new record of the state before the persist about to happen. */
static struct sim_undo *undo_push(struct sim_disk *d)
{
    if (d->n_undo == d->cap_undo) {
        size_t cap = d->cap_undo ? d->cap_undo * 2 : 16;
        struct sim_undo *u = realloc(d->undo, cap * sizeof *u);
        ASSERT(u != NULL);
        d->undo = u;
        d->cap_undo = cap;
    }
    struct sim_undo *u = &d->undo[d->n_undo++];
    memset(u, 0, sizeof *u);
    u->seq = ++d->n_writes;
    u->term = d->term;
    u->voted_for = d->voted_for;
    u->n_rows = d->n_rows;
    return u;
}

/* Truncates from `from` like sim_disk_truncate, but moves the removed rows
 * into u, which must be the newest record. */
static void undo_truncate(struct sim_disk *d, struct sim_undo *u,
                          raft_index from)
{
    ASSERT(u == &d->undo[d->n_undo - 1] && u->trunc_from == 0);
    ASSERT(u->n_rows == d->n_rows);
    u->trunc_from = from;
    size_t n = undo_n_removed(u);
    if (n == 0) {
        return;
    }
    u->removed = malloc(n * sizeof *u->removed);
    ASSERT(u->removed != NULL);
    memcpy(u->removed, &d->rows[from - 1], n * sizeof *u->removed);
    d->n_rows = from - 1;
}

/* Undoes the newest record: the disk is as it was before that persist. */
static void undo_pop(struct sim_disk *d)
{
    ASSERT(d->n_undo > 0);
    struct sim_undo *u = &d->undo[d->n_undo - 1];
    size_t n = undo_n_removed(u);
    raft_index cut = u->n_rows + 1 - n;
    sim_disk_truncate(d, cut);
    ASSERT(d->n_rows == cut - 1 && d->cap_rows >= u->n_rows);
    if (n > 0) {
        memcpy(&d->rows[cut - 1], u->removed, n * sizeof *u->removed);
    }
    d->n_rows = u->n_rows;
    d->term = u->term;
    d->voted_for = u->voted_for;
    free(u->removed);
    d->n_undo--;
}

void sim_disk_synced(struct sim_disk *d, uint64_t upto)
{
    size_t k = 0;
    while (k < d->n_undo && d->undo[k].seq <= upto) {
        undo_free(&d->undo[k]);
        k++;
    }
    if (k > 0) {
        memmove(d->undo, d->undo + k, (d->n_undo - k) * sizeof *d->undo);
        d->n_undo -= k;
    }
}

void sim_disk_crash(struct sim_disk *d, size_t keep)
{
    while (d->n_undo > keep) {
        undo_pop(d);
    }
    sim_disk_synced(d, UINT64_MAX);
}

void sim_disk_durable(const struct sim_disk *d, struct sim_durable *out)
{
    memset(out, 0, sizeof *out);
    if (d->n_undo == 0) {
        out->term = d->term;
        out->voted_for = d->voted_for;
        out->n_rows = out->n_same = d->n_rows;
        out->last_term = d->n_rows > 0 ? d->rows[d->n_rows - 1].term : 0;
        return;
    }
    const struct sim_undo *oldest = &d->undo[0];
    out->term = oldest->term;
    out->voted_for = oldest->voted_for;
    out->n_rows = out->n_same = oldest->n_rows;
    const struct sim_undo *cut = NULL; /* Oldest truncation below n_rows. */
    for (size_t i = 0; i < d->n_undo; i++) {
        const struct sim_undo *u = &d->undo[i];
        if (u->trunc_from != 0 && u->trunc_from - 1 < out->n_same) {
            out->n_same = u->trunc_from - 1;
        }
        if (cut == NULL && u->trunc_from != 0 && u->trunc_from <= out->n_rows) {
            cut = u;
        }
    }
    ASSERT(out->n_same <= d->n_rows);
    if (out->n_rows == 0) {
        return;
    }
    if (out->n_rows <= out->n_same) {
        out->last_term = d->rows[out->n_rows - 1].term;
        return;
    }
    /* Durable row n_rows stood until cut removed it, unchanged. */
    ASSERT(cut != NULL && cut->n_rows >= out->n_rows);
    out->last_term = cut->removed[out->n_rows - cut->trunc_from].term;
}

/* Decides whether the node dies at this io call (a crash point). */
static bool crash_point(struct sim_node *n, const char *where)
{
    struct sim_world *w = n->world;
    if (n->is_dying) {
        return true;
    }
    if (w->p.crash_point_ppm == 0 ||
        !rng_chance_ppm(&w->rng, w->p.crash_point_ppm)) {
        return false;
    }
    n->is_dying = true;
    sim_tracef(w, "%llu sim n%llu crash point %s",
               (unsigned long long)w->now_ms, (unsigned long long)n->id, where);
    return true;
}

/* Decides whether this write fails (fail-stop from then on). */
static bool write_fails(struct sim_node *n, const char *what)
{
    struct sim_world *w = n->world;
    if (w->now_ms < n->full_until_ms) {
        /* raftnode: ERR_NO_SPACE; it stops serving and restarts itself
         * once there is space (node/node_disk.c). */
        n->is_stopped = true;
        sim_tracef(w, "%llu sim n%llu %s fails (no space until %llu)",
                   (unsigned long long)w->now_ms, (unsigned long long)n->id,
                   what, (unsigned long long)n->full_until_ms);
        return true;
    }
    if (w->p.write_fail_ppm == 0 ||
        !rng_chance_ppm(&w->rng, w->p.write_fail_ppm)) {
        return false;
    }
    n->is_stopped = true;
    sim_tracef(w, "%llu sim n%llu %s fails (EIO)",
               (unsigned long long)w->now_ms, (unsigned long long)n->id, what);
    return true;
}

/* io calls after a failed write break fail-stop. */
static bool after_stop(struct sim_node *n, const char *what)
{
    if (!n->is_stopped) {
        return false;
    }
    sim_fail(n->world, "failstop", "n%llu called %s after a failed write",
             (unsigned long long)n->id, what);
    return true;
}

/* Hard state rules a disk must never see broken: terms only grow, and one
 * vote per term (Figure 2: votedFor is persistent). */
static void persist_hard_state(struct sim_node *n, const struct raft_ready *rd)
{
    struct sim_disk *d = &n->disk;
    if (rd->term < d->term) {
        sim_fail(n->world, "monotonic", "n%llu persisted term %llu < %llu",
                 (unsigned long long)n->id, (unsigned long long)rd->term,
                 (unsigned long long)d->term);
    } else if (rd->term == d->term && d->voted_for != RAFT_ID_NONE &&
               rd->voted_for != d->voted_for) {
        sim_fail(n->world, "vote_once",
                 "n%llu changed its vote in term %llu from n%llu to n%llu",
                 (unsigned long long)n->id, (unsigned long long)rd->term,
                 (unsigned long long)d->voted_for,
                 (unsigned long long)rd->voted_for);
    }
    d->term = rd->term;
    d->voted_for = rd->voted_for;
}

int sim_disk_persist(void *ctx, const struct raft_ready *rd)
{
    struct sim_node *n = ctx;
    struct sim_world *w = n->world;
    if (after_stop(n, "persist")) {
        return ERR_IO;
    }
    if (crash_point(n, "before persist")) {
        return ERR_OK; /* Dead: nothing after this reaches the world. */
    }
    if (write_fails(n, "persist")) {
        return ERR_IO;
    }
    /* Written, not durable: remember how to undo it. */
    struct sim_undo *u = w->p.async_sync ? undo_push(&n->disk) : NULL;
    if (rd->has_hard_state) {
        persist_hard_state(n, rd);
    }
    raft_index held = 0;
    uint64_t chain = 0;
    if (rd->truncate_from != 0) {
        held = sim_check_before_truncate(w, n, rd->truncate_from, &chain);
        if (u != NULL) {
            undo_truncate(&n->disk, u, rd->truncate_from);
        } else {
            sim_disk_truncate(&n->disk, rd->truncate_from);
        }
    }
    if (rd->n_entries > 0) {
        int rc = sim_disk_write(&n->disk, rd->entries_first_index, rd->entries,
                                rd->n_entries);
        if (rc != ERR_OK) {
            sim_fail(w, "disk_write",
                     "n%llu persist of %zu entries at %llu onto %zu rows: %s",
                     (unsigned long long)n->id, rd->n_entries,
                     (unsigned long long)rd->entries_first_index,
                     n->disk.n_rows,
                     rc == ERR_INVALID ? "overwrites another term without "
                                         "truncation"
                                       : err_str(rc));
            return ERR_OK;
        }
        for (size_t i = 0; i < rd->n_entries; i++) {
            raft_index idx = rd->entries_first_index + i;
            const struct sim_row *row = &n->disk.rows[idx - 1];
            sim_check_on_row(w, idx, row->term, row->chain);
        }
    }
    if (held != 0) {
        sim_check_after_truncate(w, n, held, chain);
    }
    (void)crash_point(n, "after persist");
    return ERR_OK;
}

/* How long a sync takes: a few ms, now and then a stall. */
static uint64_t sync_delay_ms(struct sim_world *w)
{
    uint64_t max = w->p.sync_ms_max;
    if (w->p.sync_slow_ppm != 0 &&
        rng_chance_ppm(&w->rng, w->p.sync_slow_ppm)) {
        max = w->p.sync_slow_ms;
    }
    return rng_range(&w->rng, 0, max + 1);
}

uint64_t sim_disk_hung_bound_ms(const struct sim_world *w)
{
    uint64_t bound = (uint64_t)NODE_DISK_HUNG_ELECTIONS * w->p.election_ms;
    return bound < NODE_DISK_HUNG_MIN_MS ? NODE_DISK_HUNG_MIN_MS : bound;
}

int sim_disk_sync(void *ctx)
{
    struct sim_node *n = ctx;
    struct sim_world *w = n->world;
    ASSERT(w->p.async_sync);
    if (after_stop(n, "sync")) {
        return ERR_IO;
    }
    if (crash_point(n, "before sync")) {
        return ERR_OK;
    }
    if (write_fails(n, "sync")) {
        return ERR_IO;
    }
    if (n->is_syncing) {
        sim_fail(w, "sync", "n%llu asked for a second sync at once",
                 (unsigned long long)n->id);
        return ERR_OK;
    }
    n->is_syncing = true;
    n->sync_upto = n->disk.n_writes;
    n->sync_asked_ms = w->now_ms;
    struct sim_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SIM_EV_SYNC;
    ev.a = (uint32_t)n->id;
    ev.c = n->incarnation;
    ev.time_ms = w->now_ms + sync_delay_ms(w);
    if (ev.time_ms < n->hung_until_ms) {
        ev.time_ms = n->hung_until_ms; /* A hung disk. */
    }
    sim_world_push(w, &ev);
    sim_tracef(w,
               "%llu sim n%llu sync asked: writes up to %llu (%zu "
               "pending), done at %llu",
               (unsigned long long)w->now_ms, (unsigned long long)n->id,
               (unsigned long long)n->sync_upto, n->disk.n_undo,
               (unsigned long long)ev.time_ms);
    return ERR_OK;
}

/* --- The kv ops: mem_kv underneath, crash points and failures on top --- */

static int kv_begin(void *ctx)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv begin")) {
        return ERR_IO;
    }
    return mem_kv_ops()->begin(&n->kv);
}

static int kv_commit(void *ctx, raft_index applied_index)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv commit")) {
        return ERR_IO;
    }
    if (crash_point(n, "before kv commit")) {
        mem_kv_rollback(&n->kv);
        return ERR_OK;
    }
    if (write_fails(n, "kv commit")) {
        mem_kv_rollback(&n->kv);
        return ERR_IO;
    }
    raft_index prev = mem_kv_applied(&n->kv);
    int rc = mem_kv_ops()->commit(&n->kv, applied_index);
    if (rc != ERR_OK) {
        sim_fail(n->world, "kv", "n%llu kv commit: %s",
                 (unsigned long long)n->id, err_str(rc));
        return rc;
    }
    /* SQLite writes log and kv transactions into one sequential WAL: a
     * durable kv commit makes every earlier log write durable too. */
    sim_disk_synced(&n->disk, UINT64_MAX);
    sim_check_on_apply(n->world, n, prev, applied_index);
    (void)crash_point(n, "after kv commit");
    return ERR_OK;
}

static int kv_get(void *ctx, const uint8_t *key, uint32_t key_len,
                  const uint8_t **value, uint32_t *value_len)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv get")) {
        return ERR_IO;
    }
    return mem_kv_ops()->get(&n->kv, key, key_len, value, value_len);
}

static int kv_put(void *ctx, const uint8_t *key, uint32_t key_len,
                  const uint8_t *value, uint32_t value_len)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv put")) {
        return ERR_IO;
    }
    return mem_kv_ops()->put(&n->kv, key, key_len, value, value_len);
}

static int kv_del(void *ctx, const uint8_t *key, uint32_t key_len)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv del")) {
        return ERR_IO;
    }
    return mem_kv_ops()->del(&n->kv, key, key_len);
}

static int kv_session_get(void *ctx, uint64_t client_id, uint64_t *seq,
                          uint8_t *status)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv session_get")) {
        return ERR_IO;
    }
    return mem_kv_ops()->session_get(&n->kv, client_id, seq, status);
}

static int kv_session_put(void *ctx, uint64_t client_id, uint64_t seq,
                          uint8_t status)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv session_put")) {
        return ERR_IO;
    }
    return mem_kv_ops()->session_put(&n->kv, client_id, seq, status);
}

static int kv_session_find(void *ctx, uint64_t client_id,
                           struct kv_session *out)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv session_find")) {
        return ERR_IO;
    }
    return mem_kv_ops()->session_find(&n->kv, client_id, out);
}

static int kv_session_touch(void *ctx, uint64_t client_id, uint64_t seq,
                            uint8_t status, raft_index index)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv session_touch")) {
        return ERR_IO;
    }
    return mem_kv_ops()->session_touch(&n->kv, client_id, seq, status, index);
}

static int kv_session_register(void *ctx, raft_index index, uint64_t max)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv session_register")) {
        return ERR_IO;
    }
    return mem_kv_ops()->session_register(&n->kv, index, max);
}

static int kv_session_count(void *ctx, uint64_t *n_live)
{
    struct sim_node *n = ctx;
    if (after_stop(n, "kv session_count")) {
        return ERR_IO;
    }
    return mem_kv_ops()->session_count(&n->kv, n_live);
}

static const struct kv_store_ops sim_kv_ops = {
    .begin = kv_begin,
    .commit = kv_commit,
    .get = kv_get,
    .put = kv_put,
    .del = kv_del,
    .session_get = kv_session_get,
    .session_put = kv_session_put,
    .session_find = kv_session_find,
    .session_touch = kv_session_touch,
    .session_register = kv_session_register,
    .session_count = kv_session_count,
};

const struct kv_store_ops *sim_disk_kv_ops(void)
{
    return &sim_kv_ops;
}
