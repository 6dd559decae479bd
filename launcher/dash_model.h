/*
 * The dashboard's rendering model: what `raftctl watch` knows of the
 * cluster (each node's last status answer, the event feed, the key prompt)
 * goes in, a grid of characters with a colour and attributes per cell comes
 * out. Pure: no terminal, no I/O, no clock (ages arrive as numbers), so
 * tests/unit/test_dash_model.c checks screens as lines of text. It also
 * holds the key-prompt state machine ("k" then a node id). The terminal
 * side is launcher/dashboard.c. Read launcher/dash_model.c next.
 */
#ifndef RAFT_LAUNCHER_DASH_MODEL_H
#define RAFT_LAUNCHER_DASH_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/membership.h"
#include "common/msg.h"
#include "common/types.h"
#include "launcher/events.h"
#include "launcher/trace_msg.h"

#define DASH_COLS_MAX 320 /* Wider terminals use this much. */
#define DASH_ROWS_MAX 120
#define DASH_COLS_MIN 60 /* Below this: "terminal too small". */
#define DASH_ROWS_MIN 10
#define DASH_TERM_COLORS 6 /* Log cells cycle through these. */
#define DASH_INTERPOLATE_MS_MAX                                                \
    100 /* Timer bars advance this long past
                                       the last answer, no more. */

enum dash_color {
    DASH_COLOR_NORMAL = 0,
    DASH_COLOR_TITLE, /* Title and help bars. */
    DASH_COLOR_LEADER,
    DASH_COLOR_CANDIDATE,
    DASH_COLOR_FOLLOWER,
    DASH_COLOR_DOWN,
    DASH_COLOR_DIM,     /* Labels, separators. */
    DASH_COLOR_BAR,     /* An election timer well before its end. */
    DASH_COLOR_BAR_HOT, /* The last quarter of an election timer. */
    DASH_COLOR_FAULT,
    DASH_COLOR_KEY,   /* Keys in the help bar. */
    DASH_COLOR_TERM0, /* .. DASH_COLOR_TERM0 + DASH_TERM_COLORS - 1 */
    DASH_COLOR__COUNT = DASH_COLOR_TERM0 + DASH_TERM_COLORS
};

#define DASH_ATTR_BOLD 0x1
#define DASH_ATTR_REVERSE 0x2

struct dash_cell {
    char ch;       /* Printable ASCII. */
    uint8_t color; /* enum dash_color */
    uint8_t attr;  /* DASH_ATTR_* */
};

struct dash_screen {
    int cols;
    int rows;
    struct dash_cell cells[DASH_ROWS_MAX][DASH_COLS_MAX];
};

enum dash_node_state {
    DASH_NODE_UP = 0, /* It answers. */
    DASH_NODE_SILENT, /* Its process runs but does not answer. */
    DASH_NODE_DOWN,   /* No process (or none known). */
    DASH_NODE_DAMAGED /* No process; it set its database aside as damaged. */
};

/* One node as the dashboard knows it. */
struct dash_node {
    raft_id id;
    int state;      /* enum dash_node_state */
    long pid;       /* 0: unknown. */
    bool has_reply; /* term/st hold its last answer (maybe old). */
    raft_term term;
    struct msg_status_reply st;
    uint64_t age_ms; /* Since that answer arrived. */
};

struct dash_view {
    const struct conf *conf; /* Borrowed. */
    char where[96];          /* The cluster directory as shown. */
    struct dash_node nodes[RAFT_NODES_MAX]; /* conf->members order. */
    const struct ev_ring *events;           /* Borrowed; newest shown first. */
    /* The messages pane (watch --messages): borrowed, newest shown first;
     * NULL: no pane. */
    const struct trace_ring *msgs;
    const char *prompt; /* A pending key prompt, or NULL: help. */
    bool owns_cluster;  /* Foreground up: q stops the cluster. */
    bool from_launcher; /* Events stream from the launcher. */
    bool stopping;      /* The cluster is being stopped. */
    unsigned fps;       /* Frames drawn in the last second. */
    const char *title;  /* NULL: "raft watch" (replay: "raft replay"). */
    const char *feed;   /* NULL: where the events come from. */
    bool is_replay;     /* A recording: no hints about keys that act. */
};

/* Makes conf's members those of the configuration m (both voter sets
 * when joint, learners too), sorted by id, so the dashboard gets a panel
 * for a member added while it runs and drops a removed one: a member conf
 * lists keeps its address; a new one takes m's ("HOST:PORT"); one without
 * a usable address is left out. Returns whether conf changed (never to no
 * members). */
bool dash_members_follow(struct conf *conf, const struct membership *m);

/* Draws the view into out, sized cols x rows (clamped to the maxima). */
void dash_render(const struct dash_view *v, int cols, int rows,
                 struct dash_screen *out);

/* Row row of s as text, trailing spaces removed, into buf (cap bytes). */
void dash_screen_line(const struct dash_screen *s, int row, char *buf,
                      size_t cap);

/* What a key asks for. */
enum dash_action {
    DASH_ACT_NONE = 0, /* Nothing yet (or a prompt changed). */
    DASH_ACT_KILL,     /* *id: the node to kill. */
    DASH_ACT_START,    /* *id: the node to start. */
    DASH_ACT_ISOLATE,  /* Partition the leader from the others. */
    DASH_ACT_HEAL,
    DASH_ACT_WRITE,    /* Put a random key. */
    DASH_ACT_ADD,      /* raftctl add: a new member. */
    DASH_ACT_TRANSFER, /* raftctl transfer: leadership elsewhere. */
    DASH_ACT_QUIT,
    DASH_ACT_BAD_ID, /* A typed id names no member. */
    DASH_ACT_CANCEL  /* A prompt was abandoned. */
};

#define DASH_KEY_ENTER '\n'
#define DASH_KEY_ESCAPE 27

/* The key prompt: "k" or "s" waits for a node id (acted on as soon as the
 * digits name exactly one member, or on Enter); "q" may ask to confirm. */
struct dash_prompt {
    char cmd; /* 0 idle, 'k', 's', or 'q' (confirming). */
    uint32_t n_digits;
    char digits[12];
};

/* Feeds one key. confirm_quit: "q" asks "y/n" first. Sets *id for KILL,
 * START and BAD_ID (0 when the digits are not a number). */
int dash_prompt_key(struct dash_prompt *p, int key, const struct conf *conf,
                    bool confirm_quit, raft_id *id);

/* The prompt line for a pending prompt, or "" when idle. */
void dash_prompt_text(const struct dash_prompt *p, char *buf, size_t cap);

#endif
