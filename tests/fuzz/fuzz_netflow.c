/*
 * fuzz_netflow.c - libFuzzer target over the netflow datagram decoder
 * (v1/v5/v7/v8/v9/IPFIX) with the fake host.  The first byte of the input
 * picks the exporter (so templates of one input persist across datagrams
 * of the same run); the rest is split into datagrams at "\xff\xfe\xfd\xfc"
 * markers so that a template and its data can come in one input.
 *
 * Build (from a configured build dir /tmp/build-netflow, after `make`):
 *   S=/work/main; B=/tmp/build-netflow
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -I$S/sdk/include -I$S/core -I$S/tests -I$S/modules/netflow \
 *     $S/tests/fuzz/fuzz_netflow.c $S/modules/netflow/netflow.c \
 *     $S/modules/netflow/nf_v5.c $S/modules/netflow/nf_v9.c \
 *     $S/modules/netflow/nf_tmpl.c $S/modules/netflow/nf_ie.c \
 *     $S/modules/common/udpin.c $S/tests/fakehost.c $S/core/batch.c \
 *     $S/core/prim.c $S/core/prim_table.c $S/core/render.c $S/core/cache.c $S/core/cache_walk.c \
 *     $S/core/decode.c $S/core/optval.c -lpcap -lpthread -lm -o /tmp/fuzz_netflow
 *   /tmp/fuzz_netflow -max_total_time=300 $S/tests/fuzz/corpus/netflow
 *
 * Single-threaded; state is rebuilt for every input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fakehost.h"
#include "nf.h"

const struct pm_module_desc *pm_module_descriptor(void);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mark[4] = {0xff, 0xfe, 0xfd, 0xfc};
    if (size < 1)
        return 0;
    const struct pm_module_desc *d = pm_module_descriptor();
    struct pm_instance *inst = fakehost_instance(
        "netflow", "fuzz", PM_KIND_CAPTURE, "src_host,dst_host");
    void *cfg = fakehost_config(d, inst, "nfacctd_pending_size", "64K",
                                "nfacctd_templates_max", "64",
                                "nfacctd_templates_timeout", "3600", NULL);
    void *ctx = NULL;
    if (d->init(fakehost(), inst, cfg, &ctx) == 0) {
        struct nf_ctx *c = ctx;
        pm_ip_t exp;
        uint8_t a[4] = {192, 0, 2, data[0]};
        pm_ip_set4(&exp, a);
        pm_ts_t now = {1700000000, 0, 0};
        size_t pos = 1;
        while (pos <= size) {
            size_t end = pos;
            while (end + 4 <= size && memcmp(data + end, mark, 4))
                end++;
            if (end + 4 > size)
                end = size;
            size_t len = end - pos;
            /* exact-size copy so ASan sees overreads */
            uint8_t *dg = malloc(len ? len : 1);
            memcpy(dg, data + pos, len);
            nf_datagram(c, dg, (uint32_t)len, &exp, &now);
            free(dg);
            now.sec += 1;
            pos = end + 4;
        }
        nf_flush(c);
        d->fini(ctx);
    }
    fakehost_config_free(d, cfg);
    fakehost_reset();
    return 0;
}
