/*
 * host.c - the host table handed to every module's init(): logging,
 * clock, lifecycle, batches (pipeline.c), decoding, registry, rendering
 * and cache (libpmdata), counters (stats.c), conf_get, path_expand.
 *
 * Shared between threads: the table is filled once before any module is
 * initialised and never changed; every function in it is thread-safe.
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "pmd.h"
#include "pmdata.h"

static void h_log(const struct pm_instance *inst, int level, const char *fmt,
                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_inst(inst, level, fmt, ap);
    va_end(ap);
}

static void h_log_limited(const struct pm_instance *inst, int level,
                          const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_inst_limited(inst, level, key, fmt, ap);
    va_end(ap);
}

static void h_now(const struct pm_instance *inst, pm_ts_t *ts)
{
    struct timespec t;
    (void)inst;
    clock_gettime(CLOCK_REALTIME, &t);
    ts->sec = (uint64_t)t.tv_sec;
    ts->usec = (uint32_t)(t.tv_nsec / 1000);
    ts->_pad = 0;
}

static uint64_t *h_counter(const struct pm_instance *inst, const char *name,
                           const char *help)
{
    return stats_counter(inst ? inst->module : "core",
                         inst ? inst->name : "", name, help);
}

static const char *h_conf_get(const struct pm_instance *inst,
                              const char *key)
{
    const struct stage *s = inst ? inst->core : NULL;
    const struct conf_entry *e;
    if (!s)
        return NULL;
    e = conf_lookup(&s->d->conf, key, inst->name,
                    s->pl ? s->pl->name : NULL);
    return e ? e->value : NULL;
}

static uint32_t h_render_flags(const struct pm_instance *inst)
{
    return pmc_render_flags(inst, h_conf_get);
}

void pmd_host_fill(struct pmd *d, struct pm_host *h)
{
    (void)d;
    memset(h, 0, sizeof(*h));
    h->abi = PM_ABI;
    h->size = sizeof(*h);
    h->log = h_log;
    h->log_limited = h_log_limited;
    h->now = h_now;
    h->stopping = pmd_stopping;
    h->batch_get = pmd_batch_get;
    h->batch_emit = pmd_batch_emit;
    h->batch_release = pmd_batch_release;
    h->batch_str = pmc_batch_str;
    h->batch_pkt = pmc_batch_pkt;
    h->capture_needs = pmd_capture_needs;
    h->decode_packet = pmc_decode_packet;
    h->prim_lookup = pmc_prim_lookup;
    h->prim_info = pmc_prim_info;
    h->prim_parse = pmc_prim_parse;
    h->render_new = pmc_render_new;
    h->render_free = pmc_render_free;
    h->render_header = pmc_render_header;
    h->render_row = pmc_render_row;
    h->buf_printf = pmc_buf_printf;
    h->cache_new = pmc_cache_new;
    h->cache_free = pmc_cache_free;
    h->cache_add = pmc_cache_add;
    h->cache_walk = pmc_cache_walk;
    h->cache_walk_part = pmc_cache_walk_part;
    h->cache_walk_part_ref = pmc_cache_walk_part_ref;
    h->cache_rows = pmc_cache_rows;
    h->cache_count = pmc_cache_count;
    h->cache_clear = pmc_cache_clear;
    h->cache_overflows = pmc_cache_overflows;
    h->counter = h_counter;
    h->conf_get = h_conf_get;
    h->path_expand = pmd_path_expand;
    h->stats_render = stats_render;
    h->frag_new = pmc_frag_new;
    h->frag_free = pmc_frag_free;
    h->frag_track = pmc_frag_track;
    h->custom_prims = pmc_custom_prims;
    h->history_parse = pmc_history_parse;
    h->preproc_new = pmc_preproc_new;
    h->preproc_free = pmc_preproc_free;
    h->preproc_apply = pmc_preproc_apply;
    h->record_frame = pmc_record_frame;
    h->render_flags = h_render_flags;
}
