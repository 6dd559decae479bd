/*
 * The live recorder behind `raftctl up --record FILE` (in the launcher)
 * and `raftctl watch --record FILE`: it writes a recording
 * (docs/RECORDING.md, common/recording.h) of a running cluster: the meta
 * line, one status line per member for each status round, the events
 * (fault events as "fault" lines) and, once the message trace is wired
 * in, one "msg" line per traced message (recorder_msg). Times are
 * milliseconds of the monotonic clock since recorder_begin. Bounded:
 * past --record-max the writer stops with one event saying so. Read
 * launcher/recorder.c next.
 */
#ifndef RAFT_LAUNCHER_RECORDER_H
#define RAFT_LAUNCHER_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/client_query.h"
#include "common/conf.h"
#include "common/recording.h"
#include "launcher/events.h"
#include "launcher/trace_msg.h"
#include "launcher/up_options.h"

#define RECORDER_ROUND_MS 100 /* watch: one status round this often. */
#define RECORDER_MAX_MB 65536 /* --record-max bound. */

struct recorder {
    bool is_open;
    struct rec_writer w;
    uint64_t t0_ms;          /* Monotonic time of t = 0. */
    const struct conf *conf; /* Borrowed from recorder_begin on. */
    uint64_t next_round_ms;  /* watch: the next status round. */
};

/* Creates path (0600). max_mb 0: the default (64 MiB). Errors: ERR_IO
 * (errmsg). */
int recorder_open(struct recorder *r, const char *path, uint64_t max_mb,
                  char errmsg[ERRMSG_LEN]);
/* Writes the meta line: the members, the timers in opts (raftnode's
 * defaults where unset); now_ms becomes t = 0. conf is borrowed. */
void recorder_begin(struct recorder *r, const struct conf *conf,
                    const struct up_options *opts, uint64_t now_ms,
                    uint64_t wall_ms);
/* One status line per member of conf, st[i] for conf->members[i] (alive
 * false: "up":false, role "down"); then flushes. */
void recorder_round(struct recorder *r, uint64_t now_ms,
                    const struct client_node_status *st);
struct dash_source;
/* watch: a status round from what the dashboard's source knows, once
 * every RECORDER_ROUND_MS. */
void recorder_source_step(struct recorder *r, const struct dash_source *src,
                          uint64_t now_ms);
/* An event of the feed: EV_FAULT as a "fault" line, others as "event". */
void recorder_event(struct recorder *r, uint64_t now_ms, const struct ev *e);
/* For the message trace: one "msg" line, sent at now_ms by m->from. */
void recorder_msg(struct recorder *r, uint64_t now_ms, const struct rec_msg *m);
/* A message of the trace (launcher/trace_source.h) at its send time
 * m->t_ms, or at the last line's t when that is later (a recording's t
 * never goes back; the trace delivers messages up to 80 ms late). */
void recorder_trace_msg(struct recorder *r, const struct trace_msg *m);
/* For the message trace: member id's trace left count messages out. */
void recorder_trace_dropped(struct recorder *r, uint64_t now_ms, raft_id id,
                            uint64_t count);
/* Checks cmd's --record PATH and --record-max TEXT (each NULL when not
 * given) and sets *mb (the default without --record-max). Returns
 * CTL_EXIT_OK, or CTL_EXIT_USAGE after one line on stderr. */
int recorder_args(const char *cmd, const char *path, const char *max_text,
                  uint64_t *mb);
/* Closes the file; prints one line on stderr if a write failed. */
void recorder_close(struct recorder *r);

/* A status reply as a status line's fields. */
void recorder_status_of(raft_id id, bool alive, raft_term term,
                        const struct msg_status_reply *reply,
                        struct rec_status *out);

#endif
