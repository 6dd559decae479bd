/*
 * What of a replica's writes is durable when storage syncs apart from
 * writing (raft_config.async_persist): each persist only writes, one sync at
 * a time makes everything written before it was asked for durable, and the
 * messages a ready batch sends after persisting (acknowledgements, votes)
 * wait here until the writes before them are durable. Also tells the core
 * which log index a finished sync covers. Pure: no I/O.
 * Read node/durable.c next.
 */
#ifndef RAFT_NODE_DURABLE_H
#define RAFT_NODE_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/msg.h"
#include "common/types.h"
#include "node/raft.h"

struct durable_held {
    uint64_t seq; /* Released once synced >= seq. */
    struct raft_msg msg;
};

struct durable {
    uint64_t written;          /* Writes issued so far. */
    uint64_t asked;            /* Writes the sync in progress covers;
                                  * 0: no sync in progress. */
    uint64_t synced;           /* Writes known durable. */
    raft_index last_index;     /* The log's last index as written. */
    raft_index ask_index;      /* last_index when the sync was asked. */
    raft_index trunc_low;      /* Lowest truncation written since; 0:
                                  * none. */
    raft_term term_written;    /* The last hard state's term written. */
    raft_term ask_term;        /* term_written when the sync was asked. */
    raft_term synced_term;     /* Hard state known durable up to it. */
    struct durable_held *held; /* Ring, oldest first. */
    uint32_t held_cap;
    uint32_t held_head;
    uint32_t n_held;
};

/* Starts with everything in storage durable; last_index is its last entry. */
void durable_init(struct durable *d, raft_index last_index);
void durable_free(struct durable *d);

/* Records that rd's truncation and entries were written (not synced). */
void durable_wrote(struct durable *d, const struct raft_ready *rd);

/* True when something written is not yet known durable. */
bool durable_is_pending(const struct durable *d);

/* Keeps a copy of msg until the writes issued so far are durable.
 * msg must carry no borrowed pointer (no entries, no value).
 * Errors: ERR_NOMEM. */
int durable_hold(struct durable *d, const struct raft_msg *msg);

/* True when a sync should be asked for now: none in progress and
 * something written since the last. */
bool durable_should_ask(const struct durable *d);

/* The caller asked storage for a sync. */
void durable_asked(struct durable *d);

/* The sync asked for finished. Returns the last log index it made durable
 * as the core knows it: below any truncation written after asking. */
raft_index durable_done(struct durable *d);

/* The term of the last hard state a finished sync made durable (0:
 * none yet), for raft_persisted_term. */
raft_term durable_synced_term(const struct durable *d);

/* Pops the oldest held message whose writes are durable into *out. */
bool durable_release(struct durable *d, struct raft_msg *out);

#endif
