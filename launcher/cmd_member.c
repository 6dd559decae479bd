/*
 * raftctl's membership commands (DESIGN.md, Membership): members, add,
 * promote, remove and transfer. Each finds the leader by status, sends it a
 * FAULT_MEMBER request, and waits for the result in the leader's status
 * (whose reply carries the configuration it has in force); add spawns the new
 * member under the launcher with --join and appends it to cluster.conf,
 * remove drops its line and has the launcher stop its process.
 * Read launcher/cmd_fault.c next.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/client_query.h"
#include "common/clock.h"
#include "common/membership.h"
#include "launcher/cluster_dir.h"
#include "launcher/raftctl.h"
#include "launcher/supervisor.h"

#define MEMBER_WAIT_MS 10000 /* A change: until committed. */
#define MEMBER_SEND_MS                                                         \
    1000                      /* A request unacknowledged this long:
                                * refused (or no leader). */
#define TRANSFER_WAIT_MS 3000 /* transfer: exit 3 past this. */
#define CAUGHT_UP_ENTRIES 64  /* add: within one batch of the leader. */
#define CAUGHT_UP_ROUNDS 3

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The leader (highest term among the live members claiming it); 0: none. */
static raft_id find_leader(const struct conf *conf,
                           struct client_node_status *st)
{
    char em[ERRMSG_LEN];
    uint32_t mask = (1u << conf->n_members) - 1u;
    if (client_status_query(conf, mask, 500, st, em) != ERR_OK) {
        return 0;
    }
    raft_id leader = 0;
    raft_term best = 0;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        if (st[i].alive && st[i].reply.role == RAFT_LEADER &&
            st[i].term >= best) {
            best = st[i].term;
            leader = conf->members[i].id;
        }
    }
    return leader;
}

/* The leader's members table into c (a file read: the leader is local);
 * for a leader too old to send its configuration in its status reply. */
static int read_members_file(const struct cdir *d, raft_id leader,
                             struct membership *c)
{
    char path[CDIR_PATH_MAX];
    membership_init(c);
    if (cdir_node_file(d, leader, ".db", path, sizeof path) != ERR_OK) {
        return ERR_TOO_BIG;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        rc = sqlite3_prepare_v2(db,
                                "SELECT id, addr, new_voter, old_voter FROM "
                                "members ORDER BY id",
                                -1, &st, NULL);
    }
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        struct membership_member *m =
            membership_add(c, (raft_id)sqlite3_column_int64(st, 0));
        if (m == NULL) {
            break;
        }
        const unsigned char *a = sqlite3_column_text(st, 1);
        snprintf(m->addr, sizeof m->addr, "%s", a ? (const char *)a : "");
        m->voter = sqlite3_column_int(st, 2) != 0;
        m->old_voter = sqlite3_column_int(st, 3) != 0;
        c->joint |= m->old_voter;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK ? ERR_OK : ERR_IO;
}

/* The configuration the leader has in force into c, asked over the
 * network (its status reply carries it), so this works from any host;
 * the leader's members table when its reply has none (an older node). */
static int read_members(const struct cdir *d, const struct conf *conf,
                        raft_id leader, struct membership *c)
{
    int idx = conf_member_index(conf, leader);
    struct client_node_status st[RAFT_NODES_MAX];
    char em[ERRMSG_LEN];
    membership_init(c);
    if (idx < 0 ||
        client_status_query(conf, 1u << idx, 500, st, em) != ERR_OK ||
        !st[idx].alive) {
        return ERR_IO;
    }
    const struct msg_status_reply *r = &st[idx].reply;
    if (r->config_len == 0) {
        return read_members_file(d, leader, c);
    }
    return membership_decode(r->config, r->config_len, c);
}

/* Sends one FAULT_MEMBER request to the leader; true once acknowledged
 * (the change started). */
static bool send_op(const struct conf *conf, raft_id leader, uint32_t op,
                    raft_id id, uint32_t ip, uint32_t port)
{
    int idx = conf_member_index(conf, leader);
    if (idx < 0) {
        return false;
    }
    struct msg_fault rules[RAFT_NODES_MAX];
    memset(rules, 0, sizeof rules);
    struct msg_fault *f = &rules[idx];
    f->action = FAULT_MEMBER;
    f->loss_ppm = op;
    f->n_blocked = id != 0;
    f->blocked[0] = id;
    f->delay_ms = ip;
    f->jitter_ms = port;
    uint32_t acked = 0;
    char em[ERRMSG_LEN];
    return client_fault_send(conf, 1u << idx, rules, MEMBER_SEND_MS, &acked,
                             em) == ERR_OK &&
           acked != 0;
}

/* Whether op on id, asked of leader while the configuration was before,
 * shows as started now (a new leader for a transfer): the request was
 * refused only because its first answer was lost and the resend found
 * its own change in progress or done. */
static bool took_effect(const struct cdir *d, const struct conf *conf,
                        raft_id leader, uint32_t op, raft_id id,
                        const struct membership *before)
{
    struct client_node_status st[RAFT_NODES_MAX];
    raft_id now = find_leader(conf, st);
    if (op == FAULT_MEMBER_TRANSFER) {
        return now != 0 && now != leader && (id == 0 || now == id);
    }
    struct membership c;
    if (now == 0 || read_members(d, conf, now, &c) != ERR_OK) {
        return false;
    }
    return membership_op_done(before, &c, op, id);
}

/* send_op, idempotent across its resends: a refusal is checked against
 * the configuration (for up to MEMBER_SEND_MS) before it counts. */
static bool request_op(const struct cdir *d, const struct conf *conf,
                       raft_id leader, uint32_t op, raft_id id, uint32_t ip,
                       uint32_t port, const struct membership *before)
{
    if (send_op(conf, leader, op, id, ip, port)) {
        return true;
    }
    uint64_t until = clock_now_ms() + MEMBER_SEND_MS;
    do {
        if (took_effect(d, conf, leader, op, id, before)) {
            return true;
        }
        sleep_ms(50);
    } while (clock_now_ms() < until);
    return false;
}

/* What a member op waits for in the leader's table. */
enum want { WANT_VOTER, WANT_LEARNER, WANT_GONE };

/* Polls the leader's table (following a new leader) until id is as
 * wanted and no change is in progress. */
static int wait_members(const struct cdir *d, const struct conf *conf,
                        raft_id id, int want)
{
    uint64_t until = clock_now_ms() + MEMBER_WAIT_MS;
    struct client_node_status st[RAFT_NODES_MAX];
    while (clock_now_ms() < until) {
        raft_id leader = find_leader(conf, st);
        struct membership c;
        if (leader != 0 && read_members(d, conf, leader, &c) == ERR_OK &&
            !c.joint) {
            const struct membership_member *m = membership_get(&c, id);
            bool ok = want == WANT_GONE    ? m == NULL
                      : want == WANT_VOTER ? m != NULL && m->voter
                                           : m != NULL && !m->voter;
            if (ok) {
                return CTL_EXIT_OK;
            }
        }
        sleep_ms(20);
    }
    return CTL_EXIT_UNAVAILABLE;
}

static void print_members(const struct membership *c, raft_id leader, bool json)
{
    if (json) {
        printf("{\"members\": [");
        for (uint32_t i = 0; i < c->n; i++) {
            const struct membership_member *m = &c->m[i];
            bool voter = m->voter || m->old_voter;
            printf("%s{\"id\": %llu, \"addr\": \"%s\", \"role\": \"%s\"}",
                   i ? ", " : "", ull(m->id), m->addr,
                   voter ? "voter" : "learner");
        }
        printf("], \"joint\": %s, \"old_voters\": [",
               c->joint ? "true" : "false");
        bool first = true;
        for (uint32_t i = 0; c->joint && i < c->n; i++) {
            if (c->m[i].old_voter) {
                printf("%s%llu", first ? "" : ", ", ull(c->m[i].id));
                first = false;
            }
        }
        printf("], \"leader\": %llu}\n", ull(leader));
        return;
    }
    printf("%-4s %-22s %-8s\n", "ID", "ADDRESS", "ROLE");
    for (uint32_t i = 0; i < c->n; i++) {
        const struct membership_member *m = &c->m[i];
        bool voter = m->voter || m->old_voter;
        printf("%-4llu %-22s %-8s%s\n", ull(m->id), m->addr,
               voter ? "voter" : "learner", m->id == leader ? " (leader)" : "");
    }
    if (c->joint) {
        char text[MEMBERSHIP_TEXT_MAX];
        membership_encode(c, text, sizeof text);
        printf("change in progress: %s\n", text);
    }
}

/* Loads DIR and finds the leader; prints the error itself. */
static int member_setup(const char *dir, struct cdir *d, struct conf *conf,
                        raft_id *leader, const char *cmd)
{
    int rc = ctl_load_cluster(dir, d, conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct client_node_status st[RAFT_NODES_MAX];
    uint64_t until = clock_now_ms() + 3000;
    while ((*leader = find_leader(conf, st)) == 0 && clock_now_ms() < until) {
        sleep_ms(50);
    }
    if (*leader == 0) {
        ctl_error("%s: no leader answered", cmd);
        return CTL_EXIT_UNAVAILABLE;
    }
    return CTL_EXIT_OK;
}

int cmd_members(int argc, char **argv, const char *dir)
{
    static const struct ctl_opt opts[] = {{"--json", NULL, false}};
    struct ctl_args a = {.cmd = "members", .dir = dir};
    int rc = ctl_parse(argc, argv, opts, 1, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 0) {
        ctl_error("usage: raftctl members [--json]");
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    raft_id leader;
    rc = member_setup(a.dir, &d, &conf, &leader, "members");
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct membership c;
    if (read_members(&d, &conf, leader, &c) != ERR_OK || c.n == 0) {
        ctl_error("members: cannot read node %llu's members table",
                  ull(leader));
        return CTL_EXIT_ERROR;
    }
    print_members(&c, leader, a.given[0]);
    return CTL_EXIT_OK;
}

/* "CMD ID": parses ID, loads DIR and finds the leader; prints errors. */
static int id_setup(int argc, char **argv, const char *dir, const char *cmd,
                    struct cdir *d, struct conf *conf, raft_id *leader,
                    uint64_t *id)
{
    struct ctl_args a = {.cmd = cmd, .dir = dir};
    int rc = ctl_parse(argc, argv, NULL, 0, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 1 || ctl_parse_u64(a.pos[0], 1, RAFT_ID_MAX, id) != 0) {
        ctl_error("usage: raftctl %s ID", cmd);
        return CTL_EXIT_USAGE;
    }
    return member_setup(a.dir, d, conf, leader, cmd);
}

/* promote ID / remove ID: checks, request, wait. */
static int member_op(int argc, char **argv, const char *dir, const char *cmd,
                     uint32_t op)
{
    struct cdir d;
    struct conf conf;
    raft_id leader;
    uint64_t id = 0;
    int rc = id_setup(argc, argv, dir, cmd, &d, &conf, &leader, &id);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct membership c;
    if (read_members(&d, &conf, leader, &c) != ERR_OK) {
        ctl_error("%s: cannot read node %llu's members table", cmd,
                  ull(leader));
        return CTL_EXIT_ERROR;
    }
    const struct membership_member *m = membership_get(&c, id);
    const char *why = NULL;
    if (c.joint) {
        why = "a change is in progress";
    } else if (m == NULL) {
        why = "unknown id";
    } else if (op == FAULT_MEMBER_PROMOTE && m->voter) {
        why = "already a voter";
    } else if (op == FAULT_MEMBER_REMOVE && m->voter &&
               membership_n_voters(&c, false) == 1) {
        why = "it is the last voter";
    }
    if (why != NULL) {
        ctl_error("%s: refused: node %llu: %s", cmd, ull(id), why);
        return CTL_EXIT_ERROR;
    }
    if (!request_op(&d, &conf, leader, op, id, 0, 0, &c)) {
        ctl_error("%s: leader %llu refused (a change in progress, or no "
                  "entry of its term committed yet: try again)",
                  cmd, ull(leader));
        return CTL_EXIT_ERROR;
    }
    rc = wait_members(&d, &conf, id,
                      op == FAULT_MEMBER_REMOVE ? WANT_GONE : WANT_VOTER);
    if (rc != CTL_EXIT_OK) {
        ctl_error("%s: not committed within %d ms", cmd, MEMBER_WAIT_MS);
    }
    return rc;
}

int cmd_promote(int argc, char **argv, const char *dir)
{
    int rc = member_op(argc, argv, dir, "promote", FAULT_MEMBER_PROMOTE);
    if (rc == CTL_EXIT_OK) {
        printf("promote: done\n");
    }
    return rc;
}

/* Rewrites cluster.conf without id's line. */
static void conf_drop_line(const struct cdir *d, raft_id id)
{
    char path[CDIR_PATH_MAX], tmp[CDIR_PATH_MAX + 8], line[512];
    if (cdir_conf_file(d, path, sizeof path) != ERR_OK) {
        return;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *in = fopen(path, "r");
    FILE *out = fopen(tmp, "w");
    while (in != NULL && out != NULL && fgets(line, sizeof line, in)) {
        unsigned long long v = 0;
        if (sscanf(line, " %llu ", &v) == 1 && v == id) {
            continue;
        }
        fputs(line, out);
    }
    if (in != NULL) {
        fclose(in);
    }
    if (out != NULL && fclose(out) == 0 && in != NULL) {
        rename(tmp, path);
    }
}

int cmd_remove(int argc, char **argv, const char *dir)
{
    int rc = member_op(argc, argv, dir, "remove", FAULT_MEMBER_REMOVE);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct cdir d;
    struct conf conf;
    struct ctl_args a = {.cmd = "remove", .dir = dir};
    uint64_t id = 0;
    if (ctl_parse(argc, argv, NULL, 0, &a) == CTL_EXIT_OK && a.n_pos == 1 &&
        ctl_parse_u64(a.pos[0], 1, RAFT_ID_MAX, &id) == 0 &&
        ctl_load_cluster(a.dir, &d, &conf) == CTL_EXIT_OK) {
        char line[64], reply[512], em[ERRMSG_LEN];
        snprintf(line, sizeof line, "kill %llu 15", ull(id));
        if (d.by_config) {
            conf_drop_line(&d, id);
            printf("remove: done; node %llu left the cluster: stop it on "
                   "its host (systemctl stop raftnode@%llu)\n",
                   ull(id), ull(id));
            return CTL_EXIT_OK;
        }
        supervisor_request(&d, line, reply, sizeof reply, 10000, em);
        conf_drop_line(&d, id);
    }
    printf("remove: done; node %llu stopped, its files kept\n", ull(id));
    return CTL_EXIT_OK;
}

/* Its commit index is an entry of its own term (its no-op committed). */
static bool leader_committed(const struct client_node_status *st)
{
    const struct msg_status_reply *r = &st->reply;
    if (r->n_tail == 0 || r->commit < r->tail_first ||
        r->commit >= r->tail_first + r->n_tail) {
        return false;
    }
    return r->tail_terms[r->commit - r->tail_first] == st->term;
}

int cmd_transfer(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "transfer", .dir = dir};
    int rc = ctl_parse(argc, argv, NULL, 0, &a);
    uint64_t id = 0;
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos > 1 ||
        (a.n_pos == 1 && ctl_parse_u64(a.pos[0], 1, RAFT_ID_MAX, &id) != 0)) {
        ctl_error("usage: raftctl transfer [ID]");
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    raft_id leader;
    rc = member_setup(a.dir, &d, &conf, &leader, "transfer");
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (id == leader) {
        printf("transfer: node %llu already leads\n", ull(id));
        return CTL_EXIT_OK;
    }
    if (id != 0 && conf_member_index(&conf, id) < 0) {
        ctl_error("transfer: unknown id %llu", ull(id));
        return CTL_EXIT_USAGE;
    }
    uint64_t start = clock_now_ms();
    if (!request_op(&d, &conf, leader, FAULT_MEMBER_TRANSFER, id, 0, 0,
                    NULL)) {
        ctl_error("transfer: leader %llu refused (not a voter, or a change "
                  "or transfer in progress)",
                  ull(leader));
        return CTL_EXIT_ERROR;
    }
    struct client_node_status st[RAFT_NODES_MAX];
    uint64_t led_ms = 0;
    while (clock_now_ms() < start + TRANSFER_WAIT_MS) {
        raft_id now = find_leader(&conf, st);
        if (now == 0 || now == leader || (id != 0 && now != id)) {
            continue;
        }
        if (led_ms == 0) {
            led_ms = clock_now_ms() - start;
        }
        if (leader_committed(&st[conf_member_index(&conf, now)])) {
            printf("transfer: node %llu leads after %llu ms, first commit "
                   "after %llu ms\n",
                   ull(now), ull(led_ms), ull(clock_now_ms() - start));
            return CTL_EXIT_OK;
        }
    }
    ctl_error("transfer: no new leader within %d ms", TRANSFER_WAIT_MS);
    return CTL_EXIT_UNAVAILABLE;
}

/* The leader's status shows id's match within one batch of its last
 * index for CAUGHT_UP_ROUNDS polls in a row (thesis 4.2.1). */
static int wait_caught_up(const struct conf *conf, raft_id id)
{
    uint64_t until = clock_now_ms() + MEMBER_WAIT_MS * 6;
    struct client_node_status st[RAFT_NODES_MAX];
    int rounds = 0;
    while (clock_now_ms() < until) {
        raft_id leader = find_leader(conf, st);
        int li = leader != 0 ? conf_member_index(conf, leader) : -1;
        bool near = false;
        for (uint32_t i = 0; li >= 0 && i < st[li].reply.n_peers; i++) {
            const struct status_peer *p = &st[li].reply.peers[i];
            near |= p->id == id &&
                    p->match + CAUGHT_UP_ENTRIES >= st[li].reply.last_index;
        }
        rounds = near ? rounds + 1 : 0;
        if (rounds >= CAUGHT_UP_ROUNDS) {
            return CTL_EXIT_OK;
        }
        sleep_ms(50);
    }
    return CTL_EXIT_UNAVAILABLE;
}

/* Appends "ID HOST:PORT" to cluster.conf. */
static int conf_append(const struct cdir *d, raft_id id, const char *host,
                       unsigned port)
{
    char path[CDIR_PATH_MAX];
    if (cdir_conf_file(d, path, sizeof path) != ERR_OK) {
        return ERR_TOO_BIG;
    }
    FILE *f = fopen(path, "a");
    if (f == NULL) {
        return ERR_IO;
    }
    fprintf(f, "%llu %s:%u\n", ull(id), host, port);
    return fclose(f) == 0 ? ERR_OK : ERR_IO;
}

/* --addr HOST:PORT (IPv4 dotted) or the next port on 127.0.0.1. */
static int add_addr(const struct conf *conf, const char *opt, char *host,
                    size_t cap, unsigned *port)
{
    unsigned max_port = 0;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        max_port =
            conf->members[i].port > max_port ? conf->members[i].port : max_port;
    }
    snprintf(host, cap, "127.0.0.1");
    *port = max_port + 1;
    if (opt != NULL) {
        const char *colon = strrchr(opt, ':');
        uint64_t p = 0;
        if (colon == NULL || (size_t)(colon - opt) >= cap ||
            ctl_parse_u64(colon + 1, 1, 65535, &p) != 0) {
            return CTL_EXIT_USAGE;
        }
        snprintf(host, cap, "%.*s", (int)(colon - opt), opt);
        *port = (unsigned)p;
    }
    struct in_addr in;
    if (inet_pton(AF_INET, host, &in) != 1) {
        return CTL_EXIT_USAGE;
    }
    for (uint32_t i = 0; i < conf->n_members; i++) {
        if (conf->members[i].port == *port &&
            strcmp(conf->members[i].host, host) == 0) {
            return CTL_EXIT_ERROR; /* In use. */
        }
    }
    return CTL_EXIT_OK;
}

/* The highest id named by a node file in DIR (node<ID>.db, .log, a set
 * aside database...): a new member never takes the id of one that left. */
static raft_id max_file_id(const struct cdir *d)
{
    raft_id max = 0;
    DIR *dir = opendir(d->path);
    struct dirent *e;
    while (dir != NULL && (e = readdir(dir)) != NULL) {
        unsigned long long id = 0;
        int end = 0;
        if (sscanf(e->d_name, "node%llu.%n", &id, &end) == 1 && end > 0 &&
            id > max && id <= RAFT_ID_MAX) {
            max = (raft_id)id;
        }
    }
    if (dir != NULL) {
        closedir(dir);
    }
    return max;
}

/* --config: the id cluster.conf lists at host:port when the leader's
 * configuration does not hold it yet (the operator listed the new member
 * by hand), else 0. */
static raft_id listed_newcomer(const struct conf *conf,
                               const struct membership *c, const char *host,
                               unsigned port)
{
    for (uint32_t i = 0; i < conf->n_members; i++) {
        const struct conf_member *m = &conf->members[i];
        if (m->port == port && strcmp(m->host, host) == 0 &&
            membership_get(c, m->id) == NULL) {
            return m->id;
        }
    }
    return 0;
}

/* Has DIR's launcher spawn member id with --join. */
static int start_joiner(const struct cdir *d, const char *cmd, raft_id id)
{
    char line[64], reply[512], em[ERRMSG_LEN] = "";
    snprintf(line, sizeof line, "join %llu", ull(id));
    if (supervisor_request(d, line, reply, sizeof reply, 10000, em) != ERR_OK ||
        strncmp(reply, "ok", 2) != 0) {
        ctl_error("%s: the launcher did not start node %llu: %s%s", cmd,
                  ull(id), em, reply);
        return CTL_EXIT_ERROR;
    }
    return CTL_EXIT_OK;
}

/* add's work, also replace's: a fresh member on the next free id (above
 * every id in cluster.conf, the configuration and DIR's node files) at
 * addr (NULL: the next port), started under the launcher with --join,
 * caught up, promoted unless learner. Prints errors as cmd. */
static int add_member(const char *dir, const char *cmd, const char *addr,
                      bool learner, raft_id *out)
{
    struct cdir d;
    struct conf conf;
    raft_id leader;
    int rc = member_setup(dir, &d, &conf, &leader, cmd);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct membership c;
    if (read_members(&d, &conf, leader, &c) != ERR_OK || c.joint) {
        ctl_error("%s: refused: a change is in progress", cmd);
        return CTL_EXIT_ERROR;
    }
    raft_id id = max_file_id(&d);
    for (uint32_t i = 0; i < conf.n_members; i++) {
        id = conf.members[i].id > id ? conf.members[i].id : id;
    }
    for (uint32_t i = 0; i < c.n; i++) {
        id = c.m[i].id > id ? c.m[i].id : id;
    }
    id++;
    char host[64];
    unsigned port = 0;
    if (d.by_config && addr == NULL) {
        ctl_error("%s: with --config, say where the new member runs: "
                  "--addr HOST:PORT",
                  cmd);
        return CTL_EXIT_USAGE;
    }
    rc = add_addr(&conf, addr, host, sizeof host, &port);
    raft_id listed = rc == CTL_EXIT_ERROR && d.by_config
                         ? listed_newcomer(&conf, &c, host, port)
                         : 0;
    if (rc != CTL_EXIT_OK && listed == 0) {
        ctl_error(rc == CTL_EXIT_USAGE ? "%s: --addr wants IPV4:PORT"
                                       : "%s: refused: address in use",
                  cmd);
        return rc;
    }
    struct in_addr in;
    inet_pton(AF_INET, host, &in);
    if (listed != 0) {
        id = listed;
    } else if (conf_append(&d, id, host, port) != ERR_OK) {
        ctl_error("%s: cannot append to %s", cmd, d.conf_path);
        return CTL_EXIT_ERROR;
    }
    if (d.by_config) {
        /* No launcher here: the new member's host starts it. */
        fprintf(stderr,
                "%s: waiting for member %llu at %s:%u; on its host run: "
                "raftnode --id %llu --config cluster.conf --db FILE "
                "--create --join (its cluster.conf listing '%llu %s:%u')\n",
                cmd, ull(id), host, port, ull(id), ull(id), host, port);
    } else if (start_joiner(&d, cmd, id) != CTL_EXIT_OK) {
        return CTL_EXIT_ERROR;
    }
    if (ctl_load_cluster(dir, &d, &conf) != CTL_EXIT_OK ||
        !request_op(&d, &conf, leader, FAULT_MEMBER_ADD, id, ntohl(in.s_addr),
                    port, &c)) {
        ctl_error("%s: leader %llu refused node %llu", cmd, ull(leader),
                  ull(id));
        return CTL_EXIT_ERROR;
    }
    rc = wait_members(&d, &conf, id, WANT_LEARNER);
    if (rc == CTL_EXIT_OK) {
        rc = wait_caught_up(&conf, id);
    }
    if (rc == CTL_EXIT_OK && !learner) {
        raft_id now =
            find_leader(&conf, (struct client_node_status[RAFT_NODES_MAX]){0});
        rc = now != 0 && read_members(&d, &conf, now, &c) == ERR_OK &&
                     request_op(&d, &conf, now, FAULT_MEMBER_PROMOTE, id, 0,
                                0, &c)
                 ? wait_members(&d, &conf, id, WANT_VOTER)
                 : CTL_EXIT_ERROR;
    }
    if (rc != CTL_EXIT_OK) {
        ctl_error("%s: node %llu did not become a %s in time", cmd, ull(id),
                  learner ? "caught-up learner" : "voter");
        return rc;
    }
    *out = id;
    return CTL_EXIT_OK;
}

int cmd_add(int argc, char **argv, const char *dir)
{
    static const struct ctl_opt opts[] = {{"--addr", NULL, true},
                                          {"--learner", NULL, false}};
    struct ctl_args a = {.cmd = "add", .dir = dir};
    int rc = ctl_parse(argc, argv, opts, 2, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 0) {
        ctl_error("usage: raftctl add [--addr HOST:PORT] [--learner]");
        return CTL_EXIT_USAGE;
    }
    raft_id id = 0;
    rc =
        add_member(a.dir, "add", a.given[0] ? a.val[0] : NULL, a.given[1], &id);
    if (rc == CTL_EXIT_OK) {
        printf("%llu\n", ull(id));
    }
    return rc;
}

/* Moves DIR/node<ID>.db (with its WAL and shared memory, as SQLite names
 * them) to node<ID>.db.replaced-<unix time>: never deleted, and a later
 * up finds no database of a member cluster.conf no longer lists. Prints
 * where the old files are. */
static void set_aside_replaced(const struct cdir *d, raft_id id)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char db[CDIR_PATH_MAX], to[CDIR_PATH_MAX + 64], from[CDIR_PATH_MAX + 8];
    if (cdir_node_file(d, id, ".db", db, sizeof db) != ERR_OK) {
        return;
    }
    long now = (long)time(NULL);
    bool moved = false;
    for (size_t i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s%s", db, suffixes[i]);
        snprintf(to, sizeof to, "%s.replaced-%ld%s", db, now, suffixes[i]);
        moved |= rename(from, to) == 0 && i == 0;
    }
    if (moved) {
        printf("replace: node %llu's database set aside as "
               "node%llu.db.replaced-%ld\n",
               ull(id), ull(id), now);
    } else if (cdir_node_damaged(d, id)) {
        printf("replace: node %llu's damaged database kept as "
               "node%llu.db.damaged\n",
               ull(id), ull(id));
    } else {
        printf("replace: node %llu had no database\n", ull(id));
    }
}

/* Whether the voters of c (without id when drop) that answered status
 * form a majority of that set. */
static bool quorum_alive(const struct membership *c, const struct conf *conf,
                         const struct client_node_status *st, raft_id id,
                         bool drop)
{
    uint32_t n = 0, alive = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct membership_member *m = &c->m[i];
        if (!m->voter || (drop && m->id == id)) {
            continue;
        }
        int idx = conf_member_index(conf, m->id);
        n++;
        alive += idx >= 0 && st[idx].alive;
    }
    return n > 0 && alive * 2 > n;
}

int cmd_replace(int argc, char **argv, const char *dir)
{
    struct cdir d;
    struct conf conf;
    raft_id leader;
    uint64_t id = 0;
    int rc = id_setup(argc, argv, dir, "replace", &d, &conf, &leader, &id);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct client_node_status st[RAFT_NODES_MAX];
    memset(st, 0, sizeof st);
    leader = find_leader(&conf, st);
    struct membership c;
    if (leader == 0 || read_members(&d, &conf, leader, &c) != ERR_OK) {
        ctl_error("replace: cannot read the leader's members table");
        return CTL_EXIT_UNAVAILABLE;
    }
    const struct membership_member *m = membership_get(&c, id);
    const char *why = NULL;
    if (c.joint) {
        why = "a change is in progress";
    } else if (m == NULL) {
        why = "unknown id";
    } else if (id == leader) {
        why = "it is the leader (run 'raftctl transfer' first)";
    } else if (m->voter && (!quorum_alive(&c, &conf, st, id, true) ||
                            !quorum_alive(&c, &conf, st, id, false))) {
        why = "removing it would leave no quorum";
    }
    if (why != NULL) {
        ctl_error("replace: refused: node %llu: %s", ull(id), why);
        return CTL_EXIT_ERROR;
    }
    if (!request_op(&d, &conf, leader, FAULT_MEMBER_REMOVE, id, 0, 0, &c)) {
        ctl_error("replace: leader %llu refused to remove node %llu (a change "
                  "in progress, or no entry of its term committed yet: try "
                  "again)",
                  ull(leader), ull(id));
        return CTL_EXIT_ERROR;
    }
    rc = wait_members(&d, &conf, id, WANT_GONE);
    if (rc != CTL_EXIT_OK) {
        ctl_error("replace: removing node %llu not committed within %d ms",
                  ull(id), MEMBER_WAIT_MS);
        return rc;
    }
    char line[64], reply[512], em[ERRMSG_LEN];
    snprintf(line, sizeof line, "kill %llu 15", ull(id));
    supervisor_request(&d, line, reply, sizeof reply, 10000, em);
    conf_drop_line(&d, id);
    printf("replace: node %llu removed\n", ull(id));
    set_aside_replaced(&d, id);
    raft_id fresh = 0;
    rc = add_member(d.path, "replace", NULL, false, &fresh);
    if (rc == CTL_EXIT_OK) {
        printf("%llu\n", ull(fresh));
    }
    return rc;
}

bool ctl_member_removed(const struct cdir *d, const struct conf *conf,
                        raft_id id)
{
    for (uint32_t i = 0; i < conf->n_members; i++) {
        struct membership c;
        if (read_members_file(d, conf->members[i].id, &c) == ERR_OK &&
            c.n > 0 && membership_get(&c, id) == NULL) {
            return true;
        }
    }
    return false;
}
