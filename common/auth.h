/*
 * Keyed tags on every datagram (DESIGN.md, Authentication and files).
 * common/udp.c seals each datagram it sends and opens each it receives
 * through this module: a 46-byte envelope in front of the msgpack message,
 *   [0xA5 version][key class][sender id u64][epoch u64][counter u64]
 *   [sent u32][tag 16 bytes]   (integers big-endian)
 * where the tag is a keyed BLAKE2b (libsodium crypto_generichash, 32-byte
 * key, 16-byte output) over the first 30 envelope bytes and the whole
 * message. A datagram whose tag does not verify under a key the process
 * holds is dropped and counted before any other byte of it is read. Key
 * classes: cluster.key (members and the operator: everything) and
 * client.key (clients: client and status requests and their replies).
 * Replay: the epoch names one run of the sender (its start in wall-clock
 * ms in the high bits, random low bits), the counter numbers its
 * datagrams, `sent` is the ms since the epoch's start. A receiver keeps a
 * 1,024-entry window per member id (cluster-key datagrams of a member)
 * and per epoch (everyone else), and opens a window only for a datagram
 * sent after the newest moment it cannot vouch for: its own start (a
 * member), or the last datagram of a window it evicted, kept apart for
 * member windows and per home bucket of the epoch table, so clients'
 * churn never holds members out. docs/AUTH.md says why. A process that loaded no key (unit tests, raftnode --insecure)
 * sends and accepts bare messages. Read common/auth.c next.
 */
#ifndef RAFT_COMMON_AUTH_H
#define RAFT_COMMON_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/types.h"

#define AUTH_KEY_BYTES 32
#define AUTH_TAG_BYTES 16
#define AUTH_HEADER_BYTES 46
#define AUTH_WINDOW 1024
/* Datagrams stamped further ahead of the receiver's clock are refused. */
#define AUTH_FUTURE_MS 60000
#define AUTH_KEYS_PER_FILE 2

enum auth_class { AUTH_CLUSTER = 0, AUTH_CLIENT = 1, AUTH__CLASSES };

/* Who this process is: a node replies with the key of the request; a
 * client sends client and status requests with the client key. */
enum auth_role { AUTH_ROLE_CLIENT = 0, AUTH_ROLE_NODE };

/* Why udp_recv refused a datagram; counted in auth_drops(). */
enum auth_drop {
    AUTH_DROP_BAD_TAG = 0,     /* No envelope, or no held key verifies. */
    AUTH_DROP_REPLAY,          /* Seen already, or older than the window. */
    AUTH_DROP_WRONG_KEY_TYPE,  /* Client key on a peer/fault/admin type. */
    AUTH_DROP__COUNT
};

struct auth_window {
    uint64_t id;    /* Member id (member windows), else 0. */
    uint64_t epoch; /* 0: an empty slot. */
    uint64_t top;   /* Highest counter seen. */
    uint64_t bits[AUTH_WINDOW / 64];
    uint64_t used;      /* Last use, for eviction. */
    uint64_t newest_ms; /* Latest send time seen (sender's clock). */
};

/* What the envelope says about its sender, once the tag verified. */
struct auth_stamp {
    uint8_t cls;      /* enum auth_class */
    uint64_t sender;  /* Member id, or 0 (clients, the operator). */
    uint64_t epoch;   /* Wall-clock ms of the run's start << 16 | random. */
    uint64_t counter; /* 1, 2, ... within the epoch. */
    uint64_t sent_ms; /* Wall-clock ms the datagram was sent at. */
};

/* Window check for counter c (pure, for unit tests): true and marked when
 * new; false when seen or older than top - AUTH_WINDOW + 1. */
bool auth_window_check(struct auth_window *w, uint64_t counter);

/* The replay rules over one verified stamp at receiver time now_ms (ms of
 * the wall clock): true and recorded when the datagram is new. Pure apart
 * from the process-wide windows; unit tests call it directly. */
bool auth_replay_check(const struct auth_stamp *st, uint64_t now_ms);
/* Forgets every window as a receiver (re)started at now_ms would: a node
 * then opens windows only for datagrams sent after now_ms. Tests. */
void auth_replay_restart(uint64_t now_ms);
/* The home bucket of an epoch's window: where its probes start, and
 * whose horizon it is checked against (tests pick epochs by it). */
uint32_t auth_epoch_bucket(uint64_t epoch);
/* This process's member id, stamped on what it sends (0: not a member). */
void auth_set_sender(uint64_t id);

/* Reads a key file of one or two 64-hex-digit lines. Refuses a file that
 * is missing, malformed, or readable or writable by group or others, with
 * one line naming the file and the fix in errmsg. */
int auth_read_key_file(const char *path, uint8_t keys[][AUTH_KEY_BYTES],
                       uint32_t *n_keys, char errmsg[ERRMSG_LEN]);
/* Creates a key file of one random key, mode 0600 (O_EXCL). */
int auth_create_key_file(const char *path, char errmsg[ERRMSG_LEN]);
/* Creates DIR/cluster.key and DIR/client.key when neither exists. */
int auth_create_keys(const char *dir, char errmsg[ERRMSG_LEN]);

/* Loads DIR/cluster.key (unless client_only) and DIR/client.key (optional
 * for a node: a cluster without it has no clients but the operator) and
 * turns tags on for this process. */
int auth_load_dir(const char *dir, enum auth_role role, bool client_only,
                  char errmsg[ERRMSG_LEN]);
/* Loads the key files auth_load_dir read again when one of them changed
 * (rotation, docs/AUTH.md), for a process that outlives a rotation (the
 * launcher). ERR_OK when nothing changed (*reloaded false) or the new
 * keys are in use (*reloaded true); otherwise the old keys stay and
 * errmsg says why. */
int auth_refresh(bool *reloaded, char errmsg[ERRMSG_LEN]);
/* auth_load_dir on the directory of a cluster.conf path. */
int auth_load_beside(const char *config_path, enum auth_role role,
                     bool client_only, char errmsg[ERRMSG_LEN]);
/* Adds keys of one class directly (tests). Turns tags on. */
void auth_set_keys(enum auth_class c, const uint8_t keys[][AUTH_KEY_BYTES],
                   uint32_t n_keys, enum auth_role role);
/* Sends every datagram with class c (tests: a client key on a peer
 * type); -1 restores the rule by type and role. */
void auth_force_class(int c);
/* Forgets every key: bare datagrams again (tests). */
void auth_reset(void);
bool auth_enabled(void);
/* True when a key of class c is held. */
bool auth_holds(enum auth_class c);

/* Tags msg (len bytes) for `to` into hdr. Returns false when no key of
 * the needed class is held (the datagram is then not sent). */
bool auth_seal(uint8_t hdr[AUTH_HEADER_BYTES], const uint8_t *msg, size_t len,
               const struct raft_addr *to);
/* Verifies hdr over msg from `from`: true, or false with the drop counted. */
bool auth_open(const uint8_t hdr[AUTH_HEADER_BYTES], const uint8_t *msg,
               size_t len, const struct raft_addr *from);

/* Datagrams this process refused, by reason. */
uint64_t auth_drops(enum auth_drop reason);
void auth_count_drop(enum auth_drop reason);

#endif
