/*
 * pmq_server.c - the UNIX socket server of libpmquery: creates the socket
 * at imt_path (replacing a stale one), and runs one thread that accepts
 * one connection at a time, reads a request with a deadline and writes
 * the answer of pmq_answer (pmq_answer.c).  pmq_server_stop wakes the
 * thread through a pipe, joins it and removes the socket.
 *
 * Threads: start/stop run on the owner's lifecycle thread; the server
 * thread only reads the table under t->mu (inside pmq_answer).
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

#include "pmq.h"

#define PMQ_READ_TIMEOUT_MS 5000

/* Does the aggregate ask for the flows counter?  The registry has no
 * primitive for it, so look at the configured text. */
int pmq_aggregate_has_flows(const struct pm_host *host,
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
        int n = poll(&pf, 1, PMQ_READ_TIMEOUT_MS);
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

static void serve_one(struct pmq_table *m, int fd)
{
    char *req = NULL;
    size_t len = 0;
    struct pm_buf out = {0};
    int rc = read_request(fd, &req, &len);

    if (rc < 0) {
        m->host->log_limited(m->inst, PM_LOG_WARNING, "pmq-read",
                             "%s: client request not read: %s",
                             m->path, strerror(-rc));
        pm_counter_add(m->c_query_errors, 1);
        goto out;
    }
    if (pmq_answer(m, req, len, &out) < 0) {
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
    struct pmq_table *m = arg;

    for (;;) {
        struct pollfd pf[2] = {{.fd = m->listen_fd, .events = POLLIN},
                               {.fd = m->wake[0], .events = POLLIN}};
        int n = poll(pf, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            m->host->log(m->inst, PM_LOG_ERR, "%s: poll: %s",
                         m->path, strerror(errno));
            break;
        }
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                m->host->log_limited(m->inst, PM_LOG_WARNING, "pmq-accept",
                                     "%s: accept: %s", m->path,
                                     strerror(errno));
            continue;
        }
        serve_one(m, fd);
        close(fd);
    }
    return NULL;
}

int pmq_server_start(struct pmq_table *m)
{
    const char *path = m->path;
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
    if (m->path_mode &&
        chmod(path, (mode_t)strtol(m->path_mode, NULL, 8)) < 0) {
        rc = -errno;
        m->host->log(m->inst, PM_LOG_ERR, "imt_path '%s': chmod %s: %s", path,
                     m->path_mode, strerror(errno));
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

void pmq_server_stop(struct pmq_table *m)
{

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
        unlink(m->path);
        m->socket_created = 0;
    }
    for (int i = 0; i < 2; i++) {
        if (m->wake[i] >= 0)
            close(m->wake[i]);
        m->wake[i] = -1;
    }
}


int pmq_table_init(struct pmq_table *t)
{
    const struct pm_host *host = t->host;
    const struct pm_instance *inst = t->inst;
    int rc;

    t->listen_fd = -1;
    t->wake[0] = t->wake[1] = -1;
    if (!t->path || !t->path[0]) {
        host->log(inst, PM_LOG_ERR, "imt_path: empty path");
        return -EINVAL;
    }
    if (strlen(t->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        host->log(inst, PM_LOG_ERR,
                  "imt_path '%s': longer than a UNIX socket path may be "
                  "(%zu bytes)",
                  t->path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return -ENAMETOOLONG;
    }
    if (t->path_mode) {
        char *end;
        long mode = strtol(t->path_mode, &end, 8);
        if (*end || mode < 0 || mode > 07777) {
            host->log(inst, PM_LOG_ERR,
                      "imt_path_mode: expected octal permission bits like "
                      "0660, got '%s'",
                      t->path_mode);
            return -EINVAL;
        }
    }
    if (t->buckets == 0 || t->buckets > 100000000) {
        host->log(inst, PM_LOG_ERR,
                  "imt_buckets: expected 1..100000000, got %llu",
                  (unsigned long long)t->buckets);
        return -EINVAL;
    }
    if ((rc = pthread_mutex_init(&t->mu, NULL)) != 0)
        return -rc;
    t->mu_ready = 1;
    t->show_flows = pmq_aggregate_has_flows(host, inst);
    t->c_queries = host->counter(inst, "queries", "client queries answered");
    t->c_query_errors =
        host->counter(inst, "query_errors", "client queries refused");
    t->c_clears = host->counter(inst, "clears", "table clears (pmacct -e)");
    return 0;
}

void pmq_table_fini(struct pmq_table *t)
{
    pmq_server_stop(t);
    if (t->mu_ready) {
        pthread_mutex_destroy(&t->mu);
        t->mu_ready = 0;
    }
}
