/*
 * The live dashboard (launcher/dashboard.h) over the views' terminal
 * (launcher/dash_term.c): the poll() loop, the frames and the key
 * actions. What is drawn is decided in launcher/dash_model.c. Read
 * launcher/cmd_watch.c next.
 */
#include "launcher/dashboard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "common/client_query.h"
#include "common/client_session.h"
#include "common/clock.h"
#include "common/invariant.h"
#include "common/udp.h"
#include "launcher/dash_model.h"
#include "launcher/dash_source.h"
#include "launcher/dash_term.h"
#include "launcher/supervisor.h"
#include "launcher/trace_source.h"

#define DASH_KILL_MS 3000 /* The launcher answers once it is dead. */
#define DASH_FAULT_MS 500
#define DASH_WRITE_MS 3000
#define DASH_STOP_WAIT_MS 15000 /* The launcher's grace period and more. */
#define DASH_DUMP_MS 100

/* --- State ---------------------------------------------------------- */

struct dash {
    const struct dashboard_config *cfg;
    struct dash_source src;
    struct ev_ring events;
    /* The message trace (m, or watch --messages). */
    struct trace_source trace;
    bool tracing;
    struct trace_ring msgs;
    struct dash_view view;
    struct dash_screen *screen;
    struct dash_prompt prompt;
    char prompt_text[160];
    /* The write of "w". */
    int client_fd;
    bool client_ready;
    bool writing;
    struct client_session session;
    uint8_t *client_buf;
    struct wire_scratch *client_scratch;
    uint64_t write_started_ms;
    char write_key[32];
    char write_value[64];
    /* Frames. */
    uint64_t frame_next_ms;
    uint64_t second_start_ms;
    unsigned frames;
    const char *dump_path;
    uint64_t dump_next_ms;
    /* Ending. */
    bool quit;
    bool stopping;
    uint64_t stop_deadline_ms;
    bool child_exited;
    int child_status;
    /* The raftctl add or transfer that "a" or "t" started; 0: none. */
    pid_t member_pid;
    char member_cmd[16];
    char member_out[CDIR_PATH_MAX]; /* Its stdout and stderr. */
};

static void dash_on_event(void *ctx, const struct ev *e)
{
    struct dash *d = ctx;
    ev_ring_push(&d->events, e);
    if (d->cfg->rec != NULL) {
        recorder_event(d->cfg->rec, clock_now_ms(), e);
    }
}

/* Records what a key did, in the feed. */
static void dash_action(struct dash *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void dash_action(struct dash *d, const char *fmt, ...)
{
    struct ev e;
    ev_set(&e, dash_wall_ms(), EV_ACTION, RAFT_ID_NONE, 0, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof(e.text), fmt, ap);
    va_end(ap);
    ev_ring_push(&d->events, &e);
}

/* The launcher's reply line without "ok " or "err CODE ". */
static const char *dash_reply_text(const char *reply)
{
    if (strncmp(reply, "ok ", 3) == 0) {
        return reply + 3;
    }
    int used = 0;
    if (sscanf(reply, "err %*d %n", &used) == 0 && used > 0) {
        return reply + used;
    }
    return reply;
}

/* --- Key actions ---------------------------------------------------------- */

/* k ID: through the launcher (it reports the death); without one, SIGKILL
 * to the pid in the node's pid file. */
static void dash_do_kill(struct dash *d, raft_id id)
{
    char line[64], reply[512], errmsg[ERRMSG_LEN] = "";
    snprintf(line, sizeof(line), "kill %llu %d", (unsigned long long)id,
             SIGKILL);
    int rc = supervisor_request(d->cfg->dir, line, reply, sizeof(reply),
                                DASH_KILL_MS, errmsg);
    if (rc == ERR_OK) {
        dash_action(d, "k%llu: %s", (unsigned long long)id,
                    dash_reply_text(reply));
        return;
    }
    if (rc != ERR_NOT_FOUND) {
        dash_action(d, "k%llu: %s", (unsigned long long)id, errmsg);
        return;
    }
    pid_t pid = cdir_node_running(d->cfg->dir, id);
    if (pid > 0 && kill(pid, SIGKILL) == 0) {
        dash_action(d,
                    "k%llu: sent SIGKILL to node %llu (pid %ld); no "
                    "launcher to restart it",
                    (unsigned long long)id, (unsigned long long)id, (long)pid);
    } else {
        dash_action(d, "k%llu: node %llu is not running",
                    (unsigned long long)id, (unsigned long long)id);
    }
}

/* s ID: only the launcher starts nodes (they are its children). */
static void dash_do_start(struct dash *d, raft_id id)
{
    char line[64], reply[512], errmsg[ERRMSG_LEN] = "";
    snprintf(line, sizeof(line), "start %llu", (unsigned long long)id);
    int rc = supervisor_request(d->cfg->dir, line, reply, sizeof(reply),
                                DASH_KILL_MS, errmsg);
    dash_action(d, "s%llu: %s", (unsigned long long)id,
                rc == ERR_OK          ? dash_reply_text(reply)
                : rc == ERR_NOT_FOUND ? "no launcher runs for this cluster; "
                                        "'raftctl up' starts one"
                                      : errmsg);
}

/* i: the leader blocks everyone and everyone blocks the leader. */
static void dash_do_isolate(struct dash *d, uint64_t now_ms)
{
    const struct conf *conf = d->cfg->conf;
    int leader = dash_source_leader(&d->src, now_ms);
    if (leader < 0) {
        dash_action(d, "i: no leader to isolate");
        return;
    }
    raft_id lid = conf->members[leader].id;
    struct msg_fault rules[RAFT_NODES_MAX];
    memset(rules, 0, sizeof(rules));
    for (uint32_t i = 0; i < conf->n_members; i++) {
        rules[i].action = FAULT_PARTITION;
        if ((int)i != leader) {
            rules[i].blocked[rules[i].n_blocked++] = lid;
            rules[leader].blocked[rules[leader].n_blocked++] =
                conf->members[i].id;
        }
    }
    uint32_t mask = dash_source_up_mask(&d->src, now_ms), acked = 0;
    char errmsg[ERRMSG_LEN] = "";
    if (client_fault_send(conf, mask, rules, DASH_FAULT_MS, &acked, errmsg) !=
        ERR_OK) {
        dash_action(d, "i: %s", errmsg);
        return;
    }
    dash_action(d,
                "i: isolating leader n%llu from the others (%d of %u "
                "nodes took the rule)",
                (unsigned long long)lid, __builtin_popcount(acked),
                conf->n_members);
}

/* h: every answering node drops its partition and netem rules. */
static void dash_do_heal(struct dash *d, uint64_t now_ms)
{
    const struct conf *conf = d->cfg->conf;
    struct msg_fault rules[RAFT_NODES_MAX];
    memset(rules, 0, sizeof(rules));
    for (uint32_t i = 0; i < conf->n_members; i++) {
        rules[i].action = FAULT_HEAL;
    }
    uint32_t mask = dash_source_up_mask(&d->src, now_ms), acked = 0;
    char errmsg[ERRMSG_LEN] = "";
    if (client_fault_send(conf, mask, rules, DASH_FAULT_MS, &acked, errmsg) !=
        ERR_OK) {
        dash_action(d, "h: %s", errmsg);
        return;
    }
    dash_action(d, "h: healed %d of %u nodes", __builtin_popcount(acked),
                conf->n_members);
}

/* The client session of "w", opened on first use. */
static int dash_client_open(struct dash *d, char errmsg[ERRMSG_LEN])
{
    if (d->client_ready) {
        return ERR_OK;
    }
    d->client_buf = malloc(RAFT_DATAGRAM_MAX);
    d->client_scratch = malloc(sizeof(*d->client_scratch));
    if (d->client_buf == NULL || d->client_scratch == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        return ERR_NOMEM;
    }
    int rc = udp_open_client(&d->src.poll.addrs[0], &d->client_fd, errmsg);
    if (rc == ERR_OK) {
        rc = client_session_init(&d->session, d->cfg->conf, d->client_fd,
                                 errmsg);
        d->client_ready = rc == ERR_OK;
    }
    return rc;
}

/* w: put watch-NNNNNN through the client library, without blocking. */
static void dash_do_write(struct dash *d, uint64_t now_ms)
{
    char errmsg[ERRMSG_LEN] = "";
    if (d->writing) {
        dash_action(d, "w: the last write is still in flight");
        return;
    }
    if (dash_client_open(d, errmsg) != ERR_OK) {
        dash_action(d, "w: %s", errmsg);
        return;
    }
    char clock[32];
    ev_format_clock(dash_wall_ms(), clock, sizeof(clock));
    snprintf(d->write_key, sizeof(d->write_key), "watch-%06u",
             (unsigned)(clock_now_us() % 1000000));
    snprintf(d->write_value, sizeof(d->write_value), "written at %s", clock);
    struct client_request req = {
        .op = CLIENT_PUT,
        .key = (const uint8_t *)d->write_key,
        .key_len = (uint32_t)strlen(d->write_key),
        .value = (const uint8_t *)d->write_value,
        .value_len = (uint32_t)strlen(d->write_value),
    };
    int rc = client_session_start(&d->session, &req, DASH_WRITE_MS, now_ms);
    if (rc != ERR_OK) {
        dash_action(d, "w: %s", err_str(rc));
        return;
    }
    d->writing = true;
    d->write_started_ms = now_ms;
}

/* Feeds the write's replies and timeouts; reports its outcome. */
static void dash_write_progress(struct dash *d, uint64_t now_ms)
{
    if (!d->writing) {
        return;
    }
    struct client_session *sessions[1] = {&d->session};
    client_drain(d->client_fd, sessions, 1, d->client_buf, d->client_scratch,
                 now_ms);
    if (!client_session_done(&d->session) &&
        now_ms >= client_session_next_ms(&d->session)) {
        client_session_on_timeout(&d->session, now_ms);
    }
    if (!client_session_done(&d->session)) {
        return;
    }
    d->writing = false;
    if (d->session.err == ERR_OK &&
        d->session.status == CLIENT_SESSION_EXPIRED) {
        dash_action(d, "w: put %s: session expired; its outcome is unknown",
                    d->write_key);
    } else if (d->session.err == ERR_OK) {
        dash_action(d, "w: put %s committed in %llu ms", d->write_key,
                    (unsigned long long)(now_ms - d->write_started_ms));
    } else if (d->session.err == ERR_TIMEOUT) {
        dash_action(d,
                    "w: put %s: no leader answered in %d ms; its outcome "
                    "is unknown",
                    d->write_key, DASH_WRITE_MS);
    } else {
        dash_action(d, "w: put %s failed: %s", d->write_key,
                    err_str(d->session.err));
    }
}

/* a and t: raftctl add or transfer (they wait seconds) as a child whose
 * output goes to DIR/watch-member.out; its last line shows when it ends. */
static void dash_do_member(struct dash *d, const char *cmd)
{
    if (d->member_pid > 0) {
        dash_action(d, "%c: raftctl %s is still running", cmd[0],
                    d->member_cmd);
        return;
    }
    char exe[CDIR_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0 || cdir_file(d->cfg->dir, "watch-member.out", d->member_out,
                            sizeof(d->member_out)) != ERR_OK) {
        dash_action(d, "%c: cannot find raftctl or the directory", cmd[0]);
        return;
    }
    exe[n] = '\0';
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(d->member_out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in >= 0 && out >= 0) {
            dup2(in, 0);
            dup2(out, 1);
            dup2(out, 2);
            execl(exe, "raftctl", "-d", d->cfg->dir->path, cmd, (char *)NULL);
        }
        _exit(127);
    }
    if (pid < 0) {
        dash_action(d, "%c: fork: %s", cmd[0], strerror(errno));
        return;
    }
    d->member_pid = pid;
    snprintf(d->member_cmd, sizeof(d->member_cmd), "%s", cmd);
    dash_action(d, "%c: raftctl %s started", cmd[0], cmd);
}

/* Reports the end of the raftctl that a or t started. */
static void dash_check_member(struct dash *d)
{
    int status = 0;
    if (d->member_pid <= 0 ||
        waitpid(d->member_pid, &status, WNOHANG) != d->member_pid) {
        return;
    }
    d->member_pid = 0;
    char line[256] = "", last[256] = "";
    FILE *f = fopen(d->member_out, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(last, sizeof(last), "%s", line);
    }
    if (f != NULL) {
        fclose(f);
    }
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (strcmp(d->member_cmd, "add") == 0 && rc == 0) {
        dash_action(d, "a: node %s added (restart watch to see its panel)",
                    last);
    } else {
        dash_action(d, "%c: %s (exit %d)", d->member_cmd[0], last, rc);
    }
}

/* --- The loop ------------------------------------------------------------- */

/* Quit now (watch), or stop the cluster and quit once the launcher has
 * exited (foreground up). */
static void dash_begin_quit(struct dash *d, uint64_t now_ms)
{
    if (d->cfg->launcher_child <= 0) {
        d->quit = true;
        return;
    }
    if (!d->stopping) {
        d->stopping = true;
        d->stop_deadline_ms = now_ms + DASH_STOP_WAIT_MS;
        kill(d->cfg->launcher_child, SIGTERM);
        dash_action(d, "stopping the cluster");
    }
}

static void dash_on_signals(struct dash *d, uint64_t now_ms)
{
    if (dash_term_take_signals()) {
        dash_begin_quit(d, now_ms);
    }
}

/* Runs the action a key completed. */
static void dash_act(struct dash *d, int act, raft_id id, uint64_t now_ms)
{
    switch (act) {
    case DASH_ACT_KILL:
        dash_do_kill(d, id);
        break;
    case DASH_ACT_START:
        dash_do_start(d, id);
        break;
    case DASH_ACT_ISOLATE:
        dash_do_isolate(d, now_ms);
        break;
    case DASH_ACT_HEAL:
        dash_do_heal(d, now_ms);
        break;
    case DASH_ACT_WRITE:
        dash_do_write(d, now_ms);
        break;
    case DASH_ACT_ADD:
        dash_do_member(d, "add");
        break;
    case DASH_ACT_TRANSFER:
        dash_do_member(d, "transfer");
        break;
    case DASH_ACT_QUIT:
        dash_begin_quit(d, now_ms);
        break;
    case DASH_ACT_BAD_ID:
        dash_action(d, "no node %llu in this cluster", (unsigned long long)id);
        break;
    default:
        break;
    }
}

/* A traced message: into the pane's ring, and the recording (--record). */
static void dash_on_trace_msg(void *ctx, const struct trace_msg *m)
{
    struct dash *d = ctx;
    trace_ring_push(&d->msgs, m);
    if (d->cfg->rec != NULL) {
        recorder_trace_msg(d->cfg->rec, m);
    }
}

static void dash_on_trace_dropped(void *ctx, raft_id id, uint64_t count,
                                  uint64_t t_ms)
{
    struct dash *d = ctx;
    trace_ring_on_dropped(&d->msgs, id, count, t_ms);
    if (d->cfg->rec != NULL) {
        recorder_trace_dropped(d->cfg->rec, t_ms, id, count);
    }
}

/* m: starts the message trace (a lease on every member) or ends it. */
static void dash_toggle_trace(struct dash *d)
{
    if (d->tracing) {
        trace_source_close(&d->trace);
        d->tracing = false;
        d->view.msgs = NULL;
        return;
    }
    char errmsg[ERRMSG_LEN] = "";
    struct trace_source_cb cb = {dash_on_trace_msg, dash_on_trace_dropped, d};
    if (trace_source_open(&d->trace, d->cfg->conf, &cb, errmsg) != ERR_OK) {
        struct ev e;
        ev_set(&e, dash_wall_ms(), EV_INFO, RAFT_ID_NONE, 0,
               "message trace: %s", errmsg);
        ev_ring_push(&d->events, &e);
        return;
    }
    trace_ring_init(&d->msgs);
    d->tracing = true;
    d->view.msgs = &d->msgs;
}

static void dash_on_keys(struct dash *d, uint64_t now_ms)
{
    for (int k = 0; k < 64; k++) {
        int ch = dash_term_key();
        if (ch == DASH_TERM_NONE) {
            return;
        }
        if (ch == DASH_TERM_RESIZE) {
            d->frame_next_ms = now_ms;
            continue;
        }
        if (ch > 255) {
            continue;
        }
        if (ch == 'm' && d->prompt.cmd == 0) {
            dash_toggle_trace(d);
            d->frame_next_ms = now_ms;
            continue;
        }
        raft_id id = 0;
        int act = dash_prompt_key(&d->prompt, ch, d->cfg->conf,
                                  d->cfg->launcher_child > 0, &id);
        dash_act(d, act, id, now_ms);
        d->frame_next_ms = now_ms; /* Show the prompt at once. */
    }
}

/* Foreground up: the launcher's exit ends the dashboard. */
static void dash_check_child(struct dash *d, uint64_t now_ms)
{
    pid_t child = d->cfg->launcher_child;
    if (child <= 0 || d->child_exited) {
        return;
    }
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) {
        d->child_exited = true;
        d->child_status = status;
        d->quit = true;
    } else if (d->stopping && now_ms >= d->stop_deadline_ms) {
        d->quit = true;
    }
}

/* The screen as text to the RAFTCTL_WATCH_DUMP file (for tests). */
static void dash_dump(struct dash *d, uint64_t now_ms)
{
    if (d->dump_path == NULL || now_ms < d->dump_next_ms) {
        return;
    }
    d->dump_next_ms = now_ms + DASH_DUMP_MS;
    dash_term_dump(d->screen, d->dump_path);
}

static void dash_frame(struct dash *d, uint64_t now_ms)
{
    dash_source_view(&d->src, now_ms, &d->view);
    dash_prompt_text(&d->prompt, d->prompt_text, sizeof(d->prompt_text));
    d->view.prompt = d->prompt_text;
    d->view.stopping = d->stopping;
    dash_render(&d->view, dash_term_cols(), dash_term_rows(), d->screen);
    dash_term_paint(d->screen);
    dash_dump(d, now_ms);
    d->frames++;
    if (now_ms >= d->second_start_ms + 1000) {
        d->view.fps = d->frames;
        d->frames = 0;
        d->second_start_ms = now_ms;
    }
    d->frame_next_ms += DASH_FRAME_MS;
    if (d->frame_next_ms <= now_ms) {
        d->frame_next_ms = now_ms + DASH_FRAME_MS;
    }
}

/* The earliest of the next frame, the source's timers and the write's. */
static int dash_wait_ms(const struct dash *d, uint64_t now_ms)
{
    uint64_t next = d->frame_next_ms;
    uint64_t src = dash_source_next_ms(&d->src);
    next = src < next ? src : next;
    if (d->tracing) {
        uint64_t t = trace_source_next_ms(&d->trace, now_ms);
        next = t < next ? t : next;
    }
    if (d->writing) {
        uint64_t w = client_session_next_ms(&d->session);
        next = w < next ? w : next;
    }
    if (d->cfg->launcher_child > 0) {
        uint64_t child = now_ms + 100; /* waitpid() every 100 ms. */
        next = child < next ? child : next;
    }
    return next > now_ms ? (int)(next - now_ms) : 0;
}

static void dash_loop(struct dash *d)
{
    while (!d->quit) {
        struct pollfd pfds[4 + DASH_SOURCE_FDS];
        nfds_t n = 0;
        pfds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        pfds[n++] =
            (struct pollfd){.fd = dash_term_signal_fd(), .events = POLLIN};
        n += (nfds_t)dash_source_fds(&d->src, pfds + n);
        if (d->tracing) {
            n += (nfds_t)trace_source_fds(&d->trace, pfds + n);
        }
        if (d->writing) {
            pfds[n++] = (struct pollfd){.fd = d->client_fd, .events = POLLIN};
        }
        if (poll(pfds, n, dash_wait_ms(d, clock_now_ms())) < 0 &&
            errno != EINTR) {
            break;
        }
        uint64_t now_ms = clock_now_ms();
        dash_on_signals(d, now_ms);
        dash_on_keys(d, now_ms);
        dash_source_step(&d->src, now_ms, dash_wall_ms());
        if (d->tracing) {
            trace_source_step(&d->trace, now_ms, dash_wall_ms());
        }
        if (d->cfg->rec != NULL) {
            recorder_source_step(d->cfg->rec, &d->src, now_ms);
        }
        dash_write_progress(d, now_ms);
        dash_check_child(d, now_ms);
        dash_check_member(d);
        if (!d->quit && now_ms >= d->frame_next_ms) {
            dash_frame(d, now_ms);
        }
    }
}

bool dashboard_usable(void)
{
    return dash_term_usable();
}

/* Frees what dashboard_run allocated. */
static void dash_free(struct dash *d)
{
    dash_source_close(&d->src);
    if (d->tracing) {
        trace_source_close(&d->trace);
    }
    if (d->client_ready) {
        client_session_close(&d->session);
    }
    if (d->client_fd >= 0) {
        udp_close(d->client_fd);
    }
    free(d->client_buf);
    free(d->client_scratch);
    free(d->screen);
    free(d);
}

/* The exit code: watch 0; foreground up the launcher's. */
static int dash_exit_code(const struct dash *d)
{
    if (d->cfg->launcher_child <= 0) {
        return 0;
    }
    if (!d->child_exited) {
        fprintf(stderr,
                "raftctl: up: the launcher (pid %ld) has not "
                "stopped; see %s/launcher.log\n",
                (long)d->cfg->launcher_child, d->cfg->dir->shown);
        return 4;
    }
    printf("cluster at %s stopped (its events are in %s/launcher.log)\n",
           d->cfg->dir->shown, d->cfg->dir->shown);
    if (WIFEXITED(d->child_status)) {
        return WEXITSTATUS(d->child_status);
    }
    return 4;
}

int dashboard_run(const struct dashboard_config *cfg)
{
    struct dash *d = calloc(1, sizeof(*d));
    char errmsg[ERRMSG_LEN] = "";
    if (d == NULL || (d->screen = malloc(sizeof(*d->screen))) == NULL) {
        free(d);
        fprintf(stderr, "raftctl: watch: out of memory\n");
        return 4;
    }
    d->cfg = cfg;
    d->client_fd = -1;
    d->dump_path = getenv("RAFTCTL_WATCH_DUMP");
    ev_ring_init(&d->events);
    d->view.conf = cfg->conf;
    d->view.events = &d->events;
    d->view.owns_cluster = cfg->launcher_child > 0;
    snprintf(d->view.where, sizeof(d->view.where), "%.95s", cfg->dir->shown);
    int rc = dash_source_open(&d->src, cfg->conf, cfg->dir, dash_on_event, d,
                              errmsg);
    if (rc == ERR_OK) {
        rc = dash_term_open(errmsg);
    }
    if (rc != ERR_OK) {
        fprintf(stderr, "raftctl: watch: %s\n", errmsg);
        if (cfg->launcher_child > 0) {
            kill(cfg->launcher_child, SIGTERM);
            waitpid(cfg->launcher_child, NULL, 0);
        }
        dash_free(d);
        return 4;
    }
    if (cfg->messages) {
        dash_toggle_trace(d);
    }
    uint64_t now_ms = clock_now_ms();
    d->frame_next_ms = now_ms;
    d->second_start_ms = now_ms;
    dash_loop(d);
    dash_term_close();
    int code = dash_exit_code(d);
    dash_free(d);
    return code;
}
