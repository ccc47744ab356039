/*
 * queue.c - bounded lock-free MPMC ring of pointers (see queue.h).
 *
 * Vyukov's bounded queue: producers claim a position with a CAS on tail,
 * write the value and publish it by storing the cell's sequence number
 * (release); consumers claim with a CAS on head once the cell is published
 * and free it for the next lap the same way.  Positions are 64-bit and
 * never wrap in practice; the cell of position pos is pos % cap, so the
 * capacity is exactly cap (not rounded to a power of two).
 *
 * Sleeping (the only use of the mutex): a side that must wait adds itself
 * to cons_sleeping/prod_sleeping under the mutex, issues a seq_cst fence
 * and re-checks the ring before pthread_cond_wait; the other side
 * publishes, issues a seq_cst fence and reads the counter: either it sees
 * the sleeper (and takes the mutex, which the sleeper holds until it is
 * inside pthread_cond_wait, so the signal cannot be lost) or the sleeper's
 * re-check sees its item/room.  Nobody takes the mutex when nobody sleeps.
 * Lazy queues (pmq_set_lazy): a consumer that sleeps while items keep
 * coming announces it (cons_lazy) and sleeps at most lazy_ns; a producer
 * then signals only when wake_at items are queued.  An item is never
 * lost, at most delayed by lazy_ns; a lazy wait that times out with
 * nothing queued makes the next sleep a plain one (no polling when idle).
 *
 * Shared between threads: all of struct pmq.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue.h"

#define PMQ_SPIN 64

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

uint64_t pmq_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int pmq_init(struct pmq *q, uint32_t cap)
{
    pthread_condattr_t a;
    uint32_t i;

    memset(q, 0, sizeof(*q));
    if (!cap)
        return -EINVAL;
    q->cells = calloc(cap, sizeof(*q->cells));
    if (!q->cells)
        return -ENOMEM;
    q->cap = cap;
    for (i = 0; i < cap; i++)
        atomic_init(&q->cells[i].seq, 2ull * i);
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    atomic_init(&q->cons_sleeping, 0);
    atomic_init(&q->prod_sleeping, 0);
    atomic_init(&q->closed, 0);
    atomic_init(&q->cons_lazy, 0);
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&q->nonempty, &a);
    pthread_cond_init(&q->nonfull, &a);
    pthread_condattr_destroy(&a);
    q->inited = 1;
    return 0;
}

void pmq_fini(struct pmq *q)
{
    if (q->inited) {
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->nonempty);
        pthread_cond_destroy(&q->nonfull);
    }
    free(q->cells);
    memset(q, 0, sizeof(*q));
}

/* 0, or -ENOBUFS when full (or its oldest item is being popped). */
static int try_push(struct pmq *q, void *v)
{
    uint64_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    struct pmq_cell *c;

    for (;;) {
        uint64_t seq;
        int64_t diff;
        c = &q->cells[pos % q->cap];
        seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        diff = (int64_t)(seq - 2 * pos);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return -ENOBUFS;
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
    c->val = v;
    atomic_store_explicit(&c->seq, 2 * pos + 1, memory_order_release);
    return 0;
}

/* An item or NULL; never takes the mutex (callers may hold it). */
static void *pop_nowake(struct pmq *q)
{
    uint64_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    struct pmq_cell *c;
    void *v;

    for (;;) {
        uint64_t seq;
        int64_t diff;
        c = &q->cells[pos % q->cap];
        seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        diff = (int64_t)(seq - (2 * pos + 1));
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return NULL;
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
    v = c->val;
    atomic_store_explicit(&c->seq, 2 * (pos + q->cap), memory_order_release);
    return v;
}

/* After a pop: wake a producer waiting for room, only if there is one. */
static void wake_producer(struct pmq *q)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&q->prod_sleeping, memory_order_relaxed)) {
        pthread_mutex_lock(&q->mu);
        pthread_cond_signal(&q->nonfull);
        pthread_mutex_unlock(&q->mu);
    }
}

void *pmq_try_pop(struct pmq *q)
{
    void *v = pop_nowake(q);
    if (v)
        wake_producer(q);
    return v;
}

void pmq_set_lazy(struct pmq *q, uint32_t wake_at, uint64_t lazy_ns)
{
    q->wake_at = wake_at;
    q->lazy_ns = lazy_ns;
}

static void wake_consumer(struct pmq *q)
{
    atomic_thread_fence(memory_order_seq_cst);
    /* acquire: a sleeper's cons_lazy, stored before its increment, is seen */
    if (atomic_load_explicit(&q->cons_sleeping, memory_order_acquire)) {
        /* a lazy sleeper wakes by itself within lazy_ns: signal only
         * when enough is queued (the ring may be read concurrently: the
         * count is a gauge, a late signal is only a later wake-up) */
        if (atomic_load_explicit(&q->cons_lazy, memory_order_relaxed) &&
            pmq_count(q) < q->wake_at)
            return;
        pthread_mutex_lock(&q->mu);
        pthread_cond_signal(&q->nonempty);
        pthread_mutex_unlock(&q->mu);
    }
}

int pmq_push_until(struct pmq *q, void *v, uint64_t deadline_ns)
{
    int i, rc = 0;

    if (try_push(q, v) == 0)
        goto pushed;
    for (i = 0; i < PMQ_SPIN; i++) {
        cpu_relax();
        if (try_push(q, v) == 0)
            goto pushed;
    }
    pthread_mutex_lock(&q->mu);
    for (;;) {
        int ok;
        atomic_fetch_add(&q->prod_sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        ok = try_push(q, v) == 0;
        if (!ok && deadline_ns && pmq_mono_ns() >= deadline_ns)
            rc = -ETIMEDOUT;
        else if (!ok && deadline_ns) {
            struct timespec ts;
            ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
            ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
            pthread_cond_timedwait(&q->nonfull, &q->mu, &ts);
        } else if (!ok)
            pthread_cond_wait(&q->nonfull, &q->mu);
        atomic_fetch_sub(&q->prod_sleeping, 1);
        if (ok || rc)
            break;
    }
    pthread_mutex_unlock(&q->mu);
    if (rc)
        return rc;
pushed:
    wake_consumer(q);
    return 0;
}

int pmq_push(struct pmq *q, void *v, int block)
{
    if (!block) {
        if (try_push(q, v) < 0)
            return -ENOBUFS;
        wake_consumer(q);
        return 0;
    }
    return pmq_push_until(q, v, 0);
}

int pmq_pop_wait(struct pmq *q, void **out, uint64_t deadline_ns,
                 int (*cancel)(void *), void *arg)
{
    int idle = 0; /* the last lazy wait found nothing */
    for (;;) {
        void *v;
        int i, stop, lazy;

        if ((v = pmq_try_pop(q)))
            goto got;
        if (atomic_load_explicit(&q->closed, memory_order_acquire)) {
            /* every producer has finished: what is there is all */
            if ((v = pmq_try_pop(q)))
                goto got;
            return -EPIPE;
        }
        if (cancel && cancel(arg))
            return -ECANCELED;
        if (deadline_ns && pmq_mono_ns() >= deadline_ns)
            return -ETIMEDOUT;
        for (i = 0; i < PMQ_SPIN; i++) {
            cpu_relax();
            if ((v = pmq_try_pop(q)))
                goto got;
        }
        pthread_mutex_lock(&q->mu);
        /* lazy: only while items kept coming (last wait not idle) */
        lazy = q->wake_at > 1 && !idle;
        atomic_store_explicit(&q->cons_lazy, lazy, memory_order_relaxed);
        atomic_fetch_add(&q->cons_sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        v = pop_nowake(q);
        stop = v || atomic_load_explicit(&q->closed, memory_order_acquire) ||
               (cancel && cancel(arg));
        if (!stop) {
            uint64_t dl = deadline_ns;
            if (lazy) {
                uint64_t soon = pmq_mono_ns() + q->lazy_ns;
                if (!dl || soon < dl)
                    dl = soon;
            }
            if (dl) {
                struct timespec ts;
                ts.tv_sec = (time_t)(dl / 1000000000ull);
                ts.tv_nsec = (long)(dl % 1000000000ull);
                pthread_cond_timedwait(&q->nonempty, &q->mu, &ts);
            } else {
                pthread_cond_wait(&q->nonempty, &q->mu);
            }
        }
        atomic_fetch_sub(&q->cons_sleeping, 1);
        atomic_store_explicit(&q->cons_lazy, 0, memory_order_relaxed);
        pthread_mutex_unlock(&q->mu);
        if (v) {
            wake_producer(q);
            goto got;
        }
        /* a lazy wait that finds nothing: the input paused, sleep deeply
         * next time */
        idle = lazy && !pmq_count(q);
        continue; /* re-check: item, closed, cancel, deadline */
    got:
        *out = v;
        return 0;
    }
}

void pmq_wake(struct pmq *q)
{
    if (!q->inited)
        return;
    pthread_mutex_lock(&q->mu);
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->mu);
}

void pmq_close(struct pmq *q)
{
    pthread_mutex_lock(&q->mu);
    atomic_store_explicit(&q->closed, 1, memory_order_release);
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->mu);
}

uint32_t pmq_count(struct pmq *q)
{
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t n = t > h ? t - h : 0;
    return n > q->cap ? q->cap : (uint32_t)n;
}
