/*
 * sql.h - the shared SQL output layer (libpmsql, a convenience library
 * linked into the sqlite3, pgsql and mysql modules).  The layer owns the
 * configuration keys common to pmacct's SQL plugins, the schema model
 * (sql_table_version 1..9, sql_table_type original/bgp), statement text,
 * the purge (aggregates -> rows of text values), a bounded spool of rows
 * waiting for the database and the writer thread.  A backend supplies a
 * few callbacks (connect, exec, prepare, run, ...) with values always
 * passed as bound parameters.
 *
 * Threads: sql_process/tick/flush run on the pipeline thread; the writer
 * thread only sees chunks handed over through the spool (mutex + condvar)
 * and the backend connection (owned by the writer thread alone).
 */
#ifndef PMACCT_MODULES_SQL_H
#define PMACCT_MODULES_SQL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

/* Every key of every SQL module lives in this one struct. */
struct sql_config {
    char *host;            /* sql_host */
    uint64_t port;         /* sql_port (0: library default) */
    char *user;            /* sql_user */
    char *passwd;          /* sql_passwd (SECRET) */
    char *db;              /* sql_db */
    char *table;           /* sql_table */
    char *table_schema;    /* sql_table_schema */
    uint64_t table_version; /* sql_table_version */
    int table_type;        /* sql_table_type: original|bgp */
    char *history;         /* sql_history */
    char *history_roundoff; /* sql_history_roundoff */
    int64_t history_offset; /* sql_history_offset */
    uint64_t refresh_time; /* sql_refresh_time */
    uint64_t cache_entries; /* sql_cache_entries */
    int dont_try_update;   /* sql_dont_try_update */
    int use_copy;          /* sql_use_copy (pgsql) */
    uint64_t multi_values; /* sql_multi_values (mysql, bytes) */
    int locking_style;     /* sql_locking_style: table|row|none */
    uint64_t startup_delay; /* sql_startup_delay */
    uint64_t max_writers;  /* sql_max_writers (compat) */
    char *backup_host;     /* sql_backup_host */
    char *trigger_exec;    /* sql_trigger_exec */
    char *trigger_time;    /* sql_trigger_time */
    char *preprocess;      /* sql_preprocess */
    int preprocess_type;   /* sql_preprocess_type: any|all */
    int optimize_clauses;  /* sql_optimize_clauses */
    char *conn_ca_file;    /* sql_conn_ca_file */
    int num_protos;        /* sql_num_protos */
    char *spool_dir;       /* sql_spool_dir (ours) */
    uint64_t spool_entries; /* sql_spool_entries (ours) */
    uint64_t retry_max;    /* sql_retry_max (ours): backoff cap, seconds */
    uint64_t drain_timeout; /* sql_drain_timeout (ours): at shutdown */
    char *delimiter;       /* sql_delimiter (pgsql COPY) */
    int sort_rows;         /* sql_sort_rows (ours) */
};

#define SQLCFG(f) offsetof(struct sql_config, f)

/* sql_locking_style values (PM_OPT_ENUM index) */
#define SQL_LOCK_TABLE 0
#define SQL_LOCK_ROW 1
#define SQL_LOCK_NONE 2

/* The common keys; each module's table is SQL_COMMON_OPTIONS followed by
 * its own entries and PM_OPTION_END.  `dflt_port` is the backend's port. */
#define SQL_COMMON_OPTIONS(dflt_host)                                          \
    {"sql_host", PM_OPT_STR, 0, SQLCFG(host), dflt_host, "host|path",         \
     "database server (host name, address or UNIX socket directory)", 0},     \
        {"sql_port", PM_OPT_UINT, 0, SQLCFG(port), "0", "port",                \
         "database server port (0: the client library's default)", 0},         \
        {"sql_user", PM_OPT_STR, 0, SQLCFG(user), "pmacct", "name",            \
         "database user", 0},                                                  \
        {"sql_passwd", PM_OPT_STR, PM_OPTF_SECRET, SQLCFG(passwd),             \
         "arealsmartpwd", "password", "database password (never printed)", 0}, \
        {"sql_db", PM_OPT_STR, 0, SQLCFG(db), "pmacct", "name|path",           \
         "database name (sqlite3: the database file)", 0},                     \
        {"sql_table", PM_OPT_STR, 0, SQLCFG(table), NULL, "name",              \
         "table (strftime and $-variables); default acct, acct_vN, acct_bgp", \
         0},                                                                   \
        {"sql_table_schema", PM_OPT_PATH, 0, SQLCFG(table_schema), NULL,       \
         "path",                                                               \
         "CREATE TABLE script (same variables as sql_table) run when the "     \
         "table does not exist",                                               \
         0},                                                                   \
        {"sql_table_version", PM_OPT_UINT, 0, SQLCFG(table_version), "1",      \
         "1-9", "pmacct table schema version", 'v'},                           \
        {"sql_table_type", PM_OPT_ENUM, 0, SQLCFG(table_type), "original",     \
         "original|bgp", "pmacct table schema type", 0},                       \
        {"sql_history", PM_OPT_STR, 0, SQLCFG(history), NULL,                  \
         "#[s|m|h|d|w|M]", "time bin length (stamp_inserted)", 0},             \
        {"sql_history_roundoff", PM_OPT_STR, 0, SQLCFG(history_roundoff),      \
         NULL, "m|h|d|w|M", "align time bins", 0},                             \
        {"sql_history_offset", PM_OPT_INT, 0, SQLCFG(history_offset), "0",     \
         "seconds", "offset of time bin starts", 0},                           \
        {"sql_refresh_time", PM_OPT_UINT, 0, SQLCFG(refresh_time), "60",       \
         "seconds", "seconds between purges to the database", 'r'},            \
        {"sql_cache_entries", PM_OPT_UINT, 0, SQLCFG(cache_entries), "32771",  \
         "buckets",                                                            \
         "cache size (pmacct buckets, about 10 aggregates each): a full "      \
         "cache is purged early",                                              \
         0},                                                                   \
        {"sql_dont_try_update", PM_OPT_BOOL, 0, SQLCFG(dont_try_update),       \
         "false", NULL, "INSERT only, never UPDATE first", 0},                 \
        {"sql_locking_style", PM_OPT_ENUM, 0, SQLCFG(locking_style), "table",  \
         "table|row|none", "lock taken by each purge transaction", 0},         \
        {"sql_startup_delay", PM_OPT_UINT, 0, SQLCFG(startup_delay), "0",      \
         "seconds", "delay the first purge (and so every one) by this", 0},    \
        {"sql_max_writers", PM_OPT_UINT, PM_OPTF_COMPAT, SQLCFG(max_writers),  \
         "10", "count",                                                        \
         "accepted and ignored: one writer thread per instance, rows wait in " \
         "a bounded spool",                                                    \
         0},                                                                   \
        {"sql_backup_host", PM_OPT_STR, 0, SQLCFG(backup_host), NULL, "host",  \
         "server tried when sql_host is unreachable (sqlite3: a file); "      \
         "with sql_preprocess recover=N, where filtered aggregates go",        \
         0},                                                                   \
        {"sql_recovery_backup_host", PM_OPT_STR, 0, SQLCFG(backup_host), NULL, \
         "host", "the same as sql_backup_host (pmacct's other name)", 0},     \
        {"sql_trigger_exec", PM_OPT_PATH, 0, SQLCFG(trigger_exec), NULL,       \
         "path",                                                               \
         "executable started after purges (table and time window in its "      \
         "environment)",                                                       \
         0},                                                                   \
        {"sql_trigger_time", PM_OPT_STR, 0, SQLCFG(trigger_time), NULL,        \
         "#[s|m|h|d|w]",                                                       \
         "run sql_trigger_exec at this interval instead of after each purge",  \
         0},                                                                   \
        {"sql_preprocess", PM_OPT_LIST, 0, SQLCFG(preprocess), NULL,           \
         "minp=N,minb=N,...", "checks and actions applied to aggregates at "   \
                              "purge time",                                    \
         0},                                                                   \
        {"sql_preprocess_type", PM_OPT_ENUM, 0, SQLCFG(preprocess_type),       \
         "any", "any|all",                                                     \
         "whether one or all sql_preprocess checks must pass", 0},             \
        {"sql_optimize_clauses", PM_OPT_BOOL, 0, SQLCFG(optimize_clauses),     \
         "false", NULL,                                                        \
         "write only the aggregated primitives' columns (custom schemas)", 0}, \
        {"sql_conn_ca_file", PM_OPT_PATH, 0, SQLCFG(conn_ca_file), NULL,       \
         "path", "CA certificates: TLS to the server, verified", 0},           \
        {"sql_num_protos", PM_OPT_BOOL, 0, SQLCFG(num_protos), "false", NULL,  \
         "write IP protocols as numbers", 0},                                  \
        {"sql_spool_dir", PM_OPT_PATH, 0, SQLCFG(spool_dir), NULL, "dir",      \
         "(ours) rows beyond sql_spool_entries wait in a file here while "     \
         "the database is away",                                               \
         0},                                                                   \
        {"sql_spool_entries", PM_OPT_UINT, 0, SQLCFG(spool_entries),           \
         "1000000", "rows",                                                    \
         "(ours) rows kept in memory while the database is away; beyond, "     \
         "sql_spool_dir or counted as dropped",                                \
         0},                                                                   \
        {"sql_retry_max", PM_OPT_UINT, 0, SQLCFG(retry_max), "30", "seconds",  \
         "(ours) longest wait between reconnection attempts", 0},              \
        {"sql_drain_timeout", PM_OPT_UINT, 0, SQLCFG(drain_timeout), "30",     \
         "seconds",                                                            \
         "(ours) how long shutdown waits for pending rows to be written", 0},  \
        {"sql_sort_rows", PM_OPT_BOOL, 0, SQLCFG(sort_rows), "true", NULL,     \
         "(ours) write each purge's rows in primary-key order (faster index "  \
         "inserts); false: cache order, the writer starting during the purge", \
         0}

/* ---- backend interface -------------------------------------------------- */

/* Errors returned by backend calls. */
#define SQL_E_CONN (-1) /* connection lost / unusable: retry later */
#define SQL_E_DATA (-2) /* statement refused (constraint, type...) */
#define SQL_E_DUP (-3)  /* unique violation on INSERT */
#define SQL_BULK_NOT_NOW 1 /* bulk_chunk: use bulk_begin/row/end instead */

enum sql_stmt {
    SQL_ST_UPDATE = 0,
    SQL_ST_INSERT = 1,
    SQL_ST_MAX = 2,
};

struct sql_col;

struct sql_same;
struct sql_chunk;

struct sql_backend {
    const char *name;
    /* placeholder style: '?' (sqlite3, mysql) or '$' ($1, $2: pgsql) */
    char placeholder;
    /* flags: column naming and value forms */
    uint32_t flags;
    /* allocate the backend state (writer thread) */
    void *(*open)(const struct pm_host *host, const struct pm_instance *inst,
                  const struct sql_config *cfg);
    /* connect to `host` (cfg->host or cfg->backup_host); 0 or SQL_E_* with
     * a message in err */
    int (*connect)(void *b, const char *host, char *err, size_t errlen);
    void (*disconnect)(void *b);
    /* run a statement without parameters (BEGIN, COMMIT, CREATE ...) */
    int (*exec)(void *b, const char *sql, char *err, size_t errlen);
    /* 1 when the table exists, 0 when not, SQL_E_* */
    int (*table_exists)(void *b, const char *table, char *err, size_t errlen);
    /* prepare statement `slot` (cache it; re-prepared after reconnects) */
    int (*prepare)(void *b, int slot, const char *sql, int nparams, char *err,
                   size_t errlen);
    /* run prepared `slot` with n text values (NULL = SQL NULL); *changed =
     * rows affected */
    int (*run)(void *b, int slot, const char *const *vals, const int *lens,
               int n, uint64_t *changed, char *err, size_t errlen);
    /* forget prepared statements (the table name changed) */
    void (*unprepare)(void *b);
    void (*close)(void *b);
    /* optional bulk INSERT path (pgsql COPY, mysql multi-values), used for
     * the rows to INSERT when bulk_on() says so: bulk_begin once per
     * transaction, bulk_row per row (values as for run()), bulk_end sends
     * what is buffered and reports rows stored in *written (written NULL:
     * abort, discard what is buffered). */
    int (*bulk_on)(const struct sql_config *cfg);
    /* same (NULL: none known): the columns with one value in every row of
     * the transaction, which the backend may send once (mysql LOAD DATA
     * ... SET) instead of in each row; bulk_row still gets every value */
    int (*bulk_begin)(void *b, const char *table, const struct sql_col *cols,
                      int ncols, const struct sql_same *same, char *err,
                      size_t errlen);
    int (*bulk_row)(void *b, const char *const *vals, const int *lens, int n,
                    char *err, size_t errlen);
    int (*bulk_end)(void *b, uint64_t *written, char *err, size_t errlen);
    /* optional, used instead of bulk_begin/row/end when every row of a
     * chunk is to be inserted (sql_dont_try_update): the chunk's rows in
     * one statement, which the backend may stream from the chunk as the
     * server reads them (mysql LOAD DATA LOCAL: the server parses while
     * the next lines are written); *written = rows stored.  0, SQL_E_*,
     * or SQL_BULK_NOT_NOW: not possible at the moment, use bulk_begin. */
    int (*bulk_chunk)(void *b, const char *table, const struct sql_col *cols,
                      int ncols, const struct sql_same *same,
                      const struct sql_chunk *ch, uint64_t *written,
                      char *err, size_t errlen);
    /* optional: sql_locking_style table, called right after BEGIN; the
     * backend releases the lock with COMMIT/ROLLBACK (exec). */
    int (*lock_table)(void *b, const char *table, char *err, size_t errlen);
    /* optional: run prepared `slot` for nrows rows (n values each, row-major
     * in vals/lens) with fewer round trips; changed[i] = rows affected by
     * row i.  Stops at the first error (SQL_E_*). */
    int (*run_many)(void *b, int slot, int nrows, const char *const *vals,
                    const int *lens, int n, uint64_t *changed, char *err,
                    size_t errlen);
};

#define SQL_BF_PORTS_NEW 0x01u  /* port_src/port_dst at every version (pgsql) */
#define SQL_BF_NUM_PROTO 0x02u  /* ip_proto as a number (pgsql SMALLINT) */
#define SQL_BF_BGP_NO_FLOWS 0x04u /* bgp v1 table has no flows column */
#define SQL_BF_TYPED_ORDER 0x08u /* addresses/MACs in typed columns (pgsql
                                    inet, macaddr): sorted as bytes */

/* ---- schema model -------------------------------------------------------- */

#define SQL_MAX_COLS 128

/* Special columns (not primitives). */
enum {
    SQL_COL_PRIM = 0,
    SQL_COL_PACKETS,
    SQL_COL_BYTES,
    SQL_COL_FLOWS,
    SQL_COL_STAMP_INSERTED,
    SQL_COL_STAMP_UPDATED,
};

struct sql_col {
    char name[32];
    int kind;      /* SQL_COL_* */
    int prim;      /* primitive id (kind PRIM) */
    int half;      /* coords: 0 lat, 1 lon */
    int aggregated; /* primitive is in the aggregate set */
};

/* The columns a (backend, version, type, aggregate, optimize) writes.
 * Key columns first (in schema order), then packets, bytes, [flows],
 * [stamp_inserted, stamp_updated].  Returns the count or -EINVAL with a
 * message in err. */
int sql_schema_columns(const struct pm_host *host, uint32_t bflags,
                       unsigned version, int bgp, int optimize, int history,
                       const struct pm_instance *inst, struct sql_col *cols,
                       int maxcols, char *err, size_t errlen);
/* Default table name: acct, acct_vN, acct_bgp. */
void sql_default_table(unsigned version, int bgp, char *out, size_t outlen);
/* UPDATE / INSERT text for `table` over cols. */
int sql_build_update(const struct sql_col *cols, int ncols, const char *table,
                     char ph, char *out, size_t outlen);
int sql_build_insert(const struct sql_col *cols, int ncols, const char *table,
                     char ph, char *out, size_t outlen);
/* Parameter order of the UPDATE: counters, stamp_updated, keys..., stamp_inserted.
 * map[i] = index into the row's values for parameter i; returns count. */
int sql_update_params(const struct sql_col *cols, int ncols, int *map);

/* ---- spool --------------------------------------------------------------- */

/* A chunk: rows of one table, values serialised as (u32 len, bytes), len
 * UINT32_MAX for NULL, ncols values per row. */
/* Columns whose value is the same in every row of a chunk, known from how
 * the purge built it (sql_col_same): is[i] set, vals[i]/lens[i] that value
 * (vals[i] NULL: SQL NULL). */
struct sql_same {
    unsigned char is[SQL_MAX_COLS];
    const char *vals[SQL_MAX_COLS];
    int lens[SQL_MAX_COLS];
    int n; /* how many are set */
};

struct sql_chunk {
    struct sql_chunk *next;
    char *table;
    uint64_t nrows;
    uint64_t t_min, t_max; /* time window (stamp_inserted) */
    uint64_t stamp_updated;
    char *data;
    size_t len, cap;
    int recover; /* filtered aggregates for sql_backup_host (recover=N) */
    /* the other half of a two-thread walk (same table and destination),
     * sorted with this chunk and owned by it; sql_queue_chunk queues it
     * on its own */
    struct sql_chunk *second;
    int on_disk; /* payload was spilled to a file (data freed) */
    char *path;
};

struct sql_spool {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* writer waits for work */
    pthread_cond_t drained;  /* flush waits for an empty spool */
    struct sql_chunk *head, *tail;
    uint64_t rows;           /* rows held (memory + disk) */
    uint64_t mem_rows;       /* rows held in memory */
    uint64_t max_rows;       /* memory bound */
    const char *dir;         /* disk spill dir or NULL */
    uint64_t seq;
    int stop;
    int busy; /* writer holds head */
};

int sql_spool_init(struct sql_spool *s, uint64_t max_rows, const char *dir);
void sql_spool_destroy(struct sql_spool *s);
/* Append a chunk; 0, or -ENOSPC when it does not fit (caller counts drops) */
int sql_spool_push(struct sql_spool *s, struct sql_chunk *c);
/* Peek the head chunk, loading it from disk if needed (writer thread). */
struct sql_chunk *sql_spool_peek(struct sql_spool *s);
/* Remove the head (after its transaction committed). */
void sql_spool_pop(struct sql_spool *s);
uint64_t sql_spool_rows(struct sql_spool *s);

struct sql_chunk *sql_chunk_new(const char *table);
void sql_chunk_free(struct sql_chunk *c);
int sql_chunk_add(struct sql_chunk *c, const char *v, size_t len);
int sql_chunk_add_null(struct sql_chunk *c);
/* Append bytes already serialised (whole rows of another chunk). */
int sql_chunk_add_raw(struct sql_chunk *c, const char *p, size_t len);
/* Iterate values: *pos starts at 0; returns 1 with v/len, 0 at end. */
int sql_chunk_next(const struct sql_chunk *c, size_t *pos, const char **v,
                   int *len);

/* ---- the output instance ------------------------------------------------- */

struct sql_ctx;

int sql_init(const struct pm_host *host, const struct pm_instance *inst,
             struct sql_config *cfg, const struct sql_backend *be,
             void **ctxp);
int sql_start(void *ctx);
int sql_process(void *ctx, struct pm_batch *b);
int sql_tick(void *ctx, const pm_ts_t *now);
int sql_flush(void *ctx, int reason);
void sql_stop(void *ctx);
void sql_fini(void *ctx);

/* Time text 'YYYY-MM-DD HH:MM:SS' (local time). */
void sql_time_text(uint64_t t, char *out, size_t outlen);

/* textrow.c: one row of delimited text (COPY, LOAD DATA): values joined by
 * delim, NULL as \N, a byte ch with esc[ch] != 0 written as '\\' esc[ch],
 * ended by a newline; o must hold sql_text_row_max() bytes.  Returns the
 * end. */
size_t sql_text_row_max(const char *const *vals, const int *lens, int n);
char *sql_text_row(char *o, const char *const *vals, const int *lens, int n,
                   char delim, const char esc[256]);
/* Dotted-quad IPv4 text as inet_pton(AF_INET) takes it (four decimal
 * parts, 0-255, no leading zeros) into 4 bytes; -1 when it is not one. */
int sql_ip4_parse(const char *v, int len, unsigned char *out);
/* "x:x:x:x:x:x" (1 or 2 hex digits each) into 6 bytes; 0 or -1. */
int sql_mac_parse(const char *v, int len, unsigned char *out);

#endif
