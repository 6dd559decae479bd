/*
 * `raftctl watch`: the dashboard on a terminal (launcher/dashboard.c); the
 * event feed as plain lines when stdout is not a terminal; one rendered
 * frame as text with --dump (scripts, the README). --messages adds the
 * message trace (launcher/trace_source.h): a pane of the newest messages,
 * or in plain mode one "msg" line per message. `raftctl trace [--json]
 * [--for SECONDS]` prints only the messages, one line each, or the shared
 * recording lines (docs/TRACE.md). Also the foreground
 * `up` on a terminal: the launcher runs in a child process (its lines go to
 * DIR/launcher.log) while this process shows the dashboard. Read
 * launcher/bench.h next.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "launcher/cluster_dir.h"
#include "launcher/dash_model.h"
#include "launcher/dash_source.h"
#include "launcher/dashboard.h"
#include "launcher/raftctl.h"
#include "launcher/trace_source.h"
#include "launcher/recorder.h"

#define WATCH_DUMP_MS 1200 /* Polls before a --dump frame. */
#define WATCH_DUMP_COLS 100
#define WATCH_DUMP_ROWS 30
#define TRACE_FOR_MAX_S 86400 /* trace --for, at most a day. */

enum {
    WATCH_DUMP,
    WATCH_SIZE,
    WATCH_RECORD,
    WATCH_RECORD_MAX,
    WATCH_MESSAGES,
    WATCH__COUNT
};

static const struct ctl_opt watch_opts[] = {
    [WATCH_DUMP] = {"--dump", NULL, false},
    [WATCH_SIZE] = {"--size", NULL, true},
    [WATCH_RECORD] = {"--record", NULL, true},
    [WATCH_RECORD_MAX] = {"--record-max", NULL, true},
    [WATCH_MESSAGES] = {"--messages", NULL, false},
};

static volatile sig_atomic_t watch_stop;

static void watch_on_signal(int signo)
{
    (void)signo;
    watch_stop = 1;
}

/* SIGINT, SIGTERM and SIGHUP end the loop (plain lines and trace). */
static void watch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watch_on_signal; /* No SA_RESTART: poll() returns. */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* Plain mode: each event as "HH:MM:SS.mmm text" (and recorded with
 * --record: ctx is the recorder or NULL). */
static void watch_print_event(void *ctx, const struct ev *e)
{
    if (ctx != NULL) {
        recorder_event(ctx, clock_now_ms(), e);
    }
    char clock[32];
    ev_format_clock(e->wall_ms, clock, sizeof(clock));
    printf("%s %s\n", clock, e->text);
    fflush(stdout);
}

/* How messages print: watch's plain lines ("HH:MM:SS.mmm msg 1->3 ..."),
 * trace's ("HH:MM:SS.mmm 1->3 ..."), or trace --json's recording lines. */
struct watch_msg_out {
    const char *tag; /* "msg " or "". */
    bool json;
    uint64_t start_ms;    /* Monotonic; "t" counts from here. */
    struct recorder *rec; /* watch --record: messages recorded too. */
};

static void watch_print_msg(void *ctx, const struct trace_msg *m)
{
    const struct watch_msg_out *o = ctx;
    if (o->rec != NULL) {
        recorder_trace_msg(o->rec, m);
    }
    char line[256];
    if (o->json) {
        trace_msg_to_json(m, o->start_ms, line, sizeof(line));
        printf("%s\n", line);
        return;
    }
    char clock[32];
    ev_format_clock(m->wall_ms, clock, sizeof(clock));
    trace_msg_text(m, line, sizeof(line));
    printf("%s %s%s\n", clock, o->tag, line);
}

static void watch_print_dropped(void *ctx, raft_id id, uint64_t count,
                                uint64_t t_ms)
{
    const struct watch_msg_out *o = ctx;
    if (o->rec != NULL) {
        recorder_trace_dropped(o->rec, t_ms, id, count);
    }
    char line[128];
    if (o->json) {
        trace_dropped_to_json(id, count, t_ms, o->start_ms, line, sizeof(line));
        printf("%s\n", line);
        return;
    }
    char clock[32];
    ev_format_clock(dash_wall_ms(), clock, sizeof(clock));
    printf("%s %snode %llu: trace budget dropped %llu message(s)\n", clock,
           o->tag, (unsigned long long)id, (unsigned long long)count);
}

/* --dump keeps the events for the frame. */
static void watch_keep_event(void *ctx, const struct ev *e)
{
    ev_ring_push(ctx, e);
}

/* Steps the sources (ts may be NULL, src too for trace) until the
 * deadline (0: until a signal), flushing stdout after each step; rec:
 * NULL or the recorder to give status rounds. Errors: CTL_EXIT_ERROR when
 * poll() or stdout fails. */
static int watch_run_source(struct dash_source *src, struct trace_source *ts,
                            uint64_t until_ms, struct recorder *rec)
{
    while (!watch_stop) {
        uint64_t now_ms = clock_now_ms();
        if (until_ms != 0 && now_ms >= until_ms) {
            break;
        }
        struct pollfd pfds[DASH_SOURCE_FDS + 1];
        int n = 0;
        uint64_t next = UINT64_MAX;
        if (src != NULL) {
            n += dash_source_fds(src, pfds);
            next = dash_source_next_ms(src);
        }
        if (ts != NULL) {
            n += trace_source_fds(ts, pfds + n);
            uint64_t t = trace_source_next_ms(ts, now_ms);
            next = t < next ? t : next;
        }
        if (until_ms != 0 && until_ms < next) {
            next = until_ms;
        }
        if (rec != NULL && rec->next_round_ms < next) {
            next = rec->next_round_ms;
        }
        int wait = next > now_ms + 1000 ? 1000 : (int)(next - now_ms);
        if (poll(pfds, (nfds_t)n, next > now_ms ? wait : 0) < 0 &&
            errno != EINTR) {
            return CTL_EXIT_ERROR;
        }
        if (src != NULL) {
            dash_source_step(src, clock_now_ms(), dash_wall_ms());
        }
        if (ts != NULL) {
            trace_source_step(ts, clock_now_ms(), dash_wall_ms());
        }
        if (rec != NULL && src != NULL) {
            recorder_source_step(rec, src, clock_now_ms());
        }
        if (fflush(stdout) != 0) {
            return CTL_EXIT_ERROR;
        }
    }
    return CTL_EXIT_OK;
}

/* Opens the trace source; false (reported) when it cannot be. */
static bool watch_open_trace(const char *cmd, struct trace_source *ts,
                             const struct conf *conf,
                             const struct trace_source_cb *cb)
{
    char errmsg[ERRMSG_LEN] = "";
    if (trace_source_open(ts, conf, cb, errmsg) != ERR_OK) {
        ctl_error("%s: %s", cmd, errmsg);
        return false;
    }
    return true;
}

/* "100x30" into cols and rows. */
static int watch_parse_size(const char *text, int *cols, int *rows)
{
    unsigned c = 0, r = 0;
    char tail = 0;
    if (text == NULL || sscanf(text, "%ux%u%c", &c, &r, &tail) != 2 || c < 1 ||
        c > DASH_COLS_MAX || r < 1 || r > DASH_ROWS_MAX) {
        ctl_error("watch: --size takes COLSxROWS, at most %dx%d", DASH_COLS_MAX,
                  DASH_ROWS_MAX);
        return CTL_EXIT_USAGE;
    }
    *cols = (int)c;
    *rows = (int)r;
    return CTL_EXIT_OK;
}

/* --dump: polls for a moment, prints one frame as text. */
static int watch_dump(const struct cdir *d, struct conf *conf, int cols,
                      int rows, bool messages)
{
    struct ev_ring *ring = malloc(sizeof(*ring));
    struct trace_ring *msgs = malloc(sizeof(*msgs));
    struct dash_screen *screen = malloc(sizeof(*screen));
    static struct trace_source ts;
    struct dash_source src;
    char errmsg[ERRMSG_LEN] = "";
    int code = CTL_EXIT_ERROR;
    if (ring == NULL || msgs == NULL || screen == NULL) {
        ctl_error("watch: out of memory");
        goto out;
    }
    ev_ring_init(ring);
    trace_ring_init(msgs);
    struct trace_source_cb cb = {trace_ring_on_msg, trace_ring_on_dropped,
                                 msgs};
    if (messages && !watch_open_trace("watch", &ts, conf, &cb)) {
        goto out;
    }
    if (dash_source_open(&src, conf, d, watch_keep_event, ring, errmsg) !=
        ERR_OK) {
        ctl_error("watch: %s", errmsg);
        dash_source_close(&src);
        if (messages) {
            trace_source_close(&ts);
        }
        goto out;
    }
    (void)watch_run_source(&src, messages ? &ts : NULL,
                           clock_now_ms() + WATCH_DUMP_MS, NULL);
    if (messages) {
        trace_source_close(&ts); /* Delivers what it held. */
    }
    struct dash_view v;
    memset(&v, 0, sizeof(v));
    v.conf = conf;
    v.events = ring;
    v.msgs = messages ? msgs : NULL;
    snprintf(v.where, sizeof(v.where), "%.95s", d->shown);
    dash_source_view(&src, clock_now_ms(), &v);
    dash_render(&v, cols, rows, screen);
    char line[DASH_COLS_MAX + 1];
    for (int r = 0; r < screen->rows; r++) {
        dash_screen_line(screen, r, line, sizeof(line));
        printf("%s\n", line);
    }
    dash_source_close(&src);
    code = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
out:
    free(ring);
    free(msgs);
    free(screen);
    return code;
}

/* Not a terminal: the event feed (and messages) as plain lines until a
 * signal; rec: NULL or the recorder (events, status rounds, messages). */
static int watch_plain(const struct cdir *d, struct conf *conf, bool messages,
                       struct recorder *rec)
{
    watch_signals();
    struct dash_source src;
    static struct trace_source ts;
    char errmsg[ERRMSG_LEN] = "";
    struct watch_msg_out out = {.tag = "msg ", .json = false, .rec = rec};
    struct trace_source_cb cb = {watch_print_msg, watch_print_dropped, &out};
    if (messages && !watch_open_trace("watch", &ts, conf, &cb)) {
        return CTL_EXIT_ERROR;
    }
    if (dash_source_open(&src, conf, d, watch_print_event, rec, errmsg) !=
        ERR_OK) {
        ctl_error("watch: %s", errmsg);
        dash_source_close(&src);
        if (messages) {
            trace_source_close(&ts);
        }
        return CTL_EXIT_ERROR;
    }
    int rc = watch_run_source(&src, messages ? &ts : NULL, 0, rec);
    dash_source_close(&src);
    if (messages) {
        trace_source_close(&ts);
    }
    return rc;
}

/* trace --json: the recording's first line, what the cluster is. */
static void trace_print_meta(const struct conf *conf)
{
    printf("{\"t\":0,\"k\":\"meta\",\"v\":1,\"source\":\"live\",\"members\":[");
    for (uint32_t i = 0; i < conf->n_members; i++) {
        const struct conf_member *m = &conf->members[i];
        printf("%s{\"id\":%llu,\"addr\":\"%s:%u\"}", i > 0 ? "," : "",
               (unsigned long long)m->id, m->host, (unsigned)m->port);
    }
    printf("]}\n");
}

enum { TRACE_JSON, TRACE_FOR };

static const struct ctl_opt trace_opts[] = {
    [TRACE_JSON] = {"--json", NULL, false},
    [TRACE_FOR] = {"--for", NULL, true},
};

int cmd_trace(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "trace", .dir = dir};
    int rc = ctl_parse(argc, argv, trace_opts, 2, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    uint64_t for_s = 0;
    if (a.n_pos != 0 ||
        (a.given[TRACE_FOR] &&
         ctl_parse_u64(a.val[TRACE_FOR], 1, TRACE_FOR_MAX_S, &for_s) != 0)) {
        ctl_error("usage: raftctl trace [--json] [--for SECONDS (1-%d)]",
                  TRACE_FOR_MAX_S);
        return CTL_EXIT_USAGE;
    }
    static struct cdir d;
    static struct conf conf;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    watch_signals();
    signal(SIGPIPE, SIG_IGN); /* A closed pipe: stdout fails, we stop. */
    struct watch_msg_out out = {
        .tag = "", .json = a.given[TRACE_JSON], .start_ms = clock_now_ms()};
    struct trace_source_cb cb = {watch_print_msg, watch_print_dropped, &out};
    static struct trace_source ts;
    if (!watch_open_trace("trace", &ts, &conf, &cb)) {
        return CTL_EXIT_ERROR;
    }
    if (out.json) {
        trace_print_meta(&conf);
    }
    uint64_t until = for_s != 0 ? out.start_ms + for_s * 1000 : 0;
    rc = watch_run_source(NULL, &ts, until, NULL);
    trace_source_close(&ts); /* Delivers what it held, ends the leases. */
    if (fflush(stdout) != 0) {
        rc = CTL_EXIT_ERROR;
    }
    return rc;
}

int cmd_watch(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "watch", .dir = dir};
    int rc = ctl_parse(argc, argv, watch_opts, WATCH__COUNT, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 0 || (a.given[WATCH_DUMP] && a.given[WATCH_RECORD])) {
        ctl_error("usage: raftctl watch [--messages] [--dump [--size "
                  "COLSxROWS]] [--record FILE [--record-max MB]]");
        return CTL_EXIT_USAGE;
    }
    uint64_t record_mb = 0;
    rc = recorder_args("watch", a.val[WATCH_RECORD], a.val[WATCH_RECORD_MAX],
                       &record_mb);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    int cols = WATCH_DUMP_COLS, rows = WATCH_DUMP_ROWS;
    if (a.given[WATCH_SIZE] &&
        watch_parse_size(a.val[WATCH_SIZE], &cols, &rows) != CTL_EXIT_OK) {
        return CTL_EXIT_USAGE;
    }
    static struct cdir d;
    static struct conf conf;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    bool messages = a.given[WATCH_MESSAGES];
    if (a.given[WATCH_DUMP]) {
        return watch_dump(&d, &conf, cols, rows, messages);
    }
    static struct recorder rec;
    struct recorder *recp = NULL;
    if (a.given[WATCH_RECORD]) {
        char errmsg[ERRMSG_LEN] = "";
        struct up_options opts;
        if (up_options_load(&d, &opts, errmsg) != ERR_OK) {
            memset(&opts, 0, sizeof(opts)); /* Timers: the defaults. */
        }
        if (recorder_open(&rec, a.val[WATCH_RECORD], record_mb, errmsg) !=
            ERR_OK) {
            ctl_error("watch: --record %s", errmsg);
            return CTL_EXIT_ERROR;
        }
        recorder_begin(&rec, &conf, &opts, clock_now_ms(), dash_wall_ms());
        recp = &rec;
    }
    if (!dashboard_usable()) {
        rc = watch_plain(&d, &conf, messages, recp);
    } else {
        struct dashboard_config cfg = {.dir = &d,
                                       .conf = &conf,
                                       .launcher_child = 0,
                                       .rec = recp,
                                       .messages = messages};
        rc = dashboard_run(&cfg);
    }
    if (recp != NULL) {
        recorder_close(recp);
    }
    return rc;
}
