/*
 * raftnode: one cluster member in the foreground. Parses argv, sets up
 * logging and signals (SIGTERM/SIGINT stop cleanly through a self-pipe,
 * SIGPIPE is ignored), then hands over to node/node.c. Exit codes: 0 clean
 * stop, 1 fatal error while running, 2 usage error, 3 cannot start (cluster
 * file, membership, database, busy port), 5 damaged: a stored row failed its
 * checksum, and the database was renamed to <db>.damaged (docs/DAMAGE.md).
 * A full disk is no exit: the member waits for space and restarts itself
 * in place (exec, same pid; node/node_disk.c). Read node/node.c next.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <poll.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/auth.h"
#include "common/err.h"
#include "common/invariant.h"
#include "common/log.h"
#include "node/defaults.h"
#include "node/node.h"

#define EXIT_USAGE 2
#define EXIT_START 3
#define EXIT_DAMAGED 5

/* raftnode --help: the usage, one option per line. */
static void print_help(void)
{
    printf("usage: raftnode --id ID --config FILE --db FILE [options]\n"
           "\n"
           "One member of a Raft cluster (raftctl up starts them for you).\n"
           "\n"
           "required:\n"
           "  --id ID               this member's id in the config (1-%llu)\n"
           "  --config FILE         cluster.conf: the cluster id and every "
           "member\n"
           "  --db FILE             this member's SQLite database\n"
           "\n"
           "options:\n"
           "  --create              create --db if it does not exist\n"
           "  --log FILE            append the log to FILE (default: "
           "stderr)\n"
           "  --log-level LEVEL     error, warn, info or debug (default "
           "info)\n"
           "  --heartbeat MS        leader heartbeat interval, 1-60000 "
           "(default %u)\n"
           "  --election MS         election timeout, randomized in [MS, "
           "2 MS),\n"
           "                        longer than --heartbeat (default %u)\n"
           "  --join                a new member (raftctl add): no bootstrap\n"
           "                        configuration; learns it from the leader\n"
           "  --snapshot-entries N  compact once the log holds N entries "
           "beyond the\n"
           "                        kept ones; 0 never (default %u)\n"
           "  --log-keep K          entries kept behind a snapshot point for "
           "slow\n"
           "                        followers (default %u)\n"
           "  --max-sessions M      client sessions kept: the limit this member "
           "writes\n"
           "                        into the register entries it proposes as "
           "leader;\n"
           "                        0 unbounded (default %u)\n"
           "  --max-datagram N      keep datagrams within N bytes (%d-%d;"
           " default\n"
           "                        %d): smaller batches and snapshot "
           "chunks, and\n"
           "                        writes whose entry would not fit are "
           "refused\n"
           "                        (docs/HOSTS.md)\n"
           "  --key-dir DIR         where cluster.key and client.key are "
           "(default:\n"
           "                        the directory of --config)\n"
           "  --insecure            no datagram tags, as RAFT_INSECURE=1 (only "
           "to\n"
           "                        measure their cost)\n"
           "  --faults              obey raftctl's fault commands "
           "(partition, netem)\n"
           "  --seed N              seed for randomized timeouts (default: "
           "random)\n"
           "  -h, --help            this text\n"
           "\n"
           "exit status: 0 stopped by SIGTERM or SIGINT, 1 a fatal error "
           "while\n"
           "running, 2 usage error, 3 could not start (the log says why)\n",
           (unsigned long long)RAFT_ID_MAX, NODE_HEARTBEAT_MS,
           NODE_ELECTION_MS, NODE_SNAPSHOT_ENTRIES, NODE_LOG_KEEP,
           NODE_MAX_SESSIONS, RAFT_MAX_DATAGRAM_MIN, RAFT_DATAGRAM_MAX,
           RAFT_DATAGRAM_MAX);
}

static int stop_pipe[2] = {-1, -1};

extern void (*invariant_write)(const char *msg);

static void on_stop_signal(int sig)
{
    (void)sig;
    int saved = errno;
    char c = 1;
    /* Nothing to do on failure: the pipe already holds a byte. */
    ssize_t ignored = write(stop_pipe[1], &c, 1);
    (void)ignored;
    errno = saved;
}

/* Assertion failures go to the log as well as stderr. */
static void write_invariant(const char *msg)
{
    LOG_ERROR("%s", msg);
}

struct args {
    struct node_options node;
    const char *log_path;
    const char *key_dir;
    int log_level;
    bool has_seed;
    bool insecure;
};

static int usage(const char *problem)
{
    fprintf(stderr, "raftnode: %s; raftnode --help shows the usage\n", problem);
    return EXIT_USAGE;
}

/* Parses a decimal in [lo, hi]. */
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_level(const char *s, int *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; s != NULL && i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* One option with its value. Returns 0, or the usage exit code. */
static int parse_option(struct args *a, const char *opt, const char *val)
{
    uint64_t v = 0;
    if (strcmp(opt, "--id") == 0) {
        if (!parse_u64(val, 1, RAFT_ID_MAX, &v)) {
            return usage("--id needs a member id (1-1000000)");
        }
        a->node.id = v;
    } else if (strcmp(opt, "--config") == 0) {
        a->node.config_path = val;
    } else if (strcmp(opt, "--db") == 0) {
        a->node.db_path = val;
    } else if (strcmp(opt, "--key-dir") == 0) {
        a->key_dir = val;
    } else if (strcmp(opt, "--log") == 0) {
        a->log_path = val;
    } else if (strcmp(opt, "--log-level") == 0) {
        if (!parse_level(val, &a->log_level)) {
            return usage("--log-level needs error, warn, info or debug");
        }
    } else if (strcmp(opt, "--heartbeat") == 0) {
        if (!parse_u64(val, 1, 60000, &v)) {
            return usage("--heartbeat needs milliseconds (1-60000)");
        }
        a->node.heartbeat_ms = (uint32_t)v;
    } else if (strcmp(opt, "--election") == 0) {
        if (!parse_u64(val, 2, 600000, &v)) {
            return usage("--election needs milliseconds (2-600000)");
        }
        a->node.election_ms = (uint32_t)v;
    } else if (strcmp(opt, "--snapshot-entries") == 0) {
        if (!parse_u64(val, 0, UINT32_MAX, &v)) {
            return usage("--snapshot-entries needs a number of entries");
        }
        a->node.snapshot_entries = (uint32_t)v;
    } else if (strcmp(opt, "--log-keep") == 0) {
        if (!parse_u64(val, 0, UINT32_MAX, &v)) {
            return usage("--log-keep needs a number of entries");
        }
        a->node.log_keep = (uint32_t)v;
    } else if (strcmp(opt, "--max-sessions") == 0) {
        if (!parse_u64(val, 0, UINT32_MAX, &v)) {
            return usage("--max-sessions needs a number of sessions");
        }
        a->node.max_sessions = v;
    } else if (strcmp(opt, "--max-datagram") == 0) {
        if (!parse_u64(val, RAFT_MAX_DATAGRAM_MIN, RAFT_DATAGRAM_MAX, &v)) {
            char msg[128];
            snprintf(msg, sizeof msg, "--max-datagram needs bytes (%d-%d)",
                     RAFT_MAX_DATAGRAM_MIN, RAFT_DATAGRAM_MAX);
            return usage(msg);
        }
        a->node.max_datagram = (uint32_t)v;
    } else if (strcmp(opt, "--seed") == 0) {
        if (!parse_u64(val, 0, UINT64_MAX, &v)) {
            return usage("--seed needs a number");
        }
        a->node.seed = v;
        a->has_seed = true;
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown option %.64s", opt);
        return usage(msg);
    }
    return 0;
}

/* Whether opt is one of the options parse_option takes with a value. */
static bool takes_value(const char *opt)
{
    static const char *const names[] = {
        "--id",       "--config",      "--db",
        "--log",      "--log-level",   "--heartbeat",
        "--election", "--seed",        "--snapshot-entries",
        "--log-keep", "--max-sessions",  "--key-dir",
        "--max-datagram"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(opt, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->log_level = LOG_LEVEL_INFO;
    a->node.stop_fd = -1;
    a->node.snapshot_entries = NODE_SNAPSHOT_ENTRIES;
    a->node.log_keep = NODE_LOG_KEEP;
    a->node.max_sessions = NODE_MAX_SESSIONS;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--faults") == 0) {
            a->node.faults = true;
        } else if (strcmp(opt, "--create") == 0) {
            a->node.create = true;
        } else if (strcmp(opt, "--join") == 0) {
            a->node.join = true;
        } else if (strcmp(opt, "--insecure") == 0) {
            a->insecure = true;
        } else if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            print_help();
            exit(0);
        } else if (strncmp(opt, "--", 2) == 0) {
            if (!takes_value(opt)) {
                char msg[128];
                snprintf(msg, sizeof msg, "unknown option %.64s", opt);
                return usage(msg);
            }
            if (i + 1 >= argc) {
                char msg[128];
                snprintf(msg, sizeof msg, "%.64s needs a value", opt);
                return usage(msg);
            }
            int rv = parse_option(a, opt, argv[++i]);
            if (rv != 0) {
                return rv;
            }
        } else {
            char msg[128];
            snprintf(msg, sizeof msg, "unexpected argument %.64s", opt);
            return usage(msg);
        }
    }
    if (a->node.id == 0 || a->node.config_path == NULL ||
        a->node.db_path == NULL) {
        return usage("--id, --config and --db are required");
    }
    uint32_t hb =
        a->node.heartbeat_ms != 0 ? a->node.heartbeat_ms : NODE_HEARTBEAT_MS;
    uint32_t el =
        a->node.election_ms != 0 ? a->node.election_ms : NODE_ELECTION_MS;
    if (el <= hb) {
        return usage("--election must be longer than --heartbeat");
    }
    return 0;
}

/* Moves the damaged database (and its WAL and shared memory, named as
 * SQLite names them) aside to <db>.damaged, so that nothing starts on it
 * again by accident and it stays for inspection. */
static void set_aside_damaged(const char *db_path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char from[4096], to[4096];
        int a = snprintf(from, sizeof from, "%s%s", db_path, suffixes[i]);
        int b = snprintf(to, sizeof to, "%s.damaged%s", db_path, suffixes[i]);
        if (a < 0 || b < 0 || (size_t)b >= sizeof to) {
            return;
        }
        if (rename(from, to) == 0) {
            LOG_INFO("moved %s to %s", from, to);
        } else if (errno != ENOENT) {
            LOG_WARN("cannot move %s aside: %s", from, strerror(errno));
        }
    }
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed) {
        return seed;
    }
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, &seed, sizeof seed);
        close(fd);
        if (n == (ssize_t)sizeof seed) {
            return seed;
        }
    }
    /* Last resort: different per process and start time. */
    return ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&seed;
}

/* Loads cluster.key and client.key from --key-dir, else from beside
 * --config; refuses, with one line naming the file and the fix. */
static int load_keys(const struct args *a)
{
    char errmsg[ERRMSG_LEN] = "";
    int rv = a->key_dir != NULL
                 ? auth_load_dir(a->key_dir, AUTH_ROLE_NODE, false, errmsg)
                 : auth_load_beside(a->node.config_path, AUTH_ROLE_NODE, false,
                                    errmsg);
    if (rv != ERR_OK) {
        fprintf(stderr, "raftnode: %s\n", errmsg);
    }
    return rv;
}

static int setup_signals(void)
{
    if (pipe2(stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        return ERR_IO;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0) {
        return ERR_IO;
    }
    signal(SIGPIPE, SIG_IGN);
    return ERR_OK;
}

/* Replaces this process by a fresh raftnode with the same arguments (and
 * pid: the launcher keeps supervising it), which loads what is durable
 * like any restart. Returns only when exec fails (logged). */
static void restart_in_place(char **argv, FILE *log_file)
{
    LOG_INFO("restarting in place (same pid %ld)", (long)getpid());
    if (log_file != NULL) {
        fflush(log_file);
    }
    fflush(stderr);
    execv("/proc/self/exe", argv);
    LOG_ERROR("cannot restart in place: exec: %s", strerror(errno));
}

/* A member that could not start for want of space: waits, checking every
 * NODE_SPACE_CHECK_MS, until NODE_SPACE_RESUME_BYTES are free (ERR_OK) or
 * a stop signal (ERR_STOPPED). It answers nobody meanwhile. */
static int wait_space_to_start(const struct args *a)
{
    for (;;) {
        struct pollfd pfd = {.fd = stop_pipe[0], .events = POLLIN};
        if (poll(&pfd, 1, (int)NODE_SPACE_CHECK_MS) > 0) {
            LOG_INFO("stopping: signal received (disk still full)");
            return ERR_STOPPED;
        }
        uint64_t free_bytes = node_free_bytes(a->node.db_path);
        if (free_bytes >= NODE_SPACE_RESUME_BYTES) {
            LOG_INFO("space is back (%llu MiB free)",
                     (unsigned long long)(free_bytes >> 20));
            return ERR_OK;
        }
    }
}

int main(int argc, char **argv)
{
    /* Blocks of 128 KiB and more (the kv write-back buffer's tables under
     * load) come from mmap and go back to the system when freed: glibc's
     * adaptive threshold would otherwise keep them in the heap, and an idle
     * node would hold its busiest second's memory. */
    (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* Databases, WAL files, logs: readable by this user only. */
    (void)umask(077);
    struct args a;
    int rv = parse_args(argc, argv, &a);
    if (rv != 0) {
        return rv;
    }
    const char *insecure = getenv("RAFT_INSECURE");
    if (insecure != NULL && strcmp(insecure, "1") == 0) {
        a.insecure = true;
    }
    if (!a.insecure && load_keys(&a) != ERR_OK) {
        return EXIT_START;
    }
    FILE *log_file = NULL;
    if (a.log_path != NULL) {
        log_file = fopen(a.log_path, "a");
        if (log_file == NULL) {
            fprintf(stderr, "raftnode: %s: %s\n", a.log_path, strerror(errno));
            return EXIT_START;
        }
    }
    log_init(log_file != NULL ? log_file : stderr, a.log_level);
    invariant_write = write_invariant;
    if (setup_signals() != ERR_OK) {
        LOG_ERROR("cannot set up signals: %s", strerror(errno));
        return EXIT_START;
    }
    if (!a.has_seed) {
        a.node.seed = random_seed();
    }
    a.node.stop_fd = stop_pipe[0];

    /* A --db that is a symbolic link: SQLite keeps the WAL beside the file
     * it names, so the pre-fill, the free-space checks and the snapshot
     * image work there too. Set aside on damage is the link itself. */
    const char *given_db = a.node.db_path;
    static char real_db[PATH_MAX];
    if (realpath(given_db, real_db) != NULL) {
        a.node.db_path = real_db;
    }

    char errmsg[ERRMSG_LEN] = "";
    struct node *n = NULL;
    rv = node_open(&a.node, &n, errmsg);
    if (rv != ERR_OK && (rv == ERR_NO_SPACE || node_free_bytes(a.node.db_path) <
                                                   NODE_SPACE_RESUME_BYTES)) {
        LOG_ERROR("cannot start: %s; no space left on member %llu (%s)",
                  errmsg, (unsigned long long)a.node.id, a.node.db_path);
        rv = wait_space_to_start(&a);
        if (rv == ERR_OK) {
            restart_in_place(argv, log_file);
        }
        return rv == ERR_STOPPED ? 0 : EXIT_START;
    }
    if (rv != ERR_OK) {
        LOG_ERROR("cannot start: %s%s", errmsg,
                  rv == ERR_DAMAGED ? "; this member is damaged" : "");
        if (log_file != NULL) {
            fprintf(stderr, "raftnode: %s\n", errmsg);
        }
        if (rv == ERR_DAMAGED) {
            set_aside_damaged(given_db);
            return EXIT_DAMAGED;
        }
        return EXIT_START;
    }
    rv = node_run(n);
    if (rv == ERR_NO_SPACE) {
        rv = node_wait_space(n);
        if (rv == ERR_OK) {
            node_close(n);
            restart_in_place(argv, log_file);
        }
        rv = rv == ERR_STOPPED ? ERR_OK : rv;
    }
    node_close(n);
    if (rv == ERR_DAMAGED) {
        set_aside_damaged(given_db);
    }
    LOG_INFO("stopped%s", rv == ERR_OK ? "" : " after a fatal error");
    if (log_file != NULL) {
        fclose(log_file);
    }
    return rv == ERR_OK ? 0 : rv == ERR_DAMAGED ? EXIT_DAMAGED : 1;
}
