/*
 * The recording writer (common/recording.h): each line is built in a
 * fixed buffer with snprintf (a line that would not fit REC_LINE_MAX is
 * cut to its fields so far and closed, never split), then written whole.
 * The size bound counts bytes written; REC_RESERVE stays free for the one
 * "recording stopped" event. Read launcher/recording_read.c next.
 */
#include "common/recording.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/invariant.h"

/* --- Names ---------------------------------------------------------------- */

static const char *const rec_msg_names[REC_MSG__COUNT] = {
    [REC_MSG_VOTE] = "vote",
    [REC_MSG_PREVOTE] = "prevote",
    [REC_MSG_VOTE_REPLY] = "vote_reply",
    [REC_MSG_PREVOTE_REPLY] = "prevote_reply",
    [REC_MSG_APPEND] = "append",
    [REC_MSG_APPEND_REPLY] = "append_reply",
    [REC_MSG_SNAPSHOT] = "snapshot",
    [REC_MSG_SNAPSHOT_REPLY] = "snapshot_reply",
    [REC_MSG_TIMEOUT_NOW] = "timeout_now",
    [REC_MSG_READ_INDEX] = "read_index",
    [REC_MSG_READ_INDEX_REPLY] = "read_index_reply",
};

const char *rec_msg_type_name(int type)
{
    return type >= 0 && type < REC_MSG__COUNT ? rec_msg_names[type] : "?";
}

int rec_msg_type_parse(const char *name)
{
    for (int i = 0; i < REC_MSG__COUNT; i++) {
        if (strcmp(name, rec_msg_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *rec_role_word(bool up, uint8_t role, bool learner)
{
    if (!up) {
        return "down";
    }
    switch (role) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_PRECANDIDATE:
        return "precandidate";
    default:
        return learner ? "learner" : "follower";
    }
}

const char *rec_role_name(const struct rec_status *s)
{
    return rec_role_word(s->up, s->role, s->learner);
}

bool rec_msg_from_raft(const struct raft_msg *m, uint32_t bytes,
                       struct rec_msg *out)
{
    memset(out, 0, sizeof(*out));
    out->from = m->from;
    out->to = m->to;
    out->term = m->term;
    out->bytes = bytes;
    switch (m->type) {
    case MSG_VOTE:
        out->type = m->u.vote.pre_vote ? REC_MSG_PREVOTE : REC_MSG_VOTE;
        out->index = m->u.vote.last_index;
        return true;
    case MSG_VOTE_REPLY:
        out->type = m->u.vote_reply.pre_vote ? REC_MSG_PREVOTE_REPLY
                                             : REC_MSG_VOTE_REPLY;
        out->has_ok = true;
        out->ok = m->u.vote_reply.granted;
        return true;
    case MSG_APPEND:
        out->type = REC_MSG_APPEND;
        out->index = m->u.append.prev_index;
        out->n = m->u.append.n_entries;
        return true;
    case MSG_APPEND_REPLY:
        out->type = REC_MSG_APPEND_REPLY;
        out->has_ok = true;
        out->ok = m->u.append_reply.success;
        out->index = m->u.append_reply.success ? m->u.append_reply.match_index
                                               : m->u.append_reply.reject_index;
        return true;
    case MSG_SNAPSHOT:
        out->type = REC_MSG_SNAPSHOT;
        out->index = m->u.snapshot.last_index;
        return true;
    case MSG_SNAPSHOT_REPLY:
        out->type = REC_MSG_SNAPSHOT_REPLY;
        out->index = m->u.snapshot_reply.last_index;
        out->has_ok = true;
        out->ok = m->u.snapshot_reply.success;
        return true;
    case MSG_TIMEOUT_NOW:
        out->type = REC_MSG_TIMEOUT_NOW;
        return true;
    case MSG_READ_INDEX:
        out->type = REC_MSG_READ_INDEX;
        return true;
    case MSG_READ_INDEX_REPLY:
        out->type = REC_MSG_READ_INDEX_REPLY;
        out->index = m->u.read_index_reply.index;
        out->has_ok = true;
        out->ok = m->u.read_index_reply.ok;
        return true;
    default:
        return false;
    }
}

/* --- Opening and closing ------------------------------------------------- */

void rec_writer_init(struct rec_writer *w, FILE *f, uint64_t max_bytes)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->max_bytes = max_bytes != 0 ? max_bytes : REC_MAX_DEFAULT;
}

int rec_writer_open(struct rec_writer *w, const char *path, uint64_t max_bytes,
                    char errmsg[ERRMSG_LEN])
{
    memset(w, 0, sizeof(*w));
    int fd =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(errmsg, ERRMSG_LEN, "%s: %s", path, strerror(errno));
        return ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fchmod(fd, 0600) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "%s: not a regular file of ours", path);
        close(fd);
        return ERR_IO;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "%s: %s", path, strerror(errno));
        close(fd);
        return ERR_IO;
    }
    rec_writer_init(w, f, max_bytes);
    return ERR_OK;
}

void rec_writer_flush(struct rec_writer *w)
{
    if (w->f != NULL && !w->failed && fflush(w->f) != 0) {
        w->failed = true;
    }
}

int rec_writer_close(struct rec_writer *w)
{
    if (w->f == NULL) {
        return ERR_OK;
    }
    bool bad = w->failed;
    if (fclose(w->f) != 0) {
        bad = true;
    }
    w->f = NULL;
    return bad ? ERR_IO : ERR_OK;
}

/* --- Building a line ------------------------------------------------------ */

struct rec_line {
    char buf[REC_LINE_MAX];
    size_t len;
    size_t closed; /* Length up to the last whole field. */
    bool over;
};

static void line_printf(struct rec_line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void line_printf(struct rec_line *l, const char *fmt, ...)
{
    if (l->over) {
        return;
    }
    size_t room = sizeof(l->buf) - 3 - l->len; /* "}\n" and the NUL. */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        l->over = true;
        return;
    }
    l->len += (size_t)n;
}

/* A field boundary: a cut line keeps everything before it. */
static void line_mark(struct rec_line *l)
{
    if (!l->over) {
        l->closed = l->len;
    }
}

/* "key":"escaped text" (control characters and non-ASCII bytes become
 * \u00XX or '?', so the line is valid JSON and valid UTF-8). */
static void line_string(struct rec_line *l, const char *key, const char *text)
{
    line_printf(l, ",\"%s\":\"", key);
    for (const unsigned char *p = (const unsigned char *)text;
         *p != '\0' && !l->over; p++) {
        if (*p == '"' || *p == '\\') {
            line_printf(l, "\\%c", *p);
        } else if (*p < 0x20) {
            line_printf(l, "\\u%04x", *p);
        } else if (*p >= 0x80) {
            line_printf(l, "?");
        } else {
            line_printf(l, "%c", *p);
        }
    }
    line_printf(l, "\"");
    line_mark(l);
}

static void line_begin(struct rec_line *l, uint64_t t, const char *kind)
{
    l->len = 0;
    l->closed = 0;
    l->over = false;
    line_printf(l, "{\"t\":%" PRIu64 ",\"k\":\"%s\"", t, kind);
    line_mark(l);
}

/* Writes one finished line (bytes + the reserve within the bound). */
static bool line_put(struct rec_writer *w, const char *data, size_t len,
                     bool is_final)
{
    if (w->f == NULL || w->failed) {
        return false;
    }
    uint64_t limit = is_final ? w->max_bytes : w->max_bytes - REC_RESERVE;
    if (w->max_bytes < REC_RESERVE || w->bytes + len > limit) {
        return false;
    }
    if (fwrite(data, 1, len, w->f) != len) {
        w->failed = true;
        return false;
    }
    w->bytes += len;
    w->lines++;
    return true;
}

static bool line_end(struct rec_writer *w, struct rec_line *l)
{
    if (w->full || w->f == NULL) {
        w->dropped++;
        return false;
    }
    if (l->over) {
        l->len = l->closed; /* Whole fields only. */
    }
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    if (line_put(w, l->buf, l->len, false)) {
        return true;
    }
    w->dropped++;
    if (!w->failed) {
        w->full = true;
        char last[REC_RESERVE];
        int n = snprintf(
            last, sizeof(last),
            "{\"t\":%" PRIu64 ",\"k\":\"event\",\"kind\":\"info\",\"text\":"
            "\"recording stopped: size limit of %" PRIu64 " bytes reached\"}\n",
            w->last_t, w->max_bytes);
        if (n > 0 && (size_t)n < sizeof(last)) {
            (void)line_put(w, last, (size_t)n, true);
        }
        rec_writer_flush(w);
    }
    return false;
}

/* --- Each kind -------------------------------------------------------------- */

bool rec_write_meta(struct rec_writer *w, const struct rec_meta *m)
{
    struct rec_line l;
    line_begin(&l, 0, "meta");
    line_printf(&l, ",\"v\":%u,\"source\":\"%s\"", REC_VERSION,
                m->is_sim ? "sim" : "live");
    if (m->has_seed) {
        line_printf(&l, ",\"seed\":%" PRIu64, m->seed);
    }
    if (m->wall_ms != 0) {
        line_printf(&l, ",\"wall_ms\":%" PRIu64, m->wall_ms);
    }
    line_printf(&l, ",\"heartbeat_ms\":%u,\"election_ms\":[%u,%u]",
                m->heartbeat_ms, m->election_ms[0], m->election_ms[1]);
    line_printf(&l, ",\"members\":[");
    for (uint32_t i = 0; i < m->n_members && i < RAFT_NODES_MAX; i++) {
        line_printf(&l, "%s{\"id\":%" PRIu64 "", i > 0 ? "," : "",
                    m->members[i].id);
        line_string(&l, "addr", m->members[i].addr);
        line_printf(&l, "}");
    }
    line_printf(&l, "]");
    line_mark(&l); /* A cut meta line lacks its members: readers refuse it. */
    return line_end(w, &l);
}

bool rec_write_status(struct rec_writer *w, uint64_t t,
                      const struct rec_status *s)
{
    struct rec_line l;
    w->last_t = t;
    line_begin(&l, t, "status");
    if (!s->up) {
        line_printf(&l, ",\"id\":%" PRIu64 ",\"up\":false,\"role\":\"down\"",
                    s->id);
        line_mark(&l);
        return line_end(w, &l);
    }
    line_printf(
        &l,
        ",\"id\":%" PRIu64 ",\"up\":%s,\"role\":\"%s\",\"term\":%" PRIu64
        ",\"vote\":%" PRIu64 ",\"leader\":%" PRIu64 ",\"commit\":%" PRIu64
        ",\"applied\":%" PRIu64 ",\"last\":%" PRIu64 ",\"snap\":%" PRIu64
        ",\"timer_ms\":%u,\"timeout_ms\":%u",
        s->id, s->up ? "true" : "false", rec_role_name(s), s->term, s->vote,
        s->leader, s->commit, s->applied, s->last, s->snap, s->timer_ms,
        s->timeout_ms);
    static const char *const disks[] = {"ok", "full", "hung"};
    line_printf(&l, ",\"disk\":\"%s\",\"pid\":%u",
                s->disk < 3 ? disks[s->disk] : "ok", s->pid);
    if (s->contact_ms != UINT64_MAX) {
        line_printf(&l, ",\"contact_ms\":%" PRIu64, s->contact_ms);
    }
    line_mark(&l);
    line_printf(&l, ",\"tail_first\":%" PRIu64 ",\"tail\":[", s->tail_first);
    for (uint32_t i = 0; i < s->n_tail && i < STATUS_TAIL_MAX; i++) {
        line_printf(&l, "%s%" PRIu64, i > 0 ? "," : "", s->tail[i]);
    }
    line_printf(&l, "],\"peers\":[");
    for (uint32_t i = 0; i < s->n_peers && i < RAFT_NODES_MAX; i++) {
        line_printf(&l,
                    "%s{\"id\":%" PRIu64 ",\"match\":%" PRIu64
                    ",\"next\":%" PRIu64 "}",
                    i > 0 ? "," : "", s->peers[i].id, s->peers[i].match,
                    s->peers[i].next);
    }
    line_printf(&l, "],\"blocked\":[");
    for (uint32_t i = 0; i < s->n_blocked && i < RAFT_NODES_MAX; i++) {
        line_printf(&l, "%s%" PRIu64, i > 0 ? "," : "", s->blocked[i]);
    }
    line_printf(&l, "]");
    line_mark(&l);
    return line_end(w, &l);
}

bool rec_write_msg(struct rec_writer *w, uint64_t t, const struct rec_msg *m)
{
    struct rec_line l;
    w->last_t = t;
    line_begin(&l, t, "msg");
    line_printf(
        &l,
        ",\"from\":%" PRIu64 ",\"to\":%" PRIu64
        ",\"type\":\"%s\",\"term\":%" PRIu64 ",\"index\":%" PRIu64 ",\"n\":%u",
        m->from, m->to, rec_msg_type_name(m->type), m->term, m->index, m->n);
    if (m->has_ok) {
        line_printf(&l, ",\"ok\":%s", m->ok ? "true" : "false");
    }
    line_printf(&l, ",\"bytes\":%u", m->bytes);
    if (m->coalesced > 1) {
        line_printf(&l, ",\"coalesced\":%u", m->coalesced);
    }
    line_mark(&l);
    return line_end(w, &l);
}

/* event, fault and violation: kind word, optional id and a text. */
static bool write_text(struct rec_writer *w, uint64_t t, const char *k,
                       const char *kind, raft_id id, const char *text)
{
    struct rec_line l;
    w->last_t = t;
    line_begin(&l, t, k);
    if (kind != NULL) {
        line_string(&l, "kind", kind);
    }
    if (id != RAFT_ID_NONE) {
        line_printf(&l, ",\"id\":%" PRIu64, id);
        line_mark(&l);
    }
    char cut[REC_TEXT_MAX];
    snprintf(cut, sizeof(cut), "%s", text);
    line_string(&l, "text", cut);
    return line_end(w, &l);
}

bool rec_write_event(struct rec_writer *w, uint64_t t, const char *kind,
                     raft_id id, const char *text)
{
    return write_text(w, t, "event", kind, id, text);
}

bool rec_write_fault(struct rec_writer *w, uint64_t t, raft_id id,
                     const char *text)
{
    return write_text(w, t, "fault", NULL, id, text);
}

bool rec_write_violation(struct rec_writer *w, uint64_t t, const char *text)
{
    return write_text(w, t, "violation", NULL, RAFT_ID_NONE, text);
}

bool rec_write_trace_dropped(struct rec_writer *w, uint64_t t, raft_id id,
                             uint64_t count)
{
    struct rec_line l;
    w->last_t = t;
    line_begin(&l, t, "trace_dropped");
    line_printf(&l, ",\"id\":%" PRIu64 ",\"count\":%" PRIu64, id, count);
    line_mark(&l);
    return line_end(w, &l);
}
