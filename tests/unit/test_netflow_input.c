/*
 * test_netflow_input.c - unit tests of the netflow module's inputs with the
 * fake host: the committed vendor datagrams of tests/data/netflow/ (and the
 * full corpus in ../shared/corpus beside the checkout when present), the
 * pcap savefile input, the UDP socket, allow lists, and the IPFIX stream
 * framer (TCP/SCTP).  Single-threaded except the UDP test, which runs the
 * capture on a thread and polls with a deadline.
 */
#include "test_netflow_util.h"

/* ---- vendor datagrams -------------------------------------------------- */
static int read_file(const char *path, struct wb *w)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    w->n = (uint32_t)fread(w->b, 1, sizeof(w->b), fp);
    fclose(fp);
    return 0;
}

static void data_path(char *out, size_t len, const char *name)
{
    const char *src = getenv("top_srcdir");
    snprintf(out, len, "%s/tests/data/netflow/%s", src ? src : ".", name);
}

static void feed_file(struct fx *f, const char *name)
{
    char p[1024];
    struct wb w;
    data_path(p, sizeof(p), name);
    if (read_file(p, &w) < 0)
        fail_msg("cannot read %s", p);
    feed(f, &w);
}

static struct pm_rec *find_rec(struct fx *f, const char *src, const char *dst)
{
    uint32_t n = nrecs(f);
    for (uint32_t i = 0; i < n; i++) {
        struct pm_rec *r = rec(f, i, NULL);
        if (!strcmp(ipstr(&r->src_host), src) &&
            (!dst || !strcmp(ipstr(&r->dst_host), dst)))
            return r;
    }
    fail_msg("no record %s -> %s", src, dst ? dst : "*");
    return NULL;
}

static void test_vendor_datagrams(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    /* Juniper MX80 NetFlow v5 (tshark: 29 flows, first 202.x) */
    feed_file(f, "netflow5_test_juniper_mx80.dat");
    assert_int_equal(ctr("malformed"), 0);
    assert_true(nrecs(f) > 0);
    fx_free(f);

    /* Cisco ASA NSEL: templates then data */
    f = fx_new(NULL);
    feed_file(f, "netflow9_test_cisco_asa_1_tpl.dat");
    feed_file(f, "netflow9_test_cisco_asa_1_data.dat");
    assert_int_equal(ctr("malformed"), 0);
    assert_int_equal(ctr("unknown_template"), 0);
    assert_true(nrecs(f) > 0);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_true(pm_rec_has(r, PM_P_FW_EVENT));
    assert_true(pm_rec_has(r, PM_P_POST_NAT_SRC_HOST));
    fx_free(f);

    /* IPFIX: nProbe-like template+data in one message */
    f = fx_new(NULL);
    feed_file(f, "ipfix.dat");
    assert_int_equal(ctr("malformed"), 0);
    assert_true(nrecs(f) > 0);
    fx_free(f);

    /* Juniper MX240 IPFIX options template (sampling) */
    f = fx_new(NULL);
    feed_file(f, "ipfix_test_juniper_mx240_junos151r6s3_opttpl512.dat");
    feed_file(f, "ipfix_test_juniper_mx240_junos151r6s3_data512.dat");
    assert_int_equal(ctr("malformed"), 0);
    fx_free(f);

    /* YAF with variable-length and enterprise fields */
    f = fx_new(NULL);
    feed_file(f, "ipfix_test_yaf_tpls_option_tpl.dat");
    feed_file(f, "ipfix_test_yaf_tpl45841.dat");
    feed_file(f, "ipfix_test_yaf_data45841.dat");
    assert_int_equal(ctr("malformed"), 0);
    assert_true(nrecs(f) > 0);
    fx_free(f);
    (void)find_rec;
}

/* Every datagram of the shared corpus, templates first: no crash, counted.
 * Skipped when the corpus is absent. */
static void test_corpus(void **state)
{
    (void)state;
    /* shared/ stands beside the checkout when it exists at all */
    char dir[4096];
    const char *top = getenv("top_srcdir");
    snprintf(dir, sizeof(dir), "%s/../shared/corpus/logstash-netflow",
             top ? top : ".");
    if (access(dir, R_OK) != 0) {
        skip();
        return;
    }
    struct fx *f = fx_new(NULL);
    char cmd[4608];
    snprintf(cmd, sizeof(cmd),
             "ls %s/*.dat | awk '/tpl/{print 0, $0; next}{print 1, $0}' | "
             "sort | cut -d' ' -f2",
             dir);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    char line[1024];
    int files = 0;
    while (fgets(line, sizeof(line), ls)) {
        line[strcspn(line, "\n")] = 0;
        struct wb w;
        if (read_file(line, &w) == 0) {
            /* one exporter per vendor capture: templates of different
             * captures reuse ids */
            const char *base = strrchr(line, '/') + 1;
            size_t glen = strlen(base);
            const char *cuts[] = {"_tpl", "_data", "_opttpl", ".dat"};
            for (int k = 0; k < 4; k++) {
                const char *x = strstr(base, cuts[k]);
                if (x && (size_t)(x - base) < glen)
                    glen = (size_t)(x - base);
            }
            uint32_t hsh = 2166136261u;
            for (size_t k = 0; k < glen; k++)
                hsh = (hsh ^ (uint8_t)base[k]) * 16777619u;
            pm_ip_t exp;
            uint8_t a4[4] = {10, (uint8_t)(hsh >> 16), (uint8_t)(hsh >> 8),
                             (uint8_t)hsh};
            pm_ip_set4(&exp, a4);
            uint8_t *copy = malloc(w.n ? w.n : 1);
            memcpy(copy, w.b, w.n);
            nf_datagram(f->c, copy, w.n, &exp, &f->now);
            free(copy);
            files++;
        }
    }
    pclose(ls);
    assert_true(files > 50);
    print_message("corpus: %d files, %u records, %llu malformed, %llu "
                  "unknown template\n",
                  files, nrecs(f), (unsigned long long)ctr("malformed"),
                  (unsigned long long)ctr("unknown_template"));
    fx_free(f);
}

/* ---- input: savefile, socket, allow list ----------------------------- */
static void write_pcap(const char *path, const struct wb *payload)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    fwrite(gh, 4, 6, fp);
    uint8_t fr[2048];
    uint32_t n = 0;
    memset(fr, 0, 14);
    fr[12] = 0x08;
    n = 14;
    uint32_t iplen = 20 + 8 + payload->n;
    uint8_t ip[20] = {0x45, 0, (uint8_t)(iplen >> 8), (uint8_t)iplen, 0, 0, 0,
                      0, 64, 17, 0, 0, 198, 51, 100, 7, 10, 0, 0, 1};
    memcpy(fr + n, ip, 20);
    n += 20;
    uint8_t udp[8] = {0x30, 0x39, 0x08, 0x34, (uint8_t)((8 + payload->n) >> 8),
                      (uint8_t)(8 + payload->n), 0, 0};
    memcpy(fr + n, udp, 8);
    n += 8;
    memcpy(fr + n, payload->b, payload->n);
    n += payload->n;
    uint32_t ph[4] = {1700000005, 0, n, n};
    for (int i = 0; i < 2; i++) {
        fwrite(ph, 4, 4, fp);
        fwrite(fr, 1, n, fp);
    }
    fclose(fp);
}

static void test_savefile(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_netflow.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], allow[256];
    snprintf(path, sizeof(path), "%s/in.pcap", dir);
    snprintf(allow, sizeof(allow), "%s/allow", dir);
    struct wb w;
    build_v5(&w, 1, 0);
    write_pcap(path, &w);
    struct fx *f = fx_new("pcap_savefile", path, NULL);
    assert_int_equal(f->d->start(f->c), 0);
    assert_int_equal(f->d->run(f->c), PM_RUN_EOF);
    assert_int_equal(nrecs(f), 4);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->peer_src_ip), "198.51.100.7");
    assert_int_equal(r->ts_arrival.sec, 1700000005);
    fx_free(f);

    /* allow list that refuses the exporter */
    FILE *fp = fopen(allow, "w");
    fprintf(fp, "# exporters\n10.0.0.0/8\n2001:db8::/32\n198.51.100.8\n");
    fclose(fp);
    f = fx_new("pcap_savefile", path, "nfacctd_allow_file", allow, NULL);
    assert_int_equal(f->d->start(f->c), 0);
    assert_int_equal(f->d->run(f->c), PM_RUN_EOF);
    assert_int_equal(nrecs(f), 0);
    assert_int_equal(ctr("denied"), 2);
    fx_free(f);

    /* a bad line is reported with file:line */
    fp = fopen(allow, "w");
    fprintf(fp, "10.0.0.1\n\nnot-an-ip\n");
    fclose(fp);
    f = fx_new("pcap_savefile", path, "nfacctd_allow_file", allow, NULL);
    assert_true(f->d->start(f->c) < 0);
    char want[300];
    snprintf(want, sizeof(want), "%s:3:", allow);
    assert_non_null(strstr(fakehost_log_text(), want));
    fx_free(f);
    unlink(path);
    unlink(allow);
    rmdir(dir);
}

static void *run_thread(void *arg)
{
    struct fx *f = arg;
    f->d->run(f->c);
    return NULL;
}

static void test_udp_socket(void **state)
{
    (void)state;
    struct fx *f = fx_new("nfacctd_ip", "127.0.0.1", "nfacctd_port", "0",
                          "nfacctd_pipe_size", "1M", NULL);
    int rc = f->d->start(f->c);
    if (rc < 0) {
        fx_free(f);
        FAKEHOST_SKIP("cannot open a UDP socket on 127.0.0.1");
        return;
    }
    uint16_t port = pm_udpin_port(f->c->in);
    assert_true(port != 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, f), 0);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct wb w;
    build_v5(&w, 1, 0);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t got = 0;
    for (;;) {
        sendto(s, w.b, w.n, 0, (struct sockaddr *)&sa, sizeof(sa));
        got = (uint32_t)ctr("records");
        if (got >= 2)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10)
            break;
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL); /* pacing the sender, not waiting for a result */
    }
    close(s);
    fakehost_set_stop(1);
    pthread_join(th, NULL);
    assert_true(got >= 2);
    struct pm_rec *r = rec(f, 0, NULL);
    assert_string_equal(ipstr(&r->peer_src_ip), "127.0.0.1");
    fx_free(f);
}

static void test_prefix_parse(void **state)
{
    (void)state;
    struct pm_prefix p;
    assert_int_equal(pm_prefix_parse(&p, "10.1.2.3/8"), 0);
    assert_int_equal(p.len, 8);
    assert_string_equal(ipstr(&p.net), "10.0.0.0");
    assert_int_equal(pm_prefix_parse(&p, "2001:db8::1"), 0);
    assert_int_equal(p.len, 128);
    assert_int_equal(pm_prefix_parse(&p, "10.0.0.0/33"), -EINVAL);
    assert_int_equal(pm_prefix_parse(&p, "x"), -EINVAL);
}
/* ---- IPFIX over TCP/SCTP: the stream framer --------------------------- */
static void test_stream_framer(void **state)
{
    (void)state;
    char err[160];
    uint32_t ml = 0;
    uint8_t m[20] = {0, 10, 0, 20};
    assert_int_equal(nf_stream_frame(m, 3, &ml, err, sizeof(err)), 0);
    assert_int_equal(nf_stream_frame(m, 19, &ml, err, sizeof(err)), 0);
    assert_int_equal(nf_stream_frame(m, 20, &ml, err, sizeof(err)), 1);
    assert_int_equal(ml, 20);
    m[3] = 0; /* length 0 */
    assert_int_equal(nf_stream_frame(m, 20, &ml, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "length 0 is shorter than its 16-byte header"));
    m[3] = 15;
    assert_int_equal(nf_stream_frame(m, 20, &ml, err, sizeof(err)), -EINVAL);
    m[1] = 9, m[3] = 20; /* NetFlow v9 is not framed by length */
    assert_int_equal(nf_stream_frame(m, 20, &ml, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "version 9"));

    /* ipfix.dat (several messages: templates and data) as datagrams, one
     * message each, then three times as one stream fed a byte at a time:
     * three times the messages and the records */
    char p[1024];
    struct wb w;
    data_path(p, sizeof(p), "ipfix.dat");
    if (read_file(p, &w) < 0)
        fail_msg("cannot read %s", p);
    struct fx *f = fx_new(NULL);
    uint32_t nmsg = 0;
    for (uint32_t off = 0; off + 4 <= w.n; nmsg++) {
        uint32_t l = (uint32_t)(w.b[off + 2] << 8 | w.b[off + 3]);
        assert_true(l >= 16 && off + l <= w.n);
        nf_datagram(f->c, w.b + off, l, &f->exp, &f->now);
        off += l;
    }
    uint32_t one = nrecs(f);
    assert_true(nmsg > 1);
    assert_true(one > 0);
    fx_free(f);
    f = fx_new(NULL);
    static uint8_t stream[3 * 4096], buf[65536];
    uint32_t sl = 0, len = 0;
    for (int i = 0; i < 3; i++, sl += w.n)
        memcpy(stream + sl, w.b, w.n);
    uint64_t msgs = 0;
    for (uint32_t i = 0; i < sl; i++) {
        buf[len++] = stream[i];
        assert_int_equal(nf_stream_feed(f->c, buf, &len, &f->exp, &f->now,
                                        &msgs, err, sizeof(err)),
                         0);
    }
    assert_int_equal(len, 0);
    assert_int_equal(msgs, 3 * nmsg);
    assert_int_equal(nrecs(f), 3 * one);
    /* a broken message after good ones: error, the good ones decoded */
    memcpy(buf, "\x00\x0a\x00\x00", 4);
    len = 4;
    assert_int_equal(nf_stream_feed(f->c, buf, &len, &f->exp, &f->now, &msgs,
                                    err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(msgs, 3 * nmsg);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vendor_datagrams),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_savefile),
        cmocka_unit_test(test_udp_socket),
        cmocka_unit_test(test_prefix_parse),
        cmocka_unit_test(test_stream_framer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
