/*
 * test_memory.c - unit tests of the memory output with the fake host:
 * records equal to tests/data/client/sample.pcap's aggregates are
 * accounted, then PMQ/1 requests go through the module's real UNIX socket
 * (in a temp dir) and the answers are compared with the golden outputs
 * captured from pmacct 1.7.7's client (tests/data/client/NAME.out).  Rows of
 * unsorted tables come in hash order, so those are compared sorted.
 * Single-threaded test; the module runs its own server thread.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_query.h>

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

#define AGG "src_host,dst_host,src_port,dst_port,proto"

struct flow {
    const char *src, *dst;
    const char *sport, *dport, *proto;
    uint64_t packets, bytes;
};

/* sample.pcap as pmacct 1.7.7 aggregates it */
static const struct flow flows[] = {
    {"2001:db8::2", "2001:db8::1", "123", "123", "udp", 1, 96},
    {"192.168.1.10", "10.0.0.1", "53", "5353", "udp", 2, 656},
    {"10.0.0.2", "10.0.0.1", "80", "12345", "tcp", 5, 700},
    {"2001:db8::1", "2001:db8::2", "2222", "22", "tcp", 3, 372},
    {"172.16.5.4", "10.0.0.2", "443", "40000", "tcp", 7, 7280},
    {"10.0.0.1", "10.0.0.2", "12345", "80", "tcp", 3, 120},
    {"10.0.0.3", "10.0.0.1", "0", "0", "icmp", 4, 336},
    {"10.0.0.1", "192.168.1.10", "5353", "53", "udp", 2, 116},
    {"10.0.0.1", "10.0.0.2", "12346", "80", "tcp", 1, 40},
};
#define NFLOWS (sizeof(flows) / sizeof(flows[0]))

struct env {
    char dir[64];
    char path[128];
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *config;
    void *ctx;
    int started;
};

static struct env *env_new(const char *max_entries, const char *buckets)
{
    struct env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    strcpy(e->dir, "/tmp/pm-test-memory-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->path, sizeof(e->path), "%s/imt.pipe", e->dir);
    fakehost_reset();
    fakehost_conf("aggregate", AGG);
    e->d = pm_module_descriptor();
    assert_int_equal(e->d->kind, PM_KIND_OUTPUT);
    assert_true(e->d->flags & PM_MF_QUERYABLE);
    e->inst = fakehost_instance("memory", "t", PM_KIND_OUTPUT, AGG);
    assert_non_null(e->inst);
    e->config = fakehost_config(e->d, e->inst, "imt_path", e->path,
                                "memory_max_entries",
                                max_entries ? max_entries : "0",
                                "imt_buckets", buckets ? buckets : "32771",
                                (const char *)NULL);
    assert_non_null(e->config);
    assert_int_equal(e->d->init(fakehost(), e->inst, e->config, &e->ctx), 0);
    assert_int_equal(e->d->start(e->ctx), 0);
    e->started = 1;
    return e;
}

static void env_free(struct env *e)
{
    e->d->stop(e->ctx);
    e->d->fini(e->ctx);
    fakehost_config_free(e->d, e->config);
    rmdir(e->dir);
    free(e);
}

static void feed(struct env *e, size_t nflows)
{
    const struct pm_host *h = fakehost();
    struct pm_batch *b = fakehost_batch(64);
    assert_non_null(b);
    for (size_t i = 0; i < nflows; i++) {
        /* split each aggregate into two records to exercise summing */
        for (int half = 0; half < 2; half++) {
            struct pm_rec *r = pm_batch_rec(b, b->n);
            memset(r, 0, b->rec_size);
            assert_int_equal(h->prim_parse(PM_P_SRC_HOST, flows[i].src, r, b), 0);
            assert_int_equal(h->prim_parse(PM_P_DST_HOST, flows[i].dst, r, b), 0);
            assert_int_equal(h->prim_parse(PM_P_SRC_PORT, flows[i].sport, r, b), 0);
            assert_int_equal(h->prim_parse(PM_P_DST_PORT, flows[i].dport, r, b), 0);
            assert_int_equal(h->prim_parse(PM_P_PROTO, flows[i].proto, r, b), 0);
            uint64_t p1 = flows[i].packets / 2, b1 = flows[i].bytes / 2;
            r->packets = half ? flows[i].packets - p1 : p1;
            r->bytes = half ? flows[i].bytes - b1 : b1;
            if (r->packets == 0 && r->bytes == 0)
                continue; /* record not used */
            b->n++;
        }
    }
    assert_int_equal(e->d->process(e->ctx, b), 0);
    /* the batch is freed by fakehost_reset() */
}

/* Send req, return the whole answer (malloc'd). */
static char *ask(const char *path, const char *req)
{
    struct sockaddr_un sa = {0};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    size_t len = strlen(req);
    assert_int_equal(write(fd, req, len), (ssize_t)len);
    shutdown(fd, SHUT_WR);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            out = realloc(out, cap *= 2);
        ssize_t r = read(fd, out + n, cap - n - 1);
        assert_true(r >= 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    out[n] = 0;
    close(fd);
    return out;
}

/* Answer body after "PMQ/1 OK\n" (asserts OK). */
static char *ask_ok(struct env *e, const char *req)
{
    char *a = ask(e->path, req);
    if (strncmp(a, "PMQ/1 OK\n", 9) != 0)
        fail_msg("request\n%s-> answer '%.300s'", req, a);
    memmove(a, a + 9, strlen(a + 9) + 1);
    return a;
}

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.out", CLIENT_DATA, name);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the lines of s in place (keeps a header line first when hdr). */
static void sort_lines(char *s, int hdr)
{
    char *lines[4096];
    size_t n = 0, len = strlen(s);
    char *copy = strdup(s), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l && n < 4096;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    if (n > (size_t)hdr)
        qsort(lines + hdr, n - (size_t)hdr, sizeof(char *), cmpstr);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)sprintf(s + off, "%s\n", lines[i]);
    assert_true(off <= len);
    s[off] = 0;
    free(copy);
}

static void check(struct env *e, const char *req, const char *golden,
                  int sorted)
{
    char *got = ask_ok(e, req), *want = slurp(golden);
    if (sorted) {
        sort_lines(got, 1);
        sort_lines(want, 1);
    }
    if (strcmp(got, want) != 0)
        fail_msg("%s: request\n%s\ngot:\n%s\nwant:\n%s", golden, req, got,
                 want);
    free(got);
    free(want);
}

#define REQ(...) "PMQ/1\n" __VA_ARGS__ "\n"

static void test_show(void **state)
{
    (void)state;
    struct env *e = env_new(NULL, NULL);
    feed(e, NFLOWS);
    check(e, REQ("op: show\n"), "s", 1);
    check(e, REQ("op: show\nsort: bytes\n"), "s_T_bytes", 0);
    check(e, REQ("op: show\nsort: packets\ntop: 3\n"), "s_T_packets_3", 0);
    check(e, REQ("op: show\nformat: csv\n"), "s_csv", 1);
    check(e, REQ("op: show\nformat: json\n"), "s_json", 1);
    check(e, REQ("op: show\nformat: json\nsort: bytes\ntop: 1\n"),
          "s_json_T1", 0);
    check(e, REQ("op: show\nformat: event_formatted\n"), "s_evf", 1);
    check(e, REQ("op: show\nformat: event_csv\n"), "s_evcsv", 1);
    check(e, REQ("op: show\nnum-protos: 1\n"), "s_u", 1);
    check(e, REQ("op: show\nformat: csv\nseparator: ;\n"), "s_E", 1);
    /* s_a (pmacct -a) is not compared: the client's column widths for
     * CLASS, COMMS, AS_PATH... differ from the print plugin's and the
     * shared renderer has no way to select them yet (see README). */
    char *a = ask_ok(e, REQ("op: show\nall-fields: 1\n"));
    assert_non_null(strstr(a, "TAG         TAG2 "));
    assert_non_null(strstr(a, "\nFor a total of: 9 entries\n"));
    free(a);
    env_free(e);
}

static void test_match(void **state)
{
    (void)state;
    struct env *e = env_new(NULL, NULL);
    feed(e, NFLOWS);
    check(e, REQ("op: match\nprimitives: src_host\nmatch: 10.0.0.1\n"), "M",
          1);
    check(e,
          REQ("op: match\nprimitives: src_host,dst_host\nmatch: "
              "10.0.0.1,10.0.0.2\nmatch: 10.0.0.2\n"),
          "M2", 1);
    check(e,
          REQ("op: match\nprimitives: src_host\nmatch: 10.0.0.1\nmatch: "
              "10.0.0.2\nsort: bytes\ntop: 2\n"),
          "M_T2", 0);
    check(e,
          REQ("op: match\nprimitives: src_host\nmatch: 10.0.0.1\nformat: "
              "csv\n"),
          "M_csv", 1);
    check(e,
          REQ("op: match\nprimitives: src_host\nmatch: 10.0.0.1\nformat: "
              "json\n"),
          "M_json", 1);
    env_free(e);
}

static void test_counters(void **state)
{
    (void)state;
    struct env *e = env_new(NULL, NULL);
    feed(e, NFLOWS);
    check(e, REQ("op: counters\nprimitives: src_host\nmatch: 10.0.0.1\n"),
          "N", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host\nmatch: 10.0.0.1\n"
              "counters: all\n"),
          "N_all", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host\nmatch: 10.0.0.1\nmatch: "
              "10.0.0.2\nmatch: 1.2.3.4\n"),
          "N_multi", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host\nmatch: 10.0.0.1\nmatch: "
              "10.0.0.2\nsum: 1\n"),
          "N_S", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host\nmatch: 10.0.0.1\nmatch: "
              "10.0.0.2\nsum: 1\ncounters: all\n"),
          "N_S_all", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host\nmatch: 10.0.0.1\nmatch: "
              "10.0.0.2\ncounters: packets\n"),
          "N_pk", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host\nmatch: 10.0.0.1\n"
              "counters: flows\n"),
          "N_flows", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host,proto\nmatch: "
              "10.0.0.1,tcp\nmatch: 10.0.0.1,6\nmatch: 2001:db8::1\n"
              "counters: all\n"),
          "N_proto", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host,dst_host\nmatch: "
              "10.0.0.1\n"),
          "N_missing", 0);
    check(e,
          REQ("op: counters\nprimitives: src_host,dst_port\nmatch: "
              "10.0.0.1,80\ncounters: all\n"),
          "N_dstport", 0);
    env_free(e);
}

static void expect_err(struct env *e, const char *req, const char *line)
{
    char *a = ask(e->path, req);
    if (strcmp(a, line) != 0)
        fail_msg("request\n%s-> '%s', want '%s'", req, a, line);
    free(a);
}

static void test_errors(void **state)
{
    (void)state;
    struct env *e = env_new(NULL, NULL);
    feed(e, NFLOWS);
    expect_err(e, REQ("op: counters\nprimitives: src_host\nmatch: foo\n"),
               "PMQ/1 ERR src_host: Invalid IP address: 'foo'\n");
    expect_err(e, REQ("op: counters\nprimitives: foo\nmatch: 1\n"),
               "PMQ/1 ERR unknown primitive 'foo'\n");
    expect_err(e, REQ("op: counters\nmatch: 1\n"),
               "PMQ/1 ERR -N or -M selected but -c has not been specified "
               "or is invalid.\n");
    expect_err(e, "PMQ/2\nop: show\n\n",
               "PMQ/1 ERR version: daemon speaks PMQ/1, client PMQ/2: "
               "upgrade the daemon\n");
    expect_err(e, "HELLO\n\n",
               "PMQ/1 ERR protocol: expected 'PMQ/1' as the first line, got "
               "'HELLO' (is this a pmacct client of this implementation?)\n");
    expect_err(e, REQ("op: dance\n"),
               "PMQ/1 ERR unknown op 'dance' (this daemon knows show, match, "
               "counters, clear, status, since, classifiers, custom, stats, "
               "ping)\n");
    expect_err(e, REQ("format: csv\n"),
               "PMQ/1 ERR protocol: request without 'op'\n");
    /* still serving after errors */
    check(e, REQ("op: counters\nprimitives: src_host\nmatch: 10.0.0.1\n"),
          "N", 0);
    assert_true(fakehost_counter_value("query_errors") >= 7);
    env_free(e);
}

static void test_reset_clear(void **state)
{
    (void)state;
    struct env *e = env_new(NULL, NULL);
    feed(e, NFLOWS);
    char *a = ask_ok(e, REQ("op: since\n"));
    assert_string_equal(a, "never\n");
    free(a);
    a = ask_ok(e, REQ("op: counters\nprimitives: src_host\nmatch: "
                      "10.0.0.1\nreset: 1\n"));
    assert_string_equal(a, "276\n");
    free(a);
    a = ask_ok(e, REQ("op: counters\nprimitives: src_host\nmatch: "
                      "10.0.0.1\ncounters: all\n"));
    assert_string_equal(a, "0 0 0 0\n");
    free(a);
    /* reset rows are hidden; new traffic brings them back */
    a = ask_ok(e, REQ("op: show\nformat: csv\n"));
    assert_null(strstr(a, "10.0.0.1,10.0.0.2"));
    free(a);
    feed(e, NFLOWS);
    a = ask_ok(e, REQ("op: counters\nprimitives: src_host\nmatch: "
                      "10.0.0.1\ncounters: all\n"));
    assert_string_equal(a, "6 276 0 3\n");
    free(a);
    check(e, REQ("op: clear\n"), "e", 0);
    check(e, REQ("op: show\n"), "s_after_e", 0);
    a = ask_ok(e, REQ("op: since\n"));
    assert_true(strcmp(a, "0\n") == 0 || strcmp(a, "1\n") == 0);
    free(a);
    /* show + clear in one request (pmacct -s -e) */
    feed(e, NFLOWS);
    check(e, REQ("op: show\nclear: 1\n"), "s", 1);
    check(e, REQ("op: show\n"), "s_after_e", 0);
    env_free(e);
}

static void test_status_and_cap(void **state)
{
    (void)state;
    struct env *e = env_new("3", "101");
    feed(e, NFLOWS);
    char *a = ask_ok(e, REQ("op: status\n"));
    assert_memory_equal(a, "* = element\n\nBUCKET\tCHAIN_STATUS\n0\t", 33);
    size_t lines = 0, stars = 0;
    for (char *p = a; *p; p++) {
        lines += *p == '\n';
        stars += *p == '*';
    }
    assert_int_equal(lines, 3 + 101);
    assert_int_equal(stars, 1 + 3); /* legend + 3 entries */
    free(a);
    a = ask_ok(e, REQ("op: show\nformat: csv\n"));
    lines = 0;
    for (char *p = a; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 3);
    free(a);
    /* the cache counts refused records: two per refused aggregate here */
    assert_int_equal(fakehost_counter_value("overflows"), 2 * (NFLOWS - 3));
    a = ask_ok(e, REQ("op: classifiers\n"));
    assert_string_equal(a,
                        "CLASS_ID\tCLASS_NAME\n\nFor a total of: 0 classifiers\n");
    free(a);
    a = ask_ok(e, REQ("op: ping\n"));
    assert_string_equal(a, "");
    free(a);
    env_free(e);
}

static void test_socket_lifecycle(void **state)
{
    (void)state;
    struct env *e = env_new(NULL, NULL);
    struct stat st;
    char path[128];
    strcpy(path, e->path);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));

    /* a second instance on the same live socket is refused */
    void *ctx2 = NULL;
    struct pm_instance *i2 =
        fakehost_instance("memory", "u", PM_KIND_OUTPUT, AGG);
    void *cfg2 = fakehost_config(e->d, i2, "imt_path", path,
                                 (const char *)NULL);
    assert_int_equal(e->d->init(fakehost(), i2, cfg2, &ctx2), 0);
    assert_int_equal(e->d->start(ctx2), -EADDRINUSE);
    e->d->fini(ctx2);
    assert_int_equal(stat(path, &st), 0); /* the first one's is intact */

    /* stop removes the socket */
    e->d->stop(e->ctx);
    assert_int_equal(stat(path, &st), -1);

    /* a stale socket file (daemon killed) is replaced */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    ctx2 = NULL;
    assert_int_equal(e->d->init(fakehost(), i2, cfg2, &ctx2), 0);
    assert_int_equal(e->d->start(ctx2), 0);
    char *a = ask(path, REQ("op: ping\n"));
    assert_string_equal(a, "PMQ/1 OK\n");
    free(a);
    e->d->stop(ctx2);
    e->d->fini(ctx2);
    fakehost_config_free(e->d, cfg2);
    /* a regular file is never replaced */
    FILE *f = fopen(path, "w");
    fclose(f);
    ctx2 = NULL;
    cfg2 = fakehost_config(e->d, i2, "imt_path", path, (const char *)NULL);
    assert_int_equal(e->d->init(fakehost(), i2, cfg2, &ctx2), 0);
    assert_int_equal(e->d->start(ctx2), -EEXIST);
    e->d->fini(ctx2);
    fakehost_config_free(e->d, cfg2);
    unlink(path);
    env_free(e);
}

struct feeder {
    struct env *e;
    int rounds;
};

static void *feeder_main(void *arg)
{
    struct feeder *f = arg;
    for (int i = 0; i < f->rounds; i++)
        feed(f->e, NFLOWS);
    return NULL;
}

/* Queries while the pipeline thread accounts: answers stay consistent. */
static void test_concurrent(void **state)
{
    (void)state;
    struct env *e = env_new(NULL, NULL);
    struct feeder f = {e, 200};
    pthread_t t;
    uint64_t last = 0;
    assert_int_equal(pthread_create(&t, NULL, feeder_main, &f), 0);
    for (int i = 0; i < 50; i++) {
        char *a = ask_ok(e, REQ("op: counters\nprimitives: src_host\n"
                                "match: 10.0.0.1\ncounters: all\n"));
        unsigned long long p, b, fl, n;
        if (strcmp(a, "0 0 0 0\n") != 0) {
            assert_int_equal(sscanf(a, "%llu %llu %llu %llu", &p, &b, &fl, &n),
                             4);
            assert_int_equal(n, 3);
            assert_int_equal(b % 276, 0); /* whole batches only */
            assert_true(b >= last);
            last = b;
        }
        free(a);
    }
    pthread_join(t, NULL);
    char *a = ask_ok(e, REQ("op: counters\nprimitives: src_host\nmatch: "
                            "10.0.0.1\n"));
    char want[32];
    snprintf(want, sizeof(want), "%d\n", 276 * 200);
    assert_string_equal(a, want);
    free(a);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_reset_clear),
        cmocka_unit_test(test_status_and_cap),
        cmocka_unit_test(test_socket_lifecycle),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
