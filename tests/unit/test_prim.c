/* test_prim.c - registry lookups, aggregate parsing, suggestions, values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "pmdata.h"

static void test_lookup(void **st)
{
    unsigned i;
    (void)st;
    assert_int_equal(pmc_prim_lookup("src_host"), PM_P_SRC_HOST);
    assert_int_equal(pmc_prim_lookup("PROTO"), PM_P_PROTO);
    assert_int_equal(pmc_prim_lookup("nope"), -ENOENT);
    assert_string_equal(pmc_prim_info(PM_P_SRC_HOST)->column, "SRC_IP");
    assert_string_equal(pmc_prim_info(PM_P_SRC_HOST)->json, "ip_src");
    assert_int_equal(pmc_prim_info(PM_P_SRC_HOST)->width, 47);
    assert_null(pmc_prim_info(PM_P_COUNT_BUILTIN));
    for (i = 0; i < pmc_prim_count(); i++) {
        const struct pm_prim_info *p = pmc_prim_at(i);
        assert_non_null(p);
        assert_int_equal(p->id, i);
        assert_int_equal(pmc_prim_lookup(p->name), (int)i);
    }
}

static void test_aggregate(void **st)
{
    uint16_t ids[PM_P_MAX];
    uint32_t n, sm;
    int flows;
    char err[256];
    (void)st;
    assert_int_equal(pmc_aggregate_parse("proto, dst_host src_host,src_port,src_host,vlan,src_mac",
                                         ids, &n, PM_P_MAX, &sm, &flows, err, sizeof(err)), 0);
    assert_int_equal(n, 6);
    assert_int_equal(ids[0], PM_P_SRC_MAC);
    assert_int_equal(ids[1], PM_P_VLAN);
    assert_int_equal(ids[2], PM_P_SRC_HOST);
    assert_int_equal(ids[3], PM_P_DST_HOST);
    assert_int_equal(ids[4], PM_P_SRC_PORT);
    assert_int_equal(ids[5], PM_P_PROTO);
    assert_int_equal(sm, PM_SUM_NONE);
    assert_int_equal(flows, 0);
    assert_int_equal(pmc_aggregate_parse("sum_host", ids, &n, PM_P_MAX, &sm, &flows, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], PM_P_SRC_HOST);
    assert_int_equal(sm, PM_SUM_HOST);
    assert_int_equal(pmc_aggregate_parse("none", ids, &n, PM_P_MAX, &sm, &flows, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_int_equal(pmc_aggregate_parse("src_host,flows", ids, &n, PM_P_MAX, &sm, &flows, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(flows, 1);
    assert_int_equal(pmc_aggregate_parse("src_hots", ids, &n, PM_P_MAX, &sm, &flows, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "aggregate: unknown primitive 'src_hots' (did you mean src_host?)");
    assert_int_equal(pmc_aggregate_parse("zzzzzzzz", ids, &n, PM_P_MAX, &sm, &flows, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "aggregate: unknown primitive 'zzzzzzzz'");
    assert_int_equal(pmc_aggregate_parse("src_host,dst_host", ids, &n, 1, &sm, &flows, err, sizeof(err)), -EINVAL);
}

static void test_parse(void **st)
{
    struct pm_rec r;
    struct pm_batch *b = pmc_batch_new(4, 1024, 0);
    (void)st;
    memset(&r, 0, sizeof(r));
    assert_int_equal(pmc_prim_parse(PM_P_SRC_HOST, "10.1.2.3", &r, NULL), 0);
    assert_int_equal(r.src_host.af, 4);
    assert_int_equal(r.src_host.a[3], 3);
    assert_true(pm_rec_has(&r, PM_P_SRC_HOST));
    assert_int_equal(pmc_prim_parse(PM_P_DST_HOST, "2001:db8::1", &r, NULL), 0);
    assert_int_equal(r.dst_host.af, 6);
    assert_int_equal(pmc_prim_parse(PM_P_DST_HOST, "1.2.3", &r, NULL), -EINVAL);
    assert_int_equal(pmc_prim_parse(PM_P_SRC_MAC, "00:11:22:33:44:5f", &r, NULL), 0);
    assert_int_equal(r.src_mac[5], 0x5f);
    assert_int_equal(pmc_prim_parse(PM_P_SRC_MAC, "00:11:22:33:44", &r, NULL), -EINVAL);
    assert_int_equal(pmc_prim_parse(PM_P_PROTO, "tcp", &r, NULL), 0);
    assert_int_equal(r.proto, 6);
    assert_int_equal(pmc_prim_parse(PM_P_PROTO, "ipv6-icmp", &r, NULL), 0);
    assert_int_equal(r.proto, 58);
    assert_int_equal(pmc_prim_parse(PM_P_PROTO, "253", &r, NULL), 0);
    assert_int_equal(r.proto, 253);
    assert_int_equal(pmc_prim_parse(PM_P_PROTO, "256", &r, NULL), -EINVAL);
    assert_int_equal(pmc_prim_parse(PM_P_SRC_PORT, "65535", &r, NULL), 0);
    assert_int_equal(r.src_port, 65535);
    assert_int_equal(pmc_prim_parse(PM_P_SRC_PORT, "65536", &r, NULL), -EINVAL);
    assert_int_equal(pmc_prim_parse(PM_P_ETYPE, "86dd", &r, NULL), 0);
    assert_int_equal(r.etype, 0x86dd);
    assert_int_equal(pmc_prim_parse(PM_P_TAG, "18446744073709551615", &r, NULL), 0);
    assert_true(r.tag == UINT64_MAX);
    assert_int_equal(pmc_prim_parse(PM_P_LABEL, "abc", &r, NULL), -EINVAL);
    assert_int_equal(pmc_prim_parse(PM_P_LABEL, "abc", &r, b), 0);
    assert_int_equal(r.label.len, 3);
    assert_memory_equal(pm_batch_str(b, r.label), "abc", 3);
    assert_int_equal(pmc_prim_parse(PM_P_TIMESTAMP_START, "2023-11-14 22:13:20.5", &r, NULL), 0);
    assert_int_equal(r.ts_start.sec, 1700000000);
    assert_int_equal(r.ts_start.usec, 5);
    assert_int_equal(pmc_prim_parse(PM_P_TIMESTAMP_END, "1700000000.000001", &r, NULL), 0);
    assert_int_equal(r.ts_end.usec, 1);
    assert_int_equal(pmc_prim_parse(PM_P_MPLS_VPN_RD, "0:65000:1", &r, NULL), 0);
    assert_int_equal(r.mpls_vpn_rd[3], 0xe8);
    pmc_batch_free(b);
}

static void test_suggest(void **st)
{
    (void)st;
    assert_string_equal(pmc_prim_suggest("dst_hots"), "dst_host");
    assert_string_equal(pmc_prim_suggest("sum_hst"), "sum_host");
    assert_null(pmc_prim_suggest("completely_unrelated_word"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup), cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_parse), cmocka_unit_test(test_suggest)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
