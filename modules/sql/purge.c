/*
 * purge.c - the purge of the SQL output: the cache walked into chunks of
 * text rows (one per table name and destination), then sorted (sort.c)
 * and queued for the writer; or, when every key column's text can be made
 * from the record, sorted first and rendered in key order (defer.c).
 * Values' text: made from the record for the primitives reckey.c knows,
 * else by the host's CSV renderer (the primitives that cannot hold the
 * separator in one call per row, the others one by one).  With
 * sql_sort_rows, a fixed table and no sql_preprocess, two threads walk the
 * two halves of the cache (host cache_walk_part, ABI 1.1), each with its
 * own walker state.
 *
 * Threads: the pipeline thread, and during a purge one helper thread that
 * touches only c->w[1] and reads the cache and the instance's settings.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sql_int.h"

/* ---- value text -------------------------------------------------------- */

/* Text of aggregated primitive col of row as pmacct writes it to SQL: the
 * CSV form of the host's renderer (one column), counters stripped.
 * Columns not aggregated take their zero_text (c->zero) instead. */
int sql_prim_text(struct sql_walker *w, const struct sql_col *col,
                  const struct pm_row *row, const char **v, size_t *len)
{
    struct sql_ctx *c = w->c;
    int id = col->prim;
    struct pm_render *r = w->rend[id];
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
        r = w->rend[id] = c->host->render_new(&rc);
        if (!r)
            return -ENOMEM;
    }
    struct pm_row one = *row;
    one.packets = one.bytes = one.flows = 0;
    w->vbuf.len = 0;
    if (c->host->render_row(r, &one, &w->vbuf) < 0)
        return -ENOMEM;
    size_t e = w->vbuf.len;
    if (e && w->vbuf.p[e - 1] == '\n')
        e--;
    /* strip ",packets,bytes" (counters are numeric, last) */
    for (int k = 0; k < 2; k++) {
        while (e > 0 && w->vbuf.p[e - 1] != ',')
            e--;
        if (e > 0)
            e--;
    }
    if (col->half && (id == PM_P_SRC_HOST_COORDS || id == PM_P_DST_HOST_COORDS)) {
        /* lat,lon: keep the second */
        size_t s = 0;
        while (s < e && w->vbuf.p[s] != ',')
            s++;
        *v = w->vbuf.p + (s < e ? s + 1 : e);
        *len = s < e ? e - s - 1 : 0;
        return 0;
    }
    if (id == PM_P_SRC_HOST_COORDS || id == PM_P_DST_HOST_COORDS) {
        size_t s = 0;
        while (s < e && w->vbuf.p[s] != ',')
            s++;
        e = s;
    }
    *v = w->vbuf.p;
    *len = e;
    return 0;
}

/* Primitives whose text is made of digits, letters, dots, colons, dashes,
 * slashes (addresses, numbers, names of protocols): never the separator
 * of the one-call rendering.  Those whose text reckey.c makes from the
 * record are left to it. */
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
int sql_fast_init(struct sql_ctx *c)
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
        if (c->rkok[i])
            continue; /* its text from the record (reckey.c) */
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
    for (int j = 0; j < SQL_WALKERS; j++)
        if (!(c->w[j].frend = c->host->render_new(&rc)))
            return -ENOMEM;
    c->nfast = n;
    return 0;
}

/* Render row's fast columns once; w->fok = 0 sends them the slow way. */
static void fast_row(struct sql_walker *w, const struct pm_row *row)
{
    struct sql_ctx *c = w->c;
    struct pm_row one = *row;
    w->fok = 0;
    if (!w->frend)
        return;
    one.packets = one.bytes = one.flows = 0;
    w->fbuf.len = 0;
    if (c->host->render_row(w->frend, &one, &w->fbuf) < 0)
        return;
    const char *p = w->fbuf.p, *end = p + w->fbuf.len;
    for (int k = 0; k < c->nfast; k++) {
        const char *q = memchr(p, FAST_SEP, (size_t)(end - p));
        if (!q)
            return;
        w->fv[k] = p;
        w->fl[k] = (size_t)(q - p);
        p = q + 1;
    }
    w->fok = 1;
}

/* ---- purge --------------------------------------------------------------- */

static struct sql_chunk *chunk_for(struct sql_walker *w, const char *table,
                                   int recover)
{
    for (size_t i = w->npchunks; i-- > 0;)
        if (w->pchunks[i]->recover == recover &&
            !strcmp(w->pchunks[i]->table, table))
            return w->pchunks[i];
    if (w->npchunks == w->cappchunks) {
        size_t nc = w->cappchunks ? w->cappchunks * 2 : 8;
        struct sql_chunk **n = realloc(w->pchunks, nc * sizeof(*n));
        if (!n)
            return NULL;
        w->pchunks = n;
        w->cappchunks = nc;
    }
    struct sql_chunk *ch = sql_chunk_new(table);
    if (!ch)
        return NULL;
    ch->t_min = UINT64_MAX;
    ch->recover = recover;
    w->pchunks[w->npchunks++] = ch;
    return ch;
}

/* Row's values as text at the end of ch (one more row); -ENOMEM with ch
 * as it was. */
int sql_row_text(struct sql_walker *w, struct sql_chunk *ch,
                 const struct pm_row *row)
{
    struct sql_ctx *c = w->c;
    char num[32];
    size_t len0 = ch->len;
    int rc = 0;
    fast_row(w, row);
    for (int i = 0; i < c->ncols && rc == 0; i++) {
        const struct sql_col *col = &c->cols[i];
        const char *v;
        size_t len;
        switch (col->kind) {
        case SQL_COL_PRIM:
            if (c->rkok[i]) {
                char t[SQL_RECTEXT_MAX];
                int n = sql_rectext(w, &c->rk[i], row, t);
                if (n >= 0) {
                    rc = sql_chunk_add(ch, t, (size_t)n);
                    break;
                }
            }
            if (w->fok && c->fcol[i] >= 0) {
                rc = sql_chunk_add(ch, w->fv[c->fcol[i]], w->fl[c->fcol[i]]);
                break;
            }
            if (c->zero[i]) {
                rc = sql_chunk_add(ch, c->zero[i], c->zero_len[i]);
                break;
            }
            rc = sql_prim_text(w, col, row, &v, &len);
            if (rc == 0)
                rc = sql_chunk_add(ch, v, len);
            break;
        case SQL_COL_PACKETS:
        case SQL_COL_BYTES:
        case SQL_COL_FLOWS:
        {
            uint64_t x = col->kind == SQL_COL_PACKETS ? row->packets
                         : col->kind == SQL_COL_BYTES ? row->bytes
                                                      : row->flows;
            rc = sql_chunk_add(ch, num, (size_t)sql_num_text(num, x));
            break;
        }
        case SQL_COL_STAMP_INSERTED:
            if (row->stamp_inserted != w->ins_t) { /* bins repeat: cache */
                w->ins_t = row->stamp_inserted;
                sql_time_text(w->ins_t, w->ins_text, sizeof(w->ins_text));
                w->ins_len = strlen(w->ins_text);
            }
            rc = sql_chunk_add(ch, w->ins_text, w->ins_len);
            break;
        case SQL_COL_STAMP_UPDATED:
            rc = sql_chunk_add(ch, c->upd_text, c->upd_len);
            break;
        }
    }
    if (rc < 0) {
        ch->len = len0;
        return -ENOMEM;
    }
    ch->nrows++;
    if (row->stamp_inserted < ch->t_min)
        ch->t_min = row->stamp_inserted;
    if (row->stamp_inserted > ch->t_max)
        ch->t_max = row->stamp_inserted;
    return 0;
}

static int purge_row(void *ud, const struct pm_row *row0)
{
    struct sql_walker *w = ud;
    struct sql_ctx *c = w->c;
    struct pm_row row = *row0;
    char table[256];
    const char *tname = c->table_default;
    int pp = sql_pp_apply(c, &row);

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
            w->walk_err = -ENAMETOOLONG;
            return PM_WALK_NEXT;
        }
        tname = table;
    }
    struct sql_chunk *ch = chunk_for(w, tname, pp == SQL_PP_RECOVER);
    if (!ch || sql_row_text(w, ch, &row) < 0)
        goto nomem;
    if (ch->nrows >= SQL_CHUNK_ROWS && !c->cfg->sort_rows) {
        /* big purges go in pieces: the writer starts on the first while
         * the walk goes on (each piece is one transaction) */
        for (size_t i = 0; i < w->npchunks; i++)
            if (w->pchunks[i] == ch) {
                w->pchunks[i] = w->pchunks[--w->npchunks];
                break;
            }
        sql_queue_chunk(c, ch);
    }
    return PM_WALK_NEXT;
nomem:
    w->walk_err = -ENOMEM;
    return PM_WALK_STOP;
}

/* Hand a finished chunk to the writer (or count its rows dropped). */
void sql_queue_chunk(struct sql_ctx *c, struct sql_chunk *ch)
{
    if (ch->second) { /* the halves of a two-thread walk, each on its own */
        struct sql_chunk *b = ch->second;
        ch->second = NULL;
        sql_queue_chunk(c, b);
    }
    uint64_t n = ch->nrows;
    ch->stamp_updated = c->stamp_updated;
    if (!n) {
        sql_chunk_free(ch);
        return;
    }
    /* what the trigger needs, read before the push: once in the spool the
     * chunk is the writer's, which may write and free it at once */
    int recover = ch->recover;
    uint64_t t_min = ch->t_min, t_max = ch->t_max;
    char table[sizeof(c->last_table)];
    snprintf(table, sizeof(table), "%s", ch->table);
    pm_counter_add(c->c_pending, n); /* before: the writer subtracts */
    if (sql_spool_push(&c->spool, ch) < 0) {
        __atomic_fetch_sub(c->c_pending, n, __ATOMIC_RELAXED);
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
    if (recover) /* not in QN (as pmacct) nor the trigger's window */
        return;
    c->queued += n;
    memcpy(c->last_table, table, sizeof(table));
    c->last_t_min = t_min == UINT64_MAX ? 0 : t_min;
    c->last_t_max = t_max;
}

/* Walk part `part` of `nparts` of the cache into w's chunks (the parts
 * read-only, see the host's cache_walk_part), or the whole cache with
 * nparts 0. */
static int walk(struct sql_walker *w, uint32_t part, uint32_t nparts)
{
    struct sql_ctx *c = w->c;
    w->ins_t = UINT64_MAX;
    w->walk_err = 0;
    w->npchunks = 0;
    int rc = nparts ? c->host->cache_walk_part(c->cache, part, nparts,
                                               purge_row, w)
                    : c->host->cache_walk(c->cache, purge_row, w);
    if (rc >= 0 && w->walk_err)
        rc = w->walk_err;
    return rc;
}

static void *helper_main(void *arg)
{
    struct sql_walker *w = arg;
    w->rc = walk(w, 1, SQL_WALKERS);
    return NULL;
}

/* Walk the cache, in two threads when it is worth it: with sql_sort_rows
 * nothing is queued during the walk (the rows are sorted at its end), so
 * with a fixed table name and no sql_preprocess (whose sampling and
 * counters are the purge's) each thread renders half the aggregates into
 * chunks of its own, with its own renderers; each of the helper's chunks
 * becomes the `second` of the pipeline thread's chunk of the same table
 * (sorted together, no copy).  The walk renders every aggregate as text (~370 ns per
 * row of the bench's), so this halves the time before the first row can
 * go.  Returns the walk's error; the rows are in c->w[0]'s chunks. */
/* Below this many aggregates one thread walks: a thread's start would
 * cost more than it saves. */
#define SQL_SPLIT_WALK 20000

static int walk_all(struct sql_ctx *c, uint64_t total)
{
    struct sql_walker *w0 = &c->w[0], *w1 = &c->w[1];
    pthread_t th;
    int rc;
    w1->npchunks = 0;
    if (!c->cfg->sort_rows || !c->table_static || c->pp || c->pp_acts ||
        c->pp_z > 0 || total < SQL_SPLIT_WALK ||
        PM_ABI_MINOR_OF(c->host->abi) < 1 || !c->host->cache_walk_part ||
        pthread_create(&th, NULL, helper_main, w1) != 0)
        return walk(w0, 0, 0);
    rc = walk(w0, 0, SQL_WALKERS);
    pthread_join(th, NULL);
    if (rc >= 0)
        rc = w1->rc;
    /* join each of w1's chunks to w0's of the same table (or keep it
     * beside: sorted on its own, written all the same) */
    for (size_t i = 0; i < w1->npchunks; i++) {
        struct sql_chunk *b = w1->pchunks[i], *a = NULL;
        for (size_t j = 0; j < w0->npchunks && !a; j++)
            if (w0->pchunks[j]->recover == b->recover &&
                !strcmp(w0->pchunks[j]->table, b->table))
                a = w0->pchunks[j];
        if (a && !a->second) { /* sorted together, not copied together */
            a->second = b;
            if (b->t_min < a->t_min) /* a's window covers both halves */
                a->t_min = b->t_min;
            if (b->t_max > a->t_max)
                a->t_max = b->t_max;
            continue;
        }
        if (w0->npchunks == w0->cappchunks) {
            size_t nc = w0->cappchunks ? w0->cappchunks * 2 : 8;
            struct sql_chunk **n = realloc(w0->pchunks, nc * sizeof(*n));
            if (!n) { /* not even room to keep it: queue it as it is */
                sql_queue_chunk(c, b);
                continue;
            }
            w0->pchunks = n;
            w0->cappchunks = nc;
        }
        w0->pchunks[w0->npchunks++] = b;
    }
    w1->npchunks = 0;
    return rc;
}

int sql_purge(struct sql_ctx *c)
{
    pm_ts_t now;
    uint64_t total = c->host->cache_count(c->cache);
    struct sql_walker *w = &c->w[0];
    int rc = 0;
    c->host->now(c->inst, &now);
    c->stamp_updated = now.sec;
    sql_time_text(c->stamp_updated, c->upd_text, sizeof(c->upd_text));
    c->upd_len = strlen(c->upd_text);
    w->npchunks = 0;
    c->queued = 0;
    PM_INFO(c->host, c->inst, "*** Purging cache - START (PID: %d) ***",
            (int)getpid());
    if (total && (rc = sql_pp_begin(c, total)) == 0 &&
        sql_defer_purge(c, total) != 0)
        rc = walk_all(c, total);
    for (size_t i = 0; i < w->npchunks; i++) {
        struct sql_chunk *ch = w->pchunks[i];
        ch->stamp_updated = c->stamp_updated;
        if (c->cfg->sort_rows &&
            ch->nrows + (ch->second ? ch->second->nrows : 0) > 1 &&
            sql_sort_queue(c, ch) == 0)
            continue;
        sql_queue_chunk(c, ch); /* unsorted when sorting ran out of memory */
    }
    w->npchunks = 0;
    PM_INFO(c->host, c->inst,
            "*** Purging cache - END (PID: %d, QN: %llu/%llu, ET: 0) ***",
            (int)getpid(), (unsigned long long)c->queued,
            (unsigned long long)total);
    c->host->cache_clear(c->cache);
    pm_counter_add(c->c_purges, 1);
    if (c->cfg->trigger_exec && !c->trigger_every && c->queued)
        sql_trigger_run(c);
    return rc;
}

/* Free what the walkers hold (renderers, buffers, chunks of a purge
 * interrupted). */
void sql_walkers_free(struct sql_ctx *c)
{
    for (int j = 0; j < SQL_WALKERS; j++) {
        struct sql_walker *w = &c->w[j];
        for (int i = 0; i < PM_P_MAX; i++)
            if (w->rend[i])
                c->host->render_free(w->rend[i]);
        if (w->frend)
            c->host->render_free(w->frend);
        for (size_t i = 0; i < w->npchunks; i++)
            sql_chunk_free(w->pchunks[i]);
        free(w->pchunks);
        free(w->vbuf.p);
        free(w->fbuf.p);
    }
}
