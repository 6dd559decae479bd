/*
 * UDP socket helpers for raftnode and raftctl: resolve "HOST:PORT", open and
 * bind a non-blocking socket, send and receive one datagram. System errors
 * become ERR_* codes with errno text in the caller's errmsg (anet style);
 * errno never leaks past this file. struct raft_addr carries the sockaddr.
 * Read common/udp.c next.
 */
#ifndef RAFT_COMMON_UDP_H
#define RAFT_COMMON_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/types.h"

/* Resolves host (name or literal, IPv4 or IPv6) and port into *out.
 * Errors: ERR_NOT_FOUND (no such host), ERR_INVALID. */
int udp_resolve(const char *host, uint16_t port, struct raft_addr *out,
                char errmsg[ERRMSG_LEN]);

/* Resolves every member of conf into addrs[i]. Errors: ERR_INVALID, with
 * errmsg naming the member ("member 3 (db3:7003): ..."). */
int udp_resolve_members(const struct conf *conf, struct raft_addr *addrs,
                        char errmsg[ERRMSG_LEN]);

/* A non-blocking socket bound to addr (port 0 with a NULL addr: any free
 * loopback port, for clients). Errors: ERR_BUSY (address in use), ERR_IO. */
int udp_open(const struct raft_addr *addr, int *fd, char errmsg[ERRMSG_LEN]);
/* Like udp_open with NULL but for the address family of `peer`. */
int udp_open_client(const struct raft_addr *peer, int *fd,
                    char errmsg[ERRMSG_LEN]);
void udp_close(int fd);

/* Sends one datagram. Errors: ERR_AGAIN (buffer full), ERR_IO. */
/* --max-datagram (docs/HOSTS.md): datagrams this process means to keep
 * within n bytes (tag envelope included; 0: RAFT_DATAGRAM_MAX). udp_send
 * still sends a larger one (the path may fragment it) but counts it and
 * logs a warning, so a datagram the sizing missed is never silent. */
void udp_set_max_datagram(size_t n);
size_t udp_max_datagram(void);
/* Datagrams sent over the cap. */
uint64_t udp_oversize_sent(void);

int udp_send(int fd, const struct raft_addr *to, const uint8_t *buf,
             size_t len);

/* Receives one datagram into buf (cap). Errors: ERR_AGAIN (nothing more),
 * ERR_IO. A datagram longer than cap is reported ERR_TOO_BIG and dropped. */
int udp_recv(int fd, uint8_t *buf, size_t cap, size_t *len,
             struct raft_addr *from);

/* Waits until fd is readable or the monotonic clock reaches until_ms
 * (at most a second per call). Returns true when readable; an interrupted
 * wait returns false, and the caller re-checks its clock. */
bool udp_wait_readable(int fd, uint64_t until_ms);

/* Same address (family, ip, port)? */
bool udp_addr_equal(const struct raft_addr *a, const struct raft_addr *b);
/* "127.0.0.1:7001" into buf. */
void udp_addr_format(const struct raft_addr *a, char *buf, size_t cap);
/* True for 127.0.0.0/8 and ::1. */
bool udp_addr_is_loopback(const struct raft_addr *a);

#endif
