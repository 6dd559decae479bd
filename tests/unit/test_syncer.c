/*
 * Unit tests of node/syncer.c, the child process that fdatasyncs the WAL:
 * a sync asked is answered on syncer_fd() and the data written before it is
 * in the file; several rounds in a row; a child that died is reported as
 * an error (never as a successful sync); a failed fdatasync is reported
 * with its errno; stop reaps the child; the child closes descriptors it
 * does not need.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "node/syncer.h"

static int temp_file(char path[64])
{
    snprintf(path, 64, "/tmp/test_syncer.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

/* Waits (up to 10 s) until the syncer answers; returns poll's revents. */
static short wait_answer(const struct syncer *sy)
{
    struct pollfd p = {.fd = syncer_fd(sy), .events = POLLIN};
    assert_true(p.fd >= 0);
    int r;
    do {
        r = poll(&p, 1, 10000);
    } while (r < 0 && errno == EINTR);
    assert_int_equal(r, 1);
    return p.revents;
}

static void test_syncer_rounds(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_file(path);
    struct syncer sy;
    char em[ERRMSG_LEN] = "";
    assert_int_equal(syncer_start(&sy, fd, em), ERR_OK);
    assert_int_equal(syncer_fd(&sy), -1); /* Not busy: nothing to poll. */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(write(fd, "abcd", 4), 4);
        assert_int_equal(syncer_ask(&sy), ERR_OK);
        assert_true(syncer_fd(&sy) >= 0);
        assert_true((wait_answer(&sy) & POLLIN) != 0);
        assert_int_equal(syncer_finish(&sy, em), ERR_OK);
        assert_int_equal(syncer_fd(&sy), -1);
    }
    pid_t pid = sy.pid;
    syncer_stop(&sy);
    assert_int_equal(sy.pid, 0);
    /* Reaped: no such child any more. */
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    syncer_stop(&sy); /* Twice is harmless. */
    close(fd);
    unlink(path);
}

static void test_syncer_child_killed_is_an_error(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_file(path);
    struct syncer sy;
    char em[ERRMSG_LEN] = "";
    assert_int_equal(syncer_start(&sy, fd, em), ERR_OK);
    assert_int_equal(kill(sy.pid, SIGKILL), 0);
    (void)waitpid(sy.pid, NULL, 0);
    /* With the reader gone the ask fails (EPIPE; main ignores SIGPIPE),
     * or, if it got in first, the answer is EOF: an error either way. */
    int rv = syncer_ask(&sy);
    if (rv == ERR_OK) {
        (void)wait_answer(&sy);
        assert_int_equal(syncer_finish(&sy, em), ERR_IO);
        assert_non_null(strstr(em, "gone"));
    } else {
        assert_int_equal(rv, ERR_IO);
    }
    sy.pid = 0; /* Already reaped above. */
    close(sy.ask_fd);
    close(sy.done_fd);
    close(fd);
    unlink(path);
}

static void test_syncer_failed_sync_reports_errno(void **state)
{
    (void)state;
    /* fdatasync of a pipe fails with EINVAL. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct syncer sy;
    char em[ERRMSG_LEN] = "";
    assert_int_equal(syncer_start(&sy, p[0], em), ERR_OK);
    assert_int_equal(syncer_ask(&sy), ERR_OK);
    (void)wait_answer(&sy);
    assert_int_equal(syncer_finish(&sy, em), ERR_IO);
    assert_non_null(strstr(em, "fdatasync"));
    assert_non_null(strstr(em, strerror(EINVAL)));
    syncer_stop(&sy);
    close(p[0]);
    close(p[1]);
}

static void test_syncer_child_closes_other_fds(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_file(path);
    /* The read end of a pipe whose write end only we and the child hold:
     * if the child kept it open, EOF would never come. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct syncer sy;
    char em[ERRMSG_LEN] = "";
    assert_int_equal(syncer_start(&sy, fd, em), ERR_OK);
    /* One round trip: the child is past its start-up closing. */
    assert_int_equal(syncer_ask(&sy), ERR_OK);
    (void)wait_answer(&sy);
    assert_int_equal(syncer_finish(&sy, em), ERR_OK);
    close(p[1]);
    char b;
    assert_int_equal(read(p[0], &b, 1), 0); /* EOF: no writer left. */
    close(p[0]);
    syncer_stop(&sy);
    close(fd);
    unlink(path);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syncer_rounds),
        cmocka_unit_test(test_syncer_child_killed_is_an_error),
        cmocka_unit_test(test_syncer_failed_sync_reports_errno),
        cmocka_unit_test(test_syncer_child_closes_other_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
