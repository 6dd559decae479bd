/*
 * The dashboard's inputs (launcher/dash_source.h): status polls over UDP,
 * pid files, and the launcher's event stream on DIR/launcher.sock, with
 * ev_tracker standing in for the launcher when there is none. Everything is
 * non-blocking; the caller's loop (launcher/dashboard.c) decides when to
 * step. Read launcher/dash_model.h next.
 */
#include "launcher/dash_source.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/invariant.h"
#include "common/membership.h"
#include "common/udp.h"
#include "launcher/supervisor.h"

#define DASH_FIRST_ROUND_MS 300  /* Time for the stream to subscribe. */
#define DASH_RETRY_OLD_MS 5000   /* A launcher without "events". */
#define DASH_POLLS_KEPT 4        /* Polls whose late answers still count. */
#define DASH_DEATH_FRESH_MS 2000 /* A replayed older death marks nothing. */

uint64_t dash_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The status poll over conf's members. Errors: as status_poll_init, and
 * an address that does not resolve (errmsg). */
static int source_poll_open(struct dash_source *src, char errmsg[ERRMSG_LEN])
{
    const struct conf *conf = src->conf;
    struct raft_addr addrs[RAFT_NODES_MAX];
    for (uint32_t i = 0; i < conf->n_members; i++) {
        int rc = udp_resolve(conf->members[i].host, conf->members[i].port,
                             &addrs[i], errmsg);
        if (rc != ERR_OK) {
            return rc;
        }
    }
    return status_poll_init(&src->poll, conf, addrs, DASH_POLLS_KEPT, errmsg);
}

int dash_source_open(struct dash_source *src, struct conf *conf,
                     const struct cdir *dir, dash_event_cb on_event, void *ctx,
                     char errmsg[ERRMSG_LEN])
{
    ASSERT(conf->n_members > 0 && conf->n_members <= RAFT_NODES_MAX);
    memset(src, 0, sizeof(*src));
    src->conf = conf;
    src->dir = dir;
    src->on_event = on_event;
    src->ctx = ctx;
    src->poll.fd = -1;
    src->stream_fd = -1;
    ev_tracker_init(&src->tracker, conf, true);
    return source_poll_open(src, errmsg);
}

void dash_source_close(struct dash_source *src)
{
    status_poll_close(&src->poll);
    if (src->stream_fd >= 0) {
        close(src->stream_fd);
    }
    src->stream_fd = -1;
}

int dash_source_fds(const struct dash_source *src, struct pollfd *out)
{
    int n = 0;
    out[n++] = (struct pollfd){.fd = src->poll.fd, .events = POLLIN};
    if (src->stream_fd >= 0) {
        out[n++] = (struct pollfd){.fd = src->stream_fd, .events = POLLIN};
    }
    ASSERT(n <= DASH_SOURCE_FDS);
    return n;
}

uint64_t dash_source_next_ms(const struct dash_source *src)
{
    uint64_t next = src->poll_next_ms;
    if (src->pid_next_ms < next) {
        next = src->pid_next_ms;
    }
    if (!src->subscribed && src->round_next_ms < next) {
        next = src->round_next_ms;
    }
    if (src->stream_fd < 0 && src->stream_retry_ms < next) {
        next = src->stream_retry_ms;
    }
    return next;
}

/* --- Status polls ------------------------------------------------------- */

/* One status request to every member (down ones too: a restarted node is
 * seen at once). */
static void source_poll(struct dash_source *src, uint64_t now_ms)
{
    uint32_t all = (1u << src->conf->n_members) - 1u;
    status_poll_next_round(&src->poll);
    src->polls_sent += status_poll_send(&src->poll, all);
    src->poll_next_ms = now_ms + DASH_POLL_MS;
}

/* What source_on_reply needs. */
struct source_recv_ctx {
    struct dash_source *src;
    uint64_t now_ms;
};

/* Keeps member i's answer to one of the last few polls. */
static void source_on_reply(void *ctx, uint32_t i, raft_term term,
                            const struct msg_status_reply *reply)
{
    const struct source_recv_ctx *r = ctx;
    struct dash_source_node *n = &r->src->nodes[i];
    n->has_reply = true;
    n->rx_ms = r->now_ms;
    n->term = term;
    n->st = *reply;
    n->dead = false;
}

static void source_recv(struct dash_source *src, uint64_t now_ms)
{
    struct source_recv_ctx r = {.src = src, .now_ms = now_ms};
    src->replies += status_poll_recv(&src->poll, source_on_reply, &r);
}

/* Pid files of the members that do not answer. */
static void source_check_pids(struct dash_source *src, uint64_t now_ms)
{
    for (uint32_t i = 0; i < src->conf->n_members; i++) {
        struct dash_source_node *n = &src->nodes[i];
        if (n->has_reply && !n->dead && now_ms - n->rx_ms <= DASH_UP_MS) {
            continue;
        }
        n->file_pid =
            (long)cdir_node_running(src->dir, src->conf->members[i].id);
        n->is_damaged = n->file_pid == 0 &&
                        cdir_node_damaged(src->dir, src->conf->members[i].id);
    }
    src->pid_next_ms = now_ms + DASH_PID_CHECK_MS;
}

/* --- The launcher's event stream ---------------------------------------- */

static void stream_lost(struct dash_source *src, uint64_t now_ms,
                        uint64_t retry_ms)
{
    if (src->stream_fd >= 0) {
        close(src->stream_fd);
    }
    src->stream_fd = -1;
    src->stream_len = 0;
    src->stream_retry_ms = now_ms + retry_ms;
    if (src->subscribed) {
        /* Derive events from here on, from a fresh baseline. */
        ev_tracker_init(&src->tracker, src->conf, true);
        src->round_start_ms = now_ms;
        src->round_next_ms = now_ms + DASH_ROUND_MS;
    }
    src->subscribed = false;
}

/* Connects to DIR/launcher.sock and asks for its events. */
static void stream_connect(struct dash_source *src, uint64_t now_ms)
{
    struct sockaddr_un sun;
    char errmsg[ERRMSG_LEN];
    src->stream_retry_ms = now_ms + DASH_RECONNECT_MS;
    if (supervisor_sock_addr(src->dir, &sun, errmsg) != ERR_OK) {
        src->stream_retry_ms = UINT64_MAX; /* The path can never work. */
        return;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return;
    }
    static const char req[] = "events\n";
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
        send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
            (ssize_t)(sizeof(req) - 1)) {
        close(fd);
        return;
    }
    src->stream_fd = fd;
    src->stream_len = 0;
}

/* One line of the stream: "ok events", then "ev ..." lines. */
static void stream_on_line(struct dash_source *src, const char *line,
                           uint64_t now_ms, uint64_t wall_ms)
{
    if (!src->subscribed) {
        if (strcmp(line, "ok events") != 0) {
            /* An older launcher without the event stream. */
            stream_lost(src, now_ms, DASH_RETRY_OLD_MS);
            return;
        }
        src->subscribed = true;
        src->ever_subscribed = true;
        return;
    }
    struct ev e;
    if (ev_parse_line(line, &e) != ERR_OK ||
        e.wall_ms < src->stream_last_wall_ms) {
        return; /* Malformed, or replayed again after a reconnect. */
    }
    src->stream_last_wall_ms = e.wall_ms;
    if (e.kind == EV_DEATH && e.node != RAFT_ID_NONE &&
        e.wall_ms + DASH_DEATH_FRESH_MS >= wall_ms) {
        int i = conf_member_index(src->conf, e.node);
        if (i >= 0) {
            src->nodes[i].dead = true;
        }
    }
    src->on_event(src->ctx, &e);
}

static void stream_read(struct dash_source *src, uint64_t now_ms,
                        uint64_t wall_ms)
{
    for (int k = 0; k < 64 && src->stream_fd >= 0; k++) {
        size_t room = sizeof(src->stream_buf) - 1 - src->stream_len;
        ssize_t n = recv(src->stream_fd, src->stream_buf + src->stream_len,
                         room, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            stream_lost(src, now_ms, DASH_RECONNECT_MS);
            return;
        }
        src->stream_len += (size_t)n;
        src->stream_buf[src->stream_len] = '\0';
        char *start = src->stream_buf;
        char *nl;
        while (src->stream_fd >= 0 && (nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            stream_on_line(src, start, now_ms, wall_ms);
            start = nl + 1;
        }
        if (src->stream_fd < 0) {
            return;
        }
        src->stream_len -= (size_t)(start - src->stream_buf);
        memmove(src->stream_buf, start, src->stream_len);
        if (src->stream_len + 1 >= sizeof(src->stream_buf)) {
            src->stream_len = 0; /* A line longer than any event: drop. */
        }
    }
}

/* --- Members that come and go ------------------------------------------- */

/* The leader's configuration, when it differs from the one last seen,
 * becomes conf's members: each node keeps what is known of it (by id),
 * the poll reopens over the new set, and the tracker starts a baseline.
 * On a failure (an address that does not resolve) conf stays as it was. */
static void source_follow_config(struct dash_source *src, uint64_t now_ms)
{
    int li = dash_source_leader(src, now_ms);
    if (li < 0) {
        return;
    }
    const struct msg_status_reply *st = &src->nodes[li].st;
    if (st->config_len == 0 || st->config_len > sizeof(src->config) ||
        (st->config_len == src->config_len &&
         memcmp(st->config, src->config, st->config_len) == 0)) {
        return;
    }
    src->config_len = st->config_len;
    memcpy(src->config, st->config, st->config_len);
    struct membership m;
    if (membership_decode(st->config, st->config_len, &m) != ERR_OK) {
        return;
    }
    struct conf old = *src->conf;
    if (!dash_members_follow(src->conf, &m)) {
        return;
    }
    struct status_poll old_poll = src->poll;
    char errmsg[ERRMSG_LEN];
    if (source_poll_open(src, errmsg) != ERR_OK) {
        status_poll_close(&src->poll);
        src->poll = old_poll;
        *src->conf = old;
        return;
    }
    status_poll_close(&old_poll);
    struct dash_source_node nodes[RAFT_NODES_MAX];
    memset(nodes, 0, sizeof nodes);
    for (uint32_t i = 0; i < src->conf->n_members; i++) {
        int j = conf_member_index(&old, src->conf->members[i].id);
        if (j >= 0) {
            nodes[i] = src->nodes[j];
        }
    }
    memcpy(src->nodes, nodes, sizeof nodes);
    ev_tracker_init(&src->tracker, src->conf, true);
    src->poll_next_ms = now_ms;
    src->pid_next_ms = now_ms;
}

/* --- Derived events and the view ---------------------------------------- */

/* Without a launcher: one tracker round over who answered since the last. */
static void source_round(struct dash_source *src, uint64_t now_ms,
                         uint64_t wall_ms)
{
    struct client_node_status round[RAFT_NODES_MAX];
    for (uint32_t i = 0; i < src->conf->n_members; i++) {
        const struct dash_source_node *n = &src->nodes[i];
        round[i].alive = n->has_reply && n->rx_ms >= src->round_start_ms;
        round[i].term = n->term;
        round[i].reply = n->st;
    }
    ev_tracker_round(&src->tracker, wall_ms, round, src->on_event, src->ctx);
    src->round_start_ms = now_ms;
    src->round_next_ms = now_ms + DASH_ROUND_MS;
}

void dash_source_step(struct dash_source *src, uint64_t now_ms,
                      uint64_t wall_ms)
{
    if (src->poll_next_ms == 0) {
        src->round_next_ms = now_ms + DASH_FIRST_ROUND_MS;
        src->round_start_ms = now_ms;
    }
    if (src->stream_fd < 0 && now_ms >= src->stream_retry_ms) {
        stream_connect(src, now_ms);
    }
    source_recv(src, now_ms);
    source_follow_config(src, now_ms);
    if (src->stream_fd >= 0) {
        stream_read(src, now_ms, wall_ms);
    }
    if (now_ms >= src->poll_next_ms) {
        source_poll(src, now_ms);
    }
    if (!src->subscribed && now_ms >= src->round_next_ms) {
        source_round(src, now_ms, wall_ms);
    }
    if (now_ms >= src->pid_next_ms) {
        source_check_pids(src, now_ms);
    }
}

static bool source_node_up(const struct dash_source_node *n, uint64_t now_ms)
{
    return n->has_reply && !n->dead && now_ms - n->rx_ms <= DASH_UP_MS;
}

void dash_source_view(const struct dash_source *src, uint64_t now_ms,
                      struct dash_view *v)
{
    for (uint32_t i = 0; i < src->conf->n_members; i++) {
        const struct dash_source_node *s = &src->nodes[i];
        struct dash_node *n = &v->nodes[i];
        memset(n, 0, sizeof(*n));
        n->id = src->conf->members[i].id;
        n->has_reply = s->has_reply;
        n->term = s->term;
        n->st = s->st;
        n->age_ms = s->has_reply ? now_ms - s->rx_ms : 0;
        if (source_node_up(s, now_ms)) {
            n->state = DASH_NODE_UP;
            n->pid = (long)s->st.pid;
        } else if (s->file_pid > 0 && !s->dead) {
            n->state = DASH_NODE_SILENT;
            n->pid = s->file_pid;
        } else {
            n->state = s->is_damaged ? DASH_NODE_DAMAGED : DASH_NODE_DOWN;
        }
    }
    v->from_launcher = src->subscribed;
}

int dash_source_leader(const struct dash_source *src, uint64_t now_ms)
{
    int best = -1;
    for (uint32_t i = 0; i < src->conf->n_members; i++) {
        const struct dash_source_node *n = &src->nodes[i];
        if (source_node_up(n, now_ms) && n->st.role == RAFT_LEADER &&
            (best < 0 || n->term > src->nodes[best].term)) {
            best = (int)i;
        }
    }
    return best;
}

uint32_t dash_source_up_mask(const struct dash_source *src, uint64_t now_ms)
{
    uint32_t mask = 0;
    for (uint32_t i = 0; i < src->conf->n_members; i++) {
        if (source_node_up(&src->nodes[i], now_ms)) {
            mask |= 1u << i;
        }
    }
    return mask;
}
