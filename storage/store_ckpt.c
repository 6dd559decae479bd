/*
 * Runs the WAL checkpoint a commit marked due (store_wal.c) in a child
 * process, so the node's loop keeps answering while pages are copied into
 * the database file and fsynced: at 32 KB values a checkpoint copies
 * 32 MiB, a stall of about 100 ms that was the whole p99.9 of a lone
 * client. The child ("raftnode-ckpt") opens its own connection and runs
 * passive checkpoints, which never block the node's writer; SQLite syncs
 * the WAL before copying and the database file after, as for any
 * checkpoint (synchronous=FULL), and only then lets a writer start the
 * WAL again from its beginning. That restart needs every frame copied,
 * and the node commits while the child copies, so the child goes again
 * over what was committed meanwhile until a round finds little
 * (CKPT_HERE_MAX frames) or CKPT_ROUNDS_MAX rounds ran; what is left then
 * is copied from the node's own connection when it is that little, else
 * by another child, and at twice the mark whatever it is. A reader
 * holding an older snapshot (the sqlite3 shell, the snapshot maker) or a
 * failed child leaves the checkpoint due again only CKPT_RETRY_FRAMES
 * later. Not pure: this is the disk. Read storage/session_cache.h next.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/child.h"
#include "common/invariant.h"
#include "storage/store.h"
#include "storage/store_int.h"

/* Frames left for the node's own connection after a child: 128 pages are
 * half a MiB, a few ms to copy and sync. */
#define CKPT_HERE_MAX 128u
/* Frames before a checkpoint that could not finish is due again. */
#define CKPT_RETRY_FRAMES (STORE_CHECKPOINT_PAGES / 8)
/* Checkpoints one child runs at most, each over what the node committed
 * during the one before. */
#define CKPT_ROUNDS_MAX 8

/* What the child sends back: one write, below PIPE_BUF, so atomic. */
struct ckpt_result {
    int32_t rc;     /* SQLite's result code. */
    int32_t n_log;  /* Frames in the WAL when it started. */
    int32_t n_ckpt; /* Frames in the database file when it ended. */
};

bool store_checkpoint_here(struct store *s)
{
    int n_log = -1;
    int n_ckpt = -1;
    int rc = sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE,
                                       &n_log, &n_ckpt);
    if (rc != SQLITE_OK || n_ckpt != n_log) {
        s->ckpt_retry_at = s->wal_frames + CKPT_RETRY_FRAMES;
        return false;
    }
    s->wal_frames = 0; /* The next writer restarts the WAL. */
    s->ckpt_retry_at = 0;
    return true;
}

/* The child: never returns. */
static void ckpt_child(pid_t parent, int fd, const char *db_path)
{
    child_setup(parent, "raftnode-ckpt");
    struct ckpt_result res = {SQLITE_ERROR, -1, -1};
    sqlite3 *db = NULL;
    int unused = 0;
    int rc = sqlite3_open_v2(db_path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        /* Never the last connection while the node runs, but a node that
         * died leaves this one alone: it must not delete the WAL. */
        rc = sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
                               &unused);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    }
    /* Again over what the node committed during the previous round,
     * until a round finds little; stops at a reader in the way. */
    int prev = 0;
    for (int round = 0; rc == SQLITE_OK && round < CKPT_ROUNDS_MAX; round++) {
        int n_log = -1;
        int n_ckpt = -1;
        rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE,
                                       &n_log, &n_ckpt);
        res.n_log = n_log;
        res.n_ckpt = n_ckpt;
        if (rc != SQLITE_OK || n_ckpt != n_log ||
            n_log - prev <= (int)CKPT_HERE_MAX) {
            break;
        }
        prev = n_log;
    }
    res.rc = rc;
    ssize_t w;
    do {
        w = write(fd, &res, sizeof res);
    } while (w < 0 && errno == EINTR);
    _exit(0); /* No atexit handlers, no close of the parent's connection. */
}

/* Forks the child; false when it cannot (then nothing runs). */
static bool ckpt_start(struct store *s)
{
    _Static_assert(sizeof(struct ckpt_result) <= PIPE_BUF, "atomic write");
    /* With no transaction open here, the child inherits no read or write
     * lock in SQLite's per-process lock bookkeeping (snapshot_make.c). */
    if (store_read_end(s) != ERR_OK) {
        return false;
    }
    ASSERT(sqlite3_get_autocommit(s->db) != 0);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        return false;
    }
    if (fcntl(p[0], F_SETFL, O_NONBLOCK) != 0) {
        (void)close(p[0]);
        (void)close(p[1]);
        return false;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        (void)close(p[0]);
        (void)close(p[1]);
        return false;
    }
    if (pid == 0) {
        (void)close(p[0]);
        ckpt_child(parent, p[1], s->path);
    }
    (void)close(p[1]);
    s->ckpt_pid = pid;
    s->ckpt_fd = p[0];
    return true;
}

/* Reads the running child's result, if it is there: false while it runs.
 * A child that copied everything it saw leaves the frames committed since
 * to this connection when they are few (or the WAL is at twice the mark),
 * else to the next child (the checkpoint is still due); one that could
 * not leaves the checkpoint for CKPT_RETRY_FRAMES. */
static bool ckpt_collect(struct store *s)
{
    struct ckpt_result res;
    ssize_t r;
    do {
        r = read(s->ckpt_fd, &res, sizeof res);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EAGAIN) {
        return false;
    }
    child_reap(&s->ckpt_pid, &s->ckpt_fd);
    bool copied = r == (ssize_t)sizeof res && res.rc == SQLITE_OK &&
                  res.n_log >= 0 && res.n_ckpt == res.n_log;
    if (!copied) {
        s->ckpt_retry_at = s->wal_frames + CKPT_RETRY_FRAMES;
        return true;
    }
    /* No writer restarts the WAL before every frame is copied, so the
     * frames the child saw are still the WAL's first ones. */
    uint32_t left = s->wal_frames > (uint32_t)res.n_log
                        ? s->wal_frames - (uint32_t)res.n_log
                        : 0;
    if ((left <= CKPT_HERE_MAX || s->wal_frames >= 2 * STORE_CHECKPOINT_PAGES) &&
        store_read_end(s) == ERR_OK) {
        (void)store_checkpoint_here(s);
    }
    return true;
}

/* Due: at the mark, or later after one that could not finish. */
static bool ckpt_due(const struct store *s)
{
    uint32_t due = s->ckpt_retry_at > STORE_CHECKPOINT_PAGES
                       ? s->ckpt_retry_at
                       : STORE_CHECKPOINT_PAGES;
    return s->wal_frames >= due;
}

void store_checkpoint(struct store *s)
{
    ASSERT(s != NULL);
    if (s->db == NULL || s->in_txn ||
        (s->ckpt_pid > 0 && !ckpt_collect(s))) {
        return;
    }
    /* While a kv digest holds its read lock, a child would inherit this
     * process's record of it as its own: wait for the digest to end. */
    if (!ckpt_due(s) || s->path == NULL || s->n_digests > 0) {
        return;
    }
    if (!ckpt_start(s) && store_read_end(s) == ERR_OK) {
        (void)store_checkpoint_here(s); /* No child: stall rather than grow. */
    }
}

int store_checkpoint_fd(const struct store *s)
{
    ASSERT(s != NULL);
    return s->ckpt_pid > 0 ? s->ckpt_fd : -1;
}

void store_ckpt_close(struct store *s)
{
    if (s->ckpt_pid > 0) {
        /* Waits for the copy (a kill mid-way would be safe too). */
        child_reap(&s->ckpt_pid, &s->ckpt_fd);
    }
}
