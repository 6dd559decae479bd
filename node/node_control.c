/*
 * raftnode's control plane: status replies (what `raftctl status` and the
 * dashboard show), fault-control requests (partitions, netem, disk
 * delay) and trace leases (node/trace.h), answered by the node itself,
 * never by the replica.
 * Not pure. Read node/netem.c next.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/invariant.h"
#include "common/log.h"
#include "common/udp.h"
#include "node/node_int.h"
#include "node/raft.h"
#include "storage/store.h"

/* The dashboard's part of a status reply: the terms of the last
 * STATUS_TAIL_MAX log entries (skipping compacted ones) and the fault rules
 * in force. */
static void node_on_status_view(const struct node *n, const struct raft *r,
                                struct msg_status_reply *s)
{
    raft_index last = raft_last_index(r);
    raft_index first = last > STATUS_TAIL_MAX ? last - STATUS_TAIL_MAX + 1 : 1;
    while (first <= last && raft_term_at(r, first) == 0) {
        first++;
    }
    s->tail_first = first <= last ? first : 0;
    s->n_tail = 0;
    for (raft_index i = first; i <= last; i++) {
        s->tail_terms[s->n_tail++] = raft_term_at(r, i);
    }
    ASSERT(s->n_tail <= STATUS_TAIL_MAX);
    s->n_blocked = n->netem.n_blocked;
    memcpy(s->blocked, n->netem.blocked, sizeof s->blocked);
    s->loss_ppm = n->netem.loss_ppm;
    s->dup_ppm = n->netem.dup_ppm;
    s->delay_ms = n->netem.delay_ms;
    s->jitter_ms = n->netem.jitter_ms;
}

void node_on_status(struct node *n, const struct raft_addr *from,
                    const struct raft_msg *req)
{
    const struct raft *r = replica_raft(n->replica);
    struct raft_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = MSG_STATUS_REPLY;
    msg.from = n->id;
    msg.term = raft_current_term(r);
    struct msg_status_reply *s = &msg.u.status_reply;
    s->nonce = req->u.status.nonce;
    s->pid = (uint32_t)getpid();
    s->role = (uint8_t)raft_role(r);
    s->leader = raft_leader(r);
    s->voted_for = raft_voted_for(r);
    s->commit = raft_commit_index(r);
    s->last_index = raft_last_index(r);
    s->applied = raft_applied_index(r);
    s->election_timeout_ms = raft_election_timeout_ms(r);
    uint64_t elapsed = raft_election_elapsed_ms(r, n->now_ms);
    s->election_elapsed_ms =
        elapsed > UINT32_MAX ? UINT32_MAX : (uint32_t)elapsed;
    s->leader_contact_ms = raft_leader_contact_ms(r, n->now_ms);
    memcpy(s->drops, n->drops, sizeof s->drops);
    /* Refused in common/udp.c before any field was read. */
    s->drops[DROP_BAD_TAG] = auth_drops(AUTH_DROP_BAD_TAG);
    s->drops[DROP_REPLAY] = auth_drops(AUTH_DROP_REPLAY);
    s->drops[DROP_WRONG_KEY_TYPE] = auth_drops(AUTH_DROP_WRONG_KEY_TYPE);
    s->n_peers = raft_progress(r, n->now_ms, s->peers, RAFT_NODES_MAX);
    /* The snapshot point (the snapshot table's, kept by the store from
     * start, each compaction and each install), not the log's compacted
     * prefix: that is up to --log-keep entries lower (tail_first shows
     * where the log starts). */
    store_snapshot_point(n->store, &s->snapshot_index, &s->snapshot_term);
    s->n_sends = replica_snapshot_progress(n->replica, &s->recv, s->sends,
                                           RAFT_NODES_MAX);
    s->lost_acked = raft_lost_acked(r);
    node_on_status_view(n, r, s);
    s->disk = (uint8_t)node_disk_state(n);
    char text[MEMBERSHIP_TEXT_MAX];
    s->config_len =
        (uint32_t)membership_encode(raft_membership(r), text, sizeof text);
    memcpy(s->config, text, s->config_len);
    s->trace_subscribers = n->trace.n_live;
    s->trace_dropped = n->trace.dropped;
    node_io_reply(n, from, &msg);
}

static void node_trace_send(void *ctx, const struct raft_addr *to,
                            const struct raft_msg *msg)
{
    node_io_reply(ctx, to, msg);
}

void node_on_trace(struct node *n, const struct raft_addr *from,
                   const struct raft_msg *req)
{
    if (!auth_enabled() && !udp_addr_is_loopback(from)) {
        node_drop(n, DROP_FAULT_REFUSED, from);
        return;
    }
    bool was_on = trace_on(&n->trace);
    if (!trace_subscribe(&n->trace, from, req->u.trace.lease_ms, n->now_ms)) {
        node_drop(n, DROP_OVERLOAD, from); /* Every viewer slot taken. */
        return;
    }
    if (trace_on(&n->trace) != was_on) {
        LOG_INFO("message trace %s (%u viewer%s)",
                 trace_on(&n->trace) ? "on" : "off", n->trace.n_live,
                 n->trace.n_live == 1 ? "" : "s");
    }
    if (req->u.trace.lease_ms != 0) {
        trace_ack(&n->trace, from, n->id,
                  raft_current_term(replica_raft(n->replica)), node_trace_send,
                  n);
    }
}

void node_trace_flush(struct node *n)
{
    bool was_on = trace_on(&n->trace);
    trace_flush(&n->trace, n->now_ms, n->id,
                raft_current_term(replica_raft(n->replica)), node_trace_send,
                n);
    if (was_on && !trace_on(&n->trace)) {
        LOG_INFO("message trace off (leases ended; %llu recorded, %llu "
                 "dropped)",
                 (unsigned long long)n->trace.recorded,
                 (unsigned long long)n->trace.dropped);
    }
}

static const char *fault_name(int action)
{
    switch (action) {
    case FAULT_HEAL:
        return "heal";
    case FAULT_PARTITION:
        return "partition";
    case FAULT_NETEM:
        return "netem";
    case FAULT_DISK_DELAY:
        return "disk-delay";
    default:
        return "unknown";
    }
}

/* One INFO line per fault rule, with the fields that rule uses. */
static void node_log_fault(const struct msg_fault *f, int rv)
{
    const char *verdict = rv == ERR_OK ? "applied" : "refused";
    if (f->action == FAULT_PARTITION) {
        char ids[RAFT_NODES_MAX * 12 + 1] = "";
        size_t used = 0;
        for (uint32_t i = 0; i < f->n_blocked && i < RAFT_NODES_MAX; i++) {
            int w =
                snprintf(ids + used, sizeof ids - used, "%s%llu",
                         i > 0 ? "," : "", (unsigned long long)f->blocked[i]);
            if (w < 0 || (size_t)w >= sizeof ids - used) {
                break;
            }
            used += (size_t)w;
        }
        LOG_INFO("fault partition %s: blocked=[%s]", verdict, ids);
    } else if (f->action == FAULT_NETEM) {
        LOG_INFO("fault netem %s: loss_ppm=%u dup_ppm=%u delay_ms=%u "
                 "jitter_ms=%u",
                 verdict, f->loss_ppm, f->dup_ppm, f->delay_ms, f->jitter_ms);
    } else if (f->action == FAULT_DISK_DELAY) {
        LOG_INFO("fault disk-delay %s: delay_ms=%u", verdict, f->delay_ms);
    } else {
        LOG_INFO("fault %s %s", fault_name(f->action), verdict);
    }
}

/* Fault control: only with --faults and only from loopback. */
void node_on_fault(struct node *n, const struct raft_addr *from,
                   const struct raft_msg *req)
{
    if (!n->faults || !udp_addr_is_loopback(from)) {
        node_drop(n, DROP_FAULT_REFUSED, from);
        return;
    }
    const struct msg_fault *f = &req->u.fault;
    int rv = ERR_OK;
    if (f->action == FAULT_DISK_DELAY) {
        if (f->delay_ms > NETEM_DELAY_MS_MAX) {
            rv = ERR_INVALID;
        } else if (log_writer_is_async(&n->log_writer)) {
            /* A slow disk: each fdatasync of the syncer child waits (the
             * loop runs on, as it would over a slow disk). */
            syncer_set_delay_ms(&n->log_writer.syncer, f->delay_ms);
        } else {
            store_set_persist_delay_ms(n->store, f->delay_ms);
        }
    } else {
        rv = netem_apply(&n->netem, f);
        if (rv == ERR_OK && f->action == FAULT_HEAL) {
            store_set_persist_delay_ms(n->store, 0);
            syncer_set_delay_ms(&n->log_writer.syncer, 0);
        }
    }
    node_log_fault(f, rv);
    node_fault_reply(n, from, rv == ERR_OK);
}

void node_fault_reply(struct node *n, const struct raft_addr *to, bool ok)
{
    struct raft_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = MSG_FAULT_REPLY;
    msg.from = n->id;
    msg.u.fault_reply.ok = ok;
    node_io_reply(n, to, &msg);
}
