/*
 * raftnode's side of membership (DESIGN.md, Membership): after each drain
 * it learns the addresses of members the log added (so it can send to and
 * accept from them) and keeps the members table in step with the core's
 * configuration; it turns a FAULT_MEMBER request from raftctl into a
 * change or a transfer at the core. Not pure. Read node/node_control.c
 * next.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/udp.h"
#include "node/node_int.h"
#include "node/raft.h"
#include "storage/store.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* Gives every member without an address the cluster file's. */
static void fill_addrs(const struct node *n, struct membership *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        const struct conf_member *cm = conf_find(&n->conf, c->m[i].id);
        if (c->m[i].addr[0] == '\0' && cm != NULL) {
            snprintf(c->m[i].addr, sizeof c->m[i].addr, "%.50s:%u", cm->host,
                     (unsigned)cm->port);
        }
    }
}

void node_members_text_at(const struct node *n, raft_index index, char *buf,
                          size_t cap)
{
    struct membership c;
    raft_membership_at(replica_raft(n->replica), index, &c);
    fill_addrs(n, &c);
    membership_encode(&c, buf, cap);
}

/* A member the cluster file does not list: its address from the log. */
static void learn_addr(struct node *n, const struct membership_member *m)
{
    if (m->addr[0] == '\0' || conf_find(&n->conf, m->id) != NULL ||
        n->conf.n_members == RAFT_NODES_MAX) {
        return;
    }
    const char *colon = strrchr(m->addr, ':');
    if (colon == NULL || (size_t)(colon - m->addr) > CONF_HOST_MAX) {
        LOG_WARN("member %llu: bad address %s", ull(m->id), m->addr);
        return;
    }
    struct conf_member *cm = &n->conf.members[n->conf.n_members];
    memset(cm, 0, sizeof *cm);
    cm->id = m->id;
    memcpy(cm->host, m->addr, (size_t)(colon - m->addr));
    unsigned long port = 0;
    for (const char *p = colon + 1; *p >= '0' && *p <= '9'; p++) {
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port == 0 || port > 65535) {
        LOG_WARN("member %llu: bad port in %s", ull(m->id), m->addr);
        return;
    }
    cm->port = (uint16_t)port;
    char em[ERRMSG_LEN];
    if (udp_resolve(cm->host, cm->port, &n->addrs[n->conf.n_members], em) !=
        ERR_OK) {
        LOG_WARN("member %llu: %s", ull(m->id), em);
        return;
    }
    n->conf.n_members++;
    LOG_INFO("member %llu at %s learned from the log", ull(m->id), m->addr);
}

void node_members_sync(struct node *n)
{
    const struct raft *r = replica_raft(n->replica);
    struct membership c = *raft_membership(r);
    fill_addrs(n, &c);
    char text[MEMBERSHIP_TEXT_MAX];
    membership_encode(&c, text, sizeof text);
    if (strcmp(text, n->members_text) == 0) {
        return;
    }
    for (uint32_t i = 0; i < c.n; i++) {
        learn_addr(n, &c.m[i]);
    }
    int rv = store_members_save(n->store, &c);
    if (rv == ERR_AGAIN) {
        return; /* Next drain. */
    }
    if (rv != ERR_OK) {
        LOG_WARN("cannot save the members table: %s",
                 store_errmsg(n->store));
    }
    snprintf(n->members_text, sizeof n->members_text, "%s", text);
    n->members_index = raft_membership_index(r);
    LOG_INFO("members (config %llu): %s", ull(n->members_index), text);
}

/* The change op asks for, from the configuration in force. */
static int member_target(struct node *n, const struct msg_fault *f,
                         struct membership *to)
{
    const struct raft *r = replica_raft(n->replica);
    *to = *raft_membership(r);
    if (to->joint) {
        return ERR_BUSY;
    }
    fill_addrs(n, to);
    raft_id id = f->n_blocked > 0 ? f->blocked[0] : 0;
    struct membership_member *m = membership_find(to, id);
    switch (f->loss_ppm) {
    case FAULT_MEMBER_PROMOTE:
        if (m == NULL) {
            return ERR_NOT_FOUND;
        }
        if (m->voter) {
            return ERR_INVALID;
        }
        m->voter = true;
        return ERR_OK;
    case FAULT_MEMBER_REMOVE:
        if (m == NULL) {
            return ERR_NOT_FOUND;
        }
        if (m->voter && membership_n_voters(to, false) == 1) {
            return ERR_INVALID; /* The last voter. */
        }
        membership_remove(to, id);
        return ERR_OK;
    case FAULT_MEMBER_ADD:
        if (m != NULL || id == RAFT_ID_NONE) {
            return ERR_INVALID;
        }
        m = membership_add(to, id);
        if (m == NULL) {
            return ERR_TOO_BIG;
        }
        snprintf(m->addr, sizeof m->addr, "%u.%u.%u.%u:%u",
                 (f->delay_ms >> 24) & 255, (f->delay_ms >> 16) & 255,
                 (f->delay_ms >> 8) & 255, f->delay_ms & 255,
                 (unsigned)f->jitter_ms);
        return ERR_OK;
    default:
        return ERR_INVALID;
    }
}

void node_on_member(struct node *n, const struct raft_addr *from,
                    const struct raft_msg *req)
{
    if (!udp_addr_is_loopback(from)) {
        node_drop(n, DROP_FAULT_REFUSED, from);
        return;
    }
    const struct msg_fault *f = &req->u.fault;
    raft_id id = f->n_blocked > 0 ? f->blocked[0] : 0;
    int rv;
    raft_index index = 0;
    if (f->loss_ppm == FAULT_MEMBER_TRANSFER) {
        rv = replica_transfer(n->replica, n->now_ms, id);
    } else {
        struct membership to;
        rv = member_target(n, f, &to);
        if (rv == ERR_OK) {
            rv = replica_change(n->replica, n->now_ms, &to, &index);
        }
    }
    LOG_INFO("member op %u id=%llu: %s (config entry %llu)", f->loss_ppm,
             ull(id), rv == ERR_OK ? "started" : err_str(rv), ull(index));
    node_fault_reply(n, from, rv == ERR_OK);
}
