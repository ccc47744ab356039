/*
 * pgbin.c - COPY ... FROM STDIN WITH (FORMAT binary) for the pgsql output:
 * the server parses no text (measured by hand, 632k sorted rows of a v1
 * table: psql \copy 2.3-2.4 s binary vs 3.5-4.4 s text).  Used only when
 * every column of the COPY has a type encoded here (pgbin_types: int2,
 * int4, int8, text, char(n), varchar(n), inet, cidr, macaddr, timestamp
 * without time zone, as pmacct's tables have); otherwise the text COPY
 * stays.  A value that does not parse for its column's type fails the
 * chunk with the reason, as the server's text input would.
 *
 * Threads: writer thread only (called from pgsql.c's bulk path).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"

/* type OIDs (pg_type.dat, stable) */
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_CIDR 650
#define OID_MACADDR 829
#define OID_INET 869
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043
#define OID_TIMESTAMP 1114

int pgbin_types(PGconn *conn, const char *table, const struct sql_col *cols,
                int ncols, int *kinds)
{
    const char *params[1] = {table};
    int rc = 0;
    PGresult *res = PQexecParams(
        conn,
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = "
        "$1::regclass AND attnum > 0 AND NOT attisdropped",
        1, NULL, params, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < ncols && rc == 0; i++) {
        int k = -1;
        for (int r = 0; r < PQntuples(res); r++) {
            if (strcmp(PQgetvalue(res, r, 0), cols[i].name))
                continue;
            switch (atoi(PQgetvalue(res, r, 1))) {
            case OID_INT2:
                k = PGB_INT2;
                break;
            case OID_INT4:
                k = PGB_INT4;
                break;
            case OID_INT8:
                k = PGB_INT8;
                break;
            case OID_TEXT:
            case OID_BPCHAR:
            case OID_VARCHAR:
                k = PGB_TEXT;
                break;
            case OID_INET:
                k = PGB_INET;
                break;
            case OID_CIDR:
                k = PGB_CIDR;
                break;
            case OID_MACADDR:
                k = PGB_MAC;
                break;
            case OID_TIMESTAMP:
                k = PGB_TS;
                break;
            default:
                break;
            }
            break;
        }
        if (k < 0)
            rc = -1;
        kinds[i] = k;
    }
    PQclear(res);
    return rc;
}

static void put16(unsigned char *o, unsigned v)
{
    o[0] = (unsigned char)(v >> 8);
    o[1] = (unsigned char)v;
}

static void put32(unsigned char *o, uint32_t v)
{
    o[0] = (unsigned char)(v >> 24);
    o[1] = (unsigned char)(v >> 16);
    o[2] = (unsigned char)(v >> 8);
    o[3] = (unsigned char)v;
}

static void put64(unsigned char *o, uint64_t v)
{
    put32(o, (uint32_t)(v >> 32));
    put32(o + 4, (uint32_t)v);
}

static int parse_int(const char *v, int len, int64_t lo, int64_t hi,
                     int64_t *out)
{
    int i = 0, neg = 0;
    uint64_t x = 0;
    if (len > 0 && (v[0] == '-' || v[0] == '+'))
        neg = v[i++] == '-';
    if (i == len || len - i > 19)
        return -1;
    for (; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > (uint64_t)INT64_MAX)
        return -1;
    int64_t s = neg ? -(int64_t)x : (int64_t)x;
    if (s < lo || s > hi)
        return -1;
    *out = s;
    return 0;
}

/* inet/cidr: family (2: IPv4, 3: IPv6), bits, is_cidr, nb, address */
static int parse_inet(const char *v, int len, int cidr, unsigned char *o,
                      int *olen)
{
    char t[64];
    const char *slash;
    int bits = -1;
    if (len <= 0 || len >= (int)sizeof(t))
        return -1;
    if (sql_ip4_parse(v, len, o + 4) == 0) { /* most: no inet_pton */
        o[0] = 2;
        o[1] = 32;
        o[2] = (unsigned char)cidr;
        o[3] = 4;
        *olen = 8;
        return 0;
    }
    memcpy(t, v, (size_t)len);
    t[len] = 0;
    if ((slash = strchr(t, '/'))) {
        int64_t b;
        if (parse_int(slash + 1, (int)strlen(slash + 1), 0, 128, &b) < 0)
            return -1;
        bits = (int)b;
        t[slash - t] = 0;
    }
    if (inet_pton(AF_INET, t, o + 4) == 1) {
        if (bits > 32)
            return -1;
        o[0] = 2;
        o[1] = (unsigned char)(bits < 0 ? 32 : bits);
        o[3] = 4;
    } else if (inet_pton(AF_INET6, t, o + 4) == 1) {
        o[0] = 3;
        o[1] = (unsigned char)(bits < 0 ? 128 : bits);
        o[3] = 16;
    } else {
        return -1;
    }
    o[2] = (unsigned char)cidr;
    *olen = 4 + o[3];
    return 0;
}

/* days from 1970-01-01 to y-m-d (proleptic Gregorian) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD HH:MM:SS" -> microseconds since 2000-01-01 00:00:00 */
static int parse_ts(const char *v, int len, int64_t *out)
{
    static const int pos[6] = {0, 5, 8, 11, 14, 17};
    static const int wid[6] = {4, 2, 2, 2, 2, 2};
    int64_t f[6];
    if (len != 19 || v[4] != '-' || v[7] != '-' || v[10] != ' ' ||
        v[13] != ':' || v[16] != ':')
        return -1;
    for (int i = 0; i < 6; i++)
        if (parse_int(v + pos[i], wid[i], 0, 9999, &f[i]) < 0)
            return -1;
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 ||
        f[4] > 59 || f[5] > 60)
        return -1;
    int64_t days = days_from_civil(f[0], (int)f[1], (int)f[2]) - 10957;
    *out = ((days * 24 + f[3]) * 60 + f[4]) * 60 + f[5];
    *out *= 1000000;
    return 0;
}

int pgbin_row(unsigned char *o, const int *kinds, const struct sql_col *cols,
              const char *const *vals, const int *lens, int n,
              const struct pgbin_pre *pre, char *err, size_t errlen)
{
    unsigned char *start = o;
    put16(o, (unsigned)n);
    o += 2;
    for (int i = 0; i < n; i++) {
        const char *v = vals[i];
        int len = lens[i], bl = 0;
        int64_t x;
        if (pre && pre->len[i] > 0) {
            memcpy(o, pre->buf + pre->off[i], (size_t)pre->len[i]);
            o += pre->len[i];
            continue;
        }
        if (!v) {
            put32(o, UINT32_MAX);
            o += 4;
            continue;
        }
        unsigned char *d = o + 4;
        switch (kinds[i]) {
        case PGB_INT2:
        case PGB_INT4:
        case PGB_INT8: {
            int64_t lo = kinds[i] == PGB_INT2   ? INT16_MIN
                         : kinds[i] == PGB_INT4 ? INT32_MIN
                                                : INT64_MIN;
            int64_t hi = kinds[i] == PGB_INT2   ? INT16_MAX
                         : kinds[i] == PGB_INT4 ? INT32_MAX
                                                : INT64_MAX;
            if (parse_int(v, len, lo, hi, &x) < 0)
                goto bad;
            bl = kinds[i] == PGB_INT2 ? 2 : kinds[i] == PGB_INT4 ? 4 : 8;
            if (bl == 2)
                put16(d, (unsigned)(uint16_t)x);
            else if (bl == 4)
                put32(d, (uint32_t)x);
            else
                put64(d, (uint64_t)x);
            break;
        }
        case PGB_INET:
        case PGB_CIDR:
            if (parse_inet(v, len, kinds[i] == PGB_CIDR, d, &bl) < 0)
                goto bad;
            break;
        case PGB_MAC:
            if (sql_mac_parse(v, len, d) < 0)
                goto bad;
            bl = 6;
            break;
        case PGB_TS:
            if (parse_ts(v, len, &x) < 0)
                goto bad;
            put64(d, (uint64_t)x);
            bl = 8;
            break;
        default:
            memcpy(d, v, (size_t)len);
            bl = len;
            break;
        }
        put32(o, (uint32_t)bl);
        o += 4 + bl;
        continue;
    bad:
        snprintf(err, errlen, "column %s: invalid value '%.*s'", cols[i].name,
                 len > 64 ? 64 : len, v);
        return -1;
    }
    return (int)(o - start);
}

size_t pgbin_row_max(const int *lens, const char *const *vals, int n)
{
    size_t need = 2;
    for (int i = 0; i < n; i++)
        need += 4 + (vals[i] ? (size_t)lens[i] + 24 : 0);
    return need;
}

int pgbin_pre_set(struct pgbin_pre *pre, const int *kinds,
                  const struct sql_col *cols, int n,
                  const struct sql_same *same)
{
    size_t need = 0, at = 0;
    char e[8];
    for (int i = 0; i < n; i++)
        pre->len[i] = 0;
    if (!same)
        return 0;
    for (int i = 0; i < n; i++)
        if (same->is[i])
            need += pgbin_row_max(&same->lens[i], &same->vals[i], 1);
    if (need > pre->cap) {
        unsigned char *b = realloc(pre->buf, need);
        if (!b)
            return -1;
        pre->buf = b;
        pre->cap = need;
    }
    for (int i = 0; i < n; i++) {
        if (!same->is[i])
            continue;
        /* one field: a one-column row without its 2-byte field count */
        int l = pgbin_row(pre->buf + at, kinds + i, cols + i, &same->vals[i],
                          &same->lens[i], 1, NULL, e, sizeof(e));
        if (l <= 2)
            continue; /* does not encode: left to each row (its error) */
        memmove(pre->buf + at, pre->buf + at + 2, (size_t)l - 2);
        pre->off[i] = (int)at;
        pre->len[i] = l - 2;
        at += (size_t)l - 2;
    }
    return 0;
}
