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
 * Threads: run() is the capture thread and owns the context; init, start,
 * stop and fini run on the main thread while run() is not running (stop
 * only relies on host->stopping()).  Counters are host counters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    PM_OPTION_END,
};

/* ---- input loop ---------------------------------------------------------- */

#define SF_RECV_BATCH 32

static int sf_loop(struct sf_ctx *ctx)
{
    struct pm_dgram dg[SF_RECV_BATCH];
    int n, i, rc = PM_RUN_STOPPED;

    while (!ctx->host->stopping(ctx->inst)) {
        n = pm_udpin_recv(ctx->udp, dg, SF_RECV_BATCH, 200);
        if (n == -ENODATA) {
            rc = PM_RUN_EOF;
            break;
        }
        if (n < 0) {
            if (n == -EINTR || n == -EAGAIN)
                continue;
            PM_ERR(ctx->host, ctx->inst, "sflow: receive failed: %s",
                   strerror(-n));
            rc = n;
            break;
        }
        if (n == 0) {
            /* idle: hand over what we hold */
            sf_flush_batch(ctx);
            continue;
        }
        for (i = 0; i < n; i++) {
            if (sf_decode_datagram(ctx, dg[i].data, dg[i].len, &dg[i].src,
                                   &dg[i].ts) == -ESHUTDOWN)
                goto out;
        }
        if (ctx->cfg->savefile == NULL)
            sf_flush_batch(ctx); /* keep latency low on a live socket */
    }
out:
    sf_flush_batch(ctx);
    return rc;
}

/* ---- module callbacks ---------------------------------------------------- */

static int sf_init(const struct pm_host *host, const struct pm_instance *inst,
                   void *config, void **ctxp)
{
    struct sf_ctx *ctx = calloc(1, sizeof(*ctx));
    int rc = -ENOMEM;

    if (!ctx)
        goto fail;
    ctx->host = host;
    ctx->inst = inst;
    ctx->cfg = config;
    ctx->agents = calloc(SF_AGENTS, sizeof(*ctx->agents));
    if (!ctx->agents || pm_exptab_init(&ctx->exp, 0) < 0)
        goto fail;
    if (ctx->cfg->port == 0 || ctx->cfg->port > 65535) {
        PM_ERR(host, inst, "sfacctd_port: %llu is not a port",
               (unsigned long long)ctx->cfg->port);
        rc = -EINVAL;
        goto fail;
    }
    if (ctx->cfg->savefile && ctx->cfg->ip) {
        PM_ERR(host, inst,
               "pcap_savefile and sfacctd_ip are mutually exclusive");
        rc = -EINVAL;
        goto fail;
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
    *ctxp = ctx;
    return 0;
fail:
    if (rc == -ENOMEM)
        PM_ERR(host, inst, "sflow: out of memory");
    if (ctx) {
        pm_exptab_free(&ctx->exp);
        free(ctx->agents);
        free(ctx);
    }
    return rc;
}

static int sf_start(void *vctx)
{
    struct sf_ctx *ctx = vctx;
    struct pm_udpin_cfg uc;
    int rc;

    if ((rc = sf_counters_open(ctx)) < 0)
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
    rc = pm_udpin_open(&ctx->udp, ctx->host, ctx->inst, &uc);
    if (rc < 0)
        return rc;
    if (!ctx->cfg->savefile)
        PM_INFO(ctx->host, ctx->inst, "waiting for sFlow data on %s:%u",
                ctx->cfg->ip && *ctx->cfg->ip ? ctx->cfg->ip : "::",
                (unsigned)pm_udpin_port(ctx->udp));
    return 0;
}

static int sf_run(void *vctx)
{
    struct sf_ctx *ctx = vctx;
    uint64_t denied;
    int rc = sf_loop(ctx);

    if (ctx->batch) {
        ctx->host->batch_release(ctx->inst, ctx->batch);
        ctx->batch = NULL;
    }
    if (ctx->cnt_fp)
        fflush(ctx->cnt_fp);
    denied = pm_udpin_denied(ctx->udp);
    if (denied > pm_counter_get(ctx->c_denied))
        pm_counter_add(ctx->c_denied, denied - pm_counter_get(ctx->c_denied));
    return rc;
}

static void sf_fini(void *vctx)
{
    struct sf_ctx *ctx = vctx;

    if (!ctx)
        return;
    if (ctx->udp)
        pm_udpin_close(ctx->udp);
    sf_counters_close(ctx);
    pm_exptab_free(&ctx->exp);
    free(ctx->cnt_line);
    free(ctx->tmp_rec);
    free(ctx->agents);
    free(ctx);
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
    .fini = sf_fini,
};

PM_MODULE_EXPORT(sflow_desc)
