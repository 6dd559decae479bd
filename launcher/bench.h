/*
 * `raftctl bench`: closed-loop load from many client sessions in one
 * process and one poll() loop, through the same client library users get
 * (leader discovery, sessions, retries). Read launcher/bench.c next.
 */
#ifndef RAFT_LAUNCHER_BENCH_H
#define RAFT_LAUNCHER_BENCH_H

/* bench [-c CLIENTS] [--duration S] [--warmup S] [--size BYTES]
 * [--keys N] [--reads R] [--timeout MS] [--json]. Returns an exit code:
 * 0 when requests completed (errors are counted and shown), 2 on usage
 * errors, 3 when no request completed at all, 4 on other errors. */
int cmd_bench(int argc, char **argv, const char *dir);

#endif
