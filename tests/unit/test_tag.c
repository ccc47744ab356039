/*
 * test_tag.c - unit tests of the tag transform (pre_tag_map) against the
 * fake host: every match key on flow-like records, negation, filter (BPF on
 * a synthesised frame), jeq/label/stack/return/N++, pre_tag_filter,
 * pre_tag2_filter, pre_tag_label_filter, map errors (file:line), reload
 * keeping the old map, and a 30,000-rule indexed map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fakehost.h"
#include "pretag.h"

const struct pm_module_desc *pm_module_descriptor(void);

static char tmpdir[64];

struct tg {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
};

static const char *write_map(const char *name, const char *text)
{
    static char path[128];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* open with NULL-terminated extra key/value pairs */
static int tg_open(struct tg *t, const char *map, ...)
{
    const char *kv[16];
    int n = 0;
    va_list ap;
    va_start(ap, map);
    while (n < 14 && (kv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    kv[n] = kv[n + 1] = NULL;
    t->d = pm_module_descriptor();
    t->inst = fakehost_instance("tag", "p", PM_KIND_TRANSFORM,
                                "tag,tag2,label");
    t->cfg = fakehost_config(t->d, t->inst, "pre_tag_map", map, kv[0], kv[1],
                             kv[2], kv[3], kv[4], kv[5], kv[6], kv[7], NULL);
    t->ctx = NULL;
    return t->d->init(fakehost(), t->inst, t->cfg, &t->ctx);
}

static void tg_close(struct tg *t)
{
    if (t->ctx)
        t->d->fini(t->ctx);
    fakehost_config_free(t->d, t->cfg);
}

static struct pm_rec *flow(struct pm_batch *b, const char *src,
                           const char *dst, uint8_t proto, uint16_t sp,
                           uint16_t dp)
{
    const struct pm_host *h = fakehost();
    struct pm_rec *r = pm_batch_rec(b, b->n++);
    memset(r, 0, b->rec_size);
    assert_int_equal(h->prim_parse(PM_P_SRC_HOST, src, r, NULL), 0);
    assert_int_equal(h->prim_parse(PM_P_DST_HOST, dst, r, NULL), 0);
    r->proto = proto;
    r->src_port = sp;
    r->dst_port = dp;
    r->packets = 1;
    r->bytes = 100;
    return r;
}

static void reset_batch(struct pm_batch *b)
{
    memset(b->drop, 0, (b->cap + 63) / 64 * 8);
    b->ndropped = 0;
}

static uint64_t tag_of(struct pm_batch *b, uint32_t i)
{
    struct pm_rec *r = pm_batch_rec(b, i);
    return pm_rec_has(r, PM_P_TAG) ? r->tag : 0;
}
static uint64_t tag2_of(struct pm_batch *b, uint32_t i)
{
    struct pm_rec *r = pm_batch_rec(b, i);
    return pm_rec_has(r, PM_P_TAG2) ? r->tag2 : 0;
}
static void label_is(struct pm_batch *b, uint32_t i, const char *want)
{
    struct pm_rec *r = pm_batch_rec(b, i);
    char got[256] = "";
    if (pm_rec_has(r, PM_P_LABEL))
        snprintf(got, sizeof(got), "%.*s", (int)r->label.len,
                 pm_batch_str(b, r->label));
    assert_string_equal(got, want);
}

static int setup(void **state)
{
    (void)state;
    fakehost_reset();
    return 0;
}

static void test_descriptor(void **state)
{
    const struct pm_module_desc *d = pm_module_descriptor();
    (void)state;
    assert_int_equal(d->kind, PM_KIND_TRANSFORM);
    assert_string_equal(d->name, "tag");
    assert_int_equal(d->order, 300);
    assert_true(d->options[0].flags & PM_OPTF_TRIGGER);
    assert_true(d->options[0].flags & PM_OPTF_MAP);
}

/* Every match key, one rule each; records built to hit exactly one. */
static void test_keys(void **state)
{
    struct pm_batch *b = fakehost_batch(64);
    struct tg t;
    struct pm_rec *r;
    const char *map = write_map(
        "keys.map",
        "! one rule per key\n"
        "set_tag=1 ip=192.0.2.1 in=4\n"
        "set_tag=2 ip=192.0.2.0/24 out=7\n"
        "set_tag=3 nexthop=10.9.9.9\n"
        "set_tag=4 bgp_nexthop=2001:db8::9\n"
        "set_tag=5 src_mac=00:11:22:33:44:55\n"
        "set_tag=6 dst_mac=66:77:88:99:aa:bb\n"
        "set_tag=7 vlan=42\n"
        "set_tag=8 cvlan=43\n"
        "set_tag=9 src_net=172.16.0.0/12\n"
        "set_tag=10 dst_net=2001:db8:5::/48\n"
        "set_tag=11 src_as=65001\n"
        "set_tag=12 dst_as=65002\n"
        "set_tag=13 mpls_vpn_rd=0:65512:1\n"
        "set_tag=14 mpls_label_bottom=1000\n"
        "set_tag=15 sampling_rate=512\n"
        "set_tag=16 direction=1\n"
        "set_tag=17 engine_type=3 engine_id=4\n"
        "id=18 filter='tcp and dst port 443'\n"
        "set_tag=19 in=-5 out=5\n"
        "set_tag=20 peer_src_as=1 peer_dst_as=2 local_pref=3 mpls_pw_id=4\n");
    const struct pm_host *h = fakehost();
    (void)state;
    assert_int_equal(tg_open(&t, map, "maps_index", "true", NULL), 0);
    for (int i = 0; i < 21; i++)
        flow(b, "10.0.0.1", "10.0.0.2", 17, 1, 2);
    r = pm_batch_rec(b, 1);
    h->prim_parse(PM_P_PEER_SRC_IP, "192.0.2.1", r, NULL);
    r->in_iface = 4;
    r = pm_batch_rec(b, 2);
    h->prim_parse(PM_P_PEER_SRC_IP, "192.0.2.77", r, NULL);
    r->out_iface = 7;
    h->prim_parse(PM_P_PEER_DST_IP, "10.9.9.9", pm_batch_rec(b, 3), NULL);
    h->prim_parse(PM_P_PEER_DST_IP, "2001:db8::9", pm_batch_rec(b, 4), NULL);
    h->prim_parse(PM_P_SRC_MAC, "00:11:22:33:44:55", pm_batch_rec(b, 5), NULL);
    h->prim_parse(PM_P_DST_MAC, "66:77:88:99:aa:bb", pm_batch_rec(b, 6), NULL);
    pm_batch_rec(b, 7)->vlan = 42;
    pm_batch_rec(b, 8)->cvlan = 43;
    h->prim_parse(PM_P_SRC_HOST, "172.20.1.1", pm_batch_rec(b, 9), NULL);
    h->prim_parse(PM_P_DST_HOST, "2001:db8:5::1", pm_batch_rec(b, 10), NULL);
    h->prim_parse(PM_P_SRC_HOST, "2001:db8:9::1", pm_batch_rec(b, 10), NULL);
    pm_batch_rec(b, 11)->src_as = 65001;
    pm_batch_rec(b, 12)->dst_as = 65002;
    assert_int_equal(
        h->prim_parse(PM_P_MPLS_VPN_RD, "0:65512:1", pm_batch_rec(b, 13), NULL),
        0);
    pm_batch_rec(b, 14)->mpls_label_bottom = 1000;
    pm_batch_rec(b, 15)->sampling_rate = 512;
    pm_batch_rec(b, 16)->direction = 1;
    pm_batch_rec(b, 17)->export_proto_sysid = (3 << 8) | 4;
    r = pm_batch_rec(b, 18);
    r->proto = 6;
    r->dst_port = 443;
    r = pm_batch_rec(b, 19);
    r->in_iface = 6;
    r->out_iface = 5;
    r = pm_batch_rec(b, 20);
    r->peer_src_as = 1;
    r->peer_dst_as = 2;
    r->local_pref = 3;
    r->mpls_pw_id = 4;
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_int_equal(tag_of(b, 0), 0);
    for (uint32_t i = 1; i <= 20; i++)
        assert_int_equal(tag_of(b, i), i);
    assert_int_equal(fakehost_counter_value("matched"), 20);
    assert_int_equal(fakehost_counter_value("unmatched"), 1);
    /* negation: in=-5 does not match in 5 */
    reset_batch(b);
    pm_batch_rec(b, 19)->in_iface = 5;
    pm_pset_clear(&pm_batch_rec(b, 19)->present, PM_P_TAG);
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_int_equal(tag_of(b, 19), 0);
    tg_close(&t);
}

/* Packet records: the filter runs on rec->pkt. */
static void test_filter_packets(void **state)
{
    struct pm_batch *b = fakehost_batch(8);
    const struct pm_host *h = fakehost();
    uint8_t fr[64] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0, 0x11, 0x22, 0x33,
                      0x44, 0x55, 0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0, 0, 64,
                      17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 53, 0, 99, 0, 8};
    struct pm_rec *r = pm_batch_rec(b, 0);
    uint8_t *copy = h->batch_pkt(b, 42);
    struct tg t;
    (void)state;
    memcpy(copy, fr, 42);
    memset(r, 0, b->rec_size);
    assert_int_equal(h->decode_packet(r, PM_DLT_EN10MB, copy, 42, 42, 0),
                     PM_DEC_OK);
    r->pkt = copy;
    r->pkt_caplen = r->pkt_len = 42;
    r->dlt = PM_DLT_EN10MB;
    b->n = 1;
    assert_int_equal(
        tg_open(&t, write_map("p.map", "set_tag=1 filter='tcp'\n"
                                       "set_tag=2 filter='udp src port 53'\n"),
                NULL),
        0);
    t.d->process(t.ctx, b);
    assert_int_equal(tag_of(b, 0), 2);
    tg_close(&t);
}

static void test_flow_control(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    struct tg t;
    (void)state;
    const char *map = write_map(
        "jeq.map",
        "set_tag=1000 in=1 jeq=eval_out\n"
        "set_tag=2000 in=2 jeq=eval_out\n"
        "set_tag=9 in=3\n"
        "set_tag=100 out=1 label=eval_out stack=sum jeq=lab\n"
        "set_tag=200 out=2 stack=or\n"
        "set_label=a in=1 label=lab jeq=next\n"
        "set_label=b in=1 jeq=c\n"
        "set_tag2=5 label=c in=99\n"
        "set_tag2=6 set_label=z in=1\n");
    struct pm_rec *r;
    assert_int_equal(tg_open(&t, map, NULL), 0);
    r = flow(b, "10.0.0.1", "10.0.0.2", 6, 1, 2);
    r->in_iface = 1;
    r->out_iface = 1; /* 1000 + 100, labels a,b,z, tag2 6 */
    r = flow(b, "10.0.0.1", "10.0.0.2", 6, 1, 2);
    r->in_iface = 2;
    r->out_iface = 2; /* 2000 | 200 */
    r = flow(b, "10.0.0.1", "10.0.0.2", 6, 1, 2);
    r->in_iface = 2;
    r->out_iface = 3; /* 2000, nothing later matches */
    r = flow(b, "10.0.0.1", "10.0.0.2", 6, 1, 2);
    r->in_iface = 3; /* first match wins: 9 */
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_int_equal(tag_of(b, 0), 1100);
    assert_int_equal(tag2_of(b, 0), 6);
    label_is(b, 0, "a,b,z");
    assert_int_equal(tag_of(b, 1), 2000 | 200);
    assert_int_equal(tag_of(b, 2), 2000);
    assert_int_equal(tag_of(b, 3), 9);
    label_is(b, 3, "");
    tg_close(&t);
}

static void test_return_and_inc(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    struct tg t;
    (void)state;
    const char *map = write_map("ret.map",
                                "set_tag=1001 in=1 jeq=out return=true\n"
                                "set_tag=2001 out=1 label=out\n"
                                "set_tag=7++ in=5\n");
    struct pm_rec *r;
    assert_int_equal(tg_open(&t, map, NULL), 0);
    r = flow(b, "10.0.0.1", "10.0.0.2", 6, 1, 2);
    r->in_iface = 1;
    r->out_iface = 1;
    for (int i = 0; i < 3; i++)
        flow(b, "10.0.0.1", "10.0.0.2", 6, 1, 2)->in_iface = 5;
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_int_equal(b->n, 5); /* one copy appended */
    assert_int_equal(tag_of(b, 0), 2001);
    assert_int_equal(tag_of(b, 4), 1001);
    assert_int_equal(tag_of(b, 1), 7);
    assert_int_equal(tag_of(b, 2), 8);
    assert_int_equal(tag_of(b, 3), 9);
    assert_int_equal(fakehost_counter_value("returned"), 1);
    tg_close(&t);
}

static void test_tag_filters(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    struct tg t;
    struct pt_tagfilter f;
    char err[128];
    (void)state;
    const char *map = write_map("f.map", "set_tag=10 set_tag2=1 in=1\n"
                                         "set_tag=25 set_label=x,y in=2\n"
                                         "set_tag=40 set_label=w in=3\n");
    assert_int_equal(pt_tagfilter_parse("10,20-30,-0", &f, err, sizeof(err)),
                     0);
    assert_true(pt_tagfilter_match(&f, 10));
    assert_true(pt_tagfilter_match(&f, 25));
    assert_false(pt_tagfilter_match(&f, 0));
    assert_false(pt_tagfilter_match(&f, 40));
    assert_int_equal(pt_tagfilter_parse("-0", &f, err, sizeof(err)), 0);
    assert_true(pt_tagfilter_match(&f, 3));
    assert_false(pt_tagfilter_match(&f, 0));
    assert_int_equal(pt_tagfilter_parse("5-1", &f, err, sizeof(err)), -EINVAL);
    assert_int_equal(pt_tagfilter_parse("x", &f, err, sizeof(err)), -EINVAL);

    for (int i = 0; i < 4; i++)
        flow(b, "10.0.0.1", "10.0.0.2", 6, 1, 2)->in_iface = (uint32_t)i;
    assert_int_equal(tg_open(&t, map, "pre_tag_filter", "10,20-30", NULL), 0);
    t.d->process(t.ctx, b);
    assert_true(pm_batch_dropped(b, 0));
    assert_false(pm_batch_dropped(b, 1));
    assert_false(pm_batch_dropped(b, 2));
    assert_true(pm_batch_dropped(b, 3));
    tg_close(&t);
    reset_batch(b);
    assert_int_equal(tg_open(&t, map, "pre_tag2_filter", "-0", NULL), 0);
    t.d->process(t.ctx, b);
    assert_int_equal(b->ndropped, 3);
    tg_close(&t);
    reset_batch(b);
    assert_int_equal(tg_open(&t, map, "pre_tag_label_filter", "y, null", NULL),
                     0);
    t.d->process(t.ctx, b);
    assert_false(pm_batch_dropped(b, 0)); /* null */
    assert_false(pm_batch_dropped(b, 2)); /* x,y */
    assert_true(pm_batch_dropped(b, 3));  /* w */
    tg_close(&t);
    reset_batch(b);
    assert_int_equal(tg_open(&t, map, "pre_tag_label_filter", "-null", NULL),
                     0);
    t.d->process(t.ctx, b);
    assert_int_equal(b->ndropped, 2);
    tg_close(&t);
}

static void expect_error(const char *text, const char *msg)
{
    struct tg t;
    char want[256];
    const char *p = write_map("bad.map", text);
    assert_int_equal(tg_open(&t, p, "maps_entries", "3", NULL), -EINVAL);
    snprintf(want, sizeof(want), "%s:%s", p, msg);
    if (!strstr(fakehost_log_text(), want)) {
        fprintf(stderr, "wanted '%s' in log:\n%s\n", want,
                fakehost_log_text());
        fail();
    }
    tg_close(&t);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("set_tag=1 in=1\nset_tag=x\n", "2: set_tag: 'x'");
    expect_error("! c\n\nset_tag=1 foo=2\n", "3: unknown key 'foo'");
    expect_error("set_tag=1 ip=-10.0.0.1\n", "1: ip: negation");
    expect_error("set_tag=1 ip=10.0.0.300\n", "1: ip: '10.0.0.300'");
    expect_error("set_tag=1 filter='tcp and'\n", "1: filter 'tcp and'");
    expect_error("set_tag=1 filter='tcp\n", "1: filter: missing closing quote");
    expect_error("set_tag=1 jeq=nowhere\nset_tag=2 label=x\n",
                 "1: jeq=nowhere: no rule labelled");
    expect_error("set_tag=1 label=x\nset_tag=2 jeq=x\n", "2: jeq=x");
    expect_error("in=1\n", "1: rule sets nothing");
    expect_error("set_tag=1 vlan=70000\n", "1: vlan: '70000'");
    expect_error("set_tag=1 src_mac=zz\n", "1: src_mac: 'zz'");
    expect_error("set_tag=1 stack=mul\n", "1: stack: 'mul'");
    expect_error("set_tag=1\nset_tag=2\nset_tag=3\nset_tag=4\n",
                 "4: more than maps_entries (3)");
    expect_error("set_tag=1 in=1 in=2\n", "1: key 'in' given twice");
    expect_error("set_tag=1 garbage\n", "1: 'garbage': expected key=value");
}

static void test_reload(void **state)
{
    struct pm_batch *b = fakehost_batch(8);
    struct tg t;
    const char *p;
    pm_ts_t now = {.sec = 1};
    (void)state;
    p = write_map("r.map", "set_tag=1 in=1\n");
    assert_int_equal(tg_open(&t, p, NULL), 0);
    flow(b, "10.0.0.1", "10.0.0.2", 6, 1, 2)->in_iface = 1;
    t.d->process(t.ctx, b);
    assert_int_equal(tag_of(b, 0), 1);
    /* broken map: old kept, reason logged */
    write_map("r.map", "set_tag=2 in=1\nset_tag=oops\n");
    assert_int_not_equal(t.d->reload(t.ctx), 0);
    assert_non_null(strstr(fakehost_log_text(), "r.map:2: set_tag"));
    assert_non_null(strstr(fakehost_log_text(), "keeping the previous map"));
    t.d->process(t.ctx, b);
    assert_int_equal(tag_of(b, 0), 1);
    assert_int_equal(fakehost_counter_value("reload_errors"), 1);
    /* good map by signal */
    write_map("r.map", "set_tag=2 in=1\n");
    assert_int_equal(t.d->reload(t.ctx), 0);
    t.d->process(t.ctx, b);
    assert_int_equal(tag_of(b, 0), 2);
    /* by maps_refresh: a changed file is noticed from tick() */
    write_map("r.map", "set_tag=33 in=1\n! bigger file\n");
    now.sec = 2;
    t.d->tick(t.ctx, &now);
    t.d->process(t.ctx, b);
    assert_int_equal(tag_of(b, 0), 33);
    assert_int_equal(fakehost_counter_value("reloads"), 2);
    tg_close(&t);
}

/* 30,000 rules keyed by ip+in: loads fast, matches like a linear scan. */
static void test_big_map(void **state)
{
    struct pm_batch *b = fakehost_batch(256);
    struct tg t;
    char path[128], ip[32];
    FILE *f;
    struct timespec t0, t1;
    double load, eval;
    uint32_t i;
    (void)state;
    snprintf(path, sizeof(path), "%s/big.map", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (i = 0; i < 30000; i++)
        fprintf(f, "set_tag=%u ip=10.%u.%u.1 in=%u\n", i + 1, i / 256,
                i % 256, i % 7);
    fprintf(f, "set_tag=999999 filter='udp'\n");
    fclose(f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tg_open(&t, path, "maps_entries", "100000", NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    load = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    for (i = 0; i < 256; i++) {
        uint32_t k = i * 117;
        struct pm_rec *r = flow(b, "1.1.1.1", "2.2.2.2", 17, 1, 2);
        snprintf(ip, sizeof(ip), "10.%u.%u.1", k / 256, k % 256);
        fakehost()->prim_parse(PM_P_PEER_SRC_IP, ip, r, NULL);
        r->in_iface = (i & 1) ? k % 7 : 100; /* odd: rule k; even: filter */
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int rep = 0; rep < 100; rep++)
        t.d->process(t.ctx, b);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    eval = ((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9) /
           25600;
    for (i = 0; i < 256; i++)
        assert_int_equal(tag_of(b, i), (i & 1) ? i * 117 + 1 : 999999);
    fprintf(stderr, "30000-rule map: load %.3f s, %.2f us per record\n", load,
            eval * 1e6);
    assert_true(load < 1.0);
    assert_true(eval < 20e-6);
    tg_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_descriptor, setup),
        cmocka_unit_test_setup(test_keys, setup),
        cmocka_unit_test_setup(test_filter_packets, setup),
        cmocka_unit_test_setup(test_flow_control, setup),
        cmocka_unit_test_setup(test_return_and_inc, setup),
        cmocka_unit_test_setup(test_tag_filters, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_reload, setup),
        cmocka_unit_test_setup(test_big_map, setup),
    };
    int rc;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tag.XXXXXX");
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
