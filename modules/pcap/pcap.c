/*
 * pcap.c - capture module: reads packets from a live interface or from a
 * libpcap savefile, decodes each one with host->decode_packet into a batch
 * record and hands full batches to the pipelines.
 *
 * Threads: init/start/stop/fini run on the main thread, run() on the
 * capture's own thread.  The only state touched by both is the pcap handle
 * (opened in start() or run(), closed in fini() after run() returned) and
 * the stats counters (atomic adds through pm_counter_add).
 *
 * Opening the input (savefile, live interface, pcap_filter) is in
 * pcap_open.c.
 *
 * Non-IP frames (ARP, LLDP, ...) are marked dropped: pmacctd 1.7.7 does not
 * account them, not even with an L2-only aggregate (src_mac,dst_mac).
 */
#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "pcap_int.h"

static const struct pm_option pcapm_options[] = {
    {"pcap_interface", PM_OPT_STR, 0, offsetof(struct pcap_cfg, pcap_interface),
     NULL, "eth0", "interface to listen on (default: chosen by libpcap)", 'i'},
    {"interface", PM_OPT_STR, 0, offsetof(struct pcap_cfg, interface), NULL,
     "eth0", "old name of pcap_interface", 0},
    {"pcap_savefile", PM_OPT_PATH, 0, offsetof(struct pcap_cfg, savefile),
     NULL, "file.pcap", "read packets from this libpcap savefile", 'I'},
    {"pcap_savefile_wait", PM_OPT_BOOL, 0,
     offsetof(struct pcap_cfg, savefile_wait), "false", NULL,
     "keep running after the savefile ends, until signalled", 'W'},
    {"pcap_savefile_delay", PM_OPT_UINT, 0,
     offsetof(struct pcap_cfg, savefile_delay), "0", "seconds",
     "sleep this many seconds before (re)playing the savefile", 'Z'},
    {"pcap_savefile_replay", PM_OPT_UINT, 0,
     offsetof(struct pcap_cfg, savefile_replay), "1", "times",
     "read the savefile this many times", 'Y'},
    {"pcap_filter", PM_OPT_STR, 0, offsetof(struct pcap_cfg, filter), NULL,
     "tcpdump expression", "BPF filter applied to every captured packet", 0},
    {"promisc", PM_OPT_BOOL, 0, offsetof(struct pcap_cfg, promisc), "true",
     NULL, "put the interface in promiscuous mode", 0},
    {"snaplen", PM_OPT_UINT, 0, offsetof(struct pcap_cfg, snaplen), "128",
     "bytes", "bytes captured per packet (live capture)", 'L'},
    {"pcap_direction", PM_OPT_STR, 0, offsetof(struct pcap_cfg, direction),
     NULL, "in|out", "capture only this direction; picks in_iface/out_iface",
     0},
    {"pcap_ifindex", PM_OPT_STR, 0, offsetof(struct pcap_cfg, ifindex), NULL,
     "sys|hash|none", "how to source the ifindex of the capturing interface",
     0},
    {"pcap_interface_wait", PM_OPT_BOOL, 0,
     offsetof(struct pcap_cfg, interface_wait), "false", NULL,
     "wait for the interface to appear instead of failing", 'w'},
    {"pmacctd_force_frag_handling", PM_OPT_BOOL, 0,
     offsetof(struct pcap_cfg, force_frag), "false", NULL,
     "track IP fragments even when no pipeline aggregates ports or tcpflags",
     0},
    {"pmacctd_frag_buffer_size", PM_OPT_SIZE, 0,
     offsetof(struct pcap_cfg, frag_buffer), "4M", "bytes",
     "memory for the fragment table (datagrams whose first fragment was seen)",
     0},
    PM_OPTION_END};

static int pcapm_init(const struct pm_host *host, const struct pm_instance *inst,
                     void *config, void **ctxp)
{
    struct pcap_cfg *cfg = config;
    struct pcap_ctx *ctx = calloc(1, sizeof(*ctx));
    const char *ifname = cfg->pcap_interface ? cfg->pcap_interface
                                             : cfg->interface;
    int rc = 0;

    if (!ctx)
        return -ENOMEM;
    ctx->host = host;
    ctx->inst = inst;
    ctx->cfg = cfg;
    ctx->dlt = -1;
    if (host->size >= offsetof(struct pm_host, custom_prims) +
                          sizeof(host->custom_prims) &&
        host->custom_prims) {
        const struct pm_custom_prim *cp = host->custom_prims(&ctx->ncprims);
        uint32_t k, with_ptr = 0;
        for (k = 0; cp && k < ctx->ncprims; k++)
            with_ptr += cp[k].nptrs > 0;
        ctx->cprims = with_ptr ? cp : NULL;
        if (!ctx->cprims)
            ctx->ncprims = 0;
    }
    if (ifname && *ifname && cfg->savefile && *cfg->savefile) {
        host->log(inst, PM_LOG_ERR,
                  "pcap_interface '%s' and pcap_savefile '%s' are mutually "
                  "exclusive",
                  ifname, cfg->savefile);
        rc = -EINVAL;
        goto fail;
    }
    if (ifname && *ifname) {
        snprintf(ctx->ifbuf, sizeof(ctx->ifbuf), "%s", ifname);
        ctx->ifname = ctx->ifbuf;
    }
    if (cfg->direction && *cfg->direction) {
        if (!strcasecmp(cfg->direction, "in"))
            ctx->direction = DIR_IN;
        else if (!strcasecmp(cfg->direction, "out"))
            ctx->direction = DIR_OUT;
        else {
            host->log(inst, PM_LOG_ERR,
                      "pcap_direction '%s': expected \"in\" or \"out\"",
                      cfg->direction);
            rc = -EINVAL;
            goto fail;
        }
    }
    if (cfg->ifindex && *cfg->ifindex) {
        if (!strcasecmp(cfg->ifindex, "sys"))
            ctx->ifx_mode = IFX_SYS;
        else if (!strcasecmp(cfg->ifindex, "hash"))
            ctx->ifx_mode = IFX_HASH;
        else if (!strcasecmp(cfg->ifindex, "none"))
            ctx->ifx_mode = IFX_NONE;
        else if (!strcasecmp(cfg->ifindex, "map")) {
            host->log(inst, PM_LOG_ERR,
                      "pcap_ifindex 'map' needs pcap_interfaces_map, which "
                      "this pcap module does not support");
            rc = -ENOTSUP;
            goto fail;
        } else {
            host->log(inst, PM_LOG_ERR,
                      "pcap_ifindex '%s': expected sys, hash or none",
                      cfg->ifindex);
            rc = -EINVAL;
            goto fail;
        }
    }
    if (cfg->snaplen > 262144) {
        host->log(inst, PM_LOG_ERR, "snaplen %llu: too large (max 262144)",
                  (unsigned long long)cfg->snaplen);
        rc = -EINVAL;
        goto fail;
    }
    ctx->c_packets = host->counter(inst, "packets", "packets captured");
    ctx->c_bytes = host->counter(inst, "bytes", "bytes captured (on the wire)");
    ctx->c_truncated = host->counter(inst, "decode_truncated",
                                     "packets too short for their headers");
    ctx->c_bad = host->counter(inst, "decode_bad",
                               "malformed packets or unknown link type");
    ctx->c_non_ip = host->counter(inst, "non_ip",
                                  "frames that are not IPv4/IPv6 (not accounted)");
    ctx->c_kdrop = host->counter(inst, "kernel_drops",
                                 "packets dropped by the kernel (ps_drop)");
    ctx->c_ifdrop = host->counter(inst, "interface_drops",
                                  "packets dropped by the interface (ps_ifdrop)");
    ctx->c_frag_unmatched = host->counter(
        inst, "frag_unmatched",
        "later IP fragments whose first fragment was not seen (dropped)");
    if (cfg->force_frag || pm_pset_has(&inst->aggregate_set, PM_P_SRC_PORT) ||
        pm_pset_has(&inst->aggregate_set, PM_P_DST_PORT) ||
        pm_pset_has(&inst->aggregate_set, PM_P_TCPFLAGS) ||
        inst->sum_mode == PM_SUM_PORT) {
        /* about 64 bytes per remembered datagram */
        ctx->frag = host->frag_new((uint32_t)(cfg->frag_buffer / 64), 60);
        if (!ctx->frag) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    *ctxp = ctx;
    return 0;
fail:
    free(ctx);
    return rc;
}


static int pcapm_start(void *vctx)
{
    struct pcap_ctx *ctx = vctx;
    uint32_t need_snap = 0;
    uint32_t needs = ctx->host->capture_needs(ctx->inst, &need_snap);
    int rc;

    ctx->keep_packets = (needs & PM_CAPF_KEEP_PACKETS) != 0;
    ctx->snaplen = ctx->cfg->snaplen ? (uint32_t)ctx->cfg->snaplen
                                     : PCAP_DEFAULT_SNAPLEN;
    if (need_snap > ctx->snaplen)
        ctx->snaplen = need_snap;
    if (ctx->cfg->savefile && *ctx->cfg->savefile)
        return pcapm_open_savefile(ctx);
    if (!ctx->ifname) {
        rc = pcapm_pick_device(ctx);
        if (rc < 0)
            return rc;
    }
    rc = pcapm_open_live(ctx, ctx->cfg->interface_wait);
    if (rc == -ENODEV && ctx->cfg->interface_wait) {
        ctx->host->log(ctx->inst, PM_LOG_WARNING,
                       "interface %s not available: waiting for it",
                       ctx->ifname);
        return 0; /* run() retries */
    }
    return rc;
}

/* Sleep up to `ms` milliseconds in slices, returning early on stop. */
static void nap(struct pcap_ctx *ctx, uint64_t ms)
{
    while (ms > 0 && !ctx->host->stopping(ctx->inst)) {
        uint64_t slice = ms > 100 ? 100 : ms;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* Export the deltas of pcap_stats as counters (live only). */
static void update_stats(struct pcap_ctx *ctx)
{
    struct pcap_stat ps;

    if (!ctx->p || !ctx->ifname || pcap_stats(ctx->p, &ps) < 0)
        return;
    if (ps.ps_drop >= ctx->last_drop)
        pm_counter_add(ctx->c_kdrop, ps.ps_drop - ctx->last_drop);
    if (ps.ps_ifdrop >= ctx->last_ifdrop)
        pm_counter_add(ctx->c_ifdrop, ps.ps_ifdrop - ctx->last_ifdrop);
    ctx->last_drop = ps.ps_drop;
    ctx->last_ifdrop = ps.ps_ifdrop;
}

struct loop_state {
    struct pm_batch *b;
    uint64_t packets, bytes, truncated, bad, non_ip;
    uint64_t batch_start_ms; /* packet time of the batch's first record */
};

static void flush_counters(struct pcap_ctx *ctx, struct loop_state *st)
{
    pm_counter_add(ctx->c_packets, st->packets);
    pm_counter_add(ctx->c_bytes, st->bytes);
    if (st->truncated)
        pm_counter_add(ctx->c_truncated, st->truncated);
    if (st->bad)
        pm_counter_add(ctx->c_bad, st->bad);
    if (st->non_ip)
        pm_counter_add(ctx->c_non_ip, st->non_ip);
    st->packets = st->bytes = st->truncated = st->bad = st->non_ip = 0;
}

/* Hand the current batch on (or give it back when empty). */
static void emit(struct pcap_ctx *ctx, struct loop_state *st)
{
    if (!st->b)
        return;
    if (st->b->n > 0)
        ctx->host->batch_emit(ctx->inst, st->b);
    else
        ctx->host->batch_release(ctx->inst, st->b);
    st->b = NULL;
    flush_counters(ctx, st);
}

/* Turn one packet into a record.  Returns 0, or 1 when the host stops. */

/* Custom primitives with packet_ptr: for the first pointer whose layer is
 * present (and whose protocol matches, when given), copy len bytes from
 * layer start + offset when they are all captured; else leave it unset. */
static void custom_prims(const struct pcap_ctx *ctx, struct pm_rec *r,
                         const uint8_t *data, uint32_t caplen)
{
    for (uint32_t k = 0; k < ctx->ncprims; k++) {
        const struct pm_custom_prim *cp = &ctx->cprims[k];
        for (uint32_t j = 0; j < cp->nptrs; j++) {
            const struct pm_custom_ptr *pp = &cp->ptrs[j];
            uint32_t base;
            switch (pp->layer) {
            case PM_CLAYER_PACKET:
                base = 0;
                break;
            case PM_CLAYER_L3:
                if (!pm_rec_has(r, PM_P_SRC_HOST) ||
                    (pp->has_proto && pp->proto != r->etype))
                    continue;
                base = r->l3_off;
                break;
            case PM_CLAYER_L4:
                if (!r->l4_off || (r->flags & PM_RF_FRAGMENT) ||
                    (pp->has_proto && pp->proto != r->proto))
                    continue;
                base = r->l4_off;
                break;
            case PM_CLAYER_PAYLOAD:
                if (!r->payload_off ||
                    (pp->has_proto && pp->proto != r->proto))
                    continue;
                base = r->payload_off;
                break;
            default:
                continue;
            }
            if ((uint64_t)base + pp->offset + cp->len > caplen)
                break; /* the layer matched but the bytes are not there */
            memcpy(r->custom + cp->rec_off, data + base + pp->offset, cp->len);
            pm_rec_set(r, cp->id);
            break;
        }
    }
}

static int one_packet(struct pcap_ctx *ctx, struct loop_state *st,
                      const struct pcap_pkthdr *h, const uint8_t *data)
{
    const struct pm_host *host = ctx->host;
    struct pm_batch *b = st->b;
    struct pm_rec *r;
    uint8_t *copy = NULL;
    int dr;

    if (!b) {
        b = st->b = host->batch_get(ctx->inst);
        if (!b)
            return 1;
        st->batch_start_ms =
            (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000;
    }
    if (ctx->keep_packets) {
        copy = host->batch_pkt(b, h->caplen);
        if (!copy && b->n > 0) {
            emit(ctx, st);
            b = st->b = host->batch_get(ctx->inst);
            if (!b)
                return 1;
            st->batch_start_ms = (uint64_t)h->ts.tv_sec * 1000 +
                                 (uint64_t)h->ts.tv_usec / 1000;
            copy = host->batch_pkt(b, h->caplen);
        }
        if (!copy)
            host->log_limited(ctx->inst, PM_LOG_WARNING, "pcap-pktbuf",
                              "packet of %u bytes does not fit a batch's "
                              "packet buffer: passed on without its bytes",
                              h->caplen);
    }
    r = pm_batch_rec(b, b->n);
    memset(r, 0, b->rec_size);
    dr = host->decode_packet(r, ctx->dlt, data, h->caplen, h->len, 0);
    r->ts_arrival.sec = (uint64_t)h->ts.tv_sec;
    r->ts_arrival.usec = (uint32_t)h->ts.tv_usec;
    pm_rec_set(r, PM_P_TIMESTAMP_ARRIVAL);
    r->dlt = (uint16_t)ctx->dlt;
    if (copy) {
        memcpy(copy, data, h->caplen);
        r->pkt = copy;
        r->pkt_caplen = h->caplen;
        r->pkt_len = h->len;
    }
    /* an unsampled capture: rate 1, as pmacctd 1.7.7 reports (the sampling
     * transform changes it for *_ext_sampling_rate) */
    r->sampling_rate = 1;
    pm_rec_set(r, PM_P_SAMPLING_RATE);
    if (ctx->ifindex) {
        if (ctx->direction == DIR_OUT) {
            r->out_iface = ctx->ifindex;
            pm_rec_set(r, PM_P_OUT_IFACE);
        } else {
            r->in_iface = ctx->ifindex;
            pm_rec_set(r, PM_P_IN_IFACE);
        }
    }
    st->packets++;
    st->bytes += h->len;
    switch (dr) {
    case PM_DEC_OK:
        if (ctx->ncprims)
            custom_prims(ctx, r, data, h->caplen);
        /* A later fragment takes the ports of its first fragment; one whose
         * first fragment never came is dropped and counted, as pmacctd
         * drops it (docs/DIFFERENCES.md). */
        if (ctx->frag &&
            host->frag_track(ctx->frag, r, data, h->caplen) ==
                PM_FRAG_UNMATCHED) {
            pm_counter_add(ctx->c_frag_unmatched, 1);
            pm_batch_drop(b, b->n);
        }
        break;
    case PM_DEC_NOT_IP:
        st->non_ip++;
        pm_batch_drop(b, b->n);
        break;
    case PM_DEC_TRUNCATED:
        st->truncated++;
        pm_batch_drop(b, b->n);
        break;
    case PM_DEC_UNKNOWN_DLT:
        host->log_limited(ctx->inst, PM_LOG_WARNING, "pcap-dlt",
                          "link type %d is not supported: packets ignored",
                          ctx->dlt);
        /* fall through */
    default:
        st->bad++;
        pm_batch_drop(b, b->n);
        break;
    }
    b->n++;
    if (b->n == b->cap)
        emit(ctx, st);
    return 0;
}

/* Read the savefile once.  Returns 0 at EOF/error, 1 when stopped. */
static int read_savefile(struct pcap_ctx *ctx, struct loop_state *st)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t n = 0;
    int rc;

    for (;;) {
        rc = pcap_next_ex(ctx->p, &h, &data);
        if (rc == 1) {
            n++;
            if (one_packet(ctx, st, h, data))
                return 1;
            if ((n & 4095) == 0 && ctx->host->stopping(ctx->inst))
                return 1;
            continue;
        }
        if (rc == PCAP_ERROR_BREAK) /* end of file */
            return 0;
        if (rc == PCAP_ERROR) {
            ctx->host->log(ctx->inst, PM_LOG_ERR,
                           "error reading %s at packet %llu: %s",
                           ctx->cfg->savefile, (unsigned long long)(n + 1),
                           pcap_geterr(ctx->p));
            return 0;
        }
        /* rc == 0 cannot happen offline; treat as EOF */
        return 0;
    }
}

static int run_savefile(struct pcap_ctx *ctx)
{
    struct loop_state st = {0};
    uint64_t times = ctx->cfg->savefile_replay ? ctx->cfg->savefile_replay : 1;
    uint64_t i;
    int rc = 0;

    for (i = 0; i < times; i++) {
        if (ctx->cfg->savefile_delay)
            nap(ctx, ctx->cfg->savefile_delay * 1000);
        if (ctx->host->stopping(ctx->inst))
            goto stopped;
        if (!ctx->p) {
            rc = pcapm_open_savefile(ctx);
            if (rc < 0)
                goto out;
        }
        if (read_savefile(ctx, &st))
            goto stopped;
        pcap_close(ctx->p);
        ctx->p = NULL;
    }
    emit(ctx, &st);
    if (ctx->cfg->savefile_wait) {
        while (!ctx->host->stopping(ctx->inst))
            nap(ctx, 1000);
        return PM_RUN_STOPPED;
    }
    return PM_RUN_EOF;
stopped:
    emit(ctx, &st);
    return PM_RUN_STOPPED;
out:
    emit(ctx, &st);
    return rc;
}

struct live_args {
    struct pcap_ctx *ctx;
    struct loop_state *st;
    int stop;
};

static void live_cb(u_char *user, const struct pcap_pkthdr *h,
                    const u_char *data)
{
    struct live_args *la = (struct live_args *)(void *)user;

    if (la->stop)
        return;
    if (one_packet(la->ctx, la->st, h, data)) {
        la->stop = 1;
        pcap_breakloop(la->ctx->p);
        return;
    }
    /* a trickle never fills a batch: emit at least every 100 ms */
    if (la->st->b && la->st->b->n > 0 &&
        (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000 >=
            la->st->batch_start_ms + PCAP_TIMEOUT_MS)
        emit(la->ctx, la->st);
}

/*
 * Live loop.  The handle is non-blocking and we poll its descriptor with a
 * 100 ms timeout ourselves: libpcap's own read timeout may never fire on
 * Linux (TPACKET_V3) when no packet arrives, and stopping() must be seen.
 */
static int run_live(struct pcap_ctx *ctx)
{
    struct loop_state st = {0};
    struct live_args la = {ctx, &st, 0};
    pm_ts_t now;
    uint64_t last_stats = 0;
    int rc, fd;

    while (!ctx->p) {
        if (ctx->host->stopping(ctx->inst))
            return PM_RUN_STOPPED;
        nap(ctx, PCAP_IFACE_RETRY_SECS * 1000);
        if (ctx->host->stopping(ctx->inst))
            return PM_RUN_STOPPED;
        rc = pcapm_open_live(ctx, 1);
        if (rc < 0 && rc != -ENODEV)
            return rc;
    }
    fd = pcap_get_selectable_fd(ctx->p);
    for (;;) {
        rc = pcap_dispatch(ctx->p, -1, live_cb, (u_char *)&la);
        if (la.stop) {
            emit(ctx, &st);
            return PM_RUN_STOPPED;
        }
        if (rc == PCAP_ERROR_BREAK) {
            emit(ctx, &st);
            return PM_RUN_STOPPED;
        }
        if (rc < 0) {
            emit(ctx, &st);
            ctx->host->log(ctx->inst, PM_LOG_ERR, "error reading from %s: %s",
                           ctx->ifname, pcap_geterr(ctx->p));
            return -EIO;
        }
        if (rc == 0) {
            struct pollfd pfd = {fd, POLLIN, 0};
            emit(ctx, &st); /* quiet link: let data flow */
            if (fd >= 0)
                poll(&pfd, 1, PCAP_TIMEOUT_MS);
            else
                nap(ctx, 10);
        }
        if (ctx->host->stopping(ctx->inst)) {
            emit(ctx, &st);
            return PM_RUN_STOPPED;
        }
        ctx->host->now(ctx->inst, &now);
        if (now.sec != last_stats) {
            last_stats = now.sec;
            update_stats(ctx);
        }
    }
}

static int pcapm_run(void *vctx)
{
    struct pcap_ctx *ctx = vctx;

    if (ctx->cfg->savefile && *ctx->cfg->savefile)
        return run_savefile(ctx);
    return run_live(ctx);
}

static void pcapm_fini(void *vctx)
{
    struct pcap_ctx *ctx = vctx;

    if (!ctx)
        return;
    if (ctx->p) {
        update_stats(ctx);
        pcap_close(ctx->p);
    }
    if (ctx->frag)
        ctx->host->frag_free(ctx->frag);
    free(ctx);
}

static const struct pm_module_desc pcapm_desc = {
    PM_MODULE_HEAD(PM_KIND_CAPTURE),
    .name = "pcap",
    .version = "1.0",
    .summary = "capture: libpcap interfaces and savefiles",
    .flags = 0,
    .order = 0,
    .options = pcapm_options,
    .config_size = sizeof(struct pcap_cfg),
    .init = pcapm_init,
    .start = pcapm_start,
    .run = pcapm_run,
    .fini = pcapm_fini,
};

PM_MODULE_EXPORT(pcapm_desc)
