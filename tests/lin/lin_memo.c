/*
 * The memo table of tests/lin/lin_memo.h: open addressing over keys
 * (fingerprint, value), each slot heading a chain of entries that differ
 * in their unknown sets; a visit walks the chain looking for a subset.
 * Read tests/lin/lin.c next.
 */
#include "tests/lin/lin_memo.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

void lin_memo_init(struct lin_memo *m, uint32_t n_unknown, size_t bytes_max)
{
    ASSERT(m != NULL);
    memset(m, 0, sizeof *m);
    m->n_uwords = (n_unknown + 63) / 64;
    m->bytes_max = bytes_max;
}

void lin_memo_free(struct lin_memo *m)
{
    if (m == NULL) {
        return;
    }
    free(m->slots);
    free(m->entries);
    free(m->uwords);
    memset(m, 0, sizeof *m);
}

static size_t memo_bytes(const struct lin_memo *m, size_t n_slots,
                         size_t cap_entries)
{
    return n_slots * sizeof(uint32_t) +
           cap_entries * (sizeof(struct lin_memo_entry) + m->n_uwords * 8);
}

static bool same_key(const struct lin_memo_entry *e, uint64_t h1, uint64_t h2,
                     uint32_t state)
{
    return e->h1 == h1 && e->h2 == h2 && e->state == state;
}

/* Doubles the slots and places every key again. Errors: ERR_NOMEM,
 * ERR_TOO_BIG. */
static int memo_grow_slots(struct lin_memo *m)
{
    size_t n = m->n_slots == 0 ? 1024 : (size_t)m->n_slots * 2;
    if (n > UINT32_MAX || memo_bytes(m, n, m->cap_entries) > m->bytes_max) {
        return ERR_TOO_BIG;
    }
    uint32_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL) {
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < m->n_slots; i++) {
        if (m->slots[i] == 0) {
            continue;
        }
        uint32_t j = (uint32_t)m->entries[m->slots[i] - 1].h1 & (n - 1);
        while (slots[j] != 0) {
            j = (j + 1) & (n - 1);
        }
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = (uint32_t)n;
    return ERR_OK;
}

/* Appends an entry and returns its index + 1, or 0 with *err set. */
static uint32_t memo_push(struct lin_memo *m, uint64_t h1, uint64_t h2,
                          uint32_t state, const uint64_t *uset, int *err)
{
    if (m->n_entries == m->cap_entries) {
        size_t cap = m->cap_entries == 0 ? 1024 : (size_t)m->cap_entries * 2;
        if (cap >= UINT32_MAX ||
            memo_bytes(m, m->n_slots, cap) > m->bytes_max) {
            *err = ERR_TOO_BIG;
            return 0;
        }
        struct lin_memo_entry *entries =
            realloc(m->entries, cap * sizeof *entries);
        if (entries == NULL) {
            *err = ERR_NOMEM;
            return 0;
        }
        m->entries = entries;
        if (m->n_uwords > 0) {
            uint64_t *uwords = realloc(m->uwords, cap * m->n_uwords * 8);
            if (uwords == NULL) {
                *err = ERR_NOMEM;
                return 0;
            }
            m->uwords = uwords;
        }
        m->cap_entries = (uint32_t)cap;
    }
    uint32_t i = m->n_entries++;
    m->entries[i] = (struct lin_memo_entry){h1, h2, state, 0};
    if (m->n_uwords > 0) {
        memcpy(m->uwords + (size_t)i * m->n_uwords, uset, m->n_uwords * 8);
    }
    return i + 1;
}

/* Is entry i's unknown set a subset of uset? */
static bool memo_covers(const struct lin_memo *m, uint32_t i,
                        const uint64_t *uset)
{
    const uint64_t *mine = m->uwords + (size_t)i * m->n_uwords;
    for (uint32_t w = 0; w < m->n_uwords; w++) {
        if ((mine[w] & ~uset[w]) != 0) {
            return false;
        }
    }
    return true;
}

int lin_memo_visit(struct lin_memo *m, uint64_t h1, uint64_t h2, uint32_t state,
                   const uint64_t *uset, bool *fresh)
{
    ASSERT(m != NULL);
    ASSERT(fresh != NULL);
    *fresh = false;
    if ((m->n_keys + 1) * 2 > m->n_slots) {
        int rv = memo_grow_slots(m);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    uint32_t j = (uint32_t)h1 & (m->n_slots - 1);
    while (m->slots[j] != 0 &&
           !same_key(&m->entries[m->slots[j] - 1], h1, h2, state)) {
        j = (j + 1) & (m->n_slots - 1);
    }
    for (uint32_t e = m->slots[j]; e != 0; e = m->entries[e - 1].next) {
        if (memo_covers(m, e - 1, uset)) {
            return ERR_OK;
        }
    }
    int err = ERR_OK;
    uint32_t added = memo_push(m, h1, h2, state, uset, &err);
    if (added == 0) {
        return err;
    }
    m->n_keys += m->slots[j] == 0;
    m->entries[added - 1].next = m->slots[j];
    m->slots[j] = added;
    *fresh = true;
    return ERR_OK;
}
