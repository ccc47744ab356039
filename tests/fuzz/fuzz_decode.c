/*
 * fuzz_decode.c - libFuzzer target for the packet decoder.  Not part of
 * the automake build; build and run by hand:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -I sdk/include -I core -D_GNU_SOURCE \
 *       tests/fuzz/fuzz_decode.c core/decode.c -o /tmp/fuzz_decode
 *   /tmp/fuzz_decode -max_len=2048 -runs=10000000
 *
 * The first input byte selects the link type; the rest is the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int dlts[] = {PM_DLT_EN10MB, PM_DLT_RAW,    14,
                               101,           PM_DLT_LINUX_SLL, PM_DLT_LINUX_SLL2,
                               PM_DLT_NULL,   PM_DLT_LOOP,   PM_DLT_IPV4,
                               PM_DLT_IPV6};
    struct pm_rec r;
    uint8_t *copy;
    if (size < 1)
        return 0;
    /* an exact-size heap copy so ASan sees any over-read */
    copy = malloc(size - 1 ? size - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    memset(&r, 0, sizeof(r));
    pmc_decode_packet(&r, dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))],
                      copy, (uint32_t)(size - 1), (uint32_t)(size - 1), 0);
    if (r.l3_off != 0xffff && r.l3_off > size - 1)
        abort();
    free(copy);
    return 0;
}
