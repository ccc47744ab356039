/*
 * frag.c - IP fragment tracking for packet captures (libpmdata).
 *
 * Only the first fragment of a datagram carries the L4 header.  Like
 * pmacctd, we remember the ports and TCP flags of each first fragment,
 * keyed by (addresses, IP id, protocol), and give them to the later
 * fragments of the same datagram, so that a datagram is accounted under
 * one aggregate whatever its size.  A later fragment whose first fragment
 * was never seen is reported to the caller (pmacctd drops those; the pcap
 * capture drops and counts them).
 *
 * The table is a fixed array (open addressing, linear probing over a
 * short window): memory is bounded, a full window evicts its oldest
 * entry.  Entries expire `timeout` seconds (packet time) after their
 * first fragment.  One tracker per capture instance; not locked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmdata.h"

#define PROBE 8

struct frag_ent {
    uint8_t used;
    uint8_t af;
    uint8_t proto;
    uint8_t tcpflags;
    uint32_t id;
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint32_t _pad;
    uint64_t expires; /* packet time, seconds */
};

struct pm_frag {
    struct frag_ent *tab;
    uint32_t mask;
    uint32_t timeout;
};

struct pm_frag *pmc_frag_new(uint32_t max_entries, uint32_t timeout)
{
    struct pm_frag *f = calloc(1, sizeof(*f));
    uint32_t n = 64;

    if (!f)
        return NULL;
    while (n < max_entries && n < (1u << 24))
        n <<= 1;
    f->tab = calloc(n, sizeof(*f->tab));
    if (!f->tab) {
        free(f);
        return NULL;
    }
    f->mask = n - 1;
    f->timeout = timeout ? timeout : 60;
    return f;
}

void pmc_frag_free(struct pm_frag *f)
{
    if (!f)
        return;
    free(f->tab);
    free(f);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t hash_key(const struct frag_ent *k)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ k->id ^ ((uint64_t)k->proto << 32);
    for (int i = 0; i < 16; i++)
        h = (h ^ k->src[i] ^ ((uint64_t)k->dst[i] << 8)) *
            0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 29));
}

static int same_key(const struct frag_ent *a, const struct frag_ent *b)
{
    return a->af == b->af && a->proto == b->proto && a->id == b->id &&
           !memcmp(a->src, b->src, 16) && !memcmp(a->dst, b->dst, 16);
}

/* Find the fragment fields of the IP packet at pkt + off: id, offset (in
 * bytes), more-fragments flag.  Returns 0 when the packet is a fragment,
 * 1 when it is not, -1 when the headers are truncated. */
static int frag_fields(const uint8_t *pkt, uint32_t caplen, uint32_t off,
                       uint32_t *id, uint32_t *fo, int *mf)
{
    const uint8_t *p = pkt + off;
    uint8_t nh;
    uint32_t cur;

    if (off >= caplen || caplen - off < 20)
        return -1;
    if ((p[0] >> 4) == 4) {
        uint16_t fl = rd16(p + 6);
        *id = rd16(p + 4);
        *fo = (uint32_t)(fl & 0x1fff) * 8;
        *mf = (fl & 0x2000) != 0;
        return (*fo || *mf) ? 0 : 1;
    }
    if (caplen - off < 40)
        return -1;
    nh = p[6];
    cur = off + 40;
    for (int i = 0; i < 16; i++) {
        const uint8_t *h = pkt + cur;
        if (nh != 0 && nh != 43 && nh != 44 && nh != 60 && nh != 51)
            return 1;
        if (caplen - cur < 8)
            return -1;
        if (nh == 44) {
            uint16_t v = rd16(h + 2);
            *fo = v & 0xfff8;
            *mf = v & 1;
            *id = ((uint32_t)h[4] << 24) | ((uint32_t)h[5] << 16) |
                  ((uint32_t)h[6] << 8) | h[7];
            return 0;
        }
        cur += nh == 51 ? ((uint32_t)h[1] + 2) * 4 : ((uint32_t)h[1] + 1) * 8;
        nh = h[0];
        if (cur >= caplen)
            return -1;
    }
    return 1;
}

int pmc_frag_track(struct pm_frag *f, struct pm_rec *r, const uint8_t *pkt,
                   uint32_t caplen)
{
    struct frag_ent key, *slot = NULL, *oldest = NULL;
    uint32_t id, fo, h;
    int mf, rc;
    uint64_t now = r->ts_arrival.sec;

    if (r->l3_off == 0xffff || !r->src_host.af)
        return PM_FRAG_NONE;
    rc = frag_fields(pkt, caplen, r->l3_off, &id, &fo, &mf);
    if (rc != 0)
        return PM_FRAG_NONE;

    memset(&key, 0, sizeof(key));
    key.af = r->src_host.af;
    key.proto = r->proto;
    key.id = id;
    memcpy(key.src, r->src_host.a, 16);
    memcpy(key.dst, r->dst_host.a, 16);
    h = hash_key(&key);

    for (uint32_t i = 0; i < PROBE; i++) {
        struct frag_ent *e = &f->tab[(h + i) & f->mask];
        if (e->used && e->expires < now)
            e->used = 0;
        if (e->used && same_key(e, &key)) {
            slot = e;
            break;
        }
        if (!oldest || !e->used ||
            (oldest->used && e->expires < oldest->expires))
            oldest = e;
    }

    if (fo == 0) {
        /* First fragment: it has the L4 header; remember it. */
        if (!slot)
            slot = oldest;
        key.used = 1;
        key.sport = r->src_port;
        key.dport = r->dst_port;
        key.tcpflags = r->tcpflags;
        key.expires = now + f->timeout;
        *slot = key;
        return PM_FRAG_FIRST;
    }
    if (!slot)
        return PM_FRAG_UNMATCHED;
    r->src_port = slot->sport;
    r->dst_port = slot->dport;
    if (r->proto == 6)
        r->tcpflags = slot->tcpflags;
    pm_rec_set(r, PM_P_SRC_PORT);
    pm_rec_set(r, PM_P_DST_PORT);
    r->flags &= ~PM_RF_FRAGMENT;
    return PM_FRAG_MATCHED;
}
