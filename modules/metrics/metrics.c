/*
 * metrics.c - service module: a tiny HTTP/1.0 server answering
 * `GET /metrics` with every counter of the daemon in the Prometheus text
 * format (host->stats_render).  Started by setting metrics_listen.
 *
 * One connection is served at a time; each has a 2 s deadline to send its
 * request and a 5 s deadline to take the answer, so a slow or silent
 * client never blocks the loop for long.
 *
 * Threads: start()/stop()/fini() on the main thread, run() on the
 * service's thread.  stop() only writes a byte to the wake pipe, which
 * run() polls together with the listening socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#define METRICS_POLL_MS 500
#define METRICS_READ_MS 2000
#define METRICS_WRITE_MS 5000
#define METRICS_REQ_MAX 8192

struct metrics_cfg {
    char *listen;
};

struct metrics_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct metrics_cfg *cfg;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int lfd;
    int wake[2];
    uint64_t *c_requests, *c_errors;
};

static const struct pm_option metrics_options[] = {
    {"metrics_listen", PM_OPT_STR, PM_OPTF_TRIGGER,
     offsetof(struct metrics_cfg, listen), NULL, "addr:port",
     "serve Prometheus metrics at http://addr:port/metrics "
     "(127.0.0.1:9595, [::1]:9595, :9595)",
     0},
    PM_OPTION_END};

/* Parse "addr:port", "[v6]:port", ":port" or "port". */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    char host[128];
    const char *port;
    char *end;
    unsigned long pn;
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = 0;
        port = rb + 2;
    } else {
        const char *c = strrchr(s, ':');
        if (!c) {
            host[0] = 0;
            port = s;
        } else {
            if ((size_t)(c - s) >= sizeof(host))
                return -EINVAL;
            memcpy(host, s, (size_t)(c - s));
            host[c - s] = 0;
            port = c + 1;
        }
    }
    errno = 0;
    pn = strtoul(port, &end, 10);
    if (!*port || *end || errno || pn > 65535)
        return -EINVAL;
    if (!host[0] || !strcmp(host, "*")) {
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        s4->sin_port = htons((uint16_t)pn);
        *len = sizeof(*s4);
    } else if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)pn);
        *len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)pn);
        *len = sizeof(*s6);
    } else {
        return -EINVAL;
    }
    return 0;
}

static int metrics_init(const struct pm_host *host,
                        const struct pm_instance *inst, void *config,
                        void **ctxp)
{
    struct metrics_cfg *cfg = config;
    struct metrics_ctx *ctx;

    if (!cfg->listen || !*cfg->listen) {
        host->log(inst, PM_LOG_ERR, "metrics_listen is empty");
        return -EINVAL;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    ctx->host = host;
    ctx->inst = inst;
    ctx->cfg = cfg;
    ctx->lfd = -1;
    ctx->wake[0] = ctx->wake[1] = -1;
    if (parse_listen(cfg->listen, &ctx->addr, &ctx->addrlen) < 0) {
        host->log(inst, PM_LOG_ERR,
                  "metrics_listen '%s': expected addr:port, [v6addr]:port "
                  "or :port",
                  cfg->listen);
        free(ctx);
        return -EINVAL;
    }
    ctx->c_requests = host->counter(inst, "requests", "HTTP requests served");
    ctx->c_errors = host->counter(inst, "errors",
                                  "HTTP requests failed or timed out");
    *ctxp = ctx;
    return 0;
}

/* Log the address actually bound (the port may have been 0). */
static void log_bound(struct metrics_ctx *ctx)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char a[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    memset(&ss, 0, sizeof(ss));
    if (getsockname(ctx->lfd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
            port = ntohs(s6->sin6_port);
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
            port = ntohs(s4->sin_port);
        }
    }
    ctx->host->log(ctx->inst, PM_LOG_INFO,
                   "serving metrics at http://%s%s%s:%u/metrics",
                   ss.ss_family == AF_INET6 ? "[" : "", a,
                   ss.ss_family == AF_INET6 ? "]" : "", port);
}

static int metrics_start(void *vctx)
{
    struct metrics_ctx *ctx = vctx;
    int one = 1, rc;

    if (pipe2(ctx->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        rc = -errno;
        ctx->host->log(ctx->inst, PM_LOG_ERR, "metrics: pipe: %s",
                       strerror(errno));
        return rc;
    }
    ctx->lfd = socket(ctx->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
                                               SOCK_NONBLOCK, 0);
    if (ctx->lfd < 0)
        goto fail;
    setsockopt(ctx->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ctx->addr.ss_family == AF_INET6)
        setsockopt(ctx->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(ctx->lfd, (struct sockaddr *)&ctx->addr, ctx->addrlen) < 0)
        goto fail;
    if (listen(ctx->lfd, 16) < 0)
        goto fail;
    log_bound(ctx);
    return 0;
fail:
    rc = -errno;
    ctx->host->log(ctx->inst, PM_LOG_ERR, "metrics_listen '%s': cannot listen: %s",
                   ctx->cfg->listen, strerror(errno));
    if (ctx->lfd >= 0)
        close(ctx->lfd);
    ctx->lfd = -1;
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for `events` until deadline; 1 ready, 0 not. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {fd, events, 0};
        int64_t left = deadline - now_ms();
        int rc;

        if (left <= 0)
            return 0;
        rc = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return 0;
    }
}

static int send_all(int fd, const char *p, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLOUT, deadline))
                return -ETIMEDOUT;
            continue;
        }
        return -EIO;
    }
    return 0;
}

static int reply(struct metrics_ctx *ctx, int fd, int code, const char *reason,
                 const char *ctype, const char *body, size_t blen, int head)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, reason, ctype, blen);
    int64_t deadline = now_ms() + METRICS_WRITE_MS;
    int rc = send_all(fd, hdr, (size_t)n, deadline);

    if (rc == 0 && !head && blen)
        rc = send_all(fd, body, blen, deadline);
    return rc;
}

/* Serve one connection. */
static void serve(struct metrics_ctx *ctx, int fd)
{
    char req[METRICS_REQ_MAX + 1];
    size_t len = 0;
    int64_t deadline = now_ms() + METRICS_READ_MS;
    char *eol, *sp1, *sp2, *q;
    int head = 0, rc = 0;

    /* read until the end of the headers (or the buffer is full) */
    for (;;) {
        ssize_t n = recv(fd, req + len, METRICS_REQ_MAX - len, 0);
        if (n > 0) {
            len += (size_t)n;
            req[len] = 0;
            if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n") ||
                len == METRICS_REQ_MAX)
                break;
            continue;
        }
        if (n == 0)
            break; /* client closed its side: use what came */
        if (errno == EINTR)
            continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(fd, POLLIN, deadline))
            continue;
        pm_counter_add(ctx->c_errors, 1);
        return; /* timeout or error */
    }
    req[len] = 0;
    eol = strpbrk(req, "\r\n");
    if (eol)
        *eol = 0;
    sp1 = strchr(req, ' ');
    sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1) {
        static const char msg[] = "bad request\n";
        rc = reply(ctx, fd, 400, "Bad Request", "text/plain", msg,
                   sizeof(msg) - 1, 0);
        pm_counter_add(ctx->c_errors, 1);
        return;
    }
    *sp1 = 0;
    if (sp2)
        *sp2 = 0;
    q = strchr(sp1 + 1, '?');
    if (q)
        *q = 0;
    head = !strcmp(req, "HEAD");
    if (strcmp(req, "GET") && !head) {
        static const char msg[] = "method not allowed\n";
        rc = reply(ctx, fd, 405, "Method Not Allowed", "text/plain", msg,
                   sizeof(msg) - 1, 0);
    } else if (strcmp(sp1 + 1, "/metrics")) {
        static const char msg[] = "not found: try /metrics\n";
        rc = reply(ctx, fd, 404, "Not Found", "text/plain", msg,
                   sizeof(msg) - 1, head);
    } else {
        struct pm_buf buf = {NULL, 0, 0};
        if (ctx->host->stats_render(&buf, 1) < 0) {
            static const char msg[] = "cannot render metrics\n";
            rc = reply(ctx, fd, 500, "Internal Server Error", "text/plain",
                       msg, sizeof(msg) - 1, head);
        } else {
            rc = reply(ctx, fd, 200, "OK", "text/plain; version=0.0.4",
                       buf.p ? buf.p : "", buf.len, head);
        }
        free(buf.p);
    }
    pm_counter_add(rc < 0 ? ctx->c_errors : ctx->c_requests, 1);
}

static int metrics_run(void *vctx)
{
    struct metrics_ctx *ctx = vctx;

    if (ctx->lfd < 0)
        return -EBADF;
    while (!ctx->host->stopping(ctx->inst)) {
        struct pollfd pfd[2] = {{ctx->lfd, POLLIN, 0}, {ctx->wake[0], POLLIN, 0}};
        int rc = poll(pfd, 2, METRICS_POLL_MS);
        char drain[16];

        if (rc < 0 && errno != EINTR)
            return -errno;
        if (rc <= 0)
            continue;
        if (pfd[1].revents) {
            while (read(ctx->wake[0], drain, sizeof(drain)) > 0)
                ;
            break;
        }
        if (pfd[0].revents & POLLIN) {
            int fd = accept4(ctx->lfd, NULL, NULL,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                continue;
            serve(ctx, fd);
            close(fd);
        }
    }
    return PM_RUN_STOPPED;
}

static void metrics_stop(void *vctx)
{
    struct metrics_ctx *ctx = vctx;

    if (ctx && ctx->wake[1] >= 0 && write(ctx->wake[1], "x", 1) < 0) {
        /* pipe full: a wake-up is already pending */
    }
}

static void metrics_fini(void *vctx)
{
    struct metrics_ctx *ctx = vctx;

    if (!ctx)
        return;
    if (ctx->lfd >= 0)
        close(ctx->lfd);
    if (ctx->wake[0] >= 0)
        close(ctx->wake[0]);
    if (ctx->wake[1] >= 0)
        close(ctx->wake[1]);
    free(ctx);
}

static const struct pm_module_desc metrics_desc = {
    PM_MODULE_HEAD(PM_KIND_SERVICE),
    .name = "metrics",
    .version = "1.0",
    .summary = "service: Prometheus metrics endpoint",
    .flags = 0,
    .order = 0,
    .options = metrics_options,
    .config_size = sizeof(struct metrics_cfg),
    .init = metrics_init,
    .start = metrics_start,
    .run = metrics_run,
    .stop = metrics_stop,
    .fini = metrics_fini,
};

PM_MODULE_EXPORT(metrics_desc)
