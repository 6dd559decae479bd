/*
 * UDP socket helpers (anet style): resolve, open and bind non-blocking
 * sockets with large kernel buffers, send and receive one datagram. errno
 * never leaks past this file: it becomes an ERR_* code and, at the
 * boundaries, a message with the address in the caller's errmsg. Node
 * sockets never set SO_REUSEADDR, so a second node on a busy port fails.
 * Read common/outbox.h next.
 */
#include "common/udp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/log.h"

#define UDP_BUF_BYTES (4 * 1024 * 1024)

/* The address token holds a sockaddr_in or sockaddr_in6. */
_Static_assert(sizeof(struct sockaddr_in6) <=
                   sizeof(((struct raft_addr *)0)->bytes),
               "raft_addr too small for sockaddr_in6");

static void addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                               struct raft_addr *out)
{
    memset(out, 0, sizeof *out);
    if (len > sizeof out->bytes) {
        len = sizeof out->bytes;
    }
    memcpy(out->bytes, sa, len);
    out->len = (uint32_t)len;
}

static int addr_family(const struct raft_addr *a)
{
    if (a->len < sizeof(sa_family_t)) {
        return AF_UNSPEC;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, a->bytes, a->len);
    return ss.ss_family;
}

int udp_resolve(const char *host, uint16_t port, struct raft_addr *out,
                char errmsg[ERRMSG_LEN])
{
    char name[256];
    size_t n = strlen(host);
    /* Accept "[::1]" as well as "::1". */
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof name) {
        snprintf(errmsg, ERRMSG_LEN, "invalid host name");
        return ERR_INVALID;
    }
    memcpy(name, host, n);
    name[n] = '\0';
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    int rv = getaddrinfo(name, service, &hints, &res);
    if (rv != 0) {
        snprintf(errmsg, ERRMSG_LEN, "%.200s: %s", name, gai_strerror(rv));
        return (rv == EAI_NONAME || rv == EAI_NODATA || rv == EAI_FAIL)
                   ? ERR_NOT_FOUND
                   : ERR_INVALID;
    }
    const struct addrinfo *ai = res;
    while (ai != NULL && ai->ai_family != AF_INET &&
           ai->ai_family != AF_INET6) {
        ai = ai->ai_next;
    }
    if (ai == NULL) {
        freeaddrinfo(res);
        snprintf(errmsg, ERRMSG_LEN, "%.200s: no IPv4 or IPv6 address", name);
        return ERR_NOT_FOUND;
    }
    addr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, out);
    freeaddrinfo(res);
    return ERR_OK;
}

int udp_resolve_members(const struct conf *conf, struct raft_addr *addrs,
                        char errmsg[ERRMSG_LEN])
{
    for (uint32_t i = 0; i < conf->n_members; i++) {
        const struct conf_member *m = &conf->members[i];
        char inner[ERRMSG_LEN] = "";
        if (udp_resolve(m->host, m->port, &addrs[i], inner) != ERR_OK) {
            snprintf(errmsg, ERRMSG_LEN, "member %llu (%s:%u): %s",
                     (unsigned long long)m->id, m->host, (unsigned)m->port,
                     inner);
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

/* Large buffers let a leader's pipelined batches and a burst of client
 * requests queue in the kernel instead of being dropped. Best effort: the
 * kernel caps them at net.core.[rw]mem_max. */
static void set_buffers(int fd)
{
    int bytes = UDP_BUF_BYTES;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

/* Opens a socket of family and binds it to sa. */
static int open_bound(int family, const struct sockaddr *sa, socklen_t len,
                      int *fd, char errmsg[ERRMSG_LEN])
{
    char where[64];
    struct raft_addr a;
    addr_from_sockaddr(sa, len, &a);
    udp_addr_format(&a, where, sizeof where);

    int s = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(errmsg, ERRMSG_LEN, "%.64s: socket: %s", where,
                 strerror(errno));
        return ERR_IO;
    }
    set_buffers(s);
    if (bind(s, sa, len) != 0) {
        int e = errno;
        close(s);
        if (e == EADDRINUSE) {
            snprintf(errmsg, ERRMSG_LEN, "%s: address already in use", where);
            return ERR_BUSY;
        }
        snprintf(errmsg, ERRMSG_LEN, "%.64s: bind: %s", where, strerror(e));
        return ERR_IO;
    }
    *fd = s;
    return ERR_OK;
}

int udp_open(const struct raft_addr *addr, int *fd, char errmsg[ERRMSG_LEN])
{
    if (addr != NULL) {
        int family = addr_family(addr);
        if (family != AF_INET && family != AF_INET6) {
            snprintf(errmsg, ERRMSG_LEN, "not an IPv4 or IPv6 address");
            return ERR_INVALID;
        }
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, addr->bytes, addr->len);
        return open_bound(family, (const struct sockaddr *)&ss,
                          (socklen_t)addr->len, fd, errmsg);
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    return open_bound(AF_INET, (const struct sockaddr *)&sin, sizeof sin, fd,
                      errmsg);
}

int udp_open_client(const struct raft_addr *peer, int *fd,
                    char errmsg[ERRMSG_LEN])
{
    /* Any local address and port of the peer's family, so a client can
     * reach remote hosts as well as loopback. */
    if (addr_family(peer) == AF_INET6) {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_addr = in6addr_any;
        return open_bound(AF_INET6, (const struct sockaddr *)&sin6, sizeof sin6,
                          fd, errmsg);
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    return open_bound(AF_INET, (const struct sockaddr *)&sin, sizeof sin, fd,
                      errmsg);
}

void udp_close(int fd)
{
    if (fd >= 0) {
        (void)close(fd);
    }
}

static size_t g_max_datagram; /* 0: RAFT_DATAGRAM_MAX. */
static uint64_t g_oversize;

void udp_set_max_datagram(size_t n)
{
    g_max_datagram = n < RAFT_DATAGRAM_MAX ? n : 0;
}

size_t udp_max_datagram(void)
{
    return g_max_datagram != 0 ? g_max_datagram : RAFT_DATAGRAM_MAX;
}

uint64_t udp_oversize_sent(void)
{
    return g_oversize;
}

/* A datagram over --max-datagram: counted; logged the first times and
 * then every 1000th. */
static void note_oversize(size_t total)
{
    g_oversize++;
    if (g_oversize <= 10 || g_oversize % 1000 == 0) {
        LOG_WARN("sent a %zu-byte datagram, over --max-datagram %zu (%llu "
                 "so far): the path may fragment it",
                 total, g_max_datagram, (unsigned long long)g_oversize);
    }
}

int udp_send(int fd, const struct raft_addr *to, const uint8_t *buf, size_t len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (to->len == 0 || to->len > sizeof to->bytes) {
        return ERR_INVALID;
    }
    memcpy(&ss, to->bytes, to->len);
    /* With keys held, the tag envelope goes in front (common/auth.h). */
    uint8_t hdr[AUTH_HEADER_BYTES];
    struct iovec iov[2];
    int n_iov = 0;
    if (auth_enabled()) {
        if (len + AUTH_HEADER_BYTES > RAFT_DATAGRAM_MAX) {
            return ERR_TOO_BIG;
        }
        if (!auth_seal(hdr, buf, len, to)) {
            return ERR_INVALID; /* No key of the class this type needs. */
        }
        iov[n_iov++] = (struct iovec){.iov_base = hdr, .iov_len = sizeof hdr};
    }
    iov[n_iov++] = (struct iovec){.iov_base = (void *)buf, .iov_len = len};
    size_t total = len + (n_iov == 2 ? AUTH_HEADER_BYTES : 0);
    if (g_max_datagram != 0 && total > g_max_datagram) {
        note_oversize(total);
    }
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &ss;
    mh.msg_namelen = (socklen_t)to->len;
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)n_iov;
    for (int attempt = 0; attempt < 16; attempt++) {
        ssize_t n = sendmsg(fd, &mh, MSG_DONTWAIT);
        if (n >= 0) {
            return ERR_OK;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
            errno == ECONNREFUSED) {
            return ERR_AGAIN;
        }
        return ERR_IO;
    }
    return ERR_AGAIN;
}

/* How many refused datagrams one udp_recv call skips before it returns
 * ERR_AGAIN, so a flood cannot hold its caller. */
#define UDP_SKIP_MAX 64

int udp_recv(int fd, uint8_t *buf, size_t cap, size_t *len,
             struct raft_addr *from)
{
    bool tagged = auth_enabled();
    uint8_t hdr[AUTH_HEADER_BYTES];
    int skipped = 0;
    for (int attempt = 0; attempt < 16 && skipped < UDP_SKIP_MAX; attempt++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        struct iovec iov[2];
        int n_iov = 0;
        if (tagged) {
            iov[n_iov++] =
                (struct iovec){.iov_base = hdr, .iov_len = sizeof hdr};
        }
        iov[n_iov++] = (struct iovec){.iov_base = buf, .iov_len = cap};
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_name = &ss;
        mh.msg_namelen = sizeof ss;
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)n_iov;
        /* MSG_TRUNC: the return value is the datagram's real length. */
        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* ECONNREFUSED: an ICMP error for an earlier send; harmless. */
            if (errno == ECONNREFUSED) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return ERR_AGAIN;
            }
            return ERR_IO;
        }
        addr_from_sockaddr((const struct sockaddr *)&ss, mh.msg_namelen, from);
        size_t body = (size_t)n;
        if (tagged) {
            if (body < AUTH_HEADER_BYTES) {
                auth_count_drop(AUTH_DROP_BAD_TAG);
                attempt = 0;
                skipped++;
                continue;
            }
            body -= AUTH_HEADER_BYTES;
        }
        if (body > cap) {
            return ERR_TOO_BIG;
        }
        /* The tag is checked before any byte of the message is read. */
        if (tagged && !auth_open(hdr, buf, body, from)) {
            attempt = 0;
            skipped++;
            continue;
        }
        *len = body;
        return ERR_OK;
    }
    return ERR_AGAIN;
}

/* The address as IPv6 (IPv4 mapped into ::ffff:0:0/96) and port, so an
 * IPv4 peer seen on a dual-stack socket compares equal to its v4 form. */
static bool addr_normalize(const struct raft_addr *a, struct in6_addr *ip,
                           uint16_t *port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (a->len > sizeof a->bytes) {
        return false;
    }
    memcpy(&ss, a->bytes, a->len);
    if (ss.ss_family == AF_INET && a->len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        memset(ip, 0, sizeof *ip);
        ip->s6_addr[10] = 0xff;
        ip->s6_addr[11] = 0xff;
        memcpy(&ip->s6_addr[12], &sin->sin_addr, 4);
        *port = ntohs(sin->sin_port);
        return true;
    }
    if (ss.ss_family == AF_INET6 && a->len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
        *ip = sin6->sin6_addr;
        *port = ntohs(sin6->sin6_port);
        return true;
    }
    return false;
}

bool udp_addr_equal(const struct raft_addr *a, const struct raft_addr *b)
{
    struct in6_addr ia, ib;
    uint16_t pa = 0, pb = 0;
    if (!addr_normalize(a, &ia, &pa) || !addr_normalize(b, &ib, &pb)) {
        return false;
    }
    return pa == pb && memcmp(&ia, &ib, sizeof ia) == 0;
}

void udp_addr_format(const struct raft_addr *a, char *buf, size_t cap)
{
    if (cap == 0) {
        return;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    char ip[INET6_ADDRSTRLEN];
    if (a->len <= sizeof a->bytes) {
        memcpy(&ss, a->bytes, a->len);
    }
    if (ss.ss_family == AF_INET && a->len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip) != NULL) {
            snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
            return;
        }
    } else if (ss.ss_family == AF_INET6 &&
               a->len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip) != NULL) {
            snprintf(buf, cap, "[%s]:%u", ip, (unsigned)ntohs(sin6->sin6_port));
            return;
        }
    }
    snprintf(buf, cap, "?");
}

bool udp_addr_is_loopback(const struct raft_addr *a)
{
    struct in6_addr ip;
    uint16_t port = 0;
    if (!addr_normalize(a, &ip, &port)) {
        return false;
    }
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(ip.s6_addr, v4_mapped, sizeof v4_mapped) == 0) {
        return ip.s6_addr[12] == 127;
    }
    return IN6_IS_ADDR_LOOPBACK(&ip);
}

bool udp_wait_readable(int fd, uint64_t until_ms)
{
    uint64_t now_ms = clock_now_ms();
    int wait_ms = 0;
    if (until_ms > now_ms) {
        wait_ms = until_ms - now_ms > 1000 ? 1000 : (int)(until_ms - now_ms);
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
    int n = poll(&pfd, 1, wait_ms);
    return n > 0 && (pfd.revents & (POLLIN | POLLERR)) != 0;
}
