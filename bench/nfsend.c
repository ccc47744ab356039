/*
 * nfsend.c - UDP flow-export sender for the bench and the tests: replays
 * the UDP payloads of a pcap capture (e.g. softflowd's NetFlow v9 export
 * captured on lo) to a collector with sendmmsg, as fast as one core can or
 * at a given rate, or sends synthetic NetFlow v9 (one template, then data
 * records with known counters) from a given source address, rotating over
 * several source ports so that only a steering by source *address* keeps
 * one exporter's datagrams on one collector socket.
 *
 * Single-threaded program; nothing is shared.  Plain C + libc (the pcap
 * file format is read directly: classic pcap, Ethernet/raw/null/SLL).
 *
 *   nfsend [opts] -d DST -p PORT FILE.pcap       replay
 *   nfsend [opts] -d DST -p PORT -y DGRAMS       synthetic v9
 * opts:
 *   -s ADDR    bind the sending sockets to this source address
 *   -r PPS     datagrams per second (0: as fast as possible, default)
 *   -l LOOPS   replay the capture this many times (default 1)
 *   -f N       synthetic: records per datagram (default 20)
 *   -k N       synthetic: source ports to rotate over (default 4)
 *   -i ID      synthetic: v9 source id (default 1)
 *   -b N       replay: datagrams per sendmmsg call (1-64, default 64; with
 *              -r the sender sleeps between calls: 1 spreads the datagrams
 *              evenly as a router does, 64 sends bursts of 64)
 * Prints one line: `sent D datagrams, R records, P packets, B bytes in S s
 * (X dgram/s), cpu C s` (records/packets/bytes: synthetic only).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXDG 65536
#define BATCH 64

struct dgram {
    uint8_t *p;
    uint32_t len;
};

static struct dgram *dgs;
static size_t ndgs, capdgs;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add_dgram(const uint8_t *p, uint32_t len)
{
    if (ndgs == capdgs) {
        size_t nc = capdgs ? capdgs * 2 : 1024;
        struct dgram *n = realloc(dgs, nc * sizeof(*n));
        if (!n)
            return -1;
        dgs = n;
        capdgs = nc;
    }
    dgs[ndgs].p = malloc(len ? len : 1);
    if (!dgs[ndgs].p)
        return -1;
    memcpy(dgs[ndgs].p, p, len);
    dgs[ndgs].len = len;
    ndgs++;
    return 0;
}

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* UDP payload of one frame, or -1. */
static int udp_payload(int dlt, const uint8_t *p, uint32_t n,
                       const uint8_t **pl, uint32_t *pll)
{
    uint32_t off = 0;
    uint16_t et;
    switch (dlt) {
    case 1: /* Ethernet */
        if (n < 14)
            return -1;
        et = (uint16_t)(p[12] << 8 | p[13]);
        off = 14;
        while ((et == 0x8100 || et == 0x88a8) && n >= off + 4) {
            et = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
            off += 4;
        }
        break;
    case 0: /* null/loopback */
        if (n < 4)
            return -1;
        off = 4;
        et = (p[4] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    case 101: /* raw */
    case 12:
        et = n && (p[0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    case 113: /* SLL */
        if (n < 16)
            return -1;
        et = (uint16_t)(p[14] << 8 | p[15]);
        off = 16;
        break;
    default:
        return -1;
    }
    if (et == 0x0800) {
        if (n < off + 20 || p[off + 9] != 17)
            return -1;
        uint32_t ihl = (uint32_t)(p[off] & 15) * 4;
        off += ihl;
    } else if (et == 0x86dd) {
        if (n < off + 40 || p[off + 6] != 17)
            return -1;
        off += 40;
    } else
        return -1;
    if (n < off + 8)
        return -1;
    uint32_t ul = (uint32_t)(p[off + 4] << 8 | p[off + 5]);
    if (ul < 8 || off + ul > n)
        return -1;
    *pl = p + off + 8;
    *pll = ul - 8;
    return 0;
}

static int load_pcap(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t gh[24], rh[16];
    static uint8_t buf[262144];
    if (!f) {
        fprintf(stderr, "nfsend: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fread(gh, 1, 24, f) != 24) {
        fprintf(stderr, "nfsend: %s: not a pcap file\n", path);
        fclose(f);
        return -1;
    }
    uint32_t magic = rd32(gh, 0);
    int swap;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
        swap = 0;
    else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
        swap = 1;
    else {
        fprintf(stderr, "nfsend: %s: not a classic pcap file\n", path);
        fclose(f);
        return -1;
    }
    int dlt = (int)(rd32(gh + 20, swap) & 0xffff);
    while (fread(rh, 1, 16, f) == 16) {
        uint32_t cl = rd32(rh + 8, swap);
        const uint8_t *pl;
        uint32_t pll;
        if (cl > sizeof(buf) || fread(buf, 1, cl, f) != cl)
            break;
        if (udp_payload(dlt, buf, cl, &pl, &pll) == 0 && add_dgram(pl, pll) < 0)
            return -1;
    }
    fclose(f);
    return 0;
}

/* ---- synthetic v9 ------------------------------------------------------- */

static uint64_t s_records, s_packets, s_bytes;

static void w16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void w32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* fields of template 256: id, length */
static const uint16_t tmpl_f[][2] = {{8, 4},  {12, 4}, {7, 2},  {11, 2},
                                     {4, 1},  {2, 4},  {1, 4},  {22, 4},
                                     {21, 4}};
#define NTF (sizeof(tmpl_f) / sizeof(tmpl_f[0]))
#define RECLEN 29

static int synth(uint32_t n, uint32_t per, uint32_t srcid, uint32_t salt)
{
    uint8_t b[1500];
    uint32_t seq = 0, k = 0;
    const uint32_t secs = 1700000000u, uptime = 3600000u;
    for (uint32_t d = 0; d < n; d++) {
        uint32_t off = 20, cnt = 0;
        memset(b, 0, sizeof(b));
        w16(b, 9);
        w32(b + 4, uptime);
        w32(b + 8, secs);
        w32(b + 12, seq++);
        w32(b + 16, srcid);
        if (d == 0) { /* template flowset */
            w16(b + off, 0);
            w16(b + off + 2, (uint16_t)(4 + 4 + 4 * NTF));
            w16(b + off + 4, 256);
            w16(b + off + 6, (uint16_t)NTF);
            for (size_t i = 0; i < NTF; i++) {
                w16(b + off + 8 + 4 * i, tmpl_f[i][0]);
                w16(b + off + 10 + 4 * i, tmpl_f[i][1]);
            }
            off += 8 + 4 * (uint32_t)NTF;
            cnt++;
        } else {
            uint32_t fs = off, len = 4 + per * RECLEN;
            len = (len + 3) & ~3u;
            w16(b + fs, 256);
            w16(b + fs + 2, (uint16_t)len);
            uint8_t *r = b + fs + 4;
            for (uint32_t i = 0; i < per; i++, k++, r += RECLEN) {
                uint32_t pk = 1 + (k % 7), by = pk * 100 + (k % 13);
                w32(r, 0x0a000000u | (salt << 16) | (k & 0xffff));
                w32(r + 4, 0x0a010000u | (k % 251));
                w16(r + 8, (uint16_t)(1024 + k % 1000));
                w16(r + 10, (uint16_t)(k % 3 ? 80 : 443));
                r[12] = k % 2 ? 6 : 17;
                w32(r + 13, pk);
                w32(r + 17, by);
                w32(r + 21, uptime - 2000);
                w32(r + 25, uptime - 1000);
                s_records++;
                s_packets += pk;
                s_bytes += by;
                cnt++;
            }
            off = fs + len;
        }
        w16(b + 2, (uint16_t)cnt);
        if (add_dgram(b, off) < 0)
            return -1;
    }
    return 0;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    const char *dst = NULL, *src = NULL;
    unsigned port = 0, nports = 4, per = 20, srcid = 1, burst = BATCH;
    double pps = 0;
    unsigned long loops = 1, synth_n = 0;
    int opt;
    while ((opt = getopt(argc, argv, "d:p:s:r:l:y:f:k:i:b:")) != -1) {
        switch (opt) {
        case 'd': dst = optarg; break;
        case 'p': port = (unsigned)atoi(optarg); break;
        case 's': src = optarg; break;
        case 'r': pps = atof(optarg); break;
        case 'l': loops = strtoul(optarg, NULL, 10); break;
        case 'y': synth_n = strtoul(optarg, NULL, 10); break;
        case 'f': per = (unsigned)atoi(optarg); break;
        case 'k': nports = (unsigned)atoi(optarg); break;
        case 'i': srcid = (unsigned)atoi(optarg); break;
        case 'b': burst = (unsigned)atoi(optarg); break;
        default: goto usage;
        }
    }
    if (!dst || !port || (!synth_n && optind != argc - 1) || per < 1 ||
        per > 50 || nports < 1 || nports > 64)
        goto usage;

    struct sockaddr_storage da, sa;
    socklen_t dl, sl = 0;
    int af;
    memset(&da, 0, sizeof(da));
    memset(&sa, 0, sizeof(sa));
    if (inet_pton(AF_INET, dst, &((struct sockaddr_in *)&da)->sin_addr) == 1) {
        af = AF_INET;
        ((struct sockaddr_in *)&da)->sin_family = AF_INET;
        ((struct sockaddr_in *)&da)->sin_port = htons((uint16_t)port);
        dl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, dst,
                         &((struct sockaddr_in6 *)&da)->sin6_addr) == 1) {
        af = AF_INET6;
        ((struct sockaddr_in6 *)&da)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&da)->sin6_port = htons((uint16_t)port);
        dl = sizeof(struct sockaddr_in6);
    } else
        goto usage;
    if (src) {
        if (af == AF_INET &&
            inet_pton(AF_INET, src, &((struct sockaddr_in *)&sa)->sin_addr) ==
                1) {
            ((struct sockaddr_in *)&sa)->sin_family = AF_INET;
            sl = sizeof(struct sockaddr_in);
        } else if (af == AF_INET6 &&
                   inet_pton(AF_INET6, src,
                             &((struct sockaddr_in6 *)&sa)->sin6_addr) == 1) {
            ((struct sockaddr_in6 *)&sa)->sin6_family = AF_INET6;
            sl = sizeof(struct sockaddr_in6);
        } else {
            fprintf(stderr, "nfsend: -s %s: not an address of -d's family\n",
                    src);
            return 2;
        }
    }

    if (synth_n) {
        uint32_t salt = 0;
        if (src)
            for (const char *c = src; *c; c++)
                salt = salt * 31 + (uint8_t)*c;
        if (synth(synth_n, per, srcid, salt & 0xff) < 0)
            return 1;
    } else {
        if (load_pcap(argv[optind]) < 0)
            return 1;
        nports = 1;
    }
    if (!ndgs) {
        fprintf(stderr, "nfsend: no UDP datagram to send\n");
        return 1;
    }

    int fds[64];
    for (unsigned i = 0; i < nports; i++) {
        fds[i] = socket(af, SOCK_DGRAM, 0);
        if (fds[i] < 0) {
            perror("nfsend: socket");
            return 1;
        }
        int sz = 4 << 20;
        setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        if (sl && bind(fds[i], (struct sockaddr *)&sa, sl) < 0) {
            fprintf(stderr, "nfsend: bind to %s: %s\n", src, strerror(errno));
            return 1;
        }
        if (connect(fds[i], (struct sockaddr *)&da, dl) < 0) {
            fprintf(stderr, "nfsend: connect to %s: %s\n", dst,
                    strerror(errno));
            return 1;
        }
    }

    if (burst < 1 || burst > BATCH) {
        fprintf(stderr, "nfsend: -b: 1 to %d\n", BATCH);
        return 2;
    }
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint64_t total = (uint64_t)ndgs * loops, sent = 0;
    double t0 = now_s();
    unsigned cur = 0, refused = 0;
    while (sent < total) {
        unsigned n = 0;
        /* synthetic: one datagram per call so ports rotate per datagram
         * (the template goes first, alone) */
        unsigned lim = nports > 1 ? 1 : burst;
        while (n < lim && sent + n < total) {
            const struct dgram *g = &dgs[(sent + n) % ndgs];
            iov[n].iov_base = g->p;
            iov[n].iov_len = g->len;
            memset(&msgs[n], 0, sizeof(msgs[n]));
            msgs[n].msg_hdr.msg_iov = &iov[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
            n++;
        }
        if (pps > 0) {
            double due = t0 + (double)sent / pps;
            double t;
            while ((t = now_s()) < due) {
                double w = due - t;
                if (w > 0.0002) {
                    struct timespec ts = {0, (long)((w - 0.0001) * 1e9)};
                    nanosleep(&ts, NULL);
                }
            }
        }
        int r = sendmmsg(fds[cur], msgs, n, 0);
        if (r < 0) {
            if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)
                continue;
            if (errno == ECONNREFUSED && ++refused < 1000)
                continue; /* an ICMP from a previous datagram: resend */
            perror("nfsend: sendmmsg");
            return 1;
        }
        sent += (uint64_t)r;
        cur = (cur + 1) % nports;
    }
    double el = now_s() - t0;
    printf("sent %llu datagrams, %llu records, %llu packets, %llu bytes in "
           "%.3f s (%.0f dgram/s), cpu %.3f s\n",
           (unsigned long long)sent, (unsigned long long)s_records,
           (unsigned long long)s_packets, (unsigned long long)s_bytes, el,
           el > 0 ? (double)sent / el : 0.0, cpu_s());
    return 0;
usage:
    fprintf(stderr,
            "usage: nfsend [-s SRC] [-r PPS] [-l LOOPS] -d DST -p PORT "
            "FILE.pcap\n"
            "       nfsend [-s SRC] [-r PPS] [-f PER] [-k PORTS] [-i ID] "
            "-d DST -p PORT -y DGRAMS\n");
    return 2;
}
