/*
 * Unit tests of launcher/up_options.c, DIR/options (DESIGN.md "Snapshots
 * and compaction"): recorded at the first up, read again by start and
 * later ups, replaced option by option when given again, written with
 * mode 0600, and a malformed file refused with its path and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "launcher/cluster_dir.h"
#include "launcher/up_options.h"

struct fixture {
    struct cdir dir;
    char path[CDIR_PATH_MAX + 16];
    char errmsg[ERRMSG_LEN];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char tmpl[] = "/tmp/test_up_options.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    assert_int_equal(cdir_resolve(tmpl, &f->dir, f->errmsg), ERR_OK);
    snprintf(f->path, sizeof(f->path), "%s/options", f->dir.path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    (void)unlink(f->path);
    assert_int_equal(rmdir(f->dir.path), 0);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs(text, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
}

/* What `up` does with the flags it was given (cmd_cluster.c
 * up_record_options): the recorded options, replaced by the given ones,
 * saved when any was given. */
static void up_with(struct fixture *f, const struct up_options *given,
                    struct up_options *used)
{
    assert_int_equal(up_options_load(&f->dir, used, f->errmsg), ERR_OK);
    up_options_merge(used, given);
    bool is_given = false;
    for (int i = 0; i < UP_OPT__COUNT; i++) {
        is_given = is_given || given->is_set[i];
    }
    if (is_given) {
        assert_int_equal(up_options_save(&f->dir, used, f->errmsg), ERR_OK);
    }
}

/* Rule: the first up records what it was given (0600); start (a load)
 * and an up without flags use it again; an option given again replaces
 * only itself. */
static void test_recorded_reused_replaced(void **state)
{
    struct fixture *f = *state;
    struct up_options given, used, loaded;
    /* No file yet: every option unset (raftnode's defaults). */
    assert_int_equal(up_options_load(&f->dir, &loaded, f->errmsg), ERR_OK);
    for (int i = 0; i < UP_OPT__COUNT; i++) {
        assert_false(loaded.is_set[i]);
    }
    memset(&given, 0, sizeof(given));
    assert_int_equal(
        up_options_parse(&given, UP_OPT_SNAPSHOT_ENTRIES, "5000", f->errmsg),
        ERR_OK);
    assert_int_equal(
        up_options_parse(&given, UP_OPT_LOG_KEEP, "1000", f->errmsg), ERR_OK);
    up_with(f, &given, &used);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* start: the recorded options. */
    assert_int_equal(up_options_load(&f->dir, &loaded, f->errmsg), ERR_OK);
    assert_true(loaded.is_set[UP_OPT_SNAPSHOT_ENTRIES]);
    assert_int_equal(loaded.val[UP_OPT_SNAPSHOT_ENTRIES], 5000);
    assert_int_equal(loaded.val[UP_OPT_LOG_KEEP], 1000);
    assert_false(loaded.is_set[UP_OPT_HEARTBEAT]);
    /* A later up without flags: the same, file unchanged. */
    memset(&given, 0, sizeof(given));
    up_with(f, &given, &used);
    assert_int_equal(used.val[UP_OPT_LOG_KEEP], 1000);
    /* Given again: replaces that one, keeps the others, recorded. */
    assert_int_equal(up_options_parse(&given, UP_OPT_LOG_KEEP, "10", f->errmsg),
                     ERR_OK);
    assert_int_equal(
        up_options_parse(&given, UP_OPT_HEARTBEAT, "50", f->errmsg), ERR_OK);
    up_with(f, &given, &used);
    assert_int_equal(up_options_load(&f->dir, &loaded, f->errmsg), ERR_OK);
    assert_int_equal(loaded.val[UP_OPT_SNAPSHOT_ENTRIES], 5000);
    assert_int_equal(loaded.val[UP_OPT_LOG_KEEP], 10);
    assert_true(loaded.is_set[UP_OPT_HEARTBEAT]);
    assert_int_equal(loaded.val[UP_OPT_HEARTBEAT], 50);
    assert_false(loaded.is_set[UP_OPT_MAX_SESSIONS]);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

/* Rule: a malformed options file is a clear error naming the file, the
 * line and, for a bad value, the flag and its range; a blank line or a
 * comment is fine. */
static void test_malformed_file_is_a_clear_error(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        {"log-keep 10\nlog-kept 5\n", ":2: not an option line"},
        {"log-keep\n", ":1: not an option line"},
        {"log-keep 10 20\n", ":1: not an option line"},
        {"\n# note\nheartbeat 0\n", ":3: --heartbeat takes a number from 1"},
        {"log-keep -1\n", ":1: --log-keep takes a number from 0"},
        {"max-sessions 12x\n", ":1: --max-sessions takes a number"},
        {"snapshot-entries 99999999999\n", ":1: --snapshot-entries takes"},
    };
    struct up_options o;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(f->path, bad[i].text);
        f->errmsg[0] = '\0';
        assert_int_equal(up_options_load(&f->dir, &o, f->errmsg), ERR_INVALID);
        if (strstr(f->errmsg, bad[i].says) == NULL ||
            strstr(f->errmsg, f->path) == NULL) {
            fail_msg("%s: got \"%s\"", bad[i].text, f->errmsg);
        }
    }
    /* A line longer than any option line is refused, not cut in two. */
    char long_line[400];
    snprintf(long_line, sizeof(long_line), "log-keep %0300d\n", 7);
    write_file(f->path, long_line);
    assert_int_equal(up_options_load(&f->dir, &o, f->errmsg), ERR_INVALID);
    assert_non_null(strstr(f->errmsg, ":1: not an option line"));
    write_file(f->path, "\n# recorded by raftctl up\nelection 300\n");
    assert_int_equal(up_options_load(&f->dir, &o, f->errmsg), ERR_OK);
    assert_int_equal(o.val[UP_OPT_ELECTION], 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recorded_reused_replaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed_file_is_a_clear_error,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
