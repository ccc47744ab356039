/*
 * test_metrics.c - unit tests of the metrics service against the fake
 * host: the service listens on an ephemeral loopback port (read back from
 * its log line), run() serves on a thread, the test talks HTTP/1.0 over
 * real sockets with deadlines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

struct svc {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    void *ctx;
    pthread_t th;
    int rc;
    int family;
    int port;
};

static void *svc_thread(void *arg)
{
    struct svc *s = arg;
    s->rc = s->d->run(s->ctx);
    return NULL;
}

static int svc_open(struct svc *s, const char *listen)
{
    const char *log, *p;
    int rc;

    memset(s, 0, sizeof(*s));
    s->d = pm_module_descriptor();
    s->inst = fakehost_instance("metrics", "default", PM_KIND_SERVICE, NULL);
    s->cfg = fakehost_config(s->d, s->inst, "metrics_listen", listen, NULL);
    rc = s->d->init(fakehost(), s->inst, s->cfg, &s->ctx);
    if (rc < 0)
        return rc;
    rc = s->d->start(s->ctx);
    if (rc < 0)
        return rc;
    log = fakehost_log_text();
    p = strstr(log, "serving metrics at http://");
    assert_non_null(p);
    p += strlen("serving metrics at http://");
    s->family = *p == '[' ? AF_INET6 : AF_INET;
    p = strstr(p, "]:") ? strstr(p, "]:") + 1 : strchr(p, ':');
    s->port = atoi(p + 1);
    assert_true(s->port > 0);
    assert_int_equal(pthread_create(&s->th, NULL, svc_thread, s), 0);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void svc_close(struct svc *s)
{
    int64_t t0;
    if (s->th) {
        t0 = now_ms();
        s->d->stop(s->ctx);
        assert_int_equal(pthread_join(s->th, NULL), 0);
        assert_true(now_ms() - t0 < 2000); /* stop() wakes the loop */
        assert_int_equal(s->rc, PM_RUN_STOPPED);
    }
    if (s->ctx)
        s->d->fini(s->ctx);
    fakehost_config_free(s->d, s->cfg);
}

static int connect_to(const struct svc *s)
{
    int fd = socket(s->family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (s->family == AF_INET6) {
        struct sockaddr_in6 a = {0};
        a.sin6_family = AF_INET6;
        a.sin6_addr = in6addr_loopback;
        a.sin6_port = htons((uint16_t)s->port);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    } else {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)s->port);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    }
    return fd;
}

/* Send req, read the whole answer (until close) within 10 s. */
static char *http(const struct svc *s, const char *req)
{
    static char buf[65536];
    size_t len = 0;
    int64_t deadline = now_ms() + 10000;
    int fd = connect_to(s);

    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;
        int64_t left = deadline - now_ms();
        assert_true(left > 0);
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    close(fd);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    fakehost_reset();
    return 0;
}

static void test_descriptor(void **state)
{
    const struct pm_module_desc *d = pm_module_descriptor();
    (void)state;
    assert_int_equal(d->kind, PM_KIND_SERVICE);
    assert_string_equal(d->name, "metrics");
    assert_string_equal(d->options[0].name, "metrics_listen");
    assert_true(d->options[0].flags & PM_OPTF_TRIGGER);
}

static void test_get_metrics(void **state)
{
    struct svc s;
    struct pm_instance *other =
        fakehost_instance("pcap", "default", PM_KIND_CAPTURE, NULL);
    uint64_t *c = fakehost()->counter(other, "test_packets", "a counter");
    char *r, *body;
    (void)state;

    pm_counter_add(c, 42);
    assert_int_equal(svc_open(&s, "127.0.0.1:0"), 0);
    r = http(&s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4\r\n"));
    body = strstr(r, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(body + 4, "test_packets 42\n"));
    {
        char want[64];
        snprintf(want, sizeof(want), "Content-Length: %zu\r\n", strlen(body + 4));
        assert_non_null(strstr(r, want));
    }

    /* a query string is ignored; HTTP/1.1 clients are answered too */
    pm_counter_add(c, 1);
    r = http(&s, "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(strstr(r, "test_packets 43\n"));

    r = http(&s, "GET / HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 404 ", 13) == 0);
    r = http(&s, "POST /metrics HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 405 ", 13) == 0);
    r = http(&s, "HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0);
    assert_null(strstr(r, "test_packets"));
    svc_close(&s);
    assert_int_equal(fakehost_counter_value("requests"), 5);
}

static void test_silent_client(void **state)
{
    struct svc s;
    int64_t t0;
    int idle;
    char *r;
    (void)state;

    assert_int_equal(svc_open(&s, "127.0.0.1:0"), 0);
    idle = connect_to(&s); /* says nothing */
    t0 = now_ms();
    r = http(&s, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0);
    assert_true(now_ms() - t0 < 5000); /* the idle one timed out first */
    close(idle);
    svc_close(&s);
    assert_true(fakehost_counter_value("errors") >= 1);
}

static void test_ipv6(void **state)
{
    struct svc s;
    char *r;
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {0};
    (void)state;

    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0)
            close(fd);
        FAKEHOST_SKIP("no IPv6 loopback");
    }
    close(fd);
    assert_int_equal(svc_open(&s, "[::1]:0"), 0);
    assert_int_equal(s.family, AF_INET6);
    r = http(&s, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0);
    svc_close(&s);
}

static void test_bad_listen(void **state)
{
    struct svc s;
    (void)state;
    assert_int_equal(svc_open(&s, "localhost-ish"), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "metrics_listen 'localhost-ish'"));
    svc_close(&s);
    assert_int_equal(svc_open(&s, "127.0.0.1:70000"), -EINVAL);
    svc_close(&s);
}

static void test_port_in_use(void **state)
{
    struct svc s, t;
    char addr[64];
    (void)state;

    assert_int_equal(svc_open(&s, "127.0.0.1:0"), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", s.port);
    assert_true(svc_open(&t, addr) < 0);
    assert_non_null(strstr(fakehost_log_text(), "cannot listen: Address already in use"));
    svc_close(&t);
    svc_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_descriptor, setup),
        cmocka_unit_test_setup(test_get_metrics, setup),
        cmocka_unit_test_setup(test_silent_client, setup),
        cmocka_unit_test_setup(test_ipv6, setup),
        cmocka_unit_test_setup(test_bad_listen, setup),
        cmocka_unit_test_setup(test_port_in_use, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fakehost_reset();
    return rc;
}
