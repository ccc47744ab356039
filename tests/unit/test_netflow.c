/*
 * test_netflow.c - unit tests of the netflow capture module with the fake
 * host: crafted v1/v5/v7/v8/v9/IPFIX datagrams (templates, options with
 * sampling, data before its template, withdrawal, variable-length and
 * enterprise fields, NSEL/NEL), truncation at every byte, the committed
 * vendor datagrams of tests/data/netflow/ (and the full corpus in
 * ../shared/corpus beside the checkout when present), the pcap savefile input, the UDP
 * socket and allow lists.  Single-threaded except the UDP test, which runs
 * the capture on a thread and polls with a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fakehost.h"
#include "nf.h"

const struct pm_module_desc *pm_module_descriptor(void);

/* ---- datagram builder ------------------------------------------------- */
struct wb {
    uint8_t b[4096];
    uint32_t n;
};
static void w8(struct wb *w, uint32_t v) { w->b[w->n++] = (uint8_t)v; }
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
static void w64(struct wb *w, uint64_t v)
{
    w32(w, (uint32_t)(v >> 32));
    w32(w, (uint32_t)v);
}
static void wip(struct wb *w, const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    memcpy(w->b + w->n, &a, 4);
    w->n += 4;
}
static void wip6(struct wb *w, const char *s)
{
    uint8_t a[16];
    assert_int_equal(inet_pton(AF_INET6, s, a), 1);
    memcpy(w->b + w->n, a, 16);
    w->n += 16;
}
static void wbytes(struct wb *w, const void *p, uint32_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
/* set header with length patched by set_end */
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
static void v9_hdr(struct wb *w, uint16_t count, uint32_t uptime,
                   uint32_t secs, uint32_t seq, uint32_t srcid)
{
    w->n = 0;
    w16(w, 9);
    w16(w, count);
    w32(w, uptime);
    w32(w, secs);
    w32(w, seq);
    w32(w, srcid);
}
static void ipfix_hdr(struct wb *w, uint32_t secs, uint32_t seq, uint32_t dom)
{
    w->n = 0;
    w16(w, 10);
    w16(w, 0);
    w32(w, secs);
    w32(w, seq);
    w32(w, dom);
}
static void ipfix_end(struct wb *w)
{
    w->b[2] = (uint8_t)(w->n >> 8);
    w->b[3] = (uint8_t)w->n;
}

/* ---- fixture ---------------------------------------------------------- */
struct fx {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    struct nf_ctx *c;
    pm_ip_t exp;
    pm_ts_t now;
};

static struct fx *fx_new_v(const char *k, va_list ap)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *kv[32] = {0};
    int n = 0;
    for (const char *s = k; s && n < 30; s = va_arg(ap, const char *))
        kv[n++] = s;
    kv[n] = NULL;
    f->d = pm_module_descriptor();
    f->inst = fakehost_instance("netflow", "default", PM_KIND_CAPTURE,
                                "src_host,dst_host");
    /* fakehost_config takes varargs; pass up to 8 pairs explicitly */
    f->cfg = fakehost_config(f->d, f->inst, kv[0], kv[1], kv[2], kv[3], kv[4],
                             kv[5], kv[6], kv[7], kv[8], kv[9], kv[10],
                             kv[11], kv[12], kv[13], kv[14], kv[15], NULL);
    void *ctx = NULL;
    assert_int_equal(f->d->init(fakehost(), f->inst, f->cfg, &ctx), 0);
    f->c = ctx;
    uint8_t a[4] = {192, 0, 2, 1};
    pm_ip_set4(&f->exp, a);
    f->now.sec = 1700000000;
    return f;
}

static struct fx *fx_new(const char *k, ...)
{
    va_list ap;
    va_start(ap, k);
    struct fx *f = fx_new_v(k, ap);
    va_end(ap);
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

/* All emitted records, flattened (after nf_flush). */
static uint32_t nrecs(struct fx *f)
{
    nf_flush(f->c);
    uint32_t n = 0;
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
static const char *ipstr(const pm_ip_t *ip)
{
    static char buf[4][64];
    static int k;
    k = (k + 1) & 3;
    return pm_ip_str(ip, buf[k], sizeof(buf[k]));
}
static uint64_t ctr(const char *n) { return fakehost_counter_value(n); }

/* ---- v5 ------------------------------------------------------------------ */
static void build_v5(struct wb *w, uint32_t seq, uint16_t sampling)
{
    w->n = 0;
    w16(w, 5);
    w16(w, 2);
    w32(w, 100000);     /* uptime ms */
    w32(w, 1700000000); /* unix secs */
    w32(w, 0);
    w32(w, seq);
    w8(w, 0);
    w8(w, 7);
    w16(w, sampling);
    for (int i = 0; i < 2; i++) {
        wip(w, i ? "10.0.0.2" : "10.1.2.3");
        wip(w, "192.168.10.20");
        wip(w, "10.255.0.1");
        w16(w, 3);
        w16(w, 4);
        w32(w, 10 + i);
        w32(w, 1000 + i);
        w32(w, 90000); /* first: 10 s before export */
        w32(w, 99500);
        w16(w, 1234);
        w16(w, 80);
        w8(w, 0);
        w8(w, 0x1b);
        w8(w, 6);
        w8(w, 0x10);
        w16(w, 65001);
        w16(w, 65002);
        w8(w, 16);
        w8(w, 24);
        w16(w, 0);
    }
}

static void test_v5(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct wb w;
    build_v5(&w, 1000, 0x4000 | 100);
    assert_int_equal(feed(f, &w), 2);
    assert_int_equal(nrecs(f), 2);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->src_host), "10.1.2.3");
    assert_string_equal(ipstr(&r->dst_host), "192.168.10.20");
    assert_string_equal(ipstr(&r->src_net), "10.1.0.0");
    assert_string_equal(ipstr(&r->dst_net), "192.168.10.0");
    assert_true(pm_rec_has(r, PM_P_SRC_NET));
    assert_string_equal(ipstr(&r->peer_src_ip), "192.0.2.1");
    assert_false(pm_rec_has(r, PM_P_PEER_DST_IP));
    assert_int_equal(r->in_iface, 3);
    assert_int_equal(r->out_iface, 4);
    assert_int_equal(r->packets, 10);
    assert_int_equal(r->bytes, 1000);
    assert_int_equal(r->flows, 1);
    assert_int_equal(r->src_port, 1234);
    assert_int_equal(r->dst_port, 80);
    assert_int_equal(r->tcpflags, 0x1b);
    assert_int_equal(r->proto, 6);
    assert_int_equal(r->tos, 0x10);
    assert_int_equal(r->src_as, 65001);
    assert_int_equal(r->dst_as, 65002);
    assert_int_equal(r->src_mask, 16);
    assert_int_equal(r->dst_mask, 24);
    assert_int_equal(r->sampling_rate, 100);
    assert_int_equal(r->export_proto_version, 5);
    assert_int_equal(r->export_proto_seqno, 1000);
    assert_int_equal(r->export_proto_sysid, 7);
    assert_int_equal(r->ts_start.sec, 1700000000 - 10);
    /* as nfacctd 1.7.7: the age is truncated to seconds */
    assert_int_equal(r->ts_end.sec, 1700000000);
    assert_int_equal(r->ts_end.usec, 0);
    /* sequence: next expected 1002; 1010 is a gap */
    build_v5(&w, 1002, 0);
    feed(f, &w);
    assert_int_equal(ctr("seq_gaps"), 0);
    build_v5(&w, 1010, 0);
    feed(f, &w);
    assert_int_equal(ctr("seq_gaps"), 1);
    assert_int_equal(ctr("datagrams_v5"), 3);
    assert_int_equal(ctr("records"), 6);
    /* count larger than the datagram */
    build_v5(&w, 1012, 0);
    w.n -= 10;
    assert_int_equal(feed(f, &w), -EINVAL);
    assert_int_equal(ctr("malformed"), 1);
    assert_non_null(strstr(fakehost_log_text(), "192.0.2.1"));
    fx_free(f);
}

static void test_v5_renormalize_time_new(void **state)
{
    (void)state;
    struct fx *f = fx_new("nfacctd_renormalize", "true", "nfacctd_time_new",
                          "true", NULL);
    struct wb w;
    build_v5(&w, 1, 0x4000 | 10);
    assert_int_equal(feed(f, &w), 2);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_int_equal(r->packets, 100);
    assert_int_equal(r->bytes, 10000);
    assert_int_equal(r->ts_start.sec, f->now.sec);
    fx_free(f);
}

static void test_v1_v7(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct wb w;
    w.n = 0;
    w16(&w, 1);
    w16(&w, 1);
    w32(&w, 5000);
    w32(&w, 1700000000);
    w32(&w, 0);
    wip(&w, "1.2.3.4");
    wip(&w, "5.6.7.8");
    wip(&w, "0.0.0.0");
    w16(&w, 1);
    w16(&w, 2);
    w32(&w, 3);
    w32(&w, 300);
    w32(&w, 4000);
    w32(&w, 5000);
    w16(&w, 53);
    w16(&w, 5353);
    w16(&w, 0);
    w8(&w, 17);
    w8(&w, 8);
    w8(&w, 0);
    w8(&w, 0);
    w16(&w, 0);
    w32(&w, 0);
    assert_int_equal(w.n, 16 + 48);
    assert_int_equal(feed(f, &w), 1);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->src_host), "1.2.3.4");
    assert_int_equal(r->proto, 17);
    assert_int_equal(r->tos, 8);
    assert_int_equal(r->dst_port, 5353);
    assert_int_equal(r->ts_start.sec, 1700000000 - 1);
    assert_int_equal(r->export_proto_version, 1);

    /* v7 */
    w.n = 0;
    w16(&w, 7);
    w16(&w, 1);
    w32(&w, 5000);
    w32(&w, 1700000000);
    w32(&w, 0);
    w32(&w, 77);
    w32(&w, 0);
    wip(&w, "9.9.9.9");
    wip(&w, "8.8.8.8");
    wip(&w, "0.0.0.0");
    w16(&w, 5);
    w16(&w, 6);
    w32(&w, 7);
    w32(&w, 700);
    w32(&w, 4000);
    w32(&w, 5000);
    w16(&w, 1);
    w16(&w, 2);
    w8(&w, 0);
    w8(&w, 2); /* tcp flags */
    w8(&w, 6);
    w8(&w, 0);
    w16(&w, 100);
    w16(&w, 200);
    w8(&w, 8);
    w8(&w, 8);
    w16(&w, 0);
    wip(&w, "10.0.0.1");
    assert_int_equal(w.n, 24 + 52);
    assert_int_equal(feed(f, &w), 1);
    r = rec(f, 1, NULL);
    assert_string_equal(ipstr(&r->src_host), "9.9.9.9");
    assert_string_equal(ipstr(&r->src_net), "9.0.0.0");
    assert_int_equal(r->tcpflags, 2);
    assert_int_equal(r->src_as, 100);
    assert_int_equal(r->bytes, 700);
    assert_int_equal(r->export_proto_version, 7);
    fx_free(f);
}

static void v8_hdr(struct wb *w, uint8_t agg, uint16_t count)
{
    w->n = 0;
    w16(w, 8);
    w16(w, count);
    w32(w, 5000);
    w32(w, 1700000000);
    w32(w, 0);
    w32(w, 1);
    w8(w, 0);
    w8(w, 0);
    w8(w, agg);
    w8(w, 2);
    w32(w, 0);
}
static void v8_head(struct wb *w)
{
    w32(w, 4);   /* flows */
    w32(w, 40);  /* packets */
    w32(w, 400); /* bytes */
    w32(w, 4000);
    w32(w, 5000);
}

static void test_v8(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct wb w;
    /* 1: AS */
    v8_hdr(&w, 1, 1);
    v8_head(&w);
    w16(&w, 100);
    w16(&w, 200);
    w16(&w, 1);
    w16(&w, 2);
    assert_int_equal(feed(f, &w), 1);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_int_equal(r->flows, 4);
    assert_int_equal(r->packets, 40);
    assert_int_equal(r->src_as, 100);
    assert_int_equal(r->out_iface, 2);
    /* 2: proto-port */
    v8_hdr(&w, 2, 1);
    v8_head(&w);
    w8(&w, 17);
    w8(&w, 0);
    w16(&w, 0);
    w16(&w, 53);
    w16(&w, 1053);
    assert_int_equal(feed(f, &w), 1);
    r = rec(f, 1, NULL);
    assert_int_equal(r->proto, 17);
    assert_int_equal(r->dst_port, 1053);
    /* 5: prefix */
    v8_hdr(&w, 5, 1);
    v8_head(&w);
    wip(&w, "10.1.0.0");
    wip(&w, "10.2.0.0");
    w8(&w, 16);
    w8(&w, 12);
    w16(&w, 0);
    w16(&w, 1);
    w16(&w, 2);
    w16(&w, 3);
    w16(&w, 4);
    assert_int_equal(feed(f, &w), 1);
    r = rec(f, 2, NULL);
    assert_string_equal(ipstr(&r->src_net), "10.0.0.0");
    assert_int_equal(r->src_mask, 12);
    assert_int_equal(r->dst_mask, 16);
    assert_int_equal(r->dst_as, 2);
    assert_int_equal(r->out_iface, 4);
    /* 8: full flow */
    v8_hdr(&w, 8, 1);
    wip(&w, "2.2.2.2");
    wip(&w, "1.1.1.1");
    w16(&w, 443);
    w16(&w, 5555);
    w32(&w, 9);
    w32(&w, 900);
    w32(&w, 4000);
    w32(&w, 5000);
    w16(&w, 7);
    w16(&w, 8);
    w8(&w, 0x20);
    w8(&w, 6);
    w8(&w, 0);
    w8(&w, 0);
    w32(&w, 0);
    w32(&w, 0);
    assert_int_equal(feed(f, &w), 1);
    r = rec(f, 3, NULL);
    assert_string_equal(ipstr(&r->src_host), "1.1.1.1");
    assert_string_equal(ipstr(&r->dst_host), "2.2.2.2");
    assert_int_equal(r->src_port, 5555);
    assert_int_equal(r->in_iface, 8);
    assert_int_equal(r->tos, 0x20);
    assert_int_equal(r->bytes, 900);
    /* 14: prefix-port-tos; 6: destination only */
    v8_hdr(&w, 14, 1);
    v8_head(&w);
    wip(&w, "10.1.0.0");
    wip(&w, "10.2.0.0");
    w8(&w, 16);
    w8(&w, 16);
    w8(&w, 4);
    w8(&w, 6);
    w16(&w, 1);
    w16(&w, 2);
    w16(&w, 3);
    w16(&w, 4);
    assert_int_equal(feed(f, &w), 1);
    assert_int_equal(rec(f, 4, NULL)->dst_port, 2);
    v8_hdr(&w, 6, 1);
    wip(&w, "3.3.3.3");
    w32(&w, 1);
    w32(&w, 2);
    w32(&w, 4000);
    w32(&w, 5000);
    w16(&w, 9);
    w8(&w, 0);
    w8(&w, 0);
    w32(&w, 0);
    w32(&w, 0);
    assert_int_equal(feed(f, &w), 1);
    assert_int_equal(rec(f, 5, NULL)->out_iface, 9);
    /* unknown scheme */
    v8_hdr(&w, 15, 1);
    v8_head(&w);
    w32(&w, 0);
    assert_int_equal(feed(f, &w), -EINVAL);
    fx_free(f);
}

/* ---- v9 ------------------------------------------------------------------ */
static void v9_template(struct wb *w)
{
    uint32_t s = set_begin(w, 0);
    w16(w, 256);
    w16(w, 12);
    w16(w, 8), w16(w, 4);  /* src */
    w16(w, 12), w16(w, 4); /* dst */
    w16(w, 7), w16(w, 2);
    w16(w, 11), w16(w, 2);
    w16(w, 4), w16(w, 1);
    w16(w, 1), w16(w, 4);  /* bytes */
    w16(w, 2), w16(w, 4);  /* packets */
    w16(w, 22), w16(w, 4); /* first */
    w16(w, 21), w16(w, 4); /* last */
    w16(w, 48), w16(w, 1); /* sampler id */
    w16(w, 18), w16(w, 4); /* bgp next hop */
    w16(w, 234), w16(w, 4); /* ingress vrf */
    set_end(w, s);
}
static void v9_data(struct wb *w, int n)
{
    uint32_t s = set_begin(w, 256);
    for (int i = 0; i < n; i++) {
        wip(w, "10.0.0.1");
        wip(w, "10.0.0.2");
        w16(w, 1000 + i);
        w16(w, 443);
        w8(w, 6);
        w32(w, 1500);
        w32(w, 3);
        w32(w, 50000);
        w32(w, 59000);
        w8(w, 2);
        wip(w, "172.16.0.1");
        w32(w, 5);
    }
    w16(w, 0); /* padding */
    set_end(w, s);
}
static void v9_options(struct wb *w)
{
    uint32_t s = set_begin(w, 1);
    w16(w, 300);
    w16(w, 4); /* scope length */
    w16(w, 8); /* options length */
    w16(w, 1), w16(w, 4);  /* scope: system */
    w16(w, 48), w16(w, 1); /* sampler id */
    w16(w, 50), w16(w, 4); /* random interval */
    w16(w, 0);             /* padding */
    set_end(w, s);
    s = set_begin(w, 1);
    w16(w, 301);
    w16(w, 4);
    w16(w, 8);
    w16(w, 1), w16(w, 4);
    w16(w, 234), w16(w, 4);  /* vrf id */
    w16(w, 236), w16(w, 32); /* vrf name */
    w16(w, 0);
    set_end(w, s);
}
static void v9_options_data(struct wb *w)
{
    uint32_t s = set_begin(w, 300);
    w32(w, 0);
    w8(w, 2);
    w32(w, 1000);
    set_end(w, s);
    s = set_begin(w, 301);
    w32(w, 0);
    w32(w, 5);
    char name[32] = "customer-a";
    wbytes(w, name, 32);
    set_end(w, s);
}

static void test_v9_templates_options(void **state)
{
    (void)state;
    struct fx *f = fx_new("nfacctd_renormalize", "true", NULL);
    struct wb w;
    v9_hdr(&w, 4, 60000, 1700000000, 1, 42);
    v9_options(&w);
    v9_options_data(&w);
    v9_template(&w);
    v9_data(&w, 2);
    assert_int_equal(feed(f, &w), 2);
    assert_int_equal(nrecs(f), 2);
    struct pm_batch *b;
    struct pm_rec *r = rec(f, 1, &b);
    assert_string_equal(ipstr(&r->src_host), "10.0.0.1");
    assert_int_equal(r->src_port, 1001);
    assert_int_equal(r->dst_port, 443);
    assert_int_equal(r->sampling_rate, 1); /* renormalised: 1, as nfacctd 1.7.7 */
    assert_int_equal(r->packets, 3000);
    assert_int_equal(r->bytes, 1500000);
    assert_string_equal(ipstr(&r->peer_dst_ip), "172.16.0.1");
    assert_int_equal(r->ts_start.sec, 1700000000 - 10);
    assert_int_equal(r->ts_end.sec, 1700000000 - 1);
    assert_int_equal(r->export_proto_version, 9);
    assert_int_equal(r->export_proto_sysid, 42);
    assert_true(pm_rec_has(r, PM_P_IN_VRF));
    assert_int_equal(r->in_vrf.len, strlen("customer-a"));
    assert_memory_equal(pm_batch_str(b, r->in_vrf), "customer-a", 10);
    assert_int_equal(ctr("templates"), 3);
    assert_int_equal(ctr("options_records"), 2);
    /* v9 sequence counts datagrams */
    v9_hdr(&w, 1, 60000, 1700000000, 2, 42);
    v9_data(&w, 1);
    assert_int_equal(feed(f, &w), 1);
    assert_int_equal(ctr("seq_gaps"), 0);
    v9_hdr(&w, 1, 60000, 1700000000, 5, 42);
    v9_data(&w, 1);
    feed(f, &w);
    assert_int_equal(ctr("seq_gaps"), 1);
    /* another source id does not see source 42's templates */
    v9_hdr(&w, 1, 60000, 1700000000, 1, 43);
    v9_data(&w, 1);
    assert_int_equal(feed(f, &w), 0);
    assert_int_equal(ctr("unknown_template"), 1);
    fx_free(f);
}

static void test_v9_data_before_template(void **state)
{
    (void)state;
    struct fx *f = fx_new("nfacctd_pending_size", "1M", NULL);
    struct wb w;
    v9_hdr(&w, 2, 60000, 1700000000, 1, 0);
    v9_data(&w, 2);
    assert_int_equal(feed(f, &w), 0);
    assert_int_equal(ctr("unknown_template"), 1);
    assert_int_equal(nrecs(f), 0);
    v9_hdr(&w, 1, 61000, 1700000001, 2, 0);
    v9_template(&w);
    feed(f, &w);
    assert_int_equal(nrecs(f), 2);
    /* decoded with the header of the datagram that carried it */
    struct pm_rec *r = rec(f, 0, NULL);
    assert_int_equal(r->export_proto_seqno, 1);
    assert_int_equal(r->ts_start.sec, 1700000000 - 10);
    assert_int_equal(ctr("dropped_pending"), 0);
    fx_free(f);

    /* default (as nfacctd 1.7.7): dropped and counted */
    f = fx_new(NULL);
    v9_hdr(&w, 2, 60000, 1700000000, 1, 0);
    v9_data(&w, 2);
    feed(f, &w);
    assert_int_equal(ctr("dropped_pending"), 1);
    fx_free(f);
    f = fx_new("nfacctd_pending_time", "5", "nfacctd_pending_size", "64K",
               NULL);
    v9_hdr(&w, 2, 60000, 1700000000, 1, 0);
    v9_data(&w, 2);
    feed(f, &w);
    f->now.sec += 10;
    v9_hdr(&w, 1, 61000, 1700000010, 2, 0);
    v9_template(&w);
    feed(f, &w);
    assert_int_equal(ctr("dropped_pending"), 1);
    assert_int_equal(nrecs(f), 0);
    fx_free(f);
}

static void test_template_cap(void **state)
{
    (void)state;
    struct fx *f = fx_new("nfacctd_templates_max", "10", NULL);
    struct wb w;
    v9_hdr(&w, 20, 0, 1700000000, 1, 0);
    uint32_t s = set_begin(&w, 0);
    for (int i = 0; i < 20; i++) {
        w16(&w, 256 + i);
        w16(&w, 1);
        w16(&w, 8), w16(&w, 4);
    }
    set_end(&w, s);
    feed(f, &w);
    assert_int_equal(ctr("templates"), 10);
    assert_int_equal(ctr("templates_refused"), 10);
    fx_free(f);
}

/* ---- IPFIX --------------------------------------------------------------- */
static void test_ipfix_varlen_enterprise_withdraw(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct wb w;
    ipfix_hdr(&w, 1700000000, 0, 7);
    uint32_t s = set_begin(&w, 2);
    w16(&w, 400);
    w16(&w, 9);
    w16(&w, 27), w16(&w, 16);            /* src v6 */
    w16(&w, 28), w16(&w, 16);            /* dst v6 */
    w16(&w, 0x8000 | 1), w16(&w, 4);     /* enterprise IE */
    w32(&w, 29305);
    w16(&w, 82), w16(&w, 65535);         /* interfaceName, varlen */
    w16(&w, 291), w16(&w, 65535);        /* basicList, varlen */
    w16(&w, 1), w16(&w, 4);              /* bytes, reduced size */
    w16(&w, 2), w16(&w, 2);              /* packets, reduced size */
    w16(&w, 152), w16(&w, 8);            /* start ms */
    w16(&w, 0x8000 | 12), w16(&w, 65535); /* enterprise varlen */
    w32(&w, 9);
    set_end(&w, s);
    s = set_begin(&w, 400);
    /* record 1: short varlen */
    wip6(&w, "2001:db8::1");
    wip6(&w, "2001:db8::2");
    w32(&w, 0xdeadbeef);
    w8(&w, 3), wbytes(&w, "et0", 3);
    w8(&w, 0);
    w32(&w, 1234);
    w16(&w, 7);
    w64(&w, 1700000000123ull);
    w8(&w, 1), w8(&w, 0x55);
    /* record 2: 3-byte length encoding, 300-byte basicList */
    wip6(&w, "2001:db8::3");
    wip6(&w, "2001:db8::4");
    w32(&w, 0);
    w8(&w, 255), w16(&w, 4), wbytes(&w, "eth1", 4);
    w8(&w, 255), w16(&w, 300);
    uint8_t junk[300];
    memset(junk, 0xff, sizeof(junk));
    wbytes(&w, junk, 300);
    w32(&w, 99);
    w16(&w, 1);
    w64(&w, 1700000000999ull);
    w8(&w, 0);
    set_end(&w, s);
    ipfix_end(&w);
    assert_int_equal(feed(f, &w), 2);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->src_host), "2001:db8::1");
    assert_string_equal(ipstr(&r->dst_host), "2001:db8::2");
    assert_int_equal(r->bytes, 1234);
    assert_int_equal(r->packets, 7);
    assert_int_equal(r->ts_start.sec, 1700000000);
    assert_int_equal(r->ts_start.usec, 123000);
    assert_int_equal(r->export_proto_version, 10);
    assert_int_equal(r->export_proto_sysid, 7);
    r = rec(f, 1, NULL);
    assert_string_equal(ipstr(&r->src_host), "2001:db8::3");
    assert_int_equal(r->bytes, 99);
    assert_int_equal(ctr("malformed"), 0);

    /* sequence: 2 records were in message 0, so 2 is expected */
    ipfix_hdr(&w, 1700000000, 2, 7);
    s = set_begin(&w, 2);
    w16(&w, 400);
    w16(&w, 0); /* withdraw */
    set_end(&w, s);
    ipfix_end(&w);
    feed(f, &w);
    assert_int_equal(ctr("seq_gaps"), 0);
    ipfix_hdr(&w, 1700000000, 2, 7);
    s = set_begin(&w, 400);
    wip6(&w, "2001:db8::1");
    set_end(&w, s);
    ipfix_end(&w);
    assert_int_equal(feed(f, &w), 0);
    assert_int_equal(ctr("unknown_template"), 1);

    /* a variable-length field that overruns its record */
    ipfix_hdr(&w, 1700000000, 0, 8);
    s = set_begin(&w, 2);
    w16(&w, 500);
    w16(&w, 2);
    w16(&w, 8), w16(&w, 4);
    w16(&w, 82), w16(&w, 65535);
    set_end(&w, s);
    s = set_begin(&w, 500);
    wip(&w, "1.1.1.1");
    w8(&w, 200), wbytes(&w, "abc", 3);
    set_end(&w, s);
    ipfix_end(&w);
    assert_int_equal(feed(f, &w), 0);
    assert_int_equal(ctr("malformed"), 1);
    fx_free(f);
}

static void test_nsel_nel(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct wb w;
    /* Cisco ASA NSEL over v9 */
    v9_hdr(&w, 2, 0, 1700000000, 1, 0);
    uint32_t s = set_begin(&w, 0);
    w16(&w, 263);
    w16(&w, 11);
    w16(&w, 8), w16(&w, 4);
    w16(&w, 12), w16(&w, 4);
    w16(&w, 7), w16(&w, 2);
    w16(&w, 11), w16(&w, 2);
    w16(&w, 4), w16(&w, 1);
    w16(&w, 225), w16(&w, 4);
    w16(&w, 226), w16(&w, 4);
    w16(&w, 227), w16(&w, 2);
    w16(&w, 228), w16(&w, 2);
    w16(&w, 233), w16(&w, 1);
    w16(&w, 323), w16(&w, 8);
    set_end(&w, s);
    s = set_begin(&w, 263);
    wip(&w, "192.168.1.10");
    wip(&w, "8.8.4.4");
    w16(&w, 40000);
    w16(&w, 53);
    w8(&w, 17);
    wip(&w, "203.0.113.5");
    wip(&w, "8.8.4.4");
    w16(&w, 1024);
    w16(&w, 53);
    w8(&w, 1); /* flow created */
    w64(&w, 1699999999500ull);
    set_end(&w, s);
    assert_int_equal(feed(f, &w), 1);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->post_nat_src_host), "203.0.113.5");
    assert_string_equal(ipstr(&r->post_nat_dst_host), "8.8.4.4");
    assert_int_equal(r->post_nat_src_port, 1024);
    assert_int_equal(r->post_nat_dst_port, 53);
    assert_int_equal(r->fw_event, 1);
    assert_true(pm_rec_has(r, PM_P_FW_EVENT));
    assert_int_equal(r->ts_start.sec, 1699999999);

    /* NEL over IPFIX */
    ipfix_hdr(&w, 1700000000, 0, 1);
    s = set_begin(&w, 2);
    w16(&w, 256);
    w16(&w, 5);
    w16(&w, 8), w16(&w, 4);
    w16(&w, 225), w16(&w, 4);
    w16(&w, 7), w16(&w, 2);
    w16(&w, 227), w16(&w, 2);
    w16(&w, 230), w16(&w, 1);
    set_end(&w, s);
    s = set_begin(&w, 256);
    wip(&w, "100.64.0.9");
    wip(&w, "198.51.100.1");
    w16(&w, 5000);
    w16(&w, 61000);
    w8(&w, 4);
    set_end(&w, s);
    ipfix_end(&w);
    assert_int_equal(feed(f, &w), 1);
    r = rec(f, 1, NULL);
    assert_string_equal(ipstr(&r->src_host), "100.64.0.9");
    assert_string_equal(ipstr(&r->post_nat_src_host), "198.51.100.1");
    assert_int_equal(r->post_nat_src_port, 61000);
    assert_int_equal(r->nat_event, 4);
    fx_free(f);
}

static void test_mpls_labels(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct wb w;
    ipfix_hdr(&w, 1700000000, 0, 1);
    uint32_t s = set_begin(&w, 2);
    w16(&w, 256);
    w16(&w, 4);
    w16(&w, 8), w16(&w, 4);
    w16(&w, 70), w16(&w, 3);
    w16(&w, 71), w16(&w, 3);
    w16(&w, 72), w16(&w, 3);
    set_end(&w, s);
    s = set_begin(&w, 256);
    wip(&w, "1.1.1.1");
    w8(&w, 0x00), w8(&w, 0x3e), w8(&w, 0x80); /* 1000, no bos */
    w8(&w, 0x00), w8(&w, 0x7d), w8(&w, 0x01); /* 2000, bos */
    w8(&w, 0x00), w8(&w, 0x00), w8(&w, 0x00); /* ignored after bos */
    set_end(&w, s);
    ipfix_end(&w);
    assert_int_equal(feed(f, &w), 1);
    struct pm_batch *b;
    struct pm_rec *r = rec(f, 0, &b);
    assert_int_equal(r->mpls_label_top, 1000);
    assert_int_equal(r->mpls_label_bottom, 2000);
    assert_int_equal(r->mpls_stack_depth, 2);
    assert_int_equal(r->mpls_label_stack.len, 9);
    assert_memory_equal(pm_batch_str(b, r->mpls_label_stack), "1000,2000", 9);
    fx_free(f);
}

/* ---- robustness ------------------------------------------------------ */
static void truncate_all(struct fx *f, const struct wb *w)
{
    for (uint32_t n = 0; n < w->n; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size for ASan */
        memcpy(copy, w->b, n);
        nf_datagram(f->c, copy, n, &f->exp, &f->now);
        free(copy);
    }
}

static void test_truncation(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct wb w;
    build_v5(&w, 1, 0);
    truncate_all(f, &w);
    uint64_t m = ctr("malformed");
    assert_int_equal(m, w.n); /* every prefix is malformed */
    v9_hdr(&w, 4, 60000, 1700000000, 1, 42);
    v9_options(&w);
    v9_options_data(&w);
    v9_template(&w);
    v9_data(&w, 2);
    truncate_all(f, &w);
    assert_true(ctr("malformed") > m);
    ipfix_hdr(&w, 1700000000, 0, 7);
    uint32_t s = set_begin(&w, 2);
    w16(&w, 401);
    w16(&w, 2);
    w16(&w, 8), w16(&w, 4);
    w16(&w, 82), w16(&w, 65535);
    set_end(&w, s);
    s = set_begin(&w, 401);
    wip(&w, "1.1.1.1");
    w8(&w, 255), w16(&w, 3), wbytes(&w, "abc", 3);
    set_end(&w, s);
    ipfix_end(&w);
    truncate_all(f, &w);
    /* garbage versions */
    w.n = 0;
    w16(&w, 6);
    w32(&w, 0);
    assert_int_equal(feed(f, &w), -EINVAL);
    assert_true(ctr("bad_version") >= 1);
    /* zero-length set, template with zero-length record */
    v9_hdr(&w, 1, 0, 0, 0, 0);
    s = set_begin(&w, 0);
    w16(&w, 256);
    w16(&w, 1);
    w16(&w, 8), w16(&w, 0);
    set_end(&w, s);
    w16(&w, 256);
    w16(&w, 0);
    feed(f, &w);
    fx_free(f);
}

/* ---- vendor datagrams -------------------------------------------------- */
static int read_file(const char *path, struct wb *w)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    w->n = (uint32_t)fread(w->b, 1, sizeof(w->b), fp);
    fclose(fp);
    return 0;
}

static void data_path(char *out, size_t len, const char *name)
{
    const char *src = getenv("top_srcdir");
    snprintf(out, len, "%s/tests/data/netflow/%s", src ? src : ".", name);
}

static void feed_file(struct fx *f, const char *name)
{
    char p[1024];
    struct wb w;
    data_path(p, sizeof(p), name);
    if (read_file(p, &w) < 0)
        fail_msg("cannot read %s", p);
    feed(f, &w);
}

static struct pm_rec *find_rec(struct fx *f, const char *src, const char *dst)
{
    uint32_t n = nrecs(f);
    for (uint32_t i = 0; i < n; i++) {
        struct pm_rec *r = rec(f, i, NULL);
        if (!strcmp(ipstr(&r->src_host), src) &&
            (!dst || !strcmp(ipstr(&r->dst_host), dst)))
            return r;
    }
    fail_msg("no record %s -> %s", src, dst ? dst : "*");
    return NULL;
}

static void test_vendor_datagrams(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    /* Juniper MX80 NetFlow v5 (tshark: 29 flows, first 202.x) */
    feed_file(f, "netflow5_test_juniper_mx80.dat");
    assert_int_equal(ctr("malformed"), 0);
    assert_true(nrecs(f) > 0);
    fx_free(f);

    /* Cisco ASA NSEL: templates then data */
    f = fx_new(NULL);
    feed_file(f, "netflow9_test_cisco_asa_1_tpl.dat");
    feed_file(f, "netflow9_test_cisco_asa_1_data.dat");
    assert_int_equal(ctr("malformed"), 0);
    assert_int_equal(ctr("unknown_template"), 0);
    assert_true(nrecs(f) > 0);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_true(pm_rec_has(r, PM_P_FW_EVENT));
    assert_true(pm_rec_has(r, PM_P_POST_NAT_SRC_HOST));
    fx_free(f);

    /* IPFIX: nProbe-like template+data in one message */
    f = fx_new(NULL);
    feed_file(f, "ipfix.dat");
    assert_int_equal(ctr("malformed"), 0);
    assert_true(nrecs(f) > 0);
    fx_free(f);

    /* Juniper MX240 IPFIX options template (sampling) */
    f = fx_new(NULL);
    feed_file(f, "ipfix_test_juniper_mx240_junos151r6s3_opttpl512.dat");
    feed_file(f, "ipfix_test_juniper_mx240_junos151r6s3_data512.dat");
    assert_int_equal(ctr("malformed"), 0);
    fx_free(f);

    /* YAF with variable-length and enterprise fields */
    f = fx_new(NULL);
    feed_file(f, "ipfix_test_yaf_tpls_option_tpl.dat");
    feed_file(f, "ipfix_test_yaf_tpl45841.dat");
    feed_file(f, "ipfix_test_yaf_data45841.dat");
    assert_int_equal(ctr("malformed"), 0);
    assert_true(nrecs(f) > 0);
    fx_free(f);
    (void)find_rec;
}

/* Every datagram of the shared corpus, templates first: no crash, counted.
 * Skipped when the corpus is absent. */
static void test_corpus(void **state)
{
    (void)state;
    /* shared/ stands beside the checkout when it exists at all */
    char dir[4096];
    const char *top = getenv("top_srcdir");
    snprintf(dir, sizeof(dir), "%s/../shared/corpus/logstash-netflow",
             top ? top : ".");
    if (access(dir, R_OK) != 0) {
        skip();
        return;
    }
    struct fx *f = fx_new(NULL);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "ls %s/*.dat | awk '/tpl/{print 0, $0; next}{print 1, $0}' | "
             "sort | cut -d' ' -f2",
             dir);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    char line[1024];
    int files = 0;
    while (fgets(line, sizeof(line), ls)) {
        line[strcspn(line, "\n")] = 0;
        struct wb w;
        if (read_file(line, &w) == 0) {
            /* one exporter per vendor capture: templates of different
             * captures reuse ids */
            const char *base = strrchr(line, '/') + 1;
            size_t glen = strlen(base);
            const char *cuts[] = {"_tpl", "_data", "_opttpl", ".dat"};
            for (int k = 0; k < 4; k++) {
                const char *x = strstr(base, cuts[k]);
                if (x && (size_t)(x - base) < glen)
                    glen = (size_t)(x - base);
            }
            uint32_t hsh = 2166136261u;
            for (size_t k = 0; k < glen; k++)
                hsh = (hsh ^ (uint8_t)base[k]) * 16777619u;
            pm_ip_t exp;
            uint8_t a4[4] = {10, (uint8_t)(hsh >> 16), (uint8_t)(hsh >> 8),
                             (uint8_t)hsh};
            pm_ip_set4(&exp, a4);
            uint8_t *copy = malloc(w.n ? w.n : 1);
            memcpy(copy, w.b, w.n);
            nf_datagram(f->c, copy, w.n, &exp, &f->now);
            free(copy);
            files++;
        }
    }
    pclose(ls);
    assert_true(files > 50);
    print_message("corpus: %d files, %u records, %llu malformed, %llu "
                  "unknown template\n",
                  files, nrecs(f), (unsigned long long)ctr("malformed"),
                  (unsigned long long)ctr("unknown_template"));
    fx_free(f);
}

/* ---- input: savefile, socket, allow list ----------------------------- */
static void write_pcap(const char *path, const struct wb *payload)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    fwrite(gh, 4, 6, fp);
    uint8_t fr[2048];
    uint32_t n = 0;
    memset(fr, 0, 14);
    fr[12] = 0x08;
    n = 14;
    uint32_t iplen = 20 + 8 + payload->n;
    uint8_t ip[20] = {0x45, 0, (uint8_t)(iplen >> 8), (uint8_t)iplen, 0, 0, 0,
                      0, 64, 17, 0, 0, 198, 51, 100, 7, 10, 0, 0, 1};
    memcpy(fr + n, ip, 20);
    n += 20;
    uint8_t udp[8] = {0x30, 0x39, 0x08, 0x34, (uint8_t)((8 + payload->n) >> 8),
                      (uint8_t)(8 + payload->n), 0, 0};
    memcpy(fr + n, udp, 8);
    n += 8;
    memcpy(fr + n, payload->b, payload->n);
    n += payload->n;
    uint32_t ph[4] = {1700000005, 0, n, n};
    for (int i = 0; i < 2; i++) {
        fwrite(ph, 4, 4, fp);
        fwrite(fr, 1, n, fp);
    }
    fclose(fp);
}

static void test_savefile(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_netflow.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], allow[256];
    snprintf(path, sizeof(path), "%s/in.pcap", dir);
    snprintf(allow, sizeof(allow), "%s/allow", dir);
    struct wb w;
    build_v5(&w, 1, 0);
    write_pcap(path, &w);
    struct fx *f = fx_new("pcap_savefile", path, NULL);
    assert_int_equal(f->d->start(f->c), 0);
    assert_int_equal(f->d->run(f->c), PM_RUN_EOF);
    assert_int_equal(nrecs(f), 4);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->peer_src_ip), "198.51.100.7");
    assert_int_equal(r->ts_arrival.sec, 1700000005);
    fx_free(f);

    /* allow list that refuses the exporter */
    FILE *fp = fopen(allow, "w");
    fprintf(fp, "# exporters\n10.0.0.0/8\n2001:db8::/32\n198.51.100.8\n");
    fclose(fp);
    f = fx_new("pcap_savefile", path, "nfacctd_allow_file", allow, NULL);
    assert_int_equal(f->d->start(f->c), 0);
    assert_int_equal(f->d->run(f->c), PM_RUN_EOF);
    assert_int_equal(nrecs(f), 0);
    assert_int_equal(ctr("denied"), 2);
    fx_free(f);

    /* a bad line is reported with file:line */
    fp = fopen(allow, "w");
    fprintf(fp, "10.0.0.1\n\nnot-an-ip\n");
    fclose(fp);
    f = fx_new("pcap_savefile", path, "nfacctd_allow_file", allow, NULL);
    assert_true(f->d->start(f->c) < 0);
    char want[300];
    snprintf(want, sizeof(want), "%s:3:", allow);
    assert_non_null(strstr(fakehost_log_text(), want));
    fx_free(f);
    unlink(path);
    unlink(allow);
    rmdir(dir);
}

static void *run_thread(void *arg)
{
    struct fx *f = arg;
    f->d->run(f->c);
    return NULL;
}

static void test_udp_socket(void **state)
{
    (void)state;
    struct fx *f = fx_new("nfacctd_ip", "127.0.0.1", "nfacctd_port", "0",
                          "nfacctd_pipe_size", "1M", NULL);
    int rc = f->d->start(f->c);
    if (rc < 0) {
        fx_free(f);
        FAKEHOST_SKIP("cannot open a UDP socket on 127.0.0.1");
        return;
    }
    uint16_t port = pm_udpin_port(f->c->in);
    assert_true(port != 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, f), 0);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct wb w;
    build_v5(&w, 1, 0);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t got = 0;
    for (;;) {
        sendto(s, w.b, w.n, 0, (struct sockaddr *)&sa, sizeof(sa));
        got = (uint32_t)ctr("records");
        if (got >= 2)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10)
            break;
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL); /* pacing the sender, not waiting for a result */
    }
    close(s);
    fakehost_set_stop(1);
    pthread_join(th, NULL);
    assert_true(got >= 2);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->peer_src_ip), "127.0.0.1");
    fx_free(f);
}

static void test_prefix_parse(void **state)
{
    (void)state;
    struct pm_prefix p;
    assert_int_equal(pm_prefix_parse(&p, "10.1.2.3/8"), 0);
    assert_int_equal(p.len, 8);
    assert_string_equal(ipstr(&p.net), "10.0.0.0");
    assert_int_equal(pm_prefix_parse(&p, "2001:db8::1"), 0);
    assert_int_equal(p.len, 128);
    assert_int_equal(pm_prefix_parse(&p, "10.0.0.0/33"), -EINVAL);
    assert_int_equal(pm_prefix_parse(&p, "x"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v5),
        cmocka_unit_test(test_v5_renormalize_time_new),
        cmocka_unit_test(test_v1_v7),
        cmocka_unit_test(test_v8),
        cmocka_unit_test(test_v9_templates_options),
        cmocka_unit_test(test_v9_data_before_template),
        cmocka_unit_test(test_template_cap),
        cmocka_unit_test(test_ipfix_varlen_enterprise_withdraw),
        cmocka_unit_test(test_nsel_nel),
        cmocka_unit_test(test_mpls_labels),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_vendor_datagrams),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_savefile),
        cmocka_unit_test(test_udp_socket),
        cmocka_unit_test(test_prefix_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
