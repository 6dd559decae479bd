/*
 * Unit tests of recordings (docs/RECORDING.md): common/recording.c writes
 * every kind of line and launcher/recording_read.c reads it back field
 * for field; malformed lines of every sort are skipped and counted, never
 * fatal; unknown kinds and fields are ignored; the size bound holds and
 * ends with one event saying so; launcher/replay.c derives the leaders and
 * terms and marks violations, and seeks to a moment. In memory
 * (open_memstream), no clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/recording.h"
#include "launcher/recording_read.h"
#include "launcher/replay.h"

/* A writer into memory; take() ends it and returns the bytes. */
struct mem {
    char *buf;
    size_t len;
    FILE *f;
    struct rec_writer w;
};

static void mem_open(struct mem *m, uint64_t max_bytes)
{
    memset(m, 0, sizeof(*m));
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
    rec_writer_init(&m->w, m->f, max_bytes);
}

/* Closes the stream; the caller owns m->buf (m->len bytes). */
static void mem_close(struct mem *m)
{
    assert_int_equal(rec_writer_close(&m->w), ERR_OK);
}

static void meta3(struct rec_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->is_sim = true;
    m->has_seed = true;
    m->seed = 42;
    m->heartbeat_ms = 50;
    m->election_ms[0] = 150;
    m->election_ms[1] = 300;
    m->n_members = 3;
    for (uint32_t i = 0; i < 3; i++) {
        m->members[i].id = i + 1;
        snprintf(m->members[i].addr, sizeof(m->members[i].addr), "127.0.0.1:%u",
                 7001 + i);
    }
}

static void status_of(struct rec_status *s, raft_id id, bool up, int role,
                      raft_term term)
{
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->up = up;
    s->role = (uint8_t)role;
    s->term = term;
    s->contact_ms = UINT64_MAX;
}

/* Parses data (copied) as a file. */
static int parse(const char *data, struct rec_file *f)
{
    size_t len = strlen(data);
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, data, len + 1);
    char errmsg[ERRMSG_LEN];
    int rc = rec_file_parse(f, copy, len, errmsg);
    if (rc != ERR_OK) {
        rec_file_free(f);
    }
    return rc;
}

static const char meta_line[] =
    "{\"t\":0,\"k\":\"meta\",\"v\":1,\"source\":\"live\",\"members\":"
    "[{\"id\":1,\"addr\":\"127.0.0.1:7001\"},{\"id\":2},{\"id\":3}]}\n";

static void test_every_kind_round_trips(void **state)
{
    (void)state;
    struct mem m;
    mem_open(&m, 0);
    struct rec_meta meta;
    meta3(&meta);
    assert_true(rec_write_meta(&m.w, &meta));
    struct rec_status s;
    status_of(&s, 2, true, RAFT_LEADER, 7);
    s.vote = 2;
    s.leader = 2;
    s.commit = 10;
    s.applied = 9;
    s.last = 11;
    s.snap = 3;
    s.timer_ms = 12;
    s.timeout_ms = 250;
    s.tail_first = 9;
    s.n_tail = 3;
    s.tail[0] = 6;
    s.tail[1] = 7;
    s.tail[2] = 7;
    s.n_peers = 2;
    s.peers[0] = (struct rec_peer){1, 11, 12};
    s.peers[1] = (struct rec_peer){3, 4, 5};
    s.disk = STATUS_DISK_HUNG;
    s.pid = 1234;
    s.contact_ms = 5;
    s.n_blocked = 1;
    s.blocked[0] = 3;
    assert_true(rec_write_status(&m.w, 100, &s));
    struct rec_status down;
    status_of(&down, 3, false, RAFT_FOLLOWER, 0);
    assert_true(rec_write_status(&m.w, 100, &down));
    struct rec_msg msg = {.from = 2,
                          .to = 1,
                          .type = REC_MSG_APPEND_REPLY,
                          .term = 7,
                          .index = 11,
                          .n = 0,
                          .has_ok = true,
                          .ok = false,
                          .bytes = 40,
                          .coalesced = 3};
    assert_true(rec_write_msg(&m.w, 101, &msg));
    assert_true(rec_write_event(&m.w, 102, "leader", 2,
                                "quote \" back \\ nl \n tab \t \xc3\xa9"));
    assert_true(rec_write_fault(&m.w, 103, 0, "partitioned from 2,3"));
    assert_true(rec_write_violation(&m.w, 104, "election safety: two"));
    assert_true(rec_write_trace_dropped(&m.w, 105, 1, 99));
    mem_close(&m);

    struct rec_file f;
    char errmsg[ERRMSG_LEN];
    assert_int_equal(rec_file_parse(&f, m.buf, m.len, errmsg), ERR_OK);
    assert_int_equal(f.n_malformed, 0);
    assert_int_equal(f.n, 7);
    assert_true(f.meta.is_sim);
    assert_int_equal(f.meta.seed, 42);
    assert_int_equal(f.meta.n_members, 3);
    assert_string_equal(f.meta.members[2].addr, "127.0.0.1:7003");
    assert_int_equal(f.meta.election_ms[1], 300);
    assert_int_equal(f.t_end, 105);

    struct rec_record r;
    assert_int_equal(rec_file_get(&f, 0, &r), ERR_OK);
    assert_int_equal(r.kind, REC_STATUS);
    assert_int_equal(r.t, 100);
    const struct rec_status *g = &r.u.status;
    assert_true(g->up);
    assert_int_equal(g->role, RAFT_LEADER);
    assert_int_equal(g->term, 7);
    assert_int_equal(g->commit, 10);
    assert_int_equal(g->applied, 9);
    assert_int_equal(g->last, 11);
    assert_int_equal(g->snap, 3);
    assert_int_equal(g->timeout_ms, 250);
    assert_int_equal(g->n_tail, 3);
    assert_int_equal(g->tail[2], 7);
    assert_int_equal(g->n_peers, 2);
    assert_int_equal(g->peers[1].next, 5);
    assert_int_equal(g->disk, STATUS_DISK_HUNG);
    assert_int_equal(g->pid, 1234);
    assert_int_equal(g->contact_ms, 5);
    assert_int_equal(g->n_blocked, 1);

    assert_int_equal(rec_file_get(&f, 1, &r), ERR_OK);
    assert_false(r.u.status.up);
    assert_int_equal(r.u.status.id, 3);

    assert_int_equal(rec_file_get(&f, 2, &r), ERR_OK);
    assert_int_equal(r.kind, REC_MSG);
    assert_int_equal(r.u.msg.type, REC_MSG_APPEND_REPLY);
    assert_true(r.u.msg.has_ok);
    assert_false(r.u.msg.ok);
    assert_int_equal(r.u.msg.index, 11);
    assert_int_equal(r.u.msg.coalesced, 3);

    assert_int_equal(rec_file_get(&f, 3, &r), ERR_OK);
    assert_int_equal(r.kind, REC_EVENT);
    assert_string_equal(r.u.text.kind, "leader");
    assert_int_equal(r.u.text.id, 2);
    assert_string_equal(r.u.text.text,
                        "quote \" back \\ nl \n tab \t ??"); /* Non-ASCII. */

    assert_int_equal(rec_file_get(&f, 4, &r), ERR_OK);
    assert_int_equal(r.kind, REC_FAULT);
    assert_string_equal(r.u.text.text, "partitioned from 2,3");
    assert_int_equal(rec_file_get(&f, 5, &r), ERR_OK);
    assert_int_equal(r.kind, REC_VIOLATION);
    assert_int_equal(rec_file_get(&f, 6, &r), ERR_OK);
    assert_int_equal(r.kind, REC_TRACE_DROPPED);
    assert_int_equal(r.u.text.count, 99);
    rec_file_free(&f);
}

static void test_malformed_lines_are_skipped_and_counted(void **state)
{
    (void)state;
    char *long_line = malloc(REC_READ_LINE_MAX + 100);
    assert_non_null(long_line);
    int n = snprintf(long_line, REC_READ_LINE_MAX + 100,
                     "{\"t\":8,\"k\":\"event\",\"text\":\"");
    memset(long_line + n, 'x', REC_READ_LINE_MAX);
    strcpy(long_line + n + REC_READ_LINE_MAX, "\"}\n");
    static const char *const bad[] = {
        "not json at all\n",
        "{\"t\":1,\"k\":\"status\",\"id\":1,\"role\":\"leader\"\n", /* Cut. */
        "[1,2,3]\n",
        "{}\n",
        "{\"k\":\"event\",\"text\":\"no t\"}\n",
        "{\"t\":-3,\"k\":\"event\",\"text\":\"t < 0\"}\n",
        "{\"t\":\"7\",\"k\":\"event\",\"text\":\"t a string\"}\n",
        "{\"t\":7,\"k\":3}\n",
        "{\"t\":7,\"k\":\"status\",\"role\":\"leader\"}\n",     /* No id. */
        "{\"t\":7,\"k\":\"status\",\"id\":1,\"term\":\"x\"}\n", /* Type. */
        "{\"t\":7,\"k\":\"status\",\"id\":1,\"role\":\"king\"}\n",
        "{\"t\":7,\"k\":\"status\",\"id\":1,\"tail\":[1,2,3,4,5,6,7,8,9,10,"
        "11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,"
        "33]}\n", /* Longer than STATUS_TAIL_MAX. */
        "{\"t\":7,\"k\":\"status\",\"id\":1,\"peers\":[{\"match\":1}]}\n",
        "{\"t\":7,\"k\":\"msg\",\"from\":1,\"to\":2,\"type\":\"gossip\"}\n",
        "{\"t\":7,\"k\":\"msg\",\"from\":1,\"type\":\"vote\"}\n",
        "{\"t\":7,\"k\":\"event\"}\n", /* No text. */
        "{\"t\":7,\"k\":\"trace_dropped\",\"id\":1}\n",
        "{\"t\":7,\"k\":\"event\",\"text\":\"\xff\xfe\"}\n", /* Bad UTF-8. */
        "\x01\x02\x03\n",
        "{\"t\":99999999999999999999999,\"k\":\"event\",\"text\":\"\"}\n",
    };
    size_t cap = 1 << 16;
    char *data = calloc(1, cap + REC_READ_LINE_MAX + 200);
    assert_non_null(data);
    strcat(data, meta_line);
    strcat(data, "{\"t\":6,\"k\":\"event\",\"kind\":\"info\",\"text\":\"a\","
                 "\"later_field\":{\"x\":[1]}}\n");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strcat(data, bad[i]);
    }
    strcat(data, long_line);
    strcat(data, "{\"t\":5,\"k\":\"event\",\"text\":\"time went back\"}\n");
    strcat(data, "{\"t\":11,\"k\":\"hologram\",\"id\":1}\n"); /* Unknown. */
    strcat(data, "\n"); /* Blank lines are nothing. */
    strcat(data, "{\"t\":12,\"k\":\"status\",\"id\":2,\"up\":true,"
                 "\"role\":\"leader\",\"term\":3}\n");
    strcat(data, "{\"t\":13,\"k\":\"violation\",\"text\":\"v\"}"); /* No
                                                                      \n. */
    struct rec_file f;
    assert_int_equal(parse(data, &f), ERR_OK);
    size_t n_bad = sizeof(bad) / sizeof(bad[0]);
    assert_int_equal(f.n_malformed, n_bad + 2); /* + long, + back. */
    assert_int_equal(f.first_malformed, 3);
    assert_int_equal(f.n_unknown, 1);
    assert_int_equal(f.n, 3); /* The event, the status, the violation. */
    assert_int_equal(f.t_end, 13);
    rec_file_free(&f);
    free(data);
    free(long_line);
}

static void test_a_file_needs_a_meta_line_it_knows(void **state)
{
    (void)state;
    struct rec_file f;
    assert_int_equal(parse("", &f), ERR_INVALID);
    assert_int_equal(parse("{\"t\":1,\"k\":\"event\",\"text\":\"x\"}\n", &f),
                     ERR_INVALID);
    assert_int_equal(parse("{\"t\":0,\"k\":\"meta\",\"v\":2,\"members\":"
                           "[{\"id\":1}]}\n",
                           &f),
                     ERR_INVALID); /* Newer version. */
    assert_int_equal(
        parse("{\"t\":0,\"k\":\"meta\",\"v\":1,\"members\":[]}\n", &f),
        ERR_INVALID);
    assert_int_equal(parse("{\"t\":0,\"k\":\"meta\",\"v\":1,\"members\":"
                           "[{\"id\":1},{\"id\":1}]}\n",
                           &f),
                     ERR_INVALID); /* Duplicate id. */
    assert_int_equal(parse(meta_line, &f), ERR_OK);
    assert_int_equal(f.n, 0);
    rec_file_free(&f);
}

static void test_the_size_bound_holds_and_says_so(void **state)
{
    (void)state;
    const uint64_t max = 4000;
    struct mem m;
    mem_open(&m, max);
    struct rec_meta meta;
    meta3(&meta);
    assert_true(rec_write_meta(&m.w, &meta));
    struct rec_status s;
    status_of(&s, 1, true, RAFT_FOLLOWER, 1);
    uint64_t written = 0;
    for (int i = 0; i < 100; i++) {
        written += rec_write_status(&m.w, (uint64_t)i, &s);
    }
    assert_true(written > 5 && written < 100);
    assert_true(m.w.full);
    assert_int_equal(m.w.dropped, 100 - written);
    assert_false(rec_write_event(&m.w, 200, "info", 0, "after the end"));
    mem_close(&m);
    assert_true(m.len <= max);
    assert_non_null(strstr(m.buf, "recording stopped: size limit of 4000"));
    assert_null(strstr(m.buf, "after the end"));
    struct rec_file f;
    char errmsg[ERRMSG_LEN];
    assert_int_equal(rec_file_parse(&f, m.buf, m.len, errmsg), ERR_OK);
    assert_int_equal(f.n_malformed, 0);
    assert_int_equal(f.n, written + 1);
    assert_int_equal(f.entries[f.n - 1].kind, REC_EVENT);
    rec_file_free(&f);
}

/* Three rounds of three members, then a violation: the dump, and seeking. */
static void test_replay_dumps_leaders_and_violations(void **state)
{
    (void)state;
    struct mem m;
    mem_open(&m, 0);
    struct rec_meta meta;
    meta3(&meta);
    rec_write_meta(&m.w, &meta);
    struct rec_status s;
    /* t=100: 1 leads term 1. t=200: 1 down, 2 candidate. t=300: 2 leads
     * term 2 and 1 is back, still thinking it leads term 1. */
    static const struct {
        uint64_t t;
        raft_id id;
        bool up;
        int role;
        raft_term term;
    } rows[] = {
        {100, 1, true, RAFT_LEADER, 1},    {100, 2, true, RAFT_FOLLOWER, 1},
        {100, 3, true, RAFT_FOLLOWER, 1},  {200, 1, false, 0, 0},
        {200, 2, true, RAFT_CANDIDATE, 2}, {200, 3, true, RAFT_FOLLOWER, 2},
        {300, 1, true, RAFT_LEADER, 1},    {300, 2, true, RAFT_LEADER, 2},
        {300, 3, true, RAFT_FOLLOWER, 2},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (i == 3) {
            rec_write_event(&m.w, 150, "death", 1, "node 1 died");
        }
        status_of(&s, rows[i].id, rows[i].up, rows[i].role, rows[i].term);
        rec_write_status(&m.w, rows[i].t, &s);
    }
    rec_write_violation(&m.w, 300, "election safety: example");
    mem_close(&m);

    struct rec_file f;
    char errmsg[ERRMSG_LEN];
    assert_int_equal(rec_file_parse(&f, m.buf, m.len, errmsg), ERR_OK);
    static struct replay r;
    assert_int_equal(replay_init(&r, &f, errmsg), ERR_OK);
    char *out = NULL;
    size_t out_len = 0;
    FILE *o = open_memstream(&out, &out_len);
    replay_dump(&r, o);
    fclose(o);
    assert_string_equal(out, "t=100 leader 1 term 1\n"
                             "t=300 leader 2 term 2\n"
                             "t=300 violation election safety: example\n"
                             "end t=300 leaders 2 violations 1 status 9 "
                             "msgs 0 malformed 0\n");
    free(out);

    static struct dash_view v;
    replay_seek(&r, 250);
    replay_view(&r, &v);
    assert_int_equal(v.nodes[0].state, DASH_NODE_DOWN);
    assert_true(v.nodes[0].has_reply); /* Its figures as last seen. */
    assert_int_equal(v.nodes[0].st.role, RAFT_LEADER);
    assert_int_equal(v.nodes[1].st.role, RAFT_CANDIDATE);
    assert_int_equal(v.nodes[1].age_ms, 50);
    assert_int_equal(r.events.n, 1);
    replay_seek(&r, 1000); /* Clamped to the end. */
    assert_int_equal(r.t, 300);
    assert_int_equal(r.n_violations, 1);
    assert_int_equal(r.events.n, 2);
    replay_seek(&r, 120); /* Back: from the start again. */
    replay_view(&r, &v);
    assert_int_equal(v.nodes[0].state, DASH_NODE_UP);
    assert_int_equal(r.events.n, 0);
    assert_int_equal(replay_next_frame(&r), 200);
    replay_close(&r);
}

/* Event kinds use the shared format's words, both ways. */
static void test_event_kind_words(void **state)
{
    (void)state;
    assert_string_equal(ev_kind_record_name(EV_STEP_DOWN), "step_down");
    assert_string_equal(ev_kind_record_name(EV_NO_LEADER), "no_leader");
    for (int k = 0; k < EV__COUNT; k++) {
        assert_int_equal(ev_kind_from_record(ev_kind_record_name(k)), k);
    }
    assert_int_equal(ev_kind_from_record("meteor"), EV_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_round_trips),
        cmocka_unit_test(test_malformed_lines_are_skipped_and_counted),
        cmocka_unit_test(test_a_file_needs_a_meta_line_it_knows),
        cmocka_unit_test(test_the_size_bound_holds_and_says_so),
        cmocka_unit_test(test_replay_dumps_leaders_and_violations),
        cmocka_unit_test(test_event_kind_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
