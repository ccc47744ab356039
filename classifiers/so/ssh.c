/*
 * ssh.c - shared-object classifier: SSH, recognised by the identification
 * string each side sends first (RFC 4253 section 4.2: "SSH-protoversion-
 * softwareversion", protoversion 2.0, or 1.99/1.x for old peers).  A server
 * may send other lines before it; the first three payload packets are
 * tried.
 *
 * Threads: no state but the per-stream counter the flow table holds.
 */
#include <stdint.h>
#include <string.h>

#include <pmacct/pm_classifier.h>

struct ssh_state {
    uint8_t tries;
};

int ssh_looks_like(const uint8_t *p, uint32_t len)
{
    if (len < 8 || memcmp(p, "SSH-", 4))
        return 0;
    return !memcmp(p + 4, "2.0-", 4) || !memcmp(p + 4, "1.99", 4) ||
           (p[4] == '1' && p[5] == '.' && p[6] >= '0' && p[6] <= '9');
}

static int ssh_classify(void *engine, void *vstate,
                        const struct pm_cls_pkt *pkt, char *cls)
{
    struct ssh_state *st = vstate;
    (void)engine;
    if (pkt->proto != 6)
        return PM_CLS_GIVEUP;
    if (!pkt->len)
        return PM_CLS_MORE;
    if (ssh_looks_like(pkt->payload, pkt->len))
        return pm_cls_match(cls, "ssh");
    return ++st->tries >= 3 ? PM_CLS_GIVEUP : PM_CLS_MORE;
}

static const struct pm_classifier ssh_desc = {
    PM_CLASSIFIER_HEAD,
    .name = "ssh",
    .version = "1.0",
    .summary = "SSH identification string",
    .state_size = sizeof(struct ssh_state),
    .classify = ssh_classify,
};

PM_CLASSIFIER_EXPORT(ssh_desc)
