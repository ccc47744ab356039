/*
 * bdb_store.c - the bdb module's file: saving the table as a Berkeley DB
 * btree snapshot and loading it back.
 *
 * Saving: the rows are serialised (bdb_codec.c) under the table lock into
 * one buffer, then, without the table lock, written to a new btree at
 * bdb_file.tmp (page checksums on), which is closed, fsync'd and renamed
 * over bdb_file (and the directory fsync'd).  The file on disk is thus
 * always a complete snapshot: a crash loses at most the changes since the
 * last save.  file_mu serialises savers (pipeline thread: refresh and
 * exit; server thread: after pmacct -e).
 *
 * Loading (init, before any thread): the file is checked with libdb's
 * verify (checksums, page structure), its meta record must match the
 * instance's aggregate, then every record is decoded into a private batch
 * and accounted into the cache with host->cache_add.  Any error names the
 * file (and the record) and fails init: a damaged table is never
 * overwritten.
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bdb.h"

#define LOAD_BATCH 1024
#define LOAD_ARENA (1u << 20)

/* libdb's messages go to the instance's log (dbenv->app_private = ctx). */
static void db_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
    const struct bdb_ctx *x = env ? env->app_private : NULL;
    (void)pfx;
    if (x)
        x->t.host->log_limited(x->t.inst, PM_LOG_WARNING, "bdb-libdb",
                               "libdb: %s", msg);
}

static int db_new(struct bdb_ctx *x, DB **dbp)
{
    DB *db = NULL;
    int rc = db_create(&db, NULL, 0);
    if (rc != 0) {
        x->t.host->log(x->t.inst, PM_LOG_ERR, "bdb_file '%s': db_create: %s",
                       x->cfg->file, db_strerror(rc));
        return -ENOMEM;
    }
    db->set_errcall(db, db_errcall);
    db->get_env(db)->app_private = x;
    if (x->cfg->cache_size)
        db->set_cachesize(db, (uint32_t)(x->cfg->cache_size >> 30),
                          (uint32_t)(x->cfg->cache_size & ((1u << 30) - 1)), 1);
    *dbp = db;
    return 0;
}

/* libdb error codes are negative or errno values: keep an errno. */
static int db_errno(int rc)
{
    return rc > 0 ? -rc : -EIO;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    int rc = 0;
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

static int save_cb(void *ud, const struct pm_row *row)
{
    struct bdb_ctx *x = ud;
    if (bdb_encode_row(x->t.host, &x->layout, row, &x->blob) < 0)
        return PM_WALK_STOP; /* blob.len marks it: see bdb_save */
    return PM_WALK_NEXT;
}

static uint32_t pair_klen(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* libdb's default btree order: bytes, then the shorter key first. */
static int key_cmp(const void *a, const void *b, void *base)
{
    const uint8_t *pa = (const uint8_t *)base + *(const size_t *)a;
    const uint8_t *pb = (const uint8_t *)base + *(const size_t *)b;
    uint32_t la = pair_klen(pa), lb = pair_klen(pb);
    int c = memcmp(pa + 4, pb + 4, la < lb ? la : lb);
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

/* Write blob (rows pairs) as a new btree at tmp_path, then rename it. */
static int write_snapshot(struct bdb_ctx *x, uint64_t rows)
{
    const struct pm_host *host = x->t.host;
    const char *file = x->cfg->file, *tmp = x->tmp_path;
    char meta[2200];
    size_t *offs = NULL;
    DB *db = NULL;
    DBT k, v;
    int rc, mlen;

    if (unlink(tmp) < 0 && errno != ENOENT) {
        rc = -errno;
        host->log(x->t.inst, PM_LOG_ERR, "bdb_file '%s': cannot remove %s: %s",
                  file, tmp, strerror(errno));
        return rc;
    }
    if ((rc = db_new(x, &db)) < 0)
        return rc;
    db->set_flags(db, DB_CHKSUM);
    rc = db->open(db, NULL, tmp, NULL, DB_BTREE, DB_CREATE | DB_EXCL, 0644);
    if (rc != 0) {
        host->log(x->t.inst, PM_LOG_ERR, "bdb_file '%s': cannot create %s: %s",
                  file, tmp, db_strerror(rc));
        rc = db_errno(rc);
        goto fail;
    }
    mlen = bdb_meta_text(&x->layout, rows, meta, sizeof(meta));
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    k.data = (void *)BDB_META_KEY;
    k.size = BDB_META_KEYLEN;
    v.data = meta;
    v.size = (uint32_t)(mlen > 0 ? mlen : 0);
    if ((rc = db->put(db, NULL, &k, &v, 0)) != 0)
        goto put_failed;
    /* sorted inserts fill the btree's pages instead of splitting them */
    if (!(offs = malloc((rows ? rows : 1) * sizeof(*offs)))) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t off = 0, i = 0; i < rows && off + 4 <= x->blob.len; i++) {
        offs[i] = off;
        off += 4 + (size_t)pair_klen((const uint8_t *)x->blob.p + off) +
               BDB_VALUE_LEN;
    }
    qsort_r(offs, rows, sizeof(*offs), key_cmp, x->blob.p);
    for (uint64_t i = 0; i < rows; i++) {
        const uint8_t *p = (const uint8_t *)x->blob.p + offs[i];
        uint32_t klen = pair_klen(p);
        k.data = (void *)(p + 4);
        k.size = klen;
        v.data = (void *)(p + 4 + klen);
        v.size = BDB_VALUE_LEN;
        if ((rc = db->put(db, NULL, &k, &v, 0)) != 0)
            goto put_failed;
    }
    rc = db->close(db, 0);
    db = NULL;
    if (rc != 0) {
        host->log(x->t.inst, PM_LOG_ERR, "bdb_file '%s': writing %s: %s", file,
                  tmp, db_strerror(rc));
        rc = db_errno(rc);
        goto fail;
    }
    if ((rc = fsync_path(tmp, 0)) < 0 || rename(tmp, file) < 0) {
        rc = rc < 0 ? rc : -errno;
        host->log(x->t.inst, PM_LOG_ERR,
                  "bdb_file '%s': cannot replace it with %s: %s", file, tmp,
                  strerror(-rc));
        goto fail;
    }
    {
        char *d = strdup(file);
        if (d) {
            fsync_path(dirname(d), 1); /* best effort: the rename is done */
            free(d);
        }
    }
    free(offs);
    return 0;
put_failed:
    host->log(x->t.inst, PM_LOG_ERR, "bdb_file '%s': writing %s: %s", file, tmp,
              db_strerror(rc));
    rc = db_errno(rc);
fail:
    if (db)
        db->close(db, DB_NOSYNC);
    unlink(tmp);
    free(offs);
    return rc;
}

int bdb_save(struct bdb_ctx *x, const char *why)
{
    const struct pm_host *host = x->t.host;
    uint64_t gen, rows;
    double t0 = mono_now();
    int rc;

    pthread_mutex_lock(&x->file_mu);
    pthread_mutex_lock(&x->t.mu);
    gen = __atomic_load_n(&x->gen, __ATOMIC_ACQUIRE);
    rows = host->cache_count(x->t.cache);
    x->blob.len = 0;
    rc = host->cache_walk(x->t.cache, save_cb, x);
    pthread_mutex_unlock(&x->t.mu);
    if (rc >= 0) {
        /* count what was serialised: a failed append stops the walk */
        uint64_t n = 0;
        for (size_t off = 0; off + 4 <= x->blob.len; n++) {
            const uint8_t *p = (const uint8_t *)x->blob.p + off;
            off += 4 +
                   ((size_t)p[0] << 24 | (size_t)p[1] << 16 |
                    (size_t)p[2] << 8 | p[3]) +
                   BDB_VALUE_LEN;
        }
        rc = n == rows ? 0 : -ENOMEM;
        if (rc < 0)
            host->log(x->t.inst, PM_LOG_ERR,
                      "bdb_file '%s': out of memory serialising %llu rows",
                      x->cfg->file, (unsigned long long)rows);
    }
    if (rc >= 0)
        rc = write_snapshot(x, rows);
    if (rc >= 0) {
        x->saved_gen = gen;
        pm_counter_add(x->c_syncs, 1);
        pm_counter_add(x->c_rows_stored, rows);
        /* refreshes are routine: logged with debug only */
        if (strcmp(why, "refresh") || x->t.inst->debug)
            host->log(x->t.inst, PM_LOG_INFO,
                      "bdb_file '%s': saved %llu rows in %.3f s (%s)",
                      x->cfg->file, (unsigned long long)rows, mono_now() - t0,
                      why);
    } else {
        pm_counter_add(x->c_sync_errors, 1);
        host->log(x->t.inst, PM_LOG_ERR,
                  "bdb_file '%s': %s save failed: %s; the previous snapshot "
                  "is kept",
                  x->cfg->file, why, strerror(-rc));
    }
    /* keep the buffer's memory for the next save, but not a huge one */
    if (x->blob.cap > (64u << 20)) {
        free(x->blob.p);
        memset(&x->blob, 0, sizeof(x->blob));
    }
    pthread_mutex_unlock(&x->file_mu);
    return rc;
}

struct loader {
    struct bdb_ctx *x;
    struct pm_batch b;
    uint64_t loaded;
};

static int load_flush(struct loader *ld)
{
    struct bdb_ctx *x = ld->x;
    int n;
    if (!ld->b.n)
        return 0;
    pthread_mutex_lock(&x->t.mu);
    n = x->t.host->cache_add(x->t.cache, &ld->b);
    pthread_mutex_unlock(&x->t.mu);
    ld->b.n = 0;
    ld->b.arena_len = 0;
    if (n < 0)
        return n;
    ld->loaded += (uint64_t)n;
    return 0;
}

int bdb_load(struct bdb_ctx *x)
{
    const struct pm_host *host = x->t.host;
    const char *file = x->cfg->file;
    struct loader ld;
    struct stat st;
    char err[1200] = "";
    DB *db = NULL;
    DBC *cur = NULL;
    DBT k, v;
    uint64_t recno = 0;
    double t0 = mono_now();
    int rc;

    memset(&ld, 0, sizeof(ld));
    ld.x = x;
    if (stat(file, &st) < 0) {
        if (errno == ENOENT) {
            host->log(x->t.inst, PM_LOG_INFO,
                      "bdb_file '%s': no table yet, starting empty", file);
            return 0;
        }
        rc = -errno;
        host->log(x->t.inst, PM_LOG_ERR, "bdb_file '%s': %s", file,
                  strerror(errno));
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        host->log(x->t.inst, PM_LOG_ERR, "bdb_file '%s': not a regular file",
                  file);
        return -EINVAL;
    }
    /* verify consumes the handle, whatever it returns */
    if ((rc = db_new(x, &db)) < 0)
        return rc;
    rc = db->verify(db, file, NULL, NULL, 0);
    db = NULL;
    if (rc != 0) {
        host->log(x->t.inst, PM_LOG_ERR,
                  "bdb_file '%s': damaged or not a Berkeley DB file (%s); "
                  "move it away to start with an empty table",
                  file, db_strerror(rc));
        return -EINVAL;
    }
    if ((rc = db_new(x, &db)) < 0)
        return rc;
    rc = db->open(db, NULL, file, NULL, DB_BTREE, DB_RDONLY, 0);
    if (rc != 0) {
        snprintf(err, sizeof(err), "cannot open as a btree: %s",
                 db_strerror(rc));
        rc = -EINVAL;
        goto fail;
    }
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    k.data = (void *)BDB_META_KEY;
    k.size = BDB_META_KEYLEN;
    rc = db->get(db, NULL, &k, &v, 0);
    if (rc != 0) {
        snprintf(err, sizeof(err),
                 "no meta record (%s): not a table of "
                 "this module",
                 db_strerror(rc));
        rc = -EINVAL;
        goto fail;
    }
    if ((rc = bdb_meta_check(&x->layout, v.data, v.size, err, sizeof(err))) < 0)
        goto fail;
    ld.b.cap = LOAD_BATCH;
    ld.b.rec_size = (uint32_t)sizeof(struct pm_rec);
    ld.b.recs = calloc(LOAD_BATCH, sizeof(struct pm_rec));
    ld.b.drop = calloc(LOAD_BATCH / 64, sizeof(uint64_t));
    ld.b.arena = malloc(LOAD_ARENA);
    ld.b.arena_cap = LOAD_ARENA;
    if (!ld.b.recs || !ld.b.drop || !ld.b.arena) {
        snprintf(err, sizeof(err), "out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = db->cursor(db, NULL, &cur, 0)) != 0) {
        snprintf(err, sizeof(err), "cursor: %s", db_strerror(rc));
        rc = -EIO;
        goto fail;
    }
    for (;;) {
        uint64_t stamp;
        memset(&k, 0, sizeof(k));
        memset(&v, 0, sizeof(v));
        rc = cur->get(cur, &k, &v, DB_NEXT);
        if (rc == DB_NOTFOUND)
            break;
        if (rc != 0) {
            snprintf(err, sizeof(err), "after record %llu: %s",
                     (unsigned long long)recno, db_strerror(rc));
            rc = -EIO;
            goto fail;
        }
        if (k.size == BDB_META_KEYLEN &&
            !memcmp(k.data, BDB_META_KEY, BDB_META_KEYLEN))
            continue;
        recno++;
        if (ld.b.n == ld.b.cap && (rc = load_flush(&ld)) < 0)
            goto cache_fail;
        for (int tries = 0;; tries++) {
            struct pm_rec *r = pm_batch_rec(&ld.b, ld.b.n);
            char why[600];
            rc = bdb_decode(host, &x->layout, k.data, k.size, v.data, v.size, r,
                            &ld.b, &stamp, why, sizeof(why));
            if (rc == -ENOSPC && tries == 0 && ld.b.n) {
                if ((rc = load_flush(&ld)) < 0)
                    goto cache_fail;
                continue;
            }
            if (rc < 0) {
                snprintf(err, sizeof(err), "record %llu: %s",
                         (unsigned long long)recno,
                         rc == -ENOSPC ? "strings too long" : why);
                rc = -EINVAL;
                goto fail;
            }
            break;
        }
        ld.b.n++;
    }
    if ((rc = load_flush(&ld)) < 0)
        goto cache_fail;
    pm_counter_add(x->c_rows_loaded, ld.loaded);
    host->log(x->t.inst, PM_LOG_INFO,
              "bdb_file '%s': loaded %llu aggregates in %.3f s", file,
              (unsigned long long)ld.loaded, mono_now() - t0);
    rc = 0;
    goto out;
cache_fail:
    snprintf(err, sizeof(err), "cannot account record %llu: %s",
             (unsigned long long)recno, strerror(-rc));
fail:
    host->log(x->t.inst, PM_LOG_ERR,
              "bdb_file '%s': %s; move it away to start with an empty table",
              file, err);
out:
    if (cur)
        cur->close(cur);
    if (db)
        db->close(db, DB_NOSYNC);
    free(ld.b.recs);
    free(ld.b.drop);
    free(ld.b.arena);
    return rc;
}
