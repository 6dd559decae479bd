/*
 * The options `raftctl up` records in DIR/options (0600) for a new or
 * running cluster: timings, snapshot and session limits (DESIGN.md,
 * Snapshots and compaction). Later `up`s and the launcher's `start` use
 * them again; given again, they replace the recorded ones. One
 * "name value" line each. Read launcher/supervisor.c next.
 */
#ifndef RAFT_LAUNCHER_UP_OPTIONS_H
#define RAFT_LAUNCHER_UP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct cdir;

enum up_option {
    UP_OPT_HEARTBEAT,        /* --heartbeat MS */
    UP_OPT_ELECTION,         /* --election MS */
    UP_OPT_SNAPSHOT_ENTRIES, /* --snapshot-entries N */
    UP_OPT_LOG_KEEP,         /* --log-keep K */
    UP_OPT_MAX_SESSIONS,     /* --max-sessions M */
    UP_OPT_MAX_DATAGRAM,     /* --max-datagram N (docs/HOSTS.md) */
    UP_OPT__COUNT
};

/* Unset options take raftnode's defaults. */
struct up_options {
    bool is_set[UP_OPT__COUNT];
    uint64_t val[UP_OPT__COUNT];
};

/* The raftnode flag of an option, e.g. "--log-keep". */
const char *up_option_flag(int opt);

/* Parses text as option opt's value into o. Errors: ERR_INVALID (out of
 * range; errmsg names the flag and its range). */
int up_options_parse(struct up_options *o, int opt, const char *text,
                     char errmsg[ERRMSG_LEN]);

/* Reads DIR/options into o (all unset when the file is missing). Errors:
 * ERR_INVALID ("DIR/options:3: ..."), ERR_IO. */
int up_options_load(const struct cdir *d, struct up_options *o,
                    char errmsg[ERRMSG_LEN]);

/* Writes o to DIR/options atomically, mode 0600. Errors: ERR_IO. */
int up_options_save(const struct cdir *d, const struct up_options *o,
                    char errmsg[ERRMSG_LEN]);

/* Options set in over replace those in base. */
void up_options_merge(struct up_options *base, const struct up_options *over);

/* The options together, as raftnode checks them (--election longer than
 * --heartbeat, unset ones at raftnode's defaults). Errors: ERR_INVALID
 * (errmsg says why). */
int up_options_check(const struct up_options *o, char errmsg[ERRMSG_LEN]);

#endif
