/*
 * sampling_map.c - parser and lookup of pmacct's sampling_map:
 *
 *   ! comment
 *   id=1024 ip=192.0.2.1
 *   id=512  ip=192.0.2.2 in=3
 *   id=100  ip=2001:db8::/32
 *
 * `id` is the sampling rate (>= 1), `ip` the exporter (address or prefix,
 * required), `in`/`out` optional interface indexes.  Rules are tried in
 * file order; the first match wins.  Errors name file:line and the reason;
 * nothing is half-loaded.  Pure code, no shared state.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sampling.h"

#define SMAP_MAX_FILE (16u << 20)

struct srule {
    pm_ip_t net;
    uint8_t len; /* prefix length */
    uint8_t has_in, has_out;
    uint32_t in, out;
    uint32_t rate;
};

struct smap {
    struct srule *r;
    uint32_t n;
};

static int parse_u32(const char *s, uint32_t *v)
{
    char *e;
    unsigned long long x;
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    x = strtoull(s, &e, 10);
    if (errno || *e || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

static int parse_net(const char *text, struct srule *r)
{
    char s[INET6_ADDRSTRLEN + 8], *slash;
    uint32_t len;
    unsigned i;

    if (strlen(text) >= sizeof(s))
        return -1;
    strcpy(s, text);
    if ((slash = strchr(s, '/')))
        *slash = 0;
    memset(&r->net, 0, sizeof(r->net));
    if (inet_pton(AF_INET, s, r->net.a) == 1) {
        r->net.af = 4;
        len = 32;
    } else if (inet_pton(AF_INET6, s, r->net.a) == 1) {
        r->net.af = 6;
        len = 128;
    } else {
        return -1;
    }
    if (slash) {
        uint32_t l;
        if (parse_u32(slash + 1, &l) < 0 || l > len)
            return -1;
        len = l;
    }
    r->len = (uint8_t)len;
    /* keep only the prefix bits */
    for (i = 0; i < 16; i++) {
        unsigned bits = len > i * 8 ? len - i * 8 : 0;
        if (bits < 8)
            r->net.a[i] &= (uint8_t)(0xff00u >> bits);
    }
    return 0;
}

static int parse_line(char *line, struct srule *r, char *why, size_t whylen)
{
    char *save = NULL, *tok;
    int have_id = 0, have_ip = 0;

    memset(r, 0, sizeof(*r));
    for (tok = strtok_r(line, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        char *k = tok, *v;
        if (!eq || eq == tok || !eq[1]) {
            snprintf(why, whylen, "'%s': expected key=value", tok);
            return -1;
        }
        *eq = 0;
        v = eq + 1;
        if (!strcasecmp(k, "id")) {
            if (parse_u32(v, &r->rate) < 0 || r->rate == 0) {
                snprintf(why, whylen, "id=%s: the rate must be a number >= 1",
                         v);
                return -1;
            }
            have_id = 1;
        } else if (!strcasecmp(k, "ip")) {
            if (parse_net(v, r) < 0) {
                snprintf(why, whylen, "ip=%s: not an address or prefix", v);
                return -1;
            }
            have_ip = 1;
        } else if (!strcasecmp(k, "in") || !strcasecmp(k, "out")) {
            int in = !strcasecmp(k, "in");
            if (parse_u32(v, in ? &r->in : &r->out) < 0) {
                snprintf(why, whylen, "%s=%s: not an interface index", k, v);
                return -1;
            }
            if (in)
                r->has_in = 1;
            else
                r->has_out = 1;
        } else {
            snprintf(why, whylen,
                     "unknown key '%s' (sampling_map keys: id, ip, in, out)",
                     k);
            return -1;
        }
    }
    if (!have_id || !have_ip) {
        snprintf(why, whylen, "a rule needs id=RATE and ip=ADDR");
        return -1;
    }
    return 0;
}

int smap_parse(const char *name, const char *text, size_t len, uint32_t max,
               struct smap **out, char *err, size_t errlen)
{
    struct smap *m = calloc(1, sizeof(*m));
    uint32_t cap = 0, lineno = 0;
    size_t pos = 0;
    char line[1024], why[256];
    int rc = -EINVAL;

    if (!m)
        return -ENOMEM;
    while (pos < len) {
        size_t e = pos, l;
        char *s;
        while (e < len && text[e] != '\n')
            e++;
        lineno++;
        l = e - pos;
        if (l >= sizeof(line)) {
            snprintf(err, errlen, "%s:%u: line longer than %zu bytes", name,
                     lineno, sizeof(line) - 1);
            goto fail;
        }
        memcpy(line, text + pos, l);
        line[l] = 0;
        pos = e + 1;
        if (memchr(line, 0, l)) {
            snprintf(err, errlen, "%s:%u: NUL byte in the line", name, lineno);
            goto fail;
        }
        for (s = line; *s && isspace((unsigned char)*s); s++)
            ;
        for (l = strlen(s); l && isspace((unsigned char)s[l - 1]); l--)
            s[l - 1] = 0;
        if (!*s || *s == '!' || *s == '#')
            continue;
        if (m->n == max) {
            snprintf(err, errlen,
                     "%s:%u: more than %u rules (raise maps_entries)", name,
                     lineno, max);
            goto fail;
        }
        if (m->n == cap) {
            uint32_t nc = cap ? cap * 2 : 16;
            struct srule *nr = realloc(m->r, nc * sizeof(*nr));
            if (!nr) {
                rc = -ENOMEM;
                snprintf(err, errlen, "%s: out of memory", name);
                goto fail;
            }
            m->r = nr;
            cap = nc;
        }
        if (parse_line(s, &m->r[m->n], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
            goto fail;
        }
        m->n++;
    }
    *out = m;
    return 0;
fail:
    smap_free(m);
    return rc;
}

int smap_load(const char *file, uint32_t max, struct smap **out, char *err,
              size_t errlen)
{
    FILE *f = fopen(file, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc;

    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return rc;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            char *nb;
            if (cap >= SMAP_MAX_FILE) {
                snprintf(err, errlen, "%s: larger than %u bytes", file,
                         SMAP_MAX_FILE);
                rc = -EFBIG;
                goto out;
            }
            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (!nb) {
                rc = -ENOMEM;
                snprintf(err, errlen, "%s: out of memory", file);
                goto out;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "%s: read error", file);
        goto out;
    }
    rc = smap_parse(file, buf ? buf : "", n, max, out, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

static int in_net(const struct srule *r, const pm_ip_t *ip)
{
    unsigned full = r->len / 8, rest = r->len % 8;
    if (ip->af != r->net.af)
        return 0;
    if (memcmp(ip->a, r->net.a, full))
        return 0;
    if (rest && (ip->a[full] & (uint8_t)(0xff00u >> rest)) != r->net.a[full])
        return 0;
    return 1;
}

uint32_t smap_lookup(const struct smap *m, const pm_ip_t *exporter, uint32_t in,
                     uint32_t out)
{
    uint32_t i;
    if (!m)
        return 0;
    for (i = 0; i < m->n; i++) {
        const struct srule *r = &m->r[i];
        if (r->has_in && r->in != in)
            continue;
        if (r->has_out && r->out != out)
            continue;
        if (in_net(r, exporter))
            return r->rate;
    }
    return 0;
}

uint32_t smap_count(const struct smap *m)
{
    return m ? m->n : 0;
}

void smap_free(struct smap *m)
{
    if (!m)
        return;
    free(m->r);
    free(m);
}
