/*
 * The syncer child (node/syncer.h): two pipes and a loop of read one byte,
 * fdatasync, write back 0 or the errno. A failed fdatasync is reported and
 * never retried by the loop: after one, the kernel may have dropped the
 * dirty pages, so the node must stop (fail-stop) rather than trust a later
 * sync. Not pure. Read node/node.c next.
 */
#include "node/syncer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "common/invariant.h"

/* Closes descriptors lo..hi (inclusive), by close_range when it can. */
static void close_span(unsigned lo, unsigned hi)
{
    if (lo > hi) {
        return;
    }
    if (close_range(lo, hi, 0) == 0) {
        return;
    }
    unsigned top = hi < 65536u ? hi : 65535u; /* No close_range: ENOSYS. */
    for (unsigned i = lo; i <= top; i++) {
        (void)close((int)i);
    }
}

/* Closes every descriptor above stderr except the ones the child uses. */
static void child_close_others(int fd, int ask_fd, int done_fd)
{
    unsigned keep[3] = {(unsigned)fd, (unsigned)ask_fd, (unsigned)done_fd};
    for (int i = 1; i < 3; i++) { /* Sort the three. */
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            unsigned t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    }
    unsigned next = 3;
    for (int i = 0; i < 3; i++) {
        if (keep[i] >= next) {
            close_span(next, keep[i] - 1);
            next = keep[i] + 1;
        }
    }
    close_span(next, ~0u);
}

static ssize_t read_retry(int fd, uint8_t *b)
{
    ssize_t r;
    do {
        r = read(fd, b, 1);
    } while (r < 0 && errno == EINTR);
    return r;
}

static ssize_t write_retry(int fd, uint8_t b)
{
    ssize_t w;
    do {
        w = write(fd, &b, 1);
    } while (w < 0 && errno == EINTR);
    return w;
}

#define SYNCER_DELAY_STEP_MS 20

/* The injected delay before a sync: sleeps in steps while *delay_ms says
 * more time is due, so clearing it ends the wait. */
static void child_delay(volatile const uint32_t *delay_ms)
{
    uint32_t slept = 0;
    while (delay_ms != NULL && slept < *delay_ms) {
        struct timespec step = {0, SYNCER_DELAY_STEP_MS * 1000000L};
        (void)nanosleep(&step, NULL);
        slept += SYNCER_DELAY_STEP_MS;
    }
}

/* The child: never returns. */
static void child_main(pid_t parent, int fd, int ask_fd, int done_fd,
                       volatile const uint32_t *delay_ms)
{
    child_setup(parent, "raftnode-sync");
    child_close_others(fd, ask_fd, done_fd);
    for (;;) {
        uint8_t b;
        if (read_retry(ask_fd, &b) != 1) {
            _exit(0); /* The node closed the pipe (or died). */
        }
        child_delay(delay_ms);
        int rc;
        do {
            rc = fdatasync(fd);
        } while (rc != 0 && errno == EINTR);
        uint8_t result = 0;
        if (rc != 0) {
            result = errno > 0 && errno < 256 ? (uint8_t)errno : (uint8_t)EIO;
        }
        if (write_retry(done_fd, result) != 1) {
            _exit(0);
        }
    }
}

int syncer_start(struct syncer *sy, int fd, char errmsg[ERRMSG_LEN])
{
    ASSERT(sy != NULL);
    ASSERT(fd >= 0);
    memset(sy, 0, sizeof *sy);
    sy->ask_fd = sy->done_fd = -1;
    int ask[2];
    int done[2];
    if (pipe2(ask, O_CLOEXEC) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "syncer pipe: %s", strerror(errno));
        return ERR_IO;
    }
    if (pipe2(done, O_CLOEXEC) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "syncer pipe: %s", strerror(errno));
        close(ask[0]);
        close(ask[1]);
        return ERR_IO;
    }
    void *shared = mmap(NULL, sizeof(uint32_t), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sy->delay_ms = shared != MAP_FAILED ? shared : NULL; /* NULL: no
                                                          * delays. */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errmsg, ERRMSG_LEN, "syncer fork: %s", strerror(errno));
        if (sy->delay_ms != NULL) {
            (void)munmap((void *)sy->delay_ms, sizeof(uint32_t));
            sy->delay_ms = NULL;
        }
        close(ask[0]);
        close(ask[1]);
        close(done[0]);
        close(done[1]);
        return ERR_IO;
    }
    if (pid == 0) {
        child_main(parent, fd, ask[0], done[1], sy->delay_ms);
    }
    close(ask[0]);
    close(done[1]);
    sy->pid = pid;
    sy->ask_fd = ask[1];
    sy->done_fd = done[0];
    return ERR_OK;
}

int syncer_ask(struct syncer *sy)
{
    ASSERT(sy != NULL);
    ASSERT(sy->pid > 0);
    ASSERT(!sy->busy);
    /* One byte into an empty pipe never blocks. */
    if (write_retry(sy->ask_fd, 1) != 1) {
        return ERR_IO;
    }
    sy->busy = true;
    return ERR_OK;
}

int syncer_fd(const struct syncer *sy)
{
    return sy->busy ? sy->done_fd : -1;
}

int syncer_finish(struct syncer *sy, char errmsg[ERRMSG_LEN])
{
    ASSERT(sy != NULL);
    ASSERT(sy->busy);
    sy->busy = false;
    uint8_t result;
    ssize_t r = read_retry(sy->done_fd, &result);
    if (r != 1) {
        snprintf(errmsg, ERRMSG_LEN, "the syncer process is gone");
        return ERR_IO;
    }
    if (result != 0) {
        snprintf(errmsg, ERRMSG_LEN, "fdatasync of the WAL: %s",
                 strerror(result));
        return ERR_IO;
    }
    return ERR_OK;
}

void syncer_set_delay_ms(struct syncer *sy, uint32_t ms)
{
    if (sy != NULL && sy->pid > 0 && sy->delay_ms != NULL) {
        *sy->delay_ms = ms;
    }
}

void syncer_stop(struct syncer *sy)
{
    if (sy == NULL || sy->pid <= 0) {
        return;
    }
    syncer_set_delay_ms(sy, 0); /* A child inside a delay wakes up. */
    close(sy->ask_fd);
    close(sy->done_fd);
    pid_t r;
    do {
        r = waitpid(sy->pid, NULL, 0);
    } while (r < 0 && errno == EINTR);
    sy->pid = 0;
    sy->ask_fd = sy->done_fd = -1;
    sy->busy = false;
    if (sy->delay_ms != NULL) {
        (void)munmap((void *)sy->delay_ms, sizeof(uint32_t));
        sy->delay_ms = NULL;
    }
}
