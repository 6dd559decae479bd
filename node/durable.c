/*
 * The bookkeeping behind node/durable.h: counters of writes issued, asked
 * for and synced, and a ring of held messages tagged with the write count
 * they wait for. Storage syncs a sequential file (SQLite's WAL), so a sync
 * asked for after write k makes writes 1..k durable: a counter is enough.
 * Pure. Read node/replica.c next.
 */
#include "node/durable.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

#define DURABLE_HELD_MIN 16

void durable_init(struct durable *d, raft_index last_index)
{
    ASSERT(d != NULL);
    memset(d, 0, sizeof *d);
    d->last_index = last_index;
}

void durable_free(struct durable *d)
{
    if (d == NULL) {
        return;
    }
    free(d->held);
    memset(d, 0, sizeof *d);
}

void durable_wrote(struct durable *d, const struct raft_ready *rd)
{
    ASSERT(d != NULL);
    ASSERT(rd != NULL);
    if (rd->truncate_from != 0) {
        ASSERT(rd->truncate_from >= 1);
        d->last_index = rd->truncate_from - 1;
        if (d->asked != 0 &&
            (d->trunc_low == 0 || rd->truncate_from < d->trunc_low)) {
            d->trunc_low = rd->truncate_from;
        }
    }
    if (rd->n_entries > 0) {
        d->last_index = rd->entries_first_index + rd->n_entries - 1;
    }
    if (rd->has_hard_state) {
        d->term_written = rd->term;
    }
    d->written++;
}

bool durable_is_pending(const struct durable *d)
{
    return d->written > d->synced;
}

static int held_grow(struct durable *d)
{
    uint32_t cap = d->held_cap != 0 ? d->held_cap * 2 : DURABLE_HELD_MIN;
    struct durable_held *h = malloc((size_t)cap * sizeof *h);
    if (h == NULL) {
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < d->n_held; i++) {
        h[i] = d->held[(d->held_head + i) % d->held_cap];
    }
    free(d->held);
    d->held = h;
    d->held_cap = cap;
    d->held_head = 0;
    return ERR_OK;
}

int durable_hold(struct durable *d, const struct raft_msg *msg)
{
    ASSERT(d != NULL);
    ASSERT(msg != NULL);
    ASSERT(msg->type != MSG_APPEND && msg->type != MSG_CLIENT_REPLY &&
           msg->type != MSG_STATUS_REPLY);
    if (d->n_held == d->held_cap && held_grow(d) != ERR_OK) {
        return ERR_NOMEM;
    }
    struct durable_held *h = &d->held[(d->held_head + d->n_held) % d->held_cap];
    h->seq = d->written;
    h->msg = *msg;
    d->n_held++;
    return ERR_OK;
}

bool durable_should_ask(const struct durable *d)
{
    return d->asked == 0 && d->written > d->synced;
}

void durable_asked(struct durable *d)
{
    ASSERT(durable_should_ask(d));
    d->asked = d->written;
    d->ask_index = d->last_index;
    d->ask_term = d->term_written;
    d->trunc_low = 0;
}

raft_index durable_done(struct durable *d)
{
    ASSERT(d->asked != 0);
    d->synced = d->asked;
    d->asked = 0;
    d->synced_term = d->ask_term;
    raft_index index = d->ask_index;
    if (d->trunc_low != 0 && d->trunc_low - 1 < index) {
        index = d->trunc_low - 1;
    }
    d->trunc_low = 0;
    return index;
}

bool durable_release(struct durable *d, struct raft_msg *out)
{
    if (d->n_held == 0) {
        return false;
    }
    struct durable_held *h = &d->held[d->held_head];
    if (h->seq > d->synced) {
        return false;
    }
    *out = h->msg;
    d->held_head = (d->held_head + 1) % d->held_cap;
    d->n_held--;
    return true;
}

raft_term durable_synced_term(const struct durable *d)
{
    return d->synced_term;
}
