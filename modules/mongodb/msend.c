/*
 * msend.c - the mongodb output's delivery side, run by the broker
 * queue's thread (modules/broker/pmbroker.c): the libmongoc client (one,
 * created on first use; libmongoc reconnects by itself), the indexes of
 * mongo_indexes_file created once per collection before its first insert,
 * and the send callback.
 *
 * send(): messages come in order; each run of messages bound for the same
 * collection is converted (mdoc.c) and inserted in ordered batches of
 * mongo_insert_batch.  Acknowledged documents are delivered; a document
 * the server refuses (a write error) or that cannot be converted is
 * dropped, logged and counted `rejected` (retrying it would block the
 * queue forever); on any other failure (server away, timeout) the
 * documents not acknowledged are retried later by the queue, so a
 * document may be inserted twice, never lost.
 *
 * Threads: everything here runs on the delivery thread, except
 * mongo_build_uri (also called by init for a check) and mongo_conn_close
 * (fini, after the thread is joined).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/mongodb/mongodb.h"

mongoc_uri_t *mongo_build_uri(const struct mongo_ctx *c, char *err,
                              size_t errlen)
{
    const struct mongo_config *cfg = c->cfg;
    bson_error_t e;
    char text[400];
    mongoc_uri_t *u;
    if (c->is_uri)
        snprintf(text, sizeof(text), "%s", cfg->host);
    else
        snprintf(text, sizeof(text),
                 strchr(c->hostname, ':') ? "mongodb://[%s]:%d/"
                                          : "mongodb://%s:%d/",
                 c->hostname, c->port);
    if (!(u = mongoc_uri_new_with_error(text, &e))) {
        snprintf(err, errlen, "mongo_host: '%s': %s", cfg->host, e.message);
        return NULL;
    }
    if (cfg->user || cfg->passwd) {
        /* pmacct: when only one is given the other takes its default */
        char db[200];
        size_t dl = strcspn(cfg->table, ".");
        mongoc_uri_set_username(u, cfg->user ? cfg->user : "pmacct");
        mongoc_uri_set_password(u, cfg->passwd ? cfg->passwd : "arealsmartpwd");
        if (!mongoc_uri_get_auth_source(u) ||
            !mongoc_uri_has_option(u, MONGOC_URI_AUTHSOURCE)) {
            if (c->table_static && dl < sizeof(db)) {
                memcpy(db, cfg->table, dl);
                db[dl] = 0;
            } else {
                snprintf(db, sizeof(db), "admin");
            }
            mongoc_uri_set_auth_source(u, db);
        }
    }
    if (!mongoc_uri_has_option(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                       2000);
    if (!mongoc_uri_has_option(u, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
    if (!mongoc_uri_has_option(u, MONGOC_URI_SOCKETTIMEOUTMS))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_SOCKETTIMEOUTMS, 10000);
    if (!mongoc_uri_get_appname(u))
        mongoc_uri_set_appname(u, "pmacct");
    return u;
}

void mongo_conn_close(struct mongo_ctx *c)
{
    if (c->client)
        mongoc_client_destroy(c->client);
    c->client = NULL;
    for (size_t i = 0; i < MONGO_DONE_MAX; i++) {
        free(c->done[i]);
        c->done[i] = NULL;
    }
    c->ndone = 0;
}

static int conn_open(struct mongo_ctx *c)
{
    char err[400];
    bson_error_t e;
    mongoc_uri_t *u = mongo_build_uri(c, err, sizeof(err));
    if (!u) {
        c->host->log_limited(c->inst, PM_LOG_ERR, "mongo-conn", "%s", err);
        return -EINVAL;
    }
    c->client = mongoc_client_new_from_uri_with_error(u, &e);
    mongoc_uri_destroy(u);
    if (!c->client) {
        c->host->log_limited(c->inst, PM_LOG_ERR, "mongo-conn",
                             "mongo_host %s: %s", c->cfg->host, e.message);
        return -EINVAL;
    }
    mongoc_client_set_error_api(c->client, MONGOC_ERROR_API_VERSION_2);
    return 0;
}

/* Errors of the link or the server's availability: retry later. */
static int transient(const bson_error_t *e)
{
    return e->domain == MONGOC_ERROR_STREAM ||
           e->domain == MONGOC_ERROR_SERVER_SELECTION ||
           e->domain == MONGOC_ERROR_PROTOCOL ||
           (e->domain == MONGOC_ERROR_CLIENT &&
            e->code == MONGOC_ERROR_CLIENT_AUTHENTICATE);
}

static int indexed(const struct mongo_ctx *c, const char *ns)
{
    for (size_t i = 0; i < MONGO_DONE_MAX; i++)
        if (c->done[i] && !strcmp(c->done[i], ns))
            return 1;
    return 0;
}

static void mark_indexed(struct mongo_ctx *c, const char *ns)
{
    size_t slot = c->ndone++ % MONGO_DONE_MAX;
    free(c->done[slot]);
    c->done[slot] = strdup(ns); /* NULL on ENOMEM: indexes asked again */
}

/* createIndexes for every line of mongo_indexes_file (idempotent on the
 * server).  0, or -EIO when the server is away (retry later). */
static int ensure_indexes(struct mongo_ctx *c, const char *ns, const char *db,
                          const char *coll)
{
    bson_t cmd = BSON_INITIALIZER, arr, reply;
    bson_error_t e;
    char k[16];
    const char *ks;
    int rc = 0;
    if (!c->nindexes || indexed(c, ns))
        return 0;
    BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
    for (size_t i = 0; i < c->nindexes; i++) {
        bson_uint32_to_string((uint32_t)i, &ks, k, sizeof(k));
        BSON_APPEND_DOCUMENT(&arr, ks, &c->indexes[i]);
    }
    bson_append_array_end(&cmd, &arr);
    if (mongoc_client_write_command_with_opts(c->client, db, &cmd, NULL, &reply,
                                              &e)) {
        pm_counter_add(c->c_indexes, 1);
        mark_indexed(c, ns);
    } else if (transient(&e)) {
        c->host->log_limited(c->inst, PM_LOG_WARNING, "mongo-conn",
                             "mongo_host %s: %s", c->cfg->host, e.message);
        rc = -EIO;
    } else {
        /* refused (bad field, conflicting index): say so, go on */
        c->host->log_limited(c->inst, PM_LOG_ERR, "mongo-idx",
                             "%s: createIndexes from %s refused: %s", ns,
                             c->cfg->indexes_file, e.message);
        mark_indexed(c, ns);
    }
    bson_destroy(&reply);
    bson_destroy(&cmd);
    return rc;
}

static int64_t reply_int(const bson_t *reply, const char *key)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it))
        return bson_iter_as_int64(&it);
    return -1;
}

/* The index and message of the first write error of an insert reply. */
static int64_t first_write_error(const bson_t *reply, const char **msg)
{
    bson_iter_t it, arr, el;
    int64_t best = -1;
    *msg = "";
    if (!bson_iter_init_find(&it, reply, "writeErrors") ||
        !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr))
        return -1;
    while (bson_iter_next(&arr)) {
        bson_iter_t f;
        int64_t idx = -1;
        const char *m = "";
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &el))
            continue;
        f = el;
        if (bson_iter_find(&f, "index") && BSON_ITER_HOLDS_NUMBER(&f))
            idx = bson_iter_as_int64(&f);
        f = el;
        if (bson_iter_find(&f, "errmsg") && BSON_ITER_HOLDS_UTF8(&f))
            m = bson_iter_utf8(&f, NULL);
        if (idx >= 0 && (best < 0 || idx < best)) {
            best = idx;
            *msg = m;
        }
    }
    return best;
}

#define MONGO_CHUNK 1000 /* the queue hands over at most 1000 messages */

/* Insert msgs[0..n) (one collection, ns) in batches; *status[i] as for
 * send().  0, or -EIO to stop this send (server away). */
static int insert_run(struct mongo_ctx *c, const char *ns,
                      struct pmb_msg **msgs, size_t n, int **status)
{
    char err[300], db[200];
    const char *dot;
    mongoc_collection_t *coll = NULL;
    bson_t docs[MONGO_CHUNK];
    const bson_t *dp[MONGO_CHUNK];
    size_t map[MONGO_CHUNK];
    bson_t opts = BSON_INITIALIZER;
    int rc = 0;

    int bad = mongo_check_table(ns, err, sizeof(err)) < 0;
    dot = strchr(ns, '.');
    if (!bad && (size_t)(dot - ns) >= sizeof(db)) {
        snprintf(err, sizeof(err), "'%.100s...': database name too long", ns);
        bad = 1;
    }
    if (bad) {
        c->host->log_limited(c->inst, PM_LOG_ERR, "mongo-name",
                             "mongo_table expands to %s: %zu documents "
                             "dropped",
                             err, n);
        for (size_t i = 0; i < n; i++)
            *status[i] = 0;
        pm_counter_add(c->c_rejected, n);
        return 0;
    }
    memcpy(db, ns, (size_t)(dot - ns));
    db[dot - ns] = 0;
    if ((rc = ensure_indexes(c, ns, db, dot + 1)) < 0)
        return rc;
    coll = mongoc_client_get_collection(c->client, db, dot + 1);
    BSON_APPEND_BOOL(&opts, "validate", false);
    size_t batch = c->cfg->insert_batch < MONGO_CHUNK
                       ? (size_t)c->cfg->insert_batch
                       : MONGO_CHUNK;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t m = 0, end = i + batch < n ? i + batch : n;
        bson_t reply;
        bson_error_t e;
        for (; i < end; i++) {
            bson_init(&docs[m]);
            if (mdoc_from_json(pmb_payload(msgs[i]), msgs[i]->plen, &docs[m],
                               err, sizeof(err)) < 0) {
                c->host->log_limited(c->inst, PM_LOG_ERR, "mongo-doc",
                                     "%s: aggregate not convertible (%s): "
                                     "dropped: %.200s",
                                     ns, err, pmb_payload(msgs[i]));
                bson_destroy(&docs[m]);
                *status[i] = 0;
                pm_counter_add(c->c_rejected, 1);
                continue;
            }
            dp[m] = &docs[m];
            map[m++] = i;
        }
        if (!m)
            continue;
        if (mongoc_collection_insert_many(coll, dp, m, &opts, &reply, &e)) {
            for (size_t k = 0; k < m; k++)
                *status[map[k]] = 0;
            pm_counter_add(c->c_inserts, 1);
        } else {
            const char *wmsg;
            int64_t werr = first_write_error(&reply, &wmsg);
            int64_t done = reply_int(&reply, "insertedCount");
            if (werr >= 0 && (size_t)werr < m) {
                /* ordered: all before the error are in, it is refused */
                for (int64_t k = 0; k < werr; k++)
                    *status[map[k]] = 0;
                *status[map[werr]] = 0;
                pm_counter_add(c->c_rejected, 1);
                pm_counter_add(c->c_inserts, 1);
                c->host->log_limited(c->inst, PM_LOG_ERR, "mongo-werr",
                                     "%s: document refused by the server "
                                     "(%s): dropped",
                                     ns, wmsg);
                i = map[werr] + 1; /* go on after it */
            } else {
                for (int64_t k = 0; k < done && (size_t)k < m; k++)
                    *status[map[k]] = 0;
                c->host->log_limited(c->inst, PM_LOG_WARNING, "mongo-conn",
                                     "%s: insert into %s: %s", c->cfg->host, ns,
                                     e.message);
                rc = -EIO; /* the rest waits for the queue's retry */
            }
        }
        bson_destroy(&reply);
        for (size_t k = 0; k < m; k++)
            bson_destroy(&docs[k]);
    }
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    return rc;
}

/* Messages of one send() are grouped by collection (the cache walk mixes
 * them when mongo_table has $-variables); the order within a collection is
 * kept. */
static int mongo_send(void *ud, struct pmb *q, struct pmb_msg **msgs, size_t n,
                      int *status)
{
    struct mongo_ctx *c = ud;
    struct pmb_msg *run[MONGO_CHUNK];
    int *rst[MONGO_CHUNK];
    uint8_t taken[MONGO_CHUNK] = {0};
    int rc;
    (void)q;
    if (!c->client && (rc = conn_open(c)) < 0)
        return rc;
    if (n > MONGO_CHUNK)
        n = MONGO_CHUNK; /* the rest stays not delivered: retried */
    for (size_t i = 0; i < n; i++) {
        const char *ns = pmb_dest(msgs[i]);
        size_t m = 0;
        if (taken[i])
            continue;
        for (size_t j = i; j < n; j++)
            if (!taken[j] && (j == i || !strcmp(pmb_dest(msgs[j]), ns))) {
                taken[j] = 1;
                run[m] = msgs[j];
                rst[m++] = &status[j];
            }
        if ((rc = insert_run(c, ns, run, m, rst)) < 0)
            return rc;
    }
    return 0;
}

const struct pmb_ops mongo_ops = {.send = mongo_send};
