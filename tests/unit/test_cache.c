/* test_cache.c - aggregation cache: keys, sum_*, history bins, strings,
 * walk with delete/reset/stop, max_entries, and a 1M-record timing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../fakehost.h"
#include <errno.h>

#include "pmdata.h"

static struct pm_rec *add(struct pm_batch *b, uint8_t src, uint8_t dst,
                          uint16_t sport, uint64_t t, uint64_t bytes)
{
    struct pm_rec *r = pmc_batch_next(b);
    uint8_t a[4] = {10, 0, 0, src}, d[4] = {10, 0, 0, dst};
    pm_ip_set4(&r->src_host, a);
    pm_ip_set4(&r->dst_host, d);
    r->src_port = sport;
    r->dst_port = 80;
    r->proto = 6;
    r->packets = 1;
    r->bytes = bytes;
    r->ts_arrival.sec = t;
    pm_rec_set(r, PM_P_SRC_HOST);
    pm_rec_set(r, PM_P_DST_HOST);
    return r;
}

struct acc {
    int n;
    uint64_t packets, bytes;
    uint64_t stamps[16];
    char src[16][64];
    int ret;
};

static int collect(void *ud, const struct pm_row *row)
{
    struct acc *a = ud;
    if (a->n < 16) {
        a->stamps[a->n] = row->stamp_inserted;
        snprintf(a->src[a->n], 64, "%u.%u/%u", row->rec->src_host.a[3],
                 row->rec->dst_host.a[3], row->rec->src_port);
    }
    a->n++;
    a->packets += row->packets;
    a->bytes += row->bytes;
    return a->ret;
}

static void test_basic(void **st)
{
    struct pm_instance *in = fakehost_instance("memory", "a", PM_KIND_OUTPUT, "src_host,dst_host");
    struct pm_cache_cfg cfg = {0};
    struct pm_cache *c = pmc_cache_new(in, &cfg);
    struct pm_batch *b = fakehost_batch(16);
    struct acc a = {0};
    (void)st;
    add(b, 1, 2, 1000, 100, 40);
    add(b, 1, 2, 1001, 101, 60);
    add(b, 1, 3, 1000, 102, 10);
    add(b, 9, 9, 1000, 102, 10);
    pm_batch_drop(b, 3);
    assert_int_equal(pmc_cache_add(c, b), 3);
    assert_int_equal(pmc_cache_count(c), 2);
    assert_int_equal(pmc_cache_walk(c, collect, &a), 0);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.packets, 3);
    assert_int_equal(a.bytes, 110);
    /* ports not in the key: aggregated; rec carries only key bits */
    assert_string_equal(a.src[0], "1.2/0");
    /* reset then delete */
    memset(&a, 0, sizeof(a));
    a.ret = PM_WALK_RESET;
    pmc_cache_walk(c, collect, &a);
    memset(&a, 0, sizeof(a));
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(a.packets, 0);
    assert_int_equal(a.n, 2);
    memset(&a, 0, sizeof(a));
    a.ret = PM_WALK_DELETE | PM_WALK_STOP;
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(a.n, 1);
    assert_int_equal(pmc_cache_count(c), 1);
    /* re-adding after a delete works and finds the survivor */
    assert_int_equal(pmc_cache_add(c, b), 3);
    assert_int_equal(pmc_cache_count(c), 2);
    pmc_cache_clear(c);
    assert_int_equal(pmc_cache_count(c), 0);
    pmc_cache_free(c);
    fakehost_reset();
}

static int flagcheck(void *ud, const struct pm_row *row)
{
    uint8_t *f = ud;
    f[row->rec->src_host.a[3]] = row->rec->tcpflags;
    return PM_WALK_NEXT;
}

/* tcpflags in the aggregate is accumulated (OR), not a key: pmacctd and
 * nfacctd 1.7.7 print one row per key with the flags of all its packets. */
static void test_tcpflags_or(void **st)
{
    struct pm_instance *in = fakehost_instance("print", "f", PM_KIND_OUTPUT,
                                               "src_host,dst_host,tcpflags");
    struct pm_cache_cfg cfg = {0};
    struct pm_cache *c = pmc_cache_new(in, &cfg);
    struct pm_batch *b = fakehost_batch(16);
    uint8_t flags[256] = {0};
    (void)st;
    add(b, 1, 2, 1000, 100, 40)->tcpflags = 0x02; /* SYN */
    add(b, 1, 2, 1000, 101, 40)->tcpflags = 0x10; /* ACK */
    add(b, 1, 2, 1000, 102, 40)->tcpflags = 0x01; /* FIN */
    add(b, 3, 2, 1000, 102, 40)->tcpflags = 0x04; /* RST */
    assert_int_equal(pmc_cache_add(c, b), 4);
    assert_int_equal(pmc_cache_count(c), 2);
    assert_int_equal(pmc_cache_walk(c, flagcheck, flags), 0);
    assert_int_equal(flags[1], 0x13);
    assert_int_equal(flags[3], 0x04);
    pmc_cache_free(c);
    fakehost_reset();
}

/* *_history / *_history_roundoff, shared by every output through the
 * host table; err names the value so that "<prefix>_history%s" names the
 * key. */
static void test_history_parse(void **st)
{
    struct pm_cache_cfg c;
    char err[256];
    (void)st;
    assert_int_equal(pmc_history_parse("5m", "h", &c, err, sizeof(err)), 0);
    assert_int_equal(c.history_secs, 300);
    assert_int_equal(c.history_months, 0);
    assert_int_equal(c.roundoff, 'h');
    assert_int_equal(pmc_history_parse("300", NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(c.history_secs, 300);
    assert_int_equal(pmc_history_parse("1w", "m,d", &c, err, sizeof(err)), 0);
    assert_int_equal(c.history_secs, 604800);
    assert_int_equal(c.roundoff, 'd');
    assert_int_equal(pmc_history_parse("2M", "", &c, err, sizeof(err)), 0);
    assert_int_equal(c.history_months, 2);
    assert_int_equal(c.history_secs, 0);
    assert_int_equal(pmc_history_parse(NULL, NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(c.history_secs + c.history_months + c.roundoff, 0);
    assert_int_equal(pmc_history_parse("5x", NULL, &c, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err,
                        ": '5x': expected a length like 300, 5m, 1h, 1d, 1w "
                        "or 1M");
    assert_int_equal(pmc_history_parse("0", NULL, &c, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(pmc_history_parse("5mm", NULL, &c, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(pmc_history_parse("5m", "q", &c, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err,
                        "_roundoff: 'q': expected letters among m, h, d, w, M");
}

/* *_preprocess: checks (any/all) and actions, shared by the outputs. */
static void test_preproc(void **st)
{
    struct pm_preproc *p = NULL;
    struct pm_row r;
    char err[256];
    (void)st;
    assert_int_equal(pmc_preproc_new("", 0, &p, err, sizeof(err)), 0);
    assert_null(p);
    assert_int_equal(pmc_preproc_new("minp=4, minb=1000", 0, &p, err,
                                     sizeof(err)), 0);
    memset(&r, 0, sizeof(r));
    r.packets = 3, r.bytes = 2000;
    assert_int_equal(pmc_preproc_apply(p, &r), 0); /* any: minb passes */
    r.bytes = 10;
    assert_int_equal(pmc_preproc_apply(p, &r), 1); /* none passes */
    pmc_preproc_free(p);
    assert_int_equal(pmc_preproc_new("minp=4,minb=1000", 1, &p, err,
                                     sizeof(err)), 0);
    r.packets = 3, r.bytes = 2000;
    assert_int_equal(pmc_preproc_apply(p, &r), 1); /* all: minp fails */
    pmc_preproc_free(p);
    assert_int_equal(pmc_preproc_new("usrf=10,adjb=-5", 0, &p, err,
                                     sizeof(err)), 0);
    r.packets = 2, r.bytes = 100, r.flows = 1;
    assert_int_equal(pmc_preproc_apply(p, &r), 0); /* actions only */
    assert_int_equal(r.packets, 20);
    assert_int_equal(r.bytes, 1000 - 100);
    assert_int_equal(r.flows, 10);
    pmc_preproc_free(p);
    assert_int_equal(pmc_preproc_new("minq=3", 0, &p, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, ": unknown check 'minq'"));
    assert_int_equal(pmc_preproc_new("fss=3", 0, &p, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "not supported"));
    assert_int_equal(pmc_preproc_new("minp=x", 0, &p, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, ": minp: expected a number, got 'x'");
}

static void test_sum_host(void **st)
{
    struct pm_instance *in = fakehost_instance("memory", "a", PM_KIND_OUTPUT, "sum_host");
    struct pm_cache *c = pmc_cache_new(in, NULL);
    struct pm_batch *b = fakehost_batch(16);
    struct acc a = {0};
    (void)st;
    add(b, 1, 2, 1000, 100, 40);
    add(b, 2, 1, 80, 100, 60);
    add(b, 1, 3, 1000, 100, 10);
    assert_int_equal(pmc_cache_add(c, b), 3);
    assert_int_equal(pmc_cache_count(c), 3); /* .1 .2 .3 */
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(a.packets, 6);
    assert_int_equal(a.bytes, 220);
    pmc_cache_free(c);
    fakehost_reset();
}

static void test_history(void **st)
{
    struct pm_instance *in = fakehost_instance("memory", "a", PM_KIND_OUTPUT, "src_host");
    struct pm_cache_cfg cfg = {0};
    struct pm_cache *c;
    struct pm_batch *b = fakehost_batch(16);
    struct acc a = {0};
    (void)st;
    setenv("TZ", "UTC", 1);
    tzset();
    /* 5m with roundoff m: bins aligned to 5 minutes (22:10, 22:15) */
    cfg.history_secs = 300;
    cfg.roundoff = 'm';
    c = pmc_cache_new(in, &cfg);
    add(b, 1, 2, 1, 1700000000, 1);  /* 22:13:20 */
    add(b, 1, 2, 1, 1700000090, 1);  /* 22:14:50 */
    add(b, 1, 2, 1, 1700000120, 1);  /* 22:15:20 */
    pmc_cache_add(c, b);
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.stamps[0], 1699999800);
    assert_int_equal(a.stamps[1], 1700000100);
    pmc_cache_free(c);
    /* 5m without roundoff: multiples of 300 s since the epoch, whatever
     * the first record's time (22:10, 22:15) */
    cfg.roundoff = 0;
    c = pmc_cache_new(in, &cfg);
    memset(&a, 0, sizeof(a));
    pmc_cache_add(c, b);
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.stamps[0], 1699999800);
    assert_int_equal(a.stamps[1], 1700000100);
    pmc_cache_free(c);
    /* months */
    memset(&cfg, 0, sizeof(cfg));
    cfg.history_months = 1;
    c = pmc_cache_new(in, &cfg);
    memset(&a, 0, sizeof(a));
    pmc_cache_add(c, b);
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.stamps[0], 1698796800); /* 2023-11-01 */
    pmc_cache_free(c);
    fakehost_reset();
}

static uint64_t one_bin(const struct pm_cache_cfg *cfg, uint64_t t)
{
    struct pm_instance *in =
        fakehost_instance("memory", "a", PM_KIND_OUTPUT, "src_host");
    struct pm_cache *c = pmc_cache_new(in, cfg);
    struct pm_batch *b = fakehost_batch(4);
    struct acc a = {0};
    add(b, 1, 2, 1, t, 1);
    assert_int_equal(pmc_cache_add(c, b), 1);
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(a.n, 1);
    pmc_cache_free(c);
    fakehost_reset();
    return a.stamps[0];
}

/* Bins without roundoff: aligned to multiples of the length since the
 * epoch (+ offset), intervals [start, end), independent of the order and
 * time the records arrive. */
static void test_history_epoch(void **st)
{
    struct pm_cache_cfg cfg = {0};
    (void)st;
    setenv("TZ", "Europe/Rome", 1); /* no roundoff: local time plays no part */
    tzset();
    cfg.history_secs = 300;
    /* a record exactly on a boundary opens the new bin */
    assert_int_equal(one_bin(&cfg, 1700000100), 1700000100);
    assert_int_equal(one_bin(&cfg, 1700000099), 1699999800);
    assert_int_equal(one_bin(&cfg, 1700000399), 1700000100);
    assert_int_equal(one_bin(&cfg, 1700000400), 1700000400);
    /* 1 minute, 1 hour, 1 day: UTC multiples */
    cfg.history_secs = 60;
    assert_int_equal(one_bin(&cfg, 1700000000), 1699999980);
    cfg.history_secs = 3600;
    assert_int_equal(one_bin(&cfg, 1700000000), 1699999200);
    cfg.history_secs = 86400;
    assert_int_equal(one_bin(&cfg, 1700000000), 1699920000);
    /* a length that does not divide an hour: still epoch multiples */
    cfg.history_secs = 420;
    assert_int_equal(one_bin(&cfg, 1700000000), 1700000000 - 1700000000 % 420);
    /* offset shifts the grid */
    cfg.history_secs = 300;
    cfg.history_offset = 60;
    assert_int_equal(one_bin(&cfg, 1700000000), 1699999860);
    assert_int_equal(one_bin(&cfg, 1700000160), 1700000160);
    assert_int_equal(one_bin(&cfg, 1700000159), 1699999860);
    cfg.history_offset = -60;
    assert_int_equal(one_bin(&cfg, 1700000000), 1699999740);
    /* the same record gives the same bin whatever came first */
    {
        struct pm_instance *in =
            fakehost_instance("memory", "a", PM_KIND_OUTPUT, "src_host");
        struct pm_cache *c;
        struct pm_batch *b = fakehost_batch(8);
        struct acc a = {0};
        cfg.history_offset = 0;
        cfg.history_secs = 600;
        c = pmc_cache_new(in, &cfg);
        add(b, 1, 2, 1, 1700000459, 1); /* 22:20:59: first record */
        add(b, 1, 2, 1, 1700000400, 1); /* 22:20:00: same bin */
        add(b, 1, 2, 1, 1700000399, 1); /* 22:19:59: previous bin */
        add(b, 1, 2, 1, 1700001000, 1); /* 22:30:00: next bin */
        assert_int_equal(pmc_cache_add(c, b), 4);
        pmc_cache_walk(c, collect, &a);
        assert_int_equal(a.n, 3);
        {
            int i, seen = 0;
            for (i = 0; i < 3; i++) {
                if (a.stamps[i] == 1700000400)
                    seen |= 1;
                if (a.stamps[i] == 1699999800)
                    seen |= 2;
                if (a.stamps[i] == 1700001000)
                    seen |= 4;
            }
            assert_int_equal(seen, 7);
        }
        pmc_cache_free(c);
        fakehost_reset();
    }
    setenv("TZ", "UTC", 1);
    tzset();
}

static int strcheck(void *ud, const struct pm_row *row)
{
    int *n = ud;
    const struct pm_rec *r = row->rec;
    assert_true(pm_rec_has(r, PM_P_LABEL));
    assert_false(pm_rec_has(r, PM_P_DST_HOST));
    if (r->label.len == 3 && !memcmp(row->arena + r->label.off, "foo", 3))
        assert_int_equal(row->packets, 2);
    else if (r->label.len == 3)
        assert_memory_equal(row->arena + r->label.off, "bar", 3);
    else
        assert_int_equal(r->label.len, 0);
    (*n)++;
    return PM_WALK_NEXT;
}

static void test_strings(void **st)
{
    struct pm_instance *in = fakehost_instance("memory", "a", PM_KIND_OUTPUT, "label,src_host");
    struct pm_cache *c;
    struct pm_batch *b = fakehost_batch(16);
    struct pm_rec *r;
    int n = 0;
    (void)st;
    c = pmc_cache_new(in, NULL);
    r = add(b, 1, 2, 1, 1, 1);
    pmc_batch_str(b, "xxfoo", 5, &r->label);
    r->label.off += 2, r->label.len = 3;
    r = add(b, 1, 3, 1, 1, 1);
    pmc_batch_str(b, "foo", 3, &r->label);
    r = add(b, 1, 3, 1, 1, 1);
    pmc_batch_str(b, "bar", 3, &r->label);
    add(b, 1, 3, 1, 1, 1);
    assert_int_equal(pmc_cache_add(c, b), 4);
    assert_int_equal(pmc_cache_count(c), 3); /* foo, bar, "" */
    pmc_batch_reset(b); /* the cache keeps its own copies */
    memset(b->arena, 'z', b->arena_cap);
    pmc_cache_walk(c, strcheck, &n);
    assert_int_equal(n, 3);
    pmc_cache_free(c);
    fakehost_reset();
}

static void test_max_entries(void **st)
{
    struct pm_instance *in = fakehost_instance("memory", "a", PM_KIND_OUTPUT, "src_host,src_port");
    struct pm_cache_cfg cfg = {0};
    struct pm_cache *c;
    struct pm_batch *b = fakehost_batch(64);
    int i;
    (void)st;
    cfg.max_entries = 10;
    c = pmc_cache_new(in, &cfg);
    for (i = 0; i < 20; i++)
        add(b, 1, 2, (uint16_t)i, 1, 1);
    pmc_cache_add(c, b);
    assert_int_equal(pmc_cache_count(c), 10);
    assert_int_equal(pmc_cache_overflows(c), 10);
    pmc_cache_free(c);
    fakehost_reset();
}

static int mark(void *ud, const struct pm_row *row)
{
    int *seen = ud;
    seen[row->rec->src_port]++;
    return PM_WALK_DELETE | PM_WALK_RESET; /* ignored by cache_walk_part */
}

/* A cache of 1000 aggregates (src_port 0..999), then the first one
 * walked deleted: 999 left, with a hole. */
static struct pm_cache *cache_999(void)
{
    struct pm_instance *in = fakehost_instance("memory", "a", PM_KIND_OUTPUT, "src_host,src_port");
    struct pm_cache *c = pmc_cache_new(in, &(struct pm_cache_cfg){0});
    struct pm_batch *b = fakehost_batch(1200);
    struct acc a = {.ret = PM_WALK_DELETE | PM_WALK_STOP};
    for (int i = 0; i < 1000; i++)
        add(b, 1, 2, (uint16_t)i, 1, 1);
    assert_int_equal(pmc_cache_add(c, b), 1000);
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(pmc_cache_count(c), 999);
    return c;
}

/* cache_walk_part: the parts together visit every aggregate once (some
 * deleted before, so that holes are skipped), whatever the number of
 * parts; read-only (the DELETE/RESET bits ignored); a part out of range
 * is refused. */
static void test_walk_part(void **st)
{
    struct pm_cache *c = cache_999();
    struct acc a = {0};
    static int seen[1000];
    (void)st;
    for (uint32_t np = 1; np <= 7; np++) {
        int total = 0, twice = 0;
        memset(seen, 0, sizeof(seen));
        for (uint32_t p = 0; p < np; p++)
            assert_int_equal(pmc_cache_walk_part(c, p, np, mark, seen), 0);
        for (int i = 0; i < 1000; i++) {
            total += seen[i];
            twice += seen[i] > 1;
        }
        assert_int_equal(total, 999);
        assert_int_equal(twice, 0);
    }
    assert_int_equal(pmc_cache_count(c), 999);
    memset(&a, 0, sizeof(a));
    pmc_cache_walk(c, collect, &a);
    assert_int_equal(a.packets, 999);
    assert_int_equal(pmc_cache_walk_part(c, 2, 2, mark, seen), -EINVAL);
    assert_int_equal(pmc_cache_walk_part(c, 0, 0, mark, seen), -EINVAL);
    pmc_cache_free(c);
    fakehost_reset();
}

/* Refs taken by cache_walk_part_ref, by port. */
struct refs {
    uint64_t ref[1000];
    int walked[1000];
    int n;
};

static int take_ref(void *ud, const struct pm_row *row, uint64_t ref)
{
    struct refs *r = ud;
    r->ref[row->rec->src_port] = ref;
    r->walked[row->rec->src_port]++;
    r->n++;
    return PM_WALK_DELETE | PM_WALK_RESET; /* ignored */
}

/* Ports of the rows cache_rows gives, in order; stops after `stop`. */
struct ports {
    int port[1000];
    uint64_t packets;
    int n, stop;
};

static int take_port(void *ud, const struct pm_row *row)
{
    struct ports *p = ud;
    p->port[p->n++] = row->rec->src_port;
    p->packets += row->packets;
    return p->n == p->stop ? PM_WALK_STOP : PM_WALK_NEXT;
}

/* cache_walk_part_ref tells each aggregate's ref (parts together: every
 * one once); cache_rows gives the rows of refs back in the order asked
 * (here by descending port, more than it reads ahead), with their
 * records and counters, and stops when told; a ref that names no
 * aggregate (past the end, or deleted) is skipped with -ENOENT. */
static void test_rows_by_ref(void **st)
{
    struct pm_cache *c = cache_999();
    static struct refs r;
    static struct ports p;
    static uint64_t want[1000];
    struct acc a;
    (void)st;
    memset(&r, 0, sizeof(r));
    for (uint32_t part = 0; part < 3; part++)
        assert_int_equal(pmc_cache_walk_part_ref(c, part, 3, take_ref, &r), 0);
    assert_int_equal(r.n, 999);
    assert_int_equal(pmc_cache_count(c), 999);
    int n = 0;
    for (int port = 999; port >= 0; port--) {
        assert_true(r.walked[port] <= 1);
        if (r.walked[port])
            want[n++] = r.ref[port];
    }
    assert_int_equal(n, 999);
    memset(&p, 0, sizeof(p));
    assert_int_equal(pmc_cache_rows(c, want, (size_t)n, take_port, &p), 0);
    assert_int_equal(p.n, 999);
    assert_int_equal(p.packets, 999);
    for (int i = 1; i < p.n; i++)
        assert_true(p.port[i] < p.port[i - 1]);
    memset(&p, 0, sizeof(p));
    p.stop = 10;
    assert_int_equal(pmc_cache_rows(c, want, (size_t)n, take_port, &p), 0);
    assert_int_equal(p.n, 10);
    /* refs of no aggregate: skipped, the others given */
    uint64_t bad[3] = {want[0], UINT64_MAX, want[1]};
    memset(&p, 0, sizeof(p));
    assert_int_equal(pmc_cache_rows(c, bad, 3, take_port, &p), -ENOENT);
    assert_int_equal(p.n, 2);
    a = (struct acc){.ret = PM_WALK_DELETE | PM_WALK_STOP};
    pmc_cache_walk(c, collect, &a); /* one more deleted: its ref too */
    memset(&p, 0, sizeof(p));
    assert_int_equal(pmc_cache_rows(c, want, (size_t)n, take_port, &p), -ENOENT);
    assert_int_equal(p.n, 998);
    pmc_cache_free(c);
    fakehost_reset();
}

static void test_speed(void **st)
{
    struct pm_instance *in = fakehost_instance(
        "memory", "a", PM_KIND_OUTPUT, "src_host,dst_host,src_port,dst_port,proto,vlan");
    struct pm_cache *c = pmc_cache_new(in, NULL);
    struct pm_batch *b = pmc_batch_new(1024, 1024, 0);
    struct timespec t0, t1;
    uint32_t i, k;
    (void)st;
    for (i = 0; i < 1024; i++)
        add(b, (uint8_t)(i & 0xff), 2, (uint16_t)(i * 7), 1, 100);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (k = 0; k < 1000; k++) {
        for (i = 0; i < 1024; i++)
            pm_batch_rec(b, i)->dst_port = (uint16_t)(k % 100);
        pmc_cache_add(c, b);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "cache: 1.024M records, %llu aggregates, %.3f s\n",
            (unsigned long long)pmc_cache_count(c),
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    assert_int_equal(pmc_cache_count(c), 102400);
    pmc_cache_free(c);
    pmc_batch_free(b);
    fakehost_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),       cmocka_unit_test(test_sum_host),
        cmocka_unit_test(test_tcpflags_or),
        cmocka_unit_test(test_history_parse),
        cmocka_unit_test(test_preproc),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_history_epoch),     cmocka_unit_test(test_strings),
        cmocka_unit_test(test_max_entries), cmocka_unit_test(test_walk_part),
        cmocka_unit_test(test_rows_by_ref),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
