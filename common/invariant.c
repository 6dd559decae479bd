/*
 * The failure path of ASSERT(). Pure apart from the final message: it formats
 * into a static buffer and hands it to the one write the core allows, through
 * invariant_write (set by the runtime; the default writes nothing and aborts).
 * Read common/rng.h next.
 */
#include "common/invariant.h"

#include <stdio.h>
#include <stdlib.h>

void (*invariant_write)(const char *msg) = 0;

void invariant_fail(const char *file, int line, const char *expr)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s:%d: assertion failed: %s\n", file, line,
             expr);
    if (invariant_write != 0) {
        invariant_write(buf);
    }
    abort();
}
