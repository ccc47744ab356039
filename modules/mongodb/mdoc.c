/*
 * mdoc.c - JSON aggregate -> typed BSON document (see mdoc.h for the type
 * rules), and the lines of mongo_indexes_file.  A small recursive-descent
 * JSON reader: strings without escapes are appended straight from the
 * input, escaped ones are decoded into a buffer on the stack (or the heap
 * when longer).  Pure functions: nothing shared between threads.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mdoc.h"

#define MDOC_DEPTH 16

struct jp {
    const char *s;
    size_t n, i;
    char *err;
    size_t errlen;
};

static int jerr(struct jp *p, const char *what)
{
    if (p->err && p->errlen)
        snprintf(p->err, p->errlen, "offset %zu: %s", p->i, what);
    return -EINVAL;
}

static void ws(struct jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                           p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int c = s[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A JSON string at p->i (the opening quote).  On success *out and *olen
 * are the decoded text: a pointer into the input when it has no escape,
 * else into buf (small) or *heap (the caller frees it, also on error).
 * Decoded text never exceeds the encoded length. */
static int jstring(struct jp *p, const char **out, size_t *olen, char *buf,
                   size_t bufsz, char **heap)
{
    size_t start = ++p->i, j;
    int esc = 0;
    for (j = start; j < p->n && p->s[j] != '"'; j++) {
        if ((unsigned char)p->s[j] < 0x20)
            return jerr(p, "control character in a string");
        if (p->s[j] == '\\') {
            esc = 1;
            j++;
        }
    }
    if (j >= p->n)
        return jerr(p, "unterminated string");
    if (!esc) {
        *out = p->s + start;
        *olen = j - start;
        p->i = j + 1;
        return 0;
    }
    char *o = buf;
    if (j - start + 1 > bufsz) {
        if (!(*heap = malloc(j - start + 1)))
            return -ENOMEM;
        o = *heap;
    }
    size_t k = 0;
    for (size_t i = start; i < j; i++) {
        char c = p->s[i];
        if (c != '\\') {
            o[k++] = c;
            continue;
        }
        c = p->s[++i];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            o[k++] = c;
            break;
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (i + 4 >= j || hex4(p->s + i + 1, &cp) < 0) {
                p->i = i;
                return jerr(p, "bad \\u escape");
            }
            i += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < j &&
                p->s[i + 1] == '\\' && p->s[i + 2] == 'u' &&
                hex4(p->s + i + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                p->i = i;
                return jerr(p, "lone UTF-16 surrogate");
            }
            if (cp == 0) {
                p->i = i;
                return jerr(p, "NUL character in a string");
            }
            /* a \uXXXX (6 bytes) never decodes to more than 4 */
            k += utf8_put(o + k, cp);
            break;
        }
        default:
            p->i = i;
            return jerr(p, "bad escape");
        }
    }
    *out = o;
    *olen = k;
    p->i = j + 1;
    return 0;
}

static int key_is(const char *k, size_t kl, const char *lit)
{
    return strlen(lit) == kl && !memcmp(k, lit, kl);
}

static int is_counter(const char *k, size_t kl)
{
    return key_is(k, kl, "packets") || key_is(k, kl, "bytes") ||
           key_is(k, kl, "flows") || key_is(k, kl, "tag") ||
           key_is(k, kl, "tag2");
}

static int is_stamp(const char *k, size_t kl)
{
    return (kl > 6 && !memcmp(k, "stamp_", 6)) ||
           (kl > 10 && !memcmp(k, "timestamp_", 10));
}

/* pmacct's time text -> ms since the epoch; 1 = unset (zero date). */
static int stamp_ms(const char *s, size_t n, int64_t *ms)
{
    char t[40];
    int Y, M, D, h, m, sec, used = 0;
    if (n == 0 || n >= sizeof(t))
        return -1;
    memcpy(t, s, n);
    t[n] = 0;
    if (sscanf(t, "%4d-%2d-%2d %2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec,
               &used) == 6) {
        long usec = 0;
        if (t[used] == '.') {
            char *e;
            usec = strtol(t + used + 1, &e, 10);
            if (*e || e - (t + used + 1) != 6 || usec < 0)
                return -1;
        } else if (t[used]) {
            return -1;
        }
        if (!Y && !M && !D && !h && !m && !sec)
            return 1;
        struct tm tm = {0};
        tm.tm_year = Y - 1900;
        tm.tm_mon = M - 1;
        tm.tm_mday = D;
        tm.tm_hour = h;
        tm.tm_min = m;
        tm.tm_sec = sec;
        tm.tm_isdst = -1;
        time_t tt = mktime(&tm);
        if (tt == (time_t)-1 && !(Y == 1969 || Y == 1970))
            return -1;
        *ms = (int64_t)tt * 1000 + usec / 1000;
        return 0;
    }
    /* since the epoch: sec[.frac] */
    char *e;
    errno = 0;
    long long whole = strtoll(t, &e, 10);
    if (e == t || errno || whole < 0)
        return -1;
    int64_t frac = 0;
    if (*e == '.') {
        int digits = 0;
        for (e++; isdigit((unsigned char)*e); e++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*e - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (*e || whole > INT64_MAX / 1000 - 1)
        return -1;
    *ms = whole * 1000 + frac;
    return 0;
}

static int jvalue(struct jp *p, bson_t *doc, const char *k, size_t kl,
                  int depth);

static int jcontainer(struct jp *p, bson_t *doc, int depth, int array, int top)
{
    char kbuf[128];
    p->i++; /* { or [ */
    ws(p);
    if (p->i < p->n && p->s[p->i] == (array ? ']' : '}')) {
        p->i++;
        return 0;
    }
    for (uint32_t idx = 0;; idx++) {
        const char *k;
        size_t kl;
        char *heap = NULL;
        char ibuf[16];
        int rc;
        ws(p);
        if (array) {
            const char *ks;
            kl = bson_uint32_to_string(idx, &ks, ibuf, sizeof(ibuf));
            k = ks;
        } else {
            if (p->i >= p->n || p->s[p->i] != '"')
                return jerr(p, "expected a member name");
            if ((rc = jstring(p, &k, &kl, kbuf, sizeof(kbuf), &heap)) < 0) {
                free(heap);
                return rc;
            }
            if (kl == 0 || memchr(k, 0, kl)) {
                free(heap);
                return jerr(p, "empty member name");
            }
            if (!bson_utf8_validate(k, kl, false)) {
                free(heap);
                return jerr(p, "member name is not valid UTF-8");
            }
            ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(heap);
                return jerr(p, "expected ':'");
            }
            p->i++;
            ws(p);
        }
        if (top &&
            (key_is(k, kl, "event_type") || key_is(k, kl, "writer_id"))) {
            bson_t scratch = BSON_INITIALIZER;
            rc = jvalue(p, &scratch, k, kl, depth);
            bson_destroy(&scratch);
        } else {
            rc = jvalue(p, doc, k, kl, depth);
        }
        free(heap);
        if (rc < 0)
            return rc;
        ws(p);
        if (p->i >= p->n)
            return jerr(p, "unexpected end");
        if (p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->s[p->i] == (array ? ']' : '}')) {
            p->i++;
            return 0;
        }
        return jerr(p, array ? "expected ',' or ']'" : "expected ',' or '}'");
    }
}

static int jnumber(struct jp *p, bson_t *doc, const char *k, size_t kl)
{
    size_t st = p->i, j = p->i;
    int isfloat = 0;
    char t[64];
    if (j < p->n && p->s[j] == '-')
        j++;
    if (j >= p->n || !isdigit((unsigned char)p->s[j]))
        return jerr(p, "bad number");
    if (p->s[j] == '0' && j + 1 < p->n && isdigit((unsigned char)p->s[j + 1]))
        return jerr(p, "number with a leading zero");
    while (j < p->n && isdigit((unsigned char)p->s[j]))
        j++;
    if (j < p->n && p->s[j] == '.') {
        isfloat = 1;
        if (++j >= p->n || !isdigit((unsigned char)p->s[j]))
            return jerr(p, "bad fraction");
        while (j < p->n && isdigit((unsigned char)p->s[j]))
            j++;
    }
    if (j < p->n && (p->s[j] == 'e' || p->s[j] == 'E')) {
        isfloat = 1;
        j++;
        if (j < p->n && (p->s[j] == '+' || p->s[j] == '-'))
            j++;
        if (j >= p->n || !isdigit((unsigned char)p->s[j]))
            return jerr(p, "bad exponent");
        while (j < p->n && isdigit((unsigned char)p->s[j]))
            j++;
    }
    if (j - st >= sizeof(t))
        return jerr(p, "number too long");
    memcpy(t, p->s + st, j - st);
    t[j - st] = 0;
    p->i = j;
    if (is_stamp(k, kl) && t[0] != '-') {
        int64_t ms;
        if (stamp_ms(t, j - st, &ms) == 0)
            return bson_append_date_time(doc, k, (int)kl, ms) ? 0 : -ENOMEM;
    }
    if (!isfloat) {
        errno = 0;
        long long v = strtoll(t, NULL, 10);
        if (!errno) {
            if (!is_counter(k, kl) && v >= INT32_MIN && v <= INT32_MAX)
                return bson_append_int32(doc, k, (int)kl, (int32_t)v) ? 0
                                                                      : -ENOMEM;
            return bson_append_int64(doc, k, (int)kl, v) ? 0 : -ENOMEM;
        }
    }
    return bson_append_double(doc, k, (int)kl, strtod(t, NULL)) ? 0 : -ENOMEM;
}

static int jlit(struct jp *p, const char *lit)
{
    size_t l = strlen(lit);
    if (p->n - p->i < l || memcmp(p->s + p->i, lit, l))
        return 0;
    p->i += l;
    return 1;
}

static int jvalue(struct jp *p, bson_t *doc, const char *k, size_t kl,
                  int depth)
{
    int rc;
    if (p->i >= p->n)
        return jerr(p, "expected a value");
    switch (p->s[p->i]) {
    case '"': {
        char vbuf[256];
        char *heap = NULL;
        const char *v;
        size_t vl;
        if ((rc = jstring(p, &v, &vl, vbuf, sizeof(vbuf), &heap)) < 0) {
            free(heap);
            return rc;
        }
        if (is_stamp(k, kl)) {
            int64_t ms;
            int s = stamp_ms(v, vl, &ms);
            if (s >= 0) {
                free(heap);
                if (s == 1)
                    return bson_append_null(doc, k, (int)kl) ? 0 : -ENOMEM;
                return bson_append_date_time(doc, k, (int)kl, ms) ? 0 : -ENOMEM;
            }
        }
        if (!bson_utf8_validate(v, vl, false)) {
            free(heap);
            return jerr(p, "string is not valid UTF-8");
        }
        rc = bson_append_utf8(doc, k, (int)kl, v, (int)vl) ? 0 : -ENOMEM;
        free(heap);
        return rc;
    }
    case '{':
    case '[': {
        bson_t child;
        int array = p->s[p->i] == '[';
        if (depth >= MDOC_DEPTH)
            return jerr(p, "nested too deep");
        if (!(array ? bson_append_array_begin(doc, k, (int)kl, &child)
                    : bson_append_document_begin(doc, k, (int)kl, &child)))
            return -ENOMEM;
        rc = jcontainer(p, &child, depth + 1, array, 0);
        if (!(array ? bson_append_array_end(doc, &child)
                    : bson_append_document_end(doc, &child)) &&
            rc == 0)
            rc = -ENOMEM;
        return rc;
    }
    case 't':
        if (jlit(p, "true"))
            return bson_append_bool(doc, k, (int)kl, true) ? 0 : -ENOMEM;
        break;
    case 'f':
        if (jlit(p, "false"))
            return bson_append_bool(doc, k, (int)kl, false) ? 0 : -ENOMEM;
        break;
    case 'n':
        if (jlit(p, "null"))
            return bson_append_null(doc, k, (int)kl) ? 0 : -ENOMEM;
        break;
    default:
        return jnumber(p, doc, k, kl);
    }
    return jerr(p, "unknown literal");
}

int mdoc_from_json(const char *json, size_t len, bson_t *doc, char *err,
                   size_t errlen)
{
    struct jp p = {json, len, 0, err, errlen};
    int rc;
    ws(&p);
    if (p.i >= p.n || json[p.i] != '{')
        return jerr(&p, "expected a JSON object");
    if ((rc = jcontainer(&p, doc, 1, 0, 1)) < 0)
        return rc;
    ws(&p);
    if (p.i != p.n)
        return jerr(&p, "trailing bytes after the object");
    return 0;
}

int mdoc_index_line(const char *line, bson_t *key, char *name, size_t namelen,
                    char *err, size_t errlen)
{
    const char *s = line;
    size_t nl = 0;
    int nfields = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s || *s == '\n' || *s == '\r' || *s == '!' || *s == '#')
        return 0;
    if (namelen)
        name[0] = 0;
    while (*s && *s != '\n' && *s != '\r') {
        const char *f;
        size_t fl;
        while (*s == ' ' || *s == '\t')
            s++;
        f = s;
        while (*s && *s != ',' && *s != '\n' && *s != '\r')
            s++;
        fl = (size_t)(s - f);
        while (fl && (f[fl - 1] == ' ' || f[fl - 1] == '\t'))
            fl--;
        if (!fl) {
            snprintf(err, errlen, "empty field name");
            return -EINVAL;
        }
        for (size_t i = 0; i < fl; i++)
            if (!isalnum((unsigned char)f[i]) && f[i] != '_' && f[i] != '.' &&
                f[i] != '-') {
                snprintf(err, errlen, "field '%.*s': unexpected character '%c'",
                         (int)fl, f, f[i]);
                return -EINVAL;
            }
        if (f[0] == '.' || f[fl - 1] == '.' || f[0] == '-') {
            snprintf(err, errlen, "field '%.*s': not a field name", (int)fl, f);
            return -EINVAL;
        }
        if (!bson_append_int32(key, f, (int)fl, 1))
            return -ENOMEM;
        int w = snprintf(name + nl, namelen > nl ? namelen - nl : 0, "%s%.*s_1",
                         nfields ? "_" : "", (int)fl, f);
        if (w < 0 || nl + (size_t)w >= namelen) {
            snprintf(err, errlen, "index name too long");
            return -EINVAL;
        }
        nl += (size_t)w;
        nfields++;
        if (*s == ',') {
            s++;
            while (*s == ' ' || *s == '\t')
                s++;
            if (!*s || *s == ',' || *s == '\n' || *s == '\r') {
                snprintf(err, errlen, "empty field name");
                return -EINVAL;
            }
        }
    }
    return 1;
}
