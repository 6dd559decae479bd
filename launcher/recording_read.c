/*
 * The recording reader (launcher/recording_read.h): jansson parses each
 * line into a tree, and small getters copy the fields this reader knows,
 * refusing a wrong type or a value out of range. Read launcher/replay.c
 * next.
 */
#include "launcher/recording_read.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* --- Fields ---------------------------------------------------------------- */

/* A non-negative integer field; absent: *out untouched, true unless
 * required. */
static bool get_u64(json_t *o, const char *key, bool required, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return !required;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static bool get_u32(json_t *o, const char *key, bool required, uint32_t *out)
{
    uint64_t v = *out;
    if (!get_u64(o, key, required, &v) || v > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static bool get_bool(json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return true;
    }
    if (!json_is_boolean(v)) {
        return false;
    }
    *out = json_is_true(v);
    return true;
}

/* A string field copied into buf (cut to cap - 1). */
static bool get_str(json_t *o, const char *key, bool required, char *buf,
                    size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return !required;
    }
    if (!json_is_string(v)) {
        return false;
    }
    snprintf(buf, cap, "%s", json_string_value(v));
    return true;
}

/* An array of at most cap non-negative integers. */
static bool get_u64_array(json_t *o, const char *key, uint64_t *out,
                          uint32_t cap, uint32_t *n)
{
    json_t *a = json_object_get(o, key);
    *n = 0;
    if (a == NULL) {
        return true;
    }
    if (!json_is_array(a) || json_array_size(a) > cap) {
        return false;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            return false;
        }
        out[i] = (uint64_t)json_integer_value(v);
    }
    *n = (uint32_t)json_array_size(a);
    return true;
}

/* --- Kinds ----------------------------------------------------------------- */

static const char *const kind_words[REC__COUNT] = {
    [REC_META] = "meta",
    [REC_STATUS] = "status",
    [REC_MSG] = "msg",
    [REC_EVENT] = "event",
    [REC_FAULT] = "fault",
    [REC_VIOLATION] = "violation",
    [REC_TRACE_DROPPED] = "trace_dropped",
};

static bool parse_meta(json_t *o, struct rec_meta *m)
{
    char source[16] = "";
    if (!get_u32(o, "v", true, &m->version) || m->version < 1 ||
        !get_str(o, "source", false, source, sizeof(source)) ||
        !get_u64(o, "seed", false, &m->seed) ||
        !get_u64(o, "wall_ms", false, &m->wall_ms) ||
        !get_u32(o, "heartbeat_ms", false, &m->heartbeat_ms)) {
        return false;
    }
    m->is_sim = strcmp(source, "sim") == 0;
    m->has_seed = json_object_get(o, "seed") != NULL;
    uint64_t el[2] = {0, 0};
    uint32_t n_el = 0;
    if (!get_u64_array(o, "election_ms", el, 2, &n_el) ||
        (n_el != 0 && n_el != 2) || el[0] > UINT32_MAX || el[1] > UINT32_MAX) {
        return false;
    }
    m->election_ms[0] = (uint32_t)el[0];
    m->election_ms[1] = (uint32_t)el[1];
    json_t *a = json_object_get(o, "members");
    if (!json_is_array(a) || json_array_size(a) < 1 ||
        json_array_size(a) > RAFT_NODES_MAX) {
        return false;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *mo = json_array_get(a, i);
        struct rec_member *mb = &m->members[i];
        if (!json_is_object(mo) || !get_u64(mo, "id", true, &mb->id) ||
            mb->id == RAFT_ID_NONE ||
            !get_str(mo, "addr", false, mb->addr, sizeof(mb->addr))) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (m->members[j].id == mb->id) {
                return false;
            }
        }
    }
    m->n_members = (uint32_t)json_array_size(a);
    return true;
}

static bool parse_role(const char *role, struct rec_status *s)
{
    static const struct {
        const char *word;
        uint8_t role;
    } roles[] = {{"leader", RAFT_LEADER},
                 {"candidate", RAFT_CANDIDATE},
                 {"precandidate", RAFT_PRECANDIDATE},
                 {"follower", RAFT_FOLLOWER},
                 {"learner", RAFT_FOLLOWER},
                 {"down", RAFT_FOLLOWER}};
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (strcmp(role, roles[i].word) == 0) {
            s->role = roles[i].role;
            s->learner = strcmp(role, "learner") == 0;
            if (strcmp(role, "down") == 0) {
                s->up = false;
            }
            return true;
        }
    }
    return false;
}

static bool parse_peers(json_t *o, struct rec_status *s)
{
    json_t *a = json_object_get(o, "peers");
    if (a == NULL) {
        return true;
    }
    if (!json_is_array(a) || json_array_size(a) > RAFT_NODES_MAX) {
        return false;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *p = json_array_get(a, i);
        struct rec_peer *pe = &s->peers[i];
        if (!json_is_object(p) || !get_u64(p, "id", true, &pe->id) ||
            !get_u64(p, "match", false, &pe->match) ||
            !get_u64(p, "next", false, &pe->next)) {
            return false;
        }
    }
    s->n_peers = (uint32_t)json_array_size(a);
    return true;
}

static bool parse_status(json_t *o, struct rec_status *s)
{
    char role[16] = "follower", disk[8] = "ok";
    s->up = true;
    s->contact_ms = UINT64_MAX;
    if (!get_u64(o, "id", true, &s->id) || s->id == RAFT_ID_NONE ||
        !get_bool(o, "up", &s->up) ||
        !get_str(o, "role", false, role, sizeof(role)) ||
        !parse_role(role, s) || !get_u64(o, "term", false, &s->term) ||
        !get_u64(o, "vote", false, &s->vote) ||
        !get_u64(o, "leader", false, &s->leader) ||
        !get_u64(o, "commit", false, &s->commit) ||
        !get_u64(o, "applied", false, &s->applied) ||
        !get_u64(o, "last", false, &s->last) ||
        !get_u64(o, "snap", false, &s->snap) ||
        !get_u32(o, "timer_ms", false, &s->timer_ms) ||
        !get_u32(o, "timeout_ms", false, &s->timeout_ms) ||
        !get_u64(o, "tail_first", false, &s->tail_first) ||
        !get_u32(o, "pid", false, &s->pid) ||
        !get_u64(o, "contact_ms", false, &s->contact_ms) ||
        !get_str(o, "disk", false, disk, sizeof(disk)) ||
        !get_u64_array(o, "tail", s->tail, STATUS_TAIL_MAX, &s->n_tail) ||
        !get_u64_array(o, "blocked", s->blocked, RAFT_NODES_MAX,
                       &s->n_blocked) ||
        !parse_peers(o, s)) {
        return false;
    }
    s->disk = strcmp(disk, "full") == 0   ? STATUS_DISK_FULL
              : strcmp(disk, "hung") == 0 ? STATUS_DISK_HUNG
                                          : STATUS_DISK_OK;
    return true;
}

static bool parse_msg(json_t *o, struct rec_msg *m)
{
    char type[24] = "";
    if (!get_u64(o, "from", true, &m->from) ||
        !get_u64(o, "to", true, &m->to) ||
        !get_str(o, "type", true, type, sizeof(type)) ||
        !get_u64(o, "term", false, &m->term) ||
        !get_u64(o, "index", false, &m->index) ||
        !get_u32(o, "n", false, &m->n) || !get_bool(o, "ok", &m->ok) ||
        !get_u32(o, "bytes", false, &m->bytes) ||
        !get_u32(o, "coalesced", false, &m->coalesced)) {
        return false;
    }
    int t = rec_msg_type_parse(type);
    if (t < 0) {
        return false;
    }
    m->type = (uint8_t)t;
    m->has_ok = json_object_get(o, "ok") != NULL;
    return true;
}

static bool parse_text(json_t *o, int kind, struct rec_text *x)
{
    if (kind == REC_TRACE_DROPPED) {
        return get_u64(o, "id", false, &x->id) &&
               get_u64(o, "count", true, &x->count);
    }
    if (kind == REC_EVENT) {
        snprintf(x->kind, sizeof(x->kind), "info");
    }
    return get_str(o, "kind", false, x->kind, sizeof(x->kind)) &&
           get_u64(o, "id", false, &x->id) &&
           get_str(o, "text", true, x->text, sizeof(x->text));
}

int rec_parse_line(const char *line, size_t len, struct rec_record *out)
{
    memset(out, 0, sizeof(*out));
    if (len > REC_READ_LINE_MAX) {
        return ERR_INVALID;
    }
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr);
    if (o == NULL) {
        return ERR_INVALID;
    }
    char k[24] = "";
    bool ok = json_is_object(o) && get_u64(o, "t", true, &out->t) &&
              get_str(o, "k", true, k, sizeof(k));
    if (ok) {
        out->kind = REC_UNKNOWN;
        for (int i = 1; i < REC__COUNT; i++) {
            if (strcmp(k, kind_words[i]) == 0) {
                out->kind = i;
            }
        }
        switch (out->kind) {
        case REC_META:
            ok = parse_meta(o, &out->u.meta);
            break;
        case REC_STATUS:
            ok = parse_status(o, &out->u.status);
            break;
        case REC_MSG:
            ok = parse_msg(o, &out->u.msg);
            break;
        case REC_UNKNOWN:
            break;
        default:
            ok = parse_text(o, out->kind, &out->u.text);
            break;
        }
    }
    json_decref(o);
    return ok ? ERR_OK : ERR_INVALID;
}

/* --- Files ----------------------------------------------------------------- */

static void file_malformed(struct rec_file *f)
{
    f->n_malformed++;
    if (f->first_malformed == 0) {
        f->first_malformed = f->n_lines;
    }
}

/* Indexes one line (the meta line is the first). */
static int file_line(struct rec_file *f, size_t off, size_t len,
                     struct rec_record *r, size_t *cap, char errmsg[ERRMSG_LEN])
{
    f->n_lines++;
    if (len == 0) {
        return ERR_OK;
    }
    bool ok = rec_parse_line(f->data + off, len, r) == ERR_OK;
    if (f->n_lines == 1) {
        if (!ok || r->kind != REC_META) {
            snprintf(errmsg, ERRMSG_LEN,
                     "not a recording (its first line is no meta line)");
            return ERR_INVALID;
        }
        if (r->u.meta.version > REC_VERSION) {
            snprintf(errmsg, ERRMSG_LEN,
                     "recording version %u is newer than this raftctl's %u",
                     r->u.meta.version, REC_VERSION);
            return ERR_INVALID;
        }
        f->meta = r->u.meta;
        return ERR_OK;
    }
    if (!ok || r->t < f->t_end) {
        file_malformed(f);
        return ERR_OK;
    }
    if (r->kind == REC_UNKNOWN || r->kind == REC_META) {
        f->n_unknown++;
        return ERR_OK;
    }
    if (f->n == *cap) {
        size_t ncap = *cap != 0 ? *cap * 2 : 1024;
        struct rec_entry *e = realloc(f->entries, ncap * sizeof(*e));
        if (e == NULL) {
            snprintf(errmsg, ERRMSG_LEN, "out of memory");
            return ERR_NOMEM;
        }
        f->entries = e;
        *cap = ncap;
    }
    f->entries[f->n++] = (struct rec_entry){
        .t = r->t,
        .off = off,
        .len = (uint32_t)len,
        .kind = (uint8_t)r->kind,
        .id = r->kind == REC_STATUS ? r->u.status.id : RAFT_ID_NONE,
    };
    f->t_end = r->t;
    return ERR_OK;
}

int rec_file_parse(struct rec_file *f, char *data, size_t size,
                   char errmsg[ERRMSG_LEN])
{
    memset(f, 0, sizeof(*f));
    f->data = data;
    f->size = size;
    struct rec_record *r = malloc(sizeof(*r));
    if (r == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "out of memory");
        return ERR_NOMEM;
    }
    size_t cap = 0, off = 0;
    int rc = ERR_OK;
    while (off < size && rc == ERR_OK) {
        const char *nl = memchr(data + off, '\n', size - off);
        size_t len = nl != NULL ? (size_t)(nl - (data + off)) : size - off;
        rc = file_line(f, off, len, r, &cap, errmsg);
        off += len + 1;
    }
    if (rc == ERR_OK && f->n_lines == 0) {
        snprintf(errmsg, ERRMSG_LEN, "not a recording (it is empty)");
        rc = ERR_INVALID;
    }
    free(r);
    return rc;
}

int rec_file_load(const char *path, struct rec_file *out,
                  char errmsg[ERRMSG_LEN])
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errmsg, ERRMSG_LEN, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errmsg, ERRMSG_LEN, "%s: not a regular file", path);
        close(fd);
        return ERR_IO;
    }
    if ((uint64_t)st.st_size > REC_READ_FILE_MAX) {
        snprintf(errmsg, ERRMSG_LEN, "%s: larger than %llu MiB", path,
                 (unsigned long long)(REC_READ_FILE_MAX >> 20));
        close(fd);
        return ERR_TOO_BIG;
    }
    size_t size = (size_t)st.st_size;
    char *data = malloc(size + 1);
    size_t got = 0;
    while (data != NULL && got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (data == NULL || got != size) {
        snprintf(errmsg, ERRMSG_LEN, "%s: cannot read it", path);
        free(data);
        return ERR_IO;
    }
    int rc = rec_file_parse(out, data, size, errmsg);
    if (rc != ERR_OK) {
        char inner[ERRMSG_LEN / 2];
        snprintf(inner, sizeof(inner), "%s", errmsg);
        snprintf(errmsg, ERRMSG_LEN, "%.120s: %s", path, inner);
        rec_file_free(out);
    }
    return rc;
}

int rec_file_get(const struct rec_file *f, size_t i, struct rec_record *out)
{
    if (i >= f->n) {
        return ERR_INVALID;
    }
    return rec_parse_line(f->data + f->entries[i].off, f->entries[i].len, out);
}

void rec_file_free(struct rec_file *f)
{
    free(f->data);
    free(f->entries);
    memset(f, 0, sizeof(*f));
}
