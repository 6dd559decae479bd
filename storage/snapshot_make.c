/*
 * Producing a snapshot image (storage/snapshot_make.h): one read-only
 * connection, one read transaction, records streamed through a 1 MiB
 * buffer into a temporary file with the checksum computed on the way, then
 * fsync and rename. The runner forks a child for it, modeled on
 * node/syncer.c, and gets one fixed-size result back through a pipe. Never
 * writes the database. Read storage/store_snapshot.c next.
 */
#include "storage/snapshot_make.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/child.h"
#include "common/invariant.h"
#include "common/snapshot_image.h"
#include "storage/row_crc.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "storage/store_int.h"

#define MAKE_BUF_SIZE (1u << 20)
#define MAKE_BUSY_TIMEOUT_MS 5000

/* The image being written: buffered output and its running checksum. */
struct make_out {
    int fd;
    uint8_t *buf;
    size_t used;
    uint64_t size;
    struct snapshot_hash hash;
    char *errmsg;
};

static int out_flush(struct make_out *o)
{
    size_t done = 0;
    while (done < o->used) {
        ssize_t w = write(o->fd, o->buf + done, o->used - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            snprintf(o->errmsg, ERRMSG_LEN, "writing snapshot image: %s",
                     w < 0 ? strerror(errno) : "short write");
            return ERR_IO;
        }
        done += (size_t)w;
    }
    o->used = 0;
    return ERR_OK;
}

/* Makes room for need bytes (at most MAKE_BUF_SIZE) at o->buf + o->used. */
static int out_reserve(struct make_out *o, size_t need)
{
    ASSERT(need <= MAKE_BUF_SIZE);
    return MAKE_BUF_SIZE - o->used >= need ? ERR_OK : out_flush(o);
}

/* Counts what an encoder wrote into the buffer and the checksum. */
static void out_advance(struct make_out *o, size_t n)
{
    snapshot_hash_update(&o->hash, o->buf + o->used, n);
    o->used += n;
    o->size += n;
}

/* Runs a query returning one int64 (NULL or no row: *found false). */
static int make_query(sqlite3 *db, const char *sql, bool *found, int64_t *v,
                      char errmsg[ERRMSG_LEN])
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    int err = ERR_OK;
    *found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
    } else if (rc != SQLITE_DONE) {
        snprintf(errmsg, ERRMSG_LEN, "%s: %s", sql, sqlite3_errmsg(db));
        err = ERR_IO;
    }
    sqlite3_finalize(st);
    return err;
}

/* The header: the applied index, its term (from the log, or the snapshot
 * row when applied is the snapshot point) and the counts, all read in the
 * caller's transaction. Errors: ERR_INVALID, ERR_CORRUPT, ERR_IO. */
static int make_header(sqlite3 *db, struct snapshot_image_header *h,
                       char errmsg[ERRMSG_LEN])
{
    static const char *const sql[] = {
        "SELECT value FROM meta WHERE name = 'applied_index'",
        "SELECT count(*) FROM kv",
        "SELECT count(*) FROM sessions",
    };
    int64_t v[3] = {0, 0, 0};
    bool found = false;
    for (int i = 0; i < 3; i++) {
        int err = make_query(db, sql[i], &found, &v[i], errmsg);
        if (err != ERR_OK) {
            return err;
        }
    }
    if (v[0] <= 0) {
        snprintf(errmsg, ERRMSG_LEN, "nothing applied yet: no snapshot");
        return ERR_INVALID;
    }
    char q[192];
    snprintf(q, sizeof(q),
             "SELECT coalesce((SELECT term FROM log WHERE idx = %" PRId64
             "), (SELECT term FROM snapshot WHERE idx = %" PRId64 "))",
             v[0], v[0]);
    int64_t term = 0;
    int err = make_query(db, q, &found, &term, errmsg);
    if (err == ERR_OK && (!found || term <= 0)) {
        snprintf(errmsg, ERRMSG_LEN, "no term for applied index %" PRId64,
                 v[0]);
        err = ERR_CORRUPT;
    }
    h->index = (raft_index)v[0];
    h->term = (raft_term)term;
    h->n_kv = (uint64_t)v[1];
    h->n_sessions = (uint64_t)v[2];
    h->n_evicted = 0; /* Sessions registered through the log keep none. */
    return err;
}

/* Streams every row of one table as records; *n gets the row count.
 * Errors: ERR_CORRUPT (a row the image cannot hold), ERR_IO. */
static int make_table(sqlite3 *db, int type, struct make_out *o, uint64_t *n)
{
    static const char *const sql[] = {
        [SNAPSHOT_REC_KV] = "SELECT " SCHEMA_KV_CRC_COLUMNS ", crc FROM kv",
        [SNAPSHOT_REC_SESSION] = "SELECT " SCHEMA_SESSION_CRC_COLUMNS
                                 ", crc FROM sessions ORDER BY client_id",
    };
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql[type], -1, &st, NULL);
    int err = ERR_OK;
    *n = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        err = out_reserve(o, SNAPSHOT_KV_MAX_SIZE);
        uint8_t *p = o->buf + o->used;
        size_t cap = MAKE_BUF_SIZE - o->used, len = 0;
        if (err == ERR_OK && type == SNAPSHOT_REC_KV) {
            const uint8_t *k = NULL, *v = NULL;
            uint32_t kl = 0, vl = 0;
            if (!row_crc_check(st, 0, 2, 2)) {
                snprintf(o->errmsg, ERRMSG_LEN,
                         "damaged: kv row %" PRIu64 " fails its checksum", *n);
                err = ERR_DAMAGED;
            } else if (schema_column_bytes(st, 0, &k, &kl) != ERR_OK ||
                schema_column_bytes(st, 1, &v, &vl) != ERR_OK ||
                snapshot_image_encode_kv(k, kl, v, vl, p, cap, &len) !=
                    ERR_OK) {
                snprintf(o->errmsg, ERRMSG_LEN,
                         "kv row %" PRIu64 " has a bad type or size", *n);
                err = ERR_CORRUPT;
            }
        } else if (err == ERR_OK && !row_crc_check(st, 0, 4, 4)) {
            snprintf(o->errmsg, ERRMSG_LEN,
                     "damaged: sessions row %" PRIu64 " fails its checksum",
                     (uint64_t)sqlite3_column_int64(st, 0));
            err = ERR_DAMAGED;
        } else if (err == ERR_OK) {
            struct snapshot_image_session s = {
                (uint64_t)sqlite3_column_int64(st, 0),
                (uint64_t)sqlite3_column_int64(st, 1),
                (raft_index)sqlite3_column_int64(st, 3),
                (uint8_t)sqlite3_column_int(st, 2)};
            err = snapshot_image_encode_session(&s, p, cap, &len);
        }
        if (err != ERR_OK) {
            break;
        }
        out_advance(o, len);
        (*n)++;
        rc = SQLITE_OK;
    }
    if (err == ERR_OK && rc != SQLITE_DONE) {
        snprintf(o->errmsg, ERRMSG_LEN, "reading %s: %s", sql[type],
                 sqlite3_errmsg(db));
        err = ERR_IO;
    }
    sqlite3_finalize(st);
    return err;
}

/* Header, records and trailer into o, in the open read transaction. */
static int make_image(sqlite3 *db, const char *config, struct make_out *o,
                      struct snapshot_make_info *info)
{
    struct snapshot_image_header h;
    memset(&h, 0, sizeof(h));
    int err = make_header(db, &h, o->errmsg);
    if (err != ERR_OK) {
        return err;
    }
    h.config = (const uint8_t *)config;
    h.config_len = (uint32_t)strlen(config);
    size_t len = 0;
    err = snapshot_image_encode_header(&h, o->buf, MAKE_BUF_SIZE, &len);
    if (err != ERR_OK) {
        snprintf(o->errmsg, ERRMSG_LEN, "snapshot header: %s", err_str(err));
        return err;
    }
    out_advance(o, len);
    const uint64_t want[3] = {0, h.n_kv, h.n_sessions};
    for (int type = SNAPSHOT_REC_KV; type <= SNAPSHOT_REC_SESSION; type++) {
        uint64_t n = 0;
        err = make_table(db, type, o, &n);
        if (err == ERR_OK && n != want[type]) {
            snprintf(o->errmsg, ERRMSG_LEN, "a table changed in a read");
            err = ERR_CORRUPT;
        }
        if (err != ERR_OK) {
            return err;
        }
    }
    err = out_reserve(o, SNAPSHOT_IMAGE_TRAILER_SIZE);
    if (err == ERR_OK) {
        snapshot_image_encode_trailer(snapshot_hash_final(&o->hash),
                                      o->buf + o->used);
        o->used += SNAPSHOT_IMAGE_TRAILER_SIZE;
        o->size += SNAPSHOT_IMAGE_TRAILER_SIZE;
        err = out_flush(o);
    }
    info->index = h.index;
    info->term = h.term;
    info->size = o->size;
    return err;
}

/* Opens db_path read-only and begins a read transaction. */
static int make_open(const char *db_path, sqlite3 **db, char errmsg[ERRMSG_LEN])
{
    int rc = sqlite3_open_v2(db_path, db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (*db == NULL) {
        return ERR_NOMEM;
    }
    int unused = 0;
    if (rc == SQLITE_OK) {
        rc = sqlite3_db_config(*db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
                               &unused);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_busy_timeout(*db, MAKE_BUSY_TIMEOUT_MS);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(*db, "BEGIN", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%.200s: %s", db_path,
                 sqlite3_errmsg(*db));
        return ERR_IO;
    }
    return ERR_OK;
}

/* fsyncs the directory holding path. Errors: ERR_IO. */
static int make_sync_dir(const char *path, char errmsg[ERRMSG_LEN])
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else {
        snprintf(dir, sizeof(dir), "%.*s",
                 slash == path ? 1 : (int)(slash - path), path);
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 ? fsync(fd) : -1;
    if (rc != 0) {
        snprintf(errmsg, ERRMSG_LEN, "fsync of %.200s: %s", dir,
                 strerror(errno));
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    return rc == 0 ? ERR_OK : ERR_IO;
}

/* Makes the temporary file durable and moves it into place. */
static int make_publish(int fd, const char *tmp, const char *out_path,
                        char errmsg[ERRMSG_LEN])
{
    if (fsync(fd) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "fsync of %.200s: %s", tmp,
                 strerror(errno));
        return ERR_IO;
    }
    if (rename(tmp, out_path) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "rename to %.200s: %s", out_path,
                 strerror(errno));
        return ERR_IO;
    }
    return make_sync_dir(out_path, errmsg);
}

int snapshot_make_file(const char *db_path, const char *out_path,
                       const char *config, struct snapshot_make_info *out,
                       char errmsg[ERRMSG_LEN])
{
    ASSERT(db_path != NULL);
    ASSERT(out_path != NULL);
    ASSERT(config != NULL);
    ASSERT(out != NULL);
    if (strlen(config) > SNAPSHOT_CONFIG_MAX) {
        snprintf(errmsg, ERRMSG_LEN, "snapshot config over %d bytes",
                 SNAPSHOT_CONFIG_MAX);
        return ERR_TOO_BIG;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", out_path) >= (int)sizeof(tmp)) {
        snprintf(errmsg, ERRMSG_LEN, "snapshot path too long");
        return ERR_INVALID;
    }
    struct make_out o = {.fd = -1, .errmsg = errmsg};
    snapshot_hash_init(&o.hash);
    sqlite3 *db = NULL;
    struct snapshot_make_info info = {0, 0, 0};
    int err = ERR_NOMEM;
    if ((o.buf = malloc(MAKE_BUF_SIZE)) == NULL) {
        goto done;
    }
    o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (o.fd < 0) {
        snprintf(errmsg, ERRMSG_LEN, "%.200s: %s", tmp, strerror(errno));
        err = ERR_IO;
        goto done;
    }
    err = make_open(db_path, &db, errmsg);
    if (err == ERR_OK) {
        err = make_image(db, config, &o, &info);
    }
    if (err == ERR_OK) {
        err = make_publish(o.fd, tmp, out_path, errmsg);
    }
done:
    sqlite3_close(db); /* Ends the read transaction; NULL is fine. */
    if (o.fd >= 0) {
        (void)close(o.fd);
    }
    if (err != ERR_OK && o.fd >= 0) {
        (void)unlink(tmp);
    }
    free(o.buf);
    if (err == ERR_OK) {
        *out = info;
    }
    return err;
}

/* ---- The child runner ---------------------------------------------- */

/* What the child sends back: one write, below PIPE_BUF, so atomic. */
struct make_result {
    int32_t err;
    struct snapshot_make_info info;
    char errmsg[ERRMSG_LEN];
};

/* The child: never returns. */
static void child_main(pid_t parent, int fd, const char *db_path,
                       const char *out_path, const char *config)
{
    child_setup(parent, "raftnode-snap");
    struct make_result res;
    memset(&res, 0, sizeof(res));
    res.err =
        snapshot_make_file(db_path, out_path, config, &res.info, res.errmsg);
    ssize_t w;
    do {
        w = write(fd, &res, sizeof(res));
    } while (w < 0 && errno == EINTR);
    _exit(0); /* No atexit handlers, no stdio flush of the parent's. */
}

int snapshot_make_start(struct snapshot_make *m, struct store *s,
                        const char *out_path, const char *config,
                        char errmsg[ERRMSG_LEN])
{
    ASSERT(m != NULL);
    ASSERT(s != NULL);
    ASSERT(!s->in_txn);
    _Static_assert(sizeof(struct make_result) <= PIPE_BUF, "atomic write");
    memset(m, 0, sizeof(*m));
    m->result_fd = -1;
    /* With no transaction open here, the child inherits no read or write
     * lock in SQLite's per-process lock bookkeeping. */
    if (store_read_end(s) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%s", s->errmsg);
        return ERR_IO;
    }
    ASSERT(sqlite3_get_autocommit(s->db) != 0);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "snapshot pipe: %s", strerror(errno));
        return ERR_IO;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errmsg, ERRMSG_LEN, "snapshot fork: %s", strerror(errno));
        (void)close(p[0]);
        (void)close(p[1]);
        return ERR_IO;
    }
    if (pid == 0) {
        (void)close(p[0]);
        child_main(parent, p[1], s->path, out_path, config);
    }
    (void)close(p[1]);
    m->pid = pid;
    m->result_fd = p[0];
    return ERR_OK;
}

int snapshot_make_fd(const struct snapshot_make *m)
{
    ASSERT(m != NULL);
    return m->pid > 0 ? m->result_fd : -1;
}

int snapshot_make_finish(struct snapshot_make *m,
                         struct snapshot_make_info *out,
                         char errmsg[ERRMSG_LEN])
{
    ASSERT(m != NULL);
    ASSERT(m->pid > 0);
    ASSERT(out != NULL);
    struct make_result res;
    ssize_t r;
    do {
        r = read(m->result_fd, &res, sizeof(res));
    } while (r < 0 && errno == EINTR);
    child_reap(&m->pid, &m->result_fd);
    if (r != (ssize_t)sizeof(res)) {
        snprintf(errmsg, ERRMSG_LEN, "the snapshot process died");
        return ERR_IO;
    }
    if (res.err != ERR_OK) {
        res.errmsg[ERRMSG_LEN - 1] = '\0';
        snprintf(errmsg, ERRMSG_LEN, "%s", res.errmsg);
        return res.err > 0 && res.err < ERR__COUNT ? res.err : ERR_IO;
    }
    *out = res.info;
    return ERR_OK;
}

void snapshot_make_cancel(struct snapshot_make *m)
{
    ASSERT(m != NULL);
    if (m->pid <= 0) {
        return;
    }
    (void)kill(m->pid, SIGKILL);
    child_reap(&m->pid, &m->result_fd);
}
