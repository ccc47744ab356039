/*
 * test_classify.c - unit tests of the classify transform against the fake
 * host: the flow table (both directions share one entry, tentatives, idle
 * expiry, eviction of a full table), the built-in .pat engine on crafted
 * payloads, the dns classifier's parser, and the refusal of files that are
 * not classifiers (bad magic, foreign ABI, missing symbol).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"
#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);
int dns_looks_like(const uint8_t *p, uint32_t len);

struct cls {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
    char dir[256];
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void mkdir_with(char *dir, size_t len, const char *const *pats)
{
    char cmd[1024];
    snprintf(dir, len, "/tmp/test_classify.XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (; pats && *pats; pats++) {
        snprintf(cmd, sizeof(cmd), "cp '%s/classifiers/patterns/%s' '%s/'",
                 CLS_SRCDIR, *pats, dir);
        assert_int_equal(system(cmd), 0);
    }
}

static void rmdir_all(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static int cls_open(struct cls *c, const char *table_num, const char *tent)
{
    c->d = pm_module_descriptor();
    c->inst = fakehost_instance("classify", "p", PM_KIND_TRANSFORM,
                                "src_host,dst_host,class");
    c->cfg = fakehost_config(c->d, c->inst, "classifiers", c->dir,
                             "classifier_table_num", table_num,
                             "classifier_tentatives", tent, NULL);
    c->ctx = NULL;
    return c->d->init(fakehost(), c->inst, c->cfg, &c->ctx);
}

static void cls_close(struct cls *c)
{
    if (c->ctx)
        c->d->fini(c->ctx);
    fakehost_config_free(c->d, c->cfg);
    rmdir_all(c->dir);
    fakehost_reset();
}

static size_t force_len; /* payload length when it holds NULs */

/* Ethernet + IPv4 + TCP/UDP frame with payload into buf; decoded into r. */
static void mkpkt(struct pm_rec *r, uint8_t *buf, uint8_t proto,
                  uint8_t a_last, uint16_t sp, uint8_t b_last, uint16_t dp,
                  const char *payload, uint64_t sec)
{
    size_t pl = force_len ? force_len : payload ? strlen(payload) : 0, l4 = proto == 6 ? 20 : 8;
    uint8_t *ip = buf + 14, *t = ip + 20;
    uint32_t len = (uint32_t)(14 + 20 + l4 + pl);

    memset(buf, 0, len);
    buf[0] = 2;
    buf[6] = 4;
    put16(buf + 12, 0x0800);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + l4 + pl));
    ip[8] = 64;
    ip[9] = proto;
    ip[12] = 10;
    ip[15] = a_last;
    ip[16] = 10;
    ip[19] = b_last;
    put16(t, sp);
    put16(t + 2, dp);
    if (proto == 6) {
        t[12] = 5 << 4;
        t[13] = 0x18;
    } else {
        put16(t + 4, (uint16_t)(8 + pl));
    }
    memcpy(t + l4, payload ? payload : "", pl);
    memset(r, 0, sizeof(*r));
    assert_int_equal(fakehost()->decode_packet(r, 1, buf, len, len, 0),
                     PM_DEC_OK);
    r->pkt = buf;
    r->pkt_caplen = len;
    r->pkt_len = len;
    r->dlt = 1;
    r->ts_arrival.sec = sec;
}

/* Classify one packet; returns the class name or NULL. */
static const char *one(struct cls *c, uint8_t proto, uint8_t a, uint16_t sp,
                       uint8_t b, uint16_t dp, const char *payload,
                       uint64_t sec)
{
    static uint8_t buf[2048];
    struct pm_rec r;
    uint32_t id;
    mkpkt(&r, buf, proto, a, sp, b, dp, payload, sec);
    if (!classify_packet(c->ctx, &r, &id))
        return NULL;
    return classify_class_name(c->ctx, id);
}

static void test_both_directions(void **state)
{
    static const char *const pats[] = {"http.pat", "smtp.pat", NULL};
    struct cls c;
    (void)state;
    mkdir_with(c.dir, sizeof(c.dir), pats);
    assert_int_equal(cls_open(&c, "16", "5"), 0);
    /* handshake without payload: undecided */
    assert_null(one(&c, 6, 1, 40000, 2, 80, NULL, 1000));
    assert_null(one(&c, 6, 2, 80, 1, 40000, NULL, 1000));
    assert_int_equal(classify_table_used(c.ctx), 1);
    assert_string_equal(one(&c, 6, 1, 40000, 2, 80,
                            "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
                            1001),
                        "http");
    /* the reply direction shares the entry and its class */
    assert_string_equal(one(&c, 6, 2, 80, 1, 40000, "HTTP/1.1 200 OK\r\n",
                            1001),
                        "http");
    assert_int_equal(classify_table_used(c.ctx), 1);
    /* server-first protocol, decided on the greeting */
    assert_string_equal(one(&c, 6, 3, 25, 4, 5555,
                            "220 mx.example.org ESMTP ready\r\n", 1002),
                        "smtp");
    assert_string_equal(one(&c, 6, 4, 5555, 3, 25, "EHLO a\r\n", 1002),
                        "smtp");
    assert_int_equal(fakehost_counter_value("classified"), 2);
    assert_int_equal(fakehost_counter_value("class_http"), 1);
    cls_close(&c);
}

static void test_tentatives(void **state)
{
    static const char *const pats[] = {"http.pat", NULL};
    struct cls c;
    int i;
    (void)state;
    mkdir_with(c.dir, sizeof(c.dir), pats);
    assert_int_equal(cls_open(&c, "16", "3"), 0);
    for (i = 0; i < 3; i++)
        assert_null(one(&c, 6, 1, 1234, 2, 4321, "\x01\x02junk", 10));
    assert_int_equal(fakehost_counter_value("giveup"), 1);
    /* given up: a later matching payload does not classify */
    assert_null(one(&c, 6, 1, 1234, 2, 4321, "GET / HTTP/1.0\r\n", 10));
    cls_close(&c);
}

static void test_idle_and_eviction(void **state)
{
    static const char *const pats[] = {"http.pat", NULL};
    struct cls c;
    (void)state;
    mkdir_with(c.dir, sizeof(c.dir), pats);
    assert_int_equal(cls_open(&c, "2", "5"), 0);
    assert_null(one(&c, 6, 1, 1000, 2, 80, NULL, 100));
    assert_null(one(&c, 6, 1, 1001, 2, 80, NULL, 101));
    assert_int_equal(classify_table_used(c.ctx), 2);
    /* a third stream evicts the least recently seen one */
    assert_null(one(&c, 6, 1, 1002, 2, 80, NULL, 102));
    assert_int_equal(fakehost_counter_value("evicted"), 1);
    assert_int_equal(classify_table_used(c.ctx), 2);
    /* 400 s later (default idle timeout 300 s): both expire */
    assert_null(one(&c, 17, 5, 9, 6, 9, NULL, 502));
    assert_int_equal(fakehost_counter_value("expired"), 2);
    assert_int_equal(classify_table_used(c.ctx), 1);
    cls_close(&c);
}

static void test_patterns(void **state)
{
    static const char *const pats[] = {"http.pat", "smtp.pat", "pop3.pat",
                                       "imap.pat", "ftp.pat",  "sip.pat",
                                       "rtsp.pat", "irc.pat",  "nntp.pat",
                                       NULL};
    static const struct {
        const char *payload, *cls;
    } cases[] = {
        {"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", "pop3"},
        {"* OK [CAPABILITY IMAP4rev1] ready\r\n", "imap"},
        {"220 ProFTPD Server (Debian)\r\n", "ftp"},
        {"INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: x\r\n", "sip"},
        {"SIP/2.0 180 Ringing\r\n", "sip"},
        {"DESCRIBE rtsp://media.example.com/a RTSP/1.0\r\nCSeq: 1\r\n",
         "rtsp"},
        {"OPTIONS * RTSP/1.0\r\n", "rtsp"},
        {"NICK guest\r\nUSER guest 0 * :Ronnie Reagan\r\n", "irc"},
        {"200 news.example.com InterNetNews NNRP server ready\r\n", "nntp"},
        {"PUT /x HTTP/1.1\r\n", "http"},
    };
    struct cls c;
    unsigned i;
    (void)state;
    mkdir_with(c.dir, sizeof(c.dir), pats);
    assert_int_equal(cls_open(&c, "64", "5"), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = one(&c, 6, 1, (uint16_t)(2000 + i), 2, 9999,
                              cases[i].payload, 5);
        if (!got || strcmp(got, cases[i].cls))
            fail_msg("case %u: expected %s, got %s", i, cases[i].cls,
                     got ? got : "(none)");
    }
    /* not text protocols */
    assert_null(one(&c, 6, 1, 3000, 2, 80, "\x16\x03\x01\x02\x00", 5));
    cls_close(&c);
}

static void test_dns_parser(void **state)
{
    /* query for example.com A IN */
    static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0,
                                0,    0,    7,    'e',  'x', 'a', 'm', 'p',
                                'l',  'e',  3,    'c',  'o', 'm', 0,   0,
                                1,    0,    1};
    uint8_t bad[sizeof(q)];
    (void)state;
    assert_true(dns_looks_like(q, sizeof(q)));
    assert_false(dns_looks_like(q, sizeof(q) - 3)); /* truncated question */
    memcpy(bad, q, sizeof(q));
    bad[12] = 0x40; /* invalid label type */
    assert_false(dns_looks_like(bad, sizeof(bad)));
    memcpy(bad, q, sizeof(q));
    bad[5] = 0; /* no question */
    assert_false(dns_looks_like(bad, sizeof(bad)));
}

static void test_abi_refusal(void **state)
{
    struct pm_classifier d;
    char err[512];
    (void)state;
    memset(&d, 0, sizeof(d));
    d.magic = 0xdeadbeef;
    d.abi = PM_CLS_ABI;
    d.size = sizeof(d);
    d.name = "x";
    assert_int_equal(classify_check_desc(&d, "x.so", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "not a pmacct classifier"));
    d.magic = PM_CLASSIFIER_MAGIC;
    d.abi = (uint32_t)(PM_CLS_ABI_MAJOR + 1) << 16;
    assert_int_equal(classify_check_desc(&d, "x.so", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "rebuild it"));
    d.abi = PM_CLS_ABI | (PM_CLS_ABI_MINOR + 1);
    assert_int_equal(classify_check_desc(&d, "x.so", err, sizeof(err)),
                     -EINVAL);
    d.abi = PM_CLS_ABI;
    assert_int_equal(classify_check_desc(&d, "x.so", err, sizeof(err)),
                     -EINVAL); /* no classify() */
}

/* A .so that is not a classifier (a daemon module) is refused clearly;
 * a real one from the build tree is loaded. */
static void test_dir_loading(void **state)
{
    struct cls c;
    char cmd[1024];
    const char *got;
    (void)state;
    mkdir_with(c.dir, sizeof(c.dir), NULL);
    snprintf(cmd, sizeof(cmd),
             "test -f '%s/classifiers/.libs/dns.so' && "
             "cp '%s/classifiers/.libs/dns.so' '%s/'",
             CLS_BUILDDIR, CLS_BUILDDIR, c.dir);
    if (system(cmd) != 0) {
        rmdir_all(c.dir);
        FAKEHOST_SKIP("classifiers/.libs/dns.so is not built");
    }
    assert_int_equal(cls_open(&c, "16", "5"), 0);
    force_len = 22; /* header 12 + "\1a\2bc\0" 6 + qtype 2 + qclass 2 */
    got = one(&c, 17, 1, 5353, 2, 53,
              "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01"
              "a\x02"
              "bc\x00\x00\x01\x00\x01",
              1);
    force_len = 0;
    assert_non_null(got);
    assert_string_equal(got, "dns");
    c.d->fini(c.ctx);
    c.ctx = NULL;
    fakehost_config_free(c.d, c.cfg);
    /* now a module that is not a classifier */
    snprintf(cmd, sizeof(cmd),
             "cp '%s/modules/print/.libs/print.so' '%s/zz.so'", CLS_BUILDDIR,
             c.dir);
    if (system(cmd) == 0) {
        assert_int_not_equal(cls_open(&c, "16", "5"), 0);
        assert_non_null(strstr(fakehost_log_text(), "not a pmacct classifier"));
        c.ctx = NULL;
    } else {
        c.cfg = NULL;
        c.d = pm_module_descriptor();
    }
    if (c.cfg)
        fakehost_config_free(c.d, c.cfg);
    rmdir_all(c.dir);
    fakehost_reset();
}

static void test_empty_dir(void **state)
{
    struct cls c;
    (void)state;
    mkdir_with(c.dir, sizeof(c.dir), NULL);
    assert_int_equal(cls_open(&c, "16", "5"), -ENOENT);
    c.ctx = NULL;
    assert_non_null(strstr(fakehost_log_text(), "holds no classifier"));
    cls_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_directions),
        cmocka_unit_test(test_tentatives),
        cmocka_unit_test(test_idle_and_eviction),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_dns_parser),
        cmocka_unit_test(test_abi_refusal),
        cmocka_unit_test(test_dir_loading),
        cmocka_unit_test(test_empty_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
