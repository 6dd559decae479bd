/*
 * raftctl's entry point: global options (-d DIR), the command table, usage,
 * the option parser every command uses, and the exit-code convention
 * (0 ok, 1 negative answer, 2 usage, 3 unavailable, 4 other error). The
 * commands live in cmd_cluster.c (up, down; the launcher itself is
 * supervisor.c), cmd_client.c (put, get, del, cas), cmd_status.c,
 * cmd_fault.c (kill, start, partition, netem, heal), cmd_watch.c (watch,
 * trace) and bench.c. Read launcher/cluster_dir.h next.
 */
#include "launcher/raftctl.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "launcher/bench.h"
#include "launcher/cluster_dir.h"

static const char ctl_usage_text[] =
    "usage: raftctl [-d DIR] COMMAND [ARGS]\n"
    "\n"
    "DIR holds cluster.conf and the nodes' files; it defaults to $RAFT_DIR,\n"
    "else ./cluster. Options may come before or after the arguments.\n"
    "\n"
    "cluster:\n"
    "  up [-n N] [--port BASE] [--detach] [--heartbeat MS] [--election MS]\n"
    "     [--snapshot-entries N] [--log-keep K] [--max-sessions M]\n"
    "                      start every node (creating DIR for N nodes, default"
    " 5,\n"
    "                      on ports BASE+1..BASE+N, default BASE 7000); the\n"
    "                      options are recorded in DIR/options for later ups\n"
    "                      (defaults: raftnode --help)\n"
    "  down                stop the nodes and the launcher\n"
    "  kill ID [--signal NAME]   signal node ID (default KILL); it stays down\n"
    "  start ID            start node ID again, with its state\n"
    "  status [--json]     one row per node\n"
    "  compact [ID]        compact every node's log (or ID's) now\n"
    "  check [--timeout MS]    compare every member's kv digest at one\n"
    "                      applied index; exit 4 names a member that\n"
    "                      differs or is damaged (docs/DAMAGE.md)\n"
    "membership (sent to the leader; add starts the new member here):\n"
    "  members [--json]    the leader's configuration: id, address, role\n"
    "  add [--addr HOST:PORT] [--learner]   start a new member, print its id\n"
    "  promote ID          learner ID becomes a voter (joint consensus)\n"
    "  remove ID           ID leaves; the launcher stops it, keeps its files\n"
    "  replace ID          rebuild damaged or lost ID as a new member, print its id\n"
    "  transfer [ID]       leadership to ID (default: most up-to-date voter)\n"
    "data (each takes --timeout MS, default 5000):\n"
    "  put KEY VALUE       exit 0 once committed\n"
    "  get KEY             print the value; exit 1 when absent\n"
    "  del KEY             exit 0 once committed\n"
    "  cas KEY EXPECTED NEW    exit 0 when swapped, 1 when the value differs\n"
    "faults:\n"
    "  partition IDS IDS ...   e.g. 'partition 1,2 3,4,5'\n"
    "  netem [--loss P] [--dup P] [--delay MS] [--jitter MS] [--node ID]\n"
    "                      P is a fraction (0.2) or a percentage (20%)\n"
    "  heal                remove every partition and netem rule\n"
    "benchmark:\n"
    "  bench [-c CLIENTS] [--duration S] [--size BYTES] [--reads R]"
    " [--keys N]\n"
    "        [--warmup S] [--timeout MS] [--no-batch] [--sequential]\n"
    "        [--json]\n"
    "                      closed-loop load; prints ops/s and latency"
    " percentiles\n"
    "live view:\n"
    "  watch [--messages] [--dump [--size COLSxROWS]]\n"
    "                      full-screen dashboard (keys: k ID kill, s ID start,"
    "\n"
    "                      i isolate the leader, h heal, w write, q quit);"
    " event\n"
    "                      lines when stdout is not a terminal; --dump prints"
    " one\n"
    "                      frame as text. A foreground 'up' on a terminal"
    " shows it\n"
    "                      too. --messages adds the messages the members"
    " send.\n"
    "  trace [--json] [--for SECONDS]\n"
    "                      each message the members send, one line each"
    " (--json:\n"
    "                      recording lines, docs/TRACE.md)\n"
    "\n"
    "exit codes: 0 ok, 1 negative answer (absent key, CAS mismatch), 2 usage\n"
    "error (also an unknown node id or an oversized key or value), 3 no "
    "leader\n"
    "answered in time (a write's outcome is unknown), 4 any other error.\n";

void ctl_error(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "raftctl: %s\n", line);
}

int ctl_load_cluster(const char *opt_dir, struct cdir *d, struct conf *conf)
{
    char errmsg[ERRMSG_LEN] = "";
    if (cdir_resolve(opt_dir, d, errmsg) != ERR_OK ||
        cdir_load(d, conf, errmsg) != ERR_OK) {
        ctl_error("%s", errmsg);
        return CTL_EXIT_ERROR;
    }
    return CTL_EXIT_OK;
}

int ctl_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (text == NULL || text[0] < '0' || text[0] > '9') {
        return ERR_INVALID;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        return ERR_INVALID;
    }
    *out = (uint64_t)v;
    return ERR_OK;
}

int ctl_parse_member(const struct conf *conf, const char *text, raft_id *id)
{
    uint64_t v = 0;
    if (ctl_parse_u64(text, 1, RAFT_ID_MAX, &v) != ERR_OK ||
        conf_find(conf, v) == NULL) {
        ctl_error("unknown node id '%s' (cluster.conf has %u members)", text,
                  (unsigned)conf->n_members);
        return CTL_EXIT_USAGE;
    }
    *id = v;
    return CTL_EXIT_OK;
}

/* "-5" is a value (put k -5), not an option. */
static bool looks_negative_number(const char *arg)
{
    return arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9';
}

/* Matches arg (without any "=value") against the table; -1 when unknown,
 * -2 for -d/--dir. */
static int find_opt(const char *arg, size_t len, const struct ctl_opt *opts,
                    int n_opts)
{
    if ((len == 2 && strncmp(arg, "-d", 2) == 0) ||
        (len == 5 && strncmp(arg, "--dir", 5) == 0)) {
        return -2;
    }
    for (int i = 0; i < n_opts; i++) {
        const char *alias = opts[i].alias;
        if ((strlen(opts[i].name) == len &&
             strncmp(arg, opts[i].name, len) == 0) ||
            (alias != NULL && strlen(alias) == len &&
             strncmp(arg, alias, len) == 0)) {
            return i;
        }
    }
    return -1;
}

/* Handles the option at argv[*i]; advances *i past its value. */
static int parse_one_opt(int argc, char **argv, int *i,
                         const struct ctl_opt *opts, int n_opts,
                         struct ctl_args *out)
{
    const char *arg = argv[*i];
    const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    int k = find_opt(arg, len, opts, n_opts);
    if (k == -1) {
        ctl_error("%s: unknown option '%.*s' (see 'raftctl help')", out->cmd,
                  (int)len, arg);
        return CTL_EXIT_USAGE;
    }
    bool has_arg = k == -2 || opts[k].has_arg;
    const char *value = NULL;
    if (has_arg) {
        if (eq != NULL) {
            value = eq + 1;
        } else if (*i + 1 < argc) {
            value = argv[++*i];
        } else {
            ctl_error("%s: option '%s' needs a value", out->cmd, arg);
            return CTL_EXIT_USAGE;
        }
    } else if (eq != NULL) {
        ctl_error("%s: option '%.*s' takes no value", out->cmd, (int)len, arg);
        return CTL_EXIT_USAGE;
    }
    if (k == -2) {
        out->dir = value;
    } else {
        out->given[k] = true;
        out->val[k] = value;
    }
    return CTL_EXIT_OK;
}

int ctl_parse(int argc, char **argv, const struct ctl_opt *opts, int n_opts,
              struct ctl_args *out)
{
    const char *cmd = out->cmd;
    const char *dir = out->dir;
    memset(out, 0, sizeof(*out));
    out->cmd = cmd;
    out->dir = dir;
    if (n_opts > CTL_OPTS_MAX) {
        n_opts = CTL_OPTS_MAX;
    }
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && arg[0] == '-' && arg[1] != '\0' &&
            !looks_negative_number(arg)) {
            int rc = parse_one_opt(argc, argv, &i, opts, n_opts, out);
            if (rc != CTL_EXIT_OK) {
                return rc;
            }
            continue;
        }
        if (out->n_pos >= CTL_POS_MAX) {
            ctl_error("%s: too many arguments", out->cmd);
            return CTL_EXIT_USAGE;
        }
        out->pos[out->n_pos++] = arg;
    }
    return CTL_EXIT_OK;
}

struct ctl_command {
    const char *name;
    int (*run)(int argc, char **argv, const char *dir);
};

static const struct ctl_command ctl_commands[] = {
    {"up", cmd_up},           {"down", cmd_down},
    {"kill", cmd_kill},       {"start", cmd_start},
    {"status", cmd_status},   {"put", cmd_put},
    {"get", cmd_get},         {"del", cmd_del},
    {"cas", cmd_cas},         {"partition", cmd_partition},
    {"netem", cmd_netem},     {"heal", cmd_heal},
    {"bench", cmd_bench},     {"watch", cmd_watch},
    {"compact", cmd_compact}, {"check", cmd_check},
    {"trace", cmd_trace},
    {"members", cmd_members},
    {"add", cmd_add},
    {"promote", cmd_promote},
    {"remove", cmd_remove},
    {"replace", cmd_replace},
    {"transfer", cmd_transfer},
};

int main(int argc, char **argv)
{
    /* DIR, keys, databases and logs: this user's only. */
    (void)umask(077);
    const char *dir = NULL;
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(ctl_usage_text, stdout);
            return CTL_EXIT_OK;
        }
        if ((strcmp(arg, "-d") == 0 || strcmp(arg, "--dir") == 0) &&
            i + 1 < argc) {
            dir = argv[i + 1];
            i += 2;
        } else if (strncmp(arg, "--dir=", 6) == 0) {
            dir = arg + 6;
            i++;
        } else {
            ctl_error("unknown option '%s' (see 'raftctl help')", arg);
            return CTL_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        fputs(ctl_usage_text, stderr);
        return CTL_EXIT_USAGE;
    }
    const char *name = argv[i];
    if (strcmp(name, "help") == 0) {
        fputs(ctl_usage_text, stdout);
        return CTL_EXIT_OK;
    }
    /* A vanished reader must not kill us mid-way (status | head). */
    signal(SIGPIPE, SIG_IGN);
    for (size_t k = 0; k < sizeof(ctl_commands) / sizeof(ctl_commands[0]);
         k++) {
        if (strcmp(name, ctl_commands[k].name) == 0) {
            return ctl_commands[k].run(argc - i - 1, argv + i + 1, dir);
        }
    }
    ctl_error("unknown command '%s' (see 'raftctl help')", name);
    return CTL_EXIT_USAGE;
}
