/*
 * The page's controls: kill, start, isolate, heal, write and timeout, each
 * run as the raftctl command a person would type (`raftctl -d DIR kill 3`,
 * `partition 3 1,2,4,5`, `heal`, `put`, `transfer 3`), so the page acts
 * through the same code path, launcher and keys as raftctl. The command's
 * output becomes an "action" event in the stream. Called from the HTTP
 * connection threads. Read launcher/web_http.h next.
 */
#ifndef RAFT_LAUNCHER_WEB_CONTROL_H
#define RAFT_LAUNCHER_WEB_CONTROL_H

#include <pthread.h>
#include <stddef.h>

#include "common/conf.h"
#include "launcher/cluster_dir.h"
#include "launcher/web_stream.h"

#define WEB_CONTROL_RUNNING_MAX 4 /* Commands at once; more: busy. */
#define WEB_CONTROL_WAIT_MS 20000 /* Then the command is killed. */
#define WEB_CONTROL_OUT_MAX 512
#define WEB_KEY_MAX 256
#define WEB_VALUE_MAX 1024

enum web_action {
    WEB_ACT_KILL = 0,
    WEB_ACT_START,
    WEB_ACT_ISOLATE, /* Partition id from all the others. */
    WEB_ACT_HEAL,
    WEB_ACT_WRITE,   /* put key value */
    WEB_ACT_TIMEOUT, /* transfer id: id's election timer fires now. */
    WEB_ACT__COUNT
};

struct web_control {
    char raftctl[CDIR_PATH_MAX]; /* This binary. */
    char dir[CDIR_PATH_MAX];
    const struct conf *conf;   /* Borrowed. */
    struct web_stream *stream; /* Borrowed; gets the action events. */
    pthread_mutex_t lock;
    int n_running;
};

/* The action named by a URL path word ("kill"), or -1. */
int web_action_parse(const char *word);
/* Whether the action names a member (id). */
bool web_action_needs_id(int act);

/* Errors: ERR_IO (errmsg: /proc/self/exe). */
int web_control_init(struct web_control *c, const struct cdir *d,
                     const struct conf *conf, struct web_stream *stream,
                     char errmsg[ERRMSG_LEN]);
void web_control_close(struct web_control *c);

/* Runs the action and waits for it; id is a member (checked by the caller
 * with conf_find) or 0; key and value only for WEB_ACT_WRITE. Sets *code to
 * the command's exit code and out to its output (last lines). Errors:
 * ERR_BUSY (too many running), ERR_IO (spawn failed). */
int web_control_run(struct web_control *c, int act, raft_id id, const char *key,
                    const char *value, int *code, char *out, size_t cap);

#endif
