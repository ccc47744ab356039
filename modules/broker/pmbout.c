/*
 * pmbout.c - the output side shared by the kafka and amqp modules: the
 * aggregation cache, purges every *_refresh_time seconds (and at the final
 * flush), and pmacct 1.7.7's JSON messages:
 *
 *   {"event_type": "purge", <primitives>, ["stamp_inserted", "stamp_updated",]
 *    "packets": N, "bytes": N, "writer_id": "<name>/<pid>"}
 *
 * one aggregate per message, or with *_multi_values B as many objects as
 * fit in B-1 bytes, each followed by "\n".  *_markers adds purge_init and
 * purge_close messages (never packed).  The messages of one purge are
 * handed to the delivery queue (pmbroker.c) in one pmb_submit.
 *
 * *_output avro / avro_json: the same rows as Avro datums (binary, or
 * Avro's JSON encoding) of the schema libpmavro derives from the JSON
 * renderer (docs/AVRO.md), one per message or packed by *_multi_values up
 * to avro_buffer_size bytes; the schema goes to avro_schema_file and is
 * published to the schema topic / routing key at start-up and every
 * *_avro_schema_refresh_time.  *_preprocess drops or adjusts aggregates at
 * purge time (host->preproc_*); *_trigger_exec runs after each purge
 * (posix_spawn, reaped from tick()).
 *
 * Threads: everything here runs on the pipeline thread (process, tick,
 * flush) or the main thread (new, free); the queue has its own.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmbroker.h"
#ifdef PM_HAVE_AVRO
#include "../common/avro/pmavro.h"
#endif

extern char **environ;

enum { OUT_JSON = 0, OUT_AVRO = 1, OUT_AVRO_JSON = 2 };

struct pmb_out {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct pmb_out_params p;
    const struct pmb_out_config *cfg;
    struct pm_cache *cache;
    struct pm_render *render;
    struct pmb *q;
    char writer[160]; /* "default_kafka/1234" */
    uint64_t refresh, next_purge, max_aggr;
    /* purge under way */
    uint64_t stamp_updated;
    struct pmb_msg *head, *tail;
    size_t nmsgs;
    struct pm_buf row, pack;
    char pack_dest[PMB_NAME_MAX], pack_key[PMB_NAME_MAX];
    int walk_err;
    uint64_t nrows;
    uint64_t *c_purges, *c_rows;
    /* appended: preprocess, trigger, Avro */
    struct pm_preproc *pp;
    uint64_t *c_filtered, *c_avro_errors;
    pid_t children[16];
    int nchildren;
    struct pm_avro *avro;
    uint64_t next_schema; /* next schema publication (0: none) */
    uint64_t rr_next;     /* appended: next *_rr index of this purge */
};

static int has_flows(const struct pm_host *h, const struct pm_instance *i)
{
    const char *agg = h->conf_get(i, "aggregate"), *p = agg;
    if (!agg)
        return 0;
    while ((p = strstr(p, "flows"))) {
        int lb = p == agg || p[-1] == ',' || p[-1] == ' ';
        int rb = !p[5] || p[5] == ',' || p[5] == ' ';
        if (lb && rb)
            return 1;
        p += 5;
    }
    return 0;
}

static void now_secs(struct pmb_out *o, uint64_t *s)
{
    pm_ts_t ts;
    o->host->now(o->inst, &ts);
    *s = ts.sec;
}

/* row: an aggregate's message (not a marker).  With p.dest_rr = N
 * (*_topic_rr / *_routing_key_rr) the destination gets "_<i>": rows
 * round-robin over _0.._N-1 from _0 at each purge, markers go to _0 and do
 * not advance it (what pmacct 1.7.7 publishes). */
static int queue_msg(struct pmb_out *o, const char *dest, const char *key,
                     const char *payload, size_t plen, int row)
{
    char rr[PMB_NAME_MAX + 16];
    if (o->p.dest_rr) {
        snprintf(rr, sizeof(rr), "%s_%llu", dest,
                 (unsigned long long)(row ? o->rr_next++ % o->p.dest_rr : 0));
        dest = rr;
    }
    struct pmb_msg *m = pmb_msg_new(dest, strlen(dest), key, strlen(key),
                                    payload, plen);
    if (!m)
        return -ENOMEM;
    if (o->tail)
        o->tail->next = m;
    else
        o->head = m;
    o->tail = m;
    o->nmsgs++;
    return 0;
}

static int pack_flush(struct pmb_out *o)
{
    int rc = 0;
    if (o->pack.len) {
        rc = queue_msg(o, o->pack_dest, o->pack_key, o->pack.p, o->pack.len,
                       1);
        o->pack.len = 0;
    }
    return rc;
}

static int marker(struct pmb_out *o, uint64_t t, const char *text, size_t len)
{
    char dest[PMB_NAME_MAX], key[PMB_NAME_MAX];
    dest[0] = key[0] = 0;
    if (o->p.name(o->p.name_ud, NULL, (time_t)t, dest, key) < 0)
        return -ENAMETOOLONG;
    return queue_msg(o, dest, key, text, len, 0);
}

static int buf_append(struct pm_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q)
            return -ENOMEM;
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* The row as an Avro datum in o->row: 0, 1 when skipped (counted), or
 * -ENOMEM. */
static int avro_row(struct pmb_out *o, const struct pm_row *r)
{
#ifdef PM_HAVE_AVRO
    char err[256];
    int rc = pm_avro_set_row(o->avro, r, o->writer, err, sizeof(err));
    if (rc == -EINVAL) {
        o->host->log_limited(o->inst, PM_LOG_ERR, "pmb-avro",
                             "%s_output avro: %s: aggregate skipped",
                             o->p.prefix, err);
        pm_counter_add(o->c_avro_errors, 1);
        return 1;
    }
    if (rc < 0)
        return rc;
    if (o->cfg->output == OUT_AVRO_JSON) {
        if ((rc = pm_avro_append_json(o->avro, &o->row)) < 0)
            return rc;
        if (o->row.len && o->row.p[o->row.len - 1] == '\n')
            o->row.len--;
        return 0;
    }
    if ((rc = pm_avro_append_binary(o->avro, &o->row)) < 0)
        return rc;
    if (o->cfg->avro_buffer_size && o->row.len > o->cfg->avro_buffer_size) {
        o->host->log_limited(o->inst, PM_LOG_ERR, "pmb-avro-size",
                             "avro_buffer_size: %llu bytes cannot hold one "
                             "aggregate (%zu bytes): aggregate skipped",
                             (unsigned long long)o->cfg->avro_buffer_size,
                             o->row.len);
        pm_counter_add(o->c_avro_errors, 1);
        return 1;
    }
    return 0;
#else
    (void)o;
    (void)r;
    return -ENOTSUP;
#endif
}

static int purge_row(void *ud, const struct pm_row *row)
{
    struct pmb_out *o = ud;
    struct pm_row r = *row;
    char dest[PMB_NAME_MAX], key[PMB_NAME_MAX];
    int rc;
    if (o->pp && o->host->preproc_apply(o->pp, &r)) {
        pm_counter_add(o->c_filtered, 1);
        return PM_WALK_NEXT;
    }
    r.stamp_updated = o->stamp_updated;
    dest[0] = key[0] = 0;
    time_t t = (time_t)(r.stamp_inserted ? r.stamp_inserted : o->stamp_updated);
    if (o->p.name(o->p.name_ud, row->rec, t, dest, key) < 0) {
        o->host->log_limited(o->inst, PM_LOG_ERR, "pmb-name",
                             "%s: topic/routing key of an aggregate expands "
                             "to a name too long",
                             o->p.prefix);
        o->walk_err = -ENAMETOOLONG;
        return PM_WALK_NEXT;
    }
    o->row.len = 0;
    if (o->avro) {
        if ((rc = avro_row(o, &r)) < 0)
            goto nomem;
        if (rc > 0)
            return PM_WALK_NEXT;
    } else {
        if ((rc = o->host->render_row(o->render, &r, &o->row)) < 0)
            goto nomem;
        /* the renderer ends the object with "}\n": put writer_id before it */
        if (o->row.len && o->row.p[o->row.len - 1] == '\n')
            o->row.len--;
        if (o->row.len && o->row.p[o->row.len - 1] == '}')
            o->row.len--;
        if (o->host->buf_printf(&o->row, ", \"writer_id\": \"%s\"}",
                                o->writer) < 0)
            goto nomem;
    }
    o->nrows++;
    if (!o->cfg->multi_values)
        return queue_msg(o, dest, key, o->row.p, o->row.len, 1) < 0 ? PM_WALK_STOP
                                                                 : PM_WALK_NEXT;
    /* pack: flush when the destination changes or the object won't fit;
     * binary Avro datums are packed back to back, text ones one per line,
     * at most avro_buffer_size bytes of Avro */
    int bin = o->cfg->output == OUT_AVRO;
    size_t nl = bin ? 0 : 2;
    uint64_t limit = o->cfg->multi_values;
    if (o->avro && o->cfg->avro_buffer_size && o->cfg->avro_buffer_size < limit)
        limit = o->cfg->avro_buffer_size;
    if (o->pack.len &&
        (strcmp(dest, o->pack_dest) || strcmp(key, o->pack_key) ||
         o->pack.len + o->row.len + nl > limit)) {
        if (pack_flush(o) < 0)
            goto nomem;
    }
    if (o->row.len + nl > limit)
        o->host->log_limited(o->inst, PM_LOG_WARNING, "pmb-mv",
                             "%s_multi_values: %llu bytes cannot hold one "
                             "aggregate (%zu bytes): sent alone",
                             o->p.prefix,
                             (unsigned long long)o->cfg->multi_values,
                             o->row.len + 1);
    memcpy(o->pack_dest, dest, sizeof(dest));
    memcpy(o->pack_key, key, sizeof(key));
    if (buf_append(&o->pack, o->row.p, o->row.len) < 0 ||
        (!bin && buf_append(&o->pack, "\n", 1) < 0))
        goto nomem;
    return PM_WALK_NEXT;
nomem:
    o->walk_err = -ENOMEM;
    return PM_WALK_STOP;
}

static void trigger(struct pmb_out *o)
{
    pid_t pid;
    char *argv[] = {o->cfg->trigger_exec, NULL};
    int rc;
    if (o->nchildren == (int)(sizeof(o->children) / sizeof(o->children[0]))) {
        PM_WARN(o->host, o->inst,
                "%s_trigger_exec: too many triggers still running; not "
                "starting %s",
                o->p.prefix, o->cfg->trigger_exec);
        return;
    }
    rc = posix_spawn(&pid, o->cfg->trigger_exec, NULL, NULL, argv, environ);
    if (rc) {
        PM_ERR(o->host, o->inst, "%s_trigger_exec %s: %s", o->p.prefix,
               o->cfg->trigger_exec, strerror(rc));
        return;
    }
    o->children[o->nchildren++] = pid;
}

static void reap(struct pmb_out *o)
{
    for (int i = 0; i < o->nchildren;) {
        int st;
        pid_t r = waitpid(o->children[i], &st, WNOHANG);
        if (r == o->children[i] || (r < 0 && errno == ECHILD))
            o->children[i] = o->children[--o->nchildren];
        else
            i++;
    }
}

/* The Avro schema to kafka_avro_schema_topic / amqp_avro_schema_routing_key,
 * through the delivery queue like any message. */
static void schema_publish(struct pmb_out *o, uint64_t now)
{
#ifdef PM_HAVE_AVRO
    const char *d = o->cfg->avro_schema_dest, *t;
    struct pmb_msg *m;
    if (!o->avro || !d || !*d)
        return;
    t = pm_avro_schema_text(o->avro);
    if (!(m = pmb_msg_new(d, strlen(d), "", 0, t, strlen(t)))) {
        o->host->log_limited(o->inst, PM_LOG_ERR, "pmb-schema",
                             "%s: cannot queue the Avro schema: out of memory",
                             o->p.prefix);
        return;
    }
    pmb_submit(o->q, m, 1);
    o->next_schema = now + (o->cfg->avro_schema_refresh
                                ? o->cfg->avro_schema_refresh
                                : 60);
#else
    (void)o;
    (void)now;
#endif
}

static int purge(struct pmb_out *o)
{
    uint64_t t0, t1, total;
    int rc = 0;
    char text[512];
    now_secs(o, &t0);
    o->stamp_updated = t0;
    o->head = o->tail = NULL;
    o->nmsgs = 0;
    o->nrows = 0;
    o->rr_next = 0;
    o->walk_err = 0;
    o->pack.len = 0;
    total = o->host->cache_count(o->cache);
    o->host->log(o->inst, PM_LOG_INFO,
                 "*** Purging cache - START (PID: %d) ***", (int)getpid());
    if (o->cfg->markers) {
        int n = snprintf(text, sizeof(text),
                         "{\"event_type\": \"purge_init\", \"writer_id\": "
                         "\"%s\"}",
                         o->writer);
        rc = marker(o, t0, text, (size_t)n);
    }
    if (rc >= 0 && total)
        rc = o->host->cache_walk(o->cache, purge_row, o);
    if (rc >= 0 && o->walk_err)
        rc = o->walk_err;
    if (pack_flush(o) < 0 && rc >= 0)
        rc = -ENOMEM;
    now_secs(o, &t1);
    if (o->cfg->markers) {
        int n = snprintf(text, sizeof(text),
                         "{\"event_type\": \"purge_close\", \"writer_id\": "
                         "\"%s\", \"purged_entries\": %llu, "
                         "\"total_entries\": %llu, \"duration\": %llu}",
                         o->writer, (unsigned long long)o->nrows,
                         (unsigned long long)total,
                         (unsigned long long)(t1 >= t0 ? t1 - t0 : 0));
        if (marker(o, t0, text, (size_t)n) < 0 && rc >= 0)
            rc = -ENOMEM;
    }
    if (o->head)
        pmb_submit(o->q, o->head, o->nmsgs);
    o->head = o->tail = NULL;
    o->host->log(o->inst, PM_LOG_INFO,
                 "*** Purging cache - END (PID: %d, QN: %llu/%llu, ET: %llu) "
                 "***",
                 (int)getpid(), (unsigned long long)o->nrows,
                 (unsigned long long)total,
                 (unsigned long long)(t1 >= t0 ? t1 - t0 : 0));
    pm_counter_add(o->c_purges, 1);
    pm_counter_add(o->c_rows, o->nrows);
    o->host->cache_clear(o->cache);
    if (o->cfg->trigger_exec)
        trigger(o);
    return rc;
}

int pmb_out_new(const struct pm_host *host, const struct pm_instance *inst,
                const struct pmb_out_params *p, struct pmb_out **out)
{
    const struct pmb_out_config *cfg = p->cfg;
    struct pm_cache_cfg cc = {0};
    char herr[256];
    struct pm_render_cfg rc = {0};
    struct pmb_cfg qc = {0};
    int err = -EINVAL;
    struct pmb_out *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->host = host;
    o->inst = inst;
    o->p = *p;
    o->cfg = cfg;
    if (cfg->output != OUT_JSON) {
#ifndef PM_HAVE_AVRO
        PM_ERR(host, inst,
               "%s_output: '%s' needs Avro support and this build has none "
               "(configure did not find avro-c: apt-get install libavro-dev, "
               "then rebuild)",
               p->prefix, cfg->output == OUT_AVRO ? "avro" : "avro_json");
        goto fail;
#endif
        if (cfg->markers) {
            PM_ERR(host, inst,
                   "%s_markers: not supported with %s_output %s (markers "
                   "are JSON messages; use json output for markers)",
                   p->prefix, p->prefix,
                   cfg->output == OUT_AVRO ? "avro" : "avro_json");
            goto fail;
        }
    }
    if (cfg->avro_schema_registry && cfg->avro_schema_registry[0]) {
        PM_ERR(host, inst,
               "%s_avro_schema_registry: not supported (no Confluent "
               "schema registry client in this build); publish the schema "
               "with %s_avro_schema_topic or avro_schema_file instead",
               p->prefix, p->prefix);
        goto fail;
    }
    if (host->preproc_new(cfg->preprocess, cfg->preprocess_type == 1, &o->pp,
                          herr, sizeof(herr)) < 0) {
        PM_ERR(host, inst, "%s_preprocess%s", p->prefix, herr);
        goto fail;
    }
    if (cfg->refresh_time == 0) {
        PM_ERR(host, inst, "%s_refresh_time: must be at least 1 second",
               p->prefix);
        goto fail;
    }
    if (host->history_parse(cfg->history, cfg->history_roundoff, &cc, herr,
                            sizeof(herr)) < 0) {
        PM_ERR(host, inst, "%s_history%s", p->prefix, herr);
        goto fail;
    }
    if (cfg->history_offset < 0) {
        PM_ERR(host, inst, "%s_history_offset: expected a positive number",
               p->prefix);
        goto fail;
    }
    cc.history_offset = cfg->history_offset;
    if (!strcmp(inst->name, "default"))
        snprintf(o->writer, sizeof(o->writer), "default_%s/%d", inst->module,
                 (int)getpid());
    else
        snprintf(o->writer, sizeof(o->writer), "%s/%d", inst->name,
                 (int)getpid());
    if (!(o->cache = host->cache_new(inst, &cc))) {
        err = -ENOMEM;
        goto fail;
    }
    o->max_aggr = cfg->cache_entries * 10;
    rc.fmt = PM_FMT_JSON;
    rc.prims = inst->aggregate;
    rc.nprims = inst->naggregate;
    rc.sum_mode = inst->sum_mode;
    rc.event = "purge";
    rc.flags = PM_RENDER_EVENT_TYPE;
    if (cc.history_secs || cc.history_months)
        rc.flags |= PM_RENDER_STAMPS;
    if (cfg->num_protos)
        rc.flags |= PM_RENDER_NUM_PROTOS;
    if (!has_flows(host, inst))
        rc.flags |= PM_RENDER_NO_FLOWS;
    rc.flags |= host->render_flags(inst);
    if (!(o->render = host->render_new(&rc))) {
        err = -ENOMEM;
        goto fail;
    }
#ifdef PM_HAVE_AVRO
    if (cfg->output != OUT_JSON) {
        if ((err = pm_avro_new(host, o->render, "writer_id", &o->avro, herr,
                               sizeof(herr))) < 0) {
            PM_ERR(host, inst, "%s_output avro: %s", p->prefix, herr);
            goto fail;
        }
        if (cfg->avro_schema_file &&
            (err = pm_avro_write_schema_file(o->avro, cfg->avro_schema_file,
                                             herr, sizeof(herr))) < 0) {
            PM_ERR(host, inst, "avro_schema_file %s: %s",
                   cfg->avro_schema_file, herr);
            goto fail;
        }
    }
#endif
    o->c_purges = host->counter(inst, "purges", "cache purges");
    o->c_rows = host->counter(inst, "rows_written", "aggregates published");
    o->c_filtered = host->counter(inst, "preprocess_filtered",
                                  "aggregates dropped by *_preprocess");
    o->c_avro_errors = host->counter(inst, "avro_errors",
                                     "aggregates that could not be encoded "
                                     "in Avro");
    if (!o->c_purges || !o->c_rows || !o->c_filtered || !o->c_avro_errors) {
        err = -ENOMEM;
        goto fail;
    }
    qc.spool_dir = cfg->spool_dir;
    qc.spool_mem = cfg->spool_mem ? cfg->spool_mem : (64u << 20);
    qc.flush_timeout_ms = cfg->flush_timeout * 1000;
    qc.batch_max = 1000;
    if ((err = pmb_new(host, inst, p->ops, p->ops_ud, &qc, &o->q)) < 0)
        goto fail;
    o->refresh = cfg->refresh_time;
    {
        uint64_t now;
        now_secs(o, &now);
        o->next_purge = now + o->refresh;
        if (cc.roundoff)
            o->next_purge -= o->next_purge % o->refresh;
        if (o->next_purge <= now)
            o->next_purge += o->refresh;
        o->next_purge += cfg->startup_delay;
        schema_publish(o, now);
    }
    *out = o;
    return 0;
fail:
    pmb_out_free(o);
    return err;
}

int pmb_out_process(struct pmb_out *o, struct pm_batch *b)
{
    int rc = o->host->cache_add(o->cache, b);
    if (rc < 0)
        return rc;
    if (o->max_aggr && o->host->cache_count(o->cache) >= o->max_aggr) {
        PM_INFO(o->host, o->inst,
                "Finished cache entries (ie. %s_cache_entries). Purging.",
                o->p.prefix);
        purge(o);
    }
    return 0;
}

int pmb_out_tick(struct pmb_out *o, const pm_ts_t *now)
{
    int rc = 0;
    if (o->nchildren)
        reap(o);
    if (o->next_schema && now->sec >= o->next_schema)
        schema_publish(o, now->sec);
    if (now->sec >= o->next_purge) {
        rc = purge(o);
        while (o->next_purge <= now->sec)
            o->next_purge += o->refresh;
    }
    return rc;
}

int pmb_out_flush(struct pmb_out *o, int reason)
{
    int rc = purge(o);
    if (reason == PM_FLUSH_FINAL) {
        uint64_t left = pmb_drain(o->q, o->cfg->flush_timeout * 1000);
        if (left)
            PM_WARN(o->host, o->inst,
                    "%llu messages still undelivered after %llu s; %s",
                    (unsigned long long)left,
                    (unsigned long long)o->cfg->flush_timeout,
                    o->cfg->spool_dir ? "keeping them in the spool"
                                      : "they are lost (no spool_dir)");
    }
    return rc;
}

struct pmb *pmb_out_queue(struct pmb_out *o) { return o->q; }

void pmb_out_free(struct pmb_out *o)
{
    if (!o)
        return;
    pmb_free(o->q);
    reap(o);
#ifdef PM_HAVE_AVRO
    pm_avro_free(o->avro);
#endif
    if (o->pp)
        o->host->preproc_free(o->pp);
    if (o->render)
        o->host->render_free(o->render);
    if (o->cache)
        o->host->cache_free(o->cache);
    free(o->row.p);
    free(o->pack.p);
    free(o);
}

int pmb_ctx_process(void *ctx, struct pm_batch *b)
{
    return pmb_out_process(*(struct pmb_out **)ctx, b);
}

int pmb_ctx_tick(void *ctx, const pm_ts_t *now)
{
    return pmb_out_tick(*(struct pmb_out **)ctx, now);
}

int pmb_ctx_flush(void *ctx, int reason)
{
    return pmb_out_flush(*(struct pmb_out **)ctx, reason);
}
