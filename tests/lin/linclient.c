/*
 * linclient: the client side of the nemesis test. It runs N client
 * sessions of common/client_session.h in one poll() loop over one UDP socket, each
 * doing random put/get/cas/del on a handful of keys with values unique to
 * the run, and appends every completed operation to a history file in the
 * tests/lin/lin_history.h format, with invoke and return times from
 * CLOCK_MONOTONIC (microseconds; shared by every process of the machine).
 * A request that times out, or a write answered SESSION_EXPIRED after more
 * than one attempt, is recorded with an unknown outcome. --final
 * reads every key once (long timeout) and prints "KEY VALUE" lines.
 * Read tests/lin/hostile.c next.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/client_session.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/rng.h"
#include "common/udp.h"

#define LC_CLIENTS_MAX 64
#define LC_KEYS_MAX 64
#define LC_TOKEN_MAX 64

struct lc_options {
    const char *config;
    const char *out;
    const char *prefix;
    uint32_t n_clients;
    uint32_t n_keys;
    uint32_t duration_ms;
    uint32_t timeout_ms;
    uint64_t seed;
    int final;
};

/* One session and the operation it has outstanding. */
struct lc_client {
    struct client_session s;
    uint32_t proc;
    uint32_t index;
    uint64_t call_us;
    uint8_t op;
    uint32_t key;
    char value[LC_TOKEN_MAX];
    char expected[LC_TOKEN_MAX];
    uint64_t n_issued;
    int active;
};

struct lc {
    struct lc_options opt;
    struct conf conf;
    int fd;
    FILE *out;
    struct rng rng;
    struct lc_client *clients;
    char keys[LC_KEYS_MAX][LC_TOKEN_MAX];
    char last[LC_KEYS_MAX][LC_TOKEN_MAX]; /* Last value seen per key. */
    uint64_t n_ok, n_unknown, n_anomalies;
    uint64_t n_expired; /* Unknown outcomes answered SESSION_EXPIRED. */
    uint64_t n_by_op[5];
};

static void usage(void)
{
    fprintf(stderr,
            "usage: linclient --config FILE --out HISTORY [--clients N] "
            "[--keys K] [--duration S] [--timeout MS] [--prefix P] "
            "[--seed N] [--final]\n");
}

static int parse_u(const char *s, unsigned long long max,
                   unsigned long long *out)
{
    char *end = NULL;
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' && *out <= max ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct lc_options *o)
{
    memset(o, 0, sizeof *o);
    o->prefix = "";
    o->n_clients = 8;
    o->n_keys = 4;
    o->duration_ms = 10000;
    o->timeout_ms = 2000;
    o->seed = clock_now_us();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n = 0;
        if (strcmp(a, "--final") == 0) {
            o->final = 1;
            continue;
        }
        if (v == NULL) {
            return -1;
        }
        i++;
        if (strcmp(a, "--config") == 0) {
            o->config = v;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--prefix") == 0 && strlen(v) < 16 &&
                   strpbrk(v, " \t\n") == NULL) {
            o->prefix = v;
        } else if (strcmp(a, "--clients") == 0 &&
                   parse_u(v, LC_CLIENTS_MAX, &n) == 0 && n > 0) {
            o->n_clients = (uint32_t)n;
        } else if (strcmp(a, "--keys") == 0 &&
                   parse_u(v, LC_KEYS_MAX, &n) == 0 && n > 0) {
            o->n_keys = (uint32_t)n;
        } else if (strcmp(a, "--duration") == 0 && parse_u(v, 3600, &n) == 0) {
            o->duration_ms = (uint32_t)n * 1000;
        } else if (strcmp(a, "--timeout") == 0 && parse_u(v, 600000, &n) == 0 &&
                   n > 0) {
            o->timeout_ms = (uint32_t)n;
        } else if (strcmp(a, "--seed") == 0 &&
                   parse_u(v, UINT64_MAX, &n) == 0) {
            o->seed = n;
        } else {
            return -1;
        }
    }
    return o->config != NULL && o->out != NULL ? 0 : -1;
}

/* Picks and starts the next operation of client c. */
static void lc_start(struct lc *lc, struct lc_client *c)
{
    uint32_t k = (uint32_t)rng_range(&lc->rng, 0, lc->opt.n_keys);
    uint64_t roll = rng_range(&lc->rng, 0, 100);
    uint8_t op = roll < 40   ? CLIENT_GET
                 : roll < 70 ? CLIENT_PUT
                 : roll < 95 ? CLIENT_CAS
                             : CLIENT_DEL;
    if (lc->opt.final) {
        op = CLIENT_GET;
        k = c->index % lc->opt.n_keys;
    }
    if (op == CLIENT_CAS && lc->last[k][0] == '\0') {
        op = CLIENT_PUT; /* Nothing to compare with yet. */
    }
    c->op = op;
    c->key = k;
    c->n_issued++;
    snprintf(c->value, sizeof c->value, "%sv%u.%llu", lc->opt.prefix, c->proc,
             (unsigned long long)c->n_issued);
    snprintf(c->expected, sizeof c->expected, "%s", lc->last[k]);
    struct client_request req;
    memset(&req, 0, sizeof req);
    req.op = op;
    req.key = (const uint8_t *)lc->keys[k];
    req.key_len = (uint32_t)strlen(lc->keys[k]);
    if (op == CLIENT_PUT || op == CLIENT_CAS) {
        req.value = (const uint8_t *)c->value;
        req.value_len = (uint32_t)strlen(c->value);
    }
    if (op == CLIENT_CAS) {
        req.expected = (const uint8_t *)c->expected;
        req.expected_len = (uint32_t)strlen(c->expected);
    }
    c->call_us = clock_now_us();
    int rv =
        client_session_start(&c->s, &req, lc->opt.timeout_ms, clock_now_ms());
    if (rv != ERR_OK) {
        fprintf(stderr, "linclient: cannot start a request: %s\n", err_str(rv));
        exit(4);
    }
    c->active = 1;
}

/* The outcome token(s) of a completed request, or NULL for an answer that
 * makes no sense for the op (counted as an anomaly). */
static const char *lc_outcome(struct lc *lc, struct lc_client *c, char *result,
                              size_t cap)
{
    const struct client_session *s = &c->s;
    if (s->err == ERR_TIMEOUT) {
        return "unknown";
    }
    if (s->err == ERR_OK && s->status == CLIENT_SESSION_EXPIRED) {
        /* The cluster evicted or never created the session (its first
         * write was lost) and did not run this attempt; an earlier one
         * may have run (client_session.h): unknown, like a timeout. */
        lc->n_expired++;
        return "unknown";
    }
    if (s->err != ERR_OK) {
        return NULL;
    }
    if (c->op == CLIENT_GET && s->status == CLIENT_OK) {
        if (s->value_len == 0 || s->value_len >= cap ||
            memchr(s->value, ' ', s->value_len) != NULL) {
            return NULL;
        }
        memcpy(result, s->value, s->value_len);
        result[s->value_len] = '\0';
        snprintf(lc->last[c->key], LC_TOKEN_MAX, "%s", result);
        return "ok";
    }
    if (c->op == CLIENT_GET && s->status == CLIENT_NOT_FOUND) {
        return "absent";
    }
    if (c->op == CLIENT_CAS && s->status == CLIENT_CAS_MISMATCH) {
        return "fail";
    }
    if (s->status != CLIENT_OK) {
        return NULL;
    }
    if (c->op == CLIENT_PUT || c->op == CLIENT_CAS) {
        snprintf(lc->last[c->key], LC_TOKEN_MAX, "%s", c->value);
    }
    return "ok";
}

/* Appends the completed operation of c to the history. */
static void lc_record(struct lc *lc, struct lc_client *c, uint64_t ret_us)
{
    static const char *const names[] = {"?", "put", "get", "del", "cas"};
    char result[LC_TOKEN_MAX + 1] = "";
    const char *outcome = lc_outcome(lc, c, result, sizeof result);
    c->active = 0;
    if (outcome == NULL) {
        lc->n_anomalies++;
        fprintf(stderr,
                "linclient: unexpected answer err=%s status=%u to %s "
                "%s\n",
                err_str(c->s.err), (unsigned)c->s.status, names[c->op],
                lc->keys[c->key]);
        return;
    }
    int unknown = strcmp(outcome, "unknown") == 0;
    lc->n_unknown += unknown;
    lc->n_ok += !unknown;
    lc->n_by_op[c->op]++;
    char ret[24] = "-";
    if (!unknown) {
        snprintf(ret, sizeof ret, "%llu", (unsigned long long)ret_us);
    }
    fprintf(lc->out, "%u %llu %s %s %s", c->proc,
            (unsigned long long)c->call_us, ret, names[c->op],
            lc->keys[c->key]);
    if (c->op == CLIENT_CAS) {
        fprintf(lc->out, " %s %s", c->expected, c->value);
    } else if (c->op == CLIENT_PUT) {
        fprintf(lc->out, " %s", c->value);
    }
    fprintf(lc->out, " %s%s%s\n", outcome, result[0] != '\0' ? " " : "",
            result);
    if (lc->opt.final) {
        printf("%s %s\n", lc->keys[c->key],
               unknown             ? "?"
               : result[0] != '\0' ? result
                                   : "-");
    }
}

/* Waits for replies or the earliest session deadline, then feeds them. */
static void lc_wait(struct lc *lc, struct client_session **ss, uint8_t *buf,
                    struct wire_scratch *scratch)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < lc->opt.n_clients; i++) {
        uint64_t t = client_session_next_ms(ss[i]);
        next = t < next ? t : next;
    }
    uint64_t now = clock_now_ms();
    int wait = next <= now ? 0 : next - now > 100 ? 100 : (int)(next - now);
    struct pollfd pfd = {.fd = lc->fd, .events = POLLIN, .revents = 0};
    if (poll(&pfd, 1, wait) > 0) {
        client_drain(lc->fd, ss, lc->opt.n_clients, buf, scratch,
                     clock_now_ms());
    }
    now = clock_now_ms();
    for (uint32_t i = 0; i < lc->opt.n_clients; i++) {
        if (!client_session_done(ss[i]) &&
            now >= client_session_next_ms(ss[i])) {
            client_session_on_timeout(ss[i], now);
        }
    }
}

/* The poll loop: keeps every client busy until the duration ends, then
 * lets the outstanding requests finish (or time out). */
static void lc_run(struct lc *lc)
{
    struct client_session *ss[LC_CLIENTS_MAX];
    uint8_t *buf = malloc(RAFT_DATAGRAM_MAX);
    struct wire_scratch *scratch = malloc(sizeof *scratch);
    if (buf == NULL || scratch == NULL) {
        fprintf(stderr, "linclient: out of memory\n");
        exit(4);
    }
    for (uint32_t i = 0; i < lc->opt.n_clients; i++) {
        ss[i] = &lc->clients[i].s;
    }
    uint64_t end_ms = clock_now_ms() + lc->opt.duration_ms;
    int stopping = 0, busy = 1;
    while (!stopping || busy) {
        stopping |= lc->opt.final || clock_now_ms() >= end_ms;
        busy = 0;
        uint64_t now_us = clock_now_us();
        for (uint32_t i = 0; i < lc->opt.n_clients; i++) {
            struct lc_client *c = &lc->clients[i];
            if (c->active && client_session_done(&c->s)) {
                lc_record(lc, c, now_us);
            }
            if (!c->active && (lc->opt.final ? c->n_issued == 0 : !stopping)) {
                lc_start(lc, c);
            }
            busy |= c->active;
        }
        if (busy) {
            lc_wait(lc, ss, buf, scratch);
        }
    }
    free(buf);
    free(scratch);
}

/* Loads the config, opens the socket, the history and the sessions. */
static int lc_open(struct lc *lc)
{
    char errmsg[ERRMSG_LEN] = "";
    struct raft_addr first;
    if (conf_load(lc->opt.config, &lc->conf, errmsg) != ERR_OK ||
        (getenv("RAFT_INSECURE") == NULL &&
         auth_load_beside(lc->opt.config, AUTH_ROLE_CLIENT, true, errmsg) !=
             ERR_OK) ||
        udp_resolve(lc->conf.members[0].host, lc->conf.members[0].port, &first,
                    errmsg) != ERR_OK ||
        udp_open_client(&first, &lc->fd, errmsg) != ERR_OK) {
        fprintf(stderr, "linclient: %s\n", errmsg);
        return -1;
    }
    lc->out = fopen(lc->opt.out, "a");
    lc->clients = calloc(lc->opt.n_clients, sizeof *lc->clients);
    if (lc->out == NULL || lc->clients == NULL) {
        fprintf(stderr, "linclient: %s: %s\n", lc->opt.out, strerror(errno));
        return -1;
    }
    for (uint32_t i = 0; i < lc->opt.n_clients; i++) {
        lc->clients[i].index = i;
        lc->clients[i].proc = (lc->opt.final ? 1000 : 0) + i + 1;
        if (client_session_init(&lc->clients[i].s, &lc->conf, lc->fd, errmsg) !=
            ERR_OK) {
            fprintf(stderr, "linclient: %s\n", errmsg);
            return -1;
        }
    }
    for (uint32_t k = 0; k < lc->opt.n_keys; k++) {
        snprintf(lc->keys[k], LC_TOKEN_MAX, "%sk%u", lc->opt.prefix, k);
    }
    rng_init(&lc->rng, lc->opt.seed);
    return 0;
}

int main(int argc, char **argv)
{
    static struct lc lc;
    if (parse_args(argc, argv, &lc.opt) != 0) {
        usage();
        return 2;
    }
    if (lc.opt.final) {
        lc.opt.n_clients = lc.opt.n_keys; /* One read per key. */
    }
    if (lc_open(&lc) != 0) {
        return 4;
    }
    uint64_t t0 = clock_now_ms();
    lc_run(&lc);
    if (fclose(lc.out) != 0) {
        fprintf(stderr, "linclient: writing %s failed\n", lc.opt.out);
        return 4;
    }
    fprintf(stderr,
            "linclient: %llu ops in %.1f s (%llu answered, %llu unknown, "
            "%llu of them session expired; put %llu get %llu del %llu cas "
            "%llu), %llu anomalies, seed %llu\n",
            (unsigned long long)(lc.n_ok + lc.n_unknown),
            (double)(clock_now_ms() - t0) / 1000.0, (unsigned long long)lc.n_ok,
            (unsigned long long)lc.n_unknown, (unsigned long long)lc.n_expired,
            (unsigned long long)lc.n_by_op[CLIENT_PUT],
            (unsigned long long)lc.n_by_op[CLIENT_GET],
            (unsigned long long)lc.n_by_op[CLIENT_DEL],
            (unsigned long long)lc.n_by_op[CLIENT_CAS],
            (unsigned long long)lc.n_anomalies,
            (unsigned long long)lc.opt.seed);
    if (lc.n_anomalies > 0) {
        return 1;
    }
    return lc.opt.final && lc.n_unknown > 0 ? 3 : 0;
}
