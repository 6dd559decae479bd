/*
 * `raftctl web [--port P] [--replay FILE]` and the loop behind it and
 * `up --web` (launcher/web.h): a random token, the HTTP server, and either
 * the live cluster (status polls, the launcher's events and the message
 * trace, launcher/trace_source.h, turned into JSON lines) or a recording
 * read and checked line by line. Read
 * launcher/web_http.h next.
 */
#include "launcher/web.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/timers.h"
#include "launcher/dash_source.h"
#include "launcher/raftctl.h"
#include "launcher/trace_source.h"
#include "launcher/up_options.h"
#include "launcher/web_control.h"
#include "launcher/web_http.h"
#include "launcher/web_json.h"
#include "launcher/web_stream.h"

#define WEB_CHILD_STOP_MS 10000

static volatile sig_atomic_t web_stop;

static void web_on_signal(int signo)
{
    (void)signo;
    web_stop = 1;
}

static void web_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = web_on_signal; /* No SA_RESTART: poll() returns. */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* 16 random bytes as 32 hex characters. */
static int web_make_token(char token[WEB_TOKEN_HEX + 1])
{
    unsigned char raw[WEB_TOKEN_HEX / 2];
    if (sodium_init() < 0) {
        return ERR_IO;
    }
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(token, WEB_TOKEN_HEX + 1, raw, sizeof(raw));
    return ERR_OK;
}

/* --- Live ------------------------------------------------------------------- */

struct web_live {
    struct web_stream stream;
    struct dash_source src;
    const struct conf *conf;
    char faults[RAFT_NODES_MAX][WEB_FAULT_TEXT_MAX];
    uint64_t status_next_ms;
    struct trace_source trace; /* Messages, when `tracing`. */
    bool tracing;
};

/* An event from the launcher (or derived): its "t" from its wall clock. */
static void web_on_event(void *ctx, const struct ev *e)
{
    struct web_live *w = ctx;
    uint64_t t = web_stream_t(&w->stream);
    uint64_t wall = dash_wall_ms();
    uint64_t ago = wall > e->wall_ms ? wall - e->wall_ms : 0;
    char line[WEB_JSON_LINE_MAX];
    if (web_json_event(e, t > ago ? t - ago : 0, line, sizeof(line)) > 0) {
        web_stream_push(&w->stream, WEB_LINE_EVENT, 0, line);
    }
}

void web_on_trace_msg(void *live, const char *msg_line, uint64_t ago_ms)
{
    struct web_live *w = live;
    web_stream_push_msg(&w->stream, msg_line, ago_ms);
}

/* A traced message (launcher/trace_source.h) as its "msg" line. */
static void web_trace_msg(void *ctx, const struct trace_msg *m)
{
    char line[WEB_JSON_LINE_MAX];
    uint64_t now_ms = clock_now_ms();
    trace_msg_to_json(m, 0, line, sizeof(line));
    web_on_trace_msg(ctx, line, now_ms > m->t_ms ? now_ms - m->t_ms : 0);
}

static void web_trace_dropped(void *ctx, raft_id id, uint64_t count,
                              uint64_t t_ms)
{
    char line[WEB_JSON_LINE_MAX];
    uint64_t now_ms = clock_now_ms();
    trace_dropped_to_json(id, count, t_ms, 0, line, sizeof(line));
    web_on_trace_msg(ctx, line, now_ms > t_ms ? now_ms - t_ms : 0);
}

/* Every member's status line, and a fault line where its rules changed. */
static void web_push_status(struct web_live *w, uint64_t now_ms)
{
    static struct dash_view v; /* Large; one loop at a time. */
    memset(&v, 0, sizeof(v));
    v.conf = w->conf;
    dash_source_view(&w->src, now_ms, &v);
    uint64_t t = web_stream_t(&w->stream);
    char line[WEB_JSON_LINE_MAX];
    for (uint32_t i = 0; i < w->conf->n_members; i++) {
        const struct dash_node *n = &v.nodes[i];
        if (web_json_status(n, t, line, sizeof(line)) > 0) {
            web_stream_push(&w->stream, WEB_LINE_STATUS, n->id, line);
        }
        if (n->state != DASH_NODE_UP) {
            continue; /* A restarted node starts with no rules. */
        }
        char text[WEB_FAULT_TEXT_MAX];
        web_fault_text(&n->st, text, sizeof(text));
        if (strcmp(text, w->faults[i]) != 0) {
            snprintf(w->faults[i], sizeof(w->faults[i]), "%s", text);
            if (web_json_fault(n->id, text[0] != '\0' ? text : "healed", t,
                               line, sizeof(line)) > 0) {
                web_stream_push(&w->stream, WEB_LINE_FAULT, n->id, line);
            }
        }
    }
    w->status_next_ms = now_ms + WEB_STATUS_MS;
}

/* The launcher child of up --web: true once it exited (code in *code). */
static bool web_child_exited(pid_t child, int *code)
{
    int status = 0;
    if (child <= 0 || waitpid(child, &status, WNOHANG) != child) {
        return false;
    }
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : CTL_EXIT_ERROR;
    return true;
}

/* Asks the launcher child to stop the cluster and waits for it. */
static int web_child_stop(pid_t child)
{
    int code = CTL_EXIT_OK;
    kill(child, SIGTERM);
    uint64_t deadline_ms = clock_now_ms() + WEB_CHILD_STOP_MS;
    while (!web_child_exited(child, &code) && clock_now_ms() < deadline_ms) {
        poll(NULL, 0, 50);
    }
    return code;
}

/* Steps the source and pushes lines until a signal or the child's exit. */
static int web_live_loop(struct web_live *w, pid_t child)
{
    int code = CTL_EXIT_OK;
    while (!web_stop) {
        if (web_child_exited(child, &code)) {
            return code;
        }
        uint64_t now_ms = clock_now_ms();
        struct pollfd pfds[DASH_SOURCE_FDS + 1];
        int n = dash_source_fds(&w->src, pfds);
        uint64_t next = dash_source_next_ms(&w->src);
        if (w->status_next_ms < next) {
            next = w->status_next_ms;
        }
        if (w->tracing) {
            n += trace_source_fds(&w->trace, pfds + n);
            uint64_t t = trace_source_next_ms(&w->trace, now_ms);
            next = t < next ? t : next;
        }
        int wait = next > now_ms ? (int)(next - now_ms) : 0;
        if (poll(pfds, (nfds_t)n, wait < 200 ? wait : 200) < 0 &&
            errno != EINTR) {
            break;
        }
        now_ms = clock_now_ms();
        dash_source_step(&w->src, now_ms, dash_wall_ms());
        if (w->tracing) {
            trace_source_step(&w->trace, now_ms, dash_wall_ms());
        }
        if (now_ms >= w->status_next_ms) {
            web_push_status(w, now_ms);
        }
    }
    return child > 0 ? web_child_stop(child) : code;
}

/* The meta line: members and the timers from DIR/options. */
static void web_push_meta(struct web_live *w, const struct cdir *d)
{
    struct up_options o;
    char errmsg[ERRMSG_LEN] = "";
    uint32_t hb = NODE_HEARTBEAT_MS, el = NODE_ELECTION_MS;
    if (up_options_load(d, &o, errmsg) == ERR_OK) {
        hb =
            o.is_set[UP_OPT_HEARTBEAT] ? (uint32_t)o.val[UP_OPT_HEARTBEAT] : hb;
        el = o.is_set[UP_OPT_ELECTION] ? (uint32_t)o.val[UP_OPT_ELECTION] : el;
    }
    char line[WEB_JSON_LINE_MAX];
    if (web_json_meta(w->conf, "live", hb, el, line, sizeof(line)) > 0) {
        web_stream_push(&w->stream, WEB_LINE_META, 0, line);
    }
}

/* "{"mode":"live","dir":...}" or the replay's; the caller frees it. */
static char *web_info(const char *mode, const char *what)
{
    json_t *o = json_pack("{s:s,s:s}", "mode", mode, "name", what);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static void web_print_url(const struct web_http_config *h, const char *what)
{
    printf("web: %s at http://127.0.0.1:%u/?token=%s (Ctrl-C stops)\n", what,
           (unsigned)h->port, h->token);
    fflush(stdout);
}

static int web_run_live(const struct web_config *cfg,
                        struct web_http_config *hc)
{
    static struct web_live w;
    static struct web_control control;
    char errmsg[ERRMSG_LEN] = "";
    memset(&w, 0, sizeof(w));
    w.conf = cfg->conf;
    if (web_stream_init(&w.stream) != ERR_OK) {
        ctl_error("web: cannot set up the stream");
        return CTL_EXIT_ERROR;
    }
    web_push_meta(&w, cfg->dir);
    int code = CTL_EXIT_ERROR;
    struct web_http *http = NULL;
    char *info = web_info("live", cfg->dir->shown);
    if (info == NULL ||
        web_control_init(&control, cfg->dir, cfg->conf, &w.stream, errmsg) !=
            ERR_OK ||
        dash_source_open(&w.src, cfg->conf, cfg->dir, web_on_event, &w,
                         errmsg) != ERR_OK) {
        ctl_error("web: %s", errmsg[0] != '\0' ? errmsg : "out of memory");
        goto out;
    }
    hc->info_json = info;
    hc->conf = cfg->conf;
    hc->stream = &w.stream;
    hc->control = &control;
    if (web_http_start(&http, hc, errmsg) != ERR_OK) {
        ctl_error("web: %s", errmsg);
        goto out;
    }
    web_print_url(hc, cfg->dir->shown);
    /* The message trace (docs/TRACE.md): without it, no messages move. */
    struct trace_source_cb cb = {web_trace_msg, web_trace_dropped, &w};
    w.tracing = trace_source_open(&w.trace, cfg->conf, &cb, errmsg) == ERR_OK;
    if (!w.tracing) {
        ctl_error("web: no message trace: %s", errmsg);
    }
    code = web_live_loop(&w, cfg->launcher_child);
    if (w.tracing) {
        trace_source_close(&w.trace);
    }
out:
    web_stream_close(&w.stream);
    web_http_stop(http);
    dash_source_close(&w.src);
    web_stream_free(&w.stream);
    free(info);
    return code;
}

/* --- Replay ----------------------------------------------------------------- */

/* Keeps the lines of buf that are JSON objects with a number "t" and a
 * string "k" (the shared format), compacting buf in place. Returns how
 * many were kept; *skipped counts the others, *last_t the largest t. */
static size_t web_replay_check(char *buf, size_t *len, size_t *skipped,
                               double *last_t)
{
    size_t kept = 0, out = 0, pos = 0;
    while (pos < *len) {
        char *nl = memchr(buf + pos, '\n', *len - pos);
        size_t n = (nl != NULL ? (size_t)(nl - buf) : *len) - pos;
        json_t *o = n > 0 ? json_loadb(buf + pos, n, 0, NULL) : NULL;
        json_t *t = json_object_get(o, "t");
        if (json_is_number(t) && json_is_string(json_object_get(o, "k"))) {
            memmove(buf + out, buf + pos, n);
            out += n;
            buf[out++] = '\n';
            kept++;
            *last_t =
                json_number_value(t) > *last_t ? json_number_value(t) : *last_t;
        } else if (n > 0) {
            (*skipped)++;
        }
        json_decref(o);
        pos += n + 1;
    }
    *len = out;
    return kept;
}

static int web_run_replay(const struct web_config *cfg,
                          struct web_http_config *hc)
{
    FILE *f = fopen(cfg->replay_path, "rb");
    if (f == NULL) {
        ctl_error("web: cannot open %s: %s", cfg->replay_path, strerror(errno));
        return CTL_EXIT_ERROR;
    }
    char *buf = malloc(WEB_RECORDING_MAX + 1);
    size_t len = buf != NULL ? fread(buf, 1, WEB_RECORDING_MAX + 1, f) : 0;
    fclose(f);
    if (buf == NULL || len > WEB_RECORDING_MAX) {
        ctl_error("web: %s is larger than %u MiB", cfg->replay_path,
                  WEB_RECORDING_MAX >> 20);
        free(buf);
        return CTL_EXIT_ERROR;
    }
    size_t skipped = 0;
    double last_t = 0;
    size_t kept = web_replay_check(buf, &len, &skipped, &last_t);
    if (kept == 0) {
        ctl_error("web: %s holds no line of the recording format",
                  cfg->replay_path);
        free(buf);
        return CTL_EXIT_ERROR;
    }
    char *info = web_info("replay", cfg->replay_path);
    hc->recording = buf;
    hc->recording_len = len;
    hc->info_json = info != NULL ? info : "{\"mode\":\"replay\"}";
    struct web_http *http = NULL;
    char errmsg[ERRMSG_LEN] = "";
    int code = CTL_EXIT_ERROR;
    if (web_http_start(&http, hc, errmsg) != ERR_OK) {
        ctl_error("web: %s", errmsg);
    } else {
        printf("web: %s: %zu lines over %.1f s (%zu malformed skipped)\n",
               cfg->replay_path, kept, last_t / 1000.0, skipped);
        web_print_url(hc, "replay");
        while (!web_stop) {
            poll(NULL, 0, 200);
        }
        code = CTL_EXIT_OK;
    }
    web_http_stop(http);
    free(info);
    free(buf);
    return code;
}

int web_run(const struct web_config *cfg)
{
    struct web_http_config hc;
    memset(&hc, 0, sizeof(hc));
    hc.port = cfg->port;
    if (web_make_token(hc.token) != ERR_OK) {
        ctl_error("web: cannot initialise libsodium");
        return CTL_EXIT_ERROR;
    }
    web_signals();
    return cfg->replay_path != NULL ? web_run_replay(cfg, &hc)
                                    : web_run_live(cfg, &hc);
}

int cmd_web(int argc, char **argv, const char *dir)
{
    static const struct ctl_opt opts[] = {{"--port", "-p", true},
                                          {"--replay", NULL, true}};
    struct ctl_args a = {.cmd = "web", .dir = dir};
    int rc = ctl_parse(argc, argv, opts, 2, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    uint64_t port = WEB_PORT_DEFAULT;
    if (a.n_pos != 0 ||
        (a.given[0] && ctl_parse_u64(a.val[0], 1, 65535, &port) != ERR_OK)) {
        ctl_error("usage: raftctl web [--port P] [--replay FILE] (P from 1 to "
                  "65535, default %d)",
                  WEB_PORT_DEFAULT);
        return CTL_EXIT_USAGE;
    }
    struct web_config cfg = {.port = (uint16_t)port};
    if (a.given[1]) {
        cfg.replay_path = a.val[1];
        return web_run(&cfg);
    }
    static struct cdir d;
    static struct conf conf;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    cfg.dir = &d;
    cfg.conf = &conf;
    return web_run(&cfg);
}
