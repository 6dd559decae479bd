/*
 * The cluster directory: where it is (-d, $RAFT_DIR, ./cluster), the names of
 * its files (cluster.conf, node<ID>.db/.log/.pid, launcher.pid/.sock/.log),
 * generating cluster.conf for a new cluster, pid files, and checking that a
 * pid really is this cluster's raftnode or launcher before anyone signals it.
 * Read launcher/cluster_dir.c next.
 */
#ifndef RAFT_LAUNCHER_CLUSTER_DIR_H
#define RAFT_LAUNCHER_CLUSTER_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/types.h"

#define CDIR_PATH_MAX 4096

struct cdir {
    char path[CDIR_PATH_MAX];  /* Absolute, no trailing slash. */
    char shown[CDIR_PATH_MAX]; /* As the user gave it, for messages. */
    /* raftctl --config FILE (docs/HOSTS.md): FILE, absolute; path is then
     * FILE's directory and no cluster directory is assumed. */
    char conf_path[CDIR_PATH_MAX];
    char key_dir[CDIR_PATH_MAX]; /* Where the keys are: path unless
                                  * --key-dir. */
    bool by_config;
};

/* raftctl's global --config FILE and --key-dir DIR (either may be NULL):
 * every later cdir_resolve without -d DIR uses them. */
void cdir_use_config(const char *config_file, const char *key_dir);
/* Whether --config was given. */
bool cdir_config_given(void);

/* Picks --config's directory, else opt_dir, else $RAFT_DIR, else
 * ./cluster, and makes it absolute. The directory need not exist.
 * Errors: ERR_INVALID (empty or too long). */
int cdir_resolve(const char *opt_dir, struct cdir *out,
                 char errmsg[ERRMSG_LEN]);

/* The cluster file: --config FILE, else DIR/cluster.conf. */
int cdir_conf_file(const struct cdir *d, char *buf, size_t cap);

/* DIR/name into buf. Errors: ERR_TOO_BIG. */
int cdir_file(const struct cdir *d, const char *name, char *buf, size_t cap);
/* DIR/node<ID><suffix> (suffix ".db", ".log", ".pid") into buf. */
int cdir_node_file(const struct cdir *d, raft_id id, const char *suffix,
                   char *buf, size_t cap);

/* True when member id set its database aside as damaged (raftnode exit
 * status 5: DIR/node<ID>.db.damaged exists and DIR/node<ID>.db does not;
 * docs/DAMAGE.md). */
bool cdir_node_damaged(const struct cdir *d, raft_id id);

/* Loads the cluster file (cdir_conf_file) and the keys. Errors: ERR_NOT_FOUND ("no cluster at DIR"),
 * ERR_INVALID / ERR_IO with conf_load's message (file and line number). */
int cdir_load(const struct cdir *d, struct conf *out, char errmsg[ERRMSG_LEN]);

/* Creates DIR (and its parents) if missing. Errors: ERR_IO. */
int cdir_mkdir(const struct cdir *d, char errmsg[ERRMSG_LEN]);

/* Writes a new DIR/cluster.conf for n nodes on 127.0.0.1 ports
 * port_base+1..port_base+n, with a random cluster id. Fails if it exists.
 * Errors: ERR_INVALID (n or ports out of range), ERR_BUSY (exists), ERR_IO. */
int cdir_create_conf(const struct cdir *d, uint32_t n, uint32_t port_base,
                     char errmsg[ERRMSG_LEN]);

/* Pid files (DIR/name holding one decimal pid). read: ERR_NOT_FOUND when
 * absent, ERR_CORRUPT when it does not hold a pid. */
int cdir_pid_read(const struct cdir *d, const char *name, pid_t *pid);
int cdir_pid_write(const struct cdir *d, const char *name, pid_t pid);
void cdir_pid_remove(const struct cdir *d, const char *name);
/* "node<ID>.pid" into buf. */
void cdir_node_pid_name(raft_id id, char *buf, size_t cap);

/* True when pid is alive and its command line is raftnode --id ID with this
 * directory's cluster.conf (so a recycled pid is never signalled). */
bool cdir_is_node_process(const struct cdir *d, pid_t pid, raft_id id);

/* True when pid is alive and runs raftctl (a launcher to signal). */
bool cdir_is_raftctl_process(pid_t pid);

/* The running node's pid from its pid file, verified; 0 when not running. */
pid_t cdir_node_running(const struct cdir *d, raft_id id);

/* Takes the launcher lock (an exclusive flock on DIR/launcher.pid). Returns
 * the open descriptor in *fd (close-on-exec; the lock lives while it is
 * open). Errors: ERR_BUSY (a launcher holds it; *holder = its pid or 0),
 * ERR_IO. */
int cdir_lock_launcher(const struct cdir *d, int *fd, pid_t *holder,
                       char errmsg[ERRMSG_LEN]);

/* Writes pid into the locked launcher.pid (fd from cdir_lock_launcher; the
 * file is rewritten in place: replacing it would drop the lock). */
int cdir_lock_write_pid(int fd, pid_t pid);

/* The running launcher's pid (its lock is held), or 0 when none. */
pid_t cdir_launcher_running(const struct cdir *d);

/* The last non-empty line of file (at most cap-1 bytes of it) into buf;
 * an empty string when unreadable. */
void cdir_last_line(const char *file, char *buf, size_t cap);

/* The size of file in bytes, 0 when it cannot be read. */
off_t cdir_file_size(const char *file);

/* What a node's log says about why it stopped: the last line at or after
 * byte from (where this run began) that is an ERROR, else the last line
 * there, else the file's last line; without its timestamp. An empty string
 * when unreadable. */
void cdir_last_error(const char *file, off_t from, char *buf, size_t cap);

#endif
