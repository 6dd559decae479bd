/*
 * The trace ring and hash (see sim_trace.h). Not part of the simulated code:
 * it may print, but nothing it does feeds back into the run.
 */
#include "tests/sim/sim_trace.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/invariant.h"

uint64_t sim_fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t sim_fnv_u64(uint64_t h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return sim_fnv(h, b, sizeof b);
}

int sim_trace_init(struct sim_trace *t, uint32_t n_ring, FILE *echo)
{
    ASSERT(t != NULL);
    ASSERT(n_ring > 0);
    memset(t, 0, sizeof *t);
    t->ring = calloc(n_ring, SIM_TRACE_LINE_MAX);
    if (t->ring == NULL) {
        return ERR_NOMEM;
    }
    t->n_ring = n_ring;
    t->hash = SIM_FNV_INIT;
    t->echo = echo;
    return ERR_OK;
}

void sim_trace_close(struct sim_trace *t)
{
    free(t->ring);
    t->ring = NULL;
}

void sim_trace_add(struct sim_trace *t, const char *line)
{
    ASSERT(t->ring != NULL);
    char *slot = t->ring + (t->n_lines % t->n_ring) * SIM_TRACE_LINE_MAX;
    size_t len = strlen(line);
    if (len > SIM_TRACE_LINE_MAX - 1) {
        len = SIM_TRACE_LINE_MAX - 1;
    }
    memcpy(slot, line, len);
    slot[len] = '\0';
    t->hash = sim_fnv(t->hash, slot, len);
    t->hash = sim_fnv(t->hash, "\n", 1);
    t->n_lines++;
    if (t->echo != NULL) {
        fprintf(t->echo, "%s\n", slot);
    }
}

void sim_trace_dump(const struct sim_trace *t, FILE *out, uint32_t max)
{
    uint64_t n = t->n_lines < t->n_ring ? t->n_lines : t->n_ring;
    if (n > max) {
        n = max;
    }
    for (uint64_t i = t->n_lines - n; i < t->n_lines; i++) {
        fprintf(out, "%s\n", t->ring + (i % t->n_ring) * SIM_TRACE_LINE_MAX);
    }
}
