/*
 * Writes the wire seed corpus: every sample message of tests/lib/
 * wire_check.c, encoded, one file each, named by index and type. Run it as
 * fuzz_gen_corpus tests/fuzz/corpus/wire and commit the files.
 */
#include <stdio.h>

#include "common/err.h"
#include "common/wire.h"
#include "tests/lib/wire_check.h"

static const char *const type_names[MSG__COUNT] = {
    [MSG_VOTE] = "vote",
    [MSG_VOTE_REPLY] = "vote_reply",
    [MSG_APPEND] = "append",
    [MSG_APPEND_REPLY] = "append_reply",
    [MSG_SNAPSHOT] = "snapshot",
    [MSG_SNAPSHOT_REPLY] = "snapshot_reply",
    [MSG_TIMEOUT_NOW] = "timeout_now",
    [MSG_CLIENT] = "client",
    [MSG_CLIENT_REPLY] = "client_reply",
    [MSG_STATUS] = "status",
    [MSG_STATUS_REPLY] = "status_reply",
    [MSG_FAULT] = "fault",
    [MSG_FAULT_REPLY] = "fault_reply",
    [MSG_READ_INDEX] = "read_index",
    [MSG_READ_INDEX_REPLY] = "read_index_reply",
    [MSG_CLIENT_BATCH] = "client_batch",
    [MSG_CHECK] = "check",
    [MSG_CHECK_REPLY] = "check_reply",
    [MSG_TRACE] = "trace",
    [MSG_TRACE_EVENTS] = "trace_events",
};

int main(int argc, char **argv)
{
    static uint8_t buf[RAFT_DATAGRAM_MAX];
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_gen_corpus DIR\n");
        return 2;
    }
    for (int i = 0; i < wire_check_n_samples(); i++) {
        struct raft_msg m;
        size_t len;
        char path[4096];
        wire_check_sample(i, &m);
        int rc = wire_encode(&m, WIRE_CHECK_CLUSTER, buf, sizeof buf, &len);
        if (rc != ERR_OK) {
            fprintf(stderr, "sample %d: %s\n", i, err_str(rc));
            return 1;
        }
        snprintf(path, sizeof path, "%s/%02d-%s.bin", argv[1], i,
                 type_names[m.type]);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
    }
    return 0;
}
