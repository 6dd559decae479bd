/*
 * The syncer: a child process of raftnode whose only job is fdatasync of
 * the store's WAL on request, so the poll() loop never blocks on the disk.
 * The loop writes one byte to ask; the child syncs and writes one byte
 * back, which poll() sees on syncer_fd(). A sync asked after a write makes
 * that write durable (the WAL is one file; fdatasync covers every page
 * written before it began). The child ignores terminal signals, dies with
 * its parent (PR_SET_PDEATHSIG) and exits when the loop closes the pipe.
 * Not pure. Read node/syncer.c next.
 */
#ifndef RAFT_NODE_SYNCER_H
#define RAFT_NODE_SYNCER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct syncer {
    pid_t pid;   /* 0: not running. */
    int ask_fd;  /* Loop -> child. */
    int done_fd; /* Child -> loop; poll it for POLLIN. */
    bool busy;   /* Asked, result not read yet. */
    volatile uint32_t *delay_ms; /* Shared with the child (mmap): it
                                  * sleeps this long before each sync
                                  * (netem --disk-delay); NULL: none. */
};

/* Forks the child that syncs fd (the parent keeps its own fd). The child
 * closes every other descriptor but stdin, stdout and stderr.
 * Errors: ERR_IO (errmsg says why). */
int syncer_start(struct syncer *sy, int fd, char errmsg[ERRMSG_LEN]);

/* Asks for one sync; must not be busy. Errors: ERR_IO (the child is gone). */
int syncer_ask(struct syncer *sy);

/* The descriptor to poll for POLLIN while busy, else -1. */
int syncer_fd(const struct syncer *sy);

/* Reads the result once syncer_fd() is readable: ERR_OK, or ERR_IO when
 * the child's fdatasync failed or the child died (errmsg says which).
 * Either way no longer busy. */
int syncer_finish(struct syncer *sy, char errmsg[ERRMSG_LEN]);

/* From the next sync on, the child sleeps ms before each fdatasync (a
 * slow or hung disk for tests: raftctl netem --disk-delay); 0 ends it,
 * also for a sleep in progress (within 20 ms). No-op when not running. */
void syncer_set_delay_ms(struct syncer *sy, uint32_t ms);

/* Closes the pipe and reaps the child. Safe on a syncer never started. */
void syncer_stop(struct syncer *sy);

#endif
