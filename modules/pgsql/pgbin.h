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
int pgbin_row(unsigned char *o, const int *kinds, const struct sql_col *cols,
              const char *const *vals, const int *lens, int n, char *err,
              size_t errlen);

#endif
