/*
 * mysql.c - the `mysql` output: pmacct's MySQL plugin on the shared SQL
 * layer (modules/sql/), with MariaDB Connector/C.  Statements are server-
 * side prepared (mysql_stmt_prepare: checked against the table when it is
 * first used; run() binds values as MYSQL_TYPE_STRING); the writer sends
 * rows through run_many (below), values escaped by mysql_real_escape_string
 * and quoted, never raw.  sql_conn_ca_file
 * turns on TLS with the server certificate verified.  Connection errors
 * (CR_SERVER_GONE_ERROR, CR_SERVER_LOST, CR_CONN_HOST_ERROR, ...) keep the
 * rows spooled.  sql_host starting with '/' is a UNIX socket path.
 * sql_multi_values N: the rows to INSERT of a transaction go as one
 * LOAD DATA LOCAL INFILE streamed from memory (mysql_set_local_infile_handler:
 * tab-separated values, \ \t \n NUL escaped, NULL as \N, in the
 * connection's character set): the server parses it about twice as fast
 * as multi-row INSERTs (measured: 632k sorted rows, 4.9-5.6 s vs 9.0-10.0
 * s).  A duplicate key is skipped by LOAD DATA LOCAL: the writer sees
 * fewer rows stored than sent and rolls the transaction back, as a
 * refused INSERT does.  When the server refuses LOCAL INFILE (local_infile
 * off) the module says so once and falls back to multi-row INSERT ...
 * VALUES (..),(..) statements of at most N bytes (a longer single row
 * alone), every value escaped with mysql_real_escape_string.  sql_locking_style
 * table: LOCK TABLES t WRITE (autocommit off) per purge transaction.
 * run_many: a group of rows' statements goes as one multi-statement query
 * (the prepared text, each ? replaced by the escaped, quoted value), the
 * affected rows read per statement: one round trip per group.
 *
 * Threads: the backend state is used by the writer thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "../sql/sql.h"

struct my {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const struct sql_config *cfg;
    MYSQL *conn;
    MYSQL_STMT *st[SQL_ST_MAX];
    char *sql[SQL_ST_MAX]; /* their text: run_many fills in the values */
    int locked; /* LOCK TABLES held: released after COMMIT/ROLLBACK */
    /* multi-values INSERT under way */
    char *mbuf;   /* "INSERT INTO t (cols) VALUES (..),(..)" */
    size_t mlen, mcap, mhead; /* mhead: length of "INSERT ... VALUES " */
    uint64_t mrows, mwritten;
    int infile;        /* this transaction: LOAD DATA (mbuf holds the rows) */
    int no_infile;     /* the server refused LOCAL INFILE: multi-values */
    int loading;       /* our LOAD DATA is running: serve mbuf */
    char *lsql;        /* the LOAD DATA statement */
    unsigned char lskip[SQL_MAX_COLS]; /* column set once by its SET clause */
    int nskip;
    /* bulk_chunk: the LOAD DATA's lines written from this chunk as the
     * server reads them (inf_read) */
    const struct sql_chunk *src;
    size_t spos;   /* next value in src */
    uint64_t srow; /* rows written */
    int sncols, serr;
    size_t lcap, rpos; /* rpos: how much of mbuf the server has read */
    char *row;    /* one escaped row */
    size_t rcap;
    char *qbuf;   /* run_many's multi-statement query */
    size_t qcap;
};

static int classify(unsigned e)
{
    if (e >= 2000 && e < 3000)
        return SQL_E_CONN; /* client errors: connection */
    switch (e) {
    case ER_DUP_ENTRY:
        return SQL_E_DUP;
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
    case ER_SERVER_SHUTDOWN:
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
        return SQL_E_CONN;
    default:
        return SQL_E_DATA;
    }
}

static int my_err(struct my *m, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", m->conn ? mysql_error(m->conn) : "no connection");
    return m->conn ? classify(mysql_errno(m->conn)) : SQL_E_CONN;
}

static int st_err(MYSQL_STMT *st, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", mysql_stmt_error(st));
    return classify(mysql_stmt_errno(st));
}

static void *my_open(const struct pm_host *host, const struct pm_instance *inst,
                     const struct sql_config *cfg)
{
    struct my *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->host = host;
    m->inst = inst;
    m->cfg = cfg;
    return m;
}

static void my_unprepare(void *b)
{
    struct my *m = b;
    for (int i = 0; i < SQL_ST_MAX; i++) {
        if (m->st[i])
            mysql_stmt_close(m->st[i]);
        m->st[i] = NULL;
    }
}

static void my_disconnect(void *b)
{
    struct my *m = b;
    my_unprepare(m);
    if (m->conn)
        mysql_close(m->conn);
    m->conn = NULL;
    m->locked = 0;
}

/* LOAD DATA LOCAL INFILE: the server reads the rows from mbuf */
static int inf_init(void **ptr, const char *name, void *ud)
{
    struct my *m = ud;
    (void)name; /* whatever file the server asks for, it gets mbuf */
    m->rpos = 0;
    *ptr = m;
    return 0;
}

static int load_row(struct my *m, const char *const *vals, const int *lens,
                    int n);

/* bulk_chunk: lines of m->src's next rows into mbuf until len bytes wait
 * (or the rows end); -1 on a corrupt chunk or no memory (m->serr). */
static int stream_rows(struct my *m, size_t len)
{
    const char *vals[SQL_MAX_COLS];
    int lens[SQL_MAX_COLS];
    if (m->rpos) { /* what the server has read is dropped */
        memmove(m->mbuf, m->mbuf + m->rpos, m->mlen - m->rpos);
        m->mlen -= m->rpos;
        m->rpos = 0;
    }
    while (m->mlen < len && m->srow < m->src->nrows) {
        for (int i = 0; i < m->sncols; i++)
            if (!sql_chunk_next(m->src, &m->spos, &vals[i], &lens[i])) {
                m->serr = -EINVAL;
                return -1;
            }
        if (load_row(m, vals, lens, m->sncols) < 0) {
            m->serr = -ENOMEM;
            return -1;
        }
        m->srow++;
    }
    return 0;
}

static int inf_read(void *ptr, char *buf, unsigned int len)
{
    struct my *m = ptr;
    if (!m->loading) /* a request outside our LOAD DATA: nothing */
        return 0;
    if (m->src && stream_rows(m, len) < 0)
        return -1;
    size_t n = m->mlen - m->rpos;
    if (n > len)
        n = len;
    memcpy(buf, m->mbuf + m->rpos, n);
    m->rpos += n;
    return (int)n;
}

static void inf_end(void *ptr)
{
    (void)ptr;
}

static int inf_error(void *ptr, char *msg, unsigned int len)
{
    (void)ptr;
    snprintf(msg, len, "pmacct rows buffer");
    return 0;
}

static int my_connect(void *b, const char *host, char *err, size_t errlen)
{
    struct my *m = b;
    unsigned int tmo = 5;
    const char *sock = NULL;
    m->conn = mysql_init(NULL);
    if (!m->conn) {
        snprintf(err, errlen, "out of memory");
        return SQL_E_CONN;
    }
    unsigned int on = 1;
    mysql_options(m->conn, MYSQL_OPT_CONNECT_TIMEOUT, &tmo);
    mysql_options(m->conn, MYSQL_OPT_LOCAL_INFILE, &on);
    /* LOCAL INFILE is on for our LOAD DATA: every file request, ours or a
     * hostile server's, is answered from memory (mbuf, and only while our
     * LOAD DATA runs), never from disk */
    mysql_set_local_infile_handler(m->conn, inf_init, inf_read, inf_end,
                                   inf_error, m);
    mysql_options(m->conn, MYSQL_OPT_READ_TIMEOUT, &tmo);
    if (m->cfg->conn_ca_file) {
        my_bool on = 1;
        mysql_options(m->conn, MYSQL_OPT_SSL_CA, m->cfg->conn_ca_file);
        mysql_options(m->conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
    }
    if (host && host[0] == '/') {
        sock = host;
        host = "localhost";
    }
    if (!mysql_real_connect(m->conn, host, m->cfg->user, m->cfg->passwd,
                            m->cfg->db, (unsigned)m->cfg->port, sock,
                            CLIENT_MULTI_STATEMENTS)) {
        snprintf(err, errlen, "%s", mysql_error(m->conn));
        my_disconnect(m);
        return SQL_E_CONN;
    }
    mysql_autocommit(m->conn, 1);
    /* pmacct's tables have CHAR(6) ip_proto: names like ipv6-icmp are cut
     * (a warning) as a non-strict server does, instead of failing a purge */
    mysql_query(m->conn,
                "SET SESSION sql_mode = REPLACE(REPLACE(@@sql_mode, "
                "'STRICT_TRANS_TABLES', ''), 'STRICT_ALL_TABLES', '')");
    return 0;
}

static int my_exec(void *b, const char *sql, char *err, size_t errlen)
{
    struct my *m = b;
    int end = !strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK");
    if (!m->conn)
        return SQL_E_CONN;
    if (!strcmp(sql, "BEGIN"))
        sql = "START TRANSACTION";
    if (mysql_query(m->conn, sql)) {
        int rc = my_err(m, err, errlen);
        if (end && m->locked) {
            mysql_query(m->conn, "UNLOCK TABLES");
            mysql_query(m->conn, "SET autocommit = 1");
            m->locked = 0;
        }
        return rc;
    }
    MYSQL_RES *r = mysql_store_result(m->conn);
    if (r)
        mysql_free_result(r);
    if (end && m->locked) {
        m->locked = 0;
        if (mysql_query(m->conn, "UNLOCK TABLES") ||
            mysql_query(m->conn, "SET autocommit = 1"))
            return my_err(m, err, errlen);
    }
    return 0;
}

/* LOCK TABLES ends the transaction BEGIN opened: autocommit off instead,
 * so the rows still commit (or roll back) together, then UNLOCK TABLES. */
static int my_lock_table(void *b, const char *table, char *err, size_t errlen)
{
    struct my *m = b;
    char sql[320];
    snprintf(sql, sizeof(sql), "LOCK TABLES %s WRITE", table);
    if (mysql_query(m->conn, "SET autocommit = 0"))
        return my_err(m, err, errlen);
    m->locked = 1;
    if (mysql_query(m->conn, sql))
        return my_err(m, err, errlen);
    return 0;
}

static int my_bulk_on(const struct sql_config *cfg)
{
    return cfg->multi_values > 0;
}

static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need)
        nc *= 2;
    char *q = realloc(*p, nc);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

/* LOAD DATA LOCAL INFILE 'pmacct' INTO TABLE t ... (varying columns) SET
 * col = 'value', ...: a column with one value in every row of the
 * transaction (same) goes once in the statement instead of in each line,
 * which spares the server its parsing (measured: 632k rows of v1, 2.25-2.34
 * s vs 2.58-2.66 s with all columns in the lines). */
static int load_begin(struct my *m, const char *table,
                      const struct sql_col *cols, int ncols,
                      const struct sql_same *same)
{
    const char *cs = mysql_character_set_name(m->conn);
    size_t need = 256 + strlen(table) + (size_t)ncols * 48;
    int nvar = ncols;
    if (same && same->n < ncols)
        for (int i = 0; i < ncols; i++)
            if (same->is[i]) {
                nvar--;
                need += same->vals[i] ? 2 * (size_t)same->lens[i] + 4 : 8;
            }
    if (!same || nvar == ncols || nvar == 0)
        same = NULL; /* every column in the lines */
    if (grow(&m->lsql, &m->lcap, need) < 0)
        return -ENOMEM;
    size_t l = (size_t)snprintf(
        m->lsql, m->lcap,
        "LOAD DATA LOCAL INFILE 'pmacct' INTO TABLE %s CHARACTER SET %s "
        "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
        "LINES TERMINATED BY '\\n' (",
        table, cs && *cs ? cs : "binary");
    int k = 0;
    m->nskip = 0;
    for (int i = 0; i < ncols; i++) {
        m->lskip[i] = same && same->is[i];
        m->nskip += m->lskip[i];
        if (!m->lskip[i])
            l += (size_t)snprintf(m->lsql + l, m->lcap - l, "%s%s",
                                  k++ ? ", " : "", cols[i].name);
    }
    l += (size_t)snprintf(m->lsql + l, m->lcap - l, ")");
    k = 0;
    for (int i = 0; i < ncols; i++) {
        if (!m->lskip[i])
            continue;
        l += (size_t)snprintf(m->lsql + l, m->lcap - l, "%s%s = ",
                              k++ ? ", " : " SET ", cols[i].name);
        if (!same->vals[i]) {
            l += (size_t)snprintf(m->lsql + l, m->lcap - l, "NULL");
            continue;
        }
        m->lsql[l++] = '\'';
        l += mysql_real_escape_string(m->conn, m->lsql + l, same->vals[i],
                                      (unsigned long)same->lens[i]);
        m->lsql[l++] = '\'';
        m->lsql[l] = 0;
    }
    m->mlen = m->mhead = 0;
    m->mrows = m->mwritten = 0;
    m->infile = 1;
    return 0;
}

static int load_row(struct my *m, const char *const *vals, const int *lens,
                    int n)
{
    /* LOAD DATA ... FIELDS TERMINATED BY '\t' ESCAPED BY '\\' */
    static const char esc[256] = {['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n',
                                  [0] = '0'};
    const char *v[SQL_MAX_COLS];
    int ln[SQL_MAX_COLS], k = 0;
    if (m->nskip) { /* the columns set by the statement left out */
        for (int i = 0; i < n; i++)
            if (!m->lskip[i]) {
                v[k] = vals[i];
                ln[k++] = lens[i];
            }
        vals = v;
        lens = ln;
        n = k;
    }
    if (grow(&m->mbuf, &m->mcap, m->mlen + sql_text_row_max(vals, lens, n)) < 0)
        return -ENOMEM;
    char *o = sql_text_row(m->mbuf + m->mlen, vals, lens, n, '\t', esc);
    m->mlen = (size_t)(o - m->mbuf);
    m->mrows++;
    return 0;
}

/* A LOAD DATA LOCAL the server refused: SQL_E_*.  When it refuses LOCAL
 * INFILE itself (local_infile off), said once and multi-row INSERTs from
 * then on: SQL_E_CONN, so that the rows stay spooled and are retried. */
static int load_failed(struct my *m, char *err, size_t errlen)
{
    unsigned e = mysql_errno(m->conn);
    int rc = my_err(m, err, errlen);
    if (e == ER_NOT_ALLOWED_COMMAND || e == ER_LOAD_INFILE_CAPABILITY_DISABLED) {
        m->no_infile = 1;
        PM_WARN(m->host, m->inst,
                "LOAD DATA LOCAL INFILE refused (%s): multi-row INSERTs from "
                "now on",
                err);
        return SQL_E_CONN;
    }
    return rc;
}

static int load_end(struct my *m, uint64_t *written, char *err, size_t errlen)
{
    *written = 0;
    if (!m->mrows)
        return 0;
    m->loading = 1;
    int q = mysql_real_query(m->conn, m->lsql, (unsigned long)strlen(m->lsql));
    m->loading = 0;
    m->mlen = 0;
    m->mrows = 0;
    if (q)
        return load_failed(m, err, errlen);
    my_ulonglong a = mysql_affected_rows(m->conn);
    *written = a == (my_ulonglong)-1 ? 0 : (uint64_t)a;
    return 0;
}

static int my_bulk_begin(void *b, const char *table, const struct sql_col *cols,
                         int ncols, const struct sql_same *same, char *err,
                         size_t errlen)
{
    struct my *m = b;
    size_t need = 64 + strlen(table) + (size_t)ncols * 40;
    m->infile = 0;
    if (!m->no_infile) {
        if (load_begin(m, table, cols, ncols, same) < 0) {
            snprintf(err, errlen, "out of memory");
            return SQL_E_CONN;
        }
        return 0;
    }
    if (grow(&m->mbuf, &m->mcap, need) < 0) {
        snprintf(err, errlen, "out of memory");
        return SQL_E_CONN;
    }
    m->mlen = (size_t)snprintf(m->mbuf, m->mcap, "INSERT INTO %s (", table);
    for (int i = 0; i < ncols; i++)
        m->mlen += (size_t)snprintf(m->mbuf + m->mlen, m->mcap - m->mlen,
                                    "%s%s", i ? ", " : "", cols[i].name);
    m->mlen += (size_t)snprintf(m->mbuf + m->mlen, m->mcap - m->mlen,
                                ") VALUES ");
    m->mhead = m->mlen;
    m->mrows = m->mwritten = 0;
    return 0;
}

static int my_bulk_flush(struct my *m, char *err, size_t errlen)
{
    if (!m->mrows)
        return 0;
    if (mysql_real_query(m->conn, m->mbuf, (unsigned long)m->mlen))
        return my_err(m, err, errlen);
    my_ulonglong a = mysql_affected_rows(m->conn);
    m->mwritten += a == (my_ulonglong)-1 ? 0 : (uint64_t)a;
    m->mlen = m->mhead;
    m->mrows = 0;
    return 0;
}

static int my_bulk_row(void *b, const char *const *vals, const int *lens,
                       int n, char *err, size_t errlen)
{
    struct my *m = b;
    size_t need = 3;
    if (m->infile) {
        if (load_row(m, vals, lens, n) < 0)
            goto nomem;
        return 0;
    }
    for (int i = 0; i < n; i++)
        need += 3 + (vals[i] ? 2 * (size_t)lens[i] : 4);
    if (grow(&m->row, &m->rcap, need) < 0)
        goto nomem;
    size_t r = 0;
    m->row[r++] = '(';
    for (int i = 0; i < n; i++) {
        if (i)
            m->row[r++] = ',';
        if (!vals[i]) {
            memcpy(m->row + r, "NULL", 4);
            r += 4;
            continue;
        }
        m->row[r++] = '\'';
        r += mysql_real_escape_string(m->conn, m->row + r, vals[i],
                                      (unsigned long)lens[i]);
        m->row[r++] = '\'';
    }
    m->row[r++] = ')';
    if (m->mrows && m->mlen + 1 + r > m->cfg->multi_values) {
        int rc = my_bulk_flush(m, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (grow(&m->mbuf, &m->mcap, m->mlen + r + 2) < 0)
        goto nomem;
    if (m->mrows)
        m->mbuf[m->mlen++] = ',';
    memcpy(m->mbuf + m->mlen, m->row, r);
    m->mlen += r;
    m->mrows++;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return SQL_E_CONN;
}

static int my_bulk_end(void *b, uint64_t *written, char *err, size_t errlen)
{
    struct my *m = b;
    if (!written) {
        m->mlen = m->mhead;
        m->mrows = 0;
        return 0;
    }
    if (m->infile)
        return load_end(m, written, err, errlen);
    int rc = my_bulk_flush(m, err, errlen);
    *written = m->mwritten;
    return rc;
}

/* Every row of ch in one LOAD DATA LOCAL whose lines are written from the
 * chunk as the server reads them (inf_read, a few kB at a time), so the
 * server parses while the next lines are formatted, instead of waiting
 * for the whole transaction's lines (~5 ms per 50,000 rows).  Without
 * LOCAL INFILE (refused before): SQL_BULK_NOT_NOW, the writer takes the
 * multi-row INSERT path. */
static int my_bulk_chunk(void *b, const char *table, const struct sql_col *cols,
                         int ncols, const struct sql_same *same,
                         const struct sql_chunk *ch, uint64_t *written,
                         char *err, size_t errlen)
{
    struct my *m = b;
    *written = 0;
    if (m->no_infile)
        return SQL_BULK_NOT_NOW;
    if (load_begin(m, table, cols, ncols, same) < 0) {
        snprintf(err, errlen, "out of memory");
        return SQL_E_CONN;
    }
    m->src = ch;
    m->spos = 0;
    m->srow = 0;
    m->sncols = ncols;
    m->serr = 0;
    m->mlen = m->rpos = 0;
    m->loading = 1;
    int q = mysql_real_query(m->conn, m->lsql, (unsigned long)strlen(m->lsql));
    m->loading = 0;
    m->src = NULL;
    m->mlen = m->rpos = 0;
    m->infile = 0;
    if (m->serr) {
        snprintf(err, errlen, "%s", m->serr == -ENOMEM ? "out of memory"
                                                       : "corrupt spool chunk");
        /* the server saw the data end early: whatever it stored is rolled
         * back with the transaction */
        return m->serr == -ENOMEM ? SQL_E_CONN : SQL_E_DATA;
    }
    if (q)
        return load_failed(m, err, errlen);
    if (m->srow != ch->nrows) { /* the server stopped reading early */
        snprintf(err, errlen, "LOAD DATA read %llu of %llu rows",
                 (unsigned long long)m->srow, (unsigned long long)ch->nrows);
        return SQL_E_DATA;
    }
    my_ulonglong a = mysql_affected_rows(m->conn);
    *written = a == (my_ulonglong)-1 ? 0 : (uint64_t)a;
    return 0;
}

static int my_table_exists(void *b, const char *table, char *err,
                           size_t errlen)
{
    struct my *m = b;
    MYSQL_STMT *st = mysql_stmt_init(m->conn);
    const char *q = "SELECT COUNT(*) FROM information_schema.tables WHERE "
                    "table_schema = DATABASE() AND table_name = ?";
    MYSQL_BIND in, out;
    unsigned long len = (unsigned long)strlen(table);
    long long cnt = 0;
    int rc;
    if (!st)
        return my_err(m, err, errlen);
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    in.buffer_type = MYSQL_TYPE_STRING;
    in.buffer = (void *)table;
    in.buffer_length = len;
    in.length = &len;
    out.buffer_type = MYSQL_TYPE_LONGLONG;
    out.buffer = &cnt;
    if (mysql_stmt_prepare(st, q, (unsigned long)strlen(q)) ||
        mysql_stmt_bind_param(st, &in) || mysql_stmt_execute(st) ||
        mysql_stmt_bind_result(st, &out) || mysql_stmt_fetch(st)) {
        rc = st_err(st, err, errlen);
        mysql_stmt_close(st);
        return rc;
    }
    mysql_stmt_close(st);
    return cnt > 0;
}

static int my_prepare(void *b, int slot, const char *sql, int nparams,
                      char *err, size_t errlen)
{
    struct my *m = b;
    (void)nparams;
    if (m->st[slot])
        mysql_stmt_close(m->st[slot]);
    free(m->sql[slot]);
    m->sql[slot] = strdup(sql);
    m->st[slot] = mysql_stmt_init(m->conn);
    if (!m->st[slot])
        return my_err(m, err, errlen);
    if (mysql_stmt_prepare(m->st[slot], sql, (unsigned long)strlen(sql))) {
        int rc = st_err(m->st[slot], err, errlen);
        mysql_stmt_close(m->st[slot]);
        m->st[slot] = NULL;
        return rc;
    }
    return 0;
}

static int my_run(void *b, int slot, const char *const *vals, const int *lens,
                  int n, uint64_t *changed, char *err, size_t errlen)
{
    struct my *m = b;
    MYSQL_BIND bind[SQL_MAX_COLS];
    unsigned long l[SQL_MAX_COLS];
    my_bool isnull[SQL_MAX_COLS];
    MYSQL_STMT *st = m->st[slot];
    memset(bind, 0, sizeof(bind[0]) * (size_t)n);
    for (int i = 0; i < n; i++) {
        l[i] = (unsigned long)lens[i];
        isnull[i] = vals[i] == NULL;
        bind[i].buffer_type = MYSQL_TYPE_STRING;
        bind[i].buffer = (void *)vals[i];
        bind[i].buffer_length = l[i];
        bind[i].length = &l[i];
        bind[i].is_null = &isnull[i];
    }
    if (mysql_stmt_bind_param(st, bind) || mysql_stmt_execute(st))
        return st_err(st, err, errlen);
    my_ulonglong a = mysql_stmt_affected_rows(st);
    *changed = a == (my_ulonglong)-1 ? 0 : (uint64_t)a;
    return 0;
}

static int my_run_many(void *b, int slot, int nrows, const char *const *vals,
                       const int *lens, int n, uint64_t *changed, char *err,
                       size_t errlen)
{
    struct my *m = b;
    const char *tpl = m->sql[slot];
    size_t tl = tpl ? strlen(tpl) : 0, need = 1;
    if (!tpl) {
        snprintf(err, errlen, "statement not prepared");
        return SQL_E_DATA;
    }
    for (int i = 0; i < nrows * n; i++)
        need += 3 + (vals[i] ? 2 * (size_t)lens[i] : 4);
    need += (size_t)nrows * (tl + 1);
    if (grow(&m->qbuf, &m->qcap, need) < 0) {
        snprintf(err, errlen, "out of memory");
        return SQL_E_CONN;
    }
    char *o = m->qbuf;
    for (int r = 0; r < nrows; r++) {
        int k = 0;
        for (const char *t = tpl; *t; t++) {
            if (*t != '?' || k >= n) {
                *o++ = *t;
                continue;
            }
            const char *v = vals[r * n + k];
            if (!v) {
                memcpy(o, "NULL", 4);
                o += 4;
            } else {
                *o++ = '\'';
                o += mysql_real_escape_string(m->conn, o, v,
                                              (unsigned long)lens[r * n + k]);
                *o++ = '\'';
            }
            k++;
        }
        *o++ = ';';
    }
    if (mysql_real_query(m->conn, m->qbuf, (unsigned long)(o - m->qbuf)))
        return my_err(m, err, errlen);
    int rc = 0;
    for (int r = 0;; r++) {
        MYSQL_RES *res = mysql_store_result(m->conn);
        if (res)
            mysql_free_result(res);
        if (r < nrows) {
            my_ulonglong a = mysql_affected_rows(m->conn);
            changed[r] = a == (my_ulonglong)-1 ? 0 : (uint64_t)a;
        }
        int st = mysql_next_result(m->conn);
        if (st < 0)
            break;
        if (st > 0) { /* the next statement failed: the rest did not run */
            rc = my_err(m, err, errlen);
            break;
        }
    }
    return rc;
}

static void my_close(void *b)
{
    struct my *m = b;
    my_disconnect(b);
    for (int i = 0; i < SQL_ST_MAX; i++)
        free(m->sql[i]);
    free(m->mbuf);
    free(m->lsql);
    free(m->row);
    free(m->qbuf);
    free(b);
}

static const struct sql_backend my_backend = {
    .name = "mysql",
    .placeholder = '?',
    .flags = 0,
    .open = my_open,
    .connect = my_connect,
    .disconnect = my_disconnect,
    .exec = my_exec,
    .table_exists = my_table_exists,
    .prepare = my_prepare,
    .run = my_run,
    .unprepare = my_unprepare,
    .close = my_close,
    .bulk_on = my_bulk_on,
    .bulk_begin = my_bulk_begin,
    .bulk_row = my_bulk_row,
    .bulk_end = my_bulk_end,
    .bulk_chunk = my_bulk_chunk,
    .lock_table = my_lock_table,
    .run_many = my_run_many,
};

static const struct pm_option my_options[] = {
    SQL_COMMON_OPTIONS("localhost"),
    {"sql_multi_values", PM_OPT_SIZE, 0, SQLCFG(multi_values), "0", "bytes",
     "rows to INSERT go in multi-row INSERT statements of at most this "
     "many bytes (0: one prepared INSERT per row)",
     0},
    PM_OPTION_END,
};

static int my_init(const struct pm_host *host, const struct pm_instance *inst,
                   void *config, void **ctx)
{
    return sql_init(host, inst, config, &my_backend, ctx);
}

static const struct pm_module_desc my_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "mysql",
    .version = "1.0",
    .summary = "MySQL/MariaDB output (pmacct's tables v1-v9, bgp)",
    .options = my_options,
    .config_size = sizeof(struct sql_config),
    .init = my_init,
    .start = sql_start,
    .process = sql_process,
    .tick = sql_tick,
    .flush = sql_flush,
    .stop = sql_stop,
    .fini = sql_fini,
};

PM_MODULE_EXPORT(my_desc)
