/*
 * fuzz_sflow.c - libFuzzer target over the sFlow datagram decoder
 * (sf_decode_datagram) with the fake host: every input is one datagram.
 * Build by hand from a configured build dir (after `make`):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -I$SRC/sdk/include -I$SRC/core -I$SRC/tests -I$SRC/modules/sflow \
 *     $SRC/tests/fuzz/fuzz_sflow.c $SRC/modules/sflow/sflow.c \
 *     $SRC/modules/sflow/sf_decode.c $SRC/modules/sflow/sf_ext.c \
 *     $SRC/modules/sflow/sf_counters.c $SRC/modules/common/udpin.c \
 *     $SRC/tests/fakehost.c $SRC/core/batch.c $SRC/core/prim.c \
 *     $SRC/core/prim_table.c $SRC/core/render.c $SRC/core/cache.c $SRC/core/cache_walk.c \
 *     $SRC/core/decode.c $SRC/core/optval.c -lpcap -lpthread -o fuzz_sflow
 *   ./fuzz_sflow -max_len=65535 $SRC/tests/fuzz/corpus/sflow
 *
 * (SRC=/work/main; list every core/*.c of libpmdata: see core/data.am.)
 * The seed corpus holds the datagrams of tests/data/sflow/ *.pcap.
 * Nothing is shared between threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fakehost.h"
#include "sf_internal.h"

const struct pm_module_desc *pm_module_descriptor(void);

static void *g_ctx;
static void *g_cfg;
static uint32_t g_n;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct pm_module_desc *d = pm_module_descriptor();
    pm_ts_t ts = {1700000000, 0, 0};
    pm_ip_t src;
    static const uint8_t a4[4] = {192, 0, 2, 1};
    uint8_t *copy;

    if (!g_ctx || ++g_n % 512 == 0) {
        /* bound the emitted batches the fake host keeps */
        if (g_ctx) {
            d->fini(g_ctx);
            fakehost_config_free(d, g_cfg);
        }
        fakehost_reset();
        {
            struct pm_instance *inst =
                fakehost_instance("sflow", "fuzz", PM_KIND_CAPTURE,
                                  "src_host,dst_host,as_path,std_comm,vlan");
            g_cfg = fakehost_config(d, inst, "sfacctd_counter_file",
                                    "/dev/null", NULL);
            if (d->init(fakehost(), inst, g_cfg, &g_ctx) < 0)
                abort();
            if (sf_counters_open(g_ctx) < 0)
                abort();
        }
    }
    pm_ip_set4(&src, a4);
    copy = malloc(size ? size : 1); /* exact size: ASan sees overreads */
    memcpy(copy, data, size);
    (void)sf_decode_datagram(g_ctx, copy, size, &src, &ts);
    sf_flush_batch(g_ctx);
    free(copy);
    return 0;
}
