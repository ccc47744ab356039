/*
 * sql.c - the SQL output instance shared by sqlite3, pgsql and mysql:
 * aggregates records in the host's cache (time bins from sql_history); at
 * each refresh (timed in tick()) the cache is turned into chunks of text
 * rows, one chunk per table name (sql_table expanded per bin) and per
 * destination (aggregates sql_preprocess recovers go to sql_backup_host),
 * sorted in primary-key order at the end of the walk (sort.c) and queued
 * in pieces of SQL_CHUNK_ROWS (with sql_sort_rows false: queued as soon as
 * full, in cache order), handed to the spool and the cache is emptied.  The writer thread (writer.c) writes each chunk
 * in one transaction.  Values are rendered by the host's CSV renderer:
 * the primitives that cannot hold the separator in one call per row, the
 * others one by one.  sql_preprocess lives in preproc.c.
 *
 * Threads: process/tick/flush on the pipeline thread (cache, renderers,
 * trigger children); the writer thread owns the backend; they share only
 * the spool (its mutex) and atomic counters/flags.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sql_int.h"

extern char **environ;


/* ---- value text -------------------------------------------------------- */

/* pmacct's zero value of a column not aggregated (one per column, set at
 * start: not looked up per row). */
static const char *zero_text(const struct sql_ctx *c, const struct sql_col *col)
{
    const struct pm_prim_info *pi = c->host->prim_info((unsigned)col->prim);
    const char *name = pi ? pi->name : "";
    if (strstr(name, "mac"))
        return "0:0:0:0:0:0";
    if (!strcmp(name, "class"))
        return "unknown";
    if (!strcmp(name, "src_host") || !strcmp(name, "dst_host") ||
        !strcmp(name, "src_net") || !strcmp(name, "dst_net") ||
        !strcmp(name, "peer_src_ip") || !strcmp(name, "peer_dst_ip"))
        return "0.0.0.0";
    if (!strcmp(name, "std_comm") || !strcmp(name, "as_path"))
        return " ";
    return "0";
}

/* ---- trigger ------------------------------------------------------------- */

void sql_trigger_run(struct sql_ctx *c)
{
    char *argv[] = {c->cfg->trigger_exec, NULL};
    char e[10][320];
    char *envp[64];
    int n = 0, k = 0;
    char t0[32], t1[32];
    if (c->nchildren == (int)(sizeof(c->children) / sizeof(c->children[0]))) {
        PM_WARN(c->host, c->inst,
                "sql_trigger_exec: too many triggers still running");
        return;
    }
    sql_time_text(c->last_t_min, t0, sizeof(t0));
    sql_time_text(c->last_t_max, t1, sizeof(t1));
    snprintf(e[k++], sizeof(e[0]), "SQL_TABLE=%s", c->last_table);
    snprintf(e[k++], sizeof(e[0]), "SQL_DB=%s", c->cfg->db ? c->cfg->db : "");
    snprintf(e[k++], sizeof(e[0]), "SQL_HOST=%s",
             c->cfg->host ? c->cfg->host : "");
    snprintf(e[k++], sizeof(e[0]), "SQL_USER=%s",
             c->cfg->user ? c->cfg->user : "");
    snprintf(e[k++], sizeof(e[0]), "SQL_REFRESH_TIME=%llu",
             (unsigned long long)c->refresh);
    snprintf(e[k++], sizeof(e[0]), "SQL_HISTORY=%s",
             c->cfg->history ? c->cfg->history : "");
    snprintf(e[k++], sizeof(e[0]), "SQL_HISTORY_BASETIME=%llu",
             (unsigned long long)c->last_t_min);
    snprintf(e[k++], sizeof(e[0]), "SQL_TIME_MIN=%s", t0);
    snprintf(e[k++], sizeof(e[0]), "SQL_TIME_MAX=%s", t1);
    for (int i = 0; i < k; i++)
        envp[n++] = e[i];
    for (char **p = environ; *p && n < 63; p++)
        if (strncmp(*p, "SQL_", 4))
            envp[n++] = *p;
    envp[n] = NULL;
    pid_t pid;
    int rc = posix_spawn(&pid, c->cfg->trigger_exec, NULL, NULL, argv, envp);
    if (rc) {
        PM_ERR(c->host, c->inst, "sql_trigger_exec %s: %s",
               c->cfg->trigger_exec, strerror(rc));
        return;
    }
    c->children[c->nchildren++] = pid;
}

static void reap(struct sql_ctx *c)
{
    for (int i = 0; i < c->nchildren;) {
        int st;
        pid_t r = waitpid(c->children[i], &st, WNOHANG);
        if (r == c->children[i] || (r < 0 && errno == ECHILD))
            c->children[i] = c->children[--c->nchildren];
        else
            i++;
    }
}

/* ---- callbacks ------------------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    char *p = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *q = realloc(p, cap);
            if (!q) {
                free(p);
                fclose(f);
                return NULL;
            }
            p = q;
        }
        size_t r = fread(p + n, 1, 4096, f);
        n += r;
        if (r < 4096)
            break;
    }
    fclose(f);
    p[n] = 0;
    return p;
}

int sql_init(const struct pm_host *host, const struct pm_instance *inst,
             struct sql_config *cfg, const struct sql_backend *be,
             void **ctxp)
{
    struct sql_ctx *c = calloc(1, sizeof(*c));
    struct pm_cache_cfg cc = {0};
    char herr[256];
    char err[512];
    int rc = -EINVAL;
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    c->be = be;
    for (int j = 0; j < SQL_WALKERS; j++)
        c->w[j].c = c;
    sql_spool_init(&c->spool, cfg->spool_entries, cfg->spool_dir);

    if (cfg->refresh_time == 0) {
        PM_ERR(host, inst, "sql_refresh_time: must be at least 1 second");
        goto fail;
    }
    if (host->history_parse(cfg->history, cfg->history_roundoff, &cc, herr,
                            sizeof(herr)) < 0) {
        PM_ERR(host, inst, "sql_history%s", herr);
        goto fail;
    }
    if (cfg->history_offset < 0) {
        PM_ERR(host, inst, "sql_history_offset: expected a positive number");
        goto fail;
    }
    cc.history_offset = cfg->history_offset;
    c->history = cc.history_secs || cc.history_months;
    if (cfg->trigger_time) {
        struct pm_cache_cfg tt = {0};
        int bad = host->history_parse(cfg->trigger_time, NULL, &tt, herr,
                                      sizeof(herr)) < 0;
        c->trigger_every = tt.history_secs;
        if (bad || tt.history_months) {
            PM_ERR(host, inst,
                   "sql_trigger_time: '%s': expected a length like 60, 5m, 1h",
                   cfg->trigger_time);
            goto fail;
        }
    }
    if (sql_pp_init(c, cfg->preprocess, cfg->preprocess_type == 1, herr,
                    sizeof(herr)) < 0) {
        PM_ERR(host, inst, "sql_preprocess%s", herr);
        goto fail;
    }
    c->ncols = sql_schema_columns(host, be->flags, (unsigned)cfg->table_version,
                                  cfg->table_type == 1, cfg->optimize_clauses,
                                  c->history, inst, c->cols, SQL_MAX_COLS, err,
                                  sizeof(err));
    if (c->ncols < 0) {
        PM_ERR(host, inst, "%s", err);
        rc = c->ncols;
        goto fail;
    }
    for (int i = 0; i < c->ncols; i++) {
        c->zero[i] = c->cols[i].kind == SQL_COL_PRIM && !c->cols[i].aggregated
                         ? zero_text(c, &c->cols[i])
                         : NULL;
        c->zero_len[i] = c->zero[i] ? strlen(c->zero[i]) : 0;
    }
    sql_reckey_init(c);
    if ((rc = sql_fast_init(c)) < 0)
        goto fail;
    rc = -EINVAL;
    if (cfg->table)
        snprintf(c->table_default, sizeof(c->table_default), "%s", cfg->table);
    else
        sql_default_table((unsigned)cfg->table_version, cfg->table_type == 1,
                          c->table_default, sizeof(c->table_default));
    c->table_static = !cfg->table || (!strchr(cfg->table, '%') &&
                                      !strchr(cfg->table, '$'));
    if (cfg->table && c->table_static &&
        strlen(cfg->table) >= sizeof(c->table_default)) {
        PM_ERR(host, inst, "sql_table: '%s': name too long", cfg->table);
        goto fail;
    }
    if (cfg->table_schema) {
        c->schema_text = read_file(cfg->table_schema);
        if (!c->schema_text) {
            PM_ERR(host, inst, "sql_table_schema: %s: %s", cfg->table_schema,
                   strerror(errno));
            goto fail;
        }
    }
    c->cache = host->cache_new(inst, &cc);
    if (!c->cache) {
        rc = -ENOMEM;
        goto fail;
    }
    c->max_aggr = cfg->cache_entries * 10;
    c->bulk = be->bulk_on && be->bulk_on(cfg);
    if (cfg->use_copy && !cfg->dont_try_update)
        PM_WARN(host, inst, "sql_use_copy: no effect without "
                            "sql_dont_try_update: true (UPDATE then INSERT)");
    if (c->pp_recover && !cfg->backup_host) {
        PM_WARN(host, inst, "sql_preprocess: recover: no sql_backup_host: "
                            "filtered aggregates are discarded");
        c->pp_recover = 0;
    }
    c->main.b = be->open(host, inst, cfg);
    if (!c->main.b || (c->pp_recover && !(c->rec.b = be->open(host, inst,
                                                               cfg)))) {
        rc = -ENOMEM;
        goto fail;
    }
    c->c_pending = host->counter(inst, "rows_pending",
                                 "rows waiting for the database (spool)");
    c->c_written = host->counter(inst, "rows_written", "rows committed");
    c->c_dropped = host->counter(inst, "rows_dropped",
                                 "rows lost: spool full or refused by the "
                                 "database");
    c->c_purges = host->counter(inst, "purges", "cache purges");
    c->c_errors = host->counter(inst, "write_errors",
                                "failed transactions (retried or dropped)");
    c->c_txn = host->counter(inst, "transactions", "committed transactions");
    c->c_filtered = host->counter(inst, "preprocess_filtered",
                                  "aggregates dropped by sql_preprocess");
    c->c_reconnects = host->counter(inst, "connects", "database connections");
    c->c_recovered = host->counter(inst, "preprocess_recovered",
                                   "filtered aggregates queued for "
                                   "sql_backup_host (recover=N)");
    if (!c->c_pending || !c->c_written || !c->c_dropped || !c->c_purges ||
        !c->c_errors || !c->c_txn || !c->c_filtered || !c->c_reconnects ||
        !c->c_recovered) {
        rc = -ENOMEM;
        goto fail;
    }
    c->refresh = cfg->refresh_time;
    {
        pm_ts_t now;
        host->now(inst, &now);
        c->next_purge = now.sec + c->refresh;
        if (cc.roundoff)
            c->next_purge -= c->next_purge % c->refresh;
        if (c->next_purge <= now.sec)
            c->next_purge += c->refresh;
        c->next_purge += cfg->startup_delay;
        c->next_trigger = now.sec + c->trigger_every;
    }
    *ctxp = c;
    return 0;
fail:
    sql_fini(c);
    return rc;
}

int sql_start(void *vctx)
{
    struct sql_ctx *c = vctx;
    if (c->writer_started)
        return 0;
    int rc = pthread_create(&c->writer, NULL, sql_writer_main, c);
    if (rc) {
        PM_ERR(c->host, c->inst, "cannot start the writer thread: %s",
               strerror(rc));
        return -rc;
    }
    c->writer_started = 1;
    return 0;
}

int sql_process(void *vctx, struct pm_batch *b)
{
    struct sql_ctx *c = vctx;
    int rc = c->host->cache_add(c->cache, b);
    if (rc < 0)
        return rc;
    if (c->max_aggr && c->host->cache_count(c->cache) >= c->max_aggr) {
        PM_INFO(c->host, c->inst,
                "Finished cache entries (ie. sql_cache_entries). Purging.");
        return sql_purge(c);
    }
    return 0;
}

int sql_tick(void *vctx, const pm_ts_t *now)
{
    struct sql_ctx *c = vctx;
    int rc = 0;
    if (!c->writer_started && (rc = sql_start(c)) < 0)
        return rc;
    if (c->nchildren)
        reap(c);
    if (now->sec >= c->next_purge) {
        rc = sql_purge(c);
        while (c->next_purge <= now->sec)
            c->next_purge += c->refresh;
    }
    if (c->trigger_every && c->cfg->trigger_exec &&
        now->sec >= c->next_trigger) {
        sql_trigger_run(c);
        while (c->next_trigger <= now->sec)
            c->next_trigger += c->trigger_every;
    }
    return rc;
}

int sql_flush(void *vctx, int reason)
{
    struct sql_ctx *c = vctx;
    int rc = sql_purge(c);
    if (!c->writer_started)
        sql_start(c);
    if (reason == PM_FLUSH_FINAL && c->writer_started) {
        /* wait for the spool to drain (bounded by sql_drain_timeout) */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)c->cfg->drain_timeout;
        pthread_mutex_lock(&c->spool.mu);
        while (c->spool.head)
            if (pthread_cond_timedwait(&c->spool.drained, &c->spool.mu, &ts) ==
                ETIMEDOUT)
                break;
        uint64_t left = c->spool.rows;
        pthread_mutex_unlock(&c->spool.mu);
        if (left)
            PM_ERR(c->host, c->inst,
                   "shutting down with %llu rows not written (database "
                   "away for sql_drain_timeout %llu s)",
                   (unsigned long long)left,
                   (unsigned long long)c->cfg->drain_timeout);
    }
    return rc;
}

void sql_stop(void *vctx)
{
    (void)vctx;
}

void sql_fini(void *vctx)
{
    struct sql_ctx *c = vctx;
    if (!c)
        return;
    if (c->writer_started) {
        pthread_mutex_lock(&c->spool.mu);
        c->spool.stop = 2;
        pthread_cond_broadcast(&c->spool.cv);
        pthread_mutex_unlock(&c->spool.mu);
        pthread_join(c->writer, NULL);
    }
    if (c->spool.rows && c->c_dropped) {
        pm_counter_add(c->c_dropped, c->spool.rows);
        __atomic_fetch_sub(c->c_pending, c->spool.rows, __ATOMIC_RELAXED);
    }
    sql_spool_destroy(&c->spool);
    reap(c);
    for (int l = 0; l < 2; l++) {
        struct sql_link *k = l ? &c->rec : &c->main;
        if (k->b)
            c->be->close(k->b);
        for (size_t i = 0; i < k->nknown; i++)
            free(k->known_tables[i]);
        free(k->known_tables);
    }
    sql_walkers_free(c);
    if (c->cache)
        c->host->cache_free(c->cache);
    free(c->schema_text);
    sql_pp_fini(c);
    free(c);
}
