/*
 * sf_ext.c - sFlow extended flow records applied to a record: switch
 * (VLAN, 802.1p), router (next hop, masks), gateway (BGP next hop, AS path,
 * communities, local preference), MPLS (label stacks), NAT (post-NAT
 * addresses), VXLAN VNI; user/URL and other records are parsed for bounds
 * only (sfacctd 1.7.7 has no primitives for them).  v2/v4 variants of the
 * gateway record live here too.
 *
 * What sfacctd 1.7.7 does, as observed and kept here:
 *  - extended switch: vlan = in VLAN (16 bits) and cos = in priority, or
 *    the out VLAN/priority when the in VLAN is 0; it overrides the sampled
 *    header's 802.1Q tag whatever the record order, unless both are 0
 *    (applied in sf_decode.c);
 *  - peer_dst_ip comes from the v5 gateway next hop only (sf_decode.c
 *    fits it to the packet's family); the router next hop is not used;
 *  - as_path: every AS of every segment (sets flattened), '_'-separated;
 *    dst_as = last AS, peer_dst_as = first AS; v2 flat paths are ignored;
 *  - std_comm: "asn:value" '_'-separated in wire order, with the
 *    well-known names of RFC 1997 / 3765 / 8326.
 * Pure functions of the context; called on the capture thread.
 */
#include <stdio.h>
#include <string.h>

#include "sf_internal.h"

int sf_addr(struct sf_cur *c, pm_ip_t *out)
{
    uint32_t type = sf_u32(c);
    const uint8_t *b;

    memset(out, 0, sizeof(*out));
    if (c->err)
        return -1;
    if (type == 1) {
        b = sf_bytes(c, 4);
        if (!b)
            return -1;
        pm_ip_set4(out, b);
        return 0;
    }
    if (type == 2) {
        b = sf_bytes(c, 16);
        if (!b)
            return -1;
        pm_ip_set6(out, b);
        return 0;
    }
    if (type == 0) /* UNKNOWN address type: nothing follows */
        return 0;
    c->err = 1;
    return -1;
}

/* Append an unsigned number and a separator to a bounded text buffer. */
struct sf_txt {
    char *p;
    size_t len, cap;
    int full;
};

static void txt_add(struct sf_txt *t, const char *s)
{
    size_t n = strlen(s);
    if (t->full || t->len + n + 1 > t->cap) {
        t->full = 1;
        return;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static const char *comm_name(uint32_t v)
{
    switch (v) {
    case 0xFFFFFF01u:
        return "no-export";
    case 0xFFFFFF02u:
        return "no-advertise";
    case 0xFFFFFF03u:
        return "local-AS";
    default:
        return NULL;
    }
}

static int put_str(struct sf_ctx *ctx, struct pm_rec *r, unsigned prim,
                   pm_sref_t *dst, const char *s, size_t n)
{
    if (!n)
        return 0;
    if (ctx->host->batch_str(ctx->batch, s, n, dst) < 0)
        return -1;
    pm_rec_set(r, prim);
    return 0;
}

/* AS path segments + communities + localpref, shared by v4 and v5. */
static int gateway_tail(struct sf_ctx *ctx, struct sf_cur *c, struct pm_rec *r,
                        int with_comms)
{
    char pathbuf[2048], commbuf[2048], num[32];
    struct sf_txt path = {pathbuf, 0, sizeof(pathbuf), 0};
    struct sf_txt comm = {commbuf, 0, sizeof(commbuf), 0};
    uint32_t nseg, i, j, first = 0, last = 0, nas = 0, ncomm, lpref;

    pathbuf[0] = commbuf[0] = '\0';
    nseg = sf_u32(c);
    if (c->err || nseg > sf_left(c) / 8)
        return -1;
    for (i = 0; i < nseg; i++) {
        uint32_t type = sf_u32(c), n = sf_u32(c);
        (void)type;
        if (c->err || n > sf_left(c) / 4)
            return -1;
        for (j = 0; j < n; j++) {
            uint32_t as = sf_u32(c);
            if (!nas)
                first = as;
            last = as;
            nas++;
            snprintf(num, sizeof(num), "%s%u", path.len ? "_" : "", as);
            txt_add(&path, num);
        }
    }
    if (with_comms) {
        ncomm = sf_u32(c);
        if (c->err || ncomm > sf_left(c) / 4)
            return -1;
        for (i = 0; i < ncomm; i++) {
            uint32_t v = sf_u32(c);
            const char *nm = comm_name(v);
            if (comm.len)
                txt_add(&comm, "_");
            if (nm)
                txt_add(&comm, nm);
            else {
                snprintf(num, sizeof(num), "%u:%u", v >> 16, v & 0xffff);
                txt_add(&comm, num);
            }
        }
        lpref = sf_u32(c);
        if (c->err)
            return -1;
        r->local_pref = lpref;
        pm_rec_set(r, PM_P_LOCAL_PREF);
    }
    if (nas) {
        r->dst_as = last;
        r->peer_dst_as = first;
        pm_rec_set(r, PM_P_DST_AS);
        pm_rec_set(r, PM_P_PEER_DST_AS);
    }
    if (put_str(ctx, r, PM_P_AS_PATH, &r->as_path, path.p, path.len) < 0 ||
        put_str(ctx, r, PM_P_STD_COMM, &r->std_comm, comm.p, comm.len) < 0)
        return -1;
    return 0;
}

static void gateway_head(struct sf_cur *c, struct pm_rec *r)
{
    uint32_t as = sf_u32(c), src_as = sf_u32(c), src_peer_as = sf_u32(c);
    (void)as; /* the router's own AS: no primitive */
    r->src_as = src_as;
    r->peer_src_as = src_peer_as;
    pm_rec_set(r, PM_P_SRC_AS);
    pm_rec_set(r, PM_P_PEER_SRC_AS);
}

int sf_ext_gateway_v24(struct sf_ctx *ctx, struct sf_dgram *d, struct sf_cur *c,
                       struct pm_rec *r)
{
    gateway_head(c, r);
    if (c->err)
        return -1;
    if (d->version < 4) {
        /* v2: a flat list of ASes; sfacctd 1.7.7 does not use it */
        uint32_t n = sf_u32(c);
        if (c->err || n > sf_left(c) / 4)
            return -1;
        sf_skip(c, (size_t)n * 4);
        return c->err ? -1 : 0;
    }
    return gateway_tail(ctx, c, r, 1);
}

/* Skip a string<> (length + padded bytes). */
static void skip_opaque(struct sf_cur *c)
{
    uint32_t n = sf_u32(c);
    if (!c->err)
        (void)sf_bytes(c, n);
}

int sf_ext_skip_v24(uint32_t type, struct sf_cur *c)
{
    switch (type) {
    case 4: /* user: src_user<>, dst_user<> */
        skip_opaque(c);
        skip_opaque(c);
        break;
    case 5: /* url: direction, url<> */
        (void)sf_u32(c);
        skip_opaque(c);
        break;
    default:
        return -1;
    }
    return c->err ? -1 : 0;
}

/* Label stack<>: first label is the top of the stack. */
static int mpls_stack(struct sf_ctx *ctx, struct sf_cur *c, struct pm_rec *r,
                      int use)
{
    char buf[1024], num[24];
    struct sf_txt t = {buf, 0, sizeof(buf), 0};
    uint32_t n = sf_u32(c), i, v = 0;

    buf[0] = '\0';
    if (c->err || n > sf_left(c) / 4)
        return -1;
    for (i = 0; i < n; i++) {
        v = sf_u32(c);
        if (use) {
            if (!i)
                r->mpls_label_top = v >> 12;
            snprintf(num, sizeof(num), "%s%u", i ? "," : "", v >> 12);
            txt_add(&t, num);
        }
    }
    if (use && n) {
        r->mpls_label_bottom = v >> 12;
        r->mpls_stack_depth = n;
        pm_rec_set(r, PM_P_MPLS_LABEL_TOP);
        pm_rec_set(r, PM_P_MPLS_LABEL_BOTTOM);
        pm_rec_set(r, PM_P_MPLS_STACK_DEPTH);
        if (put_str(ctx, r, PM_P_MPLS_LABEL_STACK, &r->mpls_label_stack, t.p,
                    t.len) < 0)
            return -1;
    }
    return 0;
}

int sf_ext_record(struct sf_ctx *ctx, struct sf_dgram *d, uint32_t format,
                  struct sf_cur *c, struct pm_rec *r, struct sf_sample *s)
{
    pm_ip_t ip;
    uint32_t a, b;

    (void)d;
    switch (format) {
    case 1001: /* extended_switch */
        a = sf_u32(c);
        b = sf_u32(c);
        s->sw_out_vlan = sf_u32(c);
        s->sw_out_prio = sf_u32(c);
        if (c->err)
            return -1;
        s->sw_vlan = a;
        s->sw_prio = b;
        s->have_switch = 1;
        return 0;
    case 1002: /* extended_router */
        if (sf_addr(c, &ip) < 0)
            return -1;
        a = sf_u32(c);
        b = sf_u32(c);
        if (c->err)
            return -1;
        r->src_mask = (uint8_t)a;
        r->dst_mask = (uint8_t)b;
        pm_rec_set(r, PM_P_SRC_MASK);
        pm_rec_set(r, PM_P_DST_MASK);
        s->router_nh = ip;
        s->have_router = 1;
        return 0;
    case 1003: /* extended_gateway */
        if (sf_addr(c, &ip) < 0)
            return -1;
        gateway_head(c, r);
        if (c->err)
            return -1;
        s->gw_nh = ip;
        s->have_gw = 1;
        return gateway_tail(ctx, c, r, 1);
    case 1004: /* extended_user: charset, user<>, charset, user<> */
        (void)sf_u32(c);
        skip_opaque(c);
        (void)sf_u32(c);
        skip_opaque(c);
        return c->err ? -1 : 0;
    case 1005: /* extended_url: direction, url<>, host<> */
        (void)sf_u32(c);
        skip_opaque(c);
        if (sf_left(c))
            skip_opaque(c);
        return c->err ? -1 : 0;
    case 1006: /* extended_mpls: next hop, in stack<>, out stack<> */
        if (sf_addr(c, &ip) < 0)
            return -1;
        if (mpls_stack(ctx, c, r, 1) < 0 || mpls_stack(ctx, c, r, 0) < 0)
            return -1;
        return 0;
    case 1007: /* extended_nat: src, dst */
        if (sf_addr(c, &ip) < 0)
            return -1;
        if (ip.af) {
            r->post_nat_src_host = ip;
            pm_rec_set(r, PM_P_POST_NAT_SRC_HOST);
        }
        if (sf_addr(c, &ip) < 0)
            return -1;
        if (ip.af) {
            r->post_nat_dst_host = ip;
            pm_rec_set(r, PM_P_POST_NAT_DST_HOST);
        }
        return 0;
    case 1027: /* extended_vni_egress */
    case 1028: /* extended_vni_ingress */
        a = sf_u32(c);
        if (c->err)
            return -1;
        /* sfacctd 1.7.7 does not use it: vxlan comes from the header */
        s->vni = a;
        return 0;
    default:
        return 1;
    }
}
