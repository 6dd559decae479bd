/*
 * DIR/options (see up_options.h): a few "name value" lines, parsed with
 * the same ranges as the command line, written through a temporary file
 * and rename so a crash leaves the old file or the new one. Read
 * launcher/cmd_cluster.c next.
 */
#include "launcher/up_options.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/timers.h"
#include "launcher/cluster_dir.h"

static const struct {
    const char *flag;
    uint64_t min;
    uint64_t max;
} up_option_table[UP_OPT__COUNT] = {
    [UP_OPT_HEARTBEAT] = {"--heartbeat", 1, 60000},
    [UP_OPT_ELECTION] = {"--election", 2, 600000},
    [UP_OPT_SNAPSHOT_ENTRIES] = {"--snapshot-entries", 0, UINT32_MAX},
    [UP_OPT_LOG_KEEP] = {"--log-keep", 0, UINT32_MAX},
    [UP_OPT_MAX_SESSIONS] = {"--max-sessions", 0, UINT32_MAX},
    [UP_OPT_MAX_DATAGRAM] = {"--max-datagram", RAFT_MAX_DATAGRAM_MIN,
                             RAFT_DATAGRAM_MAX},
};

const char *up_option_flag(int opt)
{
    return opt >= 0 && opt < UP_OPT__COUNT ? up_option_table[opt].flag : "?";
}

int up_options_parse(struct up_options *o, int opt, const char *text,
                     char errmsg[ERRMSG_LEN])
{
    uint64_t min = up_option_table[opt].min, max = up_option_table[opt].max;
    char *end = NULL;
    errno = 0;
    unsigned long long v = text != NULL && text[0] >= '0' && text[0] <= '9'
                               ? strtoull(text, &end, 10)
                               : 0;
    if (end == NULL || errno != 0 || *end != '\0' || v < min || v > max) {
        snprintf(errmsg, ERRMSG_LEN, "%s takes a number from %llu to %llu",
                 up_option_table[opt].flag, (unsigned long long)min,
                 (unsigned long long)max);
        return ERR_INVALID;
    }
    o->is_set[opt] = true;
    o->val[opt] = v;
    return ERR_OK;
}

/* The option named by name (a flag without its dashes), or -1. */
static int find_name(const char *name)
{
    for (int i = 0; i < UP_OPT__COUNT; i++) {
        if (strcmp(up_option_table[i].flag + 2, name) == 0) {
            return i;
        }
    }
    return -1;
}

int up_options_load(const struct cdir *d, struct up_options *o,
                    char errmsg[ERRMSG_LEN])
{
    memset(o, 0, sizeof *o);
    char path[CDIR_PATH_MAX];
    if (cdir_file(d, "options", path, sizeof path) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%.200s: path too long", d->shown);
        return ERR_IO;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            return ERR_OK;
        }
        snprintf(errmsg, ERRMSG_LEN, "%.200s: %s", path, strerror(errno));
        return ERR_IO;
    }
    char line[256], name[64], value[64], extra[2], em[ERRMSG_LEN];
    int rv = ERR_OK;
    for (int no = 1; rv == ERR_OK && fgets(line, sizeof line, f) != NULL;
         no++) {
        if (line[0] == '\n' || line[0] == '#') {
            continue;
        }
        int opt = -1;
        /* Exactly "name value" on a whole line: a third word, or a line
         * fgets cut, is not an option line. */
        bool is_whole = strchr(line, '\n') != NULL || feof(f);
        if (!is_whole ||
            sscanf(line, "%63s %63s %1s", name, value, extra) != 2 ||
            (opt = find_name(name)) < 0) {
            snprintf(errmsg, ERRMSG_LEN, "%.200s:%d: not an option line", path,
                     no);
            rv = ERR_INVALID;
        } else if (up_options_parse(o, opt, value, em) != ERR_OK) {
            snprintf(errmsg, ERRMSG_LEN, "%.120s:%d: %.100s", path, no, em);
            rv = ERR_INVALID;
        }
    }
    fclose(f);
    return rv;
}

int up_options_save(const struct cdir *d, const struct up_options *o,
                    char errmsg[ERRMSG_LEN])
{
    char path[CDIR_PATH_MAX], tmp[CDIR_PATH_MAX];
    if (cdir_file(d, "options", path, sizeof path) != ERR_OK ||
        cdir_file(d, "options.tmp", tmp, sizeof tmp) != ERR_OK) {
        snprintf(errmsg, ERRMSG_LEN, "%.200s: path too long", d->shown);
        return ERR_IO;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(errmsg, ERRMSG_LEN, "%.200s: %s", tmp, strerror(errno));
        return ERR_IO;
    }
    char buf[1024];
    size_t used = 0;
    for (int i = 0; i < UP_OPT__COUNT; i++) {
        if (o->is_set[i]) {
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s %llu\n",
                                     up_option_table[i].flag + 2,
                                     (unsigned long long)o->val[i]);
        }
    }
    bool ok = write(fd, buf, used) == (ssize_t)used && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(errmsg, ERRMSG_LEN, "cannot write %.200s: %s", path,
                 strerror(ok ? errno : saved));
        (void)unlink(tmp);
        return ERR_IO;
    }
    return ERR_OK;
}

void up_options_merge(struct up_options *base, const struct up_options *over)
{
    for (int i = 0; i < UP_OPT__COUNT; i++) {
        if (over->is_set[i]) {
            base->is_set[i] = true;
            base->val[i] = over->val[i];
        }
    }
}

int up_options_check(const struct up_options *o, char errmsg[ERRMSG_LEN])
{
    uint64_t hb = o->is_set[UP_OPT_HEARTBEAT] ? o->val[UP_OPT_HEARTBEAT]
                                              : NODE_HEARTBEAT_MS;
    uint64_t el = o->is_set[UP_OPT_ELECTION] ? o->val[UP_OPT_ELECTION]
                                             : NODE_ELECTION_MS;
    if (el <= hb) {
        snprintf(errmsg, ERRMSG_LEN,
                 "--election (%llu ms) must be longer than --heartbeat "
                 "(%llu ms)",
                 (unsigned long long)el, (unsigned long long)hb);
        return ERR_INVALID;
    }
    return ERR_OK;
}
