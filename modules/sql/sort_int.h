/*
 * sort_int.h - private to libpmsql: the sort of a purge's rows in primary-
 * key order, shared by sort.c (rows rendered, then sorted) and defer.c
 * (keys taken from the records, rows rendered in key order).
 */
#ifndef PMACCT_MODULES_SQL_SORT_INT_H
#define PMACCT_MODULES_SQL_SORT_INT_H

#include "sql_int.h"

/* A row to sort: its key in a key buffer (koff, klen); sort.c: its text
 * in its chunk (roff, rlen). */
struct srow {
    size_t koff, roff;
    uint32_t klen, rlen;
};

struct kbuf {
    unsigned char *p;
    size_t len, cap;
};

/* What is sorted: the first PFX bytes of the key inline, as two
 * big-endian words (compared as integers: the order of memcmp; most
 * comparisons end there), the row's index for the rest. */
#define PFX 16
struct sent {
    uint64_t p0, p1;
    uint32_t row;
    uint32_t ref; /* defer.c: the row's cache ref (in the padding) */
};

/* The keys of rows [0, split) are in keys, of the others in keys2 (the
 * two threads' buffers, not copied together). */
struct sctx {
    const unsigned char *keys, *keys2;
    const struct srow *rows;
    uint32_t split;
};

/* Room for n more bytes in k. */
int sql_kreserve(struct kbuf *k, size_t n);
/* What sql_key_put writes at most for a value of len bytes. */
size_t sql_key_room(int len);
/* The sort key of one value's text at o; returns the end.  Per value: a
 * class byte (0 NULL, 1 typed address or MAC, 2 number, 3 text), then
 * the bytes that order it; typed: SQL_BF_TYPED_ORDER. */
unsigned char *sql_key_put(unsigned char *o, const char *v, int len,
                           int typed);
/* e: the prefix of key k (klen bytes) and row. */
void sql_key_prefix(struct sent *e, const unsigned char *k, uint32_t klen,
                    uint32_t row);
/* Sort a[0..n) by key. */
void sql_sort_ents(struct sent *a, size_t n, const struct sctx *s);
/* Split ord into up to 65536 buckets in key order (see sort.c). */
unsigned sql_bucketize(struct sent *ord, size_t n, size_t **startp);

/* reckey.c: sort keys from the records.  The key columns of c
 * (aggregated primitives, schema order) into k: their count, or -1 when
 * one of them is not made from the record (c->rkok). */
int sql_reckey_cols(const struct sql_ctx *c, struct sql_reckey *k);
/* Most bytes sql_reckey_put writes for k's column. */
size_t sql_reckey_room(const struct sql_reckey *k, int typed);
/* The key of k's column of row at o (sql_reckey_room bytes free): the
 * bytes sql_key_put writes for the text the host renders; returns the
 * end, or NULL when that text could not be had (no memory). */
unsigned char *sql_reckey_put(struct sql_walker *w, const struct sql_reckey *k,
                              const struct pm_row *row, unsigned char *o,
                              int typed);

#endif
