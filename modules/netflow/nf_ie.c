/*
 * nf_ie.c - NetFlow v9 / IPFIX data records into pmacct records, and
 * options data (sampling per exporter and per sampler id, VRF names,
 * system init time).  What each information element does is in
 * nf_prog.c (nf_ie_op / nf_ie_exec); a data record runs its template's
 * compiled program, then gets its counters, times, sampling rate, MPLS
 * stack, VRF names and custom primitives here.
 *
 * Threads: capture thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nf_prog.h"

#define SET(r, field, id, val)                                                 \
    do {                                                                       \
        (r)->field = (val);                                                    \
        pm_rec_set((r), (id));                                                 \
    } while (0)

/* One field through the generic path (options records, templates without
 * a program): the same operations as the compiled programs. */
static void apply(struct nf_ctx *c, const struct nf_hdr *h, struct pm_rec *r,
                  struct nf_flow *fl, const struct nf_field *f,
                  const uint8_t *v, uint32_t len)
{
    unsigned op = nf_ie_op(f, len, h->version);
    if (op != NF_OP_SKIP)
        nf_ie_exec(c, r, fl, op, f->id, v, len);
}

static void mpls(struct nf_ctx *c, struct pm_rec *r, const struct nf_flow *fl)
{
    char buf[128];
    size_t blen = 0;
    uint32_t depth = 0;
    for (int i = 0; i < 10; i++) {
        if (!(fl->label_mask & (1u << i)))
            break;
        uint32_t e = fl->labels[i];
        uint32_t label = e >> 4;
        if (depth == 0)
            SET(r, mpls_label_top, PM_P_MPLS_LABEL_TOP, label);
        r->mpls_label_bottom = label;
        depth++;
        int w = snprintf(buf + blen, sizeof(buf) - blen, "%s%u",
                         blen ? "," : "", label);
        if (w > 0 && (size_t)w < sizeof(buf) - blen)
            blen += (size_t)w;
        if (e & 1) /* bottom of stack */
            break;
    }
    if (!depth)
        return;
    pm_rec_set(r, PM_P_MPLS_LABEL_BOTTOM);
    SET(r, mpls_stack_depth, PM_P_MPLS_STACK_DEPTH, depth);
    if (c->b && c->host->batch_str(c->b, buf, blen, &r->mpls_label_stack) == 0)
        pm_rec_set(r, PM_P_MPLS_LABEL_STACK);
}

static void vrf(struct nf_ctx *c, const struct nf_hdr *h, struct pm_rec *r,
                uint32_t id, unsigned prim, pm_sref_t *out)
{
    const char *name = h->src ? nf_src_vrf(h->src, id) : NULL;
    if (!name || !c->b)
        return;
    if (c->host->batch_str(c->b, name, strlen(name), out) == 0)
        pm_rec_set(r, prim);
}

/* Absolute time of a sysUptime-relative value. */
static inline __attribute__((always_inline)) void
uptime_ts(struct nf_ctx *c, const struct nf_hdr *h, uint32_t t, pm_ts_t *ts)
{
    if (h->version == 10) {
        /* relative to systemInitTimeMilliseconds from options data */
        uint64_t ms = h->src->sysinit_ms + t;
        ts->sec = ms / 1000u;
        ts->usec = (uint32_t)(ms % 1000u) * 1000u;
        return;
    }
    /* v9, as nfacctd 1.7.7: export seconds minus the age in seconds */
    uint64_t age = c->cfg->time_secs ? (uint32_t)(h->uptime - t)
                                     : (uint32_t)(h->uptime - t) / 1000u;
    ts->sec = h->unix_secs >= age ? h->unix_secs - age : 0;
    ts->usec = 0;
}

static uint32_t flow_rate(const struct nf_flow *fl)
{
    if ((fl->have & H_SPACE) && fl->rate)
        return (uint32_t)(((uint64_t)fl->rate + fl->space) / fl->rate);
    return fl->rate;
}

/* Custom primitives with a field_type: the field's bytes as they are on
 * the wire.  As nfacctd 1.7.7 does (observed), a primitive is filled only
 * when the field has exactly `len` bytes, whatever its semantics; a field
 * of another length leaves it unset (printed as zero).  The first matching
 * field of the template wins. */
static void custom(struct nf_ctx *c, struct pm_rec *r, const struct nf_tmpl *t,
                   const uint8_t *p, const uint32_t *off, const uint16_t *len)
{
    for (uint32_t k = 0; k < c->ncprims; k++) {
        const struct pm_custom_prim *cp = &c->cprims[k];
        if (!cp->field_type || pm_rec_has(r, cp->id))
            continue;
        for (uint16_t i = 0; i < t->nfields; i++) {
            const struct nf_field *f = &t->f[i];
            uint32_t n = len[i];
            if (f->id != cp->field_type || f->pen != cp->pen || !n)
                continue;
            if (n != cp->len)
                continue;
            memcpy(r->custom + cp->rec_off, p + off[i], n);
            pm_rec_set(r, cp->id);
            break;
        }
    }
}

int nf_ie_record(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                 const uint8_t *p, const uint32_t *off, const uint16_t *len)
{
    struct nf_flow fl;
    nf_flow_init(&fl);
    struct pm_rec *r = nf_rec_new(c, h);
    if (!r)
        return -ENOBUFS;
    if (t->prog) {
        nf_prog_exec(c, t, r, &fl, p, off, len);
    } else {
        for (uint16_t i = 0; i < t->nfields; i++)
            apply(c, h, r, &fl, &t->f[i], p + off[i], len[i]);
    }
    if (c->ncprims)
        custom(c, r, t, p, off, len);

    r->bytes = (fl.have & H_BYTES)   ? fl.bytes
               : (fl.have & H_TOTB)  ? fl.totb
               : (fl.have & H_POSTB) ? fl.postb
               : (fl.have & H_INITB) ? fl.initb
               : (fl.have & H_FRAME) ? fl.frame_bytes
                                     : 0;
    r->packets = (fl.have & H_PKTS)    ? fl.packets
                 : (fl.have & H_TOTP)  ? fl.totp
                 : (fl.have & H_POSTP) ? fl.postp
                 : (fl.have & H_INITP) ? fl.initp
                 : (fl.have & H_FRAME) ? 1
                                       : 0;
    if ((fl.have & H_FLOWS) && fl.flows)
        r->flows = fl.flows;

    /* times */
    int have_sys = h->version == 9 || (h->src && h->src->has_sysinit);
    if (fl.have & H_START)
        r->ts_start = fl.start;
    else if ((fl.have & H_FIRST) && have_sys)
        uptime_ts(c, h, fl.first_up, &r->ts_start);
    else if (fl.have & H_DSTART) {
        uint64_t us = (uint64_t)h->unix_secs * 1000000u;
        us = us >= fl.dstart_us ? us - fl.dstart_us : 0;
        r->ts_start.sec = us / 1000000u;
        r->ts_start.usec = (uint32_t)(us % 1000000u);
        fl.have |= H_START;
    } else if (fl.have & H_OBS)
        r->ts_start = fl.obs;
    if (fl.have & H_END)
        r->ts_end = fl.end;
    else if ((fl.have & H_LAST) && have_sys)
        uptime_ts(c, h, fl.last_up, &r->ts_end);
    else if (fl.have & H_DEND) {
        uint64_t us = (uint64_t)h->unix_secs * 1000000u;
        us = us >= fl.dend_us ? us - fl.dend_us : 0;
        r->ts_end.sec = us / 1000000u;
        r->ts_end.usec = (uint32_t)(us % 1000000u);
        fl.have |= H_END;
    }
    if (!(fl.have & (H_START | H_FIRST | H_OBS)) ||
        (r->ts_start.sec == 0 && r->ts_start.usec == 0)) {
        /* no flow time: nfacctd 1.7.7 uses the export time */
        r->ts_start.sec = h->unix_secs;
        r->ts_start.usec = 0;
    }
    pm_rec_set(r, PM_P_TIMESTAMP_START);
    if ((fl.have & (H_END | H_LAST)) && (r->ts_end.sec || r->ts_end.usec))
        pm_rec_set(r, PM_P_TIMESTAMP_END);
    else
        memset(&r->ts_end, 0, sizeof(r->ts_end));

    /* sampling */
    uint32_t rate = 0;
    if (fl.have & H_RATE)
        rate = flow_rate(&fl);
    else if (h->src) {
        if (fl.have & H_SAMPLER)
            rate = nf_src_sampler(h->src, fl.sampler_id);
        if (!rate)
            rate = h->src->def_rate;
        if (!rate && h->src->nsamplers == 1)
            rate = h->src->samplers[0].rate;
    }
    SET(r, sampling_rate, PM_P_SAMPLING_RATE, rate);

    if (fl.have & H_BGPNH) {
        r->peer_dst_ip = fl.bgp_nh;
        pm_rec_set(r, PM_P_PEER_DST_IP);
    }
    if (fl.have & H_FWEV)
        SET(r, fw_event, PM_P_FW_EVENT, fl.fwev);
    else if (fl.have & H_FWEVX)
        SET(r, fw_event, PM_P_FW_EVENT, fl.fwevx);
    if (fl.label_mask)
        mpls(c, r, &fl);
    if (fl.have & H_INVRF)
        vrf(c, h, r, fl.in_vrf, PM_P_IN_VRF, &r->in_vrf);
    if (fl.have & H_OUTVRF)
        vrf(c, h, r, fl.out_vrf, PM_P_OUT_VRF, &r->out_vrf);
    nf_rec_done(c, r);
    return 0;
}

void nf_ie_options(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                   const uint8_t *p, const uint32_t *off, const uint16_t *len)
{
    struct nf_flow fl;
    nf_flow_init(&fl);
    for (uint16_t i = 0; i < t->nfields; i++) {
        const struct nf_field *f = &t->f[i];
        /* v9 scope fields use their own type space (1 System, 2 Interface,
         * ...): only options fields are IEs */
        if (h->version == 9 && i < t->nscope)
            continue;
        apply(c, h, NULL, &fl, f, p + off[i], len[i]);
    }
    struct nf_src *s = h->src;
    if (!s)
        return;
    if (fl.have & H_RATE) {
        if (fl.have & H_SAMPLER)
            nf_src_set_sampler(s, fl.sampler_id, flow_rate(&fl));
        else
            s->def_rate = flow_rate(&fl);
    }
    if ((fl.have & H_VRFNAME) && (fl.have & (H_INVRF | H_OUTVRF)))
        nf_src_set_vrf(s, (fl.have & H_INVRF) ? fl.in_vrf : fl.out_vrf,
                       (const char *)fl.vrfname, fl.vrfname_len);
    if (fl.have & H_SYSINIT) {
        s->sysinit_ms = fl.sysinit_ms;
        s->has_sysinit = 1;
    }
    (void)c;
}
