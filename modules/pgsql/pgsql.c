/*
 * pgsql.c - the `pgsql` output: pmacct's PostgreSQL plugin on the shared
 * SQL layer (modules/sql/), with libpq.  Statements are prepared
 * (PQprepare) and run with text parameters (PQexecPrepared): values never
 * become SQL text.  sql_conn_ca_file turns on TLS with the server's
 * certificate verified (sslmode=verify-full).  A lost connection (SQLSTATE
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

struct pg {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const struct sql_config *cfg;
    PGconn *conn;
    int prepared[SQL_ST_MAX];
};

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

static void pg_close(void *b)
{
    pg_disconnect(b);
    free(b);
}

static const struct sql_backend pg_backend = {
    .name = "pgsql",
    .placeholder = '$',
    .flags = SQL_BF_PORTS_NEW | SQL_BF_NUM_PROTO | SQL_BF_BGP_NO_FLOWS,
    .open = pg_open,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .table_exists = pg_table_exists,
    .prepare = pg_prepare,
    .run = pg_run,
    .unprepare = pg_unprepare,
    .close = pg_close,
};

static const struct pm_option pg_options[] = {
    SQL_COMMON_OPTIONS("localhost"),
    {"sql_use_copy", PM_OPT_BOOL, 0, SQLCFG(use_copy), "false", NULL,
     "accepted; rows are written with prepared INSERTs inside one "
     "transaction per purge",
     0},
    PM_OPTION_END,
};

static int pg_init(const struct pm_host *host, const struct pm_instance *inst,
                   void *config, void **ctx)
{
    return sql_init(host, inst, config, &pg_backend, ctx);
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
