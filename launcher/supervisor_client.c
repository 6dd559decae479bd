/*
 * The asking side of DIR/launcher.sock: connect, send one request line,
 * read one reply line, all under a deadline. Used by kill, start and down.
 * The launcher side is launcher/supervisor_io.c. Read launcher/cmd_client.c
 * next.
 */
#include "launcher/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/clock.h"
#include "common/invariant.h"

int supervisor_sock_addr(const struct cdir *d, struct sockaddr_un *out,
                         char errmsg[ERRMSG_LEN])
{
    memset(out, 0, sizeof(*out));
    out->sun_family = AF_UNIX;
    int n = snprintf(out->sun_path, sizeof(out->sun_path), "%s/launcher.sock",
                     d->path);
    if (n < 0 || (size_t)n >= sizeof(out->sun_path)) {
        snprintf(errmsg, ERRMSG_LEN,
                 "the path %.120s/launcher.sock is too long for a unix socket "
                 "(at most %zu bytes); use a shorter directory",
                 d->shown, sizeof(out->sun_path) - 1);
        return ERR_TOO_BIG;
    }
    return ERR_OK;
}

/* Waits for fd to be ready for events until deadline_ms. */
static bool wait_fd(int fd, short events, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now_ms = clock_now_ms();
        if (now_ms >= deadline_ms) {
            return false;
        }
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        int n = poll(&pfd, 1, (int)(deadline_ms - now_ms));
        if (n > 0) {
            return true;
        }
        if (n < 0 && errno != EINTR) {
            return false;
        }
    }
}

/* Reads until a newline, EOF or the deadline. */
static int read_line(int fd, char *reply, size_t cap, uint64_t deadline_ms,
                     char errmsg[ERRMSG_LEN])
{
    size_t len = 0;
    for (;;) {
        if (!wait_fd(fd, POLLIN, deadline_ms)) {
            snprintf(errmsg, ERRMSG_LEN, "the launcher did not answer in time");
            return ERR_TIMEOUT;
        }
        ssize_t n = recv(fd, reply + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        reply[len] = '\0';
        if (memchr(reply, '\n', len) != NULL || len >= cap - 1) {
            break;
        }
    }
    reply[len] = '\0';
    char *nl = strchr(reply, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
    if (len == 0) {
        snprintf(errmsg, ERRMSG_LEN, "the launcher closed the connection");
        return ERR_IO;
    }
    return ERR_OK;
}

int supervisor_request(const struct cdir *d, const char *line, char *reply,
                       size_t cap, uint32_t timeout_ms, char errmsg[ERRMSG_LEN])
{
    ASSERT(cap > 1);
    struct sockaddr_un sun;
    int rc = supervisor_sock_addr(d, &sun, errmsg);
    if (rc != ERR_OK) {
        return rc;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errmsg, ERRMSG_LEN, "socket: %s", strerror(errno));
        return ERR_IO;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "no launcher is listening on %s: %s",
                 sun.sun_path, strerror(errno));
        close(fd);
        return ERR_NOT_FOUND;
    }
    uint64_t deadline_ms = clock_now_ms() + timeout_ms;
    char out[300];
    int n = snprintf(out, sizeof(out), "%s\n", line);
    ASSERT(n > 0 && (size_t)n < sizeof(out));
    if (send(fd, out, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(errmsg, ERRMSG_LEN, "cannot talk to the launcher: %s",
                 strerror(errno));
        close(fd);
        return ERR_IO;
    }
    rc = read_line(fd, reply, cap, deadline_ms, errmsg);
    close(fd);
    return rc;
}
