/*
 * nf_ie.c - NetFlow v9 / IPFIX information elements (IANA registry, RFC
 * 7012; v9 field types of RFC 3954 share the numbers below 128; Cisco ASA
 * NSEL types) mapped to record fields, and options data (sampling per
 * exporter and per sampler id, VRF names, system init time).  Reduced-size
 * encoding of unsigned integers (RFC 7011 §6.2) is accepted everywhere;
 * addresses and MACs of the wrong size are ignored; enterprise-specific
 * IPFIX elements are skipped.
 *
 * Threads: capture thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nf.h"

#define NTP_UNIX_OFFSET 2208988800ull

enum {
    H_BYTES = 1u << 0,
    H_PKTS = 1u << 1,
    H_TOTB = 1u << 2,
    H_TOTP = 1u << 3,
    H_POSTB = 1u << 4,
    H_POSTP = 1u << 5,
    H_INITB = 1u << 6,
    H_INITP = 1u << 7,
    H_FIRST = 1u << 8,
    H_LAST = 1u << 9,
    H_START = 1u << 10,
    H_END = 1u << 11,
    H_OBS = 1u << 12,
    H_SAMPLER = 1u << 13,
    H_RATE = 1u << 14,
    H_INVRF = 1u << 15,
    H_OUTVRF = 1u << 16,
    H_BGPNH = 1u << 17,
    H_FWEV = 1u << 18,
    H_FWEVX = 1u << 19,
    H_FLOWS = 1u << 20,
    H_NATSRC = 1u << 21,
    H_NATDST = 1u << 22,
    H_NATSP = 1u << 23,
    H_NATDP = 1u << 24,
    H_VRFNAME = 1u << 25,
    H_SYSINIT = 1u << 26,
    H_DSTART = 1u << 27,
    H_DEND = 1u << 28,
    H_SPACE = 1u << 29,
};

struct nf_flow {
    uint32_t have;
    uint64_t bytes, packets, flows;
    uint64_t totb, totp, postb, postp, initb, initp;
    uint32_t first_up, last_up;
    uint32_t dstart_us, dend_us;
    pm_ts_t start, end, obs;
    uint32_t sampler_id, rate, space;
    uint32_t in_vrf, out_vrf;
    pm_ip_t bgp_nh;
    uint8_t fwev, fwevx;
    uint32_t labels[10];
    uint16_t label_mask;
    const uint8_t *vrfname;
    uint16_t vrfname_len;
    uint64_t sysinit_ms;
};

static void ts_ms(pm_ts_t *ts, uint64_t ms)
{
    ts->sec = ms / 1000u;
    ts->usec = (uint32_t)(ms % 1000u) * 1000u;
}

static void ts_ntp(pm_ts_t *ts, uint64_t v, int ns)
{
    uint64_t secs = v >> 32;
    uint64_t frac = v & 0xffffffffu;
    ts->sec = secs >= NTP_UNIX_OFFSET ? secs - NTP_UNIX_OFFSET : 0;
    if (ns)
        ts->usec = (uint32_t)((frac * 1000000u) >> 32);
    else /* microseconds: the low 11 bits are not significant (§6.1.9) */
        ts->usec = (uint32_t)(((frac & ~0x7ffull) * 1000000u) >> 32);
    if (ts->usec > 999999)
        ts->usec = 999999;
}

#define SET(r, field, id, val)                                                 \
    do {                                                                       \
        (r)->field = (val);                                                    \
        pm_rec_set((r), (id));                                                 \
    } while (0)

/* Apply one field to record r (NULL for options) and scratch fl. */
static int zero_bytes(const uint8_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i])
            return 0;
    return 1;
}

static int ip_zero(const pm_ip_t *ip) { return zero_bytes(ip->a, 16); }

/* IPv4 address IE: a zero one does not replace an IPv6 address already
 * read; a real one replaces a zero IPv6 one (and the record is IPv4 again
 * unless the other address is a real IPv6 one). */
static void host4(struct pm_rec *r, pm_ip_t *h, unsigned prim,
                  const pm_ip_t *other, const uint8_t *v)
{
    if (pm_rec_has(r, prim) && h->af == 6) {
        if (zero_bytes(v, 4))
            return;
        if (!(other->af == 6 && !ip_zero(other)))
            r->flags &= ~PM_RF_IPV6;
    }
    pm_ip_set4(h, v);
    pm_rec_set(r, prim);
}

static void host6(struct pm_rec *r, pm_ip_t *h, unsigned prim, const uint8_t *v)
{
    if (pm_rec_has(r, prim) && h->af == 4 && zero_bytes(v, 16))
        return;
    pm_ip_set6(h, v);
    pm_rec_set(r, prim);
    r->flags |= PM_RF_IPV6;
}

static void apply(const struct nf_hdr *h, struct pm_rec *r, struct nf_flow *fl,
                  const struct nf_field *f, const uint8_t *v, uint32_t len)
{
    if (len == 0)
        return;
    if (f->pen != 0)
        return; /* enterprise-specific: skipped */
    uint64_t n = len <= 8 ? nf_rdn(v, len) : 0;
    int is_v9 = h->version == 9;
    switch (f->id) {
    /* ---- options-relevant and counters (also seen in options) --------- */
    /* PSAMP interval/space: nfacctd 1.7.7 uses them only when 4 bytes
     * long (softflowd); 2-byte ones (ipfix.dat) leave the flows unsampled
     * there, and so here. */
    case 305: /* samplingPacketInterval */
        if (len != 4)
            return;
        /* fall through */
    case 34:  /* samplingInterval */
    case 50:  /* samplerRandomInterval (v9 FLOW_SAMPLER_RANDOM_INTERVAL) */
        fl->rate = (uint32_t)n;
        fl->have |= H_RATE;
        return;
    case 306: /* samplingPacketSpace: rate = (interval + space) / interval */
        if (len != 4)
            return;
        fl->space = (uint32_t)n;
        fl->have |= H_SPACE;
        return;
    case 48:  /* samplerId (v9 FLOW_SAMPLER_ID) */
    case 302: /* selectorId */
        fl->sampler_id = (uint32_t)n;
        fl->have |= H_SAMPLER;
        return;
    case 234: /* ingressVRFID */
        fl->in_vrf = (uint32_t)n;
        fl->have |= H_INVRF;
        return;
    case 235: /* egressVRFID */
        fl->out_vrf = (uint32_t)n;
        fl->have |= H_OUTVRF;
        return;
    case 236: /* VRFname */
        fl->vrfname = v;
        fl->vrfname_len = (uint16_t)len;
        fl->have |= H_VRFNAME;
        return;
    case 160: /* systemInitTimeMilliseconds */
        fl->sysinit_ms = n;
        fl->have |= H_SYSINIT;
        return;
    }
    if (!r)
        return;
    switch (f->id) {
    case 1:
        fl->bytes = n, fl->have |= H_BYTES;
        break;
    case 2:
        fl->packets = n, fl->have |= H_PKTS;
        break;
    case 3:
        fl->flows = n, fl->have |= H_FLOWS;
        break;
    case 85:
        fl->totb = n, fl->have |= H_TOTB;
        break;
    case 86:
        fl->totp = n, fl->have |= H_TOTP;
        break;
    case 23:
        fl->postb = n, fl->have |= H_POSTB;
        break;
    case 24:
        fl->postp = n, fl->have |= H_POSTP;
        break;
    case 231: /* initiatorOctets / NSEL fwd flow delta bytes */
        fl->initb = n, fl->have |= H_INITB;
        break;
    case 298:
        fl->initp = n, fl->have |= H_INITP;
        break;
    case 4:
        SET(r, proto, PM_P_PROTO, (uint8_t)n);
        break;
    case 5:
        SET(r, tos, PM_P_TOS, (uint8_t)n);
        break;
    case 6:
        SET(r, tcpflags, PM_P_TCPFLAGS, (uint8_t)n);
        break;
    case 7:
        SET(r, src_port, PM_P_SRC_PORT, (uint16_t)n);
        break;
    case 11:
        SET(r, dst_port, PM_P_DST_PORT, (uint16_t)n);
        break;
    /* Templates carrying both IPv4 and IPv6 addresses (one family left
     * zero): the non-zero family wins whatever the field order, as
     * nfacctd 1.7.7 reports them. */
    case 8:
        if (len == 4)
            host4(r, &r->src_host, PM_P_SRC_HOST, &r->dst_host, v);
        break;
    case 12:
        if (len == 4)
            host4(r, &r->dst_host, PM_P_DST_HOST, &r->src_host, v);
        break;
    case 27:
        if (len == 16)
            host6(r, &r->src_host, PM_P_SRC_HOST, v);
        break;
    case 28:
        if (len == 16)
            host6(r, &r->dst_host, PM_P_DST_HOST, v);
        break;
    case 9:
    case 29:
        SET(r, src_mask, PM_P_SRC_MASK, (uint8_t)n);
        break;
    case 13:
    case 30:
        SET(r, dst_mask, PM_P_DST_MASK, (uint8_t)n);
        break;
    case 10:
        SET(r, in_iface, PM_P_IN_IFACE, (uint32_t)n);
        break;
    case 14:
        SET(r, out_iface, PM_P_OUT_IFACE, (uint32_t)n);
        break;
    /* ingress/egressPhysicalInterface: in_iface/out_iface when the
     * template has no ingress/egressInterface (10/14), as nfacctd 1.7.7
     * (akvorado physicalinterfaces.pcap) */
    case 252:
        if (!pm_rec_has(r, PM_P_IN_IFACE))
            SET(r, in_iface, PM_P_IN_IFACE, (uint32_t)n);
        break;
    case 253:
        if (!pm_rec_has(r, PM_P_OUT_IFACE))
            SET(r, out_iface, PM_P_OUT_IFACE, (uint32_t)n);
        break;
    case 16:
        SET(r, src_as, PM_P_SRC_AS, (uint32_t)n);
        break;
    case 17:
        SET(r, dst_as, PM_P_DST_AS, (uint32_t)n);
        break;
    case 128: /* bgpNextAdjacentAsNumber */
        SET(r, peer_dst_as, PM_P_PEER_DST_AS, (uint32_t)n);
        break;
    case 129: /* bgpPrevAdjacentAsNumber */
        SET(r, peer_src_as, PM_P_PEER_SRC_AS, (uint32_t)n);
        break;
    case 18:
        if (len == 4) {
            pm_ip_set4(&fl->bgp_nh, v);
            fl->have |= H_BGPNH;
        }
        break;
    case 63:
        if (len == 16) {
            pm_ip_set6(&fl->bgp_nh, v);
            fl->have |= H_BGPNH;
        }
        break;
    case 21:
        fl->last_up = (uint32_t)n, fl->have |= H_LAST;
        break;
    case 22:
        fl->first_up = (uint32_t)n, fl->have |= H_FIRST;
        break;
    case 150:
        fl->start.sec = n, fl->start.usec = 0, fl->have |= H_START;
        break;
    case 151:
        fl->end.sec = n, fl->end.usec = 0, fl->have |= H_END;
        break;
    case 152:
        ts_ms(&fl->start, n), fl->have |= H_START;
        break;
    case 153:
        ts_ms(&fl->end, n), fl->have |= H_END;
        break;
    case 154:
    case 156:
        if (len == 8)
            ts_ntp(&fl->start, n, f->id == 156), fl->have |= H_START;
        break;
    case 155:
    case 157:
        if (len == 8)
            ts_ntp(&fl->end, n, f->id == 157), fl->have |= H_END;
        break;
    case 158: /* flowStartDeltaMicroseconds */
        fl->dstart_us = (uint32_t)n, fl->have |= H_DSTART;
        break;
    case 159:
        fl->dend_us = (uint32_t)n, fl->have |= H_DEND;
        break;
    case 323: /* observationTimeMilliseconds (NSEL flow create time) */
        ts_ms(&fl->obs, n), fl->have |= H_OBS;
        break;
    case 56:
    case 81:
        if (len == 6 && !pm_rec_has(r, PM_P_SRC_MAC)) {
            memcpy(r->src_mac, v, 6);
            pm_rec_set(r, PM_P_SRC_MAC);
        }
        break;
    case 80:
    case 57:
        if (len == 6 && !pm_rec_has(r, PM_P_DST_MAC)) {
            memcpy(r->dst_mac, v, 6);
            pm_rec_set(r, PM_P_DST_MAC);
        }
        break;
    case 58:
    case 243:
        SET(r, vlan, PM_P_VLAN, (uint16_t)(n & 0xfff));
        break;
    case 59:
    case 254:
        SET(r, out_vlan, PM_P_OUT_VLAN, (uint16_t)(n & 0xfff));
        break;
    case 245:
        SET(r, cvlan, PM_P_CVLAN, (uint16_t)(n & 0xfff));
        break;
    case 61:
        SET(r, direction, PM_P_DIRECTION, (uint8_t)n);
        break;
    case 89:
        SET(r, fwd_status, PM_P_FWD_STATUS, (uint8_t)n);
        break;
    case 90:
        if (len == 8) {
            memcpy(r->mpls_vpn_rd, v, 8);
            pm_rec_set(r, PM_P_MPLS_VPN_RD);
        }
        break;
    case 249:
        SET(r, mpls_pw_id, PM_P_MPLS_PW_ID, (uint32_t)n);
        break;
    case 31:
        SET(r, flow_label, PM_P_FLOW_LABEL, (uint32_t)(n & 0xfffff));
        break;
    case 70: case 71: case 72: case 73: case 74:
    case 75: case 76: case 77: case 78: case 79:
        if (len >= 3) {
            fl->labels[f->id - 70] = (uint32_t)nf_rdn(v, 3);
            fl->label_mask |= (uint16_t)(1u << (f->id - 70));
        }
        break;
    case 225:
    case 40001: /* NSEL (old ASA) xlate source address */
        if (len == 4 && (f->id == 225 || !(fl->have & H_NATSRC))) {
            pm_ip_set4(&r->post_nat_src_host, v);
            pm_rec_set(r, PM_P_POST_NAT_SRC_HOST);
            fl->have |= H_NATSRC;
        }
        break;
    case 226:
    case 40002:
        if (len == 4 && (f->id == 226 || !(fl->have & H_NATDST))) {
            pm_ip_set4(&r->post_nat_dst_host, v);
            pm_rec_set(r, PM_P_POST_NAT_DST_HOST);
            fl->have |= H_NATDST;
        }
        break;
    case 281:
        if (len == 16) {
            pm_ip_set6(&r->post_nat_src_host, v);
            pm_rec_set(r, PM_P_POST_NAT_SRC_HOST);
            fl->have |= H_NATSRC;
        }
        break;
    case 282:
        if (len == 16) {
            pm_ip_set6(&r->post_nat_dst_host, v);
            pm_rec_set(r, PM_P_POST_NAT_DST_HOST);
            fl->have |= H_NATDST;
        }
        break;
    case 227:
    case 40003:
        if (f->id == 227 || !(fl->have & H_NATSP)) {
            SET(r, post_nat_src_port, PM_P_POST_NAT_SRC_PORT, (uint16_t)n);
            fl->have |= H_NATSP;
        }
        break;
    case 228:
    case 40004:
        if (f->id == 228 || !(fl->have & H_NATDP)) {
            SET(r, post_nat_dst_port, PM_P_POST_NAT_DST_PORT, (uint16_t)n);
            fl->have |= H_NATDP;
        }
        break;
    case 230: /* natEvent (NEL) */
        SET(r, nat_event, PM_P_NAT_EVENT, (uint8_t)n);
        break;
    case 233: /* firewallEvent (NSEL NF_F_FW_EVENT) */
        fl->fwev = (uint8_t)n, fl->have |= H_FWEV;
        break;
    case 40005: /* NSEL (old ASA) NF_F_FW_EVENT */
        if (is_v9)
            fl->fwevx = (uint8_t)n, fl->have |= H_FWEVX;
        break;
    default:
        break;
    }
}

static void mpls(struct nf_ctx *c, struct pm_rec *r, const struct nf_flow *fl)
{
    char buf[128];
    size_t blen = 0;
    uint32_t depth = 0;
    for (int i = 0; i < 10; i++) {
        if (!(fl->label_mask & (1u << i)))
            break;
        uint32_t e = fl->labels[i];
        uint32_t label = e >> 4;
        if (depth == 0)
            SET(r, mpls_label_top, PM_P_MPLS_LABEL_TOP, label);
        r->mpls_label_bottom = label;
        depth++;
        int w = snprintf(buf + blen, sizeof(buf) - blen, "%s%u",
                         blen ? "," : "", label);
        if (w > 0 && (size_t)w < sizeof(buf) - blen)
            blen += (size_t)w;
        if (e & 1) /* bottom of stack */
            break;
    }
    if (!depth)
        return;
    pm_rec_set(r, PM_P_MPLS_LABEL_BOTTOM);
    SET(r, mpls_stack_depth, PM_P_MPLS_STACK_DEPTH, depth);
    if (c->b && c->host->batch_str(c->b, buf, blen, &r->mpls_label_stack) == 0)
        pm_rec_set(r, PM_P_MPLS_LABEL_STACK);
}

static void vrf(struct nf_ctx *c, const struct nf_hdr *h, struct pm_rec *r,
                uint32_t id, unsigned prim, pm_sref_t *out)
{
    const char *name = h->src ? nf_src_vrf(h->src, id) : NULL;
    if (!name || !c->b)
        return;
    if (c->host->batch_str(c->b, name, strlen(name), out) == 0)
        pm_rec_set(r, prim);
}

/* Absolute time of a sysUptime-relative value. */
static void uptime_ts(struct nf_ctx *c, const struct nf_hdr *h, uint32_t t,
                      pm_ts_t *ts)
{
    if (h->version == 10) {
        /* relative to systemInitTimeMilliseconds from options data */
        ts_ms(ts, h->src->sysinit_ms + t);
        return;
    }
    /* v9, as nfacctd 1.7.7: export seconds minus the age in seconds */
    uint64_t age = c->cfg->time_secs ? (uint32_t)(h->uptime - t)
                                     : (uint32_t)(h->uptime - t) / 1000u;
    ts->sec = h->unix_secs >= age ? h->unix_secs - age : 0;
    ts->usec = 0;
}

static uint32_t flow_rate(const struct nf_flow *fl)
{
    if ((fl->have & H_SPACE) && fl->rate)
        return (uint32_t)(((uint64_t)fl->rate + fl->space) / fl->rate);
    return fl->rate;
}

/* Custom primitives with a field_type: the field's bytes as they are on
 * the wire.  As nfacctd 1.7.7 does (observed), a primitive is filled only
 * when the field has exactly `len` bytes, whatever its semantics; a field
 * of another length leaves it unset (printed as zero).  The first matching
 * field of the template wins. */
static void custom(struct nf_ctx *c, struct pm_rec *r, const struct nf_tmpl *t,
                   const uint8_t *p, const uint32_t *off, const uint16_t *len)
{
    for (uint32_t k = 0; k < c->ncprims; k++) {
        const struct pm_custom_prim *cp = &c->cprims[k];
        if (!cp->field_type || pm_rec_has(r, cp->id))
            continue;
        for (uint16_t i = 0; i < t->nfields; i++) {
            const struct nf_field *f = &t->f[i];
            uint32_t n = len[i];
            if (f->id != cp->field_type || f->pen != cp->pen || !n)
                continue;
            if (n != cp->len)
                continue;
            memcpy(r->custom + cp->rec_off, p + off[i], n);
            pm_rec_set(r, cp->id);
            break;
        }
    }
}

int nf_ie_record(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                 const uint8_t *p, const uint32_t *off, const uint16_t *len)
{
    struct nf_flow fl;
    memset(&fl, 0, sizeof(fl));
    struct pm_rec *r = nf_rec_new(c, h);
    if (!r)
        return -ENOBUFS;
    for (uint16_t i = 0; i < t->nfields; i++)
        apply(h, r, &fl, &t->f[i], p + off[i], len[i]);
    if (c->ncprims)
        custom(c, r, t, p, off, len);

    r->bytes = (fl.have & H_BYTES)   ? fl.bytes
               : (fl.have & H_TOTB)  ? fl.totb
               : (fl.have & H_POSTB) ? fl.postb
               : (fl.have & H_INITB) ? fl.initb
                                     : 0;
    r->packets = (fl.have & H_PKTS)    ? fl.packets
                 : (fl.have & H_TOTP)  ? fl.totp
                 : (fl.have & H_POSTP) ? fl.postp
                 : (fl.have & H_INITP) ? fl.initp
                                       : 0;
    if ((fl.have & H_FLOWS) && fl.flows)
        r->flows = fl.flows;

    /* times */
    int have_sys = h->version == 9 || (h->src && h->src->has_sysinit);
    if (fl.have & H_START)
        r->ts_start = fl.start;
    else if ((fl.have & H_FIRST) && have_sys)
        uptime_ts(c, h, fl.first_up, &r->ts_start);
    else if (fl.have & H_DSTART) {
        uint64_t us = (uint64_t)h->unix_secs * 1000000u;
        us = us >= fl.dstart_us ? us - fl.dstart_us : 0;
        r->ts_start.sec = us / 1000000u;
        r->ts_start.usec = (uint32_t)(us % 1000000u);
        fl.have |= H_START;
    } else if (fl.have & H_OBS)
        r->ts_start = fl.obs;
    if (fl.have & H_END)
        r->ts_end = fl.end;
    else if ((fl.have & H_LAST) && have_sys)
        uptime_ts(c, h, fl.last_up, &r->ts_end);
    else if (fl.have & H_DEND) {
        uint64_t us = (uint64_t)h->unix_secs * 1000000u;
        us = us >= fl.dend_us ? us - fl.dend_us : 0;
        r->ts_end.sec = us / 1000000u;
        r->ts_end.usec = (uint32_t)(us % 1000000u);
        fl.have |= H_END;
    }
    if (!(fl.have & (H_START | H_FIRST | H_OBS)) ||
        (r->ts_start.sec == 0 && r->ts_start.usec == 0)) {
        /* no flow time: nfacctd 1.7.7 uses the export time */
        r->ts_start.sec = h->unix_secs;
        r->ts_start.usec = 0;
    }
    pm_rec_set(r, PM_P_TIMESTAMP_START);
    if ((fl.have & (H_END | H_LAST)) && (r->ts_end.sec || r->ts_end.usec))
        pm_rec_set(r, PM_P_TIMESTAMP_END);
    else
        memset(&r->ts_end, 0, sizeof(r->ts_end));

    /* sampling */
    uint32_t rate = 0;
    if (fl.have & H_RATE)
        rate = flow_rate(&fl);
    else if (h->src) {
        if (fl.have & H_SAMPLER)
            rate = nf_src_sampler(h->src, fl.sampler_id);
        if (!rate)
            rate = h->src->def_rate;
        if (!rate && h->src->nsamplers == 1)
            rate = h->src->samplers[0].rate;
    }
    SET(r, sampling_rate, PM_P_SAMPLING_RATE, rate);

    if (fl.have & H_BGPNH) {
        r->peer_dst_ip = fl.bgp_nh;
        pm_rec_set(r, PM_P_PEER_DST_IP);
    }
    if (fl.have & H_FWEV)
        SET(r, fw_event, PM_P_FW_EVENT, fl.fwev);
    else if (fl.have & H_FWEVX)
        SET(r, fw_event, PM_P_FW_EVENT, fl.fwevx);
    if (fl.label_mask)
        mpls(c, r, &fl);
    if (fl.have & H_INVRF)
        vrf(c, h, r, fl.in_vrf, PM_P_IN_VRF, &r->in_vrf);
    if (fl.have & H_OUTVRF)
        vrf(c, h, r, fl.out_vrf, PM_P_OUT_VRF, &r->out_vrf);
    nf_rec_done(c, r);
    return 0;
}

void nf_ie_options(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                   const uint8_t *p, const uint32_t *off, const uint16_t *len)
{
    struct nf_flow fl;
    memset(&fl, 0, sizeof(fl));
    for (uint16_t i = 0; i < t->nfields; i++) {
        const struct nf_field *f = &t->f[i];
        /* v9 scope fields use their own type space (1 System, 2 Interface,
         * ...): only options fields are IEs */
        if (h->version == 9 && i < t->nscope)
            continue;
        apply(h, NULL, &fl, f, p + off[i], len[i]);
    }
    struct nf_src *s = h->src;
    if (!s)
        return;
    if (fl.have & H_RATE) {
        if (fl.have & H_SAMPLER)
            nf_src_set_sampler(s, fl.sampler_id, flow_rate(&fl));
        else
            s->def_rate = flow_rate(&fl);
    }
    if ((fl.have & H_VRFNAME) && (fl.have & (H_INVRF | H_OUTVRF)))
        nf_src_set_vrf(s, (fl.have & H_INVRF) ? fl.in_vrf : fl.out_vrf,
                       (const char *)fl.vrfname, fl.vrfname_len);
    if (fl.have & H_SYSINIT) {
        s->sysinit_ms = fl.sysinit_ms;
        s->has_sysinit = 1;
    }
    (void)c;
}
