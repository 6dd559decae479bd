/*
 * The per-wakeup outbox of common/outbox.h: a few destination slots, each a
 * byte buffer of queued datagrams, sent as one datagram or one batch. Not
 * pure (sends). Read common/random.h next.
 */
#include "common/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/invariant.h"
#include "common/udp.h"

/* A batch of a full queue: the items plus the batch's own framing. */
#define OUTBOX_TX_BYTES                                                        \
    (OUTBOX_BYTES + WIRE_BATCH_OVERHEAD +                                      \
     WIRE_BATCH_MAX * WIRE_BATCH_ITEM_OVERHEAD)

void outbox_init(struct outbox *o, int fd, uint64_t cluster_id, raft_id from)
{
    ASSERT(o != NULL);
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->cluster_id = cluster_id;
    o->from = from;
}

void outbox_free(struct outbox *o)
{
    if (o == NULL) {
        return;
    }
    for (uint32_t i = 0; i < OUTBOX_DESTS; i++) {
        free(o->dests[i].buf);
        o->dests[i].buf = NULL;
    }
    free(o->tx);
    o->tx = NULL;
    o->n_dests = 0;
}

static void send_datagram(struct outbox *o, const struct raft_addr *to,
                          const uint8_t *buf, size_t len)
{
    int rv = udp_send(o->fd, to, buf, len);
    o->n_datagrams += rv == ERR_OK;
    o->n_again += rv == ERR_AGAIN;
}

/* Sends one destination's queue: its only datagram as it is, or a batch
 * of them. A batch that cannot be built (no memory) goes one by one. */
static void dest_send(struct outbox *o, struct outbox_dest *d)
{
    if (d->n == 1) {
        send_datagram(o, &d->to, d->buf + d->off[0], d->len[0]);
    } else if (d->n > 1) {
        const uint8_t *items[WIRE_BATCH_MAX];
        for (uint32_t i = 0; i < d->n; i++) {
            items[i] = d->buf + d->off[i];
        }
        if (o->tx == NULL) {
            o->tx = malloc(OUTBOX_TX_BYTES);
        }
        size_t len = 0;
        if (o->tx != NULL &&
            wire_batch_encode(o->cluster_id, o->from, RAFT_ID_NONE, items,
                              d->len, d->n, o->tx, OUTBOX_TX_BYTES,
                              &len) == ERR_OK) {
            send_datagram(o, &d->to, o->tx, len);
        } else {
            for (uint32_t i = 0; i < d->n; i++) {
                send_datagram(o, &d->to, items[i], d->len[i]);
            }
        }
    }
    d->n = 0;
    d->used = 0;
}

void outbox_send(struct outbox *o)
{
    ASSERT(o != NULL);
    for (uint32_t i = 0; i < o->n_dests; i++) {
        dest_send(o, &o->dests[i]);
    }
    o->n_dests = 0;
}

/* The slot queuing for `to`, a fresh one, or NULL without memory. */
static struct outbox_dest *dest_for(struct outbox *o,
                                    const struct raft_addr *to)
{
    for (uint32_t i = 0; i < o->n_dests; i++) {
        if (udp_addr_equal(&o->dests[i].to, to)) {
            return &o->dests[i];
        }
    }
    if (o->n_dests == OUTBOX_DESTS) {
        outbox_send(o); /* Many destinations: the rest go now. */
    }
    struct outbox_dest *d = &o->dests[o->n_dests];
    if (d->buf == NULL && (d->buf = malloc(OUTBOX_BYTES)) == NULL) {
        return NULL;
    }
    d->to = *to;
    d->n = 0;
    d->used = 0;
    o->n_dests++;
    return d;
}

/* Whether a batch of what d holds and len more bytes stays within
 * OUTBOX_BYTES of items and --max-datagram (udp_max_datagram) on the
 * wire, tag envelope and batch overheads included. */
static bool batch_fits(const struct outbox_dest *d, size_t len)
{
    size_t max = udp_max_datagram();
    size_t fixed = AUTH_HEADER_BYTES + WIRE_BATCH_OVERHEAD;
    size_t items =
        (size_t)d->used + len + (size_t)(d->n + 1) * WIRE_BATCH_ITEM_OVERHEAD;
    return d->used + len <= OUTBOX_BYTES && max > fixed && items <= max - fixed;
}

void outbox_add(struct outbox *o, const struct raft_addr *to,
                const uint8_t *dgram, size_t len)
{
    ASSERT(o != NULL && to != NULL && dgram != NULL);
    ASSERT(len <= RAFT_DATAGRAM_MAX);
    static const struct outbox_dest empty = {.n = 0, .used = 0};
    struct outbox_dest *d = batch_fits(&empty, len) ? dest_for(o, to) : NULL;
    if (d == NULL) {
        send_datagram(o, to, dgram, len);
        return;
    }
    if (d->n == WIRE_BATCH_MAX || !batch_fits(d, len)) {
        dest_send(o, d);
    }
    d->off[d->n] = d->used;
    d->len[d->n] = (uint32_t)len;
    memcpy(d->buf + d->used, dgram, len);
    d->used += (uint32_t)len;
    d->n++;
}
