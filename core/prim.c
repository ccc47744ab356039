/*
 * prim.c - primitive registry lookups, value parsing (client -M/-N, maps),
 * `aggregate` parsing and name suggestions.  The table itself is in
 * prim_table.c.  Read-only after start-up; shared freely.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "prim_int.h"

extern const struct pm_prim_def pmc_prim_table[PM_P_COUNT_BUILTIN];

/* Protocol names printed by pmacct 1.7.7 (observed for 0..255; others,
 * including 0, print as numbers). */
static const char *const proto_names[256] = {
    [1] = "icmp",        [2] = "igmp",        [3] = "ggp",
    [4] = "ipencap",     [6] = "tcp",         [8] = "egp",
    [9] = "igp",         [17] = "udp",        [18] = "mux",
    [41] = "ipv6",       [43] = "ipv6-route", [44] = "ipv6-frag",
    [46] = "rsvp",       [47] = "gre",        [50] = "esp",
    [51] = "ah",         [55] = "mobile",     [56] = "tlsp",
    [58] = "ipv6-icmp",  [59] = "ipv6-nonxt", [60] = "ipv6-opts",
    [80] = "iso-ip",     [83] = "vines",      [88] = "eigrp",
    [89] = "ospf",       [91] = "larp",       [93] = "ax.25",
    [94] = "ipip",       [98] = "encap",      [102] = "pnni",
    [103] = "pim",       [108] = "IPcomp",    [111] = "ipx-in-ip",
    [112] = "vrrp",      [115] = "l2tp",      [124] = "isis",
    [132] = "sctp",      [133] = "fc",
};

const char *pmc_proto_name(uint8_t proto)
{
    return proto_names[proto];
}

char pmc_roa_char(uint8_t v)
{
    static const char roa[] = "uivVU";
    return v < sizeof(roa) - 1 ? roa[v] : 'u';
}

const struct pm_prim_def *pmc_prim_def(unsigned id)
{
    if (id >= PM_P_CUSTOM_BASE)
        return pmc_custom_def(id);
    if (id >= PM_P_COUNT_BUILTIN || !pmc_prim_table[id].info.name)
        return NULL;
    return &pmc_prim_table[id];
}

int pmc_prim_lookup(const char *name)
{
    unsigned i;
    if (!name)
        return -ENOENT;
    for (i = 0; i < PM_P_COUNT_BUILTIN; i++)
        if (pmc_prim_table[i].info.name &&
            !strcasecmp(pmc_prim_table[i].info.name, name))
            return (int)i;
    return pmc_custom_lookup(name);
}

const struct pm_prim_info *pmc_prim_info(unsigned id)
{
    const struct pm_prim_def *d = pmc_prim_def(id);
    return d ? &d->info : NULL;
}

unsigned pmc_prim_count(void)
{
    return PM_P_COUNT_BUILTIN + pmc_custom_count();
}

/* Builtins first, then the custom primitives in file order. */
const struct pm_prim_info *pmc_prim_at(unsigned index)
{
    if (index >= PM_P_COUNT_BUILTIN)
        return pmc_prim_info(PM_P_CUSTOM_BASE + (index - PM_P_COUNT_BUILTIN));
    return pmc_prim_info(index);
}

/* ---- suggestions --------------------------------------------------------- */

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    unsigned row[64], prev, tmp;
    if (la >= 63 || lb >= 63)
        return 99;
    for (j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = (unsigned)i;
        for (j = 1; j <= lb; j++) {
            unsigned cost = tolower((unsigned char)a[i - 1]) !=
                            tolower((unsigned char)b[j - 1]);
            unsigned best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            tmp = row[j];
            row[j] = best;
            prev = tmp;
        }
    }
    return row[lb];
}

static const char *const extra_words[] = {
    "sum_host", "sum_net", "sum_as", "sum_port", "sum_mac", "none", "flows",
    NULL};

const char *pmc_prim_suggest(const char *word)
{
    const char *best = NULL;
    unsigned bestd = 99, i, d, limit;
    size_t len = strlen(word);
    limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    for (i = 0; i < PM_P_COUNT_BUILTIN; i++) {
        if (!pmc_prim_table[i].info.name)
            continue;
        d = edit_distance(word, pmc_prim_table[i].info.name);
        if (d < bestd) {
            bestd = d;
            best = pmc_prim_table[i].info.name;
        }
    }
    for (i = 0; i < pmc_custom_count(); i++) {
        const struct pm_prim_info *pi = pmc_prim_info(PM_P_CUSTOM_BASE + i);
        d = edit_distance(word, pi->name);
        if (d < bestd) {
            bestd = d;
            best = pi->name;
        }
    }
    for (i = 0; extra_words[i]; i++) {
        d = edit_distance(word, extra_words[i]);
        if (d < bestd) {
            bestd = d;
            best = extra_words[i];
        }
    }
    return bestd <= limit ? best : NULL;
}

/* ---- aggregate ----------------------------------------------------------- */

/* Print order: builtins by their table order, then custom primitives in
 * the order `aggregate` names them (as pmacct prints them). */
static unsigned order_key(uint16_t id)
{
    const struct pm_prim_def *d;
    if (id >= PM_P_CUSTOM_BASE)
        return 100000u;
    d = pmc_prim_def(id);
    return d ? d->info.print_order : id + 1000u;
}

static void sort_print_order(uint16_t *ids, uint32_t n)
{
    uint32_t i, j;
    for (i = 1; i < n; i++) {
        uint16_t x = ids[i];
        unsigned kx = order_key(x);
        for (j = i; j > 0 && order_key(ids[j - 1]) > kx; j--)
            ids[j] = ids[j - 1];
        ids[j] = x;
    }
}

int pmc_aggregate_parse(const char *text, uint16_t *ids, uint32_t *nids,
                        uint32_t maxids, uint32_t *sum_mode, int *flows,
                        char *err, size_t errlen)
{
    const char *p = text ? text : "";
    uint32_t n = 0, sm = PM_SUM_NONE;
    int fl = 0;
    char word[128];

    while (*p) {
        size_t len = 0;
        int id;
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (!*p)
            break;
        while (p[len] && !isspace((unsigned char)p[len]) && p[len] != ',')
            len++;
        if (len >= sizeof(word)) {
            snprintf(err, errlen, "aggregate: primitive name too long");
            return -EINVAL;
        }
        memcpy(word, p, len);
        word[len] = 0;
        p += len;

        if (!strcasecmp(word, "none"))
            continue;
        if (!strcasecmp(word, "flows")) {
            fl = 1;
            continue;
        }
        if (!strncasecmp(word, "sum_", 4)) {
            uint32_t m = PM_SUM_NONE;
            if (!strcasecmp(word, "sum_host"))
                m = PM_SUM_HOST, id = PM_P_SRC_HOST;
            else if (!strcasecmp(word, "sum_net"))
                m = PM_SUM_NET, id = PM_P_SRC_NET;
            else if (!strcasecmp(word, "sum_as"))
                m = PM_SUM_AS, id = PM_P_SRC_AS;
            else if (!strcasecmp(word, "sum_port"))
                m = PM_SUM_PORT, id = PM_P_SRC_PORT;
            else if (!strcasecmp(word, "sum_mac"))
                m = PM_SUM_MAC, id = PM_P_SRC_MAC;
            else
                id = -ENOENT;
            if (id >= 0) {
                if (sm != PM_SUM_NONE && sm != m) {
                    snprintf(err, errlen,
                             "aggregate: only one sum_* primitive allowed, "
                             "got '%s' after another",
                             word);
                    return -EINVAL;
                }
                sm = m;
            }
        } else {
            id = pmc_prim_lookup(word);
        }
        if (id < 0) {
            const char *s = pmc_prim_suggest(word);
            if (s)
                snprintf(err, errlen,
                         "aggregate: unknown primitive '%s' (did you mean "
                         "%s?)",
                         word, s);
            else
                snprintf(err, errlen, "aggregate: unknown primitive '%s'",
                         word);
            return -EINVAL;
        }
        {
            uint32_t k;
            int dup = 0;
            for (k = 0; k < n; k++)
                if (ids[k] == (uint16_t)id)
                    dup = 1;
            if (dup)
                continue;
        }
        if (n >= maxids) {
            snprintf(err, errlen, "aggregate: too many primitives (max %u)",
                     (unsigned)maxids);
            return -EINVAL;
        }
        ids[n++] = (uint16_t)id;
    }
    if (sm != PM_SUM_NONE && n > 1) {
        snprintf(err, errlen,
                 "aggregate: sum_* primitives can't be mixed with other "
                 "primitives");
        return -EINVAL;
    }
    sort_print_order(ids, n);
    *nids = n;
    if (sum_mode)
        *sum_mode = sm;
    if (flows)
        *flows = fl;
    return 0;
}

/* ---- value parsing ------------------------------------------------------- */

static int parse_uint(const char *t, uint64_t max, uint64_t *out, int base)
{
    char *e;
    unsigned long long v;
    if (!*t || *t == '-' || isspace((unsigned char)*t))
        return -EINVAL;
    errno = 0;
    v = strtoull(t, &e, base);
    if (errno || *e || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_ip(const char *t, pm_ip_t *ip)
{
    char buf[INET6_ADDRSTRLEN + 8];
    uint8_t a[16];
    char *slash;
    if (strlen(t) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, t);
    slash = strchr(buf, '/');
    if (slash)
        *slash = 0;
    if (inet_pton(AF_INET, buf, a) == 1) {
        pm_ip_set4(ip, a);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, a) == 1) {
        pm_ip_set6(ip, a);
        return 0;
    }
    return -EINVAL;
}

static int parse_ts(const char *t, pm_ts_t *ts)
{
    struct tm tm;
    const char *e;
    unsigned long usec = 0;
    memset(&tm, 0, sizeof(tm));
    memset(ts, 0, sizeof(*ts));
    e = strptime(t, "%Y-%m-%d %H:%M:%S", &tm);
    if (e) {
        time_t s = timegm(&tm);
        if (*e == '.') {
            char *x;
            usec = strtoul(e + 1, &x, 10);
            if (*x || usec > 999999)
                return -EINVAL;
        } else if (*e) {
            return -EINVAL;
        }
        ts->sec = (uint64_t)s;
        ts->usec = (uint32_t)usec;
        return 0;
    }
    {
        char *x;
        unsigned long long s;
        if (!isdigit((unsigned char)*t))
            return -EINVAL;
        s = strtoull(t, &x, 10);
        if (*x == '.') {
            const char *f = x + 1;
            usec = strtoul(f, &x, 10);
            if (usec > 999999)
                return -EINVAL;
        }
        if (*x)
            return -EINVAL;
        ts->sec = s;
        ts->usec = (uint32_t)usec;
    }
    return 0;
}

int pmc_prim_parse(unsigned id, const char *text, struct pm_rec *r,
                   struct pm_batch *b)
{
    const struct pm_prim_def *d = pmc_prim_def(id);
    uint8_t *f;
    uint64_t v;
    if (!d || !text)
        return -EINVAL;
    f = (uint8_t *)r + d->off;
    switch (d->info.type) {
    case PM_VT_MAC: {
        unsigned m[6];
        int i, used = 0;
        if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%n", &m[0], &m[1], &m[2],
                   &m[3], &m[4], &m[5], &used) != 6 ||
            text[used])
            return -EINVAL;
        for (i = 0; i < 6; i++)
            f[i] = (uint8_t)m[i];
        break;
    }
    case PM_VT_U8:
    case PM_VT_TCPFLAGS:
        if (parse_uint(text, 0xff, &v, 0) < 0)
            return -EINVAL;
        *f = (uint8_t)v;
        break;
    case PM_VT_U16: {
        uint16_t x;
        if (parse_uint(text, 0xffff, &v, 10) < 0)
            return -EINVAL;
        x = (uint16_t)v;
        memcpy(f, &x, 2);
        break;
    }
    case PM_VT_ETYPE: {
        uint16_t x;
        const char *t = text;
        if (!strncasecmp(t, "0x", 2))
            t += 2;
        if (parse_uint(t, 0xffff, &v, 16) < 0)
            return -EINVAL;
        x = (uint16_t)v;
        memcpy(f, &x, 2);
        break;
    }
    case PM_VT_U32: {
        uint32_t x;
        if (parse_uint(text, 0xffffffffu, &v, 10) < 0)
            return -EINVAL;
        x = (uint32_t)v;
        memcpy(f, &x, 4);
        break;
    }
    case PM_VT_U64:
        if (parse_uint(text, UINT64_MAX, &v, 10) < 0)
            return -EINVAL;
        memcpy(f, &v, 8);
        break;
    case PM_VT_IP: {
        pm_ip_t ip;
        if (parse_ip(text, &ip) < 0)
            return -EINVAL;
        memcpy(f, &ip, sizeof(ip));
        break;
    }
    case PM_VT_PROTO: {
        int i, found = -1;
        for (i = 0; i < 256; i++)
            if (proto_names[i] && !strcasecmp(proto_names[i], text)) {
                found = i;
                break;
            }
        if (found < 0) {
            if (parse_uint(text, 255, &v, 10) < 0)
                return -EINVAL;
            found = (int)v;
        }
        *f = (uint8_t)found;
        break;
    }
    case PM_VT_STR: {
        pm_sref_t s = {0, 0};
        size_t len = strlen(text);
        if (len) {
            if (!b || pmc_batch_str(b, text, len, &s) < 0)
                return -EINVAL;
        }
        memcpy(f, &s, sizeof(s));
        break;
    }
    case PM_VT_COUNTRY: {
        size_t len = strlen(text);
        if (len > 3)
            return -EINVAL;
        memset(f, 0, 4);
        memcpy(f, text, len);
        break;
    }
    case PM_VT_COORDS: {
        double ll[2];
        char *e;
        ll[0] = strtod(text, &e);
        if (e == text || (*e != ',' && *e != ' '))
            return -EINVAL;
        ll[1] = strtod(e + 1, &e);
        if (*e)
            return -EINVAL;
        memcpy(f, ll, sizeof(ll));
        break;
    }
    case PM_VT_TS: {
        pm_ts_t ts;
        if (parse_ts(text, &ts) < 0)
            return -EINVAL;
        memcpy(f, &ts, sizeof(ts));
        break;
    }
    case PM_VT_ROA: {
        static const char roa[] = "uivVU";
        const char *p = text[0] && !text[1] ? strchr(roa, text[0]) : NULL;
        if (!p)
            return -EINVAL;
        *f = (uint8_t)(p - roa);
        break;
    }
    case PM_VT_CHAR:
        if (!text[0] || text[1])
            return -EINVAL;
        *f = (uint8_t)text[0];
        break;
    case PM_VT_RD: {
        unsigned type, a1, a2, a3, a4;
        unsigned long x, y;
        uint8_t rd[8] = {0};
        if (sscanf(text, "%u:%u.%u.%u.%u:%lu", &type, &a1, &a2, &a3, &a4, &y) ==
                6 &&
            type == 1 && a1 < 256 && a2 < 256 && a3 < 256 && a4 < 256 &&
            y <= 0xffff) {
            rd[1] = 1;
            rd[2] = (uint8_t)a1, rd[3] = (uint8_t)a2, rd[4] = (uint8_t)a3,
            rd[5] = (uint8_t)a4;
            rd[6] = (uint8_t)(y >> 8), rd[7] = (uint8_t)y;
        } else if (sscanf(text, "%u:%lu:%lu", &type, &x, &y) == 3 &&
                   (type == 0 || type == 2)) {
            rd[1] = (uint8_t)type;
            if (type == 0) {
                if (x > 0xffff || y > 0xffffffffUL)
                    return -EINVAL;
                rd[2] = (uint8_t)(x >> 8), rd[3] = (uint8_t)x;
                rd[4] = (uint8_t)(y >> 24), rd[5] = (uint8_t)(y >> 16);
                rd[6] = (uint8_t)(y >> 8), rd[7] = (uint8_t)y;
            } else {
                if (x > 0xffffffffUL || y > 0xffff)
                    return -EINVAL;
                rd[2] = (uint8_t)(x >> 24), rd[3] = (uint8_t)(x >> 16);
                rd[4] = (uint8_t)(x >> 8), rd[5] = (uint8_t)x;
                rd[6] = (uint8_t)(y >> 8), rd[7] = (uint8_t)y;
            }
        } else {
            return -EINVAL;
        }
        memcpy(f, rd, 8);
        break;
    }
    case PM_VT_C_UINT:
    case PM_VT_C_HEX: {
        const char *t = text;
        unsigned k;
        int base = d->info.type == PM_VT_C_HEX ? 16 : 10;
        if (base == 16 && !strncasecmp(t, "0x", 2))
            t += 2;
        if (parse_uint(t,
                       d->size >= 8 ? UINT64_MAX
                                    : (((uint64_t)1 << (8 * d->size)) - 1),
                       &v, base) < 0)
            return -EINVAL;
        for (k = 0; k < d->size; k++)
            f[d->size - 1 - k] = (uint8_t)(v >> (8 * k));
        break;
    }
    case PM_VT_C_IP: {
        pm_ip_t ip;
        if (parse_ip(text, &ip) < 0 || (ip.af == 4) != (d->size == 4))
            return -EINVAL;
        memcpy(f, ip.a, d->size);
        break;
    }
    case PM_VT_C_MAC: {
        unsigned m[6];
        int i, used = 0;
        if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%n", &m[0], &m[1], &m[2],
                   &m[3], &m[4], &m[5], &used) != 6 ||
            text[used])
            return -EINVAL;
        for (i = 0; i < 6; i++)
            f[i] = (uint8_t)m[i];
        break;
    }
    case PM_VT_C_STR: {
        size_t len = strlen(text);
        if (len > d->size)
            return -EINVAL;
        memset(f, 0, d->size);
        memcpy(f, text, len);
        break;
    }
    case PM_VT_C_RAW: {
        unsigned k;
        const char *t = text;
        memset(f, 0, d->size);
        for (k = 0; k < d->size; k++) {
            unsigned x;
            int used = 0;
            if (sscanf(t, "%2x%n", &x, &used) != 1 || used != 2)
                return -EINVAL;
            f[k] = (uint8_t)x;
            t += 2;
            if (*t == '-')
                t++;
        }
        if (*t)
            return -EINVAL;
        break;
    }
    default:
        return -EINVAL;
    }
    pm_rec_set(r, id);
    return 0;
}
