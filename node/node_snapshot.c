/*
 * raftnode's snapshot binding (see node_snapshot.h): struct replica_io's
 * snapshot ops over storage/. The leader's image is made by a forked child
 * (storage/snapshot_make.h) into DIR/node<ID>.snap and read with pread;
 * the follower stages chunks and installs through storage/store_snapshot.c;
 * compaction records the point at once and deletes in short steps after a
 * wakeup's answers. Errors get one log line. Read node/node.c next.
 */
#include "node/node_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/invariant.h"
#include "common/log.h"
#include "common/udp.h"
#include "node/defaults.h"
#include "node/node_int.h"
#include "node/raft.h"
#include "node/replica.h"
#include "storage/store.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* "voters 1,2,3" from the cluster file (DESIGN.md, Membership). */
static void config_text(const struct conf *conf, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "voters ");
    for (uint32_t i = 0; i < conf->n_members && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%llu", i > 0 ? "," : "",
                         ull(conf->members[i].id));
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
}

/* DIR/node<ID>.db -> DIR/node<ID>.snap (else <db>.snap). */
static int image_path(const char *db_path, char *out, size_t cap)
{
    size_t len = strlen(db_path);
    if (len >= 3 && strcmp(db_path + len - 3, ".db") == 0) {
        len -= 3;
    }
    int w = snprintf(out, cap, "%.*s.snap", (int)len, db_path);
    return w < 0 || (size_t)w >= cap ? ERR_TOO_BIG : ERR_OK;
}

void node_snapshot_init(struct node *n)
{
    memset(&n->snap, 0, sizeof n->snap);
    n->snap.image_fd = -1;
    n->snap.make.result_fd = -1;
}

int node_snapshot_open(struct node *n, const char *db_path, uint32_t log_keep,
                       char errmsg[ERRMSG_LEN])
{
    struct node_snapshot *ns = &n->snap;
    ASSERT(ns->make.pid == 0);
    ns->log_keep = log_keep;
    config_text(&n->conf, ns->config, sizeof ns->config);
    /* A snapshot keeps the configuration it was taken with. */
    if (store_snapshot_config(n->store, ns->config, sizeof ns->config) !=
        ERR_OK) {
        config_text(&n->conf, ns->config, sizeof ns->config);
    }
    if (image_path(db_path, ns->image_path, sizeof ns->image_path) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%.200s: path too long", db_path);
        return ERR_TOO_BIG;
    }
    raft_index index = 0;
    raft_term term = 0;
    store_snapshot_point(n->store, &index, &term);
    if (index == 0) {
        return ERR_OK;
    }
    /* The point again re-arms the deletes a restart forgot. */
    int rv = store_compact(n->store, index, term, ns->config, log_keep);
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "cannot re-arm compaction at %llu: %.150s",
                 ull(index), store_errmsg(n->store));
    }
    return rv;
}

/* --- Leader: the image ------------------------------------------------- */

/* Starts the image child unless one runs or a failure is recent. */
static void image_start(struct node *n)
{
    struct node_snapshot *ns = &n->snap;
    if (ns->make.pid != 0 || n->now_ms < ns->retry_ms) {
        return;
    }
    char em[ERRMSG_LEN] = "";
    node_members_text_at(n, raft_applied_index(replica_raft(n->replica)),
                         ns->config, sizeof ns->config);
    int rv = snapshot_make_start(&ns->make, n->store, ns->image_path,
                                 ns->config, em);
    if (rv != ERR_OK) {
        LOG_WARN("cannot start the snapshot image: %s", em);
        ns->retry_ms = n->now_ms + NODE_SNAPSHOT_RETRY_MS;
        return;
    }
    ns->make_started_ms = n->now_ms;
    LOG_DEBUG("snapshot image started path=%s", ns->image_path);
}

/* Opens the made image as the one handed out; false (logged) on failure. */
static bool image_take(struct node *n)
{
    struct node_snapshot *ns = &n->snap;
    int fd = open(ns->image_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        LOG_WARN("cannot open snapshot image %s: %s", ns->image_path,
                 strerror(errno));
        return false;
    }
    if (ns->image_fd >= 0) {
        close(ns->image_fd);
    }
    ns->image_fd = fd;
    ns->image_index = ns->made.index;
    ns->image_size = ns->made.size;
    return true;
}

/* replica_io.snapshot_open: the finished image if it still reaches the
 * log, else a new child (ERR_AGAIN until it answers). */
static int node_io_snapshot_open(void *ctx, raft_index *index, uint64_t *size)
{
    struct node *n = ctx;
    struct node_snapshot *ns = &n->snap;
    if (ns->has_made) {
        ns->has_made = false;
        const struct raft *r = replica_raft(n->replica);
        if (ns->made.index + 1 >= raft_first_index(r) &&
            ns->made.index <= raft_commit_index(r) &&
            raft_term_at(r, ns->made.index) == ns->made.term && image_take(n)) {
            *index = ns->image_index;
            *size = ns->image_size;
            return ERR_OK;
        }
    }
    image_start(n);
    return ERR_AGAIN;
}

int node_snapshot_fd(const struct node *n)
{
    return snapshot_make_fd(&n->snap.make);
}

int node_snapshot_on_made(struct node *n, char em[ERRMSG_LEN])
{
    struct node_snapshot *ns = &n->snap;
    struct snapshot_make_info info;
    memset(&info, 0, sizeof info);
    int rv = snapshot_make_finish(&ns->make, &info, em);
    if (rv == ERR_DAMAGED) {
        return rv;
    }
    if (rv != ERR_OK) {
        LOG_WARN("snapshot image failed: %s (%s)", err_str(rv), em);
        ns->retry_ms = n->now_ms + NODE_SNAPSHOT_RETRY_MS;
        return ERR_OK;
    }
    ns->made = info;
    ns->has_made = true;
    LOG_INFO("snapshot image made index=%llu term=%llu bytes=%llu ms=%llu",
             ull(info.index), ull(info.term), ull(info.size),
             ull(n->now_ms - ns->make_started_ms));
    return ERR_OK;
}

/* replica_io.snapshot_read: pread of the image handed out at index. */
static int node_io_snapshot_read(void *ctx, raft_index index, uint64_t offset,
                                 uint8_t *buf, uint32_t len)
{
    struct node *n = ctx;
    struct node_snapshot *ns = &n->snap;
    if (ns->image_fd < 0 || index != ns->image_index ||
        offset > ns->image_size || len > ns->image_size - offset) {
        return ERR_NOT_FOUND;
    }
    uint32_t done = 0;
    while (done < len) {
        ssize_t k =
            pread(ns->image_fd, buf + done, len - done, (off_t)(offset + done));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            LOG_WARN("cannot read snapshot image %s at %llu: %s",
                     ns->image_path, ull(offset + done),
                     k < 0 ? strerror(errno) : "short file");
            return ERR_NOT_FOUND;
        }
        done += (uint32_t)k;
    }
    return ERR_OK;
}

/* --- Follower: staging and install ------------------------------------ */

/* replica_io.snapshot_stage. Storage keeps only a contiguous prefix, so a
 * chunk it did not write (past a gap) is an error: it comes again. */
static int node_io_snapshot_stage(void *ctx, const struct msg_snapshot *c)
{
    struct node *n = ctx;
    if (c->offset == 0) {
        store_snapshot_discard(n->store); /* The contract: start over. */
        LOG_INFO("receiving snapshot index=%llu term=%llu bytes=%llu",
                 ull(c->last_index), ull(c->last_term), ull(c->size));
    }
    uint64_t received = 0;
    int rv = store_snapshot_stage(n->store, c->last_index, c->last_term,
                                  c->offset, c->data, c->len, &received);
    if (rv != ERR_OK) {
        LOG_WARN("cannot stage snapshot chunk offset=%llu: %s (%s)",
                 ull(c->offset), err_str(rv), store_errmsg(n->store));
        return rv;
    }
    return received >= c->offset + c->len ? ERR_OK : ERR_AGAIN;
}

/* replica_io.snapshot_staged: the prefix of (index, term) that the
 * staging file holds, left by an earlier run (store_snapshot_staged). */
static int node_io_snapshot_staged(void *ctx, raft_index index, raft_term term,
                                   uint64_t *received)
{
    struct node *n = ctx;
    raft_index staged_index = 0;
    raft_term staged_term = 0;
    uint64_t staged = 0;
    int rv =
        store_snapshot_staged(n->store, &staged_index, &staged_term, &staged);
    if (rv != ERR_OK) {
        LOG_WARN("cannot read the snapshot staging: %s (%s)", err_str(rv),
                 store_errmsg(n->store));
        return rv;
    }
    bool is_same = staged_index == index && staged_term == term;
    *received = is_same ? staged : 0;
    if (*received > 0) {
        LOG_INFO("resuming snapshot index=%llu term=%llu at offset=%llu",
                 ull(index), ull(term), ull(staged));
    }
    return ERR_OK;
}

/* replica_io.snapshot_install. Storage keeps the suffix when its row at
 * index has term; the core decides, so a drop it asks for is done here
 * too. ERR_CORRUPT: nothing changed, the transfer starts over. */
static int node_io_snapshot_install(void *ctx, raft_index index, raft_term term,
                                    bool keep_log)
{
    struct node *n = ctx;
    int rv = store_snapshot_install(n->store, index, term);
    if (rv == ERR_CORRUPT || rv == ERR_NOT_FOUND || rv == ERR_INVALID) {
        /* Not resumed again: the next transfer starts from 0. */
        store_snapshot_discard(n->store);
        LOG_WARN("snapshot index=%llu term=%llu refused: %s (%s); nothing "
                 "changed, it is sent again",
                 ull(index), ull(term), err_str(rv), store_errmsg(n->store));
        return ERR_CORRUPT;
    }
    if (rv != ERR_OK) {
        LOG_ERROR("cannot install snapshot index=%llu: %s (%s)", ull(index),
                  err_str(rv), store_errmsg(n->store));
        return rv;
    }
    if (!keep_log) {
        struct raft_ready rd;
        memset(&rd, 0, sizeof rd);
        rd.truncate_from = index + 1;
        rv = log_writer_write(&n->log_writer, &rd);
        if (rv != ERR_OK) {
            LOG_ERROR("cannot drop the log after snapshot %llu: %s", ull(index),
                      err_str(rv));
            return rv;
        }
    }
    n->snap.n_installed++;
    char text[MEMBERSHIP_TEXT_MAX];
    if (store_snapshot_config(n->store, text, sizeof text) == ERR_OK) {
        replica_snapshot_config(n->replica, (const uint8_t *)text,
                                (uint32_t)strlen(text));
    }
    LOG_INFO("installed snapshot index=%llu term=%llu log=%s count=%llu",
             ull(index), ull(term), keep_log ? "kept" : "dropped",
             ull(n->snap.n_installed));
    return ERR_OK;
}

/* --- Compaction ------------------------------------------------------- */

/* replica_io.compact: records the point now; node_snapshot_step deletes. */
static int node_io_compact(void *ctx, const struct replica_compaction *c)
{
    struct node *n = ctx;
    ASSERT(c->log_upto <= c->point);
    node_members_text_at(n, c->point, n->snap.config, sizeof n->snap.config);
    int rv = store_compact(n->store, c->point, c->point_term, n->snap.config,
                           c->point - c->log_upto);
    if (rv != ERR_OK) {
        LOG_ERROR("cannot compact at %llu: %s (%s)", ull(c->point), err_str(rv),
                  store_errmsg(n->store));
        return rv;
    }
    LOG_INFO("compacted point=%llu term=%llu log deleted up to %llu",
             ull(c->point), ull(c->point_term), ull(c->log_upto));
    return ERR_OK;
}

void node_snapshot_bind(struct replica_io *io)
{
    io->snapshot_open = node_io_snapshot_open;
    io->snapshot_read = node_io_snapshot_read;
    io->snapshot_stage = node_io_snapshot_stage;
    io->snapshot_staged = node_io_snapshot_staged;
    io->snapshot_install = node_io_snapshot_install;
    io->compact = node_io_compact;
}

bool node_snapshot_is_busy(const struct node *n)
{
    return store_compact_pending(n->store) || n->snap.n_waiters > 0;
}

/* Answers the waiting compact requests. */
static void answer_waiters(struct node *n, bool ok)
{
    struct node_snapshot *ns = &n->snap;
    for (uint32_t i = 0; i < ns->n_waiters; i++) {
        struct raft_msg msg;
        memset(&msg, 0, sizeof msg);
        msg.type = MSG_FAULT_REPLY;
        msg.from = n->id;
        msg.u.fault_reply.ok = ok;
        node_io_reply(n, &ns->waiters[i], &msg);
    }
    ns->n_waiters = 0;
}

void node_snapshot_step(struct node *n)
{
    struct node_snapshot *ns = &n->snap;
    for (int i = 0; i < NODE_COMPACT_STEPS && store_compact_pending(n->store);
         i++) {
        size_t deleted = 0;
        int rv =
            store_compact_step(n->store, STORE_COMPACT_STEP_ROWS, &deleted);
        if (rv != ERR_OK) {
            /* Retried at the next wakeup: the rows are only history. */
            if (++ns->n_step_errors <= NODE_DROP_WARN_MAX) {
                LOG_WARN("compaction delete failed: %s (%s)", err_str(rv),
                         store_errmsg(n->store));
            }
            answer_waiters(n, false);
            return;
        }
    }
    if (!store_compact_pending(n->store)) {
        answer_waiters(n, true);
    }
}

int node_snapshot_on_compact(struct node *n, const struct raft_addr *from)
{
    struct node_snapshot *ns = &n->snap;
    if (!udp_addr_is_loopback(from)) {
        node_drop(n, DROP_FAULT_REFUSED, from);
        return ERR_OK;
    }
    int rv = replica_compact_now(n->replica);
    if (rv != ERR_OK) {
        return rv;
    }
    for (uint32_t i = 0; i < ns->n_waiters; i++) {
        if (udp_addr_equal(&ns->waiters[i], from)) {
            return ERR_OK; /* A resend: answered with the first. */
        }
    }
    if (ns->n_waiters == NODE_SNAPSHOT_WAITERS_MAX) {
        answer_waiters(n, false);
    }
    ns->waiters[ns->n_waiters++] = *from;
    LOG_INFO("compact requested: log starts at %llu",
             ull(raft_first_index(replica_raft(n->replica))));
    return ERR_OK;
}

void node_snapshot_close(struct node *n)
{
    struct node_snapshot *ns = &n->snap;
    snapshot_make_cancel(&ns->make);
    if (ns->image_fd >= 0) {
        close(ns->image_fd);
        ns->image_fd = -1;
    }
}
