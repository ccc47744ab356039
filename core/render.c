/*
 * render.c - pmacct 1.7.7's print plugin text: formatted (fixed-width
 * columns), CSV and JSON, one row per aggregate.  A renderer is immutable
 * after pmc_render_new and may be used by one thread at a time (it holds
 * no per-call state, so in practice several threads may share it).
 *
 * Notes (observed from pmacct 1.7.7):
 *  - formatted: every column is "%-*s " (width - 1, one space) except the
 *    last (BYTES) which is unpadded;
 *  - unset IP addresses print "::" in formatted output and "" in CSV/JSON;
 *  - stamp_inserted/stamp_updated (PM_RENDER_STAMPS) appear in JSON only:
 *    pmacct's print plugin omits them in formatted and CSV output;
 *  - JSON keys follow pmacct's JSON order, which differs from the column
 *    order for a few primitives (json_order in the table).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prim_int.h"

struct pm_render {
    struct pm_render_cfg cfg;
    uint16_t *prims;      /* column order */
    uint16_t *jprims;     /* JSON order */
    char *separator;
    char *event;
};

/* ---- buffers ------------------------------------------------------------- */

static int buf_reserve(struct pm_buf *out, size_t more)
{
    size_t need = out->len + more + 1, cap;
    char *p;
    if (need <= out->cap)
        return 0;
    cap = out->cap ? out->cap : 256;
    while (cap < need)
        cap *= 2;
    p = realloc(out->p, cap);
    if (!p)
        return -ENOMEM;
    out->p = p;
    out->cap = cap;
    return 0;
}

int pmc_buf_append(struct pm_buf *out, const char *s, size_t len)
{
    if (buf_reserve(out, len) < 0)
        return -ENOMEM;
    memcpy(out->p + out->len, s, len);
    out->len += len;
    out->p[out->len] = 0;
    return 0;
}

static int buf_vprintf(struct pm_buf *out, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    if (buf_reserve(out, 64) < 0)
        return -ENOMEM;
    va_copy(ap2, ap);
    n = vsnprintf(out->p + out->len, out->cap - out->len, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= out->cap - out->len) {
        if (buf_reserve(out, (size_t)n) < 0)
            return -ENOMEM;
        vsnprintf(out->p + out->len, out->cap - out->len, fmt, ap);
    }
    out->len += (size_t)n;
    return 0;
}

int pmc_buf_printf(struct pm_buf *out, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = buf_vprintf(out, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- renderer ------------------------------------------------------------ */

static const struct pm_prim_def *render_def(unsigned id)
{
    return pmc_prim_def(id);
}

static int by_json(const void *a, const void *b)
{
    const struct pm_prim_def *da = render_def(*(const uint16_t *)a);
    const struct pm_prim_def *db = render_def(*(const uint16_t *)b);
    unsigned oa = da ? da->json_order : 9999, ob = db ? db->json_order : 9999;
    return (oa > ob) - (oa < ob);
}

struct pm_render *pmc_render_new(const struct pm_render_cfg *cfg)
{
    struct pm_render *r = calloc(1, sizeof(*r));
    uint32_t i, n = 0;
    if (!r)
        return NULL;
    r->cfg = *cfg;
    r->prims = calloc(cfg->nprims + 1, sizeof(uint16_t));
    r->jprims = calloc(cfg->nprims + 1, sizeof(uint16_t));
    r->separator = strdup(cfg->separator ? cfg->separator : ",");
    r->event = strdup(cfg->event ? cfg->event : "purge");
    if (!r->prims || !r->jprims || !r->separator || !r->event)
        goto fail;
    for (i = 0; i < cfg->nprims; i++)
        if (render_def(cfg->prims[i]))
            r->prims[n++] = cfg->prims[i];
    r->cfg.nprims = n;
    r->cfg.prims = r->prims;
    memcpy(r->jprims, r->prims, n * sizeof(uint16_t));
    /* stable insertion sort by JSON order */
    for (i = 1; i < n; i++) {
        uint16_t x = r->jprims[i];
        uint32_t j = i;
        while (j > 0 && by_json(&r->jprims[j - 1], &x) > 0) {
            r->jprims[j] = r->jprims[j - 1];
            j--;
        }
        r->jprims[j] = x;
    }
    r->cfg.separator = r->separator;
    r->cfg.event = r->event;
    return r;
fail:
    pmc_render_free(r);
    return NULL;
}

void pmc_render_free(struct pm_render *r)
{
    if (!r)
        return;
    free(r->prims);
    free(r->jprims);
    free(r->separator);
    free(r->event);
    free(r);
}

static int show_flows(const struct pm_render *r)
{
    return !(r->cfg.flags & PM_RENDER_NO_FLOWS);
}

/* Column width of d: the print plugin's (the table's), or with
 * PM_RENDER_CLIENT the pmacct client's, which are wider for a few
 * primitives (observed from pmacct 1.7.7's `pmacct -s -a`). */
static unsigned col_width(const struct pm_render *r,
                          const struct pm_prim_def *d)
{
    if (r->cfg.flags & PM_RENDER_CLIENT) {
        switch (d->info.id) {
        case PM_P_CLASS: return 18;
        case PM_P_STD_COMM:
        case PM_P_SRC_STD_COMM:
        case PM_P_AS_PATH:
        case PM_P_SRC_AS_PATH: return 25;
        case PM_P_POST_NAT_SRC_PORT:
        case PM_P_POST_NAT_DST_PORT: return 19;
        case PM_P_TUNNEL_PROTO:
        case PM_P_TUNNEL_SRC_PORT:
        case PM_P_TUNNEL_DST_PORT: return 17;
        case PM_P_TUNNEL_TOS: return 12;
        default: break;
        }
    }
    return d->info.width;
}

static int pad_col(struct pm_buf *out, const char *s, unsigned width)
{
    size_t len = strlen(s);
    size_t w = width ? width - 1 : 0;
    if (buf_reserve(out, (len > w ? len : w) + 1) < 0)
        return -ENOMEM;
    memcpy(out->p + out->len, s, len);
    out->len += len;
    while (len < w) {
        out->p[out->len++] = ' ';
        len++;
    }
    out->p[out->len++] = ' ';
    out->p[out->len] = 0;
    return 0;
}

int pmc_render_header(struct pm_render *r, struct pm_buf *out)
{
    uint32_t i;
    int csv = r->cfg.fmt == PM_FMT_CSV;
    const char *sep = r->separator;
    if (r->cfg.fmt != PM_FMT_FORMATTED && !csv)
        return 0;
    for (i = 0; i < r->cfg.nprims; i++) {
        const struct pm_prim_def *d = render_def(r->prims[i]);
        if (csv) {
            pmc_buf_append(out, d->info.column, strlen(d->info.column));
            pmc_buf_append(out, sep, strlen(sep));
            if (d->column2) {
                pmc_buf_append(out, d->column2, strlen(d->column2));
                pmc_buf_append(out, sep, strlen(sep));
            }
        } else {
            pad_col(out, d->info.column, col_width(r, d));
            if (d->column2)
                pad_col(out, d->column2, col_width(r, d));
        }
    }
    if (csv) {
        pmc_buf_printf(out, "PACKETS%s", sep);
        if (show_flows(r))
            pmc_buf_printf(out, "FLOWS%s", sep);
        return pmc_buf_printf(out, "BYTES\n");
    }
    pad_col(out, "PACKETS", 22);
    if (show_flows(r))
        pad_col(out, "FLOWS", 22);
    return pmc_buf_printf(out, "BYTES\n");
}

/* ---- values -------------------------------------------------------------- */

enum { Q_NONE = 0, Q_STR = 1 }; /* JSON quoting */

static void fmt_ts(const struct pm_render *r, const pm_ts_t *ts, char *s,
                   size_t n, int usec)
{
    if (r->cfg.flags & PM_RENDER_TS_EPOCH) {
        if (usec && !(r->cfg.flags & PM_RENDER_TS_SECS))
            snprintf(s, n, "%" PRIu64 ".%06u", ts->sec, ts->usec);
        else
            snprintf(s, n, "%" PRIu64, ts->sec);
        return;
    }
    if (!ts->sec && !ts->usec) {
        /* unset: pmacct prints a zero date, not the epoch */
        snprintf(s, n, "0000-00-00 00:00:00%s",
                 usec && !(r->cfg.flags & PM_RENDER_TS_SECS) ? ".000000" : "");
        return;
    }
    {
        time_t t = (time_t)ts->sec;
        struct tm tm;
        size_t k;
        localtime_r(&t, &tm);
        k = strftime(s, n, "%Y-%m-%d %H:%M:%S", &tm);
        if (usec && !(r->cfg.flags & PM_RENDER_TS_SECS))
            snprintf(s + k, n - k, ".%06u", ts->usec);
    }
}

/* Text of a value into s; returns JSON quoting.  `which` selects the
 * second half of a two-column primitive (coords). */
/* The pmacct client's table (PM_RENDER_CLIENT, formatted): unset values
 * print differently from the print plugin's (observed with pmacct 1.7.7's
 * `pmacct -s -a`). */
static int client_fmt(const struct pm_render *r)
{
    return (r->cfg.flags & PM_RENDER_CLIENT) &&
           r->cfg.fmt == PM_FMT_FORMATTED;
}

/* Decimal text of v into s (at least 21 bytes); no printf. */
static void fmt_u64(char *s, uint64_t v)
{
    char t[20];
    size_t k = 0;
    do
        t[k++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (k)
        *s++ = t[--k];
    *s = 0;
}

/* Dotted quad of a (at least 16 bytes), as inet_ntop writes it. */
static void fmt_ip4(char *s, const uint8_t *a)
{
    for (int i = 0; i < 4; i++) {
        unsigned b = a[i];
        if (b >= 100) {
            *s++ = (char)('0' + b / 100);
            *s++ = (char)('0' + b / 10 % 10);
        } else if (b >= 10) {
            *s++ = (char)('0' + b / 10);
        }
        *s++ = (char)('0' + b % 10);
        *s++ = i < 3 ? '.' : 0;
    }
}

/* aa:bb:cc:dd:ee:ff (18 bytes), lower-case hex as "%02x". */
static void fmt_mac(char *s, const uint8_t *f)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        *s++ = hx[f[i] >> 4];
        *s++ = hx[f[i] & 15];
        *s++ = i < 5 ? ':' : 0;
    }
}

static int value_text(const struct pm_render *r, const struct pm_prim_def *d,
                      const struct pm_row *row, int which, char *s, size_t n,
                      const char **str, size_t *slen)
{
    const uint8_t *f = (const uint8_t *)row->rec + d->off;
    *str = NULL;
    switch (d->info.type) {
    case PM_VT_MAC:
        fmt_mac(s, f);
        return Q_STR;
    case PM_VT_U8:
        fmt_u64(s, f[0]);
        return Q_NONE;
    case PM_VT_U16: {
        uint16_t v;
        memcpy(&v, f, 2);
        fmt_u64(s, v);
        return Q_NONE;
    }
    case PM_VT_U32: {
        uint32_t v;
        memcpy(&v, f, 4);
        fmt_u64(s, v);
        return Q_NONE;
    }
    case PM_VT_U64: {
        uint64_t v;
        memcpy(&v, f, 8);
        fmt_u64(s, v);
        return Q_NONE;
    }
    case PM_VT_IP: {
        pm_ip_t ip;
        memcpy(&ip, f, sizeof(ip));
        if (ip.af == 4)
            fmt_ip4(s, ip.a);
        else if (ip.af == 6)
            inet_ntop(AF_INET6, ip.a, s, (socklen_t)n);
        else if (client_fmt(r))
            snprintf(s, n, "0");
        else if (r->cfg.fmt == PM_FMT_FORMATTED)
            snprintf(s, n, "::");
        else
            s[0] = 0;
        return Q_STR;
    }
    case PM_VT_PROTO: {
        const char *nm = (r->cfg.flags & PM_RENDER_NUM_PROTOS)
                             ? NULL
                             : pmc_proto_name(f[0]);
        if (nm)
            snprintf(s, n, "%s", nm);
        else
            fmt_u64(s, f[0]);
        return Q_STR;
    }
    case PM_VT_ETYPE: {
        uint16_t v;
        memcpy(&v, f, 2);
        snprintf(s, n, "%x", v);
        return Q_STR;
    }
    case PM_VT_TCPFLAGS:
        fmt_u64(s, f[0]);
        return Q_STR;
    case PM_VT_STR: {
        pm_sref_t sr;
        memcpy(&sr, f, sizeof(sr));
        if (sr.len && row->arena) {
            *str = row->arena + sr.off;
            *slen = sr.len;
        } else if (d->info.id == PM_P_CLASS) {
            snprintf(s, n, "unknown"); /* as pmacct prints no class */
        } else if (client_fmt(r) && (d->info.id == PM_P_STD_COMM ||
                                     d->info.id == PM_P_SRC_STD_COMM)) {
            snprintf(s, n, "0");
        } else if (client_fmt(r) && (d->info.id == PM_P_AS_PATH ||
                                     d->info.id == PM_P_SRC_AS_PATH)) {
            snprintf(s, n, "^$");
        } else {
            s[0] = 0;
        }
        return Q_STR;
    }
    case PM_VT_COUNTRY: {
        size_t k = 0;
        while (k < 4 && f[k])
            k++;
        if (k > n - 1)
            k = n - 1;
        memcpy(s, f, k);
        s[k] = 0;
        return Q_STR;
    }
    case PM_VT_COORDS: {
        double ll[2];
        memcpy(ll, f, sizeof(ll));
        if (r->cfg.fmt == PM_FMT_JSON) {
            snprintf(s, n, "%.17g", ll[which]);
            if (!strpbrk(s, ".eEn"))
                strncat(s, ".0", n - strlen(s) - 1);
        } else {
            snprintf(s, n, "%f", ll[which]);
        }
        return Q_NONE;
    }
    case PM_VT_TS: {
        pm_ts_t ts;
        memcpy(&ts, f, sizeof(ts));
        if (client_fmt(r) && !ts.sec && !ts.usec &&
            !(r->cfg.flags & PM_RENDER_TS_EPOCH))
            snprintf(s, n, "1970-01-01T00:00:00.000000Z");
        else
            fmt_ts(r, &ts, s, n, 1);
        return Q_STR; /* quoted even as epoch */
    }
    case PM_VT_ROA:
        snprintf(s, n, "%c", pmc_roa_char(f[0]));
        return Q_STR;
    case PM_VT_CHAR:
        if (client_fmt(r) && !f[0])
            s[0] = 0; /* the client prints nothing for an unset char */
        else
            snprintf(s, n, "%c", f[0] ? f[0] : 'u');
        return Q_STR;
    case PM_VT_RD: {
        unsigned type = ((unsigned)f[0] << 8) | f[1];
        if (type == 1)
            snprintf(s, n, "%u:%u.%u.%u.%u:%u", type, f[2], f[3], f[4], f[5],
                     ((unsigned)f[6] << 8) | f[7]);
        else if (type == 2)
            snprintf(s, n, "%u:%" PRIu32 ":%u", type,
                     ((uint32_t)f[2] << 24) | ((uint32_t)f[3] << 16) |
                         ((uint32_t)f[4] << 8) | f[5],
                     ((unsigned)f[6] << 8) | f[7]);
        else
            snprintf(s, n, "%u:%u:%" PRIu32, type, ((unsigned)f[2] << 8) | f[3],
                     ((uint32_t)f[4] << 24) | ((uint32_t)f[5] << 16) |
                         ((uint32_t)f[6] << 8) | f[7]);
        return Q_STR;
    }
    case PM_VT_C_UINT:
    case PM_VT_C_HEX: {
        uint64_t v = 0;
        unsigned k;
        for (k = 0; k < d->size && k < 8; k++)
            v = (v << 8) | f[k];
        snprintf(s, n, d->info.type == PM_VT_C_HEX ? "%" PRIx64 : "%" PRIu64,
                 v);
        return Q_STR; /* pmacct quotes custom values in JSON */
    }
    case PM_VT_C_IP:
        inet_ntop(d->size == 16 ? AF_INET6 : AF_INET, f, s, (socklen_t)n);
        return Q_STR;
    case PM_VT_C_MAC:
        fmt_mac(s, f);
        return Q_STR;
    case PM_VT_C_STR: {
        size_t k = 0;
        while (k < d->size && f[k])
            k++;
        *str = (const char *)f;
        *slen = k;
        s[0] = 0;
        return Q_STR;
    }
    case PM_VT_C_RAW: {
        size_t k, o = 0;
        s[0] = 0;
        for (k = 0; k < d->size && o + 4 <= n; k++)
            o += (size_t)snprintf(s + o, n - o, "%s%02X", k ? "-" : "", f[k]);
        return Q_STR;
    }
    default:
        s[0] = 0;
        return Q_STR;
    }
}

static int json_escape(struct pm_buf *out, const char *s, size_t len)
{
    size_t i;
    if (buf_reserve(out, len * 6 + 2) < 0)
        return -ENOMEM;
    out->p[out->len++] = '"';
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': out->p[out->len++] = '\\'; out->p[out->len++] = '"'; break;
        case '\\': out->p[out->len++] = '\\'; out->p[out->len++] = '\\'; break;
        case '\n': out->p[out->len++] = '\\'; out->p[out->len++] = 'n'; break;
        case '\r': out->p[out->len++] = '\\'; out->p[out->len++] = 'r'; break;
        case '\t': out->p[out->len++] = '\\'; out->p[out->len++] = 't'; break;
        case '\b': out->p[out->len++] = '\\'; out->p[out->len++] = 'b'; break;
        case '\f': out->p[out->len++] = '\\'; out->p[out->len++] = 'f'; break;
        default:
            if (c < 0x20) {
                out->len += (size_t)sprintf(out->p + out->len, "\\u%04x", c);
            } else {
                out->p[out->len++] = (char)c;
            }
        }
    }
    out->p[out->len++] = '"';
    out->p[out->len] = 0;
    return 0;
}

static int json_kv(struct pm_buf *out, const char *key, const char *v,
                   size_t vlen, int quote)
{
    pmc_buf_printf(out, ", \"%s\": ", key);
    if (quote)
        return json_escape(out, v, vlen);
    return pmc_buf_append(out, v, vlen);
}

/* pre_tag_label_encode_as_map: "k1%v1,k2%v2" -> {"k1": "v1", "k2": "v2"};
 * an entry without '%' is a key with an empty value; empty entries are
 * skipped. */
static int json_label_map(struct pm_buf *out, const char *s, size_t len)
{
    size_t i = 0;
    int n = 0;
    pmc_buf_append(out, "{", 1);
    while (i < len) {
        size_t e = i, pct;
        while (e < len && s[e] != ',')
            e++;
        for (pct = i; pct < e && s[pct] != '%'; pct++)
            ;
        if (e > i) {
            if (n++)
                pmc_buf_append(out, ", ", 2);
            json_escape(out, s + i, pct - i);
            pmc_buf_append(out, ": ", 2);
            json_escape(out, s + (pct < e ? pct + 1 : e),
                        pct < e ? e - pct - 1 : 0);
        }
        i = e + 1;
    }
    return pmc_buf_append(out, "}", 1);
}

/* tcpflags_encode_as_array: the six RFC 793 control bits set, in the
 * header's order: ["URG", "ACK", "PSH", "RST", "SYN", "FIN"]. */
static int json_tcpflags(struct pm_buf *out, uint8_t f)
{
    static const char *const names[6] = {"URG", "ACK", "PSH",
                                         "RST", "SYN", "FIN"};
    int i, n = 0;
    pmc_buf_append(out, "[", 1);
    for (i = 0; i < 6; i++)
        if (f & (0x20u >> i))
            pmc_buf_printf(out, "%s\"%s\"", n++ ? ", " : "", names[i]);
    return pmc_buf_append(out, "]", 1);
}

static int row_json(struct pm_render *r, const struct pm_row *row,
                    struct pm_buf *out)
{
    char v[256];
    uint32_t i;
    int first = 1;
    if (buf_reserve(out, 256) < 0)
        return -ENOMEM;
    pmc_buf_append(out, "{", 1);
    if (r->cfg.flags & PM_RENDER_EVENT_TYPE) {
        pmc_buf_append(out, "\"event_type\": ", 14);
        json_escape(out, r->event, strlen(r->event));
        first = 0;
    }
    if (r->cfg.writer_id) {
        pmc_buf_printf(out, "%s\"writer_id\": %u", first ? "" : ", ",
                       (unsigned)r->cfg.writer_id);
        first = 0;
    }
    for (i = 0; i < r->cfg.nprims; i++) {
        const struct pm_prim_def *d = render_def(r->jprims[i]);
        int halves = d->json2 ? 2 : 1, h;
        for (h = 0; h < halves; h++) {
            const char *str;
            size_t slen = 0;
            int q = value_text(r, d, row, h, v, sizeof(v), &str, &slen);
            const char *key = h ? d->json2 : d->info.json;
            if (!str) {
                str = v;
                slen = strlen(v);
            }
            if (d->info.id == PM_P_LABEL &&
                (r->cfg.flags & PM_RENDER_LABEL_MAP)) {
                pmc_buf_printf(out, "%s\"%s\": ", first ? "" : ", ", key);
                json_label_map(out, str, slen);
            } else if (d->info.id == PM_P_TCPFLAGS &&
                       (r->cfg.flags & PM_RENDER_TCPFLAGS_ARRAY)) {
                pmc_buf_printf(out, "%s\"%s\": ", first ? "" : ", ", key);
                json_tcpflags(out, row->rec->tcpflags);
            } else if (first) {
                /* no leading ", " */
                pmc_buf_printf(out, "\"%s\": ", key);
                if (q)
                    json_escape(out, str, slen);
                else
                    pmc_buf_append(out, str, slen);
            } else {
                json_kv(out, key, str, slen, q);
            }
            first = 0;
        }
    }
    {
        const char *lead = first ? "" : ", ";
        if (r->cfg.flags & PM_RENDER_STAMPS) {
            pm_ts_t t1 = {row->stamp_inserted, 0, 0},
                    t2 = {row->stamp_updated, 0, 0};
            char a[64], b[64];
            fmt_ts(r, &t1, a, sizeof(a), 0);
            fmt_ts(r, &t2, b, sizeof(b), 0);
            if (r->cfg.flags & PM_RENDER_TS_EPOCH)
                pmc_buf_printf(out,
                               "%s\"stamp_inserted\": %s, \"stamp_updated\": %s",
                               lead, a, b);
            else
                pmc_buf_printf(
                    out, "%s\"stamp_inserted\": \"%s\", \"stamp_updated\": \"%s\"",
                    lead, a, b);
            lead = ", ";
        }
        if (show_flows(r)) {
            pmc_buf_printf(out, "%s\"flows\": %" PRIu64, lead, row->flows);
            lead = ", ";
        }
        return pmc_buf_printf(out,
                              "%s\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64
                              "}\n",
                              lead, row->packets, row->bytes);
    }
}

int pmc_render_row(struct pm_render *r, const struct pm_row *row,
                   struct pm_buf *out)
{
    char v[256];
    uint32_t i;
    int csv = r->cfg.fmt == PM_FMT_CSV;
    const char *sep = r->separator;
    size_t seplen = strlen(sep);

    if (r->cfg.fmt == PM_FMT_JSON || r->cfg.fmt == PM_FMT_EVENT)
        return row_json(r, row, out);
    for (i = 0; i < r->cfg.nprims; i++) {
        const struct pm_prim_def *d = render_def(r->prims[i]);
        int halves = d->column2 ? 2 : 1, h;
        for (h = 0; h < halves; h++) {
            const char *str;
            size_t slen = 0;
            value_text(r, d, row, h, v, sizeof(v), &str, &slen);
            if (csv) {
                if (str)
                    pmc_buf_append(out, str, slen);
                else
                    pmc_buf_append(out, v, strlen(v));
                pmc_buf_append(out, sep, seplen);
            } else {
                if (str) {
                    char tmp[1024];
                    size_t k = slen < sizeof(tmp) - 1 ? slen : sizeof(tmp) - 1;
                    memcpy(tmp, str, k);
                    tmp[k] = 0;
                    pad_col(out, tmp, col_width(r, d));
                } else if (!client_fmt(r) && d->info.type == PM_VT_COORDS) {
                    /* the print plugin writes coordinates as "%f" and two
                     * spaces, whatever the header's width */
                    pmc_buf_append(out, v, strlen(v));
                    pmc_buf_append(out, "  ", 2);
                } else {
                    /* pmacct pads sampling_direction to 20, not 19 */
                    pad_col(out, v,
                            client_fmt(r) ? col_width(r, d)
                            : d->info.id == PM_P_SAMPLING_DIRECTION
                                ? 20
                                : col_width(r, d));
                }
            }
        }
    }
    if (csv) {
        fmt_u64(v, row->packets);
        pmc_buf_append(out, v, strlen(v));
        pmc_buf_append(out, sep, seplen);
        if (show_flows(r)) {
            fmt_u64(v, row->flows);
            pmc_buf_append(out, v, strlen(v));
            pmc_buf_append(out, sep, seplen);
        }
        fmt_u64(v, row->bytes);
        pmc_buf_append(out, v, strlen(v));
        return pmc_buf_append(out, "\n", 1);
    }
    fmt_u64(v, row->packets);
    pad_col(out, v, 22);
    if (show_flows(r)) {
        fmt_u64(v, row->flows);
        pad_col(out, v, 22);
    }
    fmt_u64(v, row->bytes);
    pmc_buf_append(out, v, strlen(v));
    return pmc_buf_append(out, "\n", 1);
}
