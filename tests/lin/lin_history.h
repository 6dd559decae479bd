/*
 * A client history for the linearizability checker: one operation per line
 * of text, with its invoke and return times, parsed into compact records
 * whose keys and values are interned to small integers. Parsing never
 * trusts its input: every line is validated and bounded. Read
 * tests/lin/lin_history.c next, then tests/lin/lin.h for the search.
 *
 * The text format (version 1), whitespace-separated tokens:
 *
 *   # comment (also after the tokens of a line)
 *   PROC CALL_US RET_US put KEY VALUE   ok|unknown
 *   PROC CALL_US RET_US del KEY         ok|unknown
 *   PROC CALL_US RET_US cas KEY OLD NEW ok|fail|unknown
 *   PROC CALL_US RET_US get KEY         ok VALUE | absent | unknown
 *
 * PROC is a client number, CALL_US and RET_US are microseconds of one
 * monotonic clock (RET_US is '-' when the outcome is unknown), "fail" is a
 * CAS whose expected value did not match (or the key was absent). A token is
 * 1..LIN_TOKEN_MAX printable bytes and does not start with '#'. A get whose outcome is unknown has no
 * effect and is dropped on load.
 */
#ifndef RAFT_TESTS_LIN_LIN_HISTORY_H
#define RAFT_TESTS_LIN_LIN_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define LIN_TOKEN_MAX 255
#define LIN_OPS_MAX 4000000u        /* Operations in one history. */
#define LIN_TEXT_MAX (512u << 20)   /* Bytes of one history file. */
#define LIN_TIME_UNKNOWN UINT64_MAX /* Return time of an unknown op. */
#define LIN_VALUE_ABSENT 0u         /* Interned "no value". */
/* A value no get returns and no cas compares (the checker's canonical
 * stand-in for all of them). */
#define LIN_VALUE_UNOBSERVED UINT32_MAX

enum lin_op { LIN_PUT = 1, LIN_GET, LIN_DEL, LIN_CAS };

enum lin_outcome {
    LIN_OK = 0, /* put/del/cas applied; get returned `result`. */
    LIN_ABSENT, /* get: the key was absent. */
    LIN_FAIL,   /* cas: the current value differed or was absent. */
    LIN_UNKNOWN /* No answer: may take effect after call, or never. */
};

/* One operation. Keys and values are interned ids (values start at 1;
 * LIN_VALUE_ABSENT is no value). */
struct lin_rec {
    uint64_t call_us;
    uint64_t ret_us; /* LIN_TIME_UNKNOWN when unknown. */
    uint32_t proc;
    uint32_t line; /* In the source text, for reports. */
    uint32_t key;
    uint32_t value;    /* put: value; cas: new value. */
    uint32_t expected; /* cas only. */
    uint32_t result;   /* get ok: the value read. */
    uint8_t op;        /* enum lin_op */
    uint8_t outcome;   /* enum lin_outcome */
};

/* A string table: id -> text, and a hash index text -> id. */
struct lin_strings {
    uint32_t n; /* Ids 0..n-1 are used. */
    uint32_t cap;
    char **text;      /* Owned. */
    uint32_t *slots;  /* Hash index: id + 1, 0 for empty. */
    uint32_t n_slots; /* A power of two. */
};

struct lin_history {
    uint32_t n_recs;
    uint32_t cap_recs;
    struct lin_rec *recs;      /* Owned, in file order. */
    uint32_t n_dropped_gets;   /* Unknown gets, dropped on load. */
    struct lin_strings keys;   /* Key ids from 0. */
    struct lin_strings values; /* Id 0 is the absent marker "-". */
};

void lin_history_init(struct lin_history *h);
void lin_history_free(struct lin_history *h);

/* Parses NUL-terminated text and appends its operations to h.
 * Errors: ERR_MALFORMED with errmsg "line 12: ...", ERR_TOO_BIG (over
 * LIN_OPS_MAX), ERR_NOMEM. */
int lin_history_parse(struct lin_history *h, const char *text,
                      char errmsg[ERRMSG_LEN]);

/* Reads and parses a file. Errors: as lin_history_parse, ERR_IO,
 * ERR_NOT_FOUND; errmsg starts with the path. */
int lin_history_load(struct lin_history *h, const char *path,
                     char errmsg[ERRMSG_LEN]);

/* Appends one operation given with text key and values (value, expected and
 * result may be NULL where unused); for unit tests and generators.
 * Errors: ERR_INVALID (bad combination), ERR_NOMEM, ERR_TOO_BIG. */
int lin_history_add(struct lin_history *h, uint32_t proc, uint64_t call_us,
                    uint64_t ret_us, int op, int outcome, const char *key,
                    const char *value, const char *expected,
                    const char *result);

/* Text of an interned key or value. */
const char *lin_history_key(const struct lin_history *h, uint32_t key);
const char *lin_history_value(const struct lin_history *h, uint32_t value);

/* Prints one record in the file format (without a newline) into buf. */
void lin_history_format(const struct lin_history *h, const struct lin_rec *r,
                        char *buf, size_t cap);

#endif
