/*
 * Where the dashboard's facts come from: a status poll of every member
 * (common/status_poll.h, DASH_POLL_MS apart, late answers to the last few
 * polls still count), the
 * pid files for nodes that do not answer, and the launcher's event stream
 * ("events" on DIR/launcher.sock; replayed recent events, then live ones).
 * Without a launcher it derives events itself with ev_tracker. Driven by
 * the caller's poll() loop; used by launcher/dashboard.c and `watch`'s plain
 * and --dump modes (launcher/cmd_watch.c). Read launcher/dash_source.c
 * next.
 */
#ifndef RAFT_LAUNCHER_DASH_SOURCE_H
#define RAFT_LAUNCHER_DASH_SOURCE_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/status_poll.h"
#include "launcher/cluster_dir.h"
#include "launcher/dash_model.h"
#include "launcher/events.h"

#define DASH_POLL_MS 50        /* Status requests to every member. */
#define DASH_ROUND_MS 100      /* Local event derivation, no launcher. */
#define DASH_UP_MS 300         /* Answered within this: up. */
#define DASH_PID_CHECK_MS 500  /* Pid files of silent nodes. */
#define DASH_RECONNECT_MS 1000 /* Retry the launcher's event stream. */
#define DASH_STREAM_BUF 8192
#define DASH_SOURCE_FDS 2

/* Receives each event (from the launcher or derived), in order. */
typedef void (*dash_event_cb)(void *ctx, const struct ev *e);

struct dash_source_node {
    bool has_reply;
    uint64_t rx_ms; /* Monotonic time of the last answer. */
    raft_term term;
    struct msg_status_reply st;
    bool dead;     /* The launcher reported its death; cleared
                                 by the next answer. */
    long file_pid; /* From its pid file, for silent nodes. */
    bool is_damaged; /* cdir_node_damaged, for nodes that do not answer. */
};

struct dash_source {
    struct conf *conf;       /* Borrowed; follows the configuration. */
    const struct cdir *dir;  /* Borrowed. */
    dash_event_cb on_event;
    void *ctx;
    struct status_poll poll; /* Its fd is -1 when closed. */
    uint64_t poll_next_ms;
    uint64_t pid_next_ms;
    struct dash_source_node nodes[RAFT_NODES_MAX];
    /* The launcher's stream. */
    int stream_fd;   /* -1 when not connected. */
    bool subscribed; /* Its "ok events" arrived. */
    bool ever_subscribed;
    uint64_t stream_retry_ms;
    uint64_t stream_last_wall_ms;
    size_t stream_len;
    char stream_buf[DASH_STREAM_BUF];
    /* Derived events when there is no stream. */
    struct ev_tracker tracker;
    uint64_t round_next_ms;
    uint64_t round_start_ms;
    uint64_t polls_sent;
    uint64_t replies;
    /* The leader's configuration last followed (status reply config). */
    uint32_t config_len;
    uint8_t config[MEMBERSHIP_TEXT_MAX];
};

/* Opens the status socket; the stream connects on the first step. conf and
 * dir are borrowed; conf's members follow the configuration the leader
 * has in force (its status reply's config, dash_members_follow): a member
 * added while watch runs gets polled and a panel, a removed one goes.
 * Errors: ERR_NOMEM, ERR_IO, ERR_INVALID (errmsg). */
int dash_source_open(struct dash_source *src, struct conf *conf,
                     const struct cdir *dir, dash_event_cb on_event, void *ctx,
                     char errmsg[ERRMSG_LEN]);
void dash_source_close(struct dash_source *src);

/* The descriptors to poll for POLLIN (at most DASH_SOURCE_FDS); returns
 * how many were written. */
int dash_source_fds(const struct dash_source *src, struct pollfd *out);

/* When dash_source_step() next has timed work. */
uint64_t dash_source_next_ms(const struct dash_source *src);

/* Reads what arrived, sends due polls, reconnects the stream, derives
 * events; now_ms is monotonic, wall_ms wall-clock time. */
void dash_source_step(struct dash_source *src, uint64_t now_ms,
                      uint64_t wall_ms);

/* Fills v->nodes and v->from_launcher for the moment now_ms. */
void dash_source_view(const struct dash_source *src, uint64_t now_ms,
                      struct dash_view *v);

/* Index into conf->members of the answering leader with the highest term,
 * or -1. */
int dash_source_leader(const struct dash_source *src, uint64_t now_ms);

/* Bit i set for each member i that answered recently. */
uint32_t dash_source_up_mask(const struct dash_source *src, uint64_t now_ms);

/* Wall-clock milliseconds since the epoch. */
uint64_t dash_wall_ms(void);

#endif
