/*
 * The snapshot image: the byte stream that carries a member's applied state
 * (kv, sessions, evicted sessions, configuration) at one (index, term), as
 * a file on disk and, cut by offsets, in InstallSnapshot chunks. This is
 * its codec, and the 64-bit checksum that seals it. Pure: no I/O, no clock,
 * no allocation. Read storage/snapshot_make.c (producing) and
 * storage/store_snapshot.c (installing) next.
 *
 * Layout (every integer little-endian, fixed width):
 *
 *   header   0  magic "RAFTSNAP" (8 bytes)
 *            8  u32 version (SNAPSHOT_IMAGE_VERSION)
 *           12  u32 config_len (<= SNAPSHOT_CONFIG_MAX)
 *           16  u64 index (>= 1)   the last log index the state includes
 *           24  u64 term (>= 1)    that entry's term
 *           32  u64 n_kv
 *           40  u64 n_sessions
 *           48  u64 n_evicted
 *           56  config_len bytes   the configuration at index, as text
 *   n_kv records        u16 key_len (1..RAFT_KEY_MAX)
 *                       u32 value_len (<= RAFT_VALUE_MAX), key, value
 *   n_sessions records  u64 client_id, u64 seq, u64 last_index, u8 status
 *   n_evicted records   u64 client_id, u64 evicted_index
 *   trailer             u64 checksum: snapshot_hash of every byte before it
 *
 * A reader verifies the checksum over the whole image before it trusts any
 * length in it, then walks the records checking each against the bytes
 * left; the last record must end exactly at the trailer.
 */
#ifndef RAFT_COMMON_SNAPSHOT_IMAGE_H
#define RAFT_COMMON_SNAPSHOT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/types.h"

#define SNAPSHOT_IMAGE_VERSION 1
#define SNAPSHOT_IMAGE_HEADER_SIZE 56 /* Fixed part; the config follows. */
#define SNAPSHOT_IMAGE_TRAILER_SIZE 8
#define SNAPSHOT_CONFIG_MAX 16384
#define SNAPSHOT_KV_OVERHEAD 6   /* u16 + u32 before key and value. */
#define SNAPSHOT_SESSION_SIZE 25 /* One session record. */
#define SNAPSHOT_EVICTED_SIZE 16 /* One evicted-session record. */
#define SNAPSHOT_KV_MAX_SIZE                                                   \
    (SNAPSHOT_KV_OVERHEAD + RAFT_KEY_MAX + RAFT_VALUE_MAX)

struct snapshot_image_header {
    raft_index index;
    raft_term term;
    uint64_t n_kv;
    uint64_t n_sessions;
    uint64_t n_evicted;
    uint32_t config_len;
    const uint8_t *config; /* Borrowed (encode: from the caller; decode:
                            * from the image buffer). */
};

/* One client session (thesis 6.3) as the sessions table holds it. */
struct snapshot_image_session {
    uint64_t client_id;
    uint64_t seq;
    raft_index last_index; /* The log index that last touched it. */
    uint8_t status;
};

/* A client whose session was evicted, and the log index that evicted it. */
struct snapshot_image_evicted {
    uint64_t client_id;
    raft_index index;
};

enum snapshot_image_rec {
    SNAPSHOT_REC_END = 0, /* Every record read; the trailer follows. */
    SNAPSHOT_REC_KV,
    SNAPSHOT_REC_SESSION,
    SNAPSHOT_REC_EVICTED
};

/* One decoded record; key and value borrow from the image buffer. */
struct snapshot_image_record {
    int type; /* enum snapshot_image_rec */
    uint32_t key_len;
    const uint8_t *key;
    uint32_t value_len;
    const uint8_t *value;
    struct snapshot_image_session session;
    struct snapshot_image_evicted evicted;
};

/* A streaming XXH64-style hash (seed 0): update with any split of the
 * bytes gives the same final value. */
struct snapshot_hash {
    uint64_t acc[4];
    uint64_t total;
    uint8_t buf[32];
    uint32_t buf_len;
};

void snapshot_hash_init(struct snapshot_hash *h);
void snapshot_hash_update(struct snapshot_hash *h, const uint8_t *bytes,
                          size_t len);
uint64_t snapshot_hash_final(const struct snapshot_hash *h);

/* Bytes the header takes: SNAPSHOT_IMAGE_HEADER_SIZE + config_len. */
size_t snapshot_image_header_size(const struct snapshot_image_header *h);

/* Each encoder writes one part into buf (capacity cap) and sets *len.
 * Errors: ERR_INVALID (index or term 0, config over SNAPSHOT_CONFIG_MAX,
 * key empty or over RAFT_KEY_MAX, value over RAFT_VALUE_MAX),
 * ERR_TOO_BIG (cap too small; nothing written). */
int snapshot_image_encode_header(const struct snapshot_image_header *h,
                                 uint8_t *buf, size_t cap, size_t *len);
int snapshot_image_encode_kv(const uint8_t *key, uint32_t key_len,
                             const uint8_t *value, uint32_t value_len,
                             uint8_t *buf, size_t cap, size_t *len);
int snapshot_image_encode_session(const struct snapshot_image_session *s,
                                  uint8_t *buf, size_t cap, size_t *len);
int snapshot_image_encode_evicted(const struct snapshot_image_evicted *e,
                                  uint8_t *buf, size_t cap, size_t *len);
/* The trailer: the final hash of every byte written before it. */
void snapshot_image_encode_trailer(uint64_t checksum,
                                   uint8_t buf[SNAPSHOT_IMAGE_TRAILER_SIZE]);

/* Walks a whole image held in memory (buf borrowed for the reader's life). */
struct snapshot_image_reader {
    const uint8_t *buf;
    size_t end; /* Where the trailer starts. */
    size_t off;
    struct snapshot_image_header header;
    uint64_t left_kv;
    uint64_t left_sessions;
    uint64_t left_evicted;
};

/* Checks the trailer's checksum over buf[0, len - 8), then the header.
 * Errors: ERR_MALFORMED (shorter than a header and trailer, bad magic, a
 * length or count that cannot fit), ERR_CORRUPT (checksum mismatch),
 * ERR_WRONG_VERSION. */
int snapshot_image_open(struct snapshot_image_reader *r, const uint8_t *buf,
                        size_t len);

/* The next record, in image order; SNAPSHOT_REC_END once all are read
 * (and only if the last one ended exactly at the trailer).
 * Errors: ERR_MALFORMED (a length past the end, a key or value over its
 * limit, bytes left over). */
int snapshot_image_next(struct snapshot_image_reader *r,
                        struct snapshot_image_record *rec);

/* snapshot_image_open, then every record: the whole image is well formed.
 * *out (config borrowed from buf) is written only on success. Errors:
 * those of open and next. */
int snapshot_image_check(const uint8_t *buf, size_t len,
                         struct snapshot_image_header *out);

#endif
