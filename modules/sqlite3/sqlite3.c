/*
 * sqlite3.c - the `sqlite3` output: pmacct's SQLite plugin on the shared
 * SQL layer (modules/sql/).  sql_db is the database file (sql_backup_host
 * an alternate file, as in pmacct).  Values are
 * bound with sqlite3_bind_text to prepared statements.  A busy/locked
 * database is treated as "away": the rows stay spooled and are retried.
 * The connection is opened NOMUTEX (only the writer thread uses it).
 * sql_multi_values N: the rows to INSERT go as multi-row INSERT statements
 * of at most N bytes, values as SQL literals ('' doubled; a value holding
 * a NUL byte as CAST(X'hex' AS TEXT)).
 *
 * Threads: the backend state is used by the writer thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../sql/sql.h"

struct lite {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const struct sql_config *cfg;
    sqlite3 *db;
    sqlite3_stmt *st[SQL_ST_MAX];
    /* sql_multi_values: "INSERT INTO t (cols) VALUES (..),(..)" */
    char *mbuf;
    size_t mlen, mcap, mhead;
    uint64_t mrows, mwritten;
};

static int lite_err(struct lite *l, int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
        return SQL_E_CONN;
    case SQLITE_CONSTRAINT:
        return SQL_E_DUP;
    default:
        return SQL_E_DATA;
    }
}

static void *lite_open(const struct pm_host *host, const struct pm_instance *inst,
                       const struct sql_config *cfg)
{
    struct lite *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->host = host;
    l->inst = inst;
    l->cfg = cfg;
    return l;
}

static void lite_unprepare(void *b)
{
    struct lite *l = b;
    for (int i = 0; i < SQL_ST_MAX; i++) {
        if (l->st[i])
            sqlite3_finalize(l->st[i]);
        l->st[i] = NULL;
    }
}

static void lite_disconnect(void *b)
{
    struct lite *l = b;
    lite_unprepare(l);
    if (l->db)
        sqlite3_close(l->db);
    l->db = NULL;
}

static int lite_connect(void *b, const char *host, char *err, size_t errlen)
{
    struct lite *l = b;
    /* pmacct's default file when sql_db is not set */
    const char *path = l->cfg->db && strcmp(l->cfg->db, "pmacct")
                           ? l->cfg->db
                           : "/tmp/pmacct.db";
    /* sql_backup_host is an alternate database file (as pmacct's) */
    if (host && l->cfg->backup_host && !strcmp(host, l->cfg->backup_host) &&
        (!l->cfg->host || strcmp(host, l->cfg->host)))
        path = host;
    int rc = sqlite3_open_v2(path, &l->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path,
                 l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
        lite_disconnect(l);
        return SQL_E_CONN;
    }
    sqlite3_busy_timeout(l->db, 100);
    /* a 64 MiB page cache (default 2 MiB): big purges otherwise re-read
     * index pages from the file; durability settings are left alone */
    sqlite3_exec(l->db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
    return 0;
}

static int lite_exec(void *b, const char *sql, char *err, size_t errlen)
{
    struct lite *l = b;
    int rc;
    if (!l->db)
        return SQL_E_CONN;
    if (!strcmp(sql, "BEGIN"))
        sql = "BEGIN IMMEDIATE";
    rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return lite_err(l, rc, err, errlen);
    return 0;
}

static int lite_table_exists(void *b, const char *table, char *err,
                             size_t errlen)
{
    struct lite *l = b;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        l->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1,
        &st, NULL);
    if (rc != SQLITE_OK)
        return lite_err(l, rc, err, errlen);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return lite_err(l, rc, err, errlen);
}

static int lite_prepare(void *b, int slot, const char *sql, int nparams,
                        char *err, size_t errlen)
{
    struct lite *l = b;
    (void)nparams;
    if (l->st[slot])
        sqlite3_finalize(l->st[slot]);
    l->st[slot] = NULL;
    int rc = sqlite3_prepare_v2(l->db, sql, -1, &l->st[slot], NULL);
    if (rc != SQLITE_OK)
        return lite_err(l, rc, err, errlen);
    return 0;
}

static int lite_run(void *b, int slot, const char *const *vals, const int *lens,
                    int n, uint64_t *changed, char *err, size_t errlen)
{
    struct lite *l = b;
    sqlite3_stmt *st = l->st[slot];
    int rc;
    sqlite3_reset(st);
    for (int i = 0; i < n; i++) {
        if (vals[i])
            rc = sqlite3_bind_text(st, i + 1, vals[i], lens[i], SQLITE_STATIC);
        else
            rc = sqlite3_bind_null(st, i + 1);
        if (rc != SQLITE_OK)
            return lite_err(l, rc, err, errlen);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        int e = lite_err(l, rc, err, errlen);
        sqlite3_reset(st);
        return e;
    }
    *changed = (uint64_t)sqlite3_changes(l->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return 0;
}

static int lite_bulk_on(const struct sql_config *cfg)
{
    return cfg->multi_values > 0;
}

static int mgrow(struct lite *l, size_t need)
{
    if (need <= l->mcap)
        return 0;
    size_t nc = l->mcap ? l->mcap : 65536;
    while (nc < need)
        nc *= 2;
    char *q = realloc(l->mbuf, nc);
    if (!q)
        return -ENOMEM;
    l->mbuf = q;
    l->mcap = nc;
    return 0;
}

static int lite_bulk_begin(void *b, const char *table,
                           const struct sql_col *cols, int ncols,
                           const struct sql_same *same, char *err,
                           size_t errlen)
{
    (void)same; /* multi-row INSERT: every row has all its values */
    struct lite *l = b;
    if (mgrow(l, 64 + strlen(table) + (size_t)ncols * 40) < 0) {
        snprintf(err, errlen, "out of memory");
        return SQL_E_CONN;
    }
    l->mlen = (size_t)snprintf(l->mbuf, l->mcap, "INSERT INTO %s (", table);
    for (int i = 0; i < ncols; i++)
        l->mlen += (size_t)snprintf(l->mbuf + l->mlen, l->mcap - l->mlen,
                                    "%s%s", i ? ", " : "", cols[i].name);
    l->mlen += (size_t)snprintf(l->mbuf + l->mlen, l->mcap - l->mlen,
                                ") VALUES ");
    l->mhead = l->mlen;
    l->mrows = l->mwritten = 0;
    return 0;
}

static int lite_bulk_flush(struct lite *l, char *err, size_t errlen)
{
    if (!l->mrows)
        return 0;
    l->mbuf[l->mlen] = 0;
    int rc = sqlite3_exec(l->db, l->mbuf, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return lite_err(l, rc, err, errlen);
    l->mwritten += (uint64_t)sqlite3_changes(l->db);
    l->mlen = l->mhead;
    l->mrows = 0;
    return 0;
}

static int lite_bulk_row(void *b, const char *const *vals, const int *lens,
                         int n, char *err, size_t errlen)
{
    struct lite *l = b;
    size_t need = 4;
    for (int i = 0; i < n; i++)
        need += 24 + (vals[i] ? 2 * (size_t)lens[i] : 4);
    if (l->mrows && l->mlen + need > l->cfg->multi_values) {
        int rc = lite_bulk_flush(l, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (mgrow(l, l->mlen + need + 1) < 0) {
        snprintf(err, errlen, "out of memory");
        return SQL_E_CONN;
    }
    char *o = l->mbuf + l->mlen;
    if (l->mrows)
        *o++ = ',';
    *o++ = '(';
    for (int i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        if (!vals[i]) {
            memcpy(o, "NULL", 4);
            o += 4;
        } else if (memchr(vals[i], 0, (size_t)lens[i])) {
            static const char hx[] = "0123456789abcdef";
            o += sprintf(o, "CAST(X'");
            for (int k = 0; k < lens[i]; k++) {
                *o++ = hx[(unsigned char)vals[i][k] >> 4];
                *o++ = hx[(unsigned char)vals[i][k] & 15];
            }
            o += sprintf(o, "' AS TEXT)");
        } else {
            *o++ = '\'';
            for (int k = 0; k < lens[i]; k++) {
                if (vals[i][k] == '\'')
                    *o++ = '\'';
                *o++ = vals[i][k];
            }
            *o++ = '\'';
        }
    }
    *o++ = ')';
    l->mlen = (size_t)(o - l->mbuf);
    l->mrows++;
    return 0;
}

static int lite_bulk_end(void *b, uint64_t *written, char *err, size_t errlen)
{
    struct lite *l = b;
    if (!written) {
        l->mlen = l->mhead;
        l->mrows = 0;
        return 0;
    }
    int rc = lite_bulk_flush(l, err, errlen);
    *written = l->mwritten;
    return rc;
}

static void lite_close(void *b)
{
    struct lite *l = b;
    lite_disconnect(b);
    free(l->mbuf);
    free(b);
}

static const struct sql_backend lite_backend = {
    .name = "sqlite3",
    .placeholder = '?',
    .flags = 0,
    .open = lite_open,
    .connect = lite_connect,
    .disconnect = lite_disconnect,
    .exec = lite_exec,
    .table_exists = lite_table_exists,
    .prepare = lite_prepare,
    .run = lite_run,
    .unprepare = lite_unprepare,
    .close = lite_close,
    .bulk_on = lite_bulk_on,
    .bulk_begin = lite_bulk_begin,
    .bulk_row = lite_bulk_row,
    .bulk_end = lite_bulk_end,
};

static const struct pm_option lite_options[] = {
    SQL_COMMON_OPTIONS("localhost"),
    {"sql_multi_values", PM_OPT_SIZE, 0, SQLCFG(multi_values), "0", "bytes",
     "rows to INSERT go in multi-row INSERT statements of at most this "
     "many bytes (0: one prepared INSERT per row)",
     0},
    PM_OPTION_END,
};

static int lite_init(const struct pm_host *host, const struct pm_instance *inst,
                     void *config, void **ctx)
{
    struct sql_config *cfg = config;
    return sql_init(host, inst, cfg, &lite_backend, ctx);
}

static const struct pm_module_desc lite_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "sqlite3",
    .version = "1.0",
    .summary = "SQLite output (pmacct's tables v1-v9, bgp)",
    .options = lite_options,
    .config_size = sizeof(struct sql_config),
    .init = lite_init,
    .start = sql_start,
    .process = sql_process,
    .tick = sql_tick,
    .flush = sql_flush,
    .stop = sql_stop,
    .fini = sql_fini,
};

PM_MODULE_EXPORT(lite_desc)
