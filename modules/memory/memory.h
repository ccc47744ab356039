/*
 * memory.h - internal interface of the memory output module: the instance
 * context shared by memory.c (lifecycle, UNIX socket server thread) and
 * query.c (PMQ request parsing and answering).
 *
 * Shared between threads: the context is read by the pipeline thread
 * (process) and the server thread (queries).  `mu` protects the cache and
 * `last_clear`; everything else is set before the server thread starts and
 * read-only afterwards (counters are atomic).
 */
#ifndef PM_MEMORY_H
#define PM_MEMORY_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_query.h>
#include <pmacct/pm_record.h>

struct mem_config {
    char *imt_path;
    uint64_t imt_buckets;
    uint64_t imt_mem_pools_number;
    uint64_t imt_mem_pools_size;
    uint64_t max_entries;
    char *imt_path_mode; /* octal permission bits of the socket, or NULL */
};

struct mem_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const struct mem_config *cfg;

    pthread_mutex_t mu;      /* protects cache, last_clear */
    struct pm_cache *cache;
    time_t last_clear;       /* 0: never cleared */
    uint64_t overflows_seen; /* cache_overflows at the last check */

    int show_flows; /* "flows" in the aggregate: FLOWS column */

    /* server */
    int listen_fd;
    int wake[2]; /* stop pipe: the server thread polls wake[0] */
    int thread_started;
    int socket_created;
    pthread_t thread;

    /* counters */
    uint64_t *c_records;
    uint64_t *c_queries;
    uint64_t *c_query_errors;
    uint64_t *c_overflows;
    uint64_t *c_clears;
};

/* Answer one complete request (the bytes up to and including the empty
 * line) by appending the whole response - status line and body - to out.
 * Takes m->mu itself.  Returns 0, or -ENOMEM (out is then unusable). */
int mem_answer(struct mem_ctx *m, const char *req, size_t len,
               struct pm_buf *out);

#endif /* PM_MEMORY_H */
