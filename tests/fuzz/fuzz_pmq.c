/*
 * fuzz_pmq.c - libFuzzer target over the memory module's PMQ/1 request
 * parser and answer code (modules/common/pmq/, via mem_answer) with the
 * fake host.  The module is initialised once (init() opens no socket);
 * for every input the table is emptied and refilled with the same few
 * aggregates, so that show/match/counters/clear requests all have rows to
 * work on and every input sees the same state.
 *
 * Build (tests/fuzz/run-fuzzers.sh does this; S = source tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -I$S/sdk/include -I$S/core -I$S/tests -I$S/modules/memory \
 *     -I$S/modules/common/pmq $S/tests/fuzz/fuzz_pmq.c \
 *     $S/modules/memory/memory.c $S/modules/common/pmq/pmq_*.c \
 *     $S/tests/fakehost.c $S/core/batch.c \
 *     $S/core/prim.c $S/core/prim_table.c $S/core/render.c $S/core/cache.c $S/core/cache_walk.c \
 *     $S/core/decode.c $S/core/frag.c $S/core/optval.c -lpthread -lm \
 *     -o /tmp/fuzz_pmq
 *   /tmp/fuzz_pmq -max_len=4096 $S/tests/fuzz/corpus/pmq
 *
 * Single-threaded (the module's server thread is never started).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fakehost.h"
#include "memory.h"

const struct pm_module_desc *pm_module_descriptor(void);

#define AGG "src_host,dst_host,src_port,dst_port,proto"

static const char *const rows[][5] = {
    {"10.0.0.1", "10.0.0.2", "12345", "80", "tcp"},
    {"10.0.0.2", "10.0.0.1", "80", "12345", "tcp"},
    {"2001:db8::1", "2001:db8::2", "2222", "22", "tcp"},
    {"192.168.1.10", "10.0.0.1", "53", "5353", "udp"},
    {"10.0.0.3", "10.0.0.1", "0", "0", "icmp"},
};

static const struct pm_module_desc *g_d;
static void *g_ctx;

static void setup(void)
{
    struct pm_instance *inst;
    void *cfg;
    fakehost_conf("aggregate", AGG);
    g_d = pm_module_descriptor();
    inst = fakehost_instance("memory", "fuzz", PM_KIND_OUTPUT, AGG);
    cfg = fakehost_config(g_d, inst, "imt_path", "/nonexistent/fuzz.pipe",
                          "imt_buckets", "64", (const char *)NULL);
    if (!inst || !cfg || g_d->init(fakehost(), inst, cfg, &g_ctx) != 0)
        abort();
}

static void refill(void)
{
    const struct pm_host *h = fakehost();
    struct mem_ctx *m = g_ctx;
    static struct pm_batch *b;
    size_t i;
    if (!b) {
        b = fakehost_batch(16);
        for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            struct pm_rec *r = pm_batch_rec(b, b->n);
            memset(r, 0, b->rec_size);
            if (h->prim_parse(PM_P_SRC_HOST, rows[i][0], r, b) ||
                h->prim_parse(PM_P_DST_HOST, rows[i][1], r, b) ||
                h->prim_parse(PM_P_SRC_PORT, rows[i][2], r, b) ||
                h->prim_parse(PM_P_DST_PORT, rows[i][3], r, b) ||
                h->prim_parse(PM_P_PROTO, rows[i][4], r, b))
                abort();
            r->packets = i + 1;
            r->bytes = 100 * (i + 1);
            b->n++;
        }
    }
    h->cache_clear(m->t.cache);
    m->t.last_clear = 0;
    if (g_d->process(g_ctx, b) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pm_buf out = {0};
    char *copy;
    if (!g_d)
        setup();
    refill();
    /* an exact-size heap copy so ASan sees any over-read */
    copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (mem_answer(g_ctx, copy, size, &out) != 0)
        abort();
    /* every answer starts with the status line */
    if (out.len < 6 || memcmp(out.p, "PMQ/1 ", 6))
        abort();
    free(out.p);
    free(copy);
    return 0;
}
