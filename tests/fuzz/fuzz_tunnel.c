/*
 * fuzz_tunnel.c - libFuzzer target over the tunnel transform (GTP-U, GRE,
 * VXLAN decapsulation) with the fake host.  The first input byte picks the
 * mode (bit 0: replace / tunnel); the rest is an Ethernet frame, handed to
 * the module as rec->pkt in an exact-size heap copy (ASan sees any
 * over-read).  Stacks cover every protocol at every depth.  Build by hand
 * (SRC=/work/main; list every core/ *.c of libpmdata: see core/data.am):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -I$SRC/sdk/include -I$SRC/core -I$SRC/tests \
 *     $SRC/tests/fuzz/fuzz_tunnel.c $SRC/modules/tunnel/tunnel.c \
 *     $SRC/tests/fakehost.c $SRC/core/batch.c $SRC/core/prim.c \
 *     $SRC/core/prim_table.c $SRC/core/render.c $SRC/core/cache.c $SRC/core/cache_walk.c \
 *     $SRC/core/decode.c $SRC/core/optval.c $SRC/core/frag.c \
 *     -lpthread -o fuzz_tunnel
 *   ./fuzz_tunnel -max_len=2048 $SRC/tests/fuzz/corpus/tunnel
 *
 * The seed corpus holds one GTP-U (with extension header), GTP-U with IPv6
 * inside, VXLAN, GRE (checksum+key+sequence), GRE bridging and nested GRE
 * frame, each prefixed by the mode byte.  Nothing is shared between
 * threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

static void *g_ctx[2];
static void *g_cfg[2];
static struct pm_batch *g_batch;

static void setup(void)
{
    const struct pm_module_desc *d = pm_module_descriptor();
    static const char *modes[2] = {"replace", "tunnel"};

    fakehost_reset();
    for (int m = 0; m < 2; m++) {
        struct pm_instance *inst = fakehost_instance(
            "tunnel", m ? "fuzz_tunnel" : "fuzz_replace", PM_KIND_TRANSFORM,
            "src_host,dst_host,proto,tunnel_src_host,vxlan,gtp_teid");
        g_cfg[m] = fakehost_config(
            d, inst, "tunnel_0", "gtp, 2152; gre; vxlan; gtp, 2152", "tunnel_1",
            "vxlan; gtp, 2152; gre; vxlan", "tunnel_2", "gre; gre; gre; gre",
            "tunnel_3", "gre; vxlan; gtp, 2152; gre", "tunnel_mode", modes[m],
            NULL);
        if (d->init(fakehost(), inst, g_cfg[m], &g_ctx[m]) < 0)
            abort();
    }
    g_batch = fakehost_batch(1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct pm_module_desc *d = pm_module_descriptor();
    const struct pm_host *h;
    struct pm_rec *r;
    uint8_t *copy;
    size_t n;
    int m;

    if (size < 1 || size > 65535)
        return 0;
    if (!g_ctx[0])
        setup();
    h = fakehost();
    m = data[0] & 1;
    n = size - 1;
    copy = malloc(n ? n : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, n);
    g_batch->n = 0;
    g_batch->ndropped = 0;
    g_batch->arena_len = 0;
    memset(g_batch->drop, 0, 8);
    r = pm_batch_rec(g_batch, 0);
    memset(r, 0, g_batch->rec_size);
    r->l3_off = r->l4_off = r->payload_off = 0xffff;
    h->decode_packet(r, PM_DLT_EN10MB, copy, (uint32_t)n, (uint32_t)n, 0);
    r->pkt = copy;
    r->pkt_caplen = r->pkt_len = (uint32_t)n;
    r->dlt = PM_DLT_EN10MB;
    g_batch->n = 1;
    if (d->process(g_ctx[m], g_batch) != 0)
        abort();
    /* offsets must stay inside the packet */
    if ((r->l3_off != 0xffff && r->l3_off > n) ||
        (r->l4_off != 0xffff && r->l4_off > n) ||
        (r->payload_off != 0xffff && r->payload_off > n))
        abort();
    free(copy);
    return 0;
}
