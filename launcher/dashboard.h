/*
 * The full-screen ncurses dashboard of `raftctl watch` and of a foreground
 * `raftctl up` on a terminal: it polls the nodes (launcher/dash_source.c),
 * draws the rendering model (launcher/dash_model.c) about 20 times a
 * second, and acts on keys (kill, start, isolate the leader, heal, write).
 * It always gives the terminal back: on return, on a terminating signal and
 * on a crash. Read launcher/dashboard.c next.
 */
#ifndef RAFT_LAUNCHER_DASHBOARD_H
#define RAFT_LAUNCHER_DASHBOARD_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/conf.h"
#include "launcher/cluster_dir.h"
#include "launcher/recorder.h"

#define DASH_FRAME_MS 50 /* 20 frames a second. */

struct dashboard_config {
    const struct cdir *dir;  /* Borrowed. */
    struct conf *conf;       /* Borrowed; its members follow the cluster's
                                 configuration (dash_source_open). */
    pid_t launcher_child;    /* Foreground up: the launcher we forked; q
                                 (confirmed) or Ctrl-C stops it, and its exit
                                 ends the dashboard. 0 for watch. */
    bool messages;           /* Show the message trace (m toggles it). */
    struct recorder *rec;    /* watch --record: begun; or NULL. */
};

/* True when stdin and stdout are terminals and terminfo knows TERM (else
 * callers print plain event lines). */
bool dashboard_usable(void);

/* Runs until q, a terminating signal, or (foreground up) the launcher's
 * exit. Returns an exit code: for foreground up the launcher's. */
int dashboard_run(const struct dashboard_config *cfg);

#endif
