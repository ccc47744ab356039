/*
 * nf_v9.c - template-based export: NetFlow v9 (RFC 3954) and IPFIX (RFC
 * 7011): message headers, sequence tracking, template / options template
 * sets (IPFIX withdrawals), data sets with variable-length fields (RFC
 * 7011 §7; accepted in v9 too, as some exporters send them) and data that
 * arrives before its template (held, see nf_tmpl.c).
 *
 * Threads: capture thread only.
 */
#include <errno.h>
#include <string.h>

#include "nf.h"
#include "nf_prog.h"

#define NF_MAX_FIELDS 512

/* Parse the records of a template set.  Returns 0, or -EINVAL when the
 * set is malformed (what was parsed before stays). */
static int template_set(struct nf_ctx *c, struct nf_hdr *h, uint16_t set_id,
                        const uint8_t *p, uint32_t len)
{
    struct nf_field f[NF_MAX_FIELDS];
    int ipfix = h->version == 10;
    int options = ipfix ? set_id == 3 : set_id == 1;
    uint32_t off = 0;
    while (len - off >= 4) {
        uint16_t id = nf_rd16(p + off);
        uint32_t nfields, nscope = 0;
        uint32_t hdr;
        if (!options) {
            nfields = nf_rd16(p + off + 2);
            hdr = 4;
        } else if (ipfix) {
            if (len - off < 6) {
                if (id == 0)
                    break; /* padding */
                goto bad;
            }
            nfields = nf_rd16(p + off + 2);
            nscope = nf_rd16(p + off + 4);
            hdr = nfields ? 6 : 4;
        } else {
            if (len - off < 6) {
                if (id == 0)
                    break;
                goto bad;
            }
            uint32_t slen = nf_rd16(p + off + 2), olen = nf_rd16(p + off + 4);
            if (slen % 4 || olen % 4)
                goto bad;
            nscope = slen / 4;
            nfields = nscope + olen / 4;
            hdr = 6;
        }
        if (id == 0 && nfields == 0 && !ipfix)
            break; /* v9 padding */
        off += hdr;
        if (ipfix && nfields == 0) {
            /* withdrawal (RFC 7011 §8.1) */
            if (id == 2 || id == 3 || id >= 256)
                nf_tmpl_withdraw(c, h, id);
            else
                goto bad;
            continue;
        }
        if (id < 256 || nfields > NF_MAX_FIELDS || nscope > nfields ||
            (ipfix && options && nscope == 0))
            goto bad;
        for (uint32_t i = 0; i < nfields; i++) {
            if (len - off < 4)
                goto bad;
            uint16_t type = nf_rd16(p + off);
            f[i].len = nf_rd16(p + off + 2);
            f[i].pen = 0;
            off += 4;
            if (ipfix && (type & 0x8000)) {
                if (len - off < 4)
                    goto bad;
                f[i].pen = nf_rd32(p + off);
                off += 4;
                type &= 0x7fff;
            }
            f[i].id = type;
        }
        struct nf_tmpl *t = nf_tmpl_put(c, h, id, options, (uint16_t)nscope,
                                        f, (uint16_t)nfields);
        if (t && c->pend_head)
            nf_pending_run(c, h, t);
    }
    return 0;
bad:
    pm_counter_add(c->c_templates_refused, 1);
    nf_malformed(c, h, "malformed %stemplate set %u at offset %u of %u",
                 options ? "options " : "", set_id, off, len);
    return -EINVAL;
}

int nf_data_set(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                const uint8_t *p, uint32_t len)
{
    uint32_t off[NF_MAX_FIELDS];
    uint16_t flen[NF_MAX_FIELDS];
    uint32_t pos = 0;
    int n = 0;
    if (t->prog && t->prog->fixed && !t->options)
        return nf_prog_run(c, h, t, p, len); /* nf_prog.c */
    while (len - pos >= t->minlen) {
        uint32_t q = pos;
        for (uint16_t i = 0; i < t->nfields; i++) {
            uint32_t l = t->f[i].len;
            if (l == 65535) {
                if (len - q < 1)
                    goto overrun;
                l = p[q++];
                if (l == 255) {
                    if (len - q < 2)
                        goto overrun;
                    l = nf_rd16(p + q);
                    q += 2;
                }
            }
            if (len - q < l)
                goto overrun;
            off[i] = q;
            flen[i] = (uint16_t)l;
            q += l;
        }
        if (q == pos) /* cannot happen: minlen > 0 */
            break;
        if (t->options) {
            nf_ie_options(c, h, t, p, off, flen);
            pm_counter_add(c->c_options, 1);
        } else
            nf_ie_record(c, h, t, p, off, flen);
        n++; /* IPFIX sequence numbers count options records too */
        pos = q;
    }
    return n;
overrun:
    if (t->varlen && pos > 0 && len - pos < 4)
        return n; /* padding after variable-length records */
    nf_malformed(c, h,
                 "template %u: record at offset %u overruns its %u-byte set",
                 t->id, pos, len);
    return n;
}

int nf_v9_decode(struct nf_ctx *c, struct nf_hdr *h, const uint8_t *p,
                 uint32_t len)
{
    int ipfix = h->version == 10;
    uint32_t hlen = ipfix ? 16 : 20;
    if (len < hlen) {
        nf_malformed(c, h, "datagram of %u bytes is shorter than the header",
                     len);
        return -EINVAL;
    }
    if (ipfix) {
        uint32_t mlen = nf_rd16(p + 2);
        if (mlen < hlen || mlen > len) {
            nf_malformed(c, h, "IPFIX message length %u, datagram %u bytes",
                         mlen, len);
            return -EINVAL;
        }
        len = mlen;
        h->unix_secs = nf_rd32(p + 4);
        h->seq = nf_rd32(p + 8);
        h->domain = nf_rd32(p + 12);
    } else {
        h->count = nf_rd16(p + 2);
        h->uptime = nf_rd32(p + 4);
        h->unix_secs = nf_rd32(p + 8);
        h->seq = nf_rd32(p + 12);
        h->domain = nf_rd32(p + 16);
    }
    h->sysid = h->domain;
    h->src = nf_src_get(c, &h->exp, h->domain, (uint8_t)h->version);
    if (h->src && !c->cfg->disable_checks && !ipfix) {
        if (h->src->seq_valid && h->seq != h->src->next_seq) {
            pm_counter_add(c->c_seq_gaps, 1);
            if (h->st)
                h->st->seq_gaps++;
        }
        h->src->next_seq = h->seq + 1;
        h->src->seq_valid = 1;
    }
    uint32_t off = hlen;
    int nrec = 0, ndata = 0, bad = 0, unknown = 0;
    while (len - off >= 4) {
        uint16_t sid = nf_rd16(p + off);
        uint32_t slen = nf_rd16(p + off + 2);
        if (sid == 0 && slen == 0 && !ipfix)
            break; /* zero padding after the last flowset */
        if (slen < 4 || slen > len - off) {
            nf_malformed(c, h, "set %u length %u at offset %u of %u", sid,
                         slen, off, len);
            bad = 1;
            break;
        }
        const uint8_t *body = p + off + 4;
        uint32_t blen = slen - 4;
        if ((!ipfix && sid <= 1) || (ipfix && (sid == 2 || sid == 3))) {
            template_set(c, h, sid, body, blen);
        } else if (sid >= 256) {
            const struct nf_tmpl *t =
                nf_tmpl_find(c, &h->exp, h->domain, (uint8_t)h->version, sid);
            if (t) {
                int r = nf_data_set(c, h, t, body, blen);
                ndata += r;
                if (!t->options)
                    nrec += r;
            } else {
                unknown = 1;
                pm_counter_add(c->c_unknown_template, 1);
                if (h->st)
                    h->st->unknown_template++;
                c->host->log_limited(c->inst, PM_LOG_INFO, "netflow-notmpl",
                                     "exporter %s: v%u data set %u of "
                                     "domain %u before its template",
                                     nf_expstr(h), h->version, sid, h->domain);
                nf_pending_add(c, h, sid, body, blen);
            }
        } else {
            /* reserved set ids: skip */
        }
        off += slen;
    }
    if (ipfix && h->src && !c->cfg->disable_checks) {
        if (h->src->seq_valid && h->seq != h->src->next_seq) {
            pm_counter_add(c->c_seq_gaps, 1);
            if (h->st)
                h->st->seq_gaps++;
        }
        /* IPFIX counts data records (RFC 7011 §3.1) */
        h->src->next_seq = h->seq + (uint32_t)ndata;
        /* records of sets we could not read are not counted: resync */
        h->src->seq_valid = !unknown && !bad;
    }
    return bad && nrec == 0 ? -EINVAL : nrec;
}
