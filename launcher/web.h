/*
 * `raftctl web` and `raftctl up --web`: the cluster (or a recording) as a
 * page in the browser. The main loop polls the members through the
 * dashboard's source (launcher/dash_source.h) and pushes status, fault and
 * event lines into the stream (launcher/web_stream.h) that the HTTP server
 * (launcher/web_http.h) serves. docs/WEB.md shows it. Read launcher/web.c
 * next.
 */
#ifndef RAFT_LAUNCHER_WEB_H
#define RAFT_LAUNCHER_WEB_H

#include <stdint.h>
#include <sys/types.h>

#include "common/conf.h"
#include "launcher/cluster_dir.h"

#define WEB_PORT_DEFAULT 7080
#define WEB_STATUS_MS 100              /* Status lines per member. */
#define WEB_RECORDING_MAX (256u << 20) /* A recording read for replay. */

struct web_config {
    const struct cdir *dir;  /* Live: borrowed; NULL for a replay. */
    struct conf *conf;       /* Live: borrowed. */
    const char *replay_path; /* A recording to replay, or NULL. */
    uint16_t port;
    pid_t launcher_child; /* up --web: the launcher we forked (its exit
                             ends the page; a signal stops it). 0 else. */
};

/* The message trace's entry point (web.c feeds it from
 * launcher/trace_source.c): msg_line is one "msg" or "trace_dropped" line
 * of the shared format, sent ago_ms before now; live is web.c's state. It
 * goes to every page, its "t" on the page's clock (web_stream_push_msg). */
void web_on_trace_msg(void *live, const char *msg_line, uint64_t ago_ms);

/* Serves until a terminating signal (or the launcher child's exit).
 * Returns an exit code. */
int web_run(const struct web_config *cfg);

#endif
