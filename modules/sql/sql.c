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

/* Text of aggregated primitive col of row as pmacct writes it to SQL: the
 * CSV form of the host's renderer (one column), counters stripped.
 * Columns not aggregated take their zero_text (c->zero) instead. */
static int prim_text(struct sql_ctx *c, const struct sql_col *col,
                     const struct pm_row *row, const char **v, size_t *len)
{
    int id = col->prim;
    struct pm_render *r = c->rend[id];
    if (!r) {
        struct pm_render_cfg rc = {0};
        uint16_t p = (uint16_t)id;
        rc.fmt = PM_FMT_CSV;
        rc.prims = &p;
        rc.nprims = 1;
        rc.separator = ",";
        rc.flags = PM_RENDER_NO_FLOWS;
        if ((c->be->flags & SQL_BF_NUM_PROTO) || c->cfg->num_protos)
            rc.flags |= PM_RENDER_NUM_PROTOS;
        r = c->rend[id] = c->host->render_new(&rc);
        if (!r)
            return -ENOMEM;
    }
    struct pm_row one = *row;
    one.packets = one.bytes = one.flows = 0;
    c->vbuf.len = 0;
    if (c->host->render_row(r, &one, &c->vbuf) < 0)
        return -ENOMEM;
    size_t e = c->vbuf.len;
    if (e && c->vbuf.p[e - 1] == '\n')
        e--;
    /* strip ",packets,bytes" (counters are numeric, last) */
    for (int k = 0; k < 2; k++) {
        while (e > 0 && c->vbuf.p[e - 1] != ',')
            e--;
        if (e > 0)
            e--;
    }
    if (col->half && (id == PM_P_SRC_HOST_COORDS || id == PM_P_DST_HOST_COORDS)) {
        /* lat,lon: keep the second */
        size_t s = 0;
        while (s < e && c->vbuf.p[s] != ',')
            s++;
        *v = c->vbuf.p + (s < e ? s + 1 : e);
        *len = s < e ? e - s - 1 : 0;
        return 0;
    }
    if (id == PM_P_SRC_HOST_COORDS || id == PM_P_DST_HOST_COORDS) {
        size_t s = 0;
        while (s < e && c->vbuf.p[s] != ',')
            s++;
        e = s;
    }
    *v = c->vbuf.p;
    *len = e;
    return 0;
}

/* Primitives whose text is made of digits, letters, dots, colons, dashes,
 * slashes (addresses, numbers, names of protocols): never the separator
 * of the one-call rendering. */
static const char *const fast_prims[] = {
    "src_host",  "dst_host",    "src_net",     "dst_net",     "src_mac",
    "dst_mac",   "src_port",    "dst_port",    "proto",       "tos",
    "vlan",      "cos",         "etype",       "src_as",      "dst_as",
    "tag",       "tag2",        "tcpflags",    "src_mask",    "dst_mask",
    "peer_src_ip", "peer_dst_ip", "peer_src_as", "peer_dst_as", "in_iface",
    "out_iface", "sampling_rate", NULL,
};

#define FAST_SEP '\x01'

/* Set up the one-call renderer when at least two columns can use it. */
static int fast_init(struct sql_ctx *c)
{
    uint16_t prims[SQL_MAX_COLS];
    int n = 0;
    for (int i = 0; i < c->ncols; i++) {
        const struct sql_col *col = &c->cols[i];
        const struct pm_prim_info *pi =
            col->kind == SQL_COL_PRIM && col->aggregated
                ? c->host->prim_info((unsigned)col->prim)
                : NULL;
        int ok = 0;
        c->fcol[i] = -1;
        for (int k = 0; pi && pi->name && fast_prims[k]; k++)
            if (!strcmp(pi->name, fast_prims[k]))
                ok = 1;
        for (int j = 0; ok && j < n; j++)
            if (prims[j] == col->prim)
                ok = 0; /* twice: keep it simple */
        if (ok) {
            c->fcol[i] = n;
            prims[n++] = (uint16_t)col->prim;
        }
    }
    if (n < 2) {
        for (int i = 0; i < c->ncols; i++)
            c->fcol[i] = -1;
        return 0;
    }
    struct pm_render_cfg rc = {0};
    char sep[2] = {FAST_SEP, 0};
    rc.fmt = PM_FMT_CSV;
    rc.prims = prims;
    rc.nprims = (uint32_t)n;
    rc.separator = sep;
    rc.flags = PM_RENDER_NO_FLOWS;
    if ((c->be->flags & SQL_BF_NUM_PROTO) || c->cfg->num_protos)
        rc.flags |= PM_RENDER_NUM_PROTOS;
    c->frend = c->host->render_new(&rc);
    if (!c->frend)
        return -ENOMEM;
    c->nfast = n;
    return 0;
}

/* Render row's fast columns once; c->fok = 0 sends them the slow way. */
static void fast_row(struct sql_ctx *c, const struct pm_row *row)
{
    struct pm_row one = *row;
    c->fok = 0;
    if (!c->frend)
        return;
    one.packets = one.bytes = one.flows = 0;
    c->fbuf.len = 0;
    if (c->host->render_row(c->frend, &one, &c->fbuf) < 0)
        return;
    const char *p = c->fbuf.p, *end = p + c->fbuf.len;
    for (int k = 0; k < c->nfast; k++) {
        const char *q = memchr(p, FAST_SEP, (size_t)(end - p));
        if (!q)
            return;
        c->fv[k] = p;
        c->fl[k] = (size_t)(q - p);
        p = q + 1;
    }
    c->fok = 1;
}

/* ---- purge --------------------------------------------------------------- */

static struct sql_chunk *chunk_for(struct sql_ctx *c, const char *table,
                                   int recover)
{
    for (size_t i = c->npchunks; i-- > 0;)
        if (c->pchunks[i]->recover == recover &&
            !strcmp(c->pchunks[i]->table, table))
            return c->pchunks[i];
    if (c->npchunks == c->cappchunks) {
        size_t nc = c->cappchunks ? c->cappchunks * 2 : 8;
        struct sql_chunk **n = realloc(c->pchunks, nc * sizeof(*n));
        if (!n)
            return NULL;
        c->pchunks = n;
        c->cappchunks = nc;
    }
    struct sql_chunk *ch = sql_chunk_new(table);
    if (!ch)
        return NULL;
    ch->t_min = UINT64_MAX;
    ch->recover = recover;
    c->pchunks[c->npchunks++] = ch;
    return ch;
}


static int purge_row(void *ud, const struct pm_row *row0)
{
    struct sql_ctx *c = ud;
    struct pm_row row = *row0;
    char table[256], num[32];
    const char *tname = c->table_default;
    int rc = 0, pp = sql_pp_apply(c, &row);

    if (pp) {
        pm_counter_add(c->c_filtered, 1);
        if (pp != SQL_PP_RECOVER)
            return PM_WALK_NEXT;
        pm_counter_add(c->c_recovered, 1);
    }
    uint64_t t = row.stamp_inserted ? row.stamp_inserted : c->stamp_updated;
    if (!c->table_static) {
        if (c->host->path_expand(c->inst, c->cfg->table, (time_t)t, row.rec,
                                 table, sizeof(table)) < 0) {
            c->host->log_limited(c->inst, PM_LOG_ERR, "sql-table",
                                 "sql_table: '%s' expands to a name too long",
                                 c->cfg->table);
            c->walk_err = -ENAMETOOLONG;
            return PM_WALK_NEXT;
        }
        tname = table;
    }
    struct sql_chunk *ch = chunk_for(c, tname, pp == SQL_PP_RECOVER);
    if (!ch)
        goto nomem;
    fast_row(c, &row);
    for (int i = 0; i < c->ncols && rc == 0; i++) {
        const struct sql_col *col = &c->cols[i];
        const char *v;
        size_t len;
        switch (col->kind) {
        case SQL_COL_PRIM:
            if (c->fok && c->fcol[i] >= 0) {
                rc = sql_chunk_add(ch, c->fv[c->fcol[i]], c->fl[c->fcol[i]]);
                break;
            }
            if (c->zero[i]) {
                rc = sql_chunk_add(ch, c->zero[i], c->zero_len[i]);
                break;
            }
            if (prim_text(c, col, &row, &v, &len) < 0)
                goto nomem;
            rc = sql_chunk_add(ch, v, len);
            break;
        case SQL_COL_PACKETS:
        case SQL_COL_BYTES:
        case SQL_COL_FLOWS:
        {
            uint64_t x = col->kind == SQL_COL_PACKETS ? row.packets
                         : col->kind == SQL_COL_BYTES ? row.bytes
                                                      : row.flows;
            char *e = num + sizeof(num), *q = e; /* decimal, no printf */
            do
                *--q = (char)('0' + x % 10);
            while ((x /= 10));
            rc = sql_chunk_add(ch, q, (size_t)(e - q));
            break;
        }
        case SQL_COL_STAMP_INSERTED:
            if (row.stamp_inserted != c->ins_t) { /* bins repeat: cache */
                c->ins_t = row.stamp_inserted;
                sql_time_text(c->ins_t, c->ins_text, sizeof(c->ins_text));
                c->ins_len = strlen(c->ins_text);
            }
            rc = sql_chunk_add(ch, c->ins_text, c->ins_len);
            break;
        case SQL_COL_STAMP_UPDATED:
            rc = sql_chunk_add(ch, c->upd_text, c->upd_len);
            break;
        }
    }
    if (rc < 0)
        goto nomem;
    ch->nrows++;
    if (row.stamp_inserted < ch->t_min)
        ch->t_min = row.stamp_inserted;
    if (row.stamp_inserted > ch->t_max)
        ch->t_max = row.stamp_inserted;
    if (ch->nrows >= SQL_CHUNK_ROWS && !c->cfg->sort_rows) {
        /* big purges go in pieces: the writer starts on the first while
         * the walk goes on (each piece is one transaction) */
        for (size_t i = 0; i < c->npchunks; i++)
            if (c->pchunks[i] == ch) {
                c->pchunks[i] = c->pchunks[--c->npchunks];
                break;
            }
        sql_queue_chunk(c, ch);
    }
    return PM_WALK_NEXT;
nomem:
    c->walk_err = -ENOMEM;
    return PM_WALK_STOP;
}

static void trigger_run(struct sql_ctx *c);

/* Mark the columns one value in every row of ch, by how purge_row fills
 * them: a column not aggregated is its constant text, stamp_updated is
 * the purge's, stamp_inserted one bin when [t_min, t_max] is one.  A
 * chunk holds rows of one purge; a piece of it (sort.c) keeps its window,
 * so what holds for the chunk holds for the piece. */
static void chunk_same(const struct sql_ctx *c, struct sql_chunk *ch)
{
    for (int i = 0; i < c->ncols; i++) {
        int k = c->cols[i].kind;
        ch->same[i] = (k == SQL_COL_PRIM && c->zero[i]) ||
                      k == SQL_COL_STAMP_UPDATED ||
                      (k == SQL_COL_STAMP_INSERTED && ch->t_min == ch->t_max);
    }
}

/* Hand a finished chunk to the writer (or count its rows dropped). */
void sql_queue_chunk(struct sql_ctx *c, struct sql_chunk *ch)
{
    uint64_t n = ch->nrows;
    ch->stamp_updated = c->stamp_updated;
    chunk_same(c, ch);
    if (!n) {
        sql_chunk_free(ch);
        return;
    }
    if (sql_spool_push(&c->spool, ch) < 0) {
        c->host->log_limited(c->inst, PM_LOG_ERR, "sql-spool",
                             "spool full (sql_spool_entries %llu%s): "
                             "%llu rows dropped",
                             (unsigned long long)c->cfg->spool_entries,
                             c->cfg->spool_dir ? ", sql_spool_dir failed"
                                               : ", no sql_spool_dir",
                             (unsigned long long)n);
        pm_counter_add(c->c_dropped, n);
        sql_chunk_free(ch);
        return;
    }
    pm_counter_add(c->c_pending, n);
    if (ch->recover) /* not in QN (as pmacct) nor the trigger's window */
        return;
    c->queued += n;
    snprintf(c->last_table, sizeof(c->last_table), "%s", ch->table);
    c->last_t_min = ch->t_min == UINT64_MAX ? 0 : ch->t_min;
    c->last_t_max = ch->t_max;
}

static int purge(struct sql_ctx *c)
{
    pm_ts_t now;
    uint64_t total = c->host->cache_count(c->cache);
    int rc = 0;
    c->host->now(c->inst, &now);
    c->stamp_updated = now.sec;
    sql_time_text(c->stamp_updated, c->upd_text, sizeof(c->upd_text));
    c->upd_len = strlen(c->upd_text);
    c->ins_t = UINT64_MAX;
    c->walk_err = 0;
    c->npchunks = 0;
    c->queued = 0;
    PM_INFO(c->host, c->inst, "*** Purging cache - START (PID: %d) ***",
            (int)getpid());
    if (total && (rc = sql_pp_begin(c, total)) == 0)
        rc = c->host->cache_walk(c->cache, purge_row, c);
    if (rc >= 0 && c->walk_err)
        rc = c->walk_err;
    for (size_t i = 0; i < c->npchunks; i++) {
        struct sql_chunk *ch = c->pchunks[i];
        ch->stamp_updated = c->stamp_updated;
        if (c->cfg->sort_rows && ch->nrows > 1 && sql_sort_queue(c, ch) == 0)
            continue;
        sql_queue_chunk(c, ch); /* unsorted when sorting ran out of memory */
    }
    c->npchunks = 0;
    PM_INFO(c->host, c->inst,
            "*** Purging cache - END (PID: %d, QN: %llu/%llu, ET: 0) ***",
            (int)getpid(), (unsigned long long)c->queued,
            (unsigned long long)total);
    c->host->cache_clear(c->cache);
    pm_counter_add(c->c_purges, 1);
    if (c->cfg->trigger_exec && !c->trigger_every && c->queued)
        trigger_run(c);
    return rc;
}

/* ---- trigger ------------------------------------------------------------- */

static void trigger_run(struct sql_ctx *c)
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
    if ((rc = fast_init(c)) < 0)
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
        return purge(c);
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
        rc = purge(c);
        while (c->next_purge <= now->sec)
            c->next_purge += c->refresh;
    }
    if (c->trigger_every && c->cfg->trigger_exec &&
        now->sec >= c->next_trigger) {
        trigger_run(c);
        while (c->next_trigger <= now->sec)
            c->next_trigger += c->trigger_every;
    }
    return rc;
}

int sql_flush(void *vctx, int reason)
{
    struct sql_ctx *c = vctx;
    int rc = purge(c);
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
    for (int i = 0; i < PM_P_MAX; i++)
        if (c->rend[i])
            c->host->render_free(c->rend[i]);
    if (c->cache)
        c->host->cache_free(c->cache);
    for (size_t i = 0; i < c->npchunks; i++)
        sql_chunk_free(c->pchunks[i]);
    free(c->pchunks);
    free(c->schema_text);
    free(c->vbuf.p);
    free(c->fbuf.p);
    if (c->frend)
        c->host->render_free(c->frend);
    sql_pp_fini(c);
    free(c);
}
