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
    "usage: raftctl [-d DIR | --config FILE [--key-dir KDIR]] COMMAND [ARGS]\n"
    "\n"
    "DIR holds cluster.conf and the nodes' files; it defaults to $RAFT_DIR,\n"
    "else ./cluster. Options may come before or after the arguments.\n"
    "--config FILE talks to a cluster started elsewhere (docs/HOSTS.md):\n"
    "FILE is its cluster.conf, the keys are beside it (or in KDIR); client,\n"
    "status, members and membership commands work, up/down/kill/start/\n"
    "replace/watch need DIR.\n"
    "\n"
    "keys DIR              create DIR/cluster.key and DIR/client.key (0600)\n"
    "                      for members started by hand; never overwrites\n"
    "\n"
    "cluster:\n"
    "  up [-n N] [--port BASE] [--detach] [--heartbeat MS] [--election MS]\n"
    "     [--snapshot-entries N] [--log-keep K] [--max-sessions M]\n"
    "     [--record FILE [--record-max MB]]\n"
    "     [--max-datagram N]\n"
    "     [--web [--web-port P]]\n"
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
    "  replace ID          rebuild damaged or lost ID as a new member, print "
    "its id\n"
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
    "        [--record FILE [--record-max MB]]\n"
    "                      full-screen dashboard (keys: k ID kill, s ID start,"
    "\n"
    "                      i isolate the leader, h heal, w write, q quit);"
    " event\n"
    "                      lines when stdout is not a terminal; --dump prints"
    " one\n"
    "                      frame as text. A foreground 'up' on a terminal"
    " shows it\n"
    "                      too. --messages adds the messages the members"
    " send;\n"
    "                      --record writes the run to FILE\n"
    "                      (docs/RECORDING.md, default at most 64 MB)\n"
    "  replay FILE [--dump]    show a recording (up/watch/raftsim --record):\n"
    "                      space pause, . step, +/- speed, left/right 5 s,\n"
    "                      Home/End, g jump, q quit; --dump prints its\n"
    "                      leaders, terms and violations as lines\n"
    "  web [--port P] [--replay FILE]\n"
    "                      the cluster (or a recording) as a page on\n"
    "                      127.0.0.1:P (default 7080); prints the URL with its\n"
    "                      token ('up --web' runs the cluster with it)\n"
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
    bool local; /* Acts on DIR's processes: refused with --config. */
};

static const struct ctl_command ctl_commands[] = {
    {"up", cmd_up, true},
    {"down", cmd_down, true},
    {"kill", cmd_kill, true},
    {"start", cmd_start, true},
    {"status", cmd_status, false},
    {"put", cmd_put, false},
    {"get", cmd_get, false},
    {"del", cmd_del, false},
    {"cas", cmd_cas, false},
    {"partition", cmd_partition, false},
    {"netem", cmd_netem, false},
    {"heal", cmd_heal, false},
    {"bench", cmd_bench, false},
    {"watch", cmd_watch, true},
    {"replay", cmd_replay, false},
    {"trace", cmd_trace, false},
    {"compact", cmd_compact, false},
    {"check", cmd_check, false},
    {"members", cmd_members, false},
    {"add", cmd_add, false},
    {"promote", cmd_promote, false},
    {"remove", cmd_remove, false},
    {"replace", cmd_replace, true},
    {"transfer", cmd_transfer, false},
    {"keys", cmd_keys, false},
    {"web", cmd_web, true},
};

/* A command of the cluster directory's processes under --config: says
 * what to use instead. */
static int refuse_by_config(const char *name)
{
    ctl_error("%s needs the cluster directory that 'raftctl up' made (-d "
              "DIR), not --config: members started by hand or by "
              "raftnode@ID.service are started and stopped there "
              "(docs/HOSTS.md)",
              name);
    return CTL_EXIT_USAGE;
}

/* The value of a global option at argv[*i] ("--opt V" or "--opt=V"), or
 * NULL when argv[*i] is not that option; advances *i past it. */
static const char *global_value(int argc, char **argv, int *i, const char *opt,
                                const char *alias)
{
    const char *arg = argv[*i];
    size_t len = strlen(opt);
    if (strcmp(arg, opt) == 0 || (alias != NULL && strcmp(arg, alias) == 0)) {
        /* Without a value: "" (main says it needs one). */
        *i += *i + 1 < argc ? 2 : 1;
        return *i - 1 < argc && argv[*i - 1] != arg ? argv[*i - 1] : "";
    }
    if (strncmp(arg, opt, len) == 0 && arg[len] == '=') {
        *i += 1;
        return arg + len + 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    /* DIR, keys, databases and logs: this user's only. */
    (void)umask(077);
    const char *dir = NULL, *config = NULL, *key_dir = NULL;
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        const char *arg = argv[i];
        const char *v = NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(ctl_usage_text, stdout);
            return CTL_EXIT_OK;
        }
        if ((v = global_value(argc, argv, &i, "--dir", "-d")) != NULL) {
            dir = v;
        } else if ((v = global_value(argc, argv, &i, "--config", NULL)) !=
                   NULL) {
            config = v;
        } else if ((v = global_value(argc, argv, &i, "--key-dir", NULL)) !=
                   NULL) {
            key_dir = v;
        } else {
            ctl_error("unknown option '%s' (see 'raftctl help')", arg);
            return CTL_EXIT_USAGE;
        }
        if (v[0] == '\0') {
            ctl_error("option '%s' needs a value", arg);
            return CTL_EXIT_USAGE;
        }
    }
    if (config != NULL && dir != NULL) {
        ctl_error("give either -d DIR or --config FILE, not both");
        return CTL_EXIT_USAGE;
    }
    if (key_dir != NULL && config == NULL) {
        ctl_error("--key-dir goes with --config FILE");
        return CTL_EXIT_USAGE;
    }
    cdir_use_config(config, key_dir);
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
            if (config != NULL && ctl_commands[k].local) {
                return refuse_by_config(name);
            }
            return ctl_commands[k].run(argc - i - 1, argv + i + 1, dir);
        }
    }
    ctl_error("unknown command '%s' (see 'raftctl help')", name);
    return CTL_EXIT_USAGE;
}
