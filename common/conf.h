/*
 * The cluster file: one member per line, "ID HOST:PORT", '#' comments, blank
 * lines, and an optional "cluster HEX" line naming the cluster id (otherwise
 * the id is a hash of the member lines). The same file serves every host.
 * Read common/conf.c next.
 */
#ifndef RAFT_COMMON_CONF_H
#define RAFT_COMMON_CONF_H

#include <stdint.h>

#include "common/err.h"
#include "common/types.h"

#define CONF_HOST_MAX 253

struct conf_member {
    raft_id id;
    char host[CONF_HOST_MAX + 1];
    uint16_t port;
};

struct conf {
    uint64_t cluster_id;
    uint32_t n_members;
    struct conf_member members[RAFT_NODES_MAX]; /* Sorted by id. */
};

/* Parses text (NUL-terminated). Errors: ERR_INVALID, with errmsg like
 * "line 4: duplicate id 3" (the caller prefixes the file name). */
int conf_parse(const char *text, struct conf *out, char errmsg[ERRMSG_LEN]);

/* Reads and parses a file. Errors: ERR_NOT_FOUND, ERR_IO, ERR_INVALID; errmsg
 * is prefixed with the path ("cluster/cluster.conf:4: duplicate id 3"). */
int conf_load(const char *path, struct conf *out, char errmsg[ERRMSG_LEN]);

/* The index into conf->members of the member with this id, or -1. The one
 * lookup by id: every other one calls it. */
int conf_member_index(const struct conf *conf, raft_id id);

/* The member with this id, or NULL. */
const struct conf_member *conf_find(const struct conf *conf, raft_id id);

#endif
