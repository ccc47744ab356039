/*
 * frames.c - the UDP payload of a link-layer frame (Ethernet, VLAN,
 * Linux cooked, raw IP; IPv4 and IPv6 with extension headers), used to
 * replay the datagrams of a pcap savefile into the flow collectors.
 *
 * Threads: pure functions.
 */
#include "udpin.h"

#include <errno.h>
#include <string.h>

#include <pcap/pcap.h>

/* ---- frames --------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static int udp_from_ip(const uint8_t *p, uint32_t len, struct pm_dgram *dg)
{
    if (len < 1)
        return -EINVAL;
    unsigned v = p[0] >> 4;
    const uint8_t *l4;
    uint32_t l4len;
    if (v == 4) {
        if (len < 20)
            return -EINVAL;
        unsigned ihl = (p[0] & 15u) * 4;
        uint32_t tot = rd16(p + 2);
        if (ihl < 20 || tot < ihl || len < ihl)
            return -EINVAL;
        if (p[9] != 17)
            return -EINVAL;
        if (rd16(p + 6) & 0x1fff) /* non-first fragment */
            return -EINVAL;
        if (tot > len)
            tot = len;
        pm_ip_set4(&dg->src, p + 12);
        pm_ip_set4(&dg->dst, p + 16);
        l4 = p + ihl;
        l4len = tot - ihl;
    } else if (v == 6) {
        if (len < 40)
            return -EINVAL;
        uint8_t nh = p[6];
        uint32_t off = 40;
        uint32_t plen = rd16(p + 4) + 40u;
        if (plen > len)
            plen = len;
        pm_ip_set6(&dg->src, p + 8);
        pm_ip_set6(&dg->dst, p + 24);
        for (int guard = 0; guard < 8 && nh != 17; guard++) {
            if (nh == 0 || nh == 43 || nh == 60) {
                if (off + 8 > plen)
                    return -EINVAL;
                nh = p[off];
                off += 8u + p[off + 1] * 8u;
            } else if (nh == 44) {
                if (off + 8 > plen)
                    return -EINVAL;
                if (rd16(p + off + 2) & 0xfff8)
                    return -EINVAL;
                nh = p[off];
                off += 8;
            } else
                return -EINVAL;
        }
        if (nh != 17 || off > plen)
            return -EINVAL;
        l4 = p + off;
        l4len = plen - off;
    } else
        return -EINVAL;
    if (l4len < 8)
        return -EINVAL;
    uint32_t ulen = rd16(l4 + 4);
    if (ulen < 8 || ulen > l4len)
        ulen = l4len; /* trust what was captured */
    dg->sport = rd16(l4);
    dg->dport = rd16(l4 + 2);
    dg->data = l4 + 8;
    dg->len = ulen - 8;
    return 0;
}

int pm_udp_from_frame(int dlt, const uint8_t *pkt, uint32_t caplen,
                      struct pm_dgram *dg)
{
    uint32_t off = 0;
    uint16_t et = 0;
    switch (dlt) {
    case DLT_EN10MB:
        if (caplen < 14)
            return -EINVAL;
        et = rd16(pkt + 12);
        off = 14;
        while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) &&
               off + 4 <= caplen) {
            et = rd16(pkt + off + 2);
            off += 4;
        }
        break;
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return -EINVAL;
        et = rd16(pkt + 14);
        off = 16;
        break;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return -EINVAL;
        et = rd16(pkt);
        off = 20;
        break;
#endif
    case DLT_NULL:
    case DLT_LOOP: {
        if (caplen < 4)
            return -EINVAL;
        off = 4;
        et = (pkt[4 < caplen ? 4 : 0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    }
    case DLT_RAW:
    case 14:
    case 101:
    case 228:
    case 229:
        if (caplen < 1)
            return -EINVAL;
        et = (pkt[0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    default:
        return -EINVAL;
    }
    if (et != 0x0800 && et != 0x86dd)
        return -EINVAL;
    if (off >= caplen)
        return -EINVAL;
    return udp_from_ip(pkt + off, caplen - off, dg);
}
