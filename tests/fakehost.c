/*
 * fakehost.c - the fake core of tests/fakehost.h.  All state is in the
 * file-level `fh` struct, guarded by fh.lock (a capture under test may run
 * on its own thread while the test thread inspects results).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakehost.h"
#include "pmdata.h"

struct kv {
    char *key;
    char *value;
};

struct counter {
    char *name;
    uint64_t *slot;
};

struct inst_rec {
    struct pm_instance inst;
    uint16_t ids[PM_P_MAX];
    char *module, *name;
};

static struct {
    pthread_mutex_t lock;
    struct kv *conf;
    size_t nconf;
    struct counter *ctr;
    size_t nctr;
    struct pm_batch **batches; /* every batch handed out, freed at reset */
    size_t nbatches;
    struct pm_batch **emitted;
    size_t nemitted;
    struct inst_rec **insts;
    size_t ninsts;
    struct pm_buf log;
    int stop;
    uint32_t cap_flags, cap_snaplen;
} fh = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "fakehost: out of memory\n");
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

/* ---- logging ------------------------------------------------------------- */

static const char *kind_name(uint32_t k)
{
    switch (k) {
    case PM_KIND_CAPTURE: return "capture";
    case PM_KIND_TRANSFORM: return "transform";
    case PM_KIND_OUTPUT: return "output";
    case PM_KIND_SERVICE: return "service";
    default: return "core";
    }
}

static void vlog_line(const struct pm_instance *inst, int level,
                      const char *fmt, va_list ap)
{
    char msg[2048], line[2300];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (inst)
        snprintf(line, sizeof(line), "<%d> [%s:%s:%s] %s\n", level,
                 kind_name(inst->kind), inst->module ? inst->module : "?",
                 inst->name ? inst->name : "?", msg);
    else
        snprintf(line, sizeof(line), "<%d> %s\n", level, msg);
    fputs(line, stderr);
    pthread_mutex_lock(&fh.lock);
    pmc_buf_append(&fh.log, line, strlen(line));
    pthread_mutex_unlock(&fh.lock);
}

static void fh_log(const struct pm_instance *inst, int level, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_line(inst, level, fmt, ap);
    va_end(ap);
}

static void fh_log_limited(const struct pm_instance *inst, int level,
                           const char *key, const char *fmt, ...)
{
    va_list ap;
    (void)key;
    va_start(ap, fmt);
    vlog_line(inst, level, fmt, ap);
    va_end(ap);
}

/* ---- time, lifecycle ----------------------------------------------------- */

static void fh_now(const struct pm_instance *inst, pm_ts_t *ts)
{
    struct timespec t;
    (void)inst;
    clock_gettime(CLOCK_REALTIME, &t);
    ts->sec = (uint64_t)t.tv_sec;
    ts->usec = (uint32_t)(t.tv_nsec / 1000);
    ts->_pad = 0;
}

static int fh_stopping(const struct pm_instance *inst)
{
    int s;
    (void)inst;
    pthread_mutex_lock(&fh.lock);
    s = fh.stop;
    pthread_mutex_unlock(&fh.lock);
    return s;
}

void fakehost_set_stop(int stop)
{
    pthread_mutex_lock(&fh.lock);
    fh.stop = stop;
    pthread_mutex_unlock(&fh.lock);
}

/* ---- batches ------------------------------------------------------------- */

static struct pm_batch *track_batch(uint32_t cap, uint32_t arena,
                                    uint32_t pktbuf)
{
    struct pm_batch *b = pmc_batch_new(cap, arena, pktbuf);
    if (!b)
        abort();
    pthread_mutex_lock(&fh.lock);
    fh.batches = xrealloc(fh.batches, (fh.nbatches + 1) * sizeof(*fh.batches));
    fh.batches[fh.nbatches++] = b;
    pthread_mutex_unlock(&fh.lock);
    return b;
}

struct pm_batch *fakehost_batch(uint32_t cap)
{
    return track_batch(cap, 64 * 1024, 256 * 1024);
}

static struct pm_batch *fh_batch_get(const struct pm_instance *inst)
{
    struct pm_batch *b;
    if (fh_stopping(inst))
        return NULL;
    b = track_batch(256, 64 * 1024, 256 * 1024);
    if (inst) {
        b->origin.capture = inst->name;
        b->origin.capture_id = inst->instance_id;
    }
    return b;
}

static int fh_batch_emit(const struct pm_instance *inst, struct pm_batch *b)
{
    (void)inst;
    pthread_mutex_lock(&fh.lock);
    fh.emitted = xrealloc(fh.emitted, (fh.nemitted + 1) * sizeof(*fh.emitted));
    fh.emitted[fh.nemitted++] = b;
    pthread_mutex_unlock(&fh.lock);
    return 0;
}

static void fh_batch_release(const struct pm_instance *inst, struct pm_batch *b)
{
    (void)inst;
    (void)b; /* freed by fakehost_reset */
}

static uint32_t fh_capture_needs(const struct pm_instance *inst,
                                 uint32_t *snaplen)
{
    uint32_t f;
    (void)inst;
    pthread_mutex_lock(&fh.lock);
    f = fh.cap_flags;
    if (snaplen)
        *snaplen = fh.cap_snaplen;
    pthread_mutex_unlock(&fh.lock);
    return f;
}

void fakehost_set_capture_needs(uint32_t flags, uint32_t snaplen)
{
    pthread_mutex_lock(&fh.lock);
    fh.cap_flags = flags;
    fh.cap_snaplen = snaplen;
    pthread_mutex_unlock(&fh.lock);
}

uint32_t fakehost_emitted_count(void)
{
    uint32_t n;
    pthread_mutex_lock(&fh.lock);
    n = (uint32_t)fh.nemitted;
    pthread_mutex_unlock(&fh.lock);
    return n;
}

struct pm_batch *fakehost_emitted(uint32_t i)
{
    struct pm_batch *b = NULL;
    pthread_mutex_lock(&fh.lock);
    if (i < fh.nemitted)
        b = fh.emitted[i];
    pthread_mutex_unlock(&fh.lock);
    return b;
}

/* ---- counters ------------------------------------------------------------ */

static uint64_t *fh_counter(const struct pm_instance *inst, const char *name,
                            const char *help)
{
    size_t i;
    uint64_t *slot;
    (void)inst;
    (void)help;
    pthread_mutex_lock(&fh.lock);
    for (i = 0; i < fh.nctr; i++)
        if (!strcmp(fh.ctr[i].name, name)) {
            slot = fh.ctr[i].slot;
            pthread_mutex_unlock(&fh.lock);
            return slot;
        }
    fh.ctr = xrealloc(fh.ctr, (fh.nctr + 1) * sizeof(*fh.ctr));
    fh.ctr[fh.nctr].name = xstrdup(name);
    fh.ctr[fh.nctr].slot = calloc(1, sizeof(uint64_t));
    if (!fh.ctr[fh.nctr].slot)
        abort();
    slot = fh.ctr[fh.nctr++].slot;
    pthread_mutex_unlock(&fh.lock);
    return slot;
}

uint64_t fakehost_counter_value(const char *name)
{
    size_t i;
    uint64_t v = 0;
    pthread_mutex_lock(&fh.lock);
    for (i = 0; i < fh.nctr; i++)
        if (!strcmp(fh.ctr[i].name, name))
            v = pm_counter_get(fh.ctr[i].slot);
    pthread_mutex_unlock(&fh.lock);
    return v;
}

static int fh_stats_render(struct pm_buf *out, int prometheus)
{
    size_t i;
    int rc = 0;
    (void)prometheus;
    pthread_mutex_lock(&fh.lock);
    for (i = 0; i < fh.nctr && rc == 0; i++)
        rc = pmc_buf_printf(out, "%s %llu\n", fh.ctr[i].name,
                            (unsigned long long)pm_counter_get(fh.ctr[i].slot));
    pthread_mutex_unlock(&fh.lock);
    return rc;
}

/* ---- configuration ------------------------------------------------------- */

void fakehost_conf(const char *key, const char *value)
{
    size_t i;
    pthread_mutex_lock(&fh.lock);
    for (i = 0; i < fh.nconf; i++)
        if (!strcmp(fh.conf[i].key, key)) {
            free(fh.conf[i].value);
            fh.conf[i].value = xstrdup(value);
            pthread_mutex_unlock(&fh.lock);
            return;
        }
    fh.conf = xrealloc(fh.conf, (fh.nconf + 1) * sizeof(*fh.conf));
    fh.conf[fh.nconf].key = xstrdup(key);
    fh.conf[fh.nconf].value = xstrdup(value);
    fh.nconf++;
    pthread_mutex_unlock(&fh.lock);
}

static const char *conf_raw(const char *key)
{
    size_t i;
    const char *v = NULL;
    pthread_mutex_lock(&fh.lock);
    for (i = 0; i < fh.nconf; i++)
        if (!strcmp(fh.conf[i].key, key))
            v = fh.conf[i].value;
    pthread_mutex_unlock(&fh.lock);
    return v;
}

static const char *fh_conf_get(const struct pm_instance *inst, const char *key)
{
    char k[512];
    const char *v;
    if (inst && inst->name) {
        snprintf(k, sizeof(k), "%s[%s]", key, inst->name);
        v = conf_raw(k);
        if (v)
            return v;
    }
    return conf_raw(key);
}

static uint32_t fh_render_flags(const struct pm_instance *inst)
{
    return pmc_render_flags(inst, fh_conf_get);
}

static const struct pm_option *find_opt(const struct pm_module_desc *d,
                                        const char *key)
{
    const struct pm_option *o;
    for (o = d->options; o && o->name; o++)
        if (!strcmp(o->name, key))
            return o;
    return NULL;
}

static void apply(const struct pm_module_desc *d, void *cfg, const char *key,
                  const char *value)
{
    char err[512];
    const struct pm_option *o = find_opt(d, key);
    if (!o) {
        fprintf(stderr, "fakehost_config: %s: unknown key '%s'\n", d->name,
                key);
        abort();
    }
    if (pmc_option_parse(o, value, cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "fakehost_config: %s: %s\n", d->name, err);
        abort();
    }
}

void *fakehost_config(const struct pm_module_desc *d,
                      const struct pm_instance *inst, ...)
{
    char err[512];
    const struct pm_option *o;
    va_list ap;
    void *cfg = calloc(1, d->config_size ? d->config_size : 1);
    if (!cfg)
        abort();
    if (pmc_options_defaults(d->options, cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "fakehost_config: %s defaults: %s\n", d->name, err);
        abort();
    }
    for (o = d->options; o && o->name; o++) {
        const char *v = fh_conf_get(inst, o->name);
        if (v)
            apply(d, cfg, o->name, v);
    }
    va_start(ap, inst);
    for (;;) {
        const char *k = va_arg(ap, const char *), *v;
        if (!k)
            break;
        v = va_arg(ap, const char *);
        apply(d, cfg, k, v);
    }
    va_end(ap);
    return cfg;
}

void fakehost_config_free(const struct pm_module_desc *d, void *config)
{
    if (!config)
        return;
    pmc_options_free(d->options, config);
    free(config);
}

/* ---- instances ----------------------------------------------------------- */

struct pm_instance *fakehost_instance(const char *module, const char *name,
                                      uint32_t kind, const char *aggregate)
{
    struct inst_rec *ir = calloc(1, sizeof(*ir));
    uint32_t i, n = 0, sm = 0;
    int flows = 0;
    char err[512];
    if (!ir)
        abort();
    if (aggregate && pmc_aggregate_parse(aggregate, ir->ids, &n, PM_P_MAX, &sm,
                                         &flows, err, sizeof(err)) < 0) {
        fprintf(stderr, "fakehost_instance: %s\n", err);
        abort();
    }
    ir->module = xstrdup(module);
    ir->name = xstrdup(name ? name : "default");
    ir->inst.size = (uint32_t)sizeof(struct pm_instance);
    ir->inst.kind = kind;
    ir->inst.name = ir->name;
    ir->inst.module = ir->module;
    ir->inst.pipeline = kind == PM_KIND_CAPTURE ? NULL : ir->name;
    ir->inst.daemon = "pmacctd";
    ir->inst.config_file = "fakehost.conf";
    ir->inst.aggregate = ir->ids;
    ir->inst.naggregate = n;
    for (i = 0; i < n; i++)
        pm_pset_set(&ir->inst.aggregate_set, ir->ids[i]);
    ir->inst.sum_mode = sm;
    pthread_mutex_lock(&fh.lock);
    ir->inst.instance_id = (uint32_t)fh.ninsts + 1;
    fh.insts = xrealloc(fh.insts, (fh.ninsts + 1) * sizeof(*fh.insts));
    fh.insts[fh.ninsts++] = ir;
    pthread_mutex_unlock(&fh.lock);
    return &ir->inst;
}

/* ---- files --------------------------------------------------------------- */

static int fh_path_expand(const struct pm_instance *inst, const char *tmpl,
                          time_t t, const struct pm_rec *rec, char *out,
                          size_t outlen)
{
    struct tm tm;
    size_t n;
    (void)inst;
    (void)rec;
    if (!outlen)
        return -ENAMETOOLONG;
    if (!*tmpl) {
        out[0] = 0;
        return 0;
    }
    localtime_r(&t, &tm);
    n = strftime(out, outlen, tmpl, &tm);
    if (n == 0)
        return -ENAMETOOLONG;
    return 0;
}

/* ---- table --------------------------------------------------------------- */

static const struct pm_host fh_host = {
    .abi = PM_ABI,
    .size = sizeof(struct pm_host),
    .log = fh_log,
    .log_limited = fh_log_limited,
    .now = fh_now,
    .stopping = fh_stopping,
    .batch_get = fh_batch_get,
    .batch_emit = fh_batch_emit,
    .batch_release = fh_batch_release,
    .batch_str = pmc_batch_str,
    .batch_pkt = pmc_batch_pkt,
    .capture_needs = fh_capture_needs,
    .decode_packet = pmc_decode_packet,
    .prim_lookup = pmc_prim_lookup,
    .prim_info = pmc_prim_info,
    .prim_parse = pmc_prim_parse,
    .render_new = pmc_render_new,
    .render_free = pmc_render_free,
    .render_header = pmc_render_header,
    .render_row = pmc_render_row,
    .buf_printf = pmc_buf_printf,
    .cache_new = pmc_cache_new,
    .cache_free = pmc_cache_free,
    .cache_add = pmc_cache_add,
    .cache_walk = pmc_cache_walk,
    .cache_walk_part = pmc_cache_walk_part,
    .cache_walk_part_ref = pmc_cache_walk_part_ref,
    .cache_rows = pmc_cache_rows,
    .cache_count = pmc_cache_count,
    .cache_clear = pmc_cache_clear,
    .cache_overflows = pmc_cache_overflows,
    .counter = fh_counter,
    .conf_get = fh_conf_get,
    .path_expand = fh_path_expand,
    .stats_render = fh_stats_render,
    .frag_new = pmc_frag_new,
    .frag_free = pmc_frag_free,
    .frag_track = pmc_frag_track,
    .custom_prims = pmc_custom_prims,
    .history_parse = pmc_history_parse,
    .preproc_new = pmc_preproc_new,
    .preproc_free = pmc_preproc_free,
    .preproc_apply = pmc_preproc_apply,
    .record_frame = pmc_record_frame,
    .render_flags = fh_render_flags,
};

void fakehost_custom_prims(const char *text)
{
    char err[512];
    pmc_custom_reset();
    if (text && pmc_custom_parse_text(text, "fakehost", err, sizeof(err)) < 0) {
        fprintf(stderr, "fakehost_custom_prims: %s\n", err);
        abort();
    }
}

const struct pm_host *fakehost(void)
{
    return &fh_host;
}

const char *fakehost_log_text(void)
{
    return fh.log.p ? fh.log.p : "";
}

void fakehost_reset(void)
{
    size_t i;
    pthread_mutex_lock(&fh.lock);
    for (i = 0; i < fh.nconf; i++) {
        free(fh.conf[i].key);
        free(fh.conf[i].value);
    }
    free(fh.conf);
    fh.conf = NULL;
    fh.nconf = 0;
    for (i = 0; i < fh.nctr; i++) {
        free(fh.ctr[i].name);
        free(fh.ctr[i].slot);
    }
    free(fh.ctr);
    fh.ctr = NULL;
    fh.nctr = 0;
    for (i = 0; i < fh.nbatches; i++)
        pmc_batch_free(fh.batches[i]);
    free(fh.batches);
    fh.batches = NULL;
    fh.nbatches = 0;
    free(fh.emitted);
    fh.emitted = NULL;
    fh.nemitted = 0;
    for (i = 0; i < fh.ninsts; i++) {
        free(fh.insts[i]->module);
        free(fh.insts[i]->name);
        free(fh.insts[i]);
    }
    free(fh.insts);
    fh.insts = NULL;
    fh.ninsts = 0;
    free(fh.log.p);
    memset(&fh.log, 0, sizeof(fh.log));
    fh.stop = 0;
    fh.cap_flags = 0;
    fh.cap_snaplen = 0;
    pthread_mutex_unlock(&fh.lock);
}
