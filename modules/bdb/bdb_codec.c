/*
 * bdb_codec.c - the bdb module's portable record format (format 1).
 *
 * Key:   [format = 1][time bin, 8 bytes BE, only with bdb_history]
 *        then each aggregate primitive in print order:
 *          integers  big-endian at their width (u16, u32, u64)
 *          IP        af (0, 4 or 6) + 16 bytes (IPv4: 4 bytes + 12 zeros)
 *          string    length (4 bytes BE) + bytes
 *          time      seconds (8 BE) + microseconds (4 BE)
 *          coords    latitude, longitude as big-endian IEEE doubles
 *          others    their bytes as held (MACs, u8, country, RD, custom)
 * Value: packets, bytes, flows (8 BE each), first seen (8+4), last seen
 *        (8+4) = 48 bytes.
 * Meta record (key "\0meta"): text lines "pmacct-bdb 1", "aggregate a,b",
 * "history 0|1", "rows N".
 *
 * Byte order is fixed, so a file moves between machines; the layout
 * follows struct pm_rec only through the table below.  Decoding checks
 * every length, address family and padding byte: a stored record is
 * input (tests/fuzz/fuzz_bdb.c).  Pure code: no state, no I/O.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdb.h"

#define FLD(field)                                                             \
    (uint16_t) offsetof(struct pm_rec, field),                                 \
        (uint16_t)sizeof(((struct pm_rec *)0)->field)

/* Every built-in primitive: how it is stored.  Read-only. */
static const struct bdb_field builtin[] = {
    {PM_P_SRC_MAC, BDB_K_RAW, FLD(src_mac)},
    {PM_P_DST_MAC, BDB_K_RAW, FLD(dst_mac)},
    {PM_P_VLAN, BDB_K_U16, FLD(vlan)},
    {PM_P_OUT_VLAN, BDB_K_U16, FLD(out_vlan)},
    {PM_P_CVLAN, BDB_K_U16, FLD(cvlan)},
    {PM_P_COS, BDB_K_RAW, FLD(cos)},
    {PM_P_ETYPE, BDB_K_U16, FLD(etype)},
    {PM_P_SRC_HOST, BDB_K_IP, FLD(src_host)},
    {PM_P_DST_HOST, BDB_K_IP, FLD(dst_host)},
    {PM_P_SRC_NET, BDB_K_IP, FLD(src_net)},
    {PM_P_DST_NET, BDB_K_IP, FLD(dst_net)},
    {PM_P_SRC_MASK, BDB_K_RAW, FLD(src_mask)},
    {PM_P_DST_MASK, BDB_K_RAW, FLD(dst_mask)},
    {PM_P_PROTO, BDB_K_RAW, FLD(proto)},
    {PM_P_TOS, BDB_K_RAW, FLD(tos)},
    {PM_P_SRC_PORT, BDB_K_U16, FLD(src_port)},
    {PM_P_DST_PORT, BDB_K_U16, FLD(dst_port)},
    {PM_P_TCPFLAGS, BDB_K_RAW, FLD(tcpflags)},
    {PM_P_FLOW_LABEL, BDB_K_U32, FLD(flow_label)},
    {PM_P_IN_IFACE, BDB_K_U32, FLD(in_iface)},
    {PM_P_OUT_IFACE, BDB_K_U32, FLD(out_iface)},
    {PM_P_PEER_SRC_IP, BDB_K_IP, FLD(peer_src_ip)},
    {PM_P_PEER_DST_IP, BDB_K_IP, FLD(peer_dst_ip)},
    {PM_P_SAMPLING_RATE, BDB_K_U32, FLD(sampling_rate)},
    {PM_P_SAMPLING_DIRECTION, BDB_K_RAW, FLD(sampling_direction)},
    {PM_P_DIRECTION, BDB_K_RAW, FLD(direction)},
    {PM_P_FWD_STATUS, BDB_K_RAW, FLD(fwd_status)},
    {PM_P_IN_VRF, BDB_K_STR, FLD(in_vrf)},
    {PM_P_OUT_VRF, BDB_K_STR, FLD(out_vrf)},
    {PM_P_EXPORT_PROTO_SEQNO, BDB_K_U32, FLD(export_proto_seqno)},
    {PM_P_EXPORT_PROTO_VERSION, BDB_K_U32, FLD(export_proto_version)},
    {PM_P_EXPORT_PROTO_SYSID, BDB_K_U32, FLD(export_proto_sysid)},
    {PM_P_SRC_AS, BDB_K_U32, FLD(src_as)},
    {PM_P_DST_AS, BDB_K_U32, FLD(dst_as)},
    {PM_P_PEER_SRC_AS, BDB_K_U32, FLD(peer_src_as)},
    {PM_P_PEER_DST_AS, BDB_K_U32, FLD(peer_dst_as)},
    {PM_P_AS_PATH, BDB_K_STR, FLD(as_path)},
    {PM_P_SRC_AS_PATH, BDB_K_STR, FLD(src_as_path)},
    {PM_P_STD_COMM, BDB_K_STR, FLD(std_comm)},
    {PM_P_SRC_STD_COMM, BDB_K_STR, FLD(src_std_comm)},
    {PM_P_EXT_COMM, BDB_K_STR, FLD(ext_comm)},
    {PM_P_SRC_EXT_COMM, BDB_K_STR, FLD(src_ext_comm)},
    {PM_P_LRG_COMM, BDB_K_STR, FLD(lrg_comm)},
    {PM_P_SRC_LRG_COMM, BDB_K_STR, FLD(src_lrg_comm)},
    {PM_P_LOCAL_PREF, BDB_K_U32, FLD(local_pref)},
    {PM_P_SRC_LOCAL_PREF, BDB_K_U32, FLD(src_local_pref)},
    {PM_P_MED, BDB_K_U32, FLD(med)},
    {PM_P_SRC_MED, BDB_K_U32, FLD(src_med)},
    {PM_P_MPLS_VPN_RD, BDB_K_RAW, FLD(mpls_vpn_rd)},
    {PM_P_MPLS_PW_ID, BDB_K_U32, FLD(mpls_pw_id)},
    {PM_P_SRC_ROA, BDB_K_RAW, FLD(src_roa)},
    {PM_P_DST_ROA, BDB_K_RAW, FLD(dst_roa)},
    {PM_P_POST_NAT_SRC_HOST, BDB_K_IP, FLD(post_nat_src_host)},
    {PM_P_POST_NAT_DST_HOST, BDB_K_IP, FLD(post_nat_dst_host)},
    {PM_P_POST_NAT_SRC_PORT, BDB_K_U16, FLD(post_nat_src_port)},
    {PM_P_POST_NAT_DST_PORT, BDB_K_U16, FLD(post_nat_dst_port)},
    {PM_P_NAT_EVENT, BDB_K_RAW, FLD(nat_event)},
    {PM_P_FW_EVENT, BDB_K_RAW, FLD(fw_event)},
    {PM_P_MPLS_LABEL_TOP, BDB_K_U32, FLD(mpls_label_top)},
    {PM_P_MPLS_LABEL_BOTTOM, BDB_K_U32, FLD(mpls_label_bottom)},
    {PM_P_MPLS_STACK_DEPTH, BDB_K_U32, FLD(mpls_stack_depth)},
    {PM_P_MPLS_LABEL_STACK, BDB_K_STR, FLD(mpls_label_stack)},
    {PM_P_TUNNEL_SRC_MAC, BDB_K_RAW, FLD(tunnel_src_mac)},
    {PM_P_TUNNEL_DST_MAC, BDB_K_RAW, FLD(tunnel_dst_mac)},
    {PM_P_TUNNEL_SRC_HOST, BDB_K_IP, FLD(tunnel_src_host)},
    {PM_P_TUNNEL_DST_HOST, BDB_K_IP, FLD(tunnel_dst_host)},
    {PM_P_TUNNEL_PROTO, BDB_K_RAW, FLD(tunnel_proto)},
    {PM_P_TUNNEL_TOS, BDB_K_RAW, FLD(tunnel_tos)},
    {PM_P_TUNNEL_SRC_PORT, BDB_K_U16, FLD(tunnel_src_port)},
    {PM_P_TUNNEL_DST_PORT, BDB_K_U16, FLD(tunnel_dst_port)},
    {PM_P_TUNNEL_TCPFLAGS, BDB_K_RAW, FLD(tunnel_tcpflags)},
    {PM_P_VXLAN, BDB_K_U32, FLD(vxlan)},
    {PM_P_GTP_TEID, BDB_K_U32, FLD(gtp_teid)},
    {PM_P_SRC_HOST_COUNTRY, BDB_K_RAW, FLD(src_host_country)},
    {PM_P_DST_HOST_COUNTRY, BDB_K_RAW, FLD(dst_host_country)},
    {PM_P_SRC_HOST_POCODE, BDB_K_STR, FLD(src_host_pocode)},
    {PM_P_DST_HOST_POCODE, BDB_K_STR, FLD(dst_host_pocode)},
    {PM_P_SRC_HOST_COORDS, BDB_K_F64,
     (uint16_t)offsetof(struct pm_rec, src_host_lat), 16},
    {PM_P_DST_HOST_COORDS, BDB_K_F64,
     (uint16_t)offsetof(struct pm_rec, dst_host_lat), 16},
    {PM_P_CLASS, BDB_K_STR, FLD(class_name)},
    {PM_P_TAG, BDB_K_U64, FLD(tag)},
    {PM_P_TAG2, BDB_K_U64, FLD(tag2)},
    {PM_P_LABEL, BDB_K_STR, FLD(label)},
    {PM_P_TIMESTAMP_START, BDB_K_TS, FLD(ts_start)},
    {PM_P_TIMESTAMP_END, BDB_K_TS, FLD(ts_end)},
    {PM_P_TIMESTAMP_ARRIVAL, BDB_K_TS, FLD(ts_arrival)},
    {PM_P_TIMESTAMP_EXPORT, BDB_K_TS, FLD(ts_export)},
};

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int bdb_layout_build(const struct pm_host *host, const struct pm_instance *inst,
                     int history, struct bdb_layout *l, char *err,
                     size_t errlen)
{
    const struct pm_custom_prim *cp = NULL;
    uint32_t ncp = 0;
    size_t used = 0;

    memset(l, 0, sizeof(*l));
    l->history = history;
    if (host->custom_prims)
        cp = host->custom_prims(&ncp);
    for (uint32_t i = 0; i < inst->naggregate; i++) {
        unsigned id = inst->aggregate[i];
        const struct pm_prim_info *pi = host->prim_info(id);
        struct bdb_field *f = &l->f[l->n];
        int found = 0;

        if (id < PM_P_CUSTOM_BASE) {
            for (size_t k = 0; k < sizeof(builtin) / sizeof(builtin[0]); k++)
                if (builtin[k].id == id) {
                    *f = builtin[k];
                    found = 1;
                    break;
                }
        } else {
            for (uint32_t k = 0; k < ncp; k++)
                if (cp[k].id == id &&
                    cp[k].rec_off + cp[k].len <= PM_REC_CUSTOM_BYTES) {
                    f->id = (uint16_t)id;
                    f->kind = BDB_K_RAW;
                    f->off = (uint16_t)(offsetof(struct pm_rec, custom) +
                                        cp[k].rec_off);
                    f->len = cp[k].len;
                    found = 1;
                    break;
                }
        }
        if (!found || !pi || !pi->name) {
            snprintf(err, errlen,
                     "aggregate: primitive %s (id %u) cannot be stored in "
                     "a bdb table",
                     pi && pi->name ? pi->name : "?", id);
            return -EINVAL;
        }
        int w = snprintf(l->names + used, sizeof(l->names) - used, "%s%s",
                         used ? "," : "", pi->name);
        if (w < 0 || (size_t)w >= sizeof(l->names) - used) {
            snprintf(err, errlen, "aggregate: too long to store");
            return -EINVAL;
        }
        used += (size_t)w;
        l->n++;
    }
    return 0;
}

/* Room for one key of l, strings excepted. */
static size_t fixed_len(const struct bdb_layout *l)
{
    size_t n = 1 + (l->history ? 8 : 0);
    for (uint32_t i = 0; i < l->n; i++) {
        switch (l->f[i].kind) {
        case BDB_K_IP:
            n += 17;
            break;
        case BDB_K_STR:
            n += 4;
            break;
        case BDB_K_TS:
            n += 12;
            break;
        default:
            n += l->f[i].len;
        }
    }
    return n;
}

static int buf_reserve(struct pm_buf *b, size_t add)
{
    if (b->len + add <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + add)
        nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np)
        return -ENOMEM;
    b->p = np;
    b->cap = nc;
    return 0;
}

int bdb_encode_row(const struct pm_host *host, const struct bdb_layout *l,
                   const struct pm_row *row, struct pm_buf *out)
{
    const uint8_t *rec = (const uint8_t *)row->rec;
    size_t klen = fixed_len(l), start;
    uint8_t *p;

    (void)host;
    for (uint32_t i = 0; i < l->n; i++)
        if (l->f[i].kind == BDB_K_STR) {
            pm_sref_t s;
            memcpy(&s, rec + l->f[i].off, sizeof(s));
            klen += s.len > BDB_MAX_STR ? BDB_MAX_STR : s.len;
        }
    if (buf_reserve(out, 4 + klen + BDB_VALUE_LEN) < 0)
        return -ENOMEM;
    start = out->len;
    p = (uint8_t *)out->p + start;
    put_be(p, klen, 4);
    p += 4;
    *p++ = BDB_FORMAT;
    if (l->history) {
        put_be(p, row->stamp_inserted, 8);
        p += 8;
    }
    for (uint32_t i = 0; i < l->n; i++) {
        const struct bdb_field *f = &l->f[i];
        const uint8_t *src = rec + f->off;
        switch (f->kind) {
        case BDB_K_U16: {
            uint16_t v;
            memcpy(&v, src, 2);
            put_be(p, v, 2);
            p += 2;
            break;
        }
        case BDB_K_U32: {
            uint32_t v;
            memcpy(&v, src, 4);
            put_be(p, v, 4);
            p += 4;
            break;
        }
        case BDB_K_U64: {
            uint64_t v;
            memcpy(&v, src, 8);
            put_be(p, v, 8);
            p += 8;
            break;
        }
        case BDB_K_IP: {
            pm_ip_t ip;
            memcpy(&ip, src, sizeof(ip));
            *p++ = ip.af;
            memcpy(p, ip.a, 16);
            p += 16;
            break;
        }
        case BDB_K_STR: {
            pm_sref_t s;
            uint32_t n;
            memcpy(&s, src, sizeof(s));
            n = s.len > BDB_MAX_STR ? BDB_MAX_STR : s.len;
            put_be(p, n, 4);
            p += 4;
            if (n)
                memcpy(p, row->arena + s.off, n);
            p += n;
            break;
        }
        case BDB_K_TS: {
            pm_ts_t ts;
            memcpy(&ts, src, sizeof(ts));
            put_be(p, ts.sec, 8);
            put_be(p + 8, ts.usec, 4);
            p += 12;
            break;
        }
        case BDB_K_F64:
            for (unsigned k = 0; k < f->len / 8; k++) {
                uint64_t bits;
                memcpy(&bits, src + 8 * k, 8);
                put_be(p, bits, 8);
                p += 8;
            }
            break;
        default:
            memcpy(p, src, f->len);
            p += f->len;
        }
    }
    put_be(p, row->packets, 8);
    put_be(p + 8, row->bytes, 8);
    put_be(p + 16, row->flows, 8);
    put_be(p + 24, row->first.sec, 8);
    put_be(p + 32, row->first.usec, 4);
    put_be(p + 36, row->last.sec, 8);
    put_be(p + 44, row->last.usec, 4);
    p += BDB_VALUE_LEN;
    out->len = (size_t)((char *)p - out->p);
    return 0;
}

static const char *prim_name(const struct pm_host *host, unsigned id)
{
    const struct pm_prim_info *pi = host->prim_info(id);
    return pi && pi->name ? pi->name : "?";
}

/* An address is canonical: af 0 all zero, af 4 with 12 zero bytes. */
static int ip_ok(const uint8_t *p)
{
    static const uint8_t zero[16];
    if (p[0] == 6)
        return 1;
    if (p[0] == 4)
        return !memcmp(p + 5, zero, 12);
    return p[0] == 0 && !memcmp(p + 1, zero, 16);
}

int bdb_decode(const struct pm_host *host, const struct bdb_layout *l,
               const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
               struct pm_rec *r, struct pm_batch *b, uint64_t *stamp, char *err,
               size_t errlen)
{
    const uint8_t *p = key, *end = key + klen;
    uint8_t *rec = (uint8_t *)r;
    uint32_t arena_mark = b->arena_len;
    int has_start = 0, has_end = 0;

    if (vlen != BDB_VALUE_LEN) {
        snprintf(err, errlen, "value of %zu bytes, expected %d", vlen,
                 BDB_VALUE_LEN);
        return -EINVAL;
    }
    if (klen < 1 || key[0] != BDB_FORMAT) {
        snprintf(err, errlen,
                 "key format %d, expected %d (written by "
                 "another version?)",
                 klen ? key[0] : -1, BDB_FORMAT);
        return -EINVAL;
    }
    memset(r, 0, b->rec_size);
    r->l3_off = r->l4_off = r->payload_off = 0xffff;
    p++;
    *stamp = 0;
    if (l->history) {
        if (end - p < 8)
            goto short_key;
        *stamp = get_be(p, 8);
        p += 8;
    }
    for (uint32_t i = 0; i < l->n; i++) {
        const struct bdb_field *f = &l->f[i];
        uint8_t *dst = rec + f->off;
        size_t need;
        switch (f->kind) {
        case BDB_K_IP:
            need = 17;
            break;
        case BDB_K_STR:
            need = 4;
            break;
        case BDB_K_TS:
            need = 12;
            break;
        default:
            need = f->len;
        }
        if ((size_t)(end - p) < need)
            goto short_key;
        switch (f->kind) {
        case BDB_K_U16: {
            uint16_t v = (uint16_t)get_be(p, 2);
            memcpy(dst, &v, 2);
            break;
        }
        case BDB_K_U32: {
            uint32_t v = (uint32_t)get_be(p, 4);
            memcpy(dst, &v, 4);
            break;
        }
        case BDB_K_U64: {
            uint64_t v = get_be(p, 8);
            memcpy(dst, &v, 8);
            break;
        }
        case BDB_K_IP: {
            pm_ip_t ip;
            if (!ip_ok(p)) {
                snprintf(err, errlen, "%s: bad address (family %u)",
                         prim_name(host, f->id), p[0]);
                goto bad;
            }
            memset(&ip, 0, sizeof(ip));
            ip.af = p[0];
            memcpy(ip.a, p + 1, 16);
            memcpy(dst, &ip, sizeof(ip));
            break;
        }
        case BDB_K_STR: {
            uint64_t n = get_be(p, 4);
            pm_sref_t s = {0, 0};
            if (n > BDB_MAX_STR || n > (uint64_t)(end - p - 4)) {
                snprintf(err, errlen,
                         "%s: string of %llu bytes overruns "
                         "the key",
                         prim_name(host, f->id), (unsigned long long)n);
                goto bad;
            }
            if (n &&
                host->batch_str(b, (const char *)p + 4, (size_t)n, &s) < 0) {
                b->arena_len = arena_mark;
                return -ENOSPC;
            }
            memcpy(dst, &s, sizeof(s));
            need += (size_t)n;
            break;
        }
        case BDB_K_TS: {
            pm_ts_t ts;
            memset(&ts, 0, sizeof(ts));
            ts.sec = get_be(p, 8);
            ts.usec = (uint32_t)get_be(p + 8, 4);
            if (ts.usec >= 1000000) {
                snprintf(err, errlen, "%s: %u microseconds",
                         prim_name(host, f->id), ts.usec);
                goto bad;
            }
            memcpy(dst, &ts, sizeof(ts));
            if (f->id == PM_P_TIMESTAMP_START)
                has_start = 1;
            if (f->id == PM_P_TIMESTAMP_END)
                has_end = 1;
            break;
        }
        case BDB_K_F64:
            for (unsigned k = 0; k < f->len / 8; k++) {
                uint64_t bits = get_be(p + 8 * k, 8);
                memcpy(dst + 8 * k, &bits, 8);
            }
            break;
        default:
            memcpy(dst, p, f->len);
        }
        p += need;
        pm_rec_set(r, f->id);
    }
    if (p != end) {
        snprintf(err, errlen, "%zu bytes left after the last primitive",
                 (size_t)(end - p));
        goto bad;
    }
    r->packets = get_be(val, 8);
    r->bytes = get_be(val + 8, 8);
    r->flows = get_be(val + 16, 8);
    pm_ts_t first = {get_be(val + 24, 8), (uint32_t)get_be(val + 32, 4), 0};
    pm_ts_t last = {get_be(val + 36, 8), (uint32_t)get_be(val + 44, 4), 0};
    if (first.usec >= 1000000 || last.usec >= 1000000) {
        snprintf(err, errlen,
                 "first/last time with more than 999999 "
                 "microseconds");
        goto bad;
    }
    /* the cache takes an aggregate's first/last times from these */
    if (!has_start)
        r->ts_start = first;
    if (!has_end)
        r->ts_end = last;
    return 0;
short_key:
    snprintf(err, errlen,
             "key of %zu bytes too short for the aggregate "
             "'%s'",
             klen, l->names);
bad:
    b->arena_len = arena_mark;
    return -EINVAL;
}

int bdb_meta_text(const struct bdb_layout *l, uint64_t rows, char *out,
                  size_t outlen)
{
    int n = snprintf(
        out, outlen, "pmacct-bdb %d\naggregate %s\nhistory %d\nrows %llu\n",
        BDB_FORMAT, l->names, l->history, (unsigned long long)rows);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : n;
}

/* Value of "name value" line in meta, copied into out; 0 or -ENOENT. */
static int meta_field(const char *meta, size_t len, const char *name, char *out,
                      size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = meta, *end = meta + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (ll > nl && !memcmp(p, name, nl) && p[nl] == ' ') {
            size_t vl = ll - nl - 1;
            if (vl >= outlen)
                vl = outlen - 1;
            memcpy(out, p + nl + 1, vl);
            out[vl] = 0;
            return 0;
        }
        p += ll + 1;
    }
    return -ENOENT;
}

int bdb_meta_check(const struct bdb_layout *l, const char *meta, size_t len,
                   char *err, size_t errlen)
{
    char v[2048] = "";
    if (meta_field(meta, len, "pmacct-bdb", v, sizeof(v)) < 0) {
        snprintf(err, errlen, "meta record is not a pmacct bdb table's");
        return -EINVAL;
    }
    if (atoi(v) != BDB_FORMAT) {
        snprintf(err, errlen,
                 "written in format %.20s, this module reads "
                 "format %d",
                 v, BDB_FORMAT);
        return -EINVAL;
    }
    v[0] = 0;
    if (meta_field(meta, len, "aggregate", v, sizeof(v)) < 0 ||
        strcmp(v, l->names)) {
        snprintf(err, errlen,
                 "written for aggregate '%.900s', this "
                 "instance aggregates '%.900s'",
                 v, l->names);
        return -EINVAL;
    }
    if (meta_field(meta, len, "history", v, sizeof(v)) < 0 ||
        atoi(v) != l->history) {
        snprintf(err, errlen, "written %s bdb_history, configured %s",
                 l->history ? "without" : "with",
                 l->history ? "with" : "without");
        return -EINVAL;
    }
    return 0;
}
