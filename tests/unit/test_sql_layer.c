/*
 * test_sql_layer.c - unit tests of the shared SQL layer (modules/sql/) that
 * need no database: schema columns per sql_table_version / type / backend,
 * statement text, and the values' text and sort keys reckey.c makes from
 * the records (the host renderer's, byte for byte).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

#include "fakehost.h"
#include "../modules/sql/sort_int.h"

static void names(const struct sql_col *c, int n, char *out, size_t len)
{
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        strncat(out, c[i].name, len - strlen(out) - 1);
        if (i + 1 < n)
            strncat(out, ",", len - strlen(out) - 1);
    }
}

static void test_schema_versions(void **state)
{
    (void)state;
    struct sql_col cols[SQL_MAX_COLS];
    char err[256], buf[1024];
    fakehost_reset();
    struct pm_instance *inst = fakehost_instance(
        "sqlite3", "a", PM_KIND_OUTPUT, "src_host,dst_host,src_port,proto");
    int n = sql_schema_columns(fakehost(), 0, 1, 0, 0, 1, inst, cols,
                               SQL_MAX_COLS, err, sizeof(err));
    assert_true(n > 0);
    names(cols, n, buf, sizeof(buf));
    assert_string_equal(buf, "mac_src,mac_dst,ip_src,ip_dst,src_port,dst_port,"
                             "ip_proto,packets,bytes,stamp_inserted,"
                             "stamp_updated");
    /* v8 renames the ports; pgsql always uses port_src */
    n = sql_schema_columns(fakehost(), 0, 8, 0, 0, 0, inst, cols, SQL_MAX_COLS,
                           err, sizeof(err));
    names(cols, n, buf, sizeof(buf));
    assert_string_equal(buf, "agent_id,class_id,mac_src,mac_dst,vlan,as_src,"
                             "as_dst,ip_src,ip_dst,port_src,port_dst,"
                             "tcp_flags,ip_proto,tos,packets,bytes,flows");
    n = sql_schema_columns(fakehost(), SQL_BF_PORTS_NEW, 2, 0, 0, 0, inst,
                           cols, SQL_MAX_COLS, err, sizeof(err));
    names(cols, n, buf, sizeof(buf));
    assert_string_equal(buf, "agent_id,mac_src,mac_dst,vlan,ip_src,ip_dst,"
                             "port_src,port_dst,ip_proto,packets,bytes");
    n = sql_schema_columns(fakehost(), 0, 9, 0, 0, 0, inst, cols, SQL_MAX_COLS,
                           err, sizeof(err));
    assert_string_equal(cols[0].name, "tag");
    assert_false(cols[0].aggregated);
    assert_true(cols[7].aggregated); /* ip_src */

    /* a primitive v1 has no column for: refused with the reason */
    inst = fakehost_instance("sqlite3", "b", PM_KIND_OUTPUT, "src_host,tos");
    n = sql_schema_columns(fakehost(), 0, 1, 0, 0, 0, inst, cols, SQL_MAX_COLS,
                           err, sizeof(err));
    assert_int_equal(n, -EINVAL);
    assert_non_null(strstr(err, "'tos'"));
    n = sql_schema_columns(fakehost(), 0, 3, 0, 0, 0, inst, cols, SQL_MAX_COLS,
                           err, sizeof(err));
    assert_true(n > 0);
    /* optimize: only the aggregated columns */
    n = sql_schema_columns(fakehost(), 0, 1, 0, 1, 1, inst, cols, SQL_MAX_COLS,
                           err, sizeof(err));
    names(cols, n, buf, sizeof(buf));
    assert_string_equal(buf, "ip_src,tos,packets,bytes,flows,stamp_inserted,"
                             "stamp_updated");
    /* before v6 AS numbers go to ip_src/ip_dst */
    inst = fakehost_instance("sqlite3", "c", PM_KIND_OUTPUT, "src_as,dst_as");
    n = sql_schema_columns(fakehost(), 0, 2, 0, 0, 0, inst, cols, SQL_MAX_COLS,
                           err, sizeof(err));
    assert_true(n > 0);
    assert_string_equal(cols[4].name, "ip_src");
    assert_int_equal(cols[4].prim, PM_P_SRC_AS);
    /* bgp */
    inst = fakehost_instance("sqlite3", "d", PM_KIND_OUTPUT,
                             "src_as,peer_src_ip,as_path");
    n = sql_schema_columns(fakehost(), 0, 1, 1, 0, 0, inst, cols, SQL_MAX_COLS,
                           err, sizeof(err));
    names(cols, n, buf, sizeof(buf));
    assert_string_equal(buf, "agent_id,as_src,as_dst,peer_as_src,peer_as_dst,"
                             "peer_ip_src,peer_ip_dst,comms,as_path,"
                             "local_pref,med,packets,bytes,flows");
    n = sql_schema_columns(fakehost(), 0, 2, 1, 0, 0, inst, cols, SQL_MAX_COLS,
                           err, sizeof(err));
    assert_int_equal(n, -EINVAL);
    n = sql_schema_columns(fakehost(), 0, 10, 0, 0, 0, inst, cols,
                           SQL_MAX_COLS, err, sizeof(err));
    assert_int_equal(n, -EINVAL);
    fakehost_reset();
}

static void test_statements(void **state)
{
    (void)state;
    struct sql_col cols[SQL_MAX_COLS];
    char err[256], sql[2048];
    fakehost_reset();
    struct pm_instance *inst =
        fakehost_instance("pgsql", "a", PM_KIND_OUTPUT, "src_host,label");
    int n = sql_schema_columns(fakehost(), 0, 1, 0, 1, 1, inst, cols,
                               SQL_MAX_COLS, err, sizeof(err));
    assert_true(n > 0);
    assert_true(sql_build_update(cols, n, "t1", '$', sql, sizeof(sql)) > 0);
    assert_string_equal(sql, "UPDATE t1 SET packets=packets+$1, "
                             "bytes=bytes+$2, flows=flows+$3, "
                             "stamp_updated=$4 WHERE label=$5 AND ip_src=$6 "
                             "AND stamp_inserted=$7");
    assert_true(sql_build_insert(cols, n, "t1", '?', sql, sizeof(sql)) > 0);
    assert_string_equal(sql, "INSERT INTO t1 (label, ip_src, packets, bytes, "
                             "flows, stamp_inserted, stamp_updated) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?)");
    int map[SQL_MAX_COLS];
    assert_int_equal(sql_update_params(cols, n, map), n);
    assert_int_equal(map[0], 2);
    assert_int_equal(map[4], 0);
    assert_true(sql_build_insert(cols, n, "t1", '?', sql, 20) < 0);
    fakehost_reset();
}

/* reckey.c: for every primitive it makes text of from the record, that
 * text is the host renderer's (sql_prim_text: CSV, one column), and the
 * sort key it makes is sql_key_put's of that text, typed or not; over
 * edge values and random ones, protocols with names and as numbers
 * (sql_num_protos). */
static void test_reckey_same(void **state)
{
    (void)state;
    static struct sql_ctx c;
    static struct sql_config cfg;
    struct sql_backend be = {.name = "t"};
    struct pm_rec rec;
    struct pm_row row = {.rec = &rec};
    uint64_t rng = 88172645463325252ull;
    memset(&c, 0, sizeof(c));
    c.host = fakehost();
    c.cfg = &cfg;
    c.be = &be;
    for (int id = 0; id < PM_P_COUNT_BUILTIN; id++) {
        c.cols[c.ncols].kind = SQL_COL_PRIM;
        c.cols[c.ncols].prim = id;
        c.cols[c.ncols].aggregated = 1;
        c.ncols++;
    }
    sql_reckey_init(&c);
    int known = 0;
    for (int i = 0; i < c.ncols; i++)
        known += c.rkok[i];
    assert_int_equal(known, 24); /* every entry of reckey.c's table */
    for (int numproto = 0; numproto < 2; numproto++) {
        cfg.num_protos = numproto;
        memset(c.w, 0, sizeof(c.w)); /* renderers and kept text anew */
        c.w[0].c = &c;
        struct sql_walker *w = &c.w[0];
        for (int i = 0; i < c.ncols; i++) {
            if (!c.rkok[i])
                continue;
            const struct sql_reckey *k = &c.rk[i];
            for (int n = 0; n < 600; n++) {
                memset(&rec, 0, sizeof(rec));
                pm_rec_set(&rec, (unsigned)c.cols[i].prim);
                uint8_t *f = (uint8_t *)&rec + k->off;
                uint8_t raw[24];
                for (int b = 0; b < 24; b++) {
                    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                    raw[b] = (uint8_t)(n < 8 ? (n & 1 ? 0xff : 0)
                                             : n < 16 ? (uint64_t)n : rng);
                }
                if (k->type == SQL_RK_IP) { /* unset, IPv4, IPv6 */
                    pm_ip_t ip = {0};
                    ip.af = (uint8_t)(n % 3 == 0 ? 0 : n % 3 == 1 ? 4 : 6);
                    memcpy(ip.a, raw, ip.af == 4 ? 4 : ip.af ? 16 : 0);
                    if (n % 7 == 0 && ip.af == 6) /* ::ffff:a.b.c.d */
                        memset(ip.a, 0, 10), ip.a[10] = ip.a[11] = 0xff;
                    memcpy(f, &ip, sizeof(ip));
                } else {
                    memcpy(f, raw, k->type == SQL_RK_MAC ? 6 : 8);
                }
                const char *v;
                size_t len;
                char t[SQL_RECTEXT_MAX + 1];
                assert_int_equal(sql_prim_text(w, &c.cols[i], &row, &v, &len), 0);
                int tl = sql_rectext(w, k, &row, t);
                assert_true(tl >= 0);
                t[tl] = 0;
                if ((size_t)tl != len || memcmp(t, v, len))
                    fail_msg("%s: record text '%s', renderer '%.*s'",
                             c.host->prim_info((unsigned)c.cols[i].prim)->name,
                             t, (int)len, v);
                for (int typed = 0; typed < 2; typed++) {
                    unsigned char k1[64], k2[64];
                    unsigned char *e1 = sql_reckey_put(w, k, &row, k1, typed);
                    unsigned char *e2 = sql_key_put(k2, v, (int)len, typed);
                    assert_non_null(e1);
                    assert_true((size_t)(e1 - k1) <= sql_reckey_room(k, typed));
                    assert_int_equal(e1 - k1, e2 - k2);
                    assert_memory_equal(k1, k2, (size_t)(e2 - k2));
                }
            }
        }
        sql_walkers_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_versions),
        cmocka_unit_test(test_statements),
        cmocka_unit_test(test_reckey_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
