/*
 * Unit tests of launcher/web_json.c, the page's JSON lines: a status line
 * carries the shared format's keys (role words, the timer advanced by the
 * answer's age and clamped to the timeout, the log tail, the leader's
 * peers), a silent member is "down" with "up":false, event text is
 * escaped, the meta line names members and timers, and fault rules read
 * as one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "launcher/web_json.h"

static json_t *parse(const char *line)
{
    json_t *o = json_loads(line, 0, NULL);
    assert_non_null(o);
    return o;
}

static json_int_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void leader_node(struct dash_node *n)
{
    memset(n, 0, sizeof(*n));
    n->id = 2;
    n->state = DASH_NODE_UP;
    n->has_reply = true;
    n->term = 5;
    n->pid = 4242;
    n->st.role = RAFT_LEADER;
    n->st.leader = 2;
    n->st.voted_for = 2;
    n->st.commit = 11;
    n->st.applied = 10;
    n->st.last_index = 12;
    n->st.tail_first = 10;
    n->st.n_tail = 3;
    n->st.tail_terms[0] = 4;
    n->st.tail_terms[1] = 5;
    n->st.tail_terms[2] = 5;
    n->st.n_peers = 1;
    n->st.peers[0] = (struct status_peer){.id = 3, .match = 9, .next = 10};
    n->st.election_timeout_ms = 200;
}

static void test_status_leader(void **state)
{
    (void)state;
    struct dash_node n;
    leader_node(&n);
    char buf[WEB_JSON_LINE_MAX];
    assert_true(web_json_status(&n, 1234, buf, sizeof(buf)) > 0);
    json_t *o = parse(buf);
    assert_int_equal(num(o, "t"), 1234);
    assert_string_equal(str(o, "k"), "status");
    assert_string_equal(str(o, "role"), "leader");
    assert_true(json_is_true(json_object_get(o, "up")));
    assert_int_equal(num(o, "term"), 5);
    assert_int_equal(num(o, "commit"), 11);
    assert_int_equal(num(o, "last"), 12);
    assert_int_equal(num(o, "tail_first"), 10);
    json_t *tail = json_object_get(o, "tail");
    assert_int_equal(json_array_size(tail), 3);
    assert_int_equal(json_integer_value(json_array_get(tail, 0)), 4);
    json_t *peer = json_array_get(json_object_get(o, "peers"), 0);
    assert_int_equal(num(peer, "id"), 3);
    assert_int_equal(num(peer, "match"), 9);
    assert_int_equal(num(peer, "next"), 10);
    assert_string_equal(str(o, "disk"), "ok");
    json_decref(o);
}

static void test_status_timer_and_down(void **state)
{
    (void)state;
    struct dash_node n;
    leader_node(&n);
    n.st.role = RAFT_PRECANDIDATE;
    n.st.election_elapsed_ms = 120;
    n.age_ms = 30;
    char buf[WEB_JSON_LINE_MAX];
    assert_true(web_json_status(&n, 0, buf, sizeof(buf)) > 0);
    json_t *o = parse(buf);
    assert_string_equal(str(o, "role"), "precandidate");
    assert_int_equal(num(o, "timer_ms"), 150); /* Advanced by its age. */
    json_decref(o);
    n.age_ms = 500;
    assert_true(web_json_status(&n, 0, buf, sizeof(buf)) > 0);
    o = parse(buf);
    assert_int_equal(num(o, "timer_ms"), 200); /* Clamped. */
    json_decref(o);
    n.state = DASH_NODE_SILENT;
    assert_true(web_json_status(&n, 0, buf, sizeof(buf)) > 0);
    o = parse(buf);
    assert_string_equal(str(o, "role"), "down");
    assert_true(json_is_false(json_object_get(o, "up")));
    assert_int_equal(num(o, "term"), 5); /* Last seen. */
    json_decref(o);
}

static void test_event_escaped(void **state)
{
    (void)state;
    struct ev e;
    ev_set(&e, 1700000000123ull, EV_ACTION, 3, 0, "%s",
           "web put: \"quoted\" \\ <b>");
    char buf[WEB_JSON_LINE_MAX];
    assert_true(web_json_event(&e, 77, buf, sizeof(buf)) > 0);
    json_t *o = parse(buf);
    assert_string_equal(str(o, "k"), "event");
    assert_string_equal(str(o, "kind"), "action");
    assert_string_equal(str(o, "text"), "web put: \"quoted\" \\ <b>");
    assert_int_equal(num(o, "id"), 3);
    assert_int_equal(num(o, "wall"), 1700000000123ll);
    json_decref(o);
    assert_int_equal(web_json_event(&e, 77, buf, 10), 0); /* Too small. */
}

static void test_meta(void **state)
{
    (void)state;
    struct conf c;
    memset(&c, 0, sizeof(c));
    c.n_members = 2;
    c.members[0].id = 1;
    snprintf(c.members[0].host, sizeof(c.members[0].host), "127.0.0.1");
    c.members[0].port = 7001;
    c.members[1].id = 9;
    snprintf(c.members[1].host, sizeof(c.members[1].host), "10.0.0.2");
    c.members[1].port = 7009;
    char buf[WEB_JSON_LINE_MAX];
    assert_true(web_json_meta(&c, "live", 300, 3000, buf, sizeof(buf)) > 0);
    json_t *o = parse(buf);
    assert_string_equal(str(o, "k"), "meta");
    assert_int_equal(num(o, "v"), 1);
    assert_int_equal(num(o, "heartbeat_ms"), 300);
    json_t *el = json_object_get(o, "election_ms");
    assert_int_equal(json_integer_value(json_array_get(el, 0)), 3000);
    assert_int_equal(json_integer_value(json_array_get(el, 1)), 6000);
    json_t *m = json_array_get(json_object_get(o, "members"), 1);
    assert_int_equal(num(m, "id"), 9);
    assert_string_equal(str(m, "addr"), "10.0.0.2:7009");
    json_decref(o);
}

static void test_fault_text(void **state)
{
    (void)state;
    struct msg_status_reply st;
    memset(&st, 0, sizeof(st));
    char buf[WEB_FAULT_TEXT_MAX];
    web_fault_text(&st, buf, sizeof(buf));
    assert_string_equal(buf, "");
    st.n_blocked = 2;
    st.blocked[0] = 2;
    st.blocked[1] = 3;
    web_fault_text(&st, buf, sizeof(buf));
    assert_string_equal(buf, "partitioned from 2,3");
    st.loss_ppm = 200000;
    st.delay_ms = 50;
    st.jitter_ms = 5;
    web_fault_text(&st, buf, sizeof(buf));
    assert_string_equal(buf, "partitioned from 2,3; loss 20%; delay 50+-5ms");
    st.n_blocked = 0;
    web_fault_text(&st, buf, 12); /* Truncated, terminated. */
    assert_string_equal(buf, "loss 20%; d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_leader),
        cmocka_unit_test(test_status_timer_and_down),
        cmocka_unit_test(test_event_escaped),
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_fault_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
