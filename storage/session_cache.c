/*
 * The session cache: one slot per hash of client_id, overwritten on
 * collision. Client ids are random 64-bit numbers, but they come off the
 * network, so they are mixed before use rather than trusted to be spread.
 * Pure: no I/O. The last file of storage/; node/node.c drives the store.
 */
#include "storage/session_cache.h"

#include <string.h>

#include "common/invariant.h"

/* The slot of client_id (a multiplicative hash, top bits). */
static uint32_t slot_of(uint64_t client_id)
{
    uint64_t h = client_id * UINT64_C(0x9e3779b97f4a7c15);
    return (uint32_t)(h >> 52) & (SESSION_CACHE_SLOTS - 1);
}

void session_cache_clear(struct session_cache *c)
{
    ASSERT(c != NULL);
    memset(c, 0, sizeof(*c));
}

bool session_cache_get(const struct session_cache *c, uint64_t client_id,
                       bool *is_present, uint64_t *seq, uint8_t *status)
{
    ASSERT(c != NULL);
    const struct session_cache_slot *slot = &c->slots[slot_of(client_id)];
    if (!slot->is_used || slot->client_id != client_id) {
        return false;
    }
    *is_present = slot->is_present;
    *seq = slot->seq;
    *status = slot->status;
    return true;
}

void session_cache_put(struct session_cache *c, uint64_t client_id,
                       bool is_present, uint64_t seq, uint8_t status)
{
    ASSERT(c != NULL);
    struct session_cache_slot *slot = &c->slots[slot_of(client_id)];
    slot->client_id = client_id;
    slot->is_used = true;
    slot->is_present = is_present;
    slot->seq = is_present ? seq : 0;
    slot->status = is_present ? status : 0;
}
