/*
 * The page's line stream (launcher/web_stream.h): a ring of heap copies
 * under one mutex, a condition variable that wakes the connection threads,
 * and the latest status, fault and event lines kept for new readers. Never
 * blocks the pusher on a reader. Read launcher/web_http.c next.
 */
#include "launcher/web_stream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"

int web_stream_init(struct web_stream *s)
{
    memset(s, 0, sizeof(*s));
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        return ERR_IO;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&s->more, &attr);
    pthread_condattr_destroy(&attr);
    s->t0_ms = clock_now_ms();
    return rc == 0 ? ERR_OK : ERR_IO;
}

void web_stream_close(struct web_stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->is_closed = true;
    pthread_cond_broadcast(&s->more);
    pthread_mutex_unlock(&s->lock);
}

void web_stream_free(struct web_stream *s)
{
    for (size_t i = 0; i < WEB_STREAM_LINES; i++) {
        free(s->ring[i]);
    }
    for (size_t i = 0; i < WEB_STREAM_MEMBERS; i++) {
        free(s->status[i]);
        free(s->fault[i]);
    }
    for (size_t i = 0; i < WEB_STREAM_EVENTS; i++) {
        free(s->events[i]);
    }
    free(s->meta);
    pthread_cond_destroy(&s->more);
    pthread_mutex_destroy(&s->lock);
}

uint64_t web_stream_t(const struct web_stream *s)
{
    return clock_now_ms() - s->t0_ms;
}

/* Replaces *slot with copy (either may be NULL). */
static void stream_keep(char **slot, char *copy)
{
    free(*slot);
    *slot = copy;
}

/* The slot of member id (a free one the first time), or -1 when full. */
static int stream_member_slot(struct web_stream *s, raft_id id)
{
    for (int i = 0; i < WEB_STREAM_MEMBERS; i++) {
        if (s->ids[i] == id) {
            return i;
        }
    }
    for (int i = 0; i < WEB_STREAM_MEMBERS; i++) {
        if (s->ids[i] == 0) {
            s->ids[i] = id;
            return i;
        }
    }
    return -1;
}

/* Under the lock: the snapshot copies of a pushed line. */
static void stream_remember(struct web_stream *s, enum web_line_kind kind,
                            raft_id id, const char *line)
{
    int slot = kind == WEB_LINE_STATUS || kind == WEB_LINE_FAULT
                   ? stream_member_slot(s, id)
                   : -1;
    switch (kind) {
    case WEB_LINE_META:
        stream_keep(&s->meta, strdup(line));
        break;
    case WEB_LINE_STATUS:
        if (slot >= 0) {
            stream_keep(&s->status[slot], strdup(line));
        }
        break;
    case WEB_LINE_FAULT:
        if (slot >= 0) {
            stream_keep(&s->fault[slot], strdup(line));
        }
        break;
    case WEB_LINE_EVENT:
        stream_keep(&s->events[s->n_events % WEB_STREAM_EVENTS], strdup(line));
        s->n_events++;
        break;
    default:
        break;
    }
}

void web_stream_push(struct web_stream *s, enum web_line_kind kind, raft_id id,
                     const char *line)
{
    if (strlen(line) > WEB_STREAM_LINE_MAX) {
        return;
    }
    char *copy = strdup(line);
    if (copy == NULL) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    stream_remember(s, kind, id, line);
    stream_keep(&s->ring[s->seq % WEB_STREAM_LINES], copy);
    s->seq++;
    pthread_cond_broadcast(&s->more);
    pthread_mutex_unlock(&s->lock);
}

void web_stream_push_msg(struct web_stream *s, const char *msg_line,
                         uint64_t ago_ms)
{
    json_t *o = json_loads(msg_line, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    uint64_t t = web_stream_t(s);
    json_object_set_new(
        o, "t", json_integer((json_int_t)(t > ago_ms ? t - ago_ms : 0)));
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (line != NULL) {
        web_stream_push(s, WEB_LINE_OTHER, 0, line);
    }
    free(line);
}

/* Appends "data: LINE\n\n" when it fits. */
static bool stream_put(char *buf, size_t cap, size_t *len, const char *line)
{
    size_t n = strlen(line);
    if (*len + n + 8 > cap) {
        return false;
    }
    memcpy(buf + *len, "data: ", 6);
    memcpy(buf + *len + 6, line, n);
    memcpy(buf + *len + 6 + n, "\n\n", 2);
    *len += n + 8;
    return true;
}

/* Like stream_put, but a line too long for an empty buffer is dropped
 * (counted as sent) so that it cannot stall its reader forever. */
static bool stream_put_or_drop(char *buf, size_t cap, size_t *len,
                               const char *line)
{
    return stream_put(buf, cap, len, line) || *len == 0;
}

/* Under the lock: line k of the reader's snapshot (NULL: none), which is
 * the meta line (k = 0), each member's status and fault lines (k = 1 +
 * 2 * slot, + 1), then the last WEB_STREAM_EVENTS events that existed when
 * the snapshot began, oldest first (an event overwritten since is NULL). */
static const char *stream_snapshot_line(const struct web_stream *s,
                                        const struct web_stream_reader *r,
                                        uint32_t k)
{
    if (k == 0) {
        return s->meta;
    }
    k--;
    if (k < 2 * WEB_STREAM_MEMBERS) {
        return k % 2 == 0 ? s->status[k / 2] : s->fault[k / 2];
    }
    k -= 2 * WEB_STREAM_MEMBERS;
    uint32_t n = r->snap_events < WEB_STREAM_EVENTS ? r->snap_events
                                                    : WEB_STREAM_EVENTS;
    uint32_t e = r->snap_events - n + k; /* Absolute event number. */
    if (s->n_events - e > WEB_STREAM_EVENTS) {
        return NULL;
    }
    return s->events[e % WEB_STREAM_EVENTS];
}

/* Under the lock: as much of what a new reader gets first as fits in buf;
 * r->snap_next resumes it at the next read. The snapshot can pass a
 * connection's buffer (libmicrohttpd gives about 16 KiB: 16 members'
 * status and fault lines and 100 events do not fit), so it must resume
 * rather than drop the newest events. Live lines pushed meanwhile wait in
 * the ring from r->next_seq; meta, status and fault lines are read as they
 * are when sent, the newest. */
static void stream_snapshot(const struct web_stream *s,
                            struct web_stream_reader *r, char *buf, size_t cap,
                            size_t *len)
{
    uint32_t n_events =
        r->snap_events < WEB_STREAM_EVENTS ? r->snap_events : WEB_STREAM_EVENTS;
    uint32_t n_lines = 1 + 2 * WEB_STREAM_MEMBERS + n_events;
    while (r->snap_next < n_lines) {
        const char *line = stream_snapshot_line(s, r, r->snap_next);
        if (line != NULL && !stream_put_or_drop(buf, cap, len, line)) {
            return;
        }
        r->snap_next++;
    }
    r->has_snapshot = true;
}

/* Waits on the condition variable up to wait_ms (monotonic clock). */
static void stream_wait(struct web_stream *s, int wait_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->more, &s->lock, &ts);
}

long web_stream_read(struct web_stream *s, struct web_stream_reader *r,
                     char *buf, size_t cap, int wait_ms)
{
    size_t len = 0;
    pthread_mutex_lock(&s->lock);
    if (!r->is_in_snapshot) {
        r->is_in_snapshot = true;
        r->snap_next = 0;
        r->snap_events = s->n_events;
        r->next_seq = s->seq;
    }
    if (!r->has_snapshot) {
        stream_snapshot(s, r, buf, cap, &len);
    }
    if (len == 0 && r->next_seq == s->seq && !s->is_closed) {
        stream_wait(s, wait_ms);
    }
    if (s->is_closed) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    if (r->has_snapshot && s->seq - r->next_seq > WEB_STREAM_LINES) {
        r->next_seq = s->seq - WEB_STREAM_LINES;
        stream_put(buf, cap, &len, "{\"t\":0,\"k\":\"skipped\"}");
    }
    while (r->has_snapshot && r->next_seq < s->seq &&
           stream_put_or_drop(buf, cap, &len,
                              s->ring[r->next_seq % WEB_STREAM_LINES])) {
        r->next_seq++;
    }
    pthread_mutex_unlock(&s->lock);
    return (long)len;
}
