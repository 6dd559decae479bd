/*
 * Unit tests of launcher/web_stream.c, the page's line stream: a new reader
 * gets the meta line, each member's latest status and fault lines and the
 * recent events (oldest first), then only new lines as SSE records; a
 * reader that lags more than the ring skips ahead with a "skipped" line;
 * a snapshot larger than the caller's buffer resumes at the next read;
 * the trace hook puts a msg line's "t" on the stream's clock; a closed
 * stream ends every reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "launcher/web_stream.h"

#define CAP (1 << 20)

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL;
         p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* A fresh stream and a reader that has taken its (empty) snapshot. */
static char *open_empty(struct web_stream *s, struct web_stream_reader *r)
{
    assert_int_equal(web_stream_init(s), 0);
    char *buf = malloc(CAP);
    assert_non_null(buf);
    memset(r, 0, sizeof(*r));
    assert_int_equal(web_stream_read(s, r, buf, CAP, 1), 0);
    return buf;
}

static void test_snapshot_then_live(void **state)
{
    (void)state;
    static struct web_stream s;
    assert_int_equal(web_stream_init(&s), 0);
    web_stream_push(&s, WEB_LINE_META, 0, "{\"k\":\"meta\"}");
    web_stream_push(&s, WEB_LINE_STATUS, 1,
                    "{\"k\":\"status\",\"id\":1,\"n\":1}");
    web_stream_push(&s, WEB_LINE_STATUS, 1,
                    "{\"k\":\"status\",\"id\":1,\"n\":2}");
    web_stream_push(&s, WEB_LINE_FAULT, 2, "{\"k\":\"fault\",\"id\":2}");
    web_stream_push(&s, WEB_LINE_EVENT, 0, "{\"k\":\"event\",\"n\":1}");
    web_stream_push(&s, WEB_LINE_EVENT, 0, "{\"k\":\"event\",\"n\":2}");
    char *buf = malloc(CAP);
    struct web_stream_reader r = {0};
    long n = web_stream_read(&s, &r, buf, CAP, 10);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_int_equal(strncmp(buf, "data: {\"k\":\"meta\"}\n\n", 20), 0);
    assert_int_equal(count(buf, "\"status\""), 1); /* Only the latest. */
    assert_non_null(strstr(buf, "\"n\":2}"));
    assert_int_equal(count(buf, "\"fault\""), 1);
    assert_true(strstr(buf, "\"event\",\"n\":1") <
                strstr(buf, "\"event\",\"n\":2"));
    assert_int_equal(web_stream_read(&s, &r, buf, CAP, 10), 0); /* Nothing. */
    web_stream_push(&s, WEB_LINE_OTHER, 0, "{\"k\":\"x\"}");
    n = web_stream_read(&s, &r, buf, CAP, 10);
    buf[n] = '\0';
    assert_string_equal(buf, "data: {\"k\":\"x\"}\n\n");
    web_stream_close(&s);
    assert_int_equal(web_stream_read(&s, &r, buf, CAP, 10), -1);
    web_stream_free(&s);
    free(buf);
}

/* A snapshot larger than the caller's buffer (libmicrohttpd gives about
 * 16 KiB) resumes at the next read: every event arrives, the newest last,
 * and the lines pushed meanwhile follow it. */
static void test_snapshot_resumes(void **state)
{
    (void)state;
    static struct web_stream s;
    assert_int_equal(web_stream_init(&s), 0);
    web_stream_push(&s, WEB_LINE_META, 0, "{\"k\":\"meta\"}");
    char line[256];
    for (int i = 0; i < WEB_STREAM_EVENTS + 20; i++) {
        snprintf(line, sizeof(line),
                 "{\"k\":\"event\",\"text\":\"%0180d\",\"i\":%d}", 0, i);
        web_stream_push(&s, WEB_LINE_EVENT, 0, line);
    }
    char *all = calloc(1, CAP);
    char *buf = malloc(1000);
    assert_non_null(all);
    assert_non_null(buf);
    struct web_stream_reader r = {0};
    size_t len = 0;
    int reads = 0;
    long n;
    while ((n = web_stream_read(&s, &r, buf, 1000, 1)) > 0) {
        assert_true(n <= 1000);
        memcpy(all + len, buf, (size_t)n);
        len += (size_t)n;
        if (++reads == 2) { /* Pushed while the snapshot is half sent. */
            web_stream_push(&s, WEB_LINE_OTHER, 0, "{\"k\":\"x\"}");
        }
    }
    assert_true(reads > 20);
    assert_int_equal(strncmp(all, "data: {\"k\":\"meta\"}\n\n", 20), 0);
    assert_int_equal(count(all, "\"event\""), WEB_STREAM_EVENTS);
    assert_null(strstr(all, "\"i\":19}"));
    const char *newest = strstr(all, "\"i\":119}");
    assert_non_null(newest);
    assert_true(newest < strstr(all, "{\"k\":\"x\"}"));
    assert_int_equal(count(all, "{\"k\":\"x\"}"), 1);
    web_stream_free(&s);
    free(buf);
    free(all);
}

static void test_lagging_reader_skips(void **state)
{
    (void)state;
    static struct web_stream s;
    struct web_stream_reader r;
    char *buf = open_empty(&s, &r);
    char line[64];
    for (int i = 0; i < WEB_STREAM_LINES + 10; i++) {
        snprintf(line, sizeof(line), "{\"k\":\"x\",\"i\":%d}", i);
        web_stream_push(&s, WEB_LINE_OTHER, 0, line);
    }
    long n = web_stream_read(&s, &r, buf, CAP, 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_int_equal(strncmp(buf, "data: {\"t\":0,\"k\":\"skipped\"}", 27), 0);
    assert_null(strstr(buf, "\"i\":9}"));
    assert_non_null(strstr(buf, "\"i\":10}"));
    assert_int_equal(count(buf, "data: "), WEB_STREAM_LINES + 1);
    web_stream_free(&s);
    free(buf);
}

static void test_msg_hook_restamps(void **state)
{
    (void)state;
    static struct web_stream s;
    struct web_stream_reader r;
    char *buf = open_empty(&s, &r);
    web_stream_push_msg(&s,
                        "{\"t\":999999,\"k\":\"msg\",\"from\":1,\"to\":2,"
                        "\"type\":\"vote\"}",
                        0);
    web_stream_push_msg(&s, "not json", 0);
    long n = web_stream_read(&s, &r, buf, CAP, 1);
    buf[n] = '\0';
    assert_int_equal(count(buf, "data: "), 1);
    assert_null(strstr(buf, "999999"));
    assert_non_null(strstr(buf, "\"type\":\"vote\""));
    web_stream_free(&s);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_then_live),
        cmocka_unit_test(test_snapshot_resumes),
        cmocka_unit_test(test_lagging_reader_skips),
        cmocka_unit_test(test_msg_hook_restamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
