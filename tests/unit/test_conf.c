/*
 * Unit tests of common/conf.c: member lines, comments, IPv6 brackets, the
 * cluster line and the hashed cluster id, every error with its line number,
 * and conf_load's file handling (path prefix, size bound, missing file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/err.h"

struct fixture {
    struct conf conf;
    char errmsg[ERRMSG_LEN];
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/test_conf.XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/cluster.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int parse(struct fixture *f, const char *text)
{
    f->errmsg[0] = '\0';
    return conf_parse(text, &f->conf, f->errmsg);
}

/* Parses text, expects ERR_INVALID and an errmsg containing want. */
static void expect_error(struct fixture *f, const char *text, const char *want)
{
    assert_int_equal(parse(f, text), ERR_INVALID);
    if (strstr(f->errmsg, want) == NULL) {
        fail_msg("errmsg '%s' lacks '%s' for text '%s'", f->errmsg, want, text);
    }
}

static void write_file(struct fixture *f, const void *data, size_t len)
{
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* An independent FNV-1a 64 for checking the hashed cluster id. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Members come back sorted by id whatever the file order. */
static void test_conf_parses_members_sorted_by_id(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "3 10.0.0.3:7003\n"
                              "1 node-one.example:7001\n"
                              "2 127.0.0.1:65535\n"),
                     ERR_OK);
    assert_int_equal(f->conf.n_members, 3);
    assert_int_equal(f->conf.members[0].id, 1);
    assert_string_equal(f->conf.members[0].host, "node-one.example");
    assert_int_equal(f->conf.members[0].port, 7001);
    assert_int_equal(f->conf.members[1].id, 2);
    assert_int_equal(f->conf.members[1].port, 65535);
    assert_int_equal(f->conf.members[2].id, 3);
    assert_string_equal(f->conf.members[2].host, "10.0.0.3");
    assert_non_null(conf_find(&f->conf, 2));
    assert_string_equal(conf_find(&f->conf, 2)->host, "127.0.0.1");
    assert_null(conf_find(&f->conf, 4));
    assert_null(conf_find(&f->conf, 0));
}

/* A member's index is its place in the sorted table, not in the file: the
 * launcher, the dashboard and raftnode index their per-member arrays by it. */
static void test_conf_member_index_follows_sorted_order(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "30 127.0.0.1:7003\n"
                              "10 127.0.0.1:7001\n"
                              "20 127.0.0.1:7002\n"),
                     ERR_OK);
    assert_int_equal(conf_member_index(&f->conf, 10), 0);
    assert_int_equal(conf_member_index(&f->conf, 20), 1);
    assert_int_equal(conf_member_index(&f->conf, 30), 2);
    assert_int_equal(conf_member_index(&f->conf, 1), -1);
    assert_int_equal(conf_member_index(&f->conf, RAFT_ID_NONE), -1);
    assert_ptr_equal(conf_find(&f->conf, 30), &f->conf.members[2]);
}

/* Whole-line and trailing comments, blank lines, tabs, CRLF, and a last
 * line without a newline are all fine. */
static void test_conf_accepts_comments_blanks_and_crlf(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "# cluster of two\r\n"
                              "\r\n"
                              "   \t \n"
                              "  1\t127.0.0.1:7001   # first\r\n"
                              "#2 127.0.0.1:7009\n"
                              "2 127.0.0.1:7002#second"),
                     ERR_OK);
    assert_int_equal(f->conf.n_members, 2);
    assert_int_equal(f->conf.members[1].port, 7002);
}

/* IPv6 addresses are written in brackets and stored without them. */
static void test_conf_parses_ipv6_in_brackets(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "1 [::1]:7001\n2 [fe80::1%eth0]:7002\n"), ERR_OK);
    assert_string_equal(f->conf.members[0].host, "::1");
    assert_int_equal(f->conf.members[0].port, 7001);
    assert_string_equal(f->conf.members[1].host, "fe80::1%eth0");
    expect_error(f, "1 ::1:7001\n", "line 1: IPv6 address needs brackets");
    expect_error(f, "1 [::1:7001\n", "line 1: missing ']'");
    expect_error(f, "1 [::1]7001\n", "line 1: bad address");
    expect_error(f, "1 []:7001\n", "line 1: missing host");
    /* Found by fuzz_conf: a bracketed non-IPv6 host lost its brackets in
     * the normalized form, and '%' is only valid inside them. */
    expect_error(f, "1 [a%b]:7001\n", "line 1: brackets are only for IPv6");
    expect_error(f, "1 [localhost]:7001\n", "brackets are only for IPv6");
}

/* "cluster HEX" names the cluster id; "0x" is optional, case is free. */
static void test_conf_cluster_line_sets_the_id(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(parse(f, "cluster 0xDEADbeef # ours\n1 h:1\n"), ERR_OK);
    assert_int_equal(f->conf.cluster_id, 0xdeadbeefull);
    assert_int_equal(parse(f, "1 h:1\ncluster ffffffffffffffff\n"), ERR_OK);
    assert_int_equal(f->conf.cluster_id, UINT64_MAX);
}

/* A cluster line must hold one nonzero 64-bit hex number, once. */
static void test_conf_rejects_bad_cluster_lines(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "1 h:1\ncluster 0\n", "line 2: bad cluster id '0'");
    expect_error(f, "cluster 0x\n1 h:1\n", "line 1: bad cluster id");
    expect_error(f, "cluster 1ffffffffffffffff\n", "line 1: bad cluster id");
    expect_error(f, "cluster 12g4\n", "line 1: bad cluster id");
    expect_error(f, "cluster\n", "line 1: missing cluster id");
    expect_error(f, "cluster 1 2\n", "line 1: garbage after the cluster id");
    expect_error(f, "cluster 1\n1 h:1\ncluster 2\n",
                 "line 3: duplicate cluster line");
}

/* Without a cluster line the id is FNV-1a of the normalized member lines,
 * sorted by id: independent of order, spacing and comments, sensitive to
 * every member's id, host and port, never 0. */
static void test_conf_hashes_members_into_the_cluster_id(void **state)
{
    struct fixture *f = *state;
    uint64_t want = fnv1a("1 127.0.0.1:7001\n2 [::1]:7002\n");
    assert_int_equal(parse(f, "2   [::1]:7002 # b\n\n1 127.0.0.1:7001\n"),
                     ERR_OK);
    assert_int_equal(f->conf.cluster_id, want);
    assert_int_equal(parse(f, "1 127.0.0.1:7001\n2 [::1]:7002"), ERR_OK);
    assert_int_equal(f->conf.cluster_id, want);
    assert_int_equal(parse(f, "1 127.0.0.1:7001\n2 [::1]:7003"), ERR_OK);
    assert_int_not_equal(f->conf.cluster_id, want);
    assert_int_equal(parse(f, "1 127.0.0.1:7001\n3 [::1]:7002"), ERR_OK);
    assert_int_not_equal(f->conf.cluster_id, want);
    assert_int_not_equal(f->conf.cluster_id, 0);
}

/* Ids are decimal 1..RAFT_ID_MAX. */
static void test_conf_rejects_bad_ids(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"0 h:1\n",
                         "1000001 h:1\n",
                         "abc h:1\n",
                         "-1 h:1\n",
                         "1x h:1\n",
                         "+1 h:1\n",
                         "99999999999999999999999999 h:1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(f, bad[i], "line 1: bad id");
    }
    assert_int_equal(parse(f, "1000000 h:1\n"), ERR_OK);
    assert_int_equal(f->conf.members[0].id, RAFT_ID_MAX);
}

/* Ports are decimal 1..65535 and required. */
static void test_conf_rejects_bad_and_missing_ports(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "1 h:0\n", "line 1: bad port '0'");
    expect_error(f, "1 h:65536\n", "line 1: bad port '65536'");
    expect_error(f, "1 h:99999999999999999999\n", "line 1: bad port");
    expect_error(f, "1 h:7x\n", "line 1: bad port");
    expect_error(f, "1 h\n", "line 1: missing port");
    expect_error(f, "1 h:\n", "line 1: missing port");
    expect_error(f, "1 [::1]\n", "line 1: missing port");
    expect_error(f, "1 [::1]:\n", "line 1: missing port");
    expect_error(f, "1 :7001\n", "line 1: missing host");
    expect_error(f, "1\n", "line 1: missing address after id 1");
}

/* Ids and addresses are unique; the error names the line. */
static void test_conf_rejects_duplicates(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "1 a:1\n2 b:1\n# c\n1 c:1\n", "line 4: duplicate id 1");
    expect_error(f, "1 a:1\n2 A:1\n", "line 2: duplicate address A:1");
    assert_int_equal(parse(f, "1 a:1\n2 a:2\n"), ERR_OK);
}

/* At most RAFT_NODES_MAX members, at least one. */
static void test_conf_rejects_too_many_or_no_members(void **state)
{
    struct fixture *f = *state;
    char text[2048];
    size_t n = 0;
    for (int i = 1; i <= RAFT_NODES_MAX; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "%d h:%d\n", i,
                              7000 + i);
    }
    assert_int_equal(parse(f, text), ERR_OK);
    assert_int_equal(f->conf.n_members, RAFT_NODES_MAX);
    snprintf(text + n, sizeof text - n, "99 h:9999\n");
    expect_error(f, text, "line 17: too many members");
    expect_error(f, "", "no members");
    expect_error(f, "# nothing\n\n", "no members");
    expect_error(f, "cluster 5\n", "no members");
}

/* Hosts are at most CONF_HOST_MAX bytes of host name characters. */
static void test_conf_rejects_long_or_odd_hosts(void **state)
{
    struct fixture *f = *state;
    char text[CONF_HOST_MAX + 32];
    char host[CONF_HOST_MAX + 2];
    memset(host, 'a', sizeof host);
    host[CONF_HOST_MAX] = '\0';
    snprintf(text, sizeof text, "1 %s:7001\n", host);
    assert_int_equal(parse(f, text), ERR_OK);
    assert_string_equal(f->conf.members[0].host, host);
    host[CONF_HOST_MAX] = 'a';
    host[CONF_HOST_MAX + 1] = '\0';
    snprintf(text, sizeof text, "1 %s:7001\n", host);
    expect_error(f, text, "line 1: host too long");
    expect_error(f, "1 h/x:1\n", "line 1: bad host");
    expect_error(f, "1 h\x01:1\n", "line 1: bad host");
}

/* Anything after the address (before a comment) is refused. */
static void test_conf_rejects_garbage_after_the_address(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "1 h:1\n2 h:2 extra\n",
                 "line 2: garbage after the address");
    expect_error(f, "1 h:1 2 h:2\n", "line 1: garbage after the address");
}

/* Out parameters are written only on success. */
static void test_conf_leaves_output_untouched_on_error(void **state)
{
    struct fixture *f = *state;
    memset(&f->conf, 0x5a, sizeof f->conf);
    struct conf before = f->conf;
    expect_error(f, "1 h:1\n1 h:2\n", "duplicate id");
    assert_memory_equal(&f->conf, &before, sizeof before);
}

/* conf_load reads the file and prefixes errors with its path. */
static void test_conf_load_reads_a_file_and_prefixes_errors(void **state)
{
    struct fixture *f = *state;
    const char ok[] = "1 127.0.0.1:7001\n2 127.0.0.1:7002\n";
    write_file(f, ok, sizeof ok - 1);
    assert_int_equal(conf_load(f->path, &f->conf, f->errmsg), ERR_OK);
    assert_int_equal(f->conf.n_members, 2);
    const char bad[] = "1 127.0.0.1:7001\n\n1 127.0.0.1:7002\n";
    write_file(f, bad, sizeof bad - 1);
    assert_int_equal(conf_load(f->path, &f->conf, f->errmsg), ERR_INVALID);
    char want[200];
    snprintf(want, sizeof want, "%s:3: duplicate id 1", f->path);
    assert_string_equal(f->errmsg, want);
    write_file(f, "", 0);
    assert_int_equal(conf_load(f->path, &f->conf, f->errmsg), ERR_INVALID);
    snprintf(want, sizeof want, "%s: no members", f->path);
    assert_string_equal(f->errmsg, want);
}

/* Missing files, directories, NUL bytes and oversized files are errors. */
static void test_conf_load_rejects_missing_odd_and_huge_files(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(conf_load(f->path, &f->conf, f->errmsg), ERR_NOT_FOUND);
    assert_non_null(strstr(f->errmsg, f->path));
    assert_int_equal(conf_load(f->dir, &f->conf, f->errmsg), ERR_IO);
    assert_non_null(strstr(f->errmsg, f->dir));
    const char nul[] = "1 h:1\n\0 2 h:2\n";
    write_file(f, nul, sizeof nul - 1);
    assert_int_equal(conf_load(f->path, &f->conf, f->errmsg), ERR_INVALID);
    assert_non_null(strstr(f->errmsg, "NUL"));
    size_t size = 64 * 1024 + 1;
    char *big = malloc(size);
    assert_non_null(big);
    memset(big, '#', size);
    memcpy(big, "1 h:1\n", 6);
    write_file(f, big, size);
    assert_int_equal(conf_load(f->path, &f->conf, f->errmsg), ERR_INVALID);
    assert_non_null(strstr(f->errmsg, "larger than"));
    write_file(f, big, size - 1); /* Exactly the limit: fine. */
    assert_int_equal(conf_load(f->path, &f->conf, f->errmsg), ERR_OK);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_conf_parses_members_sorted_by_id),
        T(test_conf_member_index_follows_sorted_order),
        T(test_conf_accepts_comments_blanks_and_crlf),
        T(test_conf_parses_ipv6_in_brackets),
        T(test_conf_cluster_line_sets_the_id),
        T(test_conf_rejects_bad_cluster_lines),
        T(test_conf_hashes_members_into_the_cluster_id),
        T(test_conf_rejects_bad_ids),
        T(test_conf_rejects_bad_and_missing_ports),
        T(test_conf_rejects_duplicates),
        T(test_conf_rejects_too_many_or_no_members),
        T(test_conf_rejects_long_or_odd_hosts),
        T(test_conf_rejects_garbage_after_the_address),
        T(test_conf_leaves_output_untouched_on_error),
        T(test_conf_load_reads_a_file_and_prefixes_errors),
        T(test_conf_load_rejects_missing_odd_and_huge_files),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
