/*
 * libFuzzer target for the wire codec: any byte string must either be
 * rejected with a decode error or decode into a message that re-encodes in
 * no more bytes and decodes again to the same message (tests/lib/
 * wire_check.c aborts otherwise). Also built with tests/fuzz/replay.c so
 * ctest replays the seed corpus with any compiler.
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/lib/wire_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)wire_check_roundtrip(data, size, WIRE_CHECK_CLUSTER);
    return 0;
}
