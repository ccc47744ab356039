/*
 * flowaddr.c - shared by the flow collectors: address helpers (text form,
 * masks, sockaddr conversion) and exporter allow lists (one address or
 * prefix per line).
 *
 * Threads: pure functions; an allow list is read-only once loaded.
 */
#include "udpin.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- addresses -------------------------------------------------------- */

const char *pm_ip_str(const pm_ip_t *ip, char *buf, size_t len)
{
    if (ip->af == 4)
        inet_ntop(AF_INET, ip->a, buf, (socklen_t)len);
    else if (ip->af == 6)
        inet_ntop(AF_INET6, ip->a, buf, (socklen_t)len);
    else
        snprintf(buf, len, "?");
    return buf;
}

/* Per flow record (nfacctd_net: netflow): whole bytes cleared at once, one
 * partial byte masked. */
void pm_ip_mask(pm_ip_t *ip, unsigned len)
{
    unsigned bytes = ip->af == 4 ? 4 : 16;
    unsigned full = len / 8;
    if (full >= bytes)
        return;
    if (len % 8)
        ip->a[full++] &= (uint8_t)(0xffu << (8 - len % 8));
    memset(ip->a + full, 0, bytes - full);
}

int pm_ip_from_sockaddr(pm_ip_t *ip, uint16_t *port, const void *sa)
{
    const struct sockaddr *s = sa;
    memset(ip, 0, sizeof(*ip));
    if (s->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = sa;
        pm_ip_set4(ip, &s4->sin_addr);
        if (port)
            *port = ntohs(s4->sin_port);
        return 0;
    }
    if (s->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = sa;
        const uint8_t *b = s6->sin6_addr.s6_addr;
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(b, v4mapped, 12))
            pm_ip_set4(ip, b + 12);
        else
            pm_ip_set6(ip, b);
        if (port)
            *port = ntohs(s6->sin6_port);
        return 0;
    }
    return -EAFNOSUPPORT;
}

/* ---- allow list ------------------------------------------------------- */

int pm_prefix_parse(struct pm_prefix *p, const char *text)
{
    char buf[80];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, text, n + 1);
    char *slash = strchr(buf, '/');
    long len = -1;
    if (slash) {
        char *end;
        *slash = 0;
        errno = 0;
        len = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || len < 0)
            return -EINVAL;
    }
    memset(p, 0, sizeof(*p));
    uint8_t a[16];
    if (inet_pton(AF_INET, buf, a) == 1) {
        pm_ip_set4(&p->net, a);
        if (len > 32)
            return -EINVAL;
        p->len = (uint8_t)(len < 0 ? 32 : len);
    } else if (inet_pton(AF_INET6, buf, a) == 1) {
        pm_ip_set6(&p->net, a);
        if (len > 128)
            return -EINVAL;
        p->len = (uint8_t)(len < 0 ? 128 : len);
    } else
        return -EINVAL;
    pm_ip_mask(&p->net, p->len);
    return 0;
}

int pm_allow_load(struct pm_allow *a, const char *path, char *err,
                  size_t errlen)
{
    int rc = 0;
    char line[512];
    unsigned lineno = 0;
    uint32_t cap = 0;
    memset(a, 0, sizeof(*a));
    FILE *f = fopen(path, "r");
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return rc;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = line, *e;
        while (isspace((unsigned char)*s))
            s++;
        for (e = s; *e && *e != '#' && *e != '!' && !isspace((unsigned char)*e);
             e++)
            ;
        char *rest = e;
        while (*rest && isspace((unsigned char)*rest))
            rest++;
        *e = 0;
        if (!*s)
            continue;
        if (*rest && *rest != '#' && *rest != '!') {
            snprintf(err, errlen, "%s:%u: unexpected text after '%s'", path,
                     lineno, s);
            rc = -EINVAL;
            goto fail;
        }
        if (a->n == cap) {
            uint32_t nc = cap ? cap * 2 : 16;
            struct pm_prefix *v = realloc(a->v, nc * sizeof(*v));
            if (!v) {
                rc = -ENOMEM;
                snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
                goto fail;
            }
            a->v = v;
            cap = nc;
        }
        if (pm_prefix_parse(&a->v[a->n], s) < 0) {
            snprintf(err, errlen, "%s:%u: '%s' is not an IP address or prefix",
                     path, lineno, s);
            rc = -EINVAL;
            goto fail;
        }
        a->n++;
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    pm_allow_free(a);
    return rc;
}

int pm_allow_check(const struct pm_allow *a, const pm_ip_t *addr)
{
    if (!a || a->n == 0)
        return 1;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct pm_prefix *p = &a->v[i];
        if (p->net.af != addr->af)
            continue;
        pm_ip_t m = *addr;
        pm_ip_mask(&m, p->len);
        if (!memcmp(m.a, p->net.a, 16))
            return 1;
    }
    return 0;
}

void pm_allow_free(struct pm_allow *a)
{
    free(a->v);
    a->v = NULL;
    a->n = 0;
}
