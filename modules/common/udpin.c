/*
 * udpin.c - datagram input shared by the flow collectors: UDP socket
 * (recvmmsg batches, big SO_RCVBUF), pcap savefile replay (UDP payloads
 * with the packet's source as exporter), allow lists and a bounded
 * per-exporter statistics table.
 *
 * Sockets may be opened as a SO_REUSEPORT group steered by source address
 * (classic BPF), one socket per receiver thread; the buffer size the
 * kernel grants and its drop counter are checked and reported.
 *
 * Threads: every object belongs to the receiver thread that reads it;
 * pm_exptab_publish() registers and adds to host counters (thread-safe
 * host calls) and shares only the atomic `named` bound between threads.
 */
#include "udpin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

/* ---- addresses -------------------------------------------------------- */

const char *pm_ip_str(const pm_ip_t *ip, char *buf, size_t len)
{
    if (ip->af == 4)
        inet_ntop(AF_INET, ip->a, buf, (socklen_t)len);
    else if (ip->af == 6)
        inet_ntop(AF_INET6, ip->a, buf, (socklen_t)len);
    else
        snprintf(buf, len, "?");
    return buf;
}

void pm_ip_mask(pm_ip_t *ip, unsigned len)
{
    unsigned bytes = ip->af == 4 ? 4 : 16;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned bit = i * 8;
        if (bit >= len)
            ip->a[i] = 0;
        else if (len - bit < 8)
            ip->a[i] &= (uint8_t)(0xffu << (8 - (len - bit)));
    }
}

int pm_ip_from_sockaddr(pm_ip_t *ip, uint16_t *port, const void *sa)
{
    const struct sockaddr *s = sa;
    memset(ip, 0, sizeof(*ip));
    if (s->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = sa;
        pm_ip_set4(ip, &s4->sin_addr);
        if (port)
            *port = ntohs(s4->sin_port);
        return 0;
    }
    if (s->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = sa;
        const uint8_t *b = s6->sin6_addr.s6_addr;
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(b, v4mapped, 12))
            pm_ip_set4(ip, b + 12);
        else
            pm_ip_set6(ip, b);
        if (port)
            *port = ntohs(s6->sin6_port);
        return 0;
    }
    return -EAFNOSUPPORT;
}

/* ---- allow list ------------------------------------------------------- */

int pm_prefix_parse(struct pm_prefix *p, const char *text)
{
    char buf[80];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, text, n + 1);
    char *slash = strchr(buf, '/');
    long len = -1;
    if (slash) {
        char *end;
        *slash = 0;
        errno = 0;
        len = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || len < 0)
            return -EINVAL;
    }
    memset(p, 0, sizeof(*p));
    uint8_t a[16];
    if (inet_pton(AF_INET, buf, a) == 1) {
        pm_ip_set4(&p->net, a);
        if (len > 32)
            return -EINVAL;
        p->len = (uint8_t)(len < 0 ? 32 : len);
    } else if (inet_pton(AF_INET6, buf, a) == 1) {
        pm_ip_set6(&p->net, a);
        if (len > 128)
            return -EINVAL;
        p->len = (uint8_t)(len < 0 ? 128 : len);
    } else
        return -EINVAL;
    pm_ip_mask(&p->net, p->len);
    return 0;
}

int pm_allow_load(struct pm_allow *a, const char *path, char *err,
                  size_t errlen)
{
    int rc = 0;
    char line[512];
    unsigned lineno = 0;
    uint32_t cap = 0;
    memset(a, 0, sizeof(*a));
    FILE *f = fopen(path, "r");
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return rc;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = line, *e;
        while (isspace((unsigned char)*s))
            s++;
        for (e = s; *e && *e != '#' && *e != '!' && !isspace((unsigned char)*e);
             e++)
            ;
        char *rest = e;
        while (*rest && isspace((unsigned char)*rest))
            rest++;
        *e = 0;
        if (!*s)
            continue;
        if (*rest && *rest != '#' && *rest != '!') {
            snprintf(err, errlen, "%s:%u: unexpected text after '%s'", path,
                     lineno, s);
            rc = -EINVAL;
            goto fail;
        }
        if (a->n == cap) {
            uint32_t nc = cap ? cap * 2 : 16;
            struct pm_prefix *v = realloc(a->v, nc * sizeof(*v));
            if (!v) {
                rc = -ENOMEM;
                snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
                goto fail;
            }
            a->v = v;
            cap = nc;
        }
        if (pm_prefix_parse(&a->v[a->n], s) < 0) {
            snprintf(err, errlen, "%s:%u: '%s' is not an IP address or prefix",
                     path, lineno, s);
            rc = -EINVAL;
            goto fail;
        }
        a->n++;
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    pm_allow_free(a);
    return rc;
}

int pm_allow_check(const struct pm_allow *a, const pm_ip_t *addr)
{
    if (!a || a->n == 0)
        return 1;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct pm_prefix *p = &a->v[i];
        if (p->net.af != addr->af)
            continue;
        pm_ip_t m = *addr;
        pm_ip_mask(&m, p->len);
        if (!memcmp(m.a, p->net.a, 16))
            return 1;
    }
    return 0;
}

void pm_allow_free(struct pm_allow *a)
{
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

/* ---- exporter table ----------------------------------------------------- */

static uint32_t ip_hash(const pm_ip_t *ip)
{
    uint32_t h = 2166136261u ^ ip->af;
    for (int i = 0; i < 16; i++)
        h = (h ^ ip->a[i]) * 16777619u;
    return h;
}

int pm_exptab_init(struct pm_exptab *t, uint32_t max)
{
    memset(t, 0, sizeof(*t));
    t->max = max ? max : 65536;
    t->cap = 64;
    t->v = calloc(t->cap, sizeof(*t->v));
    return t->v ? 0 : -ENOMEM;
}

struct pm_exp_stats *pm_exptab_find(const struct pm_exptab *t,
                                    const pm_ip_t *addr)
{
    uint32_t m = t->cap - 1;
    for (uint32_t i = ip_hash(addr) & m;; i = (i + 1) & m) {
        struct pm_exp_stats *e = &t->v[i];
        if (!e->used)
            return NULL;
        if (e->addr.af == addr->af && !memcmp(e->addr.a, addr->a, 16))
            return e;
    }
}

static int exptab_grow(struct pm_exptab *t)
{
    uint32_t nc = t->cap * 2;
    struct pm_exp_stats *nv = calloc(nc, sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    for (uint32_t j = 0; j < t->cap; j++) {
        if (!t->v[j].used)
            continue;
        uint32_t i = ip_hash(&t->v[j].addr) & (nc - 1);
        while (nv[i].used)
            i = (i + 1) & (nc - 1);
        nv[i] = t->v[j];
    }
    free(t->v);
    t->v = nv;
    t->cap = nc;
    return 0;
}

struct pm_exp_stats *pm_exptab_get(struct pm_exptab *t, const pm_ip_t *addr)
{
    struct pm_exp_stats *e = pm_exptab_find(t, addr);
    if (e)
        return e;
    if (t->n >= t->max)
        return NULL;
    if ((t->n + 1) * 2 > t->cap && exptab_grow(t) < 0)
        return NULL;
    uint32_t m = t->cap - 1;
    uint32_t i = ip_hash(addr) & m;
    while (t->v[i].used)
        i = (i + 1) & m;
    e = &t->v[i];
    memset(e, 0, sizeof(*e));
    e->used = 1;
    e->addr = *addr;
    t->n++;
    return e;
}

void pm_exptab_free(struct pm_exptab *t)
{
    free(t->v);
    memset(t, 0, sizeof(*t));
}

static const char *const exp_ctr_names[PM_EXP_NCTR] = {
    "datagrams", "records", "seq_gaps", "malformed", "unknown_template"};

static void exp_values(const struct pm_exp_stats *e, uint64_t v[PM_EXP_NCTR])
{
    v[0] = e->datagrams;
    v[1] = e->records;
    v[2] = e->seq_gaps;
    v[3] = e->malformed;
    v[4] = e->unknown_template;
}

void pm_exptab_publish(struct pm_exptab *t, const struct pm_host *host,
                       const struct pm_instance *inst, unsigned thread,
                       uint32_t *named)
{
    char addr[INET6_ADDRSTRLEN + 8], name[128], help[160];
    uint64_t v[PM_EXP_NCTR];
    for (uint32_t i = 0; i < t->cap; i++) {
        struct pm_exp_stats *e = &t->v[i];
        if (!e->used || e->named == 2)
            continue;
        if (!e->named) {
            uint32_t k = __atomic_fetch_add(named, 1, __ATOMIC_RELAXED);
            pm_ip_str(&e->addr, addr, sizeof(addr));
            if (k >= PM_EXP_NAMED_MAX) {
                e->named = 2;
                if (k == PM_EXP_NAMED_MAX)
                    host->log(inst, PM_LOG_WARNING,
                              "exporter %s and later ones get no counters of "
                              "their own (%u exporters have them): they are "
                              "counted in the totals only",
                              addr, (unsigned)PM_EXP_NAMED_MAX);
                continue;
            }
            for (int j = 0; j < PM_EXP_NCTR; j++) {
                snprintf(name, sizeof(name), "exporter_%s_%s", addr,
                         exp_ctr_names[j]);
                snprintf(help, sizeof(help), "%s of exporter %s",
                         exp_ctr_names[j], addr);
                e->ctr[j] = host->counter(inst, name, help);
            }
            e->named = 1;
            host->log(inst, PM_LOG_INFO,
                      "new exporter %s (receiver thread %u)", addr, thread);
        }
        exp_values(e, v);
        for (int j = 0; j < PM_EXP_NCTR; j++)
            if (e->ctr[j] && v[j] != e->pub[j]) {
                pm_counter_add(e->ctr[j], v[j] - e->pub[j]);
                e->pub[j] = v[j];
            }
    }
}

void pm_exptab_log(const struct pm_exptab *t, const struct pm_host *host,
                   const struct pm_instance *inst, const char *what)
{
    char addr[INET6_ADDRSTRLEN + 8];
    uint32_t shown = 0;
    for (uint32_t i = 0; i < t->cap; i++) {
        const struct pm_exp_stats *e = &t->v[i];
        if (!e->used)
            continue;
        if (shown++ == PM_EXP_NAMED_MAX) {
            host->log(inst, PM_LOG_INFO, "... and %u more exporters",
                      (unsigned)(t->n - PM_EXP_NAMED_MAX));
            break;
        }
        host->log(inst, PM_LOG_INFO,
                  "exporter %s: %llu datagrams, %llu %s, %llu sequence gaps, "
                  "%llu malformed, %llu unknown template",
                  pm_ip_str(&e->addr, addr, sizeof(addr)),
                  (unsigned long long)e->datagrams,
                  (unsigned long long)e->records, what ? what : "records",
                  (unsigned long long)e->seq_gaps,
                  (unsigned long long)e->malformed,
                  (unsigned long long)e->unknown_template);
    }
}

/* ---- frames --------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static int udp_from_ip(const uint8_t *p, uint32_t len, struct pm_dgram *dg)
{
    if (len < 1)
        return -EINVAL;
    unsigned v = p[0] >> 4;
    const uint8_t *l4;
    uint32_t l4len;
    if (v == 4) {
        if (len < 20)
            return -EINVAL;
        unsigned ihl = (p[0] & 15u) * 4;
        uint32_t tot = rd16(p + 2);
        if (ihl < 20 || tot < ihl || len < ihl)
            return -EINVAL;
        if (p[9] != 17)
            return -EINVAL;
        if (rd16(p + 6) & 0x1fff) /* non-first fragment */
            return -EINVAL;
        if (tot > len)
            tot = len;
        pm_ip_set4(&dg->src, p + 12);
        pm_ip_set4(&dg->dst, p + 16);
        l4 = p + ihl;
        l4len = tot - ihl;
    } else if (v == 6) {
        if (len < 40)
            return -EINVAL;
        uint8_t nh = p[6];
        uint32_t off = 40;
        uint32_t plen = rd16(p + 4) + 40u;
        if (plen > len)
            plen = len;
        pm_ip_set6(&dg->src, p + 8);
        pm_ip_set6(&dg->dst, p + 24);
        for (int guard = 0; guard < 8 && nh != 17; guard++) {
            if (nh == 0 || nh == 43 || nh == 60) {
                if (off + 8 > plen)
                    return -EINVAL;
                nh = p[off];
                off += 8u + p[off + 1] * 8u;
            } else if (nh == 44) {
                if (off + 8 > plen)
                    return -EINVAL;
                if (rd16(p + off + 2) & 0xfff8)
                    return -EINVAL;
                nh = p[off];
                off += 8;
            } else
                return -EINVAL;
        }
        if (nh != 17 || off > plen)
            return -EINVAL;
        l4 = p + off;
        l4len = plen - off;
    } else
        return -EINVAL;
    if (l4len < 8)
        return -EINVAL;
    uint32_t ulen = rd16(l4 + 4);
    if (ulen < 8 || ulen > l4len)
        ulen = l4len; /* trust what was captured */
    dg->sport = rd16(l4);
    dg->dport = rd16(l4 + 2);
    dg->data = l4 + 8;
    dg->len = ulen - 8;
    return 0;
}

int pm_udp_from_frame(int dlt, const uint8_t *pkt, uint32_t caplen,
                      struct pm_dgram *dg)
{
    uint32_t off = 0;
    uint16_t et = 0;
    switch (dlt) {
    case DLT_EN10MB:
        if (caplen < 14)
            return -EINVAL;
        et = rd16(pkt + 12);
        off = 14;
        while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) &&
               off + 4 <= caplen) {
            et = rd16(pkt + off + 2);
            off += 4;
        }
        break;
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return -EINVAL;
        et = rd16(pkt + 14);
        off = 16;
        break;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return -EINVAL;
        et = rd16(pkt);
        off = 20;
        break;
#endif
    case DLT_NULL:
    case DLT_LOOP: {
        if (caplen < 4)
            return -EINVAL;
        off = 4;
        et = (pkt[4 < caplen ? 4 : 0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    }
    case DLT_RAW:
    case 14:
    case 101:
    case 228:
    case 229:
        if (caplen < 1)
            return -EINVAL;
        et = (pkt[0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    default:
        return -EINVAL;
    }
    if (et != 0x0800 && et != 0x86dd)
        return -EINVAL;
    if (off >= caplen)
        return -EINVAL;
    return udp_from_ip(pkt + off, caplen - off, dg);
}

/* ---- input --------------------------------------------------------------- */

#define UDPIN_BATCH 64
#define UDPIN_BUFSZ 65536

struct pm_udpin {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct pm_udpin_cfg cfg;
    struct pm_allow allow;
    int fd;
    uint16_t port;
    pcap_t *pcap;
    int dlt;
    uint64_t replays_done;
    uint64_t denied;
    int delay_done;
    int af;
    uint8_t *bufs; /* UDPIN_BATCH * UDPIN_BUFSZ (socket mode) */
    uint64_t rcvbuf;     /* granted by the kernel */
    uint64_t drops;      /* best known kernel drop count */
    uint64_t ovfl_total; /* SO_RXQ_OVFL widened to 64 bits */
    uint32_t ovfl_last;  /* last SO_RXQ_OVFL value */
    unsigned long inode; /* for /proc/net/udp */
    struct mmsghdr msgs[UDPIN_BATCH];
    struct iovec iov[UDPIN_BATCH];
    struct sockaddr_storage from[UDPIN_BATCH];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(uint32_t)) * 2];
    } ctl[UDPIN_BATCH];
};

static void sleep_until_stop(struct pm_udpin *u, uint64_t secs, int forever)
{
    /* Runtime wait (not a test): slices of 100 ms until stopping. */
    uint64_t slices = secs * 10;
    for (uint64_t i = 0; forever || i < slices; i++) {
        if (u->host->stopping(u->inst))
            return;
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
}

static int open_savefile(struct pm_udpin *u)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    u->pcap = pcap_open_offline(u->cfg.savefile, errbuf);
    if (!u->pcap) {
        u->host->log(u->inst, PM_LOG_ERR, "pcap_savefile %s: %s",
                     u->cfg.savefile, errbuf);
        return -ENOENT;
    }
    u->dlt = pcap_datalink(u->pcap);
    return 0;
}

/* Receive buffer: ask for pipe_size (FORCE first: root may exceed
 * rmem_max), then read back what the kernel granted and say so. */
static void set_rcvbuf(struct pm_udpin *u)
{
    int got = 0;
    socklen_t gl = sizeof(got);
    if (u->cfg.pipe_size) {
        int sz = u->cfg.pipe_size > 0x3fffffff ? 0x3fffffff
                                               : (int)u->cfg.pipe_size;
        if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) <
                0 &&
            setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0)
            u->host->log(u->inst, PM_LOG_WARNING,
                         "%s_pipe_size %d: setsockopt: %s", u->cfg.prefix, sz,
                         strerror(errno));
    }
    if (getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got > 0)
        u->rcvbuf = (uint64_t)got;
    /* Linux reports twice the size asked for (bookkeeping overhead). */
    if (u->cfg.pipe_size && u->rcvbuf && u->rcvbuf / 2 < u->cfg.pipe_size &&
        u->rcvbuf < u->cfg.pipe_size)
        u->host->log(u->inst, PM_LOG_WARNING,
                     "%s_pipe_size: asked for %llu bytes of receive buffer, "
                     "the kernel granted %llu: raise the cap with `sysctl -w "
                     "net.core.rmem_max=%llu` (or run with CAP_NET_ADMIN, "
                     "which may exceed it)",
                     u->cfg.prefix, (unsigned long long)u->cfg.pipe_size,
                     (unsigned long long)u->rcvbuf,
                     (unsigned long long)u->cfg.pipe_size);
    else
        u->host->log(u->inst, PM_LOG_DEBUG,
                     "receive buffer: %llu bytes (asked %llu)",
                     (unsigned long long)u->rcvbuf,
                     (unsigned long long)u->cfg.pipe_size);
}

static int open_socket(struct pm_udpin *u, int reuseport)
{
    int rc;
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    const char *ip = u->cfg.ip && *u->cfg.ip ? u->cfg.ip : NULL;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    int af;
    if (ip && inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        af = AF_INET;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(u->cfg.port);
        sl = sizeof(*s4);
    } else if (!ip || inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
        af = AF_INET6;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(u->cfg.port);
        if (!ip)
            s6->sin6_addr = in6addr_any;
        sl = sizeof(*s6);
    } else {
        u->host->log(u->inst, PM_LOG_ERR, "%s_ip: '%s' is not an IP address",
                     u->cfg.prefix, ip);
        return -EINVAL;
    }
    u->fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (u->fd < 0 && af == AF_INET6 && !ip) {
        /* no IPv6: fall back to IPv4 any */
        af = AF_INET;
        memset(&ss, 0, sizeof(ss));
        s4->sin_family = AF_INET;
        s4->sin_port = htons(u->cfg.port);
        sl = sizeof(*s4);
        u->fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
    if (u->fd < 0) {
        rc = -errno;
        u->host->log(u->inst, PM_LOG_ERR, "socket(): %s", strerror(errno));
        return rc;
    }
    int one = 1, zero = 0;
    u->af = af;
    setsockopt(u->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport &&
        setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        rc = -errno;
        u->host->log(u->inst, PM_LOG_ERR, "SO_REUSEPORT: %s", strerror(errno));
        return rc;
    }
    if (af == AF_INET6)
        setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    set_rcvbuf(u);
#ifdef SO_RXQ_OVFL
    setsockopt(u->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
#endif
    if (bind(u->fd, (struct sockaddr *)&ss, sl) < 0) {
        rc = -errno;
        u->host->log(u->inst, PM_LOG_ERR, "bind to [%s]:%u: %s",
                     ip ? ip : "::", u->cfg.port, strerror(errno));
        return rc;
    }
    sl = sizeof(ss);
    if (getsockname(u->fd, (struct sockaddr *)&ss, &sl) == 0)
        u->port = af == AF_INET ? ntohs(s4->sin_port) : ntohs(s6->sin6_port);
    struct stat stt;
    if (fstat(u->fd, &stt) == 0)
        u->inode = (unsigned long)stt.st_ino;
    u->bufs = malloc((size_t)UDPIN_BATCH * UDPIN_BUFSZ);
    if (!u->bufs)
        return -ENOMEM;
    for (int i = 0; i < UDPIN_BATCH; i++) {
        u->iov[i].iov_base = u->bufs + (size_t)i * UDPIN_BUFSZ;
        u->iov[i].iov_len = UDPIN_BUFSZ;
    }
    return 0;
}

static int udpin_open1(struct pm_udpin **out, const struct pm_host *host,
                       const struct pm_instance *inst,
                       const struct pm_udpin_cfg *cfg, int reuseport)
{
    int rc;
    char err[600];
    struct pm_udpin *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->host = host;
    u->inst = inst;
    u->cfg = *cfg;
    if (!u->cfg.prefix)
        u->cfg.prefix = "nfacctd";
    u->fd = -1;
    if (cfg->allow_file && *cfg->allow_file) {
        rc = pm_allow_load(&u->allow, cfg->allow_file, err, sizeof(err));
        if (rc < 0) {
            host->log(inst, PM_LOG_ERR, "%s_allow_file: %s", u->cfg.prefix,
                      err);
            goto fail;
        }
    }
    rc = cfg->savefile && *cfg->savefile ? open_savefile(u)
                                         : open_socket(u, reuseport);
    if (rc < 0)
        goto fail;
    *out = u;
    return 0;
fail:
    pm_udpin_close(u);
    return rc;
}

int pm_udpin_open(struct pm_udpin **out, const struct pm_host *host,
                  const struct pm_instance *inst,
                  const struct pm_udpin_cfg *cfg)
{
    return udpin_open1(out, host, inst, cfg, 0);
}

/* ---- steering --------------------------------------------------------------
 * The classic BPF program run by the kernel for each datagram reaching the
 * SO_REUSEPORT group (data starts at the UDP payload; the IP header is at
 * SKF_NET_OFF).  A = IPv4 source, or the XOR of the four words of the IPv6
 * source; then A ^= A >> 16; A *= 0x45d9f3b; A ^= A >> 16; return A % n.
 * pm_udpin_steer() is the same in C. */
#define STEER_MUL 0x45d9f3bu

static uint32_t steer_mix(uint32_t a, unsigned n)
{
    a ^= a >> 16;
    a *= STEER_MUL;
    a ^= a >> 16;
    return a % n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

unsigned pm_udpin_steer(const pm_ip_t *src, unsigned n)
{
    uint32_t a;
    if (n <= 1)
        return 0;
    if (src->af == 4)
        a = be32(src->a);
    else
        a = be32(src->a) ^ be32(src->a + 4) ^ be32(src->a + 8) ^
            be32(src->a + 12);
    return steer_mix(a, n);
}

static int attach_steering(int fd, unsigned n)
{
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF),
        /* 1 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
        /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 2),
        /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
        /* 4 */ BPF_JUMP(BPF_JMP | BPF_JA, 10, 0, 0),
        /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 8),
        /* 6 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
        /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
        /* 8 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 9 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
        /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 16),
        /* 11 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 12 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
        /* 13 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 20),
        /* 14 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 15: mix */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
        /* 16 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
        /* 17 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 18 */ BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, STEER_MUL),
        /* 19 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
        /* 20 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
        /* 21 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 22 */ BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
        /* 23 */ BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]),
                              .filter = code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                      sizeof(prog)) < 0
               ? -errno
               : 0;
}

int pm_udpin_open_group(struct pm_udpin **out, unsigned n,
                        const struct pm_host *host,
                        const struct pm_instance *inst,
                        const struct pm_udpin_cfg *cfg)
{
    int rc = 0;
    unsigned i;
    if (n <= 1)
        return pm_udpin_open(out, host, inst, cfg);
    if (n > PM_UDPIN_MAX_GROUP || (cfg->savefile && *cfg->savefile))
        return -EINVAL;
    for (i = 0; i < n; i++)
        out[i] = NULL;
    for (i = 0; i < n; i++) {
        struct pm_udpin_cfg c = *cfg;
        /* sockets 1.. bind to the port socket 0 got (port 0: any) */
        if (i > 0)
            c.port = pm_udpin_port(out[0]);
        if ((rc = udpin_open1(&out[i], host, inst, &c, 1)) < 0)
            goto fail;
    }
    if ((rc = attach_steering(out[0]->fd, n)) < 0) {
        host->log(inst, PM_LOG_ERR,
                  "%s: cannot attach the exporter steering program "
                  "(SO_ATTACH_REUSEPORT_CBPF, Linux >= 4.5): %s",
                  cfg->prefix ? cfg->prefix : "udp", strerror(-rc));
        goto fail;
    }
    return 0;
fail:
    for (i = 0; i < n; i++) {
        pm_udpin_close(out[i]);
        out[i] = NULL;
    }
    return rc;
}

uint64_t pm_udpin_rcvbuf(const struct pm_udpin *u) { return u->rcvbuf; }

/* drops column of this socket's line in /proc/net/udp or udp6 */
static int proc_drops(const struct pm_udpin *u, uint64_t *drops)
{
    const char *path = u->af == AF_INET6 ? "/proc/net/udp6" : "/proc/net/udp";
    char line[512];
    int rc = -ENOENT;
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        unsigned long inode = 0;
        unsigned long long d = 0;
        /* sl local rem st tx:rx tr:when retr uid timeout inode ref ptr drops */
        if (sscanf(line,
                   " %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %*s %*s %llu",
                   &inode, &d) == 2 &&
            inode == u->inode) {
            *drops = d;
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

uint64_t pm_udpin_drops(struct pm_udpin *u, int refresh)
{
    uint64_t d;
    if (refresh && u->fd >= 0 && u->inode && proc_drops(u, &d) == 0 &&
        d > u->drops)
        u->drops = d;
    return u->drops;
}

uint16_t pm_udpin_port(const struct pm_udpin *u) { return u->port; }
uint64_t pm_udpin_denied(const struct pm_udpin *u) { return u->denied; }

static int recv_savefile(struct pm_udpin *u, struct pm_dgram *dg, unsigned max)
{
    unsigned n = 0;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int r = pcap_next_ex(u->pcap, &h, &data);
        if (r == 1) {
            struct pm_dgram d;
            memset(&d, 0, sizeof(d));
            if (pm_udp_from_frame(u->dlt, data, h->caplen, &d) < 0)
                continue;
            if (!pm_allow_check(&u->allow, &d.src)) {
                u->denied++;
                continue;
            }
            d.ts.sec = (uint64_t)h->ts.tv_sec;
            d.ts.usec = (uint32_t)h->ts.tv_usec;
            dg[n++] = d;
            /* one frame at a time: data points into libpcap's buffer */
            return (int)n;
        }
        if (r == 0)
            continue;
        /* EOF or error */
        if (r == PCAP_ERROR) {
            u->host->log(u->inst, PM_LOG_ERR, "pcap_savefile %s: %s",
                         u->cfg.savefile, pcap_geterr(u->pcap));
        }
        u->replays_done++;
        uint64_t replays = u->cfg.savefile_replay ? u->cfg.savefile_replay : 1;
        if (u->replays_done < replays) {
            pcap_close(u->pcap);
            u->pcap = NULL;
            if (u->cfg.savefile_delay)
                sleep_until_stop(u, u->cfg.savefile_delay, 0);
            if (open_savefile(u) < 0)
                return -EIO;
            continue;
        }
        if (u->cfg.savefile_wait) {
            sleep_until_stop(u, 0, 1);
            return 0;
        }
        return -ENODATA;
    }
}

int pm_udpin_recv(struct pm_udpin *u, struct pm_dgram *dg, unsigned max,
                  int timeout_ms)
{
    if (max > UDPIN_BATCH)
        max = UDPIN_BATCH;
    if (max == 0)
        return 0;
    if (u->pcap) {
        if (u->replays_done == 0 && u->cfg.savefile_delay &&
            !u->delay_done) {
            u->delay_done = 1;
            sleep_until_stop(u, u->cfg.savefile_delay, 0);
        }
        return recv_savefile(u, dg, max);
    }
    int r;
    /* Under load the socket has data: read first, poll only when empty
     * (one syscall per batch instead of two). */
    for (int attempt = 0;; attempt++) {
        for (unsigned i = 0; i < max; i++) {
            memset(&u->msgs[i].msg_hdr, 0, sizeof(u->msgs[i].msg_hdr));
            u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
            u->msgs[i].msg_hdr.msg_iovlen = 1;
            u->msgs[i].msg_hdr.msg_name = &u->from[i];
            u->msgs[i].msg_hdr.msg_namelen = sizeof(u->from[i]);
            u->msgs[i].msg_hdr.msg_control = u->ctl[i].buf;
            u->msgs[i].msg_hdr.msg_controllen = sizeof(u->ctl[i].buf);
        }
        r = recvmmsg(u->fd, u->msgs, max, MSG_DONTWAIT, NULL);
        if (r > 0)
            break;
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        if (attempt > 0)
            return 0;
        struct pollfd pfd = {.fd = u->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr < 0)
            return errno == EINTR ? 0 : -errno;
        if (pr == 0)
            return 0;
    }
    /* SO_RXQ_OVFL: the socket's cumulative drop count (32 bits) */
    for (int i = r - 1; i >= 0; i--) {
        struct cmsghdr *cm;
        int found = 0;
        for (cm = CMSG_FIRSTHDR(&u->msgs[i].msg_hdr); cm;
             cm = CMSG_NXTHDR(&u->msgs[i].msg_hdr, cm)) {
#ifdef SO_RXQ_OVFL
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL) {
                uint32_t v;
                memcpy(&v, CMSG_DATA(cm), sizeof(v));
                u->ovfl_total += (uint32_t)(v - u->ovfl_last);
                u->ovfl_last = v;
                if (u->ovfl_total > u->drops)
                    u->drops = u->ovfl_total;
                found = 1;
            }
#endif
        }
        if (found)
            break;
    }
    pm_ts_t now;
    u->host->now(u->inst, &now);
    unsigned n = 0;
    for (int i = 0; i < r; i++) {
        struct pm_dgram *d = &dg[n];
        memset(d, 0, sizeof(*d));
        if (pm_ip_from_sockaddr(&d->src, &d->sport, &u->from[i]) < 0)
            continue;
        if (!pm_allow_check(&u->allow, &d->src)) {
            u->denied++;
            continue;
        }
        d->dport = u->port;
        d->data = u->iov[i].iov_base;
        d->len = u->msgs[i].msg_len;
        d->ts = now;
        n++;
    }
    return (int)n;
}

void pm_udpin_close(struct pm_udpin *u)
{
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);
    if (u->pcap)
        pcap_close(u->pcap);
    pm_allow_free(&u->allow);
    free(u->bufs);
    free(u);
}
