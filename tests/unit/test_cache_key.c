/* test_cache_key.c - the aggregation cache's compact keys and batched
 * lookups (core/cache.c pmc_cache_add: keys and hashes built for a whole
 * batch, table slots and entries prefetched) against a naive model: a
 * list of aggregates compared field by field (strings by content).
 * Random records over small value domains (so aggregates repeat) with
 * IPv4/IPv6 hosts differing in one byte, strings equal in content at
 * different arena offsets, empty strings, custom primitives, fields
 * outside the aggregate, dropped records, sum_host, batches larger than
 * any before (key buffers grow) and tables growing in the middle of a
 * batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fakehost.h"
#include "pmdata.h"
#include "prim_int.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* ---- the model --------------------------------------------------------- */
struct magg {
    uint8_t key[1024];
    uint32_t klen;
    uint64_t packets, bytes;
};

struct model {
    struct magg *a;
    uint32_t n, cap;
};

/* Canonical key: each primitive's bytes, strings by content + length. */
static uint32_t canon(const uint16_t *ids, uint32_t nids,
                      const struct pm_rec *r, const char *arena, uint8_t *out,
                      int swap_src)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < nids; i++) {
        const struct pm_prim_def *d = pmc_prim_def(ids[i]);
        unsigned off;
        assert_non_null(d);
        off = d->off;
        if (swap_src && ids[i] == PM_P_SRC_HOST)
            off = offsetof(struct pm_rec, dst_host);
        if (d->info.type == PM_VT_STR) {
            pm_sref_t s;
            memcpy(&s, (const uint8_t *)r + off, sizeof(s));
            memcpy(out + n, &s.len, 4);
            n += 4;
            if (s.len)
                memcpy(out + n, arena + s.off, s.len);
            n += s.len;
        } else {
            memcpy(out + n, (const uint8_t *)r + off, d->size);
            n += d->size;
        }
    }
    return n;
}

static void model_add(struct model *m, const uint8_t *k, uint32_t klen,
                      uint64_t packets, uint64_t bytes)
{
    for (uint32_t i = 0; i < m->n; i++)
        if (m->a[i].klen == klen && !memcmp(m->a[i].key, k, klen)) {
            m->a[i].packets += packets;
            m->a[i].bytes += bytes;
            return;
        }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->a = realloc(m->a, m->cap * sizeof(*m->a));
        assert_non_null(m->a);
    }
    memcpy(m->a[m->n].key, k, klen);
    m->a[m->n].klen = klen;
    m->a[m->n].packets = packets;
    m->a[m->n].bytes = bytes;
    m->n++;
}

struct check {
    struct model *m;
    const uint16_t *ids;
    uint32_t nids;
    uint32_t rows;
    int bad;
};

static int check_row(void *ud, const struct pm_row *row)
{
    struct check *ck = ud;
    uint8_t k[1024];
    uint32_t klen = canon(ck->ids, ck->nids, row->rec, row->arena, k, 0);
    ck->rows++;
    for (uint32_t i = 0; i < ck->m->n; i++)
        if (ck->m->a[i].klen == klen && !memcmp(ck->m->a[i].key, k, klen)) {
            if (ck->m->a[i].packets != row->packets ||
                ck->m->a[i].bytes != row->bytes)
                ck->bad++;
            return PM_WALK_NEXT;
        }
    ck->bad++;
    return PM_WALK_NEXT;
}

/* ---- random records ---------------------------------------------------- */
static const char *words[] = {
    "", "65001", "65001 65002", "65002 65001", "65001 65003", "x"};

static void fill(struct pm_batch *b, struct pm_rec *r, uint32_t domain)
{
    uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8};
    uint8_t a4[4] = {10, 0, 0, 0};
    if (rnd(3) == 0) {
        a6[15] = (uint8_t)rnd(domain);
        pm_ip_set6(&r->src_host, a6);
        a6[15] = (uint8_t)rnd(4);
        pm_ip_set6(&r->dst_host, a6);
    } else {
        a4[3] = (uint8_t)rnd(domain);
        pm_ip_set4(&r->src_host, a4);
        a4[3] = (uint8_t)rnd(4);
        pm_ip_set4(&r->dst_host, a4);
    }
    r->src_port = (uint16_t)rnd(3);
    r->dst_port = (uint16_t)(80 + rnd(2));
    r->proto = rnd(2) ? 6 : 17;
    r->tos = (uint8_t)rnd(256); /* not in the aggregate */
    r->in_iface = rnd(1000);    /* not in the aggregate */
    const char *w = words[rnd(6)];
    /* filler first: equal strings land at different arena offsets */
    pm_sref_t junk;
    pmc_batch_str(b, "zz", rnd(3), &junk);
    assert_int_equal(pmc_batch_str(b, w, strlen(w), &r->as_path), 0);
    r->custom[0] = (uint8_t)rnd(2);
    r->custom[1] = (uint8_t)rnd(2);
    r->packets = 1 + rnd(5);
    r->bytes = 40 + rnd(1500);
    r->ts_arrival.sec = 1700000000;
}

static const char custom_lst[] =
    "name=ck field_type=500 len=2 semantics=u_int\n";

static void run_model(const char *agg, uint32_t nbatches, uint32_t bsize,
                      uint32_t domain, int sum_host)
{
    struct pm_instance *in =
        fakehost_instance("memory", "k", PM_KIND_OUTPUT, agg);
    struct pm_cache_cfg cfg = {0};
    struct pm_cache *c = pmc_cache_new(in, &cfg);
    struct model m = {0};
    assert_non_null(c);
    for (uint32_t bi = 0; bi < nbatches; bi++) {
        /* growing batches: the key buffers must follow */
        uint32_t n = bsize + bi * 37;
        struct pm_batch *b = fakehost_batch(n);
        for (uint32_t i = 0; i < n; i++)
            fill(b, pmc_batch_next(b), domain);
        for (uint32_t i = 0; i < n; i++)
            if (rnd(10) == 0)
                pm_batch_drop(b, i);
        int added = pmc_cache_add(c, b);
        assert_int_equal(added, (int)(b->n - b->ndropped));
        for (uint32_t i = 0; i < b->n; i++) {
            uint8_t k[1024];
            const struct pm_rec *r = pm_batch_rec(b, i);
            if (pm_batch_dropped(b, i))
                continue;
            uint32_t kl =
                canon(in->aggregate, in->naggregate, r, b->arena, k, 0);
            model_add(&m, k, kl, r->packets, r->bytes);
            if (sum_host) {
                kl = canon(in->aggregate, in->naggregate, r, b->arena, k, 1);
                model_add(&m, k, kl, r->packets, r->bytes);
            }
        }
    }
    struct check ck = {&m, in->aggregate, in->naggregate, 0, 0};
    assert_int_equal(pmc_cache_count(c), m.n);
    assert_int_equal(pmc_cache_walk(c, check_row, &ck), 0);
    assert_int_equal(ck.rows, m.n);
    assert_int_equal(ck.bad, 0);
    pmc_cache_free(c);
    free(m.a);
}

static void test_ipv4_ipv6_ports(void **st)
{
    (void)st;
    run_model("src_host,dst_host,src_port,dst_port,proto", 6, 300, 40, 0);
}

static void test_strings(void **st)
{
    (void)st;
    run_model("src_host,as_path,proto", 5, 256, 8, 0);
}

static void test_custom(void **st)
{
    (void)st;
    fakehost_custom_prims(custom_lst);
    run_model("src_host,ck,dst_port", 5, 256, 8, 0);
    fakehost_custom_prims(NULL);
}

static void test_sum_host(void **st)
{
    (void)st;
    run_model("sum_host", 4, 256, 30, 1);
}

static int sum_rows(void *ud, const struct pm_row *row)
{
    struct check *ck = ud;
    ck->rows++;
    ck->bad += (int)row->packets; /* here: the packets */
    return PM_WALK_NEXT;
}

/* Many new aggregates per batch: the table grows (and is re-indexed)
 * while keys of later records were hashed against the old size. */
static void test_growth_mid_batch(void **st)
{
    struct pm_instance *in =
        fakehost_instance("memory", "g", PM_KIND_OUTPUT, "src_host,src_port");
    struct pm_cache *c = pmc_cache_new(in, NULL);
    (void)st;
    for (uint32_t bi = 0; bi < 4; bi++) {
        struct pm_batch *b = fakehost_batch(20000);
        for (uint32_t i = 0; i < 20000; i++) {
            struct pm_rec *r = pmc_batch_next(b);
            uint32_t v = bi * 5000 + i / 2; /* each key twice */
            uint8_t a[4] = {10, (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                            (uint8_t)v};
            pm_ip_set4(&r->src_host, a);
            r->src_port = (uint16_t)(v & 7);
            r->packets = 1;
            r->bytes = 100;
        }
        assert_int_equal(pmc_cache_add(c, b), 20000);
    }
    /* batch k covers v = 5000k .. 5000k + 9999: 0..24999 in all */
    assert_int_equal(pmc_cache_count(c), 25000);
    struct model m = {0};
    struct check ck = {&m, in->aggregate, in->naggregate, 0, 0};
    assert_int_equal(pmc_cache_walk(c, sum_rows, &ck), 0);
    assert_int_equal(ck.rows, 25000);
    assert_int_equal(ck.bad, 80000); /* packets in all */
    pmc_cache_free(c);
}

/* Two records differing only outside the aggregate, and only in the last
 * byte of an IPv6 address. */
static void test_edges(void **st)
{
    struct pm_instance *in =
        fakehost_instance("memory", "e", PM_KIND_OUTPUT, "src_host,dst_host");
    struct pm_cache *c = pmc_cache_new(in, NULL);
    struct pm_batch *b = fakehost_batch(8);
    uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8};
    (void)st;
    for (int i = 0; i < 4; i++) {
        struct pm_rec *r = pmc_batch_next(b);
        a6[15] = (uint8_t)(i >> 1); /* 0,0,1,1 */
        pm_ip_set6(&r->src_host, a6);
        pm_ip_set6(&r->dst_host, a6);
        r->src_port = (uint16_t)i; /* outside the aggregate */
        r->packets = 1;
    }
    /* IPv4 10.0.0.0 vs IPv6 with the same first bytes: af differs */
    struct pm_rec *r = pmc_batch_next(b);
    uint8_t z[4] = {0x20, 0x01, 0x0d, 0xb8};
    pm_ip_set4(&r->src_host, z);
    pm_ip_set4(&r->dst_host, z);
    r->packets = 1;
    assert_int_equal(pmc_cache_add(c, b), 5);
    assert_int_equal(pmc_cache_count(c), 3);
    pmc_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_ipv6_ports),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_custom),
        cmocka_unit_test(test_sum_host),
        cmocka_unit_test(test_growth_mid_batch),
        cmocka_unit_test(test_edges),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fakehost_reset();
    return rc;
}
