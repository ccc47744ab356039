/*
 * mongodb.c - the `mongodb` output: aggregates records in the host's cache
 * and every mongo_refresh_time seconds inserts each aggregate as one
 * document into the collection named by mongo_table ("db.collection",
 * strftime and $-variables expanded per aggregate), with libmongoc, at
 * least once: a document counts as delivered when the server acknowledged
 * its insert (write concern w:1).
 *
 * Built on the broker outputs' shared code (modules/broker): pmbout.c keeps
 * the cache, the purge timers and renders each aggregate as pmacct's JSON
 * object; pmbroker.c is the delivery thread with retries, memory buffer
 * and disk spool.  This file is the options, the connection, the indexes
 * of mongo_indexes_file (created once per collection before its first
 * insert) and the send callback, which turns each JSON message into a
 * typed BSON document (mdoc.c) and inserts runs of documents bound for the
 * same collection in batches of mongo_insert_batch.
 *
 * Threads: init/fini on the main thread; process/tick/flush on the
 * pipeline thread; the client and the collection set are used only by the
 * delivery queue's thread (send()), and destroyed by fini after that
 * thread is joined.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "modules/broker/pmbroker.h"
#include "modules/mongodb/mongodb.h"

#define MCFG(f) offsetof(struct mongo_config, f)

/* The shared broker keys this output has (pmacct's mongo_* set: no
 * _output, _multi_values, _markers or Avro keys), plus mongo_time_roundoff.
 * *_preprocess and *_trigger_exec are the broker layer's (pmbout.c). */
static const struct pm_option mongo_options[] = {
    {"mongo_refresh_time", PM_OPT_UINT, 0, MCFG(out.refresh_time), "60",
     "seconds", "seconds between purges", 0},
    {"mongo_history", PM_OPT_STR, 0, MCFG(out.history), NULL, "#[s|m|h|d|w|M]",
     "time bin length (stamp_inserted)", 0},
    {"mongo_history_roundoff", PM_OPT_STR, 0, MCFG(out.history_roundoff), NULL,
     "m|h|d|w|M", "align time bins and purges", 0},
    {"mongo_time_roundoff", PM_OPT_STR, 0, MCFG(time_roundoff), NULL,
     "m|h|d|w|M", "same as mongo_history_roundoff (pmacct's alias)", 0},
    {"mongo_history_offset", PM_OPT_INT, 0, MCFG(out.history_offset), "0",
     "seconds", "offset of time bin starts", 0},
    {"mongo_num_protos", PM_OPT_BOOL, 0, MCFG(out.num_protos), "false", NULL,
     "IP protocols as numbers", 0},
    {"mongo_cache_entries", PM_OPT_UINT, 0, MCFG(out.cache_entries), "16411",
     "buckets",
     "cache size (pmacct buckets; about 10 aggregates each): a full cache "
     "is purged early",
     0},
    {"mongo_startup_delay", PM_OPT_UINT, 0, MCFG(out.startup_delay), "0",
     "seconds", "delay the first purge (and so every one) by this", 0},
    {"mongo_max_writers", PM_OPT_UINT, PM_OPTF_COMPAT, MCFG(out.max_writers),
     "10", "count",
     "accepted and ignored: one inserting thread, no writer processes", 0},
    {"mongo_spool_dir", PM_OPT_PATH, 0, MCFG(out.spool_dir), NULL, "dir",
     "(ours) keep documents not yet inserted here while the server is away "
     "and across restarts; unset: they are dropped and counted",
     0},
    {"mongo_spool_mem", PM_OPT_SIZE, 0, MCFG(out.spool_mem), "64M", "bytes",
     "(ours) documents not yet inserted held in memory before spilling to "
     "the spool",
     0},
    {"mongo_flush_timeout", PM_OPT_DURATION, 0, MCFG(out.flush_timeout), "10",
     "seconds",
     "(ours) at shutdown, how long to try inserting before "
     "spooling",
     0},
    {"mongo_host", PM_OPT_STR, 0, MCFG(host), "localhost", "host[:port]",
     "MongoDB server (port 27017 unless given); a mongodb:// URI is taken "
     "as it is (ours)",
     0},
    {"mongo_user", PM_OPT_STR, 0, MCFG(user), NULL, "user",
     "user name (SCRAM); with neither user nor password: no authentication", 0},
    {"mongo_passwd", PM_OPT_STR, PM_OPTF_SECRET, MCFG(passwd), NULL, "password",
     "password (default arealsmartpwd when only mongo_user is "
     "set)",
     0},
    {"mongo_table", PM_OPT_STR, 0, MCFG(table), "pmacct.acct", "db.collection",
     "where documents go (strftime and $-variables: per aggregate)", 0},
    {"mongo_insert_batch", PM_OPT_UINT, 0, MCFG(insert_batch), "10000",
     "documents",
     "documents per insert command (at most 1000 are handed "
     "over at a time)",
     0},
    {"mongo_indexes_file", PM_OPT_PATH, 0, MCFG(indexes_file), NULL, "file",
     "one index per line: comma-separated fields, created ascending in "
     "every collection before its first insert",
     0},
    {"mongo_preprocess", PM_OPT_LIST, 0, MCFG(out.preprocess), NULL,
     "minp=N,minb=N,...",
     "checks and actions applied to aggregates at purge time", 0},
    {"mongo_preprocess_type", PM_OPT_ENUM, 0, MCFG(out.preprocess_type), "any",
     "any|all", "whether one or all mongo_preprocess checks must pass", 0},
    {"mongo_trigger_exec", PM_OPT_PATH, 0, MCFG(out.trigger_exec), NULL, "path",
     "executable started after each purge", 0},
    PM_OPTION_END,
};

static int name_fn(void *ud, const struct pm_rec *rec, time_t t, char *dest,
                   char *key)
{
    struct mongo_ctx *c = ud;
    (void)key;
    if (c->table_static) {
        if (strlen(c->cfg->table) >= PMB_NAME_MAX)
            return -ENAMETOOLONG;
        strcpy(dest, c->cfg->table);
        return 0;
    }
    return c->host->path_expand(c->inst, c->cfg->table, t, rec, dest,
                                PMB_NAME_MAX) < 0
               ? -ENAMETOOLONG
               : 0;
}

/* ---- indexes file -------------------------------------------------------- */

static int read_indexes(struct mongo_ctx *c)
{
    FILE *f = fopen(c->cfg->indexes_file, "r");
    char line[1024], err[200], name[MONGO_INDEX_NAME];
    unsigned ln = 0;
    int rc = 0;
    if (!f) {
        rc = -errno;
        PM_ERR(c->host, c->inst, "mongo_indexes_file: %s: %s",
               c->cfg->indexes_file, strerror(errno));
        return rc;
    }
    while (fgets(line, sizeof(line), f)) {
        bson_t key = BSON_INITIALIZER;
        ln++;
        if (!strchr(line, '\n') && !feof(f)) {
            PM_ERR(c->host, c->inst, "%s:%u: line too long",
                   c->cfg->indexes_file, ln);
            bson_destroy(&key);
            rc = -EINVAL;
            break;
        }
        int r =
            mdoc_index_line(line, &key, name, sizeof(name), err, sizeof(err));
        if (r < 0) {
            PM_ERR(c->host, c->inst, "%s:%u: %s", c->cfg->indexes_file, ln,
                   err);
            bson_destroy(&key);
            rc = r;
            break;
        }
        if (r == 0) {
            bson_destroy(&key);
            continue;
        }
        bson_t *ix = bson_new();
        bson_t *nv = realloc(c->indexes, (c->nindexes + 1) * sizeof(*nv));
        if (!ix || !nv) {
            bson_destroy(&key);
            if (ix)
                bson_destroy(ix);
            if (nv)
                c->indexes = nv;
            rc = -ENOMEM;
            break;
        }
        c->indexes = nv;
        BSON_APPEND_DOCUMENT(ix, "key", &key);
        BSON_APPEND_UTF8(ix, "name", name);
        bson_destroy(&key);
        bson_init(&c->indexes[c->nindexes]);
        bson_copy_to(ix, &c->indexes[c->nindexes]);
        bson_destroy(ix);
        c->nindexes++;
    }
    fclose(f);
    if (rc == 0 && c->nindexes == 0)
        PM_WARN(c->host, c->inst, "mongo_indexes_file %s: no index defined",
                c->cfg->indexes_file);
    return rc;
}

/* ---- init / pipeline side ------------------------------------------------ */

/* libmongoc's own messages: warnings and worse to stderr, its info and
 * debug lines (one per failed connection or authentication) dropped: the
 * failure is logged by msend.c with the instance's name.  The handler is
 * libmongoc's process-wide setting; it keeps no state. */
static void mongoc_log_fn(mongoc_log_level_t level, const char *domain,
                          const char *message, void *ud)
{
    (void)ud;
    if (level <= MONGOC_LOG_LEVEL_WARNING)
        fprintf(stderr, "libmongoc %s: %s: %s\n", mongoc_log_level_str(level),
                domain, message);
}

static void mongo_fini(void *vctx);

static int split_host(struct mongo_ctx *c)
{
    const char *h = c->cfg->host, *colon;
    c->port = 27017;
    if (h[0] == '[' && (colon = strstr(h, "]:"))) {
        snprintf(c->hostname, sizeof(c->hostname), "%.*s", (int)(colon - h - 1),
                 h + 1);
        c->port = atoi(colon + 2);
    } else if (h[0] == '[') {
        snprintf(c->hostname, sizeof(c->hostname), "%.*s",
                 (int)strcspn(h + 1, "]"), h + 1);
    } else if ((colon = strchr(h, ':')) && colon == strrchr(h, ':')) {
        snprintf(c->hostname, sizeof(c->hostname), "%.*s", (int)(colon - h), h);
        c->port = atoi(colon + 1);
    } else {
        snprintf(c->hostname, sizeof(c->hostname), "%s", h);
    }
    if (c->port <= 0 || c->port > 65535 || !c->hostname[0]) {
        PM_ERR(c->host, c->inst, "mongo_host: '%s': expected host[:port]", h);
        return -EINVAL;
    }
    return 0;
}

int mongo_check_table(const char *table, char *err, size_t errlen)
{
    const char *dot = strchr(table, '.');
    if (!dot || dot == table || !dot[1]) {
        snprintf(err, errlen, "'%s': expected <database>.<collection>", table);
        return -EINVAL;
    }
    if (memchr(table, '/', (size_t)(dot - table)) ||
        memchr(table, ' ', (size_t)(dot - table)) ||
        memchr(table, '"', (size_t)(dot - table))) {
        snprintf(err, errlen, "'%s': the database name has '/', ' ' or '\"'",
                 table);
        return -EINVAL;
    }
    return 0;
}

static int mongo_init(const struct pm_host *host,
                      const struct pm_instance *inst, void *config, void **ctxp)
{
    struct mongo_config *cfg = config;
    struct mongo_ctx *c = calloc(1, sizeof(*c));
    char err[300];
    int rc = -EINVAL;
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    /* the shared keys, with mongo_time_roundoff standing in for
     * mongo_history_roundoff (a copy: the config's strings are the core's) */
    c->outcfg = cfg->out;
    if (!c->outcfg.history_roundoff)
        c->outcfg.history_roundoff = cfg->time_roundoff;
    if (!strncmp(cfg->host, "mongodb://", 10) ||
        !strncmp(cfg->host, "mongodb+srv://", 14)) {
        c->is_uri = 1;
    } else if ((rc = split_host(c)) < 0) {
        goto fail;
    }
    rc = -EINVAL;
    if (mongo_check_table(cfg->table, err, sizeof(err)) < 0) {
        PM_ERR(host, inst, "mongo_table: %s", err);
        goto fail;
    }
    if (cfg->insert_batch == 0) {
        PM_ERR(host, inst, "mongo_insert_batch: must be at least 1");
        goto fail;
    }
    c->table_static = !strchr(cfg->table, '$') && !strchr(cfg->table, '%');
    if (cfg->indexes_file && (rc = read_indexes(c)) < 0)
        goto fail;
    c->c_rejected = host->counter(inst, "rejected",
                                  "documents dropped: not convertible or "
                                  "refused by the server");
    c->c_inserts =
        host->counter(inst, "insert_commands", "insert commands acknowledged");
    c->c_indexes = host->counter(inst, "index_commands",
                                 "createIndexes commands acknowledged");
    if (!c->c_rejected || !c->c_inserts || !c->c_indexes) {
        rc = -ENOMEM;
        goto fail;
    }
    mongoc_init(); /* once per process (pthread_once inside) */
    mongoc_log_set_handler(mongoc_log_fn, NULL);
    {
        struct pmb_out_params p = {
            .prefix = "mongo",
            .cfg = &c->outcfg,
            .name = name_fn,
            .name_ud = c,
            .per_row_names = !c->table_static,
            .ops = &mongo_ops,
            .ops_ud = c,
        };
        if ((rc = pmb_out_new(host, inst, &p, &c->out)) < 0)
            goto fail;
    }
    *ctxp = c;
    return 0;
fail:
    mongo_fini(c);
    return rc;
}

static void mongo_fini(void *vctx)
{
    struct mongo_ctx *c = vctx;
    if (!c)
        return;
    pmb_out_free(c->out); /* joins the delivery thread first */
    mongo_conn_close(c);
    for (size_t i = 0; i < c->nindexes; i++)
        bson_destroy(&c->indexes[i]);
    free(c->indexes);
    free(c);
}

static const struct pm_module_desc mongo_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "mongodb",
    .version = "1.0",
    .summary = "aggregates as documents in MongoDB (libmongoc, disk spool)",
    .options = mongo_options,
    .config_size = sizeof(struct mongo_config),
    .init = mongo_init,
    .process = pmb_ctx_process,
    .tick = pmb_ctx_tick,
    .flush = pmb_ctx_flush,
    .fini = mongo_fini,
};

PM_MODULE_EXPORT(mongo_desc)
