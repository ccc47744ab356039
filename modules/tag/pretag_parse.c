/*
 * pretag_parse.c - pre_tag_map parsing: the table of match keys, one map
 * line into a rule (conditions, set_tag/set_tag2/set_label, jeq, stack,
 * return), freeing rules and maps, and the pre_tag_filter /
 * pre_tag2_filter expressions.  Pure code, no shared state.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pretag.h"
#include "pretag_int.h"

#define OFF(f) offsetof(struct pm_rec, f)
const struct pt_key pt_keys[] = {
    {"ip", K_IP, 0, 0, OFF(peer_src_ip)},
    {"in", K_U32, 1, 0, OFF(in_iface)},
    {"out", K_U32, 1, 0, OFF(out_iface)},
    {"nexthop", K_IP, 1, 0, OFF(peer_dst_ip)},
    {"bgp_nexthop", K_IP, 1, 0, OFF(peer_dst_ip)},
    {"src_mac", K_MAC, 1, 0, OFF(src_mac)},
    {"dst_mac", K_MAC, 1, 0, OFF(dst_mac)},
    {"vlan", K_U16, 1, 0, OFF(vlan)},
    {"cvlan", K_U16, 1, 0, OFF(cvlan)},
    {"src_net", K_IP, 1, 0, OFF(src_host)},
    {"dst_net", K_IP, 1, 0, OFF(dst_host)},
    {"src_as", K_U32, 1, 0, OFF(src_as)},
    {"dst_as", K_U32, 1, 0, OFF(dst_as)},
    {"peer_src_as", K_U32, 1, 0, OFF(peer_src_as)},
    {"peer_dst_as", K_U32, 1, 0, OFF(peer_dst_as)},
    {"local_pref", K_U32, 1, 0, OFF(local_pref)},
    {"mpls_vpn_rd", K_RD, 1, 0, OFF(mpls_vpn_rd)},
    {"mpls_pw_id", K_U32, 1, 0, OFF(mpls_pw_id)},
    {"mpls_label_bottom", K_U32, 1, 0, OFF(mpls_label_bottom)},
    {"sampling_rate", K_U32, 1, 0, OFF(sampling_rate)},
    {"direction", K_U8, 1, 0, OFF(direction)},
    {"engine_type", K_SYSID, 1, 8, OFF(export_proto_sysid)},
    {"engine_id", K_SYSID, 1, 0, OFF(export_proto_sysid)},
    {"filter", K_FILTER, 0, 0, 0},
};

/* ---- parsing ------------------------------------------------------------ */

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || !isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno || *end ? -EINVAL : 0;
}

static int parse_prefix(const char *s, struct pt_cond *c)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    uint64_t plen;

    if (n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = 0;
    memset(c->b, 0, sizeof(c->b));
    if (inet_pton(AF_INET, buf, c->b) == 1)
        c->af = 4;
    else if (inet_pton(AF_INET6, buf, c->b) == 1)
        c->af = 6;
    else
        return -EINVAL;
    plen = c->af == 6 ? 128 : 32;
    if (slash) {
        uint64_t l;
        if (parse_u64(slash + 1, &l) < 0 || l > plen)
            return -EINVAL;
        plen = l;
    }
    c->plen = (uint8_t)plen;
    return 0;
}

/* value "N" or "N++" */
static int parse_tag(const char *s, uint64_t *v, uint8_t *inc)
{
    char buf[32];
    size_t n = strlen(s);
    *inc = 0;
    if (n > 2 && !strcmp(s + n - 2, "++")) {
        if (n - 2 >= sizeof(buf))
            return -EINVAL;
        memcpy(buf, s, n - 2);
        buf[n - 2] = 0;
        *inc = 1;
        return parse_u64(buf, v);
    }
    return parse_u64(s, v);
}

static int parse_bool(const char *s, uint8_t *v)
{
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes"))
        *v = 1;
    else if (!strcasecmp(s, "false") || !strcmp(s, "0") ||
             !strcasecmp(s, "no"))
        *v = 0;
    else
        return -EINVAL;
    return 0;
}

#define PERR(...)                                                              \
    do {                                                                       \
        int o_ = snprintf(err, errlen, "%s:%u: ", path, line);                 \
        if (o_ >= 0 && (size_t)o_ < errlen)                                    \
            snprintf(err + o_, errlen - (size_t)o_, __VA_ARGS__);              \
        return -EINVAL;                                                        \
    } while (0)

static int parse_cond(const struct pm_host *host, struct pt_rule *ru,
                      unsigned ki, const char *val, const char *path,
                      unsigned line, char *err, size_t errlen)
{
    const struct pt_key *k = &pt_keys[ki];
    struct pt_cond *c;
    char perr[PCAP_ERRBUF_SIZE + 16];
    int neg = 0;
    unsigned i;

    for (i = 0; i < ru->ncond; i++)
        if (ru->cond[i].key == ki)
            PERR("key '%s' given twice", k->name);
    if (ru->ncond == PT_MAX_CONDS)
        PERR("too many keys in one rule");
    if (*val == '-' && k->kind != K_FILTER) {
        if (!k->neg_ok)
            PERR("%s: negation ('-') is not supported", k->name);
        neg = 1;
        val++;
    }
    c = &ru->cond[ru->ncond];
    memset(c, 0, sizeof(*c));
    c->key = (uint8_t)ki;
    c->neg = (uint8_t)neg;
    switch (k->kind) {
    case K_U32:
    case K_U16:
    case K_U8:
    case K_SYSID: {
        uint64_t max = k->kind == K_U32 ? 0xffffffffull
                       : k->kind == K_U16 ? 0xffff : 0xff;
        if (parse_u64(val, &c->u) < 0 || c->u > max)
            PERR("%s: '%s': expected a number 0-%llu", k->name, val,
                 (unsigned long long)max);
        break;
    }
    case K_IP:
        if (parse_prefix(val, c) < 0)
            PERR("%s: '%s': expected an IPv4/IPv6 address or prefix",
                 k->name, val);
        break;
    case K_MAC:
    case K_RD: {
        struct pm_rec tmp;
        unsigned id = k->kind == K_MAC ? PM_P_SRC_MAC : PM_P_MPLS_VPN_RD;
        memset(&tmp, 0, sizeof(tmp));
        if (host->prim_parse(id, val, &tmp, NULL) < 0)
            PERR("%s: '%s': expected %s", k->name, val,
                 k->kind == K_MAC ? "a MAC address"
                                  : "a route distinguisher (0:65512:1)");
        memcpy(c->b, k->kind == K_MAC ? tmp.src_mac : tmp.mpls_vpn_rd,
               k->kind == K_MAC ? 6 : 8);
        break;
    }
    case K_FILTER:
        if (!*val)
            PERR("filter: empty expression");
        ru->bpf = calloc(1, sizeof(*ru->bpf));
        if (!ru->bpf || !(ru->bpf->expr = strdup(val)))
            return -ENOMEM;
        if (pt_bpf_compile_dlt(ru->bpf, 1, perr, sizeof(perr)) < 0)
            PERR("filter '%s': %s", val, perr);
        break;
    }
    ru->ncond++;
    return 0;
}

static int set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : -ENOMEM;
}

/* Parse one rule line (modified in place). 1: rule, 0: blank/comment. */
int pt_parse_line(const struct pm_host *host, char *s, struct pt_rule *ru,
                      const char *path, unsigned line, char *err,
                      size_t errlen)
{
    int any_set = 0, rc;

    while (isspace((unsigned char)*s))
        s++;
    if (!*s || *s == '!' || *s == '#')
        return 0;
    memset(ru, 0, sizeof(*ru));
    ru->line = line;
    ru->jump = -1;
    while (*s) {
        char *key = s, *val, *eq;
        unsigned i;
        while (*s && !isspace((unsigned char)*s) && *s != '=')
            s++;
        if (*s != '=') {
            *s = 0;
            PERR("'%s': expected key=value", key);
        }
        eq = s;
        *eq = 0;
        val = ++s;
        if (*s == '\'' || *s == '"') {
            char q = *s;
            val = ++s;
            while (*s && *s != q)
                s++;
            if (*s != q)
                PERR("%s: missing closing quote", key);
            *s++ = 0;
            if (*s && !isspace((unsigned char)*s))
                PERR("%s: blank expected after the closing quote", key);
        } else {
            while (*s && !isspace((unsigned char)*s))
                s++;
            if (*s)
                *s++ = 0;
        }
        while (isspace((unsigned char)*s))
            s++;
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);

        if (!strcmp(key, "set_tag") || !strcmp(key, "id") ||
            !strcmp(key, "tag")) {
            if (parse_tag(val, &ru->tag, &ru->tag_inc) < 0)
                PERR("%s: '%s': expected a number (or N++)", key, val);
            ru->has_tag = 1;
            any_set = 1;
        } else if (!strcmp(key, "set_tag2") || !strcmp(key, "id2") ||
                   !strcmp(key, "tag2")) {
            if (parse_tag(val, &ru->tag2, &ru->tag2_inc) < 0)
                PERR("%s: '%s': expected a number (or N++)", key, val);
            ru->has_tag2 = 1;
            any_set = 1;
        } else if (!strcmp(key, "set_label")) {
            if (!*val)
                PERR("set_label: empty value");
            if ((rc = set_str(&ru->set_label, val)) < 0)
                return rc;
            any_set = 1;
        } else if (!strcmp(key, "label")) {
            if (!*val || !strcmp(val, "next"))
                PERR("label: '%s' is reserved or empty", val);
            if ((rc = set_str(&ru->name, val)) < 0)
                return rc;
        } else if (!strcmp(key, "jeq")) {
            if (!*val)
                PERR("jeq: empty label");
            if ((rc = set_str(&ru->jeq, val)) < 0)
                return rc;
        } else if (!strcmp(key, "return")) {
            if (parse_bool(val, &ru->ret) < 0)
                PERR("return: '%s': expected true or false", val);
        } else if (!strcmp(key, "stack")) {
            if (!strcasecmp(val, "sum"))
                ru->stack = 1;
            else if (!strcasecmp(val, "or"))
                ru->stack = 2;
            else
                PERR("stack: '%s': expected sum or or", val);
        } else {
            for (i = 0; i < PT_NKEYS; i++)
                if (!strcmp(key, pt_keys[i].name))
                    break;
            if (i == PT_NKEYS)
                PERR("unknown key '%s'", key);
            if ((rc = parse_cond(host, ru, i, val, path, line, err,
                                 errlen)) < 0)
                return rc;
        }
    }
    if (!any_set)
        PERR("rule sets nothing: set_tag, set_tag2 or set_label expected");
    /* the filter (the most expensive test) goes last */
    for (unsigned i = 0; i + 1 < ru->ncond; i++)
        if (pt_keys[ru->cond[i].key].kind == K_FILTER) {
            struct pt_cond t = ru->cond[i];
            ru->cond[i] = ru->cond[ru->ncond - 1];
            ru->cond[ru->ncond - 1] = t;
            break;
        }
    return 1;
}

void pt_rule_free(struct pt_rule *ru)
{
    if (ru->bpf) {
        for (unsigned i = 0; i < ru->bpf->n; i++)
            if (ru->bpf->ok[i])
                pcap_freecode(&ru->bpf->prog[i]);
        free(ru->bpf->expr);
        free(ru->bpf);
    }
    free(ru->set_label);
    free(ru->name);
    free(ru->jeq);
}

void pt_free(struct pt_map *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->n; i++)
        pt_rule_free(&m->rules[i]);
    for (uint32_t g = 0; g < m->ngroups; g++)
        free(m->groups[g].slots);
    free(m->rules);
    free(m->grouped);
    free(m->linear);
    free(m);
}

/* ---- tag filters -------------------------------------------------------- */

int pt_tagfilter_parse(const char *text, struct pt_tagfilter *f, char *err,
                       size_t errlen)
{
    const char *s = text;
    f->n = 0;
    while (*s) {
        char item[64];
        size_t n = 0;
        const char *p;
        char *dash;
        int neg = 0;
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        while (s[n] && s[n] != ',' && s[n] != ' ' && s[n] != '\t')
            n++;
        if (n >= sizeof(item) || f->n == 64) {
            snprintf(err, errlen, "'%s': too long", text);
            return -EINVAL;
        }
        memcpy(item, s, n);
        item[n] = 0;
        s += n;
        p = item;
        if (*p == '-') {
            neg = 1;
            p++;
        }
        dash = strchr(p, '-');
        if (dash)
            *dash = 0;
        if (parse_u64(p, &f->e[f->n].lo) < 0 ||
            (dash && parse_u64(dash + 1, &f->e[f->n].hi) < 0) ||
            (dash && f->e[f->n].hi < f->e[f->n].lo)) {
            snprintf(err, errlen,
                     "'%s': expected tags, ranges and negations like "
                     "'10,20-30,-0'",
                     text);
            return -EINVAL;
        }
        if (!dash)
            f->e[f->n].hi = f->e[f->n].lo;
        f->e[f->n].neg = neg;
        f->n++;
    }
    if (!f->n) {
        snprintf(err, errlen, "empty list");
        return -EINVAL;
    }
    return 0;
}

/* A negative entry that matches rejects; else any positive entry must match
 * (a list of negations only accepts everything else). */
int pt_tagfilter_match(const struct pt_tagfilter *f, uint64_t v)
{
    int pos = 0, hit = 0;
    for (uint32_t i = 0; i < f->n; i++) {
        int in = v >= f->e[i].lo && v <= f->e[i].hi;
        if (f->e[i].neg) {
            if (in)
                return 0;
        } else {
            pos = 1;
            hit |= in;
        }
    }
    return pos ? hit : 1;
}
