/*
 * lincheck: checks one history file (tests/lin/lin_history.h format) for
 * linearizability against the key-value register model and says why when it
 * is not. Exit codes: 0 linearizable, 1 not linearizable, 2 usage or a
 * malformed file, 3 unknown (a key's search hit its bound), 4 other errors.
 * Read tests/lin/linclient.c next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/lin/lin.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: lincheck [--steps N] [--cache-mb MB] [--verbose] "
                    "HISTORY_FILE\n");
}

/* Prints one operation of the history, indented, with its line. */
static void print_rec(const struct lin_history *h, uint32_t i, const char *tag)
{
    char buf[4 * LIN_TOKEN_MAX + 128];
    lin_history_format(h, &h->recs[i], buf, sizeof buf);
    printf("    %-9s line %-7u %s\n", tag, h->recs[i].line, buf);
}

/* Explains a violation: the deepest partial linearization. */
static void print_violation(const struct lin_history *h,
                            const struct lin_key_result *r)
{
    printf("  key %s is NOT linearizable: the search linearized at most %u "
           "of its %u operations; after the last of them the value is %s\n",
           lin_history_key(h, r->key), r->depth, r->n_ops,
           lin_history_value(h, r->state));
    for (uint32_t i = 0; i < r->n_prefix; i++) {
        print_rec(h, r->prefix[i], "done");
    }
    for (uint32_t i = 0; i < r->n_pending; i++) {
        print_rec(h, r->pending[i], "pending");
    }
    print_rec(h, r->blocking, "stuck");
    printf("    ('stuck' returned before any order of the pending "
           "operations could explain it)\n");
}

static int parse_num(const char *s, unsigned long long *out)
{
    char *end = NULL;
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    *out = strtoull(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct lin_limits limits = {0, 0};
    const char *path = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        unsigned long long v = 0;
        if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc &&
            parse_num(argv[i + 1], &v) == 0) {
            limits.steps_max = v;
            i++;
        } else if (strcmp(argv[i], "--cache-mb") == 0 && i + 1 < argc &&
                   parse_num(argv[i + 1], &v) == 0 && v < (1ull << 20)) {
            limits.cache_bytes_max = (size_t)v << 20;
            i++;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else if (argv[i][0] != '-' && path == NULL) {
            path = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (path == NULL) {
        usage();
        return 2;
    }
    struct lin_history h;
    lin_history_init(&h);
    char errmsg[ERRMSG_LEN] = "";
    double t0 = now_s();
    int rv = lin_history_load(&h, path, errmsg);
    if (rv != ERR_OK) {
        fprintf(stderr, "lincheck: %s\n", errmsg);
        lin_history_free(&h);
        return rv == ERR_MALFORMED ? 2 : 4;
    }
    uint32_t n_unknown = 0;
    for (uint32_t i = 0; i < h.n_recs; i++) {
        n_unknown += h.recs[i].outcome == LIN_UNKNOWN;
    }
    struct lin_report rep;
    rv = lin_check(&h, &limits, &rep);
    if (rv != ERR_OK) {
        fprintf(stderr, "lincheck: %s\n", err_str(rv));
        lin_history_free(&h);
        lin_report_free(&rep);
        return 4;
    }
    double secs = now_s() - t0;
    static const char *const verdicts[] = {"linearizable", "NOT linearizable",
                                           "unknown (search bound hit)"};
    for (uint32_t k = 0; k < rep.n_keys; k++) {
        const struct lin_key_result *r = &rep.keys[k];
        if (verbose || r->verdict != LIN_LINEARIZABLE) {
            printf("  key %s: %u ops (%u unknown): %s, %llu steps, %llu "
                   "states memoized\n",
                   lin_history_key(&h, r->key), r->n_ops, r->n_unknown,
                   verdicts[r->verdict], (unsigned long long)r->steps,
                   (unsigned long long)r->n_cached);
        }
        if (r->verdict == LIN_VIOLATION) {
            print_violation(&h, r);
        }
    }
    printf("lincheck: %s: %u ops on %u keys (%u with unknown outcome, %u "
           "unanswered gets dropped): %s in %.3f s\n",
           path, h.n_recs, h.keys.n, n_unknown, h.n_dropped_gets,
           verdicts[rep.verdict], secs);
    int code = rep.verdict == LIN_LINEARIZABLE ? 0
               : rep.verdict == LIN_VIOLATION  ? 1
                                               : 3;
    lin_report_free(&rep);
    lin_history_free(&h);
    return code;
}
