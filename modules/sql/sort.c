/*
 * sort.c - the rows of a purge in primary-key order (sql_sort_rows, ours).
 * pmacct's tables have the key columns, then stamp_inserted, as primary
 * key; rows sent in that order make the server's index inserts appends to
 * its rightmost pages (PostgreSQL B-tree, InnoDB clustered index) instead
 * of inserts at random places: measured by hand on 632k rows, psql \copy
 * 6.1-6.9 s unsorted vs 3.5-4.4 s sorted, MariaDB LOAD DATA 7.7-8.2 s vs
 * 4.9-5.6 s.  Each row gets a byte key that orders as the server does:
 * per key column a class byte, then numbers (all digits) by length and
 * digits, with SQL_BF_TYPED_ORDER (pgsql: inet and macaddr columns)
 * addresses and MACs as their bytes, anything else as its text.  A wrong
 * guess only costs speed: any order writes the same rows.
 *
 * Threads: pipeline thread (purge); the buffers are local to the call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

struct srow {
    size_t koff, roff;
    uint32_t klen, rlen;
};

struct kbuf {
    unsigned char *p;
    size_t len, cap;
};

static int kput(struct kbuf *k, const void *v, size_t n)
{
    if (k->len + n > k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 1 << 20;
        while (nc < k->len + n)
            nc *= 2;
        unsigned char *p = realloc(k->p, nc);
        if (!p)
            return -ENOMEM;
        k->p = p;
        k->cap = nc;
    }
    memcpy(k->p + k->len, v, n);
    k->len += n;
    return 0;
}

static int hexv(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* "x:x:x:x:x:x" (1 or 2 hex digits each) into 6 bytes */
static int mac_parse(const char *v, int len, unsigned char *out)
{
    int i = 0, n = 0;
    for (int b = 0; b < 6; b++) {
        int x = 0, d = 0;
        while (i < len && d < 2 && hexv(v[i]) >= 0)
            x = x * 16 + hexv(v[i++]), d++;
        if (!d)
            return -1;
        out[n++] = (unsigned char)x;
        if (b < 5 && (i >= len || v[i++] != ':'))
            return -1;
    }
    return i == len ? 0 : -1;
}

/* Append one value's sort key. */
static int key_value(struct kbuf *k, const char *v, int len, int typed)
{
    unsigned char b[24];
    if (!v)
        return kput(k, "\0", 1);
    if (len > 0 && len <= 20 && (v[0] != '0' || len == 1)) {
        int digits = 1;
        for (int i = 0; i < len && digits; i++)
            digits = v[i] >= '0' && v[i] <= '9';
        if (digits) {
            b[0] = 2;
            b[1] = (unsigned char)len;
            return kput(k, b, 2) ? -ENOMEM : kput(k, v, (size_t)len);
        }
    }
    if (typed && len < 46) {
        char t[48];
        memcpy(t, v, (size_t)len);
        t[len] = 0;
        b[0] = 1;
        if (inet_pton(AF_INET, t, b + 2) == 1) {
            b[1] = 4;
            return kput(k, b, 6);
        }
        if (inet_pton(AF_INET6, t, b + 2) == 1) {
            b[1] = 6;
            return kput(k, b, 18);
        }
        if (mac_parse(v, len, b + 2) == 0) {
            b[1] = 0;
            return kput(k, b, 8);
        }
    }
    b[0] = 3;
    if (kput(k, b, 1) < 0 || kput(k, v, (size_t)len) < 0)
        return -ENOMEM;
    return kput(k, "\0", 1);
}

/* What is sorted: the first PFX bytes of the key inline (most
 * comparisons end there), the row's index for the rest. */
#define PFX 16
struct sent {
    unsigned char pfx[PFX];
    uint32_t row;
};

struct sctx {
    const unsigned char *keys;
    const struct srow *rows;
};

static int cmp_rows(const void *a, const void *b, void *ud)
{
    const struct sent *ea = a, *eb = b;
    int r = memcmp(ea->pfx, eb->pfx, PFX);
    if (r)
        return r;
    const struct sctx *s = ud;
    const struct srow *x = &s->rows[ea->row], *y = &s->rows[eb->row];
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    if (n > PFX &&
        (r = memcmp(s->keys + x->koff + PFX, s->keys + y->koff + PFX, n - PFX)))
        return r;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* Leave out of the keys the key columns whose value is the same in every
 * row (columns not aggregated, one time bin): shorter keys, decisive
 * prefixes.  Returns the number of columns kept in keycol. */
static int varying_cols(const struct sql_ctx *c, const struct sql_chunk *ch,
                        int *keycol, int nk)
{
    const char *v0[SQL_MAX_COLS], *v;
    int l0[SQL_MAX_COLS], l, varies[SQL_MAX_COLS] = {0}, n = 0;
    size_t pos = 0;
    for (int i = 0; i < c->ncols; i++)
        if (!sql_chunk_next(ch, &pos, &v0[i], &l0[i]))
            return nk;
    for (uint64_t r = 1; r < ch->nrows; r++)
        for (int i = 0; i < c->ncols; i++) {
            if (!sql_chunk_next(ch, &pos, &v, &l))
                return nk;
            if (!varies[i] && (l != l0[i] || (v == NULL) != (v0[i] == NULL) ||
                               (v && memcmp(v, v0[i], (size_t)l))))
                varies[i] = 1;
        }
    for (int i = 0; i < nk; i++)
        if (varies[keycol[i]])
            keycol[n++] = keycol[i];
    return n;
}

/* Queue ch's rows sorted, in pieces, and free ch; on error (-ENOMEM,
 * -EINVAL: corrupt chunk) nothing is queued and ch is left to the caller. */
int sql_sort_queue(struct sql_ctx *c, struct sql_chunk *ch)
{
    int typed = (c->be->flags & SQL_BF_TYPED_ORDER) != 0;
    struct kbuf k = {0};
    struct srow *rows = NULL;
    struct sent *ord = NULL;
    struct sql_chunk **pieces = NULL;
    size_t np = 0;
    int keycol[SQL_MAX_COLS], nk = 0, rc = -ENOMEM;
    const char *vals[SQL_MAX_COLS];
    int lens[SQL_MAX_COLS];
    size_t pos = 0;

    if (ch->nrows > UINT32_MAX)
        return -E2BIG;
    for (int i = 0; i < c->ncols; i++)
        if (c->cols[i].kind == SQL_COL_PRIM)
            keycol[nk++] = i;
    for (int i = 0; i < c->ncols; i++)
        if (c->cols[i].kind == SQL_COL_STAMP_INSERTED)
            keycol[nk++] = i;
    nk = varying_cols(c, ch, keycol, nk);
    rows = malloc(ch->nrows * sizeof(*rows));
    ord = malloc(ch->nrows * sizeof(*ord));
    if (!rows || !ord)
        goto out;
    for (uint64_t r = 0; r < ch->nrows; r++) {
        rows[r].roff = pos;
        rows[r].koff = k.len;
        for (int i = 0; i < c->ncols; i++)
            if (!sql_chunk_next(ch, &pos, &vals[i], &lens[i])) {
                rc = -EINVAL;
                goto out;
            }
        for (int i = 0; i < nk; i++)
            if (key_value(&k, vals[keycol[i]], lens[keycol[i]], typed) < 0)
                goto out;
        rows[r].rlen = (uint32_t)(pos - rows[r].roff);
        rows[r].klen = (uint32_t)(k.len - rows[r].koff);
    }
    for (uint64_t r = 0; r < ch->nrows; r++) {
        size_t n = rows[r].klen < PFX ? rows[r].klen : PFX;
        memset(ord[r].pfx, 0, PFX);
        memcpy(ord[r].pfx, k.p + rows[r].koff, n);
        ord[r].row = (uint32_t)r;
    }
    struct sctx s = {k.p, rows};
    qsort_r(ord, ch->nrows, sizeof(*ord), cmp_rows, &s);
    /* the sorted rows in pieces of SQL_CHUNK_ROWS (one transaction each),
     * all built before any is queued: on failure the caller queues ch */
    np = (size_t)((ch->nrows + SQL_CHUNK_ROWS - 1) / SQL_CHUNK_ROWS);
    if (!(pieces = calloc(np, sizeof(*pieces))))
        goto out;
    for (uint64_t r = 0; r < ch->nrows;) {
        struct sql_chunk *p = sql_chunk_new(ch->table);
        if (!p)
            goto out;
        pieces[r / SQL_CHUNK_ROWS] = p;
        p->recover = ch->recover;
        p->t_min = ch->t_min;
        p->t_max = ch->t_max;
        for (; r < ch->nrows && p->nrows < SQL_CHUNK_ROWS; r++) {
            const struct srow *w = &rows[ord[r].row];
            if (sql_chunk_add_raw(p, ch->data + w->roff, w->rlen) < 0)
                goto out;
            p->nrows++;
        }
    }
    for (size_t i = 0; i < np; i++) {
        sql_queue_chunk(c, pieces[i]);
        pieces[i] = NULL;
    }
    sql_chunk_free(ch);
    rc = 0;
out:
    if (pieces)
        for (size_t i = 0; i < np; i++)
            if (pieces[i])
                sql_chunk_free(pieces[i]);
    free(pieces);
    free(k.p);
    free(rows);
    free(ord);
    return rc;
}
