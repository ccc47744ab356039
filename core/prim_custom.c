/*
 * prim_custom.c - custom primitives: the `aggregate_primitives` file
 * (pmacct's examples/primitives.lst syntax) parsed into registry entries
 * with ids from PM_P_CUSTOM_BASE and bytes in pm_rec.custom[].
 *
 * The registry is filled once at start-up (before `aggregate` lines are
 * parsed) and read-only afterwards: shared freely between threads then.
 * pmc_custom_reset() is for start-up and tests only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prim_int.h"

#define NCUSTOM_MAX (PM_P_MAX - PM_P_CUSTOM_BASE)
#define NAME_MAX_LEN 64

static struct pm_custom_prim cp_pub[NCUSTOM_MAX];
static struct pm_prim_def cp_def[NCUSTOM_MAX];
static char cp_names[NCUSTOM_MAX][NAME_MAX_LEN];
static uint32_t cp_n;
static uint32_t cp_bytes;

void pmc_custom_reset(void)
{
    memset(cp_pub, 0, sizeof(cp_pub));
    memset(cp_def, 0, sizeof(cp_def));
    memset(cp_names, 0, sizeof(cp_names));
    cp_n = 0;
    cp_bytes = 0;
}

const struct pm_custom_prim *pmc_custom_prims(uint32_t *n)
{
    if (n)
        *n = cp_n;
    return cp_n ? cp_pub : NULL;
}

const struct pm_prim_def *pmc_custom_def(unsigned id)
{
    if (id < PM_P_CUSTOM_BASE || id >= PM_P_CUSTOM_BASE + cp_n)
        return NULL;
    return &cp_def[id - PM_P_CUSTOM_BASE];
}

int pmc_custom_lookup(const char *name)
{
    uint32_t i;
    for (i = 0; i < cp_n; i++)
        if (!strcasecmp(cp_names[i], name))
            return (int)(PM_P_CUSTOM_BASE + i);
    return -ENOENT;
}

unsigned pmc_custom_count(void)
{
    return cp_n;
}

/* Printed width of a value of semantics sem and len bytes, without the
 * column's separating spaces (observed from nfacctd 1.7.7's print plugin:
 * the column is max(name, value width) + 2 wide). */
static unsigned value_width(unsigned sem, unsigned len)
{
    switch (sem) {
    case PM_CSEM_UINT:
    case PM_CSEM_HEX:
        return len == 1 ? 3 : len == 2 ? 5 : len == 4 ? 10 : 20;
    case PM_CSEM_IP:
        return 46;
    case PM_CSEM_MAC:
        return 18;
    case PM_CSEM_RAW:
        return len * 3;
    default:
        return len;
    }
}

static uint16_t vtype_of(unsigned sem)
{
    switch (sem) {
    case PM_CSEM_UINT: return PM_VT_C_UINT;
    case PM_CSEM_HEX: return PM_VT_C_HEX;
    case PM_CSEM_IP: return PM_VT_C_IP;
    case PM_CSEM_MAC: return PM_VT_C_MAC;
    case PM_CSEM_STR: return PM_VT_C_STR;
    default: return PM_VT_C_RAW;
    }
}

static int parse_num(const char *t, int base, unsigned long max,
                     unsigned long *out)
{
    char *e;
    unsigned long v;
    if (!*t || *t == '-' || *t == '+' || isspace((unsigned char)*t))
        return -EINVAL;
    errno = 0;
    v = strtoul(t, &e, base);
    if (errno || *e || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* packet_ptr value: <layer>[:<proto>][+<offset>] */
static int parse_ptr(const char *v, struct pm_custom_ptr *p, char *why,
                     size_t wl)
{
    char buf[128], *colon, *plus;
    unsigned long x;
    if (strlen(v) >= sizeof(buf)) {
        snprintf(why, wl, "packet_ptr '%s' too long", v);
        return -EINVAL;
    }
    strcpy(buf, v);
    memset(p, 0, sizeof(*p));
    plus = strchr(buf, '+');
    if (plus) {
        *plus++ = 0;
        if (parse_num(plus, 10, 65535, &x) < 0) {
            snprintf(why, wl,
                     "packet_ptr '%s': offset must be a decimal number "
                     "0..65535",
                     v);
            return -EINVAL;
        }
        p->offset = (uint32_t)x;
    }
    colon = strchr(buf, ':');
    if (colon) {
        *colon++ = 0;
        if (*colon) {
            if (parse_num(colon, 0, 0xffff, &x) < 0) {
                snprintf(why, wl,
                         "packet_ptr '%s': protocol must be a number "
                         "(decimal or 0x hex), got '%s'",
                         v, colon);
                return -EINVAL;
            }
            p->has_proto = 1;
            p->proto = (uint32_t)x;
        }
    }
    if (!strcasecmp(buf, "packet") || !strcasecmp(buf, "mac")) {
        p->layer = PM_CLAYER_PACKET;
    } else if (!strcasecmp(buf, "l3")) {
        p->layer = PM_CLAYER_L3;
    } else if (!strcasecmp(buf, "l4")) {
        p->layer = PM_CLAYER_L4;
    } else if (!strcasecmp(buf, "payload")) {
        p->layer = PM_CLAYER_PAYLOAD;
    } else if (!strcasecmp(buf, "vlan") || !strcasecmp(buf, "mpls")) {
        snprintf(why, wl, "packet_ptr '%s': layer '%s' is not supported yet",
                 v, buf);
        return -ENOTSUP;
    } else {
        snprintf(why, wl,
                 "packet_ptr '%s': unknown layer '%s' (expected packet, mac, "
                 "l3, l4 or payload)",
                 v, buf);
        return -EINVAL;
    }
    if (p->layer == PM_CLAYER_PACKET && p->has_proto) {
        snprintf(why, wl, "packet_ptr '%s': layer '%s' takes no protocol", v,
                 buf);
        return -EINVAL;
    }
    if (p->has_proto && p->layer != PM_CLAYER_L3 && p->proto > 255) {
        snprintf(why, wl, "packet_ptr '%s': IP protocol must be 0..255", v);
        return -EINVAL;
    }
    return 0;
}

static int reserved_name(const char *n)
{
    return !strcasecmp(n, "none") || !strcasecmp(n, "flows") ||
           !strncasecmp(n, "sum_", 4);
}

/* One line; returns 0 (entry added or nothing to do) or -errno with the
 * reason in why. */
static int parse_line(char *line, char *why, size_t wl)
{
    struct pm_custom_prim c;
    char *tok, *save = NULL;
    char name[NAME_MAX_LEN] = "";
    int have_len = 0, have_sem = 0, have_ft = 0;
    unsigned long x;

    memset(&c, 0, sizeof(c));
    for (tok = strtok_r(line, " \t\r\n", &save); tok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        char *eq = strchr(tok, '='), *key = tok, *val;
        if (!eq) {
            snprintf(why, wl, "expected key=value, got '%s'", tok);
            return -EINVAL;
        }
        *eq = 0;
        val = eq + 1;
        if (!strcasecmp(key, "name")) {
            size_t k;
            if (!*val || strlen(val) >= sizeof(name)) {
                snprintf(why, wl, "name: expected 1..%d characters",
                         NAME_MAX_LEN - 1);
                return -EINVAL;
            }
            for (k = 0; val[k]; k++)
                if (!isalnum((unsigned char)val[k]) && val[k] != '_' &&
                    val[k] != '-') {
                    snprintf(why, wl,
                             "name '%s': only letters, digits, '_' and '-'",
                             val);
                    return -EINVAL;
                }
            strcpy(name, val);
        } else if (!strcasecmp(key, "len")) {
            if (!strcasecmp(val, "vlen")) {
                snprintf(why, wl,
                         "len=vlen: variable-length primitives are not "
                         "supported yet");
                return -ENOTSUP;
            }
            if (parse_num(val, 10, PM_REC_CUSTOM_BYTES, &x) < 0 || !x) {
                snprintf(why, wl, "len: expected 1..%d bytes or vlen, got '%s'",
                         PM_REC_CUSTOM_BYTES, val);
                return -EINVAL;
            }
            c.len = (uint16_t)x;
            have_len = 1;
        } else if (!strcasecmp(key, "semantics")) {
            if (!strcasecmp(val, "u_int"))
                c.semantics = PM_CSEM_UINT;
            else if (!strcasecmp(val, "hex"))
                c.semantics = PM_CSEM_HEX;
            else if (!strcasecmp(val, "ip"))
                c.semantics = PM_CSEM_IP;
            else if (!strcasecmp(val, "mac"))
                c.semantics = PM_CSEM_MAC;
            else if (!strcasecmp(val, "str"))
                c.semantics = PM_CSEM_STR;
            else if (!strcasecmp(val, "raw"))
                c.semantics = PM_CSEM_RAW;
            else {
                snprintf(why, wl,
                         "semantics: expected u_int, hex, ip, mac, str or "
                         "raw, got '%s'",
                         val);
                return -EINVAL;
            }
            have_sem = 1;
        } else if (!strcasecmp(key, "field_type")) {
            char *colon = strchr(val, ':');
            unsigned long pen = 0;
            if (colon) {
                *colon = 0;
                if (parse_num(val, 10, 0xffffffffUL, &pen) < 0) {
                    snprintf(why, wl,
                             "field_type: expected IE or PEN:IE, bad PEN "
                             "'%s'",
                             val);
                    return -EINVAL;
                }
                val = colon + 1;
            }
            if (parse_num(val, 10, 0x7fff, &x) < 0 || !x) {
                snprintf(why, wl,
                         "field_type: expected an IE number 1..32767 (or "
                         "PEN:IE), got '%s'",
                         val);
                return -EINVAL;
            }
            c.field_type = (uint32_t)x;
            c.pen = (uint32_t)pen;
            have_ft = 1;
        } else if (!strcasecmp(key, "packet_ptr")) {
            int rc;
            if (c.nptrs >= PM_CUSTOM_MAX_PTRS) {
                snprintf(why, wl, "at most %d packet_ptr per primitive",
                         PM_CUSTOM_MAX_PTRS);
                return -EINVAL;
            }
            if ((rc = parse_ptr(val, &c.ptrs[c.nptrs], why, wl)) < 0)
                return rc;
            c.nptrs++;
        } else {
            snprintf(why, wl,
                     "unknown key '%s' (expected name, field_type, "
                     "packet_ptr, len, semantics)",
                     key);
            return -EINVAL;
        }
    }
    if (!name[0] && !have_len && !have_sem && !have_ft && !c.nptrs)
        return 0; /* blank */
    if (!name[0]) {
        snprintf(why, wl, "missing name=");
        return -EINVAL;
    }
    if (!have_len || !have_sem) {
        snprintf(why, wl, "primitive '%s': missing %s", name,
                 !have_len ? "len=" : "semantics=");
        return -EINVAL;
    }
    if (!have_ft && !c.nptrs) {
        snprintf(why, wl,
                 "primitive '%s': needs field_type= or packet_ptr= (where "
                 "to read it)",
                 name);
        return -EINVAL;
    }
    if (reserved_name(name) || pmc_prim_lookup(name) >= 0) {
        snprintf(why, wl, "primitive '%s' already defined", name);
        return -EEXIST;
    }
    switch (c.semantics) {
    case PM_CSEM_UINT:
    case PM_CSEM_HEX:
        if (c.len != 1 && c.len != 2 && c.len != 4 && c.len != 8) {
            snprintf(why, wl,
                     "primitive '%s': semantics %s needs len 1, 2, 4 or 8",
                     name, c.semantics == PM_CSEM_UINT ? "u_int" : "hex");
            return -EINVAL;
        }
        break;
    case PM_CSEM_IP:
        if (c.len != 4 && c.len != 16) {
            snprintf(why, wl,
                     "primitive '%s': semantics ip needs len 4 or 16",
                     name);
            return -EINVAL;
        }
        break;
    case PM_CSEM_MAC:
        if (c.len != 6) {
            snprintf(why, wl, "primitive '%s': semantics mac needs len 6",
                     name);
            return -EINVAL;
        }
        break;
    default:
        break;
    }
    if (cp_n >= NCUSTOM_MAX) {
        snprintf(why, wl, "primitive '%s': at most %d custom primitives",
                 name, NCUSTOM_MAX);
        return -ENOSPC;
    }
    if (cp_bytes + c.len > PM_REC_CUSTOM_BYTES) {
        snprintf(why, wl,
                 "primitive '%s': custom primitives take %u bytes in all, "
                 "at most %d",
                 name, cp_bytes + c.len, PM_REC_CUSTOM_BYTES);
        return -ENOSPC;
    }
    {
        uint32_t k = cp_n;
        struct pm_prim_def *d = &cp_def[k];
        unsigned w = value_width(c.semantics, c.len);
        size_t nl = strlen(name);
        strcpy(cp_names[k], name);
        c.name = cp_names[k];
        c.id = (uint16_t)(PM_P_CUSTOM_BASE + k);
        c.rec_off = (uint16_t)cp_bytes;
        cp_pub[k] = c;
        d->info.id = c.id;
        d->info.type = vtype_of(c.semantics);
        d->info.name = cp_names[k];
        d->info.column = cp_names[k];
        d->info.json = cp_names[k];
        d->info.sql = cp_names[k];
        d->info.desc = "Custom primitive (aggregate_primitives)";
        d->info.width = (uint16_t)((nl > w ? nl : w) + 2);
        d->info.print_order = (uint16_t)(1000 + k);
        d->json_order = (uint16_t)(9000 + k);
        d->off = (uint16_t)(offsetof(struct pm_rec, custom) + cp_bytes);
        d->size = c.len;
        d->group = "CUSTOM";
        cp_bytes += c.len;
        cp_n++;
    }
    return 0;
}

int pmc_custom_parse_text(const char *text, const char *fname, char *err,
                          size_t errlen)
{
    const char *p = text ? text : "";
    int lineno = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[1024], why[256] = "";
        const char *q;
        int rc;
        lineno++;
        if (len >= sizeof(line)) {
            snprintf(err, errlen, "%s:%d: line too long", fname, lineno);
            return -EINVAL;
        }
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (nl ? 1 : 0);
        for (q = line; isspace((unsigned char)*q); q++)
            ;
        if (!*q || *q == '!' || *q == '#')
            continue;
        if ((rc = parse_line(line, why, sizeof(why))) < 0) {
            snprintf(err, errlen, "%s:%d: %s", fname, lineno, why);
            return rc;
        }
    }
    return 0;
}

int pmc_custom_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc;
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
        return rc;
    }
    for (;;) {
        size_t got;
        if (cap - n < 4096) {
            char *nb = realloc(buf, cap + 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return -ENOMEM;
            }
            buf = nb;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    buf[n] = 0;
    fclose(f);
    rc = pmc_custom_parse_text(buf, path, err, errlen);
    free(buf);
    return rc;
}
