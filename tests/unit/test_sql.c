/*
 * test_sql.c - unit tests of the shared SQL layer (modules/sql/) and of the
 * sqlite3 output on the fake host (those needing no database:
 * test_sql_layer.c): the spool (bounds, disk spill, order), then the
 * sqlite3 module end to end on a temp database file: UPDATE then
 * INSERT, sql_table_schema, hostile label strings reaching the rows
 * intact, and the database "away" (locked by another connection) with
 * rows kept pending and written once it is back, nothing counted twice;
 * sql_preprocess qnum (checks only from N aggregates), fss and fsrc
 * (sampled rows renormalised: byte totals estimated within bounds that
 * hold with overwhelming probability), rows written in key order,
 * recover=1 (filtered aggregates in
 * the sql_backup_host file, actions applied; a bad value refused).
 * The writer thread is polled with deadlines, never slept on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

#include "fakehost.h"
#include "../modules/sql/sql_int.h"

double sql_pp_fsrc_threshold(double *x, size_t m, uint64_t n);

const struct pm_module_desc *pm_module_descriptor(void);

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pmtest-sql.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static void test_spool(void **state)
{
    (void)state;
    struct sql_spool s;
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/spool", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);

    /* memory only: a bound of 3 rows */
    sql_spool_init(&s, 3, NULL);
    for (int i = 0; i < 3; i++) {
        struct sql_chunk *c = sql_chunk_new("t");
        char v[8];
        snprintf(v, sizeof(v), "r%d", i);
        assert_int_equal(sql_chunk_add(c, v, strlen(v)), 0);
        assert_int_equal(sql_chunk_add_null(c), 0);
        c->nrows = 1;
        assert_int_equal(sql_spool_push(&s, c), 0);
    }
    struct sql_chunk *x = sql_chunk_new("t");
    x->nrows = 1;
    assert_int_equal(sql_spool_push(&s, x), -ENOSPC);
    sql_chunk_free(x);
    assert_int_equal(sql_spool_rows(&s), 3);
    struct sql_chunk *h = sql_spool_peek(&s);
    size_t pos = 0;
    const char *v;
    int len;
    assert_int_equal(sql_chunk_next(h, &pos, &v, &len), 1);
    assert_int_equal(len, 2);
    assert_memory_equal(v, "r0", 2);
    assert_int_equal(sql_chunk_next(h, &pos, &v, &len), 1);
    assert_null(v);
    assert_int_equal(sql_chunk_next(h, &pos, &v, &len), 0);
    sql_spool_pop(&s);
    assert_int_equal(sql_spool_rows(&s), 2);
    sql_spool_destroy(&s);

    /* with a spool dir: beyond the bound chunks go to files, order kept */
    sql_spool_init(&s, 2, dir);
    for (int i = 0; i < 5; i++) {
        struct sql_chunk *c = sql_chunk_new("t");
        char val[8];
        snprintf(val, sizeof(val), "v%d", i);
        sql_chunk_add(c, val, strlen(val));
        c->nrows = 1;
        assert_int_equal(sql_spool_push(&s, c), 0);
    }
    assert_int_equal(sql_spool_rows(&s), 5);
    for (int i = 0; i < 5; i++) {
        char want[8];
        h = sql_spool_peek(&s);
        assert_non_null(h);
        pos = 0;
        assert_int_equal(sql_chunk_next(h, &pos, &v, &len), 1);
        snprintf(want, sizeof(want), "v%d", i);
        assert_int_equal(len, 2);
        assert_memory_equal(v, want, 2);
        sql_spool_pop(&s);
    }
    assert_int_equal(sql_spool_rows(&s), 0);
    sql_spool_destroy(&s);
}

/* ---- the sqlite3 module end to end ------------------------------------ */

static int wait_counter(const char *name, uint64_t want, int secs)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (fakehost_counter_value(name) >= want)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > secs)
            return 0;
        struct timespec d = {0, 10 * 1000 * 1000};
        nanosleep(&d, NULL); /* poll interval, not a wait for a result */
    }
}

static void fill(struct pm_batch *b, const char *src, const char *label,
                 uint64_t pk, uint64_t by, uint64_t ts)
{
    const struct pm_host *h = fakehost();
    struct pm_rec *r = pm_batch_rec(b, b->n);
    memset(r, 0, b->rec_size);
    assert_int_equal(h->prim_parse(PM_P_SRC_HOST, src, r, b), 0);
    assert_int_equal(h->prim_parse(PM_P_LABEL, label, r, b), 0);
    r->packets = pk;
    r->bytes = by;
    r->flows = 1;
    r->ts_arrival.sec = ts;
    pm_rec_set(r, PM_P_TIMESTAMP_ARRIVAL);
    b->n++;
}

static void query1(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st;
    out[0] = 0;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *t = sqlite3_column_text(st, i);
            strncat(out, t ? (const char *)t : "NULL", outlen - strlen(out) - 1);
            strncat(out, i + 1 < sqlite3_column_count(st) ? "|" : "\n",
                    outlen - strlen(out) - 1);
        }
    }
    sqlite3_finalize(st);
}

static void test_sqlite_end_to_end(void **state)
{
    (void)state;
    char dbpath[300], schema[300], out[65536];
    const struct pm_module_desc *d = pm_module_descriptor();
    snprintf(dbpath, sizeof(dbpath), "%s/t.db", tmpdir);
    snprintf(schema, sizeof(schema), "%s/schema.sql", tmpdir);
    FILE *f = fopen(schema, "w");
    assert_non_null(f);
    fprintf(f, "CREATE TABLE acct_%%Y (label VARCHAR(255) NOT NULL DEFAULT ' ', "
               "ip_src CHAR(45) NOT NULL DEFAULT '0.0.0.0', packets INT NOT "
               "NULL, bytes BIGINT NOT NULL, flows INT NOT NULL DEFAULT 0, "
               "stamp_inserted DATETIME NOT NULL, stamp_updated DATETIME, "
               "PRIMARY KEY (label, ip_src, stamp_inserted));\n");
    fclose(f);

    fakehost_reset();
    struct pm_instance *inst =
        fakehost_instance("sqlite3", "a", PM_KIND_OUTPUT, "src_host,label");
    void *cfg = fakehost_config(d, inst, "sql_db", dbpath, "sql_table",
                                "acct_%Y", "sql_table_schema", schema,
                                "sql_optimize_clauses", "true", "sql_history",
                                "1m", "sql_refresh_time", "60", "sql_retry_max",
                                "1", NULL);
    void *ctx;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), 0);
    assert_int_equal(d->start(ctx), 0);

    /* hostile labels: quotes, backslashes, semicolons, a long one */
    static char longlab[4001];
    memset(longlab, 'x', 4000);
    longlab[0] = '\'';
    const char *labels[] = {"it's", "a\\b", "x'); DROP TABLE acct_2023; --",
                            "\"dq\";", longlab};
    struct pm_batch *b = fakehost_batch(64);
    uint64_t t0 = 1700000000; /* 2023-11-14 */
    for (int i = 0; i < 5; i++)
        fill(b, "10.0.0.1", labels[i], 1, 100, t0);
    fill(b, "10.0.0.1", "it's", 2, 50, t0); /* same aggregate */
    assert_int_equal(d->process(ctx, b), 0);
    pm_ts_t now = {.sec = (uint64_t)time(NULL) + 100000};
    assert_int_equal(d->tick(ctx, &now), 0);
    assert_true(wait_counter("rows_written", 5, 10));

    /* a second purge of the same aggregate: counters added (UPDATE) */
    b->n = 0;
    b->arena_len = 0;
    fill(b, "10.0.0.1", "it's", 4, 1000, t0);
    assert_int_equal(d->process(ctx, b), 0);
    now.sec += 120;
    assert_int_equal(d->tick(ctx, &now), 0);
    assert_true(wait_counter("rows_written", 6, 10));

    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    query1(db, "SELECT count(*), sum(packets), sum(bytes) FROM acct_2023", out,
           sizeof(out));
    assert_string_equal(out, "5|11|1550\n");
    query1(db, "SELECT packets, bytes, ip_src FROM acct_2023 WHERE label = 'it''s'",
           out, sizeof(out));
    assert_string_equal(out, "7|1150|10.0.0.1\n");
    for (int i = 1; i < 5; i++) {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT count(*) FROM acct_2023 "
                                            "WHERE label = ?",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, labels[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 1);
        sqlite3_finalize(st);
    }
    query1(db, "SELECT stamp_inserted FROM acct_2023 LIMIT 1", out,
           sizeof(out));
    char want[64];
    sql_time_text(t0 - t0 % 60, want, sizeof(want));
    strcat(want, "\n");
    assert_string_equal(out, want);

    /* the database away: another connection holds it locked */
    assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                     SQLITE_OK);
    b->n = 0;
    b->arena_len = 0;
    fill(b, "10.0.0.2", "late", 3, 300, t0);
    fill(b, "10.0.0.1", "a\\b", 1, 1, t0);
    assert_int_equal(d->process(ctx, b), 0);
    now.sec += 120;
    assert_int_equal(d->tick(ctx, &now), 0);
    assert_true(wait_counter("write_errors", 1, 10));
    assert_int_equal(fakehost_counter_value("rows_written"), 6);
    assert_int_equal(fakehost_counter_value("rows_pending"), 2);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_true(wait_counter("rows_written", 8, 15));
    assert_int_equal(fakehost_counter_value("rows_pending"), 0);
    assert_int_equal(fakehost_counter_value("rows_dropped"), 0);
    query1(db, "SELECT count(*), sum(packets), sum(bytes) FROM acct_2023", out,
           sizeof(out));
    assert_string_equal(out, "6|15|1851\n");
    sqlite3_close(db);

    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

static int pp_v6; /* pp_run_b: IPv6 sources 2001:db8:aaaa::x:y */
static int pp_label; /* pp_run_b: aggregate src_host, label (a string) */

/* One purge of n aggregates (src 10.a.b.c, `big` of them with 5000 bytes
 * and 3 packets, the others 100 bytes and 1 packet) through sqlite3 with
 * sql_preprocess `pp`; returns the instance's database handle. */
static sqlite3 *pp_run_b(const char *pp, const char *dbname,
                         const char *backup, int n, int big)
{
    char dbpath[300], schema[300];
    const struct pm_module_desc *d = pm_module_descriptor();
    snprintf(dbpath, sizeof(dbpath), "%s/%s", tmpdir, dbname);
    snprintf(schema, sizeof(schema), "%s/pp.sql", tmpdir);
    FILE *f = fopen(schema, "w");
    assert_non_null(f);
    fprintf(f, "CREATE TABLE acct_pp (ip_src CHAR(45) NOT NULL, %spackets INT "
               "NOT NULL, bytes BIGINT NOT NULL, flows INT NOT NULL DEFAULT 0, "
               "PRIMARY KEY (ip_src%s));\n",
            pp_label ? "label VARCHAR(255) NOT NULL, " : "",
            pp_label ? ", label" : "");
    fclose(f);
    fakehost_reset();
    struct pm_instance *inst =
        fakehost_instance("sqlite3", "pp", PM_KIND_OUTPUT,
                          pp_label ? "src_host, label" : "src_host");
    char bpath[300];
    snprintf(bpath, sizeof(bpath), "%s/%s", tmpdir, backup ? backup : "");
    void *cfg = fakehost_config(d, inst, "sql_db", dbpath, "sql_table",
                                "acct_pp", "sql_table_schema", schema,
                                "sql_optimize_clauses", "true",
                                "sql_preprocess", pp,
                                backup ? "sql_recovery_backup_host" : NULL,
                                bpath, NULL);
    void *ctx;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), 0);
    assert_int_equal(d->start(ctx), 0);
    struct pm_batch *b = fakehost_batch(1024);
    for (int i = 0; i < n; i++) {
        char ip[48];
        if (pp_v6) /* keys longer than the sort's 16-byte prefixes */
            snprintf(ip, sizeof(ip), "2001:db8:aaaa::%x:%x", i >> 16,
                     i & 0xffff);
        else
            snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
                     i & 255);
        fill(b, ip, "x", i < big ? 3 : 1, i < big ? 5000 : 100, 1700000000);
        if (b->n == 1000 || i == n - 1) {
            assert_int_equal(d->process(ctx, b), 0);
            b->n = 0;
            b->arena_len = 0;
        }
    }
    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    fakehost_config_free(d, cfg);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    return db;
}

static sqlite3 *pp_run(const char *pp, const char *dbname, int n, int big)
{
    return pp_run_b(pp, dbname, NULL, n, big);
}

/* sql_chunk_new wrapped (-Wl,--wrap): fail_chunk_at > 0 makes the call of
 * that number (counted from when it was set) fail once. */
struct sql_chunk *__real_sql_chunk_new(const char *table);
struct sql_chunk *__wrap_sql_chunk_new(const char *table);
static int fail_chunk_at, chunk_calls;
struct sql_chunk *__wrap_sql_chunk_new(const char *table)
{
    /* atomic: the two walkers of a purge create their chunks at once */
    if (fail_chunk_at &&
        __atomic_add_fetch(&chunk_calls, 1, __ATOMIC_RELAXED) == fail_chunk_at)
        return NULL;
    return __real_sql_chunk_new(table);
}

/* pmc_cache_walk_part and pmc_cache_walk_part_ref wrapped (-Wl,--wrap):
 * count the parts walked each way. */
int __real_pmc_cache_walk_part(const struct pm_cache *c, uint32_t part,
                               uint32_t nparts, pm_walk_fn fn, void *ud);
int __wrap_pmc_cache_walk_part(const struct pm_cache *c, uint32_t part,
                               uint32_t nparts, pm_walk_fn fn, void *ud);
int __real_pmc_cache_walk_part_ref(const struct pm_cache *c, uint32_t part,
                                   uint32_t nparts, pm_walk_ref_fn fn,
                                   void *ud);
int __wrap_pmc_cache_walk_part_ref(const struct pm_cache *c, uint32_t part,
                                   uint32_t nparts, pm_walk_ref_fn fn,
                                   void *ud);
static int parts_walked, refs_walked;
int __wrap_pmc_cache_walk_part(const struct pm_cache *c, uint32_t part,
                               uint32_t nparts, pm_walk_fn fn, void *ud)
{
    __atomic_fetch_add(&parts_walked, 1, __ATOMIC_RELAXED);
    return __real_pmc_cache_walk_part(c, part, nparts, fn, ud);
}
int __wrap_pmc_cache_walk_part_ref(const struct pm_cache *c, uint32_t part,
                                   uint32_t nparts, pm_walk_ref_fn fn,
                                   void *ud)
{
    __atomic_fetch_add(&refs_walked, 1, __ATOMIC_RELAXED);
    return __real_pmc_cache_walk_part_ref(c, part, nparts, fn, ud);
}

/* Rows of acct_pp out of key order (ip_src, then label when there). */
static void assert_key_order(sqlite3 *db)
{
    char out[64];
    query1(db, pp_label
                   ? "SELECT count(*) FROM acct_pp a JOIN acct_pp b ON b.rowid "
                     "= a.rowid + 1 WHERE b.ip_src < a.ip_src OR (b.ip_src "
                     "= a.ip_src AND b.label < a.label)"
                   : "SELECT count(*) FROM acct_pp a JOIN acct_pp b ON b.rowid "
                     "= a.rowid + 1 WHERE b.ip_src < a.ip_src",
           out, sizeof(out));
    assert_string_equal(out, "0\n");
}

/* One sorted purge of 60,000 aggregates, a piece failing at the
 * fail_at-th sql_chunk_new (0: none): every row once, with its counters,
 * none dropped; in key order when nothing failed. */
static void two_run(const char *name, int v6, int fail_at)
{
    char out[256];
    chunk_calls = 0;
    fail_chunk_at = fail_at;
    pp_v6 = v6;
    sqlite3 *db = pp_run("", name, 60000, v6 ? 0 : 1000);
    pp_v6 = 0;
    fail_chunk_at = 0;
    query1(db, "SELECT count(*), count(DISTINCT ip_src), sum(packets), "
               "sum(bytes) FROM acct_pp", out, sizeof(out));
    assert_string_equal(out, v6 ? "60000|60000|60000|6000000\n"
                                : "60000|60000|62000|10900000\n");
    if (!fail_at)
        assert_key_order(db);
    sqlite3_close(db);
    assert_int_equal(fakehost_counter_value("rows_dropped"), 0);
}

/* A purge of 60,000 aggregates without sql_preprocess is walked by two
 * threads, each half of the cache.  Keyed from the records (src_host):
 * through cache_walk_part_ref, each row rendered in key order (defer.c);
 * with a key column that is not (label, a string): rendered by the two
 * walkers (cache_walk_part), keyed by two threads (sort.c).  Either way
 * every row is stored once, with its counters, in key order across the
 * halves (also with keys longer than the sort's prefixes), and a piece
 * that cannot be built leaves its rows and the rest to be written
 * unsorted, none lost or doubled.  A purge with sql_preprocess is walked
 * by one thread, rendering; one of fewer than 20,000 aggregates by one,
 * by record keys. */
static void test_purge_two_walkers(void **state)
{
    (void)state;
    parts_walked = refs_walked = 0;
    two_run("two.db", 0, 0);
    assert_int_equal(refs_walked, 2);
    assert_int_equal(parts_walked, 0);
    /* keys longer than the sort's prefixes: the order rests on the keys'
     * tails, built by the two threads into one buffer */
    two_run("two6.db", 1, 0);
    /* the 1st to 4th piece cannot be built */
    for (int at = 1; at <= 4; at++) {
        char name[32];
        snprintf(name, sizeof(name), "two_fail%d.db", at);
        two_run(name, 0, at);
    }
    pp_label = 1;
    parts_walked = refs_walked = 0;
    two_run("two_label.db", 0, 0);
    assert_int_equal(parts_walked, 2);
    assert_int_equal(refs_walked, 0);
    two_run("two_label6.db", 1, 0);
    /* a piece that cannot be built (the 3rd sql_chunk_new after the two
     * walkers' chunks) */
    for (int at = 3; at <= 6; at++) {
        char name[32];
        snprintf(name, sizeof(name), "two_lfail%d.db", at);
        two_run(name, 0, at);
    }
    pp_label = 0;
    parts_walked = refs_walked = 0;
    sqlite3_close(pp_run("minb=1", "two_pp.db", 60000, 0));
    assert_int_equal(parts_walked + refs_walked, 0);
    sqlite3_close(pp_run("", "two_small.db", 19999, 0));
    assert_int_equal(parts_walked, 0);
    assert_int_equal(refs_walked, 1);
}

/* A purge of 120,000 rows goes as sorted pieces (8192, 16384, 32768,
 * 50,000, the rest); when a piece
 * cannot be built, the rows not yet queued are written unsorted: every
 * row once, whichever piece failed. */
static void test_sort_partial(void **state)
{
    (void)state;
    char out[256];
    static const int at[] = {0, 2, 3, 4}; /* 0: no failure */
    for (int k = 0; k < 4; k++) {
        char name[32];
        snprintf(name, sizeof(name), "part%d.db", k);
        chunk_calls = 0;
        fail_chunk_at = at[k]; /* 1: the purge's chunk, 2..4: the pieces */
        sqlite3 *db = pp_run("minb=1", name, 120000, 0);
        fail_chunk_at = 0;
        if (at[k]) /* none after the failure */
            assert_int_equal(chunk_calls, at[k]);
        query1(db, "SELECT count(*), count(DISTINCT ip_src), sum(packets) "
                   "FROM acct_pp", out, sizeof(out));
        assert_string_equal(out, "120000|120000|120000\n");
        /* the pieces queued before the failure are in key order */
        size_t before = 0;
        for (int j = 0; j < at[k] - 2; j++)
            before += sql_piece_rows((unsigned)j);
        snprintf(name, sizeof(name), "%zu", at[k] ? before : 120000);
        char q[256];
        snprintf(q, sizeof(q), "SELECT count(*) FROM acct_pp a JOIN acct_pp b "
                 "ON b.rowid = a.rowid + 1 WHERE b.rowid <= %s AND b.ip_src "
                 "< a.ip_src", name);
        query1(db, q, out, sizeof(out));
        assert_string_equal(out, "0\n");
        sqlite3_close(db);
        assert_int_equal(fakehost_counter_value("rows_dropped"), 0);
    }
}

static void test_sqlite_preprocess(void **state)
{
    (void)state;
    char out[4096];
    unsigned long long rows, bytes, pk;
    double x[] = {10, 1000, 10, 10, 10};

    /* the fsrc threshold: sum(min(1, x/Z)) = n */
    assert_true(sql_pp_fsrc_threshold(x, 5, 2) == 40.0);
    assert_true(sql_pp_fsrc_threshold(x, 5, 5) == 0.0);

    /* qnum: below 100 aggregates minp is not checked, from 100 it is */
    sqlite3 *db = pp_run("qnum=100, minp=2", "q1.db", 50, 5);
    query1(db, "SELECT count(*) FROM acct_pp", out, sizeof(out));
    assert_string_equal(out, "50\n");
    /* sql_sort_rows (default): inserted in key order (sqlite3: text) */
    query1(db, "SELECT count(*) FROM acct_pp a JOIN acct_pp b ON b.rowid = "
               "a.rowid + 1 WHERE b.ip_src < a.ip_src", out, sizeof(out));
    assert_string_equal(out, "0\n");
    sqlite3_close(db);
    db = pp_run("qnum=100, minp=2", "q2.db", 150, 5);
    query1(db, "SELECT count(*), sum(packets) FROM acct_pp", out, sizeof(out));
    assert_string_equal(out, "5|15\n");
    sqlite3_close(db);
    assert_int_equal(fakehost_counter_value("preprocess_filtered"), 145);

    /* fss=1000: 10 big ones kept as they are; small ones (100 bytes) kept
     * with p = 0.1 and counted as 1000 bytes, 10 packets.  20000 small:
     * kept ~ Bin(20000, 0.1) = 2000 +- 42: bounds at > 9 sigma */
    db = pp_run("fss=1000", "fss.db", 20010, 10);
    query1(db, "SELECT count(*) FROM acct_pp WHERE bytes = 5000 AND packets = 3",
           out, sizeof(out));
    assert_string_equal(out, "10\n");
    query1(db, "SELECT count(*) FROM acct_pp WHERE bytes NOT IN (1000, 5000) "
               "OR (bytes = 1000 AND packets != 10)", out, sizeof(out));
    assert_string_equal(out, "0\n");
    query1(db, "SELECT count(*), sum(bytes) FROM acct_pp WHERE bytes = 1000",
           out, sizeof(out));
    assert_int_equal(sscanf(out, "%llu|%llu", &rows, &bytes), 2);
    assert_true(rows > 1600 && rows < 2400);
    assert_true(bytes == rows * 1000);
    sqlite3_close(db);

    /* fsrc=500 over 20000 aggregates of 100 bytes: Z = 4000, ~500 kept,
     * each counting 4000 bytes (40 packets) */
    db = pp_run("fsrc=500", "fsrc.db", 20000, 0);
    query1(db, "SELECT count(*), sum(bytes), min(packets) FROM acct_pp", out,
           sizeof(out));
    assert_int_equal(sscanf(out, "%llu|%llu|%llu", &rows, &bytes, &pk), 3);
    assert_true(rows > 380 && rows < 620);
    assert_true(bytes == rows * 4000 && pk == 40);
    sqlite3_close(db);

    /* recover=1: the 45 filtered aggregates in the backup file (created
     * there by sql_table_schema), the action adjb applied to both sides */
    db = pp_run_b("minp=2, adjb=10, recover=1", "rp.db", "rb.db", 50, 5);
    assert_int_equal(fakehost_counter_value("preprocess_recovered"), 45);
    assert_int_equal(fakehost_counter_value("rows_written"), 50);
    query1(db, "SELECT count(*), sum(packets), min(bytes) FROM acct_pp", out,
           sizeof(out));
    assert_string_equal(out, "5|15|5030\n");
    sqlite3_close(db);
    char bpath[300];
    snprintf(bpath, sizeof(bpath), "%s/rb.db", tmpdir);
    assert_int_equal(sqlite3_open(bpath, &db), SQLITE_OK);
    query1(db, "SELECT count(*), sum(packets), min(bytes), max(bytes) FROM "
               "acct_pp", out, sizeof(out));
    assert_string_equal(out, "45|45|110|110\n");
    sqlite3_close(db);
    /* without a backup: filtered aggregates discarded, said at start */
    db = pp_run("minp=2, recover=1", "r0.db", 50, 5);
    query1(db, "SELECT count(*) FROM acct_pp", out, sizeof(out));
    assert_string_equal(out, "5\n");
    sqlite3_close(db);

    /* recover=x: refused with the reason */
    const struct pm_module_desc *d = pm_module_descriptor();
    fakehost_reset();
    struct pm_instance *inst =
        fakehost_instance("sqlite3", "r", PM_KIND_OUTPUT, "src_host");
    void *cfg = fakehost_config(d, inst, "sql_preprocess", "minp=2,recover=x",
                                NULL);
    void *ctx = NULL;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "recover"));
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

/* sql_multi_values: hostile labels through multi-row INSERT text (200
 * bytes: several statements), stored as they are; a second purge of the
 * same aggregates UPDATEs them (the bulk path only INSERTs). */
static void test_sqlite_multi_values(void **state)
{
    (void)state;
    char dbpath[300], schema[300], out[8192], want[8192];
    const struct pm_module_desc *d = pm_module_descriptor();
    snprintf(dbpath, sizeof(dbpath), "%s/mv.db", tmpdir);
    snprintf(schema, sizeof(schema), "%s/mv.sql", tmpdir);
    FILE *f = fopen(schema, "w");
    assert_non_null(f);
    fprintf(f, "CREATE TABLE acct_mv (label VARCHAR(255) NOT NULL, ip_src "
               "CHAR(45) NOT NULL, packets INT NOT NULL, bytes BIGINT NOT "
               "NULL, flows INT NOT NULL DEFAULT 0, PRIMARY KEY (label, "
               "ip_src));\n");
    fclose(f);
    fakehost_reset();
    struct pm_instance *inst =
        fakehost_instance("sqlite3", "mv", PM_KIND_OUTPUT, "src_host,label");
    void *cfg = fakehost_config(d, inst, "sql_db", dbpath, "sql_table",
                                "acct_mv", "sql_table_schema", schema,
                                "sql_optimize_clauses", "true",
                                "sql_multi_values", "200", NULL);
    void *ctx;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), 0);
    assert_int_equal(d->start(ctx), 0);
    const char *labels[] = {"it's", "a\\b''c", "x'); DROP TABLE acct_mv; --",
                            "\"dq\";\t\\N", "'", "plain", "q'q'q"};
    struct pm_batch *b = fakehost_batch(64);
    for (int pass = 0; pass < 2; pass++) {
        b->n = 0;
        b->arena_len = 0;
        for (int i = 0; i < 7; i++)
            fill(b, "10.0.0.9", labels[i], 1, 10 + (uint64_t)i, 1700000000);
        assert_int_equal(d->process(ctx, b), 0);
        assert_int_equal(d->flush(ctx, pass ? PM_FLUSH_FINAL : 0), 0);
        assert_true(wait_counter("rows_written", 7 * (uint64_t)(pass + 1), 10));
    }
    d->fini(ctx);
    fakehost_config_free(d, cfg);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    for (int i = 0; i < 7; i++) {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT packets, bytes FROM "
                                                "acct_mv WHERE label = ?",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, labels[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 2);
        assert_int_equal(sqlite3_column_int(st, 1), 2 * (10 + i));
        sqlite3_finalize(st);
    }
    query1(db, "SELECT count(*) FROM acct_mv", out, sizeof(out));
    snprintf(want, sizeof(want), "7\n");
    assert_string_equal(out, want);
    sqlite3_close(db);
    fakehost_reset();
}

static void test_sqlite_bad_config(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    fakehost_reset();
    struct pm_instance *inst =
        fakehost_instance("sqlite3", "a", PM_KIND_OUTPUT, "src_host,tos");
    void *cfg = fakehost_config(d, inst, "sql_table_version", "2", NULL);
    void *ctx = NULL;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "'tos'"));
    fakehost_config_free(d, cfg);
    cfg = fakehost_config(d, inst, "sql_table_version", "3", "sql_history",
                          "5x", NULL);
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), -EINVAL);
    fakehost_config_free(d, cfg);
    /* the password is a secret option */
    for (const struct pm_option *o = d->options; o->name; o++)
        if (!strcmp(o->name, "sql_passwd"))
            assert_true(o->flags & PM_OPTF_SECRET);
    fakehost_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spool),
        cmocka_unit_test(test_sqlite_end_to_end),
        cmocka_unit_test(test_sqlite_preprocess),
        cmocka_unit_test(test_sort_partial),
        cmocka_unit_test(test_purge_two_walkers),
        cmocka_unit_test(test_sqlite_multi_values),
        cmocka_unit_test(test_sqlite_bad_config),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
