/*
 * tunnel.c - transform module: tunnel decapsulation on records carrying
 * their packet (rec->pkt, from pmacctd/uacctd captures): GTP-U (UDP,
 * 3GPP TS 29.281, inner IPv4/IPv6, TEID into gtp_teid), GRE (IP protocol
 * 47, RFC 2784/2890 with checksum/key/sequence, inner IPv4/IPv6 or
 * transparent Ethernet bridging 0x6558) and VXLAN (UDP, RFC 7348, VNI into
 * vxlan, inner Ethernet).
 *
 * Configuration is pmacct's: tunnel_0 .. tunnel_7 each hold a stack of up
 * to 4 layers "proto, option; proto, option; ...".  The first stack whose
 * first layer matches the packet wins; its next layers are tried on the
 * inner packet in turn.  pmacct knows "gtp, <UDP port>"; "vxlan[, <UDP
 * port>]" and "gre" are ours.  tunnel_mode (ours) says what the inner
 * headers become: "replace" (pmacct: the record is accounted on the
 * innermost headers instead of the envelope) or "tunnel" (the outer
 * primitives stay; the innermost headers fill the tunnel_* primitives).
 *
 * Inner headers are decoded with host->decode_packet into a scratch record.
 * Every header is bounds-checked against pkt_caplen; a record whose tunnel
 * header is malformed or truncated is left as it was (counted).
 *
 * Threads: one instance serves one pipeline; process() runs on that
 * pipeline's thread only, so the context needs no lock.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#define TUN_STACKS 8
#define TUN_LAYERS 4
#define NO_OFF 0xffffu

enum tun_proto { TUN_NONE = 0, TUN_GTP, TUN_GRE, TUN_VXLAN };
enum tun_mode { TUN_MODE_REPLACE = 0, TUN_MODE_TUNNEL = 1 };

struct tunnel_cfg {
    char *stack[TUN_STACKS];
    int mode;
};

struct tun_layer {
    uint8_t proto; /* enum tun_proto */
    uint16_t port; /* GTP/VXLAN UDP port */
};

struct tun_stack {
    unsigned nlayers;
    struct tun_layer l[TUN_LAYERS];
};

struct tunnel_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    int mode;
    unsigned nstacks;
    struct tun_stack stacks[TUN_STACKS];
    uint64_t *c_decap, *c_malformed, *c_no_packet;
};

#define STACK_OPT(n)                                                           \
    {                                                                          \
        "tunnel_" #n, PM_OPT_STR, PM_OPTF_TRIGGER,                             \
            offsetof(struct tunnel_cfg, stack[n]), NULL,                       \
            "proto, option[; proto, option]...",                               \
            "tunnel stack " #n                                                 \
            ": up to 4 layers of gtp, <UDP port> | vxlan[, <UDP "              \
            "port>] | gre",                                                    \
            0                                                                  \
    }

static const struct pm_option tunnel_options[] = {
    STACK_OPT(0),
    STACK_OPT(1),
    STACK_OPT(2),
    STACK_OPT(3),
    STACK_OPT(4),
    STACK_OPT(5),
    STACK_OPT(6),
    STACK_OPT(7),
    {"tunnel_mode", PM_OPT_ENUM, 0, offsetof(struct tunnel_cfg, mode),
     "replace", "replace|tunnel",
     "replace: account on the inner headers (pmacct); tunnel: keep the outer "
     "headers, fill the tunnel_* primitives (not in pmacct)",
     0},
    PM_OPTION_END};

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

/* Trim spaces in place; returns the start. */
static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* Parse "proto, opt; proto, opt" into st.  0 or -EINVAL with why. */
static int parse_stack(const char *text, struct tun_stack *st, char *why,
                       size_t whylen)
{
    char buf[256], *save = NULL, *layer;
    int rc = 0;

    if (strlen(text) >= sizeof(buf)) {
        snprintf(why, whylen, "too long");
        return -EINVAL;
    }
    strcpy(buf, text);
    memset(st, 0, sizeof(*st));
    for (layer = strtok_r(buf, ";", &save); layer;
         layer = strtok_r(NULL, ";", &save)) {
        char *name = trim(layer), *opt = strchr(name, ',');
        struct tun_layer *l;
        unsigned long port = 0;

        if (!*name)
            continue;
        if (st->nlayers == TUN_LAYERS) {
            snprintf(why, whylen, "more than %d layers", TUN_LAYERS);
            return -EINVAL;
        }
        if (opt) {
            *opt++ = 0;
            opt = trim(opt);
            name = trim(name);
        }
        l = &st->l[st->nlayers];
        if (!strcasecmp(name, "gtp")) {
            l->proto = TUN_GTP;
            port = 2152;
        } else if (!strcasecmp(name, "vxlan")) {
            l->proto = TUN_VXLAN;
            port = 4789;
        } else if (!strcasecmp(name, "gre")) {
            l->proto = TUN_GRE;
        } else {
            snprintf(why, whylen,
                     "unknown tunnel protocol '%s': expected gtp, vxlan or gre",
                     name);
            return -EINVAL;
        }
        if (opt && *opt) {
            char *end;
            if (l->proto == TUN_GRE) {
                snprintf(why, whylen, "gre takes no option, got '%s'", opt);
                return -EINVAL;
            }
            port = strtoul(opt, &end, 10);
            if (*end || port == 0 || port > 65535) {
                snprintf(why, whylen, "'%s': expected a UDP port 1-65535", opt);
                return -EINVAL;
            }
        }
        l->port = (uint16_t)port;
        st->nlayers++;
    }
    if (!st->nlayers) {
        snprintf(why, whylen, "no tunnel protocol given");
        rc = -EINVAL;
    }
    return rc;
}

static void tunnel_fini(void *vctx)
{
    free(vctx);
}

static int tunnel_init(const struct pm_host *host,
                       const struct pm_instance *inst, void *config,
                       void **ctxp)
{
    struct tunnel_cfg *cfg = config;
    struct tunnel_ctx *ctx = calloc(1, sizeof(*ctx));
    char why[160];

    if (!ctx)
        return -ENOMEM;
    ctx->host = host;
    ctx->inst = inst;
    ctx->mode = cfg->mode;
    for (unsigned i = 0; i < TUN_STACKS; i++) {
        if (!cfg->stack[i] || !*cfg->stack[i])
            continue;
        if (parse_stack(cfg->stack[i], &ctx->stacks[ctx->nstacks], why,
                        sizeof(why)) < 0) {
            PM_ERR(host, inst, "tunnel_%u: '%s': %s", i, cfg->stack[i], why);
            free(ctx);
            return -EINVAL;
        }
        ctx->nstacks++;
    }
    if (!ctx->nstacks) {
        PM_ERR(host, inst, "tunnel_0: no tunnel stack given");
        free(ctx);
        return -EINVAL;
    }
    ctx->c_decap = host->counter(inst, "decapsulated",
                                 "records accounted on their inner headers");
    ctx->c_malformed =
        host->counter(inst, "malformed",
                      "tunnel headers malformed or truncated: record kept");
    ctx->c_no_packet = host->counter(
        inst, "no_packet", "records without packet bytes (flows): untouched");
    *ctxp = ctx;
    return 0;
}

/* Does layer l apply to the (decoded) packet s? */
static int layer_matches(const struct tun_layer *l, const struct pm_rec *s)
{
    if (s->flags & PM_RF_FRAGMENT)
        return 0;
    switch (l->proto) {
    case TUN_GTP:
    case TUN_VXLAN:
        /* the destination port only, as pmacct 1.7.7 (observed) */
        return s->proto == 17 && s->payload_off != NO_OFF &&
               s->dst_port == l->port;
    case TUN_GRE:
        return s->proto == 47 && s->l4_off != NO_OFF;
    default:
        return 0;
    }
}

/* Result of one decapsulation: where the inner packet starts (relative to
 * the buffer), its link type, and the tunnel id. */
struct inner {
    uint32_t off;
    int dlt;
    uint32_t id;
};

/* GTP-U header at p (n bytes). 0 with *in filled, or -1. */
static int gtp_parse(const uint8_t *p, uint32_t n, struct inner *in)
{
    uint32_t off = 8;

    if (n < 8)
        return -1;
    if ((p[0] >> 5) != 1 || !(p[0] & 0x10)) /* GTPv1, PT = GTP */
        return -1;
    if (p[1] != 0xff) /* G-PDU only carries user packets */
        return -1;
    in->id = rd32(p + 4);
    if (p[0] & 0x07) { /* E, S or PN: the optional 4 bytes follow */
        uint8_t next;
        if (n < 12)
            return -1;
        next = (p[0] & 0x04) ? p[11] : 0;
        off = 12;
        while (next) { /* extension headers: length in 4-byte units */
            uint32_t len;
            if (off >= n)
                return -1;
            len = (uint32_t)p[off] * 4;
            if (len == 0 || off + len > n)
                return -1;
            next = p[off + len - 1];
            off += len;
        }
    }
    if (off >= n)
        return -1;
    switch (p[off] >> 4) {
    case 4:
        in->dlt = PM_DLT_IPV4;
        break;
    case 6:
        in->dlt = PM_DLT_IPV6;
        break;
    default:
        return -1;
    }
    in->off = off;
    return 0;
}

static int vxlan_parse(const uint8_t *p, uint32_t n, struct inner *in)
{
    if (n < 8 + 14)
        return -1;
    if (!(p[0] & 0x08)) /* I flag: VNI valid */
        return -1;
    in->id = ((uint32_t)p[4] << 16) | ((uint32_t)p[5] << 8) | p[6];
    in->off = 8;
    in->dlt = PM_DLT_EN10MB;
    return 0;
}

static int gre_parse(const uint8_t *p, uint32_t n, struct inner *in)
{
    uint16_t fl, et;
    uint32_t off = 4;

    if (n < 4)
        return -1;
    fl = rd16(p);
    et = rd16(p + 2);
    if ((fl & 0x0007) != 0) /* version 0 only (1 = PPTP) */
        return -1;
    if (fl & 0x4000) /* RFC 1701 routing present: not supported */
        return -1;
    if (fl & 0x8000) /* checksum + reserved */
        off += 4;
    in->id = 0;
    if (fl & 0x2000) { /* key */
        if (n < off + 4)
            return -1;
        in->id = rd32(p + off);
        off += 4;
    }
    if (fl & 0x1000) /* sequence number */
        off += 4;
    if (off >= n)
        return -1;
    switch (et) {
    case 0x0800:
        in->dlt = PM_DLT_IPV4;
        break;
    case 0x86dd:
        in->dlt = PM_DLT_IPV6;
        break;
    case 0x6558: /* transparent Ethernet bridging */
        in->dlt = PM_DLT_EN10MB;
        break;
    default:
        return -1;
    }
    in->off = off;
    return 0;
}

static void scratch_reset(struct pm_rec *s)
{
    memset(s, 0, sizeof(*s));
    s->l3_off = s->l4_off = s->payload_off = NO_OFF;
}

/* Rebase a decoded record's offsets by base (0xffff stays). */
static void rebase(struct pm_rec *s, uint32_t base)
{
    uint16_t *o[3] = {&s->l3_off, &s->l4_off, &s->payload_off};
    for (int k = 0; k < 3; k++)
        if (*o[k] != NO_OFF)
            *o[k] = base + *o[k] > 0xfffe ? NO_OFF : (uint16_t)(base + *o[k]);
}

#define COPY(f, id)                                                            \
    do {                                                                       \
        r->f = s->f;                                                           \
        if (pm_rec_has(s, id))                                                 \
            pm_rec_set(r, id);                                                 \
        else                                                                   \
            pm_pset_clear(&r->present, id);                                    \
    } while (0)

/* Account r on the inner headers in s (replace mode). */
static void apply_replace(struct pm_rec *r, const struct pm_rec *s, int l2)
{
    if (l2) {
        memcpy(r->src_mac, s->src_mac, 6);
        memcpy(r->dst_mac, s->dst_mac, 6);
        COPY(vlan, PM_P_VLAN);
        COPY(cvlan, PM_P_CVLAN);
        COPY(cos, PM_P_COS);
    }
    COPY(etype, PM_P_ETYPE);
    COPY(src_host, PM_P_SRC_HOST);
    COPY(dst_host, PM_P_DST_HOST);
    COPY(proto, PM_P_PROTO);
    COPY(tos, PM_P_TOS);
    COPY(src_port, PM_P_SRC_PORT);
    COPY(dst_port, PM_P_DST_PORT);
    COPY(tcpflags, PM_P_TCPFLAGS);
    COPY(flow_label, PM_P_FLOW_LABEL);
    r->bytes = s->bytes;
    r->flags = (r->flags & ~(PM_RF_IPV6 | PM_RF_FRAGMENT | PM_RF_TRUNCATED)) |
               (s->flags & (PM_RF_IPV6 | PM_RF_FRAGMENT | PM_RF_TRUNCATED));
    r->l3_off = s->l3_off;
    r->l4_off = s->l4_off;
    r->payload_off = s->payload_off;
}

/* Fill the tunnel_* primitives of r from the inner headers in s. */
static void apply_tunnel(struct pm_rec *r, const struct pm_rec *s, int l2)
{
    if (l2) {
        memcpy(r->tunnel_src_mac, s->src_mac, 6);
        memcpy(r->tunnel_dst_mac, s->dst_mac, 6);
        pm_rec_set(r, PM_P_TUNNEL_SRC_MAC);
        pm_rec_set(r, PM_P_TUNNEL_DST_MAC);
    }
    r->tunnel_src_host = s->src_host;
    r->tunnel_dst_host = s->dst_host;
    r->tunnel_proto = s->proto;
    r->tunnel_tos = s->tos;
    r->tunnel_src_port = s->src_port;
    r->tunnel_dst_port = s->dst_port;
    r->tunnel_tcpflags = s->tcpflags;
    pm_rec_set(r, PM_P_TUNNEL_SRC_HOST);
    pm_rec_set(r, PM_P_TUNNEL_DST_HOST);
    pm_rec_set(r, PM_P_TUNNEL_PROTO);
    pm_rec_set(r, PM_P_TUNNEL_TOS);
    pm_rec_set(r, PM_P_TUNNEL_SRC_PORT);
    pm_rec_set(r, PM_P_TUNNEL_DST_PORT);
    pm_rec_set(r, PM_P_TUNNEL_TCPFLAGS);
}

/* Ids of the last GTP / VXLAN layers removed. */
struct tun_ids {
    uint32_t teid, vni;
    int has_teid, has_vni;
};

/* Apply the innermost headers (cur) to r per the mode, and the ids. */
static void finish(const struct tunnel_ctx *ctx, struct pm_rec *r,
                   const struct pm_rec *cur, int l2, const struct tun_ids *ids)
{
    if (ctx->mode == TUN_MODE_TUNNEL)
        apply_tunnel(r, cur, l2);
    else
        apply_replace(r, cur, l2);
    if (ids->has_teid) {
        r->gtp_teid = ids->teid;
        pm_rec_set(r, PM_P_GTP_TEID);
    }
    if (ids->has_vni) {
        r->vxlan = ids->vni;
        pm_rec_set(r, PM_P_VXLAN);
    }
}

/*
 * Decapsulate one record.  Returns the number of layers removed (0: not a
 * tunnel of ours), or -1 when a matching tunnel header was malformed or its
 * inner packet undecodable (r untouched).
 */
static int decap(struct tunnel_ctx *ctx, struct pm_rec *r)
{
    const struct pm_host *h = ctx->host;
    const struct tun_stack *st = NULL;
    struct pm_rec cur, nxt;
    uint32_t caplen = r->pkt_caplen, len;
    int l2 = 0, depth = 0, rc;
    struct tun_ids ids = {0, 0, 0, 0};

    /* cheap pre-check on the record the capture decoded */
    if (!pm_rec_has(r, PM_P_PROTO) || (r->proto != 17 && r->proto != 47))
        return 0;
    scratch_reset(&cur);
    rc = h->decode_packet(&cur, r->dlt, r->pkt, caplen,
                          r->pkt_len ? r->pkt_len : caplen, PM_DECF_NONE);
    if (rc != PM_DEC_OK && rc != PM_DEC_TRUNCATED)
        return 0;
    for (unsigned i = 0; i < ctx->nstacks && !st; i++)
        if (layer_matches(&ctx->stacks[i].l[0], &cur))
            st = &ctx->stacks[i];
    if (!st)
        return 0;
    for (unsigned li = 0; li < st->nlayers; li++) {
        const struct tun_layer *l = &st->l[li];
        struct inner in;
        uint32_t hoff; /* tunnel header offset in r->pkt */
        int prc;

        if (li > 0 && !layer_matches(l, &cur))
            break;
        /* cur's offsets are relative to r->pkt */
        hoff = l->proto == TUN_GRE ? cur.l4_off : cur.payload_off;
        if (hoff > caplen)
            goto bad;
        len = caplen - hoff;
        switch (l->proto) {
        case TUN_GTP:
            prc = gtp_parse(r->pkt + hoff, len, &in);
            break;
        case TUN_VXLAN:
            prc = vxlan_parse(r->pkt + hoff, len, &in);
            break;
        default:
            prc = gre_parse(r->pkt + hoff, len, &in);
            break;
        }
        if (prc < 0)
            goto bad;
        scratch_reset(&nxt);
        rc = h->decode_packet(&nxt, in.dlt, r->pkt + hoff + in.off,
                              len - in.off, len - in.off, PM_DECF_NONE);
        if ((rc != PM_DEC_OK && rc != PM_DEC_TRUNCATED) ||
            nxt.l3_off == NO_OFF || !pm_rec_has(&nxt, PM_P_SRC_HOST))
            goto bad;
        rebase(&nxt, hoff + in.off); /* now relative to r->pkt */
        if (in.dlt != PM_DLT_EN10MB && l2) {
            /* IP inside an inner frame: L2 is the innermost frame's */
            memcpy(nxt.src_mac, cur.src_mac, 6);
            memcpy(nxt.dst_mac, cur.dst_mac, 6);
            nxt.vlan = cur.vlan;
            nxt.cvlan = cur.cvlan;
            nxt.cos = cur.cos;
            for (unsigned id = PM_P_SRC_MAC; id <= PM_P_COS; id++)
                if (pm_rec_has(&cur, id) && id != PM_P_OUT_VLAN)
                    pm_rec_set(&nxt, id);
        } else {
            l2 = in.dlt == PM_DLT_EN10MB;
        }
        cur = nxt;
        if (l->proto == TUN_GTP) {
            ids.teid = in.id;
            ids.has_teid = 1;
        } else if (l->proto == TUN_VXLAN) {
            ids.vni = in.id;
            ids.has_vni = 1;
        }
        depth++;
    }
    if (depth)
        finish(ctx, r, &cur, l2, &ids);
    return depth;
bad:
    if (depth) /* inner layers malformed: keep what was decapsulated */
        finish(ctx, r, &cur, l2, &ids);
    return -1;
}

static int tunnel_process(void *vctx, struct pm_batch *b)
{
    struct tunnel_ctx *ctx = vctx;
    uint64_t ndecap = 0, nbad = 0, nopkt = 0;

    for (uint32_t i = 0; i < b->n; i++) {
        struct pm_rec *r;
        int d;

        if (pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        if (!r->pkt || !r->pkt_caplen) {
            nopkt++;
            continue;
        }
        d = decap(ctx, r);
        if (d > 0)
            ndecap++;
        else if (d < 0)
            nbad++;
    }
    if (ndecap)
        pm_counter_add(ctx->c_decap, ndecap);
    if (nbad) {
        pm_counter_add(ctx->c_malformed, nbad);
        if (ctx->inst->debug)
            ctx->host->log_limited(ctx->inst, PM_LOG_DEBUG, "tunnel-malformed",
                                   "%llu records with malformed or truncated "
                                   "tunnel headers kept as they were",
                                   (unsigned long long)nbad);
    }
    if (nopkt)
        pm_counter_add(ctx->c_no_packet, nopkt);
    return 0;
}

static const struct pm_module_desc tunnel_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "tunnel",
    .version = "1.0",
    .summary = "transform: GTP-U, GRE, VXLAN decapsulation (tunnel_0)",
    .flags = PM_MF_NEEDS_PACKETS,
    .order = 100,
    .options = tunnel_options,
    .config_size = sizeof(struct tunnel_cfg),
    .init = tunnel_init,
    .process = tunnel_process,
    .fini = tunnel_fini,
};

PM_MODULE_EXPORT(tunnel_desc)
