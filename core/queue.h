/*
 * queue.h - a bounded lock-free MPMC ring of pointers (Vyukov's bounded
 * queue: one sequence number per cell, C11 atomics) with sleeping on both
 * ends: a consumer that finds it empty and a producer that finds it full
 * (when it chose to block) sleep on a condvar, and the other side takes
 * the mutex and signals only when it sees a sleeper.  The fast path (an
 * item or room is there) is one CAS and two atomic stores, no lock and no
 * syscall.  Used for the queues from captures to pipelines
 * (core/pipeline.c; the batch pools are LIFO stacks there).  A pipeline's
 * queue wakes its thread lazily (pmq_set_lazy): once a few batches wait,
 * or by the sleeper's own short timeout, while batches keep coming.
 *
 * Shared between threads: everything in struct pmq; any number of
 * producers and consumers.  pmq_init/pmq_fini are not concurrent with
 * anything else.
 */
#ifndef PMACCT_CORE_QUEUE_H
#define PMACCT_CORE_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct pmq_cell {
    /* 2*pos: free for the push at position pos; 2*pos+1: holds the item
     * pushed at pos (the factor 2 keeps a capacity of 1 unambiguous) */
    _Atomic uint64_t seq;
    void *val;
};

struct pmq {
    /* tail and head on cache lines of their own (padding, not _Alignas:
     * the struct lives in malloc'ed memory aligned to 16 only) */
    char pad0[64];
    _Atomic uint64_t tail; /* next push position */
    char pad1[64 - sizeof(uint64_t)];
    _Atomic uint64_t head; /* next pop position */
    char pad2[64 - sizeof(uint64_t)];
    struct pmq_cell *cells;
    uint32_t cap;
    _Atomic int cons_sleeping; /* consumers asleep in pmq_pop_wait */
    _Atomic int prod_sleeping; /* producers asleep in pmq_push (block) */
    _Atomic int closed;        /* no more producers: pop returns -EPIPE */
    pthread_mutex_t mu;        /* only for sleeping and waking */
    pthread_cond_t nonempty;   /* CLOCK_MONOTONIC */
    pthread_cond_t nonfull;
    int inited;
    /* lazy wake-ups (pmq_set_lazy): while items keep coming, a sleeping
     * consumer is signalled only when wake_at items are queued, and wakes
     * by itself after lazy_ns; after a timed wake that found nothing it
     * sleeps deeply again (cons_lazy 0: signalled by every push) */
    uint32_t wake_at;
    uint64_t lazy_ns;
    _Atomic int cons_lazy;
};

/* 0 or -ENOMEM (cap >= 1). */
int pmq_init(struct pmq *q, uint32_t cap);
void pmq_fini(struct pmq *q);

/* Push v (non-NULL).  0, or -ENOBUFS when the queue is full and !block;
 * with block it waits for room (a short spin, then asleep). */
int pmq_push(struct pmq *q, void *v, int block);

/* Push v, waiting for room until deadline_ns (CLOCK_MONOTONIC ns; 0: no
 * deadline).  0, or -ETIMEDOUT with v not queued. */
int pmq_push_until(struct pmq *q, void *v, uint64_t deadline_ns);

/* An item or NULL when empty, without waiting. */
void *pmq_try_pop(struct pmq *q);

/* Wait for an item until deadline_ns (CLOCK_MONOTONIC ns, 0: no deadline)
 * or until cancel(arg) returns non-zero (checked before sleeping and after
 * each wake-up; make it true and call pmq_wake() to interrupt).
 * 0 with *out set, -ETIMEDOUT, -ECANCELED, or -EPIPE once the queue is
 * closed and empty. */
int pmq_pop_wait(struct pmq *q, void **out, uint64_t deadline_ns,
                 int (*cancel)(void *), void *arg);

/* Lazy wake-ups for a queue with one consumer that runs in bursts: while
 * items keep coming, the consumer is signalled only once wake_at items
 * are queued, and sleeps at most lazy_ns (so an item waits at most that
 * long); once a wait times out with nothing queued it is signalled by the
 * next push again.  wake_at <= 1: every push signals (the default). */
void pmq_set_lazy(struct pmq *q, uint32_t wake_at, uint64_t lazy_ns);
/* Wake every sleeping consumer (they re-check cancel()). */
void pmq_wake(struct pmq *q);
/* Mark the end of input: consumers drain what is queued, then -EPIPE. */
void pmq_close(struct pmq *q);

/* Items queued (a gauge: exact when nothing is in flight). */
uint32_t pmq_count(struct pmq *q);

uint64_t pmq_mono_ns(void);

#endif /* PMACCT_CORE_QUEUE_H */
