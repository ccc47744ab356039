/*
 * bdb.c - the bdb output module: a persistent aggregate table.  Records
 * are aggregated into the host's cache and served to the `pmacct` client
 * over imt_path exactly as the memory table is (the shared PMQ server,
 * modules/common/pmq/); the table is saved to the Berkeley DB file
 * bdb_file every bdb_refresh_time seconds, after `pmacct -e` and at exit,
 * and loaded back by init(), so totals continue across restarts
 * (bdb_store.c, bdb_codec.c, docs/BDB.md).
 *
 * Threads: process()/tick()/flush() run on the pipeline thread, the query
 * server on its own thread; both use the cache under t.mu.  Saves are
 * serialised by file_mu (bdb_store.c).  No state outside the context.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bdb.h"

static const struct pm_option bdb_options[] = {
    {"bdb_file", PM_OPT_PATH, PM_OPTF_REQUIRED,
     offsetof(struct bdb_config, file), NULL, "path",
     "Berkeley DB file holding the table across restarts (written as "
     "path.tmp then renamed; path.lock keeps other daemons away)",
     0},
    {"bdb_refresh_time", PM_OPT_DURATION, 0,
     offsetof(struct bdb_config, refresh_time), "60", "seconds",
     "seconds between saves of the table to bdb_file (0: only at exit and "
     "after pmacct -e); a crash loses at most this much",
     0},
    {"bdb_history", PM_OPT_STR, 0, offsetof(struct bdb_config, history), NULL,
     "duration",
     "time bins of the table (300, 5m, 1h, 1d, 1w, 1M); rows then carry "
     "stamp_inserted/stamp_updated",
     0},
    {"bdb_history_roundoff", PM_OPT_STR, 0,
     offsetof(struct bdb_config, history_roundoff), NULL, "m|h|d|w|M",
     "align bdb_history bins to the minute, hour, day, week or month", 0},
    {"bdb_max_entries", PM_OPT_UINT, 0,
     offsetof(struct bdb_config, max_entries), "0", "count",
     "most aggregates held (0: unbounded); new aggregates beyond are counted "
     "in the overflows counter",
     0},
    {"bdb_cache_size", PM_OPT_SIZE, 0, offsetof(struct bdb_config, cache_size),
     "16M", "bytes", "libdb page cache used while saving and loading", 0},
    {"imt_path", PM_OPT_PATH, 0, offsetof(struct bdb_config, imt_path),
     PMQ_DEFAULT_PATH, "path",
     "UNIX socket where the table answers the pmacct client", 0},
    {"imt_path_mode", PM_OPT_STR, 0, offsetof(struct bdb_config, imt_path_mode),
     NULL, "octal",
     "permission bits of the imt_path socket, e.g. 0660 (default: umask)", 0},
    {"imt_buckets", PM_OPT_UINT, 0, offsetof(struct bdb_config, imt_buckets),
     "32771", "count", "buckets shown by `pmacct -t`", 0},
    PM_OPTION_END};

/* pmacct -e / -r changed the table (server thread, t.mu released). */
static int bdb_changed(void *owner, int cleared)
{
    struct bdb_ctx *x = owner;
    __atomic_fetch_add(&x->gen, 1, __ATOMIC_RELEASE);
    /* a clear must reach the file now: a restart must not bring the
     * cleared rows back */
    return cleared ? bdb_save(x, "clear") : 0;
}

static char *path_with(const char *file, const char *suffix)
{
    size_t n = strlen(file) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", file, suffix);
    return p;
}

static void bdb_free(struct bdb_ctx *x)
{
    pmq_table_fini(&x->t);
    if (x->t.cache)
        x->t.host->cache_free(x->t.cache);
    if (x->lock_fd >= 0)
        close(x->lock_fd); /* releases the flock */
    if (x->file_mu_ready)
        pthread_mutex_destroy(&x->file_mu);
    free(x->blob.p);
    free(x->tmp_path);
    free(x->lock_path);
    free(x);
}

static int bdb_init(const struct pm_host *host, const struct pm_instance *inst,
                    void *config, void **ctxp)
{
    struct bdb_config *cfg = config;
    struct bdb_ctx *x = calloc(1, sizeof(*x));
    struct pm_cache_cfg cc = {0};
    char err[512];
    int rc;

    if (!x)
        return -ENOMEM;
    x->cfg = cfg;
    x->lock_fd = -1;
    x->t.host = host;
    x->t.inst = inst;
    x->t.path = cfg->imt_path;
    x->t.path_mode = cfg->imt_path_mode;
    x->t.buckets = cfg->imt_buckets;
    x->t.changed = bdb_changed;
    x->t.owner = x;
    x->c_records = host->counter(inst, "records", "records accounted");
    if ((rc = pmq_table_init(&x->t)) < 0)
        goto fail;
    x->c_overflows =
        host->counter(inst, "overflows",
                      "records refused by bdb_max_entries (new aggregates)");
    x->c_syncs = host->counter(inst, "syncs", "table saves to bdb_file");
    x->c_sync_errors =
        host->counter(inst, "sync_errors", "failed saves to bdb_file");
    x->c_rows_stored =
        host->counter(inst, "rows_stored", "rows written to bdb_file");
    x->c_rows_loaded = host->counter(inst, "rows_loaded",
                                     "rows loaded from bdb_file at start");
    if (!cfg->file || !cfg->file[0]) {
        PM_ERR(host, inst, "bdb_file: empty path");
        rc = -EINVAL;
        goto fail;
    }
    if (inst->sum_mode) {
        PM_ERR(host, inst,
               "aggregate: sum_* primitives are not supported by bdb (a "
               "stored sum_host row cannot be told from its two halves); use "
               "the memory plugin");
        rc = -EINVAL;
        goto fail;
    }
    if (host->history_parse(cfg->history, cfg->history_roundoff, &cc, err,
                            sizeof(err)) < 0) {
        PM_ERR(host, inst, "bdb_history%s", err);
        rc = -EINVAL;
        goto fail;
    }
    cc.max_entries = cfg->max_entries;
    x->t.stamps = cc.history_secs || cc.history_months;
    if ((rc = bdb_layout_build(host, inst, x->t.stamps, &x->layout, err,
                               sizeof(err))) < 0) {
        PM_ERR(host, inst, "%s", err);
        goto fail;
    }
    if (!(x->tmp_path = path_with(cfg->file, ".tmp")) ||
        !(x->lock_path = path_with(cfg->file, ".lock"))) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = pthread_mutex_init(&x->file_mu, NULL)) != 0) {
        rc = -rc;
        goto fail;
    }
    x->file_mu_ready = 1;
    x->lock_fd = open(x->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (x->lock_fd < 0) {
        rc = -errno;
        PM_ERR(host, inst, "bdb_file '%s': cannot open %s: %s", cfg->file,
               x->lock_path, strerror(errno));
        goto fail;
    }
    if (flock(x->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        PM_ERR(host, inst,
               "bdb_file '%s': in use by another daemon or instance (%s is "
               "locked)",
               cfg->file, x->lock_path);
        goto fail;
    }
    if (!(x->t.cache = host->cache_new(inst, &cc))) {
        PM_ERR(host, inst, "cannot create the aggregation cache");
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = bdb_load(x)) < 0)
        goto fail;
    x->overflows_seen = host->cache_overflows(x->t.cache);
    if (x->overflows_seen)
        PM_WARN(host, inst,
                "bdb_file '%s': %llu stored aggregates beyond "
                "bdb_max_entries %llu were not loaded",
                cfg->file, (unsigned long long)x->overflows_seen,
                (unsigned long long)cfg->max_entries);
    *ctxp = x;
    return 0;
fail:
    bdb_free(x);
    return rc;
}

static int bdb_start(void *ctx)
{
    struct bdb_ctx *x = ctx;
    pm_ts_t now;
    x->t.host->now(x->t.inst, &now);
    x->next_sync = now.sec + x->cfg->refresh_time;
    return pmq_server_start(&x->t);
}

static int bdb_process(void *ctx, struct pm_batch *b)
{
    struct bdb_ctx *x = ctx;
    const struct pm_host *host = x->t.host;
    uint64_t ov;
    int n;

    pthread_mutex_lock(&x->t.mu);
    n = host->cache_add(x->t.cache, b);
    ov = host->cache_overflows(x->t.cache);
    pthread_mutex_unlock(&x->t.mu);
    if (n > 0) {
        pm_counter_add(x->c_records, (uint64_t)n);
        __atomic_fetch_add(&x->gen, 1, __ATOMIC_RELEASE);
    }
    if (ov > x->overflows_seen) { /* only the pipeline thread writes this */
        pm_counter_add(x->c_overflows, ov - x->overflows_seen);
        host->log_limited(x->t.inst, PM_LOG_WARNING, "bdb-full",
                          "table full (bdb_max_entries %llu): new aggregates "
                          "dropped; clear it with pmacct -e",
                          (unsigned long long)x->cfg->max_entries);
        x->overflows_seen = ov;
    } else if (ov < x->overflows_seen) {
        x->overflows_seen = ov; /* cache cleared */
    }
    return n < 0 ? n : 0;
}

/* Changes not in the file yet? */
static int bdb_dirty(struct bdb_ctx *x)
{
    uint64_t saved;
    pthread_mutex_lock(&x->file_mu);
    saved = x->saved_gen;
    pthread_mutex_unlock(&x->file_mu);
    return __atomic_load_n(&x->gen, __ATOMIC_ACQUIRE) != saved;
}

static int bdb_tick(void *ctx, const pm_ts_t *now)
{
    struct bdb_ctx *x = ctx;
    if (!x->cfg->refresh_time || now->sec < x->next_sync)
        return 0;
    x->next_sync = now->sec + x->cfg->refresh_time;
    if (!bdb_dirty(x))
        return 0;
    bdb_save(x, "refresh"); /* failures are logged and counted */
    return 0;
}

static int bdb_flush(void *ctx, int reason)
{
    struct bdb_ctx *x = ctx;
    if (reason != PM_FLUSH_FINAL || !bdb_dirty(x))
        return 0;
    return bdb_save(x, "exit");
}

static void bdb_stop(void *ctx)
{
    struct bdb_ctx *x = ctx;
    pmq_server_stop(&x->t);
}

static void bdb_fini(void *ctx)
{
    struct bdb_ctx *x = ctx;
    if (!x)
        return;
    pmq_server_stop(&x->t);
    /* no flush(FINAL) seen (a failed start): keep what was accounted */
    if (bdb_dirty(x))
        bdb_save(x, "exit");
    bdb_free(x);
}

static const struct pm_module_desc bdb_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "bdb",
    .version = "1.0",
    .summary = "persistent table in a Berkeley DB file, served to the "
               "pmacct client like the memory table",
    .flags = PM_MF_QUERYABLE,
    .options = bdb_options,
    .config_size = sizeof(struct bdb_config),
    .init = bdb_init,
    .start = bdb_start,
    .process = bdb_process,
    .tick = bdb_tick,
    .flush = bdb_flush,
    .stop = bdb_stop,
    .fini = bdb_fini,
};

PM_MODULE_EXPORT(bdb_desc)
