/*
 * Unit tests of the storage half of snapshots (issue 16) on temporary
 * files: compaction points and batched deletion, loading from the snapshot
 * point, producing an image (in this process and in a forked child),
 * staging with resumption, install (a matching log suffix kept, a
 * conflicting one dropped, damage refused, a crash mid-install), migration
 * from schema versions 2 and 6, the order of session eviction, and the
 * log's segment tables (dropped whole, truncated, edited through the view).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/command.h"
#include "common/err.h"
#include "common/msg.h"
#include "common/snapshot_image.h"
#include "storage/snapshot_make.h"
#include "storage/store.h"

#define CLUSTER 0x1234ull
#define CONFIG "voters 1,2,3"

struct fixture {
    char dir[64];
    char path[128];  /* node1.db: the source. */
    char path2[128]; /* node2.db: the receiver. */
    char image[128];
    struct store *s;
    struct store *r;
    char errmsg[ERRMSG_LEN];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_store_snap.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/node1.db", f->dir);
    snprintf(f->path2, sizeof(f->path2), "%s/node2.db", f->dir);
    snprintf(f->image, sizeof(f->image), "%s/image", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    store_close(f->r);
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", f->dir, ent->d_name);
            assert_int_equal(unlink(p), 0);
        }
    }
    closedir(d);
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

static struct store *open_at(struct fixture *f, const char *path, raft_id node)
{
    struct store *s = NULL;
    if (store_open(path, CLUSTER, node, STORE_OPEN_CREATE, &s, f->errmsg) !=
        ERR_OK) {
        fail_msg("store_open: %s", f->errmsg);
    }
    return s;
}

static void reopen_source(struct fixture *f)
{
    store_close(f->s);
    f->s = open_at(f, f->path, 1);
}

/* Persists noop entries first..last, all of term. */
static void append_noops(struct store *s, raft_index first, raft_index last,
                         raft_term term)
{
    struct raft_entry e[64];
    for (raft_index i = first; i <= last;) {
        size_t n = 0;
        raft_index at = i;
        while (i <= last && n < 64) {
            e[n++] = (struct raft_entry){term, RAFT_ENTRY_NOOP, 0, NULL};
            i++;
        }
        struct store_batch b = {.has_hard_state = true,
                                .term = term,
                                .voted_for = 1,
                                .entries_first_index = at,
                                .n_entries = n,
                                .entries = e};
        assert_int_equal(store_persist(s, &b), ERR_OK);
    }
}

/* Applies up to index: n_keys puts "k<i>" = "v<i>.<index>" and a session
 * touch of client 7, in one transaction. */
static void apply_to(struct store *s, raft_index index, int n_keys)
{
    assert_int_equal(store_kv_begin(s), ERR_OK);
    for (int i = 0; i < n_keys; i++) {
        char k[32], v[48];
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "v%d.%llu", i, (unsigned long long)index);
        assert_int_equal(store_kv_put(s, (const uint8_t *)k,
                                      (uint32_t)strlen(k), (const uint8_t *)v,
                                      (uint32_t)strlen(v)),
                         ERR_OK);
    }
    assert_int_equal(store_session_touch(s, 7, index, 0, index), ERR_OK);
    assert_int_equal(store_kv_commit(s, index), ERR_OK);
}

/* Runs sql on a separate connection; returns the first row as "a|b". */
static const char *sql(const char *path, const char *query)
{
    static char out[512];
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("%s: %s", query, sqlite3_errmsg(db));
    }
    out[0] = '\0';
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const unsigned char *t = sqlite3_column_text(st, c);
            size_t used = strlen(out);
            snprintf(out + used, sizeof(out) - used, "%s%s", c ? "|" : "",
                     t != NULL ? (const char *)t : "NULL");
        }
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fail_msg("%s: %s", query, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return out;
}

/* A digest of a table's rows in key order, to compare two databases. */
static char *digest(const char *path, const char *table_sql)
{
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(*) || ':' || coalesce(sum(length(CAST(k AS BLOB))"
             " * 31 + length(CAST(v AS BLOB)) + unicode(v)), 0)"
             " || ':' || group_concat(k || '=' || v, ',') FROM (%s)",
             table_sql);
    return strdup(sql(path, q));
}

/* Reads a whole file into a heap buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n > 0);
    rewind(fp);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* Stages a whole image into r in chunks of chunk bytes. */
static void stage_all(struct store *r, raft_index index, raft_term term,
                      const uint8_t *img, size_t len, size_t chunk)
{
    uint64_t received = 0;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        assert_int_equal(
            store_snapshot_stage(r, index, term, off, img + off, n, &received),
            ERR_OK);
        assert_int_equal(received, off + n);
    }
}

/* Builds a source: log 1..100 of term 2, applied to 100 (keys k0..k9,
 * session 7), compacted at 100. Writes its image to f->image. */
static struct snapshot_make_info make_source(struct fixture *f)
{
    f->s = open_at(f, f->path, 1);
    append_noops(f->s, 1, 100, 2);
    apply_to(f->s, 50, 10);
    apply_to(f->s, 100, 10);
    struct snapshot_make_info info;
    if (snapshot_make_file(f->path, f->image, CONFIG, &info, f->errmsg) !=
        ERR_OK) {
        fail_msg("snapshot_make_file: %s", f->errmsg);
    }
    assert_int_equal(info.index, 100);
    assert_int_equal(info.term, 2);
    return info;
}

/* ---- Compaction ----------------------------------------------------- */

/* Thesis 5.1: a snapshot covers only applied state. An index above the
 * committed applied index, or a term the log does not have there, is
 * refused and nothing is recorded. */
static void test_compact_refuses_past_applied(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_noops(f->s, 1, 20, 3);
    apply_to(f->s, 10, 1);
    assert_int_equal(store_compact(f->s, 11, 3, CONFIG, 0), ERR_INVALID);
    assert_non_null(strstr(store_errmsg(f->s), "applied index is 10"));
    assert_int_equal(store_compact(f->s, 10, 2, CONFIG, 0), ERR_INVALID);
    assert_string_equal(sql(f->path, "SELECT count(*) FROM snapshot"), "0");
    assert_int_equal(store_compact(f->s, 10, 3, CONFIG, 0), ERR_OK);
    assert_int_equal(store_compact(f->s, 9, 3, CONFIG, 0), ERR_INVALID);
}

/* Deletion runs in steps of at most rows_max, oldest first, down to
 * index - keep; the snapshot row is what the sqlite3 shell shows. */
static void test_compact_deletes_in_batches_keeping_k(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_noops(f->s, 1, 100, 4);
    apply_to(f->s, 90, 1);
    assert_int_equal(store_compact(f->s, 80, 4, CONFIG, 10), ERR_OK);
    assert_string_equal(sql(f->path, "SELECT idx, term, config FROM snapshot"),
                        "80|4|" CONFIG);
    assert_string_equal(sql(f->path, "SELECT value FROM meta"
                                     " WHERE name = 'snapshot_index'"),
                        "80");
    size_t n = 0, steps = 0, total = 0;
    while (store_compact_pending(f->s)) {
        assert_int_equal(store_compact_step(f->s, 25, &n), ERR_OK);
        assert_true(n <= 25);
        total += n;
        steps++;
        assert_true(steps <= 4);
    }
    assert_int_equal(total, 70);
    assert_int_equal(steps, 3);
    assert_string_equal(sql(f->path, "SELECT min(idx), max(idx) FROM log"),
                        "71|100");
    /* Armed again after a restart: nothing more to delete. */
    reopen_source(f);
    assert_int_equal(store_compact(f->s, 80, 4, CONFIG, 10), ERR_OK);
    assert_int_equal(store_compact_step(f->s, 25, &n), ERR_OK);
    assert_int_equal(n, 0);
    assert_false(store_compact_pending(f->s));
}

/* Restart cost is bounded by live data, and the rows kept below the
 * snapshot point (keep K) stay in the log: load starts K rows below the
 * point, after the last deleted row and with its term (meta), while the
 * snapshot point and the applied state stay where they were. */
static void test_load_after_compaction_keeps_the_kept_rows(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_noops(f->s, 1, 60, 2);
    append_noops(f->s, 61, 100, 5);
    apply_to(f->s, 95, 1);
    /* Keep 35: the last deleted row, 55, is of term 2, the next of 5. */
    assert_int_equal(store_compact(f->s, 90, 5, CONFIG, 35), ERR_OK);
    size_t n = 0;
    while (store_compact_pending(f->s)) {
        assert_int_equal(store_compact_step(f->s, 20, &n), ERR_OK);
    }
    assert_string_equal(sql(f->path, "SELECT min(idx) FROM log"), "56");
    reopen_source(f);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.snapshot_index, 90);
    assert_int_equal(l.snapshot_term, 5);
    assert_int_equal(l.compacted_index, 90 - 35);
    assert_int_equal(l.compacted_term, 2);
    assert_int_equal(l.first_index, 56);
    assert_int_equal(l.n_entries, 45);
    assert_int_equal(l.entries[0].term, 2);
    assert_int_equal(l.entries[5].term, 5);
    assert_int_equal(l.n_runs, 0);
    assert_int_equal(l.applied, 95);
    store_loaded_free(&l);
    /* A window inside the suffix gives the rest as runs from 56. */
    assert_int_equal(store_load_window(f->s, 2, &l), ERR_OK);
    assert_int_equal(l.compacted_index, 55);
    assert_int_equal(l.first_index, 94);
    assert_int_equal(l.n_entries, 7);
    assert_int_equal(l.n_runs, 2);
    assert_int_equal(l.runs[0].first, 56);
    assert_int_equal(l.runs[0].term, 2);
    assert_int_equal(l.runs[1].first, 61);
    assert_int_equal(l.runs[1].term, 5);
    store_loaded_free(&l);
    /* Kept rows still serve a lagging follower. */
    struct raft_entry out[4];
    assert_int_equal(store_fetch(f->s, 56, 59, 1 << 20, out, 4, &n), ERR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(store_fetch(f->s, 55, 55, 1 << 20, out, 4, &n),
                     ERR_NOT_FOUND);
}

/* A compaction re-armed at start (deletes still to run, as after a crash
 * between steps, or with a smaller keep) loads the log from after the
 * rows it will delete, so the core never lists a row storage drops; with
 * keep 0 and no rows kept, the log starts after the snapshot point. */
static void test_load_with_deletes_pending(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_noops(f->s, 1, 60, 2);
    append_noops(f->s, 61, 100, 5);
    apply_to(f->s, 95, 1);
    assert_int_equal(store_compact(f->s, 90, 5, CONFIG, 35), ERR_OK);
    size_t n = 0;
    assert_int_equal(store_compact_step(f->s, 20, &n), ERR_OK);
    assert_int_equal(n, 20);
    /* Restart: re-armed with keep 10, rows 21..80 still to delete. */
    reopen_source(f);
    assert_int_equal(store_compact(f->s, 90, 5, CONFIG, 10), ERR_OK);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.compacted_index, 80);
    assert_int_equal(l.compacted_term, 5);
    assert_int_equal(l.first_index, 81);
    assert_int_equal(l.n_entries, 20);
    store_loaded_free(&l);
    while (store_compact_pending(f->s)) {
        assert_int_equal(store_compact_step(f->s, 1000, &n), ERR_OK);
    }
    /* Keep 0: nothing below the point, the log starts after it. */
    assert_int_equal(store_compact(f->s, 95, 5, CONFIG, 0), ERR_OK);
    while (store_compact_pending(f->s)) {
        assert_int_equal(store_compact_step(f->s, 1000, &n), ERR_OK);
    }
    reopen_source(f);
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.snapshot_index, 95);
    assert_int_equal(l.compacted_index, 95);
    assert_int_equal(l.compacted_term, 5);
    assert_int_equal(l.first_index, 96);
    assert_int_equal(l.n_entries, 5);
    store_loaded_free(&l);
}

/* ---- Image, staging, install ---------------------------------------- */

/* The image of one store installed in another gives the same kv and
 * sessions, the snapshot point, and applied = index; chunks arrive
 * repeated and one past a gap, which changes nothing. */
static void test_image_round_trip_through_install(void **state)
{
    struct fixture *f = *state;
    struct snapshot_make_info info = make_source(f);
    size_t len = 0;
    uint8_t *img = slurp(f->image, &len);
    assert_int_equal(len, info.size);
    struct snapshot_image_header h;
    assert_int_equal(snapshot_image_check(img, len, &h), ERR_OK);
    assert_int_equal(h.n_kv, 10);
    assert_int_equal(h.n_sessions, 1);
    f->r = open_at(f, f->path2, 2);
    uint64_t received = 0;
    assert_int_equal(
        store_snapshot_stage(f->r, 100, 2, 100, img + 100, 50, &received),
        ERR_OK); /* Past a gap: ignored. */
    assert_int_equal(received, 0);
    stage_all(f->r, 100, 2, img, len, 64);
    assert_int_equal(store_snapshot_stage(f->r, 100, 2, 0, img, 64, &received),
                     ERR_OK); /* A repeat. */
    assert_int_equal(received, len);
    struct stat sb;
    char partial[160];
    snprintf(partial, sizeof(partial), "%s.snap.partial", f->path2);
    assert_int_equal(stat(partial, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_OK);
    assert_int_not_equal(stat(partial, &sb), 0); /* Removed after commit. */
    char *a = digest(f->path, "SELECT key k, value v FROM kv");
    char *b = digest(f->path2, "SELECT key k, value v FROM kv");
    assert_string_equal(a, b);
    free(a);
    free(b);
    assert_string_equal(sql(f->path2, "SELECT client_id, seq, last_index"
                                      " FROM sessions"),
                        "7|100|100");
    assert_string_equal(sql(f->path2, "SELECT idx, term, config FROM snapshot"),
                        "100|2|" CONFIG);
    store_close(f->r);
    f->r = open_at(f, f->path2, 2);
    struct store_loaded l;
    assert_int_equal(store_load(f->r, &l), ERR_OK);
    assert_int_equal(l.applied, 100);
    assert_int_equal(l.snapshot_index, 100);
    assert_int_equal(l.first_index, 101);
    assert_int_equal(l.n_entries, 0);
    store_loaded_free(&l);
    free(img);
}

/* The runner forks a child with its own connection; the parent keeps
 * writing meanwhile and the image is the state at the applied index the
 * child's read began at. */
static void test_image_made_in_a_child(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_noops(f->s, 1, 30, 1);
    apply_to(f->s, 20, 5);
    struct snapshot_make m;
    assert_int_equal(snapshot_make_start(&m, f->s, f->image, CONFIG, f->errmsg),
                     ERR_OK);
    apply_to(f->s, 30, 5); /* The owner's writes go on. */
    struct pollfd p = {.fd = snapshot_make_fd(&m), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    struct snapshot_make_info info;
    if (snapshot_make_finish(&m, &info, f->errmsg) != ERR_OK) {
        fail_msg("snapshot_make_finish: %s", f->errmsg);
    }
    assert_int_equal(snapshot_make_fd(&m), -1);
    assert_true(info.index == 20 || info.index == 30);
    size_t len = 0;
    uint8_t *img = slurp(f->image, &len);
    struct snapshot_image_header h;
    assert_int_equal(snapshot_image_check(img, len, &h), ERR_OK);
    assert_int_equal(h.index, info.index);
    free(img);
}

/* Every damage of a staged image (each region flipped, truncated) is
 * refused before a table changes; the staging is dropped with it. */
static void test_install_refuses_damaged_image(void **state)
{
    struct fixture *f = *state;
    make_source(f);
    size_t len = 0;
    uint8_t *img = slurp(f->image, &len);
    f->r = open_at(f, f->path2, 2);
    append_noops(f->r, 1, 3, 1);
    apply_to(f->r, 3, 2);
    char *before = digest(f->path2, "SELECT key k, value v FROM kv");
    for (size_t at = 0; at < len; at += len / 13 + 1) {
        img[at] ^= 0x20;
        stage_all(f->r, 100, 2, img, len, 4096);
        assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_CORRUPT);
        assert_non_null(strstr(store_errmsg(f->r), "refused"));
        img[at] ^= 0x20;
        raft_index i;
        raft_term t;
        uint64_t got;
        assert_int_equal(store_snapshot_staged(f->r, &i, &t, &got), ERR_OK);
        assert_int_equal(i, 0);
    }
    stage_all(f->r, 100, 2, img, len - 1, 4096); /* Truncated. */
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_CORRUPT);
    char *after = digest(f->path2, "SELECT key k, value v FROM kv");
    assert_string_equal(before, after);
    assert_string_equal(sql(f->path2, "SELECT count(*) FROM snapshot"), "0");
    free(before);
    free(after);
    free(img);
}

/* Staging survives a restart for the same (index, term) and resumes at
 * the prefix; another (index, term) starts again from zero. */
static void test_stage_resumes_after_reopen(void **state)
{
    struct fixture *f = *state;
    make_source(f);
    size_t len = 0;
    uint8_t *img = slurp(f->image, &len);
    f->r = open_at(f, f->path2, 2);
    stage_all(f->r, 100, 2, img, len / 2, 100);
    store_close(f->r);
    f->r = open_at(f, f->path2, 2);
    raft_index i;
    raft_term t;
    uint64_t got = 0;
    assert_int_equal(store_snapshot_staged(f->r, &i, &t, &got), ERR_OK);
    assert_int_equal(i, 100);
    assert_int_equal(t, 2);
    assert_int_equal(got, len / 2);
    assert_int_equal(
        store_snapshot_stage(f->r, 100, 2, got, img + got, len - got, &got),
        ERR_OK);
    assert_int_equal(got, len);
    /* Another point restarts; the first is gone. */
    assert_int_equal(store_snapshot_stage(f->r, 101, 3, 0, img, 10, &got),
                     ERR_OK);
    assert_int_equal(got, 10);
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_NOT_FOUND);
    stage_all(f->r, 100, 2, img, len, 1000);
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_OK);
    free(img);
}

/* Thesis 5.3 step 6: a log entry at the snapshot's index with its term
 * keeps the entries after it. */
static void test_install_keeps_matching_suffix(void **state)
{
    struct fixture *f = *state;
    make_source(f);
    size_t len = 0;
    uint8_t *img = slurp(f->image, &len);
    f->r = open_at(f, f->path2, 2);
    append_noops(f->r, 1, 104, 2);
    stage_all(f->r, 100, 2, img, len, 60000);
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_OK);
    assert_string_equal(sql(f->path2, "SELECT min(idx), max(idx) FROM log"),
                        "101|104");
    store_close(f->r);
    f->r = open_at(f, f->path2, 2);
    struct store_loaded l;
    assert_int_equal(store_load(f->r, &l), ERR_OK);
    assert_int_equal(l.first_index, 101);
    assert_int_equal(l.n_entries, 4);
    assert_int_equal(l.applied, 100);
    store_loaded_free(&l);
    free(img);
}

/* Thesis 5.3 step 7: otherwise the whole log goes (here the entry at 100
 * has another term), and applies may go on from the snapshot index. */
static void test_install_drops_conflicting_log(void **state)
{
    struct fixture *f = *state;
    make_source(f);
    size_t len = 0;
    uint8_t *img = slurp(f->image, &len);
    f->r = open_at(f, f->path2, 2);
    append_noops(f->r, 1, 104, 1);
    stage_all(f->r, 100, 2, img, len, 60000);
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_OK);
    assert_string_equal(sql(f->path2, "SELECT count(*) FROM log"), "0");
    append_noops(f->r, 101, 101, 3);
    apply_to(f->r, 101, 1);
    assert_string_equal(sql(f->path2, "SELECT value FROM kv WHERE key = 'k0'"),
                        "v0.101");
    free(img);
}

/* A crash in the middle of the install transaction (the child dies after
 * writing some records) leaves the old state; the staged image is still
 * there and installs whole after the restart. */
static void test_install_crash_leaves_old_or_new(void **state)
{
    struct fixture *f = *state;
    make_source(f);
    size_t len = 0;
    uint8_t *img = slurp(f->image, &len);
    f->r = open_at(f, f->path2, 2);
    append_noops(f->r, 1, 3, 1);
    apply_to(f->r, 3, 12);
    stage_all(f->r, 100, 2, img, len, 60000);
    char *before = digest(f->path2, "SELECT key k, value v FROM kv");
    store_close(f->r); /* The child opens its own. */
    f->r = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *c = NULL;
        char em[ERRMSG_LEN];
        if (store_open(f->path2, CLUSTER, 2, STORE_OPEN_EXISTING, &c, em) !=
            ERR_OK) {
            _exit(1);
        }
        store_set_install_crash(c, 5);
        (void)store_snapshot_install(c, 100, 2);
        _exit(2); /* Not reached: the hook exits 99. */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 99);
    f->r = open_at(f, f->path2, 2);
    char *after = digest(f->path2, "SELECT key k, value v FROM kv");
    assert_string_equal(before, after);
    assert_string_equal(sql(f->path2, "SELECT value FROM meta"
                                      " WHERE name = 'applied_index'"),
                        "3");
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_OK);
    char *src = digest(f->path, "SELECT key k, value v FROM kv");
    char *now = digest(f->path2, "SELECT key k, value v FROM kv");
    assert_string_equal(src, now);
    free(before);
    free(after);
    free(src);
    free(now);
    free(img);
}

/* An image whose records break the tables' keys (a writer's bug under a
 * valid checksum) fails mid-transaction: rolled back, nothing changed. */
static void test_install_rolls_back_a_bad_record(void **state)
{
    struct fixture *f = *state;
    f->r = open_at(f, f->path2, 2);
    append_noops(f->r, 1, 2, 1);
    apply_to(f->r, 2, 3);
    uint8_t img[512];
    size_t used = 0, n = 0;
    struct snapshot_hash hash;
    snapshot_hash_init(&hash);
    struct snapshot_image_header h = {.index = 9, .term = 1, .n_kv = 2};
    assert_int_equal(snapshot_image_encode_header(&h, img, sizeof(img), &n),
                     ERR_OK);
    used += n;
    for (int i = 0; i < 2; i++) { /* The same key twice. */
        assert_int_equal(snapshot_image_encode_kv(
                             (const uint8_t *)"dup", 3, (const uint8_t *)"x", 1,
                             img + used, sizeof(img) - used, &n),
                         ERR_OK);
        used += n;
    }
    snapshot_hash_update(&hash, img, used);
    snapshot_image_encode_trailer(snapshot_hash_final(&hash), img + used);
    used += SNAPSHOT_IMAGE_TRAILER_SIZE;
    stage_all(f->r, 9, 1, img, used, 512);
    assert_int_equal(store_snapshot_install(f->r, 9, 1), ERR_CORRUPT);
    assert_string_equal(sql(f->path2, "SELECT count(*) FROM kv"), "3");
    assert_string_equal(sql(f->path2, "SELECT count(*) FROM log"), "2");
}

/* Install checks each record's lengths while it inserts (the checksum was
 * checked before any write): a bad last record under a valid checksum
 * rolls back the rows already inserted and drops the staging. */
static void test_install_rolls_back_a_late_malformed_record(void **state)
{
    struct fixture *f = *state;
    f->r = open_at(f, f->path2, 2);
    append_noops(f->r, 1, 2, 1);
    apply_to(f->r, 2, 3);
    char *before = digest(f->path2, "SELECT key k, value v FROM kv");
    uint8_t img[512];
    size_t used = 0, n = 0;
    struct snapshot_image_header h = {.index = 9, .term = 1, .n_kv = 3};
    assert_int_equal(snapshot_image_encode_header(&h, img, sizeof(img), &n),
                     ERR_OK);
    used += n;
    const char *const keys[2] = {"new-a", "new-b"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(snapshot_image_encode_kv(
                             (const uint8_t *)keys[i], 5, (const uint8_t *)"x",
                             1, img + used, sizeof(img) - used, &n),
                         ERR_OK);
        used += n;
    }
    /* The third record: key_len 200, value_len 0, only 3 key bytes. */
    const uint8_t bad[9] = {200, 0, 0, 0, 0, 0, 'a', 'b', 'c'};
    memcpy(img + used, bad, sizeof(bad));
    used += sizeof(bad);
    struct snapshot_hash hash;
    snapshot_hash_init(&hash);
    snapshot_hash_update(&hash, img, used);
    snapshot_image_encode_trailer(snapshot_hash_final(&hash), img + used);
    used += SNAPSHOT_IMAGE_TRAILER_SIZE;
    stage_all(f->r, 9, 1, img, used, 512);
    assert_int_equal(store_snapshot_install(f->r, 9, 1), ERR_CORRUPT);
    char *after = digest(f->path2, "SELECT key k, value v FROM kv");
    assert_string_equal(before, after);
    assert_string_equal(sql(f->path2, "SELECT count(*) FROM kv"), "3");
    assert_string_equal(sql(f->path2, "SELECT count(*) FROM log"), "2");
    assert_string_equal(sql(f->path2, "SELECT count(*) FROM snapshot"), "0");
    raft_index i;
    raft_term t;
    uint64_t got;
    assert_int_equal(store_snapshot_staged(f->r, &i, &t, &got), ERR_OK);
    assert_int_equal(i, 0);
    free(before);
    free(after);
}

/* ---- Schema and sessions --------------------------------------------- */

/* A version 2 file (no snapshot table, sessions without last_index)
 * opens, moves to the current version in place, and keeps its rows. */
static void test_migration_from_version_2(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_noops(f->s, 1, 5, 1);
    apply_to(f->s, 5, 2);
    store_close(f->s);
    f->s = NULL;
    sql(f->path, "DROP TABLE snapshot");
    sql(f->path, "DROP TABLE IF EXISTS sessions_evicted");
    sql(f->path, "DROP INDEX sessions_by_last");
    sql(f->path, "ALTER TABLE sessions DROP COLUMN last_index");
    /* And without version 6's kv view over kv_data. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP VIEW kv; DROP VIEW log;"
                                  " ALTER TABLE log_from_1 RENAME TO log;"
                                  " DROP INDEX kv_data_by_ref;"
                                  " ALTER TABLE kv_data DROP COLUMN ref;"
                                  " ALTER TABLE kv_data RENAME TO kv;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    sql(f->path, "ALTER TABLE log DROP COLUMN crc");
    sql(f->path, "ALTER TABLE kv DROP COLUMN crc");
    sql(f->path, "ALTER TABLE raft_state DROP COLUMN crc");
    sql(f->path, "ALTER TABLE sessions DROP COLUMN crc");
    sql(f->path, "PRAGMA user_version = 2");
    f->s = open_at(f, f->path, 1);
    assert_string_equal(sql(f->path, "PRAGMA user_version"), "7");
    assert_string_equal(sql(f->path, "SELECT client_id, seq, last_index"
                                     " FROM sessions"),
                        "7|5|0");
    assert_string_equal(sql(f->path, "SELECT count(*) FROM snapshot"), "0");
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.applied, 5);
    assert_int_equal(l.n_entries, 5);
    store_loaded_free(&l);
    assert_int_equal(store_compact(f->s, 5, 1, CONFIG, 0), ERR_OK);
}

/* Touches client at index (its own transaction). */
static void touch(struct store *s, uint64_t client, raft_index index)
{
    assert_int_equal(store_kv_begin(s), ERR_OK);
    assert_int_equal(store_session_touch(s, client, 1, 0, index), ERR_OK);
    assert_int_equal(store_kv_commit(s, index), ERR_OK);
}

/* Registers the session `index` with limit max (its own transaction). */
static void reg(struct store *s, raft_index index, uint64_t max)
{
    assert_int_equal(store_kv_begin(s), ERR_OK);
    assert_int_equal(store_session_register(s, index, max), ERR_OK);
    assert_int_equal(store_kv_commit(s, index), ERR_OK);
}

/* Thesis 6.3: a register entry past the limit evicts the least recently
 * used session (smallest last index), which is then simply absent; the
 * limit is the entry's, applied in full. */
static void test_eviction_order(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_noops(f->s, 1, 20, 1);
    reg(f->s, 1, 3);
    reg(f->s, 2, 3);
    reg(f->s, 3, 3);
    touch(f->s, 1, 4); /* 1 is now the most recent. */
    reg(f->s, 5, 3);   /* Evicts 2 (last index 2). */
    struct store_session ss;
    assert_int_equal(store_session_find(f->s, 2, &ss), ERR_OK);
    assert_int_equal(ss.state, STORE_SESSION_NONE);
    assert_int_equal(store_session_find(f->s, 1, &ss), ERR_OK);
    assert_int_equal(ss.state, STORE_SESSION_LIVE);
    assert_int_equal(ss.last_index, 4);
    assert_int_equal(store_session_find(f->s, 5, &ss), ERR_OK);
    assert_int_equal(ss.state, STORE_SESSION_LIVE);
    assert_int_equal(ss.seq, 0);
    reg(f->s, 6, 3); /* Evicts 3. */
    reg(f->s, 7, 0); /* Unbounded: evicts nothing. */
    uint64_t n_live = 0;
    assert_int_equal(store_session_count(f->s, &n_live), ERR_OK);
    assert_int_equal(n_live, 4);
    reg(f->s, 8, 2); /* Evicts 1, 5 and 6 at once. */
    assert_int_equal(store_session_count(f->s, &n_live), ERR_OK);
    assert_int_equal(n_live, 2);
    /* The same history gives the same tables (recounted after reopen). */
    reopen_source(f);
    assert_int_equal(store_session_count(f->s, &n_live), ERR_OK);
    assert_int_equal(n_live, 2);
    assert_string_equal(sql(f->path, "SELECT group_concat(client_id) FROM"
                                     " (SELECT client_id FROM sessions"
                                     " ORDER BY client_id)"),
                        "7,8");
}

/* Large enough to be found in the log (storage/store_int.h,
 * STORE_KV_REF_MIN is 1024). */
#define BIG_VALUE 1100

/* The value entry i of append_puts writes: "value-<i>" padded with 'x' to
 * BIG_VALUE bytes. */
static const char *big_value(raft_index i)
{
    static char v[BIG_VALUE + 1];
    memset(v, 'x', BIG_VALUE);
    v[BIG_VALUE] = '\0';
    int n = snprintf(v, sizeof(v), "value-%llu", (unsigned long long)i);
    v[n] = 'x';
    return v;
}

/* Persists puts first..last (at most 16; term 1): entry i sets
 * "k<i % mod>" to big_value(i). */
static void append_puts(struct store *s, raft_index first, raft_index last,
                        raft_index mod)
{
    static uint8_t bufs[16][BIG_VALUE + 64];
    struct raft_entry e[16];
    size_t n = 0;
    for (raft_index i = first; i <= last; i++, n++) {
        char k[16];
        snprintf(k, sizeof(k), "k%llu", (unsigned long long)(i % mod));
        const char *v = big_value(i);
        struct command c = {.op = COMMAND_OP_PUT,
                            .key = (const uint8_t *)k,
                            .key_len = (uint32_t)strlen(k),
                            .value = (const uint8_t *)v,
                            .value_len = (uint32_t)strlen(v)};
        size_t len = 0;
        assert_true(n < 16);
        assert_int_equal(command_encode(&c, bufs[n], sizeof(bufs[n]), &len),
                         ERR_OK);
        e[n] =
            (struct raft_entry){1, RAFT_ENTRY_NORMAL, (uint32_t)len, bufs[n]};
    }
    struct store_batch b = {.has_hard_state = true,
                            .term = 1,
                            .entries_first_index = first,
                            .n_entries = n,
                            .entries = e};
    assert_int_equal(store_persist(s, &b), ERR_OK);
}

/* The value of key through the store (its crc checked), as a string cut
 * at its first 'x' (big_value's padding), or "err N". */
static const char *kv_value(struct store *s, const char *key)
{
    static char out[64];
    const uint8_t *v = NULL;
    uint32_t len = 0;
    int err =
        store_kv_get(s, (const uint8_t *)key, (uint32_t)strlen(key), &v, &len);
    if (err != ERR_OK) {
        snprintf(out, sizeof(out), "err %d", err);
    } else {
        snprintf(out, sizeof(out), "%.*s", (int)len, (const char *)v);
        out[strcspn(out, "x")] = '\0';
    }
    return out;
}

/* Applies entries first..last of append_puts (same mod) through
 * store_kv_put_at, in one transaction. */
static void apply_puts(struct store *s, raft_index first, raft_index last,
                       raft_index mod)
{
    assert_int_equal(store_kv_begin(s), ERR_OK);
    for (raft_index i = first; i <= last; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%llu", (unsigned long long)(i % mod));
        const char *v = big_value(i);
        assert_int_equal(
            store_kv_put_at(s, (const uint8_t *)k, (uint32_t)strlen(k),
                            (const uint8_t *)v, (uint32_t)strlen(v), i),
            ERR_OK);
    }
    assert_int_equal(store_kv_commit(s, last), ERR_OK);
}

/* A compaction step copies at most STORE_COMPACT_FILL_ROWS values into
 * kv_data (keys written twice, then never again: every deleted row of the
 * second round holds one) and deletes only the log rows up to the last
 * one it copied; the next step goes on. A new key's value is in its row
 * from the start (the first round). */
static void test_compact_step_bounds_its_copies(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    enum { K = STORE_COMPACT_FILL_ROWS + 8, N = 2 * K };
    for (raft_index i = 1; i <= N; i += 8) { /* K is a multiple of 8. */
        raft_index last = i + 7;
        append_puts(f->s, i, last, K);
        apply_puts(f->s, i, last, K);
        if (last == K) {
            assert_string_equal(
                sql(f->path, "SELECT count(*) FROM kv_data WHERE ref IS NULL"),
                "40");
        }
    }
    assert_string_equal(
        sql(f->path, "SELECT count(*) FROM kv_data WHERE ref IS NULL"), "0");
    assert_int_equal(store_compact(f->s, N, 1, CONFIG, 0), ERR_OK);
    size_t n = 0;
    assert_int_equal(store_compact_step(f->s, 1000, &n), ERR_OK);
    assert_int_equal(n, K + STORE_COMPACT_FILL_ROWS);
    assert_string_equal(
        sql(f->path, "SELECT count(*) FROM kv_data WHERE ref IS NULL"), "32");
    assert_int_equal(store_compact_step(f->s, 1000, &n), ERR_OK);
    assert_int_equal(n, 8);
    assert_false(store_compact_pending(f->s));
    assert_string_equal(
        sql(f->path, "SELECT count(*), sum(length(value)) FROM kv"),
        "40|44000");
    assert_string_equal(
        sql(f->path, "SELECT count(*) FROM kv_data WHERE ref IS NULL"), "40");
}

/* Issue 21: a large value put through store_kv_put_at is kept once, in
 * the log row: kv_data refers to it, the kv view shows it as before (a
 * small one is copied into its row); a compaction step copies in the
 * values of the rows it deletes first, and an edit through the view (the
 * sqlite3 shell) still trips the crc. */
static void test_kv_refers_to_the_log_until_compaction(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_puts(f->s, 1, 10, 3);
    apply_puts(f->s, 1, 10, 3);
    assert_string_equal(
        sql(f->path, "SELECT ref, value FROM kv_data WHERE key = 'k1'"), "10|");
    assert_string_equal(sql(f->path, "SELECT length(value), substr(value, 1, 8)"
                                     " FROM kv WHERE key = 'k1'"),
                        "1100|value-10");
    assert_string_equal(sql(f->path, "SELECT count(*) FROM kv"), "3");
    /* Compact to 9, keeping nothing: k0 (9) and k2 (8) are copied in,
     * k1 still refers to row 10. */
    assert_int_equal(store_compact(f->s, 9, 1, CONFIG, 0), ERR_OK);
    size_t n = 0;
    while (store_compact_pending(f->s)) {
        assert_int_equal(store_compact_step(f->s, 4, &n), ERR_OK);
    }
    assert_string_equal(sql(f->path, "SELECT min(idx) FROM log"), "10");
    assert_string_equal(sql(f->path,
                            "SELECT ref, length(value), substr(value, 1, 7)"
                            " FROM kv_data WHERE key = 'k0'"),
                        "NULL|1100|value-9");
    assert_string_equal(sql(f->path,
                            "SELECT ref, length(value), substr(value, 1, 7)"
                            " FROM kv_data WHERE key = 'k2'"),
                        "NULL|1100|value-8");
    reopen_source(f);
    assert_string_equal(kv_value(f->s, "k0"), "value-9");
    assert_string_equal(kv_value(f->s, "k1"), "value-10");
    assert_string_equal(kv_value(f->s, "k2"), "value-8");
    /* A small value (the next put, 11, is not in the log yet: persist). */
    append_puts(f->s, 11, 11, 3);
    assert_int_equal(store_kv_begin(f->s), ERR_OK);
    assert_int_equal(store_kv_put_at(f->s, (const uint8_t *)"small", 5,
                                     (const uint8_t *)"s", 1, 11),
                     ERR_OK);
    assert_int_equal(store_kv_commit(f->s, 11), ERR_OK);
    assert_string_equal(
        sql(f->path, "SELECT ref, value FROM kv_data WHERE key = 'small'"),
        "NULL|s");
    store_close(f->s);
    f->s = NULL;
    sql(f->path, "UPDATE kv SET value = 'evil' WHERE key = 'k1'");
    assert_string_equal(
        sql(f->path, "SELECT ref, value FROM kv_data WHERE key = 'k1'"),
        "NULL|evil");
    f->s = open_at(f, f->path, 1);
    char want[32];
    snprintf(want, sizeof(want), "err %d", ERR_DAMAGED);
    assert_string_equal(kv_value(f->s, "k1"), want);
}

/* ---- The log's segment tables (schema version 7) --------------------- */

/* Runs compaction steps until none is pending; returns the rows they
 * compacted. */
static size_t compact_all(struct store *s)
{
    size_t n = 0, total = 0;
    while (store_compact_pending(s)) {
        assert_int_equal(store_compact_step(s, STORE_COMPACT_STEP_ROWS, &n),
                         ERR_OK);
        total += n;
    }
    return total;
}

/* The segment tables' names, oldest first, as "log_from_1,log_from_11". */
static const char *segments(const char *path)
{
    return sql(path, "SELECT group_concat(name) FROM (SELECT name FROM"
                     " sqlite_master WHERE type = 'table' AND name LIKE"
                     " 'log_from_%' ORDER BY CAST(substr(name, 10) AS"
                     " INTEGER))");
}

/* Noops first..last of term, `per` to a batch (a new segment can start
 * only at a batch's first entry). */
static void append_batches(struct store *s, raft_index first, raft_index last,
                           raft_term term, raft_index per)
{
    for (raft_index i = first; i <= last; i += per) {
        append_noops(s, i, i + per - 1 <= last ? i + per - 1 : last, term);
    }
}

/* A new tail starts once the tail holds the segment's rows; a compaction
 * step drops the segments wholly below its point and hides the rows of
 * the one it reaches into, which stay in that table until the point
 * passes its end; a restart loads the same log. */
static void test_log_segments_dropped_whole(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    store_set_log_segment_rows(f->s, 10);
    append_batches(f->s, 1, 45, 1, 5);
    assert_string_equal(segments(f->path), "log_from_1,log_from_11,"
                                           "log_from_21,log_from_31,"
                                           "log_from_41");
    assert_string_equal(sql(f->path, "SELECT count(*) FROM log_from_21"), "10");
    apply_to(f->s, 40, 1);
    assert_int_equal(store_compact(f->s, 40, 1, CONFIG, 15), ERR_OK);
    assert_int_equal(compact_all(f->s), 25);
    assert_string_equal(segments(f->path),
                        "log_from_21,log_from_31,log_from_41");
    assert_string_equal(sql(f->path, "SELECT count(*), min(idx), max(idx)"
                                     " FROM log"),
                        "20|26|45");
    assert_string_equal(sql(f->path, "SELECT count(*) FROM log_from_21"), "10");
    struct raft_entry out[4];
    size_t n = 0;
    assert_int_equal(store_fetch(f->s, 26, 27, 1 << 20, out, 4, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(store_fetch(f->s, 25, 25, 1 << 20, out, 4, &n),
                     ERR_NOT_FOUND);
    reopen_source(f);
    store_set_log_segment_rows(f->s, 10);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.compacted_index, 25);
    assert_int_equal(l.first_index, 26);
    assert_int_equal(l.n_entries, 20);
    store_loaded_free(&l);
    /* Read table by table, a term's run goes on across tables. */
    assert_int_equal(store_load_window(f->s, 2, &l), ERR_OK);
    assert_int_equal(l.first_index, 39);
    assert_int_equal(l.n_runs, 1);
    assert_int_equal(l.runs[0].first, 26);
    assert_int_equal(l.runs[0].term, 1);
    store_loaded_free(&l);
    /* Appends go on in the tail, then in a new one; log_from_21 stays
     * while a row of it (28..30) is above the point, and goes with the
     * compaction that passes its last row. */
    append_batches(f->s, 46, 55, 1, 5);
    assert_string_equal(segments(f->path), "log_from_21,log_from_31,"
                                           "log_from_41,log_from_51");
    apply_to(f->s, 50, 1);
    assert_int_equal(store_compact(f->s, 50, 1, CONFIG, 23), ERR_OK);
    assert_int_equal(compact_all(f->s), 2);
    assert_string_equal(segments(f->path), "log_from_21,log_from_31,"
                                           "log_from_41,log_from_51");
    assert_string_equal(sql(f->path, "SELECT min(idx), max(idx) FROM log"),
                        "28|55");
    apply_to(f->s, 55, 1);
    assert_int_equal(store_compact(f->s, 55, 1, CONFIG, 25), ERR_OK);
    assert_int_equal(compact_all(f->s), 3);
    assert_string_equal(segments(f->path),
                        "log_from_31,log_from_41,log_from_51");
    assert_string_equal(sql(f->path, "SELECT min(idx), max(idx) FROM log"),
                        "31|55");
}

/* Values found only in log rows of segments a compaction drops are
 * copied into kv_data first (in the step that hides the rows), so every
 * key reads the same before and after the tables go, and after a
 * restart. */
static void test_kv_refs_survive_dropped_segments(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    store_set_log_segment_rows(f->s, 4);
    for (raft_index i = 1; i <= 12; i += 2) {
        append_puts(f->s, i, i + 1, 5); /* k0..k4, each twice. */
    }
    apply_puts(f->s, 1, 12, 5);
    assert_string_equal(segments(f->path), "log_from_1,log_from_5,log_from_9");
    assert_string_equal(sql(f->path, "SELECT count(*) FROM kv_data"
                                     " WHERE ref IS NOT NULL"),
                        "5");
    assert_int_equal(store_compact(f->s, 10, 1, CONFIG, 0), ERR_OK);
    assert_int_equal(compact_all(f->s), 10);
    assert_string_equal(segments(f->path), "log_from_9");
    /* k1 (11) and k2 (12) still refer to the log; the rest were copied. */
    assert_string_equal(sql(f->path, "SELECT group_concat(key) FROM"
                                     " (SELECT key FROM kv_data WHERE ref IS"
                                     " NOT NULL ORDER BY key)"),
                        "k1,k2");
    reopen_source(f);
    const char *want[5] = {"value-10", "value-11", "value-12", "value-8",
                           "value-9"};
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        assert_string_equal(kv_value(f->s, k), want[i]);
    }
}

/* The configuration in force comes from the newest config entry whatever
 * table holds it, read table by table. */
static void test_members_base_across_segments(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    store_set_log_segment_rows(f->s, 4);
    struct raft_entry c = {1, RAFT_ENTRY_CONFIG, (uint32_t)strlen(CONFIG),
                           (const uint8_t *)CONFIG};
    struct store_batch b = {.has_hard_state = true,
                            .term = 1,
                            .voted_for = 1,
                            .entries_first_index = 1,
                            .n_entries = 1,
                            .entries = &c};
    assert_int_equal(store_persist(f->s, &b), ERR_OK);
    append_batches(f->s, 2, 13, 1, 3);
    assert_string_equal(segments(f->path), "log_from_1,log_from_5,log_from_11");
    char buf[64];
    raft_index at = 0;
    assert_int_equal(store_members_base(f->s, 14, buf, sizeof buf, &at),
                     ERR_OK);
    assert_string_equal(buf, CONFIG);
    assert_int_equal(at, 1);
    assert_int_equal(store_members_base(f->s, 1, buf, sizeof buf, &at),
                     ERR_NOT_FOUND);
}

/* A table also ends once the entries appended to it reach the bytes
 * bound: dropping it reads each of its pages, so large values make
 * smaller tables. */
static void test_log_segments_bounded_in_bytes(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    store_set_log_segment_rows(f->s, 1000);
    store_set_log_segment_bytes(f->s, 3000);
    for (raft_index i = 1; i <= 12; i += 2) {
        append_puts(f->s, i, i + 1, 5); /* ~1,100 bytes each. */
    }
    assert_string_equal(segments(f->path), "log_from_1,log_from_5,log_from_9");
    assert_string_equal(sql(f->path, "SELECT count(*), max(idx) FROM log"),
                        "12|12");
}

/* A conflicting suffix goes: the segments from its first index on are
 * dropped, the rest deleted from the one holding it, and the new entries
 * follow in that one. */
static void test_log_truncation_across_segments(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    store_set_log_segment_rows(f->s, 10);
    append_batches(f->s, 1, 35, 1, 5);
    assert_string_equal(segments(f->path), "log_from_1,log_from_11,"
                                           "log_from_21,log_from_31");
    struct raft_entry e[3] = {{2, RAFT_ENTRY_NOOP, 0, NULL},
                              {2, RAFT_ENTRY_NOOP, 0, NULL},
                              {2, RAFT_ENTRY_NOOP, 0, NULL}};
    struct store_batch b = {.has_hard_state = true,
                            .term = 2,
                            .voted_for = 1,
                            .truncate_from = 15,
                            .entries_first_index = 15,
                            .n_entries = 3,
                            .entries = e};
    assert_int_equal(store_persist(f->s, &b), ERR_OK);
    assert_string_equal(segments(f->path), "log_from_1,log_from_11");
    assert_string_equal(sql(f->path, "SELECT count(*), max(idx),"
                                     " sum(term = 2) FROM log"),
                        "17|17|3");
    assert_string_equal(sql(f->path, "SELECT min(idx), max(idx)"
                                     " FROM log_from_11"),
                        "11|17");
    /* A truncation at the oldest segment's first row empties it. */
    b.truncate_from = 1;
    b.entries_first_index = 1;
    b.term = 3;
    e[0].term = e[1].term = e[2].term = 3;
    assert_int_equal(store_persist(f->s, &b), ERR_OK);
    assert_string_equal(segments(f->path), "log_from_1");
    reopen_source(f);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_OK);
    assert_int_equal(l.first_index, 1);
    assert_int_equal(l.n_entries, 3);
    assert_int_equal(l.entries[2].term, 3);
    store_loaded_free(&l);
}

/* The sqlite3 shell edits the log through the view as it did the table:
 * an UPDATE reaches the row in its segment (and trips its crc), a DELETE
 * removes it, an INSERT goes to the segment of its index. */
static void test_log_view_takes_shell_edits(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    store_set_log_segment_rows(f->s, 10);
    append_batches(f->s, 1, 25, 1, 5);
    store_close(f->s);
    f->s = NULL;
    sql(f->path, "UPDATE log SET term = 9 WHERE idx = 15");
    assert_string_equal(sql(f->path, "SELECT term FROM log_from_11"
                                     " WHERE idx = 15"),
                        "9");
    sql(f->path, "DELETE FROM log WHERE idx = 25");
    sql(f->path, "INSERT INTO log SELECT 25, term, op, key, value, expected,"
                 " client_id, seq, data, crc FROM log WHERE idx = 24");
    assert_string_equal(sql(f->path, "SELECT count(*) FROM log_from_21"
                                     " WHERE idx = 25"),
                        "1");
    f->s = open_at(f, f->path, 1);
    struct store_loaded l;
    assert_int_equal(store_load(f->s, &l), ERR_DAMAGED);
    assert_non_null(strstr(store_errmsg(f->s), "15"));
}

/* An install that keeps the log's suffix drops the segments wholly below
 * the snapshot; one that keeps nothing leaves one empty segment, from the
 * snapshot's next index. */
static void test_install_drops_segments(void **state)
{
    struct fixture *f = *state;
    make_source(f);
    size_t len = 0;
    uint8_t *img = slurp(f->image, &len);
    f->r = open_at(f, f->path2, 2);
    store_set_log_segment_rows(f->r, 30);
    append_batches(f->r, 1, 104, 2, 8);
    assert_string_equal(segments(f->path2), "log_from_1,log_from_33,"
                                            "log_from_65,log_from_97");
    stage_all(f->r, 100, 2, img, len, 60000);
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_OK);
    assert_string_equal(segments(f->path2), "log_from_97");
    assert_string_equal(sql(f->path2, "SELECT min(idx), max(idx) FROM log"),
                        "101|104");
    /* A log with another term at 100 goes whole. */
    char path3[160];
    snprintf(path3, sizeof(path3), "%s/node3.db", f->dir);
    store_close(f->r);
    f->r = open_at(f, path3, 3);
    store_set_log_segment_rows(f->r, 30);
    append_batches(f->r, 1, 104, 1, 8);
    stage_all(f->r, 100, 2, img, len, 60000);
    assert_int_equal(store_snapshot_install(f->r, 100, 2), ERR_OK);
    assert_string_equal(segments(path3), "log_from_101");
    assert_string_equal(sql(path3, "SELECT count(*) FROM log"), "0");
    free(img);
}

/* A version 6 file (the log a table, kv a view joining it) moves to
 * version 7 at open: the log table becomes the first segment, and both
 * views read what they did. */
static void test_migration_from_version_6(void **state)
{
    struct fixture *f = *state;
    f->s = open_at(f, f->path, 1);
    append_puts(f->s, 1, 10, 3);
    apply_puts(f->s, 1, 10, 3);
    store_close(f->s);
    f->s = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP VIEW kv; DROP VIEW log;"
                     " ALTER TABLE log_from_1 RENAME TO log;"
                     " CREATE VIEW kv(key, value, crc) AS SELECT d.key,"
                     " CASE WHEN d.ref IS NULL THEN d.value ELSE l.value END,"
                     " d.crc FROM kv_data d LEFT JOIN log l ON l.idx = d.ref;"
                     " PRAGMA user_version = 6;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    f->s = open_at(f, f->path, 1);
    assert_string_equal(sql(f->path, "PRAGMA user_version"), "7");
    assert_string_equal(segments(f->path), "log_from_1");
    assert_string_equal(sql(f->path, "SELECT count(*), max(idx) FROM log"),
                        "10|10");
    assert_string_equal(sql(f->path, "SELECT substr(value, 1, 8) FROM kv"
                                     " WHERE key = 'k1'"),
                        "value-10");
    assert_string_equal(kv_value(f->s, "k1"), "value-10");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_compact_refuses_past_applied),
        T(test_compact_deletes_in_batches_keeping_k),
        T(test_load_after_compaction_keeps_the_kept_rows),
        T(test_load_with_deletes_pending),
        T(test_image_round_trip_through_install),
        T(test_image_made_in_a_child),
        T(test_install_refuses_damaged_image),
        T(test_stage_resumes_after_reopen),
        T(test_install_keeps_matching_suffix),
        T(test_install_drops_conflicting_log),
        T(test_install_crash_leaves_old_or_new),
        T(test_install_rolls_back_a_bad_record),
        T(test_install_rolls_back_a_late_malformed_record),
        T(test_migration_from_version_2),
        T(test_eviction_order),
        T(test_kv_refers_to_the_log_until_compaction),
        T(test_log_segments_dropped_whole),
        T(test_kv_refs_survive_dropped_segments),
        T(test_members_base_across_segments),
        T(test_log_segments_bounded_in_bytes),
        T(test_log_truncation_across_segments),
        T(test_log_view_takes_shell_edits),
        T(test_install_drops_segments),
        T(test_migration_from_version_6),
        T(test_compact_step_bounds_its_copies),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
