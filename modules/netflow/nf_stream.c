/*
 * nf_stream.c - IPFIX over TCP (RFC 7011 §10.4) and SCTP (§10.2): the
 * listeners of `nfacctd_ipfix_tcp_port` / `nfacctd_ipfix_sctp_port`, the
 * connections they accept and the framer cutting each byte stream into
 * IPFIX messages by their length field.
 *
 * Templates are scoped per transport session (§8: "Template IDs are
 * unique per SCTP association / TCP connection and Observation Domain"):
 * every connection has its own decoder context (template store, sequence
 * numbers, pending data), created on accept and freed on close, so a
 * reconnecting exporter starts clean and two connections of one exporter
 * never see each other's templates.  The per-exporter statistics table
 * is shared by the connections (one thread), so an exporter has one set
 * of `exporter_*` counters whatever its connections.
 *
 * A stream that breaks the framing (version not 10, a length below the
 * 16-byte header) cannot be resynchronised: the connection is closed with
 * an error naming the peer and counted in `stream_errors`.
 *
 * Threads: one stream thread (started by run() in netflow.c) owns the
 * listeners, the connections and their contexts; nothing is shared with
 * the UDP receivers except host counters (atomic adds) and the host's
 * thread-safe batch functions.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nf.h"

#define NF_IPFIX_HDR 16
#define NF_STREAM_BUF 65536 /* the largest message (16-bit length) */
#define NF_HOLD_MS 50

struct nf_conn {
    int fd;
    int sctp;
    uint32_t len; /* bytes buffered */
    uint64_t msgs;
    pm_ip_t peer;
    uint16_t port;
    char name[80]; /* "IPFIX/TCP from [addr]:port" */
    struct nf_ctx c;
    uint8_t buf[NF_STREAM_BUF];
};

struct nf_stream {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct nf_cfg *cfg;
    int lfd[2]; /* TCP, SCTP listeners (-1: off) */
    uint16_t lport[2];
    unsigned max_conns;
    unsigned nconns;
    struct nf_conn **conns;
    struct pm_allow allow;
    struct pm_exptab exps; /* shared by the connections */
    struct pm_batch *b;    /* batch being filled, lent to each context */
    uint32_t *named;
    int stop;
    uint64_t *c_conns, *c_errors, *c_refused;
};

int nf_stream_frame(const uint8_t *p, uint32_t len, uint32_t *msglen,
                    char *err, size_t errlen)
{
    if (len < 4)
        return 0;
    uint16_t version = nf_rd16(p), mlen = nf_rd16(p + 2);
    if (version != 10) {
        snprintf(err, errlen,
                 "version %u where an IPFIX message (version 10) must start",
                 version);
        return -EINVAL;
    }
    if (mlen < NF_IPFIX_HDR) {
        snprintf(err, errlen,
                 "IPFIX message length %u is shorter than its 16-byte header",
                 mlen);
        return -EINVAL;
    }
    if (len < mlen)
        return 0;
    *msglen = mlen;
    return 1;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void cnt(uint64_t *c, uint64_t v)
{
    if (c)
        pm_counter_add(c, v);
}

static int listen_on(struct nf_stream *s, int sctp, uint16_t port)
{
    const char *ip = s->cfg->ip && *s->cfg->ip ? s->cfg->ip : NULL;
    const char *what = sctp ? "nfacctd_ipfix_sctp_port" : "nfacctd_ipfix_tcp_port";
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    socklen_t sl;
    int af, fd, one = 1, zero = 0, rc;
    memset(&ss, 0, sizeof(ss));
    if (ip && inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        af = AF_INET;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        sl = sizeof(*s4);
    } else if (!ip || inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
        af = AF_INET6;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        if (!ip)
            s6->sin6_addr = in6addr_any;
        sl = sizeof(*s6);
    } else {
        s->host->log(s->inst, PM_LOG_ERR, "nfacctd_ip: '%s' is not an IP address",
                     ip);
        return -EINVAL;
    }
    fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC,
                sctp ? IPPROTO_SCTP : IPPROTO_TCP);
    if (fd < 0) {
        rc = -errno;
        if (sctp && (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT))
            s->host->log(s->inst, PM_LOG_ERR,
                         "%s %u: this kernel has no SCTP (%s): load the sctp "
                         "module (modprobe sctp) or remove the key",
                         what, port, strerror(errno));
        else
            s->host->log(s->inst, PM_LOG_ERR, "%s %u: socket(): %s", what,
                         port, strerror(errno));
        return rc;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (af == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
        rc = -errno;
        s->host->log(s->inst, PM_LOG_ERR, "%s: bind/listen on [%s]:%u: %s",
                     what, ip ? ip : "::", port, strerror(errno));
        close(fd);
        return rc;
    }
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        port = af == AF_INET ? ntohs(s4->sin_port) : ntohs(s6->sin6_port);
    s->lfd[sctp] = fd;
    s->lport[sctp] = port;
    s->host->log(s->inst, PM_LOG_INFO,
                 "waiting for IPFIX over %s on [%s]:%u", sctp ? "SCTP" : "TCP",
                 ip ? ip : "::", port);
    return 0;
}

void nf_stream_free(struct nf_stream *s);

int nf_stream_open(struct nf_stream **out, const struct pm_host *host,
                   const struct pm_instance *inst, struct nf_cfg *cfg,
                   uint64_t tcp_port, uint64_t sctp_port, uint64_t max_conns,
                   uint32_t *named)
{
    char err[512];
    int rc = -ENOMEM;
    *out = NULL;
    if (tcp_port > 65535 || sctp_port > 65535) {
        host->log(inst, PM_LOG_ERR, "nfacctd_ipfix_%s_port: %llu is not a port",
                  tcp_port > 65535 ? "tcp" : "sctp",
                  (unsigned long long)(tcp_port > 65535 ? tcp_port : sctp_port));
        return -EINVAL;
    }
    struct nf_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->host = host;
    s->inst = inst;
    s->cfg = cfg;
    s->named = named;
    s->lfd[0] = s->lfd[1] = -1;
    s->max_conns = max_conns ? (unsigned)max_conns : 256;
    s->conns = calloc(s->max_conns, sizeof(*s->conns));
    if (!s->conns ||
        pm_exptab_init(&s->exps, (uint32_t)cfg->max_exporters) < 0)
        goto fail;
    if (cfg->allow_file && *cfg->allow_file &&
        (rc = pm_allow_load(&s->allow, cfg->allow_file, err, sizeof(err))) <
            0) {
        host->log(inst, PM_LOG_ERR, "nfacctd_allow_file: %s", err);
        goto fail;
    }
    s->c_conns = host->counter(inst, "stream_connections",
                               "IPFIX TCP/SCTP connections accepted");
    s->c_errors = host->counter(
        inst, "stream_errors",
        "IPFIX TCP/SCTP connections closed for a broken stream");
    s->c_refused = host->counter(
        inst, "stream_refused",
        "IPFIX TCP/SCTP connections refused (allow list, too many)");
    if (tcp_port && (rc = listen_on(s, 0, (uint16_t)tcp_port)) < 0)
        goto fail;
    if (sctp_port && (rc = listen_on(s, 1, (uint16_t)sctp_port)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    nf_stream_free(s);
    return rc;
}

static void conn_close(struct nf_stream *s, unsigned i, const char *why,
                       int error)
{
    struct nf_conn *k = s->conns[i];
    if (error) {
        cnt(s->c_errors, 1);
        struct pm_exp_stats *e = pm_exptab_find(&s->exps, &k->peer);
        if (e)
            e->malformed++;
        cnt(k->c.c_malformed, 1);
        s->host->log(s->inst, PM_LOG_WARNING,
                     "%s: %s; closing the connection after %llu messages",
                     k->name, why, (unsigned long long)k->msgs);
    } else {
        s->host->log(s->inst, PM_LOG_INFO, "%s: %s after %llu messages",
                     k->name, why, (unsigned long long)k->msgs);
    }
    close(k->fd);
    /* its templates and held data go with it (scoped per connection) */
    k->c.b = NULL;
    nf_ctx_fini(&k->c);
    free(k);
    s->conns[i] = s->conns[--s->nconns];
    s->conns[s->nconns] = NULL;
}

static void do_accept(struct nf_stream *s, int sctp)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[INET6_ADDRSTRLEN + 8];
    pm_ip_t peer;
    uint16_t port = 0;
    int fd = accept4(s->lfd[sctp], (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            s->host->log_limited(s->inst, PM_LOG_WARNING, "stream-accept",
                                 "accept on the IPFIX %s listener: %s",
                                 sctp ? "SCTP" : "TCP", strerror(errno));
        return;
    }
    memset(&peer, 0, sizeof(peer));
    pm_ip_from_sockaddr(&peer, &port, &ss);
    pm_ip_str(&peer, addr, sizeof(addr));
    if (!pm_allow_check(&s->allow, &peer) || s->nconns >= s->max_conns) {
        cnt(s->c_refused, 1);
        s->host->log_limited(s->inst, PM_LOG_WARNING, "stream-refused",
                             "IPFIX/%s connection from [%s]:%u refused: %s",
                             sctp ? "SCTP" : "TCP", addr, port,
                             s->nconns >= s->max_conns
                                 ? "too many connections"
                                 : "not in nfacctd_allow_file");
        close(fd);
        return;
    }
    struct nf_conn *k = calloc(1, sizeof(*k));
    if (!k || nf_ctx_init(&k->c, s->host, s->inst, s->cfg) < 0) {
        s->host->log(s->inst, PM_LOG_ERR,
                     "IPFIX connection from [%s]:%u: out of memory", addr, port);
        free(k);
        close(fd);
        return;
    }
    /* the connections share the stream's exporter table (see above) */
    pm_exptab_free(&k->c.exps);
    memset(&k->c.exps, 0, sizeof(k->c.exps));
    k->fd = fd;
    k->sctp = sctp;
    k->peer = peer;
    k->port = port;
    snprintf(k->name, sizeof(k->name), "IPFIX/%s from [%s]:%u",
             sctp ? "SCTP" : "TCP", addr, port);
    s->conns[s->nconns++] = k;
    cnt(s->c_conns, 1);
    s->host->log(s->inst, PM_LOG_INFO, "%s: connected", k->name);
}

int nf_stream_feed(struct nf_ctx *c, uint8_t *buf, uint32_t *len,
                   const pm_ip_t *peer, const pm_ts_t *arrival,
                   uint64_t *msgs, char *err, size_t errlen)
{
    uint32_t off = 0, mlen = 0;
    int rc;
    while ((rc = nf_stream_frame(buf + off, *len - off, &mlen, err,
                                 errlen)) == 1) {
        nf_datagram(c, buf + off, mlen, peer, arrival);
        (*msgs)++;
        off += mlen;
    }
    if (rc < 0)
        return rc;
    if (off) {
        memmove(buf, buf + off, *len - off);
        *len -= off;
    }
    return 0;
}

/* Decode the whole messages buffered on connection i.  Returns 0, or
 * -EINVAL when the stream is broken (the connection was closed). */
static int conn_messages(struct nf_stream *s, unsigned i)
{
    struct nf_conn *k = s->conns[i];
    char err[160];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pm_ts_t arrival = {.sec = (uint64_t)now.tv_sec,
                       .usec = (uint32_t)(now.tv_nsec / 1000)};
    /* lend the shared batch and exporter table to this context */
    k->c.b = s->b;
    k->c.exps = s->exps;
    int rc = nf_stream_feed(&k->c, k->buf, &k->len, &k->peer, &arrival,
                            &k->msgs, err, sizeof(err));
    s->b = k->c.b;
    s->exps = k->c.exps;
    k->c.b = NULL;
    memset(&k->c.exps, 0, sizeof(k->c.exps));
    if (rc < 0) {
        conn_close(s, i, err, 1);
        return -EINVAL;
    }
    return 0;
}

/* Read what connection i has; 1 when it was closed. */
static int conn_read(struct nf_stream *s, unsigned i)
{
    struct nf_conn *k = s->conns[i];
    ssize_t r = recv(k->fd, k->buf + k->len, sizeof(k->buf) - k->len,
                     MSG_DONTWAIT);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        char why[96];
        snprintf(why, sizeof(why), "receive: %s", strerror(errno));
        conn_close(s, i, why, 1);
        return 1;
    }
    if (r == 0) {
        if (k->len) {
            char why[96];
            snprintf(why, sizeof(why),
                     "closed by the peer inside a message (%u bytes of it "
                     "received)",
                     k->len);
            conn_close(s, i, why, 1);
        } else {
            conn_close(s, i, "closed by the peer", 0);
        }
        return 1;
    }
    k->len += (uint32_t)r;
    return conn_messages(s, i) < 0;
}

static void stream_flush(struct nf_stream *s)
{
    if (!s->b)
        return;
    if (s->b->n == 0)
        s->host->batch_release(s->inst, s->b);
    else
        s->host->batch_emit(s->inst, s->b);
    s->b = NULL;
}

int nf_stream_run(struct nf_stream *s)
{
    struct pollfd *pf = calloc(s->max_conns + 2, sizeof(*pf));
    uint64_t batch_due = 0, next_pub = mono_ms() + 1000;
    if (!pf)
        return -ENOMEM;
    while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED) &&
           !s->host->stopping(s->inst)) {
        unsigned n = 0, nl = 0;
        for (int j = 0; j < 2; j++)
            if (s->lfd[j] >= 0) {
                pf[n].fd = s->lfd[j];
                pf[n++].events = POLLIN;
            }
        nl = n;
        for (unsigned i = 0; i < s->nconns; i++) {
            pf[n].fd = s->conns[i]->fd;
            pf[n++].events = POLLIN;
        }
        int r = poll(pf, n, s->b ? NF_HOLD_MS : 200);
        if (r < 0 && errno != EINTR) {
            s->host->log(s->inst, PM_LOG_ERR, "poll: %s", strerror(errno));
            break;
        }
        if (r > 0) {
            /* connections first (indexes shift when one closes) */
            for (unsigned j = n; j-- > nl;) {
                if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                conn_read(s, j - nl);
            }
            for (unsigned j = 0; j < nl; j++)
                if (pf[j].revents & POLLIN)
                    do_accept(s, pf[j].fd == s->lfd[1]);
        }
        uint64_t now = mono_ms();
        if (r == 0) {
            stream_flush(s);
        } else if (s->b) {
            if (!batch_due)
                batch_due = now + NF_HOLD_MS;
            else if (now >= batch_due) {
                stream_flush(s);
                batch_due = 0;
            }
        }
        if (!s->b)
            batch_due = 0;
        if (r == 0 || now >= next_pub) {
            pm_exptab_publish(&s->exps, s->host, s->inst, 0, s->named);
            next_pub = now + 1000;
        }
    }
    stream_flush(s);
    pm_exptab_publish(&s->exps, s->host, s->inst, 0, s->named);
    pm_exptab_log(&s->exps, s->host, s->inst, "records (IPFIX over TCP/SCTP)");
    free(pf);
    return 0;
}

void nf_stream_stop(struct nf_stream *s)
{
    if (s)
        __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
}

uint16_t nf_stream_port(const struct nf_stream *s, int sctp)
{
    return s ? s->lport[sctp ? 1 : 0] : 0;
}

void nf_stream_free(struct nf_stream *s)
{
    if (!s)
        return;
    while (s->nconns)
        conn_close(s, s->nconns - 1, "collector stopping", 0);
    for (int j = 0; j < 2; j++)
        if (s->lfd[j] >= 0)
            close(s->lfd[j]);
    if (s->b)
        s->host->batch_release(s->inst, s->b);
    pm_exptab_free(&s->exps);
    pm_allow_free(&s->allow);
    free(s->conns);
    free(s);
}
