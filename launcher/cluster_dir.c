/*
 * The cluster directory's files. cluster.conf is generated once, for a new
 * cluster, with a random cluster id; pid files are written by the launcher
 * and trusted only after /proc/PID/cmdline confirms the process; the
 * launcher's exclusive flock on launcher.pid says whether one is running
 * (a lock dies with its process, so a kill -9 leaves nothing stale). Read
 * launcher/cmd_cluster.c next.
 */
#include "launcher/cluster_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/auth.h"
#include "common/invariant.h"

#define CDIR_CMDLINE_MAX 8192

/* One spelling per directory ("a/../b" and "b" name the same nodes), so
 * the command lines raftnode runs with match later checks. Only for a
 * directory that exists; `up` resolves again after creating it. */
static void canonicalize(struct cdir *d)
{
    char *real = realpath(d->path, NULL);
    if (real != NULL && strlen(real) < sizeof(d->path)) {
        memcpy(d->path, real, strlen(real) + 1);
    }
    free(real);
}

static const char *g_config_file; /* raftctl --config, or NULL. */
static const char *g_key_dir;     /* raftctl --key-dir, or NULL. */

/* DIR/cluster.conf and the keys beside it (or in --key-dir). */
static int dir_files(struct cdir *d, char errmsg[ERRMSG_LEN])
{
    const char *keys = g_key_dir != NULL ? g_key_dir : d->path;
    int n = snprintf(d->conf_path, sizeof(d->conf_path), "%s/cluster.conf",
                     d->path);
    int k = snprintf(d->key_dir, sizeof(d->key_dir), "%s", keys);
    if (n < 0 || (size_t)n >= sizeof(d->conf_path) || k < 0 ||
        (size_t)k >= sizeof(d->key_dir)) {
        snprintf(errmsg, ERRMSG_LEN, "directory name too long");
        return ERR_INVALID;
    }
    return ERR_OK;
}

void cdir_use_config(const char *config_file, const char *key_dir)
{
    g_config_file = config_file;
    g_key_dir = key_dir;
}

bool cdir_config_given(void)
{
    return g_config_file != NULL;
}

/* --config FILE: the file, its directory, the key directory. */
static int resolve_config(const char *opt_dir, struct cdir *out,
                          char errmsg[ERRMSG_LEN])
{
    if (opt_dir != NULL) {
        snprintf(errmsg, ERRMSG_LEN,
                 "give either -d DIR or --config FILE, not both");
        return ERR_INVALID;
    }
    char *real = realpath(g_config_file, NULL);
    if (real == NULL || strlen(real) >= sizeof(out->conf_path)) {
        snprintf(errmsg, ERRMSG_LEN, "--config %.200s: %s", g_config_file,
                 real == NULL ? strerror(errno) : "name too long");
        free(real);
        return ERR_NOT_FOUND;
    }
    snprintf(out->conf_path, sizeof(out->conf_path), "%s", real);
    snprintf(out->shown, sizeof(out->shown), "%s", g_config_file);
    char *slash = strrchr(real, '/');
    if (slash == real) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    snprintf(out->path, sizeof(out->path), "%s", real);
    free(real);
    const char *keys = g_key_dir != NULL ? g_key_dir : out->path;
    if (strlen(keys) >= sizeof(out->key_dir)) {
        snprintf(errmsg, ERRMSG_LEN, "--key-dir: name too long");
        return ERR_INVALID;
    }
    snprintf(out->key_dir, sizeof(out->key_dir), "%s", keys);
    out->by_config = true;
    return ERR_OK;
}

int cdir_resolve(const char *opt_dir, struct cdir *out, char errmsg[ERRMSG_LEN])
{
    ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    if (g_config_file != NULL) {
        return resolve_config(opt_dir, out, errmsg);
    }
    const char *dir = opt_dir;
    if (dir == NULL) {
        dir = getenv("RAFT_DIR");
    }
    if (dir == NULL || dir[0] == '\0') {
        dir = "cluster";
    }
    size_t len = strlen(dir);
    if (len >= sizeof(out->shown) - 1) {
        snprintf(errmsg, ERRMSG_LEN, "directory name too long");
        return ERR_INVALID;
    }
    memcpy(out->shown, dir, len + 1);
    while (len > 1 && out->shown[len - 1] == '/') {
        out->shown[--len] = '\0';
    }
    if (out->shown[0] == '/') {
        memcpy(out->path, out->shown, len + 1);
        canonicalize(out);
        return dir_files(out, errmsg);
    }
    char cwd[CDIR_PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        snprintf(errmsg, ERRMSG_LEN, "cannot read the current directory: %s",
                 strerror(errno));
        return ERR_IO;
    }
    const char *rel = out->shown;
    if (strcmp(rel, ".") == 0) {
        rel = "";
    } else if (strncmp(rel, "./", 2) == 0) {
        rel += 2;
    }
    int n = snprintf(out->path, sizeof(out->path), "%s%s%s", cwd,
                     rel[0] != '\0' && strcmp(cwd, "/") != 0 ? "/" : "", rel);
    if (n < 0 || (size_t)n >= sizeof(out->path)) {
        snprintf(errmsg, ERRMSG_LEN, "directory name too long");
        return ERR_INVALID;
    }
    canonicalize(out);
    return dir_files(out, errmsg);
}

int cdir_file(const struct cdir *d, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", d->path, name);
    return n < 0 || (size_t)n >= cap ? ERR_TOO_BIG : ERR_OK;
}

int cdir_node_file(const struct cdir *d, raft_id id, const char *suffix,
                   char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/node%llu%s", d->path, (unsigned long long)id,
                     suffix);
    return n < 0 || (size_t)n >= cap ? ERR_TOO_BIG : ERR_OK;
}

void cdir_node_pid_name(raft_id id, char *buf, size_t cap)
{
    snprintf(buf, cap, "node%llu.pid", (unsigned long long)id);
}

int cdir_conf_file(const struct cdir *d, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s", d->conf_path);
    return n < 0 || (size_t)n >= cap ? ERR_TOO_BIG : ERR_OK;
}

int cdir_load(const struct cdir *d, struct conf *out, char errmsg[ERRMSG_LEN])
{
    char path[CDIR_PATH_MAX];
    if (cdir_conf_file(d, path, sizeof(path)) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "directory name too long");
        return ERR_INVALID;
    }
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        snprintf(errmsg, ERRMSG_LEN,
                 "no cluster at %.140s (no cluster.conf; for a cluster "
                 "started elsewhere use --config FILE)",
                 d->shown);
        return ERR_NOT_FOUND;
    }
    int rv = conf_load(path, out, errmsg);
    /* The keys beside cluster.conf: tags on for every datagram sent
     * (RAFT_INSECURE=1: none, only to measure their cost). */
    const char *insecure = getenv("RAFT_INSECURE");
    if (rv == ERR_OK && !auth_enabled() &&
        (insecure == NULL || strcmp(insecure, "1") != 0)) {
        rv = auth_load_dir(d->key_dir, AUTH_ROLE_CLIENT, true, errmsg);
    }
    return rv;
}

int cdir_mkdir(const struct cdir *d, char errmsg[ERRMSG_LEN])
{
    char path[CDIR_PATH_MAX];
    memcpy(path, d->path, sizeof(path));
    size_t len = strlen(path);
    /* Each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') {
            continue;
        }
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(errmsg, ERRMSG_LEN, "cannot create %.160s: %s", path,
                     strerror(errno));
            return ERR_IO;
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(d->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errmsg, ERRMSG_LEN, "%.200s is not a directory", d->shown);
        return ERR_IO;
    }
    return ERR_OK;
}

/* Writes all of buf to fd. Errors: ERR_IO. */
static int write_all(int fd, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return ERR_IO;
        }
        done += (size_t)n;
    }
    return ERR_OK;
}

/* The text of a new cluster.conf into buf. */
static int conf_text(uint32_t n, uint32_t port_base, uint64_t cluster_id,
                     char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    char when[32] = "";
    if (gmtime_r(&now, &tm) != NULL) {
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    size_t used = 0;
    int k = snprintf(buf, cap,
                     "# Raft cluster made by 'raftctl up' on %s.\n"
                     "# One member per line: ID HOST:PORT ('#' starts a "
                     "comment). The same file\n"
                     "# serves every host: list real addresses to run "
                     "members elsewhere.\n"
                     "# The cluster id is stamped on every datagram; nodes "
                     "drop other clusters'.\n"
                     "cluster %016llx\n",
                     when, (unsigned long long)cluster_id);
    if (k < 0 || (size_t)k >= cap) {
        return ERR_TOO_BIG;
    }
    used = (size_t)k;
    for (uint32_t i = 1; i <= n; i++) {
        k = snprintf(buf + used, cap - used, "%u 127.0.0.1:%u\n", i,
                     port_base + i);
        if (k < 0 || (size_t)k >= cap - used) {
            return ERR_TOO_BIG;
        }
        used += (size_t)k;
    }
    return ERR_OK;
}

int cdir_create_conf(const struct cdir *d, uint32_t n, uint32_t port_base,
                     char errmsg[ERRMSG_LEN])
{
    if (n < 1 || n > RAFT_NODES_MAX) {
        snprintf(errmsg, ERRMSG_LEN, "-n must be between 1 and %d",
                 RAFT_NODES_MAX);
        return ERR_INVALID;
    }
    if (port_base < 1 || port_base + n > 65535) {
        snprintf(errmsg, ERRMSG_LEN, "ports %u..%u are out of range",
                 port_base + 1, port_base + n);
        return ERR_INVALID;
    }
    uint64_t cluster_id = 0;
    while (cluster_id == 0) {
        if (getrandom(&cluster_id, sizeof(cluster_id), 0) !=
            (ssize_t)sizeof(cluster_id)) {
            snprintf(errmsg, ERRMSG_LEN, "cannot read random bytes");
            return ERR_IO;
        }
    }
    char text[4096];
    char path[CDIR_PATH_MAX];
    if (conf_text(n, port_base, cluster_id, text, sizeof(text)) != ERR_OK ||
        cdir_file(d, "cluster.conf", path, sizeof(path)) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "cluster.conf too long");
        return ERR_INVALID;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(errmsg, ERRMSG_LEN, "cannot create %.160s: %s", path,
                 strerror(errno));
        return errno == EEXIST ? ERR_BUSY : ERR_IO;
    }
    int rc = write_all(fd, text, strlen(text));
    if (rc == ERR_OK && fsync(fd) != 0) {
        rc = ERR_IO;
    }
    close(fd);
    if (rc != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "cannot write %.200s", path);
        unlink(path);
    }
    return rc;
}

int cdir_pid_read(const struct cdir *d, const char *name, pid_t *pid)
{
    char path[CDIR_PATH_MAX];
    if (cdir_file(d, name, path, sizeof(path)) != ERR_OK) {
        return ERR_NOT_FOUND;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return ERR_NOT_FOUND;
    }
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return ERR_CORRUPT;
    }
    buf[n] = '\0';
    char *end = NULL;
    long v = strtol(buf, &end, 10);
    if (end == buf || v <= 0 || v > 0x3fffffff) {
        return ERR_CORRUPT;
    }
    *pid = (pid_t)v;
    return ERR_OK;
}

int cdir_pid_write(const struct cdir *d, const char *name, pid_t pid)
{
    char path[CDIR_PATH_MAX];
    char tmp[CDIR_PATH_MAX + 8];
    if (cdir_file(d, name, path, sizeof(path)) != ERR_OK) {
        return ERR_TOO_BIG;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return ERR_IO;
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
    int rc = write_all(fd, buf, (size_t)len);
    close(fd);
    if (rc == ERR_OK && rename(tmp, path) != 0) {
        rc = ERR_IO;
    }
    if (rc != ERR_OK) {
        unlink(tmp);
    }
    return rc;
}

void cdir_pid_remove(const struct cdir *d, const char *name)
{
    char path[CDIR_PATH_MAX];
    if (cdir_file(d, name, path, sizeof(path)) == ERR_OK) {
        (void)unlink(path);
    }
}

/* Reads /proc/pid/cmdline into buf; returns its length (0 when gone or a
 * zombie). */
static size_t read_cmdline(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return (size_t)n;
}

/* The value after option `name` in a NUL-separated argument list. */
static const char *arg_after(const char *args, size_t len, const char *name)
{
    const char *p = args;
    const char *end = args + len;
    while (p < end) {
        size_t n = strlen(p);
        if (strcmp(p, name) == 0 && p + n + 1 < end) {
            return p + n + 1;
        }
        p += n + 1;
    }
    return NULL;
}

bool cdir_is_node_process(const struct cdir *d, pid_t pid, raft_id id)
{
    if (pid <= 0) {
        return false;
    }
    char buf[CDIR_CMDLINE_MAX];
    size_t len = read_cmdline(pid, buf, sizeof(buf));
    if (len == 0) {
        return false;
    }
    const char *base = strrchr(buf, '/');
    base = base != NULL ? base + 1 : buf;
    if (strcmp(base, "raftnode") != 0) {
        return false;
    }
    char want_id[32];
    char want_conf[CDIR_PATH_MAX];
    snprintf(want_id, sizeof(want_id), "%llu", (unsigned long long)id);
    if (cdir_file(d, "cluster.conf", want_conf, sizeof(want_conf)) != ERR_OK) {
        return false;
    }
    const char *got_id = arg_after(buf, len, "--id");
    const char *got_conf = arg_after(buf, len, "--config");
    return got_id != NULL && got_conf != NULL && strcmp(got_id, want_id) == 0 &&
           strcmp(got_conf, want_conf) == 0;
}

bool cdir_is_raftctl_process(pid_t pid)
{
    char buf[CDIR_CMDLINE_MAX];
    if (pid <= 0 || read_cmdline(pid, buf, sizeof(buf)) == 0) {
        return false;
    }
    const char *base = strrchr(buf, '/');
    base = base != NULL ? base + 1 : buf;
    return strcmp(base, "raftctl") == 0;
}

bool cdir_node_damaged(const struct cdir *d, raft_id id)
{
    char db[CDIR_PATH_MAX], damaged[CDIR_PATH_MAX];
    if (cdir_node_file(d, id, ".db", db, sizeof db) != ERR_OK ||
        cdir_node_file(d, id, ".db.damaged", damaged, sizeof damaged) !=
            ERR_OK) {
        return false;
    }
    return access(damaged, F_OK) == 0 && access(db, F_OK) != 0;
}

pid_t cdir_node_running(const struct cdir *d, raft_id id)
{
    char name[64];
    pid_t pid = 0;
    cdir_node_pid_name(id, name, sizeof(name));
    if (cdir_pid_read(d, name, &pid) != ERR_OK) {
        return 0;
    }
    return cdir_is_node_process(d, pid, id) ? pid : 0;
}

/* Opens DIR/launcher.pid and takes an exclusive lock on the file that the
 * path names now (a launcher that exits unlinks it; locking an unlinked
 * file would let two launchers run). Returns ERR_BUSY when held. */
static int lock_current(const char *path, int *fd_out)
{
    for (int tries = 0; tries < 50; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            return ERR_IO;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e != EWOULDBLOCK) {
                return ERR_IO;
            }
            /* A reader may hold a shared lock for a moment. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        struct stat by_fd, by_path;
        if (fstat(fd, &by_fd) == 0 && stat(path, &by_path) == 0 &&
            by_fd.st_ino == by_path.st_ino && by_fd.st_dev == by_path.st_dev) {
            *fd_out = fd;
            return ERR_OK;
        }
        close(fd); /* Unlinked under us: try the new file. */
    }
    return ERR_BUSY;
}

int cdir_lock_launcher(const struct cdir *d, int *fd, pid_t *holder,
                       char errmsg[ERRMSG_LEN])
{
    char path[CDIR_PATH_MAX];
    *holder = 0;
    if (cdir_file(d, "launcher.pid", path, sizeof(path)) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "directory name too long");
        return ERR_INVALID;
    }
    int rc = lock_current(path, fd);
    if (rc == ERR_BUSY) {
        pid_t pid = 0;
        if (cdir_pid_read(d, "launcher.pid", &pid) == ERR_OK) {
            *holder = pid;
        }
        snprintf(errmsg, ERRMSG_LEN,
                 "cluster at %.160s is already running (launcher pid %ld)",
                 d->shown, (long)*holder);
    } else if (rc != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "cannot lock %.160s: %s", path,
                 strerror(errno));
    }
    return rc;
}

int cdir_lock_write_pid(int fd, pid_t pid)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        return ERR_IO;
    }
    return ERR_OK;
}

pid_t cdir_launcher_running(const struct cdir *d)
{
    char path[CDIR_PATH_MAX];
    if (cdir_file(d, "launcher.pid", path, sizeof(path)) != ERR_OK) {
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    int locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    if (!locked) {
        return 0;
    }
    /* The launcher writes its pid just after locking; wait a moment. */
    for (int tries = 0; tries < 50; tries++) {
        pid_t pid = 0;
        if (cdir_pid_read(d, "launcher.pid", &pid) == ERR_OK &&
            kill(pid, 0) == 0) {
            return pid;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

void cdir_last_line(const char *file, char *buf, size_t cap)
{
    ASSERT(cap > 0);
    buf[0] = '\0';
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    char tail[4096];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from =
        size > (off_t)sizeof(tail) - 1 ? size - (off_t)sizeof(tail) + 1 : 0;
    ssize_t n = pread(fd, tail, sizeof(tail) - 1, from);
    close(fd);
    if (n <= 0) {
        return;
    }
    tail[n] = '\0';
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r')) {
        tail[--n] = '\0';
    }
    char *start = strrchr(tail, '\n');
    start = start != NULL ? start + 1 : tail;
    snprintf(buf, cap, "%s", start);
}

off_t cdir_file_size(const char *file)
{
    struct stat sb;
    return stat(file, &sb) == 0 ? sb.st_size : 0;
}

/* A log line without its "2026-...Z " timestamp. */
static const char *cdir_line_message(const char *line)
{
    const char *z = strstr(line, "Z ");
    if (line[0] >= '0' && line[0] <= '9' && z != NULL && z - line < 32) {
        return z + 2;
    }
    return line;
}

void cdir_last_error(const char *file, off_t from, char *buf, size_t cap)
{
    ASSERT(cap > 0);
    buf[0] = '\0';
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    static char tail[16384];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t start = size - (off_t)sizeof(tail) + 1;
    if (start < from) {
        start = from;
    }
    if (start < 0 || start >= size) {
        close(fd);
        cdir_last_line(file, buf, cap); /* Nothing new: the last line. */
        return;
    }
    ssize_t n = pread(fd, tail, sizeof(tail) - 1, start);
    close(fd);
    if (n <= 0) {
        return;
    }
    tail[n] = '\0';
    const char *error = NULL, *last = NULL;
    for (char *line = tail; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        if (line[0] != '\0' && line[0] != '\r') {
            last = line;
            if (strncmp(cdir_line_message(line), "ERROR ", 6) == 0 ||
                strncmp(line, "raftnode: ", 10) == 0) {
                error = line;
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    const char *pick = error != NULL ? error : last;
    if (pick != NULL) {
        snprintf(buf, cap, "%s", cdir_line_message(pick));
    }
}
