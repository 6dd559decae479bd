/*
 * The page's controls (launcher/web_control.h): each builds the raftctl
 * command line, spawns this binary with it (stdout and stderr to a pipe),
 * waits for it with a bound, and reports its output as an action event.
 * Read launcher/web_json.h next.
 */
#include "launcher/web_control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "common/err.h"
#include "launcher/dash_source.h"
#include "launcher/web_json.h"

extern char **environ;

static const char *const web_action_words[WEB_ACT__COUNT] = {
    [WEB_ACT_KILL] = "kill",       [WEB_ACT_START] = "start",
    [WEB_ACT_ISOLATE] = "isolate", [WEB_ACT_HEAL] = "heal",
    [WEB_ACT_WRITE] = "write",     [WEB_ACT_TIMEOUT] = "timeout",
};

int web_action_parse(const char *word)
{
    for (int i = 0; i < WEB_ACT__COUNT; i++) {
        if (strcmp(word, web_action_words[i]) == 0) {
            return i;
        }
    }
    return -1;
}

bool web_action_needs_id(int act)
{
    return act == WEB_ACT_KILL || act == WEB_ACT_START ||
           act == WEB_ACT_ISOLATE || act == WEB_ACT_TIMEOUT;
}

int web_control_init(struct web_control *c, const struct cdir *d,
                     const struct conf *conf, struct web_stream *stream,
                     char errmsg[ERRMSG_LEN])
{
    memset(c, 0, sizeof(*c));
    ssize_t n = readlink("/proc/self/exe", c->raftctl, sizeof(c->raftctl) - 1);
    if (n <= 0) {
        snprintf(errmsg, ERRMSG_LEN, "cannot read /proc/self/exe: %s",
                 strerror(errno));
        return ERR_IO;
    }
    c->raftctl[n] = '\0';
    snprintf(c->dir, sizeof(c->dir), "%s", d->path);
    c->conf = conf;
    c->stream = stream;
    pthread_mutex_init(&c->lock, NULL);
    return ERR_OK;
}

void web_control_close(struct web_control *c)
{
    pthread_mutex_destroy(&c->lock);
}

/* What the argv of one command holds. */
struct control_argv {
    char *argv[12];
    char id[24];
    char others[RAFT_NODES_MAX * 21];
};

/* Fills the raftctl command line of the action. */
static void control_build(const struct web_control *c, int act, raft_id id,
                          const char *key, const char *value,
                          struct control_argv *a)
{
    int n = 0;
    a->argv[n++] = "raftctl";
    a->argv[n++] = "-d";
    a->argv[n++] = (char *)c->dir;
    snprintf(a->id, sizeof(a->id), "%llu", (unsigned long long)id);
    switch (act) {
    case WEB_ACT_KILL:
    case WEB_ACT_START:
        a->argv[n++] = (char *)web_action_words[act];
        a->argv[n++] = a->id;
        break;
    case WEB_ACT_ISOLATE: {
        size_t len = 0;
        a->others[0] = '\0';
        for (uint32_t i = 0; i < c->conf->n_members; i++) {
            if (c->conf->members[i].id != id) {
                len += (size_t)snprintf(
                    a->others + len, sizeof(a->others) - len, "%s%llu",
                    len > 0 ? "," : "",
                    (unsigned long long)c->conf->members[i].id);
            }
        }
        a->argv[n++] = "partition";
        a->argv[n++] = a->id;
        a->argv[n++] = a->others;
        break;
    }
    case WEB_ACT_HEAL:
        a->argv[n++] = "heal";
        break;
    case WEB_ACT_WRITE:
        a->argv[n++] = "put";
        a->argv[n++] = "--timeout";
        a->argv[n++] = "3000";
        a->argv[n++] = "--";
        a->argv[n++] = (char *)key;
        a->argv[n++] = (char *)value;
        break;
    default: /* WEB_ACT_TIMEOUT */
        a->argv[n++] = "transfer";
        a->argv[n++] = a->id;
        break;
    }
    a->argv[n] = NULL;
}

/* Reads the child's output until it closes the pipe or the deadline;
 * keeps the last cap - 1 bytes. Returns false at the deadline. */
static bool control_read(int fd, char *out, size_t cap)
{
    size_t len = 0;
    uint64_t deadline_ms = clock_now_ms() + WEB_CONTROL_WAIT_MS;
    char chunk[512];
    out[0] = '\0';
    for (;;) {
        uint64_t now_ms = clock_now_ms();
        if (now_ms >= deadline_ms) {
            return false;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(deadline_ms - now_ms)) <= 0) {
            continue;
        }
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return true;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (len + 1 >= cap) {
                memmove(out, out + cap / 2, len - cap / 2);
                len -= cap / 2;
            }
            out[len++] = chunk[i];
        }
        out[len] = '\0';
    }
}

/* Spawns argv with stdout and stderr into a pipe; returns the pid or -1. */
static pid_t control_spawn(const char *path, char **argv, int *read_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    pid_t pid = -1;
    if (posix_spawn(&pid, path, &fa, NULL, argv, environ) != 0) {
        pid = -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    *read_fd = p[0];
    return pid;
}

/* The action's outcome as an event in the stream. */
static void control_report(const struct web_control *c, int act, raft_id id,
                           const char *out)
{
    char last[EV_TEXT_MAX] = "";
    const char *start = out;
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '\n') {
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '\n') {
            start = out + i + 1;
        }
    }
    snprintf(last, sizeof(last), "%.*s", (int)(out + n - start), start);
    struct ev e;
    ev_set(&e, dash_wall_ms(), EV_ACTION, id, 0, "web %s: %s",
           web_action_words[act], last);
    char line[WEB_JSON_LINE_MAX];
    if (web_json_event(&e, web_stream_t(c->stream), line, sizeof(line)) > 0) {
        web_stream_push(c->stream, WEB_LINE_EVENT, 0, line);
    }
}

int web_control_run(struct web_control *c, int act, raft_id id, const char *key,
                    const char *value, int *code, char *out, size_t cap)
{
    pthread_mutex_lock(&c->lock);
    bool is_busy = c->n_running >= WEB_CONTROL_RUNNING_MAX;
    c->n_running += is_busy ? 0 : 1;
    pthread_mutex_unlock(&c->lock);
    if (is_busy) {
        return ERR_BUSY;
    }
    struct control_argv a;
    control_build(c, act, id, key, value, &a);
    int fd = -1;
    int rc = ERR_IO;
    pid_t pid = control_spawn(c->raftctl, a.argv, &fd);
    if (pid > 0) {
        if (!control_read(fd, out, cap)) {
            kill(pid, SIGKILL);
        }
        close(fd);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        control_report(c, act, id, out);
        rc = ERR_OK;
    }
    pthread_mutex_lock(&c->lock);
    c->n_running--;
    pthread_mutex_unlock(&c->lock);
    return rc;
}
