/*
 * Producing a snapshot image file (common/snapshot_image.h) from a node's
 * database: a connection of its own, read-only, reads kv and sessions
 * inside one read transaction, so the image is the state
 * at one applied index while the owner keeps writing and checkpointing
 * (WAL readers block neither). Meant to run in a forked child so the
 * leader's loop never waits for it; snapshot_make_start/_fd/_finish are
 * that child's non-blocking runner. Read storage/snapshot_make.c next.
 */
#ifndef RAFT_STORAGE_SNAPSHOT_MAKE_H
#define RAFT_STORAGE_SNAPSHOT_MAKE_H

#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/types.h"

struct store;

/* What an image holds and how big its file is. */
struct snapshot_make_info {
    raft_index index; /* The applied index the state is at. */
    raft_term term;   /* The term of the entry at index. */
    uint64_t size;    /* Bytes of the image file. */
};

/* Writes the image of db_path's applied state to out_path, atomically:
 * "<out_path>.tmp" (0600), fsync, rename, fsync of the directory. config
 * (borrowed, NUL-terminated) is the configuration text the image carries.
 * Opens and closes its own connection; in a forked child, call it only if
 * the parent's connection had no transaction open at the fork
 * (snapshot_make_start sees to it): SQLite's in-process lock bookkeeping
 * is inherited and would hide the child's read lock. Errors: ERR_INVALID
 * (nothing applied yet), ERR_CORRUPT (the database disagrees with itself),
 * ERR_DAMAGED (a kv row fails its checksum), ERR_TOO_BIG (config), ERR_IO,
 * ERR_NOMEM; errmsg says which. */
int snapshot_make_file(const char *db_path, const char *out_path,
                       const char *config, struct snapshot_make_info *out,
                       char errmsg[ERRMSG_LEN]);

/* A child process running snapshot_make_file. */
struct snapshot_make {
    pid_t pid;     /* 0: none running. */
    int result_fd; /* Child -> parent: poll for POLLIN. */
};

/* Ends s's shared read transaction (no kv transaction may be open), then
 * forks a child that writes the image of s's database to out_path. out_path
 * and config are copied by the fork. Errors: ERR_IO (errmsg says why). */
int snapshot_make_start(struct snapshot_make *m, struct store *s,
                        const char *out_path, const char *config,
                        char errmsg[ERRMSG_LEN]);

/* The descriptor to poll for POLLIN while running, else -1. */
int snapshot_make_fd(const struct snapshot_make *m);

/* Once snapshot_make_fd() is readable: reads the child's result, reaps it,
 * and returns what snapshot_make_file returned there (ERR_IO when the child
 * died without a result). *out is written only on success. */
int snapshot_make_finish(struct snapshot_make *m,
                         struct snapshot_make_info *out,
                         char errmsg[ERRMSG_LEN]);

/* Kills and reaps a running child (its temporary file may remain). */
void snapshot_make_cancel(struct snapshot_make *m);

#endif
