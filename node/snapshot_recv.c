/*
 * The follower's side of a snapshot transfer (see snapshot_recv.h): the
 * staged prefix, early chunks inside the window kept as ranges, and the
 * rules for which transfer a chunk belongs to. Pure: no I/O.
 */
#include "node/snapshot_recv.h"

#include <string.h>

#include "common/invariant.h"
#include "node/raft_bugs.h"

void snapshot_recv_init(struct snapshot_recv *s)
{
    memset(s, 0, sizeof *s);
}

void snapshot_recv_reset(struct snapshot_recv *s)
{
    s->is_active = false;
    s->next = 0;
    s->n_ahead = 0;
}

/* Sizes and offsets no correct leader sends. */
static bool chunk_is_malformed(const struct msg_snapshot *c)
{
    if (c->size == 0 || c->len == 0 || c->len > SNAPSHOT_CHUNK_MAX ||
        c->last_index == 0 || c->last_term == 0) {
        return true;
    }
    if (c->offset >= c->size || c->len > c->size - c->offset) {
        return true;
    }
    return c->done != (c->offset + c->len == c->size);
}

static bool is_same_transfer(const struct snapshot_recv *s, raft_term msg_term,
                             const struct msg_snapshot *c)
{
    if (RAFT_BUG(RAFT_BUG_SNAP_OLD_CHUNK)) {
        return s->is_active; /* The broken rule: any chunk continues it. */
    }
    return s->is_active && s->leader_term == msg_term &&
           s->index == c->last_index && s->term == c->last_term &&
           s->size == c->size;
}

/* Whether [offset, end) overlaps a range already held beyond next. */
static bool ahead_has(const struct snapshot_recv *s, uint64_t offset,
                      uint64_t end)
{
    for (uint32_t i = 0; i < s->n_ahead; i++) {
        if (offset < s->ahead[i].end && s->ahead[i].offset < end) {
            return true;
        }
    }
    return false;
}

int snapshot_recv_on_chunk(struct snapshot_recv *s, raft_term msg_term,
                           const struct msg_snapshot *c)
{
    if (chunk_is_malformed(c)) {
        s->n_dropped++;
        return SNAPSHOT_RECV_DROP;
    }
    if (!is_same_transfer(s, msg_term, c)) {
        if (s->is_active && msg_term < s->leader_term) {
            s->n_dropped++;
            return SNAPSHOT_RECV_DROP; /* An older leader's: abandoned. */
        }
        if (c->offset != 0) {
            return SNAPSHOT_RECV_REWIND; /* Start it from the beginning. */
        }
        s->n_restarted += s->is_active;
        snapshot_recv_reset(s);
        s->is_active = true;
        s->leader_term = msg_term;
        s->index = c->last_index;
        s->term = c->last_term;
        s->size = c->size;
    }
    uint64_t end = c->offset + c->len;
    if (end <= s->next) {
        return SNAPSHOT_RECV_ACK; /* A duplicate. */
    }
    if (c->offset < s->next || end > s->size) {
        s->n_dropped++;
        return SNAPSHOT_RECV_DROP; /* Straddles the prefix: another cut. */
    }
    if (end - s->next > SNAPSHOT_RECV_WINDOW_BYTES) {
        s->n_outside++;
        return SNAPSHOT_RECV_REWIND;
    }
    if (c->offset > s->next &&
        (ahead_has(s, c->offset, end) || s->n_ahead == SNAPSHOT_WINDOW_MAX)) {
        return SNAPSHOT_RECV_ACK; /* Have it, or no room: it comes again. */
    }
    return SNAPSHOT_RECV_STAGE;
}

void snapshot_recv_staged(struct snapshot_recv *s, const struct msg_snapshot *c)
{
    ASSERT(s->is_active);
    uint64_t end = c->offset + c->len;
    ASSERT(end <= s->size);
    if (c->offset > s->next) {
        ASSERT(s->n_ahead < SNAPSHOT_WINDOW_MAX);
        uint32_t at = s->n_ahead;
        while (at > 0 && s->ahead[at - 1].offset > c->offset) {
            s->ahead[at] = s->ahead[at - 1];
            at--;
        }
        s->ahead[at].offset = c->offset;
        s->ahead[at].end = end;
        s->n_ahead++;
        return;
    }
    ASSERT(c->offset <= s->next);
    if (end > s->next) {
        s->next = end;
    }
    /* Early ranges that now touch the prefix join it. */
    uint32_t k = 0;
    while (k < s->n_ahead && s->ahead[k].offset <= s->next) {
        if (s->ahead[k].end > s->next) {
            s->next = s->ahead[k].end;
        }
        k++;
    }
    memmove(s->ahead, s->ahead + k, (s->n_ahead - k) * sizeof *s->ahead);
    s->n_ahead -= k;
    ASSERT(s->next <= s->size);
}

bool snapshot_recv_is_start(const struct snapshot_recv *s,
                            const struct msg_snapshot *c)
{
    return s->is_active && c->offset == 0 && s->next == 0 && s->n_ahead == 0;
}

void snapshot_recv_resume(struct snapshot_recv *s, uint64_t staged)
{
    ASSERT(s->is_active);
    ASSERT(s->next == 0);
    ASSERT(s->n_ahead == 0);
    if (staged > 0 && staged <= s->size) {
        s->next = staged;
    }
}

uint64_t snapshot_recv_wanted(const struct snapshot_recv *s, raft_term msg_term,
                              const struct msg_snapshot *c)
{
    return is_same_transfer(s, msg_term, c) ? s->next : 0;
}

bool snapshot_recv_is_complete(const struct snapshot_recv *s)
{
    return s->is_active && s->next == s->size;
}
