/*
 * test_netflow_util.h - shared by the netflow unit tests (test_netflow.c,
 * test_netflow_input.c): a datagram builder (v9/IPFIX headers and sets) and
 * a fixture running the module on the fake host (init, feed, the records
 * emitted, counters).  Header-only (static inline): each test program
 * includes it once.
 */
#ifndef TEST_NETFLOW_UTIL_H
#define TEST_NETFLOW_UTIL_H

#include <arpa/inet.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fakehost.h"
#include "nf.h"

const struct pm_module_desc *pm_module_descriptor(void);

/* ---- datagram builder ------------------------------------------------- */
struct wb {
    uint8_t b[4096];
    uint32_t n;
};
static inline void w8(struct wb *w, uint32_t v) { w->b[w->n++] = (uint8_t)v; }
static inline void w16(struct wb *w, uint32_t v)
{
    w8(w, v >> 8);
    w8(w, v);
}
static inline void w32(struct wb *w, uint32_t v)
{
    w16(w, v >> 16);
    w16(w, v);
}
static inline void w64(struct wb *w, uint64_t v)
{
    w32(w, (uint32_t)(v >> 32));
    w32(w, (uint32_t)v);
}
static inline void wip(struct wb *w, const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    memcpy(w->b + w->n, &a, 4);
    w->n += 4;
}
static inline void wip6(struct wb *w, const char *s)
{
    uint8_t a[16];
    assert_int_equal(inet_pton(AF_INET6, s, a), 1);
    memcpy(w->b + w->n, a, 16);
    w->n += 16;
}
static inline void wbytes(struct wb *w, const void *p, uint32_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
/* set header with length patched by set_end */
static inline uint32_t set_begin(struct wb *w, uint16_t id)
{
    uint32_t at = w->n;
    w16(w, id);
    w16(w, 0);
    return at;
}
static inline void set_end(struct wb *w, uint32_t at)
{
    uint32_t len = w->n - at;
    w->b[at + 2] = (uint8_t)(len >> 8);
    w->b[at + 3] = (uint8_t)len;
}
static inline void v9_hdr(struct wb *w, uint16_t count, uint32_t uptime,
                   uint32_t secs, uint32_t seq, uint32_t srcid)
{
    w->n = 0;
    w16(w, 9);
    w16(w, count);
    w32(w, uptime);
    w32(w, secs);
    w32(w, seq);
    w32(w, srcid);
}
static inline void ipfix_hdr(struct wb *w, uint32_t secs, uint32_t seq, uint32_t dom)
{
    w->n = 0;
    w16(w, 10);
    w16(w, 0);
    w32(w, secs);
    w32(w, seq);
    w32(w, dom);
}
static inline void ipfix_end(struct wb *w)
{
    w->b[2] = (uint8_t)(w->n >> 8);
    w->b[3] = (uint8_t)w->n;
}

/* ---- fixture ---------------------------------------------------------- */
struct fx {
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *cfg;
    struct nf_ctx *c;
    pm_ip_t exp;
    pm_ts_t now;
};

/* the capture's aggregate (the union over the pipelines) */
static const char *fx_aggregate = "src_host,dst_host,src_net,dst_net";

static inline struct fx *fx_new_v(const char *k, va_list ap)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *kv[32] = {0};
    int n = 0;
    for (const char *s = k; s && n < 30; s = va_arg(ap, const char *))
        kv[n++] = s;
    kv[n] = NULL;
    f->d = pm_module_descriptor();
    f->inst = fakehost_instance("netflow", "default", PM_KIND_CAPTURE,
                                fx_aggregate);
    /* fakehost_config takes varargs; pass up to 8 pairs explicitly */
    f->cfg = fakehost_config(f->d, f->inst, kv[0], kv[1], kv[2], kv[3], kv[4],
                             kv[5], kv[6], kv[7], kv[8], kv[9], kv[10],
                             kv[11], kv[12], kv[13], kv[14], kv[15], NULL);
    void *ctx = NULL;
    assert_int_equal(f->d->init(fakehost(), f->inst, f->cfg, &ctx), 0);
    f->c = ctx;
    uint8_t a[4] = {192, 0, 2, 1};
    pm_ip_set4(&f->exp, a);
    f->now.sec = 1700000000;
    return f;
}

static inline struct fx *fx_new(const char *k, ...)
{
    va_list ap;
    va_start(ap, k);
    struct fx *f = fx_new_v(k, ap);
    va_end(ap);
    return f;
}

static inline void fx_free(struct fx *f)
{
    f->d->fini(f->c);
    fakehost_config_free(f->d, f->cfg);
    free(f);
    fakehost_reset();
}

static inline int feed(struct fx *f, const struct wb *w)
{
    return nf_datagram(f->c, w->b, w->n, &f->exp, &f->now);
}

/* All emitted records, flattened (after nf_flush). */
static inline uint32_t nrecs(struct fx *f)
{
    nf_flush(f->c);
    uint32_t n = 0;
    for (uint32_t i = 0; i < fakehost_emitted_count(); i++)
        n += fakehost_emitted(i)->n;
    return n;
}
static inline struct pm_rec *rec(struct fx *f, uint32_t k, struct pm_batch **bo)
{
    nf_flush(f->c);
    for (uint32_t i = 0; i < fakehost_emitted_count(); i++) {
        struct pm_batch *b = fakehost_emitted(i);
        if (k < b->n) {
            if (bo)
                *bo = b;
            return pm_batch_rec(b, k);
        }
        k -= b->n;
    }
    fail_msg("no record %u", k);
    return NULL;
}
static inline const char *ipstr(const pm_ip_t *ip)
{
    static char buf[4][64];
    static int k;
    k = (k + 1) & 3;
    return pm_ip_str(ip, buf[k], sizeof(buf[k]));
}
static inline uint64_t ctr(const char *n) { return fakehost_counter_value(n); }

/* A NetFlow v5 datagram (shared: test_v5, the savefile test). */
static inline void build_v5(struct wb *w, uint32_t seq, uint16_t sampling)
{
    w->n = 0;
    w16(w, 5);
    w16(w, 2);
    w32(w, 100000);     /* uptime ms */
    w32(w, 1700000000); /* unix secs */
    w32(w, 0);
    w32(w, seq);
    w8(w, 0);
    w8(w, 7);
    w16(w, sampling);
    for (int i = 0; i < 2; i++) {
        wip(w, i ? "10.0.0.2" : "10.1.2.3");
        wip(w, "192.168.10.20");
        wip(w, "10.255.0.1");
        w16(w, 3);
        w16(w, 4);
        w32(w, 10 + i);
        w32(w, 1000 + i);
        w32(w, 90000); /* first: 10 s before export */
        w32(w, 99500);
        w16(w, 1234);
        w16(w, 80);
        w8(w, 0);
        w8(w, 0x1b);
        w8(w, 6);
        w8(w, 0x10);
        w16(w, 65001);
        w16(w, 65002);
        w8(w, 16);
        w8(w, 24);
        w16(w, 0);
    }
}

#endif
