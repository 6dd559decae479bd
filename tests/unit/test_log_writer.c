/*
 * Unit tests of node/log_writer.c over a real store and syncer child: a
 * write only queues; the queue policy writes the queue once it is large
 * or old enough, never while a sync runs; a sync writes the queue before
 * it asks for the fdatasync, and its answer is read back. The queue policy
 * table is in node/log_writer.c (queue_write_is_due), its limits in
 * node/defaults.h.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "node/defaults.h"
#include "node/log_writer.h"
#include "node/raft.h"
#include "storage/store.h"

#define CLUSTER 0x1234u
#define NODE 1
#define QUEUE_BATCH NODE_WRITE_BATCH
#define QUEUE_DELAY_MS NODE_WRITE_DELAY_MS

struct fixture {
    char dir[64];
    char path[128];
    struct store *s;
    struct log_writer lw;
    raft_index last;
    uint8_t data[16];
    struct raft_entry e[QUEUE_BATCH];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_log_writer.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/node1.db", f->dir);
    char em[ERRMSG_LEN];
    assert_int_equal(
        store_open(f->path, CLUSTER, NODE, STORE_OPEN_CREATE, &f->s, em),
        ERR_OK);
    log_writer_init(&f->lw, f->s);
    assert_true(log_writer_is_async(&f->lw));
    memset(f->data, 7, sizeof f->data);
    for (size_t i = 0; i < QUEUE_BATCH; i++) {
        f->e[i] =
            (struct raft_entry){1, RAFT_ENTRY_NOOP, sizeof f->data, f->data};
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    log_writer_close(&f->lw);
    store_close(f->s);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Writes n entries of term 1 after the last, as one ready batch would. */
static void write_entries(struct fixture *f, size_t n)
{
    struct raft_ready rd;
    memset(&rd, 0, sizeof rd);
    rd.has_hard_state = f->last == 0;
    rd.term = 1;
    rd.voted_for = NODE;
    rd.entries_first_index = f->last + 1;
    rd.n_entries = n;
    rd.entries = f->e;
    assert_int_equal(log_writer_write(&f->lw, &rd), ERR_OK);
    f->last += n;
}

/* Waits (up to 10 s) for the sync's answer and reads it. */
static void finish_sync(struct fixture *f)
{
    struct pollfd p = {.fd = log_writer_fd(&f->lw), .events = POLLIN};
    assert_true(p.fd >= 0);
    int r;
    do {
        r = poll(&p, 1, 10000);
    } while (r < 0 && errno == EINTR);
    assert_int_equal(r, 1);
    assert_int_equal(log_writer_on_synced(&f->lw), ERR_OK);
    assert_int_equal(log_writer_fd(&f->lw), -1);
}

/* A few queued entries wait QUEUE_DELAY_MS from the tick that first saw
 * them, then are written; the deadline says when. */
static void test_log_writer_writes_old_queue(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(log_writer_deadline(&f->lw), UINT64_MAX);
    write_entries(f, 3);
    assert_int_equal(store_queued(f->s), 3);
    assert_int_equal(log_writer_tick(&f->lw, 100), ERR_OK);
    assert_int_equal(store_queued(f->s), 3);
    assert_int_equal(log_writer_deadline(&f->lw), 100 + QUEUE_DELAY_MS);
    assert_int_equal(log_writer_tick(&f->lw, 100 + QUEUE_DELAY_MS - 1), ERR_OK);
    assert_int_equal(store_queued(f->s), 3);
    assert_int_equal(log_writer_tick(&f->lw, 100 + QUEUE_DELAY_MS), ERR_OK);
    assert_int_equal(store_queued(f->s), 0);
    assert_int_equal(log_writer_deadline(&f->lw), UINT64_MAX);
}

/* QUEUE_BATCH queued entries are written at once. */
static void test_log_writer_writes_large_queue_at_once(void **state)
{
    struct fixture *f = *state;
    write_entries(f, QUEUE_BATCH - 1);
    assert_int_equal(log_writer_tick(&f->lw, 100), ERR_OK);
    assert_int_equal(store_queued(f->s), QUEUE_BATCH - 1);
    write_entries(f, 1);
    assert_int_equal(log_writer_tick(&f->lw, 100), ERR_OK);
    assert_int_equal(store_queued(f->s), 0);
}

/* A sync writes the queue before asking; what is queued while it runs
 * waits for the next ask, however old, and is due again once it ends. */
static void test_log_writer_sync_writes_queue_then_asks(void **state)
{
    struct fixture *f = *state;
    write_entries(f, 2);
    assert_int_equal(log_writer_sync(&f->lw), ERR_OK);
    assert_int_equal(store_queued(f->s), 0);
    assert_true(log_writer_fd(&f->lw) >= 0);
    write_entries(f, QUEUE_BATCH);
    assert_int_equal(log_writer_tick(&f->lw, 100), ERR_OK);
    assert_int_equal(log_writer_tick(&f->lw, 1000), ERR_OK);
    assert_int_equal(store_queued(f->s), QUEUE_BATCH);
    assert_int_equal(log_writer_deadline(&f->lw), UINT64_MAX);
    finish_sync(f);
    assert_int_equal(log_writer_deadline(&f->lw), 100 + QUEUE_DELAY_MS);
    assert_int_equal(log_writer_tick(&f->lw, 1000), ERR_OK);
    assert_int_equal(store_queued(f->s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_writer_writes_old_queue, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_log_writer_writes_large_queue_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_log_writer_sync_writes_queue_then_asks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
