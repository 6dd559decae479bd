/*
 * The leader's side of a snapshot transfer (see snapshot_send.h): a window
 * over a byte stream, acknowledged by contiguous prefix, resent from that
 * prefix on a timeout or when the receiver rewinds. Pure: no I/O.
 */
#include "node/snapshot_send.h"

#include <string.h>

#include "common/invariant.h"

#define SNAPSHOT_TIMEOUT_DEFAULT_MS 200

void snapshot_send_start(struct snapshot_send *s,
                         const struct snapshot_send_config *config,
                         raft_id peer, raft_term leader_term, raft_index index,
                         raft_term term, uint64_t size, uint64_t now_ms)
{
    ASSERT(size >= 1);
    ASSERT(index > 0);
    ASSERT(config->chunk_bytes <= SNAPSHOT_CHUNK_MAX);
    ASSERT(config->window <= SNAPSHOT_WINDOW_MAX);
    memset(s, 0, sizeof *s);
    s->config = *config;
    if (s->config.chunk_bytes == 0) {
        s->config.chunk_bytes = SNAPSHOT_CHUNK_MAX;
    }
    if (s->config.window == 0) {
        s->config.window = SNAPSHOT_WINDOW_MAX;
    }
    if (s->config.timeout_ms == 0) {
        s->config.timeout_ms = SNAPSHOT_TIMEOUT_DEFAULT_MS;
    }
    s->is_active = true;
    s->peer = peer;
    s->leader_term = leader_term;
    s->index = index;
    s->term = term;
    s->size = size;
    s->progress_ms = now_ms;
}

void snapshot_send_abandon(struct snapshot_send *s)
{
    s->is_active = false;
}

bool snapshot_send_next(struct snapshot_send *s, uint64_t *offset,
                        uint32_t *len)
{
    if (!s->is_active || s->sent >= s->size) {
        return false;
    }
    uint64_t window_end =
        s->acked + (uint64_t)s->config.window * s->config.chunk_bytes;
    if (s->sent >= window_end) {
        return false;
    }
    uint64_t n = s->size - s->sent;
    if (n > s->config.chunk_bytes) {
        n = s->config.chunk_bytes;
    }
    *offset = s->sent;
    *len = (uint32_t)n;
    s->sent += n;
    ASSERT(s->sent <= s->size);
    return true;
}

int snapshot_send_on_reply(struct snapshot_send *s, raft_term msg_term,
                           raft_id from, const struct msg_snapshot_reply *reply,
                           uint64_t now_ms)
{
    if (!s->is_active || from != s->peer || msg_term != s->leader_term ||
        reply->last_index != s->index || reply->last_term != s->term) {
        return SNAPSHOT_SEND_IGNORED;
    }
    s->is_heard = true;
    if (reply->done) {
        s->is_active = false;
        return SNAPSHOT_SEND_DONE;
    }
    if (reply->offset > s->size) {
        return SNAPSHOT_SEND_IGNORED; /* No correct receiver says this. */
    }
    if (!reply->success) {
        /* The receiver lost what it had (a restart) or saw a chunk past
         * its window: resend from what it wants. */
        s->acked = reply->offset;
        s->sent = reply->offset;
        s->progress_ms = now_ms;
        return SNAPSHOT_SEND_PROGRESS;
    }
    if (reply->offset <= s->acked) {
        return SNAPSHOT_SEND_IGNORED; /* A duplicate or reordered ack. */
    }
    s->acked = reply->offset;
    if (s->sent < s->acked) {
        s->sent = s->acked;
    }
    s->progress_ms = now_ms;
    return SNAPSHOT_SEND_PROGRESS;
}

void snapshot_send_tick(struct snapshot_send *s, uint64_t now_ms)
{
    if (!s->is_active || now_ms < snapshot_send_deadline(s)) {
        return;
    }
    s->sent = s->acked;
    if (s->sent >= s->size) {
        /* All acknowledged but not the install: the last chunk again
         * asks for the final answer. */
        s->sent = (s->size - 1) / s->config.chunk_bytes * s->config.chunk_bytes;
    }
    s->progress_ms = now_ms;
    s->n_resends++;
}

uint64_t snapshot_send_deadline(const struct snapshot_send *s)
{
    if (!s->is_active) {
        return UINT64_MAX;
    }
    return s->progress_ms + s->config.timeout_ms;
}
