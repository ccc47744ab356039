/*
 * test_render.c - renderer output against golden lines captured from
 * pmacct 1.7.7's print plugin (tests/data/render/, see README there).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmdata.h"

static char *golden_line(const char *name, int line)
{
    static char buf[8192];
    char path[1024];
    const char *src = getenv("top_srcdir");
    FILE *f;
    int i;
    snprintf(path, sizeof(path), "%s/tests/data/render/%s", src ? src : "../..",
             name);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    for (i = 0; i <= line; i++)
        if (!fgets(buf, sizeof(buf), f)) {
            fclose(f);
            return NULL;
        }
    fclose(f);
    return buf;
}

static void ip4(pm_ip_t *ip, const char *s)
{
    uint8_t a[4];
    inet_pton(AF_INET, s, a);
    pm_ip_set4(ip, a);
}
static void ip6(pm_ip_t *ip, const char *s)
{
    uint8_t a[16];
    inet_pton(AF_INET6, s, a);
    pm_ip_set6(ip, a);
}

static void render_cmp(uint32_t fmt, uint32_t flags, const char *agg,
                       const struct pm_row *row, const char *golden, int line)
{
    uint16_t ids[PM_P_MAX];
    uint32_t n, sm;
    int flows;
    char err[256];
    struct pm_render_cfg cfg = {0};
    struct pm_render *r;
    struct pm_buf out = {0};
    const char *g;
    assert_int_equal(pmc_aggregate_parse(agg, ids, &n, PM_P_MAX, &sm, &flows,
                                         err, sizeof(err)),
                     0);
    cfg.fmt = fmt;
    cfg.flags = flags | (flows ? 0 : PM_RENDER_NO_FLOWS) |
                (fmt == PM_FMT_JSON ? PM_RENDER_EVENT_TYPE : 0);
    cfg.prims = ids;
    cfg.nprims = n;
    r = pmc_render_new(&cfg);
    assert_non_null(r);
    if (line == 0 && fmt != PM_FMT_JSON)
        assert_int_equal(pmc_render_header(r, &out), 0);
    else
        assert_int_equal(pmc_render_row(r, row, &out), 0);
    g = golden_line(golden, line);
    assert_non_null(g);
    assert_string_equal(out.p, g);
    free(out.p);
    pmc_render_free(r);
}

static const char *G1 =
    "src_mac,dst_mac,vlan,src_host,dst_host,src_port,dst_port,proto,tos,tag,"
    "tag2,cos,etype,src_as,dst_as,local_pref,med,src_local_pref,src_med,"
    "peer_src_as,peer_dst_as,peer_dst_ip,src_net,dst_net,src_mask,dst_mask,"
    "tcpflags,sampling_rate";

static void g1_row(int which, struct pm_rec *r, struct pm_row *row)
{
    static const uint8_t m1[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
                         m2[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb},
                         m3[6] = {0x02, 0xfc, 0, 0, 0, 1},
                         mb[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    memset(r, 0, sizeof(*r));
    memset(row, 0, sizeof(*row));
    r->sampling_rate = 1;
    r->etype = 0x800;
    if (which == 0) {
        memcpy(r->src_mac, m1, 6), memcpy(r->dst_mac, m2, 6);
        ip4(&r->src_host, "10.0.0.1"), ip4(&r->dst_host, "10.0.0.2");
        ip4(&r->src_net, "10.0.0.0"), ip4(&r->dst_net, "10.0.0.0");
        r->src_mask = r->dst_mask = 8;
        r->src_port = 1234, r->dst_port = 80, r->tcpflags = 2, r->proto = 6;
        r->tos = 16;
        row->packets = 1, row->bytes = 40;
    } else if (which == 1) {
        memcpy(r->src_mac, m1, 6), memcpy(r->dst_mac, m2, 6);
        r->vlan = 100, r->cos = 5;
        ip4(&r->src_host, "10.0.0.1"), ip4(&r->dst_host, "10.0.0.3");
        ip4(&r->src_net, "10.0.0.0"), ip4(&r->dst_net, "10.0.0.0");
        r->src_mask = r->dst_mask = 8;
        r->src_port = 53, r->dst_port = 5353, r->proto = 17;
        row->packets = 1, row->bytes = 28;
    } else {
        memcpy(r->src_mac, m3, 6), memcpy(r->dst_mac, mb, 6);
        r->etype = 0x86dd;
        ip6(&r->src_host, "2001:db8::1"), ip6(&r->dst_host, "2001:db8::2");
        ip6(&r->src_net, "2001:db8::"), ip6(&r->dst_net, "2001:db8::");
        r->src_mask = r->dst_mask = 32;
        r->src_port = 443, r->dst_port = 5555, r->tcpflags = 24, r->proto = 6;
        r->tos = 32;
        row->packets = 1, row->bytes = 70;
    }
    row->rec = r;
}

static void test_g1(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    int i;
    (void)state;
    g1_row(0, &r, &row);
    render_cmp(PM_FMT_FORMATTED, 0, G1, &row, "g1.txt", 0);
    render_cmp(PM_FMT_CSV, 0, G1, &row, "g1.csv", 0);
    for (i = 0; i < 3; i++) {
        g1_row(i, &r, &row);
        render_cmp(PM_FMT_FORMATTED, 0, G1, &row, "g1.txt", i + 1);
        render_cmp(PM_FMT_CSV, 0, G1, &row, "g1.csv", i + 1);
        render_cmp(PM_FMT_JSON, 0, G1, &row, "g1.json", i);
    }
}

static void test_num_protos(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    (void)state;
    g1_row(0, &r, &row);
    render_cmp(PM_FMT_FORMATTED, PM_RENDER_NUM_PROTOS, "src_host,dst_host,proto",
               &row, "g6.txt", 1);
    render_cmp(PM_FMT_CSV, PM_RENDER_NUM_PROTOS, "src_host,dst_host,proto", &row,
               "g6.csv", 1);
    render_cmp(PM_FMT_JSON, PM_RENDER_NUM_PROTOS, "src_host,dst_host,proto",
               &row, "g6.json", 0);
}

static void test_geo(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    const char *agg = "src_host_country,dst_host_country,src_host_pocode,"
                      "dst_host_pocode,src_host_coords,dst_host_coords,src_host";
    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&row, 0, sizeof(row));
    ip4(&r.src_host, "10.0.0.1");
    row.rec = &r;
    row.packets = 2, row.bytes = 68;
    render_cmp(PM_FMT_FORMATTED, 0, agg, &row, "g4.txt", 0);
    render_cmp(PM_FMT_FORMATTED, 0, agg, &row, "g4.txt", 1);
    render_cmp(PM_FMT_CSV, 0, agg, &row, "g4.csv", 0);
    render_cmp(PM_FMT_CSV, 0, agg, &row, "g4.csv", 1);
    render_cmp(PM_FMT_JSON, 0, agg, &row, "g4.json", 0);
}

static const char *H9 =
    "tag,tag2,label,src_mac,dst_mac,vlan,cos,etype,src_as,dst_as,std_comm,"
    "ext_comm,lrg_comm,as_path,local_pref,med,src_std_comm,src_ext_comm,"
    "src_lrg_comm,src_as_path,src_local_pref,src_med,peer_src_as,peer_dst_as,"
    "peer_dst_ip,src_host,dst_host,src_net,dst_net,src_mask,dst_mask,src_port,"
    "dst_port,tcpflags,proto,tos,sampling_rate,src_roa,dst_roa";

static void test_strings_order(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    (void)state;
    g1_row(0, &r, &row);
    render_cmp(PM_FMT_CSV, 0, H9, &row, "h9.csv", 0);
    render_cmp(PM_FMT_CSV, 0, H9, &row, "h9.csv", 1);
    render_cmp(PM_FMT_JSON, 0, H9, &row, "h9.json", 0);
}

static void test_nfacctd(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    const char *agg =
        "src_host,dst_host,src_port,dst_port,proto,tos,tcpflags,in_iface,"
        "out_iface,peer_src_ip,peer_dst_ip,src_as,dst_as,src_mask,dst_mask,"
        "flows,timestamp_start,timestamp_end,timestamp_arrival,timestamp_export,"
        "export_proto_seqno,export_proto_version,export_proto_sysid,"
        "sampling_rate,sampling_direction";
    (void)state;
    setenv("TZ", "UTC", 1);
    memset(&r, 0, sizeof(r));
    memset(&row, 0, sizeof(row));
    r.src_as = 65001, r.dst_as = 65002;
    ip4(&r.peer_src_ip, "192.0.2.1");
    r.in_iface = 3, r.out_iface = 4;
    ip4(&r.src_host, "10.0.0.1"), ip4(&r.dst_host, "10.0.0.2");
    r.src_mask = 24, r.dst_mask = 16, r.src_port = 1234, r.dst_port = 80;
    r.tcpflags = 27, r.proto = 6, r.tos = 8, r.sampling_direction = 'u';
    r.ts_start.sec = 1699999996, r.ts_end.sec = 1699999997;
    r.ts_arrival.sec = 1795441917, r.ts_arrival.usec = 812038;
    r.ts_export.sec = 1700000000;
    r.export_proto_seqno = 77, r.export_proto_version = 5;
    row.rec = &r;
    row.packets = 10, row.flows = 1, row.bytes = 1000;
    render_cmp(PM_FMT_FORMATTED, 0, agg, &row, "n1.txt", 0);
    render_cmp(PM_FMT_FORMATTED, 0, agg, &row, "n1.txt", 1);
    render_cmp(PM_FMT_CSV, 0, agg, &row, "n1.csv", 0);
    r.ts_arrival.usec = 812042;
    render_cmp(PM_FMT_CSV, 0, agg, &row, "n1.csv", 1);
    r.ts_arrival.usec = 812044;
    render_cmp(PM_FMT_JSON, 0, agg, &row, "n1.json", 0);
}

/* An unset timestamp prints pmacct's zero date, not the epoch (nfacctd
 * 1.7.7 on a NAT capture without flow end times). */
static void test_unset_timestamp(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    uint16_t ids[PM_P_MAX];
    uint32_t n, sm;
    int flows;
    char err[256];
    struct pm_render_cfg cfg = {0};
    struct pm_render *rd;
    struct pm_buf out = {0};
    (void)state;
    setenv("TZ", "UTC", 1);
    memset(&r, 0, sizeof(r));
    memset(&row, 0, sizeof(row));
    r.ts_start.sec = 1700000000;
    row.rec = &r;
    row.packets = 1, row.bytes = 40;
    assert_int_equal(pmc_aggregate_parse("timestamp_start,timestamp_end", ids,
                                         &n, PM_P_MAX, &sm, &flows, err,
                                         sizeof(err)),
                     0);
    cfg.fmt = PM_FMT_CSV;
    cfg.flags = PM_RENDER_NO_FLOWS;
    cfg.prims = ids;
    cfg.nprims = n;
    rd = pmc_render_new(&cfg);
    assert_non_null(rd);
    assert_int_equal(pmc_render_row(rd, &row, &out), 0);
    assert_string_equal(out.p, "2023-11-14 22:13:20.000000,"
                               "0000-00-00 00:00:00.000000,1,40\n");
    free(out.p);
    pmc_render_free(rd);
}

static void test_epoch_stamps(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    (void)state;
    setenv("TZ", "UTC", 1);
    memset(&r, 0, sizeof(r));
    memset(&row, 0, sizeof(row));
    ip4(&r.src_host, "10.0.0.1"), ip4(&r.dst_host, "10.0.0.2");
    r.ts_start.sec = 1699999996, r.ts_end.sec = 1699999997;
    r.proto = 6;
    row.rec = &r;
    row.packets = 10, row.flows = 1, row.bytes = 1000;
    render_cmp(PM_FMT_CSV, PM_RENDER_TS_EPOCH,
               "src_host,dst_host,timestamp_start,timestamp_end", &row,
               "n7.csv", 1);
    render_cmp(PM_FMT_JSON, PM_RENDER_TS_EPOCH,
               "src_host,dst_host,timestamp_start,timestamp_end", &row,
               "n7.json", 0);
    row.stamp_inserted = 1699999980;
    row.stamp_updated = 1795441968;
    render_cmp(PM_FMT_JSON, PM_RENDER_STAMPS, "src_host,dst_host,proto,flows",
               &row, "n5.json", 0);
    /* formatted and CSV ignore stamps, as pmacct's print plugin does */
    render_cmp(PM_FMT_CSV, PM_RENDER_STAMPS, "src_host,dst_host,proto,flows",
               &row, "n5.csv", 1);
    render_cmp(PM_FMT_FORMATTED, PM_RENDER_STAMPS,
               "src_host,dst_host,proto,flows", &row, "n5.txt", 1);
}

static void test_mpls_class(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    const char *agg = "src_host,mpls_vpn_rd,mpls_pw_id,mpls_label_top,"
                      "mpls_label_bottom,mpls_stack_depth";
    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&row, 0, sizeof(row));
    ip4(&r.src_host, "10.0.0.1");
    row.rec = &r;
    row.packets = 10, row.bytes = 1000;
    render_cmp(PM_FMT_FORMATTED, 0, agg, &row, "n3.txt", 0);
    render_cmp(PM_FMT_FORMATTED, 0, agg, &row, "n3.txt", 1);
    render_cmp(PM_FMT_CSV, 0, agg, &row, "n3.csv", 1);
    render_cmp(PM_FMT_JSON, 0, agg, &row, "n3.json", 0);
    agg = "src_host,in_iface,out_iface,peer_src_ip,sampling_direction,class,"
          "label,tag";
    ip4(&r.peer_src_ip, "192.0.2.1");
    r.in_iface = 3, r.out_iface = 4, r.sampling_direction = 'u';
    render_cmp(PM_FMT_CSV, 0, agg, &row, "n4.csv", 0);
    render_cmp(PM_FMT_CSV, 0, agg, &row, "n4.csv", 1);
    render_cmp(PM_FMT_JSON, 0, agg, &row, "n4.json", 0);
}

static void test_json_escape_and_sep(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    uint16_t ids[2] = {PM_P_LABEL, PM_P_SRC_PORT};
    struct pm_render_cfg cfg = {0};
    struct pm_render *rd;
    struct pm_buf out = {0};
    const char arena[] = "a\"b\\c\n\x01";
    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&row, 0, sizeof(row));
    r.label.off = 0, r.label.len = sizeof(arena) - 1;
    r.src_port = 7;
    row.rec = &r, row.arena = arena, row.packets = 1, row.bytes = 2;
    cfg.fmt = PM_FMT_JSON, cfg.prims = ids, cfg.nprims = 2;
    cfg.flags = PM_RENDER_NO_FLOWS;
    rd = pmc_render_new(&cfg);
    assert_int_equal(pmc_render_row(rd, &row, &out), 0);
    assert_string_equal(out.p, "{\"label\": \"a\\\"b\\\\c\\n\\u0001\", "
                               "\"port_src\": 7, \"packets\": 1, \"bytes\": 2}\n");
    pmc_render_free(rd);
    out.len = 0;
    cfg.fmt = PM_FMT_CSV, cfg.separator = ";";
    rd = pmc_render_new(&cfg);
    assert_int_equal(pmc_render_header(rd, &out), 0);
    assert_string_equal(out.p, "LABEL;SRC_PORT;PACKETS;BYTES\n");
    pmc_render_free(rd);
    free(out.p);
}

/* pre_tag_label_encode_as_map and tcpflags_encode_as_array (JSON); CSV
 * and the default JSON are unchanged by the flags. */
static void test_json_encode_as(void **state)
{
    struct pm_rec r;
    struct pm_row row;
    uint16_t ids[3] = {PM_P_LABEL, PM_P_TCPFLAGS, PM_P_SRC_PORT};
    struct pm_render_cfg cfg = {0};
    struct pm_render *rd;
    struct pm_buf out = {0};
    const char arena[] = "site%mil,role%edge,,bare,q\"%x\"";
    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&row, 0, sizeof(row));
    r.label.off = 0, r.label.len = sizeof(arena) - 1;
    r.tcpflags = 0x12; /* SYN+ACK */
    r.src_port = 7;
    row.rec = &r, row.arena = arena, row.packets = 1, row.bytes = 2;
    cfg.fmt = PM_FMT_JSON, cfg.prims = ids, cfg.nprims = 3;
    cfg.flags = PM_RENDER_NO_FLOWS | PM_RENDER_LABEL_MAP |
                PM_RENDER_TCPFLAGS_ARRAY;
    rd = pmc_render_new(&cfg);
    assert_int_equal(pmc_render_row(rd, &row, &out), 0);
    assert_string_equal(out.p,
                        "{\"label\": {\"site\": \"mil\", \"role\": \"edge\", "
                        "\"bare\": \"\", \"q\\\"\": \"x\\\"\"}, "
                        "\"port_src\": 7, \"tcp_flags\": [\"ACK\", \"SYN\"], "
                        "\"packets\": 1, \"bytes\": 2}\n");
    pmc_render_free(rd);
    /* empty label and no flags: {} and [] */
    out.len = 0;
    r.label.len = 0;
    r.tcpflags = 0x3f;
    rd = pmc_render_new(&cfg);
    assert_int_equal(pmc_render_row(rd, &row, &out), 0);
    assert_string_equal(out.p, "{\"label\": {}, \"port_src\": 7, "
                               "\"tcp_flags\": [\"URG\", \"ACK\", \"PSH\", "
                               "\"RST\", \"SYN\", \"FIN\"], \"packets\": 1, "
                               "\"bytes\": 2}\n");
    pmc_render_free(rd);
    /* without the flags: as before */
    out.len = 0;
    r.label.len = 8;
    r.tcpflags = 0x12;
    cfg.flags = PM_RENDER_NO_FLOWS;
    rd = pmc_render_new(&cfg);
    assert_int_equal(pmc_render_row(rd, &row, &out), 0);
    assert_string_equal(out.p, "{\"label\": \"site%mil\", \"port_src\": 7, "
                               "\"tcp_flags\": \"18\", \"packets\": 1, "
                               "\"bytes\": 2}\n");
    pmc_render_free(rd);
    free(out.p);
}

/* The renderer's own number, address and MAC formatting gives what
 * printf and inet_ntop give, over random and edge values. */
static void test_fast_formats(void **state)
{
    (void)state;
    uint16_t ids[PM_P_MAX];
    uint32_t n, sm;
    int flows;
    char err[256], want[512], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    struct pm_render_cfg cfg = {0};
    struct pm_buf out = {0};
    struct pm_rec r;
    struct pm_row row;
    static const uint64_t edge[] = {0, 1, 9, 10, 99, 100, 255, 65535,
                                    4294967295u, 18446744073709551615u};
    assert_int_equal(pmc_aggregate_parse("src_mac,src_host,dst_host,src_port,"
                                         "tag,tcpflags",
                                         ids, &n, PM_P_MAX, &sm, &flows, err,
                                         sizeof(err)),
                     0);
    cfg.fmt = PM_FMT_CSV;
    cfg.prims = ids;
    cfg.nprims = n;
    struct pm_render *rd = pmc_render_new(&cfg);
    assert_non_null(rd);
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint8_t x[4], y[4], m[6];
        memset(&r, 0, sizeof(r));
        memset(&row, 0, sizeof(row));
        for (int k = 0; k < 4; k++) {
            /* mix the 1-, 2- and 3-digit octets */
            x[k] = (uint8_t)(i < 256 ? i : rand() % (k % 2 ? 10 : 256));
            y[k] = (uint8_t)(rand() % (i % 3 ? 256 : 100));
        }
        for (int k = 0; k < 6; k++)
            m[k] = (uint8_t)rand();
        memcpy(r.src_mac, m, 6);
        pm_ip_set4(&r.src_host, x);
        pm_ip_set4(&r.dst_host, y);
        r.src_port = (uint16_t)rand();
        r.tag = i < 10 ? edge[i] : ((uint64_t)rand() << 33) ^ (uint64_t)rand();
        r.tcpflags = (uint8_t)rand();
        row.rec = &r;
        row.packets = i < 10 ? edge[9 - i] : (uint64_t)rand();
        row.bytes = i < 10 ? edge[i] : (uint64_t)rand() * 1000;
        row.flows = 3;
        inet_ntop(AF_INET, x, a, sizeof(a));
        inet_ntop(AF_INET, y, b, sizeof(b));
        snprintf(want, sizeof(want),
                 "%llu,%02x:%02x:%02x:%02x:%02x:%02x,%s,%s,%u,%u,%llu,%llu,%llu\n",
                 (unsigned long long)r.tag, m[0], m[1], m[2], m[3], m[4], m[5],
                 a, b, r.src_port, r.tcpflags,
                 (unsigned long long)row.packets, (unsigned long long)row.flows,
                 (unsigned long long)row.bytes);
        out.len = 0;
        assert_int_equal(pmc_render_row(rd, &row, &out), 0);
        assert_string_equal(out.p, want);
    }
    pmc_render_free(rd);
    free(out.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_g1),
        cmocka_unit_test(test_fast_formats),
        cmocka_unit_test(test_num_protos),
        cmocka_unit_test(test_geo),
        cmocka_unit_test(test_strings_order),
        cmocka_unit_test(test_nfacctd),
        cmocka_unit_test(test_epoch_stamps),
        cmocka_unit_test(test_unset_timestamp),
        cmocka_unit_test(test_mpls_class),
        cmocka_unit_test(test_json_escape_and_sep),
        cmocka_unit_test(test_json_encode_as),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
