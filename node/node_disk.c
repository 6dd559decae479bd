/*
 * A member's disk as the runtime sees it (docs/DISK.md): a sync that has
 * been outstanding past its bound (a hung disk) makes the core leave any
 * leader role (raft_set_disk_ok) until the sync completes; a write that
 * failed for want of space (ERR_NO_SPACE) puts the member in a waiting
 * mode where it answers clients "no space" and status with disk full, and
 * checks the free space every NODE_SPACE_CHECK_MS. When space is back,
 * node/main.c restarts the process in place (same pid), which loads
 * everything durable as any restart does: nothing acknowledged was lost,
 * since nothing is acknowledged before it is synced. Not pure. Read
 * node/node_control.c next.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <sys/statvfs.h>

#include "common/clock.h"
#include "common/log.h"
#include "node/defaults.h"
#include "node/node.h"
#include "node/node_int.h"
#include "node/raft.h"
#include "storage/store.h"

uint32_t node_disk_hung_bound_ms(uint32_t election_ms)
{
    uint64_t bound = (uint64_t)NODE_DISK_HUNG_ELECTIONS * election_ms;
    if (bound < NODE_DISK_HUNG_MIN_MS) {
        bound = NODE_DISK_HUNG_MIN_MS;
    }
    return bound > UINT32_MAX ? UINT32_MAX : (uint32_t)bound;
}

void node_disk_check(struct node *n)
{
    bool busy = log_writer_fd(&n->log_writer) >= 0;
    if (!busy) {
        n->sync_seen_ms = UINT64_MAX;
    } else if (n->sync_seen_ms == UINT64_MAX) {
        n->sync_seen_ms = n->now_ms;
    }
    bool hung = busy && n->now_ms - n->sync_seen_ms >= n->disk_hung_ms;
    if (hung == n->disk_hung) {
        return;
    }
    n->disk_hung = hung;
    if (hung) {
        LOG_WARN("disk hung: a sync has been outstanding for %llu ms (bound "
                 "%u ms); leaving any leader role until it completes",
                 (unsigned long long)(n->now_ms - n->sync_seen_ms),
                 n->disk_hung_ms);
    } else {
        LOG_INFO("disk answers again: the outstanding sync completed");
    }
    replica_set_disk_ok(n->replica, !hung);
}

uint64_t node_disk_deadline(const struct node *n)
{
    if (n->disk_hung || n->sync_seen_ms == UINT64_MAX) {
        return UINT64_MAX;
    }
    return n->sync_seen_ms + n->disk_hung_ms;
}

int node_disk_state(const struct node *n)
{
    if (n->no_space) {
        return STATUS_DISK_FULL;
    }
    return n->disk_hung ? STATUS_DISK_HUNG : STATUS_DISK_OK;
}

uint64_t node_free_bytes(const char *db_path)
{
    char dir[4096];
    const char *slash = strrchr(db_path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == db_path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - db_path), db_path);
    }
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0) {
        return 0;
    }
    return (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
}

void node_reply_no_space(struct node *n, const struct raft_addr *from,
                         const struct msg_client *req)
{
    struct raft_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = MSG_CLIENT_REPLY;
    msg.from = n->id;
    msg.u.client_reply.client_id = req->client_id;
    msg.u.client_reply.seq = req->seq;
    msg.u.client_reply.status = CLIENT_NO_SPACE;
    node_io_reply(n, from, &msg);
}

int node_wait_space(struct node *n)
{
    n->no_space = true;
    LOG_ERROR("no space left on member %llu (%s): not serving; checking "
              "every %u ms for %u MiB free, then restarting in place",
              (unsigned long long)n->id, n->db_path, NODE_SPACE_CHECK_MS,
              (unsigned)(NODE_SPACE_RESUME_BYTES >> 20));
    uint64_t next_check = clock_now_ms();
    for (;;) {
        struct pollfd fds[2];
        memset(fds, 0, sizeof fds);
        fds[0].fd = n->fd;
        fds[0].events = POLLIN;
        fds[1].fd = n->stop_fd;
        fds[1].events = POLLIN;
        uint64_t now = clock_now_ms();
        int timeout = next_check > now ? (int)(next_check - now) : 0;
        int ready = poll(fds, 2, timeout);
        if (ready < 0 && errno != EINTR) {
            LOG_ERROR("fatal: poll: %s", strerror(errno));
            return ERR_IO;
        }
        n->now_ms = clock_now_ms();
        if (ready > 0 && fds[1].revents != 0) {
            LOG_INFO("stopping: signal received (disk still full)");
            return ERR_STOPPED;
        }
        if (ready > 0 && fds[0].revents != 0) {
            (void)node_run_recv(n); /* Routes by n->no_space. */
        }
        if (n->now_ms < next_check) {
            continue;
        }
        next_check = n->now_ms + NODE_SPACE_CHECK_MS;
        uint64_t free_bytes = node_free_bytes(n->db_path);
        if (free_bytes >= NODE_SPACE_RESUME_BYTES) {
            LOG_INFO("space is back on member %llu (%llu MiB free): "
                     "restarting in place",
                     (unsigned long long)n->id,
                     (unsigned long long)(free_bytes >> 20));
            return ERR_OK;
        }
    }
}
