/*
 * raftctl check [--timeout MS]: asks every member for the digest of its kv
 * table (MSG_CHECK) until all answer at the same applied index, then
 * compares them, as etcd's corruption check does. Exit 0 when all agree, 4
 * when a member differs or is damaged (each named on its own line), 3 when
 * some member gave no answer in time and none differs, 2 usage. Read
 * docs/DAMAGE.md for what a digest covers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/client_query.h"
#include "common/clock.h"
#include "launcher/cluster_dir.h"
#include "launcher/raftctl.h"

#define CHECK_TIMEOUT_MS_DEFAULT 5000
#define CHECK_TIMEOUT_MS_MAX 3600000

static const struct ctl_opt check_opts[] = {{"--timeout", NULL, true}};

/* True when every answer in mask is done at one applied index. */
static bool check_same_index(const struct conf *conf,
                             const struct client_node_check *out)
{
    bool has_first = false;
    raft_index first = 0;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        const struct msg_check_reply *r = &out[i].reply;
        if (!out[i].answered || r->state != CHECK_DONE) {
            continue;
        }
        if (has_first && r->applied != first) {
            return false;
        }
        has_first = true;
        first = r->applied;
    }
    return true;
}

/* The digest most done members share (the first seen among equals). */
static int check_majority(const struct conf *conf,
                          const struct client_node_check *out)
{
    int best = -1;
    uint32_t best_n = 0;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        if (!out[i].answered || out[i].reply.state != CHECK_DONE) {
            continue;
        }
        uint32_t n = 0;
        for (uint32_t j = 0; j < conf->n_members; j++) {
            n += out[j].answered && out[j].reply.state == CHECK_DONE &&
                 out[j].reply.digest == out[i].reply.digest &&
                 out[j].reply.n_rows == out[i].reply.n_rows;
        }
        if (n > best_n) {
            best = (int)i;
            best_n = n;
        }
    }
    return best;
}

/* Prints one line per member and returns the exit code. */
static int check_report(const struct conf *conf, const struct cdir *d,
                        const struct client_node_check *out,
                        uint32_t timeout_ms)
{
    int major = check_majority(conf, out);
    bool differs = false, missing = false;
    for (uint32_t i = 0; i < conf->n_members; i++) {
        unsigned long long id = (unsigned long long)conf->members[i].id;
        const struct msg_check_reply *r = &out[i].reply;
        if (!out[i].answered) {
            if (cdir_node_damaged(d, conf->members[i].id)) {
                printf("member %llu: damaged (node%llu.db.damaged; see its "
                       "log)\n",
                       id, id);
                differs = true;
            } else {
                printf("member %llu: no answer within %u ms\n", id, timeout_ms);
                missing = true;
            }
            continue;
        }
        if (r->state == CHECK_DAMAGED) {
            printf("member %llu: damaged: a kv row failed its checksum (see "
                   "its log)\n",
                   id);
            differs = true;
            continue;
        }
        const struct msg_check_reply *m = &out[major].reply;
        bool same = r->digest == m->digest && r->n_rows == m->n_rows;
        printf("member %llu: applied %" PRIu64 " rows %" PRIu64
               " digest %016" PRIx64 "%s\n",
               id, r->applied, r->n_rows, r->digest,
               same ? "" : "  DIFFERS from the majority");
        differs |= !same;
    }
    if (differs) {
        ctl_error("check: a member differs or is damaged (docs/DAMAGE.md)");
        return CTL_EXIT_ERROR;
    }
    if (missing) {
        ctl_error("check: not every member answered; those that did agree");
        return CTL_EXIT_UNAVAILABLE;
    }
    return CTL_EXIT_OK;
}

int cmd_check(int argc, char **argv, const char *dir)
{
    struct ctl_args a = {.cmd = "check", .dir = dir};
    int rc = ctl_parse(argc, argv, check_opts, 1, &a);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    uint64_t timeout_ms = CHECK_TIMEOUT_MS_DEFAULT;
    if (a.n_pos != 0 ||
        (a.given[0] && ctl_parse_u64(a.val[0], 1, CHECK_TIMEOUT_MS_MAX,
                                     &timeout_ms) != ERR_OK)) {
        ctl_error("usage: raftctl check [--timeout MS] (MS 1..%d)",
                  CHECK_TIMEOUT_MS_MAX);
        return CTL_EXIT_USAGE;
    }
    struct cdir d;
    struct conf conf;
    rc = ctl_load_cluster(a.dir, &d, &conf);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }
    struct client_node_check out[RAFT_NODES_MAX];
    char errmsg[ERRMSG_LEN] = "";
    uint64_t deadline_ms = clock_now_ms() + timeout_ms;
    /* Asked again while the members answer at different applied indexes
     * (writes in flight); each round is bounded by the deadline. */
    for (;;) {
        uint64_t now_ms = clock_now_ms();
        uint32_t left = now_ms < deadline_ms ? (uint32_t)(deadline_ms - now_ms)
                                             : 1;
        if (client_check_query(&conf, UINT32_MAX, left, out, errmsg) !=
            ERR_OK) {
            ctl_error("check: %s", errmsg);
            return CTL_EXIT_ERROR;
        }
        if (check_same_index(&conf, out) || clock_now_ms() >= deadline_ms) {
            break;
        }
    }
    if (!check_same_index(&conf, out)) {
        ctl_error("check: the members did not reach one applied index within "
                  "%llu ms (writes in flight?)",
                  (unsigned long long)timeout_ms);
        return CTL_EXIT_UNAVAILABLE;
    }
    return check_report(&conf, &d, out, (uint32_t)timeout_ms);
}
