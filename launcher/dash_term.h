/*
 * The terminal of the full-screen views (`raftctl watch`, a foreground
 * `up`, `raftctl replay`): ncurses setup and its restoration on every way
 * out (return, SIGINT/SIGTERM/SIGHUP/SIGQUIT through a self-pipe, a crash
 * signal through a handler that writes the saved reset sequence and
 * termios before dying), painting the model's cells with as few writes as
 * ncurses can manage (no clear between frames, so nothing flickers), and
 * reading keys. Read launcher/dashboard.c next.
 */
#ifndef RAFT_LAUNCHER_DASH_TERM_H
#define RAFT_LAUNCHER_DASH_TERM_H

#include <stdbool.h>

#include "common/err.h"
#include "launcher/dash_model.h"

/* Keys beyond ASCII, as dash_term_key returns them. */
enum {
    DASH_TERM_NONE = -1,      /* No key waiting. */
    DASH_TERM_RESIZE = 0x200, /* The terminal changed size (repaint). */
    DASH_TERM_LEFT,
    DASH_TERM_RIGHT,
    DASH_TERM_HOME,
    DASH_TERM_END,
    DASH_TERM_OTHER /* A function key the views do not use. */
};

/* True when stdin and stdout are terminals and terminfo knows TERM. */
bool dash_term_usable(void);
/* Signal handlers, then the terminal. Errors: ERR_IO (errmsg). */
int dash_term_open(char errmsg[ERRMSG_LEN]);
/* Gives the terminal back (also at exit). */
void dash_term_close(void);
/* The self-pipe a stop signal writes to (poll it for POLLIN). */
int dash_term_signal_fd(void);
/* Drains the self-pipe: true when a stop signal arrived. */
bool dash_term_take_signals(void);
/* The next key: ASCII (Enter as '\n', Backspace as 127), a DASH_TERM_*
 * code, or DASH_TERM_NONE. */
int dash_term_key(void);
/* The terminal's size. */
int dash_term_cols(void);
int dash_term_rows(void);
void dash_term_paint(const struct dash_screen *s);
/* Writes s as text lines to path (through path.tmp and a rename): the
 * RAFTCTL_WATCH_DUMP testing hook. */
void dash_term_dump(const struct dash_screen *s, const char *path);

#endif
