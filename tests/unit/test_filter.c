/*
 * test_filter.c - unit tests of the aggregate_filter transform against the
 * fake host: records carrying packets (Ethernet, VLAN, raw IP) and
 * flow-like records without packet bytes (matched on a synthesised frame).
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

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

struct flt {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
};

static int flt_open(struct flt *f, const char *expr)
{
    f->d = pm_module_descriptor();
    f->inst = fakehost_instance("filter", "inbound", PM_KIND_TRANSFORM,
                                "src_host,dst_host");
    f->cfg = fakehost_config(f->d, f->inst, "aggregate_filter", expr, NULL);
    f->ctx = NULL;
    return f->d->init(fakehost(), f->inst, f->cfg, &f->ctx);
}

static void flt_close(struct flt *f)
{
    if (f->ctx)
        f->d->fini(f->ctx);
    fakehost_config_free(f->d, f->cfg);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Frame: [Ethernet [+VLAN]] IPv4 + TCP/UDP, 10 payload bytes. */
static uint32_t frame4(uint8_t *p, int l2, int vlan, uint8_t proto,
                       const uint8_t src[4], const uint8_t dst[4], uint16_t sp,
                       uint16_t dp)
{
    uint32_t o = 0, l4 = proto == 6 ? 20 : 8;
    uint8_t *ip;

    if (l2) {
        static const uint8_t a[6] = {0, 0x11, 0x22, 0x33, 0x44, 0x55};
        static const uint8_t b[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
        memcpy(p, b, 6);
        memcpy(p + 6, a, 6);
        o = 12;
        if (vlan) {
            put16(p + o, 0x8100);
            put16(p + o + 2, (uint16_t)vlan);
            o += 4;
        }
        put16(p + o, 0x0800);
        o += 2;
    }
    ip = p + o;
    memset(ip, 0, 20 + l4 + 10);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + l4 + 10));
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    put16(ip + 20, sp);
    put16(ip + 22, dp);
    if (proto == 6)
        ip[32] = 5 << 4;
    return o + 20 + l4 + 10;
}

static const uint8_t H1[4] = {10, 0, 0, 1}, H2[4] = {192, 168, 1, 5},
                     H3[4] = {192, 168, 2, 9};

/* Append a record decoded from a frame, keeping its bytes. */
static void add_pkt(struct pm_batch *b, int dlt, const uint8_t *frame,
                    uint32_t len)
{
    const struct pm_host *h = fakehost();
    struct pm_rec *r = pm_batch_rec(b, b->n);
    uint8_t *copy = h->batch_pkt(b, len);

    assert_non_null(copy);
    memcpy(copy, frame, len);
    memset(r, 0, b->rec_size);
    assert_int_equal(h->decode_packet(r, dlt, copy, len, len, 0), PM_DEC_OK);
    r->pkt = copy;
    r->pkt_caplen = r->pkt_len = len;
    r->dlt = (uint16_t)dlt;
    b->n++;
}

/* Append a flow-like record (no packet bytes). */
static struct pm_rec *add_flow(struct pm_batch *b, int af, const char *src,
                               const char *dst, uint8_t proto, uint16_t sp,
                               uint16_t dp)
{
    const struct pm_host *h = fakehost();
    struct pm_rec *r = pm_batch_rec(b, b->n++);

    memset(r, 0, b->rec_size);
    (void)af;
    assert_int_equal(h->prim_parse(PM_P_SRC_HOST, src, r, NULL), 0);
    assert_int_equal(h->prim_parse(PM_P_DST_HOST, dst, r, NULL), 0);
    r->proto = proto;
    pm_rec_set(r, PM_P_PROTO);
    r->src_port = sp;
    r->dst_port = dp;
    pm_rec_set(r, PM_P_SRC_PORT);
    pm_rec_set(r, PM_P_DST_PORT);
    r->packets = 1;
    r->bytes = 100;
    return r;
}

/* Run expr over b; return the kept records as a bit mask. */
static uint32_t kept(const char *expr, struct pm_batch *b)
{
    struct flt f;
    uint32_t i, mask = 0;

    memset(b->drop, 0, (b->cap + 63) / 64 * 8);
    b->ndropped = 0;
    assert_int_equal(flt_open(&f, expr), 0);
    assert_int_equal(f.d->process(f.ctx, b), 0);
    for (i = 0; i < b->n; i++)
        if (!pm_batch_dropped(b, i))
            mask |= 1u << i;
    flt_close(&f);
    return mask;
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
    assert_string_equal(d->name, "filter");
    assert_int_equal(d->order, 200);
    assert_true(d->flags & PM_MF_NEEDS_PACKETS);
    assert_true(d->options[0].flags & PM_OPTF_NO_GLOBAL);
    assert_true(d->options[0].flags & PM_OPTF_TRIGGER);
}

static void test_invalid(void **state)
{
    struct flt f;
    (void)state;
    assert_int_equal(flt_open(&f, "dst net 300.1.2.3 and"), -EINVAL);
    assert_null(f.ctx);
    assert_non_null(
        strstr(fakehost_log_text(), "aggregate_filter 'dst net 300.1.2.3 and': "));
    flt_close(&f);
}

static void test_packets(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    uint8_t fr[128];
    uint32_t n;
    (void)state;

    n = frame4(fr, 1, 0, 6, H1, H2, 1234, 80); /* 0: tcp 10.0.0.1->192.168.1.5 */
    add_pkt(b, PM_DLT_EN10MB, fr, n);
    n = frame4(fr, 1, 0, 17, H2, H1, 53, 999); /* 1: udp back */
    add_pkt(b, PM_DLT_EN10MB, fr, n);
    n = frame4(fr, 1, 42, 17, H1, H3, 5000, 53); /* 2: vlan 42 udp */
    add_pkt(b, PM_DLT_EN10MB, fr, n);
    n = frame4(fr, 0, 0, 6, H3, H2, 443, 2000); /* 3: raw IP tcp */
    add_pkt(b, PM_DLT_RAW, fr, n);

    assert_int_equal(kept("dst net 192.168.1.0/24", b), 0x1 | 0x8);
    assert_int_equal(kept("src port 53", b), 0x2);
    assert_int_equal(kept("tcp", b), 0x1 | 0x8);
    assert_int_equal(kept("vlan 42 and udp", b), 0x4);
    assert_int_equal(kept("src net 192.168.0.0/16", b), 0x2 | 0x8);
    /* 5 runs over 4 records: 2+1+2+1+2 kept */
    assert_int_equal(fakehost_counter_value("dropped"), 12);
    assert_int_equal(fakehost_counter_value("matched"), 8);
}

static void test_link_type_mismatch(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    uint8_t fr[128];
    uint32_t n;
    (void)state;

    n = frame4(fr, 1, 0, 6, H1, H2, 1234, 80);
    add_pkt(b, PM_DLT_EN10MB, fr, n);
    n = frame4(fr, 0, 0, 6, H3, H2, 443, 2000);
    add_pkt(b, PM_DLT_RAW, fr, n);
    /* `ether` makes no sense on raw IP: such records are dropped, once
     * logged */
    assert_int_equal(kept("ether src 00:11:22:33:44:55", b), 0x1);
    assert_non_null(strstr(fakehost_log_text(), "cannot be applied to link type"));
}

static void test_flows(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    struct pm_rec *r;
    (void)state;

    add_flow(b, 4, "10.0.0.1", "192.168.1.5", 6, 1234, 80);          /* 0 */
    add_flow(b, 4, "192.168.1.5", "10.0.0.1", 6, 80, 1234);          /* 1 */
    add_flow(b, 6, "2001:db8::1", "2001:db8::2", 17, 53, 5353);      /* 2 */
    r = add_flow(b, 4, "172.16.0.1", "192.168.1.77", 17, 5060, 53); /* 3 */
    r->vlan = 42;
    pm_rec_set(r, PM_P_VLAN);
    r->tos = 0xb8;
    pm_rec_set(r, PM_P_TOS);
    r->packets = 2;
    r->bytes = 3000; /* 1500 per packet */
    r = pm_batch_rec(b, 0);
    r->tcpflags = 0x02;
    pm_rec_set(r, PM_P_TCPFLAGS);

    assert_int_equal(kept("dst net 192.168.1.0/24", b), 0x1);
    assert_int_equal(kept("src port 80", b), 0x2);
    assert_int_equal(kept("tcp", b), 0x3);
    assert_int_equal(kept("ip6 and udp", b), 0x4);
    assert_int_equal(kept("dst port 53", b), 0x0); /* vlan-tagged: see below */
    assert_int_equal(kept("vlan 42 and dst port 53", b), 0x8);
    assert_int_equal(kept("host 2001:db8::2", b), 0x4);
    assert_int_equal(kept("tcp[tcpflags] & tcp-syn != 0", b), 0x1);
    assert_int_equal(kept("vlan and ip[1] = 0xb8", b), 0x8);
    assert_int_equal(kept("vlan and greater 1000", b), 0x8);
    assert_int_equal(kept("not vlan and less 200", b), 0x7);
}

static void test_skips_dropped(void **state)
{
    struct pm_batch *b = fakehost_batch(16);
    struct flt f;
    (void)state;

    add_flow(b, 4, "10.0.0.1", "192.168.1.5", 6, 1234, 80);
    add_flow(b, 4, "10.0.0.1", "192.168.1.6", 6, 1234, 80);
    pm_batch_drop(b, 0);
    assert_int_equal(flt_open(&f, "dst host 192.168.1.5"), 0);
    assert_int_equal(f.d->process(f.ctx, b), 0);
    assert_true(pm_batch_dropped(b, 0));
    assert_true(pm_batch_dropped(b, 1));
    assert_int_equal(b->ndropped, 2);
    assert_int_equal(fakehost_counter_value("dropped"), 1);
    assert_int_equal(fakehost_counter_value("matched"), 0);
    flt_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_descriptor, setup),
        cmocka_unit_test_setup(test_invalid, setup),
        cmocka_unit_test_setup(test_packets, setup),
        cmocka_unit_test_setup(test_link_type_mismatch, setup),
        cmocka_unit_test_setup(test_flows, setup),
        cmocka_unit_test_setup(test_skips_dropped, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fakehost_reset();
    return rc;
}
