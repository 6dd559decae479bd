/*
 * Unit tests of launcher/dash_model.c, the dashboard's rendering model:
 * cluster state in, screen lines (and each cell's colour and attributes)
 * out, with no terminal. Checks the title and fault lines, each node's
 * panel (role by word and colour, election-timer bars on one time scale,
 * the leader's match/next, log cells aligned by index with commit shown),
 * the datagrams each node dropped, by reason (a fourth panel row when
 * there is room, else the end of the first), the event feed, the layouts
 * from 80x24 to wide screens, the key prompt ("k" then an id, "q" then
 * "y"), and the members following the configuration (dash_members_follow).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/err.h"
#include "launcher/dash_model.h"

struct fixture {
    struct conf conf;
    struct dash_view view;
    struct ev_ring events;
    struct dash_screen screen;
    char line[DASH_COLS_MAX + 1];
};

static void make_conf(struct conf *c, uint32_t n)
{
    memset(c, 0, sizeof(*c));
    c->cluster_id = 7;
    c->n_members = n;
    for (uint32_t i = 0; i < n; i++) {
        c->members[i].id = i + 1;
        snprintf(c->members[i].host, sizeof(c->members[i].host), "127.0.0.1");
        c->members[i].port = (uint16_t)(7001 + i);
    }
}

/* Node id up, in role, at term, voting vote; indexes last/commit. */
static struct dash_node *node(struct fixture *f, raft_id id, uint8_t role,
                              raft_term term, raft_id vote)
{
    struct dash_node *n = &f->view.nodes[id - 1];
    memset(n, 0, sizeof(*n));
    n->id = id;
    n->state = DASH_NODE_UP;
    n->pid = (long)(4240 + id);
    n->has_reply = true;
    n->term = term;
    n->st.pid = (uint32_t)n->pid;
    n->st.role = role;
    n->st.voted_for = vote;
    n->st.leader = role == RAFT_LEADER ? id : vote;
    n->st.election_timeout_ms = 200;
    n->st.election_elapsed_ms = 20;
    n->st.leader_contact_ms = 20;
    return n;
}

/* Five nodes: n1 leads term 5, the others follow. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    make_conf(&f->conf, 5);
    ev_ring_init(&f->events);
    f->view.conf = &f->conf;
    f->view.events = &f->events;
    snprintf(f->view.where, sizeof(f->view.where), "./cluster");
    node(f, 1, RAFT_LEADER, 5, 1);
    for (raft_id id = 2; id <= 5; id++) {
        node(f, id, RAFT_FOLLOWER, 5, 1);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void render(struct fixture *f, int cols, int rows)
{
    dash_render(&f->view, cols, rows, &f->screen);
}

static const char *line(struct fixture *f, int row)
{
    dash_screen_line(&f->screen, row, f->line, sizeof(f->line));
    return f->line;
}

/* The first row starting with prefix, or -1. */
static int find_row(struct fixture *f, const char *prefix)
{
    for (int r = 0; r < f->screen.rows; r++) {
        if (strncmp(line(f, r), prefix, strlen(prefix)) == 0) {
            return r;
        }
    }
    return -1;
}

/* The column where text starts on row, or -1. */
static int find_col(struct fixture *f, int row, const char *text)
{
    const char *l = line(f, row);
    const char *at = strstr(l, text);
    return at != NULL ? (int)(at - l) : -1;
}

static const struct dash_cell *cell(struct fixture *f, int row, int col)
{
    assert_true(row >= 0 && col >= 0);
    return &f->screen.cells[row][col];
}

/* Each node's first line: id, role word in its colour, pid, term, vote,
 * indexes; a down node keeps its last-seen facts, dimmed, and says why. */
static void test_render_shows_each_node_role_and_state(void **state)
{
    struct fixture *f = *state;
    struct dash_node *n1 = &f->view.nodes[0];
    n1->st.last_index = 12;
    n1->st.commit = 11;
    n1->st.applied = 10;
    node(f, 3, RAFT_CANDIDATE, 6, 3);
    f->view.nodes[3].state = DASH_NODE_DOWN;
    f->view.nodes[3].pid = 0;
    f->view.nodes[4].state = DASH_NODE_SILENT;
    f->view.nodes[4].has_reply = false;
    f->view.nodes[4].pid = 99;
    render(f, 80, 24);
    assert_string_equal(line(f, find_row(f, " n1")),
                        " n1  leader    pid 4241   term 5   vote n1   last 12 "
                        "  commit 11   applied 10");
    int r2 = find_row(f, " n2  follower  pid 4242");
    int r3 = find_row(f, " n3  candidate pid 4243   term 6   vote n3");
    int r4 = find_row(f, " n4  down      pid -      term 5");
    int r5 = find_row(f, " n5  down      pid 99");
    assert_true(r2 > 0 && r3 > r2 && r4 > r3 && r5 > r4);
    assert_int_equal(cell(f, r2 - 3, 5)->color, DASH_COLOR_LEADER);
    assert_true(cell(f, r2 - 3, 5)->attr & DASH_ATTR_REVERSE);
    assert_int_equal(cell(f, r2, 5)->color, DASH_COLOR_FOLLOWER);
    assert_int_equal(cell(f, r3, 5)->color, DASH_COLOR_CANDIDATE);
    assert_int_equal(cell(f, r4, 5)->color, DASH_COLOR_DOWN);
    assert_string_equal(line(f, r4 + 1), "     not running (figures as last "
                                         "seen); s then 4 starts it");
    assert_non_null(
        strstr(line(f, r5 + 1), "process 99 runs but does not answer"));
    f->view.nodes[1].st.disk = STATUS_DISK_FULL;
    f->view.nodes[2].st.disk = STATUS_DISK_HUNG;
    render(f, 100, 24);
    int c2 = find_col(f, find_row(f, " n2  follower"), "disk full");
    assert_true(c2 > 0);
    assert_int_equal(cell(f, find_row(f, " n2  follower"), c2)->color,
                     DASH_COLOR_FAULT);
    assert_true(find_col(f, find_row(f, " n3  candidate"), "disk hung") > 0);
    assert_int_equal(find_col(f, find_row(f, " n1"), "disk"), -1);
}

/* A member that set its database aside says so (docs/DAMAGE.md). */
static void test_render_shows_a_damaged_node(void **state)
{
    struct fixture *f = *state;
    f->view.nodes[2].state = DASH_NODE_DAMAGED;
    f->view.nodes[2].pid = 0;
    render(f, 80, 24);
    int r3 = find_row(f, " n3  damaged   pid -");
    assert_true(r3 > 0);
    assert_int_equal(cell(f, r3, 5)->color, DASH_COLOR_DOWN);
    assert_non_null(strstr(line(f, r3 + 1), "damaged: its database failed a "
                                             "checksum (node3.db.damaged)"));
}

/* Timer bars share one time scale (the longest timeout): a node with half
 * the timeout has a track half as long, and the same elapsed time fills
 * the same length; the last quarter of a timer is drawn hot. */
static void test_render_timer_bars_share_a_time_scale(void **state)
{
    struct fixture *f = *state;
    struct dash_node *n2 = &f->view.nodes[1], *n3 = &f->view.nodes[2];
    n2->st.election_timeout_ms = 300;
    n2->st.election_elapsed_ms = 150;
    n3->st.election_timeout_ms = 150;
    n3->st.election_elapsed_ms = 150;
    for (int i = 3; i < 5; i++) {
        f->view.nodes[i].st.election_timeout_ms = 100;
    }
    render(f, 80, 24);
    int r2 = find_row(f, " n2") + 1, r3 = find_row(f, " n3") + 1;
    int open2 = find_col(f, r2, "["), close2 = find_col(f, r2, "]");
    assert_int_equal(find_col(f, r3, "["), open2);
    assert_int_equal(find_col(f, r3, "]"), close2);
    int width = close2 - open2 - 1;
    char bar2[DASH_COLS_MAX], bar3[DASH_COLS_MAX];
    snprintf(bar2, sizeof(bar2), "%.*s", width, line(f, r2) + open2 + 1);
    snprintf(bar3, sizeof(bar3), "%.*s", width, line(f, r3) + open2 + 1);
    int fill2 = (int)strspn(bar2, "#"), fill3 = (int)strspn(bar3, "#");
    assert_int_equal(fill2, width / 2);
    assert_int_equal(fill3, width / 2);
    assert_int_equal(bar2[width - 1], '|'); /* n2's deadline: end. */
    assert_int_equal((int)strspn(bar3 + fill3, " "), width - fill3);
    assert_int_equal(cell(f, r2, open2 + 1)->color, DASH_COLOR_BAR);
    assert_int_equal(cell(f, r3, open2 + 1)->color, DASH_COLOR_BAR_HOT);
    assert_non_null(strstr(line(f, r2), " 150/300  ms"));
    assert_non_null(strstr(line(f, r3), " 150/150  ms"));
}

/* Between answers a timer advances with the answer's age, but at most
 * DASH_INTERPOLATE_MS_MAX (a heartbeat may have reset it meanwhile); the
 * last leader contact ages with it. */
static void test_render_timer_advances_at_most_100ms_past_answer(void **state)
{
    struct fixture *f = *state;
    struct dash_node *n2 = &f->view.nodes[1];
    n2->st.election_timeout_ms = 300;
    n2->st.election_elapsed_ms = 100;
    n2->st.leader_contact_ms = 100;
    n2->age_ms = 40;
    render(f, 80, 24);
    int r = find_row(f, " n2") + 1;
    assert_non_null(strstr(line(f, r), " 140/300  ms  leader n1 140 ms ago"));
    n2->age_ms = 5000;
    render(f, 80, 24);
    assert_non_null(strstr(line(f, r), " 200/300  ms"));
    n2->st.leader_contact_ms = UINT64_MAX;
    render(f, 80, 24);
    assert_non_null(strstr(line(f, r), "no leader seen"));
}

/* The leader's second line: each follower's match/next, green when caught
 * up, red when it has not acknowledged for a second, else yellow. */
static void test_render_leader_lists_match_and_next(void **state)
{
    struct fixture *f = *state;
    struct dash_node *n1 = &f->view.nodes[0];
    n1->st.last_index = 12;
    n1->st.n_peers = 3;
    n1->st.peers[0] = (struct status_peer){2, 12, 13, 10};
    n1->st.peers[1] = (struct status_peer){3, 5, 6, 50};
    n1->st.peers[2] = (struct status_peer){4, 0, 1, 5000};
    render(f, 80, 24);
    int r = find_row(f, " n1") + 1;
    assert_string_equal(line(f, r),
                        "     match/next  n2 12/13  n3 5/6  n4 0/1");
    assert_int_equal(cell(f, r, find_col(f, r, "12/13"))->color,
                     DASH_COLOR_LEADER);
    assert_int_equal(cell(f, r, find_col(f, r, "5/6"))->color,
                     DASH_COLOR_CANDIDATE);
    assert_int_equal(cell(f, r, find_col(f, r, "0/1"))->color, DASH_COLOR_DOWN);
}

/* Log tails are cells aligned by index across nodes (one window ending at
 * the highest last index), coloured by term; committed entries are filled
 * (reverse), uncommitted ones are not. */
static void test_render_log_cells_align_by_index(void **state)
{
    struct fixture *f = *state;
    static const raft_term terms[12] = {1, 1, 1, 2, 2, 3, 3, 3, 4, 5, 5, 5};
    for (int i = 0; i < 2; i++) {
        struct dash_node *n = &f->view.nodes[i];
        n->st.last_index = i == 0 ? 12 : 10;
        n->st.commit = i == 0 ? 11 : 10;
        n->st.tail_first = 1;
        n->st.n_tail = (uint32_t)n->st.last_index;
        memcpy(n->st.tail_terms, terms, sizeof(terms));
    }
    render(f, 80, 24);
    int r1 = find_row(f, " n1") + 2, r2 = find_row(f, " n2") + 2;
    assert_string_equal(line(f, r1),
                        "     log #1      1 1 1 2 2 3 3 3 4 5 5 5");
    assert_string_equal(line(f, r2), "     log #1      1 1 1 2 2 3 3 3 4 5");
    int col11 = find_col(f, r1, "1 1 1") + 10 * 2, col12 = col11 + 2;
    assert_int_equal(cell(f, r1, col11)->color, DASH_COLOR_TERM0 + 5);
    assert_true(cell(f, r1, col11)->attr & DASH_ATTR_REVERSE);
    assert_false(cell(f, r1, col12)->attr & DASH_ATTR_REVERSE);
    /* A longer log: the window holds the last 32 indexes. */
    f->view.nodes[0].st.last_index = 100;
    f->view.nodes[0].st.tail_first = 69;
    render(f, 80, 24);
    assert_non_null(strstr(line(f, r1), "log #69"));
}

/* Issue 16: the log tail marks the compacted prefix. Indexes at or below
 * the snapshot point and before the log's first entry (tail_first) are dim
 * "~" cells; the entries kept below the point show their terms; the
 * snapshot point follows the cells, and a node without a snapshot shows
 * neither. */
static void test_render_log_marks_compacted_prefix(void **state)
{
    struct fixture *f = *state;
    static const raft_term terms[9] = {2, 2, 3, 3, 3, 4, 5, 5, 5};
    for (int i = 0; i < 2; i++) {
        struct dash_node *n = &f->view.nodes[i];
        n->st.last_index = 12;
        n->st.commit = 12;
        n->st.tail_first = 4;
        n->st.n_tail = 9;
        memcpy(n->st.tail_terms, terms, sizeof(terms));
    }
    /* Point 6, log from 4: 4..6 kept below it (--log-keep). */
    f->view.nodes[0].st.snapshot_index = 6;
    f->view.nodes[0].st.snapshot_term = 3;
    render(f, 80, 24);
    int r1 = find_row(f, " n1") + 2, r2 = find_row(f, " n2") + 2;
    assert_string_equal(line(f, r1),
                        "     log #1      ~ ~ ~ 2 2 3 3 3 4 5 5 5  snap #6");
    assert_string_equal(line(f, r2),
                        "     log #1            2 2 3 3 3 4 5 5 5");
    int tilde = find_col(f, r1, "~");
    assert_int_equal(cell(f, r1, tilde)->color, DASH_COLOR_DIM);
    assert_false(cell(f, r1, tilde)->attr & DASH_ATTR_REVERSE);
    assert_int_equal(cell(f, r1, tilde + 3 * 2)->color, DASH_COLOR_TERM0 + 2);
    assert_int_equal(cell(f, r1, tilde + 5 * 2)->color, DASH_COLOR_TERM0 + 3);
    /* A prefix older than the window: only the figure says so. */
    f->view.nodes[0].st.snapshot_index = 0;
    f->view.nodes[1].st.last_index = 100;
    f->view.nodes[1].st.commit = 100;
    f->view.nodes[1].st.tail_first = 69;
    f->view.nodes[1].st.n_tail = 0;
    f->view.nodes[1].st.snapshot_index = 40;
    render(f, 100, 30); /* At 80 columns 32 cells leave no room for it. */
    r1 = find_row(f, " n1") + 2;
    r2 = find_row(f, " n2") + 2;
    assert_non_null(strstr(line(f, r2), "log #69"));
    assert_null(strchr(line(f, r2), '~'));
    assert_non_null(strstr(line(f, r2), " snap #40"));
    assert_null(strstr(line(f, r1), "snap"));
}

/* Issue 16: a snapshot transfer in progress is a progress bar on the
 * receiving follower's panel, in place of its timer (bytes staged of the
 * image's size, and from whom), and the leader's match/next says how far
 * its transfer to that follower is; none once it is over. */
static void test_render_snapshot_transfer_progress(void **state)
{
    struct fixture *f = *state;
    const uint64_t mib = 1024 * 1024;
    struct dash_node *n1 = &f->view.nodes[0];
    struct dash_node *n3 = &f->view.nodes[2];
    n1->st.n_peers = 2;
    n1->st.peers[0] = (struct status_peer){2, 0, 1, 10};
    n1->st.peers[1] = (struct status_peer){3, 0, 1, 10};
    n1->st.n_sends = 1;
    n1->st.sends[0] = (struct status_transfer){3, mib, 5 * mib / 2};
    n3->st.recv = (struct status_transfer){1, mib, 5 * mib / 2};
    render(f, 100, 30);
    int r3 = find_row(f, " n3") + 1;
    /* 51 columns of bar at 100 wide: 40% is 20 of them. */
    char want[160];
    char bar[52];
    memset(bar, '#', 20);
    memset(bar + 20, '-', 31);
    bar[51] = '\0';
    snprintf(want, sizeof(want),
             "     snapshot [%s]  40%%  1.0/2.5 MiB from n1", bar);
    assert_string_equal(line(f, r3), want);
    assert_int_equal(cell(f, r3, 15)->color, DASH_COLOR_BAR);
    assert_int_equal(cell(f, r3, 15 + 20)->color, DASH_COLOR_DIM);
    int r1 = find_row(f, " n1") + 1;
    assert_string_equal(line(f, r1), "     match/next  n2 0/1  n3 snap 40%");
    /* Small images count in bytes; a finished transfer shows the timer. */
    n3->st.recv = (struct status_transfer){1, 100, 900};
    render(f, 100, 30);
    assert_non_null(strstr(line(f, r3), "]  11%  100/900 B from n1"));
    memset(&n3->st.recv, 0, sizeof(n3->st.recv));
    n1->st.n_sends = 0;
    render(f, 100, 30);
    assert_non_null(strstr(line(f, r3), "timer ["));
    assert_string_equal(line(f, r1), "     match/next  n2 0/1  n3 0/1");
}

/* The title: leader, highest term, nodes up against the quorum. */
static void test_render_title_shows_leader_and_quorum(void **state)
{
    struct fixture *f = *state;
    f->view.fps = 20;
    render(f, 80, 24);
    assert_non_null(strstr(line(f, 0), "leader n1   term 5   up 5/5 "
                                       "(quorum 3)"));
    assert_non_null(strstr(line(f, 0), "20 fps"));
    assert_string_equal(line(f, 1) + strlen(line(f, 1)) - 8, "commit 0");
    for (int i = 0; i < 3; i++) {
        f->view.nodes[i].state = DASH_NODE_DOWN;
    }
    render(f, 80, 24);
    assert_non_null(strstr(line(f, 0), "leader none   term 5   up 2/5 "
                                       "(quorum 3: LOST)"));
}

/* The fault line names partitions and netem rules, or says none. */
static void test_render_fault_line(void **state)
{
    struct fixture *f = *state;
    render(f, 80, 24);
    assert_int_equal(strncmp(line(f, 1), " faults: none", 13), 0);
    f->view.nodes[0].st.n_blocked = 4;
    for (raft_id id = 2; id <= 5; id++) {
        f->view.nodes[0].st.blocked[id - 2] = id;
        f->view.nodes[id - 1].st.n_blocked = 1;
        f->view.nodes[id - 1].st.blocked[0] = 1;
    }
    render(f, 80, 24);
    assert_int_equal(strncmp(line(f, 1), " faults: partition 1 | 2 3 4 5", 30),
                     0);
    assert_int_equal(cell(f, 1, 10)->color, DASH_COLOR_FAULT);
}

/* Sets node id's configuration text (as its status reply carries it). */
static void set_config(struct fixture *f, raft_id id, const char *text)
{
    struct dash_node *n = &f->view.nodes[id - 1];
    n->st.config_len = (uint32_t)strlen(text);
    memcpy(n->st.config, text, n->st.config_len);
}

/* A follower that is a learner in its configuration says `learner`; a
 * joint change in the leader's configuration shows on the fault line with
 * its old and new voter sets; none shows when no change is in progress. */
static void test_render_shows_learners_and_a_change(void **state)
{
    struct fixture *f = *state;
    for (raft_id id = 1; id <= 5; id++) {
        set_config(f, id, "voters 1,2,3,4 learners 5");
    }
    render(f, 100, 30);
    int r5 = find_row(f, " n5");
    assert_true(r5 > 0);
    assert_int_equal(find_col(f, r5, "learner"), 5);
    assert_int_equal(find_col(f, find_row(f, " n4"), "follower"), 5);
    assert_null(strstr(line(f, 1), "change"));
    set_config(f, 1, "joint 1,2,3,4 -> 1,2,3,5 @ 1=127.0.0.1:7001");
    render(f, 100, 30);
    assert_non_null(strstr(line(f, 1), "change: joint 1,2,3,4 -> 1,2,3,5"));
}

static struct membership conf_text(const char *text)
{
    struct membership m;
    assert_int_equal(
        membership_decode((const uint8_t *)text, strlen(text), &m), ERR_OK);
    return m;
}

/* The dashboard's members follow the leader's configuration: one added
 * while watch runs (address from the configuration) gets a panel, sorted
 * by id; a joint change keeps both sets; a removed member's panel goes;
 * the same set changes nothing; a new member without an address is left
 * out, and a configuration never leaves no panel. */
static void test_members_follow_the_configuration(void **state)
{
    struct fixture *f = *state;
    make_conf(&f->conf, 3);
    struct membership m =
        conf_text("voters 1,2,3 learners 6 @ 1=127.0.0.1:7001 "
                  "6=127.0.0.1:7006");
    assert_true(dash_members_follow(&f->conf, &m));
    assert_int_equal(f->conf.n_members, 4);
    assert_int_equal(f->conf.members[3].id, 6);
    assert_string_equal(f->conf.members[3].host, "127.0.0.1");
    assert_int_equal(f->conf.members[3].port, 7006);
    assert_int_equal(f->conf.members[1].port, 7002); /* Kept. */
    assert_int_equal(f->conf.cluster_id, 7);
    assert_false(dash_members_follow(&f->conf, &m));
    for (raft_id id = 1; id <= 3; id++) {
        node(f, id, id == 1 ? RAFT_LEADER : RAFT_FOLLOWER, 5, 1);
    }
    f->view.nodes[3] = *node(f, 4, RAFT_FOLLOWER, 5, 1);
    f->view.nodes[3].id = 6;
    set_config(f, 4, "voters 1,2,3 learners 6");
    render(f, 100, 30);
    assert_true(find_row(f, " n6") > 0);
    assert_int_equal(find_col(f, find_row(f, " n6"), "learner"), 5);
    assert_int_equal(find_row(f, " n4"), -1);

    m = conf_text("joint 1,2,3 -> 1,3,6 @ 6=127.0.0.1:7006");
    assert_false(dash_members_follow(&f->conf, &m)); /* 2 still votes. */
    m = conf_text("voters 1,3,6");
    assert_true(dash_members_follow(&f->conf, &m));
    assert_int_equal(f->conf.n_members, 3);
    assert_int_equal(f->conf.members[0].id, 1);
    assert_int_equal(f->conf.members[1].id, 3);
    assert_int_equal(f->conf.members[2].id, 6);
    assert_int_equal(conf_member_index(&f->conf, 2), -1);

    m = conf_text("voters 1,3,6 learners 7"); /* 7: no address. */
    assert_false(dash_members_follow(&f->conf, &m));
    m = conf_text("voters 8"); /* Only an unknown member, no address. */
    assert_false(dash_members_follow(&f->conf, &m));
    assert_int_equal(f->conf.n_members, 3);
}

/* Events, newest first, under a separator naming their source. */
static void test_render_events_newest_first(void **state)
{
    struct fixture *f = *state;
    struct ev e;
    const char *texts[3] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++) {
        ev_set(&e, (uint64_t)(i + 1) * 1000, i == 2 ? EV_LEADER : EV_INFO, 0, 0,
               "%s", texts[i]);
        ev_ring_push(&f->events, &e);
    }
    f->view.from_launcher = true;
    render(f, 80, 24);
    int h = find_row(f, "--- events, newest first (from the launcher) ---");
    assert_true(h > 0);
    assert_string_equal(line(f, h + 1), " 00:00:03.000 third");
    assert_string_equal(line(f, h + 2), " 00:00:02.000 second");
    assert_string_equal(line(f, h + 3), " 00:00:01.000 first");
    assert_int_equal(cell(f, h + 1, 14)->color, DASH_COLOR_LEADER);
    f->view.from_launcher = false;
    render(f, 80, 24);
    assert_true(find_row(f, "--- events, newest first (derived by watch: "
                            "no launcher)") > 0);
}

static struct trace_msg tmsg(raft_id from, raft_id to, int kind,
                             raft_index index, uint32_t n, bool ok)
{
    struct trace_msg m;
    memset(&m, 0, sizeof(m));
    m.t_ms = 5000;
    m.wall_ms = 3000;
    m.from = from;
    m.to = to;
    m.kind = (uint8_t)kind;
    m.term = 5;
    m.index = index;
    m.n = n;
    m.ok = ok;
    m.bytes = 40;
    m.count = 1;
    return m;
}

/* watch --messages: a pane under the events, newest first, each message
 * as "from->to kind t<term> ...", identical messages (heartbeats, a
 * retransmission) in one line with a count, the budget's drops in the
 * separator; no pane without a ring. */
static void test_render_messages_pane(void **state)
{
    struct fixture *f = *state;
    static struct trace_ring r;
    trace_ring_init(&r);
    struct trace_msg m = tmsg(2, 1, TRACE_PREVOTE, 40, 0, false);
    trace_ring_push(&r, &m);
    m = tmsg(1, 2, TRACE_PREVOTE_REPLY, 0, 0, true);
    trace_ring_push(&r, &m);
    for (int i = 0; i < 3; i++) {
        m = tmsg(1, 3, TRACE_APPEND, 7, 0, false);
        trace_ring_push(&r, &m);
        m = tmsg(3, 1, TRACE_APPEND_REPLY, 7, 0, true);
        trace_ring_push(&r, &m);
    }
    m = tmsg(1, 3, TRACE_APPEND, 120, 64, false);
    trace_ring_push(&r, &m);
    m = tmsg(3, 1, TRACE_APPEND_REPLY, 119, 0, false);
    trace_ring_push(&r, &m);
    r.dropped = 4;
    assert_int_equal(r.n, 6);
    assert_int_equal(r.total, 10);
    render(f, 80, 24);
    assert_true(find_row(f, "--- messages") < 0);
    f->view.msgs = &r;
    render(f, 80, 40);
    int ev = find_row(f, "--- events");
    int h = find_row(f, "--- messages, newest first (10 seen, 4 dropped by "
                        "budget) ---");
    assert_true(ev > 0 && h > ev);
    assert_string_equal(line(f, h + 1),
                        " 00:00:03.000 3->1 append refused t5 i119");
    assert_string_equal(line(f, h + 2), " 00:00:03.000 1->3 append t5 i120+64");
    assert_string_equal(line(f, h + 3),
                        " 00:00:03.000 3->1 append ok t5 i7 x3");
    assert_string_equal(line(f, h + 4),
                        " 00:00:03.000 1->3 heartbeat t5 i7 x3");
    assert_string_equal(line(f, h + 5),
                        " 00:00:03.000 1->2 prevote granted t5");
    assert_string_equal(line(f, h + 6),
                        " 00:00:03.000 2->1 prevote t5 last i40");
    assert_int_equal(cell(f, h + 1, 14)->color, DASH_COLOR_DOWN);
    assert_int_equal(cell(f, h + 2, 14)->color, DASH_COLOR_LEADER);
    assert_int_equal(cell(f, h + 6, 14)->color, DASH_COLOR_CANDIDATE);
    assert_string_equal(line(f, 39), " k<id> kill  s<id> start  i isolate  "
                                     "h heal  w write  a add  t transfer  q "
                                     "quit");
    /* A retransmission joins the earlier one, which becomes the newest. */
    m = tmsg(1, 3, TRACE_APPEND, 120, 64, false);
    trace_ring_push(&r, &m);
    assert_int_equal(r.n, 6);
    render(f, 80, 40);
    assert_string_equal(line(f, h + 1),
                        " 00:00:03.000 1->3 append t5 i120+64 x2");
    assert_string_equal(line(f, h + 2),
                        " 00:00:03.000 3->1 append refused t5 i119");
    f->view.msgs = NULL;
}

/* The shared recording line of a message and of a drop count
 * (docs/TRACE.md): "t" from the start, "coalesced" only above one. */
static void test_trace_msg_json(void **state)
{
    (void)state;
    char buf[256];
    struct trace_msg m = tmsg(1, 3, TRACE_APPEND, 120, 64, false);
    trace_msg_to_json(&m, 1000, buf, sizeof(buf));
    assert_string_equal(buf, "{\"t\":4000,\"k\":\"msg\",\"from\":1,\"to\":3,"
                             "\"type\":\"append\",\"term\":5,\"index\":120,"
                             "\"n\":64,\"bytes\":40}");
    m = tmsg(2, 1, TRACE_VOTE_REPLY, 0, 0, true);
    m.count = 3;
    trace_msg_to_json(&m, 6000, buf, sizeof(buf));
    assert_string_equal(buf, "{\"t\":0,\"k\":\"msg\",\"from\":2,\"to\":1,"
                             "\"type\":\"vote_reply\",\"term\":5,\"index\":0,"
                             "\"n\":0,\"ok\":true,\"bytes\":40,"
                             "\"coalesced\":3}");
    trace_dropped_to_json(4, 17, 2500, 500, buf, sizeof(buf));
    assert_string_equal(buf, "{\"t\":2000,\"k\":\"trace_dropped\",\"id\":4,"
                             "\"count\":17}");
    /* A member's event (or a simulator's, via trace_event_of) as a line. */
    struct trace_event e = {TRACE_APPEND_REPLY, 1, 7, 99, 0, true, 22, 2, 0};
    trace_msg_from_event(&e, 3, 1500, 0, &m);
    trace_msg_to_json(&m, 500, buf, sizeof(buf));
    assert_string_equal(buf, "{\"t\":1000,\"k\":\"msg\",\"from\":3,\"to\":1,"
                             "\"type\":\"append_reply\",\"term\":7,"
                             "\"index\":99,\"n\":0,\"ok\":true,\"bytes\":22,"
                             "\"coalesced\":2}");
    for (int k = 0; k < TRACE_KIND__COUNT; k++) {
        assert_string_not_equal(trace_kind_name(k), "?");
    }
    assert_string_equal(trace_kind_name(TRACE_KIND__COUNT), "?");
}

/* 80x24: five 3-line panels, then events, help on the last row; 16 nodes
 * still fit with one line each; a tall screen spaces the panels; a wide
 * one puts the events on the right; a tiny one says so. */
static void test_render_layouts(void **state)
{
    struct fixture *f = *state;
    render(f, 80, 24);
    assert_int_equal(find_row(f, " n5"), 14);
    assert_int_equal(find_row(f, "--- events"), 17);
    assert_int_equal(find_row(f, " k<id> kill  s<id> start  i isolate  "
                                 "h heal  w write  a add  t transfer  q quit"),
                     23);
    render(f, 100, 40);
    assert_int_equal(find_row(f, " n2"), 6);
    render(f, 200, 40);
    assert_int_equal(find_col(f, 2, "--- events"), 101);
    make_conf(&f->conf, 16);
    for (raft_id id = 1; id <= 16; id++) {
        node(f, id, id == 1 ? RAFT_LEADER : RAFT_FOLLOWER, 5, 1);
    }
    render(f, 80, 24);
    assert_int_equal(find_row(f, " n16"), 17);
    assert_int_equal(find_row(f, "--- events"), 18);
    render(f, 60, 12);
    assert_true(find_row(f, " ... and ") > 0);
    render(f, 50, 8);
    assert_string_equal(line(f, 0), "terminal too small");
    assert_string_equal(line(f, 1), "50x8, need 60x10");
}

/* Drop counters: once a node dropped datagrams, every panel gets a row
 * "dropped  bad_tag 30  replay 6" (nonzero reasons, status --drops names;
 * forgeries and replays bold in the fault colour, "nothing" for a node
 * that dropped none); without room for it, the first row ends with it. */
static void test_render_drop_counters(void **state)
{
    struct fixture *f = *state;
    render(f, 100, 40);
    assert_int_equal(find_row(f, "     dropped"), -1); /* None: no row. */
    f->view.nodes[1].st.drops[DROP_BAD_TAG] = 30;
    f->view.nodes[1].st.drops[DROP_REPLAY] = 6;
    f->view.nodes[1].st.drops[DROP_NETEM] = 2;
    render(f, 100, 40);
    int n2 = find_row(f, " n2");
    assert_true(n2 > 0);
    assert_string_equal(line(f, n2 + 3),
                        "     dropped  netem 2  bad_tag 30  replay 6");
    int col = find_col(f, n2 + 3, "30");
    assert_int_equal(cell(f, n2 + 3, col)->color, DASH_COLOR_FAULT);
    assert_true(cell(f, n2 + 3, col)->attr & DASH_ATTR_BOLD);
    col = find_col(f, n2 + 3, "2  bad");
    assert_int_equal(cell(f, n2 + 3, col)->color, DASH_COLOR_NORMAL);
    int n3 = find_row(f, " n3");
    assert_string_equal(line(f, n3 + 3), "     dropped nothing");
    assert_int_equal(find_row(f, " n5") + 4 < find_row(f, "--- events"), 1);
    /* 160x24: no room for a fourth row; n2's first row ends with them. */
    render(f, 160, 24);
    n2 = find_row(f, " n2");
    assert_true(find_col(f, n2, "dropped  netem 2  bad_tag 30  replay 6") > 0);
    assert_int_equal(find_row(f, " n3"), n2 + 3);
    assert_int_equal(find_col(f, find_row(f, " n3"), "dropped"), -1);
}

/* The help bar: keys; "q stop cluster and quit" when the dashboard owns
 * the cluster; a pending prompt instead; "stopping" while stopping. */
static void test_render_help_bar(void **state)
{
    struct fixture *f = *state;
    f->view.owns_cluster = true;
    render(f, 100, 30);
    assert_non_null(strstr(line(f, 29), "q stop cluster and quit"));
    assert_non_null(strstr(line(f, 29), "a add"));
    assert_non_null(strstr(line(f, 29), "t transfer"));
    assert_int_equal(cell(f, 29, 1)->color, DASH_COLOR_KEY);
    f->view.prompt = "kill node: 1_";
    render(f, 100, 30);
    assert_string_equal(line(f, 29), " kill node: 1_");
    f->view.stopping = true;
    render(f, 100, 30);
    assert_string_equal(line(f, 29), " stopping the cluster...");
}

/* "k" then digits acts as soon as they name exactly one member; with ids
 * 1 and 10..12, "1" waits for more digits or Enter. */
static void test_prompt_acts_on_a_unique_id(void **state)
{
    struct fixture *f = *state;
    struct dash_prompt p;
    memset(&p, 0, sizeof(p));
    raft_id id = 0;
    assert_int_equal(dash_prompt_key(&p, 'k', &f->conf, false, &id),
                     DASH_ACT_NONE);
    assert_int_equal(dash_prompt_key(&p, '3', &f->conf, false, &id),
                     DASH_ACT_KILL);
    assert_int_equal(id, 3);
    assert_int_equal(p.cmd, 0);
    assert_int_equal(dash_prompt_key(&p, 'a', &f->conf, false, &id),
                     DASH_ACT_ADD);
    assert_int_equal(dash_prompt_key(&p, 't', &f->conf, false, &id),
                     DASH_ACT_TRANSFER);
    make_conf(&f->conf, 12);
    dash_prompt_key(&p, 's', &f->conf, false, &id);
    assert_int_equal(dash_prompt_key(&p, '1', &f->conf, false, &id),
                     DASH_ACT_NONE);
    char text[160];
    dash_prompt_text(&p, text, sizeof(text));
    assert_int_equal(strncmp(text, "start node: 1_", 14), 0);
    assert_int_equal(dash_prompt_key(&p, '2', &f->conf, false, &id),
                     DASH_ACT_START);
    assert_int_equal(id, 12);
    dash_prompt_key(&p, 'k', &f->conf, false, &id);
    dash_prompt_key(&p, '1', &f->conf, false, &id);
    assert_int_equal(dash_prompt_key(&p, DASH_KEY_ENTER, &f->conf, false, &id),
                     DASH_ACT_KILL);
    assert_int_equal(id, 1);
}

/* An id no member has is refused at once; Escape or another key cancels;
 * Backspace removes a digit. */
static void test_prompt_refuses_and_cancels(void **state)
{
    struct fixture *f = *state;
    struct dash_prompt p;
    memset(&p, 0, sizeof(p));
    raft_id id = 0;
    dash_prompt_key(&p, 'k', &f->conf, false, &id);
    assert_int_equal(dash_prompt_key(&p, '9', &f->conf, false, &id),
                     DASH_ACT_BAD_ID);
    assert_int_equal(id, 9);
    dash_prompt_key(&p, 'k', &f->conf, false, &id);
    assert_int_equal(dash_prompt_key(&p, DASH_KEY_ESCAPE, &f->conf, false, &id),
                     DASH_ACT_CANCEL);
    char text[160];
    dash_prompt_text(&p, text, sizeof(text));
    assert_string_equal(text, "");
    make_conf(&f->conf, 12);
    dash_prompt_key(&p, 'k', &f->conf, false, &id);
    dash_prompt_key(&p, '1', &f->conf, false, &id);
    assert_int_equal(dash_prompt_key(&p, 127, &f->conf, false, &id),
                     DASH_ACT_NONE);
    assert_int_equal(dash_prompt_key(&p, '5', &f->conf, false, &id),
                     DASH_ACT_KILL);
    assert_int_equal(id, 5);
    assert_int_equal(dash_prompt_key(&p, 'i', &f->conf, false, &id),
                     DASH_ACT_ISOLATE);
    assert_int_equal(dash_prompt_key(&p, 'h', &f->conf, false, &id),
                     DASH_ACT_HEAL);
    assert_int_equal(dash_prompt_key(&p, 'w', &f->conf, false, &id),
                     DASH_ACT_WRITE);
}

/* q quits at once in watch; with confirm_quit (foreground up) it asks,
 * and only y quits. */
static void test_prompt_confirms_quit(void **state)
{
    struct fixture *f = *state;
    struct dash_prompt p;
    memset(&p, 0, sizeof(p));
    raft_id id = 0;
    assert_int_equal(dash_prompt_key(&p, 'q', &f->conf, false, &id),
                     DASH_ACT_QUIT);
    assert_int_equal(dash_prompt_key(&p, 'q', &f->conf, true, &id),
                     DASH_ACT_NONE);
    char text[160];
    dash_prompt_text(&p, text, sizeof(text));
    assert_string_equal(text, "stop the cluster and quit? (y/n)");
    assert_int_equal(dash_prompt_key(&p, 'n', &f->conf, true, &id),
                     DASH_ACT_CANCEL);
    dash_prompt_key(&p, 'q', &f->conf, true, &id);
    assert_int_equal(dash_prompt_key(&p, 'y', &f->conf, true, &id),
                     DASH_ACT_QUIT);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_render_shows_each_node_role_and_state),
        T(test_render_shows_a_damaged_node),
        T(test_render_timer_bars_share_a_time_scale),
        T(test_render_timer_advances_at_most_100ms_past_answer),
        T(test_render_leader_lists_match_and_next),
        T(test_render_log_cells_align_by_index),
        T(test_render_log_marks_compacted_prefix),
        T(test_render_snapshot_transfer_progress),
        T(test_render_title_shows_leader_and_quorum),
        T(test_render_fault_line),
        T(test_render_shows_learners_and_a_change),
        T(test_members_follow_the_configuration),
        T(test_render_events_newest_first),
        T(test_render_layouts),
        T(test_render_drop_counters),
        T(test_render_help_bar),
        T(test_render_messages_pane),
        T(test_trace_msg_json),
        T(test_prompt_acts_on_a_unique_id),
        T(test_prompt_refuses_and_cancels),
        T(test_prompt_confirms_quit),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
