/*
 * The write-back buffer: dirty keys in an open-addressing hash table whose
 * keys and values live in one growing byte arena, dirty sessions in a second
 * table, both emptied by a store (one store transaction). The store writes
 * keys in byte order and sessions by client id, so the store's b-trees are
 * walked once, leaf by leaf, and two replicas that applied the same entries
 * issue the same store calls. Pure: no I/O, no clock.
 * Read node/replica.c next.
 */
#include "node/kv_writeback.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

#define WB_SLOTS_MIN 64u         /* Power of two. */
#define WB_ARENA_KEEP (1u << 20) /* A bigger arena is freed by a store. */
#define WB_KEYS_KEEP 16384u      /* So are bigger key tables. */

/* One dirty key: its newest value, or a deletion. Offsets point into
 * arena, which may move as it grows. */
struct wb_key {
    uint64_t hash;
    size_t key_off;
    size_t value_off;
    uint32_t key_len;
    uint32_t value_len;
    uint32_t value_cap; /* Arena bytes at value_off this key owns. */
    bool is_deleted;
    raft_index index; /* The log entry holding the value (0: unknown). */
};

struct wb_session {
    uint64_t client_id;
    uint64_t seq;
    raft_index last_index; /* The entry that last touched it (0: a put). */
    uint8_t status;
};

struct kv_writeback {
    const struct kv_store_ops *inner;
    void *inner_ctx;
    struct kv_writeback_config config;
    bool is_in_batch;   /* Between begin and commit. */
    bool is_inner_open; /* This batch runs in an inner transaction. */
    raft_index stored;  /* Applied index the store holds. */
    raft_index applied; /* Applied index of the last commit. */
    bool is_clock_started;
    uint64_t first_commit_ms; /* When tick first saw unstored work. */
    bool has_new_commit;      /* A commit since the last tick. */
    uint64_t last_commit_ms;  /* When tick last saw a new commit. */
    /* Dirty keys, in insertion order; slots index them (0 empty, i + 1). */
    struct wb_key *keys;
    uint32_t n_keys;
    uint32_t keys_cap;
    uint32_t *key_slots;
    uint32_t key_slots_cap; /* Power of two, > 2 * n_keys. */
    uint8_t *arena;
    size_t arena_len;
    size_t arena_cap;
    /* Dirty sessions, in insertion order, and their slots. */
    struct wb_session *sessions;
    uint32_t n_sessions;
    uint32_t sessions_cap;
    uint32_t *session_slots;
    uint32_t session_slots_cap; /* Power of two, > 2 * n_sessions. */
};

static uint64_t hash_bytes(const uint8_t *p, uint32_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix. */
    for (uint32_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static uint64_t hash_id(uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdull;
    return id ^ (id >> 33);
}

struct kv_writeback *kv_writeback_new(const struct kv_store_ops *inner,
                                      void *inner_ctx, raft_index applied,
                                      const struct kv_writeback_config *config)
{
    ASSERT(inner != NULL);
    ASSERT(config != NULL);
    struct kv_writeback *wb = calloc(1, sizeof *wb);
    if (wb == NULL) {
        return NULL;
    }
    wb->inner = inner;
    wb->inner_ctx = inner_ctx;
    wb->config = *config;
    wb->stored = applied;
    wb->applied = applied;
    return wb;
}

static void free_tables(struct kv_writeback *wb)
{
    free(wb->keys);
    free(wb->key_slots);
    free(wb->arena);
    free(wb->sessions);
    free(wb->session_slots);
    wb->keys = NULL;
    wb->key_slots = NULL;
    wb->arena = NULL;
    wb->sessions = NULL;
    wb->session_slots = NULL;
    wb->keys_cap = 0;
    wb->key_slots_cap = 0;
    wb->arena_cap = 0;
    wb->sessions_cap = 0;
    wb->session_slots_cap = 0;
}

void kv_writeback_free(struct kv_writeback *wb)
{
    if (wb == NULL) {
        return;
    }
    free_tables(wb);
    free(wb);
}

/* Slot of the key with this hash and bytes, or of the empty slot where it
 * would go. */
static uint32_t key_slot_find(const struct kv_writeback *wb, uint64_t hash,
                              const uint8_t *key, uint32_t key_len)
{
    uint32_t mask = wb->key_slots_cap - 1;
    uint32_t at = (uint32_t)hash & mask;
    for (uint32_t probes = 0; probes < wb->key_slots_cap; probes++) {
        uint32_t ref = wb->key_slots[at];
        if (ref == 0) {
            return at;
        }
        const struct wb_key *k = &wb->keys[ref - 1];
        if (k->hash == hash && k->key_len == key_len &&
            memcmp(wb->arena + k->key_off, key, key_len) == 0) {
            return at;
        }
        at = (at + 1) & mask;
    }
    UNREACHABLE(); /* The table is never more than half full. */
}

static const struct wb_key *key_find(const struct kv_writeback *wb,
                                     const uint8_t *key, uint32_t key_len)
{
    if (wb->n_keys == 0) {
        return NULL;
    }
    uint32_t at = key_slot_find(wb, hash_bytes(key, key_len), key, key_len);
    uint32_t ref = wb->key_slots[at];
    return ref == 0 ? NULL : &wb->keys[ref - 1];
}

/* items (elements of size bytes, *cap of them) with room for one more
 * than n: the same block, or a doubled one. NULL when out of memory (items
 * is then still valid and *cap unchanged). */
static void *array_reserve(void *items, uint32_t *cap, uint32_t n, size_t size)
{
    if (n + 1 <= *cap) {
        return items;
    }
    uint32_t next = *cap != 0 ? *cap * 2 : WB_SLOTS_MIN;
    void *grown = realloc(items, (size_t)next * size);
    if (grown != NULL) {
        *cap = next;
    }
    return grown;
}

/* Replaces *slots by an empty table twice as large when one more than n
 * entries would fill it over half; *is_new says the caller must reinsert.
 * Errors: ERR_NOMEM (nothing changed). */
static int slots_reserve(uint32_t **slots, uint32_t *cap, uint32_t n,
                         bool *is_new)
{
    *is_new = false;
    if (2 * (n + 1) < *cap) {
        return ERR_OK;
    }
    uint32_t next = *cap != 0 ? *cap * 2 : 2 * WB_SLOTS_MIN;
    uint32_t *fresh = calloc(next, sizeof *fresh);
    if (fresh == NULL) {
        return ERR_NOMEM;
    }
    free(*slots);
    *slots = fresh;
    *cap = next;
    *is_new = true;
    return ERR_OK;
}

/* Makes room for one more key. Errors: ERR_NOMEM. */
static int keys_reserve(struct kv_writeback *wb)
{
    struct wb_key *keys =
        array_reserve(wb->keys, &wb->keys_cap, wb->n_keys, sizeof *wb->keys);
    if (keys == NULL) {
        return ERR_NOMEM;
    }
    wb->keys = keys;
    bool is_new = false;
    int rv =
        slots_reserve(&wb->key_slots, &wb->key_slots_cap, wb->n_keys, &is_new);
    if (rv != ERR_OK || !is_new) {
        return rv;
    }
    uint32_t *slots = wb->key_slots;
    for (uint32_t i = 0; i < wb->n_keys; i++) {
        const struct wb_key *k = &wb->keys[i];
        uint32_t at =
            key_slot_find(wb, k->hash, wb->arena + k->key_off, k->key_len);
        slots[at] = i + 1;
    }
    return ERR_OK;
}

/* Appends len bytes to the arena; *off gets where. Errors: ERR_NOMEM. */
static int arena_append(struct kv_writeback *wb, const uint8_t *p, uint32_t len,
                        size_t *off)
{
    if (wb->arena == NULL || wb->arena_len + len > wb->arena_cap) {
        size_t cap = wb->arena_cap != 0 ? wb->arena_cap : 4096;
        while (cap < wb->arena_len + len) {
            cap *= 2;
        }
        uint8_t *arena = realloc(wb->arena, cap);
        if (arena == NULL) {
            return ERR_NOMEM;
        }
        wb->arena = arena;
        wb->arena_cap = cap;
    }
    if (len > 0) {
        memcpy(wb->arena + wb->arena_len, p, len);
    }
    *off = wb->arena_len;
    wb->arena_len += len;
    return ERR_OK;
}

/* Records key's new value (value NULL: deleted). Errors: ERR_NOMEM. */
static int key_set(struct kv_writeback *wb, const uint8_t *key,
                   uint32_t key_len, const uint8_t *value, uint32_t value_len,
                   raft_index index)
{
    ASSERT(wb->is_in_batch);
    int rv = keys_reserve(wb);
    if (rv != ERR_OK) {
        return rv;
    }
    uint64_t hash = hash_bytes(key, key_len);
    uint32_t at = key_slot_find(wb, hash, key, key_len);
    if (wb->key_slots[at] != 0 && value != NULL &&
        value_len <= wb->keys[wb->key_slots[at] - 1].value_cap) {
        /* Overwrite in place: a hot key does not grow the arena. */
        struct wb_key *k = &wb->keys[wb->key_slots[at] - 1];
        memcpy(wb->arena + k->value_off, value, value_len);
        k->value_len = value_len;
        k->is_deleted = false;
        k->index = index;
        return ERR_OK;
    }
    size_t value_off = 0;
    if (value != NULL) {
        rv = arena_append(wb, value, value_len, &value_off);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    struct wb_key *k;
    if (wb->key_slots[at] != 0) {
        k = &wb->keys[wb->key_slots[at] - 1];
    } else {
        size_t key_off;
        rv = arena_append(wb, key, key_len, &key_off);
        if (rv != ERR_OK) {
            return rv;
        }
        k = &wb->keys[wb->n_keys];
        wb->key_slots[at] = ++wb->n_keys;
        k->hash = hash;
        k->key_off = key_off;
        k->key_len = key_len;
        k->value_off = 0;
        k->value_cap = 0;
    }
    k->is_deleted = value == NULL;
    k->index = index;
    if (value != NULL) {
        k->value_off = value_off;
        k->value_len = value_len;
        k->value_cap = value_len;
    } else {
        k->value_len = 0; /* The old value's bytes stay for a later put. */
    }
    return ERR_OK;
}

static uint32_t session_slot_find(const struct kv_writeback *wb,
                                  uint64_t client_id)
{
    uint32_t mask = wb->session_slots_cap - 1;
    uint32_t at = (uint32_t)hash_id(client_id) & mask;
    for (uint32_t probes = 0; probes < wb->session_slots_cap; probes++) {
        uint32_t ref = wb->session_slots[at];
        if (ref == 0 || wb->sessions[ref - 1].client_id == client_id) {
            return at;
        }
        at = (at + 1) & mask;
    }
    UNREACHABLE();
}

/* Makes room for one more session. Errors: ERR_NOMEM. */
static int sessions_reserve(struct kv_writeback *wb)
{
    struct wb_session *sessions = array_reserve(
        wb->sessions, &wb->sessions_cap, wb->n_sessions, sizeof *wb->sessions);
    if (sessions == NULL) {
        return ERR_NOMEM;
    }
    wb->sessions = sessions;
    bool is_new = false;
    int rv = slots_reserve(&wb->session_slots, &wb->session_slots_cap,
                           wb->n_sessions, &is_new);
    if (rv != ERR_OK || !is_new) {
        return rv;
    }
    for (uint32_t i = 0; i < wb->n_sessions; i++) {
        wb->session_slots[session_slot_find(wb, wb->sessions[i].client_id)] =
            i + 1;
    }
    return ERR_OK;
}

static bool is_write_through(const struct kv_writeback_config *c)
{
    return c->ops_max == 0 && c->bytes_max == 0 && c->delay_ms == 0;
}

/* Forgets every buffered change after a store; oversized tables go. */
static void clear(struct kv_writeback *wb)
{
    if (wb->arena_cap > WB_ARENA_KEEP || wb->keys_cap > WB_KEYS_KEEP ||
        wb->sessions_cap > WB_KEYS_KEEP) {
        free_tables(wb);
    } else {
        if (wb->key_slots != NULL) {
            memset(wb->key_slots, 0, wb->key_slots_cap * sizeof *wb->key_slots);
        }
        if (wb->session_slots != NULL) {
            memset(wb->session_slots, 0,
                   wb->session_slots_cap * sizeof *wb->session_slots);
        }
    }
    wb->n_keys = 0;
    wb->n_sessions = 0;
    wb->arena_len = 0;
    wb->is_clock_started = false;
    wb->has_new_commit = false;
}

void kv_writeback_reset(struct kv_writeback *wb, raft_index applied)
{
    ASSERT(!wb->is_in_batch);
    clear(wb);
    wb->stored = applied;
    wb->applied = applied;
}

/* A dirty key's bytes, for sorting (they point into the arena, which does
 * not move during a store), and its first 8 bytes as a big-endian number
 * padded with zeros: comparing those decides most pairs without touching
 * the arena. */
struct wb_sorted_key {
    uint64_t prefix;
    const uint8_t *key;
    uint32_t key_len;
    uint32_t at; /* Index in keys. */
};

static uint64_t key_prefix(const uint8_t *key, uint32_t key_len)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < 8; i++) {
        v = (v << 8) | (i < key_len ? key[i] : 0u);
    }
    return v;
}

/* Byte order, a shorter key first when it is a prefix of the other. Equal
 * prefixes (both keys' first 8 bytes, zero-padded) leave it to memcmp. */
static int compare_keys(const struct wb_sorted_key *x,
                        const struct wb_sorted_key *y)
{
    if (x->prefix != y->prefix) {
        return x->prefix < y->prefix ? -1 : 1;
    }
    uint32_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = n > 0 ? memcmp(x->key, y->key, n) : 0;
    if (c != 0) {
        return c;
    }
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* Sorts a[0..n) with compare_keys: bottom-up merge sort through tmp (n
 * elements). Deterministic (the core may not call qsort; see the
 * core_purity test). Returns whichever of a and tmp holds the result. */
static struct wb_sorted_key *sort_keys(struct wb_sorted_key *a,
                                       struct wb_sorted_key *tmp, size_t n)
{
    struct wb_sorted_key *from = a, *to = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                to[k++] = compare_keys(&from[j], &from[i]) < 0 ? from[j++]
                                                               : from[i++];
            }
            while (i < mid) {
                to[k++] = from[i++];
            }
            while (j < hi) {
                to[k++] = from[j++];
            }
        }
        struct wb_sorted_key *t = from;
        from = to;
        to = t;
    }
    return from;
}

static int compare_sessions(const void *a, const void *b)
{
    const struct wb_session *x = a;
    const struct wb_session *y = b;
    return x->client_id < y->client_id ? -1 : x->client_id > y->client_id;
}

/* Swaps two elements of size bytes. */
static void swap_bytes(uint8_t *a, uint8_t *b, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        uint8_t t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

/* Moves element root down the max-heap a[0..end) until both children are
 * smaller. */
static void sift_down(uint8_t *a, size_t root, size_t end, size_t size,
                      int (*cmp)(const void *, const void *))
{
    for (size_t child = 2 * root + 1; child < end; child = 2 * root + 1) {
        if (child + 1 < end &&
            cmp(a + child * size, a + (child + 1) * size) < 0) {
            child++;
        }
        if (cmp(a + root * size, a + child * size) >= 0) {
            return;
        }
        swap_bytes(a + root * size, a + child * size, size);
        root = child;
    }
}

/* Heapsort: in place, no allocation, the same result on every libc (the
 * core may not call qsort; see the core_purity test). */
static void sort(void *base, size_t n, size_t size,
                 int (*cmp)(const void *, const void *))
{
    uint8_t *a = base;
    for (size_t i = n / 2; i-- > 0;) {
        sift_down(a, i, n, size, cmp);
    }
    for (size_t end = n; end > 1; end--) {
        swap_bytes(a, a + (end - 1) * size, size);
        sift_down(a, 0, end - 1, size, cmp);
    }
}

/* The dirty keys in byte order, in *block (heap; the caller frees it),
 * or NULL when out of memory. Sorting the sessions in place is fine: the
 * store empties the table after. */
static struct wb_sorted_key *store_order(struct kv_writeback *wb,
                                         struct wb_sorted_key **block)
{
    size_t n = wb->n_keys;
    *block = malloc((n != 0 ? 2 * n : 1) * sizeof **block);
    if (*block == NULL) {
        return NULL;
    }
    struct wb_sorted_key *order = *block;
    for (uint32_t i = 0; i < wb->n_keys; i++) {
        const struct wb_key *k = &wb->keys[i];
        order[i].key = wb->arena + k->key_off;
        order[i].key_len = k->key_len;
        order[i].prefix = key_prefix(order[i].key, k->key_len);
        order[i].at = i;
    }
    sort(wb->sessions, wb->n_sessions, sizeof *wb->sessions, compare_sessions);
    return sort_keys(order, order + n, n);
}

/* Writes every buffered change and the applied index in one inner
 * transaction, begun here unless the batch already began it. */
static int store_all(struct kv_writeback *wb, bool is_inner_open)
{
    if (wb->applied == wb->stored && !is_inner_open) {
        /* Every apply batch raises the applied index (the replica commits
         * only after applying entries), so nothing can be buffered. */
        ASSERT(wb->n_keys == 0);
        ASSERT(wb->n_sessions == 0);
        return ERR_OK;
    }
    struct wb_sorted_key *block = NULL;
    const struct wb_sorted_key *order = store_order(wb, &block);
    if (order == NULL) {
        return ERR_NOMEM;
    }
    const struct kv_store_ops *in = wb->inner;
    int rv = is_inner_open ? ERR_OK : in->begin(wb->inner_ctx);
    for (uint32_t i = 0; rv == ERR_OK && i < wb->n_keys; i++) {
        const struct wb_key *k = &wb->keys[order[i].at];
        const uint8_t *key = wb->arena + k->key_off;
        const uint8_t *value = wb->arena + k->value_off;
        if (k->is_deleted) {
            rv = in->del(wb->inner_ctx, key, k->key_len);
        } else if (k->index != 0 && in->put_at != NULL) {
            rv = in->put_at(wb->inner_ctx, key, k->key_len, value, k->value_len,
                            k->index);
        } else {
            rv = in->put(wb->inner_ctx, key, k->key_len, value, k->value_len);
        }
    }
    for (uint32_t i = 0; rv == ERR_OK && i < wb->n_sessions; i++) {
        const struct wb_session *s = &wb->sessions[i];
        /* No touch evicts (see wb_begin), so their order does not
         * matter. */
        rv = s->last_index == 0
                 ? in->session_put(wb->inner_ctx, s->client_id, s->seq,
                                   s->status)
                 : in->session_touch(wb->inner_ctx, s->client_id, s->seq,
                                     s->status, s->last_index);
    }
    if (rv == ERR_OK) {
        rv = in->commit(wb->inner_ctx, wb->applied);
    }
    free(block);
    if (rv != ERR_OK) {
        return rv;
    }
    wb->stored = wb->applied;
    clear(wb);
    return ERR_OK;
}

int kv_writeback_store(struct kv_writeback *wb)
{
    ASSERT(wb != NULL);
    ASSERT(!wb->is_in_batch);
    return store_all(wb, false);
}

void kv_writeback_set_ops_max(struct kv_writeback *wb, uint32_t ops_max)
{
    ASSERT(wb != NULL);
    wb->config.ops_max = ops_max;
}

uint32_t kv_writeback_ops_max(const struct kv_writeback *wb)
{
    ASSERT(wb != NULL);
    return wb->config.ops_max;
}

int kv_writeback_tick(struct kv_writeback *wb, uint64_t now_ms)
{
    ASSERT(wb != NULL);
    if (wb->applied == wb->stored) {
        return ERR_OK;
    }
    if (!wb->is_clock_started) {
        wb->is_clock_started = true;
        wb->first_commit_ms = now_ms;
    }
    if (wb->has_new_commit) {
        wb->has_new_commit = false;
        wb->last_commit_ms = now_ms;
    }
    if (now_ms - wb->first_commit_ms >= wb->config.delay_ms ||
        (wb->config.idle_ms != 0 &&
         now_ms - wb->last_commit_ms >= wb->config.idle_ms)) {
        return kv_writeback_store(wb);
    }
    return ERR_OK;
}

uint64_t kv_writeback_deadline(const struct kv_writeback *wb)
{
    ASSERT(wb != NULL);
    if (wb->applied == wb->stored) {
        return UINT64_MAX;
    }
    if (!wb->is_clock_started || wb->has_new_commit) {
        return 0;
    }
    uint64_t at = wb->first_commit_ms + wb->config.delay_ms;
    if (wb->config.idle_ms != 0 &&
        wb->last_commit_ms + wb->config.idle_ms < at) {
        at = wb->last_commit_ms + wb->config.idle_ms;
    }
    return at;
}

raft_index kv_writeback_stored_index(const struct kv_writeback *wb)
{
    return wb->stored;
}

raft_index kv_writeback_applied_index(const struct kv_writeback *wb)
{
    return wb->applied;
}

/* --- kv_store_ops over the buffer --- */

/* Sessions are registered (and evicted) only by register entries
 * (node/kv.h); a touch never evicts, so the buffer holds touches like keys.
 * A register moves the buffered sessions into an inner transaction (no
 * eviction among them, so their order does not matter) and registers
 * there, where the store evicts with every touch before it in place; the
 * rest of the batch goes there too, and the batch's keys follow at commit.
 * So an answer never depends on how applies were batched. */
static int wb_begin(void *ctx)
{
    struct kv_writeback *wb = ctx;
    ASSERT(!wb->is_in_batch);
    ASSERT(!wb->is_inner_open);
    wb->is_in_batch = true;
    return ERR_OK;
}

/* Moves the buffered sessions into a new inner transaction, where the rest
 * of the batch touches. Errors: the store's (fatal). */
static int open_inner(struct kv_writeback *wb)
{
    ASSERT(!wb->is_inner_open);
    const struct kv_store_ops *in = wb->inner;
    int rv = in->begin(wb->inner_ctx);
    sort(wb->sessions, wb->n_sessions, sizeof *wb->sessions, compare_sessions);
    for (uint32_t i = 0; rv == ERR_OK && i < wb->n_sessions; i++) {
        const struct wb_session *x = &wb->sessions[i];
        rv = x->last_index == 0
                 ? in->session_put(wb->inner_ctx, x->client_id, x->seq,
                                   x->status)
                 : in->session_touch(wb->inner_ctx, x->client_id, x->seq,
                                     x->status, x->last_index);
    }
    if (wb->session_slots != NULL) {
        memset(wb->session_slots, 0,
               wb->session_slots_cap * sizeof *wb->session_slots);
    }
    wb->n_sessions = 0;
    wb->is_inner_open = true;
    return rv;
}

static int wb_commit(void *ctx, raft_index applied_index)
{
    struct kv_writeback *wb = ctx;
    ASSERT(wb->is_in_batch);
    ASSERT(applied_index >= wb->applied);
    wb->is_in_batch = false;
    wb->applied = applied_index;
    wb->has_new_commit = true;
    if (wb->is_inner_open) {
        wb->is_inner_open = false;
        return store_all(wb, true);
    }
    const struct kv_writeback_config *c = &wb->config;
    bool is_full =
        (c->ops_max != 0 && wb->n_keys + wb->n_sessions >= c->ops_max) ||
        (c->bytes_max != 0 && wb->arena_len >= c->bytes_max);
    if (is_write_through(c) || is_full) {
        return kv_writeback_store(wb);
    }
    return ERR_OK;
}

static int wb_get(void *ctx, const uint8_t *key, uint32_t key_len,
                  const uint8_t **value, uint32_t *value_len)
{
    struct kv_writeback *wb = ctx;
    const struct wb_key *k = key_find(wb, key, key_len);
    if (k == NULL) {
        return wb->inner->get(wb->inner_ctx, key, key_len, value, value_len);
    }
    if (k->is_deleted) {
        return ERR_NOT_FOUND;
    }
    *value = wb->arena + k->value_off;
    *value_len = k->value_len;
    return ERR_OK;
}

static int wb_put(void *ctx, const uint8_t *key, uint32_t key_len,
                  const uint8_t *value, uint32_t value_len)
{
    static const uint8_t empty[1];
    return key_set(ctx, key, key_len, value != NULL ? value : empty, value_len,
                   0);
}

static int wb_put_at(void *ctx, const uint8_t *key, uint32_t key_len,
                     const uint8_t *value, uint32_t value_len, raft_index index)
{
    static const uint8_t empty[1];
    ASSERT(index != 0);
    return key_set(ctx, key, key_len, value != NULL ? value : empty, value_len,
                   index);
}

static int wb_del(void *ctx, const uint8_t *key, uint32_t key_len)
{
    return key_set(ctx, key, key_len, NULL, 0, 0);
}

static int wb_session_get(void *ctx, uint64_t client_id, uint64_t *seq,
                          uint8_t *status)
{
    struct kv_writeback *wb = ctx;
    if (wb->n_sessions != 0) {
        uint32_t ref = wb->session_slots[session_slot_find(wb, client_id)];
        if (ref != 0) {
            *seq = wb->sessions[ref - 1].seq;
            *status = wb->sessions[ref - 1].status;
            return ERR_OK;
        }
    }
    return wb->inner->session_get(wb->inner_ctx, client_id, seq, status);
}

static int wb_session_find(void *ctx, uint64_t client_id,
                           struct kv_session *out)
{
    struct kv_writeback *wb = ctx;
    if (!wb->is_inner_open && wb->n_sessions != 0) {
        uint32_t ref = wb->session_slots[session_slot_find(wb, client_id)];
        if (ref != 0) {
            out->state = KV_SESSION_LIVE;
            out->seq = wb->sessions[ref - 1].seq;
            out->status = wb->sessions[ref - 1].status;
            return ERR_OK;
        }
    }
    return wb->inner->session_find(wb->inner_ctx, client_id, out);
}

/* Records client_id's session as touched at index (0: put), in the
 * buffer. */
static int session_set(struct kv_writeback *wb, uint64_t client_id,
                       uint64_t seq, uint8_t status, raft_index index)
{
    ASSERT(wb->is_in_batch);
    ASSERT(!wb->is_inner_open);
    int rv = sessions_reserve(wb);
    if (rv != ERR_OK) {
        return rv;
    }
    uint32_t at = session_slot_find(wb, client_id);
    if (wb->session_slots[at] == 0) {
        wb->session_slots[at] = ++wb->n_sessions;
        wb->sessions[wb->n_sessions - 1].client_id = client_id;
    }
    struct wb_session *s = &wb->sessions[wb->session_slots[at] - 1];
    s->seq = seq;
    s->status = status;
    s->last_index = index;
    return ERR_OK;
}

static int wb_session_put(void *ctx, uint64_t client_id, uint64_t seq,
                          uint8_t status)
{
    struct kv_writeback *wb = ctx;
    if (wb->is_inner_open) {
        return wb->inner->session_put(wb->inner_ctx, client_id, seq, status);
    }
    return session_set(wb, client_id, seq, status, 0);
}

static int wb_session_touch(void *ctx, uint64_t client_id, uint64_t seq,
                            uint8_t status, raft_index index)
{
    struct kv_writeback *wb = ctx;
    ASSERT(index > wb->applied);
    if (wb->is_inner_open) {
        return wb->inner->session_touch(wb->inner_ctx, client_id, seq, status,
                                        index);
    }
    return session_set(wb, client_id, seq, status, index);
}

static int wb_session_register(void *ctx, raft_index index, uint64_t max)
{
    struct kv_writeback *wb = ctx;
    ASSERT(wb->is_in_batch);
    ASSERT(index > wb->applied);
    int rv = wb->is_inner_open ? ERR_OK : open_inner(wb);
    return rv != ERR_OK ? rv
                        : wb->inner->session_register(wb->inner_ctx, index, max);
}

/* Buffered sessions are touches of live ones: the store counts them all. */
static int wb_session_count(void *ctx, uint64_t *n_live)
{
    struct kv_writeback *wb = ctx;
    return wb->inner->session_count(wb->inner_ctx, n_live);
}

const struct kv_store_ops *kv_writeback_ops(void)
{
    static const struct kv_store_ops ops = {
        .begin = wb_begin,
        .commit = wb_commit,
        .get = wb_get,
        .put = wb_put,
        .put_at = wb_put_at,
        .del = wb_del,
        .session_get = wb_session_get,
        .session_put = wb_session_put,
        .session_find = wb_session_find,
        .session_touch = wb_session_touch,
        .session_register = wb_session_register,
        .session_count = wb_session_count,
    };
    return &ops;
}
