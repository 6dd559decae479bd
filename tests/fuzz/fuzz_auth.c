/*
 * libFuzzer target for the datagram envelope (common/auth.c): any byte
 * string, taken as a received datagram (46-byte envelope, then the
 * message), must be refused or accepted without a crash, and one that is
 * accepted must be refused when it comes again (a replay). The process is
 * a node holding fixed cluster and client keys (the ones
 * fuzz_gen_auth_corpus seals the seed corpus with), with no horizon, so
 * the corpus's well-tagged datagrams are accepted once. Also built with
 * tests/fuzz/replay.c so ctest replays the seed corpus with any compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "tests/fuzz/fuzz_auth_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        fuzz_auth_keys(AUTH_ROLE_NODE);
        auth_replay_restart(0);
        started = true;
    }
    if (size < AUTH_HEADER_BYTES) {
        return 0;
    }
    struct raft_addr from;
    memset(&from, 0, sizeof from);
    from.len = 16;
    const uint8_t *msg = data + AUTH_HEADER_BYTES;
    size_t len = size - AUTH_HEADER_BYTES;
    if (auth_open(data, msg, len, &from) && auth_open(data, msg, len, &from)) {
        abort(); /* Accepted twice: a replay got through. */
    }
    return 0;
}
