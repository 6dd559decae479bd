/*
 * Reading recordings (docs/RECORDING.md) for `raftctl replay`: one line
 * into a struct of common/recording.h, and a whole file into an index of
 * its usable lines (time, kind, place), so a replay can seek and parse
 * only what it shows. A malformed line (not JSON, no "t" or "k", fields of
 * the wrong type, time going back, longer than REC_READ_LINE_MAX) is
 * skipped and counted, never fatal; unknown kinds and fields are ignored.
 * Parses with jansson. Read launcher/replay.h next.
 */
#ifndef RAFT_LAUNCHER_RECORDING_READ_H
#define RAFT_LAUNCHER_RECORDING_READ_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/recording.h"

#define REC_READ_LINE_MAX 16384           /* Longer lines are malformed. */
#define REC_READ_FILE_MAX (1024ull << 20) /* Larger files are refused. */

struct rec_record {
    uint64_t t;
    int kind; /* enum rec_kind */
    union {
        struct rec_meta meta;
        struct rec_status status;
        struct rec_msg msg;
        struct rec_text text; /* event, fault, violation, trace_dropped */
    } u;
};

/* Parses one line (len bytes, no newline needed). Unknown kinds parse as
 * REC_UNKNOWN with t set. Errors: ERR_INVALID (malformed). */
int rec_parse_line(const char *line, size_t len, struct rec_record *out);

/* One usable line of a file. */
struct rec_entry {
    uint64_t t;
    uint64_t off;
    uint32_t len;
    uint8_t kind; /* Never REC_UNKNOWN or REC_META. */
    raft_id id;   /* status: its member. */
};

struct rec_file {
    char *data; /* Owned: the whole file. */
    size_t size;
    struct rec_entry *entries; /* Owned; in file order, t never goes back. */
    size_t n;
    struct rec_meta meta; /* The first line's. */
    uint64_t n_lines;
    uint64_t n_malformed;
    uint64_t n_unknown;
    uint64_t first_malformed; /* Line number of the first (1-based), 0. */
    uint64_t t_end;           /* The last line's time. */
};

/* Reads and indexes path. Errors: ERR_NOT_FOUND, ERR_IO, ERR_TOO_BIG (over
 * REC_READ_FILE_MAX), ERR_INVALID (no meta first line, or a newer
 * version); errmsg says which. */
int rec_file_load(const char *path, struct rec_file *out,
                  char errmsg[ERRMSG_LEN]);
/* The same over data (size bytes, taken over: freed by rec_file_free,
 * which the caller calls on an error too). */
int rec_file_parse(struct rec_file *out, char *data, size_t size,
                   char errmsg[ERRMSG_LEN]);
/* Parses entry i again. Errors: ERR_INVALID (cannot happen for a file
 * that was not changed). */
int rec_file_get(const struct rec_file *f, size_t i, struct rec_record *out);
void rec_file_free(struct rec_file *f);

#endif
