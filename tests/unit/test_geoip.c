/*
 * test_geoip.c - unit tests of the geoip transform against the fake host,
 * with the test databases of tests/data/geoip/ (built by gen_mmdb.pl):
 * country / postal code / coordinates for IPv4 and IPv6, unknown
 * addresses, ASN from the ASN database (only when nothing else set it),
 * lookups limited to the aggregate, the cache, reload keeping the old
 * database, start-up errors.  When MaxMind::DB::Writer is installed the
 * databases are rebuilt and compared with the committed ones.
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
#include <unistd.h>

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

static char g_city[1100], g_asn[1100], g_dir[1024];

struct geo {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
};

static int geo_open(struct geo *g, const char *agg, ...)
{
    va_list ap;
    const char *kv[16];
    int n = 0;

    va_start(ap, agg);
    while (n < 14 && (kv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    while (n < 16)
        kv[n++] = NULL;
    g->d = pm_module_descriptor();
    g->inst = fakehost_instance("geoip", "geo", PM_KIND_TRANSFORM, agg);
    g->cfg = fakehost_config(g->d, g->inst, kv[0], kv[1], kv[2], kv[3], kv[4],
                             kv[5], kv[6], kv[7], NULL);
    g->ctx = NULL;
    return g->d->init(fakehost(), g->inst, g->cfg, &g->ctx);
}

static void geo_close(struct geo *g)
{
    if (g->ctx)
        g->d->fini(g->ctx);
    fakehost_config_free(g->d, g->cfg);
}

static struct pm_rec *add(struct pm_batch *b, const char *src, const char *dst)
{
    const struct pm_host *h = fakehost();
    struct pm_rec *r = pm_batch_rec(b, b->n++);

    memset(r, 0, b->rec_size);
    assert_int_equal(h->prim_parse(PM_P_SRC_HOST, src, r, NULL), 0);
    assert_int_equal(h->prim_parse(PM_P_DST_HOST, dst, r, NULL), 0);
    r->packets = 1;
    r->bytes = 100;
    return r;
}

static void assert_sref(const struct pm_batch *b, pm_sref_t s, const char *want)
{
    char buf[64];
    assert_true(s.len < sizeof(buf));
    memcpy(buf, pm_batch_str(b, s), s.len);
    buf[s.len] = 0;
    assert_string_equal(buf, want);
}

static int setup(void **state)
{
    const char *top = getenv("top_srcdir");
    (void)state;
    if (!top)
        top = ".";
    snprintf(g_dir, sizeof(g_dir), "%s/tests/data/geoip", top);
    snprintf(g_city, sizeof(g_city), "%s/test-City.mmdb", g_dir);
    snprintf(g_asn, sizeof(g_asn), "%s/test-ASN.mmdb", g_dir);
    if (access(g_city, R_OK) != 0 || access(g_asn, R_OK) != 0) {
        fprintf(stderr, "test databases missing in %s (set top_srcdir)\n",
                g_dir);
        return -1;
    }
    return 0;
}

static int reset(void **state)
{
    (void)state;
    fakehost_reset();
    return 0;
}

static void test_city_v4_v6(void **state)
{
    struct geo g;
    struct pm_batch *b = fakehost_batch(16);
    struct pm_rec *r0, *r1, *r2, *r3;
    (void)state;

    assert_int_equal(
        geo_open(&g,
                 "src_host,dst_host,src_host_country,dst_host_country,"
                 "src_host_pocode,dst_host_pocode,src_host_coords,"
                 "dst_host_coords",
                 "geoipv2_file", g_city, NULL),
        0);
    r0 = add(b, "192.168.1.5", "10.0.0.2");
    r1 = add(b, "2001:db8::1", "2001:db8:1::10");
    r2 = add(b, "fe80::1", "203.0.113.7");
    r3 = add(b, "198.51.100.10", "203.0.113.254");
    assert_int_equal(g.d->process(g.ctx, b), 0);

    assert_string_equal(r0->src_host_country, "DE");
    assert_string_equal(r0->dst_host_country, "IT");
    assert_sref(b, r0->src_host_pocode, "10115");
    assert_sref(b, r0->dst_host_pocode, "00100");
    assert_true(r0->src_host_lat == 52.5f && r0->src_host_lon == 13.375f);
    assert_true(r0->dst_host_lat == 41.875f && r0->dst_host_lon == 12.5f);
    assert_true(pm_rec_has(r0, PM_P_SRC_HOST_COUNTRY));
    assert_true(pm_rec_has(r0, PM_P_DST_HOST_COORDS));

    assert_string_equal(r1->src_host_country, "FR");
    assert_string_equal(r1->dst_host_country,
                        "NL"); /* no postal, no location */
    assert_sref(b, r1->src_host_pocode, "75001");
    assert_int_equal(r1->dst_host_pocode.len, 0);
    assert_true(r1->dst_host_lat == 0.0f && r1->dst_host_lon == 0.0f);

    /* not in the database: empty country (as pmacct prints), zeros */
    assert_string_equal(r2->src_host_country, "");
    assert_true(pm_rec_has(r2, PM_P_SRC_HOST_COUNTRY));
    assert_string_equal(r2->dst_host_country, "JP");
    assert_int_equal(r2->dst_host_pocode.len, 0);
    assert_true(r2->dst_host_lat == 35.6875f && r2->dst_host_lon == 139.6875f);

    /* location without country; country without anything else */
    assert_string_equal(r3->src_host_country, "");
    assert_true(r3->src_host_lat == -33.875f && r3->src_host_lon == 151.25f);
    assert_string_equal(r3->dst_host_country, "AU");

    /* ASN primitives were not asked: untouched */
    assert_false(pm_rec_has(r0, PM_P_SRC_AS));
    geo_close(&g);
}

static void test_only_what_is_aggregated(void **state)
{
    struct geo g;
    struct pm_batch *b = fakehost_batch(16);
    struct pm_rec *r;
    (void)state;

    assert_int_equal(geo_open(&g, "src_host,dst_host", "geoipv2_file", g_city,
                              "geoipv2_asn_file", g_asn, NULL),
                     0);
    r = add(b, "192.168.1.5", "10.0.0.2");
    assert_int_equal(g.d->process(g.ctx, b), 0);
    assert_int_equal(fakehost_counter_value("lookups"), 0);
    assert_string_equal(r->src_host_country, "");
    assert_false(pm_rec_has(r, PM_P_SRC_HOST_COUNTRY));
    assert_false(pm_rec_has(r, PM_P_SRC_AS));
    geo_close(&g);

    /* dst only: one lookup per record */
    fakehost_reset();
    b = fakehost_batch(16);
    assert_int_equal(geo_open(&g, "dst_host_country", "geoipv2_file", g_city,
                              "geoip_cache_entries", "0", NULL),
                     0);
    r = add(b, "192.168.1.5", "10.0.0.2");
    assert_int_equal(g.d->process(g.ctx, b), 0);
    assert_int_equal(fakehost_counter_value("lookups"), 1);
    assert_string_equal(r->dst_host_country, "IT");
    assert_false(pm_rec_has(r, PM_P_SRC_HOST_COUNTRY));
    geo_close(&g);
}

static void test_asn(void **state)
{
    struct geo g;
    struct pm_batch *b = fakehost_batch(16);
    struct pm_rec *r0, *r1, *r2;
    (void)state;

    assert_int_equal(geo_open(&g, "src_as,dst_as,src_host_country",
                              "geoipv2_file", g_city, "geoipv2_asn_file", g_asn,
                              NULL),
                     0);
    r0 = add(b, "10.0.0.1", "8.8.8.8");
    r1 = add(b, "2001:db8::1", "192.168.1.5");
    r2 = add(b, "203.0.113.7", "8.8.8.8");
    r2->src_as = 65000; /* set by the capture (e.g. a flow record) */
    pm_rec_set(r2, PM_P_SRC_AS);
    assert_int_equal(g.d->process(g.ctx, b), 0);
    assert_int_equal(r0->src_as, 64512);
    assert_int_equal(r0->dst_as, 15169);
    assert_true(pm_rec_has(r0, PM_P_SRC_AS) && pm_rec_has(r0, PM_P_DST_AS));
    assert_int_equal(r1->src_as, 64496);
    assert_int_equal(r1->dst_as, 0); /* not in the ASN database */
    assert_int_equal(r2->src_as, 65000);
    assert_int_equal(r2->dst_as, 15169);
    assert_string_equal(r0->src_host_country, "IT");
    geo_close(&g);

    /* the ASN database alone triggers and works */
    fakehost_reset();
    b = fakehost_batch(16);
    assert_int_equal(geo_open(&g, "src_as", "geoipv2_asn_file", g_asn, NULL),
                     0);
    r0 = add(b, "8.8.8.8", "10.0.0.1");
    assert_int_equal(g.d->process(g.ctx, b), 0);
    assert_int_equal(r0->src_as, 15169);
    geo_close(&g);
}

static void test_cache(void **state)
{
    struct geo g;
    struct pm_batch *b = fakehost_batch(64);
    (void)state;

    assert_int_equal(geo_open(&g, "src_host_country,dst_host_country",
                              "geoipv2_file", g_city, NULL),
                     0);
    for (int i = 0; i < 50; i++)
        add(b, "192.168.1.5", i % 2 ? "10.0.0.2" : "2001:db8::1");
    assert_int_equal(g.d->process(g.ctx, b), 0);
    /* 3 distinct addresses looked up once each, the rest from the cache */
    assert_int_equal(fakehost_counter_value("lookups"), 3);
    assert_int_equal(fakehost_counter_value("cache_hits"), 97);
    for (uint32_t i = 0; i < b->n; i++) {
        struct pm_rec *r = pm_batch_rec(b, i);
        assert_string_equal(r->src_host_country, "DE");
        assert_string_equal(r->dst_host_country, i % 2 ? "IT" : "FR");
    }
    geo_close(&g);
}

/* Time lookups with and without the cache (printed, not asserted). */
static void test_cache_measure(void **state)
{
    const char *cache[2] = {"0", "4096"};
    double secs[2];
    (void)state;

    for (int k = 0; k < 2; k++) {
        struct geo g;
        struct pm_batch *b;
        struct timespec t0, t1;
        char ip[32];

        fakehost_reset();
        b = fakehost_batch(256);
        assert_int_equal(geo_open(&g,
                                  "src_host_country,dst_host_country,"
                                  "src_host_pocode,src_host_coords",
                                  "geoipv2_file", g_city, "geoip_cache_entries",
                                  cache[k], NULL),
                         0);
        for (int i = 0; i < 256; i++) {
            snprintf(ip, sizeof(ip), "192.168.1.%d", i % 64);
            add(b, ip, i % 3 ? "10.0.0.2" : "2001:db8::1");
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int rep = 0; rep < 400; rep++) {
            b->arena_len = 0;
            assert_int_equal(g.d->process(g.ctx, b), 0);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs[k] = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        geo_close(&g);
    }
    fprintf(stderr,
            "geoip: 102400 records (2 addresses each): no cache %.1f ms, "
            "cache %.1f ms (%.1fx)\n",
            secs[0] * 1e3, secs[1] * 1e3, secs[1] > 0 ? secs[0] / secs[1] : 0);
}

static int copy_file(const char *from, const char *to)
{
    char buf[8192];
    size_t n;
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int rc = 0;

    if (!a || !b)
        rc = -1;
    while (!rc && (n = fread(buf, 1, sizeof(buf), a)) > 0)
        if (fwrite(buf, 1, n, b) != n)
            rc = -1;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        rc = -1;
    return rc;
}

static void test_reload(void **state)
{
    char dir[] = "/tmp/test_geoip.XXXXXX", path[128];
    struct geo g;
    struct pm_batch *b;
    struct pm_rec *r;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db.mmdb", dir);
    assert_int_equal(copy_file(g_city, path), 0);
    assert_int_equal(
        geo_open(&g, "src_host_country", "geoipv2_file", path, NULL), 0);
    /* the file disappears: reload fails, the old database stays */
    assert_int_equal(unlink(path), 0);
    assert_true(g.d->reload(g.ctx) < 0);
    assert_non_null(strstr(fakehost_log_text(), "keeping the database"));
    b = fakehost_batch(4);
    r = add(b, "8.8.8.8", "10.0.0.1");
    assert_int_equal(g.d->process(g.ctx, b), 0);
    assert_string_equal(r->src_host_country, "US");

    /* a broken file: same */
    {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs("not a maxmind database", f);
        fclose(f);
    }
    assert_true(g.d->reload(g.ctx) < 0);
    r = add(b, "8.8.8.8", "10.0.0.1");
    assert_int_equal(g.d->process(g.ctx, b), 0);
    assert_string_equal(r->src_host_country, "US");

    /* another database (the ASN one has no countries): taken, cache dropped */
    assert_int_equal(copy_file(g_asn, path), 0);
    assert_int_equal(g.d->reload(g.ctx), 0);
    r = add(b, "8.8.8.8", "10.0.0.1");
    assert_int_equal(g.d->process(g.ctx, b), 0);
    assert_string_equal(r->src_host_country, "");
    assert_int_equal(fakehost_counter_value("reloads"), 3);
    geo_close(&g);
    unlink(path);
    rmdir(dir);
}

static void test_init_errors(void **state)
{
    struct geo g;
    (void)state;

    assert_true(geo_open(&g, "src_host_country", "geoipv2_file",
                         "/nonexistent/x.mmdb", NULL) < 0);
    assert_non_null(strstr(fakehost_log_text(), "/nonexistent/x.mmdb"));
    geo_close(&g);
    assert_true(geo_open(&g, "src_host_country", "geoipv2_file", g_city,
                         "geoip_cache_entries", "99999999", NULL) == -EINVAL);
    geo_close(&g);
    /* a file that is not a database */
    assert_true(geo_open(&g, "src_host_country", "geoipv2_file",
                         "/etc/hostname", NULL) < 0);
    geo_close(&g);
}

/* The committed databases are what gen_mmdb.pl builds. */
static void test_databases_regenerate(void **state)
{
    char dir[] = "/tmp/test_geoip_gen.XXXXXX", cmd[4096];
    (void)state;

    if (system("perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null") != 0) {
        fprintf(stderr, "MaxMind::DB::Writer not installed: databases not "
                        "rebuilt\n");
        return;
    }
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd),
             "PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 perl '%s/gen_mmdb.pl' '%s' "
             "&& cmp '%s/test-City.mmdb' '%s/test-City.mmdb' "
             "&& cmp '%s/test-ASN.mmdb' '%s/test-ASN.mmdb'",
             g_dir, dir, g_dir, dir, g_dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_city_v4_v6, reset),
        cmocka_unit_test_teardown(test_only_what_is_aggregated, reset),
        cmocka_unit_test_teardown(test_asn, reset),
        cmocka_unit_test_teardown(test_cache, reset),
        cmocka_unit_test_teardown(test_cache_measure, reset),
        cmocka_unit_test_teardown(test_reload, reset),
        cmocka_unit_test_teardown(test_init_errors, reset),
        cmocka_unit_test_teardown(test_databases_regenerate, reset),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
