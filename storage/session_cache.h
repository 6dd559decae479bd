/*
 * A fixed-size, direct-mapped cache of the sessions table (client_id ->
 * last seq and its status, or "no session"), in front of SQLite. The
 * leader looks a session up for every client write it receives, and each
 * lookup outside a transaction costs SQLite a read transaction with its
 * file locks; the cache answers most of them from memory. It holds only
 * what the table holds (written through on every put); a miss or an
 * eviction just means asking SQLite. No I/O, no allocation after init.
 * Read storage/session_cache.c next.
 */
#ifndef RAFT_STORAGE_SESSION_CACHE_H
#define RAFT_STORAGE_SESSION_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define SESSION_CACHE_SLOTS 4096 /* A power of two. */

struct session_cache_slot {
    uint64_t client_id;
    uint64_t seq;
    uint8_t status;
    bool is_used;    /* The slot holds client_id's answer. */
    bool is_present; /* The table has a row for client_id. */
};

struct session_cache {
    struct session_cache_slot slots[SESSION_CACHE_SLOTS];
};

/* Empties the cache (after open, or after a rolled-back transaction). */
void session_cache_clear(struct session_cache *c);

/* Returns true when the cache knows client_id: then *is_present says
 * whether the table has a row, and *seq and *status are its values. */
bool session_cache_get(const struct session_cache *c, uint64_t client_id,
                       bool *is_present, uint64_t *seq, uint8_t *status);

/* Records what the table now holds for client_id (is_present false: no
 * row), evicting whatever shared its slot. */
void session_cache_put(struct session_cache *c, uint64_t client_id,
                       bool is_present, uint64_t seq, uint8_t status);

#endif
