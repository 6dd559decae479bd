/*
 * The Wing-Gong-Lowe search of tests/lin/lin.h, in Lowe's iterative form
 * with memoization: the key's call and return events are sorted into a
 * doubly linked list; the search repeatedly tries to linearize the first
 * pending call (lifting its call and return out of the list), and when it
 * meets a return whose call is still pending it backtracks. A memo table of
 * (linearized set as a bitset, register value), hashed incrementally with
 * one random word per operation (Zobrist), cuts every state seen before.
 * Operations with unknown outcomes have no return event, so the search ends
 * once every operation with a known outcome is linearized: the unknown ones
 * left over are placed at the end, which is the same as never.
 * Read tests/lin/lincheck.c next.
 */
#include "tests/lin/lin.h"

#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"

#define LIN_NIL (-1)

/* One call or return event in the search list. */
struct ev {
    uint64_t time_us;
    uint32_t op;              /* Local operation number. */
    uint8_t is_ret;
    int32_t prev, next;       /* The list; index n_evs is the head. */
    int32_t match;            /* A call's return event, or LIN_NIL. */
};

/* The memo table: open addressing over (hash, state, bitset). */
struct memo {
    uint64_t *hashes;         /* 0 marks an empty slot. */
    uint32_t *states;
    uint32_t *offsets;        /* Into words, in units of n_words. */
    uint32_t n_slots, n_used;
    uint64_t *words;
    uint32_t n_words;         /* Words per bitset. */
    size_t cap_sets;          /* Bitsets the words array holds. */
    size_t bytes_max;
};

/* The search of one key. */
struct search {
    const struct lin_history *h;
    uint32_t n_ops;
    uint32_t *recs;           /* Local op -> index into h->recs. */
    uint64_t *zobrist;        /* Local op -> random word. */
    struct ev *evs;
    uint32_t n_evs;           /* Head sentinel at evs[n_evs]. */
    uint64_t *bits;           /* The linearized set. */
    uint32_t *stack_ev;       /* Lifted call events, in order. */
    uint32_t *stack_state;    /* Register value before each. */
    uint32_t sp;
    int32_t *call_of;         /* Local op -> its call event (scratch). */
    bool has_witness;
    struct memo memo;
};

bool lin_model_step(const struct lin_rec *r, uint32_t state, uint32_t *next)
{
    ASSERT(r != NULL);
    bool unknown = r->outcome == LIN_UNKNOWN;
    switch (r->op) {
    case LIN_PUT:
        *next = r->value;
        return !(unknown && state == r->value);
    case LIN_DEL:
        *next = LIN_VALUE_ABSENT;
        return !(unknown && state == LIN_VALUE_ABSENT);
    case LIN_GET:
        *next = state;
        return r->outcome == LIN_OK ? state == r->result
                                    : state == LIN_VALUE_ABSENT;
    case LIN_CAS: {
        bool match = state != LIN_VALUE_ABSENT && state == r->expected;
        *next = match ? r->value : state;
        if (unknown) {
            return match && r->value != state;
        }
        return r->outcome == LIN_OK ? match : !match;
    }
    default:
        UNREACHABLE();
    }
}

/* SplitMix64: the Zobrist words, from a fixed seed (deterministic). */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t state_hash(uint32_t state)
{
    uint64_t x = state;
    return splitmix(&x) | 1; /* Never 0, the empty-slot mark, alone. */
}

static size_t memo_bytes(const struct memo *m, uint32_t n_slots,
                         size_t cap_sets)
{
    return (size_t)n_slots * (8 + 4 + 4) + cap_sets * m->n_words * 8;
}

/* Doubles the slot array. Errors: ERR_NOMEM, ERR_TOO_BIG. */
static int memo_grow_slots(struct memo *m)
{
    uint32_t n = m->n_slots == 0 ? 1024 : m->n_slots * 2;
    if (n == 0 || memo_bytes(m, n, m->cap_sets) > m->bytes_max) {
        return ERR_TOO_BIG;
    }
    uint64_t *hashes = calloc(n, sizeof *hashes);
    uint32_t *states = malloc(n * sizeof *states);
    uint32_t *offsets = malloc(n * sizeof *offsets);
    if (hashes == NULL || states == NULL || offsets == NULL) {
        free(hashes);
        free(states);
        free(offsets);
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < m->n_slots; i++) {
        if (m->hashes[i] == 0) {
            continue;
        }
        uint32_t j = (uint32_t)m->hashes[i] & (n - 1);
        while (hashes[j] != 0) {
            j = (j + 1) & (n - 1);
        }
        hashes[j] = m->hashes[i];
        states[j] = m->states[i];
        offsets[j] = m->offsets[i];
    }
    free(m->hashes);
    free(m->states);
    free(m->offsets);
    m->hashes = hashes;
    m->states = states;
    m->offsets = offsets;
    m->n_slots = n;
    return ERR_OK;
}

/* Adds (bits, state) under hash unless present. Sets *added. Errors:
 * ERR_NOMEM, ERR_TOO_BIG (over bytes_max). */
static int memo_add(struct memo *m, uint64_t hash, uint32_t state,
                    const uint64_t *bits, bool *added)
{
    hash |= 1;
    if ((m->n_used + 1) * 2 > m->n_slots) {
        int rv = memo_grow_slots(m);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    size_t set_bytes = m->n_words * sizeof(uint64_t);
    uint32_t j = (uint32_t)hash & (m->n_slots - 1);
    while (m->hashes[j] != 0) {
        if (m->hashes[j] == hash && m->states[j] == state &&
            memcmp(m->words + (size_t)m->offsets[j] * m->n_words, bits,
                   set_bytes) == 0) {
            *added = false;
            return ERR_OK;
        }
        j = (j + 1) & (m->n_slots - 1);
    }
    if (m->n_used == m->cap_sets) {
        size_t cap = m->cap_sets == 0 ? 1024 : m->cap_sets * 2;
        if (cap > UINT32_MAX || memo_bytes(m, m->n_slots, cap) > m->bytes_max) {
            return ERR_TOO_BIG;
        }
        uint64_t *words = realloc(m->words, cap * set_bytes);
        if (words == NULL) {
            return ERR_NOMEM;
        }
        m->words = words;
        m->cap_sets = cap;
    }
    memcpy(m->words + (size_t)m->n_used * m->n_words, bits, set_bytes);
    m->hashes[j] = hash;
    m->states[j] = state;
    m->offsets[j] = m->n_used++;
    *added = true;
    return ERR_OK;
}

static void memo_free(struct memo *m)
{
    free(m->hashes);
    free(m->states);
    free(m->offsets);
    free(m->words);
}

/* Orders events by time, calls before returns at the same time (treating
 * them as concurrent: the checker must never invent an order), then by
 * operation for determinism. */
static int ev_cmp(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->time_us != y->time_us) {
        return x->time_us < y->time_us ? -1 : 1;
    }
    if (x->is_ret != y->is_ret) {
        return x->is_ret < y->is_ret ? -1 : 1;
    }
    return x->op < y->op ? -1 : x->op > y->op;
}

/* Builds the sorted, linked event list of the key's operations. */
static void search_build_events(struct search *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_ops; i++) {
        const struct lin_rec *r = &s->h->recs[s->recs[i]];
        s->evs[n++] = (struct ev){.time_us = r->call_us, .op = i};
        if (r->ret_us != LIN_TIME_UNKNOWN) {
            s->evs[n++] =
                (struct ev){.time_us = r->ret_us, .op = i, .is_ret = 1};
        }
    }
    s->n_evs = n;
    qsort(s->evs, n, sizeof *s->evs, ev_cmp);
    int32_t *call_of = s->call_of;
    for (uint32_t i = 0; i < n; i++) {
        s->evs[i].prev = i == 0 ? (int32_t)n : (int32_t)i - 1;
        s->evs[i].next = i + 1 < n ? (int32_t)i + 1 : LIN_NIL;
        s->evs[i].match = LIN_NIL;
        if (!s->evs[i].is_ret) {
            call_of[s->evs[i].op] = (int32_t)i;
        } else {
            s->evs[call_of[s->evs[i].op]].match = (int32_t)i;
        }
    }
    s->evs[n] = (struct ev){.prev = LIN_NIL, .next = n > 0 ? 0 : LIN_NIL};
}

/* Dancing links: removal keeps the node's own links for reinsertion, which
 * must happen in the reverse order. */
static void ev_unlink(struct ev *evs, int32_t e)
{
    evs[evs[e].prev].next = evs[e].next;
    if (evs[e].next != LIN_NIL) {
        evs[evs[e].next].prev = evs[e].prev;
    }
}

static void ev_relink(struct ev *evs, int32_t e)
{
    evs[evs[e].prev].next = e;
    if (evs[e].next != LIN_NIL) {
        evs[evs[e].next].prev = e;
    }
}

static void lift(struct search *s, int32_t call)
{
    ev_unlink(s->evs, call);
    if (s->evs[call].match != LIN_NIL) {
        ev_unlink(s->evs, s->evs[call].match);
    }
}

static void unlift(struct search *s, int32_t call)
{
    if (s->evs[call].match != LIN_NIL) {
        ev_relink(s->evs, s->evs[call].match);
    }
    ev_relink(s->evs, call);
}

static void bit_flip(uint64_t *bits, uint32_t i)
{
    bits[i / 64] ^= 1ull << (i % 64);
}

/* Remembers the deepest point reached, for the violation report. */
static void search_witness(struct search *s, int32_t blocking,
                           uint32_t state, struct lin_key_result *out)
{
    if (s->has_witness && s->sp <= out->depth) {
        return;
    }
    s->has_witness = true;
    out->depth = s->sp;
    out->state = state;
    uint32_t from = s->sp > LIN_WITNESS_MAX ? s->sp - LIN_WITNESS_MAX : 0;
    out->n_prefix = 0;
    for (uint32_t i = from; i < s->sp; i++) {
        out->prefix[out->n_prefix++] = s->recs[s->evs[s->stack_ev[i]].op];
    }
    out->blocking = blocking != LIN_NIL ? s->recs[s->evs[blocking].op] : 0;
    out->n_pending = 0;
    for (int32_t e = s->evs[s->n_evs].next;
         e != LIN_NIL && e != blocking && out->n_pending < LIN_WITNESS_MAX;
         e = s->evs[e].next) {
        if (blocking == LIN_NIL || s->evs[e].op != s->evs[blocking].op) {
            out->pending[out->n_pending++] = s->recs[s->evs[e].op];
        }
    }
}

/* Tries to linearize the call at e now. Returns true when it was lifted. */
static int search_try(struct search *s, int32_t e, uint32_t *state,
                      uint64_t *hash, bool *lifted)
{
    uint32_t op = s->evs[e].op;
    const struct lin_rec *r = &s->h->recs[s->recs[op]];
    uint32_t next = 0;
    *lifted = false;
    if (!lin_model_step(r, *state, &next)) {
        return ERR_OK;
    }
    bit_flip(s->bits, op);
    uint64_t zh = *hash ^ s->zobrist[op];
    bool added = false;
    int rv = memo_add(&s->memo, zh ^ state_hash(next), next, s->bits, &added);
    if (rv != ERR_OK || !added) {
        bit_flip(s->bits, op);
        return rv;
    }
    s->stack_ev[s->sp] = (uint32_t)e;
    s->stack_state[s->sp] = *state;
    s->sp++;
    *state = next;
    *hash = zh;
    lift(s, e);
    *lifted = true;
    return ERR_OK;
}

/* The search loop. Returns ERR_OK with out->verdict set, or ERR_NOMEM. */
static int search_run(struct search *s, uint32_t n_definite, uint64_t steps_max,
                      struct lin_key_result *out)
{
    uint32_t remaining = n_definite;
    uint32_t state = LIN_VALUE_ABSENT;
    uint64_t hash = 0;
    int32_t head = (int32_t)s->n_evs;
    int32_t e = s->evs[head].next;
    out->verdict = LIN_LINEARIZABLE;
    while (remaining > 0) {
        if (++out->steps > steps_max) {
            out->verdict = LIN_TOO_BIG;
            return ERR_OK;
        }
        if (e != LIN_NIL && !s->evs[e].is_ret) {
            bool lifted = false;
            int rv = search_try(s, e, &state, &hash, &lifted);
            if (rv == ERR_TOO_BIG) {
                out->verdict = LIN_TOO_BIG;
                return ERR_OK;
            }
            if (rv != ERR_OK) {
                return rv;
            }
            if (lifted) {
                remaining -= s->h->recs[s->recs[s->evs[e].op]].outcome !=
                             LIN_UNKNOWN;
                e = s->evs[head].next;
            } else {
                e = s->evs[e].next;
            }
            continue;
        }
        /* A return whose call is pending: undo the last choice. */
        search_witness(s, e, state, out);
        if (s->sp == 0) {
            out->verdict = LIN_VIOLATION;
            return ERR_OK;
        }
        s->sp--;
        int32_t call = (int32_t)s->stack_ev[s->sp];
        uint32_t op = s->evs[call].op;
        state = s->stack_state[s->sp];
        hash ^= s->zobrist[op];
        bit_flip(s->bits, op);
        unlift(s, call);
        remaining += s->h->recs[s->recs[op]].outcome != LIN_UNKNOWN;
        e = s->evs[call].next;
    }
    return ERR_OK;
}

static void search_free(struct search *s)
{
    free(s->recs);
    free(s->zobrist);
    free(s->evs);
    free(s->bits);
    free(s->stack_ev);
    free(s->stack_state);
    free(s->call_of);
    memo_free(&s->memo);
}

/* Allocates the search of key's operations. Errors: ERR_NOMEM. */
static int search_init(struct search *s, const struct lin_history *h,
                       uint32_t key, size_t cache_bytes_max)
{
    memset(s, 0, sizeof *s);
    s->h = h;
    for (uint32_t i = 0; i < h->n_recs; i++) {
        s->n_ops += h->recs[i].key == key;
    }
    size_t n = s->n_ops + 1;
    s->recs = malloc(n * sizeof *s->recs);
    s->zobrist = malloc(n * sizeof *s->zobrist);
    s->evs = malloc((2 * n + 1) * sizeof *s->evs);
    s->memo.n_words = (uint32_t)((s->n_ops + 63) / 64 + 1);
    s->bits = calloc(s->memo.n_words, sizeof *s->bits);
    s->stack_ev = malloc(n * sizeof *s->stack_ev);
    s->stack_state = malloc(n * sizeof *s->stack_state);
    s->call_of = malloc(n * sizeof *s->call_of);
    s->memo.bytes_max = cache_bytes_max;
    if (s->recs == NULL || s->zobrist == NULL || s->evs == NULL ||
        s->bits == NULL || s->stack_ev == NULL || s->stack_state == NULL ||
        s->call_of == NULL) {
        search_free(s);
        return ERR_NOMEM;
    }
    uint32_t k = 0;
    uint64_t seed = 0x6c696e636865636bull;
    for (uint32_t i = 0; i < h->n_recs; i++) {
        if (h->recs[i].key == key) {
            s->zobrist[k] = splitmix(&seed);
            s->recs[k++] = i;
        }
    }
    search_build_events(s);
    return ERR_OK;
}

int lin_check_key(const struct lin_history *h, uint32_t key,
                  const struct lin_limits *limits, struct lin_key_result *out)
{
    ASSERT(h != NULL);
    ASSERT(out != NULL);
    if (key >= h->keys.n) {
        return ERR_INVALID;
    }
    memset(out, 0, sizeof *out);
    out->key = key;
    uint64_t steps_max = limits != NULL && limits->steps_max != 0
                             ? limits->steps_max
                             : LIN_STEPS_MAX_DEFAULT;
    size_t bytes_max = limits != NULL && limits->cache_bytes_max != 0
                           ? limits->cache_bytes_max
                           : LIN_CACHE_BYTES_MAX_DEFAULT;
    struct search s;
    int rv = search_init(&s, h, key, bytes_max);
    if (rv != ERR_OK) {
        return rv;
    }
    uint32_t n_definite = 0;
    for (uint32_t i = 0; i < s.n_ops; i++) {
        bool unknown = h->recs[s.recs[i]].outcome == LIN_UNKNOWN;
        n_definite += !unknown;
        out->n_unknown += unknown;
    }
    out->n_ops = s.n_ops;
    rv = search_run(&s, n_definite, steps_max, out);
    out->n_cached = s.memo.n_used;
    if (out->verdict != LIN_VIOLATION) {
        out->depth = 0;
        out->n_prefix = 0;
        out->n_pending = 0;
    }
    search_free(&s);
    return rv;
}

int lin_check(const struct lin_history *h, const struct lin_limits *limits,
              struct lin_report *report)
{
    ASSERT(h != NULL);
    ASSERT(report != NULL);
    memset(report, 0, sizeof *report);
    if (h->keys.n == 0) {
        return ERR_OK;
    }
    report->keys = calloc(h->keys.n, sizeof *report->keys);
    if (report->keys == NULL) {
        return ERR_NOMEM;
    }
    report->n_keys = h->keys.n;
    for (uint32_t k = 0; k < h->keys.n; k++) {
        int rv = lin_check_key(h, k, limits, &report->keys[k]);
        if (rv != ERR_OK) {
            return rv;
        }
        int v = report->keys[k].verdict;
        if (v == LIN_VIOLATION ||
            (v == LIN_TOO_BIG && report->verdict == LIN_LINEARIZABLE)) {
            report->verdict = v;
        }
    }
    return ERR_OK;
}

void lin_report_free(struct lin_report *report)
{
    if (report == NULL) {
        return;
    }
    free(report->keys);
    memset(report, 0, sizeof *report);
}
