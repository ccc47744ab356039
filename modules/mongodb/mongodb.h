/*
 * mongodb.h - private to the mongodb output: its config, its instance
 * context, and the split between mongodb.c (options, init, pipeline side)
 * and msend.c (connection, indexes, the delivery thread's send callback).
 *
 * Threads: see mongodb.c; the connection fields of struct mongo_ctx
 * (client, done[]) belong to the delivery thread.
 */
#ifndef PMACCT_MONGODB_H
#define PMACCT_MONGODB_H

#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include <pmacct/pm_host.h>

#include "modules/broker/pmbroker.h"
#include "modules/mongodb/mdoc.h"

struct mongo_config {
    struct pmb_out_config out; /* first: the shared keys */
    char *host;
    char *user;
    char *passwd;
    char *table;
    uint64_t insert_batch;
    char *indexes_file;
    char *time_roundoff;
};

#define MONGO_INDEX_NAME 256
#define MONGO_DONE_MAX 256 /* collections remembered as indexed */

struct mongo_ctx {
    struct pmb_out *out; /* first: pmb_ctx_process/tick/flush */
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct mongo_config *cfg;
    struct pmb_out_config outcfg; /* cfg->out + mongo_time_roundoff */
    char hostname[256];
    int port;
    int is_uri;
    int table_static;
    bson_t *indexes; /* {key: {...}, name: "..."} per mongo_indexes_file line */
    size_t nindexes;
    uint64_t *c_rejected, *c_inserts, *c_indexes;
    /* delivery thread only */
    mongoc_client_t *client;
    char *done[MONGO_DONE_MAX]; /* "db.coll" whose indexes exist (ring) */
    size_t ndone;
};

extern const struct pmb_ops mongo_ops;

/* Check a (possibly expanded) mongo_table value: "<db>.<collection>". */
int mongo_check_table(const char *table, char *err, size_t errlen);
/* Build the client's URI from the config (host, port or URI, user,
 * password, auth source = the database of a static mongo_table, else
 * admin; short timeouts).  NULL with err set on a bad mongo_host URI. */
mongoc_uri_t *mongo_build_uri(const struct mongo_ctx *c, char *err,
                              size_t errlen);
void mongo_conn_close(struct mongo_ctx *c);

#endif
