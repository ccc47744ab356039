/*
 * fuzz_bdb.c - libFuzzer target over the bdb module's record decoder
 * (modules/bdb/bdb_codec.c): a bdb_file is input, and every stored key and
 * value goes through bdb_decode before reaching the cache.
 *
 * Input: [layout selector (1)][key length (2, big-endian)][key][value];
 * the selector picks one of three aggregates (5-tuple; every built-in
 * primitive with time bins; string primitives).  The rest is also fed to
 * bdb_meta_check as a meta record.  A key that decodes must encode back
 * to the same bytes (the format has one spelling per value).
 *
 * Build (tests/fuzz/run-fuzzers.sh does this; S = source tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -I$S/sdk/include -I$S/core -I$S/tests -I$S/modules/bdb \
 *     -I$S/modules/common/pmq $S/tests/fuzz/fuzz_bdb.c \
 *     $S/modules/bdb/bdb_codec.c $S/tests/fakehost.c <libpmdata sources> \
 *     -lpthread -lm -o /tmp/fuzz_bdb
 *   /tmp/fuzz_bdb $S/tests/fuzz/corpus/bdb
 *
 * Single-threaded.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bdb.h"
#include "fakehost.h"

#define NLAYOUTS 3

static struct bdb_layout g_l[NLAYOUTS];
static struct pm_batch *g_b;
static int g_ready;

static void setup(void)
{
    const struct pm_host *h = fakehost();
    static const char *const aggs[NLAYOUTS - 1] = {
        "src_host,dst_host,src_port,dst_port,proto",
        "as_path,std_comm,label,class,src_mac,mpls_label_stack,in_vrf"};
    char all[4096] = "", err[512];
    for (unsigned id = 0; id < PM_P_COUNT_BUILTIN; id++) {
        const struct pm_prim_info *pi = h->prim_info(id);
        if (!pi)
            abort();
        if (all[0])
            strcat(all, ",");
        strcat(all, pi->name);
    }
    for (int i = 0; i < NLAYOUTS; i++) {
        const char *a = i == 1 ? all : aggs[i ? 1 : 0];
        struct pm_instance *inst =
            fakehost_instance("bdb", "fuzz", PM_KIND_OUTPUT, a);
        if (!inst ||
            bdb_layout_build(h, inst, i == 1, &g_l[i], err, sizeof(err)))
            abort();
    }
    g_b = fakehost_batch(2);
    g_ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct pm_host *h = fakehost();
    char err[600];
    uint64_t stamp;
    if (!g_ready)
        setup();
    if (size < 3)
        return 0;
    const struct bdb_layout *l = &g_l[data[0] % NLAYOUTS];
    size_t klen = (size_t)data[1] << 8 | data[2];
    if (klen > size - 3)
        klen = size - 3;
    /* exact-size heap copies so ASan sees any over-read */
    uint8_t *key = malloc(klen ? klen : 1);
    size_t vlen = size - 3 - klen;
    uint8_t *val = malloc(vlen ? vlen : 1);
    if (!key || !val)
        abort();
    memcpy(key, data + 3, klen);
    memcpy(val, data + 3 + klen, vlen);

    g_b->n = 0;
    g_b->arena_len = 0;
    struct pm_rec *r = pm_batch_rec(g_b, 0);
    err[0] = 0;
    int rc = bdb_decode(h, l, key, klen, val, vlen, r, g_b, &stamp, err,
                        sizeof(err));
    if (rc == 0) {
        /* one spelling per value: encoding the decoded row gives the key */
        struct pm_row row = {0};
        struct pm_buf out = {0};
        row.rec = r;
        row.arena = g_b->arena;
        row.stamp_inserted = stamp;
        if (bdb_encode_row(h, l, &row, &out) != 0)
            abort();
        if (out.len != 4 + klen + BDB_VALUE_LEN || memcmp(out.p + 4, key, klen))
            abort();
        free(out.p);
    } else if (rc != -EINVAL && rc != -ENOSPC) {
        abort();
    } else if (rc == -EINVAL && !err[0]) {
        abort(); /* every refusal says why */
    }
    err[0] = 0;
    (void)bdb_meta_check(l, (const char *)val, vlen, err, sizeof(err));
    free(key);
    free(val);
    return 0;
}
