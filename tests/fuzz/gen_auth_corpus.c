/*
 * Writes the envelope seed corpus: every sample message of tests/lib/
 * wire_check.c sealed as common/udp.c would send it (by a node, with the
 * key of its type: client types under the client key), and sealed as a
 * client would (member types under the client key: wrong_key_type), one
 * file each. Run it as fuzz_gen_auth_corpus tests/fuzz/corpus/auth and
 * commit the files.
 */
#include <stdio.h>
#include <string.h>

#include "common/auth.h"
#include "common/err.h"
#include "common/wire.h"
#include "tests/fuzz/fuzz_auth_keys.h"
#include "tests/lib/wire_check.h"

static int write_one(const char *dir, const char *name, int i,
                     const uint8_t *msg, size_t len)
{
    static const struct raft_addr to = {.len = 16};
    uint8_t hdr[AUTH_HEADER_BYTES];
    if (!auth_seal(hdr, msg, len, &to)) {
        return 0;
    }
    char path[512];
    snprintf(path, sizeof path, "%.400s/%02d-%s.bin", dir, i, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr ||
        fwrite(msg, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_gen_auth_corpus DIR\n");
        return 2;
    }
    static uint8_t buf[RAFT_DATAGRAM_MAX];
    int n = wire_check_n_samples();
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        struct raft_msg m;
        wire_check_sample(i, &m);
        size_t len = 0;
        if (wire_encode(&m, WIRE_CHECK_CLUSTER, buf, sizeof buf, &len) !=
            ERR_OK) {
            continue;
        }
        fuzz_auth_keys(AUTH_ROLE_CLIENT);
        auth_force_class(-1);
        rc = write_one(argv[1], "tagged", i, buf, len);
        auth_force_class(AUTH_CLIENT);
        if (rc == 0) {
            rc = write_one(argv[1], "client_key", i, buf, len);
        }
        auth_force_class(-1);
    }
    return rc;
}
