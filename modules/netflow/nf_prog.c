/*
 * nf_prog.c - NetFlow v9 / IPFIX information elements as operations, and
 * templates compiled into decode programs (see nf_prog.h).
 *
 * nf_ie_op maps an IE (number, enterprise number, length) to an operation
 * once; nf_ie_exec performs it on a record.  The generic path (options
 * records, tests) and the compiled programs share both, so a template
 * decodes the same whichever path reads it.  IE semantics: IANA registry
 * (RFC 7012), v9 field types of RFC 3954 below 128, Cisco ASA NSEL types;
 * reduced-size encoding of unsigned integers (RFC 7011 §6.2) everywhere;
 * addresses and MACs of the wrong size ignored; enterprise-specific
 * elements skipped (custom primitives read them in nf_ie.c).
 *
 * Threads: capture thread only; a program is read-only once built.
 */
#include <errno.h>
#include <string.h>

#include "nf_prog.h"

#define NTP_UNIX_OFFSET 2208988800ull

unsigned nf_ie_op(const struct nf_field *f, uint32_t len, unsigned version)
{
    if (f->pen != 0)
        return NF_OP_SKIP; /* enterprise-specific */
    if (len == 0)
        return NF_OP_SKIP;
    switch (f->id) {
    /* PSAMP interval/space: nfacctd 1.7.7 uses them only when 4 bytes
     * long (softflowd); 2-byte ones (ipfix.dat) leave the flows unsampled
     * there, and so here. */
    case 305: /* samplingPacketInterval */
        return len == 4 ? NF_OP_RATE : NF_OP_SKIP;
    case 34: /* samplingInterval */
    case 50: /* samplerRandomInterval (v9 FLOW_SAMPLER_RANDOM_INTERVAL) */
        return NF_OP_RATE;
    case 306: /* samplingPacketSpace: rate = (interval + space) / interval */
        return len == 4 ? NF_OP_SPACE : NF_OP_SKIP;
    case 48:  /* samplerId (v9 FLOW_SAMPLER_ID) */
    case 302: /* selectorId */
        return NF_OP_SAMPLER;
    case 234:
        return NF_OP_INVRF;
    case 235:
        return NF_OP_OUTVRF;
    case 236:
        return NF_OP_VRFNAME;
    case 160:
        return NF_OP_SYSINIT; /* systemInitTimeMilliseconds */
    case 1:
        return NF_OP_BYTES;
    case 2:
        return NF_OP_PKTS;
    case 3:
        return NF_OP_FLOWS;
    case 85:
        return NF_OP_TOTB;
    case 86:
        return NF_OP_TOTP;
    case 23:
        return NF_OP_POSTB;
    case 24:
        return NF_OP_POSTP;
    case 231:
        return NF_OP_INITB; /* initiatorOctets / NSEL fwd delta */
    case 298:
        return NF_OP_INITP;
    case 4:
        return NF_OP_PROTO;
    case 5:
        return NF_OP_TOS;
    case 6:
        return NF_OP_TCPFLAGS;
    case 7:
        return NF_OP_SRC_PORT;
    case 11:
        return NF_OP_DST_PORT;
    case 8:
        return len == 4 ? NF_OP_SRC4 : NF_OP_SKIP;
    case 12:
        return len == 4 ? NF_OP_DST4 : NF_OP_SKIP;
    case 27:
        return len == 16 ? NF_OP_SRC6 : NF_OP_SKIP;
    case 28:
        return len == 16 ? NF_OP_DST6 : NF_OP_SKIP;
    case 9:
    case 29:
        return NF_OP_SRC_MASK;
    case 13:
    case 30:
        return NF_OP_DST_MASK;
    case 10:
        return NF_OP_IN_IFACE;
    case 14:
        return NF_OP_OUT_IFACE;
    case 252:
        return NF_OP_IN_PHYS;
    case 253:
        return NF_OP_OUT_PHYS;
    case 16:
        return NF_OP_SRC_AS;
    case 17:
        return NF_OP_DST_AS;
    case 128:
        return NF_OP_PEER_DST_AS; /* bgpNextAdjacentAsNumber */
    case 129:
        return NF_OP_PEER_SRC_AS; /* bgpPrevAdjacentAsNumber */
    case 18:
        return len == 4 ? NF_OP_NH4 : NF_OP_SKIP;
    case 63:
        return len == 16 ? NF_OP_NH6 : NF_OP_SKIP;
    case 21:
        return NF_OP_LAST_UP;
    case 22:
        return NF_OP_FIRST_UP;
    case 150:
        return NF_OP_START_S;
    case 151:
        return NF_OP_END_S;
    case 152:
        return NF_OP_START_MS;
    case 153:
        return NF_OP_END_MS;
    case 154:
        return len == 8 ? NF_OP_START_NTP : NF_OP_SKIP;
    case 156:
        return len == 8 ? NF_OP_START_NTP_NS : NF_OP_SKIP;
    case 155:
        return len == 8 ? NF_OP_END_NTP : NF_OP_SKIP;
    case 157:
        return len == 8 ? NF_OP_END_NTP_NS : NF_OP_SKIP;
    case 158:
        return NF_OP_DSTART; /* flowStartDeltaMicroseconds */
    case 159:
        return NF_OP_DEND;
    case 323:
        return NF_OP_OBS; /* observationTimeMilliseconds */
    case 56:
    case 81:
        return len == 6 ? NF_OP_SRC_MAC : NF_OP_SKIP;
    case 80:
    case 57:
        return len == 6 ? NF_OP_DST_MAC : NF_OP_SKIP;
    case 58:
    case 243:
        return NF_OP_VLAN;
    case 59:
    case 254:
        return NF_OP_OUT_VLAN;
    case 245:
        return NF_OP_CVLAN;
    case 61:
        return NF_OP_DIRECTION;
    case 89:
        return NF_OP_FWD_STATUS;
    case 90:
        return len == 8 ? NF_OP_RD : NF_OP_SKIP;
    case 249:
        return NF_OP_PW_ID;
    case 31:
        return NF_OP_FLOW_LABEL;
    case 70:
    case 71:
    case 72:
    case 73:
    case 74:
    case 75:
    case 76:
    case 77:
    case 78:
    case 79:
        return len >= 3 ? NF_OP_LABEL : NF_OP_SKIP;
    case 225:
        return len == 4 ? NF_OP_NATSRC4 : NF_OP_SKIP;
    case 40001:
        return len == 4 ? NF_OP_NATSRC4_OLD : NF_OP_SKIP;
    case 226:
        return len == 4 ? NF_OP_NATDST4 : NF_OP_SKIP;
    case 40002:
        return len == 4 ? NF_OP_NATDST4_OLD : NF_OP_SKIP;
    case 281:
        return len == 16 ? NF_OP_NATSRC6 : NF_OP_SKIP;
    case 282:
        return len == 16 ? NF_OP_NATDST6 : NF_OP_SKIP;
    case 227:
        return NF_OP_NATSP;
    case 40003:
        return NF_OP_NATSP_OLD;
    case 228:
        return NF_OP_NATDP;
    case 40004:
        return NF_OP_NATDP_OLD;
    case 230:
        return NF_OP_NAT_EVENT; /* natEvent (NEL) */
    case 233:
        return NF_OP_FWEV; /* firewallEvent */
    case 40005:            /* NSEL (old ASA) NF_F_FW_EVENT */
        return version == 9 ? NF_OP_FWEVX : NF_OP_SKIP;
    case 315:
        return NF_OP_FRAME; /* dataLinkFrameSection */
    default:
        return NF_OP_SKIP;
    }
}

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

static inline uint64_t rd_uint(const uint8_t *v, uint32_t len)
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

void nf_prog_exec(struct nf_ctx *c, const struct nf_tmpl *t, struct pm_rec *r,
                  struct nf_flow *fl, const uint8_t *p, const uint32_t *off,
                  const uint16_t *len)
{
    const struct nf_prog *pg = t->prog;
    if (pg->fixed && off == pg->off) {
        /* offsets and lengths are the program's: no lookups at all */
        for (uint32_t i = 0; i < pg->nsteps; i++) {
            const struct nf_step *s = &pg->s[i];
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

size_t nf_prog_bytes(uint16_t nfields)
{
    return sizeof(struct nf_prog) + (size_t)nfields * sizeof(struct nf_step) +
           (size_t)nfields * sizeof(uint32_t) +
           (size_t)nfields * sizeof(uint16_t) + 8;
}

struct nf_prog *nf_prog_build(const struct nf_tmpl *t, void *mem)
{
    struct nf_prog *pg = mem;
    uint8_t *tail;
    uint32_t off = 0;
    memset(pg, 0, nf_prog_bytes(t->nfields));
    tail = (uint8_t *)&pg->s[t->nfields];
    pg->off = (uint32_t *)(void *)tail;
    pg->len =
        (uint16_t *)(void *)(tail + (size_t)t->nfields * sizeof(uint32_t));
    pg->nfields = t->nfields;
    pg->fixed = !t->varlen;
    for (uint16_t i = 0; i < t->nfields; i++) {
        const struct nf_field *f = &t->f[i];
        unsigned op = f->len == 65535 && !f->pen
                          ? NF_OP_VAR
                          : nf_ie_op(f, f->len, t->version);
        pg->off[i] = off;
        pg->len[i] = f->len == 65535 ? 0 : f->len;
        if (f->len != 65535)
            off += f->len;
        /* v9 options scope fields use their own type space */
        if (op == NF_OP_SKIP ||
            (t->options && t->version == 9 && i < t->nscope))
            continue;
        pg->s[pg->nsteps].off = pg->off[i];
        pg->s[pg->nsteps].len = pg->len[i];
        pg->s[pg->nsteps].idx = i;
        pg->s[pg->nsteps].id = f->id;
        pg->s[pg->nsteps].op = (uint8_t)op;
        pg->nsteps++;
    }
    pg->reclen = off;
    return pg;
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
