/*
 * The launcher's private state, shared by supervisor.c (children, signals,
 * the loop) and supervisor_io.c (requests on launcher.sock, status polls).
 * Nothing outside these two files includes it. Read launcher/supervisor.c
 * next.
 */
#ifndef RAFT_LAUNCHER_SUPERVISOR_INT_H
#define RAFT_LAUNCHER_SUPERVISOR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/client_query.h"
#include "common/msg.h"
#include "common/status_poll.h"
#include "launcher/events.h"
#include "launcher/supervisor.h"
#include "launcher/trace_source.h"

#define SUP_CONNS_MAX 16
#define SUP_LINE_MAX 256
#define SUP_POLL_MS 100       /* Status poll period (the event feed). */
#define SUP_START_MS 10000    /* Every node must answer within this. */
#define SUP_GRACE_MS 3000     /* SIGTERM, then SIGKILL after this. */
#define SUP_KILL_WAIT_MS 3000 /* kill waits this long for the death. */

struct sup_node {
    raft_id id;
    pid_t pid; /* 0 when not running. */
    struct raft_addr addr;
    int kill_conn; /* Connection awaiting its death, or -1. */
    bool join;     /* Added by raftctl add: --create --join. */
    uint64_t kill_deadline_ms;
    off_t log_from; /* Size of its log when spawned: this run's lines. */
    bool failed;    /* Died during the startup (the rest may run). */
};

struct sup_conn {
    int fd; /* -1 when free. */
    size_t len;
    char buf[SUP_LINE_MAX];
    bool waiting;    /* Request read; the reply comes later. */
    bool subscribed; /* "events": every event line is sent here. */
};

enum sup_phase { SUP_STARTING, SUP_RUNNING, SUP_STOPPING };

struct sup {
    const struct supervisor_config *cfg;
    uint32_t n_nodes;
    struct sup_node nodes[RAFT_NODES_MAX];
    struct sup_conn conns[SUP_CONNS_MAX];
    int sig_r, sig_w, listen_fd;
    struct status_poll poll; /* Its fd is -1 until set up. */
    int phase;               /* enum sup_phase */
    uint64_t phase_deadline_ms;
    bool hard_killed;
    int exit_code;
    char fail_msg[SUPERVISOR_MSG_MAX];
    int ready_fd;      /* --detach: the waiting raftctl, or -1. */
    int down_conn;     /* Connection awaiting "stopped", or -1. */
    uint32_t answered; /* Nodes that answered a status request. */
    uint64_t poll_next_ms;
    /* This round's answers, by index into nodes; the tracker turns each
     * round into events (launcher/events.h). */
    struct client_node_status round[RAFT_NODES_MAX];
    struct ev_tracker tracker;
    struct ev_ring recent; /* Replayed to a new subscriber. */
    /* up --record: the message trace, into the recording. */
    struct trace_source trace;
    bool tracing;
};
/* Publishes an event: one timestamped plain line on stdout (a terminal,
 * a pipe, or DIR/launcher.log), kept in `recent`, and sent to every
 * subscribed connection. sup_event is an EV_INFO line about the cluster. */
void sup_publish(struct sup *s, const struct ev *e);
void sup_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sup_event_node(int kind, raft_id node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Closes connection conn without a reply. */
void sup_conn_close(struct sup *s, int conn);
/* Writes one reply line on connection conn and closes it. */
void sup_reply(struct sup *s, int conn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct sup_node *sup_find_node(struct sup *s, raft_id id);
/* Starts node n. Errors: ERR_IO (errmsg). */
int sup_spawn(struct sup *s, struct sup_node *n, char errmsg[ERRMSG_LEN]);
/* Stops every node: SIGTERM now, SIGKILL after the grace period. */
void sup_begin_stop(struct sup *s, int exit_code, uint64_t now_ms);
/* Tells a waiting `up --detach` "ok" or "err MESSAGE", once. */
void sup_notify_ready(struct sup *s, const char *text);
/* Ends the startup once it is decided (deadline: SUP_START_MS passed):
 * "ok" with every node, "ok CAUSES" with a quorum, else a stop. */
void sup_check_started(struct sup *s, bool deadline);

/* supervisor_io.c */
void sup_on_accept(struct sup *s);
void sup_on_conn_readable(struct sup *s, int conn);
/* Starts a status round: evaluates the last one, asks every running node. */
void sup_poll_round(struct sup *s, uint64_t now_ms);
void sup_on_udp(struct sup *s);

#endif
