/*
 * Keeps the SQLite WAL file zero-filled ahead of where SQLite writes, and
 * runs the checkpoint a commit marks due. On this kind of disk (ext4),
 * fdatasync after overwriting allocated blocks only flushes data; after an
 * append it must also write the new file size, which made every commit's
 * fsync about twice as slow while the WAL grew (and it grows again from
 * empty after each restart). SQLite finds the end of the log by frame
 * checksums, never by the file size, so zeros past the last frame are
 * ignored on recovery, and after a checkpoint SQLite rewrites the file
 * from its start: the file never needs to be larger than one checkpoint
 * interval, plus what commits add while the checkpointer child copies it
 * (past half an interval more, commits append, and fsync slower, until
 * the checkpoint). Extends in doubling steps, so a small database (tests)
 * stays small, and never past what the member holds (the database file's
 * size, at least WAL_EXTEND_MIN) nor into the last WAL_FREE_FLOOR bytes
 * of free space or more than half of what is free above it: a full disk
 * is not made fuller by zeros, and a member restarted on a disk that just
 * got space back does not eat it. Zeros that could not be written whole
 * are given back (the file is cut to its old size). Not pure: this is the
 * disk. Read storage/store_ckpt.c next.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/invariant.h"
#include "storage/store.h"
#include "storage/store_int.h"

#define WAL_HEADER_BYTES 32
#define WAL_FRAME_HEADER_BYTES 24
#define WAL_EXTEND_MIN (1u << 20) /* First step: 1 MiB. */
#define WAL_AHEAD_FRAMES 256      /* Extend before SQLite gets this close. */
#define WAL_ZERO_CHUNK (1u << 16)
#define WAL_FREE_FLOOR (16u << 20) /* Free bytes zeros never take. */

/* SQLite calls this after every commit in WAL mode with the number of
 * frames in the WAL. It replaces SQLite's default hook (which checkpoints
 * right there, inside the COMMIT): at STORE_CHECKPOINT_PAGES frames it
 * only marks a checkpoint due, for store_checkpoint (store_ckpt.c). Only
 * at four times the mark, with nobody calling that (tools) or a child
 * that cannot start, it checkpoints as SQLite's would: not during an
 * install's COMMIT (is_ckpt_held), not while the checkpointer child runs
 * (it would wait for it), and, after one that could not copy everything,
 * not before ckpt_retry_at. A WAL that got shorter was restarted, so an
 * old ckpt_retry_at no longer applies. A failed passive checkpoint never
 * fails the commit that triggered it. */
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int n_frames)
{
    (void)db;
    (void)name;
    struct store *s = ctx;
    uint32_t frames = n_frames > 0 ? (uint32_t)n_frames : 0;
    if (frames < s->wal_frames) {
        s->ckpt_retry_at = 0;
    }
    s->wal_frames = frames;
    if (s->wal_frames >= 4 * STORE_CHECKPOINT_PAGES &&
        s->wal_frames >= s->ckpt_retry_at && !s->is_ckpt_held &&
        s->ckpt_pid <= 0) {
        (void)store_checkpoint_here(s);
    }
    return SQLITE_OK;
}

/* Writes zeros to fd over [from, to). Errors: ERR_IO. */
static int write_zeros(int fd, uint64_t from, uint64_t to)
{
    static const uint8_t zeros[WAL_ZERO_CHUNK];
    uint64_t off = from;
    while (off < to) {
        size_t n =
            to - off < sizeof(zeros) ? (size_t)(to - off) : sizeof(zeros);
        ssize_t w = pwrite(fd, zeros, n, (off_t)off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return ERR_IO;
        }
        off += (uint64_t)w;
    }
    return ERR_OK;
}

/* fsyncs the directory holding path. Errors: ERR_IO (errno set). */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else if ((size_t)(slash - path) < sizeof dir) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    } else {
        errno = ENAMETOOLONG;
        return ERR_IO;
    }
    int fd;
    do {
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return ERR_IO;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 ? ERR_OK : ERR_IO;
}

int store_wal_open(struct store *s, const char *db_path)
{
    ASSERT(s != NULL);
    ASSERT(db_path != NULL);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        s->page_size = (uint32_t)sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    if (s->page_size == 0) {
        return store_fail(s, rc, "page_size");
    }
    (void)sqlite3_wal_hook(s->db, wal_hook, s);
    size_t n = strlen(db_path) + sizeof("-wal");
    char *wal_path = malloc(n);
    if (wal_path == NULL) {
        return ERR_NOMEM;
    }
    snprintf(wal_path, n, "%s-wal", db_path);
    do {
        s->wal_fd = open(wal_path, O_WRONLY | O_CLOEXEC);
    } while (s->wal_fd < 0 && errno == EINTR);
    free(wal_path);
    if (s->wal_fd >= 0) {
        /* Its own descriptor: extending may give up on wal_fd. */
        s->sync_fd = fcntl(s->wal_fd, F_DUPFD_CLOEXEC, 0);
        /* A process that died (SIGKILL) with deferred syncs left writes in
         * the page cache only; the core loads everything as durable, so
         * make it so before anyone acknowledges it. */
        if (s->sync_fd >= 0 && fdatasync(s->sync_fd) != 0) {
            snprintf(s->errmsg, sizeof s->errmsg, "fdatasync of the WAL: %s",
                     strerror(errno));
            return ERR_IO;
        }
        /* SQLite recreates the WAL after a clean close and would fsync its
         * directory entry at its first FULL commit; with deferred syncs
         * that commit never comes, so make the entry durable here. */
        if (sync_dir(db_path) != ERR_OK) {
            snprintf(s->errmsg, sizeof s->errmsg,
                     "fsync of the database's directory: %s", strerror(errno));
            return ERR_IO;
        }
    }
    /* No WAL file yet: run without extending (slower fsyncs, nothing else
     * changes). */
    return ERR_OK;
}

void store_wal_close(struct store *s)
{
    if (s->wal_fd >= 0) {
        close(s->wal_fd);
        s->wal_fd = -1;
    }
}

void store_wal_close_sync(struct store *s)
{
    if (s->sync_fd >= 0) {
        close(s->sync_fd);
        s->sync_fd = -1;
    }
}

/* Lowers target (> size, the WAL's size) to what the member holds and to
 * what free space allows (the file comment); size or less: do not
 * extend now. */
static uint64_t wal_extend_bound(const struct store *s, uint64_t size,
                                 uint64_t target)
{
    struct stat db;
    if (s->path != NULL && stat(s->path, &db) == 0) {
        uint64_t holds = (uint64_t)db.st_size < WAL_EXTEND_MIN
                             ? WAL_EXTEND_MIN
                             : (uint64_t)db.st_size;
        if (target > holds) {
            target = holds;
        }
    }
    struct statvfs vfs;
    if (fstatvfs(s->wal_fd, &vfs) != 0) {
        return size;
    }
    uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    if (avail <= WAL_FREE_FLOOR) {
        return size;
    }
    uint64_t room = (avail - WAL_FREE_FLOOR) / 2;
    if (target <= size) {
        return size; /* Already as large as the member holds. */
    }
    return target - size > room ? size + room : target;
}

void store_wal_extend(struct store *s)
{
    ASSERT(s != NULL);
    if (s->wal_fd < 0) {
        return;
    }
    uint64_t frame = (uint64_t)s->page_size + WAL_FRAME_HEADER_BYTES;
    /* Doubling up to the checkpoint mark; past it (commits go on while the
     * checkpointer child copies, store_ckpt.c) in steps of an eighth of
     * the interval, up to half an interval more: the file grows only as
     * far as the frames do. */
    uint64_t mark =
        WAL_HEADER_BYTES + (uint64_t)(STORE_CHECKPOINT_PAGES + WAL_AHEAD_FRAMES) *
                               frame;
    uint64_t cap = mark + (uint64_t)(STORE_CHECKPOINT_PAGES / 2) * frame;
    uint64_t need =
        WAL_HEADER_BYTES + ((uint64_t)s->wal_frames + WAL_AHEAD_FRAMES) * frame;
    struct stat sb;
    if (fstat(s->wal_fd, &sb) != 0) {
        store_wal_close(s);
        return;
    }
    /* The file's size, not what we last wrote: SQLite may have appended
     * past it, and zeros must only ever go past SQLite's last byte. */
    uint64_t size = (uint64_t)sb.st_size;
    if (need <= size || size >= cap) {
        return;
    }
    uint64_t target = size * 2 < WAL_EXTEND_MIN ? WAL_EXTEND_MIN : size * 2;
    if (size >= mark) {
        target = size + (uint64_t)(STORE_CHECKPOINT_PAGES / 8) * frame;
    } else if (target > mark) {
        target = mark;
    }
    if (target < need) {
        target = need;
    }
    if (target > cap) {
        target = cap;
    }
    target = wal_extend_bound(s, size, target);
    if (target <= size) {
        return; /* Commits append (slower fsyncs) until there is room. */
    }
    if (write_zeros(s->wal_fd, size, target) != ERR_OK ||
        fdatasync(s->wal_fd) != 0) {
        /* Full disk or the like: give the zeros back and stop extending
         * (a restart tries again); commits just fsync slower. */
        (void)ftruncate(s->wal_fd, (off_t)size);
        store_wal_close(s);
    }
}

/* SQLite's wal-index header (the first 48 bytes of -shm, stored twice,
 * native byte order): iVersion, unused, iChange, isInit, bigEndCksum,
 * szPage, mxFrame (the last committed frame), nPage, aFrameCksum[2],
 * aSalt[2] (raw bytes of the WAL header's salts), aCksum[2]. */
#define SHM_HEADER_BYTES 48
#define SHM_VERSION 3007000u

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

/* Reads exactly n bytes at off of path; false when it cannot. */
static bool read_at(const char *path, off_t off, uint8_t *buf, size_t n,
                    off_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat sb;
    bool ok = fstat(fd, &sb) == 0 && pread(fd, buf, n, off) == (ssize_t)n;
    if (ok && size != NULL) {
        *size = sb.st_size;
    }
    close(fd);
    return ok;
}

bool store_wal_lost_frames(const char *db_path, char msg[ERRMSG_LEN])
{
    ASSERT(db_path != NULL);
    size_t n = strlen(db_path) + sizeof("-wal");
    char *shm = malloc(n);
    char *wal = malloc(n);
    bool lost = false;
    uint8_t hdr[2 * SHM_HEADER_BYTES];
    uint8_t wal_hdr[WAL_HEADER_BYTES];
    off_t wal_size = 0;
    if (shm == NULL || wal == NULL) {
        goto out;
    }
    snprintf(shm, n, "%s-shm", db_path);
    snprintf(wal, n, "%s-wal", db_path);
    if (!read_at(shm, 0, hdr, sizeof hdr, NULL) ||
        memcmp(hdr, hdr + SHM_HEADER_BYTES, SHM_HEADER_BYTES) != 0) {
        goto out; /* No index left (a clean close), or one mid-update. */
    }
    uint32_t version, mx_frame;
    uint16_t sz_page;
    memcpy(&version, hdr, 4);
    memcpy(&sz_page, hdr + 14, 2);
    memcpy(&mx_frame, hdr + 16, 4);
    if (version != SHM_VERSION || hdr[12] != 1 || mx_frame == 0) {
        goto out;
    }
    uint32_t page = sz_page == 1 ? 65536u : sz_page;
    uint64_t frame = (uint64_t)page + WAL_FRAME_HEADER_BYTES;
    uint64_t want = WAL_HEADER_BYTES + (uint64_t)mx_frame * frame;
    if (!read_at(wal, 0, wal_hdr, sizeof wal_hdr, &wal_size)) {
        snprintf(msg, ERRMSG_LEN,
                 "%.60s-wal is gone or cut inside its header but its index (-shm) says %u frames "
                 "were committed: the disk lost writes",
                 db_path, (unsigned)mx_frame);
        lost = true;
        goto out;
    }
    if (be32(wal_hdr + 8) != page || memcmp(wal_hdr + 16, hdr + 32, 8) != 0) {
        goto out; /* The index describes another generation of the WAL. */
    }
    uint8_t last[WAL_FRAME_HEADER_BYTES];
    lost = (uint64_t)wal_size < want ||
           !read_at(wal, (off_t)(want - frame), last, sizeof last, NULL) ||
           memcmp(last + 8, wal_hdr + 16, 8) != 0;
    if (lost) {
        snprintf(msg, ERRMSG_LEN,
                 "%.60s-wal lost committed frames: its index (-shm) says "
                 "%u frames (%llu bytes), the file has %llu bytes or ends "
                 "them early: the disk lost writes",
                 db_path, (unsigned)mx_frame, (unsigned long long)want,
                 (unsigned long long)wal_size);
    }
out:
    free(shm);
    free(wal);
    return lost;
}
