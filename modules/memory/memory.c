/*
 * memory.c - the memory output module (pmacct's "memory" plugin): records
 * are aggregated into the host's cache and served to the `pmacct` client
 * over a UNIX stream socket (imt_path) speaking the PMQ protocol
 * (sdk/include/pmacct/pm_query.h, docs/client-protocol.md).
 *
 * Threads: process() runs on the pipeline thread; a server thread started
 * by start() accepts one connection at a time and answers it (query.c).
 * Both take ctx->mu around every use of the cache.  stop() wakes the server
 * thread through a pipe, joins it and removes the socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "memory.h"

#define MEM_READ_TIMEOUT_MS 5000

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

/* Does the aggregate ask for the flows counter?  The registry has no
 * primitive for it, so look at the configured text. */
static int aggregate_has_flows(const struct pm_host *host,
                               const struct pm_instance *inst)
{
    const char *a = host->conf_get ? host->conf_get(inst, "aggregate") : NULL;
    if (!a)
        return 0;
    for (const char *p = a; (p = strstr(p, "flows")) != NULL; p += 5) {
        int lb = (p == a) || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\t';
        int rb = p[5] == 0 || p[5] == ',' || p[5] == ' ' || p[5] == '\t';
        if (lb && rb)
            return 1;
    }
    return 0;
}

static int mem_init(const struct pm_host *host, const struct pm_instance *inst,
                    void *config, void **ctxp)
{
    struct mem_config *cfg = config;
    struct mem_ctx *m = calloc(1, sizeof(*m));
    int rc;

    if (!m)
        return -ENOMEM;
    m->host = host;
    m->inst = inst;
    m->cfg = cfg;
    m->listen_fd = -1;
    m->wake[0] = m->wake[1] = -1;
    if (!cfg->imt_path || !cfg->imt_path[0]) {
        host->log(inst, PM_LOG_ERR, "imt_path: empty path");
        rc = -EINVAL;
        goto fail;
    }
    if (strlen(cfg->imt_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        host->log(inst, PM_LOG_ERR,
                  "imt_path '%s': longer than a UNIX socket path may be "
                  "(%zu bytes)",
                  cfg->imt_path,
                  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        rc = -ENAMETOOLONG;
        goto fail;
    }
    if (cfg->imt_path_mode) {
        char *end;
        long mode = strtol(cfg->imt_path_mode, &end, 8);
        if (*end || mode < 0 || mode > 07777) {
            host->log(inst, PM_LOG_ERR,
                      "imt_path_mode: expected octal permission bits like "
                      "0660, got '%s'",
                      cfg->imt_path_mode);
            rc = -EINVAL;
            goto fail;
        }
    }
    if (cfg->imt_buckets == 0 || cfg->imt_buckets > 100000000) {
        host->log(inst, PM_LOG_ERR,
                  "imt_buckets: expected 1..100000000, got %llu",
                  (unsigned long long)cfg->imt_buckets);
        rc = -EINVAL;
        goto fail;
    }
    if ((rc = pthread_mutex_init(&m->mu, NULL)) != 0) {
        rc = -rc;
        goto fail;
    }
    struct pm_cache_cfg cc = {0};
    cc.max_entries = cfg->max_entries;
    m->cache = host->cache_new(inst, &cc);
    if (!m->cache) {
        host->log(inst, PM_LOG_ERR, "cannot create the aggregation cache");
        pthread_mutex_destroy(&m->mu);
        rc = -ENOMEM;
        goto fail;
    }
    m->show_flows = aggregate_has_flows(host, inst);
    m->c_records = host->counter(inst, "records", "records accounted");
    m->c_queries = host->counter(inst, "queries", "client queries answered");
    m->c_query_errors =
        host->counter(inst, "query_errors", "client queries refused");
    m->c_overflows = host->counter(
        inst, "overflows", "records refused by memory_max_entries (new aggregates)");
    m->c_clears = host->counter(inst, "clears", "table clears (pmacct -e)");
    *ctxp = m;
    return 0;
fail:
    free(m);
    return rc;
}

/* Is somebody answering on path?  1 yes, 0 no. */
static int socket_alive(const char *path)
{
    struct sockaddr_un sa = {0};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int alive = 0;

    if (fd < 0)
        return 0;
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        alive = 1;
    close(fd);
    return alive;
}

/* Read one request (up to the empty line) with a deadline. */
static int read_request(int fd, char **reqp, size_t *lenp)
{
    size_t cap = 4096, len = 0;
    char *req = malloc(cap);
    int rc;

    if (!req)
        return -ENOMEM;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int n = poll(&pf, 1, MEM_READ_TIMEOUT_MS);
        if (n == 0) {
            rc = -ETIMEDOUT;
            goto fail;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto fail;
        }
        if (len + 1 >= cap) {
            if (cap >= PMQ_MAX_REQUEST) {
                rc = -E2BIG;
                goto fail;
            }
            char *nr = realloc(req, cap * 2);
            if (!nr) {
                rc = -ENOMEM;
                goto fail;
            }
            req = nr;
            cap *= 2;
        }
        ssize_t r = read(fd, req + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            rc = -errno;
            goto fail;
        }
        if (r == 0)
            break; /* EOF: answer what we have (it may lack the blank) */
        len += (size_t)r;
        req[len] = 0;
        if ((len == 1 && req[0] == '\n') || strstr(req, "\n\n"))
            break;
    }
    req[len] = 0;
    *reqp = req;
    *lenp = len;
    return 0;
fail:
    free(req);
    return rc;
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* client went away */
        }
        p += w;
        len -= (size_t)w;
    }
}

static void serve_one(struct mem_ctx *m, int fd)
{
    char *req = NULL;
    size_t len = 0;
    struct pm_buf out = {0};
    int rc = read_request(fd, &req, &len);

    if (rc < 0) {
        m->host->log_limited(m->inst, PM_LOG_WARNING, "memory-read",
                             "%s: client request not read: %s",
                             m->cfg->imt_path, strerror(-rc));
        pm_counter_add(m->c_query_errors, 1);
        goto out;
    }
    if (mem_answer(m, req, len, &out) < 0) {
        static const char oom[] = PMQ_HELLO " " PMQ_ERR " out of memory\n";
        write_all(fd, oom, sizeof(oom) - 1);
        goto out;
    }
    write_all(fd, out.p, out.len);
out:
    free(out.p);
    free(req);
}

static void *server_main(void *arg)
{
    struct mem_ctx *m = arg;

    for (;;) {
        struct pollfd pf[2] = {{.fd = m->listen_fd, .events = POLLIN},
                               {.fd = m->wake[0], .events = POLLIN}};
        int n = poll(pf, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            m->host->log(m->inst, PM_LOG_ERR, "%s: poll: %s",
                         m->cfg->imt_path, strerror(errno));
            break;
        }
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                m->host->log_limited(m->inst, PM_LOG_WARNING, "memory-accept",
                                     "%s: accept: %s", m->cfg->imt_path,
                                     strerror(errno));
            continue;
        }
        serve_one(m, fd);
        close(fd);
    }
    return NULL;
}

static int mem_start(void *ctx)
{
    struct mem_ctx *m = ctx;
    const char *path = m->cfg->imt_path;
    struct sockaddr_un sa = {0};
    struct stat st;
    int rc;

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            m->host->log(m->inst, PM_LOG_ERR,
                         "imt_path '%s': exists and is not a socket; "
                         "refusing to replace it",
                         path);
            return -EEXIST;
        }
        if (socket_alive(path)) {
            m->host->log(m->inst, PM_LOG_ERR,
                         "imt_path '%s': another daemon answers on it; give "
                         "each memory table its own imt_path",
                         path);
            return -EADDRINUSE;
        }
        unlink(path); /* stale socket of a dead daemon */
    }
    m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m->listen_fd < 0) {
        rc = -errno;
        m->host->log(m->inst, PM_LOG_ERR, "imt_path '%s': socket: %s", path,
                     strerror(errno));
        goto fail;
    }
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    if (bind(m->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        m->host->log(m->inst, PM_LOG_ERR, "imt_path '%s': bind: %s", path,
                     strerror(errno));
        goto fail;
    }
    m->socket_created = 1;
    if (m->cfg->imt_path_mode &&
        chmod(path, (mode_t)strtol(m->cfg->imt_path_mode, NULL, 8)) < 0) {
        rc = -errno;
        m->host->log(m->inst, PM_LOG_ERR, "imt_path '%s': chmod %s: %s", path,
                     m->cfg->imt_path_mode, strerror(errno));
        goto fail;
    }
    if (listen(m->listen_fd, 64) < 0) {
        rc = -errno;
        m->host->log(m->inst, PM_LOG_ERR, "imt_path '%s': listen: %s", path,
                     strerror(errno));
        goto fail;
    }
    if (pipe2(m->wake, O_CLOEXEC) < 0) {
        rc = -errno;
        m->wake[0] = m->wake[1] = -1;
        goto fail;
    }
    if ((rc = pthread_create(&m->thread, NULL, server_main, m)) != 0) {
        rc = -rc;
        m->host->log(m->inst, PM_LOG_ERR, "cannot start the server thread: %s",
                     strerror(-rc));
        goto fail;
    }
    m->thread_started = 1;
    m->host->log(m->inst, PM_LOG_INFO, "waiting for data on: '%s'", path);
    return 0;
fail:
    if (m->socket_created) {
        unlink(path);
        m->socket_created = 0;
    }
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    m->listen_fd = -1;
    for (int i = 0; i < 2; i++) {
        if (m->wake[i] >= 0)
            close(m->wake[i]);
        m->wake[i] = -1;
    }
    return rc;
}

static int mem_process(void *ctx, struct pm_batch *b)
{
    struct mem_ctx *m = ctx;
    uint64_t ov;
    int n;

    pthread_mutex_lock(&m->mu);
    n = m->host->cache_add(m->cache, b);
    ov = m->host->cache_overflows(m->cache);
    pthread_mutex_unlock(&m->mu);
    if (n > 0)
        pm_counter_add(m->c_records, (uint64_t)n);
    if (ov > m->overflows_seen) { /* only the pipeline thread writes this */
        pm_counter_add(m->c_overflows, ov - m->overflows_seen);
        m->host->log_limited(m->inst, PM_LOG_WARNING, "memory-full",
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

    if (m->thread_started) {
        ssize_t w;
        do
            w = write(m->wake[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(m->thread, NULL);
        m->thread_started = 0;
    }
    if (m->listen_fd >= 0) {
        close(m->listen_fd);
        m->listen_fd = -1;
    }
    if (m->socket_created) {
        unlink(m->cfg->imt_path);
        m->socket_created = 0;
    }
    for (int i = 0; i < 2; i++) {
        if (m->wake[i] >= 0)
            close(m->wake[i]);
        m->wake[i] = -1;
    }
}

static void mem_fini(void *ctx)
{
    struct mem_ctx *m = ctx;

    if (!m)
        return;
    mem_stop(m);
    m->host->cache_free(m->cache);
    pthread_mutex_destroy(&m->mu);
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
