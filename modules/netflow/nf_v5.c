/*
 * nf_v5.c - fixed-format NetFlow: v1, v5, v7 (Catalyst) and v8 (router
 * aggregation, every scheme 1..14), after Cisco's published formats.
 * A datagram whose count claims more records than it holds is rejected
 * whole and counted malformed.
 *
 * Threads: called on the capture thread only.
 */
#include <errno.h>
#include <string.h>

#include "nf.h"

/* Flow time relative to sysUptime -> absolute, into ts. */
static void rel_time(struct nf_ctx *c, const struct nf_hdr *h, uint32_t t,
                     pm_ts_t *ts)
{
    /* As nfacctd 1.7.7: the export time in whole seconds minus the age
     * truncated to seconds. */
    uint64_t age = c->cfg->time_secs ? (uint32_t)(h->uptime - t)
                                     : (uint32_t)(h->uptime - t) / 1000u;
    ts->sec = h->unix_secs >= age ? h->unix_secs - age : 0;
    ts->usec = 0;
}

static void times(struct nf_ctx *c, const struct nf_hdr *h, struct pm_rec *r,
                  const uint8_t *first)
{
    rel_time(c, h, nf_rd32(first), &r->ts_start);
    rel_time(c, h, nf_rd32(first + 4), &r->ts_end);
    pm_rec_set(r, PM_P_TIMESTAMP_START);
    pm_rec_set(r, PM_P_TIMESTAMP_END);
}

static void v4(struct pm_rec *r, unsigned id, pm_ip_t *ip, const uint8_t *p)
{
    pm_ip_set4(ip, p);
    pm_rec_set(r, id);
}

#define SET(r, field, id, val)                                                 \
    do {                                                                       \
        (r)->field = (val);                                                    \
        pm_rec_set((r), (id));                                                 \
    } while (0)

static void sampling(const struct nf_hdr *h, struct pm_rec *r)
{
    SET(r, sampling_rate, PM_P_SAMPLING_RATE, h->sampling);
}

/* v1 and v5 share the first 36 bytes of a record. */
static void common15(struct nf_ctx *c, const struct nf_hdr *h,
                     struct pm_rec *r, const uint8_t *q)
{
    v4(r, PM_P_SRC_HOST, &r->src_host, q);
    v4(r, PM_P_DST_HOST, &r->dst_host, q + 4);
    SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(q + 12));
    SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(q + 14));
    r->packets = nf_rd32(q + 16);
    r->bytes = nf_rd32(q + 20);
    times(c, h, r, q + 24);
    SET(r, src_port, PM_P_SRC_PORT, nf_rd16(q + 32));
    SET(r, dst_port, PM_P_DST_PORT, nf_rd16(q + 34));
}

static void v1_rec(struct nf_ctx *c, const struct nf_hdr *h, struct pm_rec *r,
                   const uint8_t *q)
{
    common15(c, h, r, q);
    SET(r, proto, PM_P_PROTO, q[38]);
    SET(r, tos, PM_P_TOS, q[39]);
    SET(r, tcpflags, PM_P_TCPFLAGS, q[40]);
}

static void v5_rec(struct nf_ctx *c, const struct nf_hdr *h, struct pm_rec *r,
                   const uint8_t *q)
{
    common15(c, h, r, q);
    SET(r, tcpflags, PM_P_TCPFLAGS, q[37]);
    SET(r, proto, PM_P_PROTO, q[38]);
    SET(r, tos, PM_P_TOS, q[39]);
    SET(r, src_as, PM_P_SRC_AS, nf_rd16(q + 40));
    SET(r, dst_as, PM_P_DST_AS, nf_rd16(q + 42));
    SET(r, src_mask, PM_P_SRC_MASK, q[44]);
    SET(r, dst_mask, PM_P_DST_MASK, q[45]);
    sampling(h, r);
}

static void v7_rec(struct nf_ctx *c, const struct nf_hdr *h, struct pm_rec *r,
                   const uint8_t *q)
{
    common15(c, h, r, q);
    SET(r, tcpflags, PM_P_TCPFLAGS, q[37]);
    SET(r, proto, PM_P_PROTO, q[38]);
    SET(r, tos, PM_P_TOS, q[39]);
    SET(r, src_as, PM_P_SRC_AS, nf_rd16(q + 40));
    SET(r, dst_as, PM_P_DST_AS, nf_rd16(q + 42));
    SET(r, src_mask, PM_P_SRC_MASK, q[44]);
    SET(r, dst_mask, PM_P_DST_MASK, q[45]);
}

/* v8 record sizes per aggregation scheme (index 1..14). */
static const uint8_t v8_size[15] = {0,  28, 28, 32, 32, 40, 32, 40,
                                    44, 32, 32, 32, 32, 40, 40};

/* The flows/dPkts/dOctets/First/Last head of schemes 1-5 and 9-14. */
static void v8_head(struct nf_ctx *c, const struct nf_hdr *h,
                    struct pm_rec *r, const uint8_t *q)
{
    r->flows = nf_rd32(q);
    r->packets = nf_rd32(q + 4);
    r->bytes = nf_rd32(q + 8);
    times(c, h, r, q + 12);
}

static void v8_rec(struct nf_ctx *c, const struct nf_hdr *h, struct pm_rec *r,
                   unsigned agg, const uint8_t *q)
{
    const uint8_t *s = q + 20;
    switch (agg) {
    case 1: /* AS */
    case 9: /* AS-ToS */
        v8_head(c, h, r, q);
        SET(r, src_as, PM_P_SRC_AS, nf_rd16(s));
        SET(r, dst_as, PM_P_DST_AS, nf_rd16(s + 2));
        SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(s + 4));
        SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(s + 6));
        if (agg == 9)
            SET(r, tos, PM_P_TOS, s[8]);
        break;
    case 2: /* Protocol-port */
        v8_head(c, h, r, q);
        SET(r, proto, PM_P_PROTO, s[0]);
        SET(r, src_port, PM_P_SRC_PORT, nf_rd16(s + 4));
        SET(r, dst_port, PM_P_DST_PORT, nf_rd16(s + 6));
        break;
    case 10: /* Protocol-port-ToS */
        v8_head(c, h, r, q);
        SET(r, proto, PM_P_PROTO, s[0]);
        SET(r, tos, PM_P_TOS, s[1]);
        SET(r, src_port, PM_P_SRC_PORT, nf_rd16(s + 4));
        SET(r, dst_port, PM_P_DST_PORT, nf_rd16(s + 6));
        SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(s + 8));
        SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(s + 10));
        break;
    case 3:  /* Source prefix */
    case 11: /* Source prefix ToS */
        v8_head(c, h, r, q);
        v4(r, PM_P_SRC_HOST, &r->src_host, s);
        SET(r, src_mask, PM_P_SRC_MASK, s[4]);
        if (agg == 11)
            SET(r, tos, PM_P_TOS, s[5]);
        SET(r, src_as, PM_P_SRC_AS, nf_rd16(s + 6));
        SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(s + 8));
        break;
    case 4:  /* Destination prefix */
    case 12: /* Destination prefix ToS */
        v8_head(c, h, r, q);
        v4(r, PM_P_DST_HOST, &r->dst_host, s);
        SET(r, dst_mask, PM_P_DST_MASK, s[4]);
        if (agg == 12)
            SET(r, tos, PM_P_TOS, s[5]);
        SET(r, dst_as, PM_P_DST_AS, nf_rd16(s + 6));
        SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(s + 8));
        break;
    case 5:  /* Prefix */
    case 13: /* Prefix ToS */
    case 14: /* Prefix-port ToS */
        v8_head(c, h, r, q);
        v4(r, PM_P_SRC_HOST, &r->src_host, s);
        v4(r, PM_P_DST_HOST, &r->dst_host, s + 4);
        SET(r, dst_mask, PM_P_DST_MASK, s[8]);
        SET(r, src_mask, PM_P_SRC_MASK, s[9]);
        if (agg == 5) {
            SET(r, src_as, PM_P_SRC_AS, nf_rd16(s + 12));
            SET(r, dst_as, PM_P_DST_AS, nf_rd16(s + 14));
            SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(s + 16));
            SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(s + 18));
        } else if (agg == 13) {
            SET(r, tos, PM_P_TOS, s[10]);
            SET(r, src_as, PM_P_SRC_AS, nf_rd16(s + 12));
            SET(r, dst_as, PM_P_DST_AS, nf_rd16(s + 14));
            SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(s + 16));
            SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(s + 18));
        } else {
            SET(r, tos, PM_P_TOS, s[10]);
            SET(r, proto, PM_P_PROTO, s[11]);
            SET(r, src_port, PM_P_SRC_PORT, nf_rd16(s + 12));
            SET(r, dst_port, PM_P_DST_PORT, nf_rd16(s + 14));
            SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(s + 16));
            SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(s + 18));
        }
        break;
    case 6: /* Destination-only */
        v4(r, PM_P_DST_HOST, &r->dst_host, q);
        r->packets = nf_rd32(q + 4);
        r->bytes = nf_rd32(q + 8);
        times(c, h, r, q + 12);
        SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(q + 20));
        SET(r, tos, PM_P_TOS, q[22]);
        break;
    case 7: /* Source-destination */
        v4(r, PM_P_DST_HOST, &r->dst_host, q);
        v4(r, PM_P_SRC_HOST, &r->src_host, q + 4);
        r->packets = nf_rd32(q + 8);
        r->bytes = nf_rd32(q + 12);
        times(c, h, r, q + 16);
        SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(q + 24));
        SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(q + 26));
        SET(r, tos, PM_P_TOS, q[28]);
        break;
    case 8: /* Full flow */
        v4(r, PM_P_DST_HOST, &r->dst_host, q);
        v4(r, PM_P_SRC_HOST, &r->src_host, q + 4);
        SET(r, dst_port, PM_P_DST_PORT, nf_rd16(q + 8));
        SET(r, src_port, PM_P_SRC_PORT, nf_rd16(q + 10));
        r->packets = nf_rd32(q + 12);
        r->bytes = nf_rd32(q + 16);
        times(c, h, r, q + 20);
        SET(r, out_iface, PM_P_OUT_IFACE, nf_rd16(q + 28));
        SET(r, in_iface, PM_P_IN_IFACE, nf_rd16(q + 30));
        SET(r, tos, PM_P_TOS, q[32]);
        SET(r, proto, PM_P_PROTO, q[33]);
        break;
    }
}

int nf_v5_decode(struct nf_ctx *c, struct nf_hdr *h, const uint8_t *p,
                 uint32_t len)
{
    uint32_t hlen, rlen, maxc;
    unsigned agg = 0;
    switch (h->version) {
    case 1:
        hlen = 16, rlen = 48, maxc = 24;
        break;
    case 5:
        hlen = 24, rlen = 48, maxc = 30;
        break;
    case 7:
        hlen = 24, rlen = 52, maxc = 27;
        break;
    default: /* 8 */
        hlen = 28, rlen = 0, maxc = 51;
        break;
    }
    if (len < hlen) {
        nf_malformed(c, h,
                     "datagram of %u bytes is shorter than the %u-byte header",
                     len, hlen);
        return -EINVAL;
    }
    h->count = nf_rd16(p + 2);
    h->uptime = nf_rd32(p + 4);
    h->unix_secs = nf_rd32(p + 8);
    h->unix_nsecs = nf_rd32(p + 12);
    if (h->version != 1) {
        h->seq = nf_rd32(p + 16);
        h->sysid = p[21]; /* engine id */
    }
    if (h->version == 5) {
        uint16_t s = nf_rd16(p + 22);
        h->sampling = s & 0x3fffu;
    }
    if (h->version == 8) {
        agg = p[22];
        if (agg < 1 || agg > 14) {
            nf_malformed(c, h, "unknown v8 aggregation scheme %u", agg);
            return -EINVAL;
        }
        rlen = v8_size[agg];
        maxc = 1400u / rlen;
    }
    if (h->count == 0 || h->count > maxc ||
        (uint64_t)hlen + (uint64_t)h->count * rlen > len) {
        nf_malformed(c, h,
                     "count %u does not fit %u bytes (%u-byte records, at "
                     "most %u)",
                     h->count, len, rlen, maxc);
        return -EINVAL;
    }
    h->src = nf_src_get(c, &h->exp, h->sysid, (uint8_t)h->version);
    if (h->version != 1 && h->src && !c->cfg->disable_checks) {
        if (h->src->seq_valid && h->seq != h->src->next_seq) {
            pm_counter_add(c->c_seq_gaps, 1);
            if (h->st)
                h->st->seq_gaps++;
        }
        /* v5/v7/v8 count flows (v8: aggregate records) */
        h->src->next_seq = h->seq + h->count;
        h->src->seq_valid = 1;
    }
    int n = 0;
    for (uint32_t i = 0; i < h->count; i++) {
        const uint8_t *q = p + hlen + i * rlen;
        struct pm_rec *r = nf_rec_new(c, h);
        if (!r)
            break;
        switch (h->version) {
        case 1:
            v1_rec(c, h, r, q);
            break;
        case 5:
            v5_rec(c, h, r, q);
            break;
        case 7:
            v7_rec(c, h, r, q);
            break;
        default:
            v8_rec(c, h, r, agg, q);
            break;
        }
        nf_rec_done(c, r);
        n++;
    }
    return n;
}
