/*
 * Unit tests of common/auth.c: the replay window (in order, out of order,
 * duplicates, the edges of the 1,024 entries, a jump past them, counters
 * near 2^64), key files (good, two keys, malformed, mode 0644, missing),
 * and tags over real sockets: a datagram sealed with the held key passes
 * once, a replay of its bytes is dropped (replay), a wrong key or a bare
 * message is dropped (bad_tag), a client-key peer type is refused by a
 * node (wrong_key_type), and a second key in the file is accepted.
 * The replay rules (auth_replay_check): windows per member id whatever
 * the epoch table holds, a member's restart (a later run) and its earlier
 * run refused, datagrams sent before the receiver's restart refused,
 * clients' windows evicted under churn without opening a replay, member
 * windows evicted beyond 64 ids, and stamps far in the future refused.
 * Horizons: client churn never stops a member's new run, and an epoch
 * window evicted from one bucket leaves other buckets' epochs alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/udp.h"
#include "common/wire.h"

#define CLUSTER_ID 0x5eedULL

static void test_window(void **state)
{
    (void)state;
    struct auth_window w;
    memset(&w, 0, sizeof w);
    assert_true(auth_window_check(&w, 1));
    assert_false(auth_window_check(&w, 1));
    assert_true(auth_window_check(&w, 3));
    assert_true(auth_window_check(&w, 2)); /* Out of order, inside. */
    assert_false(auth_window_check(&w, 2));
    assert_true(auth_window_check(&w, 1026)); /* 3..1026: 1,024 entries. */
    assert_false(auth_window_check(&w, 2));   /* Behind the window. */
    assert_false(auth_window_check(&w, 3));   /* Seen, at the edge. */
    assert_true(auth_window_check(&w, 4));    /* Oldest unseen entry. */
    assert_true(auth_window_check(&w, 100000)); /* Jump past the window. */
    assert_false(auth_window_check(&w, 1026));
    assert_true(auth_window_check(&w, 99999));
    assert_false(auth_window_check(&w, 100000));
    memset(&w, 0, sizeof w);
    assert_true(auth_window_check(&w, UINT64_MAX - 1));
    assert_true(auth_window_check(&w, UINT64_MAX));
    assert_false(auth_window_check(&w, UINT64_MAX - 1));
    assert_true(auth_window_check(&w, UINT64_MAX - 5));
    assert_false(auth_window_check(&w, 1)); /* No wrap-around back. */
}

static const char *write_file(const char *name, const char *text, int mode)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/test_auth.%d.%s", (int)getpid(), name);
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
    return path;
}

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HEX64B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void test_key_files(void **state)
{
    (void)state;
    uint8_t keys[AUTH_KEYS_PER_FILE][AUTH_KEY_BYTES];
    uint32_t n = 0;
    char err[ERRMSG_LEN];
    assert_int_equal(auth_read_key_file(write_file("a", HEX64 "\n", 0600),
                                        keys, &n, err),
                     ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(keys[0][1], 0x11);
    assert_int_equal(
        auth_read_key_file(write_file("b", HEX64 "\n" HEX64B "\n", 0600),
                           keys, &n, err),
        ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(keys[1][0], 0xff);
    assert_int_equal(auth_read_key_file(write_file("c", "xyz\n", 0600), keys,
                                        &n, err),
                     ERR_INVALID);
    assert_non_null(strstr(err, "malformed"));
    assert_int_equal(
        auth_read_key_file(write_file("d", HEX64 "\n" HEX64 "\n" HEX64 "\n",
                                      0600),
                           keys, &n, err),
        ERR_INVALID);
    assert_int_equal(auth_read_key_file(write_file("e", HEX64 "\n", 0644),
                                        keys, &n, err),
                     ERR_INVALID);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(
        auth_read_key_file("/tmp/test_auth.none.key", keys, &n, err),
        ERR_NOT_FOUND);
    assert_non_null(strstr(err, "missing"));
    char path[256];
    snprintf(path, sizeof path, "/tmp/test_auth.%d.new", (int)getpid());
    unlink(path);
    assert_int_equal(auth_create_key_file(path, err), ERR_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(auth_read_key_file(path, keys, &n, err), ERR_OK);
    const char *names[] = {"a", "b", "c", "d", "e", "new"};
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "/tmp/test_auth.%d.%s", (int)getpid(),
                 names[i]);
        unlink(path);
    }
}

struct pair {
    int a, b;
    struct raft_addr addr_b;
};

static void open_pair(struct pair *p)
{
    char err[ERRMSG_LEN];
    assert_int_equal(udp_open(NULL, &p->a, err), ERR_OK);
    assert_int_equal(udp_open(NULL, &p->b, err), ERR_OK);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    assert_int_equal(getsockname(p->b, (struct sockaddr *)&ss, &sl), 0);
    memset(&p->addr_b, 0, sizeof p->addr_b);
    memcpy(p->addr_b.bytes, &ss, sl);
    p->addr_b.len = sl;
}

/* Encodes a message of type t into buf. */
static size_t encode(uint8_t type, uint8_t *buf)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.from = 1;
    m.to = 2;
    size_t len = 0;
    assert_int_equal(wire_encode(&m, CLUSTER_ID, buf, RAFT_DATAGRAM_MAX, &len),
                     ERR_OK);
    return len;
}

static int recv_one(int fd, uint8_t *buf, size_t *len)
{
    struct raft_addr from;
    usleep(2000);
    return udp_recv(fd, buf, RAFT_DATAGRAM_MAX, len, &from);
}

static const uint8_t key1[1][AUTH_KEY_BYTES] = {{1, 2, 3}};
static const uint8_t key2[1][AUTH_KEY_BYTES] = {{9, 9, 9}};
static const uint8_t both[2][AUTH_KEY_BYTES] = {{7}, {1, 2, 3}};

/* Two sockets, and this process a node holding key1 as its cluster key. */
static void open_node_pair(struct pair *p)
{
    open_pair(p);
    auth_reset();
    auth_set_keys(AUTH_CLUSTER, key1, 1, AUTH_ROLE_NODE);
}

static void test_tags(void **state)
{
    (void)state;
    static uint8_t buf[RAFT_DATAGRAM_MAX], raw[RAFT_DATAGRAM_MAX];
    struct pair p;
    open_node_pair(&p);
    size_t len = 0;
    auth_set_keys(AUTH_CLIENT, key2, 1, AUTH_ROLE_NODE);

    /* Good: one pass. Keep the raw bytes to replay them. */
    size_t n = encode(MSG_VOTE, buf);
    assert_int_equal(udp_send(p.a, &p.addr_b, buf, n), ERR_OK);
    usleep(2000);
    ssize_t got = recv(p.b, raw, sizeof raw, MSG_PEEK);
    assert_int_equal(got, (ssize_t)(n + AUTH_HEADER_BYTES));
    assert_int_equal(recv_one(p.b, buf, &len), ERR_OK);
    assert_int_equal(len, n);

    /* The same bytes again: a replay. */
    uint64_t replays = auth_drops(AUTH_DROP_REPLAY);
    assert_int_equal(sendto(p.a, raw, (size_t)got, 0,
                            (const struct sockaddr *)p.addr_b.bytes,
                            p.addr_b.len),
                     got);
    assert_int_equal(recv_one(p.b, buf, &len), ERR_AGAIN);
    assert_int_equal(auth_drops(AUTH_DROP_REPLAY), replays + 1);

    /* One flipped bit of the message, and a bare message: bad_tag. */
    uint64_t bad = auth_drops(AUTH_DROP_BAD_TAG);
    raw[got - 1] ^= 1;
    sendto(p.a, raw, (size_t)got, 0, (const struct sockaddr *)p.addr_b.bytes,
           p.addr_b.len);
    sendto(p.a, raw + AUTH_HEADER_BYTES, (size_t)got - AUTH_HEADER_BYTES, 0,
           (const struct sockaddr *)p.addr_b.bytes, p.addr_b.len);
    assert_int_equal(recv_one(p.b, buf, &len), ERR_AGAIN);
    assert_int_equal(auth_drops(AUTH_DROP_BAD_TAG), bad + 2);

    /* A client-key peer message: wrong_key_type; a client request with
     * it passes. */
    uint64_t wrong = auth_drops(AUTH_DROP_WRONG_KEY_TYPE);
    auth_force_class(AUTH_CLIENT);
    n = encode(MSG_APPEND, buf);
    assert_int_equal(udp_send(p.a, &p.addr_b, buf, n), ERR_OK);
    assert_int_equal(recv_one(p.b, buf, &len), ERR_AGAIN);
    assert_int_equal(auth_drops(AUTH_DROP_WRONG_KEY_TYPE), wrong + 1);
    n = encode(MSG_STATUS, buf);
    assert_int_equal(udp_send(p.a, &p.addr_b, buf, n), ERR_OK);
    assert_int_equal(recv_one(p.b, buf, &len), ERR_OK);
    auth_force_class(-1);

    /* Rotation: a receiver holding two keys accepts the second. */
    auth_set_keys(AUTH_CLUSTER, both, 2, AUTH_ROLE_NODE);
    n = encode(MSG_VOTE, buf);
    auth_set_keys(AUTH_CLUSTER, key1, 1, AUTH_ROLE_NODE);
    assert_int_equal(udp_send(p.a, &p.addr_b, buf, n), ERR_OK);
    auth_set_keys(AUTH_CLUSTER, both, 2, AUTH_ROLE_NODE);
    assert_int_equal(recv_one(p.b, buf, &len), ERR_OK);

    /* Sent under another key: bad_tag. */
    bad = auth_drops(AUTH_DROP_BAD_TAG);
    auth_set_keys(AUTH_CLUSTER, key2, 1, AUTH_ROLE_NODE);
    n = encode(MSG_VOTE, buf);
    assert_int_equal(udp_send(p.a, &p.addr_b, buf, n), ERR_OK);
    auth_set_keys(AUTH_CLUSTER, key1, 1, AUTH_ROLE_NODE);
    assert_int_equal(recv_one(p.b, buf, &len), ERR_AGAIN);
    assert_int_equal(auth_drops(AUTH_DROP_BAD_TAG), bad + 1);
    auth_reset();
    udp_close(p.a);
    udp_close(p.b);
}

/* A stamp of class c from sender id, epoch started at start_ms. */
static struct auth_stamp stamp(int c, uint64_t id, uint64_t start_ms,
                               uint64_t counter, uint64_t sent_ms)
{
    struct auth_stamp st = {.cls = (uint8_t)c,
                            .sender = id,
                            .epoch = start_ms << 16 | 7,
                            .counter = counter,
                            .sent_ms = sent_ms};
    return st;
}

static bool check(int c, uint64_t id, uint64_t start_ms, uint64_t counter,
                  uint64_t sent_ms, uint64_t now_ms)
{
    struct auth_stamp st = stamp(c, id, start_ms, counter, sent_ms);
    return auth_replay_check(&st, now_ms);
}

/* This process a node holding key1, started at start_ms. */
static void node_started_at(uint64_t start_ms)
{
    auth_reset();
    auth_set_keys(AUTH_CLUSTER, key1, 1, AUTH_ROLE_NODE);
    auth_replay_restart(start_ms);
}

/* One step of a replay scenario: a stamp and whether it passes, or (cls
 * RESTART) the receiver restarting at now. */
#define RESTART (-1)
struct replay_step {
    int cls;
    uint64_t id, start_ms, counter, sent_ms, now_ms;
    bool pass;
    const char *why;
};

static void test_replay_members(void **state)
{
    (void)state;
    static const struct replay_step steps[] = {
        {AUTH_CLUSTER, 2, 900, 1, 1001, 1001, true, "member 2: new"},
        {AUTH_CLUSTER, 2, 900, 1, 1001, 1002, false, "duplicate"},
        {AUTH_CLUSTER, 2, 900, 2, 1002, 1002, true, "next"},
        {AUTH_CLUSTER, 3, 900, 5, 999, 1003, false,
         "sent before this receiver started"},
        {AUTH_CLUSTER, 3, 900, 6, 1000, 1003, true, "sent at its start"},
        {AUTH_CLUSTER, 4, 900, 2, 1002, 1003, true,
         "windows per id: member 2's epoch and counter"},
        {AUTH_CLIENT, 2, 5000, 1, 5001, 5001, true,
         "client key claiming id 2: the epoch table"},
        {AUTH_CLUSTER, 2, 900, 3, 1003, 5002, true,
         "member 2's window did not move"},
        {AUTH_CLUSTER, 2, 2000, 1, 2001, 5003, true, "member 2 restarted"},
        {AUTH_CLUSTER, 2, 900, 4, 1004, 5003, false, "its earlier run"},
        {AUTH_CLUSTER, 2, 2000, 2, 2002, 5003, true, "the later run goes on"},
        {AUTH_CLUSTER, 2, 2000, 1, 2001, 5003, false, "duplicate"},
        {RESTART, 0, 0, 0, 0, 6000, true, "the receiver restarts at 6000"},
        {AUTH_CLUSTER, 2, 2000, 3, 2003, 6001, false, "sent before it"},
        {AUTH_CLUSTER, 2, 2000, 4, 6001, 6001, true, "sent after it"},
        {AUTH_CLUSTER, 2, 2000, 4, 6001, 6002, false, "duplicate"},
        {AUTH_CLUSTER, 2, 2000, 4 + AUTH_WINDOW, 6002, 6002, true,
         "1,024 ahead"},
        {AUTH_CLUSTER, 2, 2000, 4, 6001, 6002, false, "behind the window"},
        {AUTH_CLUSTER, 2, 2000, 5, 6001, 6002, true, "oldest in the window"},
        {AUTH_CLUSTER, 5, 6000, 1, 6002 + AUTH_FUTURE_MS + 1, 6002, false,
         "over a minute ahead"},
        {AUTH_CLUSTER, 5, 6000, 1, 6002 + AUTH_FUTURE_MS, 6002, true,
         "a minute ahead"},
    };
    node_started_at(1000);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const struct replay_step *t = &steps[i];
        if (t->cls == RESTART) {
            auth_replay_restart(t->now_ms);
            continue;
        }
        bool got = check(t->cls, t->id, t->start_ms, t->counter, t->sent_ms,
                         t->now_ms);
        if (got != t->pass) {
            fail_msg("step %zu (%s): %s, want %s", i, t->why,
                     got ? "passed" : "refused", t->pass ? "pass" : "refused");
        }
    }
    auth_reset();
}

static void test_replay_eviction(void **state)
{
    (void)state;
    node_started_at(1000);
    /* A long-lived client A, then 40,000 one-shot clients: A's window
     * is evicted somewhere, never opening its old datagram again. */
    assert_true(check(AUTH_CLIENT, 0, 1050, 1, 1100, 1100));
    for (uint64_t i = 0; i < 40000; i++) {
        assert_true(check(AUTH_CLIENT, 0, 1150 + i, 1, 1200 + i, 50000));
    }
    assert_false(check(AUTH_CLIENT, 0, 1050, 1, 1100, 50000));
    /* A's next datagram, sent now, passes (a fresh window if need be). */
    assert_true(check(AUTH_CLIENT, 0, 1050, 2, 50000, 50000));
    assert_false(check(AUTH_CLIENT, 0, 1050, 2, 50000, 50001));
    /* A one-shot client's datagram sent before the newest evicted one. */
    assert_false(check(AUTH_CLIENT, 0, 1150, 1, 1200, 50001));
    /* Members: 64 windows by id; the 65th evicts the one heard from
     * longest ago, whose old datagram stays refused. */
    for (uint64_t id = 1; id <= 65; id++) {
        assert_true(check(AUTH_CLUSTER, id, 60000, 1, 60000 + id, 60100));
    }
    assert_false(check(AUTH_CLUSTER, 1, 60000, 1, 60001, 60100));
    assert_true(check(AUTH_CLUSTER, 1, 60000, 2, 60101, 60101));
    assert_true(check(AUTH_CLUSTER, 65, 60000, 2, 60102, 60102));
    auth_reset();
}

/* A client stamp of epoch e (any low bits: they pick its bucket). */
static bool check_epoch(uint64_t e, uint64_t counter, uint64_t sent_ms,
                        uint64_t now_ms)
{
    struct auth_stamp st = stamp(AUTH_CLIENT, 0, 0, counter, sent_ms);
    st.epoch = e;
    return auth_replay_check(&st, now_ms);
}

/* An epoch started at start_ms whose home bucket is b. */
static uint64_t epoch_in_bucket(uint32_t b, uint64_t start_ms)
{
    uint64_t r = 0;
    while (auth_epoch_bucket(start_ms << 16 | r) != b) {
        r++;
    }
    return start_ms << 16 | r;
}

/* Client-class evictions never close a member's door: 40,000 fresh
 * client epochs, stamped 30 s ahead (within the minute allowed), evict
 * epoch windows whose newest datagram is capped at the receiver's clock; a member that restarts meanwhile (and a new member)
 * with a clock a little behind still opens a window, and an earlier
 * run's datagram stays refused. */
static void test_client_churn_member(void **state)
{
    (void)state;
    node_started_at(1000);
    assert_true(check(AUTH_CLUSTER, 3, 900, 1, 1001, 1001));
    for (uint64_t now = 2000; now < 42000; now++) {
        assert_true(
            check_epoch(now << 16 | (now & 0xffff), 1, now + 30000, now));
    }
    /* Sent 10 ms before the receiver's clock, the last eviction's cap. */
    assert_true(check(AUTH_CLUSTER, 3, 41000, 1, 41990, 42000));
    assert_true(check(AUTH_CLUSTER, 9, 41000, 1, 41990, 42000));
    assert_false(check(AUTH_CLUSTER, 3, 900, 2, 1002, 42000));
    assert_false(check(AUTH_CLUSTER, 3, 41000, 1, 41990, 42001));
    auth_reset();
}

/* An epoch window evicted from one bucket raises that bucket's horizon
 * only: a fresh epoch homed elsewhere, sent before the evicted window's
 * newest datagram, opens a window; one homed in the same bucket, and the
 * evicted epoch's captured datagram, are refused. */
static void test_eviction_bucket(void **state)
{
    (void)state;
    node_started_at(1000);
    uint32_t b0 = 17, b1 = 2048; /* b1 is far from b0's 8 probes. */
    uint64_t e[10];
    for (uint64_t i = 0; i < 10; i++) {
        e[i] = epoch_in_bucket(b0, 1001 + i);
    }
    /* Nine epochs homed at b0: the ninth evicts the first (sent 5000). */
    for (uint64_t i = 0; i < 9; i++) {
        assert_true(check_epoch(e[i], 1, 5000 + i, 6000));
    }
    assert_false(check_epoch(e[0], 1, 5000, 6000)); /* Its capture. */
    assert_true(check_epoch(epoch_in_bucket(b1, 1000), 1, 4000, 6000));
    assert_false(check_epoch(e[9], 1, 4000, 6000));
    assert_true(check_epoch(e[9], 1, 5001, 6000));
    auth_reset();
}

/* Over sockets: a datagram captured before the receiver's restart is
 * dropped as a replay after it. */
static void test_restart_capture(void **state)
{
    (void)state;
    static uint8_t buf[RAFT_DATAGRAM_MAX], raw[RAFT_DATAGRAM_MAX];
    struct pair p;
    open_node_pair(&p);
    size_t len = 0;
    auth_set_sender(3);
    size_t n = encode(MSG_APPEND, buf);
    assert_int_equal(udp_send(p.a, &p.addr_b, buf, n), ERR_OK);
    usleep(2000);
    ssize_t got = recv(p.b, raw, sizeof raw, 0);
    assert_int_equal(got, (ssize_t)(n + AUTH_HEADER_BYTES));
    usleep(5000);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    auth_replay_restart((uint64_t)ts.tv_sec * 1000 +
                        (uint64_t)ts.tv_nsec / 1000000);
    uint64_t replays = auth_drops(AUTH_DROP_REPLAY);
    assert_int_equal(sendto(p.a, raw, (size_t)got, 0,
                            (const struct sockaddr *)p.addr_b.bytes,
                            p.addr_b.len),
                     got);
    assert_int_equal(recv_one(p.b, buf, &len), ERR_AGAIN);
    assert_int_equal(auth_drops(AUTH_DROP_REPLAY), replays + 1);
    /* What the sender sends after the restart passes. */
    n = encode(MSG_APPEND, buf);
    assert_int_equal(udp_send(p.a, &p.addr_b, buf, n), ERR_OK);
    assert_int_equal(recv_one(p.b, buf, &len), ERR_OK);
    auth_set_sender(0);
    auth_reset();
    udp_close(p.a);
    udp_close(p.b);
}

/* auth_refresh: a changed key file is loaded again; a malformed one is
 * refused and the keys in use stay; nothing changed, nothing loaded. */
static void test_refresh(void **state)
{
    (void)state;
    char dir[64], path[96], err[ERRMSG_LEN];
    snprintf(dir, sizeof dir, "/tmp/test_auth.%d.d", (int)getpid());
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(auth_create_keys(dir, err), ERR_OK);
    auth_reset();
    assert_int_equal(auth_load_dir(dir, AUTH_ROLE_CLIENT, true, err), ERR_OK);
    bool reloaded = true;
    assert_int_equal(auth_refresh(&reloaded, err), ERR_OK);
    assert_false(reloaded);
    snprintf(path, sizeof path, "%s/client.key", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(HEX64 "\n" HEX64B "\n", f);
    fclose(f);
    assert_int_equal(auth_refresh(&reloaded, err), ERR_OK);
    assert_true(reloaded);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(auth_refresh(&reloaded, err), ERR_INVALID);
    assert_false(reloaded);
    assert_true(auth_holds(AUTH_CLIENT));
    assert_int_equal(auth_refresh(&reloaded, err), ERR_OK); /* Same file. */
    assert_false(reloaded);
    auth_reset();
    unlink(path);
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_replay_members),
        cmocka_unit_test(test_replay_eviction),
        cmocka_unit_test(test_client_churn_member),
        cmocka_unit_test(test_eviction_bucket),
        cmocka_unit_test(test_restart_capture),
        cmocka_unit_test(test_refresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
