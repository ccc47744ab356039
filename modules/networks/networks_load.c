/*
 * networks_load.c - the networks module's tables: parsing networks_file
 * (prefix, optional AS, peer AS, next hop; lines in any order) into
 * disjoint address ranges resolved by longest-prefix match at build time,
 * so a lookup is one binary search; and ports_file into a bitmap.  Pure
 * code, called at init and reload on the pipeline thread.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "networks.h"

/* ---- tables ------------------------------------------------------------- */

u128 net_ip_key(const pm_ip_t *ip)
{
    u128 k = 0;
    int n = ip->af == 6 ? 16 : 4;
    for (int i = 0; i < n; i++)
        k = (k << 8) | ip->a[i];
    return k;
}

struct pfx {
    u128 start, end;
    uint32_t ent;
    uint8_t len;
};

static int pfx_cmp(const void *a, const void *b)
{
    const struct pfx *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (x->ent > y->ent) - (x->ent < y->ent); /* first line first */
}

static int tab_push(struct net_tab *t, uint32_t *cap, u128 s, int32_t e)
{
    if (t->n && t->start[t->n - 1] == s) {
        t->ent[t->n - 1] = e;
        return 0;
    }
    if (t->n && t->ent[t->n - 1] == e)
        return 0;
    if (t->n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 64;
        u128 *ns = realloc(t->start, nc * sizeof(*ns));
        int32_t *ne;
        if (!ns)
            return -ENOMEM;
        t->start = ns;
        ne = realloc(t->ent, nc * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        t->ent = ne;
        *cap = nc;
    }
    t->start[t->n] = s;
    t->ent[t->n] = e;
    t->n++;
    return 0;
}

/* Flatten sorted, de-duplicated prefixes into disjoint ranges. */
static int tab_build(struct net_tab *t, struct pfx *p, uint32_t n, u128 max)
{
    struct pfx *stack[130];
    uint32_t sp = 0, cap = 0, i;
    int rc;

    if ((rc = tab_push(t, &cap, 0, -1)) < 0)
        return rc;
    for (i = 0; i < n; i++) {
        if (i && p[i].start == p[i - 1].start && p[i].len == p[i - 1].len)
            continue; /* duplicate prefix: the first line wins */
        while (sp && stack[sp - 1]->end < p[i].start) {
            u128 next = stack[sp - 1]->end + 1;
            sp--;
            if ((rc = tab_push(t, &cap, next,
                               sp ? (int32_t)stack[sp - 1]->ent : -1)) < 0)
                return rc;
        }
        if ((rc = tab_push(t, &cap, p[i].start, (int32_t)p[i].ent)) < 0)
            return rc;
        stack[sp++] = &p[i];
    }
    while (sp) {
        u128 end = stack[sp - 1]->end;
        sp--;
        if (end == max)
            break;
        if ((rc = tab_push(t, &cap, end + 1,
                           sp ? (int32_t)stack[sp - 1]->ent : -1)) < 0)
            return rc;
    }
    return 0;
}

int32_t net_tab_find(const struct net_tab *t, u128 k)
{
    uint32_t lo = 0, hi = t->n; /* start[lo] <= k < start[hi] */
    if (!t->n)
        return -1;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->start[mid] <= k)
            lo = mid;
        else
            hi = mid;
    }
    return t->ent[lo];
}

void net_data_free(struct net_data *d)
{
    if (!d)
        return;
    free(d->e);
    free(d->t4.start);
    free(d->t4.ent);
    free(d->t6.start);
    free(d->t6.ent);
    free(d);
}

static int parse_u32(const char *s, uint32_t *v)
{
    char *end;
    unsigned long long x;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (errno || *end || x > 0xffffffffull)
        return -EINVAL;
    *v = (uint32_t)x;
    return 0;
}

static int parse_ip(const char *s, pm_ip_t *ip)
{
    uint8_t b[16];
    if (inet_pton(AF_INET, s, b) == 1)
        pm_ip_set4(ip, b);
    else if (inet_pton(AF_INET6, s, b) == 1)
        pm_ip_set6(ip, b);
    else
        return -EINVAL;
    return 0;
}

#define LERR(...)                                                              \
    do {                                                                       \
        int o_ = snprintf(err, errlen, "%s:%u: ", path, line);                 \
        if (o_ >= 0 && (size_t)o_ < errlen)                                    \
            snprintf(err + o_, errlen - (size_t)o_, __VA_ARGS__);              \
        rc = -EINVAL;                                                          \
        goto fail;                                                             \
    } while (0)

int net_nets_load(const char *path, struct net_data **out, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "r");
    struct net_data *d = NULL;
    struct pfx *p4 = NULL, *p6 = NULL;
    uint32_t n4 = 0, n6 = 0, c4 = 0, c6 = 0, ecap = 0;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t len;
    unsigned line = 0;
    int rc = 0;

    *out = NULL;
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
        return rc;
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        rc = -ENOMEM;
        goto fail;
    }
    while ((len = getline(&buf, &bcap, f)) >= 0) {
        char *fld[5], *s = buf, *slash, *e;
        unsigned nf = 0, i;
        struct net_entry ent;
        pm_ip_t ip;
        uint32_t plen, max;
        struct pfx *pp;

        line++;
        while (len > 0 && isspace((unsigned char)buf[len - 1]))
            buf[--len] = 0;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '!' || *s == '#')
            continue;
        fld[nf++] = s;
        for (e = s; *e; e++)
            if (*e == ',') {
                if (nf == 4)
                    LERR("too many fields (at most "
                         "label,nexthop,as,prefix/len)");
                *e = 0;
                fld[nf++] = e + 1;
            }
        for (i = 0; i < nf; i++) { /* trim */
            char *t = fld[i] + strlen(fld[i]);
            while (isspace((unsigned char)*fld[i]))
                fld[i]++;
            while (t > fld[i] && isspace((unsigned char)t[-1]))
                *--t = 0;
        }
        memset(&ent, 0, sizeof(ent));
        /* last field: prefix */
        slash = strchr(fld[nf - 1], '/');
        if (slash)
            *slash = 0;
        if (parse_ip(fld[nf - 1], &ip) < 0)
            LERR("'%s': expected an IPv4/IPv6 prefix", fld[nf - 1]);
        max = ip.af == 6 ? 128 : 32;
        plen = max;
        if (slash && (parse_u32(slash + 1, &plen) < 0 || plen > max))
            LERR("'%s': invalid prefix length (0-%u)", slash + 1, max);
        ent.len = (uint8_t)plen;
        if (nf >= 2 && *fld[nf - 2]) { /* [peer_as_]as */
            char *us = strchr(fld[nf - 2], '_');
            if (us) {
                *us = 0;
                if (parse_u32(fld[nf - 2], &ent.peer_as) < 0)
                    LERR("'%s': expected a peer AS number", fld[nf - 2]);
                if (parse_u32(us + 1, &ent.as) < 0)
                    LERR("'%s': expected an AS number", us + 1);
            } else if (parse_u32(fld[nf - 2], &ent.as) < 0) {
                LERR("'%s': expected an AS number", fld[nf - 2]);
            }
            ent.has_as = 1;
        }
        if (nf >= 3 && *fld[nf - 3] && parse_ip(fld[nf - 3], &ent.nexthop) < 0)
            LERR("'%s': expected a next-hop IP address", fld[nf - 3]);
        /* nf == 4: fld[0] is a label, not used */
        if (d->ne == ecap) {
            uint32_t nc = ecap ? ecap * 2 : 1024;
            struct net_entry *ne = realloc(d->e, nc * sizeof(*ne));
            if (!ne) {
                rc = -ENOMEM;
                goto fail;
            }
            d->e = ne;
            ecap = nc;
        }
        if (ip.af == 4) {
            if (n4 == c4) {
                uint32_t nc = c4 ? c4 * 2 : 1024;
                struct pfx *np = realloc(p4, nc * sizeof(*np));
                if (!np) {
                    rc = -ENOMEM;
                    goto fail;
                }
                p4 = np;
                c4 = nc;
            }
            pp = &p4[n4++];
        } else {
            if (n6 == c6) {
                uint32_t nc = c6 ? c6 * 2 : 1024;
                struct pfx *np = realloc(p6, nc * sizeof(*np));
                if (!np) {
                    rc = -ENOMEM;
                    goto fail;
                }
                p6 = np;
                c6 = nc;
            }
            pp = &p6[n6++];
        }
        {
            u128 k = net_ip_key(&ip), hostmask;
            hostmask = max - plen >= 128 ? ~(u128)0
                                         : (((u128)1 << (max - plen)) - 1);
            pp->start = k & ~hostmask;
            pp->end = pp->start | hostmask;
            pp->len = (uint8_t)plen;
            pp->ent = d->ne;
        }
        d->e[d->ne++] = ent;
    }
    if (n4)
        qsort(p4, n4, sizeof(*p4), pfx_cmp);
    if (n6)
        qsort(p6, n6, sizeof(*p6), pfx_cmp);
    if ((rc = tab_build(&d->t4, p4, n4, (u128)0xffffffffu)) < 0 ||
        (rc = tab_build(&d->t6, p6, n6, ~(u128)0)) < 0)
        goto fail;
    free(p4);
    free(p6);
    free(buf);
    fclose(f);
    *out = d;
    return 0;
fail:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s:%u: out of memory", path, line);
    free(p4);
    free(p6);
    free(buf);
    fclose(f);
    net_data_free(d);
    return rc;
}

int net_ports_load(const char *path, uint8_t **out, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "r");
    uint8_t *bm = NULL;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t len;
    unsigned line = 0;
    int rc = 0;

    *out = NULL;
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
        return rc;
    }
    bm = calloc(1, 65536 / 8);
    if (!bm) {
        rc = -ENOMEM;
        goto fail;
    }
    while ((len = getline(&buf, &bcap, f)) >= 0) {
        char *s = buf;
        uint32_t port;
        line++;
        while (len > 0 && isspace((unsigned char)buf[len - 1]))
            buf[--len] = 0;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '!' || *s == '#')
            continue;
        if (parse_u32(s, &port) < 0 || port > 65535)
            LERR("'%s': expected a port number 0-65535", s);
        bm[port >> 3] |= (uint8_t)(1u << (port & 7));
    }
    free(buf);
    fclose(f);
    *out = bm;
    return 0;
fail:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", path);
    free(buf);
    fclose(f);
    free(bm);
    return rc;
}
