/*
 * bittorrent.c - shared-object classifier: BitTorrent peer wire handshake
 * (BEP 3: byte 19 then "BitTorrent protocol") over TCP, and the DHT's KRPC
 * messages (BEP 5: a bencoded dictionary starting "d1:" whose "y" key is
 * "q", "r" or "e") over UDP.  The first two payload packets are tried.
 *
 * Threads: no state but the per-stream counter the flow table holds.
 */
#include <stdint.h>
#include <string.h>

#include <pmacct/pm_classifier.h>

struct bt_state {
    uint8_t tries;
};

static int contains(const uint8_t *p, uint32_t len, const char *s)
{
    size_t n = strlen(s);
    uint32_t i;
    for (i = 0; i + n <= len; i++)
        if (!memcmp(p + i, s, n))
            return 1;
    return 0;
}

int bittorrent_looks_like(const uint8_t *p, uint32_t len, int udp)
{
    if (!udp)
        return len >= 20 && p[0] == 19 &&
               !memcmp(p + 1, "BitTorrent protocol", 19);
    if (len < 12 || memcmp(p, "d1:", 3) || p[len - 1] != 'e')
        return 0;
    return contains(p, len, "1:y1:q") || contains(p, len, "1:y1:r") ||
           contains(p, len, "1:y1:e");
}

static int bt_classify(void *engine, void *vstate,
                       const struct pm_cls_pkt *pkt, char *cls)
{
    struct bt_state *st = vstate;
    (void)engine;
    if (pkt->proto != 6 && pkt->proto != 17)
        return PM_CLS_GIVEUP;
    if (!pkt->len)
        return PM_CLS_MORE;
    if (bittorrent_looks_like(pkt->payload, pkt->len, pkt->proto == 17))
        return pm_cls_match(cls, "bittorrent");
    return ++st->tries >= 2 ? PM_CLS_GIVEUP : PM_CLS_MORE;
}

static const struct pm_classifier bt_desc = {
    PM_CLASSIFIER_HEAD,
    .name = "bittorrent",
    .version = "1.0",
    .summary = "BitTorrent handshake and DHT",
    .state_size = sizeof(struct bt_state),
    .classify = bt_classify,
};

PM_CLASSIFIER_EXPORT(bt_desc)
