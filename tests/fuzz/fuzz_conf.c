/*
 * libFuzzer target for the cluster file parser: any text either fails with
 * ERR_INVALID and a terminated message, or gives a sorted, unique, bounded
 * member list whose normalized rendering parses back to the same members
 * and whose hashed cluster id is FNV-1a of that rendering.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/invariant.h"

#define FUZZ_CONF_TEXT_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_members(const struct conf *c)
{
    ASSERT(c->n_members >= 1);
    ASSERT(c->n_members <= RAFT_NODES_MAX);
    ASSERT(c->cluster_id != 0);
    for (uint32_t i = 0; i < c->n_members; i++) {
        const struct conf_member *m = &c->members[i];
        ASSERT(m->id >= 1);
        ASSERT(m->id <= RAFT_ID_MAX);
        ASSERT(i == 0 || c->members[i - 1].id < m->id);
        ASSERT(m->port != 0);
        ASSERT(memchr(m->host, '\0', sizeof m->host) != NULL);
        ASSERT(m->host[0] != '\0');
        ASSERT(conf_find(c, m->id) == m);
    }
}

/* Writes the members as normalized "ID HOST:PORT\n" lines. */
static size_t render(const struct conf *c, char *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < c->n_members; i++) {
        const struct conf_member *m = &c->members[i];
        int v6 = strchr(m->host, ':') != NULL;
        int k = snprintf(out + n, cap - n, "%llu %s%s%s:%u\n",
                         (unsigned long long)m->id, v6 ? "[" : "", m->host,
                         v6 ? "]" : "", (unsigned)m->port);
        ASSERT(k > 0 && (size_t)k < cap - n);
        n += (size_t)k;
    }
    return n;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h != 0 ? h : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[FUZZ_CONF_TEXT_MAX + 1];
    static char again[RAFT_NODES_MAX * (CONF_HOST_MAX + 48)];
    if (size > FUZZ_CONF_TEXT_MAX) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    struct conf c, d;
    char errmsg[ERRMSG_LEN];
    memset(errmsg, 0x55, sizeof errmsg);
    int rc = conf_parse(text, &c, errmsg);
    if (rc != ERR_OK) {
        ASSERT(rc == ERR_INVALID);
        ASSERT(memchr(errmsg, '\0', sizeof errmsg) != NULL);
        return 0;
    }
    check_members(&c);
    render(&c, again, sizeof again);
    rc = conf_parse(again, &d, errmsg);
    ASSERT(rc == ERR_OK);
    ASSERT(d.cluster_id == fnv1a(again));
    ASSERT(d.n_members == c.n_members);
    for (uint32_t i = 0; i < c.n_members; i++) {
        ASSERT(d.members[i].id == c.members[i].id);
        ASSERT(d.members[i].port == c.members[i].port);
        ASSERT(strcmp(d.members[i].host, c.members[i].host) == 0);
    }
    return 0;
}
