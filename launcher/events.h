/*
 * The cluster's event feed, one model for every consumer: the launcher
 * prints events as plain lines (foreground `up` without a terminal,
 * launcher.log) and streams them to `raftctl watch` over launcher.sock; the
 * dashboard shows them newest first. Events come from the launcher's own
 * knowledge (a node started, died with its exit status) and from diffing
 * successive status polls (elections, votes, leaders, step-downs, commit
 * progress, partitions and netem rules), which ev_tracker does. Pure: no
 * I/O and no clock; times arrive as arguments. Read launcher/events.c next.
 */
#ifndef RAFT_LAUNCHER_EVENTS_H
#define RAFT_LAUNCHER_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/client_query.h"
#include "common/conf.h"
#include "common/msg.h"
#include "common/types.h"

#define EV_TEXT_MAX 120 /* One event's text, with the NUL. */
#define EV_RING_MAX 256 /* Events a feed remembers. */
#define EV_LINE_MAX (EV_TEXT_MAX + 96)
#define EV_FAULTS_MAX 160       /* A description of the fault rules. */
#define EV_LEADERLESS_ROUNDS 2  /* Rounds without a leader: "no leader". */
#define EV_SILENT_ROUNDS 3      /* Unanswered rounds: "stopped answering". */
#define EV_COMMIT_EVERY_MS 2000 /* At most one commit event this often. */

enum ev_kind {
    EV_INFO = 0,  /* The launcher's own lines (cluster up, stopping). */
    EV_START,     /* A node process started, or answers again. */
    EV_DEATH,     /* A node died (exit status), or stopped answering. */
    EV_ELECTION,  /* A node started an election or a pre-vote. */
    EV_VOTE,      /* A node voted for a candidate. */
    EV_LEADER,    /* A new leader (or term). */
    EV_STEP_DOWN, /* A leader stepped down. */
    EV_NO_LEADER, /* No node leads any more. */
    EV_COMMIT,    /* Commit progress. */
    EV_FAULT,     /* Partitions and netem rules changed. */
    EV_ACTION,    /* What the dashboard's user did, and its outcome. */
    EV__COUNT
};

struct ev {
    uint64_t wall_ms;       /* Wall-clock time (ms since the epoch). */
    uint8_t kind;           /* enum ev_kind */
    raft_id node;           /* The node it is about, 0 for the cluster. */
    raft_term term;         /* The term it is about, 0 when none. */
    char text[EV_TEXT_MAX]; /* One line, no newline. */
};

/* The last EV_RING_MAX events; the oldest is overwritten. */
struct ev_ring {
    uint32_t n;      /* Events held, at most EV_RING_MAX. */
    uint32_t next;   /* Slot of the next push. */
    uint64_t pushed; /* Events ever pushed. */
    struct ev items[EV_RING_MAX];
};

void ev_ring_init(struct ev_ring *r);
/* Copies e in (a newline in its text becomes a space). */
void ev_ring_push(struct ev_ring *r, const struct ev *e);
/* The k-th newest event (0 is the newest); k < r->n. Borrowed. */
const struct ev *ev_ring_newest(const struct ev_ring *r, uint32_t k);

/* Fills e with a formatted text. */
void ev_set(struct ev *e, uint64_t wall_ms, int kind, raft_id node,
            raft_term term, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The word of a kind in the event stream ("death"); "info" when unknown. */
const char *ev_kind_name(int kind);

/* The word of a kind in recordings (docs/RECORDING.md: "step_down",
 * "no_leader"; else as ev_kind_name), and back (an unknown word: EV_INFO). */
const char *ev_kind_record_name(int kind);
int ev_kind_from_record(const char *word);

/* The launcher's stream line: "ev WALL_MS KIND NODE TERM TEXT" without a
 * newline. Returns the length (truncated to cap - 1). */
size_t ev_format_line(const struct ev *e, char *buf, size_t cap);
/* Parses a stream line (without its newline). An unknown kind is read as
 * EV_INFO so that a newer launcher can add kinds. Errors: ERR_INVALID. */
int ev_parse_line(const char *line, struct ev *out);

/* "HH:MM:SS.mmm" of wall_ms in local time. */
void ev_format_clock(uint64_t wall_ms, char *buf, size_t cap);

/* Describes the fault rules in force from the members' status replies:
 * "partition 1 2 | 3", "cut 1-3", "netem loss 20% delay 50+-10ms", or
 * "" when there are none. st[i] belongs to conf->members[i]; only members
 * that answered (and members an answering one blocks) count. */
void ev_faults_describe(const struct conf *conf,
                        const struct client_node_status *st, char *buf,
                        size_t cap);

/* What the tracker remembers of one node's last answer. */
struct ev_node {
    bool known;      /* A baseline answer was recorded. */
    bool silent;     /* Announced as not answering. */
    uint32_t missed; /* Rounds without an answer in a row. */
    uint32_t pid;
    raft_term term;
    uint8_t role;
    raft_id voted_for;
    uint32_t timeout_ms;
};

/* Derives events by diffing successive rounds of status answers. */
struct ev_tracker {
    const struct conf *conf; /* Borrowed for the tracker's lifetime. */
    bool track_silence;      /* Report nodes that stop answering (watch
                                 without a launcher, which knows deaths). */
    struct ev_node nodes[RAFT_NODES_MAX]; /* By index into conf->members. */
    raft_id shown_leader;
    raft_term shown_term;
    uint32_t leaderless_rounds;
    bool commit_known;
    raft_index commit_shown;
    uint64_t commit_event_ms;
    char faults_shown[EV_FAULTS_MAX];
    char faults_pending[EV_FAULTS_MAX];
    uint32_t faults_rounds;
};

typedef void (*ev_emit_cb)(void *ctx, const struct ev *e);

/* conf is borrowed for the tracker's lifetime. */
void ev_tracker_init(struct ev_tracker *t, const struct conf *conf,
                     bool track_silence);

/* One round of answers, st[i] for conf->members[i] (alive false: no
 * answer this round), at wall_ms. Calls emit for each event, in order:
 * restarts, elections, votes, step-downs, the leader, commit, faults,
 * silence. */
void ev_tracker_round(struct ev_tracker *t, uint64_t wall_ms,
                      const struct client_node_status *st, ev_emit_cb emit,
                      void *ctx);

/* Forgets what node id said (it died or was restarted): its next answer is
 * a new baseline, not a change. */
void ev_tracker_forget(struct ev_tracker *t, raft_id id);

#endif
