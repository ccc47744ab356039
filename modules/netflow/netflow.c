/*
 * netflow.c - the `netflow` capture module (nfacctd's default): module
 * glue, options, the receive loop and the datagram dispatcher.  Versions
 * are decoded in nf_v5.c (v1/v5/v7/v8) and nf_v9.c (v9/IPFIX); templates,
 * per-source state and held data live in nf_tmpl.c; information elements
 * are mapped to record fields in nf_ie.c.
 *
 * Threads: init/start/stop/fini on the main thread, run() on the capture
 * thread.  With nfacctd_threads N > 1, run() starts N-1 more receiver
 * threads: each owns one socket of a SO_REUSEPORT group steered by the
 * exporter's address (udpin.c) and one whole decoder context (templates,
 * sequence state, exporter table, batch being filled), so one exporter is
 * always decoded by the same thread and nothing is locked.  Each thread
 * gets and emits its own batches (the host's batch functions are
 * thread-safe); counters are host counters (atomic adds), shared by all.
 * stop only sets flags.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <unistd.h>

#include "nf.h"

/* The module's configuration: the decoders' nf_cfg first, then the keys
 * of the input glue. */
struct nf_xcfg {
    struct nf_cfg base;
    char *threads;
    uint64_t tcp_port;
    uint64_t sctp_port;
    uint64_t stream_max;
};

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
    {"pcap_savefile_delay", PM_OPT_UINT, 0, NF_OPT(savefile_delay), "0",
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
    {"nfacctd_threads", PM_OPT_STR, 0, offsetof(struct nf_xcfg, threads), "1",
     "count|auto",
     "receiver threads, each with its own socket on the port (SO_REUSEPORT) "
     "and its own decoder; the kernel steers each exporter (source address) "
     "to one of them; auto = number of CPUs",
     0},
    {"nfacctd_ipfix_tcp_port", PM_OPT_UINT, 0,
     offsetof(struct nf_xcfg, tcp_port), "0", "port",
     "also accept IPFIX over TCP on this port (RFC 7011 10.4; address "
     "nfacctd_ip; templates scoped per connection); 0 = off",
     0},
    {"nfacctd_ipfix_sctp_port", PM_OPT_UINT, 0,
     offsetof(struct nf_xcfg, sctp_port), "0", "port",
     "also accept IPFIX over SCTP on this port (RFC 7011 10.2; needs the "
     "kernel's sctp module); 0 = off",
     0},
    {"nfacctd_ipfix_stream_max", PM_OPT_UINT, 0,
     offsetof(struct nf_xcfg, stream_max), "256", "count",
     "IPFIX TCP/SCTP connections accepted at once; more are refused",
     0},
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
    c->renorm_deferred = host->conf_get(inst, "sampling_map") != NULL;
    /* src_net/dst_net are only read where they are aggregated (sum_net
     * counts as src_net): masking every record's addresses otherwise is
     * ~8 % of the CPU at full rate; masks are set either way */
    c->need_net = !inst->naggregate ||
                  pm_pset_has(&inst->aggregate_set, PM_P_SRC_NET) ||
                  pm_pset_has(&inst->aggregate_set, PM_P_DST_NET);
    c->thcap = 1024;
    c->shcap = 256;
    c->th = calloc(c->thcap, sizeof(*c->th));
    c->sh = calloc(c->shcap, sizeof(*c->sh));
    if (!c->th || !c->sh ||
        pm_exptab_init(&c->exps, (uint32_t)cfg->max_exporters) < 0) {
        nf_ctx_fini(c);
        return -ENOMEM;
    }
    if (host->size >= offsetof(struct pm_host, custom_prims) +
                          sizeof(host->custom_prims) &&
        host->custom_prims)
        c->cprims = host->custom_prims(&c->ncprims);
    if (!c->cprims)
        c->ncprims = 0;
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
                         "exporter %s: NetFlow v%u: %s", nf_expstr(h),
                         h->version, msg);
}

void nf_flush(struct nf_ctx *c)
{
    if (!c->b)
        return;
    nf_count_records(c);
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
    c->nrec_pend++; /* counted per datagram: one atomic add (nf_datagram) */
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
            if (c->need_net) {
                set_net(&r->src_net, &r->src_host, r->src_mask);
                pm_rec_set(r, PM_P_SRC_NET);
            }
            pm_rec_set(r, PM_P_SRC_MASK);
        }
        if (pm_rec_has(r, PM_P_DST_HOST)) {
            if (c->need_net) {
                set_net(&r->dst_net, &r->dst_host, r->dst_mask);
                pm_rec_set(r, PM_P_DST_NET);
            }
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
    if (cfg->renormalize && r->sampling_rate > 1 && !c->renorm_deferred) {
        r->packets *= r->sampling_rate;
        r->bytes *= r->sampling_rate;
        /* renormalised: reported as unsampled, as nfacctd 1.7.7 does */
        r->sampling_rate = 1;
    }
    /* ICMP in v1/v5/v7/v8 records: exporters put type/code in the ports
     * (Cisco: dst = type << 8 | code; fprobe: src = type); nfacctd 1.7.7
     * keeps the destination port and reports the source port as 0 (v9 and
     * IPFIX ports are kept as sent: Cisco ASA puts the ICMP id there). */
    if (r->export_proto_version < 9 && r->proto == 1 && pm_rec_has(r, PM_P_SRC_PORT))
        r->src_port = 0;
    if (cfg->time_new) {
        r->ts_start = r->ts_end = r->ts_arrival;
        pm_rec_set(r, PM_P_TIMESTAMP_START);
        pm_rec_set(r, PM_P_TIMESTAMP_END);
    }
}

static int nf_datagram1(struct nf_ctx *c, const uint8_t *p, uint32_t len,
                        const pm_ip_t *exp, const pm_ts_t *arrival);

void nf_count_records(struct nf_ctx *c)
{
    if (c->nrec_pend) {
        cnt(c->c_records, c->nrec_pend);
        c->nrec_pend = 0;
    }
}

int nf_datagram(struct nf_ctx *c, const uint8_t *p, uint32_t len,
                const pm_ip_t *exp, const pm_ts_t *arrival)
{
    int rc = nf_datagram1(c, p, len, exp, arrival);
    nf_count_records(c);
    return rc;
}

static int nf_datagram1(struct nf_ctx *c, const uint8_t *p, uint32_t len,
                        const pm_ip_t *exp, const pm_ts_t *arrival)
{
    struct nf_hdr h;
    memset(&h, 0, sizeof(h));
    h.exp = *exp;
    h.arrival = *arrival;
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

#define NF_HOLD_MS 50 /* longest a partial batch is held */

struct nf_mod;

/* One receiver: a socket and a decoder context. */
struct nf_worker {
    struct nf_mod *m;
    struct nf_ctx *c;
    unsigned idx;
};

struct nf_mod {
    struct nf_ctx c0; /* worker 0's context: first, so the context handed
                         to the host is an nf_ctx (tests, fuzz target) */
    unsigned n;       /* receiver threads */
    int live;         /* socket (not savefile) */
    uint32_t named;   /* exporters with counters (atomic, all threads) */
    uint64_t *c_socket_drops;
    struct nf_xcfg *x;
    struct nf_stream *stream; /* IPFIX over TCP/SCTP, NULL: off */
    pthread_t stream_th;
    int stream_started;
    struct nf_worker w[PM_UDPIN_MAX_GROUP];
};

static void nf_fini(void *ctx);

static int nf_init(const struct pm_host *host, const struct pm_instance *inst,
                   void *config, void **ctx)
{
    struct nf_xcfg *x = config;
    struct nf_cfg *cfg = &x->base;
    unsigned n;
    int rc;
    if (cfg->port > 65535) {
        host->log(inst, PM_LOG_ERR, "nfacctd_port: %llu is not a UDP port",
                  (unsigned long long)cfg->port);
        return -EINVAL;
    }
    if ((rc = pm_rx_parse_threads(host, inst, "nfacctd_threads", x->threads,
                                   &n)) < 0)
        return rc;
    struct nf_mod *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->x = x;
    m->live = !(cfg->savefile && *cfg->savefile);
    if (!m->live && n > 1) {
        host->log(inst, PM_LOG_INFO,
                  "nfacctd_threads %u: a savefile is read by one thread", n);
        n = 1;
    }
    rc = nf_ctx_init(&m->c0, host, inst, cfg);
    if (rc < 0) {
        free(m);
        return rc;
    }
    m->w[0].c = &m->c0;
    m->n = 1;
    for (unsigned i = 0; i < PM_UDPIN_MAX_GROUP; i++) {
        m->w[i].m = m;
        m->w[i].idx = i;
    }
    for (unsigned i = 1; i < n; i++) {
        struct nf_ctx *c = calloc(1, sizeof(*c));
        if (!c || (rc = nf_ctx_init(c, host, inst, cfg)) < 0) {
            free(c);
            nf_fini(m);
            return -ENOMEM;
        }
        m->w[i].c = c;
        m->n = i + 1;
    }
    m->c_socket_drops = host->counter(
        inst, "socket_drops",
        "datagrams the kernel dropped: socket receive buffer full "
        "(raise nfacctd_pipe_size / net.core.rmem_max or nfacctd_threads)");
    *ctx = m;
    return 0;
}

static int nf_start(void *ctx)
{
    struct nf_mod *m = ctx;
    struct nf_ctx *c = &m->c0;
    struct pm_udpin *in[PM_UDPIN_MAX_GROUP];
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
    int rc = pm_udpin_open_group(in, m->n, c->host, c->inst, &uc);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < m->n; i++)
        m->w[i].c->in = in[i];
    if (m->live && (m->x->tcp_port || m->x->sctp_port)) {
        rc = nf_stream_open(&m->stream, c->host, c->inst, c->cfg,
                            m->x->tcp_port, m->x->sctp_port,
                            m->x->stream_max, &m->named);
        if (rc < 0)
            return rc;
    }
    if (!m->live)
        PM_INFO(c->host, c->inst, "reading NetFlow/IPFIX from savefile %s",
                c->cfg->savefile);
    else
        PM_INFO(c->host, c->inst,
                "waiting for NetFlow/IPFIX data on [%s]:%u (%u receiver "
                "thread%s%s, receive buffer %llu bytes each)",
                c->cfg->ip && *c->cfg->ip ? c->cfg->ip : "::",
                pm_udpin_port(c->in), m->n, m->n > 1 ? "s" : "",
                m->n > 1 ? ", SO_REUSEPORT steered by exporter address" : "",
                (unsigned long long)pm_udpin_rcvbuf(c->in));
    return 0;
}

static int nf_rx_datagram(void *ud, const struct pm_dgram *dg)
{
    nf_datagram(ud, dg->data, dg->len, &dg->src, &dg->ts);
    return 0;
}

static void nf_rx_flush(void *ud) { nf_flush(ud); }

static int nf_rx_holding(void *ud) { return ((struct nf_ctx *)ud)->b != NULL; }

static const struct pm_rx_ops nf_rx_ops = {nf_rx_datagram, nf_rx_flush,
                                           nf_rx_holding};

static int nf_loop(struct nf_worker *w)
{
    struct nf_ctx *c = w->c;
    struct pm_rx rx = {
        .host = c->host,
        .inst = c->inst,
        .in = c->in,
        .exps = &c->exps,
        .named = &w->m->named,
        .c_denied = c->c_denied,
        .c_socket_drops = w->m->c_socket_drops,
        .stop = &c->stop,
        .prefix = "nfacctd",
        .idx = w->idx,
        .live = w->m->live,
        .hold_ms = NF_HOLD_MS,
    };
    return pm_rx_loop(&rx, &nf_rx_ops, c);
}

static int nf_loop_i(void *ud, unsigned i)
{
    struct nf_mod *m = ud;
    return nf_loop(&m->w[i]);
}

static void nf_stop_i(void *ud, unsigned i)
{
    struct nf_mod *m = ud;
    __atomic_store_n(&m->w[i].c->stop, 1, __ATOMIC_RELAXED);
}

static void *nf_stream_thread(void *arg)
{
    nf_stream_run(arg);
    return NULL;
}

static int nf_run(void *ctx)
{
    struct nf_mod *m = ctx;
    int rc;
    if (m->stream) {
        if (pthread_create(&m->stream_th, NULL, nf_stream_thread,
                           m->stream) != 0) {
            m->c0.host->log(m->c0.inst, PM_LOG_ERR,
                            "cannot start the IPFIX TCP/SCTP thread");
            return -EAGAIN;
        }
        m->stream_started = 1;
    }
    rc = pm_rx_run_all(m->c0.host, m->c0.inst, m->n, nf_loop_i, nf_stop_i, m);
    if (m->stream_started) {
        nf_stream_stop(m->stream);
        pthread_join(m->stream_th, NULL);
        m->stream_started = 0;
    }
    for (unsigned i = 0; i < m->n; i++)
        if (m->live)
            pm_exptab_log(&m->w[i].c->exps, m->c0.host, m->c0.inst,
                          "records");
    return rc;
}

static void nf_stop(void *ctx)
{
    struct nf_mod *m = ctx;
    for (unsigned i = 0; i < m->n; i++)
        nf_stop_i(m, i);
    nf_stream_stop(m->stream);
}

static void nf_fini(void *ctx)
{
    struct nf_mod *m = ctx;
    if (!m)
        return;
    nf_stream_free(m->stream);
    m->stream = NULL;
    for (unsigned i = 1; i < m->n; i++) {
        if (!m->w[i].c)
            continue;
        nf_ctx_fini(m->w[i].c);
        free(m->w[i].c);
    }
    nf_ctx_fini(&m->c0);
    free(m);
}

static const struct pm_module_desc nf_desc = {
    PM_MODULE_HEAD(PM_KIND_CAPTURE),
    .name = "netflow",
    .version = "1.0",
    .summary = "capture: NetFlow v1/v5/v7/v8/v9 and IPFIX collector",
    .flags = 0,
    .order = 0,
    .options = nf_options,
    .config_size = sizeof(struct nf_xcfg),
    .init = nf_init,
    .start = nf_start,
    .run = nf_run,
    .stop = nf_stop,
    .fini = nf_fini,
};

PM_MODULE_EXPORT(nf_desc)
