/*
 * pretag.c - pmacct's pre_tag_map: one rule per line, `key=value` pairs
 * separated by blanks, `!` (or `#`) comments.  Set keys: set_tag/id,
 * set_tag2/id2 (value N or N++), set_label.  Match keys: ip, in, out,
 * nexthop, bgp_nexthop, filter ('BPF'), src_mac, dst_mac, vlan, cvlan,
 * src_net, dst_net, src_as, dst_as, peer_src_as, peer_dst_as, local_pref,
 * mpls_vpn_rd, mpls_pw_id, mpls_label_bottom, sampling_rate, direction,
 * engine_type, engine_id; a leading '-' negates (not for ip and filter).
 * Flow: label=NAME (jump target), jeq=NAME|next, return=true, stack=sum|or.
 * The first matching rule wins unless it jumps.
 *
 * Index: every rule's non-negated exact-match conditions (addresses only
 * as full-length prefixes) form its signature; rules sharing a signature
 * are hashed on their values (up to PT_MAX_GROUPS signatures, the rest go
 * to a linear list).  Evaluation probes each group once, then walks the
 * candidate rules in file order with a k-way merge, checking every
 * condition: results are the same as a linear scan.
 *
 * Threads: a map is used by one pipeline thread; the `N++` counters are the
 * only state changed after loading.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretag.h"
#include "pretag_int.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static uint64_t mix_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    uint64_t v;
    while (n >= 8) {
        memcpy(&v, p, 8);
        h = mix(h, v);
        p += 8;
        n -= 8;
    }
    v = 0;
    memcpy(&v, p, n);
    return mix(h, v);
}

static uint64_t rec_u(const struct pm_rec *r, const struct pt_key *k)
{
    const uint8_t *p = (const uint8_t *)r + k->off;
    uint32_t v32;
    uint16_t v16;
    switch (k->kind) {
    case K_U32:
        memcpy(&v32, p, 4);
        return v32;
    case K_U16:
        memcpy(&v16, p, 2);
        return v16;
    case K_U8:
        return *p;
    case K_SYSID:
        memcpy(&v32, p, 4);
        return (v32 >> k->arg) & 0xff;
    }
    return 0;
}

/* Value hash of key k for record r (as the index sees it). */
static uint64_t rec_keyhash(uint64_t h, const struct pm_rec *r,
                            const struct pt_key *k)
{
    const uint8_t *p = (const uint8_t *)r + k->off;
    switch (k->kind) {
    case K_IP: {
        const pm_ip_t *ip = (const pm_ip_t *)(const void *)p;
        uint8_t af = ip->af ? ip->af : 4;
        h = mix(h, af);
        return mix_bytes(h, ip->a, af == 6 ? 16 : 4);
    }
    case K_MAC:
        return mix_bytes(h, p, 6);
    case K_RD:
        return mix_bytes(h, p, 8);
    default:
        return mix(h, rec_u(r, k));
    }
}

static uint64_t cond_keyhash(uint64_t h, const struct pt_cond *c)
{
    switch (pt_keys[c->key].kind) {
    case K_IP:
        h = mix(h, c->af);
        return mix_bytes(h, c->b, c->af == 6 ? 16 : 4);
    case K_MAC:
        return mix_bytes(h, c->b, 6);
    case K_RD:
        return mix_bytes(h, c->b, 8);
    default:
        return mix(h, c->u);
    }
}

static int prefix_match(const uint8_t *a, const uint8_t *p, unsigned plen)
{
    unsigned full = plen / 8, rest = plen % 8;
    if (memcmp(a, p, full))
        return 0;
    if (rest) {
        uint8_t m = (uint8_t)(0xff << (8 - rest));
        if ((a[full] & m) != (p[full] & m))
            return 0;
    }
    return 1;
}

int pt_bpf_compile_dlt(struct pt_bpf *f, int dlt, char *err, size_t errlen)
{
    pcap_t *p;
    unsigned i = f->n;
    if (i == PT_MAX_DLT)
        return -ENOSPC;
    p = pcap_open_dead(dlt, 65535);
    if (!p) {
        snprintf(err, errlen, "pcap_open_dead failed");
        return -ENOMEM;
    }
    f->dlt[i] = dlt;
    f->ok[i] = pcap_compile(p, &f->prog[i], f->expr, 1,
                            PCAP_NETMASK_UNKNOWN) == 0;
    if (!f->ok[i])
        snprintf(err, errlen, "%s", pcap_geterr(p));
    pcap_close(p);
    f->n++;
    return f->ok[i] ? 0 : -EINVAL;
}

static int bpf_match(struct pt_map *m, struct pt_bpf *f, const struct pm_rec *r)
{
    struct pcap_pkthdr h;
    const uint8_t *pkt;
    int dlt = r->pkt ? r->dlt : 1;
    unsigned i;
    char err[PCAP_ERRBUF_SIZE];

    for (i = 0; i < f->n; i++)
        if (f->dlt[i] == dlt)
            break;
    if (i == f->n && pt_bpf_compile_dlt(f, dlt, err, sizeof(err)) == -ENOSPC)
        return 0;
    if (!f->ok[i])
        return 0;
    memset(&h, 0, sizeof(h));
    if (r->pkt) {
        pkt = r->pkt;
        h.caplen = r->pkt_caplen;
        h.len = r->pkt_len ? r->pkt_len : r->pkt_caplen;
    } else {
        uint32_t wire;
        pkt = m->frame;
        h.caplen = m->host->record_frame(r, m->frame, &wire);
        h.len = wire > h.caplen ? wire : h.caplen;
    }
    return pcap_offline_filter(&f->prog[i], &h, pkt) != 0;
}

static int cond_match(struct pt_map *m, const struct pt_rule *ru,
                      const struct pt_cond *c, const struct pm_rec *r)
{
    const struct pt_key *k = &pt_keys[c->key];
    const uint8_t *p = (const uint8_t *)r + k->off;
    int ok;

    switch (k->kind) {
    case K_IP: {
        const pm_ip_t *ip = (const pm_ip_t *)(const void *)p;
        uint8_t af = ip->af ? ip->af : 4;
        ok = af == c->af && prefix_match(ip->a, c->b, c->plen);
        break;
    }
    case K_MAC:
        ok = !memcmp(p, c->b, 6);
        break;
    case K_RD:
        ok = !memcmp(p, c->b, 8);
        break;
    case K_FILTER:
        ok = bpf_match(m, ru->bpf, r);
        break;
    default:
        ok = rec_u(r, k) == c->u;
        break;
    }
    return c->neg ? !ok : ok;
}

static int rule_match(struct pt_map *m, const struct pt_rule *ru,
                      const struct pm_rec *r)
{
    uint32_t i;
    /* cheap conditions first: the filter is always last (see parse) */
    for (i = 0; i < ru->ncond; i++)
        if (!cond_match(m, ru, &ru->cond[i], r))
            return 0;
    return 1;
}

/* ---- index -------------------------------------------------------------- */

static int indexable(const struct pt_cond *c)
{
    const struct pt_key *k = &pt_keys[c->key];
    if (c->neg || k->kind == K_FILTER)
        return 0;
    if (k->kind == K_IP)
        return c->plen == (c->af == 6 ? 128 : 32);
    return 1;
}

struct gent {
    uint32_t group, rule;
    uint64_t hash;
};

static int gent_cmp(const void *a, const void *b)
{
    const struct gent *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return (x->rule > y->rule) - (x->rule < y->rule);
}

static uint64_t sig_hash_rule(const struct pt_rule *ru)
{
    uint64_t h = 0x1234567;
    /* keys in pt_keys order for a stable hash */
    for (unsigned k = 0; k < PT_NKEYS; k++)
        if (ru->sig & (1u << k))
            for (uint32_t i = 0; i < ru->ncond; i++)
                if (ru->cond[i].key == k && indexable(&ru->cond[i]))
                    h = cond_keyhash(h, &ru->cond[i]);
    return h ? h : 1;
}

static uint64_t sig_hash_rec(uint32_t sig, const struct pm_rec *r)
{
    uint64_t h = 0x1234567;
    for (unsigned k = 0; k < PT_NKEYS; k++)
        if (sig & (1u << k))
            h = rec_keyhash(h, r, &pt_keys[k]);
    return h ? h : 1;
}

static int build_index(struct pt_map *m)
{
    struct gent *ge = NULL;
    uint32_t nge = 0, i, g;

    for (i = 0; i < m->n; i++) {
        struct pt_rule *ru = &m->rules[i];
        ru->sig = 0;
        for (uint32_t c = 0; c < ru->ncond; c++)
            if (indexable(&ru->cond[c]))
                ru->sig |= 1u << ru->cond[c].key;
        if (!ru->sig)
            continue;
        for (g = 0; g < m->ngroups; g++)
            if (m->groups[g].sig == ru->sig)
                break;
        if (g == m->ngroups && m->ngroups < PT_MAX_GROUPS)
            m->groups[m->ngroups++].sig = ru->sig;
        if (g == m->ngroups) /* too many signatures: linear */
            ru->sig = 0;
        else
            ru->hash = sig_hash_rule(ru);
    }
    ge = malloc((m->n ? m->n : 1) * sizeof(*ge));
    m->grouped = malloc((m->n ? m->n : 1) * sizeof(uint32_t));
    m->linear = malloc((m->n ? m->n : 1) * sizeof(uint32_t));
    if (!ge || !m->grouped || !m->linear) {
        free(ge);
        return -ENOMEM;
    }
    for (i = 0; i < m->n; i++) {
        struct pt_rule *ru = &m->rules[i];
        if (!ru->sig) {
            m->linear[m->nlinear++] = i;
            continue;
        }
        for (g = 0; m->groups[g].sig != ru->sig; g++)
            ;
        ge[nge].group = g;
        ge[nge].rule = i;
        ge[nge].hash = ru->hash;
        nge++;
    }
    if (nge)
        qsort(ge, nge, sizeof(*ge), gent_cmp);
    for (i = 0; i < nge; i++)
        m->grouped[i] = ge[i].rule;
    for (g = 0; g < m->ngroups; g++) {
        struct pt_group *gr = &m->groups[g];
        uint32_t cnt = 0, j;
        for (j = 0; j < nge; j++)
            cnt += ge[j].group == g;
        gr->nslots = 16;
        while (gr->nslots < cnt * 2)
            gr->nslots <<= 1;
        gr->slots = calloc(gr->nslots, sizeof(*gr->slots));
        if (!gr->slots) {
            free(ge);
            return -ENOMEM;
        }
        for (j = 0; j < nge; j++) {
            uint32_t s, st = j;
            if (ge[j].group != g)
                continue;
            while (j + 1 < nge && ge[j + 1].group == g &&
                   ge[j + 1].hash == ge[st].hash)
                j++;
            s = (uint32_t)ge[st].hash & (gr->nslots - 1);
            while (gr->slots[s].hash)
                s = (s + 1) & (gr->nslots - 1);
            gr->slots[s].hash = ge[st].hash;
            gr->slots[s].start = st;
            gr->slots[s].count = j - st + 1;
        }
    }
    free(ge);
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

int pt_load(const char *path, const struct pm_host *host,
            const struct pt_limits *lim, struct pt_map **out, char *err,
            size_t errlen)
{
    FILE *f = NULL;
    struct pt_map *m = NULL;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t len;
    unsigned line = 0;
    int rc = 0;

    *out = NULL;
    f = fopen(path, "r");
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
        return rc;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        rc = -ENOMEM;
        goto fail;
    }
    m->host = host;
    while ((len = getline(&buf, &bcap, f)) >= 0) {
        struct pt_rule ru;
        line++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        if (lim && lim->max_row_len && (uint64_t)len > lim->max_row_len) {
            snprintf(err, errlen,
                     "%s:%u: line longer than maps_row_len (%llu bytes)",
                     path, line, (unsigned long long)lim->max_row_len);
            rc = -EINVAL;
            goto fail;
        }
        if (memchr(buf, 0, (size_t)len)) {
            snprintf(err, errlen, "%s:%u: NUL byte in line", path, line);
            rc = -EINVAL;
            goto fail;
        }
        rc = pt_parse_line(host, buf, &ru, path, line, err, errlen);
        if (rc < 0) {
            pt_rule_free(&ru);
            goto fail;
        }
        if (rc == 0)
            continue;
        rc = 0;
        if (lim && lim->max_rules && m->n >= lim->max_rules) {
            pt_rule_free(&ru);
            snprintf(err, errlen,
                     "%s:%u: more than maps_entries (%llu) rules; raise "
                     "maps_entries",
                     path, line, (unsigned long long)lim->max_rules);
            rc = -EINVAL;
            goto fail;
        }
        if (m->n == m->cap) {
            uint32_t nc = m->cap ? m->cap * 2 : 64;
            struct pt_rule *nr = realloc(m->rules, nc * sizeof(*nr));
            if (!nr) {
                pt_rule_free(&ru);
                rc = -ENOMEM;
                goto fail;
            }
            m->rules = nr;
            m->cap = nc;
        }
        m->rules[m->n++] = ru;
    }
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    /* resolve jumps: forward only, first rule carrying the label */
    for (uint32_t i = 0; i < m->n; i++) {
        struct pt_rule *ru = &m->rules[i];
        uint32_t j;
        if (!ru->jeq)
            continue;
        if (!strcmp(ru->jeq, "next")) {
            ru->jump = -2;
            continue;
        }
        for (j = i + 1; j < m->n; j++)
            if (m->rules[j].name && !strcmp(m->rules[j].name, ru->jeq))
                break;
        if (j == m->n) {
            snprintf(err, errlen,
                     "%s:%u: jeq=%s: no rule labelled '%s' after this one "
                     "(jumps go forward only)",
                     path, ru->line, ru->jeq, ru->jeq);
            rc = -EINVAL;
            goto fail;
        }
        ru->jump = (int32_t)j;
    }
    rc = build_index(m);
    if (rc < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    free(buf);
    fclose(f);
    *out = m;
    return 0;
fail:
    if (rc == -ENOMEM && err && !*err)
        snprintf(err, errlen, "%s:%u: out of memory", path, line);
    free(buf);
    fclose(f);
    pt_free(m);
    return rc;
}

uint32_t pt_rules(const struct pt_map *m)
{
    return m ? m->n : 0;
}

void pt_index_stats(const struct pt_map *m, uint32_t *groups, uint32_t *linear)
{
    *groups = m->ngroups;
    *linear = m->nlinear;
}

/* ---- evaluation --------------------------------------------------------- */

struct cursor {
    const uint32_t *p, *end;
};

static void label_append(struct pt_result *res, const char *s)
{
    size_t n = strlen(s);
    if (res->label_len) {
        if (res->label_len + 1 >= PT_LABEL_MAX)
            return;
        res->label[res->label_len++] = ',';
    }
    if (res->label_len + n >= PT_LABEL_MAX)
        n = PT_LABEL_MAX - 1 - res->label_len;
    memcpy(res->label + res->label_len, s, n);
    res->label_len += n;
    res->label[res->label_len] = 0;
}

static uint64_t stacked(uint8_t stack, int had, uint64_t old, uint64_t v)
{
    if (!had || !stack)
        return v;
    return stack == 1 ? old + v : (old | v);
}

int pt_eval(struct pt_map *m, const struct pm_rec *r, struct pt_result *res,
            pt_emit_fn emit, void *ud)
{
    struct cursor cur[PT_MAX_GROUPS + 1];
    unsigned nc = 0, i;
    uint32_t pos = 0;

    res->matched = res->has_tag = res->has_tag2 = 0;
    res->tag = res->tag2 = 0;
    res->label_len = 0;
    res->label[0] = 0;
    if (!m || !m->n)
        return 0;
    for (i = 0; i < m->ngroups; i++) {
        const struct pt_group *g = &m->groups[i];
        uint64_t h = sig_hash_rec(g->sig, r);
        uint32_t s = (uint32_t)h & (g->nslots - 1);
        while (g->slots[s].hash) {
            if (g->slots[s].hash == h) {
                cur[nc].p = m->grouped + g->slots[s].start;
                cur[nc].end = cur[nc].p + g->slots[s].count;
                nc++;
                break;
            }
            s = (s + 1) & (g->nslots - 1);
        }
    }
    if (m->nlinear) {
        cur[nc].p = m->linear;
        cur[nc].end = m->linear + m->nlinear;
        nc++;
    }
    for (;;) {
        uint32_t best = UINT32_MAX;
        struct pt_rule *ru;
        for (i = 0; i < nc; i++) {
            while (cur[i].p < cur[i].end && *cur[i].p < pos)
                cur[i].p++;
            if (cur[i].p < cur[i].end && *cur[i].p < best)
                best = *cur[i].p;
        }
        if (best == UINT32_MAX)
            break;
        pos = best + 1;
        ru = &m->rules[best];
        if (!rule_match(m, ru, r))
            continue;
        res->matched = 1;
        if (ru->has_tag) {
            uint64_t v = ru->tag + (ru->tag_inc ? ru->tag_n++ : 0);
            res->tag = stacked(ru->stack, res->has_tag, res->tag, v);
            res->has_tag = 1;
        }
        if (ru->has_tag2) {
            uint64_t v = ru->tag2 + (ru->tag2_inc ? ru->tag2_n++ : 0);
            res->tag2 = stacked(ru->stack, res->has_tag2, res->tag2, v);
            res->has_tag2 = 1;
        }
        if (ru->set_label)
            label_append(res, ru->set_label);
        if (ru->jump == -1)
            break;
        if (ru->ret && emit)
            emit(ud, res);
        if (ru->jump >= 0)
            pos = (uint32_t)ru->jump;
    }
    return res->matched;
}
