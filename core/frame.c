/*
 * frame.c - the inverse of decode.c (libpmdata): a minimal Ethernet
 * [+802.1Q] + IPv4/IPv6 + TCP/UDP/UDP-Lite/SCTP/ICMP frame built from a
 * record's fields, for records that carry no packet bytes (NetFlow, IPFIX,
 * sFlow without a sampled header), so that BPF filters (aggregate_filter,
 * pre_tag_map's filter) work on flows as they do on packets.  Pure; any
 * thread.
 */
#include <string.h>

#include "pmdata.h"

static inline uint8_t *put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

/*
 * Build an Ethernet frame from a record's fields into buf (at least
 * PM_RECORD_FRAME_MAX bytes).  Returns its length; *wirelen gets the length to present as the
 * frame's length on the wire (average packet size when known).
 */
uint32_t pmc_record_frame(const struct pm_rec *r, uint8_t *buf,
                          uint32_t *wirelen)
{
    uint8_t *p = buf, *l3, *l4;
    int af = r->src_host.af ? r->src_host.af : r->dst_host.af;
    uint32_t l4len = 0, iplen, avg = 0;
    /* unset fields are zero (pm_record.h): no presence checks needed */
    uint16_t sport = r->src_port, dport = r->dst_port;

    memcpy(p, r->dst_mac, 6);
    memcpy(p + 6, r->src_mac, 6);
    p += 12;
    if (r->vlan) {
        p = put16(p, 0x8100);
        p = put16(p, (uint16_t)(((r->cos & 7) << 13) | (r->vlan & 0x0fff)));
    }
    if (!af && pm_rec_has(r, PM_P_ETYPE) && r->etype != 0x0800 &&
        r->etype != 0x86dd) {
        p = put16(p, r->etype); /* L2 only */
        memset(p, 0, 46);
        p += 46;
        *wirelen = (uint32_t)(p - buf);
        return *wirelen;
    }
    if (af != 6)
        af = 4;
    p = put16(p, af == 6 ? 0x86dd : 0x0800);
    l3 = p;
    l4 = l3 + (af == 6 ? 40 : 20);
    memset(l3, 0, (size_t)(l4 - l3) + 20);
    switch (r->proto) {
    case 6: /* TCP */
        put16(l4, sport);
        put16(l4 + 2, dport);
        l4[12] = 5 << 4;
        l4[13] = r->tcpflags;
        l4len = 20;
        break;
    case 17:  /* UDP */
    case 136: /* UDP-Lite */
        put16(l4, sport);
        put16(l4 + 2, dport);
        put16(l4 + 4, 8);
        l4len = 8;
        break;
    case 132: /* SCTP */
        put16(l4, sport);
        put16(l4 + 2, dport);
        l4len = 12;
        break;
    case 1:  /* ICMP: type/code as NetFlow carries them in dst_port */
    case 58: /* ICMPv6 */
        l4[0] = (uint8_t)(dport >> 8);
        l4[1] = (uint8_t)dport;
        l4len = 8;
        break;
    default:
        l4len = 0;
        break;
    }
    iplen = (uint32_t)(l4 - l3) + l4len;
    if (r->packets && r->bytes / r->packets > iplen)
        avg = (uint32_t)(r->bytes / r->packets > 65535 ? 65535
                                                       : r->bytes / r->packets);
    if (af == 4) {
        l3[0] = 0x45;
        l3[1] = r->tos;
        put16(l3 + 2, (uint16_t)(avg ? avg : iplen));
        l3[8] = 64;
        l3[9] = r->proto;
        if (r->src_host.af == 4)
            memcpy(l3 + 12, r->src_host.a, 4);
        if (r->dst_host.af == 4)
            memcpy(l3 + 16, r->dst_host.a, 4);
    } else {
        uint32_t vtf = (6u << 28) | ((uint32_t)r->tos << 20) |
                       (r->flow_label & 0xfffff);
        l3[0] = (uint8_t)(vtf >> 24);
        l3[1] = (uint8_t)(vtf >> 16);
        l3[2] = (uint8_t)(vtf >> 8);
        l3[3] = (uint8_t)vtf;
        put16(l3 + 4, (uint16_t)((avg ? avg : iplen) - 40));
        l3[6] = r->proto;
        l3[7] = 64;
        if (r->src_host.af == 6)
            memcpy(l3 + 8, r->src_host.a, 16);
        if (r->dst_host.af == 6)
            memcpy(l3 + 24, r->dst_host.a, 16);
    }
    p = l4 + l4len;
    *wirelen = (uint32_t)(l3 - buf) + (avg ? avg : iplen);
    return (uint32_t)(p - buf);
}
