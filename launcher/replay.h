/*
 * `raftctl replay`'s model: a loaded recording (launcher/recording_read.h)
 * and a position in it. Seeking applies every line up to a time: each
 * member's last status (kept, as the live dashboard keeps a silent node's
 * last figures), the event feed (events, faults and violations), message
 * counts. replay_view fills the dashboard's model (launcher/dash_model.h)
 * as if the cluster were live at that moment; replay_dump prints the
 * leaders and terms and the violations as lines. Pure: no terminal and no
 * clock. The terminal side is launcher/cmd_replay.c. Read
 * launcher/replay.c next.
 */
#ifndef RAFT_LAUNCHER_REPLAY_H
#define RAFT_LAUNCHER_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/conf.h"
#include "launcher/dash_model.h"
#include "launcher/events.h"
#include "launcher/recording_read.h"

struct replay_node {
    bool seen;            /* Some status line named it up. */
    bool up;              /* Its latest status line. */
    uint64_t t_up;        /* Time of its last "up" status. */
    struct rec_status st; /* That status. */
};

struct replay {
    struct rec_file file;
    struct conf conf; /* The meta line's members. */
    size_t pos;       /* Entries [0, pos) are applied. */
    uint64_t t;       /* The moment shown. */
    struct replay_node nodes[RAFT_NODES_MAX];
    struct ev_ring events;
    uint64_t n_msgs;
    uint64_t n_violations;
};

/* Loads path. Errors: those of rec_file_load; errmsg says why. */
int replay_open(struct replay *r, const char *path, char errmsg[ERRMSG_LEN]);
/* Over a parsed file (taken over). */
int replay_init(struct replay *r, struct rec_file *f, char errmsg[ERRMSG_LEN]);
void replay_close(struct replay *r);

/* Shows the moment t (clamped to the recording): every line at or before
 * it applied. Going back starts over from the beginning. */
void replay_seek(struct replay *r, uint64_t t);
/* The time of the first status line after the moment shown (the next
 * frame), or the end. */
uint64_t replay_next_frame(const struct replay *r);

/* Fills v->conf, v->nodes and v->events for the moment shown. */
void replay_view(const struct replay *r, struct dash_view *v);

/* Prints, in order, "t=MS leader ID term T" each time the cluster's
 * leader (the answering leader of the highest term after each round of
 * status lines) or its term changes, and "t=MS violation TEXT" for each
 * violation line; then one "end t=MS ..." summary line. Does not move r. */
void replay_dump(const struct replay *r, FILE *out);

#endif
