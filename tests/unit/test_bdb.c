/*
 * test_bdb.c - unit tests of the bdb output module with the fake host:
 * the key/value format round trip over every built-in primitive (strings,
 * IPv4/IPv6, MACs, coordinates, times, custom bytes), the decoder's
 * refusals of damaged records (every truncation, bad families, lengths),
 * save at exit and load at init (counters continue), pmacct -e reaching
 * the file, the one-daemon-per-file lock, and clear errors naming the file
 * for garbage, truncated or foreign databases.  Single-threaded except
 * for the module's own query server (started in the clear test).
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bdb.h"
#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

#define AGG5 "src_host,dst_host,src_port,dst_port,proto"

struct env {
    char dir[64];
    char file[128];
    char pipe[128];
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *config;
    void *ctx;
};

static void env_dir(struct env *e)
{
    strcpy(e->dir, "/tmp/pm-test-bdb-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->file, sizeof(e->file), "%s/table.db", e->dir);
    snprintf(e->pipe, sizeof(e->pipe), "%s/imt.pipe", e->dir);
}

/* init an instance on e->file; returns init's result */
static int env_init(struct env *e, const char *agg, const char *name)
{
    e->d = pm_module_descriptor();
    fakehost_conf("aggregate", agg);
    e->inst = fakehost_instance("bdb", name, PM_KIND_OUTPUT, agg);
    assert_non_null(e->inst);
    e->config = fakehost_config(e->d, e->inst, "bdb_file", e->file, "imt_path",
                                e->pipe, (const char *)NULL);
    assert_non_null(e->config);
    e->ctx = NULL;
    return e->d->init(fakehost(), e->inst, e->config, &e->ctx);
}

static void env_fini(struct env *e)
{
    if (e->ctx) {
        e->d->flush(e->ctx, PM_FLUSH_FINAL);
        e->d->stop(e->ctx);
        e->d->fini(e->ctx);
    }
    fakehost_config_free(e->d, e->config);
    e->ctx = NULL;
}

static void env_rm(struct env *e)
{
    char p[200];
    snprintf(p, sizeof(p), "%s.lock", e->file);
    unlink(p);
    unlink(e->file);
    rmdir(e->dir);
}

/* sample-like flows, IPv6 and an address-less (ARP-like) row included */
static const char *const flows[][6] = {
    {"10.0.0.1", "10.0.0.2", "12345", "80", "tcp", "3"},
    {"10.0.0.2", "10.0.0.1", "80", "12345", "tcp", "5"},
    {"2001:db8::1", "2001:db8::2", "2222", "22", "tcp", "2"},
    {"192.168.1.10", "10.0.0.1", "53", "5353", "udp", "1"},
    {NULL, NULL, "0", "0", "0", "4"},
};
#define NFLOWS (sizeof(flows) / sizeof(flows[0]))

static void feed(struct env *e)
{
    const struct pm_host *h = fakehost();
    struct pm_batch *b = fakehost_batch(64);
    for (size_t i = 0; i < NFLOWS; i++) {
        struct pm_rec *r = pm_batch_rec(b, b->n);
        memset(r, 0, b->rec_size);
        if (flows[i][0]) {
            assert_int_equal(h->prim_parse(PM_P_SRC_HOST, flows[i][0], r, b),
                             0);
            assert_int_equal(h->prim_parse(PM_P_DST_HOST, flows[i][1], r, b),
                             0);
        }
        assert_int_equal(h->prim_parse(PM_P_SRC_PORT, flows[i][2], r, b), 0);
        assert_int_equal(h->prim_parse(PM_P_DST_PORT, flows[i][3], r, b), 0);
        assert_int_equal(h->prim_parse(PM_P_PROTO, flows[i][4], r, b), 0);
        r->packets = (uint64_t)atoi(flows[i][5]);
        r->bytes = 100 * r->packets;
        r->ts_arrival.sec = 1700000000 + i;
        b->n++;
    }
    assert_int_equal(e->d->process(e->ctx, b), 0);
}

/* The table as sorted CSV lines "key...,packets,bytes". */
struct dump {
    const struct pm_host *h;
    struct pm_render *r;
    struct pm_buf out;
};

static int dump_cb(void *ud, const struct pm_row *row)
{
    struct dump *d = ud;
    assert_int_equal(d->h->render_row(d->r, row, &d->out), 0);
    return PM_WALK_NEXT;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *dump_table(struct env *e)
{
    struct bdb_ctx *x = e->ctx;
    const struct pm_host *h = fakehost();
    struct pm_render_cfg rc = {0};
    struct dump d = {h, NULL, {0}};
    rc.fmt = PM_FMT_CSV;
    rc.flags = PM_RENDER_NO_FLOWS;
    rc.prims = e->inst->aggregate;
    rc.nprims = e->inst->naggregate;
    d.r = h->render_new(&rc);
    assert_non_null(d.r);
    h->cache_walk(x->t.cache, dump_cb, &d);
    h->render_free(d.r);
    /* sort the lines */
    char *lines[64];
    size_t n = 0;
    for (char *s = d.out.p, *nl; s && *s && n < 64; s = nl + 1) {
        nl = strchr(s, '\n');
        assert_non_null(nl);
        *nl = 0;
        lines[n++] = s;
    }
    qsort(lines, n, sizeof(*lines), cmp_lines);
    struct pm_buf o = {0};
    for (size_t i = 0; i < n; i++)
        h->buf_printf(&o, "%s\n", lines[i]);
    free(d.out.p);
    return o.p ? o.p : strdup("");
}

/* ---- codec ------------------------------------------------------------- */

/* Every built-in primitive at once, filled with distinct values. */
static void test_roundtrip_all(void **state)
{
    (void)state;
    const struct pm_host *h = fakehost();
    struct pm_buf names = {0};
    char err[512];
    fakehost_reset();
    fakehost_custom_prims(
        "name=cust_u32 field_type=9999 len=4 semantics=u_int\n"
        "name=cust_str field_type=9998 len=8 semantics=str\n");
    for (unsigned id = 0; id < PM_P_COUNT_BUILTIN; id++) {
        const struct pm_prim_info *pi = h->prim_info(id);
        assert_non_null(pi);
        h->buf_printf(&names, "%s%s,", names.len ? "" : "", pi->name);
    }
    h->buf_printf(&names, "cust_u32,cust_str");
    struct pm_instance *inst =
        fakehost_instance("bdb", "all", PM_KIND_OUTPUT, names.p);
    assert_non_null(inst);
    assert_int_equal(inst->naggregate, PM_P_COUNT_BUILTIN + 2);

    static struct bdb_layout l; /* large: off the stack */
    int rc = bdb_layout_build(h, inst, 1, &l, err, sizeof(err));
    if (rc)
        fail_msg("layout: %s", err);
    assert_int_equal(l.n, inst->naggregate);

    struct pm_batch *b = fakehost_batch(4), *b2 = fakehost_batch(4);
    struct pm_rec *r = pm_batch_rec(b, 0), *r2 = pm_batch_rec(b2, 0);
    memset(r, 0, b->rec_size);
    b->n = 1;
    for (uint32_t i = 0; i < l.n; i++) {
        const struct bdb_field *f = &l.f[i];
        uint8_t *p = (uint8_t *)r + f->off;
        char s[64];
        pm_sref_t sr;
        switch (f->kind) {
        case BDB_K_IP: {
            pm_ip_t ip;
            uint8_t a[16];
            for (int k = 0; k < 16; k++)
                a[k] = (uint8_t)(i * 16 + k + 1);
            if (i & 1)
                pm_ip_set6(&ip, a);
            else
                pm_ip_set4(&ip, a);
            memcpy(p, &ip, sizeof(ip));
            break;
        }
        case BDB_K_STR:
            snprintf(s, sizeof(s), "str-%u,with spaces;%u", i, i * 7);
            assert_int_equal(h->batch_str(b, s, strlen(s), &sr), 0);
            memcpy(p, &sr, sizeof(sr));
            break;
        case BDB_K_TS: {
            pm_ts_t ts = {1700000000u + i, 123456u + i, 0};
            memcpy(p, &ts, sizeof(ts));
            break;
        }
        case BDB_K_F64: {
            double v[2] = {45.5 + i, -73.25 - i};
            memcpy(p, v, sizeof(v));
            break;
        }
        default:
            for (unsigned k = 0; k < f->len; k++)
                p[k] = (uint8_t)(0xa0 + i + k);
        }
        pm_rec_set(r, f->id);
    }
    struct pm_row row = {0};
    row.rec = r;
    row.arena = b->arena;
    row.packets = 11;
    row.bytes = 2222;
    row.flows = 3;
    row.first.sec = 1700000001;
    row.first.usec = 5;
    row.last.sec = 1700000099;
    row.last.usec = 999999;
    row.stamp_inserted = 1700000000;
    struct pm_buf out = {0};
    assert_int_equal(bdb_encode_row(h, &l, &row, &out), 0);
    const uint8_t *q = (const uint8_t *)out.p;
    size_t klen =
        (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
    assert_int_equal(out.len, 4 + klen + BDB_VALUE_LEN);

    uint64_t stamp = 0;
    b2->n = 0;
    rc = bdb_decode(h, &l, q + 4, klen, q + 4 + klen, BDB_VALUE_LEN, r2, b2,
                    &stamp, err, sizeof(err));
    if (rc)
        fail_msg("decode: %s", err);
    assert_int_equal(stamp, 1700000000);
    assert_int_equal(r2->packets, 11);
    assert_int_equal(r2->bytes, 2222);
    assert_int_equal(r2->flows, 3);
    for (uint32_t i = 0; i < l.n; i++) {
        const struct bdb_field *f = &l.f[i];
        const uint8_t *a = (const uint8_t *)r + f->off;
        const uint8_t *c = (const uint8_t *)r2 + f->off;
        assert_true(pm_rec_has(r2, f->id));
        if (f->kind == BDB_K_STR) {
            pm_sref_t sa, sc;
            memcpy(&sa, a, sizeof(sa));
            memcpy(&sc, c, sizeof(sc));
            assert_int_equal(sa.len, sc.len);
            assert_memory_equal(b->arena + sa.off, b2->arena + sc.off, sa.len);
        } else if (memcmp(a, c, f->len)) {
            fail_msg("primitive %s differs after the round trip",
                     h->prim_info(f->id)->name);
        }
    }
    /* timestamp_start/end are key primitives here: kept, not first/last */
    assert_int_equal(r2->ts_start.usec, r->ts_start.usec);

    /* every shorter key and a longer one are refused, never read past */
    for (size_t n = 0; n < klen; n++) {
        uint8_t *k = malloc(n ? n : 1);
        memcpy(k, q + 4, n);
        assert_int_equal(bdb_decode(h, &l, k, n, q + 4 + klen, BDB_VALUE_LEN,
                                    r2, b2, &stamp, err, sizeof(err)),
                         -EINVAL);
        free(k);
    }
    uint8_t *k = malloc(klen + 1);
    memcpy(k, q + 4, klen);
    k[klen] = 0;
    assert_int_equal(bdb_decode(h, &l, k, klen + 1, q + 4 + klen, BDB_VALUE_LEN,
                                r2, b2, &stamp, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "left after"));
    /* value of the wrong size */
    assert_int_equal(bdb_decode(h, &l, k, klen, q + 4 + klen, BDB_VALUE_LEN - 1,
                                r2, b2, &stamp, err, sizeof(err)),
                     -EINVAL);
    /* another format */
    k[0] = 2;
    assert_int_equal(bdb_decode(h, &l, k, klen, q + 4 + klen, BDB_VALUE_LEN, r2,
                                b2, &stamp, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "format"));
    free(k);
    free(out.p);
    free(names.p);
    fakehost_custom_prims(NULL);
}

/* A 5-tuple key: address families and padding are checked. */
static void test_decode_bad_ip(void **state)
{
    (void)state;
    const struct pm_host *h = fakehost();
    static struct bdb_layout l;
    char err[512];
    fakehost_reset();
    struct pm_instance *inst =
        fakehost_instance("bdb", "ip", PM_KIND_OUTPUT, AGG5);
    assert_int_equal(bdb_layout_build(h, inst, 0, &l, err, sizeof(err)), 0);
    assert_string_equal(l.names, AGG5);
    struct pm_batch *b = fakehost_batch(4);
    struct pm_rec *r = pm_batch_rec(b, 0);
    uint8_t key[1 + 17 + 17 + 2 + 2 + 1] = {BDB_FORMAT};
    uint8_t val[BDB_VALUE_LEN] = {0};
    uint64_t stamp;
    key[1] = 4;
    key[1 + 17] = 6;
    assert_int_equal(bdb_decode(h, &l, key, sizeof(key), val, sizeof(val), r, b,
                                &stamp, err, sizeof(err)),
                     0);
    assert_int_equal(r->src_host.af, 4);
    assert_int_equal(r->dst_host.af, 6);
    key[1] = 5; /* no such family */
    assert_int_equal(bdb_decode(h, &l, key, sizeof(key), val, sizeof(val), r, b,
                                &stamp, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "src_host"));
    key[1] = 4;
    key[1 + 10] = 1; /* IPv4 with bytes in the padding */
    assert_int_equal(bdb_decode(h, &l, key, sizeof(key), val, sizeof(val), r, b,
                                &stamp, err, sizeof(err)),
                     -EINVAL);
    key[1 + 10] = 0;
    val[32] = 0xff; /* first.usec > 999999 */
    assert_int_equal(bdb_decode(h, &l, key, sizeof(key), val, sizeof(val), r, b,
                                &stamp, err, sizeof(err)),
                     -EINVAL);
    /* meta: another aggregate or history setting is refused */
    char meta[512];
    int n = bdb_meta_text(&l, 3, meta, sizeof(meta));
    assert_true(n > 0);
    assert_int_equal(bdb_meta_check(&l, meta, (size_t)n, err, sizeof(err)), 0);
    l.history = 1;
    assert_int_equal(bdb_meta_check(&l, meta, (size_t)n, err, sizeof(err)),
                     -EINVAL);
    l.history = 0;
    strcpy(l.names, "src_host");
    assert_int_equal(bdb_meta_check(&l, meta, (size_t)n, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, AGG5));
    assert_int_equal(bdb_meta_check(&l, "junk", 4, err, sizeof(err)), -EINVAL);
}

/* ---- save / load -------------------------------------------------------- */

static void test_persist(void **state)
{
    (void)state;
    struct env e;
    fakehost_reset();
    env_dir(&e);
    assert_int_equal(env_init(&e, AGG5, "p"), 0);
    assert_non_null(strstr(fakehost_log_text(), "starting empty"));
    feed(&e);
    char *once = dump_table(&e);
    env_fini(&e); /* flush(FINAL) saves */
    struct stat st;
    assert_int_equal(stat(e.file, &st), 0);
    assert_true(fakehost_counter_value("syncs") >= 1);

    /* a new instance loads the same table */
    assert_int_equal(env_init(&e, AGG5, "p2"), 0);
    char *loaded = dump_table(&e);
    assert_string_equal(once, loaded);
    assert_int_equal(fakehost_counter_value("rows_loaded"), NFLOWS);
    /* the same traffic again: every counter doubles */
    feed(&e);
    char *twice = dump_table(&e);
    struct pm_buf want = {0};
    for (size_t i = 0; i < NFLOWS; i++) {
        /* rows are sorted alike; check the doubled packets appear */
        char tail[64];
        snprintf(tail, sizeof(tail), ",%d,%d\n", 2 * atoi(flows[i][5]),
                 200 * atoi(flows[i][5]));
        if (!strstr(twice, tail))
            fail_msg("no row ending in %s in\n%s", tail, twice);
    }
    /* as many rows as before (the address-less row merged too) */
    int lines1 = 0, lines2 = 0;
    for (char *p = once; *p; p++)
        lines1 += *p == '\n';
    for (char *p = twice; *p; p++)
        lines2 += *p == '\n';
    assert_int_equal(lines1, (int)NFLOWS);
    assert_int_equal(lines2, (int)NFLOWS);

    /* one daemon per file */
    struct env e2 = e;
    int rc = env_init(&e2, AGG5, "p3");
    assert_int_equal(rc, -EBUSY);
    assert_non_null(strstr(fakehost_log_text(), "in use by another"));
    fakehost_config_free(e2.d, e2.config);

    env_fini(&e);
    /* another aggregate refuses the file, naming it */
    assert_int_not_equal(env_init(&e, "src_host", "p4"), 0);
    assert_non_null(strstr(fakehost_log_text(), e.file));
    assert_non_null(strstr(fakehost_log_text(), "written for aggregate"));
    fakehost_config_free(e.d, e.config);
    free(once);
    free(loaded);
    free(twice);
    free(want.p);
    env_rm(&e);
}

/* pmacct -e empties the file at once (through the query path). */
static void test_clear(void **state)
{
    (void)state;
    struct env e;
    struct pm_buf out = {0};
    fakehost_reset();
    env_dir(&e);
    assert_int_equal(env_init(&e, AGG5, "c"), 0);
    feed(&e);
    e.d->flush(e.ctx, PM_FLUSH_FINAL);
    struct bdb_ctx *x = e.ctx;
    const char *req = "PMQ/1\nop: clear\n\n";
    assert_int_equal(pmq_answer(&x->t, req, strlen(req), &out), 0);
    assert_non_null(strstr(out.p, "PMQ/1 OK"));
    free(out.p);
    /* a crash now (no exit save): the file is already empty */
    e.d->stop(e.ctx);
    x->saved_gen = x->gen; /* pretend nothing is pending */
    e.d->fini(e.ctx);
    e.ctx = NULL;
    fakehost_config_free(e.d, e.config);
    assert_int_equal(env_init(&e, AGG5, "c2"), 0);
    char *t = dump_table(&e);
    assert_string_equal(t, "");
    free(t);
    env_fini(&e);
    env_rm(&e);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* Garbage and truncated files: a clear error naming the file. */
static void test_damaged(void **state)
{
    (void)state;
    struct env e;
    fakehost_reset();
    env_dir(&e);
    /* a valid table first */
    assert_int_equal(env_init(&e, AGG5, "d"), 0);
    feed(&e);
    env_fini(&e);
    struct stat st;
    assert_int_equal(stat(e.file, &st), 0);
    char *good = malloc((size_t)st.st_size);
    int fd = open(e.file, O_RDONLY);
    assert_int_equal(read(fd, good, (size_t)st.st_size), st.st_size);
    close(fd);

    static const char garbage[] = "this is not a Berkeley DB file at all\n";
    write_file(e.file, garbage, sizeof(garbage));
    assert_int_equal(env_init(&e, AGG5, "d1"), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), e.file));
    assert_non_null(strstr(fakehost_log_text(), "move it away"));
    fakehost_config_free(e.d, e.config);

    /* truncated to half, and one flipped byte in a data page */
    write_file(e.file, good, (size_t)st.st_size / 2);
    assert_int_equal(env_init(&e, AGG5, "d2"), -EINVAL);
    fakehost_config_free(e.d, e.config);
    good[st.st_size - 100] ^= 0x55;
    write_file(e.file, good, (size_t)st.st_size);
    assert_int_not_equal(env_init(&e, AGG5, "d3"), 0);
    fakehost_config_free(e.d, e.config);
    /* the damaged file is left as it was */
    assert_int_equal(stat(e.file, &st), 0);
    free(good);
    env_rm(&e);
}

/* bdb_history: rows keep their time bin across a restart. */
static int stamp_cb(void *ud, const struct pm_row *row)
{
    uint64_t *st = ud;
    st[0]++;
    if (row->stamp_inserted != 1700000000 - 1700000000 % 60 ||
        row->first.sec < row->stamp_inserted ||
        row->first.sec >= row->stamp_inserted + 60)
        st[1]++;
    return PM_WALK_NEXT;
}

static void test_history(void **state)
{
    (void)state;
    struct env e;
    uint64_t st[2] = {0, 0};
    fakehost_reset();
    env_dir(&e);
    fakehost_conf("bdb_history", "1m");
    assert_int_equal(env_init(&e, AGG5, "h"), 0);
    feed(&e);
    env_fini(&e);
    assert_int_equal(env_init(&e, AGG5, "h2"), 0);
    struct bdb_ctx *x = e.ctx;
    fakehost()->cache_walk(x->t.cache, stamp_cb, st);
    assert_int_equal(st[0], NFLOWS);
    assert_int_equal(st[1], 0);
    env_fini(&e);
    /* without history the file is refused, not rebinned silently */
    fakehost_conf("bdb_history", "");
    assert_int_equal(env_init(&e, AGG5, "h3"), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "bdb_history"));
    fakehost_config_free(e.d, e.config);
    env_rm(&e);
}

static void test_refused_configs(void **state)
{
    (void)state;
    struct env e;
    fakehost_reset();
    env_dir(&e);
    e.d = pm_module_descriptor();
    fakehost_conf("aggregate", "sum_host");
    e.inst = fakehost_instance("bdb", "s", PM_KIND_OUTPUT, "sum_host");
    assert_non_null(e.inst);
    e.config = fakehost_config(e.d, e.inst, "bdb_file", e.file, "imt_path",
                               e.pipe, (const char *)NULL);
    assert_int_equal(e.d->init(fakehost(), e.inst, e.config, &e.ctx), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "sum_"));
    fakehost_config_free(e.d, e.config);
    env_rm(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all),
        cmocka_unit_test(test_decode_bad_ip),
        cmocka_unit_test(test_persist),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_refused_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
