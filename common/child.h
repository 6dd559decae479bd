/*
 * What every helper process that raftnode forks does first (the syncer,
 * the snapshot maker, the checkpointer): die with the parent, take a name
 * that ps and top show, and leave terminal signals to the parent, which
 * decides when its children stop; and how the parent reaps one. Not pure. Read common/child.c next.
 */
#ifndef RAFT_COMMON_CHILD_H
#define RAFT_COMMON_CHILD_H

#include <sys/types.h>

/* In a child just forked from parent: SIGKILL when the parent dies, the
 * process name (at most 15 bytes), SIGINT, SIGTERM, SIGHUP and SIGPIPE
 * ignored (Ctrl-C in a terminal reaches the whole process group). Exits
 * (_exit(0)) when the parent died before this took effect. */
void child_setup(pid_t parent, const char *name);

/* In the parent: closes *fd (the child's result pipe) unless it is -1,
 * waits for the child *pid to exit, then sets *pid to 0 and *fd to -1. */
void child_reap(pid_t *pid, int *fd);

#endif
