/*
 * rxloop.c - the receiver loop shared by the flow collectors (netflow,
 * sflow): receive datagrams in batches, hand each to the collector's
 * decoder, emit partial record batches when the input pauses or a hold
 * time after they were started, and publish the per-exporter counters,
 * allow-list denials and kernel drops about once a second.  Also the
 * `*_threads` value parser.  Runs on the receiver's own thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "udpin.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int pm_rx_parse_threads(const struct pm_host *host,
                        const struct pm_instance *inst, const char *key,
                        const char *v, unsigned *n)
{
    char *end;
    unsigned long x;
    if (!v || !*v) {
        *n = 1;
        return 0;
    }
    if (!strcmp(v, "auto")) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        x = cpus > 0 ? (unsigned long)cpus : 1;
        *n = x > PM_UDPIN_MAX_GROUP ? PM_UDPIN_MAX_GROUP : (unsigned)x;
        return 0;
    }
    errno = 0;
    x = strtoul(v, &end, 10);
    if (errno || *end || end == v || x < 1 || x > PM_UDPIN_MAX_GROUP) {
        PM_ERR(host, inst,
               "%s: '%s' is not 'auto' or a number of threads from 1 to %u",
               key, v, (unsigned)PM_UDPIN_MAX_GROUP);
        return -EINVAL;
    }
    *n = (unsigned)x;
    return 0;
}

/* Exporter counters, denied and kernel drops into host counters. */
static void publish(struct pm_rx *w, int refresh)
{
    uint64_t d = pm_udpin_denied(w->in);
    if (d != w->denied_seen) {
        pm_counter_add(w->c_denied, d - w->denied_seen);
        w->denied_seen = d;
    }
    if (w->live) {
        d = pm_udpin_drops(w->in, refresh);
        if (d > w->drops_seen) {
            pm_counter_add(w->c_socket_drops, d - w->drops_seen);
            if (w->drops_seen == 0)
                w->host->log(w->inst, PM_LOG_WARNING,
                             "the kernel dropped datagrams on receiver %u: "
                             "its socket buffer (%llu bytes) was full; see "
                             "the socket_drops counter; raise %s_pipe_size "
                             "(and net.core.rmem_max) or %s_threads",
                             w->idx,
                             (unsigned long long)pm_udpin_rcvbuf(w->in),
                             w->prefix, w->prefix);
            w->drops_seen = d;
        }
    }
    pm_exptab_publish(w->exps, w->host, w->inst, w->idx, w->named);
}

/* Coalescing: a read that returned less than half a vector is followed
 * by a pause before the next one, so that at moderate rates one wake-up
 * and one recvmmsg take several datagrams instead of one each (the
 * kernel's wake-up, the syscalls and the context switches cost more than
 * decoding a datagram: measured, half of our CPU at 10k datagrams/s sent
 * evenly).  A full read never pauses, so a receiver that falls behind
 * reads at once.  The pause is what half the socket buffer holds at one
 * datagram per microsecond (~2.3 KB of buffer per 1.5 KB datagram): no
 * sender this pause could hide fills it; at most 5 ms, none below a
 * 0.5 ms buffer (the default 208 KB buffer: no pause). */
#define PM_RX_DGRAM_TRUESIZE 2304u
#define PM_RX_COALESCE_MAX_US 5000u
#define PM_RX_COALESCE_MIN_US 500u

static unsigned coalesce_us(struct pm_rx *w)
{
    uint64_t us;
    if (!w->live)
        return 0;
    us = pm_udpin_rcvbuf(w->in) / 2 / PM_RX_DGRAM_TRUESIZE;
    if (us < PM_RX_COALESCE_MIN_US)
        return 0;
    return us > PM_RX_COALESCE_MAX_US ? PM_RX_COALESCE_MAX_US : (unsigned)us;
}

int pm_rx_loop(struct pm_rx *w, const struct pm_rx_ops *ops, void *ud)
{
    struct pm_dgram dg[PM_RX_BATCH];
    int rc = PM_RUN_STOPPED;
    uint64_t next_pub = mono_ms() + 1000, batch_due = 0;
    unsigned pause_us = coalesce_us(w);

    while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED) &&
           !w->host->stopping(w->inst)) {
        /* holding a partial batch: wait less, emit it when idle */
        int held = ops->holding(ud);
        int n = pm_udpin_recv(w->in, dg, PM_RX_BATCH,
                              held ? (int)w->hold_ms : 200);
        if (n == -ENODATA) {
            rc = PM_RUN_EOF;
            break;
        }
        if (n == -EINTR || n == -EAGAIN)
            continue;
        if (n < 0) {
            PM_ERR(w->host, w->inst, "receive failed: %s", strerror(-n));
            rc = n;
            break;
        }
        for (int i = 0; i < n; i++)
            if (ops->datagram(ud, &dg[i]) == -ESHUTDOWN)
                goto out;
        /* Full batches go as they fill.  A partial one is emitted when
         * the input pauses (savefile end, socket idle for hold_ms) or
         * hold_ms after it was started: one queue operation and one
         * wake-up of the pipeline per batch, not per datagram, and at
         * most ~hold_ms of added latency. */
        if (n == 0) {
            ops->flush(ud);
        } else if (w->live && ops->holding(ud)) {
            uint64_t now = mono_ms();
            if (!batch_due)
                batch_due = now + w->hold_ms;
            else if (now >= batch_due) {
                ops->flush(ud);
                batch_due = 0;
            }
        }
        if (!ops->holding(ud))
            batch_due = 0;
        if (w->live && (n == 0 || mono_ms() >= next_pub)) {
            publish(w, 1);
            next_pub = mono_ms() + 1000;
        }
        if (pause_us && n > 0 && n < PM_RX_BATCH / 2) {
            struct timespec ts = {0, (long)pause_us * 1000L};
            nanosleep(&ts, NULL);
        }
    }
out:
    ops->flush(ud);
    publish(w, 1);
    return rc;
}

struct rx_thread {
    int (*loop)(void *ud, unsigned i);
    void *ud;
    unsigned i;
    int rc;
    int started;
    pthread_t th;
};

static void *rx_thread_main(void *arg)
{
    struct rx_thread *t = arg;
    t->rc = t->loop(t->ud, t->i);
    return NULL;
}

int pm_rx_run_all(const struct pm_host *host, const struct pm_instance *inst,
                  unsigned n, int (*loop)(void *ud, unsigned i),
                  void (*stop)(void *ud, unsigned i), void *ud)
{
    struct rx_thread t[PM_UDPIN_MAX_GROUP];
    int rc;
    if (n > PM_UDPIN_MAX_GROUP)
        n = PM_UDPIN_MAX_GROUP;
    memset(t, 0, sizeof(t));
    for (unsigned i = 1; i < n; i++) {
        t[i].loop = loop;
        t[i].ud = ud;
        t[i].i = i;
        if (pthread_create(&t[i].th, NULL, rx_thread_main, &t[i]) != 0) {
            PM_ERR(host, inst, "cannot start receiver thread %u", i);
            for (unsigned j = 0; j < n; j++)
                stop(ud, j);
            break;
        }
        t[i].started = 1;
    }
    rc = loop(ud, 0);
    for (unsigned i = 1; i < n; i++) {
        if (!t[i].started)
            continue;
        /* one receiver ending (error, savefile end) ends them all */
        stop(ud, i);
        pthread_join(t[i].th, NULL);
        if (t[i].rc < 0 && rc >= 0)
            rc = t[i].rc;
    }
    return rc;
}
