/*
 * Leveled logging for raftnode and raftctl (never the core): one line per
 * event, "2026-11-26T07:03:08.123Z INFO n3 t7 became leader votes=3/5".
 * The prefix after the level (node id, role, term) is set by the caller.
 * Read common/log.c next.
 */
#ifndef RAFT_COMMON_LOG_H
#define RAFT_COMMON_LOG_H

#include <stdio.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG
};

/* Where lines go (default stderr) and the most verbose level written. */
void log_init(FILE *out, int level);
/* Text placed after the level on every line, e.g. "n3 t7 leader"; copied. */
void log_set_prefix(const char *prefix);
int log_enabled(int level);
void log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_ERROR(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...)                                                         \
    do {                                                                       \
        if (log_enabled(LOG_LEVEL_DEBUG)) {                                    \
            log_write(LOG_LEVEL_DEBUG, __VA_ARGS__);                           \
        }                                                                      \
    } while (0)

#endif
