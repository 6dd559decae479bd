/*
 * The launcher process behind `raftctl up`: spawns raftnode children (each
 * in its own process group, so a terminal's Ctrl-C reaches only us and we
 * stop the nodes in order), learns of every death through SIGCHLD and a
 * self-pipe, polls the nodes' status to print leader changes, and answers
 * kill/start/down requests on DIR/launcher.sock. It never restarts a node by
 * itself. An existing cluster whose node fails to start (a missing or
 * damaged database) runs without it while a quorum runs (sup_check_started);
 * every death that was not asked for is logged with the last ERROR line of
 * the node's log. The requests and the status polls are handled in
 * launcher/supervisor_io.c; other raftctl processes ask through
 * supervisor_request() (launcher/supervisor_client.c). Read
 * launcher/supervisor_io.c next.
 */
#include "launcher/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "common/invariant.h"
#include "common/udp.h"
#include "common/wire.h"
#include "launcher/raftctl.h"
#include "launcher/supervisor_int.h"

static int sup_signal_fd = -1;
/* The running launcher, for sup_event() (one per process). */
static struct sup *sup_current;

/* Signal handler: one byte per signal into the self-pipe, nothing else
 * (async-signal-safe). */
static void sup_on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    if (write(sup_signal_fd, &b, 1) < 0) {
        /* The pipe is full: a wakeup is pending anyway. */
    }
    errno = saved;
}

/* Wall-clock milliseconds, for event times. */
static uint64_t sup_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* sup_publish with a stdout line (launcher.log) that may be longer than
 * an event's text: full, where e->text is its first EV_TEXT_MAX - 1. */
static void sup_publish_full(struct sup *s, const struct ev *e,
                             const char *full)
{
    char clock[32];
    ev_format_clock(e->wall_ms, clock, sizeof(clock));
    printf("%s %s\n", clock, full);
    fflush(stdout);
    if (s == NULL) {
        return;
    }
    if (s->cfg->rec != NULL) {
        recorder_event(s->cfg->rec, clock_now_ms(), e);
    }
    ev_ring_push(&s->recent, e);
    char line[EV_LINE_MAX + 1];
    size_t len = ev_format_line(e, line, sizeof(line) - 1);
    line[len++] = '\n';
    for (int i = 0; i < SUP_CONNS_MAX; i++) {
        struct sup_conn *c = &s->conns[i];
        /* A subscriber too slow to take one line is dropped. */
        if (c->fd >= 0 && c->subscribed &&
            send(c->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
                (ssize_t)len) {
            sup_conn_close(s, i);
        }
    }
}

void sup_publish(struct sup *s, const struct ev *e)
{
    sup_publish_full(s, e, e->text);
}

void sup_event(const char *fmt, ...)
{
    struct ev e;
    ev_set(&e, sup_wall_ms(), EV_INFO, RAFT_ID_NONE, 0, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof(e.text), fmt, ap);
    va_end(ap);
    sup_publish(sup_current, &e);
}

void sup_event_node(int kind, raft_id node, const char *fmt, ...)
{
    struct ev e;
    ev_set(&e, sup_wall_ms(), kind, node, 0, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof(e.text), fmt, ap);
    va_end(ap);
    sup_publish(sup_current, &e);
}

void sup_conn_close(struct sup *s, int conn)
{
    ASSERT(conn >= 0 && conn < SUP_CONNS_MAX);
    struct sup_conn *c = &s->conns[conn];
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->len = 0;
    c->waiting = false;
    c->subscribed = false;
}

struct sup_node *sup_find_node(struct sup *s, raft_id id)
{
    /* nodes[i] is conf member i (sup_setup_nodes). */
    int i = conf_member_index(&s->cfg->conf, id);
    return i < 0 ? NULL : &s->nodes[i];
}

/* How many nodes have a live process. */
static uint32_t sup_n_running(const struct sup *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        n += s->nodes[i].pid > 0;
    }
    return n;
}

void sup_reply(struct sup *s, int conn, const char *fmt, ...)
{
    ASSERT(conn >= 0 && conn < SUP_CONNS_MAX);
    struct sup_conn *c = &s->conns[conn];
    if (c->fd < 0) {
        return;
    }
    char line[SUP_LINE_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    if ((size_t)n > sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    /* One short line into an empty socket buffer: a failed write means the
     * asker is gone. */
    (void)send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    sup_conn_close(s, conn);
}

/* The child side of a spawn: own process group, stdio to the node's log,
 * default signal dispositions, then exec. Never returns. */
static void sup_exec_node(const struct sup *s, const struct sup_node *n,
                          int log_fd)
{
    char id[24], vals[UP_OPT__COUNT][24], conf_path[CDIR_PATH_MAX],
        db[CDIR_PATH_MAX];
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) {
        dup2(null_fd, 0);
    }
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    for (int fd = 3; fd < 1024; fd++) {
        close(fd);
    }
    snprintf(id, sizeof(id), "%llu", (unsigned long long)n->id);
    cdir_file(&s->cfg->dir, "cluster.conf", conf_path, sizeof(conf_path));
    cdir_node_file(&s->cfg->dir, n->id, ".db", db, sizeof(db));
    const char *argv[16 + 2 * UP_OPT__COUNT];
    int k = 0;
    argv[k++] = s->cfg->raftnode;
    argv[k++] = "--id";
    argv[k++] = id;
    argv[k++] = "--config";
    argv[k++] = conf_path;
    argv[k++] = "--db";
    argv[k++] = db;
    argv[k++] = "--faults";
    if (s->cfg->fresh && s->phase == SUP_STARTING) {
        argv[k++] = "--create";
    } else if (n->join) {
        argv[k++] = "--create";
        argv[k++] = "--join";
    }
    for (int i = 0; i < UP_OPT__COUNT; i++) {
        if (s->cfg->opts.is_set[i]) {
            snprintf(vals[i], sizeof(vals[i]), "%llu",
                     (unsigned long long)s->cfg->opts.val[i]);
            argv[k++] = up_option_flag(i);
            argv[k++] = vals[i];
        }
    }
    argv[k] = NULL;
    execv(s->cfg->raftnode, (char *const *)argv);
    fprintf(stderr, "raftctl: cannot run %s: %s\n", s->cfg->raftnode,
            strerror(errno));
    _exit(127);
}

int sup_spawn(struct sup *s, struct sup_node *n, char errmsg[ERRMSG_LEN])
{
    ASSERT(n->pid == 0);
    char log_path[CDIR_PATH_MAX];
    cdir_node_file(&s->cfg->dir, n->id, ".log", log_path, sizeof(log_path));
    int log_fd =
        open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        snprintf(errmsg, ERRMSG_LEN, "cannot open %.160s: %s", log_path,
                 strerror(errno));
        return ERR_IO;
    }
    n->log_from = lseek(log_fd, 0, SEEK_END);
    n->failed = false;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        sup_exec_node(s, n, log_fd);
    }
    close(log_fd);
    if (pid < 0) {
        snprintf(errmsg, ERRMSG_LEN, "fork: %s", strerror(errno));
        return ERR_IO;
    }
    setpgid(pid, pid); /* Also done by the child; whoever runs first. */
    n->pid = pid;
    char name[64];
    cdir_node_pid_name(n->id, name, sizeof(name));
    if (cdir_pid_write(&s->cfg->dir, name, pid) != ERR_OK) {
        sup_event("warning: cannot write %s", name);
    }
    char addr[64];
    udp_addr_format(&n->addr, addr, sizeof(addr));
    ev_tracker_forget(&s->tracker, n->id);
    sup_event_node(EV_START, n->id, "node %llu started pid=%ld addr=%s",
                   (unsigned long long)n->id, (long)pid, addr);
    return ERR_OK;
}

void sup_notify_ready(struct sup *s, const char *text)
{
    if (s->ready_fd < 0) {
        return;
    }
    char line[SUPERVISOR_MSG_MAX + 8];
    int n = snprintf(line, sizeof(line), "%s\n", text);
    if (write(s->ready_fd, line, (size_t)n) < 0) {
        /* The waiting raftctl is gone; nothing to tell. */
    }
    close(s->ready_fd);
    s->ready_fd = -1;
}

void sup_begin_stop(struct sup *s, int exit_code, uint64_t now_ms)
{
    if (s->phase == SUP_STOPPING) {
        return;
    }
    if (s->phase == SUP_STARTING && exit_code == CTL_EXIT_OK) {
        snprintf(s->fail_msg, sizeof(s->fail_msg),
                 "stopped before every node was running");
        exit_code = CTL_EXIT_ERROR;
    }
    s->phase = SUP_STOPPING;
    s->exit_code = exit_code;
    s->phase_deadline_ms = now_ms + SUP_GRACE_MS;
    sup_event("stopping %u running node(s)", sup_n_running(s));
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        if (s->nodes[i].pid > 0) {
            kill(s->nodes[i].pid, SIGTERM);
        }
    }
}

/* Called when a node failed while the cluster was starting. */
static void sup_start_failed(struct sup *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sup_start_failed(struct sup *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fail_msg, sizeof(s->fail_msg), fmt, ap);
    va_end(ap);
    sup_event("%s", s->fail_msg);
    sup_begin_stop(s, CTL_EXIT_ERROR, clock_now_ms());
}

/* Why node n stopped, from its log (this run's lines): the last ERROR
 * line, without the usage text raftnode prints after a usage error. */
static void sup_death_cause(const struct sup *s, const struct sup_node *n,
                            char *cause, size_t cap)
{
    char log_path[CDIR_PATH_MAX];
    cdir_node_file(&s->cfg->dir, n->id, ".log", log_path, sizeof(log_path));
    cdir_last_error(log_path, n->log_from, cause, cap);
    char *cut = strstr(cause, "; usage:");
    if (cut != NULL) {
        *cut = '\0';
    }
    if (cause[0] == '\0') {
        snprintf(cause, cap, "no message");
    }
}

static uint32_t sup_popcount(uint32_t mask)
{
    uint32_t k = 0;
    for (; mask != 0; mask &= mask - 1) {
        k++;
    }
    return k;
}

/* The startup of an existing cluster is over once every node answered or
 * failed: with a quorum running, the cluster runs without the failed ones
 * (one line each, in fail_msg too, for `up`); without, it stops (exit 4).
 * Never stops healthy nodes because another failed while a quorum can
 * run. A fresh cluster starts whole or not at all (sup_remove_fresh). */
void sup_check_started(struct sup *s, bool deadline)
{
    if (s->phase != SUP_STARTING) {
        return;
    }
    uint32_t all = (1u << s->n_nodes) - 1u;
    uint32_t failed = 0;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        failed |= s->nodes[i].failed ? 1u << i : 0;
    }
    uint32_t up = s->answered & all & ~failed;
    uint32_t quorum = s->n_nodes / 2 + 1;
    if (failed == 0 && up == all) {
        s->phase = SUP_RUNNING;
        sup_event("all %u nodes are running%s", s->n_nodes,
                  s->ready_fd < 0 ? "; Ctrl-C stops the cluster" : "");
        sup_notify_ready(s, "ok");
        return;
    }
    bool settled = deadline || (up | failed) == all;
    bool hopeless = sup_popcount(failed) > s->n_nodes - quorum;
    if (!hopeless && !settled) {
        return; /* Still waiting for some, and a quorum can run. */
    }
    if (hopeless || sup_popcount(up) < quorum) {
        uint32_t down = hopeless ? sup_popcount(failed)
                                 : s->n_nodes - sup_popcount(up);
        char msg[SUPERVISOR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", s->fail_msg);
        snprintf(s->fail_msg, sizeof(s->fail_msg),
                 "%u of %u nodes did not start: fewer than a quorum (%u) "
                 "can run\t%.1600s",
                 down, s->n_nodes, quorum,
                 msg[0] != '\0' ? msg : "see the node<ID>.log files");
        sup_event("%u of %u nodes did not start; stopping the others", down,
                  s->n_nodes);
        sup_begin_stop(s, CTL_EXIT_ERROR, clock_now_ms());
        return;
    }
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        if ((up & (1u << i)) == 0 && !s->nodes[i].failed) {
            s->nodes[i].failed = true; /* Runs but never answered. */
            sup_event("node %llu did not answer within %d s; see its log",
                      (unsigned long long)s->nodes[i].id, SUP_START_MS / 1000);
        }
    }
    s->phase = SUP_RUNNING;
    sup_event("%u of %u nodes are running (a quorum); the cluster serves "
              "without the others%s",
              sup_popcount(up), s->n_nodes,
              s->ready_fd < 0 ? "; Ctrl-C stops the cluster" : "");
    char line[SUPERVISOR_MSG_MAX + 16];
    snprintf(line, sizeof(line), "ok %s", s->fail_msg);
    sup_notify_ready(s, line);
}

/* Records the death of the node with this pid. */
static void sup_on_death(struct sup *s, pid_t pid, int wstatus)
{
    struct sup_node *n = NULL;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        if (s->nodes[i].pid == pid) {
            n = &s->nodes[i];
        }
    }
    if (n == NULL) {
        return;
    }
    char how[96];
    bool broken = false; /* Not a stop we or the user asked for. */
    if (WIFSIGNALED(wstatus)) {
        int sig = WTERMSIG(wstatus);
        snprintf(how, sizeof(how), "died signal=%d (%s)", sig, strsignal(sig));
        broken = sig != SIGKILL && sig != SIGTERM && sig != SIGINT &&
                 sig != SIGSTOP && sig != SIGHUP;
    } else {
        /* 5: raftnode's damaged data (docs/DAMAGE.md). */
        snprintf(how, sizeof(how), "exited status=%d%s", WEXITSTATUS(wstatus),
                 WEXITSTATUS(wstatus) == 5
                     ? " (damaged: a stored row failed its checksum)"
                     : "");
        broken = WEXITSTATUS(wstatus) != 0;
    }
    n->pid = 0;
    char name[64];
    cdir_node_pid_name(n->id, name, sizeof(name));
    cdir_pid_remove(&s->cfg->dir, name);
    ev_tracker_forget(&s->tracker, n->id);
    s->round[n - s->nodes].alive = false;
    char cause[240] = "";
    if (broken) {
        sup_death_cause(s, n, cause, sizeof(cause));
    }
    /* launcher.log names the cause of every death that was not asked,
     * whole (the event feed gets the first EV_TEXT_MAX - 1 bytes). */
    char full[400];
    snprintf(full, sizeof(full), "node %llu %s%s%s", (unsigned long long)n->id,
             how, broken ? ": " : "", cause);
    struct ev e;
    ev_set(&e, sup_wall_ms(), EV_DEATH, n->id, 0, "%s", "");
    size_t cut = strlen(full) < sizeof(e.text) ? strlen(full)
                                               : sizeof(e.text) - 1;
    memcpy(e.text, full, cut);
    e.text[cut] = '\0';
    sup_publish_full(s, &e, full);
    if (n->kill_conn >= 0) {
        sup_reply(s, n->kill_conn, "ok node %llu (pid %ld) %s",
                  (unsigned long long)n->id, (long)pid, how);
        n->kill_conn = -1;
    }
    if (s->phase == SUP_STARTING) {
        char log_path[CDIR_PATH_MAX];
        cdir_node_file(&s->cfg->dir, n->id, ".log", log_path, sizeof(log_path));
        if (!broken) {
            sup_death_cause(s, n, cause, sizeof(cause));
        }
        if (s->cfg->fresh) {
            sup_start_failed(s, "node %llu failed to start (%s; see %.150s): %s",
                             (unsigned long long)n->id, how, log_path, cause);
            return;
        }
        n->failed = true;
        size_t len = strlen(s->fail_msg);
        snprintf(s->fail_msg + len, sizeof(s->fail_msg) - len,
                 "%snode %llu failed to start (%s; see %.200s): %.240s; "
                 "'raftctl replace %llu' rebuilds it as a new member (or "
                 "repair it, then 'raftctl start %llu')",
                 len > 0 ? "\t" : "", (unsigned long long)n->id, how, log_path,
                 cause, (unsigned long long)n->id, (unsigned long long)n->id);
        sup_check_started(s, false);
    }
}

/* Collects every child that has exited, without blocking. */
static void sup_reap(struct sup *s)
{
    for (int k = 0; k < 1024; k++) {
        int wstatus = 0;
        pid_t pid = waitpid(-1, &wstatus, WNOHANG);
        if (pid <= 0) {
            return;
        }
        sup_on_death(s, pid, wstatus);
    }
}

/* Drains the self-pipe: SIGCHLD reaps; INT, TERM and HUP stop the
 * cluster. */
static void sup_on_signals(struct sup *s)
{
    unsigned char sigs[64];
    ssize_t n = read(s->sig_r, sigs, sizeof(sigs));
    for (ssize_t i = 0; i < n; i++) {
        if (sigs[i] == SIGCHLD) {
            sup_reap(s);
        } else if (s->phase != SUP_STOPPING) {
            sup_event("got signal %d (%s)", sigs[i], strsignal(sigs[i]));
            sup_begin_stop(s, CTL_EXIT_OK, clock_now_ms());
        }
    }
}

/* Whatever is due: the status poll, the startup deadline, SIGKILL after the
 * grace period, and kill requests that waited long enough. */
static void sup_on_timers(struct sup *s, uint64_t now_ms)
{
    if (now_ms >= s->poll_next_ms) {
        sup_poll_round(s, now_ms);
    }
    if (s->phase == SUP_STARTING && now_ms >= s->phase_deadline_ms) {
        if (s->cfg->fresh) {
            sup_start_failed(s,
                             "not every node answered within %d s; see the "
                             "node<ID>.log files in %s",
                             SUP_START_MS / 1000, s->cfg->dir.shown);
        } else {
            sup_check_started(s, true);
        }
    }
    if (s->phase == SUP_STOPPING && !s->hard_killed &&
        now_ms >= s->phase_deadline_ms) {
        s->hard_killed = true;
        for (uint32_t i = 0; i < s->n_nodes; i++) {
            if (s->nodes[i].pid > 0) {
                sup_event("node %llu did not stop within %d ms; SIGKILL",
                          (unsigned long long)s->nodes[i].id, SUP_GRACE_MS);
                kill(s->nodes[i].pid, SIGKILL);
            }
        }
    }
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        struct sup_node *n = &s->nodes[i];
        if (n->kill_conn >= 0 && now_ms >= n->kill_deadline_ms) {
            /* Not done: raftctl kill must not report success. */
            sup_reply(s, n->kill_conn,
                      "err %d signal sent to node %llu (pid %ld), but it is "
                      "still running %d ms later",
                      CTL_EXIT_ERROR, (unsigned long long)n->id, (long)n->pid,
                      SUP_KILL_WAIT_MS);
            n->kill_conn = -1;
        }
    }
}

/* The earliest time sup_on_timers() has something to do. */
static uint64_t sup_next_wakeup(const struct sup *s)
{
    uint64_t next = s->poll_next_ms;
    if (s->phase != SUP_RUNNING && !s->hard_killed &&
        s->phase_deadline_ms < next) {
        next = s->phase_deadline_ms;
    }
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        if (s->nodes[i].kill_conn >= 0 && s->nodes[i].kill_deadline_ms < next) {
            next = s->nodes[i].kill_deadline_ms;
        }
    }
    return next;
}

/* up --record: each traced message, and each budget drop, recorded. */
static void sup_trace_msg(void *ctx, const struct trace_msg *m)
{
    const struct sup *s = ctx;
    recorder_trace_msg(s->cfg->rec, m);
}

static void sup_trace_dropped(void *ctx, raft_id id, uint64_t count,
                              uint64_t t_ms)
{
    const struct sup *s = ctx;
    recorder_trace_dropped(s->cfg->rec, t_ms, id, count);
}

/* up --record: holds a trace lease on every member (docs/TRACE.md) for
 * the recording's msg lines; without it the recording has none. */
static void sup_trace_open(struct sup *s)
{
    char errmsg[ERRMSG_LEN] = "";
    struct trace_source_cb cb = {sup_trace_msg, sup_trace_dropped, s};
    s->tracing = trace_source_open(&s->trace, &s->cfg->conf, &cb, errmsg) ==
                 ERR_OK;
    if (!s->tracing) {
        sup_event("--record: no message trace: %s", errmsg);
    }
}

/* One poll() over the signal pipe, the launcher socket, the status socket
 * and the open connections (and the trace's socket), then whatever became
 * ready and due. */
static void sup_step(struct sup *s)
{
    struct pollfd pfds[4 + SUP_CONNS_MAX];
    int conn_of[4 + SUP_CONNS_MAX];
    nfds_t n = 0;
    pfds[n++] = (struct pollfd){.fd = s->sig_r, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = s->poll.fd, .events = POLLIN};
    for (int i = 0; i < SUP_CONNS_MAX; i++) {
        if (s->conns[i].fd >= 0) {
            conn_of[n] = i;
            pfds[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
        }
    }
    nfds_t n_main = n;
    uint64_t now_ms = clock_now_ms();
    uint64_t next_ms = sup_next_wakeup(s);
    if (s->tracing) {
        n += (nfds_t)trace_source_fds(&s->trace, pfds + n);
        uint64_t t = trace_source_next_ms(&s->trace, now_ms);
        next_ms = t < next_ms ? t : next_ms;
    }
    int wait_ms = next_ms > now_ms ? (int)(next_ms - now_ms) : 0;
    if (poll(pfds, n, wait_ms) > 0) {
        if (pfds[0].revents != 0) {
            sup_on_signals(s);
        }
        if (pfds[1].revents != 0) {
            sup_on_accept(s);
        }
        if (pfds[2].revents != 0) {
            sup_on_udp(s);
        }
        for (nfds_t k = 3; k < n_main; k++) {
            if (pfds[k].revents != 0 && s->conns[conn_of[k]].fd >= 0) {
                sup_on_conn_readable(s, conn_of[k]);
            }
        }
    }
    if (s->tracing) {
        trace_source_step(&s->trace, clock_now_ms(), sup_wall_ms());
    }
    sup_on_timers(s, clock_now_ms());
}

/* The self-pipe and the handlers for SIGCHLD, SIGINT, SIGTERM, SIGHUP. */
static int sup_setup_signals(struct sup *s, char errmsg[ERRMSG_LEN])
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "pipe: %s", strerror(errno));
        return ERR_IO;
    }
    s->sig_r = fds[0];
    s->sig_w = fds[1];
    sup_signal_fd = fds[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sup_on_signal;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (sigaction(sigs[i], &sa, NULL) != 0) {
            snprintf(errmsg, ERRMSG_LEN, "sigaction: %s", strerror(errno));
            return ERR_IO;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    return ERR_OK;
}

/* Listens on DIR/launcher.sock. Errors: ERR_TOO_BIG (path), ERR_IO. */
static int sup_setup_listen(struct sup *s, char errmsg[ERRMSG_LEN])
{
    struct sockaddr_un sun;
    int rc = supervisor_sock_addr(&s->cfg->dir, &sun, errmsg);
    if (rc != ERR_OK) {
        return rc;
    }
    (void)unlink(sun.sun_path); /* Stale: we hold the launcher lock. */
    s->listen_fd =
        socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
        listen(s->listen_fd, SUP_CONNS_MAX) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "cannot listen on %s: %s", sun.sun_path,
                 strerror(errno));
        return ERR_IO;
    }
    return ERR_OK;
}

/* Resolves the members and opens the status socket. */
static int sup_setup_nodes(struct sup *s, char errmsg[ERRMSG_LEN])
{
    const struct conf *conf = &s->cfg->conf;
    struct raft_addr addrs[RAFT_NODES_MAX];
    s->n_nodes = conf->n_members;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        struct sup_node *n = &s->nodes[i];
        n->id = conf->members[i].id;
        n->kill_conn = -1;
        int rc = udp_resolve(conf->members[i].host, conf->members[i].port,
                             &n->addr, errmsg);
        if (rc != ERR_OK) {
            return rc;
        }
        addrs[i] = n->addr;
    }
    /* Only the current round's answers count (sup_poll_round). */
    return status_poll_init(&s->poll, conf, addrs, 1, errmsg);
}

/* Removes what a failed first `up` created, so the next `up` starts
 * afresh (with new options, say a free --port). */
static void sup_remove_fresh(const struct sup *s)
{
    static const char *const suffixes[] = {".db", ".db-wal", ".db-shm",
                                           ".db-journal", ".db.lock"};
    char path[CDIR_PATH_MAX];
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++) {
            if (cdir_node_file(&s->cfg->dir, s->nodes[i].id, suffixes[k], path,
                               sizeof(path)) == ERR_OK) {
                (void)unlink(path);
            }
        }
    }
    if (cdir_file(&s->cfg->dir, "cluster.conf", path, sizeof(path)) == ERR_OK) {
        (void)unlink(path);
    }
    sup_event("removed the new cluster.conf and databases; fix the problem "
              "and run 'raftctl up' again");
}

/* Releases everything, the launcher lock last. */
static void sup_close(struct sup *s)
{
    struct sockaddr_un sun;
    char errmsg[ERRMSG_LEN];
    if (s->listen_fd >= 0) {
        if (supervisor_sock_addr(&s->cfg->dir, &sun, errmsg) == ERR_OK) {
            (void)unlink(sun.sun_path);
        }
        close(s->listen_fd);
    }
    for (int i = 0; i < SUP_CONNS_MAX; i++) {
        if (s->conns[i].fd >= 0) {
            close(s->conns[i].fd);
        }
    }
    status_poll_close(&s->poll);
    /* Unlink the pid file while still holding its lock (cluster_dir.c
     * checks the inode, so a new launcher never locks a dead file). */
    cdir_pid_remove(&s->cfg->dir, "launcher.pid");
    close(s->cfg->lock_fd);
}

/* Zero state, every descriptor -1, phase STARTING. */
static void sup_init(struct sup *s, const struct supervisor_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->sig_r = s->sig_w = s->listen_fd = s->poll.fd = -1;
    s->down_conn = -1;
    s->ready_fd = cfg->ready_fd;
    for (int i = 0; i < SUP_CONNS_MAX; i++) {
        s->conns[i].fd = -1;
    }
    s->phase = SUP_STARTING;
    s->exit_code = CTL_EXIT_OK;
    ev_tracker_init(&s->tracker, &cfg->conf, false);
    ev_ring_init(&s->recent);
}

/* Writes launcher.pid and spawns every node; a node that cannot be
 * spawned fails the startup. Errors: ERR_IO (launcher.pid). */
static int sup_start_all(struct sup *s, char errmsg[ERRMSG_LEN])
{
    if (cdir_lock_write_pid(s->cfg->lock_fd, getpid()) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "cannot write launcher.pid");
        return ERR_IO;
    }
    const struct conf_member *first = &s->cfg->conf.members[0];
    const struct conf_member *last =
        &s->cfg->conf.members[s->cfg->conf.n_members - 1];
    sup_event("cluster at %s: %u nodes, %s:%u .. %s:%u, launcher pid %ld",
              s->cfg->dir.shown, s->n_nodes, first->host, first->port,
              last->host, last->port, (long)getpid());
    uint64_t now_ms = clock_now_ms();
    s->phase_deadline_ms = now_ms + SUP_START_MS;
    s->poll_next_ms = now_ms + 50;
    for (uint32_t i = 0; i < s->n_nodes && s->phase == SUP_STARTING; i++) {
        if (s->nodes[i].pid == 0 &&
            sup_spawn(s, &s->nodes[i], errmsg) != ERR_OK) {
            sup_start_failed(s, "cannot start node %llu: %s",
                             (unsigned long long)s->nodes[i].id, errmsg);
        }
    }
    return ERR_OK;
}

int supervisor_run(const struct supervisor_config *cfg)
{
    ASSERT(cfg != NULL);
    ASSERT(cfg->conf.n_members > 0);
    struct sup *s = malloc(sizeof(*s));
    if (s == NULL) {
        fprintf(stderr, "raftctl: up: out of memory\n");
        return CTL_EXIT_ERROR;
    }
    sup_init(s, cfg);
    sup_current = s;
    if (cfg->rec != NULL) {
        recorder_begin(cfg->rec, &cfg->conf, &cfg->opts, clock_now_ms(),
                       sup_wall_ms());
    }
    char errmsg[ERRMSG_LEN] = "";
    if (sup_setup_signals(s, errmsg) != ERR_OK ||
        sup_setup_nodes(s, errmsg) != ERR_OK ||
        sup_setup_listen(s, errmsg) != ERR_OK ||
        sup_start_all(s, errmsg) != ERR_OK) {
        snprintf(s->fail_msg, sizeof(s->fail_msg), "%s", errmsg);
        sup_begin_stop(s, CTL_EXIT_ERROR, clock_now_ms());
    } else if (cfg->rec != NULL) {
        sup_trace_open(s);
    }
    /* Bounded by the stop path: SIGTERM, SIGKILL after the grace period,
     * and every child is reaped. */
    while (s->phase != SUP_STOPPING || sup_n_running(s) > 0) {
        sup_step(s);
    }
    int code = s->exit_code;
    if (code != CTL_EXIT_OK && cfg->fresh) {
        sup_remove_fresh(s);
    }
    sup_event("cluster stopped");
    if (code != CTL_EXIT_OK) {
        char line[SUPERVISOR_MSG_MAX + 8];
        snprintf(line, sizeof(line), "err %s", s->fail_msg);
        bool detached = s->ready_fd >= 0;
        sup_notify_ready(s, line);
        if (!detached) {
            for (char *part = strtok(s->fail_msg, "\t"); part != NULL;
                 part = strtok(NULL, "\t")) {
                fprintf(stderr, "raftctl: up: %s\n", part);
            }
        }
    }
    if (s->down_conn >= 0) {
        sup_reply(s, s->down_conn, "ok cluster stopped");
    }
    if (s->tracing) {
        trace_source_close(&s->trace); /* Its last messages recorded. */
    }
    sup_close(s);
    sup_current = NULL;
    free(s);
    if (cfg->rec != NULL) {
        recorder_close(cfg->rec);
    }
    return code;
}
