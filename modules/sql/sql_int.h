/*
 * sql_int.h - private to libpmsql: the output instance shared by sql.c
 * (pipeline thread: cache, purge, trigger) and writer.c (writer thread:
 * backend connection, transactions).  They share only the spool (its
 * mutex) and atomic counters; everything else below is owned by one side
 * as marked.
 */
#ifndef PMACCT_MODULES_SQL_INT_H
#define PMACCT_MODULES_SQL_INT_H

#include <sys/types.h>

#include "sql.h"

/* One database connection of the writer thread: `main` (sql_host, or
 * sql_backup_host while sql_host is unreachable) and `rec` (sql_backup_host
 * alone: aggregates sql_preprocess filtered with recover=1). */
struct sql_link {
    void *b; /* backend state */
    int connected;
    int on_backup; /* main: connected to sql_backup_host */
    int prepared;
    char cur_table[256];
    char **known_tables; /* tables seen to exist (sql_table_schema) */
    size_t nknown;
};

/* A column whose text and sort key are made from the record (reckey.c):
 * where its value is in struct pm_rec, and its type (SQL_RK_*). */
enum sql_rk_type {
    SQL_RK_IP, SQL_RK_MAC, SQL_RK_U8, SQL_RK_U16, SQL_RK_U32, SQL_RK_U64,
    SQL_RK_PROTO
};
struct sql_reckey {
    const struct sql_col *col;
    size_t off;
    int type;
};

/* What one thread's walk of the cache uses (purge.c): the instance has
 * SQL_WALKERS of them, w[0] for the pipeline thread, w[1] for the helper
 * of a two-thread walk. */
#define SQL_WALKERS 2
struct sql_walker {
    struct sql_ctx *c;
    struct pm_render *rend[PM_P_MAX]; /* one-column CSV renderers */
    struct pm_buf vbuf;
    struct pm_render *frend; /* the fast columns in one call (fast_init) */
    struct pm_buf fbuf;
    const char *fv[SQL_MAX_COLS]; /* this row's fast values */
    size_t fl[SQL_MAX_COLS];
    int fok; /* this row's fast values are split */
    char proto_text[256][16]; /* protocols' text, rendered once (reckey.c) */
    unsigned char proto_len[256]; /* 0: not yet */
    struct sql_chunk **pchunks; /* the walk's chunks */
    size_t npchunks, cappchunks;
    uint64_t ins_t; /* last stamp_inserted seen and its text */
    char ins_text[32];
    size_t ins_len;
    int walk_err;
    int rc; /* helper: its walk's result */
};

struct sql_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct sql_config *cfg;
    const struct sql_backend *be;
    struct pm_cache *cache;
    struct sql_walker w[SQL_WALKERS];
    /* fast path: the aggregated primitives whose text never holds the
     * separator rendered in one call per row (fcol[i]: field index of
     * column i or -1) */
    int fcol[SQL_MAX_COLS];
    int nfast;
    /* columns whose text and key are made from the record (reckey.c):
     * rk[i] when rkok[i] */
    struct sql_reckey rk[SQL_MAX_COLS];
    int rkok[SQL_MAX_COLS];
    struct sql_col cols[SQL_MAX_COLS];
    int ncols;
    int history;
    char table_default[64];
    int table_static; /* sql_table has no % or $ */
    char *schema_text;
    uint64_t refresh, next_purge, max_aggr;
    /* purge under way */
    uint64_t stamp_updated;
    char upd_text[32];   /* stamp_updated as text */
    size_t upd_len;
    const char *zero[SQL_MAX_COLS]; /* columns not aggregated: their text */
    size_t zero_len[SQL_MAX_COLS];
    uint64_t queued;     /* rows queued by this purge */
    /* preprocess */
    struct pm_preproc *pp; /* sql_preprocess (NULL: none) */
    struct pm_preproc *pp_acts; /* its actions alone (qnum not reached) */
    uint64_t pp_qnum, pp_fsrc;
    double pp_fss;
    int pp_recover; /* recover=N: filtered aggregates to sql_backup_host */
    int pp_checks; /* this purge: qnum reached */
    double pp_z;   /* this purge: sampling threshold (0: none) */
    double *pp_x;  /* fsrc: sizes of the purge's aggregates */
    size_t pp_nx;
    uint64_t rng;
    /* trigger */
    uint64_t trigger_every, next_trigger;
    pid_t children[16];
    int nchildren;
    uint64_t last_t_min, last_t_max;
    char last_table[256];
    /* writer */
    struct sql_spool spool;
    pthread_t writer;
    int writer_started;
    struct sql_link main, rec; /* rec.b NULL: no recovery */
    int bulk; /* INSERTs through the backend's bulk path */
    uint64_t *c_pending, *c_written, *c_dropped, *c_purges, *c_errors,
        *c_txn, *c_filtered, *c_reconnects, *c_recovered;
};

/* Rows per chunk (transaction): a bigger purge is queued in pieces. */
#define SQL_CHUNK_ROWS 50000
/* A sorted purge's pieces grow from SQL_FIRST_PIECE rows, doubling up to
 * SQL_CHUNK_ROWS: the writer starts on a small first piece while the next
 * ones are sorted. */
#define SQL_FIRST_PIECE 8192
static inline size_t sql_piece_rows(unsigned k)
{
    return k >= 3 ? SQL_CHUNK_ROWS : (size_t)SQL_FIRST_PIECE << k;
}
/* Whether column i holds one value in every row of ch, by how the purge
 * fills it: a column not aggregated is its constant text (c->zero, set at
 * init), stamp_updated is the purge's, stamp_inserted one bin when
 * [t_min, t_max] is one.  A chunk holds rows of one purge; a piece of it
 * (sort.c) keeps its window, so what holds for the chunk holds for the
 * piece.  Reads only what init set: safe from the writer thread. */
static inline int sql_col_same(const struct sql_ctx *c,
                               const struct sql_chunk *ch, int i)
{
    int k = c->cols[i].kind;
    return (k == SQL_COL_PRIM && c->zero[i]) || k == SQL_COL_STAMP_UPDATED ||
           (k == SQL_COL_STAMP_INSERTED && ch->t_min == ch->t_max);
}
/* reckey.c: values' text from the record, for the primitives it knows,
 * as the host's CSV renderer writes it.  The columns of c it can do
 * (c->rk, c->rkok; at init) */
void sql_reckey_init(struct sql_ctx *c);
/* Text of k's column of row into t (SQL_RECTEXT_MAX bytes): its length,
 * or -1 when it must come from the renderer (sql_prim_text). */
#define SQL_RECTEXT_MAX 64
/* Decimal digits of v into t (20 bytes at most, no NUL); their count. */
int sql_num_text(char *t, uint64_t v);
int sql_rectext(struct sql_walker *w, const struct sql_reckey *k,
                const struct pm_row *row, char *t);

/* Rows per run_many call (pipelined statements). */
#define SQL_GROUP 512

/* preproc.c: sql_preprocess (host checks + qnum, fss, fsrc) */
int sql_pp_init(struct sql_ctx *c, const char *text, int all, char *err,
                size_t errlen);
void sql_pp_fini(struct sql_ctx *c);
int sql_pp_begin(struct sql_ctx *c, uint64_t total);
/* 0: write it (counters maybe adjusted); SQL_PP_DROP: drop it;
 * SQL_PP_RECOVER: filtered, to be written to sql_backup_host (recover=N;
 * the actions usrf/adjb applied) */
#define SQL_PP_DROP 1
#define SQL_PP_RECOVER 2
int sql_pp_apply(struct sql_ctx *c, struct pm_row *row);
double sql_pp_fsrc_threshold(double *x, size_t m, uint64_t n);

/* purge.c: hand a finished chunk to the writer (or count its rows
 * dropped); the purge; the one-call renderers (at init); freeing */
void sql_queue_chunk(struct sql_ctx *c, struct sql_chunk *ch);
int sql_purge(struct sql_ctx *c);
/* Text of aggregated primitive col of row (w's renderers and buffer). */
int sql_prim_text(struct sql_walker *w, const struct sql_col *col,
                  const struct pm_row *row, const char **v, size_t *len);
/* Row's values as text at the end of ch; -ENOMEM with ch as it was. */
int sql_row_text(struct sql_walker *w, struct sql_chunk *ch,
                 const struct pm_row *row);
int sql_fast_init(struct sql_ctx *c);
void sql_walkers_free(struct sql_ctx *c);
/* sql.c: run sql_trigger_exec for the last purge */
void sql_trigger_run(struct sql_ctx *c);
/* sort.c: queue ch's rows (and its second's) in primary-key order, in
 * pieces (sql_piece_rows), and free ch; < 0: ch left to the caller with
 * the rows not queued */
int sql_sort_queue(struct sql_ctx *c, struct sql_chunk *ch);
/* defer.c: the purge sorted by keys taken from the records, each row
 * rendered in key order.  0: every aggregate queued (or counted
 * dropped); 1: not taken (the purge walks and renders as before);
 * nothing is queued then. */
int sql_defer_purge(struct sql_ctx *c, uint64_t total);

/* The writer thread's body (arg: struct sql_ctx *). */
void *sql_writer_main(void *arg);

#endif
