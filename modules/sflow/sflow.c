/*
 * sflow.c - the `sflow` capture module (sfacctd's default capture): its
 * options (sfacctd_* keys of pmacct 1.7.7), instance lifecycle, and the
 * input loop feeding datagrams to the decoder (sf_decode.c).
 *
 * Input (modules/common/udpin): a UDP socket (sfacctd_ip / sfacctd_port,
 * receive buffer sfacctd_pipe_size, senders filtered by sfacctd_allow_file)
 * or a pcap savefile (pcap_savefile, -I) whose UDP payloads are taken as
 * datagrams, in file order, with the capture timestamps as arrival times.
 *
 * Threads: run() is the capture thread.  With sfacctd_threads N > 1 it
 * starts N-1 more receiver threads, each owning one socket of a
 * SO_REUSEPORT group steered by the agent's address and one whole context
 * (agents, sequence state, exporter table, batch, counter file handle), so
 * one agent is always decoded by the same thread and nothing is locked;
 * counter-file lines are single O_APPEND writes.  init, start and fini run
 * on the main thread while no receiver runs; stop only sets flags.
 * Counters are host counters (atomic adds).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sf_internal.h"

static const struct pm_option sf_options[] = {
    {"sfacctd_ip", PM_OPT_STR, PM_OPTF_GLOBAL, offsetof(struct sf_config, ip),
     NULL, "address", "address to bind the sFlow socket to (default: any)",
     'L'},
    {"sfacctd_port", PM_OPT_UINT, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, port), "6343", "port",
     "UDP port to listen on for sFlow datagrams", 'l'},
    {"sfacctd_pipe_size", PM_OPT_SIZE, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, pipe_size), "0", "bytes",
     "socket receive buffer size (SO_RCVBUF); 0 keeps the system default", 0},
    {"sfacctd_allow_file", PM_OPT_PATH, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, allow_file), NULL, "file",
     "file of agent addresses/prefixes allowed to send, one a line", 0},
    {"sfacctd_renormalize", PM_OPT_BOOL, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, renormalize), "false", NULL,
     "multiply packets and bytes by the sampling rate", 'R'},
    {"sfacctd_counter_file", PM_OPT_PATH, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, counter_file), NULL, "file",
     "write sFlow counter samples to this file (strftime and $peer_src_ip "
     "expanded)",
     0},
    {"sfacctd_counter_output", PM_OPT_ENUM, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, counter_output), "json", "json",
     "format of the counter file", 0},
    {"sfacctd_disable_checks", PM_OPT_BOOL, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, disable_checks), "false", NULL,
     "do not log sequence number gaps (still counted)", 0},
    {"pcap_savefile", PM_OPT_PATH, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, savefile), NULL, "file",
     "read sFlow datagrams from the UDP payloads of a pcap savefile", 'I'},
    {"pcap_savefile_wait", PM_OPT_BOOL, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, savefile_wait), "false", NULL,
     "at the end of the savefile, wait for a signal instead of exiting", 'W'},
    {"pcap_savefile_delay", PM_OPT_UINT, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, savefile_delay), "0", "seconds",
     "sleep before reading the savefile and between replays", 'Z'},
    {"pcap_savefile_replay", PM_OPT_UINT, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, savefile_replay), "1", "times",
     "read the savefile this many times", 'Y'},
    {"sfacctd_threads", PM_OPT_STR, PM_OPTF_GLOBAL,
     offsetof(struct sf_config, threads), "1", "count|auto",
     "receiver threads, each with its own socket on the port (SO_REUSEPORT) "
     "and its own decoder; the kernel steers each agent (datagram source "
     "address) to one of them; auto = number of CPUs",
     0},
    PM_OPTION_END,
};

/* ---- receivers ------------------------------------------------------------
 * sfacctd_threads N: N sockets of one SO_REUSEPORT group steered by agent
 * (datagram source) address (udpin.c), one receiver thread and one whole
 * context each, as in the netflow module (docs/ARCHITECTURE.md).  The
 * first context is the one handed to the host (tests and the fuzz target
 * use it as a struct sf_ctx). */

#define SF_HOLD_MS 50 /* longest a partial batch is held */

struct sf_mod;

struct sf_worker {
    struct sf_mod *m;
    struct sf_ctx *c;
    unsigned idx;
};

struct sf_mod {
    struct sf_ctx c0; /* first: the context seen by the host is an sf_ctx */
    unsigned n;
    int live;
    uint32_t named; /* agents with counters (atomic, all threads) */
    uint64_t *c_socket_drops;
    struct sf_worker w[PM_UDPIN_MAX_GROUP];
};

static int sf_rx_datagram(void *ud, const struct pm_dgram *dg)
{
    return sf_decode_datagram(ud, dg->data, dg->len, &dg->src, &dg->ts);
}

static void sf_rx_flush(void *ud) { sf_flush_batch(ud); }

static int sf_rx_holding(void *ud)
{
    return ((struct sf_ctx *)ud)->batch != NULL;
}

static const struct pm_rx_ops sf_rx_ops = {sf_rx_datagram, sf_rx_flush,
                                           sf_rx_holding};

static int sf_loop(struct sf_worker *w)
{
    struct sf_ctx *ctx = w->c;
    struct pm_rx rx = {
        .host = ctx->host,
        .inst = ctx->inst,
        .in = ctx->udp,
        .exps = &ctx->exp,
        .named = &w->m->named,
        .c_denied = ctx->c_denied,
        .c_socket_drops = w->m->c_socket_drops,
        .stop = &ctx->stop,
        .prefix = "sfacctd",
        .idx = w->idx,
        .live = w->m->live,
        .hold_ms = SF_HOLD_MS,
    };
    int rc = pm_rx_loop(&rx, &sf_rx_ops, ctx);
    if (ctx->batch) {
        ctx->host->batch_release(ctx->inst, ctx->batch);
        ctx->batch = NULL;
    }
    if (ctx->cnt_fp)
        fflush(ctx->cnt_fp);
    return rc;
}

static int sf_loop_i(void *ud, unsigned i)
{
    struct sf_mod *m = ud;
    return sf_loop(&m->w[i]);
}

static void sf_stop_i(void *ud, unsigned i)
{
    struct sf_mod *m = ud;
    __atomic_store_n(&m->w[i].c->stop, 1, __ATOMIC_RELAXED);
}

/* ---- module callbacks ---------------------------------------------------- */

static void sf_ctx_fini(struct sf_ctx *ctx)
{
    if (ctx->udp)
        pm_udpin_close(ctx->udp);
    ctx->udp = NULL;
    sf_counters_close(ctx);
    pm_exptab_free(&ctx->exp);
    free(ctx->cnt_line);
    free(ctx->tmp_rec);
    free(ctx->agents);
    ctx->cnt_line = NULL;
    ctx->tmp_rec = NULL;
    ctx->agents = NULL;
}

static int sf_ctx_init(struct sf_ctx *ctx, const struct pm_host *host,
                       const struct pm_instance *inst, struct sf_config *cfg)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->host = host;
    ctx->inst = inst;
    ctx->cfg = cfg;
    ctx->renorm_deferred = host->conf_get(inst, "sampling_map") != NULL;
    ctx->agents = calloc(SF_AGENTS, sizeof(*ctx->agents));
    if (!ctx->agents || pm_exptab_init(&ctx->exp, 0) < 0) {
        sf_ctx_fini(ctx);
        return -ENOMEM;
    }
    ctx->c_datagrams =
        host->counter(inst, "datagrams", "sFlow datagrams received");
    ctx->c_flow_samples =
        host->counter(inst, "flow_samples", "flow samples decoded");
    ctx->c_counter_samples =
        host->counter(inst, "counter_samples", "counter samples decoded");
    ctx->c_records = host->counter(inst, "records", "records emitted");
    ctx->c_malformed = host->counter(inst, "malformed",
                                     "malformed datagrams, samples or records");
    ctx->c_seq_gaps =
        host->counter(inst, "seq_gaps", "datagram sequence number gaps");
    ctx->c_unknown = host->counter(inst, "unknown",
                                   "samples/records of unknown format skipped");
    ctx->c_counter_lines = host->counter(inst, "counter_lines",
                                         "lines written to the counter file");
    ctx->c_denied = host->counter(inst, "denied",
                                  "datagrams refused by sfacctd_allow_file");
    return 0;
}

static void sf_fini(void *vctx);

static int sf_init(const struct pm_host *host, const struct pm_instance *inst,
                   void *config, void **ctxp)
{
    struct sf_config *cfg = config;
    struct sf_mod *m;
    unsigned n;
    int rc;

    if (cfg->port == 0 || cfg->port > 65535) {
        PM_ERR(host, inst, "sfacctd_port: %llu is not a port",
               (unsigned long long)cfg->port);
        return -EINVAL;
    }
    if (cfg->savefile && cfg->ip) {
        PM_ERR(host, inst,
               "pcap_savefile and sfacctd_ip are mutually exclusive");
        return -EINVAL;
    }
    if ((rc = pm_rx_parse_threads(host, inst, "sfacctd_threads", cfg->threads,
                                   &n)) < 0)
        return rc;
    m = calloc(1, sizeof(*m));
    if (!m || sf_ctx_init(&m->c0, host, inst, cfg) < 0) {
        free(m);
        PM_ERR(host, inst, "sflow: out of memory");
        return -ENOMEM;
    }
    m->live = !(cfg->savefile && *cfg->savefile);
    if (!m->live && n > 1) {
        PM_INFO(host, inst, "sfacctd_threads %u: a savefile is read by one "
                "thread", n);
        n = 1;
    }
    for (unsigned i = 0; i < PM_UDPIN_MAX_GROUP; i++) {
        m->w[i].m = m;
        m->w[i].idx = i;
    }
    m->w[0].c = &m->c0;
    m->n = 1;
    for (unsigned i = 1; i < n; i++) {
        struct sf_ctx *c = calloc(1, sizeof(*c));
        if (!c || sf_ctx_init(c, host, inst, cfg) < 0) {
            free(c);
            sf_fini(m);
            PM_ERR(host, inst, "sflow: out of memory");
            return -ENOMEM;
        }
        m->w[i].c = c;
        m->n = i + 1;
    }
    m->c_socket_drops = host->counter(
        inst, "socket_drops",
        "datagrams the kernel dropped: socket receive buffer full "
        "(raise sfacctd_pipe_size / net.core.rmem_max or sfacctd_threads)");
    *ctxp = m;
    return 0;
}

static int sf_start(void *vctx)
{
    struct sf_mod *m = vctx;
    struct sf_ctx *ctx = &m->c0;
    struct pm_udpin *in[PM_UDPIN_MAX_GROUP];
    struct pm_udpin_cfg uc;
    int rc;

    for (unsigned i = 0; i < m->n; i++)
        if ((rc = sf_counters_open(m->w[i].c)) < 0)
            return rc;
    memset(&uc, 0, sizeof(uc));
    uc.prefix = "sfacctd";
    uc.ip = ctx->cfg->ip;
    uc.port = (uint16_t)ctx->cfg->port;
    uc.pipe_size = ctx->cfg->pipe_size;
    uc.savefile = ctx->cfg->savefile;
    uc.savefile_wait = ctx->cfg->savefile_wait;
    uc.savefile_delay = ctx->cfg->savefile_delay;
    uc.savefile_replay = ctx->cfg->savefile_replay;
    uc.allow_file = ctx->cfg->allow_file;
    if (ctx->cfg->savefile)
        PM_INFO(ctx->host, ctx->inst, "reading sFlow data from: %s",
                ctx->cfg->savefile);
    rc = pm_udpin_open_group(in, m->n, ctx->host, ctx->inst, &uc);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < m->n; i++)
        m->w[i].c->udp = in[i];
    if (m->live)
        PM_INFO(ctx->host, ctx->inst,
                "waiting for sFlow data on %s:%u (%u receiver thread%s%s, "
                "receive buffer %llu bytes each)",
                ctx->cfg->ip && *ctx->cfg->ip ? ctx->cfg->ip : "::",
                (unsigned)pm_udpin_port(ctx->udp), m->n, m->n > 1 ? "s" : "",
                m->n > 1 ? ", SO_REUSEPORT steered by agent address" : "",
                (unsigned long long)pm_udpin_rcvbuf(ctx->udp));
    return 0;
}

static int sf_run(void *vctx)
{
    struct sf_mod *m = vctx;
    int rc;

    rc = pm_rx_run_all(m->c0.host, m->c0.inst, m->n, sf_loop_i, sf_stop_i, m);
    if (m->live)
        for (unsigned i = 0; i < m->n; i++)
            pm_exptab_log(&m->w[i].c->exp, m->c0.host, m->c0.inst,
                          "samples");
    return rc;
}

static void sf_stop(void *vctx)
{
    struct sf_mod *m = vctx;
    for (unsigned i = 0; i < m->n; i++)
        sf_stop_i(m, i);
}

static void sf_fini(void *vctx)
{
    struct sf_mod *m = vctx;

    if (!m)
        return;
    for (unsigned i = 1; i < m->n; i++) {
        if (!m->w[i].c)
            continue;
        sf_ctx_fini(m->w[i].c);
        free(m->w[i].c);
    }
    sf_ctx_fini(&m->c0);
    free(m);
}

static const struct pm_module_desc sflow_desc = {
    PM_MODULE_HEAD(PM_KIND_CAPTURE),
    .name = "sflow",
    .version = "1.0",
    .summary = "sFlow v2/v4/v5 collector (sfacctd)",
    .flags = 0,
    .order = 0,
    .options = sf_options,
    .config_size = sizeof(struct sf_config),
    .init = sf_init,
    .start = sf_start,
    .run = sf_run,
    .stop = sf_stop,
    .fini = sf_fini,
};

PM_MODULE_EXPORT(sflow_desc)
