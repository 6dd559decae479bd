/*
 * `raftctl replay FILE`: a recording (docs/RECORDING.md) in the
 * dashboard, as if the cluster were live at the recording's moment
 * (launcher/replay.c feeds the dashboard's model), with pause, step,
 * speed and seek keys; `--dump` prints the leaders, terms and violations
 * as lines and `--frame MS` one frame as text (scripts and tests). Read
 * launcher/bench.h next.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "launcher/dash_model.h"
#include "launcher/dash_term.h"
#include "launcher/dashboard.h"
#include "launcher/raftctl.h"
#include "launcher/replay.h"

#define REPLAY_FRAME_MS 50
#define REPLAY_SEEK_MS 5000
#define REPLAY_FRAME_COLS 100
#define REPLAY_FRAME_ROWS 30

enum { REPLAY_DUMP, REPLAY_FRAME, REPLAY__COUNT };

static const struct ctl_opt replay_opts[] = {
    [REPLAY_DUMP] = {"--dump", NULL, false},
    [REPLAY_FRAME] = {"--frame", NULL, true},
};

/* Speeds, in tenths: 0.1x to 10x. */
static const unsigned replay_speeds[] = {1, 2, 5, 10, 20, 50, 100};
#define REPLAY_SPEED_1X 3
#define REPLAY_N_SPEEDS (sizeof(replay_speeds) / sizeof(replay_speeds[0]))

struct replay_ui {
    struct replay r;
    const char *name; /* The file as given. */
    bool playing;
    size_t speed;       /* Index into replay_speeds. */
    uint64_t anchor_t;  /* Recording time at anchor_ms. */
    uint64_t anchor_ms; /* Monotonic. */
    bool jumping;       /* "g": typing seconds. */
    char jump[16];
    bool quit;
    char where[192];
    char help[160];
    struct dash_view view;
    struct dash_screen screen;
};

/* The moment to show now. */
static uint64_t ui_now_t(const struct replay_ui *u, uint64_t now_ms)
{
    if (!u->playing) {
        return u->anchor_t;
    }
    uint64_t t =
        u->anchor_t + (now_ms - u->anchor_ms) * replay_speeds[u->speed] / 10;
    return t < u->r.file.t_end ? t : u->r.file.t_end;
}

/* Moves to t (clamped), keeping play or pause. */
static void ui_goto(struct replay_ui *u, uint64_t t, uint64_t now_ms)
{
    u->anchor_t = t < u->r.file.t_end ? t : u->r.file.t_end;
    u->anchor_ms = now_ms;
}

static void ui_jump_key(struct replay_ui *u, int key, uint64_t now_ms)
{
    size_t len = strlen(u->jump);
    if (key >= '0' && key <= '9' && len + 1 < sizeof(u->jump)) {
        u->jump[len] = (char)key;
        u->jump[len + 1] = '\0';
    } else if (key == 127 && len > 0) {
        u->jump[len - 1] = '\0';
    } else if (key == '\n') {
        ui_goto(u, strtoull(u->jump, NULL, 10) * 1000, now_ms);
        u->jumping = false;
    } else if (key == DASH_KEY_ESCAPE || key == 'q') {
        u->jumping = false;
    }
}

static void ui_key(struct replay_ui *u, int key, uint64_t now_ms)
{
    if (u->jumping) {
        ui_jump_key(u, key, now_ms);
        return;
    }
    uint64_t t = ui_now_t(u, now_ms);
    switch (key) {
    case ' ':
        ui_goto(u, t >= u->r.file.t_end ? 0 : t, now_ms);
        u->playing = !u->playing;
        break;
    case '.':
        u->playing = false;
        ui_goto(u, t, now_ms);
        replay_seek(&u->r, t);
        ui_goto(u, replay_next_frame(&u->r), now_ms);
        break;
    case '+':
    case '=':
        ui_goto(u, t, now_ms);
        u->speed += u->speed + 1 < REPLAY_N_SPEEDS ? 1 : 0;
        break;
    case '-':
        ui_goto(u, t, now_ms);
        u->speed -= u->speed > 0 ? 1 : 0;
        break;
    case DASH_TERM_LEFT:
        ui_goto(u, t > REPLAY_SEEK_MS ? t - REPLAY_SEEK_MS : 0, now_ms);
        break;
    case DASH_TERM_RIGHT:
        ui_goto(u, t + REPLAY_SEEK_MS, now_ms);
        break;
    case DASH_TERM_HOME:
        ui_goto(u, 0, now_ms);
        break;
    case DASH_TERM_END:
        ui_goto(u, u->r.file.t_end, now_ms);
        break;
    case 'g':
        u->jumping = true;
        u->jump[0] = '\0';
        break;
    case 'q':
        u->quit = true;
        break;
    default:
        break;
    }
}

/* Title and help for the moment shown. */
static void ui_texts(struct replay_ui *u, uint64_t t)
{
    const struct rec_meta *m = &u->r.file.meta;
    unsigned sp = replay_speeds[u->speed];
    char source[32];
    if (m->is_sim) {
        snprintf(source, sizeof(source), "sim seed 0x%" PRIx64, m->seed);
    } else {
        snprintf(source, sizeof(source), "live");
    }
    const char *base = strrchr(u->name, '/');
    base = base != NULL ? base + 1 : u->name;
    snprintf(u->where, sizeof(u->where),
             "%.30s (%s)  %" PRIu64 ".%03" PRIu64 "/%" PRIu64 ".%03" PRIu64
             " s  %u.%ux %s%s",
             base, source, t / 1000, t % 1000, u->r.file.t_end / 1000,
             u->r.file.t_end % 1000, sp / 10, sp % 10,
             u->playing ? "playing" : "paused",
             u->r.n_violations > 0 ? "  VIOLATION" : "");
    if (u->jumping) {
        snprintf(u->help, sizeof(u->help),
                 "jump to second: %s_  (Enter to go, Esc to cancel)", u->jump);
    } else {
        snprintf(u->help, sizeof(u->help),
                 "space %s  . step  +/- speed  <-/-> 5 s  Home/End  g jump  "
                 "q quit   record %zu/%zu",
                 u->playing ? "pause" : "play", u->r.pos, u->r.file.n);
    }
}

/* Renders the moment t into u->screen at cols x rows. */
static void ui_render(struct replay_ui *u, uint64_t t, int cols, int rows)
{
    replay_seek(&u->r, t);
    ui_texts(u, t);
    memset(&u->view, 0, sizeof(u->view));
    replay_view(&u->r, &u->view);
    snprintf(u->view.where, sizeof(u->view.where), "%.95s", u->where);
    u->view.title = "raft replay";
    u->view.is_replay = true;
    u->view.feed = "(from the recording) ";
    u->view.prompt = u->help;
    dash_render(&u->view, cols, rows, &u->screen);
}

static void ui_loop(struct replay_ui *u)
{
    const char *dump = getenv("RAFTCTL_WATCH_DUMP");
    u->playing = true;
    u->anchor_ms = clock_now_ms();
    while (!u->quit) {
        struct pollfd pfds[2] = {
            {.fd = STDIN_FILENO, .events = POLLIN},
            {.fd = dash_term_signal_fd(), .events = POLLIN},
        };
        if (poll(pfds, 2, REPLAY_FRAME_MS) < 0 && errno != EINTR) {
            return;
        }
        uint64_t now_ms = clock_now_ms();
        if (dash_term_take_signals()) {
            return;
        }
        for (int k = 0; k < 64; k++) {
            int key = dash_term_key();
            if (key == DASH_TERM_NONE) {
                break;
            }
            ui_key(u, key, now_ms);
        }
        uint64_t t = ui_now_t(u, now_ms);
        if (u->playing && t >= u->r.file.t_end) {
            u->playing = false; /* The end: pause there. */
            ui_goto(u, t, now_ms);
        }
        ui_render(u, t, dash_term_cols(), dash_term_rows());
        dash_term_paint(&u->screen);
        if (dump != NULL) {
            dash_term_dump(&u->screen, dump); /* Tests read the screen. */
        }
    }
}

/* --frame MS: one frame at that moment as text. */
static int replay_frame(struct replay_ui *u, const char *text)
{
    uint64_t t = 0;
    if (ctl_parse_u64(text, 0, UINT64_MAX / 2, &t) != ERR_OK) {
        ctl_error("replay: --frame takes milliseconds since the start");
        return CTL_EXIT_USAGE;
    }
    ui_render(u, t < u->r.file.t_end ? t : u->r.file.t_end, REPLAY_FRAME_COLS,
              REPLAY_FRAME_ROWS);
    char line[DASH_COLS_MAX + 1];
    for (int row = 0; row < u->screen.rows; row++) {
        dash_screen_line(&u->screen, row, line, sizeof(line));
        printf("%s\n", line);
    }
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}

int cmd_replay(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "replay", .dir = dir};
    int rc = ctl_parse(argc, argv, replay_opts, REPLAY__COUNT, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 1 || (a.given[REPLAY_DUMP] && a.given[REPLAY_FRAME])) {
        ctl_error("usage: raftctl replay FILE [--dump | --frame MS]");
        return CTL_EXIT_USAGE;
    }
    struct replay_ui *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        ctl_error("replay: out of memory");
        return CTL_EXIT_ERROR;
    }
    u->name = a.pos[0];
    u->speed = REPLAY_SPEED_1X;
    char errmsg[ERRMSG_LEN] = "";
    if (replay_open(&u->r, a.pos[0], errmsg) != ERR_OK) {
        ctl_error("replay: %s", errmsg);
        free(u);
        return CTL_EXIT_ERROR;
    }
    if (u->r.file.meta.wall_ms == 0) {
        /* No wall clock (the simulator): event times read as time since
         * the start. */
        setenv("TZ", "UTC", 1);
        tzset();
    }
    if (u->r.file.n_malformed > 0) {
        fprintf(stderr,
                "raftctl: replay: %" PRIu64 " malformed lines skipped "
                "(the first is line %" PRIu64 ")\n",
                u->r.file.n_malformed, u->r.file.first_malformed);
    }
    if (a.given[REPLAY_DUMP]) {
        replay_dump(&u->r, stdout);
        rc = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
    } else if (a.given[REPLAY_FRAME]) {
        rc = replay_frame(u, a.val[REPLAY_FRAME]);
    } else if (!dashboard_usable()) {
        ctl_error("replay: needs a terminal (or --dump, --frame MS)");
        rc = CTL_EXIT_USAGE;
    } else if (dash_term_open(errmsg) != ERR_OK) {
        ctl_error("replay: %s", errmsg);
        rc = CTL_EXIT_ERROR;
    } else {
        ui_loop(u);
        dash_term_close();
        rc = CTL_EXIT_OK;
    }
    replay_close(&u->r);
    free(u);
    return rc;
}
