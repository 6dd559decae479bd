/*
 * `raftctl trace [--json] [--for SECONDS]`: the messages the members send,
 * as they happen (launcher/trace_source.h): one line each,
 * "HH:MM:SS.mmm 1->3 append t5 i120+64", or with --json the shared
 * recording lines (a "meta" line, then "msg" and "trace_dropped" lines;
 * docs/TRACE.md), until a signal or for SECONDS. Read launcher/bench.h
 * next.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "launcher/cluster_dir.h"
#include "launcher/dash_source.h"
#include "launcher/events.h"
#include "launcher/raftctl.h"
#include "launcher/trace_source.h"

#define TRACE_FOR_MAX_S 86400

enum { TRACE_JSON, TRACE_FOR };

static const struct ctl_opt trace_opts[] = {
    [TRACE_JSON] = {"--json", NULL, false},
    [TRACE_FOR] = {"--for", NULL, true},
};

static volatile sig_atomic_t trace_stop;

static void trace_on_signal(int signo)
{
    (void)signo;
    trace_stop = 1;
}

struct trace_out {
    bool json;
    uint64_t start_ms; /* Monotonic; "t" counts from here. */
};

static void trace_print_msg(void *ctx, const struct trace_msg *m)
{
    const struct trace_out *o = ctx;
    char line[256];
    if (o->json) {
        trace_msg_to_json(m, o->start_ms, line, sizeof line);
        printf("%s\n", line);
        return;
    }
    char clock[32];
    ev_format_clock(m->wall_ms, clock, sizeof clock);
    trace_msg_text(m, line, sizeof line);
    printf("%s %s\n", clock, line);
}

static void trace_print_dropped(void *ctx, raft_id id, uint64_t count,
                                uint64_t t_ms)
{
    const struct trace_out *o = ctx;
    if (o->json) {
        char line[128];
        trace_dropped_to_json(id, count, t_ms, o->start_ms, line, sizeof line);
        printf("%s\n", line);
    } else {
        printf("node %llu: trace budget dropped %llu message(s)\n",
               (unsigned long long)id, (unsigned long long)count);
    }
}

/* The recording's first line: what the cluster is. */
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

static void trace_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = trace_on_signal; /* No SA_RESTART: poll() returns. */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Steps the source until a signal, the deadline (0: none), or stdout
 * fails. */
static int trace_run(struct trace_source *ts, uint64_t until_ms)
{
    while (!trace_stop) {
        uint64_t now_ms = clock_now_ms();
        if (until_ms != 0 && now_ms >= until_ms) {
            break;
        }
        struct pollfd pfd;
        trace_source_fds(ts, &pfd);
        uint64_t next = trace_source_next_ms(ts, now_ms);
        if (until_ms != 0 && until_ms < next) {
            next = until_ms;
        }
        int wait = next > now_ms ? (int)(next - now_ms) : 0;
        if (poll(&pfd, 1, wait) < 0 && errno != EINTR) {
            return CTL_EXIT_ERROR;
        }
        trace_source_step(ts, clock_now_ms(), dash_wall_ms());
        if (fflush(stdout) != 0) {
            return CTL_EXIT_ERROR;
        }
    }
    return CTL_EXIT_OK;
}

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
    trace_signals();
    struct trace_out out = {.json = a.given[TRACE_JSON],
                            .start_ms = clock_now_ms()};
    struct trace_source_cb cb = {trace_print_msg, trace_print_dropped, &out};
    static struct trace_source ts;
    char errmsg[ERRMSG_LEN] = "";
    if (trace_source_open(&ts, &conf, &cb, errmsg) != ERR_OK) {
        ctl_error("trace: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    if (out.json) {
        trace_print_meta(&conf);
    }
    uint64_t until = for_s != 0 ? out.start_ms + for_s * 1000 : 0;
    rc = trace_run(&ts, until);
    trace_source_close(&ts);
    if (fflush(stdout) != 0) {
        rc = CTL_EXIT_ERROR;
    }
    return rc;
}
