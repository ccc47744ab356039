/*
 * pipeline.c - the running daemon: batch pools, the bounded queues from
 * captures to pipelines, one thread per capture (desc->run), one per
 * pipeline (transforms' then the output's process() on each batch, tick()
 * about once a second and when idle, reload() after SIGUSR2, flush(FINAL)
 * at the end), one per service with a run().  Also the batch functions of
 * the host table.
 *
 * Shared between threads:
 *  - each pipeline's queue: a bounded lock-free ring (core/queue.c), one
 *    push and one pop per batch, never per record, no lock on the fast
 *    path; the consumer is woken only when it sleeps, a producer (policy
 *    block) only when one waits.
 *  - each pipeline's pool: a LIFO stack of free batches under a mutex,
 *    one lock per batch get/put; a batch_get is woken only when it waits.
 *  - d->stop_captures, d->stop_all, d->reload_gen: atomics.
 *  - d->mu/d->cv: captures report their end to the main thread; d->mu also
 *    orders stop/reload wake-ups (signal thread) before teardown.
 *  - counters: relaxed atomics (stats.c).
 * With one pipeline the capture's batch is handed over as is; with several
 * it is copied into a batch of each other pipeline's pool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pmd.h"
#include "pmdata.h"

#define ARENA_BYTES (64u * 1024u)
#define PL_WAKE_AT 4                /* batches queued before a wake-up */
#define PL_LAZY_NS (20ull * 1000000) /* longest a batch waits for it */

static int load_flag(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- pools --------------------------------------------------------------- */

/* A pool is a stack of free batches under a mutex, taken once per batch
 * (never per record): last in, first out, so the batch handed out is the
 * one released last, whose records are still in the caches.  A FIFO ring
 * of 67 batches of 256 records cycled ~13 MB through the caches (perf:
 * ~20% more CPU per record in bench/nf_decode -p 67 than with 2). */
static int pool_init(struct bpool *p, uint32_t n, uint32_t cap,
                     uint32_t pktbuf)
{
    uint32_t i;
    memset(p, 0, sizeof(*p));
    if (!n)
        return -EINVAL;
    p->all = calloc(n, sizeof(*p->all));
    p->stack = calloc(n, sizeof(*p->stack));
    if (!p->all || !p->stack)
        return -ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->inited = 1;
    for (i = 0; i < n; i++) {
        struct pm_batch *b = pmc_batch_new(cap, ARENA_BYTES, pktbuf);
        if (!b)
            return -ENOMEM;
        /* fault the records in now (calloc leaves large blocks unmapped
         * until touched): the first burst of traffic then does not pay a
         * page fault per 4 KB of records */
        memset(b->recs, 0, (size_t)b->cap * b->rec_size);
        b->core_private = p;
        p->all[i] = b;
        p->total++;
        p->stack[p->top++] = b;
    }
    return 0;
}

static void pool_fini(struct bpool *p)
{
    uint32_t i;
    for (i = 0; p->all && i < p->total; i++)
        pmc_batch_free(p->all[i]);
    free(p->all);
    free(p->stack);
    if (p->inited) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
    memset(p, 0, sizeof(*p));
}

/* A free batch, or NULL when *stop becomes non-zero while waiting. */
static struct pm_batch *pool_get(struct bpool *p, const int *stop)
{
    struct pm_batch *b = NULL;
    pthread_mutex_lock(&p->mu);
    while (!p->top) {
        /* the stop flag is set before pool_wake takes the mutex: read
         * under it, it cannot be missed */
        if (stop && load_flag(stop))
            goto out;
        p->waiters++;
        pthread_cond_wait(&p->cv, &p->mu);
        p->waiters--;
    }
    b = p->stack[--p->top];
out:
    pthread_mutex_unlock(&p->mu);
    return b;
}

static void pool_put(struct pm_batch *b)
{
    struct bpool *p = b->core_private;
    pthread_mutex_lock(&p->mu);
    p->stack[p->top++] = b; /* room for every batch of the pool */
    if (p->waiters)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void pool_wake(struct bpool *p)
{
    if (!p->inited)
        return;
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---- host batch functions ------------------------------------------------ */

static struct capture *cap_of(const struct pm_instance *inst)
{
    return (struct capture *)inst->core;
}

struct pm_batch *pmd_batch_get(const struct pm_instance *inst)
{
    struct capture *c = cap_of(inst);
    struct pmd *d = c->st.d;
    struct bpool *p = d->npls ? &d->pls[0]->pool : c->own;
    struct pm_batch *b;
    if (load_flag(&d->stop_captures))
        return NULL;
    b = pool_get(p, &d->stop_captures);
    if (!b)
        return NULL;
    pmc_batch_reset(b);
    b->origin.capture = inst->name;
    b->origin.capture_id = inst->instance_id;
    return b;
}

void pmd_batch_release(const struct pm_instance *inst, struct pm_batch *b)
{
    (void)inst;
    if (b)
        pool_put(b);
}

static void queue_full(struct pmd *d, struct pipeline *pl, uint32_t n)
{
    struct stage *out = pl->st[pl->nst - 1];
    (void)d;
    pm_counter_add(pl->c_dropped_q, n);
    out->d->host.log_limited(&out->inst, PM_LOG_WARNING, "queue_full",
                             "pipeline '%s' is not keeping up: its queue of "
                             "%u batches is full, %u records dropped "
                             "(dropped_queue_full counts them)",
                             pl->id, pl->q.cap, n);
}

/* Whether a push to pl would be dropped at once (drop policy, or a wait
 * policy shedding load): then the copy for it is not made.  A shedding
 * pipeline goes back to waiting once its queue is half empty. */
static int drops_now(struct pipeline *pl)
{
    if (pl->overload == PMD_OVERLOAD_BLOCK)
        return 0;
    if (pmq_count(&pl->q) < pl->q.cap) /* racy peek: room, try the push */
        return 0;
    if (pl->overload == PMD_OVERLOAD_DROP)
        return 1;
    return __atomic_load_n(&pl->shedding, __ATOMIC_RELAXED);
}

/* Queue b for pl under its overload policy: 0, or -ENOBUFS (b not queued:
 * the caller releases it and counts the drop). */
static int push_to(struct pipeline *pl, struct pm_batch *b)
{
    int rc;
    switch (pl->overload) {
    case PMD_OVERLOAD_BLOCK:
        return pmq_push(&pl->q, b, 1);
    case PMD_OVERLOAD_DROP:
        return pmq_push(&pl->q, b, 0);
    default:
        break;
    }
    /* PMD_OVERLOAD_WAIT: bursts wait (the kernel's socket buffer or
     * capture ring holds the input meanwhile); a pipeline that takes
     * nothing for overload_wait_ns sheds load until it half-drains, so a
     * stuck pipeline does not hold the others back */
    if (__atomic_load_n(&pl->shedding, __ATOMIC_RELAXED)) {
        if (pmq_count(&pl->q) > pl->q.cap / 2)
            return pmq_push(&pl->q, b, 0);
        if (__atomic_exchange_n(&pl->shedding, 0, __ATOMIC_RELAXED)) {
            struct stage *out = pl->st[pl->nst - 1];
            out->d->host.log(&out->inst, PM_LOG_INFO,
                             "pipeline '%s' keeps up again: the capture "
                             "waits for it again when its queue is full",
                             pl->id);
        }
    }
    if (!pl->overload_wait_ns)
        return pmq_push(&pl->q, b, 0);
    rc = pmq_push_until(&pl->q, b, pmq_mono_ns() + pl->overload_wait_ns);
    if (rc == -ETIMEDOUT) {
        if (!__atomic_exchange_n(&pl->shedding, 1, __ATOMIC_RELAXED)) {
            struct stage *out = pl->st[pl->nst - 1];
            out->d->host.log(&out->inst, PM_LOG_WARNING,
                             "pipeline '%s' took nothing for %llu ms: "
                             "dropping its batches until its queue is half "
                             "empty (dropped_queue_full counts them)",
                             pl->id,
                             (unsigned long long)(pl->overload_wait_ns /
                                                  1000000ull));
        }
        return -ENOBUFS;
    }
    return rc;
}

static void run_batch(struct pipeline *pl, struct pm_batch *b);

/* Hand b to pl: run it here when pl runs inline (pipeline_inline) and has
 * nothing queued or running, since then no earlier batch can come after
 * it; else queue it under pl's overload policy.  0, or -ENOBUFS (b not
 * taken: the caller releases it and counts the drop). */
static int deliver(struct pipeline *pl, struct pm_batch *b)
{
    int rc;
    if (pl->inline_run &&
        !__atomic_load_n(&pl->in_flight, __ATOMIC_ACQUIRE) &&
        pthread_mutex_trylock(&pl->run_mu) == 0) {
        if (!__atomic_load_n(&pl->in_flight, __ATOMIC_ACQUIRE)) {
            pmc_batch_local = 1;
            run_batch(pl, b);
            pmc_batch_local = 0;
            pthread_mutex_unlock(&pl->run_mu);
            pm_counter_add(pl->c_inline, 1);
            pool_put(b);
            return 0;
        }
        pthread_mutex_unlock(&pl->run_mu);
    }
    __atomic_add_fetch(&pl->in_flight, 1, __ATOMIC_ACQ_REL);
    rc = push_to(pl, b);
    if (rc < 0)
        __atomic_sub_fetch(&pl->in_flight, 1, __ATOMIC_ACQ_REL);
    return rc;
}

int pmd_batch_emit(const struct pm_instance *inst, struct pm_batch *b)
{
    struct capture *c = cap_of(inst);
    struct pmd *d = c->st.d;
    size_t i;
    int rc = 0;
    uint32_t n = b->n;

    pm_counter_add(c->c_batches, 1);
    pm_counter_add(c->c_records, n);
    if (!d->npls) {
        pool_put(b);
        return 0;
    }
    for (i = 1; i < d->npls; i++) {
        struct pipeline *pl = d->pls[i];
        struct pm_batch *nb;
        if (drops_now(pl)) {
            queue_full(d, pl, n);
            rc = -ENOBUFS;
            continue;
        }
        nb = pool_get(&pl->pool, &d->stop_all);
        if (!nb)
            continue;
        pmc_batch_reset(nb);
        if (pmc_batch_copy(nb, b) < 0) {
            pool_put(nb);
            continue;
        }
        nb->origin = b->origin;
        if (deliver(pl, nb) < 0) {
            pool_put(nb);
            queue_full(d, pl, n);
            rc = -ENOBUFS;
        }
    }
    if (deliver(d->pls[0], b) < 0) {
        pool_put(b);
        queue_full(d, d->pls[0], n);
        rc = -ENOBUFS;
    }
    return rc;
}

uint32_t pmd_capture_needs(const struct pm_instance *inst, uint32_t *snaplen)
{
    struct stage *s = inst->core;
    if (snaplen)
        *snaplen = s->d->snaplen;
    return s->d->capf;
}

int pmd_stopping(const struct pm_instance *inst)
{
    struct stage *s = inst ? inst->core : NULL;
    if (!s)
        return 0;
    if (inst->kind == PM_KIND_CAPTURE)
        return load_flag(&s->d->stop_captures);
    return load_flag(&s->d->stop_all);
}

/* ---- threads ------------------------------------------------------------- */

static void now_ts(pm_ts_t *ts)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    ts->sec = (uint64_t)t.tv_sec;
    ts->usec = (uint32_t)(t.tv_nsec / 1000);
    ts->_pad = 0;
}

static void run_batch(struct pipeline *pl, struct pm_batch *b)
{
    size_t i;
    pm_counter_add(pl->c_received, b->n);
    pm_counter_add(pl->c_batches, 1);
    for (i = 0; i < pl->nst; i++) {
        struct stage *s = pl->st[i];
        uint32_t before = b->ndropped;
        int rc;
        if (b->n && b->ndropped >= b->n)
            break; /* nothing left to look at */
        rc = s->mod->d->process(s->ctx, b);
        if (rc < 0) {
            pm_counter_add(s->c_errors, 1);
            s->d->host.log_limited(&s->inst, PM_LOG_WARNING, "process",
                                   "process() failed: %s", strerror(-rc));
        }
        if (b->ndropped > before) {
            pm_counter_add(s->c_dropped, b->ndropped - before);
            pm_counter_add(pl->c_dropped_stage, b->ndropped - before);
        }
    }
}

static void pl_tick(struct pipeline *pl)
{
    size_t i;
    pm_ts_t now;
    now_ts(&now);
    for (i = 0; i < pl->nst; i++) {
        struct stage *s = pl->st[i];
        if (s->mod->d->tick && s->mod->d->tick(s->ctx, &now) < 0)
            pm_counter_add(s->c_errors, 1);
    }
}

static void pl_reload(struct pipeline *pl)
{
    size_t i;
    for (i = 0; i < pl->nst; i++) {
        struct stage *s = pl->st[i];
        int rc;
        if (!s->mod->d->reload)
            continue;
        rc = s->mod->d->reload(s->ctx);
        if (rc < 0) {
            pm_counter_add(s->c_errors, 1);
            log_core(PM_LOG_WARNING,
                     "pipeline '%s': reload of %s[%s] failed (%s): keeping "
                     "the previous maps",
                     pl->id, s->mod->name, s->inst.name, strerror(-rc));
        }
    }
}

static int reload_pending(void *arg)
{
    struct pipeline *pl = arg;
    return __atomic_load_n(&pl->st[0]->d->reload_gen, __ATOMIC_ACQUIRE) !=
           pl->reload_seen;
}

static void *pl_main(void *arg)
{
    struct pipeline *pl = arg;
    struct pmd *d = pl->st[0]->d;
    struct pmq *q = &pl->q;
    uint64_t next_tick = mono_ns() + 1000000000ull;
    size_t i;

    for (;;) {
        void *b = NULL;
        unsigned gen;
        uint64_t now;
        /* an item; else sleep until one comes, the tick is due, a reload
         * is asked for or the queue is closed and drained (-EPIPE) */
        int rc = pmq_pop_wait(q, &b, next_tick, reload_pending, pl);

        __atomic_store_n(pl->c_qdepth, (uint64_t)pmq_count(q),
                         __ATOMIC_RELAXED);
        if (rc == 0) {
            pthread_mutex_lock(&pl->run_mu);
            run_batch(pl, b);
            __atomic_sub_fetch(&pl->in_flight, 1, __ATOMIC_ACQ_REL);
            pthread_mutex_unlock(&pl->run_mu);
            pool_put(b);
        }
        gen = __atomic_load_n(&d->reload_gen, __ATOMIC_ACQUIRE);
        if (gen != pl->reload_seen) {
            pl->reload_seen = gen;
            pthread_mutex_lock(&pl->run_mu);
            pl_reload(pl);
            pthread_mutex_unlock(&pl->run_mu);
        }
        now = mono_ns();
        if (now >= next_tick) {
            pthread_mutex_lock(&pl->run_mu);
            pl_tick(pl);
            pthread_mutex_unlock(&pl->run_mu);
            next_tick = now + 1000000000ull;
        }
        if (rc == -EPIPE)
            break;
    }
    /* the captures are joined before the queue is closed: nothing runs
     * inline any more */
    for (i = 0; i < pl->nst; i++) {
        struct stage *s = pl->st[i];
        if (s->mod->d->flush && s->mod->d->flush(s->ctx, PM_FLUSH_FINAL) < 0)
            pm_counter_add(s->c_errors, 1);
    }
    return NULL;
}

static void *cap_main(void *arg)
{
    struct capture *c = arg;
    struct pmd *d = c->st.d;
    int rc = c->st.mod->d->run(c->st.ctx);
    c->rc = rc;
    if (rc < 0) {
        log_core(PM_LOG_ERR, "capture %s[%s] failed: %s", c->st.mod->name,
                 c->st.inst.name, strerror(-rc));
        __atomic_store_n(&d->exit_code, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_lock(&d->mu);
    c->finished = 1;
    d->ncaps_done++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void *svc_main(void *arg)
{
    struct service *s = arg;
    int rc = s->st.mod->d->run(s->st.ctx);
    s->rc = rc;
    if (rc < 0) {
        log_core(PM_LOG_ERR, "service %s[%s] failed: %s", s->st.mod->name,
                 s->st.inst.name, strerror(-rc));
        __atomic_store_n(&s->st.d->exit_code, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

/* The wake-ups below run under d->mu, and teardown() clears d->running
 * under d->mu before it destroys queues and pools: a signal arriving
 * during teardown never touches a destroyed queue. */
void pmd_request_stop(struct pmd *d)
{
    size_t i;
    __atomic_store_n(&d->stop_captures, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&d->mu);
    pthread_cond_broadcast(&d->cv);
    /* when not running, pmd_start checks stop_captures itself */
    if (load_flag(&d->running)) {
        for (i = 0; i < d->npls; i++)
            pool_wake(&d->pls[i]->pool);
        for (i = 0; i < d->ncaps; i++)
            if (d->caps[i]->own)
                pool_wake(d->caps[i]->own);
    }
    pthread_mutex_unlock(&d->mu);
}

void pmd_request_reload(struct pmd *d)
{
    size_t i;
    __atomic_add_fetch(&d->reload_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&d->mu);
    if (load_flag(&d->running))
        for (i = 0; i < d->npls; i++)
            pmq_wake(&d->pls[i]->q);
    pthread_mutex_unlock(&d->mu);
}

static void each_stage(struct pmd *d, void (*fn)(struct pmd *, struct stage *))
{
    size_t i, j;
    for (i = 0; i < d->ncaps; i++)
        fn(d, &d->caps[i]->st);
    for (i = 0; i < d->npls; i++)
        for (j = 0; j < d->pls[i]->nst; j++)
            fn(d, d->pls[i]->st[j]);
    for (i = 0; i < d->nsvcs; i++)
        fn(d, &d->svcs[i]->st);
}

static int init_failed;

static void init_one(struct pmd *d, struct stage *s)
{
    int rc;
    if (init_failed)
        return;
    s->c_errors = stats_counter(s->mod->name, s->inst.name, "errors",
                                "process() errors");
    s->c_dropped = stats_counter(s->mod->name, s->inst.name, "dropped",
                                 "records this stage dropped");
    rc = s->mod->d->init(&d->host, &s->inst, s->config, &s->ctx);
    if (rc < 0) {
        log_core(PM_LOG_ERR, "%s %s[%s]: init failed: %s",
                 kind_name(s->mod->d->kind), s->mod->name, s->inst.name,
                 strerror(-rc));
        init_failed = 1;
        return;
    }
    s->inited = 1;
}

static void start_one(struct pmd *d, struct stage *s)
{
    int rc;
    (void)d;
    if (init_failed || !s->inited || !s->mod->d->start)
        return;
    rc = s->mod->d->start(s->ctx);
    if (rc < 0) {
        log_core(PM_LOG_ERR, "%s %s[%s]: start failed: %s",
                 kind_name(s->mod->d->kind), s->mod->name, s->inst.name,
                 strerror(-rc));
        init_failed = 1;
        return;
    }
    s->started = 1;
}

static void fini_one(struct pmd *d, struct stage *s)
{
    (void)d;
    if (s->inited && s->mod->d->fini)
        s->mod->d->fini(s->ctx);
    s->inited = 0;
    s->ctx = NULL;
}

static void stop_one(struct pmd *d, struct stage *s)
{
    (void)d;
    if (s->inited && s->mod->d->stop)
        s->mod->d->stop(s->ctx);
}

static void teardown(struct pmd *d)
{
    size_t i;
    pthread_mutex_lock(&d->mu); /* see pmd_request_stop */
    __atomic_store_n(&d->running, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&d->mu);
    each_stage(d, fini_one);
    for (i = 0; i < d->npls; i++) {
        pool_fini(&d->pls[i]->pool);
        pmq_fini(&d->pls[i]->q);
        pthread_mutex_destroy(&d->pls[i]->run_mu);
    }
    for (i = 0; i < d->ncaps; i++)
        if (d->caps[i]->own) {
            pool_fini(d->caps[i]->own);
            free(d->caps[i]->own);
            d->caps[i]->own = NULL;
        }
}

int pmd_start(struct pmd *d)
{
    size_t i;
    uint32_t pkt = 0;
    int rc;

    pmd_host_fill(d, &d->host);
    if (d->capf & PM_CAPF_KEEP_PACKETS)
        pkt = d->batch_size * d->snaplen;
    for (i = 0; i < d->npls; i++) {
        struct pipeline *pl = d->pls[i];
        const char *id = pl->id;
        pthread_mutex_init(&pl->run_mu, NULL);
        pl->in_flight = 0;
        if ((rc = pmq_init(&pl->q, d->queue_batches)) < 0 ||
            (rc = pool_init(&pl->pool,
                            d->queue_batches + (uint32_t)d->ncaps + 2,
                            d->batch_size, pkt)) < 0) {
            log_core(PM_LOG_ERR, "pipeline '%s': out of memory for %u "
                                 "batches of %u records",
                     id, d->queue_batches, d->batch_size);
            teardown(d);
            return 1;
        }
        /* the pipeline thread is signalled once a few batches wait (or
         * wakes by itself within PL_LAZY_NS) while batches keep coming:
         * fewer sleeps and wake-ups than one per batch */
        pmq_set_lazy(&pl->q, d->queue_batches >= 8 ? PL_WAKE_AT : 1,
                     PL_LAZY_NS);
        pl->c_received = stats_counter("pipeline", id, "received",
                                       "records received from captures");
        pl->c_dropped_q = stats_counter("pipeline", id, "dropped_queue_full",
                                        "records dropped: queue full");
        pl->c_dropped_stage = stats_counter(
            "pipeline", id, "dropped_by_stage", "records dropped by stages");
        pl->c_qdepth = stats_counter("pipeline", id, "queue_depth",
                                     "batches waiting");
        pl->c_batches = stats_counter("pipeline", id, "batches",
                                      "batches processed");
        pl->c_inline = stats_counter("pipeline", id, "batches_inline",
                                     "batches run by a capture thread "
                                     "(pipeline_inline)");
    }
    for (i = 0; i < d->ncaps; i++) {
        struct capture *c = d->caps[i];
        c->c_batches = stats_counter("capture", c->st.inst.name, "batches",
                                     "batches emitted");
        c->c_records = stats_counter("capture", c->st.inst.name, "records",
                                     "records emitted");
        if (!d->npls) {
            c->own = calloc(1, sizeof(*c->own));
            if (!c->own || pool_init(c->own, 4, d->batch_size, pkt) < 0) {
                log_core(PM_LOG_ERR, "out of memory for batches");
                teardown(d);
                return 1;
            }
        }
    }

    init_failed = 0;
    each_stage(d, init_one);
    each_stage(d, start_one);
    if (init_failed) {
        each_stage(d, stop_one);
        teardown(d);
        return 1;
    }

    __atomic_store_n(&d->running, 1, __ATOMIC_RELEASE);
    for (i = 0; i < d->npls; i++) {
        if (pthread_create(&d->pls[i]->th, NULL, pl_main, d->pls[i]) != 0) {
            log_core(PM_LOG_ERR, "cannot create a thread for pipeline '%s'",
                     d->pls[i]->id);
            d->exit_code = 1;
            pmd_request_stop(d);
            break;
        }
        d->pls[i]->th_started = 1;
    }
    for (i = 0; i < d->nsvcs; i++) {
        struct service *s = d->svcs[i];
        if (!s->st.mod->d->run)
            continue;
        if (pthread_create(&s->th, NULL, svc_main, s) == 0)
            s->th_started = 1;
    }
    for (i = 0; i < d->ncaps && !load_flag(&d->stop_captures); i++) {
        struct capture *c = d->caps[i];
        if (pthread_create(&c->th, NULL, cap_main, c) == 0)
            c->th_started = 1;
        else {
            d->exit_code = 1;
            pmd_request_stop(d);
        }
    }
    return 0;
}

int pmd_wait(struct pmd *d)
{
    size_t i, started = 0;
    int stops_sent = 0;

    for (i = 0; i < d->ncaps; i++)
        started += d->caps[i]->th_started;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        int stop = load_flag(&d->stop_captures);
        if (stop && !stops_sent) {
            pthread_mutex_unlock(&d->mu);
            for (i = 0; i < d->ncaps; i++)
                stop_one(d, &d->caps[i]->st);
            stops_sent = 1;
            pthread_mutex_lock(&d->mu);
            continue;
        }
        if ((size_t)d->ncaps_done >= started && (started || stop))
            break;
        pthread_cond_wait(&d->cv, &d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    for (i = 0; i < d->ncaps; i++)
        if (d->caps[i]->th_started) {
            pthread_join(d->caps[i]->th, NULL);
            d->caps[i]->th_started = 0;
        }
    /* drain: the pipelines finish what is queued, then flush */
    for (i = 0; i < d->npls; i++)
        if (d->pls[i]->th_started)
            pmq_close(&d->pls[i]->q);
    for (i = 0; i < d->npls; i++)
        if (d->pls[i]->th_started) {
            pthread_join(d->pls[i]->th, NULL);
            d->pls[i]->th_started = 0;
        }
    __atomic_store_n(&d->stop_all, 1, __ATOMIC_RELEASE);
    for (i = 0; i < d->nsvcs; i++)
        stop_one(d, &d->svcs[i]->st);
    for (i = 0; i < d->nsvcs; i++)
        if (d->svcs[i]->th_started) {
            pthread_join(d->svcs[i]->th, NULL);
            d->svcs[i]->th_started = 0;
        }
    teardown(d);
    return load_flag(&d->exit_code) ? 1 : 0;
}
