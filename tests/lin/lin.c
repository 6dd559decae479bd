/*
 * The Wing-Gong-Lowe search of tests/lin/lin.h, in Lowe's iterative form
 * with memoization: the key's call and return events are sorted into a
 * doubly linked list; the search repeatedly tries to linearize the first
 * pending call (lifting its call and return out of the list), and when it
 * meets a return whose call is still pending it backtracks. A memo table
 * (tests/lin/lin_memo.h) cuts every state explored before: the set of
 * linearized known-outcome operations as a 128-bit Zobrist fingerprint
 * (two random words per operation, updated incrementally), the register
 * value, and the exact set of linearized unknown-outcome operations, with
 * subset dominance. A fingerprint collision (odds far below 2^-60 at the
 * memory bound) could only hide a linearization, never invent one.
 * Operations with unknown outcomes have no return event, so the search ends
 * once every operation with a known outcome is linearized: the unknown ones
 * left over are placed at the end, which is the same as never.
 * Read tests/lin/lincheck.c next.
 */
#include "tests/lin/lin.h"

#include <stdlib.h>
#include <string.h>

#include "common/invariant.h"
#include "tests/lin/lin_memo.h"

#define LIN_NIL (-1)

/* One call or return event in the search list. */
struct ev {
    uint64_t time_us;
    uint32_t op; /* Local operation number. */
    uint8_t is_ret;
    int32_t prev, next; /* The list; index n_evs is the head. */
    int32_t match;      /* A call's return event, or LIN_NIL. */
};

/* The search of one key. */
struct search {
    const struct lin_history *h;
    uint32_t n_ops;
    uint32_t *recs;        /* Local op -> index into h->recs. */
    struct lin_rec *canon; /* Local op -> its record, values canonical. */
    bool *scramble;        /* Local op -> an unknown put nobody reads. */
    uint64_t *z1, *z2;     /* Local op -> random words (known outcome). */
    uint32_t *unk;         /* Local op -> bit in uset (unknown outcome). */
    struct ev *evs;
    uint32_t n_evs;        /* Head sentinel at evs[n_evs]. */
    uint64_t h1, h2;       /* Fingerprint of the linearized known ops. */
    uint64_t *uset;        /* The linearized unknown ops. */
    uint32_t *stack_ev;    /* Lifted call events, in order. */
    uint32_t *stack_state; /* Register value before each. */
    uint32_t sp;
    int32_t *call_of; /* Local op -> its call event (scratch). */
    bool has_witness;
    struct lin_memo memo;
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

/* Adds op to, or removes it from, the linearized set. */
static void toggle(struct search *s, uint32_t op)
{
    if (s->unk[op] != UINT32_MAX) {
        s->uset[s->unk[op] / 64] ^= 1ull << (s->unk[op] % 64);
    } else {
        s->h1 ^= s->z1[op];
        s->h2 ^= s->z2[op];
    }
}

/* Remembers the deepest point reached, for the violation report. */
static void search_witness(struct search *s, int32_t blocking, uint32_t state,
                           struct lin_key_result *out)
{
    if (s->has_witness && s->sp <= out->depth) {
        return;
    }
    s->has_witness = true;
    out->depth = s->sp;
    out->state = state;
    /* Show the value itself rather than its canonical stand-in: the last
     * write on the stack produced it. */
    for (uint32_t i = s->sp; i > 0 && state == LIN_VALUE_UNOBSERVED; i--) {
        uint32_t op = s->evs[s->stack_ev[i - 1]].op;
        if (s->canon[op].value == LIN_VALUE_UNOBSERVED &&
            (s->canon[op].op == LIN_PUT ||
             s->stack_state[i - 1] != LIN_VALUE_UNOBSERVED)) {
            out->state = s->h->recs[s->recs[op]].value;
            break;
        }
    }
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

/* Tries to linearize the call at e now; *lifted says whether it did.
 * Errors: ERR_NOMEM, ERR_TOO_BIG (memo bound). */
static int search_try(struct search *s, int32_t e, uint32_t *state,
                      bool *lifted)
{
    uint32_t op = s->evs[e].op;
    const struct lin_rec *r = &s->canon[op];
    uint32_t next = 0;
    *lifted = false;
    if (!lin_model_step(r, *state, &next)) {
        return ERR_OK;
    }
    toggle(s, op);
    bool fresh = false;
    int rv = lin_memo_visit(&s->memo, s->h1, s->h2, next, s->uset, &fresh);
    if (rv != ERR_OK || !fresh) {
        toggle(s, op);
        return rv;
    }
    s->stack_ev[s->sp] = (uint32_t)e;
    s->stack_state[s->sp] = *state;
    s->sp++;
    *state = next;
    lift(s, e);
    *lifted = true;
    return ERR_OK;
}

static bool is_unknown(const struct search *s, int32_t e)
{
    return s->unk[s->evs[e].op] != UINT32_MAX;
}

/* Is there a pending scramble in the list up to and including e? */
static bool scramble_upto(const struct search *s, int32_t e)
{
    for (int32_t i = s->evs[s->n_evs].next; i != LIN_NIL; i = s->evs[i].next) {
        if (s->scramble[s->evs[i].op]) {
            return true;
        }
        if (i == e) {
            return false;
        }
    }
    return false;
}

/* The search loop. The candidates at each point are the pending calls
 * before the first pending return, as in Lowe's algorithm; those with a
 * known outcome are tried first (phase 0) and those with an unknown one
 * after (phase 1). Same choices, better order: the search walks the known
 * history and brings in an unknown write only where one is needed, instead
 * of trying every old unknown write at every step. Scrambles (unknown puts
 * of values no operation reads or compares) are interchangeable once
 * their calls have happened, so only the first pending one is a candidate.
 * Returns ERR_OK with out->verdict set, or ERR_NOMEM. */
static int search_run(struct search *s, uint32_t n_definite, uint64_t steps_max,
                      struct lin_key_result *out)
{
    uint32_t remaining = n_definite;
    uint32_t state = LIN_VALUE_ABSENT;
    int32_t head = (int32_t)s->n_evs;
    int32_t e = s->evs[head].next;
    bool phase1 = false;
    bool scrambled = false; /* Phase 1 passed a pending scramble. */
    out->verdict = LIN_LINEARIZABLE;
    while (remaining > 0) {
        if (++out->steps > steps_max) {
            out->verdict = LIN_TOO_BIG;
            return ERR_OK;
        }
        if (e != LIN_NIL && !s->evs[e].is_ret) {
            bool lifted = false;
            bool skip = is_unknown(s, e) != phase1 ||
                        (s->scramble[s->evs[e].op] && scrambled);
            int rv = skip ? ERR_OK : search_try(s, e, &state, &lifted);
            scrambled |= phase1 && s->scramble[s->evs[e].op];
            if (rv == ERR_TOO_BIG) {
                out->verdict = LIN_TOO_BIG;
                return ERR_OK;
            }
            if (rv != ERR_OK) {
                return rv;
            }
            if (lifted) {
                remaining -= !phase1;
                e = s->evs[head].next;
                phase1 = false;
            } else {
                e = s->evs[e].next;
            }
            continue;
        }
        if (!phase1) {
            phase1 = true; /* Now the unknown-outcome candidates. */
            scrambled = false;
            e = s->evs[head].next;
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
        state = s->stack_state[s->sp];
        toggle(s, s->evs[call].op);
        unlift(s, call);
        phase1 = is_unknown(s, call);
        scrambled = phase1 && scramble_upto(s, call);
        remaining += !phase1;
        e = s->evs[call].next;
    }
    return ERR_OK;
}

static void search_free(struct search *s)
{
    free(s->recs);
    free(s->canon);
    free(s->scramble);
    free(s->z1);
    free(s->z2);
    free(s->unk);
    free(s->evs);
    free(s->uset);
    free(s->stack_ev);
    free(s->stack_state);
    free(s->call_of);
    lin_memo_free(&s->memo);
}

/* Fills s->canon: each record with every value that no get returns and no
 * cas compares against replaced by LIN_VALUE_UNOBSERVED (the model cannot
 * tell such values apart, so neither need the memo), and marks the
 * scrambles. Errors: ERR_NOMEM. */
static int search_canonicalize(struct search *s)
{
    uint32_t n_values = s->h->values.n;
    bool *seen = calloc(n_values + 1, sizeof *seen);
    if (seen == NULL) {
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < s->n_ops; i++) {
        const struct lin_rec *r = &s->h->recs[s->recs[i]];
        if (r->op == LIN_GET && r->outcome == LIN_OK && r->result < n_values) {
            seen[r->result] = true;
        }
        if (r->op == LIN_CAS && r->expected < n_values) {
            seen[r->expected] = true;
        }
    }
    for (uint32_t i = 0; i < s->n_ops; i++) {
        struct lin_rec *c = &s->canon[i];
        *c = s->h->recs[s->recs[i]];
        if ((c->op == LIN_PUT || c->op == LIN_CAS) && c->value < n_values &&
            !seen[c->value]) {
            c->value = LIN_VALUE_UNOBSERVED;
        }
        s->scramble[i] = c->op == LIN_PUT && c->outcome == LIN_UNKNOWN &&
                         c->value == LIN_VALUE_UNOBSERVED;
    }
    free(seen);
    return ERR_OK;
}

/* Allocates the search of key's operations. Errors: ERR_NOMEM. */
static int search_init(struct search *s, const struct lin_history *h,
                       uint32_t key, size_t cache_bytes_max)
{
    memset(s, 0, sizeof *s);
    s->h = h;
    uint32_t n_unknown = 0;
    for (uint32_t i = 0; i < h->n_recs; i++) {
        s->n_ops += h->recs[i].key == key;
        n_unknown += h->recs[i].key == key && h->recs[i].outcome == LIN_UNKNOWN;
    }
    size_t n = s->n_ops + 1;
    s->recs = malloc(n * sizeof *s->recs);
    s->canon = malloc(n * sizeof *s->canon);
    s->scramble = calloc(n, sizeof *s->scramble);
    s->z1 = malloc(n * sizeof *s->z1);
    s->z2 = malloc(n * sizeof *s->z2);
    s->unk = malloc(n * sizeof *s->unk);
    s->evs = malloc((2 * n + 1) * sizeof *s->evs);
    s->uset = calloc(n_unknown / 64 + 1, sizeof *s->uset);
    s->stack_ev = malloc(n * sizeof *s->stack_ev);
    s->stack_state = malloc(n * sizeof *s->stack_state);
    s->call_of = malloc(n * sizeof *s->call_of);
    lin_memo_init(&s->memo, n_unknown, cache_bytes_max);
    if (s->recs == NULL || s->canon == NULL || s->scramble == NULL ||
        s->z1 == NULL || s->z2 == NULL || s->unk == NULL || s->evs == NULL ||
        s->uset == NULL || s->stack_ev == NULL || s->stack_state == NULL ||
        s->call_of == NULL) {
        search_free(s);
        return ERR_NOMEM;
    }
    uint32_t k = 0, u = 0;
    uint64_t seed = 0x6c696e636865636bull;
    for (uint32_t i = 0; i < h->n_recs; i++) {
        if (h->recs[i].key == key) {
            s->z1[k] = splitmix(&seed);
            s->z2[k] = splitmix(&seed);
            s->unk[k] = h->recs[i].outcome == LIN_UNKNOWN ? u++ : UINT32_MAX;
            s->recs[k++] = i;
        }
    }
    search_build_events(s);
    int rv = search_canonicalize(s);
    if (rv != ERR_OK) {
        search_free(s);
    }
    return rv;
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
    out->n_cached = s.memo.n_entries;
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
