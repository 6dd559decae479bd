/*
 * up and down. `up` creates DIR and cluster.conf for a new cluster, takes
 * the launcher lock (so a second `up` on a running DIR fails at once), finds
 * raftnode next to raftctl's own binary, and runs the launcher in the
 * foreground (event lines on stdout), or with --detach in a background
 * session that reports back once every node answers, or on a terminal in a
 * child process while this one shows the dashboard (launcher/dashboard.c).
 * `down` asks the launcher to stop everything, or when there is none, stops
 * the nodes named by the pid files itself. Read launcher/supervisor.h next.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "common/auth.h"
#include "common/clock.h"
#include "launcher/cluster_dir.h"
#include "launcher/dashboard.h"
#include "launcher/raftctl.h"
#include "launcher/supervisor.h"
#include "launcher/web.h"

#define UP_NODES_DEFAULT 5
#define UP_PORT_DEFAULT 7000
#define UP_DETACH_WAIT_MS 20000
#define DOWN_REQUEST_MS 30000
#define DOWN_GRACE_MS 3000

enum {
    UP_NODES,
    UP_PORT,
    UP_DETACH,
    UP_HEARTBEAT,
    UP_ELECTION,
    UP_SNAPSHOT_ENTRIES,
    UP_LOG_KEEP,
    UP_MAX_SESSIONS,
    UP_RECORD,
    UP_RECORD_MAX,
    UP_MAX_DATAGRAM,
    UP_WEB,
    UP_WEB_PORT,
    UP__COUNT
};

static const struct ctl_opt up_opts[] = {
    [UP_NODES] = {"--nodes", "-n", true},
    [UP_PORT] = {"--port", NULL, true},
    [UP_DETACH] = {"--detach", NULL, false},
    [UP_HEARTBEAT] = {"--heartbeat", NULL, true},
    [UP_ELECTION] = {"--election", NULL, true},
    [UP_SNAPSHOT_ENTRIES] = {"--snapshot-entries", NULL, true},
    [UP_LOG_KEEP] = {"--log-keep", NULL, true},
    [UP_MAX_SESSIONS] = {"--max-sessions", NULL, true},
    [UP_RECORD] = {"--record", NULL, true},
    [UP_RECORD_MAX] = {"--record-max", NULL, true},
    [UP_MAX_DATAGRAM] = {"--max-datagram", NULL, true},
    [UP_WEB] = {"--web", NULL, false},
    [UP_WEB_PORT] = {"--web-port", NULL, true},
};

/* The up flag recorded as each DIR/options option. */
static const int up_recorded[UP_OPT__COUNT] = {
    [UP_OPT_HEARTBEAT] = UP_HEARTBEAT,
    [UP_OPT_ELECTION] = UP_ELECTION,
    [UP_OPT_SNAPSHOT_ENTRIES] = UP_SNAPSHOT_ENTRIES,
    [UP_OPT_LOG_KEEP] = UP_LOG_KEEP,
    [UP_OPT_MAX_SESSIONS] = UP_MAX_SESSIONS,
    [UP_OPT_MAX_DATAGRAM] = UP_MAX_DATAGRAM,
};

/* build/bin/raftnode next to this raftctl. Errors: ERR_NOT_FOUND. */
static int up_find_raftnode(char *out, size_t cap, char errmsg[ERRMSG_LEN])
{
    char self[CDIR_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        snprintf(errmsg, ERRMSG_LEN, "cannot read /proc/self/exe: %s",
                 strerror(errno));
        return ERR_NOT_FOUND;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    int k = snprintf(out, cap, "%s/raftnode", self);
    if (k < 0 || (size_t)k >= cap || access(out, X_OK) != 0) {
        snprintf(errmsg, ERRMSG_LEN,
                 "cannot find raftnode next to raftctl (looked for "
                 "%.150s/raftnode); build it with 'make'",
                 self);
        return ERR_NOT_FOUND;
    }
    return ERR_OK;
}

/* Reads the options into cfg and n/port. Returns an exit code. */
static int up_read_args(const struct ctl_args *a, struct supervisor_config *cfg,
                        uint64_t *n, uint64_t *port, uint16_t *web)
{
    *n = UP_NODES_DEFAULT;
    *port = UP_PORT_DEFAULT;
    if (a->n_pos != 0) {
        ctl_error("usage: raftctl up [-n N] [--port BASE] [--detach] "
                  "[--heartbeat MS] [--election MS] [--snapshot-entries N] "
                  "[--log-keep K] [--max-sessions M] [--max-datagram N] "
                  "[--record FILE [--record-max MB]] [--web [--web-port P]]");
        return CTL_EXIT_USAGE;
    }
    uint64_t web_port = WEB_PORT_DEFAULT;
    if ((a->given[UP_WEB] || a->given[UP_WEB_PORT]) && a->given[UP_DETACH]) {
        ctl_error("up: --web serves the page from the foreground; without "
                  "--detach (or 'raftctl web' next to a detached cluster)");
        return CTL_EXIT_USAGE;
    }
    if (a->given[UP_WEB_PORT] &&
        ctl_parse_u64(a->val[UP_WEB_PORT], 1, 65535, &web_port) != ERR_OK) {
        ctl_error("up: --web-port must be a port, 1 to 65535");
        return CTL_EXIT_USAGE;
    }
    *web = a->given[UP_WEB] || a->given[UP_WEB_PORT] ? (uint16_t)web_port : 0;
    if (a->given[UP_NODES] &&
        ctl_parse_u64(a->val[UP_NODES], 1, RAFT_NODES_MAX, n) != ERR_OK) {
        ctl_error("up: -n must be a number of nodes, 1 to %d", RAFT_NODES_MAX);
        return CTL_EXIT_USAGE;
    }
    if (a->given[UP_PORT] &&
        ctl_parse_u64(a->val[UP_PORT], 1, 65535 - *n, port) != ERR_OK) {
        ctl_error("up: --port must leave room for %llu ports below 65536",
                  (unsigned long long)*n);
        return CTL_EXIT_USAGE;
    }
    memset(&cfg->opts, 0, sizeof(cfg->opts));
    for (int i = 0; i < UP_OPT__COUNT; i++) {
        char errmsg[ERRMSG_LEN] = "";
        if (a->given[up_recorded[i]] &&
            up_options_parse(&cfg->opts, i, a->val[up_recorded[i]], errmsg) !=
                ERR_OK) {
            ctl_error("up: %s", errmsg);
            return CTL_EXIT_USAGE;
        }
    }
    char errmsg[ERRMSG_LEN] = "";
    if (up_options_check(&cfg->opts, errmsg) != ERR_OK) {
        ctl_error("up: %s", errmsg); /* Before anything exists. */
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* Refuses a cluster.conf that lost a member's line: DIR holds a database
 * node<ID>.db for an id it no longer lists, and no listed member's stored
 * configuration says it was removed (then the log wins: `raftctl remove`
 * keeps the files). Running the rest would be a smaller cluster than the
 * members' logs were written for (a quorum of the wrong size): never
 * silently. */
static int up_check_members(const struct supervisor_config *cfg)
{
    DIR *dir = opendir(cfg->dir.path);
    if (dir == NULL) {
        return CTL_EXIT_OK; /* Nothing there yet. */
    }
    int rc = CTL_EXIT_OK;
    struct dirent *e;
    while (rc == CTL_EXIT_OK && (e = readdir(dir)) != NULL) {
        unsigned long long id = 0;
        int end = 0;
        if (sscanf(e->d_name, "node%llu.db%n", &id, &end) == 1 &&
            e->d_name[end] == '\0' && id > 0 &&
            conf_member_index(&cfg->conf, (raft_id)id) < 0 &&
            !ctl_member_removed(&cfg->dir, &cfg->conf, (raft_id)id)) {
            ctl_error("up: %s/cluster.conf lists %u members but not member "
                      "%llu, whose database node%llu.db is there: was its "
                      "line deleted? Restore it; up will not run a smaller "
                      "cluster than the databases were written for",
                      cfg->dir.shown, cfg->conf.n_members, id, id);
            rc = CTL_EXIT_ERROR;
        }
    }
    closedir(dir);
    return rc;
}

/* Refuses to start over nodes that outlived their launcher. */
static int up_check_orphans(const struct supervisor_config *cfg)
{
    for (uint32_t i = 0; i < cfg->conf.n_members; i++) {
        raft_id id = cfg->conf.members[i].id;
        pid_t pid = cdir_node_running(&cfg->dir, id);
        if (pid > 0) {
            ctl_error("up: node %llu of the cluster at %s is still running "
                      "(pid %ld) without a launcher; run 'raftctl down' first",
                      (unsigned long long)id, cfg->dir.shown, (long)pid);
            return CTL_EXIT_ERROR;
        }
    }
    return CTL_EXIT_OK;
}

/* Prints each tab-separated part of text as its own "raftctl: up:" line on
 * stderr (the launcher joins one line per failed node with tabs). */
static void up_print_parts(const char *prefix, char *text)
{
    for (char *part = strtok(text, "\t"); part != NULL;
         part = strtok(NULL, "\t")) {
        ctl_error("up: %s%s", prefix, part);
    }
}

/* Waits for the detached launcher's "ok", "ok FAILURES" (a quorum runs
 * without the nodes named) or "err MESSAGE" line. */
static int up_wait_ready(int fd, const struct supervisor_config *cfg,
                         pid_t launcher)
{
    char line[SUPERVISOR_MSG_MAX + 16] = "";
    size_t len = 0;
    uint64_t deadline_ms = clock_now_ms() + UP_DETACH_WAIT_MS;
    while (len < sizeof(line) - 1 && strchr(line, '\n') == NULL) {
        uint64_t now_ms = clock_now_ms();
        if (now_ms >= deadline_ms) {
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        if (poll(&pfd, 1, (int)(deadline_ms - now_ms)) <= 0) {
            continue;
        }
        ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        line[len] = '\0';
    }
    char *nl = strchr(line, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
    if (strcmp(line, "ok") == 0) {
        printf("cluster at %s is up: %u nodes, launcher pid %ld, log %s/"
               "launcher.log\n",
               cfg->dir.shown, cfg->conf.n_members, (long)launcher,
               cfg->dir.shown);
        return CTL_EXIT_OK;
    }
    if (strncmp(line, "ok ", 3) == 0) {
        up_print_parts("", line + 3);
        printf("cluster at %s is up without the node(s) above (a quorum of "
               "its %u runs): launcher pid %ld, log %s/launcher.log\n",
               cfg->dir.shown, cfg->conf.n_members, (long)launcher,
               cfg->dir.shown);
        return CTL_EXIT_OK;
    }
    if (strncmp(line, "err ", 4) == 0) {
        up_print_parts("", line + 4);
    } else {
        ctl_error("up: the launcher did not report back; see %s/launcher.log",
                  cfg->dir.shown);
    }
    return CTL_EXIT_ERROR;
}

/* Forks the launcher, stdio to DIR/launcher.log, and waits until it says
 * every node answers. With detach it runs in its own session and `up`
 * returns. Without (a foreground `up` on a terminal) it stays in our process
 * group, so Ctrl-C reaches it, dies with us (PR_SET_PDEATHSIG), and this
 * process shows the dashboard (with web_port: serves the page, launcher/web.h)
 * until the launcher exits. */
static int up_background(struct supervisor_config *cfg, bool detach,
                         uint16_t web_port)
{
    int p[2];
    char log_path[CDIR_PATH_MAX];
    if (pipe2(p, O_CLOEXEC) != 0 ||
        cdir_file(&cfg->dir, "launcher.log", log_path, sizeof(log_path)) !=
            ERR_OK) {
        ctl_error("up: pipe: %s", strerror(errno));
        return CTL_EXIT_ERROR;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        ctl_error("up: fork: %s", strerror(errno));
        return CTL_EXIT_ERROR;
    }
    if (pid == 0) {
        close(p[0]);
        if (detach) {
            setsid();
        } else if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
                   getppid() != parent) {
            _exit(CTL_EXIT_ERROR);
        }
        int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null_fd = open("/dev/null", O_RDONLY);
        if (log_fd < 0 || null_fd < 0) {
            _exit(CTL_EXIT_ERROR);
        }
        dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        close(log_fd);
        close(null_fd);
        cfg->ready_fd = p[1];
        exit(supervisor_run(cfg));
    }
    close(p[1]);
    close(cfg->lock_fd); /* The launcher holds the lock now. */
    int rc = up_wait_ready(p[0], cfg, pid);
    close(p[0]);
    if (detach) {
        return rc;
    }
    if (rc != CTL_EXIT_OK) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return rc;
    }
    if (web_port != 0) {
        struct web_config web = {.dir = &cfg->dir,
                                 .conf = &cfg->conf,
                                 .port = web_port,
                                 .launcher_child = pid};
        return web_run(&web);
    }
    struct dashboard_config dash = {
        .dir = &cfg->dir, .conf = &cfg->conf, .launcher_child = pid};
    return dashboard_run(&dash);
}

/* Creates cluster.conf when DIR has none (fresh), then loads it. */
static int up_prepare_conf(struct supervisor_config *cfg,
                           const struct ctl_args *a, uint64_t n, uint64_t port)
{
    char errmsg[ERRMSG_LEN] = "";
    /* The keys first (DESIGN.md, Authentication and files), made without
     * a prompt where missing. */
    int rc = access(cfg->dir.path, F_OK) == 0
                 ? auth_create_keys(cfg->dir.path, errmsg)
                 : ERR_OK;
    if (rc == ERR_OK) {
        rc = cdir_load(&cfg->dir, &cfg->conf, errmsg);
    }
    if (rc == ERR_NOT_FOUND) {
        rc = cdir_create_conf(&cfg->dir, (uint32_t)n, (uint32_t)port, errmsg);
        cfg->fresh = rc == ERR_OK;
        if (rc == ERR_OK) {
            rc = auth_create_keys(cfg->dir.path, errmsg);
        }
        if (rc == ERR_OK) {
            rc = cdir_load(&cfg->dir, &cfg->conf, errmsg);
        }
    } else if (rc == ERR_OK && (a->given[UP_NODES] || a->given[UP_PORT])) {
        fprintf(stderr,
                "raftctl: up: %s already has a cluster.conf (%u nodes); -n "
                "and --port are ignored\n",
                cfg->dir.shown, cfg->conf.n_members);
    }
    if (rc != ERR_OK) {
        ctl_error("up: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    if (cfg->conf.n_members == 0) {
        ctl_error("up: %s/cluster.conf lists no members", cfg->dir.shown);
        return CTL_EXIT_ERROR;
    }
    return CTL_EXIT_OK;
}

/* DESIGN.md: options given to up are recorded in DIR/options and used
 * again; given again, they replace the recorded ones. */
static int up_record_options(struct supervisor_config *cfg)
{
    char errmsg[ERRMSG_LEN] = "";
    struct up_options recorded;
    bool is_given = false;
    for (int i = 0; i < UP_OPT__COUNT; i++) {
        is_given = is_given || cfg->opts.is_set[i];
    }
    if (up_options_load(&cfg->dir, &recorded, errmsg) != ERR_OK) {
        ctl_error("up: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    up_options_merge(&recorded, &cfg->opts);
    if (up_options_check(&recorded, errmsg) != ERR_OK) {
        ctl_error("up: %s (with the options recorded in %s/options)", errmsg,
                  cfg->dir.shown);
        return CTL_EXIT_USAGE;
    }
    cfg->opts = recorded;
    if (is_given && up_options_save(&cfg->dir, &cfg->opts, errmsg) != ERR_OK) {
        ctl_error("up: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    return CTL_EXIT_OK;
}

int cmd_up(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "up", .dir = dir};
    int rc = ctl_parse(argc, argv, up_opts, UP__COUNT, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    static struct supervisor_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.lock_fd = -1;
    cfg.ready_fd = -1;
    uint64_t n = 0, port = 0;
    uint16_t web_port = 0;
    rc = up_read_args(&a, &cfg, &n, &port, &web_port);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    uint64_t record_mb = 0;
    rc =
        recorder_args("up", a.val[UP_RECORD], a.val[UP_RECORD_MAX], &record_mb);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    char errmsg[ERRMSG_LEN] = "";
    pid_t holder = 0;
    if (cdir_resolve(a.dir, &cfg.dir, errmsg) != ERR_OK ||
        up_find_raftnode(cfg.raftnode, sizeof(cfg.raftnode), errmsg) !=
            ERR_OK ||
        cdir_mkdir(&cfg.dir, errmsg) != ERR_OK ||
        cdir_resolve(a.dir, &cfg.dir, errmsg) != ERR_OK ||
        cdir_lock_launcher(&cfg.dir, &cfg.lock_fd, &holder, errmsg) != ERR_OK) {
        ctl_error("%s", errmsg);
        return CTL_EXIT_ERROR;
    }
    rc = up_prepare_conf(&cfg, &a, n, port);
    if (rc == CTL_EXIT_OK) {
        rc = up_record_options(&cfg);
    }
    if (rc == CTL_EXIT_OK) {
        rc = up_check_members(&cfg);
    }
    if (rc == CTL_EXIT_OK) {
        rc = up_check_orphans(&cfg);
    }
    if (rc != CTL_EXIT_OK) {
        close(cfg.lock_fd);
        return rc;
    }
    static struct recorder rec;
    if (a.given[UP_RECORD]) {
        if (recorder_open(&rec, a.val[UP_RECORD], record_mb, errmsg) !=
            ERR_OK) {
            ctl_error("up: --record %s", errmsg);
            close(cfg.lock_fd);
            return CTL_EXIT_ERROR;
        }
        cfg.rec = &rec;
    }
    if (a.given[UP_DETACH] || web_port != 0 || dashboard_usable()) {
        return up_background(&cfg, a.given[UP_DETACH], web_port);
    }
    return supervisor_run(&cfg);
}

/* Stops the nodes named by pid files (no launcher to ask): SIGTERM, then
 * SIGKILL after a grace period. Returns how many were running. */
static uint32_t down_direct(const struct cdir *d, const struct conf *conf)
{
    pid_t pids[RAFT_NODES_MAX] = {0};
    uint32_t n_running = 0;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        pids[i] = cdir_node_running(d, conf->members[i].id);
        if (pids[i] > 0) {
            kill(pids[i], SIGTERM);
            n_running++;
        }
    }
    uint64_t start_ms = clock_now_ms();
    bool hard = false;
    for (;;) {
        uint32_t left = 0;
        for (uint32_t i = 0; i < conf->n_members; i++) {
            if (pids[i] > 0 &&
                cdir_is_node_process(d, pids[i], conf->members[i].id)) {
                left++;
                if (hard) {
                    kill(pids[i], SIGKILL);
                }
            }
        }
        uint64_t waited_ms = clock_now_ms() - start_ms;
        if (left == 0 || waited_ms > DOWN_GRACE_MS * 2) {
            break;
        }
        hard = waited_ms > DOWN_GRACE_MS;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (uint32_t i = 0; i < conf->n_members; i++) {
        char name[64];
        cdir_node_pid_name(conf->members[i].id, name, sizeof(name));
        if (cdir_node_running(d, conf->members[i].id) == 0) {
            cdir_pid_remove(d, name);
        }
    }
    return n_running;
}

/* Asks the running launcher to stop the cluster. Returns true when it did. */
static bool down_via_launcher(const struct cdir *d, pid_t launcher)
{
    char reply[512];
    char errmsg[ERRMSG_LEN] = "";
    int rc = supervisor_request(d, "down", reply, sizeof(reply),
                                DOWN_REQUEST_MS, errmsg);
    if (rc == ERR_OK && strncmp(reply, "ok", 2) == 0) {
        for (int k = 0; k < 250 && cdir_launcher_running(d) > 0; k++) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        return true;
    }
    ctl_error("down: the launcher (pid %ld) did not stop the cluster: %s; "
              "stopping the nodes directly",
              (long)launcher, rc == ERR_OK ? reply : errmsg);
    if (cdir_is_raftctl_process(launcher)) {
        kill(launcher, SIGTERM);
    }
    return false;
}

int cmd_down(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "down", .dir = dir};
    int rc = ctl_parse(argc, argv, NULL, 0, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 0) {
        ctl_error("usage: raftctl down");
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    pid_t launcher = cdir_launcher_running(&d);
    if (launcher > 0 && down_via_launcher(&d, launcher)) {
        printf("cluster at %s stopped\n", d.shown);
        return CTL_EXIT_OK;
    }
    uint32_t n = down_direct(&d, &conf);
    if (cdir_launcher_running(&d) == 0) {
        cdir_pid_remove(&d, "launcher.sock");
    }
    if (n == 0 && launcher == 0) {
        printf("cluster at %s is not running\n", d.shown);
    } else {
        printf("cluster at %s stopped\n", d.shown);
    }
    return CTL_EXIT_OK;
}
