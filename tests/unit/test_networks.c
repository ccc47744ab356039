/*
 * test_networks.c - unit tests of the networks transform against the fake
 * host: file forms (prefix, as, peer_as_as, nexthop, label), LPM against a
 * brute-force oracle on random IPv4/IPv6 prefixes in random order,
 * networks_mask, networks_file_filter, ports_file, errors (file:line),
 * reload keeping the old tables, and the load time of 1M prefixes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

static char tmpdir[64];

struct nt {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
};

static const char *write_file(const char *name, const char *text)
{
    static char path[2][128];
    static int k;
    FILE *f;
    k ^= 1;
    snprintf(path[k], sizeof(path[k]), "%s/%s", tmpdir, name);
    f = fopen(path[k], "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path[k];
}

static int nt_open(struct nt *t, const char *k1, const char *v1,
                   const char *k2, const char *v2, const char *k3,
                   const char *v3)
{
    t->d = pm_module_descriptor();
    t->inst = fakehost_instance("networks", "p", PM_KIND_TRANSFORM,
                                "src_net,dst_net,src_mask,dst_mask,src_as,"
                                "dst_as");
    t->inst->daemon = "pmacctd";
    t->cfg = fakehost_config(t->d, t->inst, k1, v1, k2, v2, k3, v3, NULL);
    t->ctx = NULL;
    return t->d->init(fakehost(), t->inst, t->cfg, &t->ctx);
}

static void nt_close(struct nt *t)
{
    if (t->ctx)
        t->d->fini(t->ctx);
    fakehost_config_free(t->d, t->cfg);
}

static struct pm_rec *flow(struct pm_batch *b, const char *src,
                           const char *dst)
{
    struct pm_rec *r = pm_batch_rec(b, b->n++);
    memset(r, 0, b->rec_size);
    assert_int_equal(fakehost()->prim_parse(PM_P_SRC_HOST, src, r, NULL), 0);
    assert_int_equal(fakehost()->prim_parse(PM_P_DST_HOST, dst, r, NULL), 0);
    r->packets = 1;
    return r;
}

static void net_is(const pm_ip_t *ip, const char *want)
{
    char got[64];
    inet_ntop(ip->af == 6 ? AF_INET6 : AF_INET, ip->a, got, sizeof(got));
    assert_string_equal(got, want);
}

static int setup(void **state)
{
    (void)state;
    fakehost_reset();
    return 0;
}

static void test_forms(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    struct nt t;
    struct pm_rec *r;
    const char *nf = write_file("n.lst", "! forms\n"
                                         "10.0.0.0/8\n"
                                         "65001,10.1.0.0/16\n"
                                         "64512_65002, 10.1.2.0/24\n"
                                         "192.0.2.1,65003,10.1.2.128/25\n"
                                         "CustID#1,,,10.1.2.200/32\n"
                                         "65004,2001:db8::/32\n"
                                         "10.9.9.9\n");
    (void)state;
    assert_int_equal(nt_open(&t, "networks_file", nf, "pmacctd_as", "file",
                             NULL, NULL),
                     0);
    r = flow(b, "10.1.2.3", "10.1.2.129");
    flow(b, "10.200.0.1", "10.1.9.9");
    flow(b, "10.1.2.200", "11.0.0.1");
    flow(b, "2001:db8:1::1", "2001:db9::1");
    flow(b, "10.9.9.9", "10.9.9.8");
    t.d->process(t.ctx, b);
    r = pm_batch_rec(b, 0);
    net_is(&r->src_net, "10.1.2.0");
    assert_int_equal(r->src_mask, 24);
    assert_int_equal(r->src_as, 65002);
    net_is(&r->dst_net, "10.1.2.128");
    assert_int_equal(r->dst_mask, 25);
    assert_int_equal(r->dst_as, 65003);
    net_is(&r->peer_dst_ip, "192.0.2.1");
    r = pm_batch_rec(b, 1);
    assert_int_equal(r->src_mask, 8);
    assert_int_equal(r->src_as, 0);
    assert_int_equal(r->dst_as, 65001);
    assert_int_equal(r->dst_mask, 16);
    r = pm_batch_rec(b, 2);
    assert_int_equal(r->src_mask, 32);
    assert_int_equal(r->src_as, 0);
    net_is(&r->dst_net, "0.0.0.0");
    assert_int_equal(r->dst_mask, 0);
    r = pm_batch_rec(b, 3);
    net_is(&r->src_net, "2001:db8::");
    assert_int_equal(r->src_as, 65004);
    net_is(&r->dst_net, "::");
    r = pm_batch_rec(b, 4);
    assert_int_equal(r->src_mask, 32);
    assert_int_equal(r->dst_mask, 8);
    nt_close(&t);
}

static void test_mask_filter_ports(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    struct nt t;
    struct pm_rec *r;
    const char *nf = write_file("m.lst", "10.0.0.0/8\n10.1.0.0/24\n");
    (void)state;
    /* networks_mask alone */
    assert_int_equal(
        nt_open(&t, "networks_mask", "20", NULL, NULL, NULL, NULL), 0);
    flow(b, "10.1.0.77", "192.168.255.1");
    t.d->process(t.ctx, b);
    r = pm_batch_rec(b, 0);
    net_is(&r->src_net, "10.1.0.0");
    net_is(&r->dst_net, "192.168.240.0");
    assert_int_equal(r->dst_mask, 20);
    nt_close(&t);
    /* both: the intersection (shorter mask) */
    b->n = 0;
    assert_int_equal(
        nt_open(&t, "networks_file", nf, "networks_mask", "16", NULL, NULL),
        0);
    flow(b, "10.1.0.77", "10.2.3.4");
    t.d->process(t.ctx, b);
    r = pm_batch_rec(b, 0);
    assert_int_equal(r->src_mask, 16);
    assert_int_equal(r->dst_mask, 8);
    nt_close(&t);
    /* networks_file_filter: hosts outside are zeroed */
    b->n = 0;
    assert_int_equal(nt_open(&t, "networks_file", nf, "networks_file_filter",
                             "true", NULL, NULL),
                     0);
    flow(b, "10.1.0.77", "8.8.8.8");
    t.d->process(t.ctx, b);
    r = pm_batch_rec(b, 0);
    net_is(&r->src_host, "10.1.0.77");
    net_is(&r->dst_host, "0.0.0.0");
    nt_close(&t);
    /* ports_file */
    b->n = 0;
    assert_int_equal(nt_open(&t, "ports_file",
                             write_file("p.lst", "! ports\n22\n 443\n"), NULL,
                             NULL, NULL, NULL),
                     0);
    r = flow(b, "1.1.1.1", "2.2.2.2");
    r->src_port = 40000;
    r->dst_port = 443;
    r = flow(b, "1.1.1.1", "2.2.2.2");
    r->src_port = 22;
    r->dst_port = 80;
    t.d->process(t.ctx, b);
    assert_int_equal(pm_batch_rec(b, 0)->src_port, 0);
    assert_int_equal(pm_batch_rec(b, 0)->dst_port, 443);
    assert_int_equal(pm_batch_rec(b, 1)->src_port, 22);
    assert_int_equal(pm_batch_rec(b, 1)->dst_port, 0);
    nt_close(&t);
}

static void expect_error(const char *key, const char *text, const char *msg)
{
    struct nt t;
    char want[256];
    const char *p = write_file("bad.lst", text);
    assert_int_equal(nt_open(&t, key, p, NULL, NULL, NULL, NULL), -EINVAL);
    snprintf(want, sizeof(want), "%s:%s", p, msg);
    if (!strstr(fakehost_log_text(), want)) {
        fprintf(stderr, "wanted '%s' in log:\n%s\n", want,
                fakehost_log_text());
        fail();
    }
    nt_close(&t);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("networks_file", "10.0.0.0/8\n\n10.0.0.0/33\n",
                 "3: '33': invalid prefix length");
    expect_error("networks_file", "! x\n10.0.0.300/8\n", "2: '10.0.0.300'");
    expect_error("networks_file", "abc,10.0.0.0/8\n", "1: 'abc': expected an AS");
    expect_error("networks_file", "a,b,c,d,10.0.0.0/8\n", "1: too many fields");
    expect_error("networks_file", "1.2.3,65000,10.0.0.0/8\n",
                 "1: '1.2.3': expected a next-hop");
    expect_error("ports_file", "22\n70000\n", "2: '70000'");
}

static void test_reload(void **state)
{
    struct pm_batch *b = fakehost_batch(8);
    struct nt t;
    const char *p;
    pm_ts_t now = {.sec = 5};
    (void)state;
    p = write_file("r.lst", "65001,10.0.0.0/8\n");
    assert_int_equal(
        nt_open(&t, "networks_file", p, "pmacctd_as", "file", NULL, NULL), 0);
    flow(b, "10.1.1.1", "10.2.2.2");
    t.d->process(t.ctx, b);
    assert_int_equal(pm_batch_rec(b, 0)->src_as, 65001);
    write_file("r.lst", "65002,10.0.0.0/8\nbroken\n");
    assert_int_not_equal(t.d->reload(t.ctx), 0);
    assert_non_null(strstr(fakehost_log_text(), "r.lst:2: 'broken'"));
    t.d->process(t.ctx, b);
    assert_int_equal(pm_batch_rec(b, 0)->src_as, 65001);
    write_file("r.lst", "65003,10.0.0.0/8\n! changed\n");
    t.d->tick(t.ctx, &now);
    t.d->process(t.ctx, b);
    assert_int_equal(pm_batch_rec(b, 0)->src_as, 65003);
    assert_int_equal(fakehost_counter_value("reloads"), 1);
    assert_int_equal(fakehost_counter_value("reload_errors"), 1);
    nt_close(&t);
}

/* ---- LPM against a brute-force oracle ---------------------------------- */

struct opfx {
    uint8_t a[16];
    int af, len;
    uint32_t as;
};

static int in_pfx(const struct opfx *p, const uint8_t *a, int af)
{
    int full = p->len / 8, rest = p->len % 8;
    if (p->af != af || memcmp(a, p->a, (size_t)full))
        return 0;
    return !rest || ((a[full] ^ p->a[full]) & (0xff << (8 - rest))) == 0;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void test_lpm_oracle(void **state)
{
    enum { NP = 3000, NQ = 20000 };
    static struct opfx p[NP];
    struct pm_batch *b = fakehost_batch(256);
    struct nt t;
    char path[128], buf[64];
    FILE *f;
    int i, q;
    (void)state;
    snprintf(path, sizeof(path), "%s/lpm.lst", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (i = 0; i < NP; i++) {
        int af = (rnd() & 3) ? 4 : 6, n = af == 6 ? 16 : 4, j;
        memset(p[i].a, 0, 16);
        p[i].af = af;
        /* few distinct top bytes so prefixes nest a lot */
        p[i].a[0] = (uint8_t)(10 + (rnd() & 3));
        for (j = 1; j < n; j++)
            p[i].a[j] = (uint8_t)((rnd() & 1) ? rnd() : (rnd() & 3));
        p[i].len = (int)(rnd() % (unsigned)(n * 8 + 1));
        for (j = 0; j < n; j++) { /* mask */
            int keep = p[i].len - j * 8;
            if (keep <= 0)
                p[i].a[j] = 0;
            else if (keep < 8)
                p[i].a[j] &= (uint8_t)(0xff << (8 - keep));
        }
        p[i].as = (uint32_t)i + 1;
        inet_ntop(af == 6 ? AF_INET6 : AF_INET, p[i].a, buf, sizeof(buf));
        fprintf(f, "%u,%s/%d\n", p[i].as, buf, p[i].len);
    }
    fclose(f);
    assert_int_equal(nt_open(&t, "networks_file", path, "pmacctd_as", "file",
                             "networks_cache_entries", "7"),
                     0);
    for (q = 0; q < NQ; q += 128) {
        uint32_t k;
        b->n = 0;
        for (k = 0; k < 128; k++) {
            struct pm_rec *r = pm_batch_rec(b, b->n++);
            int af = (rnd() & 1) ? 4 : 6, n = af == 6 ? 16 : 4, j;
            uint8_t a[16] = {0};
            const struct opfx *base = &p[rnd() % NP];
            memset(r, 0, b->rec_size);
            memcpy(a, base->a, 16);
            af = base->af;
            n = af == 6 ? 16 : 4;
            for (j = 0; j < n; j++) /* random host bits, sometimes outside */
                if (j * 8 >= base->len - (int)(rnd() % 9))
                    a[j] = (uint8_t)rnd();
            if (af == 4)
                pm_ip_set4(&r->src_host, a);
            else
                pm_ip_set6(&r->src_host, a);
            pm_rec_set(r, PM_P_SRC_HOST);
        }
        t.d->process(t.ctx, b);
        for (k = 0; k < b->n; k++) {
            const struct pm_rec *r = pm_batch_rec(b, k);
            int best = -1;
            for (i = 0; i < NP; i++)
                if (in_pfx(&p[i], r->src_host.a, r->src_host.af) &&
                    (best < 0 || p[i].len > p[best].len))
                    best = i;
            /* duplicates: the first line wins, as does the oracle */
            assert_int_equal(r->src_mask, best < 0 ? 0 : p[best].len);
            assert_int_equal(r->src_as, best < 0 ? 0 : p[best].as);
        }
    }
    nt_close(&t);
}

static void test_full_table_load(void **state)
{
    enum { N4 = 900000, N6 = 150000 };
    char path[128];
    FILE *f;
    struct nt t;
    struct timespec t0, t1;
    double secs;
    int i;
    (void)state;
    snprintf(path, sizeof(path), "%s/full.lst", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (i = 0; i < N4; i++) {
        uint32_t a = rnd() << 8, len = 16 + rnd() % 9;
        a &= len ? ~0u << (32 - len) : 0;
        fprintf(f, "%u,%u.%u.%u.%u/%u\n", 64512 + (i & 1023), a >> 24,
                (a >> 16) & 255, (a >> 8) & 255, a & 255, len);
    }
    for (i = 0; i < N6; i++)
        fprintf(f, "%u,2%03x:%x:%x::/48\n", 64512 + (i & 1023), rnd() & 0xfff,
                rnd() & 0xffff, rnd() & 0xffff);
    fclose(f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(nt_open(&t, "networks_file", path, NULL, NULL, NULL, NULL),
                     0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "%d prefixes loaded in %.2f s\n", N4 + N6, secs);
    assert_true(secs < 10.0);
    nt_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_forms, setup),
        cmocka_unit_test_setup(test_mask_filter_ports, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_reload, setup),
        cmocka_unit_test_setup(test_lpm_oracle, setup),
        cmocka_unit_test_setup(test_full_table_load, setup),
    };
    int rc;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_networks.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    fakehost_reset();
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            rc = rc ? rc : 1;
    }
    return rc;
}
