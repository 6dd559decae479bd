/*
 * Leveled, line-at-a-time logging for raftnode and raftctl. Each event is
 * formatted into one buffer ("<ISO-8601 UTC ms> LEVEL prefix message\n") and
 * written with a single fwrite + fflush, so lines from several processes
 * appending to one O_APPEND file never interleave mid-line. Never used by
 * the pure core. Read common/types.h next.
 */
#include "common/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#define LOG_PREFIX_MAX 64
#define LOG_LINE_MAX 2048

static FILE *log_out;
static int log_level = LOG_LEVEL_INFO;
static char log_prefix[LOG_PREFIX_MAX];

void log_init(FILE *out, int level)
{
    log_out = out;
    if (level < LOG_LEVEL_ERROR) {
        level = LOG_LEVEL_ERROR;
    }
    if (level > LOG_LEVEL_DEBUG) {
        level = LOG_LEVEL_DEBUG;
    }
    log_level = level;
    if (out != NULL) {
        /* Best effort: a failure only costs buffering, which the explicit
         * fflush after each line makes irrelevant anyway. */
        (void)setvbuf(out, NULL, _IOLBF, 0);
    }
}

void log_set_prefix(const char *prefix)
{
    if (prefix == NULL) {
        log_prefix[0] = '\0';
        return;
    }
    snprintf(log_prefix, sizeof log_prefix, "%s", prefix);
}

int log_enabled(int level)
{
    return level <= log_level;
}

static const char *level_name(int level)
{
    switch (level) {
    case LOG_LEVEL_ERROR:
        return "ERROR";
    case LOG_LEVEL_WARN:
        return "WARN";
    case LOG_LEVEL_INFO:
        return "INFO";
    default:
        return "DEBUG";
    }
}

/* "2026-11-26T07:03:08.123Z" into buf; returns its length. */
static size_t format_time(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
        gmtime_r(&ts.tv_sec, &tm) == NULL) {
        return (size_t)snprintf(buf, cap, "0000-00-00T00:00:00.000Z");
    }
    int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
    return n < 0 ? 0 : (size_t)n;
}

void log_write(int level, const char *fmt, ...)
{
    if (!log_enabled(level)) {
        return;
    }
    FILE *out = log_out != NULL ? log_out : stderr;
    char line[LOG_LINE_MAX];
    size_t len = format_time(line, sizeof line);
    int n =
        snprintf(line + len, sizeof line - len, " %s%s%s ", level_name(level),
                 log_prefix[0] != '\0' ? " " : "", log_prefix);
    len += n < 0 ? 0 : (size_t)n;
    size_t body = len;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    len += (size_t)n;
    if (len >= sizeof line - 1) {
        len = sizeof line - 5;
        memcpy(line + len, "...", 3);
        len += 3;
    }
    /* One event, one line: fold any newline or control byte. */
    while (len > body && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }
    for (size_t i = body; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
            line[i] = ' ';
        }
    }
    line[len++] = '\n';
    (void)fwrite(line, 1, len, out);
    (void)fflush(out);
}
