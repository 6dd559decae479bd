/*
 * Receiving a snapshot (thesis 5.3; DESIGN.md "Snapshots and compaction"):
 * image chunks are staged outside the live tables in "<db>.snap.partial"
 * (0600), a contiguous prefix that survives a crash and resumes for the
 * same (index, term); installing checks the staged image's checksum
 * (common/snapshot_image.h) before any write, then replaces kv and
 * sessions (checking every record's lengths on the way and
 * rolling back on a bad one), records the snapshot point and the applied
 * index and drops the log it covers, all in one transaction, so a crash
 * leaves the old state or the new one. Damaged data is never served.
 * Read storage/snapshot_make.c next.
 */
#include "storage/store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/invariant.h"
#include "common/snapshot_image.h"
#include "storage/schema.h"
#include "storage/store_int.h"

/* The staging file's header: magic, index, term, zero. */
#define STAGE_HEADER_SIZE 32
static const uint8_t stage_magic[8] = {'R', 'A', 'F', 'T', 'S', 'T', 'G', '1'};

/* "<db>.snap.partial" into buf. */
static void stage_path(const struct store *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.snap.partial", s->path);
}

void store_stage_close(struct store *s)
{
    if (s->stage.fd >= 0) {
        (void)close(s->stage.fd);
    }
    s->stage.fd = -1;
}

/* Forgets the staged image and removes its file. */
static void stage_discard(struct store *s)
{
    store_stage_close(s);
    char path[PATH_MAX];
    stage_path(s, path, sizeof(path));
    (void)unlink(path); /* Absent already is fine. */
    s->stage.is_known = true;
    s->stage.index = 0;
    s->stage.term = 0;
    s->stage.received = 0;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Writes all of buf at off. Errors: ERR_IO (errno kept in s->errmsg). */
static int write_all(struct store *s, const uint8_t *buf, size_t len,
                     uint64_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(s->stage.fd, buf, len, (off_t)off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            snprintf(s->errmsg, ERRMSG_LEN, "snapshot staging: %s",
                     w < 0 ? strerror(errno) : "short write");
            return ERR_IO;
        }
        buf += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return ERR_OK;
}

/* Looks, once after open, for a staging file left by an earlier run: a
 * valid header resumes its prefix; anything else is removed. A staged
 * point at or below the snapshot was installed already. Errors: ERR_IO. */
static int stage_recover(struct store *s)
{
    if (s->stage.is_known) {
        return ERR_OK;
    }
    s->stage.is_known = true;
    char path[PATH_MAX];
    stage_path(s, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? ERR_OK : ERR_IO;
    }
    s->stage.fd = fd;
    uint8_t h[STAGE_HEADER_SIZE];
    struct stat sb;
    ssize_t r = pread(fd, h, sizeof(h), 0);
    if (r != (ssize_t)sizeof(h) || fstat(fd, &sb) != 0 ||
        memcmp(h, stage_magic, sizeof(stage_magic)) != 0 ||
        get_u64(h + 8) <= s->snapshot_index || get_u64(h + 16) == 0) {
        stage_discard(s);
        return ERR_OK;
    }
    s->stage.index = get_u64(h + 8);
    s->stage.term = get_u64(h + 16);
    s->stage.received = (uint64_t)sb.st_size - STAGE_HEADER_SIZE;
    return ERR_OK;
}

/* Starts staging (index, term) afresh: a new file, header only.
 * Errors: ERR_IO. */
static int stage_start(struct store *s, raft_index index, raft_term term)
{
    stage_discard(s);
    char path[PATH_MAX];
    stage_path(s, path, sizeof(path));
    int fd;
    do {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        snprintf(s->errmsg, ERRMSG_LEN, "%.200s: %s", path, strerror(errno));
        return ERR_IO;
    }
    s->stage.fd = fd;
    uint8_t h[STAGE_HEADER_SIZE] = {0};
    memcpy(h, stage_magic, sizeof(stage_magic));
    put_u64(h + 8, index);
    put_u64(h + 16, term);
    int err = write_all(s, h, sizeof(h), 0);
    if (err != ERR_OK) {
        stage_discard(s);
        return err;
    }
    s->stage.index = index;
    s->stage.term = term;
    s->stage.received = 0;
    return ERR_OK;
}

int store_snapshot_stage(struct store *s, raft_index index, raft_term term,
                         uint64_t offset, const uint8_t *data, size_t len,
                         uint64_t *received)
{
    ASSERT(s != NULL);
    ASSERT(index >= 1);
    ASSERT(term >= 1);
    ASSERT(data != NULL || len == 0);
    ASSERT(received != NULL);
    if (offset > STORE_SNAPSHOT_MAX || len > STORE_SNAPSHOT_MAX - offset) {
        snprintf(s->errmsg, ERRMSG_LEN, "snapshot image over %" PRIu64 " bytes",
                 (uint64_t)STORE_SNAPSHOT_MAX);
        return ERR_TOO_BIG;
    }
    int err = stage_recover(s);
    if (err == ERR_OK &&
        (s->stage.index != index || s->stage.term != term || s->stage.fd < 0)) {
        err = stage_start(s, index, term);
    }
    if (err != ERR_OK) {
        return err;
    }
    uint64_t have = s->stage.received;
    /* Only what extends the prefix: a gap is resent by the leader, a
     * repeat changes nothing. */
    if (offset <= have && offset + len > have) {
        uint64_t skip = have - offset;
        err = write_all(s, data + skip, len - (size_t)skip,
                        STAGE_HEADER_SIZE + have);
        if (err != ERR_OK) {
            return err;
        }
        s->stage.received = offset + len;
    }
    *received = s->stage.received;
    return ERR_OK;
}

int store_snapshot_staged(struct store *s, raft_index *index, raft_term *term,
                          uint64_t *received)
{
    ASSERT(s != NULL);
    int err = stage_recover(s);
    if (err == ERR_OK && s->stage.index != 0 &&
        s->stage.index <= s->snapshot_index) {
        stage_discard(s); /* Installed before a crash took the file. */
    }
    if (err == ERR_OK) {
        *index = s->stage.index;
        *term = s->stage.term;
        *received = s->stage.received;
    }
    return err;
}

void store_snapshot_discard(struct store *s)
{
    ASSERT(s != NULL);
    stage_discard(s);
}

/* kv rows an install inserts per statement: one statement per row made
 * SQLite's per-statement work (bind, step, reset, VDBE setup) most of an
 * install's time. */
#define INSTALL_KV_ROWS 16

/* The statements of an install: kv rows INSTALL_KV_ROWS at a time, one kv
 * row (the remainder), a session. */
enum { INS_KV_MANY, INS_KV, INS_SESSION, INS__COUNT };

static const char *const install_sql[INS__COUNT] = {
    [INS_KV_MANY] = NULL, /* install_kv_many_sql */
    [INS_KV] = "INSERT INTO kv_data(key, value, crc)"
               " VALUES (?1, ?2, raft_row_crc(?1, ?2))",
    [INS_SESSION] = "INSERT INTO sessions(client_id, seq, status, last_index,"
                    " crc) VALUES (?1, ?2, ?3, ?4,"
                    " raft_row_crc(?1, ?2, ?3, ?4))",
};

/* "INSERT INTO kv_data(key, value, crc) VALUES
 * (?1,?2,raft_row_crc(?1,?2)),..." for INSTALL_KV_ROWS rows, into buf
 * (every value in its row: ref NULL). */
static void install_kv_many_sql(char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(
        buf, cap, "INSERT INTO kv_data(key, value, crc) VALUES ");
    for (int i = 0; i < INSTALL_KV_ROWS && used < cap; i++) {
        int k = 2 * i + 1;
        used += (size_t)snprintf(buf + used, cap - used,
                                 "%s(?%d,?%d,raft_row_crc(?%d,?%d))",
                                 i > 0 ? "," : "", k, k + 1, k, k + 1);
    }
    ASSERT(used < cap);
}

/* Runs a bound statement once and resets it. Returns the SQLite code. */
static int install_step(sqlite3_stmt *t, int rc)
{
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(t);
    }
    (void)sqlite3_reset(t);
    return rc;
}

/* Inserts n kv records (keys and values borrowed from the mapped image):
 * INSTALL_KV_ROWS in one statement, or fewer one at a time. Returns the
 * SQLite code. */
static int install_kv(sqlite3_stmt *const st[INS__COUNT],
                      const struct snapshot_image_record *recs, int n)
{
    if (n == INSTALL_KV_ROWS) {
        sqlite3_stmt *t = st[INS_KV_MANY];
        int rc = SQLITE_OK;
        for (int i = 0; i < n && rc == SQLITE_OK; i++) {
            rc = schema_bind_bytes(t, 2 * i + 1, recs[i].key, recs[i].key_len);
            if (rc == SQLITE_OK) {
                rc = schema_bind_bytes(t, 2 * i + 2, recs[i].value,
                                       recs[i].value_len);
            }
        }
        return install_step(t, rc);
    }
    int rc = SQLITE_DONE;
    for (int i = 0; i < n && rc == SQLITE_DONE; i++) {
        sqlite3_stmt *t = st[INS_KV];
        rc = schema_bind_bytes(t, 1, recs[i].key, recs[i].key_len);
        if (rc == SQLITE_OK) {
            rc = schema_bind_bytes(t, 2, recs[i].value, recs[i].value_len);
        }
        rc = install_step(t, rc);
    }
    return rc;
}

/* Binds and runs one session record. Returns the SQLite code. An
 * eviction record (images of an earlier layout) is skipped: sessions
 * registered through the log keep none. */
static int install_record(sqlite3_stmt *const st[INS__COUNT],
                          const struct snapshot_image_record *rec)
{
    int rc = SQLITE_OK;
    if (rec->type == SNAPSHOT_REC_SESSION) {
        sqlite3_stmt *t = st[INS_SESSION];
        rc = sqlite3_bind_int64(t, 1, (int64_t)rec->session.client_id);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(t, 2, (int64_t)rec->session.seq);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int(t, 3, rec->session.status);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_int64(t, 4, (int64_t)rec->session.last_index);
        }
        return install_step(t, rc);
    }
    ASSERT(rec->type == SNAPSHOT_REC_EVICTED);
    return SQLITE_DONE;
}

/* An install's SQLite code as an error. Errors: ERR_CORRUPT (a duplicate
 * key or client: the image was written wrong), ERR_IO. */
static int install_err(struct store *s, int rc, raft_index index)
{
    if (rc == SQLITE_DONE) {
        return ERR_OK;
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return store_corrupt(s, "snapshot image repeats a key or client",
                             index);
    }
    return store_fail(s, rc, "installing snapshot");
}

/* Replaces kv and sessions with the image's records,
 * inside the open transaction; kv records go in INSTALL_KV_ROWS to a
 * statement. Errors: ERR_CORRUPT (a duplicate key or client, or a bad
 * record: the image was written wrong), ERR_IO. */
static int install_tables(struct store *s, struct snapshot_image_reader *r)
{
    int err = store_exec(s, "DELETE FROM kv_data; DELETE FROM sessions;");
    char many_sql[64 + 40 * INSTALL_KV_ROWS];
    install_kv_many_sql(many_sql, sizeof many_sql);
    sqlite3_stmt *st[INS__COUNT] = {NULL};
    for (int i = 0; i < INS__COUNT && err == ERR_OK; i++) {
        const char *sql = i == INS_KV_MANY ? many_sql : install_sql[i];
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st[i], NULL);
        if (rc != SQLITE_OK) {
            err = store_fail(s, rc, sql);
        }
    }
    raft_index index = r->header.index;
    struct snapshot_image_record kv[INSTALL_KV_ROWS];
    int n_kv = 0;
    struct snapshot_image_record rec;
    while (err == ERR_OK) {
        /* The checksum held, so a bad length is the sender's bug: the
         * caller rolls back, and nothing of it was ever committed. */
        if (snapshot_image_next(r, &rec) != ERR_OK) {
            err = store_corrupt(s, "snapshot image has a bad record", index);
            break;
        }
        if (rec.type != SNAPSHOT_REC_END && s->install_crash_after > 0 &&
            --s->install_crash_after == 0) {
            _exit(99); /* store_set_install_crash: a crash mid-install. */
        }
        if (rec.type == SNAPSHOT_REC_KV) {
            kv[n_kv++] = rec; /* Borrows the mapped image's bytes. */
            if (n_kv == INSTALL_KV_ROWS) {
                err = install_err(s, install_kv(st, kv, n_kv), index);
                n_kv = 0;
            }
            continue;
        }
        if (n_kv > 0) { /* The kv rows before it, in record order. */
            err = install_err(s, install_kv(st, kv, n_kv), index);
            n_kv = 0;
        }
        if (err == ERR_OK && rec.type != SNAPSHOT_REC_END) {
            err = install_err(s, install_record(st, &rec), index);
        }
        if (rec.type == SNAPSHOT_REC_END) {
            break;
        }
    }
    for (int i = 0; i < INS__COUNT; i++) {
        sqlite3_finalize(st[i]);
    }
    return err;
}

/* Drops the log the snapshot covers (thesis 5.3, step 6-7: "If existing
 * log entry has same index and term as snapshot's last included entry,
 * retain log entries following it"; otherwise discard the entire log).
 * Sets *kept_last to the largest index left, or 0. Errors: ERR_IO. */
static int install_log(struct store *s, raft_index index, raft_term term,
                       raft_index *kept_last)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT term FROM log WHERE idx = ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(st, 1, (int64_t)index);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    bool matches =
        rc == SQLITE_ROW && sqlite3_column_int64(st, 0) == (int64_t)term;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return store_fail(s, rc, "reading log at snapshot");
    }
    int err = store_write_compacted(s, index, term);
    if (err == ERR_OK && !matches) {
        err = store_logseg_reset(s, index + 1);
    }
    while (err == ERR_OK && matches && store_logseg_droppable(s, index)) {
        err = store_logseg_drop_oldest(s, index);
    }
    *kept_last = matches && s->last_index > index ? s->last_index : 0;
    return err;
}

/* The config text of the image, NUL-terminated, into buf. */
static void config_text(const struct snapshot_image_header *h,
                        char buf[SNAPSHOT_CONFIG_MAX + 1])
{
    ASSERT(h->config_len <= SNAPSHOT_CONFIG_MAX);
    memcpy(buf, h->config, h->config_len);
    buf[h->config_len] = '\0';
}

/* The one transaction of an install: tables, log, point, applied.
 * Durable (synchronous=FULL) on success; rolled back on failure. */
static int install_commit(struct store *s, struct snapshot_image_reader *r,
                          raft_index *kept_last)
{
    raft_index index = r->header.index;
    raft_term term = r->header.term;
    static char config[SNAPSHOT_CONFIG_MAX + 1];
    config_text(&r->header, config);
    int err = store_write_queue(s); /* Queued log rows are decided too. */
    if (err == ERR_OK) {
        err = store_read_end(s);
    }
    if (err == ERR_OK) {
        err = store_set_sync(s, ST_SYNC_FULL);
    }
    if (err == ERR_OK) {
        err = store_exec(s, "BEGIN IMMEDIATE");
    }
    if (err != ERR_OK) {
        return err;
    }
    err = install_tables(s, r);
    if (err == ERR_OK) {
        err = install_log(s, index, term, kept_last);
    }
    if (err == ERR_OK) {
        err = store_write_point(s, index, term, config);
    }
    if (err == ERR_OK) {
        int rc = sqlite3_bind_int64(s->st[ST_APPLIED], 1, (int64_t)index);
        err = store_run(s, ST_APPLIED, rc);
    }
    if (err == ERR_OK) {
        /* Its checkpoint (the whole image again) runs after the node's
         * answers, so the leader hears of the install first. */
        s->is_ckpt_held = true;
        err = store_exec(s, "COMMIT");
        s->is_ckpt_held = false;
    }
    if (err != ERR_OK) {
        store_rollback(s);
    }
    return err;
}

/* Maps the staged file and checks the image it holds is whole (its
 * checksum) and of (index, term); install_tables checks each record as it
 * inserts it and rolls back on the first bad one, so the image is read
 * once for the checksum and once for the rows. *map and *map_len are for
 * munmap. Errors: ERR_CORRUPT, ERR_IO (s->errmsg says which). */
static int install_map(struct store *s, raft_index index, raft_term term,
                       void **map, size_t *map_len,
                       struct snapshot_image_reader *r)
{
    size_t len = STAGE_HEADER_SIZE + (size_t)s->stage.received;
    struct stat sb;
    if (fstat(s->stage.fd, &sb) != 0 || (uint64_t)sb.st_size < len) {
        snprintf(s->errmsg, ERRMSG_LEN, "snapshot staging file shrank");
        return ERR_CORRUPT;
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, s->stage.fd, 0);
    if (p == MAP_FAILED) {
        snprintf(s->errmsg, ERRMSG_LEN, "mapping snapshot image: %s",
                 strerror(errno));
        return ERR_IO;
    }
    *map = p;
    *map_len = len;
    const uint8_t *image = (const uint8_t *)p + STAGE_HEADER_SIZE;
    int err = snapshot_image_open(r, image, (size_t)s->stage.received);
    if (err == ERR_OK && (r->header.index != index || r->header.term != term)) {
        err = ERR_MALFORMED;
    }
    if (err != ERR_OK) {
        snprintf(s->errmsg, ERRMSG_LEN,
                 "snapshot image at %" PRIu64 " term %" PRIu64 " (%" PRIu64
                 " bytes) refused: %s; staging discarded",
                 index, term, s->stage.received, err_str(err));
        return ERR_CORRUPT;
    }
    return ERR_OK;
}

int store_snapshot_install(struct store *s, raft_index index, raft_term term)
{
    ASSERT(s != NULL);
    ASSERT(!s->in_txn);
    int err = stage_recover(s);
    if (err != ERR_OK) {
        return err;
    }
    if (s->stage.index != index || s->stage.term != term || s->stage.fd < 0 ||
        s->stage.received == 0) {
        snprintf(s->errmsg, ERRMSG_LEN,
                 "no staged snapshot image at %" PRIu64 " term %" PRIu64, index,
                 term);
        return ERR_NOT_FOUND;
    }
    if (index < s->applied || index <= s->snapshot_index) {
        snprintf(s->errmsg, ERRMSG_LEN,
                 "snapshot at %" PRIu64 " is behind applied %" PRIu64
                 " or snapshot %" PRIu64,
                 index, s->applied, s->snapshot_index);
        return ERR_INVALID;
    }
    void *map = NULL;
    size_t map_len = 0;
    struct snapshot_image_reader r;
    err = install_map(s, index, term, &map, &map_len, &r);
    raft_index kept_last = 0;
    if (err == ERR_OK) {
        err = install_commit(s, &r, &kept_last);
    }
    if (map != NULL) {
        (void)munmap(map, map_len);
    }
    if (err == ERR_CORRUPT) {
        stage_discard(s); /* Never install it; have it sent again. */
    }
    if (err != ERR_OK) {
        return err;
    }
    s->applied = index;
    s->snapshot_index = index;
    s->snapshot_term = term;
    s->last_index = kept_last > index ? kept_last : index;
    s->compact_upto = 0;
    s->is_session_counted = false;
    session_cache_clear(s->sessions);
    stage_discard(s); /* Only now: a crash before left it to retry. */
    return ERR_OK;
}

void store_set_install_crash(struct store *s, uint64_t records)
{
    ASSERT(s != NULL);
    s->install_crash_after = records;
}
