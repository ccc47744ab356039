/*
 * pgsql.c - the `pgsql` output: pmacct's PostgreSQL plugin on the shared
 * SQL layer (modules/sql/), with libpq.  Statements are prepared
 * (PQprepare) and run with text parameters (PQexecPrepared): values never
 * become SQL text.  sql_conn_ca_file turns on TLS with the server's
 * certificate verified (sslmode=verify-full).  sql_use_copy with
 * sql_dont_try_update sends the rows to INSERT with COPY ... FROM STDIN:
 * binary format (pgbin.c) when every column's type is one pgbin.c encodes
 * (pmacct's tables), else text format (every value escaped: backslash,
 * delimiter, CR, LF; NULL as \N).  sql_locking_style table: LOCK TABLE ... IN EXCLUSIVE MODE in each
 * purge transaction.  A lost connection (SQLSTATE
 * class 08, admin shutdown, PQstatus bad) keeps the rows spooled.
 *
 * Threads: the backend state is used by the writer thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../sql/sql.h"
#include "pgbin.h"

struct pg {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const struct sql_config *cfg;
    PGconn *conn;
    int prepared[SQL_ST_MAX];
    /* COPY under way: rows encoded here, sent in 64 KiB pieces */
    char *cbuf;
    size_t clen, ccap;
    char delim;
    char esc[256]; /* COPY text: backslash, the delimiter, CR, LF escaped */
    /* binary COPY (pgbin.c) when every column's type allows it: decided
     * once per table and connection */
    int bin;
    char bin_table[256];
    int bin_ok;
    int kinds[SQL_MAX_COLS];
    struct pgbin_pre pre; /* this COPY's constant fields */
    const struct sql_col *bcols;
};

#define COPY_FLUSH 65536

static const char *const stname[SQL_ST_MAX] = {"pm_upd", "pm_ins"};

static int pg_res_err(struct pg *p, PGresult *res, char *err, size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg)
        msg = PQerrorMessage(p->conn);
    snprintf(err, errlen, "%s", msg ? msg : "unknown error");
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = 0;
    if (PQstatus(p->conn) != CONNECTION_OK)
        return SQL_E_CONN;
    if (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) ||
                  !strncmp(state, "53", 2) || !strcmp(state, "40001") ||
                  !strcmp(state, "40P01")))
        return SQL_E_CONN;
    if (state && !strcmp(state, "23505"))
        return SQL_E_DUP;
    if (!state)
        return SQL_E_CONN;
    return SQL_E_DATA;
}

static void *pg_open(const struct pm_host *host, const struct pm_instance *inst,
                     const struct sql_config *cfg)
{
    struct pg *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->host = host;
    p->inst = inst;
    p->cfg = cfg;
    p->delim = cfg->delimiter && *cfg->delimiter ? cfg->delimiter[0] : ',';
    p->esc['\\'] = '\\';
    p->esc[(unsigned char)p->delim] = p->delim;
    p->esc['\n'] = 'n';
    p->esc['\r'] = 'r';
    return p;
}

static void pg_unprepare(void *b)
{
    struct pg *p = b;
    for (int i = 0; i < SQL_ST_MAX; i++) {
        if (p->prepared[i] && p->conn &&
            PQstatus(p->conn) == CONNECTION_OK) {
            char sql[64];
            snprintf(sql, sizeof(sql), "DEALLOCATE %s", stname[i]);
            PQclear(PQexec(p->conn, sql));
        }
        p->prepared[i] = 0;
    }
}

static void pg_disconnect(void *b)
{
    struct pg *p = b;
    if (p->conn)
        PQfinish(p->conn);
    p->conn = NULL;
    memset(p->prepared, 0, sizeof(p->prepared));
    p->bin_table[0] = 0; /* types asked again on the next connection */
}

static int pg_connect(void *b, const char *host, char *err, size_t errlen)
{
    struct pg *p = b;
    const char *keys[12], *vals[12];
    char port[24];
    int n = 0;
    if (host && *host) {
        keys[n] = "host";
        vals[n++] = host;
    }
    if (p->cfg->port) {
        snprintf(port, sizeof(port), "%llu", (unsigned long long)p->cfg->port);
        keys[n] = "port";
        vals[n++] = port;
    }
    keys[n] = "user";
    vals[n++] = p->cfg->user;
    if (p->cfg->passwd) {
        keys[n] = "password";
        vals[n++] = p->cfg->passwd;
    }
    keys[n] = "dbname";
    vals[n++] = p->cfg->db;
    keys[n] = "connect_timeout";
    vals[n++] = "5";
    keys[n] = "application_name";
    vals[n++] = "pmacct";
    if (p->cfg->conn_ca_file) {
        keys[n] = "sslmode";
        vals[n++] = "verify-full";
        keys[n] = "sslrootcert";
        vals[n++] = p->cfg->conn_ca_file;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    p->conn = PQconnectdbParams(keys, vals, 0);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        snprintf(err, errlen, "%s",
                 p->conn ? PQerrorMessage(p->conn) : "out of memory");
        size_t l = strlen(err);
        while (l && (err[l - 1] == '\n' || err[l - 1] == ' '))
            err[--l] = 0;
        pg_disconnect(p);
        return SQL_E_CONN;
    }
    PQclear(PQexec(p->conn, "SET client_min_messages TO WARNING"));
    return 0;
}

static int pg_exec(void *b, const char *sql, char *err, size_t errlen)
{
    struct pg *p = b;
    if (!p->conn)
        return SQL_E_CONN;
    PGresult *res = PQexec(p->conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_res_err(p, res, err, errlen);
    PQclear(res);
    return rc;
}

static int pg_table_exists(void *b, const char *table, char *err, size_t errlen)
{
    struct pg *p = b;
    const char *v[1] = {table};
    PGresult *res = PQexecParams(
        p->conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, v, NULL,
        NULL, 0);
    int rc;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = pg_res_err(p, res, err, errlen);
    else
        rc = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return rc;
}

static int pg_prepare(void *b, int slot, const char *sql, int nparams,
                      char *err, size_t errlen)
{
    struct pg *p = b;
    if (p->prepared[slot]) {
        char d[64];
        snprintf(d, sizeof(d), "DEALLOCATE %s", stname[slot]);
        PQclear(PQexec(p->conn, d));
        p->prepared[slot] = 0;
    }
    PGresult *res = PQprepare(p->conn, stname[slot], sql, 0, NULL);
    int rc = 0;
    (void)nparams;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_res_err(p, res, err, errlen);
    else
        p->prepared[slot] = 1;
    PQclear(res);
    return rc;
}

static int pg_run(void *b, int slot, const char *const *vals, const int *lens,
                  int n, uint64_t *changed, char *err, size_t errlen)
{
    struct pg *p = b;
    /* text parameters must be NUL-terminated: copy into one buffer */
    char *buf, *q;
    const char *pv[SQL_MAX_COLS];
    size_t tot = 0;
    int rc = 0;
    for (int i = 0; i < n; i++)
        tot += vals[i] ? (size_t)lens[i] + 1 : 0;
    buf = malloc(tot + 1);
    if (!buf)
        return SQL_E_CONN;
    q = buf;
    for (int i = 0; i < n; i++) {
        if (!vals[i]) {
            pv[i] = NULL;
            continue;
        }
        memcpy(q, vals[i], (size_t)lens[i]);
        q[lens[i]] = 0;
        pv[i] = q;
        q += lens[i] + 1;
    }
    PGresult *res =
        PQexecPrepared(p->conn, stname[slot], n, pv, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_res_err(p, res, err, errlen);
    else
        *changed = strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    free(buf);
    return rc;
}

static int pg_lock_table(void *b, const char *table, char *err, size_t errlen)
{
    char sql[320];
    snprintf(sql, sizeof(sql), "LOCK TABLE %s IN EXCLUSIVE MODE", table);
    return pg_exec(b, sql, err, errlen);
}

static int pg_bulk_on(const struct sql_config *cfg)
{
    return cfg->use_copy && cfg->dont_try_update;
}

static int pg_bulk_begin(void *b, const char *table, const struct sql_col *cols,
                         int ncols, const struct sql_same *same, char *err,
                         size_t errlen)
{
    struct pg *p = b;
    size_t cap = 128 + strlen(table) + (size_t)ncols * 40, len;
    char *sql = malloc(cap);
    int rc = 0;
    if (!sql)
        return SQL_E_CONN;
    if (strcmp(p->bin_table, table) || p->bcols != cols) {
        p->bin_ok = strlen(table) < sizeof(p->bin_table) &&
                    pgbin_types(p->conn, table, cols, ncols, p->kinds) == 0;
        snprintf(p->bin_table, sizeof(p->bin_table), "%s", table);
        p->bcols = cols;
    }
    p->bin = p->bin_ok;
    /* a binary COPY has no per-statement values: every row carries every
     * field, but the constant ones are encoded once (MACs and times not
     * parsed again per row) */
    if (p->bin && pgbin_pre_set(&p->pre, p->kinds, cols, ncols, same) < 0) {
        free(sql);
        snprintf(err, errlen, "out of memory");
        return SQL_E_CONN;
    }
    len = (size_t)snprintf(sql, cap, "COPY %s (", table);
    for (int i = 0; i < ncols && len < cap; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s%s", i ? ", " : "",
                                cols[i].name);
    if (len < cap && p->bin)
        snprintf(sql + len, cap - len, ") FROM STDIN WITH (FORMAT binary)");
    else if (len < cap)
        snprintf(sql + len, cap - len, ") FROM STDIN WITH (DELIMITER E'\\x%02x')",
                 (unsigned char)p->delim);
    PGresult *res = PQexec(p->conn, sql);
    if (!res || PQresultStatus(res) != PGRES_COPY_IN)
        rc = pg_res_err(p, res, err, errlen);
    PQclear(res);
    free(sql);
    p->clen = 0;
    if (rc == 0 && p->bin) { /* signature, flags, header extension */
        if (!p->cbuf && !(p->cbuf = malloc(p->ccap = COPY_FLUSH * 2)))
            return SQL_E_CONN;
        memcpy(p->cbuf, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
        p->clen = 19;
    }
    return rc;
}

static int pg_copy_flush(struct pg *p, char *err, size_t errlen)
{
    if (p->clen && PQputCopyData(p->conn, p->cbuf, (int)p->clen) != 1) {
        snprintf(err, errlen, "COPY: %s", PQerrorMessage(p->conn));
        return SQL_E_CONN;
    }
    p->clen = 0;
    return 0;
}

static int pg_bulk_row(void *b, const char *const *vals, const int *lens,
                       int n, char *err, size_t errlen)
{
    struct pg *p = b;
    size_t need = p->bin ? pgbin_row_max(lens, vals, n)
                         : sql_text_row_max(vals, lens, n);
    if (p->clen + need > p->ccap) {
        size_t nc = p->ccap ? p->ccap : COPY_FLUSH * 2;
        while (nc < p->clen + need)
            nc *= 2;
        char *q = realloc(p->cbuf, nc);
        if (!q) {
            snprintf(err, errlen, "out of memory");
            return SQL_E_CONN;
        }
        p->cbuf = q;
        p->ccap = nc;
    }
    if (p->bin) {
        int l = pgbin_row((unsigned char *)p->cbuf + p->clen, p->kinds,
                          p->bcols, vals, lens, n, &p->pre, err, errlen);
        if (l < 0)
            return SQL_E_DATA;
        p->clen += (size_t)l;
        return p->clen >= COPY_FLUSH ? pg_copy_flush(p, err, errlen) : 0;
    }
    char *o = sql_text_row(p->cbuf + p->clen, vals, lens, n, p->delim, p->esc);
    p->clen = (size_t)(o - p->cbuf);
    return p->clen >= COPY_FLUSH ? pg_copy_flush(p, err, errlen) : 0;
}

/* binary COPY's end: a field count of -1 (after a row or the header the
 * buffer holds less than COPY_FLUSH bytes of its 2 * COPY_FLUSH: room) */
static int pg_copy_trailer(struct pg *p)
{
    memcpy(p->cbuf + p->clen, "\377\377", 2);
    p->clen += 2;
    return 0;
}

static int pg_bulk_end(void *b, uint64_t *written, char *err, size_t errlen)
{
    struct pg *p = b;
    int rc = 0;
    if (!written) {
        p->clen = 0;
        if (PQputCopyEnd(p->conn, "aborted") != 1)
            rc = SQL_E_CONN;
    } else if ((p->bin ? pg_copy_trailer(p) : 0,
                (rc = pg_copy_flush(p, err, errlen)) == 0) &&
               PQputCopyEnd(p->conn, NULL) != 1) {
        snprintf(err, errlen, "COPY: %s", PQerrorMessage(p->conn));
        rc = SQL_E_CONN;
    }
    PGresult *res;
    int first = 1;
    while ((res = PQgetResult(p->conn))) {
        if (first && written && rc == 0) {
            if (PQresultStatus(res) == PGRES_COMMAND_OK)
                *written = strtoull(PQcmdTuples(res), NULL, 10);
            else
                rc = pg_res_err(p, res, err, errlen);
        }
        first = 0;
        PQclear(res);
    }
    if (first && written && rc == 0) {
        snprintf(err, errlen, "COPY: no result: %s", PQerrorMessage(p->conn));
        rc = SQL_E_CONN;
    }
    return rc;
}

#ifdef LIBPQ_HAS_PIPELINING
/* run_many: the rows' executions sent in one pipeline (libpq pipeline
 * mode), then their results read in order.  After an error the server
 * skips the rest (PGRES_PIPELINE_ABORTED); the first error is returned. */
static int pg_run_many(void *b, int slot, int nrows, const char *const *vals,
                       const int *lens, int n, uint64_t *changed, char *err,
                       size_t errlen)
{
    struct pg *p = b;
    const char *pv[SQL_MAX_COLS];
    size_t tot = 0;
    int rc = 0, sent = 0;
    for (int i = 0; i < nrows * n; i++)
        tot += vals[i] ? (size_t)lens[i] + 1 : 0;
    char *buf = malloc(tot + 1), *q = buf;
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return SQL_E_CONN;
    }
    if (PQenterPipelineMode(p->conn) != 1) {
        free(buf);
        snprintf(err, errlen, "pipeline mode: %s", PQerrorMessage(p->conn));
        return SQL_E_CONN;
    }
    for (int r = 0; r < nrows; r++, sent++) {
        for (int i = 0; i < n; i++) {
            const char *v = vals[r * n + i];
            if (!v) {
                pv[i] = NULL;
                continue;
            }
            memcpy(q, v, (size_t)lens[r * n + i]);
            q[lens[r * n + i]] = 0;
            pv[i] = q;
            q += lens[r * n + i] + 1;
        }
        if (PQsendQueryPrepared(p->conn, stname[slot], n, pv, NULL, NULL, 0) !=
            1)
            break;
    }
    if (PQpipelineSync(p->conn) != 1 && sent == nrows)
        sent = -1;
    if (sent != nrows) {
        snprintf(err, errlen, "%s", PQerrorMessage(p->conn));
        rc = SQL_E_CONN;
    }
    /* one result (then NULL) per query sent, then the sync */
    for (int r = 0; r < (sent < 0 ? nrows : sent); r++) {
        PGresult *res = PQgetResult(p->conn);
        if (!res) {
            if (!rc) {
                snprintf(err, errlen, "%s", PQerrorMessage(p->conn));
                rc = SQL_E_CONN;
            }
            break;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK)
            changed[r] = strtoull(PQcmdTuples(res), NULL, 10);
        else if (!rc && st != PGRES_PIPELINE_ABORTED)
            rc = pg_res_err(p, res, err, errlen);
        PQclear(res);
        while ((res = PQgetResult(p->conn))) /* to the NULL ending it */
            PQclear(res);
    }
    PGresult *res;
    while ((res = PQgetResult(p->conn))) {
        ExecStatusType st = PQresultStatus(res);
        PQclear(res);
        if (st == PGRES_PIPELINE_SYNC)
            break;
    }
    if (PQexitPipelineMode(p->conn) != 1 && !rc) {
        snprintf(err, errlen, "pipeline mode: %s", PQerrorMessage(p->conn));
        rc = SQL_E_CONN;
    }
    free(buf);
    return rc;
}
#endif

static void pg_close(void *b)
{
    struct pg *p = b;
    pg_disconnect(b);
    free(p->cbuf);
    free(p->pre.buf);
    free(b);
}

static const struct sql_backend pg_backend = {
    .name = "pgsql",
    .placeholder = '$',
    .flags = SQL_BF_PORTS_NEW | SQL_BF_NUM_PROTO | SQL_BF_BGP_NO_FLOWS |
             SQL_BF_TYPED_ORDER,
    .open = pg_open,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .table_exists = pg_table_exists,
    .prepare = pg_prepare,
    .run = pg_run,
    .unprepare = pg_unprepare,
    .close = pg_close,
    .bulk_on = pg_bulk_on,
    .bulk_begin = pg_bulk_begin,
    .bulk_row = pg_bulk_row,
    .bulk_end = pg_bulk_end,
    .lock_table = pg_lock_table,
#ifdef LIBPQ_HAS_PIPELINING
    .run_many = pg_run_many,
#endif
};

static const struct pm_option pg_options[] = {
    SQL_COMMON_OPTIONS("localhost"),
    {"sql_use_copy", PM_OPT_BOOL, 0, SQLCFG(use_copy), "false", NULL,
     "INSERT with COPY ... FROM STDIN (needs sql_dont_try_update: true)", 0},
    {"sql_delimiter", PM_OPT_STR, 0, SQLCFG(delimiter), ",", "char",
     "COPY column delimiter (values are escaped whatever it is)", 0},
    PM_OPTION_END,
};

static int pg_init(const struct pm_host *host, const struct pm_instance *inst,
                   void *config, void **ctx)
{
    struct sql_config *cfg = config;
    const char *d = cfg->delimiter ? cfg->delimiter : ",";
    if (strlen(d) != 1 || strchr("\\\r\n.abcdefghijklmnopqrstuvwxyz0123456789", d[0])) {
        PM_ERR(host, inst,
               "sql_delimiter: '%s': expected one character, not a backslash, "
               "newline, dot, lower-case letter or digit", d);
        return -EINVAL;
    }
    int rc = sql_init(host, inst, config, &pg_backend, ctx);
    return rc;
}

static const struct pm_module_desc pg_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "pgsql",
    .version = "1.0",
    .summary = "PostgreSQL output (pmacct's tables v1-v9, bgp)",
    .options = pg_options,
    .config_size = sizeof(struct sql_config),
    .init = pg_init,
    .start = sql_start,
    .process = sql_process,
    .tick = sql_tick,
    .flush = sql_flush,
    .stop = sql_stop,
    .fini = sql_fini,
};

PM_MODULE_EXPORT(pg_desc)
