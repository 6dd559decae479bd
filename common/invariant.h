/*
 * ASSERT() and UNREACHABLE(): always compiled, in every build type (NDEBUG is
 * ignored on purpose). They print file:line and the expression, then abort.
 * Never assert on data from the network, the disk or the command line.
 * Read common/invariant.c next.
 */
#ifndef RAFT_COMMON_INVARIANT_H
#define RAFT_COMMON_INVARIANT_H

void invariant_fail(const char *file, int line, const char *expr)
    __attribute__((noreturn));

#define ASSERT(expr)                                                           \
    do {                                                                       \
        if (!(expr)) {                                                         \
            invariant_fail(__FILE__, __LINE__, #expr);                         \
        }                                                                      \
    } while (0)

#define UNREACHABLE() invariant_fail(__FILE__, __LINE__, "unreachable")

#endif
