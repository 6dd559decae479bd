/*
 * status and status --json: every member is asked in parallel with a short
 * timeout; one that does not answer is shown as not alive, with only what
 * the directory knows (id, address, and the pid of a process that runs but
 * does not answer). The JSON keys and types are a public interface
 * (DESIGN.md): id, addr, pid, alive, role, term, leader, commit,
 * last_index, applied, and no other; the table also shows the snapshot
 * index (the log's compacted prefix) and a pre-candidate as `precandidate`
 * (the JSON says `candidate`, its documented value), and a follower that
 * is a learner in the configuration (the leader's, carried in its status
 * reply) as `learner`. Under the table: a joint change in progress (old
 * and new voter sets), members of the configuration that cluster.conf
 * does not list, one
 * line per member whose disk is not ok (full or hung), and per member that
 * as leader saw a member lose entries it had acknowledged (lost_acked,
 * docs/RELIABILITY.md). `status --drops` shows instead each node's counters
 * of dropped datagrams by reason, lost_acked, and the message trace's
 * viewers and budget drops (docs/TRACE.md) (a separate view, so the
 * documented --json keys stay exactly as listed). Read launcher/cmd_fault.c
 * next.
 */
#include <stdio.h>
#include <string.h>

#include "common/client_query.h"
#include "common/membership.h"
#include "launcher/cluster_dir.h"
#include "launcher/raftctl.h"

#define STATUS_TIMEOUT_MS 300

static const struct ctl_opt status_opts[] = {{"--json", NULL, false},
                                             {"--drops", NULL, false}};

/* The role as status shows it: leader, follower or candidate; the table
 * (exact) also precandidate, the JSON (its documented values) not. */
static const char *status_role_name(uint8_t role, bool exact)
{
    switch (role) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_PRECANDIDATE:
        return exact ? "precandidate" : "candidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_FOLLOWER:
        return "follower";
    default:
        return "unknown";
    }
}

/* One row's facts, whatever the source. */
struct status_row {
    const struct conf_member *m;
    const struct client_node_status *st;
    long pid; /* 0: unknown. */
    bool is_damaged; /* Not alive, its database set aside as damaged. */
    bool is_learner; /* A learner in the configuration status shows. */
};

/* s as a JSON string literal. */
static void status_print_json_string(const char *s)
{
    putchar('"');
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            printf("\\%c", ch);
        } else if (ch < 0x20) {
            printf("\\u%04x", ch);
        } else {
            putchar(ch);
        }
    }
    putchar('"');
}

/* One JSON object with exactly the documented keys. */
static void status_print_json_row(const struct status_row *r, bool first)
{
    const struct msg_status_reply *s = &r->st->reply;
    char addr[CONF_HOST_MAX + 16];
    snprintf(addr, sizeof(addr), "%s:%u", r->m->host, (unsigned)r->m->port);
    printf("%s{\"id\":%llu,\"addr\":", first ? "" : ",",
           (unsigned long long)r->m->id);
    status_print_json_string(addr);
    if (r->pid > 0) {
        printf(",\"pid\":%ld", r->pid);
    } else {
        printf(",\"pid\":null");
    }
    if (!r->st->alive) {
        /* role is "damaged" for a member that set its database aside. */
        printf(",\"alive\":false,\"role\":%s,\"term\":null,\"leader\":null,"
               "\"commit\":null,\"last_index\":null,\"applied\":null}",
               r->is_damaged ? "\"damaged\"" : "null");
        return;
    }
    printf(",\"alive\":true,\"role\":\"%s\",\"term\":%llu,",
           status_role_name(s->role, false), (unsigned long long)r->st->term);
    if (s->leader != RAFT_ID_NONE) {
        printf("\"leader\":%llu,", (unsigned long long)s->leader);
    } else {
        printf("\"leader\":null,");
    }
    printf("\"commit\":%llu,\"last_index\":%llu,\"applied\":%llu}",
           (unsigned long long)s->commit, (unsigned long long)s->last_index,
           (unsigned long long)s->applied);
}

/* Under the table: one line per member whose disk is not ok. */
static void status_print_disk_lines(const struct conf *conf,
                                    const struct client_node_status *st)
{
    for (uint32_t i = 0; i < conf->n_members; i++) {
        uint8_t disk = st[i].reply.disk;
        if (!st[i].alive || disk == STATUS_DISK_OK) {
            continue;
        }
        printf("disk of member %llu: %s\n",
               (unsigned long long)conf->members[i].id,
               disk == STATUS_DISK_FULL
                   ? "full (no space left: refuses writes, restarts itself "
                     "once there is space)"
                   : "hung (a sync outstanding too long: will not lead until "
                     "it completes)");
    }
}

/* One table row; "-" for what a node that did not answer cannot tell. */
static void status_print_table_row(const struct status_row *r)
{
    const struct msg_status_reply *s = &r->st->reply;
    char addr[CONF_HOST_MAX + 16];
    char pid[24] = "-";
    snprintf(addr, sizeof(addr), "%s:%u", r->m->host, (unsigned)r->m->port);
    if (r->pid > 0) {
        snprintf(pid, sizeof(pid), "%ld", r->pid);
    }
    if (!r->st->alive) {
        printf("%-4llu %-21s %-8s %-6s %-12s %6s %6s %8s %8s %8s %8s\n",
               (unsigned long long)r->m->id, addr, pid, "no",
               r->is_damaged ? "damaged" : "-", "-", "-",
               "-", "-", "-", "-");
        return;
    }
    char leader[24] = "-";
    if (s->leader != RAFT_ID_NONE) {
        snprintf(leader, sizeof(leader), "%llu", (unsigned long long)s->leader);
    }
    /* "-": no snapshot yet, or a node too old to say. */
    char snap[24] = "-";
    if (s->snapshot_index > 0) {
        snprintf(snap, sizeof(snap), "%llu",
                 (unsigned long long)s->snapshot_index);
    }
    printf("%-4llu %-21s %-8s %-6s %-12s %6llu %6s %8llu %8llu %8llu %8s\n",
           (unsigned long long)r->m->id, addr, pid, "yes",
           r->is_learner && s->role == RAFT_FOLLOWER
               ? "learner"
               : status_role_name(s->role, true),
           (unsigned long long)r->st->term, leader,
           (unsigned long long)s->commit, (unsigned long long)s->last_index,
           (unsigned long long)s->applied, snap);
}

/* The configuration status shows into c: the one of the answering
 * member with the highest term that leads, else of the highest term; c->n
 * is 0 when no member sent one (all older than the field). */
static void status_config(const struct conf *conf,
                          const struct client_node_status *st,
                          struct membership *c)
{
    int best = -1;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        if (!st[i].alive || st[i].reply.config_len == 0) {
            continue;
        }
        bool lead = st[i].reply.role == RAFT_LEADER;
        bool best_lead = best >= 0 && st[best].reply.role == RAFT_LEADER;
        if (best < 0 || st[i].term > st[best].term ||
            (st[i].term == st[best].term && lead && !best_lead)) {
            best = (int)i;
        }
    }
    membership_init(c);
    if (best >= 0 &&
        membership_decode(st[best].reply.config, st[best].reply.config_len,
                          c) != ERR_OK) {
        membership_init(c);
    }
}

/* Under the table: a change in progress ("change in progress: joint
 * 1,2,3 -> 1,2,4 (old -> new voters)"), and the members of
 * the configuration that cluster.conf does not list. */
static void status_print_config_lines(const struct conf *conf,
                                      const struct membership *c)
{
    if (c->joint) {
        char text[MEMBERSHIP_TEXT_MAX];
        membership_sets_text(c, text, sizeof text);
        printf("change in progress: %s (old -> new voters)\n", text);
    }
    for (uint32_t i = 0; i < c->n; i++) {
        if (conf_member_index(conf, c->m[i].id) < 0) {
            printf("member %llu (%s) is in the configuration but not in "
                   "cluster.conf\n",
                   (unsigned long long)c->m[i].id, c->m[i].addr);
        }
    }
}

/* status --drops: one row (or JSON object) per node with its counters of
 * dropped datagrams; a node that did not answer shows none. */
static void status_print_drops(const struct conf *conf,
                               const struct client_node_status *st, bool json)
{
    if (!json) {
        printf("%-4s %-6s", "ID", "ALIVE");
        for (int r = 0; r < DROP__COUNT; r++) {
            printf(" %14s", msg_drop_name(r));
        }
        printf(" %10s %13s %13s\n", "lost_acked", "trace_viewers",
               "trace_dropped");
    }
    for (uint32_t i = 0; i < conf->n_members; i++) {
        unsigned long long id = (unsigned long long)conf->members[i].id;
        if (json) {
            printf("%s{\"id\":%llu,\"alive\":%s,\"drops\":", i ? "," : "[", id,
                   st[i].alive ? "true" : "false");
        } else {
            printf("%-4llu %-6s", id, st[i].alive ? "yes" : "no");
        }
        for (int r = 0; r < DROP__COUNT && st[i].alive; r++) {
            unsigned long long n = (unsigned long long)st[i].reply.drops[r];
            if (json) {
                printf("%s\"%s\":%llu", r ? "," : "{", msg_drop_name(r), n);
            } else {
                printf(" %14llu", n);
            }
        }
        for (int r = 0; r < DROP__COUNT && !st[i].alive && !json; r++) {
            printf(" %14s", "-");
        }
        unsigned long long lost = (unsigned long long)st[i].reply.lost_acked;
        unsigned viewers = st[i].reply.trace_subscribers;
        unsigned long long tdrop =
            (unsigned long long)st[i].reply.trace_dropped;
        if (json && st[i].alive) {
            printf("},\"lost_acked\":%llu,\"trace_viewers\":%u,"
                   "\"trace_dropped\":%llu}",
                   lost, viewers, tdrop);
        } else if (json) {
            printf("null,\"lost_acked\":null,\"trace_viewers\":null,"
                   "\"trace_dropped\":null}");
        } else if (st[i].alive) {
            printf(" %10llu %13u %13llu\n", lost, viewers, tdrop);
        } else {
            printf(" %10s %13s %13s\n", "-", "-", "-");
        }
    }
    if (json) {
        puts(conf->n_members > 0 ? "]" : "[]");
    }
}

int cmd_status(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "status", .dir = dir};
    int rc = ctl_parse(argc, argv, status_opts, 2, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    if (a.n_pos != 0) {
        ctl_error("usage: raftctl status [--json] [--drops]");
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    char errmsg[ERRMSG_LEN] = "";
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct client_node_status st[RAFT_NODES_MAX];
    if (client_status_query(&conf, UINT32_MAX, STATUS_TIMEOUT_MS, st, errmsg) !=
        ERR_OK) {
        ctl_error("status: %s", errmsg);
        return CTL_EXIT_ERROR;
    }
    bool json = a.given[0];
    uint32_t n_alive = 0;
    if (a.given[1]) {
        status_print_drops(&conf, st, json);
        for (uint32_t i = 0; i < conf.n_members; i++) {
            n_alive += st[i].alive;
        }
        return fflush(stdout) != 0 ? CTL_EXIT_ERROR
               : n_alive > 0       ? CTL_EXIT_OK
                                   : CTL_EXIT_UNAVAILABLE;
    }
    if (json) {
        putchar('[');
    } else {
        printf("%-4s %-21s %-8s %-6s %-12s %6s %6s %8s %8s %8s %8s\n", "ID",
               "ADDR", "PID", "ALIVE", "ROLE", "TERM", "LEADER", "COMMIT",
               "LAST", "APPLIED", "SNAP");
    }
    struct membership c;
    status_config(&conf, st, &c);
    for (uint32_t i = 0; i < conf.n_members; i++) {
        struct status_row r = {.m = &conf.members[i], .st = &st[i], .pid = 0};
        const struct membership_member *cm = membership_get(&c, r.m->id);
        r.is_learner = cm != NULL && !cm->voter && !cm->old_voter;
        r.pid = st[i].alive ? (long)st[i].reply.pid
                            : (long)cdir_node_running(&d, r.m->id);
        r.is_damaged = !st[i].alive && cdir_node_damaged(&d, r.m->id);
        n_alive += st[i].alive;
        if (json) {
            status_print_json_row(&r, i == 0);
        } else {
            status_print_table_row(&r);
        }
    }
    if (json) {
        puts("]");
    } else {
        status_print_config_lines(&conf, &c);
        status_print_disk_lines(&conf, st);
    }
    for (uint32_t i = 0; i < conf.n_members && !json; i++) {
        if (st[i].alive && st[i].reply.lost_acked > 0) {
            printf("member %llu saw members lose acknowledged entries %llu "
                   "time(s): a disk lost synced writes (its log has the "
                   "ERROR lines)\n",
                   (unsigned long long)conf.members[i].id,
                   (unsigned long long)st[i].reply.lost_acked);
        }
    }
    if (fflush(stdout) != 0) {
        return CTL_EXIT_ERROR;
    }
    return n_alive > 0 ? CTL_EXIT_OK : CTL_EXIT_UNAVAILABLE;
}
