/*
 * test_udpin.c - unit tests of the shared datagram input
 * (modules/common/udpin.c): a SO_REUSEPORT group steered by source
 * address (the kernel's BPF program must agree with pm_udpin_steer(),
 * every datagram of one address reaches one socket whatever its source
 * port; IPv4, IPv4 on a dual-stack group, IPv6), the receive buffer read
 * back, kernel drops seen (SO_MEMINFO: every datagram sent is either
 * received or counted dropped), and the
 * per-exporter counters published to the host.  Loopback only.
 *
 * Single-threaded; the fake host's state is global to the process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakehost.h"
#include "../modules/common/udpin.h"

static struct pm_instance *inst(void)
{
    return fakehost_instance("netflow", "default", PM_KIND_CAPTURE, NULL);
}

/* A UDP socket bound to src (port 0) sending to dst:port. */
static int sender(int af, const char *src, const char *dst, uint16_t port)
{
    struct sockaddr_storage sa, da;
    socklen_t l;
    memset(&sa, 0, sizeof(sa));
    memset(&da, 0, sizeof(da));
    int fd = socket(af, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    if (af == AF_INET) {
        struct sockaddr_in *s = (void *)&sa, *d = (void *)&da;
        s->sin_family = d->sin_family = AF_INET;
        inet_pton(AF_INET, src, &s->sin_addr);
        inet_pton(AF_INET, dst, &d->sin_addr);
        d->sin_port = htons(port);
        l = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (void *)&sa, *d = (void *)&da;
        s->sin6_family = d->sin6_family = AF_INET6;
        inet_pton(AF_INET6, src, &s->sin6_addr);
        inet_pton(AF_INET6, dst, &d->sin6_addr);
        d->sin6_port = htons(port);
        l = sizeof(*s);
    }
    if (bind(fd, (void *)&sa, l) < 0 || connect(fd, (void *)&da, l) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Receive from every socket of the group until `want` datagrams came (or
 * a deadline of polls); each payload is "src" text: check the socket. */
static void drain_check(struct pm_udpin **g, unsigned n, unsigned want)
{
    unsigned got = 0;
    for (int round = 0; round < 200 && got < want; round++) {
        for (unsigned i = 0; i < n; i++) {
            struct pm_dgram dg[64];
            int r = pm_udpin_recv(g[i], dg, 64, round ? 10 : 0);
            assert_true(r >= 0);
            for (int k = 0; k < r; k++) {
                char buf[64];
                pm_ip_str(&dg[k].src, buf, sizeof(buf));
                assert_int_equal(pm_udpin_steer(&dg[k].src, n), i);
                got++;
            }
        }
    }
    assert_int_equal(got, want);
}

static void group_run(int af, const char *bindip, const char *dst,
                      const char *const *srcs, unsigned nsrc, unsigned n)
{
    struct pm_udpin *g[8];
    struct pm_udpin_cfg cfg = {.prefix = "nfacctd", .ip = bindip, .port = 0,
                               .pipe_size = 1 << 20};
    assert_int_equal(pm_udpin_open_group(g, n, fakehost(), inst(), &cfg), 0);
    uint16_t port = pm_udpin_port(g[0]);
    for (unsigned i = 1; i < n; i++)
        assert_int_equal(pm_udpin_port(g[i]), port);
    unsigned sent = 0;
    for (unsigned s = 0; s < nsrc; s++)
        for (int p = 0; p < 6; p++) { /* 6 source ports per address */
            int fd = sender(af, srcs[s], dst, port);
            assert_true(fd >= 0);
            for (int k = 0; k < 3; k++, sent++)
                assert_int_equal(send(fd, srcs[s], strlen(srcs[s]), 0),
                                 (ssize_t)strlen(srcs[s]));
            close(fd);
        }
    drain_check(g, n, sent);
    for (unsigned i = 0; i < n; i++)
        pm_udpin_close(g[i]);
}

static const char *const v4srcs[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3",
                                     "127.0.0.4", "127.0.0.5", "127.0.0.6",
                                     "127.0.0.7", "127.0.0.8"};

static void t_group_v4(void **state)
{
    (void)state;
    group_run(AF_INET, "127.0.0.1", "127.0.0.1", v4srcs, 8, 4);
    group_run(AF_INET, "127.0.0.1", "127.0.0.1", v4srcs, 8, 2);
}

/* dual-stack group (bind ::): IPv4 datagrams steered by the IPv4 header */
static void t_group_dual(void **state)
{
    (void)state;
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) {
        FAKEHOST_SKIP("no IPv6 socket");
        return;
    }
    close(fd);
    group_run(AF_INET, NULL, "127.0.0.1", v4srcs, 8, 3);
}

static void t_group_v6(void **state)
{
    (void)state;
    static const char *const s6[] = {"::1"};
    int fd = sender(AF_INET6, "::1", "::1", 9);
    if (fd < 0) {
        FAKEHOST_SKIP("no IPv6 loopback");
        return;
    }
    close(fd);
    group_run(AF_INET6, "::1", "::1", s6, 1, 4);
}

/* pm_ip_mask against a bit-by-bit model, every length 0..max, v4 and v6. */
static void t_ip_mask(void **state)
{
    (void)state;
    for (int af = 4; af <= 6; af += 2) {
        unsigned bytes = af == 4 ? 4 : 16;
        for (unsigned len = 0; len <= bytes * 8 + 3; len++) {
            pm_ip_t ip, want;
            memset(&ip, 0, sizeof(ip));
            ip.af = (uint8_t)af;
            for (unsigned i = 0; i < 16; i++)
                ip.a[i] = (uint8_t)(0xa5 ^ (i * 37));
            want = ip;
            for (unsigned b = 0; b < bytes * 8; b++)
                if (b >= len)
                    want.a[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
            pm_ip_mask(&ip, len);
            assert_memory_equal(&ip, &want, sizeof(ip));
        }
    }
}

static void t_steer_spreads(void **state)
{
    (void)state;
    unsigned hits[4] = {0};
    for (unsigned i = 0; i < 1024; i++) {
        pm_ip_t ip;
        uint8_t a[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
        pm_ip_set4(&ip, a);
        hits[pm_udpin_steer(&ip, 4)]++;
    }
    for (int i = 0; i < 4; i++)
        assert_true(hits[i] > 150); /* roughly even: 256 each */
    pm_ip_t ip;
    uint8_t a[4] = {10, 0, 0, 1};
    pm_ip_set4(&ip, a);
    assert_int_equal(pm_udpin_steer(&ip, 1), 0);
}

static void t_rcvbuf_and_drops(void **state)
{
    (void)state;
    struct pm_udpin *u;
    /* tiny buffer: the kernel rounds it up to its minimum */
    struct pm_udpin_cfg cfg = {.prefix = "nfacctd", .ip = "127.0.0.1",
                               .port = 0, .pipe_size = 4096};
    assert_int_equal(pm_udpin_open(&u, fakehost(), inst(), &cfg), 0);
    assert_true(pm_udpin_rcvbuf(u) >= 4096);
    int fd = sender(AF_INET, "127.0.0.1", "127.0.0.1", pm_udpin_port(u));
    assert_true(fd >= 0);
    static char payload[1200];
    for (int i = 0; i < 200; i++)
        send(fd, payload, sizeof(payload), 0);
    /* the drops are seen without receiving anything */
    uint64_t d = pm_udpin_drops(u, 1);
    assert_true(d > 0);
    /* every datagram sent is either received or counted dropped */
    struct pm_dgram dg[64];
    int r, got = 0;
    while ((r = pm_udpin_recv(u, dg, 64, 0)) > 0)
        got += r;
    assert_int_equal((uint64_t)got + d, 200);
    /* without refresh: the last value read; with: the same count */
    assert_int_equal(pm_udpin_drops(u, 0), d);
    assert_int_equal(pm_udpin_drops(u, 1), d);
    send(fd, payload, 10, 0);
    r = 0;
    for (int i = 0; i < 100 && r == 0; i++)
        r = pm_udpin_recv(u, dg, 64, 10);
    assert_int_equal(r, 1);
    assert_int_equal(pm_udpin_drops(u, 1), d);
    close(fd);
    pm_udpin_close(u);

    /* a size the kernel grants */
    cfg.pipe_size = 1 << 20;
    assert_int_equal(pm_udpin_open(&u, fakehost(), inst(), &cfg), 0);
    assert_true(pm_udpin_rcvbuf(u) >= (1u << 20));
    assert_int_equal(pm_udpin_drops(u, 1), 0);
    pm_udpin_close(u);
}

/* Datagrams of every size arrive whole and in order: below, at and past
 * the packed slot (9,280 bytes: the rest goes to the overflow buffer and
 * is joined there), up to UDP's largest, each slot reused by the next
 * read. */
static void t_sizes(void **state)
{
    (void)state;
    static const unsigned sizes[] = {1,    100,   1500,  9279,  9280,
                                     9281, 20000, 65507, 1400,  9281};
    enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
    static uint8_t buf[65507];
    struct pm_udpin *u;
    struct pm_udpin_cfg cfg = {.prefix = "nfacctd", .ip = "127.0.0.1",
                               .port = 0, .pipe_size = 4 << 20};
    assert_int_equal(pm_udpin_open(&u, fakehost(), inst(), &cfg), 0);
    int fd = sender(AF_INET, "127.0.0.1", "127.0.0.1", pm_udpin_port(u));
    assert_true(fd >= 0);
    for (int round = 0; round < 2; round++) {
        for (unsigned k = 0; k < NS; k++) {
            for (unsigned j = 0; j < sizes[k]; j++)
                buf[j] = (uint8_t)(j * 7 + k + round * 13);
            assert_int_equal(send(fd, buf, sizes[k], 0), (ssize_t)sizes[k]);
        }
        /* checked right after each read: the next one reuses the slots */
        struct pm_dgram dg[64];
        unsigned got = 0;
        for (int tries = 0; tries < 100 && got < NS; tries++) {
            int r = pm_udpin_recv(u, dg, 64, 10);
            assert_true(r >= 0);
            for (int i = 0; i < r; i++, got++) {
                unsigned k = got;
                assert_true(k < NS);
                assert_int_equal(dg[i].len, sizes[k]);
                for (unsigned j = 0; j < sizes[k]; j++)
                    if (dg[i].data[j] != (uint8_t)(j * 7 + k + round * 13))
                        fail_msg("datagram %u (%u bytes), byte %u differs", k,
                                 sizes[k], j);
            }
        }
        assert_int_equal(got, NS);
    }
    close(fd);
    pm_udpin_close(u);
}

static void t_publish(void **state)
{
    (void)state;
    struct pm_exptab t;
    uint32_t named = 0;
    pm_ip_t ip;
    uint8_t a[4] = {192, 0, 2, 1};
    pm_ip_set4(&ip, a);
    assert_int_equal(pm_exptab_init(&t, 0), 0);
    struct pm_exp_stats *e = pm_exptab_get(&t, &ip);
    e->datagrams = 3;
    e->records = 30;
    e->unknown_template = 1;
    pm_exptab_publish(&t, fakehost(), inst(), 1, &named);
    assert_int_equal(named, 1);
    assert_int_equal(fakehost_counter_value("exporter_192.0.2.1_datagrams"), 3);
    assert_int_equal(fakehost_counter_value("exporter_192.0.2.1_records"), 30);
    assert_int_equal(
        fakehost_counter_value("exporter_192.0.2.1_unknown_template"), 1);
    e->datagrams = 5;
    e->records = 50;
    pm_exptab_publish(&t, fakehost(), inst(), 1, &named);
    assert_int_equal(fakehost_counter_value("exporter_192.0.2.1_datagrams"), 5);
    assert_int_equal(fakehost_counter_value("exporter_192.0.2.1_records"), 50);
    assert_non_null(strstr(fakehost_log_text(), "new exporter 192.0.2.1"));
    /* bounded: beyond PM_EXP_NAMED_MAX no counters, one warning */
    for (unsigned i = 0; i < PM_EXP_NAMED_MAX + 10; i++) {
        uint8_t b[4] = {198, 51, (uint8_t)(i >> 8), (uint8_t)i};
        pm_ip_set4(&ip, b);
        assert_non_null(pm_exptab_get(&t, &ip));
    }
    pm_exptab_publish(&t, fakehost(), inst(), 0, &named);
    assert_int_equal(named, PM_EXP_NAMED_MAX + 11);
    assert_non_null(strstr(fakehost_log_text(), "get no counters"));
    pm_exptab_free(&t);
    fakehost_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_ip_mask),
        cmocka_unit_test(t_steer_spreads),
        cmocka_unit_test(t_group_v4),
        cmocka_unit_test(t_group_dual),
        cmocka_unit_test(t_group_v6),
        cmocka_unit_test(t_rcvbuf_and_drops),
        cmocka_unit_test(t_sizes),
        cmocka_unit_test(t_publish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
