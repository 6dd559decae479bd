/*
 * kill, start, partition, netem and heal. kill and start go through the
 * launcher (the nodes are its children; kill falls back to the pid file when
 * no launcher runs). The network faults are MSG_FAULT rules sent to each
 * node over UDP from loopback; a node keeps them in memory only, so a
 * restarted node starts with none. Read launcher/events.h next.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/client_query.h"
#include "common/clock.h"
#include "common/invariant.h"
#include "launcher/cluster_dir.h"
#include "launcher/raftctl.h"
#include "launcher/supervisor.h"

#define FAULT_TIMEOUT_MS 1000
/* Deleting a long log takes ~1 s per million rows. */
#define COMPACT_TIMEOUT_MS 10000
#define KILL_REQUEST_MS 10000
#define KILL_WAIT_MS 3000
#define START_ANSWER_MS 5000

/* A short pause between polls of a process state. */
static void fault_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* "KILL", "SIGKILL", "kill" or "9". Returns 0 when unknown. */
static int fault_parse_signal(const char *text)
{
    static const struct {
        const char *name;
        int signo;
    } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
                 {"ABRT", SIGABRT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
                 {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
                 {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}};
    uint64_t num = 0;
    if (ctl_parse_u64(text, 1, 64, &num) == ERR_OK) {
        return (int)num;
    }
    const char *name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            return names[i].signo;
        }
    }
    return 0;
}

/* Turns a launcher reply line into output and an exit code. */
static int fault_launcher_reply(const char *reply)
{
    if (strncmp(reply, "ok", 2) == 0) {
        printf("%s\n", reply[2] == ' ' ? reply + 3 : reply + 2);
        return CTL_EXIT_OK;
    }
    int code = CTL_EXIT_ERROR;
    int used = 0;
    if (sscanf(reply, "err %d %n", &code, &used) >= 1 && used > 0) {
        ctl_error("%s", reply + used);
        return code >= 1 && code <= 4 ? code : CTL_EXIT_ERROR;
    }
    ctl_error("unexpected answer from the launcher: %s", reply);
    return CTL_EXIT_ERROR;
}

/* True for the signals kill means to end a node with: after them, a node
 * still alive is reported, not taken as done. */
static bool fault_signal_ends(int signo)
{
    return signo == SIGKILL || signo == SIGTERM || signo == SIGINT;
}

/* kill without a launcher: signal the verified pid from the pid file. */
static int kill_direct(const struct cdir *d, raft_id id, int signo)
{
    pid_t pid = cdir_node_running(d, id);
    if (pid == 0) {
        ctl_error("kill: node %llu is not running", (unsigned long long)id);
        return CTL_EXIT_ERROR;
    }
    if (kill(pid, signo) != 0) {
        char why[160] = "";
        if (!cdir_may_signal(pid, why, sizeof(why))) {
            ctl_error("kill: no permission to signal node %llu (pid %ld): %s",
                      (unsigned long long)id, (long)pid, why);
        } else {
            ctl_error("kill: cannot signal node %llu (pid %ld): %s",
                      (unsigned long long)id, (long)pid, strerror(errno));
        }
        return CTL_EXIT_ERROR;
    }
    uint64_t deadline_ms = clock_now_ms() + KILL_WAIT_MS;
    while (fault_signal_ends(signo) && cdir_is_node_process(d, pid, id) &&
           clock_now_ms() < deadline_ms) {
        fault_sleep_ms(20);
    }
    char name[64];
    cdir_node_pid_name(id, name, sizeof(name));
    if (!cdir_is_node_process(d, pid, id)) {
        cdir_pid_remove(d, name);
    } else if (fault_signal_ends(signo)) {
        ctl_error("kill: node %llu (pid %ld) is still running %d ms after "
                  "signal %d (%s)",
                  (unsigned long long)id, (long)pid, KILL_WAIT_MS, signo,
                  strsignal(signo));
        return CTL_EXIT_ERROR;
    }
    printf("sent signal %d (%s) to node %llu (pid %ld); no launcher runs\n",
           signo, strsignal(signo), (unsigned long long)id, (long)pid);
    return CTL_EXIT_OK;
}

int cmd_kill(int argc, char **argv, const char *dir)
{
    static const struct ctl_opt opts[] = {{"--signal", "-s", true}};
    struct ctl_args a = {.cmd = "kill", .dir = dir};
    int rc = ctl_parse(argc, argv, opts, 1, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 1) {
        ctl_error("usage: raftctl kill ID [--signal NAME]");
        return CTL_EXIT_USAGE;
    }
    int signo = a.given[0] ? fault_parse_signal(a.val[0]) : SIGKILL;
    if (signo == 0) {
        ctl_error("kill: unknown signal '%s'", a.val[0]);
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    raft_id id = 0;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc == CTL_EXIT_OK) {
        rc = ctl_parse_member(&conf, a.pos[0], &id);
    }
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    char errmsg[ERRMSG_LEN] = "";
    char name[64];
    cdir_node_pid_name(id, name, sizeof(name));
    if (cdir_check_readable(&d, "launcher.pid", errmsg) != ERR_OK ||
        cdir_check_readable(&d, name, errmsg) != ERR_OK) {
        ctl_error("kill: %s", errmsg); /* Not "node N is not running". */
        return CTL_EXIT_ERROR;
    }
    pid_t launcher = cdir_launcher_running(&d);
    char why[160] = "";
    if (!cdir_may_signal(launcher, why, sizeof(why))) {
        ctl_error("kill: no permission to ask the launcher (pid %ld) of %s: "
                  "%s",
                  (long)launcher, d.shown, why);
        return CTL_EXIT_ERROR;
    }
    if (launcher > 0) {
        char line[64], reply[512];
        snprintf(line, sizeof(line), "kill %llu %d", (unsigned long long)id,
                 signo);
        if (supervisor_request(&d, line, reply, sizeof(reply), KILL_REQUEST_MS,
                               errmsg) == ERR_OK) {
            return fault_launcher_reply(reply);
        }
        ctl_error("kill: %s; signalling the node directly", errmsg);
    }
    return kill_direct(&d, id, signo);
}

/* After the launcher started node id: wait until it answers a status
 * request, or report that it died, quoting the last ERROR line its log
 * got after log_from (its size before the start). */
static int start_wait_answer(const struct cdir *d, const struct conf *conf,
                             raft_id id, off_t log_from)
{
    int index = conf_member_index(conf, id);
    ASSERT(index >= 0); /* The caller parsed id with ctl_parse_member. */
    uint64_t deadline_ms = clock_now_ms() + START_ANSWER_MS;
    while (clock_now_ms() < deadline_ms) {
        struct client_node_status st[RAFT_NODES_MAX];
        char errmsg[ERRMSG_LEN] = "";
        if (client_status_query(conf, 1u << index, 200, st, errmsg) == ERR_OK &&
            st[index].alive) {
            return CTL_EXIT_OK;
        }
        if (cdir_node_running(d, id) == 0) {
            char log_path[CDIR_PATH_MAX], last[240];
            cdir_node_file(d, id, ".log", log_path, sizeof(log_path));
            cdir_last_error(log_path, log_from, last, sizeof(last));
            char db[CDIR_PATH_MAX], hint[96] = "";
            cdir_node_file(d, id, ".db", db, sizeof(db));
            if (cdir_node_damaged(d, id) || access(db, F_OK) != 0) {
                snprintf(hint, sizeof(hint),
                         "; 'raftctl replace %llu' rebuilds it as a new member",
                         (unsigned long long)id);
            }
            ctl_error("start: node %llu exited during startup: %s (see %s)%s",
                      (unsigned long long)id, last, log_path, hint);
            return CTL_EXIT_ERROR;
        }
    }
    ctl_error("start: node %llu runs but did not answer within %d ms",
              (unsigned long long)id, START_ANSWER_MS);
    return CTL_EXIT_UNAVAILABLE;
}

int cmd_start(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "start", .dir = dir};
    int rc = ctl_parse(argc, argv, NULL, 0, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 1) {
        ctl_error("usage: raftctl start ID");
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    raft_id id = 0;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc == CTL_EXIT_OK) {
        rc = ctl_parse_member(&conf, a.pos[0], &id);
    }
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (cdir_launcher_running(&d) == 0) {
        ctl_error("start: no launcher is running for %s; 'raftctl up' "
                  "starts the cluster",
                  d.shown);
        return CTL_EXIT_ERROR;
    }
    char line[64], reply[512], errmsg[ERRMSG_LEN] = "";
    char log_path[CDIR_PATH_MAX];
    cdir_node_file(&d, id, ".log", log_path, sizeof(log_path));
    off_t log_from = cdir_file_size(log_path);
    snprintf(line, sizeof(line), "start %llu", (unsigned long long)id);
    if (supervisor_request(&d, line, reply, sizeof(reply), KILL_REQUEST_MS,
                           errmsg) != ERR_OK) {
        ctl_error("start: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    if (strncmp(reply, "ok", 2) != 0) {
        return fault_launcher_reply(reply);
    }
    rc = start_wait_answer(&d, &conf, id, log_from);
    if (rc == CTL_EXIT_OK) {
        printf("%s\n", reply + 3);
    }
    return rc;
}

/* The members to send rules to: those whose pid file names a live node;
 * every member when no pid file exists at all (nodes on other hosts). */
static uint32_t fault_targets(const struct cdir *d, const struct conf *conf,
                              uint32_t *running)
{
    *running = 0;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        if (cdir_node_running(d, conf->members[i].id) > 0) {
            *running |= 1u << i;
        }
    }
    bool any_pid_file = false;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        char name[64];
        pid_t pid = 0;
        cdir_node_pid_name(conf->members[i].id, name, sizeof(name));
        any_pid_file |= cdir_pid_read(d, name, &pid) == ERR_OK;
    }
    return any_pid_file ? *running : (1u << conf->n_members) - 1u;
}

/* Sends rules and reports: a running node that does not acknowledge is an
 * error (exit 3); a node that is down is noted unless quiet. */
static int fault_apply(const char *cmd, const struct cdir *d,
                       const struct conf *conf, uint32_t mask,
                       const struct msg_fault *rules, bool quiet_down)
{
    uint32_t running = 0;
    uint32_t targets = fault_targets(d, conf, &running) & mask;
    uint32_t acked = 0;
    char errmsg[ERRMSG_LEN] = "";
    if (targets != 0 &&
        client_fault_send(conf, targets, rules, FAULT_TIMEOUT_MS, &acked,
                          errmsg) != ERR_OK) {
        ctl_error("%s: %s", cmd, errmsg);
        return CTL_EXIT_ERROR;
    }
    int rc = CTL_EXIT_OK;
    uint32_t n_acked = 0;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        unsigned long long id = (unsigned long long)conf->members[i].id;
        if ((mask & (1u << i)) == 0) {
            continue;
        }
        if (acked & (1u << i)) {
            n_acked++;
        } else if ((targets & (1u << i)) != 0) {
            ctl_error("%s: node %llu did not apply the rule (no answer, or "
                      "refused: it needs --faults, which 'raftctl up' "
                      "passes)",
                      cmd, id);
            rc = CTL_EXIT_UNAVAILABLE;
        } else if (!quiet_down) {
            fprintf(stderr,
                    "raftctl: %s: node %llu is down; the rule does "
                    "not apply to it (a restarted node has none)\n",
                    cmd, id);
        }
    }
    if (rc == CTL_EXIT_OK) {
        printf("%s: applied on %u node(s)\n", cmd, n_acked);
    }
    return rc;
}

/* Parses "1,2,3" into group g of group_of (indexed by member). Returns an
 * exit code. */
static int partition_parse_group(const struct conf *conf, const char *text,
                                 int g, int *group_of)
{
    char buf[256];
    if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf)) {
        ctl_error("partition: group '%s' is too long", text);
        return CTL_EXIT_USAGE;
    }
    char *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        raft_id id = 0;
        if (ctl_parse_member(conf, tok, &id) != CTL_EXIT_OK) {
            return CTL_EXIT_USAGE;
        }
        int i = conf_member_index(conf, id);
        ASSERT(i >= 0); /* ctl_parse_member accepted it. */
        if (group_of[i] >= 0) {
            ctl_error("partition: node %llu is in more than one group",
                      (unsigned long long)id);
            return CTL_EXIT_USAGE;
        }
        group_of[i] = g;
        n++;
    }
    if (n == 0) {
        ctl_error("partition: empty group '%s'", text);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

int cmd_partition(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "partition", .dir = dir};
    int rc = ctl_parse(argc, argv, NULL, 0, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos < 2) {
        ctl_error("usage: raftctl partition IDS IDS ... (e.g. 1,2 3,4,5)");
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    int group_of[RAFT_NODES_MAX];
    for (int i = 0; i < RAFT_NODES_MAX; i++) {
        group_of[i] = -1;
    }
    for (int g = 0; g < a.n_pos && rc == CTL_EXIT_OK; g++) {
        rc = partition_parse_group(&conf, a.pos[g], g, group_of);
    }
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    /* Each node blocks the members of every other group; a node in no
     * group blocks nobody and nobody blocks it. */
    struct msg_fault rules[RAFT_NODES_MAX];
    memset(rules, 0, sizeof(rules));
    for (uint32_t i = 0; i < conf.n_members; i++) {
        rules[i].action = FAULT_PARTITION;
        for (uint32_t j = 0; j < conf.n_members; j++) {
            if (group_of[i] >= 0 && group_of[j] >= 0 &&
                group_of[i] != group_of[j]) {
                rules[i].blocked[rules[i].n_blocked++] = conf.members[j].id;
            }
        }
    }
    return fault_apply("partition", &d, &conf, UINT32_MAX, rules, false);
}

/* A probability as a fraction ("0.2") or a percentage ("20%") into parts
 * per million. Errors: ERR_INVALID. */
static int netem_parse_prob(const char *text, uint32_t *ppm)
{
    char *end = NULL;
    if (text == NULL || !(isdigit((unsigned char)text[0]) || text[0] == '.')) {
        return ERR_INVALID;
    }
    double v = strtod(text, &end);
    if (end == text) {
        return ERR_INVALID;
    }
    if (end[0] == '%' && end[1] == '\0') {
        v /= 100.0;
    } else if (end[0] != '\0') {
        return ERR_INVALID;
    }
    if (!(v >= 0.0 && v <= 1.0)) {
        return ERR_INVALID;
    }
    *ppm = (uint32_t)(v * 1000000.0 + 0.5);
    return ERR_OK;
}

enum {
    NETEM_LOSS,
    NETEM_DUP,
    NETEM_DELAY,
    NETEM_JITTER,
    NETEM_NODE,
    NETEM_DISK
};

/* --disk-delay MS: a FAULT_DISK_DELAY rule (each persist stalls MS; 0
 * removes it), sent alone since a node keeps it apart from netem. Returns
 * an exit code. */
static int netem_disk_rule(const struct ctl_args *a, struct msg_fault *rule)
{
    uint64_t ms = 0;
    memset(rule, 0, sizeof(*rule));
    rule->action = FAULT_DISK_DELAY;
    if (a->given[NETEM_LOSS] || a->given[NETEM_DUP] || a->given[NETEM_DELAY] ||
        a->given[NETEM_JITTER]) {
        ctl_error("netem: --disk-delay goes alone (with --node at most)");
        return CTL_EXIT_USAGE;
    }
    if (ctl_parse_u64(a->val[NETEM_DISK], 0, 60000, &ms) != ERR_OK) {
        ctl_error("netem: --disk-delay takes milliseconds, 0 to 60000");
        return CTL_EXIT_USAGE;
    }
    rule->delay_ms = (uint32_t)ms;
    return CTL_EXIT_OK;
}

/* The netem rule from the options. Returns an exit code. */
static int netem_rule(const struct ctl_args *a, struct msg_fault *rule)
{
    memset(rule, 0, sizeof(*rule));
    rule->action = FAULT_NETEM;
    if ((a->given[NETEM_LOSS] &&
         netem_parse_prob(a->val[NETEM_LOSS], &rule->loss_ppm) != ERR_OK) ||
        (a->given[NETEM_DUP] &&
         netem_parse_prob(a->val[NETEM_DUP], &rule->dup_ppm) != ERR_OK)) {
        ctl_error("netem: --loss and --dup take a fraction from 0 to 1 "
                  "(0.2) or a percentage (20%%)");
        return CTL_EXIT_USAGE;
    }
    uint64_t delay = 0, jitter = 0;
    if ((a->given[NETEM_DELAY] &&
         ctl_parse_u64(a->val[NETEM_DELAY], 0, 60000, &delay) != ERR_OK) ||
        (a->given[NETEM_JITTER] &&
         ctl_parse_u64(a->val[NETEM_JITTER], 0, 60000, &jitter) != ERR_OK)) {
        ctl_error("netem: --delay and --jitter take milliseconds, 0 to 60000");
        return CTL_EXIT_USAGE;
    }
    rule->delay_ms = (uint32_t)delay;
    rule->jitter_ms = (uint32_t)jitter;
    return CTL_EXIT_OK;
}

int cmd_netem(int argc, char **argv, const char *dir)
{
    static const struct ctl_opt opts[] = {
        [NETEM_LOSS] = {"--loss", NULL, true},
        [NETEM_DUP] = {"--dup", NULL, true},
        [NETEM_DELAY] = {"--delay", NULL, true},
        [NETEM_JITTER] = {"--jitter", NULL, true},
        [NETEM_NODE] = {"--node", NULL, true},
        [NETEM_DISK] = {"--disk-delay", NULL, true},
    };
    struct ctl_args a = {.cmd = "netem", .dir = dir};
    int rc = ctl_parse(argc, argv, opts, 6, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct msg_fault rule;
    if (a.n_pos != 0) {
        ctl_error("usage: raftctl netem [--loss P] [--dup P] [--delay MS] "
                  "[--jitter MS] [--node ID] | netem --disk-delay MS "
                  "[--node ID]");
        return CTL_EXIT_USAGE;
    }
    rc = a.given[NETEM_DISK] ? netem_disk_rule(&a, &rule)
                             : netem_rule(&a, &rule);
    struct cdir d;
    struct conf conf;
    if (rc == CTL_EXIT_OK) {
        rc = ctl_load_cluster(a.dir, &d, &conf);
    }
    uint32_t mask = UINT32_MAX;
    if (rc == CTL_EXIT_OK && a.given[NETEM_NODE]) {
        raft_id id = 0;
        rc = ctl_parse_member(&conf, a.val[NETEM_NODE], &id);
        int i = rc == CTL_EXIT_OK ? conf_member_index(&conf, id) : -1;
        if (i >= 0) {
            mask = 1u << i;
        }
    }
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct msg_fault rules[RAFT_NODES_MAX];
    for (uint32_t i = 0; i < RAFT_NODES_MAX; i++) {
        rules[i] = rule;
    }
    return fault_apply("netem", &d, &conf, mask, rules, false);
}

int cmd_heal(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "heal", .dir = dir};
    int rc = ctl_parse(argc, argv, NULL, 0, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 0) {
        ctl_error("usage: raftctl heal");
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct msg_fault rules[RAFT_NODES_MAX];
    memset(rules, 0, sizeof(rules));
    for (uint32_t i = 0; i < RAFT_NODES_MAX; i++) {
        rules[i].action = FAULT_HEAL;
    }
    return fault_apply("heal", &d, &conf, UINT32_MAX, rules, true);
}

/* raftctl compact [ID]: each member (or ID) compacts at its durably
 * applied index now, whatever --snapshot-entries says, and answers once
 * the log rows are deleted. */
int cmd_compact(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "compact", .dir = dir};
    int rc = ctl_parse(argc, argv, NULL, 0, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos > 1) {
        ctl_error("usage: raftctl compact [ID]");
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    raft_id id = 0;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc == CTL_EXIT_OK && a.n_pos == 1) {
        rc = ctl_parse_member(&conf, a.pos[0], &id);
    }
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    uint32_t mask = id != 0 ? 1u << conf_member_index(&conf, id)
                            : (1u << conf.n_members) - 1u;
    struct msg_fault rules[RAFT_NODES_MAX];
    memset(rules, 0, sizeof(rules));
    for (uint32_t i = 0; i < conf.n_members; i++) {
        rules[i].action = FAULT_COMPACT;
    }
    uint32_t acked = 0;
    char errmsg[ERRMSG_LEN] = "";
    if (client_fault_send(&conf, mask, rules, COMPACT_TIMEOUT_MS, &acked,
                          errmsg) != ERR_OK) {
        ctl_error("compact: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    for (uint32_t i = 0; i < conf.n_members; i++) {
        if ((mask & (1u << i)) != 0 && (acked & (1u << i)) == 0) {
            ctl_error("compact: node %llu did not report done within %d ms "
                      "(down, or its compaction failed: see its log)",
                      (unsigned long long)conf.members[i].id,
                      COMPACT_TIMEOUT_MS);
            rc = CTL_EXIT_UNAVAILABLE;
        }
    }
    if (rc == CTL_EXIT_OK) {
        printf("compact: done on %d node(s)\n", __builtin_popcount(acked));
    }
    return rc;
}
