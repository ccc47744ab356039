/*
 * filter.c - transform module implementing pmacct's aggregate_filter: a
 * tcpdump/BPF expression per pipeline; records that do not match are
 * dropped before aggregation.
 *
 * Records carrying packet bytes (rec->pkt, from packet captures) are matched
 * on the packet with a program compiled for the record's link type (compiled
 * lazily, once per link type met).  Records without bytes (flows from
 * NetFlow/sFlow/...) are matched against a minimal Ethernet + IPv4/IPv6 +
 * TCP/UDP frame synthesised from the record's fields on the stack (MACs,
 * VLAN, hosts, tos, proto, ports, tcpflags), so `dst net 10.0.0.0/8`,
 * `src port 80`, `tcp`, `vlan 10` work for flows too.
 *
 * Threads: one instance serves one pipeline; process() runs on that
 * pipeline's thread only, so the context needs no lock.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#define FILTER_SNAPLEN 65535
#define FILTER_MAX_DLT 8

struct filter_cfg {
    char *aggregate_filter;
};

struct filter_prog {
    int dlt;
    int ok; /* 0: the expression does not compile for this link type */
    struct bpf_program prog;
};

struct filter_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const char *expr;
    struct filter_prog progs[FILTER_MAX_DLT]; /* [0] is DLT_EN10MB */
    unsigned nprogs;
    uint64_t *c_matched, *c_dropped;
};

static const struct pm_option filter_options[] = {
    {"aggregate_filter", PM_OPT_STR, PM_OPTF_NO_GLOBAL | PM_OPTF_TRIGGER,
     offsetof(struct filter_cfg, aggregate_filter), NULL, "tcpdump expression",
     "keep only records matching this BPF filter (per pipeline)", 0},
    PM_OPTION_END};

/* Compile expr for dlt into fp; on failure fills err. */
static int compile_for(const char *expr, int dlt, struct filter_prog *fp,
                       char *err, size_t errlen)
{
    pcap_t *p = pcap_open_dead(dlt, FILTER_SNAPLEN);
    int rc = 0;

    fp->dlt = dlt;
    fp->ok = 0;
    if (!p) {
        snprintf(err, errlen, "pcap_open_dead failed");
        return -ENOMEM;
    }
    if (pcap_compile(p, &fp->prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "%s", pcap_geterr(p));
        rc = -EINVAL;
    } else {
        fp->ok = 1;
    }
    pcap_close(p);
    return rc;
}

static int filter_init(const struct pm_host *host,
                       const struct pm_instance *inst, void *config,
                       void **ctxp)
{
    struct filter_cfg *cfg = config;
    struct filter_ctx *ctx;
    char err[PCAP_ERRBUF_SIZE + 64];
    int rc;

    if (!cfg->aggregate_filter || !*cfg->aggregate_filter) {
        host->log(inst, PM_LOG_ERR, "aggregate_filter is empty");
        return -EINVAL;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    ctx->host = host;
    ctx->inst = inst;
    ctx->expr = cfg->aggregate_filter;
    rc = compile_for(ctx->expr, DLT_EN10MB, &ctx->progs[0], err, sizeof(err));
    if (rc < 0) {
        host->log(inst, PM_LOG_ERR, "aggregate_filter '%s': %s", ctx->expr,
                  err);
        free(ctx);
        return rc;
    }
    ctx->nprogs = 1;
    ctx->c_matched = host->counter(inst, "matched", "records matching the filter");
    ctx->c_dropped = host->counter(inst, "dropped",
                                   "records dropped: not matching the filter");
    *ctxp = ctx;
    return 0;
}

/* The program for link type dlt, compiled on first use; NULL when the
 * expression cannot apply to that link type (logged once). */
static struct filter_prog *prog_for(struct filter_ctx *ctx, int dlt)
{
    char err[PCAP_ERRBUF_SIZE + 64];
    unsigned i;

    for (i = 0; i < ctx->nprogs; i++)
        if (ctx->progs[i].dlt == dlt)
            return ctx->progs[i].ok ? &ctx->progs[i] : NULL;
    if (ctx->nprogs == FILTER_MAX_DLT)
        return NULL;
    i = ctx->nprogs++;
    if (compile_for(ctx->expr, dlt, &ctx->progs[i], err, sizeof(err)) < 0) {
        ctx->host->log(ctx->inst, PM_LOG_WARNING,
                       "aggregate_filter '%s' cannot be applied to link type "
                       "%d (%s): its records are dropped",
                       ctx->expr, dlt, err);
        return NULL;
    }
    return &ctx->progs[i];
}

static int filter_process(void *vctx, struct pm_batch *b)
{
    struct filter_ctx *ctx = vctx;
    uint8_t frame[PM_RECORD_FRAME_MAX];
    struct pcap_pkthdr h;
    uint64_t matched = 0, dropped = 0;
    uint32_t i;

    memset(&h, 0, sizeof(h));
    for (i = 0; i < b->n; i++) {
        const struct pm_rec *r;
        struct filter_prog *fp;
        int ok;

        if (pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        if (r->pkt) {
            fp = prog_for(ctx, r->dlt);
            h.caplen = r->pkt_caplen;
            h.len = r->pkt_len ? r->pkt_len : r->pkt_caplen;
            ok = fp && pcap_offline_filter(&fp->prog, &h, r->pkt) != 0;
        } else {
            uint32_t wire;
            h.caplen = ctx->host->record_frame(r, frame, &wire);
            h.len = wire > h.caplen ? wire : h.caplen;
            ok = pcap_offline_filter(&ctx->progs[0].prog, &h, frame) != 0;
        }
        if (ok) {
            matched++;
        } else {
            pm_batch_drop(b, i);
            dropped++;
        }
    }
    if (matched)
        pm_counter_add(ctx->c_matched, matched);
    if (dropped)
        pm_counter_add(ctx->c_dropped, dropped);
    return 0;
}

static void filter_fini(void *vctx)
{
    struct filter_ctx *ctx = vctx;
    unsigned i;

    if (!ctx)
        return;
    for (i = 0; i < ctx->nprogs; i++)
        if (ctx->progs[i].ok)
            pcap_freecode(&ctx->progs[i].prog);
    free(ctx);
}

static const struct pm_module_desc filter_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "filter",
    .version = "1.0",
    .summary = "transform: aggregate_filter BPF per pipeline",
    .flags = PM_MF_NEEDS_PACKETS,
    .order = 200,
    .options = filter_options,
    .config_size = sizeof(struct filter_cfg),
    .init = filter_init,
    .process = filter_process,
    .fini = filter_fini,
};

PM_MODULE_EXPORT(filter_desc)
