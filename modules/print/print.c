/*
 * print.c - the `print` output: aggregates records in the host's cache and,
 * every print_refresh_time seconds and at the final flush, writes every
 * aggregate as pmacct 1.7.7's print plugin does (formatted, CSV, JSON and
 * their event_ variants) to stdout or to files named by print_output_file
 * (strftime and $-variables, expanded per aggregate: one file per distinct
 * name), then empties the cache.
 *
 * Threads: process(), tick() and flush() run on the pipeline thread, init()
 * and fini() on the main thread; nothing is shared, every piece of state is
 * in the instance context.  We never fork: files are written on the
 * pipeline thread, one buffered write per file (via a temp file + rename
 * unless appending).  print_trigger_exec is started with posix_spawn and
 * unless appending); print_output avro writes Avro object container files
 * (avro_json: Avro's JSON encoding, one datum per line).  Writing is in
 * print_write.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "print.h"
#ifdef PM_HAVE_AVRO
#include "../common/avro/pmavro.h"
#endif

#define CFG(f) offsetof(struct print_config, f)

static const struct pm_option print_options[] = {
    {"print_output", PM_OPT_ENUM, 0, CFG(output), "formatted",
     "formatted|csv|json|event_formatted|event_csv|avro|avro_json|custom",
     "output format", 'O'},
    {"print_output_file", PM_OPT_STR, 0, CFG(output_file), NULL, "path",
     "file to write to (strftime and $-variables); stdout when unset", 'o'},
    {"print_output_file_append", PM_OPT_BOOL, 0, CFG(append), "false", NULL,
     "append to existing files instead of overwriting them", 0},
    {"print_output_lock_file", PM_OPT_PATH, 0, CFG(lock_file), NULL, "path",
     "lock file serialising writes to stdout", 0},
    {"print_latest_file", PM_OPT_STR, 0, CFG(latest_file), NULL, "path",
     "symlink pointing to the latest file written", 0},
    {"print_write_empty_file", PM_OPT_BOOL, 0, CFG(write_empty_file), "false",
     NULL, "write a file even when a purge has no data", 0},
    {"print_refresh_time", PM_OPT_UINT, 0, CFG(refresh_time), "60", "seconds",
     "seconds between purges", 'r'},
    {"print_startup_delay", PM_OPT_UINT, 0, CFG(startup_delay), "0", "seconds",
     "delay the first purge (and so every one) by this", 0},
    {"print_history", PM_OPT_STR, 0, CFG(history), NULL, "#[s|m|h|d|w|M]",
     "time bin length (historical accounting)", 0},
    {"print_history_roundoff", PM_OPT_STR, 0, CFG(history_roundoff), NULL,
     "m|h|d|w|M", "align time bins and purges", 0},
    {"print_history_offset", PM_OPT_INT, 0, CFG(history_offset), "0", "seconds",
     "offset of time bin starts", 0},
    {"print_cache_entries", PM_OPT_UINT, 0, CFG(cache_entries), "16411",
     "buckets",
     "cache size (pmacct buckets; about 10 aggregates each): a "
     "full cache is purged early",
     0},
    {"print_markers", PM_OPT_BOOL, 0, CFG(markers), "false", NULL,
     "start/end markers around each purge", 0},
    {"print_num_protos", PM_OPT_BOOL, 0, CFG(num_protos), "false", NULL,
     "print IP protocols as numbers", 0},
    {"print_output_separator", PM_OPT_STR, 0, CFG(separator), ",",
     "char|\\t|\\s", "CSV separator", 0},
    {"print_trigger_exec", PM_OPT_PATH, 0, CFG(trigger_exec), NULL, "path",
     "executable started after each purge", 0},
    {"print_preprocess", PM_OPT_LIST, 0, CFG(preprocess), NULL,
     "minp=N,minb=N,...",
     "checks and actions applied to aggregates at "
     "purge time",
     0},
    {"print_preprocess_type", PM_OPT_ENUM, 0, CFG(preprocess_type), "any",
     "any|all", "whether one or all print_preprocess checks must pass", 0},
    {"print_max_writers", PM_OPT_UINT, PM_OPTF_COMPAT, CFG(max_writers), "10",
     "count",
     "accepted and ignored: purges are written in-process, no writer "
     "processes",
     0},
    {"avro_buffer_size", PM_OPT_SIZE, 0, CFG(avro_buffer_size), "8192",
     "bytes",
     "kafka/amqp: largest Avro message; accepted and unused by print", 0},
    {"avro_schema_file", PM_OPT_PATH, 0, CFG(avro_schema_file), NULL, "path",
     "with print_output avro/avro_json: write the Avro schema there at "
     "start-up", 0},
    PM_OPTION_END,
};


/* ---- purge ------------------------------------------------------------- */

static struct pfile *file_get(struct print_ctx *c, const char *name)
{
    if (c->last_hit < c->nfiles && !strcmp(c->files[c->last_hit].name, name))
        return &c->files[c->last_hit];
    for (size_t i = 0; i < c->nfiles; i++)
        if (!strcmp(c->files[i].name, name)) {
            c->last_hit = i;
            return &c->files[i];
        }
    if (c->nfiles == c->capfiles) {
        size_t nc = c->capfiles ? c->capfiles * 2 : 8;
        struct pfile *nf = realloc(c->files, nc * sizeof(*nf));
        if (!nf)
            return NULL;
        c->files = nf;
        c->capfiles = nc;
    }
    struct pfile *f = &c->files[c->nfiles];
    memset(f, 0, sizeof(*f));
    f->name = strdup(name);
    if (!f->name)
        return NULL;
    c->last_hit = c->nfiles++;
    return f;
}

static void files_reset(struct print_ctx *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].name);
        free(c->files[i].rows.p);
    }
    c->nfiles = 0;
    c->last_hit = 0;
}

static int purge_row(void *ud, const struct pm_row *row)
{
    struct print_ctx *c = ud;
    struct pm_row r = *row;
    char name[PATH_MAX];
    const char *fname = "-";
    time_t t;

    if (c->pp && c->host->preproc_apply(c->pp, &r)) {
        pm_counter_add(c->c_filtered, 1);
        return PM_WALK_NEXT;
    }
    r.stamp_updated = c->stamp_updated;
    t = (time_t)(r.stamp_inserted ? r.stamp_inserted : c->stamp_updated);
    if (c->cfg->output_file && c->name_static && c->name_t == t && c->name_ok) {
        fname = c->name_last; /* no $-variables: the name depends on t only */
    } else if (c->cfg->output_file) {
        if (c->host->path_expand(c->inst, c->cfg->output_file, t, row->rec,
                                 name, sizeof(name)) < 0) {
            c->host->log_limited(c->inst, PM_LOG_ERR, "print-name",
                                 "print_output_file: '%s' expands to a name "
                                 "too long",
                                 c->cfg->output_file);
            c->walk_err = -ENAMETOOLONG;
            return PM_WALK_NEXT;
        }
        fname = name;
        if (c->name_static) {
            memcpy(c->name_last, name, sizeof(name));
            c->name_t = t;
            c->name_ok = 1;
        }
    }
    struct pfile *f = file_get(c, fname);
    if (!f) {
        c->walk_err = -ENOMEM;
        return PM_WALK_STOP;
    }
    if (!f->nrows) {
        f->t = t;
        memcpy(&f->rec, row->rec, sizeof(f->rec));
    }
    int wr;
#ifdef PM_HAVE_AVRO
    if (c->avro) {
        char aerr[256];
        wr = pm_avro_set_row(c->avro, &r, NULL, aerr, sizeof(aerr));
        if (wr == -EINVAL) {
            c->host->log_limited(c->inst, PM_LOG_ERR, "print-avro",
                                 "print_output avro: %s: aggregate skipped",
                                 aerr);
            pm_counter_add(c->c_errors, 1);
            return PM_WALK_NEXT;
        }
        if (wr >= 0)
            wr = c->avro_json ? pm_avro_append_json(c->avro, &f->rows)
                              : pm_avro_append_framed(c->avro, &f->rows);
    } else
#endif
        wr = print_render_line(c, &r, &f->rows);
    if (wr < 0) {
        c->walk_err = -ENOMEM;
        return PM_WALK_STOP;
    }
    f->nrows++;
    return PM_WALK_NEXT;
}

static int pfile_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pfile *)a)->name,
                  ((const struct pfile *)b)->name);
}


static int purge(struct print_ctx *c)
{
    uint64_t t0;
    int rc = 0;

    print_now_secs(c, &t0);
    c->stamp_updated = t0;
    c->total_entries = c->host->cache_count(c->cache);
    c->purged_total = 0;
    c->walk_err = 0;
    c->name_ok = 0;
    files_reset(c);

    PM_INFO(c->host, c->inst, "*** Purging cache - START (PID: %d) ***",
            c->pid);
    if (c->total_entries) {
        rc = c->host->cache_walk(c->cache, purge_row, c);
        if (rc >= 0 && c->walk_err == -ENOMEM)
            rc = -ENOMEM;
    }
    if (rc >= 0 && c->nfiles == 0 && c->cfg->write_empty_file &&
        c->cfg->output_file) {
        char name[PATH_MAX];
        if (c->host->path_expand(c->inst, c->cfg->output_file, (time_t)t0, NULL,
                                 name, sizeof(name)) == 0) {
            struct pfile *f = file_get(c, name);
            if (f) {
                f->t = (time_t)t0;
                memset(&f->rec, 0, sizeof(f->rec));
            }
        }
    }
    if (c->nfiles > 1)
        qsort(c->files, c->nfiles, sizeof(*c->files), pfile_cmp);
    for (size_t i = 0; i < c->nfiles; i++) {
        struct pfile *f = &c->files[i];
        int wr = print_file_write(c, f, t0);
        if (wr < 0) {
            pm_counter_add(c->c_errors, 1);
            rc = rc < 0 ? rc : wr;
            continue;
        }
        pm_counter_add(c->c_rows, f->nrows);
        if (c->cfg->latest_file && c->cfg->output_file)
            print_latest_update(c, f);
    }
    uint64_t t1;
    print_now_secs(c, &t1);
    PM_INFO(c->host, c->inst,
            "*** Purging cache - END (PID: %d, QN: %llu/%llu, ET: %llu) ***",
            c->pid, (unsigned long long)c->purged_total,
            (unsigned long long)c->total_entries,
            (unsigned long long)(t1 >= t0 ? t1 - t0 : 0));
    c->host->cache_clear(c->cache);
    files_reset(c);
    pm_counter_add(c->c_purges, 1);
    if (c->cfg->trigger_exec)
        print_trigger(c);
    return rc;
}

/* ---- module callbacks -------------------------------------------------- */

static void print_fini(void *vctx);

static int print_init(const struct pm_host *host,
                      const struct pm_instance *inst, void *config, void **ctxp)
{
    struct print_config *cfg = config;
    struct print_ctx *c;
    struct pm_cache_cfg cc = {0};
    char herr[256];
    struct pm_render_cfg rc = {0};
    const char *v;
    int err = -EINVAL;

    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    c->pid = (int)getpid();

    c->fmt = cfg->output;
    if (c->fmt == OUT_CUSTOM) {
        PM_ERR(host, inst,
               "print_output: 'custom' is not supported (use formatted, csv, "
               "json, event_formatted, event_csv, avro or avro_json)");
        goto fail;
    }
    if (c->fmt == OUT_AVRO || c->fmt == OUT_AVRO_JSON) {
#ifndef PM_HAVE_AVRO
        PM_ERR(host, inst,
               "print_output: '%s' needs Avro support and this build has "
               "none (configure did not find avro-c: apt-get install "
               "libavro-dev, then rebuild)",
               c->fmt == OUT_AVRO ? "avro" : "avro_json");
        goto fail;
#endif
        /* pmacct: avro without print_output_file is written as Avro JSON */
        c->avro_json = c->fmt == OUT_AVRO_JSON || !cfg->output_file;
        if (cfg->markers)
            PM_WARN(host, inst,
                    "print_markers: ignored with print_output %s (markers "
                    "are written in csv and json only)",
                    c->fmt == OUT_AVRO ? "avro" : "avro_json");
    }
    /* separator: one char, or \t / \s */
    v = cfg->separator ? cfg->separator : ",";
    if (!strcmp(v, "\\t"))
        c->sep[0] = '\t';
    else if (!strcmp(v, "\\s"))
        c->sep[0] = ' ';
    else if (strlen(v) == 1)
        c->sep[0] = v[0];
    else {
        PM_ERR(host, inst,
               "print_output_separator: '%s': expected one character, \\t "
               "or \\s",
               v);
        goto fail;
    }
    if (cfg->refresh_time == 0) {
        PM_ERR(host, inst, "print_refresh_time: must be at least 1 second");
        goto fail;
    }
    if (host->history_parse(cfg->history, cfg->history_roundoff, &cc, herr,
                            sizeof(herr)) < 0) {
        PM_ERR(host, inst, "print_history%s", herr);
        goto fail;
    }
    if (cfg->history_offset < 0) {
        PM_ERR(host, inst,
               "print_history_offset: expected a positive number of "
               "seconds, got %lld",
               (long long)cfg->history_offset);
        goto fail;
    }
    cc.history_offset = cfg->history_offset;
    if (host->preproc_new(cfg->preprocess, cfg->preprocess_type == 1, &c->pp,
                          herr, sizeof(herr)) < 0) {
        PM_ERR(host, inst, "print_preprocess%s", herr);
        goto fail;
    }
    if (cfg->latest_file && strchr(cfg->latest_file, '%')) {
        PM_ERR(host, inst,
               "print_latest_file: '%s': time-based variables are not "
               "allowed",
               cfg->latest_file);
        goto fail;
    }

    c->name_static = cfg->output_file && !strchr(cfg->output_file, '$');
    if (!strcmp(inst->name, "default"))
        snprintf(c->writer, sizeof(c->writer), "default_%s", inst->module);
    else
        snprintf(c->writer, sizeof(c->writer), "%s", inst->name);

    c->cache = host->cache_new(inst, &cc);
    if (!c->cache) {
        PM_ERR(host, inst, "print: cannot create the aggregation cache");
        err = -ENOMEM;
        goto fail;
    }
    c->max_aggr = cfg->cache_entries * 10;

    /* renderer */
    int json_like =
        c->fmt == OUT_JSON || c->fmt == OUT_AVRO || c->fmt == OUT_AVRO_JSON;
    rc.fmt = json_like ? PM_FMT_JSON
             : (c->fmt == OUT_CSV || c->fmt == OUT_EVENT_CSV)
                 ? PM_FMT_CSV
                 : PM_FMT_FORMATTED;
    rc.prims = inst->aggregate;
    rc.nprims = inst->naggregate;
    rc.sum_mode = inst->sum_mode;
    rc.separator = c->sep;
    rc.event = "purge";
    if (cfg->num_protos)
        rc.flags |= PM_RENDER_NUM_PROTOS;
    if (json_like) {
        rc.flags |= PM_RENDER_EVENT_TYPE;
        if (cc.history_secs || cc.history_months)
            rc.flags |= PM_RENDER_STAMPS;
    }
    /* FLOWS is printed only when `flows` is part of the aggregation */
    {
        const char *agg = host->conf_get(inst, "aggregate");
        int flows = 0;
        if (agg) {
            const char *p = agg;
            while ((p = strstr(p, "flows"))) {
                int lb = p == agg || p[-1] == ',' || p[-1] == ' ';
                int rb = !p[5] || p[5] == ',' || p[5] == ' ';
                if (lb && rb)
                    flows = 1;
                p += 5;
            }
        }
        if (!flows)
            rc.flags |= PM_RENDER_NO_FLOWS;
        c->ncounters =
            (c->fmt == OUT_EVENT_FORMATTED || c->fmt == OUT_EVENT_CSV)
                ? (flows ? 3 : 2)
                : 0;
    }
    rc.flags |= host->render_flags(inst);
    c->render = host->render_new(&rc);
    if (!c->render) {
        PM_ERR(host, inst, "print: cannot create the renderer");
        err = -ENOMEM;
        goto fail;
    }
#ifdef PM_HAVE_AVRO
    if (c->fmt == OUT_AVRO || c->fmt == OUT_AVRO_JSON) {
        if ((err = pm_avro_new(host, c->render, NULL, &c->avro, herr,
                               sizeof(herr))) < 0) {
            PM_ERR(host, inst, "print_output avro: %s", herr);
            goto fail;
        }
        if (cfg->avro_schema_file &&
            (err = pm_avro_write_schema_file(c->avro, cfg->avro_schema_file,
                                             herr, sizeof(herr))) < 0) {
            PM_ERR(host, inst, "avro_schema_file %s: %s",
                   cfg->avro_schema_file, herr);
            goto fail;
        }
    }
#endif

    c->c_purges = host->counter(inst, "purges", "cache purges");
    c->c_rows = host->counter(inst, "rows_written", "aggregates written");
    c->c_files = host->counter(inst, "files_written", "files written");
    c->c_errors = host->counter(inst, "write_errors", "failed file writes");
    c->c_filtered = host->counter(inst, "preprocess_filtered",
                                  "aggregates dropped by print_preprocess");
    if (!c->c_purges || !c->c_rows || !c->c_files || !c->c_errors ||
        !c->c_filtered) {
        err = -ENOMEM;
        goto fail;
    }

    c->refresh = cfg->refresh_time;
    {
        uint64_t now;
        print_now_secs(c, &now);
        c->next_purge = now + c->refresh;
        if (cc.roundoff)
            c->next_purge -= c->next_purge % c->refresh;
        if (c->next_purge <= now)
            c->next_purge += c->refresh;
        c->next_purge += cfg->startup_delay;
    }
    *ctxp = c;
    return 0;
fail:
    print_fini(c);
    return err;
}

static int print_process(void *vctx, struct pm_batch *b)
{
    struct print_ctx *c = vctx;
    int rc = c->host->cache_add(c->cache, b);
    if (rc < 0)
        return rc;
    if (c->max_aggr && c->host->cache_count(c->cache) >= c->max_aggr) {
        PM_INFO(c->host, c->inst,
                "Finished cache entries (ie. print_cache_entries). "
                "Purging.");
        purge(c);
    }
    return 0;
}

static int print_tick(void *vctx, const pm_ts_t *now)
{
    struct print_ctx *c = vctx;
    int rc = 0;
    if (c->nchildren)
        print_reap(c);
    if (now->sec >= c->next_purge) {
        rc = purge(c);
        while (c->next_purge <= now->sec)
            c->next_purge += c->refresh;
    }
    return rc;
}

static int print_flush(void *vctx, int reason)
{
    struct print_ctx *c = vctx;
    (void)reason;
    return purge(c);
}

static void print_fini(void *vctx)
{
    struct print_ctx *c = vctx;
    if (!c)
        return;
    print_reap(c);
    if (c->render)
        c->host->render_free(c->render);
    if (c->cache)
        c->host->cache_free(c->cache);
    files_reset(c);
    free(c->files);
    if (c->pp)
        c->host->preproc_free(c->pp);
#ifdef PM_HAVE_AVRO
    pm_avro_free(c->avro);
#endif
    free(c);
}

static const struct pm_module_desc print_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "print",
    .version = "1.0",
    .summary = "formatted/CSV/JSON/Avro output to files or stdout",
    .flags = 0,
    .order = 0,
    .options = print_options,
    .config_size = sizeof(struct print_config),
    .init = print_init,
    .process = print_process,
    .tick = print_tick,
    .flush = print_flush,
    .fini = print_fini,
};

PM_MODULE_EXPORT(print_desc)
