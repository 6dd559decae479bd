/*
 * `raftctl bench`: CLIENTS closed-loop clients, each a client_session
 * (common/client_session.h) with one request outstanding, all sharing one UDP
 * socket and one poll() loop. A request completes, its latency goes into a
 * histogram (launcher/bench_hist.c) and the session starts the next one at
 * once. Completions during the warm-up are not counted. Keys are "k%07u"
 * drawn uniformly from --keys (with --sequential, in order, wrapping
 * around: every key written once before any twice); a fraction --reads of the requests are
 * linearizable GETs, the rest PUTs of --size bytes. Never touches the
 * cluster other than through the client protocol. Read
 * launcher/bench_hist.h next.
 */
#include "launcher/bench.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/client_session.h"
#include "common/clock.h"
#include "common/invariant.h"
#include "common/rng.h"
#include "common/udp.h"
#include "common/wire.h"
#include "launcher/bench_hist.h"
#include "launcher/cluster_dir.h"
#include "launcher/raftctl.h"
#include "launcher/up_options.h"

#define BENCH_CLIENTS_MAX 1024
#define BENCH_DURATION_S_MAX 86400
#define BENCH_KEYS_MAX 100000000u
#define BENCH_TIMEOUT_MS_DEFAULT 5000
#define BENCH_TIMEOUT_MS_MAX 3600000
#define BENCH_DRAIN_MAX 512 /* Datagrams handled per wakeup. */
#define BENCH_KEY_CAP 16    /* "k" + up to 9 digits + NUL. */
#define BENCH_PROGRESS_US 1000000

enum bench_opt {
    OPT_CLIENTS,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_SIZE,
    OPT_KEYS,
    OPT_READS,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_NO_BATCH,
    OPT_SEQUENTIAL,
    OPT__COUNT
};

static const struct ctl_opt bench_opts[OPT__COUNT] = {
    [OPT_CLIENTS] = {"--clients", "-c", true},
    [OPT_DURATION] = {"--duration", NULL, true},
    [OPT_WARMUP] = {"--warmup", NULL, true},
    [OPT_SIZE] = {"--size", NULL, true},
    [OPT_KEYS] = {"--keys", NULL, true},
    [OPT_READS] = {"--reads", NULL, true},
    [OPT_TIMEOUT] = {"--timeout", NULL, true},
    [OPT_JSON] = {"--json", NULL, false},
    [OPT_NO_BATCH] = {"--no-batch", NULL, false},
    [OPT_SEQUENTIAL] = {"--sequential", NULL, false},
};

struct bench_config {
    uint32_t clients;
    uint32_t duration_s;
    uint32_t warmup_s;
    uint32_t size;
    uint32_t keys;
    uint32_t read_ppm; /* Fraction of reads, in millionths. */
    uint32_t timeout_ms;
    bool json;
    bool no_batch;   /* One datagram per request, as separate
                      * client processes would send. */
    bool sequential; /* Keys in order rather than drawn at random. */
};

/* One closed-loop client: a session and the key of its current request. */
struct bench_slot {
    struct client_session s;
    uint64_t indexed_id; /* The client_id the index finds this slot by. */
    bool is_read;
    uint32_t key_len;
    uint8_t key[BENCH_KEY_CAP];
};

/* What the measured window saw. */
struct bench_totals {
    struct bench_hist all;
    struct bench_hist writes;
    struct bench_hist reads;
    uint64_t errors;
    uint64_t timeouts; /* Of the errors: no leader answered in time. */
    uint64_t refused;  /* Of the errors: the cluster said invalid. */
    uint64_t expired;  /* Of the errors: session expired, outcome unknown. */
};

struct bench {
    struct bench_config cfg;
    uint32_t n_members;
    int fd;
    struct outbox outbox; /* Every session's requests, per wakeup. */
    struct bench_slot *slots;
    uint32_t *index; /* client_id hash -> slot + 1; 0 is empty. */
    uint32_t index_mask;
    uint8_t *value; /* cfg.size bytes, shared by every PUT. */
    uint8_t *rx_buf;
    struct wire_scratch *scratch;
    struct rng rng;
    uint64_t next_key; /* --sequential: the next key's number. */
    uint64_t start_us;
    uint64_t measure_us; /* End of the warm-up. */
    uint64_t end_us;
    struct bench_totals *tot;
    /* Progress: completions since the last line. */
    bool is_tty;
    uint64_t next_progress_us;
    uint64_t tick_ops;
    uint64_t tick_errors;
    uint64_t total_errors; /* Warm-up included, for the progress line. */
    uint64_t warmup_unavailable; /* Outside the window: timeouts, expired. */
};

/* ---- Options ---------------------------------------------------------- */

/* "0.25", "25%", "1": a fraction in [0, 1] as millionths. */
static int parse_fraction(const char *text, uint32_t *ppm)
{
    if (text == NULL || text[0] == '\0') {
        return ERR_INVALID;
    }
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (errno != 0 || end == text) {
        return ERR_INVALID;
    }
    if (*end == '%' && end[1] == '\0') {
        v /= 100.0;
    } else if (*end != '\0') {
        return ERR_INVALID;
    }
    if (!(v >= 0.0 && v <= 1.0)) {
        return ERR_INVALID;
    }
    *ppm = (uint32_t)(v * 1e6 + 0.5);
    return ERR_OK;
}

/* One numeric option into *out (unchanged when not given). Returns an
 * exit code after printing the error. */
static int parse_num(const struct ctl_args *a, int opt, uint64_t min,
                     uint64_t max, const char *what, uint32_t *out)
{
    if (!a->given[opt]) {
        return CTL_EXIT_OK;
    }
    uint64_t v = 0;
    if (ctl_parse_u64(a->val[opt], min, max, &v) != ERR_OK) {
        ctl_error("bench: %s must be %s, %" PRIu64 " to %" PRIu64,
                  bench_opts[opt].name, what, min, max);
        return CTL_EXIT_USAGE;
    }
    *out = (uint32_t)v;
    return CTL_EXIT_OK;
}

/* Fills cfg from the command line. Returns an exit code. */
static int bench_parse(const struct ctl_args *a, struct bench_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->clients = 1;
    cfg->duration_s = 10;
    cfg->warmup_s = 1;
    cfg->size = 100;
    cfg->keys = 10000;
    cfg->timeout_ms = BENCH_TIMEOUT_MS_DEFAULT;
    cfg->json = a->given[OPT_JSON];
    cfg->no_batch = a->given[OPT_NO_BATCH];
    cfg->sequential = a->given[OPT_SEQUENTIAL];
    if (a->n_pos != 0) {
        ctl_error("bench: unexpected argument '%s' (usage: raftctl bench "
                  "[-c CLIENTS] [--duration S] [--size BYTES] [--reads R] "
                  "[--keys N] [--warmup S] [--timeout MS] [--no-batch] "
                  "[--sequential] [--json])",
                  a->pos[0]);
        return CTL_EXIT_USAGE;
    }
    int rc = parse_num(a, OPT_CLIENTS, 1, BENCH_CLIENTS_MAX,
                       "a number of clients", &cfg->clients);
    if (rc == CTL_EXIT_OK) {
        rc = parse_num(a, OPT_DURATION, 1, BENCH_DURATION_S_MAX,
                       "a number of seconds", &cfg->duration_s);
    }
    if (rc == CTL_EXIT_OK) {
        rc = parse_num(a, OPT_WARMUP, 0, 3600, "a number of seconds",
                       &cfg->warmup_s);
    }
    if (rc == CTL_EXIT_OK) {
        rc = parse_num(a, OPT_SIZE, 0, RAFT_VALUE_MAX, "a value size in bytes",
                       &cfg->size);
    }
    if (rc == CTL_EXIT_OK) {
        rc = parse_num(a, OPT_KEYS, 1, BENCH_KEYS_MAX, "a number of keys",
                       &cfg->keys);
    }
    if (rc == CTL_EXIT_OK) {
        rc = parse_num(a, OPT_TIMEOUT, 1, BENCH_TIMEOUT_MS_MAX,
                       "a number of milliseconds", &cfg->timeout_ms);
    }
    if (rc == CTL_EXIT_OK && a->given[OPT_READS] &&
        parse_fraction(a->val[OPT_READS], &cfg->read_ppm) != ERR_OK) {
        ctl_error("bench: --reads must be a fraction from 0 to 1 (0.2) or a "
                  "percentage (20%%)");
        rc = CTL_EXIT_USAGE;
    }
    return rc;
}

/* ---- Setup ------------------------------------------------------------ */

/* Slot whose session has client_id, or NULL. */
static struct bench_slot *bench_lookup(const struct bench *b, uint64_t id)
{
    for (uint32_t k = 0; k <= b->index_mask; k++) {
        uint32_t v = b->index[(id + k) & b->index_mask];
        if (v == 0) {
            return NULL;
        }
        if (b->slots[v - 1].s.client_id == id) {
            return &b->slots[v - 1];
        }
    }
    return NULL;
}

/* Fills the index afresh from the slots' client ids. A session changes its
 * id when it starts a new one (common/client_session.h): rarely, so a
 * rebuild of the whole index then is cheap enough. */
static void bench_reindex(struct bench *b)
{
    memset(b->index, 0, ((size_t)b->index_mask + 1) * sizeof(*b->index));
    for (uint32_t i = 0; i < b->cfg.clients; i++) {
        uint64_t id = b->slots[i].s.client_id;
        b->slots[i].indexed_id = id;
        uint32_t k = 0;
        while (b->index[(id + k) & b->index_mask] != 0) {
            k++;
        }
        b->index[(id + k) & b->index_mask] = i + 1;
    }
}

/* Builds the client_id index (open addressing, load at most one half). */
static int bench_index(struct bench *b)
{
    uint32_t cap = 2;
    while (cap < 2 * b->cfg.clients) {
        cap *= 2;
    }
    b->index = calloc(cap, sizeof(*b->index));
    if (b->index == NULL) {
        return ERR_NOMEM;
    }
    b->index_mask = cap - 1;
    bench_reindex(b);
    return ERR_OK;
}

/* Keeps the index current after the slot's session may have started a
 * new one. */
static void bench_track_id(struct bench *b, const struct bench_slot *sl)
{
    if (sl->s.client_id != sl->indexed_id) {
        bench_reindex(b);
    }
}

/* Opens the socket and every session. Errors: ERR_NOMEM, ERR_IO,
 * ERR_INVALID, with errmsg. */
static int bench_open(struct bench *b, const struct conf *conf,
                      char errmsg[ERRMSG_LEN])
{
    b->n_members = conf->n_members;
    b->slots = calloc(b->cfg.clients, sizeof(*b->slots));
    b->value = malloc(b->cfg.size > 0 ? b->cfg.size : 1);
    b->rx_buf = malloc(RAFT_DATAGRAM_MAX);
    b->scratch = malloc(sizeof(*b->scratch));
    b->tot = calloc(1, sizeof(*b->tot));
    if (b->slots == NULL || b->value == NULL || b->rx_buf == NULL ||
        b->scratch == NULL || b->tot == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        return ERR_NOMEM;
    }
    for (uint32_t i = 0; i < b->cfg.size; i++) {
        b->value[i] = (uint8_t)('a' + i % 26);
    }
    struct raft_addr first;
    char inner[ERRMSG_LEN] = "";
    int rc = udp_resolve(conf->members[0].host, conf->members[0].port, &first,
                         inner);
    if (rc == ERR_OK) {
        rc = udp_open_client(&first, &b->fd, inner);
    }
    if (rc != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%s", inner);
        return rc;
    }
    outbox_init(&b->outbox, b->fd, conf->cluster_id, RAFT_ID_NONE);
    for (uint32_t i = 0; i < b->cfg.clients; i++) {
        rc = client_session_init(&b->slots[i].s, conf, b->fd, errmsg);
        if (rc != ERR_OK) {
            return rc;
        }
        if (!b->cfg.no_batch) {
            b->slots[i].s.outbox = &b->outbox;
        }
    }
    uint64_t seed = b->slots[0].s.client_id ^ clock_now_us();
    rng_init(&b->rng, seed);
    bench_hist_init(&b->tot->all);
    bench_hist_init(&b->tot->writes);
    bench_hist_init(&b->tot->reads);
    return bench_index(b);
}

static void bench_close(struct bench *b)
{
    if (b->slots != NULL) {
        for (uint32_t i = 0; i < b->cfg.clients; i++) {
            client_session_close(&b->slots[i].s);
        }
    }
    outbox_free(&b->outbox);
    if (b->fd >= 0) {
        udp_close(b->fd);
    }
    free(b->tot);
    free(b->scratch);
    free(b->rx_buf);
    free(b->value);
    free(b->index);
    free(b->slots);
}

/* ---- The closed loop -------------------------------------------------- */

/* Starts the slot's next request: a random key (the next one with
 * --sequential), a read with probability read_ppm. */
static void bench_start(struct bench *b, struct bench_slot *sl, uint64_t now_ms)
{
    uint64_t k = rng_range(&b->rng, 0, b->cfg.keys);
    if (b->cfg.sequential) {
        k = b->next_key;
        b->next_key = (b->next_key + 1) % b->cfg.keys;
    }
    int n = snprintf((char *)sl->key, BENCH_KEY_CAP, "k%07" PRIu64, k);
    ASSERT(n > 0 && n < BENCH_KEY_CAP);
    sl->key_len = (uint32_t)n;
    sl->is_read =
        b->cfg.read_ppm > 0 && rng_chance_ppm(&b->rng, b->cfg.read_ppm) != 0;
    struct client_request req;
    memset(&req, 0, sizeof(req));
    req.op = sl->is_read ? CLIENT_GET : CLIENT_PUT;
    req.key = sl->key;
    req.key_len = sl->key_len;
    if (!sl->is_read) {
        req.value = b->value;
        req.value_len = b->cfg.size;
    }
    int rc = client_session_start(&sl->s, &req, b->cfg.timeout_ms, now_ms);
    ASSERT(rc == ERR_OK); /* Sizes were checked; the session was idle. */
    bench_track_id(b, sl);
}

/* Records the slot's completed request (inside the measured window only)
 * and starts the next one unless the run is over. */
static void bench_complete(struct bench *b, struct bench_slot *sl)
{
    uint64_t now_us = clock_now_us();
    const struct client_session *s = &sl->s;
    bool is_expired = s->err == ERR_OK && s->status == CLIENT_SESSION_EXPIRED;
    bool ok = s->err == ERR_OK && !is_expired;
    if (ok) {
        b->tick_ops++;
    } else {
        b->tick_errors++;
        b->total_errors++;
    }
    bool measured = now_us >= b->measure_us && now_us < b->end_us;
    if (!ok && !measured) {
        b->warmup_unavailable += s->err == ERR_TIMEOUT || is_expired;
    }
    if (measured) {
        struct bench_totals *t = b->tot;
        if (ok) {
            uint64_t us = now_us > s->started_us ? now_us - s->started_us : 0;
            bench_hist_add(&t->all, us);
            bench_hist_add(sl->is_read ? &t->reads : &t->writes, us);
        } else {
            t->errors++;
            t->timeouts += s->err == ERR_TIMEOUT;
            t->refused += s->err == ERR_INVALID;
            t->expired += is_expired;
        }
    }
    if (now_us < b->end_us) {
        bench_start(b, sl, now_us / 1000);
    }
}

/* Hands one reply to its session; completes the slot when it ends. */
static void bench_on_reply(void *ctx, raft_id from,
                           const struct msg_client_reply *reply)
{
    struct bench *b = ctx;
    struct bench_slot *sl = bench_lookup(b, reply->client_id);
    if (sl == NULL ||
        !client_session_on_reply(&sl->s, from, reply, clock_now_ms())) {
        return;
    }
    bench_track_id(b, sl);
    if (client_session_done(&sl->s)) {
        bench_complete(b, sl);
    }
}

/* Receives every waiting datagram and hands its replies to their
 * sessions. */
static void bench_drain(struct bench *b)
{
    for (int k = 0; k < BENCH_DRAIN_MAX; k++) {
        size_t len = 0;
        struct raft_addr from;
        int rc = udp_recv(b->fd, b->rx_buf, RAFT_DATAGRAM_MAX, &len, &from);
        if (rc == ERR_AGAIN || rc == ERR_IO) {
            return;
        }
        if (rc == ERR_OK) {
            (void)client_each_reply(b->rx_buf, len, b->slots[0].s.cluster_id,
                                    b->scratch, bench_on_reply, b);
        }
    }
}

/* Fires due session timers (retries, deadlines). Returns the earliest
 * pending timer in ms. */
static uint64_t bench_timers(struct bench *b, uint64_t now_ms)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < b->cfg.clients; i++) {
        struct bench_slot *sl = &b->slots[i];
        if (client_session_next_ms(&sl->s) <= now_ms) {
            client_session_on_timeout(&sl->s, now_ms);
            if (client_session_done(&sl->s)) {
                bench_complete(b, sl);
            }
        }
        uint64_t due = client_session_next_ms(&sl->s);
        if (due < next) {
            next = due;
        }
    }
    return next;
}

/* The once-a-second progress line on stderr: redrawn in place on a
 * terminal, one line per second otherwise. */
static void bench_progress(struct bench *b, uint64_t now_us, bool last)
{
    if (!last && now_us < b->next_progress_us) {
        return;
    }
    if (last) {
        if (b->is_tty) {
            fputs("\r\033[K", stderr);
        }
        return;
    }
    uint64_t elapsed_s = (now_us - b->start_us) / 1000000;
    uint64_t total_s = (b->end_us - b->start_us) / 1000000;
    fprintf(stderr,
            "%sbench: %3" PRIu64 "/%" PRIu64 " s  %8" PRIu64
            " ops/s  errors %" PRIu64 "%s%s",
            b->is_tty ? "\r\033[K" : "", elapsed_s, total_s, b->tick_ops,
            b->total_errors, now_us < b->measure_us ? "  (warm-up)" : "",
            b->is_tty ? "" : "\n");
    fflush(stderr);
    b->tick_ops = 0;
    b->tick_errors = 0;
    b->next_progress_us += BENCH_PROGRESS_US;
    if (b->next_progress_us <= now_us) {
        b->next_progress_us = now_us + BENCH_PROGRESS_US;
    }
}

/* Milliseconds poll() may sleep: until the next session timer, progress
 * line or the end, rounded up. */
static int bench_wait_ms(const struct bench *b, uint64_t now_us,
                         uint64_t next_timer_ms)
{
    uint64_t until_us = b->end_us;
    if (b->next_progress_us < until_us) {
        until_us = b->next_progress_us;
    }
    if (next_timer_ms != UINT64_MAX && next_timer_ms * 1000 < until_us) {
        until_us = next_timer_ms * 1000;
    }
    if (until_us <= now_us) {
        return 0;
    }
    uint64_t ms = (until_us - now_us + 999) / 1000;
    return ms > 1000 ? 1000 : (int)ms;
}

/* Runs the closed loop until end_us. Errors: ERR_IO (poll failed). */
static int bench_loop(struct bench *b)
{
    b->start_us = clock_now_us();
    b->measure_us = b->start_us + (uint64_t)b->cfg.warmup_s * 1000000;
    b->end_us = b->measure_us + (uint64_t)b->cfg.duration_s * 1000000;
    b->next_progress_us = b->start_us + BENCH_PROGRESS_US;
    for (uint32_t i = 0; i < b->cfg.clients; i++) {
        bench_start(b, &b->slots[i], b->start_us / 1000);
    }
    uint64_t next_timer_ms = 0;
    for (;;) {
        outbox_send(&b->outbox); /* What this round started or retried. */
        uint64_t now_us = clock_now_us();
        if (now_us >= b->end_us) {
            break;
        }
        struct pollfd pfd = {.fd = b->fd, .events = POLLIN, .revents = 0};
        int n = poll(&pfd, 1, bench_wait_ms(b, now_us, next_timer_ms));
        if (n < 0 && errno != EINTR) {
            return ERR_IO;
        }
        if (n > 0) {
            bench_drain(b);
        }
        now_us = clock_now_us();
        next_timer_ms = bench_timers(b, now_us / 1000);
        bench_progress(b, now_us, false);
    }
    bench_progress(b, 0, true);
    return ERR_OK;
}

/* ---- Report ----------------------------------------------------------- */

/* Microseconds as milliseconds with two decimals. */
static double ms_of(uint64_t us)
{
    return (double)us / 1000.0;
}

static void bench_print_text(const struct bench *b, double seconds)
{
    const struct bench_totals *t = b->tot;
    const struct bench_hist *h = &t->all;
    const struct bench_config *c = &b->cfg;
    printf("bench: %u clients, %u members, %u-byte values over %u keys, "
           "%.0f%% reads, %u s after %u s warm-up\n",
           c->clients, b->n_members, c->size, c->keys,
           (double)c->read_ppm / 1e4, c->duration_s, c->warmup_s);
    printf("ops         %" PRIu64 " (%" PRIu64 " writes, %" PRIu64
           " reads) in %.2f s\n",
           h->n, t->writes.n, t->reads.n, seconds);
    if (c->sequential) {
        printf("keys        in order, wrapping around (--sequential)\n");
    }
    if (c->no_batch) {
        printf("datagrams   one per request (--no-batch)\n");
    } else {
        printf("datagrams   %" PRIu64 " carried every request, warm-up "
               "included (one per member and loop round)\n",
               b->outbox.n_datagrams);
    }
    printf("throughput  %.0f ops/s\n",
           seconds > 0 ? (double)h->n / seconds : 0.0);
    printf("latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f"
           "  mean %.3f\n",
           ms_of(bench_hist_percentile(h, 0.50)),
           ms_of(bench_hist_percentile(h, 0.90)),
           ms_of(bench_hist_percentile(h, 0.99)),
           ms_of(bench_hist_percentile(h, 0.999)), ms_of(h->max_us),
           ms_of(bench_hist_mean(h)));
    const struct bench_hist *kinds[2] = {&t->writes, &t->reads};
    const char *names[2] = {"writes", "reads"};
    for (int i = 0; i < 2 && t->writes.n > 0 && t->reads.n > 0; i++) {
        printf("  %-8s  p50 %.3f  p99 %.3f  max %.3f\n", names[i],
               ms_of(bench_hist_percentile(kinds[i], 0.50)),
               ms_of(bench_hist_percentile(kinds[i], 0.99)),
               ms_of(kinds[i]->max_us));
    }
    printf("errors      %" PRIu64 " (timeouts %" PRIu64 ", refused %" PRIu64
           ", session expired %" PRIu64 ", other %" PRIu64 ")\n",
           t->errors, t->timeouts, t->refused, t->expired,
           t->errors - t->timeouts - t->refused - t->expired);
    /* Each client registers once (docs/SESSIONS.md); more registrations
     * mean the cluster evicted sessions in use: the members' --max-sessions
     * is below the clients, and writes pay a register each. */
    uint64_t n_registers = 0;
    for (uint32_t i = 0; i < b->cfg.clients; i++) {
        n_registers += b->slots[i].s.n_registers;
    }
    printf("sessions    %" PRIu64 " registered by %u clients%s\n", n_registers,
           b->cfg.clients,
           n_registers > b->cfg.clients
               ? " (sessions were evicted in use: is --max-sessions below "
                 "the clients?)"
               : "");
}

static void bench_print_json(const struct bench *b, double seconds)
{
    const struct bench_totals *t = b->tot;
    const struct bench_hist *h = &t->all;
    const struct bench_config *c = &b->cfg;
    printf("{\"ops\":%" PRIu64 ",\"seconds\":%.3f,\"ops_per_sec\":%.1f,"
           "\"p50_us\":%" PRIu64 ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
           ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64
           ",\"mean_us\":%" PRIu64 ",\"errors\":%" PRIu64
           ",\"timeouts\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"writes\":%" PRIu64
           ",\"read_p50_us\":%" PRIu64 ",\"read_p99_us\":%" PRIu64
           ",\"write_p50_us\":%" PRIu64 ",\"write_p99_us\":%" PRIu64
           ",\"clients\":%u,\"members\":%u,"
           "\"size\":%u,\"keys\":%u,\"read_fraction\":%.4f,\"warmup\":%u,"
           "\"batch\":%s,\"sequential\":%s}\n",
           h->n, seconds, seconds > 0 ? (double)h->n / seconds : 0.0,
           bench_hist_percentile(h, 0.50), bench_hist_percentile(h, 0.90),
           bench_hist_percentile(h, 0.99), bench_hist_percentile(h, 0.999),
           h->max_us, bench_hist_mean(h), t->errors, t->timeouts, t->reads.n,
           t->writes.n, bench_hist_percentile(&t->reads, 0.50),
           bench_hist_percentile(&t->reads, 0.99),
           bench_hist_percentile(&t->writes, 0.50),
           bench_hist_percentile(&t->writes, 0.99), c->clients, b->n_members,
           c->size, c->keys, (double)c->read_ppm / 1e6, c->warmup_s,
           c->no_batch ? "false" : "true", c->sequential ? "true" : "false");
}

/* ---- The command ------------------------------------------------------ */

/* The exit code, with one line on stderr for a run where any operation
 * failed (issue 19: a bench whose operations were refused must not exit
 * 0). Failures that are all timeouts or expired sessions are unavailability
 * (3); refusals and other errors exit 4. Requests still in flight at the
 * end are neither. */
static int bench_verdict(const struct bench *b)
{
    const struct bench_totals *t = b->tot;
    if (t->all.n == 0 && t->expired * 2 > t->errors) {
        /* More clients than the cluster keeps sessions: each client's
         * session is evicted by the others' registrations before its
         * write lands (docs/SESSIONS.md). */
        ctl_error("bench: no request completed: %" PRIu64 " of %" PRIu64
                  " errors were expired sessions; the cluster's "
                  "--max-sessions is below %u clients (raise it with "
                  "'raftctl up --max-sessions', or run fewer clients)",
                  t->expired, t->errors, b->cfg.clients);
        return CTL_EXIT_UNAVAILABLE;
    }
    if (t->all.n == 0) {
        ctl_error("bench: no request completed (%" PRIu64 " errors); is "
                  "the cluster up? see 'raftctl status'",
                  b->total_errors);
        return CTL_EXIT_UNAVAILABLE;
    }
    if (b->total_errors == 0) {
        return CTL_EXIT_OK;
    }
    bool unavailable = t->errors == t->timeouts + t->expired &&
                       b->total_errors == t->errors + b->warmup_unavailable;
    ctl_error("bench: %" PRIu64 " operation(s) failed (%" PRIu64
              " in the measured window: timeouts %" PRIu64 ", refused %" PRIu64
              ", session expired %" PRIu64 "; %" PRIu64 " during the warm-up); "
              "%" PRIu64 " completed",
              b->total_errors, t->errors, t->timeouts, t->refused, t->expired,
              b->total_errors - t->errors, t->all.n);
    return unavailable ? CTL_EXIT_UNAVAILABLE : CTL_EXIT_ERROR;
}

/* Checks that one request of the configured shape passes the client's
 * limits, so the loop never sees a refused start. Returns an exit code. */
static int bench_check_shape(const struct bench_config *cfg)
{
    static const uint8_t key[] = "k0000000";
    struct client_request req = {.op = CLIENT_PUT,
                                 .key = key,
                                 .key_len = sizeof(key) - 1,
                                 .value = key,
                                 .value_len = cfg->size};
    char errmsg[ERRMSG_LEN] = "";
    if (client_request_check(&req, errmsg) != ERR_OK) {
        ctl_error("bench: %s", errmsg);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

/* Refuses more clients than the cluster keeps sessions (--max-sessions
 * recorded in DIR/options; 0 is unbounded): they would evict each other's
 * sessions and stall. Returns an exit code. */
static int bench_check_sessions(const struct cdir *d, uint32_t clients)
{
    struct up_options o;
    char errmsg[ERRMSG_LEN] = "";
    if (up_options_load(d, &o, errmsg) != ERR_OK) {
        ctl_error("bench: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    uint64_t max = o.val[UP_OPT_MAX_SESSIONS];
    if (o.is_set[UP_OPT_MAX_SESSIONS] && max > 0 && clients > max) {
        ctl_error("bench: %u clients need %u sessions, but the cluster keeps "
                  "%" PRIu64 " (--max-sessions in %s/options): they would "
                  "evict each other's; run at most %" PRIu64 " clients, or "
                  "raise it with 'raftctl up --max-sessions'",
                  clients, clients, max, d->shown, max);
        return CTL_EXIT_USAGE;
    }
    return CTL_EXIT_OK;
}

int cmd_bench(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "bench", .dir = dir};
    int rc = ctl_parse(argc, argv, bench_opts, OPT__COUNT, &a);
    struct bench b;
    memset(&b, 0, sizeof(b));
    b.fd = -1;
    if (rc == CTL_EXIT_OK) {
        rc = bench_parse(&a, &b.cfg);
    }
    if (rc == CTL_EXIT_OK) {
        rc = bench_check_shape(&b.cfg);
    }
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct cdir d;
    struct conf conf;
    char errmsg[ERRMSG_LEN] = "";
    if (cdir_resolve(a.dir, &d, errmsg) != ERR_OK ||
        cdir_load(&d, &conf, errmsg) != ERR_OK) {
        ctl_error("bench: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    rc = bench_check_sessions(&d, b.cfg.clients);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (bench_open(&b, &conf, errmsg) != ERR_OK) {
        ctl_error("bench: %s", errmsg);
        bench_close(&b);
        return CTL_EXIT_ERROR;
    }
    b.is_tty = isatty(STDERR_FILENO) != 0;
    rc = CTL_EXIT_OK;
    if (bench_loop(&b) != ERR_OK) {
        ctl_error("bench: poll: %s", strerror(errno));
        rc = CTL_EXIT_ERROR;
    } else {
        double seconds = (double)(b.end_us - b.measure_us) / 1e6;
        if (b.cfg.json) {
            bench_print_json(&b, seconds);
        } else {
            bench_print_text(&b, seconds);
        }
        rc = bench_verdict(&b);
    }
    fflush(stdout);
    bench_close(&b);
    return rc;
}
