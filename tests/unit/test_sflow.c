/*
 * test_sflow.c - unit tests of the sflow capture module with the fake host:
 * crafted v2/v4/v5 datagrams (tests/data/sflow/ *.pcap, made by
 * gen_sflow.py) and real captures (tests/data/sflow/akvorado/) are read
 * through pcap_savefile; the emitted records are aggregated and rendered
 * as CSV by the real libpmdata code and compared with what Debian's
 * sfacctd 1.7.7 printed for the same files (tests/data/sflow/expected/,
 * made by run_ref.sh).  Robustness: every truncation of every datagram,
 * lying counts and lengths, wrong versions: no crash, counted.
 *
 * The module's sources are linked in, so internal entry points
 * (sf_decode_datagram) are called directly.  Nothing is shared between
 * threads: run() is called on the test's thread.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "fakehost.h"
#include "sf_internal.h"

const struct pm_module_desc *pm_module_descriptor(void);

static const char *srcdir(void)
{
    const char *s = getenv("top_srcdir");
    return s ? s : ".";
}

static void data_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/tests/data/sflow/%s", srcdir(), name);
}

/* ---- running the module ------------------------------------------------ */

struct run {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
};

static void run_open(struct run *r, const char *agg, ...)
{
    va_list ap;
    const char *kv[32];
    int n = 0;

    fakehost_reset();
    r->d = pm_module_descriptor();
    r->inst = fakehost_instance("sflow", "default", PM_KIND_CAPTURE, agg);
    va_start(ap, agg);
    while (n < 30 && (kv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    kv[n] = NULL;
    r->cfg = fakehost_config(r->d, r->inst, n > 0 ? kv[0] : NULL,
                             n > 1 ? kv[1] : NULL, n > 2 ? kv[2] : NULL,
                             n > 3 ? kv[3] : NULL, n > 4 ? kv[4] : NULL,
                             n > 5 ? kv[5] : NULL, NULL);
    assert_int_equal(r->d->init(fakehost(), r->inst, r->cfg, &r->ctx), 0);
}

static void run_close(struct run *r)
{
    r->d->fini(r->ctx);
    fakehost_config_free(r->d, r->cfg);
}

/* Read a savefile through the module; returns run()'s result. */
static int run_file(struct run *r, const char *path)
{
    assert_int_equal(r->d->start(r->ctx), 0);
    return r->d->run(r->ctx);
}

/* Record i over all emitted batches (NULL past the end). */
static struct pm_rec *emitted_rec(uint32_t i, struct pm_batch **bout)
{
    uint32_t b, n = fakehost_emitted_count();
    for (b = 0; b < n; b++) {
        struct pm_batch *bt = fakehost_emitted(b);
        if (i < bt->n) {
            if (bout)
                *bout = bt;
            return pm_batch_rec(bt, i);
        }
        i -= bt->n;
    }
    return NULL;
}

static uint32_t emitted_total(void)
{
    uint32_t b, n = fakehost_emitted_count(), t = 0;
    for (b = 0; b < n; b++)
        t += fakehost_emitted(b)->n;
    return t;
}

/* Find the record whose src_host is the IPv4 address a.b.c.d. */
static struct pm_rec *rec_by_src4(const char *ip, struct pm_batch **bout)
{
    uint32_t i;
    struct pm_rec *r;
    uint8_t a[4];
    unsigned x[4];
    sscanf(ip, "%u.%u.%u.%u", &x[0], &x[1], &x[2], &x[3]);
    for (i = 0; i < 4; i++)
        a[i] = (uint8_t)x[i];
    for (i = 0; (r = emitted_rec(i, bout)) != NULL; i++)
        if (r->src_host.af == 4 && !memcmp(r->src_host.a, a, 4))
            return r;
    return NULL;
}

static char *str_of(struct pm_batch *b, pm_sref_t s)
{
    static char buf[512];
    size_t n = s.len < sizeof(buf) - 1 ? s.len : sizeof(buf) - 1;
    memcpy(buf, pm_batch_str(b, s), n);
    buf[n] = '\0';
    return buf;
}

/* ---- CSV comparison with sfacctd 1.7.7 ---------------------------------- */

static const char *AGG_A =
    "src_host,dst_host,src_port,dst_port,proto,tos,tcpflags,vlan,cos,etype,"
    "src_mac,dst_mac,in_iface,out_iface,peer_src_ip,peer_dst_ip,sampling_"
    "rate,export_proto_seqno,export_proto_version,export_proto_sysid,src_"
    "mask,dst_mask";
static const char *AGG_B = "src_host,src_as,dst_as,peer_src_as,peer_dst_as,"
                           "as_path,std_comm,local_pref,peer_dst_ip";
static const char *AGG_C =
    "src_host,dst_host,vxlan,tunnel_src_host,tunnel_dst_host,tunnel_proto,"
    "tunnel_src_port,tunnel_dst_port,tunnel_src_mac,tunnel_dst_mac,tunnel_"
    "tos";

struct walkbuf {
    const struct pm_host *h;
    struct pm_render *rn;
    struct pm_buf out;
};

static int walk_row(void *ud, const struct pm_row *row)
{
    struct walkbuf *w = ud;
    w->h->render_row(w->rn, row, &w->out);
    return PM_WALK_NEXT;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Header + rows sorted, as run_ref.sh prints them. */
static char *render_sorted(struct pm_instance *inst)
{
    const struct pm_host *h = fakehost();
    struct pm_cache_cfg cc;
    struct pm_render_cfg rc;
    struct pm_cache *cache;
    struct walkbuf w;
    struct pm_buf hdr = {0};
    char *lines[4096], *p, *res;
    size_t nl = 0, i, total = 0;
    uint32_t b;

    memset(&cc, 0, sizeof(cc));
    cache = h->cache_new(inst, &cc);
    assert_non_null(cache);
    for (b = 0; b < fakehost_emitted_count(); b++)
        assert_true(h->cache_add(cache, fakehost_emitted(b)) >= 0);
    memset(&rc, 0, sizeof(rc));
    rc.fmt = PM_FMT_CSV;
    rc.flags = PM_RENDER_NO_FLOWS;
    rc.prims = inst->aggregate;
    rc.nprims = inst->naggregate;
    w.h = h;
    w.rn = h->render_new(&rc);
    assert_non_null(w.rn);
    memset(&w.out, 0, sizeof(w.out));
    h->render_header(w.rn, &hdr);
    h->cache_walk(cache, walk_row, &w);
    for (p = w.out.p; p && *p && nl < 4096;) {
        char *e = strchr(p, '\n');
        if (!e)
            break;
        *e = '\0';
        lines[nl++] = p;
        p = e + 1;
    }
    qsort(lines, nl, sizeof(lines[0]), cmp_line);
    total = hdr.len + 2;
    for (i = 0; i < nl; i++)
        total += strlen(lines[i]) + 1;
    res = calloc(1, total + 1);
    if (hdr.p)
        strcat(res, hdr.p);
    for (i = 0; i < nl; i++) {
        strcat(res, lines[i]);
        strcat(res, "\n");
    }
    free(hdr.p);
    free(w.out.p);
    h->render_free(w.rn);
    h->cache_free(cache);
    return res;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

/* Read pcap `name`, aggregate by `agg`, compare with expected/<exp>. */
static int compare_ref(const char *name, const char *agg, const char *exp,
                       int renormalize)
{
    struct run r;
    char path[1024], epath[1024];
    char *got, *want;
    int ok;

    data_path(path, sizeof(path), name);
    data_path(epath, sizeof(epath), exp);
    run_open(&r, agg, "pcap_savefile", path, "sfacctd_renormalize",
             renormalize ? "true" : "false", NULL);
    assert_int_equal(run_file(&r, path), PM_RUN_EOF);
    got = render_sorted(r.inst);
    want = slurp(epath);
    assert_non_null(want);
    ok = !strcmp(got, want);
    if (!ok)
        fprintf(stderr, "--- %s %s: expected\n%s--- got\n%s", name, exp, want,
                got);
    free(got);
    free(want);
    run_close(&r);
    return ok;
}

static const char *const crafted[] = {
    "v5_basic",    "v5_vlan",      "v5_nexthop",    "v5_aspath",
    "v5_expanded", "v5_ifformat",  "v5_sampled_ip", "v5_ipv6",
    "v5_misc",     "v5_counters",  "v5_seqgap",     "v4",
    "v2",          "v5_truncated", "v5_edge",       NULL};
static const char *const corpus[] = {"data-1140",
                                     "data-discard-interface",
                                     "data-encap-vxlan",
                                     "data-icmpv4",
                                     "data-icmpv6",
                                     "data-local-interface",
                                     "data-multiple-interfaces",
                                     "data-sflow-expanded-sample",
                                     "data-sflow-ipv4-data",
                                     "data-sflow-raw-ipv4",
                                     NULL};

static void check_set(const char *const *names, const char *dir)
{
    static const struct {
        const char *suffix;
        const char **agg;
        int renorm;
    } sets[] = {
        {"A", &AGG_A, 0}, {"B", &AGG_B, 0}, {"C", &AGG_C, 0}, {"R", NULL, 1}};
    int fails = 0;
    unsigned i, s;

    for (i = 0; names[i]; i++)
        for (s = 0; s < 4; s++) {
            char pc[256], ex[256];
            snprintf(pc, sizeof(pc), "%s%s.pcap", dir, names[i]);
            snprintf(ex, sizeof(ex), "expected/%s.%s.csv", names[i],
                     sets[s].suffix);
            if (!compare_ref(pc,
                             sets[s].agg ? *sets[s].agg
                                         : "src_host,dst_host,sampling_rate",
                             ex, sets[s].renorm)) {
                fprintf(stderr, "MISMATCH %s set %s\n", names[i],
                        sets[s].suffix);
                fails++;
            }
        }
    assert_int_equal(fails, 0);
}

static void test_ref_crafted(void **state)
{
    (void)state;
    check_set(crafted, "");
}

static void test_ref_corpus(void **state)
{
    (void)state;
    check_set(corpus, "akvorado/");
}

/* ---- field checks -------------------------------------------------------- */

static void test_v5_basic_fields(void **state)
{
    struct run r;
    char path[1024];
    struct pm_batch *b = NULL;
    struct pm_rec *x;

    (void)state;
    data_path(path, sizeof(path), "v5_basic.pcap");
    run_open(&r, AGG_B, "pcap_savefile", path, NULL);
    assert_int_equal(run_file(&r, path), PM_RUN_EOF);
    assert_int_equal(emitted_total(), 2);
    x = rec_by_src4("10.0.0.1", &b);
    assert_non_null(x);
    assert_int_equal(x->packets, 1);
    assert_int_equal(x->bytes, 158);
    assert_int_equal(x->vlan, 10);
    assert_int_equal(x->cos, 3);
    assert_int_equal(x->in_iface, 3);
    assert_int_equal(x->out_iface, 4);
    assert_int_equal(x->sampling_rate, 1000);
    assert_int_equal(x->src_mask, 24);
    assert_int_equal(x->dst_mask, 16);
    assert_int_equal(x->src_as, 64500);
    assert_int_equal(x->dst_as, 64503);
    assert_int_equal(x->peer_src_as, 64501);
    assert_int_equal(x->peer_dst_as, 64501);
    assert_int_equal(x->local_pref, 150);
    assert_string_equal(str_of(b, x->as_path), "64501_64502_64503");
    assert_string_equal(str_of(b, x->std_comm), "65000:100_65000:200");
    assert_true(pm_rec_has(x, PM_P_PEER_DST_IP));
    assert_int_equal(x->peer_dst_ip.a[0], 198);
    assert_int_equal(x->export_proto_version, 5);
    assert_int_equal(x->export_proto_seqno, 100);
    assert_int_equal(x->proto, 6);
    assert_int_equal(x->src_port, 1234);
    assert_int_equal(x->dst_port, 80);
    x = rec_by_src4("10.0.0.3", &b);
    assert_non_null(x);
    assert_int_equal(x->vlan, 30); /* from the 802.1Q tag of the header */
    assert_int_equal(x->cos, 5);
    assert_int_equal(x->tos, 0x20);
    assert_false(pm_rec_has(x, PM_P_PEER_DST_IP));
    assert_int_equal(fakehost_counter_value("datagrams"), 1);
    assert_int_equal(fakehost_counter_value("flow_samples"), 2);
    assert_int_equal(fakehost_counter_value("records"), 2);
    assert_int_equal(fakehost_counter_value("malformed"), 0);
    run_close(&r);
}

static void test_ipv6_agent(void **state)
{
    struct run r;
    char path[1024];
    struct pm_rec *x;
    uint32_t i;
    static const uint8_t agent[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                      0,    0,    0,    0,    0, 0, 0, 0x0a};

    (void)state;
    data_path(path, sizeof(path), "v5_ipv6.pcap");
    run_open(&r, AGG_A, "pcap_savefile", path, NULL);
    assert_int_equal(run_file(&r, path), PM_RUN_EOF);
    assert_int_equal(emitted_total(), 3);
    for (i = 0; (x = emitted_rec(i, NULL)) != NULL; i++) {
        assert_int_equal(x->peer_src_ip.af, 6);
        assert_memory_equal(x->peer_src_ip.a, agent, 16);
        assert_int_equal(x->export_proto_sysid, 9);
        assert_int_equal(x->export_proto_seqno, 55);
    }
    run_close(&r);
}

static void counters_file(const char *name, uint32_t nrec, uint64_t nsamples)
{
    struct run r;
    char path[1024], cnt[] = "/tmp/test_sflow_cnt.XXXXXX", *got, *want,
                     epath[1024];
    int fd = mkstemp(cnt);
    char *p, *q;

    assert_true(fd >= 0);
    close(fd);
    {
        char pn[256];
        snprintf(pn, sizeof(pn), "%s.pcap", name);
        data_path(path, sizeof(path), pn);
    }
    {
        char e[256];
        snprintf(e, sizeof(e), "expected/%s.cnt", name);
        data_path(epath, sizeof(epath), e);
    }
    run_open(&r, AGG_A, "pcap_savefile", path, "sfacctd_counter_file", cnt,
             NULL);
    assert_int_equal(run_file(&r, path), PM_RUN_EOF);
    /* counter samples never become records */
    assert_int_equal(emitted_total(), nrec);
    assert_int_equal(fakehost_counter_value("counter_samples"), nsamples);
    run_close(&r);
    got = slurp(cnt);
    want = slurp(epath);
    assert_non_null(got);
    assert_non_null(want);
    /* blank the timestamps (wall clock) on both sides */
    for (p = got; (p = strstr(p, "\"timestamp\": \"")) != NULL;)
        for (p += 14, q = p; *q && *q != '"'; q++)
            *q = 'T';
    for (p = want; (p = strstr(p, "\"timestamp\": \"")) != NULL;)
        for (p += 14, q = p; *q && *q != '"'; q++)
            *q = 'T';
    assert_string_equal(got, want);
    free(got);
    free(want);
    unlink(cnt);
}

static void test_counters_file(void **state)
{
    (void)state;
    counters_file("v5_counters", 1, 3);
    counters_file("v4", 2, 1);
}

static void test_seq_gaps(void **state)
{
    struct run r;
    char path[1024];

    (void)state;
    data_path(path, sizeof(path), "v5_seqgap.pcap");
    run_open(&r, AGG_A, "pcap_savefile", path, NULL);
    assert_int_equal(run_file(&r, path), PM_RUN_EOF);
    assert_int_equal(fakehost_counter_value("datagrams"), 4);
    assert_int_equal(fakehost_counter_value("seq_gaps"), 1); /* 2 -> 5 */
    assert_non_null(strstr(fakehost_log_text(), "192.0.2.1"));
    run_close(&r);
}

/* ---- robustness ------------------------------------------------------------
 */

/* Every datagram of every crafted file, cut at every length. */
static void test_truncation(void **state)
{
    struct run r;
    unsigned f;
    pm_ts_t ts = {1700000000, 0, 0};

    (void)state;
    run_open(&r, AGG_B, NULL);
    for (f = 0; crafted[f]; f++) {
        char path[1024], err[PCAP_ERRBUF_SIZE];
        pcap_t *pc;
        struct pcap_pkthdr *h;
        const u_char *data;

        snprintf(path, sizeof(path), "%s/tests/data/sflow/%s.pcap", srcdir(),
                 crafted[f]);
        pc = pcap_open_offline(path, err);
        assert_non_null(pc);
        while (pcap_next_ex(pc, &h, &data) == 1) {
            struct pm_dgram dg;
            uint32_t cut;
            if (pm_udp_from_frame(pcap_datalink(pc), data, h->caplen, &dg) < 0)
                continue;
            for (cut = 0; cut <= dg.len; cut++) {
                /* copy so that ASan sees reads past the cut */
                uint8_t *copy = malloc(cut ? cut : 1);
                uint64_t before = fakehost_counter_value("malformed");
                int rc;
                memcpy(copy, dg.data, cut);
                rc = sf_decode_datagram(r.ctx, copy, cut, &dg.src, &ts);
                if (rc < 0)
                    assert_true(fakehost_counter_value("malformed") > before);
                free(copy);
            }
        }
        pcap_close(pc);
    }
    sf_flush_batch(r.ctx);
    assert_true(fakehost_counter_value("malformed") > 0);
    run_close(&r);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Counts and lengths that lie, wrong versions, random garbage. */
static void test_lies(void **state)
{
    struct run r;
    pm_ts_t ts = {1700000000, 0, 0};
    pm_ip_t src;
    uint8_t d[256];
    uint64_t m;
    unsigned i, seed = 12345;
    static const uint8_t a4[4] = {192, 0, 2, 99};

    (void)state;
    pm_ip_set4(&src, a4);
    run_open(&r, AGG_B, NULL);
    memset(d, 0, sizeof(d));
    /* version 3 */
    put32(d, 3);
    m = fakehost_counter_value("malformed");
    assert_int_equal(sf_decode_datagram(r.ctx, d, 64, &src, &ts), -EINVAL);
    assert_int_equal(fakehost_counter_value("malformed"), m + 1);
    assert_non_null(strstr(fakehost_log_text(), "192.0.2.99"));
    /* v5 header with 1000 samples and nothing after */
    put32(d, 5);
    put32(d + 4, 1);
    memcpy(d + 8, a4, 4);
    put32(d + 12, 0);
    put32(d + 16, 1);
    put32(d + 20, 0);
    put32(d + 24, 1000);
    m = fakehost_counter_value("malformed");
    assert_int_equal(sf_decode_datagram(r.ctx, d, 28, &src, &ts), -EINVAL);
    assert_int_equal(fakehost_counter_value("malformed"), m + 1);
    /* a flow sample claiming 2^32-1 records, of length 0xffffffff */
    put32(d + 24, 1);
    put32(d + 28, 1);
    put32(d + 32, 0xfffffff0u);
    memset(d + 36, 0, 32);
    put32(d + 36 + 28, 0xffffffffu);
    assert_true(sf_decode_datagram(r.ctx, d, 36 + 32, &src, &ts) <= 0);
    /* zero-length records */
    put32(d + 32, 32 + 8 * 3);
    put32(d + 36 + 28, 3);
    for (i = 0; i < 3; i++) {
        put32(d + 36 + 32 + 8 * i, 1);
        put32(d + 36 + 32 + 8 * i + 4, 0);
    }
    m = fakehost_counter_value("malformed");
    sf_decode_datagram(r.ctx, d, 36 + 32 + 24, &src, &ts);
    assert_true(fakehost_counter_value("malformed") > m);
    /* garbage after a valid v5 header */
    for (i = 0; i < 2000; i++) {
        unsigned j;
        put32(d + 24, 1 + (seed % 5));
        for (j = 28; j < sizeof(d); j++) {
            seed = seed * 1103515245u + 12345u;
            d[j] = (uint8_t)(seed >> 16);
            if (j % 4 == 3 && (seed & 0x300) == 0)
                d[j - 3] = d[j - 2] = 0; /* keep some lengths small */
        }
        sf_decode_datagram(r.ctx, d, 28 + (seed % (sizeof(d) - 28)), &src, &ts);
    }
    sf_flush_batch(r.ctx);
    run_close(&r);
}

static void test_renormalize(void **state)
{
    struct run r;
    char path[1024];
    struct pm_rec *x;

    (void)state;
    data_path(path, sizeof(path), "v5_basic.pcap");
    run_open(&r, AGG_A, "pcap_savefile", path, "sfacctd_renormalize", "true",
             NULL);
    assert_int_equal(run_file(&r, path), PM_RUN_EOF);
    x = rec_by_src4("10.0.0.1", NULL);
    assert_non_null(x);
    assert_int_equal(x->packets, 1000);
    assert_int_equal(x->bytes, 158000);
    assert_int_equal(x->sampling_rate, 1);
    run_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v5_basic_fields),
        cmocka_unit_test(test_ipv6_agent),
        cmocka_unit_test(test_renormalize),
        cmocka_unit_test(test_seq_gaps),
        cmocka_unit_test(test_counters_file),
        cmocka_unit_test(test_ref_crafted),
        cmocka_unit_test(test_ref_corpus),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_lies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
