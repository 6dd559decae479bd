/*
 * The web page's stream (launcher/web_http.c serves it as Server-Sent
 * Events): JSON lines of the shared recording format (docs/WEB.md), pushed
 * by the main loop and read by one thread per connection. A new reader first
 * gets the meta line, each member's latest status and fault lines and the
 * recent events, then every line pushed after it. Thread-safe; bounded: a
 * reader that falls more than WEB_STREAM_LINES behind skips ahead (and is
 * told so with a trace_dropped-like "skipped" line). Read launcher/web_http.h
 * next.
 */
#ifndef RAFT_LAUNCHER_WEB_STREAM_H
#define RAFT_LAUNCHER_WEB_STREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/types.h"

#define WEB_STREAM_LINES 4096 /* Lines kept for readers that lag. */
#define WEB_STREAM_EVENTS 100 /* Recent events a new reader gets. */
#define WEB_STREAM_LINE_MAX 8192
#define WEB_STREAM_MEMBERS RAFT_NODES_MAX

struct web_stream {
    pthread_mutex_t lock;
    pthread_cond_t more;
    bool is_closed;
    uint64_t seq; /* Lines pushed so far; line s is ring[s % LINES]. */
    char *ring[WEB_STREAM_LINES];
    char *meta;
    raft_id ids[WEB_STREAM_MEMBERS];
    char *status[WEB_STREAM_MEMBERS]; /* Latest per member. */
    char *fault[WEB_STREAM_MEMBERS];
    char *events[WEB_STREAM_EVENTS]; /* Recent events, a ring. */
    uint32_t n_events;
    uint64_t t0_ms; /* Monotonic time of "t":0. */
};

/* Where one reader is: its snapshot (which may take several reads when the
 * caller's buffer is small), then seq. Zeroed before the first read. */
struct web_stream_reader {
    bool has_snapshot;    /* The whole snapshot is sent. */
    bool is_in_snapshot;  /* Begun: snap_next and snap_events are set. */
    uint32_t snap_next;   /* Next snapshot line (see stream_snapshot). */
    uint32_t snap_events; /* n_events when the snapshot began. */
    uint64_t next_seq;
};

int web_stream_init(struct web_stream *s);
void web_stream_close(struct web_stream *s); /* Readers see the end. */
void web_stream_free(struct web_stream *s);

/* Milliseconds since the stream began: the "t" of a line pushed now. */
uint64_t web_stream_t(const struct web_stream *s);

/* Kinds the stream keeps for new readers. */
enum web_line_kind {
    WEB_LINE_OTHER = 0, /* Only forwarded. */
    WEB_LINE_META,
    WEB_LINE_STATUS, /* Latest per member id. */
    WEB_LINE_FAULT,  /* Latest per member id. */
    WEB_LINE_EVENT   /* The last WEB_STREAM_EVENTS. */
};

/* Pushes one JSON line (no newline; copied) of the given kind; id names the
 * member of a status or fault line. Lines longer than WEB_STREAM_LINE_MAX
 * are dropped. */
void web_stream_push(struct web_stream *s, enum web_line_kind kind, raft_id id,
                     const char *line);

/* THE hook for the message trace (launcher/trace_source.c): one "msg" line
 * of the shared format, e.g. {"t":12,"k":"msg","from":1,"to":2,...}, sent
 * ago_ms before now; its "t" is rewritten onto this stream's clock
 * (web_stream_t() - ago_ms) and the line forwarded to every page.
 * Thread-safe. A line that is not a JSON object is dropped. */
void web_stream_push_msg(struct web_stream *s, const char *msg_line,
                         uint64_t ago_ms);

/* Writes what the reader has not seen yet into buf as SSE "data:" records,
 * whole lines only, waiting up to wait_ms for a first one; what does not fit
 * comes in the next reads, the snapshot included (a line longer than cap is
 * dropped). Returns the bytes written (0: nothing new in time), or -1 once
 * the stream is closed. */
long web_stream_read(struct web_stream *s, struct web_stream_reader *r,
                     char *buf, size_t cap, int wait_ms);

#endif
