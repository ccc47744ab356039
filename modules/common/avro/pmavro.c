/*
 * pmavro.c - Avro schema and datums of aggregates (see pmavro.h): the
 * schema from a probe row rendered by the instance's JSON renderer, datums
 * from the JSON text of each row, written with avro-c as binary datums,
 * Avro JSON, or object container files.
 *
 * Threads: one encoder per output instance, used by one thread at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avro.h>

#include "pmavro.h"

enum { T_STRING = 1, T_LONG, T_DOUBLE };

struct pm_avro {
    const struct pm_host *host;
    struct pm_render *render;
    unsigned nfields; /* renderer's keys + extra */
    char **keys;      /* JSON keys as the renderer writes them */
    uint8_t *types;   /* T_* per field */
    int has_extra;
    char *schema_text;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;
    int value_ok;
    struct pm_buf json;    /* rendered row */
    struct pm_buf scratch; /* unescaped string */
};

static int buf_reserve(struct pm_buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + more + 1)
        nc *= 2;
    char *p = realloc(b->p, nc);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = nc;
    return 0;
}

/* ---- the renderer's JSON: {"k": v, ...} with string or number values --- */

struct jtok {
    const char *key;
    size_t klen;
    int quoted;
    const char *v; /* raw text (quoted: between the quotes, still escaped) */
    size_t vlen;
};

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

/* End of a quoted string starting after its opening quote: pointer to the
 * closing quote, or NULL. */
static const char *str_end(const char *p, const char *e)
{
    while (p < e && *p != '"') {
        if (*p == '\\')
            p++;
        p++;
    }
    return p < e ? p : NULL;
}

/* Next member of the object; *pp is past '{' or past the previous value.
 * Returns 1 with t filled, 0 at '}', -1 on malformed text. */
static int next_member(const char **pp, const char *e, struct jtok *t)
{
    const char *p = skip_ws(*pp, e), *q;
    if (p < e && *p == ',')
        p = skip_ws(p + 1, e);
    if (p < e && *p == '}')
        return 0;
    if (p >= e || *p != '"' || !(q = str_end(p + 1, e)))
        return -1;
    t->key = p + 1;
    t->klen = (size_t)(q - p - 1);
    p = skip_ws(q + 1, e);
    if (p >= e || *p != ':')
        return -1;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '"') {
        if (!(q = str_end(p + 1, e)))
            return -1;
        t->quoted = 1;
        t->v = p + 1;
        t->vlen = (size_t)(q - p - 1);
        p = q + 1;
    } else {
        q = p;
        while (q < e && *q != ',' && *q != '}' && *q != ' ' && *q != '\n')
            q++;
        if (q == p)
            return -1;
        t->quoted = 0;
        t->v = p;
        t->vlen = (size_t)(q - p);
        p = q;
    }
    *pp = p;
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescape a JSON string body into b (NUL-terminated); -1 when malformed. */
static int unescape(struct pm_buf *b, const char *s, size_t n)
{
    b->len = 0;
    if (buf_reserve(b, n * 3) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\') {
            b->p[b->len++] = c;
            continue;
        }
        if (++i >= n)
            return -EINVAL;
        switch (s[i]) {
        case 'n':
            b->p[b->len++] = '\n';
            break;
        case 'r':
            b->p[b->len++] = '\r';
            break;
        case 't':
            b->p[b->len++] = '\t';
            break;
        case 'b':
            b->p[b->len++] = '\b';
            break;
        case 'f':
            b->p[b->len++] = '\f';
            break;
        case 'u': {
            unsigned cp = 0;
            for (int k = 1; k <= 4; k++) {
                int h = i + (size_t)k < n ? hexval(s[i + (size_t)k]) : -1;
                if (h < 0)
                    return -EINVAL;
                cp = cp << 4 | (unsigned)h;
            }
            i += 4;
            if (cp < 0x80) {
                b->p[b->len++] = (char)cp;
            } else if (cp < 0x800) {
                b->p[b->len++] = (char)(0xc0 | cp >> 6);
                b->p[b->len++] = (char)(0x80 | (cp & 0x3f));
            } else {
                b->p[b->len++] = (char)(0xe0 | cp >> 12);
                b->p[b->len++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                b->p[b->len++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            b->p[b->len++] = s[i];
            break; /* \" \\ \/ */
        }
    }
    b->p[b->len] = 0;
    return 0;
}

/* An Avro name: [A-Za-z_][A-Za-z0-9_]*; other characters become '_'. */
static void avro_name(char *dst, size_t dlen, const char *k, size_t klen)
{
    size_t o = 0;
    if (klen && k[0] >= '0' && k[0] <= '9' && o + 1 < dlen)
        dst[o++] = '_';
    for (size_t i = 0; i < klen && o + 1 < dlen; i++) {
        char c = k[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_';
        dst[o++] = ok ? c : '_';
    }
    dst[o] = 0;
}

/* ---- encoder ------------------------------------------------------------- */

static int add_field(struct pm_avro *a, const char *k, size_t klen, int type)
{
    char **nk = realloc(a->keys, (a->nfields + 1) * sizeof(*nk));
    if (!nk)
        return -ENOMEM;
    a->keys = nk;
    uint8_t *nt = realloc(a->types, a->nfields + 1);
    if (!nt)
        return -ENOMEM;
    a->types = nt;
    if (!(a->keys[a->nfields] = strndup(k, klen)))
        return -ENOMEM;
    a->types[a->nfields++] = (uint8_t)type;
    return 0;
}

static int value_type(const struct jtok *t)
{
    if (t->quoted)
        return T_STRING;
    for (size_t i = 0; i < t->vlen; i++)
        if (t->v[i] == '.' || t->v[i] == 'e' || t->v[i] == 'E' ||
            t->v[i] == 'n' || t->v[i] == 'i')
            return T_DOUBLE;
    return T_LONG;
}

int pm_avro_new(const struct pm_host *host, struct pm_render *r,
                const char *extra, struct pm_avro **out, char *err,
                size_t errlen)
{
    struct pm_avro *a = calloc(1, sizeof(*a));
    struct pm_rec probe;
    struct pm_row row;
    struct pm_buf sch = {0};
    int rc = -ENOMEM;
    if (!a)
        return -ENOMEM;
    a->host = host;
    a->render = r;
    /* probe: every primitive present (zero values) */
    memset(&probe, 0, sizeof(probe));
    memset(&probe.present, 0xff, sizeof(probe.present));
    memset(&row, 0, sizeof(row));
    row.rec = &probe;
    if (host->render_row(r, &row, &a->json) < 0)
        goto fail;
    {
        const char *p = a->json.p, *e = a->json.p + a->json.len;
        struct jtok t;
        int m;
        p = skip_ws(p, e);
        if (p >= e || *p != '{') {
            snprintf(err, errlen, "the renderer does not write JSON objects");
            rc = -EINVAL;
            goto fail;
        }
        p++;
        while ((m = next_member(&p, e, &t)) > 0)
            if (add_field(a, t.key, t.klen, value_type(&t)) < 0)
                goto fail;
        if (m < 0) {
            snprintf(err, errlen, "cannot parse the renderer's JSON: %.80s",
                     a->json.p);
            rc = -EINVAL;
            goto fail;
        }
    }
    if (extra) {
        if (add_field(a, extra, strlen(extra), T_STRING) < 0)
            goto fail;
        a->has_extra = 1;
    }
    if (host->buf_printf(&sch, "{\"type\": \"record\", \"name\": "
                               "\"acct_data\", \"fields\": [") < 0)
        goto fail;
    for (unsigned i = 0; i < a->nfields; i++) {
        char nm[256];
        avro_name(nm, sizeof(nm), a->keys[i], strlen(a->keys[i]));
        if (host->buf_printf(&sch, "%s{\"name\": \"%s\", \"type\": \"%s\"}",
                             i ? ", " : "", nm,
                             a->types[i] == T_STRING ? "string"
                             : a->types[i] == T_LONG ? "long"
                                                     : "double") < 0)
            goto fail;
    }
    if (host->buf_printf(&sch, "]}") < 0)
        goto fail;
    a->schema_text = sch.p;
    sch.p = NULL;
    if (avro_schema_from_json_length(a->schema_text, strlen(a->schema_text),
                                     &a->schema)) {
        snprintf(err, errlen, "avro-c refused the schema: %s", avro_strerror());
        rc = -EINVAL;
        goto fail;
    }
    if (!(a->iface = avro_generic_class_from_schema(a->schema)) ||
        avro_generic_value_new(a->iface, &a->value)) {
        snprintf(err, errlen, "avro-c: %s", avro_strerror());
        goto fail;
    }
    a->value_ok = 1;
    *out = a;
    return 0;
fail:
    free(sch.p);
    pm_avro_free(a);
    return rc;
}

void pm_avro_free(struct pm_avro *a)
{
    if (!a)
        return;
    if (a->value_ok)
        avro_value_decref(&a->value);
    if (a->iface)
        avro_value_iface_decref(a->iface);
    if (a->schema)
        avro_schema_decref(a->schema);
    for (unsigned i = 0; i < a->nfields; i++)
        free(a->keys[i]);
    free(a->keys);
    free(a->types);
    free(a->schema_text);
    free(a->json.p);
    free(a->scratch.p);
    free(a);
}

const char *pm_avro_schema_text(const struct pm_avro *a)
{
    return a->schema_text;
}

int pm_avro_write_schema_file(const struct pm_avro *a, const char *path,
                              char *err, size_t errlen)
{
    char tmp[4096];
    FILE *f;
    int rc = 0;
    if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >=
        (int)sizeof(tmp)) {
        snprintf(err, errlen, "path too long");
        return -ENAMETOOLONG;
    }
    if (!(f = fopen(tmp, "w"))) {
        rc = -errno;
        snprintf(err, errlen, "%s", strerror(errno));
        return rc;
    }
    if (fprintf(f, "%s\n", a->schema_text) < 0)
        rc = -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(err, errlen, "%s", strerror(-rc));
        unlink(tmp);
    }
    return rc;
}

unsigned pm_avro_nfields(const struct pm_avro *a)
{
    return a->nfields;
}

static int set_field(struct pm_avro *a, unsigned i, const struct jtok *t,
                     char *err, size_t errlen)
{
    avro_value_t f;
    char num[64];
    if (avro_value_get_by_index(&a->value, i, &f, NULL))
        return -EINVAL;
    if (a->types[i] == T_STRING) {
        if (!t->quoted || unescape(&a->scratch, t->v, t->vlen) < 0)
            goto bad;
        if (avro_value_set_string_len(&f, a->scratch.p, a->scratch.len + 1))
            return -ENOMEM;
        return 0;
    }
    if (t->quoted || t->vlen >= sizeof(num))
        goto bad;
    memcpy(num, t->v, t->vlen);
    num[t->vlen] = 0;
    char *end;
    errno = 0;
    if (a->types[i] == T_LONG) {
        int64_t v;
        if (num[0] == '-')
            v = (int64_t)strtoll(num, &end, 10);
        else
            v = (int64_t)strtoull(num, &end, 10); /* > 2^63-1 wraps */
        if (*end || errno)
            goto bad;
        avro_value_set_long(&f, v);
    } else {
        double v = strtod(num, &end);
        if (*end)
            goto bad;
        avro_value_set_double(&f, v);
    }
    return 0;
bad:
    snprintf(err, errlen, "field %s: value '%.*s' does not fit its type",
             a->keys[i], (int)(t->vlen > 60 ? 60 : t->vlen), t->v);
    return -EINVAL;
}

int pm_avro_set_row(struct pm_avro *a, const struct pm_row *row,
                    const char *extra, char *err, size_t errlen)
{
    struct jtok t;
    const char *p, *e;
    unsigned i = 0;
    int m, rc;
    a->json.len = 0;
    if (a->host->render_row(a->render, row, &a->json) < 0)
        return -ENOMEM;
    p = skip_ws(a->json.p, a->json.p + a->json.len);
    e = a->json.p + a->json.len;
    if (p >= e || *p != '{')
        goto bad;
    p++;
    while ((m = next_member(&p, e, &t)) > 0) {
        if (i >= a->nfields - (unsigned)a->has_extra ||
            strlen(a->keys[i]) != t.klen || memcmp(a->keys[i], t.key, t.klen))
            goto bad;
        if ((rc = set_field(a, i, &t, err, errlen)) < 0)
            return rc;
        i++;
    }
    if (m < 0 || i != a->nfields - (unsigned)a->has_extra)
        goto bad;
    if (a->has_extra) {
        avro_value_t f;
        const char *x = extra ? extra : "";
        if (avro_value_get_by_index(&a->value, i, &f, NULL) ||
            avro_value_set_string_len(&f, x, strlen(x) + 1))
            return -ENOMEM;
    }
    return 0;
bad:
    snprintf(err, errlen, "row does not match the schema: %.120s",
             a->json.p ? a->json.p : "");
    return -EINVAL;
}

int pm_avro_append_binary(struct pm_avro *a, struct pm_buf *out)
{
    size_t sz;
    avro_writer_t w;
    int rc = 0;
    if (avro_value_sizeof(&a->value, &sz))
        return -EIO;
    if (buf_reserve(out, sz) < 0)
        return -ENOMEM;
    if (!(w = avro_writer_memory(out->p + out->len, (int64_t)sz)))
        return -ENOMEM;
    if (avro_value_write(w, &a->value))
        rc = -EIO;
    else
        out->len += sz;
    avro_writer_free(w);
    out->p[out->len] = 0;
    return rc;
}

int pm_avro_append_json(struct pm_avro *a, struct pm_buf *out)
{
    char *s = NULL;
    size_t n;
    if (avro_value_to_json(&a->value, 1, &s) || !s)
        return -ENOMEM;
    n = strlen(s);
    if (buf_reserve(out, n + 1) < 0) {
        free(s);
        return -ENOMEM;
    }
    memcpy(out->p + out->len, s, n);
    out->len += n;
    out->p[out->len++] = '\n';
    out->p[out->len] = 0;
    free(s);
    return 0;
}

int pm_avro_append_framed(struct pm_avro *a, struct pm_buf *out)
{
    size_t start = out->len;
    uint32_t n;
    int rc;
    if (buf_reserve(out, 4) < 0)
        return -ENOMEM;
    out->len += 4;
    if ((rc = pm_avro_append_binary(a, out)) < 0) {
        out->len = start;
        return rc;
    }
    n = (uint32_t)(out->len - start - 4);
    memcpy(out->p + start, &n, 4);
    return 0;
}

/* An existing container file at path must carry our schema. */
static int same_schema(struct pm_avro *a, const char *path, char *err,
                       size_t errlen)
{
    avro_file_reader_t rd;
    avro_schema_t ws;
    int eq;
    if (avro_file_reader(path, &rd)) {
        snprintf(err, errlen, "not an Avro container file: %s",
                 avro_strerror());
        return -EINVAL;
    }
    ws = avro_file_reader_get_writer_schema(rd);
    eq = ws && avro_schema_equal(ws, a->schema);
    if (ws)
        avro_schema_decref(ws);
    avro_file_reader_close(rd);
    if (!eq) {
        snprintf(err, errlen,
                 "holds another Avro schema (aggregate changed?): not "
                 "appending");
        return -EINVAL;
    }
    return 0;
}

int pm_avro_write_file(struct pm_avro *a, const char *path, int fd, int append,
                       const struct pm_buf *framed, char *err, size_t errlen)
{
    avro_file_writer_t w = NULL;
    size_t bs = 64 * 1024, off;
    int rc = 0;
    /* a block must hold the largest datum */
    for (off = 0; framed && off + 4 <= framed->len;) {
        uint32_t n;
        memcpy(&n, framed->p + off, 4);
        if ((size_t)n + 64 > bs)
            bs = (size_t)n + 64;
        off += 4 + n;
    }
    if (append) {
        close(fd);
        fd = -1;
        if ((rc = same_schema(a, path, err, errlen)) < 0)
            return rc;
        if (avro_file_writer_open_bs(path, &w, bs)) {
            snprintf(err, errlen, "%s", avro_strerror());
            return -EIO;
        }
    } else {
        FILE *fp = fdopen(fd, "wb");
        if (!fp) {
            rc = -errno;
            snprintf(err, errlen, "%s", strerror(errno));
            close(fd);
            return rc;
        }
        if (avro_file_writer_create_with_codec_fp(fp, path, 1, a->schema, &w,
                                                  "null", bs)) {
            snprintf(err, errlen, "%s", avro_strerror());
            fclose(fp);
            return -EIO;
        }
    }
    for (off = 0; framed && off + 4 <= framed->len;) {
        uint32_t n;
        memcpy(&n, framed->p + off, 4);
        if (avro_file_writer_append_encoded(w, framed->p + off + 4,
                                            (int64_t)n)) {
            snprintf(err, errlen, "%s", avro_strerror());
            rc = -EIO;
            break;
        }
        off += 4 + n;
    }
    if (avro_file_writer_close(w) && rc == 0) {
        snprintf(err, errlen, "%s", avro_strerror());
        rc = -EIO;
    }
    return rc;
}
