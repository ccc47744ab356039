/*
 * memory.c - the memory output module (pmacct's "memory" plugin): records
 * are aggregated into the host's cache and served to the `pmacct` client
 * over a UNIX stream socket (imt_path) speaking the PMQ protocol
 * (sdk/include/pmacct/pm_query.h, docs/client-protocol.md).
 *
 * Threads: process() runs on the pipeline thread; a server thread started
 * by start() accepts one connection at a time and answers it (the shared
 * PMQ server, modules/common/pmq/).  Both take t.mu around every use of the
 * cache.  stop() wakes the server thread, joins it and removes the socket.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"

static const struct pm_option mem_options[] = {
    {"imt_path", PM_OPT_PATH, 0, offsetof(struct mem_config, imt_path),
     PMQ_DEFAULT_PATH, "path",
     "UNIX socket where the memory table answers the pmacct client", 'p'},
    {"imt_buckets", PM_OPT_UINT, 0, offsetof(struct mem_config, imt_buckets),
     "32771", "count",
     "buckets of the table; only shapes the `pmacct -t` status listing "
     "(the cache sizes itself)",
     'b'},
    {"imt_mem_pools_number", PM_OPT_UINT, PM_OPTF_COMPAT,
     offsetof(struct mem_config, imt_mem_pools_number), "16", "count",
     "accepted for compatibility and ignored: memory grows as needed; cap "
     "the table with memory_max_entries",
     'm'},
    {"imt_mem_pools_size", PM_OPT_SIZE, PM_OPTF_COMPAT,
     offsetof(struct mem_config, imt_mem_pools_size), "8192", "bytes",
     "accepted for compatibility and ignored: memory grows as needed; cap "
     "the table with memory_max_entries",
     's'},
    {"memory_max_entries", PM_OPT_UINT, 0,
     offsetof(struct mem_config, max_entries), "0", "count",
     "most aggregates held (0: unbounded); new aggregates beyond are counted "
     "in the overflows counter",
     0},
    {"imt_path_mode", PM_OPT_STR, 0,
     offsetof(struct mem_config, imt_path_mode), NULL, "octal",
     "permission bits of the imt_path socket, e.g. 0660 (default: umask)",
     0},
    PM_OPTION_END};

static int mem_init(const struct pm_host *host, const struct pm_instance *inst,
                    void *config, void **ctxp)
{
    struct mem_config *cfg = config;
    struct mem_ctx *m = calloc(1, sizeof(*m));
    int rc;

    if (!m)
        return -ENOMEM;
    m->cfg = cfg;
    m->t.host = host;
    m->t.inst = inst;
    m->t.path = cfg->imt_path;
    m->t.path_mode = cfg->imt_path_mode;
    m->t.buckets = cfg->imt_buckets;
    m->c_records = host->counter(inst, "records", "records accounted");
    if ((rc = pmq_table_init(&m->t)) < 0)
        goto fail;
    struct pm_cache_cfg cc = {0};
    cc.max_entries = cfg->max_entries;
    m->t.cache = host->cache_new(inst, &cc);
    if (!m->t.cache) {
        host->log(inst, PM_LOG_ERR, "cannot create the aggregation cache");
        rc = -ENOMEM;
        goto fail;
    }
    m->c_overflows = host->counter(
        inst, "overflows", "records refused by memory_max_entries (new aggregates)");
    *ctxp = m;
    return 0;
fail:
    pmq_table_fini(&m->t);
    free(m);
    return rc;
}

static int mem_start(void *ctx)
{
    struct mem_ctx *m = ctx;
    return pmq_server_start(&m->t);
}

int mem_answer(struct mem_ctx *m, const char *req, size_t len,
               struct pm_buf *out)
{
    return pmq_answer(&m->t, req, len, out);
}

static int mem_process(void *ctx, struct pm_batch *b)
{
    struct mem_ctx *m = ctx;
    uint64_t ov;
    int n;

    pthread_mutex_lock(&m->t.mu);
    n = m->t.host->cache_add(m->t.cache, b);
    ov = m->t.host->cache_overflows(m->t.cache);
    pthread_mutex_unlock(&m->t.mu);
    if (n > 0)
        pm_counter_add(m->c_records, (uint64_t)n);
    if (ov > m->overflows_seen) { /* only the pipeline thread writes this */
        pm_counter_add(m->c_overflows, ov - m->overflows_seen);
        m->t.host->log_limited(m->t.inst, PM_LOG_WARNING, "memory-full",
                             "table full (memory_max_entries %llu): new "
                             "aggregates dropped; clear it with pmacct -e",
                             (unsigned long long)m->cfg->max_entries);
        m->overflows_seen = ov;
    } else if (ov < m->overflows_seen) {
        m->overflows_seen = ov; /* cache cleared */
    }
    return n < 0 ? n : 0;
}

static void mem_stop(void *ctx)
{
    struct mem_ctx *m = ctx;
    pmq_server_stop(&m->t);
}

static void mem_fini(void *ctx)
{
    struct mem_ctx *m = ctx;

    if (!m)
        return;
    pmq_table_fini(&m->t);
    m->t.host->cache_free(m->t.cache);
    free(m);
}

static const struct pm_module_desc mem_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "memory",
    .version = "1.0",
    .summary = "in-memory table served to the pmacct client (PMQ/1 over "
               "imt_path)",
    .flags = PM_MF_QUERYABLE,
    .options = mem_options,
    .config_size = sizeof(struct mem_config),
    .init = mem_init,
    .start = mem_start,
    .process = mem_process,
    .stop = mem_stop,
    .fini = mem_fini,
};

PM_MODULE_EXPORT(mem_desc)
