/*
 * The raftnode runtime: a single-threaded poll() loop over one UDP socket,
 * a stop pipe and the syncer's answer pipe. Each wakeup reads the clock
 * once, takes a finished sync, drains a bounded number of datagrams
 * (decode, validate the sender, route; status, fault and trace requests go
 * to node/node_control.c), sends due delayed datagrams, ticks the replica
 * when due and drains it once; each message the replica sends is recorded
 * for trace viewers when there are any (node/trace.h). The replica's io table is bound here to wire +
 * netem + udp (send, reply), to node/log_writer.c (persist, sync) and to
 * storage/ (kv). A failed persist, sync or apply stops the node: memory
 * must never disagree with disk. Read node/replica.c next.
 */
#include "node/node.h"
#include "node/node_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/invariant.h"
#include "common/log.h"
#include "common/udp.h"
#include "common/wire.h"
#include "node/defaults.h"
#include "node/kv_pacer.h"
#include "node/log_writer.h"
#include "node/netem.h"
#include "node/node_check.h"
#include "node/node_kv.h"
#include "node/node_snapshot.h"
#include "node/raft.h"
#include "node/replica.h"
#include "storage/store.h"

static const char *const drop_names[DROP__COUNT] = {
    [DROP_MALFORMED] = "malformed",
    [DROP_WRONG_CLUSTER] = "wrong cluster",
    [DROP_WRONG_VERSION] = "wrong version",
    [DROP_UNKNOWN_SENDER] = "unknown sender",
    [DROP_WRONG_ADDRESS] = "wrong address",
    [DROP_NOT_FOR_US] = "not for us",
    [DROP_FAULT_REFUSED] = "fault control refused",
    [DROP_OVERLOAD] = "overload",
    [DROP_NETEM] = "netem",
    [DROP_BAD_TAG] = "bad_tag",
    [DROP_REPLAY] = "replay",
    [DROP_WRONG_KEY_TYPE] = "wrong_key_type",
};

/* Counts a dropped datagram; the first few of each reason at WARN. */
void node_drop(struct node *n, int reason, const struct raft_addr *from)
{
    ASSERT(reason >= 0 && reason < DROP__COUNT);
    n->drops[reason]++;
    if (reason == DROP_NETEM) {
        return; /* Injected on purpose; status shows the count. */
    }
    char where[64] = "-";
    if (from != NULL) {
        udp_addr_format(from, where, sizeof where);
    }
    if (n->drops[reason] <= NODE_DROP_WARN_MAX) {
        LOG_WARN("dropped datagram from %s: %s (count=%llu%s)", where,
                 drop_names[reason], (unsigned long long)n->drops[reason],
                 n->drops[reason] == NODE_DROP_WARN_MAX
                     ? ", further drops of this kind at DEBUG"
                     : "");
    } else {
        LOG_DEBUG("dropped datagram from %s: %s (count=%llu)", where,
                  drop_names[reason], (unsigned long long)n->drops[reason]);
    }
}

/* --- Log prefix and node-level INFO lines ------------------------------ */

/* Keeps "n<ID> t<TERM> <role>" current and logs leader changes and commit
 * progress (rate-limited). Safe to call from the trace callback. */
static void node_refresh_prefix(struct node *n)
{
    if (n->replica == NULL) {
        return;
    }
    const struct raft *r = replica_raft(n->replica);
    int role = raft_role(r);
    raft_term term = raft_current_term(r);
    if (role != n->shown_role || term != n->shown_term) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "n%llu t%llu %s",
                 (unsigned long long)n->id, (unsigned long long)term,
                 raft_role_name(role));
        log_set_prefix(prefix);
        n->shown_role = role;
        n->shown_term = term;
    }
}

static void node_log_progress(struct node *n)
{
    /* Leader changes are in the core's trace ("leader is n2"). */
    const struct raft *r = replica_raft(n->replica);
    raft_index commit = raft_commit_index(r);
    if (commit != n->shown_commit &&
        n->now_ms >= n->commit_logged_ms + NODE_COMMIT_LOG_MS) {
        LOG_INFO("commit advanced to %llu (from %llu) last=%llu applied=%llu",
                 (unsigned long long)commit,
                 (unsigned long long)n->shown_commit,
                 (unsigned long long)raft_last_index(r),
                 (unsigned long long)raft_applied_index(r));
        n->shown_commit = commit;
        n->commit_logged_ms = n->now_ms;
    }
}

/* The core starts each trace line with "t<term> <role> ", which the log
 * prefix already shows: skip it. */
static const char *trace_body(const char *line)
{
    const char *p = line;
    if (*p != 't') {
        return line;
    }
    p++;
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    if (p == line + 1 || *p != ' ') {
        return line;
    }
    const char *space = strchr(p + 1, ' ');
    return space != NULL ? space + 1 : line;
}

static void node_trace(void *ctx, int level, const char *line)
{
    struct node *n = ctx;
    node_refresh_prefix(n);
    line = trace_body(line);
    if (level == RAFT_TRACE_ERROR) {
        LOG_ERROR("%s", line);
    } else if (level == RAFT_TRACE_INFO) {
        LOG_INFO("%s", line);
    } else {
        LOG_DEBUG("%s", line);
    }
}

/* --- The replica's io table -------------------------------------------- */

static void node_send_now(struct node *n, raft_id to, const uint8_t *buf,
                          size_t len)
{
    int slot = conf_member_index(&n->conf, to);
    if (slot < 0) {
        return;
    }
    int rv = udp_send(n->fd, &n->addrs[slot], buf, len);
    if (rv == ERR_AGAIN) {
        n->send_again++;
    } else if (rv != ERR_OK) {
        LOG_DEBUG("send to %llu failed: %s", (unsigned long long)to,
                  err_str(rv));
    }
}

static void node_io_send(void *ctx, const struct raft_msg *msg)
{
    struct node *n = ctx;
    if (conf_member_index(&n->conf, msg->to) < 0) {
        LOG_ERROR("core sent to non-member %llu", (unsigned long long)msg->to);
        return;
    }
    size_t len = 0;
    int rv = wire_encode(msg, n->conf.cluster_id, n->tx_buf, RAFT_DATAGRAM_MAX,
                         &len);
    if (rv != ERR_OK) {
        LOG_ERROR("cannot encode message type=%u to %llu: %s",
                  (unsigned)msg->type, (unsigned long long)msg->to,
                  err_str(rv));
        return;
    }
    if (trace_on(&n->trace)) {
        trace_record(&n->trace, n->now_ms, msg, len);
    }
    struct netem_verdict v;
    netem_on_send(&n->netem, n->now_ms, msg->to, n->tx_buf, len, &v);
    n->drops[DROP_NETEM] += v.n_dropped;
    for (uint32_t i = 0; i < v.n_now; i++) {
        node_send_now(n, msg->to, n->tx_buf, len);
    }
}

/* Encodes a reply into n->tx_buf; false (logged) when it cannot be. */
static bool node_encode_reply(struct node *n, const struct raft_msg *msg,
                              size_t *len)
{
    int rv =
        wire_encode(msg, n->conf.cluster_id, n->tx_buf, RAFT_DATAGRAM_MAX, len);
    if (rv != ERR_OK) {
        LOG_ERROR("cannot encode reply type=%u: %s", (unsigned)msg->type,
                  err_str(rv));
        return false;
    }
    return true;
}

void node_io_reply(void *ctx, const struct raft_addr *to,
                   const struct raft_msg *msg)
{
    struct node *n = ctx;
    size_t len = 0;
    if (!node_encode_reply(n, msg, &len)) {
        return;
    }
    int rv = udp_send(n->fd, to, n->tx_buf, len);
    if (rv == ERR_AGAIN) {
        n->send_again++;
    } else if (rv != ERR_OK) {
        LOG_DEBUG("reply failed: %s", err_str(rv));
    }
}

/* Sends the client replies queued so far. */
static void node_send_outbox(struct node *n)
{
    uint64_t again = n->outbox.n_again;
    outbox_send(&n->outbox);
    n->send_again += n->outbox.n_again - again;
}

/* Queues a client reply: the replies of one applied batch to one address
 * go out as one datagram (common/outbox.h) once the replica says the batch
 * is answered (node_io_replies_done), else at the end of the wakeup. */
static void node_io_client_reply(void *ctx, const struct raft_addr *to,
                                 const struct raft_msg *msg)
{
    struct node *n = ctx;
    ASSERT(msg->type == MSG_CLIENT_REPLY);
    size_t len = 0;
    if (node_encode_reply(n, msg, &len)) {
        outbox_add(&n->outbox, to, n->tx_buf, len);
    }
}

static void node_io_replies_done(void *ctx)
{
    node_send_outbox(ctx);
}

static int node_io_persist(void *ctx, const struct raft_ready *rd)
{
    struct node *n = ctx;
    return log_writer_write(&n->log_writer, rd);
}

static int node_io_sync(void *ctx)
{
    struct node *n = ctx;
    return log_writer_sync(&n->log_writer);
}

/* --- Datagram intake ------------------------------------------------- */

/* Peer messages only from a member other than us, at its configured
 * address, addressed to us (DESIGN.md, Protocol), and plausible. */
static int node_on_peer(struct node *n, const struct raft_addr *from,
                        const struct raft_msg *msg)
{
    if (msg->to != n->id) {
        node_drop(n, DROP_NOT_FOR_US, from);
        return ERR_OK;
    }
    int slot = conf_member_index(&n->conf, msg->from);
    if (slot < 0 || msg->from == n->id) {
        node_drop(n, DROP_UNKNOWN_SENDER, from);
        return ERR_OK;
    }
    if (!udp_addr_equal(from, &n->addrs[slot])) {
        node_drop(n, DROP_WRONG_ADDRESS, from);
        return ERR_OK;
    }
    if (!raft_msg_is_plausible(replica_raft(n->replica), msg)) {
        node_drop(n, DROP_MALFORMED, from);
        return ERR_OK;
    }
    if (netem_blocks(&n->netem, msg->from)) {
        node_drop(n, DROP_NETEM, from);
        return ERR_OK;
    }
    return replica_on_message(n->replica, n->now_ms, msg);
}

/* Hands one client request to the replica. Errors: fatal ones. */
static int node_on_client(struct node *n, const struct raft_addr *from,
                          const struct msg_client *req)
{
    if (n->no_space) {
        node_reply_no_space(n, from, req);
        return ERR_OK;
    }
    int rv = replica_on_client(n->replica, n->now_ms, from, req);
    if (rv == ERR_AGAIN) {
        node_drop(n, DROP_OVERLOAD, from);
        return ERR_OK;
    }
    return rv;
}

/* The client requests inside a batch, each as if it came alone; an item
 * that is not a client request of this cluster is dropped. Errors: fatal
 * ones. */
static int node_on_batch(struct node *n, const struct raft_addr *from,
                         const struct msg_batch *batch)
{
    uint32_t pos = 0;
    const uint8_t *item;
    uint32_t item_len;
    while (wire_batch_next(batch, &pos, &item, &item_len)) {
        struct raft_msg inner;
        int rv =
            wire_decode(item, item_len, n->conf.cluster_id, &inner, n->scratch);
        if (rv != ERR_OK || inner.type != MSG_CLIENT) {
            node_drop(n, DROP_MALFORMED, from);
            continue;
        }
        rv = node_on_client(n, from, &inner.u.client);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    return ERR_OK;
}

/* Routes one decoded datagram. Errors: fatal replica errors only. */
static int node_route(struct node *n, const struct raft_addr *from,
                      const struct raft_msg *msg)
{
    if (msg_type_is_peer(msg->type)) {
        /* Waiting for space: the member takes no part (a restart will). */
        return n->no_space ? ERR_OK : node_on_peer(n, from, msg);
    }
    switch (msg->type) {
    case MSG_CLIENT:
        return node_on_client(n, from, &msg->u.client);
    case MSG_CLIENT_BATCH:
        return node_on_batch(n, from, &msg->u.batch);
    case MSG_STATUS:
        node_on_status(n, from, msg);
        return ERR_OK;
    case MSG_CHECK:
        node_check_on_request(n, from, msg);
        return ERR_OK;
    case MSG_TRACE:
        node_on_trace(n, from, msg);
        return ERR_OK;
    case MSG_FAULT:
        if (msg->u.fault.action == FAULT_COMPACT && !n->no_space) {
            return node_snapshot_on_compact(n, from);
        }
        if (msg->u.fault.action == FAULT_MEMBER) {
            node_on_member(n, from, msg);
            return ERR_OK;
        }
        node_on_fault(n, from, msg);
        return ERR_OK;
    default:
        node_drop(n, DROP_NOT_FOR_US, from); /* A reply type: not ours. */
        return ERR_OK;
    }
}

int node_run_recv(struct node *n)
{
    for (int i = 0; i < NODE_RECV_PER_WAKEUP; i++) {
        size_t len = 0;
        struct raft_addr from;
        memset(&from, 0, sizeof from);
        int rv = udp_recv(n->fd, n->rx_buf, RAFT_DATAGRAM_MAX, &len, &from);
        if (rv == ERR_AGAIN) {
            return ERR_OK;
        }
        if (rv == ERR_TOO_BIG) {
            node_drop(n, DROP_MALFORMED, &from);
            continue;
        }
        if (rv != ERR_OK) {
            LOG_WARN("receive failed: %s", err_str(rv));
            return ERR_OK;
        }
        struct raft_msg msg;
        memset(&msg, 0, sizeof msg);
        rv = wire_decode(n->rx_buf, len, n->conf.cluster_id, &msg, n->scratch);
        if (rv != ERR_OK) {
            node_drop(n,
                      rv == ERR_WRONG_CLUSTER   ? DROP_WRONG_CLUSTER
                      : rv == ERR_WRONG_VERSION ? DROP_WRONG_VERSION
                                                : DROP_MALFORMED,
                      &from);
            continue;
        }
        rv = node_route(n, &from, &msg);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    return ERR_OK;
}

/* Sends delayed datagrams whose time has come. */
static void node_run_netem(struct node *n)
{
    raft_id to = 0;
    size_t len = 0;
    for (int i = 0; i < NETEM_QUEUE_MAX; i++) {
        if (!netem_pop_due(&n->netem, n->now_ms, &to, n->tx_buf,
                           RAFT_DATAGRAM_MAX, &len)) {
            return;
        }
        node_send_now(n, to, n->tx_buf, len);
    }
}

/* --- The loop ------------------------------------------------------- */

/* Milliseconds poll() may sleep: until the replica's, netem's or the log
 * writer's next deadline, capped so a stuck clock never hides a stop
 * request. */
static int node_poll_timeout(const struct node *n, uint64_t now_ms)
{
    uint64_t deadline = replica_deadline(n->replica);
    uint64_t due = netem_next_due(&n->netem);
    if (due < deadline) {
        deadline = due;
    }
    due = log_writer_deadline(&n->log_writer);
    if (due < deadline) {
        deadline = due;
    }
    due = node_disk_deadline(n);
    if (due < deadline) {
        deadline = due;
    }
    due = trace_deadline(&n->trace);
    if (due < deadline) {
        deadline = due;
    }
    if (deadline <= now_ms || node_snapshot_is_busy(n)) {
        return 0;
    }
    uint64_t wait = deadline - now_ms;
    return wait > NODE_POLL_MS_MAX ? NODE_POLL_MS_MAX : (int)wait;
}

/* One wakeup's work after poll(): inputs, delayed sends, timers, one
 * drain, then a step of compaction and of a kv digest. Errors: fatal
 * (ERR_STOPPED, ERR_NOMEM, ERR_DAMAGED). */
static int node_run_once(struct node *n, bool readable, bool synced)
{
    int rv = ERR_OK;
    if (synced) {
        rv = log_writer_on_synced(&n->log_writer);
        if (rv != ERR_OK) {
            return rv;
        }
        rv = replica_on_synced(n->replica, n->now_ms);
    }
    node_disk_check(n);
    if (rv == ERR_OK && readable) {
        rv = node_run_recv(n);
    }
    node_run_netem(n);
    if (rv == ERR_OK && n->now_ms >= raft_deadline(replica_raft(n->replica))) {
        rv = replica_tick(n->replica, n->now_ms);
    }
    if (rv == ERR_OK) {
        rv = replica_drain(n->replica, n->now_ms);
    }
    if (rv == ERR_OK) {
        node_members_sync(n);
        rv = log_writer_tick(&n->log_writer, n->now_ms);
    }
    node_send_outbox(n);
    if (trace_on(&n->trace)) {
        node_trace_flush(n);
    }
    /* After the answers: the checkpoint runs in a child, but its last few
     * frames are copied here, and inside a kv store that would also
     * shrink the pacer's next store. */
    store_checkpoint(n->store);
    node_snapshot_step(n);
    if (rv == ERR_OK) {
        rv = node_check_step(n);
    }
    node_refresh_prefix(n);
    if (rv != ERR_OK) {
        return rv;
    }
    node_log_progress(n);
    return ERR_OK;
}

int node_run(struct node *n)
{
    ASSERT(n != NULL);
    for (;;) {
        struct pollfd fds[5];
        memset(fds, 0, sizeof fds);
        fds[0].fd = n->fd;
        fds[0].events = POLLIN;
        fds[1].fd = n->stop_fd; /* poll() skips a negative fd. */
        fds[1].events = POLLIN;
        fds[2].fd = log_writer_fd(&n->log_writer);
        fds[2].events = POLLIN;
        fds[3].fd = node_snapshot_fd(n);
        fds[3].events = POLLIN;
        fds[4].fd = store_checkpoint_fd(n->store); /* Its result: the
                                                    * wakeup collects it. */
        fds[4].events = POLLIN;
        nfds_t nfds = 5;
        int timeout = node_poll_timeout(n, clock_now_ms());
        int ready = poll(fds, nfds, timeout);
        if (ready < 0 && errno != EINTR) {
            LOG_ERROR("fatal: poll: %s", strerror(errno));
            return ERR_IO;
        }
        n->now_ms = clock_now_ms();
        if (ready > 0 && fds[1].revents != 0) {
            LOG_INFO("stopping: signal received");
            if (replica_store(n->replica) != ERR_OK) {
                LOG_ERROR("fatal: kv flush failed: %s", store_errmsg(n->store));
                return ERR_IO;
            }
            return ERR_OK;
        }
        bool readable = ready > 0 && fds[0].revents != 0;
        bool synced = ready > 0 && fds[2].fd >= 0 && fds[2].revents != 0;
        char em[ERRMSG_LEN] = "";
        int rv = ERR_OK;
        if (ready > 0 && fds[3].fd >= 0 && fds[3].revents != 0) {
            rv = node_snapshot_on_made(n, em);
        }
        if (rv == ERR_OK) {
            rv = node_run_once(n, readable, synced);
            /* The replica reports any store failure as ERR_STOPPED. */
            if (rv != ERR_OK && store_damage(n->store) != NULL) {
                snprintf(em, sizeof em, "%s", store_damage(n->store));
                rv = ERR_DAMAGED;
            }
        }
        if (rv == ERR_DAMAGED) {
            /* Nothing more is served or sent from this file. */
            LOG_ERROR("stopping: %s; this member is damaged", em);
            return rv;
        }
        if (rv != ERR_OK && store_no_space(n->store)) {
            LOG_ERROR("no space left on member %llu (%s): %s",
                      (unsigned long long)n->id, n->db_path,
                      store_errmsg(n->store));
            return ERR_NO_SPACE;
        }
        if (rv != ERR_OK) {
            LOG_ERROR("fatal: %s; stopping (fail-stop); last storage "
                      "error: %s",
                      err_str(rv), store_errmsg(n->store));
            return rv;
        }
    }
}

/* --- Open and close --------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Resolves every member and binds our own address. */
static int node_open_net(struct node *n, const char *config_path,
                         char errmsg[ERRMSG_LEN])
{
    char em[ERRMSG_LEN];
    int self = conf_member_index(&n->conf, n->id);
    if (self < 0) {
        snprintf(errmsg, ERRMSG_LEN, "node %llu is not in %.200s",
                 (unsigned long long)n->id, base_name(config_path));
        return ERR_NOT_FOUND;
    }
    for (uint32_t i = 0; i < n->conf.n_members; i++) {
        const struct conf_member *m = &n->conf.members[i];
        int rv = udp_resolve(m->host, m->port, &n->addrs[i], em);
        if (rv != ERR_OK) {
            snprintf(errmsg, ERRMSG_LEN, "%.64s: member %llu: %.160s",
                     base_name(config_path), (unsigned long long)m->id, em);
            return rv;
        }
    }
    udp_addr_format(&n->addrs[self], n->self_addr, sizeof n->self_addr);
    return udp_open(&n->addrs[self], &n->fd, errmsg);
}

/* Opens the database (created only when asked) and loads it. */
static int node_open_store(struct node *n, const struct node_options *opts,
                           struct store_loaded *loaded, char errmsg[ERRMSG_LEN])
{
    char em[ERRMSG_LEN] = "";
    if (store_wal_lost_frames(opts->db_path, em)) {
        /* Raft assumed these writes durable: what this member acknowledged
         * may be gone (a leader reports it as lost_acked and repairs it). */
        LOG_ERROR("%s; this member may have lost entries it acknowledged",
                  em);
    }
    int rv = store_open(opts->db_path, n->conf.cluster_id, n->id,
                        opts->create ? STORE_OPEN_CREATE : STORE_OPEN_EXISTING,
                        &n->store, em);
    if (rv == ERR_NOT_FOUND && !opts->create) {
        snprintf(errmsg, ERRMSG_LEN,
                 "%.180s: no such database (pass --create for a new node)",
                 opts->db_path);
        return rv;
    }
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%s", em);
        return rv;
    }
    /* A compaction deletes about entries rows at a time and leaves keep:
     * segments of an eighth of both are dropped whole, a handful at a
     * time, and hold back at most one segment's rows below the point. */
    raft_index seg_rows =
        ((raft_index)opts->snapshot_entries + opts->log_keep) /
        NODE_LOG_SEGMENT_PARTS;
    store_set_log_segment_rows(n->store, seg_rows > NODE_LOG_SEGMENT_MIN
                                             ? seg_rows
                                             : NODE_LOG_SEGMENT_MIN);
    rv = store_members_open(n->store);
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%.100s: members table: %.100s",
                 opts->db_path, store_errmsg(n->store));
        return rv;
    }
    rv = node_snapshot_open(n, opts->db_path, opts->log_keep, errmsg);
    if (rv != ERR_OK) {
        return rv;
    }
    rv = store_load_window(n->store, NODE_MEM_ENTRIES, loaded);
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%.120s: cannot load: %s (%.100s)",
                 opts->db_path, err_str(rv), store_errmsg(n->store));
    }
    return rv;
}

/* The core's fetch callback: older durable entries for a lagging follower
 * (their payloads are no longer in memory). */
static int node_fetch(void *ctx, raft_index lo, raft_index hi, size_t bytes_max,
                      struct raft_entry *out, size_t cap, size_t *n)
{
    struct store *s = ctx;
    int rv = store_fetch(s, lo, hi, bytes_max, out, cap, n);
    if (rv != ERR_OK && rv != ERR_DAMAGED) { /* That one stops the node. */
        LOG_WARN("cannot read entries %llu..%llu for a follower: %s (%s)",
                 (unsigned long long)lo, (unsigned long long)hi, err_str(rv),
                 store_errmsg(s));
    }
    return rv;
}

/* --max-datagram N (docs/HOSTS.md): AppendEntries batches and snapshot
 * chunks sized so that their datagrams, tag envelope included, stay
 * within N; a client write whose entry could not travel so is refused
 * (CLIENT_INVALID) rather than sent in fragments. */
static void node_fit_datagram(uint32_t max_datagram, struct replica_config *cfg)
{
    if (max_datagram == 0 || max_datagram >= RAFT_DATAGRAM_MAX) {
        return;
    }
    uint32_t room = max_datagram - AUTH_HEADER_BYTES;
    uint32_t batch = room - WIRE_APPEND_OVERHEAD;
    if (batch < cfg->raft.batch_bytes_max) {
        cfg->raft.batch_bytes_max = batch;
    }
    cfg->entry_bytes_max = batch - NODE_ENTRY_WIRE_OVERHEAD;
    uint32_t chunk = room - NODE_SNAPSHOT_MSG_OVERHEAD;
    if (chunk < SNAPSHOT_CHUNK_MAX) {
        cfg->snapshot.send.chunk_bytes = chunk;
    }
}

static void node_raft_config(const struct node *n,
                             const struct node_options *opts,
                             struct replica_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_sessions = opts->max_sessions;
    struct raft_config *rc = &cfg->raft;
    rc->id = n->id;
    rc->n_members = opts->join ? 0 : n->conf.n_members;
    for (uint32_t i = 0; i < rc->n_members; i++) {
        rc->members[i] = n->conf.members[i].id;
    }
    rc->heartbeat_ms =
        opts->heartbeat_ms != 0 ? opts->heartbeat_ms : NODE_HEARTBEAT_MS;
    rc->election_ms =
        opts->election_ms != 0 ? opts->election_ms : NODE_ELECTION_MS;
    rc->seed = opts->seed;
    rc->batch_bytes_max = NODE_BATCH_BYTES_MAX;
    rc->inflight_max = NODE_INFLIGHT_MAX;
    rc->pre_vote = true;
    rc->check_quorum = true;
    rc->mem_entries_max = NODE_MEM_ENTRIES;
    rc->fetch = node_fetch;
    rc->fetch_ctx = n->store;
    rc->self_sync_ms = NODE_SELF_SYNC_MS;
    rc->commit_notify_ms = NODE_COMMIT_NOTIFY_MS;
    cfg->pending_max = NODE_PENDING_MAX;
    /* Applied changes reach the kv table in one transaction per
     * NODE_KV_STORE_MS under load (sooner when this many keys or bytes
     * wait, or once the node is idle for NODE_KV_STORE_IDLE_MS): a kv page
     * is written once per store instead of once per entry. The log is
     * durable first, so a crash loses nothing a restart cannot re-apply
     * (node/kv_writeback.h). */
    cfg->kv_writeback.ops_max = NODE_KV_STORE_OPS_START;
    cfg->kv_writeback.bytes_max = NODE_KV_STORE_BYTES;
    cfg->kv_writeback.delay_ms = NODE_KV_STORE_MS;
    cfg->kv_writeback.idle_ms = NODE_KV_STORE_IDLE_MS;
    cfg->snapshot.entries = opts->snapshot_entries;
    cfg->snapshot.log_keep = opts->log_keep;
    /* Largest chunks, widest window: ~1 MB in flight per round trip. */
    cfg->snapshot.send.chunk_bytes = SNAPSHOT_CHUNK_MAX;
    cfg->snapshot.send.window = SNAPSHOT_WINDOW_MAX;
    cfg->snapshot.send.timeout_ms = 4 * rc->heartbeat_ms;
    node_fit_datagram(opts->max_datagram, cfg);
}

/* Builds the replica from what the store loaded (the core copies it). */
static int node_open_replica(struct node *n, const struct node_options *opts,
                             const struct store_loaded *sl,
                             char errmsg[ERRMSG_LEN])
{
    struct replica_config cfg;
    node_raft_config(n, opts, &cfg);
    struct raft_loaded loaded;
    memset(&loaded, 0, sizeof loaded);
    loaded.term = sl->term;
    loaded.voted_for = sl->voted_for;
    loaded.first_index = sl->first_index;
    loaded.n_runs = sl->n_runs;
    loaded.runs = sl->runs;
    /* The core's log starts after the compacted rows, below the snapshot
     * point by the rows kept for slow followers. */
    loaded.snapshot_index = sl->compacted_index;
    loaded.snapshot_term = sl->compacted_term;
    loaded.n_entries = sl->n_entries;
    loaded.entries = sl->entries;
    loaded.applied = sl->applied;
    /* The configuration below the loaded entries (thesis 4.1: the latest
     * one in the log, or the snapshot's); none: the bootstrap. */
    char base[MEMBERSHIP_TEXT_MAX];
    raft_index base_index = 0;
    struct membership probe;
    if (store_members_base(n->store, sl->first_index, base, sizeof base,
                           &base_index) == ERR_OK &&
        membership_decode((const uint8_t *)base, strlen(base), &probe) ==
            ERR_OK) {
        loaded.config = (const uint8_t *)base;
        loaded.config_len = (uint32_t)strlen(base);
        loaded.config_index = base_index;
    }
    struct replica_io io;
    memset(&io, 0, sizeof io);
    io.ctx = n;
    io.send = node_io_send;
    io.reply = node_io_client_reply;
    io.replies_done = node_io_replies_done;
    io.persist = node_io_persist;
    log_writer_init(&n->log_writer, n->store);
    if (log_writer_is_async(&n->log_writer)) {
        io.sync = node_io_sync;
    }
    kv_pacer_init(&n->kv_pacer, node_kv_ops(), n->store,
                  NODE_KV_STORE_TARGET_MS, NODE_KV_STORE_OPS_MIN,
                  NODE_KV_STORE_OPS);
    node_snapshot_bind(&io);
    io.kv = kv_pacer_ops();
    io.kv_ctx = &n->kv_pacer;
    n->now_ms = clock_now_ms();
    n->replica = replica_new(&cfg, &loaded, &io, node_trace, n, n->now_ms);
    if (n->replica == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        return ERR_NOMEM;
    }
    kv_pacer_attach(&n->kv_pacer, replica_kv_writeback(n->replica));
    return ERR_OK;
}

int node_open(const struct node_options *opts, struct node **out,
              char errmsg[ERRMSG_LEN])
{
    ASSERT(opts != NULL);
    ASSERT(out != NULL);
    struct store_loaded loaded;
    memset(&loaded, 0, sizeof loaded);
    struct node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        return ERR_NOMEM;
    }
    n->fd = -1;
    trace_init(&n->trace);
    node_snapshot_init(n);
    outbox_init(&n->outbox, -1, 0, opts->id);
    n->stop_fd = opts->stop_fd;
    n->id = opts->id;
    n->faults = opts->faults;
    n->shown_role = -1;
    n->sync_seen_ms = UINT64_MAX;
    n->disk_hung_ms = node_disk_hung_bound_ms(
        opts->election_ms != 0 ? opts->election_ms : NODE_ELECTION_MS);
    n->db_path = strdup(opts->db_path);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "n%llu", (unsigned long long)n->id);
    log_set_prefix(prefix);
    int rv = netem_init(&n->netem, opts->seed ^ 0x6e6574656dull);
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        goto fail;
    }
    n->scratch = malloc(sizeof *n->scratch);
    n->rx_buf = malloc(RAFT_DATAGRAM_MAX);
    n->tx_buf = malloc(RAFT_DATAGRAM_MAX);
    if (n->scratch == NULL || n->rx_buf == NULL || n->tx_buf == NULL ||
        n->db_path == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        rv = ERR_NOMEM;
        goto fail;
    }
    rv = conf_load(opts->config_path, &n->conf, errmsg);
    if (rv == ERR_OK) {
        rv = node_open_net(n, opts->config_path, errmsg);
    }
    if (rv == ERR_OK) {
        outbox_init(&n->outbox, n->fd, n->conf.cluster_id, n->id);
        udp_set_max_datagram(opts->max_datagram);
        rv = node_open_store(n, opts, &loaded, errmsg);
    }
    if (rv == ERR_OK) {
        rv = node_open_replica(n, opts, &loaded, errmsg);
    }
    store_loaded_free(&loaded);
    if (rv != ERR_OK) {
        goto fail;
    }
    node_refresh_prefix(n);
    const struct raft *r = replica_raft(n->replica);
    n->shown_commit = raft_commit_index(r);
    LOG_INFO("started id=%llu addr=%s pid=%ld term=%llu voted_for=%llu "
             "last_index=%llu applied=%llu first_index=%llu members=%u "
             "faults=%s sync=%s snapshot_entries=%u log_keep=%u",
             (unsigned long long)n->id, n->self_addr, (long)getpid(),
             (unsigned long long)raft_current_term(r),
             (unsigned long long)raft_voted_for(r),
             (unsigned long long)raft_last_index(r),
             (unsigned long long)raft_applied_index(r),
             (unsigned long long)raft_first_index(r), n->conf.n_members,
             n->faults ? "on" : "off",
             log_writer_is_async(&n->log_writer) ? "syncer" : "inline",
             opts->snapshot_entries, opts->log_keep);
    if (opts->max_datagram != 0) {
        LOG_INFO("datagrams kept within %u bytes (--max-datagram): a "
                 "client write's entry at most %u bytes",
                 opts->max_datagram,
                 opts->max_datagram - AUTH_HEADER_BYTES - WIRE_APPEND_OVERHEAD -
                     NODE_ENTRY_WIRE_OVERHEAD);
    }
    *out = n;
    return ERR_OK;

fail:
    node_close(n);
    return rv;
}

void node_close(struct node *n)
{
    if (n == NULL) {
        return;
    }
    node_check_close(n);
    node_snapshot_close(n);
    log_writer_close(&n->log_writer);
    replica_free(n->replica);
    if (n->store != NULL) {
        store_close(n->store);
    }
    outbox_free(&n->outbox);
    udp_close(n->fd);
    netem_close(&n->netem);
    free(n->tx_buf);
    free(n->rx_buf);
    free(n->scratch);
    free(n->db_path);
    free(n);
}
