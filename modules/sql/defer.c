/*
 * defer.c - the sorted purge with keys from the records (ours).  When
 * every key column can be keyed from the record (reckey.c), the cache is
 * walked taking only each aggregate's key and ref (host
 * cache_walk_part_ref, ABI 1.2; two threads, each half of the cache, for
 * SQL_SPLIT_WALK aggregates or more); the refs are sorted by key, bucket
 * by bucket (sort.c), and each piece's rows are had again from the
 * cache (cache_rows) and rendered in key order, then queued.  So the first
 * piece goes after a walk that renders nothing, and rendering the rest
 * overlaps the writer (sort.c renders every row first, then parses keys
 * back from the text).
 *
 * Threads: the pipeline thread, and during the walk one helper thread
 * that touches only c->w[1] and its own part; the cache is read-only
 * until sql_purge clears it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sort_int.h"

/* Below this many aggregates one thread walks. */
#define SQL_SPLIT_WALK 20000

/* One thread's walk: its rows go to rows[]/ord[] at n = 0, 1, ... (part
 * 0) or total - 1, total - 2, ... (part 1), so the two parts fill the
 * arrays from both ends without meeting (each aggregate is in one part:
 * n0 + n1 = total); keys into its own buffer. */
struct dpart {
    struct sql_ctx *c;
    struct sql_walker *w;
    const struct sql_reckey *keys;
    int nk, typed, stamp;
    size_t room; /* most key bytes of a row */
    uint32_t part, nparts;
    struct kbuf k;
    struct srow *rows;
    struct sent *ord;
    uint64_t total, n;
    uint64_t t_min, t_max;
    int rc;
};

static int dpart_row(void *ud, const struct pm_row *row, uint64_t ref)
{
    struct dpart *p = ud;
    if (p->n >= p->total || ref > UINT32_MAX) { /* more than counted */
        p->rc = -EOVERFLOW;
        return PM_WALK_STOP;
    }
    if (sql_kreserve(&p->k, p->room) < 0) {
        p->rc = -ENOMEM;
        return PM_WALK_STOP;
    }
    unsigned char *o = p->k.p + p->k.len, *k0 = o;
    for (int i = 0; i < p->nk && o; i++)
        o = sql_reckey_put(p->w, &p->keys[i], row, o, p->typed);
    if (!o) {
        p->rc = -ENOMEM;
        return PM_WALK_STOP;
    }
    if (p->stamp) /* the bin last, big-endian: the order of its text */
        for (int i = 7; i >= 0; i--)
            *o++ = (unsigned char)(row->stamp_inserted >> (8 * i));
    uint64_t idx = p->part ? p->total - 1 - p->n : p->n;
    struct srow *r = &p->rows[idx];
    r->koff = p->k.len;
    r->roff = 0;
    r->klen = (uint32_t)(o - k0);
    r->rlen = 0;
    sql_key_prefix(&p->ord[idx], k0, r->klen, (uint32_t)idx);
    p->ord[idx].ref = (uint32_t)ref;
    p->k.len += r->klen;
    p->n++;
    if (row->stamp_inserted < p->t_min)
        p->t_min = row->stamp_inserted;
    if (row->stamp_inserted > p->t_max)
        p->t_max = row->stamp_inserted;
    return PM_WALK_NEXT;
}

static void *dpart_main(void *arg)
{
    struct dpart *p = arg;
    /* room for the keys of a part's share, reserved at once: no copy
     * as it grows (pages are only touched as keys are written) */
    if (sql_kreserve(&p->k, (p->total / p->nparts + 1024) * p->room) < 0) {
        p->rc = -ENOMEM;
        return NULL;
    }
    int rc = p->c->host->cache_walk_part_ref(p->c->cache, p->part, p->nparts,
                                             dpart_row, p);
    if (rc < 0 && !p->rc)
        p->rc = rc;
    return NULL;
}

/* A chunk being rendered from cache_rows. */
struct rq {
    struct sql_walker *w;
    struct sql_chunk *p;
    int err;
};

static int rq_row(void *ud, const struct pm_row *row)
{
    struct rq *q = ud;
    if (sql_row_text(q->w, q->p, row) < 0) {
        q->err = 1;
        return PM_WALK_STOP;
    }
    return PM_WALK_NEXT;
}

/* The rows of ord[from, to) rendered in that order into chunks of at
 * most `per` (<= SQL_CHUNK_ROWS) rows, each queued, their refs through
 * refs (SQL_CHUNK_ROWS of room); returns the index of the first row not
 * queued (to: all). */
static uint64_t render_queue(struct sql_ctx *c, const struct sent *ord,
                             uint64_t *refs, uint64_t from, uint64_t to,
                             size_t per, uint64_t t_min, uint64_t t_max)
{
    uint64_t r = from;
    while (r < to) {
        size_t n = to - r < per ? (size_t)(to - r) : per;
        struct rq q = {&c->w[0], sql_chunk_new(c->table_default), 0};
        if (!q.p)
            return r;
        for (size_t i = 0; i < n; i++)
            refs[i] = ord[r + i].ref;
        q.p->t_min = UINT64_MAX;
        int rc = c->host->cache_rows(c->cache, refs, n, rq_row, &q);
        if (rc < 0 && !q.err) { /* cannot be: the walk gave the refs */
            c->host->log_limited(c->inst, PM_LOG_ERR, "sql-defer",
                                 "%llu aggregates gone from the cache "
                                 "during the purge: dropped",
                                 (unsigned long long)(n - q.p->nrows));
            pm_counter_add(c->c_dropped, n - q.p->nrows);
        }
        r += q.err ? q.p->nrows : n;
        if (!q.p->nrows) {
            sql_chunk_free(q.p);
            return r;
        }
        q.p->t_min = t_min; /* the purge's window, as sort.c's pieces */
        q.p->t_max = t_max;
        sql_queue_chunk(c, q.p);
        if (q.err)
            return r; /* the row at r could not be rendered */
    }
    return r;
}

int sql_defer_purge(struct sql_ctx *c, uint64_t total)
{
    const struct pm_host *h = c->host;
    struct sql_reckey keys[SQL_MAX_COLS];
    int nk, stamp = 0;
    if (!c->cfg->sort_rows || !c->table_static || c->pp || c->pp_acts ||
        c->pp_z > 0 || total < 2 || total > UINT32_MAX ||
        PM_ABI_MINOR_OF(h->abi) < 2 || !h->cache_walk_part_ref ||
        !h->cache_rows || (nk = sql_reckey_cols(c, keys)) < 0)
        return 1;
    for (int i = 0; i < c->ncols; i++)
        if (c->cols[i].kind == SQL_COL_STAMP_INSERTED && c->history)
            stamp = 1;
    struct srow *rows = malloc(total * sizeof(*rows));
    struct sent *ord = malloc(total * sizeof(*ord));
    struct dpart *p = calloc(2, sizeof(*p));
    uint64_t *refs = malloc(SQL_CHUNK_ROWS * sizeof(*refs));
    size_t *start = NULL;
    if (!rows || !ord || !p || !refs) {
        free(rows);
        free(ord);
        free(p);
        free(refs);
        return 1;
    }
    int typed = (c->be->flags & SQL_BF_TYPED_ORDER) != 0;
    size_t room = stamp ? 8 : 0;
    for (int i = 0; i < nk; i++)
        room += sql_reckey_room(&keys[i], typed);
    uint32_t nparts = total >= SQL_SPLIT_WALK ? 2 : 1;
    for (uint32_t i = 0; i < 2; i++) {
        p[i] = (struct dpart){.c = c, .w = &c->w[i], .keys = keys,
                              .nk = nk, .typed = typed, .stamp = stamp,
                              .room = room,
                              .part = i, .nparts = nparts, .rows = rows,
                              .ord = ord, .total = total,
                              .t_min = UINT64_MAX};
    }
    pthread_t th;
    int two = nparts == 2 && pthread_create(&th, NULL, dpart_main, &p[1]) == 0;
    if (nparts == 2 && !two)
        p[0].nparts = p[1].nparts = 1; /* no thread: one walks all */
    dpart_main(&p[0]);
    if (two)
        pthread_join(th, NULL);
    int rc = p[0].rc ? p[0].rc : p[1].rc;
    if (!rc && p[0].n + p[1].n != total)
        rc = -EOVERFLOW; /* the count and the walk disagree */
    unsigned nb = 0;
    if (!rc && !(nb = sql_bucketize(ord, total, &start)))
        rc = -ENOMEM;
    if (rc) { /* nothing queued: the purge walks and renders instead */
        h->log_limited(c->inst, PM_LOG_WARNING, "sql-defer",
                       "sorted purge by record keys: %s; rendering first",
                       strerror(-rc));
        free(p[0].k.p);
        free(p[1].k.p);
        free(p);
        free(rows);
        free(ord);
        free(refs);
        return 1;
    }
    uint64_t t_min = p[0].t_min < p[1].t_min ? p[0].t_min : p[1].t_min;
    uint64_t t_max = p[0].t_max > p[1].t_max ? p[0].t_max : p[1].t_max;
    /* part 1's rows (from total - n1 on) have their keys in its buffer */
    struct sctx s = {p[0].k.p, p[1].k.p, rows, (uint32_t)(total - p[1].n)};
    unsigned npieces = 0;
    uint64_t r = 0;
    c->w[0].ins_t = UINT64_MAX;
    /* as sort.c: sorted bucket by bucket, each piece (sql_piece_rows)
     * rendered and queued as soon as its rows are sorted */
    int failed = 0;
    for (unsigned b = 0; b < nb && !failed; b++) {
        size_t bn = start[b + 1] - start[b], want;
        sql_sort_ents(ord + start[b], bn, &s);
        while (r < start[b + 1] &&
               (start[b + 1] - r >= (want = sql_piece_rows(npieces)) ||
                b == nb - 1)) {
            uint64_t to = r + want < start[b + 1] ? r + want : start[b + 1];
            uint64_t got = render_queue(c, ord, refs, r, to, want, t_min,
                                        t_max);
            npieces++;
            r = got;
            if (got < to) { /* out of memory: the rest unsorted below */
                failed = 1;
                break;
            }
        }
    }
    free(p[0].k.p); /* room for what is left */
    free(p[1].k.p);
    free(start);
    if (r < total) {
        /* a piece could not be built: the rows not queued go as they
         * are, in chunks; what cannot be rendered is counted dropped */
        free(rows);
        rows = NULL;
        uint64_t got = render_queue(c, ord, refs, r, total, SQL_CHUNK_ROWS,
                                    t_min, t_max);
        if (got < total) {
            h->log_limited(c->inst, PM_LOG_ERR, "sql-defer",
                           "out of memory rendering the purge: %llu rows "
                           "dropped", (unsigned long long)(total - got));
            pm_counter_add(c->c_dropped, total - got);
        }
    }
    free(p);
    free(rows);
    free(ord);
    free(refs);
    return 0;
}
