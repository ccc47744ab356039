/* test_custom_prims.c - aggregate_primitives: file parsing and its errors
 * (file:line), the registry entries, aggregate order, rendering of every
 * semantics, value parsing and cache keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmdata.h"

static const char *const good =
    "! comment\n"
    "\n"
    "name=mtla\tfield_type=47\tlen=4\tsemantics=ip\n"
    "name=alu_91 field_type=637:91 len=2 semantics=hex\n"
    "name=ttl_pm packet_ptr=l3:0x800+8 packet_ptr=l3:0x86dd+7 len=1 "
    "semantics=u_int\n"
    "name=udp_len packet_ptr=l4:17+4 len=2 semantics=u_int\n"
    "name=m packet_ptr=packet len=6 semantics=mac\n"
    "name=s field_type=82 len=8 semantics=str\n"
    "name=r packet_ptr=payload+2 len=3 semantics=raw\n"
    "name=a_very_long_custom_name field_type=1 len=8 semantics=u_int\n"
    "name=v6 field_type=27 len=16 semantics=ip\n";

static int setup(void **st)
{
    char err[256];
    (void)st;
    pmc_custom_reset();
    assert_int_equal(pmc_custom_parse_text(good, "p.lst", err, sizeof(err)), 0);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    pmc_custom_reset();
    return 0;
}

static void expect_err(const char *text, int rc, const char *msg)
{
    char err[256] = "";
    pmc_custom_reset();
    assert_int_equal(pmc_custom_parse_text(text, "x.lst", err, sizeof(err)), rc);
    assert_string_equal(err, msg);
}

static void test_errors(void **st)
{
    (void)st;
    expect_err("! c\nname=a field_type=4 len=3 semantics=u_int\n", -EINVAL,
               "x.lst:2: primitive 'a': semantics u_int needs len 1, 2, 4 or 8");
    expect_err("name=a field_type=4 len=vlen semantics=str\n", -ENOTSUP,
               "x.lst:1: len=vlen: variable-length primitives are not supported yet");
    expect_err("name=a packet_ptr=vlan+2 len=2 semantics=u_int\n", -ENOTSUP,
               "x.lst:1: packet_ptr 'vlan+2': layer 'vlan' is not supported yet");
    expect_err("name=a packet_ptr=l5+2 len=2 semantics=u_int\n", -EINVAL,
               "x.lst:1: packet_ptr 'l5+2': unknown layer 'l5' (expected packet, mac, l3, l4 or payload)");
    expect_err("name=a packet_ptr=l4:tcp len=2 semantics=u_int\n", -EINVAL,
               "x.lst:1: packet_ptr 'l4:tcp': protocol must be a number (decimal or 0x hex), got 'tcp'");
    expect_err("name=a field_type=4 len=1 semantics=bool\n", -EINVAL,
               "x.lst:1: semantics: expected u_int, hex, ip, mac, str or raw, got 'bool'");
    expect_err("name=a len=1 semantics=u_int\n", -EINVAL,
               "x.lst:1: primitive 'a': needs field_type= or packet_ptr= (where to read it)");
    expect_err("name=src_host field_type=8 len=4 semantics=ip\n", -EEXIST,
               "x.lst:1: primitive 'src_host' already defined");
    expect_err("name=a field_type=4 len=1 semantics=u_int\nname=A field_type=4 len=1 semantics=u_int\n",
               -EEXIST, "x.lst:2: primitive 'A' already defined");
    expect_err("name=a field_type=4 len=1 semantic=u_int\n", -EINVAL,
               "x.lst:1: unknown key 'semantic' (expected name, field_type, packet_ptr, len, semantics)");
    expect_err("name = a\n", -EINVAL, "x.lst:1: expected key=value, got 'name'");
    expect_err("field_type=4 len=1 semantics=u_int\n", -EINVAL, "x.lst:1: missing name=");
    expect_err("name=a field_type=4 len=4 semantics=mac\n", -EINVAL,
               "x.lst:1: primitive 'a': semantics mac needs len 6");
    expect_err("name=a field_type=x:4 len=4 semantics=ip\n", -EINVAL,
               "x.lst:1: field_type: expected IE or PEN:IE, bad PEN 'x'");
    /* 64 bytes in all */
    expect_err("name=a field_type=82 len=40 semantics=str\n"
               "name=b field_type=83 len=20 semantics=str\n"
               "name=c field_type=84 len=8 semantics=u_int\n",
               -ENOSPC,
               "x.lst:3: primitive 'c': custom primitives take 68 bytes in all, at most 64");
    pmc_custom_reset();
}

static void test_registry(void **st)
{
    uint32_t n = 0;
    const struct pm_custom_prim *cp = pmc_custom_prims(&n);
    int id;
    (void)st;
    assert_int_equal(n, 9);
    assert_string_equal(cp[0].name, "mtla");
    assert_int_equal(cp[0].id, PM_P_CUSTOM_BASE);
    assert_int_equal(cp[0].field_type, 47);
    assert_int_equal(cp[0].pen, 0);
    assert_int_equal(cp[0].semantics, PM_CSEM_IP);
    assert_int_equal(cp[0].rec_off, 0);
    assert_int_equal(cp[1].pen, 637);
    assert_int_equal(cp[1].field_type, 91);
    assert_int_equal(cp[1].rec_off, 4);
    assert_int_equal(cp[2].nptrs, 2);
    assert_int_equal(cp[2].ptrs[0].layer, PM_CLAYER_L3);
    assert_int_equal(cp[2].ptrs[0].has_proto, 1);
    assert_int_equal(cp[2].ptrs[0].proto, 0x800);
    assert_int_equal(cp[2].ptrs[0].offset, 8);
    assert_int_equal(cp[2].ptrs[1].proto, 0x86dd);
    assert_int_equal(cp[2].ptrs[1].offset, 7);
    assert_int_equal(cp[3].ptrs[0].layer, PM_CLAYER_L4);
    assert_int_equal(cp[3].ptrs[0].proto, 17);
    assert_int_equal(cp[4].ptrs[0].layer, PM_CLAYER_PACKET);
    assert_int_equal(cp[4].ptrs[0].has_proto, 0);
    assert_int_equal(cp[6].ptrs[0].layer, PM_CLAYER_PAYLOAD);
    assert_int_equal(cp[6].ptrs[0].offset, 2);
    id = pmc_prim_lookup("udp_len");
    assert_int_equal(id, PM_P_CUSTOM_BASE + 3);
    assert_string_equal(pmc_prim_info((unsigned)id)->column, "udp_len");
    assert_string_equal(pmc_prim_info((unsigned)id)->json, "udp_len");
    /* widths: max(name, value) + 2, as nfacctd 1.7.7 prints */
    assert_int_equal(pmc_prim_info(PM_P_CUSTOM_BASE + 0)->width, 48);
    assert_int_equal(pmc_prim_info(PM_P_CUSTOM_BASE + 2)->width, 8);
    assert_int_equal(pmc_prim_info(PM_P_CUSTOM_BASE + 3)->width, 9);
    assert_int_equal(pmc_prim_info(PM_P_CUSTOM_BASE + 4)->width, 20);
    assert_int_equal(pmc_prim_info(PM_P_CUSTOM_BASE + 7)->width, 25);
    assert_null(pmc_prim_info(PM_P_CUSTOM_BASE + 9));
    assert_int_equal(pmc_prim_count(), PM_P_COUNT_BUILTIN + 9);
    assert_int_equal(pmc_prim_at(PM_P_COUNT_BUILTIN)->id, PM_P_CUSTOM_BASE);
    assert_string_equal(pmc_prim_suggest("udp_lne"), "udp_len");
}

static void test_aggregate_order(void **st)
{
    uint16_t ids[PM_P_MAX];
    uint32_t n, sm;
    int flows;
    char err[256];
    (void)st;
    assert_int_equal(pmc_aggregate_parse("udp_len, dst_port, mtla, src_host, ttl_pm",
                                         ids, &n, PM_P_MAX, &sm, &flows, err,
                                         sizeof(err)),
                     0);
    assert_int_equal(n, 5);
    assert_int_equal(ids[0], PM_P_SRC_HOST);
    assert_int_equal(ids[1], PM_P_DST_PORT);
    assert_int_equal(ids[2], PM_P_CUSTOM_BASE + 3); /* aggregate order */
    assert_int_equal(ids[3], PM_P_CUSTOM_BASE + 0);
    assert_int_equal(ids[4], PM_P_CUSTOM_BASE + 2);
}

static void fill(struct pm_rec *r)
{
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    uint32_t n;
    const struct pm_custom_prim *cp = pmc_custom_prims(&n);
    memset(r, 0, sizeof(*r));
    memcpy(r->custom + cp[0].rec_off, "\xc0\x00\x02\x01", 4);
    memcpy(r->custom + cp[1].rec_off, "\x01\xbb", 2);
    memcpy(r->custom + cp[2].rec_off, "\x40", 1);
    memcpy(r->custom + cp[3].rec_off, "\x05\xdc", 2);
    memcpy(r->custom + cp[4].rec_off, "\x02\x00\x5e\x10\x00\xfe", 6);
    memcpy(r->custom + cp[5].rec_off, "eth0", 4);
    memcpy(r->custom + cp[6].rec_off, "\x0a\xff\x01", 3);
    memcpy(r->custom + cp[7].rec_off, "\x00\x00\x00\x01\x00\x00\x00\x00", 8);
    memcpy(r->custom + cp[8].rec_off, v6, 16);
    for (unsigned i = 0; i < n; i++)
        pm_rec_set(r, cp[i].id);
}

static char *render(uint32_t fmt, int header)
{
    static const uint16_t prims[] = {
        PM_P_CUSTOM_BASE + 0, PM_P_CUSTOM_BASE + 1, PM_P_CUSTOM_BASE + 2,
        PM_P_CUSTOM_BASE + 3, PM_P_CUSTOM_BASE + 4, PM_P_CUSTOM_BASE + 5,
        PM_P_CUSTOM_BASE + 6, PM_P_CUSTOM_BASE + 7, PM_P_CUSTOM_BASE + 8};
    struct pm_render_cfg cfg = {0};
    struct pm_rec rec;
    struct pm_row row = {0};
    struct pm_buf out = {0};
    struct pm_render *r;
    fill(&rec);
    cfg.fmt = fmt;
    cfg.flags = PM_RENDER_NO_FLOWS;
    cfg.prims = prims;
    cfg.nprims = 9;
    r = pmc_render_new(&cfg);
    assert_non_null(r);
    row.rec = &rec;
    row.packets = 2;
    row.bytes = 100;
    if (header)
        pmc_render_header(r, &out);
    pmc_render_row(r, &row, &out);
    pmc_render_free(r);
    return out.p;
}

static void test_render(void **st)
{
    char *s;
    (void)st;
    s = render(PM_FMT_CSV, 1);
    assert_string_equal(s,
                        "mtla,alu_91,ttl_pm,udp_len,m,s,r,a_very_long_custom_name,v6,PACKETS,BYTES\n"
                        "192.0.2.1,1bb,64,1500,02:00:5e:10:00:fe,eth0,0A-FF-01,4294967296,2001:db8::1,2,100\n");
    free(s);
    s = render(PM_FMT_JSON, 0);
    assert_string_equal(s,
                        "{\"mtla\": \"192.0.2.1\", \"alu_91\": \"1bb\", \"ttl_pm\": \"64\", "
                        "\"udp_len\": \"1500\", \"m\": \"02:00:5e:10:00:fe\", \"s\": \"eth0\", "
                        "\"r\": \"0A-FF-01\", \"a_very_long_custom_name\": \"4294967296\", "
                        "\"v6\": \"2001:db8::1\", \"packets\": 2, \"bytes\": 100}\n");
    free(s);
    s = render(PM_FMT_FORMATTED, 1);
    {
        /* header: each column max(name, value width) + 2 wide */
        const char *h = "mtla                                            alu_91  ttl_pm  udp_len  m                   s         r          a_very_long_custom_name  v6                                              PACKETS               BYTES\n";
        assert_memory_equal(s, h, strlen(h));
    }
    free(s);
}

static void test_parse_values(void **st)
{
    struct pm_rec r;
    uint32_t n;
    const struct pm_custom_prim *cp = pmc_custom_prims(&n);
    (void)st;
    memset(&r, 0, sizeof(r));
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 3, "1500", &r, NULL), 0);
    assert_memory_equal(r.custom + cp[3].rec_off, "\x05\xdc", 2);
    assert_true(pm_rec_has(&r, PM_P_CUSTOM_BASE + 3));
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 3, "70000", &r, NULL), -EINVAL);
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 1, "0x1bb", &r, NULL), 0);
    assert_memory_equal(r.custom + cp[1].rec_off, "\x01\xbb", 2);
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 0, "192.0.2.1", &r, NULL), 0);
    assert_memory_equal(r.custom + cp[0].rec_off, "\xc0\x00\x02\x01", 4);
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 0, "2001:db8::1", &r, NULL), -EINVAL);
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 4, "02:00:5e:10:00:fe", &r, NULL), 0);
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 5, "eth0", &r, NULL), 0);
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 5, "toolongstring", &r, NULL), -EINVAL);
    assert_int_equal(pmc_prim_parse(PM_P_CUSTOM_BASE + 6, "0A-FF-01", &r, NULL), 0);
    assert_memory_equal(r.custom + cp[6].rec_off, "\x0a\xff\x01", 3);
}

/* Rows differ only by a custom primitive outside the aggregate: one row. */
static int count_row(void *ud, const struct pm_row *row)
{
    (void)row;
    (*(int *)ud)++;
    return PM_WALK_NEXT;
}

static void test_cache_keys(void **st)
{
    struct pm_instance inst;
    uint16_t agg[1] = {PM_P_CUSTOM_BASE + 2};
    struct pm_batch *b = pmc_batch_new(4, 1024, 0);
    struct pm_cache *c;
    struct pm_rec *r;
    uint32_t n;
    const struct pm_custom_prim *cp = pmc_custom_prims(&n);
    int rows = 0, i;
    (void)st;
    memset(&inst, 0, sizeof(inst));
    inst.aggregate = agg;
    inst.naggregate = 1;
    pm_pset_set(&inst.aggregate_set, agg[0]);
    c = pmc_cache_new(&inst, NULL);
    assert_non_null(c);
    for (i = 0; i < 3; i++) {
        r = pmc_batch_next(b);
        r->packets = 1;
        r->bytes = 10;
        r->custom[cp[2].rec_off] = i == 2 ? 7 : 64;
        r->custom[cp[3].rec_off] = (uint8_t)i; /* not aggregated */
        pm_rec_set(r, cp[2].id);
        pm_rec_set(r, cp[3].id);
    }
    assert_int_equal(pmc_cache_add(c, b), 3);
    pmc_cache_walk(c, count_row, &rows);
    assert_int_equal(rows, 2);
    pmc_cache_free(c);
    pmc_batch_free(b);
}

static void test_load_file(void **st)
{
    char path[] = "/tmp/test_custom_prims.XXXXXX";
    char err[256];
    int fd = mkstemp(path);
    FILE *f;
    (void)st;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("name=a field_type=4 len=1 semantics=u_int\n\nname=b field_type=4 len=5 semantics=ip\n", f);
    fclose(f);
    pmc_custom_reset();
    assert_int_equal(pmc_custom_load(path, err, sizeof(err)), -EINVAL);
    {
        char want[300];
        snprintf(want, sizeof(want), "%s:3: primitive 'b': semantics ip needs len 4 or 16", path);
        assert_string_equal(err, want);
    }
    unlink(path);
    assert_true(pmc_custom_load(path, err, sizeof(err)) == -ENOENT);
    pmc_custom_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregate_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_keys, setup, teardown),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
