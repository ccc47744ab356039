/*
 * test_netflow.c - unit tests of the netflow decoders with the fake host:
 * crafted v1/v5/v7/v8/v9/IPFIX datagrams (templates, options with sampling,
 * data before its template, withdrawal, variable-length and enterprise
 * fields, NSEL/NEL, MPLS labels) and truncation at every byte.  The inputs
 * (vendor datagrams, corpus, savefile, socket, IPFIX streams) are tested
 * by test_netflow_input.c.  Single-threaded.
 */
#include "test_netflow_util.h"

/* src_net/dst_net are computed only when a pipeline aggregates them;
 * masks always */
static void test_v5_nets_when_needed(void **state)
{
    (void)state;
    fx_aggregate = "src_host,dst_host,src_mask";
    struct fx *f = fx_new(NULL);
    fx_aggregate = "src_host,dst_host,src_net,dst_net";
    struct wb w;
    build_v5(&w, 1000, 0x4000 | 100);
    assert_int_equal(feed(f, &w), 2);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_false(pm_rec_has(r, PM_P_SRC_NET));
    assert_false(pm_rec_has(r, PM_P_DST_NET));
    assert_int_equal(r->src_net.af, 0);
    assert_true(pm_rec_has(r, PM_P_SRC_MASK));
    assert_int_equal(r->src_mask, 16);
    fx_free(f);
    fx_aggregate = "dst_net"; /* one side is enough: both computed */
    f = fx_new(NULL);
    fx_aggregate = "src_host,dst_host,src_net,dst_net";
    assert_int_equal(feed(f, &w), 2);
    r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->src_net), "10.1.0.0");
    assert_string_equal(ipstr(&r->dst_net), "192.168.10.0");
    fx_free(f);
}

/* ---- v5 ------------------------------------------------------------------ */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v5),
        cmocka_unit_test(test_v5_nets_when_needed),
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
