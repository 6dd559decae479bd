/*
 * Fault injection decisions: partitions, loss, duplication, delay, jitter.
 * Delayed datagrams wait in a bounded min-heap ordered by due time (then
 * FIFO); jitter gives copies different due times, which reorders them. No
 * I/O and no clock here: node/node.c sends what the verdicts say.
 * Read node/node.c next.
 */
#include "node/netem.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

int netem_init(struct netem *n, uint64_t seed)
{
    ASSERT(n != NULL);
    memset(n, 0, sizeof *n);
    rng_init(&n->rng, seed);
    n->queue = calloc(NETEM_QUEUE_MAX, sizeof *n->queue);
    if (n->queue == NULL) {
        return ERR_NOMEM;
    }
    return ERR_OK;
}

void netem_close(struct netem *n)
{
    if (n == NULL || n->queue == NULL) {
        return;
    }
    for (uint32_t i = 0; i < n->n_queued; i++) {
        free(n->queue[i].buf);
    }
    free(n->queue);
    n->queue = NULL;
    n->n_queued = 0;
    n->queued_bytes = 0;
}

int netem_apply(struct netem *n, const struct msg_fault *fault)
{
    ASSERT(n != NULL);
    ASSERT(fault != NULL);
    switch (fault->action) {
    case FAULT_HEAL:
        n->n_blocked = 0;
        n->loss_ppm = 0;
        n->dup_ppm = 0;
        n->delay_ms = 0;
        n->jitter_ms = 0;
        return ERR_OK;
    case FAULT_PARTITION:
        if (fault->n_blocked > RAFT_NODES_MAX) {
            return ERR_INVALID;
        }
        n->n_blocked = fault->n_blocked;
        memcpy(n->blocked, fault->blocked,
               fault->n_blocked * sizeof fault->blocked[0]);
        return ERR_OK;
    case FAULT_NETEM:
        if (fault->loss_ppm > 1000000u || fault->dup_ppm > 1000000u ||
            fault->delay_ms > NETEM_DELAY_MS_MAX ||
            fault->jitter_ms > NETEM_DELAY_MS_MAX) {
            return ERR_INVALID;
        }
        n->loss_ppm = fault->loss_ppm;
        n->dup_ppm = fault->dup_ppm;
        n->delay_ms = fault->delay_ms;
        n->jitter_ms = fault->jitter_ms;
        return ERR_OK;
    default:
        return ERR_INVALID;
    }
}

bool netem_is_active(const struct netem *n)
{
    return n->n_blocked > 0 || n->loss_ppm > 0 || n->dup_ppm > 0 ||
           n->delay_ms > 0 || n->jitter_ms > 0;
}

bool netem_blocks(const struct netem *n, raft_id id)
{
    for (uint32_t i = 0; i < n->n_blocked; i++) {
        if (n->blocked[i] == id) {
            return true;
        }
    }
    return false;
}

/* --- The delay heap --------------------------------------------------- */

static bool item_before(const struct netem_item *a, const struct netem_item *b)
{
    if (a->due_ms != b->due_ms) {
        return a->due_ms < b->due_ms;
    }
    return a->order < b->order;
}

static void heap_swap(struct netem *n, uint32_t i, uint32_t j)
{
    struct netem_item t = n->queue[i];
    n->queue[i] = n->queue[j];
    n->queue[j] = t;
}

static void heap_up(struct netem *n, uint32_t i)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!item_before(&n->queue[i], &n->queue[parent])) {
            break;
        }
        heap_swap(n, i, parent);
        i = parent;
    }
}

static void heap_down(struct netem *n, uint32_t i)
{
    for (;;) {
        uint32_t least = i;
        uint32_t l = 2 * i + 1;
        uint32_t r = l + 1;
        if (l < n->n_queued && item_before(&n->queue[l], &n->queue[least])) {
            least = l;
        }
        if (r < n->n_queued && item_before(&n->queue[r], &n->queue[least])) {
            least = r;
        }
        if (least == i) {
            return;
        }
        heap_swap(n, i, least);
        i = least;
    }
}

/* Queues a copy due at due_ms. Returns false when the queue is full or out
 * of memory (the copy is then lost, like a full router queue). */
static bool enqueue(struct netem *n, uint64_t due_ms, raft_id to,
                    const uint8_t *buf, size_t len)
{
    if (n->n_queued >= NETEM_QUEUE_MAX ||
        n->queued_bytes + len > NETEM_QUEUE_BYTES_MAX) {
        return false;
    }
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        return false;
    }
    memcpy(copy, buf, len);
    struct netem_item *it = &n->queue[n->n_queued];
    it->due_ms = due_ms;
    it->order = n->next_order++;
    it->to = to;
    it->len = len;
    it->buf = copy;
    n->n_queued++;
    n->queued_bytes += len;
    heap_up(n, n->n_queued - 1);
    return true;
}

void netem_on_send(struct netem *n, uint64_t now_ms, raft_id to,
                   const uint8_t *buf, size_t len, struct netem_verdict *out)
{
    ASSERT(n != NULL);
    ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    if (netem_blocks(n, to)) {
        out->n_dropped = 1;
        return;
    }
    uint32_t copies = 1;
    if (n->dup_ppm > 0 && rng_chance_ppm(&n->rng, n->dup_ppm)) {
        copies = 2;
    }
    for (uint32_t c = 0; c < copies; c++) {
        if (n->loss_ppm > 0 && rng_chance_ppm(&n->rng, n->loss_ppm)) {
            out->n_dropped++;
            continue;
        }
        uint64_t delay = n->delay_ms;
        if (n->jitter_ms > 0) {
            delay += rng_range(&n->rng, 0, n->jitter_ms);
        }
        if (delay == 0) {
            out->n_now++;
        } else if (enqueue(n, now_ms + delay, to, buf, len)) {
            out->n_queued++;
        } else {
            out->n_dropped++;
        }
    }
}

uint64_t netem_next_due(const struct netem *n)
{
    return n->n_queued > 0 ? n->queue[0].due_ms : UINT64_MAX;
}

bool netem_pop_due(struct netem *n, uint64_t now_ms, raft_id *to, uint8_t *buf,
                   size_t cap, size_t *len)
{
    ASSERT(n != NULL);
    for (uint32_t guard = 0; guard < NETEM_QUEUE_MAX; guard++) {
        if (n->n_queued == 0 || n->queue[0].due_ms > now_ms) {
            return false;
        }
        struct netem_item top = n->queue[0];
        n->n_queued--;
        n->queue[0] = n->queue[n->n_queued];
        memset(&n->queue[n->n_queued], 0, sizeof n->queue[0]);
        if (n->n_queued > 0) {
            heap_down(n, 0);
        }
        n->queued_bytes -= top.len;
        if (top.len <= cap) {
            memcpy(buf, top.buf, top.len);
            *to = top.to;
            *len = top.len;
            free(top.buf);
            return true;
        }
        free(top.buf);
    }
    return false;
}
