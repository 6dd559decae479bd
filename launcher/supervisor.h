/*
 * The launcher: one process that is the parent of every raftnode of a
 * cluster directory. It starts the nodes, notices each death (SIGCHLD, also
 * from a hand-typed kill -9) and logs it, never restarts a node on its own,
 * prints leader changes, and serves other raftctl invocations (kill, start,
 * down) on DIR/launcher.sock. Protocol: one request line per connection
 * ("ping", "kill ID SIGNUM", "start ID", "down"), one reply line
 * ("ok TEXT" or "err EXITCODE TEXT"). Read launcher/supervisor_int.h next.
 */
#ifndef RAFT_LAUNCHER_SUPERVISOR_H
#define RAFT_LAUNCHER_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "launcher/cluster_dir.h"
#include "launcher/recorder.h"
#include "launcher/up_options.h"

/* Longest "err MESSAGE" line the launcher sends to a waiting `up`. */
#define SUPERVISOR_MSG_MAX 2048

struct supervisor_config {
    struct cdir dir;
    struct conf conf;
    char raftnode[CDIR_PATH_MAX]; /* The raftnode binary to exec. */
    bool fresh;                   /* cluster.conf was just created: pass
                                      --create, and remove it on failure. */
    struct up_options opts;       /* Unset: raftnode's defaults. */
    int lock_fd;                  /* Holds the launcher lock; owned. */
    int ready_fd;                 /* --detach: "ok"/"err ..." goes here
                                      once every node answers; else -1. */
    struct recorder *rec;         /* up --record: open, not begun; or
                                      NULL. The launcher writes to it. */
};

/* Runs the launcher until the cluster is stopped (down, SIGINT, SIGTERM)
 * or fails to start. Prints event lines on stdout. Returns the exit code. */
int supervisor_run(const struct supervisor_config *cfg);

/* Sends one request line to DIR's launcher (launcher/supervisor_client.c) and reads its reply line into
 * reply (without the newline). Errors: ERR_NOT_FOUND (no launcher
 * listening), ERR_TIMEOUT, ERR_IO; errmsg says what failed. */
int supervisor_request(const struct cdir *d, const char *line, char *reply,
                       size_t cap, uint32_t timeout_ms,
                       char errmsg[ERRMSG_LEN]);

struct sockaddr_un;
/* DIR/launcher.sock as a unix socket address. Errors: ERR_TOO_BIG (the path
 * does not fit sun_path; errmsg says so). */
int supervisor_sock_addr(const struct cdir *d, struct sockaddr_un *out,
                         char errmsg[ERRMSG_LEN]);

#endif
