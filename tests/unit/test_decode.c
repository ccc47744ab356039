/*
 * test_decode.c - packet decoder: hand-built frames for each encapsulation,
 * and every truncation length of each frame (must never read past caplen:
 * run under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pmdata.h"

static size_t put(uint8_t *p, size_t off, const void *s, size_t n)
{
    memcpy(p + off, s, n);
    return off + n;
}

/* IPv4 header + L4 at p; returns length */
static size_t ipv4(uint8_t *p, uint8_t proto, const uint8_t *l4, size_t l4len,
                   uint16_t frag)
{
    uint16_t tot = (uint16_t)(20 + l4len);
    uint8_t h[20] = {0x45, 0x10, (uint8_t)(tot >> 8), (uint8_t)tot, 0, 1,
                     (uint8_t)(frag >> 8), (uint8_t)frag, 64, proto, 0, 0,
                     10, 0, 0, 1, 10, 0, 0, 2};
    memcpy(p, h, 20);
    memcpy(p + 20, l4, l4len);
    return 20 + l4len;
}

static const uint8_t tcp[20] = {0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 0, 0, 0,
                                0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0};
static const uint8_t udp[8] = {0x00, 0x35, 0x14, 0xe9, 0, 8, 0, 0};

static struct pm_rec rec;

static int dec(int dlt, const uint8_t *p, size_t n)
{
    memset(&rec, 0, sizeof(rec));
    rec.l3_off = rec.l4_off = rec.payload_off = 0xffff;
    return pmc_decode_packet(&rec, dlt, p, (uint32_t)n, (uint32_t)n, 0);
}

/* decode every prefix of the frame from a heap copy of exactly that size */
static void all_truncations(int dlt, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint8_t *c = malloc(i ? i : 1);
        memcpy(c, p, i);
        int rc = dec(dlt, c, i);
        assert_true(rc >= PM_DEC_OK && rc <= PM_DEC_UNKNOWN_DLT);
        free(c);
    }
}

static const uint8_t eth_hdr[12] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                                    0x00, 0x11, 0x22, 0x33, 0x44, 0x55};

static void test_eth_ipv4_tcp(void **s)
{
    uint8_t f[128];
    size_t n = put(f, 0, eth_hdr, 12);
    (void)s;
    f[n++] = 0x08, f[n++] = 0x00;
    n += ipv4(f + n, 6, tcp, sizeof(tcp), 0);
    assert_int_equal(dec(PM_DLT_EN10MB, f, n), PM_DEC_OK);
    assert_int_equal(rec.src_mac[0], 0x00);
    assert_int_equal(rec.dst_mac[0], 0x66);
    assert_int_equal(rec.etype, 0x800);
    assert_int_equal(rec.src_host.af, 4);
    assert_int_equal(rec.src_host.a[3], 1);
    assert_int_equal(rec.dst_host.a[3], 2);
    assert_int_equal(rec.proto, 6);
    assert_int_equal(rec.tos, 0x10);
    assert_int_equal(rec.src_port, 1234);
    assert_int_equal(rec.dst_port, 80);
    assert_int_equal(rec.tcpflags, 0x12);
    assert_int_equal(rec.bytes, 40);
    assert_int_equal(rec.packets, 1);
    assert_int_equal(rec.l3_off, 14);
    assert_int_equal(rec.l4_off, 34);
    assert_int_equal(rec.payload_off, 54);
    assert_true(pm_rec_has(&rec, PM_P_SRC_PORT));
    assert_false(pm_rec_has(&rec, PM_P_VLAN));
    all_truncations(PM_DLT_EN10MB, f, n);
    assert_int_equal(dec(PM_DLT_EN10MB, f, 20), PM_DEC_TRUNCATED);
}

static void test_qinq_vlan(void **s)
{
    uint8_t f[128];
    size_t n = put(f, 0, eth_hdr, 12);
    const uint8_t tags[] = {0x81, 0x00, 0x60, 0x0a, 0x81, 0x00, 0x20, 0x14,
                            0x08, 0x00};
    (void)s;
    n = put(f, n, tags, sizeof(tags));
    n += ipv4(f + n, 17, udp, sizeof(udp), 0);
    assert_int_equal(dec(PM_DLT_EN10MB, f, n), PM_DEC_OK);
    assert_int_equal(rec.vlan, 10);
    assert_int_equal(rec.cos, 3);
    assert_int_equal(rec.cvlan, 20);
    assert_int_equal(rec.src_port, 53);
    assert_int_equal(rec.dst_port, 5353);
    assert_int_equal(rec.bytes, 28);
    all_truncations(PM_DLT_EN10MB, f, n);
}

static void test_mpls(void **s)
{
    uint8_t f[128];
    size_t n = put(f, 0, eth_hdr, 12);
    const uint8_t m[] = {0x88, 0x47, 0x00, 0x06, 0x40, 0x40,
                         0x00, 0x0c, 0x81, 0x40};
    (void)s;
    n = put(f, n, m, sizeof(m));
    n += ipv4(f + n, 17, udp, sizeof(udp), 0);
    assert_int_equal(dec(PM_DLT_EN10MB, f, n), PM_DEC_OK);
    assert_int_equal(rec.mpls_label_top, 100);
    assert_int_equal(rec.mpls_label_bottom, 200);
    assert_int_equal(rec.mpls_stack_depth, 2);
    assert_int_equal(rec.etype, 0x800);
    assert_int_equal(rec.src_port, 53);
    all_truncations(PM_DLT_EN10MB, f, n);
}

static void test_ipv6_ext(void **s)
{
    uint8_t f[256];
    size_t n = 0;
    uint8_t ip6[40] = {0x62, 0x00, 0x00, 0x05, 0, 24, 0, 64};
    const uint8_t hop[8] = {60, 0, 1, 4, 0, 0, 0, 0};
    const uint8_t dst[8] = {17, 0, 1, 4, 0, 0, 0, 0};
    (void)s;
    ip6[8] = 0x20, ip6[9] = 0x01, ip6[23] = 1;
    ip6[24] = 0x20, ip6[25] = 0x01, ip6[39] = 2;
    n = put(f, n, ip6, 40);
    n = put(f, n, hop, 8);
    n = put(f, n, dst, 8);
    n = put(f, n, udp, 8);
    assert_int_equal(dec(PM_DLT_RAW, f, n), PM_DEC_OK);
    assert_int_equal(rec.src_host.af, 6);
    assert_int_equal(rec.proto, 17);
    assert_int_equal(rec.tos, 0x20);
    assert_int_equal(rec.flow_label, 5);
    assert_int_equal(rec.bytes, 64);
    assert_int_equal(rec.src_port, 53);
    assert_int_equal(rec.l4_off, 56);
    assert_true(rec.flags & PM_RF_IPV6);
    all_truncations(PM_DLT_RAW, f, n);
    all_truncations(PM_DLT_IPV6, f, n);
    /* non-first fragment: no ports */
    {
        const uint8_t frag[8] = {17, 0, 0x00, 0x50, 0, 0, 0, 1};
        n = 0;
        ip6[6] = 44;
        n = put(f, n, ip6, 40);
        n = put(f, n, frag, 8);
        n = put(f, n, udp, 8);
        assert_int_equal(dec(PM_DLT_RAW, f, n), PM_DEC_OK);
        assert_true(rec.flags & PM_RF_FRAGMENT);
        assert_int_equal(rec.proto, 17);
        assert_false(pm_rec_has(&rec, PM_P_SRC_PORT));
    }
}

static void test_ipv4_frag_icmp(void **s)
{
    uint8_t f[128];
    const uint8_t icmp[8] = {8, 0, 0, 0, 0, 0, 0, 0};
    size_t n;
    (void)s;
    n = ipv4(f, 17, udp, sizeof(udp), 0x0010);
    assert_int_equal(dec(PM_DLT_IPV4, f, n), PM_DEC_OK);
    assert_true(rec.flags & PM_RF_FRAGMENT);
    assert_false(pm_rec_has(&rec, PM_P_SRC_PORT));
    n = ipv4(f, 17, udp, sizeof(udp), 0x2000); /* MF, offset 0: first */
    assert_int_equal(dec(PM_DLT_IPV4, f, n), PM_DEC_OK);
    assert_int_equal(rec.src_port, 53);
    n = ipv4(f, 1, icmp, sizeof(icmp), 0);
    assert_int_equal(dec(PM_DLT_RAW, f, n), PM_DEC_OK);
    assert_int_equal(rec.src_port, 0);
    assert_int_equal(rec.dst_port, 0);
    assert_true(pm_rec_has(&rec, PM_P_SRC_PORT));
    n = ipv4(f, 136, udp, sizeof(udp), 0); /* UDP-Lite: ports as UDP */
    assert_int_equal(dec(PM_DLT_RAW, f, n), PM_DEC_OK);
    assert_int_equal(rec.src_port, 53);
    {
        /* SCTP: ports from the 12-byte common header (pmacct says 0) */
        uint8_t sctp[16] = {0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 1, 0, 0, 0, 0};
        n = ipv4(f, 132, sctp, sizeof(sctp), 0);
        assert_int_equal(dec(PM_DLT_RAW, f, n), PM_DEC_OK);
        assert_int_equal(rec.src_port, 2905);
        assert_int_equal(rec.dst_port, 2905);
        n = ipv4(f, 132, sctp, 10, 0); /* cut inside the common header */
        assert_int_equal(dec(PM_DLT_RAW, f, n), PM_DEC_TRUNCATED);
        n = ipv4(f, 132, udp, sizeof(udp), 0);
    }
    f[0] = 0x44; /* bad IHL */
    assert_int_equal(dec(PM_DLT_RAW, f, n), PM_DEC_BAD);
    assert_int_equal(dec(PM_DLT_IPV4, f, n), PM_DEC_BAD);
    f[0] = 0x55; /* not IP */
    assert_int_equal(dec(PM_DLT_RAW, f, n), PM_DEC_NOT_IP);
}

static void test_sll_null_pppoe(void **s)
{
    uint8_t f[128];
    size_t n;
    const uint8_t sll[16] = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0};
    const uint8_t sll2[20] = {0x08, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6,
                              1, 2, 3, 4, 5, 6, 0, 0};
    const uint8_t null4[4] = {2, 0, 0, 0};
    const uint8_t loop6[4] = {0, 0, 0, 24};
    const uint8_t pppoe[10] = {0x88, 0x64, 0x11, 0, 0, 1, 0, 30, 0, 0x21};
    (void)s;
    n = put(f, 0, sll, 16);
    n += ipv4(f + n, 6, tcp, sizeof(tcp), 0);
    assert_int_equal(dec(PM_DLT_LINUX_SLL, f, n), PM_DEC_OK);
    assert_int_equal(rec.src_mac[5], 6);
    assert_int_equal(rec.dst_port, 80);
    all_truncations(PM_DLT_LINUX_SLL, f, n);
    n = put(f, 0, sll2, 20);
    n += ipv4(f + n, 6, tcp, sizeof(tcp), 0);
    assert_int_equal(dec(PM_DLT_LINUX_SLL2, f, n), PM_DEC_OK);
    assert_int_equal(rec.dst_port, 80);
    all_truncations(PM_DLT_LINUX_SLL2, f, n);
    n = put(f, 0, null4, 4);
    n += ipv4(f + n, 6, tcp, sizeof(tcp), 0);
    assert_int_equal(dec(PM_DLT_NULL, f, n), PM_DEC_OK);
    assert_int_equal(rec.dst_port, 80);
    all_truncations(PM_DLT_NULL, f, n);
    n = put(f, 0, loop6, 4);
    n += ipv4(f + n, 6, tcp, sizeof(tcp), 0);
    assert_int_equal(dec(PM_DLT_LOOP, f, n), PM_DEC_BAD); /* v4 bytes, v6 family */
    n = put(f, 0, eth_hdr, 12);
    n = put(f, n, pppoe, sizeof(pppoe));
    n += ipv4(f + n, 17, udp, sizeof(udp), 0);
    assert_int_equal(dec(PM_DLT_EN10MB, f, n), PM_DEC_OK);
    assert_int_equal(rec.src_port, 53);
    all_truncations(PM_DLT_EN10MB, f, n);
    /* ARP: not IP, L2 only */
    n = put(f, 0, eth_hdr, 12);
    f[n++] = 0x08, f[n++] = 0x06;
    memset(f + n, 0, 28);
    n += 28;
    assert_int_equal(dec(PM_DLT_EN10MB, f, n), PM_DEC_NOT_IP);
    assert_int_equal(rec.etype, 0x806);
    assert_false(pm_rec_has(&rec, PM_P_SRC_HOST));
    assert_int_equal(dec(9999, f, n), PM_DEC_UNKNOWN_DLT);
    assert_int_equal(dec(PM_DLT_EN10MB, NULL, 0), PM_DEC_TRUNCATED);
}

static void test_random(void **s)
{
    uint8_t f[256];
    int i, dlts[] = {1, 0, 108, 12, 113, 276, 228, 229};
    unsigned seed = 1;
    (void)s;
    for (i = 0; i < 20000; i++) {
        size_t n = (size_t)(rand_r(&seed) % 200), k;
        uint8_t *c = malloc(n ? n : 1);
        for (k = 0; k < n; k++)
            c[k] = (uint8_t)rand_r(&seed);
        if (n > 14 && (i & 1))
            c[12] = 0x08, c[13] = 0, c[14] = 0x45;
        dec(dlts[i % 8], c, n);
        free(c);
    }
    (void)f;
}

/* record_frame is the inverse of the decoder for the fields flows carry:
 * decode(record_frame(r)) gives r's MACs, VLAN, hosts, tos, proto, ports,
 * tcpflags back. */
static void test_record_frame_roundtrip(void **s)
{
    struct pm_rec r, d;
    uint8_t buf[PM_RECORD_FRAME_MAX];
    uint32_t len, wire;
    uint8_t a4[4] = {192, 0, 2, 1}, b4[4] = {198, 51, 100, 7};
    uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    (void)s;
    memset(&r, 0, sizeof(r));
    memcpy(r.src_mac, "\x02\0\0\0\0\x01", 6);
    memcpy(r.dst_mac, "\x02\0\0\0\0\x02", 6);
    r.vlan = 42;
    pm_rec_set(&r, PM_P_VLAN);
    pm_ip_set4(&r.src_host, a4);
    pm_ip_set4(&r.dst_host, b4);
    r.proto = 6, r.tos = 0x28, r.tcpflags = 0x12;
    r.src_port = 443, r.dst_port = 51000;
    pm_rec_set(&r, PM_P_SRC_PORT);
    pm_rec_set(&r, PM_P_DST_PORT);
    r.packets = 10, r.bytes = 15000; /* average 1500 */
    len = pmc_record_frame(&r, buf, &wire);
    assert_true(len <= PM_RECORD_FRAME_MAX);
    assert_int_equal(wire, 14 + 4 + 1500);
    memset(&d, 0, sizeof(d));
    assert_int_equal(pmc_decode_packet(&d, PM_DLT_EN10MB, buf, len, wire, 0),
                     PM_DEC_OK);
    assert_memory_equal(d.src_mac, r.src_mac, 6);
    assert_memory_equal(d.dst_mac, r.dst_mac, 6);
    assert_int_equal(d.vlan, 42);
    assert_memory_equal(&d.src_host, &r.src_host, sizeof(pm_ip_t));
    assert_memory_equal(&d.dst_host, &r.dst_host, sizeof(pm_ip_t));
    assert_int_equal(d.proto, 6);
    assert_int_equal(d.tos, 0x28);
    assert_int_equal(d.tcpflags, 0x12);
    assert_int_equal(d.src_port, 443);
    assert_int_equal(d.dst_port, 51000);

    memset(&r, 0, sizeof(r));
    pm_ip_set6(&r.src_host, a6);
    pm_ip_set6(&r.dst_host, b6);
    r.proto = 17, r.tos = 0xb8, r.flow_label = 0x12345;
    r.src_port = 53, r.dst_port = 5353;
    pm_rec_set(&r, PM_P_SRC_PORT);
    pm_rec_set(&r, PM_P_DST_PORT);
    len = pmc_record_frame(&r, buf, &wire);
    memset(&d, 0, sizeof(d));
    assert_int_equal(pmc_decode_packet(&d, PM_DLT_EN10MB, buf, len, wire, 0),
                     PM_DEC_OK);
    assert_memory_equal(&d.src_host, &r.src_host, sizeof(pm_ip_t));
    assert_memory_equal(&d.dst_host, &r.dst_host, sizeof(pm_ip_t));
    assert_int_equal(d.proto, 17);
    assert_int_equal(d.tos, 0xb8);
    assert_int_equal(d.flow_label, 0x12345);
    assert_int_equal(d.src_port, 53);
    assert_int_equal(d.dst_port, 5353);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_frame_roundtrip),
        cmocka_unit_test(test_eth_ipv4_tcp), cmocka_unit_test(test_qinq_vlan),
        cmocka_unit_test(test_mpls),         cmocka_unit_test(test_ipv6_ext),
        cmocka_unit_test(test_ipv4_frag_icmp),
        cmocka_unit_test(test_sll_null_pppoe), cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
