/*
 * Datagram tags, key files and the replay windows (common/auth.h). One
 * process-wide state: the keys held, this run's epoch and counter, the
 * receive windows (per member id, and per epoch for everyone else), the
 * horizons before which no fresh window is opened (one for members, one
 * per home bucket of the epoch table), and, for a node, the
 * key class each client address last used, so a reply carries the
 * request's key. Read common/udp.c next.
 */
#include "common/auth.h"
#include "common/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/msg.h"

#define AUTH_MAGIC 0xA5
#define AUTH_SIGNED_BYTES 30 /* Magic, class, sender, epoch, counter, sent. */
#define AUTH_SENDERS 4096    /* Windows per epoch (clients, operator). */
#define AUTH_MEMBERS 64      /* Windows per member id. */
#define AUTH_PROBES 8
#define AUTH_REPLY_SLOTS 1024
#define AUTH_SENT_MAX 0xffffffffull /* ms an epoch's `sent` can count. */

struct auth_reply_slot {
    struct raft_addr addr;
    uint8_t cls;
    bool used;
};

static struct {
    bool on;
    enum auth_role role;
    uint8_t keys[AUTH__CLASSES][AUTH_KEYS_PER_FILE][AUTH_KEY_BYTES];
    uint32_t n_keys[AUTH__CLASSES];
    uint64_t self_id;
    uint64_t epoch;
    uint64_t epoch_wall_ms; /* Wall clock at the epoch's start... */
    uint64_t epoch_mono_ms; /* ...and the monotonic clock then. */
    uint64_t counter;
    /* No fresh window opens for a datagram sent at or before its
     * horizon: this node's start, or the newest datagram of a window
     * evicted from the same table (members), or of an epoch of the same
     * home bucket (epochs), so client churn cannot hold members out. */
    uint64_t member_horizon_ms;
    uint64_t epoch_horizon_ms[AUTH_SENDERS];
    uint64_t uses;
    struct auth_window members[AUTH_MEMBERS];
    struct auth_window senders[AUTH_SENDERS];
    struct auth_reply_slot replies[AUTH_REPLY_SLOTS];
    uint64_t drops[AUTH_DROP__COUNT];
    /* What auth_load_dir read, for auth_refresh. */
    char dir[4096];
    bool client_only;
    struct stat seen[AUTH__CLASSES];
    int forced; /* 1 + the class every datagram goes with; 0: by rule. */
} g_auth;

/* --- Key files ------------------------------------------------------ */

/* Parses one or two lines of 64 hex digits. */
static bool parse_keys(const char *text, size_t len,
                       uint8_t keys[][AUTH_KEY_BYTES], uint32_t *n_keys)
{
    uint32_t n = 0;
    size_t i = 0;
    while (i < len) {
        if (text[i] == '\n') {
            i++;
            continue;
        }
        if (n == AUTH_KEYS_PER_FILE || len - i < 2 * AUTH_KEY_BYTES) {
            return false;
        }
        size_t bin_len = 0;
        const char *end = NULL;
        if (sodium_hex2bin(keys[n], AUTH_KEY_BYTES, text + i,
                           2 * AUTH_KEY_BYTES, NULL, &bin_len, &end) != 0 ||
            bin_len != AUTH_KEY_BYTES || end != text + i + 2 * AUTH_KEY_BYTES) {
            return false;
        }
        i += 2 * AUTH_KEY_BYTES;
        if (i < len && text[i] != '\n') {
            return false;
        }
        n++;
    }
    *n_keys = n;
    return n > 0;
}

int auth_read_key_file(const char *path, uint8_t keys[][AUTH_KEY_BYTES],
                       uint32_t *n_keys, char errmsg[ERRMSG_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            snprintf(errmsg, ERRMSG_LEN,
                     "key file %.140s is missing: copy it from a member's "
                     "directory (raftctl up creates it)",
                     path);
        } else {
            snprintf(errmsg, ERRMSG_LEN, "key file %.140s: %s", path,
                     strerror(errno));
        }
        return ERR_NOT_FOUND;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
        unsigned mode = (unsigned)(st.st_mode & 0777);
        close(fd);
        snprintf(errmsg, ERRMSG_LEN,
                 "key file %.140s has mode %04o, readable by group or "
                 "others: run chmod 600 on it",
                 path, mode);
        return ERR_INVALID;
    }
    char text[512];
    ssize_t got = read(fd, text, sizeof text);
    close(fd);
    if (got < 0 || got == (ssize_t)sizeof text ||
        !parse_keys(text, (size_t)got, keys, n_keys)) {
        snprintf(errmsg, ERRMSG_LEN,
                 "key file %.140s is malformed (want one or two lines of 64 "
                 "hex digits): copy it again from a member",
                 path);
        return ERR_INVALID;
    }
    return ERR_OK;
}

int auth_create_key_file(const char *path, char errmsg[ERRMSG_LEN])
{
    uint8_t key[AUTH_KEY_BYTES];
    if (sodium_init() < 0) {
        snprintf(errmsg, ERRMSG_LEN, "libsodium cannot start");
        return ERR_IO;
    }
    randombytes_buf(key, sizeof key);
    char text[2 * AUTH_KEY_BYTES + 2];
    sodium_bin2hex(text, sizeof text, key, sizeof key);
    text[2 * AUTH_KEY_BYTES] = '\n';
    sodium_memzero(key, sizeof key);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(errmsg, ERRMSG_LEN, "cannot create key file %.140s: %s", path,
                 strerror(errno));
        return ERR_IO;
    }
    ssize_t n = write(fd, text, 2 * AUTH_KEY_BYTES + 1);
    int rv = (n == 2 * AUTH_KEY_BYTES + 1 && fsync(fd) == 0) ? ERR_OK : ERR_IO;
    close(fd);
    if (rv != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "cannot write key file %.140s", path);
        unlink(path);
    }
    return rv;
}

static int key_path(const char *dir, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? ERR_TOO_BIG : ERR_OK;
}

int auth_create_keys(const char *dir, char errmsg[ERRMSG_LEN])
{
    static const char *const names[] = {"cluster.key", "client.key"};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        if (key_path(dir, names[i], path, sizeof path) != ERR_OK) {
            snprintf(errmsg, ERRMSG_LEN, "directory name too long");
            return ERR_INVALID;
        }
        if (access(path, F_OK) == 0) {
            continue;
        }
        int rv = auth_create_key_file(path, errmsg);
        if (rv != ERR_OK) {
            return rv;
        }
    }
    return ERR_OK;
}

/* Wall-clock ms (the epoch's and the horizon's unit). */
static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A new epoch: this run's start (or its renewal every 49 days, when
 * `sent` would overflow), in the high bits, and 16 random bits. */
static void new_epoch(void)
{
    uint64_t rnd = 0;
    randombytes_buf(&rnd, sizeof rnd);
    g_auth.epoch_wall_ms = wall_ms();
    g_auth.epoch_mono_ms = mono_ms();
    g_auth.epoch = g_auth.epoch_wall_ms << 16 | (rnd & 0xffff);
    g_auth.counter = 0;
}

/* Now on the wall clock as this process sees it: the epoch's start plus
 * monotonic time since, so a clock step during a run moves nothing. */
static uint64_t now_ms(void)
{
    return g_auth.epoch_wall_ms + (mono_ms() - g_auth.epoch_mono_ms);
}

static void auth_start(enum auth_role role)
{
    if (!g_auth.on) {
        if (sodium_init() < 0) {
            return;
        }
        new_epoch();
        auth_replay_restart(role == AUTH_ROLE_NODE ? g_auth.epoch_wall_ms : 0);
    }
    g_auth.on = true;
    g_auth.role = role;
}

void auth_set_sender(uint64_t id)
{
    g_auth.self_id = id;
}

void auth_set_keys(enum auth_class c, const uint8_t keys[][AUTH_KEY_BYTES],
                   uint32_t n_keys, enum auth_role role)
{
    if (n_keys > AUTH_KEYS_PER_FILE) {
        n_keys = AUTH_KEYS_PER_FILE;
    }
    memcpy(g_auth.keys[c], keys, (size_t)n_keys * AUTH_KEY_BYTES);
    g_auth.n_keys[c] = n_keys;
    auth_start(role);
}

/* The signature of a key file as last seen (all zero when absent). */
static void key_stat(const char *path, struct stat *st)
{
    if (stat(path, st) != 0) {
        memset(st, 0, sizeof *st);
    }
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int auth_load_dir(const char *dir, enum auth_role role, bool client_only,
                  char errmsg[ERRMSG_LEN])
{
    static const char *const names[AUTH__CLASSES] = {"cluster.key",
                                                     "client.key"};
    uint8_t keys[AUTH__CLASSES][AUTH_KEYS_PER_FILE][AUTH_KEY_BYTES];
    uint32_t n[AUTH__CLASSES] = {0, 0};
    struct stat seen[AUTH__CLASSES];
    int rv = ERR_OK;
    for (int c = 0; c < AUTH__CLASSES && rv == ERR_OK; c++) {
        char path[4096];
        if (key_path(dir, names[c], path, sizeof path) != ERR_OK) {
            snprintf(errmsg, ERRMSG_LEN, "directory name too long");
            rv = ERR_INVALID;
            break;
        }
        key_stat(path, &seen[c]);
        /* A client: no cluster.key, or one this user may not read. */
        if (c == AUTH_CLUSTER && client_only && access(path, R_OK) != 0) {
            continue;
        }
        rv = auth_read_key_file(path, keys[c], &n[c], errmsg);
    }
    /* All or nothing: a refresh that fails keeps the keys in use. */
    for (int c = 0; c < AUTH__CLASSES && rv == ERR_OK; c++) {
        if (n[c] > 0) {
            auth_set_keys((enum auth_class)c,
                          (const uint8_t(*)[AUTH_KEY_BYTES])keys[c], n[c],
                          role);
        }
        g_auth.seen[c] = seen[c];
    }
    if (rv == ERR_OK) {
        snprintf(g_auth.dir, sizeof g_auth.dir, "%s", dir);
        g_auth.client_only = client_only;
    }
    sodium_memzero(keys, sizeof keys);
    return rv;
}

int auth_refresh(bool *reloaded, char errmsg[ERRMSG_LEN])
{
    static const char *const names[AUTH__CLASSES] = {"cluster.key",
                                                     "client.key"};
    *reloaded = false;
    if (!g_auth.on || g_auth.dir[0] == '\0') {
        return ERR_OK;
    }
    bool changed = false;
    struct stat now[AUTH__CLASSES];
    for (int c = 0; c < AUTH__CLASSES; c++) {
        char path[4096 + 16];
        snprintf(path, sizeof path, "%s/%s", g_auth.dir, names[c]);
        key_stat(path, &now[c]);
        changed = changed || !same_stat(&now[c], &g_auth.seen[c]);
    }
    if (!changed) {
        return ERR_OK;
    }
    char dir[sizeof g_auth.dir];
    memcpy(dir, g_auth.dir, sizeof dir);
    int rv = auth_load_dir(dir, g_auth.role, g_auth.client_only, errmsg);
    *reloaded = rv == ERR_OK;
    /* Refused files are tried again once they change again. */
    memcpy(g_auth.seen, now, sizeof now);
    return rv;
}

int auth_load_beside(const char *config_path, enum auth_role role,
                     bool client_only, char errmsg[ERRMSG_LEN])
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", config_path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    return auth_load_dir(dir, role, client_only, errmsg);
}

void auth_force_class(int c)
{
    g_auth.forced = c >= 0 && c < AUTH__CLASSES ? c + 1 : 0;
}

void auth_reset(void)
{
    sodium_memzero(&g_auth, sizeof g_auth);
}

bool auth_enabled(void)
{
    return g_auth.on;
}

bool auth_holds(enum auth_class c)
{
    return c < AUTH__CLASSES && g_auth.n_keys[c] > 0;
}

/* --- The replay window ---------------------------------------------- */

bool auth_window_check(struct auth_window *w, uint64_t c)
{
    if (c > w->top) {
        uint64_t shift = c - w->top;
        if (shift >= AUTH_WINDOW) {
            memset(w->bits, 0, sizeof w->bits);
        } else {
            for (uint64_t k = 1; k <= shift; k++) {
                uint64_t i = w->top + k;
                w->bits[(i % AUTH_WINDOW) / 64] &= ~(1ull << (i % 64));
            }
        }
        w->top = c;
        w->bits[(c % AUTH_WINDOW) / 64] |= 1ull << (c % 64);
        return true;
    }
    if (w->top - c >= AUTH_WINDOW) {
        return false;
    }
    uint64_t bit = 1ull << (c % 64);
    uint64_t *word = &w->bits[(c % AUTH_WINDOW) / 64];
    if (*word & bit) {
        return false;
    }
    *word |= bit;
    return true;
}

void auth_replay_restart(uint64_t now)
{
    memset(g_auth.members, 0, sizeof g_auth.members);
    memset(g_auth.senders, 0, sizeof g_auth.senders);
    /* Sent at or after the start: new. */
    uint64_t start = now > 0 ? now - 1 : 0;
    g_auth.member_horizon_ms = start;
    for (uint32_t i = 0; i < AUTH_SENDERS; i++) {
        g_auth.epoch_horizon_ms[i] = start;
    }
    g_auth.uses = 0;
}

uint32_t auth_epoch_bucket(uint64_t epoch)
{
    return (uint32_t)(epoch * 0x9E3779B97F4A7C15ull % AUTH_SENDERS);
}

/* Forgets w, raising *horizon (the one its datagrams are checked against)
 * to its newest datagram (never past now: a sender whose clock runs ahead
 * cannot hold new senders out). */
static void evict(struct auth_window *w, uint64_t *horizon, uint64_t now)
{
    uint64_t newest = w->newest_ms < now ? w->newest_ms : now;
    if (w->epoch != 0 && newest > *horizon) {
        *horizon = newest;
    }
    memset(w, 0, sizeof *w);
}

/* Opens w for st when st was sent after horizon. */
static bool open_window(struct auth_window *w, const struct auth_stamp *st,
                        uint64_t id, uint64_t horizon)
{
    if (st->sent_ms <= horizon) {
        return false; /* Perhaps seen by a window this process forgot. */
    }
    memset(w, 0, sizeof *w);
    w->id = id;
    w->epoch = st->epoch;
    return true;
}

/* The window of member st->sender for st: the same epoch's, a fresh one
 * for a later run (the member restarted), NULL for an earlier run or a
 * datagram no window may open for. */
static struct auth_window *member_window(const struct auth_stamp *st,
                                         uint64_t now)
{
    struct auth_window *free_w = NULL, *lru = NULL;
    for (uint32_t i = 0; i < AUTH_MEMBERS; i++) {
        struct auth_window *w = &g_auth.members[i];
        if (w->epoch != 0 && w->id == st->sender) {
            /* Another run of the member: a later one only, by the time
             * its datagram was sent (a restart with the clock stepped
             * back is heard once the clock passes the old run's last). */
            if (st->epoch != w->epoch &&
                (st->sent_ms <= w->newest_ms ||
                 !open_window(w, st, st->sender, g_auth.member_horizon_ms))) {
                return NULL;
            }
            return w;
        }
        if (w->epoch == 0 && free_w == NULL) {
            free_w = w;
        } else if (w->epoch != 0 && (lru == NULL || w->used < lru->used)) {
            lru = w;
        }
    }
    if (st->sent_ms <= g_auth.member_horizon_ms) {
        return NULL; /* Before evicting anything for it. */
    }
    struct auth_window *w = free_w;
    if (w == NULL) {
        /* More ids than slots (members replaced over and over): forget
         * the one heard from longest ago. */
        evict(lru, &g_auth.member_horizon_ms, now);
        w = lru;
    }
    return open_window(w, st, st->sender, g_auth.member_horizon_ms) ? w : NULL;
}

/* The window of epoch st->epoch (clients and the operator). An epoch
 * always probes from its home bucket, so a capture of an evicted epoch is
 * checked against the horizon its eviction raised. */
static struct auth_window *epoch_window(const struct auth_stamp *st,
                                        uint64_t now)
{
    uint32_t h = auth_epoch_bucket(st->epoch);
    struct auth_window *victim = NULL;
    for (uint32_t p = 0; p < AUTH_PROBES; p++) {
        struct auth_window *w = &g_auth.senders[(h + p) % AUTH_SENDERS];
        if (w->epoch == st->epoch) {
            return w;
        }
        if (w->epoch == 0) {
            victim = w;
            break;
        }
        if (victim == NULL || w->used < victim->used) {
            victim = w;
        }
    }
    uint64_t horizon = g_auth.epoch_horizon_ms[h];
    if (st->sent_ms <= horizon) {
        return NULL; /* Before evicting anything for it. */
    }
    /* The victim's captures meet its own bucket's raised horizon; st,
     * not in any window, only needs to be after its bucket's. */
    if (victim->epoch != 0) {
        evict(victim,
              &g_auth.epoch_horizon_ms[auth_epoch_bucket(victim->epoch)], now);
    }
    return open_window(victim, st, 0, horizon) ? victim : NULL;
}

bool auth_replay_check(const struct auth_stamp *st, uint64_t now)
{
    if (st->epoch == 0 || st->sent_ms > now + AUTH_FUTURE_MS) {
        return false;
    }
    struct auth_window *w = st->cls == AUTH_CLUSTER && st->sender != 0
                                ? member_window(st, now)
                                : epoch_window(st, now);
    if (w == NULL || !auth_window_check(w, st->counter)) {
        return false;
    }
    w->used = ++g_auth.uses;
    if (st->sent_ms > w->newest_ms) {
        w->newest_ms = st->sent_ms;
    }
    return true;
}

/* --- Tags ------------------------------------------------------------ */

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void tag(const uint8_t *key, const uint8_t *hdr, const uint8_t *msg,
                size_t len, uint8_t out[AUTH_TAG_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, AUTH_KEY_BYTES, AUTH_TAG_BYTES);
    crypto_generichash_update(&st, hdr, AUTH_SIGNED_BYTES);
    crypto_generichash_update(&st, msg, len);
    crypto_generichash_final(&st, out, AUTH_TAG_BYTES);
}

/* Types a client key may carry (requests and their replies). */
static bool client_type(unsigned t)
{
    return t == MSG_CLIENT || t == MSG_CLIENT_REPLY || t == MSG_STATUS ||
           t == MSG_STATUS_REPLY || t == MSG_CLIENT_BATCH;
}

static uint32_t addr_slot(const struct raft_addr *a)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < a->len && i < sizeof a->bytes; i++) {
        h = (h ^ a->bytes[i]) * 16777619u;
    }
    return h % AUTH_REPLY_SLOTS;
}

static bool addr_same(const struct raft_addr *a, const struct raft_addr *b)
{
    return a->len == b->len && a->len <= sizeof a->bytes &&
           memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* The class to send msg to `to` with. */
static int send_class(const uint8_t *msg, size_t len,
                      const struct raft_addr *to)
{
    if (g_auth.forced > 0) {
        return g_auth.forced - 1;
    }
    if (g_auth.role == AUTH_ROLE_NODE) {
        const struct auth_reply_slot *s = &g_auth.replies[addr_slot(to)];
        if (s->used && addr_same(&s->addr, to)) {
            return s->cls;
        }
        return AUTH_CLUSTER;
    }
    if (g_auth.n_keys[AUTH_CLIENT] > 0 &&
        client_type(wire_peek_type(msg, len))) {
        return AUTH_CLIENT;
    }
    return AUTH_CLUSTER;
}

bool auth_seal(uint8_t hdr[AUTH_HEADER_BYTES], const uint8_t *msg, size_t len,
               const struct raft_addr *to)
{
    int c = send_class(msg, len, to);
    if (g_auth.n_keys[c] == 0) {
        return false;
    }
    uint64_t sent = mono_ms() - g_auth.epoch_mono_ms;
    if (sent >= AUTH_SENT_MAX) {
        new_epoch();
        sent = 0;
    }
    hdr[0] = AUTH_MAGIC;
    hdr[1] = (uint8_t)c;
    put_u64(hdr + 2, g_auth.self_id);
    put_u64(hdr + 10, g_auth.epoch);
    put_u64(hdr + 18, ++g_auth.counter);
    put_u32(hdr + 26, (uint32_t)sent);
    tag(g_auth.keys[c][0], hdr, msg, len, hdr + AUTH_SIGNED_BYTES);
    return true;
}

bool auth_open(const uint8_t hdr[AUTH_HEADER_BYTES], const uint8_t *msg,
               size_t len, const struct raft_addr *from)
{
    unsigned c = hdr[1];
    if (hdr[0] != AUTH_MAGIC || c >= AUTH__CLASSES) {
        g_auth.drops[AUTH_DROP_BAD_TAG]++;
        return false;
    }
    bool ok = false;
    for (uint32_t k = 0; k < g_auth.n_keys[c] && !ok; k++) {
        uint8_t want[AUTH_TAG_BYTES];
        tag(g_auth.keys[c][k], hdr, msg, len, want);
        ok = sodium_memcmp(want, hdr + AUTH_SIGNED_BYTES, AUTH_TAG_BYTES) == 0;
    }
    if (!ok) {
        g_auth.drops[AUTH_DROP_BAD_TAG]++;
        return false;
    }
    if (c == AUTH_CLIENT && g_auth.role == AUTH_ROLE_NODE &&
        !client_type(wire_peek_type(msg, len))) {
        g_auth.drops[AUTH_DROP_WRONG_KEY_TYPE]++;
        return false;
    }
    struct auth_stamp st = {.cls = (uint8_t)c,
                            .sender = get_u64(hdr + 2),
                            .epoch = get_u64(hdr + 10),
                            .counter = get_u64(hdr + 18)};
    st.sent_ms = (st.epoch >> 16) + get_u32(hdr + 26);
    if (!auth_replay_check(&st, now_ms())) {
        g_auth.drops[AUTH_DROP_REPLAY]++;
        return false;
    }
    if (g_auth.role == AUTH_ROLE_NODE) {
        struct auth_reply_slot *s = &g_auth.replies[addr_slot(from)];
        s->addr = *from;
        s->cls = (uint8_t)c;
        s->used = true;
    }
    return true;
}

uint64_t auth_drops(enum auth_drop reason)
{
    return reason < AUTH_DROP__COUNT ? g_auth.drops[reason] : 0;
}

void auth_count_drop(enum auth_drop reason)
{
    if (reason < AUTH_DROP__COUNT) {
        g_auth.drops[reason]++;
    }
}
