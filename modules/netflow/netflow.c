/*
 * netflow.c - the `netflow` capture module (nfacctd's default): module
 * glue, options, the receive loop and the datagram dispatcher.  Versions
 * are decoded in nf_v5.c (v1/v5/v7/v8) and nf_v9.c (v9/IPFIX); templates,
 * per-source state and held data live in nf_tmpl.c; information elements
 * are mapped to record fields in nf_ie.c.
 *
 * Threads: init/start/stop/fini on the main thread, run() on the capture
 * thread, which alone touches the context (stop only sets a flag).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf.h"

#define NF_OPT(field) offsetof(struct nf_cfg, field)

static const struct pm_option nf_options[] = {
    {"nfacctd_ip", PM_OPT_STR, 0, NF_OPT(ip), NULL, "address",
     "address to listen on (default: any, IPv4 and IPv6)", 'L'},
    {"nfacctd_port", PM_OPT_UINT, 0, NF_OPT(port), "2100", "port",
     "UDP port to listen on", 'l'},
    {"nfacctd_pipe_size", PM_OPT_SIZE, 0, NF_OPT(pipe_size), "0", "bytes",
     "socket receive buffer (SO_RCVBUF); 0 = system default", 0},
    {"nfacctd_allow_file", PM_OPT_PATH, PM_OPTF_MAP, NF_OPT(allow_file), NULL,
     "file", "exporters allowed: one IP address or prefix per line", 0},
    {"pcap_savefile", PM_OPT_PATH, 0, NF_OPT(savefile), NULL, "file",
     "read the UDP datagrams of this pcap file instead of a socket", 'I'},
    {"pcap_savefile_wait", PM_OPT_BOOL, 0, NF_OPT(savefile_wait), "false",
     NULL, "at the end of pcap_savefile, wait instead of exiting", 'W'},
    {"pcap_savefile_delay", PM_OPT_DURATION, 0, NF_OPT(savefile_delay), "0",
     "seconds", "sleep before reading pcap_savefile (and between replays)",
     'Z'},
    {"pcap_savefile_replay", PM_OPT_UINT, 0, NF_OPT(savefile_replay), "1",
     "count", "read pcap_savefile this many times", 'Y'},
    {"nfacctd_time_secs", PM_OPT_BOOL, 0, NF_OPT(time_secs), "false", NULL,
     "flow times relative to sysUptime are in seconds, not milliseconds", 0},
    {"nfacctd_time_new", PM_OPT_BOOL, 0, NF_OPT(time_new), "false", NULL,
     "timestamp flows with their arrival time, ignoring the flow's times", 0},
    {"nfacctd_renormalize", PM_OPT_BOOL, 0, NF_OPT(renormalize), "false", NULL,
     "multiply packets and bytes by the sampling rate", 'R'},
    {"nfacctd_net", PM_OPT_ENUM, 0, NF_OPT(net), "netflow",
     "netflow|sflow|mask|file|igp|bgp|fallback",
     "where src/dst masks and nets come from (netflow: the flow's masks)", 0},
    {"nfacctd_as", PM_OPT_ENUM, 0, NF_OPT(as), "netflow",
     "netflow|sflow|file|bgp|bmp|longest|fallback",
     "where src/dst AS come from (netflow: the flow's AS fields)", 0},
    {"nfacctd_disable_checks", PM_OPT_BOOL, 0, NF_OPT(disable_checks),
     "false", NULL, "do not check sequence numbers", 0},
    {"nfacctd_templates_max", PM_OPT_UINT, 0, NF_OPT(templates_max), "4096",
     "count", "templates kept per exporter; more are refused and counted",
     0},
    {"nfacctd_pending_size", PM_OPT_SIZE, 0, NF_OPT(pending_size), "0",
     "bytes",
     "data sets held waiting for their template (default 0: drop them at "
     "once and count them, as nfacctd 1.7.7 does)",
     0},
    {"nfacctd_pending_time", PM_OPT_DURATION, 0, NF_OPT(pending_time), "60",
     "seconds", "how long data waits for its template before being dropped",
     0},
    {"nfacctd_templates_timeout", PM_OPT_DURATION, 0,
     NF_OPT(templates_timeout), "0", "seconds",
     "forget templates not refreshed for this long (0: never)", 0},
    {"nfacctd_max_exporters", PM_OPT_UINT, 0, NF_OPT(max_exporters), "65536",
     "count", "exporters tracked; datagrams from more are dropped", 0},
    PM_OPTION_END,
};

/* ---- context ----------------------------------------------------------- */

int nf_ctx_init(struct nf_ctx *c, const struct pm_host *host,
                const struct pm_instance *inst, struct nf_cfg *cfg)
{
    memset(c, 0, sizeof(*c));
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    c->thcap = 1024;
    c->shcap = 256;
    c->th = calloc(c->thcap, sizeof(*c->th));
    c->sh = calloc(c->shcap, sizeof(*c->sh));
    if (!c->th || !c->sh ||
        pm_exptab_init(&c->exps, (uint32_t)cfg->max_exporters) < 0) {
        nf_ctx_fini(c);
        return -ENOMEM;
    }
#define CNT(f, n, h) c->f = host->counter(inst, n, h)
    CNT(c_datagrams, "datagrams", "datagrams received");
    CNT(c_records, "records", "flow records decoded");
    CNT(c_malformed, "malformed", "malformed datagrams, sets or records");
    CNT(c_unknown_template, "unknown_template",
        "data sets whose template was unknown");
    CNT(c_seq_gaps, "seq_gaps", "sequence number discontinuities");
    CNT(c_dropped_pending, "dropped_pending",
        "data sets dropped while waiting for their template");
    CNT(c_templates, "templates", "templates received");
    CNT(c_templates_refused, "templates_refused",
        "templates refused (per-exporter cap or invalid)");
    CNT(c_options, "options_records", "options data records applied");
    CNT(c_denied, "denied", "datagrams from exporters not allowed");
    CNT(c_bad_version, "bad_version", "datagrams of an unknown version");
    CNT(c_no_batch, "no_batch", "records lost: no batch available");
    CNT(c_version[1], "datagrams_v1", "NetFlow v1 datagrams");
    CNT(c_version[5], "datagrams_v5", "NetFlow v5 datagrams");
    CNT(c_version[7], "datagrams_v7", "NetFlow v7 datagrams");
    CNT(c_version[8], "datagrams_v8", "NetFlow v8 datagrams");
    CNT(c_version[9], "datagrams_v9", "NetFlow v9 datagrams");
    CNT(c_version[10], "datagrams_ipfix", "IPFIX messages");
#undef CNT
    return 0;
}

void nf_ctx_fini(struct nf_ctx *c)
{
    if (c->b) {
        c->host->batch_release(c->inst, c->b);
        c->b = NULL;
    }
    nf_tables_free(c);
    free(c->th);
    free(c->sh);
    c->th = NULL;
    c->sh = NULL;
    pm_exptab_free(&c->exps);
    if (c->in)
        pm_udpin_close(c->in);
    c->in = NULL;
}

static void cnt(uint64_t *c, uint64_t v)
{
    if (c)
        pm_counter_add(c, v);
}

uint64_t nf_now(struct nf_ctx *c, const struct nf_hdr *h)
{
    (void)c;
    return h->arrival.sec;
}

void nf_malformed(struct nf_ctx *c, struct nf_hdr *h, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cnt(c->c_malformed, 1);
    if (h->st)
        h->st->malformed++;
    c->host->log_limited(c->inst, PM_LOG_WARNING, "netflow-malformed",
                         "exporter %s: NetFlow v%u: %s", h->expstr,
                         h->version, msg);
}

void nf_flush(struct nf_ctx *c)
{
    if (!c->b)
        return;
    if (c->b->n == 0) {
        c->host->batch_release(c->inst, c->b);
    } else {
        c->host->batch_emit(c->inst, c->b);
    }
    c->b = NULL;
}

struct pm_rec *nf_rec_new(struct nf_ctx *c, const struct nf_hdr *h)
{
    if (c->b && c->b->n >= c->b->cap)
        nf_flush(c);
    if (!c->b) {
        c->b = c->host->batch_get(c->inst);
        if (!c->b) {
            cnt(c->c_no_batch, 1);
            return NULL;
        }
    }
    struct pm_rec *r = pm_batch_rec(c->b, c->b->n++);
    memset(r, 0, c->b->rec_size);
    r->l3_off = r->l4_off = r->payload_off = 0xffff;
    r->peer_src_ip = h->exp;
    pm_rec_set(r, PM_P_PEER_SRC_IP);
    r->export_proto_version = h->version;
    pm_rec_set(r, PM_P_EXPORT_PROTO_VERSION);
    r->export_proto_seqno = h->seq;
    pm_rec_set(r, PM_P_EXPORT_PROTO_SEQNO);
    r->export_proto_sysid = h->sysid;
    pm_rec_set(r, PM_P_EXPORT_PROTO_SYSID);
    r->ts_arrival = h->arrival;
    pm_rec_set(r, PM_P_TIMESTAMP_ARRIVAL);
    r->ts_export.sec = h->unix_secs;
    pm_rec_set(r, PM_P_TIMESTAMP_EXPORT);
    r->flows = 1;
    cnt(c->c_records, 1);
    if (h->st)
        h->st->records++;
    return r;
}

static void set_net(pm_ip_t *net, const pm_ip_t *host, unsigned mask)
{
    *net = *host;
    pm_ip_mask(net, mask);
}

void nf_rec_done(struct nf_ctx *c, struct pm_rec *r)
{
    const struct nf_cfg *cfg = c->cfg;
    if (cfg->net == NF_NET_NETFLOW) {
        if (pm_rec_has(r, PM_P_SRC_HOST)) {
            set_net(&r->src_net, &r->src_host, r->src_mask);
            pm_rec_set(r, PM_P_SRC_NET);
            pm_rec_set(r, PM_P_SRC_MASK);
        }
        if (pm_rec_has(r, PM_P_DST_HOST)) {
            set_net(&r->dst_net, &r->dst_host, r->dst_mask);
            pm_rec_set(r, PM_P_DST_NET);
            pm_rec_set(r, PM_P_DST_MASK);
        }
    } else {
        r->src_mask = r->dst_mask = 0;
        pm_pset_clear(&r->present, PM_P_SRC_MASK);
        pm_pset_clear(&r->present, PM_P_DST_MASK);
    }
    if (cfg->as != 0) {
        r->src_as = r->dst_as = 0;
        pm_pset_clear(&r->present, PM_P_SRC_AS);
        pm_pset_clear(&r->present, PM_P_DST_AS);
    }
    if (cfg->renormalize && r->sampling_rate > 1) {
        r->packets *= r->sampling_rate;
        r->bytes *= r->sampling_rate;
    }
    if (cfg->time_new) {
        r->ts_start = r->ts_end = r->ts_arrival;
        pm_rec_set(r, PM_P_TIMESTAMP_START);
        pm_rec_set(r, PM_P_TIMESTAMP_END);
    }
}

int nf_datagram(struct nf_ctx *c, const uint8_t *p, uint32_t len,
                const pm_ip_t *exp, const pm_ts_t *arrival)
{
    struct nf_hdr h;
    memset(&h, 0, sizeof(h));
    h.exp = *exp;
    h.arrival = *arrival;
    pm_ip_str(exp, h.expstr, sizeof(h.expstr));
    cnt(c->c_datagrams, 1);
    h.st = pm_exptab_get(&c->exps, exp);
    if (h.st) {
        h.st->datagrams++;
        h.st->last_seen = arrival->sec;
    }
    if (len < 2) {
        nf_malformed(c, &h, "datagram of %u bytes", len);
        return -EINVAL;
    }
    h.version = nf_rd16(p);
    if (h.version < 11 && c->c_version[h.version])
        cnt(c->c_version[h.version], 1);
    /* Housekeeping timed by the input's own clock. */
    if (c->cfg->templates_timeout)
        nf_tmpl_expire(c, arrival->sec);
    if (c->pend_head)
        nf_pending_expire(c, arrival->sec);
    switch (h.version) {
    case 1:
    case 5:
    case 7:
    case 8:
        return nf_v5_decode(c, &h, p, len);
    case 9:
    case 10:
        return nf_v9_decode(c, &h, p, len);
    default:
        cnt(c->c_bad_version, 1);
        nf_malformed(c, &h, "unsupported version %u (%u bytes)", h.version,
                     len);
        h.version = 0;
        return -EINVAL;
    }
}

/* ---- module callbacks --------------------------------------------------- */

static int nf_init(const struct pm_host *host, const struct pm_instance *inst,
                   void *config, void **ctx)
{
    struct nf_cfg *cfg = config;
    if (cfg->port > 65535) {
        host->log(inst, PM_LOG_ERR, "nfacctd_port: %llu is not a UDP port",
                  (unsigned long long)cfg->port);
        return -EINVAL;
    }
    struct nf_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int rc = nf_ctx_init(c, host, inst, cfg);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *ctx = c;
    return 0;
}

static int nf_start(void *ctx)
{
    struct nf_ctx *c = ctx;
    struct pm_udpin_cfg uc = {
        .prefix = "nfacctd",
        .ip = c->cfg->ip,
        .port = (uint16_t)c->cfg->port,
        .pipe_size = c->cfg->pipe_size,
        .savefile = c->cfg->savefile,
        .savefile_wait = c->cfg->savefile_wait,
        .savefile_delay = c->cfg->savefile_delay,
        .savefile_replay = c->cfg->savefile_replay,
        .allow_file = c->cfg->allow_file,
    };
    int rc = pm_udpin_open(&c->in, c->host, c->inst, &uc);
    if (rc < 0)
        return rc;
    if (c->cfg->savefile && *c->cfg->savefile)
        PM_INFO(c->host, c->inst, "reading NetFlow/IPFIX from savefile %s",
                c->cfg->savefile);
    else
        PM_INFO(c->host, c->inst,
                "waiting for NetFlow/IPFIX data on [%s]:%u",
                c->cfg->ip && *c->cfg->ip ? c->cfg->ip : "::",
                pm_udpin_port(c->in));
    return 0;
}

static int nf_run(void *ctx)
{
    struct nf_ctx *c = ctx;
    struct pm_dgram dg[32];
    uint64_t denied_seen = 0;
    int rc = PM_RUN_STOPPED;
    while (!c->stop && !c->host->stopping(c->inst)) {
        int n = pm_udpin_recv(c->in, dg, 32, 200);
        uint64_t d = pm_udpin_denied(c->in);
        if (d != denied_seen) {
            cnt(c->c_denied, d - denied_seen);
            denied_seen = d;
        }
        if (n == -ENODATA) {
            rc = PM_RUN_EOF;
            break;
        }
        if (n < 0) {
            c->host->log(c->inst, PM_LOG_ERR, "receive: %s", strerror(-n));
            rc = n;
            break;
        }
        for (int i = 0; i < n; i++)
            nf_datagram(c, dg[i].data, dg[i].len, &dg[i].src, &dg[i].ts);
        /* Savefiles: keep filling the batch; sockets: emit what we got. */
        if (!c->cfg->savefile || !*c->cfg->savefile || n == 0)
            nf_flush(c);
    }
    nf_flush(c);
    return rc;
}

static void nf_stop(void *ctx)
{
    struct nf_ctx *c = ctx;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
}

static void nf_fini(void *ctx)
{
    struct nf_ctx *c = ctx;
    if (!c)
        return;
    nf_ctx_fini(c);
    free(c);
}

static const struct pm_module_desc nf_desc = {
    PM_MODULE_HEAD(PM_KIND_CAPTURE),
    .name = "netflow",
    .version = "1.0",
    .summary = "capture: NetFlow v1/v5/v7/v8/v9 and IPFIX collector",
    .flags = 0,
    .order = 0,
    .options = nf_options,
    .config_size = sizeof(struct nf_cfg),
    .init = nf_init,
    .start = nf_start,
    .run = nf_run,
    .stop = nf_stop,
    .fini = nf_fini,
};

PM_MODULE_EXPORT(nf_desc)
