/*
 * dns.c - shared-object classifier: DNS (RFC 1035 section 4) over UDP or
 * TCP (2-byte length prefix, RFC 1035 4.2.2), any port (mDNS and LLMNR use
 * the same message format and also match).
 *
 * A payload is DNS when its 12-byte header is sane (opcode 0-6, qdcount
 * 1..16, other counts < 256) and its first question - a name of valid
 * labels or a compression pointer, then type and class - fits in the
 * payload.  The first two payload packets are tried, then give up.
 *
 * Threads: no state but the per-stream counter the flow table holds.
 */
#include <stdint.h>
#include <string.h>

#include <pmacct/pm_classifier.h>

struct dns_state {
    uint8_t tries;
};

static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Non-zero when p[0..len) is a DNS message (header + first question). */
int dns_looks_like(const uint8_t *p, uint32_t len)
{
    uint32_t o = 12, labels = 0;
    unsigned opcode, qd, an, ns, ar, qclass;

    if (len < 17)
        return 0;
    opcode = (p[2] >> 3) & 0x0f;
    qd = get16(p + 4);
    an = get16(p + 6);
    ns = get16(p + 8);
    ar = get16(p + 10);
    if (opcode > 6 || opcode == 3 || qd < 1 || qd > 16 || an > 255 ||
        ns > 255 || ar > 255)
        return 0;
    if (!(p[2] & 0x80) && an > 0 && opcode == 0 && (p[3] & 0x0f))
        return 0; /* a query with answers and an rcode: not DNS */
    for (;;) {
        uint8_t l;
        if (o >= len)
            return 0;
        l = p[o];
        if (l == 0) {
            o++;
            break;
        }
        if ((l & 0xc0) == 0xc0) { /* compression pointer ends the name */
            if (o + 1 >= len || (((unsigned)(l & 0x3f) << 8) | p[o + 1]) >= o)
                return 0;
            o += 2;
            break;
        }
        if (l & 0xc0)
            return 0;
        if (++labels > 127)
            return 0;
        o += 1u + l;
    }
    if (o + 4 > len)
        return 0;
    qclass = get16(p + o + 2) & 0x7fff; /* top bit: mDNS unicast-response */
    if (get16(p + o) == 0)
        return 0;
    return qclass == 1 || qclass == 3 || qclass == 4 || qclass == 254 ||
           qclass == 255;
}

static int dns_classify(void *engine, void *vstate,
                        const struct pm_cls_pkt *pkt, char *cls)
{
    struct dns_state *st = vstate;
    const uint8_t *p = pkt->payload;
    uint32_t len = pkt->len;

    (void)engine;
    if (pkt->proto != 17 && pkt->proto != 6)
        return PM_CLS_GIVEUP;
    if (!len)
        return PM_CLS_MORE;
    if (pkt->proto == 6) {
        if (len < 2 || get16(p) < 17)
            goto miss;
        p += 2;
        len -= 2;
    }
    if (dns_looks_like(p, len))
        return pm_cls_match(cls, "dns");
miss:
    return ++st->tries >= 2 ? PM_CLS_GIVEUP : PM_CLS_MORE;
}

static const struct pm_classifier dns_desc = {
    PM_CLASSIFIER_HEAD,
    .name = "dns",
    .version = "1.0",
    .summary = "DNS, mDNS, LLMNR over UDP and TCP",
    .state_size = sizeof(struct dns_state),
    .classify = dns_classify,
};

PM_CLASSIFIER_EXPORT(dns_desc)
