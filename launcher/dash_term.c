/*
 * The views' terminal (launcher/dash_term.h). Read launcher/dashboard.c
 * next.
 */
#include "launcher/dash_term.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

/* --- The terminal, and giving it back ---------------------------------- */

static int dash_sig_r = -1, dash_sig_w = -1;
static volatile sig_atomic_t dash_curses_active;
static SCREEN *dash_screen;
static struct termios dash_tio;
static bool dash_tio_saved;
static char dash_reset[256]; /* Written by the crash handler. */
static size_t dash_reset_len;

/* SIGINT, SIGTERM, SIGHUP, SIGQUIT: one byte into the self-pipe. */
static void dash_on_stop_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    if (write(dash_sig_w, &b, 1) < 0) {
        /* Full pipe: a wakeup is pending anyway. */
    }
    errno = saved;
}

/* A crash: restore the terminal with async-signal-safe calls only, then
 * die of the same signal. */
static void dash_on_crash(int signo)
{
    if (dash_curses_active) {
        if (write(STDOUT_FILENO, dash_reset, dash_reset_len) < 0) {
            /* Nothing more can be done. */
        }
        if (dash_tio_saved) {
            tcsetattr(STDIN_FILENO, TCSANOW, &dash_tio);
        }
    }
    signal(signo, SIG_DFL);
    raise(signo);
}

void dash_term_close(void)
{
    if (dash_curses_active) {
        dash_curses_active = 0;
        endwin();
        delscreen(dash_screen);
        dash_screen = NULL;
    }
}

/* Appends a terminfo string capability to the crash reset sequence. */
static void dash_reset_add(const char *cap)
{
    char *s = tigetstr(cap);
    if (s == NULL || s == (char *)-1) {
        return;
    }
    size_t n = strlen(s);
    if (dash_reset_len + n < sizeof(dash_reset)) {
        memcpy(dash_reset + dash_reset_len, s, n);
        dash_reset_len += n;
    }
}

/* Signal handlers first, so that ncurses leaves them to us. */
static int dash_signals_open(char errmsg[ERRMSG_LEN])
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "pipe: %s", strerror(errno));
        return ERR_IO;
    }
    dash_sig_r = fds[0];
    dash_sig_w = fds[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = dash_on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        sigaction(stops[i], &sa, NULL);
    }
    sa.sa_handler = dash_on_crash;
    sa.sa_flags = 0;
    const int crashes[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof(crashes) / sizeof(crashes[0]); i++) {
        sigaction(crashes[i], &sa, NULL);
    }
    return ERR_OK;
}

/* The colour pair of each dash_color (0: the terminal's default). */
static void dash_colors_init(void)
{
    static const short fg[DASH_COLOR__COUNT] = {
        [DASH_COLOR_TITLE] = COLOR_CYAN,
        [DASH_COLOR_LEADER] = COLOR_GREEN,
        [DASH_COLOR_CANDIDATE] = COLOR_YELLOW,
        [DASH_COLOR_FOLLOWER] = COLOR_CYAN,
        [DASH_COLOR_DOWN] = COLOR_RED,
        [DASH_COLOR_BAR] = COLOR_BLUE,
        [DASH_COLOR_BAR_HOT] = COLOR_RED,
        [DASH_COLOR_FAULT] = COLOR_MAGENTA,
        [DASH_COLOR_KEY] = COLOR_YELLOW,
        [DASH_COLOR_TERM0] = COLOR_BLUE,
        [DASH_COLOR_TERM0 + 1] = COLOR_GREEN,
        [DASH_COLOR_TERM0 + 2] = COLOR_MAGENTA,
        [DASH_COLOR_TERM0 + 3] = COLOR_CYAN,
        [DASH_COLOR_TERM0 + 4] = COLOR_YELLOW,
        [DASH_COLOR_TERM0 + 5] = COLOR_RED,
    };
    if (!has_colors() || start_color() == ERR) {
        return;
    }
    use_default_colors();
    for (int c = 1; c < DASH_COLOR__COUNT; c++) {
        if (c != DASH_COLOR_DIM && c < COLOR_PAIRS) {
            init_pair((short)c, fg[c], -1);
        }
    }
}

static int dash_curses_open(char errmsg[ERRMSG_LEN])
{
    dash_tio_saved = tcgetattr(STDIN_FILENO, &dash_tio) == 0;
    dash_screen = newterm(NULL, stdout, stdin);
    if (dash_screen == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "cannot use the terminal (TERM=%s)",
                 getenv("TERM") != NULL ? getenv("TERM") : "");
        return ERR_IO;
    }
    dash_curses_active = 1;
    atexit(dash_term_close);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    dash_colors_init();
    dash_reset_len = 0;
    dash_reset_add("sgr0");
    dash_reset_add("cnorm");
    dash_reset_add("rmkx");
    dash_reset_add("rmcup");
    return ERR_OK;
}

static attr_t dash_curses_attr(const struct dash_cell *c)
{
    attr_t a = A_NORMAL;
    if (c->color == DASH_COLOR_DIM) {
        a |= A_DIM;
    } else if (c->color != DASH_COLOR_NORMAL && has_colors() &&
               c->color < COLOR_PAIRS) {
        a |= COLOR_PAIR(c->color);
    }
    if (c->attr & DASH_ATTR_BOLD) {
        a |= A_BOLD;
    }
    if (c->attr & DASH_ATTR_REVERSE) {
        a |= A_REVERSE;
    }
    return a;
}

/* Copies the model's cells to the screen, one addnstr per run of equal
 * attributes; ncurses then writes only what changed. */
void dash_term_paint(const struct dash_screen *s)
{
    char run[DASH_COLS_MAX + 1];
    for (int r = 0; r < s->rows; r++) {
        int c = 0;
        while (c < s->cols) {
            const struct dash_cell *first = &s->cells[r][c];
            int len = 0;
            while (c + len < s->cols &&
                   s->cells[r][c + len].color == first->color &&
                   s->cells[r][c + len].attr == first->attr) {
                run[len] = s->cells[r][c + len].ch;
                len++;
            }
            attrset(dash_curses_attr(first));
            mvaddnstr(r, c, run, len); /* ERR at the last cell: harmless. */
            c += len;
        }
    }
    attrset(A_NORMAL);
    wnoutrefresh(stdscr);
    doupdate();
}

/* --- Keys and size --------------------------------------------------------- */

bool dash_term_usable(void)
{
    const char *term = getenv("TERM");
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || term == NULL ||
        term[0] == '\0' || strcmp(term, "dumb") == 0) {
        return false;
    }
    int err = 0;
    bool known = setupterm(NULL, STDOUT_FILENO, &err) == OK && err == 1;
    if (cur_term != NULL) {
        del_curterm(cur_term); /* newterm() loads it again. */
    }
    return known;
}

int dash_term_open(char errmsg[ERRMSG_LEN])
{
    int rc = dash_signals_open(errmsg);
    return rc == ERR_OK ? dash_curses_open(errmsg) : rc;
}

int dash_term_signal_fd(void)
{
    return dash_sig_r;
}

bool dash_term_take_signals(void)
{
    unsigned char sigs[16];
    return dash_sig_r >= 0 && read(dash_sig_r, sigs, sizeof(sigs)) > 0;
}

int dash_term_key(void)
{
    int ch = getch();
    switch (ch) {
    case ERR:
        return DASH_TERM_NONE;
    case KEY_RESIZE:
        clearok(curscr, TRUE); /* Repaint everything at the new size. */
        return DASH_TERM_RESIZE;
    case KEY_ENTER:
    case '\r':
        return '\n';
    case KEY_BACKSPACE:
        return 127;
    case KEY_LEFT:
        return DASH_TERM_LEFT;
    case KEY_RIGHT:
        return DASH_TERM_RIGHT;
    case KEY_HOME:
        return DASH_TERM_HOME;
    case KEY_END:
        return DASH_TERM_END;
    default:
        return ch > 255 ? DASH_TERM_OTHER : ch;
    }
}

void dash_term_dump(const struct dash_screen *s, const char *path)
{
    char tmp[4096 + 8];
    snprintf(tmp, sizeof(tmp), "%.4096s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return;
    }
    char line[DASH_COLS_MAX + 1];
    for (int r = 0; r < s->rows; r++) {
        dash_screen_line(s, r, line, sizeof(line));
        fprintf(f, "%s\n", line);
    }
    if (fclose(f) == 0) {
        (void)rename(tmp, path);
    }
}

int dash_term_cols(void)
{
    return COLS;
}

int dash_term_rows(void)
{
    return LINES;
}
