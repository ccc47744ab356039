/*
 * memory.h - internal interface of the memory output module: the instance
 * context of memory.c.  The table, its lock and the PMQ/1 socket server
 * are the shared ones of modules/common/pmq/ (libpmquery).
 *
 * Shared between threads: the context is read by the pipeline thread
 * (process) and the server thread (queries).  t.mu protects the cache and
 * t.last_clear; everything else is set before the server thread starts and
 * read-only afterwards (counters are atomic).
 */
#ifndef PM_MEMORY_H
#define PM_MEMORY_H

#include <stdint.h>

#include "pmq.h"

struct mem_config {
    char *imt_path;
    uint64_t imt_buckets;
    uint64_t imt_mem_pools_number;
    uint64_t imt_mem_pools_size;
    uint64_t max_entries;
    char *imt_path_mode; /* octal permission bits of the socket, or NULL */
};

struct mem_ctx {
    struct pmq_table t; /* table, lock, socket server */
    const struct mem_config *cfg;
    uint64_t overflows_seen; /* cache_overflows at the last check */
    uint64_t *c_records;
    uint64_t *c_overflows;
};

/* Answer one complete request (pmq_answer on the instance's table). */
int mem_answer(struct mem_ctx *m, const char *req, size_t len,
               struct pm_buf *out);

#endif /* PM_MEMORY_H */
