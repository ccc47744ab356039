/*
 * optval.c - parse configuration values per pm_opt_type into a module's
 * config struct, set defaults and free stored strings.  Pure functions;
 * nothing shared.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "pmdata.h"

static void trim(const char *text, const char **b, size_t *n)
{
    const char *s = text, *e;
    while (*s && isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *b = s;
    *n = (size_t)(e - s);
}

static int parse_bool(const char *s, int *out)
{
    static const char *yes[] = {"true", "yes", "1", "on", NULL};
    static const char *no[] = {"false", "no", "0", "off", NULL};
    int i;
    for (i = 0; yes[i]; i++)
        if (!strcasecmp(s, yes[i])) {
            *out = 1;
            return 0;
        }
    for (i = 0; no[i]; i++)
        if (!strcasecmp(s, no[i])) {
            *out = 0;
            return 0;
        }
    return -EINVAL;
}

/* digits only (after optional sign for signed); returns end pointer */
static int parse_u64(const char *s, uint64_t *v, const char **end)
{
    char *e;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    unsigned long long x = strtoull(s, &e, 10);
    if (errno == ERANGE)
        return -ERANGE;
    *v = (uint64_t)x;
    *end = e;
    return 0;
}

static int mul_ok(uint64_t v, uint64_t m, uint64_t *out)
{
    if (m && v > UINT64_MAX / m)
        return -ERANGE;
    *out = v * m;
    return 0;
}

/* Find index of s in "a|b|c" (case-insensitive), or -1. */
static int enum_index(const char *values, const char *s)
{
    int idx = 0;
    size_t n = strlen(s);
    const char *p = values;
    if (!values)
        return -1;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncasecmp(p, s, n))
            return idx;
        if (!bar)
            return -1;
        p = bar + 1;
        idx++;
    }
}

int pmc_option_parse(const struct pm_option *o, const char *text,
                     void *config, char *err, size_t errlen)
{
    char buf[512];
    const char *b, *end;
    size_t n;
    uint64_t u;
    char *dst = (char *)config + o->offset;
    int rc;

    if (!text)
        text = "";
    trim(text, &b, &n);
    if (o->type == PM_OPT_STR || o->type == PM_OPT_PATH ||
        o->type == PM_OPT_LIST) {
        char *copy = strndup(b, n), **slot = (char **)(void *)dst;
        if (!copy) {
            snprintf(err, errlen, "%s: out of memory", o->name);
            return -ENOMEM;
        }
        free(*slot);
        *slot = copy;
        return 0;
    }
    if (n >= sizeof(buf)) {
        snprintf(err, errlen, "%s: value too long", o->name);
        return -EINVAL;
    }
    memcpy(buf, b, n);
    buf[n] = 0;

    switch (o->type) {
    case PM_OPT_BOOL: {
        int v;
        if (parse_bool(buf, &v) < 0) {
            snprintf(err, errlen,
                     "%s: expected true or false, got '%s'", o->name, buf);
            return -EINVAL;
        }
        memcpy(dst, &v, sizeof(v));
        return 0;
    }
    case PM_OPT_INT: {
        char *e;
        long long v;
        errno = 0;
        v = strtoll(buf, &e, 0);
        if (!buf[0] || *e || errno) {
            snprintf(err, errlen, "%s: expected an integer, got '%s'",
                     o->name, buf);
            return -EINVAL;
        }
        int64_t x = v;
        memcpy(dst, &x, sizeof(x));
        return 0;
    }
    case PM_OPT_UINT: {
        char *e;
        unsigned long long v;
        errno = 0;
        if (!isdigit((unsigned char)buf[0]))
            goto bad_uint;
        v = strtoull(buf, &e, 0);
        if (*e || errno)
            goto bad_uint;
        u = v;
        memcpy(dst, &u, sizeof(u));
        return 0;
    bad_uint:
        snprintf(err, errlen,
                 "%s: expected a non-negative integer, got '%s'", o->name,
                 buf);
        return -EINVAL;
    }
    case PM_OPT_SIZE: {
        uint64_t m = 1;
        rc = parse_u64(buf, &u, &end);
        if (rc == 0) {
            switch (*end) {
            case 0: break;
            case 'k': case 'K': m = 1024ull; end++; break;
            case 'm': case 'M': m = 1024ull * 1024; end++; break;
            case 'g': case 'G': m = 1024ull * 1024 * 1024; end++; break;
            default: rc = -EINVAL;
            }
            if (rc == 0 && (*end == 'b' || *end == 'B'))
                end++;
            if (rc == 0 && *end)
                rc = -EINVAL;
            if (rc == 0)
                rc = mul_ok(u, m, &u);
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s: expected a size like 10M, got '%s'",
                     o->name, buf);
            return -EINVAL;
        }
        memcpy(dst, &u, sizeof(u));
        return 0;
    }
    case PM_OPT_DURATION: {
        uint64_t m = 1;
        rc = parse_u64(buf, &u, &end);
        if (rc == 0) {
            switch (*end) {
            case 0: break;
            case 's': m = 1; end++; break;
            case 'm': m = 60; end++; break;
            case 'h': m = 3600; end++; break;
            case 'd': m = 86400; end++; break;
            case 'w': m = 7 * 86400; end++; break;
            case 'M': m = 30 * 86400; end++; break;
            default: rc = -EINVAL;
            }
            if (rc == 0 && *end)
                rc = -EINVAL;
            if (rc == 0)
                rc = mul_ok(u, m, &u);
        }
        if (rc < 0) {
            snprintf(err, errlen,
                     "%s: expected a duration like 60, 5m, 1h, 1d or 1w, "
                     "got '%s'",
                     o->name, buf);
            return -EINVAL;
        }
        memcpy(dst, &u, sizeof(u));
        return 0;
    }
    case PM_OPT_ENUM: {
        int idx = enum_index(o->values, buf);
        if (idx < 0) {
            snprintf(err, errlen, "%s: expected one of %s, got '%s'",
                     o->name, o->values ? o->values : "(none)", buf);
            return -EINVAL;
        }
        memcpy(dst, &idx, sizeof(idx));
        return 0;
    }
    default:
        snprintf(err, errlen, "%s: unknown option type %u", o->name,
                 (unsigned)o->type);
        return -EINVAL;
    }
}

static int is_str(uint32_t t)
{
    return t == PM_OPT_STR || t == PM_OPT_PATH || t == PM_OPT_LIST;
}

int pmc_options_defaults(const struct pm_option *opts, void *config,
                         char *err, size_t errlen)
{
    const struct pm_option *o;
    for (o = opts; o && o->name; o++) {
        char *dst = (char *)config + o->offset;
        if (o->defval) {
            int rc = pmc_option_parse(o, o->defval, config, err, errlen);
            if (rc < 0)
                return rc;
            continue;
        }
        switch (o->type) {
        case PM_OPT_STR:
        case PM_OPT_PATH:
        case PM_OPT_LIST: {
            char **slot = (char **)(void *)dst;
            free(*slot);
            *slot = NULL;
            break;
        }
        case PM_OPT_BOOL:
        case PM_OPT_ENUM: {
            int z = 0;
            memcpy(dst, &z, sizeof(z));
            break;
        }
        default: {
            uint64_t z = 0;
            memcpy(dst, &z, sizeof(z));
            break;
        }
        }
    }
    return 0;
}

void pmc_options_free(const struct pm_option *opts, void *config)
{
    const struct pm_option *o;
    for (o = opts; o && o->name; o++) {
        if (is_str(o->type)) {
            char **slot = (char **)(void *)((char *)config + o->offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

uint32_t pmc_render_flags(const struct pm_instance *inst,
                          const char *(*get)(const struct pm_instance *,
                                             const char *))
{
    static const struct {
        const char *key;
        uint32_t flag;
    } keys[] = {
        {"timestamps_since_epoch", PM_RENDER_TS_EPOCH},
        {"timestamps_secs", PM_RENDER_TS_SECS},
        {"pre_tag_label_encode_as_map", PM_RENDER_LABEL_MAP},
        {"tcpflags_encode_as_array", PM_RENDER_TCPFLAGS_ARRAY},
    };
    const struct pm_option o = {"", PM_OPT_BOOL, 0, 0, NULL, NULL, "", 0};
    uint32_t flags = 0;
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = get(inst, keys[i].key);
        int on = 0;
        char err[128];
        /* values were validated against the core's table at start-up */
        if (v && pmc_option_parse(&o, v, &on, err, sizeof(err)) == 0 && on)
            flags |= keys[i].flag;
    }
    return flags;
}
