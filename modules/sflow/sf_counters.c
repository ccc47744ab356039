/*
 * sf_counters.c - sFlow counter samples (v5 compact/expanded, v2/v4):
 * generic interface, Ethernet and VLAN counters are written as JSON lines
 * to sfacctd_counter_file, in the shape sfacctd 1.7.7 writes them:
 *
 *   {"seq": 0, "timestamp": "...", "peer_src_ip": "A", "event_type":
 * "log_init"}
 *   {"seq": N, "timestamp": "...", "peer_ip_src": "A", "event_type": "log",
 *    "source_id_index": I, "sflow_seq": D, "sflow_cnt_seq": S,
 *    "sf_cnt_type": "sflow_cnt_generic", "ifIndex": ..., ...}
 *
 * one line per counter record (records of other formats, e.g. processor,
 * give a line with the common keys only, as sfacctd does); `seq` counts
 * the lines of each agent, timestamps are the local wall clock.  Counter
 * samples never reach the flow pipelines.
 *
 * The file is written from the capture thread (the writer is the
 * context's, nothing shared), flushed once per datagram; a path with
 * $peer_src_ip or strftime sequences is expanded by the host per line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sf_internal.h"

struct line {
    char buf[3072];
    size_t len;
};

static void lp(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void lp(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (l->len >= sizeof(l->buf))
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n;
    if (l->len >= sizeof(l->buf))
        l->len = sizeof(l->buf) - 1;
}

static void stamp(struct sf_ctx *ctx, char *out, size_t outlen)
{
    pm_ts_t now;
    time_t t;
    struct tm tm;
    char b[32];

    ctx->host->now(ctx->inst, &now);
    t = (time_t)now.sec;
    localtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%06u", b, now.usec);
}

/* Open (or switch to) the file for this agent. */
static FILE *file_for(struct sf_ctx *ctx, const pm_ip_t *agent)
{
    char path[1024];
    const char *tmpl = ctx->cfg->counter_file;

    if (!tmpl)
        return NULL;
    if (strchr(tmpl, '$') || strchr(tmpl, '%')) {
        struct {
            struct pm_rec r;
            uint8_t pad[256];
        } tmp;
        pm_ts_t now;
        memset(&tmp, 0, sizeof(tmp));
        tmp.r.peer_src_ip = *agent;
        pm_rec_set(&tmp.r, PM_P_PEER_SRC_IP);
        ctx->host->now(ctx->inst, &now);
        if (ctx->host->path_expand(ctx->inst, tmpl, (time_t)now.sec, &tmp.r,
                                   path, sizeof(path)) < 0)
            return NULL;
    } else
        snprintf(path, sizeof(path), "%s", tmpl);
    if (ctx->cnt_fp && !strcmp(path, ctx->cnt_path))
        return ctx->cnt_fp;
    if (ctx->cnt_fp)
        fclose(ctx->cnt_fp);
    ctx->cnt_fp = fopen(path, "a");
    if (!ctx->cnt_fp) {
        ctx->host->log_limited(ctx->inst, PM_LOG_ERR, "sflow-cntfile",
                               "sfacctd_counter_file %s: %s", path,
                               strerror(errno));
        ctx->cnt_path[0] = '\0';
        return NULL;
    }
    snprintf(ctx->cnt_path, sizeof(ctx->cnt_path), "%s", path);
    return ctx->cnt_fp;
}

int sf_counters_open(struct sf_ctx *ctx)
{
    const char *tmpl = ctx->cfg->counter_file;
    if (!tmpl || strchr(tmpl, '$') || strchr(tmpl, '%'))
        return 0; /* opened on first use */
    ctx->cnt_fp = fopen(tmpl, "a");
    if (!ctx->cnt_fp) {
        int e = errno;
        PM_ERR(ctx->host, ctx->inst, "sfacctd_counter_file %s: %s", tmpl,
               strerror(e));
        return -e;
    }
    snprintf(ctx->cnt_path, sizeof(ctx->cnt_path), "%s", tmpl);
    return 0;
}

void sf_counters_close(struct sf_ctx *ctx)
{
    if (ctx->cnt_fp)
        fclose(ctx->cnt_fp);
    ctx->cnt_fp = NULL;
}

static void emit(struct sf_ctx *ctx, struct sf_dgram *d, struct line *l)
{
    FILE *f = file_for(ctx, &d->agent);
    if (!f)
        return;
    /* one write(2) per line (the file is opened O_APPEND): receiver
     * threads writing the same file never interleave inside a line */
    l->buf[l->len] = '\n';
    fwrite(l->buf, 1, l->len + 1, f);
    fflush(f);
    l->buf[l->len] = '\0';
    pm_counter_add(ctx->c_counter_lines, 1);
}

void sf_counters_agent_new(struct sf_ctx *ctx, struct sf_dgram *d)
{
    struct line l = {.len = 0};
    char ts[48];
    if (!ctx->cfg->counter_file || !d->ag)
        return;
    stamp(ctx, ts, sizeof(ts));
    lp(&l,
       "{\"seq\": %llu, \"timestamp\": \"%s\", \"peer_src_ip\": \"%s\", "
       "\"event_type\": \"log_init\"}",
       (unsigned long long)d->ag->counter_seq++, ts, d->agent_str);
    emit(ctx, d, &l);
}

static void head(struct sf_ctx *ctx, struct sf_dgram *d, struct line *l,
                 uint32_t idx, uint32_t cseq)
{
    char ts[48];
    stamp(ctx, ts, sizeof(ts));
    lp(l,
       "{\"seq\": %llu, \"timestamp\": \"%s\", \"peer_ip_src\": \"%s\", "
       "\"event_type\": \"log\", \"source_id_index\": %u, \"sflow_seq\": %u, "
       "\"sflow_cnt_seq\": %u",
       (unsigned long long)(d->ag ? d->ag->counter_seq++ : 0), ts, d->agent_str,
       idx, d->seq, cseq);
}

static const char *const generic_keys[] = {"ifIndex",
                                           "ifType",
                                           "ifSpeed",
                                           "ifDirection",
                                           "ifStatus",
                                           "ifInOctets",
                                           "ifInUcastPkts",
                                           "ifInMulticastPkts",
                                           "ifInBroadcastPkts",
                                           "ifInDiscards",
                                           "ifInErrors",
                                           "ifInUnknownProtos",
                                           "ifOutOctets",
                                           "ifOutUcastPkts",
                                           "ifOutMulticastPkts",
                                           "ifOutBroadcastPkts",
                                           "ifOutDiscards",
                                           "ifOutErrors",
                                           "ifPromiscuousMode"};
/* 64-bit fields of the generic record */
static int generic_is64(unsigned i)
{
    return i == 2 || i == 5 || i == 12;
}

static const char *const eth_keys[] = {"dot3StatsAlignmentErrors",
                                       "dot3StatsFCSErrors",
                                       "dot3StatsSingleCollisionFrames",
                                       "dot3StatsMultipleCollisionFrames",
                                       "dot3StatsSQETestErrors",
                                       "dot3StatsDeferredTransmissions",
                                       "dot3StatsLateCollisions",
                                       "dot3StatsExcessiveCollisions",
                                       "dot3StatsInternalMacTransmitErrors",
                                       "dot3StatsCarrierSenseErrors",
                                       "dot3StatsFrameTooLongs",
                                       "dot3StatsInternalMacReceiveErrors",
                                       "dot3StatsSymbolErrors"};

static int body_generic(struct sf_cur *c, struct line *l)
{
    uint64_t v[19];
    unsigned i;
    for (i = 0; i < 19; i++)
        v[i] = generic_is64(i) ? sf_u64(c) : sf_u32(c);
    if (c->err)
        return -1;
    if (l) {
        lp(l, ", \"sf_cnt_type\": \"sflow_cnt_generic\"");
        for (i = 0; i < 19; i++)
            lp(l, ", \"%s\": %llu", generic_keys[i], (unsigned long long)v[i]);
    }
    return 0;
}

static int body_ethernet(struct sf_cur *c, struct line *l)
{
    uint32_t v[13];
    unsigned i;
    for (i = 0; i < 13; i++)
        v[i] = sf_u32(c);
    if (c->err)
        return -1;
    if (l) {
        lp(l, ", \"sf_cnt_type\": \"sflow_cnt_ethernet\"");
        for (i = 0; i < 13; i++)
            lp(l, ", \"%s\": %u", eth_keys[i], v[i]);
    }
    return 0;
}

static int body_vlan(struct sf_cur *c, struct line *l)
{
    uint32_t vlan = sf_u32(c), u, m, b, dsc;
    uint64_t oct = sf_u64(c);
    u = sf_u32(c);
    m = sf_u32(c);
    b = sf_u32(c);
    dsc = sf_u32(c);
    if (c->err)
        return -1;
    if (l)
        lp(l,
           ", \"sf_cnt_type\": \"sflow_cnt_vlan\", \"octets\": %llu, "
           "\"ucastPkts\": %u, \"multicastPkts\": %u, \"broadcastPkts\": %u, "
           "\"discards\": %u, \"vlan\": %u",
           (unsigned long long)oct, u, m, b, dsc, vlan);
    return 0;
}

int sf_counter_sample_v5(struct sf_ctx *ctx, struct sf_dgram *d,
                         struct sf_cur *c, int expanded)
{
    uint32_t cseq, src, idx, nrec, i;
    int want = ctx->cfg->counter_file != NULL;

    cseq = sf_u32(c);
    src = sf_u32(c);
    idx = expanded ? sf_u32(c) : (src & 0x00ffffffu);
    nrec = sf_u32(c);
    if (c->err || nrec > sf_left(c) / 8) {
        sf_malformed(ctx, d, "bad counter sample header", c->off);
        return -1;
    }
    for (i = 0; i < nrec; i++) {
        uint32_t fmt = sf_u32(c), len = sf_u32(c);
        struct sf_cur rc;
        struct line l = {.len = 0};
        const uint8_t *body;
        int res = 0;

        if (c->err || len > sf_left(c)) {
            sf_malformed(ctx, d, "counter record length exceeds sample",
                         c->off);
            return -1;
        }
        body = c->p + c->off;
        sf_skip(c, ((len + 3) & ~3u) > sf_left(c) ? len : ((len + 3) & ~3u));
        sf_cur_init(&rc, body, len);
        if (want)
            head(ctx, d, &l, idx, cseq);
        switch (fmt) {
        case 1:
            res = body_generic(&rc, want ? &l : NULL);
            break;
        case 2:
            res = body_ethernet(&rc, want ? &l : NULL);
            break;
        case 5:
            res = body_vlan(&rc, want ? &l : NULL);
            break;
        default:
            break; /* a line with the common keys only */
        }
        if (res < 0) {
            sf_malformed(ctx, d, "bad counter record", c->off);
            return -1;
        }
        if (want) {
            lp(&l, "}");
            emit(ctx, d, &l);
        }
    }
    return 0;
}

/* Byte sizes of the v2/v4 counter blocks that follow the generic part. */
int sf_counter_sample_v24(struct sf_ctx *ctx, struct sf_dgram *d,
                          struct sf_cur *c)
{
    uint32_t cseq, src, type;
    int want = ctx->cfg->counter_file != NULL, res = 0;
    struct line l = {.len = 0};

    cseq = sf_u32(c);
    src = sf_u32(c);
    (void)sf_u32(c); /* sampling interval */
    type = sf_u32(c);
    if (c->err)
        return -1;
    if (want)
        head(ctx, d, &l, src & 0x00ffffffu, cseq);
    switch (type) {
    case 1: /* generic */
    case 4: /* fddi: generic only */
    case 6: /* wan: generic only */
        res = body_generic(c, want ? &l : NULL);
        break;
    case 2: /* ethernet: generic + ethernet */
        res = body_generic(c, want ? &l : NULL);
        if (!res && want) {
            lp(&l, "}");
            emit(ctx, d, &l);
            l.len = 0;
            head(ctx, d, &l, src & 0x00ffffffu, cseq);
        }
        if (!res)
            res = body_ethernet(c, want ? &l : NULL);
        break;
    case 3: /* token ring: generic + 18 counters */
        res = body_generic(c, want ? &l : NULL);
        sf_skip(c, 18 * 4);
        break;
    case 5: /* 100BaseVG: generic + 80 bytes */
        res = body_generic(c, want ? &l : NULL);
        sf_skip(c, 80);
        break;
    case 7: /* vlan */
        res = body_vlan(c, want ? &l : NULL);
        break;
    default:
        return -1; /* unknown size: the rest of the datagram is lost */
    }
    if (res < 0 || c->err)
        return -1;
    if (want) {
        lp(&l, "}");
        emit(ctx, d, &l);
    }
    return 0;
}
