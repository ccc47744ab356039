/*
 * sf_decode.c - sFlow datagram decoder (v2 and v4 per RFC 3176, v5 per
 * sflow_version_5.txt): datagram header, per-agent sequence tracking,
 * flow samples (compact and expanded) and their flow records (sampled
 * header, sampled Ethernet/IPv4/IPv6), turning each flow sample into one
 * record of the current batch.  Counter samples go to sf_counters.c,
 * extended records to sf_ext.c.
 *
 * Every read is bounded (struct sf_cur): lengths and counts that lie end
 * the sample or datagram, are counted as `malformed` (globally and per
 * agent) and logged rate-limited with the agent's address.  Records
 * decoded from earlier, valid samples of the datagram are kept.
 *
 * Behaviour of sfacctd 1.7.7 kept here (observed): bytes = the sampled
 * frame_length (or the sampled IPv4/IPv6/Ethernet length); in/out iface of
 * a compact flow sample are the raw 32-bit field (format bits included),
 * of an expanded one the value only; export_proto_seqno = datagram
 * sequence number, export_proto_sysid = sub-agent id (0 in v2/v4);
 * headers of protocol IPv4/IPv6 give no etype and no MACs; IPv6 tos is the
 * high nibble of the traffic class; sfacctd_renormalize multiplies
 * packets/bytes by the sampling rate and reports sampling_rate 1.
 *
 * Runs on the capture thread only; the context is not shared.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_internal.h"

#define ARENA_MARGIN 8192 /* strings one sample may add at most */

void sf_ip_str(const pm_ip_t *ip, char *out, size_t outlen)
{
    if (ip->af == 4)
        snprintf(out, outlen, "%u.%u.%u.%u", ip->a[0], ip->a[1], ip->a[2],
                 ip->a[3]);
    else if (ip->af == 6) {
        /* RFC 5952 compressed form */
        uint16_t w[8];
        int i, best = -1, bestlen = 0, cur = -1, curlen = 0;
        size_t n = 0;
        for (i = 0; i < 8; i++)
            w[i] = (uint16_t)((ip->a[2 * i] << 8) | ip->a[2 * i + 1]);
        for (i = 0; i < 8; i++) {
            if (!w[i]) {
                if (cur < 0)
                    cur = i, curlen = 0;
                curlen++;
                if (curlen > bestlen)
                    best = cur, bestlen = curlen;
            } else
                cur = -1;
        }
        if (bestlen < 2)
            best = -1;
        out[0] = '\0';
        for (i = 0; i < 8 && n < outlen; i++) {
            if (i == best) {
                n += (size_t)snprintf(out + n, outlen - n, "::");
                i += bestlen - 1;
                continue;
            }
            n += (size_t)snprintf(out + n, outlen - n, "%s%x",
                                  (i && i != best + bestlen) ? ":" : "", w[i]);
        }
    } else
        snprintf(out, outlen, "0.0.0.0");
}

struct sf_agent *sf_agent_get(struct sf_ctx *ctx, const pm_ip_t *addr,
                              uint32_t sub_id, int *is_new)
{
    uint32_t h = 2166136261u, i;
    const uint8_t *k = addr->a;

    *is_new = 0;
    if (!ctx->agents)
        return NULL;
    for (i = 0; i < 16; i++)
        h = (h ^ k[i]) * 16777619u;
    h = (h ^ addr->af) * 16777619u;
    h = (h ^ sub_id) * 16777619u;
    for (i = 0; i < SF_AGENTS; i++) {
        struct sf_agent *a = &ctx->agents[(h + i) & (SF_AGENTS - 1)];
        if (!a->used) {
            if (ctx->nagents >= SF_AGENTS * 3 / 4)
                return NULL;
            memset(a, 0, sizeof(*a));
            a->used = 1;
            a->addr = *addr;
            a->sub_id = sub_id;
            ctx->nagents++;
            *is_new = 1;
            return a;
        }
        if (a->sub_id == sub_id && !memcmp(&a->addr, addr, sizeof(*addr)))
            return a;
    }
    return NULL;
}

void sf_malformed(struct sf_ctx *ctx, struct sf_dgram *d, const char *what,
                  size_t off)
{
    pm_counter_add(ctx->c_malformed, 1);
    if (d->ag)
        d->ag->malformed++;
    if (d->ex)
        d->ex->malformed++;
    ctx->host->log_limited(ctx->inst, PM_LOG_WARNING, "sflow-malformed",
                           "malformed sFlow v%u datagram from agent %s "
                           "(sub-agent %u, seq %u): %s at offset %zu",
                           d->version, d->agent_str, d->sub_id, d->seq, what,
                           off);
}

int sf_flush_batch(struct sf_ctx *ctx)
{
    int rc = 0;
    if (ctx->batch && ctx->batch->n) {
        rc = ctx->host->batch_emit(ctx->inst, ctx->batch);
        ctx->batch = NULL;
        if (rc < 0 && rc != -ENOBUFS)
            ctx->emit_err = rc;
        if (rc == -ENOBUFS)
            rc = 0;
    }
    return rc;
}

int sf_batch_room(struct sf_ctx *ctx, size_t arena)
{
    struct pm_batch *b = ctx->batch;
    if (b && b->n < b->cap && b->arena_cap - b->arena_len >= arena)
        return 0;
    if (b) {
        if (b->n)
            (void)sf_flush_batch(ctx);
        else {
            ctx->host->batch_release(ctx->inst, b);
            ctx->batch = NULL;
        }
    }
    ctx->batch = ctx->host->batch_get(ctx->inst);
    if (!ctx->batch)
        return -ESHUTDOWN;
    return 0;
}

struct pm_rec *sf_rec_new(struct sf_ctx *ctx)
{
    struct pm_rec *r;
    if (sf_batch_room(ctx, ARENA_MARGIN) < 0)
        return NULL;
    r = pm_batch_rec(ctx->batch, ctx->batch->n);
    memset(r, 0, ctx->batch->rec_size);
    r->l3_off = r->l4_off = r->payload_off = 0xffff;
    return r;
}

/* VXLAN (UDP 4789) inside a sampled header: the inner Ethernet frame
 * gives the tunnel_* primitives and vxlan, as sfacctd 1.7.7 reports them.
 * Skipped when the host's decoder already did it. */
static void header_vxlan(struct sf_ctx *ctx, struct pm_rec *r,
                         const uint8_t *hdr, uint32_t hlen, uint32_t rec_size)
{
    struct pm_rec *t;
    uint32_t off = r->payload_off;

    if (pm_rec_has(r, PM_P_VXLAN) || r->proto != 17 || r->dst_port != 4789 ||
        off == 0xffff || off + 8 + 14 > hlen || !(hdr[off] & 0x08))
        return;
    if (ctx->tmp_size < rec_size) {
        void *n = realloc(ctx->tmp_rec, rec_size);
        if (!n)
            return;
        ctx->tmp_rec = n;
        ctx->tmp_size = rec_size;
    }
    t = ctx->tmp_rec;
    memset(t, 0, rec_size);
    t->l3_off = t->l4_off = t->payload_off = 0xffff;
    r->vxlan = ((uint32_t)hdr[off + 4] << 16) | ((uint32_t)hdr[off + 5] << 8) |
               hdr[off + 6];
    pm_rec_set(r, PM_P_VXLAN);
    (void)ctx->host->decode_packet(t, PM_DLT_EN10MB, hdr + off + 8,
                                   hlen - off - 8, hlen - off - 8,
                                   PM_DECF_NONE);
    memcpy(r->tunnel_src_mac, t->src_mac, 6);
    memcpy(r->tunnel_dst_mac, t->dst_mac, 6);
    pm_rec_set(r, PM_P_TUNNEL_SRC_MAC);
    pm_rec_set(r, PM_P_TUNNEL_DST_MAC);
    if (pm_rec_has(t, PM_P_SRC_HOST)) {
        r->tunnel_src_host = t->src_host;
        r->tunnel_dst_host = t->dst_host;
        r->tunnel_proto = t->proto;
        r->tunnel_tos =
            (t->flags & PM_RF_IPV6) ? (uint8_t)(t->tos >> 4) : t->tos;
        r->tunnel_src_port = t->src_port;
        r->tunnel_dst_port = t->dst_port;
        r->tunnel_tcpflags = t->tcpflags;
        pm_rec_set(r, PM_P_TUNNEL_SRC_HOST);
        pm_rec_set(r, PM_P_TUNNEL_DST_HOST);
        pm_rec_set(r, PM_P_TUNNEL_PROTO);
        pm_rec_set(r, PM_P_TUNNEL_TOS);
        pm_rec_set(r, PM_P_TUNNEL_SRC_PORT);
        pm_rec_set(r, PM_P_TUNNEL_DST_PORT);
        pm_rec_set(r, PM_P_TUNNEL_TCPFLAGS);
    }
}

/* Sampled header: decode with the host's packet decoder.  A header cut
 * short by the end of the record is decoded as far as it goes (sfacctd
 * does the same), and counted as malformed. */
static int rec_header(struct sf_ctx *ctx, struct sf_dgram *d, struct sf_cur *c,
                      struct pm_rec *r, struct sf_sample *s)
{
    uint32_t proto, frame_len, hlen, needs, snap = 0;
    const uint8_t *hdr;
    int dlt;

    proto = sf_u32(c);
    frame_len = sf_u32(c);
    if (d->version >= 5)
        (void)sf_u32(c); /* stripped */
    hlen = sf_u32(c);
    if (c->err)
        return -1;
    if (hlen > sf_left(c)) {
        sf_malformed(ctx, d, "sampled header longer than its record", c->off);
        hlen = (uint32_t)sf_left(c);
    }
    hdr = sf_bytes_lenient(c, hlen); /* hlen <= left: never NULL */
    if (!hdr)
        return -1;
    switch (proto) {
    case 1:
        dlt = PM_DLT_EN10MB;
        break;
    case 11:
        dlt = PM_DLT_IPV4;
        break;
    case 12:
        dlt = PM_DLT_IPV6;
        break;
    default:
        pm_counter_add(ctx->c_unknown, 1);
        s->have_hdr = 1;
        s->frame_len = frame_len;
        return 0;
    }
    needs = ctx->host->capture_needs(ctx->inst, &snap);
    if ((needs & PM_CAPF_KEEP_PACKETS) && hlen) {
        uint8_t *copy = ctx->host->batch_pkt(ctx->batch, hlen);
        if (copy) {
            memcpy(copy, hdr, hlen);
            hdr = copy;
            r->pkt = copy;
            r->pkt_caplen = hlen;
            r->pkt_len = frame_len;
            r->dlt = (uint16_t)dlt;
        }
    }
    (void)ctx->host->decode_packet(r, dlt, hdr, hlen, frame_len, PM_DECF_NONE);
    if (dlt != PM_DLT_EN10MB) {
        /* sfacctd reports no ethertype for raw IP headers */
        r->etype = 0;
    }
    if (r->flags & PM_RF_IPV6)
        r->tos >>= 4;
    header_vxlan(ctx, r, hdr, hlen, ctx->batch->rec_size);
    s->have_hdr = 1;
    s->frame_len = frame_len;
    return 0;
}

static int rec_sampled_ip(struct sf_ctx *ctx, struct sf_cur *c,
                          struct pm_rec *r, struct sf_sample *s, int v6)
{
    uint32_t length, proto, sport, dport, flags, tos;
    const uint8_t *src, *dst;

    (void)ctx;
    length = sf_u32(c);
    proto = sf_u32(c);
    src = sf_bytes(c, v6 ? 16 : 4);
    dst = sf_bytes(c, v6 ? 16 : 4);
    sport = sf_u32(c);
    dport = sf_u32(c);
    flags = sf_u32(c);
    tos = sf_u32(c);
    if (c->err || !src || !dst)
        return -1;
    if (v6) {
        pm_ip_set6(&r->src_host, src);
        pm_ip_set6(&r->dst_host, dst);
        r->flags |= PM_RF_IPV6;
    } else {
        pm_ip_set4(&r->src_host, src);
        pm_ip_set4(&r->dst_host, dst);
        r->flags &= ~PM_RF_IPV6;
    }
    r->proto = (uint8_t)proto;
    r->src_port = (uint16_t)sport;
    r->dst_port = (uint16_t)dport;
    (void)flags; /* sfacctd 1.7.7 reports tcpflags 0 for these records */
    r->tcpflags = 0;
    r->tos = (uint8_t)tos;
    pm_rec_set(r, PM_P_SRC_HOST);
    pm_rec_set(r, PM_P_DST_HOST);
    pm_rec_set(r, PM_P_PROTO);
    pm_rec_set(r, PM_P_SRC_PORT);
    pm_rec_set(r, PM_P_DST_PORT);
    pm_rec_set(r, PM_P_TCPFLAGS);
    pm_rec_set(r, PM_P_TOS);
    s->have_hdr = 1;
    s->frame_len = length;
    return 0;
}

static int rec_sampled_eth(struct sf_cur *c, struct pm_rec *r,
                           struct sf_sample *s)
{
    uint32_t length = sf_u32(c), type;
    const uint8_t *src = sf_bytes(c, 6), *dst = sf_bytes(c, 6);

    type = sf_u32(c);
    if (c->err || !src || !dst)
        return -1;
    memcpy(r->src_mac, src, 6);
    memcpy(r->dst_mac, dst, 6);
    r->etype = (uint16_t)type;
    pm_rec_set(r, PM_P_SRC_MAC);
    pm_rec_set(r, PM_P_DST_MAC);
    pm_rec_set(r, PM_P_ETYPE);
    s->have_hdr = 1;
    s->frame_len = length;
    return 0;
}

/* Common tail of a flow sample: what every record shares, accounting. */
static void finish_flow(struct sf_ctx *ctx, struct sf_dgram *d,
                        struct pm_rec *r, struct sf_sample *s, uint32_t rate)
{
    static const uint8_t zero4[4] = {0, 0, 0, 0};

    if (!pm_rec_has(r, PM_P_SRC_HOST)) {
        /* no L3 sampled: sfacctd reports 0.0.0.0 for both hosts */
        pm_ip_set4(&r->src_host, zero4);
        pm_ip_set4(&r->dst_host, zero4);
        pm_rec_set(r, PM_P_SRC_HOST);
        pm_rec_set(r, PM_P_DST_HOST);
    }
    r->peer_src_ip = d->agent;
    pm_rec_set(r, PM_P_PEER_SRC_IP);
    r->export_proto_version = d->version;
    r->export_proto_seqno = d->seq;
    r->export_proto_sysid = d->sub_id;
    pm_rec_set(r, PM_P_EXPORT_PROTO_VERSION);
    pm_rec_set(r, PM_P_EXPORT_PROTO_SEQNO);
    pm_rec_set(r, PM_P_EXPORT_PROTO_SYSID);
    pm_rec_set(r, PM_P_IN_IFACE);
    pm_rec_set(r, PM_P_OUT_IFACE);
    if (s->have_switch && (s->sw_vlan || s->sw_out_vlan)) {
        /* in VLAN, else out VLAN; both 0: the header's tag stays */
        r->vlan = (uint16_t)(s->sw_vlan ? s->sw_vlan : s->sw_out_vlan);
        r->cos = (uint8_t)(s->sw_vlan ? s->sw_prio : s->sw_out_prio);
        pm_rec_set(r, PM_P_VLAN);
        pm_rec_set(r, PM_P_COS);
    }
    if (s->have_gw) {
        /* sfacctd keeps the next hop in the sampled packet's family: an
         * IPv4 next hop of an IPv6 packet becomes ::ffff:a.b.c.d, an IPv6
         * next hop of an IPv4 packet is dropped */
        int pkt6 = r->src_host.af == 6;
        if (pkt6 && s->gw_nh.af == 4) {
            uint8_t m[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            memcpy(m + 12, s->gw_nh.a, 4);
            pm_ip_set6(&r->peer_dst_ip, m);
            pm_rec_set(r, PM_P_PEER_DST_IP);
        } else if (s->gw_nh.af == (pkt6 ? 6 : 4)) {
            r->peer_dst_ip = s->gw_nh;
            pm_rec_set(r, PM_P_PEER_DST_IP);
        }
    }
    r->ts_arrival = d->ts;
    pm_rec_set(r, PM_P_TIMESTAMP_ARRIVAL);
    r->packets = 1;
    r->bytes = s->frame_len;
    r->flows = 0;
    if (ctx->cfg->renormalize && rate && !ctx->renorm_deferred) {
        r->packets *= rate;
        r->bytes *= rate;
        r->sampling_rate = 1;
    } else
        r->sampling_rate = rate;
    pm_rec_set(r, PM_P_SAMPLING_RATE);
    ctx->batch->n++;
    ctx->nrec_pend++;
    if (d->ex)
        d->ex->records++;
}

/* v5 flow sample (format 1, or 3 when expanded); c bounded to the sample. */
static int flow_sample_v5(struct sf_ctx *ctx, struct sf_dgram *d,
                          struct sf_cur *c, int expanded)
{
    struct sf_sample s;
    struct pm_rec *r;
    uint32_t rate, in, out, nrec, i;

    memset(&s, 0, sizeof(s));
    (void)sf_u32(c); /* sample sequence number */
    (void)sf_u32(c); /* source id (type) */
    if (expanded)
        (void)sf_u32(c); /* source id index */
    rate = sf_u32(c);
    (void)sf_u32(c); /* sample pool */
    (void)sf_u32(c); /* drops */
    if (expanded) {
        (void)sf_u32(c); /* input format */
        in = sf_u32(c);
        (void)sf_u32(c); /* output format */
        out = sf_u32(c);
    } else {
        in = sf_u32(c);
        out = sf_u32(c);
    }
    nrec = sf_u32(c);
    if (c->err) {
        sf_malformed(ctx, d, "truncated flow sample header", c->off);
        return -1;
    }
    r = sf_rec_new(ctx);
    if (!r)
        return -ESHUTDOWN;
    r->in_iface = in;
    r->out_iface = out;
    for (i = 0; i < nrec; i++) {
        uint32_t fmt = sf_u32(c), len = sf_u32(c);
        struct sf_cur rc;
        const uint8_t *body;
        int res;

        if (c->err) {
            sf_malformed(ctx, d, "flow record count exceeds sample", c->off);
            break; /* keep what the earlier records gave */
        }
        if (len > sf_left(c)) {
            /* sfacctd decodes what is there: so do we, and count it */
            sf_malformed(ctx, d, "flow record length exceeds sample", c->off);
            len = (uint32_t)sf_left(c);
        }
        body = sf_bytes_lenient(c, len); /* len <= left: never NULL */
        if (!body)
            break;
        sf_cur_init(&rc, body, len);
        if (fmt >> 12) { /* enterprise records: none we know */
            pm_counter_add(ctx->c_unknown, 1);
            continue;
        }
        switch (fmt & 0xfff) {
        case 1:
            res = rec_header(ctx, d, &rc, r, &s);
            break;
        case 2:
            res = rec_sampled_eth(&rc, r, &s);
            break;
        case 3:
            res = rec_sampled_ip(ctx, &rc, r, &s, 0);
            break;
        case 4:
            res = rec_sampled_ip(ctx, &rc, r, &s, 1);
            break;
        default:
            res = sf_ext_record(ctx, d, fmt & 0xfff, &rc, r, &s);
            if (res == 1) {
                pm_counter_add(ctx->c_unknown, 1);
                res = 0;
            }
            break;
        }
        if (res < 0) {
            char what[64];
            snprintf(what, sizeof(what), "bad flow record %u (length %u)",
                     fmt & 0xfff, len);
            sf_malformed(ctx, d, what, c->off);
            return -1;
        }
    }
    finish_flow(ctx, d, r, &s, rate);
    ctx->nfs_pend++;
    return 0;
}

/* v2/v4 flow sample (after the sample type); unbounded: c is the rest of
 * the datagram. */
static int flow_sample_v24(struct sf_ctx *ctx, struct sf_dgram *d,
                           struct sf_cur *c)
{
    struct sf_sample s;
    struct pm_rec *r;
    uint32_t rate, in, out, ptype, next, i;
    int res = 0;

    memset(&s, 0, sizeof(s));
    (void)sf_u32(c); /* sequence number */
    (void)sf_u32(c); /* source id */
    rate = sf_u32(c);
    (void)sf_u32(c); /* sample pool */
    (void)sf_u32(c); /* drops */
    in = sf_u32(c);
    out = sf_u32(c);
    ptype = sf_u32(c);
    if (c->err) {
        sf_malformed(ctx, d, "truncated flow sample", c->off);
        return -1;
    }
    r = sf_rec_new(ctx);
    if (!r)
        return -ESHUTDOWN;
    r->in_iface = in;
    r->out_iface = out;
    switch (ptype) {
    case 1:
        res = rec_header(ctx, d, c, r, &s);
        break;
    case 2:
        res = rec_sampled_ip(ctx, c, r, &s, 0);
        break;
    case 3:
        res = rec_sampled_ip(ctx, c, r, &s, 1);
        break;
    default:
        res = -1;
    }
    if (res < 0) {
        sf_malformed(ctx, d, "bad packet data in flow sample", c->off);
        return -1;
    }
    next = sf_u32(c);
    if (c->err || next > sf_left(c) / 4) {
        sf_malformed(ctx, d, "extended data count exceeds datagram", c->off);
        return -1;
    }
    for (i = 0; i < next; i++) {
        uint32_t type = sf_u32(c);
        if (c->err)
            break;
        switch (type) {
        case 1:
            res = sf_ext_record(ctx, d, 1001, c, r, &s);
            break;
        case 2:
            res = sf_ext_record(ctx, d, 1002, c, r, &s);
            break;
        case 3:
            res = sf_ext_gateway_v24(ctx, d, c, r);
            break;
        case 4:
        case 5:
            res = sf_ext_skip_v24(type, c);
            break;
        default:
            res = -1;
        }
        if (res < 0 || c->err) {
            sf_malformed(ctx, d, "bad extended data in flow sample", c->off);
            return -1;
        }
    }
    if (c->err) {
        sf_malformed(ctx, d, "truncated extended data", c->off);
        return -1;
    }
    finish_flow(ctx, d, r, &s, rate);
    ctx->nfs_pend++;
    return 0;
}

static void seq_check(struct sf_ctx *ctx, struct sf_dgram *d)
{
    struct sf_agent *a = d->ag;
    if (!a)
        return;
    a->datagrams++;
    if (a->have_seq && d->seq != a->last_seq + 1 && d->seq != a->last_seq) {
        a->seq_gaps++;
        if (d->ex)
            d->ex->seq_gaps++;
        pm_counter_add(ctx->c_seq_gaps, 1);
        if (!ctx->cfg->disable_checks)
            ctx->host->log_limited(
                ctx->inst, PM_LOG_INFO, "sflow-seq",
                "expecting sFlow datagram seq %u from agent %s (sub-agent "
                "%u), received %u",
                a->last_seq + 1, d->agent_str, d->sub_id, d->seq);
    }
    a->last_seq = d->seq;
    a->have_seq = 1;
}

static int decode1(struct sf_ctx *ctx, const uint8_t *p, size_t len,
                   const pm_ip_t *sender, const pm_ts_t *ts);

int sf_decode_datagram(struct sf_ctx *ctx, const uint8_t *p, size_t len,
                       const pm_ip_t *sender, const pm_ts_t *ts)
{
    int rc = decode1(ctx, p, len, sender, ts);
    if (ctx->nrec_pend) {
        pm_counter_add(ctx->c_records, ctx->nrec_pend);
        ctx->nrec_pend = 0;
    }
    if (ctx->nfs_pend) {
        pm_counter_add(ctx->c_flow_samples, ctx->nfs_pend);
        ctx->nfs_pend = 0;
    }
    return rc;
}

static int decode1(struct sf_ctx *ctx, const uint8_t *p, size_t len,
                   const pm_ip_t *sender, const pm_ts_t *ts)
{
    struct sf_cur c;
    struct sf_dgram d;
    uint32_t nsamples, i;
    int is_new = 0, rc;

    memset(&d, 0, sizeof(d));
    d.ts = *ts;
    pm_counter_add(ctx->c_datagrams, 1);
    sf_cur_init(&c, p, len);
    d.version = sf_u32(&c);
    if (sender)
        sf_ip_str(sender, d.agent_str, sizeof(d.agent_str));
    else
        snprintf(d.agent_str, sizeof(d.agent_str), "?");
    if (c.err || (d.version != 2 && d.version != 4 && d.version != 5)) {
        sf_malformed(ctx, &d,
                     c.err ? "truncated datagram" : "unsupported sFlow version",
                     0);
        return -EINVAL;
    }
    if (sf_addr(&c, &d.agent) < 0) {
        sf_malformed(ctx, &d, "bad agent address", c.off);
        return -EINVAL;
    }
    sf_ip_str(&d.agent, d.agent_str, sizeof(d.agent_str));
    if (d.version == 5)
        d.sub_id = sf_u32(&c);
    d.seq = sf_u32(&c);
    d.uptime = sf_u32(&c);
    nsamples = sf_u32(&c);
    d.ag = sf_agent_get(ctx, &d.agent, d.sub_id, &is_new);
    d.ex = pm_exptab_get(&ctx->exp, &d.agent);
    if (d.ex) {
        d.ex->datagrams++;
        d.ex->last_seen = d.ts.sec;
    }
    if (c.err) {
        sf_malformed(ctx, &d, "truncated datagram header", c.off);
        return -EINVAL;
    }
    if (is_new)
        sf_counters_agent_new(ctx, &d);
    seq_check(ctx, &d);

    for (i = 0; i < nsamples; i++) {
        if (!sf_left(&c)) {
            sf_malformed(ctx, &d, "sample count exceeds datagram", c.off);
            return -EINVAL;
        }
        if (d.version == 5) {
            uint32_t fmt = sf_u32(&c), slen = sf_u32(&c);
            struct sf_cur sc;
            const uint8_t *body;

            if (c.err) {
                sf_malformed(ctx, &d, "truncated sample header", c.off);
                return -EINVAL;
            }
            if (slen > sf_left(&c)) {
                /* decode what is there (as sfacctd does), count it */
                sf_malformed(ctx, &d, "sample length exceeds datagram", c.off);
                slen = (uint32_t)sf_left(&c);
            }
            body = c.p + c.off;
            sf_skip(&c, ((slen + 3) & ~3u) <= sf_left(&c) ? ((slen + 3) & ~3u)
                                                          : slen);
            sf_cur_init(&sc, body, slen);
            if (fmt >> 12) {
                pm_counter_add(ctx->c_unknown, 1);
                continue;
            }
            switch (fmt) {
            case 1:
            case 3:
                rc = flow_sample_v5(ctx, &d, &sc, fmt == 3);
                break;
            case 2:
            case 4:
                rc = sf_counter_sample_v5(ctx, &d, &sc, fmt == 4);
                if (rc == 0)
                    pm_counter_add(ctx->c_counter_samples, 1);
                break;
            default:
                pm_counter_add(ctx->c_unknown, 1);
                rc = 0;
            }
            if (rc == -ESHUTDOWN)
                return rc;
            /* a bad sample is skipped: its length is known */
        } else {
            uint32_t type = sf_u32(&c);
            if (type == 1)
                rc = flow_sample_v24(ctx, &d, &c);
            else if (type == 2) {
                rc = sf_counter_sample_v24(ctx, &d, &c);
                if (rc == 0)
                    pm_counter_add(ctx->c_counter_samples, 1);
                else
                    sf_malformed(ctx, &d, "bad counter sample", c.off);
            } else {
                sf_malformed(ctx, &d, "unknown sample type", c.off);
                rc = -EINVAL;
            }
            if (rc < 0)
                return rc == -ESHUTDOWN ? rc : -EINVAL;
        }
    }
    return 0;
}
