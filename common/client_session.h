/*
 * Client sessions: put/get/del/cas requests to the cluster that find the
 * leader by themselves (leader hints, rotation on timeouts) and retry with
 * the same (client_id, seq) until an overall deadline, so a retried write
 * is applied once. A session is a small state machine driven by an
 * external poll loop (many sessions can share one loop and one socket, as
 * `raftctl bench` does); struct client wraps one session and a socket into
 * blocking calls. Status and fault queries are common/client_query.h. Read
 * common/client_session.c next.
 */
#ifndef RAFT_COMMON_CLIENT_SESSION_H
#define RAFT_COMMON_CLIENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/msg.h"
#include "common/outbox.h"
#include "common/types.h"
#include "common/wire.h"

/* Retry timing, in milliseconds. */
#define CLIENT_ATTEMPT_MS_MIN 150  /* First wait for one member's answer. */
#define CLIENT_ATTEMPT_MS_MAX 1000 /* Doubling stops here. */
#define CLIENT_BACKOFF_MS 30       /* Pause after "no leader known". */
#define CLIENT_SUSPECT_MS 600      /* A member that timed out is skipped. */

/* One request: borrowed pointers, valid until the request completes. */
struct client_request {
    uint8_t op; /* enum client_op */
    const uint8_t *key;
    uint32_t key_len;
    const uint8_t *value; /* PUT value, CAS new value. */
    uint32_t value_len;
    const uint8_t *expected; /* CAS only. */
    uint32_t expected_len;
};

enum client_state {
    CLIENT_STATE_IDLE = 0, /* No request, or the last one completed. */
    CLIENT_STATE_WAITING,  /* Sent to `target`, waiting for its reply. */
    CLIENT_STATE_BACKOFF   /* Pausing before the next send. */
};

/* The members as the client sees them. */
struct client_member {
    raft_id id;
    struct raft_addr addr;
    uint64_t suspect_until_ms; /* Timed out recently: skip until then. */
};

/* One client session: an id the cluster gave it (the log index of its
 * register entry; docs/SESSIONS.md) and a sequence number, one outstanding
 * request at a time. The socket is borrowed (shared is fine: replies are
 * matched by client_id and seq). */
struct client_session {
    uint64_t client_id;  /* On the wire now: session_id, or a random nonce
                          * while registering (and for reads before). */
    uint64_t seq;        /* Of the current (or last) request. */
    uint64_t session_id; /* 0: none yet (the next write registers). */
    bool is_registering; /* The current request waits for a session. */
    bool is_resumed;     /* client_session_resume: the next write may have
                          * been applied already. */
    uint64_t n_registers; /* Sessions this client registered. */
    uint64_t cluster_id;
    int fd;                /* Borrowed UDP socket. */
    struct outbox *outbox; /* Borrowed; when set, requests queue there
                               * (common/outbox.h) instead of going out at
                               * once, and the caller sends it. */
    uint32_t n_members;
    struct client_member members[RAFT_NODES_MAX];
    uint32_t leader; /* Index into members of the believed leader. */
    /* The current request. */
    int state; /* enum client_state */
    struct client_request req;
    uint32_t target;      /* Index into members. */
    uint64_t deadline_ms; /* Give up (ERR_TIMEOUT) at this time. */
    uint64_t next_ms;     /* Attempt timeout or end of backoff. */
    uint32_t attempt_ms;  /* Current attempt timeout (doubles). */
    uint32_t n_sends;     /* Datagrams sent for this request. */
    uint32_t n_hops;      /* Hints followed without a pause. */
    bool is_renewed;      /* Resent once in a new session after expiry. */
    uint64_t started_us;  /* For latency measurements. */
    uint32_t no_space_mask; /* Members (bit = index) that answered
                             * CLIENT_NO_SPACE to this request. */
    uint32_t n_no_space;    /* Sends answered CLIENT_NO_SPACE. */
    raft_id no_space_id;    /* The last member that did (0: none). */
    /* The outcome, valid once client_session_done() returns true. */
    int err;        /* ERR_OK: the cluster answered `status`. */
    uint8_t status; /* OK/NOT_FOUND/MISMATCH, or SESSION_EXPIRED: the
                     * write's outcome is unknown. */
    uint32_t value_len;
    uint8_t *value; /* Owned, RAFT_VALUE_MAX bytes: GET result. */
};

/* Sets up a session over conf's members (copied), with a fresh random
 * client_id, sending through fd (borrowed). Errors: ERR_NOMEM, ERR_INVALID
 * (a member address does not resolve; errmsg says which), ERR_IO (no
 * randomness). */
int client_session_init(struct client_session *s, const struct conf *conf,
                        int fd, char errmsg[ERRMSG_LEN]);
void client_session_close(struct client_session *s);

/* Sessions are registered through the log and bounded on the cluster
 * (docs/SESSIONS.md): the first write of a client without a session first
 * sends CLIENT_REGISTER (within the same timeout), then the write with
 * seq 1; later writes reuse the session. A write answered SESSION_EXPIRED
 * (the cluster evicted the session) drops it: a write sent only once (no
 * earlier attempt may have been applied) registers a new session and is
 * sent again in it, once; any other write completes with status
 * SESSION_EXPIRED. Reads need no session. Starts a request with a new seq and sends its first datagram. The request's
 * pointers are borrowed until it completes. Errors: ERR_TOO_BIG (key or value
 * over the limits; nothing sent), ERR_INVALID (bad op), ERR_AGAIN (a request
 * is still outstanding). */
int client_session_start(struct client_session *s,
                         const struct client_request *req, uint32_t timeout_ms,
                         uint64_t now_ms);

/* Reuses session id (for tests: raftctl's RAFTCTL_RESUME=ID:SEQ): the next
 * request goes out with seq, and a write answered SESSION_EXPIRED is not
 * sent again in a new session (it may be a retry of an applied one). */
void client_session_resume(struct client_session *s, uint64_t id,
                           uint64_t seq);

/* A member answering CLIENT_NO_SPACE (its disk is full) did not execute
 * the request; the session tries the others and completes with
 * ERR_NO_SPACE (status CLIENT_NO_SPACE, no_space_id the last such member)
 * once every member answered so. n_no_space == n_sends then means no
 * attempt can have been applied anywhere.
 *
 * Feeds a decoded MSG_CLIENT_REPLY from member `from` (the header's sender
 * id). Replies for other sessions or older
 * requests are ignored. May complete the request or send again. Returns true
 * when the reply was this session's. */
bool client_session_on_reply(struct client_session *s, raft_id from,
                             const struct msg_client_reply *reply,
                             uint64_t now_ms);

/* Call when now_ms has reached client_session_next_ms(): an attempt timed
 * out (try another member), a backoff ended (send again), or the overall
 * deadline passed (complete with ERR_TIMEOUT). */
void client_session_on_timeout(struct client_session *s, uint64_t now_ms);

/* When the session next needs client_session_on_timeout(); UINT64_MAX when
 * idle. */
uint64_t client_session_next_ms(const struct client_session *s);

/* True when no request is outstanding (the last one's outcome is in err,
 * status and value). */
bool client_session_done(const struct client_session *s);

/* A session plus its own socket and receive buffers, for blocking calls. */
struct client {
    int fd;
    struct client_session session;
    uint8_t *buf;                 /* Owned receive buffer. */
    struct wire_scratch *scratch; /* Owned decode scratch. */
};

/* Opens a socket and a session. Errors: as client_session_init, ERR_IO. */
int client_open(struct client *c, const struct conf *conf,
                char errmsg[ERRMSG_LEN]);
void client_close(struct client *c);

/* Runs one request to completion or timeout_ms. Returns ERR_OK when the
 * cluster answered: *status is CLIENT_OK, CLIENT_NOT_FOUND (GET absent),
 * CLIENT_CAS_MISMATCH or CLIENT_SESSION_EXPIRED (the session was evicted
 * after a write's earlier attempt: its outcome is unknown); a GET's value is in c->session.value/value_len.
 * Errors: ERR_TIMEOUT (no leader answered in time: a write's outcome is
 * unknown), ERR_TOO_BIG (key or value over the limits, nothing sent),
 * ERR_INVALID (the cluster refused the request as invalid), ERR_IO. */
int client_call(struct client *c, const struct client_request *req,
                uint32_t timeout_ms, uint8_t *status);

/* Hands each client reply in one received datagram (a MSG_CLIENT_REPLY, or
 * those inside a MSG_CLIENT_BATCH) to fn with the member that sent it;
 * anything else is ignored. Returns the number of replies handed over. */
uint32_t client_each_reply(const uint8_t *buf, size_t len, uint64_t cluster_id,
                           struct wire_scratch *scratch,
                           void (*fn)(void *ctx, raft_id from,
                                      const struct msg_client_reply *reply),
                           void *ctx);

/* Receives and dispatches every datagram waiting on a session socket shared
 * by sessions[0..n): client replies go to the session whose client_id they
 * name. Returns the number of replies matched. */
uint32_t client_drain(int fd, struct client_session *const *sessions,
                      uint32_t n, uint8_t *buf, struct wire_scratch *scratch,
                      uint64_t now_ms);

/* Checks a request against the protocol limits (inclusive: a 1024-byte key
 * and a 32768-byte value are fine). Errors: ERR_TOO_BIG with errmsg such as
 * "key is 1025 bytes; the limit is 1024", ERR_INVALID (empty key, bad op). */
int client_request_check(const struct client_request *req,
                         char errmsg[ERRMSG_LEN]);

#endif
