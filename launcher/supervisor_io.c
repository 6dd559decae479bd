/*
 * The launcher's inputs besides signals: kill/start/down requests from other
 * raftctl processes on DIR/launcher.sock (one line in, one line out), and
 * the status replies of its periodic poll, from which it prints leader
 * changes and learns that every node is up; launcher/supervisor.c's loop
 * calls these. Read launcher/supervisor_client.c next.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/invariant.h"
#include "common/udp.h"
#include "launcher/cluster_dir.h"
#include "launcher/raftctl.h"
#include "launcher/supervisor_int.h"

/* Terminating signals make `kill` wait for the death; others (STOP,
 * CONT, ...) are answered at once. */
static bool sup_signal_terminates(int signo)
{
    switch (signo) {
    case SIGSTOP:
    case SIGCONT:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
        return false;
    default:
        return true;
    }
}

/* "kill ID SIGNUM": signals the node; for a terminating signal the reply
 * waits for the death (or SUP_KILL_WAIT_MS). */
static void sup_req_kill(struct sup *s, int conn, unsigned long long id,
                         int signo)
{
    struct sup_node *n = sup_find_node(s, id);
    if (n == NULL) {
        sup_reply(s, conn, "err %d unknown node id %llu", CTL_EXIT_USAGE, id);
        return;
    }
    if (n->pid == 0) {
        sup_reply(s, conn, "err %d node %llu is not running", CTL_EXIT_ERROR,
                  id);
        return;
    }
    if (signo <= 0 || signo >= 65 || kill(n->pid, signo) != 0) {
        sup_reply(s, conn, "err %d cannot send signal %d to node %llu: %s",
                  CTL_EXIT_ERROR, signo, id, strerror(errno));
        return;
    }
    if (!sup_signal_terminates(signo) || n->kill_conn >= 0) {
        sup_reply(s, conn, "ok sent signal %d (%s) to node %llu (pid %ld)",
                  signo, strsignal(signo), id, (long)n->pid);
        return;
    }
    n->kill_conn = conn;
    n->kill_deadline_ms = clock_now_ms() + SUP_KILL_WAIT_MS;
    s->conns[conn].waiting = true;
}

/* "start ID": spawns the node if it is not running. */
static void sup_req_start(struct sup *s, int conn, unsigned long long id)
{
    struct sup_node *n = sup_find_node(s, id);
    char errmsg[ERRMSG_LEN] = "";
    if (n == NULL) {
        sup_reply(s, conn, "err %d unknown node id %llu", CTL_EXIT_USAGE, id);
    } else if (s->phase == SUP_STOPPING) {
        sup_reply(s, conn, "err %d the cluster is stopping", CTL_EXIT_ERROR);
    } else if (n->pid > 0) {
        sup_reply(s, conn, "err %d node %llu is already running (pid %ld)",
                  CTL_EXIT_ERROR, id, (long)n->pid);
    } else if (sup_spawn(s, n, errmsg) != ERR_OK) {
        sup_reply(s, conn, "err %d cannot start node %llu: %s", CTL_EXIT_ERROR,
                  id, errmsg);
    } else {
        sup_reply(s, conn, "ok node %llu started pid=%ld", id, (long)n->pid);
    }
}

/* "join ID": raftctl add appended ID to cluster.conf; spawns it with
 * --create --join (a new member learns its configuration). */
static void sup_req_join(struct sup *s, int conn, unsigned long long id)
{
    /* The launcher's address book grows: cfg is the supervisor's own
     * (cmd_up's), never a const object. */
    struct conf *conf = (struct conf *)&s->cfg->conf;
    struct conf fresh;
    char errmsg[ERRMSG_LEN] = "";
    const struct conf_member *m = NULL;
    if (cdir_load(&s->cfg->dir, &fresh, errmsg) == ERR_OK) {
        m = conf_find(&fresh, id);
    }
    if (m == NULL || sup_find_node(s, id) != NULL ||
        s->n_nodes == RAFT_NODES_MAX || conf->n_members != s->n_nodes) {
        sup_reply(s, conn, "err %d cannot add node %llu %s", CTL_EXIT_ERROR,
                  id, errmsg);
        return;
    }
    struct sup_node *n = &s->nodes[s->n_nodes];
    memset(n, 0, sizeof *n);
    n->id = id;
    n->kill_conn = -1;
    n->join = true;
    if (udp_resolve(m->host, m->port, &n->addr, errmsg) != ERR_OK) {
        sup_reply(s, conn, "err %d %s", CTL_EXIT_ERROR, errmsg);
        return;
    }
    conf->members[conf->n_members++] = *m;
    s->n_nodes++;
    if (sup_spawn(s, n, errmsg) != ERR_OK) {
        sup_reply(s, conn, "err %d cannot start node %llu: %s", CTL_EXIT_ERROR,
                  id, errmsg);
        return;
    }
    n->join = false; /* A restart opens its database as it is. */
    sup_reply(s, conn, "ok node %llu started pid=%ld", id, (long)n->pid);
}

/* Wall-clock milliseconds, for event times. */
static uint64_t sup_io_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "events": "ok events", the recent events oldest first, then every new
 * event as it happens, one "ev ..." line each (launcher/events.h), until
 * the asker closes the connection or the launcher stops. */
static void sup_req_events(struct sup *s, int conn)
{
    struct sup_conn *c = &s->conns[conn];
    static const char ok[] = "ok events\n";
    bool sent = send(c->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) ==
                (ssize_t)(sizeof(ok) - 1);
    char line[EV_LINE_MAX + 1];
    for (uint32_t k = s->recent.n; sent && k > 0; k--) {
        size_t len = ev_format_line(ev_ring_newest(&s->recent, k - 1), line,
                                    sizeof(line) - 1);
        line[len++] = '\n';
        sent =
            send(c->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len;
    }
    if (!sent) {
        sup_conn_close(s, conn);
        return;
    }
    c->subscribed = true;
    c->waiting = true; /* Anything it sends, or EOF, closes it. */
}

/* Dispatches one request line. */
static void sup_on_request(struct sup *s, int conn, const char *line)
{
    unsigned long long id = 0;
    int signo = 0;
    if (strcmp(line, "ping") == 0) {
        sup_reply(s, conn, "ok launcher pid %ld", (long)getpid());
    } else if (sscanf(line, "kill %llu %d", &id, &signo) == 2) {
        sup_req_kill(s, conn, id, signo);
    } else if (sscanf(line, "start %llu", &id) == 1) {
        sup_req_start(s, conn, id);
    } else if (sscanf(line, "join %llu", &id) == 1) {
        sup_req_join(s, conn, id);
    } else if (strcmp(line, "events") == 0) {
        sup_req_events(s, conn);
    } else if (strcmp(line, "down") == 0) {
        if (s->down_conn >= 0) {
            sup_reply(s, conn, "ok the cluster is already stopping");
            return;
        }
        s->down_conn = conn;
        s->conns[conn].waiting = true;
        sup_begin_stop(s, CTL_EXIT_OK, clock_now_ms());
    } else {
        sup_reply(s, conn, "err %d unknown request", CTL_EXIT_ERROR);
    }
}

void sup_on_conn_readable(struct sup *s, int conn)
{
    struct sup_conn *c = &s->conns[conn];
    ssize_t n =
        recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0 || c->waiting) {
        /* Closed (or talking out of turn): forget it; a pending kill or
         * down then finishes without anyone to tell. */
        for (uint32_t i = 0; i < s->n_nodes; i++) {
            if (s->nodes[i].kill_conn == conn) {
                s->nodes[i].kill_conn = -1;
            }
        }
        if (s->down_conn == conn) {
            s->down_conn = -1;
        }
        sup_conn_close(s, conn);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *nl = strchr(c->buf, '\n');
    if (nl == NULL) {
        if (c->len >= sizeof(c->buf) - 1) {
            sup_reply(s, conn, "err %d request too long", CTL_EXIT_ERROR);
        }
        return;
    }
    *nl = '\0';
    sup_on_request(s, conn, c->buf);
}

void sup_on_accept(struct sup *s)
{
    for (int k = 0; k < SUP_CONNS_MAX; k++) {
        int fd =
            accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            return;
        }
        int slot = -1;
        for (int i = 0; i < SUP_CONNS_MAX && slot < 0; i++) {
            if (s->conns[i].fd < 0) {
                slot = i;
            }
        }
        if (slot < 0) {
            close(fd); /* Too many at once; the asker sees EOF. */
            continue;
        }
        s->conns[slot].fd = fd;
        s->conns[slot].len = 0;
        s->conns[slot].waiting = false;
        s->conns[slot].subscribed = false;
    }
}

/* The tracker's callback: publish each derived event. */
static void sup_poll_emit(void *ctx, const struct ev *e)
{
    sup_publish(ctx, e);
}

/* Ends a status round: the tracker turns the answers into events
 * (elections, votes, a new leader, "no leader" after a few rounds without
 * one, step-downs, commit progress, fault rules). */
static void sup_poll_evaluate(struct sup *s)
{
    if (s->cfg->rec != NULL) {
        recorder_round(s->cfg->rec, clock_now_ms(), s->round);
    }
    ev_tracker_round(&s->tracker, sup_io_wall_ms(), s->round, sup_poll_emit, s);
}

void sup_poll_round(struct sup *s, uint64_t now_ms)
{
    sup_poll_evaluate(s);
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        s->round[i].alive = false;
    }
    s->poll_next_ms = now_ms + SUP_POLL_MS;
    uint32_t running = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        if (s->nodes[i].pid != 0) {
            running |= 1u << i;
        }
    }
    status_poll_next_round(&s->poll);
    (void)status_poll_send(&s->poll, running); /* Loss: next round. */
}

/* Keeps this round's answer of node i; once every node has answered, the
 * startup is over. */
static void sup_on_status_reply(void *ctx, uint32_t i, raft_term term,
                                const struct msg_status_reply *reply)
{
    struct sup *s = ctx;
    s->answered |= 1u << i;
    s->round[i].alive = true;
    s->round[i].term = term;
    s->round[i].reply = *reply;
    sup_check_started(s, false);
}

void sup_on_udp(struct sup *s)
{
    (void)status_poll_recv(&s->poll, sup_on_status_reply, s);
}