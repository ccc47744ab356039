/*
 * udpin.c - datagram input shared by the flow collectors: UDP socket
 * (recvmmsg batches, big SO_RCVBUF), pcap savefile replay (UDP payloads
 * with the packet's source as exporter, frames.c), senders filtered by an
 * allow list (flowaddr.c).  The per-exporter table is in exptab.c.
 *
 * Sockets may be opened as a SO_REUSEPORT group steered by source address
 * (classic BPF), one socket per receiver thread; the buffer size the
 * kernel grants and its drop counter are checked and reported (the drop
 * counter read with getsockopt SO_MEMINFO when asked, about once a second,
 * not with a SO_RXQ_OVFL control message on every datagram: the kernel's
 * per-datagram cmsg work was ~3 % of a busy collector's CPU).
 *
 * Threads: every object belongs to the receiver thread that reads it.
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
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
/* ---- input --------------------------------------------------------------- */

#define UDPIN_BATCH 64
/* Where a batch's datagrams land: one slot each, packed, for datagrams up
 * to a jumbo frame; the rest of a bigger one (up to UDP's 65,507 bytes)
 * goes to that message's overflow buffer and is made contiguous there.
 * Not one 64 KB buffer each: 64 buffers 64 KB apart put line k of every
 * datagram in the same cache set (4 KB-aliasing in L1, 2 sets of L2), so
 * the kernel's copy and the decoder's reads evicted each other.  The slot
 * is an odd number of cache lines (145) so consecutive slots spread over
 * the sets. */
#define UDPIN_SLOT 9280u
#define UDPIN_BUFSZ 65536u

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
    uint8_t *bufs; /* UDPIN_BATCH * UDPIN_SLOT (socket mode) */
    uint8_t *big;  /* UDPIN_BATCH * UDPIN_BUFSZ: overflow, touched only by
                      datagrams longer than a slot */
    uint64_t rcvbuf;     /* granted by the kernel */
    uint64_t drops;      /* best known kernel drop count */
    uint64_t drops_total; /* SO_MEMINFO's 32-bit count widened */
    uint32_t drops_last;
    unsigned long inode; /* for /proc/net/udp */
    struct mmsghdr msgs[UDPIN_BATCH];
    struct iovec iov[UDPIN_BATCH][2];
    struct sockaddr_storage from[UDPIN_BATCH];
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
    u->bufs = malloc((size_t)UDPIN_BATCH * UDPIN_SLOT);
    u->big = malloc((size_t)UDPIN_BATCH * UDPIN_BUFSZ);
    if (!u->bufs || !u->big)
        return -ENOMEM;
    for (int i = 0; i < UDPIN_BATCH; i++) {
        u->iov[i][0].iov_base = u->bufs + (size_t)i * UDPIN_SLOT;
        u->iov[i][0].iov_len = UDPIN_SLOT;
        u->iov[i][1].iov_base = u->big + (size_t)i * UDPIN_BUFSZ + UDPIN_SLOT;
        u->iov[i][1].iov_len = UDPIN_BUFSZ - UDPIN_SLOT;
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

/* The socket's drop count (sk_drops, 32 bits) from SO_MEMINFO. */
static int meminfo_drops(const struct pm_udpin *u, uint32_t *drops)
{
#ifdef SO_MEMINFO
    uint32_t mi[SK_MEMINFO_VARS];
    socklen_t l = sizeof(mi);
    if (getsockopt(u->fd, SOL_SOCKET, SO_MEMINFO, mi, &l) < 0)
        return -errno;
    if (l <= SK_MEMINFO_DROPS * sizeof(mi[0]))
        return -EINVAL;
    *drops = mi[SK_MEMINFO_DROPS];
    return 0;
#else
    (void)u;
    (void)drops;
    return -ENOSYS;
#endif
}

uint64_t pm_udpin_drops(struct pm_udpin *u, int refresh)
{
    uint64_t d;
    uint32_t v = 0;
    if (!refresh || u->fd < 0)
        return u->drops;
    if (meminfo_drops(u, &v) == 0) {
        u->drops_total += (uint32_t)(v - u->drops_last);
        u->drops_last = v;
        if (u->drops_total > u->drops)
            u->drops = u->drops_total;
    } else if (u->inode && proc_drops(u, &d) == 0 && d > u->drops) {
        u->drops = d;
    }
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
            u->msgs[i].msg_hdr.msg_iov = u->iov[i];
            u->msgs[i].msg_hdr.msg_iovlen = 2;
            u->msgs[i].msg_hdr.msg_name = &u->from[i];
            u->msgs[i].msg_hdr.msg_namelen = sizeof(u->from[i]);
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
        d->data = u->iov[i][0].iov_base;
        if (u->msgs[i].msg_len > UDPIN_SLOT) {
            /* longer than a slot: its head joins the tail in overflow */
            uint8_t *whole = u->big + (size_t)i * UDPIN_BUFSZ;
            memcpy(whole, u->iov[i][0].iov_base, UDPIN_SLOT);
            d->data = whole;
        }
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
    free(u->big);
    free(u);
}
