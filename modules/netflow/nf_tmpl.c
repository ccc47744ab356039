/*
 * nf_tmpl.c - per-exporter state of the netflow module: templates and
 * options templates keyed by (exporter address, source id / observation
 * domain, version, template id), capped per exporter; per-source state
 * (sequence tracking, samplers, VRF names, system init time); and the
 * bounded store of data sets that arrived before their template.
 *
 * Threads: capture thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nf.h"
#include "nf_prog.h"

static uint32_t key_hash(const pm_ip_t *exp, uint32_t domain, uint32_t extra)
{
    uint32_t h = 2166136261u ^ exp->af;
    for (int i = 0; i < 16; i++)
        h = (h ^ exp->a[i]) * 16777619u;
    h = (h ^ domain) * 16777619u;
    h = (h ^ extra) * 16777619u;
    h ^= h >> 15;
    return h;
}

static int same_exp(const pm_ip_t *a, const pm_ip_t *b)
{
    return a->af == b->af && !memcmp(a->a, b->a, 16);
}

/* ---- templates ------------------------------------------------------------ */

static struct nf_tmpl **tmpl_slot(struct nf_ctx *c, const pm_ip_t *exp,
                                  uint32_t domain, uint8_t version,
                                  uint16_t id)
{
    uint32_t h = key_hash(exp, domain, (uint32_t)version << 16 | id);
    struct nf_tmpl **pp = &c->th[h & (c->thcap - 1)];
    while (*pp) {
        struct nf_tmpl *t = *pp;
        if (t->id == id && t->domain == domain && t->version == version &&
            same_exp(&t->exp, exp))
            return pp;
        pp = &t->next;
    }
    return pp;
}

struct nf_tmpl *nf_tmpl_find(struct nf_ctx *c, const pm_ip_t *exp,
                             uint32_t domain, uint8_t version, uint16_t id)
{
    return *tmpl_slot(c, exp, domain, version, id);
}

static void tmpl_grow(struct nf_ctx *c)
{
    uint32_t nc = c->thcap * 2;
    struct nf_tmpl **nt = calloc(nc, sizeof(*nt));
    if (!nt)
        return;
    for (uint32_t i = 0; i < c->thcap; i++) {
        struct nf_tmpl *t = c->th[i], *next;
        for (; t; t = next) {
            next = t->next;
            uint32_t h = key_hash(&t->exp, t->domain,
                                  (uint32_t)t->version << 16 | t->id);
            t->next = nt[h & (nc - 1)];
            nt[h & (nc - 1)] = t;
        }
    }
    free(c->th);
    c->th = nt;
    c->thcap = nc;
}

static void tmpl_unlink(struct nf_ctx *c, struct nf_tmpl **pp)
{
    struct nf_tmpl *t = *pp;
    *pp = t->next;
    struct pm_exp_stats *st = pm_exptab_find(&c->exps, &t->exp);
    if (st && st->templates)
        st->templates--;
    c->ntmpl--;
    free(t);
}

struct nf_tmpl *nf_tmpl_put(struct nf_ctx *c, struct nf_hdr *h, uint16_t id,
                            int options, uint16_t nscope,
                            const struct nf_field *f, uint16_t nfields)
{
    uint32_t minlen = 0, varlen = 0;
    for (uint16_t i = 0; i < nfields; i++) {
        if (f[i].len == 65535) {
            varlen = 1;
            minlen += 1;
        } else
            minlen += f[i].len;
    }
    if (minlen == 0 || minlen > 65535) {
        pm_counter_add(c->c_templates_refused, 1);
        nf_malformed(c, h, "template %u: record length %u is invalid", id,
                     minlen);
        return NULL;
    }
    struct nf_tmpl **pp = tmpl_slot(c, &h->exp, h->domain,
                                    (uint8_t)h->version, id);
    struct nf_tmpl *t = *pp;
    if (t && t->nfields == nfields && t->options == options &&
        t->nscope == nscope &&
        !memcmp(t->f, f, nfields * sizeof(*f))) {
        t->last = nf_now(c, h); /* refresh */
        return t;
    }
    if (t) { /* redefinition */
        tmpl_unlink(c, pp);
        pp = tmpl_slot(c, &h->exp, h->domain, (uint8_t)h->version, id);
    }
    uint32_t max = (uint32_t)(c->cfg->templates_max ? c->cfg->templates_max
                                                    : 4096);
    if (h->st && h->st->templates >= max) {
        pm_counter_add(c->c_templates_refused, 1);
        h->st->refused++;
        c->host->log_limited(c->inst, PM_LOG_WARNING, "netflow-tmpl-cap",
                             "exporter %s: template %u refused: already %u "
                             "templates (nfacctd_templates_max)",
                             nf_expstr(h), id, h->st->templates);
        return NULL;
    }
    if (!h->st) {
        pm_counter_add(c->c_templates_refused, 1);
        return NULL;
    }
    size_t fbytes = (nfields * sizeof(*f) + 7) & ~(size_t)7;
    t = calloc(1, sizeof(*t) + fbytes + nf_prog_bytes(nfields));
    if (!t)
        return NULL;
    t->exp = h->exp;
    t->domain = h->domain;
    t->id = id;
    t->version = (uint8_t)h->version;
    t->options = (uint8_t)options;
    t->nfields = nfields;
    t->nscope = nscope;
    t->minlen = minlen;
    t->varlen = varlen;
    t->last = nf_now(c, h);
    memcpy(t->f, f, nfields * sizeof(*f));
    t->prog = nf_prog_build(t, (uint8_t *)t->f + fbytes);
    *pp = t;
    c->ntmpl++;
    h->st->templates++;
    pm_counter_add(c->c_templates, 1);
    if (c->ntmpl > c->thcap * 2)
        tmpl_grow(c);
    return t;
}

void nf_tmpl_withdraw(struct nf_ctx *c, struct nf_hdr *h, uint16_t id)
{
    if (id >= 256) {
        struct nf_tmpl **pp = tmpl_slot(c, &h->exp, h->domain,
                                        (uint8_t)h->version, id);
        if (*pp)
            tmpl_unlink(c, pp);
        return;
    }
    /* 2: all data templates, 3: all options templates of the domain */
    for (uint32_t i = 0; i < c->thcap; i++) {
        struct nf_tmpl **pp = &c->th[i];
        while (*pp) {
            struct nf_tmpl *t = *pp;
            if (t->domain == h->domain && t->version == h->version &&
                same_exp(&t->exp, &h->exp) && t->options == (id == 3))
                tmpl_unlink(c, pp);
            else
                pp = &t->next;
        }
    }
}

void nf_tmpl_expire(struct nf_ctx *c, uint64_t now)
{
    uint64_t to = c->cfg->templates_timeout;
    for (uint32_t i = 0; i < c->thcap; i++) {
        struct nf_tmpl **pp = &c->th[i];
        while (*pp) {
            struct nf_tmpl *t = *pp;
            if (t->last + to < now)
                tmpl_unlink(c, pp);
            else
                pp = &t->next;
        }
    }
}

/* ---- sources --------------------------------------------------------------- */

struct nf_src *nf_src_get(struct nf_ctx *c, const pm_ip_t *exp,
                          uint32_t domain, uint8_t version)
{
    uint32_t h = key_hash(exp, domain, version);
    struct nf_src **pp = &c->sh[h & (c->shcap - 1)];
    for (; *pp; pp = &(*pp)->next) {
        struct nf_src *s = *pp;
        if (s->domain == domain && s->version == version &&
            same_exp(&s->exp, exp))
            return s;
    }
    /* bounded like the exporter table: four sources per exporter */
    if (c->nsrc >= (c->cfg->max_exporters ? c->cfg->max_exporters : 65536) * 4)
        return NULL;
    struct nf_src *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->exp = *exp;
    s->domain = domain;
    s->version = version;
    *pp = s;
    c->nsrc++;
    if (c->nsrc > c->shcap * 2) {
        uint32_t nc = c->shcap * 2;
        struct nf_src **ns = calloc(nc, sizeof(*ns));
        if (ns) {
            for (uint32_t i = 0; i < c->shcap; i++) {
                struct nf_src *x = c->sh[i], *next;
                for (; x; x = next) {
                    next = x->next;
                    uint32_t k = key_hash(&x->exp, x->domain, x->version);
                    x->next = ns[k & (nc - 1)];
                    ns[k & (nc - 1)] = x;
                }
            }
            free(c->sh);
            c->sh = ns;
            c->shcap = nc;
        }
    }
    return s;
}

void nf_src_set_sampler(struct nf_src *s, uint32_t id, uint32_t rate)
{
    for (uint32_t i = 0; i < s->nsamplers; i++)
        if (s->samplers[i].id == id) {
            s->samplers[i].rate = rate;
            return;
        }
    uint32_t i = s->nsamplers < NF_MAX_SAMPLERS ? s->nsamplers++
                                                : (id % NF_MAX_SAMPLERS);
    s->samplers[i].id = id;
    s->samplers[i].rate = rate;
}

uint32_t nf_src_sampler(const struct nf_src *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->nsamplers; i++)
        if (s->samplers[i].id == id)
            return s->samplers[i].rate;
    return 0;
}

void nf_src_set_vrf(struct nf_src *s, uint32_t id, const char *name,
                    size_t len)
{
    uint32_t i;
    for (i = 0; i < s->nvrfs; i++)
        if (s->vrfs[i].id == id)
            break;
    if (i == s->nvrfs) {
        if (s->nvrfs < NF_MAX_VRFS)
            s->nvrfs++;
        else
            i = id % NF_MAX_VRFS;
    }
    /* names are often NUL padded */
    size_t n = strnlen(name, len);
    if (n >= NF_VRF_NAME)
        n = NF_VRF_NAME - 1;
    s->vrfs[i].id = id;
    memcpy(s->vrfs[i].name, name, n);
    s->vrfs[i].name[n] = 0;
}

const char *nf_src_vrf(const struct nf_src *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->nvrfs; i++)
        if (s->vrfs[i].id == id)
            return s->vrfs[i].name;
    return NULL;
}

/* ---- data waiting for templates ------------------------------------------ */

#define NF_PENDING_MAX_SETS 4096

static void pending_drop_head(struct nf_ctx *c)
{
    struct nf_pending *p = c->pend_head;
    c->pend_head = p->next;
    if (!c->pend_head)
        c->pend_tail = NULL;
    c->pend_bytes -= p->len;
    c->npend--;
    pm_counter_add(c->c_dropped_pending, 1);
    free(p);
}

int nf_pending_add(struct nf_ctx *c, struct nf_hdr *h, uint16_t set_id,
                   const uint8_t *data, uint32_t len)
{
    uint64_t cap = c->cfg->pending_size;
    if (cap == 0 || len > cap) {
        pm_counter_add(c->c_dropped_pending, 1);
        return -ENOSPC;
    }
    while (c->pend_head &&
           (c->pend_bytes + len > cap || c->npend >= NF_PENDING_MAX_SETS))
        pending_drop_head(c);
    struct nf_pending *p = malloc(sizeof(*p) + len);
    if (!p) {
        pm_counter_add(c->c_dropped_pending, 1);
        return -ENOMEM;
    }
    memset(p, 0, sizeof(*p));
    p->exp = h->exp;
    p->domain = h->domain;
    p->set_id = set_id;
    p->version = (uint8_t)h->version;
    p->uptime = h->uptime;
    p->unix_secs = h->unix_secs;
    p->seq = h->seq;
    p->arrival = h->arrival;
    p->added = nf_now(c, h);
    p->len = len;
    memcpy(p->data, data, len);
    if (c->pend_tail)
        c->pend_tail->next = p;
    else
        c->pend_head = p;
    c->pend_tail = p;
    c->pend_bytes += len;
    c->npend++;
    return 0;
}

void nf_pending_run(struct nf_ctx *c, struct nf_hdr *h,
                    const struct nf_tmpl *t)
{
    struct nf_pending **pp = &c->pend_head, *prev = NULL;
    while (*pp) {
        struct nf_pending *p = *pp;
        if (p->set_id != t->id || p->domain != t->domain ||
            p->version != t->version || !same_exp(&p->exp, &t->exp)) {
            prev = p;
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        if (c->pend_tail == p)
            c->pend_tail = prev;
        c->pend_bytes -= p->len;
        c->npend--;
        struct nf_hdr ph = *h;
        ph.uptime = p->uptime;
        ph.unix_secs = p->unix_secs;
        ph.seq = p->seq;
        ph.arrival = p->arrival;
        nf_data_set(c, &ph, t, p->data, p->len);
        free(p);
    }
}

void nf_pending_expire(struct nf_ctx *c, uint64_t now)
{
    while (c->pend_head && c->pend_head->added + c->cfg->pending_time < now)
        pending_drop_head(c);
}

void nf_tables_free(struct nf_ctx *c)
{
    for (uint32_t i = 0; c->th && i < c->thcap; i++) {
        struct nf_tmpl *t = c->th[i], *n;
        for (; t; t = n) {
            n = t->next;
            free(t);
        }
        c->th[i] = NULL;
    }
    for (uint32_t i = 0; c->sh && i < c->shcap; i++) {
        struct nf_src *s = c->sh[i], *n;
        for (; s; s = n) {
            n = s->next;
            free(s);
        }
        c->sh[i] = NULL;
    }
    struct nf_pending *p = c->pend_head, *n;
    for (; p; p = n) {
        n = p->next;
        free(p);
    }
    c->pend_head = c->pend_tail = NULL;
    c->pend_bytes = 0;
    c->npend = 0;
    c->ntmpl = 0;
    c->nsrc = 0;
}
