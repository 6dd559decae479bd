/*
 * Error codes: every fallible function returns 0 (ERR_OK) or a positive
 * ERR_* code, and err_str() gives the one message for it. Boundaries also
 * fill a caller's errmsg[ERRMSG_LEN] with context. Read common/err.c next.
 */
#ifndef RAFT_COMMON_ERR_H
#define RAFT_COMMON_ERR_H

#define ERRMSG_LEN 256

enum err {
    ERR_OK = 0,
    ERR_NOMEM,         /* Out of memory. */
    ERR_TOO_BIG,       /* Does not fit the buffer or a limit. */
    ERR_MALFORMED,     /* Bytes that do not decode. */
    ERR_WRONG_CLUSTER, /* Message or database of another cluster. */
    ERR_WRONG_VERSION, /* Unknown protocol or schema version. */
    ERR_NOT_LEADER,    /* Only the leader may do this. */
    ERR_NOT_FOUND,     /* Absent key, file, member. */
    ERR_INVALID,       /* Invalid argument or configuration. */
    ERR_IO,            /* A system call failed. */
    ERR_CORRUPT,       /* Stored state is damaged or inconsistent. */
    ERR_BUSY,          /* Resource in use (port, database lock). */
    ERR_TIMEOUT,       /* No answer in time. */
    ERR_FOREIGN,       /* Belongs to another node. */
    ERR_AGAIN,         /* Try again later (queue full, no leader yet). */
    ERR_STOPPED,       /* The node has stopped after a fatal error. */
    ERR_DAMAGED,       /* A stored row fails its checksum. */
    ERR_NO_SPACE,      /* The disk is full (ENOSPC, SQLITE_FULL). */
    ERR__COUNT
};

/* Returns a static, human-readable message for code (never NULL). */
const char *err_str(int code);

#endif
