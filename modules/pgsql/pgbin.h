/*
 * pgbin.h - binary COPY encoding for the pgsql output (pgbin.c).
 * Threads: writer thread only.
 */
#ifndef PMACCT_MODULES_PGBIN_H
#define PMACCT_MODULES_PGBIN_H

#include <stddef.h>

#include <libpq-fe.h>

#include "../sql/sql.h"

enum {
    PGB_TEXT = 0,
    PGB_INT2,
    PGB_INT4,
    PGB_INT8,
    PGB_INET,
    PGB_CIDR,
    PGB_MAC,
    PGB_TS
};

/* kinds[i] = PGB_* of cols[i] in `table` (asked from the catalog); 0, or -1
 * when a column's type is not one of them (or the query failed). */
int pgbin_types(PGconn *conn, const char *table, const struct sql_col *cols,
                int ncols, int *kinds);
/* Upper bound of one encoded row. */
size_t pgbin_row_max(const int *lens, const char *const *vals, int n);
/* Encode one row (field count, then length + bytes per value) at o:
 * returns its length, or -1 with the column and value in err. */
/* Fields encoded once for a whole COPY (columns one value in every row):
 * len[i] > 0: column i's field (length + bytes) is at buf + off[i]. */
struct pgbin_pre {
    unsigned char *buf;
    size_t cap;
    int off[SQL_MAX_COLS], len[SQL_MAX_COLS];
};
/* Encode one row (field count, then length + bytes per value) at o, the
 * fields of pre (may be NULL) copied as they are: returns its length, or
 * -1 with the column and value in err. */
int pgbin_row(unsigned char *o, const int *kinds, const struct sql_col *cols,
              const char *const *vals, const int *lens, int n,
              const struct pgbin_pre *pre, char *err, size_t errlen);
/* pre's fields for the columns of same that encode (the others are left
 * to pgbin_row); pre->len all 0 when same is NULL.  -1: no memory. */
int pgbin_pre_set(struct pgbin_pre *pre, const int *kinds,
                  const struct sql_col *cols, int n,
                  const struct sql_same *same);

#endif
