/*
 * decode.c - packet decoder shared by every packet source (pcap, NFLOG,
 * sFlow/IPFIX sampled headers): L2 (Ethernet, Linux SLL/SLL2, raw IP,
 * NULL/LOOP), 802.1Q/QinQ, MPLS, PPPoE, IPv4, IPv6 extension headers,
 * TCP/UDP/UDP-lite/SCTP ports and TCP flags.  Never reads past caplen.
 *
 * Differences from pmacct 1.7.7, documented here:
 *  - non-first fragments carry no ports (pmacctd's fragment table that
 *    copies ports from the first fragment is not implemented);
 *  - 802.1ad (0x88a8) and 0x9100 outer tags are accepted (pmacct skips the
 *    frame); the outer tag is `vlan` (as pmacct with 0x8100/0x8100), the
 *    next one `cvlan`;
 *  - PPPoE sessions and IPv6 under MPLS are decoded (pmacct skips them);
 *  - MPLS labels are reported (pmacctd leaves mpls_label_* at 0);
 *    mpls_label_stack is not filled here (it needs a batch arena);
 *  - like pmacct, only TCP and UDP have ports; ICMP, SCTP etc. report 0.
 * Pure function; nothing shared.
 */
#include <stdint.h>
#include <string.h>

#include "pmdata.h"

#define ET_IPV4 0x0800
#define ET_IPV6 0x86dd
#define ET_VLAN 0x8100
#define ET_QINQ 0x88a8
#define ET_QINQ_OLD 0x9100
#define ET_MPLS 0x8847
#define ET_MPLS_MC 0x8848
#define ET_PPPOE 0x8864

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

/* Decode L4 at off for protocol proto. */
static int decode_l4(struct pm_rec *r, const uint8_t *pkt, uint32_t caplen,
                     uint32_t off, uint8_t proto)
{
    const uint8_t *p = pkt + off;
    uint32_t avail = caplen - off;

    switch (proto) {
    case 6: /* TCP */
        if (off > 0xfffe)
            return PM_DEC_TRUNCATED;
        r->l4_off = (uint16_t)off;
        if (avail < 4)
            return PM_DEC_TRUNCATED;
        r->src_port = rd16(p);
        r->dst_port = rd16(p + 2);
        pm_rec_set(r, PM_P_SRC_PORT);
        pm_rec_set(r, PM_P_DST_PORT);
        if (avail < 14)
            return PM_DEC_TRUNCATED;
        r->tcpflags |= p[13];
        pm_rec_set(r, PM_P_TCPFLAGS);
        {
            uint32_t doff = (uint32_t)(p[12] >> 4) * 4;
            if (doff < 20)
                return PM_DEC_BAD;
            if (off + doff <= caplen && off + doff <= 0xfffe)
                r->payload_off = (uint16_t)(off + doff);
            else
                return PM_DEC_TRUNCATED;
        }
        return PM_DEC_OK;
    case 17:  /* UDP */
    case 132: /* SCTP: ports in the common header, as UDP's */
    case 136: /* UDP-Lite */
        if (off > 0xfffe)
            return PM_DEC_TRUNCATED;
        r->l4_off = (uint16_t)off;
        if (avail < 4)
            return PM_DEC_TRUNCATED;
        r->src_port = rd16(p);
        r->dst_port = rd16(p + 2);
        pm_rec_set(r, PM_P_SRC_PORT);
        pm_rec_set(r, PM_P_DST_PORT);
        {
            /* SCTP's common header is 12 bytes, UDP's and UDP-Lite's 8;
             * pmacct 1.7.7 reports SCTP and UDP-Lite ports as 0
             * (docs/DIFFERENCES.md) */
            uint32_t hl = proto == 132 ? 12 : 8;
            if (avail < hl)
                return PM_DEC_TRUNCATED;
            if (off + hl <= 0xfffe)
                r->payload_off = (uint16_t)(off + hl);
        }
        return PM_DEC_OK;
    default:
        /* ICMP and the rest: pmacct 1.7.7 reports ports 0, so do we */
        if (off <= 0xfffe && off <= caplen) {
            r->l4_off = (uint16_t)off;
        }
        pm_rec_set(r, PM_P_SRC_PORT);
        pm_rec_set(r, PM_P_DST_PORT);
        return PM_DEC_OK;
    }
}

static int decode_ipv4(struct pm_rec *r, const uint8_t *pkt, uint32_t caplen,
                       uint32_t off)
{
    const uint8_t *p = pkt + off;
    uint32_t avail = caplen - off, ihl;
    uint16_t frag;

    if (avail < 20)
        return PM_DEC_TRUNCATED;
    if ((p[0] >> 4) != 4)
        return PM_DEC_BAD;
    ihl = (uint32_t)(p[0] & 0x0f) * 4;
    if (ihl < 20)
        return PM_DEC_BAD;
    if (off > 0xfffe)
        return PM_DEC_TRUNCATED;
    r->l3_off = (uint16_t)off;
    r->etype = ET_IPV4;
    pm_rec_set(r, PM_P_ETYPE);
    r->bytes = rd16(p + 2);
    r->packets = 1;
    r->tos = p[1];
    r->proto = p[9];
    pm_ip_set4(&r->src_host, p + 12);
    pm_ip_set4(&r->dst_host, p + 16);
    pm_rec_set(r, PM_P_TOS);
    pm_rec_set(r, PM_P_PROTO);
    pm_rec_set(r, PM_P_SRC_HOST);
    pm_rec_set(r, PM_P_DST_HOST);
    frag = rd16(p + 6);
    if (frag & 0x1fff) {
        r->flags |= PM_RF_FRAGMENT;
        return PM_DEC_OK;
    }
    if (avail < ihl)
        return PM_DEC_TRUNCATED;
    return decode_l4(r, pkt, caplen, off + ihl, r->proto);
}

static int decode_ipv6(struct pm_rec *r, const uint8_t *pkt, uint32_t caplen,
                       uint32_t off)
{
    const uint8_t *p = pkt + off;
    uint32_t avail = caplen - off, cur;
    uint8_t nh;
    int i;

    if (avail < 40)
        return PM_DEC_TRUNCATED;
    if ((p[0] >> 4) != 6)
        return PM_DEC_BAD;
    if (off > 0xfffe)
        return PM_DEC_TRUNCATED;
    r->l3_off = (uint16_t)off;
    r->flags |= PM_RF_IPV6;
    r->etype = ET_IPV6;
    pm_rec_set(r, PM_P_ETYPE);
    r->bytes = (uint64_t)rd16(p + 4) + 40;
    r->packets = 1;
    r->tos = (uint8_t)(((p[0] & 0x0f) << 4) | (p[1] >> 4));
    r->flow_label = rd32(p) & 0xfffff;
    pm_ip_set6(&r->src_host, p + 8);
    pm_ip_set6(&r->dst_host, p + 24);
    pm_rec_set(r, PM_P_TOS);
    pm_rec_set(r, PM_P_FLOW_LABEL);
    pm_rec_set(r, PM_P_SRC_HOST);
    pm_rec_set(r, PM_P_DST_HOST);
    nh = p[6];
    cur = off + 40;
    for (i = 0; i < 16; i++) {
        const uint8_t *h = pkt + cur;
        uint32_t hl;
        if (nh != 0 && nh != 43 && nh != 44 && nh != 60 && nh != 51)
            break;
        if (caplen - cur < 8) {
            r->proto = nh;
            pm_rec_set(r, PM_P_PROTO);
            return PM_DEC_TRUNCATED;
        }
        if (nh == 44) {
            uint16_t fo = rd16(h + 2);
            nh = h[0];
            if (fo & 0xfff8) {
                r->flags |= PM_RF_FRAGMENT;
                r->proto = nh;
                pm_rec_set(r, PM_P_PROTO);
                return PM_DEC_OK;
            }
            hl = 8;
        } else if (nh == 51) {
            hl = ((uint32_t)h[1] + 2) * 4;
            nh = h[0];
        } else {
            hl = ((uint32_t)h[1] + 1) * 8;
            nh = h[0];
        }
        if (hl > caplen - cur) {
            r->proto = nh;
            pm_rec_set(r, PM_P_PROTO);
            return PM_DEC_TRUNCATED;
        }
        cur += hl;
    }
    r->proto = nh;
    pm_rec_set(r, PM_P_PROTO);
    if (nh == 59) /* no next header */
        return PM_DEC_OK;
    return decode_l4(r, pkt, caplen, cur, nh);
}

/* IP by version nibble at off. */
static int decode_ip(struct pm_rec *r, const uint8_t *pkt, uint32_t caplen,
                     uint32_t off)
{
    if (off >= caplen)
        return PM_DEC_TRUNCATED;
    switch (pkt[off] >> 4) {
    case 4:
        return decode_ipv4(r, pkt, caplen, off);
    case 6:
        return decode_ipv6(r, pkt, caplen, off);
    default:
        return PM_DEC_NOT_IP;
    }
}

static int decode_mpls(struct pm_rec *r, const uint8_t *pkt, uint32_t caplen,
                       uint32_t off)
{
    uint32_t depth = 0;
    for (;;) {
        uint32_t e, label;
        if (off > caplen || caplen - off < 4)
            return PM_DEC_TRUNCATED;
        e = rd32(pkt + off);
        label = e >> 12;
        if (depth == 0) {
            r->mpls_label_top = label;
            pm_rec_set(r, PM_P_MPLS_LABEL_TOP);
        }
        depth++;
        off += 4;
        if (e & 0x100) {
            r->mpls_label_bottom = label;
            r->mpls_stack_depth = depth;
            pm_rec_set(r, PM_P_MPLS_LABEL_BOTTOM);
            pm_rec_set(r, PM_P_MPLS_STACK_DEPTH);
            break;
        }
        if (depth >= 64)
            return PM_DEC_BAD;
    }
    return decode_ip(r, pkt, caplen, off);
}

/* Walk ethertypes from off. */
static int decode_ethertype(struct pm_rec *r, const uint8_t *pkt,
                            uint32_t caplen, uint32_t off, uint16_t et)
{
    int tags = 0;
    for (;;) {
        switch (et) {
        case ET_VLAN:
        case ET_QINQ:
        case ET_QINQ_OLD: {
            uint16_t tci;
            if (off > caplen || caplen - off < 4)
                return PM_DEC_TRUNCATED;
            tci = rd16(pkt + off);
            if (tags == 0) {
                r->vlan = tci & 0x0fff;
                r->cos = (uint8_t)(tci >> 13);
                pm_rec_set(r, PM_P_VLAN);
                pm_rec_set(r, PM_P_COS);
            } else if (tags == 1) {
                r->cvlan = tci & 0x0fff;
                pm_rec_set(r, PM_P_CVLAN);
            }
            tags++;
            if (tags > 8)
                return PM_DEC_BAD;
            et = rd16(pkt + off + 2);
            off += 4;
            continue;
        }
        case ET_MPLS:
        case ET_MPLS_MC:
            return decode_mpls(r, pkt, caplen, off);
        case ET_PPPOE: {
            uint16_t pp;
            if (off > caplen || caplen - off < 8)
                return PM_DEC_TRUNCATED;
            pp = rd16(pkt + off + 6);
            off += 8;
            if (pp == 0x0021)
                return decode_ipv4(r, pkt, caplen, off);
            if (pp == 0x0057)
                return decode_ipv6(r, pkt, caplen, off);
            r->etype = et;
            pm_rec_set(r, PM_P_ETYPE);
            return PM_DEC_NOT_IP;
        }
        case ET_IPV4:
            return decode_ipv4(r, pkt, caplen, off);
        case ET_IPV6:
            return decode_ipv6(r, pkt, caplen, off);
        default:
            if (et < 0x0600) {
                /* 802.3 length: LLC/SNAP */
                if (off <= caplen && caplen - off >= 8 && pkt[off] == 0xaa &&
                    pkt[off + 1] == 0xaa && pkt[off + 2] == 0x03) {
                    et = rd16(pkt + off + 6);
                    off += 8;
                    if (et >= 0x0600)
                        continue;
                }
            }
            r->etype = et;
            pm_rec_set(r, PM_P_ETYPE);
            return PM_DEC_NOT_IP;
        }
    }
}

int pmc_decode_packet(struct pm_rec *r, int dlt, const uint8_t *pkt,
                      uint32_t caplen, uint32_t len, uint32_t flags)
{
    int rc;
    (void)flags;
    (void)len;

    r->dlt = (uint16_t)dlt;
    r->packets = 1;
    if (!pkt)
        caplen = 0;
    switch (dlt) {
    case PM_DLT_EN10MB:
        if (caplen < 14) {
            rc = PM_DEC_TRUNCATED;
            break;
        }
        memcpy(r->dst_mac, pkt, 6);
        memcpy(r->src_mac, pkt + 6, 6);
        pm_rec_set(r, PM_P_SRC_MAC);
        pm_rec_set(r, PM_P_DST_MAC);
        rc = decode_ethertype(r, pkt, caplen, 14, rd16(pkt + 12));
        break;
    case PM_DLT_LINUX_SLL:
        if (caplen < 16) {
            rc = PM_DEC_TRUNCATED;
            break;
        }
        if (rd16(pkt + 2) == 1 && rd16(pkt + 4) == 6) {
            memcpy(r->src_mac, pkt + 6, 6);
            pm_rec_set(r, PM_P_SRC_MAC);
        }
        rc = decode_ethertype(r, pkt, caplen, 16, rd16(pkt + 14));
        break;
    case PM_DLT_LINUX_SLL2:
        if (caplen < 20) {
            rc = PM_DEC_TRUNCATED;
            break;
        }
        if (rd16(pkt + 8) == 1 && pkt[11] == 6) {
            memcpy(r->src_mac, pkt + 12, 6);
            pm_rec_set(r, PM_P_SRC_MAC);
        }
        rc = decode_ethertype(r, pkt, caplen, 20, rd16(pkt));
        break;
    case PM_DLT_NULL:
    case PM_DLT_LOOP: {
        uint32_t fam, fam_sw;
        if (caplen < 4) {
            rc = PM_DEC_TRUNCATED;
            break;
        }
        fam = rd32(pkt);
        fam_sw = ((fam & 0xff) << 24) | ((fam & 0xff00) << 8) |
                 ((fam >> 8) & 0xff00) | (fam >> 24);
        if (fam > 0xffff)
            fam = fam_sw; /* other byte order */
        if (fam == 2)
            rc = decode_ipv4(r, pkt, caplen, 4);
        else if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
            rc = decode_ipv6(r, pkt, caplen, 4);
        else
            rc = PM_DEC_NOT_IP;
        break;
    }
    case PM_DLT_RAW:
    case 14:
    case 101:
        rc = decode_ip(r, pkt, caplen, 0);
        break;
    case PM_DLT_IPV4:
        rc = decode_ipv4(r, pkt, caplen, 0);
        break;
    case PM_DLT_IPV6:
        rc = decode_ipv6(r, pkt, caplen, 0);
        break;
    default:
        rc = PM_DEC_UNKNOWN_DLT;
        break;
    }
    if (rc == PM_DEC_TRUNCATED)
        r->flags |= PM_RF_TRUNCATED;
    return rc;
}
