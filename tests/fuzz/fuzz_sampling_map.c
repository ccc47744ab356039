/*
 * fuzz_sampling_map.c - libFuzzer target for the sampling_map parser of the
 * sampling transform (modules/sampling/sampling_map.c; map files are
 * untrusted input).  Run by tests/fuzz/run-fuzzers.sh sampling_map.  The
 * input is parsed from memory; on success a few exporters are looked up.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sampling.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smap *m = NULL;
    char err[512];
    pm_ip_t ip;
    int i;

    if (smap_parse("fuzz", (const char *)data, size, 1000, &m, err,
                   sizeof(err)) != 0)
        return 0;
    for (i = 0; i < 4; i++) {
        memset(&ip, 0, sizeof(ip));
        ip.af = i < 2 ? 4 : 6;
        ip.a[0] = (uint8_t)(i * 64);
        ip.a[3] = 1;
        (void)smap_lookup(m, &ip, (uint32_t)i, (uint32_t)(3 - i));
    }
    smap_free(m);
    return 0;
}
