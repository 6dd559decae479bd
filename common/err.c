/*
 * The one table from error code to message. Pure: no I/O. Read
 * common/invariant.h next.
 */
#include "common/err.h"

const char *err_str(int code)
{
    static const char *const msgs[ERR__COUNT] = {
        [ERR_OK] = "ok",
        [ERR_NOMEM] = "out of memory",
        [ERR_TOO_BIG] = "too big",
        [ERR_MALFORMED] = "malformed",
        [ERR_WRONG_CLUSTER] = "belongs to another cluster",
        [ERR_WRONG_VERSION] = "unknown version",
        [ERR_NOT_LEADER] = "not the leader",
        [ERR_NOT_FOUND] = "not found",
        [ERR_INVALID] = "invalid argument",
        [ERR_IO] = "i/o error",
        [ERR_CORRUPT] = "corrupt",
        [ERR_BUSY] = "busy",
        [ERR_TIMEOUT] = "timed out",
        [ERR_FOREIGN] = "belongs to another node",
        [ERR_AGAIN] = "try again",
        [ERR_STOPPED] = "stopped",
        [ERR_DAMAGED] = "damaged data (checksum mismatch)",
        [ERR_NO_SPACE] = "no space left on device",
    };
    if (code < 0 || code >= ERR__COUNT || msgs[code] == 0) {
        return "unknown error";
    }
    return msgs[code];
}
