/*
 * test_queue.c - the bounded lock-free queue of core/queue.c on its own:
 * one and several producers (4 threads x 100k items) with one consumer
 * deliver every item exactly once and in each producer's order (policy
 * block, tiny capacities so producers really wait); policy drop counts
 * exactly what did not fit; capacity 1; a consumer asleep on an empty
 * queue is always woken (a producer pushes only once it sees the consumer
 * asleep, and right after it took the previous item); a producer asleep on
 * a full queue is always woken; timeouts, cancel, close and drain.
 * Threads never call cmocka: they record what they saw, the main thread
 * checks.  Nothing sleeps to wait for a result: waits are polls with a
 * deadline or blocking joins.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "queue.h"

#define NPROD 4
#define PER_PROD 100000u

/* items are non-NULL: (producer + 1) << 32 | (seq + 1) */
static void *item(unsigned p, uint32_t i)
{
    return (void *)(uintptr_t)((((uint64_t)p + 1) << 32) | (i + 1u));
}
static unsigned item_prod(void *v)
{
    return (unsigned)((uintptr_t)v >> 32) - 1;
}
static uint32_t item_seq(void *v)
{
    return (uint32_t)(uintptr_t)v - 1;
}

/* poll until *p >= min or secs pass; the value seen */
static int poll_ge(_Atomic int *p, int min, double secs)
{
    uint64_t end = pmq_mono_ns() + (uint64_t)(secs * 1e9);
    struct timespec ts = {0, 100000};
    int v;
    while ((v = atomic_load(p)) < min && pmq_mono_ns() < end)
        nanosleep(&ts, NULL);
    return v;
}

struct prod {
    struct pmq *q;
    unsigned id;
    uint32_t n;
    int block;
    uint64_t dropped;
};

static void *producer(void *arg)
{
    struct prod *p = arg;
    uint32_t i;
    for (i = 0; i < p->n; i++)
        if (pmq_push(p->q, item(p->id, i), p->block) == -ENOBUFS) {
            p->dropped++;
            sched_yield(); /* let the consumer take some */
        }
    return NULL;
}

/* consumer: pops until closed and drained; checks per-producer order */
struct cons {
    struct pmq *q;
    uint64_t got[NPROD];
    uint32_t next[NPROD]; /* lowest seq still acceptable */
    uint64_t bad;         /* out of order, duplicate or unknown */
    int rc;
};

static void *consumer(void *arg)
{
    struct cons *c = arg;
    void *v;
    int rc;
    while ((rc = pmq_pop_wait(c->q, &v, 0, NULL, NULL)) == 0) {
        unsigned p = item_prod(v);
        uint32_t s = item_seq(v);
        if (p >= NPROD || s < c->next[p]) {
            c->bad++;
            continue;
        }
        c->next[p] = s + 1;
        c->got[p]++;
    }
    c->rc = rc;
    return NULL;
}

static void run_mpsc(uint32_t cap, unsigned nprod, uint32_t per, int block,
                     struct cons *c, struct prod *pr)
{
    struct pmq q;
    pthread_t ct, pt[NPROD];
    unsigned i;

    assert_int_equal(pmq_init(&q, cap), 0);
    memset(c, 0, sizeof(*c));
    c->q = &q;
    assert_int_equal(pthread_create(&ct, NULL, consumer, c), 0);
    for (i = 0; i < nprod; i++) {
        pr[i] = (struct prod){&q, i, per, block, 0};
        assert_int_equal(pthread_create(&pt[i], NULL, producer, &pr[i]), 0);
    }
    for (i = 0; i < nprod; i++)
        pthread_join(pt[i], NULL);
    pmq_close(&q);
    pthread_join(ct, NULL);
    assert_int_equal(c->rc, -EPIPE);
    assert_int_equal(pmq_count(&q), 0);
    pmq_fini(&q);
}

static void t_single_producer(void **s)
{
    struct cons c;
    struct prod pr[1];
    (void)s;
    run_mpsc(8, 1, PER_PROD, 1, &c, pr);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.got[0], PER_PROD);
}

static void t_multi_producer_block(void **s)
{
    /* tiny capacities make every item a sleep/wake-up ping-pong (~10 us
     * each): fewer items there */
    static const uint32_t caps[] = {64, 3, 1};
    static const uint32_t per[] = {PER_PROD, PER_PROD / 5, PER_PROD / 5};
    struct cons c;
    struct prod pr[NPROD];
    unsigned i, k;
    (void)s;
    for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        run_mpsc(caps[k], NPROD, per[k], 1, &c, pr);
        assert_int_equal(c.bad, 0);
        for (i = 0; i < NPROD; i++) {
            assert_int_equal(pr[i].dropped, 0);
            assert_int_equal(c.got[i], per[k]); /* all, once, in order */
        }
    }
}

static void t_multi_producer_drop(void **s)
{
    struct cons c;
    struct prod pr[NPROD];
    uint64_t dropped = 0;
    unsigned i;
    (void)s;
    run_mpsc(4, NPROD, PER_PROD, 0, &c, pr);
    assert_int_equal(c.bad, 0);
    for (i = 0; i < NPROD; i++) {
        /* what was not dropped arrived: exactly once, in order */
        assert_int_equal(c.got[i] + pr[i].dropped, PER_PROD);
        dropped += pr[i].dropped;
    }
    printf("# drop policy, capacity 4: %llu of %u items dropped\n",
           (unsigned long long)dropped, NPROD * PER_PROD);
}

static void t_drop_exact(void **s)
{
    struct pmq q;
    uint32_t i, cap;
    void *v;
    (void)s;
    for (cap = 1; cap <= 7; cap += 3) {
        uint32_t drops = 0;
        assert_int_equal(pmq_init(&q, cap), 0);
        for (i = 0; i < cap + 10; i++) {
            int rc = pmq_push(&q, item(0, i), 0);
            if (rc == -ENOBUFS)
                drops++;
            else
                assert_int_equal(rc, 0);
            assert_int_equal(pmq_count(&q), i < cap ? i + 1 : cap);
        }
        assert_int_equal(drops, 10);
        /* one out, one in: the ring wraps, capacity stays exact */
        for (i = 0; i < 3 * cap; i++) {
            v = pmq_try_pop(&q);
            assert_non_null(v);
            assert_int_equal(pmq_push(&q, item(1, i), 0), 0);
            assert_int_equal(pmq_push(&q, item(2, i), 0), -ENOBUFS);
        }
        for (i = 0; i < cap; i++)
            assert_non_null(pmq_try_pop(&q));
        assert_null(pmq_try_pop(&q));
        assert_int_equal(pmq_count(&q), 0);
        pmq_fini(&q);
    }
}

static void t_fifo_single_thread(void **s)
{
    struct pmq q;
    uint32_t i;
    (void)s;
    assert_int_equal(pmq_init(&q, 5), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(pmq_push(&q, item(0, i), 1), 0);
    for (i = 0; i < 5; i++)
        assert_ptr_equal(pmq_try_pop(&q), item(0, i));
    pmq_fini(&q);
    assert_int_equal(pmq_init(&q, 0), -EINVAL);
    pmq_fini(&q);
}

/* ---- wake-ups ------------------------------------------------------------ */

#define NWAKE 3000

struct wake {
    struct pmq q;
    _Atomic int got;
    int rc;
};

static void *wake_consumer(void *arg)
{
    struct wake *w = arg;
    void *v;
    int rc;
    while ((rc = pmq_pop_wait(&w->q, &v, 0, NULL, NULL)) == 0)
        atomic_fetch_add(&w->got, 1);
    w->rc = rc;
    return NULL;
}

static void t_no_lost_wakeup(void **s)
{
    struct wake w;
    pthread_t t;
    int i, lost = 0;
    (void)s;
    memset(&w, 0, sizeof(w));
    assert_int_equal(pmq_init(&w.q, 4), 0);
    assert_int_equal(pthread_create(&t, NULL, wake_consumer, &w), 0);
    for (i = 0; i < NWAKE && !lost; i++) {
        if (i % 10 == 0) {
            /* a long pause: push only once the consumer is asleep */
            if (poll_ge(&w.q.cons_sleeping, 1, 10) < 1) {
                lost = 1;
                break;
            }
        }
        /* otherwise push right after the previous item was taken: races
         * the consumer going to sleep */
        assert_int_equal(pmq_push(&w.q, item(0, (uint32_t)i), 1), 0);
        if (poll_ge(&w.got, i + 1, 10) < i + 1)
            lost = 1; /* the consumer sleeps on a non-empty queue */
    }
    pmq_close(&w.q);
    pthread_join(t, NULL);
    assert_int_equal(lost, 0);
    assert_int_equal(atomic_load(&w.got), NWAKE);
    assert_int_equal(w.rc, -EPIPE);
    pmq_fini(&w.q);
}

struct bprod {
    struct pmq *q;
    _Atomic int pushed;
};

static void *blocked_producer(void *arg)
{
    struct bprod *b = arg;
    int i;
    for (i = 0; i < 200; i++) {
        pmq_push(b->q, item(0, (uint32_t)i), 1);
        atomic_fetch_add(&b->pushed, 1);
    }
    return NULL;
}

static void t_blocked_producer_woken(void **s)
{
    struct pmq q;
    struct bprod b;
    pthread_t t;
    int i, ok = 1;
    (void)s;
    assert_int_equal(pmq_init(&q, 2), 0);
    b.q = &q;
    atomic_init(&b.pushed, 0);
    assert_int_equal(pthread_create(&t, NULL, blocked_producer, &b), 0);
    assert_int_equal(poll_ge(&b.pushed, 2, 10), 2);
    for (i = 0; i < 198 && ok; i++) {
        /* the producer is (or is about to be) asleep on a full queue */
        if (i % 4 == 0 && poll_ge(&q.prod_sleeping, 1, 10) < 1)
            ok = 0;
        if (!pmq_try_pop(&q))
            ok = 0;
        if (poll_ge(&b.pushed, i + 3, 10) < i + 3)
            ok = 0; /* lost wake-up of the producer */
    }
    assert_true(ok);
    pthread_join(t, NULL);
    assert_int_equal(pmq_count(&q), 2);
    pmq_fini(&q);
}

static int cancel_flag(void *p)
{
    return atomic_load((_Atomic int *)p);
}

struct canc {
    struct pmq *q;
    _Atomic int flag;
    int rc;
};

static void *cancel_waiter(void *arg)
{
    struct canc *c = arg;
    void *v;
    c->rc = pmq_pop_wait(c->q, &v, 0, cancel_flag, &c->flag);
    return NULL;
}

static void t_timeout_cancel_close(void **s)
{
    struct pmq q;
    struct canc c;
    pthread_t t;
    void *v = NULL;
    uint64_t t0;
    (void)s;
    assert_int_equal(pmq_init(&q, 4), 0);
    /* timed wait on an empty queue */
    t0 = pmq_mono_ns();
    assert_int_equal(pmq_pop_wait(&q, &v, t0 + 20000000ull, NULL, NULL),
                     -ETIMEDOUT);
    assert_true(pmq_mono_ns() >= t0 + 20000000ull);
    /* a deadline in the past still returns what is queued */
    assert_int_equal(pmq_push(&q, item(0, 7), 0), 0);
    assert_int_equal(pmq_pop_wait(&q, &v, 1, NULL, NULL), 0);
    assert_ptr_equal(v, item(0, 7));
    /* cancel + wake interrupts a sleeping consumer */
    c.q = &q;
    atomic_init(&c.flag, 0);
    c.rc = 1;
    assert_int_equal(pthread_create(&t, NULL, cancel_waiter, &c), 0);
    assert_int_equal(poll_ge(&q.cons_sleeping, 1, 10), 1);
    atomic_store(&c.flag, 1);
    pmq_wake(&q);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, -ECANCELED);
    /* close: drain first, then -EPIPE */
    assert_int_equal(pmq_push(&q, item(0, 1), 0), 0);
    assert_int_equal(pmq_push(&q, item(0, 2), 0), 0);
    pmq_close(&q);
    assert_int_equal(pmq_pop_wait(&q, &v, 0, NULL, NULL), 0);
    assert_ptr_equal(v, item(0, 1));
    assert_int_equal(pmq_pop_wait(&q, &v, 0, NULL, NULL), 0);
    assert_ptr_equal(v, item(0, 2));
    assert_int_equal(pmq_pop_wait(&q, &v, 0, NULL, NULL), -EPIPE);
    pmq_fini(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_fifo_single_thread),
        cmocka_unit_test(t_drop_exact),
        cmocka_unit_test(t_single_producer),
        cmocka_unit_test(t_multi_producer_block),
        cmocka_unit_test(t_multi_producer_drop),
        cmocka_unit_test(t_no_lost_wakeup),
        cmocka_unit_test(t_blocked_producer_woken),
        cmocka_unit_test(t_timeout_cancel_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
