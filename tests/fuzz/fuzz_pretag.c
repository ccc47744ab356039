/*
 * fuzz_pretag.c - libFuzzer target for the pre_tag_map parser and
 * evaluator (map files are untrusted input).  Not part of the automake
 * build; from a build dir that has run `make check` (for libfakehost):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -I /work/main/sdk/include -I /work/main/tests -I /work/main/modules/tag \
 *       /work/main/tests/fuzz/fuzz_pretag.c /work/main/modules/tag/pretag.c /work/main/modules/tag/pretag_parse.c \
 *       tests/.libs/libfakehost.a -lpcap -o /tmp/fuzz_pretag
 *   mkdir -p /tmp/pretag-corpus && /tmp/fuzz_pretag -max_len=4096 /tmp/pretag-corpus /work/main/tests/fuzz/corpus/pretag
 *
 * The input is written to a temp file, loaded, and on success evaluated
 * against a few records.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakehost.h"
#include "pretag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/fuzz_pretag.XXXXXX", err[512];
    struct pt_limits lim = {100000, 4096};
    struct pt_map *m = NULL;
    struct pt_result res;
    struct pm_rec r;
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    if (pt_load(path, fakehost(), &lim, &m, err, sizeof(err)) == 0) {
        for (int i = 0; i < 4; i++) {
            memset(&r, 0, sizeof(r));
            r.in_iface = (uint32_t)i;
            r.vlan = (uint16_t)(i * 10);
            r.proto = i & 1 ? 6 : 17;
            r.src_host.af = r.dst_host.af = (uint8_t)(i < 2 ? 4 : 6);
            r.peer_src_ip.af = 4;
            r.peer_src_ip.a[0] = 192;
            pt_eval(m, &r, &res, NULL, NULL);
        }
        pt_free(m);
    }
    unlink(path);
    return 0;
}
