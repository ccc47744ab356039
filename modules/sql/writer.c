/*
 * writer.c - the SQL output's writer thread: takes the oldest chunk of the
 * spool, makes sure its table exists (sql_table_schema) and statements are
 * prepared, writes it in one transaction (optional table lock; UPDATE then
 * INSERT, INSERT only with sql_dont_try_update, or the backend's bulk path:
 * pgsql COPY, mysql multi-values) and removes it from the spool only once
 * COMMIT succeeded.  When the database is away it reconnects with a
 * doubling backoff (1 s .. sql_retry_max), trying sql_backup_host too (a
 * chunk written there is followed by a new attempt at sql_host, as pmacct
 * tries its primary at every purge).  Chunks of aggregates sql_preprocess
 * filtered with recover=N go to sql_backup_host over a second connection
 * (`rec`); when it cannot take them they are dropped (counted).
 *
 * Threads: runs alone on the writer thread; owns the backend connection;
 * shares the spool (mutex) and atomic counters with the pipeline thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql_int.h"

/* ---- writer thread --------------------------------------------------------- */

static int known_table(struct sql_link *k, const char *t)
{
    for (size_t i = 0; i < k->nknown; i++)
        if (!strcmp(k->known_tables[i], t))
            return 1;
    return 0;
}

static void remember_table(struct sql_link *k, const char *t)
{
    char **n = realloc(k->known_tables, (k->nknown + 1) * sizeof(*n));
    if (!n)
        return;
    k->known_tables = n;
    if ((n[k->nknown] = strdup(t)))
        k->nknown++;
}

/* Make sure ch's table exists (sql_table_schema) and statements are ready. */
static int prepare_table(struct sql_ctx *c, struct sql_link *k,
                         struct sql_chunk *ch, char *err, size_t errlen)
{
    int rc;
    if (k->prepared && !strcmp(k->cur_table, ch->table))
        return 0;
    if (k->prepared)
        c->be->unprepare(k->b);
    k->prepared = 0;
    if (c->schema_text && !known_table(k, ch->table)) {
        rc = c->be->table_exists(k->b, ch->table, err, errlen);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            size_t cap = strlen(c->schema_text) * 2 + 4096;
            char *sql = malloc(cap);
            if (!sql)
                return SQL_E_CONN;
            if (c->host->path_expand(c->inst, c->schema_text,
                                     (time_t)(ch->t_min == UINT64_MAX
                                                  ? ch->stamp_updated
                                                  : ch->t_min),
                                     NULL, sql, cap) < 0) {
                free(sql);
                snprintf(err, errlen, "sql_table_schema: expansion too long");
                return SQL_E_DATA;
            }
            rc = c->be->exec(k->b, sql, err, errlen);
            free(sql);
            if (rc < 0)
                return rc;
            PM_INFO(c->host, c->inst, "created table %s (sql_table_schema)",
                    ch->table);
        }
        remember_table(k, ch->table);
    }
    size_t cap = 256 + (size_t)c->ncols * 48 + strlen(ch->table) * 2;
    char *sql = malloc(cap);
    if (!sql)
        return SQL_E_CONN;
    rc = 0;
    if (!c->cfg->dont_try_update &&
        (sql_build_update(c->cols, c->ncols, ch->table, c->be->placeholder, sql,
                          cap) < 0 ||
         (rc = c->be->prepare(k->b, SQL_ST_UPDATE, sql, c->ncols, err,
                              errlen)) < 0)) {
        free(sql);
        return rc < 0 ? rc : SQL_E_DATA;
    }
    rc = 0;
    if (!c->bulk &&
        (sql_build_insert(c->cols, c->ncols, ch->table, c->be->placeholder, sql,
                          cap) < 0 ||
         (rc = c->be->prepare(k->b, SQL_ST_INSERT, sql, c->ncols, err,
                              errlen)) < 0)) {
        free(sql);
        return rc < 0 ? rc : SQL_E_DATA;
    }
    free(sql);
    snprintf(k->cur_table, sizeof(k->cur_table), "%s", ch->table);
    k->prepared = 1;
    return 0;
}

/* Insert one row: through the bulk path or the prepared INSERT. */
static int insert_row(struct sql_ctx *c, void *b, const char *const *vals,
                      const int *lens, uint64_t *to_insert, char *err,
                      size_t errlen)
{
    uint64_t changed;
    if (c->bulk) {
        (*to_insert)++;
        return c->be->bulk_row(b, vals, lens, c->ncols, err, errlen);
    }
    return c->be->run(b, SQL_ST_INSERT, vals, lens, c->ncols, &changed,
                      err, errlen);
}

/* Rows one statement at a time (UPDATE, INSERT when no row changed). */
static int rows_single(struct sql_ctx *c, void *b, struct sql_chunk *ch,
                       const int *map, int nmap, uint64_t *to_insert,
                       char *err, size_t errlen)
{
    const char *vals[SQL_MAX_COLS], *uvals[SQL_MAX_COLS];
    int lens[SQL_MAX_COLS], ulens[SQL_MAX_COLS];
    size_t pos = 0;
    int rc;
    for (uint64_t r = 0; r < ch->nrows; r++) {
        for (int i = 0; i < c->ncols; i++)
            if (!sql_chunk_next(ch, &pos, &vals[i], &lens[i])) {
                snprintf(err, errlen, "corrupt spool chunk");
                return SQL_E_DATA;
            }
        uint64_t changed = 0;
        if (!c->cfg->dont_try_update) {
            for (int i = 0; i < nmap; i++) {
                uvals[i] = vals[map[i]];
                ulens[i] = lens[map[i]];
            }
            if ((rc = c->be->run(b, SQL_ST_UPDATE, uvals, ulens, nmap,
                                 &changed, err, errlen)) < 0)
                return rc;
        }
        if (!changed &&
            (rc = insert_row(c, b, vals, lens, to_insert, err, errlen)) < 0)
            return rc;
    }
    return 0;
}

/* Rows in groups of SQL_GROUP through the backend's run_many (pipelined
 * statements): the group's UPDATEs, then INSERTs for the rows no UPDATE
 * changed.  Same statements and results as rows_single, fewer round
 * trips.  The rows of a chunk have distinct keys, so the order of an
 * UPDATE and another row's INSERT does not matter. */
static int rows_grouped(struct sql_ctx *c, void *b, struct sql_chunk *ch,
                        const int *map, int nmap, uint64_t *to_insert,
                        char *err, size_t errlen)
{
    size_t nc = (size_t)c->ncols, pos = 0;
    const char **gv = malloc(SQL_GROUP * nc * sizeof(*gv));
    const char **uv = malloc(SQL_GROUP * nc * sizeof(*uv));
    int *gl = malloc(SQL_GROUP * nc * sizeof(*gl));
    int *ul = malloc(SQL_GROUP * nc * sizeof(*ul));
    uint64_t *changed = malloc(SQL_GROUP * sizeof(*changed));
    int rc = 0;
    if (!gv || !uv || !gl || !ul || !changed) {
        snprintf(err, errlen, "out of memory");
        rc = SQL_E_CONN;
        goto out;
    }
    for (uint64_t r = 0; r < ch->nrows && rc == 0;) {
        int g = 0;
        for (; g < SQL_GROUP && r < ch->nrows; g++, r++)
            for (size_t i = 0; i < nc; i++)
                if (!sql_chunk_next(ch, &pos, &gv[g * nc + i],
                                    &gl[g * nc + i])) {
                    snprintf(err, errlen, "corrupt spool chunk");
                    rc = SQL_E_DATA;
                    goto out;
                }
        memset(changed, 0, (size_t)g * sizeof(*changed));
        if (!c->cfg->dont_try_update) {
            for (int k = 0; k < g; k++)
                for (int i = 0; i < nmap; i++) {
                    uv[k * nmap + i] = gv[k * nc + (size_t)map[i]];
                    ul[k * nmap + i] = gl[k * nc + (size_t)map[i]];
                }
            if ((rc = c->be->run_many(b, SQL_ST_UPDATE, g, uv, ul, nmap,
                                      changed, err, errlen)) < 0)
                goto out;
        }
        if (c->bulk) {
            for (int k = 0; k < g && rc == 0; k++)
                if (!changed[k])
                    rc = insert_row(c, b, gv + k * nc, gl + k * nc, to_insert,
                                    err, errlen);
            continue;
        }
        int n = 0; /* compact the rows to INSERT into uv/ul */
        for (int k = 0; k < g; k++)
            if (!changed[k]) {
                memcpy(uv + n * nc, gv + k * nc, nc * sizeof(*uv));
                memcpy(ul + n * nc, gl + k * nc, nc * sizeof(*ul));
                n++;
            }
        if (n)
            rc = c->be->run_many(b, SQL_ST_INSERT, n, uv, ul,
                                 (int)nc, changed, err, errlen);
    }
out:
    free(gv);
    free(uv);
    free(gl);
    free(ul);
    free(changed);
    return rc;
}

/* The columns of ch that hold one value in every row (sql_col_same) with
 * that value, read from its first row; NULL when none. */
static const struct sql_same *same_values(const struct sql_ctx *c,
                                          const struct sql_chunk *ch,
                                          struct sql_same *s)
{
    size_t pos = 0;
    s->n = 0;
    for (int i = 0; i < c->ncols; i++) {
        if (!sql_chunk_next(ch, &pos, &s->vals[i], &s->lens[i]))
            return NULL;
        s->is[i] = (unsigned char)sql_col_same(c, ch, i);
        s->n += s->is[i];
    }
    return s->n ? s : NULL;
}

/* Write a chunk in one transaction.  0 or SQL_E_*. */
static int write_chunk(struct sql_ctx *c, struct sql_link *k,
                       struct sql_chunk *ch, char *err, size_t errlen)
{
    void *b = k->b;
    int map[SQL_MAX_COLS];
    int nmap = sql_update_params(c->cols, c->ncols, map);
    int bulk = c->bulk, in_bulk = 0;
    uint64_t to_insert = 0, written = 0;
    int rc;

    if ((rc = prepare_table(c, k, ch, err, errlen)) < 0)
        return rc;
    if ((rc = c->be->exec(b, "BEGIN", err, errlen)) < 0)
        return rc;
    if (c->cfg->locking_style == SQL_LOCK_TABLE && c->be->lock_table &&
        (rc = c->be->lock_table(b, ch->table, err, errlen)) < 0)
        goto fail;
    if (bulk && c->cfg->dont_try_update && c->be->bulk_chunk) {
        struct sql_same same;
        rc = c->be->bulk_chunk(b, ch->table, c->cols, c->ncols,
                               same_values(c, ch, &same), ch, &written, err,
                               errlen);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            to_insert = ch->nrows;
            goto check;
        }
    }
    if (bulk) {
        struct sql_same same;
        if ((rc = c->be->bulk_begin(b, ch->table, c->cols, c->ncols,
                                    same_values(c, ch, &same), err, errlen)) < 0)
            goto fail;
        in_bulk = 1;
    }
    /* COPY holds the connection: no UPDATE can be pipelined meanwhile,
     * which is fine, COPY is only used with sql_dont_try_update */
    if (c->be->run_many)
        rc = rows_grouped(c, b, ch, map, nmap, &to_insert, err, errlen);
    else
        rc = rows_single(c, b, ch, map, nmap, &to_insert, err, errlen);
    if (rc < 0)
        goto fail;
    if (bulk) {
        in_bulk = 0;
        if ((rc = c->be->bulk_end(b, &written, err, errlen)) < 0)
            goto fail;
    check:
        if (written != to_insert) {
            snprintf(err, errlen, "bulk insert stored %llu of %llu rows",
                     (unsigned long long)written,
                     (unsigned long long)to_insert);
            rc = SQL_E_DATA;
            goto fail;
        }
    }
    if ((rc = c->be->exec(b, "COMMIT", err, errlen)) < 0)
        goto fail;
    return 0;
fail: {
    char e2[64];
    if (in_bulk) /* abort: discard what is buffered */
        c->be->bulk_end(b, NULL, e2, sizeof(e2));
    c->be->exec(b, "ROLLBACK", e2, sizeof(e2));
}
    return rc;
}

static void link_drop(struct sql_ctx *c, struct sql_link *k)
{
    if (k->connected)
        c->be->disconnect(k->b);
    k->connected = 0;
    k->prepared = 0;
    k->on_backup = 0;
}

/* Connect link k: main tries sql_host, then sql_backup_host; rec only
 * sql_backup_host.  0 or SQL_E_* with the reason in err. */
static int link_connect(struct sql_ctx *c, struct sql_link *k, char *err,
                        size_t errlen)
{
    const char *bh = c->cfg->backup_host;
    int rc;
    if (k == &c->rec) {
        rc = c->be->connect(k->b, bh, err, errlen);
    } else {
        rc = c->be->connect(k->b, c->cfg->host, err, errlen);
        if (rc < 0 && bh) {
            char err2[256];
            size_t l = strlen(err);
            if ((rc = c->be->connect(k->b, bh, err2, sizeof(err2))) == 0) {
                k->on_backup = 1;
                c->host->log_limited(c->inst, PM_LOG_WARNING, "sql-backup",
                                     "sql_host unreachable (%s): writing to "
                                     "sql_backup_host %s",
                                     err, bh);
            } else if (l < errlen) {
                snprintf(err + l, errlen - l, "; sql_backup_host %s: %s", bh,
                         err2);
            }
        }
    }
    if (rc == 0) {
        k->connected = 1;
        k->prepared = 0;
        pm_counter_add(c->c_reconnects, 1);
    }
    return rc;
}

/* The head chunk is refused or, for recovered rows, cannot be written:
 * remove it and count its rows dropped. */
static void drop_head(struct sql_ctx *c, struct sql_chunk *ch, const char *err)
{
    uint64_t n = ch->nrows;
    PM_ERR(c->host, c->inst, "table %s%s: %s; %llu rows of this purge dropped",
           ch->table,
           ch->recover ? " (sql_preprocess recover, sql_backup_host)" : "",
           err, (unsigned long long)n);
    sql_spool_pop(&c->spool);
    __atomic_fetch_sub(c->c_pending, n, __ATOMIC_RELAXED);
    pm_counter_add(c->c_dropped, n);
}

void *sql_writer_main(void *arg)
{
    struct sql_ctx *c = arg;
    struct sql_spool *s = &c->spool;
    uint64_t backoff = 0; /* seconds; 0: none */
    char err[512];
    int stop = 0, warned = 0;

    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (backoff) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += (time_t)backoff;
            while (!s->stop)
                if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT)
                    break;
        } else {
            while (!s->head && !s->stop)
                pthread_cond_wait(&s->cv, &s->mu);
        }
        stop = s->stop;
        int empty = s->head == NULL;
        pthread_mutex_unlock(&s->mu);
        if (empty && stop)
            break;
        if (empty)
            continue;
        if (stop == 2) /* drain timeout passed */
            break;

        struct sql_chunk *ch = sql_spool_peek(s);
        if (!ch) {
            backoff = 1;
            continue;
        }
        /* recovered rows (sql_preprocess recover) go to sql_backup_host
         * only; when it cannot take them they are dropped, they never hold
         * back the valid rows queued behind them */
        struct sql_link *k = ch->recover && c->rec.b ? &c->rec : &c->main;
        if (!k->connected) {
            int rc = link_connect(c, k, err, sizeof(err));
            if (rc < 0 && k == &c->rec) {
                pm_counter_add(c->c_errors, 1);
                drop_head(c, ch, err);
                continue;
            }
            if (rc < 0) {
                if (!warned)
                    PM_ERR(c->host, c->inst,
                           "cannot connect to the database: %s; rows kept "
                           "(%llu pending), retrying",
                           err, (unsigned long long)sql_spool_rows(s));
                warned = 1;
                backoff = backoff ? backoff * 2 : 1;
                if (backoff > c->cfg->retry_max)
                    backoff = c->cfg->retry_max ? c->cfg->retry_max : 1;
                continue;
            }
            if (warned && k == &c->main)
                PM_INFO(c->host, c->inst, "database connection back%s",
                        k->on_backup ? " (sql_backup_host)" : "");
            if (k == &c->main)
                warned = 0;
        }
        int rc = write_chunk(c, k, ch, err, sizeof(err));
        if (rc == 0) {
            uint64_t n = ch->nrows;
            sql_spool_pop(s);
            __atomic_fetch_sub(c->c_pending, n, __ATOMIC_RELAXED);
            pm_counter_add(c->c_written, n);
            pm_counter_add(c->c_txn, 1);
            if (k->on_backup) /* the next chunk tries sql_host first */
                link_drop(c, k);
            backoff = 0;
            continue;
        }
        pm_counter_add(c->c_errors, 1);
        if (rc == SQL_E_CONN && k == &c->main) {
            if (!warned)
                PM_ERR(c->host, c->inst,
                       "database error: %s; rows kept, retrying", err);
            warned = 1;
            link_drop(c, k);
            backoff = backoff ? backoff * 2 : 1;
            if (backoff > c->cfg->retry_max)
                backoff = c->cfg->retry_max ? c->cfg->retry_max : 1;
            continue;
        }
        /* the database refuses these rows: retrying cannot help */
        if (rc == SQL_E_CONN)
            link_drop(c, k);
        drop_head(c, ch, err);
        backoff = 0;
    }
    link_drop(c, &c->main);
    if (c->rec.b)
        link_drop(c, &c->rec);
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
