/*
 * pmq.h - the PMQ/1 table server shared by the queryable outputs (memory,
 * bdb): a UNIX socket server thread (pmq_server.c) answering the `pmacct`
 * client's requests (pmq_parse.c: request parsing and -M/-N matching;
 * pmq_answer.c: tables, counters, status) from an aggregation cache.
 * Built as the convenience library libpmquery.la (modules/common/pmq/
 * pmq.am) and linked into each queryable module.
 *
 * The owner (a module instance) embeds a struct pmq_table in its context,
 * fills the fields marked "owner" before pmq_table_init()/start, and uses
 * the cache only while holding `mu`.
 *
 * Shared between threads: the table is read by the pipeline thread
 * (process) and the server thread (queries).  `mu` protects cache and
 * last_clear; everything else is set before the server thread starts and
 * read-only afterwards (counters are atomic).
 */
#ifndef PM_PMQ_H
#define PM_PMQ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_query.h>
#include <pmacct/pm_record.h>

struct pmq_table {
    /* owner: set before pmq_table_init */
    const struct pm_host *host;
    const struct pm_instance *inst;
    const char *path;      /* imt_path: the UNIX socket */
    const char *path_mode; /* octal permission bits of the socket, or NULL */
    uint64_t buckets;      /* imt_buckets: shapes the -t listing */
    /* Called by pmq_answer after the lock is released when the request
     * changed the table: cleared (-e) or reset rows (-r).  May be NULL.
     * A negative return turns the answer into an error. */
    int (*changed)(void *owner, int cleared);
    void *owner;

    /* set by pmq_table_init */
    pthread_mutex_t mu;      /* protects cache, last_clear */
    struct pm_cache *cache;  /* owner creates it (host->cache_new) */
    time_t last_clear;       /* 0: never cleared */
    int show_flows;          /* "flows" in the aggregate: FLOWS column */
    int stamps;              /* owner: time bins: stamp columns */
    uint64_t *c_queries;
    uint64_t *c_query_errors;
    uint64_t *c_clears;

    /* server (pmq_server.c) */
    int listen_fd;
    int wake[2]; /* stop pipe: the server thread polls wake[0] */
    int thread_started;
    int socket_created;
    int mu_ready;
    pthread_t thread;
};

/* Check path/path_mode/buckets (logging the reason), init the mutex and
 * register the counters queries, query_errors, clears.  The cache is the
 * owner's.  Returns 0 or -errno. */
int pmq_table_init(struct pmq_table *t);

/* Destroy what pmq_table_init made (after pmq_server_stop). */
void pmq_table_fini(struct pmq_table *t);

/* Does the instance's aggregate text ask for the flows counter? */
int pmq_aggregate_has_flows(const struct pm_host *host,
                            const struct pm_instance *inst);

/* Answer one complete request (the bytes up to and including the empty
 * line) by appending the whole response - status line and body - to out.
 * Takes t->mu itself.  Returns 0, or -ENOMEM (out is then unusable). */
int pmq_answer(struct pmq_table *t, const char *req, size_t len,
               struct pm_buf *out);

/* Create the socket at t->path (replacing a stale one, refusing a live one
 * or a non-socket) and start the server thread.  Returns 0 or -errno. */
int pmq_server_start(struct pmq_table *t);

/* Stop the server thread and remove the socket; idempotent. */
void pmq_server_stop(struct pmq_table *t);

#endif /* PM_PMQ_H */
