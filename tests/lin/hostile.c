/*
 * hostile: floods every member of a cluster with datagrams a node must drop
 * without crashing, allocating without bound or changing its term: random
 * bytes of random sizes, valid messages (common/wire.c) truncated or
 * bit-flipped, msgpack headers declaring huge lengths, deep nesting, the
 * wrong cluster id or protocol version, and forged peer messages with huge
 * or plausible terms from non-member ids, from member ids at the wrong
 * address (this tool's own socket, and a socket on 127.0.0.2 bound to the
 * member's own port), from the receiver's own id, and addressed to another
 * node, and such messages inside a client batch (MSG_CLIENT_BATCH), where
 * only client requests count. It never sends fault-control messages, and skips any mutation that
 * happens to decode as one. Prints what it sent per category.
 * --impersonate ID instead binds the address of member ID (which must be
 * down) and sends well-formed peer messages of every type in its name, with
 * terms and indexes near and far from the receivers' own: a member that
 * lies. Raft does not tolerate that, but a node must still never crash.
 * It tags its datagrams with the cluster key beside --config; --keys
 * client, wrong or none forge them as a client-key holder or an outsider
 * would, and every one must then be refused before it is read.
 * Read tests/proc/test_hostile.sh next.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/auth.h"
#include "common/client_query.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/rng.h"
#include "common/udp.h"
#include "common/wire.h"

#define H_FORGED_TERM_MIN (1ull << 40)
#define H_BURST 50

enum h_kind {
    H_RANDOM,          /* Random bytes, random size. */
    H_TRUNCATED,       /* A valid message cut short. */
    H_FLIPPED,         /* A valid message with bits flipped. */
    H_HUGE_LENGTH,     /* Headers declaring huge arrays, strings, bins. */
    H_DEEP,            /* Thousands of nested arrays or maps. */
    H_WRONG_CLUSTER,   /* Valid, another cluster id. */
    H_WRONG_VERSION,   /* Valid, another protocol version. */
    H_FORGED_MEMBER,   /* Peer message, member id, our address. */
    H_FORGED_SPOOF,    /* Peer message, member id, member port on 127.0.0.2. */
    H_FORGED_STRANGER, /* Peer message from a non-member id. */
    H_FORGED_SELF,     /* Peer message claiming to come from the receiver. */
    H_NOT_FOR_US,      /* Peer message addressed to another id. */
    H_SMUGGLED,        /* Forged peer messages inside a client batch. */
    H_KINDS
};

static const char *const h_names[H_KINDS] = {
    "random bytes",     "truncated",       "bit-flipped",   "huge lengths",
    "deep nesting",     "wrong cluster",   "wrong version", "forged member",
    "forged 127.0.0.2", "forged stranger", "forged self",   "not for us",
    "peer in a batch",
};

struct hostile {
    struct conf conf;
    struct raft_addr addrs[RAFT_NODES_MAX];
    int fd;
    int spoof_fd[RAFT_NODES_MAX]; /* -1 where 127.0.0.2 cannot be bound. */
    struct rng rng;
    raft_term terms[RAFT_NODES_MAX]; /* As of the start. */
    uint8_t *buf;
    uint8_t *payload; /* Random bytes for entries and values. */
    struct wire_scratch *scratch;
    struct raft_entry entries[8];
    uint64_t sent[H_KINDS];
    uint64_t skipped;
    raft_index last[RAFT_NODES_MAX]; /* As of the start. */
    uint32_t imp;                    /* Member index impersonated. */
    int imp_fd;
    uint64_t n_imp;
    uint64_t n_faults; /* Forged fault control sent (--keys not cluster). */
};

static uint64_t rnd(struct hostile *h, uint64_t n)
{
    return rng_range(&h->rng, 0, n);
}

/* Fills m with a random, encodable message of a random non-fault type. */
static void h_random_msg(struct hostile *h, struct raft_msg *m, bool peer)
{
    static const uint8_t peer_types[] = {
        MSG_VOTE,     MSG_VOTE_REPLY,     MSG_APPEND,     MSG_APPEND_REPLY,
        MSG_SNAPSHOT, MSG_SNAPSHOT_REPLY, MSG_TIMEOUT_NOW};
    static const uint8_t other_types[] = {MSG_CLIENT, MSG_CLIENT_REPLY,
                                          MSG_STATUS, MSG_STATUS_REPLY,
                                          MSG_FAULT_REPLY};
    memset(m, 0, sizeof *m);
    if (peer || rnd(h, 2) == 0) {
        m->type = peer_types[rnd(h, sizeof peer_types)];
    } else {
        m->type = other_types[rnd(h, sizeof other_types)];
    }
    m->from = 1 + rnd(h, 5);
    m->to = 1 + rnd(h, 5);
    m->term = rnd(h, 4) == 0 ? rng_next(&h->rng) : rnd(h, 100);
    uint32_t len = (uint32_t)rnd(h, 300);
    switch (m->type) {
    case MSG_VOTE:
        m->u.vote.last_index = rng_next(&h->rng) >> rnd(h, 64);
        m->u.vote.last_term = rng_next(&h->rng) >> rnd(h, 64);
        m->u.vote.pre_vote = rnd(h, 2);
        m->u.vote.transfer = rnd(h, 2);
        break;
    case MSG_VOTE_REPLY:
        m->u.vote_reply.granted = true;
        m->u.vote_reply.pre_vote = rnd(h, 2);
        break;
    case MSG_APPEND:
        m->u.append.prev_index = rnd(h, 1000);
        m->u.append.prev_term = rnd(h, 50);
        m->u.append.commit = rng_next(&h->rng) >> rnd(h, 64);
        m->u.append.ctx = rng_next(&h->rng);
        m->u.append.n_entries = (uint32_t)rnd(h, 9);
        m->u.append.entries = h->entries;
        for (uint32_t i = 0; i < 8; i++) {
            h->entries[i].term = rnd(h, 1000);
            h->entries[i].type = (uint8_t)(1 + rnd(h, 3));
            h->entries[i].len = (uint32_t)rnd(h, 200);
            h->entries[i].data = h->payload + rnd(h, 1024);
        }
        break;
    case MSG_APPEND_REPLY:
        m->u.append_reply.success = rnd(h, 2);
        m->u.append_reply.match_index = rng_next(&h->rng) >> rnd(h, 64);
        m->u.append_reply.last_index = rng_next(&h->rng) >> rnd(h, 64);
        m->u.append_reply.ctx = rng_next(&h->rng);
        break;
    case MSG_SNAPSHOT:
        m->u.snapshot.last_index = rnd(h, 1u << 20);
        m->u.snapshot.offset = rnd(h, 1u << 20);
        m->u.snapshot.done = rnd(h, 2);
        m->u.snapshot.len = len;
        m->u.snapshot.data = h->payload;
        m->u.snapshot.size = m->u.snapshot.offset + len + rnd(h, 2);
        break;
    case MSG_SNAPSHOT_REPLY:
        m->u.snapshot_reply.last_index = rnd(h, 1u << 20);
        m->u.snapshot_reply.success = rnd(h, 2);
        m->u.snapshot_reply.done = rnd(h, 2);
        break;
    case MSG_CLIENT:
        /* A GET, so that a mutation that still decodes changes nothing. */
        m->from = 0;
        m->to = 0;
        m->term = 0;
        m->u.client.client_id = rng_next(&h->rng);
        m->u.client.op = CLIENT_GET;
        m->u.client.key = (const uint8_t *)"hostile";
        m->u.client.key_len = 7;
        break;
    case MSG_CLIENT_REPLY:
        m->u.client_reply.status = (uint8_t)rnd(h, CLIENT_STATUS__COUNT);
        m->u.client_reply.value = h->payload;
        m->u.client_reply.value_len = len;
        break;
    case MSG_STATUS:
        m->u.status.nonce = rng_next(&h->rng);
        break;
    default:
        break;
    }
}

/* Encodes m under cluster_id into h->buf. Returns the length, 0 when the
 * encoder refused it. */
static size_t h_encode(struct hostile *h, const struct raft_msg *m,
                       uint64_t cluster_id)
{
    size_t len = 0;
    if (wire_encode(m, cluster_id, h->buf, RAFT_DATAGRAM_MAX, &len) != ERR_OK) {
        return 0;
    }
    return len;
}

/* Writes a msgpack header declaring a huge container or byte string,
 * possibly after a valid prefix of header fields. */
static size_t h_huge(struct hostile *h)
{
    static const uint8_t heads[][5] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff}, /* array32 */
        {0xdf, 0xff, 0xff, 0xff, 0xff}, /* map32 */
        {0xdb, 0xff, 0xff, 0xff, 0xf0}, /* str32 */
        {0xc6, 0x7f, 0xff, 0xff, 0xff}, /* bin32 */
        {0xc9, 0xff, 0xff, 0xff, 0xff}, /* ext32 */
    };
    size_t len = 0;
    if (rnd(h, 2) == 0) {
        /* A real header, then a huge field where the body begins. */
        struct raft_msg m;
        h_random_msg(h, &m, false);
        len = h_encode(h, &m, h->conf.cluster_id);
        len = len > 0 ? 1 + rnd(h, len) : 0;
    }
    memcpy(h->buf + len, heads[rnd(h, 5)], 5);
    len += 5;
    uint32_t tail = (uint32_t)rnd(h, 64);
    memcpy(h->buf + len, h->payload, tail);
    return len + tail;
}

/* Thousands of nested one-element arrays or maps. */
static size_t h_deep(struct hostile *h)
{
    size_t depth = 1000 + rnd(h, 30000);
    uint8_t open = rnd(h, 2) == 0 ? 0x91 : 0x81; /* fixarray 1, fixmap 1 */
    if (rnd(h, 3) == 0) {
        h->buf[0] = 0x96; /* A plausible outer array first. */
        h->buf[1] = 0x01;
        memset(h->buf + 2, open, depth);
        return depth + 2;
    }
    memset(h->buf, open, depth);
    return depth;
}

/* A forged peer message of kind k to member index t. */
static size_t h_forged(struct hostile *h, int k, uint32_t t)
{
    struct raft_msg m;
    h_random_msg(h, &m, true);
    raft_id target = h->conf.members[t].id;
    m.to = target;
    if (k == H_FORGED_STRANGER) {
        m.from = 100 + rnd(h, RAFT_ID_MAX - 100);
    } else if (k == H_FORGED_SELF) {
        m.from = target;
    } else {
        m.from = h->conf.members[rnd(h, h->conf.n_members)].id;
    }
    if (k == H_NOT_FOR_US) {
        m.to = target + 1 + rnd(h, 1000);
    }
    /* Huge terms, or the next few terms, which a node that trusted the
     * datagram would adopt. */
    m.term = rnd(h, 2) == 0 ? H_FORGED_TERM_MIN + rnd(h, 1ull << 40)
                            : h->terms[t] + 1 + rnd(h, 3);
    return h_encode(h, &m, h->conf.cluster_id);
}

/* A client batch of one to four forged peer messages (from a member id,
 * plausible or huge terms) to member index t, in h->buf. */
static size_t h_smuggled(struct hostile *h, uint32_t t)
{
    static uint8_t inner[4][RAFT_DATAGRAM_MAX / 4];
    const uint8_t *items[4];
    uint32_t lens[4];
    uint32_t n = 1 + (uint32_t)rnd(h, 4);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = h_forged(h, H_FORGED_MEMBER, t);
        if (len == 0 || len > sizeof inner[i]) {
            return 0;
        }
        memcpy(inner[i], h->buf, len);
        items[i] = inner[i];
        lens[i] = (uint32_t)len;
    }
    size_t len = 0;
    if (wire_batch_encode(h->conf.cluster_id, 0, 0, items, lens, n, h->buf,
                          RAFT_DATAGRAM_MAX, &len) != ERR_OK) {
        return 0;
    }
    return len;
}

/* Builds one datagram of kind k for member index t into h->buf. */
static size_t h_build(struct hostile *h, int k, uint32_t t)
{
    struct raft_msg m;
    size_t len = 0;
    switch (k) {
    case H_RANDOM: {
        static const uint32_t caps[] = {16, 200, 1500, RAFT_DATAGRAM_MAX + 1};
        len = rnd(h, caps[rnd(h, 4)]);
        for (size_t i = 0; i < len; i++) {
            h->buf[i] = (uint8_t)rng_next(&h->rng);
        }
        return len;
    }
    case H_TRUNCATED:
        h_random_msg(h, &m, false);
        len = h_encode(h, &m, h->conf.cluster_id);
        return len > 1 ? rnd(h, len) : 0;
    case H_FLIPPED:
        h_random_msg(h, &m, false);
        len = h_encode(h, &m, h->conf.cluster_id);
        for (uint64_t n = 1 + rnd(h, 8); len > 0 && n > 0; n--) {
            h->buf[rnd(h, len)] ^= (uint8_t)(1u << rnd(h, 8));
        }
        return len;
    case H_HUGE_LENGTH:
        return h_huge(h);
    case H_DEEP:
        return h_deep(h);
    case H_WRONG_CLUSTER:
        h_random_msg(h, &m, true);
        m.to = h->conf.members[t].id;
        return h_encode(h, &m, h->conf.cluster_id ^ (1 + rnd(h, 1u << 30)));
    case H_WRONG_VERSION:
        h_random_msg(h, &m, true);
        m.to = h->conf.members[t].id;
        len = h_encode(h, &m, h->conf.cluster_id);
        if (len > 2 && (h->buf[0] & 0xf0) == 0x90) {
            h->buf[1] = (uint8_t)(2 + rnd(h, 126)); /* Version 2..127. */
        }
        return len;
    case H_SMUGGLED:
        return h_smuggled(h, t);
    default:
        return h_forged(h, k, t);
    }
}

/* Sends one datagram of kind k to member index t, unless it happens to
 * decode as fault control (which a --faults node rightly honours). */
static void h_send_one(struct hostile *h, int k, uint32_t t)
{
    size_t len = h_build(h, k, t);
    struct raft_msg m;
    if (len > RAFT_DATAGRAM_MAX || (wire_decode(h->buf, len, h->conf.cluster_id,
                                                &m, h->scratch) == ERR_OK &&
                                    m.type == MSG_FAULT)) {
        h->skipped++;
        return;
    }
    int fd = h->fd;
    if (k == H_FORGED_SPOOF) {
        fd = h->spoof_fd[rnd(h, h->conf.n_members)];
        if (fd < 0) {
            h->skipped++;
            return;
        }
    }
    int rv = udp_send(fd, &h->addrs[t], h->buf, len);
    if (rv == ERR_OK) {
        h->sent[k]++;
    } else {
        h->skipped++;
    }
}

/* A value near base (equal, a few above or below) or far from it (0,
 * huge, the maximum). */
static uint64_t h_near(struct hostile *h, uint64_t base)
{
    switch (rnd(h, 6)) {
    case 0:
        return base;
    case 1:
        return base + 1 + rnd(h, 5);
    case 2:
        return base > 5 ? base - 1 - rnd(h, 5) : rnd(h, 3);
    case 3:
        return 0;
    case 4:
        return (1ull << 62) + rnd(h, 1000);
    default:
        return rnd(h, 2) ? UINT64_MAX : (uint64_t)INT64_MAX + rnd(h, 3);
    }
}

/* One well-formed peer message in the name of the impersonated member, to
 * member index t, from its own address. */
static void h_impersonate_one(struct hostile *h, uint32_t t)
{
    struct raft_msg m;
    h_random_msg(h, &m, true);
    m.from = h->conf.members[h->imp].id;
    m.to = h->conf.members[t].id;
    m.term = h_near(h, h->terms[t]);
    raft_index li = h->last[t];
    switch (m.type) {
    case MSG_VOTE:
        m.u.vote.last_index = h_near(h, li);
        m.u.vote.last_term = h_near(h, h->terms[t]);
        break;
    case MSG_APPEND:
        m.u.append.prev_index = h_near(h, li);
        m.u.append.prev_term = h_near(h, h->terms[t]);
        m.u.append.commit = h_near(h, li);
        for (uint32_t i = 0; i < m.u.append.n_entries; i++) {
            h->entries[i].term = h_near(h, h->terms[t]);
        }
        break;
    case MSG_APPEND_REPLY:
        m.u.append_reply.match_index = h_near(h, li);
        m.u.append_reply.reject_index = h_near(h, li);
        m.u.append_reply.last_index = h_near(h, li);
        m.u.append_reply.conflict_term = h_near(h, h->terms[t]);
        m.u.append_reply.conflict_index = h_near(h, li);
        break;
    case MSG_SNAPSHOT:
        m.u.snapshot.last_index = h_near(h, li);
        m.u.snapshot.last_term = h_near(h, h->terms[t]);
        m.u.snapshot.offset = h_near(h, 0);
        m.u.snapshot.size = h_near(h, 1);
        break;
    case MSG_SNAPSHOT_REPLY:
        m.u.snapshot_reply.last_index = h_near(h, li);
        m.u.snapshot_reply.offset = h_near(h, 0);
        break;
    default:
        break;
    }
    size_t len = h_encode(h, &m, h->conf.cluster_id);
    if (len > 0 && udp_send(h->imp_fd, &h->addrs[t], h->buf, len) == ERR_OK) {
        h->n_imp++;
    } else {
        h->skipped++;
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Opens the sockets and reads every member's term. */
static int h_open(struct hostile *h, const char *config)
{
    char errmsg[ERRMSG_LEN] = "";
    if (conf_load(config, &h->conf, errmsg) != ERR_OK) {
        fprintf(stderr, "hostile: %s\n", errmsg);
        return -1;
    }
    for (uint32_t i = 0; i < h->conf.n_members; i++) {
        const struct conf_member *mb = &h->conf.members[i];
        struct raft_addr spoof;
        h->spoof_fd[i] = -1;
        if (udp_resolve(mb->host, mb->port, &h->addrs[i], errmsg) != ERR_OK) {
            fprintf(stderr, "hostile: %s\n", errmsg);
            return -1;
        }
        if (udp_resolve("127.0.0.2", mb->port, &spoof, errmsg) == ERR_OK &&
            udp_open(&spoof, &h->spoof_fd[i], errmsg) != ERR_OK) {
            h->spoof_fd[i] = -1;
        }
    }
    struct client_node_status st[RAFT_NODES_MAX];
    if (getenv("RAFT_INSECURE") == NULL &&
        auth_load_beside(config, AUTH_ROLE_CLIENT, false, errmsg) != ERR_OK) {
        fprintf(stderr, "hostile: %s\n", errmsg);
        return -1;
    }
    if (udp_open_client(&h->addrs[0], &h->fd, errmsg) != ERR_OK ||
        client_status_query(&h->conf, UINT32_MAX, 500, st, errmsg) != ERR_OK) {
        fprintf(stderr, "hostile: %s\n", errmsg);
        return -1;
    }
    for (uint32_t i = 0; i < h->conf.n_members; i++) {
        h->terms[i] = st[i].alive ? st[i].term : 0;
        h->last[i] = st[i].alive ? st[i].reply.last_index : 0;
    }
    h->buf = malloc(RAFT_DATAGRAM_MAX + 64);
    h->payload = malloc(2048);
    h->scratch = malloc(sizeof *h->scratch);
    if (h->buf == NULL || h->payload == NULL || h->scratch == NULL) {
        fprintf(stderr, "hostile: out of memory\n");
        return -1;
    }
    for (int i = 0; i < 2048; i++) {
        h->payload[i] = (uint8_t)rng_next(&h->rng);
    }
    return 0;
}

struct h_opts {
    const char *config;
    const char *keys; /* cluster, client, wrong or none. */
    unsigned long long seconds, rate, seed, impersonate;
};

/* Parses "--name value" pairs. Returns 0, or -1 on a usage error. */
static int h_parse(int argc, char **argv, struct h_opts *o)
{
    o->config = NULL;
    o->keys = "cluster";
    o->seconds = 5;
    o->rate = 2000;
    o->seed = clock_now_us();
    o->impersonate = 0;
    if (argc % 2 == 0) {
        return -1;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        char *end = NULL;
        unsigned long long v = strtoull(argv[i + 1], &end, 10);
        bool num = end != argv[i + 1] && *end == '\0';
        if (strcmp(argv[i], "--config") == 0) {
            o->config = argv[i + 1];
        } else if (strcmp(argv[i], "--keys") == 0 &&
                   (strcmp(argv[i + 1], "cluster") == 0 ||
                    strcmp(argv[i + 1], "client") == 0 ||
                    strcmp(argv[i + 1], "wrong") == 0 ||
                    strcmp(argv[i + 1], "none") == 0)) {
            o->keys = argv[i + 1];
        } else if (strcmp(argv[i], "--seconds") == 0 && num && v <= 600) {
            o->seconds = v;
        } else if (strcmp(argv[i], "--rate") == 0 && num && v > 0 &&
                   v <= 1000000) {
            o->rate = v;
        } else if (strcmp(argv[i], "--seed") == 0 && num) {
            o->seed = v;
        } else if (strcmp(argv[i], "--impersonate") == 0 && num && v > 0) {
            o->impersonate = v;
        } else {
            return -1;
        }
    }
    return o->config != NULL ? 0 : -1;
}

/* Binds the impersonated member's own address. */
static int h_open_impersonate(struct hostile *h, raft_id id)
{
    char errmsg[ERRMSG_LEN] = "";
    for (h->imp = 0; h->imp < h->conf.n_members; h->imp++) {
        if (h->conf.members[h->imp].id == id) {
            break;
        }
    }
    int rv = ERR_NOT_FOUND;
    /* A member just killed may hold its port for a moment. */
    for (int tries = 0;
         tries < 40 && h->imp < h->conf.n_members && rv != ERR_OK; tries++) {
        rv = udp_open(&h->addrs[h->imp], &h->imp_fd, errmsg);
        if (rv != ERR_OK) {
            sleep_ms(50);
        }
    }
    if (rv != ERR_OK) {
        fprintf(stderr,
                "hostile: cannot impersonate member %llu (it must "
                "be a member, and down): %s\n",
                (unsigned long long)id, errmsg);
        return -1;
    }
    return 0;
}

/* Sends at the given rate until the time is up. */
/* Forged fault control (a partition of member t from every other),
 * sent only when the flood is not tagged with the cluster key: each must
 * be refused before it is read, or the cluster would split. */
static void h_send_fault(struct hostile *h, uint32_t t)
{
    struct raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_FAULT;
    m.to = h->conf.members[t].id;
    m.u.fault.action = FAULT_PARTITION;
    for (uint32_t i = 0; i < h->conf.n_members; i++) {
        if (i != t) {
            m.u.fault.blocked[m.u.fault.n_blocked++] = h->conf.members[i].id;
        }
    }
    size_t len = 0;
    if (wire_encode(&m, h->conf.cluster_id, h->buf, RAFT_DATAGRAM_MAX, &len) ==
            ERR_OK &&
        udp_send(h->fd, &h->addrs[t], h->buf, len) == ERR_OK) {
        h->n_faults++;
    }
}

static void h_run(struct hostile *h, const struct h_opts *o)
{
    bool forge_faults = strcmp(o->keys, "cluster") != 0;
    uint64_t start = clock_now_ms(), end = start + o->seconds * 1000, n = 0;
    while (clock_now_ms() < end) {
        for (int b = 0; b < H_BURST; b++, n++) {
            uint32_t t = (uint32_t)((n / H_KINDS) % h->conf.n_members);
            if (o->impersonate == 0) {
                h_send_one(h, (int)(n % H_KINDS), t);
                if (forge_faults && n % H_KINDS == 0) {
                    h_send_fault(h, t);
                }
            } else if (t != h->imp) {
                h_impersonate_one(h, t);
            }
        }
        /* Pace to the rate: n datagrams by start + n / rate seconds. */
        uint64_t due = start + n * 1000 / o->rate, now = clock_now_ms();
        if (due > now) {
            sleep_ms((long)(due - now));
        }
    }
}

/* After the terms were read with the real keys: what the flood is tagged
 * with. cluster: the cluster key (a key holder: every check past the tag
 * is exercised); client: the client key on every type; wrong: random keys
 * (an outsider); none: no envelope at all. */
static void h_use_keys(const char *keys)
{
    if (strcmp(keys, "client") == 0) {
        auth_force_class(AUTH_CLIENT);
    } else if (strcmp(keys, "wrong") == 0) {
        uint8_t k[1][AUTH_KEY_BYTES];
        auth_reset();
        for (int c = 0; c < AUTH__CLASSES; c++) {
            for (int i = 0; i < AUTH_KEY_BYTES; i++) {
                k[0][i] = (uint8_t)(clock_now_us() * 2654435761u >> (i % 24));
            }
            auth_set_keys((enum auth_class)c,
                          (const uint8_t(*)[AUTH_KEY_BYTES])k, 1,
                          AUTH_ROLE_CLIENT);
        }
    } else if (strcmp(keys, "none") == 0) {
        auth_reset();
    }
}

int main(int argc, char **argv)
{
    struct h_opts o;
    if (h_parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: hostile --config FILE [--seconds S] "
                        "[--rate DATAGRAMS_PER_S] [--seed N] "
                        "[--impersonate DOWN_MEMBER_ID] "
                        "[--keys cluster|client|wrong|none]\n");
        return 2;
    }
    static struct hostile h;
    rng_init(&h.rng, o.seed);
    if (h_open(&h, o.config) != 0 ||
        (o.impersonate != 0 && h_open_impersonate(&h, o.impersonate) != 0)) {
        return 4;
    }
    h_use_keys(o.keys);
    printf("hostile: seed %llu, %llu datagrams/s for %llu s to %u nodes, "
           "keys: %s\n",
           o.seed, o.rate, o.seconds, h.conf.n_members, o.keys);
    h_run(&h, &o);
    if (o.impersonate != 0) {
        printf("hostile: sent %llu well-formed peer messages as member %llu "
               "(%llu skipped)\n",
               (unsigned long long)h.n_imp, o.impersonate,
               (unsigned long long)h.skipped);
        return 0;
    }
    uint64_t total = 0;
    for (int k = 0; k < H_KINDS; k++) {
        printf("  %-17s %llu\n", h_names[k], (unsigned long long)h.sent[k]);
        total += h.sent[k];
    }
    printf("hostile: sent %llu datagrams (%llu skipped), %llu forged fault "
           "controls\n",
           (unsigned long long)total, (unsigned long long)h.skipped,
           (unsigned long long)h.n_faults);
    return 0;
}
