/*
 * For teeth builds only (compiled with RAFT_TEETH): sets the core's broken
 * rules from the RAFT_BUGS environment variable before main(), so one test
 * binary can be run once per broken rule.
 */
#include <stdlib.h>

#include "node/raft_bugs.h"

__attribute__((constructor)) static void teeth_env_init(void)
{
    const char *s = getenv("RAFT_BUGS");
    if (s != NULL) {
        raft_bugs = (unsigned)strtoul(s, NULL, 0);
    }
}
