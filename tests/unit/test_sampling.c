/*
 * test_sampling.c - unit tests of the sampling transform against the fake
 * host: random 1:N sampling (statistical bounds), external rates and their
 * renormalisation (exact arithmetic), the sampling_map parser (rules,
 * first match, prefixes, interfaces, errors naming file:line), flow records
 * with and without the collectors' renormalisation, reload keeping the old
 * map on error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* after the headers it needs */
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakehost.h"
#include "sampling.h"

const struct pm_module_desc *pm_module_descriptor(void);

struct smp {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
};

static int smp_open(struct smp *s, const char *k1, const char *v1,
                    const char *k2, const char *v2)
{
    s->d = pm_module_descriptor();
    s->inst = fakehost_instance("sampling", "p", PM_KIND_TRANSFORM,
                                "src_host,sampling_rate");
    s->cfg = fakehost_config(s->d, s->inst, k1, v1, k2, v2, NULL);
    s->ctx = NULL;
    return s->d->init(fakehost(), s->inst, s->cfg, &s->ctx);
}

static void smp_close(struct smp *s)
{
    if (s->ctx)
        s->d->fini(s->ctx);
    fakehost_config_free(s->d, s->cfg);
    fakehost_reset();
}

static struct pm_batch *packets(uint32_t n, uint32_t rate)
{
    struct pm_batch *b = fakehost_batch(n);
    uint32_t i;
    for (i = 0; i < n; i++) {
        struct pm_rec *r = pm_batch_rec(b, i);
        memset(r, 0, b->rec_size);
        r->packets = 1;
        r->bytes = 100 + i % 7;
        r->flows = i % 2;
        r->sampling_rate = rate;
        pm_rec_set(r, PM_P_SAMPLING_RATE);
    }
    b->n = n;
    return b;
}

static void flow(struct pm_batch *b, uint32_t i, const char *exp, uint32_t in,
                 uint32_t rate)
{
    struct pm_rec *r = pm_batch_rec(b, i);
    memset(r, 0, b->rec_size);
    r->packets = 10;
    r->bytes = 1000;
    r->flows = 1;
    if (strchr(exp, ':')) {
        r->peer_src_ip.af = 6;
        assert_int_equal(inet_pton(AF_INET6, exp, r->peer_src_ip.a), 1);
    } else {
        r->peer_src_ip.af = 4;
        assert_int_equal(inet_pton(AF_INET, exp, r->peer_src_ip.a), 1);
    }
    pm_rec_set(r, PM_P_PEER_SRC_IP);
    r->in_iface = in;
    r->sampling_rate = rate;
    if (rate)
        pm_rec_set(r, PM_P_SAMPLING_RATE);
}

static uint32_t kept(const struct pm_batch *b)
{
    uint32_t i, k = 0;
    for (i = 0; i < b->n; i++)
        k += !pm_batch_dropped(b, i);
    return k;
}

/* sampling_rate: 10 keeps about one record in ten; 1 keeps all. */
static void test_random_sampling(void **state)
{
    struct smp s;
    uint32_t total = 0, round, i;
    (void)state;
    assert_int_equal(smp_open(&s, "sampling_rate", "10", NULL, NULL), 0);
    for (round = 0; round < 40; round++) {
        struct pm_batch *b = packets(2500, 1);
        assert_int_equal(s.d->process(s.ctx, b), 0);
        total += kept(b);
        for (i = 0; i < b->n; i++)
            if (!pm_batch_dropped(b, i)) {
                /* not renormalised, rate untouched, as pmacctd 1.7.7 */
                assert_int_equal(pm_batch_rec(b, i)->packets, 1);
                assert_int_equal(pm_batch_rec(b, i)->sampling_rate, 1);
            }
    }
    /* 100000 draws at p = 0.1: mean 10000, sd 95; 6 sd either side */
    assert_in_range(total, 9430, 10570);
    assert_int_equal(fakehost_counter_value("sampled_in"), total);
    assert_int_equal(fakehost_counter_value("sampled_out"), 100000 - total);
    smp_close(&s);

    assert_int_equal(smp_open(&s, "sampling_rate", "1", NULL, NULL), 0);
    {
        struct pm_batch *b = packets(1000, 1);
        assert_int_equal(s.d->process(s.ctx, b), 0);
        assert_int_equal(kept(b), 1000);
    }
    smp_close(&s);
}

static void test_ext_rate(void **state)
{
    struct smp s;
    struct pm_batch *b;
    uint32_t i;
    (void)state;
    assert_int_equal(smp_open(&s, "pmacctd_ext_sampling_rate", "5", NULL, NULL),
                     0);
    b = packets(100, 1);
    assert_int_equal(s.d->process(s.ctx, b), 0);
    for (i = 0; i < 100; i++) {
        const struct pm_rec *r = pm_batch_rec(b, i);
        assert_int_equal(r->sampling_rate, 5);
        assert_int_equal(r->packets, 1);
        assert_int_equal(r->bytes, 100 + i % 7);
    }
    smp_close(&s);

    assert_int_equal(smp_open(&s, "pmacctd_ext_sampling_rate", "5",
                              "pmacctd_renormalize", "true"),
                     0);
    b = packets(100, 1);
    assert_int_equal(s.d->process(s.ctx, b), 0);
    for (i = 0; i < 100; i++) {
        const struct pm_rec *r = pm_batch_rec(b, i);
        assert_int_equal(r->sampling_rate, 1);
        assert_int_equal(r->packets, 5);
        assert_int_equal(r->bytes, 5 * (100 + i % 7));
        assert_int_equal(r->flows, 5 * (i % 2));
    }
    assert_int_equal(kept(b), 100);
    smp_close(&s);
}

static const char MAP[] = "! rates per exporter\n"
                          "id=1024 ip=192.0.2.1\n"
                          "\n"
                          "id=512  ip=192.0.2.2 in=3\n"
                          "  id=256  ip=192.0.2.2   \n"
                          "id=100 ip=2001:db8::/32\n"
                          "id=7 ip=198.51.100.0/25 out=9\n";

static void test_map_parse(void **state)
{
    struct smap *m = NULL;
    char err[256];
    pm_ip_t ip;
    (void)state;
    assert_int_equal(
        smap_parse("m", MAP, strlen(MAP), 384, &m, err, sizeof(err)), 0);
    assert_int_equal(smap_count(m), 5);
    memset(&ip, 0, sizeof(ip));
    ip.af = 4;
    inet_pton(AF_INET, "192.0.2.1", ip.a);
    assert_int_equal(smap_lookup(m, &ip, 0, 0), 1024);
    inet_pton(AF_INET, "192.0.2.2", ip.a);
    assert_int_equal(smap_lookup(m, &ip, 3, 0), 512);
    assert_int_equal(smap_lookup(m, &ip, 4, 0), 256);
    inet_pton(AF_INET, "192.0.2.3", ip.a);
    assert_int_equal(smap_lookup(m, &ip, 0, 0), 0);
    inet_pton(AF_INET, "198.51.100.127", ip.a);
    assert_int_equal(smap_lookup(m, &ip, 0, 9), 7);
    assert_int_equal(smap_lookup(m, &ip, 0, 8), 0);
    inet_pton(AF_INET, "198.51.100.128", ip.a);
    assert_int_equal(smap_lookup(m, &ip, 0, 9), 0);
    memset(&ip, 0, sizeof(ip));
    ip.af = 6;
    inet_pton(AF_INET6, "2001:db8:ff::1", ip.a);
    assert_int_equal(smap_lookup(m, &ip, 0, 0), 100);
    inet_pton(AF_INET6, "2001:db9::1", ip.a);
    assert_int_equal(smap_lookup(m, &ip, 0, 0), 0);
    smap_free(m);
}

static void map_err(const char *text, uint32_t max, const char *want)
{
    struct smap *m = NULL;
    char err[256] = "";
    assert_int_equal(
        smap_parse("x.map", text, strlen(text), max, &m, err, sizeof(err)),
        -EINVAL);
    assert_null(m);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_map_errors(void **state)
{
    (void)state;
    map_err("id=1 ip=10.0.0.1\nid=2 ip=10.0.0.300\n", 10,
            "x.map:2: ip=10.0.0.300");
    map_err("\n\nid=0 ip=10.0.0.1\n", 10, "x.map:3: id=0");
    map_err("ip=10.0.0.1\n", 10, "x.map:1: a rule needs id=RATE");
    map_err("id=5 ip=10.0.0.1 vlan=3\n", 10, "x.map:1: unknown key 'vlan'");
    map_err("id=5 ip=10.0.0.1 in=x\n", 10, "x.map:1: in=x");
    map_err("id=5 ip=10.0.0.0/33\n", 10, "x.map:1: ip=10.0.0.0/33");
    map_err("id=5 ip=10.0.0.1 junk\n", 10,
            "x.map:1: 'junk': expected key=value");
    map_err("id=1 ip=10.0.0.1\nid=2 ip=10.0.0.2\nid=3 ip=10.0.0.3\n", 2,
            "x.map:3: more than 2 rules");
}

static char *write_map(const char *text)
{
    static char path[64];
    int fd;
    strcpy(path, "/tmp/test_sampling.XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* flows: the map replaces the reported rate (renormalisation off). */
static void test_map_flows(void **state)
{
    struct smp s;
    struct pm_batch *b;
    char *path = write_map(MAP);
    (void)state;
    assert_int_equal(
        smp_open(&s, "sampling_map", path, "nfacctd_ext_sampling_rate", "50"),
        0);
    b = fakehost_batch(8);
    flow(b, 0, "192.0.2.1", 0, 10); /* in the map: 1024 replaces 10 */
    flow(b, 1, "192.0.2.2", 3, 0);  /* 512 */
    flow(b, 2, "192.0.2.9", 0, 10); /* not in the map: keeps 10 */
    flow(b, 3, "192.0.2.9", 0, 0);  /* none reported: ext rate 50 */
    b->n = 4;
    assert_int_equal(s.d->process(s.ctx, b), 0);
    assert_int_equal(pm_batch_rec(b, 0)->sampling_rate, 1024);
    assert_int_equal(pm_batch_rec(b, 1)->sampling_rate, 512);
    assert_int_equal(pm_batch_rec(b, 2)->sampling_rate, 10);
    assert_int_equal(pm_batch_rec(b, 3)->sampling_rate, 50);
    assert_int_equal(pm_batch_rec(b, 0)->packets, 10); /* not scaled */
    assert_int_equal(fakehost_counter_value("map_hits"), 2);
    smp_close(&s);
    unlink(path);
}

/* flows with nfacctd_renormalize and a sampling_map: the collector leaves
 * renormalisation to the transform (records keep their reported rate), so
 * counters are multiplied by the map's rate when the map has the exporter
 * (replacing a reported rate, as pmacct), else by the reported rate; the
 * rate becomes 1. */
static void test_map_flows_renormalize(void **state)
{
    struct smp s;
    struct pm_batch *b;
    char *path = write_map(MAP);
    const struct pm_rec *r;
    (void)state;
    fakehost_conf("nfacctd_renormalize", "true");
    assert_int_equal(smp_open(&s, "sampling_map", path, NULL, NULL), 0);
    b = fakehost_batch(8);
    flow(b, 0, "192.0.2.1", 0, 0);    /* map 1024, none reported */
    flow(b, 1, "192.0.2.1", 0, 4);    /* map 1024 replaces 4 */
    flow(b, 2, "2001:db8::5", 0, 0);  /* map 100 */
    flow(b, 3, "198.51.100.200", 0, 4); /* not in the map: reported 4 */
    flow(b, 4, "198.51.100.201", 0, 0); /* nothing known: untouched */
    b->n = 5;
    assert_int_equal(s.d->process(s.ctx, b), 0);
    r = pm_batch_rec(b, 0);
    assert_int_equal(r->packets, 10240);
    assert_int_equal(r->bytes, 1024000);
    assert_int_equal(r->flows, 1024);
    assert_int_equal(r->sampling_rate, 1);
    r = pm_batch_rec(b, 1);
    assert_int_equal(r->packets, 10240);
    assert_int_equal(r->sampling_rate, 1);
    r = pm_batch_rec(b, 2);
    assert_int_equal(r->packets, 1000);
    assert_int_equal(r->sampling_rate, 1);
    r = pm_batch_rec(b, 3);
    assert_int_equal(r->packets, 40);
    assert_int_equal(r->bytes, 4000);
    assert_int_equal(r->sampling_rate, 1);
    r = pm_batch_rec(b, 4);
    assert_int_equal(r->packets, 10);
    assert_int_equal(r->sampling_rate, 0);
    smp_close(&s);
    unlink(path);
}

static void test_map_reload_and_startup_errors(void **state)
{
    struct smp s;
    struct pm_batch *b;
    char *path = write_map("id=8 ip=10.0.0.0/8\n");
    FILE *f;
    (void)state;
    assert_int_equal(smp_open(&s, "sampling_map", path, NULL, NULL), 0);
    f = fopen(path, "w");
    fputs("id=8 ip=10.0.0.0/8\nid=oops ip=10.0.0.1\n", f);
    fclose(f);
    assert_int_equal(s.d->reload(s.ctx), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), ":2: id=oops"));
    b = fakehost_batch(2);
    flow(b, 0, "10.1.2.3", 0, 0);
    b->n = 1;
    assert_int_equal(s.d->process(s.ctx, b), 0);
    assert_int_equal(pm_batch_rec(b, 0)->sampling_rate, 8); /* old map */
    f = fopen(path, "w");
    fputs("id=16 ip=10.0.0.0/8\n", f);
    fclose(f);
    assert_int_equal(s.d->reload(s.ctx), 0);
    flow(b, 0, "10.1.2.3", 0, 0);
    assert_int_equal(s.d->process(s.ctx, b), 0);
    assert_int_equal(pm_batch_rec(b, 0)->sampling_rate, 16);
    assert_int_equal(fakehost_counter_value("reload_errors"), 1);
    smp_close(&s);

    /* a broken map stops start-up, naming file:line */
    f = fopen(path, "w");
    fputs("id=4 ip=nowhere\n", f);
    fclose(f);
    assert_int_equal(smp_open(&s, "sampling_map", path, NULL, NULL), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), ":1: ip=nowhere"));
    s.ctx = NULL;
    smp_close(&s);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_sampling),
        cmocka_unit_test(test_ext_rate),
        cmocka_unit_test(test_map_parse),
        cmocka_unit_test(test_map_errors),
        cmocka_unit_test(test_map_flows),
        cmocka_unit_test(test_map_flows_renormalize),
        cmocka_unit_test(test_map_reload_and_startup_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
