/*
 * test_avro.c - unit tests of libpmavro with the fake host (its renderer is
 * the core's): the schema derived from the JSON renderer (names, order,
 * types, stamps, writer_id), the exact bytes of a binary datum (checked by
 * hand against the Avro spec: zigzag varints, length-prefixed strings,
 * little-endian doubles), Avro JSON equal to the JSON renderer's row,
 * strings needing escapes surviving a binary round trip through avro-c's
 * reader, and object container files (create, append, append refused on a
 * different schema).  Single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <avro.h>

#include <pmacct/pm_host.h>

#include "fakehost.h"
#include "modules/common/avro/pmavro.h"

struct fx {
    const struct pm_host *h;
    struct pm_instance *inst;
    struct pm_render *r;
    struct pm_avro *a;
};

static void fx_open(struct fx *f, const char *agg, uint32_t flags,
                    const char *extra)
{
    struct pm_render_cfg rc = {0};
    char err[256] = "";
    f->h = fakehost();
    f->inst = fakehost_instance("print", "default", PM_KIND_OUTPUT, agg);
    assert_non_null(f->inst);
    rc.fmt = PM_FMT_JSON;
    rc.prims = f->inst->aggregate;
    rc.nprims = f->inst->naggregate;
    rc.event = "purge";
    rc.flags = PM_RENDER_EVENT_TYPE | PM_RENDER_NO_FLOWS | flags;
    f->r = f->h->render_new(&rc);
    assert_non_null(f->r);
    int rc2 = pm_avro_new(f->h, f->r, extra, &f->a, err, sizeof(err));
    if (rc2 < 0)
        fail_msg("pm_avro_new: %s", err);
}

static void fx_close(struct fx *f)
{
    pm_avro_free(f->a);
    f->h->render_free(f->r);
    fakehost_reset();
}

static void test_schema(void **state)
{
    struct fx f;
    (void)state;
    fx_open(&f,
            "src_host,vlan,proto,tcpflags,tag,src_host_coords,"
            "timestamp_start",
            PM_RENDER_STAMPS, "writer_id");
    const char *s = pm_avro_schema_text(f.a);
    /* JSON order, JSON names, types from the JSON values */
    assert_string_equal(
        s, "{\"type\": \"record\", \"name\": \"acct_data\", \"fields\": ["
           "{\"name\": \"event_type\", \"type\": \"string\"}, "
           "{\"name\": \"tag\", \"type\": \"long\"}, "
           "{\"name\": \"vlan\", \"type\": \"long\"}, "
           "{\"name\": \"ip_src\", \"type\": \"string\"}, "
           "{\"name\": \"lat_ip_src\", \"type\": \"double\"}, "
           "{\"name\": \"lon_ip_src\", \"type\": \"double\"}, "
           "{\"name\": \"tcp_flags\", \"type\": \"string\"}, "
           "{\"name\": \"ip_proto\", \"type\": \"string\"}, "
           "{\"name\": \"timestamp_start\", \"type\": \"string\"}, "
           "{\"name\": \"stamp_inserted\", \"type\": \"string\"}, "
           "{\"name\": \"stamp_updated\", \"type\": \"string\"}, "
           "{\"name\": \"packets\", \"type\": \"long\"}, "
           "{\"name\": \"bytes\", \"type\": \"long\"}, "
           "{\"name\": \"writer_id\", \"type\": \"string\"}]}");
    assert_int_equal(pm_avro_nfields(f.a), 14);
    fx_close(&f);
}

static void test_binary_bytes(void **state)
{
    struct fx f;
    struct pm_rec rec;
    struct pm_row row;
    struct pm_buf out = {0};
    char err[256];
    (void)state;
    fx_open(&f, "vlan,src_host_coords", 0, "writer_id");
    memset(&rec, 0, sizeof(rec));
    pm_rec_set(&rec, PM_P_VLAN);
    pm_rec_set(&rec, PM_P_SRC_HOST_COORDS);
    rec.vlan = 10;
    rec.src_host_lat = 1.5;
    rec.src_host_lon = -2.0;
    memset(&row, 0, sizeof(row));
    row.rec = &rec;
    row.packets = 3;
    row.bytes = 300;
    assert_int_equal(pm_avro_set_row(f.a, &row, "w/1", err, sizeof(err)), 0);
    assert_int_equal(pm_avro_append_binary(f.a, &out), 0);
    /* "purge": len 5 -> zigzag 10; vlan 10 -> 20; lat 1.5, lon -2.0 as
     * little-endian IEEE doubles; packets 3 -> 6; bytes 300 -> 600 =
     * 0xd8 0x04; "w/1": len 3 -> 6 */
    static const uint8_t want[] = {
        0x0a, 'p',  'u',  'r',  'g', 'e',  0x14, 0,
        0,    0,    0,    0,    0,   0xf8, 0x3f,       /* 1.5 */
        0,    0,    0,    0,    0,   0,    0x00, 0xc0, /* -2.0 */
        0x06, 0xd8, 0x04, 0x06, 'w', '/',  '1'};
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.p, want, sizeof(want));

    /* framed: u32 length first, then the same bytes */
    out.len = 0;
    assert_int_equal(pm_avro_append_framed(f.a, &out), 0);
    uint32_t n;
    memcpy(&n, out.p, 4);
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(out.p + 4, want, sizeof(want));
    free(out.p);
    fx_close(&f);
}

static void test_json_equals_renderer(void **state)
{
    struct fx f;
    struct pm_rec rec;
    struct pm_row row;
    struct pm_buf js = {0}, av = {0};
    char err[256];
    (void)state;
    fx_open(&f, "src_host,dst_host,src_mac,vlan,proto,tos,dst_port,tag", 0,
            NULL);
    memset(&rec, 0, sizeof(rec));
    f.h->prim_parse(PM_P_SRC_HOST, "192.0.2.1", &rec, NULL);
    f.h->prim_parse(PM_P_DST_HOST, "2001:db8::1", &rec, NULL);
    f.h->prim_parse(PM_P_SRC_MAC, "02:00:5e:00:00:01", &rec, NULL);
    f.h->prim_parse(PM_P_VLAN, "4094", &rec, NULL);
    f.h->prim_parse(PM_P_PROTO, "6", &rec, NULL);
    f.h->prim_parse(PM_P_TOS, "184", &rec, NULL);
    f.h->prim_parse(PM_P_DST_PORT, "443", &rec, NULL);
    pm_rec_set(&rec, PM_P_TAG);
    rec.tag = 0x7fffffffffffffffull;
    memset(&row, 0, sizeof(row));
    row.rec = &rec;
    row.packets = 12345678901ull;
    row.bytes = 98765432109876ull;
    assert_true(f.h->render_row(f.r, &row, &js) == 0);
    assert_int_equal(pm_avro_set_row(f.a, &row, NULL, err, sizeof(err)), 0);
    assert_int_equal(pm_avro_append_json(f.a, &av), 0);
    assert_string_equal(av.p, js.p);
    free(js.p);
    free(av.p);
    fx_close(&f);
}

/* Decode a binary datum with avro-c's reader: string field idx. */
static const char *read_string(struct fx *f, const struct pm_buf *b,
                               unsigned idx, avro_value_t *v,
                               avro_value_iface_t **ifp, avro_schema_t *sp)
{
    avro_reader_t rd = avro_reader_memory(b->p, (int64_t)b->len);
    avro_value_t fld;
    const char *s = NULL;
    size_t n;
    const char *text = pm_avro_schema_text(f->a);
    assert_int_equal(avro_schema_from_json_length(text, strlen(text), sp), 0);
    *ifp = avro_generic_class_from_schema(*sp);
    assert_int_equal(avro_generic_value_new(*ifp, v), 0);
    assert_int_equal(avro_value_read(rd, v), 0);
    assert_int_equal(avro_value_get_by_index(v, idx, &fld, NULL), 0);
    assert_int_equal(avro_value_get_string(&fld, &s, &n), 0);
    avro_reader_free(rd);
    return s;
}

static void test_string_escapes(void **state)
{
    struct fx f;
    struct pm_batch *b;
    struct pm_rec *rec;
    struct pm_row row;
    struct pm_buf out = {0};
    char err[256];
    const char *nasty = "a\"b\\c\td\x01"
                        "e/\xc3\xa9";
    avro_value_t v;
    avro_value_iface_t *iface;
    avro_schema_t sch;
    (void)state;
    fx_open(&f, "as_path", 0, NULL);
    b = fakehost_batch(4);
    b->n = 1;
    rec = pm_batch_rec(b, 0);
    memset(rec, 0, sizeof(*rec));
    assert_int_equal(f.h->batch_str(b, nasty, strlen(nasty), &rec->as_path), 0);
    pm_rec_set(rec, PM_P_AS_PATH);
    memset(&row, 0, sizeof(row));
    row.rec = rec;
    row.arena = b->arena;
    assert_int_equal(pm_avro_set_row(f.a, &row, NULL, err, sizeof(err)), 0);
    assert_int_equal(pm_avro_append_binary(f.a, &out), 0);
    /* fields: event_type, as_path, packets, bytes */
    assert_string_equal(read_string(&f, &out, 1, &v, &iface, &sch), nasty);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(sch);
    free(out.p);
    fx_close(&f);
}

static int count_records(const char *path)
{
    avro_file_reader_t rd;
    avro_schema_t ws;
    avro_value_iface_t *iface;
    avro_value_t v;
    int n = 0;
    assert_int_equal(avro_file_reader(path, &rd), 0);
    ws = avro_file_reader_get_writer_schema(rd);
    iface = avro_generic_class_from_schema(ws);
    avro_generic_value_new(iface, &v);
    while (avro_file_reader_read_value(rd, &v) == 0)
        n++;
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(ws);
    avro_file_reader_close(rd);
    return n;
}

static void test_container_file(void **state)
{
    struct fx f, g;
    struct pm_rec rec;
    struct pm_row row;
    struct pm_buf framed = {0};
    char err[256] = "", path[] = "/tmp/test_avro.XXXXXX";
    int fd;
    (void)state;
    fx_open(&f, "vlan", 0, NULL);
    memset(&rec, 0, sizeof(rec));
    pm_rec_set(&rec, PM_P_VLAN);
    memset(&row, 0, sizeof(row));
    row.rec = &rec;
    for (int i = 0; i < 5; i++) {
        rec.vlan = (uint16_t)i;
        row.packets = (uint64_t)i;
        assert_int_equal(pm_avro_set_row(f.a, &row, NULL, err, sizeof(err)), 0);
        assert_int_equal(pm_avro_append_framed(f.a, &framed), 0);
    }
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(
        pm_avro_write_file(f.a, path, fd, 0, &framed, err, sizeof(err)), 0);
    assert_int_equal(count_records(path), 5);
    /* append: the same schema */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(
        pm_avro_write_file(f.a, path, fd, 1, &framed, err, sizeof(err)), 0);
    assert_int_equal(count_records(path), 10);
    fx_close(&f);
    /* append with another aggregation: refused, file untouched */
    fx_open(&g, "vlan,tos", 0, NULL);
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(
        pm_avro_write_file(g.a, path, fd, 1, &framed, err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "another Avro schema"));
    assert_int_equal(count_records(path), 10);
    fx_close(&g);
    unlink(path);
    free(framed.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_binary_bytes),
        cmocka_unit_test(test_json_equals_renderer),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_container_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
