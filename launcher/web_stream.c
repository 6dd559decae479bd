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

/* Under the lock: what a new reader gets first, in one go (the snapshot is
 * at most 1 + 2 * MEMBERS + EVENTS lines, each short, well below cap). */
static void stream_snapshot(const struct web_stream *s, char *buf, size_t cap,
                            size_t *len)
{
    if (s->meta != NULL) {
        stream_put(buf, cap, len, s->meta);
    }
    for (int i = 0; i < WEB_STREAM_MEMBERS; i++) {
        if (s->status[i] != NULL) {
            stream_put(buf, cap, len, s->status[i]);
        }
        if (s->fault[i] != NULL) {
            stream_put(buf, cap, len, s->fault[i]);
        }
    }
    uint32_t n =
        s->n_events < WEB_STREAM_EVENTS ? s->n_events : WEB_STREAM_EVENTS;
    for (uint32_t k = 0; k < n; k++) {
        const char *e = s->events[(s->n_events - n + k) % WEB_STREAM_EVENTS];
        if (e != NULL) {
            stream_put(buf, cap, len, e);
        }
    }
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
    if (!r->has_snapshot) {
        stream_snapshot(s, buf, cap, &len);
        r->has_snapshot = true;
        r->next_seq = s->seq;
    }
    if (len == 0 && r->next_seq == s->seq && !s->is_closed) {
        stream_wait(s, wait_ms);
    }
    if (s->is_closed) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    if (s->seq - r->next_seq > WEB_STREAM_LINES) {
        r->next_seq = s->seq - WEB_STREAM_LINES;
        stream_put(buf, cap, &len, "{\"t\":0,\"k\":\"skipped\"}");
    }
    while (
        r->next_seq < s->seq &&
        stream_put(buf, cap, &len, s->ring[r->next_seq % WEB_STREAM_LINES])) {
        r->next_seq++;
    }
    pthread_mutex_unlock(&s->lock);
    return (long)len;
}
