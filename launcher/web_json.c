/*
 * JSON lines for the page (launcher/web_json.h), built with jansson so that
 * every string is escaped. Read launcher/web_stream.c next.
 */
#include "launcher/web_json.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/membership.h"
#include "common/recording.h"

/* Dumps obj compactly into buf and frees it. */
static size_t json_finish(json_t *obj, char *buf, size_t cap)
{
    if (obj == NULL) {
        return 0;
    }
    size_t n = json_dumpb(obj, buf, cap > 0 ? cap - 1 : 0, JSON_COMPACT);
    json_decref(obj);
    if (n == 0 || n >= cap) {
        return 0;
    }
    buf[n] = '\0';
    return n;
}

size_t web_json_meta(const struct conf *conf, const char *source,
                     uint32_t heartbeat_ms, uint32_t election_ms, char *buf,
                     size_t cap)
{
    json_t *members = json_array();
    for (uint32_t i = 0; i < conf->n_members; i++) {
        char addr[CONF_HOST_MAX + 8];
        snprintf(addr, sizeof(addr), "%s:%u", conf->members[i].host,
                 (unsigned)conf->members[i].port);
        json_array_append_new(
            members, json_pack("{s:I,s:s}", "id",
                               (json_int_t)conf->members[i].id, "addr", addr));
    }
    return json_finish(json_pack("{s:i,s:s,s:i,s:s,s:o,s:i,s:[i,i]}", "t", 0,
                                 "k", "meta", "v", 1, "source", source,
                                 "members", members, "heartbeat_ms",
                                 (int)heartbeat_ms, "election_ms",
                                 (int)election_ms, (int)(2 * election_ms)),
                       buf, cap);
}

/* A follower that is a learner in its own configuration. */
static bool status_is_learner(const struct dash_node *n)
{
    struct membership c;
    if (n->st.config_len == 0 ||
        membership_decode(n->st.config, n->st.config_len, &c) != ERR_OK) {
        return false;
    }
    const struct membership_member *m = membership_get(&c, n->id);
    return m != NULL && !m->voter && !m->old_voter;
}

static const char *status_role(const struct dash_node *n)
{
    bool up = n->state == DASH_NODE_UP && n->has_reply;
    return rec_role_word(up, n->st.role, up && status_is_learner(n));
}

static const char *status_disk(uint8_t disk)
{
    return disk == STATUS_DISK_FULL   ? "full"
           : disk == STATUS_DISK_HUNG ? "hung"
                                      : "ok";
}

/* The timer as of now: the reply's elapsed time plus its age. */
static json_int_t status_timer_ms(const struct dash_node *n)
{
    uint64_t t = (uint64_t)n->st.election_elapsed_ms + n->age_ms;
    return (json_int_t)(t < n->st.election_timeout_ms
                            ? t
                            : n->st.election_timeout_ms);
}

size_t web_json_status(const struct dash_node *n, uint64_t t_ms, char *buf,
                       size_t cap)
{
    const struct msg_status_reply *st = &n->st;
    bool is_up = n->state == DASH_NODE_UP && n->has_reply;
    json_t *tail = json_array();
    for (uint32_t i = 0; i < st->n_tail && i < STATUS_TAIL_MAX; i++) {
        json_array_append_new(tail,
                              json_integer((json_int_t)st->tail_terms[i]));
    }
    json_t *peers = json_array();
    for (uint32_t i = 0; is_up && i < st->n_peers && i < RAFT_NODES_MAX; i++) {
        json_array_append_new(
            peers, json_pack("{s:I,s:I,s:I}", "id", (json_int_t)st->peers[i].id,
                             "match", (json_int_t)st->peers[i].match, "next",
                             (json_int_t)st->peers[i].next));
    }
    json_t *o = json_pack(
        "{s:I,s:s,s:I,s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,"
        "s:o,s:s,s:I}",
        "t", (json_int_t)t_ms, "k", "status", "id", (json_int_t)n->id, "up",
        is_up, "role", status_role(n), "term", (json_int_t)n->term, "vote",
        (json_int_t)st->voted_for, "leader", (json_int_t)st->leader, "commit",
        (json_int_t)st->commit, "applied", (json_int_t)st->applied, "last",
        (json_int_t)st->last_index, "snap", (json_int_t)st->snapshot_index,
        "timer_ms", is_up ? status_timer_ms(n) : (json_int_t)0, "timeout_ms",
        (json_int_t)st->election_timeout_ms, "tail_first",
        (json_int_t)st->tail_first, "tail", tail, "peers", peers, "disk",
        status_disk(st->disk), "pid", (json_int_t)n->pid);
    return json_finish(o, buf, cap);
}

size_t web_json_event(const struct ev *e, uint64_t t_ms, char *buf, size_t cap)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:I}", "t", (json_int_t)t_ms, "k",
                          "event", "kind", ev_kind_name(e->kind), "text",
                          e->text, "wall", (json_int_t)e->wall_ms);
    if (o != NULL && e->node != RAFT_ID_NONE) {
        json_object_set_new(o, "id", json_integer((json_int_t)e->node));
    }
    return json_finish(o, buf, cap);
}

size_t web_json_fault(raft_id id, const char *text, uint64_t t_ms, char *buf,
                      size_t cap)
{
    return json_finish(json_pack("{s:I,s:s,s:I,s:s}", "t", (json_int_t)t_ms,
                                 "k", "fault", "id", (json_int_t)id, "text",
                                 text),
                       buf, cap);
}

/* Appends piece to buf at *len, with sep first when buf is not empty. */
static void fault_append(char *buf, size_t cap, size_t *len, const char *sep,
                         const char *piece)
{
    int k =
        snprintf(buf + *len, cap - *len, "%s%s", *len > 0 ? sep : "", piece);
    if (k > 0) {
        *len += (size_t)k < cap - *len ? (size_t)k : cap - *len - 1;
    }
}

void web_fault_text(const struct msg_status_reply *st, char *buf, size_t cap)
{
    size_t len = 0;
    char piece[48];
    buf[0] = '\0';
    for (uint32_t i = 0; i < st->n_blocked && i < RAFT_NODES_MAX; i++) {
        snprintf(piece, sizeof(piece),
                 i == 0 ? "partitioned from %llu" : "%llu",
                 (unsigned long long)st->blocked[i]);
        fault_append(buf, cap, &len, ",", piece);
    }
    if (st->loss_ppm != 0) {
        snprintf(piece, sizeof(piece), "loss %u%%", st->loss_ppm / 10000);
        fault_append(buf, cap, &len, "; ", piece);
    }
    if (st->dup_ppm != 0) {
        snprintf(piece, sizeof(piece), "dup %u%%", st->dup_ppm / 10000);
        fault_append(buf, cap, &len, "; ", piece);
    }
    if (st->delay_ms != 0 || st->jitter_ms != 0) {
        snprintf(piece, sizeof(piece), "delay %u+-%ums", st->delay_ms,
                 st->jitter_ms);
        fault_append(buf, cap, &len, "; ", piece);
    }
}
