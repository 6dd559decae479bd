/*
 * What the raftctl source files share: exit codes, the command-line option
 * parser (options may come before or after positional arguments), error
 * printing, and one entry point per command. Read launcher/main.c next.
 */
#ifndef RAFT_LAUNCHER_RAFTCTL_H
#define RAFT_LAUNCHER_RAFTCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/types.h"

/* Exit codes (DESIGN.md, raftctl). */
enum ctl_exit {
    CTL_EXIT_OK = 0,          /* Success. */
    CTL_EXIT_NO = 1,          /* A negative answer: absent key, CAS mismatch. */
    CTL_EXIT_USAGE = 2,       /* Usage: bad option, argument, id or size. */
    CTL_EXIT_UNAVAILABLE = 3, /* No leader answered in time, or the
                               * session expired: outcome unknown. */
    CTL_EXIT_ERROR = 4        /* Anything else. */
};

#define CTL_POS_MAX 32
#define CTL_OPTS_MAX 16

/* One option a command accepts: "--timeout" (and an alias such as "-n"). */
struct ctl_opt {
    const char *name;
    const char *alias; /* NULL when none. */
    bool has_arg;
};

/* A parsed command line: positional arguments, and for each option of the
 * command's table whether it was given and its argument. Pointers borrow
 * argv. */
struct ctl_args {
    const char *cmd;
    const char *dir; /* -d / --dir, NULL when not given. */
    int n_pos;
    const char *pos[CTL_POS_MAX];
    bool given[CTL_OPTS_MAX];
    const char *val[CTL_OPTS_MAX];
};

/* Parses argv[0..argc) (the words after the command name) against opts[0..n)
 * plus -d/--dir. "--" ends the options; "--name=value" works. Returns
 * CTL_EXIT_OK, or CTL_EXIT_USAGE after printing one line on stderr. */
int ctl_parse(int argc, char **argv, const struct ctl_opt *opts, int n_opts,
              struct ctl_args *out);

/* Prints "raftctl: <message>" and a newline on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct cdir;
/* Resolves the cluster directory (opt_dir, $RAFT_DIR, ./cluster) into d and
 * loads its cluster.conf into conf; on failure prints the one error line.
 * Returns CTL_EXIT_OK or CTL_EXIT_ERROR. */
int ctl_load_cluster(const char *opt_dir, struct cdir *d, struct conf *conf);

/* Parses a decimal integer in [min, max]. Errors: ERR_INVALID. */
int ctl_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* Checks that id (text) names a member; prints an error and returns
 * CTL_EXIT_USAGE when it does not. */
int ctl_parse_member(const struct conf *conf, const char *text, raft_id *id);

/* Commands: each takes its parsed arguments, prints its output and returns
 * an exit code. dir is the cluster directory as given (-d or $RAFT_DIR or
 * the default). */
int cmd_up(int argc, char **argv, const char *dir);
int cmd_down(int argc, char **argv, const char *dir);
int cmd_kill(int argc, char **argv, const char *dir);
int cmd_start(int argc, char **argv, const char *dir);
int cmd_status(int argc, char **argv, const char *dir);
int cmd_put(int argc, char **argv, const char *dir);
int cmd_get(int argc, char **argv, const char *dir);
int cmd_del(int argc, char **argv, const char *dir);
int cmd_cas(int argc, char **argv, const char *dir);
int cmd_partition(int argc, char **argv, const char *dir);
int cmd_netem(int argc, char **argv, const char *dir);
int cmd_heal(int argc, char **argv, const char *dir);
int cmd_compact(int argc, char **argv, const char *dir);
int cmd_check(int argc, char **argv, const char *dir);
/* launcher/cmd_member.c */
int cmd_members(int argc, char **argv, const char *dir);
int cmd_promote(int argc, char **argv, const char *dir);
int cmd_remove(int argc, char **argv, const char *dir);
int cmd_transfer(int argc, char **argv, const char *dir);
int cmd_add(int argc, char **argv, const char *dir);
int cmd_replace(int argc, char **argv, const char *dir);
/* launcher/cmd_keys.c */
int cmd_keys(int argc, char **argv, const char *dir);
/* True when the stored configuration (the members table) of a member that
 * conf lists no longer holds id: a `remove` took it out, so its files in
 * DIR are a former member's. */
bool ctl_member_removed(const struct cdir *d, const struct conf *conf,
                        raft_id id);
int cmd_watch(int argc, char **argv, const char *dir);
int cmd_replay(int argc, char **argv, const char *dir);
/* launcher/web.c */
int cmd_web(int argc, char **argv, const char *dir);
/* launcher/cmd_watch.c: the message trace alone */
int cmd_trace(int argc, char **argv, const char *dir);

#endif
