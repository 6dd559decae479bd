/*
 * A benchmark, not a test (no ctest entry): times a compaction step of
 * 1,000 and of 10,000 log rows (put entries with 100-byte values), and
 * producing and installing the image of 1,000,000 distinct keys with
 * 100-byte values. Usage: bench_store_snapshot DIR [N_KEYS].
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/msg.h"
#include "common/command.h"
#include "storage/snapshot_make.h"
#include "storage/store.h"

#define CLUSTER 0x77ull
#define LOG_ROWS 22000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int err, struct store *s, const char *what)
{
    if (err != ERR_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, err_str(err),
                s != NULL ? store_errmsg(s) : "");
        exit(1);
    }
}

/* Log rows 1..LOG_ROWS of put commands, 1,000 a batch, applied. */
static void fill_log(struct store *s)
{
    static uint8_t payload[1000][160];
    struct raft_entry e[1000];
    char key[32], value[101];
    memset(value, 'v', 100);
    value[100] = '\0';
    for (raft_index at = 1; at <= LOG_ROWS; at += 1000) {
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof(key), "key%06d",
                     (int)(at + (raft_index)i) % 10000);
            struct command c = {.op = COMMAND_OP_PUT,
                                .client_id = 5,
                                .seq = at + i,
                                .key = (const uint8_t *)key,
                                .key_len = (uint32_t)strlen(key),
                                .value = (const uint8_t *)value,
                                .value_len = 100};
            size_t len = 0;
            check(command_encode(&c, payload[i], sizeof(payload[i]), &len),
                  NULL, "encode");
            e[i] = (struct raft_entry){1, RAFT_ENTRY_NORMAL, (uint32_t)len,
                                       payload[i]};
        }
        struct store_batch b = {.has_hard_state = true,
                                .term = 1,
                                .voted_for = 1,
                                .entries_first_index = at,
                                .n_entries = 1000,
                                .entries = e};
        check(store_persist(s, &b), s, "persist");
    }
    check(store_kv_begin(s), s, "begin");
    check(store_kv_commit(s, LOG_ROWS), s, "commit");
}

static void bench_compaction(struct store *s)
{
    fill_log(s);
    check(store_compact(s, LOG_ROWS, 1, "voters 1", 0), s, "compact");
    const size_t sizes[] = {1000, 10000, 10000};
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        double t0 = now_s();
        check(store_compact_step(s, sizes[i], &n), s, "step");
        double ms = (now_s() - t0) * 1e3;
        printf("compact_step rows_max=%zu compacted=%zu ms=%.2f\n", sizes[i], n,
               ms);
    }
}

/* n_keys distinct keys with 100-byte values, 10,000 a transaction. */
static void fill_kv(struct store *s, long n_keys, raft_index *applied)
{
    char key[32], value[100];
    memset(value, 'x', sizeof(value));
    for (long i = 0; i < n_keys;) {
        check(store_kv_begin(s), s, "begin");
        for (int j = 0; j < 10000 && i < n_keys; j++, i++) {
            int kl = snprintf(key, sizeof(key), "user%09ld", i);
            check(store_kv_put(s, (const uint8_t *)key, (uint32_t)kl,
                               (const uint8_t *)value, sizeof(value)),
                  s, "put");
        }
        check(store_kv_commit(s, *applied), s, "commit");
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store_snapshot DIR [N_KEYS]\n");
        return 2;
    }
    long n_keys = argc > 2 ? atol(argv[2]) : 1000000;
    char a[512], b[512], img[512], em[ERRMSG_LEN];
    snprintf(a, sizeof(a), "%s/bench1.db", argv[1]);
    snprintf(b, sizeof(b), "%s/bench2.db", argv[1]);
    snprintf(img, sizeof(img), "%s/bench.snap", argv[1]);
    struct store *s = NULL;
    if (store_open(a, CLUSTER, 1, STORE_OPEN_CREATE, &s, em) != ERR_OK) {
        fprintf(stderr, "%s\n", em);
        return 1;
    }
    bench_compaction(s);
    raft_index applied = LOG_ROWS;
    fill_kv(s, n_keys, &applied);
    store_checkpoint(s);
    struct snapshot_make_info info;
    double t0 = now_s();
    check(snapshot_make_file(a, img, "voters 1,2,3", &info, em), NULL, em);
    double secs = now_s() - t0;
    printf("image keys=%ld bytes=%" PRIu64 " s=%.3f MB/s=%.1f\n", n_keys,
           info.size, secs, (double)info.size / 1e6 / secs);
    store_close(s);
    struct store *r = NULL;
    if (store_open(b, CLUSTER, 2, STORE_OPEN_CREATE, &r, em) != ERR_OK) {
        fprintf(stderr, "%s\n", em);
        return 1;
    }
    FILE *fp = fopen(img, "rb");
    static uint8_t chunk[60000];
    uint64_t off = 0, got = 0;
    size_t n;
    t0 = now_s();
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        check(
            store_snapshot_stage(r, info.index, info.term, off, chunk, n, &got),
            r, "stage");
        off += n;
    }
    fclose(fp);
    double stage_s = now_s() - t0;
    t0 = now_s();
    check(store_snapshot_install(r, info.index, info.term), r, "install");
    double install_s = now_s() - t0;
    t0 = now_s();
    store_checkpoint(r); /* The install left it to the caller. */
    double ckpt_s = now_s() - t0;
    printf("stage s=%.3f install s=%.3f (MB/s=%.1f) checkpoint after s=%.3f\n",
           stage_s, install_s, (double)info.size / 1e6 / install_s, ckpt_s);
    store_close(r);
    unlink(img);
    return 0;
}
