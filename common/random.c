/*
 * Kernel randomness (common/random.h): getrandom(), retried on EINTR, with
 * /dev/urandom as the fallback for kernels without it. errno never leaks.
 * Read common/status_poll.h next.
 */
#include "common/random.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/types.h>

#include "common/err.h"

int random_bytes(void *out, size_t len)
{
    uint8_t *p = out;
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(p + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    if (got == len) {
        return ERR_OK;
    }
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return ERR_IO;
    }
    got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    return got == len ? ERR_OK : ERR_IO;
}
