/*
 * raftsim: runs the deterministic simulator for one seed, a range, a seed
 * file or random seeds for some minutes (soak). Each seed picks the run's
 * parameters (swarm testing): node count, latency, loss, duplication,
 * damage, crash and partition rates, timers, write-back of applies,
 * synchronous or asynchronous syncs. A failure prints the seed, the check
 * that broke, the trace tail and the exact command that replays it.
 * This file is the harness, not simulated code: only it reads the clock.
 * Read tests/sim/sim_world.h next.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/recording.h"
#include "common/rng.h"
#include "tests/sim/sim_world.h"
#ifdef RAFT_TEETH
#include "node/raft_bugs.h"
#endif

#define SIM_DEFAULT_STEPS 10000
#define SIM_TAIL_LINES 300

struct opts {
    const char *argv0;
    uint64_t seed_from;
    uint64_t seed_to;
    bool has_seed;
    const char *seed_file;
    uint64_t steps;
    uint32_t nodes; /* 0: the seed decides. */
    bool trace;
    bool stop_first;
    bool verbose;
    double soak_minutes;
    const char *bug;
    const char *skip_check;
    const char *record; /* --record FILE (one seed), or NULL. */
};

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

static uint32_t pick(struct rng *r, const uint32_t *opts, size_t n)
{
    return opts[rng_range(r, 0, n)];
}

#define PICK(r, ...)                                                           \
    pick((r), (const uint32_t[]){__VA_ARGS__},                                 \
         sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

/* The swarm: every seed draws its own mix of faults and timings. */
static void params_from_seed(uint64_t seed, const struct opts *o,
                             struct sim_params *p)
{
    struct rng r;
    rng_init(&r, seed ^ 0x9a3c5e7f1b2d4086ull);
    memset(p, 0, sizeof *p);
    p->n_nodes = (uint32_t)rng_range(&r, 3, 8);
    if (o->nodes != 0) {
        p->n_nodes = o->nodes;
    }
    p->n_clients = PICK(&r, 1, 2, 3, 4, 8);
    p->heartbeat_ms = PICK(&r, 20, 50, 50);
    p->election_ms = p->heartbeat_ms * (uint32_t)rng_range(&r, 3, 7);
    p->lat_min_ms = (uint32_t)rng_range(&r, 1, 10);
    p->lat_max_ms =
        p->lat_min_ms + (uint32_t)rng_range(&r, 0, p->election_ms / 3 + 1);
    p->loss_ppm = PICK(&r, 0, 0, 10000, 50000, 150000);
    p->dup_ppm = PICK(&r, 0, 0, 20000, 100000);
    p->corrupt_ppm = PICK(&r, 0, 0, 5000, 30000);
    p->fault_every_ms = PICK(&r, 100, 300, 1000);
    p->crash_ppm = PICK(&r, 0, 100000, 300000, 600000);
    p->partition_ppm = PICK(&r, 0, 100000, 300000, 600000);
    p->heal_ms_max = PICK(&r, 200, 1000, 5000);
    p->down_min_ms = (uint32_t)rng_range(&r, 0, 200);
    p->down_max_ms = p->down_min_ms + PICK(&r, 100, 1000, 5000);
    p->crash_point_ppm = PICK(&r, 0, 0, 1000, 10000);
    p->write_fail_ppm = PICK(&r, 0, 0, 500, 5000);
    p->new_leader_crash_ppm = PICK(&r, 0, 0, 200000, 500000);
    p->pre_vote = rng_range(&r, 0, 2) == 1;
    p->check_quorum = rng_range(&r, 0, 2) == 1;
    p->batch_bytes_max = PICK(&r, 1, 1, 512, 4096, 60000);
    p->inflight_max = PICK(&r, 1, 4, 16);
    p->mem_entries_max = PICK(&r, 0, 0, 2, 16);
    p->pending_max = PICK(&r, 0, 0, 0, 1, 3);
    uint64_t apply = rng_range(&r, 0, 4); /* raftnode's, small, at once. */
    p->apply_batch_min = apply < 2 ? 512 : apply == 2 ? 4 : 0;
    p->apply_delay_ms = apply < 2    ? p->heartbeat_ms
                        : apply == 2 ? p->heartbeat_ms / 2
                                     : 0;
    p->client_timeout_ms = 3 * p->election_ms + 4 * p->lat_max_ms;
    p->client_think_ms = PICK(&r, 0, 20, 200);
    p->read_pct = PICK(&r, 0, 20, 50, 80);
    /* A quarter of the seeds, chosen without a draw (the others' runs stay
     * as they were): half their crashes also cut a synced tail. */
    p->lie_ppm = (seed >> 7) % 4 == 1 ? 500000 : 0;
    p->big_value_pct = PICK(&r, 0, 0, 0, 5, 25);
    /* Drawn last, so the draws above stay what they were for a seed. A
     * quarter of the seeds write through; the rest buffer applies for a
     * few entries or a few to a few hundred ms, some as raftnode does. */
    if (rng_range(&r, 0, 4) != 0) {
        struct kv_writeback_config *wb = &p->kv_writeback;
        wb->ops_max = PICK(&r, 0, 1, 2, 3, 4, 8, 16384);
        wb->bytes_max = PICK(&r, 0, 0, 0, 64, 4096, 4u << 20);
        wb->delay_ms = PICK(&r, 0, 3, 10, 50, 200, 500, 1000);
        wb->idle_ms = PICK(&r, 0, 0, 2, 5, 20, 100);
    }
    /* Drawn after that, for the same reason. Half the seeds sync apart
     * from writing (replica_io.sync), finishing 0 to a few ms later; in
     * some a sync now and then stalls for longer than a round trip (then
     * a leader's own copy is the one that must not count). */
    p->async_sync = rng_range(&r, 0, 2) == 1;
    if (p->async_sync) {
        p->sync_ms_max = PICK(&r, 0, 1, 2, 5, 10);
        p->sync_slow_ppm = PICK(&r, 0, 50000, 125000);
        p->sync_slow_ms = PICK(&r, 20, 50, 100);
        /* A leader leaves its own log unsynced while its followers
         * commit (raftnode: 1 ms). */
        p->self_sync_ms = PICK(&r, 0, 1, 1, 3, 10);
    }
    /* Drawn last again. Half the seeds tell followers a new commit index
     * alone at once; the rest wait for the next append with entries, at
     * most a little (raftnode: 2 ms) or up to about a heartbeat. */
    p->commit_notify_ms =
        rng_range(&r, 0, 2) == 0 ? 0 : PICK(&r, 1, 2, 2, 10, p->heartbeat_ms);
    /* Drawn last again. A third of the seeds compact, down to every few
     * entries so that snapshots are sent all the time, in chunks small
     * enough for many in flight. */
    if (rng_range(&r, 0, 3) == 0) {
        p->snapshot_entries = PICK(&r, 2, 5, 20, 100);
        p->log_keep = PICK(&r, 0, 0, 1, 5, 50);
        /* Many chunks per image, yet a transfer well inside the
         * liveness bound: tiny chunks only without big values. */
        p->snap_chunk_bytes = p->big_value_pct == 0
                                  ? PICK(&r, 16, 64, 1000)
                                  : PICK(&r, 1000, 4096, 60 * 1024);
        p->snap_window = PICK(&r, 1, 2, 4, 16);
        p->snap_timeout_ms = PICK(&r, 10, 50, p->election_ms);
    }
    /* Drawn last again. Sessions are always bounded (the model keeps at
     * most SIM_SESSIONS_MAX): a third of the seeds below the clients, so
     * sessions are evicted and clients register again under every fault;
     * the rest at or just above, so evictions are rare. */
    if (rng_range(&r, 0, 3) == 0) {
        p->max_sessions = p->n_clients > 2 ? p->n_clients - PICK(&r, 1, 2) : 1;
    } else {
        p->max_sessions = p->n_clients + PICK(&r, 0, 1, 4);
    }
    if (p->max_sessions == 0) {
        p->max_sessions = 1;
    }
    /* Drawn last again. Half the seeds that sync apart hang or fill a
     * member's disk now and then (docs/DISK.md). */
    if (p->async_sync && rng_range(&r, 0, 2) == 0) {
        p->disk_fault_ppm = PICK(&r, 50000, 150000, 300000);
    }
    /* Drawn last again. A third of the seeds change membership: 3 voters
     * (2 of 3 nodes) start, the others join as learners later; these
     * keep the whole log in memory and do not compact, so that every
     * config entry stays in the log the checks read. */
    if (rng_range(&r, 0, 3) == 0) {
        p->n_boot = p->n_nodes > 3 ? 3 : 2;
        p->mem_entries_max = 0;
        p->snapshot_entries = 0;
        /* Nor do their disks lie: a lost synced tail can take an entry
         * from the one member a joint quorum needs, which the
         * joint_quorum check cannot tell from a wrong commit. */
        p->lie_ppm = 0;
    }
    p->steps = o->steps;
    p->liveness_ms = 60000;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- Failure report, also from a core ASSERT (SIGABRT) --- */

static const struct opts *g_opts;
static struct sim_world *g_world;

static void print_replay(FILE *out, const struct opts *o, uint64_t seed)
{
    fprintf(out, "replay: %s --seed 0x%016llx --steps %llu", o->argv0,
            ull(seed), ull(o->steps));
    if (o->nodes != 0) {
        fprintf(out, " --nodes %u", o->nodes);
    }
    if (o->bug != NULL) {
        fprintf(out, " --bug %s", o->bug);
    }
    if (o->skip_check != NULL) {
        fprintf(out, " --skip-check %s", o->skip_check);
    }
    fprintf(out, " --trace\n");
}

static void print_failure(const struct sim_world *w, const struct opts *o,
                          const char *check, const char *detail)
{
    fprintf(stdout, "FAILED seed=0x%016llx step=%llu check=%s: %s\n",
            ull(w->seed), ull(w->n_events), check, detail);
    fprintf(stdout, "--- trace tail (last %d lines) ---\n", SIM_TAIL_LINES);
    sim_trace_dump(&w->trace, stdout, SIM_TAIL_LINES);
    fprintf(stdout, "--- end of trace ---\n");
    fprintf(stdout, "FAILED seed=0x%016llx check=%s\n", ull(w->seed), check);
    print_replay(stdout, o, w->seed);
    fflush(stdout);
}

static void on_fatal_signal(int sig)
{
    if (g_world != NULL && g_world->rec != NULL) {
        rec_write_violation(g_world->rec, g_world->now_ms,
                            sig == SIGABRT ? "assert: aborted by an ASSERT"
                                           : "crash: fatal signal");
        rec_writer_flush(g_world->rec);
    }
    if (g_world != NULL && g_opts != NULL) {
        bool is_abort = sig == SIGABRT;
        print_failure(g_world, g_opts, is_abort ? "assert" : "crash",
                      is_abort ? "aborted by an ASSERT or a sanitizer "
                                 "(see stderr)"
                               : "fatal signal");
    }
    _exit(1);
}

/* Sanitizer builds (make asan): make ASan and UBSan abort rather than
 * exit, so the SIGABRT handler reports the seed and the replay command.
 * The runtimes read these at start; other builds never call them. */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void)
{
    return "abort_on_error=1";
}

const char *__ubsan_default_options(void)
{
    return "abort_on_error=1:print_stacktrace=1";
}

/* --- Runs --- */

struct totals {
    uint64_t seeds;
    uint64_t events;
    uint64_t failed;
    uint64_t first_failed;
    uint64_t lost_buffers;
    uint64_t compactions;
    uint64_t installs;
    uint64_t lies;     /* Lying-disk cuts (lie_ppm). */
    uint64_t lost_reports; /* Leaders' reports of them. */
};

static bool run_seed(const struct opts *o, uint64_t seed, bool is_single,
                     struct totals *t)
{
    struct sim_params p;
    params_from_seed(seed, o, &p);
    struct sim_world *w = malloc(sizeof *w);
    if (w == NULL || sim_world_init(w, &p, seed, o->trace ? stdout : NULL)) {
        fprintf(stderr, "raftsim: out of memory\n");
        exit(4);
    }
    if (is_single) {
        printf("seed=0x%016llx nodes=%u clients=%u steps=%llu hb=%u "
               "election=%u lat=%u-%u loss=%u dup=%u damage=%u crash=%u "
               "part=%u crashpt=%u wfail=%u prevote=%d cq=%d batch=%u "
               "inflight=%u window=%u apply=%u/%ums big=%u%% reads=%u%% "
               "writeback=%u/%zu/%ums/%ums sync=%s%ums slow=%u/%ums "
               "self_sync=%ums commit_notify=%ums snapshot=%u/%u/%u/%u/%ums "
               "max_sessions=%u disk_faults=%u boot=%u\n",
               ull(seed), p.n_nodes, p.n_clients, ull(p.steps), p.heartbeat_ms,
               p.election_ms, p.lat_min_ms, p.lat_max_ms, p.loss_ppm, p.dup_ppm,
               p.corrupt_ppm, p.crash_ppm, p.partition_ppm, p.crash_point_ppm,
               p.write_fail_ppm, p.pre_vote, p.check_quorum, p.batch_bytes_max,
               p.inflight_max, p.mem_entries_max, p.apply_batch_min,
               p.apply_delay_ms, p.big_value_pct, p.read_pct,
               p.kv_writeback.ops_max, p.kv_writeback.bytes_max,
               p.kv_writeback.delay_ms, p.kv_writeback.idle_ms,
               p.async_sync ? "async/" : "write/", p.sync_ms_max,
               p.sync_slow_ppm, p.sync_slow_ms, p.self_sync_ms,
               p.commit_notify_ms, p.snapshot_entries, p.log_keep,
               p.snap_chunk_bytes, p.snap_window, p.snap_timeout_ms,
               p.max_sessions, p.disk_fault_ppm, p.n_boot);
    }
    w->skip_check = o->skip_check;
    static struct rec_writer rec;
    if (o->record != NULL) {
        char errmsg[ERRMSG_LEN];
        if (rec_writer_open(&rec, o->record, 0, errmsg) != ERR_OK) {
            fprintf(stderr, "raftsim: --record %s\n", errmsg);
            exit(2);
        }
        sim_record_begin(w, &rec);
    }
    g_world = w;
    bool ok = sim_world_run(w);
    g_world = NULL;
    if (o->record != NULL) {
        if (rec_writer_close(&rec) != ERR_OK) {
            fprintf(stderr, "raftsim: --record %s: a write failed\n",
                    o->record);
        }
        w->rec = NULL;
    }
    t->seeds++;
    t->events += w->n_events;
    t->lost_buffers += w->check.n_lost_buffers;
    t->compactions += w->check.n_compactions;
    t->installs += w->check.n_installs;
    t->lies += w->n_lies;
    t->lost_reports += w->n_lost_reports;
    if (!ok) {
        if (t->failed == 0) {
            t->first_failed = seed;
        }
        t->failed++;
        print_failure(w, o, w->fail_check, w->fail_detail);
    } else if (is_single || o->verbose) {
        printf("ok seed=0x%016llx events=%llu sim_ms=%llu applied=%llu "
               "acked_writes=%llu reads=%llu sent=%llu dropped=%llu "
               "damaged_refused=%llu lost_buffers=%llu compactions=%llu "
               "installs=%llu trace_lines=%llu "
               "trace_hash=0x%016llx\n",
               ull(seed), ull(w->n_events), ull(w->now_ms),
               ull(w->check.n_applied), ull(w->check.n_acked_writes),
               ull(w->check.n_reads_checked), ull(w->n_sent), ull(w->n_dropped),
               ull(w->n_corrupt_caught), ull(w->check.n_lost_buffers),
               ull(w->check.n_compactions), ull(w->check.n_installs),
               ull(w->trace.n_lines), ull(w->trace.hash));
    }
    sim_world_close(w);
    free(w);
    return ok;
}

static void print_summary(const struct totals *t, double wall)
{
    printf("summary: seeds=%llu events=%llu violations=%llu "
           "lost_buffers=%llu compactions=%llu installs=%llu lies=%llu "
           "lost_reports=%llu wall=%.1fs",
           ull(t->seeds), ull(t->events), ull(t->failed), ull(t->lost_buffers),
           ull(t->compactions), ull(t->installs), ull(t->lies),
           ull(t->lost_reports), wall);
    if (t->failed > 0) {
        printf(" first_failed=0x%016llx", ull(t->first_failed));
    }
    printf("\n%llu passed, %llu failed\n", ull(t->seeds - t->failed),
           ull(t->failed));
}

/* Seeds from a file: "SEED [STEPS]" per line, '#' starts a comment. */
static int run_file(const struct opts *o, struct totals *t)
{
    FILE *f = fopen(o->seed_file, "r");
    if (f == NULL) {
        fprintf(stderr, "raftsim: %s: %s\n", o->seed_file, strerror(errno));
        return 2;
    }
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        char *hash = strchr(line, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        char *end = NULL;
        unsigned long long seed = strtoull(line, &end, 0);
        if (end == line) {
            continue;
        }
        struct opts one = *o;
        char *end2 = NULL;
        unsigned long long steps = strtoull(end, &end2, 0);
        if (end2 != end && steps > 0) {
            one.steps = steps;
        }
        if (!run_seed(&one, seed, false, t) && o->stop_first) {
            break;
        }
    }
    fclose(f);
    return 0;
}

static void run_soak(const struct opts *o, struct totals *t, double start)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct rng r;
    rng_init(&r, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                     (uint64_t)getpid());
    double end = start + o->soak_minutes * 60.0;
    while (wall_seconds() < end) {
        uint64_t seed = rng_next(&r);
        if (!run_seed(o, seed, false, t)) {
            printf("soak: failing seed 0x%016llx\n", ull(seed));
        }
    }
}

/* --- Command line --- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: raftsim --seed S [--steps N] [--nodes K] [--trace]\n"
            "              [--record FILE]  (docs/RECORDING.md)\n"
            "       raftsim --seeds A..B [--steps N] [--stop] [--verbose]\n"
            "       raftsim --seed-file FILE [--steps N]\n"
            "       raftsim --soak MINUTES [--steps N]\n"
            "       --skip-check A,B ignores checks (what else breaks?)\n"
#ifdef RAFT_TEETH
            "       (teeth build) --bug NAME breaks one Raft rule\n"
#endif
    );
}

#ifdef RAFT_TEETH
static const struct {
    const char *name;
    unsigned bit;
} bug_names[] = {
    {"no_election_restriction", RAFT_BUG_NO_ELECTION_RESTRICTION},
    {"commit_old_term", RAFT_BUG_COMMIT_OLD_TERM},
    {"truncate_on_duplicate", RAFT_BUG_TRUNCATE_ON_DUPLICATE},
    {"forget_vote", RAFT_BUG_FORGET_VOTE},
    {"apply_uncommitted", RAFT_BUG_APPLY_UNCOMMITTED},
    {"stale_read", RAFT_BUG_STALE_READ},
    {"no_step_down", RAFT_BUG_NO_STEP_DOWN},
    {"send_unsynced", RAFT_BUG_SEND_UNSYNCED},
    {"count_unsynced", RAFT_BUG_COUNT_UNSYNCED},
    {"snap_install_old", RAFT_BUG_SNAP_INSTALL_OLD},
    {"snap_compact_undurable", RAFT_BUG_SNAP_COMPACT_UNDURABLE},
    {"snap_old_chunk", RAFT_BUG_SNAP_OLD_CHUNK},
    {"snap_keep_suffix", RAFT_BUG_SNAP_KEEP_SUFFIX},
    {"session_revive", RAFT_BUG_SESSION_REVIVE},
    {"session_own_limit", RAFT_BUG_SESSION_OWN_LIMIT},
    {"disk_ignored", RAFT_BUG_DISK_IGNORED},
    {"ignore_lost_acked", RAFT_BUG_IGNORE_LOST_ACKED},
    {"joint_new_only", RAFT_BUG_JOINT_NEW_ONLY},
    {"change_early", RAFT_BUG_CHANGE_EARLY},
    {"count_learner", RAFT_BUG_COUNT_LEARNER},
    {"two_changes", RAFT_BUG_TWO_CHANGES},
    {"committed_conf", RAFT_BUG_COMMITTED_CONF},
    {"self_vote_early", RAFT_BUG_SELF_VOTE_EARLY},
};

static bool set_bug(const char *name)
{
    for (size_t i = 0; i < sizeof bug_names / sizeof bug_names[0]; i++) {
        if (strcmp(bug_names[i].name, name) == 0) {
            raft_bugs |= bug_names[i].bit;
            return true;
        }
    }
    return false;
}
#endif

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_range(const char *s, uint64_t *from, uint64_t *to)
{
    char buf[64];
    const char *dots = strstr(s, "..");
    if (dots == NULL || (size_t)(dots - s) >= sizeof buf) {
        return false;
    }
    memcpy(buf, s, (size_t)(dots - s));
    buf[dots - s] = '\0';
    return parse_u64(buf, from) && parse_u64(dots + 2, to) && *from <= *to;
}

/* Returns 0 or the exit code for a usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->argv0 = argv[0];
    o->steps = SIM_DEFAULT_STEPS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x = 0;
        bool takes = true;
        if (strcmp(a, "--seed") == 0 && v && parse_u64(v, &x)) {
            o->seed_from = o->seed_to = x;
            o->has_seed = true;
        } else if (strcmp(a, "--seeds") == 0 && v &&
                   parse_range(v, &o->seed_from, &o->seed_to)) {
            o->has_seed = true;
        } else if (strcmp(a, "--steps") == 0 && v && parse_u64(v, &x) &&
                   x > 0) {
            o->steps = x;
        } else if (strcmp(a, "--nodes") == 0 && v && parse_u64(v, &x) &&
                   x >= 1 && x <= SIM_NODES_MAX) {
            o->nodes = (uint32_t)x;
        } else if (strcmp(a, "--skip-check") == 0 && v) {
            o->skip_check = v;
        } else if (strcmp(a, "--record") == 0 && v) {
            o->record = v;
        } else if (strcmp(a, "--seed-file") == 0 && v) {
            o->seed_file = v;
        } else if (strcmp(a, "--soak") == 0 && v && parse_u64(v, &x)) {
            o->soak_minutes = (double)x;
#ifdef RAFT_TEETH
        } else if (strcmp(a, "--bug") == 0 && v && set_bug(v)) {
            o->bug = v;
#endif
        } else {
            takes = false;
            if (strcmp(a, "--trace") == 0) {
                o->trace = true;
            } else if (strcmp(a, "--stop") == 0) {
                o->stop_first = true;
            } else if (strcmp(a, "--verbose") == 0) {
                o->verbose = true;
            } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                usage(stdout);
                exit(0);
            } else {
                fprintf(stderr, "raftsim: bad argument: %s\n", a);
                usage(stderr);
                return 2;
            }
        }
        i += takes;
    }
    if (!o->has_seed && o->seed_file == NULL && o->soak_minutes <= 0) {
        usage(stderr);
        return 2;
    }
    if (o->record != NULL &&
        (!o->has_seed || o->seed_from != o->seed_to || o->seed_file != NULL ||
         o->soak_minutes > 0)) {
        fprintf(stderr, "raftsim: --record needs one --seed\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    g_opts = &o;
    signal(SIGABRT, on_fatal_signal);
    signal(SIGSEGV, on_fatal_signal);
    struct totals t;
    memset(&t, 0, sizeof t);
    double start = wall_seconds();
    bool is_single = o.has_seed && o.seed_from == o.seed_to &&
                     o.seed_file == NULL && o.soak_minutes <= 0;
    if (is_single) {
        return run_seed(&o, o.seed_from, true, &t) ? 0 : 1;
    }
    if (o.seed_file != NULL && run_file(&o, &t) != 0) {
        return 2;
    }
    if (o.has_seed) {
        for (uint64_t s = o.seed_from; s <= o.seed_to; s++) {
            if (!run_seed(&o, s, false, &t) && o.stop_first) {
                break;
            }
            if (s == UINT64_MAX) {
                break;
            }
        }
    }
    if (o.soak_minutes > 0) {
        run_soak(&o, &t, start);
    }
    print_summary(&t, wall_seconds() - start);
    return t.failed == 0 ? 0 : 1;
}
