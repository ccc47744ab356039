/*
 * test_tunnel.c - unit tests of the tunnel transform against the fake host
 * on crafted packets: GTP-U (plain, sequence number, extension headers,
 * IPv6 inside), VXLAN, GRE (key, checksum + sequence, transparent Ethernet
 * bridging), both modes (replace, tunnel), stacks and their order, nested
 * tunnels and the depth limit, malformed headers, truncation at every byte,
 * records without packets, configuration errors.
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

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

/* ---- packet builder: headers are pushed in front of what is there ---- */

struct pk {
    uint8_t b[1024];
    uint32_t off; /* data is b[off..sizeof b) */
};

static void pk_init(struct pk *p)
{
    memset(p, 0, sizeof(*p));
    p->off = sizeof(p->b);
}
static uint32_t pk_len(const struct pk *p)
{
    return (uint32_t)sizeof(p->b) - p->off;
}
static uint8_t *pk_data(struct pk *p)
{
    return p->b + p->off;
}
static uint8_t *push(struct pk *p, uint32_t n)
{
    assert_true(p->off >= n);
    p->off -= n;
    memset(p->b + p->off, 0, n);
    return p->b + p->off;
}
static void w16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void w32(uint8_t *p, uint32_t v)
{
    w16(p, (uint16_t)(v >> 16));
    w16(p + 2, (uint16_t)v);
}
static void payload(struct pk *p, uint32_t n)
{
    memset(push(p, n), 'x', n);
}
static void tcp(struct pk *p, uint16_t sp, uint16_t dp, uint8_t flags)
{
    uint8_t *h = push(p, 20);
    w16(h, sp);
    w16(h + 2, dp);
    h[12] = 5 << 4;
    h[13] = flags;
}
static void udp(struct pk *p, uint16_t sp, uint16_t dp)
{
    uint32_t n = pk_len(p);
    uint8_t *h = push(p, 8);
    w16(h, sp);
    w16(h + 2, dp);
    w16(h + 4, (uint16_t)(n + 8));
}
static void ipv4(struct pk *p, uint8_t proto, const char *src, const char *dst,
                 uint8_t tos)
{
    uint32_t n = pk_len(p);
    uint8_t *h = push(p, 20);
    h[0] = 0x45;
    h[1] = tos;
    w16(h + 2, (uint16_t)(n + 20));
    h[8] = 64;
    h[9] = proto;
    assert_int_equal(inet_pton(AF_INET, src, h + 12), 1);
    assert_int_equal(inet_pton(AF_INET, dst, h + 16), 1);
}
static void ipv6(struct pk *p, uint8_t nh, const char *src, const char *dst)
{
    uint32_t n = pk_len(p);
    uint8_t *h = push(p, 40);
    h[0] = 0x60;
    w16(h + 4, (uint16_t)n);
    h[6] = nh;
    h[7] = 64;
    assert_int_equal(inet_pton(AF_INET6, src, h + 8), 1);
    assert_int_equal(inet_pton(AF_INET6, dst, h + 24), 1);
}
static void eth(struct pk *p, uint16_t etype, uint8_t macbyte)
{
    uint8_t *h = push(p, 14);
    memset(h, macbyte, 6);         /* dst */
    memset(h + 6, macbyte + 1, 6); /* src */
    w16(h + 12, etype);
}
static void gtp(struct pk *p, uint32_t teid, uint8_t flags, int ext)
{
    uint32_t n = pk_len(p);
    uint8_t *h;
    if (ext) { /* one extension header (PDU session container), 4 bytes */
        h = push(p, 4);
        h[0] = 1;
        h[1] = 0x10;
        h[3] = 0; /* no next extension */
    }
    if (flags & 0x07) {
        h = push(p, 4);
        w16(h, 0x1234); /* sequence */
        h[3] = ext ? 0x85 : 0;
    }
    h = push(p, 8);
    h[0] = flags;
    h[1] = 0xff;
    w16(h + 2, (uint16_t)(n + ((flags & 0x07) ? 4 : 0) + (ext ? 4 : 0)));
    w32(h + 4, teid);
}
static void vxlan(struct pk *p, uint32_t vni, uint8_t flags)
{
    uint8_t *h = push(p, 8);
    h[0] = flags;
    h[4] = (uint8_t)(vni >> 16);
    h[5] = (uint8_t)(vni >> 8);
    h[6] = (uint8_t)vni;
}
static void gre(struct pk *p, uint16_t flags, uint16_t et, uint32_t key)
{
    uint8_t *h;
    if (flags & 0x1000)
        w32(push(p, 4), 77); /* sequence */
    if (flags & 0x2000)
        w32(push(p, 4), key);
    if (flags & 0x8000)
        push(p, 4); /* checksum + reserved */
    h = push(p, 4);
    w16(h, flags);
    w16(h + 2, et);
}

/* The inner packet of most tests: 10.1.1.1:1111 > 10.2.2.2:80 TCP SYN. */
static void inner_tcp4(struct pk *p)
{
    pk_init(p);
    payload(p, 10);
    tcp(p, 1111, 80, 0x02);
    ipv4(p, 6, "10.1.1.1", "10.2.2.2", 0x10);
}
static void outer_udp4(struct pk *p, uint16_t sp, uint16_t dp)
{
    udp(p, sp, dp);
    ipv4(p, 17, "192.0.2.1", "192.0.2.2", 0);
    eth(p, 0x0800, 0x02);
}

/* ---- module plumbing ---- */

static void *g_allocs[64];
static unsigned g_nallocs;

struct tun {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
};

static int tun_open(struct tun *t, const char *k1, const char *v1,
                    const char *k2, const char *v2, const char *k3,
                    const char *v3)
{
    t->d = pm_module_descriptor();
    t->inst = fakehost_instance("tunnel", "t", PM_KIND_TRANSFORM,
                                "src_host,dst_host,proto");
    t->cfg = fakehost_config(t->d, t->inst, k1, v1, k2, v2, k3, v3, NULL);
    t->ctx = NULL;
    return t->d->init(fakehost(), t->inst, t->cfg, &t->ctx);
}

static void tun_close(struct tun *t)
{
    if (t->ctx)
        t->d->fini(t->ctx);
    fakehost_config_free(t->d, t->cfg);
}

/* Append a record decoded from frame[0..caplen) (wire length len). */
static struct pm_rec *add_pkt(struct pm_batch *b, const uint8_t *frame,
                              uint32_t caplen, uint32_t len)
{
    const struct pm_host *h = fakehost();
    struct pm_rec *r = pm_batch_rec(b, b->n++);
    /* an exact-size heap copy, so ASan sees any over-read */
    uint8_t *copy = malloc(caplen ? caplen : 1);

    assert_non_null(copy);
    assert_true(g_nallocs < 64);
    g_allocs[g_nallocs++] = copy;
    memcpy(copy, frame, caplen);
    memset(r, 0, b->rec_size);
    r->l3_off = r->l4_off = r->payload_off = 0xffff;
    h->decode_packet(r, PM_DLT_EN10MB, copy, caplen, len, 0);
    r->pkt = copy;
    r->pkt_caplen = caplen;
    r->pkt_len = len;
    r->dlt = PM_DLT_EN10MB;
    return r;
}

static void free_allocs(void)
{
    while (g_nallocs)
        free(g_allocs[--g_nallocs]);
}

static void ipstr(const pm_ip_t *ip, char *out, size_t n)
{
    if (ip->af == 4)
        inet_ntop(AF_INET, ip->a, out, (socklen_t)n);
    else if (ip->af == 6)
        inet_ntop(AF_INET6, ip->a, out, (socklen_t)n);
    else
        snprintf(out, n, "-");
}

static void assert_hosts(const pm_ip_t *s, const pm_ip_t *d, const char *src,
                         const char *dst)
{
    char a[64], b[64];
    ipstr(s, a, sizeof(a));
    ipstr(d, b, sizeof(b));
    assert_string_equal(a, src);
    assert_string_equal(b, dst);
}

static int reset(void **state)
{
    (void)state;
    fakehost_reset();
    free_allocs();
    return 0;
}

/* ---- tests ---- */

static void test_gtp_replace(void **state)
{
    struct tun t;
    struct pm_batch *b = fakehost_batch(16);
    struct pk p;
    struct pm_rec *r0, *r1, *r2;
    (void)state;

    assert_int_equal(
        tun_open(&t, "tunnel_0", "gtp, 2152", NULL, NULL, NULL, NULL), 0);
    inner_tcp4(&p);
    gtp(&p, 0x1234, 0x30, 0);
    outer_udp4(&p, 2152, 2152);
    r0 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    /* sequence number + one extension header; only the dst port is 2152 */
    inner_tcp4(&p);
    gtp(&p, 0xabcdef01, 0x34, 1);
    outer_udp4(&p, 40000, 2152);
    r1 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    /* IPv6 inside */
    pk_init(&p);
    payload(&p, 4);
    udp(&p, 53, 5353);
    ipv6(&p, 17, "2001:db8::1", "2001:db8::2");
    gtp(&p, 0x55, 0x32, 0);
    outer_udp4(&p, 2152, 2152);
    r2 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));

    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r0->src_host, &r0->dst_host, "10.1.1.1", "10.2.2.2");
    assert_int_equal(r0->proto, 6);
    assert_int_equal(r0->src_port, 1111);
    assert_int_equal(r0->dst_port, 80);
    assert_int_equal(r0->tos, 0x10);
    assert_int_equal(r0->tcpflags, 0x02);
    assert_int_equal(r0->bytes, 50); /* inner IP length, as pmacct */
    assert_int_equal(r0->gtp_teid, 0x1234);
    assert_true(pm_rec_has(r0, PM_P_GTP_TEID));
    assert_int_equal(r0->src_mac[0], 0x03); /* outer L2 kept: IP inside */
    assert_false(pm_rec_has(r0, PM_P_TUNNEL_SRC_HOST));
    assert_int_equal(r0->l3_off, 14 + 20 + 8 + 8);
    assert_int_equal(r0->l4_off, r0->l3_off + 20);

    assert_hosts(&r1->src_host, &r1->dst_host, "10.1.1.1", "10.2.2.2");
    assert_int_equal(r1->gtp_teid, 0xabcdef01);
    assert_int_equal(r1->l3_off, 14 + 20 + 8 + 12 + 4);

    assert_hosts(&r2->src_host, &r2->dst_host, "2001:db8::1", "2001:db8::2");
    assert_int_equal(r2->proto, 17);
    assert_int_equal(r2->src_port, 53);
    assert_int_equal(r2->dst_port, 5353);
    assert_int_equal(r2->etype, 0x86dd);
    assert_true(r2->flags & PM_RF_IPV6);
    assert_int_equal(r2->bytes, 40 + 12);
    assert_int_equal(fakehost_counter_value("decapsulated"), 3);
    tun_close(&t);
}

static void test_gtp_tunnel_mode(void **state)
{
    struct tun t;
    struct pm_batch *b = fakehost_batch(4);
    struct pk p;
    struct pm_rec *r;
    (void)state;

    assert_int_equal(tun_open(&t, "tunnel_0", "gtp, 2152", "tunnel_mode",
                              "tunnel", NULL, NULL),
                     0);
    inner_tcp4(&p);
    gtp(&p, 7, 0x30, 0);
    outer_udp4(&p, 2152, 2152);
    r = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r->src_host, &r->dst_host, "192.0.2.1", "192.0.2.2");
    assert_int_equal(r->proto, 17);
    assert_int_equal(r->dst_port, 2152);
    assert_hosts(&r->tunnel_src_host, &r->tunnel_dst_host, "10.1.1.1",
                 "10.2.2.2");
    assert_int_equal(r->tunnel_proto, 6);
    assert_int_equal(r->tunnel_src_port, 1111);
    assert_int_equal(r->tunnel_dst_port, 80);
    assert_int_equal(r->tunnel_tos, 0x10);
    assert_int_equal(r->tunnel_tcpflags, 0x02);
    assert_true(pm_rec_has(r, PM_P_TUNNEL_SRC_HOST));
    assert_false(pm_rec_has(r, PM_P_TUNNEL_SRC_MAC)); /* no inner L2 */
    assert_int_equal(r->gtp_teid, 7);
    tun_close(&t);
}

static void test_vxlan(void **state)
{
    struct tun t;
    struct pm_batch *b = fakehost_batch(4);
    struct pk p;
    struct pm_rec *r, *r2;
    (void)state;

    /* vxlan on its default port after a gtp stack */
    assert_int_equal(tun_open(&t, "tunnel_0", "gtp, 2152", "tunnel_1", "vxlan",
                              "tunnel_mode", "tunnel"),
                     0);
    pk_init(&p);
    payload(&p, 8);
    udp(&p, 999, 53);
    ipv4(&p, 17, "10.3.3.3", "10.4.4.4", 4);
    eth(&p, 0x0800, 0xa0);
    vxlan(&p, 4242, 0x08);
    outer_udp4(&p, 40000, 4789);
    r = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r->src_host, &r->dst_host, "192.0.2.1", "192.0.2.2");
    assert_hosts(&r->tunnel_src_host, &r->tunnel_dst_host, "10.3.3.3",
                 "10.4.4.4");
    assert_int_equal(r->tunnel_src_mac[0], 0xa1);
    assert_int_equal(r->tunnel_dst_mac[0], 0xa0);
    assert_true(pm_rec_has(r, PM_P_TUNNEL_DST_MAC));
    assert_int_equal(r->tunnel_proto, 17);
    assert_int_equal(r->tunnel_dst_port, 53);
    assert_int_equal(r->tunnel_tos, 4);
    assert_int_equal(r->vxlan, 4242);
    assert_true(pm_rec_has(r, PM_P_VXLAN));
    assert_false(pm_rec_has(r, PM_P_GTP_TEID));
    tun_close(&t);

    /* replace mode: the inner frame's MACs replace the outer ones */
    fakehost_reset();
    b = fakehost_batch(4);
    assert_int_equal(
        tun_open(&t, "tunnel_0", "vxlan, 4789", NULL, NULL, NULL, NULL), 0);
    r2 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r2->src_host, &r2->dst_host, "10.3.3.3", "10.4.4.4");
    assert_int_equal(r2->src_mac[0], 0xa1);
    assert_int_equal(r2->dst_port, 53);
    assert_int_equal(r2->vxlan, 4242);
    tun_close(&t);
}

static void test_gre(void **state)
{
    struct tun t;
    struct pm_batch *b = fakehost_batch(8);
    struct pk p;
    struct pm_rec *r0, *r1, *r2;
    (void)state;

    assert_int_equal(tun_open(&t, "tunnel_0", "gre", NULL, NULL, NULL, NULL),
                     0);
    /* key */
    inner_tcp4(&p);
    gre(&p, 0x2000, 0x0800, 7);
    ipv4(&p, 47, "192.0.2.5", "192.0.2.6", 0);
    eth(&p, 0x0800, 0x02);
    r0 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    /* checksum + key + sequence, IPv6 inside */
    pk_init(&p);
    payload(&p, 6);
    tcp(&p, 22, 2222, 0x18);
    ipv6(&p, 6, "2001:db8::a", "2001:db8::b");
    gre(&p, 0xb000, 0x86dd, 9);
    ipv4(&p, 47, "192.0.2.5", "192.0.2.6", 0);
    eth(&p, 0x0800, 0x02);
    r1 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    /* transparent Ethernet bridging */
    inner_tcp4(&p);
    eth(&p, 0x0800, 0xc0);
    gre(&p, 0, 0x6558, 0);
    ipv4(&p, 47, "192.0.2.5", "192.0.2.6", 0);
    eth(&p, 0x0800, 0x02);
    r2 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));

    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r0->src_host, &r0->dst_host, "10.1.1.1", "10.2.2.2");
    assert_int_equal(r0->dst_port, 80);
    assert_hosts(&r1->src_host, &r1->dst_host, "2001:db8::a", "2001:db8::b");
    assert_int_equal(r1->tcpflags, 0x18);
    assert_int_equal(r1->src_port, 22);
    assert_hosts(&r2->src_host, &r2->dst_host, "10.1.1.1", "10.2.2.2");
    assert_int_equal(r2->src_mac[0], 0xc1);
    assert_false(pm_rec_has(r0, PM_P_VXLAN) || pm_rec_has(r0, PM_P_GTP_TEID));
    assert_int_equal(fakehost_counter_value("decapsulated"), 3);
    tun_close(&t);
}

static void test_not_matching(void **state)
{
    struct tun t;
    struct pm_batch *b = fakehost_batch(8);
    struct pk p;
    struct pm_rec *r0, *r1, *r2;
    (void)state;

    assert_int_equal(
        tun_open(&t, "tunnel_0", "gtp, 3386", NULL, NULL, NULL, NULL), 0);
    inner_tcp4(&p); /* GTP on 2152 but the stack wants 3386 */
    gtp(&p, 1, 0x30, 0);
    outer_udp4(&p, 2152, 2152);
    r0 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* GTP from port 3386, to another: the dst port counts */
    gtp(&p, 1, 0x30, 0);
    outer_udp4(&p, 3386, 2152);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* plain TCP */
    eth(&p, 0x0800, 0x02);
    r1 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    /* a flow record: no packet */
    r2 = pm_batch_rec(b, b->n++);
    memset(r2, 0, b->rec_size);
    r2->proto = 17;
    pm_rec_set(r2, PM_P_PROTO);

    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r0->src_host, &r0->dst_host, "192.0.2.1", "192.0.2.2");
    assert_false(pm_rec_has(r0, PM_P_GTP_TEID));
    assert_hosts(&r1->src_host, &r1->dst_host, "10.1.1.1", "10.2.2.2");
    assert_int_equal(fakehost_counter_value("decapsulated"), 0);
    assert_int_equal(fakehost_counter_value("malformed"), 0);
    assert_int_equal(fakehost_counter_value("no_packet"), 1);
    tun_close(&t);
}

static void test_malformed(void **state)
{
    struct tun t;
    struct pm_batch *b = fakehost_batch(16);
    struct pk p;
    uint32_t i;
    (void)state;

    assert_int_equal(tun_open(&t, "tunnel_0", "gtp, 2152", "tunnel_1", "vxlan",
                              "tunnel_2", "gre"),
                     0);
    inner_tcp4(&p); /* GTPv2 */
    gtp(&p, 1, 0x48, 0);
    outer_udp4(&p, 2152, 2152);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* GTP echo request, not a G-PDU */
    gtp(&p, 1, 0x30, 0);
    pk_data(&p)[1] = 1;
    outer_udp4(&p, 2152, 2152);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* extension header of length 0 */
    gtp(&p, 1, 0x34, 1);
    pk_data(&p)[12] = 0;
    outer_udp4(&p, 2152, 2152);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* GTP carrying something that is not IP */
    pk_data(&p)[0] = 0x25;
    gtp(&p, 1, 0x30, 0);
    outer_udp4(&p, 2152, 2152);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* VXLAN without the I flag */
    eth(&p, 0x0800, 0xa0);
    vxlan(&p, 5, 0x00);
    outer_udp4(&p, 1, 4789);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* GRE version 1 (PPTP) */
    gre(&p, 0x0001, 0x0800, 0);
    ipv4(&p, 47, "192.0.2.1", "192.0.2.2", 0);
    eth(&p, 0x0800, 0x02);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* GRE with routing */
    gre(&p, 0x4000, 0x0800, 0);
    ipv4(&p, 47, "192.0.2.1", "192.0.2.2", 0);
    eth(&p, 0x0800, 0x02);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    inner_tcp4(&p); /* GRE carrying ARP */
    gre(&p, 0, 0x0806, 0);
    ipv4(&p, 47, "192.0.2.1", "192.0.2.2", 0);
    eth(&p, 0x0800, 0x02);
    add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));

    assert_int_equal(t.d->process(t.ctx, b), 0);
    for (i = 0; i < b->n; i++) {
        struct pm_rec *r = pm_batch_rec(b, i);
        assert_hosts(&r->src_host, &r->dst_host, "192.0.2.1", "192.0.2.2");
        assert_false(pm_batch_dropped(b, i));
    }
    assert_int_equal(fakehost_counter_value("malformed"), b->n);
    assert_int_equal(fakehost_counter_value("decapsulated"), 0);
    tun_close(&t);
}

/* n GRE layers around the inner TCP packet; outermost has 192.0.2.0. */
static void nested_gre(struct pk *p, int n)
{
    char src[32], dst[32];
    inner_tcp4(p);
    for (int i = n; i >= 1; i--) {
        gre(p, 0, 0x0800, 0);
        snprintf(src, sizeof(src), "192.0.2.%d", (i - 1) * 2);
        snprintf(dst, sizeof(dst), "192.0.2.%d", (i - 1) * 2 + 1);
        ipv4(p, 47, src, dst, 0);
    }
    eth(p, 0x0800, 0x02);
}

static void test_nested_and_depth_limit(void **state)
{
    struct tun t;
    struct pm_batch *b = fakehost_batch(8);
    struct pk p;
    struct pm_rec *r;
    (void)state;

    /* one layer configured: one removed */
    assert_int_equal(tun_open(&t, "tunnel_0", "gre", NULL, NULL, NULL, NULL),
                     0);
    nested_gre(&p, 3);
    r = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r->src_host, &r->dst_host, "192.0.2.2", "192.0.2.3");
    assert_int_equal(r->proto, 47);
    tun_close(&t);

    /* 4 layers (the maximum) on 5 nested tunnels: 4 removed */
    fakehost_reset();
    b = fakehost_batch(8);
    assert_int_equal(
        tun_open(&t, "tunnel_0", "gre; gre; gre; gre", NULL, NULL, NULL, NULL),
        0);
    nested_gre(&p, 5);
    r = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    nested_gre(&p, 2); /* fewer tunnels than layers: all removed */
    struct pm_rec *r2 = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r->src_host, &r->dst_host, "192.0.2.8", "192.0.2.9");
    assert_int_equal(r->proto, 47);
    assert_hosts(&r2->src_host, &r2->dst_host, "10.1.1.1", "10.2.2.2");
    assert_int_equal(r2->proto, 6);
    tun_close(&t);

    /* mixed stack: GTP inside GRE; the first stack matching wins */
    fakehost_reset();
    b = fakehost_batch(8);
    assert_int_equal(tun_open(&t, "tunnel_0", "gtp, 2152", "tunnel_1",
                              "gre; gtp, 2152", NULL, NULL),
                     0);
    inner_tcp4(&p);
    gtp(&p, 99, 0x30, 0);
    udp(&p, 2152, 2152);
    ipv4(&p, 17, "172.16.0.1", "172.16.0.2", 0);
    gre(&p, 0x2000, 0x0800, 5);
    ipv4(&p, 47, "192.0.2.1", "192.0.2.2", 0);
    eth(&p, 0x0800, 0x02);
    r = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r->src_host, &r->dst_host, "10.1.1.1", "10.2.2.2");
    assert_int_equal(r->gtp_teid, 99);
    tun_close(&t);

    /* GTP inside VXLAN, tunnel mode: the MACs are the VXLAN frame's, both
     * ids are set */
    fakehost_reset();
    b = fakehost_batch(8);
    assert_int_equal(tun_open(&t, "tunnel_0", "vxlan; gtp", "tunnel_mode",
                              "tunnel", NULL, NULL),
                     0);
    inner_tcp4(&p);
    gtp(&p, 42, 0x30, 0);
    udp(&p, 2152, 2152);
    ipv4(&p, 17, "172.16.0.1", "172.16.0.2", 0);
    eth(&p, 0x0800, 0xe0);
    vxlan(&p, 17, 0x08);
    outer_udp4(&p, 5, 4789);
    r = add_pkt(b, pk_data(&p), pk_len(&p), pk_len(&p));
    assert_int_equal(t.d->process(t.ctx, b), 0);
    assert_hosts(&r->src_host, &r->dst_host, "192.0.2.1", "192.0.2.2");
    assert_hosts(&r->tunnel_src_host, &r->tunnel_dst_host, "10.1.1.1",
                 "10.2.2.2");
    assert_int_equal(r->tunnel_src_mac[0], 0xe1);
    assert_int_equal(r->tunnel_dst_mac[0], 0xe0);
    assert_int_equal(r->gtp_teid, 42);
    assert_int_equal(r->vxlan, 17);
    tun_close(&t);
}

/* Every truncation of every encapsulation: never a crash, never garbage:
 * the record is either left as decoded or carries the inner hosts. */
static void test_truncation_every_byte(void **state)
{
    struct pk frames[5];
    int nf = 0;
    (void)state;

    inner_tcp4(&frames[nf]);
    gtp(&frames[nf], 1, 0x34, 1);
    outer_udp4(&frames[nf], 2152, 2152);
    nf++;
    pk_init(&frames[nf]);
    payload(&frames[nf], 4);
    udp(&frames[nf], 53, 5353);
    ipv6(&frames[nf], 17, "2001:db8::1", "2001:db8::2");
    gtp(&frames[nf], 2, 0x30, 0);
    outer_udp4(&frames[nf], 2152, 2152);
    nf++;
    inner_tcp4(&frames[nf]);
    eth(&frames[nf], 0x0800, 0xa0);
    vxlan(&frames[nf], 3, 0x08);
    outer_udp4(&frames[nf], 1, 4789);
    nf++;
    inner_tcp4(&frames[nf]);
    gre(&frames[nf], 0xb000, 0x0800, 4);
    ipv4(&frames[nf], 47, "192.0.2.1", "192.0.2.2", 0);
    eth(&frames[nf], 0x0800, 0x02);
    nf++;
    nested_gre(&frames[nf], 3);
    nf++;

    for (int m = 0; m < 2; m++) {
        for (int f = 0; f < nf; f++) {
            uint32_t full = pk_len(&frames[f]);
            for (uint32_t cut = 0; cut <= full; cut++) {
                struct tun t;
                struct pm_batch *b;
                struct pm_rec *r;
                char s[64];

                fakehost_reset();
                b = fakehost_batch(2);
                assert_int_equal(tun_open(&t, "tunnel_0", "gtp, 2152",
                                          "tunnel_1", "vxlan", "tunnel_2",
                                          "gre; gre; gre; gre"),
                                 0);
                if (m) {
                    /* tunnel mode set through the config */
                    tun_close(&t);
                    fakehost_reset();
                    b = fakehost_batch(2);
                    fakehost_conf("tunnel_mode", "tunnel");
                    assert_int_equal(tun_open(&t, "tunnel_0", "gtp, 2152",
                                              "tunnel_1", "vxlan", "tunnel_2",
                                              "gre; gre; gre; gre"),
                                     0);
                }
                r = add_pkt(b, pk_data(&frames[f]), cut, full);
                assert_int_equal(t.d->process(t.ctx, b), 0);
                ipstr(m ? &r->tunnel_src_host : &r->src_host, s, sizeof(s));
                if (cut == full) {
                    assert_true(!strcmp(s, "10.1.1.1") ||
                                !strcmp(s, "2001:db8::1"));
                } else {
                    assert_true(!strcmp(s, "-") || !strcmp(s, "10.1.1.1") ||
                                !strcmp(s, "2001:db8::1") ||
                                !strncmp(s, "192.0.2.", 8));
                }
                tun_close(&t);
                free_allocs();
            }
        }
    }
}

static void test_config_errors(void **state)
{
    struct tun t;
    (void)state;

    assert_int_equal(tun_open(&t, "tunnel_0", "gtp, 2152; gre; gre; gre; gre",
                              NULL, NULL, NULL, NULL),
                     -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "more than 4 layers"));
    tun_close(&t);
    assert_int_equal(
        tun_open(&t, "tunnel_0", "ipip, 4", NULL, NULL, NULL, NULL), -EINVAL);
    assert_non_null(
        strstr(fakehost_log_text(), "unknown tunnel protocol 'ipip'"));
    tun_close(&t);
    assert_int_equal(
        tun_open(&t, "tunnel_0", "gtp, 70000", NULL, NULL, NULL, NULL),
        -EINVAL);
    tun_close(&t);
    assert_int_equal(tun_open(&t, "tunnel_0", "gre, 5", NULL, NULL, NULL, NULL),
                     -EINVAL);
    tun_close(&t);
    assert_int_equal(tun_open(&t, "tunnel_3", " ; ", NULL, NULL, NULL, NULL),
                     -EINVAL);
    tun_close(&t);
    /* gtp without a port: 2152; spaces and case tolerated */
    assert_int_equal(
        tun_open(&t, "tunnel_0", "  GTP ;", NULL, NULL, NULL, NULL), 0);
    tun_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_gtp_replace, reset),
        cmocka_unit_test_teardown(test_gtp_tunnel_mode, reset),
        cmocka_unit_test_teardown(test_vxlan, reset),
        cmocka_unit_test_teardown(test_gre, reset),
        cmocka_unit_test_teardown(test_not_matching, reset),
        cmocka_unit_test_teardown(test_malformed, reset),
        cmocka_unit_test_teardown(test_nested_and_depth_limit, reset),
        cmocka_unit_test_teardown(test_truncation_every_byte, reset),
        cmocka_unit_test_teardown(test_config_errors, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
