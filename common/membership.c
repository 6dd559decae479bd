/*
 * Configurations and their text form (common/membership.h): who votes, who
 * learns, the joint phase's two voter sets, and the majority rule over
 * them. Pure: no I/O. Read node/raft_membership.c next.
 */
#include "common/membership.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/msg.h"

void membership_init(struct membership *c)
{
    memset(c, 0, sizeof *c);
}

struct membership_member *membership_find(struct membership *c, raft_id id)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->m[i].id == id) {
            return &c->m[i];
        }
    }
    return NULL;
}

const struct membership_member *membership_get(const struct membership *c,
                                               raft_id id)
{
    return membership_find((struct membership *)c, id);
}

struct membership_member *membership_add(struct membership *c, raft_id id)
{
    struct membership_member *m = membership_find(c, id);
    if (m != NULL) {
        return m;
    }
    if (c->n == RAFT_NODES_MAX || id == RAFT_ID_NONE) {
        return NULL;
    }
    m = &c->m[c->n++];
    memset(m, 0, sizeof *m);
    m->id = id;
    return m;
}

void membership_remove(struct membership *c, raft_id id)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->m[i].id == id) {
            memmove(&c->m[i], &c->m[i + 1], (c->n - i - 1) * sizeof c->m[0]);
            c->n--;
            return;
        }
    }
}

bool membership_is_voter(const struct membership *c, raft_id id)
{
    const struct membership_member *m = membership_get(c, id);
    return m != NULL && (m->voter || (c->joint && m->old_voter));
}

uint32_t membership_n_voters(const struct membership *c, bool old)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        n += old ? c->m[i].old_voter : c->m[i].voter;
    }
    return n;
}

bool membership_quorum(const struct membership *c, const bool *ok)
{
    uint32_t yes_new = 0;
    uint32_t yes_old = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        yes_new += ok[i] && c->m[i].voter;
        yes_old += ok[i] && c->m[i].old_voter;
    }
    if (yes_new < membership_n_voters(c, false) / 2 + 1) {
        return false;
    }
    return !c->joint || yes_old >= membership_n_voters(c, true) / 2 + 1;
}

bool membership_same_voters(const struct membership *a,
                            const struct membership *b)
{
    if (a->joint != b->joint) {
        return false;
    }
    for (int pass = 0; pass < 2; pass++) {
        const struct membership *x = pass ? b : a;
        const struct membership *y = pass ? a : b;
        for (uint32_t i = 0; i < x->n; i++) {
            const struct membership_member *o = membership_get(y, x->m[i].id);
            bool v = o != NULL && o->voter;
            bool ov = o != NULL && o->old_voter;
            if (v != x->m[i].voter || (x->joint && ov != x->m[i].old_voter)) {
                return false;
            }
        }
    }
    return true;
}

/* Appends the ids whose flag (voter, old_voter or learner) is set. */
static size_t put_ids(const struct membership *c, int which, char *buf,
                      size_t cap, size_t used)
{
    bool first = true;
    for (uint32_t i = 0; i < c->n && used < cap; i++) {
        const struct membership_member *m = &c->m[i];
        bool in = which == 0   ? m->voter
                  : which == 1 ? m->old_voter
                               : !m->voter && !m->old_voter;
        if (!in) {
            continue;
        }
        int w = snprintf(buf + used, cap - used, "%s%llu", first ? "" : ",",
                         (unsigned long long)m->id);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
        first = false;
    }
    return used < cap ? used : cap - 1;
}

static size_t put_str(char *buf, size_t cap, size_t used, const char *s)
{
    int w = snprintf(buf + used, cap - used, "%s", s);
    used += w < 0 ? 0 : (size_t)w;
    return used < cap ? used : cap - 1;
}

size_t membership_sets_text(const struct membership *c, char *buf, size_t cap)
{
    if (cap == 0) {
        return 0;
    }
    buf[0] = '\0';
    size_t used;
    if (c->joint) {
        used = put_str(buf, cap, 0, "joint ");
        used = put_ids(c, 1, buf, cap, used);
        used = put_str(buf, cap, used, " -> ");
    } else {
        used = put_str(buf, cap, 0, "voters ");
    }
    used = put_ids(c, 0, buf, cap, used);
    bool any_learner = false;
    for (uint32_t i = 0; i < c->n; i++) {
        any_learner |= !c->m[i].voter && !c->m[i].old_voter;
    }
    if (any_learner) {
        used = put_str(buf, cap, used, " learners ");
        used = put_ids(c, 2, buf, cap, used);
    }
    return used;
}

size_t membership_encode(const struct membership *c, char *buf, size_t cap)
{
    size_t used = membership_sets_text(c, buf, cap);
    bool any_addr = false;
    for (uint32_t i = 0; i < c->n; i++) {
        any_addr |= c->m[i].addr[0] != '\0';
    }
    if (any_addr) {
        used = put_str(buf, cap, used, " @");
        for (uint32_t i = 0; i < c->n; i++) {
            if (c->m[i].addr[0] == '\0') {
                continue;
            }
            char one[MEMBERSHIP_ADDR_MAX + 32];
            snprintf(one, sizeof one, " %llu=%s",
                     (unsigned long long)c->m[i].id, c->m[i].addr);
            used = put_str(buf, cap, used, one);
        }
    }
    return used;
}

/* A cursor over the text being decoded. */
struct cur {
    const uint8_t *p;
    const uint8_t *end;
};

static void skip_spaces(struct cur *k)
{
    while (k->p < k->end && *k->p == ' ') {
        k->p++;
    }
}

static bool take_word(struct cur *k, const char *w)
{
    skip_spaces(k);
    size_t n = strlen(w);
    if ((size_t)(k->end - k->p) < n || memcmp(k->p, w, n) != 0) {
        return false;
    }
    k->p += n;
    return true;
}

static bool take_id(struct cur *k, raft_id *id)
{
    raft_id v = 0;
    const uint8_t *start = k->p;
    while (k->p < k->end && *k->p >= '0' && *k->p <= '9') {
        v = v * 10 + (raft_id)(*k->p - '0');
        if (v > RAFT_ID_MAX) {
            return false;
        }
        k->p++;
    }
    *id = v;
    return k->p > start && v != RAFT_ID_NONE;
}

/* "1,2,3": sets the flag which (0 voter, 1 old_voter, 2 learner). */
static int take_ids(struct cur *k, struct membership *c, int which)
{
    skip_spaces(k);
    do {
        raft_id id;
        if (!take_id(k, &id)) {
            return ERR_MALFORMED;
        }
        struct membership_member *m = membership_add(c, id);
        if (m == NULL) {
            return ERR_TOO_BIG;
        }
        if (which == 0) {
            m->voter = true;
        } else if (which == 1) {
            m->old_voter = true;
        } else if (m->voter || m->old_voter) {
            return ERR_MALFORMED;
        }
    } while (k->p < k->end && *k->p == ',' && ++k->p);
    return ERR_OK;
}

static int take_addrs(struct cur *k, struct membership *c)
{
    for (;;) {
        skip_spaces(k);
        if (k->p == k->end) {
            return ERR_OK;
        }
        raft_id id;
        if (!take_id(k, &id) || k->p == k->end || *k->p++ != '=') {
            return ERR_MALFORMED;
        }
        struct membership_member *m = membership_find(c, id);
        if (m == NULL) {
            return ERR_MALFORMED;
        }
        size_t n = 0;
        while (k->p < k->end && *k->p != ' ') {
            if (n + 1 >= sizeof m->addr) {
                return ERR_MALFORMED;
            }
            m->addr[n++] = (char)*k->p++;
        }
        m->addr[n] = '\0';
    }
}

int membership_decode(const uint8_t *text, size_t len, struct membership *out)
{
    struct membership c;
    membership_init(&c);
    struct cur k = {text, text + len};
    int rv;
    if (take_word(&k, "joint ")) {
        c.joint = true;
        rv = take_ids(&k, &c, 1);
        if (rv != ERR_OK) {
            return rv;
        }
        if (!take_word(&k, "->")) {
            return ERR_MALFORMED;
        }
    } else if (!take_word(&k, "voters ")) {
        return ERR_MALFORMED;
    }
    rv = take_ids(&k, &c, 0);
    if (rv == ERR_OK && take_word(&k, "learners ")) {
        rv = take_ids(&k, &c, 2);
    }
    if (rv == ERR_OK && take_word(&k, "@")) {
        rv = take_addrs(&k, &c);
    }
    skip_spaces(&k);
    if (rv == ERR_OK && k.p != k.end) {
        rv = ERR_MALFORMED;
    }
    if (rv != ERR_OK) {
        return rv;
    }
    *out = c;
    return ERR_OK;
}

bool membership_op_done(const struct membership *before,
                        const struct membership *now, uint32_t op, raft_id id)
{
    const struct membership_member *was = membership_get(before, id);
    const struct membership_member *is = membership_get(now, id);
    switch (op) {
    case FAULT_MEMBER_ADD:
        return was == NULL && is != NULL;
    case FAULT_MEMBER_PROMOTE:
        return was != NULL && !was->voter && is != NULL && is->voter;
    case FAULT_MEMBER_REMOVE:
        return was != NULL && (is == NULL || (was->voter && !is->voter));
    default:
        return false;
    }
}
