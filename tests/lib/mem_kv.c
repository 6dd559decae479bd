/*
 * In-memory kv store for tests and the simulator: sorted arrays searched by
 * binary search, and an undo log of the open transaction (each write first
 * records what it replaces; rollback replays the log backwards). Read
 * tests/unit/test_kv.c for its use.
 */
#include "tests/lib/mem_kv.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

enum { UNDO_KEY = 1, UNDO_SESSION = 2 };

/* One change of the open transaction: what the key or session was. */
struct mem_kv_undo {
    int kind;
    bool had_old;
    struct mem_kv_entry old; /* UNDO_KEY: key always owned; value if had. */
    struct mem_kv_session old_session;
};

/* Grows *arr (of elem bytes, *cap elements) to hold one more element. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) {
        return ERR_OK;
    }
    size_t new_cap = *cap == 0 ? 16 : *cap * 2;
    void *p = realloc(*arr, new_cap * elem);
    if (p == NULL) {
        return ERR_NOMEM;
    }
    *arr = p;
    *cap = new_cap;
    return ERR_OK;
}

static uint8_t *dup_bytes(const uint8_t *p, uint32_t len)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy != NULL && len > 0) {
        memcpy(copy, p, len);
    }
    return copy;
}

static int key_cmp(const uint8_t *a, uint32_t a_len, const uint8_t *b,
                   uint32_t b_len)
{
    uint32_t n = a_len < b_len ? a_len : b_len;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

/* Binary search: true when found; *pos is its index or the insert point. */
static bool find_key(const struct mem_kv *kv, const uint8_t *key,
                     uint32_t key_len, size_t *pos)
{
    size_t lo = 0, hi = kv->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct mem_kv_entry *e = &kv->entries[mid];
        int c = key_cmp(e->key, e->key_len, key, key_len);
        if (c == 0) {
            *pos = mid;
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *pos = lo;
    return false;
}

static bool find_session(const struct mem_kv *kv, uint64_t client_id,
                         size_t *pos)
{
    size_t lo = 0, hi = kv->n_sessions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t id = kv->sessions[mid].client_id;
        if (id == client_id) {
            *pos = mid;
            return true;
        }
        if (id < client_id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *pos = lo;
    return false;
}

/* Sets key to value, taking ownership of value_owned (may be NULL for an
 * empty value) and copying the key if it is new. Errors: ERR_NOMEM. */
static int set_owned(struct mem_kv *kv, const uint8_t *key, uint32_t key_len,
                     uint8_t *value_owned, uint32_t value_len)
{
    size_t pos;
    if (find_key(kv, key, key_len, &pos)) {
        free(kv->entries[pos].value);
        kv->entries[pos].value = value_owned;
        kv->entries[pos].value_len = value_len;
        return ERR_OK;
    }
    if (grow((void **)&kv->entries, &kv->cap_entries, kv->n_entries,
             sizeof(*kv->entries)) != ERR_OK) {
        return ERR_NOMEM;
    }
    uint8_t *key_copy = dup_bytes(key, key_len);
    if (key_copy == NULL) {
        return ERR_NOMEM;
    }
    memmove(&kv->entries[pos + 1], &kv->entries[pos],
            (kv->n_entries - pos) * sizeof(*kv->entries));
    kv->entries[pos] =
        (struct mem_kv_entry){key_copy, key_len, value_owned, value_len};
    kv->n_entries++;
    return ERR_OK;
}

static void remove_at(struct mem_kv *kv, size_t pos)
{
    ASSERT(pos < kv->n_entries);
    free(kv->entries[pos].key);
    free(kv->entries[pos].value);
    memmove(&kv->entries[pos], &kv->entries[pos + 1],
            (kv->n_entries - pos - 1) * sizeof(*kv->entries));
    kv->n_entries--;
}

/* Records the current state of key before a write. Errors: ERR_NOMEM. */
static int undo_key(struct mem_kv *kv, const uint8_t *key, uint32_t key_len)
{
    if (grow((void **)&kv->undo, &kv->cap_undo, kv->n_undo,
             sizeof(*kv->undo)) != ERR_OK) {
        return ERR_NOMEM;
    }
    struct mem_kv_undo u;
    memset(&u, 0, sizeof(u));
    u.kind = UNDO_KEY;
    u.old.key = dup_bytes(key, key_len);
    u.old.key_len = key_len;
    size_t pos;
    if (find_key(kv, key, key_len, &pos)) {
        const struct mem_kv_entry *e = &kv->entries[pos];
        u.had_old = true;
        u.old.value_len = e->value_len;
        u.old.value =
            e->value_len > 0 ? dup_bytes(e->value, e->value_len) : NULL;
        if (e->value_len > 0 && u.old.value == NULL) {
            free(u.old.key);
            return ERR_NOMEM;
        }
    }
    if (u.old.key == NULL) {
        free(u.old.value);
        return ERR_NOMEM;
    }
    kv->undo[kv->n_undo++] = u;
    return ERR_OK;
}

static int undo_session(struct mem_kv *kv, uint64_t client_id)
{
    if (grow((void **)&kv->undo, &kv->cap_undo, kv->n_undo,
             sizeof(*kv->undo)) != ERR_OK) {
        return ERR_NOMEM;
    }
    struct mem_kv_undo u;
    memset(&u, 0, sizeof(u));
    u.kind = UNDO_SESSION;
    u.old_session.client_id = client_id;
    size_t pos;
    if (find_session(kv, client_id, &pos)) {
        u.had_old = true;
        u.old_session = kv->sessions[pos];
    }
    kv->undo[kv->n_undo++] = u;
    return ERR_OK;
}

static void undo_free(struct mem_kv *kv)
{
    for (size_t i = 0; i < kv->n_undo; i++) {
        free(kv->undo[i].old.key);
        free(kv->undo[i].old.value);
    }
    kv->n_undo = 0;
}

void mem_kv_init(struct mem_kv *kv)
{
    ASSERT(kv != NULL);
    memset(kv, 0, sizeof(*kv));
}

static void clear_state(struct mem_kv *kv)
{
    undo_free(kv);
    for (size_t i = 0; i < kv->n_entries; i++) {
        free(kv->entries[i].key);
        free(kv->entries[i].value);
    }
    kv->n_entries = 0;
    kv->n_sessions = 0;
    kv->applied = 0;
    kv->in_txn = false;
}

void mem_kv_close(struct mem_kv *kv)
{
    ASSERT(kv != NULL);
    clear_state(kv);
    free(kv->entries);
    free(kv->sessions);
    free(kv->undo);
    memset(kv, 0, sizeof(*kv));
}

/* Restores one session to what the undo record says. */
static void rollback_session(struct mem_kv *kv, const struct mem_kv_undo *u)
{
    size_t pos;
    bool found = find_session(kv, u->old_session.client_id, &pos);
    if (u->had_old && found) {
        kv->sessions[pos] = u->old_session;
    } else if (u->had_old) {
        /* Forgotten in the transaction: space was there before it. */
        ASSERT(kv->n_sessions < kv->cap_sessions);
        memmove(&kv->sessions[pos + 1], &kv->sessions[pos],
                (kv->n_sessions - pos) * sizeof(*kv->sessions));
        kv->sessions[pos] = u->old_session;
        kv->n_sessions++;
    } else if (found) {
        memmove(&kv->sessions[pos], &kv->sessions[pos + 1],
                (kv->n_sessions - pos - 1) * sizeof(*kv->sessions));
        kv->n_sessions--;
    }
}

void mem_kv_rollback(struct mem_kv *kv)
{
    ASSERT(kv != NULL);
    for (size_t i = kv->n_undo; i > 0; i--) {
        struct mem_kv_undo *u = &kv->undo[i - 1];
        if (u->kind == UNDO_SESSION) {
            rollback_session(kv, u);
            continue;
        }
        size_t pos;
        bool found = find_key(kv, u->old.key, u->old.key_len, &pos);
        if (u->had_old) {
            /* Re-inserting a removed key allocates its copy; a test
             * harness out of memory aborts here. */
            int rc = set_owned(kv, u->old.key, u->old.key_len, u->old.value,
                               u->old.value_len);
            ASSERT(rc == ERR_OK);
            u->old.value = NULL; /* Ownership moved to the entry. */
        } else if (found) {
            remove_at(kv, pos);
        }
    }
    undo_free(kv);
    kv->in_txn = false;
}

void mem_kv_fail_next(struct mem_kv *kv, int err)
{
    ASSERT(kv != NULL);
    kv->fail_next = err;
}

/* The injected failure, consumed once. */
static int take_fault(struct mem_kv *kv)
{
    int err = kv->fail_next;
    kv->fail_next = ERR_OK;
    return err;
}

static int ops_begin(void *ctx)
{
    struct mem_kv *kv = ctx;
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    ASSERT(!kv->in_txn);
    ASSERT(kv->n_undo == 0);
    kv->in_txn = true;
    return ERR_OK;
}

static int ops_commit(void *ctx, raft_index applied_index)
{
    struct mem_kv *kv = ctx;
    ASSERT(kv->in_txn);
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    ASSERT(applied_index >= kv->applied);
    kv->applied = applied_index;
    undo_free(kv);
    kv->in_txn = false;
    kv->n_commits++;
    return ERR_OK;
}

static int ops_get(void *ctx, const uint8_t *key, uint32_t key_len,
                   const uint8_t **value, uint32_t *value_len)
{
    struct mem_kv *kv = ctx;
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    size_t pos;
    if (!find_key(kv, key, key_len, &pos)) {
        return ERR_NOT_FOUND;
    }
    *value = kv->entries[pos].value;
    *value_len = kv->entries[pos].value_len;
    return ERR_OK;
}

static int ops_put(void *ctx, const uint8_t *key, uint32_t key_len,
                   const uint8_t *value, uint32_t value_len)
{
    struct mem_kv *kv = ctx;
    ASSERT(kv->in_txn);
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    uint8_t *copy = value_len > 0 ? dup_bytes(value, value_len) : NULL;
    if (value_len > 0 && copy == NULL) {
        return ERR_NOMEM;
    }
    if (undo_key(kv, key, key_len) != ERR_OK) {
        free(copy);
        return ERR_NOMEM;
    }
    int rc = set_owned(kv, key, key_len, copy, value_len);
    if (rc != ERR_OK) {
        free(copy);
    }
    return rc;
}

static int ops_del(void *ctx, const uint8_t *key, uint32_t key_len)
{
    struct mem_kv *kv = ctx;
    ASSERT(kv->in_txn);
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    size_t pos;
    if (!find_key(kv, key, key_len, &pos)) {
        return ERR_OK;
    }
    if (undo_key(kv, key, key_len) != ERR_OK) {
        return ERR_NOMEM;
    }
    remove_at(kv, pos);
    return ERR_OK;
}

static int ops_session_get(void *ctx, uint64_t client_id, uint64_t *seq,
                           uint8_t *status)
{
    struct mem_kv *kv = ctx;
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    size_t pos;
    if (!find_session(kv, client_id, &pos)) {
        return ERR_NOT_FOUND;
    }
    *seq = kv->sessions[pos].seq;
    *status = kv->sessions[pos].status;
    return ERR_OK;
}

/* Sets (s non-NULL) or forgets client_id's row, with its undo record.
 * Errors: ERR_NOMEM (nothing changed). */
static int session_set(struct mem_kv *kv, uint64_t client_id,
                       const struct mem_kv_session *s)
{
    ASSERT(kv->in_txn);
    if (undo_session(kv, client_id) != ERR_OK) {
        return ERR_NOMEM;
    }
    size_t pos;
    bool found = find_session(kv, client_id, &pos);
    if (s == NULL) {
        if (found) {
            memmove(&kv->sessions[pos], &kv->sessions[pos + 1],
                    (kv->n_sessions - pos - 1) * sizeof(*kv->sessions));
            kv->n_sessions--;
        }
        return ERR_OK;
    }
    if (!found) {
        if (grow((void **)&kv->sessions, &kv->cap_sessions, kv->n_sessions,
                 sizeof(*kv->sessions)) != ERR_OK) {
            kv->n_undo--; /* Nothing changed: drop the record. */
            return ERR_NOMEM;
        }
        memmove(&kv->sessions[pos + 1], &kv->sessions[pos],
                (kv->n_sessions - pos) * sizeof(*kv->sessions));
        kv->n_sessions++;
    }
    kv->sessions[pos] = *s;
    return ERR_OK;
}

static int ops_session_put(void *ctx, uint64_t client_id, uint64_t seq,
                           uint8_t status)
{
    struct mem_kv *kv = ctx;
    ASSERT(kv->in_txn);
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    struct mem_kv_session s = {client_id, seq, status, kv->applied + 1};
    return session_set(kv, client_id, &s);
}

int mem_kv_session_restore(struct mem_kv *kv, const struct mem_kv_session *s)
{
    ASSERT(s != NULL);
    return session_set(kv, s->client_id, s);
}

static int ops_session_find(void *ctx, uint64_t client_id,
                            struct kv_session *out)
{
    struct mem_kv *kv = ctx;
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    memset(out, 0, sizeof(*out));
    size_t pos;
    if (!find_session(kv, client_id, &pos)) {
        out->state = KV_SESSION_NONE;
    } else {
        out->state = KV_SESSION_LIVE;
        out->seq = kv->sessions[pos].seq;
        out->status = kv->sessions[pos].status;
    }
    return ERR_OK;
}

/* The row with the smallest (index, client_id): the least recently used
 * session. */
static size_t session_oldest(const struct mem_kv *kv)
{
    size_t best = kv->n_sessions;
    for (size_t i = 0; i < kv->n_sessions; i++) {
        /* Rows are in client_id order: a tie keeps the first. */
        if (best == kv->n_sessions ||
            kv->sessions[i].index < kv->sessions[best].index) {
            best = i;
        }
    }
    return best;
}

static int ops_session_touch(void *ctx, uint64_t client_id, uint64_t seq,
                             uint8_t status, raft_index index)
{
    struct mem_kv *kv = ctx;
    ASSERT(kv->in_txn);
    ASSERT(index > kv->applied);
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    struct mem_kv_session s = {client_id, seq, status, index};
    return session_set(kv, client_id, &s);
}

/* The rule of node/kv.h (the store's store_session_register): add the
 * session `index`, then evict the least recently used down to max. */
static int ops_session_register(void *ctx, raft_index index, uint64_t max)
{
    struct mem_kv *kv = ctx;
    int err = ops_session_touch(kv, index, 0, 0, index);
    while (err == ERR_OK && max > 0 && kv->n_sessions > max) {
        err = session_set(kv, kv->sessions[session_oldest(kv)].client_id,
                          NULL);
    }
    return err;
}

static int ops_session_count(void *ctx, uint64_t *n_live)
{
    struct mem_kv *kv = ctx;
    int err = take_fault(kv);
    if (err != ERR_OK) {
        return err;
    }
    *n_live = kv->n_sessions;
    return ERR_OK;
}

const struct kv_store_ops *mem_kv_ops(void)
{
    static const struct kv_store_ops ops = {
        .begin = ops_begin,
        .commit = ops_commit,
        .get = ops_get,
        .put = ops_put,
        .del = ops_del,
        .session_get = ops_session_get,
        .session_put = ops_session_put,
        .session_find = ops_session_find,
        .session_touch = ops_session_touch,
        .session_register = ops_session_register,
        .session_count = ops_session_count,
    };
    return &ops;
}

size_t mem_kv_count(const struct mem_kv *kv)
{
    return kv->n_entries;
}

raft_index mem_kv_applied(const struct mem_kv *kv)
{
    return kv->applied;
}

const struct mem_kv_entry *mem_kv_at(const struct mem_kv *kv, size_t i)
{
    ASSERT(i < kv->n_entries);
    return &kv->entries[i];
}

size_t mem_kv_session_count(const struct mem_kv *kv)
{
    return kv->n_sessions;
}

const struct mem_kv_session *mem_kv_session_at(const struct mem_kv *kv,
                                               size_t i)
{
    ASSERT(i < kv->n_sessions);
    return &kv->sessions[i];
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return h;
}

uint64_t mem_kv_hash(const struct mem_kv *kv)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < kv->n_entries; i++) {
        const struct mem_kv_entry *e = &kv->entries[i];
        h = fnv(h, &e->key_len, sizeof(e->key_len));
        h = fnv(h, e->key, e->key_len);
        h = fnv(h, &e->value_len, sizeof(e->value_len));
        h = fnv(h, e->value, e->value_len);
    }
    for (size_t i = 0; i < kv->n_sessions; i++) {
        const struct mem_kv_session *s = &kv->sessions[i];
        h = fnv(h, &s->client_id, sizeof(s->client_id));
        h = fnv(h, &s->seq, sizeof(s->seq));
        h = fnv(h, &s->status, sizeof(s->status));
        h = fnv(h, &s->index, sizeof(s->index));
    }
    return fnv(h, &kv->applied, sizeof(kv->applied));
}

int mem_kv_copy(struct mem_kv *dst, const struct mem_kv *src)
{
    ASSERT(dst != src);
    ASSERT(!dst->in_txn);
    ASSERT(!src->in_txn);
    clear_state(dst);
    for (size_t i = 0; i < src->n_entries; i++) {
        const struct mem_kv_entry *e = &src->entries[i];
        uint8_t *v =
            e->value_len > 0 ? dup_bytes(e->value, e->value_len) : NULL;
        if ((e->value_len > 0 && v == NULL) ||
            set_owned(dst, e->key, e->key_len, v, e->value_len) != ERR_OK) {
            free(v);
            clear_state(dst);
            return ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < src->n_sessions; i++) {
        if (grow((void **)&dst->sessions, &dst->cap_sessions, i,
                 sizeof(*dst->sessions)) != ERR_OK) {
            clear_state(dst);
            return ERR_NOMEM;
        }
        dst->sessions[i] = src->sessions[i];
        dst->n_sessions = i + 1;
    }
    dst->applied = src->applied;
    return ERR_OK;
}
