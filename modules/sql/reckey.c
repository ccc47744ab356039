/*
 * reckey.c - values' text and sort keys made from the records (ours).  For
 * the primitives below, the text of a value is written from the record's
 * field without the host's renderer, as that renderer writes it in CSV
 * (test_sql_layer's test_reckey_same checks each against it): numbers in
 * decimal, IPv4 as a dotted quad, IPv6 by inet_ntop, MACs in lower-case
 * hex, protocols rendered once per value by the host and kept.  The key
 * of a value is what sql_key_put makes of that text (for typed backends
 * addresses and MACs as their bytes directly, numbers as their digits).
 *
 * Threads: any; each thread its own walker (the protocols' text).
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>

#include "sort_int.h"


struct rk {
    int prim;
    enum sql_rk_type type;
    size_t off;
};

#define R(p, t, f) {p, t, offsetof(struct pm_rec, f)}
static const struct rk rks[] = {
    R(PM_P_SRC_HOST, SQL_RK_IP, src_host),
    R(PM_P_DST_HOST, SQL_RK_IP, dst_host),
    R(PM_P_SRC_NET, SQL_RK_IP, src_net),
    R(PM_P_DST_NET, SQL_RK_IP, dst_net),
    R(PM_P_PEER_SRC_IP, SQL_RK_IP, peer_src_ip),
    R(PM_P_PEER_DST_IP, SQL_RK_IP, peer_dst_ip),
    R(PM_P_SRC_MAC, SQL_RK_MAC, src_mac),
    R(PM_P_DST_MAC, SQL_RK_MAC, dst_mac),
    R(PM_P_SRC_PORT, SQL_RK_U16, src_port),
    R(PM_P_DST_PORT, SQL_RK_U16, dst_port),
    R(PM_P_VLAN, SQL_RK_U16, vlan),
    R(PM_P_COS, SQL_RK_U8, cos),
    R(PM_P_TOS, SQL_RK_U8, tos),
    R(PM_P_SRC_MASK, SQL_RK_U8, src_mask),
    R(PM_P_DST_MASK, SQL_RK_U8, dst_mask),
    R(PM_P_PROTO, SQL_RK_PROTO, proto),
    R(PM_P_SRC_AS, SQL_RK_U32, src_as),
    R(PM_P_DST_AS, SQL_RK_U32, dst_as),
    R(PM_P_PEER_SRC_AS, SQL_RK_U32, peer_src_as),
    R(PM_P_PEER_DST_AS, SQL_RK_U32, peer_dst_as),
    R(PM_P_IN_IFACE, SQL_RK_U32, in_iface),
    R(PM_P_OUT_IFACE, SQL_RK_U32, out_iface),
    R(PM_P_TAG, SQL_RK_U64, tag),
    R(PM_P_TAG2, SQL_RK_U64, tag2),
};
#undef R

void sql_reckey_init(struct sql_ctx *c)
{
    for (int i = 0; i < c->ncols; i++) {
        const struct sql_col *col = &c->cols[i];
        c->rkok[i] = 0;
        for (size_t j = 0; j < sizeof(rks) / sizeof(rks[0]); j++)
            if (col->kind == SQL_COL_PRIM && !col->half && !c->zero[i] &&
                rks[j].prim == col->prim) {
                c->rk[i] = (struct sql_reckey){col, rks[j].off,
                                               (int)rks[j].type};
                c->rkok[i] = 1;
            }
    }
}

int sql_reckey_cols(const struct sql_ctx *c, struct sql_reckey *k)
{
    int n = 0;
    for (int i = 0; i < c->ncols; i++) {
        if (c->cols[i].kind != SQL_COL_PRIM || c->zero[i])
            continue;
        if (!c->rkok[i])
            return -1;
        k[n++] = c->rk[i];
    }
    return n;
}

size_t sql_reckey_room(const struct sql_reckey *k, int typed)
{
    switch ((enum sql_rk_type)k->type) {
    case SQL_RK_IP: return typed ? 18 : 47; /* [3] text (<= 45) [0] */
    case SQL_RK_MAC: return typed ? 8 : 19;
    case SQL_RK_U8: return 5;
    case SQL_RK_U16: return 7;
    case SQL_RK_U32: return 12;
    case SQL_RK_U64: return 22;
    case SQL_RK_PROTO: return 42; /* [3] text (<= 40) [0] */
    }
    return 47; /* not reached: the largest above */
}

int sql_num_text(char *t, uint64_t v)
{
    char r[24];
    int k = 0;
    do
        r[k++] = (char)('0' + v % 10);
    while ((v /= 10));
    for (int i = 0; i < k; i++)
        t[i] = r[k - 1 - i];
    return k;
}

/* Dotted quad, as the renderer writes it; returns its length. */
static int ip4_text(char *s, const uint8_t *a)
{
    char *s0 = s;
    for (int i = 0; i < 4; i++) {
        unsigned b = a[i];
        if (b >= 100) {
            *s++ = (char)('0' + b / 100);
            *s++ = (char)('0' + b / 10 % 10);
        } else if (b >= 10) {
            *s++ = (char)('0' + b / 10);
        }
        *s++ = (char)('0' + b % 10);
        if (i < 3)
            *s++ = '.';
    }
    return (int)(s - s0);
}

static uint64_t num_of(const struct sql_reckey *k, const uint8_t *f)
{
    switch ((enum sql_rk_type)k->type) {
    case SQL_RK_U8: return f[0];
    case SQL_RK_U16: { uint16_t v; memcpy(&v, f, 2); return v; }
    case SQL_RK_U32: { uint32_t v; memcpy(&v, f, 4); return v; }
    case SQL_RK_U64: { uint64_t v; memcpy(&v, f, 8); return v; }
    default: return 0;
    }
}

int sql_rectext(struct sql_walker *w, const struct sql_reckey *k,
                const struct pm_row *row, char *t)
{
    const uint8_t *f = (const uint8_t *)row->rec + k->off;
    int len = 0;
    switch ((enum sql_rk_type)k->type) {
    case SQL_RK_IP: {
        pm_ip_t ip;
        memcpy(&ip, f, sizeof(ip));
        if (ip.af == 4)
            return ip4_text(t, ip.a);
        if (ip.af == 6 && inet_ntop(AF_INET6, ip.a, t, SQL_RECTEXT_MAX))
            return (int)strlen(t);
        return 0; /* unset: empty */
    }
    case SQL_RK_MAC:
        for (int i = 0; i < 6; i++) {
            static const char hx[] = "0123456789abcdef";
            t[len++] = hx[f[i] >> 4];
            t[len++] = hx[f[i] & 15];
            if (i < 5)
                t[len++] = ':';
        }
        return len;
    case SQL_RK_U8:
    case SQL_RK_U16:
    case SQL_RK_U32:
    case SQL_RK_U64:
        return sql_num_text(t, num_of(k, f));
    case SQL_RK_PROTO: {
        unsigned p = f[0];
        if (!w->proto_len[p]) { /* its text once, by the renderer */
            const char *v;
            size_t n;
            if (sql_prim_text(w, k->col, row, &v, &n) < 0 || n == 0 ||
                n >= sizeof(w->proto_text[p]))
                return -1;
            memcpy(w->proto_text[p], v, n);
            w->proto_len[p] = (unsigned char)n;
        }
        memcpy(t, w->proto_text[p], w->proto_len[p]);
        return w->proto_len[p];
    }
    }
    return -1;
}

/* [2][len][digits], as sql_key_put keys a number. */
static unsigned char *key_num(unsigned char *o, uint64_t v)
{
    int k = sql_num_text((char *)o + 2, v);
    o[0] = 2;
    o[1] = (unsigned char)k;
    return o + 2 + k;
}

unsigned char *sql_reckey_put(struct sql_walker *w, const struct sql_reckey *k,
                              const struct pm_row *row, unsigned char *o,
                              int typed)
{
    const uint8_t *f = (const uint8_t *)row->rec + k->off;
    char t[SQL_RECTEXT_MAX];
    switch ((enum sql_rk_type)k->type) {
    case SQL_RK_IP:
        if (typed && (f[0] == 4 || f[0] == 6)) { /* pm_ip_t: af first */
            pm_ip_t ip;
            memcpy(&ip, f, sizeof(ip));
            o[0] = 1;
            o[1] = ip.af;
            memcpy(o + 2, ip.a, ip.af == 4 ? 4 : 16);
            return o + (ip.af == 4 ? 6 : 18);
        }
        break;
    case SQL_RK_MAC:
        if (typed) {
            o[0] = 1;
            o[1] = 0;
            memcpy(o + 2, f, 6);
            return o + 8;
        }
        break;
    case SQL_RK_U8:
    case SQL_RK_U16:
    case SQL_RK_U32:
    case SQL_RK_U64:
        return key_num(o, num_of(k, f));
    case SQL_RK_PROTO:
        break;
    }
    int len = sql_rectext(w, k, row, t);
    if (len >= 0)
        return sql_key_put(o, t, len, typed);
    const char *v; /* from the renderer, as long as the bound allows */
    size_t n;
    if (sql_prim_text(w, k->col, row, &v, &n) < 0)
        return NULL;
    return sql_key_put(o, v, n > 40 ? 40 : (int)n, typed);
}
