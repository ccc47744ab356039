/*
 * nf_prog.c - running the operations of NetFlow v9 / IPFIX information
 * elements (see nf_prog.h; nf_build.c maps IEs to operations and compiles
 * templates).
 *
 * nf_ie_exec performs one operation on a record; nf_prog_exec runs a
 * template's compiled program (fast slots, then the other steps).  The
 * generic path (options records, tests) and the compiled programs share
 * the operations, so a template decodes the same whichever path reads it.
 *
 * Threads: capture thread only; a program is read-only once built.
 */
#include <errno.h>
#include <string.h>

#include "nf_prog.h"

#define NTP_UNIX_OFFSET 2208988800ull

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

static int zero_bytes(const uint8_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i])
            return 0;
    return 1;
}

static int ip_zero(const pm_ip_t *ip)
{
    return zero_bytes(ip->a, 16);
}

/* Templates carrying both IPv4 and IPv6 addresses (one family left zero):
 * the non-zero family wins whatever the field order, as nfacctd 1.7.7
 * reports them.  A zero IPv4 address does not replace an IPv6 one already
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

/* dataLinkFrameSection (IE 315): the first bytes of a sampled Ethernet
 * frame, decoded by the core's packet decoder like sFlow's sampled
 * headers.  Counters come from the record's counter IEs when it has them,
 * else one packet of the IP length the header gives (frame_bytes). */
static void frame(struct nf_ctx *c, struct pm_rec *r, struct nf_flow *fl,
                  const uint8_t *v, uint32_t len)
{
    uint64_t pk = r->packets, by = r->bytes;
    c->host->decode_packet(r, PM_DLT_EN10MB, v, len, len, PM_DECF_NONE);
    fl->frame_bytes = r->bytes ? r->bytes : len;
    fl->have |= H_FRAME;
    r->packets = pk;
    r->bytes = by;
    /* offsets into a frame that is not kept */
    r->l3_off = r->l4_off = r->payload_off = 0xffff;
    r->dlt = 0;
}

static inline __attribute__((always_inline)) uint64_t
rd_fast(const uint8_t *v, uint32_t len)
{
    switch (len) {
    case 1:
        return v[0];
    case 2:
        return nf_rd16(v);
    case 4:
        return nf_rd32(v);
    case 8:
        return (uint64_t)nf_rd32(v) << 32 | nf_rd32(v + 4);
    default:
        return len <= 8 ? nf_rdn(v, len) : 0;
    }
}

/* The same, out of line: the many operations of exec_op share one copy. */
static inline uint64_t rd_uint(const uint8_t *v, uint32_t len)
{
    return rd_fast(v, len);
}

#define SET(r, field, id, val)                                                 \
    do {                                                                       \
        (r)->field = (val);                                                    \
        pm_rec_set((r), (id));                                                 \
    } while (0)

/* The value as an unsigned integer, read only by the operations that
 * use it. */
#define N rd_uint(v, len)
static inline __attribute__((always_inline)) void
exec_op(struct nf_ctx *c, struct pm_rec *r, struct nf_flow *fl, unsigned op,
        unsigned id, const uint8_t *v, uint32_t len)
{
    switch (op) {
    case NF_OP_RATE:
        fl->rate = (uint32_t)N, fl->have |= H_RATE;
        break;
    case NF_OP_SPACE:
        fl->space = (uint32_t)N, fl->have |= H_SPACE;
        break;
    case NF_OP_SAMPLER:
        fl->sampler_id = (uint32_t)N, fl->have |= H_SAMPLER;
        break;
    case NF_OP_INVRF:
        fl->in_vrf = (uint32_t)N, fl->have |= H_INVRF;
        break;
    case NF_OP_OUTVRF:
        fl->out_vrf = (uint32_t)N, fl->have |= H_OUTVRF;
        break;
    case NF_OP_VRFNAME:
        fl->vrfname = v;
        fl->vrfname_len = (uint16_t)len;
        fl->have |= H_VRFNAME;
        break;
    case NF_OP_SYSINIT:
        fl->sysinit_ms = N, fl->have |= H_SYSINIT;
        break;
    case NF_OP_BYTES:
        fl->bytes = N, fl->have |= H_BYTES;
        break;
    case NF_OP_PKTS:
        fl->packets = N, fl->have |= H_PKTS;
        break;
    case NF_OP_FLOWS:
        fl->flows = N, fl->have |= H_FLOWS;
        break;
    case NF_OP_TOTB:
        fl->totb = N, fl->have |= H_TOTB;
        break;
    case NF_OP_TOTP:
        fl->totp = N, fl->have |= H_TOTP;
        break;
    case NF_OP_POSTB:
        fl->postb = N, fl->have |= H_POSTB;
        break;
    case NF_OP_POSTP:
        fl->postp = N, fl->have |= H_POSTP;
        break;
    case NF_OP_INITB:
        fl->initb = N, fl->have |= H_INITB;
        break;
    case NF_OP_INITP:
        fl->initp = N, fl->have |= H_INITP;
        break;
    case NF_OP_PROTO:
        SET(r, proto, PM_P_PROTO, (uint8_t)N);
        break;
    case NF_OP_TOS:
        SET(r, tos, PM_P_TOS, (uint8_t)N);
        break;
    case NF_OP_TCPFLAGS:
        SET(r, tcpflags, PM_P_TCPFLAGS, (uint8_t)N);
        break;
    case NF_OP_SRC_PORT:
        SET(r, src_port, PM_P_SRC_PORT, (uint16_t)N);
        break;
    case NF_OP_DST_PORT:
        SET(r, dst_port, PM_P_DST_PORT, (uint16_t)N);
        break;
    case NF_OP_SRC4:
        host4(r, &r->src_host, PM_P_SRC_HOST, &r->dst_host, v);
        break;
    case NF_OP_DST4:
        host4(r, &r->dst_host, PM_P_DST_HOST, &r->src_host, v);
        break;
    case NF_OP_SRC6:
        host6(r, &r->src_host, PM_P_SRC_HOST, v);
        break;
    case NF_OP_DST6:
        host6(r, &r->dst_host, PM_P_DST_HOST, v);
        break;
    case NF_OP_SRC_MASK:
        SET(r, src_mask, PM_P_SRC_MASK, (uint8_t)N);
        break;
    case NF_OP_DST_MASK:
        SET(r, dst_mask, PM_P_DST_MASK, (uint8_t)N);
        break;
    case NF_OP_IN_IFACE:
        SET(r, in_iface, PM_P_IN_IFACE, (uint32_t)N);
        break;
    case NF_OP_OUT_IFACE:
        SET(r, out_iface, PM_P_OUT_IFACE, (uint32_t)N);
        break;
    /* ingress/egressPhysicalInterface: in_iface/out_iface when the
     * template has no ingress/egressInterface (10/14), as nfacctd 1.7.7
     * (akvorado physicalinterfaces.pcap) */
    case NF_OP_IN_PHYS:
        if (!pm_rec_has(r, PM_P_IN_IFACE))
            SET(r, in_iface, PM_P_IN_IFACE, (uint32_t)N);
        break;
    case NF_OP_OUT_PHYS:
        if (!pm_rec_has(r, PM_P_OUT_IFACE))
            SET(r, out_iface, PM_P_OUT_IFACE, (uint32_t)N);
        break;
    case NF_OP_SRC_AS:
        SET(r, src_as, PM_P_SRC_AS, (uint32_t)N);
        break;
    case NF_OP_DST_AS:
        SET(r, dst_as, PM_P_DST_AS, (uint32_t)N);
        break;
    case NF_OP_PEER_DST_AS:
        SET(r, peer_dst_as, PM_P_PEER_DST_AS, (uint32_t)N);
        break;
    case NF_OP_PEER_SRC_AS:
        SET(r, peer_src_as, PM_P_PEER_SRC_AS, (uint32_t)N);
        break;
    case NF_OP_NH4:
        pm_ip_set4(&fl->bgp_nh, v);
        fl->have |= H_BGPNH;
        break;
    case NF_OP_NH6:
        pm_ip_set6(&fl->bgp_nh, v);
        fl->have |= H_BGPNH;
        break;
    case NF_OP_LAST_UP:
        fl->last_up = (uint32_t)N, fl->have |= H_LAST;
        break;
    case NF_OP_FIRST_UP:
        fl->first_up = (uint32_t)N, fl->have |= H_FIRST;
        break;
    case NF_OP_START_S:
        fl->start.sec = N, fl->start.usec = 0, fl->have |= H_START;
        break;
    case NF_OP_END_S:
        fl->end.sec = N, fl->end.usec = 0, fl->have |= H_END;
        break;
    case NF_OP_START_MS:
        ts_ms(&fl->start, N), fl->have |= H_START;
        break;
    case NF_OP_END_MS:
        ts_ms(&fl->end, N), fl->have |= H_END;
        break;
    case NF_OP_START_NTP:
    case NF_OP_START_NTP_NS:
        ts_ntp(&fl->start, N, op == NF_OP_START_NTP_NS), fl->have |= H_START;
        break;
    case NF_OP_END_NTP:
    case NF_OP_END_NTP_NS:
        ts_ntp(&fl->end, N, op == NF_OP_END_NTP_NS), fl->have |= H_END;
        break;
    case NF_OP_DSTART:
        fl->dstart_us = (uint32_t)N, fl->have |= H_DSTART;
        break;
    case NF_OP_DEND:
        fl->dend_us = (uint32_t)N, fl->have |= H_DEND;
        break;
    case NF_OP_OBS:
        ts_ms(&fl->obs, N), fl->have |= H_OBS;
        break;
    case NF_OP_SRC_MAC:
        if (!pm_rec_has(r, PM_P_SRC_MAC)) {
            memcpy(r->src_mac, v, 6);
            pm_rec_set(r, PM_P_SRC_MAC);
        }
        break;
    case NF_OP_DST_MAC:
        if (!pm_rec_has(r, PM_P_DST_MAC)) {
            memcpy(r->dst_mac, v, 6);
            pm_rec_set(r, PM_P_DST_MAC);
        }
        break;
    case NF_OP_VLAN:
        SET(r, vlan, PM_P_VLAN, (uint16_t)(N & 0xfff));
        break;
    case NF_OP_OUT_VLAN:
        SET(r, out_vlan, PM_P_OUT_VLAN, (uint16_t)(N & 0xfff));
        break;
    case NF_OP_CVLAN:
        SET(r, cvlan, PM_P_CVLAN, (uint16_t)(N & 0xfff));
        break;
    case NF_OP_DIRECTION:
        SET(r, direction, PM_P_DIRECTION, (uint8_t)N);
        break;
    case NF_OP_FWD_STATUS:
        SET(r, fwd_status, PM_P_FWD_STATUS, (uint8_t)N);
        break;
    case NF_OP_RD:
        memcpy(r->mpls_vpn_rd, v, 8);
        pm_rec_set(r, PM_P_MPLS_VPN_RD);
        break;
    case NF_OP_PW_ID:
        SET(r, mpls_pw_id, PM_P_MPLS_PW_ID, (uint32_t)N);
        break;
    case NF_OP_FLOW_LABEL:
        SET(r, flow_label, PM_P_FLOW_LABEL, (uint32_t)(N & 0xfffff));
        break;
    case NF_OP_LABEL:
        fl->labels[id - 70] = (uint32_t)nf_rdn(v, 3);
        fl->label_mask |= (uint16_t)(1u << (id - 70));
        break;
    case NF_OP_NATSRC4_OLD:
        if (fl->have & H_NATSRC)
            break;
        /* fall through */
    case NF_OP_NATSRC4:
        pm_ip_set4(&r->post_nat_src_host, v);
        pm_rec_set(r, PM_P_POST_NAT_SRC_HOST);
        fl->have |= H_NATSRC;
        break;
    case NF_OP_NATDST4_OLD:
        if (fl->have & H_NATDST)
            break;
        /* fall through */
    case NF_OP_NATDST4:
        pm_ip_set4(&r->post_nat_dst_host, v);
        pm_rec_set(r, PM_P_POST_NAT_DST_HOST);
        fl->have |= H_NATDST;
        break;
    case NF_OP_NATSRC6:
        pm_ip_set6(&r->post_nat_src_host, v);
        pm_rec_set(r, PM_P_POST_NAT_SRC_HOST);
        fl->have |= H_NATSRC;
        break;
    case NF_OP_NATDST6:
        pm_ip_set6(&r->post_nat_dst_host, v);
        pm_rec_set(r, PM_P_POST_NAT_DST_HOST);
        fl->have |= H_NATDST;
        break;
    case NF_OP_NATSP_OLD:
        if (fl->have & H_NATSP)
            break;
        /* fall through */
    case NF_OP_NATSP:
        SET(r, post_nat_src_port, PM_P_POST_NAT_SRC_PORT, (uint16_t)N);
        fl->have |= H_NATSP;
        break;
    case NF_OP_NATDP_OLD:
        if (fl->have & H_NATDP)
            break;
        /* fall through */
    case NF_OP_NATDP:
        SET(r, post_nat_dst_port, PM_P_POST_NAT_DST_PORT, (uint16_t)N);
        fl->have |= H_NATDP;
        break;
    case NF_OP_NAT_EVENT:
        SET(r, nat_event, PM_P_NAT_EVENT, (uint8_t)N);
        break;
    case NF_OP_FWEV:
        fl->fwev = (uint8_t)N, fl->have |= H_FWEV;
        break;
    case NF_OP_FWEVX:
        fl->fwevx = (uint8_t)N, fl->have |= H_FWEVX;
        break;
    case NF_OP_FRAME:
        frame(c, r, fl, v, len);
        break;
    default:
        break;
    }
}

#undef N

void nf_ie_exec(struct nf_ctx *c, struct pm_rec *r, struct nf_flow *fl,
                unsigned op, unsigned id, const uint8_t *v, uint32_t len)
{
    if (op >= NF_OP_RECORD && !r)
        return;
    exec_op(c, r, fl, op, id, v, len);
}

/* The fast slots of a fixed template (see nf_prog.h): the same effects as
 * the operations in exec_op, for state nothing else in the template
 * touches. */
static inline __attribute__((always_inline)) void
exec_fast(const struct nf_prog *pg, struct pm_rec *r, struct nf_flow *fl,
          const uint8_t *p)
{
    const uint32_t m = pg->fastmask;
#define ON(k) (m & (1u << (k)))
#define V(k) (p + pg->foff[k])
#define U(k) rd_fast(V(k), pg->flen[k])
    if (ON(NFF_SRC4)) {
        pm_ip_set4(&r->src_host, V(NFF_SRC4));
        pm_rec_set(r, PM_P_SRC_HOST);
    }
    if (ON(NFF_DST4)) {
        pm_ip_set4(&r->dst_host, V(NFF_DST4));
        pm_rec_set(r, PM_P_DST_HOST);
    }
    if (ON(NFF_SRC6)) {
        pm_ip_set6(&r->src_host, V(NFF_SRC6));
        pm_rec_set(r, PM_P_SRC_HOST);
        r->flags |= PM_RF_IPV6;
    }
    if (ON(NFF_DST6)) {
        pm_ip_set6(&r->dst_host, V(NFF_DST6));
        pm_rec_set(r, PM_P_DST_HOST);
        r->flags |= PM_RF_IPV6;
    }
    if (ON(NFF_BYTES))
        fl->bytes = U(NFF_BYTES), fl->have |= H_BYTES;
    if (ON(NFF_PKTS))
        fl->packets = U(NFF_PKTS), fl->have |= H_PKTS;
    if (ON(NFF_PROTO))
        SET(r, proto, PM_P_PROTO, (uint8_t)U(NFF_PROTO));
    if (ON(NFF_TOS))
        SET(r, tos, PM_P_TOS, (uint8_t)U(NFF_TOS));
    if (ON(NFF_TCPFLAGS))
        SET(r, tcpflags, PM_P_TCPFLAGS, (uint8_t)U(NFF_TCPFLAGS));
    if (ON(NFF_SPORT))
        SET(r, src_port, PM_P_SRC_PORT, (uint16_t)U(NFF_SPORT));
    if (ON(NFF_DPORT))
        SET(r, dst_port, PM_P_DST_PORT, (uint16_t)U(NFF_DPORT));
    if (ON(NFF_SMASK))
        SET(r, src_mask, PM_P_SRC_MASK, (uint8_t)U(NFF_SMASK));
    if (ON(NFF_DMASK))
        SET(r, dst_mask, PM_P_DST_MASK, (uint8_t)U(NFF_DMASK));
    if (ON(NFF_IN))
        SET(r, in_iface, PM_P_IN_IFACE, (uint32_t)U(NFF_IN));
    if (ON(NFF_OUT))
        SET(r, out_iface, PM_P_OUT_IFACE, (uint32_t)U(NFF_OUT));
    if (ON(NFF_SAS))
        SET(r, src_as, PM_P_SRC_AS, (uint32_t)U(NFF_SAS));
    if (ON(NFF_DAS))
        SET(r, dst_as, PM_P_DST_AS, (uint32_t)U(NFF_DAS));
    if (ON(NFF_FIRST))
        fl->first_up = (uint32_t)U(NFF_FIRST), fl->have |= H_FIRST;
    if (ON(NFF_LAST))
        fl->last_up = (uint32_t)U(NFF_LAST), fl->have |= H_LAST;
    if (ON(NFF_START_MS))
        ts_ms(&fl->start, U(NFF_START_MS)), fl->have |= H_START;
    if (ON(NFF_END_MS))
        ts_ms(&fl->end, U(NFF_END_MS)), fl->have |= H_END;
    if (ON(NFF_START_S))
        fl->start.sec = U(NFF_START_S), fl->start.usec = 0,
        fl->have |= H_START;
    if (ON(NFF_END_S))
        fl->end.sec = U(NFF_END_S), fl->end.usec = 0, fl->have |= H_END;
    if (ON(NFF_DIRECTION))
        SET(r, direction, PM_P_DIRECTION, (uint8_t)U(NFF_DIRECTION));
#undef ON
#undef V
#undef U
}

void nf_prog_exec(struct nf_ctx *c, const struct nf_tmpl *t, struct pm_rec *r,
                  struct nf_flow *fl, const uint8_t *p, const uint32_t *off,
                  const uint16_t *len)
{
    const struct nf_prog *pg = t->prog;
    if (pg->fixed && off == pg->off) {
        /* offsets and lengths are the program's: no lookups at all */
        if (pg->fastmask)
            exec_fast(pg, r, fl, p);
        for (uint32_t i = 0; i < pg->nrest; i++) {
            const struct nf_step *s = &pg->rest[i];
            exec_op(c, r, fl, s->op, s->id, p + s->off, s->len);
        }
        return;
    }
    for (uint32_t i = 0; i < pg->nsteps; i++) {
        const struct nf_step *s = &pg->s[i];
        uint32_t l = len[s->idx];
        unsigned op = s->op;
        if (op == NF_OP_VAR)
            op = nf_ie_op(&t->f[s->idx], l, t->version);
        if (op != NF_OP_SKIP && l)
            exec_op(c, r, fl, op, s->id, p + off[s->idx], l);
    }
}

int nf_prog_run(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                const uint8_t *p, uint32_t len)
{
    const struct nf_prog *pg = t->prog;
    uint32_t pos = 0, reclen = pg->reclen;
    int n = 0;
    if (!reclen)
        return 0;
    for (; len - pos >= reclen; pos += reclen, n++)
        nf_ie_record(c, h, t, p + pos, pg->off, pg->len);
    return n;
}
