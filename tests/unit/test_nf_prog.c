/*
 * test_nf_prog.c - NetFlow v9 / IPFIX templates compiled into decode
 * programs (modules/netflow/nf_prog.c): what a program keeps (fields that
 * do something, in order; unknown, enterprise and wrongly sized fields
 * dropped), fixed and variable-length templates, and equivalence with
 * the generic per-field path: random templates (known, unknown,
 * enterprise, variable-length fields, wrong sizes) with random records
 * decode to byte-identical records both ways.  Also IE 315
 * (dataLinkFrameSection) decoded by the core's packet decoder.
 * Single-threaded, fake host.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakehost.h"
#include "nf.h"
#include "nf_prog.h"

const struct pm_module_desc *pm_module_descriptor(void);

struct wb {
    uint8_t b[8192];
    uint32_t n;
};
static void w8(struct wb *w, uint32_t v)
{
    w->b[w->n++] = (uint8_t)v;
}
static void w16(struct wb *w, uint32_t v)
{
    w8(w, v >> 8);
    w8(w, v);
}
static void w32(struct wb *w, uint32_t v)
{
    w16(w, v >> 16);
    w16(w, v);
}
static void v9_hdr(struct wb *w, uint32_t seq)
{
    w->n = 0;
    w16(w, 9);
    w16(w, 1);
    w32(w, 100000); /* uptime ms */
    w32(w, 1700000000);
    w32(w, seq);
    w32(w, 7); /* source id */
}
static void ipfix_hdr(struct wb *w, uint32_t seq)
{
    w->n = 0;
    w16(w, 10);
    w16(w, 0);
    w32(w, 1700000000);
    w32(w, seq);
    w32(w, 7); /* observation domain */
}
static void msg_end(struct wb *w)
{
    w->b[2] = (uint8_t)(w->n >> 8);
    w->b[3] = (uint8_t)w->n;
}
static uint32_t set_begin(struct wb *w, uint16_t id)
{
    uint32_t at = w->n;
    w16(w, id);
    w16(w, 0);
    return at;
}
static void set_end(struct wb *w, uint32_t at)
{
    uint32_t len = w->n - at;
    w->b[at + 2] = (uint8_t)(len >> 8);
    w->b[at + 3] = (uint8_t)len;
}

struct fx {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    struct nf_ctx *c;
    pm_ip_t exp;
    pm_ts_t now;
};

static struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    void *ctx = NULL;
    uint8_t a[4] = {192, 0, 2, 9};
    assert_non_null(f);
    f->d = pm_module_descriptor();
    f->inst = fakehost_instance("netflow", "default", PM_KIND_CAPTURE,
                                "src_host,dst_host,src_net,dst_net");
    f->cfg = fakehost_config(f->d, f->inst, NULL);
    assert_int_equal(f->d->init(fakehost(), f->inst, f->cfg, &ctx), 0);
    f->c = ctx;
    pm_ip_set4(&f->exp, a);
    f->now.sec = 1700000000;
    return f;
}

static void fx_free(struct fx *f)
{
    f->d->fini(f->c);
    fakehost_config_free(f->d, f->cfg);
    free(f);
    fakehost_reset();
}

static int feed(struct fx *f, const struct wb *w)
{
    return nf_datagram(f->c, w->b, w->n, &f->exp, &f->now);
}

static uint32_t nrecs(struct fx *f)
{
    uint32_t n = 0;
    nf_flush(f->c);
    for (uint32_t i = 0; i < fakehost_emitted_count(); i++)
        n += fakehost_emitted(i)->n;
    return n;
}

static struct pm_rec *rec(struct fx *f, uint32_t k, struct pm_batch **bo)
{
    nf_flush(f->c);
    for (uint32_t i = 0; i < fakehost_emitted_count(); i++) {
        struct pm_batch *b = fakehost_emitted(i);
        if (k < b->n) {
            if (bo)
                *bo = b;
            return pm_batch_rec(b, k);
        }
        k -= b->n;
    }
    fail_msg("no record %u", k);
    return NULL;
}

/* A template field on the wire. */
struct tf {
    uint16_t id;
    uint16_t len; /* 65535: variable */
    uint32_t pen;
};

static void put_template_v(struct wb *w, int v9, uint16_t tid,
                           const struct tf *f, uint32_t n)
{
    uint32_t s = set_begin(w, v9 ? 0 : 2);
    w16(w, tid);
    w16(w, n);
    for (uint32_t i = 0; i < n; i++) {
        w16(w, f[i].id | (f[i].pen ? 0x8000u : 0));
        w16(w, f[i].len);
        if (f[i].pen)
            w32(w, f[i].pen);
    }
    set_end(w, s);
}

static void put_template(struct wb *w, uint16_t tid, const struct tf *f,
                         uint32_t n)
{
    put_template_v(w, 0, tid, f, n);
}

static struct nf_tmpl *tmpl_v(struct fx *f, int v9, uint16_t tid)
{
    return nf_tmpl_find(f->c, &f->exp, 7, v9 ? 9 : 10, tid);
}

static struct nf_tmpl *tmpl(struct fx *f, uint16_t tid)
{
    return tmpl_v(f, 0, tid);
}

/* ---- what a program keeps ------------------------------------------------ */
static void test_fixed_program(void **st)
{
    static const struct tf t[] = {
        {8, 4, 0},   /* sourceIPv4Address */
        {12, 4, 0},  /* destinationIPv4Address */
        {999, 4, 0}, /* unknown: dropped */
        {1, 4, 0},   /* octetDeltaCount, reduced size */
        {2, 8, 0},   /* packetDeltaCount */
        {8, 5, 9},   /* enterprise: dropped */
        {27, 4, 0},  /* sourceIPv6Address of 4 bytes: dropped */
        {7, 2, 0},   /* sourceTransportPort */
        {4, 1, 0},   /* protocolIdentifier */
        {305, 2, 0}, /* samplingPacketInterval of 2 bytes: dropped */
    };
    struct fx *f = fx_new();
    struct wb w;
    (void)st;
    ipfix_hdr(&w, 0);
    put_template(&w, 300, t, 10);
    msg_end(&w);
    assert_int_equal(feed(f, &w), 0);
    struct nf_tmpl *tp = tmpl(f, 300);
    assert_non_null(tp);
    assert_non_null(tp->prog);
    const struct nf_prog *pg = tp->prog;
    assert_int_equal(pg->fixed, 1);
    assert_int_equal(pg->reclen, 4 + 4 + 4 + 4 + 8 + 5 + 4 + 2 + 1 + 2);
    assert_int_equal(pg->nsteps, 6);
    static const uint8_t want_op[] = {NF_OP_SRC4, NF_OP_DST4,     NF_OP_BYTES,
                                      NF_OP_PKTS, NF_OP_SRC_PORT, NF_OP_PROTO};
    static const uint16_t want_idx[] = {0, 1, 3, 4, 7, 8};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pg->s[i].op, want_op[i]);
        assert_int_equal(pg->s[i].idx, want_idx[i]);
    }
    assert_int_equal(pg->off[3], 12);
    assert_int_equal(pg->off[7], 33);

    /* two records, decoded with the program */
    ipfix_hdr(&w, 0);
    uint32_t s = set_begin(&w, 300);
    for (int r = 0; r < 2; r++) {
        w32(&w, 0x0a000001 + r);
        w32(&w, 0x0a000064);
        w32(&w, 0xdeadbeef);
        w32(&w, 1000 + r);
        w32(&w, 0);
        w32(&w, 10 + r);
        for (int k = 0; k < 5; k++)
            w8(&w, 0xff);
        w32(&w, 0x01020304);
        w16(&w, 5353);
        w8(&w, 17);
        w16(&w, 4);
    }
    set_end(&w, s);
    msg_end(&w);
    assert_int_equal(feed(f, &w), 2);
    assert_int_equal(nrecs(f), 2);
    struct pm_rec *r1 = rec(f, 1, NULL);
    assert_int_equal(r1->src_host.af, 4);
    assert_int_equal(r1->src_host.a[3], 2);
    assert_int_equal(r1->bytes, 1001);
    assert_int_equal(r1->packets, 11);
    assert_int_equal(r1->src_port, 5353);
    assert_int_equal(r1->proto, 17);
    assert_int_equal(r1->sampling_rate, 0);
    fx_free(f);
}

/* Variable-length fields: offsets per record, operation per length. */
static void test_varlen_program(void **st)
{
    static const struct tf t[] = {
        {8, 4, 0},       /* sourceIPv4Address */
        {236, 65535, 0}, /* VRFname, variable: no effect on data records */
        {27, 65535, 0},  /* sourceIPv6Address, variable: 16 bytes or not */
        {1, 65535, 9},   /* enterprise variable: dropped */
        {2, 4, 0},       /* packetDeltaCount */
        {1, 65535, 0},   /* octetDeltaCount, variable */
    };
    struct fx *f = fx_new();
    struct wb w;
    (void)st;
    ipfix_hdr(&w, 0);
    put_template(&w, 301, t, 6);
    msg_end(&w);
    feed(f, &w);
    struct nf_tmpl *tp = tmpl(f, 301);
    assert_non_null(tp);
    assert_int_equal(tp->prog->fixed, 0);
    assert_int_equal(tp->prog->nsteps, 5);
    assert_int_equal(tp->prog->s[1].op, NF_OP_VAR);

    ipfix_hdr(&w, 0);
    uint32_t s = set_begin(&w, 301);
    /* record 0: IPv6 of 16 bytes (replaces the IPv4), 1-byte lengths */
    w32(&w, 0x0a000001);
    w8(&w, 3), w8(&w, 'r'), w8(&w, 'e'), w8(&w, 'd');
    w8(&w, 16);
    for (int k = 0; k < 16; k++)
        w8(&w, k == 0 ? 0x20 : k);
    w8(&w, 2), w16(&w, 0xbeef);
    w32(&w, 7);
    w8(&w, 2), w16(&w, 1500);
    /* record 1: IPv6 of 4 bytes (ignored), 3-byte length for the bytes */
    w32(&w, 0x0a000002);
    w8(&w, 0);
    w8(&w, 4), w32(&w, 0x01020304);
    w8(&w, 0);
    w32(&w, 9);
    w8(&w, 255), w16(&w, 8);
    w32(&w, 0), w32(&w, 123456);
    set_end(&w, s);
    msg_end(&w);
    assert_int_equal(feed(f, &w), 2);
    assert_int_equal(nrecs(f), 2);
    struct pm_rec *r0 = rec(f, 0, NULL), *r1 = rec(f, 1, NULL);
    assert_int_equal(r0->src_host.af, 6);
    assert_int_equal(r0->src_host.a[15], 15);
    assert_int_equal(r0->packets, 7);
    assert_int_equal(r0->bytes, 1500);
    assert_int_equal(r1->src_host.af, 4);
    assert_int_equal(r1->src_host.a[3], 2);
    assert_int_equal(r1->packets, 9);
    assert_int_equal(r1->bytes, 123456);
    fx_free(f);
}

/* ---- program == generic path on random templates ----------------------- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const uint16_t pool_ids[] = {
    1,   2,   3,   4,   5,   6,   7,   8,     9,     10,    11,    12,
    13,  14,  16,  17,  18,  21,  22,  23,    24,    27,    28,    29,
    30,  31,  34,  48,  50,  56,  57,  58,    59,    61,    63,    70,
    71,  72,  80,  81,  85,  86,  89,  90,    128,   129,   150,   151,
    152, 153, 154, 155, 156, 157, 158, 159,   225,   226,   227,   228,
    230, 231, 233, 234, 235, 243, 245, 249,   252,   253,   254,   281,
    282, 298, 302, 305, 306, 323, 999, 40001, 40002, 40003, 40004, 40005};
static const uint16_t pool_lens[] = {1, 2, 3, 4, 6, 8, 16, 65535, 5, 0};
/* elements whose order matters (both address families, several start or
 * end times, physical vs logical interfaces, repeats) */
static const uint16_t pool_order[] = {8,   27,  12,  28,  150, 151, 152,
                                      153, 154, 155, 10,  252, 14,  253, 7};

static void put_value(struct wb *w, uint16_t len)
{
    uint32_t n = len;
    if (len == 65535) {
        n = rnd(4) == 0 ? 16 : rnd(10);
        if (rnd(2)) {
            w8(w, 255);
            w16(w, n);
        } else
            w8(w, n);
    }
    int zero = rnd(4) == 0; /* whole field zero: address precedence */
    for (uint32_t i = 0; i < n; i++)
        w8(w, zero || rnd(3) == 0 ? 0 : rnd(256));
}

static void test_equivalence(void **st)
{
    uint32_t compared = 0, fast = 0;
    (void)st;
    for (int round = 0; round < 400; round++) {
        struct fx *f = fx_new();
        struct tf t[24];
        uint32_t nf = 1 + rnd(24);
        struct wb w, d;
        uint16_t tid = (uint16_t)(256 + round);
        int v9 = round & 1; /* v9: 16-bit types (NSEL 4000x), no PEN */
        for (uint32_t i = 0; i < nf; i++) {
            do
                t[i].id = pool_ids[rnd(sizeof(pool_ids) / sizeof(pool_ids[0]))];
            while (!v9 && t[i].id >= 32768);
            t[i].len = pool_lens[rnd(sizeof(pool_lens) / sizeof(pool_lens[0]))];
            /* half the rounds fixed-length, with elements whose order
             * matters at their proper lengths: fast slots (nf_prog.h) */
            if ((round & 2) && t[i].len == 65535)
                t[i].len = 4;
            if ((round & 2) && rnd(2)) {
                static const uint16_t olen[] = {4, 16, 4, 16, 4, 4, 8, 8, 8, 8, 4, 4, 4, 4, 2};
                uint32_t k = rnd(sizeof(pool_order) / sizeof(pool_order[0]));
                t[i].id = pool_order[k];
                t[i].len = olen[k];
            }
            t[i].pen = !v9 && rnd(8) == 0 ? 1 + rnd(5) : 0;
        }
        if (t[0].len == 0)
            t[0].len = 4; /* a record of 0 bytes is refused */
        if (v9)
            v9_hdr(&w, 0);
        else
            ipfix_hdr(&w, 0);
        put_template_v(&w, v9, tid, t, nf);
        if (!v9)
            msg_end(&w);
        feed(f, &w);
        struct nf_tmpl *tp = tmpl_v(f, v9, tid);
        assert_non_null(tp);
        /* data: 1-6 records */
        if (v9)
            v9_hdr(&d, 1);
        else
            ipfix_hdr(&d, 1);
        uint32_t s = set_begin(&d, tid);
        uint32_t nr = 1 + rnd(6);
        for (uint32_t r = 0; r < nr; r++)
            for (uint32_t i = 0; i < nf; i++)
                put_value(&d, t[i].len);
        set_end(&d, s);
        if (!v9)
            msg_end(&d);
        int n1 = feed(f, &d);
        uint32_t a = nrecs(f);
        struct nf_prog *pg = tp->prog;
        if (pg->fastmask && pg->nrest)
            fast++; /* fast slots and other steps mixed */
        tp->prog = NULL; /* the generic path */
        int n2 = feed(f, &d);
        uint32_t b = nrecs(f);
        tp->prog = pg;
        assert_int_equal(n1, n2);
        assert_int_equal(b, 2 * a);
        compared += a;
        for (uint32_t k = 0; k < a; k++) {
            struct pm_batch *b1, *b2;
            struct pm_rec *x = rec(f, k, &b1), *y = rec(f, a + k, &b2);
            if (memcmp(x, y, b1->rec_size))
                fail_msg("round %d record %u: program and generic differ",
                         round, k);
        }
        fx_free(f);
    }
    assert_true(compared > 800); /* most rounds decode records */
    assert_true(fast > 50);      /* and many went through fast slots */
}

/* ---- IE 315 dataLinkFrameSection ---------------------------------------- */
static void frame_bytes(struct wb *w)
{
    static const uint8_t dmac[6] = {0, 1, 2, 3, 4, 5},
                         smac[6] = {0, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e};
    uint32_t at;
    memcpy(w->b + w->n, dmac, 6), w->n += 6;
    memcpy(w->b + w->n, smac, 6), w->n += 6;
    w16(w, 0x0800);
    at = w->n;
    w8(w, 0x45), w8(w, 0x10), w16(w, 1400); /* total length 1400 */
    w16(w, 1), w16(w, 0);
    w8(w, 64), w8(w, 6), w16(w, 0);
    w32(w, 0xc6336401);         /* 198.51.100.1 */
    w32(w, 0xcb007102);         /* 203.0.113.2 */
    w16(w, 443), w16(w, 51000); /* TCP ports */
    w32(w, 1), w32(w, 0);
    w8(w, 0x50), w8(w, 0x18), w16(w, 1024);
    w32(w, 0);
    (void)at;
}

static void test_frame_section(void **st)
{
    static const struct tf t[] = {
        {302, 4, 0},     /* selectorId */
        {315, 65535, 0}, /* dataLinkFrameSection */
    };
    static const struct tf t2[] = {
        {315, 65535, 0},
        {2, 4, 0}, /* packetDeltaCount */
        {1, 4, 0}, /* octetDeltaCount */
    };
    struct fx *f = fx_new();
    struct wb w;
    (void)st;
    ipfix_hdr(&w, 0);
    put_template(&w, 400, t, 2);
    put_template(&w, 401, t2, 3);
    msg_end(&w);
    feed(f, &w);

    ipfix_hdr(&w, 0);
    uint32_t s = set_begin(&w, 400);
    w32(&w, 1);
    w8(&w, 54);
    frame_bytes(&w);
    set_end(&w, s);
    s = set_begin(&w, 401);
    w8(&w, 54);
    frame_bytes(&w);
    w32(&w, 3);
    w32(&w, 4500);
    set_end(&w, s);
    msg_end(&w);
    assert_int_equal(feed(f, &w), 2);
    assert_int_equal(nrecs(f), 2);

    char buf[64];
    struct pm_rec *r = rec(f, 0, NULL);
    assert_true(pm_rec_has(r, PM_P_SRC_HOST));
    assert_string_equal(pm_ip_str(&r->src_host, buf, sizeof(buf)),
                        "198.51.100.1");
    assert_string_equal(pm_ip_str(&r->dst_host, buf, sizeof(buf)),
                        "203.0.113.2");
    assert_int_equal(r->proto, 6);
    assert_int_equal(r->src_port, 443);
    assert_int_equal(r->dst_port, 51000);
    assert_int_equal(r->tos, 0x10);
    assert_int_equal(r->src_mac[5], 0x0e);
    assert_int_equal(r->dst_mac[5], 5);
    assert_true(pm_rec_has(r, PM_P_SRC_MAC));
    /* no counter IEs: one packet of the IP length */
    assert_int_equal(r->packets, 1);
    assert_int_equal(r->bytes, 1400);
    assert_int_equal(r->flows, 1);
    assert_int_equal(r->l3_off, 0xffff);
    assert_null(r->pkt);
    /* the src net from the decoded address (netflow masks: 0) */
    assert_true(pm_rec_has(r, PM_P_SRC_NET));

    /* counters from the IEs when present */
    r = rec(f, 1, NULL);
    assert_int_equal(r->packets, 3);
    assert_int_equal(r->bytes, 4500);
    assert_int_equal(r->dst_port, 51000);

    /* a truncated section: L2 only, no crash, still one record */
    ipfix_hdr(&w, 0);
    s = set_begin(&w, 400);
    w32(&w, 1);
    w8(&w, 20);
    frame_bytes(&w);
    w.n -= 54 - 20;
    set_end(&w, s);
    msg_end(&w);
    assert_int_equal(feed(f, &w), 1);
    assert_int_equal(nrecs(f), 3);
    r = rec(f, 2, NULL);
    assert_int_equal(r->packets, 1);
    assert_true(pm_rec_has(r, PM_P_SRC_MAC));
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_program),
        cmocka_unit_test(test_varlen_program),
        cmocka_unit_test(test_equivalence),
        cmocka_unit_test(test_frame_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
