/*
 * nf_decode.c - decode-only micro-benchmark of the netflow capture module:
 * the UDP payloads of a pcap (NetFlow v5/v9, IPFIX) are fed straight into
 * the decoder (nf_datagram), LOOPS times, and every batch it emits goes
 * into the core's aggregation cache (pmc_cache_add) on the same thread, as
 * a print/memory plugin would aggregate it.  No sockets, no queues, no
 * other thread: what is left is the decoder and the cache.
 *
 *   nf_decode [-l LOOPS] [-a AGGREGATE] [-b BATCH] [-p POOL] FILE.pcap
 *
 * POOL batches (default 2) are used in turn, as the core's pool ring
 * hands them out: with the daemon's 67 the records are cold again when a
 * batch comes back.
 *
 * Prints datagrams, records, packets (sum of the records' packet
 * counters), aggregates, CPU seconds (CLOCK_PROCESS_CPUTIME_ID) spent in
 * the decoder and in the cache, ns per record and per packet, records per
 * CPU-second.  Each loop replays the datagrams from a new exporter
 * address's point of view only once (the same exporter), so templates are
 * learnt in the first loop.  Not a test: no assertion.
 *
 * Threads: one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fakehost.h"
#include "nf.h"
#include "pmdata.h"

const struct pm_module_desc *pm_module_descriptor(void);

struct dgram {
    uint8_t *p;
    uint32_t len;
    pm_ip_t src;
};

struct bench {
    struct dgram *d;
    size_t n, cap;
    struct pm_cache *cache;
    struct pm_batch **pool; /* used in turn (FIFO), as the core's ring does */
    int *used;
    uint32_t npool, next;
    uint32_t batch_cap;
    double cache_cpu;
    uint64_t records, packets;
};

static struct bench B; /* the bench's one run; the host callbacks reach it */

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* UDP payload of one frame, or -1. */
static int udp_payload(int dlt, const uint8_t *p, uint32_t n, struct dgram *out)
{
    uint32_t off = 0, et = 0;
    switch (dlt) {
    case 1: /* Ethernet */
        if (n < 14)
            return -1;
        et = (uint32_t)(p[12] << 8 | p[13]);
        off = 14;
        while ((et == 0x8100 || et == 0x88a8) && n >= off + 4) {
            et = (uint32_t)(p[off + 2] << 8 | p[off + 3]);
            off += 4;
        }
        break;
    case 113: /* Linux cooked */
        if (n < 16)
            return -1;
        et = (uint32_t)(p[14] << 8 | p[15]);
        off = 16;
        break;
    case 0: /* BSD loopback */
        if (n < 4)
            return -1;
        et = (p[0] == 2 || p[3] == 2) ? 0x0800 : 0x86dd;
        off = 4;
        break;
    case 12:
    case 101: /* raw IP */
        if (n < 1)
            return -1;
        et = (p[0] >> 4) == 4 ? 0x0800 : 0x86dd;
        break;
    default:
        return -1;
    }
    memset(&out->src, 0, sizeof(out->src));
    if (et == 0x0800) {
        if (n < off + 20 || p[off + 9] != 17)
            return -1;
        uint32_t ihl = (uint32_t)(p[off] & 15) * 4;
        pm_ip_set4(&out->src, p + off + 12);
        off += ihl;
    } else if (et == 0x86dd) {
        if (n < off + 40 || p[off + 6] != 17)
            return -1;
        pm_ip_set6(&out->src, p + off + 8);
        off += 40;
    } else
        return -1;
    if (n < off + 8)
        return -1;
    off += 8;
    out->p = malloc(n - off + 1);
    if (!out->p)
        return -1;
    memcpy(out->p, p + off, n - off);
    out->len = n - off;
    return 0;
}

static int load_pcap(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t gh[24], ph[16], *buf = malloc(262144);
    int swap, dlt;
    if (!f || !buf || fread(gh, 1, 24, f) != 24) {
        fprintf(stderr, "%s: cannot read a pcap header\n", path);
        return -1;
    }
    uint32_t magic = rd32(gh, 0);
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
        swap = 0;
    else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
        swap = 1;
    else {
        fprintf(stderr, "%s: not a classic pcap file\n", path);
        return -1;
    }
    dlt = (int)(rd32(gh + 20, swap) & 0xffff);
    while (fread(ph, 1, 16, f) == 16) {
        uint32_t cl = rd32(ph + 8, swap);
        if (cl > 262144 || fread(buf, 1, cl, f) != cl)
            break;
        if (B.n == B.cap) {
            B.cap = B.cap ? B.cap * 2 : 1024;
            B.d = realloc(B.d, B.cap * sizeof(*B.d));
            if (!B.d)
                return -1;
        }
        if (udp_payload(dlt, buf, cl, &B.d[B.n]) == 0)
            B.n++;
    }
    fclose(f);
    free(buf);
    return 0;
}

/* ---- host: batches go into the cache at once ------------------------- */

static struct pm_batch *b_get(const struct pm_instance *inst)
{
    (void)inst;
    for (uint32_t k = 0; k < B.npool; k++) {
        uint32_t i = (B.next + k) % B.npool;
        if (!B.used[i]) {
            B.used[i] = 1;
            B.next = (i + 1) % B.npool;
            pmc_batch_reset(B.pool[i]);
            return B.pool[i];
        }
    }
    return NULL;
}

static void b_release(const struct pm_instance *inst, struct pm_batch *b)
{
    (void)inst;
    for (uint32_t i = 0; i < B.npool; i++)
        if (B.pool[i] == b)
            B.used[i] = 0;
}

static int b_emit(const struct pm_instance *inst, struct pm_batch *b)
{
    double t0 = cpu_now();
    for (uint32_t i = 0; i < b->n; i++)
        B.packets += pm_batch_rec(b, i)->packets;
    B.records += b->n;
    /* as the daemon's inline pipeline runs it (core/pipeline.c deliver):
     * the records were filled by this thread, no prefetching them */
    pmc_batch_local = 1;
    if (pmc_cache_add(B.cache, b) < 0) {
        fprintf(stderr, "cache_add failed\n");
        exit(1);
    }
    B.cache_cpu += cpu_now() - t0;
    b_release(inst, b);
    return 0;
}

int main(int argc, char **argv)
{
    const char *agg = "src_host,dst_host,src_port,dst_port,proto";
    unsigned loops = 20;
    int o;
    B.batch_cap = 256;
    B.npool = 2;
    while ((o = getopt(argc, argv, "l:a:b:p:")) != -1) {
        switch (o) {
        case 'l':
            loops = (unsigned)atoi(optarg);
            break;
        case 'a':
            agg = optarg;
            break;
        case 'b':
            B.batch_cap = (uint32_t)atoi(optarg);
            break;
        case 'p':
            B.npool = (uint32_t)atoi(optarg);
            if (B.npool < 1)
                B.npool = 1;
            break;
        default:
            goto usage;
        }
    }
    if (optind != argc - 1)
        goto usage;
    if (load_pcap(argv[optind]) < 0 || B.n == 0) {
        fprintf(stderr, "%s: no UDP datagrams\n", argv[optind]);
        return 1;
    }

    static struct pm_host host;
    host = *fakehost();
    host.batch_get = b_get;
    host.batch_emit = b_emit;
    host.batch_release = b_release;
    B.pool = calloc(B.npool, sizeof(*B.pool));
    B.used = calloc(B.npool, sizeof(*B.used));
    if (!B.pool || !B.used)
        return 1;
    for (uint32_t i = 0; i < B.npool; i++)
        if (!(B.pool[i] = pmc_batch_new(B.batch_cap, 64 * 1024, 0)))
            return 1;
    struct pm_instance *out =
        fakehost_instance("print", "bench", PM_KIND_OUTPUT, agg);
    struct pm_instance *inst =
        fakehost_instance("netflow", "default", PM_KIND_CAPTURE, agg);
    B.cache = pmc_cache_new(out, NULL);
    const struct pm_module_desc *d = pm_module_descriptor();
    void *cfg = fakehost_config(d, inst, NULL);
    void *ctx = NULL;
    if (!B.cache || d->init(&host, inst, cfg, &ctx) < 0) {
        fprintf(stderr, "init failed\n");
        return 1;
    }
    struct nf_ctx *c = ctx;
    pm_ts_t now = {.sec = 1700000000};

    double t0 = cpu_now();
    for (unsigned l = 0; l < loops; l++)
        for (size_t i = 0; i < B.n; i++)
            nf_datagram(c, B.d[i].p, B.d[i].len, &B.d[i].src, &now);
    nf_flush(c);
    double total = cpu_now() - t0;
    double dec = total - B.cache_cpu;

    printf("file %s: %zu datagrams x %u loops, aggregate %s, batch %u, "
           "pool %u\n",
           argv[optind], B.n, loops, agg, B.batch_cap, B.npool);
    printf("records %llu packets %llu aggregates %llu\n",
           (unsigned long long)B.records, (unsigned long long)B.packets,
           (unsigned long long)pmc_cache_count(B.cache));
    printf("cpu_s total %.3f decode %.3f cache %.3f\n", total, dec,
           B.cache_cpu);
    if (B.records) {
        printf("ns/record total %.1f decode %.1f cache %.1f\n",
               total * 1e9 / (double)B.records, dec * 1e9 / (double)B.records,
               B.cache_cpu * 1e9 / (double)B.records);
        printf("ns/packet total %.2f\n",
               B.packets ? total * 1e9 / (double)B.packets : 0.0);
        printf("records per cpu-second %.0f\n", (double)B.records / total);
    }
    d->fini(ctx);
    fakehost_config_free(d, cfg);
    pmc_cache_free(B.cache);
    for (uint32_t i = 0; i < B.npool; i++)
        pmc_batch_free(B.pool[i]);
    free(B.pool);
    free(B.used);
    for (size_t i = 0; i < B.n; i++)
        free(B.d[i].p);
    free(B.d);
    fakehost_reset();
    return 0;
usage:
    fprintf(stderr,
            "usage: %s [-l LOOPS] [-a AGGREGATE] [-b BATCH] [-p POOL] "
            "FILE.pcap\n",
            argv[0]);
    return 2;
}
